//! The one ONNX Runtime of the process, shared by every model that runs on it (Piper voices here,
//! the voice-activity model of `tomoni_listen`).
//!
//! It is loaded at run time (`ort`'s `load-dynamic`) from the `libonnxruntime.so` of the PyPI
//! `onnxruntime` wheel that `cargo xtask` caches: nothing is downloaded at build or run time.
//! Every call into it holds [`busy`], so [`quiesce`] can keep the process from exiting under a
//! thread that is still inside it.

use std::path::PathBuf;
use std::sync::OnceLock;

/// `~/.cache/tomoni`, or `$TOMONI_CACHE` (where `cargo xtask` puts voices, models and the runtime).
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TOMONI_CACHE") {
        return PathBuf::from(d);
    }
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from).join(".cache/tomoni")
}

/// The ONNX Runtime library: `$TOMONI_ONNXRUNTIME`, else the one `cargo xtask` cached.
pub fn runtime_library() -> PathBuf {
    std::env::var_os("TOMONI_ONNXRUNTIME")
        .map_or_else(|| cache_dir().join("onnxruntime/libonnxruntime.so"), PathBuf::from)
}

/// Whether the runtime library is where it should be (cheap: nothing is loaded), or why not.
pub fn check_runtime() -> Result<PathBuf, String> {
    let lib = runtime_library();
    if lib.is_file() { Ok(lib) } else { Err(format!("no ONNX Runtime at {} (run `cargo xtask deps`)", lib.display())) }
}

/// Held (shared) by every call into ONNX Runtime; [`quiesce`] takes it for good.
static IN_FLIGHT: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Hold the returned guard across a model load or run.
pub fn busy() -> Option<std::sync::RwLockReadGuard<'static, ()>> {
    IN_FLIGHT.read().ok()
}

/// Waits for any model load or run in progress to finish and lets no other start. ONNX Runtime's
/// C++ globals are destroyed at exit, and a thread still inside it then crashes the process (a
/// failing `tomoni run` would die by signal instead of exiting with its code; a test binary
/// whose tests all passed died by SIGSEGV while a speaker thread was still loading its voice).
/// [`environment`] registers this to run at exit, before the runtime's own exit handlers;
/// calling it earlier is allowed, and only the first call waits. Threads that try afterwards
/// wait until the process ends.
pub fn quiesce() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(guard) = IN_FLIGHT.write() {
            std::mem::forget(guard);
        }
    });
}

extern "C" fn quiesce_at_exit() {
    quiesce();
}

/// Registers [`quiesce`] to run at exit. Exit handlers run last-registered first, and the
/// runtime registers its own as it loads and as it makes its first sessions (lazy C++
/// statics), so this is called again after each: ours then runs before theirs.
#[expect(unsafe_code, reason = "atexit(3) with a function that never unwinds")]
fn guard_exit() -> Result<(), String> {
    // SAFETY: `quiesce_at_exit` is a plain `extern "C" fn()` that never unwinds.
    if unsafe { libc::atexit(quiesce_at_exit) } == 0 {
        Ok(())
    } else {
        Err("could not register the ONNX Runtime exit guard".into())
    }
}

/// Loads ONNX Runtime once per process and makes its environment.
pub fn environment() -> Result<&'static ort::environment::Environment, String> {
    static ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let lib = check_runtime()?;
        let builder = ort::init_from(&lib).map_err(|e| format!("{}: {e}", lib.display()))?;
        // ONNX Runtime reports usage to Microsoft by default (on Linux too: DNS lookups of
        // mobile.events.data.microsoft.com from its threads). Nothing leaves the machine
        // unasked: off here, and `ORT_DISABLE_TELEMETRY=1` (set by the binary's `main`) keeps
        // its client from starting at all, which this switch alone does not.
        let env =
            builder.with_name("tomoni").with_telemetry(false).build().map_err(|e| format!("{}: {e}", lib.display()))?;
        guard_exit()?;
        Ok(env)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// A session on `threads` intra-op threads (one inter-op) from a model in memory; errors name
/// `origin` (the model's file).
pub fn session(bytes: &[u8], threads: usize, origin: &std::path::Path) -> Result<ort::session::Session, String> {
    let _busy = busy();
    let env = environment()?;
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", origin.display());
    let builder = ort::session::Session::builder(env)
        .map_err(|e| at(&e))?
        .with_intra_threads(threads.max(1))
        .map_err(|e| at(&e))?
        .with_inter_threads(1)
        .map_err(|e| at(&e))?;
    let session = { builder }.commit_from_memory(bytes).map_err(|e| at(&e))?;
    guard_exit()?;
    Ok(session)
}
