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
    let lifted = lift(base);
    m.base_color = lifted.into();
    // Shade halfway to the (lifted) base: form still reads, nothing drops toward black.
    let s = lift(m.shade.color);
    m.shade.color = LinearRgba::new(
        (s.red + lifted.red) / 2.0,
        (s.green + lifted.green) / 2.0,
        (s.blue + lifted.blue) / 2.0,
        m.shade.color.alpha,
    );
    m.outline.width_factor = 0.0;
}

/// Rec. 709 luminance of a linear colour.
fn luminance(c: LinearRgba) -> f32 {
    0.2126 * c.red + 0.7152 * c.green + 0.0722 * c.blue
}

/// A colour brought up to `ADDITIVE_FLOOR + Y·(1 − ADDITIVE_FLOOR)` of luminance by scaling it,
/// which keeps its hue and saturation: a navy suit stays blue. (Adding the floor to each channel,
/// as this did first, turned every dark colour grey: navy, burgundy and charcoal alike.) What
/// scaling cannot reach without a channel passing 1 is made up with white; black, which has no
/// hue, becomes the floor's grey.
fn lift(c: LinearRgba) -> LinearRgba {
    let y = luminance(c);
    let target = ADDITIVE_FLOOR + y * (1.0 - ADDITIVE_FLOOR);
    let scaled = if y > 1e-4 {
        let k = (target / y).min(1.0 / c.red.max(c.green).max(c.blue).max(1e-6));
        LinearRgba::new(c.red * k, c.green * k, c.blue * k, c.alpha)
    } else {
        LinearRgba::new(0.0, 0.0, 0.0, c.alpha)
    };
    // Whatever luminance scaling left short comes from white (luminance 1 a unit).
    let short = ((target - luminance(scaled)) / (1.0 - luminance(scaled)).max(1e-6)).clamp(0.0, 1.0);
    let mix = |x: f32| x + (1.0 - x) * short;
    LinearRgba::new(mix(scaled.red), mix(scaled.green), mix(scaled.blue), c.alpha)
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

    /// Saturation (max − min over max) of a colour.
    fn saturation(c: LinearRgba) -> f32 {
        let (hi, lo) = (c.red.max(c.green).max(c.blue), c.red.min(c.green).min(c.blue));
        (hi - lo) / hi.max(1e-6)
    }

    /// The default avatar's navy jacket and burgundy tie keep their hue and most of their
    /// saturation: a per-channel floor made them grey (navy's saturation fell from 0.73 to 0.15).
    #[test]
    fn additive_keeps_dark_colours_their_hue() {
        for srgb in [[0.13, 0.16, 0.26], [0.46, 0.12, 0.17], [0.23, 0.15, 0.11]] {
            let c = Color::srgb(srgb[0], srgb[1], srgb[2]).to_linear();
            let mut m = MToonMaterial { base_color: c.into(), ..default() };
            lift_for_additive(&mut m);
            let l = m.base_color.to_linear();
            assert!(luminance(l) >= ADDITIVE_FLOOR - 1e-4, "{srgb:?} → {l:?}");
            assert!(saturation(l) >= 0.8 * saturation(c), "{srgb:?}: saturation {} → {}", saturation(c), saturation(l));
            let order = |x: LinearRgba| {
                let mut v = [(x.red, 0), (x.green, 1), (x.blue, 2)];
                v.sort_by(|a, b| a.0.total_cmp(&b.0));
                v.map(|p| p.1)
            };
            assert_eq!(order(l), order(c), "{srgb:?}: the hue turned");
        }
    }
}
