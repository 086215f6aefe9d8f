//! Character Card V2 and V3 (the formats SillyTavern, chub and RisuAI share), as JSON or
//! embedded in a PNG's text chunk (`chara` for V2, `ccv3` for V3, base64 JSON). Importing gives
//! a [`Persona`] the user can edit; exporting writes a V3 card that V2 readers also understand.

use crate::persona::{AvatarSettings, Example, Persona, VoiceSettings, default_fallback_line};
use base64::Engine as _;
use serde_json::{Value, json};
use std::path::Path;

/// A card that could not be read, with the file and the place.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{path}: {what}")]
pub struct CardError {
    /// The file.
    pub path: String,
    /// What is wrong and where.
    pub what: String,
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Reads a card from a `.json` or `.png` file.
pub fn import(path: &Path) -> Result<Persona, CardError> {
    let e = |what: String| CardError { path: path.display().to_string(), what };
    let bytes = std::fs::read(path).map_err(|x| e(format!("cannot read: {x}")))?;
    let json = if bytes.starts_with(&PNG_SIGNATURE) { card_json_from_png(&bytes).map_err(e)? } else { bytes };
    from_json(&json).map_err(e)
}

/// Parses card JSON (V1, V2 or V3) into a persona.
pub fn from_json(bytes: &[u8]) -> Result<Persona, String> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("line {}, column {}: not valid JSON: {e}", e.line(), e.column()))?;
    let spec = v.get("spec").and_then(Value::as_str).unwrap_or("");
    let data = match spec {
        "chara_card_v2" | "chara_card_v3" => v.get("data").ok_or(format!("`data` missing in a {spec} card"))?,
        "" => &v, // V1: flat fields
        other => return Err(format!("`spec` is {other:?}; expected chara_card_v2 or chara_card_v3")),
    };
    let s = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("").trim().to_string();
    let name = s("name");
    if name.is_empty() {
        return Err(format!("{}: `name` is missing or empty", if spec.is_empty() { "card" } else { "`data`" }));
    }
    let fill = |t: &str| t.replace("{{char}}", &name).replace("{{user}}", "you").replace("<USER>", "you");
    let mut description = fill(&s("description"));
    let scenario = fill(&s("scenario"));
    if !scenario.is_empty() {
        description = format!("{description}\n\nScenario: {scenario}").trim().to_string();
    }
    let ours = data.pointer("/extensions/tomoni");
    let voice = ours
        .and_then(|t| t.get("voice"))
        .and_then(|v| serde_json::from_value::<VoiceSettings>(v.clone()).ok())
        .unwrap_or_default();
    let avatar = ours
        .and_then(|t| t.get("avatar"))
        .and_then(|v| serde_json::from_value::<AvatarSettings>(v.clone()).ok())
        .unwrap_or(AvatarSettings { path: "avatars/default.vrm".into(), height: 1.70 });
    let languages = ours
        .and_then(|t| t.get("languages"))
        .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
        .unwrap_or_else(|| vec!["en".into()]);
    Ok(Persona {
        name: name.clone(),
        description,
        personality: fill(&s("personality")),
        speaking_style: ours.and_then(|t| t.get("speaking_style")).and_then(Value::as_str).unwrap_or("").to_string(),
        greeting: fill(&s("first_mes")),
        languages,
        example_dialogue: parse_examples(&s("mes_example"), &name),
        voice,
        avatar,
        user_notes: fill(&s("system_prompt")),
        fallback_line: default_fallback_line(),
    })
}

/// `<START>` blocks of `{{user}}: …` / `{{char}}: …` lines into example exchanges.
fn parse_examples(text: &str, name: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut user: Option<String> = None;
    for line in text.lines().map(str::trim) {
        let strip = |p: &str| line.strip_prefix(p).map(|r| r.trim().to_string());
        if let Some(u) = strip("{{user}}:").or_else(|| strip("<USER>:")) {
            user = Some(u);
        } else if let Some(c) = strip("{{char}}:").or_else(|| strip("<BOT>:")).or_else(|| strip(&format!("{name}:")))
            && let Some(u) = user.take()
        {
            out.push(Example { user: u, companion: c });
        }
    }
    out
}

