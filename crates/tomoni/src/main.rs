//! `tomoni`: a life-sized AI companion beside you — in AR/VR glasses through OpenXR, in a
//! desktop window, or headless into pictures.
//!
//! This binary only parses the command line and calls `tomoni_companion` (the app in each
//! mode) and `cli` (terminal I/O). Bad input exits 2 with a message naming the file and the
//! place; a failure while running exits 1.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
mod cli;

use tomoni_companion::control::{ControlReply, unix};
use tomoni_companion::session::ChatArgs;
use tomoni_companion::{Failure, SceneArgs, app, demo, doctor, render};

#[derive(Parser, Debug)]
#[command(name = "tomoni", version, about = "A life-sized AI companion beside you")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the companion: XR when an OpenXR runtime is present, else a desktop window.
    Run {
        #[command(flatten)]
        scene: SceneArgs,
        /// Never start XR, even when a runtime is present.
        #[arg(long)]
        no_xr: bool,
        /// Exit after this many frames (for scripted checks).
        #[arg(long)]
        max_frames: Option<u32>,
        /// XR with --max-frames: read the left eye's swapchain image back and write it as a PNG
        /// (what the user's left eye saw).
        #[arg(long)]
        eye_png: Option<PathBuf>,
        /// Desktop window size in pixels, `WIDTHxHEIGHT` (default: Bevy's 1280x720).
        #[arg(long, value_parser = parse_size)]
        window_size: Option<(u32, u32)>,
        /// Do not listen on the microphone (type to talk).
        #[arg(long)]
        no_mic: bool,
        /// Hear this WAV as if spoken into the microphone now (at its own pace).
        #[arg(long, conflicts_with = "no_mic")]
        mic_wav: Option<PathBuf>,
    },
    /// Stand the companion into a real photo, beside its person (or a folder of photos).
    Photo {
        #[command(flatten)]
        scene: SceneArgs,
        /// The photo (JPEG or PNG), or a folder of them.
        #[arg(long)]
        background: PathBuf,
        /// The JPEG to write (a folder when --background is one).
        #[arg(long)]
        out: PathBuf,
        /// auto | left | right | X,Z (metres right of the camera and in front of it).
        #[arg(long, default_value = "auto")]
        place: tomoni_photo::place::Side,
        /// Where the light comes from: auto (read off the people in the photo) | left | right |
        /// front | soft; left:H or right:H for a light H hard (0 soft – 1 the sun; left is 0.9).
        #[arg(long, default_value = "auto")]
        light: tomoni_photo::light::LightChoice,
        /// Its expression (e.g. happy, relaxed).
        #[arg(long)]
        expression: Option<String>,
        /// Its gesture, mid-way (e.g. wave, hand_on_heart).
        #[arg(long)]
        gesture: Option<String>,
        /// Draw the companion at the photo's full resolution even where the photo is too soft
        /// to show it (by default it is drawn at the resolution the photo resolves: faster).
        #[arg(long)]
        full_resolution: bool,
        /// Print what was done as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Render one frame headless (no window) to a PNG, once the scene is fully loaded.
    Render {
        #[command(flatten)]
        scene: SceneArgs,
        /// Output PNG path.
        #[arg(long)]
        out: PathBuf,
        /// Image width in pixels.
        #[arg(long, default_value_t = 720)]
        width: u32,
        /// Image height in pixels.
        #[arg(long, default_value_t = 1080)]
        height: u32,
        /// front | side | eye | face | bust | feet | hand.
        #[arg(long, default_value = "front")]
        view: tomoni_xr::views::View,
        /// Show this VRM expression at full weight (e.g. happy, aa, blink), or several with
        /// weights (`aa=0.6,ih=0.25`).
        #[arg(long)]
        expression: Option<String>,
        /// Pose mid-gesture: nod, head_shake, head_tilt, wave, bow, hand_on_heart, shrug, offer_hand.
        #[arg(long)]
        gesture: Option<String>,
        /// Clear to transparent with no floor (as for AR compositing).
        #[arg(long)]
        transparent: bool,
        /// As optical see-through (additive) glasses show the companion: their material
        /// profile, on black (which such glasses show as nothing).
        #[arg(long, conflicts_with = "transparent")]
        additive: bool,
        /// Benchmark: time this many frames after the scene is ready and print median/p99
        /// instead of writing a picture.
        #[arg(long)]
        bench_frames: Option<u32>,
        /// Also write the frame's camera and every node's world transform as JSON, so another
        /// renderer can draw the same frame (the three-vrm reference check).
        #[arg(long)]
        scene_json: Option<PathBuf>,
    },
    /// The companion without a display: a headless run of the live app (dialogue, voice, face,
    /// gestures) that writes PNG frames, speech.wav, timeline.json and a contact sheet.
    Demo {
        #[command(flatten)]
        scene: SceneArgs,
        /// Output folder.
        #[arg(long, default_value = "out/demo")]
        out: PathBuf,
        /// What the user says (repeatable); each line after the previous reply.
        #[arg(long = "say")]
        lines: Vec<String>,
        /// OpenAI-compatible base URL (up to /v1); overrides the config.
        #[arg(long)]
        endpoint: Option<String>,
        /// Model name; overrides the config.
        #[arg(long)]
        model: Option<String>,
        /// Longest run in seconds of demo time.
        #[arg(long, default_value_t = 60.0)]
        seconds: f32,
        /// Frame width.
        #[arg(long, default_value_t = 360)]
        width: u32,
        /// Frame height.
        #[arg(long, default_value_t = 480)]
        height: u32,
        /// Keep every n-th frame (30 frames a second) as a PNG.
        #[arg(long, default_value_t = 5)]
        every: u32,
    },
    /// Talk with the companion in the terminal (streaming), or once with `--once`.
    Chat {
        #[command(flatten)]
        args: ChatArgs,
        /// Send one message, print the reply (tags removed) and exit.
        #[arg(long)]
        once: Option<String>,
        /// With --once: print one JSON object per dialogue event instead.
        #[arg(long)]
        events: bool,
        /// Talk through the running companion (`tomoni run`): it speaks the replies.
        #[arg(long)]
        attach: bool,
        /// Speak instead of typing: the microphone is heard, the replies are printed.
        #[arg(long, conflicts_with_all = ["once", "attach"])]
        voice: bool,
        /// With --voice: hear this WAV as if spoken into the microphone.
        #[arg(long, requires = "voice")]
        mic_wav: Option<PathBuf>,
    },
    /// Place the running companion beside you again (where you are now looking).
    Recenter,
    /// What tomoni finds on this machine: OpenXR runtime and headset, blend modes and
    /// extensions, GPU, audio output, voice and LLM.
    Doctor {
        #[command(flatten)]
        scene: SceneArgs,
    },
    /// Import a persona and its history.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Export a persona.
    #[command(subcommand)]
    Export(ExportCmd),
    /// The companion's memory of your conversations.
    #[command(subcommand)]
    Memory(cli::MemoryCmd),
    /// Speak text with the persona's voice: play it, or write the audio and the viseme track.
    Say {
        /// What to say.
        text: String,
        /// Persona whose voice speaks (a name or a persona file; default: the config's).
        #[arg(long)]
        persona: Option<String>,
        /// App settings file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Voice engine: piper, espeak or openai (default: the persona's).
        #[arg(long)]
        engine: Option<String>,
        /// Voice for the engine (Piper: a voice name or .onnx path; espeak-ng: `en-us`, `ja`, …;
        /// default: the persona's, or the engine's default when --engine changes it).
        #[arg(long)]
        voice: Option<String>,
        /// Write the speech here (16-bit WAV) instead of playing it.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the viseme track (time in ms, weights on aa ih ou ee oh) here as JSON.
        #[arg(long)]
        visemes: Option<PathBuf>,
    },
    /// Listen to a recording as the companion would: print what was said (speech found by the
    /// voice activity detector, words by the configured recogniser).
    Listen {
        /// A WAV file (any rate and channels).
        file: PathBuf,
        /// App settings file (its `[listen]` section).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Recogniser: local (Whisper in process) or openai (the configured endpoint).
        #[arg(long)]
        engine: Option<String>,
        /// Print every event (speech start/end, transcript, timings) as JSON lines.
        #[arg(long)]
        events: bool,
    },
    /// Ceremonies: check a script, have the persona write its vows ahead of time, run it.
    #[command(subcommand)]
    Ceremony(CeremonyCmd),
    /// Check a VRM file and print what it declares.
    CheckAvatar {
        /// The .vrm file.
        file: PathBuf,
    },
    /// Avatars: what a VRM file declares (its licence too), or a VRM 0.x file as VRM 1.0.
    #[command(subcommand)]
    Avatar(AvatarCmd),
}

