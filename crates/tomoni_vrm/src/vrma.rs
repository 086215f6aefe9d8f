//! A VRM animation clip (`.vrma`, `VRMC_vrm_animation`) as data: which expressions it animates
//! (while such a clip plays, the companion's own face must leave those expressions to it, or
//! bevy_vrm1 shows the face's override instead of the clip's track), and where it looks (its
//! look-at track, which bevy_vrm1 does not read).

use serde_json::Value;

/// The expression names (preset and custom) a clip has tracks for.
pub fn expression_tracks(bytes: &[u8]) -> Result<Vec<String>, String> {
    let (doc, _) = crate::glb::parts(bytes)?;
    let ext = doc.pointer("/extensions/VRMC_vrm_animation").ok_or("no `extensions.VRMC_vrm_animation`: not a VRMA")?;
    Ok(crate::glb::expressions(ext).map(|(_, name, _)| name.clone()).collect())
}

/// A clip's look-at track: the rotation of its `lookAt` node over time, which turns the head's
/// forward (+Z) to where the eyes look (three-vrm-animation's reading: the rotation as yaw
/// about Y and pitch about X, Euler order YXZ, positive yaw toward the avatar's left, positive
/// pitch down).
#[derive(Debug, Clone, PartialEq)]
pub struct LookAtTrack {
    /// Key times, seconds, ascending.
    pub times: Vec<f32>,
    /// A unit quaternion (x, y, z, w) per key.
    pub rotations: Vec<[f32; 4]>,
    /// `STEP` interpolation (else linear).
    pub step: bool,
}

impl LookAtTrack {
    /// The rotation at `t` seconds (held before the first key and after the last).
    pub fn sample(&self, t: f32) -> [f32; 4] {
        let i = self.times.partition_point(|&k| k <= t);
        if i == 0 {
            return self.rotations[0];
        }
        if i == self.times.len() || self.step {
            return self.rotations[i - 1];
        }
        let (t0, t1) = (self.times[i - 1], self.times[i]);
        let u = if t1 > t0 { (t - t0) / (t1 - t0) } else { 0.0 };
        let (a, mut b) = (self.rotations[i - 1], self.rotations[i]);
        // The shorter way round, then normalised (keys this close make nlerp and slerp agree).
        if (0..4).map(|k| a[k] * b[k]).sum::<f32>() < 0.0 {
            b = b.map(|v| -v);
        }
        let q: [f32; 4] = std::array::from_fn(|k| a[k] + (b[k] - a[k]) * u);
        let n = q.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-9);
        q.map(|v| v / n)
    }

    /// Yaw and pitch, degrees, of the rotation at `t` ([`yaw_pitch`]).
    pub fn yaw_pitch(&self, t: f32) -> (f32, f32) {
        yaw_pitch(self.sample(t))
    }
}

/// Yaw and pitch, degrees, of a look-at rotation (Euler YXZ, as three-vrm reads it).
pub fn yaw_pitch([x, y, z, w]: [f32; 4]) -> (f32, f32) {
    // The rotated forward (+Z) direction: yaw about Y, then pitch about X.
    let f = [2.0 * (x * z + w * y), 2.0 * (y * z - w * x), 1.0 - 2.0 * (x * x + y * y)];
    let yaw = f[0].atan2(f[2]).to_degrees();
    let pitch = (-f[1]).atan2((f[0] * f[0] + f[2] * f[2]).sqrt()).to_degrees();
    (yaw, pitch)
}

/// The clip's look-at track, if it has one (`VRMC_vrm_animation.lookAt.node` and a rotation
/// channel on that node). Errors name the place.
pub fn look_at_track(bytes: &[u8]) -> Result<Option<LookAtTrack>, String> {
    let (doc, bin) = crate::glb::parts(bytes)?;
    let ext = doc.pointer("/extensions/VRMC_vrm_animation").ok_or("no `extensions.VRMC_vrm_animation`: not a VRMA")?;
    let Some(node) = ext.pointer("/lookAt/node") else { return Ok(None) };
    let node = node.as_u64().ok_or("`VRMC_vrm_animation.lookAt.node` is not a node index")?;
    for (ai, anim) in crate::glb::items(&doc, "animations").iter().enumerate() {
        for (ci, ch) in crate::glb::items(anim, "channels").iter().enumerate() {
            if ch.pointer("/target/node").and_then(Value::as_u64) != Some(node) {
                continue;
            }
            let at = format!("animations[{ai}].channels[{ci}]");
            if ch.pointer("/target/path").and_then(Value::as_str) != Some("rotation") {
                continue;
            }
            let si = ch.get("sampler").and_then(Value::as_u64).ok_or_else(|| format!("{at}: no sampler"))?;
            let sampler = anim
                .pointer(&format!("/samplers/{si}"))
                .ok_or_else(|| format!("{at}: samplers[{si}] does not exist"))?;
            let interp = sampler.get("interpolation").and_then(Value::as_str).unwrap_or("LINEAR");
            let input =
                sampler.get("input").and_then(Value::as_u64).ok_or_else(|| format!("{at}: sampler has no input"))?;
            let output =
                sampler.get("output").and_then(Value::as_u64).ok_or_else(|| format!("{at}: sampler has no output"))?;
            let times = floats(&doc, bin, input as usize, "SCALAR")?;
            let mut values = floats(&doc, bin, output as usize, "VEC4")?;
            if interp == "CUBICSPLINE" {
                // In-tangent, value, out-tangent per key: the values alone, as linear keys.
                values = values.chunks(12).flat_map(|c| c.get(4..8).unwrap_or(&[]).to_vec()).collect();
            }
            let rotations: Vec<[f32; 4]> = values.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]).collect();
            if times.is_empty() || rotations.len() != times.len() {
                return Err(format!("{at}: {} key times but {} rotations", times.len(), rotations.len()));
            }
            if times.windows(2).any(|w| w[1] < w[0]) {
                return Err(format!("accessors[{input}]: key times are not ascending"));
            }
            return Ok(Some(LookAtTrack { times, rotations, step: interp == "STEP" }));
        }
    }
    Ok(None)
}

