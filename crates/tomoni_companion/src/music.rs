//! Ceremony music: decoded before the ceremony starts (never on the frame loop), played on the
//! same output as the voice — through kira on a device, or mixed sample-exact into the offline
//! clock for headless runs (so `ceremony.wav` holds voice and music as they were timed).

use kira::sound::static_sound::{StaticSoundData, StaticSoundHandle};
use kira::{Decibels, Tween};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Music gain under the voice (the vows must be heard over the procession).
pub const MUSIC_GAIN: f32 = 0.45;

/// A decoded music file.
#[derive(Clone)]
pub struct Track {
    /// kira's decoded sound (played as is on a device).
    pub data: StaticSoundData,
    /// Mono samples resampled to the offline rate (mixed into headless runs).
    pub mono: Arc<[f32]>,
}

impl std::fmt::Debug for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Track({:.1} s)", self.seconds())
    }
}

impl Track {
    /// Length, seconds.
    pub fn seconds(&self) -> f32 {
        self.mono.len() as f32 / crate::speech::OFFLINE_RATE as f32
    }
}

/// Decodes an audio file (WAV) in full.
pub fn decode(path: &Path) -> Result<Track, String> {
    let data = StaticSoundData::from_file(path).map_err(|e| format!("{}: cannot decode: {e}", path.display()))?;
    if data.frames.is_empty() {
        return Err(format!("{}: no audio in the file", path.display()));
    }
    // Linear resampling to the offline rate: the music is background, not speech.
    let ratio = f64::from(data.sample_rate) / f64::from(crate::speech::OFFLINE_RATE);
    let n = (data.frames.len() as f64 / ratio).floor() as usize;
    let mono: Arc<[f32]> = (0..n)
        .map(|i| {
            let x = i as f64 * ratio;
            let (a, t) = (x.floor() as usize, (x - x.floor()) as f32);
            let at = |k: usize| data.frames.get(k).map_or(0.0, |f| (f.left + f.right) * 0.5);
            at(a) * (1.0 - t) + at(a + 1) * t
        })
        .collect();
    Ok(Track { data, mono })
}

/// One piece of music playing in the offline mix.
#[derive(Debug)]
pub struct OfflineVoice {
    samples: Arc<[f32]>,
    pos: usize,
    fade_in: usize,
    /// Last sample to play (the piece's end or `seconds`).
    end: usize,
    fade_out: usize,
}

impl OfflineVoice {
    fn new(track: &Track, fade_in: f32, fade_out: f32, seconds: Option<f32>) -> Self {
        let rate = crate::speech::OFFLINE_RATE as f32;
        let len = track.mono.len();
        let end = seconds.map_or(len, |s| ((s * rate) as usize).min(len));
        Self {
            samples: track.mono.clone(),
            pos: 0,
            fade_in: (fade_in * rate) as usize,
            end,
            fade_out: ((fade_out * rate) as usize).min(end),
        }
    }

    /// Adds this voice into `buf`; false once it has ended.
    pub fn mix(&mut self, buf: &mut [f32]) -> bool {
        for out in buf.iter_mut() {
            if self.pos >= self.end {
                return false;
            }
            let gin = if self.fade_in == 0 { 1.0 } else { (self.pos as f32 / self.fade_in as f32).min(1.0) };
            let left = self.end - self.pos;
            let gout = if self.fade_out == 0 { 1.0 } else { (left as f32 / self.fade_out as f32).min(1.0) };
            *out += self.samples[self.pos] * gin * gout * MUSIC_GAIN;
            self.pos += 1;
        }
        self.pos < self.end
    }

    /// Ends the piece `fade_out` seconds from now (sooner if it ends sooner).
    fn stop(&mut self, fade_out: f32) {
        let n = (fade_out * crate::speech::OFFLINE_RATE as f32) as usize;
        self.end = self.end.min(self.pos + n);
        self.fade_out = n.min(self.end - self.pos);
    }
}

/// Music on a device: kira's handle and when to fade it out.
pub struct DeviceVoice {
    handle: StaticSoundHandle,
}

