//! Where the person's voice comes from: a source of 16 kHz mono blocks behind one trait, so the
//! live microphone, `--mic-wav FILE` and tests all feed the same listener.

use crate::ListenError;
use std::path::Path;

/// The rate every model here listens at (Silero VAD and Whisper).
pub const RATE: u32 = 16_000;

/// A source of the person's voice, already mono at [`RATE`].
pub trait AudioSource: Send {
    /// Appends the samples available now (blocking for at most `wait` for some to come);
    /// `Ok(false)` when the source has ended.
    fn read(&mut self, out: &mut Vec<f32>, wait: std::time::Duration) -> Result<bool, ListenError>;
}

/// A WAV file as a source: all of it at once (`tomoni listen`), or at the pace it was spoken
/// (`--mic-wav`, tests of barge-in that need the audio to arrive while the companion talks).
pub struct WavSource {
    samples: Vec<f32>,
    at: usize,
    paced: Option<std::time::Instant>,
}

impl WavSource {
    /// Reads and resamples `path`; `paced` hands samples out no faster than real time.
    pub fn open(path: &Path, paced: bool) -> Result<Self, ListenError> {
        Ok(Self::from_samples(read_wav(path)?, paced))
    }

    /// 16 kHz samples as a source.
    pub fn from_samples(samples: Vec<f32>, paced: bool) -> Self {
        Self { samples, at: 0, paced: paced.then(std::time::Instant::now) }
    }
}

impl AudioSource for WavSource {
    fn read(&mut self, out: &mut Vec<f32>, wait: std::time::Duration) -> Result<bool, ListenError> {
        if self.at >= self.samples.len() {
            return Ok(false);
        }
        let until = match self.paced {
            None => self.samples.len(),
            Some(t0) => {
                std::thread::sleep(wait.min(std::time::Duration::from_millis(20)));
                ((t0.elapsed().as_secs_f64() * f64::from(RATE)) as usize).min(self.samples.len())
            }
        };
        out.extend_from_slice(&self.samples[self.at..until.max(self.at)]);
        self.at = until.max(self.at);
        Ok(true)
    }
}

/// A WAV file (PCM 8/16/24/32-bit or float, any rate, any channels) as 16 kHz mono.
pub fn read_wav(path: &Path) -> Result<Vec<f32>, ListenError> {
    let bad = |e: hound::Error| ListenError::Input(format!("{}: {e}", path.display()));
    let mut r = hound::WavReader::open(path).map_err(bad)?;
    let spec = r.spec();
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>().map_err(bad)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect::<Result<_, _>>().map_err(bad)?
        }
    };
    let ch = usize::from(spec.channels.max(1));
    let mono: Vec<f32> = interleaved.chunks(ch).map(|c| c.iter().sum::<f32>() / ch as f32).collect();
    Ok(resample(&mono, spec.sample_rate, RATE))
}

/// Band-limited resampling (a Hann-windowed sinc low-passed below the lower Nyquist): a
/// microphone at 44.1/48 kHz or a voice at 22.05 kHz must not alias into the band Whisper hears.
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    const HALF: isize = 16; // taps each side, in input samples at the cut-off's scale
    let ratio = f64::from(to) / f64::from(from);
    let cutoff = ratio.min(1.0) * 0.95;
    let half = (HALF as f64 / cutoff).ceil() as isize;
    let n = (input.len() as f64 * ratio).floor() as usize;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let x = i as f64 / ratio;
        let centre = x.floor() as isize;
        let (mut acc, mut norm) = (0.0f64, 0.0f64);
        for j in (centre - half + 1)..=(centre + half) {
            let t = x - j as f64;
            let w = 0.5 + 0.5 * (std::f64::consts::PI * t / half as f64).cos();
            let arg = std::f64::consts::PI * t * cutoff;
            let sinc = if arg.abs() < 1e-9 { 1.0 } else { arg.sin() / arg };
            let k = w * sinc * cutoff;
            norm += k;
            if j >= 0 && (j as usize) < input.len() {
                acc += k * f64::from(input[j as usize]);
            }
        }
        out.push((acc / norm.max(1e-9)) as f32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, secs: f64) -> Vec<f32> {
        (0..(f64::from(rate) * secs) as usize)
            .map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() as f32 * 0.5)
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn speech_band_passes_and_what_would_alias_is_removed() {
        // 1 kHz is in the speech band: kept at full level.
        let kept = resample(&tone(1000.0, 48_000, 0.5), 48_000, RATE);
        assert_eq!(kept.len(), 8000);
        assert!((rms(&kept[200..7800]) - 0.3536).abs() < 0.01, "{}", rms(&kept[200..7800]));
        // 12 kHz would fold to 4 kHz with naive decimation: it must be (almost) gone.
        let folded = resample(&tone(12_000.0, 48_000, 0.5), 48_000, RATE);
        assert!(rms(&folded[200..7800]) < 0.01, "{}", rms(&folded[200..7800]));
    }

    #[test]
    fn a_wav_of_any_layout_reads_as_16k_mono() {
        let dir = std::env::temp_dir().join(format!("tomoni-listen-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stereo.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 22_050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for s in tone(440.0, 22_050, 1.0) {
            w.write_sample((s * 32767.0) as i16).unwrap();
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        let mono = read_wav(&path).unwrap();
        assert_eq!(mono.len(), 16_000);
        // Left at 0.5 peak, right silent: the mix is a quarter-peak tone.
        assert!((rms(&mono[200..15800]) - 0.1768).abs() < 0.01, "{}", rms(&mono[200..15800]));
        let broken = dir.join("broken.wav");
        std::fs::write(&broken, b"RIFF\x10\x00\x00\x00WAVEjunk").unwrap();
        let e = read_wav(&broken).unwrap_err().to_string();
        assert!(e.contains("broken.wav"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
