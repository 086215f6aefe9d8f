//! OpenXR through bevy_mod_openxr: the plugin group that starts an XR session, the blend-mode
//! choice and render profile, the reference space (STAGE, else LOCAL_FLOOR, else LOCAL), the
//! controller's recenter button, the session's life (presence, clean exit through STOPPING and
//! EXITING), the head pose for [`ViewerHead`], and the summary `tomoni run --max-frames` prints.

use bevy::app::PluginGroupBuilder;
use bevy::prelude::*;
use bevy_mod_openxr::environment_blend_mode::OxrEnvironmentBlendModes;
use bevy_mod_openxr::openxr_session_running;
use bevy_mod_openxr::poll_events::{OxrEventHandlerExt, OxrEventIn};
use bevy_mod_openxr::resources::{OxrInstance, OxrSessionConfig, OxrSystemId};
use bevy_mod_openxr::session::OxrSession;
use bevy_mod_xr::camera::XrCamera;
use bevy_mod_xr::session::{XrPreDestroySession, XrRequestExitMessage, XrSessionCreated, XrState, session_available};
use bevy_mod_xr::spaces::{XrPrimaryReferenceSpace, XrReferenceSpace};
use openxr::{EnvironmentBlendMode, ReferenceSpaceType};
use tomoni_core::behaviour::Presence;
use tomoni_core::{RenderProfile, SeeThrough, TomoniSystems, ViewerHead};

use crate::Recenter;

/// `DefaultPlugins` with OpenXR. `XR_FB_passthrough` is asked for too (only enabled where the
/// runtime offers it): on Quest-style runtimes that report only OPAQUE, passthrough is how the
/// room shows behind the companion. So is `XR_EXT_local_floor`, for the LOCAL_FLOOR fallback.
/// The primary reference space comes from [`XrSpacePlugin`], which the caller adds.
pub fn plugins_with_xr(defaults: PluginGroupBuilder) -> PluginGroupBuilder {
    use bevy_mod_openxr::exts::OxrExtensions;
    use bevy_mod_openxr::init::OxrInitPlugin;
    let mut exts = OxrExtensions::default();
    exts.enable_hand_tracking().enable_fb_passthrough();
    exts.raw_mut().ext_local_floor = true;
    bevy_mod_openxr::add_xr_plugins(defaults)
        .set(OxrInitPlugin { exts, ..Default::default() })
        // Ours picks STAGE, LOCAL_FLOOR or LOCAL by what the runtime offers (`XrSpacePlugin`).
        .disable::<bevy_mod_openxr::reference_space::OxrReferenceSpacePlugin>()
        .add(bevy_mod_openxr::features::fb_passthrough::OxrFbPassthroughPlugin)
}

/// Parses the configured blend-mode names (`alpha_blend`, `additive`, `opaque`).
pub fn parse_blend_modes(names: &[String]) -> Result<Vec<EnvironmentBlendMode>, String> {
    use EnvironmentBlendMode as B;
    parse_names(
        "xr.blend_modes",
        "mode",
        names,
        &[("alpha_blend", B::ALPHA_BLEND), ("additive", B::ADDITIVE), ("opaque", B::OPAQUE)],
    )
}

/// Parses the configured reference-space names (`stage`, `local_floor`, `local`).
pub fn parse_reference_spaces(names: &[String]) -> Result<Vec<ReferenceSpaceType>, String> {
    use ReferenceSpaceType as S;
    parse_names(
        "xr.reference_spaces",
        "space",
        names,
        &[("stage", S::STAGE), ("local_floor", S::LOCAL_FLOOR), ("local", S::LOCAL)],
    )
}

/// A non-empty list of names from `known`; errors name the setting `key` and what is allowed.
fn parse_names<T: Copy>(key: &str, what: &str, names: &[String], known: &[(&str, T)]) -> Result<Vec<T>, String> {
    let all: Vec<&str> = known.iter().map(|(n, _)| *n).collect();
    if names.is_empty() {
        return Err(format!("{key}: empty; list at least one of {}", all.join(", ")));
    }
    let (last, rest) = all.split_last().unwrap_or((&"", &[]));
    names
        .iter()
        .map(|n| {
            known
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("{key}: unknown {what} {n:?} (expected {} or {last})", rest.join(", ")))
        })
        .collect()
}

