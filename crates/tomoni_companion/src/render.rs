//! `tomoni render`: one headless frame to a PNG, taken once the scene is fully loaded.
//!
//! No window: the camera renders into an image; pipelines compile synchronously so "loaded"
//! means "drawn"; the screenshot is encoded and written on its own thread, never on the
//! frame loop (Bevy's `save_to_disk` would encode on the main thread).

use crate::app::{Setup, base_app};
use crate::capture::{
    CaptureDone, CaptureRequest, CaptureSource, Frame, FrameDone, FrameForm, FrameRequest, PixelFormat, SceneSettled,
};
use crate::error::Failure;
use bevy::prelude::*;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tomoni_avatar::bevy_vrm1::prelude::{EffectiveExpressionWeight, ExpressionEntityMap, SetExpressions, SpringRoot};
use tomoni_avatar::bevy_vrm1::vrma::{Vrma, VrmaHandle};
use tomoni_avatar::stage::SceneLight;
use tomoni_avatar::{AvatarReady, Companion};
use tomoni_core::placement::RootPose;
use tomoni_core::{AppMode, CompanionAnchor, ViewerHead};
use tomoni_xr::views::{View, view_camera};

/// What to render.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    /// PNG to write.
    pub out: PathBuf,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Which view.
    pub view: View,
    /// Expression at full weight, if any.
    pub expression: Option<String>,
    /// Gesture to pose mid-way through.
    pub gesture: Option<tomoni_core::behaviour::Gesture>,
    /// `.vrma` clip (assets/animations/NAME.vrma) to pose mid-way through.
    pub clip: Option<String>,
    /// Transparent background, no floor.
    pub transparent: bool,
    /// As optical see-through (additive) glasses show it: the additive profile's materials
    /// (shades lifted, no outline), on black, which such glasses show as nothing.
    pub additive: bool,
    /// Instead of a picture: time this many frames once the scene is ready, and print stats.
    pub bench_frames: Option<u32>,
    /// Through a photo's lens instead of `view` (`tomoni photo`).
    pub photo: Option<PhotoJob>,
    /// Also write the captured frame's camera and every node's world transform here (JSON),
    /// so another renderer can draw the very same frame: the three-vrm reference check.
    pub scene_json: Option<PathBuf>,
}

/// A real photo's lens, known once the photo is decoded (while the app is built), and the
/// [`PhotoView`] through it, worked out meanwhile: `tomoni photo` decodes the photo and finds
/// the people on a thread of its own while the renderer starts, loads the avatar and compiles
/// its pipelines (through a provisional view, [`provisional_lens`]), and the app waits for the
/// view only then. On these 2 cores, one after the other they took about 0.2 s (decode),
/// 0.2 s (the app built), 0.7 s (the people) and 2 s (the renderer's start).
#[derive(Debug, Clone)]
pub struct PhotoJob {
    /// The photo's lens, once it is read (the renderer is built meanwhile), or why it cannot
    /// be (not an image).
    pub lens: crossbeam_channel::Receiver<Result<PhotoLens, Failure>>,
    /// The view, when it is known (or why there is none: no one to stand beside).
    pub view: crossbeam_channel::Receiver<Result<PhotoView, Failure>>,
}

/// What the renderer needs of a photo before its people are found.
#[derive(Debug, Clone, Copy)]
pub struct PhotoLens {
    /// Vertical field of view, radians.
    pub fov_y: f32,
    /// The whole photo, pixels.
    pub full: (u32, u32),
    /// Drawn with 4× multisampling. A photo soft enough to hide a pixel's staircase does not
    /// need it, and on a software rasteriser it doubled a 12-megapixel photo's time. (Known
    /// before the cameras are made: the pipelines compiled early are made per sample count.)
    pub antialias: bool,
}

/// Where the companion stands in a photo and what is drawn: the camera level at the origin
/// looking down −z, the companion's feet in camera space (metres).
#[derive(Debug, Clone, Copy)]
pub struct PhotoView {
    /// The part rendered, photo pixels: its top-left corner and its size. Only the companion's
    /// box of a 12-megapixel photo is drawn, into `drawn` pixels, which are fewer where the
    /// photo is too soft to show more (`tomoni photo`'s render scale).
    pub crop: (u32, u32),
    /// The box's size, photo pixels.
    pub size: (u32, u32),
    /// The pixels the box is drawn in.
    pub drawn: (u32, u32),
    /// Where its feet are, camera space (so `-feet.y` is the camera's height above the floor).
    pub feet: Vec3,
    /// Turned from facing the camera, radians about +y.
    pub yaw: f32,
    /// The photo's light: the companion is lit by it and casts its shadow on a
    /// shadow-catcher floor (`shaders/shadow_catcher.wgsl`) in the same picture.
    pub light: tomoni_photo::light::Light,
}

