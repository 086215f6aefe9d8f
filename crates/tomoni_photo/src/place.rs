//! Where the companion stands in a photo: on the floor where its person's feet are, at their
//! depth, beside them, at its own height in that scene.
//!
//! The camera is taken as level (most photos of people are) at the origin, looking down −z.
//! The person's real height comes from the pose model's 3-D keypoints (metres); against their
//! height in pixels it gives pixels per metre at their depth, and so the depth itself
//! (`focal / pixels-per-metre`). The floor is the plane under their feet at that depth.

use crate::PhotoError;
use crate::camera::Camera;
use crate::people::{Person, kp};
use glam::Vec3;

/// Floor points (camera space) the companion's shadow can reach under a light from `from`
/// (towards the light, camera space): around its feet
/// and around the shadow of its head, half a metre each way (arms and the contact shadow). The
/// rendered box must hold them, or the shadow is cut at its edge.
pub fn shadow_floor(placement: &Placement, from: Vec3, height: f32) -> impl Iterator<Item = Vec3> + use<> {
    let feet = Vec3::from_array(placement.feet);
    // Along the light from the head down to the floor; a low light's shadow is cut at 2.5
    // heights (the catcher floor ends 6 m out anyway).
    let run = Vec3::new(-from.x, 0.0, -from.z) * (height / from.y.max(0.1));
    let tip = feet + run.clamp_length_max(height * 2.5);
    [feet, tip]
        .into_iter()
        .flat_map(|c| [Vec3::X, Vec3::NEG_X, Vec3::Z, Vec3::NEG_Z].map(|d| c + d * 0.5))
        // Only what is in front of the camera projects.
        .filter(|p| p.z < -0.05)
}

/// From the eyes to the top of the head, metres (an adult's, 11–12 cm): the pose model has no
/// keypoint on the crown.
pub const EYES_TO_CROWN: f32 = 0.115;

/// Clear floor between the person's shoulder and the companion's, metres.
pub const GAP: f32 = 0.12;

/// Which side of the person the companion takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Side {
    /// The side with more free floor and no one else in the way.
    Auto,
    /// Left in the picture.
    Left,
    /// Right in the picture.
    Right,
    /// A floor point, metres: `x` right of the camera, `z` in front of it (no person needed;
    /// the camera is then taken at [`DEFAULT_CAMERA_HEIGHT`]).
    At(f32, f32),
}

impl std::str::FromStr for Side {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Side::Auto),
            "left" => Ok(Side::Left),
            "right" => Ok(Side::Right),
            _ => {
                let (x, z) = s.split_once(',').ok_or_else(|| format!("{s:?}: expected auto, left, right or X,Z"))?;
                let num = |v: &str| v.trim().parse::<f32>().map_err(|_| format!("{s:?}: {v:?} is not a number"));
                let (x, z) = (num(x)?, num(z)?);
                if !(0.3..=50.0).contains(&z) || x.abs() > 50.0 {
                    return Err(format!("{s:?}: Z must be 0.3–50 m in front of the camera, X within ±50 m"));
                }
                Ok(Side::At(x, z))
            }
        }
    }
}

/// Camera height assumed when no one's feet are in the picture to tell it, metres (a photo
/// taken at chest height).
pub const DEFAULT_CAMERA_HEIGHT: f32 = 1.4;

/// Where the companion stands.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Placement {
    /// Where it stands (the middle of its feet) on the floor, camera space, metres.
    pub feet: [f32; 3],
    /// Which way it faces: turned this far (radians, about +y) from facing the camera, toward
    /// its person.
    pub yaw: f32,
    /// The person's height, metres (`None` with an explicit floor point).
    pub person_height: Option<f32>,
    /// Pixels per metre at the companion's depth.
    pub px_per_m: f32,
    /// Its feet in the picture, pixels.
    pub feet_px: [f32; 2],
    /// Its height in the picture, pixels.
    pub height_px: f32,
    /// The camera's height above the floor, metres.
    pub camera_height: f32,
}

/// A person's height, metres: floor to eyes (3-D keypoints) and the crown above the eyes.
pub fn person_height(p: &Person) -> f32 {
    let eyes = (p.world_at(kp::LEFT_EYE) + p.world_at(kp::RIGHT_EYE)) * 0.5;
    eyes.distance(p.feet_world()) + EYES_TO_CROWN
}

/// Where a person stands, read off the photo.
#[derive(Debug, Clone, Copy)]
pub struct Stance {
    /// The floor point under the middle of their feet, camera space, metres (so `-stands.y` is
    /// the camera's height above the floor).
    pub stands: Vec3,
    /// Pixels per metre at their depth.
    pub px_per_m: f32,
    /// Their height, metres.
    pub height: f32,
}

