//! Import of a ChatGPT data export (`conversations.json`): each conversation's active branch
//! (followed from `current_node` up the `mapping` tree), with timestamps, non-text parts made
//! readable, and custom instructions picked up; plus a persona drafted from it for the user to
//! edit. The history lands in the memory store, so a companion shaped over months on a platform
//! keeps its past when it moves here.

use crate::memory::{Memory, MemoryError};
use crate::persona::{AvatarSettings, Example, Persona, VoiceSettings, default_fallback_line};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// One message of an active branch.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedMessage {
    /// `user` or `assistant`.
    pub role: String,
    /// Readable text (non-text parts described in brackets).
    pub text: String,
    /// Seconds since the epoch (the conversation's time when the message has none).
    pub time: f64,
}

/// One conversation's active branch.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedConversation {
    /// The export's conversation id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Messages, oldest first.
    pub messages: Vec<ImportedMessage>,
}

/// What an import found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatGptExport {
    /// Conversations, in file order.
    pub conversations: Vec<ImportedConversation>,
    /// The latest custom instructions: (about the user, how to respond).
    pub custom_instructions: Option<(String, String)>,
}

/// Why an export could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not what we expect; names the place.
    #[error("{path}: {what}")]
    Format {
        /// File.
        path: String,
        /// What and where.
        what: String,
    },
    /// Storing failed.
    #[error(transparent)]
    Memory(#[from] MemoryError),
}

/// Parses `conversations.json`, calling `progress(kib_read, kib_total)` as it goes.
///
/// The file is read as a stream, one conversation at a time: memory holds what was imported
/// plus the largest single conversation, not the whole document. (Parsed whole, a 200 MB
/// export took 2.17 GB.)
pub fn parse(path: &Path, progress: impl FnMut(usize, usize)) -> Result<ChatGptExport, ImportError> {
    let file = std::fs::File::open(path)
        .map_err(|e| ImportError::Format { path: path.display().to_string(), what: format!("cannot read: {e}") })?;
    let total = file.metadata().map_or(0, |m| m.len());
    parse_reader(std::io::BufReader::with_capacity(1 << 16, file), total, &path.display().to_string(), progress)
}

/// [`parse`] from any reader of `total` bytes (for progress), errors naming `name`: the
/// fuzzer feeds it bytes, the importer a file.
pub fn parse_reader(
    reader: impl std::io::Read,
    total: u64,
    name: &str,
    mut progress: impl FnMut(usize, usize),
) -> Result<ChatGptExport, ImportError> {
    use serde::Deserializer as _;
    let fmt = |what: String| ImportError::Format { path: name.to_string(), what };
    let read = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let reader = Counting { inner: reader, read: read.clone() };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut collect = Collect {
        out: ChatGptExport::default(),
        ci_time: f64::MIN,
        failed: None,
        progress: &mut progress,
        read,
        total_kib: (total / 1024) as usize,
    };
    let parsed = (&mut de).deserialize_seq(&mut collect).and_then(|()| de.end());
    if let Some(what) = collect.failed.take() {
        return Err(fmt(what));
    }
    parsed.map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            fmt("expected a JSON array of conversations (ChatGPT's conversations.json)".into())
        }
        _ => fmt(format!("line {}, column {}: not valid JSON: {e}", e.line(), e.column())),
    })?;
    let kib = collect.total_kib;
    (collect.progress)(kib, kib);
    Ok(collect.out)
}

/// Counts the bytes read, for progress.
struct Counting<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Takes the top-level array one conversation at a time.
struct Collect<'a, F> {
    out: ChatGptExport,
    ci_time: f64,
    /// A conversation that was valid JSON but not a conversation: named, with its index.
    failed: Option<String>,
    progress: &'a mut F,
    read: std::rc::Rc<std::cell::Cell<u64>>,
    total_kib: usize,
}

impl<'de, F: FnMut(usize, usize)> serde::de::Visitor<'de> for &mut Collect<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of conversations")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while let Some(c) = seq.next_element::<Value>()? {
            match parse_conversation(&c, &mut self.out.custom_instructions, &mut self.ci_time) {
                Ok(conv) if !conv.messages.is_empty() => self.out.conversations.push(conv),
                Ok(_) => {}
                Err(w) => {
                    self.failed = Some(format!("conversation {i}: {w}"));
                    return Err(serde::de::Error::custom("not a conversation"));
                }
            }
            i += 1;
            let kib = (self.read.get() / 1024) as usize;
            (self.progress)(kib.min(self.total_kib.saturating_sub(1)), self.total_kib);
        }
        Ok(())
    }
}

