//! The companion's life: face (speech mouth, emotions with hold and decay, natural blinks), idle
//! body (breathing, weight shifts, saccades), gaze at the viewer's real head (eyes, head, and
//! body turning when the viewer walks round), procedural gestures, and turn-taking posture.
//!
//! Everything is procedural on VRM humanoid bones and preset expressions, so it works on any
//! VRM 1.0. Randomness comes from a seeded generator ([`LifeSettings::seed`]): tests and the
//! headless demo are repeatable, and motion never loops (several incommensurate rhythms plus
//! random intervals). Once warmed up, no system here allocates.

use crate::gaze::{ClipGaze, GazeTarget};
use crate::pose::BonePose;
use crate::{AvatarReady, Companion};
use bevy::prelude::*;
use bevy_vrm1::prelude::*;
use std::f32::consts::PI;
use tomoni_core::behaviour::{Conversation, Emotion, EmotionCue, Gesture, GestureCue, MouthWeights, Presence};
use tomoni_core::{TomoniSystems, ViewerHead};

/// Tuning for the companion's life.
#[derive(Resource, Debug, Clone, Copy)]
pub struct LifeSettings {
    /// Seed of the random intervals (blinks, saccades, weight shifts).
    pub seed: u64,
    /// Mean seconds between blinks (people blink every 2–10 s; ~4 s while talking).
    pub blink_interval: f32,
    /// Largest head yaw toward the viewer before the body turns, radians.
    pub head_yaw_limit: f32,
    /// Leave expression weights to someone else (`tomoni render --expression`).
    pub pinned_face: bool,
}

impl Default for LifeSettings {
    fn default() -> Self {
        Self { seed: 0x70_6D_6F_6E_69, blink_interval: 3.8, head_yaw_limit: 0.9, pinned_face: false }
    }
}

/// Extra yaw of the whole body about its anchor, radians: the companion turns to face a viewer
/// who has walked round it. Applied by the avatar's placement.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct BodyYaw(pub f32);

/// What the face and body are doing now (read by tests, the debug panel and the demo timeline).
#[derive(Resource, Debug, Clone)]
pub struct Life {
    rng: Rng,
    /// Seconds of life lived (paused while the viewer cannot see).
    pub t: f32,
    /// Current weight of each emotion, in [`Emotion::SHOWN`] order.
    pub emotion: [f32; 5],
    target: [f32; 5],
    hold_until: f32,
    /// Current blink weight (0 open, 1 shut).
    pub blink: f32,
    next_blink: f32,
    blink_started: Option<f32>,
    double_blink: bool,
    saccade: Vec2,
    next_saccade: f32,
    /// The gesture playing and when it started.
    pub gesture: Option<(Gesture, f32)>,
    next_backchannel: f32,
    /// Head yaw/pitch toward the gaze target after limits, radians (smoothed).
    pub head_aim: Vec2,
    /// Yaw of the viewer seen from the companion's chest, relative to its facing, radians.
    pub viewer_yaw: f32,
    beyond_since: Option<f32>,
    turn_goal: f32,
    phases: [f32; 6],
    speaking: f32,
}

impl Life {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed | 1);
        let phases = std::array::from_fn(|_| rng.next() * 2.0 * PI);
        let next_blink = 0.8 + rng.next() * 2.0;
        Self {
            rng,
            t: 0.0,
            emotion: [0.0; 5],
            target: [0.0; 5],
            hold_until: 0.0,
            blink: 0.0,
            next_blink,
            blink_started: None,
            double_blink: false,
            saccade: Vec2::ZERO,
            next_saccade: 0.5,
            gesture: None,
            next_backchannel: 0.0,
            head_aim: Vec2::ZERO,
            viewer_yaw: 0.0,
            beyond_since: None,
            turn_goal: 0.0,
            phases,
            speaking: 0.0,
        }
    }

    /// Starts a gesture now (a new one replaces the one playing).
    pub fn play(&mut self, g: Gesture) {
        self.gesture = Some((g, self.t));
    }
}

/// xorshift64*: tiny, seedable, allocation-free; quality is ample for blink intervals.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    /// Uniform in [0, 1).
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Exponentially distributed with the given mean, clamped to a human range.
    fn interval(&mut self, mean: f32, min: f32, max: f32) -> f32 {
        (-(1.0 - self.next()).max(1e-6).ln() * mean).clamp(min, max)
    }
}

