//! Where the viewer is: the OpenXR session (bevy_mod_openxr) when glasses are present, else a
//! desktop first-person camera at eye height, else a headless camera rendering into an image.
//! Each of them publishes [`ViewerHead`] every frame and anchors the companion beside the viewer
//! once, on the first valid pose ([`CompanionAnchor`]).

pub mod desktop;
pub mod views;
pub mod xr;

pub use desktop::{DesktopCameraPlugin, FirstPersonLook};

use bevy::prelude::*;
use tomoni_core::placement::{Placement, RootPose, ViewerPose, companion_pose, yaw_of};
use tomoni_core::{CompanionAnchor, ViewerHead};

/// Sent to re-place the companion beside the viewer where they are now looking.
#[derive(Message, Debug, Clone, Copy, Default)]
pub struct Recenter;

/// Sent by the controller's photo button: take a picture of what the viewer sees.
#[derive(Message, Debug, Clone, Copy, Default)]
pub struct TakePhoto;

/// Placement settings in effect.
#[derive(Resource, Debug, Clone, Copy, Default)]
pub struct PlacementSettings(pub Placement);

/// Where the companion was left last time, in the runtime's stage space (XR only: a desktop
/// or headless viewer always starts at the origin). `None`: nothing remembered.
#[derive(Resource, Debug, Clone, Default)]
pub struct RememberedPlace {
    /// The file it lives in (`place.json` in the data folder).
    pub file: Option<std::path::PathBuf>,
    /// The pose read from it at start-up.
    pub pose: Option<RootPose>,
}

impl RememberedPlace {
    /// Reads the file; a missing or unreadable file remembers nothing (and says why once).
    pub fn load(file: std::path::PathBuf) -> Self {
        let pose = match std::fs::read_to_string(&file) {
            Ok(text) => match parse_place(&text) {
                Some(p) => Some(p),
                None => {
                    warn!("{}: not a saved place; the companion will stand beside you anew", file.display());
                    None
                }
            },
            Err(_) => None,
        };
        Self { file: Some(file), pose }
    }
}

/// `{"translation":[x,y,z],"yaw":r}` → pose (yaw about +Y).
pub fn parse_place(text: &str) -> Option<RootPose> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let t: Vec<f32> = v["translation"].as_array()?.iter().filter_map(|x| x.as_f64().map(|f| f as f32)).collect();
    let yaw = v["yaw"].as_f64()? as f32;
    (t.len() == 3 && t.iter().all(|x| x.is_finite()) && yaw.is_finite())
        .then(|| RootPose { translation: Vec3::new(t[0], t[1], t[2]), rotation: Quat::from_rotation_y(yaw) })
}

/// The pose as the file stores it.
pub fn place_json(p: &RootPose) -> String {
    serde_json::json!({"translation": [p.translation.x, p.translation.y, p.translation.z], "yaw": yaw_of(p.rotation)})
        .to_string()
}

/// Anchors the companion on the first valid head pose (or where it was left last session), and
/// again beside the viewer on every [`Recenter`].
pub fn anchor_beside_viewer(
    head: Res<ViewerHead>,
    placement: Res<PlacementSettings>,
    mut anchor: ResMut<CompanionAnchor>,
    mut recenter: MessageReader<Recenter>,
    mut remembered: Option<ResMut<RememberedPlace>>,
) {
    let asked = recenter.read().count() > 0;
    if !head.valid || (anchor.0.is_some() && !asked) {
        return;
    }
    if !asked && let Some(p) = remembered.as_mut().and_then(|r| r.pose.take()) {
        info!("the companion stands where you left it");
        anchor.0 = Some(p);
        return;
    }
    let viewer = ViewerPose { position: head.transform.translation, yaw: yaw_of(head.transform.rotation) };
    let pose = companion_pose(&viewer, &placement.0);
    anchor.0 = Some(pose);
    if let Some(file) = remembered.as_ref().and_then(|r| r.file.clone()) {
        // A small write, but still file I/O: never on the frame loop.
        let text = place_json(&pose);
        std::thread::spawn(move || {
            if let Err(e) = std::fs::write(&file, text) {
                warn!("{}: cannot remember the companion's place: {e}", file.display());
            }
        });
    }
}

