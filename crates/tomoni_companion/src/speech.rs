//! Where the companion's voice goes (a device through kira, or the offline clock) and which
//! voice engine a persona speaks with.

use tomoni_voice::speaker::VoiceEngine;
use tomoni_voice::stream::{OfflineOutput, SpeechStreamData};

/// Where the companion's voice goes.
pub enum Output {
    /// A real audio device through kira (held to keep the stream playing).
    Device(Box<kira::AudioManager>),
    /// No device: samples are pulled by the frame loop, one frame's worth per update, so the
    /// audio clock runs on the app's clock. `capture` keeps them (the headless demo's WAV).
    Offline {
        /// The stream.
        out: OfflineOutput,
        /// Scratch for one frame.
        buf: Vec<f32>,
        /// Everything rendered, if kept.
        capture: Option<Vec<f32>>,
        /// Output rate.
        rate: u32,
        /// Fractional samples carried between frames.
        carry: f64,
    },
}

/// Output rate of the offline renderer.
pub const OFFLINE_RATE: u32 = 48_000;

impl Output {
    /// The default audio device, or (with a clear log line) the offline clock when there is none.
    pub fn device_or_offline(data: SpeechStreamData) -> (Self, String) {
        match tomoni_voice::playback::open_default_output() {
            Ok(mut m) => {
                let msg = match m.play(data) {
                    Ok(()) => "audio: default output device".to_string(),
                    Err(e) => format!("audio: the device refused the speech stream ({e}); speech is silent"),
                };
                (Output::Device(Box::new(m)), msg)
            }
            Err(e) => (
                Self::offline(data, false),
                format!("audio: no output device ({}); speech runs silent, timed by the frame clock", e.cause()),
            ),
        }
    }

    /// The offline clock; `keep` stores every sample for a WAV.
    pub fn offline(data: SpeechStreamData, keep: bool) -> Self {
        Output::Offline {
            out: data.into_offline(),
            buf: vec![0.0; OFFLINE_RATE as usize / 10],
            capture: keep.then(|| Vec::with_capacity(OFFLINE_RATE as usize * 120)),
            rate: OFFLINE_RATE,
            carry: 0.0,
        }
    }
}

/// Picks the persona's voice engine. A Piper voice that is not set up (no model, no ONNX
/// Runtime) falls back to espeak-ng with a warning: the companion always has a voice.
pub fn voice_engine(v: &tomoni_persona::persona::VoiceSettings) -> VoiceEngine {
    voice_engine_strict(v).unwrap_or_else(|(why, fallback)| {
        bevy::log::warn!("{why}; espeak-ng speaks instead");
        VoiceEngine::Espeak(fallback)
    })
}

/// The persona's voice engine exactly as configured, or why not with the espeak-ng fallback
/// (`tomoni say --engine piper` reports the reason instead of speaking another voice).
pub fn voice_engine_strict(
    v: &tomoni_persona::persona::VoiceSettings,
) -> Result<VoiceEngine, (String, tomoni_voice::espeak::EspeakVoice)> {
    use tomoni_voice::espeak::EspeakVoice;
    let espeak = |voice: &str| EspeakVoice { voice: voice.into(), rate: v.rate, pitch: v.pitch };
    match v.engine.as_str() {
        "openai" => Ok(VoiceEngine::OpenAi(tomoni_voice::openai_tts::OpenAiSpeech::new(
            &v.endpoint,
            &v.model,
            &v.voice,
            Some(v.api_key_env.clone()).filter(|k| !k.is_empty()),
        ))),
        "piper" => {
            let found = tomoni_voice::piper::PiperSpec::find(&v.voice).and_then(|spec| {
                tomoni_voice::onnx::check_runtime().map(|_| spec).map_err(tomoni_voice::TtsError::Model)
            });
            match found {
                Ok(mut spec) => {
                    // `rate` is words per minute for every engine: 165 is the voice's own pace.
                    spec.length_scale *= 165.0 / v.rate.clamp(80, 450) as f32;
                    let fallback = espeak(&spec.espeak_voice);
                    Ok(VoiceEngine::Piper { spec, fallback })
                }
                Err(e) => Err((e.to_string(), espeak("en-us"))),
            }
        }
        _ => Ok(VoiceEngine::Espeak(espeak(&v.voice))),
    }
}
