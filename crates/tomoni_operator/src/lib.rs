//! `tomoni_operator`: the ceremony's operator page — a small web server for the planner's phone
//! on the LAN. It serves one page and a JSON API (`docs/ceremony.md`), each call needing the
//! pairing token, and knows nothing of the companion: actions go to a [`Handler`], state comes
//! from a [`StatePublisher`].
//!
//! With a [`PhotoDesk`], the planner can also hand in a photo taken on the day (the phone's
//! camera, from the page): it is saved, and the companion composited into it beside its person
//! (`tomoni photo`, seconds on a CPU) while the ceremony goes on; the page shows each result.
//!
//! The server runs on a tokio runtime on a thread of its own (invariant: async I/O never runs on
//! the frame loop). Publishing state never blocks the caller; a handler's wait for the frame
//! loop's answer runs on the runtime's blocking pool with a deadline, so every request gets
//! exactly one reply.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The page (self-contained: no scripts or fonts from elsewhere).
const PAGE: &str = include_str!("page.html");

/// How long a request waits for the companion to carry out an action.
pub const ACTION_DEADLINE: Duration = Duration::from_secs(3);

/// What the operator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Next step.
    Next,
    /// Previous step.
    Back,
    /// Hold.
    Pause,
    /// Go on.
    Resume,
    /// End the ceremony.
    Stop,
    /// Go to a step (rehearsals).
    Jump(usize),
}

impl Action {
    /// The action's name in the API and the control plane (`next`, …, `jump N`).
    pub fn command(self) -> String {
        match self {
            Action::Next => "next".into(),
            Action::Back => "back".into(),
            Action::Pause => "pause".into(),
            Action::Resume => "resume".into(),
            Action::Stop => "stop".into(),
            Action::Jump(n) => format!("jump {n}"),
        }
    }
}

/// Waits (up to the deadline) for the companion's answer to one action: `Ok(what was done)` or
/// `Err(why not)`.
pub type Waiter = Box<dyn FnOnce(Duration) -> Result<String, String> + Send>;

/// Hands an action to the companion and returns how to wait for its answer. Called on the
/// server's thread; must not block.
pub type Handler = Arc<dyn Fn(Action) -> Waiter + Send + Sync>;

/// Where the companion publishes its state (a JSON object) for the page. Never blocks.
#[derive(Clone)]
pub struct StatePublisher(Arc<watch::Sender<Arc<str>>>);

impl StatePublisher {
    /// Replaces the state the page shows.
    pub fn publish(&self, state: &serde_json::Value) {
        self.0.send_replace(Arc::from(state.to_string()));
    }
}

/// Where the companion publishes the guests' view (a JPEG a frame) for `/spectator`: a TV or
/// projector's browser shows it live when glasses have no desktop window to give it. Never
/// blocks: the newest frame replaces the last, and slow viewers skip frames.
#[derive(Clone)]
pub struct SpectatorFeed(Arc<watch::Sender<Option<Bytes>>>);

impl SpectatorFeed {
    /// Replaces the frame the spectator page shows.
    pub fn publish(&self, jpeg: Vec<u8>) {
        self.0.send_replace(Some(Bytes::from(jpeg)));
    }
}

/// The spectator page: the guests' view filling a screen (no scripts from elsewhere).
const SPECTATOR_PAGE: &str = r#"<!doctype html><html><head><meta charset="utf-8"><title>tomoni - guests' view</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>html,body{margin:0;height:100%;background:#000}img{display:block;width:100%;height:100%;object-fit:contain}</style>
</head><body><img id="view" alt="the guests' view of the ceremony">
<script>document.getElementById('view').src='/api/spectator.mjpg'+location.search;</script>
</body></html>"#;

/// The largest photo the page takes, bytes (a 50-megapixel JPEG is about 25 MB).
pub const MAX_PHOTO_BYTES: usize = 40 << 20;

/// Composites one photo: `(the photo as saved, where to write the result)` → what was done,
/// or why not. It takes seconds: it runs on the server's blocking pool, one at a time.
pub type Compose = Arc<dyn Fn(&std::path::Path, &std::path::Path) -> Result<String, String> + Send + Sync>;

/// Where handed-in photos go and how they are composited.
#[derive(Clone)]
pub struct PhotoDesk {
    /// The folder (made if missing): `photo-N.jpg` as handed in, `photo-N-together.jpg` made.
    pub dir: std::path::PathBuf,
    /// The compositor.
    pub compose: Compose,
}

impl PhotoDesk {
    /// Where photo `id`'s composite is written.
    fn result(&self, id: usize) -> std::path::PathBuf {
        self.dir.join(format!("photo-{id}-together.jpg"))
    }
}

