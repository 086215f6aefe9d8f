//! Outfits: what the companion wears, by name. An avatar lists its outfits as custom VRM
//! expressions named `outfit_<name>`; wearing one sets its expression to 1 and every other
//! outfit's to 0 (the shipped avatars fold the clothes not worn into the body by morph
//! targets, so any VRM viewer can switch them too). No outfit asked for: the file as it stands.
//!
//! A folded garment is still drawn in every pass, only to be covered by the body. A primitive
//! whose glTF `extras` say `{"outfit": NAME}` is hidden while its outfit is folded away, as
//! read off the morph weights it is drawn with ([`OutfitPart`]); files without the tag draw
//! everything, as before.

use crate::{AvatarReady, Companion};
use bevy::camera::visibility::VisibilitySystems;
use bevy::gltf::{GltfExtras, GltfMeshExtras};
use bevy::mesh::morph::{MeshMorphWeights, MorphWeights};
use bevy::prelude::*;
use bevy_vrm1::prelude::{ExpressionEntityMap, ExpressionOverride, VrmSystemSets};

/// The expression-name prefix that marks an outfit.
pub const PREFIX: &str = "outfit_";

/// The outfit to wear (`None`: the avatar as its file stands). Set by the persona's `[avatar]
/// outfit`, the control plane's `outfit NAME` and a ceremony's `outfit` step.
#[derive(Resource, Debug, Clone, Default, PartialEq, Eq)]
pub struct Outfit(pub Option<String>);

/// What the companion wears now, as the avatar allows it (an outfit asked for that the avatar
/// lacks leaves on what it wore).
#[derive(Resource, Debug, Clone, Default, PartialEq, Eq)]
pub struct Wearing {
    /// The outfit on (`None`: the file as it stands).
    pub worn: Option<String>,
    /// The avatar's outfits, sorted.
    pub available: Vec<String>,
}

/// The outfits an avatar has, from its expression names.
pub fn outfits<'a>(expressions: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = expressions.filter_map(|e| e.strip_prefix(PREFIX).map(str::to_string)).collect();
    v.sort();
    v
}

/// `outfits` in words, for messages: "the outfits everyday, suit" or "no outfits".
pub fn listed(outfits: &[String]) -> String {
    if outfits.is_empty() { "no outfits".into() } else { format!("the outfits {}", outfits.join(", ")) }
}

/// Wears [`Outfit`] (add with the avatar plugin).
pub struct OutfitPlugin;

impl Plugin for OutfitPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Outfit>()
            .init_resource::<Wearing>()
            .add_systems(Update, wear)
            .add_systems(PreUpdate, tag_parts)
            // After bevy_vrm1 has written this frame's morph weights, before visibility is
            // worked out from `Visibility`: a part shows or hides in the frame its outfit
            // unfolds or folds, never a frame of body without clothes between.
            .add_systems(
                PostUpdate,
                show_worn_parts.after(VrmSystemSets::Expressions).before(VisibilitySystems::VisibilityPropagate),
            );
    }
}

/// A primitive the avatar's file marks as one outfit's (`extras: {"outfit": NAME}`), and where
/// its mesh's morph targets (`extras.targetNames`) fold and unfold it.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct OutfitPart {
    /// The outfit's own target (`outfit_<name>`), which unfolds it; `None`: the outfit worn at
    /// rest, which each other outfit's target folds away.
    own: Option<usize>,
    /// Every outfit target of its mesh.
    targets: Vec<usize>,
}

impl OutfitPart {
    /// From a primitive's glTF extras and its mesh's; `None` for a part of no outfit (or extras
    /// that are not JSON objects: a file's own extras are not tomoni's to reject).
    pub fn from_extras(primitive: &str, mesh: Option<&str>) -> Option<Self> {
        let tag: serde_json::Value = serde_json::from_str(primitive).ok()?;
        let name = tag.get("outfit")?.as_str()?;
        let names: Vec<String> = mesh
            .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
            .and_then(|m| serde_json::from_value(m.get("targetNames")?.clone()).ok())
            .unwrap_or_default();
        let own = format!("{PREFIX}{name}");
        Some(OutfitPart {
            own: names.iter().position(|n| *n == own),
            targets: names.iter().enumerate().filter(|(_, n)| n.starts_with(PREFIX)).map(|(i, _)| i).collect(),
        })
    }

    /// Whether the part is out of the body at these morph weights: its own target above 0, or,
    /// for the outfit worn at rest, the others' together short of folding it wholly (their
    /// weights sum to 1 when one is worn).
    pub fn shown(&self, weights: &[f32]) -> bool {
        let w = |i: usize| weights.get(i).copied().unwrap_or(0.0);
        match self.own {
            Some(i) => w(i) > 0.0,
            None => self.targets.iter().map(|&i| w(i)).sum::<f32>() < 1.0,
        }
    }
}

