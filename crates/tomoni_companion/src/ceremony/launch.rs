//! `tomoni ceremony run`: the checked script, the operator page and the companion, in glasses,
//! a window, or headless into a folder.

use super::{Ceremony, CeremonyPlugin, CeremonyStatus};
use crate::app::Setup;
use crate::control::{CeremonyCommand, ControlCommand, ControlInbox, ControlReply, ControlRequest, Replier};
use crate::error::Failure;
use bevy::prelude::*;
use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run a ceremony.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The script.
    pub file: PathBuf,
    /// A rehearsal: marked, and the operator may jump to any step.
    pub rehearse: bool,
    /// Headless into this folder (frames, `ceremony.wav`, `timeline.json`, contact sheet).
    pub headless_out: Option<PathBuf>,
    /// Every wait for the operator ends by itself after a short pause.
    pub auto: bool,
    /// Serve the operator page here.
    pub operator: Option<SocketAddr>,
    /// The pairing token (default: a new random one).
    pub token: Option<String>,
    /// Never start XR.
    pub no_xr: bool,
    /// Headless frame size and how many frames to keep.
    pub frame: (u32, u32, u32),
    /// Longest run, seconds (headless).
    pub max_seconds: f32,
}

/// A ceremony ready to install into an app, with its operator page if one was asked for.
pub struct CeremonyLaunch {
    ceremony: Ceremony,
    operator: Option<(SocketAddr, Option<String>)>,
}

/// The operator server, kept as long as the app runs; its address for the desktop panel.
#[derive(Resource)]
pub struct OperatorPage {
    /// `http://ADDR:PORT/?token=TOKEN`.
    pub url: String,
    _server: tomoni_operator::Operator,
}

/// What the operator page's state says besides the ceremony's own status.
fn state_json(s: &CeremonyStatus, xr: bool, audio: &str) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["xr"] = serde_json::json!(xr);
    v["audio"] = serde_json::json!(audio);
    v
}

/// Adds the ceremony to `app`: its plugin, the control plane it is steered through, and the
/// operator page (printed with its pairing link and a QR code). `xr`: whether glasses show it.
pub fn install(app: &mut App, launch: CeremonyLaunch, xr: bool, audio: &str) -> Result<(), Failure> {
    let CeremonyLaunch { mut ceremony, operator } = launch;
    if !app.world().contains_resource::<ControlInbox>() {
        app.add_plugins(crate::commands::ControlPlugin);
    }
    app.add_plugins(CeremonyPlugin);
    if let Some((addr, token)) = operator {
        let inbox = app.world().resource::<ControlInbox>().sender();
        let handler: tomoni_operator::Handler = std::sync::Arc::new(move |action: tomoni_operator::Action| {
            let (reply, rx) = Replier::channel();
            let command = CeremonyCommand::parse(&action.command()).map(ControlCommand::Ceremony);
            if let Some(command) = command {
                let _ = inbox.send(ControlRequest { command, reply });
            }
            Box::new(move |deadline| match rx.recv_timeout(deadline) {
                Ok(ControlReply::Done(d)) | Ok(ControlReply::Clause(d)) => Ok(d),
                Ok(ControlReply::Error(e)) | Ok(ControlReply::Interrupted(e)) => Err(e),
                Err(_) => Err("the companion did not answer in time".into()),
            })
        });
        let server = tomoni_operator::serve(addr, token, handler)
            .map_err(|e| Failure::Input(format!("--operator {addr}: cannot serve the operator page: {e}")))?;
        let publisher = server.publisher();
        let audio = audio.to_string();
        ceremony.set_sink(Box::new(move |s| publisher.publish(&state_json(s, xr, &audio))));
        println!("operator: {}", server.url);
        println!("{}", server.qr_text());
        app.insert_resource(OperatorPage { url: server.url.clone(), _server: server });
    }
    app.insert_resource(ceremony);
    Ok(())
}

/// Checks the script and runs the ceremony.
pub fn run(setup: Setup, o: RunOptions, chat: crate::session::ChatArgs) -> Result<(), Failure> {
    let script = super::script::load(&o.file, &setup.assets).map_err(|e| Failure::Input(e.to_string()))?;
    let photos = match &o.headless_out {
        Some(out) => out.join("photos"),
        None => pictures_dir(),
    };
    let mut ceremony = Ceremony::new(script, photos).map_err(Failure::Input)?;
    ceremony.rehearsal = o.rehearse;
    if o.auto {
        ceremony.auto_wait = Some(0.8);
    }
    if o.rehearse {
        println!("ceremony: REHEARSAL of {:?} ({} steps)", ceremony.script().title, ceremony.script().steps.len());
    }
    let launch = CeremonyLaunch { ceremony, operator: o.operator.map(|a| (a, o.token.clone())) };
    match o.headless_out {
        Some(out) => {
            let (width, height, every) = o.frame;
            let req = crate::demo::DemoRequest {
                out,
                lines: Vec::new(),
                max_seconds: o.max_seconds,
                width,
                height,
                every,
                chat,
            };
            crate::demo::record(setup, req, Some(launch))
        }
        None => crate::app::run_ceremony(setup, o.no_xr, launch),
    }
}

/// Where photos of a live ceremony go: `$XDG_PICTURES_DIR/tomoni`, else `~/Pictures/tomoni`.
pub fn pictures_dir() -> PathBuf {
    let base = std::env::var_os("XDG_PICTURES_DIR").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join("Pictures")
    });
    base.join("tomoni")
}
