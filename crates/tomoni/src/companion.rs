//! The live companion: the bridge from the dialogue thread (persona) and the speaker thread
//! (voice) to the avatar, in the frame loop.
//!
//! ```text
//! user text ─▶ talk thread (Session: memory, LLM stream) ─▶ DialogueEvent ─┐
//!                                                                        │ try_recv
//! frame loop: clauses ─▶ speaker thread (TTS) ─▶ audio ring ─▶ kira / offline output
//!             cues ─▶ marks on the audio clock ─▶ EmotionCue / GestureCue when heard
//!             audio clock + latency ─▶ viseme tracks ─▶ MouthWeights
//! ```
//!
//! Every per-frame system only drains channels and reads atomics: nothing here blocks the
//! frame loop, and once warmed up nothing allocates per frame.

use crate::chat::{ChatArgs, Session};
use bevy::platform::cell::SyncCell;
use bevy::prelude::*;
use crossbeam_channel::{Receiver, Sender};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tomoni_core::TomoniSystems;
use tomoni_core::behaviour::{Conversation, Emotion, EmotionCue, Gesture, GestureCue, MouthWeights, TextEntry};
use tomoni_persona::client::{DialogueEvent, TurnStatus, scripted_events};
use tomoni_persona::tags;
use tomoni_voice::speaker::{self, Job, Speaker, VoiceEngine};
use tomoni_voice::stream::{OfflineOutput, SpeechStreamData};
use tomoni_voice::viseme::VisemeTrack;

/// A message from the user, and where to echo the reply (an attached terminal), if anywhere.
pub struct UserInput {
    /// What they said.
    pub text: String,
    /// Reply lines for an attached `tomoni chat`.
    pub reply: Option<Sender<String>>,
}

/// What the talk thread reports.
#[derive(Debug)]
pub enum Talk {
    /// A turn began (the user's message is stored, the request is on its way).
    Began(u64),
    /// An event of turn `n`.
    Event(u64, DialogueEvent),
}

/// Starts the talk thread: it owns the session (memory in SQLite, the LLM client) so that no
/// file or network I/O happens on the frame loop. A new message cancels a reply in progress.
pub fn start_talk(mut session: Session) -> std::io::Result<(Sender<UserInput>, Receiver<Talk>)> {
    let (in_tx, in_rx) = crossbeam_channel::unbounded::<UserInput>();
    let (out_tx, out_rx) = crossbeam_channel::unbounded();
    std::thread::Builder::new().name("tomoni-talk".into()).spawn(move || {
        tomoni_voice::lower_thread_priority();
        let mut n = 0u64;
        let mut next = in_rx.recv().ok();
        while let Some(input) = next.take() {
            n += 1;
            let _ = out_tx.send(Talk::Began(n));
            let mut turn = match session.send(&input.text) {
                Ok(t) => t,
                Err(e) => {
                    warn!("cannot start a reply: {e:?}");
                    next = in_rx.recv().ok();
                    continue;
                }
            };
            loop {
                match turn.try_next() {
                    Some(ev) => {
                        if let Some(r) = &input.reply {
                            let line = match &ev {
                                DialogueEvent::Clause(c) => Some(c.clone()),
                                DialogueEvent::Error(e) => Some(format!("[{}]", e.message)),
                                DialogueEvent::End(_) => Some("\u{4}".into()),
                                _ => None,
                            };
                            if let Some(l) = line {
                                let _ = r.send(l);
                            }
                        }
                        let end = matches!(ev, DialogueEvent::End(_));
                        let _ = out_tx.send(Talk::Event(n, ev));
                        if end {
                            break;
                        }
                    }
                    None => match in_rx.recv_timeout(Duration::from_millis(4)) {
                        // The user spoke again: drop the turn (cancels the stream; the client
                        // stores the partial reply as interrupted), answer the new message.
                        Ok(newer) => {
                            next = Some(newer);
                            break;
                        }
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                    },
                }
            }
            if next.is_none() {
                next = in_rx.recv().ok();
            }
        }
    })?;
    Ok((in_tx, out_rx))
}

