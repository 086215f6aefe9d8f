//! `tomoni photo`: the companion stood into a real photo. The people, the lens and the place
//! come from `tomoni_photo`; the companion is rendered through the photo's lens (only its own
//! box of the frame, at the photo's resolution) by the one-frame renderer, then composited.

use crate::app::Setup;
use crate::error::Failure;
use crate::render::{PhotoJob, PhotoLens, PhotoView, RenderRequest, render_layer};
use bevy::math::Vec3;
use std::path::{Path, PathBuf};
use tomoni_photo::place::Side;

/// What to make.
#[derive(Debug, Clone)]
pub struct PhotoRequest {
    /// The photo.
    pub background: PathBuf,
    /// The JPEG to write.
    pub out: PathBuf,
    /// Where the companion stands.
    pub place: Side,
    /// Where the photo's light comes from.
    pub light: tomoni_photo::light::LightChoice,
    /// Its expression (as `tomoni render --expression`).
    pub expression: Option<String>,
    /// Its gesture, mid-way.
    pub gesture: Option<tomoni_core::behaviour::Gesture>,
    /// Drawn at the photo's full resolution, not [`render_scale`]'s.
    pub full_resolution: bool,
}

/// What was made, for the terminal (`--json`) and tests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhotoReport {
    /// The result.
    pub out: PathBuf,
    /// People found.
    pub people: usize,
    /// The lens.
    pub camera: tomoni_photo::camera::Camera,
    /// Where the companion stands.
    pub placement: tomoni_photo::place::Placement,
    /// The rendered box, photo pixels (x, y, width, height).
    pub rendered: [u32; 4],
    /// The pixels it was drawn in ([`render_scale`] of the box's).
    pub drawn: [u32; 2],
    /// White balance and exposure applied.
    pub matched: tomoni_photo::composite::Match,
    /// The photo's light, as the companion was lit by it.
    pub light: tomoni_photo::light::Light,
    /// Drawn with multisampling ([`ALIASING_HIDDEN_BY_BLUR`]).
    pub antialiased: bool,
    /// Seconds: the people found and the companion placed, and the layer rendered, both from
    /// the start (they run side by side); then compositing and writing.
    pub seconds: [f32; 3],
    /// The avatar's author credit, where its licence asks for one (also in the JPEG's XMP).
    pub credit: Option<String>,
}

/// The photo's blur (Gaussian σ, pixels) from which the companion is drawn without
/// multisampling: it is softened by at least this σ to match the photo, and a σ of 1 px
/// leaves under 1 % of a staircase with a 2-pixel period (e^(−2π²σ²/p²)). On a 4000 × 3000
/// photo upscaled from 512 px (σ 2.7) the two drawings differ by at most 8 levels in 99.9 %
/// of the companion's box, and rendering (the app's start included) took 3.6 s instead of
/// 8 s on lavapipe.
pub const ALIASING_HIDDEN_BY_BLUR: f32 = 1.0;

/// The share of the photo's resolution the companion is drawn at: all of it in a sharp photo;
/// in one blurred by σ ≥ [`ALIASING_HIDDEN_BY_BLUR`] pixels, [`PIXELS_PER_SIGMA`]/σ of it,
/// never under [`MIN_RENDER_SCALE`]. The rest is pixels the photo could not show; on lavapipe
/// they were most of the render (a 6-megapixel box: 2.2 s a frame).
pub fn render_scale(blur: f32) -> f32 {
    if blur < ALIASING_HIDDEN_BY_BLUR { 1.0 } else { (PIXELS_PER_SIGMA / blur).clamp(MIN_RENDER_SCALE, 1.0) }
}

/// Drawn pixels per σ of the photo's blur. Drawn on a grid 1/s photo pixels apart, detail of
/// period 2/s keeps e^(−π²σ²s²/2) after the blur: under 1 % from s = 1/σ. But an edge drawn
/// without multisampling also sits up to half a drawn pixel off, and with s = 1/σ that showed
/// (the bob's outline in steps, the eyelid's line lost; the box against the full-size drawing:
/// 99th percentile 13 levels, 6 at 1.5/σ, 5 at 2/σ, where the rest is the same JPEG's noise;
/// multisampled instead, the frame cost as much as the full-size one on lavapipe).
pub const PIXELS_PER_SIGMA: f32 = 1.5;

