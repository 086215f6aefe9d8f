//! Ceremony mode: a checked script ([`script`]) stepped through in the frame loop by
//! [`CeremonyPlugin`], steered by [`CeremonyCommand`]s through the control plane (the operator
//! page, `ceremony next` on the socket), publishing a [`CeremonyStatus`] whenever it changes.
//!
//! Everything a step needs is loaded before the ceremony starts (music decoded, vows reviewed),
//! so the frame loop never waits on the script, the disk or the network: lines go to the
//! speaker thread, music to the output, pictures to the capture worker, and a step ends when
//! the audio clock has played its last sample (a mark queued after the line).

pub mod launch;
pub mod prepare;
pub mod script;

use crate::bridge::{Bridge, CompanionSystems};
use crate::capture::{CaptureDone, CaptureRequest, CaptureSource, PixelFormat};
pub use crate::control::CeremonyCommand;
use crate::control::{ControlReply, Replier};
use crate::hearing::{Heard, Hearing};
use crate::music::Track;
use bevy::prelude::*;
use script::{Action, Script};
use std::path::PathBuf;
use tomoni_avatar::Companion;
use tomoni_avatar::bevy_vrm1::prelude::VrmBone;
use tomoni_core::behaviour::{Conversation, EmotionCue, Gesture, GestureCue};

/// Frames the avatar has been ready before the first step begins (render pipelines compile in
/// the background: the first frames after loading can come out blank).
pub const WARMUP_FRAMES: u32 = 10;

/// Running, paused or over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Stepping through.
    Running,
    /// Held by the operator.
    Paused,
    /// Over (every step ran, or the operator stopped it).
    Done,
}

impl RunState {
    /// As written in the API (`running`, `paused`, `done`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Done => "done",
        }
    }
}

/// Where the current step is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Not begun yet (begins this frame).
    Start,
    /// Speaking; over when the audio clock has played mark `.0`.
    Speaking(u64),
    /// Over at this ceremony time, seconds.
    Until(f32),
    /// Over when the music has ended.
    Music,
    /// Over when capture `.0` is written (or at the deadline).
    Photo(u64, f32),
    /// Over when the operator says next (or, in an automatic run, at this time).
    Operator(Option<f32>),
}

/// A step as it happened, on the ceremony's clock (the audio clock in headless runs).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepRecord {
    /// Index in the script.
    pub index: usize,
    /// The step's name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Start, seconds.
    pub start: f32,
    /// End, seconds (`None`: cut short by the operator, see `ended_by`).
    pub end: Option<f32>,
    /// What the companion said (tags removed), if it spoke.
    pub said: Option<String>,
    /// `done`, or the operator's command that ended it.
    pub ended_by: String,
    /// A picture taken in the step.
    pub photo: Option<PathBuf>,
    /// What the person was heard to say (a `listen` step ended by their words).
    pub heard: Option<String>,
}

/// What the operator page and the panel show; published whenever it changes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CeremonyStatus {
    /// The script's title.
    pub title: String,
    /// The current step's index.
    pub step: usize,
    /// Its name.
    pub name: String,
    /// `running`, `paused` or `done`.
    pub state: &'static str,
    /// Every step's name and kind.
    pub steps: Vec<(String, &'static str)>,
    /// What the companion is saying now (empty when silent).
    pub saying: String,
    /// Whether this is a rehearsal.
    pub rehearsal: bool,
    /// Whether music is playing.
    pub music: bool,
    /// Whether the current step waits for the operator's next.
    pub waiting_for_operator: bool,
    /// Whether the first step has begun (the companion is loaded and in place).
    pub started: bool,
}

/// Step, state, waiting for the operator, music, started, length of what is being said.
type StatusKey = (usize, RunState, bool, bool, bool, usize);

/// Receives each new status (the operator page's state feed); must not block.
pub type StatusSink = Box<dyn Fn(&CeremonyStatus) + Send + Sync>;

