//! The speaker: a synthesis thread fed clause by clause, queuing audio gaplessly into a
//! [`SpeechQueue`] and reporting where in the audio each clause's mouth track and each cue
//! (emotion, gesture) falls, in samples of the audio clock.
//!
//! The frame loop only sends jobs and drains events (`try_recv`); synthesis, HTTP and waiting
//! for room in the ring happen here. Barge-in ([`Speaker::stop`]) silences the output from the
//! next audio block and drops every job sent before it.

use crate::analysis::{self, Analyzer};
use crate::espeak::{self, EspeakVoice};
use crate::openai_tts::OpenAiSpeech;
use crate::piper::{PiperSpec, PiperVoice};
use crate::stream::{AudioClock, SpeechQueue, SpeechStreamData, Stopper, speech_stream};
use crate::viseme::VisemeTrack;
use crate::{Speech, TtsError};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Which TTS speaks.
#[derive(Debug, Clone)]
pub enum VoiceEngine {
    /// espeak-ng in process, with exact phoneme timing.
    Espeak(EspeakVoice),
    /// A Piper neural voice in process, with exact phoneme timing from the model's durations;
    /// espeak-ng speaks instead if the model cannot be loaded or is too slow on this machine.
    Piper {
        /// The voice.
        spec: PiperSpec,
        /// The fallback.
        fallback: EspeakVoice,
    },
    /// An OpenAI-compatible `/v1/audio/speech` service; mouth shapes from audio analysis.
    OpenAi(OpenAiSpeech),
}

/// The slowest real-time factor (synthesis time / speech time, one thread) at which a neural
/// voice still speaks: slower, and a long clause would leave the companion silent mid-sentence
/// on a loaded machine, so espeak-ng speaks instead.
pub const MAX_REAL_TIME_FACTOR: f64 = 0.5;

impl VoiceEngine {
    /// Sample rate of the audio this engine produces.
    pub fn sample_rate(&self) -> u32 {
        match self {
            VoiceEngine::Espeak(_) => espeak::SAMPLE_RATE,
            VoiceEngine::Piper { spec, .. } => spec.sample_rate,
            VoiceEngine::OpenAi(_) => crate::openai_tts::PCM_RATE,
        }
    }

    /// A short description for logs and `tomoni doctor`.
    pub fn describe(&self) -> String {
        match self {
            VoiceEngine::Espeak(v) => format!("espeak-ng {} voice {}", espeak::version(), v.voice),
            VoiceEngine::Piper { spec, .. } => format!("Piper voice {} (ONNX Runtime, in process)", spec.name()),
            VoiceEngine::OpenAi(o) => format!("{} voice {} at {}", o.model, o.voice, o.base_url),
        }
    }
}

impl VoiceEngine {
    /// Speaks `text` in one piece, with its mouth track: for `tomoni say`, `doctor` and
    /// benchmarks (the live app streams through [`Speaker`] instead). Loads a Piper voice each
    /// call and never falls back: asked for a voice, it says why that voice cannot speak.
    pub fn synthesize_once(&self, text: &str) -> Result<(Speech, VisemeTrack), TtsError> {
        let speech = match self {
            _ if let Some(v) = self.japanese_stand_in(text) => espeak::synthesize(text, &v)?,
            VoiceEngine::Espeak(v) => espeak::synthesize(text, v)?,
            VoiceEngine::Piper { spec, .. } => PiperVoice::load(spec, 2)?.synthesize(text)?,
            VoiceEngine::OpenAi(o) => {
                let speech = o.synthesize(text)?;
                let frames = analysis::track(&speech.samples, speech.sample_rate);
                return Ok((speech, VisemeTrack { fps: 60.0, frames }));
            }
        };
        let track = VisemeTrack::from_phonemes(&speech.phonemes, speech.duration_ms());
        Ok((speech, track))
    }

