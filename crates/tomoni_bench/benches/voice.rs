//! Voice measurements (`cargo xtask bench voice`): viseme agreement of the audio-analysis path
//! with espeak-ng's own phoneme timing over 50 sentences in English and Japanese, beside the
//! amplitude→`aa` baseline other companion apps use, frame by frame at 60 Hz; the A/V offset of
//! mouth onsets; first clause → first queued sample; CPU per second of speech.

use std::time::Instant;
use tomoni_voice::analysis::{self, mouth_class};
use tomoni_voice::espeak::{EspeakVoice, synthesize};
use tomoni_voice::stream::speech_stream;
use tomoni_voice::viseme::{VisemeTrack, viseme_at};

const EN: [&str; 30] = [
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

const JA: [&str; 20] = [
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

fn rms_frames(samples: &[i16], rate: u32) -> Vec<f32> {
    let per = rate as usize / 60;
    samples
        .chunks(per)
        .map(|c| (c.iter().map(|&s| (f32::from(s) / 32768.0).powi(2)).sum::<f32>() / c.len() as f32).sqrt())
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if !filter.is_empty() && !filter.iter().any(|f| "voice".contains(f.as_str())) {
        return;
    }
    let (mut frames, mut agree_a, mut agree_b, mut open_a, mut open_b) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let (mut synth_s, mut analysis_s, mut audio_s) = (0.0f64, 0.0f64, 0.0f64);
    let mut offsets = Vec::new();
    let mut confusion = [[0usize; 6]; 6];
    let mut first_sample_ms = Vec::new();
    let mut synth_only_ms = Vec::new();
    for (voice, text) in EN.iter().map(|t| ("en-us", *t)).chain(JA.iter().map(|t| ("ja", *t))) {
        let v = EspeakVoice { voice: voice.into(), ..EspeakVoice::default() };
        let t0 = Instant::now();
        let s = synthesize(text, &v).unwrap();
        let synth = t0.elapsed().as_secs_f64();
        // First clause -> first audio sample in the playback queue.
        let (mut q, _data) = speech_stream(s.sample_rate);
        let t1 = Instant::now();
        let s2 = synthesize(text, &v).unwrap();
        q.push(&s2.samples[..s2.samples.len().min(4096)]);
        first_sample_ms.push(t1.elapsed().as_secs_f64() * 1000.0);
        synth_only_ms.push(synth * 1000.0);
        synth_s += synth;
        audio_s += s.duration_ms() / 1000.0;
        let truth = VisemeTrack::from_phonemes(&s.phonemes, s.duration_ms());
        let t2 = Instant::now();
        let est = analysis::track(&s.samples, s.sample_rate);
        analysis_s += t2.elapsed().as_secs_f64();
        let rms = rms_frames(&s.samples, s.sample_rate);
        let peak = rms.iter().copied().fold(0.0f32, f32::max).max(1e-6);
        for i in 0..est.len().min(rms.len()) {
            // Truth: the phoneme sounding at this frame (espeak-ng's own timing).
            let want = mouth_class(&viseme_at(&s.phonemes, i as f64 * 1000.0 / 60.0, s.duration_ms()).mouth());
            let got = mouth_class(&est[i]);
            let base = if rms[i] > 0.15 * peak { 0 } else { 5 }; // amplitude -> aa
            frames += 1;
            confusion[want][got] += 1;
            agree_a += usize::from(want == got);
            agree_b += usize::from(want == base);
            open_a += usize::from((want == 5) == (got == 5));
            open_b += usize::from((want == 5) == (base == 5));
        }
        // A/V offset: first frame the mouth opens (phoneme path) vs first frame of sound.
        let audio_on = rms.iter().position(|&r| r > 0.1 * peak);
        let mouth_on = truth.frames.iter().position(|w| w.iter().any(|&x| x > 0.3));
        if let (Some(a), Some(m)) = (audio_on, mouth_on) {
            offsets.push((m as f64 - a as f64) * 1000.0 / 60.0);
        }
    }
    let pct = |x: usize| 100.0 * x as f64 / frames as f64;
    println!("voice: {} sentences (30 en-us, 20 ja), {frames} frames at 60 Hz", EN.len() + JA.len());
    println!(
        "voice: viseme agreement with phoneme truth: analysis {:.1} %, amplitude->aa baseline {:.1} % (ratio {:.2})",
        pct(agree_a),
        pct(agree_b),
        agree_a as f64 / agree_b.max(1) as f64
    );
    println!("voice: confusion (rows: truth aa ih ou ee oh closed; columns: analysis)");
    for row in confusion {
        println!("voice:   {row:?}");
    }
    println!("voice: open/closed agreement: analysis {:.1} %, baseline {:.1} %", pct(open_a), pct(open_b));
    println!(
        "voice: A/V offset of mouth onset vs audio onset (phoneme path): median {:+.1} ms (negative: mouth leads)",
        median(&mut offsets)
    );
    println!(
        "voice: first clause -> first queued sample: median {:.1} ms; synthesis alone median {:.1} ms",
        median(&mut first_sample_ms),
        median(&mut synth_only_ms)
    );
    println!(
        "voice: CPU per second of speech: synthesis {:.1} ms, analysis {:.1} ms",
        1000.0 * synth_s / audio_s,
        1000.0 * analysis_s / audio_s
    );
}
