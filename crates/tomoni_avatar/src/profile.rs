//! The additive-display profile: on optical see-through glasses light adds to the room and
//! black shows as nothing, so a dark shade colour or a black outline would be a hole in the
//! companion. In [`RenderProfile::Additive`] every MToon material gets its shade lifted toward
//! its base colour, its dark base colours raised, and no outline.

use bevy::prelude::*;
use bevy_vrm1::prelude::MToonMaterial;
use tomoni_core::RenderProfile;

/// Lowest channel value a colour keeps on additive displays (linear).
pub const ADDITIVE_FLOOR: f32 = 0.18;

/// Applies the profile to materials as they load (and to all of them when it changes).
pub fn apply_profile(
    profile: Res<RenderProfile>,
    mut events: MessageReader<AssetEvent<MToonMaterial>>,
    mut materials: ResMut<Assets<MToonMaterial>>,
    mut done: Local<Vec<AssetId<MToonMaterial>>>,
) {
    if *profile != RenderProfile::Additive {
        events.clear();
        return;
    }
    let fresh: Vec<AssetId<MToonMaterial>> = if profile.is_changed() {
        materials.ids().collect()
    } else {
        events.read().filter_map(|e| if let AssetEvent::Added { id } = e { Some(*id) } else { None }).collect()
    };
    for id in fresh {
        if done.contains(&id) {
            continue;
        }
        if let Some(mut m) = materials.get_mut(id) {
            lift_for_additive(&mut m);
            done.push(id);
        }
    }
}

/// The additive profile for one material.
pub fn lift_for_additive(m: &mut MToonMaterial) {
    let base = m.base_color.to_linear();
    let lift = |c: f32| ADDITIVE_FLOOR + c * (1.0 - ADDITIVE_FLOOR);
    let lifted = LinearRgba::new(lift(base.red), lift(base.green), lift(base.blue), base.alpha);
    m.base_color = lifted.into();
    // Shade halfway to the (lifted) base: form still reads, nothing drops toward black.
    let s = m.shade.color;
    m.shade.color = LinearRgba::new(
        (lift(s.red) + lifted.red) / 2.0,
        (lift(s.green) + lifted.green) / 2.0,
        (lift(s.blue) + lifted.blue) / 2.0,
        s.alpha,
    );
    m.outline.width_factor = 0.0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additive_lifts_darks_and_drops_outlines() {
        let mut m = MToonMaterial { base_color: Color::BLACK, ..default() };
        m.shade.color = LinearRgba::BLACK;
        m.outline.width_factor = 0.002;
        lift_for_additive(&mut m);
        let b = m.base_color.to_linear();
        assert!(b.red >= ADDITIVE_FLOOR - 1e-6 && b.green >= ADDITIVE_FLOOR - 1e-6);
        assert!(m.shade.color.red >= ADDITIVE_FLOOR - 1e-6);
        assert_eq!(m.outline.width_factor, 0.0);
        // Light colours stay light (and never exceed 1).
        let mut w = MToonMaterial { base_color: Color::WHITE, ..default() };
        lift_for_additive(&mut w);
        assert!((w.base_color.to_linear().red - 1.0).abs() < 1e-6);
    }
}
