//! The companion comes alive, end to end: the real binary runs the live app headless
//! (`tomoni demo`) against a real HTTP server on loopback that streams SSE like a provider.
//! Events arrive, speech is queued and played on the audio clock, the mouth moves with the
//! audio, cues fire, the turn ends and is stored; a stream that breaks mid-reply ends in the
//! persona's own graceful line and an interrupted turn, with the app still running.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Serves `chunks` as one SSE response, a piece every 40 ms; `cut` closes the connection after
/// them without the end of the stream.
fn serve(chunks: Vec<String>, cut: bool) -> String {
    tomoni_bench::serve_sse_chunks(chunks, cut, Duration::from_millis(40))
}

fn out_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("alive-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn demo(url: &str, out: &Path, say: &str) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_tomoni"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .env("TOMONI_DATA_DIR", out.join("data"))
        .args(["demo", "--endpoint", url, "--say", say, "--seconds", "25", "--every", "30"])
        // The jumper is a morph of the suit: a kept frame drawn without the avatar's morph
        // targets shows the suit (see the frames check below).
        .args(["--outfit", "everyday", "--width", "160", "--height", "200", "--out"])
        .arg(out)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "tomoni demo failed:\n{text}");
    assert!(!text.contains("panicked"), "{text}");
    serde_json::from_str(&std::fs::read_to_string(out.join("timeline.json")).unwrap()).unwrap()
}

fn events<'a>(t: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    t["events"].as_array().unwrap().iter().filter(|e| e["type"] == kind).collect()
}

fn wav(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    bytes[44..].chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect()
}

fn stored(out: &Path) -> Vec<(String, String, String)> {
    let m = tomoni_persona::memory::Memory::open(&out.join("data/memory.sqlite3")).unwrap();
    m.all_turns().unwrap().into_iter().map(|t| (t.role, t.text, t.status)).collect()
}

#[test]
fn a_streamed_reply_is_spoken_with_the_mouth_on_the_audio_clock_and_its_cues_fire() {
    let url = serve(
        [
            "[happy]Hello! ",
            "It is lovely ",
            "to see you again. ",
            "[gesture:nod] I remember ",
            "our walk by the river.",
        ]
        .map(String::from)
        .to_vec(),
        false,
    );
    let out = out_dir("turn");
    let t = demo(&url, &out, "Do you remember me?");
    let clauses: Vec<&str> = events(&t, "clause").iter().map(|e| e["text"].as_str().unwrap()).collect();
    assert!(clauses.len() >= 2, "{clauses:?}");
    assert!(clauses.join(" ").contains("river"), "{clauses:?}");
    assert!(clauses.iter().all(|c| !c.contains('[')), "tags reached speech: {clauses:?}");
    assert_eq!(events(&t, "first_token").len(), 1);
    assert!(events(&t, "queued").len() >= clauses.len());
    assert_eq!(events(&t, "end")[0]["status"], "complete");
    // The cues fire as the audio reaches them: happy at the start, the nod after the first clauses.
    let cues = events(&t, "cue");
    let happy = cues.iter().find(|c| c["emotion"] == "happy").expect("happy cue");
    let nod = cues.iter().find(|c| c["gesture"] == "nod").expect("nod cue");
    let viseme = events(&t, "first_viseme")[0]["t"].as_f64().unwrap();
    assert!(happy["t"].as_f64().unwrap() <= viseme + 0.05);
    assert!(nod["t"].as_f64().unwrap() > viseme + 0.5, "the nod fired before its place in the speech");
    let frames = t["frames"].as_array().unwrap();
    assert!(frames.iter().any(|f| f["gesture"] == "nod"), "the nod never played");
    // The mouth follows the audio as heard: frames with loud speech around them have the mouth
    // open, frames in silence have it shut.
    let audio = wav(&out.join("speech.wav"));
    assert!(audio.iter().any(|x| x.abs() > 0.1), "speech.wav is silent");
    let (mut loud_open, mut loud, mut quiet_shut, mut quiet) = (0, 0, 0, 0);
    for f in frames {
        let at = f["wav_sample"].as_u64().unwrap() as usize;
        let win = &audio[at.saturating_sub(1600).min(audio.len())..(at + 1600).min(audio.len())];
        if win.is_empty() {
            continue;
        }
        let rms = (win.iter().map(|x| x * x).sum::<f32>() / win.len() as f32).sqrt();
        let open = f["mouth"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).fold(0.0, f64::max);
        if rms > 0.05 {
            loud += 1;
            loud_open += usize::from(open > 0.1);
        } else if rms < 0.002 {
            quiet += 1;
            quiet_shut += usize::from(open < 0.05);
        }
    }
    assert!(loud > 30 && quiet > 30, "{loud} loud and {quiet} quiet frames");
    assert!(loud_open * 10 >= loud * 7, "mouth open on only {loud_open} of {loud} loud frames");
    assert!(quiet_shut * 10 >= quiet * 9, "mouth shut on only {quiet_shut} of {quiet} silent frames");
    // Stored as a complete turn; the pictures exist.
    let turns = stored(&out);
    assert_eq!(turns.last().unwrap().2, "complete");
    assert!(turns.last().unwrap().1.contains("river"));
    let sheet = image::open(out.join("contact-sheet.png")).unwrap().to_rgb8();
    assert!(sheet.width() >= 160 * 2 && sheet.height() >= 200);
    // Every kept frame shows the scene, the first included (not a blank render target), and
    // the companion in the everyday outfit it was asked for: the demo's camera is off between
    // kept frames, and Bevy 0.19 drew a mesh seen again without its morph targets, which showed
    // the suit (the jumper's morph's base shape) on every kept frame after the first. Left of
    // the chest, the pink jumper is red over blue (measured 197, 146, 145); the navy suit blue
    // over red (49, 52, 70).
    for entry in std::fs::read_dir(out.join("frames")).unwrap() {
        let path = entry.unwrap().path();
        let img = image::open(&path).unwrap().to_rgb8();
        let luma = img.pixels().map(|p| p.0.iter().map(|&c| f64::from(c)).sum::<f64>() / 3.0).sum::<f64>();
        let mean = luma / f64::from(img.width() * img.height());
        assert!(mean > 40.0, "{}: mean luminance {mean:.0}, a blank frame", path.display());
        let (w, h) = img.dimensions();
        let (mut red_over_blue, mut n) = (0.0, 0.0);
        for y in h * 6 / 10..h * 8 / 10 {
            for x in w / 4..w * 35 / 100 {
                let p = img.get_pixel(x, y).0;
                red_over_blue += f64::from(p[0]) - f64::from(p[2]);
                n += 1.0;
            }
        }
        let red_over_blue = red_over_blue / n;
        assert!(red_over_blue > 20.0, "{}: not the jumper (red − blue {red_over_blue:.0})", path.display());
    }
}