/// One handed-in photo, as `GET /api/photos` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhotoEntry {
    /// Its number (`GET /api/photos/{id}` is the result).
    pub id: usize,
    /// `compositing`, `done` or `failed`.
    pub state: &'static str,
    /// What was done, or why not.
    pub note: String,
    /// The ceremony's photo step it was handed in during ("5. Photo"), if it was: the phone's
    /// photo of that moment, which the page shows under the step's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

/// The current step as "N. NAME" when the published state says it is a `photo` step.
fn photo_step(state: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(state).ok()?;
    let i = usize::try_from(v["step"].as_u64()?).ok()?;
    let (name, kind) = (&v["steps"][i][0], &v["steps"][i][1]);
    (kind == "photo" && v["state"] != "done").then(|| format!("{}. {}", i + 1, name.as_str().unwrap_or("")))
}

/// A running operator server.
pub struct Operator {
    /// `http://ADDR:PORT/?token=TOKEN`: what the planner opens on the phone.
    pub url: String,
    /// The address it listens on (the port resolved when 0 was asked for).
    pub addr: SocketAddr,
    /// The pairing token.
    pub token: String,
    publisher: StatePublisher,
    spectator: SpectatorFeed,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Operator {
    /// The state feed.
    pub fn publisher(&self) -> StatePublisher {
        self.publisher.clone()
    }

    /// The guests' view feed (`/spectator`).
    pub fn spectator(&self) -> SpectatorFeed {
        self.spectator.clone()
    }

    /// The address as a QR code in text (two rows of modules per line), for the terminal.
    pub fn qr_text(&self) -> String {
        qr_text(&self.url)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A QR code of `text` drawn with half-block characters (dark on light, with a quiet zone).
pub fn qr_text(text: &str) -> String {
    use qrcode::render::unicode::Dense1x2;
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code.render::<Dense1x2>().dark_color(Dense1x2::Light).light_color(Dense1x2::Dark).build(),
        Err(e) => format!("(no QR code: {e})"),
    }
}

/// A QR code of `text` as rows of dark (true) and light modules, quiet zone included (for a
/// picture on the desktop panel).
pub fn qr_modules(text: &str) -> Option<Vec<Vec<bool>>> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let w = code.width();
    let colors = code.to_colors();
    let q = 4;
    let n = w + 2 * q;
    Some(
        (0..n)
            .map(|y| {
                (0..n)
                    .map(|x| {
                        x >= q
                            && y >= q
                            && x < w + q
                            && y < w + q
                            && colors[(y - q) * w + (x - q)] == qrcode::Color::Dark
                    })
                    .collect()
            })
            .collect(),
    )
}

/// A new random pairing token: 128 bits from the OS, as 32 hex digits.
pub fn new_token() -> std::io::Result<String> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[derive(Clone)]
struct Shared {
    token: Arc<str>,
    handler: Handler,
    state: watch::Receiver<Arc<str>>,
    photos: Option<Arc<PhotoBook>>,
    spectator: watch::Receiver<Option<Bytes>>,
}

/// The photos handed in this run, and one compositor at a time.
struct PhotoBook {
    desk: PhotoDesk,
    entries: Mutex<Vec<PhotoEntry>>,
    one_at_a_time: tokio::sync::Mutex<()>,
}

/// Serves the page on `addr` (only there: no default on all interfaces). `token`: the pairing
/// token, or `None` for a new random one.
pub fn serve(
    addr: SocketAddr,
    token: Option<String>,
    handler: Handler,
    photos: Option<PhotoDesk>,
) -> std::io::Result<Operator> {
    let token = match token {
        Some(t) if t.len() >= 8 && t.chars().all(|c| c.is_ascii_graphic()) => t,
        Some(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "--token: at least 8 printable characters, no spaces",
            ));
        }
        None => new_token()?,
    };
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(Arc::<str>::from("{}"));
    if let Some(d) = &photos {
        std::fs::create_dir_all(&d.dir)?;
    }
    let photos = photos.map(|desk| {
        Arc::new(PhotoBook { desk, entries: Mutex::new(Vec::new()), one_at_a_time: tokio::sync::Mutex::new(()) })
    });
    let (view_tx, view_rx) = watch::channel(None);
    let shared = Shared { token: Arc::from(token.as_str()), handler, state: rx, photos, spectator: view_rx };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let thread = std::thread::Builder::new().name("tomoni-operator".into()).spawn(move || {
        rt.block_on(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("tomoni: the operator page cannot listen: {e}");
                    return;
                }
            };
            let app = router(shared);
            let shutdown = async {
                let _ = stop_rx.await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                eprintln!("tomoni: the operator page stopped: {e}");
            }
        });
    })?;
    Ok(Operator {
        url: format!("http://{addr}/?token={token}"),
        addr,
        token,
        publisher: StatePublisher(Arc::new(tx)),
        spectator: SpectatorFeed(Arc::new(view_tx)),
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/api/state", get(state))
        .route("/api/events", get(events))
        .route("/api/next", post(|s: State<Shared>, h: HeaderMap| act(s, h, Action::Next)))
        .route("/api/back", post(|s: State<Shared>, h: HeaderMap| act(s, h, Action::Back)))
        .route("/api/pause", post(|s: State<Shared>, h: HeaderMap| act(s, h, Action::Pause)))
        .route("/api/resume", post(|s: State<Shared>, h: HeaderMap| act(s, h, Action::Resume)))
        .route("/api/stop", post(|s: State<Shared>, h: HeaderMap| act(s, h, Action::Stop)))
        .route("/api/jump/{n}", post(|s: State<Shared>, h: HeaderMap, Path(n): Path<usize>| act(s, h, Action::Jump(n))))
        .route("/api/photo", post(hand_in).layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES)))
        .route("/api/photos", get(list_photos))
        .route("/api/photos/{id}", get(photo_result))
        .route("/spectator", get(|| async { Html(SPECTATOR_PAGE) }))
        .route("/api/spectator.jpg", get(spectator_frame))
        .route("/api/spectator.mjpg", get(spectator_stream))
        .with_state(shared)
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from response times.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn bearer_ok(shared: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| same(t.trim(), &shared.token))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        axum::Json(serde_json::json!({"error": "a valid pairing token is needed (Authorization: Bearer TOKEN)"})),
    )
        .into_response()
}

