//! Voice measurements (`cargo xtask bench voice`), one run, every engine:
//!
//! - **lip-sync agreement** of the audio-analysis path (the shipped model, streamed through
//!   `analysis::track` at 60 Hz) with each engine's own phoneme timing, per voice and language,
//!   on the benchmark's sentences (never trained on); voices the model never heard are marked
//!   *held-out*. Beside it the amplitude→`aa` baseline other companion apps use (mouth open
//!   where the 60 Hz RMS exceeds 10 % of the sentence's peak) on the same audio.
//! - **A/V offset** of the phoneme path (mouth onset vs audio onset), per engine;
//! - **first clause → first queued sample** through the real speaker thread, per engine;
//! - **real-time factor** (synthesis time / speech time) per engine.
//!
//! Truth and voices come from `tomoni_bench::lipsync`, shared with the trainer.

use std::time::{Duration, Instant};
use tomoni_bench::lipsync::*;
use tomoni_voice::analysis::{self, mouth_class};
use tomoni_voice::espeak::EspeakVoice;
use tomoni_voice::piper::{DEFAULT_VOICE, PiperSpec, PiperVoice};
use tomoni_voice::speaker::{Event, Job, Speaker, VoiceEngine};
use tomoni_voice::viseme::VisemeTrack;

fn rms_frames(samples: &[i16], rate: u32) -> Vec<f32> {
    let per = rate as usize / 60;
    samples
        .chunks(per)
        .map(|c| (c.iter().map(|&s| (f32::from(s) / 32768.0).powi(2)).sum::<f32>() / c.len() as f32).sqrt())
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Frame-by-frame scores of one group of takes.
#[derive(Default)]
struct Score {
    frames: usize,
    analysis: usize,
    baseline: usize,
    open_analysis: usize,
    open_baseline: usize,
    confusion: [[usize; 6]; 6],
    analysis_s: f64,
    audio_s: f64,
}

impl Score {
    fn add(&mut self, take: &Take) {
        let s = &take.speech;
        let t = Instant::now();
        let est = analysis::track(&s.samples, s.sample_rate);
        self.analysis_s += t.elapsed().as_secs_f64();
        self.audio_s += s.duration_ms() / 1000.0;
        let rms = rms_frames(&s.samples, s.sample_rate);
        let peak = rms.iter().copied().fold(0.0f32, f32::max).max(1e-6);
        for i in 0..est.len().min(rms.len()) {
            let want = take.truth(i as f64 * 1000.0 / 60.0);
            let got = mouth_class(&est[i]);
            let base = if rms[i] > 0.10 * peak { 0 } else { 5 };
            self.frames += 1;
            self.confusion[want][got] += 1;
            self.analysis += usize::from(want == got);
            self.baseline += usize::from(want == base);
            self.open_analysis += usize::from((want == 5) == (got == 5));
            self.open_baseline += usize::from((want == 5) == (base == 5));
        }
    }

    fn pct(&self, x: usize) -> f64 {
        100.0 * x as f64 / self.frames.max(1) as f64
    }

    fn row(&self, name: &str, held_out: bool) {
        println!(
            "voice: | {name}{} | {} | **{:.1} %** | {:.1} % | {:.1} % / {:.1} % |",
            if held_out { " (held-out)" } else { "" },
            self.frames,
            self.pct(self.analysis),
            self.pct(self.baseline),
            self.pct(self.open_analysis),
            self.pct(self.open_baseline),
        );
    }

    fn merge(&mut self, o: &Score) {
        self.frames += o.frames;
        self.analysis += o.analysis;
        self.baseline += o.baseline;
        self.open_analysis += o.open_analysis;
        self.open_baseline += o.open_baseline;
        for (a, b) in self.confusion.iter_mut().zip(&o.confusion) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        self.analysis_s += o.analysis_s;
        self.audio_s += o.audio_s;
    }
}

/// Mouth onset (phoneme path, weight > 0.3) minus audio onset (RMS > 10 % of peak), ms.
fn av_offset(take: &Take) -> Option<f64> {
    let s = &take.speech;
    let track = VisemeTrack::from_phonemes(&s.phonemes, s.duration_ms());
    let rms = rms_frames(&s.samples, s.sample_rate);
    let peak = rms.iter().copied().fold(0.0f32, f32::max).max(1e-6);
    let audio_on = rms.iter().position(|&r| r > 0.1 * peak)?;
    let mouth_on = track.frames.iter().position(|w| w.iter().any(|&x| x > 0.3))?;
    Some((mouth_on as f64 - audio_on as f64) * 1000.0 / 60.0)
}

/// First clause → first queued sample through the real speaker thread: median over the
/// benchmark's first ten sentences, after one warm-up clause.
fn first_sample(engine: VoiceEngine) -> f64 {
    let (speaker, data) = Speaker::start(engine).expect("speaker thread");
    // Play the queue out as fast as it fills, so the 4 s ring never holds synthesis back.
    let mut out = data.into_offline();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let player = std::thread::spawn(move || {
        let mut buf = vec![0.0f32; 8192];
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            out.render(&mut buf, 48_000);
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let mut ms = Vec::new();
    for (i, text) in std::iter::once("Hello.").chain(BENCH_EN.iter().copied().take(10)).enumerate() {
        speaker.send(Job::Say(text.into()));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match speaker.try_event() {
                Some(Event::Queued { first_sample_ms, .. }) => {
                    if i > 0 {
                        ms.push(first_sample_ms);
                    }
                    break;
                }
                Some(Event::Failed(e)) => panic!("{e}"),
                _ if Instant::now() > deadline => panic!("no audio within 60 s"),
                _ => std::thread::sleep(Duration::from_micros(200)),
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = player.join();
    median(&mut ms)
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if !filter.is_empty() && !filter.iter().any(|f| "voice".contains(f.as_str())) {
        return;
    }
    let spec = PiperSpec::find(DEFAULT_VOICE).expect("the default Piper voice (cargo xtask bench sets it up)");
    let mut joe = PiperVoice::load(&spec, 2).expect("Piper voice");
    let mut joe1 = PiperVoice::load(&spec, 1).expect("Piper voice");

    // Speed and timing per engine, on the English benchmark sentences.
    let (mut espeak_s, mut piper1_s, mut piper2_s, mut espeak_audio, mut piper_audio) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let mut synth_ms = (Vec::new(), Vec::new());
    let mut offsets = (Vec::new(), Vec::new());
    let mut groups: Vec<(String, &'static str, bool, Vec<Take>)> = Vec::new();
    let mut espeak_en = Vec::new();
    let mut piper_en = Vec::new();
    for text in BENCH_EN {
        let t = Instant::now();
        let s = espeak(text, "en-us", 165, 50).unwrap();
        let el = t.elapsed().as_secs_f64();
        espeak_s += el;
        synth_ms.0.push(el * 1000.0);
        espeak_audio += s.duration_ms() / 1000.0;
        espeak_en.push(Take::new("espeak en-us".into(), "en", false, s));
        let t = Instant::now();
        let s = joe1.synthesize(text).unwrap();
        let el = t.elapsed().as_secs_f64();
        piper1_s += el;
        synth_ms.1.push(el * 1000.0);
        piper_audio += s.duration_ms() / 1000.0;
        let t = Instant::now();
        joe.synthesize(text).unwrap();
        piper2_s += t.elapsed().as_secs_f64();
        piper_en.push(Take::new(format!("piper {DEFAULT_VOICE}"), "en", true, s));
    }
    for t in &espeak_en {
        offsets.0.extend(av_offset(t));
    }
    for t in &piper_en {
        offsets.1.extend(av_offset(t));
    }
    let espeak_group = |v: &str, lang: &'static str, held: bool| {
        let texts = if lang == "en" { &BENCH_EN[..] } else { &BENCH_JA[..] };
        let takes = texts.iter().map(|t| Take::new(v.into(), lang, false, espeak(t, v, 165, 50).unwrap())).collect();
        (format!("espeak-ng {v}"), lang, held, takes)
    };
    groups.push(("espeak-ng en-us".into(), "en", false, espeak_en));
    groups.push(espeak_group(HELD_OUT_ESPEAK[0].0, "en", true));
    groups.push((format!("Piper {DEFAULT_VOICE} (neural)"), "en", false, piper_en));
    groups.push(espeak_group("ja", "ja", false));
    groups.push(espeak_group(HELD_OUT_ESPEAK[1].0, "ja", true));
    match kokoro_corpus() {
        Ok(dir) => {
            for v in TRAIN_KOKORO.iter().chain(&HELD_OUT_KOKORO) {
                let takes = (0..BENCH_JA.len()).map(|i| kokoro_take(&dir, v, "bench", i).unwrap()).collect();
                groups.push((format!("Kokoro {v} (neural)"), "ja", HELD_OUT_KOKORO.contains(v), takes));
            }
        }
        Err(e) => println!("voice: Kokoro voices not measured: {e}"),
    }

    println!("voice: lip-sync agreement with each engine's phoneme timing, 60 Hz frames, benchmark sentences");
    println!("voice: | voice | frames | analysis, 6 classes | amplitude baseline | open/closed: analysis / baseline |");
    println!("voice: |---|---|---|---|---|");
    let mut totals: Vec<(String, Score)> = Vec::new();
    let mut cpu = Score::default();
    for (name, lang, held, takes) in &groups {
        let mut score = Score::default();
        for t in takes {
            score.add(t);
        }
        score.row(&format!("{name} [{lang}]"), *held);
        let mut keys = vec![format!("{lang}, {}", if *held { "held-out voices" } else { "trained voices" })];
        if name.contains("neural") && *held {
            keys.push(format!("{lang}, held-out neural voices"));
        }
        for key in keys {
            match totals.iter_mut().find(|(k, _)| *k == key) {
                Some((_, s)) => s.merge(&score),
                None => {
                    let mut s = Score::default();
                    s.merge(&score);
                    totals.push((key, s));
                }
            }
        }
        cpu.merge(&score);
    }
    for (k, s) in &totals {
        s.row(&format!("all {k}"), false);
    }
    println!("voice: confusion over all voices (rows: truth aa ih ou ee oh closed; columns: analysis)");
    for row in cpu.confusion {
        println!("voice:   {row:?}");
    }
    println!(
        "voice: A/V offset, mouth onset vs audio onset (phoneme path; negative: mouth leads): espeak-ng median {:+.1} ms, Piper median {:+.1} ms",
        median(&mut offsets.0),
        median(&mut offsets.1)
    );
    let espeak_first = first_sample(VoiceEngine::Espeak(EspeakVoice::default()));
    let piper_first = first_sample(VoiceEngine::Piper { spec: spec.clone(), fallback: EspeakVoice::default() });
    println!(
        "voice: first clause -> first queued sample (speaker thread): espeak-ng median {:.1} ms (synthesis alone {:.1} ms); Piper median {:.1} ms (synthesis alone, 1 thread, {:.1} ms)",
        espeak_first,
        median(&mut synth_ms.0),
        piper_first,
        median(&mut synth_ms.1)
    );
    println!(
        "voice: real-time factor (synthesis / speech): espeak-ng {:.4}; Piper {:.3} on 1 thread (as the speaker runs it), {:.3} on 2",
        espeak_s / espeak_audio,
        piper1_s / piper_audio,
        piper2_s / piper_audio
    );
    println!("voice: analysis CPU per second of speech: {:.1} ms", 1000.0 * cpu.analysis_s / cpu.audio_s);
}
