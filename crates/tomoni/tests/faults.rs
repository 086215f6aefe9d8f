//! Faults survived: what the person sees when the machine fails under the companion, and that
//! nothing said is lost. The disk is a real tmpfs that really fills (mounted in a user and
//! mount namespace of the test's own, `unshare -rm`, so no privilege is needed and nothing
//! outside the test sees it).

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

/// Held by each test that runs the live app. Another live app rendering on lavapipe beside the
/// sound test starve these 2 cores enough that its playback stalls for over a second, which
/// the app rightly reports as a lost device (CI 2026-12-01: "a device that played was lost",
/// 1 failure in 11 runs; never alone). What the sound test checks is the device, not the load.
static LIVE_APP: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn live_app() -> std::sync::MutexGuard<'static, ()> {
    LIVE_APP.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Answers each chat request with `You said: <the last user message>`, streamed as SSE.
fn serve_echo() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let (_, body) = tomoni_bench::read_request(&s);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let said = v["messages"]
                .as_array()
                .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
                .and_then(|m| m["content"].as_str())
                .unwrap_or("")
                .to_string();
            let ev = serde_json::json!({"choices": [{"delta": {"content": format!("You said: {said}")}}]});
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: {ev}\n\n\
                 data: {{\"choices\":[{{\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n"
            );
        }
    });
    url
}

