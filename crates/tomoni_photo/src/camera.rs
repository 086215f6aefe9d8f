//! A photo as the camera saw it: decoded, turned upright as its EXIF orientation says, with the
//! field of view its lens had, so the companion is rendered through the same lens.

use crate::PhotoError;
use image::RgbImage;
use std::path::{Path, PathBuf};

/// Largest photo accepted, in pixels: 50 MP is above any phone's default and the big cameras'
/// JPEGs; a 100-megapixel file is refused with a message rather than eating the memory.
pub const MAX_PIXELS: u64 = 50_000_000;

/// A phone's main camera, 35 mm-equivalent, when the photo says nothing (26 mm on most phones
/// since 2018).
pub const DEFAULT_FOCAL_35MM: f32 = 26.0;

/// The diagonal of a 36 × 24 mm frame: what a 35 mm-equivalent focal length is relative to.
const FULL_FRAME_DIAGONAL_MM: f32 = 43.267;

/// Where the field of view came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LensSource {
    /// EXIF `FocalLengthIn35mmFilm`.
    Exif35mm,
    /// EXIF `FocalLength` and the sensor's size from the focal-plane resolution.
    ExifSensor,
    /// No usable EXIF: [`DEFAULT_FOCAL_35MM`].
    Default,
}

/// The camera of a photo.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Camera {
    /// 35 mm-equivalent focal length, mm.
    pub focal_35mm: f32,
    /// Where that came from.
    pub source: LensSource,
    /// Image size (upright), pixels.
    pub width: u32,
    /// Image size (upright), pixels.
    pub height: u32,
}

impl Camera {
    /// The focal length in pixels (the same for both axes: square pixels).
    pub fn focal_px(&self) -> f32 {
        let diagonal = (self.width as f32).hypot(self.height as f32);
        diagonal * self.focal_35mm / FULL_FRAME_DIAGONAL_MM
    }

    /// The vertical field of view, radians (what a render camera takes).
    pub fn fov_y(&self) -> f32 {
        2.0 * (self.height as f32 * 0.5 / self.focal_px()).atan()
    }

    /// The ray through pixel `(x, y)` (y down), in camera space: x right, y up, looking down −z.
    pub fn ray(&self, x: f32, y: f32) -> glam::Vec3 {
        let f = self.focal_px();
        glam::Vec3::new((x - self.width as f32 * 0.5) / f, -(y - self.height as f32 * 0.5) / f, -1.0)
    }

    /// Where camera-space point `p` lands in the picture, pixels (y down).
    pub fn project(&self, p: glam::Vec3) -> glam::Vec2 {
        let f = self.focal_px();
        glam::Vec2::new(self.width as f32 * 0.5 + f * p.x / -p.z, self.height as f32 * 0.5 - f * p.y / -p.z)
    }
}

/// A photo, upright, with its camera.
pub struct Photo {
    /// Where it came from.
    pub path: PathBuf,
    /// The pixels, turned upright.
    pub image: RgbImage,
    /// Its camera.
    pub camera: Camera,
    /// EXIF orientation (1–8) as found (1 when none).
    pub orientation: u8,
}

impl std::fmt::Debug for Photo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Photo").field("path", &self.path).field("camera", &self.camera).finish_non_exhaustive()
    }
}

/// Reads a photo; errors name the file and say what is wrong (not an image, truncated, too big).
pub fn load(path: &Path) -> Result<Photo, PhotoError> {
    let bytes = std::fs::read(path).map_err(|e| PhotoError::Image { path: path.to_path_buf(), why: e.to_string() })?;
    decode(path, &bytes)
}