/// The list handed to the session: the user's preference, then every other mode (a companion
/// shown some way beats no session at all).
pub fn session_preference(preference: &[EnvironmentBlendMode]) -> Vec<EnvironmentBlendMode> {
    let mut all = preference.to_vec();
    for m in [EnvironmentBlendMode::ALPHA_BLEND, EnvironmentBlendMode::ADDITIVE, EnvironmentBlendMode::OPAQUE] {
        if !all.contains(&m) {
            all.push(m);
        }
    }
    all
}

/// The blend mode a session gets: the first of [`session_preference`] the runtime offers
/// (bevy_mod_openxr applies the same rule to the same list).
pub fn choose_blend_mode(
    preference: &[EnvironmentBlendMode],
    available: &[EnvironmentBlendMode],
) -> Option<EnvironmentBlendMode> {
    session_preference(preference).into_iter().find(|m| available.contains(m))
}

/// How to draw for a blend mode: additive displays get the lifted profile; both AR modes see
/// the real world through.
pub fn profile_for(mode: EnvironmentBlendMode) -> (RenderProfile, SeeThrough) {
    match mode {
        EnvironmentBlendMode::ADDITIVE => (RenderProfile::Additive, SeeThrough(true)),
        EnvironmentBlendMode::ALPHA_BLEND => (RenderProfile::Standard, SeeThrough(true)),
        _ => (RenderProfile::Standard, SeeThrough(false)),
    }
}

/// A blend mode's name, as configured and printed.
pub fn blend_name(mode: EnvironmentBlendMode) -> &'static str {
    match mode {
        EnvironmentBlendMode::ALPHA_BLEND => "alpha_blend",
        EnvironmentBlendMode::ADDITIVE => "additive",
        EnvironmentBlendMode::OPAQUE => "opaque",
        _ => "unknown",
    }
}

/// Whether an OpenXR loader and runtime can be reached, and which runtime.
pub fn runtime_available() -> Result<String, String> {
    probe().map(|p| format!("{} {}", p.runtime, p.runtime_version))
}

/// What `tomoni doctor` reports about OpenXR.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// Runtime name.
    pub runtime: String,
    /// Runtime version.
    pub runtime_version: String,
    /// System (headset) name, if one is connected.
    pub system: Option<String>,
    /// Blend modes the system offers for stereo views.
    pub blend_modes: Vec<&'static str>,
    /// Extensions the runtime offers.
    pub extensions: Vec<String>,
}

/// Asks the installed OpenXR runtime what it offers (instance, system, blend modes).
#[expect(unsafe_code, reason = "loading the OpenXR loader library is unsafe by the openxr crate's API")]
pub fn probe() -> Result<Probe, String> {
    // SAFETY: dlopens the system's OpenXR loader (the same library bevy_mod_openxr loads next);
    // we trust the installed loader's initialisers, and keep the entry only for this probe.
    let entry = unsafe { openxr::Entry::load() }.map_err(|e| format!("no OpenXR loader: {e}"))?;
    let exts = entry.enumerate_extensions().map_err(|e| format!("no OpenXR runtime: {e}"))?;
    let name = |n: &[u8]| String::from_utf8_lossy(n).trim_end_matches(char::from(0)).to_string();
    let mut extensions = exts.names().into_iter().map(name).collect::<Vec<_>>();
    extensions
        .extend(exts.other.iter().map(|n| String::from_utf8_lossy(n).trim_end_matches(char::from(0)).to_string()));
    extensions.sort();
    let app = openxr::ApplicationInfo { application_name: "tomoni-probe", ..Default::default() };
    let instance = entry
        .create_instance(&app, &openxr::ExtensionSet::default(), &[])
        .map_err(|e| format!("OpenXR runtime refused an instance: {e}"))?;
    let props = instance.properties().map_err(|e| e.to_string())?;
    let mut p = Probe {
        runtime: props.runtime_name,
        runtime_version: props.runtime_version.to_string(),
        extensions,
        ..Default::default()
    };
    if let Ok(system) = instance.system(openxr::FormFactor::HEAD_MOUNTED_DISPLAY) {
        p.system = instance.system_properties(system).ok().map(|s| s.system_name);
        p.blend_modes = instance
            .enumerate_environment_blend_modes(system, openxr::ViewConfigurationType::PRIMARY_STEREO)
            .unwrap_or_default()
            .into_iter()
            .map(blend_name)
            .collect();
    }
    Ok(p)
}

/// The world tomoni draws in: an OpenXR reference space, and where its floor is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpaceChoice {
    /// The reference space created.
    pub space: ReferenceSpaceType,
    /// How far below that space's origin the floor is, metres: 0 for STAGE and LOCAL_FLOOR; for
    /// LOCAL (origin at the head where the session began) the user's configured eye height.
    pub floor_below_origin: f32,
}

