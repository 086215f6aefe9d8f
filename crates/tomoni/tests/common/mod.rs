//! What the binary's tests share.

#![allow(dead_code, reason = "each test binary uses some of what they share")]

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
