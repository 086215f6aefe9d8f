//! The people in a photo, the way MediaPipe's pose pipeline finds them, without its detector
//! (whose sparse weights no converter here handles): a person mask over the whole photo
//! (selfie segmentation) gives each person's region; the pose model looks at a square around
//! it, and again at the square its own body-centre keypoints give (MediaPipe's tracking
//! step), for 33 keypoints in pixels, 3-D positions in metres and a finer person mask.

use crate::PhotoError;
use glam::{Vec2, Vec3};
use image::RgbImage;
use ort::session::Session;
use ort::value::Tensor;

/// The models' input size (both are 256 × 256).
const SIZE: usize = 256;

/// Keypoints the pose model gives: 33 of the body, then its two body-centre points.
pub const KEYPOINTS: usize = 33;

/// Indices of MediaPipe's body keypoints that placement uses.
pub mod kp {
    /// Nose.
    pub const NOSE: usize = 0;
    /// Left eye (the person's left).
    pub const LEFT_EYE: usize = 2;
    /// Right eye.
    pub const RIGHT_EYE: usize = 5;
    /// Left shoulder.
    pub const LEFT_SHOULDER: usize = 11;
    /// Right shoulder.
    pub const RIGHT_SHOULDER: usize = 12;
    /// Left hip.
    pub const LEFT_HIP: usize = 23;
    /// Right hip.
    pub const RIGHT_HIP: usize = 24;
    /// Left heel.
    pub const LEFT_HEEL: usize = 29;
    /// Right heel.
    pub const RIGHT_HEEL: usize = 30;
    /// Left toe (foot index).
    pub const LEFT_TOE: usize = 31;
    /// Right toe.
    pub const RIGHT_TOE: usize = 32;
}

/// Heels and toes.
const FEET: [usize; 4] = [kp::LEFT_HEEL, kp::RIGHT_HEEL, kp::LEFT_TOE, kp::RIGHT_TOE];

/// A keypoint in the photo.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Keypoint {
    /// Pixels from the left.
    pub x: f32,
    /// Pixels from the top.
    pub y: f32,
    /// How likely it is visible (not hidden or out of the picture), 0–1.
    pub visibility: f32,
    /// How likely it is inside the picture, 0–1.
    pub presence: f32,
}

impl Keypoint {
    /// As a point.
    pub fn at(&self) -> Vec2 {
        Vec2::new(self.x, self.y)
    }

    /// Seen well enough to stand on: visible and in the picture.
    pub fn seen(&self) -> bool {
        self.visibility > 0.5 && self.presence > 0.5
    }
}

/// A square region of the photo the pose model looked at, turned by `angle`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Region {
    /// Centre, pixels.
    pub center: [f32; 2],
    /// Side, pixels.
    pub side: f32,
    /// Turn, radians (clockwise in the picture: the person's head towards −y rotated by it).
    pub angle: f32,
}

impl Region {
    /// Photo pixel of model pixel `(u, v)` in 0..256.
    fn to_photo(self, u: f32, v: f32) -> Vec2 {
        self.to_photo_turned(self.angle.sin_cos(), u, v)
    }

    /// [`Region::to_photo`] with the angle's sine and cosine worked out once.
    fn to_photo_turned(self, (s, c): (f32, f32), u: f32, v: f32) -> Vec2 {
        let d = Vec2::new(u / SIZE as f32 - 0.5, v / SIZE as f32 - 0.5) * self.side;
        Vec2::new(self.center[0] + d.x * c - d.y * s, self.center[1] + d.x * s + d.y * c)
    }

    /// Model pixel of photo pixel `p` (the inverse of [`Region::to_photo`]).
    fn to_model(self, p: Vec2) -> Vec2 {
        let (s, c) = self.angle.sin_cos();
        let d = p - Vec2::from(self.center);
        let r = Vec2::new(d.x * c + d.y * s, -d.x * s + d.y * c) / self.side;
        (r + 0.5) * SIZE as f32
    }
}

/// One person.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Person {
    /// The 33 body keypoints, in the photo.
    pub keypoints: Vec<Keypoint>,
    /// The same in metres, centred between the hips (MediaPipe's world landmarks: x to the
    /// person's left as seen, y down, z away from the camera).
    pub world: Vec<[f32; 3]>,
    /// How sure the model is that a person is there, 0–1.
    pub score: f32,
    /// Where the model looked.
    pub region: Region,
    /// The person mask in the region, 256 × 256, 0–1.
    #[serde(skip)]
    pub mask: Vec<f32>,
}

