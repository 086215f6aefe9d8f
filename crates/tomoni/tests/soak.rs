//! The soak: the live app (`tomoni run`, in an Xvfb window on lavapipe) in continuous
//! conversation with a model on loopback — a new turn every few seconds, some talked over,
//! some streams cut or refused, the server killed mid-reply and restarted — while its memory, threads, file descriptors, database and
//! frame loop are sampled. Two minutes in `cargo xtask test`; `cargo xtask soak --minutes N`
//! runs the same test longer (`TOMONI_SOAK_MINUTES`) and the figures go to
//! `docs/reliability.md`.
//!
//! What it holds: no turn lost (every line said is stored, every finished reply is stored as
//! the server sent it, every broken one as interrupted), descriptors and threads back where
//! they were, memory that does not grow with the turns, and a frame loop as steady at the end
//! as at the start.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the loopback model does with turn `n`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A reply of a few sentences, streamed briskly.
    Reply,
    /// A slow reply that the next turn talks over.
    TalkedOver,
    /// The connection closes mid-reply.
    Cut,
    /// HTTP 500 with an error body, as a provider does when it fails.
    Refused,
    /// The server dies mid-reply and comes back on the same port two seconds later: the next
    /// turn finds nobody listening at first.
    Killed,
}

fn kind(n: u64) -> Kind {
    match n % 10 {
        1 => Kind::Killed,
        3 => Kind::Cut,
        6 => Kind::TalkedOver,
        8 => Kind::Refused,
        _ => Kind::Reply,
    }
}

/// The reply the model streams for turn `n`, in pieces, tags included.
fn reply_pieces(n: u64) -> Vec<String> {
    let moods = ["[happy]", "[relaxed]", "[surprised]", ""];
    let mut v = vec![
        format!("{}Turn {n} reached me. ", moods[(n % 4) as usize]),
        "It is good ".to_string(),
        format!("to talk with you, number {n}. "),
    ];
    if kind(n) == Kind::TalkedOver {
        v.extend((0..12).map(|i| format!("And a long thought, part {i}, ")));
    }
    v.push("[nod]What next?".to_string());
    v
}

