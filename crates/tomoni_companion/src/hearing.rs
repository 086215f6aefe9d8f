//! Hands-free talk in the live app: the listener (`tomoni_listen`, on threads of its own) hears
//! the person; here, in the frame loop, its events become turns, barge-ins and body language.
//! Nothing here blocks: events are drained with `try_recv`.
//!
//! - the person starts to speak → the companion looks at them in its listening posture, and if
//!   it was speaking its voice ducks at once; it nods when they pause;
//! - speech confirmed while it speaks → barge-in: silent from the next audio block, the reply
//!   cancelled at the language model and stored as interrupted;
//! - the words arrive → a turn, timed from the end of the person's speech (voice to voice).

use crate::bridge::Bridge;
use bevy::prelude::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tomoni_core::TomoniSystems;
use tomoni_core::behaviour::{Conversation, Gesture, GestureCue, TextEntry};
use tomoni_core::config::ListenSettings;
use tomoni_listen::audio::AudioSource;
use tomoni_listen::listener::{Ears, ListenEvent, Listener};

/// How far the voice drops when the person may be starting to speak (−14 dB).
pub const DUCK_GAIN: f32 = 0.2;

/// A duck with no confirmed speech after this long was a false alarm: full voice again.
const DUCK_HOLD: Duration = Duration::from_millis(600);

/// Words the person said while a script held the ears ([`Hearing::scripted`]): they go to the
/// script (a ceremony's `listen` step), not to the language model.
#[derive(Message, Debug, Clone)]
pub struct Heard(pub String);

/// Where the person's voice comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HearFrom {
    /// The default microphone, if there is one.
    Microphone,
    /// A recording played as if spoken now (`tomoni run --mic-wav`, tests).
    Wav(PathBuf),
    /// A recording spoken each time the ears open: a ceremony's stand-in for the person
    /// (`tomoni ceremony run --mic-wav`: their "I do" in every listen step).
    Cue(PathBuf),
}

/// The listener in the app, and what it shows.
#[derive(Resource)]
pub struct Hearing {
    listener: Listener,
    /// "listening...", the last words heard, or why listening stopped: the panel and XR label.
    pub status: String,
    /// Only while the push-to-talk key (Space) or the controller's grip is held
    /// (`[listen] push_to_talk`).
    pub push_to_talk: bool,
    /// Held by a script (a ceremony): `Some(open)` opens the ears only when it says, sends
    /// the words as [`Heard`] instead of a turn, and never barges in (guests' voices must not
    /// cut into the vows). `None`: conversation.
    pub scripted: Option<bool>,
    /// The source, in words.
    pub source: String,
    ducked: Option<Instant>,
    /// Wall time when the person's last utterance ended (its last voiced sample).
    speech_ended: Option<(Instant, f64)>,
    /// Utterances begun whose words have not come yet (the person is speaking, or their words
    /// are being transcribed while they go on).
    pub in_flight: u32,
    /// Utterances heard (tests and the demo timeline).
    pub heard: Vec<String>,
    /// Times the person talked over the companion.
    pub barge_ins: u32,
    /// When the person last stopped speaking (wall clock; the turn's latencies count from it).
    pub last_end: Option<Instant>,
}

impl Hearing {
    /// The listener itself (benches switch its measuring knobs).
    pub fn listener(&self) -> &Listener {
        &self.listener
    }

    /// Starts listening for the live app; the error says why not (no microphone, no model),
    /// and the app goes on with typing.
    pub fn start(settings: &ListenSettings, from: HearFrom, bridge: &Bridge) -> Result<Self, String> {
        use tomoni_listen::{audio::WavSource, mic::MicSource};
        let (source, name): (Box<dyn AudioSource>, String) = match from {
            HearFrom::Microphone => {
                let m = MicSource::open().map_err(|e| e.to_string())?;
                let name = format!("microphone {}", m.name);
                (Box::new(m), name)
            }
            HearFrom::Wav(p) => (
                Box::new(WavSource::open(&p, true).map_err(|e| e.to_string())?),
                format!("{} (as a microphone)", p.display()),
            ),
            HearFrom::Cue(p) => (
                Box::new(WavSource::cued(&p).map_err(|e| e.to_string())?),
                format!("{} (spoken whenever the ears open)", p.display()),
            ),
        };
        Self::start_with(settings, source, name, bridge)
    }

    /// The same over any source (tests feed speech on cue).
    pub fn start_with(
        settings: &ListenSettings,
        source: Box<dyn AudioSource>,
        name: String,
        bridge: &Bridge,
    ) -> Result<Self, String> {
        use tomoni_listen::{stt, vad};
        let vad = vad::SileroVad::load(&vad::default_model()).map_err(|e| e.to_string())?;
        // One thread for Whisper: the frame loop keeps the other core of a 2-core machine. (Two
        // threads cut voice to voice from 1158 to 907 ms but raised the frame loop's p99 from
        // 0.8 to 1.6 ms even at nice 19: docs/benchmarks.md.)
        let rec = stt::from_settings(settings, 1).map_err(|e| e.to_string())?;
        let what = rec.describe();
        let mut ears = Ears::new(vad, settings.into());
        ears.speculate = true; // the words are ready soon after the end-of-speech silence
        let listener = Listener::start(source, ears, rec, bridge.take_playback_tap(), false)
            .map_err(|e| format!("cannot start listening: {e}"))?;
        Ok(Self {
            listener,
            status: String::new(),
            push_to_talk: settings.push_to_talk,
            scripted: None,
            source: format!("{name}, words by {what}"),
            ducked: None,
            speech_ended: None,
            heard: Vec::new(),
            in_flight: 0,
            barge_ins: 0,
            last_end: None,
        })
    }
}

