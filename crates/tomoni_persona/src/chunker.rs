//! Splits streamed text into speakable clauses as soon as each is complete, so speech can start
//! before the reply ends. Sentence ends (`. ! ? …`, and Japanese `。！？`) always split; commas and
//! `、` split long clauses; numbers (`3.14`, `1,000`) and abbreviations (`Dr.`, `e.g.`) never split.
//! Text with no punctuation at all is cut at a space after [`MAX_CLAUSE`] characters.

/// Abbreviations after which a full stop does not end the sentence (lower case, no dot).
const ABBREVIATIONS: [&str; 17] =
    ["mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "a.m", "p.m", "jr", "sr", "no", "approx", "cf"];

/// A clause shorter than this is not cut at a comma.
const MIN_COMMA_CLAUSE: usize = 24;
/// Japanese clauses are denser: cut at `、` from this many characters.
const MIN_TOUTEN_CLAUSE: usize = 10;
/// Text with no punctuation (a model rambling, a hostile server) is cut at the next space
/// after this many characters, so speech starts and no clause grows without bound.
pub const MAX_CLAUSE: usize = 200;
/// ... and anywhere after this many (Japanese or a run with no spaces at all).
pub const HARD_MAX_CLAUSE: usize = 400;
/// Closing quotes and brackets looked past after a sentence end; a longer run is cut.
const MAX_CLOSERS: usize = 16;

/// Incremental clause chunker. Linear in the text: each character is scanned once, except
/// for the few after a punctuation mark that waits for the next one (a hostile 10 MB reply
/// with no sentence end once took minutes of CPU when every push rescanned the buffer).
#[derive(Debug, Default)]
pub struct ClauseChunker {
    buf: String,
    /// Byte offset in `buf` before which no cut can fall (every earlier character was
    /// rejected for good: the decision depends only on the text before and just after it).
    scanned: usize,
    /// `buf[..scanned].trim().chars().count()`, kept as two counters.
    len: ClauseLen,
}

/// The clause length so far, as `trim().chars().count()` would give it, updated per char.
#[derive(Debug, Default, Clone, Copy)]
struct ClauseLen {
    /// Characters since the first non-space one.
    counted: usize,
    /// Spaces at the end of those.
    trailing_spaces: usize,
}

impl ClauseLen {
    fn get(self) -> usize {
        self.counted - self.trailing_spaces
    }

    fn step(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.counted > 0 {
                self.counted += 1;
                self.trailing_spaces += 1;
            }
        } else {
            self.counted += 1;
            self.trailing_spaces = 0;
        }
    }
}

impl ClauseChunker {
    /// Adds text and returns the clauses it completed.
    pub fn push(&mut self, text: &str, out: &mut Vec<String>) {
        self.buf.push_str(text);
        while let Some(cut) = self.find_cut() {
            let rest = self.buf.split_off(cut);
            emit(std::mem::replace(&mut self.buf, rest), out);
            self.scanned = 0;
            self.len = ClauseLen::default();
        }
    }

    /// Ends the reply: whatever is left is the last clause.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        emit(std::mem::take(&mut self.buf), out);
        self.scanned = 0;
        self.len = ClauseLen::default();
    }

    /// Byte offset just after a clause end, if one is certain with the text so far. Moves
    /// `scanned` past every character that cannot end a clause.
    fn find_cut(&mut self) -> Option<usize> {
        let base = self.scanned;
        let mut it = self.buf[base..].char_indices();
        while let Some((rel, ch)) = it.next() {
            let at = base + rel;
            let end = at + ch.len_utf8();
            let clause_len = self.len.get();
            let cut = match ch {
                '。' | '！' | '？' | '\n' => Some(end),
                '、' if clause_len >= MIN_TOUTEN_CLAUSE => Some(end),
                _ if clause_len >= HARD_MAX_CLAUSE => Some(at),
                c if c.is_whitespace() && clause_len >= MAX_CLAUSE => Some(end),
                '.' | '!' | '?' | '…' | ',' | ';' | ':' => {
                    // Closing quotes and brackets stay with their sentence.
                    let mut look = it.clone();
                    let mut closers = 0;
                    let after = loop {
                        match look.next() {
                            // Wait for more text; this character is scanned again then.
                            None => return None,
                            Some((_, c))
                                if closers < MAX_CLOSERS
                                    && matches!(c, '"' | '\'' | ')' | '”' | '’' | '」' | '』' | '.' | '!' | '?') =>
                            {
                                closers += 1
                            }
                            Some((r, c)) => break (base + r, c),
                        }
                    };
                    let strong = ch != ',' && ch != ';' && ch != ':';
                    if closers == MAX_CLOSERS {
                        Some(after.0)
                    } else if !after.1.is_whitespace() // 3.14, 1,000, e.g.x, "wait..."
                        || (strong && ch == '.' && self.is_abbreviation(at))
                        || (!strong && clause_len < MIN_COMMA_CLAUSE)
                    {
                        None
                    } else {
                        Some(after.0)
                    }
                }
                _ => None,
            };
            if cut.is_some() {
                return cut;
            }
            self.len.step(ch);
            self.scanned = end;
        }
        None
    }

    fn is_abbreviation(&self, dot: usize) -> bool {
        // The longest abbreviation is 6 characters: look no further back (a long run of
        // `a.a.a.` would otherwise be walked once per dot).
        const LOOK_BACK: usize = 8;
        let mut word: Vec<char> =
            self.buf[..dot].chars().rev().take_while(|c| c.is_alphanumeric() || *c == '.').take(LOOK_BACK).collect();
        if word.len() == LOOK_BACK {
            return false;
        }
        word.reverse();
        let word: String = word.into_iter().collect();
        let lower = word.to_lowercase();
        ABBREVIATIONS.contains(&lower.as_str()) || (word.chars().count() == 1 && word.chars().all(|c| c.is_uppercase())) // initials: J. Smith
    }
}