impl PhotoView {
    /// The photo's camera in the companion's frame: the companion stands at the origin facing
    /// +z whatever the photo, and the camera (and the light) are placed and turned around it.
    /// So the view can arrive after the companion has been placed, its hair settled and its
    /// pipelines compiled: only the camera and the light move.
    fn camera(&self) -> Transform {
        let turn = Quat::from_rotation_y(-self.yaw);
        Transform { translation: turn * -self.feet, rotation: turn, ..default() }
    }

    /// The photo's light in the companion's frame (see [`PhotoView::camera`]).
    fn scene_light(&self) -> SceneLight {
        SceneLight::Photo {
            from: Quat::from_rotation_y(-self.yaw) * Vec3::from_array(self.light.from),
            strength: self.light.strength,
            // The companion, and its shadow as long again behind it.
            reach: -self.feet.z + 4.0,
            feet: Vec3::ZERO,
        }
    }
}

/// Where the camera stands while a photo's view is worked out: 1.5 m up and far enough in
/// front of the companion for a lens of `fov_y` to show all of it (at least 5 m; the feet then
/// 17° below the middle). Only the pipelines are compiled through it, and nothing is drawn; a
/// part it missed compiles in the frame before the picture instead.
fn provisional_lens(fov_y: f32) -> Vec3 {
    let half = (fov_y * 0.5).clamp(0.05, 1.5);
    Vec3::new(0.0, 1.5, (1.7 / half.tan()).max(5.0))
}

/// The app time a frame stands for once the scene is ready (a 30 Hz clock).
const FRAME: Duration = Duration::from_millis(33);

/// Ready frames before the picture is taken (the clock has run this many [`FRAME`]s).
const TAKE_AFTER: u32 = 4;

/// Frames the warm-up camera is on before the big one: it compiles the pipelines, and with
/// none the big frame drew the clothes without their outfit's morph targets (Bevy 0.19; seen
/// with `--outfit everyday`). It draws nothing (`capture::WarmUpOnly`); when it drew, a small
/// camera on every frame from the start made a 6-megapixel box's render 6.2-6.5 s where one
/// frame took 5.7-5.8 s, the same pixels.
const WARM_FRAMES: u32 = 1;

/// Frames to wait for the scene before giving up (lavapipe renders ~3 frames a second).
const MAX_FRAMES: u32 = 600;

#[derive(Resource)]
struct Job {
    req: RenderRequest,
    target: Handle<Image>,
    outcome: Arc<Mutex<Option<Result<String, Failure>>>>,
    /// The picture's camera (off until the frame it is taken in) and the warm-up camera, on the
    /// frame before it (see [`WARM_FRAMES`]): on a CPU renderer each big frame costs seconds,
    /// and only one is kept. `None` when timing frames (`--bench-frames`).
    warm_up: Option<(Entity, Entity)>,
    /// The render camera, for [`record_scene`].
    camera: Entity,
    /// Set when the picture is asked for; [`record_scene`] fills it in that frame.
    scene: Arc<Mutex<SceneRecord>>,
    /// A photo's companion layer, kept in memory for the composite (not written to `req.out`).
    layer: Arc<Mutex<Option<Arc<image::RgbaImage>>>>,
    /// A photo's view, until it has come ([`await_photo_view`]).
    pending: Option<crossbeam_channel::Receiver<Result<PhotoView, Failure>>>,
    /// A photo's lens.
    lens: Option<PhotoLens>,
}

/// The frame's scene as `--scene-json` writes it.
#[derive(Default)]
struct SceneRecord {
    wanted: bool,
    json: Option<serde_json::Value>,
}