/// Which expression drives which weight, cached once per avatar so the per-frame write needs no
/// lookups by name.
#[derive(Component, Debug, Default)]
pub struct FaceSlots(Vec<(Entity, Slot)>);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Mouth(usize),
    Blink,
    Emotion(usize),
    /// Expression-type look-at: left, right, up, down.
    Look(usize),
}

/// The companion's life, in order: cues read, body and face state advanced, body posed
/// (inside `TomoniSystems::Behaviour`), then the face written (inside `TomoniSystems::Pose`).
/// Configured by [`LifePlugin`]; other plugins order themselves against these.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifeSystems {
    /// Emotion and gesture cues become state.
    Cues,
    /// Breath, blinks, gaze, gestures advance.
    Live,
    /// The body's bone pose is written.
    PoseBody,
    /// The face's expressions are written.
    Face,
}

/// Gives the companion a face, a breath, a gaze and gestures.
pub struct LifePlugin;

impl Plugin for LifePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<LifeSettings>()
            .init_resource::<MouthWeights>()
            .init_resource::<Conversation>()
            .init_resource::<Presence>()
            .init_resource::<BodyYaw>()
            .init_resource::<ViewerHead>()
            .init_resource::<ClipGaze>()
            .add_message::<EmotionCue>()
            .add_message::<GestureCue>()
            .add_systems(Startup, |mut c: Commands, s: Res<LifeSettings>| {
                c.insert_resource(Life::new(s.seed));
                c.spawn((GazeTarget, Name::new("gaze target"), Transform::default()));
            })
            .configure_sets(
                Update,
                (LifeSystems::Cues, LifeSystems::Live, LifeSystems::PoseBody)
                    .chain()
                    .in_set(TomoniSystems::Behaviour)
                    .before(TomoniSystems::Pose),
            )
            .configure_sets(Update, LifeSystems::Face.in_set(TomoniSystems::Pose))
            .add_systems(
                Update,
                (
                    read_cues.in_set(LifeSystems::Cues),
                    live.in_set(LifeSystems::Live),
                    pose_body.in_set(LifeSystems::PoseBody),
                    (bind_face, write_face).chain().in_set(LifeSystems::Face),
                ),
            );
    }
}

fn emotion_index(e: Emotion) -> Option<usize> {
    Emotion::SHOWN.iter().position(|x| *x == e)
}

fn read_cues(mut life: ResMut<Life>, mut emotions: MessageReader<EmotionCue>, mut gestures: MessageReader<GestureCue>) {
    for cue in emotions.read() {
        let t = life.t;
        life.target = [0.0; 5];
        if let Some(i) = emotion_index(cue.emotion) {
            let k = cue.intensity.clamp(0.0, 1.0);
            life.target[i] = k;
            // Stronger feelings last longer; all of them fade (a face stuck smiling looks dead).
            life.hold_until = t + 2.0 + 2.0 * k;
        }
    }
    for cue in gestures.read() {
        // Clips are played by `clips`.
        if let GestureCue::Procedural(g) = cue {
            life.play(*g);
        }
    }
}

