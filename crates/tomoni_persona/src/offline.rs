//! The offline demo persona: when no LLM endpoint is configured and none answers on Ollama's
//! default port, the companion still greets and answers — from scripted lines, and it says so
//! plainly. It never pretends to be a language model.

use crate::client::{DialogueEvent, scripted_events};

/// Label shown wherever the offline demo answers.
pub const LABEL: &str = "offline demo (scripted lines, no language model)";

const LINES: [&str; 5] = [
    "[happy] Hello! I'm running as an offline demo, so these are scripted lines, not a language model. \
     [gesture:wave] Connect me to an LLM and I can really talk with you.",
    "[relaxed] I'm still a demo without a model behind me. To give me a mind, start Ollama, \
     or set an OpenAI-compatible endpoint in configs/tomoni.toml.",
    "[gesture:nod] I hear you. In this demo I can show my face and voice, but I can't understand your words yet.",
    "[surprised 0.5] Did you know your persona file is plain text you own? You can take me to any provider.",
    "[happy 0.6] Thank you for spending time with me. [pause 300] Even as a demo, I'm glad you're here.",
];

/// The scripted reply for the n-th user message, as the events a real turn would produce.
pub fn reply(n: usize) -> Vec<DialogueEvent> {
    scripted_events(LINES[n % LINES.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_it_is_a_demo_and_ends_like_a_real_turn() {
        let ev = reply(0);
        let spoken: String =
            ev.iter().filter_map(|e| if let DialogueEvent::Clause(c) = e { Some(c.as_str()) } else { None }).collect();
        assert!(spoken.contains("offline demo"), "{spoken}");
        assert!(spoken.contains("not a language model"));
        assert!(matches!(ev.last(), Some(DialogueEvent::End(e)) if e.status == crate::client::TurnStatus::Complete));
        assert!(ev.contains(&DialogueEvent::Gesture("wave".into())));
        assert!(!spoken.contains('['), "tags never reach speech");
    }
}
