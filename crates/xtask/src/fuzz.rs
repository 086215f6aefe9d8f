//! `cargo xtask fuzz [TARGET…] [--minutes N] [--jobs J]`: coverage-guided fuzzing on stable Rust.
//!
//! cargo-fuzz needs a nightly compiler for its default sanitizer; these machines have stable
//! only. libFuzzer itself does not: the `libfuzzer-sys` crate builds it with the C++ compiler,
//! and rustc's stable `-C passes=sancov-module` plus `-C llvm-args=-sanitizer-coverage-*` give
//! it the same edge counters, value profiles and comparison hooks cargo-fuzz turns on. So we
//! build `tomoni-fuzz` that way (release, with debug assertions and overflow checks, into a
//! target dir of its own so the workspace's dev build is never touched) and run libFuzzer.
//!
//! Each target grows a working corpus under `~/.cache/tomoni/fuzz/TARGET`, seeded from
//! `crates/tomoni_fuzz/corpus/TARGET`; at the end the inputs that add coverage are merged back
//! into the repository (`tests/corpus.rs` replays them in `cargo xtask test`). A crash is copied
//! to `crates/tomoni_fuzz/regressions/TARGET` and fails the task.

use crate::{Res, cache_dir, root, run};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The sanitizer-coverage instrumentation cargo-fuzz uses, minus the nightly-only sanitizer.
const RUSTFLAGS: &str = "-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    --cfg fuzzing -Cdebug-assertions -Coverflow-checks";

/// The host triple, given explicitly so RUSTFLAGS reach only the fuzzed code, not build scripts.
const TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// A merged corpus bigger than this stays in the cache: the repository keeps its seeds.
const MAX_KEPT_BYTES: u64 = 1 << 20;

fn repo_corpus() -> PathBuf {
    root().join("crates/tomoni_fuzz/corpus")
}

/// The targets: one folder each under `crates/tomoni_fuzz/corpus` (the corpus test checks
/// that every target has one).
fn targets() -> Result<Vec<String>, String> {
    let dir = repo_corpus();
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    Ok(v)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default()
}

fn size(dir: &Path) -> u64 {
    files(dir).iter().filter_map(|p| p.metadata().ok()).map(|m| m.len()).sum()
}

/// What one campaign measured, from libFuzzer's final stats and last status line.
struct Outcome {
    target: String,
    execs: u64,
    execs_per_s: u64,
    cov: String,
    ft: String,
    corpus: usize,
    kept: usize,
    peak_rss_mb: String,
    crash: Option<PathBuf>,
}

pub fn fuzz(rest: &[String]) -> Res {
    let mut minutes = 10.0f64;
    let mut jobs = 1usize;
    let mut chosen = Vec::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--minutes" => minutes = it.next().and_then(|m| m.parse().ok()).ok_or("--minutes takes a number")?,
            "--jobs" => jobs = it.next().and_then(|m| m.parse().ok()).ok_or("--jobs takes a number")?,
            t => chosen.push(t.to_string()),
        }
    }
    let all = targets()?;
    for t in &chosen {
        if !all.contains(t) {
            return Err(format!("no fuzz target {t:?}; there are: {}", all.join(", ")));
        }
    }
    if chosen.is_empty() {
        chosen = all;
    }
    let bin = build()?;
    let seconds = (minutes * 60.0).round().max(1.0) as u64;
    let mut outcomes = Vec::new();
    for group in chosen.chunks(jobs.max(1)) {
        let handles: Vec<_> = group
            .iter()
            .map(|t| {
                let (bin, t) = (bin.clone(), t.clone());
                std::thread::spawn(move || campaign(&bin, &t, seconds))
            })
            .collect();
        for h in handles {
            outcomes.push(h.join().map_err(|_| "a campaign thread panicked".to_string())??);
        }
    }
    println!("\n| target | minutes | execs | execs/s | cov | ft | corpus | kept in repo | peak RSS MB | crash |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for o in &outcomes {
        println!(
            "| {} | {minutes} | {} | {} | {} | {} | {} | {} | {} | {} |",
            o.target,
            o.execs,
            o.execs_per_s,
            o.cov,
            o.ft,
            o.corpus,
            o.kept,
            o.peak_rss_mb,
            o.crash.as_ref().map_or("none".into(), |p| p.display().to_string())
        );
    }
    let crashed: Vec<_> = outcomes.iter().filter(|o| o.crash.is_some()).map(|o| o.target.as_str()).collect();
    if crashed.is_empty() { Ok(()) } else { Err(format!("crashes found in: {}", crashed.join(", "))) }
}

