//! Fixed camera views of the companion for headless renders (`tomoni render --view`).
//! Plain math from the anchor and the avatar's height, so tests can predict every pixel row.

use bevy::math::{Quat, Vec3};
use tomoni_core::placement::RootPose;

/// Which picture to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Full-body portrait, straight in front of the companion.
    Front,
    /// Full-body profile from the companion's left.
    Side,
    /// From the viewer's eyes, turned toward the companion (pitch level): what you see when you
    /// look at it.
    Eye,
    /// Head and shoulders, straight in front (expressions).
    Face,
    /// Head to hips, straight in front (what the companion wears: a ceremony photo's framing).
    Bust,
    /// The shoes close up, from the companion's front left and a little above (heel, sole and
    /// toe in one picture).
    Feet,
    /// The left hand close up, from in front, to the left and a little below: the back of the
    /// hand and the fingernails, which face down and forward as the fingers curl.
    Hand,
}

impl std::str::FromStr for View {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "front" => Ok(View::Front),
            "side" => Ok(View::Side),
            "eye" => Ok(View::Eye),
            "face" => Ok(View::Face),
            "bust" => Ok(View::Bust),
            "feet" => Ok(View::Feet),
            "hand" => Ok(View::Hand),
            _ => Err(format!("unknown view {s:?}: expected front, side, eye, face, bust, feet or hand")),
        }
    }
}

/// A camera placement: position, orientation and vertical field of view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewCamera {
    /// Camera position.
    pub position: Vec3,
    /// Camera orientation (Bevy: looks along local -Z).
    pub rotation: Quat,
    /// Vertical field of view, radians.
    pub fov_y: f32,
}

/// Vertical FOV of the portrait views; narrow like a portrait lens.
pub const PORTRAIT_FOV_DEG: f32 = 30.0;
/// Vertical FOV of the eye view, about a headset's.
pub const EYE_FOV_DEG: f32 = 90.0;

/// Camera for `view` of a companion standing at `anchor`, `height` tall, seen by a viewer
/// whose eyes are at `viewer_eye`.
pub fn view_camera(view: View, anchor: &RootPose, height: f32, viewer_eye: Vec3) -> ViewCamera {
    let facing = anchor.rotation * Vec3::Z; // the companion's forward
    let left = anchor.rotation * Vec3::X; // VRM +X is the character's left
    let fov = PORTRAIT_FOV_DEG.to_radians();
    // Distance at which 115 % of the height fills the frame.
    let full = (height * 1.15 / 2.0) / (fov / 2.0).tan();
    let look =
        |position: Vec3, target: Vec3, fov_y: f32| ViewCamera { position, rotation: looking(position, target), fov_y };
    let mid = anchor.translation + Vec3::Y * height * 0.5;
    match view {
        View::Front => look(mid + facing * full, mid, fov),
        View::Side => look(mid + left * full, mid, fov),
        View::Face => {
            let head = anchor.translation + Vec3::Y * height * 0.92;
            look(head + facing * 0.85, head, fov)
        }
        View::Bust => {
            // Half the height fills the frame, centred between the crown and the hips.
            let chest = anchor.translation + Vec3::Y * height * 0.76;
            look(chest + facing * (height * 0.5 / 2.0) / (fov / 2.0).tan(), chest, fov)
        }
        View::Feet => {
            let ankles = anchor.translation + Vec3::Y * 0.06;
            let from = (facing * 0.5 + left).normalize() * 1.2 + Vec3::Y * 0.3;
            look(ankles + from, ankles, fov)
        }
        View::Hand => {
            // Where the standing pose hangs the left hand (wrist to fingertips), in proportion
            // to the height: 0.16 of it out to the left, 0.10 in front, 0.50 up.
            let hand = anchor.translation + (left * 0.16 + facing * 0.10 + Vec3::Y * 0.50) * height;
            let from = (left * 0.6 + facing - Vec3::Y * 0.3).normalize() * 0.55;
            look(hand + from, hand, fov)
        }
        View::Eye => {
            let target = Vec3::new(anchor.translation.x, viewer_eye.y, anchor.translation.z);
            look(viewer_eye, target, EYE_FOV_DEG.to_radians())
        }
    }
}

