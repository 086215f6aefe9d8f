//! The streaming client against a real HTTP server on loopback that replays what real
//! providers send, and every fault we know of. Timeouts and retries run on paused tokio time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tomoni_persona::client::{DialogueEvent, ErrorKind, LlmConfig, TurnEnd, TurnStatus, run_turn};
use tomoni_persona::openai::Message;
use tomoni_persona::tags::Emotion;

/// What the server answers to one request.
#[derive(Clone)]
enum Reply {
    /// 200 text/event-stream, chunked; each piece after its delay (ms).
    Sse(Vec<(u64, Vec<u8>)>),
    /// 200 text/event-stream, then the connection is closed mid-body (no final chunk).
    SseThenCut(Vec<(u64, Vec<u8>)>),
    /// A status with extra headers and a body.
    Status(u16, Vec<(&'static str, String)>, String),
}

struct Server {
    url: String,
    requests: Arc<AtomicUsize>,
    auth_seen: Arc<std::sync::Mutex<Vec<String>>>,
}

async fn serve(replies: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let auth_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (req2, auth2) = (requests.clone(), auth_seen.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let n = req2.fetch_add(1, Ordering::SeqCst);
            let reply = replies[n.min(replies.len() - 1)].clone();
            let auth = auth2.clone();
            tokio::spawn(async move {
                // Read the request head and body.
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                loop {
                    let Ok(k) = sock.read(&mut tmp).await else { return };
                    if k == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..k]);
                    if let Some(end) = find(&buf, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if let Some(a) = head.lines().find_map(|l| l.strip_prefix("authorization:")) {
                            auth.lock().unwrap().push(a.trim().to_string());
                        }
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                let cut = matches!(reply, Reply::SseThenCut(_));
                match reply {
                    Reply::Sse(pieces) | Reply::SseThenCut(pieces) => {
                        let _ = sock.write_all(head.as_bytes()).await;
                        for (delay, p) in pieces {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                            let _ = sock.write_all(format!("{:x}\r\n", p.len()).as_bytes()).await;
                            let _ = sock.write_all(&p).await;
                            let _ = sock.write_all(b"\r\n").await;
                        }
                        if !cut {
                            // The terminating chunk; a cut stream just stops here.
                            let _ = sock.write_all(b"0\r\n\r\n").await;
                        }
                    }
                    Reply::Status(code, headers, body) => {
                        let mut h = format!(
                            "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            h.push_str(&format!("{k}: {v}\r\n"));
                        }
                        h.push_str("\r\n");
                        let _ = sock.write_all(h.as_bytes()).await;
                        let _ = sock.write_all(body.as_bytes()).await;
                    }
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    Server { url, requests, auth_seen }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn config(url: &str) -> LlmConfig {
    LlmConfig {
        base_url: url.into(),
        model: "test".into(),
        first_token_timeout: Duration::from_secs(20),
        idle_timeout: Duration::from_secs(5),
        ..LlmConfig::default()
    }
}

/// Runs one turn; returns (events without End, the End).
async fn turn(cfg: &LlmConfig) -> (Vec<DialogueEvent>, TurnEnd) {
    let http = tomoni_persona::client::http_client(cfg).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_cancel_tx, cancel_rx) = oneshot::channel();
    let end = run_turn(&http, cfg, &[Message::new("user", "hi")], &tx, cancel_rx).await;
    drop(tx);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (events, end)
}

fn clauses(events: &[DialogueEvent]) -> Vec<String> {
    events.iter().filter_map(|e| if let DialogueEvent::Clause(c) = e { Some(c.clone()) } else { None }).collect()
}

fn error_kind(events: &[DialogueEvent]) -> Option<ErrorKind> {
    events.iter().find_map(|e| if let DialogueEvent::Error(x) = e { Some(x.kind) } else { None })
}

fn content(t: &str) -> String {
    serde_json::json!({"choices":[{"index":0,"delta":{"content":t},"finish_reason":null}]}).to_string()
}

fn sse(lines: &[String], sep: &str) -> Vec<(u64, Vec<u8>)> {
    lines.iter().map(|l| (0, format!("data: {l}{sep}{sep}").into_bytes())).collect()
}

const WORDS: [&str; 6] = ["[happy]Hel", "lo there! How", " are you", "? [gesture:nod]I'm", " fine", "."];

fn expect_hello(events: &[DialogueEvent], end: &TurnEnd) {
    assert_eq!(clauses(events), ["Hello there!", "How are you?", "I'm fine."], "{events:?}");
    assert_eq!(end.status, TurnStatus::Complete, "{events:?}");
    assert_eq!(end.text, "Hello there! How are you? I'm fine.");
    assert_eq!(events[0], DialogueEvent::FirstToken);
    assert!(events.contains(&DialogueEvent::Emotion(Emotion::Happy, 0.8)));
    assert!(events.contains(&DialogueEvent::Gesture("nod".into())));
    assert_eq!(error_kind(events), None);
}

#[tokio::test(start_paused = true)]
async fn openai_shape() {
    let mut l = vec![r#"{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#.to_string()];
    l.extend(WORDS.iter().map(|w| content(w)));
    l.push(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#.into());
    l.push(r#"{"choices":[],"usage":{"prompt_tokens":20,"completion_tokens":9,"total_tokens":29}}"#.into());
    l.push("[DONE]".into());
    let s = serve(vec![Reply::Sse(sse(&l, "\n"))]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    expect_hello(&ev, &end);
    assert_eq!(end.completion_tokens, Some(9));
}

#[tokio::test(start_paused = true)]
async fn ollama_shape_crlf_and_null_content() {
    let mut l: Vec<String> = WORDS.iter().map(|w| serde_json::json!({"id":"chatcmpl-1","object":"chat.completion.chunk","model":"llama3.2","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":w},"finish_reason":null}]}).to_string()).collect();
    l.push(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop"}]}"#.into());
    l.push("[DONE]".into());
    let s = serve(vec![Reply::Sse(sse(&l, "\r\n"))]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    expect_hello(&ev, &end);
}

#[tokio::test(start_paused = true)]
async fn llama_cpp_shape_no_space_after_data_and_timings() {
    let mut pieces: Vec<(u64, Vec<u8>)> = WORDS.iter().map(|w| (0, format!("data:{}\n\n", serde_json::json!({"choices":[{"delta":{"content":w},"finish_reason":null,"index":0}],"created":1,"model":"gemma","object":"chat.completion.chunk"})).into_bytes())).collect();
    pieces.push((0, b"data:{\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\",\"index\":0}],\"timings\":{\"predicted_n\":9}}\n\ndata: [DONE]\n\n".to_vec()));
    let s = serve(vec![Reply::Sse(pieces)]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    expect_hello(&ev, &end);
}

#[tokio::test(start_paused = true)]
async fn vllm_reasoning_is_never_spoken_and_usage_chunk_has_empty_choices() {
    let mut l = vec![r#"{"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"The user greets me; I should be happy."},"finish_reason":null}]}"#.to_string()];
    l.extend(WORDS.iter().map(|w| content(w)));
    l.push(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop","stop_reason":null}]}"#.into());
    l.push(r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9}}"#.into());
    l.push("[DONE]".into());
    let s = serve(vec![Reply::Sse(sse(&l, "\n"))]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    expect_hello(&ev, &end);
    assert!(!end.text.contains("greets"));
}

#[tokio::test(start_paused = true)]
async fn lm_studio_and_openrouter_comments_keepalives_and_split_bytes() {
    // OpenRouter sends `: OPENROUTER PROCESSING` comments; bytes arrive split mid-line.
    let mut body = b": OPENROUTER PROCESSING\n\n".to_vec();
    for w in WORDS {
        body.extend(format!("data: {}\n\n", content(w)).bytes());
    }
    body.extend(br#"data: {"choices":[{"delta":{"reasoning":"hidden"},"finish_reason":"stop"}]}"#);
    body.extend(b"\n\n: keep-alive\n\ndata: [DONE]\n\n");
    let pieces = body.chunks(7).map(|c| (0, c.to_vec())).collect();
    let s = serve(vec![Reply::Sse(pieces)]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    expect_hello(&ev, &end);
}

#[tokio::test(start_paused = true)]
async fn missing_done_after_finish_reason_is_complete() {
    let mut l: Vec<String> = WORDS.iter().map(|w| content(w)).collect();
    l.push(r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#.into());
    let s = serve(vec![Reply::Sse(sse(&l, "\n"))]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    expect_hello(&ev, &end);
}

#[tokio::test(start_paused = true)]
async fn refused_connection_is_a_clear_error_after_retries() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (ev, end) = turn(&config(&format!("http://127.0.0.1:{port}/v1"))).await;
    assert_eq!(error_kind(&ev), Some(ErrorKind::Connect), "{ev:?}");
    assert_eq!(end.status, TurnStatus::Interrupted);
    assert_eq!(end.text, "");
}

#[tokio::test(start_paused = true)]
async fn unauthorized_is_not_retried_and_never_shows_the_key() {
    // Cargo sets CARGO_PKG_NAME for test processes: a real environment variable holding a
    // value we know, standing in for an API key (setting variables is unsafe in edition 2024).
    let key = std::env::var("CARGO_PKG_NAME").unwrap();
    let s = serve(vec![Reply::Status(401, vec![], r#"{"error":{"message":"Incorrect API key"}}"#.into())]).await;
    let cfg = LlmConfig { api_key_env: Some("CARGO_PKG_NAME".into()), ..config(&s.url) };
    let (ev, end) = turn(&cfg).await;
    assert_eq!(error_kind(&ev), Some(ErrorKind::Auth));
    assert_eq!(s.requests.load(Ordering::SeqCst), 1);
    assert_eq!(s.auth_seen.lock().unwrap()[0], format!("bearer {key}"), "the key is sent as a bearer token");
    let shown = format!("{ev:?}");
    assert!(!shown.contains(&key), "{shown}");
    assert!(shown.contains("CARGO_PKG_NAME"), "the message names the variable to fix: {shown}");
    assert!(shown.contains("Incorrect API key"), "the server's own words are kept: {shown}");
    assert_eq!(end.status, TurnStatus::Interrupted);
}

fn error_message(events: &[DialogueEvent]) -> String {
    events.iter().find_map(|e| if let DialogueEvent::Error(x) = e { Some(x.message.clone()) } else { None }).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_key_echoed_by_the_server_is_not_shown() {
    let key = std::env::var("CARGO_PKG_NAME").unwrap();
    let s = serve(vec![Reply::Status(401, vec![], format!(r#"{{"error":{{"message":"bad key {key}"}}}}"#))]).await;
    let cfg = LlmConfig { api_key_env: Some("CARGO_PKG_NAME".into()), ..config(&s.url) };
    let (ev, _) = turn(&cfg).await;
    let m = error_message(&ev);
    assert!(!m.contains(&key) && m.contains("bad key"), "{m}");
}

#[tokio::test(start_paused = true)]
async fn a_compressed_stream_is_named_as_such_not_as_bad_utf8() {
    let s = serve(vec![Reply::Status(
        200,
        vec![("content-encoding", "gzip".into())],
        String::from_utf8_lossy(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).into_owned(),
    )])
    .await;
    let (ev, end) = turn(&config(&s.url)).await;
    let m = error_message(&ev);
    assert!(m.contains("gzip") && !m.contains("UTF-8"), "{m}");
    assert_eq!(end.status, TurnStatus::Interrupted);
}

#[tokio::test(start_paused = true)]
async fn giving_up_before_the_first_token_names_the_real_cause() {
    let s = serve(vec![Reply::Status(500, vec![], r#"{"error":{"message":"model crashed"}}"#.into())]).await;
    let cfg = LlmConfig { first_token_timeout: Duration::from_millis(700), ..config(&s.url) };
    let (ev, _) = turn(&cfg).await;
    let m = error_message(&ev);
    assert!(m.contains("500") && m.contains("model crashed"), "{m}");
}

#[tokio::test(start_paused = true)]
async fn rate_limit_honours_retry_after_then_succeeds() {
    let mut l: Vec<String> = WORDS.iter().map(|w| content(w)).collect();
    l.push("[DONE]".into());
    let s = serve(vec![
        Reply::Status(429, vec![("retry-after", "3".into())], r#"{"error":{"message":"slow down"}}"#.into()),
        Reply::Sse(sse(&l, "\n")),
    ])
    .await;
    let t0 = tokio::time::Instant::now();
    let (ev, end) = turn(&config(&s.url)).await;
    assert!(t0.elapsed() >= Duration::from_secs(3), "waited {:?}", t0.elapsed());
    assert_eq!(s.requests.load(Ordering::SeqCst), 2);
    assert_eq!(end.status, TurnStatus::Complete, "{ev:?}");
}

#[tokio::test(start_paused = true)]
async fn server_errors_retry_with_backoff_then_give_up() {
    let s = serve(vec![Reply::Status(500, vec![], "internal".into())]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    assert_eq!(s.requests.load(Ordering::SeqCst), 4, "1 try + 3 retries");
    assert_eq!(error_kind(&ev), Some(ErrorKind::Http));
    assert!(format!("{ev:?}").contains("500"));
    assert_eq!(end.status, TurnStatus::Interrupted);
}

#[tokio::test(start_paused = true)]
async fn cut_mid_stream_keeps_what_was_said_and_is_interrupted() {
    let l: Vec<String> = WORDS[..3].iter().map(|w| content(w)).collect();
    let s = serve(vec![Reply::SseThenCut(sse(&l, "\n"))]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    assert_eq!(clauses(&ev), ["Hello there!", "How are you"]);
    assert_eq!(error_kind(&ev), Some(ErrorKind::Cut), "{ev:?}");
    assert_eq!(end.status, TurnStatus::Interrupted);
    assert_eq!(end.text, "Hello there! How are you");
}

#[tokio::test(start_paused = true)]
async fn stream_ending_without_done_or_finish_is_cut() {
    let l: Vec<String> = WORDS.iter().map(|w| content(w)).collect();
    let s = serve(vec![Reply::Sse(sse(&l, "\n"))]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    assert_eq!(error_kind(&ev), Some(ErrorKind::Cut));
    assert_eq!(end.status, TurnStatus::Interrupted);
}

#[tokio::test(start_paused = true)]
async fn malformed_json_mid_stream() {
    let l = vec![content("Hi. "), "{\"choices\": [".to_string()];
    let s = serve(vec![Reply::Sse(sse(&l, "\n"))]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    assert_eq!(error_kind(&ev), Some(ErrorKind::Protocol));
    assert_eq!(clauses(&ev), ["Hi."]);
    assert_eq!(end.status, TurnStatus::Interrupted);
}

#[tokio::test(start_paused = true)]
async fn error_object_mid_stream() {
    let l = vec![content("Let me think. "), r#"{"error":{"message":"upstream overloaded","code":502}}"#.to_string()];
    let s = serve(vec![Reply::Sse(sse(&l, "\n"))]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    assert_eq!(error_kind(&ev), Some(ErrorKind::Provider));
    assert!(format!("{ev:?}").contains("upstream overloaded"));
    assert_eq!(end.status, TurnStatus::Interrupted);
}

#[tokio::test(start_paused = true)]
async fn slow_drip_within_idle_timeout_completes() {
    let mut pieces: Vec<(u64, Vec<u8>)> =
        WORDS.iter().map(|w| (4_000, format!("data: {}\n\n", content(w)).into_bytes())).collect();
    pieces.push((4_000, b"data: [DONE]\n\n".to_vec()));
    let s = serve(vec![Reply::Sse(pieces)]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    expect_hello(&ev, &end);
}

#[tokio::test(start_paused = true)]
async fn stall_longer_than_idle_timeout_is_a_timeout() {
    let pieces =
        vec![(0, format!("data: {}\n\n", content("Hello. ")).into_bytes()), (60_000, b"data: [DONE]\n\n".to_vec())];
    let s = serve(vec![Reply::Sse(pieces)]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    assert_eq!(error_kind(&ev), Some(ErrorKind::Timeout), "{ev:?}");
    assert_eq!(clauses(&ev), ["Hello."]);
    assert_eq!(end.status, TurnStatus::Interrupted);
}

#[tokio::test(start_paused = true)]
async fn no_first_token_is_a_timeout() {
    let pieces = vec![(120_000, format!("data: {}\n\n", content("late")).into_bytes())];
    let s = serve(vec![Reply::Sse(pieces)]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    assert_eq!(error_kind(&ev), Some(ErrorKind::Timeout));
    assert!(format!("{ev:?}").contains("first token"));
    assert_eq!(end.status, TurnStatus::Interrupted);
}

#[tokio::test(start_paused = true)]
async fn huge_reply_is_cut_off_cleanly() {
    let word = "la ".repeat(1000);
    let l: Vec<String> = (0..50).map(|_| content(&word)).collect();
    let s = serve(vec![Reply::Sse(sse(&l, "\n"))]).await;
    let cfg = LlmConfig { max_reply_chars: 20_000, ..config(&s.url) };
    let (ev, end) = turn(&cfg).await;
    assert_eq!(error_kind(&ev), Some(ErrorKind::TooLong));
    assert_eq!(end.status, TurnStatus::Interrupted);
    assert!(end.text.len() >= 20_000 && end.text.len() < 24_000, "{}", end.text.len());
}

/// Probing found a reply of 10,000 `a ` tokens with no sentence end took 89 s of CPU: the
/// chunker rescanned its buffer per token. Now it streams as clauses and completes.
#[tokio::test(start_paused = true)]
async fn ten_thousand_tokens_without_a_sentence_end_stream_as_clauses() {
    let mut l: Vec<String> = (0..10_000).map(|_| content("a ")).collect();
    l.push("[DONE]".into());
    let s = serve(vec![Reply::Sse(sse(&l, "\n"))]).await;
    let cpu = std::time::Instant::now();
    let (ev, end) = turn(&config(&s.url)).await;
    assert_eq!(end.status, TurnStatus::Complete, "{:?}", error_kind(&ev));
    let c = clauses(&ev);
    assert!(c.len() >= 20_000 / (tomoni_persona::chunker::MAX_CLAUSE + 2), "{} clauses", c.len());
    assert_eq!(c.concat().replace(' ', "").len(), 10_000);
    // A hang guard, not a speed test: the quadratic path took 89 s here.
    assert!(cpu.elapsed() < std::time::Duration::from_secs(30), "{:?}", cpu.elapsed());
}

/// One 10 MB event was held and parsed whole; now it is refused as soon as it passes the bound.
#[tokio::test(start_paused = true)]
async fn a_ten_megabyte_event_is_a_protocol_error() {
    let huge = content(&"a".repeat(10 << 20));
    let s = serve(vec![Reply::Sse(vec![
        (0, format!("data: {}\n\n", content("Hi. ")).into_bytes()),
        (0, format!("data: {huge}\n\n").into_bytes()),
    ])])
    .await;
    let (ev, end) = turn(&config(&s.url)).await;
    assert_eq!(error_kind(&ev), Some(ErrorKind::Protocol), "{ev:?}");
    assert!(format!("{ev:?}").contains("KiB"), "{ev:?}");
    assert_eq!(clauses(&ev), ["Hi."]);
    assert_eq!(end.status, TurnStatus::Interrupted);
}

/// A stream of nothing but tags, a chunk a second, never ended: no timeout fired and the
/// reply never grew. Now the turn's own limit ends it.
#[tokio::test(start_paused = true)]
async fn a_stream_that_never_ends_is_cut_at_the_turn_timeout() {
    let pieces: Vec<(u64, Vec<u8>)> =
        (0..100_000).map(|_| (1_000, format!("data: {}\n\n", content("[happy]")).into_bytes())).collect();
    let s = serve(vec![Reply::Sse(pieces)]).await;
    let cfg = LlmConfig { turn_timeout: Duration::from_secs(120), ..config(&s.url) };
    let (ev, end) = turn(&cfg).await;
    assert_eq!(error_kind(&ev), Some(ErrorKind::Timeout), "{:?}", ev.last());
    assert!(format!("{ev:?}").contains("did not end within 120s"), "{:?}", ev.last());
    assert_eq!(end.status, TurnStatus::Interrupted);
    let emotions = ev.iter().filter(|e| matches!(e, DialogueEvent::Emotion(..))).count();
    assert!((100..=121).contains(&emotions), "{emotions} tags in 120 s of one a second");
}

/// 100,000 tags in one burst count toward the reply's length like the words they replace.
#[tokio::test(start_paused = true)]
async fn a_burst_of_tags_counts_toward_the_reply_limit() {
    let l: Vec<String> = (0..100).map(|_| content(&"[happy]".repeat(1000))).collect();
    let s = serve(vec![Reply::Sse(sse(&l, "\n"))]).await;
    let cfg = LlmConfig { max_reply_chars: 20_000, ..config(&s.url) };
    let (ev, end) = turn(&cfg).await;
    assert_eq!(error_kind(&ev), Some(ErrorKind::TooLong), "{:?}", ev.last());
    assert_eq!(end.status, TurnStatus::Interrupted);
}

#[tokio::test(start_paused = true)]
async fn invalid_utf8_is_a_protocol_error() {
    let pieces = vec![
        (0, format!("data: {}\n\n", content("Fine. ")).into_bytes()),
        (0, b"data: {\"choices\":[{\"delta\":{\"content\":\"\xff\xfe\"}}]}\n\n".to_vec()),
    ];
    let s = serve(vec![Reply::Sse(pieces)]).await;
    let (ev, end) = turn(&config(&s.url)).await;
    assert_eq!(error_kind(&ev), Some(ErrorKind::Protocol), "{ev:?}");
    assert_eq!(end.status, TurnStatus::Interrupted);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_cancel_handle_stops_the_turn_without_an_error() {
    let pieces: Vec<(u64, Vec<u8>)> =
        (0..100).map(|i| (1_000, format!("data: {}\n\n", content(&format!("word{i} "))).into_bytes())).collect();
    let s = serve(vec![Reply::Sse(pieces)]).await;
    let cfg = config(&s.url);
    let http = tomoni_persona::client::http_client(&cfg).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move { run_turn(&http, &cfg, &[Message::new("user", "hi")], &tx, cancel_rx).await });
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    drop(cancel_tx);
    let t0 = tokio::time::Instant::now();
    let end = task.await.unwrap();
    assert!(t0.elapsed() < Duration::from_millis(10), "cancel took {:?}", t0.elapsed());
    assert_eq!(end.status, TurnStatus::Interrupted);
    let mut ev = Vec::new();
    while let Ok(e) = rx.try_recv() {
        ev.push(e);
    }
    assert_eq!(error_kind(&ev), None, "a cancel is not an error: {ev:?}");
}
