//! Start-up shared by every mode: find the files, check them, and assemble the plugins.

use crate::error::Failure;
use crate::setup::SceneArgs;
use bevy::asset::io::AssetSourceBuilder;
use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::window::ExitCondition;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tomoni_avatar::{AvatarPlugin, AvatarSettings, StagePlugin};
use tomoni_core::config::{self, AppConfig, PersonaLook};
use tomoni_core::{AppMode, TomoniSystems};
use tomoni_persona::persona::Persona;
use tomoni_xr::ViewerCorePlugin;

/// Everything checked and resolved before Bevy starts.
#[derive(Debug, Clone)]
pub struct Setup {
    /// App settings.
    pub config: AppConfig,
    /// The persona (the companion's mind and voice; its avatar is `look`).
    pub persona: Persona,
    /// The persona's avatar and height.
    pub look: PersonaLook,
    /// The VRM file on disk (checked).
    pub avatar_file: PathBuf,
    /// What the check found, and the bytes to show when they differ from the file (a VRM 0.x
    /// file migrated, or the spec's defaults filled in).
    pub avatar: tomoni_avatar::vrm_check::Checked,
    /// Asset root for everything else.
    pub assets: PathBuf,
    /// OpenXR blend modes, in order of preference (checked).
    pub blend_preference: Vec<openxr::EnvironmentBlendMode>,
    /// Reference spaces to try, in order (checked before any window opens).
    pub space_preference: Vec<openxr::ReferenceSpaceType>,
    /// The desktop window's size in pixels (`None`: Bevy's default).
    pub window_size: Option<(u32, u32)>,
    /// Where the live app hears the person (`None`: typing only). Default: the microphone
    /// when `[listen] microphone` is on.
    pub hearing: Option<crate::hearing::HearFrom>,
}

impl Setup {
    /// Where a headless or just-started viewer is (at the origin, at the configured eye
    /// height, looking down −z) and where the companion stands beside them, as configured:
    /// what renders, recordings and the spectator camera start from.
    pub fn start_pose(&self) -> (Vec3, tomoni_core::placement::RootPose) {
        let viewer = Vec3::new(0.0, self.config.viewer.eye_height, 0.0);
        let pose = tomoni_core::placement::ViewerPose { position: viewer, yaw: 0.0 };
        (viewer, tomoni_core::placement::companion_pose(&pose, &self.config.placement))
    }
}

/// Resolves config and persona once ([`crate::setup::resolve`]) and checks the avatar.
pub fn prepare(args: &SceneArgs) -> Result<Setup, Failure> {
    let r = crate::setup::resolve(args.config.as_deref(), args.persona.as_deref(), args.assets.as_deref())?;
    let input = |e: config::ConfigError| Failure::Input(e.to_string());
    let blend_preference = tomoni_xr::xr::parse_blend_modes(&r.config.xr.blend_modes)
        .map_err(|e| Failure::Input(format!("{}: {e}", r.config_name)))?;
    let space_preference = tomoni_xr::xr::parse_reference_spaces(&r.config.xr.reference_spaces)
        .map_err(|e| Failure::Input(format!("{}: {e}", r.config_name)))?;
    let mut look = r.look();
    config::check_look(&look, &r.persona_name).map_err(input)?;
    let avatar_file = match &args.avatar {
        Some(p) => p.clone(),
        None if look.avatar.path.is_absolute() => look.avatar.path.clone(),
        None => r.assets.join(&look.avatar.path),
    };
    let avatar = tomoni_avatar::vrm_check::load(&avatar_file).map_err(|e| Failure::Input(e.to_string()))?;
    if avatar.info.migrated_from_vrm0 {
        eprintln!("tomoni: {} is a VRM 0.x avatar: shown migrated to VRM 1.0", avatar_file.display());
    }
    let avatar_file = avatar_file.canonicalize().unwrap_or(avatar_file);
    look.avatar.outfit = outfit(args, &look, &r.persona_name, &avatar_file, &avatar.info)?;
    let hearing = r.config.listen.microphone.then_some(crate::hearing::HearFrom::Microphone);
    Ok(Setup {
        config: r.config,
        persona: r.persona,
        look,
        avatar_file,
        avatar,
        assets: r.assets,
        blend_preference,
        space_preference,
        window_size: None,
        hearing,
    })
}

