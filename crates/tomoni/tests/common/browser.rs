//! A headless Chromium under chromedriver, driven over WebDriver: the operator page's test and
//! the three-vrm reference renders share it.

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A WebDriver session with chromedriver on loopback (the W3C protocol: JSON over plain HTTP),
/// with the dozen calls this test makes. Written here rather than taken from a WebDriver crate:
/// the one tried (fantoccini) brought TLS stacks and ICU into test builds only, changing the
/// features of crates the app shares, so a plain `cargo build` after the tests rebuilt them.
pub struct Browser {
    http: reqwest::Client,
    session: String,
}

/// An element on the page.
pub struct El<'a> {
    b: &'a Browser,
    id: String,
}

/// The key under which WebDriver returns an element's reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    pub async fn start(driver: &str, chrome_options: Value) -> Result<Self, String> {
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": chrome_options}}});
        let v = send(http.post(format!("{driver}/session")).json(&caps)).await?;
        let id = v["sessionId"].as_str().ok_or(format!("no session: {v}"))?;
        Ok(Self { http, session: format!("{driver}/session/{id}") })
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            r = r.json(&b);
        }
        send(r).await.unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    pub async fn find(&self, css: &str) -> El<'_> {
        let v =
            self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        El { b: self, id: v[ELEMENT].as_str().unwrap_or_else(|| panic!("no {css}: {v}")).to_string() }
    }

    pub async fn find_all(&self, css: &str) -> Vec<El<'_>> {
        let v =
            self.call(reqwest::Method::POST, "/elements", Some(json!({"using": "css selector", "value": css}))).await;
        let all = v.as_array().cloned().unwrap_or_default();
        all.iter().map(|e| El { b: self, id: e[ELEMENT].as_str().unwrap_or_default().to_string() }).collect()
    }

    pub async fn execute(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }

    /// Runs `script` with WebDriver's callback as its last argument and returns what it is
    /// called with (`timeout` for the script as a whole).
    pub async fn execute_async(&self, script: &str, args: Value, timeout: Duration) -> Value {
        self.call(reqwest::Method::POST, "/timeouts", Some(json!({"script": timeout.as_millis() as u64}))).await;
        self.call(reqwest::Method::POST, "/execute/async", Some(json!({"script": script, "args": args}))).await
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64_decode(v.as_str().expect("a base64 PNG"))
    }

    pub async fn close(&self) {
        self.call(reqwest::Method::DELETE, "", None).await;
    }
}

impl El<'_> {
    pub async fn get(&self, what: &str) -> Value {
        self.b.call(reqwest::Method::GET, &format!("/element/{}/{what}", self.id), None).await
    }

    pub async fn text(&self) -> String {
        self.get("text").await.as_str().unwrap_or_default().to_string()
    }

    pub async fn is_displayed(&self) -> bool {
        self.get("displayed").await == json!(true)
    }

    pub async fn attr(&self, name: &str) -> Option<String> {
        self.get(&format!("attribute/{name}")).await.as_str().map(str::to_string)
    }

    pub async fn click(&self) {
        self.b.call(reqwest::Method::POST, &format!("/element/{}/click", self.id), Some(json!({}))).await;
    }

    pub async fn send_keys(&self, text: &str) {
        self.b.call(reqwest::Method::POST, &format!("/element/{}/value", self.id), Some(json!({"text": text}))).await;
    }
}

/// The response's `value`, or the WebDriver error it carries.
pub async fn send(r: reqwest::RequestBuilder) -> Result<Value, String> {
    let resp = r.send().await.map_err(|e| e.to_string())?;
    let v: Value =
        serde_json::from_slice(&resp.bytes().await.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    match v["value"].get("error") {
        Some(e) => Err(format!("{e}: {}", v["value"]["message"])),
        None => Ok(v["value"].clone()),
    }
}

/// Standard base64 (a screenshot's PNG).
pub fn base64_decode(s: &str) -> Vec<u8> {
    let digit = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').map(digit).collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// chromedriver on a free port with a session of Debian's chromium (`args` added to the
/// headless defaults); the driver is killed when the returned guard drops.
pub async fn launch(args: &[&str]) -> (Browser, Killed) {
    let wd_port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={wd_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium-driver is installed by `cargo xtask test`");
    let driver = Killed(driver);
    let mut all = vec!["--headless=new", "--no-sandbox", "--disable-dev-shm-usage"];
    all.extend_from_slice(args);
    let options = json!({"binary": "/usr/bin/chromium", "args": all});
    let t0 = Instant::now();
    loop {
        match Browser::start(&format!("http://127.0.0.1:{wd_port}"), options.clone()).await {
            Ok(c) => return (c, driver),
            Err(e) => {
                assert!(t0.elapsed() < Duration::from_secs(30), "chromedriver did not start: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