/// The running ceremony (a resource).
#[derive(Resource)]
pub struct Ceremony {
    script: Script,
    tracks: Vec<Option<Track>>,
    /// Current step.
    pub step: usize,
    /// Running, paused or done.
    pub state: RunState,
    phase: Phase,
    /// A rehearsal: marked as such, and the operator may jump to any step.
    pub rehearsal: bool,
    /// Automatic run: waits for the operator end after this many seconds.
    pub auto_wait: Option<f32>,
    /// Where photos go.
    pub photo_dir: PathBuf,
    /// A planner's phone takes photos (the operator page has a photo desk): a `photo` step,
    /// once its own picture is taken, holds for the operator's next, so the phone's photo of
    /// the moment is taken during it (and listed as that step's).
    pub hold_photo_moments: bool,
    /// Seconds of ceremony time (advances while running).
    pub t: f32,
    /// What happened, step by step.
    pub records: Vec<StepRecord>,
    music_playing: bool,
    ring_shown: bool,
    next_capture: u64,
    saying: String,
    last_key: Option<StatusKey>,
    sink: Option<StatusSink>,
    queue: Vec<(CeremonyCommand, Replier)>,
    ready_frames: u32,
    /// This ceremony set the conversation to listening (and so must set it back).
    listening: bool,
    /// Words heard in the current `listen` step, and when the last of them came: the step
    /// ends after the step's `quiet` with no new words begun. Wall time, the microphone's
    /// clock (a headless ceremony's own clock may run faster than the person speaks).
    heard: Option<(String, std::time::Instant)>,
}

/// In an automatic run with ears, the longest a `listen` step waits for words (seconds of
/// ceremony time) when the script gives no `seconds`.
pub const LISTEN_AUTO_SECS: f32 = 30.0;

