//! The tomoni app as a library: the binary (`main.rs`) parses the command line and calls in
//! here; benches and tests drive the same code (the live companion bridge, the headless demo).
//!
//! ```no_run
//! let setup = tomoni::app::prepare(&tomoni::SceneArgs::default()).unwrap();
//! # let _ = setup;
//! ```

pub mod app;
pub mod chat;
pub mod companion;
pub mod demo;
pub mod doctor;
pub mod ipc;
pub mod render;

use std::path::PathBuf;

/// Options every scene-showing command shares.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SceneArgs {
    /// App settings file (default: configs/tomoni.toml if present, else built-in defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Persona file (default: configs/personas/<persona>.toml if present, else built-in).
    #[arg(long)]
    pub persona: Option<PathBuf>,
    /// Show this VRM 1.0 file instead of the persona's avatar.
    #[arg(long)]
    pub avatar: Option<PathBuf>,
    /// Asset root (default: the project's `assets/`).
    #[arg(long)]
    pub assets: Option<PathBuf>,
}
