//! Barge-in, deterministic: the companion speaks (Piper, its noise draws off so that it reads
//! alike every run), its voice comes back into the microphone (delayed, attenuated, with room
//! noise), and a person (espeak-ng, another voice) talks over it. Real Silero VAD, real speech,
//! chunk-exact timing.
//!
//! Measured both ways the issue names: raising the VAD threshold while the companion speaks,
//! and gating with the known playback signal ([`tomoni_listen::echo`]). The gate is what the
//! listener uses; the raise is kept here to show why it is not.

use tomoni_listen::audio::{RATE, resample};
use tomoni_listen::echo::EchoGate;
use tomoni_listen::listener::{Ears, ListenEvent};
use tomoni_listen::vad::{CHUNK, SileroVad, VadConfig};
use tomoni_voice::espeak::EspeakVoice;
use tomoni_voice::speaker::VoiceEngine;

fn ready() -> bool {
    let ok = tomoni_listen::vad::default_model().is_file()
        && tomoni_voice::onnx::check_runtime().is_ok()
        && tomoni_voice::piper::PiperSpec::find(tomoni_voice::piper::DEFAULT_VOICE).is_ok();
    assert!(ok || std::env::var_os("TOMONI_TEST_LISTEN").is_none(), "the listening models are not set up");
    ok
}

/// Speech at its own rate, as −1..1.
fn speak(engine: &VoiceEngine, text: &str) -> (u32, Vec<f32>) {
    let (s, _) = engine.synthesize_once(text).unwrap();
    (s.sample_rate, s.samples.iter().map(|&v| f32::from(v) / 32768.0).collect())
}

struct Scene {
    /// What the companion plays, at its rate.
    played: Vec<f32>,
    played_rate: u32,
    /// The microphone at 16 kHz.
    mic: Vec<f32>,
    /// Where the person starts, in 16 kHz samples (None: nobody talks over it).
    person_at: Option<usize>,
}

fn scene(person: bool, echo_gain: f32) -> Scene {
    let companion = VoiceEngine::Piper {
        // One reading every run: Piper's own draws made it another sentence each time, and in
        // some (3 of 19 runs in one loop, 0 of 20 in another) a loud syllable over the person's
        // 200 ms "Wait," left it one chunk short of `min_speech_ms`, confirmed only on "sorry"
        // 600 ms later.
        spec: tomoni_voice::piper::PiperSpec::find(tomoni_voice::piper::DEFAULT_VOICE).unwrap().deterministic(),
        fallback: EspeakVoice { voice: "en-us".into(), rate: 165, pitch: 50 },
    };
    let (played_rate, played) = speak(
        &companion,
        "I was thinking about what you told me yesterday, about the garden and the old apple tree by the gate.",
    );
    // The echo: 40 ms later (device buffers, the air), attenuated, plus a quiet room.
    let echo = resample(&played, played_rate, RATE);
    let delay = RATE as usize * 40 / 1000;
    let mut mic = vec![0.0f32; delay + echo.len() + RATE as usize];
    for (i, v) in echo.iter().enumerate() {
        mic[delay + i] += v * echo_gain;
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for m in mic.iter_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        *m += ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.004;
    }
    let person_at = person.then_some(RATE as usize); // a second into the companion's sentence
    if let Some(at) = person_at {
        let voice = VoiceEngine::Espeak(EspeakVoice { voice: "en-us+f2".into(), rate: 170, pitch: 60 });
        let (rate, said) = speak(&voice, "Wait, sorry, can I ask you something?");
        for (i, v) in resample(&said, rate, RATE).iter().enumerate() {
            if let Some(m) = mic.get_mut(at + i) {
                *m += v;
            }
        }
    }
    Scene { played, played_rate, mic, person_at }
}

/// Runs the ears over the scene in 32 ms steps, the playback fed just before the microphone
/// (as the listener thread reads both); returns the first `Started`, with barge-in set.
fn run(s: &Scene, raise: f32, gate: bool) -> Option<(f64, bool)> {
    let vad = SileroVad::load(&tomoni_listen::vad::default_model()).unwrap();
    let mut ears = Ears::new(vad, VadConfig::default());
    ears.raise_while_speaking = raise;
    ears.gate_echo = gate;
    ears.echo = EchoGate::new();
    let per_chunk = s.played_rate as usize * CHUNK / RATE as usize;
    let mut started = None;
    for (k, chunk) in s.mic.chunks(CHUNK).enumerate() {
        let from = (k * per_chunk).min(s.played.len());
        let to = ((k + 1) * per_chunk).min(s.played.len());
        ears.echo.reference(&s.played[from..to], s.played_rate);
        let speaking = from < s.played.len();
        ears.hear(chunk, speaking, &mut |e| {
            if let ListenEvent::Started { decided_ms, barge_in, .. } = e {
                started.get_or_insert((decided_ms, barge_in));
            }
        })
        .unwrap();
    }
    started
}

#[test]
fn the_companion_s_own_echo_never_barges_in_and_a_person_talking_over_it_does() {
    if !ready() {
        return;
    }
    let mut report = String::new();
    // Echo 6 to 12 dB down: glasses' speakers by the ears, a laptop's across a desk.
    for gain in [0.25f32, 0.35, 0.45] {
        let echo_only = scene(false, gain);
        let both = scene(true, gain);
        let at_ms = both.person_at.unwrap() as f64 * 1000.0 / f64::from(RATE);
        let gated_echo = run(&echo_only, 0.0, true);
        let gated_both = run(&both, 0.0, true);
        let raised_echo = run(&echo_only, 0.4, false);
        let raised_both = run(&both, 0.4, false);
        report += &format!(
            "echo x{gain}: gate: echo alone {gated_echo:?}, person {gated_both:?}; \
             threshold +0.4: echo alone {raised_echo:?}, person {raised_both:?} (person at {at_ms} ms)\n"
        );
        assert!(gated_echo.is_none(), "the companion's own voice barged in:\n{report}");
        let (decided, barge_in) = gated_both.unwrap_or_else(|| panic!("the person was not heard:\n{report}"));
        assert!(barge_in, "{report}");
        // Confirmed after the default 200 ms of speech, within 150 ms more (Silero's onset on
        // a voice over another, and espeak-ng's own lead-in).
        assert!(decided >= at_ms + 200.0 && decided <= at_ms + 350.0, "confirmed at {decided} ms:\n{report}");
    }
    println!("{report}");
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("barge_in.txt"), &report).unwrap();
}
