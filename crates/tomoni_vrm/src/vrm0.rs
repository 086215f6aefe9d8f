//! VRM 0.x avatars, migrated to VRM 1.0 in memory before bevy_vrm1 sees them, and VRM 1.0
//! files with the spec's defaults filled in where bevy_vrm1 requires fields the spec makes
//! optional. Most avatars people own (VRoid Studio, marketplaces) are 0.x files.
//!
//! The rules are those of the reference implementations (UniVRM's migration and three-vrm's
//! 0.x loaders; `docs/avatar.md` lists them): the model is turned to face +Z (0.x faces −Z),
//! `blendShapeMaster` groups become expressions, `secondaryAnimation` becomes
//! `VRMC_springBone`, `firstPerson` becomes `firstPerson` and `lookAt`, the meta is mapped
//! (strictly: permissions 0.x cannot state are denied), and `VRM/MToon` material properties
//! become `VRMC_materials_mtoon`.
//!
//! [`to_vrm0`] runs the rules backwards. It exists to make 0.x test avatars from the default
//! avatar (no registry package ships a 0.x avatar); it is not a user feature.

use crate::glb::items;
pub use crate::glb::{Glb, parse_glb, write_glb};
use serde_json::{Map, Value, json};

/// What [`prepare`] did to a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepared {
    /// The file was VRM 0.x and was migrated.
    pub migrated: bool,
    /// Optional fields that were missing and now hold the spec's defaults (JSON pointers).
    pub filled: Vec<String>,
}

impl Prepared {
    /// Whether the bytes handed on differ from the file.
    pub fn changed(&self) -> bool {
        self.migrated || !self.filled.is_empty()
    }
}

/// Whether the document is VRM 0.x (`extensions.VRM` and no `VRMC_vrm`).
pub fn is_vrm0(doc: &Value) -> bool {
    doc.pointer("/extensions/VRM").is_some() && doc.pointer("/extensions/VRMC_vrm").is_none()
}

/// Migrates a 0.x file and fills the spec's defaults; `None` when the file can be used as it
/// is. Only migration can fail.
pub fn prepare(mut glb: Glb) -> Result<Option<(Vec<u8>, Prepared)>, String> {
    let mut report = Prepared::default();
    if is_vrm0(&glb.json) {
        migrate(&mut glb)?;
        report.migrated = true;
    }
    report.filled = fill_defaults(&mut glb.json);
    Ok(report.changed().then(|| (write_glb(&glb), report)))
}

// ---------------------------------------------------------------------------------------------
// Geometry: 0.x faces −Z, 1.0 faces +Z. Rotating 180° about Y negates x and z.

const FLOAT: u64 = 5126;

/// Negates x and z of every node, vertex position, normal, tangent, morph target, inverse
/// bind matrix and animated translation/rotation: the model turned 180° about Y. Its own
/// inverse, so [`to_vrm0`] uses it too.
fn rotate_y180(glb: &mut Glb) -> Result<(), String> {
    let doc = &mut glb.json;
    for (i, n) in doc.get_mut("nodes").and_then(Value::as_array_mut).into_iter().flatten().enumerate() {
        if n.get("matrix").is_some() {
            return Err(format!(
                "nodes[{i}] has a `matrix`: VRM 0.x migration needs translation/rotation/scale (as UniVRM does)"
            ));
        }
        for key in ["translation", "rotation"] {
            if let Some(v) = n.get_mut(key).and_then(Value::as_array_mut) {
                for c in [0, 2] {
                    if let Some(x) = v.get(c).and_then(Value::as_f64) {
                        v[c] = json!(-x);
                    }
                }
            }
        }
    }
    // Each accessor once: they may be shared between primitives.
    let mut vectors = std::collections::BTreeSet::new();
    for m in items(doc, "meshes").iter() {
        for p in items(m, "primitives").iter() {
            let targets = items(p, "targets").iter();
            for attrs in std::iter::once(p.get("attributes")).flatten().chain(targets) {
                for key in ["POSITION", "NORMAL", "TANGENT"] {
                    if let Some(a) = attrs.get(key).and_then(Value::as_u64) {
                        vectors.insert(a as usize);
                    }
                }
            }
        }
    }
    let mut channels = Vec::new();
    for a in items(doc, "animations").iter() {
        for c in items(a, "channels").iter() {
            let path = c.pointer("/target/path").and_then(Value::as_str).unwrap_or("");
            let sampler =
                c.get("sampler").and_then(Value::as_u64).and_then(|s| a.pointer(&format!("/samplers/{s}/output")));
            if matches!(path, "translation" | "rotation")
                && let Some(out) = sampler.and_then(Value::as_u64)
            {
                vectors.insert(out as usize);
            }
        }
    }
    channels.extend(vectors);
    let matrices: std::collections::BTreeSet<usize> = items(doc, "skins")
        .iter()
        .filter_map(|s| s.get("inverseBindMatrices").and_then(Value::as_u64).map(|a| a as usize))
        .collect();
    for a in channels {
        // x and z of VEC3 and VEC4 (tangent w and quaternion w stay).
        scale_accessor(doc, &mut glb.bin, a, &|_, c| if c == 0 || c == 2 { -1.0 } else { 1.0 })?;
    }
    for a in matrices {
        // M' = R·M·R with R = diag(−1, 1, −1, 1): element (row, col) × r[row]·r[col].
        let r = [-1.0f32, 1.0, -1.0, 1.0];
        scale_accessor(doc, &mut glb.bin, a, &|_, c| r[c % 4] * r[c / 4])?;
    }
    Ok(())
}

