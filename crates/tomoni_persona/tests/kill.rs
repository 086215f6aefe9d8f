//! Killing the process in the middle of writing loses no committed turn: a child process (this
//! test binary, re-run as a writer) stores turns as fast as it can and reports each commit; we
//! `kill -9` it mid-stream and check that every reported turn is in the file, intact.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use tomoni_persona::memory::Memory;

const CHILD_ENV: &str = "TOMONI_KILL_TEST_DB";

/// The writer run in the child process (ignored when run normally: it is a helper).
#[test]
#[ignore = "helper: run by kill_9_during_writes_loses_no_committed_turn in a child process"]
fn child_writer() {
    let Some(db) = std::env::var_os(CHILD_ENV) else { return };
    let mut m = Memory::open(std::path::Path::new(&db)).unwrap();
    for i in 0.. {
        // Long-ish turns with facts, so transactions take real time and a kill lands inside one.
        let text = format!("I live in town number {i}. My favourite number is {i}. {}", "la ".repeat(200));
        let id = m.add_turn("kill-test", "user", &text, "complete").unwrap();
        println!("committed {id}");
    }
}

#[test]
fn kill_9_during_writes_loses_no_committed_turn() {
    let dir = std::env::temp_dir().join(format!("tomoni-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("memory.sqlite3");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut committed = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while committed.len() < 300 {
        let line = lines.next().expect("child ended early").unwrap();
        if let Some(id) = line.strip_prefix("committed ") {
            committed.push(id.parse::<i64>().unwrap());
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructors, no flush, mid-transaction
    child.wait().unwrap();
    let m = Memory::open(&db).unwrap();
    assert!(m.integrity_ok().unwrap(), "database damaged after kill -9");
    let stored: std::collections::HashSet<i64> = m.all_turns().unwrap().into_iter().map(|t| t.id).collect();
    let lost: Vec<i64> = committed.iter().copied().filter(|id| !stored.contains(id)).collect();
    assert!(lost.is_empty(), "committed turns lost after kill -9: {lost:?}");
    assert!(stored.len() >= committed.len());
    assert!(m.facts().unwrap().iter().any(|f| f.text == "I live in town number 0"));
}