/// Where the companion's voice goes.
pub enum Output {
    /// A real audio device through kira (held to keep the stream playing).
    Device(Box<kira::AudioManager>),
    /// No device: samples are pulled by the frame loop, one frame's worth per update, so the
    /// audio clock runs on the app's clock. `capture` keeps them (the headless demo's WAV).
    Offline {
        /// The stream.
        out: OfflineOutput,
        /// Scratch for one frame.
        buf: Vec<f32>,
        /// Everything rendered, if kept.
        capture: Option<Vec<f32>>,
        /// Output rate.
        rate: u32,
        /// Fractional samples carried between frames.
        carry: f64,
    },
}

/// Output rate of the offline renderer.
pub const OFFLINE_RATE: u32 = 48_000;

impl Output {
    /// The default audio device, or (with a clear log line) the offline clock when there is none.
    pub fn device_or_offline(data: SpeechStreamData) -> (Self, String) {
        match kira::AudioManager::<kira::DefaultBackend>::new(kira::AudioManagerSettings::default()) {
            Ok(mut m) => {
                let msg = match m.play(data) {
                    Ok(()) => "audio: default output device".to_string(),
                    Err(e) => format!("audio: the device refused the speech stream ({e}); speech is silent"),
                };
                (Output::Device(Box::new(m)), msg)
            }
            Err(e) => (
                Self::offline(data, false),
                format!("audio: no output device ({e}); speech runs silent, timed by the frame clock"),
            ),
        }
    }

    /// The offline clock; `keep` stores every sample for a WAV.
    pub fn offline(data: SpeechStreamData, keep: bool) -> Self {
        Output::Offline {
            out: data.into_offline(),
            buf: vec![0.0; OFFLINE_RATE as usize / 10],
            capture: keep.then(|| Vec::with_capacity(OFFLINE_RATE as usize * 120)),
            rate: OFFLINE_RATE,
            carry: 0.0,
        }
    }
}

/// Latencies of one turn, from the user's message (milliseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TurnLatency {
    /// Turn number.
    pub turn: u64,
    /// First token from the LLM.
    pub first_token: Option<f64>,
    /// First clause ready to speak.
    pub first_clause: Option<f64>,
    /// First sample of speech queued for playback.
    pub first_audio: Option<f64>,
    /// First mouth movement shown.
    pub first_viseme: Option<f64>,
    /// Mouth onset minus the onset of the audio it shows, at the first viseme (ms; + = late).
    pub av_offset: Option<f64>,
}

impl TurnLatency {
    /// One line for logs and the debug panel.
    pub fn line(&self) -> String {
        let f = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.0} ms"));
        format!(
            "turn {}: first token {}, first clause {}, first audio {}, first viseme {}, A/V {}",
            self.turn,
            f(self.first_token),
            f(self.first_clause),
            f(self.first_audio),
            f(self.first_viseme),
            self.av_offset.map_or("–".into(), |x| format!("{x:+.1} ms"))
        )
    }
}

/// A cue waiting for its moment in the audio.
#[derive(Debug, Clone, PartialEq)]
enum Cue {
    Emotion(EmotionCue),
    Gesture(GestureCue),
}

/// The bridge's state (a resource).
#[derive(Resource)]
pub struct Bridge {
    /// Send user messages here.
    pub input: Sender<UserInput>,
    talk: Receiver<Talk>,
    speaker: Speaker,
    /// Where the voice goes (touched only by the frame loop; the cell makes that explicit).
    pub output: SyncCell<Output>,
    tracks: VecDeque<(u64, VisemeTrack)>,
    marks: VecDeque<(u64, u64)>,
    cues: VecDeque<(u64, Cue)>,
    next_mark: u64,
    turn: u64,
    turn_started: Option<Instant>,
    turn_ended: bool,
    fallback: String,
    /// What the persona says first (`greet`).
    pub greeting: String,
    /// Samples of output latency (device buffer) plus display lead, added to the clock.
    pub lead_samples: u64,
    /// This turn's latencies so far.
    pub latency: TurnLatency,
    /// The last finished turn's latencies.
    pub last: Option<TurnLatency>,
    /// Brain, voice and audio, in words (logs and the debug panel).
    pub label: String,
    /// Timeline of what happened, for the headless demo (`None`: not kept).
    pub timeline: Option<Vec<serde_json::Value>>,
    seconds: f64,
}

