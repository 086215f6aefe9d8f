//! Trains the audio-analysis viseme classifier on espeak-ng speech whose phoneme timing is
//! known, and prints `crates/tomoni_voice/src/analysis_model.rs`. The training sentences are
//! not the ones `benches/voice.rs` measures on; each is spoken at three rates and pitches.
//!
//! The model: the features of `SPAN` consecutive hops (zeros for silence and beyond the
//! utterance) and a silent-centre flag, standardised, one hidden layer of `HIDDEN` tanh units,
//! six linear scores; trained by full-batch Adam on cross-entropy with L2, from a fixed seed, so
//! the same sentences give the same model.
//!
//! Build with `--workspace` (the same features, so the same cached Bevy, as every other task):
//!
//! ```text
//! cargo build --workspace --examples
//! $CARGO_TARGET_DIR/debug/examples/calibrate_visemes > crates/tomoni_voice/src/analysis_model.rs
//! cargo fmt
//! ```

use tomoni_voice::analysis::{Analyzer, CONTEXT, HIDDEN, HOP, INPUTS, NF, SPAN, WINDOW, mouth_class};
use tomoni_voice::espeak::{EspeakVoice, synthesize};
use tomoni_voice::viseme::viseme_at;

const TRAIN_EN: [&str; 24] = [
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "Peter picked a peck of pickled peppers.",
    "How much wood would a woodchuck chuck?",
    "We waited for the bus under a wide umbrella.",
    "Autumn leaves fall softly on the old roof.",
    "My uncle owns a boat near the northern harbour.",
    "Each evening we eat rice and fresh vegetables.",
    "Open the window and let the cool air in.",
    "Who knew the blue balloon would float so high?",
    "Please pass the salt and the pepper.",
    "I think it is time to feed the cat.",
    "A yellow kite flew above the green hills.",
    "Our father told us stories about the ocean.",
    "Bright stars appear after sunset in winter.",
    "Could you bring me the red book from the shelf?",
    "Nobody expected the snow to melt so soon.",
    "Every child deserves a warm and safe home.",
    "The violin and the cello played together.",
    "Walking along the beach clears my mind.",
    "Fifteen people joined the choir this year.",
    "Maybe the museum opens again on Monday.",
    "Honey, lemon and ginger help a sore throat.",
    "Several owls hooted in the dark forest.",
];
const TRAIN_JA: [&str; 12] = [
    "あいうえお、かきくけこ。",
    "さしすせそ、たちつてと。",
    "なにぬねの、はひふへほ。",
    "まみむめも、やゆよ。",
    "らりるれろ、わをん。",
    "東京の空は青いです。",
    "猫が窓のそばで寝ています。",
    "駅まで歩いて十分です。",
    "朝ごはんにパンを食べました。",
    "山の上から海が見えます。",
    "図書館で本を借りました。",
    "雨の日は家で映画を見ます。",
];

/// Rate (words per minute) and pitch variants each training sentence is spoken with.
const VARIANTS: [(u32, u32); 3] = [(165, 50), (140, 38), (190, 62)];
const EPOCHS: usize = 600;
const LEARNING_RATE: f64 = 0.01;
const L2: f64 = 1e-3;

fn main() {
    let (mut xs, mut ys) = (Vec::<[f32; INPUTS]>::new(), Vec::<usize>::new());
    let sentences = TRAIN_EN.iter().map(|t| ("en-us", *t)).chain(TRAIN_JA.iter().map(|t| ("ja", *t)));
    for (voice, text) in sentences {
        for (rate, pitch) in VARIANTS {
            let v = EspeakVoice { voice: voice.into(), rate, pitch };
            let s = synthesize(text, &v).unwrap();
            let sr = f64::from(s.sample_rate);
            // Each full hop after the first completes one analysis window.
            let mut a = Analyzer::new(s.sample_rate);
            let mut hops = Vec::new();
            for (h, chunk) in s.samples.chunks(HOP).enumerate() {
                a.feed(chunk, |_| {});
                if h >= WINDOW / HOP - 1 && chunk.len() == HOP {
                    let centre = ((h + 1) * HOP - WINDOW / 2) as f64 / sr;
                    let class = mouth_class(&viseme_at(&s.phonemes, centre * 1000.0, s.duration_ms()).mouth());
                    hops.push((a.features, class));
                }
            }
            for i in 0..hops.len() {
                let mut x = [0.0f32; INPUTS];
                for k in 0..SPAN {
                    if let Some((f, _)) = (i + k).checked_sub(CONTEXT).and_then(|j| hops.get(j)) {
                        x[k * NF..(k + 1) * NF].copy_from_slice(f);
                    }
                }
                x[INPUTS - 1] = if hops[i].0 == [0.0; NF] { 1.0 } else { 0.0 };
                xs.push(x);
                ys.push(hops[i].1);
            }
        }
    }
    let model = train(&xs, &ys);
    let hits = xs.iter().zip(&ys).filter(|(x, y)| model.predict(x) == **y).count();
    eprintln!("{} hops; training accuracy {:.1} %", xs.len(), 100.0 * hits as f64 / xs.len() as f64);
    model.print(xs.len());
}

