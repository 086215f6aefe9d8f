//! `tomoni say` end to end with the real binary: the default Piper voice (set up by
//! `cargo xtask test`) writes a WAV and a mouth track timed by the model's own durations; an
//! unknown voice or engine is a clear error; `--persona` and `--engine` choose the voice the way
//! every command resolves configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

fn out_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("say-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn say(args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_tomoni"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .arg("say")
        .args(args)
        .output()
        .unwrap();
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

/// Whether the Piper voice is set up; outside `cargo xtask test` a missing voice skips.
fn piper_ready() -> bool {
    let ready = tomoni_voice::piper::PiperSpec::find(tomoni_voice::piper::DEFAULT_VOICE).is_ok();
    assert!(ready || std::env::var_os("TOMONI_TEST_PIPER").is_none(), "the Piper voice is not set up");
    ready
}

fn wav_samples(path: &Path) -> (u32, Vec<f32>) {
    let b = std::fs::read(path).unwrap();
    let rate = u32::from_le_bytes([b[24], b[25], b[26], b[27]]);
    (rate, b[44..].chunks_exact(2).map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0).collect())
}

#[test]
fn piper_speaks_with_the_model_s_own_phoneme_timing() {
    if !piper_ready() {
        return;
    }
    let dir = out_dir("piper");
    let (wav, json) = (dir.join("a.wav"), dir.join("v.json"));
    let text = "Good evening, my friend. Shall we begin?";
    let (ok, text_out) =
        say(&[text, "--engine", "piper", "--out", wav.to_str().unwrap(), "--visemes", json.to_str().unwrap()]);
    assert!(ok, "{text_out}");
    assert!(text_out.contains("Piper voice en_US-joe-medium"), "{text_out}");
    let (rate, audio) = wav_samples(&wav);
    assert_eq!(rate, 22_050);
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["timing"], "the voice model's phoneme durations");
    let phonemes = doc["phonemes"].as_array().unwrap();
    let times: Vec<f64> = phonemes.iter().map(|p| p["t_ms"].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "phoneme times go forward");
    // Where the track opens the mouth there is sound, more than if the track were moved 150 ms
    // either way: the timing is the audio's own. (Piper samples noise, so each run's audio
    // differs a little; the comparison holds on every run, a fixed share might not.)
    let frames = doc["frames"].as_array().unwrap();
    let sound_under_open_mouth = |shift_ms: f64| {
        let (mut open, mut loud) = (0, 0);
        for f in frames {
            let weight = ["aa", "ih", "ou", "ee", "oh"].iter().map(|k| f[*k].as_f64().unwrap()).fold(0.0, f64::max);
            if weight <= 0.5 {
                continue;
            }
            let at = ((f["t_ms"].as_f64().unwrap() + shift_ms).max(0.0) * 22.05) as usize;
            let win = &audio[at.saturating_sub(400).min(audio.len())..(at + 400).min(audio.len())];
            let rms = (win.iter().map(|x| x * x).sum::<f32>() / win.len().max(1) as f32).sqrt();
            open += 1;
            loud += usize::from(rms > 0.02);
        }
        (open, loud as f64 / open.max(1) as f64)
    };
    let (open, here) = sound_under_open_mouth(0.0);
    let (early, late) = (sound_under_open_mouth(-150.0).1, sound_under_open_mouth(150.0).1);
    assert!(open > 20 && here >= 0.8, "sound under {:.0} % of {open} open-mouth frames", here * 100.0);
    // Measured: aligned 0.89-0.93, moved 0.53-0.68.
    assert!(here > early.max(late) + 0.1, "aligned {here:.2}, moved earlier {early:.2}, later {late:.2}");
    let comma = phonemes.iter().position(|p| p["ipa"] == ",").expect("a comma pause");
    let (a, b) = (times[comma], times[comma + 1]);
    let mid =
        frames.iter().min_by_key(|f| ((f["t_ms"].as_f64().unwrap() - (a + b) / 2.0).abs() * 10.0) as i64).unwrap();
    let shut = ["aa", "ih", "ou", "ee", "oh"].iter().map(|k| mid[*k].as_f64().unwrap()).fold(0.0, f64::max);
    assert!(b - a > 60.0 && shut < 0.2, "pause {a:.0}..{b:.0} ms, mouth {shut:.2} in it");
}

#[test]
fn an_unknown_voice_or_engine_is_a_clear_error() {
    let (ok, out) = say(&["hi", "--engine", "piper", "--voice", "/nowhere/nobody.onnx", "--out", "/dev/null"]);
    assert!(!ok && out.contains("/nowhere/nobody.onnx"), "{out}");
    let (ok, out) = say(&["hi", "--engine", "klingon"]);
    assert!(!ok && out.contains("expected piper, espeak or openai"), "{out}");
}

#[test]
fn the_persona_s_engine_is_used_unless_one_is_asked_for() {
    let dir = out_dir("persona");
    let persona = dir.join("robot.toml");
    std::fs::write(
        &persona,
        "name = \"Robo\"\n[voice]\nengine = \"espeak\"\nvoice = \"en-us+f2\"\n[avatar]\npath = \"avatars/default.vrm\"\nheight = 1.6\n",
    )
    .unwrap();
    let wav = dir.join("a.wav");
    let (ok, out) = say(&["hi", "--persona", persona.to_str().unwrap(), "--out", wav.to_str().unwrap()]);
    assert!(ok && out.contains("espeak-ng") && out.contains("voice en-us+f2"), "{out}");
    if piper_ready() {
        let (ok, out) =
            say(&["hi", "--persona", persona.to_str().unwrap(), "--engine", "piper", "--out", wav.to_str().unwrap()]);
        assert!(ok && out.contains("Piper voice en_US-joe-medium"), "{out}");
    }
}
