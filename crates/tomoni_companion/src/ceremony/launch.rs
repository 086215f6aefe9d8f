//! `tomoni ceremony run`: the checked script, the operator page and the companion, in glasses,
//! a window, or headless into a folder.

use super::{Ceremony, CeremonyPlugin, CeremonyStatus};
use crate::control::{CeremonyCommand, ControlCommand, ControlInbox, ControlReply, ControlRequest, Replier};
use crate::error::Failure;
use bevy::prelude::*;
use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run a ceremony.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The script.
    pub file: PathBuf,
    /// A rehearsal: marked, and the operator may jump to any step.
    pub rehearse: bool,
    /// Headless into this folder (frames, `ceremony.wav`, `timeline.json`, contact sheet).
    pub headless_out: Option<PathBuf>,
    /// Every wait for the operator ends by itself after a short pause.
    pub auto: bool,
    /// Serve the operator page here.
    pub operator: Option<SocketAddr>,
    /// The pairing token (default: a new random one).
    pub token: Option<String>,
    /// Never start XR.
    pub no_xr: bool,
    /// Headless frame size and how many frames to keep.
    pub frame: (u32, u32, u32),
    /// Longest run, seconds (headless).
    pub max_seconds: f32,
    /// Live on a desktop: a second window with the guests' view (for a TV or projector).
    pub spectator: bool,
    /// The scene the ceremony was started with: photos handed in on the operator page are
    /// composited with the same persona, avatar and assets.
    pub scene: crate::setup::SceneArgs,
}

/// A ceremony ready to install into an app, with its operator page if one was asked for.
pub struct CeremonyLaunch {
    ceremony: Ceremony,
    operator: Option<(SocketAddr, Option<String>)>,
    photos: Option<tomoni_operator::PhotoDesk>,
}

impl CeremonyLaunch {
    /// A ceremony, with its operator page at `operator` (address, token) if given.
    pub fn new(ceremony: Ceremony, operator: Option<(SocketAddr, Option<String>)>) -> Self {
        Self { ceremony, operator, photos: None }
    }

    /// The operator page also takes photos from the planner's phone and composites the
    /// companion into them.
    pub fn with_photo_desk(mut self, desk: tomoni_operator::PhotoDesk) -> Self {
        self.photos = Some(desk);
        self
    }
}

/// A photo desk that stands the companion into each photo handed in, as `tomoni photo` does,
/// in a process of its own (a renderer per photo; never the ceremony's frame loop), with the
/// ceremony's persona, avatar and assets; results in `dir`.
pub fn photo_desk(dir: PathBuf, scene: &crate::setup::SceneArgs) -> Result<tomoni_operator::PhotoDesk, Failure> {
    let me = std::env::current_exe().map_err(|e| Failure::Runtime(format!("cannot find tomoni itself: {e}")))?;
    let scene = scene.clone();
    let compose: tomoni_operator::Compose = std::sync::Arc::new(move |input, output| {
        let mut c = crate::setup::photo_command(&me, &scene, input, output);
        let o = c.args(["--expression", "happy"]).output().map_err(|e| format!("{}: {e}", me.display()))?;
        let said = crate::setup::last_line(if o.status.success() { &o.stdout } else { &o.stderr });
        if o.status.success() { Ok(said) } else { Err(said) }
    });
    Ok(tomoni_operator::PhotoDesk { dir, compose })
}

/// The operator server, kept as long as the app runs; its address for the desktop panel.
#[derive(Resource)]
pub struct OperatorPage {
    /// `http://ADDR:PORT/?token=TOKEN`.
    pub url: String,
    _server: tomoni_operator::Operator,
}

impl OperatorPage {
    /// Where the guests' view goes (`/spectator` on the same server).
    pub fn spectator(&self) -> tomoni_operator::SpectatorFeed {
        self._server.spectator()
    }

    /// The guests' page: `http://ADDR:PORT/spectator?token=TOKEN`.
    pub fn spectator_url(&self) -> String {
        self.url.replacen("/?token=", "/spectator?token=", 1)
    }
}

/// Frames a second of the guests' view streamed to the spectator page: a TV's browser needs no
/// more for people standing still, and each costs a read-back and a ~10 ms JPEG encode on a
/// worker thread.
pub const SPECTATOR_FPS: f32 = 10.0;