impl Person {
    /// Whether photo pixel `(x, y)` is this person, 0–1 (bilinear in the model's mask).
    pub fn mask_at(&self, x: f32, y: f32) -> f32 {
        let m = self.region.to_model(Vec2::new(x, y)) - 0.5;
        if m.x < -0.5 || m.y < -0.5 || m.x > SIZE as f32 - 0.5 || m.y > SIZE as f32 - 0.5 {
            return 0.0;
        }
        let (x0, y0) = (m.x.floor().max(0.0) as usize, m.y.floor().max(0.0) as usize);
        let (x1, y1) = ((x0 + 1).min(SIZE - 1), (y0 + 1).min(SIZE - 1));
        let (fx, fy) = ((m.x - x0 as f32).clamp(0.0, 1.0), (m.y - y0 as f32).clamp(0.0, 1.0));
        let at = |x: usize, y: usize| self.mask[y * SIZE + x];
        let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
        let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// Where the person stands on the floor, if their feet are seen: the middle of both feet,
    /// between heels and toes (a heel keypoint is behind and above the sole; under the body,
    /// at its depth, is half way to the toes).
    pub fn feet(&self) -> Option<Vec2> {
        let k = &self.keypoints;
        let ok = FEET.iter().filter(|&&i| k[i].seen()).count();
        (ok >= 3).then(|| FEET.iter().map(|&i| k[i].at()).sum::<Vec2>() * 0.25)
    }

    /// The same point in the 3-D pose, metres.
    pub fn feet_world(&self) -> Vec3 {
        FEET.iter().map(|&i| self.world_at(i)).sum::<Vec3>() * 0.25
    }

    /// The photo-space box around the keypoints that are in the picture.
    pub fn bounds(&self) -> (Vec2, Vec2) {
        let mut lo = Vec2::splat(f32::MAX);
        let mut hi = Vec2::splat(f32::MIN);
        for k in self.keypoints.iter().filter(|k| k.presence > 0.5) {
            lo = lo.min(k.at());
            hi = hi.max(k.at());
        }
        (lo, hi)
    }

    /// The person's outline: for each mask cell on the edge (the mask crosses one half), a
    /// photo point `inset` model cells inside it and the outline's outward normal there, in
    /// photo axes (x right, y down). Edges the photo's frame cuts are left out: they are not
    /// the person's shape.
    pub fn outline(&self, inset: f32, frame: (u32, u32)) -> Vec<(Vec2, Vec2)> {
        let at = |u: usize, v: usize| self.mask[v * SIZE + u];
        let (s, c) = self.region.angle.sin_cos();
        let mut out = Vec::new();
        for v in 1..SIZE - 1 {
            for u in 1..SIZE - 1 {
                let m = at(u, v);
                if m < 0.5 || (at(u - 1, v) >= 0.5 && at(u + 1, v) >= 0.5 && at(u, v - 1) >= 0.5 && at(u, v + 1) >= 0.5)
                {
                    continue;
                }
                // Outward: down the mask's slope.
                let g = -Vec2::new(at(u + 1, v) - at(u - 1, v), at(u, v + 1) - at(u, v - 1));
                if g.length_squared() < 1e-4 {
                    continue;
                }
                let n = g.normalize();
                let edge = self.region.to_photo(u as f32 + 0.5, v as f32 + 0.5);
                let margin = 4.0;
                if edge.x < margin
                    || edge.y < margin
                    || edge.x > frame.0 as f32 - margin
                    || edge.y > frame.1 as f32 - margin
                {
                    continue;
                }
                let inside = self.region.to_photo(u as f32 + 0.5 - n.x * inset, v as f32 + 0.5 - n.y * inset);
                out.push((inside, Vec2::new(n.x * c - n.y * s, n.x * s + n.y * c)));
            }
        }
        out
    }

    /// A world keypoint as a vector.
    pub fn world_at(&self, i: usize) -> Vec3 {
        Vec3::from(self.world[i])
    }
}

/// The two models, loaded once.
pub struct Finder {
    segmenter: Session,
    pose: Session,
}

/// A model file in the cache, or why it is missing.
fn model(name: &str) -> Result<(Vec<u8>, std::path::PathBuf), PhotoError> {
    let path = crate::model_dir().join(name);
    let bytes = std::fs::read(&path).map_err(|e| {
        PhotoError::Model(format!("{}: {e} (run `cargo xtask deps` to set up the photo models)", path.display()))
    })?;
    Ok((bytes, path))
}

/// Whether the models are set up (cheap).
pub fn models_ready() -> bool {
    ["selfie_segmentation.onnx", "pose_landmark_full.onnx"].iter().all(|m| crate::model_dir().join(m).is_file())
        && tomoni_voice::onnx::check_runtime().is_ok()
}

impl Finder {
    /// Loads both models on `threads` threads each.
    pub fn load(threads: usize) -> Result<Self, PhotoError> {
        let (seg, seg_path) = model("selfie_segmentation.onnx")?;
        let (pose, pose_path) = model("pose_landmark_full.onnx")?;
        Ok(Self {
            segmenter: tomoni_voice::onnx::session(&seg, threads, &seg_path).map_err(PhotoError::Model)?,
            pose: tomoni_voice::onnx::session(&pose, threads, &pose_path).map_err(PhotoError::Model)?,
        })
    }

