//! Labelled speech for the audio-analysis lip-sync: who speaks which sentences, the truth each
//! frame is scored against, and the room the model is trained to ignore. Shared by the
//! `calibrate_visemes` example (training) and the `voice` bench (measurement), so both use the
//! same truth and the benchmark's sentences and held-out voices stay out of training by
//! construction.
//!
//! Truth is the mouth class of the phoneme sounding at a moment, from the engine's own timing
//! (espeak-ng's phoneme events; Piper's predicted durations), with one correction: espeak-ng
//! reports no pause events, so a pause would carry the phoneme before it. Any stretch of at
//! least [`PAUSE_MS`] where the clean audio stays below 1 % of the utterance's peak level is a
//! pause, labelled closed, for every engine alike.

use tomoni_voice::analysis::{Analyzer, CONTEXT, HOP, INPUTS, NF, SPAN, WINDOW, mouth_class};
use tomoni_voice::espeak::{EspeakVoice, synthesize};
use tomoni_voice::piper::PiperVoice;
use tomoni_voice::viseme::viseme_at;
use tomoni_voice::{Speech, TtsError};

/// The benchmark's English sentences (never trained on).
pub const BENCH_EN: [&str; 30] = [
    "Good morning, how did you sleep?",
    "I missed you while you were at work.",
    "Shall we go for a walk by the river?",
    "The rehearsal starts at seven tonight.",
    "Tell me about your day, slowly.",
    "I am an AI, but I care how you feel.",
    "Would you like some music while you cook?",
    "That photo of the sea is beautiful.",
    "Remember to drink some water.",
    "Your sister called about the weekend.",
    "Let us practise the vows once more.",
    "I will be right beside you.",
    "What a lovely idea for dinner.",
    "Maybe we should rest for a while.",
    "The garden looks bright after the rain.",
    "Do you want me to read you a story?",
    "Thank you for telling me that.",
    "It is okay to feel tired sometimes.",
    "Look, the moon is full tonight.",
    "We can try again tomorrow morning.",
    "Please be careful on the stairs.",
    "Happy birthday, my dear friend!",
    "I found a recipe you might enjoy.",
    "The train leaves at half past nine.",
    "Your voice sounds happy today.",
    "Let me know when you are ready.",
    "Books, tea and a quiet evening.",
    "Oh, that is wonderful news!",
    "Pack a warm coat, it will be cold.",
    "Good night, sleep well.",
];

/// The benchmark's Japanese sentences (never trained on).
pub const BENCH_JA: [&str; 20] = [
    "おはよう、よく眠れた？",
    "今日はいい天気ですね。",
    "一緒に散歩に行きましょう。",
    "お仕事お疲れさまでした。",
    "私はAIですが、あなたのことを大切に思っています。",
    "晩ご飯は何にしますか？",
    "海の写真がとてもきれいです。",
    "水を飲むのを忘れないでね。",
    "明日のリハーサルは七時からです。",
    "少し休みましょうか。",
    "ありがとう、うれしいです。",
    "今夜は満月ですね。",
    "また明日がんばりましょう。",
    "階段に気をつけてください。",
    "お誕生日おめでとう！",
    "温かいお茶をいれましょうか。",
    "あなたの声が元気そうで安心しました。",
    "準備ができたら教えてください。",
    "本を読んであげましょうか。",
    "おやすみなさい、いい夢を。",
];