/// The first preferred space the runtime offers; LOCAL gets its floor from `eye_height`.
pub fn choose_reference_space(
    preference: &[ReferenceSpaceType],
    available: &[ReferenceSpaceType],
    eye_height: f32,
) -> Option<SpaceChoice> {
    preference.iter().copied().find(|s| available.contains(s)).map(|space| SpaceChoice {
        space,
        floor_below_origin: if space == ReferenceSpaceType::LOCAL { eye_height } else { 0.0 },
    })
}

fn space_name(s: ReferenceSpaceType) -> &'static str {
    match s {
        ReferenceSpaceType::STAGE => "STAGE",
        ReferenceSpaceType::LOCAL_FLOOR => "LOCAL_FLOOR",
        ReferenceSpaceType::LOCAL => "LOCAL",
        ReferenceSpaceType::VIEW => "VIEW",
        _ => "other",
    }
}

/// Creates the primary reference space (in place of bevy_mod_openxr's fixed STAGE): STAGE, else
/// LOCAL_FLOOR, else LOCAL with the floor at the configured eye height below the start. The
/// plugin's settings are also the resource its system reads.
#[derive(Resource, Clone)]
pub struct XrSpacePlugin {
    /// Reference spaces in order of preference.
    pub preference: Vec<ReferenceSpaceType>,
    /// The user's eye height, metres (for LOCAL).
    pub eye_height: f32,
}

impl Plugin for XrSpacePlugin {
    fn build(&self, app: &mut App) {
        use bevy::render::{RenderApp, extract_resource::ExtractResourcePlugin};
        app.add_plugins(ExtractResourcePlugin::<XrPrimaryReferenceSpace>::default())
            .insert_resource(self.clone())
            .add_systems(XrSessionCreated, create_primary_space)
            .add_systems(Update, measure_head_in_raw_local.run_if(resource_exists::<RawLocal>))
            .add_systems(XrPreDestroySession, drop_spaces);
        app.sub_app_mut(RenderApp).add_systems(XrPreDestroySession, drop_spaces);
    }
}

fn create_primary_space(
    session: Res<OxrSession>,
    pref: Res<XrSpacePlugin>,
    remembered: Option<Res<crate::RememberedPlace>>,
    mut status: ResMut<XrStatus>,
    mut commands: Commands,
) {
    let available = session.enumerate_reference_spaces().unwrap_or_default();
    let Some(choice) = choose_reference_space(&pref.preference, &available, pref.eye_height) else {
        error!(
            "the OpenXR runtime offers none of the configured reference spaces (xr.reference_spaces); it offers {:?}",
            available.iter().map(|s| space_name(*s)).collect::<Vec<_>>()
        );
        return;
    };
    let origin = Isometry3d::from_translation(Vec3::new(0.0, -choice.floor_below_origin, 0.0));
    match session.create_reference_space(choice.space, origin) {
        Ok(space) => {
            status.space = space_name(choice.space).to_string();
            if choice.floor_below_origin > 0.0 {
                info!(
                    "reference space LOCAL: no floor from the runtime, so the floor is {:.2} m (viewer.eye_height) below where the session began",
                    choice.floor_below_origin
                );
            } else {
                info!("reference space {}", status.space);
            }
            commands.insert_resource(XrPrimaryReferenceSpace(space));
            if choice.floor_below_origin > 0.0 {
                // The head in LOCAL as the runtime has it (no offset of ours), to check in the
                // same run that the floor really sits `eye_height` below it (`XrStatus`).
                let raw = session.create_reference_space(ReferenceSpaceType::LOCAL, Isometry3d::IDENTITY);
                let view = session.create_reference_space(ReferenceSpaceType::VIEW, Isometry3d::IDENTITY);
                if let (Ok(raw), Ok(view)) = (raw, view) {
                    commands.insert_resource(RawLocal { raw, view });
                }
            }
            if choice.space != ReferenceSpaceType::STAGE && remembered.is_some() {
                // LOCAL and LOCAL_FLOOR start wherever the user is: a pose saved in one session
                // means nothing in the next. Only the stage is the same room every time.
                info!("the companion's place is not remembered: {} is not the room's fixed stage", status.space);
                commands.remove_resource::<crate::RememberedPlace>();
            }
        }
        Err(e) => error!("creating the {} reference space failed: {e}", space_name(choice.space)),
    }
}

