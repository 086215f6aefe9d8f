//! The terminal commands: `tomoni chat`, `import`, `export`, `memory`, `say`. Terminal I/O
//! only; the work is done by `tomoni_companion` and `tomoni_persona`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use tomoni_companion::Failure;
use tomoni_companion::control::{ControlReply, unix};
use tomoni_companion::session::{ChatArgs, Session};
use tomoni_persona::client::{DialogueEvent, TurnStatus};
use tomoni_persona::memory::{self, Memory};
use tomoni_persona::persona::Persona;
use tomoni_persona::{card, chatgpt};
use tomoni_persona::{private, wellbeing};

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
    let r = args.resolve()?;
    let (mut session, label) = Session::open(&r.config, r.persona, &args)?;
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
    read_lines(|line| reply_to(&mut session, line, &mut first))
}

/// One turn of the terminal chat: the reply streamed to stdout as it is spoken.
fn reply_to(session: &mut Session, line: &str, first: &mut bool) -> Result<(), Failure> {
    let mut turn = session.send(line)?;
    // After a long gap the conversation is new again: say what the companion is.
    if let Some(c) = &session.last_care
        && c.disclose
        && !std::mem::take(first)
    {
        println!("({})", wellbeing::disclosure(&session.persona.name, c.lang));
    }
    print!("{}> ", session.persona.name);
    while let Some(e) = turn.blocking_next() {
        match e {
            DialogueEvent::Clause(c) => {
                print!("{c}{}", if wellbeing::space_after(&c) { " " } else { "" });
                let _ = std::io::stdout().flush();
            }
            DialogueEvent::Error(err) => print!("\n[{}]", err.message),
            DialogueEvent::End(_) => break,
            _ => {}
        }
    }
    println!();
    Ok(())
}

/// `tomoni chat --voice`: speak instead of typing (the microphone, or `--mic-wav` as if it
/// were); what was heard is printed, and the replies as text.
pub fn chat_voice(args: ChatArgs, mic_wav: Option<PathBuf>) -> Result<(), Failure> {
    use tomoni_listen::{audio::AudioSource, audio::WavSource, listener, mic::MicSource, stt, vad};
    let r = args.resolve()?;
    let settings = r.config.listen.clone();
    let (mut session, label) = Session::open(&r.config, r.persona, &args)?;
    eprintln!("tomoni: {} ({label})", session.persona.name);
    eprintln!("tomoni: {}", wellbeing::disclosure(&session.persona.name, wellbeing::Lang::En));
    let input = |e: tomoni_listen::ListenError| Failure::Input(e.to_string());
    let source: Box<dyn AudioSource> = match &mic_wav {
        Some(p) => Box::new(WavSource::open(p, false).map_err(input)?),
        None => Box::new(MicSource::open().map_err(input)?),
    };
    let ears = listener::Ears::new(vad::SileroVad::load(&vad::default_model()).map_err(input)?, (&settings).into());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rec = stt::from_settings(&settings, threads).map_err(input)?;
    let l = listener::Listener::start(source, ears, rec, None, false)
        .map_err(|e| Failure::Runtime(format!("cannot start listening: {e}")))?;
    println!("{}: {}", session.persona.name, session.persona.greeting);
    eprintln!("tomoni: listening; speak (Ctrl-C ends)");
    let mut first = true;
    for ev in l.events.iter() {
        match ev {
            listener::ListenEvent::Started { .. } => eprintln!("tomoni: listening…"),
            listener::ListenEvent::Transcript { text, .. } if !text.is_empty() => {
                println!("you> {text}");
                reply_to(&mut session, &text, &mut first)?;
            }
            listener::ListenEvent::Failed { reason } => return Err(Failure::Runtime(reason)),
            _ => {}
        }
    }
    Ok(())
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
    // Without --out: the data folder's personas (found by name), never the build's source tree.
    let in_state = out.is_none();
    let path =
        out.unwrap_or_else(|| tomoni_companion::setup::user_personas_dir().join(format!("{}.toml", slug(&p.name))));
    if let Some(d) = path.parent() {
        let made = if in_state { private::dir(d) } else { std::fs::create_dir_all(d) };
        made.map_err(|e| Failure::Runtime(format!("{}: {e}", d.display())))?;
    }
    let header = "# Imported by tomoni: edit freely. Validated on start; mistakes are reported by line.\n";
    private::write_new(&path, format!("{header}{}", p.to_toml())).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            Failure::Input(format!("{} exists; choose another --out (nothing was overwritten)", path.display()))
        }
        _ => Failure::Runtime(format!("{}: {e}", path.display())),
    })?;
    Ok(path)
}

