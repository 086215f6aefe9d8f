//! tomoni talks to the network only where its person pointed it: every socket address the
//! real binary connects or sends to (traced with strace, children and threads included) is
//! the configured endpoint — no telemetry, no update check, no DNS, no font or model
//! download. Unix sockets (X11, D-Bus, nscd) are not the network and are left out.

mod common;

use std::path::Path;
use std::time::Duration;

/// Every internet address (`A:port`) `trace` shows a connect, sendto or sendmsg to.
fn inet_peers(trace: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in trace.lines() {
        let port = l.split("sin_port=htons(").nth(1).or_else(|| l.split("sin6_port=htons(").nth(1));
        let addr = l
            .split("sin_addr=inet_addr(\"")
            .nth(1)
            .or_else(|| l.split("inet_pton(AF_INET6, \"").nth(1))
            .and_then(|r| r.split('"').next());
        if let (Some(p), Some(a)) = (port.and_then(|p| p.split(')').next()), addr) {
            out.push(format!("{a}:{p}"));
        }
    }
    out
}

/// Runs `args` of the real binary under strace; returns the peers it reached for.
fn traced(name: &str, args: &[&str]) -> Vec<String> {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("network-{name}"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let trace = tmp.join("strace.txt");
    let (mut c, bin) = common::tomoni_under("strace");
    c.args(["-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o"])
        .arg(&trace)
        .arg(bin)
        .args(args)
        .env("TOMONI_DATA_DIR", tmp.join("data"));
    if args[0] == "demo" {
        c.arg("--out").arg(tmp.join("out"));
    }
    let o = c.output().expect("strace is installed by `cargo xtask test`");
    assert!(o.status.success(), "tomoni {args:?} failed:\n{}", String::from_utf8_lossy(&o.stderr));
    inet_peers(&std::fs::read_to_string(&trace).unwrap())
}

#[test]
fn the_only_connections_are_to_the_configured_endpoint() {
    let url = tomoni_bench::serve_sse_chunks(vec!["Hello there.".into()], false, Duration::from_millis(10));
    let endpoint = url.trim_start_matches("http://").trim_end_matches("/v1").to_string();
    for (name, args) in [
        ("chat", vec!["chat", "--once", "Hello", "--endpoint", &url]),
        (
            "demo",
            vec![
                "demo",
                "--endpoint",
                &url,
                "--say",
                "Hello",
                "--seconds",
                "6",
                "--width",
                "96",
                "--height",
                "120",
                "--every",
                "60",
            ],
        ),
    ] {
        let peers = traced(name, &args);
        // The trace sees the endpoint itself: a trace that saw nothing would pass anything.
        assert!(peers.contains(&endpoint), "{name}: no connection to {endpoint} was seen: {peers:?}");
        let others: Vec<&String> = peers.iter().filter(|p| **p != endpoint).collect();
        assert!(others.is_empty(), "{name} reached for {others:?}; only {endpoint} is configured");
    }
}