impl Ceremony {
    /// A ceremony ready to run `script`: music decoded now (off the frame loop); refused if a
    /// vows step has no reviewed text.
    pub fn new(script: Script, photo_dir: PathBuf) -> Result<Self, String> {
        if let Some(s) = script.unprepared() {
            return Err(format!(
                "{}:{}: step {:?} has no reviewed vows yet: run `tomoni ceremony prepare {}` and review the text",
                script.path.display(),
                s.line,
                s.name,
                script.path.display()
            ));
        }
        let tracks = script
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::Music { file, .. } => crate::music::decode(file).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            script,
            tracks,
            step: 0,
            state: RunState::Running,
            phase: Phase::Start,
            rehearsal: false,
            auto_wait: None,
            photo_dir,
            hold_photo_moments: false,
            t: 0.0,
            records: Vec::new(),
            music_playing: false,
            ring_shown: false,
            next_capture: 1 << 40,
            saying: String::new(),
            last_key: None,
            sink: None,
            queue: Vec::new(),
            ready_frames: 0,
            listening: false,
            heard: None,
        })
    }

    /// Sends every new status to `sink` (and the current one at once).
    pub fn set_sink(&mut self, sink: StatusSink) {
        sink(&self.status());
        self.sink = Some(sink);
    }

    /// Queues an operator's command; it is carried out (and `reply` answered once) this frame.
    pub fn request(&mut self, cmd: CeremonyCommand, reply: Replier) {
        self.queue.push((cmd, reply));
    }

    /// In an `outfit` or `photo` step: a headless recording draws every frame meanwhile, so the
    /// photo shows the outfit just put on. (Drawn only on the frames it kept, the new clothes'
    /// morph targets were at times missing from the photo: Bevy 0.19 rebinds a mesh shown again
    /// only when it changes.)
    pub fn dressing_or_photographing(&self) -> bool {
        self.state == RunState::Running
            && matches!(
                self.script.steps.get(self.step).map(|s| &s.action),
                Some(Action::Outfit { .. } | Action::Photo)
            )
    }

    /// The script.
    pub fn script(&self) -> &Script {
        &self.script
    }

    /// The status now.
    pub fn status(&self) -> CeremonyStatus {
        let step = self.script.steps.get(self.step);
        CeremonyStatus {
            title: self.script.title.clone(),
            step: self.step,
            name: step.map_or(String::new(), |s| s.name.clone()),
            state: self.state.as_str(),
            steps: self.script.steps.iter().map(|s| (s.name.clone(), s.action.kind())).collect(),
            saying: self.saying.clone(),
            rehearsal: self.rehearsal,
            music: self.music_playing,
            waiting_for_operator: matches!(self.phase, Phase::Operator(_)) && self.state == RunState::Running,
            started: self.ready_frames >= WARMUP_FRAMES,
        }
    }

    /// What the status depends on, cheaply: when this is unchanged, so is the status.
    fn status_key(&self) -> StatusKey {
        (
            self.step,
            self.state,
            matches!(self.phase, Phase::Operator(_)),
            self.music_playing,
            self.ready_frames >= WARMUP_FRAMES,
            self.saying.len(),
        )
    }

    /// Sends the status to the sink if it changed; judged on a key that costs no allocation
    /// (the status itself clones the step list), so an unchanged frame allocates nothing.
    fn publish(&mut self) {
        let key = self.status_key();
        if self.last_key != Some(key) {
            self.last_key = Some(key);
            let status = self.status();
            if let Some(sink) = &self.sink {
                sink(&status);
            }
        }
    }

    /// Carries out an operator's command; `Err` says why it was refused.
    pub fn command(&mut self, cmd: CeremonyCommand, bridge: &mut Bridge) -> Result<String, String> {
        let last = self.script.steps.len() - 1;
        match (cmd, self.state) {
            (_, RunState::Done) => return Err("the ceremony is over".into()),
            (CeremonyCommand::Next, _) => {
                self.end_step(bridge, "next");
                if self.step == last {
                    self.state = RunState::Done;
                } else {
                    self.go(self.step + 1);
                }
            }
            (CeremonyCommand::Back, _) => {
                self.end_step(bridge, "back");
                self.go(self.step.saturating_sub(1));
            }
            (CeremonyCommand::Pause, RunState::Running) => {
                self.end_step(bridge, "pause");
                bridge.music.stop(1.0);
                self.state = RunState::Paused;
            }
            (CeremonyCommand::Pause, RunState::Paused) => return Err("already paused".into()),
            (CeremonyCommand::Resume, RunState::Paused) => {
                self.state = RunState::Running;
                self.go(self.step);
            }
            (CeremonyCommand::Resume, RunState::Running) => return Err("not paused".into()),
            (CeremonyCommand::Stop, _) => {
                self.end_step(bridge, "stop");
                bridge.music.stop(2.0);
                self.state = RunState::Done;
            }
            (CeremonyCommand::Jump(n), _) => {
                if !self.rehearsal {
                    return Err("jumping to a step is for rehearsals (--rehearse)".into());
                }
                if n > last {
                    return Err(format!("no step {n} (the last is {last})"));
                }
                self.end_step(bridge, "jump");
                self.go(n);
            }
        }
        Ok(format!("{} {}", self.state.as_str(), self.script.steps[self.step].name))
    }

    /// Makes `step` current; it begins on the next running frame (after `Resume` if paused).
    fn go(&mut self, step: usize) {
        self.step = step;
        self.phase = Phase::Start;
    }

    /// Ends the current step early (the operator moved on): speech stops at once.
    fn end_step(&mut self, bridge: &mut Bridge, by: &str) {
        if self.phase != Phase::Start
            && let Some(r) = self.records.last_mut()
            && r.index == self.step
            && r.end.is_none()
        {
            r.ended_by = by.to_string();
            r.end = Some(self.t);
        }
        match self.phase {
            Phase::Speaking(_) => bridge.interrupt(),
            // Skipping a piece the ceremony was waiting on fades it out; music meant to play
            // under later steps (`wait = false`) plays on.
            Phase::Music => bridge.music.stop(1.0),
            _ => {}
        }
        self.saying.clear();
        self.phase = Phase::Start;
    }

    /// Begins the current step; `hears`: ears are attached (a `listen` step then waits for the
    /// person's words).
    fn begin(&mut self, bridge: &mut Bridge, out: &mut StepOutputs, hears: bool) {
        let step = self.script.steps[self.step].clone();
        let mut said = None;
        let t = self.t;
        self.phase = match &step.action {
            Action::Say { text } | Action::Vows { text: Some(text), .. } => {
                let words = bridge.speak_line(text);
                self.saying = words.clone();
                said = Some(words);
                Phase::Speaking(bridge.mark_end())
            }
            Action::Vows { text: None, .. } => Phase::Until(t), // refused in `new`
            Action::Gesture { name } => {
                let (cue, secs) = match Gesture::parse(name) {
                    Some(g) => (GestureCue::Procedural(g), g.duration()),
                    None => (GestureCue::Clip(name.clone()), 3.0),
                };
                out.gestures.push(cue);
                Phase::Until(t + secs)
            }
            Action::Expression { emotion, intensity } => {
                out.emotions.push(EmotionCue { emotion: crate::bridge::map_emotion(*emotion), intensity: *intensity });
                Phase::Until(t + 1.0)
            }
            Action::Music { fade_in, fade_out, seconds, wait, .. } => {
                if let Some(track) = &self.tracks[self.step] {
                    let b = &mut *bridge;
                    b.music.play(b.output.get(), track, *fade_in, *fade_out, *seconds);
                }
                if *wait { Phase::Music } else { Phase::Until(t) }
            }
            Action::MusicStop { fade_out } => {
                bridge.music.stop(*fade_out);
                Phase::Until(t + fade_out)
            }
            Action::Ring { seconds } => {
                out.gestures.push(GestureCue::Procedural(Gesture::OfferHand));
                out.show_ring = true;
                self.ring_shown = true;
                Phase::Until(t + seconds)
            }
            Action::Outfit { name } => {
                out.outfit = Some(name.clone());
                Phase::Until(t + 0.5)
            }
            Action::Photo => {
                self.next_capture += 1;
                let path = self.photo_dir.join(format!("photo-{:02}-{}.png", self.step, slug(&step.name)));
                out.photo = Some((self.next_capture, path.clone()));
                Phase::Photo(self.next_capture, t + 10.0)
            }
            Action::Pause { seconds: Some(s) } => Phase::Until(t + s),
            Action::Pause { seconds: None } => Phase::Operator(self.auto_wait.map(|w| t + w)),
            Action::Listen { seconds, .. } => {
                out.listening = true;
                self.heard = None;
                // With ears, an automatic run waits for the words (up to the step's time).
                let wait = |w| if hears { seconds.unwrap_or(LISTEN_AUTO_SECS) } else { seconds.unwrap_or(w) };
                Phase::Operator(self.auto_wait.map(|w| t + wait(w)))
            }
        };
        let photo = out.photo.as_ref().map(|(_, p)| p.clone());
        self.records.push(StepRecord {
            index: self.step,
            name: step.name.clone(),
            kind: step.action.kind(),
            start: t,
            end: None,
            said,
            ended_by: String::new(),
            photo,
            heard: None,
        });
        info!("ceremony: step {} {:?} ({})", self.step, step.name, step.action.kind());
    }

    /// Whether the current step is over.
    fn over(&mut self, bridge: &mut Bridge, photos: &[u64], person_speaking: bool) -> bool {
        match self.phase {
            Phase::Start => false,
            Phase::Speaking(mark) => bridge.heard_mark() >= mark,
            Phase::Until(at) => self.t >= at,
            Phase::Music => !bridge.music.playing(),
            Phase::Photo(id, deadline) => {
                let taken = photos.contains(&id) || self.t >= deadline;
                if taken && self.hold_photo_moments {
                    // The phone's turn: the moment lasts until the operator's next.
                    self.phase = Phase::Operator(self.auto_wait.map(|w| self.t + w));
                    return false;
                }
                taken
            }
            Phase::Operator(auto) => {
                let quiet = match self.script.steps.get(self.step).map(|s| &s.action) {
                    Some(Action::Listen { quiet, .. }) => *quiet,
                    _ => 0.0,
                };
                let answered =
                    self.heard.as_ref().is_some_and(|(_, at)| !person_speaking && at.elapsed().as_secs_f32() >= quiet);
                answered || auto.is_some_and(|at| self.t >= at)
            }
        }
    }
}

