//! Character Card V2 and V3 (the formats SillyTavern, chub and RisuAI share), as JSON or
//! embedded in a PNG's text chunk (`chara` for V2, `ccv3` for V3, base64 JSON). Importing gives
//! a [`Persona`] the user can edit; exporting writes a V3 card that V2 readers also understand.

use crate::persona::{AvatarSettings, CardExtras, Example, Persona, VoiceSettings, default_fallback_line};
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

/// The largest card file read: a card is text, or text in a picture of a few MB.
pub const MAX_CARD_BYTES: u64 = 32 << 20;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Reads a card from a `.json` or `.png` file. The persona it gives passes the same checks
/// as a persona file (so tomoni will load what the import wrote).
pub fn import(path: &Path) -> Result<Persona, CardError> {
    let e = |what: String| CardError { path: path.display().to_string(), what };
    let size = std::fs::metadata(path).map_err(|x| e(format!("cannot read: {x}")))?.len();
    if size > MAX_CARD_BYTES {
        return Err(e(format!("{size} bytes; a card is at most {} MiB", MAX_CARD_BYTES >> 20)));
    }
    let bytes = std::fs::read(path).map_err(|x| e(format!("cannot read: {x}")))?;
    let json = if bytes.starts_with(&PNG_SIGNATURE) { card_json_from_png(&bytes).map_err(e)? } else { bytes };
    let p = from_json(&json).map_err(e)?;
    Persona::parse(&p.to_toml(), "the imported persona")
        .map_err(|x| e(format!("data.extensions.tomoni: {}", x.message)))?;
    Ok(p)
}

/// What a card carried that tomoni keeps but does not use yet, in words (for the import's
/// report).
pub fn kept_unused(p: &Persona) -> Vec<String> {
    let Some(c) = &p.card else { return Vec::new() };
    let mut out = Vec::new();
    if !c.character_book_json.is_empty() {
        out.push("a lorebook (character_book)".to_string());
    }
    if !c.alternate_greetings.is_empty() {
        out.push(format!("{} alternate greetings", c.alternate_greetings.len()));
    }
    if !c.post_history_instructions.is_empty() {
        out.push("post-history instructions".to_string());
    }
    if !c.creator_notes.is_empty() {
        out.push("creator notes".to_string());
    }
    if !c.extensions_json.is_empty() {
        out.push("other applications' extensions".to_string());
    }
    out
}

