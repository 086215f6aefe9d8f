//! The streaming dialogue client: one tokio runtime on its own thread, one task per turn.
//!
//! The app starts a turn with [`DialogueService::turn`] and drains [`Turn::try_next`] each
//! frame without blocking; dropping the [`Turn`] cancels it (barge-in). Every turn ends with
//! exactly one [`DialogueEvent::End`], after an [`DialogueEvent::Error`] when it failed.

use crate::chunker::ClauseChunker;
use crate::openai::{ChunkPart, Message, parse_chunk, request_body};
use crate::sse::SseParser;
use crate::tags::{Emotion, TagParser, Tagged};
use futures_util::StreamExt;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Where and how to reach an OpenAI-compatible chat endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmConfig {
    /// Base URL up to and including `/v1` (e.g. `http://127.0.0.1:11434/v1` for Ollama).
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// Name of the environment variable that holds the API key (the key itself is never stored).
    pub api_key_env: Option<String>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// From sending the request to the first token of content.
    pub first_token_timeout: Duration,
    /// Longest silence between chunks once streaming.
    pub idle_timeout: Duration,
    /// Longest a whole turn may stream: a server that trickles forever (a stream of nothing
    /// but tags, keep-alives between tiny chunks) is cut off here.
    pub turn_timeout: Duration,
    /// Retries before the first token (429, 5xx, connection failures).
    pub max_retries: u32,
    /// Sampling temperature, if set.
    pub temperature: Option<f32>,
    /// A reply longer than this (characters as streamed, tags included) is cut off as
    /// interrupted.
    pub max_reply_chars: usize,
    /// `max_tokens` sent to the server: spoken replies should be short, and a base model
    /// would otherwise talk until its context is full.
    pub max_tokens: Option<u32>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:11434/v1".into(),
            model: "llama3.2".into(),
            api_key_env: None,
            connect_timeout: Duration::from_secs(5),
            first_token_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            turn_timeout: Duration::from_secs(300),
            max_retries: 3,
            temperature: None,
            max_reply_chars: 100_000,
            max_tokens: Some(400),
        }
    }
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnStatus {
    /// The reply arrived whole.
    Complete,
    /// The reply stopped early (error, timeout, cut stream, cancel); what was said is kept.
    Interrupted,
}

impl TurnStatus {
    /// The name stored in memory.
    pub fn as_str(self) -> &'static str {
        match self {
            TurnStatus::Complete => "complete",
            TurnStatus::Interrupted => "interrupted",
        }
    }
}

/// What kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Could not connect (refused, DNS, TLS).
    Connect,
    /// 401/403: the key is missing or wrong.
    Auth,
    /// 429 after all retries.
    RateLimited,
    /// Another HTTP status.
    Http,
    /// No first token / too long between chunks / the whole turn too long.
    Timeout,
    /// The stream broke off before it was complete.
    Cut,
    /// The server sent something unparseable (bad JSON, invalid UTF-8, an oversized event).
    Protocol,
    /// The provider reported an error inside the stream.
    Provider,
    /// The reply exceeded `max_reply_chars`.
    TooLong,
}

/// A failure, explained for the user and the log (never containing the API key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogueError {
    /// Which kind.
    pub kind: ErrorKind,
    /// What happened.
    pub message: String,
}

/// How a turn ended, with the whole reply (tags removed) for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnEnd {
    /// Complete or interrupted.
    pub status: TurnStatus,
    /// Everything speakable that arrived.
    pub text: String,
    /// Completion tokens, if the provider said.
    pub completion_tokens: Option<u64>,
}

/// What the dialogue task tells the app, in order. Closed: the app never sees wire formats.
#[derive(Debug, Clone, PartialEq)]
pub enum DialogueEvent {
    /// The first token of content arrived (for latency measurement and the thinking cue).
    FirstToken,
    /// A complete, speakable clause (no tags, no markdown).
    Clause(String),
    /// Show an emotion.
    Emotion(Emotion, f32),
    /// Play a gesture.
    Gesture(String),
    /// Pause speech for this many milliseconds.
    Pause(u32),
    /// Something went wrong; an `End` follows.
    Error(DialogueError),
    /// The turn is over.
    End(TurnEnd),
}

