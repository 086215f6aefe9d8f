//! Checks a VRM file before Bevy sees it, so that a broken file gets an error that names the
//! file and what is wrong (and the app exits 2) instead of a silent empty scene or a panic.

use serde_json::Value;
use std::path::Path;

/// Humanoid bones VRM 1.0 requires.
pub const REQUIRED_BONES: [&str; 15] = [
    "hips",
    "spine",
    "head",
    "leftUpperArm",
    "leftLowerArm",
    "leftHand",
    "rightUpperArm",
    "rightLowerArm",
    "rightHand",
    "leftUpperLeg",
    "leftLowerLeg",
    "leftFoot",
    "rightUpperLeg",
    "rightLowerLeg",
    "rightFoot",
];

/// VRM 1.0 preset expressions the default avatar provides (all but the look-at presets, which
/// its bone look-at makes unnecessary).
pub const PRESET_EXPRESSIONS: [&str; 14] = [
    "aa",
    "ih",
    "ou",
    "ee",
    "oh",
    "blink",
    "blinkLeft",
    "blinkRight",
    "happy",
    "angry",
    "sad",
    "relaxed",
    "surprised",
    "neutral",
];

/// What a valid VRM 1.0 file declares.
#[derive(Debug, Clone, PartialEq)]
pub struct VrmInfo {
    /// `meta.name`.
    pub name: String,
    /// `specVersion` of `VRMC_vrm`.
    pub spec_version: String,
    /// Humanoid bone names present.
    pub bones: Vec<String>,
    /// Preset and custom expression names.
    pub expressions: Vec<String>,
    /// `meta.licenseUrl`.
    pub license_url: String,
}

/// Why a file is not a usable VRM 1.0 avatar.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {what}")]
pub struct VrmError {
    /// The file.
    pub path: String,
    /// What is wrong, and where in the file.
    pub what: String,
}

/// Reads and checks `path`.
pub fn inspect(path: &Path) -> Result<VrmInfo, VrmError> {
    let err = |what: String| VrmError { path: path.display().to_string(), what };
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
    inspect_bytes(&bytes).map_err(err)
}

/// Checks the bytes of a `.vrm` (binary glTF) file.
pub fn inspect_bytes(bytes: &[u8]) -> Result<VrmInfo, String> {
    let json = glb_json(bytes)?;
    let doc: Value = serde_json::from_slice(json)
        .map_err(|e| format!("glTF JSON chunk is not valid JSON at line {}, column {}: {e}", e.line(), e.column()))?;
    let ext = doc.pointer("/extensions/VRMC_vrm").ok_or_else(|| {
        if doc.pointer("/extensions/VRM").is_some() {
            "this is a VRM 0.x file (extension `VRM`); tomoni needs VRM 1.0 (`VRMC_vrm`): \
             re-export it from VRoid Studio or UniVRM as VRM 1.0"
                .to_string()
        } else {
            "no `extensions.VRMC_vrm`: this is a plain glTF, not a VRM 1.0 avatar".to_string()
        }
    })?;
    let spec_version = ext.get("specVersion").and_then(Value::as_str).unwrap_or("").to_string();
    if !spec_version.starts_with("1.") {
        return Err(format!("`VRMC_vrm.specVersion` is {spec_version:?}; expected \"1.0\""));
    }
    let node_count = doc.get("nodes").and_then(Value::as_array).map_or(0, Vec::len);
    let bones_obj = ext
        .pointer("/humanoid/humanBones")
        .and_then(Value::as_object)
        .ok_or("missing `VRMC_vrm.humanoid.humanBones`")?;
    for (bone, v) in bones_obj {
        let node = v
            .get("node")
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("`VRMC_vrm.humanoid.humanBones.{bone}.node` is missing or not an index"))?;
        if node as usize >= node_count {
            return Err(format!(
                "`VRMC_vrm.humanoid.humanBones.{bone}.node` = {node}, but the file has {node_count} nodes"
            ));
        }
    }
    let missing: Vec<&str> = REQUIRED_BONES.iter().copied().filter(|b| !bones_obj.contains_key(*b)).collect();
    if !missing.is_empty() {
        return Err(format!("`VRMC_vrm.humanoid.humanBones` lacks required bones: {}", missing.join(", ")));
    }
    let meta = ext.get("meta").ok_or("missing `VRMC_vrm.meta`")?;
    let name = meta.get("name").and_then(Value::as_str).ok_or("missing `VRMC_vrm.meta.name`")?.to_string();
    let license_url =
        meta.get("licenseUrl").and_then(Value::as_str).ok_or("missing `VRMC_vrm.meta.licenseUrl`")?.to_string();
    let mut expressions = Vec::new();
    for group in ["preset", "custom"] {
        if let Some(map) = ext.pointer(&format!("/expressions/{group}")).and_then(Value::as_object) {
            expressions.extend(map.keys().cloned());
        }
    }
    Ok(VrmInfo { name, spec_version, bones: bones_obj.keys().cloned().collect(), expressions, license_url })
}