#[test]
fn a_reply_that_breaks_off_ends_in_the_persona_s_own_graceful_line() {
    let url = serve(["[relaxed]Let me think ", "about that for "].map(String::from).to_vec(), true);
    let out = out_dir("cut");
    let t = demo(&url, &out, "Tell me a story.");
    assert_eq!(events(&t, "error").len(), 1, "{:#?}", t["events"]);
    let clauses: Vec<&str> = events(&t, "clause").iter().map(|e| e["text"].as_str().unwrap()).collect();
    assert!(clauses.iter().any(|c| c.contains("lost my train of thought")), "{clauses:?}");
    assert_eq!(events(&t, "end")[0]["status"], "interrupted");
    let audio = wav(&out.join("speech.wav"));
    assert!(audio.iter().filter(|x| x.abs() > 0.1).count() > 1000, "the graceful line was not spoken");
    let turns = stored(&out);
    assert_eq!(turns.last().unwrap().0, "assistant");
    assert_eq!(turns.last().unwrap().2, "interrupted");
}

/// A provider that also speaks: `/v1/chat/completions` streams `reply`, `/v1/audio/speech`
/// answers with real speech (espeak-ng's, sent as raw 24 kHz PCM the way OpenAI does).
fn serve_chat_and_speech(reply: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut s) = stream else { continue };
            let (first, body) = tomoni_bench::read_request(&s);
            if first.contains("/audio/speech") {
                let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let text = req["input"].as_str().unwrap_or("hello").to_string();
                let speech = tomoni_voice::espeak::synthesize(&text, &Default::default()).unwrap();
                // 22.05 → 24 kHz, linear: what a real service would send.
                let n = speech.samples.len() * 24_000 / 22_050;
                let pcm: Vec<u8> = (0..n)
                    .flat_map(|i| {
                        let x = i as f64 * 22_050.0 / 24_000.0;
                        let (a, f) = (x.floor() as usize, x.fract());
                        let s0 = f64::from(speech.samples[a.min(speech.samples.len() - 1)]);
                        let s1 = f64::from(speech.samples[(a + 1).min(speech.samples.len() - 1)]);
                        ((s0 + (s1 - s0) * f) as i16).to_le_bytes()
                    })
                    .collect();
                let _ =
                    write!(s, "HTTP/1.1 200 OK\r\ncontent-type: audio/pcm\r\ncontent-length: {}\r\n\r\n", pcm.len());
                let _ = s.write_all(&pcm);
            } else {
                let chunk = serde_json::json!({"choices": [{"delta": {"content": reply}}]});
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: {chunk}\n\ndata: [DONE]\n\n"
                );
            }
        }
    });
    url
}

#[test]
fn an_openai_compatible_voice_chosen_in_the_persona_speaks_and_moves_the_mouth() {
    let url = serve_chat_and_speech("Good evening. The stars are out tonight.");
    let out = out_dir("openai-voice");
    std::fs::create_dir_all(&out).unwrap();
    let persona = out.join("voiced.toml");
    std::fs::write(
        &persona,
        format!(
            "name = \"Voiced\"\n[voice]\nengine = \"openai\"\nendpoint = \"{url}\"\nmodel = \"tts-1\"\nvoice = \"alloy\"\n\
             [avatar]\npath = \"avatars/default.vrm\"\nheight = 1.7\n"
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tomoni"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .env("TOMONI_DATA_DIR", out.join("data"))
        .args(["demo", "--endpoint", &url, "--say", "Hi", "--seconds", "20", "--every", "60"])
        .args(["--width", "120", "--height", "160", "--persona"])
        .arg(&persona)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{text}");
    assert!(text.contains("tts-1 voice alloy"), "the persona's voice was not used:\n{text}");
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("timeline.json")).unwrap()).unwrap();
    assert!(events(&t, "speech_failed").is_empty(), "{:#?}", t["events"]);
    assert!(!events(&t, "queued").is_empty());
    let audio = wav(&out.join("speech.wav"));
    assert!(audio.iter().filter(|x| x.abs() > 0.1).count() > 1000, "nothing was spoken");
    let frames = t["frames"].as_array().unwrap();
    let open =
        frames.iter().filter(|f| f["mouth"].as_array().unwrap().iter().any(|v| v.as_f64().unwrap() > 0.2)).count();
    assert!(open > 20, "the mouth opened on only {open} frames (analysis of the streamed audio)");
}
