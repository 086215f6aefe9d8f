//! One configuration: the app config, the persona and the avatar are found and checked once,
//! here, and everything else (the renderer, the live companion, `chat`, `doctor`) takes the
//! result. Nothing runs on a guess: a file that is named but unusable is an error naming it.
//! A `tomoni photo` run as a process of its own gets the same scene ([`photo_command`]).

use crate::error::Failure;
use std::path::{Path, PathBuf};
use tomoni_core::config::{self, AppConfig, AvatarSpec, PersonaLook};
use tomoni_persona::persona::Persona;

/// Options every scene-showing command shares.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SceneArgs {
    /// App settings file (default: configs/tomoni.toml if present, else built-in defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Persona: a name (configs/personas/NAME.toml, or the data folder's personas/NAME.toml)
    /// or a persona file.
    #[arg(long)]
    pub persona: Option<String>,
    /// Show this VRM file (1.0, or 0.x migrated on load) instead of the persona's avatar.
    #[arg(long)]
    pub avatar: Option<PathBuf>,
    /// Asset root (default: the project's `assets/`).
    #[arg(long)]
    pub assets: Option<PathBuf>,
    /// Wear this outfit instead of the persona's (the avatar's `outfit_NAME` expressions; the
    /// shipped avatars have `suit` and `everyday`).
    #[arg(long)]
    pub outfit: Option<String>,
}

/// Config and persona, resolved once (no avatar check: `chat` and `import` need no Bevy).
#[derive(Debug, Clone)]
pub struct Resolved {
    /// App settings (ranges checked).
    pub config: AppConfig,
    /// Where they came from (a file, or `<built-in …>`), for messages.
    pub config_name: String,
    /// The persona.
    pub persona: Persona,
    /// Where it came from.
    pub persona_name: String,
    /// The asset root.
    pub assets: PathBuf,
    /// The project's `configs/` folder next to the asset root (it may not exist).
    pub configs: PathBuf,
}

/// The project's asset root: `--assets`, `$TOMONI_ASSETS`, `./assets`, the source tree's
/// `assets/`, or `assets/` beside the executable.
pub fn asset_root(arg: Option<&Path>) -> PathBuf {
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

/// Personas the user made or imported live here (never in the build's source tree).
pub fn user_personas_dir() -> PathBuf {
    tomoni_persona::memory::default_path().with_file_name("personas")
}

/// Finds a persona file by name or path: a path as given; a name in the project's
/// `configs/personas`, then in the data folder's `personas`. `None`: the built-in default.
pub fn persona_file(configs: &Path, name: &str) -> Result<Option<PathBuf>, Failure> {
    let as_path = Path::new(name);
    if as_path.extension().is_some_and(|e| e == "toml") || name.contains('/') {
        return Ok(Some(as_path.to_path_buf()));
    }
    let candidates = [configs.join("personas"), user_personas_dir()].map(|d| d.join(format!("{name}.toml")));
    if let Some(f) = candidates.iter().find(|f| f.is_file()) {
        return Ok(Some(f.clone()));
    }
    if name == "default" {
        return Ok(None);
    }
    Err(Failure::Input(format!(
        "persona {name:?} not found: no file {} or {}",
        candidates[0].display(),
        candidates[1].display()
    )))
}

/// Resolves the app config (`--config`, else the project's, else built-in) and the persona
/// (`--persona`, else the config's), checking both.
pub fn resolve(
    config_arg: Option<&Path>,
    persona_arg: Option<&str>,
    assets_arg: Option<&Path>,
) -> Result<Resolved, Failure> {
    let input = |e: config::ConfigError| Failure::Input(e.to_string());
    let assets = asset_root(assets_arg);
    let configs = assets.parent().map_or_else(|| PathBuf::from("configs"), |p| p.join("configs"));
    let project = configs.join("tomoni.toml");
    let app_file = config_arg.map(Path::to_path_buf).or_else(|| project.is_file().then_some(project));
    let config = config::load_app_config(app_file.as_deref()).map_err(input)?;
    let config_name =
        app_file.as_ref().map_or_else(|| "<built-in configs/tomoni.toml>".into(), |p| p.display().to_string());
    let persona_file = persona_file(&configs, persona_arg.unwrap_or(&config.persona))?;
    let (persona, persona_name) = match &persona_file {
        Some(f) => (Persona::load(f).map_err(|e| Failure::Input(e.to_string()))?, f.display().to_string()),
        None => (Persona::default_persona(), "<built-in configs/personas/default.toml>".to_string()),
    };
    Ok(Resolved { config, config_name, persona, persona_name, assets, configs })
}

impl Resolved {
    /// The part of the persona the renderer needs.
    pub fn look(&self) -> PersonaLook {
        PersonaLook {
            name: self.persona.name.clone(),
            avatar: AvatarSpec {
                path: PathBuf::from(&self.persona.avatar.path),
                height: self.persona.avatar.height,
                outfit: self.persona.avatar.outfit.clone(),
            },
        }
    }
}

/// `tomoni photo --background IN --out OUT` with `scene`'s config, persona, avatar and assets,
/// as a process of its own (each render is an app of its own): a folder's photos one by one,
/// and the photos handed in at a ceremony. Callers add their own choices (place, light, face).
pub fn photo_command(me: &Path, scene: &SceneArgs, background: &Path, out: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(me);
    c.arg("photo").arg("--background").arg(background).arg("--out").arg(out);
    for (flag, v) in [("--config", &scene.config), ("--avatar", &scene.avatar), ("--assets", &scene.assets)] {
        if let Some(v) = v {
            c.arg(flag).arg(v);
        }
    }
    if let Some(o) = &scene.outfit {
        c.args(["--outfit", o]);
    }
    if let Some(p) = &scene.persona {
        c.args(["--persona", p]);
    }
    c
}

/// The last line a [`photo_command`] wrote: what it made, or why it could not.
pub fn last_line(output: &[u8]) -> String {
    String::from_utf8_lossy(output).lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string()
}