/// Face and rhythm: emotions, blinks, saccades, turn-taking cues, body turn. Pure state.
fn live(
    time: Res<Time>,
    presence: Res<Presence>,
    conversation: Res<Conversation>,
    mouth: Res<MouthWeights>,
    settings: Res<LifeSettings>,
    head: Res<ViewerHead>,
    mut life: ResMut<Life>,
    mut body_yaw: ResMut<BodyYaw>,
    companions: Query<(&GlobalTransform, Option<&HeadBoneEntity>), (With<Companion>, With<AvatarReady>)>,
    globals: Query<&GlobalTransform>,
    mut gaze: Query<&mut Transform, With<GazeTarget>>,
) {
    if !presence.0 {
        return; // nobody is looking: freeze, then resume where we were
    }
    let dt = time.delta_secs().min(0.1);
    life.t += dt;
    let t = life.t;

    // Emotions: attack fast, release slowly, fade after the hold.
    if t > life.hold_until {
        life.target = [0.0; 5];
    }
    let open = mouth.0.iter().sum::<f32>().min(1.0);
    life.speaking +=
        (f32::from(open > 0.05 || *conversation == Conversation::Speaking) - life.speaking) * (dt * 4.0).min(1.0);
    // While speaking, cap emotions: presets that override the mouth would otherwise mute lip-sync.
    let cap = 1.0 - 0.55 * life.speaking;
    for i in 0..5 {
        let goal = life.target[i].min(cap);
        let rate = if goal > life.emotion[i] { 8.0 } else { 1.6 };
        life.emotion[i] += (goal - life.emotion[i]) * (dt * rate).min(1.0);
    }

    // Blinks: random intervals, sometimes double; 60 ms to close, 110 ms to open.
    if life.blink_started.is_none() && t >= life.next_blink {
        life.blink_started = Some(t);
    }
    if let Some(s) = life.blink_started {
        let u = t - s;
        life.blink = if u < 0.06 { u / 0.06 } else { (1.0 - (u - 0.06) / 0.11).max(0.0) };
        if u >= 0.17 {
            life.blink = 0.0;
            life.blink_started = None;
            let double = !life.double_blink && life.rng.next() < 0.12;
            life.double_blink = double;
            life.next_blink = t + if double { 0.12 } else { life.rng.interval(settings.blink_interval, 1.2, 9.0) };
        }
    }

    // Saccades: small jumps of the eyes; while thinking, glances up and aside.
    if t >= life.next_saccade {
        let (a, b) = (life.rng.next() - 0.5, life.rng.next() - 0.5);
        life.saccade = match *conversation {
            Conversation::Thinking => Vec2::new(0.25 + a * 0.1, 0.18 + b * 0.05),
            _ => Vec2::new(a * 0.05, b * 0.035),
        };
        let mean = if *conversation == Conversation::Speaking { 0.9 } else { 1.6 };
        life.next_saccade = t + life.rng.interval(mean, 0.25, 4.0);
    }

    // Back-channel nods while the user is typing or speaking.
    if *conversation == Conversation::Listening {
        if life.next_backchannel == 0.0 {
            life.next_backchannel = t + 1.2;
        } else if t >= life.next_backchannel && life.gesture.is_none() {
            life.play(Gesture::Nod);
            life.next_backchannel = t + life.rng.interval(3.5, 2.5, 7.0);
        }
    } else {
        life.next_backchannel = 0.0;
    }
    if let Some((g, s)) = life.gesture
        && t - s > g.duration()
    {
        life.gesture = None;
    }

    // Gaze: where the viewer's head is, seen from the companion's head.
    let Ok((root, head_bone)) = companions.single() else { return };
    let eyes = head_bone
        .and_then(|h| globals.get(h.0).ok())
        .map_or_else(|| root.translation() + Vec3::Y * 1.5 * root.scale().y.max(0.1), GlobalTransform::translation);
    let facing = root.rotation();
    let to_viewer = facing.inverse() * (head.transform.translation - eyes);
    if head.valid && to_viewer.length() > 0.05 {
        // VRM 1.0 models face +Z; yaw positive toward the model's left (+X).
        let yaw = to_viewer.x.atan2(to_viewer.z);
        let pitch = to_viewer.y.atan2(Vec2::new(to_viewer.x, to_viewer.z).length());
        life.viewer_yaw = yaw;
        // Turn the body when the viewer stays beyond what the neck can do.
        if yaw.abs() > settings.head_yaw_limit {
            let since = *life.beyond_since.get_or_insert(t);
            if t - since > 0.8 {
                life.turn_goal = body_yaw.0 + yaw * 0.85;
                life.beyond_since = None;
            }
        } else {
            life.beyond_since = None;
        }
        let lim = settings.head_yaw_limit;
        let aim = Vec2::new(yaw.clamp(-lim, lim) * 0.7, pitch.clamp(-0.45, 0.35) * 0.6);
        let k = (dt * 5.0).min(1.0);
        let step = (aim - life.head_aim) * k;
        life.head_aim += step;
        if let Ok(mut g) = gaze.single_mut() {
            let d = head.transform.translation - eyes;
            let side = (facing * Vec3::X) * d.length();
            g.translation = head.transform.translation + side * life.saccade.x + Vec3::Y * d.length() * life.saccade.y;
        }
    }
    let turn = life.turn_goal - body_yaw.0;
    if turn.abs() > 1e-3 {
        body_yaw.0 += turn * (dt * 2.0).min(1.0);
    }
}

