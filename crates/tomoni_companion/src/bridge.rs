//! The live companion in the frame loop: the bridge from the talk thread (persona) and the
//! speaker thread (voice) to the avatar.
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
//! frame loop, and once warmed up nothing allocates per frame. Scripted lines (greetings,
//! vows) go through [`Bridge::speak_line`], with their cues on the same audio clock.

use crate::control::Replier;
use crate::error::Failure;
use crate::session::Session;
use crate::speech::{Failover, Loss, Output, Reopened, voice_engine};
use crate::talk::{Talk, UserInput, start_talk};
use crate::telemetry::TurnLatency;
use bevy::platform::cell::SyncCell;
use bevy::prelude::*;
use crossbeam_channel::{Receiver, Sender};
use std::collections::VecDeque;
use std::time::Instant;
use tomoni_core::TomoniSystems;
use tomoni_core::behaviour::{Conversation, Emotion, EmotionCue, Gesture, GestureCue, MouthWeights};
use tomoni_persona::client::{DialogueEvent, TurnStatus, scripted_events};
use tomoni_persona::persona::Persona;
use tomoni_persona::tags;
use tomoni_voice::speaker::{self, Job, Speaker};
use tomoni_voice::viseme::VisemeTrack;

/// The companion's systems, in order, inside [`TomoniSystems::Dialogue`]: other plugins (the
/// ceremony, photo capture) order themselves against these.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompanionSystems {
    /// Turn events from the talk thread become speech jobs and cues.
    Talk,
    /// Speech events (tracks, marks) from the speaker thread.
    Voice,
    /// The offline clock renders this frame's audio.
    Audio,
    /// Mouth, cues and turn state follow what is heard now.
    Follow,
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
    input: Sender<UserInput>,
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
    /// "NAME is an AI companion, not a person." (top of the desktop panel).
    pub disclosure: String,
    /// Timeline of what happened, for the headless demo (`None`: not kept).
    pub timeline: Option<Vec<serde_json::Value>>,
    seconds: f64,
    /// The last mark id the audio clock has reached (scripted lines end on one).
    heard_mark: u64,
    /// Music playing beside the voice (ceremonies), on the same output.
    pub music: crate::music::MusicPlayer,
    /// Watches a device output and stands in for it (`None`: offline by choice).
    failover: Option<Failover>,
    /// The device's stream stalled and the voice moved off it: why, until a new stream opens
    /// (only the stream had stopped) or none does (the device is gone).
    stalled: Option<String>,
    /// What the person must know that is not part of the conversation.
    pub notices: Notices,
    /// The persona's first language (for what the companion says about itself).
    lang: tomoni_persona::wellbeing::Lang,
}

/// What the person must know that is not part of the conversation (a full disk, no sound): a
/// person in glasses sees no terminal, so the companion's label shows it and `status`
/// reports it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Notices {
    /// Why what is said is not being saved now.
    pub saving: Option<String>,
    /// Why the voice is not heard now.
    pub audio: Option<String>,
}

impl Notices {
    /// One line for the label, if there is anything to say.
    pub fn line(&self) -> Option<String> {
        let parts: Vec<String> = [("not saving", &self.saving), ("no sound", &self.audio)]
            .into_iter()
            .filter_map(|(what, why)| why.as_ref().map(|w| format!("{what}: {w}")))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" / "))
    }
}

