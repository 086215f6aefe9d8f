//! The companion's body: a VRM 1.0 avatar (via `bevy_vrm1`), life-sized and standing where
//! [`CompanionAnchor`] says, with a relaxed standing pose and a soft contact shadow.
//!
//! ```no_run
//! use bevy::prelude::*;
//! use tomoni_avatar::{AvatarPlugin, AvatarSettings};
//! App::new()
//!     .add_plugins(DefaultPlugins)
//!     .insert_resource(AvatarSettings { asset_path: "avatars/default.vrm".into(), height: 1.7 })
//!     .add_plugins(AvatarPlugin)
//!     .run();
//! ```
//!
//! A VRM should be checked with [`vrm_check::inspect`] before it is handed to the plugin: Bevy's
//! asset loading reports errors only in the log, and a user deserves a message and exit code.

pub mod binds;
pub mod clips;
pub mod gaze;
pub mod life;
pub mod outfit;
pub mod pose;
pub mod profile;
pub mod stage;

use bevy::asset::RenderAssetUsages;
use bevy::image::Image;
use bevy::math::Affine3A;
use bevy::mesh::VertexAttributeValues;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy_vrm1::prelude::*;
use tomoni_core::placement::life_size_scale;
use tomoni_core::{CompanionAnchor, TomoniSystems};

pub use bevy_vrm1;
pub use life::{BodyYaw, Life, LifePlugin, LifeSettings, LifeSystems};
pub use pose::{BonePose, PosePlugin};
pub use stage::StagePlugin;
/// The VRM file as data (GLB container, checks, the 0.x migration), re-exported: it has no Bevy,
/// so its parsers build and fuzz in seconds.
pub use tomoni_vrm::{glb, vrm_check, vrm0, vrma};

/// Which avatar to show and how tall it stands.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct AvatarSettings {
    /// Asset path of the `.vrm` (relative to the asset root, or absolute).
    pub asset_path: String,
    /// Standing height in metres (the top of the head, hair included).
    pub height: f32,
}

/// Marks the companion's root entity (the one holding the VRM).
#[derive(Component, Debug)]
pub struct Companion;

/// Inserted on the [`Companion`] once its meshes are loaded and measured.
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct AvatarReady {
    /// Height of the model as authored, in its own units (metres for VRM).
    pub model_height: f32,
    /// Lowest point of the model as authored (the soles).
    pub model_min_y: f32,
    /// Uniform scale applied for life size.
    pub scale: f32,
}

/// The soft dark disc under the companion's feet that grounds it on the floor.
#[derive(Component, Debug)]
pub struct ContactShadow;

/// Loads, measures, scales and places the companion.
pub struct AvatarPlugin;

impl Plugin for AvatarPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins((
            VrmPlugin,
            VrmaPlugin,
            PosePlugin,
            LifePlugin,
            clips::ClipsPlugin,
            binds::MaterialBindsPlugin,
            outfit::OutfitPlugin,
        ))
        .init_resource::<CompanionAnchor>()
        .init_resource::<tomoni_core::RenderProfile>()
        .add_systems(Startup, spawn_companion)
        .add_systems(Update, profile::apply_profile)
        .add_systems(Update, (measure_when_loaded, apply_anchor).chain().in_set(TomoniSystems::Pose))
        .add_systems(Update, settle_springs_when_placed.after(apply_anchor))
        .add_systems(PostUpdate, resume_springs.after(VrmSystemSets::SpringBone));
    }
}

fn spawn_companion(
    mut commands: Commands,
    settings: Res<AvatarSettings>,
    asset_server: Res<AssetServer>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut images: ResMut<Assets<Image>>,
) {
    commands.spawn((
        Companion,
        Name::new("companion"),
        VrmHandle(asset_server.load(settings.asset_path.clone())),
        Transform::default(),
        // Hidden until measured and placed: a wrongly sized flash of avatar is worse than none.
        Visibility::Hidden,
    ));
    let shadow = images.add(radial_shadow_image(64));
    commands.spawn((
        ContactShadow,
        Name::new("contact shadow"),
        Mesh3d(meshes.add(Plane3d::new(Vec3::Y, Vec2::splat(0.5)))),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color: Color::BLACK,
            base_color_texture: Some(shadow),
            alpha_mode: AlphaMode::Blend,
            unlit: true,
            ..default()
        })),
        Transform::default(),
        Visibility::Hidden,
        // A blob on the floor casts nothing (its alpha, under 0.5, is discarded by the shadow
        // pass anyway): under a photo's light this spared a pipeline's compile and a draw.
        bevy::light::NotShadowCaster,
    ));
}

/// A radial falloff, darkest in the middle (alpha 0.45, below the 0.5 a silhouette test uses).
pub fn radial_shadow_image(size: u32) -> Image {
    let mut data = Vec::with_capacity((size * size * 4) as usize);
    let c = (size as f32 - 1.0) / 2.0;
    for y in 0..size {
        for x in 0..size {
            let r = (((x as f32 - c).powi(2) + (y as f32 - c).powi(2)).sqrt() / c).min(1.0);
            let a = 0.45 * (1.0 - r * r).max(0.0).powf(1.5);
            data.extend_from_slice(&[0, 0, 0, (a * 255.0) as u8]);
        }
    }
    Image::new(
        Extent3d { width: size, height: size, depth_or_array_layers: 1 },
        TextureDimension::D2,
        data,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    )
}