impl Bridge {
    /// Connects a talk thread and a speaker.
    pub fn new(
        talk: (Sender<UserInput>, Receiver<Talk>),
        speaker: Speaker,
        output: Output,
        fallback_line: String,
    ) -> Self {
        let lead_ms = if matches!(output, Output::Device(_)) { 40 } else { 0 };
        let lead_samples = u64::from(speaker.sample_rate()) * lead_ms / 1000;
        Self {
            input: talk.0,
            talk: talk.1,
            speaker,
            output: SyncCell::new(output),
            tracks: VecDeque::with_capacity(64),
            marks: VecDeque::with_capacity(64),
            cues: VecDeque::with_capacity(64),
            next_mark: 0,
            turn: 0,
            turn_started: None,
            turn_ended: true,
            fallback: fallback_line,
            greeting: String::new(),
            lead_samples,
            latency: TurnLatency::default(),
            last: None,
            timeline: None,
            label: String::new(),
            seconds: 0.0,
        }
    }

    /// Speech samples played so far (the audio clock).
    pub fn played_samples(&self) -> u64 {
        self.speaker.clock().played_samples()
    }

    /// Output samples rendered so far by the offline output (its WAV position), if offline.
    pub fn rendered_samples(&mut self) -> Option<u64> {
        match self.output.get() {
            Output::Offline { capture: Some(c), .. } => Some(c.len() as u64),
            _ => None,
        }
    }

    /// The user says something (a new message interrupts the companion: barge-in).
    pub fn say(&mut self, text: &str, reply: Option<Sender<String>>) {
        self.barge_in();
        // Latencies count from the moment the user's words leave their hands.
        self.turn_started = Some(Instant::now());
        self.latency = TurnLatency { turn: self.turn + 1, ..default() };
        let _ = self.input.send(UserInput { text: text.to_string(), reply });
        self.log("user", || serde_json::json!({"text": text}));
    }

    /// Says the persona's greeting (scripted, not from the LLM).
    pub fn greet(&mut self) {
        for ev in scripted_events(&self.greeting.clone()) {
            if matches!(ev, DialogueEvent::Clause(_) | DialogueEvent::Emotion(..) | DialogueEvent::Gesture(_)) {
                self.perform(&ev);
            }
        }
    }

    /// Silences whatever is being said or synthesised (cheap when nothing is).
    fn barge_in(&mut self) {
        self.speaker.stop();
        self.tracks.clear();
        self.marks.clear();
        self.cues.clear();
    }

    /// Adds to the demo's timeline; `data` is built only when a timeline is kept (the live app
    /// keeps none, so logging costs it nothing).
    fn log(&mut self, kind: &str, data: impl FnOnce() -> serde_json::Value) {
        if let Some(t) = &mut self.timeline {
            let mut data = data();
            data["t"] = serde_json::json!((self.seconds * 1000.0).round() / 1000.0);
            data["type"] = serde_json::json!(kind);
            t.push(data);
        }
    }

    fn since_turn(&self) -> Option<f64> {
        self.turn_started.map(|t| t.elapsed().as_secs_f64() * 1000.0)
    }

