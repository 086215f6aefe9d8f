#import bevy_pbr::{
    forward_io::{
        VertexOutput,
        FragmentOutput,
    },
    pbr_fragment::pbr_input_from_vertex_output,
    pbr_types::PbrInput,
    mesh_view_types::DIRECTIONAL_LIGHT_FLAGS_SHADOWS_ENABLED_BIT,
    shadows::fetch_directional_shadow,
    mesh_view_bindings::{
        view,
        lights,
        globals,
    },
}
#import mtoon::types::{
    MToonInput,
    MToonMaterialUniform,
    material,
    base_color_texture,
    base_color_sampler,
    shading_shift_texture,
    shading_shift_texture_sampler,
    shade_multiply_texture,
    shade_multiply_texture_sampler,
    rim_multiply_texture,
    rim_multiply_sampler,
    uv_animation_mask_texture,
    uv_animation_mask_sampler,
    matcap_texture,
    matcap_sampler,
    emissive_texture,
    emissive_sampler,
    BASE_COLOR_TEXTURE,
    SHADING_SHIFT_TEXTURE,
    SHADE_MULTIPLY_TEXTURE,
    RIM_MAP_TEXTURE,
    UV_ANIMATION_MASK_TEXTURE,
    MATCAP_TEXTURE,
    EMISSIVE_TEXTURE,
    DOUBLE_SIDED,
    ALPHA_MODE_MASK,
    ALPHA_MODE_BLEND,
    ALPHA_MODE_ALPHA_TO_COVERAGE,
    OUTLINE_WORLD_COORDINATES,
    OUTLINE_SCREEN_COORDINATES,
}
#import bevy_render::maths::PI

@fragment
fn fragment(
    in: VertexOutput,
    @builtin(front_facing) is_front: bool,
) -> FragmentOutput {
#ifdef OUTLINE_PASS
    // No outline without a mode or a width (three-vrm makes no outline material then). tomoni
    // patch: a zero width had drawn the back faces in place, over double-sided ones.
    if((material.outline_flags & (OUTLINE_WORLD_COORDINATES | OUTLINE_SCREEN_COORDINATES)) == 0u
        || material.outline_width_factor <= 0.0) {
        discard;
    }
#endif

    // tomoni patch: the UV animation moves the surface's UVs and each texture's transform
    // applies after it (three-vrm and UniVRM's order); the mask is read through the transform.
    var vertex_input = in;
#ifdef VERTEX_UVS_A
    vertex_input.uv = (material.uv_transform * vec3(calc_animated_uv(in.uv), 1.0)).xy;
#endif

    var out: FragmentOutput;
    var pbr_input = make_pbr_input(vertex_input, is_front);
    let mtoon_input = make_mtoon_input(vertex_input, pbr_input);
    out.color = apply_mtoon_lighting(mtoon_input);

#ifdef OUTLINE_PASS
    let outline_color = material.outline_color.rgb * mix(vec3(1.), out.color.rgb, material.outline_lighting_mix_factor);
    out.color = vec4(outline_color, mtoon_input.lit_color.a);
#endif

    return out;
}

fn make_pbr_input(
    vertex_input: VertexOutput,
    is_front: bool,
) -> PbrInput{
    let double_sided = (material.flags & DOUBLE_SIDED) != 0;
    var pbr_input = pbr_input_from_vertex_output(vertex_input, is_front, double_sided);
#ifdef VERTEX_UVS_A
    pbr_input.material.base_color = lit_color(vertex_input.uv);
#else
    pbr_input.material.base_color = lit_color(vec2(0.5));
#endif
    pbr_input.material.metallic = 0.0;
    pbr_input.material.emissive = material.emissive_color;
    return pbr_input;
}

// Match UniVRM MToon10's alpha blending threshold (EPSILON_FP16).
const MTOON_ALPHA_EPSILON: f32 = 0.0009765625;