/// Once the VRM is initialised and every mesh is loaded, measure its authored height from the
/// vertex positions (hair and shoes included), so any VRM gets exactly the configured height.
fn measure_when_loaded(
    mut commands: Commands,
    settings: Res<AvatarSettings>,
    companions: Query<Entity, (With<Companion>, With<Initialized>, Without<AvatarReady>)>,
    children: Query<&Children>,
    nodes: Query<(&Transform, Option<&Mesh3d>)>,
    meshes: Res<Assets<Mesh>>,
) {
    for root in &companions {
        let mut bounds = (f32::INFINITY, f32::NEG_INFINITY);
        let mut complete = true;
        let mut stack: Vec<(Entity, Affine3A)> = vec![(root, Affine3A::IDENTITY)];
        while let Some((e, parent)) = stack.pop() {
            let Ok(kids) = children.get(e) else { continue };
            for &kid in kids {
                let Ok((tf, mesh)) = nodes.get(kid) else { continue };
                let at = parent * tf.compute_affine();
                if let Some(mesh) = mesh {
                    match meshes.get(&mesh.0).and_then(|m| m.attribute(Mesh::ATTRIBUTE_POSITION)) {
                        Some(VertexAttributeValues::Float32x3(ps)) => {
                            for p in ps {
                                let y = at.transform_point3(Vec3::from(*p)).y;
                                bounds = (bounds.0.min(y), bounds.1.max(y));
                            }
                        }
                        _ => complete = false,
                    }
                }
                stack.push((kid, at));
            }
        }
        if !complete || !bounds.0.is_finite() {
            continue;
        }
        let model_height = bounds.1 - bounds.0;
        let ready =
            AvatarReady { model_height, model_min_y: bounds.0, scale: life_size_scale(model_height, settings.height) };
        info!(
            "avatar ready: authored height {:.3} m, scaled ×{:.4} to {:.2} m",
            model_height, ready.scale, settings.height
        );
        commands.entity(root).insert(ready);
    }
}

/// Puts the companion's soles on the floor at the anchor, turned as the anchor says.
fn apply_anchor(
    anchor: Res<CompanionAnchor>,
    body_yaw: Res<BodyYaw>,
    mut companions: Query<(Ref<AvatarReady>, &mut Transform, &mut Visibility), With<Companion>>,
    mut shadows: Query<(&mut Transform, &mut Visibility), (With<ContactShadow>, Without<Companion>)>,
) {
    let Some(pose) = anchor.0 else { return };
    for (ready, mut tf, mut vis) in &mut companions {
        if !(anchor.is_changed() || ready.is_added() || body_yaw.is_changed()) {
            continue;
        }
        *tf = Transform {
            translation: pose.translation - Vec3::Y * ready.model_min_y * ready.scale,
            rotation: pose.rotation * Quat::from_rotation_y(body_yaw.0),
            scale: Vec3::splat(ready.scale),
        };
        *vis = Visibility::Inherited;
        for (mut stf, mut svis) in &mut shadows {
            *stf = Transform::from_translation(pose.translation + Vec3::Y * 0.003)
                .with_rotation(pose.rotation)
                .with_scale(Vec3::new(0.75, 1.0, 0.6) * ready.scale);
            *svis = Visibility::Inherited;
        }
    }
}

/// A spring chain taken out of the simulation for one frame ([`settle_springs_when_placed`]).
#[derive(Component)]
struct Resettle(SpringRoot);

/// When the companion is first placed and sized, its hair starts from rest where it stands:
/// while it loaded (hidden, at the origin, unscaled) the spring chains had been simulated,
/// and the jump to life size beside the user would otherwise set them swinging, by an amount
/// that depended on how many frames loading took (so no two renders of the same scene were
/// alike). Each chain's joints go back to their rest pose and the chain leaves the simulation
/// for a frame; put back ([`resume_springs`]), bevy_vrm1 initialises it afresh from the rest
/// pose, placed.
fn settle_springs_when_placed(
    mut commands: Commands,
    placed: Query<Entity, (With<Companion>, Added<AvatarReady>)>,
    children: Query<&Children>,
    roots: Query<&SpringRoot>,
    mut joints: Query<(&mut Transform, &RestTransform)>,
) {
    for vrm in &placed {
        for e in children.iter_descendants(vrm) {
            let Ok(root) = roots.get(e) else { continue };
            for &j in root.joints.iter() {
                if let Ok((mut tf, rest)) = joints.get_mut(j) {
                    *tf = rest.0;
                }
            }
            commands.entity(e).remove::<SpringRoot>().insert(Resettle(root.clone()));
        }
    }
}

/// Puts the settled chains back after this frame's simulation, so bevy_vrm1's initialisation
/// (in `Update`) finds them in the next frame, whatever order systems run in.
fn resume_springs(mut commands: Commands, settling: Query<(Entity, &Resettle)>) {
    for (e, r) in &settling {
        commands.entity(e).remove::<Resettle>().insert(r.0.clone());
    }
}
