// A shadow catcher: an invisible floor that shows only the shadows falling on it, so a
// rendered companion can be laid over a real photo (or a passthrough view) and darken the real
// floor where it stands. It draws nothing but black at the shadow's opacity:
//
// - the cast shadow: how much of each shadow-mapped directional light the floor does not see
//   (Bevy's own cascaded shadow maps, as its PBR lights sample them), at `cast_strength`;
// - the contact shadow: the light the feet keep from the floor right under them (ambient
//   occlusion, which a shadow map cannot give), darkest at the feet and gone at
//   `contact_radius`.
//
// Composited "over", a pixel's alpha a multiplies what is under it by (1 - a).

#import bevy_pbr::{
    forward_io::VertexOutput,
    mesh_view_bindings::{view, lights},
    mesh_view_types::DIRECTIONAL_LIGHT_FLAGS_SHADOWS_ENABLED_BIT,
    shadows::fetch_directional_shadow,
}

struct ShadowCatcher {
    // The shadow's colour (linear; black darkens without tinting).
    color: vec4<f32>,
    // xyz: where the feet touch the floor (world); w: the contact shadow's radius, metres.
    contact: vec4<f32>,
    // x: a full cast shadow's opacity; y: the contact shadow's opacity at the feet.
    strength: vec4<f32>,
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
    let cast_shadow = (1.0 - seen) * catcher.strength.x;

    let d = distance(in.world_position.xz, catcher.contact.xz) / max(catcher.contact.w, 1e-3);
    let near = clamp(1.0 - d, 0.0, 1.0);
    let contact = catcher.strength.y * near * near;

    // Two occluders of the same floor: what gets past both.
    let a = 1.0 - (1.0 - cast_shadow) * (1.0 - contact);
    return vec4<f32>(catcher.color.rgb, a);
}
