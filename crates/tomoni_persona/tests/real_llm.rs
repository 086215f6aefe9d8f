//! Against a real LLM server (llama.cpp's `llama-server` with the tiny Gemma 3 270M GGUF from
//! PyPI). Opt-in: `cargo xtask test --real-llm` builds and caches the server, starts it, and
//! runs these with `TOMONI_REAL_LLM_URL` set.

use std::time::Duration;
use tomoni_persona::client::{DialogueEvent, DialogueService, LlmConfig, TurnStatus};
use tomoni_persona::persona::Persona;

fn url() -> String {
    std::env::var("TOMONI_REAL_LLM_URL")
        .expect("run through `cargo xtask test --real-llm`, which sets TOMONI_REAL_LLM_URL")
}

#[test]
#[ignore = "needs a real llama.cpp server: cargo xtask test --real-llm"]
fn a_real_server_streams_a_reply_as_clauses() {
    let service = DialogueService::start(LlmConfig {
        base_url: url(),
        model: "gemma-3-270m".into(),
        first_token_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(30),
        temperature: Some(0.2),
        max_tokens: Some(96),
        ..LlmConfig::default()
    })
    .unwrap();
    let persona = Persona::default_persona();
    let mut turn = service.turn(persona.messages(&[], &[], "Say hello and tell me about the sea."));
    let (mut first, mut clauses, mut end) = (false, Vec::new(), None);
    while let Some(e) = turn.blocking_next() {
        match e {
            DialogueEvent::FirstToken => first = true,
            DialogueEvent::Clause(c) => clauses.push(c),
            DialogueEvent::Error(e) => panic!("real server error: {e:?}"),
            DialogueEvent::End(e) => {
                end = Some(e);
                break;
            }
            _ => {}
        }
    }
    let end = end.expect("the turn ends");
    eprintln!("{} clauses: {:?}", clauses.len(), clauses);
    assert!(first, "no first-token event");
    assert_eq!(end.status, TurnStatus::Complete);
    assert!(!clauses.is_empty() && clauses.iter().all(|c| !c.contains('[')), "{clauses:?}");
    // A provider that reports usage must count the tokens it streamed.
    assert!(end.completion_tokens.is_none_or(|n| n > 0), "{:?}", end.completion_tokens);
    assert_eq!(end.text, clauses.join(" "), "the logged reply is what was spoken");
}

#[test]
#[ignore = "needs a real llama.cpp server: cargo xtask test --real-llm"]
fn dropping_a_turn_against_a_real_server_cancels_it() {
    let service =
        DialogueService::start(LlmConfig { base_url: url(), model: "gemma-3-270m".into(), ..LlmConfig::default() })
            .unwrap();
    let persona = Persona::default_persona();
    let (ended_tx, ended_rx) = std::sync::mpsc::channel();
    let mut turn = service.turn_with(persona.messages(&[], &[], "Count slowly from one to two hundred."), move |end| {
        let _ = ended_tx.send((end.status, end.text.clone()));
    });
    // Wait for the reply to start, then barge in.
    while let Some(e) = turn.blocking_next() {
        if e == DialogueEvent::FirstToken {
            break;
        }
        assert!(!matches!(e, DialogueEvent::End(_) | DialogueEvent::Error(_)), "{e:?}");
    }
    let dropped = std::time::Instant::now();
    drop(turn);
    // Dropping cancels: the stream stops long before two hundred numbers, logged as interrupted.
    let (status, text) = ended_rx.recv_timeout(Duration::from_secs(10)).expect("the cancelled turn ends");
    assert_eq!(status, TurnStatus::Interrupted, "{text}");
    assert!(dropped.elapsed() < Duration::from_secs(5), "cancelling took {:?}", dropped.elapsed());
    assert!(!text.contains("two hundred") && !text.contains("200"), "the stream ran on: {text}");
    // The service still works for the next turn.
    let mut again = service.turn(persona.messages(&[], &[], "Hi."));
    let mut ended = false;
    while let Some(e) = again.blocking_next() {
        if let DialogueEvent::End(end) = e {
            assert_eq!(end.status, TurnStatus::Complete);
            ended = true;
            break;
        }
    }
    assert!(ended);
}
