//! Trains the audio-analysis viseme classifier on speech whose phoneme timing is known and
//! prints `crates/tomoni_voice/src/analysis_model.rs`; then scores the new model, hop by hop,
//! on the benchmark's sentences (never trained on) for each voice, held-out voices marked.
//!
//! Training data ([`tomoni_bench::lipsync`]): the training sentences spoken by several espeak-ng
//! voices (random rate and pitch each), two Kokoro Japanese voices, and the default Piper voice
//! at three speeds; every
//! take once clean and once in a random room (level, noise, reverb). `--without-piper` leaves
//! the neural voice out, to measure how the recipe does on a neural voice it never heard.
//!
//! The model: the features of `SPAN` consecutive hops (zeros for silence and beyond the
//! utterance) and a silent-centre flag, standardised, one hidden layer of `HIDDEN` tanh units,
//! six linear scores; trained by mini-batch Adam on cross-entropy with L2, from a fixed seed,
//! so the same data gives the same model.
//!
//! Build with `--workspace` (the same features, so the same cached Bevy, as every other task):
//!
//! ```text
//! cargo build --workspace --examples
//! $CARGO_TARGET_DIR/debug/examples/calibrate_visemes > crates/tomoni_voice/src/analysis_model.rs
//! cargo fmt
//! ```

use tomoni_bench::lipsync::*;
use tomoni_voice::analysis::{HIDDEN, INPUTS};
use tomoni_voice::piper::{DEFAULT_VOICE, PiperSpec, PiperVoice};

const EPOCHS: usize = 12;
const BATCH: usize = 256;
const LEARNING_RATE: f64 = 0.003;
const L2: f64 = 1e-4;

type Hops = Vec<([f32; INPUTS], usize)>;

/// Training hops of a take: clean, and once in a random room.
fn train_hops(take: &Take, rng: &mut Rng, out: &mut Hops) {
    let s = &take.speech;
    out.extend(hops(&s.samples, s.sample_rate, |t| take.truth(t)));
    let heard = Room::random(rng).apply(&s.samples, s.sample_rate, rng);
    out.extend(hops(&heard, s.sample_rate, |t| take.truth(t)));
}

