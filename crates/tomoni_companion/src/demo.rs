//! `tomoni demo` and `tomoni ceremony run --headless`: the companion on a machine with no
//! display. It runs the whole live app headless (dialogue, voice, face, gaze, gestures) on a
//! fixed 30 Hz clock, says the scripted user lines or steps through a ceremony, and writes into
//! one folder: PNG frames, `speech.wav` / `ceremony.wav` (voice and music exactly as the app's
//! audio clock played them), `timeline.json` (every event, every step and every frame's mouth
//! weights on that clock), and `contact-sheet.png`.

use crate::app::{Setup, base_app};
use crate::bridge::{self, Bridge, CompanionPlugin};
use crate::capture::{CaptureDone, CaptureRequest, CaptureSource, PixelFormat};
use crate::ceremony::launch::{CeremonyLaunch, install};
use crate::ceremony::{Ceremony, CeremonyCamera, RingCloseUp, RunState, StepRecord};
use crate::error::Failure;
use crate::session::ChatArgs;
use crate::speech::Output;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tomoni_avatar::{AvatarReady, Companion, Life};
use tomoni_core::behaviour::{Conversation, MouthWeights};
use tomoni_core::{AppMode, CompanionAnchor, ViewerHead};

/// What the demo does.
#[derive(Debug, Clone)]
pub struct DemoRequest {
    /// Output folder.
    pub out: PathBuf,
    /// User lines, said one after another (each after the previous reply has finished).
    pub lines: Vec<String>,
    /// Longest run, seconds of demo time.
    pub max_seconds: f32,
    /// Frame size.
    pub width: u32,
    /// Frame size.
    pub height: u32,
    /// Keep every n-th frame as a PNG.
    pub every: u32,
    /// Brain options.
    pub chat: ChatArgs,
}

/// Frames per second of demo time.
pub const FPS: u32 = 30;
/// Unrecorded frames between the avatar being ready and the timeline starting (a ceremony
/// waits as long before its first step, `crate::ceremony::WARMUP_FRAMES`).
const WARMUP_FRAMES: u32 = crate::ceremony::WARMUP_FRAMES;

#[derive(Resource)]
struct Script {
    req: DemoRequest,
    target: Handle<Image>,
    next_line: usize,
    ready_at: Option<f32>,
    /// Frames rendered after the avatar is ready and before the timeline starts.
    warmup: u32,
    quiet_since: Option<f32>,
    t: f32,
    frame: u32,
    requested: u32,
    written: u32,
    frames: Vec<serde_json::Value>,
    done: Arc<Mutex<Option<Result<Summary, Failure>>>>,
    finishing: u32,
}

/// The camera whose frames are kept; it renders only on kept frames (lavapipe renders a frame
/// in about half a second, the rest of the app in a few milliseconds).
#[derive(Component)]
struct DemoCamera;

/// The demo's warm-up camera ([`crate::capture::spawn_warm_up_camera`]), on only in the frame
/// before each kept one: without it every kept frame after the first showed a shut mouth and
/// an outfit's clothes in the base shape. It draws nothing; seeing the meshes is enough.
#[derive(Component)]
struct DemoWarmCamera;

/// What the run left behind.
struct Summary {
    frames: Vec<serde_json::Value>,
    timeline: Vec<serde_json::Value>,
    audio: Vec<f32>,
    pngs: u32,
    latency: Option<String>,
    steps: Option<Vec<StepRecord>>,
    /// The speaker's sample rate (the voice engine's: Piper and espeak-ng at 22.05 kHz, an
    /// OpenAI-compatible service at 24 kHz).
    speech_rate: u32,
}

