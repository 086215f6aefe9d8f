//! Phonemes → mouth shapes. The 15 OpenXR/Oculus visemes are the intermediate set; each maps
//! to weights on VRM's mouth expressions `aa ih ou ee oh` (bilabials close the mouth: all zero).
//! The track is sampled at 60 Hz with coarticulation: a short look-ahead (the lips move before
//! the sound), fast attack and slower release, and forced closure for p/b/m.

use crate::Phoneme;
use serde::Serialize;

/// The VRM mouth expressions, in weight order.
pub const MOUTH: [&str; 5] = ["aa", "ih", "ou", "ee", "oh"];

/// The 15 OpenXR (Oculus) visemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Viseme {
    /// Silence.
    Sil,
    /// p b m.
    PP,
    /// f v.
    FF,
    /// θ ð.
    TH,
    /// t d.
    DD,
    /// k g ŋ.
    Kk,
    /// tʃ dʒ ʃ ʒ.
    CH,
    /// s z.
    SS,
    /// n l.
    Nn,
    /// r ɹ.
    RR,
    /// a ɑ æ ʌ.
    Aa,
    /// e ɛ ə.
    E,
    /// i ɪ j.
    Ih,
    /// o ɔ.
    Oh,
    /// u ʊ w ɯ.
    Ou,
}

impl Viseme {
    /// The viseme of an IPA phoneme as espeak-ng names it (stress and length marks ignored;
    /// a diphthong takes its first vowel; an affricate its fricative).
    pub fn from_ipa(ipa: &str) -> Viseme {
        let s: String = ipa.chars().filter(|c| !matches!(c, 'ˈ' | 'ˌ' | 'ː' | 'ˑ' | '_' | '-' | '\u{303}')).collect();
        if s.starts_with("tʃ") || s.starts_with("dʒ") || s.starts_with("ts") || s.starts_with(['ʨ', 'ʥ', 'ʦ', 'ʣ'])
        {
            return Viseme::CH;
        }
        match s.chars().next() {
            None => Viseme::Sil,
            Some(c) => match c {
                'p' | 'b' | 'm' | 'ɸ' | 'β' => Viseme::PP,
                'f' | 'v' => Viseme::FF,
                'θ' | 'ð' => Viseme::TH,
                't' | 'd' | 'ɾ' | 'ʔ' => Viseme::DD,
                'k' | 'g' | 'ɡ' | 'ŋ' | 'x' | 'ɣ' | 'q' | 'h' | 'ç' => Viseme::Kk,
                'ʃ' | 'ʒ' | 'ɕ' | 'ʑ' => Viseme::CH,
                's' | 'z' => Viseme::SS,
                'n' | 'l' | 'ɲ' | 'ɫ' | 'ɴ' => Viseme::Nn,
                'r' | 'ɹ' | 'ʁ' | 'ɻ' | 'ɚ' | 'ɝ' => Viseme::RR,
                'a' | 'ɑ' | 'æ' | 'ʌ' | 'ɐ' | 'ɒ' | 'ɶ' => Viseme::Aa,
                'e' | 'ɛ' | 'ə' | 'ɜ' | 'œ' | 'ø' | 'ɘ' | 'ɞ' | 'ε' => Viseme::E,
                'i' | 'ɪ' | 'j' | 'y' | 'ɨ' | 'ᵻ' | 'ʝ' => Viseme::Ih,
                'o' | 'ɔ' | 'ɵ' | 'ɤ' => Viseme::Oh,
                'u' | 'ʊ' | 'w' | 'ɯ' | 'ʉ' | 'ʏ' | 'ʍ' | 'ɰ' => Viseme::Ou,
                _ => Viseme::Sil,
            },
        }
    }

