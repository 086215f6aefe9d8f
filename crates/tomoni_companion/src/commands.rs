//! Carries out the control plane's commands in the frame loop.

use crate::bridge::{Bridge, map_emotion};
use crate::capture::{CaptureDone, CaptureRequest, CaptureSource, PixelFormat};
use crate::control::{ControlCommand, ControlInbox, ControlReply, ControlRequest, Replier};
use bevy::prelude::*;
use tomoni_core::TomoniSystems;
use tomoni_core::behaviour::{Conversation, EmotionCue, GestureCue};

/// Carries out control commands in the frame loop. Add transports by handing them
/// [`ControlInbox::sender`] (see [`crate::control::unix::listen`]).
pub struct ControlPlugin;

impl Plugin for ControlPlugin {
    fn build(&self, app: &mut App) {
        if !app.world().contains_resource::<Messages<CaptureRequest>>() {
            app.add_message::<CaptureRequest>().add_message::<CaptureDone>();
        }
        app.init_resource::<ControlInbox>()
            .init_resource::<Photos>()
            .init_resource::<FrameStats>()
            .add_message::<tomoni_xr::Recenter>()
            .add_message::<tomoni_xr::TakePhoto>()
            .add_message::<EmotionCue>()
            .add_message::<GestureCue>()
            .add_systems(First, count_frame)
            .add_systems(Update, (photo_key, drain_control).chain().in_set(TomoniSystems::Input))
            .add_systems(Update, photos_written);
    }
}

/// What the viewer sees in the live app (the left eye in XR, the window on a desktop): what a
/// `photo` captures.
#[derive(Resource, Debug, Clone)]
pub struct LiveView(pub CaptureSource);

/// Frame intervals since the last `status` request: the frame loop's health, read while it
/// runs (a soak compares its first minute with its last).
#[derive(Resource)]
pub struct FrameStats {
    /// Seconds between frames; room for ten minutes at 100 fps is reserved up front, so the
    /// frame loop never allocates here; frames past it are counted, not kept.
    intervals: Vec<f32>,
    /// Frames in the window (kept or not).
    frames: u64,
    /// Seconds the window has lasted.
    seconds: f64,
}

impl Default for FrameStats {
    fn default() -> Self {
        Self { intervals: Vec::with_capacity(60_000), frames: 0, seconds: 0.0 }
    }
}

impl FrameStats {
    /// Adds one frame interval.
    pub fn push(&mut self, dt: f32) {
        self.frames += 1;
        self.seconds += f64::from(dt);
        if self.intervals.len() < self.intervals.capacity() {
            self.intervals.push(dt);
        }
    }

    /// The window's frames, seconds and interval quantiles in ms, as JSON; starts a new window.
    pub fn report(&mut self) -> serde_json::Value {
        let mut v = std::mem::take(&mut self.intervals);
        v.sort_by(f32::total_cmp);
        let q = |p: f64| {
            if v.is_empty() { 0.0 } else { f64::from(v[((v.len() - 1) as f64 * p).round() as usize]) * 1000.0 }
        };
        let r = serde_json::json!({
            "frames": self.frames,
            "seconds": self.seconds,
            "frame_ms": { "p50": q(0.5), "p99": q(0.99), "max": q(1.0) },
        });
        v.clear();
        self.intervals = v; // the same reserved buffer, for the next window
        self.frames = 0;
        self.seconds = 0.0;
        r
    }
}

fn count_frame(time: Res<Time<Real>>, mut stats: ResMut<FrameStats>) {
    let dt = time.delta_secs();
    if dt > 0.0 {
        stats.push(dt);
    }
}

/// Capture ids of photos (apart from a ceremony's and the demo's).
const PHOTO_IDS: u64 = 1 << 41;

/// Photos asked for and not yet written, each answered when its file is.
#[derive(Resource, Default)]
struct Photos {
    taken: u64,
    pending: Vec<(u64, Replier)>,
}

/// F12 on the desktop and the controller's trigger in XR take a photo (through the control
/// plane, like every other way in).
fn photo_key(
    keys: Option<Res<ButtonInput<KeyCode>>>,
    mut trigger: MessageReader<tomoni_xr::TakePhoto>,
    inbox: Res<ControlInbox>,
) {
    let pulled = trigger.read().count() > 0;
    if pulled || keys.is_some_and(|k| k.just_pressed(KeyCode::F12)) {
        let (reply, _ignored) = Replier::channel();
        let _ = inbox.sender().send(ControlRequest { command: ControlCommand::Photo, reply });
    }
}