/// `tomoni ceremony run`: checks the script, then runs it headless (`crate::demo::record`) or
/// live. Here, not in `ceremony`, so the ceremony module needs neither `app` nor `demo`.
pub fn run_ceremony_file(
    setup: Setup,
    o: crate::ceremony::launch::RunOptions,
    chat: crate::session::ChatArgs,
) -> Result<(), Failure> {
    let script = crate::ceremony::script::load(&o.file, &setup.assets).map_err(|e| Failure::Input(e.to_string()))?;
    let outfits = tomoni_avatar::outfit::outfits(setup.avatar.info.expressions.iter().map(String::as_str));
    script.check_outfits(&outfits, &setup.avatar_file).map_err(Failure::Input)?;
    let photos = match &o.headless_out {
        Some(out) => out.join("photos"),
        None => crate::ceremony::launch::pictures_dir(),
    };
    let mut ceremony = crate::ceremony::Ceremony::new(script, photos.clone()).map_err(Failure::Input)?;
    ceremony.rehearsal = o.rehearse;
    if o.auto {
        ceremony.auto_wait = Some(0.8);
    }
    if o.rehearse {
        println!("ceremony: REHEARSAL of {:?} ({} steps)", ceremony.script().title, ceremony.script().steps.len());
    }
    let desk = crate::ceremony::launch::photo_desk(photos.join("from-the-phone"), &o.scene)?;
    let launch = crate::ceremony::launch::CeremonyLaunch::new(ceremony, o.operator.map(|a| (a, o.token.clone())))
        .with_photo_desk(desk);
    match o.headless_out {
        Some(out) => {
            let (width, height, every) = o.frame;
            let req = DemoRequest { out, lines: Vec::new(), max_seconds: o.max_seconds, width, height, every, chat };
            record(setup, req, Some(launch))
        }
        None => crate::app::run_ceremony(setup, o.no_xr, launch, o.spectator),
    }
}

/// Runs the demo.
pub fn demo(setup: Setup, req: DemoRequest) -> Result<(), Failure> {
    record(setup, req, None)
}

/// Runs the live app headless and records it: the demo's user lines, or (with `ceremony`) a
/// ceremony from its first step to its last, seen from a spectator's camera facing the couple.
pub fn record(setup: Setup, req: DemoRequest, ceremony: Option<CeremonyLaunch>) -> Result<(), Failure> {
    std::fs::create_dir_all(&req.out).map_err(|e| Failure::Runtime(format!("{}: {e}", req.out.display())))?;
    let frames_dir = req.out.join("frames");
    let _ = std::fs::remove_dir_all(&frames_dir);
    std::fs::create_dir_all(&frames_dir).map_err(|e| Failure::Runtime(format!("{}: {e}", frames_dir.display())))?;
    let (mut bridge, label) = bridge::open(&setup.config, setup.persona.clone(), &req.chat, Some(true))?;
    eprintln!("tomoni {}: {label}", if ceremony.is_some() { "ceremony" } else { "demo" });
    bridge.timeline = Some(Vec::with_capacity(1024));
    let mut app = base_app(&setup, AppMode::Headless, false);
    app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(1.0 / f64::from(FPS))));
    let (viewer, anchor) = setup.start_pose();
    // A medium shot from where a friend would stand to talk: in front, at eye height.
    let h = setup.look.avatar.height;
    let forward = anchor.rotation * Vec3::Z;
    let person = Vec3::new(viewer.x, 0.0, viewer.z);
    let (cam_at, look_at, fov) = if ceremony.is_some() {
        crate::ceremony::spectator_view(person, anchor.translation, h)
    } else {
        (anchor.translation + forward * 1.6 + Vec3::Y * (h * 0.9), anchor.translation + Vec3::Y * (h * 0.8), 32f32)
    };
    let (camera, target) = crate::capture::spawn_image_camera(
        app.world_mut(),
        if ceremony.is_some() { "spectator camera" } else { "demo camera" },
        (req.width, req.height),
        fov.to_radians(),
        Transform::from_translation(cam_at).looking_at(look_at, Vec3::Y),
    );
    app.world_mut().entity_mut(camera).insert(DemoCamera);
    let warm = crate::capture::spawn_warm_up_camera(
        app.world_mut(),
        "demo warm-up camera",
        (req.width, req.height),
        fov.to_radians(),
        Transform::from_translation(cam_at).looking_at(look_at, Vec3::Y),
    );
    app.world_mut().entity_mut(warm).insert(DemoWarmCamera);
    let done = Arc::new(Mutex::new(None));
    let in_ceremony = ceremony.is_some();
    let wav = if let Some(launch) = ceremony {
        app.add_plugins(crate::commands::ControlPlugin);
        install(&mut app, launch, false, "offline (headless)")?;
        app.insert_resource(CeremonyCamera(CaptureSource::Image(target.clone())));
        // The ring is a few pixels in the wide shot: one close-up while the hand is held out.
        let (camera, target) = crate::capture::spawn_image_camera(
            app.world_mut(),
            "ring camera",
            (480, 360),
            30f32.to_radians(),
            default(),
        );
        app.world_mut().entity_mut(camera).insert(Camera { is_active: false, ..default() });
        app.insert_resource(RingCloseUp { camera, target, path: req.out.join("ring-closeup.png"), state: 0 });
        // Where the person stands (they are real in the glasses; a plain stand-in here, so the
        // spectator's frames show the couple).
        stand_in(app.world_mut(), person, viewer.y);
        // Ears for the listen steps (`--mic-wav`): the person's words end them.
        if let Some(from) = setup.hearing.clone() {
            let h = crate::hearing::Hearing::start(&setup.config.listen, from, &bridge)
                .map_err(|e| Failure::Input(format!("cannot listen: {e}")))?;
            eprintln!("tomoni ceremony: listening: {}", h.source);
            app.insert_resource(h).add_plugins(crate::hearing::HearingPlugin);
        }
        "ceremony.wav"
    } else {
        "speech.wav"
    };
    app.insert_resource(CompanionAnchor(Some(anchor)))
        // The companion talks to whoever is there: the camera in the demo, its person in a
        // ceremony.
        .insert_resource(ViewerHead {
            transform: Transform::from_translation(if in_ceremony { viewer } else { cam_at }),
            valid: true,
        })
        .insert_resource(bridge)
        .add_plugins(CompanionPlugin)
        .insert_resource(Script {
            req: req.clone(),
            target,
            next_line: 0,
            ready_at: None,
            warmup: 0,
            quiet_since: None,
            t: 0.0,
            frame: 0,
            requested: 0,
            written: 0,
            frames: Vec::with_capacity(2048),
            done: done.clone(),
            finishing: 0,
        })
        .add_systems(Update, direct.after(tomoni_core::TomoniSystems::Pose));
    crate::app::run_app(app)?;
    let summary = done.lock().map_err(|_| Failure::Runtime("demo state poisoned".into()))?.take();
    let summary = summary.ok_or_else(|| Failure::Runtime("the demo stopped early".into()))??;
    write_outputs(&req, summary, wav)
}

