//! The talk thread: it owns the [`Session`] (memory in SQLite, the LLM client), so that no
//! file or network I/O happens on the frame loop. A newer message cancels a reply in progress
//! (barge-in); every turn it begins ends with an `End` event, also when it could not start.

use crate::control::{ControlReply, Replier};
use crate::session::Session;
use crossbeam_channel::{Receiver, Sender};
use std::time::Duration;
use tomoni_persona::client::{DialogueError, DialogueEvent, ErrorKind, TurnEnd, TurnStatus};

/// What the user does to the conversation.
#[derive(Debug)]
pub enum UserInput {
    /// A message, and where to echo the reply (an attached client), if anywhere.
    Say {
        /// What they said.
        text: String,
        /// Clauses as they are spoken, then one final reply.
        reply: Option<Replier>,
    },
    /// They started speaking over the reply: stop it now (no more tokens asked for or
    /// billed; it is stored as interrupted); their words follow once transcribed.
    Cancel,
}

/// What the talk thread reports.
#[derive(Debug, PartialEq)]
pub enum Talk {
    /// A turn began (the user's message is stored, the request is on its way).
    Began(u64),
    /// An event of turn `n`.
    Event(u64, DialogueEvent),
    /// Saving stopped (why, in the person's words) or works again (`None`); sent when that
    /// changes, after the turn in which it did, so the companion finishes its reply first.
    Saving(Option<String>),
}

/// Starts the talk thread over `session`.
#[expect(clippy::disallowed_methods, reason = "the talk thread waits for messages; it is not the frame loop")]
pub fn start_talk(mut session: Session) -> std::io::Result<(Sender<UserInput>, Receiver<Talk>)> {
    let (in_tx, in_rx) = crossbeam_channel::unbounded::<UserInput>();
    let (out_tx, out_rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new().name("tomoni-talk".into()).spawn(move || {
        tomoni_voice::lower_thread_priority();
        let mut n = 0u64;
        let mut saving: Option<String> = None;
        let mut next = in_rx.recv().ok();
        while let Some(input) = next.take() {
            let UserInput::Say { text, reply } = input else {
                next = in_rx.recv().ok(); // nothing in progress to cancel
                continue;
            };
            n += 1;
            let _ = out_tx.send(Talk::Began(n));
            let mut turn = match session.send(&text) {
                Ok(t) => t,
                Err(e) => {
                    // The turn began, so it ends: the app leaves "thinking" and says so in its
                    // own voice, and an attached client gets its final reply.
                    let message = format!("cannot start a reply: {e}");
                    let _ = out_tx.send(Talk::Event(
                        n,
                        DialogueEvent::Error(DialogueError { kind: ErrorKind::Protocol, message: message.clone() }),
                    ));
                    let end = TurnEnd { status: TurnStatus::Interrupted, text: String::new(), completion_tokens: None };
                    let _ = out_tx.send(Talk::Event(n, DialogueEvent::End(end)));
                    if let Some(r) = reply {
                        r.finish(ControlReply::Error(message));
                    }
                    next = in_rx.recv().ok();
                    continue;
                }
            };
            let mut reply = reply;
            loop {
                match turn.try_next() {
                    Some(ev) => {
                        if let Some(r) = &reply {
                            match &ev {
                                DialogueEvent::Clause(c) => r.clause(c),
                                DialogueEvent::Error(e) => r.clause(&format!("[{}]", e.message)),
                                _ => {}
                            }
                        }
                        let end = match &ev {
                            DialogueEvent::End(e) => Some(e.status),
                            _ => None,
                        };
                        let _ = out_tx.send(Talk::Event(n, ev));
                        if let Some(status) = end {
                            if let Some(r) = reply.take() {
                                r.finish(match status {
                                    TurnStatus::Complete => ControlReply::Done("the reply is complete".into()),
                                    TurnStatus::Interrupted => ControlReply::Interrupted("the reply broke off".into()),
                                });
                            }
                            break;
                        }
                    }
                    None => match in_rx.recv_timeout(Duration::from_millis(4)) {
                        // The user spoke again: drop the turn (cancels the stream; the client
                        // stores the partial reply as interrupted; the replier says so).
                        Ok(UserInput::Cancel) => break,
                        Ok(newer) => {
                            next = Some(newer);
                            break;
                        }
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                    },
                }
            }
            // Talked over or cancelled: the stream stops now (no more tokens asked for), not
            // when the next message comes.
            drop(turn);
            drop(reply);
            let now = session.saving_trouble();
            if now != saving {
                saving.clone_from(&now);
                let _ = out_tx.send(Talk::Saving(now));
            }
            if next.is_none() {
                next = in_rx.recv().ok();
            }
        }
    })?;
    Ok((in_tx, out_rx))
}
