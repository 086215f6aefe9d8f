//! The companion's mind, as a plain library (no Bevy): who it is ([`persona`]), what it
//! remembers ([`memory`]), and how it talks — streaming from any OpenAI-compatible service
//! ([`client`]) on its own tokio thread, with expression tags ([`tags`]) and speakable clauses
//! ([`chunker`]) parsed as the words arrive. Importers bring a persona and its history from
//! Character Cards ([`card`]) and ChatGPT exports ([`chatgpt`]).
//!
//! ```no_run
//! use tomoni_persona::{client::{DialogueService, DialogueEvent, LlmConfig}, persona::Persona};
//! let service = DialogueService::start(LlmConfig::default()).unwrap();
//! let persona = Persona::default_persona();
//! let mut turn = service.turn(persona.messages(&[], &[], "Hello!"));
//! // In a frame loop: `turn.try_next()` never blocks. Here, a CLI can wait:
//! while let Some(ev) = turn.blocking_next() {
//!     if let DialogueEvent::Clause(text) = ev { println!("{text}"); }
//! }
//! ```
//!
//! tokio and reqwest live only here; the app sees closed event enums, never wire formats.

pub mod card;
pub mod chatgpt;
pub mod chunker;
pub mod client;
pub mod memory;
pub mod offline;
pub mod openai;
pub mod persona;
pub mod private;
pub mod sse;
pub mod tags;
pub mod wellbeing;
