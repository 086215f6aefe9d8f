//! Talking to a running companion from another terminal: a Unix socket, one command per line.
//!
//! - `say TEXT`: the user says TEXT; the reply's clauses come back one per line, then `\u{4}`.
//! - `recenter`: place the companion beside the viewer again.
//! - `gesture NAME`, `emotion NAME [INTENSITY]`: perform one now.
//!
//! `tomoni chat --attach` and `tomoni recenter` use it. The listener is its own thread; the
//! frame loop drains commands with `try_recv`.

use crossbeam_channel::{Receiver, Sender};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

/// A command from a client, and where to answer.
pub struct Request {
    /// The command line.
    pub line: String,
    /// Answer lines.
    pub reply: Sender<String>,
}

/// The socket: `$TOMONI_SOCKET`, else `tomoni.sock` in `$XDG_RUNTIME_DIR`, else in the data dir.
pub fn socket_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TOMONI_SOCKET") {
        return PathBuf::from(p);
    }
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| tomoni_persona::memory::default_path().parent().map(PathBuf::from).unwrap_or_default());
    dir.join("tomoni.sock")
}

/// Listens on the socket (replacing a stale one) on its own thread.
pub fn listen() -> std::io::Result<(Receiver<Request>, PathBuf)> {
    let path = socket_path();
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    if UnixStream::connect(&path).is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("{} is in use: another tomoni is running", path.display()),
        ));
    }
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new().name("tomoni-ipc".into()).spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || serve(conn, tx));
        }
    })?;
    Ok((rx, path))
}

fn serve(conn: UnixStream, tx: Sender<Request>) {
    let Ok(mut out) = conn.try_clone() else { return };
    for line in BufReader::new(conn).lines() {
        let Ok(line) = line else { return };
        let (reply, answers) = crossbeam_channel::unbounded();
        let is_say = line.starts_with("say ");
        if tx.send(Request { line, reply }).is_err() {
            return;
        }
        // A `say` answers with clauses until the end mark; anything else with one line.
        for a in answers.iter() {
            if writeln!(out, "{a}").is_err() {
                return;
            }
            if !is_say || a == "\u{4}" {
                break;
            }
        }
    }
}

/// Sends one command and returns the answer lines (up to the end mark for `say`).
pub fn send(line: &str, mut on_line: impl FnMut(&str)) -> Result<(), String> {
    let path = socket_path();
    let mut s = UnixStream::connect(&path)
        .map_err(|e| format!("no running companion at {} ({e}); start it with `tomoni run`", path.display()))?;
    writeln!(s, "{line}").map_err(|e| e.to_string())?;
    let is_say = line.starts_with("say ");
    for l in BufReader::new(s).lines() {
        let l = l.map_err(|e| e.to_string())?;
        if l == "\u{4}" {
            break;
        }
        on_line(&l);
        if !is_say {
            break;
        }
    }
    Ok(())
}