/// The outfit to wear: `--outfit`, else the persona's, checked against the avatar's outfits.
/// The persona's outfit on an avatar given with `--avatar` that lacks it is dropped with a
/// warning (that avatar is not the persona's).
fn outfit(
    args: &SceneArgs,
    look: &PersonaLook,
    persona_name: &str,
    file: &std::path::Path,
    info: &tomoni_avatar::vrm_check::VrmInfo,
) -> Result<Option<String>, Failure> {
    let (asked, from) = match (&args.outfit, &look.avatar.outfit) {
        (Some(o), _) => (o, "--outfit".to_string()),
        (None, Some(o)) => (o, format!("{persona_name}: [avatar] outfit")),
        (None, None) => return Ok(None),
    };
    let has = tomoni_avatar::outfit::outfits(info.expressions.iter().map(String::as_str));
    if has.contains(asked) {
        return Ok(Some(asked.clone()));
    }
    let msg = format!("{from} {asked:?}: {} has {}", file.display(), tomoni_avatar::outfit::listed(&has));
    if args.outfit.is_none() && args.avatar.is_some() {
        eprintln!("tomoni: {msg}; wearing what the file shows");
        return Ok(None);
    }
    Err(Failure::Input(msg))
}

/// The renderer on Vulkan only. tomoni needs a Vulkan driver (wgpu's GL fallback cannot render
/// the avatar), and skipping the GL probe spares users EGL/Wayland noise on headless machines.
/// `synchronous`: compile pipelines within the frame, for deterministic headless pictures.
pub fn render_plugin(synchronous: bool) -> RenderPlugin {
    use bevy::render::settings::{Backends, WgpuSettings};
    RenderPlugin {
        render_creation: WgpuSettings { backends: Some(Backends::VULKAN), ..default() }.into(),
        synchronous_pipeline_compilation: synchronous,
        ..default()
    }
}

/// The renderer of headless frames (renders, photos, tests): the device is asked for no
/// storage textures. Bevy then leaves out what needs them, none of which tomoni's scenes use
/// (the sky's atmosphere, SSAO, generated environment maps, the depth pyramid for occlusion
/// culling and GPU culling; GPU preprocessing stays, without culling), whose 26 compute
/// pipelines it would otherwise compile before the first frame, on the same two cores as a
/// photo's own work (docs/benchmarks.md). Frames are byte-identical. The window and the
/// headset keep all of it: on a real GPU it is Bevy's fast path.
fn headless_render_plugin() -> RenderPlugin {
    let mut plugin = render_plugin(false);
    if let bevy::render::settings::RenderCreation::Automatic(settings) = &mut plugin.render_creation {
        settings.constrained_limits =
            Some(bevy::render::settings::WgpuLimits { max_storage_textures_per_shader_stage: 0, ..no_limits() });
    }
    plugin
}

/// Headless frames sort lights into clusters on the CPU: tomoni's scenes have a key light and
/// a fill, nothing clustered, and Bevy's GPU clustering cost five pipelines to compile and a
/// compute and two raster passes a frame on lavapipe's two cores (docs/benchmarks.md).
fn cluster_lights_on_the_cpu(mut settings: ResMut<bevy::light::cluster::GlobalClusterSettings>) {
    settings.gpu_clustering = None;
}

