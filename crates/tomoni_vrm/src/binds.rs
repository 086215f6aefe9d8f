//! The expression binds that act on materials, not meshes: `materialColorBinds` and
//! `textureTransformBinds` (VRM 1.0 `VRMC_vrm.expressions`). bevy_vrm1 drives only morph
//! targets, so an expression made of these (an anime blush, eyes swapped by a texture offset,
//! most of a 0.x file's material-value binds) did nothing in tomoni.
//!
//! Read here as *deltas* from the material's own value in the file, the way three-vrm (the
//! reference implementation) applies them: at weight `w`, a property is
//! `initial + Σ w · (target − initial)` over the expressions that bind it, and a texture's
//! offset and scale likewise.

use serde_json::Value;

/// The MToon (or glTF) property a colour bind moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColorKind {
    /// `baseColorFactor` (its alpha too).
    Color,
    /// `emissiveFactor`.
    EmissionColor,
    /// MToon `shadeColorFactor`.
    ShadeColor,
    /// MToon `matcapFactor`.
    MatcapColor,
    /// MToon `parametricRimColorFactor`.
    RimColor,
    /// MToon `outlineColorFactor`.
    OutlineColor,
}

/// One colour bind: how far weight 1 moves the property of glTF material `material`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorBind {
    /// glTF material index.
    pub material: usize,
    /// Which property.
    pub kind: ColorKind,
    /// `target − initial`, linear RGBA (alpha moves only for [`ColorKind::Color`]).
    pub delta: [f32; 4],
}

/// One texture-transform bind: how far weight 1 moves material `material`'s textures' UV
/// offset and scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransformBind {
    /// glTF material index.
    pub material: usize,
    /// `target scale − initial scale`.
    pub scale: [f32; 2],
    /// `target offset − initial offset`.
    pub offset: [f32; 2],
}

/// The material binds of one expression (only expressions that have any are listed).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpressionBinds {
    /// The expression's name (preset or custom).
    pub name: String,
    /// Its colour binds.
    pub colors: Vec<ColorBind>,
    /// Its texture-transform binds.
    pub transforms: Vec<TransformBind>,
}

fn floats<const N: usize>(v: Option<&Value>, default: [f32; N]) -> [f32; N] {
    let mut out = default;
    if let Some(a) = v.and_then(Value::as_array) {
        for (o, x) in out.iter_mut().zip(a) {
            *o = x.as_f64().map_or(*o, |f| f as f32);
        }
    }
    out
}

/// A material's current value of `kind` in the file, with the spec's default where absent.
fn initial(material: &Value, kind: ColorKind) -> [f32; 4] {
    let mtoon = material.pointer("/extensions/VRMC_materials_mtoon");
    let rgb = |v: Option<&Value>, d: [f32; 3]| {
        let c = floats(v, d);
        [c[0], c[1], c[2], 1.0]
    };
    match kind {
        ColorKind::Color => floats(material.pointer("/pbrMetallicRoughness/baseColorFactor"), [1.0; 4]),
        ColorKind::EmissionColor => rgb(material.get("emissiveFactor"), [0.0; 3]),
        ColorKind::ShadeColor => rgb(mtoon.and_then(|m| m.get("shadeColorFactor")), [0.0; 3]),
        ColorKind::MatcapColor => rgb(mtoon.and_then(|m| m.get("matcapFactor")), [1.0; 3]),
        ColorKind::RimColor => rgb(mtoon.and_then(|m| m.get("parametricRimColorFactor")), [0.0; 3]),
        ColorKind::OutlineColor => rgb(mtoon.and_then(|m| m.get("outlineColorFactor")), [0.0; 3]),
    }
}

/// The base colour texture's `KHR_texture_transform` (offset, scale), else identity.
fn initial_transform(material: &Value) -> ([f32; 2], [f32; 2]) {
    let t = material.pointer("/pbrMetallicRoughness/baseColorTexture/extensions/KHR_texture_transform");
    (floats(t.and_then(|t| t.get("offset")), [0.0; 2]), floats(t.and_then(|t| t.get("scale")), [1.0; 2]))
}