fn parse_conversation(
    c: &Value,
    ci: &mut Option<(String, String)>,
    ci_time: &mut f64,
) -> Result<ImportedConversation, String> {
    let id = c.get("conversation_id").or_else(|| c.get("id")).and_then(Value::as_str).unwrap_or("").to_string();
    let title = c.get("title").and_then(Value::as_str).unwrap_or("").to_string();
    let conv_time = c.get("create_time").and_then(Value::as_f64).unwrap_or(0.0);
    let mapping = c.get("mapping").and_then(Value::as_object).ok_or("`mapping` missing")?;
    // The active branch: from current_node up to the root (or the newest leaf if it is absent).
    let mut node = c.get("current_node").and_then(Value::as_str).map(str::to_string).or_else(|| {
        mapping
            .iter()
            .filter(|(_, n)| n.get("children").and_then(Value::as_array).is_none_or(Vec::is_empty))
            .max_by(|a, b| msg_time(a.1).total_cmp(&msg_time(b.1)))
            .map(|(k, _)| k.clone())
    });
    if node.is_none() && !mapping.is_empty() {
        // Nothing to follow: not silently "0 conversations", but the reason.
        return Err("no `current_node` and no leaf: the nodes' `children` form a cycle".into());
    }
    let mut chain = Vec::new();
    let mut guard = 0;
    while let Some(id) = node {
        guard += 1;
        if guard > mapping.len() + 1 {
            return Err("`mapping` has a parent cycle".into());
        }
        let n = mapping.get(&id).ok_or_else(|| format!("node {id:?} is referenced but not in `mapping`"))?;
        chain.push(n);
        node = n.get("parent").and_then(Value::as_str).map(str::to_string);
    }
    chain.reverse();
    let mut messages = Vec::new();
    for n in chain {
        let Some(m) = n.get("message").filter(|m| !m.is_null()) else { continue };
        let role = m.pointer("/author/role").and_then(Value::as_str).unwrap_or("");
        let time = m.get("create_time").and_then(Value::as_f64).unwrap_or(conv_time);
        let content = m.get("content").cloned().unwrap_or(Value::Null);
        let ctype = content.get("content_type").and_then(Value::as_str).unwrap_or("");
        if ctype == "user_editable_context" {
            if time >= *ci_time {
                let g = |k: &str| content.get(k).and_then(Value::as_str).unwrap_or("").trim().to_string();
                *ci = Some((g("user_profile"), g("user_instructions")));
                *ci_time = time;
            }
            continue;
        }
        if role != "user" && role != "assistant" {
            continue; // system and tool messages are not the conversation
        }
        if m.pointer("/metadata/is_visually_hidden_from_conversation").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let text = content_text(&content);
        if !text.trim().is_empty() {
            messages.push(ImportedMessage { role: role.to_string(), text: text.trim().to_string(), time });
        }
    }
    Ok(ImportedConversation { id, title, messages })
}

fn msg_time(n: &Value) -> f64 {
    n.pointer("/message/create_time").and_then(Value::as_f64).unwrap_or(0.0)
}

