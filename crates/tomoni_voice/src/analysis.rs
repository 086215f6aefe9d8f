//! Mouth shapes from the audio itself, for TTS that gives no timing (`/v1/audio/speech`).
//!
//! A streaming analyser: 512-sample Hann windows every 256 samples; energy gating for silence;
//! linear prediction (order 12, autocorrelation + Levinson–Durbin) for the spectral envelope,
//! summarised as 16 log-band shape features plus loudness and zero-crossing rate, and the same
//! bands relative to the speaker's running average. A small neural network
//! ([`crate::analysis_model`]: one hidden layer of 96 tanh units, trained by the
//! `calibrate_visemes` example of `tomoni_bench` on sentences and voices the benchmark does not
//! use) reads the features of [`CONTEXT`] hops either side, because what a mouth does during a
//! consonant depends on its neighbours; its class probabilities are averaged over [`SMOOTH`]
//! hops either side before the shape is chosen. So each hop's shape comes out `CONTEXT + SMOOTH`
//! hops (58 ms of audio) after it: audio is analysed as it is decoded, well ahead of playback.
//! All buffers are allocated once: no allocation per block.

/// Window length in samples.
pub const WINDOW: usize = 512;
/// Hop in samples.
pub const HOP: usize = 256;
const ORDER: usize = 12;
const BINS: usize = 96;
/// Hops of context either side of the hop being classified.
pub const CONTEXT: usize = 3;
/// Hops the classifier sees at once.
pub const SPAN: usize = 2 * CONTEXT + 1;
/// Inputs of the classifier: `SPAN` feature vectors and whether the centre hop is silent.
pub const INPUTS: usize = SPAN * NF + 1;
/// Hidden units of the classifier.
pub const HIDDEN: usize = 96;
// The generated weights must fit the features computed here.
const _: () = assert!(crate::analysis_model::INPUTS == INPUTS && crate::analysis_model::HIDDEN == HIDDEN);

/// Streaming analyser.
pub struct Analyzer {
    buf: Vec<f32>,
    filled: usize,
    frame: Vec<f32>,
    window: Vec<f32>,
    r: Vec<f32>,
    a: Vec<f32>,
    tmp: Vec<f32>,
    cos: Vec<f32>,
    sin: Vec<f32>,
    env: Vec<f32>,
    /// Output weights of the last hop.
    pub last: [f32; 5],
    /// Features of the last hop, zero when it was silent (for calibration).
    pub features: [f32; NF],
    noise_floor: f32,
    /// The speaker's long-term spectral shape: a running mean of the band features over the
    /// sounding hops so far (it outlives [`Analyzer::reset`]: the speaker stays the same).
    speaker: [f32; BANDS],
    sounding: u32,
    /// The last `SPAN` hops' features and loudness, oldest first (zeros before the start).
    ring: [([f32; NF], f32); SPAN],
    /// Hops analysed since the last reset.
    seen: usize,
    /// Class probabilities and loudness of the last `SMOOTH_SPAN` classified hops, oldest first.
    probs: [([f32; 6], f32); SMOOTH_SPAN],
    /// How many entries of `probs` are real (the rest are before the start).
    probs_filled: usize,
    /// How many of them have not been emitted yet.
    unemitted: usize,
}

/// Hops either side whose class probabilities are averaged before a hop's shape is chosen:
/// measured on held-out neural voices, ±2 hops adds 3.5–4 points of agreement (±1: 2, ±3: 4.5)
/// for 23 ms more processing delay (never on screen: each hop keeps its own audio time).
pub const SMOOTH: usize = 2;
const SMOOTH_SPAN: usize = 2 * SMOOTH + 1;