/// `--expression`: one name at full weight (`happy`), or weights (`aa=0.6,ih=0.25`), e.g. a
/// moment of a mouth track from `tomoni say --visemes`.
pub fn expression_weights(spec: &str) -> Result<Vec<(String, f32)>, Failure> {
    spec.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| match p.split_once('=') {
            None => Ok((p.trim().to_string(), 1.0)),
            Some((n, w)) => match w.trim().parse::<f32>() {
                Ok(w) if (0.0..=1.0).contains(&w) => Ok((n.trim().to_string(), w)),
                _ => Err(Failure::Input(format!("--expression {spec:?}: weight {w:?} is not a number in 0..1"))),
            },
        })
        .collect()
}

/// Renders `req` for `setup` into the PNG `req.out`.
pub fn render(setup: Setup, req: RenderRequest) -> Result<(), Failure> {
    run(setup, req).map(|_| ())
}

/// Renders a photo's companion layer (`req.photo`) and returns its pixels: the composite takes
/// them from memory (a PNG written and read back cost about 0.15 s of a 6-megapixel box).
pub fn render_layer(setup: Setup, req: RenderRequest) -> Result<Arc<image::RgbaImage>, Failure> {
    if req.photo.is_none() {
        return Err(Failure::Runtime("a layer is rendered for a photo".into()));
    }
    run(setup, req)?.ok_or_else(|| Failure::Runtime("the renderer stopped before the layer was read back".into()))
}