#[derive(Subcommand, Debug)]
enum AvatarCmd {
    /// Version, name, authors, licence terms, bones, expressions and springs of a VRM file.
    Info {
        /// The .vrm file (VRM 0.x or 1.0).
        file: PathBuf,
    },
    /// Write a VRM 0.x file as VRM 1.0: the migration tomoni does in memory on load.
    Convert {
        /// The VRM 0.x file.
        input: PathBuf,
        /// The VRM 1.0 file to write (never overwritten).
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum ImportCmd {
    /// A ChatGPT data export's conversations.json: history into memory, a persona drafted.
    Chatgpt {
        /// conversations.json
        file: PathBuf,
        /// Where to write the drafted persona (default: configs/personas/<name>.toml).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A Character Card V2/V3 (.json or .png).
    Card {
        /// The card.
        file: PathBuf,
        /// Where to write the persona (default: configs/personas/<name>.toml).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum CeremonyCmd {
    /// Check a ceremony script: exit 0 when it is valid, 2 with the file, line, column and field.
    Check {
        /// The script (e.g. configs/ceremonies/wedding.toml).
        file: PathBuf,
        #[command(flatten)]
        scene: SceneArgs,
    },
    /// The persona's model writes its vows now, into a copy of the script for you to review.
    Prepare {
        /// The script.
        file: PathBuf,
        /// Where the reviewed copy goes (default: NAME.prepared.toml beside the script).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        chat: ChatArgs,
        /// Asset folder where the script's music and clips are looked up (default: found as for `run`).
        #[arg(long)]
        assets: Option<PathBuf>,
    },
    /// Run a ceremony: in glasses or a window, or headless into a folder.
    Run {
        /// The script.
        file: PathBuf,
        #[command(flatten)]
        scene: SceneArgs,
        /// Serve the operator page for the planner's phone at ADDR:PORT (e.g. 192.168.1.20:8080).
        #[arg(long)]
        operator: Option<std::net::SocketAddr>,
        /// Pairing token for the operator page (default: a new random one each run).
        #[arg(long)]
        token: Option<String>,
        /// A rehearsal: marked as such; the operator may jump to any step.
        #[arg(long)]
        rehearse: bool,
        /// No window or glasses: write frames, ceremony.wav, timeline.json and a contact sheet.
        #[arg(long)]
        headless: bool,
        /// Every wait for the operator ends by itself after a short pause.
        #[arg(long)]
        auto: bool,
        /// Output folder (headless).
        #[arg(long, default_value = "out/ceremony")]
        out: PathBuf,
        /// Never start XR.
        #[arg(long)]
        no_xr: bool,
        /// The guests' view of the couple, for a TV or projector (the ceremony's photo steps
        /// take its picture): on a desktop a second window; in glasses a live stream on the
        /// operator server's spectator page (needs --operator).
        #[arg(long, conflicts_with = "headless")]
        spectator: bool,
        /// Headless frame size, WIDTHxHEIGHT.
        #[arg(long, value_parser = parse_size, default_value = "640x360")]
        frame_size: (u32, u32),
        /// Headless: keep every n-th frame (30 a second) as a PNG.
        #[arg(long, default_value_t = 10)]
        every: u32,
        /// Headless: longest run, seconds.
        #[arg(long, default_value_t = 1800.0)]
        seconds: f32,
        /// Do not listen: every listen step waits for the operator.
        #[arg(long)]
        no_mic: bool,
        /// A recording of the person, spoken each time a listen step opens the ears (rehearsals,
        /// headless runs; headless runs listen only with this).
        #[arg(long, conflicts_with = "no_mic")]
        mic_wav: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ExportCmd {
    /// A persona as a Character Card V3 (.json, or .png with the card in its text chunk).
    Card {
        /// Persona name or file.
        name: String,
        /// Output .json or .png.
        #[arg(long)]
        out: PathBuf,
        /// A PNG picture to carry the card (default: a plain picture).
        #[arg(long)]
        image: Option<PathBuf>,
    },
}

fn ceremony(c: CeremonyCmd) -> Result<(), Failure> {
    use tomoni_companion::ceremony::{launch, prepare, script};
    match c {
        CeremonyCmd::Check { file, scene } => {
            let r = tomoni_companion::setup::resolve(
                scene.config.as_deref(),
                scene.persona.as_deref(),
                scene.assets.as_deref(),
            )?;
            let s = script::load(&file, &r.assets).map_err(|e| Failure::Input(e.to_string()))?;
            println!("{}: ok, {:?}, {} steps", file.display(), s.title, s.steps.len());
            for (i, st) in s.steps.iter().enumerate() {
                println!("  {:>2}. {} ({})", i + 1, st.name, st.action.kind());
            }
            if let Some(u) = s.unprepared() {
                println!(
                    "note: step {:?} has no reviewed vows yet: run `tomoni ceremony prepare {}`",
                    u.name,
                    file.display()
                );
            }
            Ok(())
        }
        CeremonyCmd::Prepare { file, out, chat, assets } => {
            let r =
                tomoni_companion::setup::resolve(chat.config.as_deref(), chat.persona.as_deref(), assets.as_deref())?;
            let (path, vows) = prepare::prepare(&file, out.as_deref(), &r.assets, &chat)?;
            for (step, text) in vows {
                println!("{step}:\n  {text}\n");
            }
            println!("written to {} — read it through before the day; it is said exactly as written", path.display());
            Ok(())
        }
        CeremonyCmd::Run {
            file,
            scene,
            operator,
            token,
            rehearse,
            headless,
            auto,
            out,
            no_xr,
            spectator,
            frame_size,
            every,
            seconds,
            no_mic,
            mic_wav,
        } => {
            let chat = ChatArgs { persona: scene.persona.clone(), config: scene.config.clone(), ..Default::default() };
            app::prepare(&scene).and_then(|mut setup| {
                // Listen steps hear the person through the microphone (live, when configured) or
                // a recording said on cue; headless, only the recording.
                setup.hearing = match (no_mic, mic_wav) {
                    (true, _) => None,
                    (false, Some(wav)) => Some(tomoni_companion::hearing::HearFrom::Cue(wav)),
                    (false, None) if headless => None,
                    (false, None) => setup.hearing,
                };
                let o = launch::RunOptions {
                    file,
                    rehearse,
                    headless_out: headless.then_some(out),
                    auto,
                    operator,
                    token,
                    no_xr,
                    frame: (frame_size.0, frame_size.1, every),
                    max_seconds: seconds,
                    spectator,
                    scene: scene.clone(),
                };
                demo::run_ceremony_file(setup, o, chat)
            })
        }
    }
}

/// `WIDTHxHEIGHT`, each 64..=8192.
fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once('x').ok_or_else(|| format!("{s:?}: expected WIDTHxHEIGHT, e.g. 640x360"))?;
    let n = |v: &str| v.trim().parse::<u32>().ok().filter(|n| (64..=8192).contains(n));
    match (n(w), n(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!("{s:?}: width and height must be 64..8192 pixels")),
    }
}

/// Mesa's `device_select` Vulkan layer connects to a Wayland display to choose a GPU, and where
/// there is none (no `XDG_RUNTIME_DIR`: headless, CI, X11 over ssh) libwayland prints
/// `error: XDG_RUNTIME_DIR is invalid or not set` twice on every run that then succeeds. The
/// renderer picks its adapter itself, so without a Wayland session the layer is turned off the
/// way Mesa documents (`NODEVICE_SELECT=1`), unless the user set it either way.
fn quiet_gpu_probe() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() && std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: called first thing in `main`, before any thread exists, so nothing can read
        // the environment concurrently.
        #[expect(unsafe_code, reason = "set_var is unsafe in edition 2024; sound before threads start")]
        unsafe {
            std::env::set_var("NODEVICE_SELECT", "1")
        };
    }
}

/// ONNX Runtime (the Piper voice, hearing, photos) starts a telemetry client that looks up
/// Microsoft's event endpoint on Linux too, even with telemetry then switched off through its
/// API (seen in `tests/network.rs`). Its own switch, read when the library loads, stops it.
fn no_onnx_telemetry() {
    // SAFETY: called first thing in `main`, before any thread exists, so nothing can read
    // the environment concurrently.
    #[expect(unsafe_code, reason = "set_var is unsafe in edition 2024; sound before threads start")]
    unsafe {
        std::env::set_var("ORT_DISABLE_TELEMETRY", "1")
    };
}

/// The companion comes back when the XR runtime does.
mod rejoin {
    use std::process::{Command, ExitCode};
    use std::time::Duration;
    use tomoni_xr::xr::{RUNTIME_GONE_EXIT, runtime_available};

    use tomoni_xr::xr::SUPERVISED as CHILD;

    /// How often a runtime that went away is looked for.
    const LOOK_EVERY: Duration = Duration::from_secs(1);

    /// `tomoni run` in XR, kept alive across the runtime going away. An OpenXR session lives on
    /// the runtime's Vulkan device, and Bevy cannot swap its render device, so a lost runtime
    /// ends the app (status 75, nothing lost: memory is committed turn by turn and the place
    /// file is kept). This process runs the app as a child; when the child ends that way it
    /// waits for the runtime (the headset plugged back, the runtime restarted) and starts the
    /// app again, which finds its companion where it was and its memories as they were: the
    /// person does nothing. `None`: not the supervisor (no runtime now, or already the child).
    pub fn supervise() -> Option<ExitCode> {
        if std::env::var_os(CHILD).is_some() || runtime_available().is_err() {
            return None;
        }
        let exe = std::env::current_exe().ok()?;
        let args: Vec<_> = std::env::args_os().skip(1).collect();
        // Ctrl-C reaches the app too (one process group), which ends its session cleanly and
        // exits; this process then ends with it instead of dying first.
        if let Err(e) = ctrlc::set_handler(|| {}) {
            eprintln!("tomoni: cannot keep Ctrl-C for the app ({e})");
        }
        loop {
            let status = match Command::new(&exe).args(&args).env(CHILD, "1").status() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("tomoni: cannot start the app: {e}");
                    return Some(ExitCode::from(1));
                }
            };
            match status.code() {
                Some(RUNTIME_GONE_EXIT) => {}
                Some(c) => return Some(ExitCode::from(c.clamp(0, 255) as u8)),
                // Ended by a signal (Ctrl-C reaches both processes): so do we.
                None => return Some(ExitCode::from(130)),
            }
            eprintln!("tomoni: waiting for the OpenXR runtime to come back (Ctrl-C to stop)…");
            let since = std::time::Instant::now();
            while runtime_available().is_err() {
                std::thread::sleep(LOOK_EVERY);
            }
            eprintln!(
                "tomoni: the OpenXR runtime is back after {:.0} s: the companion rejoins",
                since.elapsed().as_secs_f32()
            );
        }
    }

    /// In the supervised app: if the supervisor goes (killed on its own), the app ends too
    /// instead of running on unseen: as if Ctrl-C were pressed (the session ends cleanly), and
    /// at once if that has not ended it within five seconds.
    pub fn end_with_the_supervisor() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        let parent = std::os::unix::process::parent_id();
        let _ = std::thread::Builder::new().name("tomoni-supervisor-watch".into()).spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                if std::os::unix::process::parent_id() != parent {
                    eprintln!("tomoni: the supervising process ended; so does the app (memories are saved)");
                    let _ = Command::new("kill").args(["-INT", &std::process::id().to_string()]).status();
                    std::thread::sleep(Duration::from_secs(5));
                    std::process::exit(0);
                }
            }
        });
    }
}