impl Analyzer {
    /// An analyser for audio at `rate` Hz.
    pub fn new(rate: u32) -> Self {
        let rate = rate as f32;
        let window =
            (0..WINDOW).map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / WINDOW as f32).cos()).collect();
        // Envelope evaluated at BINS frequencies from 100 Hz to 3.5 kHz.
        let freqs: Vec<f32> = (0..BINS).map(|k| 100.0 + 3400.0 * k as f32 / (BINS - 1) as f32).collect();
        let mut cos = vec![0.0; BINS * (ORDER + 1)];
        let mut sin = vec![0.0; BINS * (ORDER + 1)];
        for (k, f) in freqs.iter().enumerate() {
            for j in 0..=ORDER {
                let w = std::f32::consts::TAU * f / rate * j as f32;
                cos[k * (ORDER + 1) + j] = w.cos();
                sin[k * (ORDER + 1) + j] = w.sin();
            }
        }
        Self {
            buf: vec![0.0; WINDOW],
            filled: 0,
            frame: vec![0.0; WINDOW],
            window,
            r: vec![0.0; ORDER + 1],
            a: vec![0.0; ORDER + 1],
            tmp: vec![0.0; ORDER + 1],
            cos,
            sin,
            env: vec![0.0; BINS],
            last: [0.0; 5],
            features: [0.0; NF],
            noise_floor: 1e-4,
            speaker: [0.0; BANDS],
            sounding: 0,
            probs: [([0.0; 6], 0.0); SMOOTH_SPAN],
            probs_filled: 0,
            unemitted: 0,
            ring: [([0.0; NF], 0.0); SPAN],
            seen: 0,
        }
    }

    /// Forgets the audio so far (a new utterance starts).
    pub fn reset(&mut self) {
        self.filled = 0;
        self.last = [0.0; 5];
        self.ring = [([0.0; NF], 0.0); SPAN];
        self.seen = 0;
        self.probs_filled = 0;
        self.unemitted = 0;
    }

    /// Feeds samples; calls `on_hop(weights)` once per hop, in order, [`CONTEXT`] + [`SMOOTH`]
    /// hops late (call [`Analyzer::finish`] at the end for the last ones). No allocation.
    pub fn feed(&mut self, samples: &[i16], mut on_hop: impl FnMut([f32; 5])) {
        for &s in samples {
            self.buf[self.filled] = f32::from(s) / 32768.0;
            self.filled += 1;
            if self.filled == WINDOW {
                let hop = self.analyse();
                self.push(hop, &mut on_hop);
                self.buf.copy_within(HOP.., 0);
                self.filled = WINDOW - HOP;
            }
        }
    }

    /// The utterance has ended: the hops still waiting for their right-hand context come out
    /// (with silence after them).
    pub fn finish(&mut self, mut on_hop: impl FnMut([f32; 5])) {
        for _ in 0..CONTEXT.min(self.seen) {
            self.push(([0.0; NF], 0.0), &mut on_hop);
        }
        // The last hops, averaged with what is left after them.
        while self.unemitted > 0 {
            let at = SMOOTH_SPAN - self.unemitted;
            self.emit(at, &mut on_hop);
        }
        self.seen = 0;
        self.probs_filled = 0;
    }

    fn push(&mut self, hop: ([f32; NF], f32), on_hop: &mut impl FnMut([f32; 5])) {
        self.ring.copy_within(1.., 0);
        self.ring[SPAN - 1] = hop;
        self.seen += 1;
        if self.seen > CONTEXT {
            let p = self.probabilities_centre();
            self.probs.copy_within(1.., 0);
            self.probs[SMOOTH_SPAN - 1] = p;
            self.probs_filled = (self.probs_filled + 1).min(SMOOTH_SPAN);
            self.unemitted += 1;
            if self.unemitted > SMOOTH {
                self.emit(SMOOTH_SPAN - 1 - SMOOTH, on_hop);
            }
        }
    }

    /// Emits the hop at `at` in `probs`: the class with the largest probability summed over it
    /// and up to [`SMOOTH`] real hops either side, at that hop's loudness.
    fn emit(&mut self, at: usize, on_hop: &mut impl FnMut([f32; 5])) {
        let first = (SMOOTH_SPAN - self.probs_filled).max(at.saturating_sub(SMOOTH));
        let mut sum = [0.0f32; 6];
        for (p, _) in &self.probs[first..=(at + SMOOTH).min(SMOOTH_SPAN - 1)] {
            for (s, x) in sum.iter_mut().zip(p) {
                *s += x;
            }
        }
        let class = (0..6).fold(0, |best, c| if sum[c] > sum[best] { c } else { best });
        let loud = self.probs[at].1;
        let w = CLASS_WEIGHTS[class].map(|w| w * (0.35 + 0.65 * loud));
        self.unemitted -= 1;
        self.last = w;
        on_hop(w);
    }

    /// Class probabilities (softmax of the scores) and loudness of the hop in the middle of the
    /// ring.
    fn probabilities_centre(&self) -> ([f32; 6], f32) {
        let mut x = [0.0f32; INPUTS];
        for (k, (f, _)) in self.ring.iter().enumerate() {
            x[k * NF..(k + 1) * NF].copy_from_slice(f);
        }
        let (centre, loud) = self.ring[CONTEXT];
        x[INPUTS - 1] = if centre == [0.0; NF] { 1.0 } else { 0.0 };
        let s = scores(&x);
        let top = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut p = s.map(|v| (v - top).exp());
        let sum: f32 = p.iter().sum();
        for v in &mut p {
            *v /= sum;
        }
        (p, loud)
    }

    /// One hop's features and loudness (zeros when silent).
    fn analyse(&mut self) -> ([f32; NF], f32) {
        // Energy and zero crossings.
        let energy = self.buf.iter().map(|x| x * x).sum::<f32>() / WINDOW as f32;
        let zc = self.buf.windows(2).filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0)).count() as f32 / WINDOW as f32;
        if energy < self.noise_floor {
            self.features = [0.0; NF];
            return ([0.0; NF], 0.0);
        }
        // Loudness 0..1 over ~40 dB above the floor.
        let loud = ((10.0 * (energy / self.noise_floor).log10()) / 40.0).clamp(0.0, 1.0);
        // Pre-emphasis and window.
        let mut prev = 0.0;
        for i in 0..WINDOW {
            let x = self.buf[i];
            self.frame[i] = (x - 0.95 * prev) * self.window[i];
            prev = x;
        }
        for lag in 0..=ORDER {
            self.r[lag] = (lag..WINDOW).map(|i| self.frame[i] * self.frame[i - lag]).sum();
        }
        if self.r[0] <= 0.0 {
            self.features = [0.0; NF];
            return ([0.0; NF], 0.0);
        }
        self.r[0] *= 1.0001; // white-noise correction keeps Levinson stable
        // Levinson–Durbin.
        self.a.fill(0.0);
        self.a[0] = 1.0;
        let mut err = self.r[0];
        for i in 1..=ORDER {
            let mut acc = self.r[i];
            for j in 1..i {
                acc += self.a[j] * self.r[i - j];
            }
            let k = -acc / err;
            self.tmp[..=i].copy_from_slice(&self.a[..=i]);
            for j in 1..i {
                self.a[j] = self.tmp[j] + k * self.tmp[i - j];
            }
            self.a[i] = k;
            err *= 1.0 - k * k;
            if err <= 0.0 {
                break;
            }
        }
        // Envelope 1/|A(e^jw)|² at each bin.
        for k in 0..BINS {
            let (mut re, mut im) = (0.0, 0.0);
            for j in 0..=ORDER {
                re += self.a[j] * self.cos[k * (ORDER + 1) + j];
                im -= self.a[j] * self.sin[k * (ORDER + 1) + j];
            }
            self.env[k] = 1.0 / (re * re + im * im).max(1e-12);
        }
        // Spectral shape: 16 bands of the log envelope, mean removed.
        let mut f = [0.0f32; NF];
        let per = BINS / 16;
        for (band, out) in self.env.chunks(per).zip(f.iter_mut().take(16)) {
            let m = band.iter().sum::<f32>() / per as f32;
            *out = 10.0 * m.max(1e-12).log10();
        }
        let mean = f[..16].iter().sum::<f32>() / 16.0;
        for x in &mut f[..16] {
            *x -= mean;
        }
        f[16] = loud * 10.0;
        f[17] = zc * 40.0;
        // The same bands relative to this speaker's average: formants sit higher in a smaller
        // vocal tract, and the mouth shape is in how a moment differs from the speaker's norm.
        self.sounding = self.sounding.saturating_add(1);
        let rate = (1.0 / self.sounding as f32).max(1.0 / SPEAKER_HOPS);
        for b in 0..BANDS {
            self.speaker[b] += rate * (f[b] - self.speaker[b]);
            f[18 + b] = f[b] - self.speaker[b];
        }
        self.features = f;
        (f, loud)
    }
}