fn main() {
    let with_piper = !std::env::args().any(|a| a == "--without-piper");
    let mut rng = Rng(0x746f_6d6f_6e69); // "tomoni"
    let mut joe = PiperSpec::find(DEFAULT_VOICE).and_then(|s| PiperVoice::load(&s, 2)).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let mut data: Hops = Vec::new();
    let rp = |rng: &mut Rng| (rng.range(140.0, 190.0) as u32, rng.range(35.0, 65.0) as u32);
    let (en, ja) = (train_en(), train_ja());
    for (voices, texts, lang) in [(&TRAIN_ESPEAK_EN[..], &en, "en"), (&TRAIN_ESPEAK_JA[..], &ja, "ja")] {
        for v in voices {
            for t in texts {
                let (rate, pitch) = rp(&mut rng);
                let take = Take::new(format!("espeak {v}"), lang, false, espeak(t, v, rate, pitch).unwrap());
                train_hops(&take, &mut rng, &mut data);
            }
        }
    }
    let kokoro = kokoro_corpus().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    for v in TRAIN_KOKORO {
        for i in 0..ja.len() {
            train_hops(&kokoro_take(&kokoro, v, "train", i).unwrap(), &mut rng, &mut data);
        }
    }
    if with_piper {
        for speed in PIPER_SPEEDS {
            for t in &en {
                let take = Take::new(DEFAULT_VOICE.into(), "en", true, piper(&mut joe, t, speed).unwrap());
                train_hops(&take, &mut rng, &mut data);
            }
        }
    }
    let (xs, ys): (Vec<_>, Vec<_>) = data.into_iter().unzip();
    let model = train(&xs, &ys, &mut rng);
    let hits = xs.iter().zip(&ys).filter(|(x, y)| model.predict(x) == **y).count();
    eprintln!("{} hops; training accuracy {:.1} %", xs.len(), 100.0 * hits as f64 / xs.len() as f64);
    // Held-out sentences, every voice; the voices never trained on are marked.
    let mut groups: Vec<(String, Vec<Take>)> = Vec::new();
    for (v, lang, texts) in [("en-us", "en", &BENCH_EN[..]), ("ja", "ja", &BENCH_JA[..])]
        .into_iter()
        .chain(HELD_OUT_ESPEAK.iter().map(|&(v, l)| (v, l, if l == "en" { &BENCH_EN[..] } else { &BENCH_JA[..] })))
    {
        let held = HELD_OUT_ESPEAK.iter().any(|(h, _)| *h == v);
        let takes = texts.iter().map(|t| Take::new(v.into(), lang, false, espeak(t, v, 165, 50).unwrap())).collect();
        groups.push((format!("espeak {v} ({lang}){}", if held { ", held-out voice" } else { "" }), takes));
    }
    let takes = BENCH_EN.iter().map(|t| Take::new(DEFAULT_VOICE.into(), "en", true, piper(&mut joe, t, 1.0).unwrap()));
    groups.push((
        format!("piper {DEFAULT_VOICE} (en){}", if with_piper { "" } else { ", held-out neural voice" }),
        takes.collect(),
    ));
    for v in TRAIN_KOKORO.iter().chain(&HELD_OUT_KOKORO) {
        let held = HELD_OUT_KOKORO.contains(v);
        let takes = (0..BENCH_JA.len()).map(|i| kokoro_take(&kokoro, v, "bench", i).unwrap()).collect();
        groups.push((format!("kokoro {v} (ja){}", if held { ", held-out neural voice" } else { "" }), takes));
    }
    for (name, takes) in &groups {
        let (mut n, mut hit) = (0usize, 0usize);
        let mut confusion = [[0usize; 6]; 6];
        for take in takes {
            for (x, y) in hops(&take.speech.samples, take.speech.sample_rate, |t| take.truth(t)) {
                let got = model.predict(&x);
                n += 1;
                hit += usize::from(got == y);
                confusion[y][got] += 1;
            }
        }
        eprintln!("held-out sentences, {name}: {:.1} % of {n} hops", 100.0 * hit as f64 / n as f64);
        eprintln!("  confusion (rows truth aa ih ou ee oh closed): {confusion:?}");
    }
    model.print(xs.len(), with_piper);
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

    fn print(&self, hops: usize, piper: bool) {
        println!("//! Trained by `calibrate_visemes` (tomoni_bench example; see docs/benchmarks.md) on {hops} hops:");
        println!(
            "//! {} English and {} Japanese sentences (written, and generated from word lists) the benchmark does not use,",
            train_en().len(),
            train_ja().len(),
        );
        println!(
            "//! spoken by espeak-ng voices {}",
            TRAIN_ESPEAK_EN.iter().chain(&TRAIN_ESPEAK_JA).copied().collect::<Vec<_>>().join(", ")
        );
        println!("//! by the Kokoro voices {} (Japanese),", TRAIN_KOKORO.join(", "));
        if piper {
            println!("//! and by the Piper voice {DEFAULT_VOICE} at speeds {PIPER_SPEEDS:?},");
        }
        println!("//! each clean and once in a random room (level, noise, reverb).");
        println!("//! Class order: aa ih ou ee oh closed. Do not edit by hand.");
        // A weight may land near π, e or log10(e): clippy would take it for a constant.
        println!("#![allow(clippy::approx_constant, reason = \"trained weights, not constants\")]\n");
        println!(
            "/// Inputs the weights were trained for (`analysis::INPUTS` is checked against it).\npub const INPUTS: usize = {};\n/// Hidden units (`analysis::HIDDEN` is checked against it).\npub const HIDDEN: usize = {};\n",
            tomoni_voice::analysis::INPUTS,
            tomoni_voice::analysis::HIDDEN
        );
        let row = |v: &[f64]| v.iter().map(|x| format!("{x:.5}")).collect::<Vec<_>>().join(", ");
        println!("/// Input means.\npub const MEAN: [f32; INPUTS] = [{}];", row(&self.mean));
        println!("/// Input scales (standard deviations).\npub const SCALE: [f32; INPUTS] = [{}];", row(&self.scale));
        println!(
            "/// Input to hidden weights (a static: 90 KB is too large to copy in at every use).\npub static W1: [[f32; HIDDEN]; INPUTS] = ["
        );
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

/// Adam state for one parameter block.
struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
}
impl Adam {
    fn new(n: usize) -> Self {
        Self { m: vec![0.0; n], v: vec![0.0; n] }
    }
    fn step(&mut self, p: &mut [f64], g: &[f64], t: usize, lr: f64) {
        let (c1, c2) = (1.0 - 0.9f64.powi(t as i32), 1.0 - 0.999f64.powi(t as i32));
        for i in 0..p.len() {
            self.m[i] = 0.9 * self.m[i] + 0.1 * g[i];
            self.v[i] = 0.999 * self.v[i] + 0.001 * g[i] * g[i];
            p[i] -= lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + 1e-8);
        }
    }
}

