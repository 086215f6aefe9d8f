//! The operator API over real HTTP on loopback: the token is needed for every call, a wrong one
//! changes nothing, actions reach the handler and answer once, state and its live feed follow
//! what is published; photos handed in are saved, composited in the background and served back.

use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tomoni_operator::{Action, Compose, Handler, PhotoDesk, serve};

fn server() -> (tomoni_operator::Operator, Arc<Mutex<Vec<Action>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let handler: Handler = Arc::new(move |a| {
        s.lock().unwrap().push(a);
        Box::new(move |_deadline| if a == Action::Resume { Err("not paused".into()) } else { Ok(a.command()) })
    });
    let op = serve("127.0.0.1:0".parse().unwrap(), Some("test-token-123".into()), handler, None).unwrap();
    (op, seen)
}

/// A server whose compositor (the operator knows nothing of the companion: here a stand-in)
/// writes the photo back with a mark at its end, or refuses one whose first byte after the
/// JPEG marker is 0 ("no one in it").
fn photo_server(dir: &std::path::Path) -> tomoni_operator::Operator {
    let handler: Handler = Arc::new(|a| Box::new(move |_| Ok(a.command())));
    let compose: Compose = Arc::new(|input, output| {
        let mut bytes = std::fs::read(input).map_err(|e| e.to_string())?;
        if bytes.get(3) == Some(&0) {
            return Err(format!("{}: nobody in it: say where with --place", input.display()));
        }
        bytes.extend_from_slice(b"together");
        std::fs::write(output, bytes).map_err(|e| e.to_string())?;
        Ok(format!("wrote {}", output.display()))
    });
    let desk = PhotoDesk { dir: dir.to_path_buf(), compose };
    serve("127.0.0.1:0".parse().unwrap(), Some("test-token-123".into()), handler, Some(desk)).unwrap()
}

#[test]
fn every_call_needs_the_token_and_a_wrong_one_changes_nothing() {
    let (op, seen) = server();
    let base = format!("http://{}", op.addr);
    let c = reqwest::blocking::Client::new();
    for path in ["/api/state", "/api/events"] {
        assert_eq!(c.get(format!("{base}{path}")).send().unwrap().status(), 401, "{path}");
    }
    for a in ["next", "back", "pause", "resume", "stop", "jump/2"] {
        let r = c.post(format!("{base}/api/{a}")).bearer_auth("wrong-token-123").send().unwrap();
        assert_eq!(r.status(), 401, "{a}");
        let r = c.post(format!("{base}/api/{a}")).send().unwrap();
        assert_eq!(r.status(), 401, "{a}");
    }
    assert!(seen.lock().unwrap().is_empty(), "no action reached the companion without the token");
    // The page itself holds no secret and loads without one (it then asks for the link).
    let page = c.get(format!("{base}/")).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("pairing link"));
    assert_eq!(op.url, format!("http://{}/?token=test-token-123", op.addr));
}