fn main() -> ExitCode {
    quiet_gpu_probe();
    no_onnx_telemetry();
    let cli = Cli::parse();
    if let Command::Run { no_xr: false, .. } = &cli.command
        && let Some(code) = rejoin::supervise()
    {
        return code;
    }
    rejoin::end_with_the_supervisor();
    let result = match cli.command {
        Command::Run { scene, no_xr, max_frames, eye_png, window_size, no_mic, mic_wav } => app::prepare(&scene)
            .and_then(|setup| {
                let hearing = match (no_mic, mic_wav) {
                    (true, _) => None,
                    (false, Some(wav)) => Some(tomoni_companion::hearing::HearFrom::Wav(wav)),
                    (false, None) => setup.hearing.clone(),
                };
                app::run_interactive(app::Setup { window_size, hearing, ..setup }, no_xr, max_frames, eye_png)
            }),
        Command::Photo { scene, background, out, place, light, expression, gesture, full_resolution, json } => {
            cli::photo(scene, background, out, place, light, expression, gesture, full_resolution, json)
        }
        Command::Render {
            scene,
            out,
            width,
            height,
            view,
            expression,
            gesture,
            transparent,
            additive,
            bench_frames,
            scene_json,
        } => {
            app::prepare(&scene).and_then(|setup| {
                // A built-in gesture, else a clip: assets/animations/NAME.vrma.
                let (gesture, clip) = match gesture.as_deref() {
                    None => (None, None),
                    Some(g) => match tomoni_core::behaviour::Gesture::parse(g) {
                        Some(p) => (Some(p), None),
                        None if setup.assets.join("animations").join(format!("{g}.vrma")).is_file() => {
                            (None, Some(g.to_string()))
                        }
                        None => {
                            let known: Vec<&str> =
                                tomoni_core::behaviour::Gesture::ALL.iter().map(|g| g.name()).collect();
                            return Err(Failure::Input(format!(
                                "unknown gesture {g:?} (built in: {}; or a clip in {})",
                                known.join(" "),
                                setup.assets.join("animations").display()
                            )));
                        }
                    },
                };
                let req = render::RenderRequest {
                    out,
                    width,
                    height,
                    view,
                    expression,
                    gesture,
                    clip,
                    transparent,
                    additive,
                    bench_frames,
                    photo: None,
                    scene_json,
                };
                render::render(setup, req)
            })
        }
        Command::Demo { scene, out, lines, endpoint, model, seconds, width, height, every } => app::prepare(&scene)
            .and_then(|setup| {
                let lines = if lines.is_empty() {
                    vec!["Hello! It's good to see you.".to_string(), "What can you do?".to_string()]
                } else {
                    lines
                };
                let chat = ChatArgs { endpoint, model, persona: scene.persona.clone(), config: scene.config.clone() };
                demo::demo(setup, demo::DemoRequest { out, lines, max_seconds: seconds, width, height, every, chat })
            }),
        Command::Chat { attach: true, once, .. } => cli::attach(once),
        Command::Chat { args, voice: true, mic_wav, .. } => cli::chat_voice(args, mic_wav),
        Command::Chat { args, once, events, .. } => cli::chat(args, once, events),
        Command::Doctor { scene } => app::prepare(&scene).and_then(|setup| doctor::doctor(&setup)),
        Command::Recenter => match unix::send("recenter", |_| {}) {
            Ok(ControlReply::Done(what)) => {
                println!("ok: {what}");
                Ok(())
            }
            Ok(other) => Err(Failure::Runtime(format!("{other:?}"))),
            Err(e) => Err(Failure::Runtime(e)),
        },
        Command::Import(ImportCmd::Chatgpt { file, out }) => cli::import_chatgpt(&file, out),
        Command::Import(ImportCmd::Card { file, out }) => cli::import_card(&file, out),
        Command::Export(ExportCmd::Card { name, out, image }) => cli::export_card(&name, &out, image.as_deref()),
        Command::Memory(cmd) => cli::memory_cmd(cmd),
        Command::Listen { file, config, engine, events } => {
            let args = ChatArgs { config, ..Default::default() };
            cli::listen(&args, &file, engine, events)
        }
        Command::Say { text, persona, config, engine, voice, out, visemes } => {
            let args = ChatArgs { persona, config, ..Default::default() };
            cli::say(&args, &text, engine, voice, out.as_deref(), visemes.as_deref())
        }
        Command::Ceremony(c) => ceremony(c),
        Command::Avatar(AvatarCmd::Info { file }) => cli::avatar_info(&file),
        Command::Avatar(AvatarCmd::Convert { input, out }) => cli::avatar_convert(&input, &out),
        Command::CheckAvatar { file } => match tomoni_avatar::vrm_check::inspect(&file) {
            Ok(info) => {
                println!(
                    "{}: VRM {} \"{}\", {} humanoid bones, expressions: {}",
                    file.display(),
                    info.spec_version,
                    info.name,
                    info.bones.len(),
                    info.expressions.join(" ")
                );
                Ok(())
            }
            Err(e) => Err(Failure::Input(e.to_string())),
        },
    };
    // ONNX Runtime's C++ globals are torn down at exit; a voice still loading or speaking on the
    // speaker thread would then crash the process. Let that call finish and start no other.
    tomoni_voice::onnx::quiesce();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}
