//! The dialogue CLI: `tomoni chat`, `import`, `export`, `memory`. Plain terminal I/O over
//! `tomoni_persona`; no Bevy involved.

use crate::app::Failure;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tomoni_core::config::{self, AppConfig};
use tomoni_persona::client::{DialogueEvent, DialogueService, LlmConfig, Turn, TurnStatus};
use tomoni_persona::memory::{self, Memory};
use tomoni_persona::persona::Persona;
use tomoni_persona::wellbeing::{self, CareCounts, Policy, TurnCare, Wellbeing};
use tomoni_persona::{card, chatgpt, offline};

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

fn configs_dir() -> PathBuf {
    for c in [PathBuf::from("configs"), Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")] {
        if c.is_dir() {
            return c;
        }
    }
    PathBuf::from("configs")
}

/// Loads the app config (file, project copy, or built-in).
pub fn load_config(arg: Option<&Path>) -> Result<AppConfig, Failure> {
    let project = configs_dir().join("tomoni.toml");
    let file = arg.map(Path::to_path_buf).or_else(|| project.is_file().then_some(project));
    config::load_toml(file.as_deref(), config::DEFAULT_APP_TOML, "configs/tomoni.toml")
        .map_err(|e| Failure::Input(e.to_string()))
}

/// Loads a persona by name or path.
pub fn load_persona(name: &str) -> Result<Persona, Failure> {
    let as_path = Path::new(name);
    let file = if as_path.extension().is_some_and(|e| e == "toml") {
        as_path.to_path_buf()
    } else {
        configs_dir().join("personas").join(format!("{name}.toml"))
    };
    if !file.is_file() && name == "default" {
        return Ok(Persona::default_persona());
    }
    Persona::load(&file).map_err(|e| Failure::Input(e.to_string()))
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
        None if answers(OLLAMA_URL, Duration::from_millis(300)) => OLLAMA_URL.to_string(),
        None => return Ok((Brain::Offline, offline::LABEL.to_string())),
    };
    let llm = LlmConfig {
        base_url: url.clone(),
        model: args.model.clone().unwrap_or_else(|| cfg.llm.model.clone()),
        api_key_env: Some(cfg.llm.api_key_env.clone()).filter(|k| !k.is_empty()),
        first_token_timeout: Duration::from_secs_f32(cfg.llm.first_token_timeout.max(1.0)),
        idle_timeout: Duration::from_secs_f32(cfg.llm.idle_timeout.max(1.0)),
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
    memory: Arc<Mutex<Memory>>,
    brain: Brain,
    conversation: String,
    offline_turns: usize,
    /// Crisis care, honesty and break reminders: every message passes here first.
    pub wellbeing: Wellbeing,
    /// What care applied to the latest message (for the app's disclosure label).
    pub last_care: Option<TurnCare>,
}