/// The card JSON (V3 preferred) from a PNG's `ccv3` or `chara` text chunk.
pub fn card_json_from_png(png: &[u8]) -> Result<Vec<u8>, String> {
    let mut found: Option<(String, usize, Vec<u8>)> = None;
    for chunk in png_chunks(png)? {
        let (kind, offset, data) = chunk;
        let text = match kind.as_str() {
            "tEXt" => data.split(|&b| b == 0).nth(1).map(<[u8]>::to_vec),
            "iTXt" => itxt_text(&data),
            _ => None,
        };
        let keyword: Vec<u8> = data.iter().take_while(|&&b| b != 0).copied().collect();
        let keyword = String::from_utf8_lossy(&keyword).to_lowercase();
        if let Some(t) = text
            && (keyword == "ccv3" || (keyword == "chara" && found.is_none()))
        {
            found = Some((keyword, offset, t));
        }
    }
    let (keyword, offset, b64) = found.ok_or("PNG has no character card (no `chara` or `ccv3` text chunk)")?;
    let clean: Vec<u8> = b64.into_iter().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&clean)
        .map_err(|e| format!("`{keyword}` text chunk at byte {offset}: not valid base64 ({e})"))
}

fn itxt_text(data: &[u8]) -> Option<Vec<u8>> {
    // keyword\0 compression_flag compression_method language\0 translated\0 text
    let mut parts = data.splitn(2, |&b| b == 0);
    parts.next()?;
    let rest = parts.next()?;
    if rest.first().copied()? != 0 {
        return None; // compressed iTXt: not used by card tools
    }
    let rest = rest.get(2..)?;
    let mut it = rest.splitn(3, |&b| b == 0);
    it.next()?;
    it.next()?;
    it.next().map(<[u8]>::to_vec)
}

/// (type, byte offset, data) of each chunk, checking lengths so a truncated file is named so.
fn png_chunks(png: &[u8]) -> Result<Vec<(String, usize, Vec<u8>)>, String> {
    if !png.starts_with(&PNG_SIGNATURE) {
        return Err("not a PNG file".into());
    }
    let mut out = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]) as usize;
        let kind = String::from_utf8_lossy(&png[at + 4..at + 8]).into_owned();
        let end = at + 12 + len;
        if end > png.len() {
            return Err(format!("chunk `{kind}` at byte {at} runs past the end of the file (truncated PNG)"));
        }
        out.push((kind.clone(), at, png[at + 8..at + 8 + len].to_vec()));
        at = end;
        if kind == "IEND" {
            return Ok(out);
        }
    }
    Err(format!("the file ends at byte {} without an IEND chunk (truncated PNG)", png.len()))
}

/// The persona as Character Card V3 JSON (V2-compatible fields, our extras under
/// `data.extensions.tomoni`).
pub fn to_v3_json(p: &Persona) -> Value {
    json!({
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": card_data(p),
    })
}

/// The same data as a V2 card (for the `chara` chunk older readers look at).
pub fn to_v2_json(p: &Persona) -> Value {
    json!({ "spec": "chara_card_v2", "spec_version": "2.0", "data": card_data(p) })
}

fn card_data(p: &Persona) -> Value {
    let mes_example: String = p
        .example_dialogue
        .iter()
        .map(|e| format!("<START>\n{{{{user}}}}: {}\n{{{{char}}}}: {}\n", e.user, e.companion))
        .collect();
    json!({
        "name": p.name,
        "description": p.description,
        "personality": p.personality,
        "scenario": "",
        "first_mes": p.greeting,
        "mes_example": mes_example,
        "creator_notes": "Exported by tomoni.",
        "system_prompt": p.user_notes,
        "post_history_instructions": "",
        "alternate_greetings": [],
        "group_only_greetings": [],
        "tags": ["companion"],
        "creator": "",
        "character_version": "1",
        "extensions": { "tomoni": {
            "speaking_style": p.speaking_style,
            "languages": p.languages,
            "voice": p.voice,
            "avatar": p.avatar,
        }},
    })
}

/// Writes a card: `.json` as V3 JSON; `.png` with both `ccv3` and `chara` chunks, into
/// `image` (a PNG to carry it) or a small plain picture.
pub fn export(p: &Persona, out: &Path, image: Option<&[u8]>) -> Result<(), CardError> {
    let e = |what: String| CardError { path: out.display().to_string(), what };
    let is_png = out.extension().is_some_and(|x| x.eq_ignore_ascii_case("png"));
    let bytes = if is_png {
        let base = match image {
            Some(b) => b.to_vec(),
            None => plain_png(),
        };
        let b64 = |v: &Value| base64::engine::general_purpose::STANDARD.encode(v.to_string());
        embed_text_chunks(&base, &[("ccv3", b64(&to_v3_json(p))), ("chara", b64(&to_v2_json(p)))]).map_err(e)?
    } else {
        serde_json::to_vec_pretty(&to_v3_json(p)).map_err(|x| e(x.to_string()))?
    };
    std::fs::write(out, bytes).map_err(|x| e(format!("cannot write: {x}")))
}

