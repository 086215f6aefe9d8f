//! Light and floor that flatter the avatar: a warm key light from the front-left above, a cool
//! fill from the right, soft ambient, and (unless transparent for AR) a quiet floor and room.
//! A photo's light replaces them ([`SceneLight`]), with a [`ShadowCatcher`] floor that keeps
//! only the companion's shadow for compositing.

use bevy::asset::{load_internal_asset, uuid_handle};
use bevy::camera::Exposure;
use bevy::light::{CascadeShadowConfigBuilder, GlobalAmbientLight, NotShadowCaster};
use bevy::pbr::{Material, MaterialPlugin};
use bevy::prelude::*;
use bevy::render::render_resource::{AsBindGroup, ShaderType};
use bevy::shader::ShaderRef;

/// `shaders/shadow_catcher.wgsl`, compiled into the binary (no asset folder at run time).
const SHADOW_CATCHER_SHADER: Handle<Shader> = uuid_handle!("4f0c8f7e-2a7d-4c55-9a0e-51d3c2b6e8a1");

/// The scene's lights: the stage's own, or a photo's (a key light from where the photo's light
/// comes, with shadows, and a fill that is weaker the harder that light is).
#[derive(Resource, Debug, Clone, Copy, Default)]
pub enum SceneLight {
    /// Key from the front-left above, fill from the right: flattering, no shadows.
    #[default]
    Stage,
    /// A photo's light (`tomoni photo`).
    Photo {
        /// Towards the light, world space (unit).
        from: Vec3,
        /// How hard the light is: 0 overcast, 1 a clear sun.
        strength: f32,
        /// How far the shadows reach from the camera, metres (the cascade is fitted to it).
        reach: f32,
        /// Where the companion's feet touch the floor (world): the shadow catcher is centred
        /// there.
        feet: Vec3,
    },
}

/// A floor that draws only the shadows on it (black at their opacity): laid over a photo, it
/// darkens the real floor where the companion's shadow falls. The project's
/// WGSL: `shaders/shadow_catcher.wgsl`.
#[derive(Asset, TypePath, AsBindGroup, Clone, Debug)]
pub struct ShadowCatcher {
    /// The shader's settings.
    #[uniform(0)]
    pub settings: ShadowCatcherSettings,
}

/// What [`ShadowCatcher`] darkens, and how much.
#[derive(ShaderType, Clone, Copy, Debug)]
pub struct ShadowCatcherSettings {
    /// x: a full shadow's opacity; y: the light's angular size, radians (how wide its
    /// shadow's penumbra grows with distance from the feet).
    pub strength: Vec4,
    /// xyz: the feet on the floor (world); w: how far the shadow reaches before it has faded
    /// to 1/e, metres.
    pub origin: Vec4,
}

impl ShadowCatcher {
    /// A catcher for feet at `feet` under a light of `strength` (0 soft – 1 hard). A clear
    /// sun darkens the floor it shades by about two thirds in photos, and its shadow stays
    /// dark to the end (3 m to fade); a broad, soft light casts a faint shadow that fades
    /// within about a metre, as its penumbra widens; an overcast sky, none one can see. (The
    /// contact shadow under the feet is the avatar's own, in every mode.)
    pub fn new(feet: Vec3, strength: f32) -> Self {
        let s = strength.clamp(0.0, 1.0);
        ShadowCatcher {
            settings: ShadowCatcherSettings {
                strength: Vec4::new(0.65 * s, light_size(s), 0.0, 0.0),
                origin: feet.extend(0.6 + 2.4 * s),
            },
        }
    }
}

/// The angular size (radians) of a light whose shadows are `hardness` hard (0 soft – 1 hard,
/// as `tomoni_photo::light` reads it): the sun's 0.53° at 1, a metre-wide softbox 2 m away
/// (≈ 28°) at 0, between them evenly in log (a studio key read at 0.5: ≈ 4°).
pub fn light_size(hardness: f32) -> f32 {
    const SUN: f32 = 0.0093;
    const SOFTBOX: f32 = 0.5;
    let h = hardness.clamp(0.0, 1.0);
    (SOFTBOX.ln() + h * (SUN.ln() - SOFTBOX.ln())).exp()
}

impl Material for ShadowCatcher {
    fn fragment_shader() -> ShaderRef {
        SHADOW_CATCHER_SHADER.into()
    }

    fn alpha_mode(&self) -> AlphaMode {
        AlphaMode::Blend
    }

    fn enable_prepass() -> bool {
        false
    }

    fn enable_shadows() -> bool {
        false
    }
}

/// Illuminance (lux) of a directional light that alone shows `share` of an MToon surface's lit
/// colour where it falls straight on: MToon weighs a light as three-vrm and the MToon spec do,
/// `illuminance × exposure / π` (the Lambert share a Bevy PBR surface beside it gets too), at
/// the cameras' exposure (Bevy's default, EV100 9.7: none of tomoni's cameras changes it).
pub fn lux(share: f32) -> f32 {
    share * std::f32::consts::PI / Exposure::default().exposure()
}

/// Ambient brightness (cd/m²) that shows `share` of an MToon surface's lit colour on every side.
pub fn ambient(share: f32) -> f32 {
    share / Exposure::default().exposure()
}

/// Room colour behind the companion when not compositing over the real world.
pub const ROOM_COLOR: Color = Color::srgb(0.80, 0.82, 0.86);

/// Lights and, optionally, a floor.
pub struct StagePlugin {
    /// Clear to transparent and draw no floor (AR passthrough / compositing).
    pub transparent: bool,
}

