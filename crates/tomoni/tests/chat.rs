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
