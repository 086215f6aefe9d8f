//! Playing speech through kira. With no sound card (CI, servers) the default backend cannot
//! open a device: that is reported as a clear error, never a crash.

use crate::Speech;
use kira::sound::static_sound::{StaticSoundData, StaticSoundSettings};
use kira::{AudioManager, AudioManagerSettings, DefaultBackend, Frame};
use std::sync::Arc;

/// Why speech could not be played.
#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    /// No audio output device could be opened.
    #[error("no audio output device ({0}); write the speech to a file with --out instead")]
    NoDevice(String),
    /// kira refused the sound.
    #[error("cannot play: {0}")]
    Play(String),
}

/// Opens the default audio output. Where Linux lists no sound card and no sound server is
/// reachable, it says so without asking ALSA, whose library would print eight lines of
/// `ALSA lib … cannot find card '0'` to the terminal before failing the same way.
pub fn open_default_output() -> Result<AudioManager<DefaultBackend>, PlaybackError> {
    if let Some(why) = no_sound_card(&SoundProbe::from_system()) {
        return Err(PlaybackError::NoDevice(why));
    }
    AudioManager::<DefaultBackend>::new(AudioManagerSettings::default())
        .map_err(|e| PlaybackError::NoDevice(e.to_string()))
}

/// Why there is certainly no sound device to open, input or output (Linux: no card listed and
/// no sound server), without asking ALSA and its eight lines of noise; `None`: try.
pub fn no_sound_device() -> Option<String> {
    no_sound_card(&SoundProbe::from_system())
}

/// What decides whether there is any sound output to try.
#[derive(Debug, Default)]
struct SoundProbe {
    /// `/proc/asound/cards`, when it could be read.
    cards: Option<String>,
    /// A PulseAudio or PipeWire server is reachable (it may route ALSA's default elsewhere).
    sound_server: bool,
}

impl SoundProbe {
    fn from_system() -> Self {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(std::path::PathBuf::from);
        // A server counts when its socket answers: a socket left by a server that died (or was
        // restarted a moment ago) is not one, and asking ALSA then only prints its noise.
        let answers = |p: &std::path::Path| {
            #[cfg(unix)]
            return std::os::unix::net::UnixStream::connect(p).is_ok();
            #[cfg(not(unix))]
            return p.exists();
        };
        let pulse = std::env::var("PULSE_SERVER")
            .ok()
            .map(|s| s.strip_prefix("unix:").is_none_or(|path| answers(std::path::Path::new(path))));
        let sound_server = pulse.unwrap_or(false)
            || runtime.is_some_and(|d| answers(&d.join("pulse/native")) || answers(&d.join("pipewire-0")));
        SoundProbe { cards: std::fs::read_to_string("/proc/asound/cards").ok(), sound_server }
    }
}

/// Why there is certainly no output (Linux only; elsewhere the backend is asked).
fn no_sound_card(p: &SoundProbe) -> Option<String> {
    if !cfg!(target_os = "linux") || p.sound_server {
        return None;
    }
    match &p.cards {
        None => Some("no sound card: /proc/asound/cards is missing".into()),
        Some(c) if c.trim().is_empty() || c.contains("no soundcards") => {
            Some("no sound card: /proc/asound/cards lists none".into())
        }
        Some(_) => None,
    }
}

impl PlaybackError {
    /// The cause alone, without the CLI's advice (for callers that fall back on their own).
    pub fn cause(&self) -> &str {
        match self {
            PlaybackError::NoDevice(why) | PlaybackError::Play(why) => why,
        }
    }
}

/// The speech as a kira sound.
pub fn sound_data(speech: &Speech) -> StaticSoundData {
    let frames: Arc<[Frame]> = speech.samples.iter().map(|&s| Frame::from_mono(f32::from(s) / 32768.0)).collect();
    StaticSoundData { sample_rate: speech.sample_rate, frames, settings: StaticSoundSettings::default(), slice: None }
}

/// Plays `speech` on the default output and waits until it has finished (CLI use only: this
/// blocks, so it never runs on the frame loop).
pub fn play_blocking(speech: &Speech) -> Result<(), PlaybackError> {
    let mut manager = open_default_output()?;
    manager.play(sound_data(speech)).map_err(|e| PlaybackError::Play(e.to_string()))?;
    std::thread::sleep(std::time::Duration::from_secs_f64(speech.duration_ms() / 1000.0 + 0.2));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn no_card_is_known_without_asking_alsa() {
        let none = SoundProbe { cards: None, sound_server: false };
        assert!(no_sound_card(&none).unwrap().contains("missing"));
        let empty = SoundProbe { cards: Some("--- no soundcards ---\n".into()), sound_server: false };
        assert!(no_sound_card(&empty).unwrap().contains("lists none"));
        let card =
            SoundProbe { cards: Some(" 0 [PCH            ]: HDA-Intel - HDA Intel PCH\n".into()), sound_server: false };
        assert_eq!(no_sound_card(&card), None);
        // A sound server may route ALSA's default device even in a container with no card.
        assert_eq!(no_sound_card(&SoundProbe { cards: None, sound_server: true }), None);
    }
}