/// A float accessor's values (tightly packed or strided), checked against its type.
fn floats(doc: &Value, bin: Option<&[u8]>, a: usize, ty: &str) -> Result<Vec<f32>, String> {
    let at = format!("accessors[{a}]");
    let acc = doc.pointer(&format!("/accessors/{a}")).ok_or_else(|| format!("{at} does not exist"))?;
    let n = match acc.get("type").and_then(Value::as_str) {
        Some(t) if t == ty => {
            if ty == "SCALAR" {
                1
            } else {
                4
            }
        }
        other => return Err(format!("{at}: type {other:?}, expected {ty}")),
    };
    if acc.get("componentType").and_then(Value::as_u64) != Some(5126) {
        return Err(format!("{at}: not float (only float key times and rotations are read)"));
    }
    let count = acc.get("count").and_then(Value::as_u64).ok_or_else(|| format!("{at}: no count"))? as usize;
    let vi = acc.get("bufferView").and_then(Value::as_u64).ok_or_else(|| format!("{at}: no bufferView"))?;
    let view =
        doc.pointer(&format!("/bufferViews/{vi}")).ok_or_else(|| format!("{at}: bufferViews[{vi}] does not exist"))?;
    let start = view.get("byteOffset").and_then(Value::as_u64).unwrap_or(0) as usize
        + acc.get("byteOffset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let stride = view.get("byteStride").and_then(Value::as_u64).map_or(4 * n, |s| s as usize);
    let bin = bin.ok_or_else(|| format!("{at}: the file has no binary chunk"))?;
    let end = start + stride * count.saturating_sub(1) + 4 * n;
    if count > 0 && (end > bin.len() || stride < 4 * n) {
        return Err(format!("{at}: runs past the binary chunk ({end} > {} bytes)", bin.len()));
    }
    let mut out = Vec::with_capacity(count * n);
    for i in 0..count {
        for k in 0..n {
            let o = start + i * stride + 4 * k;
            out.push(f32::from_le_bytes([bin[o], bin[o + 1], bin[o + 2], bin[o + 3]]));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped sample clip smiles as it cheers (`crates/xtask/animation/make_vrma.py`).
    #[test]
    fn the_sample_clip_has_a_happy_track() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let bytes = std::fs::read(root.join("assets/animations/cheer.vrma")).unwrap();
        assert_eq!(expression_tracks(&bytes).unwrap(), ["happy"]);
    }

    #[test]
    fn a_look_at_track_turns_the_eyes_as_three_vrm_reads_it() {
        // Yaw 20° toward the avatar's left, then pitch 15° up (negative: up), keyed linearly.
        let yaw = |d: f32| [0.0, (d.to_radians() / 2.0).sin(), 0.0, (d.to_radians() / 2.0).cos()];
        let pitch = |d: f32| [(d.to_radians() / 2.0).sin(), 0.0, 0.0, (d.to_radians() / 2.0).cos()];
        let track =
            LookAtTrack { times: vec![0.0, 1.0, 2.0], rotations: vec![yaw(0.0), yaw(20.0), pitch(-15.0)], step: false };
        let (y, p) = track.yaw_pitch(1.0);
        assert!((y - 20.0).abs() < 1e-3 && p.abs() < 1e-3, "{y} {p}");
        let (y, p) = track.yaw_pitch(2.5);
        assert!(y.abs() < 1e-3 && (p + 15.0).abs() < 1e-3, "{y} {p}");
        let (y, _) = track.yaw_pitch(0.5);
        assert!((y - 10.0).abs() < 0.1, "halfway: {y}");
        assert_eq!(track.sample(-1.0), yaw(0.0));
    }

    #[test]
    fn clips_without_a_look_at_track_have_none_and_broken_ones_are_named() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let bytes = std::fs::read(root.join("assets/animations/cheer.vrma")).unwrap();
        assert_eq!(look_at_track(&bytes).unwrap(), None);
        // Make the first rotation channel's node the look-at node: a track is read...
        let mut glb = crate::glb::parse_glb(&bytes).unwrap();
        let channels = crate::glb::items(&glb.json["animations"][0], "channels").to_vec();
        let ci = channels.iter().position(|c| c["target"]["path"] == "rotation").unwrap();
        let node = channels[ci]["target"]["node"].clone();
        glb.json["extensions"]["VRMC_vrm_animation"]["lookAt"] = serde_json::json!({ "node": node });
        let track = look_at_track(&crate::glb::write_glb(&glb)).unwrap().expect("a track");
        assert!(track.times.len() > 1 && track.times.len() == track.rotations.len());
        // ...and with its rotations pointed at the key times, refused naming the accessor.
        let si = channels[ci]["sampler"].as_u64().unwrap() as usize;
        let input = glb.json["animations"][0]["samplers"][si]["input"].clone();
        glb.json["animations"][0]["samplers"][si]["output"] = input.clone();
        let e = look_at_track(&crate::glb::write_glb(&glb)).unwrap_err();
        assert!(e.contains(&format!("accessors[{input}]")) && e.contains("expected VEC4"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_a_clip_says_so() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let bytes = std::fs::read(root.join("assets/avatars/default.vrm")).unwrap();
        assert!(expression_tracks(&bytes).unwrap_err().contains("not a VRMA"));
    }
}