/// Primitives as the scene spawns them: those an outfit owns get [`OutfitPart`].
fn tag_parts(mut commands: Commands, added: Query<(Entity, &GltfExtras, Option<&GltfMeshExtras>), Added<GltfExtras>>) {
    for (entity, extras, mesh) in &added {
        if let Some(part) = OutfitPart::from_extras(&extras.value, mesh.map(|m| m.value.as_str())) {
            commands.entity(entity).insert(part);
        }
    }
}

/// Hides each outfit part that its morph weights fold into the body this frame; written only on
/// a change, and logged with how many parts of how many are drawn.
fn show_worn_parts(mut parts: Query<(&OutfitPart, &MeshMorphWeights, &mut Visibility)>, weights: Query<&MorphWeights>) {
    let (mut changed, mut drawn, mut all) = (false, 0, 0);
    for (part, mesh_weights, mut vis) in &mut parts {
        let w = match mesh_weights {
            MeshMorphWeights::Value { weights } => weights.as_slice(),
            MeshMorphWeights::Reference(e) => weights.get(*e).map_or(&[][..], |w| w.weights()),
        };
        let want = if part.shown(w) { Visibility::Inherited } else { Visibility::Hidden };
        if *vis != want {
            *vis = want;
            changed = true;
        }
        all += 1;
        drawn += usize::from(want == Visibility::Inherited);
    }
    if changed {
        info!("outfit parts drawn: {drawn} of {all} (the rest folded away, hidden)");
    }
}

/// Holds each outfit expression at 1 (worn) or 0: an override, so neither the face's life nor
/// a clip's expression track moves it.
fn wear(
    mut commands: Commands,
    outfit: Res<Outfit>,
    mut wearing: ResMut<Wearing>,
    companions: Query<Ref<ExpressionEntityMap>, (With<Companion>, With<AvatarReady>)>,
    mut overrides: Query<&mut ExpressionOverride>,
) {
    for map in &companions {
        if !outfit.is_changed() && !map.is_added() && !wearing.is_added() {
            continue;
        }
        let available = outfits(map.keys().map(|k| k.0.as_str()));
        let worn = match &outfit.0 {
            Some(o) if !available.contains(o) => {
                warn!("outfit {o:?}: this avatar has {}", listed(&available));
                wearing.worn.clone().filter(|w| available.contains(w))
            }
            asked => asked.clone(),
        };
        for (name, &e) in map.iter() {
            let Some(o) = name.0.strip_prefix(PREFIX) else { continue };
            let w = if worn.as_deref() == Some(o) { 1.0 } else { 0.0 };
            match overrides.get_mut(e) {
                Ok(mut x) => x.0 = w,
                Err(_) => {
                    commands.entity(e).insert(ExpressionOverride(w));
                }
            }
        }
        if worn != wearing.worn {
            info!("outfit: {}", worn.as_deref().unwrap_or("as the file stands"));
        }
        *wearing = Wearing { worn, available };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outfits_are_the_expressions_named_outfit() {
        let names = ["happy", "outfit_suit", "aa", "outfit_everyday", "outfit"];
        assert_eq!(outfits(names.into_iter()), vec!["everyday".to_string(), "suit".into()]);
        assert_eq!(listed(&outfits(names.into_iter())), "the outfits everyday, suit");
        assert_eq!(listed(&[]), "no outfits");
    }

    #[test]
    fn a_part_shows_only_while_its_outfit_is_unfolded() {
        let mesh = Some(r#"{"targetNames": ["outfit_everyday", "outfit_dress"]}"#);
        let suit = OutfitPart::from_extras(r#"{"outfit": "suit"}"#, mesh).unwrap();
        let dress = OutfitPart::from_extras(r#"{"outfit": "dress"}"#, mesh).unwrap();
        let everyday = OutfitPart::from_extras(r#"{"outfit": "everyday"}"#, mesh).unwrap();
        // As the file stands: the suit, worn at rest.
        assert!(suit.shown(&[0.0, 0.0]) && !dress.shown(&[0.0, 0.0]) && !everyday.shown(&[0.0, 0.0]));
        // The dress worn: the suit folded by its target, the everyday clothes still folded.
        assert!(!suit.shown(&[0.0, 1.0]) && dress.shown(&[0.0, 1.0]) && !everyday.shown(&[0.0, 1.0]));
        // Half way (a viewer fading them): both out of the body, both drawn.
        assert!(suit.shown(&[0.5, 0.0]) && everyday.shown(&[0.5, 0.0]));
        // Weights missing (a mesh with fewer targets than it names): nothing hidden by mistake
        // but what the file rests folded.
        assert!(suit.shown(&[]) && !dress.shown(&[]));
    }

    #[test]
    fn parts_of_no_outfit_and_foreign_extras_are_left_alone() {
        assert_eq!(OutfitPart::from_extras(r#"{"author": "someone"}"#, None), None);
        assert_eq!(OutfitPart::from_extras("not json", None), None);
        assert_eq!(OutfitPart::from_extras(r#"{"outfit": 3}"#, None), None);
        // An outfit with no target of its own is the one worn at rest: shown with no targets.
        let lone = OutfitPart::from_extras(r#"{"outfit": "suit"}"#, None).unwrap();
        assert!(lone.shown(&[]));
    }
}
