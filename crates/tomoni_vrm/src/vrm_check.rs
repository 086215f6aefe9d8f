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
    /// The file was VRM 0.x and is shown migrated to 1.0 ([`crate::vrm0`]).
    pub migrated_from_vrm0: bool,
    /// Optional fields the file left out, filled with the spec's defaults.
    pub filled_defaults: usize,
    /// The author credit, where the licence asks for it (`meta.creditNotation` = `required`,
    /// the spec's default): `"NAME" by AUTHORS` (plain quotes: the label's font has no others). The companion shows it on its label, and
    /// photos carry it.
    pub credit: Option<String>,
    /// The expressions' material-colour and texture-transform binds ([`crate::binds`]).
    pub material_binds: Vec<crate::binds::ExpressionBinds>,
}

/// A checked avatar, ready for the renderer.
#[derive(Debug, Clone)]
pub struct Checked {
    /// What it declares.
    pub info: VrmInfo,
    /// The bytes to show when they differ from the file (migrated, or defaults filled).
    pub prepared: Option<std::sync::Arc<Vec<u8>>>,
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

/// The largest avatar file read (VRoid exports are 10–60 MB; the glTF format itself stops
/// at 4 GiB). A 2 GB file was read whole before its first bytes were looked at.
pub const MAX_VRM_BYTES: u64 = 1 << 30;

/// Reads and checks `path` (external buffers are looked for beside it). The header is
/// checked before the file is read: a file that is not a `.vrm`, or one larger than it
/// says, costs 12 bytes of reading.
pub fn inspect(path: &Path) -> Result<VrmInfo, VrmError> {
    load(path).map(|c| c.info)
}

/// Reads and checks `path`, migrating a VRM 0.x file and filling the spec's defaults: the
/// renderer is handed exactly the bytes that were checked.
pub fn load(path: &Path) -> Result<Checked, VrmError> {
    let err = |what: String| VrmError { path: path.display().to_string(), what };
    let bytes = read_glb(path).map_err(err)?;
    // Read first, so a broken file is named for what is wrong with it; only migration's own
    // failures are called that.
    let glb = crate::glb::parse_glb(&bytes).map_err(err)?;
    let prepared = crate::vrm0::prepare(glb).map_err(|e| err(format!("cannot migrate this VRM 0.x file: {e}")))?;
    let (shown, report) = match &prepared {
        Some((b, r)) => (b.as_slice(), r.clone()),
        None => (bytes.as_slice(), crate::vrm0::Prepared::default()),
    };
    let mut info = inspect_in(shown, path.parent()).map_err(err)?;
    info.migrated_from_vrm0 = report.migrated;
    info.filled_defaults = report.filled.len();
    Ok(Checked { info, prepared: prepared.map(|(b, _)| std::sync::Arc::new(b)) })
}

/// Reads a binary glTF file after checking its 12-byte header against the file's size.
pub fn read_glb(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let size = f.metadata().map_err(|e| format!("cannot read: {e}"))?.len();
    let mut head = [0u8; 12];
    let got = f.read(&mut head).map_err(|e| format!("cannot read: {e}"))?;
    if got == 12 && &head[0..4] == b"glTF" {
        let declared = u64::from(u32::from_le_bytes([head[8], head[9], head[10], head[11]]));
        if declared > size {
            return Err(format!("header says {declared} bytes but the file has {size}: truncated"));
        }
        if size > MAX_VRM_BYTES {
            return Err(format!("{size} bytes: larger than the {} MiB tomoni reads", MAX_VRM_BYTES >> 20));
        }
    } else if got >= 4 {
        return Err("not a binary glTF file (a .vrm must start with the bytes `glTF`)".into());
    }
    let mut bytes = Vec::with_capacity(size.min(MAX_VRM_BYTES) as usize);
    bytes.extend_from_slice(&head[..got]);
    f.take(MAX_VRM_BYTES).read_to_end(&mut bytes).map_err(|e| format!("cannot read: {e}"))?;
    Ok(bytes)
}

/// Checks the bytes of a `.vrm` (binary glTF) file.
pub fn inspect_bytes(bytes: &[u8]) -> Result<VrmInfo, String> {
    inspect_in(bytes, None)
}

fn inspect_in(bytes: &[u8], dir: Option<&Path>) -> Result<VrmInfo, String> {
    let (doc, bin) = crate::glb::parts(bytes)?;
    check_structure(&doc, bin.map(<[u8]>::len), dir)?;
    let ext = doc.pointer("/extensions/VRMC_vrm").ok_or_else(|| {
        if doc.pointer("/extensions/VRM").is_some() {
            "this is a VRM 0.x file (extension `VRM`): load it with `vrm_check::load`, which \
             migrates it"
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
    // The spec's default is `required`: only an explicit `unnecessary` waives the credit.
    let credit = (meta.get("creditNotation").and_then(Value::as_str) != Some("unnecessary")).then(|| {
        let authors: Vec<&str> = crate::glb::items(meta, "authors")
            .iter()
            .filter_map(Value::as_str)
            .filter(|a| !a.trim().is_empty())
            .collect();
        if authors.is_empty() { format!("\"{name}\"") } else { format!("\"{name}\" by {}", authors.join(", ")) }
    });
    let expressions = crate::glb::expressions(ext).map(|(_, name, _)| name.clone()).collect();
    Ok(VrmInfo {
        name,
        spec_version,
        bones: bones_obj.keys().cloned().collect(),
        expressions,
        license_url,
        migrated_from_vrm0: false,
        filled_defaults: 0,
        credit,
        material_binds: crate::binds::read(&doc)?,
    })
}

/// glTF extensions Bevy's loader reads (the `gltf` crate's, as Bevy enables them) and the VRM
/// extensions tomoni itself reads. A file that *requires* any other would fail to load later,
/// as a scene that never appears.
const READABLE_EXTENSIONS: &[&str] = &[
    "KHR_lights_punctual",
    "KHR_materials_unlit",
    "KHR_texture_transform",
    "KHR_materials_transmission",
    "KHR_materials_ior",
    "KHR_materials_emissive_strength",
    "VRM",
    "VRMC_vrm",
    "VRMC_springBone",
    "VRMC_materials_mtoon",
    "VRMC_node_constraint",
];

/// Each extension the file requires that tomoni cannot read, named with what it is and what
/// to do: a compressed export is the usual cause, and exporting without compression fixes it.
fn check_required_extensions(required: &[Value]) -> Result<(), String> {
    let missing: Vec<String> = required
        .iter()
        .filter_map(Value::as_str)
        .filter(|e| !READABLE_EXTENSIONS.contains(e))
        .map(|e| {
            let what = match e {
                "KHR_draco_mesh_compression" => "Draco-compressed meshes",
                "EXT_meshopt_compression" | "KHR_meshopt_compression" => "meshopt-compressed buffers",
                "KHR_mesh_quantization" => "quantized vertex data",
                "KHR_texture_basisu" => "Basis Universal (KTX2) textures",
                "EXT_texture_webp" => "WebP textures",
                _ => "an extension tomoni does not know",
            };
            format!("{e} ({what})")
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "`extensionsRequired` names what tomoni cannot read: {}; export the avatar again without mesh or \
         texture compression (VRoid Studio, UniVRM and Blender's exporter all can)",
        missing.join(", ")
    ))
}

/// Buffers, views, accessors and the node tree: what a renderer would otherwise read out of
/// bounds (a mangled body) or loop on.
fn check_structure(doc: &Value, bin: Option<usize>, dir: Option<&Path>) -> Result<(), String> {
    let arr = |k: &str| crate::glb::items(doc, k);
    check_required_extensions(arr("extensionsRequired"))?;
    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64);
    let buffers: Vec<u64> = arr("buffers")
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let len = num(b, "byteLength").ok_or(format!("`buffers[{i}].byteLength` is missing"))?;
            match b.get("uri").and_then(Value::as_str) {
                None if bin.is_none() => Err(format!("`buffers[{i}]` has no uri and the file has no BIN chunk")),
                None if len > bin.unwrap_or(0) as u64 => Err(format!(
                    "`buffers[{i}].byteLength` = {len}, but the BIN chunk holds {} bytes",
                    bin.unwrap_or(0)
                )),
                Some(uri) if !uri.starts_with("data:") => match dir {
                    Some(d) => {
                        let f = d.join(uri);
                        match std::fs::metadata(&f) {
                            Ok(m) if m.len() >= len => Ok(len),
                            Ok(m) => {
                                Err(format!("`buffers[{i}]` file {} has {} bytes, not {len}", f.display(), m.len()))
                            }
                            Err(e) => Err(format!("`buffers[{i}].uri` {uri:?}: {}: {e}", f.display())),
                        }
                    }
                    None => Ok(len),
                },
                _ => Ok(len),
            }
        })
        .collect::<Result<_, String>>()?;
    let views: Vec<u64> = arr("bufferViews")
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let b = num(v, "buffer").ok_or(format!("`bufferViews[{i}].buffer` is missing"))? as usize;
            let len = num(v, "byteLength").ok_or(format!("`bufferViews[{i}].byteLength` is missing"))?;
            let end = num(v, "byteOffset").unwrap_or(0).saturating_add(len);
            match buffers.get(b) {
                None => Err(format!("`bufferViews[{i}].buffer` = {b}, but the file has {} buffers", buffers.len())),
                Some(&blen) if end > blen => {
                    Err(format!("`bufferViews[{i}]` ends at byte {end}, past `buffers[{b}]` ({blen} bytes)"))
                }
                Some(_) => Ok(len),
            }
        })
        .collect::<Result<_, String>>()?;
    for (i, a) in arr("accessors").iter().enumerate() {
        let Some(view) = num(a, "bufferView") else { continue };
        let count = num(a, "count").ok_or(format!("`accessors[{i}].count` is missing"))?;
        let comp = match num(a, "componentType") {
            Some(5120 | 5121) => 1,
            Some(5122 | 5123) => 2,
            Some(5125 | 5126) => 4,
            other => return Err(format!("`accessors[{i}].componentType` = {other:?} is not a glTF component type")),
        };
        let n = match a.get("type").and_then(Value::as_str) {
            Some("SCALAR") => 1,
            Some("VEC2") => 2,
            Some("VEC3") => 3,
            Some("VEC4" | "MAT2") => 4,
            Some("MAT3") => 9,
            Some("MAT4") => 16,
            other => return Err(format!("`accessors[{i}].type` = {other:?} is not a glTF accessor type")),
        };
        let vlen = *views
            .get(view as usize)
            .ok_or(format!("`accessors[{i}].bufferView` = {view}, but the file has {} views", views.len()))?;
        let stride = arr("bufferViews")[view as usize].get("byteStride").and_then(Value::as_u64).unwrap_or(comp * n);
        let need = num(a, "byteOffset")
            .unwrap_or(0)
            .saturating_add(count.saturating_sub(1).saturating_mul(stride))
            .saturating_add(comp * n);
        if count > 0 && need > vlen {
            return Err(format!(
                "`accessors[{i}]` reads {count} elements ({need} bytes) from `bufferViews[{view}]`, which has {vlen}"
            ));
        }
    }
    // Pictures in files beside the avatar must be there (a missing one loads as no texture).
    if let Some(d) = dir {
        for (i, img) in arr("images").iter().enumerate() {
            if let Some(uri) = img.get("uri").and_then(Value::as_str).filter(|u| !u.starts_with("data:")) {
                let f = d.join(uri);
                if !f.is_file() {
                    return Err(format!("`images[{i}].uri` {uri:?}: no file {}", f.display()));
                }
            }
        }
    }
    // The node tree: children in range, each node with one parent at most, no cycles.
    let nodes = arr("nodes");
    let mut parent = vec![None; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for c in n.get("children").and_then(Value::as_array).map_or(&[][..], Vec::as_slice) {
            let c = c.as_u64().ok_or(format!("`nodes[{i}].children` holds a non-index"))? as usize;
            if c >= nodes.len() {
                return Err(format!("`nodes[{i}].children` names node {c}, but the file has {} nodes", nodes.len()));
            }
            if let Some(p) = parent[c].replace(i) {
                return Err(format!("node {c} is a child of both nodes {p} and {i}"));
            }
        }
    }
    for start in 0..nodes.len() {
        let (mut at, mut steps) = (start, 0);
        while let Some(p) = parent[at] {
            steps += 1;
            if steps > nodes.len() {
                return Err(format!("the node tree has a cycle through node {start}"));
            }
            at = p;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spring chain whose leaf names a child past the node list (found by `cargo xtask
    /// fuzz vrm`: the migration indexed past the nodes adding the chain's tail) is not a
    /// panic: the migration skips the child and the structure check names it.
    #[test]
    fn a_spring_child_past_the_nodes_is_an_error_not_a_panic() {
        let mut g =
            crate::glb::parse_glb(&crate::vrm0::to_vrm0(&crate::vrm0::tests::default_avatar()).unwrap()).unwrap();
        let root = g.json["extensions"]["VRM"]["secondaryAnimation"]["boneGroups"][0]["bones"][0].as_u64().unwrap();
        // Follow first children down to the chain's leaf.
        let mut leaf = root as usize;
        while let Some(c) = g.json["nodes"][leaf]["children"][0].as_u64() {
            leaf = c as usize;
        }
        let n = crate::glb::items(&g.json, "nodes").len();
        g.json["nodes"][leaf]["children"] = serde_json::json!([n + 1000]);
        let bytes = match crate::vrm0::prepare(g).unwrap() {
            Some((migrated, _)) => migrated,
            None => panic!("a 0.x file is migrated"),
        };
        let e = inspect_bytes(&bytes).unwrap_err();
        assert!(e.contains(&format!("`nodes[{leaf}].children` names node {}", n + 1000)), "{e}");
    }

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
    fn required_extensions_tomoni_cannot_read_are_named() {
        let with = |required: &str| {
            let mut doc: Value = serde_json::from_str(&vrm_json(&REQUIRED_BONES)).unwrap();
            doc["extensionsRequired"] = serde_json::from_str(required).unwrap();
            inspect_bytes(&glb(&doc.to_string()))
        };
        let e = with(r#"["KHR_draco_mesh_compression"]"#).unwrap_err();
        assert!(e.contains("KHR_draco_mesh_compression (Draco-compressed meshes)") && e.contains("without"), "{e}");
        let e = with(r#"["KHR_texture_transform", "EXT_meshopt_compression", "EXT_made_up"]"#).unwrap_err();
        assert!(e.contains("EXT_meshopt_compression (meshopt-compressed buffers)"), "{e}");
        assert!(e.contains("EXT_made_up (an extension tomoni does not know)") && !e.contains("KHR_texture_transform"));
        assert!(with(r#"["KHR_texture_transform", "KHR_materials_unlit"]"#).is_ok(), "readable ones pass");
    }

    #[test]
    fn accepts_a_minimal_vrm1() {
        let info = inspect_bytes(&glb(&vrm_json(&REQUIRED_BONES))).unwrap();
        assert_eq!(info.name, "T");
        assert_eq!(info.expressions, ["aa"]);
        // No `creditNotation`: the spec's default, `required`.
        assert_eq!(info.credit.as_deref(), Some("\"T\""));
        let mut doc: Value = serde_json::from_str(&vrm_json(&REQUIRED_BONES)).unwrap();
        doc["extensions"]["VRMC_vrm"]["meta"]["authors"] = serde_json::json!(["Ann", " ", "Bo"]);
        let info = inspect_bytes(&glb(&doc.to_string())).unwrap();
        assert_eq!(info.credit.as_deref(), Some("\"T\" by Ann, Bo"));
        doc["extensions"]["VRMC_vrm"]["meta"]["creditNotation"] = serde_json::json!("unnecessary");
        assert_eq!(inspect_bytes(&glb(&doc.to_string())).unwrap().credit, None);
    }

    #[test]
    fn names_missing_bones() {
        let e = inspect_bytes(&glb(&vrm_json(&REQUIRED_BONES[1..]))).unwrap_err();
        assert!(e.contains("lacks required bones: hips"), "{e}");
    }

    #[test]
    fn vrm0_bytes_are_named_as_such_when_not_migrated() {
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
    fn structure_that_render_would_reject_is_refused_here() {
        let with = |extra: &str| vrm_json(&REQUIRED_BONES).replacen("\"nodes\":[{}]", extra, 1);
        // A node cycle.
        let e = inspect_bytes(&glb(&with(r#""nodes":[{"children":[1]},{"children":[0]}]"#))).unwrap_err();
        assert!(e.contains("cycle") || e.contains("child of both"), "{e}");
        // A missing external buffer.
        let dir = std::env::temp_dir();
        let j = with(r#""nodes":[{}],"buffers":[{"uri":"no-such-file.bin","byteLength":64}]"#);
        let e = inspect_in(&glb(&j), Some(&dir)).unwrap_err();
        assert!(e.contains("no-such-file.bin"), "{e}");
        // A missing external picture.
        let j = with(r#""nodes":[{}],"images":[{"uri":"no-such-texture.png"}]"#);
        let e = inspect_in(&glb(&j), Some(&dir)).unwrap_err();
        assert!(e.contains("images[0]") && e.contains("no-such-texture.png"), "{e}");
        // An accessor that reads far past its view (count 10^9).
        let j = with(
            r#""nodes":[{}],"buffers":[{"byteLength":12}],"bufferViews":[{"buffer":0,"byteLength":12}],
            "accessors":[{"bufferView":0,"componentType":5126,"type":"VEC3","count":1000000000}]"#,
        );
        let mut b = glb(&j);
        b.extend(12u32.to_le_bytes());
        b.extend(0x004E_4942u32.to_le_bytes());
        b.extend([0u8; 12]);
        let total = b.len() as u32;
        b[8..12].copy_from_slice(&total.to_le_bytes());
        let e = inspect_bytes(&b).unwrap_err();
        assert!(e.contains("accessors[0]") && e.contains("1000000000"), "{e}");
        // A BIN chunk that claims 4 GB.
        let n = b.len();
        b[n - 20..n - 16].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = inspect_bytes(&b).unwrap_err();
        assert!(e.contains("BIN chunk"), "{e}");
    }

    /// A sparse 2 GB file was read whole (2.1 GB resident, 5.9 s) before its magic was
    /// checked. Sparse files cost no disk: these are refused from their first 12 bytes.
    #[test]
    fn huge_files_are_refused_from_their_header_without_being_read() {
        let dir = std::env::temp_dir().join(format!("tomoni-vrm-huge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sparse = |name: &str, head: &[u8]| {
            let p = dir.join(name);
            let f = std::fs::File::create(&p).unwrap();
            std::io::Write::write_all(&mut &f, head).unwrap();
            f.set_len(2 << 30).unwrap();
            p
        };
        let zeros = sparse("zeros.vrm", &[]);
        let e = inspect(&zeros).unwrap_err().to_string();
        assert!(e.contains("zeros.vrm") && e.contains("not a binary glTF"), "{e}");
        let mut head = b"glTF".to_vec();
        head.extend(2u32.to_le_bytes());
        head.extend(((2u64 << 30) - 1).to_le_bytes()[..4].iter());
        let big = sparse("big.vrm", &head);
        let e = inspect(&big).unwrap_err().to_string();
        assert!(e.contains("big.vrm") && e.contains("MiB tomoni reads"), "{e}");
        // A header that claims more than the file holds.
        let short = dir.join("short.vrm");
        let mut b = b"glTF".to_vec();
        b.extend(2u32.to_le_bytes());
        b.extend(1_000_000u32.to_le_bytes());
        b.extend([0u8; 100]);
        std::fs::write(&short, &b).unwrap();
        let e = inspect(&short).unwrap_err().to_string();
        assert!(e.contains("header says 1000000 bytes but the file has 112"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn both_shipped_avatars_are_complete_vrm1() {
        for file in ["default.vrm", "man.vrm"] {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/avatars").join(file);
            let info = inspect(&p).unwrap();
            for e in PRESET_EXPRESSIONS {
                assert!(info.expressions.iter().any(|x| x == e), "{file}: missing expression {e}");
            }
            assert!(info.bones.iter().any(|b| b == "leftEye"), "{file}");
            let size = std::fs::metadata(&p).unwrap().len();
            assert!(size < 15_000_000, "{file} is {size} bytes (the avatars issue's limit: 15 MB)");
        }
    }
}
