//! Start-up shared by every mode: find the files, check them, and assemble the plugins.

use crate::SceneArgs;
use bevy::asset::io::AssetSourceBuilder;
use bevy::prelude::*;
use bevy::window::ExitCondition;
use std::path::{Path, PathBuf};
use tomoni_avatar::{AvatarPlugin, AvatarSettings, StagePlugin};
use tomoni_core::config::{self, AppConfig, PersonaLook};
use tomoni_core::{AppMode, TomoniSystems};
use tomoni_xr::ViewerCorePlugin;

/// Why the program stops: bad input (exit 2) or a failure while running (exit 1).
#[derive(Debug)]
pub enum Failure {
    /// A file the user gave (or we found) is not usable; the message names it and the place.
    Input(String),
    /// Something failed at run time (no GPU, timeout, write error).
    Runtime(String),
}

/// Everything checked and resolved before Bevy starts.
#[derive(Debug, Clone)]
pub struct Setup {
    /// App settings.
    pub config: AppConfig,
    /// The persona's avatar and height.
    pub look: PersonaLook,
    /// The VRM file on disk (checked).
    pub avatar_file: PathBuf,
    /// Asset root for everything else.
    pub assets: PathBuf,
    /// OpenXR blend modes, in order of preference (checked).
    pub blend_preference: Vec<openxr::EnvironmentBlendMode>,
    /// Reference spaces to try, in order (checked before any window opens).
    pub space_preference: Vec<openxr::ReferenceSpaceType>,
}

/// The project's asset root: `--assets`, `$TOMONI_ASSETS`, `./assets`, the source tree's
/// `assets/`, or `assets/` beside the executable.
fn asset_root(arg: Option<&Path>) -> PathBuf {
    let candidates = arg
        .map(Path::to_path_buf)
        .into_iter()
        .chain(std::env::var_os("TOMONI_ASSETS").map(PathBuf::from))
        .chain([PathBuf::from("assets"), Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets")])
        .chain(std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("assets"))));
    let mut first = None;
    for c in candidates {
        if c.is_dir() {
            return c.canonicalize().unwrap_or(c);
        }
        first.get_or_insert(c);
    }
    first.unwrap_or_else(|| PathBuf::from("assets"))
}

/// A config file named on the command line, else the project's copy if present, else built-in.
fn pick(arg: Option<&Path>, project: &Path) -> Option<PathBuf> {
    arg.map(Path::to_path_buf).or_else(|| project.is_file().then(|| project.to_path_buf()))
}

/// Resolves and checks config, persona and avatar.
pub fn prepare(args: &SceneArgs) -> Result<Setup, Failure> {
    let input = |e: config::ConfigError| Failure::Input(e.to_string());
    let assets = asset_root(args.assets.as_deref());
    let configs = assets.parent().map(|p| p.join("configs")).unwrap_or_else(|| PathBuf::from("configs"));
    let app_file = pick(args.config.as_deref(), &configs.join("tomoni.toml"));
    let config: AppConfig =
        config::load_toml(app_file.as_deref(), config::DEFAULT_APP_TOML, "configs/tomoni.toml").map_err(input)?;
    let persona_file =
        pick(args.persona.as_deref(), &configs.join("personas").join(format!("{}.toml", config.persona)));
    let persona_name = persona_file
        .as_ref()
        .map_or_else(|| "<built-in configs/personas/default.toml>".to_string(), |p| p.display().to_string());
    if persona_file.is_none() && config.persona != "default" {
        return Err(Failure::Input(format!(
            "persona {:?} not found: no file {}",
            config.persona,
            configs.join("personas").join(format!("{}.toml", config.persona)).display()
        )));
    }
    let config_name =
        app_file.as_ref().map_or_else(|| "<built-in configs/tomoni.toml>".into(), |p| p.display().to_string());
    let blend_preference = tomoni_xr::xr::parse_blend_modes(&config.xr.blend_modes)
        .map_err(|e| Failure::Input(format!("{config_name}: {e}")))?;
    let space_preference = tomoni_xr::xr::parse_reference_spaces(&config.xr.reference_spaces)
        .map_err(|e| Failure::Input(format!("{config_name}: {e}")))?;
    let look: PersonaLook =
        config::load_toml(persona_file.as_deref(), config::DEFAULT_PERSONA_TOML, "configs/personas/default.toml")
            .map_err(input)?;
    config::check_look(&look, &persona_name).map_err(input)?;
    let avatar_file = match &args.avatar {
        Some(p) => p.clone(),
        None if look.avatar.path.is_absolute() => look.avatar.path.clone(),
        None => assets.join(&look.avatar.path),
    };
    tomoni_avatar::vrm_check::inspect(&avatar_file).map_err(|e| Failure::Input(e.to_string()))?;
    let avatar_file = avatar_file.canonicalize().unwrap_or(avatar_file);
    Ok(Setup { config, look, avatar_file, assets, blend_preference, space_preference })
}