/// The disk fills between two turns and is freed before the third, in one `tomoni chat`:
/// the second reply still comes, the person is told saving stopped and then that it works
/// again, and all three turns end up stored, in order, without a restart.
#[test]
fn a_full_disk_loses_no_turn_and_saving_resumes_when_there_is_room() {
    let url = serve_echo();
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults-disk");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("data")).unwrap();
    // Each line is said once the previous reply is printed, so the disk fills exactly
    // between turns one and two and is freed between two and three.
    let script = r#"
        set -e
        mount -t tmpfs -o size=2m tmpfs "$D"
        said() { until grep -q "You said: $1" "$T/chat.out" 2>/dev/null; do sleep 0.1; done; }
        {
            echo "Disk turn one."; said "Disk turn one."
            head -c 4M /dev/zero > "$D/filler" 2>/dev/null || true
            df -k "$D" | tail -1 >&2
            echo "Disk turn two."; said "Disk turn two."
            rm -f "$D/filler"
            echo "Disk turn three."; said "Disk turn three."
        } | "$TOMONI" chat --endpoint "$URL" > "$T/chat.out" 2> "$T/chat.err"
        "$TOMONI" memory export > "$T/export.json"
    "#;
    let o = Command::new("unshare")
        .args(["-rm", "sh", "-c", script])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .env("D", tmp.join("data"))
        .env("T", &tmp)
        .env("TOMONI", env!("CARGO_BIN_EXE_tomoni"))
        .env("URL", &url)
        .env("TOMONI_DATA_DIR", tmp.join("data"))
        .output()
        .expect("unshare (util-linux) runs");
    let read = |f: &str| std::fs::read_to_string(tmp.join(f)).unwrap_or_default();
    let (out, err) = (read("chat.out"), read("chat.err"));
    assert!(
        o.status.success(),
        "{}\n--- chat stderr:\n{err}\n--- chat stdout:\n{out}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The disk really was full when turn two was said.
    let df = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(df.split_whitespace().nth(3) == Some("0"), "the tmpfs was not full: {df}");
    // The conversation went on, and the person was told.
    for n in ["one", "two", "three"] {
        assert!(out.contains(&format!("You said: Disk turn {n}.")), "{out}");
    }
    assert!(err.contains("cannot save the conversation now") && err.contains("full"), "{err}");
    assert!(err.contains("saving works again"), "{err}");
    // Nothing lost: every turn stored, in the order said.
    let export: serde_json::Value = serde_json::from_str(&read("export.json")).expect("the export is JSON");
    let turns: Vec<(String, String)> = export["turns"]
        .as_array()
        .expect("turns")
        .iter()
        .map(|t| (t["role"].as_str().unwrap_or("").to_string(), t["text"].as_str().unwrap_or("").to_string()))
        .collect();
    let want: Vec<(String, String)> = ["one", "two", "three"]
        .iter()
        .flat_map(|n| {
            [
                ("user".to_string(), format!("Disk turn {n}.")),
                ("assistant".to_string(), format!("You said: Disk turn {n}.")),
            ]
        })
        .collect();
    assert_eq!(turns, want);
}

/// The disk fills under the live app (pictures and memory on one small tmpfs): a photo fails
/// with a reason that says so; a turn still gets its answer, and the person in glasses, who
/// sees no terminal, is told by the companion's label and in its voice that saving has
/// stopped; once there is room the next photo is written, saving resumes (said too) and every
/// turn is stored — no restart.
#[test]
fn a_full_disk_under_the_live_app_is_told_and_survived() {
    let _one_at_a_time = live_app();
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults-capture");
    let _ = std::fs::remove_dir_all(&tmp);
    let disk = tmp.join("disk");
    let pictures = disk.join("pictures");
    std::fs::create_dir_all(&disk).unwrap();
    let sock = tmp.join("app.sock");
    let (_x, display) = common::start_xvfb();
    // The app runs in the namespace that has the small tmpfs; the disk is filled when the test
    // says so and freed when it says so (files outside the tmpfs).
    let script = r#"
        set -e
        mount -t tmpfs -o size=1m tmpfs "$D"
        mkdir -p "$D/pictures" "$D/data"
        timeout 300 "$TOMONI" run --no-xr --no-mic --window-size 320x180 > "$T/app.log" 2>&1 &
        app=$!
        step() { n=0; until [ -e "$T/$1" ] || [ $n -gt 1800 ]; do sleep 0.1; n=$((n + 1)); done; }
        step fill
        head -c 2M /dev/zero > "$D/filler" 2>/dev/null || true
        df -k "$D" | tail -1 > "$T/full.txt"
        touch "$T/filled"
        step free
        rm -f "$D/filler"
        touch "$T/freed"
        wait $app
        ls -la "$D/pictures/tomoni" > "$T/written.txt"
        "$TOMONI" memory export > "$T/export.json"
    "#;
    let (mut ns, bin) = common::tomoni_under("unshare");
    ns.args(["-rm", "sh", "-c", script])
        .env("D", &disk)
        .env("T", &tmp)
        .env("TOMONI", bin)
        .env("XDG_PICTURES_DIR", &pictures)
        .env("TOMONI_DATA_DIR", disk.join("data"))
        .env("TOMONI_SOCKET", &sock)
        .env("TOMONI_OLLAMA_URL", "http://127.0.0.1:9/v1")
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("XDG_RUNTIME_DIR");
    let mut child = ns.stdout(std::process::Stdio::null()).spawn().expect("unshare (util-linux) runs");
    let minute = std::time::Duration::from_secs(60);
    let log = || std::fs::read_to_string(tmp.join("app.log")).unwrap_or_default();
    common::wait_until(minute, &format!("the app never listened; see {}", tmp.join("app.log").display()), || {
        sock.exists()
    });
    let control = |line: &str| common::control(&sock, line).unwrap();
    let status = || {
        let s = control("status");
        serde_json::from_str::<serde_json::Value>(s["done"].as_str().expect("status answers")).unwrap()
    };
    assert!(control("say Before the disk fills.")["done"].is_string());
    std::fs::write(tmp.join("fill"), "").unwrap();
    common::wait_until(minute, "the disk was never filled", || tmp.join("filled").exists());
    let df = std::fs::read_to_string(tmp.join("full.txt")).unwrap();
    assert_eq!(df.split_whitespace().nth(3), Some("0"), "the tmpfs was not full: {df}");
    let full = control("photo");
    let why = full["error"].as_str().unwrap_or_else(|| panic!("a photo on a full disk is an error: {full}"));
    assert!(why.contains("No space left on device") && why.contains("tomoni-"), "{why}");
    // A turn on the full disk is answered, and the label and the companion's voice say saving
    // has stopped (the label's line is what `status` reports as `notice`).
    assert!(control("say While the disk is full.")["done"].is_string(), "{}", log());
    let mut notice = serde_json::Value::Null;
    common::wait_until(minute, "the label never said saving stopped", || {
        notice = status()["notice"].clone();
        notice.is_string()
    });
    assert_eq!(notice, "not saving: the disk is full", "{}", log());
    common::wait_until(minute, "the companion never said saving stopped", || {
        log().contains("the companion tells the person: I can't save what we say right now: the disk is full")
    });
    // Room again: the next photo is written, the next turn saves everything, and the label
    // clears and the companion says so.
    std::fs::write(tmp.join("free"), "").unwrap();
    common::wait_until(minute, "the disk was never freed", || tmp.join("freed").exists());
    let ok = control("photo");
    let path = ok["done"].as_str().unwrap_or_else(|| panic!("with room again the photo is written: {ok}"));
    assert!(control("say After the disk is freed.")["done"].is_string());
    common::wait_until(minute, "the label never cleared", || status()["notice"].is_null());
    common::wait_until(minute, "the companion never said saving works again", || {
        log().contains("the companion tells the person: Saving works again")
    });
    assert_eq!(control("quit")["done"], "bye");
    let exit = common::wait_exit(&mut child, minute, "the app did not exit after `quit`");
    assert!(exit.success(), "{}", log());
    assert!(!log().contains("panicked"), "{}", log());
    // Written whole: the listing inside the namespace shows it with its bytes, and the photo
    // that failed is not left behind looking like one.
    let written = std::fs::read_to_string(tmp.join("written.txt")).unwrap();
    assert_eq!(written.lines().filter(|l| l.contains("tomoni-")).count(), 1, "{written}");
    let name = Path::new(path.trim_start_matches("photo: ")).file_name().unwrap().to_string_lossy().to_string();
    let line = written.lines().find(|l| l.ends_with(&name)).unwrap_or_else(|| panic!("{name} not in {written}"));
    let bytes: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(bytes > 1000, "{line}");
    // Nothing said was lost: the three lines the person said are stored, in order.
    let export: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.join("export.json")).unwrap()).expect("the export is JSON");
    let said: Vec<&str> = export["turns"]
        .as_array()
        .expect("turns")
        .iter()
        .filter(|t| t["role"] == "user")
        .filter_map(|t| t["text"].as_str())
        .collect();
    assert_eq!(said, ["Before the disk fills.", "While the disk is full.", "After the disk is freed."]);
}

