//! `tomoni listen` end to end with the real binary: speech made by two engines (espeak-ng, and
//! the Piper neural voice, so the recogniser is not tested on one engine only) goes in as WAV
//! files, and the words come out, with the word error rate over the set measured; utterances in
//! one recording are found apart, and where the person stopped speaking is sample-exact.

use std::path::{Path, PathBuf};
use std::process::Command;
use tomoni_listen::stt::word_error_rate;

fn out_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("listen-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tomoni(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_tomoni"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Whether the listening models are set up; outside `cargo xtask test` their absence skips.
fn ready() -> bool {
    let ok = tomoni_listen::vad::default_model().is_file()
        && tomoni_listen::stt::default_model().is_file()
        && tomoni_voice::onnx::check_runtime().is_ok();
    assert!(ok || std::env::var_os("TOMONI_TEST_LISTEN").is_none(), "the listening models are not set up");
    ok
}

/// What a person says to a companion; none of it was used to choose a setting.
const SAID: &[&str] = &[
    "Good morning, how did you sleep?",
    "I had a long day at work and I am tired.",
    "Can you remind me to call my sister tomorrow?",
    "What should we cook for dinner tonight?",
    "Tell me a story about the sea.",
    "Thank you for listening to me.",
];

#[test]
fn words_spoken_by_two_engines_come_back_with_a_low_word_error_rate() {
    if !ready() {
        return;
    }
    let dir = out_dir("wer");
    let mut report = String::new();
    let (mut errors, mut words) = (0.0, 0usize);
    for engine in ["espeak", "piper"] {
        for (i, text) in SAID.iter().enumerate() {
            let wav = dir.join(format!("{engine}-{i}.wav"));
            let (ok, _, err) = tomoni(&["say", text, "--engine", engine, "--out", wav.to_str().unwrap()]);
            assert!(ok, "{err}");
            let (ok, out, err) = tomoni(&["listen", wav.to_str().unwrap()]);
            assert!(ok, "{err}");
            let heard = out.trim();
            let n = text.split_whitespace().count();
            let wer = word_error_rate(text, heard);
            errors += wer * n as f64;
            words += n;
            report.push_str(&format!("{engine}: {wer:.2} {text:?} -> {heard:?}\n"));
        }
    }
    let wer = errors / words as f64;
    println!("{report}word error rate {:.1} % over {words} words", wer * 100.0);
    // 10 %: the bar; a model mis-converted (a swapped projection, wrong mel filters)
    // hears nothing or gibberish, far above it.
    assert!(wer <= 0.10, "word error rate {:.1} %:\n{report}", wer * 100.0);
}

#[test]
fn two_utterances_in_one_recording_are_heard_apart_with_exact_end_times() {
    if !ready() {
        return;
    }
    let dir = out_dir("two");
    let parts = ["Are you there?", "Let us go for a walk."];
    // Words each utterance must carry (word accuracy is the other test's job; this one checks
    // that each transcript belongs to its own utterance).
    let keys = ["you", "walk"];
    let mut audio = Vec::new();
    let mut ends_ms = Vec::new();
    for (i, text) in parts.iter().enumerate() {
        let wav = dir.join(format!("{i}.wav"));
        let (ok, _, err) = tomoni(&["say", text, "--engine", "espeak", "--out", wav.to_str().unwrap()]);
        assert!(ok, "{err}");
        let s = tomoni_listen::audio::read_wav(&wav).unwrap();
        audio.extend(std::iter::repeat_n(0.0f32, 19_200)); // 1.2 s of room: more than the 500 ms that ends a turn and Silero's tail
        let last = s.iter().rposition(|v| v.abs() > 0.01).unwrap();
        ends_ms.push((audio.len() + last) as f64 / 16.0);
        audio.extend(s);
    }
    audio.extend(std::iter::repeat_n(0.0f32, 16000));
    let both = dir.join("both.wav");
    let pcm: Vec<i16> = audio.iter().map(|v| (v * 32767.0) as i16).collect();
    tomoni_voice::wav::write(&both, 16_000, &pcm).unwrap();
    let (ok, out, err) = tomoni(&["listen", both.to_str().unwrap(), "--events"]);
    assert!(ok, "{err}");
    let events: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let transcripts: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "transcript").collect();
    assert_eq!(transcripts.len(), 2, "{out}");
    for ((t, key), end) in transcripts.iter().zip(keys).zip(&ends_ms) {
        let heard = t["text"].as_str().unwrap().to_lowercase();
        assert!(heard.contains(key) && !heard.contains(if key == "you" { "walk" } else { "there" }), "{heard:?}");
        // The last voiced chunk ends within one 32 ms chunk after the last loud sample, and
        // the decision comes the configured 500 ms of silence later.
        let last = t["last_voiced_ms"].as_f64().unwrap();
        assert!((last - end).abs() <= 64.0, "stopped at {end} ms, heard as {last} ms");
        let decided = t["decided_ms"].as_f64().unwrap();
        assert!((decided - last - 500.0).abs() <= 32.0, "decided at {decided} ms after {last} ms");
    }
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "started").count(), 2, "{kinds:?}");
}

#[test]
fn a_broken_wav_or_missing_file_is_a_clear_error() {
    let dir = out_dir("bad");
    let bad = dir.join("bad.wav");
    std::fs::write(&bad, b"not audio").unwrap();
    let (ok, _, err) = tomoni(&["listen", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("bad.wav"), "{err}");
    let (ok, _, err) = tomoni(&["listen", "/nonexistent/x.wav"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/x.wav"), "{err}");
}

#[test]
fn chat_by_voice_hears_the_question_and_prints_the_reply() {
    if !ready() {
        return;
    }
    let dir = out_dir("chat");
    let wav = dir.join("q.wav");
    let said = "Tell me a story about the sea.";
    let (ok, _, err) = tomoni(&["say", said, "--engine", "espeak", "--out", wav.to_str().unwrap()]);
    assert!(ok, "{err}");
    // The labelled offline demo answers (Ollama looked for on a closed port).
    let o = Command::new(env!("CARGO_BIN_EXE_tomoni"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .args(["chat", "--voice", "--mic-wav", wav.to_str().unwrap()])
        .env("TOMONI_OLLAMA_URL", "http://127.0.0.1:9/v1")
        .env("TOMONI_DATA_DIR", dir.join("data"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    let heard = out.lines().find_map(|l| l.strip_prefix("you> ")).unwrap_or_else(|| panic!("{out}"));
    assert!(word_error_rate(said, heard) <= 0.2, "{heard:?}");
    assert!(out.lines().any(|l| l.starts_with("Tomo> ") && l.contains("offline demo")), "{out}");
}
