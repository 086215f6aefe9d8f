//! Tidy checks on the source tree (run by `cargo test`): the architecture's rules that a
//! compiler does not enforce. See docs/ARCHITECTURE.md, "Invariants".

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Our crates: not the patched copy of a dependency (`PATCHES.md`), which keeps its authors'
/// structure so that its changes can go upstream.
fn crates() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").is_file() && !p.join("PATCHES.md").is_file())
        .collect();
    v.sort();
    v
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Code without comments (line comments and doc comments), good enough for `crate::` paths.
fn code(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

#[test]
fn every_crate_root_says_what_it_is() {
    for c in crates() {
        for f in ["src/lib.rs", "src/main.rs"] {
            let p = c.join(f);
            if let Ok(t) = std::fs::read_to_string(&p) {
                assert!(t.starts_with("//!"), "{} does not start with a `//!` header", p.display());
            }
        }
    }
}

#[test]
fn no_crate_has_a_circle_of_module_imports() {
    for c in crates() {
        let src = c.join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        // Top-level module of each file → the top-level modules it names through `crate::`.
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in &files {
            let rel = f.strip_prefix(&src).unwrap();
            let module =
                rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
            if ["lib", "main"].contains(&module.as_str()) {
                continue;
            }
            let text = code(&std::fs::read_to_string(f).unwrap());
            let deps = graph.entry(module.clone()).or_default();
            for (i, _) in text.match_indices("crate::") {
                let before = text[..i].chars().last();
                if before.is_some_and(|ch| ch.is_alphanumeric() || ch == '_' || ch == '$') {
                    continue; // `tomoni_crate::` and macro paths are not ours
                }
                let name: String = text[i + 7..].chars().take_while(|ch| ch.is_alphanumeric() || *ch == '_').collect();
                if !name.is_empty() && name != module && name.chars().next().is_some_and(char::is_lowercase) {
                    deps.insert(name);
                }
            }
        }
        // Depth-first search for a cycle.
        fn visit(
            n: &str,
            g: &BTreeMap<String, BTreeSet<String>>,
            stack: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(at) = stack.iter().position(|s| s == n) {
                let mut cycle = stack[at..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            if done.contains(n) {
                return None;
            }
            stack.push(n.to_string());
            for d in g.get(n).into_iter().flatten() {
                if let Some(c) = visit(d, g, stack, done) {
                    return Some(c);
                }
            }
            stack.pop();
            done.insert(n.to_string());
            None
        }
        let mut done = BTreeSet::new();
        for n in graph.keys() {
            if let Some(cycle) = visit(n, &graph, &mut Vec::new(), &mut done) {
                panic!("{}: modules import each other in a circle: {}", c.display(), cycle.join(" → "));
            }
        }
    }
}

fn dependencies(manifest: &Path) -> BTreeSet<String> {
    let t = std::fs::read_to_string(manifest).unwrap();
    let mut deps = BTreeSet::new();
    let mut in_deps = false;
    for line in t.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_deps = l == "[dependencies]";
            continue;
        }
        if in_deps
            && let Some(name) =
                l.split(['=', '.']).next().map(str::trim).filter(|n| !n.is_empty() && !n.starts_with('#'))
        {
            deps.insert(name.to_string());
        }
    }
    deps
}

#[test]
fn dependencies_point_down_and_async_io_stays_behind_the_persona_crate() {
    let deps = |c: &str| dependencies(&root().join("crates").join(c).join("Cargo.toml"));
    // tokio only in the persona crate and the operator page's server, each on a runtime thread
    // of its own; reqwest in the persona crate, the voice crate's HTTP TTS and the listen crate's
    // HTTP STT (blocking, on threads of their own).
    for c in crates() {
        let name = c.file_name().unwrap().to_string_lossy().to_string();
        let d = dependencies(&c.join("Cargo.toml"));
        if !["tomoni_persona", "tomoni_operator", "xtask"].contains(&name.as_str()) {
            assert!(
                !d.contains("tokio"),
                "{name} depends on tokio: async I/O lives behind tomoni_persona and tomoni_operator"
            );
        }
        if !["tomoni_persona", "tomoni_voice", "tomoni_listen", "xtask"].contains(&name.as_str()) {
            assert!(!d.contains("reqwest"), "{name} depends on reqwest");
        }
    }
    let tomoni_deps = |c: &str| deps(c).into_iter().filter(|d| d.starts_with("tomoni")).collect::<Vec<_>>();
    assert!(tomoni_deps("tomoni_core").is_empty(), "{:?}", tomoni_deps("tomoni_core"));
    assert!(tomoni_deps("tomoni_persona").is_empty(), "{:?}", tomoni_deps("tomoni_persona"));
    assert!(tomoni_deps("tomoni_voice").is_empty(), "{:?}", tomoni_deps("tomoni_voice"));
    // The operator page knows nothing of the companion: it serves JSON and hands actions over.
    assert!(tomoni_deps("tomoni_operator").is_empty(), "{:?}", tomoni_deps("tomoni_operator"));
    assert!(!deps("tomoni_operator").contains("bevy"), "the operator server has no Bevy");
    assert_eq!(tomoni_deps("tomoni_avatar"), ["tomoni_core", "tomoni_vrm"]);
    assert_eq!(tomoni_deps("tomoni_xr"), ["tomoni_core"]);
    // Parsers of strangers' files build without Bevy, so fuzzing instruments only them.
    for c in ["tomoni_vrm", "tomoni_fuzz"] {
        assert!(!deps(c).contains("bevy"), "{c} has no Bevy");
    }
    assert!(tomoni_deps("tomoni_vrm").is_empty(), "{:?}", tomoni_deps("tomoni_vrm"));
    // Ears sit on the voice crate for the process's one ONNX Runtime (and, for barge-in, what
    // the companion is saying); nothing of the app.
    assert_eq!(tomoni_deps("tomoni_listen"), ["tomoni_core", "tomoni_voice"]);
    // Photos: pure image work on the same ONNX Runtime; the rendering is the app's, so no Bevy.
    assert_eq!(tomoni_deps("tomoni_photo"), ["tomoni_voice"]);
    assert!(!deps("tomoni_photo").contains("bevy"), "tomoni_photo renders nothing: no Bevy");
    // The binary is thin: no Bevy of its own, two files.
    assert!(!deps("tomoni").contains("bevy"), "the binary crate uses Bevy only through tomoni_companion");
    let mut files = Vec::new();
    rust_files(&root().join("crates/tomoni/src"), &mut files);
    let names: BTreeSet<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().to_string()).collect();
    assert_eq!(names, BTreeSet::from(["main.rs".to_string(), "cli.rs".to_string()]));
}