/// LOCAL with no offset, and the head (VIEW): where the runtime itself puts the head.
#[derive(Resource)]
struct RawLocal {
    raw: XrReferenceSpace,
    view: XrReferenceSpace,
}

fn measure_head_in_raw_local(
    session: Option<Res<OxrSession>>,
    frame: Option<Res<bevy_mod_openxr::resources::OxrFrameState>>,
    spaces: Res<RawLocal>,
    mut status: ResMut<XrStatus>,
) {
    let (Some(session), Some(frame)) = (session, frame) else { return };
    if let Ok(at) = session.locate_space(&spaces.view.0, &spaces.raw.0, frame.0.predicted_display_time)
        && at.location_flags.contains(openxr::SpaceLocationFlags::POSITION_VALID)
    {
        status.head_in_raw_local = Some(at.pose.position.y);
    }
}

fn drop_spaces(spaces: Query<Entity, With<XrReferenceSpace>>, mut commands: Commands) {
    commands.remove_resource::<XrPrimaryReferenceSpace>();
    commands.remove_resource::<RawLocal>();
    for e in &spaces {
        commands.entity(e).remove::<XrReferenceSpace>();
    }
}

/// Controller buttons that recenter the companion, per interaction profile: a deliberate press
/// (the thumbstick or trackpad click, or the menu button on the simple controller), on either
/// hand.
pub const RECENTER_BINDINGS: &[(&str, &str)] = &[
    ("/interaction_profiles/khr/simple_controller", "input/menu/click"),
    ("/interaction_profiles/oculus/touch_controller", "input/thumbstick/click"),
    ("/interaction_profiles/valve/index_controller", "input/thumbstick/click"),
    ("/interaction_profiles/htc/vive_controller", "input/trackpad/click"),
    ("/interaction_profiles/microsoft/motion_controller", "input/thumbstick/click"),
];

/// Controller buttons that take a photo, per interaction profile: the trigger (a shutter), on
/// either hand; the simple controller's select.
pub const PHOTO_BINDINGS: &[(&str, &str)] = &[
    ("/interaction_profiles/khr/simple_controller", "input/select/click"),
    ("/interaction_profiles/oculus/touch_controller", "input/trigger/value"),
    ("/interaction_profiles/valve/index_controller", "input/trigger/click"),
    ("/interaction_profiles/htc/vive_controller", "input/trigger/click"),
    ("/interaction_profiles/microsoft/motion_controller", "input/trigger/value"),
];

/// Controller buttons held to talk (push-to-talk, `[listen] push_to_talk`), per interaction
/// profile: the grip, on either hand. The simple controller has no third button.
pub const TALK_BINDINGS: &[(&str, &str)] = &[
    ("/interaction_profiles/oculus/touch_controller", "input/squeeze/value"),
    ("/interaction_profiles/valve/index_controller", "input/squeeze/value"),
    ("/interaction_profiles/htc/vive_controller", "input/squeeze/click"),
    ("/interaction_profiles/microsoft/motion_controller", "input/squeeze/click"),
];

/// The OpenXR actions behind the controller's buttons.
#[derive(Resource)]
struct RecenterAction {
    set: openxr::ActionSet,
    action: openxr::Action<bool>,
    photo: openxr::Action<bool>,
    talk: openxr::Action<bool>,
}

/// Controller buttons: one (see [`RECENTER_BINDINGS`]) sends [`Recenter`], as the key and
/// `tomoni recenter` do; the trigger (see [`PHOTO_BINDINGS`]) sends [`TakePhoto`]; the grip
/// (see [`TALK_BINDINGS`]) held is [`tomoni_core::TalkButton`].
pub struct XrRecenterButtonPlugin;

impl Plugin for XrRecenterButtonPlugin {
    fn build(&self, app: &mut App) {
        use bevy_mod_openxr::action_binding::OxrSendActionBindings;
        use bevy_mod_openxr::action_set_syncing::OxrActionSetSyncSet;
        app.add_message::<crate::TakePhoto>()
            .init_resource::<tomoni_core::TalkButton>()
            .add_systems(Startup, create_recenter_action.run_if(session_available))
            .add_systems(OxrSendActionBindings, suggest_recenter_bindings)
            .add_systems(XrSessionCreated, attach_recenter_action)
            .add_systems(PreUpdate, sync_recenter_action.before(OxrActionSetSyncSet).run_if(openxr_session_running))
            .add_systems(Update, read_recenter_button.in_set(TomoniSystems::Input).run_if(openxr_session_running));
    }
}

