//! `tomoni chat --once` end to end: the real binary streams from a real HTTP server on loopback
//! that speaks SSE like a provider, prints the reply without tags, and stores both turns (and the
//! interrupted status of a failed one) in a real SQLite file. With nothing configured and nothing
//! on Ollama's port, the offline demo answers and says what it is.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Serves `body` as an SSE response to every request, on a thread; returns the base URL.
fn serve(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut s) = stream else { continue };
            let _ = tomoni_bench::read_request(&s);
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n{body}");
        }
    });
    url
}

fn data_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chat-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn tomoni(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tomoni"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).env("TOMONI_DATA_DIR", data);
    c
}

fn turns(data: &Path) -> Vec<(String, String, String)> {
    let m = tomoni_persona::memory::Memory::open(&data.join("memory.sqlite3")).unwrap();
    m.all_turns().unwrap().into_iter().map(|t| (t.role, t.text, t.status)).collect()
}

const REPLY: &str = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"[happy]Hello! \"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"I remember [gesture:nod]you.\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

#[test]
fn once_prints_the_reply_without_tags_and_stores_the_turn() {
    let url = serve(REPLY);
    let data = data_dir("once");
    let o = tomoni(&data).args(["chat", "--once", "I live in Okayama.", "--endpoint", &url]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "Hello! I remember you.");
    let t = turns(&data);
    assert_eq!(t[0], ("user".into(), "I live in Okayama.".into(), "complete".into()));
    assert_eq!(t[1], ("assistant".into(), "Hello! I remember you.".into(), "complete".into()));
    // And the fact was kept for later prompts.
    let m = tomoni_persona::memory::Memory::open(&data.join("memory.sqlite3")).unwrap();
    assert_eq!(m.facts().unwrap()[0].text, "I live in Okayama");
}

#[test]
fn events_mode_prints_one_json_object_per_event() {
    let url = serve(REPLY);
    let data = data_dir("events");
    let o = tomoni(&data).args(["chat", "--once", "hi", "--events", "--endpoint", &url]).output().unwrap();
    assert!(o.status.success());
    let kinds: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, ["first_token", "emotion", "clause", "gesture", "clause", "end"]);
}

#[test]
fn a_stream_cut_mid_reply_is_logged_as_interrupted() {
    let url = serve("data: {\"choices\":[{\"delta\":{\"content\":\"I was saying that \"}}]}\n\n");
    let data = data_dir("cut");
    let o = tomoni(&data).args(["chat", "--once", "tell me", "--endpoint", &url]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("before the reply was complete"));
    assert_eq!(turns(&data)[1], ("assistant".into(), "I was saying that".into(), "interrupted".into()));
}

#[test]
fn with_nothing_configured_the_offline_demo_answers_and_says_so() {
    // Where tomoni looks for Ollama: a port nothing listens on, so a real Ollama on this machine
    // cannot turn this test into a different one (it never skips).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data = data_dir("offline");
    let cfg = data.with_extension("toml");
    std::fs::write(&cfg, "[llm]\nbase_url = \"\"\n").unwrap();
    let o = tomoni(&data)
        .args(["chat", "--once", "hello"])
        .arg("--config")
        .arg(&cfg)
        .env("TOMONI_OLLAMA_URL", format!("http://127.0.0.1:{closed}/v1"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("offline demo (scripted lines, no language model)"), "{err}");
    assert!(out.contains("offline demo") && out.contains("not a language model"), "{out}");
    assert_eq!(turns(&data)[1].2, "complete");
}

/// Serves `body` to every request and keeps each request's header lines, so a test can see
/// that a key was really sent.
fn serve_keeping_headers(status: &'static str, body: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut s) = stream else { continue };
            let (head, _) = tomoni_bench::read_request_head(&s);
            let _ = tx.send(head);
            let kind = if status.starts_with("200") { "text/event-stream" } else { "application/json" };
            let _ = write!(s, "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\nconnection: close\r\n\r\n{body}");
        }
    });
    (url, rx)
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

/// Probing found the memory store, personas and exports created 0644 in a 0755 folder: other
/// local users could read a person's conversations. And the API key must never reach any
/// output or file: it is set to a recognisable value, really sent (the server sees it), and
/// then looked for everywhere tomoni wrote.
#[cfg(unix)]
#[test]
fn conversations_are_readable_by_their_person_only_and_the_key_is_never_written() {
    const KEY: &str = "sk-tomoni-test-4f1d9c2ab7e3";
    let (url, heads) = serve_keeping_headers("200 OK", REPLY);
    let (bad_url, _bad_heads) = serve_keeping_headers(
        "401 Unauthorized",
        "{\"error\":{\"message\":\"Incorrect API key provided: sk-tomoni-test-4f1d9c2ab7e3\"}}",
    );
    let data = data_dir("private");
    std::fs::create_dir_all(&data).unwrap();
    let config = data.parent().unwrap().join("chat-private.toml");
    std::fs::write(&config, "[llm]\napi_key_env = \"TOMONI_TEST_SECRET\"\n").unwrap();
    let run = |args: &[&str]| {
        let o = tomoni(&data).env("TOMONI_TEST_SECRET", KEY).args(args).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(!text.contains(KEY), "the key in the output of {args:?}:\n{text}");
        (o.status.code(), text)
    };
    let cfg = config.to_str().unwrap();
    let (code, text) = run(&["chat", "--once", "I live in Okayama.", "--endpoint", &url, "--config", cfg]);
    assert_eq!(code, Some(0), "{text}");
    let head = heads.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
    assert!(head.contains(&format!("Bearer {KEY}")), "the key was not sent, so this test proves nothing:\n{head}");
    // A provider that echoes the key back in its error: tomoni must not pass it on.
    let (code, text) = run(&["chat", "--once", "hello?", "--endpoint", &bad_url, "--config", cfg]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("401") || text.to_lowercase().contains("key"), "{text}");
    let export = data.join("export.json");
    let card = data.join("card.json");
    assert_eq!(run(&["memory", "export", "--out", export.to_str().unwrap()]).0, Some(0));
    assert_eq!(run(&["export", "card", "default", "--out", card.to_str().unwrap()]).0, Some(0));
    let _ = run(&["doctor", "--config", cfg]);

    assert_eq!(mode(&data), 0o700, "the state folder");
    for f in ["memory.sqlite3", "export.json", "card.json"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    for f in ["memory.sqlite3-wal", "memory.sqlite3-shm"] {
        if data.join(f).exists() {
            assert_eq!(mode(&data.join(f)), 0o600, "{f}");
        }
    }
    assert!(std::fs::read_to_string(&export).unwrap().contains("Okayama"), "the export holds the conversation");
    for entry in std::fs::read_dir(&data).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            assert!(!bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()), "the key is in {}", p.display());
        }
    }
    // A store made by an older version with the old modes is tightened on the next start.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("memory.sqlite3"), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(run(&["memory", "list"]).0, Some(0));
    assert_eq!((mode(&data), mode(&data.join("memory.sqlite3"))), (0o700, 0o600));
}
