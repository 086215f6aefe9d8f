//! The three-vrm reference check: each test avatar drawn by tomoni (`tomoni render`, lavapipe)
//! and by pixiv's three-vrm (three.js' WebGL renderer in headless Chromium, SwiftShader) in the
//! same frame: the same file, camera, size and pose (`--scene-json` hands three.js every node's
//! world transform, springs and look-at included). Compared:
//!
//! - the **silhouette** of the whole body (IoU of the covered pixels): geometry, skinning,
//!   scale, placement and facing;
//! - the **shading** of the figure: the same colour pixel by pixel, and the same brightness,
//!   under the same lights (`--scene-json` hands them over too), with two controls that must
//!   fail (lights a fifth weaker, the key's and fill's colours swapped);
//! - the **face under each preset expression**: the pixels an expression changes from neutral,
//!   in tomoni against those it changes in three-vrm, which applies every bind kind (morph,
//!   material colour, texture transform), `isBinary` and the overrides as the spec means them.
//!
//! Each expression must also be visible on its own in tomoni, and no two may look the same.
//! Test avatars the tests write add textures, colour and texture-transform binds, outlines
//! (world and screen coordinates, on double-sided materials), UV animation, and expression
//! mixes under `isBinary` and the overrides.
//! The pictures (tomoni | three-vrm) are kept in the test's temp dir as `reference-*.png`.

mod common;

use common::browser::{Browser, Killed, base64_decode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tomoni_avatar::vrm_check::PRESET_EXPRESSIONS as EXPRESSIONS;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tmp() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("reference")
}

/// A picture, RGBA.
struct Picture {
    w: u32,
    h: u32,
    px: Vec<u8>,
}

impl Picture {
    fn from_png(bytes: &[u8]) -> Self {
        let img = image::load_from_memory(bytes).expect("a PNG").to_rgba8();
        Self { w: img.width(), h: img.height(), px: img.into_raw() }
    }
}

/// One frame drawn by tomoni, and the scene it was drawn from.
struct Frame {
    picture: Picture,
    scene: Value,
}

fn render(avatar: &Path, tag: &str, view: &str, (w, h): (u32, u32), expression: Option<&str>) -> Frame {
    std::fs::create_dir_all(tmp()).unwrap();
    let (w, h) = (w.to_string(), h.to_string());
    let mut args = vec!["--transparent", "--view", view, "--width", &w, "--height", &h];
    args.extend(["--avatar", avatar.to_str().unwrap()]);
    if let Some(e) = expression {
        args.extend(["--expression", e]);
    }
    let (img, scene) = common::render_with_scene(&tmp().join(format!("{tag}.png")), &args);
    Frame { picture: Picture { w: img.width(), h: img.height(), px: img.into_raw() }, scene }
}

/// three-vrm in a headless Chromium with one VRM loaded (`tests/js/render_vrm.mjs`).
struct ThreeVrm {
    browser: Browser,
    _driver: Killed,
}

impl ThreeVrm {
    async fn open(avatar: &Path, vrm0: bool) -> Self {
        let modules = common::node_modules();
        assert!(
            modules.join("@pixiv/three-vrm").is_dir(),
            "{} lacks three-vrm: `cargo xtask test` installs it",
            modules.display()
        );
        let page = tmp().join("page");
        std::fs::create_dir_all(&page).unwrap();
        let imports = json!({"imports": {
            "three": "/m/three/build/three.module.js",
            "three/addons/": "/m/three/examples/jsm/",
            "@pixiv/three-vrm": "/m/@pixiv/three-vrm/lib/three-vrm.module.js",
        }});
        std::fs::write(
            page.join("index.html"),
            format!(
                "<!doctype html><html><body style=\"margin:0\"><script type=\"importmap\">{imports}</script>\
                 <script type=\"module\" src=\"/js/render_vrm.mjs\"></script></body></html>"
            ),
        )
        .unwrap();
        let dir = avatar.parent().unwrap().to_path_buf();
        let base = common::serve_files(vec![
            ("m", modules),
            ("js", root().join("crates/tomoni/tests/js")),
            ("p", page),
            ("a", dir),
        ]);
        // WebGL on the CPU (SwiftShader), as lavapipe is for tomoni: no GPU in CI.
        let (browser, driver) = common::browser::launch(&[
            "--use-angle=swiftshader",
            "--enable-unsafe-swiftshader",
            "--window-size=400,700",
        ])
        .await;
        browser.goto(&format!("{base}/p/index.html")).await;
        let name = avatar.file_name().unwrap().to_str().unwrap();
        let loaded = browser
            .execute_async(
                "const [url, vrm0, done] = arguments;
                 const go = () => window.tomoniLoad
                   ? window.tomoniLoad(url, vrm0).then(done, (e) => done({error: String(e.stack || e)}))
                   : setTimeout(go, 50);
                 go();",
                json!([format!("{base}/a/{name}"), vrm0]),
                Duration::from_secs(120),
            )
            .await;
        assert!(loaded.get("error").is_none(), "three-vrm could not load {name}: {}", loaded["error"]);
        assert!(loaded["nodes"].as_u64().unwrap() > 10, "{loaded}");
        Self { browser, _driver: driver }
    }