/// A PulseAudio server with one null sink (`out`), run as `nobody` (it refuses root) with its
/// socket in `dir`; killed (SIGKILL: a crash, not a goodbye) on drop.
struct SoundServer(std::process::Child);

impl SoundServer {
    fn start(dir: &Path) -> Self {
        let _ = std::fs::remove_file(dir.join("native"));
        let child = Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .args(["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit"])
            .args(["--use-pid-file=no", "--log-target=stderr", "-L", "module-null-sink sink_name=out"])
            .arg("-L")
            .arg(format!("module-native-protocol-unix auth-anonymous=1 socket={}", dir.join("native").display()))
            .env("HOME", dir)
            .env("XDG_RUNTIME_DIR", dir)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("pulseaudio (installed by `cargo xtask test`) runs");
        common::wait_until(std::time::Duration::from_secs(20), "pulseaudio did not start", || {
            std::os::unix::net::UnixStream::connect(dir.join("native")).is_ok()
        });
        SoundServer(child)
    }
}

impl Drop for SoundServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Records what the sound server's sink plays (its monitor) as 16 kHz mono for `seconds`;
/// returns the RMS of what it heard, from 0 to 1.
fn record_rms(dir: &Path, seconds: u32, during: impl FnOnce()) -> f64 {
    let wav = dir.join("heard.raw");
    let mut rec = Command::new("timeout")
        .arg(seconds.to_string())
        .args(["parec", "-d", "out.monitor", "--raw", "--format=s16le", "--rate=16000", "--channels=1"])
        .env("PULSE_SERVER", format!("unix:{}", dir.join("native").display()))
        .stdout(std::fs::File::create(&wav).unwrap())
        .spawn()
        .expect("parec (pulseaudio-utils) runs");
    during();
    let _ = rec.wait();
    let raw = std::fs::read(&wav).unwrap_or_default();
    let samples: Vec<f64> =
        raw.chunks_exact(2).map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect();
    (samples.iter().map(|s| s * s).sum::<f64>() / samples.len().max(1) as f64).sqrt()
}

