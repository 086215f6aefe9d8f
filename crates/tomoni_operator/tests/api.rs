//! The operator API over real HTTP on loopback: the token is needed for every call, a wrong one
//! changes nothing, actions reach the handler and answer once, state and its live feed follow
//! what is published.

use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tomoni_operator::{Action, Handler, serve};

fn server() -> (tomoni_operator::Operator, Arc<Mutex<Vec<Action>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let handler: Handler = Arc::new(move |a| {
        s.lock().unwrap().push(a);
        Box::new(move |_deadline| if a == Action::Resume { Err("not paused".into()) } else { Ok(a.command()) })
    });
    let op = serve("127.0.0.1:0".parse().unwrap(), Some("test-token-123".into()), handler).unwrap();
    (op, seen)
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
    let e = serve("127.0.0.1:0".parse().unwrap(), Some("abc".into()), h).err().expect("refused");
    assert!(e.to_string().contains("--token"), "{e}");
}
