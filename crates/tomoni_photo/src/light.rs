//! Where a photo's light comes from, and how hard it is, read off the people in it.
//!
//! A person's outline is an occluding contour: there the surface turns away from the camera, so
//! its normal lies in the picture's plane and is the outline's own outward normal. Under one
//! main light and an even ambient, brightness just inside the outline goes as
//! `ambient + albedo · (n · l)`; fitting `I = a + b·nx + c·ny` over the outline (least squares)
//! gives the light's sideways component `b` and how it compares with the rest, `b / a`
//! (Pentland 1982; Nillius & Eklundh 2001). Only the sideways part is used: up/down is
//! confounded by dark hair on top and shoes below, so the light is taken as 45° high, and as
//! coming from the camera's side of the person (a photographer's habit; a back-lit person is
//! not told apart).
//!
//! Where a person's feet are seen, their own shadow on the floor says more, and is read first
//! ([`from_shadows`]): the floor around their feet is looked at in sixteen directions; a
//! direction clearly darker than the rest is where the shadow falls, so the light comes from
//! the opposite side; how far the shadow reaches, against the person's height, is the light's
//! height; how much darker it is, the light's hardness.

use crate::camera::Camera;
use crate::people::Person;
use crate::place::stance;
use glam::{Vec2, Vec3};
use image::RgbImage;

/// How high the light is taken to be, degrees above the horizon.
pub const ELEVATION_DEG: f32 = 45.0;

/// The light to render the companion with.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Light {
    /// Towards the light, camera space (x right, y up, z towards the camera), unit.
    pub from: [f32; 3],
    /// Sideways: −1 from the left of the picture, 0 from the front, 1 from the right.
    pub side: f32,
    /// How hard the light is: 0 overcast or studio-soft, 1 a clear sun.
    pub strength: f32,
    /// Outline points the estimate rests on (0: the default light, or read from a shadow).
    pub samples: usize,
    /// What it was read from: `default`, `chosen`, `outline` or `shadow`.
    pub cue: &'static str,
}

impl Light {
    /// When no one is in the photo: from the front-left above, half-soft (the stage's key).
    pub const DEFAULT: Light =
        Light { from: [-0.40, 0.70, 0.60], side: -0.4, strength: 0.35, samples: 0, cue: "default" };

    /// From a sideways part and a hardness, at [`ELEVATION_DEG`].
    pub fn from_side(side: f32, strength: f32, samples: usize) -> Light {
        let side = side.clamp(-1.0, 1.0);
        let (azimuth, elevation) = (side * 75f32.to_radians(), ELEVATION_DEG.to_radians());
        let from = Vec3::new(azimuth.sin() * elevation.cos(), elevation.sin(), azimuth.cos() * elevation.cos());
        Light { from: from.to_array(), side, strength: strength.clamp(0.0, 1.0), samples, cue: "outline" }
    }

    /// Chosen by the person (`--light`), not read.
    fn chosen(side: f32, strength: f32) -> Light {
        Light { cue: "chosen", ..Light::from_side(side, strength, 0) }
    }
}

/// Where the light comes from: read off the photo, or said by the person (when the estimate is
/// wrong, or there is no one to read it from).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LightChoice {
    /// Read off the people: their shadows, else their outlines ([`estimate`]).
    Auto,
    /// A light from the left of the picture, this hard (0 soft – 1 the sun; `left` is 0.9,
    /// `left:0.4` a window's).
    Left(f32),
    /// A light from the right, this hard.
    Right(f32),
    /// From behind the camera, half-soft.
    Front,
    /// Overcast or studio-soft: hardly a cast shadow, only the contact shadow.
    Soft,
}

impl LightChoice {
    /// How hard `left` and `right` are: a clear sun, a little scattered.
    pub const CLEAR: f32 = 0.9;

    /// The light: chosen, or estimated from `people` in `photo` (taken through `camera`).
    pub fn light(self, photo: &RgbImage, people: &[Person], camera: &Camera) -> Light {
        match self {
            LightChoice::Auto => estimate(photo, people, camera),
            LightChoice::Left(h) => Light::chosen(-1.0, h),
            LightChoice::Right(h) => Light::chosen(1.0, h),
            LightChoice::Front => Light::chosen(0.0, 0.5),
            LightChoice::Soft => Light::chosen(0.0, 0.0),
        }
    }
}

impl std::str::FromStr for LightChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, hard) = s.split_once(':').unwrap_or((s, ""));
        let hardness = match hard {
            "" => LightChoice::CLEAR,
            h => match h.parse::<f32>() {
                Ok(h) if (0.0..=1.0).contains(&h) && matches!(name, "left" | "right") => h,
                _ => return Err(format!("{s:?}: a hardness is left:H or right:H, H from 0 (soft) to 1 (the sun)")),
            },
        };
        Ok(match name {
            "auto" => LightChoice::Auto,
            "left" => LightChoice::Left(hardness),
            "right" => LightChoice::Right(hardness),
            "front" => LightChoice::Front,
            "soft" => LightChoice::Soft,
            _ => return Err(format!("{s:?}: expected auto, left, right, front or soft (left:0.4: a softer light)")),
        })
    }
}

