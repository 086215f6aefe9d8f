//! Photos together: what tomoni needs to know about a real photo to stand the companion in it.
//!
//! - [`camera`]: the photo, upright as its EXIF says, and its camera's field of view (from the
//!   35 mm-equivalent focal length, or a phone's when there is none);
//! - [`people`]: who is in it — a person mask over the whole photo, then each person's 33 body
//!   keypoints (heels and toes included), their 3-D pose in metres and a finer mask, from
//!   MediaPipe's models converted to ONNX at set-up (`cargo xtask`), run in process on the
//!   shared ONNX Runtime;
//! - [`place`]: where the companion stands: on the floor where its person's feet are, at their
//!   depth, beside them on the side with free floor, its size in the picture set by the
//!   person's real height;
//! - [`light`]: where the photo's light comes from and how hard it is, read off the people's
//!   outlines, so the companion is lit and casts its shadow the same way;
//! - [`composite`]: the rendered companion into the photo (contact shadow, white balance and
//!   exposure, people on top), written as a JPEG that keeps the EXIF and says it is a composite.
//!
//! No Bevy here: rendering the companion into the photo is the app's, through its one capture
//! path. Nothing is fetched at run time.

pub mod camera;
pub mod composite;
pub mod light;
pub mod people;
pub mod place;

use std::path::PathBuf;

/// Why a photo cannot be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// Not readable, not an image, truncated, or too large.
    #[error("{path}: {why}")]
    Image {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The models are missing or would not run.
    #[error("{0}")]
    Model(String),
    /// Nobody to stand beside (or their feet are not in the picture).
    #[error("{0}")]
    Placement(String),
}

/// The models' cache: `~/.cache/tomoni/photo` (or `$TOMONI_CACHE/photo`).
pub fn model_dir() -> PathBuf {
    tomoni_voice::onnx::cache_dir().join("photo")
}