/// Shared pieces every viewer mode needs.
pub struct ViewerCorePlugin {
    /// Placement beside the viewer.
    pub placement: Placement,
}

impl Plugin for ViewerCorePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(PlacementSettings(self.placement))
            .init_resource::<ViewerHead>()
            .init_resource::<CompanionAnchor>()
            .add_message::<Recenter>()
            .add_systems(Update, anchor_beside_viewer.in_set(tomoni_core::TomoniSystems::Input));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins).add_plugins(ViewerCorePlugin { placement: Placement::default() });
        app
    }

    fn anchor(app: &App) -> Option<RootPose> {
        app.world().resource::<CompanionAnchor>().0
    }

    #[test]
    fn anchors_once_on_the_first_valid_head_pose_and_stays_world_locked() {
        let mut app = app();
        app.update();
        assert_eq!(anchor(&app), None, "no head pose yet: no anchor");
        let head = Transform::from_xyz(0.0, 1.6, 0.0);
        *app.world_mut().resource_mut::<ViewerHead>() = ViewerHead { transform: head, valid: true };
        app.update();
        let first = anchor(&app).expect("anchored");
        assert!((first.translation - Vec3::new(0.7, 0.0, -0.35)).length() < 1e-5);
        // The viewer walks and turns: the companion stays where it was (world-locked).
        app.world_mut().resource_mut::<ViewerHead>().transform =
            Transform::from_xyz(2.0, 1.6, 1.0).with_rotation(Quat::from_rotation_y(1.0));
        app.update();
        assert_eq!(anchor(&app), Some(first));
    }

    #[test]
    #[expect(clippy::disallowed_methods, reason = "the test waits for the saver thread")]
    fn a_remembered_place_is_used_once_and_a_recenter_is_remembered() {
        let dir = std::env::temp_dir().join(format!("tomoni-place-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("place.json");
        let left = RootPose { translation: Vec3::new(2.0, 0.0, -1.0), rotation: Quat::from_rotation_y(0.5) };
        std::fs::write(&file, place_json(&left)).unwrap();
        let mut app = app();
        app.insert_resource(RememberedPlace::load(file.clone()));
        *app.world_mut().resource_mut::<ViewerHead>() =
            ViewerHead { transform: Transform::from_xyz(0.0, 1.6, 0.0), valid: true };
        app.update();
        let a = anchor(&app).unwrap();
        assert!((a.translation - left.translation).length() < 1e-5, "not where it was left: {a:?}");
        assert!((yaw_of(a.rotation) - 0.5).abs() < 1e-5);
        // Recenter: beside the viewer again, and that place is saved for next time.
        app.world_mut().write_message(Recenter);
        app.update();
        let b = anchor(&app).unwrap();
        assert!((b.translation - Vec3::new(0.7, 0.0, -0.35)).length() < 1e-4);
        let t0 = std::time::Instant::now();
        loop {
            let saved = std::fs::read_to_string(&file).ok().and_then(|t| parse_place(&t));
            if saved.is_some_and(|s| (s.translation - b.translation).length() < 1e-4) {
                break;
            }
            assert!(t0.elapsed().as_secs() < 5, "the new place was not saved");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(parse_place("{\"translation\": [1, 2], \"yaw\": 0}"), None);
        assert_eq!(parse_place("garbage"), None);
    }

    #[test]
    fn recenter_replaces_it_beside_the_viewer_where_they_are_now() {
        let mut app = app();
        *app.world_mut().resource_mut::<ViewerHead>() =
            ViewerHead { transform: Transform::from_xyz(0.0, 1.6, 0.0), valid: true };
        app.update();
        let turned = Transform::from_xyz(3.0, 1.6, 0.0).with_rotation(Quat::from_rotation_y(std::f32::consts::PI));
        app.world_mut().resource_mut::<ViewerHead>().transform = turned;
        app.world_mut().write_message(Recenter);
        app.update();
        let a = anchor(&app).unwrap();
        // Facing +Z after a half turn, the viewer's right is -X and forward is +Z.
        assert!((a.translation - Vec3::new(3.0 - 0.7, 0.0, 0.35)).length() < 1e-4, "{:?}", a.translation);
    }
}
