//! The listener: audio source → Silero VAD → utterances → recogniser, on two threads of its own
//! (the ears keep hearing while an utterance is being transcribed, so barge-in never waits on
//! Whisper). Events come out on a channel the app drains with `try_recv`.

use crate::ListenError;
use crate::audio::{AudioSource, RATE, samples};
use crate::stt::Recognizer;
use crate::vad::{CHUNK, Segmenter, SileroVad, VadConfig, VadEvent};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What the listener heard. Times in ms from the start of the stream (sample-exact: chunks of
/// 32 ms); `*_wall_ms` are wall-clock costs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ListenEvent {
    /// A chunk crossed the threshold: maybe speech (the companion ducks its voice).
    Voice {
        /// End of that chunk.
        at_ms: f64,
    },
    /// Speech confirmed (it lasted `min_speech_ms`): show "listening…"; if the companion was
    /// speaking, this is a barge-in.
    Started {
        /// Where the utterance begins (pad included).
        start_ms: f64,
        /// When it was confirmed.
        decided_ms: f64,
        /// The companion was speaking.
        barge_in: bool,
    },
    /// The person paused mid-utterance (or is about to be done): a moment for a nod.
    Pause {
        /// When the pause was long enough to count.
        at_ms: f64,
    },
    /// A transcript so far, while the person still speaks.
    Partial {
        /// Words so far.
        text: String,
    },
    /// The person stopped speaking.
    Ended {
        /// Where the utterance begins.
        start_ms: f64,
        /// The end of the last voiced chunk: where they stopped.
        last_voiced_ms: f64,
        /// When the VAD decided it was over.
        decided_ms: f64,
    },
    /// The words of an utterance.
    Transcript {
        /// What was said (may be empty: a sound that was not words).
        text: String,
        /// Where the utterance begins.
        start_ms: f64,
        /// Where the person stopped speaking.
        last_voiced_ms: f64,
        /// When the VAD decided it was over.
        decided_ms: f64,
        /// Recogniser time for it.
        transcribe_wall_ms: f64,
    },
    /// Something failed; the listener goes on if it can.
    Failed {
        /// Why.
        reason: String,
    },
}

fn ms(sample: u64) -> f64 {
    sample as f64 * 1000.0 / f64::from(RATE)
}

/// The ears' state over one stream: VAD, segmenter and the audio of the utterance so far.
pub struct Ears {
    vad: SileroVad,
    seg: Segmenter,
    config: VadConfig,
    /// All audio since the stream began that an utterance may still need.
    audio: Vec<f32>,
    /// Stream sample index of `audio[0]`.
    base: u64,
    pending: Vec<f32>,
    voiced: bool,
    /// Raise the threshold by this while the companion speaks (0 by default: the echo gate
    /// does that job, see [`crate::echo`]).
    pub raise_while_speaking: f32,
    /// The companion's own voice, to tell it from the person's.
    pub echo: crate::echo::EchoGate,
    /// Use the echo gate while the companion speaks (off only to measure without it).
    pub gate_echo: bool,
    /// Hear nothing (push-to-talk released): utterances in progress end as after silence.
    pub muted: bool,
    /// Transcribe on speculation in the silence before the end is decided (the live app).
    pub speculate: bool,
    speculated_for: Option<u64>,
}

/// An utterance ready for the recogniser.
pub struct Utterance {
    /// 16 kHz samples, pads included.
    pub audio: Vec<f32>,
    /// Where it begins, in stream samples.
    pub start: u64,
    /// Where the person stopped.
    pub last_voiced: u64,
    /// When the VAD decided (for a speculative one: when it was cut).
    pub decided: u64,
    /// Cut before the end was decided, in the silence after the last voiced chunk: if the
    /// person does not go on, the final utterance is this same audio, and its words are ready.
    pub speculative: bool,
    /// Wall time of the cut (the transcript's wait is counted from the final one's).
    pub cut_at: Instant,
}

/// Silence after the last voiced chunk at which the utterance so far is transcribed on
/// speculation (at least the pad, so the audio is the final cut's): by the time the
/// end-of-speech silence has passed, its words are (nearly) ready.
pub const SPECULATE_MS: u32 = 200;

impl Ears {
    /// Ears over a VAD model.
    pub fn new(vad: SileroVad, config: VadConfig) -> Self {
        Self {
            vad,
            seg: Segmenter::new(config),
            config,
            audio: Vec::new(),
            base: 0,
            pending: Vec::new(),
            voiced: false,
            raise_while_speaking: 0.0,
            echo: crate::echo::EchoGate::new(),
            gate_echo: true,
            muted: false,
            speculate: false,
            speculated_for: None,
        }
    }