fn looking(from: Vec3, to: Vec3) -> Quat {
    let fwd = (to - from).normalize();
    let right = fwd.cross(Vec3::Y).normalize();
    let up = right.cross(fwd);
    Quat::from_mat3(&bevy::math::Mat3::from_cols(right, up, -fwd))
}

/// Pixel row of a world point in a `h`-pixel-high image taken by `cam` (pinhole model).
pub fn pixel_row(cam: &ViewCamera, point: Vec3, h: u32) -> f32 {
    let p = cam.rotation.inverse() * (point - cam.position);
    let f = (h as f32 / 2.0) / (cam.fov_y / 2.0).tan();
    h as f32 / 2.0 - f * p.y / -p.z
}

/// Pixel column of a world point in an image `w`×`h` taken by `cam`.
pub fn pixel_col(cam: &ViewCamera, point: Vec3, w: u32, h: u32) -> f32 {
    let p = cam.rotation.inverse() * (point - cam.position);
    let f = (h as f32 / 2.0) / (cam.fov_y / 2.0).tan();
    w as f32 / 2.0 + f * p.x / -p.z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bust_view_frames_the_crown_to_the_hips() {
        let anchor = RootPose { translation: Vec3::new(0.7, 0.0, -0.35), rotation: Quat::from_rotation_y(2.0) };
        let cam = view_camera(View::Bust, &anchor, 1.7, Vec3::new(0.0, 1.6, 0.0));
        // The crown is in the picture, near its top; the hips' height
        // (0.52 of the height) near its bottom.
        let top = pixel_row(&cam, anchor.translation + Vec3::Y * 1.7, 1000);
        let hips = pixel_row(&cam, anchor.translation + Vec3::Y * 1.7 * 0.52, 1000);
        assert!((0.0..100.0).contains(&top), "{top}");
        assert!((900.0..1000.0).contains(&hips), "{hips}");
    }

    #[test]
    fn front_view_frames_the_whole_body_centred() {
        let anchor = RootPose { translation: Vec3::new(0.7, 0.0, -0.35), rotation: Quat::from_rotation_y(2.0) };
        let cam = view_camera(View::Front, &anchor, 1.7, Vec3::new(0.0, 1.6, 0.0));
        let top = pixel_row(&cam, anchor.translation + Vec3::Y * 1.7, 1000);
        let feet = pixel_row(&cam, anchor.translation, 1000);
        assert!((feet - top - 1000.0 / 1.15).abs() < 1.0, "{top} {feet}");
        assert!((pixel_col(&cam, anchor.translation, 800, 1000) - 400.0).abs() < 0.5);
    }

    #[test]
    fn hand_view_looks_up_at_the_left_hand_from_in_front() {
        let anchor = RootPose { translation: Vec3::new(0.7, 0.0, -0.35), rotation: Quat::from_rotation_y(2.0) };
        let cam = view_camera(View::Hand, &anchor, 1.7, Vec3::new(0.0, 1.6, 0.0));
        let hand = anchor.translation + anchor.rotation * Vec3::new(0.16, 0.50, 0.10) * 1.7;
        assert!((pixel_row(&cam, hand, 800) - 400.0).abs() < 0.01);
        assert!((pixel_col(&cam, hand, 800, 800) - 400.0).abs() < 0.01);
        // in front, to the companion's left, and below the hand: where its curled nails face
        let from = anchor.rotation.inverse() * (cam.position - hand);
        assert!(from.z > 0.4 && from.x > 0.2 && from.y < -0.1, "{from}");
    }

    #[test]
    fn eye_view_looks_level_at_the_companion() {
        let anchor = RootPose { translation: Vec3::new(0.7, 0.0, -0.35), rotation: Quat::IDENTITY };
        let eye = Vec3::new(0.0, 1.6, 0.0);
        let cam = view_camera(View::Eye, &anchor, 1.7, eye);
        assert!((pixel_row(&cam, Vec3::new(0.7, 1.6, -0.35), 600) - 300.0).abs() < 1e-3);
        assert!((pixel_col(&cam, Vec3::new(0.7, 1.0, -0.35), 600, 600) - 300.0).abs() < 1e-3);
    }
}
