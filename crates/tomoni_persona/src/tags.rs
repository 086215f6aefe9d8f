//! The expression protocol (docs/expression-protocol.md): inline tags the model writes among
//! its words, parsed incrementally because a tag may be split across stream chunks.
//!
//! Grammar (case-insensitive names; at most 40 characters between the brackets):
//! ```text
//! tag      = "[" name [ ":" arg ] [ " " number ] "]"
//! emotion  = [happy] [happy 0.6] [sad] [angry] [relaxed] [surprised] [neutral]
//! gesture  = [gesture:nod]  (nod shake tilt wave bow heart shrug offer_hand, or a .vrma clip name)
//! pause    = [pause 600]    (milliseconds, at most 5000)
//! ```
//! Anything bracketed that has a tag's shape but an unknown name is dropped and reported;
//! brackets that do not look like a tag (`[1]`, `[see above]`) are ordinary text.

/// Emotions the avatar can show (VRM 1.0 preset expressions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emotion {
    /// `happy`
    Happy,
    /// `angry`
    Angry,
    /// `sad`
    Sad,
    /// `relaxed`
    Relaxed,
    /// `surprised`
    Surprised,
    /// `neutral`
    Neutral,
}

impl Emotion {
    /// Parses a preset name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "happy" | "joy" => Emotion::Happy,
            "angry" => Emotion::Angry,
            "sad" => Emotion::Sad,
            "relaxed" | "calm" => Emotion::Relaxed,
            "surprised" => Emotion::Surprised,
            "neutral" => Emotion::Neutral,
            _ => return None,
        })
    }

    /// The VRM expression preset name.
    pub fn vrm_name(self) -> &'static str {
        match self {
            Emotion::Happy => "happy",
            Emotion::Angry => "angry",
            Emotion::Sad => "sad",
            Emotion::Relaxed => "relaxed",
            Emotion::Surprised => "surprised",
            Emotion::Neutral => "neutral",
        }
    }
}

/// Built-in procedural gestures.
pub const GESTURES: [&str; 8] = ["nod", "shake", "tilt", "wave", "bow", "heart", "shrug", "offer_hand"];

/// What the tag parser produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Tagged {
    /// Plain text (no tags).
    Text(String),
    /// An emotion with intensity 0..=1.
    Emotion(Emotion, f32),
    /// A gesture by name.
    Gesture(String),
    /// A pause in milliseconds.
    Pause(u32),
    /// A tag-shaped thing that is not part of the protocol; dropped from speech.
    Unknown(String),
}

const MAX_TAG: usize = 40;

/// Incremental tag parser.
#[derive(Debug, Default)]
pub struct TagParser {
    pending: String,
    in_tag: bool,
}

impl TagParser {
    /// Feeds text, appending what is complete to `out`.
    pub fn feed(&mut self, text: &str, out: &mut Vec<Tagged>) {
        let mut plain = String::new();
        for ch in text.chars() {
            if self.in_tag {
                if ch == ']' {
                    let body = std::mem::take(&mut self.pending);
                    self.in_tag = false;
                    match interpret(&body) {
                        Some(t) => {
                            flush(&mut plain, out);
                            out.push(t);
                        }
                        None => {
                            plain.push('[');
                            plain.push_str(&body);
                            plain.push(']');
                        }
                    }
                } else if ch == '[' || ch == '\n' || self.pending.chars().count() >= MAX_TAG {
                    // Not a tag after all: give the text back.
                    plain.push('[');
                    plain.push_str(&std::mem::take(&mut self.pending));
                    if ch == '[' {
                        self.in_tag = true;
                    } else {
                        self.in_tag = false;
                        plain.push(ch);
                    }
                } else {
                    self.pending.push(ch);
                }
            } else if ch == '[' {
                self.in_tag = true;
            } else {
                plain.push(ch);
            }
        }
        flush(&mut plain, out);
    }