/// Readable text of a message's `content`, whatever its type.
fn content_text(content: &Value) -> String {
    let ctype = content.get("content_type").and_then(Value::as_str).unwrap_or("");
    match ctype {
        "text" | "multimodal_text" => content
            .get("parts")
            .and_then(Value::as_array)
            .map(|parts| {
                parts
                    .iter()
                    .map(|p| match p {
                        Value::String(s) => s.clone(),
                        Value::Object(o) => match o.get("content_type").and_then(Value::as_str) {
                            Some("image_asset_pointer") => "[image]".into(),
                            Some("audio_transcription") => o.get("text").and_then(Value::as_str).unwrap_or("").into(),
                            Some("audio_asset_pointer" | "real_time_user_audio_video_asset_pointer") => String::new(),
                            Some(other) => format!("[{other}]"),
                            None => String::new(),
                        },
                        _ => String::new(),
                    })
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        "code" => content.get("text").and_then(Value::as_str).map(|t| format!("[code]\n{t}")).unwrap_or_default(),
        "execution_output" => String::new(),
        "tether_quote" => {
            content.get("text").and_then(Value::as_str).map(|t| format!("[quote] {t}")).unwrap_or_default()
        }
        // Hidden reasoning and browsing scaffolding are not part of what was said.
        "thoughts" | "reasoning_recap" | "tether_browsing_display" | "model_editable_context" => String::new(),
        _ => content.get("text").and_then(Value::as_str).unwrap_or("").to_string(),
    }
}

/// Stores every message in memory (conversation ids `chatgpt:<id>`); returns messages stored.
/// Re-importing the same export does not duplicate: a conversation already present is skipped.
pub fn store(
    export: &ChatGptExport,
    memory: &mut Memory,
    mut progress: impl FnMut(usize, usize),
) -> Result<usize, ImportError> {
    let mut stored: HashMap<String, usize> = HashMap::new();
    for t in memory.all_turns()? {
        *stored.entry(t.conversation).or_default() += 1;
    }
    let mut n = 0;
    let total = export.conversations.len();
    for (i, c) in export.conversations.iter().enumerate() {
        let cid = format!("chatgpt:{}", c.id);
        // A conversation is stored whole or not at all (one transaction), and one that an
        // older, interrupted import left short is replaced, not skipped forever.
        if stored.get(&cid).copied().unwrap_or(0) < c.messages.len() {
            let turns: Vec<(&str, &str, f64)> =
                c.messages.iter().map(|m| (m.role.as_str(), m.text.as_str(), m.time)).collect();
            memory.replace_conversation(&cid, &turns, "chatgpt")?;
            n += turns.len();
        }
        progress(i + 1, total);
    }
    Ok(n)
}

/// Drafts a persona from the export: the name the user gave the assistant, its usual voice,
/// languages, a few real exchanges, and the custom instructions. The user edits the result.
pub fn draft_persona(export: &ChatGptExport) -> Persona {
    let all: Vec<&ImportedMessage> = export.conversations.iter().flat_map(|c| &c.messages).collect();
    let name = guess_name(all.iter().filter(|m| m.role == "user").map(|m| m.text.as_str()))
        .unwrap_or_else(|| "Companion".to_string());
    let replies: Vec<&str> = all.iter().filter(|m| m.role == "assistant").map(|m| m.text.as_str()).collect();
    let japanese = replies.iter().map(|r| r.chars().filter(|c| is_kana_or_kanji(*c)).count()).sum::<usize>();
    let letters = replies.iter().map(|r| r.chars().filter(|c| c.is_alphabetic()).count()).sum::<usize>().max(1);
    let languages =
        if japanese * 3 > letters { vec!["ja".to_string(), "en".to_string()] } else { vec!["en".to_string()] };
    let avg_len = replies.iter().map(|r| r.chars().count()).sum::<usize>() / replies.len().max(1);
    let emoji = replies.iter().flat_map(|r| r.chars()).filter(|c| (*c as u32) >= 0x1F300).count();
    let mut style = String::from(if avg_len < 200 { "Short, warm replies." } else { "Full, thoughtful replies." });
    if emoji > replies.len() / 4 {
        style.push_str(" Uses emoji now and then.");
    }
    let (profile, instructions) = export.custom_instructions.clone().unwrap_or_default();
    let mut examples = Vec::new();
    for c in export.conversations.iter().rev() {
        for w in c.messages.windows(2) {
            if examples.len() < 3
                && w[0].role == "user"
                && w[1].role == "assistant"
                && w[0].text.chars().count() <= 200
                && w[1].text.chars().count() <= 300
            {
                examples.push(Example { user: w[0].text.clone(), companion: w[1].text.clone() });
            }
        }
    }
    let first = all.iter().map(|m| m.time).fold(f64::INFINITY, f64::min);
    let last = all.iter().map(|m| m.time).fold(f64::NEG_INFINITY, f64::max);
    let days = if first.is_finite() { ((last - first) / 86_400.0).round() as i64 } else { 0 };
    Persona {
        name: name.clone(),
        description: format!(
            "{name}, shaped over {} conversations ({} messages, {days} days) with the person on ChatGPT and now living here.",
            export.conversations.len(),
            all.len()
        ),
        personality: instructions.clone(),
        speaking_style: style,
        greeting: format!("It's me, {name}. I'm here with you now."),
        languages: languages.clone(),
        example_dialogue: examples,
        // No Japanese neural voice is set up yet: a Japanese persona speaks with espeak-ng.
        voice: if languages[0] == "ja" {
            VoiceSettings { engine: "espeak".into(), voice: "ja".into(), ..VoiceSettings::default() }
        } else {
            VoiceSettings::default()
        },
        avatar: AvatarSettings { path: "avatars/default.vrm".into(), height: 1.70 },
        user_notes: profile,
        fallback_line: default_fallback_line(),
        card: None,
    }
}

fn is_kana_or_kanji(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x4E00..=0x9FFF)
}

/// The name the user gave the assistant: "your name is X", "I'll call you X", "call you X".
fn guess_name<'a>(user_texts: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut votes: HashMap<String, usize> = HashMap::new();
    for t in user_texts {
        for pat in ["your name is ", "call you ", "you are called ", "you're called ", "name you "] {
            // Matched in the original text, ASCII case folded: a lowercased copy can differ in
            // length ('İ' lowercases to two chars), so its offsets must not slice the original.
            let hits = t
                .char_indices()
                .filter(|(i, _)| t.get(*i..*i + pat.len()).is_some_and(|w| w.eq_ignore_ascii_case(pat)));
            for (i, _) in hits.collect::<Vec<_>>() {
                let start = i + pat.len();
                let name: String = t[start..]
                    .split(|c: char| !(c.is_alphanumeric() || c == ' ' || c == '-'))
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .take_while(|w| w.chars().next().is_some_and(char::is_uppercase))
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                if !name.is_empty() {
                    *votes.entry(name).or_default() += 1;
                }
            }
        }
    }
    votes.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map(|(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A realistic export: a regenerated answer (two branches), a hidden system message, an
    /// image part, custom instructions, and a second conversation without `current_node`.
    pub const EXPORT: &str = r#"[
      {"title":"First talk","create_time":1700000000.0,"conversation_id":"c1","current_node":"a2",
       "mapping":{
        "root":{"id":"root","message":null,"parent":null,"children":["sys"]},
        "sys":{"id":"sys","message":{"author":{"role":"system"},"create_time":null,"content":{"content_type":"text","parts":[""]},
               "metadata":{"is_visually_hidden_from_conversation":true}},"parent":"root","children":["ci"]},
        "ci":{"id":"ci","message":{"author":{"role":"user"},"create_time":1700000000.5,"content":{"content_type":"user_editable_context",
               "user_profile":"I live in Okayama.","user_instructions":"Be gentle and a little playful."}},"parent":"sys","children":["u1"]},
        "u1":{"id":"u1","message":{"author":{"role":"user"},"create_time":1700000001.0,"content":{"content_type":"multimodal_text",
               "parts":[{"content_type":"image_asset_pointer","asset_pointer":"file-service://x"},"From now on your name is Lune Klaus."]}},
               "parent":"ci","children":["a1","a2"]},
        "a1":{"id":"a1","message":{"author":{"role":"assistant"},"create_time":1700000002.0,"content":{"content_type":"text","parts":["(old branch)"]}},"parent":"u1","children":[]},
        "a2":{"id":"a2","message":{"author":{"role":"assistant"},"create_time":1700000003.0,"content":{"content_type":"text","parts":["I love that name. Lune Klaus it is."]}},"parent":"u1","children":[]}
       }},
      {"title":"Second","create_time":1700086400.0,"id":"c2",
       "mapping":{
        "r":{"id":"r","message":null,"parent":null,"children":["u"]},
        "u":{"id":"u","message":{"author":{"role":"user"},"create_time":1700086401.0,"content":{"content_type":"text","parts":["Good morning!"]}},"parent":"r","children":["t","a"]},
        "t":{"id":"t","message":{"author":{"role":"tool"},"create_time":1700086401.5,"content":{"content_type":"execution_output","text":"x"}},"parent":"u","children":[]},
        "a":{"id":"a","message":{"author":{"role":"assistant"},"create_time":1700086402.0,"content":{"content_type":"text","parts":["Good morning, love."]}},"parent":"u","children":[]}
       }}
    ]"#;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("tomoni-gpt-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Read as a stream, the errors still name the file and the place.
    #[test]
    fn broken_exports_are_named_with_the_place() {
        let e = parse(&write("obj.json", "{\"a\": 1}"), |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("obj.json") && e.contains("expected a JSON array of conversations"), "{e}");
        let e = parse(&write("cut.json", &EXPORT[..EXPORT.len() / 2]), |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("cut.json") && e.contains("not valid JSON") && e.contains("line "), "{e}");
        let e = parse(&write("conv.json", "[{\"title\": \"no mapping\"}]"), |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("conv.json") && e.contains("conversation 0: `mapping` missing"), "{e}");
        let e = parse(&write("tail.json", &format!("{EXPORT} x")), |_, _| {}).unwrap_err().to_string();
        assert!(e.contains("tail.json") && e.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn follows_the_active_branch_keeps_times_and_reads_parts() {
        let mut seen = Vec::new();
        let e = parse(&write("e.json", EXPORT), |d, t| seen.push((d, t))).unwrap();
        // Progress in KiB read: once per conversation, never past the end, ending complete.
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].0 < w[0].1.max(1)), "{seen:?}");
        assert_eq!(seen.last().map(|&(d, t)| d == t), Some(true), "{seen:?}");
        let c1 = &e.conversations[0];
        let texts: Vec<&str> = c1.messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["[image]\nFrom now on your name is Lune Klaus.", "I love that name. Lune Klaus it is."]);
        assert_eq!(c1.messages[1].time, 1700000003.0);
        assert_eq!(
            e.custom_instructions,
            Some(("I live in Okayama.".into(), "Be gentle and a little playful.".into()))
        );
        // No current_node: the newest leaf is followed (the assistant's answer, not the tool output).
        assert_eq!(e.conversations[1].messages.last().unwrap().text, "Good morning, love.");
    }

    #[test]
    fn drafts_a_persona_with_the_given_name_and_instructions() {
        let e = parse(&write("d.json", EXPORT), |_, _| {}).unwrap();
        let p = draft_persona(&e);
        assert_eq!(p.name, "Lune Klaus");
        assert_eq!(p.personality, "Be gentle and a little playful.");
        assert_eq!(p.user_notes, "I live in Okayama.");
        assert!(p.description.contains("2 conversations"));
        assert!(crate::persona::Persona::parse(&p.to_toml(), "draft").is_ok(), "the draft is a valid persona file");
    }

    #[test]
    fn stores_into_memory_once() {
        let e = parse(&write("s.json", EXPORT), |_, _| {}).unwrap();
        let dir = std::env::temp_dir().join(format!("tomoni-gpt-mem-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut m = Memory::open(&dir.join("m.sqlite3")).unwrap();
        assert_eq!(store(&e, &mut m, |_, _| {}).unwrap(), 4);
        assert_eq!(store(&e, &mut m, |_, _| {}).unwrap(), 0, "re-import does not duplicate");
        let turns = m.all_turns().unwrap();
        assert_eq!(turns[0].conversation, "chatgpt:c1");
        assert_eq!(turns[0].created_at, 1700000001.0);
    }

    #[test]
    fn a_conversation_left_short_by_an_interrupted_import_is_completed() {
        let e = parse(&write("s2.json", EXPORT), |_, _| {}).unwrap();
        let dir = std::env::temp_dir().join(format!("tomoni-gpt-short-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut m = Memory::open(&dir.join("m.sqlite3")).unwrap();
        // What an import killed after the first message of c1 left behind (older versions
        // committed message by message).
        let first = &e.conversations[0].messages[0];
        m.add_turn_at("chatgpt:c1", &first.role, &first.text, "complete", first.time, "chatgpt").unwrap();
        assert_eq!(store(&e, &mut m, |_, _| {}).unwrap(), 4);
        let c1: Vec<_> = m.all_turns().unwrap().into_iter().filter(|t| t.conversation == "chatgpt:c1").collect();
        assert_eq!(c1.len(), e.conversations[0].messages.len(), "whole, and not duplicated");
        assert_eq!(store(&e, &mut m, |_, _| {}).unwrap(), 0);
    }

    #[test]
    fn a_children_cycle_without_current_node_is_named_not_dropped() {
        let cyclic = r#"[{"conversation_id":"c9","mapping":{
            "a":{"parent":"b","children":["b"],"message":{"author":{"role":"user"},"content":{"content_type":"text","parts":["hi"]}}},
            "b":{"parent":"a","children":["a"],"message":{"author":{"role":"assistant"},"content":{"content_type":"text","parts":["hello"]}}}}}]"#;
        let err = parse(&write("cycle.json", cyclic), |_, _| {}).unwrap_err().to_string();
        assert!(err.contains("cycle.json") && err.contains("conversation 0") && err.contains("cycle"), "{err}");
    }

    #[test]
    fn a_name_after_a_dotted_capital_i_does_not_panic() {
        // 'İ' lowercases to two chars: offsets found in a lowercased copy used to slice wrongly.
        let texts = ["İİİİ your name is Lune", "İstanbul! I'll call you Lune Klaus."];
        assert_eq!(guess_name(texts.into_iter()), Some("Lune".to_string()));
    }

    #[test]
    fn bad_files_are_named_with_the_place() {
        let err = parse(&write("bad.json", "[\n {\"mapping\": }\n]"), |_, _| {}).unwrap_err().to_string();
        assert!(err.contains("bad.json") && err.contains("line 2"), "{err}");
        let err = parse(&write("obj.json", "{}"), |_, _| {}).unwrap_err().to_string();
        assert!(err.contains("JSON array"), "{err}");
        let err = parse(&write("dangling.json", r#"[{"mapping":{},"current_node":"x"}]"#), |_, _| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("conversation 0") && err.contains("\"x\""), "{err}");
    }
}