/// Something that rewrites a reply's events as they stream (the wellbeing guard).
pub trait TurnFilter: Send + std::fmt::Debug {
    /// Events to show before the reply's own (taken once).
    fn take_prefix(&mut self, out: &mut std::collections::VecDeque<DialogueEvent>);
    /// Passes one event of the reply; what should be shown lands in `out`.
    fn process(&mut self, ev: DialogueEvent, out: &mut std::collections::VecDeque<DialogueEvent>);
}

/// A running turn. Dropping it cancels the request.
#[derive(Debug)]
pub struct Turn {
    events: mpsc::UnboundedReceiver<DialogueEvent>,
    _cancel: Option<oneshot::Sender<()>>,
    /// Rewrites the reply as it streams (care and honesty: `wellbeing::TurnGuard`).
    guard: Option<Box<dyn TurnFilter>>,
    ready: std::collections::VecDeque<DialogueEvent>,
}

impl Turn {
    /// A turn whose events are already known (the offline demo, scripted ceremonies).
    pub fn scripted(events: Vec<DialogueEvent>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        for e in events {
            let _ = tx.send(e);
        }
        Self::new(rx, None)
    }

    fn new(events: mpsc::UnboundedReceiver<DialogueEvent>, cancel: Option<oneshot::Sender<()>>) -> Self {
        Self { events, _cancel: cancel, guard: None, ready: std::collections::VecDeque::new() }
    }

    /// This turn with its reply passed through `guard`; the guard's opening lines (crisis care)
    /// are ready at once, before the model's first token.
    pub fn guarded(mut self, mut guard: impl TurnFilter + 'static) -> Self {
        guard.take_prefix(&mut self.ready);
        self.guard = Some(Box::new(guard));
        self
    }

    fn pass(&mut self, ev: DialogueEvent) {
        match &mut self.guard {
            Some(g) => g.process(ev, &mut self.ready),
            None => self.ready.push_back(ev),
        }
    }

    /// The next event if one is ready; never blocks (safe on the frame loop).
    pub fn try_next(&mut self) -> Option<DialogueEvent> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(e);
            }
            let ev = self.events.try_recv().ok()?;
            self.pass(ev);
        }
    }

    /// Waits for the next event (for CLI use, never on the frame loop). `None` after `End`.
    pub fn blocking_next(&mut self) -> Option<DialogueEvent> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(e);
            }
            let ev = self.events.blocking_recv()?;
            self.pass(ev);
        }
    }

    /// Waits for the next event in async code.
    pub async fn next(&mut self) -> Option<DialogueEvent> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(e);
            }
            let ev = self.events.recv().await?;
            self.pass(ev);
        }
    }
}

/// A tokio runtime on its own thread, shared by all turns.
pub struct DialogueService {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    config: LlmConfig,
}

impl DialogueService {
    /// Starts the runtime thread.
    pub fn start(config: LlmConfig) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tomoni-dialogue")
            .enable_all()
            .build()?;
        let http = http_client(&config).map_err(std::io::Error::other)?;
        Ok(Self { runtime, http, config })
    }

    /// The configuration in use.
    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// Starts a turn; returns at once.
    pub fn turn(&self, messages: Vec<Message>) -> Turn {
        self.turn_with(messages, |_| {})
    }

    /// Starts a turn and calls `on_end` (on the runtime's thread) with how it ended: the hook
    /// for logging the turn to memory.
    pub fn turn_with(&self, messages: Vec<Message>, on_end: impl FnOnce(&TurnEnd) + Send + 'static) -> Turn {
        let (tx, rx) = mpsc::unbounded_channel();
        let (cancel_tx, cancel_rx) = oneshot::channel();
        let http = self.http.clone();
        let config = self.config.clone();
        self.runtime.spawn(async move {
            let end = run_turn(&http, &config, &messages, &tx, cancel_rx).await;
            // Logging may touch the disk: keep it off the async workers.
            let end2 = end.clone();
            let _ = tokio::task::spawn_blocking(move || on_end(&end2)).await;
            let _ = tx.send(DialogueEvent::End(end));
        });
        Turn::new(rx, Some(cancel_tx))
    }
}