fn json_state(s: &str) -> Response {
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], s.to_string()).into_response()
}

async fn state(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if !bearer_ok(&shared, &headers) {
        return unauthorized();
    }
    let s = shared.state.borrow().clone();
    json_state(&s)
}

/// Server-sent events: the state now, then each new state (the token also as `?token=`:
/// `EventSource` cannot send headers).
async fn events(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !bearer_or_query_ok(&shared, &headers, &q) {
        return unauthorized();
    }
    let rx = shared.state.clone();
    let stream = futures_util::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let s = rx.borrow_and_update().clone();
        Some((Ok::<_, std::convert::Infallible>(Event::default().event("state").data(&*s)), (rx, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(10))).into_response()
}

async fn act(State(shared): State<Shared>, headers: HeaderMap, action: Action) -> Response {
    if !bearer_ok(&shared, &headers) {
        return unauthorized();
    }
    let waiter = (shared.handler)(action);
    let answer = tokio::task::spawn_blocking(move || waiter(ACTION_DEADLINE))
        .await
        .unwrap_or_else(|e| Err(format!("the action failed: {e}")));
    let state: serde_json::Value = serde_json::from_str(&shared.state.borrow().clone()).unwrap_or_default();
    match answer {
        Ok(done) => axum::Json(serde_json::json!({"ok": done, "state": state})).into_response(),
        Err(why) => {
            (StatusCode::CONFLICT, axum::Json(serde_json::json!({"error": why, "state": state}))).into_response()
        }
    }
}

/// The guests' view now (token as a header or `?token=`), or the answer saying why not.
fn spectator_now(shared: &Shared, headers: &HeaderMap, q: &HashMap<String, String>) -> Result<Bytes, Box<Response>> {
    if !bearer_or_query_ok(shared, headers, q) {
        return Err(Box::new(unauthorized()));
    }
    let now = shared.spectator.borrow().clone();
    now.ok_or_else(|| {
        Box::new(error(StatusCode::SERVICE_UNAVAILABLE, "no guests' view yet: start the ceremony with --spectator"))
    })
}

/// The guests' view now, one JPEG (token as a header or `?token=`).
async fn spectator_frame(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match spectator_now(&shared, &headers, &q) {
        Ok(jpeg) => ([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "no-store")], jpeg).into_response(),
        Err(why) => *why,
    }
}

/// The guests' view live, as every browser shows it in an `<img>`: `multipart/x-mixed-replace`
/// (motion JPEG), a part per new frame.
async fn spectator_stream(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(why) = spectator_now(&shared, &headers, &q) {
        return *why;
    }
    let rx = shared.spectator.clone();
    let stream = futures_util::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let jpeg = rx.borrow_and_update().clone()?;
        let mut part =
            format!("--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", jpeg.len()).into_bytes();
        part.extend_from_slice(&jpeg);
        part.extend_from_slice(b"\r\n");
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(part)), (rx, false)))
    });
    (
        [(header::CONTENT_TYPE, "multipart/x-mixed-replace; boundary=frame"), (header::CACHE_CONTROL, "no-store")],
        axum::body::Body::from_stream(stream),
    )
        .into_response()
}