/// Training sentences, English.
pub const TRAIN_EN: [&str; 24] = [
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

/// Training sentences, Japanese.
pub const TRAIN_JA: [&str; 12] = [
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

/// Words for generated English training sentences (none of the benchmark's sentences is made
/// from them on purpose; what matters is phonetic variety, not meaning).
const EN_WORDS: [&[&str]; 6] = [
    // subjects
    &[
        "my neighbour",
        "the old farmer",
        "a tired pilot",
        "our teacher",
        "the quiet girl",
        "his brother",
        "every player",
        "the young doctor",
        "a clever fox",
        "the baker",
        "their uncle",
        "the choir",
        "a lonely whale",
        "the mayor",
        "your cousin",
        "the judge",
        "a shy puppy",
        "the fisherman",
    ],
    // verbs
    &[
        "painted",
        "carried",
        "found",
        "watched",
        "borrowed",
        "pushed",
        "measured",
        "chose",
        "described",
        "wrapped",
        "dropped",
        "fixed",
        "visited",
        "thanked",
        "bought",
        "opened",
        "ignored",
        "juggled",
        "polished",
        "boiled",
        "shouted at",
        "remembered",
        "weighed",
        "shared",
    ],
    // adjectives
    &[
        "purple", "heavy", "ancient", "shiny", "crooked", "gentle", "huge", "tiny", "frozen", "noisy", "smooth",
        "broken", "golden", "muddy", "awkward", "cheerful", "thick", "velvet", "hollow", "zigzag",
    ],
    // nouns
    &[
        "bicycle", "teapot", "umbrella", "mountain", "pumpkin", "violin", "blanket", "window", "hammer", "basket",
        "feather", "jacket", "rocket", "pillow", "anchor", "cherry", "oyster", "garage", "thimble", "yoghurt",
        "mirror", "bubble", "lantern", "noodle", "wallet", "puzzle",
    ],
    // prepositions
    &["beneath", "beside", "behind", "across", "inside", "under", "over", "near", "through", "around"],
    // openers and fillers
    &[
        "Well,",
        "Yesterday",
        "Oh,",
        "Quietly,",
        "Perhaps",
        "Every morning",
        "At noon",
        "Suddenly",
        "Believe it or not,",
        "Hmm,",
        "Of course,",
        "Later that week",
    ],
];

/// Japanese morae for generated training phrases.
const JA_MORAE: [&str; 71] = [
    "あ", "い", "う", "え", "お", "か", "き", "く", "け", "こ", "さ", "し", "す", "せ", "そ", "た", "ち", "つ", "て",
    "と", "な", "に", "ぬ", "ね", "の", "は", "ひ", "ふ", "へ", "ほ", "ま", "み", "む", "め", "も", "や", "ゆ", "よ",
    "ら", "り", "る", "れ", "ろ", "わ", "ん", "が", "ぎ", "ぐ", "げ", "ご", "ざ", "じ", "ず", "ぜ", "ぞ", "だ", "で",
    "ど", "ば", "び", "ぶ", "べ", "ぼ", "ぱ", "ぴ", "ぷ", "ぺ", "ぽ", "きょ", "しゃ", "ちゅ",
];

/// `n` generated English sentences (fixed seed: the same every run).
pub fn generated_en(n: usize) -> Vec<String> {
    let mut rng = Rng(0x656e_676c_6973);
    let pick = |list: &[&str], rng: &mut Rng| list[(rng.uniform() * list.len() as f64) as usize].to_string();
    (0..n)
        .map(|i| {
            let [subj, verb, adj, noun, prep, open] = EN_WORDS;
            let mut s = String::new();
            if rng.uniform() < 0.4 {
                s.push_str(&pick(open, &mut rng));
                s.push(' ');
            }
            s.push_str(&format!(
                "{} {} the {} {} {} the {} {}",
                pick(subj, &mut rng),
                pick(verb, &mut rng),
                pick(adj, &mut rng),
                pick(noun, &mut rng),
                pick(prep, &mut rng),
                pick(adj, &mut rng),
                pick(noun, &mut rng)
            ));
            s.push(if i % 5 == 0 { '?' } else { '.' });
            let mut c = s.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// `n` generated Japanese phrases: words of two to four random morae, with particles and
/// punctuation (nonsense, but every mora the mouth must make).
pub fn generated_ja(n: usize) -> Vec<String> {
    let mut rng = Rng(0x6e69_686f_6e67);
    let particles = ["は", "が", "を", "に", "で", "と", "も", "の"];
    (0..n)
        .map(|_| {
            let mut s = String::new();
            let words = 3 + (rng.uniform() * 3.0) as usize;
            for w in 0..words {
                for _ in 0..2 + (rng.uniform() * 3.0) as usize {
                    s.push_str(JA_MORAE[(rng.uniform() * JA_MORAE.len() as f64) as usize]);
                }
                if w + 1 < words {
                    s.push_str(particles[(rng.uniform() * particles.len() as f64) as usize]);
                    if rng.uniform() < 0.3 {
                        s.push('、');
                    }
                }
            }
            s.push_str(if rng.uniform() < 0.2 { "か？" } else { "です。" });
            s
        })
        .collect()
}

/// English training sentences: the hand-written ones and [`GENERATED`] generated ones.
pub fn train_en() -> Vec<String> {
    TRAIN_EN.iter().map(|s| s.to_string()).chain(generated_en(GENERATED)).collect()
}

/// Japanese training sentences: the hand-written ones and [`GENERATED`] generated ones.
pub fn train_ja() -> Vec<String> {
    TRAIN_JA.iter().map(|s| s.to_string()).chain(generated_ja(GENERATED)).collect()
}

/// Generated sentences per language added to the hand-written training sentences.
pub const GENERATED: usize = 96;

/// espeak-ng voices the model is trained on (voice+variant: male and female formant sets).
pub const TRAIN_ESPEAK_EN: [&str; 4] = ["en-us", "en-us+f2", "en-us+m3", "en-us+f5"];
/// espeak-ng Japanese voices trained on.
pub const TRAIN_ESPEAK_JA: [&str; 2] = ["ja", "ja+f2"];
/// espeak-ng voices never trained on: another accent and variant, and another Japanese variant.
pub const HELD_OUT_ESPEAK: [(&str, &str); 2] = [("en-gb-scotland+f4", "en"), ("ja+m2", "ja")];
/// Kokoro (neural, Japanese) voices trained on.
pub const TRAIN_KOKORO: [&str; 2] = ["jf_alpha", "jf_gongitsune"];
/// Kokoro voices never trained on (two female, one male).
pub const HELD_OUT_KOKORO: [&str; 3] = ["jf_nezumi", "jf_tebukuro", "jm_kumo"];
/// Piper speeds (length scales) the default neural voice is trained at.
pub const PIPER_SPEEDS: [f32; 3] = [1.0, 0.85, 1.2];
/// Shortest near-silence counted as a pause (stop closures are shorter).
pub const PAUSE_MS: f64 = 100.0;

/// A fixed-seed generator (xorshift64*): training data and weights are reproducible.
pub struct Rng(pub u64);

impl Rng {
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [a, b).
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.uniform()
    }
    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// One spoken sentence with its labels.
pub struct Take {
    /// Who spoke it (`espeak en-us+f2`, `piper en_US-joe-medium`).
    pub voice: String,
    /// `en` or `ja`.
    pub lang: &'static str,
    /// A neural voice.
    pub neural: bool,
    /// The audio and the engine's phoneme timing.
    pub speech: Speech,
    /// Pauses found in the clean audio, ms.
    pub pauses: Vec<(f64, f64)>,
}

impl Take {
    /// Labels `speech` (its pauses are found now, on the clean audio).
    pub fn new(voice: String, lang: &'static str, neural: bool, speech: Speech) -> Self {
        let pauses = pauses(&speech);
        Self { voice, lang, neural, speech, pauses }
    }

    /// The true mouth class (aa ih ou ee oh closed = 0..5) at `t_ms`.
    pub fn truth(&self, t_ms: f64) -> usize {
        if self.pauses.iter().any(|&(a, b)| t_ms >= a && t_ms < b) {
            return 5;
        }
        mouth_class(&viseme_at(&self.speech.phonemes, t_ms, self.speech.duration_ms()).mouth())
    }
}

/// Speaks with espeak-ng (`voice` may carry a `+variant`).
pub fn espeak(text: &str, voice: &str, rate: u32, pitch: u32) -> Result<Speech, TtsError> {
    synthesize(text, &EspeakVoice { voice: voice.into(), rate, pitch })
}

/// Speaks with a Piper voice at a speed (length scale relative to the voice's own).
pub fn piper(v: &mut PiperVoice, text: &str, speed: f32) -> Result<Speech, TtsError> {
    v.set_speed(speed);
    v.synthesize(text)
}

/// Where the Kokoro corpus is cached (`~/.cache/tomoni/corpus/kokoro`).
pub fn kokoro_dir() -> std::path::PathBuf {
    tomoni_voice::onnx::cache_dir().join("corpus/kokoro")
}

/// Makes the Kokoro corpus (every Kokoro voice speaking the Japanese training and benchmark
/// sentences) unless it is cached for exactly these sentences: `crates/xtask/voice/kokoro_corpus.py`
/// in the virtualenv `cargo xtask bench` sets up. About a minute on 2 cores.
pub fn kokoro_corpus() -> Result<std::path::PathBuf, String> {
    let dir = kokoro_dir();
    // Training voices speak the training sentences; every voice speaks the benchmark's.
    let job = serde_json::json!({
        "out": dir,
        "voices": TRAIN_KOKORO.iter().chain(&HELD_OUT_KOKORO).map(|v| {
            let sets = if TRAIN_KOKORO.contains(v) {
                serde_json::json!({"train": train_ja(), "bench": BENCH_JA})
            } else {
                serde_json::json!({"bench": BENCH_JA})
            };
            (v.to_string(), sets)
        }).collect::<serde_json::Map<_, _>>(),
    });
    if std::fs::read_to_string(dir.join("done")).ok().and_then(|t| serde_json::from_str(&t).ok()) == Some(job.clone()) {
        return Ok(dir);
    }
    let py = tomoni_voice::onnx::cache_dir().join("venv/bin/python");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../xtask/voice/kokoro_corpus.py");
    let mut child = std::process::Command::new(&py)
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e} (run `cargo xtask bench voice` once to set it up)", py.display()))?;
    use std::io::Write;
    child.stdin.take().map(|mut i| i.write_all(job.to_string().as_bytes())).transpose().map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("{} failed ({status})", script.display()));
    }
    Ok(dir)
}

/// One sentence of the Kokoro corpus: `set` is `train` or `bench`.
pub fn kokoro_take(dir: &std::path::Path, voice: &str, set: &str, i: usize) -> Result<Take, String> {
    let base = dir.join(voice).join(format!("{set}-{i}"));
    let wav = std::fs::read(base.with_extension("wav")).map_err(|e| format!("{}.wav: {e}", base.display()))?;
    let samples: Vec<i16> = wav[44..].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    let json: serde_json::Value = std::fs::read_to_string(base.with_extension("json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| format!("{}.json: unreadable", base.display()))?;
    let (mut chars, mut starts) = (Vec::new(), Vec::new());
    for p in json["phonemes"].as_array().into_iter().flatten() {
        let c = p[1].as_str().and_then(|s| s.chars().next()).unwrap_or(' ');
        chars.push(c);
        starts.push(p[0].as_f64());
    }
    let phonemes = tomoni_voice::piper::timed_phonemes(&chars, &starts, |ms| ms);
    let speech = Speech { sample_rate: 24_000, samples, phonemes };
    Ok(Take::new(format!("kokoro {voice}"), "ja", true, speech))
}

/// Stretches of at least [`PAUSE_MS`] whose 10 ms RMS stays under 1 % of the loudest 10 ms.
pub fn pauses(s: &Speech) -> Vec<(f64, f64)> {
    let per = (s.sample_rate / 100) as usize;
    let rms: Vec<f64> = s
        .samples
        .chunks(per)
        .map(|c| (c.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
        .collect();
    let peak = rms.iter().copied().fold(0.0, f64::max).max(1.0);
    let mut out = Vec::new();
    let mut start = None;
    for (i, &r) in rms.iter().chain(std::iter::once(&f64::INFINITY)).enumerate() {
        match (r < 0.01 * peak, start) {
            (true, None) => start = Some(i),
            (false, Some(a)) => {
                if (i - a) as f64 * 10.0 >= PAUSE_MS {
                    out.push((a as f64 * 10.0, i as f64 * 10.0));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// How a take is degraded for training: level, background noise, room.
#[derive(Debug, Clone, Copy)]
pub struct Room {
    /// Gain in dB (a quiet or a loud voice).
    pub gain_db: f64,
    /// Signal-to-noise ratio of added noise in dB (`None`: no noise).
    pub snr_db: Option<f64>,
    /// Reverberation time in seconds (`None`: dry).
    pub rt60: Option<f64>,
}

impl Room {
    /// A random room: 0 to −18 dB, noise at 15–35 dB SNR (pinkish or white), reverb 0.2–0.6 s
    /// half the time.
    pub fn random(rng: &mut Rng) -> Self {
        Self {
            gain_db: rng.range(-18.0, 0.0),
            snr_db: (rng.uniform() < 0.7).then(|| rng.range(15.0, 35.0)),
            rt60: (rng.uniform() < 0.5).then(|| rng.range(0.2, 0.6)),
        }
    }

    /// The take's samples as heard in this room (same length: a tail past the end is cut).
    pub fn apply(&self, samples: &[i16], rate: u32, rng: &mut Rng) -> Vec<i16> {
        let mut x: Vec<f64> = samples.iter().map(|&s| f64::from(s)).collect();
        if let Some(rt60) = self.rt60 {
            // An exponentially decaying noise tail (−60 dB at rt60), mixed under the dry sound.
            let n = (rt60 * f64::from(rate)) as usize;
            let ir: Vec<f64> =
                (0..n).map(|i| rng.normal() * (-6.9 * i as f64 / n as f64).exp() * 0.3 / (n as f64).sqrt()).collect();
            let dry = x.clone();
            // Sparse convolution: every 4th tap, scaled up, is plenty for a diffuse tail.
            for (k, h) in ir.iter().enumerate().skip(1).step_by(4) {
                for i in k..x.len() {
                    x[i] += 4.0 * h * dry[i - k];
                }
            }
        }
        let g = 10f64.powf(self.gain_db / 20.0);
        let power = x.iter().map(|v| (v * g).powi(2)).sum::<f64>() / x.len().max(1) as f64;
        let noise_rms = self.snr_db.map_or(0.0, |snr| (power / 10f64.powf(snr / 10.0)).sqrt());
        let pink = rng.uniform() < 0.5;
        let mut state = 0.0;
        x.iter()
            .map(|v| {
                let mut n = rng.normal();
                if pink {
                    state = 0.97 * state + n;
                    n = state * 0.25;
                }
                (v * g + n * noise_rms).round().clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }
}

/// The analyser's input for each full hop of `samples`, with the truth at the hop's centre.
/// `truth` is called with a time in ms.
pub fn hops(samples: &[i16], rate: u32, truth: impl Fn(f64) -> usize) -> Vec<([f32; INPUTS], usize)> {
    let sr = f64::from(rate);
    let mut a = Analyzer::new(rate);
    let mut per_hop = Vec::new();
    for (h, chunk) in samples.chunks(HOP).enumerate() {
        a.feed(chunk, |_| {});
        if h >= WINDOW / HOP - 1 && chunk.len() == HOP {
            let centre = ((h + 1) * HOP - WINDOW / 2) as f64 / sr;
            per_hop.push((a.features, truth(centre * 1000.0)));
        }
    }
    (0..per_hop.len())
        .map(|i| {
            let mut x = [0.0f32; INPUTS];
            for k in 0..SPAN {
                if let Some((f, _)) = (i + k).checked_sub(CONTEXT).and_then(|j| per_hop.get(j)) {
                    x[k * NF..(k + 1) * NF].copy_from_slice(f);
                }
            }
            x[INPUTS - 1] = if per_hop[i].0 == [0.0; NF] { 1.0 } else { 0.0 };
            (x, per_hop[i].1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comma_pause_in_espeak_speech_is_labelled_closed() {
        // espeak-ng gives no pause event: without the pause rule the comma would read as the
        // "n" of "garden" before it.
        let s = espeak("The garden, the river.", "en-us", 165, 50).unwrap();
        let take = Take::new("espeak en-us".into(), "en", false, s);
        assert!(!take.pauses.is_empty(), "no pause found");
        let (a, b) = take.pauses[0];
        assert!(a > 200.0 && b - a >= PAUSE_MS, "{:?}", take.pauses);
        assert_eq!(take.truth((a + b) / 2.0), 5);
        let mid = mouth_class(&viseme_at(&take.speech.phonemes, (a + b) / 2.0, take.speech.duration_ms()).mouth());
        assert_ne!(mid, 5, "espeak-ng's own timing still says a phoneme sounds in the pause");
    }

    #[test]
    fn a_room_keeps_length_and_changes_level_as_asked() {
        let mut rng = Rng(7);
        let s = espeak("Hello there.", "en-us", 165, 50).unwrap();
        let quiet = Room { gain_db: -12.0, snr_db: None, rt60: None }.apply(&s.samples, s.sample_rate, &mut rng);
        assert_eq!(quiet.len(), s.samples.len());
        let rms = |v: &[i16]| (v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        let ratio = rms(&quiet) / rms(&s.samples);
        assert!((ratio - 0.251).abs() < 0.01, "{ratio}");
        let noisy =
            Room { gain_db: 0.0, snr_db: Some(20.0), rt60: Some(0.4) }.apply(&s.samples, s.sample_rate, &mut rng);
        let diff: Vec<i16> = noisy.iter().zip(&s.samples).map(|(a, b)| a.saturating_sub(*b)).collect();
        assert!(rms(&diff) > 0.05 * rms(&s.samples), "the room changed nothing");
    }
}