/// The HTTP client with our timeouts.
pub fn http_client(config: &LlmConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder().connect_timeout(config.connect_timeout).user_agent("tomoni").build()
}

/// Reads the API key from the configured environment variable, if any.
fn api_key(config: &LlmConfig) -> Option<String> {
    config.api_key_env.as_ref().and_then(|v| std::env::var(v).ok()).filter(|k| !k.is_empty())
}

struct Assembly<'a> {
    tx: &'a mpsc::UnboundedSender<DialogueEvent>,
    tags: TagParser,
    chunker: ClauseChunker,
    text: String,
    /// Characters streamed so far, tags included: counted as they come, because counting
    /// `text` again per chunk made 200,000 tiny chunks quadratic.
    streamed_chars: usize,
    scratch: Vec<Tagged>,
    clauses: Vec<String>,
}

impl<'a> Assembly<'a> {
    fn new(tx: &'a mpsc::UnboundedSender<DialogueEvent>) -> Self {
        Self {
            tx,
            tags: TagParser::default(),
            chunker: ClauseChunker::default(),
            text: String::new(),
            streamed_chars: 0,
            scratch: Vec::new(),
            clauses: Vec::new(),
        }
    }

    fn content(&mut self, piece: &str) {
        self.streamed_chars += piece.chars().count();
        self.tags.feed(piece, &mut self.scratch);
        self.drain();
    }

    fn drain(&mut self) {
        for t in std::mem::take(&mut self.scratch) {
            match t {
                Tagged::Text(s) => {
                    self.text.push_str(&s);
                    self.chunker.push(&s, &mut self.clauses);
                }
                Tagged::Emotion(e, i) => self.send(DialogueEvent::Emotion(e, i)),
                Tagged::Gesture(g) => self.send(DialogueEvent::Gesture(g)),
                Tagged::Pause(ms) => {
                    // A pause ends the clause before it, so speech actually stops there.
                    self.chunker.finish(&mut self.clauses);
                    self.flush();
                    self.send(DialogueEvent::Pause(ms));
                }
                Tagged::Unknown(tag) => eprintln!("tomoni: dropped unknown expression tag [{tag}]"),
            }
            self.flush();
        }
    }

    fn flush(&mut self) {
        for c in std::mem::take(&mut self.clauses) {
            let _ = self.tx.send(DialogueEvent::Clause(c));
        }
    }

    fn send(&mut self, e: DialogueEvent) {
        self.flush();
        let _ = self.tx.send(e);
    }

    fn finish(&mut self) {
        self.tags.finish(&mut self.scratch);
        self.drain();
        self.chunker.finish(&mut self.clauses);
        self.flush();
    }
}

/// The events of a reply known in full (the offline demo, scripted lines): the same tag and
/// clause handling a streamed reply gets, ending in a complete `End`.
pub fn scripted_events(text: &str) -> Vec<DialogueEvent> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _ = tx.send(DialogueEvent::FirstToken);
    let mut asm = Assembly::new(&tx);
    asm.content(text);
    asm.finish();
    let spoken = asm.text.split_whitespace().collect::<Vec<_>>().join(" ");
    let _ =
        tx.send(DialogueEvent::End(TurnEnd { status: TurnStatus::Complete, text: spoken, completion_tokens: None }));
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    events
}

fn err(kind: ErrorKind, message: impl Into<String>) -> DialogueError {
    DialogueError { kind, message: message.into() }
}

/// Seconds from a `Retry-After` header (delta-seconds form), capped at 60.
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = v.trim().parse().ok()?;
    Some(Duration::from_secs_f64(secs.clamp(0.0, 60.0)))
}