/// The least [`render_scale`]: a very soft photo (σ 6 px and more) still gets a quarter of
/// its resolution.
pub const MIN_RENDER_SCALE: f32 = 0.25;

/// Makes one photo. Bad input (not an image, truncated, too big, no one to stand beside)
/// comes back as [`Failure::Input`] naming the file.
///
/// The photo is decoded, the people found and the companion placed on a thread of its own
/// while the renderer is built and starts (`render::PhotoJob`).
pub fn photo(setup: Setup, req: &PhotoRequest) -> Result<PhotoReport, Failure> {
    let t0 = std::time::Instant::now();
    let credit = setup.avatar.info.credit.clone();
    let original = std::sync::Arc::new(
        std::fs::read(&req.background).map_err(|e| Failure::Input(format!("{}: {e}", req.background.display())))?,
    );
    let height = setup.look.avatar.height;
    let (lens_tx, lens_rx) = crossbeam_channel::bounded(1);
    let (tx, rx) = crossbeam_channel::bounded(1);
    let worker = {
        let (original, req) = (original.clone(), req.clone());
        std::thread::Builder::new()
            .name("tomoni-photo-people".into())
            .spawn(move || {
                // Decoded while the renderer is built (each about 0.2 s on these 2 cores).
                let photo = match tomoni_photo::camera::decode(&req.background, &original) {
                    Ok(p) => p,
                    Err(e) => {
                        let f = Failure::Input(e.to_string());
                        let _ = lens_tx.send(Err(f.clone()));
                        return Err(f);
                    }
                };
                // The blur decides how the companion is drawn, which the renderer must know
                // before it makes its cameras (pipelines are made per sample count); the rest
                // of the match is found with the people.
                let blur = tomoni_photo::composite::blur_sigma(&photo.image);
                let camera = &photo.camera;
                let lens = PhotoLens {
                    fov_y: camera.fov_y(),
                    full: (camera.width, camera.height),
                    antialias: blur < ALIASING_HIDDEN_BY_BLUR,
                };
                let _ = lens_tx.send(Ok(lens));
                // Then only what the renderer leaves idle (its pipelines compile on both cores):
                // at the same priority the two shared the cores while the avatar loaded, and
                // the photo took longer than one after the other.
                tomoni_voice::lowest_thread_priority();
                let planned = plan(&photo, &req, height, blur);
                let _ = tx.send(planned.as_ref().map(|p| p.view).map_err(Clone::clone));
                Ok((photo, planned, t0.elapsed()))
            })
            .map_err(|e| Failure::Runtime(format!("cannot start reading the photo: {e}")))?
    };
    let rendered = render_layer(
        setup,
        RenderRequest {
            // Kept in memory (`render_layer`), never written.
            out: PathBuf::new(),
            // The box's pixels, once it is known.
            width: 16,
            height: 16,
            view: tomoni_xr::views::View::Front,
            expression: req.expression.clone(),
            gesture: req.gesture,
            clip: None,
            transparent: true,
            additive: false,
            bench_frames: None,
            photo: Some(PhotoJob { lens: lens_rx, view: rx }),
            scene_json: None,
        },
    );
    // Not an image (or cut short), then no one to stand beside (and no `--place`): each says
    // so, whatever the renderer made of it.
    let (photo, planned, found_in) =
        worker.join().map_err(|_| Failure::Runtime("reading the photo stopped unexpectedly".into()))??;
    let Planned { view, people, placement, light, matched } = planned?;
    let layer = rendered?;
    let t2 = std::time::Instant::now();
    let crop = [view.crop.0, view.crop.1, view.size.0, view.size.1];
    let tomoni_photo::camera::Photo { image: mut out, camera, .. } = photo;
    tomoni_photo::composite::composite_in_place(&mut out, &layer, crop, &people, matched);
    if let Some(dir) = req.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Failure::Runtime(format!("{}: {e}", dir.display())))?;
    }
    tomoni_photo::composite::write_jpeg(&out, original.as_slice(), &req.out, credit.as_deref())
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let t3 = std::time::Instant::now();
    Ok(PhotoReport {
        out: req.out.clone(),
        people: people.len(),
        camera,
        placement,
        rendered: crop,
        drawn: [view.drawn.0, view.drawn.1],
        matched,
        light,
        antialiased: matched.blur < ALIASING_HIDDEN_BY_BLUR,
        seconds: [found_in.as_secs_f32(), (t2 - t0).as_secs_f32(), (t3 - t2).as_secs_f32()],
        credit,
    })
}

