// A shadow catcher: an invisible floor that shows only the shadows cast on it, so a rendered
// companion can be laid over a real photo and darken the real floor where its shadow falls.
// It draws black at the shadow's opacity: how much of each shadow-mapped directional light the
// floor does not see (Bevy's own cascaded shadow map, sampled over the light's penumbra: a
// light of angular size `strength.y` blurs the shadow's edge more the further the floor is
// from what casts it), times `strength.x`, fading with distance from the feet as a broad
// light's shadow does (a sun's stays dark).
// Composited "over", alpha a multiplies what is under it by (1 - a).
// (The contact shadow right under the feet is the avatar's own `ContactShadow`, in every mode.)

#import bevy_pbr::{
    forward_io::VertexOutput,
    mesh_view_bindings::{view, lights},
    mesh_view_types::DIRECTIONAL_LIGHT_FLAGS_SHADOWS_ENABLED_BIT,
    shadows::{get_cascade_index, world_to_directional_light_local},
    shadow_sampling::sample_shadow_map_hardware,
    utils::interleaved_gradient_noise,
}

struct ShadowCatcher {
    // x: a full shadow's opacity; y: the light's angular size, radians (its penumbra).
    strength: vec4<f32>,
    // xyz: the feet on the floor (world); w: how far the shadow reaches before it has faded
    // to 1/e, metres.
    origin: vec4<f32>,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> catcher: ShadowCatcher;

const GOLDEN_ANGLE: f32 = 2.39996323;
const TAPS: u32 = 16u;

// Light `i` at `q` (world), from its cascade's shadow map: 1 lit, 0 shaded.
fn shadow_at(i: u32, cascade: u32, array_index: i32, q: vec3<f32>) -> f32 {
    let local = world_to_directional_light_local(i, cascade, vec4<f32>(q, 1.0));
    if (local.w == 0.0) {
        return 1.0;
    }
    return sample_shadow_map_hardware(local.xy, local.z, array_index);
}

// How much of light `i` reaches `p` on the floor, seen through a disc of `radius` metres on
// the floor: a light of some size casts a shadow whose edge is blurred over that disc.
fn light_seen(i: u32, p: vec3<f32>, view_z: f32, radius: f32, frag: vec2<f32>) -> f32 {
    let light = &lights.directional_lights[i];
    let cascade = get_cascade_index(i, view_z);
    if (cascade >= (*light).num_cascades) {
        return 1.0;
    }
    let array_index = i32((*light).depth_texture_base_index + cascade);
    // Bevy's biases, the floor's normal being +y.
    let bias = (*light).shadow_depth_bias * (*light).direction_to_light
        + (*light).shadow_normal_bias * (*light).cascades[cascade].texel_size * vec3<f32>(0.0, 1.0, 0.0);
    let turn = interleaved_gradient_noise(frag, 0u) * 6.2831853;
    // Most of the floor is in full light: the centre and four points on the rim all lit, and
    // the disc between them would be too (the shadows here are a body's, not a wire's).
    var lit = 0.0;
    for (var k: u32 = 0u; k < 5u; k = k + 1u) {
        let a = f32(k) * 1.5707963 + turn;
        let r = select(radius, 0.0, k == 4u);
        lit += shadow_at(i, cascade, array_index, p + bias + vec3<f32>(cos(a) * r, 0.0, sin(a) * r));
    }
    if (lit == 5.0) {
        return 1.0;
    }
    // A Vogel disc, turned per pixel: even coverage at any count, and noise where banding
    // would be (the photo's grain is laid over it).
    var sum = 0.0;
    for (var k: u32 = 0u; k < TAPS; k = k + 1u) {
        let r = radius * sqrt((f32(k) + 0.5) / f32(TAPS));
        let a = f32(k) * GOLDEN_ANGLE + turn;
        sum += shadow_at(i, cascade, array_index, p + bias + vec3<f32>(cos(a) * r, 0.0, sin(a) * r));
    }
    return sum / f32(TAPS);
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let view_z = dot(vec4<f32>(
        view.view_from_world[0].z,
        view.view_from_world[1].z,
        view.view_from_world[2].z,
        view.view_from_world[3].z
    ), in.world_position);
    let d_feet = distance(in.world_position.xz, catcher.origin.xz);

    // The darkest of the lights' shadows: a photo has one sun or key light to match.
    var seen = 1.0;
    for (var i: u32 = 0u; i < lights.n_directional_lights; i = i + 1u) {
        let light = &lights.directional_lights[i];
        if (((*light).flags & DIRECTIONAL_LIGHT_FLAGS_SHADOWS_ENABLED_BIT) != 0u) {
            // The companion stands upright at the feet: what shades a point of the floor `d`
            // from them is `d / cos(elevation)` up the light's ray, and a light of angular
            // size θ blurs its edge over that length × θ (a sun's 0.5° leaves it nearly
            // sharp; a window's 10° spreads it over a quarter metre a metre out, under a 45° light).
            let to_light = normalize((*light).direction_to_light);
            let along = d_feet / max(length(to_light.xz), 0.2);
            let radius = max(0.5 * along * catcher.strength.y, 0.004);
            seen = min(seen, light_seen(i, in.world_position.xyz, view_z, radius, in.position.xy));
        }
    }
    let d = d_feet / max(catcher.origin.w, 1e-3);
    // Black: a shadow darkens the floor under it without tinting it.
    return vec4<f32>(0.0, 0.0, 0.0, (1.0 - seen) * catcher.strength.x * exp(-d * d));
}