/// Runs one turn to its end, sending events; returns how it ended. Cancellation: when
/// `cancel` resolves (its sender dropped), the request is abandoned at once.
pub async fn run_turn(
    http: &reqwest::Client,
    config: &LlmConfig,
    messages: &[Message],
    tx: &mpsc::UnboundedSender<DialogueEvent>,
    mut cancel: oneshot::Receiver<()>,
) -> TurnEnd {
    let mut asm = Assembly::new(tx);
    let mut completion_tokens = None;
    let result = tokio::select! {
        r = stream_turn(http, config, messages, &mut asm, &mut completion_tokens) => r,
        _ = &mut cancel => Err(err(ErrorKind::Cut, "cancelled")),
    };
    asm.finish();
    let status = match result {
        Ok(()) => TurnStatus::Complete,
        Err(e) => {
            if e.message != "cancelled" {
                let _ = tx.send(DialogueEvent::Error(e));
            }
            TurnStatus::Interrupted
        }
    };
    TurnEnd { status, text: asm.text.trim().to_string(), completion_tokens }
}

async fn stream_turn(
    http: &reqwest::Client,
    config: &LlmConfig,
    messages: &[Message],
    asm: &mut Assembly<'_>,
    completion_tokens: &mut Option<u64>,
) -> Result<(), DialogueError> {
    let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
    let body = request_body(&config.model, messages, config.temperature, config.max_tokens);
    let key = api_key(config);
    let started = tokio::time::Instant::now();
    let first_deadline = started + config.first_token_timeout;
    let turn_deadline = started + config.turn_timeout;
    let mut attempt = 0;
    // What went wrong on the last try, so that giving up says the real cause.
    let mut last_cause: String;
    let resp = loop {
        let mut req = http.post(&url).json(&body).header("accept", "text/event-stream");
        if let Some(k) = &key {
            req = req.bearer_auth(k);
        }
        let sent = tokio::time::timeout_at(first_deadline, req.send()).await;
        let wait = match sent {
            Err(_) => {
                return Err(err(
                    ErrorKind::Timeout,
                    format!("no response from {url} within {:?}", config.first_token_timeout),
                ));
            }
            Ok(Err(e)) => {
                let e = err(ErrorKind::Connect, format!("cannot reach {url}: {}", error_chain(&e)));
                if attempt >= config.max_retries {
                    return Err(e);
                }
                last_cause = e.message;
                backoff(attempt)
            }
            Ok(Ok(resp)) => {
                let s = resp.status();
                if s.is_success() {
                    break resp;
                }
                let retry = s.as_u16() == 429 || s.is_server_error();
                let ra = retry_after(&resp);
                // Some servers echo the key they refused: it never reaches a message or a log.
                let detail = match &key {
                    Some(k) if k.len() >= 4 => body_excerpt(resp).await.replace(k.as_str(), "<the key>"),
                    _ => body_excerpt(resp).await,
                };
                let kind = match s.as_u16() {
                    401 | 403 => ErrorKind::Auth,
                    429 => ErrorKind::RateLimited,
                    _ => ErrorKind::Http,
                };
                let msg = match kind {
                    // The server's own words first: they often say which key or which model.
                    ErrorKind::Auth => format!(
                        "{url} refused the request ({s}): {detail}; check the API key in ${}",
                        config.api_key_env.as_deref().unwrap_or("<no key variable configured>")
                    ),
                    _ => format!("{url} answered {s}: {detail}"),
                };
                if !retry || attempt >= config.max_retries {
                    return Err(err(kind, msg));
                }
                last_cause = msg;
                ra.unwrap_or_else(|| backoff(attempt))
            }
        };
        attempt += 1;
        if tokio::time::Instant::now() + wait > first_deadline {
            return Err(err(
                ErrorKind::Timeout,
                format!("gave up on {url}: {last_cause} (retrying would pass the first-token timeout)"),
            ));
        }
        tokio::time::sleep(wait).await;
    };

    // reqwest is built without decompression: a compressed body would read as garbage.
    if let Some(enc) = resp.headers().get(reqwest::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok())
        && !enc.eq_ignore_ascii_case("identity")
    {
        return Err(err(
            ErrorKind::Protocol,
            format!("{url} sent a {enc}-compressed stream; tomoni asks for plain text (a proxy may be compressing it)"),
        ));
    }
    let mut stream = resp.bytes_stream();
    let mut sse = SseParser::default();
    let mut events = Vec::new();
    let mut got_first = false;
    let mut finished = false;
    loop {
        let deadline = if got_first { tokio::time::Instant::now() + config.idle_timeout } else { first_deadline };
        let next = match tokio::time::timeout_at(deadline.min(turn_deadline), stream.next()).await {
            Err(_) => {
                let what = if tokio::time::Instant::now() >= turn_deadline {
                    format!("the reply did not end within {:?}", config.turn_timeout)
                } else if got_first {
                    format!("no data for {:?}", config.idle_timeout)
                } else {
                    format!("no first token within {:?}", config.first_token_timeout)
                };
                return Err(err(ErrorKind::Timeout, what));
            }
            Ok(n) => n,
        };
        let bytes = match next {
            None => {
                sse.finish(&mut events);
                handle_events(&mut events, asm, &mut got_first, &mut finished, completion_tokens, config)?;
                if finished {
                    return Ok(()); // `[DONE]` or a finish_reason: a missing `[DONE]` is fine
                }
                return Err(err(ErrorKind::Cut, "the stream ended before the reply was complete"));
            }
            Some(Err(e)) => return Err(err(ErrorKind::Cut, format!("the stream broke off: {}", error_chain(&e)))),
            Some(Ok(b)) => b,
        };
        let (invalid_before, oversized_before) = (sse.invalid_lines, sse.oversized_events);
        sse.feed(&bytes, &mut events);
        if sse.invalid_lines > invalid_before {
            return Err(err(ErrorKind::Protocol, "the stream contained invalid UTF-8"));
        }
        if sse.oversized_events > oversized_before {
            return Err(err(
                ErrorKind::Protocol,
                format!(
                    "the stream sent an event over {} KiB; real chunks are tiny",
                    crate::sse::MAX_EVENT_BYTES / 1024
                ),
            ));
        }
        if handle_events(&mut events, asm, &mut got_first, &mut finished, completion_tokens, config)? {
            return Ok(());
        }
    }
}

