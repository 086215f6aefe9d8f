//! The typed control plane: every way of steering the running companion (an attached
//! terminal today, the ceremony's operator page next) sends a [`ControlCommand`] and gets
//! [`ControlReply`]s back, ending in exactly one final reply — also when the request is
//! talked over, the reply is dropped, or something fails ([`Replier`] sends one on drop).
//!
//! Transports only translate: [`unix`] turns text lines into commands and replies into JSON
//! lines. The frame loop drains the [`ControlInbox`] with `try_recv`
//! (`crate::commands::ControlPlugin`).

use bevy::prelude::Resource;
use crossbeam_channel::{Receiver, Sender};
use tomoni_core::behaviour::Gesture;
use tomoni_persona::tags;

/// What a client asks of the running companion.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlCommand {
    /// The user says this (the companion answers aloud; clauses stream back).
    Say(String),
    /// Bring the companion back beside the viewer.
    Recenter,
    /// Perform a built-in gesture now.
    Gesture(Gesture),
    /// Show an emotion now, with an intensity 0..1.
    Emotion(tags::Emotion, f32),
    /// Steer the running ceremony (the operator page, `ceremony next` on the socket).
    Ceremony(CeremonyCommand),
    /// Take a picture of what the viewer sees, companion included, into the pictures folder.
    Photo,
    /// Change into an outfit by name (`suit`, `everyday` for the shipped avatars).
    Outfit(String),
    /// How the frame loop has kept time since the last `status` (the soak and `doctor` read it),
    /// as [`crate::commands::FrameStats::report`]'s JSON, with where the voice goes (`audio`),
    /// the turn's state (`conversation`) and what the label tells the person (`notice`).
    Status,
    /// End the app cleanly (what closing the window does).
    Quit,
}

/// How the operator steers a ceremony (`crate::ceremony`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyCommand {
    /// End this step and start the next (also ends a wait for the operator).
    Next,
    /// Go back one step and run it again (a line is spoken again).
    Back,
    /// Hold here: speech stops, music fades; `Resume` runs the step again from its start.
    Pause,
    /// Go on after `Pause`.
    Resume,
    /// End the ceremony.
    Stop,
    /// Jump to a step by index (rehearsals only).
    Jump(usize),
}

impl CeremonyCommand {
    /// Text form: `next`, `back`, `pause`, `resume`, `stop`, `jump N`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut w = s.split_whitespace();
        let c = match w.next()? {
            "next" => Self::Next,
            "back" => Self::Back,
            "pause" => Self::Pause,
            "resume" => Self::Resume,
            "stop" => Self::Stop,
            "jump" => Self::Jump(w.next()?.parse().ok()?),
            _ => return None,
        };
        w.next().is_none().then_some(c)
    }
}

/// What comes back: any number of `Clause`s, then one final reply.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlReply {
    /// A clause of the answer, as it is spoken (not final).
    Clause(String),
    /// Done; what was done.
    Done(String),
    /// The request was cut short (talked over, a broken stream); why.
    Interrupted(String),
    /// The request could not be carried out; why.
    Error(String),
}

impl ControlReply {
    /// Whether this reply ends the request.
    pub fn is_final(&self) -> bool {
        !matches!(self, ControlReply::Clause(_))
    }

    /// One JSON object (`{"clause": …}`, `{"done": …}`, `{"interrupted": …}`, `{"error": …}`).
    pub fn to_json(&self) -> serde_json::Value {
        let (k, v) = match self {
            ControlReply::Clause(t) => ("clause", t),
            ControlReply::Done(t) => ("done", t),
            ControlReply::Interrupted(t) => ("interrupted", t),
            ControlReply::Error(t) => ("error", t),
        };
        serde_json::json!({ k: v })
    }

    /// Reads [`Self::to_json`]'s output back.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        let (k, t) = v.as_object()?.iter().next()?;
        let t = t.as_str()?.to_string();
        Some(match k.as_str() {
            "clause" => ControlReply::Clause(t),
            "done" => ControlReply::Done(t),
            "interrupted" => ControlReply::Interrupted(t),
            "error" => ControlReply::Error(t),
            _ => return None,
        })
    }
}

