//! A conversation: the persona, its memory (SQLite), the brain (an LLM service or the offline
//! demo) and the wellbeing guard. Plain Rust, no Bevy: `tomoni chat` uses it directly, the
//! live companion from its talk thread (`crate::talk`). Every user message, typed, attached or
//! spoken, passes [`Session::send`], so care and honesty apply everywhere.

use crate::error::Failure;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tomoni_core::config::AppConfig;
use tomoni_persona::client::{DialogueEvent, DialogueService, LlmConfig, Turn, TurnStatus};
use tomoni_persona::memory::{self, Memory};
use tomoni_persona::offline;
use tomoni_persona::persona::Persona;
use tomoni_persona::wellbeing::{self, CareCounts, Policy, TurnCare, Wellbeing};

/// Ollama's default local endpoint, tried when nothing is configured.
pub const OLLAMA_URL: &str = "http://127.0.0.1:11434/v1";

/// Where the replies come from.
pub enum Brain {
    /// A real LLM service.
    Llm(Box<DialogueService>),
    /// Scripted lines, labelled as such.
    Offline,
}

/// Options shared by chat commands.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ChatArgs {
    /// OpenAI-compatible base URL (up to /v1); overrides the config.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Model name; overrides the config.
    #[arg(long)]
    pub model: Option<String>,
    /// Persona name (configs/personas/NAME.toml) or a persona file.
    #[arg(long)]
    pub persona: Option<String>,
    /// App settings file.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl ChatArgs {
    /// Config and persona as these options name them (see [`crate::setup::resolve`]).
    pub fn resolve(&self) -> Result<crate::setup::Resolved, Failure> {
        crate::setup::resolve(self.config.as_deref(), self.persona.as_deref(), None)
    }
}

/// Where Ollama is looked for when nothing is configured: its default port, or
/// `$TOMONI_OLLAMA_URL` (tests point it at a closed port so a real Ollama cannot change them).
pub fn ollama_url() -> String {
    std::env::var("TOMONI_OLLAMA_URL").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| OLLAMA_URL.to_string())
}

/// Whether something answers HTTP at `base_url`'s host and port within `wait`.
pub fn answers(base_url: &str, wait: Duration) -> bool {
    let hostport = base_url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or("");
    use std::net::ToSocketAddrs;
    hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|addr| std::net::TcpStream::connect_timeout(&addr, wait).is_ok())
}

/// Picks the LLM: explicit endpoint, configured endpoint, Ollama if it answers, else offline.
pub fn brain(cfg: &AppConfig, args: &ChatArgs) -> Result<(Brain, String), Failure> {
    let configured = args.endpoint.clone().or_else(|| Some(cfg.llm.base_url.clone()).filter(|u| !u.is_empty()));
    let url = match configured {
        Some(u) => u,
        None => {
            let ollama = ollama_url();
            if !answers(&ollama, Duration::from_millis(300)) {
                return Ok((Brain::Offline, offline::LABEL.to_string()));
            }
            ollama
        }
    };
    let llm = LlmConfig {
        base_url: url.clone(),
        model: args.model.clone().unwrap_or_else(|| cfg.llm.model.clone()),
        api_key_env: Some(cfg.llm.api_key_env.clone()).filter(|k| !k.is_empty()),
        // Checked finite and positive by `load_app_config`: no panic, no silent 1 s.
        first_token_timeout: Duration::from_secs_f32(cfg.llm.first_token_timeout),
        idle_timeout: Duration::from_secs_f32(cfg.llm.idle_timeout),
        turn_timeout: Duration::from_secs_f32(cfg.llm.turn_timeout),
        ..LlmConfig::default()
    };
    let label = format!("{} at {}", llm.model, url);
    let service =
        DialogueService::start(llm).map_err(|e| Failure::Runtime(format!("cannot start the dialogue thread: {e}")))?;
    Ok((Brain::Llm(Box::new(service)), label))
}

