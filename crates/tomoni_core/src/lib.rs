//! The shared vocabulary of tomoni.
//!
//! Every feature crate (persona, voice, avatar, xr) talks to the others through the types here,
//! never directly: dialogue and speech events, expression and viseme weights, the app mode,
//! the `TomoniSystems` set order, life-size placement math and the companion config.
//!
//! ```
//! use tomoni_core::placement::{Placement, ViewerPose, companion_pose};
//! let viewer = ViewerPose { position: bevy::math::Vec3::new(0.0, 1.6, 0.0), yaw: 0.0 };
//! let pose = companion_pose(&viewer, &Placement::default());
//! assert!(pose.translation.x > 0.0); // to the viewer's right
//! assert_eq!(pose.translation.y, 0.0); // feet on the floor
//! ```

pub mod behaviour;
pub mod config;
pub mod placement;

use bevy::prelude::*;

/// How the app presents the companion. Chosen once at start-up by the binary.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppMode {
    /// An OpenXR session renders to glasses or a headset.
    Xr,
    /// A desktop window with a first-person camera at the viewer's eye height.
    Desktop,
    /// No window: frames render into images (tests, CI, the headless demo).
    Headless,
}

/// The order of tomoni's per-frame work, chained once by the binary.
///
/// Input arrives first, the dialogue bridge drains its channels, behaviour decides what the
/// avatar does, pose writes bone transforms before Bevy's transform propagation.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TomoniSystems {
    /// Keyboard, mouse, controllers, XR poses.
    Input,
    /// Non-blocking hand-off from the dialogue and speech threads.
    Dialogue,
    /// Expressions, gaze, gestures, idle life.
    Behaviour,
    /// Writing bone rotations and expression weights.
    Pose,
}

/// Where the viewer's head is this frame (world space). In XR it is the predicted head pose;
/// on the desktop, the camera. The avatar's gaze and placement use it.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct ViewerHead {
    /// World transform of the viewer's eyes (midpoint) at the frame's predicted display time.
    pub transform: Transform,
    /// False until a valid pose has been seen (XR runtimes report none before tracking starts).
    pub valid: bool,
}

/// Where the companion stands in the world (feet and heading). Set by whoever knows the viewer:
/// the XR anchoring on the first tracked frame, the desktop camera at start-up, or the headless
/// renderer. `None` until then: the avatar stays hidden rather than appearing in the wrong place.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct CompanionAnchor(pub Option<placement::RootPose>);

/// How the companion is drawn for the display in use.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RenderProfile {
    /// Opaque and video-passthrough displays: the avatar as authored.
    #[default]
    Standard,
    /// Optical see-through (additive) displays, where black is invisible and dark tones fade:
    /// dark tones are lifted and black outlines dropped.
    Additive,
}

/// Whether the controller's talk button (the grip) is held: push-to-talk in glasses, where
/// there is no keyboard for the desktop's Space (`[listen] push_to_talk`).
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TalkButton(pub bool);

/// True when the real world shows through the display (AR: passthrough or optical see-through):
/// the clear colour becomes transparent and the virtual floor goes away.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeeThrough(pub bool);