/// Builds the app every mode shares. `headless`: no window, no winit; frames render to images.
pub fn base_app(setup: &Setup, mode: AppMode, transparent: bool) -> App {
    let mut app = App::new();
    let avatar_dir = setup.avatar_file.parent().unwrap_or(Path::new(".")).to_string_lossy().into_owned();
    // The avatar may live anywhere on disk: give its folder an asset source of its own.
    app.register_asset_source("avatar", AssetSourceBuilder::platform_default(&avatar_dir, None));
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
            app.add_plugins(windowless(defaults.set(crate::render::render_plugin(true)))).add_plugins(runner);
        }
        AppMode::Desktop => {
            app.add_plugins(defaults.set(crate::render::render_plugin(false)).set(WindowPlugin {
                primary_window: Some(Window { title: format!("tomoni — {}", setup.look.name), ..default() }),
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
    app.insert_resource(tomoni_avatar::clips::ClipNames(clips));
    let file_name = setup.avatar_file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    app.insert_resource(mode)
        .insert_resource(setup.config.clone())
        .insert_resource(AvatarSettings {
            asset_path: format!("avatar://{file_name}"),
            height: setup.look.avatar.height,
        })
        .configure_sets(
            Update,
            (TomoniSystems::Input, TomoniSystems::Dialogue, TomoniSystems::Behaviour, TomoniSystems::Pose).chain(),
        )
        .add_plugins((
            ViewerCorePlugin { placement: setup.config.placement },
            AvatarPlugin,
            StagePlugin { transparent: transparent || setup.config.render.transparent },
        ));
    app
}

/// `tomoni run`: XR when a runtime is present (and not refused), else a desktop window.
pub fn run_interactive(
    setup: Setup,
    scene: &crate::SceneArgs,
    no_xr: bool,
    max_frames: Option<u32>,
    eye_png: Option<PathBuf>,
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
    let mut app = base_app(&setup, mode, false);
    if mode == AppMode::Desktop {
        app.add_plugins(tomoni_xr::DesktopCameraPlugin { eye_height: setup.config.viewer.eye_height });
    }
    // The live companion: dialogue, voice and face, and commands from other terminals.
    let chat = crate::chat::ChatArgs {
        persona: scene.persona.as_ref().map(|p| p.display().to_string()),
        config: scene.config.clone(),
        ..Default::default()
    };
    let (mut bridge, label) = crate::companion::open(&chat, None)?;
    eprintln!("tomoni: {} — {label}", setup.look.name);
    bridge.greet();
    app.insert_resource(bridge).add_plugins((
        crate::companion::CompanionPlugin,
        crate::companion::InteractivePlugin { ui: mode == AppMode::Desktop },
    ));
    match crate::ipc::listen() {
        Ok((rx, path)) => {
            eprintln!("tomoni: `tomoni chat --attach` and `tomoni recenter` reach me at {}", path.display());
            app.insert_resource(crate::companion::Ipc(rx));
        }
        Err(e) => eprintln!("tomoni: no terminal commands this session: {e}"),
    }
    if let (Some(n), Some(out), AppMode::Xr) = (max_frames, eye_png, mode) {
        // Two thirds of the way through: the swapchain image the left eye is shown.
        app.add_systems(Last, move |mut frames: Local<u32>, mut commands: Commands| {
            *frames += 1;
            if *frames == (n * 2 / 3).max(1) {
                let out = out.clone();
                let left = bevy::camera::ManualTextureViewHandle(bevy_mod_openxr::render::XR_TEXTURE_INDEX);
                commands.spawn(bevy::render::view::screenshot::Screenshot::texture_view(left)).observe(
                    move |shot: On<bevy::render::view::screenshot::ScreenshotCaptured>| {
                        let image = shot.image.clone();
                        let out = out.clone();
                        std::thread::spawn(move || match image.try_into_dynamic() {
                            Ok(i) => match i.to_rgba8().save(&out) {
                                Ok(()) => println!("xr: left eye written to {}", out.display()),
                                Err(e) => eprintln!("tomoni: {}: {e}", out.display()),
                            },
                            Err(e) => eprintln!("tomoni: cannot read the eye image back: {e}"),
                        });
                    },
                );
            }
        });
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
    match app.run() {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => Err(Failure::Runtime(format!("the app stopped with code {code}"))),
    }
}
