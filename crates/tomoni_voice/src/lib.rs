//! The companion's voice: text-to-speech behind one interface ([`Speech`]), the phoneme → viseme
//! mapping onto VRM mouth expressions with coarticulation ([`viseme`]), and WAV output.
//!
//! ```no_run
//! use tomoni_voice::{espeak::{self, EspeakVoice}, viseme::VisemeTrack};
//! let speech = espeak::synthesize("Hello there!", &EspeakVoice::default()).unwrap();
//! let track = VisemeTrack::from_phonemes(&speech.phonemes, speech.duration_ms());
//! let mouth = track.at(0.25); // weights for aa, ih, ou, ee, oh at 250 ms of audio
//! # let _ = mouth;
//! ```
//!
//! Synthesis is blocking work: callers run it off the frame loop.

pub mod analysis;
pub mod analysis_model;
pub mod espeak;
pub mod japanese;
pub mod onnx;
pub mod openai_tts;
pub mod piper;
pub mod playback;
pub mod speaker;
pub mod stream;
pub mod viseme;
pub mod wav;

/// Edits (insertions, deletions, substitutions) between two sequences: Levenshtein's distance,
/// how errors in what was said or heard are counted (phonemes, kana, words).
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = (diagonal + usize::from(x != y)).min(up + 1).min(row[j] + 1);
            diagonal = up;
        }
    }
    row[b.len()]
}

/// Lowers the calling thread's scheduling priority (Linux: nice +5 for this thread only).
///
/// Worker threads (synthesis, the talk thread) call it so that on a machine with few cores the
/// frame loop wins when both want the CPU: speech is queued seconds ahead, a frame is not.
pub fn lower_thread_priority() {
    set_thread_nice(5);
}

/// The lowest priority (Linux: nice 19 for this thread and the threads it starts): for bulk
/// work that may use every core but must never delay a frame (speech recognition's threads).
pub fn lowest_thread_priority() {
    set_thread_nice(19);
}

#[expect(unsafe_code, reason = "setpriority(2) on the calling thread")]
fn set_thread_nice(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: a plain syscall; `who = 0` is the calling thread on Linux (nice is per thread).
    unsafe {
        let _ = libc::setpriority(libc::PRIO_PROCESS, 0, nice);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// CPU time the calling thread has used, in seconds (Linux `CLOCK_THREAD_CPUTIME_ID`; wall time
/// elsewhere): what a voice costs this machine, whatever else is running.
#[expect(unsafe_code, reason = "clock_gettime(2) into a local timespec")]
pub fn thread_cpu_seconds() -> f64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: a plain syscall writing into the timespec we own.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) } == 0 {
            return ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9;
        }
    }
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
}

/// Synthesised speech: mono samples and, when the engine knows them, timed phonemes.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    /// Samples per second.
    pub sample_rate: u32,
    /// Mono 16-bit samples.
    pub samples: Vec<i16>,
    /// Phonemes with their start times (empty for engines that give no timing).
    pub phonemes: Vec<Phoneme>,
}

impl Speech {
    /// Length of the audio in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.samples.len() as f64 * 1000.0 / f64::from(self.sample_rate.max(1))
    }
}

/// One phoneme at a time in the audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Phoneme {
    /// Start, milliseconds from the first sample.
    pub start_ms: f64,
    /// The phoneme in IPA (as espeak-ng names it).
    pub ipa: String,
}

/// Why speech could not be made.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TtsError {
    /// The engine could not start (missing data, no library).
    #[error("espeak-ng could not start: {0}")]
    Init(String),
    /// The voice is unknown to the engine.
    #[error("unknown voice {0:?} (try `espeak-ng --voices`)")]
    Voice(String),
    /// A neural voice or its runtime could not be loaded (the message names the file).
    #[error("voice model: {0}")]
    Model(String),
    /// Synthesis failed.
    #[error("synthesis failed: {0}")]
    Synth(String),
}
