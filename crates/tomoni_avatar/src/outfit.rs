//! Outfits: what the companion wears, by name. An avatar lists its outfits as custom VRM
//! expressions named `outfit_<name>`; wearing one sets its expression to 1 and every other
//! outfit's to 0 (the shipped avatars fold the clothes not worn into the body by morph
//! targets, so any VRM viewer can switch them too). No outfit asked for: the file as it stands.

use crate::{AvatarReady, Companion};
use bevy::prelude::*;
use bevy_vrm1::prelude::{ExpressionEntityMap, ExpressionOverride};

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
        app.init_resource::<Outfit>().init_resource::<Wearing>().add_systems(Update, wear);
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
}