/// Where `p` stands, if their feet are seen: their real height from the 3-D pose against their
/// floor-to-eyes span in pixels gives pixels per metre, so their depth, so the floor point.
pub fn stance(camera: &Camera, p: &Person) -> Option<Stance> {
    let floor_px = p.feet()?;
    let k = &p.keypoints;
    let eyes_px = (k[kp::LEFT_EYE].at() + k[kp::RIGHT_EYE].at()) * 0.5;
    let height = person_height(p);
    // Floor to eyes: the same span in metres and in pixels.
    let px_per_m = floor_px.distance(eyes_px) / (height - EYES_TO_CROWN);
    let depth = camera.focal_px() / px_per_m;
    Some(Stance { stands: camera.ray(floor_px.x, floor_px.y) * depth, px_per_m, height })
}

/// Places a companion `height` metres tall beside `person` (or at an explicit floor point).
/// `others`: everyone else in the photo (the companion does not stand on them).
pub fn place(
    camera: &Camera,
    person: Option<&Person>,
    others: &[&Person],
    height: f32,
    side: Side,
) -> Result<Placement, PhotoError> {
    let f = camera.focal_px();
    if let Side::At(x, z) = side {
        let feet = Vec3::new(x, -DEFAULT_CAMERA_HEIGHT, -z);
        let feet_px = camera.project(feet);
        return Ok(Placement {
            feet: feet.into(),
            yaw: 0.0,
            person_height: None,
            px_per_m: f / z,
            feet_px: feet_px.into(),
            height_px: height * f / z,
            camera_height: DEFAULT_CAMERA_HEIGHT,
        });
    }
    let Some(p) = person else {
        return Err(PhotoError::Placement(
            "no person in the photo to stand beside: say where with --place X,Z (metres: right of the camera, in front of it)"
                .into(),
        ));
    };
    let Some(Stance { stands, px_per_m, height: real }) = stance(camera, p) else {
        return Err(PhotoError::Placement(
            "the person's feet are not in the photo, so the floor cannot be found: say where with --place X,Z".into(),
        ));
    };
    // Beside them: their half shoulder width, a gap, and the companion's own half width
    // (shoulders about a quarter of its height).
    let shoulders = p.world_at(kp::LEFT_SHOULDER).distance(p.world_at(kp::RIGHT_SHOULDER));
    let offset = shoulders * 0.5 + GAP + height * 0.13;
    let candidate = |dir: f32| stands + Vec3::X * dir * offset;
    let w = camera.width as f32;
    let score = |dir: f32| {
        let at = candidate(dir);
        let px = camera.project(at);
        let half_w = height * 0.15 * px_per_m;
        // Room in the frame, and no one else standing there.
        let room = if dir < 0.0 { px.x - half_w } else { w - (px.x + half_w) };
        let blocked = others.iter().any(|o| {
            let (lo, hi) = o.bounds();
            hi.x > px.x - half_w && lo.x < px.x + half_w
        });
        room - if blocked { 1e6 } else { 0.0 }
    };
    let dir = match side {
        Side::Left => -1.0,
        Side::Right => 1.0,
        _ => {
            if score(-1.0) > score(1.0) {
                -1.0
            } else {
                1.0
            }
        }
    };
    let feet = candidate(dir);
    let feet_px = camera.project(feet);
    Ok(Placement {
        feet: feet.into(),
        // A little toward its person (15°): together, still facing the camera.
        yaw: -dir * 15f32.to_radians(),
        person_height: Some(real),
        px_per_m,
        feet_px: feet_px.into(),
        height_px: height * px_per_m,
        camera_height: -stands.y,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_point_is_parsed_and_nonsense_refused() {
        assert_eq!("left".parse::<Side>(), Ok(Side::Left));
        assert_eq!("0.5, 3".parse::<Side>(), Ok(Side::At(0.5, 3.0)));
        assert!("3".parse::<Side>().unwrap_err().contains("X,Z"));
        assert!("0,0".parse::<Side>().unwrap_err().contains("0.3"));
        assert!("a,1".parse::<Side>().unwrap_err().contains("not a number"));
    }

    #[test]
    fn an_explicit_floor_point_lands_where_the_lens_puts_it() {
        let cam = Camera { focal_35mm: 26.0, source: crate::camera::LensSource::Default, width: 4000, height: 3000 };
        let p = place(&cam, None, &[], 1.6, Side::At(0.0, 3.0)).unwrap();
        // Straight ahead: the feet in the middle column, below the centre by f·h/z.
        let f = cam.focal_px();
        assert!((p.feet_px[0] - 2000.0).abs() < 1e-3);
        assert!((p.feet_px[1] - (1500.0 + f * DEFAULT_CAMERA_HEIGHT / 3.0)).abs() < 1e-2);
        assert!((p.height_px - 1.6 * f / 3.0).abs() < 1e-2);
        let e = place(&cam, None, &[], 1.6, Side::Auto).unwrap_err().to_string();
        assert!(e.contains("--place"), "{e}");
    }
}