/// Inserts tEXt chunks before IEND, replacing earlier card chunks.
pub fn embed_text_chunks(png: &[u8], chunks: &[(&str, String)]) -> Result<Vec<u8>, String> {
    let mut out = PNG_SIGNATURE.to_vec();
    for (kind, _, data) in png_chunks(png)? {
        let key: Vec<u8> = data.iter().take_while(|&&b| b != 0).copied().collect();
        let is_card = (kind == "tEXt" || kind == "iTXt") && (key == b"chara" || key == b"ccv3");
        if is_card {
            continue;
        }
        if kind == "IEND" {
            for (k, text) in chunks {
                let mut d = k.as_bytes().to_vec();
                d.push(0);
                d.extend_from_slice(text.as_bytes());
                write_chunk(&mut out, b"tEXt", &d);
            }
        }
        write_chunk(&mut out, kind.as_bytes(), &data);
    }
    Ok(out)
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(data);
    out.extend_from_slice(&h.finalize().to_be_bytes());
}

/// A 64×64 soft-rose picture to carry a card when no image is given.
fn plain_png() -> Vec<u8> {
    let mut buf = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut buf, 64, 64);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        if let Ok(mut w) = enc.write_header() {
            let data: Vec<u8> = (0..64 * 64).flat_map(|i| [230u8, 190, (180 + (i % 64) / 2) as u8]).collect();
            let _ = w.write_image_data(&data);
        }
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = r#"{"spec":"chara_card_v2","spec_version":"2.0","data":{"name":"Lune","description":"{{char}} is gentle.",
        "personality":"kind","scenario":"At home with {{user}}.","first_mes":"Hello, {{user}}.",
        "mes_example":"<START>\n{{user}}: Hi\n{{char}}: Hi there!\n","system_prompt":"Be brief.","extensions":{}}}"#;

    #[test]
    fn v2_json_imports_with_placeholders_filled() {
        let p = from_json(V2.as_bytes()).unwrap();
        assert_eq!(p.name, "Lune");
        assert_eq!(p.description, "Lune is gentle.\n\nScenario: At home with you.");
        assert_eq!(p.greeting, "Hello, you.");
        assert_eq!(p.example_dialogue, [Example { user: "Hi".into(), companion: "Hi there!".into() }]);
        assert_eq!(p.user_notes, "Be brief.");
    }

    #[test]
    fn v1_flat_cards_import() {
        let p = from_json(br#"{"name":"Old","description":"d","first_mes":"hi"}"#).unwrap();
        assert_eq!((p.name.as_str(), p.greeting.as_str()), ("Old", "hi"));
    }

    #[test]
    fn errors_name_the_place() {
        assert!(
            from_json(b"{\n\"spec\": \"chara_card_v2\",\n \"data\": {\"name\": }\n}").unwrap_err().contains("line 3")
        );
        assert!(from_json(br#"{"spec":"chara_card_v2","data":{}}"#).unwrap_err().contains("`name`"));
        assert!(from_json(br#"{"spec":"chara_card_v9","data":{}}"#).unwrap_err().contains("chara_card_v9"));
    }

    #[test]
    fn png_round_trip_v3_preferred_and_v2_readable() {
        let mut p = Persona::default_persona();
        p.name = "Lune Klaus".into();
        p.voice.voice = "ja".into();
        let dir = std::env::temp_dir().join(format!("tomoni-card-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("lune.png");
        export(&p, &out, None).unwrap();
        let back = import(&out).unwrap();
        assert_eq!(back, p, "a tomoni card round-trips exactly");
        // A V2-only reader looks at `chara`:
        let bytes = std::fs::read(&out).unwrap();
        let mut v2_only = Vec::new();
        for (kind, _, data) in png_chunks(&bytes).unwrap() {
            if kind == "tEXt" && data.starts_with(b"chara\0") {
                v2_only = data[6..].to_vec();
            }
        }
        let v2: Value =
            serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(v2_only).unwrap()).unwrap();
        assert_eq!(v2["spec"], "chara_card_v2");
        assert_eq!(v2["data"]["name"], "Lune Klaus");
        // The picture still decodes.
        let dec = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
        assert_eq!(dec.info().width, 64);
    }

    #[test]
    fn broken_pngs_are_named() {
        let png = embed_text_chunks(&plain_png(), &[("chara", "!!!not base64!!!".into())]).unwrap();
        assert!(card_json_from_png(&png).unwrap_err().contains("not valid base64"));
        let truncated = &plain_png()[..40];
        assert!(card_json_from_png(truncated).unwrap_err().contains("truncated"));
        assert!(card_json_from_png(&plain_png()).unwrap_err().contains("no character card"));
    }
}