fn direct(
    mut captures: MessageWriter<CaptureRequest>,
    mut written: MessageReader<CaptureDone>,
    mut script: ResMut<Script>,
    mut bridge: ResMut<Bridge>,
    conversation: Res<Conversation>,
    mouth: Res<MouthWeights>,
    life: Res<Life>,
    ready: Query<(), (With<Companion>, With<AvatarReady>)>,
    time: Res<Time>,
    mut cameras: Query<(&mut Camera, Has<DemoWarmCamera>), Or<(With<DemoCamera>, With<DemoWarmCamera>)>>,
    mut exit: MessageWriter<AppExit>,
    mut ceremony: Option<ResMut<Ceremony>>,
) {
    for done in written.read() {
        script.written += 1;
        if let Err(e) = &done.result {
            finish(&script, &mut exit, Err(Failure::Runtime(e.clone())));
            return;
        }
    }
    if script.finishing > 0 {
        // Waiting for the last PNGs to be written.
        script.finishing += 1;
        if script.written >= script.requested || script.finishing > 600 {
            let pngs = script.written;
            let frames = std::mem::take(&mut script.frames);
            let timeline = bridge.timeline.take().unwrap_or_default();
            let audio = match bridge.output.get() {
                Output::Offline { capture, .. } => capture.take().unwrap_or_default(),
                Output::Device(_) => Vec::new(),
            };
            let latency = bridge.last.map(|l| l.line());
            let steps = ceremony.as_mut().map(|c| std::mem::take(&mut c.records));
            let speech_rate = bridge.speech_rate();
            let summary = Summary { frames, timeline, audio, pngs, latency, steps, speech_rate };
            finish(&script, &mut exit, Ok(summary));
        }
        return;
    }
    if ready.is_empty() {
        if time.elapsed_secs() > 120.0 {
            finish(&script, &mut exit, Err(Failure::Runtime("the avatar never became ready".into())));
        }
        return;
    }
    // Render pipelines compile in the background: the first frames after loading can come out
    // blank. A few unrecorded frames first, so the timeline's frame 0 shows the companion.
    if script.warmup < WARMUP_FRAMES {
        script.warmup += 1;
        return;
    }
    script.t += time.delta_secs();
    let t = script.t;
    let ready_at = *script.ready_at.get_or_insert(t);
    // The script: each line a second after the companion has gone quiet.
    let quiet = *conversation == Conversation::Idle;
    if quiet {
        script.quiet_since.get_or_insert(t);
    } else {
        script.quiet_since = None;
    }
    let quiet_for = script.quiet_since.map_or(0.0, |q| t - q);
    if t - ready_at > 1.0 && quiet_for > 1.0 && script.next_line < script.req.lines.len() {
        let line = script.req.lines[script.next_line].clone();
        script.next_line += 1;
        script.quiet_since = None;
        bridge.say(&line, None);
    }
    let all_said = script.next_line >= script.req.lines.len();
    let frame = script.frame;
    script.frame += 1;
    let played = bridge.played_samples();
    let wav_at = bridge.rendered_samples();
    script.frames.push(serde_json::json!({
        "frame": frame, "t": (f64::from(t) * 1000.0).round() / 1000.0, "played_samples": played, "wav_sample": wav_at,
        "mouth": mouth.0, "blink": life.blink, "state": format!("{:?}", *conversation),
        "gesture": life.gesture.map(|(g, _)| g.name()),
    }));
    let keep = frame.is_multiple_of(script.req.every.max(1));
    // The camera draws only the frames kept: on lavapipe a frame drawn costs ~0.4 s, so a
    // ceremony drawn every frame ran ten times slower than its speech. Except through a
    // ceremony's outfit and photo steps (see `Ceremony::dressing_or_photographing`); a photo
    // between kept frames otherwise wakes the camera itself (the capture path does that).
    let draw = keep || ceremony.as_ref().is_some_and(|c| c.dressing_or_photographing());
    // The frame before a kept one is seen by the warm-up camera (see `DemoWarmCamera`).
    let warm = !draw && (frame + 1).is_multiple_of(script.req.every.max(1));
    for (mut cam, small) in &mut cameras {
        let on = if small { warm } else { draw };
        if cam.is_active != on {
            cam.is_active = on;
        }
    }
    if keep {
        let path = script.req.out.join("frames").join(format!("{frame:05}.png"));
        script.requested += 1;
        captures.write(CaptureRequest {
            id: u64::from(frame),
            source: CaptureSource::Image(script.target.clone()),
            path,
            format: PixelFormat::Rgb,
        });
    }
    // A ceremony is over when its last step has ended and its music has faded.
    let ceremony_over = ceremony.as_ref().is_none_or(|c| c.state == RunState::Done) && !bridge.music.playing();
    if (all_said && ceremony_over && quiet_for > 1.5) || t > script.req.max_seconds {
        script.finishing = 1;
    }
}

