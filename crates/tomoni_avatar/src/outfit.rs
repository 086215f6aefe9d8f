//! Outfits: what the companion wears, by name. An avatar lists its outfits as custom VRM
//! expressions named `outfit_<name>`; wearing one sets its expression to 1 and every other
//! outfit's to 0 (the shipped avatars fold the clothes not worn into the body by morph
//! targets, so any VRM viewer can switch them too). No outfit asked for: the file as it stands.
//!
//! A folded outfit still costs a draw per primitive in every pass (on a CPU renderer about a
//! twentieth of a photo), so a primitive whose glTF `extras` name its outfit
//! (`{"outfit": "everyday", "wornAsTheFileStands": false}`, as `cargo xtask avatar` writes) is
//! hidden while its outfit's morph is not applied: the same frame the morph changes, so a
//! switch never shows the body without either outfit.

use crate::{AvatarReady, Companion};
use bevy::camera::visibility::VisibilitySystems;
use bevy::gltf::GltfExtras;
use bevy::prelude::*;
use bevy_vrm1::prelude::{
    EffectiveExpressionWeight, ExpressionEntityMap, ExpressionOverride, VrmExpression, VrmSystemSets,
};

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
        app.init_resource::<Outfit>().init_resource::<Wearing>().add_systems(Update, wear).add_systems(
            PostUpdate,
            (tag_parts, show_worn_parts)
                .chain()
                .after(VrmSystemSets::Expressions)
                .before(VisibilitySystems::VisibilityPropagate),
        );
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

/// A primitive of one outfit, from its glTF `extras`.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct OutfitPart {
    /// The outfit it belongs to.
    pub outfit: String,
    /// Worn when no outfit's expression is on (the file as it stands).
    pub as_the_file_stands: bool,
    /// The companion it is part of.
    pub companion: Entity,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartExtras {
    outfit: String,
    #[serde(default)]
    worn_as_the_file_stands: bool,
}

/// Reads the outfit a new primitive belongs to (extras of any other shape: not a part).
fn tag_parts(
    mut commands: Commands,
    added: Query<(Entity, &GltfExtras), Added<GltfExtras>>,
    parents: Query<&ChildOf>,
    companions: Query<(), With<Companion>>,
) {
    for (e, extras) in &added {
        let Ok(x) = serde_json::from_str::<PartExtras>(&extras.value) else { continue };
        let Some(companion) = parents.iter_ancestors(e).find(|a| companions.contains(*a)) else { continue };
        commands.entity(e).insert(OutfitPart {
            outfit: x.outfit,
            as_the_file_stands: x.worn_as_the_file_stands,
            companion,
        });
    }
}

/// Hides the parts of outfits whose morph is off, from the weights the morphs were just given.
fn show_worn_parts(
    companions: Query<&ExpressionEntityMap, With<Companion>>,
    weights: Query<&EffectiveExpressionWeight>,
    mut parts: Query<(&OutfitPart, &mut Visibility)>,
) {
    for (part, mut vis) in &mut parts {
        let Ok(map) = companions.get(part.companion) else { continue };
        let on = |name: &str| {
            map.get(&VrmExpression(format!("{PREFIX}{name}"))).and_then(|&x| weights.get(x).ok()).map(|w| w.0 > 0.5)
        };
        // an outfit the file does not list as an expression is not ours to hide
        let Some(worn) = on(&part.outfit) else { continue };
        let none_on = !map.keys().any(|k| k.0.starts_with(PREFIX) && weights.get(map[k]).is_ok_and(|w| w.0 > 0.5));
        let shown = worn || (part.as_the_file_stands && none_on);
        vis.set_if_neq(if shown { Visibility::Inherited } else { Visibility::Hidden });
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

    /// The parts follow the outfits' effective weights; what the file does not tag, or tags
    /// with an outfit it does not list, stays as it is.
    #[test]
    fn the_parts_of_an_outfit_not_worn_are_hidden() {
        let mut app = App::new();
        app.add_systems(Update, (tag_parts, show_worn_parts).chain());
        let w = app.world_mut();
        let suit = w.spawn(EffectiveExpressionWeight(0.0)).id();
        let everyday = w.spawn(EffectiveExpressionWeight(0.0)).id();
        let map = [("outfit_suit", suit), ("outfit_everyday", everyday), ("happy", Entity::PLACEHOLDER)]
            .map(|(n, e)| (VrmExpression(n.into()), e));
        let companion = w.spawn((Companion, ExpressionEntityMap(map.into_iter().collect()))).id();
        let node = w.spawn(ChildOf(companion)).id();
        let part = |w: &mut World, extras: &str, parent: Entity| {
            w.spawn((GltfExtras { value: extras.into() }, Visibility::Inherited, ChildOf(parent))).id()
        };
        let jacket = part(w, r#"{"outfit":"suit","wornAsTheFileStands":true}"#, node);
        let jumper = part(w, r#"{"outfit":"everyday","wornAsTheFileStands":false}"#, node);
        let gown = part(w, r#"{"outfit":"gala"}"#, node);
        let other = part(w, r#"{"note":"not an outfit"}"#, node);
        let elsewhere = w.spawn(Visibility::Inherited).id();
        let stray = part(w, r#"{"outfit":"everyday"}"#, elsewhere);
        let shown = |app: &App, e: Entity| app.world().get::<Visibility>(e) == Some(&Visibility::Inherited);
        for (s, d, jacket_on, jumper_on) in
            [(0.0, 0.0, true, false), (0.0, 1.0, false, true), (1.0, 0.0, true, false), (0.0, 0.0, true, false)]
        {
            app.world_mut().get_mut::<EffectiveExpressionWeight>(suit).unwrap().0 = s;
            app.world_mut().get_mut::<EffectiveExpressionWeight>(everyday).unwrap().0 = d;
            app.update();
            assert_eq!((shown(&app, jacket), shown(&app, jumper)), (jacket_on, jumper_on), "suit {s}, everyday {d}");
            assert!(shown(&app, gown) && shown(&app, other) && shown(&app, stray));
        }
        assert_eq!(
            app.world().get::<OutfitPart>(jumper),
            Some(&OutfitPart { outfit: "everyday".into(), as_the_file_stands: false, companion })
        );
        assert!(app.world().get::<OutfitPart>(other).is_none() && app.world().get::<OutfitPart>(stray).is_none());
    }
}
