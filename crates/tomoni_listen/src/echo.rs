//! Telling the person's voice from the companion's own coming back into the microphone, with
//! the playback signal known: a Geigel-style double-talk detector on 32 ms energies. While the
//! companion speaks, a chunk counts as the person's only when the microphone is louder than
//! [`ECHO_RATIO`] of the loudest recent playback: its echo, which a room or glasses attenuate,
//! stays under that; a person talking over it does not.
//!
//! Why not just raise the VAD threshold while the companion speaks: Silero is sure (p > 0.9)
//! that the companion's echo is speech, because it is; no threshold separates the two voices.
//! `tests/barge_in.rs` measures both.

use std::collections::VecDeque;

/// Echo must come back at least this much quieter than it was played (6 dB, Geigel's classic
/// assumption); a person's voice at the microphone is far louder than that.
pub const ECHO_RATIO: f32 = 0.5;

/// How far back the loudest playback is looked for: the echo path's delay (device buffers,
/// the room) plus the slack between reading the tap and the microphone.
pub const ECHO_WINDOW_MS: u32 = 300;

/// Energies of what was played, recent first-in-last-out, per 32 ms.
#[derive(Debug, Clone)]
pub struct EchoGate {
    rms: VecDeque<f32>,
    partial: Vec<f32>,
    rate: u32,
    window: usize,
}

impl Default for EchoGate {
    fn default() -> Self {
        Self::new()
    }
}

impl EchoGate {
    /// A gate that has heard no playback.
    pub fn new() -> Self {
        let window = (ECHO_WINDOW_MS as usize).div_ceil(32) + 1;
        Self { rms: VecDeque::with_capacity(window + 1), partial: Vec::new(), rate: crate::audio::RATE, window }
    }

    /// What the companion played since the last call, at `rate` Hz, in play order.
    pub fn reference(&mut self, samples: &[f32], rate: u32) {
        if rate != self.rate {
            self.partial.clear();
            self.rate = rate;
        }
        let chunk = (rate as usize * 32 / 1000).max(1);
        self.partial.extend_from_slice(samples);
        let mut at = 0;
        while self.partial.len() - at >= chunk {
            let c = &self.partial[at..at + chunk];
            at += chunk;
            self.rms.push_back(rms(c));
            if self.rms.len() > self.window {
                self.rms.pop_front();
            }
        }
        self.partial.drain(..at);
    }

    /// Whether a microphone chunk holds more than the companion's echo: the person's voice.
    pub fn near_end(&self, mic: &[f32]) -> bool {
        let played = self.rms.iter().copied().fold(0.0f32, f32::max);
        rms(mic) > ECHO_RATIO * played
    }
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(amp: f32, n: usize) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.3).sin() * amp).collect()
    }

    #[test]
    fn echo_under_half_the_playback_is_not_the_person_but_a_louder_voice_is() {
        let mut g = EchoGate::new();
        g.reference(&tone(0.5, 22_050), 22_050);
        assert!(!g.near_end(&tone(0.2, 512)), "an echo 8 dB down");
        assert!(g.near_end(&tone(0.2, 512).iter().zip(tone(0.4, 512)).map(|(a, b)| a + b).collect::<Vec<_>>()));
        // Nothing played: anything is the person.
        assert!(EchoGate::new().near_end(&tone(0.01, 512)));
    }

    #[test]
    fn playback_older_than_the_window_no_longer_masks_the_person() {
        let mut g = EchoGate::new();
        g.reference(&tone(0.5, 16_000), 16_000);
        assert!(!g.near_end(&tone(0.1, 512)));
        for _ in 0..12 {
            g.reference(&vec![0.0; 512], 16_000); // 384 ms of silence played
        }
        assert!(g.near_end(&tone(0.1, 512)));
    }
}