    /// Hears `samples`; events go to `out`, finished utterances are returned.
    pub fn hear(
        &mut self,
        samples: &[f32],
        companion_speaking: bool,
        out: &mut dyn FnMut(ListenEvent),
    ) -> Result<Vec<Utterance>, ListenError> {
        self.pending.extend_from_slice(samples);
        let mut done = Vec::new();
        let mut at = 0;
        while self.pending.len() - at >= CHUNK {
            let chunk = &self.pending[at..at + CHUNK];
            at += CHUNK;
            self.audio.extend_from_slice(chunk);
            let mut p = self.vad.probability(chunk)?;
            if self.muted || (companion_speaking && self.gate_echo && !self.echo.near_end(chunk)) {
                p = 0.0; // push-to-talk released, or the companion's own voice coming back
            }
            self.seg.raise = if companion_speaking { self.raise_while_speaking } else { 0.0 };
            let end = self.base + self.audio.len() as u64;
            let on = p >= self.seg.on_threshold();
            if on && !self.voiced && !self.seg.in_speech() {
                out(ListenEvent::Voice { at_ms: ms(end) });
            }
            self.voiced = on;
            match self.seg.push(p) {
                Some(VadEvent::Start { start, decided }) => out(ListenEvent::Started {
                    start_ms: ms(start),
                    decided_ms: ms(decided),
                    barge_in: companion_speaking,
                }),
                Some(VadEvent::End { start, last_voiced, decided }) => {
                    out(ListenEvent::Ended {
                        start_ms: ms(start),
                        last_voiced_ms: ms(last_voiced),
                        decided_ms: ms(decided),
                    });
                    done.push(self.cut(start, last_voiced, decided));
                }
                None => {}
            }
            if self.speculate
                && let (Some(start), Some(lv)) = (self.seg.utterance_start(), self.seg.last_voiced())
            {
                let wait = crate::audio::samples(SPECULATE_MS.max(self.config.pad_ms));
                if end - lv >= wait && self.speculated_for != Some(lv) {
                    self.speculated_for = Some(lv);
                    out(ListenEvent::Pause { at_ms: ms(end) });
                    done.push(Utterance { speculative: true, ..self.cut(start, lv, end) });
                }
            }
            if !self.seg.in_speech() {
                // Keep only what a pad before the next utterance can reach.
                let keep = crate::audio::samples(self.config.pad_ms) as usize + CHUNK * 16;
                if self.audio.len() > keep * 4 {
                    let drop = self.audio.len() - keep;
                    self.audio.drain(..drop);
                    self.base += drop as u64;
                }
            }
        }
        self.pending.drain(..at);
        Ok(done)
    }

    /// The audio of the utterance in progress, if any (for partial transcripts).
    pub fn so_far(&self) -> Option<&[f32]> {
        let start = self.seg.utterance_start()?;
        Some(&self.audio[start.saturating_sub(self.base) as usize..])
    }

    /// Ends the stream: an utterance still open is closed where the audio stops.
    pub fn finish(&mut self, out: &mut dyn FnMut(ListenEvent)) -> Option<Utterance> {
        if !self.seg.in_speech() {
            return None;
        }
        let end = self.base + self.audio.len() as u64;
        let start = self.seg.utterance_start()?;
        self.seg = Segmenter::new(self.config);
        out(ListenEvent::Ended { start_ms: ms(start), last_voiced_ms: ms(end), decided_ms: ms(end) });
        Some(self.cut(start, end, end))
    }

    fn cut(&self, start: u64, last_voiced: u64, decided: u64) -> Utterance {
        let pad = samples(self.config.pad_ms);
        let from = start.saturating_sub(self.base) as usize;
        let to = ((last_voiced + pad).min(self.base + self.audio.len() as u64) - self.base) as usize;
        // Speech at the very start of a stream gets no pad from the past: give it silence, or
        // Whisper drops the first word ("What should…" heard as "Should…").
        let short = (pad as usize).saturating_sub(self.base as usize + from);
        let mut audio = vec![0.0; short];
        audio.extend_from_slice(&self.audio[from.min(to)..to]);
        Utterance { audio, start, last_voiced, decided, speculative: false, cut_at: Instant::now() }
    }
}

/// Transcribes `u` and makes its event.
pub fn transcribe(rec: &mut dyn Recognizer, u: &Utterance) -> ListenEvent {
    event(rec.transcribe(&u.audio).map_err(|e| e.to_string()), u)
}

/// The event for `u`'s words; the transcription time is the wait since `u` was cut (its
/// decision), whether the words were made now or on speculation before.
fn event(words: Result<String, String>, u: &Utterance) -> ListenEvent {
    match words {
        Ok(text) => ListenEvent::Transcript {
            text,
            start_ms: ms(u.start),
            last_voiced_ms: ms(u.last_voiced),
            decided_ms: ms(u.decided),
            transcribe_wall_ms: u.cut_at.elapsed().as_secs_f64() * 1000.0,
        },
        Err(reason) => ListenEvent::Failed { reason },
    }
}

/// Listens to a whole source as fast as it gives audio (`tomoni listen FILE.wav`), calling
/// `out` with every event in order.
pub fn listen_all(
    source: &mut dyn AudioSource,
    ears: &mut Ears,
    rec: &mut dyn Recognizer,
    out: &mut dyn FnMut(ListenEvent),
) -> Result<(), ListenError> {
    let mut buf = Vec::new();
    while source.read(&mut buf, std::time::Duration::from_millis(50))? {
        for u in ears.hear(&buf, false, out)?.iter().filter(|u| !u.speculative) {
            out(transcribe(rec, u));
        }
        buf.clear();
    }
    if let Some(u) = ears.finish(out) {
        out(transcribe(rec, &u));
    }
    Ok(())
}