impl std::fmt::Display for LightChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            LightChoice::Auto => f.write_str("auto"),
            LightChoice::Left(h) if h == LightChoice::CLEAR => f.write_str("left"),
            LightChoice::Right(h) if h == LightChoice::CLEAR => f.write_str("right"),
            LightChoice::Left(h) => write!(f, "left:{h}"),
            LightChoice::Right(h) => write!(f, "right:{h}"),
            LightChoice::Front => f.write_str("front"),
            LightChoice::Soft => f.write_str("soft"),
        }
    }
}

/// Fewer outline points than this (a person a few pixels tall) says nothing.
const MIN_SAMPLES: usize = 60;

/// The photo's light, from everyone in it: their shadows where one is clearly seen, else their
/// outlines; [`Light::DEFAULT`] with no one.
pub fn estimate(photo: &RgbImage, people: &[Person], camera: &Camera) -> Light {
    if let Some(l) = from_shadows(photo, people, camera) {
        return l;
    }
    let frame = photo.dimensions();
    let outline: Vec<(Vec2, Vec2)> = people.iter().flat_map(|p| p.outline(2.0, frame)).collect();
    fit(photo, &outline).unwrap_or(Light::DEFAULT)
}

/// Directions looked along the floor around each person's feet.
const SECTORS: usize = 16;

/// A shadow at least this much darker along its middle than the floor's median direction is
/// one (floors have texture and uneven light; a clear sun's shadow is 40–70 % darker, an
/// office's soft one 10 %).
const MIN_SHADOW_CONTRAST: f32 = 0.15;

/// From the shadows of the people whose feet are seen: the most contrasted one. `None` when no
/// one's feet are seen, or no direction is clearly darker.
pub fn from_shadows(photo: &RgbImage, people: &[Person], camera: &Camera) -> Option<Light> {
    people.iter().filter_map(|p| shadow_of(photo, p, people, camera)).max_by(|a, b| a.strength.total_cmp(&b.strength))
}

/// The floor direction (x, z) of sector `k` of [`SECTORS`] (fractions between): 0 is +x,
/// turning away from the camera (towards −z).
fn sector_dir(k: f32) -> Vec2 {
    let a = k / SECTORS as f32 * std::f32::consts::TAU;
    Vec2::new(a.cos(), -a.sin())
}

/// The sector (fractional) a floor direction (x, z) falls in: [`sector_dir`]'s inverse.
fn sector_of(dir: Vec2) -> f32 {
    -dir.y.atan2(dir.x) / std::f32::consts::TAU * SECTORS as f32
}

/// Floor luminance along sector `k`, at `r` metres from `at`; `None` where the floor is out
/// of the picture or a person covers it.
fn floor_along(photo: &RgbImage, people: &[Person], camera: &Camera, at: Vec3, k: f32, r: f32) -> Option<f32> {
    let d = sector_dir(k);
    let p = at + Vec3::new(d.x, 0.0, d.y) * r;
    if p.z > -0.2 {
        return None;
    }
    let px = camera.project(p);
    let (w, h) = photo.dimensions();
    if px.x < 1.0 || px.y < 1.0 || px.x > w as f32 - 2.0 || px.y > h as f32 - 2.0 {
        return None;
    }
    if people.iter().any(|q| q.mask_at(px.x, px.y) > 0.2) {
        return None;
    }
    Some(luminance(photo, px))
}