/// Number of features per hop.
pub const NF: usize = 18 + BANDS;
/// Spectral bands per hop.
const BANDS: usize = 16;
/// Hops the speaker's average spans once warmed up (about 1.5 s of speech).
const SPEAKER_HOPS: f32 = 128.0;

/// Mouth weights shown for each class (aa ih ou ee oh closed).
pub const CLASS_WEIGHTS: [[f32; 5]; 6] = [
    [1.0, 0.0, 0.0, 0.0, 0.0],
    [0.0, 0.9, 0.0, 0.2, 0.0],
    [0.0, 0.0, 1.0, 0.0, 0.1],
    [0.2, 0.0, 0.0, 0.8, 0.0],
    [0.15, 0.0, 0.2, 0.0, 0.9],
    [0.0, 0.0, 0.0, 0.0, 0.0],
];

/// The most likely class (aa ih ou ee oh closed) for one classifier input: standardised, one
/// tanh layer, then the largest of six linear scores.
pub fn classify(x: &[f32; INPUTS]) -> usize {
    let scores = scores(x);
    (0..6).fold(0, |best, c| if scores[c] > scores[best] { c } else { best })
}

/// The six class scores (logits) for one classifier input.
pub fn scores(x: &[f32; INPUTS]) -> [f32; 6] {
    use crate::analysis_model as m;
    let mut hidden = m::B1;
    for (i, &xi) in x.iter().enumerate() {
        let z = (xi - m::MEAN[i]) / m::SCALE[i];
        for (h, w) in hidden.iter_mut().zip(&m::W1[i]) {
            *h += z * w;
        }
    }
    let mut scores = m::B2;
    for (h, w) in hidden.iter().zip(&m::W2) {
        let a = h.tanh();
        for (s, wc) in scores.iter_mut().zip(w) {
            *s += a * wc;
        }
    }
    scores
}

