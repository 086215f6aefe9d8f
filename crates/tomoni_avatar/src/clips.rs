//! VRM animation clips (`.vrma`) played by name: every `assets/animations/NAME.vrma` becomes a
//! gesture the persona can ask for with `[gesture:NAME]`. bevy_vrm1 loads and retargets the
//! clip onto the avatar; while it plays it drives the bones it animates, then stops and hands
//! the body back to idle life. A clip's expression tracks (a smile as it cheers) play too: the
//! face's own override of those expressions is lifted while it plays. Its look-at track (where
//! the eyes look, which bevy_vrm1 does not read) aims the eyes in place of the viewer.

use crate::Companion;
use bevy::animation::RepeatAnimation;
use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use bevy_vrm1::prelude::*;
use std::time::Duration;
use tomoni_core::behaviour::GestureCue;

/// The clips to load (names of `animations/NAME.vrma` under the asset root), found by the app
/// at start-up.
#[derive(Resource, Debug, Clone, Default)]
pub struct ClipNames(pub Vec<String>);

/// The expressions each clip animates, by clip name (read from the files at start-up,
/// [`tomoni_vrm::vrma::expression_tracks`]): while the clip plays, the face leaves them to it.
#[derive(Resource, Debug, Clone, Default)]
pub struct ClipExpressions(pub HashMap<String, Vec<String>>);

/// Each clip's look-at track, by clip name (read from the files at start-up,
/// [`tomoni_vrm::vrma::look_at_track`]).
#[derive(Resource, Debug, Clone, Default)]
pub struct ClipLookAt(pub HashMap<String, tomoni_vrm::vrma::LookAtTrack>);

/// Loaded clips by name, and the one playing (with when it ends).
#[derive(Resource, Debug, Default)]
pub struct Clips {
    /// Clip entities (children of the avatar) by name.
    pub by_name: HashMap<String, Entity>,
    /// The clip playing and the elapsed time at which it ends.
    pub playing: Option<(Entity, f32)>,
    /// Clips bevy_vrm1 has loaded and given an animation-graph node (playable).
    pub ready: Vec<Entity>,
    spawned: bool,
    /// Expression entities whose face override is lifted while the clip playing animates them.
    released: Vec<Entity>,
    /// The idle loop ([`is_idle`]), when there is one.
    pub idle: Option<Entity>,
    /// The idle loop is playing (the body is the clip's, as while a gesture clip plays).
    pub idle_on: bool,
    idle_started: bool,
    /// The look-at track of the clip playing, with the time it started and, for the idle loop,
    /// its period.
    looking: Option<(String, f32, Option<f32>)>,
}

/// A clip named `idle` or `NAME_idle` is an idle loop: it plays, repeating, whenever no other
/// clip and no procedural gesture moves the body, in place of the procedural idle (breathing,
/// weight shifts, the head turning to the viewer; the eyes still follow the viewer through
/// bevy_vrm1's look-at, and the face lives on). If there are several, the first by name.
pub fn is_idle(name: &str) -> bool {
    name == "idle" || name.ends_with("_idle")
}

/// Loads and plays `.vrma` clips.
pub struct ClipsPlugin;

impl Plugin for ClipsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ClipNames>()
            .init_resource::<Clips>()
            .init_resource::<ClipExpressions>()
            .init_resource::<ClipLookAt>()
            .add_message::<GestureCue>()
            .add_observer(|loaded: On<LoadedVrma>, mut clips: ResMut<Clips>| clips.ready.push(loaded.vrma))
            .add_systems(
                Update,
                (spawn_clips, play_clips, aim_eyes)
                    .chain()
                    .in_set(tomoni_core::TomoniSystems::Behaviour)
                    // After life aims the eyes at the viewer, before the face is written.
                    .after(crate::LifeSystems::Live),
            );
    }
}

fn spawn_clips(
    mut commands: Commands,
    names: Res<ClipNames>,
    mut clips: ResMut<Clips>,
    assets: Res<AssetServer>,
    companions: Query<Entity, (With<Companion>, With<Initialized>)>,
) {
    if clips.spawned || names.0.is_empty() {
        return;
    }
    let Ok(vrm) = companions.single() else { return };
    for name in &names.0 {
        // bevy_vrm1 retargets a clip onto the VRM it is a child of.
        let e = commands
            .spawn((VrmaHandle(assets.load(format!("animations/{name}.vrma"))), Name::new(format!("clip {name}"))))
            .id();
        commands.entity(vrm).add_child(e);
        clips.by_name.insert(name.clone(), e);
        if is_idle(name) && clips.idle.is_none() {
            clips.idle = Some(e);
        }
    }
    clips.spawned = true;
    info!("animation clips: {}", names.0.join(", "));
}

/// Gives the face's override of each expression back (the clip that animated it is over).
fn restore_face(commands: &mut Commands, clips: &mut Clips) {
    for e in clips.released.drain(..) {
        commands.entity(e).insert(ExpressionOverride(0.0));
    }
}

