//! Where the companion's voice goes (a device through kira, or the offline clock, standing in
//! for a device that went away) and which voice engine a persona speaks with.

use crossbeam_channel::Receiver;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
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
    /// The default audio device, or (with a clear log line) the offline clock when there is
    /// none; with the [`Failover`] that watches the device, stands in for it when it goes away
    /// and brings the voice back to a device when one returns.
    pub fn device_or_offline(data: SpeechStreamData) -> (Self, Failover, String) {
        let mut failover = Failover::new(data.handle());
        match tomoni_voice::playback::open_default_output() {
            Ok(mut m) => {
                let msg = match m.play(data) {
                    Ok(()) => "audio: default output device".to_string(),
                    Err(e) => format!("audio: the device refused the speech stream ({e}); speech is silent"),
                };
                (Output::Device(Box::new(m)), failover, msg)
            }
            Err(e) => {
                // A device plugged in later is found and used.
                failover.reopen(None, false);
                (
                    Self::offline(data, false),
                    failover,
                    format!("audio: no output device ({}); speech runs silent, timed by the frame clock", e.cause()),
                )
            }
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

/// How long speech may wait unplayed on a device before the device counts as gone: a live
/// device pulls every few milliseconds (a sound server's buffer, a few hundred at most), so a
/// second without a sample is a device that stopped, not a slow one; the companion's mouth
/// freezes no longer than this.
pub const STALL: Duration = Duration::from_secs(1);

/// The stall allowed a device in its first seconds: a sound server that has just come back
/// was seen to take over a second to start a new stream.
pub const STALL_NEW: Duration = Duration::from_secs(3);

/// How long a device counts as new.
const NEW_FOR: Duration = Duration::from_secs(5);

/// How often a device is looked for while there is none.
const REOPEN_EVERY: Duration = Duration::from_secs(1);

/// Why the device output counts as lost.
#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    /// The device said so (unplugged, its server gone): certain.
    Gone(String),
    /// Speech waited unplayed: the device stopped, or only its stream did (a sound server
    /// starved of CPU was seen to stall a live stream for 1.5 s). A new stream on the default
    /// device tells which.
    Stalled(String),
}

/// What the device finder found.
pub enum Reopened {
    /// A device opened.
    Device(Box<kira::AudioManager>),
    /// The look made at once after a stall found no device: the device is gone.
    NoneAtOnce,
}

/// Watches the device output and stands in for it. A device can go away under the companion
/// (headphones unplugged, a Bluetooth headset out of range, the sound server restarted); kira
/// restarts its stream only when another default device is there at that moment, and
/// otherwise stops pulling for good, which would freeze the companion mid-word with its turn
/// never ending. So the frame loop hands the voice to the offline clock (the companion goes on
/// speaking, silently and in time, and its turn ends), and a thread of its own looks for a
/// device once a second; when one opens, the voice moves back to it.
pub struct Failover {
    spare: SpeechStreamData,
    /// The audio clock when it last moved, and when that was (the stall watch).
    last_played: u64,
    /// See [`Self::last_played`].
    since: Instant,
    /// Speech was waiting to be played at the last look.
    waiting: bool,
    /// Errors the device reported since it opened (the first is logged).
    errors: u64,
    /// When the device opened.
    opened_at: Instant,
    reopened: Option<(Receiver<Reopened>, Arc<AtomicBool>)>,
}

impl Failover {
    /// Watches an output playing the stream `spare` is a handle on.
    pub fn new(spare: SpeechStreamData) -> Self {
        let now = Instant::now();
        Self { spare, last_played: 0, since: now, waiting: false, errors: 0, opened_at: now, reopened: None }
    }

    /// A device opened now, with the audio clock at `played`: the watch starts afresh.
    pub fn opened(&mut self, played: u64) {
        self.last_played = played;
        self.since = Instant::now();
        self.opened_at = self.since;
        self.waiting = false;
        self.errors = 0;
    }

    /// How long speech may wait unplayed before the device counts as gone.
    fn stall(&self) -> Duration {
        if self.opened_at.elapsed() < NEW_FOR { STALL_NEW } else { STALL }
    }

    /// Why the device `m` counts as lost, if it does, with the audio clock at `played` of
    /// `pushed`: a stream error that says so, or speech waiting unplayed for [`Self::stall`].
    /// Called every frame: it reads kira's error queue and two numbers (no lock, no
    /// allocation unless there is an error).
    pub fn gone(&mut self, m: &mut kira::AudioManager, played: u64, pushed: u64) -> Option<Loss> {
        let mut gone = None;
        while let Some(e) = m.backend_mut().pop_error() {
            use cpal::ErrorKind::*;
            if matches!(e.kind(), DeviceNotAvailable | StreamInvalidated | HostUnavailable) {
                gone = Some(Loss::Gone(e.to_string()));
            } else if self.errors == 0 {
                // A dying device repeats its error as fast as it is polled: said once.
                bevy::log::warn!("audio: {e}");
            }
            self.errors += 1;
        }
        // The watch starts when speech starts waiting (not when the app did: its first frame
        // may come seconds after the device opened, with the greeting queued).
        let waiting = pushed > played;
        let was_waiting = std::mem::replace(&mut self.waiting, waiting);
        if played != self.last_played || !waiting || !was_waiting {
            self.last_played = played;
            self.since = Instant::now();
        } else if gone.is_none() && self.since.elapsed() > self.stall() {
            gone = Some(Loss::Stalled(format!("no speech played for {:.1} s", self.since.elapsed().as_secs_f32())));
        }
        gone
    }

    /// A new handle on the voice's stream, for the next output.
    pub fn stream(&self) -> SpeechStreamData {
        self.spare.handle()
    }

    /// Starts looking for a device on a thread of its own (opening one may block), and drops
    /// the `dead` device's manager there too. `at_once`: the first look is made now, and
    /// its failing is told ([`Reopened::NoneAtOnce`]); else the first look is a second away.
    pub fn reopen(&mut self, dead: Option<Box<kira::AudioManager>>, at_once: bool) {
        self.stop_looking();
        let (tx, rx) = crossbeam_channel::bounded(2);
        let wanted = Arc::new(AtomicBool::new(true));
        let still = wanted.clone();
        let spawned = std::thread::Builder::new().name("tomoni-audio-reopen".into()).spawn(move || {
            drop(dead);
            let (mut first, mut tell) = (at_once, at_once);
            while still.load(Ordering::Acquire) {
                if !std::mem::take(&mut first) {
                    #[expect(
                        clippy::disallowed_methods,
                        reason = "the device finder's own thread, not the frame loop"
                    )]
                    std::thread::sleep(REOPEN_EVERY);
                }
                // Says "no device" without asking ALSA where there is certainly none.
                match tomoni_voice::playback::open_default_output() {
                    Ok(m) => {
                        let _ = tx.send(Reopened::Device(Box::new(m)));
                        return;
                    }
                    // Told once, after the look made at once.
                    Err(_) if std::mem::take(&mut tell) => {
                        let _ = tx.send(Reopened::NoneAtOnce);
                    }
                    Err(_) => {}
                }
            }
        });
        match spawned {
            Ok(_) => self.reopened = Some((rx, wanted)),
            Err(e) => bevy::log::warn!("audio: cannot look for a device ({e}); speech stays silent"),
        }
    }

    /// What the look since [`Self::reopen`] found, if it has found anything yet.
    pub fn try_reopened(&mut self) -> Option<Reopened> {
        let found = self.reopened.as_ref()?.0.try_recv().ok()?;
        if matches!(found, Reopened::Device(_)) {
            self.reopened = None;
        }
        Some(found)
    }

    fn stop_looking(&mut self) {
        if let Some((_, wanted)) = self.reopened.take() {
            wanted.store(false, Ordering::Release);
        }
    }
}

impl Drop for Failover {
    fn drop(&mut self) {
        self.stop_looking();
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
