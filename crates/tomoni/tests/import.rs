//! `tomoni import chatgpt` with the real binary on generated exports of two sizes: memory
//! stays bounded by the largest conversation, not the export (#20's "a million-message
//! export"), and every message lands in the store.

mod common;

use std::io::Write;
use std::path::Path;

/// Writes a ChatGPT-style `conversations.json` of `conversations` conversations, each with
/// `messages` alternating messages of about 1 KB; returns the file's size.
fn export(path: &Path, conversations: usize, messages: usize) -> u64 {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let words = ["moon", "tea", "walk", "river", "letter", "morning", "quiet", "song", "garden", "train"];
    write!(w, "[").unwrap();
    for c in 0..conversations {
        if c > 0 {
            write!(w, ",").unwrap();
        }
        write!(w, r#"{{"title":"talk {c}","create_time":{},"conversation_id":"g{c}","mapping":{{"#, 1.7e9 + c as f64)
            .unwrap();
        write!(w, r#""n0":{{"id":"n0","message":null,"parent":null,"children":["n1"]}}"#).unwrap();
        for m in 1..=messages {
            let role = if m % 2 == 1 { "user" } else { "assistant" };
            // Distinct text per message, so nothing can be shared or compressed away.
            let text: String =
                (0..170).map(|k| words[(c * 7 + m * 13 + k * k) % words.len()]).collect::<Vec<_>>().join(" ");
            let child = if m < messages { format!(r#"["n{}"]"#, m + 1) } else { "[]".into() };
            write!(
                w,
                r#","n{m}":{{"id":"n{m}","message":{{"author":{{"role":"{role}"}},"create_time":{},"content":{{"content_type":"text","parts":["{c} {m} {text}"]}}}},"parent":"n{}","children":{child}}}"#,
                1.7e9 + c as f64 + m as f64,
                m - 1
            )
            .unwrap();
        }
        write!(w, r#"}},"current_node":"n{messages}"}}"#).unwrap();
    }
    write!(w, "]").unwrap();
    w.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// Imports `file` into a fresh data folder under `/usr/bin/time`; returns (max RSS in KiB,
/// stdout).
fn import(tmp: &Path, name: &str, file: &Path) -> (u64, String) {
    let data = tmp.join(format!("data-{name}"));
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_file(tmp.join(format!("{name}.toml")));
    let (mut c, bin) = common::tomoni_under("/usr/bin/time");
    let o = c
        .args(["-f", "maxrss=%M"])
        .arg(bin)
        .args(["import", "chatgpt"])
        .arg(file)
        .arg("--out")
        .arg(tmp.join(format!("{name}.toml")))
        .env("TOMONI_DATA_DIR", &data)
        .output()
        .expect("/usr/bin/time (Debian `time`) runs");
    let (out, err) = (String::from_utf8_lossy(&o.stdout).to_string(), String::from_utf8_lossy(&o.stderr).to_string());
    assert!(o.status.success(), "{err}\n{out}");
    let rss = err
        .lines()
        .find_map(|l| l.strip_prefix("maxrss="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxrss in {err}"));
    (rss, out)
}

/// An export eight times larger peaks at the same memory: the import holds one conversation
/// at a time. Holding the imported text (what it did before) would add the larger export's
/// extra ~35 MB of text; the bound, 12 MB, is a third of that, well above the noise of the
/// allocator and SQLite's page cache (2 MB).
#[test]
fn an_eight_times_larger_export_imports_in_the_same_memory() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("import");
    std::fs::create_dir_all(&tmp).unwrap();
    let (small, large) = (tmp.join("small.json"), tmp.join("large.json"));
    let small_bytes = export(&small, 100, 50);
    let large_bytes = export(&large, 800, 50);
    assert!(large_bytes > 35 << 20 && large_bytes > 7 * small_bytes, "{small_bytes} vs {large_bytes} bytes");
    let (rss_small, out_small) = import(&tmp, "small", &small);
    let (rss_large, out_large) = import(&tmp, "large", &large);
    assert!(out_small.contains("imported 5000 messages from 100 conversations"), "{out_small}");
    assert!(out_large.contains("imported 40000 messages from 800 conversations"), "{out_large}");
    let grew_mib = (rss_large as f64 - rss_small as f64) / 1024.0;
    eprintln!(
        "import peak RSS: {:.1} MiB for {:.1} MB, {:.1} MiB for {:.1} MB (+{grew_mib:.1} MiB)",
        rss_small as f64 / 1024.0,
        small_bytes as f64 / 1e6,
        rss_large as f64 / 1024.0,
        large_bytes as f64 / 1e6
    );
    assert!(
        grew_mib < 12.0,
        "peak RSS grew {grew_mib:.1} MiB with {} MB more export",
        (large_bytes - small_bytes) / 1_000_000
    );
}