/// `text` as the companion speaks and stores it: tags out, spaces normalised.
fn spoken(text: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '[' => in_tag = true,
            ']' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The turn number in `Soak turn N: …`.
fn turn_of(body: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let last_user = v["messages"].as_array()?.iter().rev().find(|m| m["role"] == "user")?;
    let text = last_user["content"].as_str()?;
    text.strip_prefix("Soak turn ")?.split(':').next()?.parse().ok()
}

/// A loopback OpenAI-compatible server: each request answered on its own thread, by the turn
/// number in the last user message; other requests (a greeting) get a short reply. Returns
/// the base URL.
fn serve_model(requests: Arc<Mutex<Vec<u64>>>, streamed: Arc<Mutex<BTreeMap<u64, usize>>>) -> String {
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = first.local_addr().unwrap();
    let url = format!("http://{addr}/v1");
    // Until when the server is dead (a `Killed` turn sets it).
    let down: Arc<Mutex<Option<Instant>>> = Arc::default();
    std::thread::spawn(move || {
        let mut listener = Some(first);
        loop {
            let until = *down.lock().unwrap();
            if let Some(until) = until {
                listener = None; // dead: connections are refused
                if Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                *down.lock().unwrap() = None;
                listener = Some(TcpListener::bind(addr).expect("the port again")); // restarted
            }
            let l = listener.as_ref().unwrap();
            l.set_nonblocking(true).unwrap();
            let mut s = match l.accept() {
                Ok((s, _)) => s,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            s.set_nonblocking(false).unwrap();
            let (requests, down, streamed) = (requests.clone(), down.clone(), streamed.clone());
            std::thread::spawn(move || {
                let (_, body) = tomoni_bench::read_request(&s);
                let n = turn_of(&body);
                if let Some(n) = n {
                    requests.lock().unwrap().push(n);
                }
                let k = n.map_or(Kind::Reply, kind);
                if k == Kind::Refused {
                    let body = r#"{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}"#;
                    let _ = write!(
                        s,
                        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    return;
                }
                let pieces = n.map_or_else(|| vec!["Hello again.".to_string()], reply_pieces);
                let pace = if k == Kind::TalkedOver { 250 } else { 30 };
                let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n");
                let send = if matches!(k, Kind::Cut | Kind::Killed) { 2 } else { pieces.len() };
                for p in &pieces[..send] {
                    let ev = serde_json::json!({"choices": [{"delta": {"content": p}}]});
                    if s.write_all(format!("data: {ev}\n\n").as_bytes()).is_err() {
                        return; // the client hung up (talked over)
                    }
                    if let Some(n) = n {
                        *streamed.lock().unwrap().entry(n).or_default() += 1;
                    }
                    std::thread::sleep(Duration::from_millis(pace));
                }
                if k == Kind::Killed {
                    *down.lock().unwrap() = Some(Instant::now() + Duration::from_secs(2));
                    let _ = s.shutdown(std::net::Shutdown::Both);
                    return;
                }
                if k != Kind::Cut {
                    let _ = s.write_all(
                        b"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
                    );
                }
            });
        }
    });
    url
}

/// One look at the running app from outside, and at its frame loop from inside.
#[derive(Debug, Clone)]
struct Sample {
    at_s: f64,
    rss_kib: u64,
    threads: u64,
    fds: usize,
    db_bytes: u64,
    turns_sent: u64,
    frames: u64,
    frame_p50_ms: f64,
    frame_p99_ms: f64,
}

impl Sample {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "at_s": self.at_s, "rss_kib": self.rss_kib, "threads": self.threads, "fds": self.fds,
            "db_bytes": self.db_bytes, "turns_sent": self.turns_sent, "frames": self.frames,
            "frame_p50_ms": self.frame_p50_ms, "frame_p99_ms": self.frame_p99_ms,
        })
    }
}

fn proc_field(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()?.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// The growth (MiB) that at least three of four intervals reach: their lower quartile. A leak
/// grows memory every interval and this reads it whole; the allocator's warm-up steps, flat
/// between them, read as nothing. (The median, used until session 35, read the warm-up's
/// steps as growth in four of eleven runs that session, whichever avatar files: sorted,
/// 0.0 0.01 0.01 0.28 | 1.03 1.62 1.83 5.97 is one of them.)
fn sustained_growth(steps: &[f64]) -> f64 {
    let mut sorted = steps.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 4]
}

#[test]
fn the_memory_check_reads_a_leak_and_not_the_allocators_warm_up() {
    // a turn's speech kept, ~1.4 MiB an interval, on top of the noise and of one arena's step
    let leak = [1.5, 1.3, 1.4, 6.9, 1.2, 1.6, 1.4, 1.3];
    assert!(sustained_growth(&leak) >= 1.0, "{}", sustained_growth(&leak));
    // a leak in three intervals of four (the allocator reusing freed memory in the fourth)
    let patchy = [1.9, 0.0, 1.9, 1.9, 1.8, 0.0, 1.9, 2.0];
    assert!(sustained_growth(&patchy) >= 1.0, "{}", sustained_growth(&patchy));
    // the warm-up of a run that the median failed (session 35: 1.03), and one that it passed
    let warm_up = [1.03, 0.01, 5.97, 1.62, 0.0, 0.28, 1.83, 0.01];
    assert!(sustained_growth(&warm_up) < 1.0, "{}", sustained_growth(&warm_up));
    let quiet = [0.0, 0.02, 8.0, 0.0, 0.0, 0.01, 0.0, 0.0];
    assert!(sustained_growth(&quiet) < 1.0, "{}", sustained_growth(&quiet));
}