/// Streams the guests' camera to the operator server's spectator page (glasses: no desktop
/// window to put on the TV). Reads back at most [`SPECTATOR_FPS`], one frame in flight at a
/// time, so a slow encoder drops frames instead of queuing them.
pub struct SpectatorStreamPlugin {
    /// The guests' camera's image.
    pub source: Handle<Image>,
    /// Where frames go.
    pub feed: tomoni_operator::SpectatorFeed,
}

#[derive(Resource)]
struct SpectatorStream {
    source: Handle<Image>,
    feed: tomoni_operator::SpectatorFeed,
    next: f32,
    in_flight: bool,
}

impl Plugin for SpectatorStreamPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(SpectatorStream {
            source: self.source.clone(),
            feed: self.feed.clone(),
            next: 0.0,
            in_flight: false,
        })
        .add_systems(Update, stream_spectator);
    }
}

/// The id the spectator's read-backs carry (other captures use small ids).
const SPECTATOR_CAPTURE: u64 = u64::MAX - 5;

fn stream_spectator(
    time: Res<Time<Real>>,
    settled: Res<crate::capture::SceneSettled>,
    mut s: ResMut<SpectatorStream>,
    mut requests: MessageWriter<crate::capture::FrameRequest>,
    mut done: MessageReader<crate::capture::FrameDone>,
) {
    for d in done.read().filter(|d| d.id == SPECTATOR_CAPTURE) {
        s.in_flight = false;
        match &d.result {
            Ok(crate::capture::Frame::Jpeg(jpeg)) => s.feed.publish(jpeg.clone()),
            Ok(crate::capture::Frame::Rgba(_)) => {}
            Err(e) => warn!("guests' view: {e}"),
        }
    }
    let now = time.elapsed_secs();
    if s.in_flight || now < s.next || settled.0 < 3 {
        return;
    }
    s.next = now + 1.0 / SPECTATOR_FPS;
    s.in_flight = true;
    requests.write(crate::capture::FrameRequest {
        id: SPECTATOR_CAPTURE,
        source: crate::capture::CaptureSource::Image(s.source.clone()),
        form: crate::capture::FrameForm::Jpeg(80),
    });
}

/// What the operator page's state says besides the ceremony's own status.
fn state_json(s: &CeremonyStatus, xr: bool, audio: &str) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["xr"] = serde_json::json!(xr);
    v["audio"] = serde_json::json!(audio);
    v
}

/// Adds the ceremony to `app` (which carries the control plane it is steered through): its
/// plugin and the operator page (printed with its pairing link and a QR code). `xr`: whether glasses show it.
pub fn install(app: &mut App, launch: CeremonyLaunch, xr: bool, audio: &str) -> Result<(), Failure> {
    let CeremonyLaunch { mut ceremony, operator, photos } = launch;
    ceremony.hold_photo_moments = operator.is_some() && photos.is_some();
    // Steered through the control plane: the app must carry it (`crate::commands::ControlPlugin`).
    if !app.world().contains_resource::<ControlInbox>() {
        return Err(Failure::Runtime("a ceremony needs the control plane (ControlPlugin) in the app".into()));
    }
    app.add_plugins(CeremonyPlugin);
    if let Some((addr, token)) = operator {
        let inbox = app.world().resource::<ControlInbox>().sender();
        let handler: tomoni_operator::Handler = std::sync::Arc::new(move |action: tomoni_operator::Action| {
            let (reply, rx) = Replier::channel();
            let command = CeremonyCommand::parse(&action.command()).map(ControlCommand::Ceremony);
            if let Some(command) = command {
                let _ = inbox.send(ControlRequest { command, reply });
            }
            // Runs on the operator server's blocking pool, never the frame loop.
            #[expect(
                clippy::disallowed_methods,
                reason = "waits on the operator server's blocking pool, not the frame loop"
            )]
            let wait = move |deadline| rx.recv_timeout(deadline);
            Box::new(move |deadline| match wait(deadline) {
                Ok(ControlReply::Done(d)) | Ok(ControlReply::Clause(d)) => Ok(d),
                Ok(ControlReply::Error(e)) | Ok(ControlReply::Interrupted(e)) => Err(e),
                Err(_) => Err("the companion did not answer in time".into()),
            })
        });
        let server = tomoni_operator::serve(addr, token, handler, photos)
            .map_err(|e| Failure::Input(format!("--operator {addr}: cannot serve the operator page: {e}")))?;
        let publisher = server.publisher();
        let audio = audio.to_string();
        ceremony.set_sink(Box::new(move |s| publisher.publish(&state_json(s, xr, &audio))));
        println!("operator: {}", server.url);
        println!("{}", server.qr_text());
        app.insert_resource(OperatorPage { url: server.url.clone(), _server: server });
    }
    app.insert_resource(ceremony);
    Ok(())
}