    /// Speaks the reply's events: clauses to the speaker, cues as marks on the audio clock.
    fn perform(&mut self, ev: &DialogueEvent) {
        match ev {
            DialogueEvent::Clause(text) => {
                self.latency.first_clause = self.latency.first_clause.or(self.since_turn());
                self.speaker.send(Job::Say(text.clone()));
                self.log("clause", || serde_json::json!({"text": text}));
            }
            DialogueEvent::Emotion(e, i) => {
                let emotion = map_emotion(*e);
                self.cue(Cue::Emotion(EmotionCue { emotion, intensity: *i }));
            }
            DialogueEvent::Gesture(name) => {
                let cue = match Gesture::parse(name) {
                    Some(g) => GestureCue::Procedural(g),
                    None => GestureCue::Clip(name.clone()),
                };
                self.cue(Cue::Gesture(cue));
            }
            DialogueEvent::Pause(ms) => self.speaker.send(Job::Pause(*ms)),
            DialogueEvent::FirstToken => {
                self.latency.first_token = self.since_turn();
                self.log("first_token", || serde_json::json!({}));
            }
            DialogueEvent::Error(e) => {
                warn!("the reply broke off ({:?}): {}", e.kind, e.message);
                self.log("error", || serde_json::json!({"kind": format!("{:?}", e.kind), "message": e.message}));
                // The companion says so itself, gracefully, in its own voice.
                for ev in scripted_events(&self.fallback.clone()) {
                    if !matches!(ev, DialogueEvent::End(_) | DialogueEvent::FirstToken) {
                        self.perform(&ev);
                    }
                }
            }
            DialogueEvent::End(end) => {
                self.turn_ended = true;
                self.log("end", || serde_json::json!({"status": end.status.as_str()}));
                if end.status == TurnStatus::Interrupted {
                    info!("turn {} ended interrupted (stored as such)", self.turn);
                }
            }
        }
    }

    fn cue(&mut self, cue: Cue) {
        self.next_mark += 1;
        self.cues.push_back((self.next_mark, cue));
        self.speaker.send(Job::Mark(self.next_mark));
    }
}

fn map_emotion(e: tags::Emotion) -> Emotion {
    match e {
        tags::Emotion::Happy => Emotion::Happy,
        tags::Emotion::Angry => Emotion::Angry,
        tags::Emotion::Sad => Emotion::Sad,
        tags::Emotion::Relaxed => Emotion::Relaxed,
        tags::Emotion::Surprised => Emotion::Surprised,
        tags::Emotion::Neutral => Emotion::Neutral,
    }
}

/// Picks the persona's voice engine.
pub fn voice_engine(v: &tomoni_persona::persona::VoiceSettings) -> VoiceEngine {
    match v.engine.as_str() {
        "openai" => VoiceEngine::OpenAi(tomoni_voice::openai_tts::OpenAiSpeech {
            base_url: v.endpoint.clone(),
            model: v.model.clone(),
            voice: v.voice.clone(),
            api_key_env: Some(v.api_key_env.clone()).filter(|k| !k.is_empty()),
            timeout: Duration::from_secs(10),
        }),
        _ => VoiceEngine::Espeak(tomoni_voice::espeak::EspeakVoice {
            voice: v.voice.clone(),
            rate: v.rate,
            pitch: v.pitch,
        }),
    }
}

/// Opens the session and the speaker and builds the bridge.
pub fn open(args: &ChatArgs, offline_audio: Option<bool>) -> Result<(Bridge, String), crate::app::Failure> {
    let (session, label) = Session::open(args)?;
    let fallback = session.persona.fallback_line.clone();
    let greeting = session.persona.greeting.clone();
    let engine = voice_engine(&session.persona.voice);
    let voice = engine.describe();
    let (speaker, data) = Speaker::start(engine)
        .map_err(|e| crate::app::Failure::Runtime(format!("cannot start the speaker thread: {e}")))?;
    let (output, audio) = match offline_audio {
        Some(keep) => (Output::offline(data, keep), "audio: offline, timed by the frame clock".to_string()),
        None => Output::device_or_offline(data),
    };
    info!("{audio}");
    let talk =
        start_talk(session).map_err(|e| crate::app::Failure::Runtime(format!("cannot start the talk thread: {e}")))?;
    let mut bridge = Bridge::new(talk, speaker, output, fallback);
    bridge.label = format!("{label}; voice {voice}; {audio}");
    bridge.greeting = greeting;
    let label = bridge.label.clone();
    Ok((bridge, label))
}