/// The dominant mouth shape: 0..5 = aa ih ou ee oh, 5 = closed (all weights below 0.2).
pub fn mouth_class(w: &[f32; 5]) -> usize {
    let (i, m) = w.iter().enumerate().fold((5, 0.2f32), |best, (i, &x)| if x > best.1 { (i, x) } else { best });
    if m <= 0.2 { 5 } else { i }
}

/// Weights per 60 Hz frame for a whole utterance (for measuring against phoneme truth).
pub fn track(samples: &[i16], rate: u32) -> Vec<[f32; 5]> {
    let mut a = Analyzer::new(rate);
    let mut hops = Vec::with_capacity(samples.len() / HOP + 1);
    a.feed(samples, |w| hops.push(w));
    a.finish(|w| hops.push(w));
    let n = (samples.len() as f64 / f64::from(rate) * 60.0).ceil() as usize;
    (0..n)
        .map(|i| {
            // The hop whose window is centred nearest this frame's time.
            let t = i as f64 / 60.0 * f64::from(rate);
            let h = ((t - (WINDOW / 2) as f64) / HOP as f64).round().max(0.0) as usize;
            hops.get(h).copied().unwrap_or([0.0; 5])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_closed_and_a_sustained_vowel_opens_the_mouth() {
        let rate = 22_050;
        let mut a = Analyzer::new(rate);
        let mut out = Vec::new();
        a.feed(&vec![0i16; 4096], |w| out.push(w));
        assert!(out.iter().all(|w| mouth_class(w) == 5));
        // Real speech (a sentence the model was not trained on), against espeak's own phonemes.
        let s = crate::espeak::synthesize("Good morning, I am so glad to see you again.", &Default::default()).unwrap();
        let t = track(&s.samples, s.sample_rate);
        let truth: Vec<usize> = (0..t.len())
            .map(|i| {
                mouth_class(&crate::viseme::viseme_at(&s.phonemes, i as f64 * 1000.0 / 60.0, s.duration_ms()).mouth())
            })
            .collect();
        let same = t.iter().zip(&truth).filter(|(w, c)| mouth_class(w) == **c).count() as f64 / t.len() as f64;
        let open =
            t.iter().zip(&truth).filter(|(w, c)| (mouth_class(w) == 5) == (**c == 5)).count() as f64 / t.len() as f64;
        eprintln!("held-out sentence: shape {:.1} %, open/closed {:.1} %", same * 100.0, open * 100.0);
        assert!(same > 0.75, "mouth shape agrees on {:.0} % of frames", same * 100.0);
        assert!(open > 0.85, "open/closed agrees on {:.0} % of frames", open * 100.0);
    }

    #[test]
    fn every_hop_comes_out_once_in_order_after_its_context() {
        let s = crate::espeak::synthesize("Shall we walk?", &Default::default()).unwrap();
        let hops = (s.samples.len() - WINDOW) / HOP + 1;
        let mut a = Analyzer::new(s.sample_rate);
        let mut n = 0;
        // Fed in uneven pieces, as a stream arrives.
        for piece in s.samples.chunks(777) {
            a.feed(piece, |_| n += 1);
        }
        assert_eq!(n, hops - CONTEXT - SMOOTH, "hops held back for their right-hand context and smoothing");
        a.finish(|_| n += 1);
        assert_eq!(n, hops);
        // The whole-utterance track has one entry per 60 Hz frame of audio.
        let t = track(&s.samples, s.sample_rate);
        assert_eq!(t.len(), (s.samples.len() as f64 / f64::from(s.sample_rate) * 60.0).ceil() as usize);
    }
}
