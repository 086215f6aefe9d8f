//! Life size and placement beside the viewer: plain math, unit-tested without an app.

use bevy::math::{Quat, Vec3};
use serde::Deserialize;

/// Where the companion stands relative to the viewer, in the viewer's yaw frame.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Placement {
    /// Metres to the viewer's right (negative: left).
    pub right: f32,
    /// Metres in front of the viewer (negative: behind).
    pub forward: f32,
    /// Turn the companion to face the viewer; otherwise it faces the viewer's forward.
    pub face_viewer: bool,
}

impl Default for Placement {
    fn default() -> Self {
        Self { right: 0.7, forward: 0.35, face_viewer: true }
    }
}

/// The viewer's head, reduced to what placement needs: position and heading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewerPose {
    /// Head position in world space (y is eye height above the floor at y = 0).
    pub position: Vec3,
    /// Heading in radians about +Y; 0 looks along -Z (Bevy's and OpenXR's forward).
    pub yaw: f32,
}

/// The companion's root pose: where its feet stand and which way it faces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RootPose {
    /// Feet position, on the floor (y = 0).
    pub translation: Vec3,
    /// Rotation about +Y; the VRM faces +Z at identity.
    pub rotation: Quat,
}

/// Places the companion beside the viewer: offset in the viewer's heading frame, feet on the
/// floor, turned toward the viewer. Pitch and roll of the head are ignored on purpose: looking
/// down at your phone must not move the companion.
pub fn companion_pose(viewer: &ViewerPose, placement: &Placement) -> RootPose {
    let heading = Quat::from_rotation_y(viewer.yaw);
    let right = heading * Vec3::X;
    let forward = heading * Vec3::NEG_Z;
    let mut at = viewer.position + right * placement.right + forward * placement.forward;
    at.y = 0.0;
    let rotation = if placement.face_viewer {
        let to_viewer = Vec3::new(viewer.position.x - at.x, 0.0, viewer.position.z - at.z);
        if to_viewer.length_squared() < 1e-8 {
            heading * Quat::from_rotation_y(std::f32::consts::PI)
        } else {
            // VRM faces +Z: rotate +Z onto the direction of the viewer.
            Quat::from_rotation_y(to_viewer.x.atan2(to_viewer.z))
        }
    } else {
        // Facing the same way as the viewer: +Z onto the viewer's forward.
        Quat::from_rotation_y(forward.x.atan2(forward.z))
    };
    RootPose { translation: at, rotation }
}

/// Heading (yaw about +Y) of a rotation, the way `companion_pose` expects it.
pub fn yaw_of(rotation: Quat) -> f32 {
    let f = rotation * Vec3::NEG_Z;
    (-f.x).atan2(-f.z)
}

/// Uniform scale that makes a model of `model_height` metres stand `target_height` tall.
/// Returns 1.0 for degenerate input rather than a NaN that would blank the render.
pub fn life_size_scale(model_height: f32, target_height: f32) -> f32 {
    if model_height.is_finite() && model_height > 0.05 && target_height.is_finite() && target_height > 0.0 {
        target_height / model_height
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::{FRAC_PI_2, PI};

    fn viewer(yaw: f32) -> ViewerPose {
        ViewerPose { position: Vec3::new(1.0, 1.6, 2.0), yaw }
    }

    fn close(a: Vec3, b: Vec3) -> bool {
        (a - b).length() < 1e-4
    }

    #[test]
    fn default_stands_to_the_right_and_slightly_ahead_on_the_floor() {
        let p = companion_pose(&viewer(0.0), &Placement::default());
        assert!(close(p.translation, Vec3::new(1.7, 0.0, 2.0 - 0.35)));
    }

    #[test]
    fn turns_with_the_viewers_heading() {
        // Yaw +90° turns the viewer to look along -X; their right is then -Z.
        let p = companion_pose(&viewer(FRAC_PI_2), &Placement { right: 1.0, forward: 0.0, face_viewer: true });
        assert!(close(p.translation, Vec3::new(1.0, 0.0, 1.0)), "{:?}", p.translation);
    }

    #[test]
    fn faces_the_viewer() {
        let v = viewer(0.3);
        let p = companion_pose(&v, &Placement::default());
        let facing = p.rotation * Vec3::Z;
        let to_viewer = (v.position - p.translation).with_y(0.0).normalize();
        assert!(facing.dot(to_viewer) > 0.9999, "{facing:?} vs {to_viewer:?}");
    }

    #[test]
    fn without_face_viewer_it_looks_where_the_viewer_looks() {
        let p = companion_pose(&viewer(0.0), &Placement { face_viewer: false, ..Placement::default() });
        assert!(close(p.rotation * Vec3::Z, Vec3::NEG_Z));
    }

    #[test]
    fn head_pitch_does_not_move_the_companion_and_yaw_round_trips() {
        for yaw in [-3.0, -1.0, 0.0, 0.5, 2.0, PI - 0.01] {
            let r = Quat::from_rotation_y(yaw) * Quat::from_rotation_x(-0.7);
            assert!((yaw_of(r) - yaw).abs() < 1e-4, "{yaw} -> {}", yaw_of(r));
        }
    }

    #[test]
    fn life_size_scale_is_ratio_and_safe() {
        assert!((life_size_scale(1.668, 1.75) - 1.75 / 1.668).abs() < 1e-6);
        assert_eq!(life_size_scale(0.0, 1.7), 1.0);
        assert_eq!(life_size_scale(f32::NAN, 1.7), 1.0);
        assert_eq!(life_size_scale(1.7, -1.0), 1.0);
    }
}