fn train(xs: &[[f32; INPUTS]], ys: &[usize], rng: &mut Rng) -> Model {
    let n = xs.len() as f64;
    let mean: Vec<f64> = (0..INPUTS).map(|i| xs.iter().map(|x| f64::from(x[i])).sum::<f64>() / n).collect();
    let scale: Vec<f64> = (0..INPUTS)
        .map(|i| (xs.iter().map(|x| (f64::from(x[i]) - mean[i]).powi(2)).sum::<f64>() / n).sqrt() + 1e-6)
        .collect();
    let z: Vec<Vec<f64>> =
        xs.iter().map(|x| (0..INPUTS).map(|i| (f64::from(x[i]) - mean[i]) / scale[i]).collect()).collect();
    let mut w1: Vec<f64> = (0..INPUTS * HIDDEN).map(|_| rng.normal() / (INPUTS as f64).sqrt()).collect();
    let mut b1 = vec![0.0; HIDDEN];
    let mut w2: Vec<f64> = (0..HIDDEN * 6).map(|_| rng.normal() / (HIDDEN as f64).sqrt()).collect();
    let mut b2 = vec![0.0; 6];
    let (mut aw1, mut ab1, mut aw2, mut ab2) =
        (Adam::new(w1.len()), Adam::new(HIDDEN), Adam::new(w2.len()), Adam::new(6));
    let mut order: Vec<usize> = (0..xs.len()).collect();
    let mut step = 0;
    for epoch in 1..=EPOCHS {
        // Fisher–Yates with the fixed-seed generator.
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.uniform() * (i + 1) as f64) as usize);
        }
        // The step size decays to a tenth over the run.
        let lr = LEARNING_RATE * 0.1f64.powf((epoch - 1) as f64 / (EPOCHS - 1) as f64);
        let mut loss = 0.0;
        for batch in order.chunks(BATCH) {
            let m = batch.len() as f64;
            let (mut gw1, mut gb1, mut gw2, mut gb2) =
                (vec![0.0; w1.len()], vec![0.0; HIDDEN], vec![0.0; w2.len()], vec![0.0; 6]);
            for &k in batch {
                let (zx, y) = (&z[k], ys[k]);
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
                let g: Vec<f64> = (0..6).map(|c| (e[c] / sum - f64::from(u8::from(c == y))) / m).collect();
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
            step += 1;
            aw1.step(&mut w1, &gw1, step, lr);
            ab1.step(&mut b1, &gb1, step, lr);
            aw2.step(&mut w2, &gw2, step, lr);
            ab2.step(&mut b2, &gb2, step, lr);
        }
        eprintln!("epoch {epoch}: loss {:.4}", loss / n);
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