/// A plain grey figure where the person stands (headless ceremony renders only).
fn stand_in(world: &mut World, feet: Vec3, eye_height: f32) {
    let body_h = eye_height * 0.82;
    let mesh = world.resource_mut::<Assets<Mesh>>().add(Capsule3d::new(0.19, body_h - 0.38));
    let head = world.resource_mut::<Assets<Mesh>>().add(Sphere::new(0.11));
    let mat = world.resource_mut::<Assets<StandardMaterial>>().add(StandardMaterial {
        base_color: Color::srgb(0.62, 0.64, 0.68),
        perceptual_roughness: 0.9,
        ..default()
    });
    world.spawn((
        Name::new("person stand-in"),
        Mesh3d(mesh),
        MeshMaterial3d(mat.clone()),
        Transform::from_translation(feet + Vec3::Y * (body_h / 2.0)),
    ));
    world.spawn((
        Name::new("person stand-in head"),
        Mesh3d(head),
        MeshMaterial3d(mat),
        Transform::from_translation(feet + Vec3::Y * (eye_height + 0.06)),
    ));
}

fn finish(script: &Script, exit: &mut MessageWriter<AppExit>, r: Result<Summary, Failure>) {
    if let Ok(mut d) = script.done.lock() {
        *d = Some(r);
    }
    exit.write(AppExit::Success);
}