/// A smooth 0→1→0 envelope over a gesture: ease in for `a` of it, out over the last `r`.
fn envelope(u: f32, a: f32, r: f32) -> f32 {
    let s = |x: f32| x * x * (3.0 - 2.0 * x);
    if u < a {
        s(u / a)
    } else if u > 1.0 - r {
        s(((1.0 - u) / r).max(0.0))
    } else {
        1.0
    }
}

fn rx(a: f32) -> Quat {
    Quat::from_rotation_x(a)
}
fn ry(a: f32) -> Quat {
    Quat::from_rotation_y(a)
}
fn rz(a: f32) -> Quat {
    Quat::from_rotation_z(a)
}

/// The bones a pose touches, pre-registered so writing them each frame never grows the map.
pub const ANIMATED_BONES: [&str; 16] = [
    "hips",
    "spine",
    "chest",
    "upperChest",
    "neck",
    "head",
    "leftShoulder",
    "rightShoulder",
    "leftUpperArm",
    "rightUpperArm",
    "leftLowerArm",
    "rightLowerArm",
    "leftHand",
    "rightHand",
    "leftUpperLeg",
    "rightUpperLeg",
];

/// Arm targets of a gesture at full weight (model-space deltas from the T-pose; right arm
/// extends −X, left +X, the model faces +Z). `None`: the arm keeps its relaxed pose.
fn gesture_arms(g: Gesture, u: f32) -> [Option<Quat>; 6] {
    // [rightUpper, rightLower, rightHand, leftUpper, leftLower, leftHand]
    match g {
        Gesture::Wave => {
            let swing = (u * 2.0 * PI * 2.5).sin() * 0.35;
            [Some(rz(-0.35) * ry(0.25)), Some(rz(-1.45 + swing) * rx(-1.4)), Some(rz(-0.1)), None, None, None]
        }
        Gesture::HandOnHeart => {
            // Upper arm nearly down; the forearm across the body, up to the left chest.
            [Some(rz(1.35) * ry(0.3)), Some(ry(2.24) * rz(0.64) * rx(-0.9)), Some(rz(0.2)), None, None, None]
        }
        Gesture::Shrug => [
            Some(rz(1.15) * ry(0.25)),
            Some(ry(1.25) * rx(2.3)),
            Some(rz(-0.3)),
            Some(rz(-1.15) * ry(-0.25)),
            Some(ry(-1.25) * rx(2.3)),
            Some(rz(0.3)),
        ],
        Gesture::OfferHand => [Some(rx(0.75) * ry(1.2)), Some(ry(0.25) * rx(2.5)), Some(rz(0.15)), None, None, None],
        Gesture::Bow => {
            [Some(rz(1.25) * ry(0.45)), Some(ry(0.9)), None, Some(rz(-1.25) * ry(-0.45)), Some(ry(-0.9)), None]
        }
        _ => [None; 6],
    }
}

/// Head, neck and spine offsets of a gesture: (head, spine, chest, shoulders up).
fn gesture_axial(g: Gesture, u: f32) -> (Quat, Quat, Quat, f32) {
    let one = Quat::IDENTITY;
    match g {
        Gesture::Nod => {
            let k = (u * 2.0 * PI * 2.0).sin().max(-0.3) * 0.22;
            (rx(k), one, one, 0.0)
        }
        Gesture::HeadShake => (ry((u * 2.0 * PI * 2.5).sin() * 0.32), one, one, 0.0),
        Gesture::HeadTilt => (rz(0.2) * rx(0.05), one, one, 0.0),
        Gesture::Bow => (rx(0.2), rx(0.42), rx(0.18), 0.0),
        Gesture::Shrug => (rz(0.08), one, one, 0.16),
        Gesture::HandOnHeart => (rx(0.1) * rz(0.06), rx(0.06), one, 0.0),
        Gesture::OfferHand => (rx(0.08), rx(0.04), one, 0.0),
        Gesture::Wave => (rz(-0.06), one, one, 0.0),
    }
}