    /// `scene` (a frame's, as `--scene-json` wrote it) as three-vrm draws it, with `expression`
    /// set.
    async fn draw(&self, scene: &Value, expression: Option<&str>) -> Picture {
        let v = self
            .browser
            .execute_async(
                "const [scene, expression, done] = arguments;
                 try { done(window.tomoniDraw(scene, expression)); }
                 catch (e) { done({error: String(e.stack || e)}); }",
                json!([scene, expression]),
                Duration::from_secs(60),
            )
            .await;
        assert!(v.get("error").is_none(), "three-vrm could not draw: {}", v["error"]);
        // Every node tomoni recorded that the file has must have been placed.
        assert!(v["placed"].as_u64().unwrap() > 10, "three-vrm placed {} nodes", v["placed"]);
        let url = v["png"].as_str().unwrap();
        Picture::from_png(&base64_decode(url.trim_start_matches("data:image/png;base64,")))
    }
}

/// Pixels the picture covers (alpha over half).
fn covered(p: &Picture) -> Vec<bool> {
    p.px.chunks(4).map(|c| c[3] > 127).collect()
}

/// Pixels that changed visibly between two pictures (a channel by more than 20 of 255).
fn changed(a: &Picture, b: &Picture) -> Vec<bool> {
    a.px.chunks(4).zip(b.px.chunks(4)).map(|(p, q)| p.iter().zip(q).any(|(x, y)| x.abs_diff(*y) > 20)).collect()
}

fn count(m: &[bool]) -> usize {
    m.iter().filter(|&&x| x).count()
}

/// Intersection over union of two masks (1 when both are empty).
fn iou(a: &[bool], b: &[bool]) -> f64 {
    let both = a.iter().zip(b).filter(|(x, y)| **x && **y).count();
    let either = a.iter().zip(b).filter(|(x, y)| **x || **y).count();
    if either == 0 { 1.0 } else { both as f64 / either as f64 }
}

/// Mean colour of the covered pixels, for the record (not checked: the two renderers' lights
/// are alike, not the same).
fn mean_colour(p: &Picture) -> [u8; 3] {
    let (mut sum, mut n) = ([0u64; 3], 0u64);
    for c in p.px.chunks(4).filter(|c| c[3] > 127) {
        for i in 0..3 {
            sum[i] += u64::from(c[i]);
        }
        n += 1;
    }
    sum.map(|s| (s / n.max(1)) as u8)
}

/// Of the pixels both pictures cover and both show clearly reddish or clearly bluish, the
/// share where they agree: where colours (a texture's, a material's) land, whatever the two
/// renderers' light does to their brightness.
fn colour_agreement(a: &Picture, b: &Picture) -> f64 {
    let class = |c: &[u8]| {
        let (r, bl) = (i32::from(c[0]), i32::from(c[2]));
        if c[3] < 128 {
            None
        } else if r - bl > 40 {
            Some(true)
        } else if bl - r > 40 {
            Some(false)
        } else {
            None
        }
    };
    let (mut same, mut both) = (0usize, 0usize);
    for (p, q) in a.px.chunks(4).zip(b.px.chunks(4)) {
        if let (Some(x), Some(y)) = (class(p), class(q)) {
            both += 1;
            same += usize::from(x == y);
        }
    }
    same as f64 / both.max(1) as f64
}