fn emit(clause: String, out: &mut Vec<String>) {
    let cleaned: String = clause.chars().filter(|c| !matches!(c, '*' | '#' | '`')).collect();
    let t = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().any(char::is_alphanumeric) {
        out.push(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(input: &str, piece: usize) -> Vec<String> {
        let mut c = ClauseChunker::default();
        let mut out = Vec::new();
        let chars: Vec<char> = input.chars().collect();
        for p in chars.chunks(piece) {
            c.push(&p.iter().collect::<String>(), &mut out);
        }
        c.finish(&mut out);
        out
    }

    fn check(input: &str, expect: &[&str]) {
        for piece in [1, 2, 3, 7, 1000] {
            assert_eq!(chunk(input, piece), expect, "{input:?} in pieces of {piece}");
        }
    }

    #[test]
    fn sentences_split_as_they_complete() {
        check("Hello there! How are you? I'm fine.", &["Hello there!", "How are you?", "I'm fine."]);
    }

    #[test]
    fn numbers_and_abbreviations_do_not_split() {
        check(
            "Pi is 3.14 and Dr. Smith paid $1,000 today. Bye.",
            &["Pi is 3.14 and Dr. Smith paid $1,000 today.", "Bye."],
        );
        check("Use e.g. tea, J. Smith said.", &["Use e.g. tea, J. Smith said."]);
    }

    #[test]
    fn long_clauses_split_at_commas_short_ones_do_not() {
        check(
            "When the ceremony begins tomorrow morning, I am right beside you, ok.",
            &["When the ceremony begins tomorrow morning,", "I am right beside you, ok."],
        );
    }

    #[test]
    fn japanese_punctuation() {
        check(
            "こんにちは。今日はいい天気ですね！散歩に行きましょうか、それとも家にいる？",
            &["こんにちは。", "今日はいい天気ですね！", "散歩に行きましょうか、", "それとも家にいる？"],
        );
    }

    #[test]
    fn quotes_stay_with_their_sentence_and_markdown_is_not_spoken() {
        check("She said \"yes.\" Then **we** left...", &["She said \"yes.\"", "Then we left..."]);
    }

    #[test]
    fn rambling_text_without_punctuation_is_cut_at_spaces() {
        let text = "la ".repeat(1000);
        let out = chunk(&text, 3);
        assert!(out.len() >= 3000 / (MAX_CLAUSE + 3), "{} clauses", out.len());
        assert!(out.iter().all(|c| c.chars().count() <= MAX_CLAUSE + 1), "{out:?}");
        assert_eq!(out.join(" "), text.trim());
        // With no spaces at all (or in Japanese), the hard limit cuts anywhere.
        let solid = "あ".repeat(1000);
        let out = chunk(&solid, 7);
        assert!(
            out.iter().all(|c| c.chars().count() <= HARD_MAX_CLAUSE),
            "{:?}",
            out.iter().map(|c| c.len()).collect::<Vec<_>>()
        );
        assert_eq!(out.concat(), solid);
    }

    /// A hostile server's reply of megabytes with no sentence end once took minutes of CPU
    /// (the buffer was rescanned from the start, with a `trim` per character, on every push):
    /// the bound is far above linear time and far below the cubic time it took.
    #[test]
    fn megabytes_without_a_sentence_end_are_chunked_in_linear_time() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut c = ClauseChunker::default();
            let mut out = Vec::new();
            let mut spoken = 0;
            for piece in ["a ", "b.", "c,", "d…", "e\"", "f)"].iter().cycle().take(1_000_000) {
                c.push(piece, &mut out);
                spoken += out.drain(..).count();
            }
            let _ = tx.send(spoken);
        });
        let spoken =
            rx.recv_timeout(std::time::Duration::from_secs(60)).expect("2 MB took over a minute: quadratic again");
        assert!(spoken >= 2_000_000 / (HARD_MAX_CLAUSE + 4), "{spoken} clauses");
        // A long run of closing marks and dots is cut too.
        let dots = chunk(&format!("Wait{} then", ".".repeat(100)), 1);
        assert!(dots.len() > 1, "{dots:?}");
    }

    #[test]
    fn emits_before_the_reply_ends() {
        let mut c = ClauseChunker::default();
        let mut out = Vec::new();
        c.push("First sentence. Sec", &mut out);
        assert_eq!(out, ["First sentence."]);
    }
}
