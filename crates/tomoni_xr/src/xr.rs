//! OpenXR through bevy_mod_openxr: the plugin group that starts an XR session, the blend-mode
//! choice and render profile, the session's life (presence, clean exit through STOPPING and
//! EXITING), the head pose for [`ViewerHead`], and the summary `tomoni run --max-frames` prints.

use bevy::app::PluginGroupBuilder;
use bevy::prelude::*;
use bevy_mod_openxr::environment_blend_mode::OxrEnvironmentBlendModes;
use bevy_mod_openxr::poll_events::{OxrEventHandlerExt, OxrEventIn};
use bevy_mod_openxr::resources::{OxrInstance, OxrSessionConfig, OxrSystemId};
use bevy_mod_xr::camera::XrCamera;
use bevy_mod_xr::session::{XrRequestExitMessage, XrState};
use openxr::EnvironmentBlendMode;
use tomoni_core::behaviour::Presence;
use tomoni_core::{RenderProfile, SeeThrough, TomoniSystems, ViewerHead};

/// `DefaultPlugins` with OpenXR. `XR_FB_passthrough` is asked for too (only enabled where the
/// runtime offers it): on Quest-style runtimes that report only OPAQUE, passthrough is how the
/// room shows behind the companion.
pub fn plugins_with_xr(defaults: PluginGroupBuilder) -> PluginGroupBuilder {
    use bevy_mod_openxr::exts::OxrExtensions;
    use bevy_mod_openxr::init::OxrInitPlugin;
    let mut exts = OxrExtensions::default();
    exts.enable_hand_tracking().enable_fb_passthrough();
    bevy_mod_openxr::add_xr_plugins(defaults)
        .set(OxrInitPlugin { exts, ..Default::default() })
        .add(bevy_mod_openxr::features::fb_passthrough::OxrFbPassthroughPlugin)
}

/// Parses the configured blend-mode names (`alpha_blend`, `additive`, `opaque`).
pub fn parse_blend_modes(names: &[String]) -> Result<Vec<EnvironmentBlendMode>, String> {
    if names.is_empty() {
        return Err("xr.blend_modes: empty; list at least one of alpha_blend, additive, opaque".into());
    }
    names
        .iter()
        .map(|n| match n.as_str() {
            "alpha_blend" => Ok(EnvironmentBlendMode::ALPHA_BLEND),
            "additive" => Ok(EnvironmentBlendMode::ADDITIVE),
            "opaque" => Ok(EnvironmentBlendMode::OPAQUE),
            other => Err(format!("xr.blend_modes: unknown mode {other:?} (expected alpha_blend, additive or opaque)")),
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

/// The XR session as the app sees it (for the summary line, logs and `doctor`).
#[derive(Resource, Debug, Clone, Default)]
pub struct XrStatus {
    /// Runtime name and version.
    pub runtime: String,
    /// System (headset) name.
    pub system: String,
    /// Blend mode in use.
    pub blend: String,
    /// The latest OpenXR session state (`FOCUSED`, `STOPPING`, …).
    pub state: String,
    /// Frames rendered and submitted while the session ran.
    pub frames: u64,
    /// The session was lost (runtime gone): the app ends cleanly and says so.
    pub lost: bool,
}

impl XrStatus {
    /// One line for scripted checks and logs.
    pub fn line(&self) -> String {
        format!(
            "runtime {}, system {}, blend {}, {} frames submitted, final state {}",
            self.runtime, self.system, self.blend, self.frames, self.state
        )
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
        // Speech and animation pause while the user cannot see the companion.
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