/// A conversation: persona, memory, brain, and the turns so far.
pub struct Session {
    /// Who is talking.
    pub persona: Persona,
    memory: Arc<Mutex<Kept>>,
    brain: Brain,
    conversation: String,
    offline_turns: usize,
    /// `care-counts.json` beside the memory store.
    counts: PathBuf,
    /// Crisis care, honesty and break reminders: every message passes here first.
    pub wellbeing: Wellbeing,
    /// What care applied to the latest message (for the app's disclosure label).
    pub last_care: Option<TurnCare>,
}

/// The memory store, and the turns it could not take yet. A full disk (or a store another
/// program holds locked) must not lose what was said: such turns wait here, in order and with
/// their own time, and are written before the next one once the store takes writes again.
/// The person is told once when saving stops and once when it works again.
struct Kept {
    memory: Memory,
    unsaved: VecDeque<Unsaved>,
    /// Why saving is failing, in the person's words (told once, until it works again).
    failing: Option<String>,
}

/// A turn waiting to be stored.
struct Unsaved {
    conversation: String,
    role: String,
    text: String,
    status: String,
    at: f64,
}

impl Unsaved {
    fn now(conversation: &str, role: &str, text: &str, status: &str) -> Self {
        let at = memory::now();
        Self { conversation: conversation.into(), role: role.into(), text: text.into(), status: status.into(), at }
    }
}

/// Turns held while the store refuses writes: days of talk; past it the oldest are given up
/// (and said so), so a store that never recovers cannot exhaust memory.
const MAX_UNSAVED: usize = 10_000;

impl Kept {
    /// Queues `turn` behind any unsaved ones and writes what the store takes.
    fn store(&mut self, turn: Unsaved) {
        self.unsaved.push_back(turn);
        if self.unsaved.len() > MAX_UNSAVED {
            self.unsaved.pop_front();
            eprintln!("tomoni: more than {MAX_UNSAVED} turns could not be saved: the oldest of them is lost");
        }
        while let Some(t) = self.unsaved.front() {
            match self.memory.add_turn_at(&t.conversation, &t.role, &t.text, &t.status, t.at, "tomoni") {
                Ok(_) => drop(self.unsaved.pop_front()),
                Err(e) => {
                    if self.failing.is_none() {
                        eprintln!(
                            "tomoni: cannot save the conversation now ({e}); what is said is kept and saved as soon as \
                             the store takes writes again"
                        );
                        let why = if e.disk_full() { "the disk is full" } else { "the memory store cannot be written" };
                        self.failing = Some(why.into());
                    }
                    return;
                }
            }
        }
        if self.failing.take().is_some() {
            eprintln!("tomoni: saving works again: every turn is stored");
        }
    }
}

/// The wellbeing policy from `[wellbeing]`; a bad value is an input error naming the field
/// (`config::load_app_config` has already refused it for any config read from a file).
pub fn wellbeing_policy(cfg: &AppConfig) -> Result<Policy, Failure> {
    let w = &cfg.wellbeing;
    let minutes = w.break_minutes().map_err(Failure::Input)?;
    let resources = if w.resources.is_empty() {
        wellbeing::default_resources()
    } else {
        w.resources
            .iter()
            .map(|r| wellbeing::Resource { locale: r.locale.clone(), name: r.name.clone(), contact: r.contact.clone() })
            .collect()
    };
    Ok(Policy {
        locale: Some(w.locale.trim().to_string()).filter(|l| !l.is_empty()),
        resources,
        break_every: minutes.map(|m| Duration::from_secs_f64(f64::from(m) * 60.0)),
        gap: Duration::from_secs_f64(f64::from(w.gap_minutes) * 60.0),
    })
}

impl Session {
    /// Opens memory and picks the brain for a resolved config and persona; `args` may
    /// override the endpoint and model.
    pub fn open(cfg: &AppConfig, persona: Persona, args: &ChatArgs) -> Result<(Self, String), Failure> {
        let mem = Memory::open(&memory::default_path()).map_err(|e| Failure::Runtime(e.to_string()))?;
        let (brain, label) = brain(cfg, args)?;
        let policy = wellbeing_policy(cfg)?;
        Ok((Self::new(persona, mem, brain, policy), label))
    }

