//! OpenXR through bevy_mod_openxr: the plugin group that tries an XR session (and falls back to
//! the desktop window when no runtime answers), and the head pose for [`ViewerHead`].

use bevy::app::PluginGroupBuilder;
use bevy::prelude::*;
use bevy_mod_xr::camera::XrCamera;
use tomoni_core::{TomoniSystems, ViewerHead};

/// `DefaultPlugins` with OpenXR: an XR session when a runtime is present, else the ordinary
/// renderer and window (bevy_mod_openxr logs why XR did not start).
pub fn plugins_with_xr(defaults: PluginGroupBuilder) -> PluginGroupBuilder {
    bevy_mod_openxr::add_xr_plugins(defaults)
}

/// Whether an OpenXR loader and runtime can be reached (for `tomoni doctor` and messages).
#[expect(unsafe_code, reason = "loading the OpenXR loader library is unsafe by the openxr crate's API")]
pub fn runtime_available() -> Result<String, String> {
    // SAFETY: dlopens the system's OpenXR loader (the same library bevy_mod_openxr loads next);
    // we trust the installed loader's initialisers, and keep the entry only for this probe.
    let entry = unsafe { openxr::Entry::load() }.map_err(|e| format!("no OpenXR loader: {e}"))?;
    let exts = entry.enumerate_extensions().map_err(|e| format!("no OpenXR runtime: {e}"))?;
    let app = openxr::ApplicationInfo { application_name: "tomoni-probe", ..Default::default() };
    let instance =
        entry.create_instance(&app, &exts, &[]).map_err(|e| format!("OpenXR runtime refused an instance: {e}"))?;
    let props = instance.properties().map_err(|e| e.to_string())?;
    Ok(format!("{} {}", props.runtime_name, props.runtime_version))
}

/// Publishes the XR head (the mean of the eye cameras) as [`ViewerHead`] while XR renders.
pub struct XrHeadPlugin;

impl Plugin for XrHeadPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, publish_xr_head.in_set(TomoniSystems::Input));
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