fn create_recenter_action(instance: Res<OxrInstance>, mut commands: Commands) {
    let made = instance.create_action_set("tomoni", "tomoni companion", 0).and_then(|set| {
        let action = set.create_action::<bool>("recenter", "Recenter the companion", &[])?;
        let photo = set.create_action::<bool>("photo", "Take a photo", &[])?;
        let talk = set.create_action::<bool>("talk", "Hold to talk", &[])?;
        Ok(RecenterAction { set, action, photo, talk })
    });
    match made {
        Ok(a) => {
            commands.insert_resource(a);
        }
        Err(e) => warn!("no controller recenter button: creating the OpenXR action failed: {e}"),
    }
}

fn suggest_recenter_bindings(
    action: Option<Res<RecenterAction>>,
    mut bindings: MessageWriter<bevy_mod_openxr::action_binding::OxrSuggestActionBinding>,
) {
    let Some(a) = action else { return };
    for (action, table) in [(&a.action, RECENTER_BINDINGS), (&a.photo, PHOTO_BINDINGS), (&a.talk, TALK_BINDINGS)] {
        for (profile, input) in table {
            bindings.write(bevy_mod_openxr::action_binding::OxrSuggestActionBinding {
                action: action.as_raw(),
                interaction_profile: (*profile).into(),
                bindings: ["left", "right"].iter().map(|h| format!("/user/hand/{h}/{input}").into()).collect(),
            });
        }
    }
    info!("controller recenter button suggested for {} interaction profiles", RECENTER_BINDINGS.len());
    info!("controller photo button suggested for {} interaction profiles", PHOTO_BINDINGS.len());
    info!("controller talk button suggested for {} interaction profiles", TALK_BINDINGS.len());
}

fn attach_recenter_action(
    action: Option<Res<RecenterAction>>,
    mut attach: MessageWriter<bevy_mod_openxr::action_set_attaching::OxrAttachActionSet>,
) {
    if let Some(a) = action {
        attach.write(bevy_mod_openxr::action_set_attaching::OxrAttachActionSet(a.set.clone()));
    }
}

fn sync_recenter_action(
    action: Option<Res<RecenterAction>>,
    mut sync: MessageWriter<bevy_mod_openxr::action_set_syncing::OxrSyncActionSet>,
) {
    if let Some(a) = action {
        sync.write(bevy_mod_openxr::action_set_syncing::OxrSyncActionSet(a.set.clone()));
    }
}

/// Recenter on the press, not while held.
fn read_recenter_button(
    action: Option<Res<RecenterAction>>,
    session: Res<OxrSession>,
    mut recenter: MessageWriter<Recenter>,
    mut photo: MessageWriter<crate::TakePhoto>,
    mut talk: ResMut<tomoni_core::TalkButton>,
) {
    let Some(a) = action else { return };
    let held = a.talk.state(&session, openxr::Path::NULL).is_ok_and(|s| s.current_state);
    if talk.0 != held {
        talk.0 = held;
    }
    if let Ok(s) = a.action.state(&session, openxr::Path::NULL)
        && pressed_now(s.current_state, s.changed_since_last_sync)
    {
        info!("recenter: controller button");
        recenter.write(Recenter);
    }
    if let Ok(s) = a.photo.state(&session, openxr::Path::NULL)
        && pressed_now(s.current_state, s.changed_since_last_sync)
    {
        info!("photo: controller trigger");
        photo.write(crate::TakePhoto);
    }
}

/// A press is a change to down since the last sync.
pub fn pressed_now(down: bool, changed: bool) -> bool {
    down && changed
}

/// Exit status when the OpenXR runtime goes away mid-session (`EX_TEMPFAIL`: start the runtime
/// and run again).
pub const RUNTIME_GONE_EXIT: i32 = 75;

/// Set in the environment of an app that a supervising `tomoni run` restarts when the runtime
/// comes back.
pub const SUPERVISED: &str = "TOMONI_XR_CHILD";

/// The OpenXR error in a panic message that means the runtime or session is gone, if any.
/// bevy_mod_openxr 0.6 panics (`expect`) when `xrWaitFrame` or `xrPollEvent` fail; these are the
/// failures a user causes by quitting the runtime or unplugging the headset.
pub fn runtime_gone(panic_message: &str) -> Option<&'static str> {
    ["ERROR_INSTANCE_LOST", "ERROR_SESSION_LOST", "ERROR_RUNTIME_FAILURE"]
        .into_iter()
        .find(|code| panic_message.contains(code))
}