struct Model {
    mean: Vec<f64>,
    scale: Vec<f64>,
    w1: Vec<Vec<f64>>, // INPUTS x HIDDEN
    b1: Vec<f64>,
    w2: Vec<Vec<f64>>, // HIDDEN x 6
    b2: Vec<f64>,
}

impl Model {
    fn hidden(&self, x: &[f32; INPUTS]) -> Vec<f64> {
        let mut h = self.b1.clone();
        for (((&xi, m), sc), row) in x.iter().zip(&self.mean).zip(&self.scale).zip(&self.w1) {
            let z = (f64::from(xi) - m) / sc;
            for (hj, w) in h.iter_mut().zip(row) {
                *hj += z * w;
            }
        }
        h.iter().map(|v| v.tanh()).collect()
    }

    fn scores(&self, a: &[f64]) -> Vec<f64> {
        let mut s = self.b2.clone();
        for (aj, w) in a.iter().zip(&self.w2) {
            for (sc, wc) in s.iter_mut().zip(w) {
                *sc += aj * wc;
            }
        }
        s
    }

    fn predict(&self, x: &[f32; INPUTS]) -> usize {
        let s = self.scores(&self.hidden(x));
        (0..6).fold(0, |b, c| if s[c] > s[b] { c } else { b })
    }

    fn print(&self, hops: usize) {
        println!("//! Trained by `calibrate_visemes` (tomoni_bench example; see docs/benchmarks.md) on {hops} hops of");
        println!(
            "//! espeak-ng speech: {} English and {} Japanese sentences that the benchmark does not use, each at",
            TRAIN_EN.len(),
            TRAIN_JA.len()
        );
        println!(
            "//! {} rates and pitches. Class order: aa ih ou ee oh closed. Do not edit by hand.\n",
            VARIANTS.len()
        );
        println!(
            "/// Inputs the weights were trained for (`analysis::INPUTS` is checked against it).\npub const INPUTS: usize = {};\n/// Hidden units (`analysis::HIDDEN` is checked against it).\npub const HIDDEN: usize = {};\n",
            tomoni_voice::analysis::INPUTS,
            tomoni_voice::analysis::HIDDEN
        );
        let row = |v: &[f64]| v.iter().map(|x| format!("{x:.5}")).collect::<Vec<_>>().join(", ");
        println!("/// Input means.\npub const MEAN: [f32; INPUTS] = [{}];", row(&self.mean));
        println!("/// Input scales (standard deviations).\npub const SCALE: [f32; INPUTS] = [{}];", row(&self.scale));
        println!("/// Input to hidden weights.\npub const W1: [[f32; HIDDEN]; INPUTS] = [");
        for r in &self.w1 {
            println!("    [{}],", row(r));
        }
        println!("];\n/// Hidden biases.\npub const B1: [f32; HIDDEN] = [{}];", row(&self.b1));
        println!("/// Hidden to class weights.\npub const W2: [[f32; 6]; HIDDEN] = [");
        for r in &self.w2 {
            println!("    [{}],", row(r));
        }
        println!("];\n/// Class biases.\npub const B2: [f32; 6] = [{}];", row(&self.b2));
    }
}

/// A fixed-seed generator (xorshift64*) for the initial weights.
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Adam state for one parameter block.
struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
}
impl Adam {
    fn new(n: usize) -> Self {
        Self { m: vec![0.0; n], v: vec![0.0; n] }
    }
    fn step(&mut self, p: &mut [f64], g: &[f64], t: usize) {
        let (c1, c2) = (1.0 - 0.9f64.powi(t as i32), 1.0 - 0.999f64.powi(t as i32));
        for i in 0..p.len() {
            self.m[i] = 0.9 * self.m[i] + 0.1 * g[i];
            self.v[i] = 0.999 * self.v[i] + 0.001 * g[i] * g[i];
            p[i] -= LEARNING_RATE * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + 1e-8);
        }
    }
}