    /// The voice that says `text` instead when it is Japanese and this voice speaks another
    /// language (the default persona speaks English and Japanese with an English voice, which
    /// would read Japanese through English phonemes): espeak-ng's Japanese voice at this
    /// voice's pace. A service's voice (`openai`) may well speak Japanese itself: left to it.
    pub fn japanese_stand_in(&self, text: &str) -> Option<EspeakVoice> {
        let pace = match self {
            VoiceEngine::Espeak(v) if !crate::japanese::is_japanese_voice(&v.voice) => v,
            VoiceEngine::Piper { spec, fallback } if !spec.is_japanese() => fallback,
            _ => return None,
        };
        crate::japanese::is_japanese_text(text).then(|| EspeakVoice { voice: "ja".into(), ..pace.clone() })
    }
}

/// Work for the speaker, in the order it is to be heard.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Speak a clause.
    Say(String),
    /// Silence, milliseconds.
    Pause(u32),
    /// Report when the audio reaches this point (for an emotion or gesture cue).
    Mark(u64),
}

/// What the speaker reports back.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Mouth weights for audio starting at sample `start` of the clock.
    Track {
        /// First sample (audio clock) the track's time 0 refers to.
        start: u64,
        /// The weights.
        track: VisemeTrack,
    },
    /// The audio up to `at` has been queued; a [`Job::Mark`] is due when the clock reaches `at`.
    Mark {
        /// The mark's id.
        id: u64,
        /// Clock sample.
        at: u64,
    },
    /// A clause is queued: its first sample, length, and how long synthesis took.
    Queued {
        /// First sample.
        start: u64,
        /// Samples.
        len: u64,
        /// Milliseconds from receiving the clause to queuing its first sample.
        first_sample_ms: f64,
    },
    /// A clause could not be spoken (the text is shown, the turn goes on).
    Failed(String),
}

/// The frame loop's handle on the speaker thread.
pub struct Speaker {
    jobs: Sender<(u64, Job)>,
    events: Receiver<(u64, Event)>,
    generation: Arc<AtomicU64>,
    /// Clauses sent since the last barge-in and not yet made into audio (or failed).
    pending: Arc<AtomicU64>,
    stopper: Stopper,
    clock: AudioClock,
    rate: u32,
    /// Taken once, by a listener (a mutex only to keep `Speaker` shareable; never contended).
    tap: std::sync::Mutex<Option<crate::stream::PlaybackTap>>,
}

impl Speaker {
    /// Starts the thread; play the returned sound on a kira manager (or render it offline).
    pub fn start(engine: VoiceEngine) -> std::io::Result<(Self, SpeechStreamData)> {
        let rate = engine.sample_rate();
        let (mut queue, data) = speech_stream(rate);
        let tap = std::sync::Mutex::new(queue.take_tap());
        let (jobs, job_rx) = crossbeam_channel::unbounded();
        let (event_tx, events) = crossbeam_channel::unbounded();
        let generation = Arc::new(AtomicU64::new(0));
        let pending = Arc::new(AtomicU64::new(0));
        let stopper = queue.stopper();
        let clock = queue.clock();
        let (g, p) = (generation.clone(), pending.clone());
        std::thread::Builder::new()
            .name("tomoni-speaker".into())
            .spawn(move || run(engine, queue, job_rx, event_tx, g, p))?;
        Ok((Self { jobs, events, generation, pending, stopper, clock, rate, tap }, data))
    }

    /// Queues a job (never blocks).
    pub fn send(&self, job: Job) {
        if matches!(job, Job::Say(_)) {
            self.pending.fetch_add(1, Ordering::AcqRel);
        }
        let _ = self.jobs.send((self.generation.load(Ordering::Acquire), job));
    }

    /// Whether clauses sent since the last barge-in are still being synthesised: a neural voice
    /// can take longer over the next clause than the last one takes to play, and the companion
    /// is still speaking in that gap.
    pub fn busy(&self) -> bool {
        self.pending.load(Ordering::Acquire) > 0
    }

    /// The next event, if any (never blocks). Events from before a [`Speaker::stop`] are dropped.
    pub fn try_event(&self) -> Option<Event> {
        loop {
            match self.events.try_recv() {
                Ok((g, e)) if g == self.generation.load(Ordering::Acquire) => return Some(e),
                Ok(_) => continue,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return None,
            }
        }
    }

