//! Fuzz targets for every parser that reads a stranger's input: avatars, personas, Character
//! Cards, ChatGPT exports, the model's SSE stream and its reply text.
//!
//! Each target takes arbitrary bytes and must return without panicking, hanging or growing
//! without bound; where a parser has a property that must hold for every input (the same
//! events however the bytes are split, nothing of a reply lost by the chunker, a persona that
//! survives its own export) the target asserts it, so the fuzzer finds wrong answers too.
//!
//! Two ways in:
//! - `cargo xtask fuzz [TARGET] [--minutes N]` builds `tomoni-fuzz` (libFuzzer, compiled
//!   with sanitizer coverage on stable Rust) and runs a campaign, growing `corpus/TARGET`.
//! - `tests/corpus.rs` runs every kept input (`corpus/` and `regressions/`) through its target
//!   in `cargo xtask test`: seconds, and a crash once found stays fixed.
//!
//! ```
//! let t = tomoni_fuzz::target("reply").unwrap();
//! (t.run)(b"Hello [happy] there. How are you?");
//! ```

use tomoni_persona::sse::{SseEvent, SseParser};
use tomoni_persona::tags::{TagParser, Tagged};
use tomoni_persona::{card, chatgpt, chunker, openai, persona};

/// One fuzz target: a name (the corpus folder) and what it runs on each input.
#[derive(Clone, Copy)]
pub struct Target {
    /// Name on the command line and folder under `corpus/`.
    pub name: &'static str,
    /// What it parses, for `cargo xtask fuzz --list` and the docs.
    pub about: &'static str,
    /// Runs one input; panics on a bug.
    pub run: fn(&[u8]),
}

/// Every target, in the order a full campaign runs them.
pub const TARGETS: [Target; 7] = [
    Target { name: "vrm", about: "VRM/GLB check and VRM 0.x migration", run: vrm },
    Target { name: "persona", about: "persona TOML, and its own re-export", run: persona_toml },
    Target { name: "card_json", about: "Character Card V2/V3 JSON", run: card_json },
    Target { name: "card_png", about: "Character Card PNG text chunks", run: card_png },
    Target { name: "chatgpt", about: "ChatGPT conversations.json export", run: chatgpt_export },
    Target { name: "sse", about: "SSE stream and OpenAI chunk JSON", run: sse },
    Target { name: "reply", about: "expression tags and clause chunker on reply text", run: reply },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().copied().find(|t| t.name == name)
}

/// Every target's name.
pub fn names() -> Vec<&'static str> {
    TARGETS.iter().map(|t| t.name).collect()
}

/// Splits `data` into a first byte that chooses how to cut and the rest: lets one input say
/// both what arrives and how the network splits it.
fn cut_and_rest(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((&c, rest)) => (usize::from(c) + 1, rest),
        None => (1, data),
    }
}

fn vrm(data: &[u8]) {
    let _ = tomoni_vrm::vrm_check::inspect_bytes(data);
    if let Ok(glb) = tomoni_vrm::glb::parse_glb(data)
        && let Ok(Some((migrated, _))) = tomoni_vrm::vrm0::prepare(glb)
    {
        // What the migration writes is read by the same checks as any file.
        let _ = tomoni_vrm::vrm_check::inspect_bytes(&migrated);
    }
}

fn persona_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(p) = persona::Persona::parse(text, "fuzz.toml") else { return };
    // A persona tomoni accepted must survive the file tomoni writes for it.
    let again = persona::Persona::parse(&p.to_toml(), "fuzz-again.toml")
        .unwrap_or_else(|e| panic!("a persona's own TOML is refused: {e}"));
    assert_eq!(again, p, "a persona changed on its way through its own TOML");
    let _ = p.system_prompt(&["a fact".into()]);
}

fn card_json(data: &[u8]) {
    if let Ok(p) = card::from_json(data) {
        // An imported card exports as a card that imports again.
        let v3 = card::to_v3_json(&p).to_string();
        card::from_json(v3.as_bytes()).unwrap_or_else(|e| panic!("a card's own V3 export is refused: {e}"));
    }
}

fn card_png(data: &[u8]) {
    if let Ok(json) = card::card_json_from_png(data) {
        let _ = card::from_json(&json);
    }
}

fn chatgpt_export(data: &[u8]) {
    let _ = chatgpt::parse_reader(data, data.len() as u64, "conversations.json", |_, _| {});
}

fn sse(data: &[u8]) {
    let (cut, bytes) = cut_and_rest(data);
    let whole = sse_events(std::iter::once(bytes));
    // However the network splits the bytes (even inside a UTF-8 character), the same events.
    let pieces = sse_events(bytes.chunks(cut));
    assert_eq!(whole, pieces, "SSE events depend on how the bytes were split (pieces of {cut})");
    for e in &whole {
        let _ = openai::parse_chunk(&e.data);
    }
}

fn sse_events<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> Vec<SseEvent> {
    let mut parser = SseParser::default();
    let mut out = Vec::new();
    for c in chunks {
        parser.feed(c, &mut out);
    }
    parser.finish(&mut out);
    out
}

fn reply(data: &[u8]) {
    let (cut, bytes) = cut_and_rest(data);
    let text = String::from_utf8_lossy(bytes);
    let whole = tagged(std::iter::once(text.as_ref()));
    let pieces = tagged(char_chunks(&text, cut));
    assert_eq!(merge_text(whole.clone()), merge_text(pieces), "tags depend on how the text was split");

    let mut chunker = chunker::ClauseChunker::default();
    let mut clauses = Vec::new();
    let mut spoken = String::new();
    for t in &whole {
        if let Tagged::Text(s) = t {
            spoken.push_str(s);
            for piece in char_chunks(s, cut) {
                chunker.push(piece, &mut clauses);
            }
        }
    }
    chunker.finish(&mut clauses);
    // No word is lost or invented: the clauses hold every letter and digit, in order. (Marks
    // are the chunker's to drop: markdown is not read aloud, nor a clause of only `?!`.)
    let speakable = |c: &char| c.is_alphanumeric();
    let kept: String = clauses.concat().chars().filter(speakable).collect();
    let said: String = spoken.chars().filter(speakable).collect();
    assert_eq!(kept, said, "the chunker lost or changed text");
    // No clause grows without bound (speech must start).
    for c in &clauses {
        let n = c.chars().count();
        assert!(n <= chunker::HARD_MAX_CLAUSE + 32, "a clause of {n} characters");
    }
}

fn tagged<'a>(chunks: impl Iterator<Item = &'a str>) -> Vec<Tagged> {
    let mut parser = TagParser::default();
    let mut out = Vec::new();
    for c in chunks {
        parser.feed(c, &mut out);
    }
    parser.finish(&mut out);
    out
}

/// Adjacent text pieces joined: where a split falls may cut text in two, which is not a change.
fn merge_text(items: Vec<Tagged>) -> Vec<Tagged> {
    let mut out: Vec<Tagged> = Vec::new();
    for t in items {
        match (out.last_mut(), t) {
            (Some(Tagged::Text(a)), Tagged::Text(b)) => a.push_str(&b),
            (_, t) => out.push(t),
        }
    }
    out
}

/// `text` in pieces of about `n` bytes, cut on character boundaries.
fn char_chunks(text: &str, n: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut at = n.min(rest.len());
        while !rest.is_char_boundary(at) {
            at += 1;
        }
        let (head, tail) = rest.split_at(at);
        rest = tail;
        Some(head)
    })
}