/// What beginning a step asks of the world this frame.
#[derive(Default)]
struct StepOutputs {
    gestures: Vec<GestureCue>,
    emotions: Vec<EmotionCue>,
    show_ring: bool,
    photo: Option<(u64, PathBuf)>,
    listening: bool,
    outfit: Option<String>,
}

fn slug(name: &str) -> String {
    name.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// The guests' view of the couple: (camera position, point looked at, vertical field of view
/// in degrees). In front of them (the person where the viewer stands, the companion beside,
/// turned to each other), square to the line between them and far enough to show both from
/// head to toe; turned 25° toward the companion's face, so it is seen three-quarters, not in
/// profile. Headless frames and the live spectator window both use it.
pub fn spectator_view(person: Vec3, companion: Vec3, height: f32) -> (Vec3, Vec3, f32) {
    let between = (person + companion) * 0.5;
    let side = (companion - person).normalize_or(Vec3::X);
    let front = Vec3::Y.cross(side).normalize_or(Vec3::NEG_Z);
    let front = if front.z > 0.0 { -front } else { front };
    let dir = (front * 25f32.to_radians().cos() - side * 25f32.to_radians().sin()).normalize();
    (between + dir * 3.4 + Vec3::Y * 1.3, between + Vec3::Y * (height * 0.55), 38.0)
}

/// Which camera a `photo` step captures (set by the mode: the spectator camera headless, the
/// window on a desktop).
#[derive(Resource, Debug, Clone)]
pub struct CeremonyCamera(pub CaptureSource);

/// The ring prop, shown on the companion's right hand from the `ring` step on.
#[derive(Component)]
pub struct RingProp;

/// A camera that takes one close-up of the ring while the hand is held out (headless runs:
/// at life size in a wide shot the ring is a few pixels).
#[derive(Resource, Debug)]
pub struct RingCloseUp {
    /// The camera (inactive except for the shot).
    pub camera: Entity,
    /// Its image.
    pub target: Handle<Image>,
    /// Where the picture goes.
    pub path: PathBuf,
    /// 0: waiting, 1: requested, 2: written.
    pub state: u8,
}

/// Capture id of the ring close-up.
const RING_SHOT: u64 = (1 << 40) - 1;

fn ring_closeup(
    ceremony: Res<Ceremony>,
    shot: Option<ResMut<RingCloseUp>>,
    ring: Query<&GlobalTransform, With<RingProp>>,
    companion: Query<&GlobalTransform, With<Companion>>,
    mut cams: Query<(&mut Camera, &mut Transform)>,
    mut captures: MessageWriter<CaptureRequest>,
    mut done: MessageReader<CaptureDone>,
) {
    let Some(mut shot) = shot else { return };
    if done.read().any(|d| d.id == RING_SHOT) {
        shot.state = 2;
        if let Ok((mut cam, _)) = cams.get_mut(shot.camera) {
            cam.is_active = false;
        }
    }
    let held = match (ceremony.state, ceremony.records.last()) {
        (RunState::Running, Some(r)) if r.kind == "ring" && r.end.is_none() => ceremony.t - r.start,
        _ => return,
    };
    // When the offered hand has come up and settled.
    if shot.state != 0 || held < 1.6 {
        return;
    }
    let (Ok(ring), Ok(body)) = (ring.single(), companion.single()) else { return };
    let at = ring.translation();
    // From in front of the companion, a little above the hand, 35 cm away.
    let front = (body.rotation() * Vec3::Z).normalize_or_zero();
    let eye = at + front * 0.3 + Vec3::Y * 0.15;
    if let Ok((mut cam, mut tf)) = cams.get_mut(shot.camera) {
        *tf = Transform::from_translation(eye).looking_at(at, Vec3::Y);
        cam.is_active = true;
    }
    captures.write(CaptureRequest {
        id: RING_SHOT,
        source: CaptureSource::Image(shot.target.clone()),
        path: shot.path.clone(),
        format: PixelFormat::Rgb,
    });
    shot.state = 1;
}

/// Steps the ceremony in the frame loop, before the companion's talk systems.
pub struct CeremonyPlugin;

impl Plugin for CeremonyPlugin {
    fn build(&self, app: &mut App) {
        // Also in apps without the capture plugin (benches): the messages must exist.
        if !app.world().contains_resource::<Messages<CaptureRequest>>() {
            app.add_message::<CaptureRequest>().add_message::<CaptureDone>();
        }
        app.add_message::<Heard>();
        app.add_systems(
            Update,
            step_ceremony.before(CompanionSystems::Talk).in_set(tomoni_core::TomoniSystems::Dialogue),
        )
        .add_systems(Update, attach_ring)
        // After transforms are propagated, so the close-up aims at where the ring is now.
        .add_systems(PostUpdate, ring_closeup.after(bevy::transform::TransformSystems::Propagate));
    }
}

#[expect(clippy::too_many_arguments, reason = "a Bevy system: each parameter is a resource it touches")]
fn step_ceremony(
    time: Res<Time>,
    mut ceremony: ResMut<Ceremony>,
    mut bridge: ResMut<Bridge>,
    mut captured: MessageReader<CaptureDone>,
    mut captures: MessageWriter<CaptureRequest>,
    mut gestures: MessageWriter<GestureCue>,
    mut emotions: MessageWriter<EmotionCue>,
    mut conversation: ResMut<Conversation>,
    camera: Option<Res<CeremonyCamera>>,
    mut ring: Query<&mut Visibility, With<RingProp>>,
    ready: Query<(), (With<Companion>, With<tomoni_avatar::AvatarReady>)>,
    (hearing, mut heard): (Option<ResMut<Hearing>>, MessageReader<Heard>),
    mut outfit: Option<ResMut<tomoni_avatar::outfit::Outfit>>,
) {
    let c = &mut *ceremony;
    // The person's words end a listen step (the ears are open only then).
    for Heard(text) in heard.read() {
        if c.phase != Phase::Start
            && c.state == RunState::Running
            && matches!(c.script.steps.get(c.step).map(|s| &s.action), Some(Action::Listen { .. }))
        {
            info!("ceremony: heard {text:?}");
            let words = match c.heard.take() {
                Some((before, _)) => format!("{before} {text}"),
                None => text.clone(),
            };
            c.heard = Some((words, std::time::Instant::now()));
        }
    }
    // An utterance begun and not yet transcribed: the person is still answering.
    let person_speaking = hearing.as_ref().is_some_and(|h| h.in_flight > 0);
    for (cmd, reply) in std::mem::take(&mut c.queue) {
        let result = c.command(cmd, &mut bridge);
        // Published before the reply, so a client that renders the state its reply carries
        // never shows the state from before its own command.
        c.publish();
        match result {
            Ok(done) => reply.finish(ControlReply::Done(done)),
            Err(e) => {
                info!("ceremony: {cmd:?} refused: {e}");
                reply.finish(ControlReply::Error(e));
            }
        }
    }
    let photos: Vec<u64> = captured.read().filter(|d| d.id >= 1 << 40).map(|d| d.id).collect();
    // The first step waits for the companion to be there to take it (commands are answered
    // meanwhile: a rehearsal may jump before anything has begun).
    if c.ready_frames < WARMUP_FRAMES && !ready.is_empty() {
        c.ready_frames += 1;
    }
    if c.state == RunState::Running && c.ready_frames >= WARMUP_FRAMES {
        c.t += time.delta_secs();
        if c.phase != Phase::Start && c.over(&mut bridge, &photos, person_speaking) {
            if let Some(r) = c.records.last_mut() {
                r.end = Some(c.t);
                r.heard = c.heard.take().map(|(words, _)| words);
                r.ended_by = if r.heard.is_some() { "heard" } else { "done" }.into();
            }
            c.saying.clear();
            if c.step + 1 >= c.script.steps.len() {
                c.state = RunState::Done;
                info!("ceremony: done");
            } else {
                c.go(c.step + 1);
            }
        }
        if c.state == RunState::Running && c.phase == Phase::Start {
            let mut out = StepOutputs::default();
            c.begin(&mut bridge, &mut out, hearing.is_some());
            for g in out.gestures {
                gestures.write(g);
            }
            for e in out.emotions {
                emotions.write(e);
            }
            if let (Some(name), Some(o)) = (out.outfit, outfit.as_mut()) {
                info!("ceremony: wearing {name}");
                o.0 = Some(name);
            }
            if let Some((id, path)) = out.photo {
                match &camera {
                    Some(cam) => {
                        captures.write(CaptureRequest { id, source: cam.0.clone(), path, format: PixelFormat::Rgb });
                    }
                    None => warn!("ceremony: no camera to take the photo with"),
                }
            }
            if out.listening {
                *conversation = Conversation::Listening;
                c.listening = true;
            }
        }
    }
    // A listen step that has ended (or was skipped) hands the conversation back.
    let in_listen = c.state == RunState::Running
        && c.phase != Phase::Start
        && matches!(c.script.steps.get(c.step).map(|s| &s.action), Some(Action::Listen { .. }));
    if c.listening && !in_listen {
        c.listening = false;
        if *conversation == Conversation::Listening {
            *conversation = Conversation::Idle;
        }
    }
    // The script holds the ears: open in a listen step only, so guests' voices neither cut
    // into the vows nor become turns for the language model.
    if let Some(mut h) = hearing {
        let open = in_listen && c.state == RunState::Running;
        if h.scripted != Some(open) {
            h.scripted = Some(open);
        }
    }
    c.music_playing = bridge.music.playing();
    if c.ring_shown {
        for mut v in &mut ring {
            if *v != Visibility::Inherited {
                *v = Visibility::Inherited;
            }
        }
    }
    c.publish();
}

/// Puts the ring prop (hidden until the ring step) on the companion's right hand once the
/// avatar is ready.
fn attach_ring(
    mut commands: Commands,
    assets: Option<Res<AssetServer>>,
    hands: Query<(Entity, &VrmBone, &tomoni_avatar::pose::ModelRest)>,
    companions: Query<Entity, With<Companion>>,
    parents: Query<&ChildOf>,
    rings: Query<(), With<RingProp>>,
    ceremony: Option<Res<Ceremony>>,
) {
    let Some(assets) = assets.filter(|_| ceremony.is_some() && rings.is_empty()) else { return };
    let Ok(companion) = companions.single() else { return };
    for (hand, bone, rest) in &hands {
        if bone.0.as_str() != "rightHand" || !parents.iter_ancestors(hand).any(|a| a == companion) {
            continue;
        }
        // On the palm, a finger's length out from the wrist, in the model's rest frame (the
        // right hand points along −X in a VRM 1.0 T-pose, its palm down): written in the
        // bone's own frame so it holds on any rig.
        let model_offset = Vec3::new(-0.085, -0.036, 0.0);
        let local = rest.0.inverse() * model_offset;
        // The ring lies flat on the palm, its stone away from the hand (the model's ring
        // stands along +Y; the palm faces −Y).
        let rot = rest.0.inverse() * Quat::from_rotation_x(std::f32::consts::PI);
        let scene = assets.load(GltfAssetLabel::Scene(0).from_asset("props/ring.gltf"));
        commands.spawn((
            RingProp,
            Name::new("ring"),
            bevy::world_serialization::WorldAssetRoot(scene),
            Transform::from_translation(local).with_rotation(rot),
            Visibility::Hidden,
            ChildOf(hand),
        ));
        return;
    }
}
