//! What the binary's tests share.

#![allow(dead_code, reason = "each test binary uses some of what they share")]

pub mod browser;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The `tomoni` binary, run from the repository root; on the Vulkan driver the tests name
/// (`TOMONI_TEST_VULKAN=lavapipe`: chosen explicitly, so a stray GPU driver on a developer's
/// machine cannot make CI and local results differ).
pub fn tomoni_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tomoni"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    if std::env::var("TOMONI_TEST_VULKAN").as_deref() == Ok("lavapipe") {
        let icd = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";
        c.env("VK_DRIVER_FILES", icd).env("VK_ICD_FILENAMES", icd);
    }
    c
}

/// The server, and its stdout kept open (closing it would kill Xvfb with SIGPIPE).
pub struct Xvfb(
    Child,
    #[expect(dead_code, reason = "held open, never read again")] std::io::BufReader<std::process::ChildStdout>,
);

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM, so Xvfb removes its lock and socket (SIGKILL leaves them behind).
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

/// An Xvfb on a display it picks itself (`-displayfd`): stale locks from killed servers and
/// tests running in parallel cannot collide.
pub fn start_xvfb() -> (Xvfb, String) {
    use std::io::BufRead;
    let mut child = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1280x720x24", "-nolisten", "tcp"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("Xvfb is installed by `cargo xtask test`");
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).expect("Xvfb names its display");
    let n: u32 = line.trim().parse().expect("a display number");
    let socket = format!("/tmp/.X11-unix/X{n}");
    let t0 = Instant::now();
    while !Path::new(&socket).exists() {
        assert!(t0.elapsed() < Duration::from_secs(20), "Xvfb did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Xvfb(child, out), format!(":{n}"))
}

/// `wrapper` (`strace`, `unshare`) set up to run the binary: [`tomoni_cmd`]'s folder and
/// environment, and the binary's path to hand it.
pub fn tomoni_under(wrapper: &str) -> (Command, std::ffi::OsString) {
    let bin = tomoni_cmd();
    let mut c = Command::new(wrapper);
    c.current_dir(bin.get_current_dir().expect("tomoni_cmd sets the folder"));
    for (k, v) in bin.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    (c, bin.get_program().to_owned())
}

/// Waits until `ready` holds, checking every 50 ms; fails with `what` after `within`.
pub fn wait_until(within: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ready() {
        assert!(t0.elapsed() < within, "{what} (waited {within:?})");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for `child` to exit; fails with `what` after `within`.
pub fn wait_exit(child: &mut Child, within: Duration, what: &str) -> std::process::ExitStatus {
    let mut status = None;
    wait_until(within, what, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap()
}

/// One control line to the app listening at `sock` (the real client, `tomoni chat --attach`'s);
/// its final reply as JSON: `{"done": …}`, `{"interrupted": …}` or `{"error": …}`.
pub fn control(sock: &Path, line: &str) -> Result<serde_json::Value, String> {
    tomoni_companion::control::unix::send_to(sock, line, |_| {}).map(|r| r.to_json())
}

/// `tomoni render ARGS --out OUT --scene-json OUT.json`: the picture (RGBA) and the scene it
/// was drawn from (camera, node transforms, expression weights).
pub fn render_with_scene(out: &Path, args: &[&str]) -> (image::RgbaImage, serde_json::Value) {
    let json = out.with_extension("json");
    let o =
        tomoni_cmd().arg("render").args(args).arg("--out").arg(out).arg("--scene-json").arg(&json).output().unwrap();
    assert!(o.status.success(), "tomoni render {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    let picture = image::open(out).unwrap().to_rgba8();
    (picture, serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap())
}

/// Where `cargo xtask test` installs the npm tools (the Khronos validator, three.js, three-vrm).
pub fn node_modules() -> std::path::PathBuf {
    std::env::var_os("TOMONI_NODE_MODULES").map(std::path::PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_else(|| "/root".into());
        home.join(".cache/tomoni/node/node_modules")
    })
}

/// A static file server on loopback for a browser under test: `GET /NAME/rest` answers the
/// file `rest` under the folder mounted as `NAME`. Over HTTP, not `file://`, because Chromium
/// loads ES modules and `fetch`es only from a real origin. Returns its base URL; it serves
/// until the test process ends.
pub fn serve_files(mounts: Vec<(&'static str, std::path::PathBuf)>) -> String {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mounts = mounts.clone();
            std::thread::spawn(move || {
                let mut r = std::io::BufReader::new(&stream);
                let mut first = String::new();
                let _ = r.read_line(&mut first);
                while let Ok(n) = r.read_line(&mut String::new())
                    && n > 2
                {}
                let path = first.split_whitespace().nth(1).unwrap_or("/").split('?').next().unwrap_or("/");
                let path = path.trim_start_matches('/');
                let file = path.split_once('/').and_then(|(m, rest)| {
                    let dir = &mounts.iter().find(|(name, _)| *name == m)?.1;
                    (!rest.split('/').any(|p| p == "..")).then(|| dir.join(rest))
                });
                let mut w = &stream;
                match file.and_then(|f| std::fs::read(&f).ok().map(|b| (f, b))) {
                    Some((f, body)) => {
                        let kind = match f.extension().and_then(|e| e.to_str()) {
                            Some("js" | "mjs") => "text/javascript",
                            Some("html") => "text/html",
                            Some("json") => "application/json",
                            _ => "application/octet-stream",
                        };
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = w.write_all(head.as_bytes()).and_then(|()| w.write_all(&body));
                    }
                    None => {
                        let _ =
                            w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                }
            });
        }
    });
    url
}