/// Writes the body into [`BonePose`]: relaxed stance, breathing, weight shifts, turn-taking
/// posture, gaze, and the gesture playing.
fn pose_body(life: Res<Life>, conversation: Res<Conversation>, mut pose: ResMut<BonePose>) {
    let t = life.t;
    let p = life.phases;
    let relaxed = BonePose::relaxed_arms();
    // Breathing ~15 breaths a minute, with slower drift so no two breaths are alike.
    let breath = (t * 2.0 * PI * 0.25 + p[0]).sin() * (0.8 + 0.2 * (t * 0.13 + p[1]).sin());
    // Weight shift: a slow sway from hip to hip (two incommensurate rhythms).
    let sway = (t * 0.11 + p[2]).sin() * 0.6 + (t * 0.047 + p[3]).sin() * 0.4;
    let lean = match *conversation {
        Conversation::Listening => 0.05,
        Conversation::Thinking => -0.02,
        _ => 0.0,
    };
    let (mut g_head, mut g_spine, mut g_chest, mut shrug) = (Quat::IDENTITY, Quat::IDENTITY, Quat::IDENTITY, 0.0);
    let mut arms = [None; 6];
    let mut w = 0.0;
    if let Some((g, s)) = life.gesture {
        let u = ((t - s) / g.duration()).clamp(0.0, 1.0);
        w = envelope(u, 0.22, 0.3);
        let (h, sp, ch, sh) = gesture_axial(g, u);
        g_head = Quat::IDENTITY.slerp(h, w);
        g_spine = Quat::IDENTITY.slerp(sp, w);
        g_chest = Quat::IDENTITY.slerp(ch, w);
        shrug = sh * w;
        arms = gesture_arms(g, u);
    }
    let thinking_tilt = if *conversation == Conversation::Thinking { rz(-0.1) * rx(-0.06) } else { Quat::IDENTITY };
    let aim = life.head_aim;
    let set = |pose: &mut BonePose, bone: &'static str, q: Quat| {
        if let Some(slot) = pose.0.get_mut(bone) {
            *slot = q;
        } else {
            pose.0.insert(bone, q);
        }
    };
    set(&mut pose, "hips", rz(sway * 0.025) * ry(sway * 0.02));
    set(&mut pose, "spine", g_spine * rx(lean * 0.5 + breath * 0.006) * rz(-sway * 0.02));
    set(&mut pose, "chest", g_chest * rx(lean * 0.5 - breath * 0.014));
    set(&mut pose, "upperChest", rx(-breath * 0.008));
    set(&mut pose, "neck", ry(aim.x * 0.4) * rx(-aim.y * 0.4));
    set(&mut pose, "head", ry(aim.x * 0.6) * rx(-aim.y * 0.6) * thinking_tilt * g_head * rz(-sway * 0.01));
    set(&mut pose, "leftShoulder", rz(-(breath * 0.01 + shrug)));
    set(&mut pose, "rightShoulder", rz(breath * 0.01 + shrug));
    // Legs counter the hips so the feet stay planted while the weight shifts.
    set(&mut pose, "leftUpperLeg", rz(-sway * 0.025));
    set(&mut pose, "rightUpperLeg", rz(-sway * 0.025));
    let arm_names = ["rightUpperArm", "rightLowerArm", "rightHand", "leftUpperArm", "leftLowerArm", "leftHand"];
    let arm_swing = rx(breath * 0.015 + sway * 0.01);
    for (i, name) in arm_names.into_iter().enumerate() {
        let base = relaxed[i];
        let q = match arms[i] {
            Some(target) => base.slerp(target, w),
            None if i % 3 == 0 => arm_swing * base,
            None => base,
        };
        set(&mut pose, name, q);
    }
}

