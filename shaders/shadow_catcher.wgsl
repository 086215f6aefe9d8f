// A shadow catcher: an invisible floor that shows only the shadows cast on it, so a rendered
// companion can be laid over a real photo and darken the real floor where its shadow falls.
// It draws black at the shadow's opacity: how much of each shadow-mapped directional light the
// floor does not see (Bevy's own cascaded shadow maps, sampled as its PBR lights sample them),
// times `strength.x`, fading with distance from the feet as a broad light's shadow does (its
// penumbra widens the further the floor is from what casts it; a sun's stays dark).
// Composited "over", alpha a multiplies what is under it by (1 - a).
// (The contact shadow right under the feet is the avatar's own `ContactShadow`, in every mode.)

#import bevy_pbr::{
    forward_io::VertexOutput,
    mesh_view_bindings::{view, lights},
    mesh_view_types::DIRECTIONAL_LIGHT_FLAGS_SHADOWS_ENABLED_BIT,
    shadows::fetch_directional_shadow,
}

struct ShadowCatcher {
    // x: a full shadow's opacity.
    strength: vec4<f32>,
    // xyz: the feet on the floor (world); w: how far the shadow reaches before it has faded
    // to 1/e, metres.
    origin: vec4<f32>,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> catcher: ShadowCatcher;

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let view_z = dot(vec4<f32>(
        view.view_from_world[0].z,
        view.view_from_world[1].z,
        view.view_from_world[2].z,
        view.view_from_world[3].z
    ), in.world_position);
    let normal = normalize(in.world_normal);

    // The darkest of the lights' shadows: a photo has one sun or key light to match.
    var seen = 1.0;
    for (var i: u32 = 0u; i < lights.n_directional_lights; i = i + 1u) {
        if ((lights.directional_lights[i].flags & DIRECTIONAL_LIGHT_FLAGS_SHADOWS_ENABLED_BIT) != 0u) {
            seen = min(seen, fetch_directional_shadow(i, in.world_position, normal, view_z, in.position.xy));
        }
    }
    let d = distance(in.world_position.xz, catcher.origin.xz) / max(catcher.origin.w, 1e-3);
    // Black: a shadow darkens the floor under it without tinting it.
    return vec4<f32>(0.0, 0.0, 0.0, (1.0 - seen) * catcher.strength.x * exp(-d * d));
}