/// Turns bevy_mod_openxr's panic on a lost runtime into a clear message and a prompt exit with
/// [`RUNTIME_GONE_EXIT`]. Nothing is lost: memories are committed to SQLite as each turn ends,
/// and the place file is written when the companion is placed. Other panics are untouched.
pub fn exit_cleanly_when_the_runtime_goes() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(code) = info.payload_as_str().and_then(runtime_gone) {
            let next = if std::env::var_os(SUPERVISED).is_some() {
                "tomoni waits for the runtime and rejoins when it is back."
            } else {
                "start the runtime and run tomoni again."
            };
            eprintln!(
                "tomoni: the OpenXR runtime went away ({code}): the headset was unplugged or the runtime stopped. \
                 Your companion and its memories are saved; {next}"
            );
            std::process::exit(RUNTIME_GONE_EXIT);
        }
        default_hook(info);
    }));
}

/// The XR session as the app sees it (for the summary line, logs and `doctor`).
#[derive(Resource, Debug, Clone, Default)]
pub struct XrStatus {
    /// Runtime name and version.
    pub runtime: String,
    /// System (headset) name.
    pub system: String,
    /// Blend mode in use.
    pub blend: String,
    /// Reference space in use (`STAGE`, `LOCAL_FLOOR`, `LOCAL`).
    pub space: String,
    /// The latest OpenXR session state (`FOCUSED`, `STOPPING`, …).
    pub state: String,
    /// Frames rendered and submitted while the session ran.
    pub frames: u64,
    /// The session was lost (runtime gone): the app ends cleanly and says so.
    pub lost: bool,
    /// In LOCAL without a floor: the head's height in plain LOCAL as the runtime reports it
    /// (the viewer's eyes minus this is the floor offset actually in effect).
    pub head_in_raw_local: Option<f32>,
}

impl XrStatus {
    /// One line for scripted checks and logs.
    pub fn line(&self) -> String {
        format!(
            "runtime {}, system {}, blend {}, space {}, {} frames submitted, final state {}",
            self.runtime, self.system, self.blend, self.space, self.frames, self.state
        ) + &self.head_in_raw_local.map_or(String::new(), |y| format!(", head {y:.3} m above LOCAL's origin"))
    }
}

/// Ask the runtime to end the session (it goes STOPPING → EXITING, then the app exits).
#[derive(Message, Debug, Clone, Copy, Default)]
pub struct EndXrSession;

/// Publishes the XR head, follows session state (presence, loss, exit), applies the blend
/// mode's render profile.
pub struct XrHeadPlugin {
    /// Blend modes in order of preference.
    pub blend_preference: Vec<EnvironmentBlendMode>,
}

impl Plugin for XrHeadPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(OxrSessionConfig {
            blend_mode_preference: session_preference(&self.blend_preference),
            ..OxrSessionConfig::default()
        })
        .init_resource::<XrStatus>()
        .init_resource::<Presence>()
        .init_resource::<RenderProfile>()
        .init_resource::<SeeThrough>()
        .add_message::<EndXrSession>()
        .add_oxr_event_handler(track_session_state)
        .add_systems(Update, (publish_xr_head.in_set(TomoniSystems::Input), follow_session, end_session));
    }
}

fn track_session_state(event: OxrEventIn, mut status: ResMut<XrStatus>, mut presence: ResMut<Presence>) {
    if let openxr::Event::SessionStateChanged(s) = *event {
        let state = s.state();
        status.state = format!("{state:?}");
        // The body's idle life pauses while the user cannot see the companion (speech goes on).
        let visible = matches!(state, openxr::SessionState::VISIBLE | openxr::SessionState::FOCUSED);
        if presence.0 != visible {
            presence.0 = visible;
            info!("companion {}", if visible { "visible: life resumes" } else { "not visible: paused" });
        }
        if state == openxr::SessionState::LOSS_PENDING {
            status.lost = true;
            warn!("the OpenXR runtime is losing the session (headset disconnected or runtime stopped)");
        }
    }
}