/// The sound server dies while the companion speaks (as when a Bluetooth headset drops or
/// the desktop's sound server crashes) and comes back: the companion's speech goes on
/// silently and its turn ends (no mouth frozen mid-word), the label says there is no sound,
/// and once the server is back the voice is heard through it again, with no restart.
#[test]
fn the_voice_survives_the_sound_device_going_away_and_coming_back() {
    let _one_at_a_time = live_app();
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults-audio");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    // pulseaudio runs as nobody, who cannot enter root's cache folder.
    let pulse = std::env::temp_dir().join(format!("tomoni-pulse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&pulse);
    std::fs::create_dir_all(&pulse).unwrap();
    Command::new("chown").args(["nobody:nogroup"]).arg(&pulse).status().unwrap();
    let mut server = Some(SoundServer::start(&pulse));
    let sock = tmp.join("app.sock");
    let (_x, display) = common::start_xvfb();
    let mut app = common::tomoni_cmd()
        .args(["run", "--no-xr", "--no-mic", "--window-size", "320x180"])
        .env("PULSE_SERVER", format!("unix:{}", pulse.join("native").display()))
        .env("TOMONI_DATA_DIR", tmp.join("data"))
        .env("TOMONI_SOCKET", &sock)
        .env("TOMONI_OLLAMA_URL", "http://127.0.0.1:9/v1")
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("XDG_RUNTIME_DIR")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(tmp.join("app.log")).unwrap())
        .spawn()
        .unwrap();
    let minute = std::time::Duration::from_secs(60);
    let log = || std::fs::read_to_string(tmp.join("app.log")).unwrap_or_default();
    common::wait_until(minute, "the app never listened", || sock.exists());
    let control = |line: &str| common::control(&sock, line).unwrap();
    let status = || {
        let s = control("status");
        serde_json::from_str::<serde_json::Value>(s["done"].as_str().expect("status answers")).unwrap()
    };
    assert!(log().contains("audio: default output device"), "{}", log());
    // Heard through the device: the greeting and a reply.
    let heard = record_rms(&pulse, 6, || assert!(control("say Can you hear me?")["done"].is_string()));
    assert!(heard > 0.01, "the companion was not heard through the sound server (RMS {heard:.4})\n{}", log());
    // The server is starved while the companion speaks (stopped for 2.5 s, as a sound server
    // under a CPU overload was seen to stall a live stream for 1.5 s): its stream stalls, a new
    // stream takes the voice, and nothing says the device is gone.
    // A long reply asked for on a thread of its own, once the companion is speaking it.
    let start_talking = || {
        let talking = std::thread::spawn({
            let sock = sock.clone();
            move || common::control(&sock, "say Tell me a long story please.")
        });
        common::wait_until(minute, "the companion never started speaking", || status()["conversation"] == "Speaking");
        talking
    };
    let talking = start_talking();
    // Starved while speech waits to be played: "Speaking" also covers the gap while the next
    // clause is being made, and a stop that falls in it has nothing to stall (CI once stopped
    // the server in such a gap and the clause came too late for the watch to see a second).
    common::wait_until(minute, "no speech was ever waiting to be played", || {
        status()["speech_queued_s"].as_f64().unwrap_or(0.0) > 0.5
    });
    let pid = server.as_ref().unwrap().0.id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    common::wait_until(minute, "the stalled stream was never replaced", || {
        log().contains("audio: the output's stream stalled")
    });
    assert!(!log().contains("audio: the output device went away"), "a starved device was taken for gone:\n{}", log());
    assert!(talking.join().unwrap().unwrap()["done"].is_string());
    let s = status();
    assert_eq!((s["audio"].as_str(), s["notice"].as_str()), (Some("device"), None), "{s}");
    common::wait_until(minute, "the companion's turn never ended", || status()["conversation"] == "Idle");
    // The server dies while the companion speaks.
    let talking = start_talking();
    // A live device was never taken for gone (the app's slow first frames, the greeting).
    assert!(!log().contains("audio: the output device went away"), "a device that played was lost:\n{}", log());
    let killed = std::time::Instant::now();
    drop(server.take());
    common::wait_until(minute, "the device was never noticed gone", || {
        log().contains("audio: the output device went away")
    });
    eprintln!("the device was noticed gone within {:.1} s", killed.elapsed().as_secs_f32());
    assert!(talking.join().unwrap().unwrap()["done"].is_string());
    let s = status();
    assert_eq!(s["notice"], "no sound: the audio device went away", "{s}");
    assert_eq!(s["audio"], "no device: silent, timed by the frame clock", "{s}");
    // The speech went on silently and the turn ended: the companion is idle, not frozen.
    common::wait_until(minute, "the companion's turn never ended without a device", || {
        status()["conversation"] == "Idle"
    });
    // The server comes back: the voice is on the device again and heard.
    let _server = SoundServer::start(&pulse);
    let back = std::time::Instant::now();
    common::wait_until(minute, "the device was never found again", || {
        log().contains("audio: the output device is back")
    });
    eprintln!("the device was found again within {:.1} s", back.elapsed().as_secs_f32());
    let s = status();
    assert_eq!((s["audio"].as_str(), s["notice"].as_str()), (Some("device"), None), "{s}");
    let heard = record_rms(&pulse, 6, || assert!(control("say Are you back?")["done"].is_string()));
    assert!(heard > 0.01, "the companion was not heard after the device came back (RMS {heard:.4})\n{}", log());
    assert_eq!(log().matches("audio: the output device went away").count(), 1, "lost once, not again:\n{}", log());
    assert_eq!(control("quit")["done"], "bye");
    let exit = common::wait_exit(&mut app, minute, "the app did not exit after `quit`");
    assert!(exit.success() && !log().contains("panicked"), "{}", log());
    let _ = std::fs::remove_dir_all(&pulse);
}
