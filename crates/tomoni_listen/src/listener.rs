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
    /// A transcript so far, while the person still speaks: the words up to a pause (and, if
    /// asked for, about once a second).
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
    /// Silence put before `start` (speech at the very start of a stream has no pad).
    lead: usize,
}

impl Utterance {
    /// Its audio from stream sample `from` on (all of it if `from` is before it).
    pub fn since(&self, from: u64) -> &[f32] {
        let at = self.lead + from.saturating_sub(self.start) as usize;
        &self.audio[at.min(self.audio.len())..]
    }
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
        Utterance { audio, start, last_voiced, decided, speculative: false, cut_at: Instant::now(), lead: short }
    }
}

/// Where the piece after a pause begins: halfway into the silence the speculation waited
/// for, so no sound of the words before it is heard twice, and Whisper gets silence before
/// the first word (it drops a first word that starts the audio).
const PIECE_LEAD_MS: u32 = SPECULATE_MS / 2;

/// How an utterance the person went on with after a pause is transcribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pieces {
    /// Whole each time: the recogniser hears every word in context.
    Whole = 0,
    /// From the pause on only, with the words before as the prompt: the wait is for the last
    /// piece alone, but a piece heard without its start loses a word now and then.
    Split = 1,
    /// Whole while the recogniser is fast enough to finish before the end of speech is
    /// decided, in pieces when it is not (a slow machine, a larger model). The default.
    Auto = 2,
}

impl Pieces {
    /// Back from `self as u8` (the listener's thread reads the knob from an atomic).
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Pieces::Whole,
            1 => Pieces::Split,
            _ => Pieces::Auto,
        }
    }
}

/// Turns utterances into words, reusing what was heard of the same utterance on speculation.
/// An utterance cut at a pause is transcribed then; when it is cut again later (the person
/// went on), its words are ready at once if nothing was added, and otherwise come from the
/// whole audio or, when that would be late ([`Pieces`]), from the part after the pause.
pub struct Transcriber<'a> {
    rec: &'a mut dyn Recognizer,
    /// How to transcribe an utterance that went on after a pause.
    pub pieces: Pieces,
    /// Time from a speculative cut to the end-of-speech decision: a transcript ready within
    /// it costs the person no wait.
    budget: std::time::Duration,
    /// The recogniser's wall time per second of audio (a running mean of what it took).
    pace: Option<f64>,
    /// The last speculative cut's words: (start, last voiced) → words.
    heard: Option<(u64, u64, String)>,
}

impl<'a> Transcriber<'a> {
    /// A transcriber over `rec`, for ears that decide the end of speech `config.end_silence_ms`
    /// after the last voiced chunk.
    pub fn new(rec: &'a mut dyn Recognizer, config: &VadConfig) -> Self {
        let spare = config.end_silence_ms.saturating_sub(SPECULATE_MS.max(config.pad_ms));
        Self {
            rec,
            pieces: Pieces::Auto,
            budget: std::time::Duration::from_millis(u64::from(spare)),
            pace: None,
            heard: None,
        }
    }

    /// The words of `u`, from what was heard of it before where that can be had.
    pub fn words(&mut self, u: &Utterance) -> Result<String, String> {
        let before = self.heard.take().filter(|&(start, lv, _)| start == u.start && lv <= u.last_voiced);
        let words = match before {
            Some((_, lv, words)) if lv == u.last_voiced => Ok(words),
            Some((_, lv, words)) if !self.whole(u) => {
                let piece = u.since(lv + samples(PIECE_LEAD_MS));
                self.timed(piece, &words).map(|p| format!("{words} {p}").trim().to_string())
            }
            _ => self.timed(&u.audio, ""),
        }
        .map_err(|e| e.to_string());
        if u.speculative
            && let Ok(w) = &words
        {
            self.heard = Some((u.start, u.last_voiced, w.clone()));
        }
        words
    }