/// Limits that constrain nothing (Bevy takes each from the adapter or these, whichever is
/// worse), to be lowered one by one. Every field is named, so a new one in wgpu is a compile
/// error here rather than a silent constraint.
fn no_limits() -> bevy::render::settings::WgpuLimits {
    let any = u32::MAX;
    bevy::render::settings::WgpuLimits {
        max_texture_dimension_1d: any,
        max_texture_dimension_2d: any,
        max_texture_dimension_3d: any,
        max_texture_array_layers: any,
        max_bind_groups: any,
        max_bindings_per_bind_group: any,
        max_dynamic_uniform_buffers_per_pipeline_layout: any,
        max_dynamic_storage_buffers_per_pipeline_layout: any,
        max_sampled_textures_per_shader_stage: any,
        max_samplers_per_shader_stage: any,
        max_storage_buffers_per_shader_stage: any,
        max_storage_textures_per_shader_stage: any,
        max_uniform_buffers_per_shader_stage: any,
        max_binding_array_elements_per_shader_stage: any,
        max_binding_array_acceleration_structure_elements_per_shader_stage: any,
        max_binding_array_sampler_elements_per_shader_stage: any,
        max_uniform_buffer_binding_size: u64::MAX,
        max_storage_buffer_binding_size: u64::MAX,
        max_vertex_buffers: any,
        max_buffer_size: u64::MAX,
        max_vertex_attributes: any,
        max_vertex_buffer_array_stride: any,
        max_inter_stage_shader_variables: any,
        // The two minimums: the smallest alignment is the least constraint.
        min_uniform_buffer_offset_alignment: 1,
        min_storage_buffer_offset_alignment: 1,
        max_color_attachments: any,
        max_color_attachment_bytes_per_sample: any,
        max_compute_workgroup_storage_size: any,
        max_compute_invocations_per_workgroup: any,
        max_compute_workgroup_size_x: any,
        max_compute_workgroup_size_y: any,
        max_compute_workgroup_size_z: any,
        max_compute_workgroups_per_dimension: any,
        max_immediate_size: any,
        max_non_sampler_bindings: any,
        max_task_mesh_workgroup_total_count: any,
        max_task_mesh_workgroups_per_dimension: any,
        max_task_invocations_per_workgroup: any,
        max_task_invocations_per_dimension: any,
        max_mesh_invocations_per_workgroup: any,
        max_mesh_invocations_per_dimension: any,
        max_task_payload_size: any,
        max_mesh_output_vertices: any,
        max_mesh_output_primitives: any,
        max_mesh_output_layers: any,
        max_mesh_multiview_view_count: any,
        max_blas_primitive_count: any,
        max_blas_geometry_count: any,
        max_tlas_instance_count: any,
        max_acceleration_structures_per_shader_stage: any,
        max_multiview_view_count: any,
    }
}

/// Task pools whose async-compute pool (where Bevy compiles pipelines) has a thread per core,
/// up to 8: Bevy's default gives it a quarter of them, one thread on 2 cores.
fn compile_on_every_core() -> bevy::app::TaskPoolOptions {
    let mut options = bevy::app::TaskPoolOptions::default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    options.async_compute.min_threads = cores;
    options.async_compute.max_threads = options.async_compute.max_threads.max(cores);
    options
}

/// A headless frame draws only once every pipeline it asked for is made, as with Bevy's
/// `synchronous_pipeline_compilation`, which makes them one after another on one thread: here
/// they are all started at once (on the async-compute pool, [`compile_on_every_core`]) and
/// the frame waits for the lot. On lavapipe with 2 cores a photo's 26 pipelines took about
/// 1 s one by one, with the other core idle.
fn compile_in_frame(mut cache: ResMut<bevy::render::render_resource::PipelineCache>) {
    use bevy::render::render_resource::CachedPipelineState;
    // Every queued pipeline becomes a task.
    cache.process_queue();
    while cache.pipelines().any(|p| matches!(&p.state, CachedPipelineState::Creating(t) if !t.is_finished())) {
        #[expect(
            clippy::disallowed_methods,
            reason = "a headless frame waits for its pipelines on purpose (see the doc comment); the compile runs on the other threads"
        )]
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // The finished tasks become pipelines (a shader not yet loaded is retried next frame, as
    // synchronous compilation does).
    cache.process_queue();
}