/// For what cannot send headers (`EventSource`, an `<img>`): the token as `?token=` will do.
fn bearer_or_query_ok(shared: &Shared, headers: &HeaderMap, q: &HashMap<String, String>) -> bool {
    q.get("token").is_some_and(|t| same(t, &shared.token)) || bearer_ok(shared, headers)
}

/// `{"error": why}` with `status`.
fn error(status: StatusCode, why: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": why.into() }))).into_response()
}

fn no_photo_desk() -> Response {
    error(StatusCode::NOT_FOUND, "this ceremony takes no photos")
}

/// `POST /api/photo`: a JPEG or PNG as the body. Saved, then composited in the background:
/// the answer (202) comes at once, the result is listed by `GET /api/photos` when made.
async fn hand_in(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if !bearer_ok(&shared, &headers) {
        return unauthorized();
    }
    let Some(book) = shared.photos.clone() else { return no_photo_desk() };
    let ext = if body.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "jpg"
    } else if body.starts_with(b"\x89PNG\r\n\x1a\n") {
        "png"
    } else {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "not a JPEG or PNG photo");
    };
    // Handed in during the ceremony's photo step: that moment's photo.
    let step = photo_step(&shared.state.borrow());
    let id = {
        let Ok(mut entries) = book.entries.lock() else { return no_photo_desk() };
        let id = entries.len() + 1;
        entries.push(PhotoEntry { id, state: "compositing", note: "waiting".into(), step: step.clone() });
        id
    };
    let input = book.desk.dir.join(format!("photo-{id}.{ext}"));
    let output = book.desk.result(id);
    let saved = tokio::fs::write(&input, &body).await;
    let set = move |book: &PhotoBook, state: &'static str, note: String| {
        if let Ok(mut entries) = book.entries.lock()
            && let Some(e) = entries.get_mut(id - 1)
        {
            (e.state, e.note) = (state, note);
        }
    };
    if let Err(e) = saved {
        set(&book, "failed", format!("cannot save it: {e}"));
        return error(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot save it: {e}"));
    }
    tokio::spawn(async move {
        // One compositor at a time: each is a renderer of its own.
        let _turn = book.one_at_a_time.lock().await;
        set(&book, "compositing", "the companion is being stood into it".into());
        let desk = book.desk.clone();
        let done = tokio::task::spawn_blocking(move || (desk.compose)(&input, &output))
            .await
            .unwrap_or_else(|e| Err(format!("the compositor failed: {e}")));
        match done {
            Ok(note) => set(&book, "done", note),
            Err(why) => set(&book, "failed", why),
        }
    });
    (StatusCode::ACCEPTED, axum::Json(serde_json::json!({"id": id, "state": "compositing"}))).into_response()
}

/// `GET /api/photos`: every photo handed in, with how it went.
async fn list_photos(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if !bearer_ok(&shared, &headers) {
        return unauthorized();
    }
    let Some(book) = &shared.photos else { return no_photo_desk() };
    let entries = book.entries.lock().map(|e| e.clone()).unwrap_or_default();
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(serde_json::json!({ "photos": entries }))).into_response()
}

/// `GET /api/photos/{id}`: the composited JPEG (an `<img>` cannot send headers, so this also
/// takes the token as `?token=`).
async fn photo_result(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<usize>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !bearer_or_query_ok(&shared, &headers, &q) {
        return unauthorized();
    }
    let Some(book) = &shared.photos else { return no_photo_desk() };
    let done = book.entries.lock().ok().and_then(|e| e.get(id.wrapping_sub(1)).map(|e| e.state == "done"));
    if done != Some(true) {
        return error(StatusCode::NOT_FOUND, format!("no finished photo {id}"));
    }
    match tokio::fs::read(book.desk.result(id)).await {
        Ok(bytes) => {
            ([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "no-store")], bytes).into_response()
        }
        Err(e) => error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_128_random_bits_and_compared_whole() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &a[..31]) && !same(&a, &b));
    }

    #[test]
    fn the_qr_code_encodes_a_square_with_a_quiet_zone() {
        let m = qr_modules("http://192.168.1.20:8080/?token=0123456789abcdef0123456789abcdef").unwrap();
        assert!(m.len() >= 21 + 8 && m.iter().all(|r| r.len() == m.len()));
        assert!(m[0].iter().all(|d| !d), "quiet zone");
        assert!(m[4][4], "finder pattern's corner is dark");
        assert!(qr_text("x").lines().count() > 5);
    }
}