fn run(setup: Setup, req: RenderRequest) -> Result<Option<Arc<image::RgbaImage>>, Failure> {
    if req.width == 0 || req.height == 0 || req.width > 8192 || req.height > 8192 {
        return Err(Failure::Input(format!("--width/--height {}x{} out of range 1..8192", req.width, req.height)));
    }
    if let Some(e) = &req.expression {
        let info = &setup.avatar.info;
        for (name, _) in expression_weights(e)? {
            if !info.expressions.contains(&name) {
                return Err(Failure::Input(format!(
                    "{}: has no expression {name:?} (it has: {})",
                    setup.avatar_file.display(),
                    info.expressions.join(" ")
                )));
            }
        }
    }
    let mut app = base_app(&setup, AppMode::Headless, req.transparent || req.additive);
    if req.additive {
        app.insert_resource(tomoni_core::RenderProfile::Additive);
    }
    // The photo was decoded while the app was built (on 2 cores, 0.2 s each).
    let lens = match &req.photo {
        Some(job) => {
            #[expect(
                clippy::disallowed_methods,
                reason = "before the frame loop starts: the cameras are made for the photo's lens"
            )]
            let lens = job.lens.recv();
            Some(lens.map_err(|_| Failure::Runtime("the photo was not read (the worker stopped)".into()))??)
        }
        None => None,
    };
    let (eye, anchor, camera_at, fov_y) = match &lens {
        // The photo's camera is the viewer: the companion looks into the lens. The companion
        // stands at the origin ([`PhotoView::camera`]); the lens is placed once it is known.
        Some(p) => {
            let at = provisional_lens(p.fov_y);
            (
                at,
                RootPose { translation: Vec3::ZERO, rotation: Quat::IDENTITY },
                Transform::from_translation(at),
                p.fov_y,
            )
        }
        None => {
            let (eye, anchor) = setup.start_pose();
            let cam = view_camera(req.view, &anchor, setup.look.avatar.height, eye);
            (eye, anchor, Transform { translation: cam.position, rotation: cam.rotation, ..default() }, cam.fov_y)
        }
    };
    let outcome = Arc::new(Mutex::new(None));
    let scene = Arc::new(Mutex::new(SceneRecord::default()));
    let layer = Arc::new(Mutex::new(None));
    // A photo's box is not known yet: its target is sized when it is ([`await_photo_view`]).
    let size = if req.photo.is_some() { (16, 16) } else { (req.width, req.height) };
    let (camera, target) = crate::capture::spawn_image_camera(app.world_mut(), "render camera", size, fov_y, camera_at);
    // The picture's camera is off until the frame it is taken in, and a warm-up camera with
    // the same view is on the frame before (see [`WARM_FRAMES`]): on lavapipe a 720 × 1080 frame
    // with 4× multisampling costs 3.3 s, and drawing every frame while the scene loaded made a
    // plain render 30-40 s.
    let warm = crate::capture::spawn_warm_up_camera(app.world_mut(), "warm-up camera", size, fov_y, camera_at);
    let mut sub_view = None;
    if let Some(p) = &lens {
        // Until the view is known: a light with a shadow, so its pipelines compile too.
        app.insert_resource(SceneLight::Photo {
            from: Vec3::new(0.3, 1.0, 0.5).normalize(),
            strength: 1.0,
            // `eye` is the provisional lens: the companion and its shadow behind it.
            reach: eye.z + 4.0,
            feet: Vec3::ZERO,
        });
        // Only the companion's part of the photo's frame, at the photo's own resolution (the
        // sub view is in the photo's pixels whatever the target's size: the same box small).
        // Until it is known, the whole photo.
        sub_view = Some(bevy::camera::SubCameraView {
            full_size: UVec2::new(p.full.0, p.full.1),
            offset: Vec2::ZERO,
            size: UVec2::new(p.full.0, p.full.1),
        });
        if !p.antialias {
            // Both cameras: pipelines are made per sample count, and the warm-up compiles them.
            // Depth first, then each pixel shaded once: the avatar's layers (body under
            // clothes, two hair shells) were each shaded, and a 6-megapixel box took 3.3 s a
            // frame instead of 2.2 s, the same pixels byte for byte. (Multisampled, a prepass
            // saved nothing: 720 × 1080 renders took as long, docs/benchmarks.md.)
            for c in [camera, warm] {
                app.world_mut().entity_mut(c).insert((Msaa::Off, bevy::core_pipeline::prepass::DepthPrepass));
            }
        }
    }
    // Timing frames (`--bench-frames`): the picture's camera draws every one, no warm-up.
    let bench = req.bench_frames.is_some();
    for c in [camera, warm] {
        let is_active = bench && c == camera;
        app.world_mut().entity_mut(c).insert(Camera { sub_camera_view: sub_view, is_active, ..default() });
    }
    let warm_up = (!bench).then_some((camera, warm));
    if req.expression.is_some() {
        app.insert_resource(tomoni_avatar::LifeSettings { pinned_face: true, ..default() });
    }
    if req.bench_frames.is_none() {
        // The same picture every time: the clock stands still while the scene loads (however
        // long that takes), then steps evenly (a clip plays in app time too), so the pose
        // taken depends on frames since the avatar was ready, not on the machine's speed.
        // The reference check compares two renders' faces pixel by pixel and needs this.
        app.insert_resource(bevy::time::TimeUpdateStrategy::ManualDuration(Duration::ZERO));
    }
    app.insert_resource(CompanionAnchor(Some(anchor)))
        .insert_resource(ViewerHead {
            transform: if req.photo.is_some() { camera_at } else { Transform::from_translation(eye) },
            valid: true,
        })
        .insert_resource(Job {
            req: req.clone(),
            target: target.clone(),
            outcome: outcome.clone(),
            warm_up,
            camera,
            scene: scene.clone(),
            layer: layer.clone(),
            pending: req.photo.as_ref().map(|p| p.view.clone()),
            lens,
        })
        .add_systems(Update, (await_photo_view, drive_capture).chain());
    if req.scene_json.is_some() {
        app.add_systems(Last, record_scene);
    }
    crate::app::run_app(app)?;
    if let Some(path) = &req.scene_json {
        let json = scene.lock().ok().and_then(|mut s| s.json.take());
        let json = json.ok_or_else(|| Failure::Runtime("the frame's scene was not recorded".into()))?;
        std::fs::write(path, json.to_string())
            .map_err(|e| Failure::Runtime(format!("{}: cannot write: {e}", path.display())))?;
    }
    let result = outcome.lock().map_err(|_| Failure::Runtime("render state poisoned".into()))?.take();
    match result {
        // A photo's layer is an intermediate: `tomoni photo` reports the photo.
        Some(Ok(msg)) => {
            if req.photo.is_none() {
                println!("{msg}");
            }
            Ok(layer.lock().ok().and_then(|mut l| l.take()))
        }
        Some(Err(f)) => Err(f),
        None => Err(Failure::Runtime("the renderer stopped before writing a picture".into())),
    }
}

#[derive(Default)]
struct CaptureState {
    frames: u32,
    ready_frames: u32,
    expression_set: bool,
    clip_frames: u32,
    requested: bool,
    frame_times: Vec<f64>,
    /// Frames waited for the idle loop to start.
    idle_wait: u32,
}