#[test]
fn actions_reach_the_companion_and_state_follows_what_is_published() {
    let (op, seen) = server();
    let base = format!("http://{}", op.addr);
    let c = reqwest::blocking::Client::new();
    op.publisher().publish(&serde_json::json!({"step": 0, "name": "Welcome", "state": "running"}));
    let s: serde_json::Value =
        c.get(format!("{base}/api/state")).bearer_auth("test-token-123").send().unwrap().json().unwrap();
    assert_eq!(s["name"], "Welcome");
    let r = c.post(format!("{base}/api/next")).bearer_auth("test-token-123").send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().unwrap()["ok"], "next");
    // A refused action is one reply with the reason.
    let r = c.post(format!("{base}/api/resume")).bearer_auth("test-token-123").send().unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<serde_json::Value>().unwrap()["error"], "not paused");
    let r = c.post(format!("{base}/api/jump/3")).bearer_auth("test-token-123").send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(*seen.lock().unwrap(), [Action::Next, Action::Resume, Action::Jump(3)]);

    // The live feed: the state now, then each new one, without asking again.
    let mut sock = std::net::TcpStream::connect(op.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(sock, "GET /api/events?token=test-token-123 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .unwrap();
    let mut lines = BufReader::new(sock.try_clone().unwrap()).lines();
    let data = |lines: &mut std::io::Lines<BufReader<std::net::TcpStream>>| loop {
        let l = lines.next().expect("the stream stays open").unwrap();
        if let Some(d) = l.strip_prefix("data: ") {
            return serde_json::from_str::<serde_json::Value>(d).unwrap();
        }
    };
    assert_eq!(data(&mut lines)["name"], "Welcome");
    op.publisher().publish(&serde_json::json!({"step": 1, "name": "Vows", "state": "paused"}));
    let next = data(&mut lines);
    assert_eq!((next["name"].as_str(), next["state"].as_str()), (Some("Vows"), Some("paused")));
}

#[test]
fn a_short_token_is_refused() {
    let h: Handler = Arc::new(|_| Box::new(|_| Ok(String::new())));
    let e = serve("127.0.0.1:0".parse().unwrap(), Some("abc".into()), h, None).err().expect("refused");
    assert!(e.to_string().contains("--token"), "{e}");
}

#[test]
fn photos_handed_in_are_composited_in_the_background_and_served_back_to_the_token_only() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("operator-photos");
    let _ = std::fs::remove_dir_all(&dir);
    let op = photo_server(&dir);
    let base = format!("http://{}", op.addr);
    let c = reqwest::blocking::Client::new();
    let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 0xFF, 0xD9];
    // Without the token nothing is taken and nothing is shown.
    assert_eq!(c.post(format!("{base}/api/photo")).body(jpeg.to_vec()).send().unwrap().status(), 401);
    assert_eq!(c.get(format!("{base}/api/photos")).send().unwrap().status(), 401);
    assert_eq!(c.get(format!("{base}/api/photos/1?token=wrong-token-123")).send().unwrap().status(), 401);
    assert!(!dir.join("photo-1.jpg").exists());
    // Not a photo: refused, nothing saved.
    let r = c.post(format!("{base}/api/photo")).bearer_auth("test-token-123").body("Dear friend").send().unwrap();
    assert_eq!(r.status(), 415);
    // A photo: taken at once (202), composited meanwhile.
    let r = c.post(format!("{base}/api/photo")).bearer_auth("test-token-123").body(jpeg.to_vec()).send().unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<serde_json::Value>().unwrap()["id"], 1);
    // One the compositor refuses: listed as failed, with its reason.
    let bad = [0xFF, 0xD8, 0xFF, 0x00, 9];
    let r = c.post(format!("{base}/api/photo")).bearer_auth("test-token-123").body(bad.to_vec()).send().unwrap();
    assert_eq!(r.status(), 202);
    let list = loop {
        let l: serde_json::Value =
            c.get(format!("{base}/api/photos")).bearer_auth("test-token-123").send().unwrap().json().unwrap();
        if l["photos"].as_array().unwrap().iter().all(|p| p["state"] != "compositing") {
            break l;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(list["photos"][0]["state"], "done", "{list}");
    assert_eq!(list["photos"][1]["state"], "failed", "{list}");
    assert!(list["photos"][1]["note"].as_str().unwrap().contains("--place"), "{list}");
    // The result, to an <img> with the token in its address; the handed-in photo is kept.
    let r = c.get(format!("{base}/api/photos/1?token=test-token-123")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert!(r.bytes().unwrap().ends_with(b"together"));
    assert_eq!(std::fs::read(dir.join("photo-1.jpg")).unwrap(), jpeg);
    assert_eq!(c.get(format!("{base}/api/photos/2?token=test-token-123")).send().unwrap().status(), 404);
    // Handed in during the ceremony's photo step: listed as that moment's photo; outside it,
    // and once the ceremony is over, as no step's.
    let steps = serde_json::json!([["Welcome", "say"], ["Photo moment", "photo"]]);
    let hand_in_during = |step: usize, state: &str| {
        op.publisher().publish(&serde_json::json!({"step": step, "steps": steps, "state": state}));
        let r = c.post(format!("{base}/api/photo")).bearer_auth("test-token-123").body(jpeg.to_vec()).send().unwrap();
        let id = r.json::<serde_json::Value>().unwrap()["id"].as_u64().unwrap() as usize;
        let l: serde_json::Value =
            c.get(format!("{base}/api/photos")).bearer_auth("test-token-123").send().unwrap().json().unwrap();
        l["photos"][id - 1]["step"].clone()
    };
    assert_eq!(hand_in_during(1, "running"), "2. Photo moment");
    assert_eq!(hand_in_during(0, "running"), serde_json::Value::Null);
    assert_eq!(hand_in_during(1, "done"), serde_json::Value::Null);
    // A ceremony without a photo desk says so.
    let (plain, _) = server();
    let r = c.get(format!("http://{}/api/photos", plain.addr)).bearer_auth("test-token-123").send().unwrap();
    assert_eq!(r.status(), 404);
}

/// Another web page in the planner's browser cannot call the API (no CORS header ever allows
/// it, preflight included), and a photo over the bound is refused before it is kept.
#[test]
fn no_other_site_may_call_the_api_and_an_oversized_photo_is_refused() {
    let dir = std::env::temp_dir().join(format!("tomoni-operator-cors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let op = photo_server(&dir);
    let base = format!("http://{}", op.addr);
    let c = reqwest::blocking::Client::new();
    let r = c
        .get(format!("{base}/api/state"))
        .bearer_auth("test-token-123")
        .header("Origin", "http://evil.example")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("access-control-allow-origin").is_none(), "{:?}", r.headers());
    let pre = c
        .request(reqwest::Method::OPTIONS, format!("{base}/api/next"))
        .header("Origin", "http://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .unwrap();
    assert!(pre.headers().get("access-control-allow-origin").is_none(), "{:?}", pre.headers());
    assert!(pre.headers().get("access-control-allow-headers").is_none(), "{:?}", pre.headers());
    let mut big = vec![0u8; tomoni_operator::MAX_PHOTO_BYTES + 1];
    big[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    let r = c.post(format!("{base}/api/photo")).bearer_auth("test-token-123").body(big).send().unwrap();
    assert_eq!(r.status(), 413);
    assert!(std::fs::read_dir(&dir).unwrap().next().is_none(), "nothing of it was kept");
}

/// The guests' view for a TV's browser: nothing before the companion publishes a frame (a clear
/// 503), the token for every frame, the newest frame as a JPEG, and a motion-JPEG stream whose
/// parts are each frame published, in order.
#[test]
fn the_guests_view_streams_each_published_frame_to_the_token_only() {
    let (op, _) = server();
    let base = format!("http://{}", op.addr);
    let c = reqwest::blocking::Client::new();
    assert_eq!(c.get(format!("{base}/api/spectator.jpg")).send().unwrap().status(), 401);
    assert_eq!(c.get(format!("{base}/api/spectator.mjpg?token=wrong-token-123")).send().unwrap().status(), 401);
    let none = c.get(format!("{base}/api/spectator.jpg?token=test-token-123")).send().unwrap();
    assert_eq!(none.status(), 503);
    assert!(none.text().unwrap().contains("--spectator"));
    let feed = op.spectator();
    feed.publish(b"\xFF\xD8frame-1\xFF\xD9".to_vec());
    let one = c.get(format!("{base}/api/spectator.jpg")).bearer_auth("test-token-123").send().unwrap();
    assert_eq!(one.headers()["content-type"], "image/jpeg");
    assert_eq!(&one.bytes().unwrap()[..], b"\xFF\xD8frame-1\xFF\xD9");
    // The stream: the frame now, then each new one (a raw socket: the body never ends).
    let mut s = std::net::TcpStream::connect(op.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /api/spectator.mjpg?token=test-token-123 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut seen = String::new();
    let mut line = Vec::new();
    let mut published = false;
    while !seen.contains("frame-2") {
        line.clear();
        if r.read_until(b'\n', &mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&line));
        if seen.contains("frame-1") && !published {
            feed.publish(b"\xFF\xD8frame-2\xFF\xD9".to_vec());
            published = true;
        }
    }
    assert!(seen.contains("multipart/x-mixed-replace; boundary=frame"), "{seen}");
    let (a, b) = (seen.find("frame-1").unwrap(), seen.find("frame-2").expect("the second frame came"));
    assert!(a < b && seen[a..b].contains("--frame\r\nContent-Type: image/jpeg"), "{seen}");
    let page = c.get(format!("{base}/spectator?token=test-token-123")).send().unwrap().text().unwrap();
    assert!(page.contains("/api/spectator.mjpg") && page.contains("location.search"), "{page}");
}
