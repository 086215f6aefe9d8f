//! Ceremony mode through the real binary: scripts are checked with the file, line, column and
//! field named; the shipped wedding runs headless from its first step to its last, with music,
//! spoken vows with the mouth moving, the ring on the hand and the photo; the operator API steers
//! a running ceremony and refuses a wrong token.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tomoni(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tomoni"));
    c.current_dir(root()).env("TOMONI_DATA_DIR", data).env("TOMONI_OLLAMA_URL", "http://127.0.0.1:9/v1");
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ceremony-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn check_passes_the_shipped_scripts_and_names_the_place_of_each_mistake() {
    let dir = tmp("check");
    for s in ["wedding", "anniversary"] {
        let o = tomoni(&dir).args(["ceremony", "check", &format!("configs/ceremonies/{s}.toml")]).output().unwrap();
        assert!(o.status.success(), "{s}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let head = "[ceremony]\ntitle = \"T\"\n\n[[step]]\nname = \"A\"\n";
    // (script body after the head, expected `line:column`, words of the message)
    let cases = [
        ("kind = \"dance\"\n", "6:8", "unknown step kind \"dance\""),
        ("kind = \"say\"\n", "6:8", "missing field `text`"),
        ("kind = \"music\"\nfile = \"music/missing.wav\"\n", "7:8", "no audio file at"),
        ("kind = \"say\"\ntext = \"Hi [wink] there\"\n", "7:12", "unknown tag [wink]"),
        ("kind = \"say\"\ntext = \"Hi\"\nvolume = 3\n", "8:1", "volume"),
    ];
    for (i, (body, place, words)) in cases.iter().enumerate() {
        let f = dir.join(format!("bad-{i}.toml"));
        std::fs::write(&f, format!("{head}{body}")).unwrap();
        let o = tomoni(&dir).args(["ceremony", "check"]).arg(&f).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{body}: {err}");
        assert!(err.contains(&format!("{}:{place}:", f.display())), "{body}: wanted {place} in {err}");
        assert!(err.contains(words), "{body}: wanted {words:?} in {err}");
    }
    // A bad script never starts: `run` refuses it the same way, before any window or render.
    let o =
        tomoni(&dir).args(["ceremony", "run", "--headless", "--auto"]).arg(dir.join("bad-0.toml")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    // Vows not yet written and reviewed: valid, but not runnable.
    let f = dir.join("unprepared.toml");
    std::fs::write(&f, format!("{head}kind = \"vows\"\nprompt = \"Write vows.\"\n")).unwrap();
    let o = tomoni(&dir).args(["ceremony", "check"]).arg(&f).output().unwrap();
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("ceremony prepare"));
    let o = tomoni(&dir).args(["ceremony", "run", "--headless", "--auto"]).arg(&f).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no reviewed vows"), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Runs `script` headless and automatic into `out` (with `args`); its timeline and its output.
fn headless(out: &Path, script: &str, args: &[&str]) -> (serde_json::Value, String) {
    let o = tomoni(&out.join("data"))
        .args(["ceremony", "run", script, "--headless", "--auto"])
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{text}");
    let t = serde_json::from_str(&std::fs::read_to_string(out.join("timeline.json")).unwrap()).unwrap();
    (t, text)
}

fn wav(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    bytes[44..].chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect()
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

#[test]
fn the_shipped_wedding_runs_headless_from_procession_to_recession() {
    let out = tmp("wedding");
    let (t, _) = headless(&out, "configs/ceremonies/wedding.toml", &["--frame-size", "320x180", "--every", "15"]);
    let steps = t["steps"].as_array().expect("steps in the timeline");
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["Procession", "Welcome", "My vows", "Your vows", "Rings", "A promise kept", "Bow", "Photo", "Recession"]
    );
    for w in steps.windows(2) {
        assert!(w[0]["end"].as_f64().unwrap() <= w[1]["start"].as_f64().unwrap() + 1e-3, "{w:?}");
    }
    assert!(steps.iter().all(|s| s["ended_by"] == "done"), "{steps:?}");
    let span = |name: &str| {
        let s = steps.iter().find(|s| s["name"] == name).unwrap();
        (s["start"].as_f64().unwrap(), s["end"].as_f64().unwrap())
    };
    // The procession lasts its 14 s; the vows as long as they take to say (not a fixed time).
    let (p0, p1) = span("Procession");
    assert!((p1 - p0 - 14.0).abs() < 0.2, "procession {p0}..{p1}");
    let (v0, v1) = span("My vows");
    assert!(v1 - v0 > 8.0, "the vows took {} s", v1 - v0);
    let vows = steps.iter().find(|s| s["name"] == "My vows").unwrap();
    assert!(vows["said"].as_str().unwrap().contains("I promise to keep our memories safe"));

    // What was heard, on the same clock: frames carry the WAV position.
    let audio = wav(&out.join("ceremony.wav"));
    let frames = t["frames"].as_array().unwrap();
    let sample_at = |sec: f64| {
        let f = frames
            .iter()
            .min_by(|a, b| (a["t"].as_f64().unwrap() - sec).abs().total_cmp(&(b["t"].as_f64().unwrap() - sec).abs()));
        f.unwrap()["wav_sample"].as_u64().unwrap() as usize
    };
    let between = |a: f64, b: f64| &audio[sample_at(a).min(audio.len())..sample_at(b).min(audio.len())];
    let music = rms(between(p0 + 3.0, p1 - 3.5));
    assert!(music > 0.03, "the procession music is not heard (rms {music})");
    let (r0, r1) = span("Recession");
    assert!(rms(between(r0 + 2.0, r1 - 3.5)) > 0.03, "the recession music is not heard");
    // Faded out, not cut: the last half second of the recession is much quieter than its middle.
    assert!(rms(between(r1 - 0.5, r1)) < 0.5 * rms(between(r0 + 2.0, r1 - 3.5)));
    assert!(rms(between(v0 + 0.5, v1 - 0.5)) > 0.03, "the vows are not heard");

    // Lip-sync: the mouth moves while the vows are spoken and stays shut through the music.
    let open =
        |f: &serde_json::Value| f["mouth"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).fold(0.0, f64::max);
    let in_span = |a: f64, b: f64| frames.iter().filter(move |f| (a..b).contains(&f["t"].as_f64().unwrap()));
    let speaking = in_span(v0, v1).filter(|f| open(f) > 0.25).count();
    assert!(speaking as f64 > 0.3 * in_span(v0, v1).count() as f64, "the mouth barely moved in the vows");
    assert!(in_span(p0 + 1.0, p1).all(|f| open(f) < 0.05), "the mouth moved during the procession");
    // Gestures: the vows' hand on heart as its cue is heard, the offered hand, the bow.
    let cues: Vec<&serde_json::Value> = t["events"].as_array().unwrap().iter().filter(|e| e["type"] == "cue").collect();
    assert!(
        cues.iter().any(|c| c["gesture"] == "hand_on_heart" && (v0..v1).contains(&c["t"].as_f64().unwrap())),
        "{cues:?}"
    );
    let (g0, g1) = span("Bow");
    assert!(in_span(g0, g1).any(|f| f["gesture"] == "bow"), "the bow never played");
    let (k0, k1) = span("Rings");
    assert!(in_span(k0, k1).any(|f| f["gesture"] == "offer_hand"), "the hand was never offered");
    // The person's vows: the companion listens.
    let (l0, l1) = span("Your vows");
    assert!(in_span(l0 + 0.2, l1).all(|f| f["state"] == "Listening"));

    // The ring is on the offered hand: the close-up shows gold.
    let ring = image::open(out.join("ring-closeup.png")).unwrap().to_rgb8();
    let gold = ring
        .pixels()
        .filter(|p| p[0] > 140 && p[1] > 100 && p[2] < 110 && i32::from(p[0]) - i32::from(p[2]) > 60)
        .count();
    assert!(gold > 40, "no ring in the close-up ({gold} gold pixels)");
    // The photo step took a picture of the moment, at the spectator camera's size.
    let photos: Vec<PathBuf> = std::fs::read_dir(out.join("photos")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(photos.len(), 1, "{photos:?}");
    assert_eq!(image::image_dimensions(&photos[0]).unwrap(), (320, 180));
    assert!(out.join("contact-sheet.png").is_file());
}

/// Kills the app if the test fails half way (a ceremony waiting on its operator never ends).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the binary's stdout until the operator line, returning the URL (the rest is drained
/// on a thread so the pipe never fills).
fn operator_url(child: &mut std::process::Child) -> String {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let t0 = Instant::now();
    loop {
        assert!(t0.elapsed() < Duration::from_secs(120), "no operator line");
        let line = lines.next().expect("stdout open").unwrap();
        if let Some(url) = line.strip_prefix("operator: ") {
            std::thread::spawn(move || for _ in lines {});
            return url.to_string();
        }
    }
}

/// `tests/data/SCRIPT` run headless into `out` with the operator page on a free port (token
/// `operator-test-token`), plus `extra` flags; its stdout is piped for [`operator_url`].
fn with_operator(script: &str, out: &Path, extra: &[&str]) -> std::process::Child {
    tomoni(&out.join("data"))
        .args(["ceremony", "run", &format!("crates/tomoni/tests/data/{script}"), "--headless"])
        .args(extra)
        .args(["--operator", "127.0.0.1:0", "--token", "operator-test-token", "--frame-size", "160x90"])
        .args(["--every", "60", "--out"])
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn the_operator_api_steers_a_running_ceremony_and_refuses_a_wrong_token() {
    let out = tmp("operator");
    let mut child = Killed(with_operator("operator.toml", &out, &["--rehearse"]));
    let child = &mut child.0;
    let url = operator_url(child);
    let base = url.split("/?").next().unwrap().to_string();
    assert!(url.ends_with("/?token=operator-test-token"), "{url}");
    let c = reqwest::blocking::Client::new();
    let state = || -> serde_json::Value {
        c.get(format!("{base}/api/state")).bearer_auth("operator-test-token").send().unwrap().json().unwrap()
    };
    let post = |what: &str, token: &str| c.post(format!("{base}/api/{what}")).bearer_auth(token).send().unwrap();
    let wait_for = |want: &dyn Fn(&serde_json::Value) -> bool| {
        let t0 = Instant::now();
        loop {
            let s = state();
            if want(&s) {
                return s;
            }
            assert!(t0.elapsed() < Duration::from_secs(120), "state never matched: {s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // The welcome is said, then the pause holds for the operator.
    let s = wait_for(&|s| s["name"] == "Wait" && s["started"] == true);
    assert_eq!((s["step"].as_u64(), s["waiting_for_operator"].as_bool()), (Some(1), Some(true)));
    assert_eq!(s["rehearsal"], true);
    // A wrong token: 401, and the ceremony does not move.
    assert_eq!(post("next", "not-the-token").status(), 401);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(state()["name"], "Wait", "a pause without seconds waits for the operator");
    // Paused at the wait, next moves on but holds: the vows wait for resume.
    assert_eq!(post("pause", "operator-test-token").status(), 200);
    wait_for(&|s| s["state"] == "paused");
    assert_eq!(post("pause", "operator-test-token").status(), 409, "already paused: one reply, refused");
    assert_eq!(post("next", "operator-test-token").status(), 200);
    let s = wait_for(&|s| s["name"] == "Vows");
    assert_eq!(s["state"], "paused");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(state()["saying"], "", "nothing is said while paused");
    // Back while paused, resume: the step before runs again (here the wait, which holds).
    assert_eq!(post("back", "operator-test-token").status(), 200);
    assert_eq!(post("resume", "operator-test-token").status(), 200);
    wait_for(&|s| s["state"] == "running" && s["name"] == "Wait" && s["waiting_for_operator"] == true);
    // A rehearsal may jump, here to the listening step, which also holds.
    let r = post("jump/3", "operator-test-token");
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    wait_for(&|s| s["name"] == "Listen" && s["waiting_for_operator"] == true);
    assert_eq!(post("jump/9", "operator-test-token").status(), 409, "no such step");
    assert_eq!(post("stop", "operator-test-token").status(), 200);
    wait_for(&|s| s["state"] == "done");
    assert_eq!(post("next", "operator-test-token").status(), 409, "the ceremony is over");
    // Once over, the app finishes by itself and writes what happened.
    let status = common::wait_exit(child, Duration::from_secs(120), "the app did not finish after stop");
    assert!(status.success());
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("timeline.json")).unwrap()).unwrap();
    let ended: Vec<(&str, &str)> = t["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["ended_by"].as_str().unwrap()))
        .collect();
    assert_eq!(ended, [("Welcome", "done"), ("Wait", "pause"), ("Wait", "jump"), ("Listen", "stop")], "{ended:?}");
}

/// With a planner's phone on the operator page, a photo step takes its own picture and then
/// holds for the operator: the phone's photo handed in meanwhile is listed as that step's, and
/// next moves on.
#[test]
fn a_photo_moment_holds_for_the_phone_and_its_photo_is_the_steps() {
    let out = tmp("photo-moment");
    let mut child = Killed(with_operator("photo-moment.toml", &out, &[]));
    let child = &mut child.0;
    let base = operator_url(child).split("/?").next().unwrap().to_string();
    let c = reqwest::blocking::Client::new();
    let get = |what: &str| -> serde_json::Value {
        c.get(format!("{base}/api/{what}")).bearer_auth("operator-test-token").send().unwrap().json().unwrap()
    };
    let t0 = Instant::now();
    let s = loop {
        let s = get("state");
        if s["name"] == "Photo moment" && s["waiting_for_operator"] == true {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "the photo moment never held for the operator: {s}");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Held: a headless clock runs faster than real time, and it still waits.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(get("state")["name"], "Photo moment", "{s}");
    // The phone's photo (here a picture of the companion itself), handed in now, is the moment's.
    let jpeg = std::fs::read(root().join("docs/images/front.png")).unwrap();
    let r = c.post(format!("{base}/api/photo")).bearer_auth("operator-test-token").body(jpeg).send().unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(get("photos")["photos"][0]["step"], "2. Photo moment");
    let r = c.post(format!("{base}/api/next")).bearer_auth("operator-test-token").send().unwrap();
    assert_eq!(r.status(), 200);
    let status = common::wait_exit(child, Duration::from_secs(120), "the app did not finish after the last step");
    assert!(status.success());
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("timeline.json")).unwrap()).unwrap();
    let steps = t["steps"].as_array().unwrap();
    let ended: Vec<(&str, &str)> =
        steps.iter().map(|s| (s["name"].as_str().unwrap(), s["ended_by"].as_str().unwrap())).collect();
    assert_eq!(ended, [("Welcome", "done"), ("Photo moment", "next"), ("End", "done")], "{ended:?}");
    // The step's own picture was taken before it held.
    let own = steps[1]["photo"].as_str().expect("the photo step's picture");
    assert!(Path::new(own).is_file(), "{own}");
}

/// An OpenAI-compatible server on loopback that streams `reply` as SSE (cut short with `cut`).
fn llm(reply: &[&str], cut: bool) -> String {
    tomoni_bench::serve_sse_chunks(reply.iter().map(|s| s.to_string()).collect(), cut, Duration::ZERO)
}

#[test]
fn prepare_has_the_model_write_the_vows_into_a_reviewed_copy() {
    let dir = tmp("prepare");
    let url = llm(
        &[
            "[relaxed] Mina, I am an AI, ",
            "and I know it. ",
            "[gesture:hand_on_heart] I promise ",
            "to remember our walks by the river.",
        ],
        false,
    );
    let out = dir.join("wedding.prepared.toml");
    let o = tomoni(&dir.join("data"))
        .args(["ceremony", "prepare", "configs/ceremonies/wedding.toml", "--endpoint", &url, "--model", "m", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{text}");
    assert!(text.contains("walks by the river") && text.contains("read it through"), "{text}");
    let copy = std::fs::read_to_string(&out).unwrap();
    // The original's comments and other steps are kept; the vows are the model's, tags and all.
    assert!(copy.contains("# A symbolic wedding"), "{copy}");
    assert!(copy.contains("Review them"), "{copy}");
    assert!(copy.contains("[gesture:hand_on_heart] I promise to remember our walks by the river."), "{copy}");
    assert!(!copy.contains("I am glad to stand beside you"), "the shipped default vows were not replaced");
    let o = tomoni(&dir).args(["ceremony", "check"]).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A reply that breaks off writes nothing: no half-written vows to say on the day.
    let cut = dir.join("cut.toml");
    let url = llm(&["I promise to "], true);
    let o = tomoni(&dir.join("data"))
        .args(["ceremony", "prepare", "configs/ceremonies/wedding.toml", "--endpoint", &url, "--model", "m", "--out"])
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!cut.exists());
}

#[test]
fn a_listen_step_ends_when_the_person_has_spoken_and_records_their_words() {
    let ready = tomoni_listen::vad::default_model().is_file()
        && tomoni_listen::stt::default_model().is_file()
        && tomoni_voice::onnx::check_runtime().is_ok();
    assert!(ready || std::env::var_os("TOMONI_TEST_LISTEN").is_none(), "the listening models are not set up");
    if !ready {
        return;
    }
    let out = tmp("listen");
    // Two sentences with a breath between them, as people say vows: one answer, not two.
    let mut said = Vec::new();
    for (i, line) in ["I do.", "With all my heart."].iter().enumerate() {
        let part = out.join(format!("part-{i}.wav"));
        let o =
            tomoni(&out.join("data")).args(["say", line, "--engine", "espeak", "--out"]).arg(&part).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        said.extend(tomoni_listen::audio::read_wav(&part).unwrap());
        if i == 0 {
            said.extend(std::iter::repeat_n(0.0, 19_200)); // 1.2 s
        }
    }
    let pcm: Vec<i16> = said.iter().map(|v| (v.clamp(-1.0, 1.0) * 32767.0) as i16).collect();
    let said_wav = out.join("i-do.wav");
    std::fs::write(&said_wav, tomoni_voice::wav::encode(tomoni_listen::audio::RATE, &pcm)).unwrap();
    let mic = said_wav.to_str().unwrap();
    let (t, text) = headless(
        &out,
        "crates/tomoni/tests/data/listen.toml",
        &["--frame-size", "160x90", "--every", "30", "--mic-wav", mic],
    );
    let steps = t["steps"].as_array().unwrap();
    let answer = steps.iter().find(|s| s["name"] == "Answer").unwrap();
    // Ended by the words (the auto run would otherwise wait its 120 s), both sentences of them,
    // and heard right.
    assert_eq!(answer["ended_by"], "heard", "{steps:?}\n{text}");
    let heard = answer["heard"].as_str().unwrap().to_lowercase();
    assert!(heard.contains("i do") && heard.contains("heart"), "heard {heard:?}");
    let span = answer["end"].as_f64().unwrap() - answer["start"].as_f64().unwrap();
    assert!(span < 60.0, "the answer step lasted {span} s");
    // The recording was not heard before the ears opened: the question was said whole, not
    // cut into by a barge-in, and the ceremony went on to thank them.
    let question = steps.iter().find(|s| s["name"] == "Question").unwrap();
    assert_eq!(question["ended_by"], "done");
    assert_eq!(steps.last().unwrap()["name"], "Thanks");
    assert_eq!(steps.last().unwrap()["ended_by"], "done");
}

#[test]
fn an_outfit_step_changes_the_clothes_and_one_the_avatar_lacks_stops_the_run_first() {
    let out = tmp("outfit");
    let (t, text) = headless(&out, "crates/tomoni/tests/data/outfit.toml", &[]);
    assert!(text.contains("wearing everyday"), "{text}");
    let photo = |i: usize| -> image::RgbImage {
        let p = t["steps"][i]["photo"].as_str().unwrap_or_else(|| panic!("step {i} took no photo: {t}"));
        image::open(p).unwrap().to_rgb8()
    };
    let (suit, everyday) = (photo(0), photo(2));
    // The default companion's navy jacket (blue over red) is her rose jumper now (red over
    // blue): the two pictures differ that way where she stands, nowhere else much.
    let changed = suit
        .pixels()
        .zip(everyday.pixels())
        .filter(|(a, b)| {
            let [r0, _, b0] = a.0.map(i32::from);
            let [r1, g1, b1] = b.0.map(i32::from);
            b0 > r0 && r1 > b1 + 40 && r1 > g1 + 20
        })
        .count();
    let share = changed as f64 / f64::from(suit.width() * suit.height());
    println!("jacket -> jumper: {changed} px ({:.2} %)", share * 100.0);
    assert!(share > 0.005, "the clothes did not change: {changed} px of navy became rose");

    let f = out.join("gala.toml");
    std::fs::write(
        &f,
        "[ceremony]\ntitle = \"T\"\n\n[[step]]\nname = \"Gala\"\nkind = \"outfit\"\noutfit = \"gala\"\n",
    )
    .unwrap();
    let o = tomoni(&out).args(["ceremony", "run", "--headless", "--auto"]).arg(&f).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:5:", f.display())) && err.contains("gala") && err.contains("everyday, suit"),
        "{err}"
    );
}