    /// Barge-in: silence now, forget everything queued or sent.
    pub fn stop(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.pending.store(0, Ordering::Release);
        self.stopper.stop();
    }

    /// Ducks (gain < 1) or restores (1.0) the voice: the person has started to speak.
    pub fn duck(&self, gain: f32) {
        self.stopper.set_gain(gain);
    }

    /// What the voice played, for a listener's echo gate (once).
    pub fn take_tap(&self) -> Option<crate::stream::PlaybackTap> {
        self.tap.lock().ok()?.take()
    }

    /// The audio clock.
    pub fn clock(&self) -> &AudioClock {
        &self.clock
    }

    /// Samples per second of the speech.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }
}

fn run(
    engine: VoiceEngine,
    mut queue: SpeechQueue,
    jobs: Receiver<(u64, Job)>,
    events: Sender<(u64, Event)>,
    generation: Arc<AtomicU64>,
    pending: Arc<AtomicU64>,
) {
    crate::lower_thread_priority();
    // A clause of the current generation is done (spoken into the queue, or failed).
    let done = |g: u64| {
        if g == generation.load(Ordering::Acquire) {
            let _ = pending.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        }
    };
    let rate = engine.sample_rate();
    let mut piper = match &engine {
        VoiceEngine::Piper { spec, .. } => match load_piper(spec) {
            Ok(v) => Some(v),
            Err(e) => {
                let _ = events.send((0, Event::Failed(format!("{e}; espeak-ng speaks instead"))));
                None
            }
        },
        _ => None,
    };
    // A Japanese voice reads kanji through a dictionary built on first use (about a second):
    // built now, before the first clause waits for it.
    if let VoiceEngine::Espeak(v) = &engine
        && crate::japanese::is_japanese_voice(&v.voice)
    {
        crate::japanese::preload();
    }
    let mut current = 0u64;
    let mut analyzer = Analyzer::new(rate);
    while let Ok((g, job)) = jobs.recv() {
        if g < generation.load(Ordering::Acquire) {
            continue; // sent before a barge-in
        }
        if g != current {
            current = g;
            queue.resume();
        }
        let stale = || g < generation.load(Ordering::Acquire);
        let send = |e: Event| {
            let _ = events.send((g, e));
        };
        match job {
            Job::Mark(id) => send(Event::Mark { id, at: queue.clock().pushed_samples() }),
            Job::Pause(ms) => {
                let n = (u64::from(ms.min(5000)) * u64::from(rate) / 1000) as usize;
                queue.push_all_unless(&vec![0; n], &stale);
            }
            Job::Say(text) => {
                let began = Instant::now();
                let start = queue.clock().pushed_samples();
                let result = match &engine {
                    // A Japanese clause to a voice of another language (the default persona
                    // speaks English and Japanese): espeak-ng's Japanese voice says it, at the
                    // voice's pace.
                    _ if let Some(v) = engine.japanese_stand_in(&text) => espeak::synthesize(&text, &v)
                        .map(|speech| queue_whole(&mut queue, speech, rate, start, began, &send, &stale)),
                    VoiceEngine::Espeak(v) => espeak::synthesize(&text, v)
                        .map(|speech| queue_whole(&mut queue, speech, rate, start, began, &send, &stale)),
                    VoiceEngine::Piper { fallback, .. } => match piper.as_mut() {
                        // Sentence by sentence: the first is queued while the next is made.
                        Some(voice) => {
                            let mut first = None;
                            let mut at = start;
                            voice
                                .sentences(&text, |speech| {
                                    let track = VisemeTrack::from_phonemes(&speech.phonemes, speech.duration_ms());
                                    send(Event::Track { start: at, track });
                                    first.get_or_insert_with(|| began.elapsed().as_secs_f64() * 1000.0);
                                    queue.push_all_unless(&speech.samples, &stale);
                                    at += speech.samples.len() as u64;
                                })
                                .map(|()| {
                                    let ms = first.unwrap_or(0.0);
                                    send(Event::Queued { start, len: at - start, first_sample_ms: ms });
                                })
                        }
                        None => espeak::synthesize(&text, fallback)
                            .map(|speech| queue_whole(&mut queue, speech, rate, start, began, &send, &stale)),
                    },
                    VoiceEngine::OpenAi(o) => {
                        // Streamed: queue each piece as it arrives and analyse it for the mouth.
                        let mut first = None;
                        let mut hops: Vec<[f32; 5]> = Vec::new();
                        let mut origin = start;
                        analyzer.reset();
                        let r = o.stream(&text, &stale, |piece| {
                            if first.is_none() {
                                first = Some(began.elapsed().as_secs_f64() * 1000.0);
                            }
                            analyzer.feed(piece, |w| hops.push(w));
                            queue.push_all_unless(piece, &stale);
                            if hops.len() >= 8 {
                                let frames = std::mem::take(&mut hops);
                                let n = frames.len() as u64;
                                // Hop h's window is centred WINDOW/2 samples after its start.
                                let at = origin + (analysis::WINDOW / 2) as u64;
                                send(Event::Track { start: at, track: hop_track(frames, rate) });
                                origin += n * analysis::HOP as u64;
                            }
                        });
                        analyzer.finish(|w| hops.push(w));
                        if !hops.is_empty() {
                            let at = origin + (analysis::WINDOW / 2) as u64;
                            send(Event::Track { start: at, track: hop_track(hops, rate) });
                        }
                        let len = queue.clock().pushed_samples() - start;
                        send(Event::Queued { start, len, first_sample_ms: first.unwrap_or(0.0) });
                        r.and_then(|got| {
                            if got == rate {
                                Ok(())
                            } else {
                                Err(TtsError::Synth(format!(
                                    "the service sent {got} Hz audio; tomoni asks for {rate} Hz"
                                )))
                            }
                        })
                    }
                };
                if let Err(e) = result {
                    send(Event::Failed(e.to_string()));
                }
                done(g);
            }
        }
    }
}