/// A running listener: its threads, its events, and the flag the speaker sets while the
/// companion talks (so the ears know a start of speech is a barge-in).
pub struct Listener {
    /// Everything heard, in order.
    pub events: crossbeam_channel::Receiver<ListenEvent>,
    companion_speaking: Arc<AtomicBool>,
    open: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Listener {
    /// Starts listening to `source` on two threads (ears, recogniser). `tap`: what the
    /// companion's voice plays (for the echo gate). `partials`: transcribe the utterance so far
    /// about once a second while it lasts (only when the recogniser is idle).
    pub fn start(
        mut source: Box<dyn AudioSource>,
        mut ears: Ears,
        mut rec: Box<dyn Recognizer>,
        mut tap: Option<tomoni_voice::stream::PlaybackTap>,
        partials: bool,
    ) -> std::io::Result<Self> {
        let (tx, events) = crossbeam_channel::unbounded();
        let (final_tx, final_rx) = crossbeam_channel::unbounded::<Utterance>();
        let (partial_tx, partial_rx) = crossbeam_channel::bounded::<Vec<f32>>(1);
        let companion_speaking = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let speaking = companion_speaking.clone();
        let is_open = open.clone();
        let stop_ears = stop.clone();
        let ears_tx = tx.clone();
        let ears_thread = std::thread::Builder::new().name("tomoni-ears".into()).spawn(move || {
            let mut buf = Vec::new();
            let mut played = Vec::new();
            let mut last_partial = 0usize;
            let mut was_open = true; // only a later opening counts (a cued recording waits for it)
            let mut send = |e: ListenEvent| {
                let _ = ears_tx.send(e);
            };
            while !stop_ears.load(Ordering::Relaxed) {
                match source.read(&mut buf, std::time::Duration::from_millis(30)) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        send(ListenEvent::Failed { reason: e.to_string() });
                        break;
                    }
                }
                let open = is_open.load(Ordering::Relaxed);
                if open && !was_open {
                    source.opened();
                }
                was_open = open;
                ears.muted = !open;
                if let Some(t) = tap.as_mut() {
                    played.clear();
                    t.drain(&mut played);
                    ears.echo.reference(&played, t.rate());
                }
                match ears.hear(&buf, speaking.load(Ordering::Relaxed), &mut send) {
                    Ok(done) => {
                        for u in done {
                            last_partial = 0;
                            let _ = final_tx.send(u);
                        }
                    }
                    Err(e) => send(ListenEvent::Failed { reason: e.to_string() }),
                }
                buf.clear();
                if partials
                    && let Some(so_far) = ears.so_far()
                    && so_far.len() >= last_partial + RATE as usize
                {
                    last_partial = so_far.len();
                    let _ = partial_tx.try_send(so_far.to_vec());
                }
            }
            if let Some(u) = ears.finish(&mut send) {
                let _ = final_tx.send(u);
            }
        })?;
        let rec_thread = std::thread::Builder::new().name("tomoni-stt".into()).spawn(move || {
            // Far below the frame loop: on a 2-core machine Whisper's threads (which inherit
            // this) yield to a frame that is due.
            tomoni_voice::lowest_thread_priority();
            // The last speculative transcript: (start, last voiced) → words.
            let mut guess: Option<((u64, u64), Result<String, String>)> = None;
            loop {
                // Finals first: a partial never delays the answer.
                crossbeam_channel::select_biased! {
                    recv(final_rx) -> u => match u {
                        Ok(u) if u.speculative => {
                            guess = Some(((u.start, u.last_voiced), rec.transcribe(&u.audio).map_err(|e| e.to_string())));
                        }
                        Ok(u) => {
                            let words = match guess.take() {
                                Some((key, words)) if key == (u.start, u.last_voiced) => words,
                                _ => rec.transcribe(&u.audio).map_err(|e| e.to_string()),
                            };
                            let _ = tx.send(event(words, &u));
                        }
                        Err(_) => break,
                    },
                    recv(partial_rx) -> a => if let Ok(a) = a
                        && let Ok(text) = rec.transcribe(&a)
                        && !text.is_empty()
                    {
                        let _ = tx.send(ListenEvent::Partial { text });
                    },
                }
            }
        })?;
        Ok(Self { events, companion_speaking, open, stop, threads: vec![ears_thread, rec_thread] })
    }

    /// Whether the companion's voice is playing (a start of speech then is a barge-in, and its
    /// echo is gated).
    pub fn set_companion_speaking(&self, speaking: bool) {
        self.companion_speaking.store(speaking, Ordering::Relaxed);
    }

    /// Push-to-talk: hear only while open.
    pub fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::Relaxed);
    }
}

impl Drop for Listener {
    /// Stops and waits (at most the utterance being transcribed): a thread left inside ONNX
    /// Runtime when the process exits would crash it as the runtime is torn down.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
