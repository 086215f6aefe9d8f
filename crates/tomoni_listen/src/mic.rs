//! The microphone: cpal (the same library kira plays through) captures on its own audio thread
//! into a lock-free ring; [`MicSource::read`] mixes to mono and resamples to 16 kHz on the
//! listener's thread. The capture callback never allocates or locks.

use crate::ListenError;
use crate::audio::{AudioSource, RATE, StreamResampler};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Seconds of capture the ring holds; a listener that falls further behind loses the oldest.
const RING_SECONDS: usize = 2;

/// The default input device as an [`AudioSource`].
pub struct MicSource {
    ring: rtrb::Consumer<f32>,
    channels: usize,
    resampler: StreamResampler,
    scratch: Vec<f32>,
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicBool>,
    /// The device, in words.
    pub name: String,
}

impl MicSource {
    /// Opens the default microphone, or says why there is none (the app then goes on with
    /// typing only).
    pub fn open() -> Result<Self, ListenError> {
        if let Some(why) = tomoni_voice::playback::no_sound_device() {
            return Err(ListenError::Input(format!("no microphone: {why}")));
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let failed = Arc::new(AtomicBool::new(false));
        let (stop2, failed2) = (stop.clone(), failed.clone());
        // cpal's stream is not `Send` everywhere: it lives and dies on a thread of its own.
        std::thread::Builder::new()
            .name("tomoni-mic".into())
            .spawn(move || {
                let opened = open_stream(failed2);
                match opened {
                    Ok((stream, ring, channels, rate, name)) => {
                        let _ = tx.send(Ok((ring, channels, rate, name)));
                        while !stop2.load(Ordering::Relaxed) {
                            std::thread::sleep(std::time::Duration::from_millis(50));
                        }
                        drop(stream);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| ListenError::Input(format!("cannot start the microphone thread: {e}")))?;
        let (ring, channels, rate, name) = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .map_err(|_| ListenError::Input("the microphone did not open within 5 s".into()))??;
        Ok(Self {
            ring,
            channels,
            resampler: StreamResampler::new(rate, RATE),
            scratch: Vec::new(),
            stop,
            failed,
            name,
        })
    }
}

type Opened = (cpal::Stream, rtrb::Consumer<f32>, usize, u32, String);

fn open_stream(failed: Arc<AtomicBool>) -> Result<Opened, ListenError> {
    let host = cpal::default_host();
    let device = host.default_input_device().ok_or_else(|| ListenError::Input("no microphone found".into()))?;
    let name = device.description().map_or_else(|_| "microphone".to_string(), |d| d.to_string());
    let supported = device
        .default_input_config()
        .map_err(|e| ListenError::Input(format!("{name}: no input configuration ({e})")))?;
    let config = supported.config();
    let channels = usize::from(config.channels.max(1));
    let rate = config.sample_rate;
    let (mut tx, rx) = rtrb::RingBuffer::<f32>::new(rate as usize * channels * RING_SECONDS);
    let err = move |e: cpal::Error| {
        eprintln!("tomoni: microphone: {e}");
        failed.store(true, Ordering::Relaxed);
    };
    let at = |e: cpal::Error| ListenError::Input(format!("{name}: {e}"));
    let stream = match supported.sample_format() {
        cpal::SampleFormat::F32 => device
            .build_input_stream::<f32, _, _>(
                config,
                move |data: &[f32], _: &_| push(&mut tx, data.iter().copied()),
                err,
                None,
            )
            .map_err(at)?,
        cpal::SampleFormat::I16 => device
            .build_input_stream::<i16, _, _>(
                config,
                move |data: &[i16], _: &_| push(&mut tx, data.iter().map(|&s| f32::from(s) / 32768.0)),
                err,
                None,
            )
            .map_err(at)?,
        other => return Err(ListenError::Input(format!("{name}: unsupported sample format {other:?}"))),
    };
    stream.play().map_err(at)?;
    Ok((stream, rx, channels, rate, name))
}

/// The capture callback's only work: copy into the ring (what does not fit is dropped).
fn push(tx: &mut rtrb::Producer<f32>, samples: impl ExactSizeIterator<Item = f32>) {
    let n = samples.len().min(tx.slots());
    if let Ok(chunk) = tx.write_chunk_uninit(n) {
        chunk.fill_from_iter(samples);
    }
}

impl AudioSource for MicSource {
    fn read(&mut self, out: &mut Vec<f32>, wait: std::time::Duration) -> Result<bool, ListenError> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(ListenError::Input(format!("{}: the capture stream failed", self.name)));
        }
        if self.ring.slots() == 0 {
            std::thread::sleep(wait.min(std::time::Duration::from_millis(20)));
        }
        let n = self.ring.slots() / self.channels * self.channels;
        self.scratch.clear();
        if let Ok(chunk) = self.ring.read_chunk(n) {
            let (a, b) = chunk.as_slices();
            let mut frames = a.iter().chain(b).copied();
            for _ in 0..n / self.channels {
                let sum: f32 = frames.by_ref().take(self.channels).sum();
                self.scratch.push(sum / self.channels as f32);
            }
            chunk.commit_all();
        }
        self.resampler.process(&self.scratch, out);
        Ok(true)
    }
}

impl Drop for MicSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
