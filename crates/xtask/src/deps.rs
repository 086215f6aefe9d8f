//! System packages the project needs, installed with apt when missing (CI and fresh machines
//! run as root; elsewhere we print the command instead of failing obscurely).

use crate::Res;
use std::process::Command;

/// Everything `test`, `demo` and `bench` need: build headers and the real drivers tests use.
pub const ALL: &[&str] = &[
    "pkg-config",
    "libasound2-dev",      // kira/cpal (ALSA)
    "libdbus-1-dev",       // cpal's realtime-dbus
    "libudev-dev",         // bevy input
    "libclang-dev",        // bindgen for espeakng-sys and whisper-rs-sys
    "cmake",               // whisper.cpp, vendored by whisper-rs-sys
    "libespeak-ng-dev",    // in-process espeak-ng
    "espeak-ng",           // its voices and data
    "mesa-vulkan-drivers", // lavapipe: the Vulkan driver tests render on
    "libvulkan1",
    "libopenxr-dev",   // the unversioned libopenxr_loader.so the openxr crate dlopens
    "xvfb",            // desktop-window tests without a display
    "x11-utils",       // xwininfo: which windows a desktop test opened
    "chromium",        // the operator page and the three-vrm reference renders, in a real headless browser
    "chromium-driver", // WebDriver for it
    "strace",          // which addresses the binary reaches for (tests/network.rs)
    "time",            // /usr/bin/time: an import's peak memory (tests/import.rs)
    // A real sound server to take away and bring back under the live app (tests/faults.rs):
    "pulseaudio",
    "pulseaudio-utils",   // parec: what the server's sink played
    "libasound2-plugins", // ALSA's default device through the server, as on a desktop
];

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Installs the packages of `pkgs` that are not installed yet.
pub fn ensure(pkgs: &[&str]) -> Res {
    let missing: Vec<&str> = pkgs.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    if !is_root {
        return Err(format!("missing system packages; run: sudo apt-get install -y {}", missing.join(" ")));
    }
    println!("xtask: installing {}", missing.join(" "));
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    crate::run(update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive");
    crate::run(install)
}

/// npm packages the avatar test uses (the Khronos glTF validator, three.js and pixiv's
/// three-vrm as an independent VRM implementation), pinned and cached outside the checkout.
pub const NODE_TOOLS: &[&str] = &["gltf-validator@2.0.0-dev.3.10", "three@0.187.0", "@pixiv/three-vrm@3.5.5"];

/// Installs [`NODE_TOOLS`] into `~/.cache/tomoni/node` unless already there.
pub fn ensure_node_tools() -> Res {
    // The machine image ships Node.js with npm; Debian's packages are the fallback.
    if !(has("node") && has("npm")) {
        ensure(&["nodejs", "npm"])?;
    }
    let dir = crate::cache_dir().join("node");
    let stamp = dir.join("installed.txt");
    let want = NODE_TOOLS.join("\n");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == want) {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(dir.join("package.json"), "{\"name\":\"tomoni-test-tools\",\"private\":true}\n")
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut npm = Command::new("npm");
    npm.args(["install", "--no-audit", "--no-fund", "--prefix"]).arg(&dir).args(NODE_TOOLS);
    crate::run(npm)?;
    std::fs::write(&stamp, want).map_err(|e| format!("{}: {e}", stamp.display()))
}

fn has(cmd: &str) -> bool {
    Command::new(cmd).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// cargo-deny, built from crates.io into `~/.cache/tomoni/tools` (at opt-level 1: it checks
/// one graph per run, and the build is minutes shorter). PyPI's wheel is 0.14, too old to read
/// today's `cargo metadata`.
pub const CARGO_DENY: &str = "0.20.2";

/// The cached cargo-deny binary, installed when missing.
pub fn ensure_cargo_deny() -> Result<std::path::PathBuf, String> {
    let root = crate::cache_dir().join("tools");
    let bin = root.join("bin/cargo-deny");
    let current = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(CARGO_DENY));
    if current {
        return Ok(bin);
    }
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.args(["install", "cargo-deny", "--version", CARGO_DENY, "--locked", "--root"])
        .arg(&root)
        .env("CARGO_TARGET_DIR", crate::cache_dir().join("tools-target"))
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false");
    crate::run(c)?;
    Ok(bin)
}
