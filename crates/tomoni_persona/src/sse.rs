//! Server-sent events, parsed the way real providers send them: CRLF or LF line ends,
//! `data:` with or without a space, comments (`: keep-alive`, OpenRouter's
//! `: OPENROUTER PROCESSING`), multi-line data, `event:` names, and a stream that ends without a
//! trailing blank line. Bytes may arrive split anywhere, even inside a UTF-8 character.

/// The most bytes one event may hold (its lines and data together). Providers send
/// chunks of a few hundred bytes; a 10 MB event from a hostile or broken server was held
/// whole and then parsed. Past this the event is dropped and counted.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any (`error` on some providers).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Incremental SSE parser: feed bytes, get complete events.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    data: Vec<String>,
    event: Option<String>,
    saw_cr: bool,
    /// Bytes in the current line, kept or skipped.
    line_bytes: usize,
    /// Bytes held for the event being read (its data lines and the current line).
    held: usize,
    /// The current event passed [`MAX_EVENT_BYTES`]: the rest of it is skipped.
    skipping: bool,
    /// Lines that were not valid UTF-8 (reported, then skipped).
    pub invalid_lines: usize,
    /// Events dropped for passing [`MAX_EVENT_BYTES`].
    pub oversized_events: usize,
}

impl SseParser {
    /// Feeds a chunk of bytes, appending completed events to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) {
        for &b in bytes {
            match b {
                b'\n' if self.saw_cr => self.saw_cr = false, // second half of CRLF
                b'\r' | b'\n' => {
                    self.saw_cr = b == b'\r';
                    self.end_line(out);
                }
                _ => {
                    self.saw_cr = false;
                    self.line_bytes += 1;
                    self.held += 1;
                    if self.held > MAX_EVENT_BYTES && !self.skipping {
                        self.skipping = true;
                        self.oversized_events += 1;
                        self.line = Vec::new();
                        self.data = Vec::new();
                    }
                    if !self.skipping {
                        self.line.push(b);
                    }
                }
            }
        }
    }

    /// Ends the stream: a final event without its blank line is still delivered.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if self.line_bytes > 0 {
            self.end_line(out);
        }
        self.dispatch(out);
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let raw = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.line_bytes) == 0 {
            self.dispatch(out); // a blank line ends the event (a skipped one included)
            return;
        }
        if self.skipping {
            return;
        }
        let Ok(line) = String::from_utf8(raw) else {
            self.invalid_lines += 1;
            return;
        };
        if line.starts_with(':') {
            return; // comment / keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "data" => self.data.push(value.to_string()),
            "event" => self.event = Some(value.to_string()),
            _ => {} // id, retry, unknown: not needed for chat streams
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        self.held = 0;
        self.skipping = false;
        if self.data.is_empty() {
            self.event = None;
            return;
        }
        out.push(SseEvent { event: self.event.take(), data: std::mem::take(&mut self.data).join("\n") });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for c in input.chunks(piece) {
            p.feed(c, &mut out);
        }
        p.finish(&mut out);
        out
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn lf_crlf_and_cr_line_ends_all_work_split_anywhere() {
        for input in [&b"data: a\n\ndata: b\n\n"[..], b"data: a\r\n\r\ndata: b\r\n\r\n", b"data: a\r\rdata: b\r\r"] {
            for piece in 1..=input.len() {
                assert_eq!(data(&parse_in_pieces(input, piece)), ["a", "b"], "{input:?} piece {piece}");
            }
        }
    }

    #[test]
    fn data_without_space_comments_and_event_names() {
        let ev = parse_in_pieces(b": OPENROUTER PROCESSING\n\ndata:{\"x\":1}\n\nevent: error\ndata: {\"e\":2}\n\n", 3);
        assert_eq!(data(&ev), ["{\"x\":1}", "{\"e\":2}"]);
        assert_eq!(ev[1].event.as_deref(), Some("error"));
        assert_eq!(ev[0].event, None);
    }

    #[test]
    fn multi_line_data_joins_with_newline_and_missing_final_blank_line_is_delivered() {
        assert_eq!(data(&parse_in_pieces(b"data: a\ndata: b\n\ndata: tail", 2)), ["a\nb", "tail"]);
    }

    #[test]
    fn an_oversized_event_is_dropped_and_counted_and_the_stream_goes_on() {
        let mut input = b"data: a\n\ndata: ".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_EVENT_BYTES + 10));
        input.extend(b"\ndata: more\n\ndata: b\n\n");
        for piece in [7, 4096, input.len()] {
            let mut p = SseParser::default();
            let mut out = Vec::new();
            for c in input.chunks(piece) {
                p.feed(c, &mut out);
                assert!(p.line.capacity() <= 2 * MAX_EVENT_BYTES, "the parser held {} bytes", p.line.capacity());
            }
            p.finish(&mut out);
            assert_eq!(data(&out), ["a", "b"], "piece {piece}");
            assert_eq!(p.oversized_events, 1);
        }
        // Just under the bound is delivered whole.
        let big = "y".repeat(MAX_EVENT_BYTES - 20);
        assert_eq!(parse_in_pieces(format!("data: {big}\n\n").as_bytes(), 1000)[0].data.len(), big.len());
    }

    #[test]
    fn utf8_split_inside_a_character_survives_and_invalid_lines_are_counted() {
        let s = "data: こんにちは\n\n".as_bytes();
        assert_eq!(data(&parse_in_pieces(s, 1)), ["こんにちは"]);
        let mut p = SseParser::default();
        let mut out = Vec::new();
        p.feed(b"data: \xff\xfe\n\ndata: ok\n\n", &mut out);
        assert_eq!(data(&out), ["ok"]);
        assert_eq!(p.invalid_lines, 1);
    }
}
