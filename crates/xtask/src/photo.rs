//! The photo models, from PyPI packages, cached under `~/.cache/tomoni/photo` (nothing is
//! fetched at run time):
//! - `mediapipe==0.10.21` (Apache-2.0): `selfie_segmentation.tflite` (who is a person, over the
//!   whole photo) and `pose_landmark_full.tflite` (33 body keypoints with heels and toes, their
//!   3-D positions in metres, and a finer person mask), converted to ONNX by
//!   `crates/xtask/photo/tflite_onnx.py` with the PyPI `tflite==2.18.0` and `onnx==1.23.2`
//!   readers (no Rust runtime loads MediaPipe's fp16 weights and custom op as shipped). Later
//!   MediaPipe releases ship no models: the pin matters.
//!
//! Cost on a fresh machine: a 36 MB wheel (and scikit-image's 14 MB one for six test photos,
//! Debian's 95 MB `opencv-doc` for nine more, one with feet: ~6 s), 17 MB of converter packages and a 3 s conversion into
//! 13 MB of models, run on the ONNX Runtime that `voices` sets up.

use crate::voices::{download, unpack};
use crate::{Res, cache_dir, root, run, venv_python};
use std::process::Command;

const MEDIAPIPE: &str = "mediapipe==0.10.21";
const CONVERTER: [&str; 2] = ["tflite==2.18.0", "onnx==1.23.2"];
/// (member of the wheel, model written).
const MODELS: [(&str, &str); 2] = [
    ("mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite", "selfie_segmentation.onnx"),
    ("mediapipe/modules/pose_landmark/pose_landmark_full.tflite", "pose_landmark_full.onnx"),
];

/// Real photos for the tests, from scikit-image's data (each public domain or CC0, per its
/// `skimage/data/_fetchers.py`): the astronaut Eileen Collins (NASA, public domain) and the
/// cameraman (CC0) with people; coffee, the cat Chelsea, a motorcycle and a rocket launch
/// (all CC0 or public domain) for white balance.
const TEST_PHOTOS_PKG: &str = "scikit-image==0.25.2";
const TEST_PHOTOS: [&str; 6] =
    ["astronaut.png", "camera.png", "coffee.png", "chelsea.png", "motorcycle_left.png", "rocket.jpg"];

/// A real photo of a person standing with their feet in view, which no PyPI package ships:
/// OpenCV's `basketball1.png` (two people playing catch in an office, from the Middlebury
/// optical-flow set), in Debian's `opencv-doc` (Apache-2.0 / BSD-3-Clause as packaged); and,
/// for white balance measured on photos it was not tuned on, eight colour photos of scenes
/// (a football match, streets, a room of toys, a butterfly, a squirrel, sweets). The 95 MB
/// package is downloaded, not installed, and only these files kept (3 MB).
const FEET_PHOTO_DEB: &str = "opencv-doc";
const DEB_PHOTOS: [&str; 9] = [
    "basketball1.png",
    "messi5.jpg",
    "home.jpg",
    "building.jpg",
    "leuvenA.jpg",
    "rubberwhale1.png",
    "butterfly.jpg",
    "squirrel_cls.jpg",
    "smarties.png",
];

/// Fetches [`DEB_PHOTOS`] from the Debian archive into `photos`.
fn deb_photos(photos: &std::path::Path) -> Res {
    let tmp = photos.join("deb");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut get = Command::new("apt-get");
    get.args(["download", "-qq", FEET_PHOTO_DEB]).current_dir(&tmp);
    run(get)?;
    let deb = std::fs::read_dir(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| format!("apt-get download {FEET_PHOTO_DEB} left no .deb in {}", tmp.display()))?;
    for name in DEB_PHOTOS {
        let part = photos.join(format!("{name}.part"));
        let member = format!("./usr/share/doc/opencv-doc/examples/data/{name}");
        let mut x = Command::new("sh");
        x.arg("-c").arg("dpkg-deb --fsys-tarfile \"$0\" | tar -xO \"$1\" > \"$2\"").arg(&deb).arg(&member).arg(&part);
        run(x)?;
        std::fs::rename(&part, photos.join(name)).map_err(|e| format!("{}: {e}", part.display()))?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// Makes sure both models (and the tests' real photos) are in the cache.
pub fn ensure() -> Res {
    let dir = cache_dir().join("photo");
    let photos = dir.join("test-photos");
    if !TEST_PHOTOS.iter().all(|p| photos.join(p).is_file()) {
        let wheel = download(TEST_PHOTOS_PKG, "scikit_image-")?;
        let members: Vec<(String, &str)> = TEST_PHOTOS.iter().map(|p| (format!("skimage/data/{p}"), *p)).collect();
        let members: Vec<(&str, &str)> = members.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        unpack(&wheel, &photos, &members)?;
    }
    if !DEB_PHOTOS.iter().all(|p| photos.join(p).is_file()) {
        deb_photos(&photos)?;
    }
    if MODELS.iter().all(|(_, onnx)| dir.join(onnx).is_file()) {
        return Ok(());
    }
    let wheel = download(MEDIAPIPE, "mediapipe-")?;
    let py = venv_python()?;
    let mut pip = Command::new(&py);
    pip.args(["-m", "pip", "install", "--quiet"]).args(CONVERTER);
    run(pip)?;
    let tmp = dir.join("tflite");
    let members: Vec<(&str, &str)> = MODELS.iter().map(|(src, onnx)| (*src, onnx.trim_end_matches(".onnx"))).collect();
    unpack(&wheel, &tmp, &members)?;
    for (_, onnx) in MODELS {
        let part = dir.join(format!("{onnx}.part"));
        let mut c = Command::new(&py);
        c.arg(root().join("crates/xtask/photo/tflite_onnx.py"))
            .arg(tmp.join(onnx.trim_end_matches(".onnx")))
            .arg(&part);
        run(c)?;
        std::fs::rename(&part, dir.join(onnx)).map_err(|e| format!("{}: {e}", part.display()))?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
