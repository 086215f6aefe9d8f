//! Hands-free talk through the live companion on `MinimalPlugins`: real Silero VAD, real
//! Whisper, real speech (espeak-ng for the person; the companion's own voice), the real talk
//! thread. A spoken question becomes a turn timed from the end of speech; speaking over the
//! companion silences it from the next audio block and cancels the reply at the model.

mod common;

use common::{app, run_until};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tomoni_companion::bridge::Bridge;
use tomoni_companion::control::{ControlReply, Replier};
use tomoni_companion::hearing::{Hearing, HearingPlugin};
use tomoni_core::behaviour::{Conversation, Gesture, GestureCue};
use tomoni_core::config::ListenSettings;
use tomoni_listen::ListenError;
use tomoni_listen::audio::{AudioSource, RATE, resample};
use tomoni_persona::wellbeing::Policy;

fn ready() -> bool {
    let ok = tomoni_listen::vad::default_model().is_file()
        && tomoni_listen::stt::default_model().is_file()
        && tomoni_voice::onnx::check_runtime().is_ok();
    assert!(ok || std::env::var_os("TOMONI_TEST_LISTEN").is_none(), "the listening models are not set up");
    ok
}

/// The person's words, as espeak-ng says them, at 16 kHz, peak 0.9 (a mic near the mouth).
fn person(text: &str) -> Vec<f32> {
    let voice = tomoni_voice::espeak::EspeakVoice { voice: "en-us+f2".into(), rate: 170, pitch: 60 };
    let s = tomoni_voice::espeak::synthesize(text, &voice).unwrap();
    let x: Vec<f32> = s.samples.iter().map(|&v| f32::from(v) / 32768.0).collect();
    let x = resample(&x, s.sample_rate, RATE);
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    x.iter().map(|v| v * 0.9 / peak).collect()
}

/// A microphone that hears silence until `cue`, then the person, at the pace of speech.
struct OnCue {
    cue: Arc<AtomicBool>,
    speech: Vec<f32>,
    started: Option<std::time::Instant>,
    at: usize,
}

impl AudioSource for OnCue {
    #[expect(clippy::disallowed_methods, reason = "a microphone's pace, on the listener's thread")]
    fn read(&mut self, out: &mut Vec<f32>, _: std::time::Duration) -> Result<bool, ListenError> {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let Some(t0) = self.started else {
            out.extend(std::iter::repeat_n(0.0, 320)); // 20 ms of a quiet room
            if self.cue.load(Ordering::Relaxed) {
                self.started = Some(std::time::Instant::now());
            }
            return Ok(true);
        };
        let until =
            ((t0.elapsed().as_secs_f64() * f64::from(RATE)) as usize).min(self.speech.len() + RATE as usize * 2);
        for i in self.at..until {
            out.push(self.speech.get(i).copied().unwrap_or(0.0));
        }
        self.at = until.max(self.at);
        Ok(true)
    }
}

fn with_hearing(mut app: bevy::app::App, source: OnCue) -> bevy::app::App {
    let settings = ListenSettings::default();
    let hearing = {
        let bridge = app.world().resource::<Bridge>();
        Hearing::start_with(&settings, Box::new(source), "test microphone".into(), bridge).unwrap()
    };
    app.insert_resource(hearing).add_plugins(HearingPlugin);
    app
}

#[test]
fn a_spoken_question_becomes_a_turn_timed_from_the_end_of_speech() {
    if !ready() {
        return;
    }
    let cue = Arc::new(AtomicBool::new(true));
    let said = "Can you remind me to call my sister tomorrow?";
    let source = OnCue { cue, speech: person(said), started: None, at: 0 };
    let mut app = with_hearing(app(common::bridge("hear", Policy::default())), source);
    app.init_resource::<Nods>().add_systems(bevy::app::Update, count_nods);
    run_until(&mut app, 20_000, |a| a.world().resource::<Bridge>().last.is_some_and(|l| l.heard.is_some()));
    // It nodded when the person paused (at the end of what they said, before it answered).
    assert!(app.world().resource::<Nods>().0 >= 1, "no nod");
    let heard = app.world().resource::<Hearing>().heard.clone();
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert!(tomoni_listen::stt::word_error_rate(said, &heard[0]) <= 0.2, "{heard:?}");
    let l = app.world().resource::<Bridge>().last.unwrap();
    println!("{}", l.line());
    let (heard_ms, vad, stt) = (l.heard.unwrap(), l.vad.unwrap(), l.stt.unwrap());
    // The end-of-speech decision is the configured 500 ms of silence (to a 32 ms chunk).
    assert!((468.0..=564.0).contains(&vad), "{}", l.line());
    // What was heard waited for the decision and the transcription, and little else (the
    // decision's wall time is known to the 32 ms chunk it was made on).
    assert!(heard_ms >= vad + stt - 32.0 && heard_ms <= vad + stt + 300.0, "{}", l.line());
    // The reply's first audio comes after that: voice to voice.
    assert!(l.first_audio.unwrap() > heard_ms, "{}", l.line());
}

#[derive(bevy::prelude::Resource, Default)]
struct Statuses(Vec<String>);

fn note_status(h: bevy::prelude::Res<Hearing>, mut seen: bevy::prelude::ResMut<Statuses>) {
    if seen.0.last() != Some(&h.status) {
        seen.0.push(h.status.clone());
    }
}

