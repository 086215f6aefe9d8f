//! Where the viewer is: the OpenXR session (bevy_mod_openxr) when glasses are present, else a
//! desktop first-person camera at eye height, else a headless camera rendering into an image.
//! Each of them publishes [`ViewerHead`] every frame and anchors the companion beside the viewer
//! once, on the first valid pose ([`CompanionAnchor`]).

pub mod desktop;
pub mod views;
pub mod xr;

pub use desktop::{DesktopCameraPlugin, FirstPersonLook};

use bevy::prelude::*;
use tomoni_core::placement::{Placement, ViewerPose, companion_pose, yaw_of};
use tomoni_core::{CompanionAnchor, ViewerHead};

/// Sent to re-place the companion beside the viewer where they are now looking.
#[derive(Message, Debug, Clone, Copy, Default)]
pub struct Recenter;

/// Placement settings in effect.
#[derive(Resource, Debug, Clone, Copy, Default)]
pub struct PlacementSettings(pub Placement);

/// Anchors the companion on the first valid head pose, and again on every [`Recenter`].
pub fn anchor_beside_viewer(
    head: Res<ViewerHead>,
    placement: Res<PlacementSettings>,
    mut anchor: ResMut<CompanionAnchor>,
    mut recenter: MessageReader<Recenter>,
) {
    let asked = recenter.read().count() > 0;
    if !head.valid || (anchor.0.is_some() && !asked) {
        return;
    }
    let viewer = ViewerPose { position: head.transform.translation, yaw: yaw_of(head.transform.rotation) };
    anchor.0 = Some(companion_pose(&viewer, &placement.0));
}

/// Shared pieces every viewer mode needs.
pub struct ViewerCorePlugin {
    /// Placement beside the viewer.
    pub placement: Placement,
}

impl Plugin for ViewerCorePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(PlacementSettings(self.placement))
            .init_resource::<ViewerHead>()
            .init_resource::<CompanionAnchor>()
            .add_message::<Recenter>()
            .add_systems(Update, anchor_beside_viewer.in_set(tomoni_core::TomoniSystems::Input));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tomoni_core::placement::RootPose;

    fn app() -> App {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins).add_plugins(ViewerCorePlugin { placement: Placement::default() });
        app
    }

    fn anchor(app: &App) -> Option<RootPose> {
        app.world().resource::<CompanionAnchor>().0
    }

    #[test]
    fn anchors_once_on_the_first_valid_head_pose_and_stays_world_locked() {
        let mut app = app();
        app.update();
        assert_eq!(anchor(&app), None, "no head pose yet: no anchor");
        let head = Transform::from_xyz(0.0, 1.6, 0.0);
        *app.world_mut().resource_mut::<ViewerHead>() = ViewerHead { transform: head, valid: true };
        app.update();
        let first = anchor(&app).expect("anchored");
        assert!((first.translation - Vec3::new(0.7, 0.0, -0.35)).length() < 1e-5);
        // The viewer walks and turns: the companion stays where it was (world-locked).
        app.world_mut().resource_mut::<ViewerHead>().transform =
            Transform::from_xyz(2.0, 1.6, 1.0).with_rotation(Quat::from_rotation_y(1.0));
        app.update();
        assert_eq!(anchor(&app), Some(first));
    }

    #[test]
    fn recenter_replaces_it_beside_the_viewer_where_they_are_now() {
        let mut app = app();
        *app.world_mut().resource_mut::<ViewerHead>() =
            ViewerHead { transform: Transform::from_xyz(0.0, 1.6, 0.0), valid: true };
        app.update();
        let turned = Transform::from_xyz(3.0, 1.6, 0.0).with_rotation(Quat::from_rotation_y(std::f32::consts::PI));
        app.world_mut().resource_mut::<ViewerHead>().transform = turned;
        app.world_mut().write_message(Recenter);
        app.update();
        let a = anchor(&app).unwrap();
        // Facing +Z after a half turn, the viewer's right is -X and forward is +Z.
        assert!((a.translation - Vec3::new(3.0 - 0.7, 0.0, 0.35)).length() < 1e-4, "{:?}", a.translation);
    }
}