fn follow_session(
    passthrough: Option<Res<bevy_mod_openxr::exts::OxrEnabledExtensions>>,
    instance: Option<Res<OxrInstance>>,
    system: Option<Res<OxrSystemId>>,
    blend: Option<Res<OxrEnvironmentBlendModes>>,
    state: Option<Res<XrState>>,
    mut status: ResMut<XrStatus>,
    mut profile: ResMut<RenderProfile>,
    mut see: ResMut<SeeThrough>,
) {
    if status.runtime.is_empty()
        && let (Some(i), Some(sys)) = (instance.as_ref(), system.as_ref())
    {
        if let Ok(p) = i.properties() {
            status.runtime = format!("{} {}", p.runtime_name, p.runtime_version);
        }
        if let Ok(s) = i.system_properties(sys.0) {
            status.system = s.system_name;
        }
    }
    if let Some(b) = blend
        && b.is_changed()
    {
        let mode = b.blend_mode();
        status.blend = blend_name(mode).to_string();
        let (p, mut s) = profile_for(mode);
        // OPAQUE plus XR_FB_passthrough (older Quest runtimes): the room is behind us anyway.
        if passthrough.is_some_and(|e| e.fb_passthrough) {
            s = SeeThrough(true);
        }
        info!("XR blend mode {} → profile {p:?}, see-through {}", status.blend, s.0);
        *profile = p;
        *see = s;
    }
    if state.is_some_and(|s| *s == XrState::Running) {
        status.frames += 1;
    }
}

/// Ends the session the OpenXR way when asked, then exits the app once the runtime says
/// EXITING (or the session was lost, or the runtime does not answer within a few seconds).
fn end_session(
    mut asked: MessageReader<EndXrSession>,
    mut requested: Local<Option<f32>>,
    time: Res<Time<Real>>,
    state: Option<Res<XrState>>,
    status: Res<XrStatus>,
    mut request: MessageWriter<XrRequestExitMessage>,
    mut exit: MessageWriter<AppExit>,
) {
    if asked.read().count() > 0 && requested.is_none() {
        request.write(XrRequestExitMessage);
        *requested = Some(time.elapsed_secs());
    }
    let gone = state.is_none_or(|s| matches!(*s, XrState::Exiting { .. } | XrState::Available | XrState::Unavailable));
    if let Some(at) = *requested
        && (gone || time.elapsed_secs() - at > 5.0)
    {
        exit.write(AppExit::Success);
    }
    if status.lost && requested.is_none() {
        error!("the XR session was lost; tomoni ends cleanly (memory and settings are saved as they go)");
        *requested = Some(time.elapsed_secs());
    }
}