#[test]
fn the_words_up_to_a_pause_show_while_the_person_goes_on() {
    if !ready() {
        return;
    }
    let (first, second) = ("I went to the market this morning.", "Then I made soup for my family.");
    // The first sentence without espeak-ng's own trailing silence, then 300 ms: long enough to
    // transcribe at (200 ms), too short to end the utterance (500 ms).
    let mut speech = person(first);
    let peak = speech.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    speech.truncate(speech.iter().rposition(|v| v.abs() > peak * 0.01).unwrap_or(0) + 1);
    speech.extend(std::iter::repeat_n(0.0, RATE as usize * 3 / 10));
    speech.extend(person(second));
    let source = OnCue { cue: Arc::new(AtomicBool::new(true)), speech, started: None, at: 0 };
    let mut app = with_hearing(app(common::bridge("partial", Policy::default())), source);
    app.init_resource::<Statuses>().add_systems(bevy::app::Update, note_status);
    run_until(&mut app, 20_000, |a| a.world().resource::<Bridge>().last.is_some_and(|l| l.heard.is_some()));
    let seen = &app.world().resource::<Statuses>().0;
    let heard = &app.world().resource::<Hearing>().heard;
    // One utterance, both sentences in it; before it was over, the first one showed.
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert!(tomoni_listen::stt::word_error_rate(&format!("{first} {second}"), &heard[0]) <= 0.2, "{heard:?}");
    let partial = seen.iter().position(|s| s.starts_with("listening... ") && s.contains("market"));
    let done = seen.iter().position(|s| s.starts_with("you said: "));
    assert!(partial.is_some_and(|p| done.is_some_and(|d| p < d)), "{seen:?}");
    assert!(!seen[partial.unwrap()].contains("soup"), "the partial came after the end: {seen:?}");
}

#[derive(bevy::prelude::Resource, Default)]
struct Nods(usize);

fn count_nods(mut cues: bevy::prelude::MessageReader<GestureCue>, mut nods: bevy::prelude::ResMut<Nods>) {
    nods.0 += cues.read().filter(|c| matches!(c, GestureCue::Procedural(Gesture::Nod))).count();
}

/// An SSE server on loopback that streams a long reply slowly.
#[expect(clippy::disallowed_methods, reason = "the loopback server paces its stream")]
fn slow_llm() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Write;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", l.local_addr().unwrap());
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = sent.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let count = count.clone();
            std::thread::spawn(move || {
                let _ = tomoni_bench::read_request(&s);
                let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n");
                for i in 0..400 {
                    let w = if i % 8 == 7 { "story. " } else { "long " };
                    let chunk = serde_json::json!({"choices": [{"delta": {"content": w}}]});
                    if write!(s, "data: {chunk}\n\n").and_then(|()| s.flush()).is_err() {
                        return; // the client hung up: cancelled
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(std::time::Duration::from_millis(40));
                }
                let _ = s.write_all(b"data: [DONE]\n\n");
            });
        }
    });
    (url, sent)
}

#[test]
fn speaking_over_the_companion_silences_it_within_a_block_and_cancels_the_reply() {
    if !ready() {
        return;
    }
    let (url, tokens) = slow_llm();
    let llm = tomoni_persona::client::LlmConfig { base_url: url, ..Default::default() };
    let brain =
        tomoni_companion::session::Brain::Llm(Box::new(tomoni_persona::client::DialogueService::start(llm).unwrap()));
    let cue = Arc::new(AtomicBool::new(false));
    let source =
        OnCue { cue: cue.clone(), speech: person("Wait, sorry, can I ask you something?"), started: None, at: 0 };
    let mut app = with_hearing(app(common::bridge_with("barge-voice", brain, Policy::default())), source);
    let (first, first_rx) = Replier::channel();
    app.world_mut().resource_mut::<Bridge>().say("tell me a long story", Some(first));
    run_until(&mut app, 5000, |a| *a.world().resource::<Conversation>() == Conversation::Speaking);
    // The person starts talking while the companion speaks.
    cue.store(true, Ordering::Relaxed);
    run_until(&mut app, 20_000, |a| a.world().resource::<Hearing>().barge_ins > 0);
    // The update that confirmed the barge-in stopped the speaker: from the next block on,
    // nothing of the old reply is left to play.
    assert_eq!(app.world().resource::<Bridge>().pending_samples(), 0);
    app.update();
    assert_eq!(app.world().resource::<Bridge>().pending_samples(), 0);
    // The reply is cancelled at the model: its request gets its one final reply, interrupted,
    // and the stream stops (no more tokens asked for).
    let mut got = Vec::new();
    run_until(&mut app, 500, |_| {
        got.extend(first_rx.try_iter());
        got.iter().any(ControlReply::is_final)
    });
    assert!(matches!(got.last(), Some(ControlReply::Interrupted(_))), "{got:?}");
    let at_cancel = tokens.load(Ordering::Relaxed);
    let mut n = 0;
    run_until(&mut app, 100, |_| {
        n += 1;
        n >= 20 // the threads run meanwhile
    });
    let later = tokens.load(Ordering::Relaxed);
    assert!(later <= at_cancel + 2, "the model went on streaming: {at_cancel} then {later} tokens");
    // And the person's words become the next turn.
    run_until(&mut app, 20_000, |a| !a.world().resource::<Hearing>().heard.is_empty());
    let heard = app.world().resource::<Hearing>().heard.clone();
    assert!(heard[0].to_lowercase().contains("ask you"), "{heard:?}");
}