    /// Everyone in `image`, most certain first.
    pub fn find(&mut self, image: &RgbImage) -> Result<Vec<Person>, PhotoError> {
        let (w, h) = (image.width() as f32, image.height() as f32);
        // The whole photo, letterboxed into the square the segmenter sees.
        let whole = Region { center: [w * 0.5, h * 0.5], side: w.max(h), angle: 0.0 };
        let mask = self.segment(&sample(image, whole))?;
        let mut people: Vec<Person> = Vec::new();
        for (lo, hi) in blobs(&mask, 0.5, SIZE * SIZE / 200) {
            let (a, b) = (whole.to_photo(lo.x, lo.y), whole.to_photo(hi.x, hi.y));
            let center = (a + b) * 0.5;
            let side = (b - a).max_element() * 1.25;
            let first = Region { center: center.into(), side, angle: 0.0 };
            let Some(guess) = self.pose(image, first)? else { continue };
            // MediaPipe's tracking step: the square its own body-centre points give, upright
            // along the body. Kept when the model is surer there (it is not always: a person
            // bent over a camera puts the square half outside the photo).
            let person = match self.pose(image, track(&guess))? {
                Some(p) if p.score >= guess.score => p,
                _ => guess,
            };
            // Two blobs of one person (an arm cut off by another) find the same body.
            let hips = |p: &Person| (p.keypoints[kp::LEFT_HIP].at() + p.keypoints[kp::RIGHT_HIP].at()) * 0.5;
            let same = people.iter().any(|q| hips(q).distance(hips(&person)) < 0.1 * person.region.side);
            if !same {
                people.push(person);
            }
        }
        people.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(people)
    }

    fn segment(&mut self, input: &[f32]) -> Result<Vec<f32>, PhotoError> {
        let fail = |e: ort::Error| PhotoError::Model(format!("person segmentation: {e}"));
        let _busy = tomoni_voice::onnx::busy();
        let x = Tensor::from_array(([1usize, SIZE, SIZE, 3], input.to_vec())).map_err(fail)?;
        let out = self.segmenter.run(ort::inputs![x]).map_err(fail)?;
        Ok(out[0].try_extract_tensor::<f32>().map_err(fail)?.1.to_vec())
    }