/// Drives the companion from the bridge.
pub struct CompanionPlugin;

impl Plugin for CompanionPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            (drain_talk, drain_voice, advance_audio, follow_audio).chain().in_set(TomoniSystems::Dialogue),
        );
    }
}

fn drain_talk(mut bridge: ResMut<Bridge>, mut conversation: ResMut<Conversation>) {
    while let Ok(msg) = bridge.talk.try_recv() {
        match msg {
            Talk::Began(n) => {
                bridge.turn = n;
                bridge.turn_started.get_or_insert_with(Instant::now);
                bridge.turn_ended = false;
                bridge.latency.turn = n;
                *conversation = Conversation::Thinking;
            }
            Talk::Event(n, ev) if n == bridge.turn => bridge.perform(&ev),
            Talk::Event(..) => {} // from a turn the user has talked over
        }
    }
}

fn drain_voice(mut bridge: ResMut<Bridge>) {
    while let Some(ev) = bridge.speaker.try_event() {
        match ev {
            speaker::Event::Track { start, track } => bridge.tracks.push_back((start, track)),
            speaker::Event::Mark { id, at } => bridge.marks.push_back((at, id)),
            speaker::Event::Queued { start, len, first_sample_ms } => {
                if bridge.latency.first_audio.is_none() {
                    bridge.latency.first_audio = bridge.since_turn();
                }
                bridge.log(
                    "queued",
                    || serde_json::json!({"start_sample": start, "samples": len, "synth_ms": first_sample_ms}),
                );
            }
            speaker::Event::Failed(e) => {
                warn!("speech failed: {e}");
                bridge.log("speech_failed", || serde_json::json!({"error": e}));
            }
        }
    }
}

/// Offline output: render this frame's share of audio, so the clock follows the app's time.
fn advance_audio(time: Res<Time>, mut bridge: ResMut<Bridge>) {
    bridge.seconds += time.delta_secs_f64();
    if let Output::Offline { out, buf, capture, rate, carry } = bridge.output.get() {
        let want = time.delta_secs_f64() * f64::from(*rate) + *carry;
        let mut n = want.floor() as usize;
        *carry = want - n as f64;
        while n > 0 {
            let k = n.min(buf.len());
            out.render(&mut buf[..k], *rate);
            if let Some(c) = capture {
                c.extend_from_slice(&buf[..k]);
            }
            n -= k;
        }
    }
}