impl ControlCommand {
    /// The text form (`say TEXT`, `recenter`, `gesture NAME`, `emotion NAME [0..1]`, `outfit NAME`).
    pub fn parse(line: &str) -> Result<Self, String> {
        let line = line.trim();
        let (cmd, rest) = line.split_once(' ').map_or((line, ""), |(c, r)| (c, r.trim()));
        match cmd {
            "say" if !rest.is_empty() => Ok(ControlCommand::Say(rest.to_string())),
            "recenter" => Ok(ControlCommand::Recenter),
            "photo" => Ok(ControlCommand::Photo),
            "outfit" if !rest.is_empty() && !rest.contains(char::is_whitespace) => {
                Ok(ControlCommand::Outfit(rest.to_string()))
            }
            "status" => Ok(ControlCommand::Status),
            "quit" => Ok(ControlCommand::Quit),
            "gesture" => Gesture::parse(rest).map(ControlCommand::Gesture).ok_or(format!("unknown gesture {rest:?}")),
            "emotion" => {
                let mut parts = rest.split_whitespace();
                let name = parts.next().unwrap_or("");
                let e = tags::Emotion::parse(name).ok_or(format!("unknown emotion {name:?}"))?;
                let intensity = match parts.next() {
                    None => 1.0,
                    Some(i) => i
                        .parse::<f32>()
                        .ok()
                        .filter(|v| (0.0..=1.0).contains(v))
                        .ok_or(format!("intensity {i:?}: expected a number 0..1"))?,
                };
                Ok(ControlCommand::Emotion(e, intensity))
            }
            "ceremony" => CeremonyCommand::parse(rest)
                .map(ControlCommand::Ceremony)
                .ok_or(format!("unknown ceremony command {rest:?} (next | back | pause | resume | stop | jump N)")),
            _ => Err(format!(
                "unknown command {line:?} (say TEXT | recenter | photo | status | quit | gesture NAME | emotion NAME [0..1] | ceremony next|back|pause|resume|stop|jump N)"
            )),
        }
    }
}

/// Where a request's replies go. Exactly one final reply reaches the client: `finish` sends
/// it; dropping a `Replier` unfinished (a turn talked over, a thread that gave up) sends
/// `Interrupted`, so no client ever waits forever.
#[derive(Debug)]
pub struct Replier {
    tx: Option<Sender<ControlReply>>,
}

impl Replier {
    /// A replier and the receiving end (for transports and tests).
    pub fn channel() -> (Self, Receiver<ControlReply>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        (Self { tx: Some(tx) }, rx)
    }

    /// A clause of a spoken answer (not final).
    pub fn clause(&self, text: &str) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(ControlReply::Clause(text.to_string()));
        }
    }

    /// The final reply; `Clause` is not final and is sent as `Done`.
    pub fn finish(mut self, reply: ControlReply) {
        let reply = match reply {
            ControlReply::Clause(t) => ControlReply::Done(t),
            r => r,
        };
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(reply);
        }
    }
}

impl Drop for Replier {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(ControlReply::Interrupted("the request was talked over or cut short".into()));
        }
    }
}

/// A command and where to answer it.
#[derive(Debug)]
pub struct ControlRequest {
    /// What is asked.
    pub command: ControlCommand,
    /// Where the answers go.
    pub reply: Replier,
}

/// The inbox every transport posts to ([`ControlInbox::sender`]); the frame loop drains it.
#[derive(Resource)]
pub struct ControlInbox {
    tx: Sender<ControlRequest>,
    rx: Receiver<ControlRequest>,
}

impl Default for ControlInbox {
    fn default() -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self { tx, rx }
    }
}

impl ControlInbox {
    /// The next request, if one is waiting (never blocks).
    pub fn try_recv(&self) -> Option<ControlRequest> {
        self.rx.try_recv().ok()
    }

    /// A sender for a transport (cheap to clone, never blocks).
    pub fn sender(&self) -> Sender<ControlRequest> {
        self.tx.clone()
    }
}

/// The Unix socket transport: `tomoni chat --attach` and `tomoni recenter`.
///
/// A client writes one command per line in the text form of [`ControlCommand::parse`]; the
/// server answers with JSON lines ([`ControlReply::to_json`]) up to and including the final one.
pub mod unix {
    use super::{ControlCommand, ControlReply, ControlRequest, Replier};
    use crossbeam_channel::Sender;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::PathBuf;

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