/// Median and p99 of frame times, as one line for docs/benchmarks.md.
fn frame_stats(ms: &mut [f64], req: &RenderRequest) -> String {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    format!(
        "frames: {} at {}x{} (view {:?}): median {:.1} ms, p99 {:.1} ms, min {:.1} ms, max {:.1} ms",
        ms.len(),
        req.width,
        req.height,
        req.view,
        at(0.5),
        at(0.99),
        ms[0],
        ms[ms.len() - 1]
    )
}

/// A photo's view, worked out while the app started ([`PhotoJob`]): once the companion is
/// ready, one frame through the provisional view with the warm-up camera on (its pipelines
/// compile, nothing is drawn), then the frame loop waits for the view and puts the cameras,
/// the viewer and the light where it says. Only then does the clock start: the picture is the
/// one a known view gives (the companion never moves; its hair settled where it stands).
#[allow(clippy::too_many_arguments)]
fn await_photo_view(
    mut job: ResMut<Job>,
    mut compiled: Local<bool>,
    companions: Query<Has<AvatarReady>, With<Companion>>,
    mut cameras: Query<(&mut Camera, &mut Transform)>,
    mut images: ResMut<Assets<Image>>,
    mut viewer: ResMut<ViewerHead>,
    mut light: ResMut<SceneLight>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(rx) = job.pending.clone() else { return };
    if !companions.single().unwrap_or(false) {
        return;
    }
    if let Some((_, warm)) = job.warm_up
        && !*compiled
    {
        *compiled = true;
        if let Ok((mut c, _)) = cameras.get_mut(warm) {
            c.is_active = true;
        }
        return;
    }
    // Blocks the frame loop of this one-shot render on purpose: the render world compiles
    // meanwhile, and there is nothing else to draw.
    #[expect(
        clippy::disallowed_methods,
        reason = "a one-shot headless render waits for its photo's view; polling would spin on the core the people are found on"
    )]
    let received = rx.recv();
    let view = match received {
        Ok(Ok(view)) => view,
        failed => {
            let f = match failed {
                Ok(Err(f)) => f,
                _ => Failure::Runtime("the photo's people were not found (the worker stopped)".into()),
            };
            if let Ok(mut o) = job.outcome.lock() {
                *o = Some(Err(f));
            }
            job.pending = None;
            exit.write(AppExit::Success);
            return;
        }
    };
    let Some(full) = job.lens.map(|p| UVec2::new(p.full.0, p.full.1)) else { return };
    let sub_view = bevy::camera::SubCameraView {
        full_size: full,
        offset: Vec2::new(view.crop.0 as f32, view.crop.1 as f32),
        size: UVec2::new(view.size.0, view.size.1),
    };
    let lens = view.camera();
    let (big, warm) = job.warm_up.unwrap_or((job.camera, job.camera));
    for e in [big, warm] {
        if let Ok((mut c, mut tf)) = cameras.get_mut(e) {
            c.sub_camera_view = Some(sub_view);
            c.is_active = false;
            *tf = lens;
        }
    }
    if let Some(mut image) = images.get_mut(&job.target) {
        // A new texture of the box's size: nothing was drawn in the old one to copy over.
        image.texture_descriptor.size = bevy::render::render_resource::Extent3d {
            width: view.drawn.0,
            height: view.drawn.1,
            depth_or_array_layers: 1,
        };
        image.copy_on_resize = false;
    }
    viewer.transform = lens;
    *light = view.scene_light();
    (job.req.width, job.req.height) = view.drawn;
    job.pending = None;
}