fn photos_written(mut photos: ResMut<Photos>, mut done: MessageReader<CaptureDone>) {
    for d in done.read() {
        if let Some(i) = photos.pending.iter().position(|(id, _)| *id == d.id) {
            let (_, reply) = photos.pending.swap_remove(i);
            let answer = match &d.result {
                Ok(()) => ControlReply::Done(format!("photo: {}", d.path.display())),
                Err(e) => ControlReply::Error(e.clone()),
            };
            info!("{answer:?}");
            reply.finish(answer);
        }
    }
}

fn drain_control(
    inbox: Res<ControlInbox>,
    mut bridge: ResMut<Bridge>,
    mut recenter: MessageWriter<tomoni_xr::Recenter>,
    mut emotions: MessageWriter<EmotionCue>,
    mut gestures: MessageWriter<GestureCue>,
    mut ceremony: Option<ResMut<crate::ceremony::Ceremony>>,
    (view, mut photos, mut captures): (Option<Res<LiveView>>, ResMut<Photos>, MessageWriter<CaptureRequest>),
    (mut stats, mut exit, conversation): (ResMut<FrameStats>, MessageWriter<AppExit>, Res<Conversation>),
    // (apps without an avatar, the benches', have neither)
    (mut outfit, wearing): (Option<ResMut<tomoni_avatar::outfit::Outfit>>, Option<Res<tomoni_avatar::outfit::Wearing>>),
) {
    while let Some(ControlRequest { command, reply }) = inbox.try_recv() {
        match command {
            ControlCommand::Say(text) => bridge.say(&text, Some(reply)),
            ControlCommand::Recenter => {
                recenter.write(tomoni_xr::Recenter);
                reply.finish(ControlReply::Done("recentred".into()));
            }
            ControlCommand::Gesture(g) => {
                gestures.write(GestureCue::Procedural(g));
                reply.finish(ControlReply::Done(g.name().into()));
            }
            ControlCommand::Emotion(e, intensity) => {
                emotions.write(EmotionCue { emotion: map_emotion(e), intensity });
                reply.finish(ControlReply::Done(e.vrm_name().into()));
            }
            ControlCommand::Photo => match &view {
                // Read back and written off the frame loop (the capture worker); answered when
                // the file is there.
                Some(v) => {
                    photos.taken += 1;
                    let id = PHOTO_IDS + photos.taken;
                    let stamp =
                        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                    let path =
                        crate::ceremony::launch::pictures_dir().join(format!("tomoni-{stamp}-{}.png", photos.taken));
                    captures.write(CaptureRequest { id, source: v.0.clone(), path, format: PixelFormat::Rgb });
                    photos.pending.push((id, reply));
                }
                None => reply.finish(ControlReply::Error("no view to photograph here".into())),
            },
            // Worn from the next frame; an outfit the avatar lacks is refused, naming its own.
            ControlCommand::Outfit(name) => {
                let available = wearing.as_ref().map_or(&[][..], |w| &w.available[..]);
                match outfit.as_mut() {
                    Some(o) if available.contains(&name) => {
                        reply.finish(ControlReply::Done(format!("outfit {name}")));
                        o.0 = Some(name);
                    }
                    _ => reply.finish(ControlReply::Error(format!(
                        "outfit {name:?}: this avatar has {}",
                        tomoni_avatar::outfit::listed(available)
                    ))),
                }
            }
            ControlCommand::Status => {
                let mut r = stats.report();
                r["audio"] = serde_json::json!(bridge.audio_state());
                // How far the voice runs ahead of what is heard (a test starves the sound
                // server only while there is speech waiting, or there is no stall to see).
                r["speech_queued_s"] =
                    serde_json::json!(bridge.pending_samples() as f64 / f64::from(bridge.speech_rate().max(1)));
                r["conversation"] = serde_json::json!(format!("{:?}", *conversation));
                r["notice"] = serde_json::json!(bridge.notices.line());
                reply.finish(ControlReply::Done(r.to_string()));
            }
            ControlCommand::Quit => {
                exit.write(AppExit::Success);
                reply.finish(ControlReply::Done("bye".into()));
            }
            ControlCommand::Ceremony(cmd) => match ceremony.as_mut() {
                // Carried out by the ceremony's own system this frame, which answers.
                Some(c) => c.request(cmd, reply),
                None => reply.finish(ControlReply::Error("no ceremony is running".into())),
            },
        }
    }
}