fn train(xs: &[[f32; INPUTS]], ys: &[usize]) -> Model {
    let n = xs.len() as f64;
    let mean: Vec<f64> = (0..INPUTS).map(|i| xs.iter().map(|x| f64::from(x[i])).sum::<f64>() / n).collect();
    let scale: Vec<f64> = (0..INPUTS)
        .map(|i| (xs.iter().map(|x| (f64::from(x[i]) - mean[i]).powi(2)).sum::<f64>() / n).sqrt() + 1e-6)
        .collect();
    let z: Vec<Vec<f64>> =
        xs.iter().map(|x| (0..INPUTS).map(|i| (f64::from(x[i]) - mean[i]) / scale[i]).collect()).collect();
    let mut rng = Rng(0x746f_6d6f_6e69); // "tomoni"
    let mut w1: Vec<f64> = (0..INPUTS * HIDDEN).map(|_| rng.normal() / (INPUTS as f64).sqrt()).collect();
    let mut b1 = vec![0.0; HIDDEN];
    let mut w2: Vec<f64> = (0..HIDDEN * 6).map(|_| rng.normal() / (HIDDEN as f64).sqrt()).collect();
    let mut b2 = vec![0.0; 6];
    let (mut aw1, mut ab1, mut aw2, mut ab2) =
        (Adam::new(w1.len()), Adam::new(HIDDEN), Adam::new(w2.len()), Adam::new(6));
    for epoch in 1..=EPOCHS {
        let (mut gw1, mut gb1, mut gw2, mut gb2) =
            (vec![0.0; w1.len()], vec![0.0; HIDDEN], vec![0.0; w2.len()], vec![0.0; 6]);
        let mut loss = 0.0;
        for (zx, &y) in z.iter().zip(ys) {
            let mut h = b1.clone();
            for (i, &zi) in zx.iter().enumerate() {
                if zi != 0.0 {
                    for j in 0..HIDDEN {
                        h[j] += zi * w1[i * HIDDEN + j];
                    }
                }
            }
            for v in &mut h {
                *v = v.tanh();
            }
            let mut s = b2.clone();
            for j in 0..HIDDEN {
                for c in 0..6 {
                    s[c] += h[j] * w2[j * 6 + c];
                }
            }
            let top = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|v| (v - top).exp()).collect();
            let sum: f64 = e.iter().sum();
            loss -= (e[y] / sum).ln();
            let g: Vec<f64> = (0..6).map(|c| (e[c] / sum - f64::from(u8::from(c == y))) / n).collect();
            let mut gh = vec![0.0; HIDDEN];
            for j in 0..HIDDEN {
                for c in 0..6 {
                    gw2[j * 6 + c] += h[j] * g[c];
                    gh[j] += w2[j * 6 + c] * g[c];
                }
                gh[j] *= 1.0 - h[j] * h[j];
                gb1[j] += gh[j];
            }
            for c in 0..6 {
                gb2[c] += g[c];
            }
            for (i, &zi) in zx.iter().enumerate() {
                if zi != 0.0 {
                    for j in 0..HIDDEN {
                        gw1[i * HIDDEN + j] += zi * gh[j];
                    }
                }
            }
        }
        for (g, w) in gw1.iter_mut().zip(&w1) {
            *g += L2 * w;
        }
        for (g, w) in gw2.iter_mut().zip(&w2) {
            *g += L2 * w;
        }
        aw1.step(&mut w1, &gw1, epoch);
        ab1.step(&mut b1, &gb1, epoch);
        aw2.step(&mut w2, &gw2, epoch);
        ab2.step(&mut b2, &gb2, epoch);
        if epoch % 100 == 0 {
            eprintln!("epoch {epoch}: loss {:.4}", loss / n);
        }
    }
    Model {
        mean,
        scale,
        w1: w1.chunks(HIDDEN).map(<[f64]>::to_vec).collect(),
        b1,
        w2: w2.chunks(6).map(<[f64]>::to_vec).collect(),
        b2,
    }
}
