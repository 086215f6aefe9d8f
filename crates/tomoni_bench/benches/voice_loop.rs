//! Voice to voice, end to end through the live companion (`tomoni_companion::hearing` and the
//! bridge on `MinimalPlugins`, at 60 frames a second in real time): a person's utterance of
//! 1–6 s arrives at the pace of speech from a microphone source → Silero VAD → Whisper tiny.en
//! in process → the talk thread → an OpenAI-compatible SSE server on loopback that answers at
//! once (a fast LLM assumed; the condition) → the clause chunker → the persona's voice
//! (Piper) → the reply's first sample queued for playback.
//!
//! Voice to voice counts from the last voiced sample of the utterance (found in the audio
//! itself, −40 dB of its peak), not from the VAD's decision. Prints medians of each stage over
//! the utterances of two voices (espeak-ng and Piper speak the person), from one run.

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tomoni_companion::bridge::{Bridge, CompanionPlugin};
use tomoni_companion::hearing::{Hearing, HearingPlugin};
use tomoni_core::TomoniSystems;
use tomoni_core::behaviour::Conversation;
use tomoni_listen::ListenError;
use tomoni_listen::audio::{AudioSource, RATE, resample};
use tomoni_listen::listener::Pieces;

/// What a person says, 1 to 6 seconds.
const SAID: &[&str] = &[
    "Hello there.",
    "How are you today?",
    "Can you remind me to call my sister tomorrow?",
    "I had a long day at work and I would like to rest.",
    "Tell me something nice about the sea, the boats and the light on the water.",
    "Yesterday I walked to the old market with my friend, we bought bread and apples, and sat by the river.",
];

/// Other sentences of the same lengths, to tune on (`TOMONI_VOICE_LOOP=tune`, the shipped
/// end-of-speech silence only): what is reported is measured on [`SAID`], which nothing was
/// tuned on.
const TUNE: &[&str] = &[
    "What time is it?",
    "Good morning, did you sleep well?",
    "Let's go for a walk after lunch, if the rain stops.",
    "My mother called me this morning and she sounded happy.",
    "Could you tell me a short story about a cat who lives in a lighthouse?",
    "When I was a child, we spent every summer at my grandmother's house near the mountains, and I still miss it.",
];

/// An OpenAI-compatible endpoint that answers every request at once, fast.
fn serve() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let _ = tomoni_bench::read_request(&s);
                let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n");
                for w in ["Of ", "course. ", "I ", "will ", "remember ", "that ", "for ", "you."] {
                    let chunk = serde_json::json!({"choices": [{"delta": {"content": w}}]});
                    let _ = write!(s, "data: {chunk}\n\n").and_then(|()| s.flush());
                    std::thread::sleep(Duration::from_millis(5)); // 200 tokens/s
                }
                let _ =
                    s.write_all(b"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
            });
        }
    });
    url
}

/// A microphone: a quiet room, and each utterance handed in played at the pace of speech.
struct Mic {
    next: mpsc::Receiver<(Vec<f32>, mpsc::Sender<Instant>)>,
    playing: Option<(Vec<f32>, Instant, usize)>,
    t_last: Instant,
}