/// Listens to the person (add with a [`Hearing`] resource inserted).
pub struct HearingPlugin;

impl Plugin for HearingPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Conversation>()
            .init_resource::<TextEntry>()
            .add_message::<GestureCue>()
            .add_message::<Heard>()
            .add_systems(Update, hear.in_set(TomoniSystems::Input));
    }
}

fn hear(
    mut hearing: ResMut<Hearing>,
    mut bridge: ResMut<Bridge>,
    mut conversation: ResMut<Conversation>,
    keys: Option<Res<ButtonInput<KeyCode>>>,
    talk_button: Option<Res<tomoni_core::TalkButton>>,
    typing: Res<TextEntry>,
    mut gestures: MessageWriter<GestureCue>,
    mut scripted_words: MessageWriter<Heard>,
) {
    // Changed (for the panel and label) only when something was heard, not every frame.
    let h = hearing.bypass_change_detection();
    let speaking = bridge.voice_active();
    h.listener.set_companion_speaking(speaking);
    if let Some(open) = h.scripted {
        h.listener.set_open(open);
        if !open {
            h.in_flight = 0;
        }
    } else if h.push_to_talk {
        // Space on the desktop; the controller's grip in glasses.
        let held = (!typing.0 && keys.is_some_and(|k| k.pressed(KeyCode::Space))) || talk_button.is_some_and(|t| t.0);
        h.listener.set_open(held);
    }
    let scripted = h.scripted.is_some();
    let mut had_events = false;
    while let Ok(ev) = h.listener.events.try_recv() {
        had_events = true;
        match ev {
            ListenEvent::Voice { .. } => {
                if speaking && !scripted {
                    bridge.duck(DUCK_GAIN);
                    h.ducked = Some(Instant::now());
                }
            }
            ListenEvent::Started { barge_in, .. } => {
                if !scripted && (barge_in || speaking || !bridge.turn_ended()) {
                    bridge.barge_in();
                    h.barge_ins += 1;
                    info!("barge-in: the person spoke over the companion");
                }
                h.ducked = None;
                h.in_flight += 1;
                h.status = "listening...".into();
                *conversation = Conversation::Listening;
            }
            // The words up to a pause, while they still speak (not once the end is decided:
            // the transcript is a moment away).
            ListenEvent::Partial { text } if h.speech_ended.is_none() => h.status = format!("listening... {text}"),
            ListenEvent::Partial { .. } => {}
            // A pause in what they say: the companion nods (yes, I am following).
            ListenEvent::Pause { .. } => {
                if *conversation == Conversation::Listening {
                    gestures.write(GestureCue::Procedural(Gesture::Nod));
                }
            }
            ListenEvent::Ended { last_voiced_ms, decided_ms, .. } => {
                // The decision came (decided − last voiced) after they stopped; the event
                // reached us now: the end of their speech was that long ago.
                let ago = Duration::from_secs_f64(((decided_ms - last_voiced_ms) / 1000.0).max(0.0));
                h.speech_ended =
                    Some((Instant::now().checked_sub(ago).unwrap_or_else(Instant::now), decided_ms - last_voiced_ms));
                h.status = "…".into();
            }
            ListenEvent::Transcript { text, transcribe_wall_ms, .. } => {
                h.in_flight = h.in_flight.saturating_sub(1);
                let (ended, vad_ms) = h.speech_ended.take().unwrap_or((Instant::now(), 0.0));
                h.last_end = Some(ended);
                if text.is_empty() {
                    h.status.clear();
                    if *conversation == Conversation::Listening && !scripted {
                        *conversation = Conversation::Idle;
                    }
                } else {
                    if scripted {
                        info!("heard (for the script): {text}");
                        h.status = format!("heard: {text}");
                        scripted_words.write(Heard(text.clone()));
                    } else {
                        info!("heard: {text}");
                        bridge.say_heard(&text, ended.elapsed(), vad_ms, transcribe_wall_ms);
                        h.status = format!("you said: {text}");
                    }
                    h.heard.push(text);
                }
            }
            ListenEvent::Failed { reason } => {
                h.in_flight = 0;
                warn!("listening: {reason}");
                h.status = format!("not listening: {reason}");
            }
        }
    }
    if h.ducked.is_some_and(|t| t.elapsed() > DUCK_HOLD) {
        bridge.duck(1.0);
        h.ducked = None;
    }
    if had_events {
        hearing.set_changed();
    }
}