/// The material binds of every expression in a VRM 1.0 document. A bind naming a material
/// the file does not have, or a type the spec does not define, is an error naming its place.
pub fn read(doc: &Value) -> Result<Vec<ExpressionBinds>, String> {
    let materials = crate::glb::items(doc, "materials");
    let mut out = Vec::new();
    let Some(vrm) = doc.pointer("/extensions/VRMC_vrm") else { return Ok(out) };
    for (group, name, e) in crate::glb::expressions(vrm) {
        let at = |what: &str, i: usize| format!("VRMC_vrm.expressions.{group}.{name}.{what}[{i}]");
        let material = |b: &Value, what: &str, i: usize| {
            let m = b.get("material").and_then(Value::as_u64).ok_or_else(|| format!("{}: no material", at(what, i)))?
                as usize;
            materials.get(m).map(|v| (m, v)).ok_or_else(|| {
                format!("{}: material {m} does not exist (the file has {})", at(what, i), materials.len())
            })
        };
        let mut colors = Vec::new();
        for (i, b) in crate::glb::items(e, "materialColorBinds").iter().enumerate() {
            let (m, mat) = material(b, "materialColorBinds", i)?;
            let kind = match b.get("type").and_then(Value::as_str) {
                Some("color") => ColorKind::Color,
                Some("emissionColor") => ColorKind::EmissionColor,
                Some("shadeColor") => ColorKind::ShadeColor,
                Some("matcapColor") => ColorKind::MatcapColor,
                Some("rimColor") => ColorKind::RimColor,
                Some("outlineColor") => ColorKind::OutlineColor,
                other => return Err(format!("{}: unknown type {other:?}", at("materialColorBinds", i))),
            };
            let from = initial(mat, kind);
            let to = floats(b.get("targetValue"), from);
            let mut delta = [0.0; 4];
            for k in 0..4 {
                delta[k] = to[k] - from[k];
            }
            if kind != ColorKind::Color {
                delta[3] = 0.0;
            }
            colors.push(ColorBind { material: m, kind, delta });
        }
        let mut transforms = Vec::new();
        for (i, b) in crate::glb::items(e, "textureTransformBinds").iter().enumerate() {
            let (m, mat) = material(b, "textureTransformBinds", i)?;
            let (offset0, scale0) = initial_transform(mat);
            let (offset, scale) = (floats(b.get("offset"), [0.0; 2]), floats(b.get("scale"), [1.0; 2]));
            transforms.push(TransformBind {
                material: m,
                scale: [scale[0] - scale0[0], scale[1] - scale0[1]],
                offset: [offset[0] - offset0[0], offset[1] - offset0[1]],
            });
        }
        if !colors.is_empty() || !transforms.is_empty() {
            out.push(ExpressionBinds { name: name.clone(), colors, transforms });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(expressions: Value) -> Value {
        json!({
            "materials": [
                {"name": "skin", "pbrMetallicRoughness": {"baseColorFactor": [0.8, 0.6, 0.5, 1.0]},
                 "extensions": {"VRMC_materials_mtoon": {"shadeColorFactor": [0.4, 0.2, 0.2]}}},
                {"name": "eyes", "pbrMetallicRoughness": {"baseColorTexture": {"index": 0,
                  "extensions": {"KHR_texture_transform": {"offset": [0.0, 0.5], "scale": [0.5, 0.5]}}}}}
            ],
            "extensions": {"VRMC_vrm": {"expressions": expressions}}
        })
    }

    /// Deltas from the file's own values (three-vrm's rule), the spec's defaults where a
    /// value is absent, alpha only for `color`; expressions without material binds left out.
    #[test]
    fn binds_are_read_as_deltas_from_the_materials_values() {
        let d = doc(json!({
            "preset": {
                "angry": {"materialColorBinds": [
                    {"material": 0, "type": "color", "targetValue": [1.0, 0.4, 0.4, 1.0]},
                    {"material": 0, "type": "shadeColor", "targetValue": [0.6, 0.1, 0.1, 0.5]},
                    {"material": 1, "type": "rimColor", "targetValue": [0.2, 0.2, 0.2, 1.0]}
                ]},
                "aa": {"morphTargetBinds": []}
            },
            "custom": {"eyes_x": {"textureTransformBinds": [{"material": 1, "offset": [0.5, 0.5]}]}}
        }));
        let b = read(&d).unwrap();
        assert_eq!(b.len(), 2, "{b:?}");
        let angry = b.iter().find(|e| e.name == "angry").unwrap();
        let close = |a: [f32; 4], e: [f32; 4]| a.iter().zip(e).all(|(x, y)| (x - y).abs() < 1e-6);
        assert!(close(angry.colors[0].delta, [0.2, -0.2, -0.1, 0.0]), "{:?}", angry.colors[0]);
        assert!(
            close(angry.colors[1].delta, [0.2, -0.1, -0.1, 0.0]),
            "shade alpha must not move: {:?}",
            angry.colors[1]
        );
        assert!(
            close(angry.colors[2].delta, [0.2, 0.2, 0.2, 0.0]),
            "rim from its default black: {:?}",
            angry.colors[2]
        );
        let eyes = b.iter().find(|e| e.name == "eyes_x").unwrap();
        // From the texture's own transform; the bind's missing scale is the spec's (1, 1).
        assert_eq!(eyes.transforms[0], TransformBind { material: 1, scale: [0.5, 0.5], offset: [0.5, 0.0] });
    }

    #[test]
    fn a_bind_to_a_missing_material_or_of_an_unknown_type_names_its_place() {
        let e = read(&doc(json!({"preset": {"happy": {"materialColorBinds": [{"material": 7, "type": "color"}]}}})))
            .unwrap_err();
        assert!(
            e.contains("VRMC_vrm.expressions.preset.happy.materialColorBinds[0]") && e.contains("material 7"),
            "{e}"
        );
        let e = read(&doc(json!({"custom": {"x": {"materialColorBinds": [{"material": 0, "type": "glow"}]}}})))
            .unwrap_err();
        assert!(e.contains("custom.x.materialColorBinds[0]") && e.contains("glow"), "{e}");
    }
}