fn lit_color(uv: vec2<f32>) -> vec4<f32> {
    var base_color = material.base_color;
    if((material.flags & BASE_COLOR_TEXTURE) != 0u) {
        base_color *= textureSampleBias(base_color_texture, base_color_sampler, uv, view.mip_bias);
    }
    if ((material.flags & ALPHA_MODE_BLEND) != 0u) {
        if (base_color.a < MTOON_ALPHA_EPSILON) {
            discard;
        }
    }
    if((material.flags & ALPHA_MODE_MASK) != 0u || (material.flags & ALPHA_MODE_ALPHA_TO_COVERAGE) != 0u) {
        let raw = base_color.a;
        let tmpAlpha = (raw - material.alpha_cutoff) / max(fwidth(raw), 0.00001) + 0.5;
        if(tmpAlpha < material.alpha_cutoff) {
            discard;
        }else{
            base_color.a = 1.0;
        }
    }
#ifdef OUTLINE_PASS
    if((material.flags & ALPHA_MODE_BLEND) != 0u) {
        base_color.a = 1.0;
    }
#endif
    return base_color;
}

fn make_mtoon_input(in: VertexOutput, pbr_input: PbrInput) -> MToonInput{
#ifdef VERTEX_UVS_A
    let uv = in.uv;
#else
    let uv = vec2(0.5);
#endif
    return MToonInput(
        pbr_input,
        uv,
        pbr_input.V,
        in.world_position,
        pbr_input.N,
        pbr_input.material.base_color,
    );
}

// tomoni patch: the rotation is time × speed in radians, unwrapped (it had been wrapped with
// `fract` at 1 rad); rotation first, then the scroll, both scaled by the mask (three-vrm).
fn calc_animated_uv(uv: vec2<f32>) -> vec2<f32>{
    var mask = 1.0;
    if((material.flags & UV_ANIMATION_MASK_TEXTURE) != 0u) {
        let mask_uv = (material.uv_transform * vec3(uv, 1.0)).xy;
        mask = textureSampleBias(uv_animation_mask_texture, uv_animation_mask_sampler, mask_uv, view.mip_bias).b;
    }
    let time = globals.time * mask;
    let phase = time * material.uv_animation_rotation_speed;
    let cos_rotate = cos(phase);
    let sin_rotate = sin(phase);
    let pivot = vec2<f32>(0.5, 0.5);
    let rotated = mat2x2(cos_rotate, -sin_rotate, sin_rotate, cos_rotate) * (uv - pivot) + pivot;
    return rotated + time * vec2(material.uv_animation_scroll_speed_x, material.uv_animation_rotation_speed_y);
}

// tomoni patch: lights as three-vrm (and the MToon 1.0 spec) weigh them. Each directional
// light adds its colour × intensity × mix(shade, lit, its shading) / π, in Bevy's units (lux
// × the view's exposure: the same light a Bevy PBR surface beside the avatar gets); ambient
// light adds the lit colour × its radiance. This had used each light's direction only, summed
// the lights' shading into one mix (over 1 it overshot the lit colour), and let Bevy's
// ambient BRDF scale the GI.
fn apply_mtoon_lighting(in: MToonInput) -> vec4<f32> {
    let direct = apply_directional_lights(in);
    let in_direct = apply_global_illumination(in);
    let emissive = apply_emissive_light(in);
    let rim = apply_rim_lighting(in.pbr, in.uv, rim_light());
    return vec4<f32>(direct + in_direct + emissive + rim, in.lit_color.a);
}

fn apply_directional_lights(in: MToonInput) -> vec3<f32>{
    var direct: vec3<f32> = vec3(0.);
    let shade_color: vec3<f32> = calc_shade_color(in);
    for (var i: u32 = 0u; i < lights.n_directional_lights; i = i + 1u) {
        let light = &lights.directional_lights[i];
        let shading = calc_mtoon_lighting_shading(in, i);
        let radiance = (*light).color.rgb * view.exposure / PI;
        direct += radiance * mix(shade_color, in.lit_color.rgb, shading);
    }
    return direct;
}

// The light the rim is mixed with (`rimLightingMixFactor`): every light's colour at full
// strength, whatever its angle, and the ambient irradiance, over π (three-vrm's
// `directSpecular`).
fn rim_light() -> vec3<f32> {
    var light = lights.ambient_color.rgb * view.exposure;
    for (var i: u32 = 0u; i < lights.n_directional_lights; i = i + 1u) {
        light += lights.directional_lights[i].color.rgb * view.exposure / PI;
    }
    return light;
}