/// Where photos of a live ceremony go: `$XDG_PICTURES_DIR/tomoni`, else `~/Pictures/tomoni`.
pub fn pictures_dir() -> PathBuf {
    let base = std::env::var_os("XDG_PICTURES_DIR").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join("Pictures")
    });
    base.join("tomoni")
}

/// The desktop window's ceremony corner: the title (and REHEARSAL), the current step, and the
/// operator page's pairing link with its QR code for the planner's phone.
pub struct CeremonyPanelPlugin;

impl Plugin for CeremonyPanelPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, spawn_panel).add_systems(Update, show_step);
    }
}

#[derive(Component)]
struct StepLine;

/// A QR code as a picture, each module `scale` pixels, dark on white.
fn qr_image(url: &str, scale: usize) -> Option<Image> {
    use bevy::asset::RenderAssetUsages;
    use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
    let m = tomoni_operator::qr_modules(url)?;
    let n = m.len() * scale;
    let mut data = vec![255u8; n * n * 4];
    for (y, row) in m.iter().enumerate() {
        for (x, &dark) in row.iter().enumerate() {
            if !dark {
                continue;
            }
            for dy in 0..scale {
                for dx in 0..scale {
                    let i = ((y * scale + dy) * n + x * scale + dx) * 4;
                    data[i..i + 3].copy_from_slice(&[20, 20, 24]);
                }
            }
        }
    }
    let size = Extent3d { width: n as u32, height: n as u32, depth_or_array_layers: 1 };
    let mut img =
        Image::new(size, TextureDimension::D2, data, TextureFormat::Rgba8UnormSrgb, RenderAssetUsages::RENDER_WORLD);
    img.sampler = bevy::image::ImageSampler::nearest();
    Some(img)
}

fn spawn_panel(
    mut commands: Commands,
    ceremony: Option<Res<super::Ceremony>>,
    page: Option<Res<OperatorPage>>,
    mut images: ResMut<Assets<Image>>,
) {
    let Some(ceremony) = ceremony else { return };
    let title = format!("{}{}", if ceremony.rehearsal { "REHEARSAL · " } else { "" }, ceremony.script().title);
    let link = page.as_ref().map_or(String::new(), |p| format!("\nplanner's phone: {}", p.url));
    let qr = page.as_ref().and_then(|p| qr_image(&p.url, 4)).map(|i| images.add(i));
    commands
        .spawn(Node {
            position_type: PositionType::Absolute,
            top: px(10),
            right: px(12),
            flex_direction: FlexDirection::Column,
            align_items: AlignItems::End,
            row_gap: px(6),
            ..default()
        })
        .with_children(|p| {
            p.spawn((
                Text::new(format!("{title}{link}")),
                TextFont { font_size: FontSize::Px(14.0), ..default() },
                TextColor(if ceremony.rehearsal { Color::srgb(0.75, 0.15, 0.1) } else { Color::srgb(0.2, 0.2, 0.25) }),
            ));
            p.spawn((
                StepLine,
                Text::new(""),
                TextFont { font_size: FontSize::Px(16.0), ..default() },
                TextColor(Color::srgb(0.45, 0.3, 0.2)),
            ));
            if let Some(qr) = qr {
                p.spawn((ImageNode::new(qr), Node { width: px(132), height: px(132), ..default() }));
            }
        });
}

fn show_step(
    ceremony: Option<Res<super::Ceremony>>,
    mut shown: Local<Option<(usize, super::RunState)>>,
    mut line: Query<&mut Text, With<StepLine>>,
) {
    let Some(c) = ceremony else { return };
    // Text only when the step or state changes (the frame loop does not allocate otherwise).
    if *shown == Some((c.step, c.state)) {
        return;
    }
    *shown = Some((c.step, c.state));
    if let Ok(mut t) = line.single_mut() {
        let s = c.status();
        t.0 = if s.state == "done" {
            "the ceremony is over".into()
        } else {
            format!("{}. {} ({})", s.step + 1, s.name, s.state)
        };
    }
}