/// Mouth weights at the sample heard when this frame is shown; cues fired as the audio reaches
/// them; turn-taking state from what is queued.
fn follow_audio(
    time: Res<Time>,
    mut bridge: ResMut<Bridge>,
    mut mouth: ResMut<MouthWeights>,
    mut conversation: ResMut<Conversation>,
    mut emotions: MessageWriter<EmotionCue>,
    mut gestures: MessageWriter<GestureCue>,
) {
    let rate = bridge.speaker.sample_rate();
    let played = bridge.speaker.clock().played_samples();
    let pushed = bridge.speaker.clock().pushed_samples();
    let heard = played + bridge.lead_samples;
    let mut w = speaker::mouth_at(&bridge.tracks, heard, rate);
    if pushed <= played {
        // Nothing left to hear: close from where the mouth is (a track may end mid-release).
        let k = (-time.delta_secs() / 0.045).exp();
        w = mouth.0.map(|x| if x * k < 0.01 { 0.0 } else { x * k });
    }
    if w != mouth.0 {
        mouth.0 = w;
    }
    // Forget tracks that have been heard in full (`mouth_at` only reads tracks covering the
    // sample, so a finished one is never needed again).
    while let Some((start, t)) = bridge.tracks.front() {
        let end = start + (t.frames.len() as f64 / t.fps * f64::from(rate)) as u64;
        if end < played {
            bridge.tracks.pop_front();
        } else {
            break;
        }
    }
    while let Some(&(at, id)) = bridge.marks.front() {
        if at > heard {
            break;
        }
        bridge.marks.pop_front();
        while let Some((cid, cue)) = bridge.cues.pop_front() {
            if cid > id {
                bridge.cues.push_front((cid, cue));
                break;
            }
            if cid == id {
                match &cue {
                    Cue::Emotion(e) => {
                        emotions.write(*e);
                    }
                    Cue::Gesture(g) => {
                        gestures.write(g.clone());
                    }
                }
                bridge.log("cue", || match cue {
                    Cue::Emotion(e) => serde_json::json!({"emotion": e.emotion.vrm_name(), "intensity": e.intensity}),
                    Cue::Gesture(GestureCue::Procedural(p)) => serde_json::json!({"gesture": p.name()}),
                    Cue::Gesture(GestureCue::Clip(c)) => serde_json::json!({"gesture": c}),
                });
            }
        }
    }
    let open = w.iter().cloned().fold(0.0f32, f32::max);
    if bridge.latency.first_viseme.is_none() && open > 0.05 && bridge.turn_started.is_some() {
        bridge.latency.first_viseme = bridge.since_turn();
        // Where the shown weights' onset lies in the audio vs the sample heard now.
        let onset = bridge.tracks.iter().find_map(|(start, t)| {
            t.frames
                .iter()
                .position(|f| f.iter().cloned().fold(0.0, f32::max) > 0.05)
                .map(|i| *start + (i as f64 / t.fps * f64::from(rate)) as u64)
        });
        if let Some(onset) = onset {
            bridge.latency.av_offset = Some((heard as f64 - onset as f64) / f64::from(rate) * 1000.0);
        }
        bridge.log("first_viseme", || serde_json::json!({"weights": w}));
    }
    let speaking = pushed > played;
    let next = if speaking {
        Conversation::Speaking
    } else if !bridge.turn_ended {
        Conversation::Thinking
    } else if *conversation == Conversation::Listening {
        Conversation::Listening
    } else {
        Conversation::Idle
    };
    if next != *conversation {
        if *conversation == Conversation::Speaking && bridge.turn_ended && bridge.turn_started.is_some() {
            let l = bridge.latency;
            info!("{}", l.line());
            bridge.last = Some(l);
            bridge.turn_started = None;
            bridge.log("turn_done", || serde_json::json!({"latency": l.line()}));
        }
        *conversation = next;
    }
}

/// Commands from attached terminals (`tomoni chat --attach`, `tomoni recenter`).
#[derive(Resource)]
pub struct Ipc(pub Receiver<crate::ipc::Request>);

/// The interactive parts: terminal commands always; on the desktop also the text box and the
/// debug panel with per-turn latencies.
pub struct InteractivePlugin {
    /// Show the text box and debug panel (desktop window).
    pub ui: bool,
}

impl Plugin for InteractivePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<TextEntry>().add_systems(Update, drain_ipc.in_set(TomoniSystems::Input));
        if self.ui {
            app.add_systems(Startup, spawn_ui)
                .add_systems(Update, (type_text.in_set(TomoniSystems::Input), show_debug.after(TomoniSystems::Pose)));
        }
    }
}

fn drain_ipc(
    ipc: Option<Res<Ipc>>,
    mut bridge: ResMut<Bridge>,
    mut recenter: MessageWriter<tomoni_xr::Recenter>,
    mut emotions: MessageWriter<EmotionCue>,
    mut gestures: MessageWriter<GestureCue>,
) {
    let Some(ipc) = ipc else { return };
    while let Ok(req) = ipc.0.try_recv() {
        let line = req.line.trim();
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        let answer = match cmd {
            "say" if !rest.trim().is_empty() => {
                bridge.say(rest.trim(), Some(req.reply));
                continue;
            }
            "recenter" => {
                recenter.write(tomoni_xr::Recenter);
                "ok: recentred".to_string()
            }
            "gesture" => match Gesture::parse(rest) {
                Some(g) => {
                    gestures.write(GestureCue::Procedural(g));
                    format!("ok: {}", g.name())
                }
                None => format!("error: unknown gesture {rest:?}"),
            },
            "emotion" => {
                let mut parts = rest.split_whitespace();
                let name = parts.next().unwrap_or("");
                let intensity = parts.next().and_then(|i| i.parse().ok()).unwrap_or(1.0);
                match tags::Emotion::parse(name) {
                    Some(e) => {
                        emotions.write(EmotionCue { emotion: map_emotion(e), intensity });
                        format!("ok: {name}")
                    }
                    None => format!("error: unknown emotion {name:?}"),
                }
            }
            _ => format!("error: unknown command {line:?} (say TEXT | recenter | gesture NAME | emotion NAME [0..1])"),
        };
        let _ = req.reply.send(answer);
    }
}

