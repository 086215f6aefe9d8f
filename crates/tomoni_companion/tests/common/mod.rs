//! A companion app on `MinimalPlugins` for the library's tests: the real bridge, talk thread,
//! session (a SQLite file in the test's own folder) and the default persona's speaker (Piper, or
//! espeak-ng where Piper is not set up), on the offline clock
//! the test drives with `app.update()`.

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use std::path::PathBuf;
use std::time::Duration;
use tomoni_companion::bridge::{Bridge, CompanionPlugin};
use tomoni_companion::session::{Brain, Session};
use tomoni_companion::speech::{Output, voice_engine};
use tomoni_companion::talk::start_talk;
use tomoni_core::TomoniSystems;
use tomoni_persona::memory::Memory;
use tomoni_persona::persona::Persona;
use tomoni_persona::wellbeing::Policy;
use tomoni_voice::speaker::Speaker;

/// A folder of the test's own under the target dir.
pub fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("companion-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The live companion's bridge over the offline brain (scripted lines) and a real voice.
pub fn bridge(name: &str, policy: Policy) -> Bridge {
    bridge_with(name, Brain::Offline, policy)
}

/// The same over another brain.
pub fn bridge_with(name: &str, brain: Brain, policy: Policy) -> Bridge {
    let persona = Persona::default_persona();
    let memory = Memory::open(&dir(name).join("memory.sqlite3")).unwrap();
    let fallback = persona.fallback_line.clone();
    let (speaker, data) = Speaker::start(voice_engine(&persona.voice)).unwrap();
    let session = Session::new(persona, memory, brain, policy);
    Bridge::new(start_talk(session).unwrap(), speaker, Output::offline(data, false), fallback)
}

/// `MinimalPlugins` + the companion, one update = 1/60 s of audio.
pub fn app(bridge: Bridge) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(1.0 / 60.0)))
        .configure_sets(
            Update,
            (TomoniSystems::Input, TomoniSystems::Dialogue, TomoniSystems::Behaviour, TomoniSystems::Pose).chain(),
        )
        .insert_resource(bridge)
        .add_plugins(CompanionPlugin);
    app
}

/// Updates until `done` holds (the talk and speaker threads work in real time meanwhile),
/// at most `max` updates; returns how many it took.
#[expect(clippy::disallowed_methods, reason = "the test gives the talk and speaker threads time")]
pub fn run_until(app: &mut App, max: usize, mut done: impl FnMut(&mut App) -> bool) -> usize {
    for i in 0..max {
        app.update();
        if done(app) {
            return i + 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("not done after {max} updates");
}
