//! Bone poses on top of the VRM rest pose (T-pose), written in model space so the same pose
//! works on any VRM 1.0 rig whatever its bone axes.

use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use bevy_vrm1::prelude::*;
use tomoni_core::TomoniSystems;

/// Model-space rotation of each humanoid bone (by VRM name) relative to its rest pose.
/// Behaviour systems (idle life, gestures, gaze) fill it; [`PosePlugin`] writes it to bones.
#[derive(Resource, Debug, Clone, Default)]
pub struct BonePose(pub HashMap<&'static str, Quat>);

impl BonePose {
    /// A natural standing pose: arms down from the T-pose, elbows a little bent, fingers
    /// softly curled (VRM's rest pose has them straight, which reads as a mannequin's hand).
    pub fn relaxed() -> Self {
        let mut m = HashMap::default();
        let names = ["rightUpperArm", "rightLowerArm", "rightHand", "leftUpperArm", "leftLowerArm", "leftHand"];
        for (name, q) in names.into_iter().zip(Self::relaxed_arms()) {
            m.insert(name, q);
        }
        m.extend(Self::relaxed_fingers());
        Self(m)
    }

    /// Fingers at rest: each joint flexed a little toward the palm, more from the index to the
    /// little finger, the fingers drawn in together, and the thumb drawn in beside the index.
    /// In the T-pose both palms face down and the fingers point out along ±X, so flexion is a
    /// turn about Z (its sign by side), drawing together a turn about Y (the palm's normal),
    /// and the thumb, in front (+Z), comes down toward the palm about X.
    pub fn relaxed_fingers() -> [(&'static str, Quat); 30] {
        // Radians at the proximal, intermediate and distal joints: index, middle, ring, little.
        const BEND: [[f32; 3]; 4] = [[0.18, 0.28, 0.18], [0.24, 0.34, 0.22], [0.30, 0.40, 0.26], [0.36, 0.44, 0.30]];
        // How far each finger turns toward the thumb's side at its proximal joint (radians):
        // the rest pose fans them 30° from index to little finger (a hand held open, splayed
        // in every picture); drawn in, the fan is 14°, a hand at rest.
        const TOGETHER: [f32; 4] = [-0.14, 0.0, 0.13, 0.18];
        let mut out = [("", Quat::IDENTITY); 30];
        let mut k = 0;
        for (side, sign) in [("left", -1.0f32), ("right", 1.0)] {
            let names: [[&'static str; 3]; 4] = if side == "left" {
                [
                    ["leftIndexProximal", "leftIndexIntermediate", "leftIndexDistal"],
                    ["leftMiddleProximal", "leftMiddleIntermediate", "leftMiddleDistal"],
                    ["leftRingProximal", "leftRingIntermediate", "leftRingDistal"],
                    ["leftLittleProximal", "leftLittleIntermediate", "leftLittleDistal"],
                ]
            } else {
                [
                    ["rightIndexProximal", "rightIndexIntermediate", "rightIndexDistal"],
                    ["rightMiddleProximal", "rightMiddleIntermediate", "rightMiddleDistal"],
                    ["rightRingProximal", "rightRingIntermediate", "rightRingDistal"],
                    ["rightLittleProximal", "rightLittleIntermediate", "rightLittleDistal"],
                ]
            };
            for (f, bend) in BEND.iter().enumerate() {
                for j in 0..3 {
                    let flex = Quat::from_rotation_z(sign * bend[j]);
                    let together = if j == 0 { Quat::from_rotation_y(sign * TOGETHER[f]) } else { Quat::IDENTITY };
                    out[k] = (names[f][j], together * flex);
                    k += 1;
                }
            }
            let thumb: [&'static str; 3] = if side == "left" {
                ["leftThumbMetacarpal", "leftThumbProximal", "leftThumbDistal"]
            } else {
                ["rightThumbMetacarpal", "rightThumbProximal", "rightThumbDistal"]
            };
            // toward the index (about the palm's normal, Y) and a little under the palm
            out[k] = (thumb[0], Quat::from_rotation_y(-sign * 0.5) * Quat::from_rotation_x(-0.25));
            out[k + 1] = (thumb[1], Quat::from_rotation_x(0.15));
            out[k + 2] = (thumb[2], Quat::from_rotation_x(0.2));
            k += 3;
        }
        out
    }

    /// The relaxed arms: right upper, lower, hand, then left upper, lower, hand.
    pub fn relaxed_arms() -> [Quat; 6] {
        [
            Quat::from_rotation_z(1.32) * Quat::from_rotation_y(0.15),
            Quat::from_rotation_y(0.30),
            Quat::from_rotation_x(0.1),
            Quat::from_rotation_z(-1.32) * Quat::from_rotation_y(-0.15),
            Quat::from_rotation_y(-0.30),
            Quat::from_rotation_x(0.1),
        ]
    }
}

/// The bone's rest rotation in the model's frame, cached once (it never changes).
#[derive(Component, Debug, Clone, Copy)]
pub struct ModelRest(pub Quat);

/// Writes [`BonePose`] onto humanoid bones each frame.
pub struct PosePlugin;

impl Plugin for PosePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(BonePose::relaxed())
            .add_systems(Update, (cache_model_rest, write_pose).chain().in_set(TomoniSystems::Pose));
    }
}

fn cache_model_rest(
    mut commands: Commands,
    new_bones: Query<Entity, (With<VrmBone>, With<RestTransform>, Without<ModelRest>)>,
    up: Query<(Option<&ChildOf>, Option<&RestTransform>, Has<Vrm>)>,
) {
    for bone in &new_bones {
        let mut q = Quat::IDENTITY;
        let mut e = bone;
        // Compose rest rotations up to (not including) the VRM root.
        while let Ok((parent, rest, is_root)) = up.get(e) {
            if is_root {
                break;
            }
            if let Some(rest) = rest {
                q = rest.rotation * q;
            }
            match parent {
                Some(p) => e = p.parent(),
                None => break,
            }
        }
        commands.entity(bone).insert(ModelRest(q));
    }
}

fn write_pose(
    pose: Res<BonePose>,
    clips: Option<Res<crate::clips::Clips>>,
    mut bones: Query<(&VrmBone, &RestTransform, &ModelRest, &mut Transform)>,
) {
    if clips.is_some_and(|c| c.playing.is_some() || c.idle_on) {
        return; // a .vrma clip has the body (a gesture, or the idle loop)
    }
    for (name, rest, model_rest, mut tf) in &mut bones {
        let delta = pose.0.get(name.0.as_str()).copied().unwrap_or(Quat::IDENTITY);
        // local = rest · G⁻¹ · D · G: the model-space delta D seen from the bone's own frame.
        let rot = rest.rotation * (model_rest.0.inverse() * delta * model_rest.0);
        if tf.rotation != rot {
            tf.rotation = rot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each finger, its three joints composed, ends bent toward the palm (−Y in the T-pose) by
    /// a relaxed amount (not flat, not a fist), the same on both hands; each thumb is drawn in
    /// toward its fingers. A sign slip (fingers bent backwards, a mirrored side) fails this.
    #[test]
    fn relaxed_fingers_curl_toward_the_palm_on_both_hands() {
        let pose = BonePose::relaxed().0;
        for (side, out) in [("left", Vec3::X), ("right", Vec3::NEG_X)] {
            for finger in ["Index", "Middle", "Ring", "Little"] {
                let q = ["Proximal", "Intermediate", "Distal"]
                    .iter()
                    .map(|j| pose[format!("{side}{finger}{j}").as_str()])
                    .fold(Quat::IDENTITY, |acc, r| acc * r);
                let tip = q * out;
                let curl = tip.angle_between(out).to_degrees();
                assert!(tip.y < 0.0, "{side} {finger} bends away from the palm: {tip}");
                assert!((25.0..100.0).contains(&curl), "{side} {finger} curls {curl:.0}°");
            }
            let thumb = (out + Vec3::Z).normalize();
            let q = pose[format!("{side}ThumbMetacarpal").as_str()];
            assert!((q * thumb).dot(out) > thumb.dot(out) + 0.1, "{side} thumb is not drawn in");
        }
    }

    /// The shipped avatars' rest pose fans the fingers out: seen from above the left hand, the
    /// index points 12.7° toward the thumb's side of straight out, the middle finger −1.7°, the
    /// ring −11.2° and the little finger −17.5° (read off `default.vrm`'s bones; `man.vrm`'s
    /// within 2.5°): 30° from index to little finger, a splayed hand. Drawn together the fan
    /// is at most 16°, and the fingers keep their order (none crosses its neighbour).
    #[test]
    fn relaxed_fingers_are_drawn_together_not_splayed() {
        let pose = BonePose::relaxed().0;
        let rest = [12.7f32, -1.7, -11.2, -17.5];
        for (side, out) in [("left", 1.0f32), ("right", -1.0)] {
            let yaws: Vec<f32> = ["Index", "Middle", "Ring", "Little"]
                .iter()
                .zip(rest)
                .map(|(finger, deg)| {
                    // the finger at rest, then turned by its proximal joint; its yaw toward +Z
                    // (the thumb's side on both hands)
                    let a = deg.to_radians();
                    let d = pose[format!("{side}{finger}Proximal").as_str()] * Vec3::new(out * a.cos(), 0.0, a.sin());
                    d.z.atan2(out * d.x).to_degrees()
                })
                .collect();
            let fan = yaws[0] - yaws[3];
            assert!(fan <= 16.0, "{side}: the fingers fan {fan:.1}° from index to little finger: {yaws:.1?}");
            assert!(yaws.windows(2).all(|w| w[0] > w[1]), "{side}: fingers cross: {yaws:.1?}");
        }
    }

    /// A bone whose rest frame is rotated 90° about Y in the model: the model-space delta must be
    /// conjugated into the bone's frame, so the bone ends up rotated about the *model's* Z.
    #[test]
    fn model_space_pose_is_written_in_each_bones_own_frame() {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins).add_plugins(PosePlugin);
        let rest = Transform::from_rotation(Quat::from_rotation_y(std::f32::consts::FRAC_PI_2));
        let root = app.world_mut().spawn((Vrm, Transform::default())).id();
        let bone =
            app.world_mut().spawn((VrmBone("leftUpperArm".into()), RestTransform(rest), rest, ChildOf(root))).id();
        app.update(); // caches ModelRest
        app.update(); // writes the pose
        let tf = *app.world().get::<Transform>(bone).unwrap();
        let want_model = BonePose::relaxed().0["leftUpperArm"] * rest.rotation;
        assert!(tf.rotation.dot(want_model).abs() > 1.0 - 1e-6, "{:?} vs {:?}", tf.rotation, want_model);
        // A bone with no pose entry keeps its rest rotation.
        let other = app.world_mut().spawn((VrmBone("spine".into()), RestTransform(rest), rest, ChildOf(root))).id();
        app.update();
        app.update();
        assert!(app.world().get::<Transform>(other).unwrap().rotation.dot(rest.rotation).abs() > 1.0 - 1e-6);
    }
}
