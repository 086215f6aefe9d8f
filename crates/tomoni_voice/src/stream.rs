//! Streaming speech playback through kira, fed clause by clause, with an audio clock the frame
//! loop reads without locks.
//!
//! The synthesis thread pushes 16-bit samples into a lock-free ring ([`SpeechQueue::push`]);
//! the audio thread pulls them in [`SpeechSound::process`], resampling to the output rate, and
//! counts what it has played in an atomic. Nothing on the audio thread allocates or waits: the
//! resampler sits behind a mutex only so that a device that goes away can hand it to the
//! offline clock (and a device that returns take it back), and the audio thread only ever
//! `try_lock`s it.
//! Clauses queued back to back play without a gap; [`SpeechQueue::stop`] (barge-in) silences the
//! output from the next audio block and discards what was queued.

use kira::Frame;
use kira::info::Info;
use kira::sound::{Sound, SoundData};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Seconds of audio the ring holds (the synthesis thread waits when it is full).
pub const RING_SECONDS: f64 = 4.0;

/// How long [`SpeechQueue::resume`] waits for the consumer to drain (an audio device calls
/// back every few milliseconds; the offline renderer every frame). A consumer that never
/// comes back (a device that died) cannot hold speech up for longer.
pub const RESUME_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Shared between the producer (synthesis thread), the consumer (audio thread or offline
/// renderer) and the frame loop. Each counter has one writer: `played` and `drained` the
/// consumer, `pushed`, `resumed` and `cut` the producer, `stops` whoever stops.
#[derive(Debug, Default)]
struct Shared {
    /// Source samples played so far, or discarded by a stop (the audio clock).
    played: AtomicU64,
    /// Source samples pushed so far.
    pushed: AtomicU64,
    /// Barge-ins so far.
    stops: AtomicU64,
    /// The stop count at which the producer last resumed: while `stops` is ahead of it, nothing
    /// plays and the consumer discards whatever is queued, every block.
    resumed: AtomicU64,
    /// The last `resumed` value the consumer has drained for (the producer's handshake).
    drained: AtomicU64,
    /// `pushed` when the producer last resumed: everything before it is stale.
    cut: AtomicU64,
    /// Output frames that found the ring empty while speech was expected (gaps).
    underruns: AtomicU64,
    /// Output gain as `f32` bits (1.0: full voice; less: ducked while the person speaks).
    gain: std::sync::atomic::AtomicU32,
}

/// The audio-thread half: linear resampling from the ring, no allocation, no locks.
pub struct Resampler {
    ring: rtrb::Consumer<i16>,
    source_rate: f64,
    frac: f64,
    prev: f32,
    next: f32,
    shared: Arc<Shared>,
    /// The gain being applied, gliding to the target so a duck never clicks.
    gain: f32,
    /// What was played, at the source rate, for the listener's echo gate (a full ring drops).
    tap: rtrb::Producer<i16>,
}

/// How fast the gain glides, per second (full to silent in 20 ms).
const GAIN_GLIDE: f64 = 50.0;

impl Resampler {
    /// Fills `out` (mono) for an output rate of `1/dt` Hz.
    pub fn fill(&mut self, out: &mut [f32], dt: f64) {
        let stops = self.shared.stops.load(Ordering::Acquire);
        let resumed = self.shared.resumed.load(Ordering::Acquire);
        if stops != resumed {
            // Barge-in, until the producer resumes: discard what is queued (a push racing the
            // stop included) and play silence. Discarded samples count as played, so the clock
            // catches up with what was pushed and the frame loop sees the companion fall quiet.
            let n = self.ring.slots();
            self.discard(n);
            out.fill(0.0);
            return;
        }
        if self.shared.drained.load(Ordering::Relaxed) != resumed {
            // Resumed before this side saw the stop: what was pushed before the resume is stale.
            let cut = self.shared.cut.load(Ordering::Acquire);
            let stale = cut.saturating_sub(self.shared.played.load(Ordering::Relaxed)) as usize;
            self.discard(stale.min(self.ring.slots()));
            self.shared.drained.store(resumed, Ordering::Release);
        }
        let step = self.source_rate * dt;
        let mut played = 0u64;
        for o in out.iter_mut() {
            self.frac += step;
            while self.frac >= 1.0 {
                self.frac -= 1.0;
                self.prev = self.next;
                self.next = match self.ring.pop() {
                    Ok(s) => {
                        played += 1;
                        f32::from(s) / 32768.0
                    }
                    Err(_) => {
                        if self.shared.pushed.load(Ordering::Relaxed)
                            > self.shared.played.load(Ordering::Relaxed) + played
                        {
                            self.shared.underruns.fetch_add(1, Ordering::Relaxed);
                        }
                        0.0
                    }
                };
            }
            *o = self.prev + (self.next - self.prev) * self.frac as f32;
        }
        let target = f32::from_bits(self.shared.gain.load(Ordering::Relaxed));
        let glide = (GAIN_GLIDE * dt) as f32;
        if self.gain != target || target != 1.0 {
            for o in out.iter_mut() {
                self.gain += (target - self.gain).clamp(-glide, glide);
                *o *= self.gain;
            }
        }
        // The tap: what the person hears now, at the source rate (the output sample nearest
        // each source sample is enough for an echo gate). A ring nobody drains just fills up.
        let n = (played as usize).min(self.tap.slots());
        if n > 0
            && let Ok(chunk) = self.tap.write_chunk_uninit(n)
        {
            let len = out.len().max(1);
            chunk.fill_from_iter((0..n).map(|k| (out[(k * len / n).min(len - 1)].clamp(-1.0, 1.0) * 32767.0) as i16));
        }
        self.shared.played.fetch_add(played, Ordering::Release);
    }
}

impl Resampler {
    /// Drops `n` queued samples, counting them as played (the clock's only writer is here).
    fn discard(&mut self, n: usize) {
        if let Ok(chunk) = self.ring.read_chunk(n) {
            chunk.commit_all();
        }
        self.shared.played.fetch_add(n as u64, Ordering::Release);
        self.prev = 0.0;
        self.next = 0.0;
        self.frac = 0.0;
    }
}

/// The kira sound that plays the queue (lives on the audio thread). Only the stream's current
/// owner plays (see [`SpeechStreamData::handle`]); a sound that lost ownership reports itself
/// finished, so kira drops it.
pub struct SpeechSound {
    voice: Voice,
    mono: Box<[f32]>,
}

impl Sound for SpeechSound {
    fn process(&mut self, out: &mut [Frame], dt: f64, _info: &Info) {
        // `try_lock` never waits: the other holder is an offline renderer taking over from a
        // device that went away, and while two overlap, this block is silence.
        let mut resampler = match self.voice.owns().then(|| self.voice.resampler.try_lock()) {
            Some(Ok(r)) => r,
            _ => {
                out.fill(Frame::ZERO);
                return;
            }
        };
        // Blocks larger than our scratch buffer are processed in pieces: no allocation here.
        for chunk in out.chunks_mut(self.mono.len()) {
            let mono = &mut self.mono[..chunk.len()];
            resampler.fill(mono, dt);
            for (f, s) in chunk.iter_mut().zip(mono.iter()) {
                *f = Frame::from_mono(*s);
            }
        }
    }

    fn finished(&self) -> bool {
        // A companion's voice stays open for the whole session, on whichever output has it.
        !self.voice.owns()
    }
}

/// One consumer's hold on the stream: the resampler every consumer shares, and which
/// consumer may pull from it now. Moving the voice from a device that went away to the
/// offline clock, and back to a device that returned, hands ownership over; nothing is lost
/// and the audio clock runs on.
struct Voice {
    resampler: Arc<std::sync::Mutex<Resampler>>,
    owner: Arc<AtomicU64>,
    next_id: Arc<AtomicU64>,
    id: u64,
}

impl Voice {
    fn owns(&self) -> bool {
        self.owner.load(Ordering::Acquire) == self.id
    }

    fn take_over(&self) {
        self.owner.store(self.id, Ordering::Release);
    }
}

/// Plays a [`SpeechQueue`]'s audio when handed to `AudioManager::play`, or pulled offline
/// ([`Self::into_offline`]); whichever took it last has it.
pub struct SpeechStreamData {
    voice: Voice,
}

impl SpeechStreamData {
    /// Another handle on the same stream, for the next output (a device that came back, or
    /// the offline clock standing in for one that went away). Taking it over (playing it,
    /// or going offline with it) silences every earlier handle.
    pub fn handle(&self) -> SpeechStreamData {
        let v = &self.voice;
        SpeechStreamData {
            voice: Voice {
                resampler: v.resampler.clone(),
                owner: v.owner.clone(),
                next_id: v.next_id.clone(),
                id: v.next_id.fetch_add(1, Ordering::AcqRel),
            },
        }
    }

    #[cfg(test)]
    fn into_resampler(self) -> Resampler {
        Arc::try_unwrap(self.voice.resampler).ok().expect("one handle").into_inner().unwrap()
    }
}

impl SoundData for SpeechStreamData {
    type Error = std::convert::Infallible;
    type Handle = ();

    fn into_sound(self) -> Result<(Box<dyn Sound>, Self::Handle), Self::Error> {
        self.voice.take_over();
        Ok((Box::new(SpeechSound { voice: self.voice, mono: vec![0.0; 1024].into_boxed_slice() }), ()))
    }
}

/// The producer half, held by the synthesis side, and the clock, read by the frame loop.
pub struct SpeechQueue {
    ring: rtrb::Producer<i16>,
    shared: Arc<Shared>,
    source_rate: u32,
    tap: Option<PlaybackTap>,
}

/// A cheap, cloneable reader of the audio clock (for the frame loop).
#[derive(Clone)]
pub struct AudioClock {
    shared: Arc<Shared>,
    source_rate: u32,
}

impl AudioClock {
    /// Source samples played so far.
    pub fn played_samples(&self) -> u64 {
        self.shared.played.load(Ordering::Acquire)
    }

    /// Seconds of speech played so far.
    pub fn position_seconds(&self) -> f64 {
        self.played_samples() as f64 / f64::from(self.source_rate)
    }

    /// Samples pushed so far (where the next queued sample will play on this clock).
    pub fn pushed_samples(&self) -> u64 {
        self.shared.pushed.load(Ordering::Acquire)
    }

    /// Samples queued but not yet played.
    pub fn queued_samples(&self) -> u64 {
        self.shared.pushed.load(Ordering::Acquire).saturating_sub(self.played_samples())
    }

    /// Output frames that had to play silence because synthesis was late.
    pub fn underruns(&self) -> u64 {
        self.shared.underruns.load(Ordering::Relaxed)
    }
}

/// Stops a [`SpeechQueue`] from any thread.
#[derive(Clone)]
pub struct Stopper(Arc<Shared>);

impl Stopper {
    /// Barge-in: silence from the next audio block, queued speech discarded.
    pub fn stop(&self) {
        self.0.stops.fetch_add(1, Ordering::AcqRel);
    }

    /// Ducks (gain < 1) or restores (1.0) the voice, gliding over 20 ms from the next block.
    pub fn set_gain(&self, gain: f32) {
        self.0.gain.store(gain.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }
}

/// Speech rendered without a sound card: the caller pulls samples at its own pace (the headless
/// demo pulls one frame's worth per rendered frame, so audio and pictures share one timeline).
pub struct OfflineOutput {
    voice: Voice,
}

impl OfflineOutput {
    /// Fills `out` (mono, `rate` Hz) with the next stretch of speech, silence where none is
    /// queued, or where a device has taken the stream over since.
    pub fn render(&mut self, out: &mut [f32], rate: u32) {
        match self.voice.owns().then(|| self.voice.resampler.try_lock()) {
            Some(Ok(mut r)) => r.fill(out, 1.0 / f64::from(rate.max(1))),
            _ => out.fill(0.0),
        }
    }
}

impl SpeechStreamData {
    /// Plays nowhere: pull the samples yourself ([`OfflineOutput::render`]).
    pub fn into_offline(self) -> OfflineOutput {
        self.voice.take_over();
        OfflineOutput { voice: self.voice }
    }
}

/// Creates a queue for speech at `source_rate` Hz and the sound that plays it.
pub fn speech_stream(source_rate: u32) -> (SpeechQueue, SpeechStreamData) {
    let (tx, rx) = rtrb::RingBuffer::new((f64::from(source_rate) * RING_SECONDS) as usize);
    let (tap_tx, tap_rx) = rtrb::RingBuffer::new(source_rate as usize); // a second of what played
    let shared = Arc::new(Shared { gain: std::sync::atomic::AtomicU32::new(1.0f32.to_bits()), ..Shared::default() });
    let resampler = Resampler {
        ring: rx,
        source_rate: f64::from(source_rate),
        frac: 0.0,
        prev: 0.0,
        next: 0.0,
        shared: shared.clone(),
        gain: 1.0,
        tap: tap_tx,
    };
    let tap = Some(PlaybackTap { ring: tap_rx, rate: source_rate });
    let voice = Voice {
        resampler: Arc::new(std::sync::Mutex::new(resampler)),
        owner: Arc::new(AtomicU64::new(0)),
        next_id: Arc::new(AtomicU64::new(1)),
        id: 0,
    };
    (SpeechQueue { ring: tx, shared, source_rate, tap }, SpeechStreamData { voice })
}

/// What the companion's voice played, in order, at its source rate: the reference a listener
/// needs to tell the person's voice from the companion's own coming back into the microphone.
pub struct PlaybackTap {
    ring: rtrb::Consumer<i16>,
    rate: u32,
}

impl PlaybackTap {
    /// Samples per second.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Appends everything played since the last call (as −1..1).
    pub fn drain(&mut self, out: &mut Vec<f32>) {
        let n = self.ring.slots();
        if let Ok(chunk) = self.ring.read_chunk(n) {
            let (a, b) = chunk.as_slices();
            out.extend(a.iter().chain(b).map(|&s| f32::from(s) / 32768.0));
            chunk.commit_all();
        }
    }
}

impl SpeechQueue {
    /// Queues as many of `samples` as fit now; returns how many. Never blocks.
    pub fn push(&mut self, samples: &[i16]) -> usize {
        if self.shared.stops.load(Ordering::Acquire) != self.shared.resumed.load(Ordering::Relaxed) {
            return samples.len(); // stopped: accept and drop, so callers do not spin
        }
        let n = samples.len().min(self.ring.slots());
        if let Ok(mut chunk) = self.ring.write_chunk(n) {
            let (a, b) = chunk.as_mut_slices();
            a.copy_from_slice(&samples[..a.len()]);
            b.copy_from_slice(&samples[a.len()..n]);
            chunk.commit_all();
        }
        self.shared.pushed.fetch_add(n as u64, Ordering::Release);
        n
    }

    /// Queues all of `samples`, waiting for room (synthesis thread only, never the frame loop).
    pub fn push_all(&mut self, mut samples: &[i16]) {
        while !samples.is_empty() {
            let n = self.push(samples);
            samples = &samples[n..];
            if !samples.is_empty() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }

    /// Queues all of `samples` unless `cancelled()` turns true while waiting for room.
    pub fn push_all_unless(&mut self, mut samples: &[i16], cancelled: &dyn Fn() -> bool) {
        while !samples.is_empty() && !cancelled() {
            let n = self.push(samples);
            samples = &samples[n..];
            if !samples.is_empty() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }

    /// The playback tap (once: a second call gets `None`).
    pub fn take_tap(&mut self) -> Option<PlaybackTap> {
        self.tap.take()
    }

    /// A handle that can stop the queue from another thread (the frame loop's barge-in).
    pub fn stopper(&self) -> Stopper {
        Stopper(self.shared.clone())
    }

    /// Barge-in: silence from the next audio block, queued speech discarded.
    pub fn stop(&self) {
        self.shared.stops.fetch_add(1, Ordering::AcqRel);
    }

    /// Accepts speech again after a stop (the next reply). Waits (synthesis thread only, up to
    /// `RESUME_WAIT`) until the consumer has drained what was queued before, so no stale sample
    /// plays after the new reply's first and the clock's only writer stays the consumer.
    pub fn resume(&mut self) {
        let stops = self.shared.stops.load(Ordering::Acquire);
        if stops == self.shared.resumed.load(Ordering::Relaxed) {
            return;
        }
        let cut = self.shared.pushed.load(Ordering::Acquire);
        self.shared.cut.store(cut, Ordering::Release);
        self.shared.resumed.store(stops, Ordering::Release);
        // Nothing stale is left once the consumer has drained, or has consumed up to the cut.
        let began = std::time::Instant::now();
        while self.shared.drained.load(Ordering::Acquire) != stops
            && self.shared.played.load(Ordering::Acquire) < cut
            && began.elapsed() < RESUME_WAIT
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// The clock for the frame loop.
    pub fn clock(&self) -> AudioClock {
        AudioClock { shared: self.shared.clone(), source_rate: self.source_rate }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, rate: f64, hz: f64, amp: f64) -> Vec<i16> {
        (0..n).map(|i| ((i as f64 / rate * hz * std::f64::consts::TAU).sin() * amp) as i16).collect()
    }

    #[test]
    fn clauses_queued_back_to_back_play_without_a_gap_or_click() {
        let (mut q, data) = speech_stream(22_050);
        let mut r = data.into_resampler();
        // Two "clauses" of one continuous tone, split at an arbitrary sample.
        let t = tone(22_050, 22_050.0, 220.0, 8000.0);
        q.push(&t[..10_007]);
        q.push(&t[10_007..]);
        let mut out = vec![0.0f32; 48_000 * 9 / 10];
        for block in out.chunks_mut(512) {
            r.fill(block, 1.0 / 48_000.0);
        }
        // Continuity: a 220 Hz tone at amplitude 0.24 moves at most ~0.007 a sample at 48 kHz.
        let max_step = out.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
        assert!(max_step < 0.01, "discontinuity of {max_step} in the output");
        assert_eq!(q.clock().underruns(), 0);
        let pos = q.clock().position_seconds();
        assert!((pos - 0.9).abs() < 0.001, "clock at {pos} s after 0.9 s of output");
    }

    #[test]
    fn a_duck_glides_down_without_a_click_and_the_tap_hears_what_played() {
        let (mut q, data) = speech_stream(16_000);
        let mut tap = q.take_tap().unwrap();
        assert!(q.take_tap().is_none());
        let mut r = data.into_resampler();
        q.push(&vec![16_384i16; 16_000]); // a constant 0.5
        let mut out = vec![0.0f32; 480];
        r.fill(&mut out, 1.0 / 48_000.0);
        assert!(out[10..].iter().all(|x| (*x - 0.5).abs() < 1e-3));
        q.stopper().set_gain(0.2);
        r.fill(&mut out, 1.0 / 48_000.0);
        // 20 ms from full to silent: 10 ms of block glides 0.5 of the way, no step above 1/960.
        let steps = out.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
        assert!(steps <= 0.5 / 960.0 + 1e-6, "a step of {steps}");
        for _ in 0..4 {
            r.fill(&mut out, 1.0 / 48_000.0);
        }
        assert!(out.iter().all(|x| (*x - 0.1).abs() < 1e-3), "ducked to 0.2 of 0.5: {}", out[0]);
        let mut heard = Vec::new();
        tap.drain(&mut heard);
        // 6 blocks of 10 ms at 16 kHz: 960 source samples, full first, ducked at the end.
        assert_eq!(heard.len(), 960);
        assert!((heard[10] - 0.5).abs() < 1e-3 && (heard[959] - 0.1).abs() < 1e-3, "{} {}", heard[10], heard[959]);
    }

    #[test]
    fn a_new_reply_resumed_before_the_consumer_saw_the_stop_plays_nothing_stale() {
        // The race of review #12, in a fixed order: stop, then the next reply's first job
        // resumes the queue and pushes before the audio callback has run at all. Old speech
        // must not play, and the clock (one writer: the consumer) must never pass `pushed`.
        let (mut q, data) = speech_stream(22_050);
        let mut r = data.into_resampler();
        q.push(&vec![20_000i16; 11_025]);
        let mut out = vec![0.0f32; 480];
        r.fill(&mut out, 1.0 / 48_000.0);
        assert!(out[100..].iter().all(|x| *x > 0.5), "the stale clause was playing");
        q.stop();
        q.resume(); // no consumer runs meanwhile: waits RESUME_WAIT, then goes on
        q.push(&vec![-10_000i16; 22_050]);
        let mut heard = Vec::new();
        for _ in 0..20 {
            r.fill(&mut out, 1.0 / 48_000.0);
            heard.extend_from_slice(&out);
            let clock = q.clock();
            assert!(clock.played_samples() <= clock.pushed_samples(), "the clock ran past what was pushed");
        }
        assert!(heard.iter().all(|x| *x < 0.3), "stale speech played after the stop");
        assert!(heard[200..].iter().all(|x| *x < -0.2), "the new reply did not play at once");
    }

    #[test]
    fn barge_in_silences_the_next_block_and_discards_the_queue() {
        let (mut q, data) = speech_stream(22_050);
        let mut r = data.into_resampler();
        q.push(&tone(22_050, 22_050.0, 300.0, 10_000.0));
        let mut block = [0.0f32; 256];
        r.fill(&mut block, 1.0 / 48_000.0);
        assert!(block.iter().any(|s| s.abs() > 0.1));
        q.stop();
        r.fill(&mut block, 1.0 / 48_000.0);
        assert!(block.iter().all(|s| *s == 0.0), "sound after stop");
        assert_eq!(q.push(&[1, 2, 3]), 3, "stopped queue swallows, never blocks");
        q.resume();
        assert_eq!(q.clock().queued_samples(), 0);
        q.push(&tone(2205, 22_050.0, 300.0, 10_000.0));
        r.fill(&mut block, 1.0 / 48_000.0);
        assert!(block.iter().any(|s| s.abs() > 0.05), "speaks again after resume");
    }

    #[test]
    fn late_synthesis_counts_underruns_instead_of_glitching() {
        let (mut q, data) = speech_stream(22_050);
        let mut r = data.into_resampler();
        let mut block = [0.0f32; 512];
        r.fill(&mut block, 1.0 / 48_000.0);
        assert_eq!(q.clock().underruns(), 0, "idle silence is not an underrun");
        q.push(&tone(100, 22_050.0, 300.0, 10_000.0));
        q.shared.pushed.fetch_add(1000, Ordering::Relaxed); // pretend more was promised
        r.fill(&mut block, 1.0 / 48_000.0);
        assert!(q.clock().underruns() > 0);
    }

    #[test]
    fn plays_through_a_real_kira_manager_on_the_mock_backend() {
        use kira::backend::mock::{MockBackend, MockBackendSettings};
        use kira::{AudioManager, AudioManagerSettings};
        let settings = AudioManagerSettings {
            backend_settings: MockBackendSettings { sample_rate: 48_000 },
            ..AudioManagerSettings::default()
        };
        let mut manager = AudioManager::<MockBackend>::new(settings).unwrap();
        let (mut q, data) = speech_stream(22_050);
        let clock = q.clock();
        q.push(&tone(22_050, 22_050.0, 220.0, 8000.0));
        let _ = manager.play(data);
        for _ in 0..200 {
            manager.backend_mut().on_start_processing();
            manager.backend_mut().process();
        }
        assert!(clock.played_samples() > 0, "the mock renderer pulled no speech");
    }
    /// A device that goes away hands the stream to the offline clock, and a device that comes
    /// back takes it again: one consumer at a time, the clock counting on without a gap.
    #[test]
    fn the_stream_moves_between_outputs_and_only_its_owner_plays() {
        use kira::backend::mock::{MockBackend, MockBackendSettings};
        use kira::{AudioManager, AudioManagerSettings};
        let manager = || {
            let backend_settings = MockBackendSettings { sample_rate: 48_000 };
            AudioManager::<MockBackend>::new(AudioManagerSettings {
                backend_settings,
                ..AudioManagerSettings::default()
            })
            .unwrap()
        };
        let run = |m: &mut AudioManager<MockBackend>| {
            for _ in 0..50 {
                m.backend_mut().on_start_processing();
                m.backend_mut().process();
            }
        };
        let (mut q, data) = speech_stream(22_050);
        let clock = q.clock();
        q.push(&tone(66_150, 22_050.0, 220.0, 8000.0));
        let spare = data.handle();
        let mut first = manager();
        let _ = first.play(data);
        run(&mut first);
        let on_device = clock.played_samples();
        assert!(on_device > 0, "the first device played nothing");
        // The device goes away: the offline clock takes the stream; the old device is silent.
        let mut offline = spare.handle().into_offline();
        run(&mut first);
        assert_eq!(clock.played_samples(), on_device, "a device that lost the stream still pulled from it");
        let mut buf = vec![0.0f32; 4800];
        offline.render(&mut buf, 48_000);
        let offline_played = clock.played_samples();
        assert!(offline_played > on_device && buf.iter().any(|s| s.abs() > 0.01), "offline did not take over");
        // A device comes back: it plays on from where the offline clock was; offline is silent.
        let mut second = manager();
        let _ = second.play(spare.handle());
        offline.render(&mut buf, 48_000);
        assert_eq!(clock.played_samples(), offline_played, "offline pulled after a device took the stream");
        assert!(buf.iter().all(|s| *s == 0.0));
        run(&mut second);
        assert!(clock.played_samples() > offline_played, "the returning device played nothing");
    }
}
