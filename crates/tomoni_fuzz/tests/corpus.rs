//! Every input the fuzzer kept (`corpus/TARGET`) and every crash it found
//! (`regressions/TARGET`, each fixed) runs through its target: a bug found once stays fixed.

use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).map_or_else(
        |_| Vec::new(),
        |rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect(),
    );
    v.sort();
    v
}

#[test]
fn every_kept_input_and_every_crash_found_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for t in tomoni_fuzz::TARGETS {
        let corpus = inputs(&root.join("corpus").join(t.name));
        // A target with no seeds would be fuzzed from nothing and tested on nothing.
        assert!(!corpus.is_empty(), "corpus/{} holds no inputs", t.name);
        for p in corpus.iter().chain(&inputs(&root.join("regressions").join(t.name))) {
            let data = std::fs::read(p).unwrap();
            let run = std::panic::catch_unwind(|| (t.run)(&data));
            assert!(run.is_ok(), "{} fails on {}", t.name, p.display());
        }
    }
}

#[test]
fn every_corpus_folder_is_a_target() {
    // `cargo xtask fuzz` takes its list of targets from these folders.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for e in std::fs::read_dir(&root).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(tomoni_fuzz::target(&name).is_some(), "corpus/{name} is not a fuzz target");
    }
}