/// The wellbeing policy from `[wellbeing]`; a bad value is an input error naming the field.
pub fn wellbeing_policy(cfg: &AppConfig) -> Result<Policy, Failure> {
    let w = &cfg.wellbeing;
    let bad = |m: String| Failure::Input(format!("configs/tomoni.toml: {m}"));
    let minutes = w.break_minutes().map_err(bad)?;
    if !w.gap_minutes.is_finite() || w.gap_minutes <= 0.0 || w.gap_minutes > 7.0 * 24.0 * 60.0 {
        return Err(bad(format!("wellbeing.gap_minutes: {} is not a number of minutes (0..10080]", w.gap_minutes)));
    }
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

/// Where the care counts live: beside memory, counts only.
pub fn care_counts_path() -> PathBuf {
    memory::default_path().with_file_name("care-counts.json")
}

impl Session {
    /// Opens memory and picks the brain.
    pub fn open(args: &ChatArgs) -> Result<(Self, String), Failure> {
        let cfg = load_config(args.config.as_deref())?;
        let persona = load_persona(args.persona.as_deref().unwrap_or(&cfg.persona))?;
        let mem = Memory::open(&memory::default_path()).map_err(|e| Failure::Runtime(e.to_string()))?;
        let (brain, label) = brain(&cfg, args)?;
        let policy = wellbeing_policy(&cfg)?;
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Ok((
            Self {
                persona,
                memory: Arc::new(Mutex::new(mem)),
                brain,
                conversation: format!("tomoni:{secs}"),
                offline_turns: 0,
                wellbeing: Wellbeing::new(policy),
                last_care: None,
            },
            label,
        ))
    }

    /// Sends a user message: stores it, assembles the prompt with relevant memories, starts the
    /// turn; the reply is stored (complete or interrupted) when it ends.
    pub fn send(&mut self, text: &str) -> Result<Turn, Failure> {
        // Care is decided here, on the user's side, before and whatever the model answers.
        let care = self.wellbeing.on_message(text, std::time::Instant::now());
        if let Err(e) = CareCounts::record(&care_counts_path(), &care) {
            eprintln!("tomoni: could not update the care counts: {e}");
        }
        let guard = care.guard();
        let stored = guard.clone();
        self.last_care = Some(care.clone());
        let (facts, history) = {
            let mut m = self.memory.lock().map_err(|_| Failure::Runtime("memory lock poisoned".into()))?;
            let facts: Vec<String> = m
                .relevant_facts(text, 300)
                .map_err(|e| Failure::Runtime(e.to_string()))?
                .into_iter()
                .map(|f| f.text)
                .collect();
            let history: Vec<(String, String)> = m
                .recent(&self.conversation, 20)
                .map_err(|e| Failure::Runtime(e.to_string()))?
                .into_iter()
                .map(|t| (t.role, t.text))
                .collect();
            m.add_turn(&self.conversation, "user", text, "complete").map_err(|e| Failure::Runtime(e.to_string()))?;
            (facts, history)
        };
        let memory = self.memory.clone();
        let conv = self.conversation.clone();
        // Memory keeps what the person heard: the reply as the guard rewrote it.
        let log = move |status: TurnStatus, reply: &str| {
            let reply = stored.replay(reply);
            if let Ok(mut m) = memory.lock()
                && let Err(e) = m.add_turn(&conv, "assistant", &reply, status.as_str())
            {
                eprintln!("tomoni: could not store the reply: {e}");
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

/// One event as a JSON line (`--events`).
pub fn event_json(e: &DialogueEvent) -> serde_json::Value {
    use serde_json::json;
    match e {
        DialogueEvent::FirstToken => json!({"type": "first_token"}),
        DialogueEvent::Clause(t) => json!({"type": "clause", "text": t}),
        DialogueEvent::Emotion(em, i) => json!({"type": "emotion", "name": em.vrm_name(), "intensity": i}),
        DialogueEvent::Gesture(g) => json!({"type": "gesture", "name": g}),
        DialogueEvent::Pause(ms) => json!({"type": "pause", "ms": ms}),
        DialogueEvent::Error(err) => {
            json!({"type": "error", "kind": format!("{:?}", err.kind), "message": err.message})
        }
        DialogueEvent::End(end) => json!({"type": "end", "status": end.status.as_str(), "text": end.text}),
    }
}

/// `tomoni chat`.
pub fn chat(args: ChatArgs, once: Option<String>, events: bool) -> Result<(), Failure> {
    let (mut session, label) = Session::open(&args)?;
    eprintln!("tomoni: {} ({label})", session.persona.name);
    eprintln!("tomoni: {}", wellbeing::disclosure(&session.persona.name, wellbeing::Lang::En));
    if let Some(text) = once {
        let mut turn = session.send(&text)?;
        let mut status = TurnStatus::Interrupted;
        let mut reply = Vec::new();
        while let Some(e) = turn.blocking_next() {
            if events {
                println!("{}", event_json(&e));
            }
            match e {
                DialogueEvent::Clause(c) => reply.push(c),
                DialogueEvent::Error(err) => eprintln!("tomoni: {}", err.message),
                DialogueEvent::End(end) => {
                    status = end.status;
                    break;
                }
                _ => {}
            }
        }
        if !events {
            println!("{}", wellbeing::join_clauses(&reply));
        }
        return if status == TurnStatus::Complete {
            Ok(())
        } else {
            Err(Failure::Runtime("the reply was interrupted".into()))
        };
    }
    println!("{}: {}", session.persona.name, session.persona.greeting);
    let mut first = true;
    read_lines(|line| {
        let mut turn = session.send(line)?;
        // After a long gap the conversation is new again: say what the companion is.
        if let Some(c) = &session.last_care
            && c.disclose
            && !std::mem::take(&mut first)
        {
            println!("({})", wellbeing::disclosure(&session.persona.name, c.lang));
        }
        print!("{}> ", session.persona.name);
        while let Some(e) = turn.blocking_next() {
            match e {
                DialogueEvent::Clause(c) => {
                    let sep = if wellbeing::join_clauses(&["a", &c]).starts_with("a ") { " " } else { "" };
                    print!("{c}{sep}");
                    let _ = std::io::stdout().flush();
                }
                DialogueEvent::Error(err) => print!("\n[{}]", err.message),
                DialogueEvent::End(_) => break,
                _ => {}
            }
        }
        println!();
        Ok(())
    })
}

fn progress(label: &str) -> impl FnMut(usize, usize) {
    let label = label.to_string();
    move |done, total| {
        let width = 30;
        let filled = (done * width).checked_div(total).unwrap_or(width);
        eprint!("\r{label} [{}{}] {done}/{total}", "#".repeat(filled), ".".repeat(width - filled));
        if done == total {
            eprintln!();
        }
    }
}

fn slug(name: &str) -> String {
    let s: String = name.to_lowercase().chars().map(|c| if c.is_alphanumeric() { c } else { '-' }).collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "imported".into() } else { s }
}

fn write_persona(p: &Persona, out: Option<PathBuf>) -> Result<PathBuf, Failure> {
    let path = out.unwrap_or_else(|| configs_dir().join("personas").join(format!("{}.toml", slug(&p.name))));
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Failure::Runtime(format!("{}: {e}", d.display())))?;
    }
    if path.exists() {
        return Err(Failure::Input(format!(
            "{} exists; choose another --out (nothing was overwritten)",
            path.display()
        )));
    }
    let header = "# Imported by tomoni: edit freely. Validated on start; mistakes are reported by line.\n";
    std::fs::write(&path, format!("{header}{}", p.to_toml()))
        .map_err(|e| Failure::Runtime(format!("{}: {e}", path.display())))?;
    Ok(path)
}

/// `tomoni import chatgpt FILE`.
pub fn import_chatgpt(file: &Path, out: Option<PathBuf>) -> Result<(), Failure> {
    let export = chatgpt::parse(file, progress("reading")).map_err(|e| Failure::Input(e.to_string()))?;
    let mut mem = Memory::open(&memory::default_path()).map_err(|e| Failure::Runtime(e.to_string()))?;
    let n = chatgpt::store(&export, &mut mem, progress("storing")).map_err(|e| Failure::Runtime(e.to_string()))?;
    let persona = chatgpt::draft_persona(&export);
    let path = write_persona(&persona, out)?;
    println!(
        "imported {n} messages from {} conversations into {}; drafted persona \"{}\" at {} — read it and edit it",
        export.conversations.len(),
        memory::default_path().display(),
        persona.name,
        path.display()
    );
    Ok(())
}

/// `tomoni import card FILE`.
pub fn import_card(file: &Path, out: Option<PathBuf>) -> Result<(), Failure> {
    let persona = card::import(file).map_err(|e| Failure::Input(e.to_string()))?;
    let path = write_persona(&persona, out)?;
    println!("imported \"{}\" to {}", persona.name, path.display());
    Ok(())
}

/// `tomoni export card NAME --out FILE`.
pub fn export_card(name: &str, out: &Path, image: Option<&Path>) -> Result<(), Failure> {
    let persona = load_persona(name)?;
    let img = match image {
        Some(p) => Some(std::fs::read(p).map_err(|e| Failure::Input(format!("{}: {e}", p.display())))?),
        None => None,
    };
    card::export(&persona, out, img.as_deref()).map_err(|e| Failure::Runtime(e.to_string()))?;
    println!("exported \"{}\" as a Character Card V3 to {}", persona.name, out.display());
    Ok(())
}

/// `tomoni memory …`.
pub fn memory_cmd(cmd: MemoryCmd) -> Result<(), Failure> {
    let run = |e: memory::MemoryError| Failure::Runtime(e.to_string());
    let mut m = Memory::open(&memory::default_path()).map_err(run)?;
    match cmd {
        MemoryCmd::List => {
            for f in m.facts().map_err(run)? {
                println!("{:>5}  {}", f.id, f.text);
            }
            println!("({} turns stored in {})", m.turn_count().map_err(run)?, memory::default_path().display());
        }
        MemoryCmd::Search { text } => {
            for f in m.relevant_facts(&text, 10_000).map_err(run)? {
                println!("fact {:>5}  {}", f.id, f.text);
            }
            for t in m.search_turns(&text, 50).map_err(run)? {
                println!("turn {:>5}  {:<9} {}", t.id, t.role, t.text.replace('\n', " "));
            }
        }
        MemoryCmd::Forget { id } => {
            if m.forget(id).map_err(run)? {
                println!("forgot fact {id}");
            } else {
                return Err(Failure::Input(format!("no fact with id {id} (see `tomoni memory list`)")));
            }
        }
        MemoryCmd::Export { out } => {
            let turns: Vec<serde_json::Value> = m
                .all_turns()
                .map_err(run)?
                .into_iter()
                .map(|t| serde_json::json!({"id": t.id, "conversation": t.conversation, "role": t.role, "text": t.text, "status": t.status, "created_at": t.created_at}))
                .collect();
            let facts: Vec<serde_json::Value> =
                m.facts().map_err(run)?.into_iter().map(|f| serde_json::json!({"id": f.id, "text": f.text})).collect();
            let doc = serde_json::json!({"format": "tomoni-memory", "version": 1, "turns": turns, "facts": facts});
            let text = serde_json::to_string_pretty(&doc).map_err(|e| Failure::Runtime(e.to_string()))?;
            match out {
                Some(p) => std::fs::write(&p, text).map_err(|e| Failure::Runtime(format!("{}: {e}", p.display())))?,
                None => println!("{text}"),
            }
        }
    }
    Ok(())
}

/// `tomoni memory` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum MemoryCmd {
    /// List long-term facts.
    List,
    /// Search facts and turns.
    Search {
        /// Words to look for.
        text: String,
    },
    /// Forget a fact by id.
    Forget {
        /// The fact's id (from `list`).
        id: i64,
    },
    /// Export all turns and facts as JSON.
    Export {
        /// File to write (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `tomoni chat --attach`: lines typed here are said to the running companion, which answers
/// aloud; its words are printed as they are spoken.
pub fn attach(once: Option<String>) -> Result<(), Failure> {
    let speak = |line: &str| crate::ipc::send(&format!("say {line}"), |l| println!("{l}")).map_err(Failure::Runtime);
    if let Some(text) = once {
        return speak(&text);
    }
    read_lines(|line| speak(line))
}

/// The terminal prompt: `you> `, one line at a time, until end of input or `/quit`.
fn read_lines(mut on_line: impl FnMut(&str) -> Result<(), Failure>) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    loop {
        print!("you> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).map_err(|e| Failure::Runtime(e.to_string()))? == 0 {
            return Ok(());
        }
        match line.trim() {
            "" => continue,
            "/quit" | "/exit" => return Ok(()),
            l => on_line(l)?,
        }
    }
}

/// `tomoni say`.
pub fn say(text: &str, voice: Option<String>, out: Option<&Path>, visemes: Option<&Path>) -> Result<(), Failure> {
    use tomoni_voice::speaker::VoiceEngine;
    use tomoni_voice::{analysis, playback, viseme::VisemeTrack, wav};
    let cfg = load_config(None)?;
    let mut persona = load_persona(&cfg.persona)?;
    if let Some(v) = voice {
        persona.voice.voice = v;
    }
    // The persona's engine: espeak-ng (phoneme timing) or an OpenAI-compatible service (mouth
    // shapes from the audio itself).
    let engine = crate::companion::voice_engine(&persona.voice);
    let (speech, track) = match &engine {
        VoiceEngine::Espeak(v) => {
            let speech = tomoni_voice::espeak::synthesize(text, v).map_err(|e| Failure::Input(e.to_string()))?;
            let track = VisemeTrack::from_phonemes(&speech.phonemes, speech.duration_ms());
            (speech, track)
        }
        VoiceEngine::OpenAi(o) => {
            let speech = o.synthesize(text).map_err(|e| Failure::Runtime(e.to_string()))?;
            let frames = analysis::track(&speech.samples, speech.sample_rate);
            (speech, VisemeTrack { fps: 60.0, frames })
        }
    };
    if let Some(p) = visemes {
        let mut doc = track.to_json();
        doc["phonemes"] =
            speech.phonemes.iter().map(|p| serde_json::json!({"t_ms": p.start_ms, "ipa": p.ipa})).collect();
        std::fs::write(p, serde_json::to_string_pretty(&doc).unwrap_or_default())
            .map_err(|e| Failure::Runtime(format!("{}: {e}", p.display())))?;
    }
    match out {
        Some(p) => wav::write(p, speech.sample_rate, &speech.samples)
            .map_err(|e| Failure::Runtime(format!("{}: {e}", p.display())))?,
        None if visemes.is_some() => {}
        None => playback::play_blocking(&speech).map_err(|e| Failure::Runtime(e.to_string()))?,
    }
    eprintln!(
        "said {:.2} s with {} ({} phonemes, {} viseme frames)",
        speech.duration_ms() / 1000.0,
        engine.describe(),
        speech.phonemes.len(),
        track.frames.len()
    );
    Ok(())
}