/// What [`plan`] works out: the view to render, and what the composite and the report need.
struct Planned {
    view: PhotoView,
    people: Vec<tomoni_photo::people::Person>,
    placement: tomoni_photo::place::Placement,
    light: tomoni_photo::light::Light,
    matched: tomoni_photo::composite::Match,
}

/// The people in `photo`, where the companion stands beside them, the light, and the box it is
/// drawn in (at [`render_scale`] of the photo's resolution, for its `blur`, read already).
fn plan(photo: &tomoni_photo::camera::Photo, req: &PhotoRequest, height: f32, blur: f32) -> Result<Planned, Failure> {
    let matched = tomoni_photo::composite::estimate_with_blur(&photo.image, blur);
    let mut finder = tomoni_photo::people::Finder::load(2).map_err(|e| Failure::Runtime(e.to_string()))?;
    let people = finder.find(&photo.image).map_err(|e| Failure::Runtime(e.to_string()))?;
    // Beside the most certain person whose feet are seen; everyone else is in the way.
    let person = people.iter().position(|p| p.feet().is_some()).or((!people.is_empty()).then_some(0));
    let others: Vec<&tomoni_photo::people::Person> =
        people.iter().enumerate().filter(|(i, _)| Some(*i) != person).map(|(_, p)| p).collect();
    let placement = tomoni_photo::place::place(&photo.camera, person.map(|i| &people[i]), &others, height, req.place)
        .map_err(|e| Failure::Input(format!("{}: {e}", req.background.display())))?;
    let light = req.light.light(&photo.image, &people, &photo.camera);
    // The companion's box in the photo: its height above the feet and a little below, arms'
    // width to each side, and the floor its shadow falls on.
    let (w, h) = (photo.camera.width, photo.camera.height);
    let [fx, fy] = placement.feet_px;
    let hp = placement.height_px;
    let (mut x0, mut x1) = (fx - hp * 0.45, fx + hp * 0.45);
    let (mut y0, mut y1) = (fy - hp * 1.08, fy + hp * 0.06);
    for q in tomoni_photo::place::shadow_floor(&placement, light.from.into(), height).map(|p| photo.camera.project(p)) {
        (x0, x1, y0, y1) = (x0.min(q.x), x1.max(q.x), y0.min(q.y), y1.max(q.y));
    }
    let (x0, x1) = (x0.max(0.0), x1.min(w as f32));
    let (y0, y1) = (y0.max(0.0), y1.min(h as f32));
    if x1 - x0 < 8.0 || y1 - y0 < 8.0 {
        return Err(Failure::Input(format!(
            "{}: the companion would stand outside the picture (feet at {fx:.0}, {fy:.0}): choose --place",
            req.background.display()
        )));
    }
    let crop = [x0 as u32, y0 as u32, (x1 - x0).ceil() as u32, (y1 - y0).ceil() as u32];
    let crop = [crop[0], crop[1], crop[2].min(w - crop[0]), crop[3].min(h - crop[1])];
    // Drawn at the resolution the photo resolves, stretched over the box by the composite.
    let scale = if req.full_resolution { 1.0 } else { render_scale(matched.blur) };
    let drawn = |n: u32| ((n as f32 * scale).ceil() as u32).clamp(16.min(n), n);
    let view = PhotoView {
        crop: (crop[0], crop[1]),
        size: (crop[2], crop[3]),
        drawn: (drawn(crop[2]), drawn(crop[3])),
        feet: Vec3::from_array(placement.feet),
        yaw: placement.yaw,
        light,
    };
    Ok(Planned { view, people, placement, light, matched })
}

/// The photos in a folder, in name order (JPEG and PNG).
pub fn photos_in(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Failure::Input(format!("{}: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["jpg", "jpeg", "png"].contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    v.sort();
    Ok(v)
}