fn write_outputs(req: &DemoRequest, s: Summary, wav_name: &str) -> Result<(), Failure> {
    let io = |p: &std::path::Path, e: &dyn std::fmt::Display| Failure::Runtime(format!("{}: {e}", p.display()));
    let wav = req.out.join(wav_name);
    let pcm: Vec<i16> = s.audio.iter().map(|x| (x.clamp(-1.0, 1.0) * 32767.0) as i16).collect();
    tomoni_voice::wav::write(&wav, crate::speech::OFFLINE_RATE, &pcm).map_err(|e| io(&wav, &e))?;
    let timeline = req.out.join("timeline.json");
    let mut doc = serde_json::json!({
        "fps": FPS,
        "audio_rate": crate::speech::OFFLINE_RATE,
        "speech_rate": s.speech_rate,
        "events": s.timeline,
        "frames": s.frames,
        "latency": s.latency,
        "steps": s.steps,
    });
    // Frame times are written to the millisecond; step times must be too, or the frame on which
    // a step ends (same instant) would read as a few microseconds inside it.
    for step in doc["steps"].as_array_mut().into_iter().flatten() {
        for key in ["start", "end"] {
            if let Some(t) = step[key].as_f64() {
                step[key] = serde_json::json!((t * 1000.0).round() / 1000.0);
            }
        }
    }
    std::fs::write(&timeline, serde_json::to_string_pretty(&doc).unwrap_or_default()).map_err(|e| io(&timeline, &e))?;
    let sheet = req.out.join("contact-sheet.png");
    // A ceremony's sheet: each step 60 % of the way through (the ceremony's clock and the
    // timeline's both start once the avatar has been ready for the warm-up frames).
    let moments: Option<Vec<f64>> = s.steps.as_ref().map(|st| {
        // Gestures peak early (an offered hand is held out from about 1.5 s): at most 1.8 s in.
        st.iter()
            .map(|r| f64::from(r.start) + f64::min(0.6 * f64::from(r.end.unwrap_or(r.start) - r.start), 1.8))
            .collect()
    });
    contact_sheet(&req.out.join("frames"), &s.frames, moments.as_deref(), &sheet).map_err(|e| io(&sheet, &e))?;
    let what = if s.steps.is_some() { "ceremony" } else { "demo" };
    println!(
        "{what}: {} frames ({} PNGs), {:.1} s of {wav_name}, timeline.json, contact-sheet.png in {}",
        s.frames.len(),
        s.pngs,
        s.audio.len() as f64 / f64::from(crate::speech::OFFLINE_RATE),
        req.out.display()
    );
    for st in s.steps.iter().flatten() {
        let end = st.end.map_or("-".to_string(), |e| format!("{e:.2}"));
        println!("ceremony: step {} {:?} ({}) {:.2}..{end} s, {}", st.index, st.name, st.kind, st.start, st.ended_by);
    }
    if let Some(l) = s.latency {
        println!("demo: {l}");
    }
    Ok(())
}