/// Where `person`'s shadow falls, if it is clearly seen.
fn shadow_of(photo: &RgbImage, person: &Person, people: &[Person], camera: &Camera) -> Option<Light> {
    let st = stance(camera, person)?;
    // From past the contact shadow (0.45 m) to 1.6 m: where a person's shadow is under any
    // light higher than 45°, and beside them, not the far floor's other lighting.
    let radii: Vec<f32> = (0..12).map(|i| 0.45 + i as f32 * 0.1).collect();
    let mut mean = [f32::NAN; SECTORS];
    for (k, m) in mean.iter_mut().enumerate() {
        let seen: Vec<f32> = radii
            .iter()
            .flat_map(|&r| [-0.3f32, 0.0, 0.3].map(move |j| (r, j)))
            .filter_map(|(r, j)| floor_along(photo, people, camera, st.stands, k as f32 + j, r))
            .collect();
        // Half the samples at least: a direction mostly out of the picture says nothing.
        if seen.len() * 2 >= radii.len() * 3 {
            *m = seen.iter().sum::<f32>() / seen.len() as f32;
        }
    }
    let mut known: Vec<f32> = mean.iter().copied().filter(|m| m.is_finite()).collect();
    if known.len() < SECTORS / 2 {
        return None;
    }
    known.sort_by(f32::total_cmp);
    let floor = known[known.len() / 2];
    let (dark_k, dark) = mean
        .iter()
        .enumerate()
        .filter(|(_, m)| m.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(k, m)| (k, *m))?;
    // A direction's mean holds the lit floor either side of a narrow shadow too: this only
    // points the way; the shadow is judged along its middle below.
    let contrast = 1.0 - dark / floor.max(1e-4);
    if contrast < MIN_SHADOW_CONTRAST / 3.0 {
        return None;
    }
    // The shadow's direction: the darkening-weighted mean of the darkest sector and its two
    // neighbours, so it is not snapped to 22.5° steps.
    let mut dir = Vec2::ZERO;
    for d in [-1i32, 0, 1] {
        let k = (dark_k as i32 + d).rem_euclid(SECTORS as i32) as usize;
        if mean[k].is_finite() {
            dir += sector_dir(k as f32) * (1.0 - mean[k] / floor).max(0.0);
        }
    }
    let dir = dir.normalize_or(Vec2::X);
    let k = sector_of(dir);
    // Darkening at `r` along that way: the darkest of five lines a few degrees apart, as a
    // shadow a body wide is narrow against the sector it was found in.
    let along = |r: f32| {
        [-0.4f32, -0.2, 0.0, 0.2, 0.4]
            .iter()
            .filter_map(|j| floor_along(photo, people, camera, st.stands, k + j, r))
            .map(|l| 1.0 - l / floor)
            .reduce(f32::max)
    };
    // Along its middle: how far it reaches (the farthest distance still half as dark as the
    // darkest direction's mean, out to 4 m) and how dark it is there (a direction's mean also
    // holds the lit floor either side of a narrow shadow).
    let inside: Vec<(f32, f32)> = (0..36)
        .map(|i| 0.45 + i as f32 * 0.1)
        .filter_map(|r| along(r).map(|c| (r, c)))
        .filter(|&(_, c)| c > contrast * 0.5)
        .collect();
    let reach = inside.last()?.0;
    let core = inside.iter().map(|&(_, c)| c).sum::<f32>() / inside.len() as f32;
    if core < MIN_SHADOW_CONTRAST || inside.len() < 3 {
        return None;
    }
    // The head's shadow is at the reach: its height over that distance is the light's.
    let elevation = (st.height / reach).atan().clamp(20f32.to_radians(), 75f32.to_radians());
    // Towards the light: against the shadow on the floor, then up.
    let flat = Vec3::new(-dir.x, 0.0, -dir.y);
    let from = flat * elevation.cos() + Vec3::Y * elevation.sin();
    // A clear sun's shadow is about two thirds darker than the lit floor: that is full
    // hardness (and what the shadow catcher draws for it).
    let strength = (core / 0.65).clamp(0.0, 1.0);
    let side = (from.x / elevation.cos().max(1e-3)).clamp(-1.0, 1.0);
    Some(Light { from: from.to_array(), side, strength, samples: 0, cue: "shadow" })
}

/// Fits the light to outline points (inside point, outward normal in photo axes, y down).
pub fn fit(photo: &RgbImage, outline: &[(Vec2, Vec2)]) -> Option<Light> {
    if outline.len() < MIN_SAMPLES {
        return None;
    }
    // Normal equations of I = a + b·nx + c·ny.
    let mut m = [[0.0f64; 3]; 3];
    let mut r = [0.0f64; 3];
    for &(p, n) in outline {
        let i = f64::from(luminance(photo, p));
        let row = [1.0, f64::from(n.x), f64::from(n.y)];
        for j in 0..3 {
            r[j] += row[j] * i;
            for k in 0..3 {
                m[j][k] += row[j] * row[k];
            }
        }
    }
    let [a, b, _c] = solve3(m, r)?;
    if a <= 1e-4 {
        return None;
    }
    // A Lambertian outline under a side light and a tenth of it as ambient fits b/a ≈ 0.9;
    // under light from all round, 0 (calibrated on the unit tests' ellipses).
    let q = (b / a) as f32;
    Some(Light::from_side(q / 0.6, q.abs() / 0.8, outline.len()))
}