/// Builds the instrumented `tomoni-fuzz` in its own target dir.
fn build() -> Result<PathBuf, String> {
    let target_dir = cache_dir().join("fuzz-target");
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root())
        .args(["build", "--release", "-p", "tomoni_fuzz", "--features", "libfuzzer", "--bin", "tomoni-fuzz"])
        .args(["--target", TRIPLE])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", RUSTFLAGS);
    run(c)?;
    Ok(target_dir.join(TRIPLE).join("release/tomoni-fuzz"))
}

fn campaign(bin: &Path, target: &str, seconds: u64) -> Result<Outcome, String> {
    let seeds = repo_corpus().join(target);
    let work = cache_dir().join("fuzz").join(target);
    let corpus = work.join("corpus");
    let crashes = work.join("crashes");
    for d in [&corpus, &crashes] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let before: Vec<PathBuf> = files(&crashes);
    // Inputs may grow to twice the largest seed (a whole minimal avatar, not just its header).
    let max_len =
        files(&seeds).iter().filter_map(|p| p.metadata().ok()).map(|m| 2 * m.len()).max().unwrap_or(0).max(8192);
    let mut c = Command::new(bin);
    c.env("TOMONI_FUZZ_TARGET", target)
        .arg(&corpus)
        .arg(&seeds)
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-max_len={max_len}"))
        .args(["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1", "-use_value_profile=1"])
        .arg(format!("-artifact_prefix={}/", crashes.display()));
    println!("xtask: fuzzing {target} for {seconds} s");
    let out = c.output().map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    std::fs::write(work.join("last.log"), &log).map_err(|e| format!("{}: {e}", work.display()))?;
    let stat = |k: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(&format!("stat::{k}:")).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    // The last status line: `#N  DONE   cov: C ft: F corp: K/…`.
    let status = log.lines().rev().find(|l| l.starts_with('#') && l.contains("cov:")).unwrap_or("");
    let field = |k: &str| status.split(k).nth(1).and_then(|r| r.split_whitespace().next()).unwrap_or("?").to_string();
    let corp = field("corp:");
    let crash = files(&crashes).into_iter().find(|p| !before.contains(p));
    if let Some(p) = &crash {
        let keep = root().join("crates/tomoni_fuzz/regressions").join(target);
        std::fs::create_dir_all(&keep).map_err(|e| format!("{}: {e}", keep.display()))?;
        let dest = keep.join(p.file_name().unwrap_or_default());
        std::fs::copy(p, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        eprintln!(
            "xtask: {target} crashed; the input is kept as {}; log: {}",
            dest.display(),
            work.join("last.log").display()
        );
    } else if !out.status.success() {
        return Err(format!("fuzzing {target} failed ({}); log: {}", out.status, work.join("last.log").display()));
    }
    let kept = merge(bin, target, &work, &seeds)?;
    Ok(Outcome {
        target: target.to_string(),
        execs: stat("number_of_executed_units").parse().unwrap_or(0),
        execs_per_s: stat("average_exec_per_sec").parse().unwrap_or(0),
        cov: field("cov:"),
        ft: field("ft:"),
        corpus: corp.split('/').next().unwrap_or("?").parse().unwrap_or(0),
        kept,
        peak_rss_mb: stat("peak_rss_mb"),
        crash,
    })
}

/// Minimises seeds + working corpus into the inputs that each add coverage, and keeps them in
/// the repository when they are small enough; returns how many the repository now holds.
fn merge(bin: &Path, target: &str, work: &Path, seeds: &Path) -> Result<usize, String> {
    let merged = work.join("merged");
    let _ = std::fs::remove_dir_all(&merged);
    std::fs::create_dir_all(&merged).map_err(|e| format!("{}: {e}", merged.display()))?;
    let out = Command::new(bin)
        .env("TOMONI_FUZZ_TARGET", target)
        .arg("-set_cover_merge=1")
        .arg(&merged)
        .arg(seeds)
        .arg(work.join("corpus"))
        .output()
        .map_err(|e| format!("cannot merge the {target} corpus: {e}"))?;
    if !out.status.success() {
        return Err(format!("merging the {target} corpus failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    if size(&merged) > MAX_KEPT_BYTES {
        println!(
            "xtask: {target}: the merged corpus is over {} MiB: kept in {} only",
            MAX_KEPT_BYTES >> 20,
            merged.display()
        );
        return Ok(files(seeds).len());
    }
    // The hand-written seeds stay (named, readable); fuzzer finds are named by their hash.
    for p in files(seeds) {
        let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if name.len() == 40 && name.chars().all(|c| c.is_ascii_hexdigit()) {
            std::fs::remove_file(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        }
    }
    let named: Vec<Vec<u8>> = files(seeds).iter().filter_map(|p| std::fs::read(p).ok()).collect();
    for p in files(&merged) {
        if std::fs::read(&p).is_ok_and(|b| named.contains(&b)) {
            continue;
        }
        let dest = seeds.join(p.file_name().unwrap_or_default());
        std::fs::copy(&p, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    Ok(files(seeds).len())
}
