//! The operator page in a real headless browser (Debian's chromium through chromium-driver,
//! over WebDriver): the page loads from the running ceremony, its buttons step the ceremony,
//! the state updates without a reload, and without the token it shows nothing but how to pair.
//! A photo handed in from the page comes back with the companion stood into it.
//! The screenshot is kept for people to look at (`operator-page.png` in the test's temp dir).

mod common;

use common::browser::{Browser, Killed, free_port};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

async fn text_of(c: &Browser, id: &str) -> String {
    c.find(&format!("#{id}")).await.text().await
}

/// Polls the page until `id`'s text contains `want` (the page updates itself from the live feed).
async fn until(c: &Browser, id: &str, want: &str) -> String {
    until_within(c, id, want, Duration::from_secs(60)).await
}

/// As [`until`], waiting up to `limit`: a photo being composited is a renderer of its own,
/// seconds on lavapipe, more while the whole test suite runs beside it. A refusal ("could not")
/// fails at once.
async fn until_within(c: &Browser, id: &str, want: &str, limit: Duration) -> String {
    let t0 = Instant::now();
    loop {
        let t = text_of(c, id).await;
        if t.contains(want) {
            return t;
        }
        if t0.elapsed() > limit || t.contains("could not") {
            let error = text_of(c, "error").await;
            panic!("#{id} never showed {want:?}: {t:?} (the page's error line: {error:?})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_operator_page_steps_the_ceremony_live_in_a_real_browser() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("operator-page");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    // The ceremony, headless, waiting on its operator (no --auto).
    let port = free_port();
    let mut app = Command::new(env!("CARGO_BIN_EXE_tomoni"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .env("TOMONI_DATA_DIR", out.join("data"))
        .env("TOMONI_OLLAMA_URL", "http://127.0.0.1:9/v1")
        .args(["ceremony", "run", "crates/tomoni/tests/data/operator.toml", "--headless", "--rehearse"])
        .args(["--operator", &format!("127.0.0.1:{port}"), "--frame-size", "160x90", "--every", "90", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(app.stdout.take().unwrap()).lines();
    let _app = Killed(app);
    let url = loop {
        let l = lines.next().expect("the operator line").unwrap();
        if let Some(u) = l.strip_prefix("operator: ") {
            break u.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    // A random token of 128 bits when none is given.
    let token = url.split("token=").nth(1).unwrap().to_string();
    assert_eq!(token.len(), 32, "{url}");

    let (c, _driver) = common::browser::launch(&["--disable-gpu", "--window-size=430,900"]).await;

    // Without the token: the page says how to pair, and shows no ceremony.
    c.goto(&format!("http://127.0.0.1:{port}/")).await;
    until(&c, "status", "not paired").await;
    assert!(c.find("#auth").await.is_displayed().await);

    // With it: the ceremony, live. (The script's waits hold for the operator: a headless clock
    // runs faster than real time.)
    c.goto(&url).await;
    until(&c, "current", "Wait").await;
    until(&c, "saying", "Waiting for you").await;
    until(&c, "status", "running").await;
    assert!(c.find("#rehearsal").await.is_displayed().await, "rehearsal marker");
    // Mark this page load: if the page reloaded, the mark would be gone.
    c.execute("window.__tomoniMark = 42;").await;
    // Pause at the wait, then next: the vows are next but hold until resume.
    c.find("#pause").await.click().await;
    until(&c, "status", "paused").await;
    c.find("#next").await.click().await;
    until(&c, "current", "3. Vows").await;
    assert!(c.find("#resume").await.attr("disabled").await.is_none(), "resume enabled");
    c.find("#resume").await.click().await;
    until(&c, "status", "running").await;
    until(&c, "current", "Listen").await;
    until(&c, "saying", "Waiting for you").await;
    // The step list follows: the listening step current, the ones before it done.
    let steps = c.find_all("#steps li").await;
    assert_eq!(steps.len(), 5);
    assert_eq!(steps[3].attr("class").await.as_deref(), Some("current"));
    assert_eq!(steps[0].attr("class").await.as_deref(), Some("done"));
    assert_eq!(steps[4].attr("class").await.as_deref(), Some(""));
    // A rehearsal: tapping a step jumps there.
    steps[1].click().await;
    until(&c, "current", "2. Wait").await;
    let steps = c.find_all("#steps li").await;
    assert_eq!(steps[1].attr("class").await.as_deref(), Some("current"));
    assert_eq!(c.execute("return window.__tomoniMark;").await, json!(42), "the page reloaded");
    // A photo from the phone: the page sends it, the companion is stood in beside the man on
    // the left (a real photo with his feet in view, fetched at set-up), and the result shows
    // without a reload.
    let photo = tomoni_photo::model_dir().join("test-photos/basketball1.png");
    assert!(photo.is_file(), "the test photos are set up by `cargo xtask test`");
    assert!(c.find("#photo-desk").await.is_displayed().await, "the photo desk");
    c.find("#photo-file").await.send_keys(photo.to_str().unwrap()).await;
    until(&c, "photos", "standing the companion in").await;
    until_within(&c, "photos", "done", Duration::from_secs(180)).await;
    let width = c
        .execute("const i = document.querySelector('#photo-1 img'); return i && i.complete ? i.naturalWidth : 0;")
        .await;
    let together = out.join("photos/from-the-phone/photo-1-together.jpg");
    assert_eq!(image::image_dimensions(&together).unwrap(), (640, 480), "the composite keeps the photo's size");
    let bytes = std::fs::read(&together).unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("compositeSynthetic"), "marked a composite");
    // The page shows the picture itself (it may still be loading on the first look).
    let t0 = Instant::now();
    let mut width = width;
    while width != json!(640) && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        width = c
            .execute("const i = document.querySelector('#photo-1 img'); return i && i.complete ? i.naturalWidth : 0;")
            .await;
    }
    assert_eq!(width, json!(640), "the composited photo is not shown on the page");
    assert_eq!(c.execute("return window.__tomoniMark;").await, json!(42), "the page reloaded");
    let png = c.screenshot().await;
    std::fs::write(out.join("operator-page.png"), &png).unwrap();
    let shot = image::load_from_memory(&png).unwrap().to_rgb8();
    // The accent-coloured Next button is drawn (not a blank or error page).
    let accent = shot.pixels().filter(|p| p[0] > 160 && (110..160).contains(&p[1]) && p[2] < 120).count();
    assert!(accent > 2000, "the Next button is not on the screenshot ({accent} px)");
    c.find("#stop").await.click().await;
    until(&c, "current", "over").await;
    c.close().await;
}