    /// A session over an open memory store and a brain (tests and embedders choose both).
    pub fn new(persona: Persona, memory: Memory, brain: Brain, policy: Policy) -> Self {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Self {
            persona,
            counts: memory.path().with_file_name("care-counts.json"),
            memory: Arc::new(Mutex::new(Kept { memory, unsaved: VecDeque::new(), failing: None })),
            brain,
            conversation: format!("tomoni:{secs}"),
            offline_turns: 0,
            wellbeing: Wellbeing::new(policy),
            last_care: None,
        }
    }

    /// Why what is said cannot be saved now (a full disk), if it cannot: the live app shows
    /// it on the companion's label and the companion says it, as a person in glasses never
    /// sees the terminal.
    pub fn saving_trouble(&self) -> Option<String> {
        self.memory.lock().ok().and_then(|m| m.failing.clone())
    }

    /// Where this session's replies come from.
    pub fn brain(&self) -> &Brain {
        &self.brain
    }

    /// Sends a user message: stores it, assembles the prompt with relevant memories, starts the
    /// turn; the reply is stored (complete or interrupted) when it ends.
    pub fn send(&mut self, text: &str) -> Result<Turn, Failure> {
        // Care is decided here, on the user's side, before and whatever the model answers.
        let care = self.wellbeing.on_message(text, std::time::Instant::now());
        if let Err(e) = CareCounts::record(&self.counts, &care) {
            eprintln!("tomoni: could not update the care counts: {e}");
        }
        let guard = care.guard();
        let stored = guard.clone();
        self.last_care = Some(care.clone());
        let (facts, history) = {
            let mut m = self.memory.lock().map_err(|_| Failure::Runtime("memory lock poisoned".into()))?;
            let facts: Vec<String> = m
                .memory
                .relevant_facts(text, 300)
                .map_err(|e| Failure::Runtime(e.to_string()))?
                .into_iter()
                .map(|f| f.text)
                .collect();
            let mut history: Vec<(String, String)> = m
                .memory
                .recent(&self.conversation, 20)
                .map_err(|e| Failure::Runtime(e.to_string()))?
                .into_iter()
                .map(|t| (t.role, t.text))
                .collect();
            // Turns not stored yet (a full disk) are still part of the conversation.
            history.extend(
                m.unsaved
                    .iter()
                    .filter(|u| u.conversation == self.conversation)
                    .map(|u| (u.role.clone(), u.text.clone())),
            );
            let drop = history.len().saturating_sub(20);
            history.drain(..drop);
            m.store(Unsaved::now(&self.conversation, "user", text, "complete"));
            (facts, history)
        };
        let memory = self.memory.clone();
        let conv = self.conversation.clone();
        // Memory keeps what the person heard: the reply as the guard rewrote it.
        let log = move |status: TurnStatus, reply: &str| {
            let reply = stored.replay(reply);
            if let Ok(mut m) = memory.lock() {
                m.store(Unsaved::now(&conv, "assistant", &reply, status.as_str()));
            }
        };
        let turn = match &self.brain {
            Brain::Llm(s) => {
                let mut messages = self.persona.messages(&facts, &history, text);
                if let (Some(note), Some(system)) = (care.system_note(), messages.first_mut()) {
                    system.content.push_str(&format!("\n{note}\n"));
                }
                s.turn_with(messages, move |end| log(end.status, &end.text))
            }
            Brain::Offline => {
                let events = offline::reply(self.offline_turns);
                self.offline_turns += 1;
                if let Some(DialogueEvent::End(end)) = events.last() {
                    log(end.status, &end.text);
                }
                Turn::scripted(events)
            }
        };
        Ok(turn.guarded(guard))
    }
}