    /// The pose model on `region`; `None` when it sees nobody there.
    fn pose(&mut self, image: &RgbImage, region: Region) -> Result<Option<Person>, PhotoError> {
        let fail = |e: ort::Error| PhotoError::Model(format!("pose model: {e}"));
        let input = sample(image, region);
        let _busy = tomoni_voice::onnx::busy();
        let x = Tensor::from_array(([1usize, SIZE, SIZE, 3], input)).map_err(fail)?;
        let out = self.pose.run(ort::inputs![x]).map_err(fail)?;
        let get = |i: usize| out[i].try_extract_tensor::<f32>().map(|t| t.1.to_vec()).map_err(fail);
        let (landmarks, score, mask, world) = (get(0)?, get(1)?[0], get(2)?, get(4)?);
        if score < 0.5 {
            return Ok(None);
        }
        let sigmoid = |v: f32| 1.0 / (1.0 + (-v).exp());
        let keypoints = landmarks
            .chunks(5)
            .take(KEYPOINTS + 2)
            .map(|l| {
                let p = region.to_photo(l[0], l[1]);
                Keypoint { x: p.x, y: p.y, visibility: sigmoid(l[3]), presence: sigmoid(l[4]) }
            })
            .collect();
        Ok(Some(Person {
            keypoints,
            world: world.chunks(3).take(KEYPOINTS).map(|w| [w[0], w[1], w[2]]).collect(),
            score,
            region,
            mask: mask.into_iter().map(sigmoid).collect(),
        }))
    }
}

/// The square MediaPipe's tracking takes from a pose: centred on the body-centre point,
/// reaching to the top point and a quarter beyond, turned so the body is upright.
fn track(p: &Person) -> Region {
    let (c, top) = (p.keypoints[KEYPOINTS].at(), p.keypoints[KEYPOINTS + 1].at());
    let up = top - c;
    // The angle that turns "up" (−y) onto the body's axis.
    let angle = up.x.atan2(-up.y);
    Region { center: c.into(), side: up.length() * 2.0 * 1.25, angle }
}

/// `region` of the photo as the models' input: 256 × 256 RGB in 0–1, bilinear, black outside.
fn sample(image: &RgbImage, region: Region) -> Vec<f32> {
    let (w, h) = (image.width() as i64, image.height() as i64);
    let raw = image.as_raw();
    let px = |x: i64, y: i64, c: usize| -> f32 {
        if x < 0 || y < 0 || x >= w || y >= h {
            return 0.0;
        }
        f32::from(raw[((y * w + x) * 3) as usize + c]) / 255.0
    };
    // Each model pixel covers `step` photo pixels: average a few samples across it so a
    // 12-megapixel photo shrunk 15 times does not alias.
    let step = region.side / SIZE as f32;
    let taps = step.ceil().clamp(1.0, 4.0) as i32;
    let turn = region.angle.sin_cos();
    // `f32::floor` is a call into libm on the baseline x86-64 target, and this loop makes up to
    // a million taps: the same integer, from a cast (exact for anything a photo's size).
    let floor = |x: f32| {
        let i = x as i64;
        if (i as f32) > x { i - 1 } else { i }
    };
    let mut out = Vec::with_capacity(SIZE * SIZE * 3);
    for v in 0..SIZE {
        for u in 0..SIZE {
            let mut acc = [0.0f32; 3];
            for ty in 0..taps {
                for tx in 0..taps {
                    let (su, sv) = ((tx as f32 + 0.5) / taps as f32, (ty as f32 + 0.5) / taps as f32);
                    let p = region.to_photo_turned(turn, u as f32 + su, v as f32 + sv) - 0.5;
                    let (x0, y0) = (floor(p.x), floor(p.y));
                    let (fx, fy) = (p.x - x0 as f32, p.y - y0 as f32);
                    // The four pixels around the tap (top left, top right, bottom left, bottom
                    // right): read straight when all are inside, else through `px`'s bounds check.
                    let corners: [[f32; 3]; 4] = if x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h {
                        let (i, below) = (((y0 * w + x0) * 3) as usize, (w * 3) as usize);
                        [i, i + 3, i + below, i + below + 3].map(|k| [0, 1, 2].map(|c| f32::from(raw[k + c]) / 255.0))
                    } else {
                        [(x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)]
                            .map(|(x, y)| [0, 1, 2].map(|c| px(x, y, c)))
                    };
                    let [tl, tr, bl, br] = corners;
                    for (c, a) in acc.iter_mut().enumerate() {
                        let top = tl[c] * (1.0 - fx) + tr[c] * fx;
                        let bottom = bl[c] * (1.0 - fx) + br[c] * fx;
                        *a += top * (1.0 - fy) + bottom * fy;
                    }
                }
            }
            let n = (taps * taps) as f32;
            out.extend(acc.iter().map(|a| a / n));
        }
    }
    out
}

/// Boxes (in mask pixels) around the connected parts of `mask` above `threshold` with at
/// least `min_area` pixels, largest first.
fn blobs(mask: &[f32], threshold: f32, min_area: usize) -> Vec<(Vec2, Vec2)> {
    let mut seen = vec![false; mask.len()];
    let mut found = Vec::new();
    for start in 0..mask.len() {
        if seen[start] || mask[start] < threshold {
            continue;
        }
        let (mut lo, mut hi, mut area) = (Vec2::splat(f32::MAX), Vec2::splat(f32::MIN), 0usize);
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(i) = stack.pop() {
            let (x, y) = (i % SIZE, i / SIZE);
            area += 1;
            lo = lo.min(Vec2::new(x as f32, y as f32));
            hi = hi.max(Vec2::new(x as f32 + 1.0, y as f32 + 1.0));
            let mut visit = |j: usize| {
                if !seen[j] && mask[j] >= threshold {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < SIZE {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - SIZE);
            }
            if y + 1 < SIZE {
                visit(i + SIZE);
            }
        }
        if area >= min_area {
            found.push((area, lo, hi));
        }
    }
    found.sort_by_key(|b| std::cmp::Reverse(b.0));
    found.into_iter().map(|(_, lo, hi)| (lo, hi)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_maps_model_pixels_to_the_photo_and_back() {
        let r = Region { center: [400.0, 300.0], side: 512.0, angle: 0.3 };
        for (u, v) in [(0.0, 0.0), (128.0, 128.0), (256.0, 10.0), (37.5, 200.25)] {
            let p = r.to_photo(u, v);
            let back = r.to_model(p);
            assert!((back - Vec2::new(u, v)).length() < 1e-3, "{u},{v} -> {p} -> {back}");
        }
        // Unturned, the centre is the middle and a model pixel is side/256 photo pixels.
        let r = Region { center: [400.0, 300.0], side: 512.0, angle: 0.0 };
        assert_eq!(r.to_photo(128.0, 128.0), Vec2::new(400.0, 300.0));
        assert_eq!(r.to_photo(129.0, 128.0), Vec2::new(402.0, 300.0));
    }

    /// The models' input as first written: every tap through `floor` and a bounds-checked read.
    fn sample_plainly(image: &RgbImage, region: Region) -> Vec<f32> {
        let (w, h) = (image.width() as i64, image.height() as i64);
        let px = |x: i64, y: i64, c: usize| -> f32 {
            if x < 0 || y < 0 || x >= w || y >= h {
                return 0.0;
            }
            f32::from(image.as_raw()[((y * w + x) * 3) as usize + c]) / 255.0
        };
        let taps = (region.side / SIZE as f32).ceil().clamp(1.0, 4.0) as i32;
        let mut out = Vec::new();
        for v in 0..SIZE {
            for u in 0..SIZE {
                let mut acc = [0.0f32; 3];
                for ty in 0..taps {
                    for tx in 0..taps {
                        let (su, sv) = ((tx as f32 + 0.5) / taps as f32, (ty as f32 + 0.5) / taps as f32);
                        let p = region.to_photo(u as f32 + su, v as f32 + sv) - 0.5;
                        let (x0, y0) = (p.x.floor(), p.y.floor());
                        let (fx, fy) = (p.x - x0, p.y - y0);
                        let (x0, y0) = (x0 as i64, y0 as i64);
                        for (c, a) in acc.iter_mut().enumerate() {
                            let top = px(x0, y0, c) * (1.0 - fx) + px(x0 + 1, y0, c) * fx;
                            let bottom = px(x0, y0 + 1, c) * (1.0 - fx) + px(x0 + 1, y0 + 1, c) * fx;
                            *a += top * (1.0 - fy) + bottom * fy;
                        }
                    }
                }
                out.extend(acc.iter().map(|a| a / (taps * taps) as f32));
            }
        }
        out
    }

    #[test]
    fn the_models_input_is_the_plain_bilinear_sampling_bit_for_bit() {
        let img = RgbImage::from_fn(700, 500, |x, y| {
            image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * 7 + y * 3) % 256) as u8])
        });
        // Inside, turned, hanging over every edge (black outside), 1 to 4 taps.
        for region in [
            Region { center: [350.0, 250.0], side: 480.0, angle: 0.0 },
            Region { center: [120.0, 90.0], side: 900.0, angle: 0.4 },
            Region { center: [650.0, 470.0], side: 200.0, angle: -2.5 },
            Region { center: [350.0, 250.0], side: 1100.0, angle: 3.1 },
        ] {
            let (fast, plain) = (sample(&img, region), sample_plainly(&img, region));
            assert_eq!(fast.len(), plain.len());
            let differ = fast.iter().zip(&plain).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
            assert_eq!(differ, 0, "{region:?}: {differ} values differ");
        }
    }

    #[test]
    fn blobs_are_found_apart_and_small_specks_ignored() {
        let mut m = vec![0.0f32; SIZE * SIZE];
        for y in 10..60 {
            for x in 20..40 {
                m[y * SIZE + x] = 0.9;
            }
            for x in 100..130 {
                m[y * SIZE + x] = 0.8;
            }
        }
        m[200 * SIZE + 200] = 1.0; // a speck
        let b = blobs(&m, 0.5, 50);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0], (Vec2::new(100.0, 10.0), Vec2::new(130.0, 60.0)));
        assert_eq!(b[1], (Vec2::new(20.0, 10.0), Vec2::new(40.0, 60.0)));
    }
}