    /// Ends the stream: an unclosed `[` is returned as text.
    pub fn finish(&mut self, out: &mut Vec<Tagged>) {
        if self.in_tag {
            self.in_tag = false;
            let mut t = String::from("[");
            t.push_str(&std::mem::take(&mut self.pending));
            out.push(Tagged::Text(t));
        }
    }
}

fn flush(plain: &mut String, out: &mut Vec<Tagged>) {
    if !plain.is_empty() {
        out.push(Tagged::Text(std::mem::take(plain)));
    }
}

/// Interprets a bracket body; `None` means "not tag-shaped: keep as text".
fn interpret(body: &str) -> Option<Tagged> {
    let (head, number) = match body.split_once(' ') {
        Some((h, n)) => (h, Some(n.trim())),
        None => (body, None),
    };
    let (name, arg) = match head.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (head, None),
    };
    let ident = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ident(name) || !name.starts_with(|c: char| c.is_ascii_alphabetic()) || arg.is_some_and(|a| !ident(a)) {
        return None;
    }
    let number = match number {
        None => None,
        Some(n) => Some(n.trim_end_matches("ms").parse::<f32>().ok()?),
    };
    let name = name.to_ascii_lowercase();
    if let Some(e) = Emotion::parse(&name).filter(|_| arg.is_none()) {
        return Some(Tagged::Emotion(e, number.unwrap_or(0.8).clamp(0.0, 1.0)));
    }
    match (name.as_str(), arg, number) {
        ("gesture", Some(g), None) => Some(Tagged::Gesture(g.to_ascii_lowercase())),
        ("pause", None, Some(ms)) if ms >= 0.0 => Some(Tagged::Pause(ms.min(5000.0) as u32)),
        _ => Some(Tagged::Unknown(body.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Tagged::*;

    fn parse_pieces(input: &str, piece: usize) -> Vec<Tagged> {
        let mut p = TagParser::default();
        let mut out = Vec::new();
        let chars: Vec<char> = input.chars().collect();
        for c in chars.chunks(piece) {
            p.feed(&c.iter().collect::<String>(), &mut out);
        }
        p.finish(&mut out);
        // Merge adjacent text for comparison.
        let mut merged: Vec<Tagged> = Vec::new();
        for t in out {
            match (merged.last_mut(), t) {
                (Some(Text(a)), Text(b)) => a.push_str(&b),
                (_, t) => merged.push(t),
            }
        }
        merged
    }

    fn check(input: &str, expect: &[Tagged]) {
        for piece in 1..=input.chars().count().max(1) {
            assert_eq!(parse_pieces(input, piece), expect, "{input:?} in pieces of {piece}");
        }
    }

    #[test]
    fn emotions_gestures_and_pauses_split_anywhere() {
        check(
            "[happy 0.6]Hello![gesture:wave] Nice [pause 300]day.",
            &[
                Emotion(super::Emotion::Happy, 0.6),
                Text("Hello!".into()),
                Gesture("wave".into()),
                Text(" Nice ".into()),
                Pause(300),
                Text("day.".into()),
            ],
        );
    }

    #[test]
    fn default_intensity_and_clamping() {
        check("[SAD]", &[Emotion(super::Emotion::Sad, 0.8)]);
        check("[surprised 7]", &[Emotion(super::Emotion::Surprised, 1.0)]);
        check("[pause 99999]", &[Pause(5000)]);
    }

    #[test]
    fn unknown_tags_are_dropped_not_spoken() {
        check(
            "a[dance]b[gesture:fly]c",
            &[Text("a".into()), Unknown("dance".into()), Text("b".into()), Gesture("fly".into()), Text("c".into())],
        );
        check("[mood:happy]", &[Unknown("mood:happy".into())]);
    }

    #[test]
    fn brackets_that_are_not_tags_stay_text() {
        check(
            "see [1] and [two words here] or [[happy]",
            &[Text("see [1] and [two words here] or [".into()), Emotion(super::Emotion::Happy, 0.8)],
        );
        check("an open [bracket", &[Text("an open [bracket".into())]);
        let long = format!("[{}]", "x".repeat(60));
        check(&long, &[Text(long.clone())]);
    }
}