fn drive_capture(
    mut commands: Commands,
    mut state: Local<CaptureState>,
    job: Res<Job>,
    settled: Res<SceneSettled>,
    (mut captures, mut frames): (MessageWriter<CaptureRequest>, MessageWriter<FrameRequest>),
    (mut written, mut framed): (MessageReader<CaptureDone>, MessageReader<FrameDone>),
    companions: Query<(Entity, Has<AvatarReady>), With<Companion>>,
    time: Res<Time<Real>>,
    mut life: ResMut<tomoni_avatar::Life>,
    clips: Res<tomoni_avatar::clips::Clips>,
    mut cues: MessageWriter<tomoni_core::behaviour::GestureCue>,
    mut exit: MessageWriter<AppExit>,
    mut cameras: Query<&mut Camera>,
    mut clock: ResMut<bevy::time::TimeUpdateStrategy>,
    springs: Query<Entity, With<SpringRoot>>,
) {
    state.frames += 1;
    let finish = |exit: &mut MessageWriter<AppExit>, r: Result<String, Failure>| {
        if let Ok(mut o) = job.outcome.lock() {
            *o = Some(r);
        }
        exit.write(AppExit::Success);
    };
    if let Some(done) = framed.read().find(|d| d.id == 0) {
        // A photo's layer: kept for the composite.
        let r = match &done.result {
            Ok(Frame::Rgba(img)) => {
                if let Ok(mut l) = job.layer.lock() {
                    *l = Some(img.clone());
                }
                Ok(format!("rendered the layer ({}x{}) after {} frames", img.width(), img.height(), state.frames))
            }
            Ok(Frame::Jpeg(_)) => Err(Failure::Runtime("the layer came back as a JPEG".into())),
            Err(e) => Err(Failure::Runtime(e.clone())),
        };
        finish(&mut exit, r);
        return;
    }
    if let Some(done) = written.read().next() {
        let r = done
            .result
            .clone()
            .map(|()| {
                format!(
                    "rendered {} ({}x{}, view {:?}) after {} frames",
                    job.req.out.display(),
                    job.req.width,
                    job.req.height,
                    job.req.view,
                    state.frames
                )
            })
            .map_err(Failure::Runtime);
        finish(&mut exit, r);
        return;
    }
    if state.requested {
        // The picture was taken in the frame it was asked for (read back meanwhile): a
        // photo's big camera need not draw again while it is written.
        if let Some((big, _)) = job.warm_up
            && let Ok(mut c) = cameras.get_mut(big)
            && c.is_active
        {
            c.is_active = false;
        }
        return;
    }
    if state.frames > MAX_FRAMES + job.req.bench_frames.unwrap_or(0) {
        finish(&mut exit, Err(Failure::Runtime(format!("scene not ready after {MAX_FRAMES} frames"))));
        return;
    }
    // (An avatar bevy_vrm1 rejects stops the app: `app::run_app` reports it.)
    let Ok((vrm, ready)) = companions.single() else { return };
    if !ready || job.pending.is_some() {
        return;
    }
    // An idle loop (`animations/*_idle.vrma`) has the body once it has loaded: wait for it (a
    // while: one that never loads is logged by bevy_vrm1, and the picture is taken anyway).
    let idle_loading = clips.idle.is_some()
        && !clips.idle_on
        && job.req.gesture.is_none()
        && job.req.clip.is_none()
        && state.idle_wait < MAX_FRAMES / 4;
    if job.req.bench_frames.is_none() && state.ready_frames == 0 {
        // The avatar is here: start the clock (see `render`), held while the idle loop loads
        // so how long that took cannot change the picture.
        *clock = bevy::time::TimeUpdateStrategy::ManualDuration(if idle_loading { Duration::ZERO } else { FRAME });
    }
    if let Some(e) = &job.req.expression
        && !state.expression_set
        && state.ready_frames >= 2
    {
        // After the face has bound its expressions (the first ready frame); the face is pinned
        // (see `render`), so blinks and lip-sync leave this one alone.
        let weights = expression_weights(e).unwrap_or_default();
        commands.trigger(SetExpressions::from_iter(vrm, weights.iter().map(|(n, w)| (n.as_str(), *w))));
        state.expression_set = true;
    }
    if let Some(name) = &job.req.clip {
        // Ask until bevy_vrm1 has the clip loaded and it plays, then let it run a second.
        if clips.playing.is_none() && state.clip_frames == 0 {
            if !clips.ready.is_empty() {
                cues.write(tomoni_core::behaviour::GestureCue::Clip(name.clone()));
            }
            if state.frames > MAX_FRAMES / 2 {
                finish(&mut exit, Err(Failure::Input(format!("clip {name:?} never played (see the log)"))));
            }
            return;
        }
        state.clip_frames += 1;
        if state.clip_frames < 30 {
            return;
        }
    }
    if idle_loading {
        state.idle_wait += 1;
        return;
    }
    if let Some(g) = job.req.gesture
        && state.ready_frames == 0
    {
        // Mid-gesture: start it as far back in life's clock as the pose we want is ahead.
        let t = life.t;
        life.gesture = Some((g, t - g.duration() * 0.45));
    }
    state.ready_frames += 1;
    if let Some((_, warm)) = job.warm_up
        && state.ready_frames + WARM_FRAMES >= TAKE_AFTER
        && let Ok(mut c) = cameras.get_mut(warm)
        && !c.is_active
    {
        c.is_active = true;
    }
    if job.req.bench_frames.is_none() && state.ready_frames == TAKE_AFTER {
        // The pose to take is reached: stop the clock, so frames spent waiting for pipelines
        // cannot move it on; and the hair, whose springs would still swing on their inertia
        // with no time passing, leaves the simulation where it is.
        *clock = bevy::time::TimeUpdateStrategy::ManualDuration(Duration::ZERO);
        for chain in &springs {
            commands.entity(chain).remove::<SpringRoot>();
        }
    }
    if let Some(n) = job.req.bench_frames {
        // Timing mode: skip the first 10 ready frames (warm-up), then collect n frame times.
        if state.ready_frames > 10 {
            state.frame_times.push(time.delta_secs_f64() * 1000.0);
        }
        if state.frame_times.len() as u32 >= n {
            finish(&mut exit, Ok(frame_stats(&mut state.frame_times, &job.req)));
        }
        return;
    }
    // A few frames after the avatar is placed, with no pipeline left compiling.
    if state.ready_frames >= TAKE_AFTER && settled.0 >= 2 {
        if let Some((big, warm)) = job.warm_up {
            // Hand over to the big camera and take its first frame, this one: the switch and
            // the screenshot are extracted together. (Waiting a frame drew the 12-megapixel
            // box twice: the render world draws one frame while the next is updated, so the
            // frame after the switch is already the second big one.)
            for (camera, on) in [(big, true), (warm, false)] {
                if let Ok(mut c) = cameras.get_mut(camera) {
                    c.is_active = on;
                }
            }
        }
        state.requested = true;
        if let Ok(mut s) = job.scene.lock() {
            s.wanted = true;
        }
        if job.req.photo.is_some() {
            frames.write(FrameRequest {
                id: 0,
                source: CaptureSource::Image(job.target.clone()),
                form: FrameForm::Rgba,
            });
        } else {
            captures.write(CaptureRequest {
                id: 0,
                source: CaptureSource::Image(job.target.clone()),
                path: job.req.out.clone(),
                // Additive: black, as the glasses' display emits nothing there.
                format: if job.req.additive { PixelFormat::Rgb } else { PixelFormat::Rgba },
            });
        }
    }
}