/// Loads a Piper voice on the speaker thread (one ONNX Runtime thread, so the frame loop keeps
/// the other core), warms it up, and times a second sentence in this thread's CPU time: a voice
/// slower than [`MAX_REAL_TIME_FACTOR`] on this machine is refused. CPU time, not wall time: a
/// moment of contention at start (a test suite, a build) says nothing about the machine, and
/// the first run of a model pays for its one-off allocations.
fn load_piper(spec: &PiperSpec) -> Result<PiperVoice, TtsError> {
    let mut voice = PiperVoice::load(spec, 1)?;
    voice.synthesize("Hello.")?;
    let t = crate::thread_cpu_seconds();
    let warm = voice.synthesize("Hello, I am here with you.")?;
    let rtf = (crate::thread_cpu_seconds() - t) * 1000.0 / warm.duration_ms().max(1.0);
    if rtf > MAX_REAL_TIME_FACTOR {
        return Err(TtsError::Model(format!(
            "{} is too slow here (real-time factor {rtf:.2} of one core, limit {MAX_REAL_TIME_FACTOR})",
            spec.name()
        )));
    }
    Ok(voice)
}

/// Queues a clause made in one piece (espeak-ng, or it standing in for Piper) at the output's
/// rate, with its mouth track, as one block.
fn queue_whole(
    queue: &mut SpeechQueue,
    speech: Speech,
    rate: u32,
    start: u64,
    began: Instant,
    send: &dyn Fn(Event),
    stale: &dyn Fn() -> bool,
) {
    let speech = resample(speech, rate);
    let track = VisemeTrack::from_phonemes(&speech.phonemes, speech.duration_ms());
    send(Event::Track { start, track });
    let ms = began.elapsed().as_secs_f64() * 1000.0;
    send(Event::Queued { start, len: speech.samples.len() as u64, first_sample_ms: ms });
    queue.push_all_unless(&speech.samples, stale);
}