/// The same from the file's bytes, already read (`tomoni photo` keeps them for the EXIF it
/// carries over); `path` names it in errors.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Photo, PhotoError> {
    let bad = |why: String| PhotoError::Image { path: path.to_path_buf(), why };
    let reader =
        image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(|e| bad(e.to_string()))?;
    if reader.format().is_none() {
        return Err(bad("not an image this can read (JPEG or PNG)".into()));
    }
    let (w, h) = reader.into_dimensions().map_err(|e| bad(format!("not a readable image: {e}")))?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(bad(format!(
            "{w} × {h} is {:.0} megapixels; the most is {} (scale it down first)",
            f64::from(w) * f64::from(h) / 1e6,
            MAX_PIXELS / 1_000_000
        )));
    }
    let reader =
        image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(|e| bad(e.to_string()))?;
    // The JPEG decoder fills a cut-off file's missing rows with grey; a cut-off file must be
    // refused instead, not composited and handed back as if whole.
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_complete(bytes) {
        return Err(bad("the JPEG is cut off (no end-of-image marker after its last scan): copy it again".into()));
    }
    let img = reader.decode().map_err(|e| bad(format!("cannot decode: {e}")))?;
    let exif = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes)).ok();
    let field_u32 = |tag| exif.as_ref()?.get_field(tag, exif::In::PRIMARY).and_then(|f| f.value.get_uint(0));
    let orientation = field_u32(exif::Tag::Orientation).filter(|o| (1..=8).contains(o)).unwrap_or(1) as u8;
    let mut img = img;
    if let Some(o) = image::metadata::Orientation::from_exif(orientation) {
        img.apply_orientation(o);
    }
    let image = img.to_rgb8();
    let (width, height) = image.dimensions();
    let (focal_35mm, source) = focal_35mm(exif.as_ref()).unwrap_or((DEFAULT_FOCAL_35MM, LensSource::Default));
    Ok(Photo { path: path.to_path_buf(), image, camera: Camera { focal_35mm, source, width, height }, orientation })
}

/// Whether a JPEG's last scan is followed by its end-of-image marker. Inside a scan's
/// entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so the first FF D9
/// after the last start-of-scan (FF DA) is the end of the image.
fn jpeg_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    last_scan.is_some_and(|at| bytes[at..].windows(2).any(|w| w == [0xFF, 0xD9]))
}

/// The 35 mm-equivalent focal length from EXIF, directly or from the focal length and sensor.
fn focal_35mm(exif: Option<&exif::Exif>) -> Option<(f32, LensSource)> {
    let exif = exif?;
    let get = |tag| exif.get_field(tag, exif::In::PRIMARY);
    if let Some(v) = get(exif::Tag::FocalLengthIn35mmFilm).and_then(|f| f.value.get_uint(0))
        && (8..=2000).contains(&v)
    {
        return Some((v as f32, LensSource::Exif35mm));
    }
    let rational = |tag| match get(tag).map(|f| &f.value) {
        Some(exif::Value::Rational(r)) if !r.is_empty() && r[0].denom != 0 => Some(r[0].to_f64() as f32),
        _ => None,
    };
    let focal = rational(exif::Tag::FocalLength)?;
    // Sensor width from the focal-plane resolution (pixels per unit) and the pixel width.
    let xres = rational(exif::Tag::FocalPlaneXResolution)?;
    let unit_mm = match get(exif::Tag::FocalPlaneResolutionUnit).and_then(|f| f.value.get_uint(0)) {
        Some(3) => 10.0,
        Some(4) => 1.0,
        _ => 25.4, // inches, the default
    };
    let px = get(exif::Tag::PixelXDimension).and_then(|f| f.value.get_uint(0))? as f32;
    let py = get(exif::Tag::PixelYDimension).and_then(|f| f.value.get_uint(0))? as f32;
    let sensor_w = px / xres * unit_mm;
    let sensor_diag = sensor_w * (px.hypot(py) / px);
    let f35 = focal * FULL_FRAME_DIAGONAL_MM / sensor_diag;
    (f35.is_finite() && (8.0..=2000.0).contains(&f35)).then_some((f35, LensSource::ExifSensor))
}
