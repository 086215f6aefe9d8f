//! Binary glTF (`.vrm`) files split into their JSON document and BIN chunk, and joined again:
//! the one reader the check ([`crate::vrm_check`]) and the VRM 0.x migration ([`crate::vrm0`])
//! share, with errors that say where a file is broken.

use serde_json::{Value, json};

/// A binary glTF split into its JSON document and its BIN chunk.
#[derive(Debug, Clone)]
pub struct Glb {
    /// The JSON chunk.
    pub json: Value,
    /// The BIN chunk (empty when there is none).
    pub bin: Vec<u8>,
}

/// The elements of array field `key` of a glTF JSON object (none when it is missing or not an
/// array: the spec's optional lists).
pub(crate) fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Every expression of a `VRMC_vrm` (or `VRMC_vrm_animation`) extension object, as
/// (group, name, entry): the presets, then the custom ones.
pub(crate) fn expressions(ext: &Value) -> impl Iterator<Item = (&'static str, &String, &Value)> {
    ["preset", "custom"].into_iter().flat_map(move |group| {
        let map = ext.get("expressions").and_then(|e| e.get(group)).and_then(Value::as_object);
        map.into_iter().flatten().map(move |(name, e)| (group, name, e))
    })
}

/// A binary glTF's JSON document and its BIN chunk (`None`: there is none), each checked
/// against the file, with errors that say where. The one GLB reader: the check and the 0.x
/// migration both use it.
pub fn parts(bytes: &[u8]) -> Result<(Value, Option<&[u8]>), String> {
    let json = json_chunk(bytes)?;
    let doc: Value = serde_json::from_slice(json)
        .map_err(|e| format!("glTF JSON chunk is not valid JSON at line {}, column {}: {e}", e.line(), e.column()))?;
    Ok((doc, bin_chunk(bytes, json.len())?))
}

/// The BIN chunk that follows the JSON chunk (`None`: there is none), checked against the
/// file's real length.
fn bin_chunk(bytes: &[u8], json_len: usize) -> Result<Option<&[u8]>, String> {
    let at = 20 + json_len.next_multiple_of(4);
    if at + 8 > bytes.len() {
        return Ok(None);
    }
    let u32_at = |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    let len = u32_at(at) as usize;
    if u32_at(at + 4) != 0x004E_4942 {
        return Err(format!("the chunk at byte {at} is not the BIN chunk"));
    }
    if at + 8 + len > bytes.len() {
        return Err(format!(
            "the BIN chunk at byte {at} says {len} bytes, but the file ends {} bytes later: truncated or corrupt",
            bytes.len() - at - 8
        ));
    }
    Ok(Some(&bytes[at + 8..at + 8 + len]))
}

/// The JSON chunk of a binary glTF.
fn json_chunk(bytes: &[u8]) -> Result<&[u8], String> {
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

/// Splits a `.vrm` (binary glTF) into JSON and BIN, checked by [`parts`].
pub fn parse_glb(bytes: &[u8]) -> Result<Glb, String> {
    let (json, bin) = parts(bytes)?;
    Ok(Glb { json, bin: bin.map(<[u8]>::to_vec).unwrap_or_default() })
}

/// Joins JSON and BIN into a binary glTF, the buffer's length set to the BIN chunk's.
pub fn write_glb(glb: &Glb) -> Vec<u8> {
    let mut doc = glb.json.clone();
    if !glb.bin.is_empty()
        && let Some(b) = doc.pointer_mut("/buffers/0")
    {
        b["byteLength"] = json!(glb.bin.len());
    }
    let mut j = serde_json::to_vec(&doc).unwrap_or_default();
    j.resize(j.len().next_multiple_of(4), b' ');
    let mut bin = glb.bin.clone();
    bin.resize(bin.len().next_multiple_of(4), 0);
    let total = 12 + 8 + j.len() + if bin.is_empty() { 0 } else { 8 + bin.len() };
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(j.len() as u32).to_le_bytes());
    out.extend_from_slice(&0x4E4F_534Au32.to_le_bytes());
    out.extend_from_slice(&j);
    if !bin.is_empty() {
        out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
        out.extend_from_slice(&0x004E_4942u32.to_le_bytes());
        out.extend_from_slice(&bin);
    }
    out
}