fn play_clips(
    mut commands: Commands,
    mut cues: MessageReader<GestureCue>,
    mut clips: ResMut<Clips>,
    loaded: Query<&VrmaDuration, With<Vrma>>,
    tracks: Res<ClipExpressions>,
    looks: Res<ClipLookAt>,
    faces: Query<&ExpressionEntityMap, With<Companion>>,
    life: Option<Res<crate::Life>>,
    time: Res<Time>,
) {
    let now = time.elapsed_secs();
    if let Some((e, end)) = clips.playing
        && now >= end
    {
        commands.trigger(StopVrma { entity: e });
        clips.playing = None;
        clips.looking = None;
        restore_face(&mut commands, &mut clips);
    }
    for cue in cues.read() {
        let GestureCue::Clip(name) = cue else { continue };
        let Some(&e) = clips.by_name.get(name) else {
            warn!("gesture {name:?}: no built-in gesture and no assets/animations/{name}.vrma; skipped");
            continue;
        };
        let (true, Ok(duration)) = (clips.ready.contains(&e), loaded.get(e)) else {
            warn!("gesture {name:?}: the clip is still loading (or failed to load; see above); skipped");
            continue;
        };
        commands.trigger(PlayVrma {
            vrma: e,
            repeat: RepeatAnimation::Never,
            transition_duration: Duration::from_millis(300),
            reset_spring_bones: true,
        });
        clips.playing = Some((e, now + duration.0.as_secs_f32()));
        clips.looking = looks.0.contains_key(name).then(|| (name.clone(), now, None));
        // Playing one clip stops the others (bevy_vrm1), the idle loop included.
        clips.idle_on = false;
        // bevy_vrm1 shows an expression's override in preference to the clip's track: lift the
        // face's override of each expression the clip animates until it ends.
        restore_face(&mut commands, &mut clips);
        if let (Some(names), Ok(map)) = (tracks.0.get(name), faces.single()) {
            for n in names {
                if let Some(&x) = map.get(&VrmExpression(n.clone())) {
                    commands.entity(x).remove::<ExpressionOverride>();
                    clips.released.push(x);
                }
            }
        }
    }
    // The idle loop, whenever nothing else moves the body. A procedural gesture needs the body
    // back from the clip (it writes `BonePose`, which a playing clip overrides).
    let gesturing = life.is_some_and(|l| l.gesture.is_some_and(|(g, start)| l.t < start + g.duration()));
    let Some(idle) = clips.idle.filter(|e| clips.ready.contains(e)) else { return };
    let want = clips.playing.is_none() && !gesturing;
    if want && !clips.idle_on {
        commands.trigger(PlayVrma {
            vrma: idle,
            repeat: RepeatAnimation::Forever,
            // From the gesture that just ended; the first time straight in (nothing to blend from).
            transition_duration: if clips.idle_started { Duration::from_millis(300) } else { Duration::ZERO },
            reset_spring_bones: false,
        });
        clips.idle_on = true;
        clips.idle_started = true;
        let name = clips.by_name.iter().find(|(_, e)| **e == idle).map(|(n, _)| n.clone());
        let period = loaded.get(idle).map(|d| d.0.as_secs_f32()).ok().filter(|p| *p > 0.0);
        clips.looking = name.filter(|n| looks.0.contains_key(n)).map(|n| (n, now, period));
    } else if !want && clips.idle_on && clips.playing.is_none() {
        commands.trigger(StopVrma { entity: idle });
        clips.idle_on = false;
        clips.looking = None;
    }
}

/// While a clip with a look-at track plays: the eyes look where the track says, not at the
/// viewer. The gaze target is put where bevy_vrm1's bone look-at reads the track's yaw and
/// pitch back exactly (in its [`look_at_space`]); the expression look-at gets the angles
/// themselves ([`crate::gaze::ClipGaze`]).
fn aim_eyes(
    clips: Res<Clips>,
    looks: Res<ClipLookAt>,
    time: Res<Time>,
    companions: Query<(&HeadBoneEntity, &LookAtProperties, &RestWorldTransform), With<Companion>>,
    heads: Query<(&GlobalTransform, &RestGlobalTransform), Without<crate::gaze::GazeTarget>>,
    mut gaze: Query<&mut Transform, With<crate::gaze::GazeTarget>>,
    clip_gaze: Option<ResMut<crate::gaze::ClipGaze>>,
) {
    let aim = clips.looking.as_ref().and_then(|(name, start, period)| {
        let t = time.elapsed_secs() - start;
        let t = period.map_or(t, |p| t.rem_euclid(p));
        looks.0.get(name).map(|track| {
            let q = track.sample(t);
            (q, tomoni_vrm::vrma::yaw_pitch(q))
        })
    });
    if let Some(mut g) = clip_gaze {
        g.0 = aim.map(|(_, (yaw, pitch))| Vec2::new(yaw, pitch).map(f32::to_radians));
    }
    let Some(([x, y, z, w], _)) = aim else { return };
    let Ok((head, properties, model_rest)) = companions.single() else { return };
    let Ok((head_global, head_rest)) = heads.get(head.0) else { return };
    let Some(space) = look_at_space(head_global, Some(head_rest), Some(model_rest), properties) else { return };
    let toward = Quat::from_xyzw(x, y, z, w).normalize() * Vec3::Z;
    if let Ok(mut g) = gaze.single_mut() {
        g.translation = space.transform_point(toward);
    }
}
