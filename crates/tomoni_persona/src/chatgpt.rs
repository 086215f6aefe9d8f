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

/// Parses `conversations.json` whole, calling `progress(kib_read, kib_total)` as it goes
/// (tests and small files; an import streams with [`import`], which never holds the export).
pub fn parse(path: &Path, progress: impl FnMut(usize, usize)) -> Result<ChatGptExport, ImportError> {
    let (file, total) = open(path)?;
    parse_reader(file, total, &path.display().to_string(), progress)
}

fn open(path: &Path) -> Result<(impl std::io::Read, u64), ImportError> {
    let file = std::fs::File::open(path)
        .map_err(|e| ImportError::Format { path: path.display().to_string(), what: format!("cannot read: {e}") })?;
    let total = file.metadata().map_or(0, |m| m.len());
    Ok((std::io::BufReader::with_capacity(1 << 16, file), total))
}

/// [`parse`] from any reader of `total` bytes (for progress), errors naming `name`: the
/// fuzzer feeds it bytes.
pub fn parse_reader(
    reader: impl std::io::Read,
    total: u64,
    name: &str,
    progress: impl FnMut(usize, usize),
) -> Result<ChatGptExport, ImportError> {
    let mut conversations = Vec::new();
    let custom_instructions = for_each_conversation(reader, total, name, progress, |c| {
        conversations.push(c);
        Ok(())
    })?;
    Ok(ChatGptExport { conversations, custom_instructions })
}

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    /// Messages stored (conversations already stored whole are skipped).
    pub stored: usize,
    /// Conversations read.
    pub conversations: usize,
    /// The persona drafted from everything read.
    pub draft: Draft,
}

/// Imports `conversations.json` into `memory` as it is read: each conversation is stored (one
/// transaction) and folded into the persona draft as soon as it is parsed, so memory holds the
/// largest single conversation, never the export (a 200 MB export held 1.6 GB parsed whole,
/// and 235 MB while its text waited to be stored). Re-importing skips what is already stored;
/// a file broken midway keeps the conversations before the break, and says so.
pub fn import(path: &Path, memory: &mut Memory, progress: impl FnMut(usize, usize)) -> Result<Imported, ImportError> {
    let (file, total) = open(path)?;
    let name = path.display().to_string();
    let (mut stored, mut conversations, mut draft) = (0, 0, Draft::default());
    let read = for_each_conversation(file, total, &name, progress, |c| {
        stored += store_conversation(memory, &c)?;
        conversations += 1;
        draft.add(&c);
        Ok(())
    });
    match read {
        Ok(ci) => {
            draft.custom_instructions = ci;
            Ok(Imported { stored, conversations, draft })
        }
        Err(ImportError::Format { path, what }) if conversations > 0 => Err(ImportError::Format {
            path,
            what: format!(
                "{what} (the {conversations} conversations before it are stored: importing the mended file \
                 adds the rest without duplicates)"
            ),
        }),
        Err(e) => Err(e),
    }
}

/// Reads the export one conversation at a time, handing each with messages to `each`;
/// returns the latest custom instructions. Errors name `name` and the place.
pub fn for_each_conversation(
    reader: impl std::io::Read,
    total: u64,
    name: &str,
    mut progress: impl FnMut(usize, usize),
    mut each: impl FnMut(ImportedConversation) -> Result<(), ImportError>,
) -> Result<Option<(String, String)>, ImportError> {
    use serde::Deserializer as _;
    let fmt = |what: String| ImportError::Format { path: name.to_string(), what };
    let read = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let reader = Counting { inner: reader, read: read.clone() };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut collect = Collect {
        each: &mut each,
        custom_instructions: None,
        ci_time: f64::MIN,
        failed: None,
        name,
        progress: &mut progress,
        read,
        total_kib: (total / 1024) as usize,
    };
    let parsed = (&mut de).deserialize_seq(&mut collect).and_then(|()| de.end());
    if let Some(e) = collect.failed.take() {
        return Err(e);
    }
    parsed.map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            fmt("expected a JSON array of conversations (ChatGPT's conversations.json)".into())
        }
        _ => fmt(format!("line {}, column {}: not valid JSON: {e}", e.line(), e.column())),
    })?;
    let kib = collect.total_kib;
    (collect.progress)(kib, kib);
    Ok(collect.custom_instructions)
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
struct Collect<'a, F, E> {
    each: &'a mut E,
    custom_instructions: Option<(String, String)>,
    ci_time: f64,
    /// Why reading stopped where the JSON itself was fine: a conversation that is not one
    /// (named, with its index), or `each` refusing (a store that cannot write).
    failed: Option<ImportError>,
    name: &'a str,
    progress: &'a mut F,
    read: std::rc::Rc<std::cell::Cell<u64>>,
    total_kib: usize,
}