    /// Whether to transcribe all of `u` (words heard before it cover an earlier cut).
    fn whole(&self, u: &Utterance) -> bool {
        match self.pieces {
            Pieces::Whole => true,
            Pieces::Split => false,
            // The decision is past for a final cut: the quickest way is the piece.
            Pieces::Auto => {
                let left = self.budget.saturating_sub(u.cut_at.elapsed()).as_secs_f64();
                u.speculative && self.pace.is_some_and(|p| p * seconds(u.audio.len()) <= left)
            }
        }
    }

    /// Transcribes, keeping the recogniser's pace.
    fn timed(&mut self, audio: &[f32], before: &str) -> Result<String, ListenError> {
        let t = Instant::now();
        let words = self.rec.transcribe_after(audio, before);
        let pace = t.elapsed().as_secs_f64() / seconds(audio.len());
        self.pace = Some(self.pace.map_or(pace, |p| 0.7 * p + 0.3 * pace));
        words
    }

    /// Transcribes `audio` alone (partial transcripts).
    pub fn transcribe(&mut self, audio: &[f32]) -> Result<String, ListenError> {
        self.rec.transcribe(audio)
    }
}

/// Seconds of audio the recogniser works on (it pads anything shorter to one).
fn seconds(samples: usize) -> f64 {
    (samples as f64 / f64::from(RATE)).max(1.0)
}