impl AudioSource for Mic {
    fn read(&mut self, out: &mut Vec<f32>, _: Duration) -> Result<bool, ListenError> {
        std::thread::sleep(Duration::from_millis(10));
        let now = Instant::now();
        let due = ((now - self.t_last).as_secs_f64() * f64::from(RATE)) as usize;
        self.t_last = now;
        if self.playing.is_none()
            && let Ok((speech, started)) = self.next.try_recv()
        {
            let _ = started.send(now);
            self.playing = Some((speech, now, 0));
        }
        match &mut self.playing {
            Some((speech, _, at)) => {
                let end = (*at + due).min(speech.len());
                out.extend_from_slice(&speech[*at..end]);
                out.extend(std::iter::repeat_n(0.0, due - (end - *at)));
                *at = end;
                if *at >= speech.len() {
                    self.playing = None;
                }
            }
            None => out.extend(std::iter::repeat_n(0.0, due)),
        }
        Ok(true)
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if !filter.is_empty() && !filter.iter().any(|f| "voice-loop".contains(f.as_str())) {
        return;
    }
    let data = std::env::temp_dir().join(format!("tomoni-bench-voice-loop-{}", std::process::id()));
    // The talk thread's memory goes to a folder of this run's own.
    tomoni_bench::set_data_dir(&data);
    let url = serve();
    // `cargo bench` (it passes `--bench`): the shipped end-of-speech silence and a quicker one
    // (the `[listen]` knob's cost), every utterance. `cargo test --all-targets`: a smoke run of
    // the whole path on the two shortest, so CI stays quick.
    let full = std::env::args().any(|a| a == "--bench");
    if std::env::var("TOMONI_VOICE_LOOP").is_ok_and(|v| v == "tune") {
        for pieces in [Pieces::Auto, Pieces::Whole, Pieces::Split] {
            run(&url, &Ears { pieces, ..Ears::SHIPPED }, TUNE, false);
        }
        let base = Ears { model: "base", ..Ears::SHIPPED };
        for pieces in [Pieces::Auto, Pieces::Whole, Pieces::Split] {
            run(&url, &Ears { pieces, ..base }, TUNE, false);
        }
    } else if full {
        // The shipped ears, a quicker end of speech (the `[listen]` knob's cost), and each way
        // of transcribing an utterance that went on after a pause, with Whisper tiny.en and
        // with the slower multilingual base (the Japanese model, or a slower machine).
        let base = Ears { model: "base", ..Ears::SHIPPED };
        for ears in [
            Ears::SHIPPED,
            Ears { end_silence_ms: 300, ..Ears::SHIPPED },
            Ears { pieces: Pieces::Whole, ..Ears::SHIPPED },
            Ears { pieces: Pieces::Split, ..Ears::SHIPPED },
            base,
            Ears { pieces: Pieces::Whole, ..base },
            Ears { pieces: Pieces::Split, ..base },
        ] {
            run(&url, &ears, SAID, false);
        }
    } else {
        run(&url, &Ears::SHIPPED, &SAID[..2], true);
    }
    let _ = std::fs::remove_dir_all(&data);
    tomoni_voice::onnx::quiesce(); // no thread may be inside ONNX Runtime as it is torn down
}

/// How the companion listens in one run.
#[derive(Clone, Copy)]
struct Ears {
    end_silence_ms: u32,
    pieces: Pieces,
    /// `tiny.en` or `base` (multilingual, about three times slower).
    model: &'static str,
}

impl Ears {
    const SHIPPED: Ears = Ears { end_silence_ms: 500, pieces: Pieces::Auto, model: "tiny.en" };
}

/// `strict`: every utterance must be answered (the smoke run is a test).
fn run(url: &str, ears: &Ears, said: &[&str], strict: bool) {
    let end_silence_ms = ears.end_silence_ms;
    let chat = tomoni_companion::session::ChatArgs { endpoint: Some(url.into()), ..Default::default() };
    let r = chat.resolve().expect("config");
    let (bridge, label) = tomoni_companion::bridge::open(&r.config, r.persona, &chat, Some(false)).expect("bridge");
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(1.0 / 60.0)))
        .configure_sets(
            Update,
            (TomoniSystems::Input, TomoniSystems::Dialogue, TomoniSystems::Behaviour, TomoniSystems::Pose).chain(),
        )
        .add_plugins(CompanionPlugin);
    let (tx, rx) = mpsc::channel();
    let mic = Mic { next: rx, playing: None, t_last: Instant::now() };
    let model =
        if ears.model == "base" { tomoni_listen::stt::model_for("ja") } else { tomoni_listen::stt::default_model() };
    let settings = tomoni_core::config::ListenSettings {
        end_silence_ms,
        model_path: model.display().to_string(),
        ..r.config.listen.clone()
    };
    let hearing = Hearing::start_with(&settings, Box::new(mic), "bench microphone".into(), &bridge).expect("listening");
    hearing.listener().set_pieces(ears.pieces);
    let how = format!("{:?}", ears.pieces);
    println!("voice-loop: end-of-speech silence {end_silence_ms} ms, pieces {how}; {label}; ears: {}", hearing.source);
    app.insert_resource(bridge).insert_resource(hearing).add_plugins(HearingPlugin);

    let person_voices = [
        (
            "espeak-ng en-us+f2",
            tomoni_voice::speaker::VoiceEngine::Espeak(tomoni_voice::espeak::EspeakVoice {
                voice: "en-us+f2".into(),
                rate: 170,
                pitch: 60,
            }),
        ),
        (
            "piper en_US-joe-medium",
            tomoni_companion::speech::voice_engine(&tomoni_persona::persona::VoiceSettings::default()),
        ),
    ];
    let frame = |app: &mut App| {
        let t = Instant::now();
        app.update();
        std::thread::sleep(Duration::from_micros(16_667).saturating_sub(t.elapsed()));
    };
    let (mut v2v, mut vad, mut stt, mut handoff, mut token, mut clause, mut synth, mut tail, mut secs) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut words = (0usize, 0.0f64);
    let mut cut = 0;
    let mut unanswered = 0;
    for (who, engine) in &person_voices {
        for text in said {
            let (s, _) = engine.synthesize_once(text).expect("the person's voice");
            let x: Vec<f32> = s.samples.iter().map(|&v| f32::from(v) / 32768.0).collect();
            let mut speech = resample(&x, s.sample_rate, RATE);
            let peak = speech.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let last_voiced = speech.iter().rposition(|v| v.abs() > peak * 0.01).unwrap_or(0);
            speech.truncate(last_voiced + RATE as usize / 50);
            // Wait for the companion to be quiet, then speak.
            while *app.world().resource::<Conversation>() != Conversation::Idle
                || app.world().resource::<Bridge>().voice_active()
            {
                frame(&mut app);
            }
            let turns = app.world().resource::<Hearing>().heard.len();
            let last_turn = app.world().resource::<Bridge>().last.map_or(0, |l| l.turn);
            let (started_tx, started_rx) = mpsc::channel();
            tx.send((speech, started_tx)).unwrap();
            let began = loop {
                frame(&mut app);
                if let Ok(t) = started_rx.try_recv() {
                    break t;
                }
            };
            let true_end = began + Duration::from_secs_f64(last_voiced as f64 / f64::from(RATE));
            let deadline = Instant::now() + Duration::from_secs(60);
            // The turn that answers the end of it: a short end-of-speech silence may cut the
            // utterance at a pause into several turns, each talking over the last.
            let answered = loop {
                frame(&mut app);
                let b = app.world().resource::<Bridge>();
                let h = app.world().resource::<Hearing>();
                let at_end = h.last_end.is_some_and(|e| e + Duration::from_millis(300) >= true_end);
                if at_end && let Some(l) = b.last.filter(|l| l.turn > last_turn && l.first_audio.is_some()) {
                    break Some(l);
                }
                if Instant::now() > deadline {
                    break None;
                }
            };
            let Some(l) = answered else {
                // Cut at a pause, and the last piece held no words: the companion, talked
                // over, waits to be spoken to again.
                let h = app.world().resource::<Hearing>();
                println!("voice-loop: {who:<24} NO ANSWER within 60 s to {text:?}; heard {:?}", &h.heard[turns..]);
                unanswered += 1;
                assert!(!strict, "no answer to {text:?} ({who})");
                continue;
            };
            let h = app.world().resource::<Hearing>();
            let pieces = h.heard.len() - turns;
            cut += usize::from(pieces > 1);
            let heard = h.heard[turns..].join(" ");
            let ended = h.last_end.expect("an end of speech");
            // From the true end of speech: the VAD's idea of it is a chunk of 32 ms away.
            let skew = (ended.max(true_end) - ended.min(true_end)).as_secs_f64() * 1000.0;
            let skew = if ended >= true_end { skew } else { -skew };
            let total = l.first_audio.unwrap() + skew;
            let wer = tomoni_listen::stt::word_error_rate(text, &heard);
            words.0 += text.split_whitespace().count();
            words.1 += wer * text.split_whitespace().count() as f64;
            println!(
                "voice-loop: {who:<24} {:>4.1} s  voice to voice {total:>6.0} ms  (VAD {:>4.0}, STT {:>4.0}, first token {:>4.0}, first clause {:>4.0}, first audio {:>4.0}; VAD end vs true {skew:+.0})  WER {:.2} {heard:?}{}",
                last_voiced as f64 / f64::from(RATE),
                l.vad.unwrap(),
                l.stt.unwrap(),
                l.first_token.unwrap_or(f64::NAN),
                l.first_clause.unwrap_or(f64::NAN),
                l.first_audio.unwrap(),
                wer,
                if pieces > 1 { format!(" CUT into {pieces} turns") } else { String::new() }
            );
            secs.push(last_voiced as f64 / f64::from(RATE));
            v2v.push(total);
            vad.push(l.vad.unwrap());
            stt.push(l.stt.unwrap());
            handoff.push(l.heard.unwrap() - l.vad.unwrap() - l.stt.unwrap());
            token.push(l.first_token.unwrap_or(f64::NAN) - l.heard.unwrap());
            clause.push(l.first_clause.unwrap_or(f64::NAN) - l.first_token.unwrap_or(f64::NAN));
            synth.push(l.first_audio.unwrap() - l.first_clause.unwrap_or(f64::NAN));
            tail.push(skew);
        }
    }
    println!(
        "voice-loop: end-of-speech silence {end_silence_ms} ms, pieces {how}, {}: medians over {} utterances of {:.1}–{:.1} s: voice to voice {:.0} ms = end-of-speech decision {:.0} + transcription {:.0} + hand-off {:.0} + first token {:.0} + first clause {:.0} + synthesis {:.0} (+ VAD end vs true end {:+.0}); word error rate {:.1} %; utterances cut at a pause: {cut}, left unanswered: {unanswered}",
        ears.model,
        v2v.len(),
        secs.iter().cloned().fold(f64::INFINITY, f64::min),
        secs.iter().cloned().fold(0.0, f64::max),
        median(&mut v2v),
        median(&mut vad),
        median(&mut stt),
        median(&mut handoff),
        median(&mut token),
        median(&mut clause),
        median(&mut synth),
        median(&mut tail),
        words.1 / words.0 as f64 * 100.0,
    );
}