impl Plugin for StagePlugin {
    fn build(&self, app: &mut App) {
        let transparent = self.transparent;
        load_internal_asset!(app, SHADOW_CATCHER_SHADER, "../../../shaders/shadow_catcher.wgsl", Shader::from_wgsl);
        app.add_plugins(MaterialPlugin::<ShadowCatcher>::default())
            .init_resource::<SceneLight>()
            .init_resource::<tomoni_core::SeeThrough>()
            .add_systems(Update, (follow_see_through, follow_scene_light))
            .insert_resource(ClearColor(if transparent { Color::NONE } else { ROOM_COLOR }))
            .insert_resource(GlobalAmbientLight {
                color: Color::srgb(0.95, 0.95, 1.0),
                brightness: ambient(0.15),
                ..default()
            })
            .add_systems(
                Startup,
                move |mut commands: Commands,
                      light: Res<SceneLight>,
                      mut meshes: ResMut<Assets<Mesh>>,
                      mut materials: ResMut<Assets<StandardMaterial>>,
                      mut catchers: ResMut<Assets<ShadowCatcher>>| {
                    spawn_lights(&mut commands, *light, &mut meshes, &mut catchers);
                    if !transparent {
                        commands.spawn((
                            Floor,
                            Name::new("floor"),
                            Mesh3d(meshes.add(Circle::new(12.0))),
                            MeshMaterial3d(materials.add(StandardMaterial {
                                base_color: Color::srgb(0.86, 0.83, 0.80),
                                perceptual_roughness: 0.9,
                                ..default()
                            })),
                            Transform::from_rotation(Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2)),
                        ));
                    }
                },
            );
    }
}

/// The scene's lights; under a photo's light that casts a visible shadow, the shadow catcher
/// too (below that, neither the shadow pass nor the catcher: nothing would show).
fn spawn_lights(
    commands: &mut Commands,
    light: SceneLight,
    meshes: &mut Assets<Mesh>,
    catchers: &mut Assets<ShadowCatcher>,
) {
    match light {
        SceneLight::Stage => {
            commands.spawn((
                SceneLightPart,
                Name::new("key light"),
                DirectionalLight { illuminance: lux(0.9), color: Color::srgb(1.0, 0.96, 0.90), ..default() },
                Transform::from_xyz(-2.0, 3.5, 3.0).looking_at(Vec3::new(0.0, 1.0, 0.0), Vec3::Y),
            ));
            commands.spawn((
                SceneLightPart,
                Name::new("fill light"),
                DirectionalLight { illuminance: lux(0.3), color: Color::srgb(0.85, 0.90, 1.0), ..default() },
                Transform::from_xyz(3.0, 2.0, 1.0).looking_at(Vec3::new(0.0, 1.0, 0.0), Vec3::Y),
            ));
        }
        SceneLight::Photo { from, strength, reach, feet } => {
            let s = strength.clamp(0.0, 1.0);
            // The catcher draws a shadow at 0.65 × hardness: under 0.05 none would show.
            let shadow = s >= 0.05;
            // One cascade over the few metres the companion and its shadow span: a sharp map
            // where it matters (the default spreads four over 150 m).
            let cascades = CascadeShadowConfigBuilder {
                num_cascades: 1,
                minimum_distance: 0.1,
                maximum_distance: reach.max(2.0),
                first_cascade_far_bound: reach.max(2.0),
                overlap_proportion: 0.2,
            }
            .build();
            commands.spawn((
                SceneLightPart,
                Name::new("photo key light"),
                DirectionalLight { illuminance: lux(0.5 + 0.4 * s), shadow_maps_enabled: shadow, ..default() },
                cascades,
                Transform::from_translation(from.normalize_or(Vec3::Y)).looking_at(Vec3::ZERO, Vec3::Y),
            ));
            // The rest of the scene's light, from the camera's side: what fills the shadows.
            commands.spawn((
                SceneLightPart,
                Name::new("photo fill light"),
                DirectionalLight { illuminance: lux(0.1 + 0.35 * (1.0 - s)), ..default() },
                Transform::from_xyz(0.0, 0.4, 1.0).looking_at(Vec3::ZERO, Vec3::Y),
            ));
            if shadow {
                // 12 m square, centred under the feet.
                commands.spawn((
                    SceneLightPart,
                    Name::new("shadow catcher"),
                    Mesh3d(meshes.add(Plane3d::default().mesh().size(12.0, 12.0))),
                    MeshMaterial3d(catchers.add(ShadowCatcher::new(feet, s))),
                    Transform::from_translation(Vec3::new(feet.x, 0.0, feet.z)),
                    NotShadowCaster,
                ));
            }
        }
    }
}

/// What [`spawn_lights`] made: made again when [`SceneLight`] changes.
#[derive(Component)]
struct SceneLightPart;

/// A [`SceneLight`] changed after start-up (`tomoni photo` learns its photo's light while the
/// avatar loads): its lights and shadow catcher made anew.
fn follow_scene_light(
    mut commands: Commands,
    light: Res<SceneLight>,
    parts: Query<Entity, With<SceneLightPart>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut catchers: ResMut<Assets<ShadowCatcher>>,
) {
    if !light.is_changed() || light.is_added() {
        return;
    }
    for e in &parts {
        commands.entity(e).despawn();
    }
    spawn_lights(&mut commands, *light, &mut meshes, &mut catchers);
}

/// The virtual floor (hidden when the real one shows through).
#[derive(Component, Debug)]
pub struct Floor;

fn follow_see_through(
    see: Res<tomoni_core::SeeThrough>,
    mut clear: ResMut<ClearColor>,
    mut floors: Query<&mut Visibility, With<Floor>>,
) {
    if !see.is_changed() || !see.0 {
        return;
    }
    clear.0 = Color::NONE;
    for mut v in &mut floors {
        *v = Visibility::Hidden;
    }
}
