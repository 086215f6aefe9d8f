//! The default avatar against two independent implementations (the Khronos glTF validator and
//! pixiv's three-vrm, in Node), and its expressions rendered by tomoni and compared pixel by
//! pixel: every expression must visibly change the face, and the mouth shapes must differ.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn node_modules() -> PathBuf {
    std::env::var_os("TOMONI_NODE_MODULES").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
        home.join(".cache/tomoni/node/node_modules")
    })
}

use tomoni_avatar::vrm_check::PRESET_EXPRESSIONS as EXPRESSIONS;

#[test]
fn default_avatar_passes_the_khronos_validator_and_loads_in_three_vrm() {
    let modules = node_modules();
    assert!(
        modules.join("gltf-validator").is_dir() && modules.join("@pixiv/three-vrm").is_dir(),
        "{} lacks gltf-validator/three-vrm: `cargo xtask test` installs them",
        modules.display()
    );
    let out = Command::new("node")
        .arg(root().join("crates/tomoni/tests/js/check_vrm.mjs"))
        .arg(root().join("assets/avatars/default.vrm"))
        .env("TOMONI_NODE_MODULES", &modules)
        .output()
        .expect("node runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["validator"]["errors"], 0, "Khronos validator: {}", v["validator"]);
    let t = &v["threeVrm"];
    assert!(t.get("error").is_none(), "three-vrm failed: {}", t["error"]);
    assert_eq!(t["specVersion"], "1");
    assert_eq!(t["licenseUrl"], "https://vrm.dev/licenses/1.0/");
    let exprs: Vec<&str> = t["expressions"].as_array().unwrap().iter().filter_map(|x| x.as_str()).collect();
    for e in EXPRESSIONS {
        assert!(exprs.contains(&e), "three-vrm does not see expression {e}: {exprs:?}");
    }
    let bones: Vec<&str> = t["bones"].as_array().unwrap().iter().filter_map(|x| x.as_str()).collect();
    for b in tomoni_avatar::vrm_check::REQUIRED_BONES {
        assert!(bones.contains(&b), "three-vrm does not find bone {b}");
    }
    assert!(t["mtoonMaterials"].as_u64().unwrap() >= 10, "MToon materials: {}", t["mtoonMaterials"]);
    assert_eq!(t["firstPerson"], 4);
    let h = t["height"].as_f64().unwrap();
    assert!((1.6..1.8).contains(&h), "three.js measures {h} m");
    // The hair's spring chains, simulated by three-vrm: seven chains of two moving joints; the
    // back of the bob lags a quick head turn by centimetres and settles back to rest.
    assert_eq!(t["springJoints"], 14, "spring joints three-vrm found");
    let (lag, settled) = (t["spring"]["lag"].as_f64().unwrap(), t["spring"]["settled"].as_f64().unwrap());
    assert!(lag > 0.01, "hair lags a head turn by only {lag} m: the springs do not act");
    assert!(settled < 0.002, "hair stays {settled} m off its rest place after 5 s");
}

fn render_face(expression: &str) -> Vec<u8> {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("expr-{expression}.png"));
    let mut c = common::tomoni_cmd();
    c.args(["render", "--view", "face", "--width", "160", "--height", "160", "--out"]).arg(&out);
    if expression != "neutral" {
        c.args(["--expression", expression]);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{expression}: {}", String::from_utf8_lossy(&o.stderr));
    image::open(&out).unwrap().to_rgb8().into_raw()
}

/// Pixels that changed visibly (some channel by more than 20 of 255).
fn diff(a: &[u8], b: &[u8]) -> usize {
    a.chunks(3).zip(b.chunks(3)).filter(|(p, q)| p.iter().zip(q.iter()).any(|(x, y)| x.abs_diff(*y) > 20)).count()
}

#[test]
fn every_expression_is_visibly_distinct_on_the_face() {
    let neutral = render_face("neutral");
    let mut faces = Vec::new();
    for e in &EXPRESSIONS[..13] {
        let f = render_face(e);
        let d = diff(&f, &neutral);
        eprintln!("{e:>10}: {d} pixels differ from neutral");
        // One closed eyelid changes dozens of pixels at this size; render noise changes none.
        assert!(d >= 25, "{e} is not visible on the face ({d} pixels differ)");
        faces.push((e, f));
    }
    for i in 0..faces.len() {
        for j in i + 1..faces.len() {
            let d = diff(&faces[i].1, &faces[j].1);
            assert!(d >= 10, "{} and {} look the same ({d} pixels differ)", faces[i].0, faces[j].0);
        }
    }
}