/// `tomoni import chatgpt FILE`: stored as it is read (see `chatgpt::import`).
pub fn import_chatgpt(file: &Path, out: Option<PathBuf>) -> Result<(), Failure> {
    let mut mem = Memory::open(&memory::default_path()).map_err(|e| Failure::Runtime(e.to_string()))?;
    let done = chatgpt::import(file, &mut mem, progress("importing")).map_err(|e| match e {
        chatgpt::ImportError::Memory(m) => Failure::Runtime(m.to_string()),
        format => Failure::Input(format.to_string()),
    })?;
    let persona = done.draft.persona();
    let path = write_persona(&persona, out)?;
    println!(
        "imported {} messages from {} conversations into {}; drafted persona \"{}\" at {} — read it and edit it",
        done.stored,
        done.conversations,
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
    let kept = card::kept_unused(&persona);
    if !kept.is_empty() {
        println!(
            "kept in the persona file but not used by tomoni yet: {} (exporting gives them back)",
            kept.join(", ")
        );
    }
    Ok(())
}

/// `tomoni export card NAME --out FILE`.
pub fn export_card(name: &str, out: &Path, image: Option<&Path>) -> Result<(), Failure> {
    let persona = tomoni_companion::setup::resolve(None, Some(name), None)?.persona;
    let img = match image {
        Some(p) => Some(std::fs::read(p).map_err(|e| Failure::Input(format!("{}: {e}", p.display())))?),
        None => None,
    };
    card::export(&persona, out, img.as_deref()).map_err(|e| match image {
        // A picture that is not a usable PNG is named by its own file.
        Some(p) if e.path == "the --image picture" => Failure::Input(format!("{}: {}", p.display(), e.what)),
        _ if out.exists() => Failure::Input(e.to_string()),
        _ => Failure::Runtime(e.to_string()),
    })?;
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
            // Written as it is read, a turn a line: memory stays flat however long the history
            // (built as one document, a 200 MB import took 1.48 GB to export).
            let (sink, name): (Box<dyn Write>, String) = match &out {
                Some(p) => (
                    Box::new(private::create(p).map_err(|e| Failure::Runtime(format!("{}: {e}", p.display())))?),
                    p.display().to_string(),
                ),
                None => (Box::new(std::io::stdout().lock()), "stdout".into()),
            };
            let mut w = std::io::BufWriter::new(sink);
            let io = |e: std::io::Error| Failure::Runtime(format!("{name}: {e}"));
            write!(w, "{{\"format\": \"tomoni-memory\", \"version\": 1, \"turns\": [").map_err(io)?;
            let mut first = true;
            m.for_each_turn(|t| {
                let turn = serde_json::json!({"id": t.id, "conversation": t.conversation, "role": t.role, "text": t.text, "status": t.status, "created_at": t.created_at});
                write!(w, "{}\n  {turn}", if first { "" } else { "," })?;
                first = false;
                Ok(())
            })
            .map_err(run)?
            .map_err(io)?;
            let facts: Vec<serde_json::Value> =
                m.facts().map_err(run)?.into_iter().map(|f| serde_json::json!({"id": f.id, "text": f.text})).collect();
            writeln!(w, "\n], \"facts\": {}}}", serde_json::Value::Array(facts)).map_err(io)?;
            w.flush().map_err(io)?;
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
    let speak = |line: &str| {
        let last = unix::send(&format!("say {line}"), |r| match r {
            ControlReply::Clause(c) => println!("{c}"),
            ControlReply::Interrupted(why) => println!("[{why}]"),
            _ => {}
        })
        .map_err(Failure::Runtime)?;
        match last {
            ControlReply::Error(e) => Err(Failure::Runtime(e)),
            _ => Ok(()),
        }
    };
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
pub fn say(
    args: &ChatArgs,
    text: &str,
    engine: Option<String>,
    voice: Option<String>,
    out: Option<&Path>,
    visemes: Option<&Path>,
) -> Result<(), Failure> {
    use tomoni_voice::speaker::VoiceEngine;
    use tomoni_voice::{playback, wav};
    let mut persona = args.resolve()?.persona;
    let asked = engine.is_some();
    if let Some(e) = engine {
        if !matches!(e.as_str(), "piper" | "espeak" | "openai") {
            return Err(Failure::Input(format!("--engine {e:?}: expected piper, espeak or openai")));
        }
        if e != persona.voice.engine {
            // Another engine's voice name means nothing to this one: start from its default.
            persona.voice.voice = match e.as_str() {
                "piper" => tomoni_voice::piper::DEFAULT_VOICE.into(),
                "espeak" => "en-us".into(),
                _ => persona.voice.voice.clone(),
            };
            persona.voice.engine = e;
        }
    }
    if let Some(v) = voice {
        persona.voice.voice = v;
    }
    // Asked for an engine by name, say why it cannot speak; else fall back as the app does.
    let engine = match tomoni_companion::speech::voice_engine_strict(&persona.voice) {
        Ok(e) => e,
        Err((why, _)) if asked => return Err(Failure::Input(why)),
        Err((why, fallback)) => {
            eprintln!("{why}; espeak-ng speaks instead");
            VoiceEngine::Espeak(fallback)
        }
    };
    let (speech, track) = engine.synthesize_once(text).map_err(|e| match &engine {
        VoiceEngine::OpenAi(_) => Failure::Runtime(e.to_string()),
        _ => Failure::Input(e.to_string()),
    })?;
    let timing = match &engine {
        VoiceEngine::Espeak(_) => "espeak-ng phoneme events",
        VoiceEngine::Piper { .. } => "the voice model's phoneme durations",
        VoiceEngine::OpenAi(_) => "audio analysis",
    };
    if let Some(p) = visemes {
        let mut doc = track.to_json();
        doc["engine"] = engine.describe().into();
        doc["timing"] = timing.into();
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

/// `tomoni listen FILE.wav`: the transcript on stdout (one line per utterance), or every event
/// as a JSON line with `--events`.
pub fn listen(args: &ChatArgs, file: &Path, engine: Option<String>, events: bool) -> Result<(), Failure> {
    use tomoni_listen::{audio::WavSource, listener, stt, vad};
    let mut settings = args.resolve()?.config.listen;
    if let Some(e) = engine {
        if !matches!(e.as_str(), "local" | "openai") {
            return Err(Failure::Input(format!("--engine {e:?}: expected local or openai")));
        }
        if e == "openai" && settings.endpoint.is_empty() {
            return Err(Failure::Input("--engine openai: set listen.endpoint in the config".into()));
        }
        settings.engine = e;
    }
    let mut source = WavSource::open(file, false).map_err(|e| Failure::Input(e.to_string()))?;
    let vad = vad::SileroVad::load(&vad::default_model()).map_err(|e| Failure::Input(e.to_string()))?;
    let mut ears = listener::Ears::new(vad, (&settings).into());
    ears.speculate = true; // transcribed in pieces at pauses, as the live companion hears
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut rec = stt::from_settings(&settings, threads).map_err(|e| Failure::Input(e.to_string()))?;
    let mut failed = None;
    listener::listen_all(&mut source, &mut ears, rec.as_mut(), &mut |e| {
        if events {
            println!("{}", serde_json::to_string(&e).unwrap_or_default());
        } else if let listener::ListenEvent::Transcript { text, .. } = &e
            && !text.is_empty()
        {
            println!("{text}");
        }
        if let listener::ListenEvent::Failed { reason } = e {
            failed = Some(reason);
        }
    })
    .map_err(|e| Failure::Input(e.to_string()))?;
    match failed {
        Some(reason) => Err(Failure::Runtime(reason)),
        None => Ok(()),
    }
}

/// `tomoni photo`: one photo in process; a folder one photo per child process (each render
/// is an app of its own), with a progress line per photo.
pub fn photo(
    scene: tomoni_companion::SceneArgs,
    background: PathBuf,
    out: PathBuf,
    place: tomoni_photo::place::Side,
    light: tomoni_photo::light::LightChoice,
    expression: Option<String>,
    gesture: Option<String>,
    full_resolution: bool,
    json: bool,
) -> Result<(), Failure> {
    use tomoni_companion::photo::{PhotoRequest, photos_in};
    let gesture = match gesture.as_deref() {
        None => None,
        Some(g) => Some(tomoni_core::behaviour::Gesture::parse(g).ok_or_else(|| {
            let known: Vec<&str> = tomoni_core::behaviour::Gesture::ALL.iter().map(|g| g.name()).collect();
            Failure::Input(format!("--gesture {g:?}: unknown (built in: {})", known.join(" ")))
        })?),
    };
    if background.is_dir() {
        let photos = photos_in(&background)?;
        if photos.is_empty() {
            return Err(Failure::Input(format!("{}: no JPEG or PNG photos in it", background.display())));
        }
        std::fs::create_dir_all(&out).map_err(|e| Failure::Runtime(format!("{}: {e}", out.display())))?;
        let me = std::env::current_exe().map_err(|e| Failure::Runtime(e.to_string()))?;
        let mut failed = 0;
        for (i, p) in photos.iter().enumerate() {
            let name = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let target = out.join(format!("{name}.jpg"));
            let bar: String = (0..20).map(|k| if k * photos.len() < 20 * (i + 1) { '#' } else { '.' }).collect();
            eprint!("[{bar}] {}/{} {} … ", i + 1, photos.len(), p.display());
            let mut c = tomoni_companion::setup::photo_command(&me, &scene, p, &target);
            c.arg("--place").arg(place_arg(place)).arg("--light").arg(light.to_string());
            if let Some(e) = &expression {
                c.args(["--expression", e]);
            }
            if let Some(g) = gesture {
                c.args(["--gesture", g.name()]);
            }
            if full_resolution {
                c.arg("--full-resolution");
            }
            let o = c.output().map_err(|e| Failure::Runtime(format!("{}: {e}", me.display())))?;
            if o.status.success() {
                eprintln!("{}", target.display());
            } else {
                failed += 1;
                let why = tomoni_companion::setup::last_line(&o.stderr);
                eprintln!("failed: {}", if why.is_empty() { "?" } else { &why });
            }
        }
        return if failed == 0 {
            Ok(())
        } else {
            Err(Failure::Input(format!("{failed} of {} photos failed (see above)", photos.len())))
        };
    }
    let setup = tomoni_companion::app::prepare(&scene)?;
    let req = PhotoRequest { background, out, place, light, expression, gesture, full_resolution };
    let report = tomoni_companion::photo::photo(setup, &req)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        let [find, render, write] = report.seconds;
        println!(
            "wrote {} ({} people found; lens {:.0} mm; companion {:.0} px tall, feet at {:.0}, {:.0}; {find:.1} s finding, {render:.1} s rendering, {write:.1} s compositing)",
            report.out.display(),
            report.people,
            report.camera.focal_35mm,
            report.placement.height_px,
            report.placement.feet_px[0],
            report.placement.feet_px[1],
        );
    }
    Ok(())
}

fn place_arg(p: tomoni_photo::place::Side) -> String {
    use tomoni_photo::place::Side;
    match p {
        Side::Auto => "auto".into(),
        Side::Left => "left".into(),
        Side::Right => "right".into(),
        Side::At(x, z) => format!("{x},{z}"),
    }
}

/// `tomoni avatar info FILE`: what the avatar declares, its licence first (a person must see
/// the terms of the avatar they bring).
pub fn avatar_info(file: &Path) -> Result<(), Failure> {
    use tomoni_avatar::vrm0;
    let checked = tomoni_avatar::vrm_check::load(file).map_err(|e| Failure::Input(e.to_string()))?;
    let bytes = match &checked.prepared {
        Some(b) => b.as_ref().clone(),
        None => std::fs::read(file).map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?,
    };
    let doc = vrm0::parse_glb(&bytes).map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?.json;
    let vrm = &doc["extensions"]["VRMC_vrm"];
    let meta = &vrm["meta"];
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    let yes = |v: &serde_json::Value| if v.as_bool() == Some(true) { "yes" } else { "no" };
    let info = &checked.info;
    println!("{}", file.display());
    let version =
        if info.migrated_from_vrm0 { "0.x (shown migrated to 1.0)".to_string() } else { info.spec_version.clone() };
    println!("  VRM {version}: \"{}\" version {}", info.name, text(&meta["version"]));
    let authors: Vec<String> = meta["authors"].as_array().into_iter().flatten().map(text).collect();
    println!("  authors: {}", authors.join(", "));
    println!("  licence: {}", text(&meta["licenseUrl"]));
    if let Some(o) = meta["otherLicenseUrl"].as_str() {
        println!("  other licence: {o}");
    }
    if let Some(c) = meta["copyrightInformation"].as_str() {
        println!("  copyright: {c}");
    }
    println!(
        "  who may use it: {}; commercial use: {}; redistribution: {}; modification: {}; credit: {}",
        text(&meta["avatarPermission"]),
        text(&meta["commercialUsage"]),
        yes(&meta["allowRedistribution"]),
        text(&meta["modification"]),
        text(&meta["creditNotation"])
    );
    println!(
        "  violent: {}; sexual: {}; political or religious: {}; antisocial or hate: {}",
        yes(&meta["allowExcessivelyViolentUsage"]),
        yes(&meta["allowExcessivelySexualUsage"]),
        yes(&meta["allowPoliticalOrReligiousUsage"]),
        yes(&meta["allowAntisocialOrHateUsage"])
    );
    match &info.credit {
        Some(c) => println!("  credit shown by the companion and in photos: avatar {c}"),
        None => println!("  credit: none asked for"),
    }
    println!("  humanoid bones: {}", info.bones.len());
    println!("  expressions: {}", info.expressions.join(" "));
    let springs = doc.pointer("/extensions/VRMC_springBone/springs").and_then(|s| s.as_array()).map_or(0, Vec::len);
    let joints: usize = doc
        .pointer("/extensions/VRMC_springBone/springs")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .map(|s| s["joints"].as_array().map_or(0, Vec::len))
        .sum();
    println!("  springs: {springs} ({joints} joints)");
    if info.filled_defaults > 0 {
        println!("  {} optional fields left out, shown with the VRM 1.0 defaults", info.filled_defaults);
    }
    Ok(())
}

/// `tomoni avatar convert IN OUT`: the in-memory migration, written to a file.
pub fn avatar_convert(input: &Path, out: &Path) -> Result<(), Failure> {
    let checked = tomoni_avatar::vrm_check::load(input).map_err(|e| Failure::Input(e.to_string()))?;
    if !checked.info.migrated_from_vrm0 {
        return Err(Failure::Input(format!(
            "{}: already VRM {}; nothing to convert",
            input.display(),
            checked.info.spec_version
        )));
    }
    let bytes = checked.prepared.ok_or_else(|| Failure::Runtime("the migration produced no file".into()))?;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(out).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            Failure::Input(format!("{} exists; choose another file (nothing was overwritten)", out.display()))
        }
        _ => Failure::Runtime(format!("{}: {e}", out.display())),
    })?;
    f.write_all(&bytes).map_err(|e| Failure::Runtime(format!("{}: {e}", out.display())))?;
    println!("{}: VRM 1.0 \"{}\" written to {}", input.display(), checked.info.name, out.display());
    Ok(())
}
