//! The live companion as a library: everything the `tomoni` binary, the headless demo, the
//! benches and the coming ceremony, photo and voice-input features share. The binary only
//! parses arguments and calls in here.
//!
//! - [`setup`]: one configuration — config, persona and avatar found and checked once;
//! - [`session`]: a conversation (persona, memory, brain, wellbeing guard), no Bevy;
//! - [`talk`]: the talk thread that owns the session, so no I/O touches the frame loop;
//! - [`bridge`]: the frame-loop side — speech with cues on the audio clock, scripted lines
//!   ([`bridge::Bridge::speak_line`]), interrupts, turn state; [`bridge::CompanionPlugin`];
//! - [`speech`], [`telemetry`]: voice output and engine; per-turn latencies;
//! - [`hearing`]: hands-free talk — the listener's events as turns, barge-ins and body language;
//! - [`control`]: the typed control plane (exactly one final reply per request) and its
//!   transports; [`commands`]: its plugin, carrying commands out in the frame loop; [`ui`], [`disclosure`]: the desktop panel, the AI label in the world;
//! - [`capture`]: one capture path (request → off-thread PNG → done), with "the scene has
//!   settled" built in;
//! - [`ceremony`], [`music`]: scripted ceremonies (checked scripts, vows prepared ahead, steps
//!   on the audio clock, operator commands) and the music beside the voice;
//! - [`photo`]: the companion stood into a real photo (`tomoni_photo` finds the people and the
//!   place; the one-frame renderer draws it through the photo's lens);
//! - [`app`], [`render`], [`demo`], [`doctor`]: the app assembled for each mode.
//!
//! ```no_run
//! let setup = tomoni_companion::app::prepare(&tomoni_companion::setup::SceneArgs::default()).unwrap();
//! tomoni_companion::app::run_interactive(setup, false, None, None).unwrap();
//! ```

pub mod app;
pub mod bridge;
pub mod capture;
pub mod ceremony;
pub mod commands;
pub mod control;
pub mod demo;
pub mod disclosure;
pub mod doctor;
pub mod error;
pub mod hearing;
pub mod music;
pub mod photo;
pub mod render;
pub mod session;
pub mod setup;
pub mod speech;
pub mod talk;
pub mod telemetry;
pub mod ui;

pub use error::Failure;
pub use setup::SceneArgs;