impl Bridge {
    /// The voice's sample rate (the clock's samples per second).
    pub fn speech_rate(&self) -> u32 {
        self.speaker.sample_rate()
    }

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
            disclosure: String::new(),
            seconds: 0.0,
            heard_mark: 0,
            music: crate::music::MusicPlayer::default(),
            failover: None,
            stalled: None,
            notices: Notices::default(),
            lang: tomoni_persona::wellbeing::Lang::En,
        }
    }

    /// Whether the voice is on a device now, standing in for one that went away, or offline
    /// by choice (`status` reports it).
    pub fn audio_state(&mut self) -> &'static str {
        match (self.output.get(), &self.failover) {
            (Output::Device(_), _) => "device",
            (Output::Offline { .. }, Some(_)) => "no device: silent, timed by the frame clock",
            (Output::Offline { .. }, None) => "offline",
        }
    }

    /// The device was lost: the offline clock takes the voice (the companion speaks on,
    /// silently and in time) and a device is looked for. Gone for certain, the label says so;
    /// stalled, a new stream is tried at once and only its failing says so.
    fn lose_device(&mut self, loss: Loss) {
        let Some(f) = self.failover.as_mut() else { return };
        let offline = Output::offline(f.stream(), false);
        let stalled = matches!(loss, Loss::Stalled(_));
        if let Output::Device(dead) = std::mem::replace(self.output.get(), offline) {
            f.reopen(Some(dead), stalled);
        }
        self.music.forget_device();
        self.lead_samples = 0;
        match loss {
            Loss::Gone(why) => self.announce_loss(&why),
            Loss::Stalled(why) => {
                info!("audio: {why}; a new stream on the default device tells whether the device is still there");
                self.stalled = Some(why);
            }
        }
    }

    /// Tells that the device went away (log, label, conversation log).
    fn announce_loss(&mut self, why: &str) {
        warn!(
            "audio: the output device went away ({why}); the companion speaks on silently, in time, and its voice \
             comes back when a device does"
        );
        self.notices.audio = Some("the audio device went away".into());
        self.log("audio_lost", || serde_json::json!({"why": why}));
    }

    /// A device opened again: the voice moves back to it from the next audio block.
    fn regain_device(&mut self, mut m: Box<kira::AudioManager>) {
        let Some(f) = self.failover.as_mut() else { return };
        if let Err(e) = m.play(f.stream()) {
            warn!("audio: the device that came back refused the voice ({e}); looking again");
            f.reopen(Some(m), false);
            if let Some(why) = self.stalled.take() {
                self.announce_loss(&why);
            }
            return;
        }
        f.opened(self.speaker.clock().played_samples());
        *self.output.get() = Output::Device(m);
        self.lead_samples = u64::from(self.speaker.sample_rate()) * 40 / 1000;
        if let Some(why) = self.stalled.take() {
            info!("audio: the output's stream stalled ({why}) and a new one on the default device took the voice");
            self.log("audio_restarted", || serde_json::json!({"why": why}));
            return;
        }
        info!("audio: the output device is back: the companion is heard again");
        self.notices.audio = None;
        self.log("audio_back", || serde_json::json!({}));
    }

    /// Saving stopped (`Some(why)`) or works again: the label says so, and the companion tells
    /// the person in its own voice, after what it is saying now.
    fn saving_changed(&mut self, why: Option<String>) {
        use tomoni_persona::wellbeing::Lang;
        let line = match (&why, self.lang) {
            (Some(w), Lang::En) => format!(
                "[sad 0.3] I can't save what we say right now: {w}. I'm keeping all of it, and I'll save it as soon \
                 as I can."
            ),
            (Some(w), Lang::Ja) => format!(
                "[sad 0.3] いま、話したことを保存できません（{}）。内容は覚えていて、保存できるようになったらすぐに保存します。",
                if w.contains("disk") {
                    "ディスクがいっぱいです"
                } else {
                    "保存先に書き込めません"
                }
            ),
            (None, Lang::En) => "Saving works again: everything we said is stored.".into(),
            (None, Lang::Ja) => "また保存できるようになりました。話したことはすべて保存しました。".into(),
        };
        self.notices.saving = why;
        let words = self.speak_line(&line);
        info!("the companion tells the person: {words}");
    }

    /// Speech samples played so far (the audio clock).
    pub fn played_samples(&self) -> u64 {
        self.speaker.clock().played_samples()
    }

    /// Speech samples queued but not yet played (0: silent).
    pub fn pending_samples(&self) -> u64 {
        let c = self.speaker.clock();
        c.pushed_samples().saturating_sub(c.played_samples())
    }

    /// Whether the current turn has ended (its `End` arrived).
    pub fn turn_ended(&self) -> bool {
        self.turn_ended
    }

    /// Output samples rendered so far by the offline output (its WAV position), if offline.
    pub fn rendered_samples(&mut self) -> Option<u64> {
        match self.output.get() {
            Output::Offline { capture: Some(c), .. } => Some(c.len() as u64),
            _ => None,
        }
    }

    /// The user says something (a new message interrupts the companion: barge-in). `reply`
    /// receives the spoken clauses and exactly one final reply.
    pub fn say(&mut self, text: &str, reply: Option<Replier>) {
        self.interrupt();
        // Latencies count from the moment the user's words leave their hands.
        self.turn_started = Some(Instant::now());
        self.latency = TurnLatency { turn: self.turn + 1, ..default() };
        let _ = self.input.send(UserInput::Say { text: text.to_string(), reply });
        self.log("user", || serde_json::json!({"text": text}));
    }

    /// The person said `text` out loud: a turn like [`Self::say`], with latencies counted from
    /// the end of their speech (the last voiced sample), `heard` ago, so the turn's first audio
    /// is the voice-to-voice time. `vad_ms` and `stt_ms` split `heard`.
    pub fn say_heard(&mut self, text: &str, heard: std::time::Duration, vad_ms: f64, stt_ms: f64) {
        self.say(text, None);
        self.turn_started = Instant::now().checked_sub(heard).or(self.turn_started);
        self.latency.heard = Some(heard.as_secs_f64() * 1000.0);
        self.latency.vad = Some(vad_ms);
        self.latency.stt = Some(stt_ms);
    }

    /// Says the persona's greeting (scripted, not from the LLM).
    pub fn greet(&mut self) {
        let greeting = self.greeting.clone();
        let _ = self.speak_line(&greeting);
    }

    /// Speaks a scripted line (a greeting, a vow) in the companion's voice, with its tags as
    /// cues on the audio clock, after whatever is already queued; returns its words without
    /// the tags. Nothing of it reaches the language model or memory.
    pub fn speak_line(&mut self, text: &str) -> String {
        let mut words = String::new();
        for ev in scripted_events(text) {
            match ev {
                DialogueEvent::Clause(_)
                | DialogueEvent::Emotion(..)
                | DialogueEvent::Gesture(_)
                | DialogueEvent::Pause(_) => self.perform(&ev),
                DialogueEvent::End(end) => words = end.text,
                _ => {}
            }
        }
        words
    }

    /// Queues a mark after everything sent to the speaker so far and returns its id: when
    /// [`Self::heard_mark`] reaches it, all of it has been heard (how a scripted line ends).
    pub fn mark_end(&mut self) -> u64 {
        self.next_mark += 1;
        self.speaker.send(Job::Mark(self.next_mark));
        self.next_mark
    }

    /// The latest mark the audio clock has reached.
    pub fn heard_mark(&self) -> u64 {
        self.heard_mark
    }

    /// The person heard speaking over the companion: its voice drops to `gain` at once (the
    /// speech is not yet confirmed; [`Self::duck`]`(1.0)` restores it).
    pub fn duck(&mut self, gain: f32) {
        self.speaker.duck(gain);
    }

    /// Barge-in confirmed: silence from the next audio block, and the reply in progress is
    /// cancelled at the language model (stored as interrupted). The voice is at full gain again
    /// for the next reply.
    pub fn barge_in(&mut self) {
        self.interrupt();
        self.speaker.duck(1.0);
        if !self.turn_ended {
            let _ = self.input.send(UserInput::Cancel);
            self.turn_ended = true;
            let turn = self.turn;
            self.log("barge_in", || serde_json::json!({"turn": turn}));
        }
    }

    /// What the companion's voice played, for the listener's echo gate (once).
    pub fn take_playback_tap(&self) -> Option<tomoni_voice::stream::PlaybackTap> {
        self.speaker.take_tap()
    }

    /// Whether the companion is audible or about to be (speech queued, or a clause being made).
    pub fn voice_active(&self) -> bool {
        self.pending_samples() > 0 || self.speaker.busy()
    }

    /// Silences whatever is being said or synthesised and forgets pending cues (cheap when
    /// nothing is). A reply still streaming goes on arriving unless the user speaks.
    pub fn interrupt(&mut self) {
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
    pub fn perform(&mut self, ev: &DialogueEvent) {
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

/// The persona's emotion tag as the avatar's emotion.
pub fn map_emotion(e: tags::Emotion) -> Emotion {
    match e {
        tags::Emotion::Happy => Emotion::Happy,
        tags::Emotion::Angry => Emotion::Angry,
        tags::Emotion::Sad => Emotion::Sad,
        tags::Emotion::Relaxed => Emotion::Relaxed,
        tags::Emotion::Surprised => Emotion::Surprised,
        tags::Emotion::Neutral => Emotion::Neutral,
    }
}

/// Opens the session and the speaker and builds the bridge for a resolved config and
/// persona (`args` may override the endpoint and model). `offline_audio`: `Some(keep)` for the
/// offline clock (keeping the samples for a WAV), `None` for the default device.
pub fn open(
    config: &tomoni_core::config::AppConfig,
    persona: Persona,
    args: &crate::session::ChatArgs,
    offline_audio: Option<bool>,
) -> Result<(Bridge, String), Failure> {
    let (session, label) = Session::open(config, persona, args)?;
    let fallback = session.persona.fallback_line.clone();
    let greeting = session.persona.greeting.clone();
    let name = session.persona.name.clone();
    let lang = match session.persona.languages.first().map(String::as_str) {
        Some("ja") => tomoni_persona::wellbeing::Lang::Ja,
        _ => tomoni_persona::wellbeing::Lang::En,
    };
    let engine = voice_engine(&session.persona.voice);
    let voice = engine.describe();
    let (speaker, data) =
        Speaker::start(engine).map_err(|e| Failure::Runtime(format!("cannot start the speaker thread: {e}")))?;
    let (output, failover, audio) = match offline_audio {
        Some(keep) => (Output::offline(data, keep), None, "audio: offline, timed by the frame clock".to_string()),
        None => {
            let (output, failover, audio) = Output::device_or_offline(data);
            (output, Some(failover), audio)
        }
    };
    info!("{audio}");
    let talk = start_talk(session).map_err(|e| Failure::Runtime(format!("cannot start the talk thread: {e}")))?;
    let mut bridge = Bridge::new(talk, speaker, output, fallback);
    bridge.failover = failover;
    bridge.lang = lang;
    bridge.label = format!("{label}; voice {voice}; {audio}");
    bridge.greeting = greeting;
    bridge.disclosure = tomoni_persona::wellbeing::disclosure(&name, tomoni_persona::wellbeing::Lang::En);
    let label = bridge.label.clone();
    Ok((bridge, label))
}

/// Drives the companion from the bridge.
pub struct CompanionPlugin;

impl Plugin for CompanionPlugin {
    fn build(&self, app: &mut App) {
        use CompanionSystems::*;
        app.init_resource::<Conversation>()
            .init_resource::<MouthWeights>()
            .add_message::<EmotionCue>()
            .add_message::<GestureCue>()
            .configure_sets(Update, (Talk, Voice, Audio, Follow).chain().in_set(TomoniSystems::Dialogue))
            .add_systems(
                Update,
                (
                    drain_talk.in_set(Talk),
                    drain_voice.in_set(Voice),
                    (watch_output, advance_audio).chain().in_set(Audio),
                    follow_audio.in_set(Follow),
                ),
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
            Talk::Saving(why) => bridge.saving_changed(why),
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

/// Watches the device: one [`Failover::gone`] moves the voice to the offline clock; a device
/// found again takes it back. Per frame this reads two atomics and kira's error queue (no
/// lock, no allocation).
fn watch_output(mut bridge: ResMut<Bridge>) {
    let b = &mut *bridge;
    let Some(f) = b.failover.as_mut() else { return };
    let (played, pushed) = (b.speaker.clock().played_samples(), b.speaker.clock().pushed_samples());
    match b.output.get() {
        Output::Device(m) => {
            if let Some(loss) = f.gone(m, played, pushed) {
                b.lose_device(loss);
            }
        }
        Output::Offline { .. } => match f.try_reopened() {
            Some(Reopened::Device(m)) => b.regain_device(m),
            Some(Reopened::NoneAtOnce) => {
                if let Some(why) = b.stalled.take() {
                    b.announce_loss(&why);
                }
            }
            None => {}
        },
    }
}

/// Offline output: render this frame's share of audio, so the clock follows the app's time.
fn advance_audio(time: Res<Time>, mut bridge: ResMut<Bridge>) {
    bridge.seconds += time.delta_secs_f64();
    let b = &mut *bridge;
    if let Output::Offline { out, buf, capture, rate, carry } = b.output.get() {
        let want = time.delta_secs_f64() * f64::from(*rate) + *carry;
        let mut n = want.floor() as usize;
        *carry = want - n as f64;
        while n > 0 {
            let k = n.min(buf.len());
            out.render(&mut buf[..k], *rate);
            b.music.mix(&mut buf[..k]);
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
        bridge.heard_mark = bridge.heard_mark.max(id);
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
    // Once speaking, still speaking while the next clause is being made: a neural voice may take
    // longer over it than the last one takes to play, and a turn must not look over in the gap.
    let busy = bridge.speaker.busy();
    let speaking = pushed > played || (*conversation == Conversation::Speaking && busy);
    let next = if speaking {
        Conversation::Speaking
    } else if !bridge.turn_ended || busy {
        // Still making the reply, or its voice: a turn is over only when all of it is heard.
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
