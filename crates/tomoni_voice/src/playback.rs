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

/// The speech as a kira sound.
pub fn sound_data(speech: &Speech) -> StaticSoundData {
    let frames: Arc<[Frame]> = speech.samples.iter().map(|&s| Frame::from_mono(f32::from(s) / 32768.0)).collect();
    StaticSoundData { sample_rate: speech.sample_rate, frames, settings: StaticSoundSettings::default(), slice: None }
}

/// Plays `speech` on the default output and waits until it has finished (CLI use only: this
/// blocks, so it never runs on the frame loop).
pub fn play_blocking(speech: &Speech) -> Result<(), PlaybackError> {
    let mut manager = AudioManager::<DefaultBackend>::new(AudioManagerSettings::default())
        .map_err(|e| PlaybackError::NoDevice(e.to_string()))?;
    manager.play(sound_data(speech)).map_err(|e| PlaybackError::Play(e.to_string()))?;
    std::thread::sleep(std::time::Duration::from_secs_f64(speech.duration_ms() / 1000.0 + 0.2));
    Ok(())
}
