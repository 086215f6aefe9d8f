//! Where the eyes look: the entity bevy_vrm1's bone look-at aims them at, and the angles a
//! playing clip's look-at track gives (shared by `life`, which aims at the viewer, and `clips`,
//! which aims where a clip says).

use bevy::prelude::*;

/// Where a playing clip's look-at track aims the eyes (yaw toward the avatar's left, pitch
/// down, radians, from the head), in place of the viewer: read by the expression look-at
/// (bevy_vrm1's bone look-at follows the [`GazeTarget`], which the clip moves too).
#[derive(Resource, Debug, Default)]
pub struct ClipGaze(pub Option<Vec2>);

/// The entity the eyes look at (the viewer's head plus saccades); bevy_vrm1's look-at aims the
/// eye bones at it.
#[derive(Component, Debug)]
pub struct GazeTarget;