/// Twelve frames across the run, each labelled with its time, a mouth-openness bar and a strip
/// coloured by the conversation state (grey idle, blue listening, amber thinking, green speaking).
fn contact_sheet(
    dir: &std::path::Path,
    frames: &[serde_json::Value],
    moments: Option<&[f64]>,
    out: &std::path::Path,
) -> Result<(), String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err("no frames were written".into());
    }
    let picks: Vec<&PathBuf> = match moments {
        // One frame per moment (a ceremony: each step, part way through, where its gesture shows).
        Some(ts) if !ts.is_empty() => ts
            .iter()
            .map(|&at| {
                let t_of = |p: &PathBuf| {
                    let f: usize =
                        p.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse().ok()).unwrap_or_default();
                    frames.get(f).and_then(|f| f["t"].as_f64()).unwrap_or(f64::MAX)
                };
                files.iter().min_by(|a, b| (t_of(a) - at).abs().total_cmp(&(t_of(b) - at).abs())).unwrap_or(&files[0])
            })
            .collect(),
        _ => {
            let n = files.len().min(12);
            (0..n).map(|i| &files[i * (files.len() - 1) / (n - 1).max(1)]).collect()
        }
    };
    let n = picks.len();
    let first = image::open(picks[0]).map_err(|e| e.to_string())?.to_rgb8();
    let (w, h) = first.dimensions();
    let cols = n.min(4) as u32;
    let rows = (n as u32).div_ceil(cols);
    let label = 16;
    let mut sheet = image::RgbImage::from_pixel(w * cols, (h + label) * rows, image::Rgb([255, 255, 255]));
    for (i, p) in picks.iter().enumerate() {
        let img = image::open(p).map_err(|e| e.to_string())?.to_rgb8();
        let (x0, y0) = ((i as u32 % cols) * w, (i as u32 / cols) * (h + label));
        image::imageops::overlay(&mut sheet, &img, i64::from(x0), i64::from(y0));
        let frame: usize = p.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse().ok()).unwrap_or_default();
        let info = frames.get(frame);
        let t = info.and_then(|f| f["t"].as_f64()).unwrap_or(0.0);
        let open = info
            .and_then(|f| f["mouth"].as_array())
            .map_or(0.0, |m| m.iter().filter_map(serde_json::Value::as_f64).fold(0.0, f64::max));
        let state = info.and_then(|f| f["state"].as_str()).unwrap_or("Idle");
        let colour = match state {
            "Listening" => [70, 120, 220],
            "Thinking" => [230, 160, 40],
            "Speaking" => [60, 170, 90],
            _ => [170, 170, 170],
        };
        let ly = y0 + h;
        for x in x0..x0 + w {
            for y in ly..ly + 3 {
                sheet.put_pixel(x, y, image::Rgb(colour));
            }
        }
        // Mouth openness: a red bar along the right of the label row.
        let bar = (open.clamp(0.0, 1.0) * f64::from(w / 3)) as u32;
        for x in (x0 + w - w / 3)..(x0 + w - w / 3 + bar) {
            for y in ly + 5..ly + 14 {
                sheet.put_pixel(x, y, image::Rgb([210, 50, 50]));
            }
        }
        draw_text(&mut sheet, x0 + 4, ly + 4, &format!("{t:.1}"));
    }
    sheet.save(out).map_err(|e| e.to_string())
}

/// A 3×5 pixel font for digits and '.': enough to label a frame's time in seconds.
fn draw_text(img: &mut image::RgbImage, x: u32, y: u32, text: &str) {
    const GLYPHS: [(char, [u8; 5]); 11] = [
        ('0', [7, 5, 5, 5, 7]),
        ('1', [2, 6, 2, 2, 7]),
        ('2', [7, 1, 7, 4, 7]),
        ('3', [7, 1, 7, 1, 7]),
        ('4', [5, 5, 7, 1, 1]),
        ('5', [7, 4, 7, 1, 7]),
        ('6', [7, 4, 7, 5, 7]),
        ('7', [7, 1, 1, 1, 1]),
        ('8', [7, 5, 7, 5, 7]),
        ('9', [7, 5, 7, 1, 7]),
        ('.', [0, 0, 0, 0, 2]),
    ];
    let mut cx = x;
    for ch in text.chars() {
        if let Some((_, rows)) = GLYPHS.iter().find(|(c, _)| *c == ch) {
            for (r, bits) in rows.iter().enumerate() {
                for b in 0..3 {
                    if bits & (4 >> b) != 0 {
                        // Each font pixel drawn 2×2.
                        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                            let (px, py) = (cx + b * 2 + dx, y + r as u32 * 2 + dy);
                            if px < img.width() && py < img.height() {
                                img.put_pixel(px, py, image::Rgb([20, 20, 20]));
                            }
                        }
                    }
                }
            }
        }
        cx += 8;
    }
}