/// Once per avatar: which expression entity gets which weight, with an override component on
/// each so the per-frame write is a plain mutation.
fn bind_face(
    mut commands: Commands,
    companions: Query<
        (Entity, &ExpressionEntityMap, Option<&LookAtProperties>),
        (With<Companion>, With<AvatarReady>, Without<FaceSlots>),
    >,
    gaze: Query<Entity, With<GazeTarget>>,
) {
    for (vrm, map, look) in &companions {
        let mut slots = Vec::new();
        for (name, &e) in map.iter() {
            let slot = match name.0.as_str() {
                "aa" => Slot::Mouth(0),
                "ih" => Slot::Mouth(1),
                "ou" => Slot::Mouth(2),
                "ee" => Slot::Mouth(3),
                "oh" => Slot::Mouth(4),
                "blink" => Slot::Blink,
                "lookLeft" => Slot::Look(0),
                "lookRight" => Slot::Look(1),
                "lookUp" => Slot::Look(2),
                "lookDown" => Slot::Look(3),
                other => match Emotion::SHOWN.iter().position(|e| e.vrm_name() == other) {
                    Some(i) => Slot::Emotion(i),
                    None => continue,
                },
            };
            commands.entity(e).insert(ExpressionOverride(0.0));
            slots.push((e, slot));
        }
        let mut c = commands.entity(vrm);
        c.insert(FaceSlots(slots));
        // Bone look-at is bevy_vrm1's; expression look-at (which it does not support) is ours.
        if let (Some(LookAtProperties { r#type: LookAtType::Bone, .. }), Ok(target)) = (look, gaze.single()) {
            c.insert(LookAt::Target(target));
        }
    }
}

fn write_face(
    life: Res<Life>,
    settings: Res<LifeSettings>,
    mouth: Res<MouthWeights>,
    companions: Query<(&FaceSlots, &GlobalTransform, Option<&LookAtProperties>), With<Companion>>,
    gaze: Query<&Transform, With<GazeTarget>>,
    clip_gaze: Res<ClipGaze>,
    mut overrides: Query<&mut ExpressionOverride>,
) {
    if settings.pinned_face {
        return;
    }
    for (slots, root, look) in &companions {
        // Expression look-at: the eye direction as lookLeft/Right/Up/Down weights.
        let mut look_w = [0.0f32; 4];
        if matches!(look, Some(LookAtProperties { r#type: LookAtType::Expression, .. }))
            && let Ok(g) = gaze.single()
        {
            let d = root.rotation().inverse() * (g.translation - root.translation());
            // What the head does not turn, the eyes do; a clip's look-at track says it itself
            // (pitch down positive there, up positive here).
            let (yaw, pitch) = match clip_gaze.0 {
                Some(a) => (a.x, -a.y),
                None => (d.x.atan2(d.z) - life.head_aim.x, life.saccade.y),
            };
            // The eyes' own saccades never look down; a clip may.
            let down = if clip_gaze.0.is_some() { (-pitch / 0.4).clamp(0.0, 1.0) } else { 0.0 };
            look_w = [(yaw / 0.5).clamp(0.0, 1.0), (-yaw / 0.5).clamp(0.0, 1.0), (pitch / 0.4).clamp(0.0, 1.0), down];
        }
        for &(e, slot) in &slots.0 {
            let w = match slot {
                Slot::Mouth(i) => mouth.0[i],
                Slot::Blink => life.blink,
                Slot::Emotion(i) => life.emotion[i],
                Slot::Look(i) => look_w[i],
            };
            if let Ok(mut o) = overrides.get_mut(e)
                && o.0 != w
            {
                o.0 = w;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy::time::TimeUpdateStrategy;
    use std::time::Duration;

    fn app() -> App {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(BonePose::relaxed())
            .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(1000 / 60)))
            .add_plugins(LifePlugin);
        app
    }

    fn run(app: &mut App, seconds: f32) {
        for _ in 0..(seconds * 60.0) as usize {
            app.update();
        }
    }

    #[test]
    fn blinks_come_at_natural_random_intervals_and_close_fully() {
        let mut app = app();
        let mut starts = Vec::new();
        let mut was_closed = false;
        let mut max = 0.0f32;
        for i in 0..(120 * 60) {
            app.update();
            let b = app.world().resource::<Life>().blink;
            max = max.max(b);
            let closed = b > 0.5;
            if closed && !was_closed {
                starts.push(i as f32 / 60.0);
            }
            was_closed = closed;
        }
        assert!(max > 0.95, "eyes never shut fully ({max})");
        let gaps: Vec<f32> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        let n = gaps.len() as f32;
        let mean = gaps.iter().sum::<f32>() / n;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f32>() / n;
        assert!((15..=60).contains(&starts.len()), "{} blinks in two minutes", starts.len());
        assert!(var.sqrt() > 0.5, "blink intervals too regular: sd {:.2} s", var.sqrt());
    }

    #[test]
    fn an_emotion_rises_holds_and_fades() {
        let mut app = app();
        app.update();
        app.world_mut().write_message(EmotionCue { emotion: Emotion::Happy, intensity: 0.8 });
        run(&mut app, 0.5);
        let w = app.world().resource::<Life>().emotion[0];
        assert!(w > 0.7, "happy only {w} after 0.5 s");
        run(&mut app, 8.0);
        let w = app.world().resource::<Life>().emotion[0];
        assert!(w < 0.05, "happy still {w} after 8 s");
    }

    #[test]
    fn idle_body_is_never_frozen_and_never_loops() {
        let mut app = app();
        run(&mut app, 1.0);
        let sample = |app: &App| {
            let p = app.world().resource::<BonePose>();
            (p.0["chest"], p.0["hips"])
        };
        let a = sample(&app);
        run(&mut app, 2.0);
        let b = sample(&app);
        assert!(a.0.angle_between(b.0) > 1e-4, "chest did not breathe");
        // Four seconds on (one nominal breath), the pose differs: no fixed-period loop.
        run(&mut app, 2.0);
        let c = sample(&app);
        run(&mut app, 4.0);
        let d = sample(&app);
        assert!(c.1.angle_between(d.1) > 1e-5 || c.0.angle_between(d.0) > 1e-4);
    }

    #[test]
    fn a_gesture_moves_its_bones_and_returns_to_rest() {
        for g in Gesture::ALL {
            let mut app = app();
            run(&mut app, 0.2);
            let before = app.world().resource::<BonePose>().clone();
            app.world_mut().write_message(GestureCue::Procedural(g));
            let mut moved = 0.0f32;
            for _ in 0..(g.duration() * 60.0) as usize {
                app.update();
                let now = app.world().resource::<BonePose>();
                for b in ANIMATED_BONES {
                    moved = moved.max(before.0.get(b).copied().unwrap_or_default().angle_between(now.0[b]));
                }
            }
            assert!(moved > 0.15, "{g:?} moved its bones only {moved} rad");
            run(&mut app, 0.5);
            assert!(app.world().resource::<Life>().gesture.is_none(), "{g:?} never ended");
        }
    }

    #[test]
    fn listening_brings_back_channel_nods() {
        let mut app = app();
        *app.world_mut().resource_mut::<Conversation>() = Conversation::Listening;
        let mut nods = 0;
        let mut was = false;
        for _ in 0..(10 * 60) {
            app.update();
            let now = matches!(app.world().resource::<Life>().gesture, Some((Gesture::Nod, _)));
            nods += usize::from(now && !was);
            was = now;
        }
        assert!((2..=4).contains(&nods), "{nods} nods in 10 s of listening");
    }

    #[test]
    fn the_head_follows_the_viewer_and_the_body_turns_when_they_walk_round() {
        let mut app = app();
        let ready = AvatarReady { model_height: 1.6, model_min_y: 0.0, scale: 1.0 };
        app.world_mut().spawn((Companion, ready, GlobalTransform::from_translation(Vec3::ZERO)));
        // The viewer stands a metre away, a little to the companion's left (+X): the head turns
        // left, within its limit, and the body stays.
        *app.world_mut().resource_mut::<ViewerHead>() =
            ViewerHead { transform: Transform::from_xyz(0.5, 1.6, 1.0), valid: true };
        run(&mut app, 2.0);
        let life = app.world().resource::<Life>();
        assert!(life.head_aim.x > 0.2, "head yaw {} toward a viewer at the left", life.head_aim.x);
        assert_eq!(app.world().resource::<BodyYaw>().0, 0.0);
        // The viewer walks behind the companion's left shoulder: after a moment the body turns.
        app.world_mut().resource_mut::<ViewerHead>().transform = Transform::from_xyz(1.0, 1.6, -0.8);
        run(&mut app, 3.0);
        let yaw = app.world().resource::<BodyYaw>().0;
        assert!(yaw > 1.2, "body turned only {yaw} rad toward a viewer behind-left");
    }

    #[test]
    fn life_pauses_while_the_viewer_cannot_see() {
        let mut app = app();
        run(&mut app, 0.5);
        *app.world_mut().resource_mut::<Presence>() = Presence(false);
        let t = app.world().resource::<Life>().t;
        run(&mut app, 1.0);
        assert_eq!(app.world().resource::<Life>().t, t);
    }
}