/// A typed `extensions.tomoni` field: absent is the default; present but wrong is an error
/// naming it.
fn ours<T: serde::de::DeserializeOwned>(tomoni: Option<&Value>, key: &str) -> Result<Option<T>, String> {
    match tomoni.and_then(|t| t.get(key)) {
        None => Ok(None),
        Some(v) => {
            serde_json::from_value(v.clone()).map(Some).map_err(|e| format!("data.extensions.tomoni.{key}: {e}"))
        }
    }
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
    let tomoni = data.pointer("/extensions/tomoni");
    if tomoni.is_some_and(|t| !t.is_object()) {
        return Err("data.extensions.tomoni: expected an object".into());
    }
    let voice: VoiceSettings = ours(tomoni, "voice")?.unwrap_or_default();
    let avatar: AvatarSettings = ours(tomoni, "avatar")?.unwrap_or(AvatarSettings {
        path: "avatars/default.vrm".into(),
        height: 1.70,
        outfit: None,
    });
    let languages: Vec<String> = ours(tomoni, "languages")?.unwrap_or_else(|| vec!["en".into()]);
    let speaking_style: String = ours(tomoni, "speaking_style")?.unwrap_or_default();
    let strings = |k: &str| -> Vec<String> {
        data.get(k).and_then(Value::as_array).map_or_else(Vec::new, |a| {
            a.iter().filter_map(Value::as_str).map(str::to_string).filter(|g| !g.trim().is_empty()).collect()
        })
    };
    let mut others = data.get("extensions").and_then(Value::as_object).cloned().unwrap_or_default();
    others.remove("tomoni");
    let book = data.get("character_book").filter(|b| !b.is_null());
    let extras = CardExtras {
        creator: s("creator"),
        tags: strings("tags"),
        creator_notes: s("creator_notes"),
        character_version: s("character_version"),
        alternate_greetings: strings("alternate_greetings"),
        post_history_instructions: s("post_history_instructions"),
        character_book_json: book.map(Value::to_string).unwrap_or_default(),
        extensions_json: if others.is_empty() { String::new() } else { Value::Object(others).to_string() },
    };
    Ok(Persona {
        name: name.clone(),
        description,
        personality: fill(&s("personality")),
        speaking_style,
        greeting: fill(&s("first_mes")),
        languages,
        example_dialogue: parse_examples(&s("mes_example"), &name),
        voice,
        avatar,
        user_notes: fill(&s("system_prompt")),
        fallback_line: default_fallback_line(),
        card: (extras != CardExtras::default()).then_some(extras),
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
    // What the card brought in comes back out: author, tags, lorebook, other apps' data.
    let c = p.card.clone().unwrap_or_default();
    let mut extensions = serde_json::from_str::<serde_json::Map<String, Value>>(&c.extensions_json).unwrap_or_default();
    extensions.insert(
        "tomoni".into(),
        json!({
            "speaking_style": p.speaking_style,
            "languages": p.languages,
            "voice": p.voice,
            "avatar": p.avatar,
        }),
    );
    let book = serde_json::from_str::<Value>(&c.character_book_json).ok();
    let mut data = json!({
        "name": p.name,
        "description": p.description,
        "personality": p.personality,
        "scenario": "",
        "first_mes": p.greeting,
        "mes_example": mes_example,
        "creator_notes": c.creator_notes,
        "system_prompt": p.user_notes,
        "post_history_instructions": c.post_history_instructions,
        "alternate_greetings": c.alternate_greetings,
        "group_only_greetings": [],
        "tags": c.tags,
        "creator": c.creator,
        "character_version": c.character_version,
        "extensions": Value::Object(extensions),
    });
    if let Some(b) = book {
        data["character_book"] = b;
    }
    data
}

/// Writes a card: `.json` as V3 JSON; `.png` with both `ccv3` and `chara` chunks, into
/// `image` (a PNG to carry it) or a small plain picture.
pub fn export(p: &Persona, out: &Path, image: Option<&[u8]>) -> Result<(), CardError> {
    let e = |what: String| CardError { path: out.display().to_string(), what };
    if out.exists() {
        return Err(e("exists; choose another file (nothing was overwritten)".into()));
    }
    let is_png = out.extension().is_some_and(|x| x.eq_ignore_ascii_case("png"));
    let bytes = if is_png {
        let base = match image {
            Some(b) => b.to_vec(),
            None => plain_png(),
        };
        let b64 = |v: &Value| base64::engine::general_purpose::STANDARD.encode(v.to_string());
        // A broken picture is the picture's fault: say so (the caller names its file).
        embed_text_chunks(&base, &[("ccv3", b64(&to_v3_json(p))), ("chara", b64(&to_v2_json(p)))])
            .map_err(|x| CardError { path: "the --image picture".into(), what: x })?
    } else {
        serde_json::to_vec_pretty(&to_v3_json(p)).map_err(|x| e(x.to_string()))?
    };
    crate::private::write_new(out, bytes).map_err(|x| match x.kind() {
        std::io::ErrorKind::AlreadyExists => e("exists; choose another file (nothing was overwritten)".into()),
        _ => e(format!("cannot write: {x}")),
    })
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

    fn card_with(tomoni: &str, more: &str) -> Vec<u8> {
        format!(
            r#"{{"spec":"chara_card_v3","spec_version":"3.0","data":{{"name":"Lune","first_mes":"Hi.","creator":"mika",
            "tags":["gentle","ja"],"creator_notes":"Be kind to him.","alternate_greetings":["Good morning.","Okaeri."],
            "post_history_instructions":"Stay in character.","character_book":{{"entries":[{{"keys":["Okayama"],"content":"Her home."}}]}},
            "extensions":{{"tomoni":{tomoni},"depth_prompt":{{"depth":4}}}}{more}}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_bad_tomoni_block_is_an_error_naming_the_field() {
        for (block, field) in [
            (r#"{"voice":{"engine":"espeak","rate":"fast"}}"#, "data.extensions.tomoni.voice"),
            (r#"{"voice":{"pitch":-3}}"#, "data.extensions.tomoni.voice"),
            (r#"{"avatar":{"path":"a.vrm"}}"#, "data.extensions.tomoni.avatar"),
            (r#"{"languages":"en"}"#, "data.extensions.tomoni.languages"),
            (r#""yes""#, "data.extensions.tomoni"),
        ] {
            let e = from_json(&card_with(block, "")).unwrap_err();
            assert!(e.starts_with(field), "{block}: {e}");
        }
        // Well-typed but unusable (a voice tomoni would refuse to load): refused at import.
        let dir = std::env::temp_dir().join(format!("tomoni-card-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.json");
        std::fs::write(&f, card_with(r#"{"voice":{"engine":"sapi"}}"#, "")).unwrap();
        let e = import(&f).unwrap_err().to_string();
        assert!(e.contains("bad.json") && e.contains("engine"), "{e}");
    }

    #[test]
    fn what_tomoni_does_not_use_is_kept_and_exported_back() {
        let p = from_json(&card_with(r#"{"speaking_style":"Soft."}"#, "")).unwrap();
        let kept = kept_unused(&p);
        assert_eq!(kept.len(), 5, "{kept:?}");
        // Through the persona file and back out as a card.
        let p = Persona::parse(&p.to_toml(), "x").unwrap();
        let v = to_v3_json(&p);
        let d = &v["data"];
        assert_eq!(d["creator"], "mika");
        assert_eq!(d["tags"], json!(["gentle", "ja"]));
        assert_eq!(d["alternate_greetings"][1], "Okaeri.");
        assert_eq!(d["post_history_instructions"], "Stay in character.");
        assert_eq!(d["creator_notes"], "Be kind to him.");
        assert_eq!(d["character_book"]["entries"][0]["content"], "Her home.");
        assert_eq!(d["extensions"]["depth_prompt"]["depth"], 4);
        assert_eq!(d["extensions"]["tomoni"]["speaking_style"], "Soft.");
    }

    #[test]
    fn export_never_overwrites() {
        let dir = std::env::temp_dir().join(format!("tomoni-card-over-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("mine.json");
        std::fs::write(&f, "my own file").unwrap();
        let e = export(&Persona::default_persona(), &f, None).unwrap_err().to_string();
        assert!(e.contains("mine.json") && e.contains("nothing was overwritten"), "{e}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "my own file");
    }

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