#[derive(Component)]
struct TypedLine;

#[derive(Component)]
struct DebugPanel;

const TYPE_HINT: &str = "Enter: talk    R: recenter    WASD/arrows, right-drag: move and look";

fn spawn_ui(mut commands: Commands) {
    commands.spawn((
        TypedLine,
        Text::new(TYPE_HINT),
        TextFont { font_size: FontSize::Px(18.0), ..default() },
        TextColor(Color::srgb(0.1, 0.1, 0.15)),
        Node { position_type: PositionType::Absolute, bottom: px(16), left: px(16), ..default() },
    ));
    commands.spawn((
        DebugPanel,
        Text::new(""),
        TextFont { font_size: FontSize::Px(13.0), ..default() },
        TextColor(Color::srgb(0.25, 0.25, 0.3)),
        Node { position_type: PositionType::Absolute, top: px(10), left: px(12), ..default() },
    ));
}

/// The desktop text box: Enter opens it, typing fills it (the companion listens), Enter sends,
/// Escape closes. Allocates only while the user types.
fn type_text(
    mut keys: MessageReader<bevy::input::keyboard::KeyboardInput>,
    mut entry: ResMut<TextEntry>,
    mut typed: Local<String>,
    mut bridge: ResMut<Bridge>,
    mut conversation: ResMut<Conversation>,
    mut line: Query<&mut Text, With<TypedLine>>,
) {
    use bevy::input::ButtonState;
    use bevy::input::keyboard::Key;
    let mut changed = false;
    for k in keys.read() {
        if k.state != ButtonState::Pressed {
            continue;
        }
        match (&k.logical_key, entry.0) {
            (Key::Enter, false) => entry.0 = true,
            (Key::Enter, true) => {
                let text = typed.trim().to_string();
                if !text.is_empty() {
                    bridge.say(&text, None);
                }
                typed.clear();
                entry.0 = false;
            }
            (Key::Escape, true) => {
                typed.clear();
                entry.0 = false;
                if *conversation == Conversation::Listening {
                    *conversation = Conversation::Idle;
                }
            }
            (Key::Backspace, true) => {
                typed.pop();
            }
            (_, true) => {
                if let Some(t) = &k.text {
                    typed.extend(t.chars().filter(|c| !c.is_control()));
                }
            }
            _ => continue,
        }
        changed = true;
    }
    if entry.0 && !typed.is_empty() && matches!(*conversation, Conversation::Idle) {
        *conversation = Conversation::Listening;
    }
    if changed && let Ok(mut t) = line.single_mut() {
        t.0 = if entry.0 { format!("you> {}_", *typed) } else { TYPE_HINT.to_string() };
    }
}

fn show_debug(
    bridge: Res<Bridge>,
    conversation: Res<Conversation>,
    mut shown: Local<Option<(Conversation, Option<TurnLatency>)>>,
    mut panel: Query<&mut Text, With<DebugPanel>>,
) {
    let now = (*conversation, bridge.last);
    if *shown == Some(now) {
        return;
    }
    *shown = Some(now);
    if let Ok(mut t) = panel.single_mut() {
        t.0 = format!(
            "{}\n{:?}\n{}",
            bridge.label,
            *conversation,
            bridge.last.map_or_else(|| "no turn yet".to_string(), |l| l.line())
        );
    }
}
