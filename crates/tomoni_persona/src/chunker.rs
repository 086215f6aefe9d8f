//! Splits streamed text into speakable clauses as soon as each is complete, so speech can start
//! before the reply ends. Sentence ends (`. ! ? …`, and Japanese `。！？`) always split; commas and
//! `、` split long clauses; numbers (`3.14`, `1,000`) and abbreviations (`Dr.`, `e.g.`) never split.

/// Abbreviations after which a full stop does not end the sentence (lower case, no dot).
const ABBREVIATIONS: [&str; 17] =
    ["mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "a.m", "p.m", "jr", "sr", "no", "approx", "cf"];

/// A clause shorter than this is not cut at a comma.
const MIN_COMMA_CLAUSE: usize = 24;
/// Japanese clauses are denser: cut at `、` from this many characters.
const MIN_TOUTEN_CLAUSE: usize = 10;

/// Incremental clause chunker.
#[derive(Debug, Default)]
pub struct ClauseChunker {
    buf: String,
}

impl ClauseChunker {
    /// Adds text and returns the clauses it completed.
    pub fn push(&mut self, text: &str, out: &mut Vec<String>) {
        self.buf.push_str(text);
        while let Some(cut) = self.find_cut() {
            let rest = self.buf.split_off(cut);
            emit(std::mem::replace(&mut self.buf, rest), out);
        }
    }

    /// Ends the reply: whatever is left is the last clause.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        emit(std::mem::take(&mut self.buf), out);
    }

    /// Byte offset just after a clause end, if one is certain with the text so far.
    fn find_cut(&self) -> Option<usize> {
        let chars: Vec<(usize, char)> = self.buf.char_indices().collect();
        for (i, &(at, ch)) in chars.iter().enumerate() {
            let end = at + ch.len_utf8();
            let clause_len = self.buf[..at].trim().chars().count();
            match ch {
                '。' | '！' | '？' | '\n' => return Some(end),
                '、' if clause_len >= MIN_TOUTEN_CLAUSE => return Some(end),
                '.' | '!' | '?' | '…' | ',' | ';' | ':' => {
                    // Closing quotes and brackets stay with their sentence.
                    let mut j = i + 1;
                    while let Some(&(_, c)) = chars.get(j) {
                        if matches!(c, '"' | '\'' | ')' | '”' | '’' | '」' | '』' | '.' | '!' | '?') {
                            j += 1;
                        } else {
                            break;
                        }
                    }
                    let &(after_at, after) = chars.get(j)?; // wait for more text
                    if !after.is_whitespace() {
                        continue; // 3.14, 1,000, e.g.x, "wait..."
                    }
                    let strong = ch != ',' && ch != ';' && ch != ':';
                    if strong && ch == '.' && self.is_abbreviation(at) {
                        continue;
                    }
                    if !strong && clause_len < MIN_COMMA_CLAUSE {
                        continue;
                    }
                    return Some(after_at);
                }
                _ => {}
            }
        }
        None
    }

    fn is_abbreviation(&self, dot: usize) -> bool {
        let word: String = self.buf[..dot]
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || *c == '.')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
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
    fn emits_before_the_reply_ends() {
        let mut c = ClauseChunker::default();
        let mut out = Vec::new();
        c.push("First sentence. Sec", &mut out);
        assert_eq!(out, ["First sentence."]);
    }
}