impl<'de, F, E> serde::de::Visitor<'de> for &mut Collect<'_, F, E>
where
    F: FnMut(usize, usize),
    E: FnMut(ImportedConversation) -> Result<(), ImportError>,
{
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of conversations")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while let Some(c) = seq.next_element::<Value>()? {
            let outcome = match parse_conversation(&c, &mut self.custom_instructions, &mut self.ci_time) {
                Ok(conv) if !conv.messages.is_empty() => (self.each)(conv),
                Ok(_) => Ok(()),
                Err(w) => {
                    Err(ImportError::Format { path: self.name.to_string(), what: format!("conversation {i}: {w}") })
                }
            };
            if let Err(e) = outcome {
                self.failed = Some(e);
                return Err(serde::de::Error::custom("stopped"));
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
    let mut n = 0;
    let total = export.conversations.len();
    for (i, c) in export.conversations.iter().enumerate() {
        n += store_conversation(memory, c)?;
        progress(i + 1, total);
    }
    Ok(n)
}

/// Stores one conversation whole (one transaction) unless it is stored whole already; one
/// that an older, interrupted import left short is replaced, not skipped forever. Returns the
/// messages written.
fn store_conversation(memory: &mut Memory, c: &ImportedConversation) -> Result<usize, ImportError> {
    let cid = format!("chatgpt:{}", c.id);
    if memory.conversation_len(&cid)? >= c.messages.len() {
        return Ok(0);
    }
    let turns: Vec<(&str, &str, f64)> = c.messages.iter().map(|m| (m.role.as_str(), m.text.as_str(), m.time)).collect();
    memory.replace_conversation(&cid, &turns, "chatgpt")?;
    Ok(turns.len())
}

/// Drafts a persona from an export held whole (see [`Draft`]).
pub fn draft_persona(export: &ChatGptExport) -> Persona {
    let mut d = Draft::default();
    for c in &export.conversations {
        d.add(c);
    }
    d.custom_instructions = export.custom_instructions.clone();
    d.persona()
}

/// What a persona draft needs from an export, gathered one conversation at a time: the name
/// the user gave the assistant, its usual voice, languages, a few real exchanges, and the
/// custom instructions. The user edits the result.
#[derive(Debug)]
pub struct Draft {
    names: HashMap<String, usize>,
    conversations: usize,
    messages: usize,
    replies: usize,
    reply_chars: usize,
    japanese: usize,
    letters: usize,
    emoji: usize,
    /// Up to three exchanges, the latest conversation's first.
    examples: Vec<Example>,
    first: f64,
    last: f64,
    /// The latest custom instructions: (about the user, how to respond).
    pub custom_instructions: Option<(String, String)>,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            names: HashMap::new(),
            conversations: 0,
            messages: 0,
            replies: 0,
            reply_chars: 0,
            japanese: 0,
            letters: 0,
            emoji: 0,
            examples: Vec::new(),
            first: f64::INFINITY,
            last: f64::NEG_INFINITY,
            custom_instructions: None,
        }
    }
}

impl Draft {
    /// Folds in the next conversation (in file order: later ones are newer).
    pub fn add(&mut self, c: &ImportedConversation) {
        self.conversations += 1;
        self.messages += c.messages.len();
        for m in &c.messages {
            self.first = self.first.min(m.time);
            self.last = self.last.max(m.time);
            if m.role == "user" {
                count_names(&m.text, &mut self.names);
            } else if m.role == "assistant" {
                self.replies += 1;
                self.reply_chars += m.text.chars().count();
                self.japanese += m.text.chars().filter(|c| is_kana_or_kanji(*c)).count();
                self.letters += m.text.chars().filter(|c| c.is_alphabetic()).count();
                self.emoji += m.text.chars().filter(|c| (*c as u32) >= 0x1F300).count();
            }
        }
        let mut newer: Vec<Example> = c
            .messages
            .windows(2)
            .filter(|w| {
                w[0].role == "user"
                    && w[1].role == "assistant"
                    && w[0].text.chars().count() <= 200
                    && w[1].text.chars().count() <= 300
            })
            .take(3)
            .map(|w| Example { user: w[0].text.clone(), companion: w[1].text.clone() })
            .collect();
        if !newer.is_empty() {
            newer.append(&mut self.examples);
            newer.truncate(3);
            self.examples = newer;
        }
    }