/// The event for `u`'s words; the transcription time is the wait since `u` was cut (its
/// decision), whether the words were made now or on speculation before. A speculative cut's
/// words are the words so far, shown while the person goes on (a failed one stays quiet: the
/// final cut tries again).
fn event(words: Result<String, String>, u: &Utterance) -> Option<ListenEvent> {
    if u.speculative {
        return words.ok().filter(|w| !w.is_empty()).map(|text| ListenEvent::Partial { text });
    }
    Some(match words {
        Ok(text) => ListenEvent::Transcript {
            text,
            start_ms: ms(u.start),
            last_voiced_ms: ms(u.last_voiced),
            decided_ms: ms(u.decided),
            transcribe_wall_ms: u.cut_at.elapsed().as_secs_f64() * 1000.0,
        },
        Err(reason) => ListenEvent::Failed { reason },
    })
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
    let mut t = Transcriber::new(rec, &ears.config);
    while source.read(&mut buf, std::time::Duration::from_millis(50))? {
        for u in ears.hear(&buf, false, out)? {
            // Read faster than spoken, a cut's words would come after its end: no partials.
            let words = t.words(&u);
            if !u.speculative
                && let Some(e) = event(words, &u)
            {
                out(e);
            }
        }
        buf.clear();
    }
    if let Some(u) = ears.finish(out)
        && let Some(e) = event(t.words(&u), &u)
    {
        out(e);
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
    pieces: Arc<std::sync::atomic::AtomicU8>,
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
        let pieces = Arc::new(std::sync::atomic::AtomicU8::new(Pieces::Auto as u8));
        let config = ears.config;
        let in_pieces = pieces.clone();
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
            let mut t = Transcriber::new(rec.as_mut(), &config);
            loop {
                // Finals first: a partial never delays the answer.
                crossbeam_channel::select_biased! {
                    recv(final_rx) -> u => match u {
                        Ok(u) => {
                            t.pieces = Pieces::from_u8(in_pieces.load(Ordering::Relaxed));
                            if let Some(e) = event(t.words(&u), &u) {
                                let _ = tx.send(e);
                            }
                        }
                        Err(_) => break,
                    },
                    recv(partial_rx) -> a => if let Ok(a) = a
                        && let Ok(text) = t.transcribe(&a)
                        && !text.is_empty()
                    {
                        let _ = tx.send(ListenEvent::Partial { text });
                    },
                }
            }
        })?;
        Ok(Self { events, companion_speaking, open, pieces, stop, threads: vec![ears_thread, rec_thread] })
    }

    /// Whether the companion's voice is playing (a start of speech then is a barge-in, and its
    /// echo is gated).
    pub fn set_companion_speaking(&self, speaking: bool) {
        self.companion_speaking.store(speaking, Ordering::Relaxed);
    }

    /// How an utterance the person went on with after a pause is transcribed ([`Pieces::Auto`]
    /// unless a bench measures the others).
    pub fn set_pieces(&self, how: Pieces) {
        self.pieces.store(how as u8, Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A recogniser that says what it heard: how many seconds, after which words, and that
    /// takes `secs_per_sec` of wall time for each second.
    struct Clerk {
        secs_per_sec: f64,
        calls: Vec<(usize, String)>,
    }

    impl Recognizer for Clerk {
        fn transcribe_after(&mut self, audio: &[f32], before: &str) -> Result<String, ListenError> {
            std::thread::sleep(std::time::Duration::from_secs_f64(self.secs_per_sec * seconds(audio.len())));
            self.calls.push((audio.len(), before.to_string()));
            Ok(format!("<{}>", audio.len()))
        }
        fn describe(&self) -> String {
            "clerk".into()
        }
    }

    /// An utterance from stream sample `start` to `last_voiced` (pad of 200 ms after it).
    fn cut(start: u64, last_voiced: u64, speculative: bool) -> Utterance {
        let len = (last_voiced - start + samples(200)) as usize;
        Utterance {
            audio: vec![0.0; len],
            start,
            last_voiced,
            decided: last_voiced + samples(500),
            speculative,
            cut_at: Instant::now(),
            lead: 0,
        }
    }

    const CONFIG: VadConfig = VadConfig { threshold: 0.5, min_speech_ms: 200, end_silence_ms: 500, pad_ms: 200 };

    #[test]
    fn a_final_cut_that_adds_nothing_reuses_the_speculative_words() {
        let mut clerk = Clerk { secs_per_sec: 0.0, calls: vec![] };
        let mut t = Transcriber::new(&mut clerk, &CONFIG);
        let said = t.words(&cut(1000, 33_000, true)).unwrap();
        assert_eq!(t.words(&cut(1000, 33_000, false)).unwrap(), said);
        drop(t);
        assert_eq!(clerk.calls.len(), 1, "the final cut was transcribed again");
    }

    #[test]
    fn split_transcribes_only_from_the_pause_on_with_the_words_before_as_prompt() {
        let mut clerk = Clerk { secs_per_sec: 0.0, calls: vec![] };
        let mut t = Transcriber::new(&mut clerk, &CONFIG);
        t.pieces = Pieces::Split;
        let first = t.words(&cut(1000, 33_000, true)).unwrap();
        let all = t.words(&cut(1000, 81_000, false)).unwrap();
        drop(t);
        let piece = (81_000 + samples(200) - (33_000 + samples(PIECE_LEAD_MS))) as usize;
        assert_eq!(clerk.calls[1], (piece, first.clone()));
        assert_eq!(all, format!("{first} <{piece}>"));
    }

    #[test]
    fn auto_goes_whole_when_the_recogniser_is_fast_and_in_pieces_when_it_is_slow() {
        // Fast: the whole of the longer cut is done well within the 300 ms before the decision.
        let mut fast = Clerk { secs_per_sec: 0.0, calls: vec![] };
        let mut t = Transcriber::new(&mut fast, &CONFIG);
        t.words(&cut(1000, 33_000, true)).unwrap();
        t.words(&cut(1000, 81_000, true)).unwrap();
        drop(t);
        assert_eq!(fast.calls[1], (81_000 + samples(200) as usize - 1000, String::new()));
        // Slow: 0.2 s a second makes the 5 s cut a second's work, past the decision.
        let mut slow = Clerk { secs_per_sec: 0.2, calls: vec![] };
        let mut t = Transcriber::new(&mut slow, &CONFIG);
        let first = t.words(&cut(1000, 33_000, true)).unwrap();
        t.words(&cut(1000, 81_000, true)).unwrap();
        drop(t);
        assert_eq!(slow.calls[1].1, first, "a slow recogniser was given the whole utterance again");
    }
}