/// Multiplies component `c` of every element of float accessor `a` by `f(element, c)`, in the
/// BIN chunk, sparse values included, and keeps `min`/`max` true.
fn scale_accessor(doc: &mut Value, bin: &mut [u8], a: usize, f: &dyn Fn(usize, usize) -> f32) -> Result<(), String> {
    let acc = doc.pointer(&format!("/accessors/{a}")).ok_or_else(|| format!("accessors[{a}] does not exist"))?.clone();
    let at = format!("accessors[{a}]");
    if acc.get("componentType").and_then(Value::as_u64) != Some(FLOAT) {
        return Err(format!("{at}: only float vertex data can be migrated (quantized meshes are not supported)"));
    }
    let comps = match acc.get("type").and_then(Value::as_str) {
        Some("VEC3") => 3,
        Some("VEC4") => 4,
        Some("MAT4") => 16,
        t => return Err(format!("{at}: type {t:?} where VEC3, VEC4 or MAT4 was expected")),
    };
    let count = acc.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
    let mut spans = Vec::new();
    if let Some(view) = acc.get("bufferView").and_then(Value::as_u64) {
        let offset = acc.get("byteOffset").and_then(Value::as_u64).unwrap_or(0) as usize;
        spans.push((view as usize, offset, count));
    }
    if let Some(s) = acc.get("sparse") {
        let n = s.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
        if let Some(view) = s.pointer("/values/bufferView").and_then(Value::as_u64) {
            let offset = s.pointer("/values/byteOffset").and_then(Value::as_u64).unwrap_or(0) as usize;
            spans.push((view as usize, offset, n));
        }
    }
    for (view, offset, n) in spans {
        let bv = doc
            .pointer(&format!("/bufferViews/{view}"))
            .ok_or_else(|| format!("{at}: bufferViews[{view}] does not exist"))?;
        if bv.get("buffer").and_then(Value::as_u64).unwrap_or(0) != 0 {
            return Err(format!("{at}: data outside the file's own buffer cannot be migrated"));
        }
        let start = bv.get("byteOffset").and_then(Value::as_u64).unwrap_or(0) as usize + offset;
        let stride = bv.get("byteStride").and_then(Value::as_u64).map_or(comps * 4, |s| s as usize);
        for e in 0..n {
            for c in 0..comps {
                let o = start + e * stride + c * 4;
                let b = bin
                    .get_mut(o..o + 4)
                    .ok_or_else(|| format!("{at}: element {e} lies past the end of the BIN chunk"))?;
                let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * f(e, c);
                b.copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    // min/max: a negated component swaps and negates its bounds.
    let (min, max) = (acc.get("min").cloned(), acc.get("max").cloned());
    if let (Some(Value::Array(lo)), Some(Value::Array(hi))) = (min, max) {
        let (mut lo2, mut hi2) = (lo.clone(), hi.clone());
        for c in 0..lo.len().min(hi.len()) {
            if f(0, c) < 0.0 {
                lo2[c] = json!(-hi[c].as_f64().unwrap_or(0.0));
                hi2[c] = json!(-lo[c].as_f64().unwrap_or(0.0));
            }
        }
        doc["accessors"][a]["min"] = Value::Array(lo2);
        doc["accessors"][a]["max"] = Value::Array(hi2);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The rules, forward.

const PRESETS: [(&str, &str); 18] = [
    ("a", "aa"),
    ("i", "ih"),
    ("u", "ou"),
    ("e", "ee"),
    ("o", "oh"),
    ("joy", "happy"),
    ("angry", "angry"),
    ("sorrow", "sad"),
    ("fun", "relaxed"),
    ("surprised", "surprised"),
    ("blink", "blink"),
    ("blink_l", "blinkLeft"),
    ("blink_r", "blinkRight"),
    ("lookup", "lookUp"),
    ("lookdown", "lookDown"),
    ("lookleft", "lookLeft"),
    ("lookright", "lookRight"),
    ("neutral", "neutral"),
];

const COLOR_BINDS: [(&str, &str); 5] = [
    ("_Color", "color"),
    ("_ShadeColor", "shadeColor"),
    ("_EmissionColor", "emissionColor"),
    ("_RimColor", "rimColor"),
    ("_OutlineColor", "outlineColor"),
];

fn f(v: Option<&Value>, default: f64) -> f64 {
    v.and_then(Value::as_f64).unwrap_or(default)
}

/// A Unity-space vector of the 0.x JSON, as it is after the 180° turn: (−x, y, z).
fn unity_vec(v: Option<&Value>, default: [f64; 3]) -> Value {
    let c = |k: &str, d: f64| v.and_then(|v| v.get(k)).and_then(Value::as_f64).unwrap_or(d);
    json!([-c("x", -default[0]), c("y", default[1]), c("z", default[2])])
}

/// The inverse of [`unity_vec`].
fn to_unity_vec(v: Option<&Value>) -> Value {
    let c = |i: usize| v.and_then(|v| v.get(i)).and_then(Value::as_f64).unwrap_or(0.0);
    json!({"x": -c(0), "y": c(1), "z": c(2)})
}

/// three-vrm's gamma decode for 0.x colours (sRGB stored, linear wanted).
fn gamma_eotf(c: f64) -> f64 {
    c.max(0.0).powf(2.2)
}

fn gamma_oetf(c: f64) -> f64 {
    c.max(0.0).powf(1.0 / 2.2)
}

/// Migrates a 0.x document in place.
pub fn migrate(glb: &mut Glb) -> Result<(), String> {
    rotate_y180(glb)?;
    let doc = &mut glb.json;
    let v0 = doc.pointer("/extensions/VRM").cloned().unwrap_or(Value::Null);
    let node_count = items(doc, "nodes").len();
    let node_of_mesh = |doc: &Value, mesh: u64| -> Option<usize> {
        doc.get("nodes")?.as_array()?.iter().position(|n| n.get("mesh").and_then(Value::as_u64) == Some(mesh))
    };

    // Humanoid: an array of {bone, node} becomes an object; the thumbs are renamed.
    let mut bones = Map::new();
    for (i, b) in v0.pointer("/humanoid/humanBones").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let (Some(name), Some(node)) = (b.get("bone").and_then(Value::as_str), b.get("node").and_then(Value::as_u64))
        else {
            return Err(format!("extensions.VRM.humanoid.humanBones[{i}] needs `bone` and `node`"));
        };
        if node as usize >= node_count {
            return Err(format!(
                "extensions.VRM.humanoid.humanBones[{i}] ({name}) points at node {node} of {node_count}"
            ));
        }
        bones.insert(rename_thumb(name, true), json!({"node": node}));
    }

    // Meta: what 0.x can say, else the strict defaults.
    let m = v0.get("meta").cloned().unwrap_or(Value::Null);
    let s = |k: &str| m.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let allow = |k: &str| s(k).as_deref() == Some("Allow");
    let mut meta = json!({
        "name": s("title").unwrap_or_else(|| "Unnamed".into()),
        "version": s("version"),
        "authors": [s("author").unwrap_or_else(|| "Unknown".into())],
        "contactInformation": s("contactInformation"),
        "references": s("reference").map(|r| vec![r]),
        "licenseUrl": "https://vrm.dev/licenses/1.0/",
        "avatarPermission": match s("allowedUserName").as_deref() {
            Some("Everyone") => "everyone",
            Some("ExplicitlyLicensedPerson") => "onlySeparatelyLicensedPerson",
            _ => "onlyAuthor",
        },
        "allowExcessivelyViolentUsage": allow("violentUssageName"),
        "allowExcessivelySexualUsage": allow("sexualUssageName"),
        "commercialUsage": if allow("commercialUssageName") { "personalProfit" } else { "personalNonProfit" },
        "allowPoliticalOrReligiousUsage": false,
        "allowAntisocialOrHateUsage": false,
        "creditNotation": "required",
        "allowRedistribution": false,
        "modification": "prohibited",
        "otherLicenseUrl": s("otherLicenseUrl").or_else(|| s("otherPermissionUrl")),
    });
    if let Some(t) = m.get("texture").and_then(Value::as_u64)
        && let Some(src) = doc.pointer(&format!("/textures/{t}/source")).and_then(Value::as_u64)
    {
        meta["thumbnailImage"] = json!(src);
    }
    // The 0.x licence name has no 1.0 field; kept where a person will see it.
    if let Some(l) = s("licenseName") {
        meta["copyrightInformation"] = json!(format!("VRM 0.x licence: {l}"));
    }
    strip_nulls(&mut meta);

    // Expressions.
    let materials: Vec<String> = items(doc, "materials")
        .iter()
        .map(|m| m.get("name").and_then(Value::as_str).unwrap_or("").to_string())
        .collect();
    let (mut preset, mut custom) = (Map::new(), Map::new());
    for (gi, g) in
        v0.pointer("/blendShapeMaster/blendShapeGroups").and_then(Value::as_array).into_iter().flatten().enumerate()
    {
        let name = g.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let preset_name = g.get("presetName").and_then(Value::as_str).unwrap_or("unknown").to_lowercase();
        let mut morphs = Vec::new();
        for b in items(g, "binds").iter() {
            let (Some(mesh), Some(index)) =
                (b.get("mesh").and_then(Value::as_u64), b.get("index").and_then(Value::as_u64))
            else {
                continue;
            };
            let Some(node) = node_of_mesh(doc, mesh) else { continue }; // a mesh no node shows
            morphs.push(json!({"node": node, "index": index, "weight": f(b.get("weight"), 100.0) * 0.01}));
        }
        let (mut colors, mut transforms) = (Vec::new(), Vec::new());
        for mv in items(g, "materialValues").iter() {
            let name = mv.get("materialName").and_then(Value::as_str).unwrap_or("");
            let prop = mv.get("propertyName").and_then(Value::as_str).unwrap_or("");
            let t: Vec<f64> = items(mv, "targetValue").iter().filter_map(Value::as_f64).collect();
            let Some(material) = materials.iter().position(|m| m == name) else { continue };
            if prop == "_MainTex_ST" && t.len() >= 4 {
                transforms
                    .push(json!({"material": material, "scale": [t[0], t[1]], "offset": [t[2], 1.0 - t[3] - t[1]]}));
            } else if let Some((_, kind)) = COLOR_BINDS.iter().find(|(p, _)| *p == prop)
                && t.len() >= 3
            {
                colors.push(json!({"material": material, "type": kind, "targetValue": [t[0], t[1], t[2], t.get(3).copied().unwrap_or(1.0)]}));
            }
        }
        let mut e = json!({"isBinary": g.get("isBinary").and_then(Value::as_bool).unwrap_or(false),
            "overrideBlink": "none", "overrideLookAt": "none", "overrideMouth": "none"});
        if !morphs.is_empty() {
            e["morphTargetBinds"] = json!(morphs);
        }
        if !colors.is_empty() {
            e["materialColorBinds"] = json!(colors);
        }
        if !transforms.is_empty() {
            e["textureTransformBinds"] = json!(transforms);
        }
        match PRESETS.iter().find(|(old, _)| *old == preset_name) {
            Some((_, new)) if !preset.contains_key(*new) => {
                preset.insert((*new).to_string(), e);
            }
            _ => {
                let key = if name.is_empty() { format!("expression{gi}") } else { name };
                custom.insert(key, e);
            }
        }
    }

    // First person and look-at.
    let fp = v0.get("firstPerson").cloned().unwrap_or(Value::Null);
    let mut annotations = Vec::new();
    for a in items(&fp, "meshAnnotations").iter() {
        let Some(node) = a.get("mesh").and_then(Value::as_u64).and_then(|m| node_of_mesh(doc, m)) else { continue };
        let kind = match a.get("firstPersonFlag").and_then(Value::as_str).unwrap_or("Auto") {
            "Both" => "both",
            "ThirdPersonOnly" => "thirdPersonOnly",
            "FirstPersonOnly" => "firstPersonOnly",
            _ => "auto",
        };
        annotations.push(json!({"node": node, "type": kind}));
    }
    let expression_look = fp.get("lookAtTypeName").and_then(Value::as_str) == Some("BlendShape");
    let range = |k: &str| {
        let r = fp.get(k);
        json!({"inputMaxValue": f(r.and_then(|r| r.get("xRange")), 90.0),
               "outputScale": f(r.and_then(|r| r.get("yRange")), if expression_look { 1.0 } else { 10.0 })})
    };
    let look_at = json!({
        "type": if expression_look { "expression" } else { "bone" },
        "offsetFromHeadBone": unity_vec(fp.get("firstPersonBoneOffset"), [0.0, 0.06, 0.0]),
        "rangeMapHorizontalInner": range("lookAtHorizontalInner"),
        "rangeMapHorizontalOuter": range("lookAtHorizontalOuter"),
        "rangeMapVerticalDown": range("lookAtVerticalDown"),
        "rangeMapVerticalUp": range("lookAtVerticalUp"),
    });

    let springs = migrate_springs(doc, &v0)?;
    let (mtoon, texture_transform) = migrate_materials(doc, &v0);

    let vrm = json!({
        "specVersion": "1.0",
        "meta": meta,
        "humanoid": {"humanBones": bones},
        "expressions": {"preset": preset, "custom": custom},
        "firstPerson": {"meshAnnotations": annotations},
        "lookAt": look_at,
    });
    let ext = doc["extensions"].as_object_mut().ok_or("`extensions` is not an object")?;
    ext.remove("VRM");
    ext.insert("VRMC_vrm".into(), vrm);
    let mut used: Vec<String> = items(doc, "extensionsUsed")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .filter(|e| e != "VRM")
        .collect();
    let mut add = |e: &str| {
        if !used.iter().any(|u| u == e) {
            used.push(e.into());
        }
    };
    add("VRMC_vrm");
    if let Some(sb) = springs {
        doc["extensions"]["VRMC_springBone"] = sb;
        add("VRMC_springBone");
    }
    if mtoon {
        add("VRMC_materials_mtoon");
    }
    if texture_transform {
        add("KHR_texture_transform");
    }
    doc["extensionsUsed"] = json!(used);
    Ok(())
}

/// 0.x names the thumb's three bones one step further out than 1.0 does.
fn rename_thumb(name: &str, to_v1: bool) -> String {
    const STEPS: [(&str, &str); 2] = [("ThumbProximal", "ThumbMetacarpal"), ("ThumbIntermediate", "ThumbProximal")];
    for (v0, v1) in STEPS {
        let (from, to) = if to_v1 { (v0, v1) } else { (v1, v0) };
        if let Some(side) = name.strip_suffix(from) {
            return format!("{side}{to}");
        }
    }
    name.to_string()
}

fn strip_nulls(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        o.retain(|_, x| !x.is_null());
    }
}

/// `secondaryAnimation` → `VRMC_springBone`. Bone groups list root bones; every node under a
/// root is a joint, its first child continuing the chain and other children starting chains
/// of their own. A leaf gets a tail node 7 cm on along its own offset (0.x implied it).
fn migrate_springs(doc: &mut Value, v0: &Value) -> Result<Option<Value>, String> {
    let sa = v0.get("secondaryAnimation").cloned().unwrap_or(Value::Null);
    let node_count = items(doc, "nodes").len();
    let (mut colliders, mut groups) = (Vec::new(), Vec::new());
    for (gi, g) in items(&sa, "colliderGroups").iter().enumerate() {
        let node = g.get("node").and_then(Value::as_u64).filter(|&n| (n as usize) < node_count).ok_or_else(|| {
            format!("extensions.VRM.secondaryAnimation.colliderGroups[{gi}].node is missing or out of range")
        })?;
        let mut members = Vec::new();
        for c in items(g, "colliders").iter() {
            members.push(colliders.len());
            colliders.push(json!({"node": node, "shape": {"sphere": {
                "offset": unity_vec(c.get("offset"), [0.0; 3]),
                "radius": f(c.get("radius"), 0.0)}}}));
        }
        groups.push(json!({"name": format!("colliderGroup{gi}"), "colliders": members}));
    }
    let mut springs = Vec::new();
    for (bi, g) in items(&sa, "boneGroups").iter().enumerate() {
        let joint = |node: usize| {
            json!({"node": node, "hitRadius": f(g.get("hitRadius"), 0.02), "stiffness": f(g.get("stiffiness"), 1.0),
                   "gravityPower": f(g.get("gravityPower"), 0.0), "gravityDir": unity_vec(g.get("gravityDir"), [0.0, -1.0, 0.0]),
                   "dragForce": f(g.get("dragForce"), 0.4)})
        };
        let name = g
            .get("comment")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map_or_else(|| format!("spring{bi}"), str::to_string);
        let collider_groups: Vec<u64> = items(g, "colliderGroups")
            .iter()
            .filter_map(Value::as_u64)
            .filter(|&c| (c as usize) < groups.len())
            .collect();
        let center = g.get("center").and_then(Value::as_i64).filter(|&c| c >= 0 && (c as usize) < node_count);
        let mut starts: Vec<usize> = items(g, "bones")
            .iter()
            .filter_map(Value::as_u64)
            .map(|b| b as usize)
            .filter(|&b| b < node_count)
            .collect();
        while let Some(start) = starts.pop() {
            let mut chain = Vec::new();
            let mut at = start;
            loop {
                if chain.len() > node_count {
                    return Err(format!(
                        "extensions.VRM.secondaryAnimation.boneGroups[{bi}]: the node tree has a cycle"
                    ));
                }
                chain.push(joint(at));
                // A child past the node list is the structure check's to report (after the
                // migration); here it is not followed. (Found by `cargo xtask fuzz vrm`: it
                // indexed past the nodes when the chain's tail was added.)
                let nodes_now = items(doc, "nodes").len();
                let children: Vec<usize> = items(&doc["nodes"][at], "children")
                    .iter()
                    .filter_map(Value::as_u64)
                    .map(|c| c as usize)
                    .filter(|&c| c < nodes_now)
                    .collect();
                starts.extend(children.iter().skip(1).rev());
                match children.first() {
                    Some(&c) => at = c,
                    None => {
                        let tail = add_tail(doc, at);
                        chain.push(joint(tail));
                        break;
                    }
                }
            }
            let mut spring = json!({"name": if springs.iter().any(|s: &Value| s["name"] == json!(name)) { format!("{name}.{}", springs.len()) } else { name.clone() }, "joints": chain});
            if !collider_groups.is_empty() {
                spring["colliderGroups"] = json!(collider_groups);
            }
            if let Some(c) = center {
                spring["center"] = json!(c);
            }
            springs.push(spring);
        }
    }
    if springs.is_empty() && colliders.is_empty() {
        return Ok(None);
    }
    Ok(Some(json!({"specVersion": "1.0", "colliders": colliders, "colliderGroups": groups, "springs": springs})))
}

/// Adds a child 7 cm on from `leaf` along its own offset from its parent; returns its index.
fn add_tail(doc: &mut Value, leaf: usize) -> usize {
    let t: Vec<f64> = items(&doc["nodes"][leaf], "translation").iter().filter_map(Value::as_f64).collect();
    let len = t.iter().map(|x| x * x).sum::<f64>().sqrt();
    let dir = if t.len() == 3 && len > 1e-9 { [t[0] / len, t[1] / len, t[2] / len] } else { [0.0, -1.0, 0.0] };
    let name = doc["nodes"][leaf].get("name").and_then(Value::as_str).unwrap_or("joint").to_string();
    let nodes = doc["nodes"].as_array_mut().expect("nodes checked above");
    nodes.push(json!({"name": format!("{name}_tail"), "translation": [dir[0] * 0.07, dir[1] * 0.07, dir[2] * 0.07]}));
    let tail = nodes.len() - 1;
    let leaf_node = &mut nodes[leaf];
    match leaf_node.get_mut("children").and_then(Value::as_array_mut) {
        Some(c) => c.push(json!(tail)),
        None => leaf_node["children"] = json!([tail]),
    }
    tail
}

/// `materialProperties` of shader `VRM/MToon` (and `VRM/Unlit*`) → glTF material fields and
/// `VRMC_materials_mtoon`, matched to materials by name. Returns (any MToon, any texture
/// transform).
fn migrate_materials(doc: &mut Value, v0: &Value) -> (bool, bool) {
    let props: Vec<Value> = v0.get("materialProperties").and_then(Value::as_array).cloned().unwrap_or_default();
    let (mut any, mut any_transform) = (false, false);
    // Render queues of transparent materials, rank-compressed as three-vrm does.
    let transparent = |p: &Value| {
        p.pointer("/keywordMap/_ALPHABLEND_ON").is_some()
            || p.get("shader").and_then(Value::as_str).is_some_and(|s| s.starts_with("VRM/UnlitTransparent"))
    };
    let zwrite = |p: &Value| {
        f(p.pointer("/floatProperties/_ZWrite"), 0.0) == 1.0
            || p.get("shader").and_then(Value::as_str) == Some("VRM/UnlitTransparentZWrite")
    };
    let queues = |want_z: bool| {
        let mut q: Vec<i64> = props
            .iter()
            .filter(|p| transparent(p) && zwrite(p) == want_z)
            .filter_map(|p| p.get("renderQueue").and_then(Value::as_i64))
            .collect();
        q.sort_unstable();
        q.dedup();
        q
    };
    let (q_blend, q_z) = (queues(false), queues(true));
    let Some(mats) = doc.get_mut("materials").and_then(Value::as_array_mut) else { return (false, false) };
    for mat in mats.iter_mut() {
        let name = mat.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let Some(p) = props.iter().find(|p| p.get("name").and_then(Value::as_str) == Some(name.as_str())) else {
            continue;
        };
        let shader = p.get("shader").and_then(Value::as_str).unwrap_or("");
        let fl = |k: &str, d: f64| f(p.pointer(&format!("/floatProperties/{k}")), d);
        let vec4 = |k: &str, d: [f64; 4]| -> [f64; 4] {
            let v: Vec<f64> = p
                .pointer(&format!("/vectorProperties/{k}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .collect();
            std::array::from_fn(|i| v.get(i).copied().unwrap_or(d[i]))
        };
        let tex = |k: &str| p.pointer(&format!("/textureProperties/{k}")).and_then(Value::as_u64);
        let lin = |c: [f64; 4]| json!([gamma_eotf(c[0]), gamma_eotf(c[1]), gamma_eotf(c[2])]);
        let st = p.pointer("/vectorProperties/_MainTex").and_then(Value::as_array).map(|v| {
            let g = |i: usize, d: f64| v.get(i).and_then(Value::as_f64).unwrap_or(d);
            let (offset, scale) = ([g(0, 0.0), g(1, 0.0)], [g(2, 1.0), g(3, 1.0)]);
            json!({"KHR_texture_transform": {"offset": [offset[0], 1.0 - scale[1] - offset[1]], "scale": scale}})
        });
        any_transform |= st.is_some();
        let texref = |i: u64| {
            let mut t = json!({"index": i});
            if let Some(st) = &st {
                t["extensions"] = st.clone();
            }
            t
        };
        let is_blend = transparent(p);
        let is_z = zwrite(p);
        let queue = p.get("renderQueue").and_then(Value::as_i64);
        let offset = match (is_blend, queue) {
            (true, Some(q)) if is_z => q_z.iter().position(|&x| x == q).unwrap_or(0).min(9) as i64,
            (true, Some(q)) => {
                (q_blend.iter().position(|&x| x == q).unwrap_or(0) as i64 - q_blend.len() as i64 + 1).clamp(-9, 0)
            }
            _ => 0,
        };
        let unlit = shader.starts_with("VRM/Unlit");
        if shader != "VRM/MToon" && !unlit {
            continue; // a Standard/glTF material: its own glTF fields already say it
        }
        any = true;
        let color = vec4("_Color", [1.0; 4]);
        let mut base = json!({"baseColorFactor": [gamma_eotf(color[0]), gamma_eotf(color[1]), gamma_eotf(color[2]), if unlit { gamma_eotf(color[3]) } else { color[3] }]});
        if let Some(t) = tex("_MainTex") {
            base["baseColorTexture"] = texref(t);
        }
        mat["pbrMetallicRoughness"] = base.clone();
        let cutout = p.pointer("/keywordMap/_ALPHATEST_ON").and_then(Value::as_bool).unwrap_or(false)
            || shader == "VRM/UnlitCutout";
        mat["alphaMode"] = json!(if is_blend {
            "BLEND"
        } else if cutout {
            "MASK"
        } else {
            "OPAQUE"
        });
        if cutout {
            mat["alphaCutoff"] = json!(fl("_Cutoff", 0.5));
        }
        let mut m =
            json!({"specVersion": "1.0", "transparentWithZWrite": is_blend && is_z, "renderQueueOffsetNumber": offset});
        if unlit {
            m["shadeColorFactor"] =
                base["baseColorFactor"].as_array().map(|c| json!(c[..3])).unwrap_or(json!([1, 1, 1]));
            if let Some(t) = tex("_MainTex") {
                m["shadeMultiplyTexture"] = texref(t);
            }
        } else {
            mat["doubleSided"] = json!(fl("_CullMode", 2.0) == 0.0);
            if let Some(t) = tex("_BumpMap") {
                let mut n = texref(t);
                n["scale"] = json!(fl("_BumpScale", 1.0));
                mat["normalTexture"] = n;
            }
            mat["emissiveFactor"] = lin(vec4("_EmissionColor", [0.0, 0.0, 0.0, 1.0]));
            if let Some(t) = tex("_EmissionMap") {
                mat["emissiveTexture"] = texref(t);
            }
            let shift0 = fl("_ShadeShift", 0.0);
            let toony = fl("_ShadeToony", 0.9);
            let toony = toony + (1.0 - toony) * (0.5 + 0.5 * shift0);
            let gi = fl("_IndirectLightIntensity", 0.1);
            m["shadeColorFactor"] = lin(vec4("_ShadeColor", [0.97, 0.81, 0.86, 1.0]));
            m["shadingShiftFactor"] = json!(-shift0 - (1.0 - toony));
            m["shadingToonyFactor"] = json!(toony);
            m["giEqualizationFactor"] = json!(1.0 - gi);
            m["rimLightingMixFactor"] = json!(fl("_RimLightingMix", 0.0));
            m["parametricRimColorFactor"] = lin(vec4("_RimColor", [0.0, 0.0, 0.0, 1.0]));
            m["parametricRimFresnelPowerFactor"] = json!(fl("_RimFresnelPower", 1.0));
            m["parametricRimLiftFactor"] = json!(fl("_RimLift", 0.0));
            let mode = fl("_OutlineWidthMode", 0.0) as usize;
            m["outlineWidthMode"] =
                json!(["none", "worldCoordinates", "screenCoordinates"].get(mode).copied().unwrap_or("none"));
            m["outlineWidthFactor"] = json!(0.01 * fl("_OutlineWidth", 0.0));
            m["outlineColorFactor"] = lin(vec4("_OutlineColor", [0.0, 0.0, 0.0, 1.0]));
            m["outlineLightingMixFactor"] =
                json!(if fl("_OutlineColorMode", 0.0) == 1.0 { fl("_OutlineLightingMix", 1.0) } else { 0.0 });
            m["uvAnimationScrollXSpeedFactor"] = json!(fl("_UvAnimScrollX", 0.0));
            m["uvAnimationScrollYSpeedFactor"] = json!(-fl("_UvAnimScrollY", 0.0));
            m["uvAnimationRotationSpeedFactor"] = json!(fl("_UvAnimRotation", 0.0));
            m["matcapFactor"] = json!(if tex("_SphereAdd").is_some() { [1.0, 1.0, 1.0] } else { [0.0, 0.0, 0.0] });
            for (k, field) in [
                ("_ShadeTexture", "shadeMultiplyTexture"),
                ("_RimTexture", "rimMultiplyTexture"),
                ("_OutlineWidthTexture", "outlineWidthMultiplyTexture"),
                ("_UvAnimMaskTexture", "uvAnimationMaskTexture"),
            ] {
                if let Some(t) = tex(k) {
                    m[field] = texref(t);
                }
            }
            if let Some(t) = tex("_SphereAdd") {
                m["matcapTexture"] = json!({"index": t});
            }
        }
        let exts =
            mat.as_object_mut().expect("a material is an object").entry("extensions").or_insert_with(|| json!({}));
        if let Some(e) = exts.as_object_mut() {
            e.remove("KHR_materials_unlit");
            e.insert("VRMC_materials_mtoon".into(), m);
        }
    }
    (any, any_transform)
}

// ---------------------------------------------------------------------------------------------
// Defaults the spec gives and bevy_vrm1 0.10 requires.

/// Fills the optional fields bevy_vrm1 requires with the VRM 1.0 spec's defaults (without
/// them a valid file never appears and the error is only logged). Returns what was filled.
pub fn fill_defaults(doc: &mut Value) -> Vec<String> {
    let mut filled = Vec::new();
    let mut put = |v: &mut Value, at: &str, key: &str, default: Value| {
        if let Some(o) = v.as_object_mut()
            && !o.contains_key(key)
        {
            o.insert(key.into(), default);
            filled.push(format!("{at}/{key}"));
        }
    };
    if let Some(vrm) = doc.pointer_mut("/extensions/VRMC_vrm") {
        for kind in ["preset", "custom"] {
            if let Some(map) = vrm.pointer_mut(&format!("/expressions/{kind}")).and_then(Value::as_object_mut) {
                for (name, e) in map.iter_mut() {
                    let at = format!("/extensions/VRMC_vrm/expressions/{kind}/{name}");
                    put(e, &at, "isBinary", json!(false));
                    for o in ["overrideBlink", "overrideLookAt", "overrideMouth"] {
                        put(e, &at, o, json!("none"));
                    }
                }
            }
        }
        if let Some(meta) = vrm.get_mut("meta") {
            let at = "/extensions/VRMC_vrm/meta";
            for k in [
                "allowAntisocialOrHateUsage",
                "allowExcessivelySexualUsage",
                "allowExcessivelyViolentUsage",
                "allowPoliticalOrReligiousUsage",
                "allowRedistribution",
            ] {
                put(meta, at, k, json!(false));
            }
            put(meta, at, "authors", json!([]));
        }
        if let Some(look) = vrm.get_mut("lookAt") {
            let expression = look.get("type").and_then(Value::as_str) == Some("expression");
            let at = "/extensions/VRMC_vrm/lookAt";
            put(look, at, "type", json!("bone"));
            put(look, at, "offsetFromHeadBone", json!([0.0, 0.0, 0.0]));
            for k in
                ["rangeMapHorizontalInner", "rangeMapHorizontalOuter", "rangeMapVerticalDown", "rangeMapVerticalUp"]
            {
                put(look, at, k, json!({"inputMaxValue": 90.0, "outputScale": if expression { 1.0 } else { 10.0 }}));
            }
        }
    }
    if let Some(springs) = doc.pointer_mut("/extensions/VRMC_springBone/springs").and_then(Value::as_array_mut) {
        for (i, s) in springs.iter_mut().enumerate() {
            put(s, &format!("/extensions/VRMC_springBone/springs/{i}"), "name", json!(format!("spring{i}")));
        }
    }
    for (i, mat) in doc.get_mut("materials").and_then(Value::as_array_mut).into_iter().flatten().enumerate() {
        let Some(m) = mat.pointer_mut("/extensions/VRMC_materials_mtoon") else { continue };
        let at = format!("/materials/{i}/extensions/VRMC_materials_mtoon");
        for (k, v) in [
            ("specVersion", json!("1.0")),
            ("transparentWithZWrite", json!(false)),
            ("renderQueueOffsetNumber", json!(0)),
            ("shadeColorFactor", json!([0.0, 0.0, 0.0])),
            ("shadingShiftFactor", json!(0.0)),
            ("shadingToonyFactor", json!(0.9)),
            ("giEqualizationFactor", json!(0.9)),
            ("matcapFactor", json!([1.0, 1.0, 1.0])),
            ("parametricRimColorFactor", json!([0.0, 0.0, 0.0])),
            ("rimLightingMixFactor", json!(1.0)),
            ("parametricRimFresnelPowerFactor", json!(5.0)),
            ("parametricRimLiftFactor", json!(0.0)),
            ("outlineWidthMode", json!("none")),
            ("outlineWidthFactor", json!(0.0)),
            ("outlineColorFactor", json!([0.0, 0.0, 0.0])),
            ("outlineLightingMixFactor", json!(1.0)),
            ("uvAnimationScrollXSpeedFactor", json!(0.0)),
            ("uvAnimationScrollYSpeedFactor", json!(0.0)),
            ("uvAnimationRotationSpeedFactor", json!(0.0)),
        ] {
            put(m, &at, k, v);
        }
        // bevy_vrm1 reads the shade texture's transform unconditionally.
        if let Some(t) = m.get_mut("shadeMultiplyTexture") {
            let ext = t.as_object_mut().map(|o| o.entry("extensions").or_insert_with(|| json!({})));
            if let Some(e) = ext {
                put(
                    e,
                    &format!("{at}/shadeMultiplyTexture/extensions"),
                    "KHR_texture_transform",
                    json!({"offset": [0.0, 0.0], "scale": [1.0, 1.0]}),
                );
            }
        }
    }
    filled
}

// ---------------------------------------------------------------------------------------------
// The rules, backwards: a 0.x file from a 1.0 one, for tests.

/// Writes a VRM 1.0 file as VRM 0.x by the rules run backwards: what a 0.x exporter would
/// have written for the same avatar. For making test avatars; morph, colour and texture
/// transform binds, springs, colliders, look-at and MToon go across.
pub fn to_vrm0(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut glb = parse_glb(bytes)?;
    if glb.json.pointer("/extensions/VRMC_vrm").is_none() {
        return Err("not a VRM 1.0 file".into());
    }
    rotate_y180(&mut glb)?;
    let doc = &mut glb.json;
    let v1 = doc["extensions"]["VRMC_vrm"].clone();
    let mesh_of = |doc: &Value, node: u64| doc.pointer(&format!("/nodes/{node}/mesh")).cloned();
    let mut bones = Vec::new();
    for (name, b) in v1.pointer("/humanoid/humanBones").and_then(Value::as_object).into_iter().flatten() {
        bones.push(json!({"bone": rename_thumb(name, false), "node": b["node"], "useDefaultValues": true}));
    }
    let materials: Vec<String> = doc["materials"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["name"].as_str().unwrap_or("").to_string())
        .collect();
    let mut groups = Vec::new();
    for (kind, name, e) in crate::glb::expressions(&v1) {
        let preset = if kind == "preset" {
            PRESETS.iter().find(|(_, new)| new == name).map_or("unknown", |(old, _)| old)
        } else {
            "unknown"
        };
        let binds: Vec<Value> = e["morphTargetBinds"].as_array().into_iter().flatten().filter_map(|b| {
            Some(json!({"mesh": mesh_of(doc, b["node"].as_u64()?)?, "index": b["index"], "weight": b["weight"].as_f64().unwrap_or(1.0) * 100.0}))
        }).collect();
        let mut values: Vec<Value> = e["materialColorBinds"].as_array().into_iter().flatten().filter_map(|b| {
            let prop = COLOR_BINDS.iter().find(|(_, k)| b["type"].as_str() == Some(k))?.0;
            Some(json!({"materialName": materials.get(b["material"].as_u64()? as usize)?, "propertyName": prop, "targetValue": b["targetValue"]}))
        }).collect();
        values.extend(e["textureTransformBinds"].as_array().into_iter().flatten().filter_map(|b| {
            let (s, o) = (b["scale"].as_array()?, b["offset"].as_array()?);
            let (sy, oy) = (s[1].as_f64()?, o[1].as_f64()?);
            Some(json!({"materialName": materials.get(b["material"].as_u64()? as usize)?, "propertyName": "_MainTex_ST", "targetValue": [s[0], sy, o[0], 1.0 - oy - sy]}))
        }));
        groups.push(json!({"name": name, "presetName": preset, "binds": binds, "materialValues": values, "isBinary": e["isBinary"]}));
    }
    let look = &v1["lookAt"];
    let range = |k: &str| json!({"curve": [0, 0, 0, 1, 1, 1, 1, 0], "xRange": look[k]["inputMaxValue"], "yRange": look[k]["outputScale"]});
    let annotations: Vec<Value> = v1
        .pointer("/firstPerson/meshAnnotations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let flag = match a["type"].as_str()? {
                "both" => "Both",
                "thirdPersonOnly" => "ThirdPersonOnly",
                "firstPersonOnly" => "FirstPersonOnly",
                _ => "Auto",
            };
            Some(json!({"mesh": mesh_of(doc, a["node"].as_u64()?)?, "firstPersonFlag": flag}))
        })
        .collect();
    let head = v1.pointer("/humanoid/humanBones/head/node").cloned().unwrap_or(json!(-1));
    let first_person = json!({
        "firstPersonBone": head,
        "firstPersonBoneOffset": to_unity_vec(look.get("offsetFromHeadBone")),
        "meshAnnotations": annotations,
        "lookAtTypeName": if look["type"] == "expression" { "BlendShape" } else { "Bone" },
        "lookAtHorizontalInner": range("rangeMapHorizontalInner"),
        "lookAtHorizontalOuter": range("rangeMapHorizontalOuter"),
        "lookAtVerticalDown": range("rangeMapVerticalDown"),
        "lookAtVerticalUp": range("rangeMapVerticalUp"),
    });
    // Springs: one bone group per spring, rooted at its first joint. The 1.0 chain's explicit
    // tail node stays in the file, as a 0.x exporter's end bone would.
    let sb = doc.pointer("/extensions/VRMC_springBone").cloned().unwrap_or(Value::Null);
    let colliders = sb["colliders"].as_array().cloned().unwrap_or_default();
    let collider_groups: Vec<Value> = sb["colliderGroups"].as_array().into_iter().flatten().flat_map(|g| {
        // 0.x groups hang on one node: split by node.
        let mut by_node: Vec<(Value, Vec<Value>)> = Vec::new();
        for c in g["colliders"].as_array().into_iter().flatten().filter_map(|c| colliders.get(c.as_u64()? as usize)) {
            let entry = json!({"offset": to_unity_vec(c.pointer("/shape/sphere/offset")), "radius": c.pointer("/shape/sphere/radius")});
            match by_node.iter_mut().find(|(n, _)| *n == c["node"]) {
                Some((_, v)) => v.push(entry),
                None => by_node.push((c["node"].clone(), vec![entry])),
            }
        }
        by_node.into_iter().map(|(node, cs)| json!({"node": node, "colliders": cs}))
    }).collect();
    let bone_groups: Vec<Value> = sb["springs"].as_array().into_iter().flatten().filter_map(|s| {
        let j = s["joints"].as_array()?.first()?;
        Some(json!({"comment": s["name"], "stiffiness": j["stiffness"], "gravityPower": j["gravityPower"],
            "gravityDir": to_unity_vec(j.get("gravityDir")), "dragForce": j["dragForce"], "center": s.get("center").cloned().unwrap_or(json!(-1)),
            "hitRadius": j["hitRadius"], "bones": [j["node"]], "colliderGroups": s.get("colliderGroups").cloned().unwrap_or(json!([]))}))
    }).collect();
    let mut props = Vec::new();
    for mat in doc["materials"].as_array_mut().into_iter().flatten() {
        let Some(m) = mat.pointer("/extensions/VRMC_materials_mtoon").cloned() else { continue };
        let srgb = |v: &Value, a: f64| {
            let c: Vec<f64> = v.as_array().into_iter().flatten().filter_map(Value::as_f64).collect();
            json!([
                gamma_oetf(c.first().copied().unwrap_or(0.0)),
                gamma_oetf(c.get(1).copied().unwrap_or(0.0)),
                gamma_oetf(c.get(2).copied().unwrap_or(0.0)),
                c.get(3).copied().unwrap_or(a)
            ])
        };
        let toony1 = m["shadingToonyFactor"].as_f64().unwrap_or(0.9);
        let shift1 = m["shadingShiftFactor"].as_f64().unwrap_or(0.0);
        // Inverse of toony' = lerp(toony, 1, 0.5 + 0.5·shift), shift' = −shift − (1 − toony').
        let shift0 = -shift1 - (1.0 - toony1);
        let t = 0.5 + 0.5 * shift0;
        let toony0 = if (1.0 - t).abs() > 1e-6 { (toony1 - t) / (1.0 - t) } else { toony1 };
        let blend = mat["alphaMode"] == "BLEND";
        let mut keywords = Map::new();
        if blend {
            keywords.insert("_ALPHABLEND_ON".into(), json!(true));
        }
        if mat["alphaMode"] == "MASK" {
            keywords.insert("_ALPHATEST_ON".into(), json!(true));
        }
        let mode = ["none", "worldCoordinates", "screenCoordinates"]
            .iter()
            .position(|x| m["outlineWidthMode"] == *x)
            .unwrap_or(0);
        let mut textures = Map::new();
        if let Some(i) = mat.pointer("/pbrMetallicRoughness/baseColorTexture/index") {
            textures.insert("_MainTex".into(), i.clone());
        }
        if let Some(i) = m.pointer("/shadeMultiplyTexture/index") {
            textures.insert("_ShadeTexture".into(), i.clone());
        }
        // A 0.x exporter writes every textured material's `_MainTex` scale and offset (all its
        // textures share them): from the base texture's transform, else the identity.
        let main_st = (!textures.is_empty()).then(|| {
            let t = mat.pointer("/pbrMetallicRoughness/baseColorTexture/extensions/KHR_texture_transform");
            let g = |k: &str, i: usize, d: f64| {
                t.and_then(|t| t.pointer(&format!("/{k}/{i}"))).and_then(Value::as_f64).unwrap_or(d)
            };
            let (o, sc) = ([g("offset", 0, 0.0), g("offset", 1, 0.0)], [g("scale", 0, 1.0), g("scale", 1, 1.0)]);
            json!([o[0], 1.0 - sc[1] - o[1], sc[0], sc[1]])
        });
        props.push(json!({
            "name": mat["name"], "shader": "VRM/MToon", "renderQueue": if blend { 3000 } else { 2000 },
            "floatProperties": {
                "_Cutoff": mat.get("alphaCutoff").cloned().unwrap_or(json!(0.5)),
                "_ShadeShift": shift0, "_ShadeToony": toony0,
                "_IndirectLightIntensity": 1.0 - m["giEqualizationFactor"].as_f64().unwrap_or(0.9),
                "_RimLightingMix": m["rimLightingMixFactor"], "_RimFresnelPower": m["parametricRimFresnelPowerFactor"], "_RimLift": m["parametricRimLiftFactor"],
                "_OutlineWidthMode": mode, "_OutlineWidth": m["outlineWidthFactor"].as_f64().unwrap_or(0.0) * 100.0,
                "_OutlineColorMode": 1, "_OutlineLightingMix": m["outlineLightingMixFactor"],
                "_CullMode": if mat["doubleSided"] == true { 0 } else { 2 }, "_ZWrite": if blend && m["transparentWithZWrite"] != true { 0 } else { 1 },
                "_UvAnimScrollX": m["uvAnimationScrollXSpeedFactor"], "_UvAnimScrollY": -m["uvAnimationScrollYSpeedFactor"].as_f64().unwrap_or(0.0),
                "_UvAnimRotation": m["uvAnimationRotationSpeedFactor"],
            },
            "vectorProperties": {
                "_Color": srgb(mat.pointer("/pbrMetallicRoughness/baseColorFactor").unwrap_or(&json!([1, 1, 1, 1])), 1.0),
                "_ShadeColor": srgb(&m["shadeColorFactor"], 1.0), "_RimColor": srgb(&m["parametricRimColorFactor"], 1.0),
                "_OutlineColor": srgb(&m["outlineColorFactor"], 1.0), "_EmissionColor": srgb(mat.get("emissiveFactor").unwrap_or(&json!([0, 0, 0])), 1.0),
            },
            "textureProperties": textures, "keywordMap": keywords, "tagMap": {"RenderType": if blend { "Transparent" } else { "Opaque" }},
        }));
        if let Some(st) = main_st {
            props.last_mut().unwrap()["vectorProperties"]["_MainTex"] = st;
        }
        if let Some(e) = mat.get_mut("extensions").and_then(Value::as_object_mut) {
            e.remove("VRMC_materials_mtoon");
        }
    }
    let meta = &v1["meta"];
    let v0 = json!({
        "exporterVersion": "tomoni to_vrm0 (test avatars)", "specVersion": "0.0",
        "meta": {"title": meta["name"], "version": meta.get("version"), "author": meta["authors"].get(0), "contactInformation": meta.get("contactInformation"),
                 "reference": meta.pointer("/references/0"), "allowedUserName": "Everyone", "violentUssageName": "Disallow", "sexualUssageName": "Disallow",
                 "commercialUssageName": "Allow", "licenseName": "CC0", "otherPermissionUrl": "", "otherLicenseUrl": ""},
        "humanoid": {"humanBones": bones, "armStretch": 0.05, "legStretch": 0.05, "upperArmTwist": 0.5, "lowerArmTwist": 0.5, "upperLegTwist": 0.5, "lowerLegTwist": 0.5, "feetSpacing": 0, "hasTranslationDoF": false},
        "firstPerson": first_person,
        "blendShapeMaster": {"blendShapeGroups": groups},
        "secondaryAnimation": {"boneGroups": bone_groups, "colliderGroups": collider_groups},
        "materialProperties": props,
    });
    let ext = doc["extensions"].as_object_mut().ok_or("`extensions` is not an object")?;
    ext.remove("VRMC_vrm");
    ext.remove("VRMC_springBone");
    ext.insert("VRM".into(), v0);
    doc["extensionsUsed"] = json!(["VRM"]);
    for m in doc["materials"].as_array_mut().into_iter().flatten() {
        if m.get("extensions").and_then(Value::as_object).is_some_and(Map::is_empty) {
            m.as_object_mut().map(|o| o.remove("extensions"));
        }
    }
    Ok(write_glb(&glb))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The shipped default avatar's bytes (the check's tests use it too).
    pub(crate) fn default_avatar() -> Vec<u8> {
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/avatars/default.vrm")).unwrap()
    }

    fn floats(glb: &Glb, accessor: usize) -> Vec<f32> {
        let a = &glb.json["accessors"][accessor];
        let bv = &glb.json["bufferViews"][a["bufferView"].as_u64().unwrap() as usize];
        let comps = match a["type"].as_str().unwrap() {
            "VEC3" => 3,
            "VEC4" => 4,
            "MAT4" => 16,
            _ => 1,
        };
        let start = bv["byteOffset"].as_u64().unwrap_or(0) as usize + a["byteOffset"].as_u64().unwrap_or(0) as usize;
        let stride = bv["byteStride"].as_u64().map_or(comps * 4, |s| s as usize);
        (0..a["count"].as_u64().unwrap() as usize)
            .flat_map(|e| (0..comps).map(move |c| start + e * stride + c * 4))
            .map(|o| f32::from_le_bytes(glb.bin[o..o + 4].try_into().unwrap()))
            .collect()
    }

    fn close(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-5,
            (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| close(p, q)),
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
            }
            _ => a == b,
        }
    }

    /// The default avatar written as 0.x faces −Z and has 0.x's shapes; migrated back it is
    /// the same avatar: every node, vertex, bind, spring, collider, look-at and MToon value.
    #[test]
    fn the_default_avatar_survives_a_round_trip_through_vrm0() {
        // As tomoni reads it: with the defaults `prepare` fills (the iris's shade texture gains
        // the identity transform, as the migrated one does from `_MainTex`'s).
        let original = parse_glb(&default_avatar()).unwrap();
        let original = match prepare(original.clone()).unwrap() {
            Some((bytes, _)) => parse_glb(&bytes).unwrap(),
            None => original,
        };
        let v0_bytes = to_vrm0(&default_avatar()).unwrap();
        let v0 = parse_glb(&v0_bytes).unwrap();
        assert!(is_vrm0(&v0.json));
        // 0.x faces −Z: the nose (max z of the body in 1.0) is now at min z.
        let pos = original.json["meshes"][0]["primitives"][0]["attributes"]["POSITION"].as_u64().unwrap() as usize;
        let (a, b) = (floats(&original, pos), floats(&v0, pos));
        assert!(a.chunks(3).zip(b.chunks(3)).all(|(p, q)| p[0] == -q[0] && p[1] == q[1] && p[2] == -q[2]));
        assert_eq!(
            v0.json["accessors"][pos]["min"][2].as_f64().unwrap(),
            -original.json["accessors"][pos]["max"][2].as_f64().unwrap()
        );
        let bones = v0.json.pointer("/extensions/VRM/humanoid/humanBones").unwrap().as_array().unwrap();
        assert!(bones.iter().any(|b| b["bone"] == "hips"));

        let (bytes, report) = prepare(parse_glb(&v0_bytes).unwrap()).unwrap().expect("a 0.x file is changed");
        // Migration writes every MToon field: no default is left to fill.
        assert!(report.migrated && report.filled.is_empty(), "{report:?}");
        let back = parse_glb(&bytes).unwrap();
        let n = original.json["nodes"].as_array().unwrap().len();
        for i in 0..n {
            for k in ["translation", "rotation", "children", "mesh", "skin"] {
                let (x, y) = (&original.json["nodes"][i][k], &back.json["nodes"][i][k]);
                // Leaves of the hair chains gained a 7 cm tail child.
                if k == "children" && x.is_null() {
                    continue;
                }
                if k == "children" {
                    assert!(y.as_array().unwrap().starts_with(x.as_array().unwrap()), "nodes[{i}].children");
                } else {
                    assert!(close(x, y), "nodes[{i}].{k}: {x} vs {y}");
                }
            }
        }
        for (i, acc) in original.json["accessors"].as_array().unwrap().iter().enumerate() {
            if acc["componentType"] == 5126 {
                assert_eq!(floats(&original, i), floats(&back, i), "accessors[{i}]");
            }
            assert!(close(&acc["min"], &back.json["accessors"][i]["min"]), "accessors[{i}].min");
        }
        let (o, m) = (&original.json["extensions"]["VRMC_vrm"], &back.json["extensions"]["VRMC_vrm"]);
        assert_eq!(o["humanoid"], m["humanoid"]);
        // 0.x has no override fields: they come back as the spec's "none".
        let mut expected = o["expressions"]["preset"].clone();
        for e in expected.as_object_mut().unwrap().values_mut() {
            for k in ["overrideBlink", "overrideLookAt", "overrideMouth"] {
                e[k] = json!("none");
            }
        }
        assert!(close(&expected, &m["expressions"]["preset"]), "{}\n{}", o["expressions"], m["expressions"]);
        assert!(close(&o["lookAt"], &m["lookAt"]), "{}\n{}", o["lookAt"], m["lookAt"]);
        assert_eq!(o["firstPerson"], m["firstPerson"]);
        let (os, ms) = (&original.json["extensions"]["VRMC_springBone"], &back.json["extensions"]["VRMC_springBone"]);
        assert!(close(&os["colliders"], &ms["colliders"]), "{}\n{}", os["colliders"], ms["colliders"]);
        let springs = os["springs"].as_array().unwrap();
        assert_eq!(ms["springs"].as_array().unwrap().len(), springs.len());
        for s in springs {
            let back = ms["springs"].as_array().unwrap().iter().find(|t| t["name"] == s["name"]).unwrap();
            let (j, k) = (s["joints"].as_array().unwrap(), back["joints"].as_array().unwrap());
            assert_eq!(k.len(), j.len() + 1, "{}: 0.x adds a tail past the last joint", s["name"]);
            assert!(j.iter().zip(k).all(|(a, b)| close(a, b)), "{}", s["name"]);
        }
        for (i, mat) in original.json["materials"].as_array().unwrap().iter().enumerate() {
            let (a, b) = (
                &mat["extensions"]["VRMC_materials_mtoon"],
                &back.json["materials"][i]["extensions"]["VRMC_materials_mtoon"],
            );
            for (k, v) in a.as_object().unwrap() {
                // matcapFactor: 0.x has a factor only with a sphere texture (none here).
                if k != "matcapFactor" {
                    assert!(close(v, &b[k]), "materials[{i}] {k}: {v} vs {}", b[k]);
                }
            }
            assert!(close(
                &mat["pbrMetallicRoughness"]["baseColorFactor"],
                &back.json["materials"][i]["pbrMetallicRoughness"]["baseColorFactor"]
            ));
        }
        assert!(back.json["extensions"].get("VRM").is_none());
        assert!(back.json["extensionsUsed"].as_array().unwrap().contains(&json!("VRMC_springBone")));
    }

    #[test]
    fn a_valid_vrm1_file_missing_optional_fields_gets_the_specs_defaults() {
        // The shipped avatar leaves out the three UV-animation factors of every material:
        // without them bevy_vrm1 drew it with a plain PBR material. Its shade textures (the
        // skin's, the iris's, the four garments' cloth, the hair's three materials' strands, its
        // ends' strand cards and the nails' paint) have no `KHR_texture_transform`, which bevy_vrm1 reads
        // unconditionally: the identity is filled.
        let shipped = prepare(parse_glb(&default_avatar()).unwrap()).unwrap().unwrap().1.filled;
        assert!(!shipped.is_empty());
        assert!(
            shipped.iter().all(|f| f.contains("/VRMC_materials_mtoon/uvAnimation")
                || f.ends_with("/shadeMultiplyTexture/extensions/KHR_texture_transform")),
            "{shipped:?}"
        );
        assert_eq!(
            shipped.iter().filter(|f| f.contains("shadeMultiplyTexture")).count(),
            11,
            "the skin, the iris, the suit's, trousers', jumper's and skirt's cloth, the hair, its sheen, its inner layer and its ends, and the nails"
        );
        let mut glb = parse_glb(&default_avatar()).unwrap();
        let e = glb.json.pointer_mut("/extensions/VRMC_vrm/expressions/preset/happy").unwrap().as_object_mut().unwrap();
        e.remove("isBinary");
        e.remove("overrideMouth");
        glb.json
            .pointer_mut("/materials/0/extensions/VRMC_materials_mtoon")
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("shadingToonyFactor");
        let (bytes, report) = prepare(glb).unwrap().unwrap();
        let new: Vec<&String> = report.filled.iter().filter(|f| !shipped.contains(f)).collect();
        assert_eq!(
            new,
            [
                "/extensions/VRMC_vrm/expressions/preset/happy/isBinary",
                "/extensions/VRMC_vrm/expressions/preset/happy/overrideMouth",
                "/materials/0/extensions/VRMC_materials_mtoon/shadingToonyFactor"
            ]
        );
        let back = parse_glb(&bytes).unwrap();
        assert_eq!(
            back.json.pointer("/materials/0/extensions/VRMC_materials_mtoon/shadingToonyFactor"),
            Some(&json!(0.9))
        );
    }

    #[test]
    fn broken_vrm0_files_are_refused_naming_the_place() {
        let mut glb = parse_glb(&to_vrm0(&default_avatar()).unwrap()).unwrap();
        glb.json["nodes"][3]["matrix"] = json!([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
        assert!(prepare(glb).unwrap_err().contains("nodes[3] has a `matrix`"));
        let mut glb = parse_glb(&to_vrm0(&default_avatar()).unwrap()).unwrap();
        glb.json["extensions"]["VRM"]["humanoid"]["humanBones"][2]["node"] = json!(100_000);
        let e = prepare(glb).unwrap_err();
        assert!(e.contains("humanBones[2]") && e.contains("100000"), "{e}");
        let mut glb = parse_glb(&to_vrm0(&default_avatar()).unwrap()).unwrap();
        glb.bin.truncate(1000);
        let e = prepare(glb).unwrap_err();
        assert!(e.contains("past the end of the BIN chunk"), "{e}");
    }
}
