//! Trains the audio-analysis viseme classifier on espeak-ng speech whose phoneme timing is
//! known, and prints `crates/tomoni_voice/src/analysis_model.rs`. The training sentences are
//! not the ones `benches/voice.rs` measures on.
//!
//! Build with `--workspace` (the same features, so the same cached Bevy, as every other task):
//!
//! ```text
//! cargo build --workspace --examples
//! $CARGO_TARGET_DIR/debug/examples/calibrate_visemes > crates/tomoni_voice/src/analysis_model.rs
//! cargo fmt
//! ```

use tomoni_voice::analysis::{Analyzer, HOP, NF, WINDOW, mouth_class};
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

fn main() {
    let mut sums = [[0.0f64; NF]; 6];
    let mut sq = [[0.0f64; NF]; 6];
    let mut counts = [0usize; 6];
    for (voice, text) in TRAIN_EN.iter().map(|t| ("en-us", *t)).chain(TRAIN_JA.iter().map(|t| ("ja", *t))) {
        let s = synthesize(text, &EspeakVoice { voice: voice.into(), ..EspeakVoice::default() }).unwrap();
        // Hop by hop, pairing each voiced hop's features with the phoneme at its centre.
        let rate = f64::from(s.sample_rate);
        let mut a = Analyzer::new(s.sample_rate);
        let mut feats = Vec::new();
        for (h, chunk) in s.samples.chunks(HOP).enumerate() {
            a.feed(chunk, |_| {});
            if a.features != [0.0; NF] {
                feats.push(((h * HOP + WINDOW / 2) as f64 / rate, a.features));
            }
        }
        for (t, f) in feats {
            let c = mouth_class(&viseme_at(&s.phonemes, t * 1000.0, s.duration_ms()).mouth());
            counts[c] += 1;
            for i in 0..NF {
                sums[c][i] += f64::from(f[i]);
                sq[c][i] += f64::from(f[i]).powi(2);
            }
        }
    }
    let total: usize = counts.iter().sum();
    println!("//! Trained by `cargo run -p tomoni_bench --example calibrate_visemes` on {total} voiced hops of");
    println!(
        "//! espeak-ng speech ({} English and {} Japanese sentences that the benchmark does not use).",
        TRAIN_EN.len(),
        TRAIN_JA.len()
    );
    println!("//! Class order: aa ih ou ee oh closed. Do not edit by hand.\n");
    println!("use crate::analysis::NF;\n");
    println!("/// Log prior of each class.");
    let pri: Vec<String> = counts.iter().map(|&c| format!("{:.4}", ((c.max(1)) as f64 / total as f64).ln())).collect();
    println!("pub const LOG_PRIORS: [f32; 6] = [{}];", pri.join(", "));
    let table = |name: &str, doc: &str, v: &dyn Fn(usize, usize) -> f64| {
        println!("/// {doc}");
        println!("pub const {name}: [[f32; NF]; 6] = [");
        for c in 0..6 {
            let row: Vec<String> = (0..NF).map(|i| format!("{:.4}", v(c, i))).collect();
            println!("    [{}],", row.join(", "));
        }
        println!("];");
    };
    let mean = |c: usize, i: usize| if counts[c] == 0 { 0.0 } else { sums[c][i] / counts[c] as f64 };
    table("MEANS", "Feature means per class.", &mean);
    table("VARS", "Feature variances per class.", &|c, i| {
        if counts[c] < 2 { 1.0 } else { (sq[c][i] / counts[c] as f64 - mean(c, i).powi(2)).max(1e-3) }
    });
    eprintln!("class counts (aa ih ou ee oh closed): {counts:?}");
}