/// Linear resampling of the fallback voice to the rate the output was opened at (a Piper voice
/// may speak at 16 kHz; espeak-ng at 22.05 kHz); phoneme times are in ms and stay as they are.
fn resample(speech: Speech, rate: u32) -> Speech {
    if speech.sample_rate == rate || speech.samples.is_empty() {
        return speech;
    }
    let n = (speech.samples.len() as u64 * u64::from(rate) / u64::from(speech.sample_rate)) as usize;
    let step = f64::from(speech.sample_rate) / f64::from(rate);
    let s = &speech.samples;
    let samples = (0..n)
        .map(|i| {
            let x = i as f64 * step;
            let (j, f) = (x as usize, x.fract());
            let a = f64::from(s[j.min(s.len() - 1)]);
            let b = f64::from(s[(j + 1).min(s.len() - 1)]);
            (a + (b - a) * f).round() as i16
        })
        .collect();
    Speech { sample_rate: rate, samples, phonemes: speech.phonemes }
}

fn hop_track(frames: Vec<[f32; 5]>, rate: u32) -> VisemeTrack {
    VisemeTrack { fps: f64::from(rate) / analysis::HOP as f64, frames }
}

/// Mouth weights at a clock sample from the tracks still relevant (the newest that covers it).
pub fn mouth_at(tracks: &std::collections::VecDeque<(u64, VisemeTrack)>, sample: u64, rate: u32) -> [f32; 5] {
    for (start, track) in tracks.iter().rev() {
        if sample >= *start {
            let t = (sample - start) as f64 / f64::from(rate);
            if t * track.fps < track.frames.len() as f64 {
                return track.at(t);
            }
        }
    }
    [0.0; 5]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_for(s: &Speaker, mut f: impl FnMut(&Event) -> bool) -> Vec<Event> {
        let mut seen = Vec::new();
        let until = Instant::now() + std::time::Duration::from_secs(10);
        while Instant::now() < until {
            if let Some(e) = s.try_event() {
                let done = f(&e);
                seen.push(e);
                if done {
                    return seen;
                }
            } else {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        panic!("timed out; saw {seen:?}");
    }

    /// The default persona speaks English and Japanese with an English voice: a Japanese
    /// clause is said by espeak-ng's Japanese voice, as long as that voice takes to say it,
    /// and an English clause stays the English voice's.
    #[test]
    fn a_japanese_clause_to_an_english_voice_is_said_in_japanese() {
        if !crate::japanese::ready_for_tests() {
            return;
        }
        let line = "今日はいい天気ですね。";
        let ja = espeak::synthesize(line, &EspeakVoice { voice: "ja".into(), ..EspeakVoice::default() }).unwrap();
        let (s, _data) = Speaker::start(VoiceEngine::Espeak(EspeakVoice::default())).unwrap();
        s.send(Job::Say(line.into()));
        let seen = wait_for(&s, |e| matches!(e, Event::Queued { .. } | Event::Failed(_)));
        let Some(Event::Queued { len, .. }) = seen.last() else { panic!("{seen:?}") };
        // espeak-ng ja says it in 1.31 s (a few samples vary with the engine's state); the
        // English voice took 7.25 s, spelling each kanji out as "Chinese letter".
        let ratio = *len as f64 / ja.samples.len() as f64;
        assert!((0.99..1.01).contains(&ratio), "{len} samples, espeak-ng ja {}", ja.samples.len());
        s.send(Job::Say("Hello there.".into()));
        let seen = wait_for(&s, |e| matches!(e, Event::Queued { .. }));
        let en = espeak::synthesize("Hello there.", &EspeakVoice::default()).unwrap().samples.len() as f64;
        assert!(matches!(seen.last(), Some(Event::Queued { len, .. }) if (*len as f64 / en - 1.0).abs() < 0.01));
        // `tomoni say` with the persona's voice does the same.
        let (once, _) = VoiceEngine::Espeak(EspeakVoice::default()).synthesize_once(line).unwrap();
        assert!((once.samples.len() as f64 / ja.samples.len() as f64 - 1.0).abs() < 0.01);
    }

    #[test]
    fn clauses_and_marks_are_placed_in_order_on_the_audio_clock() {
        let (s, data) = Speaker::start(VoiceEngine::Espeak(EspeakVoice::default())).unwrap();
        let mut out = data.into_offline();
        s.send(Job::Say("Hello there.".into()));
        s.send(Job::Mark(7));
        s.send(Job::Say("How are you?".into()));
        let seen = wait_for(&s, |e| matches!(e, Event::Queued { start, .. } if *start > 0));
        let marks: Vec<u64> =
            seen.iter().filter_map(|e| if let Event::Mark { at, .. } = e { Some(*at) } else { None }).collect();
        let queued: Vec<(u64, u64)> = seen
            .iter()
            .filter_map(|e| if let Event::Queued { start, len, .. } = e { Some((*start, *len)) } else { None })
            .collect();
        assert_eq!(queued.len(), 2);
        assert_eq!(queued[0].0, 0);
        assert_eq!(marks, vec![queued[0].1], "the mark falls where the first clause ends");
        assert_eq!(queued[1].0, queued[0].1, "the second clause follows without a gap");
        // Playing it out advances the clock; the mouth opens somewhere in the first clause.
        let mut buf = vec![0.0f32; 48_000];
        out.render(&mut buf, 48_000);
        assert!(s.clock().played_samples() >= 22_000);
        assert!(buf.iter().any(|x| x.abs() > 0.05), "no speech came out");
    }

    #[test]
    fn a_piper_clause_streams_sentence_by_sentence_with_the_model_s_timing() {
        let Ok(spec) = PiperSpec::find(crate::piper::DEFAULT_VOICE) else {
            assert!(std::env::var_os("TOMONI_TEST_PIPER").is_none(), "the Piper voice is not set up");
            return;
        };
        let (s, data) = Speaker::start(VoiceEngine::Piper { spec, fallback: EspeakVoice::default() }).unwrap();
        let _out = data.into_offline();
        s.send(Job::Say("Hello there. How are you today?".into()));
        let seen = wait_for(&s, |e| matches!(e, Event::Queued { .. } | Event::Failed(_)));
        assert!(!seen.iter().any(|e| matches!(e, Event::Failed(_))), "{seen:?}");
        let tracks: Vec<u64> =
            seen.iter().filter_map(|e| if let Event::Track { start, .. } = e { Some(*start) } else { None }).collect();
        let Some(Event::Queued { start, len, first_sample_ms }) = seen.last().cloned() else { unreachable!() };
        assert_eq!(start, 0);
        assert_eq!(tracks.len(), 2, "one mouth track per sentence: {seen:?}");
        assert!(tracks[0] == 0 && tracks[1] > 22_050 / 2 && tracks[1] < len, "{tracks:?} of {len}");
        assert!(len > 22_050 && len < 22_050 * 4, "{len} samples");
        assert!(first_sample_ms > 0.0);
    }

    #[test]
    fn busy_while_a_clause_is_in_hand_and_not_after_it_or_a_barge_in() {
        let (s, data) = Speaker::start(VoiceEngine::Espeak(EspeakVoice::default())).unwrap();
        let _out = data.into_offline();
        s.send(Job::Say("One clause.".into()));
        assert!(s.busy(), "busy from the moment a clause is sent");
        wait_for(&s, |e| matches!(e, Event::Queued { .. }));
        let until = Instant::now() + std::time::Duration::from_secs(5);
        while s.busy() && Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(!s.busy(), "still busy after the clause was queued");
        s.send(Job::Say("Another.".into()));
        s.stop();
        assert!(!s.busy(), "a barge-in forgets what was in hand");
    }

    #[test]
    fn a_broken_piper_voice_falls_back_to_espeak_and_says_why() {
        let dir = std::env::temp_dir().join(format!("tomoni-broken-voice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join("broken.onnx");
        std::fs::write(&model, b"not a model").unwrap();
        let config =
            r#"{"audio":{"sample_rate":22050},"espeak":{"voice":"en-us"},"phoneme_id_map":{"_":[0],"^":[1],"$":[2]}}"#;
        std::fs::write(dir.join("broken.onnx.json"), config).unwrap();
        let spec = PiperSpec::find(model.to_str().unwrap()).unwrap();
        let (s, data) = Speaker::start(VoiceEngine::Piper { spec, fallback: EspeakVoice::default() }).unwrap();
        let _out = data.into_offline();
        s.send(Job::Say("Still here.".into()));
        let seen = wait_for(&s, |e| matches!(e, Event::Queued { .. }));
        let why: Vec<&String> =
            seen.iter().filter_map(|e| if let Event::Failed(w) = e { Some(w) } else { None }).collect();
        assert_eq!(why.len(), 1, "{seen:?}");
        assert!(why[0].contains("broken.onnx") && why[0].contains("espeak-ng speaks instead"), "{}", why[0]);
        let Some(Event::Queued { len, .. }) = seen.last() else { unreachable!() };
        assert!(*len > 5000, "espeak-ng spoke {len} samples");
    }

    #[test]
    fn a_stalled_speech_server_does_not_mute_the_companion_and_barge_in_reaches_it() {
        use std::io::{BufRead, BufReader, Read, Write};
        // The first request stalls forever; the next ones are answered with a second of PCM.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", l.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for (i, s) in l.incoming().enumerate() {
                let Ok(mut s) = s else { continue };
                if i == 0 {
                    held.push(s);
                    continue;
                }
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                let _ = r.read_exact(&mut body);
                let pcm: Vec<u8> = (0..24_000).flat_map(|i| (((i % 50) as i16 - 25) * 400).to_le_bytes()).collect();
                let _ =
                    write!(s, "HTTP/1.1 200 OK\r\ncontent-type: audio/pcm\r\ncontent-length: {}\r\n\r\n", pcm.len());
                let _ = s.write_all(&pcm);
            }
        });
        let engine = OpenAiSpeech::new(&url, "tts-1", "alloy", None);
        let (s, _data) = Speaker::start(VoiceEngine::OpenAi(engine)).unwrap();
        s.send(Job::Say("This request stalls.".into()));
        std::thread::sleep(std::time::Duration::from_millis(150));
        let began = Instant::now();
        s.stop();
        s.send(Job::Say("The next reply.".into()));
        let seen = wait_for(&s, |e| matches!(e, Event::Queued { .. }));
        assert!(
            began.elapsed() < std::time::Duration::from_secs(3),
            "barge-in waited {:?} on the stalled server",
            began.elapsed()
        );
        assert!(seen.iter().all(|e| !matches!(e, Event::Failed(_))), "{seen:?}");
    }

    #[test]
    fn stop_silences_and_forgets_what_was_sent_before() {
        let (s, data) = Speaker::start(VoiceEngine::Espeak(EspeakVoice::default())).unwrap();
        let mut out = data.into_offline();
        s.send(Job::Say("This is a long sentence that will be interrupted before it ends.".into()));
        wait_for(&s, |e| matches!(e, Event::Queued { .. }));
        let mut buf = vec![0.0f32; 4800];
        out.render(&mut buf, 48_000);
        s.stop();
        out.render(&mut buf, 48_000);
        assert!(buf.iter().all(|x| *x == 0.0), "speech after barge-in");
        s.send(Job::Say("New turn.".into()));
        let seen = wait_for(&s, |e| matches!(e, Event::Queued { .. }));
        assert!(seen.iter().all(|e| !matches!(e, Event::Failed(_))));
        out.render(&mut buf, 48_000);
        assert!(buf.iter().any(|x| x.abs() > 0.01), "silent after the new turn began");
    }

    #[test]
    fn the_mouth_follows_the_newest_track_covering_the_sample() {
        let mut tracks = std::collections::VecDeque::new();
        tracks.push_back((0, VisemeTrack { fps: 60.0, frames: vec![[1.0, 0.0, 0.0, 0.0, 0.0]; 60] }));
        tracks.push_back((22_050, VisemeTrack { fps: 60.0, frames: vec![[0.0, 0.0, 1.0, 0.0, 0.0]; 30] }));
        assert_eq!(mouth_at(&tracks, 11_025, 22_050)[0], 1.0);
        assert_eq!(mouth_at(&tracks, 22_050 + 100, 22_050)[2], 1.0);
        assert_eq!(mouth_at(&tracks, 22_050 * 2, 22_050), [0.0; 5], "past every track: silent");
    }
}