/// `--scene-json`: in the frame the picture is taken, after every system has moved the bones
/// (springs included), the expressions' weights and the transforms the renderer extracts: the camera's, and each named
/// node's under the companion, keyed by name (glTF node names; a name seen twice is left out,
/// as it cannot be matched), the lights and the shaders' clock. Matrices are column-major, as
/// three.js' `Matrix4.fromArray` reads.
fn record_scene(
    job: Res<Job>,
    companions: Query<Entity, With<Companion>>,
    children: Query<&Children>,
    nodes: Query<(&Name, &GlobalTransform)>,
    motions: Query<(), Or<(With<Vrma>, With<VrmaHandle>)>>,
    cameras: Query<(&GlobalTransform, &Projection, Option<&bevy::camera::Exposure>)>,
    faces: Query<&ExpressionEntityMap>,
    weights: Query<&EffectiveExpressionWeight>,
    lights: Query<(&DirectionalLight, &GlobalTransform)>,
    ambient: Res<GlobalAmbientLight>,
    time: Res<Time>,
) {
    let Ok(mut rec) = job.scene.lock() else { return };
    if !rec.wanted || rec.json.is_some() {
        return;
    }
    let Ok(vrm) = companions.single() else { return };
    let mut seen = std::collections::BTreeMap::new();
    let mut twice = std::collections::BTreeSet::new();
    // The avatar's tree, not the motion clips' rigs bevy_vrm1 hangs under it (their bones
    // carry humanoid names such as `head`, which avatars' own nodes often have too).
    let mut stack = vec![vrm];
    while let Some(e) = stack.pop() {
        if let Ok((name, at)) = nodes.get(e)
            && seen.insert(name.as_str().to_string(), at.to_matrix().to_cols_array().to_vec()).is_some()
        {
            twice.insert(name.as_str().to_string());
        }
        let kids = children.get(e).into_iter().flatten();
        stack.extend(kids.filter(|&&c| !motions.contains(c)));
    }
    for n in &twice {
        seen.remove(n);
    }
    let Ok((cam, Projection::Perspective(p), exposure)) = cameras.get(job.camera) else { return };
    // Each expression's weight as bevy_vrm1 applied it (after isBinary and the overrides).
    let expressions: std::collections::BTreeMap<String, f32> = faces
        .get(vrm)
        .into_iter()
        .flat_map(|m| m.iter())
        .filter_map(|(name, &e)| weights.get(e).ok().map(|w| (name.0.clone(), w.0)))
        .collect();
    // The lights as the shader gets them: linear colour × illuminance (or ambient brightness)
    // × the camera's exposure, so another renderer can light the frame the same.
    let exposure = exposure.copied().unwrap_or_default().exposure();
    let rgb = |c: Color, k: f32| {
        let c = c.to_linear();
        [c.red * k * exposure, c.green * k * exposure, c.blue * k * exposure]
    };
    let directional: Vec<serde_json::Value> = lights
        .iter()
        .map(|(l, at)| serde_json::json!({ "to_light": at.back().to_array(), "color": rgb(l.color, l.illuminance) }))
        .collect();
    rec.json = Some(serde_json::json!({
        "lights": { "directional": directional, "ambient": rgb(ambient.color, ambient.brightness) },
        // The shaders' clock (`globals.time`), which drives MToon's UV animation.
        "time": time.elapsed_secs_wrapped(),
        "camera": {
            "matrix": cam.to_matrix().to_cols_array(),
            "fov_y": p.fov,
            "near": p.near,
            "width": job.req.width,
            "height": job.req.height,
        },
        "expression": job.req.expression,
        "expressions": expressions,
        "nodes": seen,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The photo's view in the companion's frame must be the photo's geometry: seen from the
    /// lens, the companion's feet are where the photo put them, it is turned by the placement's
    /// yaw, and the light comes from the same side of it. (A sign slip would stand it in the
    /// right place turned the wrong way, which the pictures' feet and height checks miss.)
    #[test]
    fn a_photos_view_placed_around_the_companion_is_the_photos_geometry() {
        let view = PhotoView {
            crop: (0, 0),
            size: (100, 100),
            drawn: (50, 50),
            feet: Vec3::new(0.45, -1.4, -1.6),
            yaw: -15f32.to_radians(),
            light: tomoni_photo::light::Light::DEFAULT,
        };
        let lens = view.camera();
        let to_camera = lens.to_matrix().inverse();
        // The companion's feet (its origin) in camera space.
        let feet = to_camera.transform_point3(Vec3::ZERO);
        assert!((feet - view.feet).length() < 1e-5, "feet at {feet}, placed at {}", view.feet);
        // Its facing (+z in its frame) in camera space: +z turned by the yaw.
        let facing = to_camera.transform_vector3(Vec3::Z);
        let want = Quat::from_rotation_y(view.yaw) * Vec3::Z;
        assert!((facing - want).length() < 1e-5, "facing {facing}, want {want}");
        // The light, turned into its frame, is the photo's light seen from the camera.
        let SceneLight::Photo { from, feet: at, .. } = view.scene_light() else { panic!("a photo light") };
        let seen = to_camera.transform_vector3(from);
        assert!((seen - Vec3::from_array(view.light.from)).length() < 1e-5, "light from {seen}");
        assert_eq!(at, Vec3::ZERO, "the shadow catcher under the companion");
        // The lens is level: its height above the floor is the photo's camera height.
        assert!((lens.translation.y - 1.4).abs() < 1e-5);
    }

    #[test]
    fn the_provisional_lens_shows_the_whole_companion() {
        for fov_deg in [10.0f32, 40.0, 60.0, 90.0] {
            let half = (fov_deg * 0.5).to_radians();
            let at = provisional_lens(half * 2.0);
            // Feet 1.5 m below the lens, the top of the head 0.2 m above: both inside.
            assert!((1.5 / at.z).atan() < half && (0.2 / at.z).atan() < half, "{fov_deg}°: {at}");
        }
    }
}