/// Music playing now, on whichever output the voice uses.
#[derive(Default)]
pub struct MusicPlayer {
    /// Offline pieces (mixed by the offline clock).
    pub offline: Vec<OfflineVoice>,
    device: Vec<DeviceVoice>,
}

impl MusicPlayer {
    /// Starts a piece on `output`.
    pub fn play(
        &mut self,
        output: &mut crate::speech::Output,
        track: &Track,
        fade_in: f32,
        fade_out: f32,
        seconds: Option<f32>,
    ) {
        match output {
            crate::speech::Output::Offline { .. } => {
                self.offline.push(OfflineVoice::new(track, fade_in, fade_out, seconds))
            }
            crate::speech::Output::Device(m) => {
                let mut data = track
                    .data
                    .volume(Decibels(20.0 * MUSIC_GAIN.log10()))
                    .fade_in_tween(Some(Tween { duration: Duration::from_secs_f32(fade_in), ..Default::default() }));
                if let Some(s) = seconds {
                    data = data.slice(0.0..f64::from(s));
                }
                match m.play(data) {
                    Ok(handle) => self.device.push(DeviceVoice { handle }),
                    Err(e) => bevy::log::warn!("music could not play: {e}"),
                }
            }
        }
    }

    /// Fades out everything playing.
    pub fn stop(&mut self, fade_out: f32) {
        for v in &mut self.offline {
            v.stop(fade_out);
        }
        for v in &mut self.device {
            v.handle.stop(Tween { duration: Duration::from_secs_f32(fade_out), ..Default::default() });
        }
    }

    /// The device went away with its music: what played there is over (a ceremony's music
    /// step ends instead of waiting on a device that will never finish it).
    pub fn forget_device(&mut self) {
        self.device.clear();
    }

    /// Whether any music is still playing.
    pub fn playing(&mut self) -> bool {
        self.device.retain(|v| v.handle.state() != kira::sound::PlaybackState::Stopped);
        !self.offline.is_empty() || !self.device.is_empty()
    }

    /// Mixes the offline pieces into `buf` (the offline clock's frame of audio).
    pub fn mix(&mut self, buf: &mut [f32]) {
        self.offline.retain_mut(|v| v.mix(buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(seconds: f32) -> Track {
        let n = (seconds * crate::speech::OFFLINE_RATE as f32) as usize;
        let frames: Arc<[kira::Frame]> = (0..n).map(|_| kira::Frame::from_mono(1.0)).collect();
        let data = StaticSoundData {
            sample_rate: crate::speech::OFFLINE_RATE,
            frames,
            settings: Default::default(),
            slice: None,
        };
        Track { mono: (0..n).map(|_| 1.0).collect(), data }
    }

    #[test]
    fn offline_music_fades_in_plays_and_fades_out_on_the_sample_clock() {
        let t = track(2.0);
        let mut v = OfflineVoice::new(&t, 0.5, 0.5, Some(1.5));
        let mut buf = vec![0.0; crate::speech::OFFLINE_RATE as usize * 2];
        assert!(!v.mix(&mut buf), "a 1.5 s piece ends inside 2 s");
        let at = |s: f32| buf[(s * crate::speech::OFFLINE_RATE as f32) as usize] / MUSIC_GAIN;
        assert!((at(0.25) - 0.5).abs() < 0.01, "half way up the fade-in: {}", at(0.25));
        assert!((at(0.75) - 1.0).abs() < 0.01);
        assert!((at(1.25) - 0.5).abs() < 0.01, "half way down the fade-out: {}", at(1.25));
        assert_eq!(at(1.6), 0.0, "silent after `seconds`");
    }

    #[test]
    fn stopping_fades_from_where_it_is() {
        let t = track(10.0);
        let mut p = MusicPlayer::default();
        p.offline.push(OfflineVoice::new(&t, 0.0, 1.0, None));
        let mut buf = vec![0.0; 4800];
        p.mix(&mut buf);
        p.stop(0.1);
        let mut buf = vec![0.0; 9600];
        p.mix(&mut buf);
        assert!(buf[0] > 0.9 * MUSIC_GAIN && buf[4799] < 0.01 && buf[4800] == 0.0);
        assert!(!p.playing());
    }
}