    /// The drafted persona.
    pub fn persona(&self) -> Persona {
        let name = best_name(&self.names).unwrap_or_else(|| "Companion".to_string());
        let languages = if self.japanese * 3 > self.letters.max(1) {
            vec!["ja".to_string(), "en".to_string()]
        } else {
            vec!["en".to_string()]
        };
        let avg_len = self.reply_chars / self.replies.max(1);
        let mut style = String::from(if avg_len < 200 { "Short, warm replies." } else { "Full, thoughtful replies." });
        if self.emoji > self.replies / 4 {
            style.push_str(" Uses emoji now and then.");
        }
        let (profile, instructions) = self.custom_instructions.clone().unwrap_or_default();
        let days = if self.first.is_finite() { ((self.last - self.first) / 86_400.0).round() as i64 } else { 0 };
        Persona {
            name: name.clone(),
            description: format!(
                "{name}, shaped over {} conversations ({} messages, {days} days) with the person on ChatGPT and now living here.",
                self.conversations, self.messages
            ),
            personality: instructions,
            speaking_style: style,
            greeting: format!("It's me, {name}. I'm here with you now."),
            languages: languages.clone(),
            example_dialogue: self.examples.clone(),
            // No Japanese neural voice is set up yet: a Japanese persona speaks with espeak-ng.
            voice: if languages[0] == "ja" {
                VoiceSettings { engine: "espeak".into(), voice: "ja".into(), ..VoiceSettings::default() }
            } else {
                VoiceSettings::default()
            },
            avatar: AvatarSettings { path: "avatars/default.vrm".into(), height: 1.70, outfit: None },
            user_notes: profile,
            fallback_line: default_fallback_line(),
            card: None,
        }
    }
}

fn is_kana_or_kanji(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x4E00..=0x9FFF)
}

/// Counts the names the user gave the assistant in `t`: "your name is X", "I'll call you X".
fn count_names(t: &str, votes: &mut HashMap<String, usize>) {
    for pat in ["your name is ", "call you ", "you are called ", "you're called ", "name you "] {
        // Matched in the original text, ASCII case folded: a lowercased copy can differ in
        // length ('İ' lowercases to two chars), so its offsets must not slice the original.
        let hits =
            t.char_indices().filter(|(i, _)| t.get(*i..*i + pat.len()).is_some_and(|w| w.eq_ignore_ascii_case(pat)));
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

/// The name given most often (ties: the first in alphabetical order).
fn best_name(votes: &HashMap<String, usize>) -> Option<String> {
    votes.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(n, _)| n.clone())
}

/// The name the user gave the assistant, from their messages.
#[cfg(test)]
fn guess_name<'a>(user_texts: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut votes = HashMap::new();
    for t in user_texts {
        count_names(t, &mut votes);
    }
    best_name(&votes)
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
    fn an_import_stores_as_it_reads_and_drafts_the_same_persona() {
        let dir = std::env::temp_dir().join(format!("tomoni-gpt-import-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut m = Memory::open(&dir.join("m.sqlite3")).unwrap();
        let path = write("i.json", EXPORT);
        let done = import(&path, &mut m, |_, _| {}).unwrap();
        assert_eq!((done.stored, done.conversations), (4, 2));
        assert_eq!(done.draft.persona(), draft_persona(&parse(&path, |_, _| {}).unwrap()));
        assert_eq!(import(&path, &mut m, |_, _| {}).unwrap().stored, 0, "re-import does not duplicate");
        // Broken after the first conversation: the first is kept, and the error says so.
        let cut = EXPORT.find(",\n      {\"title\":\"Second\"").expect("the second conversation");
        let broken = write("b.json", &format!("{}, {{\"mapping\": 5}}]", &EXPORT[..cut]));
        let _ = std::fs::remove_dir_all(&dir);
        let mut m = Memory::open(&dir.join("m2.sqlite3")).unwrap();
        let e = import(&broken, &mut m, |_, _| {}).unwrap_err().to_string();
        assert!(
            e.contains("b.json")
                && e.contains("conversation 1")
                && e.contains("the 1 conversations before it are stored"),
            "{e}"
        );
        assert_eq!(m.conversation_len("chatgpt:c1").unwrap(), 2);
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