/// Linear luminance around photo point `p` (a 3 × 3 mean).
fn luminance(photo: &RgbImage, p: Vec2) -> f32 {
    let (w, h) = photo.dimensions();
    let (cx, cy) = (p.x.round() as i64, p.y.round() as i64);
    let (mut sum, mut n) = (0.0, 0.0);
    for y in cy - 1..=cy + 1 {
        for x in cx - 1..=cx + 1 {
            if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
                continue;
            }
            let px = photo.get_pixel(x as u32, y as u32);
            let l = |c: u8| crate::composite::srgb_to_linear(c);
            sum += 0.2126 * l(px[0]) + 0.7152 * l(px[1]) + 0.0722 * l(px[2]);
            n += 1.0;
        }
    }
    if n > 0.0 { sum / n } else { 0.0 }
}

/// Solves a 3 × 3 system (Cramer's rule); `None` when it is singular (all normals one way).
fn solve3(m: [[f64; 3]; 3], r: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(m);
    if d.abs() < 1e-9 {
        return None;
    }
    let mut x = [0.0; 3];
    for (col, xc) in x.iter_mut().enumerate() {
        let mut mc = m;
        for row in 0..3 {
            mc[row][col] = r[row];
        }
        *xc = det(mc) / d;
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chosen_light_may_say_how_hard_it_is() {
        let parse = |s: &str| s.parse::<LightChoice>();
        assert_eq!(parse("left"), Ok(LightChoice::Left(LightChoice::CLEAR)));
        assert_eq!(parse("right:0.4"), Ok(LightChoice::Right(0.4)));
        // Written back as given, so the batch form passes it on to each photo unchanged.
        for s in ["left", "right", "left:0.4", "front", "soft", "auto"] {
            assert_eq!(parse(s).map(|c| c.to_string()).as_deref(), Ok(s));
        }
        for bad in ["left:2", "left:x", "front:0.5", "up"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(bad), "{bad}: {e}");
        }
    }

    /// An upright ellipsoid (a body's silhouette), Lambertian, lit from `l` over `ambient`,
    /// on a mid-grey ground; its outline as `Person::outline` gives it.
    fn ellipsoid(l: Vec3, ambient: f32, albedo: f32) -> (RgbImage, Vec<(Vec2, Vec2)>) {
        let (w, h, cx, cy, rx, ry) = (400u32, 600u32, 200.0f32, 300.0f32, 90.0f32, 240.0f32);
        let l = l.normalize();
        let shade = |x: f32, y: f32| -> Option<f32> {
            let (u, v) = ((x - cx) / rx, (y - cy) / ry);
            let r2 = u * u + v * v;
            (r2 < 1.0).then(|| {
                // Picture y is down; the normal's y is up.
                let n = Vec3::new(u / rx, -v / ry, (1.0 - r2).sqrt() / rx.min(ry)).normalize();
                ambient + albedo * n.dot(l).max(0.0)
            })
        };
        let img = RgbImage::from_fn(w, h, |x, y| {
            let v = shade(x as f32 + 0.5, y as f32 + 0.5).unwrap_or(0.2);
            let s = crate::composite::linear_to_srgb(v);
            image::Rgb([s, s, s])
        });
        let outline = (0..720)
            .map(|k| {
                let t = (k as f32 / 720.0) * std::f32::consts::TAU;
                let n = Vec2::new(t.cos() / rx, t.sin() / ry).normalize();
                (Vec2::new(cx + (rx - 3.0) * t.cos(), cy + (ry - 3.0) * t.sin()), n)
            })
            .collect::<Vec<_>>();
        (img, outline)
    }

    #[test]
    fn a_side_light_is_found_on_its_side_and_called_hard_and_an_even_light_soft() {
        // Tuning data: the thresholds in `fit` were set on these.
        let (img, outline) = ellipsoid(Vec3::new(-1.0, 0.6, 0.6), 0.08, 0.8);
        let left = fit(&img, &outline).unwrap();
        assert!(left.side < -0.7 && left.strength > 0.7, "{left:?}");
        assert!(left.from[0] < -0.5 && left.from[1] > 0.5, "{left:?}");

        let (img, outline) = ellipsoid(Vec3::new(1.0, 0.6, 0.3), 0.08, 0.8);
        let right = fit(&img, &outline).unwrap();
        assert!(right.side > 0.7 && right.strength > 0.7, "{right:?}");

        // Light from the camera: the outline is evenly lit, so there is no side and no hardness
        // to see (the shadow then falls straight behind).
        let (img, outline) = ellipsoid(Vec3::new(0.0, 0.0, 1.0), 0.4, 0.5);
        let front = fit(&img, &outline).unwrap();
        assert!(front.side.abs() < 0.15 && front.strength < 0.2, "{front:?}");
    }

    #[test]
    fn too_few_outline_points_say_nothing() {
        let (img, outline) = ellipsoid(Vec3::X, 0.1, 0.8);
        assert!(fit(&img, &outline[..10]).is_none());
        let camera = Camera { focal_35mm: 26.0, source: crate::camera::LensSource::Default, width: 400, height: 600 };
        assert_eq!(estimate(&img, &[], &camera).cue, "default");
    }
}