/// Least-squares slope of `y` over `x`.
fn slope(pts: &[(f64, f64)]) -> f64 {
    let n = pts.len() as f64;
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
    let cov: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let var: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if var > 0.0 { cov / var } else { 0.0 }
}

#[test]
fn a_long_conversation_loses_no_turn_and_leaks_nothing() {
    let minutes: f64 = std::env::var("TOMONI_SOAK_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(2.0);
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("soak");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let (data, sock, cfg) = (tmp.join("data"), tmp.join("soak.sock"), tmp.join("soak.toml"));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let streamed: Arc<Mutex<BTreeMap<u64, usize>>> = Arc::default();
    let url = serve_model(requests.clone(), streamed.clone());
    std::fs::write(&cfg, format!("[llm]\nbase_url = \"{url}\"\nmodel = \"soak\"\nidle_timeout = 10.0\n")).unwrap();

    let (_x, display) = common::start_xvfb();
    let log = std::fs::File::create(tmp.join("app.log")).unwrap();
    let mut app = common::tomoni_cmd()
        .args(["run", "--no-xr", "--no-mic", "--window-size", "320x180", "--config"])
        .arg(&cfg)
        .env("TOMONI_DATA_DIR", &data)
        .env("TOMONI_SOCKET", &sock)
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("XDG_RUNTIME_DIR")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let pid = app.id();
    let see_log = format!("the app never listened; see {}", tmp.join("app.log").display());
    common::wait_until(Duration::from_secs(60), &see_log, || {
        assert!(app.try_wait().unwrap().is_none(), "the app exited; see {}", tmp.join("app.log").display());
        sock.exists()
    });
    // The greeting and the first frames; the frame window starts clean.
    std::thread::sleep(Duration::from_secs(5));
    common::control(&sock, "status").unwrap();

    let finals: Arc<Mutex<BTreeMap<u64, (String, String)>>> = Arc::default();
    let mut samples: Vec<Sample> = Vec::new();
    let start = Instant::now();
    let run_for = Duration::from_secs_f64(minutes * 60.0);
    let mut next_sample = Duration::ZERO;
    let mut n = 0u64;
    let mut talking: Vec<std::thread::JoinHandle<()>> = Vec::new();
    // A turn to be talked over is always followed by one that does.
    while start.elapsed() < run_for || kind(n) == Kind::TalkedOver {
        if start.elapsed() >= next_sample {
            let status = common::control(&sock, "status").unwrap();
            let st: serde_json::Value =
                serde_json::from_str(status["done"].as_str().expect("status answers done")).unwrap();
            samples.push(Sample {
                at_s: start.elapsed().as_secs_f64(),
                rss_kib: proc_field(pid, "VmRSS:"),
                threads: proc_field(pid, "Threads:"),
                fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count()),
                db_bytes: dir_bytes(&data),
                turns_sent: n,
                frames: st["frames"].as_u64().unwrap_or(0),
                frame_p50_ms: st["frame_ms"]["p50"].as_f64().unwrap_or(0.0),
                frame_p99_ms: st["frame_ms"]["p99"].as_f64().unwrap_or(0.0),
            });
            next_sample += Duration::from_secs(10);
        }
        n += 1;
        let line = format!("Soak turn {n}: tell me something, please.");
        let (sock2, finals2) = (sock.clone(), finals.clone());
        let h = std::thread::spawn(move || {
            let last =
                common::control(&sock2, &format!("say {line}")).unwrap_or_else(|e| serde_json::json!({"lost": e}));
            let (k, v) =
                last.as_object().and_then(|o| o.iter().next()).map(|(k, v)| (k.clone(), v.to_string())).unwrap();
            finals2.lock().unwrap().insert(n, (k, v));
        });
        if kind(n) == Kind::TalkedOver {
            // Talked over while the reply is streaming: once the model has sent its first two
            // pieces (a quarter of a second apart; it sends 16). A fixed second after the line
            // was said was not always "while streaming": with lavapipe's slow frames the line
            // was sometimes taken up only when the next one came, and its reply was empty.
            let started = Instant::now();
            while streamed.lock().unwrap().get(&n).copied().unwrap_or(0) < 2 {
                assert!(started.elapsed() < Duration::from_secs(60), "turn {n}'s reply never started streaming");
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_millis(100));
            talking.push(h);
        } else {
            h.join().unwrap();
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    for h in talking {
        h.join().unwrap();
    }
    assert_eq!(common::control(&sock, "quit").unwrap()["done"], "bye");
    let status = common::wait_exit(&mut app, Duration::from_secs(30), "the app did not exit after `quit`");
    let log_text = std::fs::read_to_string(tmp.join("app.log")).unwrap();
    assert!(status.success(), "the app exited with {status}:\n{log_text}");
    assert!(!log_text.contains("panicked"), "{log_text}");

    // No turn lost: every line said is stored; every finished reply exactly as streamed; every
    // broken one kept as interrupted.
    let memory = tomoni_persona::memory::Memory::open(&data.join("memory.sqlite3")).unwrap();
    let turns = memory.all_turns().unwrap();
    let finals = finals.lock().unwrap().clone();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for i in 1..=n {
        let said = format!("Soak turn {i}: tell me something, please.");
        let at = turns.iter().position(|t| t.role == "user" && t.text == said);
        let at = at.unwrap_or_else(|| panic!("turn {i}'s words were not stored"));
        // The reply to turn i (stored after it; a reply talked over may be stored after the
        // next line said).
        let mine = format!("Turn {i} reached me");
        let answer = turns[at + 1..].iter().find(|t| t.role == "assistant" && t.text.starts_with(&mine));
        let (fin, _) = finals.get(&i).cloned().unwrap_or_else(|| panic!("turn {i} got no final reply"));
        let full = spoken(&reply_pieces(i).concat());
        match kind(i) {
            Kind::Reply => {
                let a = answer.unwrap_or_else(|| panic!("turn {i}'s reply was not stored"));
                assert_eq!(fin, "done", "turn {i}");
                assert_eq!((a.text.as_str(), a.status.as_str()), (full.as_str(), "complete"), "turn {i}");
            }
            Kind::Cut | Kind::TalkedOver | Kind::Killed => {
                let a = answer.unwrap_or_else(|| panic!("turn {i}'s reply was not stored: {:?}", &turns[at..]));
                assert_eq!(fin, "interrupted", "turn {i}");
                assert_eq!(a.status, "interrupted", "turn {i}: {a:?}");
                assert!(full.starts_with(&a.text), "turn {i}: stored {:?}, sent {full:?}", a.text);
            }
            Kind::Refused => assert_ne!(fin, "done", "turn {i}: a refused request cannot be done"),
        }
        *counts.entry(fin).or_default() += 1;
    }
    // Each turn asks the model once; a refused one is retried (1 + `max_retries` = 4 asks),
    // never in a loop.
    let requests = requests.lock().unwrap().clone();
    for i in 1..=n {
        let asked = requests.iter().filter(|&&r| r == i).count();
        assert_eq!(asked, if kind(i) == Kind::Refused { 4 } else { 1 }, "turn {i} asked the model {asked} times");
    }

    // Resources: after the first 30 s (caches, shaders, the voice warmed), nothing may grow
    // with the turns. Bounds: one descriptor or thread leaked per turn would raise their floor
    // by ~20 between the halves of two minutes' ~40 turns; the bound is 2. Resident memory is
    // judged by `sustained_growth`: a leak grows it every interval, while the allocator taking
    // new arenas grows it in steps, flat between them, through the first ten minutes (the
    // hour's run: 680 MiB at 1 min, 721 at 10, then flat). A turn's speech kept in memory
    // (≈ 0.35 MB: 4 s at 22 kHz, f32) at ~4 turns per 10 s would be ≈ 1.4 MiB per interval;
    // the bound is 1 MiB.
    let warm: Vec<&Sample> = samples.iter().filter(|s| s.at_s >= 30.0).collect();
    assert!(warm.len() >= 3, "too few samples after warm-up: {samples:?}");
    let (first, last) = (warm[0], warm[warm.len() - 1]);
    let rss_per_min = slope(&warm.iter().map(|s| (s.at_s / 60.0, s.rss_kib as f64 / 1024.0)).collect::<Vec<_>>());
    let steps: Vec<f64> = warm.windows(2).map(|w| (w[1].rss_kib as f64 - w[0].rss_kib as f64) / 1024.0).collect();
    let sustained = sustained_growth(&steps);
    let turns_between = (last.turns_sent - first.turns_sent).max(1);
    let db_per_turn = (last.db_bytes as f64 - first.db_bytes as f64) / turns_between as f64;
    let report = serde_json::json!({
        "minutes": minutes,
        "turns": n,
        "finals": counts,
        "rss_mib_per_hour": rss_per_min * 60.0,
        "rss_sustained_mib_per_sample": sustained,
        "rss_mib": [first.rss_kib / 1024, last.rss_kib / 1024],
        "threads": [first.threads, last.threads],
        "fds": [first.fds, last.fds],
        "db_bytes_per_turn": db_per_turn,
        "frame_p99_ms": [first.frame_p99_ms, last.frame_p99_ms],
        "frame_p50_ms": [first.frame_p50_ms, last.frame_p50_ms],
        "samples": samples.iter().map(Sample::json).collect::<Vec<_>>(),
    });
    let out = std::env::var_os("TOMONI_SOAK_REPORT").map_or_else(|| tmp.join("soak.json"), PathBuf::from);
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("soak: {}", serde_json::to_string(&report["finals"]).unwrap());
    println!(
        "soak: {n} turns in {minutes} min; RSS {:?} MiB ({:+.1} MiB/h); threads {:?}; fds {:?}; {:.0} B/turn in SQLite; frame p99 {:.1} → {:.1} ms; report {}",
        report["rss_mib"],
        rss_per_min * 60.0,
        report["threads"],
        report["fds"],
        db_per_turn,
        first.frame_p99_ms,
        last.frame_p99_ms,
        out.display()
    );
    // Descriptors and threads come and go with the connections in flight at a sample (the
    // `status` request itself, a reply streaming, a line being said: 17–22 fds seen), so each
    // half's floor is compared: a leak raises the floor, traffic does not.
    let half = warm.len() / 2;
    let floor = |v: &[&Sample], f: fn(&Sample) -> u64| v.iter().map(|s| f(s)).min().unwrap();
    let (fds, threads): (fn(&Sample) -> u64, fn(&Sample) -> u64) = (|s| s.fds as u64, |s| s.threads);
    assert!(
        floor(&warm[half..], fds) <= floor(&warm[..half], fds) + 2,
        "file descriptors grew: {:?}",
        warm.iter().map(|s| s.fds).collect::<Vec<_>>()
    );
    assert!(
        floor(&warm[half..], threads) <= floor(&warm[..half], threads) + 2,
        "threads grew: {:?}",
        warm.iter().map(|s| s.threads).collect::<Vec<_>>()
    );
    assert!(
        sustained < 1.0,
        "resident memory grows {sustained:.2} MiB in three of four 10-s samples; by sample: {:?}",
        warm.iter().map(|s| s.rss_kib / 1024).collect::<Vec<_>>()
    );
    assert!(
        last.frame_p99_ms <= 2.0 * first.frame_p99_ms + 20.0,
        "the frame loop slowed: p99 {:.1} ms at the start of the run, {:.1} ms at its end",
        first.frame_p99_ms,
        last.frame_p99_ms
    );
}
