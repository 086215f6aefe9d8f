//! Voice activity: Silero VAD (ONNX, from the PyPI `silero-vad` wheel) gives a speech
//! probability per 32 ms chunk; [`Segmenter`] turns those into utterances with the knobs people
//! ask for (threshold, minimum speech, end-of-speech silence), in whole chunks so every decision
//! has a sample-exact time.

use crate::ListenError;
use crate::audio::samples;
use std::path::{Path, PathBuf};

/// Samples per chunk at 16 kHz (Silero's fixed window).
pub const CHUNK: usize = 512;
/// Samples of the previous chunk Silero sees before each one.
const CONTEXT: usize = 64;

/// The cached model, set up by `cargo xtask` (`$TOMONI_LISTEN_MODELS` overrides the folder).
pub fn default_model() -> PathBuf {
    crate::models_dir().join("silero_vad_16k_op15.onnx")
}

/// Silero VAD on the process's ONNX Runtime, one stream of audio, one thread.
pub struct SileroVad {
    session: ort::session::Session,
    state: Vec<f32>,
    input: Vec<f32>,
    model: PathBuf,
}

impl SileroVad {
    /// Loads the model (a few ms).
    pub fn load(model: &Path) -> Result<Self, ListenError> {
        let bytes = std::fs::read(model)
            .map_err(|e| ListenError::Model(format!("{}: {e} (set up with `cargo xtask deps`)", model.display())))?;
        let session = tomoni_voice::onnx::session(&bytes, 1, model).map_err(ListenError::Model)?;
        let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        if names != ["input", "state", "sr"] {
            return Err(ListenError::Model(format!("{}: not a Silero VAD model (inputs {names:?})", model.display())));
        }
        Ok(Self { session, state: vec![0.0; 2 * 128], input: vec![0.0; CONTEXT + CHUNK], model: model.to_path_buf() })
    }

    /// Forgets the audio heard so far (a new stream).
    pub fn reset(&mut self) {
        self.state.fill(0.0);
        self.input.fill(0.0);
    }

    /// The probability that `chunk` (exactly [`CHUNK`] samples) is speech.
    pub fn probability(&mut self, chunk: &[f32]) -> Result<f32, ListenError> {
        use ort::value::Tensor;
        assert_eq!(chunk.len(), CHUNK, "Silero VAD takes chunks of {CHUNK} samples");
        self.input.copy_within(CHUNK.., 0);
        self.input[CONTEXT..].copy_from_slice(chunk);
        let fail = |e: ort::Error| ListenError::Model(format!("{}: {e}", self.model.display()));
        let input = Tensor::from_array(([1usize, CONTEXT + CHUNK], self.input.clone())).map_err(fail)?;
        let state = Tensor::from_array(([2usize, 1, 128], self.state.clone())).map_err(fail)?;
        let sr = Tensor::from_array(((), vec![i64::from(crate::audio::RATE)])).map_err(fail)?;
        let _busy = tomoni_voice::onnx::busy();
        let out = self
            .session
            .run(ort::inputs!["input" => input, "state" => state, "sr" => sr])
            .map_err(|e| ListenError::Model(format!("{}: {e}", self.model.display())))?;
        let p = out[0].try_extract_tensor::<f32>().map_err(|e| ListenError::Model(e.to_string()))?.1[0];
        let s = out[1].try_extract_tensor::<f32>().map_err(|e| ListenError::Model(e.to_string()))?.1;
        self.state.copy_from_slice(s);
        Ok(p)
    }
}

/// When speech starts and ends (`[listen]` in `configs/tomoni.toml`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Probability at or above which a chunk is speech (Silero's own default 0.5).
    pub threshold: f32,
    /// Shorter bursts are not speech (a cough, a door).
    pub min_speech_ms: u32,
    /// Silence that ends an utterance: short cuts people off mid-thought, long makes the
    /// companion slow to answer.
    pub end_silence_ms: u32,
    /// Audio kept before the first and after the last voiced chunk, so word edges reach the
    /// recogniser.
    pub pad_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self { threshold: 0.5, min_speech_ms: 200, end_silence_ms: 500, pad_ms: 200 }
    }
}

impl From<&tomoni_core::config::ListenSettings> for VadConfig {
    fn from(l: &tomoni_core::config::ListenSettings) -> Self {
        Self {
            threshold: l.threshold,
            min_speech_ms: l.min_speech_ms,
            end_silence_ms: l.end_silence_ms,
            pad_ms: l.pad_ms,
        }
    }
}

/// What the segmenter decided after a chunk. Times are sample indices at 16 kHz since the start
/// of the stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VadEvent {
    /// Speech has lasted `min_speech_ms`: an utterance began at `start` (pad included).
    Start {
        /// First sample of the utterance (with the pad before it).
        start: u64,
        /// When that was decided (the end of the chunk that confirmed it).
        decided: u64,
    },
    /// The utterance is over.
    End {
        /// First sample of the utterance.
        start: u64,
        /// The end of the last voiced chunk: where the person stopped speaking.
        last_voiced: u64,
        /// When that was decided (`end_silence_ms` of silence later).
        decided: u64,
    },
}