    /// Weights on `aa ih ou ee oh` that show this viseme.
    pub fn mouth(self) -> [f32; 5] {
        match self {
            Viseme::Sil | Viseme::PP => [0.0; 5],
            Viseme::FF => [0.0, 0.25, 0.0, 0.15, 0.0],
            Viseme::TH => [0.1, 0.2, 0.0, 0.2, 0.0],
            Viseme::DD => [0.2, 0.3, 0.0, 0.1, 0.0],
            Viseme::Kk => [0.3, 0.2, 0.0, 0.1, 0.0],
            Viseme::CH => [0.0, 0.1, 0.35, 0.3, 0.0],
            Viseme::SS => [0.0, 0.35, 0.0, 0.35, 0.0],
            Viseme::Nn => [0.15, 0.3, 0.0, 0.1, 0.0],
            Viseme::RR => [0.0, 0.0, 0.45, 0.0, 0.15],
            Viseme::Aa => [1.0, 0.0, 0.0, 0.0, 0.0],
            Viseme::E => [0.2, 0.0, 0.0, 0.8, 0.0],
            Viseme::Ih => [0.0, 0.9, 0.0, 0.2, 0.0],
            Viseme::Oh => [0.15, 0.0, 0.2, 0.0, 0.9],
            Viseme::Ou => [0.0, 0.0, 1.0, 0.0, 0.1],
        }
    }
}

/// The viseme of the phoneme sounding at `t_ms` (no look-ahead, no smoothing): the ground
/// truth audio analysis is measured against.
pub fn viseme_at(phonemes: &[Phoneme], t_ms: f64, duration_ms: f64) -> Viseme {
    if t_ms < 0.0 || t_ms >= duration_ms {
        return Viseme::Sil;
    }
    match phonemes.partition_point(|p| p.start_ms <= t_ms) {
        0 => Viseme::Sil,
        i => Viseme::from_ipa(&phonemes[i - 1].ipa),
    }
}

/// Lips lead the sound by this much.
pub const LOOK_AHEAD_MS: f64 = 30.0;
/// Time constant towards a more open shape.
pub const ATTACK_MS: f64 = 22.0;
/// Time constant towards a more closed shape.
pub const RELEASE_MS: f64 = 45.0;
/// Track sample rate.
pub const FPS: f64 = 60.0;

/// Mouth weights at 60 Hz over an utterance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisemeTrack {
    /// Frames per second.
    pub fps: f64,
    /// Weights on [`MOUTH`] per frame; frame `i` is at `i / fps` seconds of audio.
    pub frames: Vec<[f32; 5]>,
}

impl VisemeTrack {
    /// The track for timed phonemes over `duration_ms` of audio.
    pub fn from_phonemes(phonemes: &[Phoneme], duration_ms: f64) -> Self {
        let n = (duration_ms / 1000.0 * FPS).ceil() as usize + 1;
        let mut frames = Vec::with_capacity(n);
        let mut w = [0.0f32; 5];
        let dt = 1000.0 / FPS;
        let up = 1.0 - (-dt / ATTACK_MS).exp();
        let down = 1.0 - (-dt / RELEASE_MS).exp();
        let mut idx = 0;
        for i in 0..n {
            let t = i as f64 * dt + LOOK_AHEAD_MS;
            while idx + 1 < phonemes.len() && phonemes[idx + 1].start_ms <= t {
                idx += 1;
            }
            let v = match phonemes.get(idx) {
                Some(p) if p.start_ms <= t && t < duration_ms => Viseme::from_ipa(&p.ipa),
                _ => Viseme::Sil,
            };
            let target = v.mouth();
            if v == Viseme::PP {
                w = [0.0; 5]; // lips shut: no smoothing may leave them open
            } else {
                for k in 0..5 {
                    let a = if target[k] > w[k] { up } else { down };
                    w[k] += (target[k] - w[k]) * a as f32;
                }
            }
            frames.push(w);
        }
        Self { fps: FPS, frames }
    }

