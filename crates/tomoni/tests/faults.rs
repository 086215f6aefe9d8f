//! Faults survived: what the person sees when the machine fails under the companion, and that
//! nothing said is lost. The disk is a real tmpfs that really fills (mounted in a user and
//! mount namespace of the test's own, `unshare -rm`, so no privilege is needed and nothing
//! outside the test sees it).

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

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

/// The disk is full when the person takes a photo in the live app: the photo fails with a
/// reason that says so, the app keeps running, and once there is room the next photo is
/// written — no restart.
#[test]
fn a_photo_on_a_full_disk_fails_clearly_and_the_next_one_works() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("faults-capture");
    let _ = std::fs::remove_dir_all(&tmp);
    let pictures = tmp.join("pictures");
    std::fs::create_dir_all(&pictures).unwrap();
    let sock = tmp.join("app.sock");
    let (_x, display) = common::start_xvfb();
    // The app runs in the namespace that has the small tmpfs; it fills the disk first and
    // frees it when the test says so (a file outside the tmpfs).
    let script = r#"
        set -e
        mount -t tmpfs -o size=256k tmpfs "$P"
        head -c 1M /dev/zero > "$P/filler" 2>/dev/null || true
        timeout 300 "$TOMONI" run --no-xr --no-mic --window-size 320x180 > "$T/app.log" 2>&1 &
        app=$!
        n=0
        until [ -e "$T/free" ] || [ $n -gt 1200 ]; do sleep 0.1; n=$((n + 1)); done
        rm -f "$P/filler"
        touch "$T/freed"
        wait $app
        ls -la "$P/tomoni" > "$T/written.txt"
    "#;
    let (mut ns, bin) = common::tomoni_under("unshare");
    ns.args(["-rm", "sh", "-c", script])
        .env("P", &pictures)
        .env("T", &tmp)
        .env("TOMONI", bin)
        .env("XDG_PICTURES_DIR", &pictures)
        .env("TOMONI_DATA_DIR", tmp.join("data"))
        .env("TOMONI_SOCKET", &sock)
        .env("TOMONI_OLLAMA_URL", "http://127.0.0.1:9/v1")
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("XDG_RUNTIME_DIR");
    let mut child = ns.stdout(std::process::Stdio::null()).spawn().expect("unshare (util-linux) runs");
    let minute = std::time::Duration::from_secs(60);
    common::wait_until(minute, &format!("the app never listened; see {}", tmp.join("app.log").display()), || {
        sock.exists()
    });
    let control = |line: &str| common::control(&sock, line).unwrap();
    let full = control("photo");
    let why = full["error"].as_str().unwrap_or_else(|| panic!("a photo on a full disk is an error: {full}"));
    assert!(why.contains("No space left on device") && why.contains("tomoni-"), "{why}");
    // The app goes on: it answers, and once there is room the next photo is written.
    assert!(control("status")["done"].is_string());
    std::fs::write(tmp.join("free"), "").unwrap();
    common::wait_until(minute, "the disk was never freed", || tmp.join("freed").exists());
    let ok = control("photo");
    let path = ok["done"].as_str().unwrap_or_else(|| panic!("with room again the photo is written: {ok}"));
    assert_eq!(control("quit")["done"], "bye");
    let status = common::wait_exit(&mut child, minute, "the app did not exit after `quit`");
    let log = std::fs::read_to_string(tmp.join("app.log")).unwrap_or_default();
    assert!(status.success(), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    // Written whole: the listing inside the namespace shows it with its bytes, and the photo
    // that failed is not left behind looking like one.
    let written = std::fs::read_to_string(tmp.join("written.txt")).unwrap();
    assert_eq!(written.lines().filter(|l| l.contains("tomoni-")).count(), 1, "{written}");
    let name = Path::new(path.trim_start_matches("photo: ")).file_name().unwrap().to_string_lossy().to_string();
    let line = written.lines().find(|l| l.ends_with(&name)).unwrap_or_else(|| panic!("{name} not in {written}"));
    let bytes: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(bytes > 1000, "{line}");
}