/// Builds the app every mode shares. `headless`: no window, no winit; frames render to images.
pub fn base_app(setup: &Setup, mode: AppMode, transparent: bool) -> App {
    let mut app = App::new();
    let avatar_dir = setup.avatar_file.parent().unwrap_or(Path::new(".")).to_string_lossy().into_owned();
    let file_name = setup.avatar_file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    match &setup.avatar.prepared {
        // The avatar may live anywhere on disk: give its folder an asset source of its own.
        None => app.register_asset_source("avatar", AssetSourceBuilder::platform_default(&avatar_dir, None)),
        // Migrated or completed: bevy_vrm1 reads the checked bytes from memory, never a copy on disk.
        Some(bytes) => {
            let dir = bevy::asset::io::memory::Dir::default();
            dir.insert_asset(Path::new(&file_name), bevy::asset::io::memory::Value::Vec(bytes.clone()));
            app.register_asset_source(
                "avatar",
                AssetSourceBuilder::new(move || {
                    Box::new(bevy::asset::io::memory::MemoryAssetReader { root: dir.clone() })
                }),
            )
        }
    };
    let asset_plugin = AssetPlugin { file_path: setup.assets.to_string_lossy().into_owned(), ..default() };
    let defaults = DefaultPlugins.set(asset_plugin);
    // Without a desktop window: no primary window, no winit (so no X server needed), and our
    // own runner loop (with bevy_window compiled in, DefaultPlugins brings none, and `run()`
    // would return after one update).
    let windowless = |group: bevy::app::PluginGroupBuilder| {
        group
            .set(WindowPlugin { primary_window: None, exit_condition: ExitCondition::DontExit, ..default() })
            .disable::<bevy::winit::WinitPlugin>()
    };
    let runner = bevy::app::ScheduleRunnerPlugin::run_loop(std::time::Duration::ZERO);
    match mode {
        AppMode::Headless => {
            // Deterministic frames: a pipeline still compiling would leave the avatar undrawn.
            // Compiled within the frame, like Bevy's synchronous compilation, but side by side
            // on every core ([`compile_in_frame`]).
            let pools = TaskPoolPlugin { task_pool_options: compile_on_every_core() };
            // What is left out for want of storage textures ([`headless_render_plugin`]) and
            // GPU clustering ([`cluster_lights_on_the_cpu`]) is announced on every render, as
            // warnings, as "compute is not supported" and as "GPU clustering is supported":
            // nothing is wrong and none of it is true of the device, so it is not shown.
            let quiet =
                ["ssao", "atmosphere", "light_probe::generate", "cluster"].map(|m| format!("bevy_pbr::{m}=error"));
            let log = bevy::log::LogPlugin {
                filter: format!(
                    "{},{},bevy_render::batching::gpu_preprocessing=warn",
                    bevy::log::DEFAULT_FILTER,
                    quiet.join(",")
                ),
                ..default()
            };
            app.add_plugins(windowless(defaults.set(headless_render_plugin()).set(pools).set(log))).add_plugins(runner);
            app.add_systems(Startup, cluster_lights_on_the_cpu);
            app.sub_app_mut(bevy::render::RenderApp).add_systems(
                bevy::render::Render,
                compile_in_frame
                    .in_set(bevy::render::RenderSystems::Render)
                    .before(bevy::render::renderer::render_system),
            );
        }
        AppMode::Desktop => {
            app.add_plugins(defaults.set(render_plugin(false)).set(WindowPlugin {
                primary_window: Some(Window {
                    title: format!("tomoni — {}", setup.look.name),
                    resolution: setup.window_size.map_or_else(default, |(w, h)| (w, h).into()),
                    ..default()
                }),
                ..default()
            }));
        }
        AppMode::Xr => {
            tomoni_xr::xr::exit_cleanly_when_the_runtime_goes();
            // The headset is the display; bevy_mod_openxr replaces the ordinary renderer.
            // Pipelined rendering off, as bevy_mod_openxr advises: the views must be rendered
            // from the poses predicted for this frame, not the last.
            let defaults =
                windowless(defaults).disable::<bevy::render::pipelined_rendering::PipelinedRenderingPlugin>();
            app.add_plugins(tomoni_xr::xr::plugins_with_xr(defaults)).add_plugins((
                runner,
                tomoni_xr::xr::XrHeadPlugin { blend_preference: setup.blend_preference.clone() },
                tomoni_xr::xr::XrSpacePlugin {
                    preference: setup.space_preference.clone(),
                    eye_height: setup.config.viewer.eye_height,
                },
                tomoni_xr::xr::XrRecenterButtonPlugin,
            ));
            if setup.config.xr.remember_place {
                let file = tomoni_persona::memory::default_path().with_file_name("place.json");
                app.insert_resource(tomoni_xr::RememberedPlace::load(file));
            }
        }
    }
    // The clips a persona can ask for by name: every animations/NAME.vrma (read once, here).
    let mut clips: Vec<String> = std::fs::read_dir(setup.assets.join("animations"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "vrma"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    clips.sort();
    // And what each animates of the face and where it looks (a broken file is named; bevy_vrm1
    // then refuses it too).
    let mut tracks = bevy::platform::collections::HashMap::new();
    let mut looks = bevy::platform::collections::HashMap::new();
    for name in &clips {
        let file = setup.assets.join("animations").join(format!("{name}.vrma"));
        let read = std::fs::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|b| Ok((tomoni_avatar::vrma::expression_tracks(&b)?, tomoni_avatar::vrma::look_at_track(&b)?)));
        match read {
            Ok((names, look)) => {
                tracks.insert(name.clone(), names);
                if let Some(look) = look {
                    looks.insert(name.clone(), look);
                }
            }
            Err(e) => warn!("{}: {e}", file.display()),
        }
    }
    app.insert_resource(tomoni_avatar::clips::ClipNames(clips));
    app.insert_resource(tomoni_avatar::clips::ClipExpressions(tracks));
    app.insert_resource(tomoni_avatar::clips::ClipLookAt(looks));
    app.insert_resource(AvatarFailure { file: setup.avatar_file.display().to_string(), ..default() })
        .add_systems(Update, stop_on_avatar_failure)
        .insert_resource(mode)
        .insert_resource(setup.config.clone())
        .insert_resource(AvatarSettings {
            asset_path: format!("avatar://{file_name}"),
            height: setup.look.avatar.height,
        })
        .insert_resource(tomoni_avatar::binds::ExpressionMaterialBinds(setup.avatar.info.material_binds.clone()))
        .insert_resource(tomoni_avatar::outfit::Outfit(setup.look.avatar.outfit.clone()))
        .configure_sets(
            Update,
            (TomoniSystems::Input, TomoniSystems::Dialogue, TomoniSystems::Behaviour, TomoniSystems::Pose).chain(),
        )
        .add_plugins((
            ViewerCorePlugin { placement: setup.config.placement },
            AvatarPlugin,
            StagePlugin { transparent: transparent || setup.config.render.transparent },
            crate::capture::CapturePlugin,
        ));
    app
}

/// Set when bevy_vrm1 rejects the avatar: every mode stops, and [`run_app`] reports it as bad
/// input naming the file (an invisible companion is never the answer).
#[derive(Resource, Clone, Default)]
struct AvatarFailure {
    file: String,
    message: Arc<Mutex<Option<String>>>,
}

fn stop_on_avatar_failure(
    failure: Res<AvatarFailure>,
    server: Res<AssetServer>,
    vrms: Query<&tomoni_avatar::bevy_vrm1::prelude::VrmHandle, With<tomoni_avatar::Companion>>,
    mut exit: MessageWriter<AppExit>,
) {
    for h in &vrms {
        if let Some(bevy::asset::LoadState::Failed(err)) = server.get_load_state(&h.0)
            && let Ok(mut m) = failure.message.lock()
            && m.is_none()
        {
            *m = Some(format!("{}: cannot load the avatar: {err}", failure.file));
            exit.write(AppExit::error());
        }
    }
}

/// Runs an app made by [`base_app`]; an avatar that failed to load is an input error.
pub fn run_app(mut app: App) -> Result<AppExit, Failure> {
    let failure = app.world().resource::<AvatarFailure>().message.clone();
    let exit = app.run();
    match failure.lock().ok().and_then(|mut f| f.take()) {
        Some(msg) => Err(Failure::Input(msg)),
        None => Ok(exit),
    }
}

/// `tomoni run`: XR when a runtime is present (and not refused), else a desktop window.
pub fn run_interactive(
    setup: Setup,
    no_xr: bool,
    max_frames: Option<u32>,
    eye_png: Option<PathBuf>,
) -> Result<(), Failure> {
    run_live(setup, no_xr, max_frames, eye_png, None, false)
}

/// The guests' fixed camera facing the couple (the viewer's start position is where the person
/// stands): its place and vertical field of view, radians.
fn spectator_camera(setup: &Setup) -> (Transform, f32) {
    let (viewer, anchor) = setup.start_pose();
    let (at, look, fov) = crate::ceremony::spectator_view(
        Vec3::new(viewer.x, 0.0, viewer.z),
        anchor.translation,
        setup.look.avatar.height,
    );
    (Transform::from_translation(at).looking_at(look, Vec3::Y), fov.to_radians())
}

/// A second window, 1280×720, from the guests' camera ([`spectator_camera`]). Its own camera:
/// the desktop view is untouched.
fn spawn_spectator_window(app: &mut App, setup: &Setup) -> Entity {
    use bevy::camera::RenderTarget;
    use bevy::window::WindowRef;
    let (transform, fov) = spectator_camera(setup);
    let world = app.world_mut();
    let window = world
        .spawn(Window {
            title: format!("tomoni — spectator — {}", setup.look.name),
            resolution: (1280, 720).into(),
            ..default()
        })
        .id();
    world.spawn((
        Name::new("spectator camera"),
        Camera3d::default(),
        Camera { order: 5, ..default() },
        RenderTarget::Window(WindowRef::Entity(window)),
        Projection::Perspective(PerspectiveProjection { fov, ..default() }),
        transform,
    ));
    window
}

/// The guests' camera ([`spectator_camera`]) rendering into a 1280×720 image instead of a
/// window (glasses: no desktop window), for the spectator stream.
fn spawn_spectator_image(app: &mut App, setup: &Setup) -> Handle<Image> {
    let (transform, fov) = spectator_camera(setup);
    crate::capture::spawn_image_camera(app.world_mut(), "spectator camera", (1280, 720), fov, transform).1
}

/// `tomoni ceremony run` in glasses or a window: the live app with a ceremony steering it (the
/// companion does not greet: the script speaks first).
/// `spectator`: the guests' view: a second window on a desktop; in glasses, a live stream on
/// the operator server's spectator page.
pub fn run_ceremony(
    setup: Setup,
    no_xr: bool,
    launch: crate::ceremony::launch::CeremonyLaunch,
    spectator: bool,
) -> Result<(), Failure> {
    run_live(setup, no_xr, None, None, Some(launch), spectator)
}

fn run_live(
    setup: Setup,
    no_xr: bool,
    max_frames: Option<u32>,
    eye_png: Option<PathBuf>,
    ceremony: Option<crate::ceremony::launch::CeremonyLaunch>,
    spectator: bool,
) -> Result<(), Failure> {
    let mode = if no_xr {
        AppMode::Desktop
    } else {
        match tomoni_xr::xr::runtime_available() {
            Ok(runtime) => {
                eprintln!("tomoni: OpenXR runtime {runtime}: starting an XR session");
                AppMode::Xr
            }
            Err(why) => {
                eprintln!("tomoni: {why}; showing the companion in a desktop window instead");
                AppMode::Desktop
            }
        }
    };
    if mode == AppMode::Desktop
        && std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty())
        && std::env::var_os("WAYLAND_DISPLAY").is_none_or(|d| d.is_empty())
    {
        return Err(Failure::Runtime(
            "no display to open a window on (neither DISPLAY nor WAYLAND_DISPLAY is set) and no OpenXR runtime: \
             `tomoni demo` runs the companion headless and leaves pictures and speech in a folder"
                .into(),
        ));
    }
    let mut app = base_app(&setup, mode, false);
    if mode == AppMode::Desktop {
        app.add_plugins(tomoni_xr::DesktopCameraPlugin { eye_height: setup.config.viewer.eye_height });
    }
    // The live companion: dialogue, voice and face, and commands from other terminals.
    let (mut bridge, label) =
        crate::bridge::open(&setup.config, setup.persona.clone(), &crate::session::ChatArgs::default(), None)?;
    eprintln!("tomoni: {} — {label}", setup.look.name);
    if ceremony.is_none() {
        bridge.greet();
    }
    let audio =
        if matches!(bridge.output.get(), crate::speech::Output::Device(_)) { "device" } else { "none (silent)" };
    // In glasses there is no panel: a small label by the companion says it is an AI.
    // ASCII only: Bevy's built-in font has no middle dot or ellipsis (they drew as boxes).
    let disclosure = format!("{} - AI companion", setup.look.name);
    // Hands-free: the person speaks and the companion hears. Without a microphone or model,
    // typing (the window's text box, `tomoni chat --attach`) still works.
    if let Some(from) = setup.hearing.clone() {
        match crate::hearing::Hearing::start(&setup.config.listen, from, &bridge) {
            Ok(h) => {
                eprintln!("tomoni: listening: {}", h.source);
                app.insert_resource(h).add_plugins(crate::hearing::HearingPlugin);
            }
            Err(why) => eprintln!("tomoni: not listening ({why}); type to talk"),
        }
    }
    app.insert_resource(bridge).add_plugins((
        crate::bridge::CompanionPlugin,
        crate::commands::ControlPlugin,
        crate::disclosure::DisclosureLabelPlugin {
            text: disclosure,
            credit: setup.avatar.info.credit.as_deref().map(crate::disclosure::credit_line),
        },
    ));
    if mode == AppMode::Desktop {
        app.add_plugins(crate::ui::DesktopUiPlugin);
    }
    // What the viewer sees (the left eye's swapchain image in XR, the window on a desktop):
    // what `photo`, a ceremony's photo step and the eye check capture.
    let view = if mode == AppMode::Xr {
        crate::capture::CaptureSource::TextureView(bevy::camera::ManualTextureViewHandle(
            bevy_mod_openxr::render::XR_TEXTURE_INDEX,
        ))
    } else {
        crate::capture::CaptureSource::Window
    };
    app.insert_resource(crate::commands::LiveView(view.clone()));
    if let Some(launch) = ceremony {
        crate::ceremony::launch::install(&mut app, launch, mode == AppMode::Xr, audio)?;
        app.insert_resource(crate::ceremony::CeremonyCamera(view.clone()));
        if mode == AppMode::Desktop {
            app.add_plugins(crate::ceremony::launch::CeremonyPanelPlugin);
        }
        if spectator && mode == AppMode::Desktop {
            let window = spawn_spectator_window(&mut app, &setup);
            // The ceremony's photo steps take the guests' picture.
            app.insert_resource(crate::ceremony::CeremonyCamera(crate::capture::CaptureSource::OtherWindow(window)));
            eprintln!("tomoni: spectator window open (the guests' view, for a TV or projector)");
        } else if spectator {
            // Glasses have no desktop window: the guests' camera renders into an image that is
            // streamed to the operator server's spectator page, for a TV's or projector's browser.
            let Some(url) =
                app.world().get_resource::<crate::ceremony::launch::OperatorPage>().map(|p| p.spectator_url())
            else {
                return Err(Failure::Input(
                    "--spectator in glasses streams the guests' view through the operator page: add --operator ADDR:PORT"
                        .into(),
                ));
            };
            let feed = app.world().resource::<crate::ceremony::launch::OperatorPage>().spectator();
            let target = spawn_spectator_image(&mut app, &setup);
            app.insert_resource(crate::ceremony::CeremonyCamera(crate::capture::CaptureSource::Image(target.clone())))
                .add_plugins(crate::ceremony::launch::SpectatorStreamPlugin { source: target, feed });
            eprintln!("tomoni: the guests' view (for a TV or projector's browser): {url}");
        }
    }
    let inbox = app.world().resource::<crate::control::ControlInbox>().sender();
    match crate::control::unix::listen(inbox) {
        Ok(path) => eprintln!("tomoni: `tomoni chat --attach` and `tomoni recenter` reach me at {}", path.display()),
        Err(e) => eprintln!("tomoni: no terminal commands this session: {e}"),
    }
    if let (Some(n), Some(out)) = (max_frames, eye_png) {
        // Two thirds of the way through: what the viewer sees, through the one capture path.
        let source = view.clone();
        let label = if mode == AppMode::Xr { "xr: left eye" } else { "desktop: window" };
        app.add_systems(
            Update,
            move |mut frames: Local<u32>,
                  mut captures: MessageWriter<crate::capture::CaptureRequest>,
                  mut done: MessageReader<crate::capture::CaptureDone>| {
                *frames += 1;
                if *frames == (n * 2 / 3).max(1) {
                    captures.write(crate::capture::CaptureRequest {
                        id: 0,
                        source: source.clone(),
                        path: out.clone(),
                        format: crate::capture::PixelFormat::Rgba,
                    });
                }
                for d in done.read() {
                    match &d.result {
                        Ok(()) => println!("{label} written to {}", d.path.display()),
                        Err(e) => eprintln!("tomoni: {e}"),
                    }
                }
            },
        );
    }
    if let Some(n) = max_frames {
        let xr = mode == AppMode::Xr;
        let label = if xr { "xr" } else { "desktop" };
        let count = move |mut frames: Local<u32>,
                          mut exit: MessageWriter<AppExit>,
                          mut end_xr: MessageWriter<tomoni_xr::xr::EndXrSession>| {
            *frames += 1;
            if *frames == n {
                if xr {
                    // The OpenXR way out: request exit, the runtime goes STOPPING → EXITING.
                    end_xr.write(tomoni_xr::xr::EndXrSession);
                } else {
                    exit.write(AppExit::Success);
                }
            }
        };
        // One summary line for scripted checks, when the app is about to exit.
        let summary = move |mut printed: Local<bool>,
                            mut exits: MessageReader<AppExit>,
                            status: Option<Res<tomoni_xr::xr::XrStatus>>,
                            head: Res<tomoni_core::ViewerHead>,
                            ready: Query<
            (&tomoni_avatar::AvatarReady, &GlobalTransform),
            With<tomoni_avatar::Companion>,
        >| {
            if exits.read().count() == 0 || *printed {
                return;
            }
            *printed = true;
            let companion = match ready.single() {
                Ok((r, at)) => format!("companion ready, scale {:.4}, standing at {:.2?}", r.scale, at.translation()),
                Err(_) => "companion not ready".to_string(),
            };
            let session = status.map(|s| format!("; {}", s.line())).unwrap_or_default();
            let viewer = format!("viewer's eyes at {:.2?}", head.transform.translation);
            println!("{label}: {n} frames; {companion}; {viewer}{session}");
        };
        app.add_message::<tomoni_xr::xr::EndXrSession>().add_systems(Last, (count, summary).chain());
    }
    let exit = run_app(app)?;
    match exit {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => Err(Failure::Runtime(format!("the app stopped with code {code}"))),
    }
}
