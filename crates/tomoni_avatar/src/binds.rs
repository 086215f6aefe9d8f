//! Expressions' material binds, driven: colour binds (base, emission, shade, matcap, rim,
//! outline) and texture-transform binds, at the weight bevy_vrm1 gives each expression after
//! `isBinary` and the overrides ([`EffectiveExpressionWeight`], read after
//! [`VrmSystemSets::Expressions`]). bevy_vrm1 drives only morph targets.
//!
//! What is applied is a *delta* (see [`tomoni_vrm::binds`]): each mesh remembers what it added
//! last frame and moves by the difference, so the additive-glasses profile (which lifts the
//! same colours) and the binds compose instead of overwriting each other.

use crate::Companion;
use bevy::prelude::*;
use bevy_vrm1::prelude::{EffectiveExpressionWeight, ExpressionEntityMap, MToonMaterial, VrmExpression, VrmSystemSets};
use tomoni_vrm::binds::{ColorKind, ExpressionBinds};

/// The companion's material binds, from its file ([`tomoni_vrm::vrm_check::VrmInfo`]).
#[derive(Resource, Debug, Clone, Default)]
pub struct ExpressionMaterialBinds(pub Vec<ExpressionBinds>);

/// The glTF material a mesh was made with: bevy_vrm1 swaps the glTF's material for an MToon
/// one of its own per mesh, so the index is read off the original handle before that.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct GltfMaterial(pub usize);

/// What the binds have added to this mesh's material so far.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq)]
struct Applied {
    colors: [Vec4; 6],
    offset: Vec2,
    scale: Vec2,
}

/// Drives [`ExpressionMaterialBinds`].
pub struct MaterialBindsPlugin;

impl Plugin for MaterialBindsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ExpressionMaterialBinds>()
            .add_systems(PreUpdate, tag_bound_meshes)
            .add_systems(PostUpdate, apply_binds.after(VrmSystemSets::Expressions));
    }
}

fn slot(kind: ColorKind) -> usize {
    match kind {
        ColorKind::Color => 0,
        ColorKind::EmissionColor => 1,
        ColorKind::ShadeColor => 2,
        ColorKind::MatcapColor => 3,
        ColorKind::RimColor => 4,
        ColorKind::OutlineColor => 5,
    }
}

/// The glTF material index in a material handle's label (`Material3/std` → 3).
fn material_index(label: &str) -> Option<usize> {
    let rest = label.strip_prefix("Material")?;
    let digits = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// Meshes as the scene spawns them (before bevy_vrm1 replaces their glTF material in
/// `Update`): those whose material an expression binds get [`GltfMaterial`].
fn tag_bound_meshes(
    mut commands: Commands,
    binds: Res<ExpressionMaterialBinds>,
    added: Query<(Entity, &MeshMaterial3d<StandardMaterial>), Added<MeshMaterial3d<StandardMaterial>>>,
) {
    if binds.0.is_empty() {
        return;
    }
    for (entity, handle) in &added {
        let Some(index) = handle.0.path().and_then(|p| p.label()).and_then(material_index) else { continue };
        let bound = binds
            .0
            .iter()
            .any(|e| e.colors.iter().any(|c| c.material == index) || e.transforms.iter().any(|t| t.material == index));
        if bound {
            commands.entity(entity).insert((GltfMaterial(index), Applied::default()));
        }
    }
}

/// Each bound mesh's material moved to `initial + Σ weight · delta`, written only when that
/// changes (an unchanged material is not re-uploaded).
fn apply_binds(
    binds: Res<ExpressionMaterialBinds>,
    companions: Query<(Entity, &ExpressionEntityMap), With<Companion>>,
    weights: Query<&EffectiveExpressionWeight>,
    mut meshes: Query<(&GltfMaterial, &MeshMaterial3d<MToonMaterial>, &mut Applied)>,
    mut materials: ResMut<Assets<MToonMaterial>>,
    // Per companion, each bound expression's entity (looked up by name once).
    mut entities: Local<Option<(Entity, Vec<Option<Entity>>)>>,
) {
    let Ok((vrm, map)) = companions.single() else { return };
    if binds.0.is_empty() {
        return;
    }
    if entities.as_ref().is_none_or(|(e, _)| *e != vrm) {
        let found = binds.0.iter().map(|b| map.get(&VrmExpression(b.name.clone())).copied()).collect();
        *entities = Some((vrm, found));
    }
    let Some((_, ids)) = entities.as_ref() else { return };
    for (material, handle, mut applied) in &mut meshes {
        let mut want = Applied::default();
        for (b, id) in binds.0.iter().zip(ids) {
            let w = id.and_then(|e| weights.get(e).ok()).map_or(0.0, |w| w.0);
            if w == 0.0 {
                continue;
            }
            for c in b.colors.iter().filter(|c| c.material == material.0) {
                want.colors[slot(c.kind)] += Vec4::from_array(c.delta) * w;
            }
            for t in b.transforms.iter().filter(|t| t.material == material.0) {
                want.offset += Vec2::from_array(t.offset) * w;
                want.scale += Vec2::from_array(t.scale) * w;
            }
        }
        if want == *applied {
            continue;
        }
        let Some(mut m) = materials.get_mut(&handle.0) else { continue };
        let d = |i: usize| want.colors[i] - applied.colors[i];
        let add = |c: LinearRgba, v: Vec4, alpha: bool| {
            LinearRgba::new(c.red + v.x, c.green + v.y, c.blue + v.z, if alpha { c.alpha + v.w } else { c.alpha })
        };
        m.base_color = Color::LinearRgba(add(m.base_color.to_linear(), d(0), true));
        m.emissive = add(m.emissive, d(1), false);
        m.shade.color = add(m.shade.color, d(2), false);
        m.rim_lighting.mat_cap_color = add(m.rim_lighting.mat_cap_color, d(3), false);
        m.rim_lighting.color = add(m.rim_lighting.color, d(4), false);
        m.outline.color = add(m.outline.color, d(5), false);
        // glTF's texture transform: uv · scale + offset (no rotation in a bind).
        m.uv_transform.matrix2.x_axis.x += want.scale.x - applied.scale.x;
        m.uv_transform.matrix2.y_axis.y += want.scale.y - applied.scale.y;
        m.uv_transform.translation += want.offset - applied.offset;
        *applied = want;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_material_index_is_read_off_bevys_label() {
        assert_eq!(material_index("Material3/std"), Some(3));
        assert_eq!(material_index("Material12"), Some(12));
        assert_eq!(material_index("Mesh0/Primitive0"), None);
    }
}