/// The JSON chunk of a binary glTF.
fn glb_json(bytes: &[u8]) -> Result<&[u8], String> {
    if bytes.len() < 20 {
        return Err(format!("only {} bytes: too short for a binary glTF (.vrm) file", bytes.len()));
    }
    let u32_at = |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    if &bytes[0..4] != b"glTF" {
        return Err("not a binary glTF file (a .vrm must start with the bytes `glTF`)".into());
    }
    if u32_at(4) != 2 {
        return Err(format!("binary glTF version {} at byte 4; expected 2", u32_at(4)));
    }
    let total = u32_at(8) as usize;
    if total > bytes.len() {
        return Err(format!("header says {total} bytes but the file has {}: truncated", bytes.len()));
    }
    let len = u32_at(12) as usize;
    if u32_at(16) != 0x4E4F_534A {
        return Err("first chunk at byte 12 is not the JSON chunk".into());
    }
    bytes.get(20..20 + len).ok_or_else(|| format!("JSON chunk of {len} bytes runs past the end of the file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glb(json: &str) -> Vec<u8> {
        let mut j = json.as_bytes().to_vec();
        while !j.len().is_multiple_of(4) {
            j.push(b' ');
        }
        let mut out = b"glTF".to_vec();
        out.extend(2u32.to_le_bytes());
        out.extend(((20 + j.len()) as u32).to_le_bytes());
        out.extend((j.len() as u32).to_le_bytes());
        out.extend(0x4E4F_534Au32.to_le_bytes());
        out.extend(j);
        out
    }

    fn vrm_json(bones: &[&str]) -> String {
        let hb: Vec<String> = bones.iter().map(|b| format!("\"{b}\":{{\"node\":0}}")).collect();
        format!(
            r#"{{"asset":{{"version":"2.0"}},"nodes":[{{}}],"extensions":{{"VRMC_vrm":{{"specVersion":"1.0",
            "meta":{{"name":"T","licenseUrl":"https://vrm.dev/licenses/1.0/"}},
            "humanoid":{{"humanBones":{{{}}}}},"expressions":{{"preset":{{"aa":{{}}}}}}}}}}}}"#,
            hb.join(",")
        )
    }

    #[test]
    fn accepts_a_minimal_vrm1() {
        let info = inspect_bytes(&glb(&vrm_json(&REQUIRED_BONES))).unwrap();
        assert_eq!(info.name, "T");
        assert_eq!(info.expressions, ["aa"]);
    }

    #[test]
    fn names_missing_bones() {
        let e = inspect_bytes(&glb(&vrm_json(&REQUIRED_BONES[1..]))).unwrap_err();
        assert!(e.contains("lacks required bones: hips"), "{e}");
    }

    #[test]
    fn refuses_vrm0_with_advice() {
        let e = inspect_bytes(&glb(r#"{"extensions":{"VRM":{}}}"#)).unwrap_err();
        assert!(e.contains("VRM 0.x"), "{e}");
    }

    #[test]
    fn refuses_plain_gltf_and_garbage() {
        assert!(inspect_bytes(&glb(r#"{"asset":{}}"#)).unwrap_err().contains("plain glTF"));
        assert!(inspect_bytes(b"this is not a model at all").unwrap_err().contains("not a binary glTF"));
        assert!(inspect_bytes(b"glTF").unwrap_err().contains("too short"));
    }

    #[test]
    fn reports_json_position() {
        let e = inspect_bytes(&glb("{\n  \"a\": ,\n}")).unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn truncated_file_is_named_so() {
        let mut b = glb(&vrm_json(&REQUIRED_BONES));
        b.truncate(b.len() / 2);
        assert!(inspect_bytes(&b).unwrap_err().contains("truncated"));
    }

    #[test]
    fn out_of_range_bone_node() {
        let j = vrm_json(&REQUIRED_BONES).replace("\"hips\":{\"node\":0}", "\"hips\":{\"node\":9}");
        assert!(inspect_bytes(&glb(&j)).unwrap_err().contains("hips.node` = 9"));
    }

    #[test]
    fn shipped_default_avatar_is_a_complete_vrm1() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/avatars/default.vrm");
        let info = inspect(&p).unwrap();
        for e in PRESET_EXPRESSIONS {
            assert!(info.expressions.iter().any(|x| x == e), "missing expression {e}");
        }
        assert!(info.bones.iter().any(|b| b == "leftEye"));
        let size = std::fs::metadata(&p).unwrap().len();
        assert!(size < 10_000_000, "default avatar is {size} bytes");
    }
}