/// Turns per-chunk probabilities into utterances (Silero's `VADIterator` rule: speech at
/// `threshold`, silence below `threshold - 0.15`, so a wavering probability does not flicker),
/// with `threshold` raisable while the companion speaks.
#[derive(Debug, Clone)]
pub struct Segmenter {
    config: VadConfig,
    /// Chunks seen so far.
    chunks: u64,
    /// Voiced run not yet confirmed as speech: its first chunk.
    candidate: Option<u64>,
    /// The utterance in progress: its first voiced chunk.
    speaking: Option<u64>,
    /// End of the last voiced chunk of the utterance in progress.
    last_voiced: u64,
    /// Extra threshold while the companion speaks (barge-in gating).
    pub raise: f32,
}

impl Segmenter {
    /// A segmenter at stream start.
    pub fn new(config: VadConfig) -> Self {
        Self { config, chunks: 0, candidate: None, speaking: None, last_voiced: 0, raise: 0.0 }
    }

    /// Whether an utterance is in progress.
    pub fn in_speech(&self) -> bool {
        self.speaking.is_some()
    }

    /// The end of the last voiced chunk of the utterance in progress.
    pub fn last_voiced(&self) -> Option<u64> {
        self.speaking.map(|_| self.last_voiced)
    }

    /// Where the utterance in progress begins (pad included), in stream samples.
    pub fn utterance_start(&self) -> Option<u64> {
        self.speaking.map(|first| self.start_of(first))
    }

    /// Where an utterance whose first voiced chunk is `first` begins, pad included.
    fn start_of(&self, first: u64) -> u64 {
        (first * CHUNK as u64).saturating_sub(samples(self.config.pad_ms))
    }

    /// The probability at or above which a chunk is voiced now (the threshold, raised).
    pub fn on_threshold(&self) -> f32 {
        (self.config.threshold + self.raise).min(0.99)
    }

    /// Feeds the probability of the next chunk.
    pub fn push(&mut self, p: f32) -> Option<VadEvent> {
        let chunk = CHUNK as u64;
        let at = self.chunks;
        self.chunks += 1;
        let end = self.chunks * chunk;
        let on = self.on_threshold();
        let off = on - 0.15;
        match self.speaking {
            None => {
                if p >= on {
                    let first = *self.candidate.get_or_insert(at);
                    if end - first * chunk >= samples(self.config.min_speech_ms).max(chunk) {
                        self.speaking = Some(first);
                        self.candidate = None;
                        self.last_voiced = end;
                        return Some(VadEvent::Start { start: self.start_of(first), decided: end });
                    }
                } else if p < off {
                    self.candidate = None;
                }
                None
            }
            Some(first) => {
                if p >= on {
                    self.last_voiced = end;
                }
                if p >= off {
                    return None; // wavering: neither voiced nor the silence that ends it
                }
                if end - self.last_voiced >= samples(self.config.end_silence_ms) {
                    self.speaking = None;
                    return Some(VadEvent::End {
                        start: self.start_of(first),
                        last_voiced: self.last_voiced,
                        decided: end,
                    });
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: VadConfig, probs: &[f32]) -> Vec<VadEvent> {
        let mut s = Segmenter::new(config);
        probs.iter().filter_map(|&p| s.push(p)).collect()
    }

    const C: u64 = CHUNK as u64;

    #[test]
    fn an_utterance_starts_after_min_speech_and_ends_after_the_silence() {
        let cfg = VadConfig { threshold: 0.5, min_speech_ms: 96, end_silence_ms: 160, pad_ms: 0 };
        // 2 silent, 10 voiced, 6 silent chunks (32 ms each).
        let mut p = vec![0.1; 2];
        p.extend([0.9; 10]);
        p.extend([0.05; 6]);
        let ev = run(cfg, &p);
        assert_eq!(
            ev,
            vec![
                // 96 ms = 3 chunks of speech confirm it, at the end of chunk 4.
                VadEvent::Start { start: 2 * C, decided: 5 * C },
                // last voiced chunk ends at 12; 5 chunks (160 ms) of silence decide it at 17.
                VadEvent::End { start: 2 * C, last_voiced: 12 * C, decided: 17 * C },
            ]
        );
    }

    #[test]
    fn a_cough_is_not_speech_and_a_short_pause_does_not_end_it() {
        let cfg = VadConfig { threshold: 0.5, min_speech_ms: 200, end_silence_ms: 300, pad_ms: 0 };
        let mut p = vec![0.9; 3]; // 96 ms: too short
        p.extend([0.1; 5]);
        assert!(run(cfg, &p).is_empty());
        let mut p = vec![0.9; 10];
        p.extend([0.1; 5]); // 160 ms pause: not the end
        p.extend([0.9; 10]);
        p.extend([0.1; 12]);
        let ev = run(cfg, &p);
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(matches!(ev[1], VadEvent::End { last_voiced, .. } if last_voiced == 25 * C));
    }

    #[test]
    fn a_raised_threshold_ignores_what_would_otherwise_start_speech() {
        let cfg = VadConfig::default();
        let p = vec![0.7; 20];
        assert_eq!(run(cfg, &p).len(), 1);
        let mut s = Segmenter::new(cfg);
        s.raise = 0.3;
        assert!(p.iter().filter_map(|&x| s.push(x)).next().is_none());
    }

    #[test]
    fn the_pad_reaches_back_but_not_before_the_stream() {
        let cfg = VadConfig { threshold: 0.5, min_speech_ms: 32, end_silence_ms: 100, pad_ms: 200 };
        let ev = run(cfg, &[0.9, 0.9]);
        assert_eq!(ev, vec![VadEvent::Start { start: 0, decided: C }]);
    }
}