    /// Listens on the socket (replacing a stale one) on its own thread; requests go to `inbox`.
    pub fn listen(inbox: Sender<ControlRequest>) -> std::io::Result<PathBuf> {
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
        // Anyone who can connect can steer the companion and read its replies: user only.
        tomoni_persona::private::tighten(&path)?;
        std::thread::Builder::new().name("tomoni-control".into()).spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let inbox = inbox.clone();
                let _ =
                    std::thread::Builder::new().name("tomoni-control-client".into()).spawn(move || serve(conn, inbox));
            }
        })?;
        Ok(path)
    }

    fn serve(conn: UnixStream, inbox: Sender<ControlRequest>) {
        let Ok(mut out) = conn.try_clone() else { return };
        for line in BufReader::new(conn).lines() {
            let Ok(line) = line else { return };
            let (reply, replies) = Replier::channel();
            match ControlCommand::parse(&line) {
                // If the app is gone, the request is dropped with its replier, which says so.
                Ok(command) => drop(inbox.send(ControlRequest { command, reply })),
                Err(e) => reply.finish(ControlReply::Error(e)),
            }
            for r in replies.iter() {
                if writeln!(out, "{}", r.to_json()).is_err() {
                    return;
                }
                if r.is_final() {
                    break;
                }
            }
        }
    }

    /// Sends one command; `on_reply` sees every reply, the final one last.
    pub fn send(line: &str, on_reply: impl FnMut(&ControlReply)) -> Result<ControlReply, String> {
        send_to(&socket_path(), line, on_reply)
    }

    /// [`send`] to the companion listening at `path` (tests run several at once).
    pub fn send_to(
        path: &std::path::Path,
        line: &str,
        mut on_reply: impl FnMut(&ControlReply),
    ) -> Result<ControlReply, String> {
        let mut s = UnixStream::connect(path)
            .map_err(|e| format!("no running companion at {} ({e}); start it with `tomoni run`", path.display()))?;
        writeln!(s, "{}", line.replace('\n', " ")).map_err(|e| e.to_string())?;
        for l in BufReader::new(s).lines() {
            let l = l.map_err(|e| e.to_string())?;
            let r = serde_json::from_str(&l)
                .ok()
                .and_then(|v| ControlReply::from_json(&v))
                .ok_or_else(|| format!("the companion answered something unreadable: {l:?}"))?;
            on_reply(&r);
            if r.is_final() {
                return Ok(r);
            }
        }
        Err("the companion closed the connection without a final reply".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_bad_ones_say_why() {
        assert_eq!(ControlCommand::parse("say  hello there "), Ok(ControlCommand::Say("hello there".into())));
        assert_eq!(ControlCommand::parse("recenter"), Ok(ControlCommand::Recenter));
        assert_eq!(ControlCommand::parse("gesture wave"), Ok(ControlCommand::Gesture(Gesture::Wave)));
        assert_eq!(ControlCommand::parse("outfit everyday"), Ok(ControlCommand::Outfit("everyday".into())));
        assert!(ControlCommand::parse("outfit").is_err());
        assert_eq!(ControlCommand::parse("emotion happy 0.5"), Ok(ControlCommand::Emotion(tags::Emotion::Happy, 0.5)));
        assert!(ControlCommand::parse("emotion happy 7").unwrap_err().contains("0..1"));
        assert!(ControlCommand::parse("say").unwrap_err().contains("unknown command"));
        assert!(ControlCommand::parse("gesture moonwalk").unwrap_err().contains("moonwalk"));
    }

    #[test]
    fn a_dropped_replier_still_sends_one_final_reply() {
        let (r, rx) = Replier::channel();
        r.clause("Hello.");
        drop(r);
        let got: Vec<ControlReply> = rx.try_iter().collect();
        assert_eq!(got.len(), 2);
        assert!(matches!(got[1], ControlReply::Interrupted(_)));
        let (r, rx) = Replier::channel();
        r.finish(ControlReply::Done("ok".into()));
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [ControlReply::Done("ok".into())], "exactly one");
    }

    #[test]
    fn replies_round_trip_through_json() {
        for r in [
            ControlReply::Clause("a".into()),
            ControlReply::Done("b".into()),
            ControlReply::Interrupted("c".into()),
            ControlReply::Error("d".into()),
        ] {
            assert_eq!(ControlReply::from_json(&r.to_json()), Some(r));
        }
    }
}
