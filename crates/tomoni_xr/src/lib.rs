//! Where the viewer is: the OpenXR session (bevy_mod_openxr) when glasses are present, else a
//! desktop first-person camera at eye height, else a headless camera rendering into an image.
//! Each of them publishes [`ViewerHead`] every frame and anchors the companion beside the viewer
//! once, on the first valid pose ([`CompanionAnchor`]).

pub mod desktop;
pub mod views;

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
