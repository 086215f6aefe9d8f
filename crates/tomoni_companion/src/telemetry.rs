//! What each turn took: the latencies the debug panel, the logs and the benches report.

/// Latencies of one turn, from the user's message (milliseconds); for a spoken message, from
/// the end of the person's speech, so `first_audio` is the voice-to-voice time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TurnLatency {
    /// Turn number.
    pub turn: u64,
    /// First token from the LLM.
    pub first_token: Option<f64>,
    /// First clause ready to speak.
    pub first_clause: Option<f64>,
    /// First sample of speech queued for playback.
    pub first_audio: Option<f64>,
    /// First mouth movement shown.
    pub first_viseme: Option<f64>,
    /// Mouth onset minus the onset of the audio it shows, at the first viseme (ms; + = late).
    pub av_offset: Option<f64>,
    /// Spoken: from the end of speech to the words sent (the two below and hand-offs).
    pub heard: Option<f64>,
    /// Spoken: the voice-activity decision that the person had finished (end-of-speech silence).
    pub vad: Option<f64>,
    /// Spoken: transcription.
    pub stt: Option<f64>,
}

impl TurnLatency {
    /// One line for logs and the debug panel.
    pub fn line(&self) -> String {
        let f = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.0} ms"));
        let spoken = match self.heard {
            Some(h) => format!(
                " (spoken: voice to voice {}; heard after {h:.0} ms = end-of-speech {} + transcription {} + hand-off)",
                f(self.first_audio),
                f(self.vad),
                f(self.stt)
            ),
            None => String::new(),
        };
        format!(
            "turn {}: first token {}, first clause {}, first audio {}, first viseme {}, A/V {}{}",
            self.turn,
            f(self.first_token),
            f(self.first_clause),
            f(self.first_audio),
            f(self.first_viseme),
            self.av_offset.map_or("–".into(), |x| format!("{x:+.1} ms")),
            spoken
        )
    }
}
