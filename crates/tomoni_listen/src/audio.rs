//! Where the person's voice comes from: a source of 16 kHz mono blocks behind one trait, so the
//! live microphone, `--mic-wav FILE` and tests all feed the same listener.

use crate::ListenError;
use std::path::Path;

/// The rate every model here listens at (Silero VAD and Whisper).
pub const RATE: u32 = 16_000;

/// Samples at [`RATE`] in `ms` milliseconds.
pub fn samples(ms: u32) -> u64 {
    u64::from(ms) * u64::from(RATE) / 1000
}

/// A source of the person's voice, already mono at [`RATE`].
pub trait AudioSource: Send {
    /// Appends the samples available now (blocking for at most `wait` for some to come);
    /// `Ok(false)` when the source has ended.
    fn read(&mut self, out: &mut Vec<f32>, wait: std::time::Duration) -> Result<bool, ListenError>;

    /// The ears have just opened (push-to-talk pressed, a script's listen step begun). A
    /// microphone has nothing to do; a cued recording starts speaking.
    fn opened(&mut self) {}
}

/// A WAV file as a source: all of it at once (`tomoni listen`), or at the pace it was spoken
/// (`--mic-wav`, tests of barge-in that need the audio to arrive while the companion talks).
pub struct WavSource {
    samples: Vec<f32>,
    at: usize,
    paced: Option<std::time::Instant>,
    /// Silent until the ears open, then the recording once per opening (never ends).
    cued: bool,
}

impl WavSource {
    /// Reads and resamples `path`; `paced` hands samples out no faster than real time.
    pub fn open(path: &Path, paced: bool) -> Result<Self, ListenError> {
        Ok(Self::from_samples(read_wav(path)?, paced))
    }

    /// 16 kHz samples as a source.
    pub fn from_samples(samples: Vec<f32>, paced: bool) -> Self {
        Self { samples, at: 0, paced: paced.then(std::time::Instant::now), cued: false }
    }

    /// A stand-in for the person who answers when asked: a quiet room until the ears open,
    /// then the recording at the pace it was spoken, again at each opening (`tomoni ceremony
    /// run --mic-wav`: their "I do" in each listen step).
    pub fn cued(path: &Path) -> Result<Self, ListenError> {
        let mut s = Self::open(path, true)?;
        s.cued = true;
        s.at = s.samples.len();
        Ok(s)
    }
}

impl AudioSource for WavSource {
    fn read(&mut self, out: &mut Vec<f32>, wait: std::time::Duration) -> Result<bool, ListenError> {
        if self.cued && self.at >= self.samples.len() {
            // A quiet room, in 20 ms blocks at the pace of time.
            let step = std::time::Duration::from_millis(20);
            std::thread::sleep(wait.min(step));
            out.extend(std::iter::repeat_n(0.0, samples(20) as usize));
            return Ok(true);
        }
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

    fn opened(&mut self) {
        if self.cued {
            self.at = 0;
            self.paced = Some(std::time::Instant::now());
        }
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

/// Band-limited resampling of a whole signal (see [`StreamResampler`]): a microphone at
/// 44.1/48 kHz or a voice at 22.05 kHz must not alias into the band Whisper hears.
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    let mut r = StreamResampler::new(from, to);
    let mut out = Vec::with_capacity((input.len() as u64 * u64::from(to) / u64::from(from)) as usize + 1);
    r.process(input, &mut out);
    r.finish(&mut out);
    out
}

/// Streaming band-limited resampling (a Hann-windowed sinc low-passed below the lower
/// Nyquist), block by block with no seams: it keeps the input history its kernel reaches.
#[derive(Debug, Clone)]
pub struct StreamResampler {
    ratio: f64,
    cutoff: f64,
    half: i64,
    /// Input kept, starting at absolute input index `base`.
    hist: Vec<f32>,
    base: i64,
    /// Input samples seen in all.
    seen: i64,
    /// Next output index.
    next: u64,
}

impl StreamResampler {
    /// From `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Self {
        const TAPS: f64 = 16.0; // each side, at the cut-off's scale
        let ratio = f64::from(to) / f64::from(from);
        let cutoff = ratio.min(1.0) * 0.95;
        Self { ratio, cutoff, half: (TAPS / cutoff).ceil() as i64, hist: Vec::new(), base: 0, seen: 0, next: 0 }
    }

    /// Appends to `out` every output sample whose kernel `input` (the next block) completes.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.ratio == 1.0 {
            out.extend_from_slice(input);
            return;
        }
        self.hist.extend_from_slice(input);
        self.seen += input.len() as i64;
        self.emit(self.seen, out);
    }

    /// The end of the signal: the last outputs, with silence after it.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.ratio == 1.0 {
            return;
        }
        let total = (self.seen as f64 * self.ratio).floor() as u64;
        while self.next < total {
            let x = self.next as f64 / self.ratio;
            out.push(self.at(x));
            self.next += 1;
        }
    }

    fn emit(&mut self, available: i64, out: &mut Vec<f32>) {
        loop {
            let x = self.next as f64 / self.ratio;
            if x.floor() as i64 + self.half >= available {
                break;
            }
            out.push(self.at(x));
            self.next += 1;
        }
        // Forget input no future kernel reaches.
        let keep_from = (self.next as f64 / self.ratio).floor() as i64 - self.half;
        if keep_from > self.base {
            let drop = ((keep_from - self.base) as usize).min(self.hist.len());
            self.hist.drain(..drop);
            self.base += drop as i64;
        }
    }

    fn at(&self, x: f64) -> f32 {
        let centre = x.floor() as i64;
        let (mut acc, mut norm) = (0.0f64, 0.0f64);
        for j in (centre - self.half + 1)..=(centre + self.half) {
            let t = x - j as f64;
            let w = 0.5 + 0.5 * (std::f64::consts::PI * t / self.half as f64).cos();
            let arg = std::f64::consts::PI * t * self.cutoff;
            let sinc = if arg.abs() < 1e-9 { 1.0 } else { arg.sin() / arg };
            let k = w * sinc * self.cutoff;
            norm += k;
            let i = j - self.base;
            if j >= 0 && i >= 0 && (i as usize) < self.hist.len() {
                acc += k * f64::from(self.hist[i as usize]);
            }
        }
        (acc / norm.max(1e-9)) as f32
    }
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
    fn streaming_in_odd_blocks_gives_exactly_the_whole_signal_s_samples() {
        let x = tone(440.0, 44_100, 0.3);
        let whole = resample(&x, 44_100, RATE);
        let mut r = StreamResampler::new(44_100, RATE);
        let mut out = Vec::new();
        for block in x.chunks(441 + 37) {
            r.process(block, &mut out);
        }
        r.finish(&mut out);
        assert_eq!(out.len(), whole.len());
        assert!(out.iter().zip(&whole).all(|(a, b)| (a - b).abs() < 1e-6), "a seam between blocks");
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