    /// Weights at `seconds` of audio (linear between frames; silence outside).
    pub fn at(&self, seconds: f64) -> [f32; 5] {
        let x = seconds * self.fps;
        if x < 0.0 || self.frames.is_empty() {
            return [0.0; 5];
        }
        let i = x.floor() as usize;
        let f = (x - i as f64) as f32;
        match (self.frames.get(i), self.frames.get(i + 1)) {
            (Some(a), Some(b)) => std::array::from_fn(|k| a[k] + (b[k] - a[k]) * f),
            (Some(a), None) => *a,
            _ => [0.0; 5],
        }
    }

    /// The track as JSON: time in milliseconds and a weight per expression.
    pub fn to_json(&self) -> serde_json::Value {
        let frames: Vec<serde_json::Value> = self
            .frames
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let mut o = serde_json::Map::new();
                o.insert("t_ms".into(), serde_json::json!((i as f64 * 1000.0 / self.fps * 10.0).round() / 10.0));
                for (k, name) in MOUTH.iter().enumerate() {
                    o.insert((*name).into(), serde_json::json!((f64::from(w[k]) * 1000.0).round() / 1000.0));
                }
                serde_json::Value::Object(o)
            })
            .collect();
        serde_json::json!({ "fps": self.fps, "expressions": MOUTH, "frames": frames })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ms: f64, ipa: &str) -> Phoneme {
        Phoneme { start_ms: ms, ipa: ipa.into() }
    }

    #[test]
    fn ipa_to_visemes() {
        for (ipa, v) in [
            ("p", Viseme::PP),
            ("m", Viseme::PP),
            ("f", Viseme::FF),
            ("ð", Viseme::TH),
            ("t", Viseme::DD),
            ("ŋ", Viseme::Kk),
            ("tʃ", Viseme::CH),
            ("ʃ", Viseme::CH),
            ("z", Viseme::SS),
            ("l", Viseme::Nn),
            ("ɹ", Viseme::RR),
            ("ˈa", Viseme::Aa),
            ("aɪ", Viseme::Aa),
            ("ɛ", Viseme::E),
            ("iː", Viseme::Ih),
            ("oʊ", Viseme::Oh),
            ("uː", Viseme::Ou),
            ("ɯ", Viseme::Ou),
            ("", Viseme::Sil),
        ] {
            assert_eq!(Viseme::from_ipa(ipa), v, "{ipa}");
        }
    }

    #[test]
    fn bilabials_close_the_mouth_and_vowels_open_it_ahead_of_the_sound() {
        // "mama": m 0–80 ms, a 80–250, m 250–330, a 330–500.
        let ph = [p(0.0, "m"), p(80.0, "ˈa"), p(250.0, "m"), p(330.0, "a")];
        let t = VisemeTrack::from_phonemes(&ph, 500.0);
        assert_eq!(t.at(0.270)[0], 0.0, "closed during the second m");
        assert!(t.at(0.200)[0] > 0.8, "open on the first a: {:?}", t.at(0.2));
        // Look-ahead: the mouth starts opening before the vowel's sound at 80 ms.
        assert!(t.at(0.070)[0] > 0.2, "{:?}", t.at(0.07));
        // No chatter: one frame to the next never jumps more than the attack allows.
        let up = 1.0 - (-(1000.0 / FPS) / ATTACK_MS).exp();
        assert!(t.frames.windows(2).all(|w| w[1][0] - w[0][0] <= up as f32 + 1e-6));
    }

    #[test]
    fn at_interpolates_and_is_silent_outside() {
        let t = VisemeTrack { fps: 60.0, frames: vec![[0.0; 5], [1.0, 0.0, 0.0, 0.0, 0.0]] };
        assert!((t.at(0.5 / 60.0)[0] - 0.5).abs() < 1e-6);
        assert_eq!(t.at(-1.0), [0.0; 5]);
        assert_eq!(t.to_json()["frames"][1]["aa"], 1.0);
    }
}
