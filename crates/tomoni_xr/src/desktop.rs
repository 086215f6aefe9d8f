//! Desktop mode: a first-person camera at the viewer's eye height. Drag with the right mouse
//! button or use the arrow keys to look around; WASD to step; R re-places the companion.

use crate::Recenter;
use bevy::input::mouse::AccumulatedMouseMotion;
use bevy::prelude::*;
use tomoni_core::{TomoniSystems, ViewerHead};

/// Heading and pitch of the desktop viewer.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct FirstPersonLook {
    /// Radians about +Y (0 looks along -Z).
    pub yaw: f32,
    /// Radians about the camera's X axis, clamped to ±80°.
    pub pitch: f32,
}

/// Spawns the desktop camera and drives it from mouse and keyboard.
pub struct DesktopCameraPlugin {
    /// Eye height above the floor, metres.
    pub eye_height: f32,
}

impl Plugin for DesktopCameraPlugin {
    fn build(&self, app: &mut App) {
        let eye = self.eye_height;
        app.add_systems(Startup, move |mut commands: Commands| {
            commands.spawn((
                Name::new("viewer camera"),
                Camera3d::default(),
                Projection::Perspective(PerspectiveProjection { fov: 60f32.to_radians(), near: 0.05, ..default() }),
                Transform::from_xyz(0.0, eye, 0.0),
                FirstPersonLook::default(),
            ));
        })
        .add_systems(Update, (look_around, publish_head).chain().in_set(TomoniSystems::Input))
        .add_systems(Update, face_the_companion.after(TomoniSystems::Input));
    }
}

fn look_around(
    time: Res<Time>,
    keys: Res<ButtonInput<KeyCode>>,
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    mut recenter: MessageWriter<Recenter>,
    mut cams: Query<(&mut FirstPersonLook, &mut Transform)>,
    typing: Option<Res<tomoni_core::behaviour::TextEntry>>,
) {
    if typing.is_some_and(|t| t.0) {
        return; // the keys are words now
    }
    let dt = time.delta_secs();
    for (mut look, mut tf) in &mut cams {
        if buttons.pressed(MouseButton::Right) {
            look.yaw -= motion.delta.x * 0.004;
            look.pitch -= motion.delta.y * 0.004;
        }
        let turn = 1.6 * dt;
        if keys.pressed(KeyCode::ArrowLeft) {
            look.yaw += turn;
        }
        if keys.pressed(KeyCode::ArrowRight) {
            look.yaw -= turn;
        }
        if keys.pressed(KeyCode::ArrowUp) {
            look.pitch += turn;
        }
        if keys.pressed(KeyCode::ArrowDown) {
            look.pitch -= turn;
        }
        look.pitch = look.pitch.clamp(-1.4, 1.4);
        tf.rotation = Quat::from_rotation_y(look.yaw) * Quat::from_rotation_x(look.pitch);
        let heading = Quat::from_rotation_y(look.yaw);
        let mut step = Vec3::ZERO;
        if keys.pressed(KeyCode::KeyW) {
            step += heading * Vec3::NEG_Z;
        }
        if keys.pressed(KeyCode::KeyS) {
            step += heading * Vec3::Z;
        }
        if keys.pressed(KeyCode::KeyA) {
            step += heading * Vec3::NEG_X;
        }
        if keys.pressed(KeyCode::KeyD) {
            step += heading * Vec3::X;
        }
        tf.translation += step.normalize_or_zero() * 1.2 * dt;
        if keys.just_pressed(KeyCode::KeyR) {
            recenter.write(Recenter);
        }
    }
}

/// On a screen the companion would stand beside the viewer, outside the view: whenever it is
/// placed (at start and on R), the camera turns to it, looking slightly down at its face.
/// (In glasses it stays beside you; this is the desktop spectator only.)
fn face_the_companion(
    anchor: Res<tomoni_core::CompanionAnchor>,
    mut cams: Query<(&mut FirstPersonLook, &mut Transform)>,
) {
    if !anchor.is_changed() {
        return;
    }
    let Some(a) = anchor.0 else { return };
    for (mut look, mut tf) in &mut cams {
        if let Some((yaw, pitch)) = look_at(tf.translation, a.translation + Vec3::Y * 1.45) {
            look.yaw = yaw;
            look.pitch = pitch;
            tf.rotation = Quat::from_rotation_y(yaw) * Quat::from_rotation_x(pitch);
        }
    }
}

/// Yaw and pitch that look from `from` at `to` (0 yaw looks along -Z); `None` if they coincide.
pub fn look_at(from: Vec3, to: Vec3) -> Option<(f32, f32)> {
    let d = to - from;
    let flat = Vec2::new(d.x, d.z).length();
    if !d.is_finite() || d.length() < 1e-4 {
        return None;
    }
    Some(((-d.x).atan2(-d.z), d.y.atan2(flat)))
}

fn publish_head(
    cams: Query<&Transform, With<FirstPersonLook>>,
    xr_eyes: Query<(), With<bevy_mod_xr::camera::XrCamera>>,
    mut head: ResMut<ViewerHead>,
) {
    // While an XR session renders, the headset is the viewer, not this spectator camera.
    if !xr_eyes.is_empty() {
        return;
    }
    if let Ok(tf) = cams.single() {
        head.transform = *tf;
        head.valid = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looking_at_a_point_turns_toward_it() {
        let (yaw, pitch) = look_at(Vec3::new(0.0, 1.6, 0.0), Vec3::new(0.0, 1.6, -2.0)).unwrap();
        assert!(yaw.abs() < 1e-6 && pitch.abs() < 1e-6);
        // The default place: 0.7 m right, 0.35 m ahead; face height below the eyes.
        let (yaw, pitch) = look_at(Vec3::new(0.0, 1.6, 0.0), Vec3::new(0.7, 1.45, -0.35)).unwrap();
        let dir = Quat::from_rotation_y(yaw) * Quat::from_rotation_x(pitch) * Vec3::NEG_Z;
        let want = Vec3::new(0.7, -0.15, -0.35).normalize();
        assert!(dir.distance(want) < 1e-5, "{dir} vs {want}");
    }
}