/// Applies parsed SSE events; `Ok(true)` when `[DONE]` arrived.
fn handle_events(
    events: &mut Vec<crate::sse::SseEvent>,
    asm: &mut Assembly<'_>,
    got_first: &mut bool,
    finished: &mut bool,
    completion_tokens: &mut Option<u64>,
    config: &LlmConfig,
) -> Result<bool, DialogueError> {
    for ev in events.drain(..) {
        let data = ev.data.trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        if data.is_empty() {
            continue;
        }
        let parts = parse_chunk(data).map_err(|m| err(ErrorKind::Protocol, m))?;
        if ev.event.as_deref() == Some("error") && !parts.iter().any(|p| matches!(p, ChunkPart::Error(_))) {
            return Err(err(ErrorKind::Provider, format!("provider error: {data}")));
        }
        for p in parts {
            match p {
                ChunkPart::Content(t) => {
                    if !*got_first {
                        *got_first = true;
                        let _ = asm.tx.send(DialogueEvent::FirstToken);
                    }
                    asm.content(&t);
                    if asm.streamed_chars > config.max_reply_chars {
                        return Err(err(
                            ErrorKind::TooLong,
                            format!("reply longer than {} characters: cut off", config.max_reply_chars),
                        ));
                    }
                }
                ChunkPart::Finish(_) => *finished = true,
                ChunkPart::Usage { completion, .. } => *completion_tokens = Some(completion),
                ChunkPart::Error(m) => return Err(err(ErrorKind::Provider, format!("provider error: {m}"))),
                ChunkPart::Reasoning(_) | ChunkPart::ToolCall => {}
            }
        }
    }
    Ok(false)
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.min(5))
}

async fn body_excerpt(resp: reqwest::Response) -> String {
    match resp.text().await {
        Ok(t) => {
            let t = t.trim();
            // Prefer the provider's own message when the body is an OpenAI error object.
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(t)
                && let Some(m) = v.pointer("/error/message").and_then(|m| m.as_str())
            {
                return m.to_string();
            }
            t.chars().take(200).collect()
        }
        Err(_) => String::new(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