fn calc_mtoon_lighting_shading(
    input: MToonInput,
    light_id: u32,
) -> f32 {
    let light = &lights.directional_lights[light_id];
    // Unclamped: a shading shift can lift a surface turned up to 90° past the light.
    let NdotL = clamp(dot(input.world_normal, (*light).direction_to_light), -1.0, 1.0);
    let shade_shift = calc_mtoon_lighting_reflectance_shading_shift(input);
    let view_z = dot(vec4<f32>(
        view.view_from_world[0].z,
        view.view_from_world[1].z,
        view.view_from_world[2].z,
        view.view_from_world[3].z
    ), input.world_position);
    var shadow = 1.0;
    if ((*light).flags & DIRECTIONAL_LIGHT_FLAGS_SHADOWS_ENABLED_BIT) != 0u {
        shadow = fetch_directional_shadow(
            light_id,
            input.world_position,
            input.world_normal,
            view_z,
            input.pbr.frag_coord.xy,
        );
    }
    return mtoon_linearstep(-1.0 + material.shading_toony_factor, 1.0 - material.shading_toony_factor, NdotL + shade_shift) * shadow;
}

fn calc_mtoon_lighting_reflectance_shading_shift(
    input: MToonInput,
) -> f32 {
    if((material.flags & SHADING_SHIFT_TEXTURE) != 0u) {
        return textureSampleBias(shading_shift_texture, shading_shift_texture_sampler, input.uv, view.mip_bias).r * material.shading_shift_texture_scale + material.shading_shift_factor;
    } else {
        return material.shading_shift_factor;
    }
}

// tomoni patch: indirect light is the ambient radiance times the lit colour (three-vrm's
// `irradiance × BRDF_Lambert(diffuseColor)`, with Bevy's ambient brightness as radiance).
fn apply_global_illumination(
    in: MToonInput,
) -> vec3<f32> {
    return lights.ambient_color.rgb * view.exposure * in.lit_color.rgb * in.pbr.diffuse_occlusion;
}

fn calc_shade_color(in: MToonInput) -> vec3<f32>{
   let base_color = material.shade_color.rgb;
   if((material.flags & SHADE_MULTIPLY_TEXTURE) != 0u) {
       return base_color * textureSampleBias(shade_multiply_texture, shade_multiply_texture_sampler, in.uv, view.mip_bias).rgb;
   }else{
      return base_color;
   }
}

fn apply_emissive_light(in: MToonInput) -> vec3<f32> {
    let emissive = in.pbr.material.emissive.rgb;
    if ((material.flags & EMISSIVE_TEXTURE) != 0u) {
        return emissive * textureSampleBias(emissive_texture, emissive_sampler, in.uv, view.mip_bias).rgb;
    } else {
        return emissive;
    }
}

fn apply_rim_lighting(in: PbrInput, uv: vec2<f32>, rim_light: vec3<f32>) -> vec3<f32>{
    var rim = vec3(0.);
    let world_view_x = normalize(vec3<f32>(in.V.z, 0.0, -in.V.x));
    let world_view_y = cross(in.V, world_view_x);
    // tomoni patch: the matcap's V runs down the texture as the normal runs up (three-vrm's
    // `-dot(y, normal)`; it had been drawn upside down), and spans the whole texture.
    let matcap_uv = vec2<f32>(dot(world_view_x, in.N), -dot(world_view_y, in.N)) * 0.5 + 0.5;
    if((material.flags & MATCAP_TEXTURE) != 0u) {
        rim = material.mat_cap_color.rgb * textureSampleBias(matcap_texture, matcap_sampler, matcap_uv, view.mip_bias).rgb;
    }

    let parametric_rim = saturate(1.0 - dot(in.N, in.V) + material.parametric_rim_lift_factor);
    rim += pow(parametric_rim, max(material.parametric_rim_fresnel_power, 0.0001)) * material.parametric_rim_color.rgb;
    if((material.flags & RIM_MAP_TEXTURE) != 0u) {
        rim *= textureSampleBias(rim_multiply_texture, rim_multiply_sampler, uv, view.mip_bias).rgb;
    }
    rim *= mix(vec3(1.0), rim_light, material.rim_lighting_mix_factor);
    return rim;
}

fn mtoon_linearstep(a: f32, b: f32, t: f32) -> f32 {
    return saturate((t - a) / (b - a));
}