/// The shading (light strength and colour, shade and lit colours, rim, outline colour), which
/// the colour classes above do not see. Of the pixels both pictures cover: the share whose
/// colour is the same in both (within 8 of 255 on every channel), and tomoni's summed linear
/// brightness over three-vrm's.
fn shading_agreement(a: &Picture, b: &Picture) -> (f64, f64) {
    let linear = |v: u8| {
        let c = f64::from(v) / 255.0;
        if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    let (mut same, mut both, mut la, mut lb) = (0usize, 0usize, 0.0, 0.0);
    for (p, q) in a.px.chunks(4).zip(b.px.chunks(4)) {
        if p[3] > 127 && q[3] > 127 {
            both += 1;
            same += usize::from((0..3).all(|i| p[i].abs_diff(q[i]) <= 8));
            la += (0..3).map(|i| linear(p[i])).sum::<f64>();
            lb += (0..3).map(|i| linear(q[i])).sum::<f64>();
        }
    }
    (same as f64 / both.max(1) as f64, la / lb.max(1e-9))
}

/// Whether the shading agrees (see [`MIN_SHADING_AGREEMENT`], [`BRIGHTNESS_RATIO`]).
fn shading_ok((same, ratio): (f64, f64)) -> bool {
    same >= MIN_SHADING_AGREEMENT && BRIGHTNESS_RATIO.contains(&ratio)
}

/// `scene` with each light's colour (linear, times its strength) mapped by `f`: a frame lit
/// wrongly, which the shading check must tell from the right one.
fn relit(scene: &Value, f: impl Fn([f64; 3]) -> [f64; 3]) -> Value {
    let mut s = scene.clone();
    let map = |c: &mut Value| {
        let v: Vec<f64> = c.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        *c = json!(f([v[0], v[1], v[2]]));
    };
    for l in s["lights"]["directional"].as_array_mut().unwrap() {
        map(&mut l["color"]);
    }
    map(&mut s["lights"]["ambient"]);
    s
}

/// tomoni | three-vrm on grey, for people to look at.
fn side_by_side(a: &Picture, b: &Picture, out: &Path) {
    let mut img = image::RgbaImage::from_pixel(a.w * 2, a.h, image::Rgba([128, 128, 128, 255]));
    for (i, p) in [a, b].into_iter().enumerate() {
        for y in 0..p.h {
            for x in 0..p.w {
                let c = &p.px[((y * p.w + x) * 4) as usize..][..4];
                let k = u32::from(c[3]);
                let mix = |v: u8| ((u32::from(v) * k + 128 * (255 - k)) / 255) as u8;
                img.put_pixel(x + i as u32 * a.w, y, image::Rgba([mix(c[0]), mix(c[1]), mix(c[2]), 255]));
            }
        }
    }
    img.save(out).unwrap();
}

/// The least silhouette IoU accepted. Measured 0.994 on each test avatar (2026-12-01), 0.983
/// before tomoni drew MToon outlines on double-sided materials, and 0.908 then on the avatar
/// with 1 cm outlines. A body 2 % too big or small about its feet scores 0.90, the 4 % of a
/// 1.6 m persona drawn at the file's 1.668 m 0.81 (the thin limbs shift off themselves), a
/// limb out of place lower still. (A mirror image scores 0.987: the facing is the
/// expressions' check, below.)
const MIN_SILHOUETTE_IOU: f64 = 0.97;

/// The least IoU between the face pixels an expression changes in tomoni and in three-vrm.
/// Measured 0.52–0.88 (docs/avatar.md): the two renderers shade and rasterise the moved
/// skin a little differently. An expression that does nothing scores 0; one whose binds
/// tomoni applies only in part (a material-colour bind ignored beside its morphs) loses the
/// part. Each expression must also match three-vrm's own better than any *other*
/// expression's change (`confusion`): that catches a swapped or misnamed expression, which a
/// floor alone would not (`ih` and `ee` are alike: 0.71 against 0.64). Without the
/// material binds, the test avatar's `angry` scored 0.04.
const MIN_EXPRESSION_IOU: f64 = 0.4;

/// How many pixels an expression changes in tomoni against three-vrm: within a quarter less
/// and a third more. Measured 0.88–1.13. A bind left out shows here even where what remains
/// still overlaps well: `relaxed` without its lips' emission bind changed 329 px against 557
/// (0.59) at IoU 0.47.
const CHANGED_RATIO: std::ops::RangeInclusive<f64> = 0.75..=1.33;

/// The least share of the figure where tomoni and three-vrm show the same colour class
/// (reddish or bluish). What it must catch: a texture's V flipped or its transform left out
/// (the checker's squares swap colour), a colour bind on the wrong material.
const MIN_COLOUR_AGREEMENT: f64 = 0.9;

/// The least share of the figure whose colour tomoni and three-vrm draw the same (within 8 of
/// 255). Measured 0.961 on the default avatar (edges and the two rasterisers' antialiasing are
/// most of the rest). Lights a fifth too weak score 0.851; the key and fill drawn white
/// instead of warm and cool, lower (printed by each comparison as its control).
const MIN_SHADING_AGREEMENT: f64 = 0.93;

/// tomoni's summed linear brightness of the figure over three-vrm's. Measured 1.015; lights a
/// fifth too weak read 1.24, and before MToon honoured lights' strength in tomoni, the key
/// and fill each counted as full strength.
const BRIGHTNESS_RATIO: std::ops::RangeInclusive<f64> = 0.9..=1.1;

/// Compares `avatar` as tomoni and three-vrm draw it; returns both front views.
async fn compare(tag: &str, avatar: &Path, vrm0: bool) -> (Frame, Picture) {
    let three = ThreeVrm::open(avatar, vrm0).await;

    // The whole body.
    let front = render(avatar, &format!("{tag}-front"), "front", (300, 600), None);
    let reference = three.draw(&front.scene, None).await;
    side_by_side(&front.picture, &reference, &tmp().join(format!("reference-{tag}-front.png")));
    let s = iou(&covered(&front.picture), &covered(&reference));
    eprintln!(
        "{tag}: silhouette IoU {s:.3} ({} px tomoni, {} px three-vrm); mean colour {:?} tomoni, {:?} three-vrm",
        count(&covered(&front.picture)),
        count(&covered(&reference)),
        mean_colour(&front.picture),
        mean_colour(&reference)
    );
    assert!(s >= MIN_SILHOUETTE_IOU, "{tag}: silhouette IoU {s:.3} against three-vrm (< {MIN_SILHOUETTE_IOU})");
    let c = colour_agreement(&front.picture, &reference);
    eprintln!("{tag}: colours agree on {:.1} % of the figure", c * 100.0);
    assert!(c >= MIN_COLOUR_AGREEMENT, "{tag}: colours agree on only {:.1} % of the figure", c * 100.0);
    let shading = shading_agreement(&front.picture, &reference);
    eprintln!("{tag}: shading agrees on {:.1} % of the figure; brightness ratio {:.3}", shading.0 * 100.0, shading.1);
    assert!(shading_ok(shading), "{tag}: the figure is shaded unlike three-vrm's: {shading:?}");
    // The controls: the same frame in three-vrm lit a fifth weaker, and with the key's and
    // the fill's colours swapped (warm and cool, at the same strengths): what a light's
    // strength or colour ignored or misread looks like here. (Both lights drawn white is too
    // small a change to see: about a tenth on red and blue, mostly where the lit skin and
    // shirt saturate anyway.)
    let swapped = |scene: &Value| {
        let mut s = scene.clone();
        let l = s["lights"]["directional"].as_array_mut().unwrap();
        let colour =
            |l: &Value| -> Vec<f64> { l["color"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect() };
        let (a, b) = (colour(&l[0]), colour(&l[1]));
        let (sa, sb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
        l[0]["color"] = json!(b.iter().map(|v| v * sa / sb).collect::<Vec<_>>());
        l[1]["color"] = json!(a.iter().map(|v| v * sb / sa).collect::<Vec<_>>());
        s
    };
    for (what, scene) in [
        ("lights 20 % weaker", relit(&front.scene, |c| c.map(|v| v * 0.8))),
        ("the key's and fill's colours swapped", swapped(&front.scene)),
    ] {
        let drawn = three.draw(&scene, None).await;
        let control = shading_agreement(&front.picture, &drawn);
        eprintln!("{tag}:   against {what}: {:.1} %, ratio {:.3}", control.0 * 100.0, control.1);
        assert!(!shading_ok(control), "{tag}: the shading check cannot tell {what} from the right ones: {control:?}");
    }

    // The face under each expression: what it changes from neutral in each renderer. three-vrm
    // draws neutral in the expression's own frame, so only the expression differs there.
    let size = (256, 256);
    // `--expression neutral` pins the face as the others do (no blink of its own); renders are
    // reproducible (the same frame of app time each run), so only the expression differs.
    let neutral = render(avatar, &format!("{tag}-face-neutral"), "face", size, Some("neutral"));
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut faces = Vec::new();
    let mut worst_colour = f64::MAX;
    for e in &EXPRESSIONS[..13] {
        let f = render(avatar, &format!("{tag}-face-{e}"), "face", size, Some(e));
        let (n3, e3) = (three.draw(&f.scene, None).await, three.draw(&f.scene, Some(e)).await);
        side_by_side(&f.picture, &e3, &tmp().join(format!("reference-{tag}-face-{e}.png")));
        ours.push(changed(&neutral.picture, &f.picture));
        theirs.push(changed(&n3, &e3));
        let d = count(ours.last().unwrap());
        // One closed eyelid changes dozens of pixels at this size; render noise changes none.
        assert!(d >= 25, "{tag}: {e} is not visible on the face ({d} pixels differ)");
        let c = colour_agreement(&f.picture, &e3);
        assert!(c >= MIN_COLOUR_AGREEMENT, "{tag}: under {e}, colours agree on only {:.1} % of the face", c * 100.0);
        worst_colour = worst_colour.min(c);
        faces.push((e, f.picture));
    }
    for (i, (e, a)) in faces.iter().enumerate() {
        for (f, b) in &faces[i + 1..] {
            let d = count(&changed(a, b));
            assert!(d >= 10, "{tag}: {e} and {f} look the same ({d} pixels differ)");
        }
    }
    let mut worst = f64::MAX;
    for (i, e) in EXPRESSIONS[..13].iter().enumerate() {
        let agree = iou(&ours[i], &theirs[i]);
        // The best score this expression's change gets against any *other* expression's change
        // in three-vrm: how alike a wrong expression would look to this check.
        let confusion = (0..13).filter(|&j| j != i).map(|j| iou(&ours[i], &theirs[j])).fold(0.0, f64::max);
        eprintln!(
            "{tag} {e:>10}: changes {:>5} px tomoni, {:>5} px three-vrm; IoU {agree:.2} (confusion {confusion:.2})",
            count(&ours[i]),
            count(&theirs[i])
        );
        worst = worst.min(agree);
    }
    for (i, e) in EXPRESSIONS[..13].iter().enumerate() {
        let agree = iou(&ours[i], &theirs[i]);
        assert!(agree >= MIN_EXPRESSION_IOU, "{tag}: {e} changes the face unlike three-vrm (IoU {agree:.2})");
        let ratio = count(&ours[i]) as f64 / count(&theirs[i]).max(1) as f64;
        assert!(
            CHANGED_RATIO.contains(&ratio),
            "{tag}: {e} changes {} px in tomoni, {} in three-vrm (ratio {ratio:.2}, outside {CHANGED_RATIO:?})",
            count(&ours[i]),
            count(&theirs[i])
        );
        for (j, f) in EXPRESSIONS[..13].iter().enumerate().filter(|(j, _)| *j != i) {
            let other = iou(&ours[i], &theirs[j]);
            assert!(
                agree > other,
                "{tag}: tomoni's {e} looks more like three-vrm's {f} ({other:.2}) than its {e} ({agree:.2})"
            );
        }
    }
    eprintln!(
        "{tag}: worst expression IoU {worst:.2}; colours agree on at least {:.1} % of the face",
        worst_colour * 100.0
    );
    (front, reference)
}

#[tokio::test(flavor = "current_thread")]
async fn the_default_companion_looks_as_three_vrm_draws_it() {
    compare("default", &root().join("assets/avatars/default.vrm"), false).await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_man_looks_as_three_vrm_draws_him() {
    compare("man", &root().join("assets/avatars/man.vrm"), false).await;
}

/// The default avatar written as VRM 0.x (the migration rules run backwards): tomoni draws it
/// through its own migration, three-vrm through its own 0.x loaders, from the same 0.x file.
#[tokio::test(flavor = "current_thread")]
async fn a_vrm0_avatar_looks_as_three_vrm_draws_it_from_the_0x_file() {
    let dir = tmp().join("vrm0");
    std::fs::create_dir_all(&dir).unwrap();
    let v0 = dir.join("default-vrm0.vrm");
    let v1 = std::fs::read(root().join("assets/avatars/default.vrm")).unwrap();
    std::fs::write(&v0, tomoni_avatar::vrm0::to_vrm0(&v1).unwrap()).unwrap();
    compare("vrm0", &v0, true).await;
}

/// The default avatar, parsed for a test to edit, and where the edited file goes.
fn default_to_edit(tag: &str) -> (PathBuf, tomoni_avatar::glb::Glb) {
    let dir = tmp().join(tag);
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = std::fs::read(root().join("assets/avatars/default.vrm")).unwrap();
    (dir.join(format!("default-{tag}.vrm")), tomoni_avatar::glb::parse_glb(&bytes).unwrap())
}

/// The index of the material called `name`.
fn material(glb: &tomoni_avatar::glb::Glb, name: &str) -> usize {
    let all = glb.json["materials"].as_array().unwrap();
    all.iter().position(|m| m["name"] == name).unwrap_or_else(|| panic!("no material {name}"))
}

/// Expressions made of material binds, which tomoni once ignored (it drove morph targets
/// only): the default avatar with `angry` also turning the skin red (a colour bind) and
/// `relaxed` lighting the lips (an emission bind), as an author might make them. No registry
/// package ships such an avatar, so the test writes one.
#[tokio::test(flavor = "current_thread")]
async fn material_colour_binds_change_the_face_as_three_vrm_shows_them() {
    let (file, mut glb) = default_to_edit("binds");
    let (skin, lips) = (material(&glb, "skin"), material(&glb, "lips"));
    let presets = &mut glb.json["extensions"]["VRMC_vrm"]["expressions"]["preset"];
    presets["angry"]["materialColorBinds"] =
        json!([{"material": skin, "type": "color", "targetValue": [0.9, 0.25, 0.2, 1.0]}]);
    presets["relaxed"]["materialColorBinds"] =
        json!([{"material": lips, "type": "emissionColor", "targetValue": [0.6, 0.0, 0.15, 1.0]}]);
    std::fs::write(&file, tomoni_avatar::glb::write_glb(&glb)).unwrap();
    compare("binds", &file, false).await;
}

/// Adds a 2×2 red/blue checker texture (nearest, repeating) to every primitive drawn with
/// `material`, with UVs projected from the front (one texel = 4 cm), as its base and shade
/// texture. The shipped avatars' two textures (the face's paint, the iris) are smooth and
/// mapped straight on; nearly every avatar people bring has textures of its own, so the
/// texture path (UVs, orientation, colour space, the texture transform) needs a sharp one.
fn add_checker(glb: &mut tomoni_avatar::glb::Glb, material: usize) {
    let png = {
        let mut img = image::RgbaImage::new(2, 2);
        let (red, blue) = (image::Rgba([220, 40, 40, 255]), image::Rgba([40, 60, 220, 255]));
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = if (x + y) % 2 == 0 { red } else { blue };
        }
        let mut bytes = std::io::Cursor::new(Vec::new());
        img.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        bytes.into_inner()
    };
    let view = |glb: &mut tomoni_avatar::glb::Glb, data: &[u8]| {
        glb.bin.resize(glb.bin.len().next_multiple_of(4), 0);
        let offset = glb.bin.len();
        glb.bin.extend_from_slice(data);
        let views = glb.json["bufferViews"].as_array_mut().unwrap();
        views.push(json!({"buffer": 0, "byteOffset": offset, "byteLength": data.len()}));
        views.len() - 1
    };
    // The checker goes after the avatar's own textures (the shipped ones have the iris), once
    // per file: a texture named "checker".
    let named = |glb: &tomoni_avatar::glb::Glb| {
        glb.json["textures"].as_array().and_then(|t| t.iter().position(|t| t["name"] == "checker"))
    };
    let checker = match named(glb) {
        Some(i) => i,
        None => {
            let image_view = view(glb, &png);
            let j = &mut glb.json;
            let push = |j: &mut serde_json::Value, key: &str, item: serde_json::Value| {
                if j.get(key).is_none() {
                    j[key] = json!([]);
                }
                let list = j[key].as_array_mut().unwrap();
                list.push(item);
                list.len() - 1
            };
            let image = push(j, "images", json!({"bufferView": image_view, "mimeType": "image/png"}));
            // Nearest, repeat.
            let sampler =
                push(j, "samplers", json!({"magFilter": 9728, "minFilter": 9728, "wrapS": 10497, "wrapT": 10497}));
            push(j, "textures", json!({"source": image, "sampler": sampler, "name": "checker"}))
        }
    };
    let m = &mut glb.json["materials"][material];
    m["pbrMetallicRoughness"]["baseColorFactor"] = json!([1.0, 1.0, 1.0, 1.0]);
    m["pbrMetallicRoughness"]["baseColorTexture"] = json!({"index": checker});
    m["extensions"]["VRMC_materials_mtoon"]["shadeColorFactor"] = json!([0.6, 0.6, 0.6]);
    m["extensions"]["VRMC_materials_mtoon"]["shadeMultiplyTexture"] = json!({"index": checker});
    let prims: Vec<(usize, usize)> = glb.json["meshes"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .flat_map(|(mi, mesh)| {
            let ps = mesh["primitives"].as_array().unwrap();
            ps.iter().enumerate().filter(|(_, p)| p["material"] == material).map(move |(pi, _)| (mi, pi))
        })
        .collect();
    for (mi, pi) in prims {
        let pos = glb.json["meshes"][mi]["primitives"][pi]["attributes"]["POSITION"].as_u64().unwrap() as usize;
        let acc = glb.json["accessors"][pos].clone();
        let bv = &glb.json["bufferViews"][acc["bufferView"].as_u64().unwrap() as usize];
        let start = bv["byteOffset"].as_u64().unwrap_or(0) as usize + acc["byteOffset"].as_u64().unwrap_or(0) as usize;
        let stride = bv["byteStride"].as_u64().unwrap_or(12) as usize;
        let count = acc["count"].as_u64().unwrap() as usize;
        let f = |o: usize| f32::from_le_bytes(glb.bin[o..o + 4].try_into().unwrap());
        let mut uvs = Vec::with_capacity(count * 8);
        for i in 0..count {
            let (x, y) = (f(start + i * stride), f(start + i * stride + 4));
            // One UV unit = two texels = 8 cm; v grows downwards, as glTF's does.
            uvs.extend_from_slice(&(x * 12.5).to_le_bytes());
            uvs.extend_from_slice(&(-y * 12.5).to_le_bytes());
        }
        let uv_view = view(glb, &uvs);
        let accessors = glb.json["accessors"].as_array_mut().unwrap();
        accessors.push(json!({"bufferView": uv_view, "componentType": 5126, "count": count, "type": "VEC2"}));
        let uv = accessors.len() - 1;
        glb.json["meshes"][mi]["primitives"][pi]["attributes"]["TEXCOORD_0"] = json!(uv);
    }
}

/// Textures as their authors mean them, and texture-transform binds: the default avatar with a
/// checker on the skin and the jacket, and `sad` shifting the skin's checker by one texel (a
/// texture-transform bind, as anime avatars swap eye or cheek textures). The checker's colours
/// must land on the same pixels in both renderers (a flipped V or a wrong offset swaps them).
#[tokio::test(flavor = "current_thread")]
async fn textures_and_texture_transform_binds_are_drawn_as_three_vrm_draws_them() {
    let (file, mut glb) = default_to_edit("textured");
    let (skin, jacket) = (material(&glb, "skin"), material(&glb, "jacket"));
    add_checker(&mut glb, skin);
    add_checker(&mut glb, jacket);
    glb.json["extensions"]["VRMC_vrm"]["expressions"]["preset"]["sad"]["textureTransformBinds"] =
        json!([{"material": skin, "offset": [0.5, 0.0]}]);
    std::fs::write(&file, tomoni_avatar::glb::write_glb(&glb)).unwrap();
    compare("textured", &file, false).await;
}

/// Pixels of one outline colour (lighting mix 0, so drawn as set): each channel within 40.
fn of_colour(p: &Picture, rgb: [u8; 3]) -> Vec<bool> {
    p.px.chunks(4).map(|c| c[3] > 127 && (0..3).all(|i| c[i].abs_diff(rgb[i]) <= 40)).collect()
}

/// The least IoU of an outline colour's pixels in tomoni and three-vrm. Measured 0.82 (world
/// coordinates) and 0.84 (screen coordinates). A missing outline scores 0: before the patch,
/// bevy_vrm1 skipped double-sided materials (the hair and every garment of the default avatar)
/// and had no screen-coordinate widths. An outline twice as wide would score about a half.
const MIN_OUTLINE_IOU: f64 = 0.5;

/// MToon outlines as three-vrm draws them: the default avatar with wide outlines in colours
/// nothing else has, a world-coordinate one (1 cm) on the hair and the jacket (both double-sided,
/// as hair and clothes nearly always are) and a screen-coordinate one on the trousers.
#[tokio::test(flavor = "current_thread")]
async fn outlines_are_drawn_as_three_vrm_draws_them() {
    let (file, mut glb) = default_to_edit("outlines");
    let magenta = ([1.0, 0.0, 1.0], [255, 0, 255]);
    let green = ([0.0, 1.0, 0.0], [0, 255, 0]);
    for (name, mode, width, colour) in [
        ("hair", "worldCoordinates", 0.01, magenta.0),
        ("jacket", "worldCoordinates", 0.01, magenta.0),
        ("trousers", "screenCoordinates", 0.01, green.0),
    ] {
        let m = material(&glb, name);
        assert_eq!(glb.json["materials"][m]["doubleSided"], true, "{name} is no longer double-sided");
        let mtoon = &mut glb.json["materials"][m]["extensions"]["VRMC_materials_mtoon"];
        mtoon["outlineWidthMode"] = json!(mode);
        mtoon["outlineWidthFactor"] = json!(width);
        mtoon["outlineColorFactor"] = json!(colour);
        mtoon["outlineLightingMixFactor"] = json!(0.0);
    }
    std::fs::write(&file, tomoni_avatar::glb::write_glb(&glb)).unwrap();
    let (front, reference) = compare("outlines", &file, false).await;
    for (what, rgb) in [("world-coordinate (magenta)", magenta.1), ("screen-coordinate (green)", green.1)] {
        let (ours, theirs) = (of_colour(&front.picture, rgb), of_colour(&reference, rgb));
        let agree = iou(&ours, &theirs);
        eprintln!("outlines: {what}: {} px tomoni, {} px three-vrm, IoU {agree:.2}", count(&ours), count(&theirs));
        assert!(count(&theirs) > 300, "three-vrm drew almost no {what} outline: the test avatar is wrong");
        assert!(agree >= MIN_OUTLINE_IOU, "{what} outlines unlike three-vrm's (IoU {agree:.2})");
    }
}

/// MToon's UV animation as three-vrm draws it: the checker avatar with the skin's checker
/// scrolling along U, and the jacket's scrolling along V and turning about the UV centre, its
/// texture also scaled by a `KHR_texture_transform` (which applies after the animation). The
/// frame is drawn at tomoni's shader clock; the checker's colours must land on the same pixels.
#[tokio::test(flavor = "current_thread")]
async fn uv_animation_moves_textures_as_three_vrm_moves_them() {
    let (still, mut glb) = default_to_edit("uv-still");
    let (skin, jacket) = (material(&glb, "skin"), material(&glb, "jacket"));
    add_checker(&mut glb, skin);
    add_checker(&mut glb, jacket);
    std::fs::write(&still, tomoni_avatar::glb::write_glb(&glb)).unwrap();
    let file = still.with_file_name("default-uv-animated.vrm");
    let transform = json!({"KHR_texture_transform": {"scale": [0.5, 0.5], "offset": [0.25, 0.0]}});
    let m = &mut glb.json["materials"][jacket];
    m["pbrMetallicRoughness"]["baseColorTexture"]["extensions"] = transform.clone();
    let mtoon = &mut m["extensions"]["VRMC_materials_mtoon"];
    mtoon["shadeMultiplyTexture"]["extensions"] = transform;
    // At the 0.1 s the picture is taken: a quarter of a checker square along U on the skin, a
    // quarter along V and 1.5 rad of turn (past 1 rad, where a wrapped phase would differ).
    mtoon["uvAnimationScrollYSpeedFactor"] = json!(2.5);
    mtoon["uvAnimationRotationSpeedFactor"] = json!(15.0);
    glb.json["materials"][skin]["extensions"]["VRMC_materials_mtoon"]["uvAnimationScrollXSpeedFactor"] = json!(2.5);
    let used = glb.json["extensionsUsed"].as_array_mut().unwrap();
    used.push(json!("KHR_texture_transform"));
    std::fs::write(&file, tomoni_avatar::glb::write_glb(&glb)).unwrap();
    let (front, _) = compare("uv-animated", &file, false).await;
    let time = front.scene["time"].as_f64().unwrap();
    assert!(time > 0.05, "the picture was taken at {time} s: too early for the animation to show");
    // The animation must move something tomoni draws: the same frame without it.
    let at_rest = render(&still, "uv-still-front", "front", (300, 600), None);
    let moved = count(&changed(&at_rest.picture, &front.picture));
    eprintln!("uv-animated: at {time:.3} s the animation changed {moved} px of tomoni's front view");
    assert!(moved > 2000, "the UV animation moved only {moved} px");
}

/// The weights the VRM 1.0 spec (and three-vrm's expression manager) applies for a mix of
/// expressions: a binary expression is 1 above 0.5 and 0 otherwise; each expression's
/// `override*` takes from the blink, look-at and mouth expressions' multipliers (`block`: all
/// while its weight is above 0; `blend`: its weight), and a multiplier is never below 0.
fn applied(file: &tomoni_avatar::glb::Glb, mix: &[(&str, f64)]) -> std::collections::BTreeMap<String, f64> {
    let presets = &file.json["extensions"]["VRMC_vrm"]["expressions"]["preset"];
    let output = |name: &str, w: f64| {
        if presets[name]["isBinary"] == true { if w > 0.5 { 1.0 } else { 0.0 } } else { w }
    };
    let (mut blink, mut mouth) = (1.0f64, 1.0f64);
    for &(name, w) in mix {
        let out = output(name, w);
        let amount = |key: &str| match presets[name][key].as_str() {
            Some("block") => f64::from(u8::from(out > 0.0)),
            Some("blend") => out,
            _ => 0.0,
        };
        blink -= amount("overrideBlink");
        mouth -= amount("overrideMouth");
    }
    let (blink, mouth) = (blink.max(0.0), mouth.max(0.0));
    mix.iter()
        .map(|&(name, w)| {
            let k = match name {
                "blink" | "blinkLeft" | "blinkRight" => blink,
                "aa" | "ih" | "ou" | "ee" | "oh" => mouth,
                _ => 1.0,
            };
            (name.to_string(), output(name, w) * k)
        })
        .collect()
}

/// `isBinary` and the `override*` rules, which decide how an emotion and the mouth and blinks
/// mix (so a smile is not torn open by speech as its author set it): the default avatar
/// (blend overrides on its emotions, `surprised` blocking blinks) with `happy` made binary and
/// `angry` blocking the mouth. For each mix, the weights tomoni applied must be the spec's, and
/// the face must change from neutral where three-vrm's does (which applies the same rules
/// itself). A mix whose rules were ignored would show the blink or the open mouth.
#[tokio::test(flavor = "current_thread")]
async fn expression_mixes_follow_is_binary_and_the_overrides_as_in_three_vrm() {
    let (file, mut glb) = default_to_edit("mixes");
    let presets = &mut glb.json["extensions"]["VRMC_vrm"]["expressions"]["preset"];
    presets["happy"]["isBinary"] = json!(true);
    presets["angry"]["overrideMouth"] = json!("block");
    std::fs::write(&file, tomoni_avatar::glb::write_glb(&glb)).unwrap();
    let three = ThreeVrm::open(&file, false).await;
    let size = (256, 256);
    let neutral = render(&file, "mixes-neutral", "face", size, Some("neutral"));
    let mixes: [&[(&str, f64)]; 5] = [
        // Binary above 0.5: happy at full, which blends blink and mouth out entirely.
        &[("happy", 0.7), ("blink", 1.0), ("aa", 1.0)],
        // Binary below: no smile, so the blink shows in full.
        &[("happy", 0.3), ("blink", 1.0)],
        // Blend: half the blink and half the mouth under a half-sad face.
        &[("sad", 0.5), ("blink", 1.0), ("aa", 0.8)],
        // Block: any anger shuts the mouth's expressions off.
        &[("angry", 0.4), ("aa", 1.0)],
        // The file's own block: surprise keeps the eyes open.
        &[("surprised", 0.5), ("blink", 1.0)],
    ];
    for (i, mix) in mixes.iter().enumerate() {
        let spec: Vec<String> = mix.iter().map(|(n, w)| format!("{n}={w}")).collect();
        let spec = spec.join(",");
        let f = render(&file, &format!("mixes-{i}"), "face", size, Some(&spec));
        let want = applied(&glb, mix);
        for (name, w) in &want {
            let got = f.scene["expressions"][name].as_f64().unwrap_or(f64::NAN);
            assert!((got - w).abs() < 0.01, "{spec}: tomoni applied {name} at {got:.3}, the spec's rules {w:.3}");
        }
        let (n3, e3) = (three.draw(&f.scene, None).await, three.draw(&f.scene, Some(&spec)).await);
        side_by_side(&f.picture, &e3, &tmp().join(format!("reference-mixes-{i}.png")));
        let (ours, theirs) = (changed(&neutral.picture, &f.picture), changed(&n3, &e3));
        let agree = iou(&ours, &theirs);
        eprintln!(
            "mix {spec}: applied {want:?}; changes {} px tomoni, {} px three-vrm, IoU {agree:.2}",
            count(&ours),
            count(&theirs)
        );
        assert!(count(&theirs) >= 25, "{spec}: three-vrm shows no change: the test's mix is wrong");
        assert!(agree >= MIN_EXPRESSION_IOU, "{spec}: the face changes unlike three-vrm's (IoU {agree:.2})");
    }
}