fn publish_xr_head(eyes: Query<&GlobalTransform, With<XrCamera>>, mut head: ResMut<ViewerHead>) {
    let mut n = 0.0;
    let mut at = Vec3::ZERO;
    let mut rot = None;
    for g in &eyes {
        let (_, r, t) = g.to_scale_rotation_translation();
        at += t;
        rot.get_or_insert(r);
        n += 1.0;
    }
    if let Some(r) = rot
        && at.is_finite()
        && n > 0.0
    {
        head.transform = Transform::from_translation(at / n).with_rotation(r);
        head.valid = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EnvironmentBlendMode as B;

    /// What real devices report for PRIMARY_STEREO (from their vendors' OpenXR documentation):
    /// Quest 3 renders passthrough as ALPHA_BLEND besides OPAQUE; XREAL glasses are optical
    /// see-through (ADDITIVE only); Magic Leap 2 offers ADDITIVE and ALPHA_BLEND (segmented
    /// dimming); Monado's simulated HMD, OPAQUE only.
    const QUEST_3: &[B] = &[B::OPAQUE, B::ALPHA_BLEND];
    const XREAL: &[B] = &[B::ADDITIVE];
    const MAGIC_LEAP_2: &[B] = &[B::ADDITIVE, B::ALPHA_BLEND];
    const MONADO_SIM: &[B] = &[B::OPAQUE];

    fn default_pref() -> Vec<B> {
        parse_blend_modes(&tomoni_core::config::XrConfig::default().blend_modes).unwrap()
    }

    use ReferenceSpaceType as S;
    /// Reference spaces as runtimes report them: a room-scale headset with a guardian (stage)
    /// and `XR_EXT_local_floor`; a runtime with a floor but no stage bounds; and seated or 3DoF
    /// glasses that know no floor at all.
    const ROOM_SCALE: &[S] = &[S::VIEW, S::LOCAL, S::STAGE, S::LOCAL_FLOOR];
    const FLOOR_NO_STAGE: &[S] = &[S::VIEW, S::LOCAL, S::LOCAL_FLOOR];
    const NO_FLOOR: &[S] = &[S::VIEW, S::LOCAL];

    #[test]
    fn the_reference_space_is_stage_else_local_floor_else_local_with_the_eye_height() {
        let p = parse_reference_spaces(&tomoni_core::config::XrConfig::default().reference_spaces).unwrap();
        let pick = |dev: &[S]| choose_reference_space(&p, dev, 1.58).unwrap();
        assert_eq!(pick(ROOM_SCALE), SpaceChoice { space: S::STAGE, floor_below_origin: 0.0 });
        assert_eq!(pick(FLOOR_NO_STAGE), SpaceChoice { space: S::LOCAL_FLOOR, floor_below_origin: 0.0 });
        // Without a floor, it is the configured eye height below where the session began.
        assert_eq!(pick(NO_FLOOR), SpaceChoice { space: S::LOCAL, floor_below_origin: 1.58 });
        // A user who sits: LOCAL first even where a stage exists.
        let seated = parse_reference_spaces(&["local".into(), "stage".into()]).unwrap();
        assert_eq!(choose_reference_space(&seated, ROOM_SCALE, 1.2).unwrap().space, S::LOCAL);
        // Nothing acceptable offered: no space (the app says so) rather than a wrong floor.
        let stage_only = parse_reference_spaces(&["stage".into()]).unwrap();
        assert_eq!(choose_reference_space(&stage_only, NO_FLOOR, 1.6), None);
    }

    #[test]
    fn reference_space_names_are_checked() {
        assert!(parse_reference_spaces(&[]).unwrap_err().contains("empty"));
        let e = parse_reference_spaces(&["floor".into()]).unwrap_err();
        assert!(e.contains("\"floor\"") && e.contains("stage, local_floor or local"), "{e}");
    }

    #[test]
    fn a_lost_runtime_is_recognised_in_bevy_mod_openxr_panics() {
        // The message Monado's loss produced in the real check (xtask XR check 4).
        assert_eq!(runtime_gone("Failed to wait frame: ERROR_INSTANCE_LOST"), Some("ERROR_INSTANCE_LOST"));
        assert_eq!(runtime_gone("Failed to poll event: ERROR_SESSION_LOST"), Some("ERROR_SESSION_LOST"));
        assert_eq!(runtime_gone("index out of bounds: the len is 3 but the index is 4"), None);
    }

    #[test]
    fn the_recenter_button_fires_once_per_press() {
        // (down, changed since last sync) over frames: press, hold, hold, release, press again.
        let frames = [(true, true), (true, false), (true, false), (false, true), (true, true)];
        let fired: Vec<bool> = frames.iter().map(|&(d, c)| pressed_now(d, c)).collect();
        assert_eq!(fired, [true, false, false, false, true]);
        // Every profile binds a click on both hands.
        for (profile, input) in RECENTER_BINDINGS {
            assert!(profile.starts_with("/interaction_profiles/") && input.ends_with("/click"), "{profile} {input}");
        }
    }

    #[test]
    fn the_default_preference_picks_passthrough_then_see_through_then_vr() {
        let p = default_pref();
        assert_eq!(choose_blend_mode(&p, QUEST_3), Some(B::ALPHA_BLEND));
        assert_eq!(choose_blend_mode(&p, XREAL), Some(B::ADDITIVE));
        assert_eq!(choose_blend_mode(&p, MAGIC_LEAP_2), Some(B::ALPHA_BLEND));
        assert_eq!(choose_blend_mode(&p, MONADO_SIM), Some(B::OPAQUE));
    }

    #[test]
    fn additive_displays_get_the_lifted_profile_and_ar_sees_the_room() {
        let p = default_pref();
        let profile = |dev: &[B]| profile_for(choose_blend_mode(&p, dev).unwrap());
        assert_eq!(profile(XREAL), (RenderProfile::Additive, SeeThrough(true)));
        assert_eq!(profile(QUEST_3), (RenderProfile::Standard, SeeThrough(true)));
        assert_eq!(profile(MONADO_SIM), (RenderProfile::Standard, SeeThrough(false)));
    }

    #[test]
    fn a_user_preference_is_honoured_and_a_mismatch_still_shows_something() {
        let vr_first = parse_blend_modes(&["opaque".into(), "alpha_blend".into()]).unwrap();
        assert_eq!(choose_blend_mode(&vr_first, QUEST_3), Some(B::OPAQUE));
        // Only VR wanted, on see-through glasses: what the glasses can do rather than nothing.
        assert_eq!(choose_blend_mode(&[B::OPAQUE], XREAL), Some(B::ADDITIVE));
        assert!(parse_blend_modes(&["passthrough".into()]).unwrap_err().contains("passthrough"));
        assert!(parse_blend_modes(&[]).is_err());
    }
}
