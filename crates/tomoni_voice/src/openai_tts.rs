//! OpenAI-compatible `/v1/audio/speech` (OpenAI, Kokoro-FastAPI, openedai-speech, …): audio
//! without phoneme timing, streamed as raw 16-bit PCM so speech can be queued as it arrives.
//! The mouth then follows the audio through [`crate::analysis`]. Blocking by design: it runs on
//! the synthesis thread, never the frame loop.

use crate::{Speech, TtsError};
use std::io::Read;
use std::time::Duration;

/// Sample rate of OpenAI's `pcm` response format.
pub const PCM_RATE: u32 = 24_000;

/// A speech endpoint.
#[derive(Debug, Clone)]
pub struct OpenAiSpeech {
    /// Base URL up to `/v1`.
    pub base_url: String,
    /// Model (`tts-1`, `kokoro`, …).
    pub model: String,
    /// Voice name.
    pub voice: String,
    /// Name of the environment variable holding the API key (never the key itself).
    pub api_key_env: Option<String>,
    /// Timeout for connecting, for the response to start, and for each read of the audio: a
    /// stalled server is an error after this long, never a companion muted for the session.
    pub timeout: Duration,
    /// One HTTP client for every clause (connections are reused), made on first use.
    pub client: std::sync::OnceLock<reqwest::blocking::Client>,
}

/// What the HTTP reader thread hands the synthesis thread.
enum Piece {
    Rate(u32),
    Samples(Vec<i16>),
    Failed(TtsError),
    Done,
}

impl OpenAiSpeech {
    /// An endpoint with the default timeout (10 s).
    pub fn new(base_url: &str, model: &str, voice: &str, api_key_env: Option<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            voice: voice.into(),
            api_key_env,
            timeout: Duration::from_secs(10),
            client: std::sync::OnceLock::new(),
        }
    }

    fn client(&self) -> Result<reqwest::blocking::Client, TtsError> {
        if let Some(c) = self.client.get() {
            return Ok(c.clone());
        }
        let c = reqwest::blocking::Client::builder()
            .connect_timeout(self.timeout)
            // Blocking reqwest applies this to sending and to each read of the body.
            .timeout(self.timeout)
            .build()
            .map_err(|e| TtsError::Synth(e.to_string()))?;
        Ok(self.client.get_or_init(|| c).clone())
    }

    /// Speaks `text`, calling `on_samples` with each piece of audio as it arrives. The HTTP
    /// exchange runs on a helper thread, so `cancelled` (barge-in) is heard within
    /// milliseconds even while the server stalls; the helper ends at the next read or timeout.
    pub fn stream(
        &self,
        text: &str,
        cancelled: &dyn Fn() -> bool,
        mut on_samples: impl FnMut(&[i16]),
    ) -> Result<u32, TtsError> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (client, this, text) = (self.client()?, self.clone(), text.to_string());
        std::thread::Builder::new()
            .name("tomoni-tts-http".into())
            .spawn(move || this.read_all(&client, &text, &tx))
            .map_err(|e| TtsError::Synth(format!("cannot start the speech request: {e}")))?;
        let mut rate = PCM_RATE;
        loop {
            if cancelled() {
                return Err(TtsError::Synth("cancelled (barge-in)".into()));
            }
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(Piece::Rate(r)) => rate = r,
                Ok(Piece::Samples(s)) => on_samples(&s),
                Ok(Piece::Failed(e)) => return Err(e),
                Ok(Piece::Done) => return Ok(rate),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(TtsError::Synth("the speech request ended without a word".into()));
                }
            }
        }
    }

    /// The HTTP exchange (helper thread): pieces go to `tx` until it is dropped.
    fn read_all(&self, client: &reqwest::blocking::Client, text: &str, tx: &crossbeam_channel::Sender<Piece>) {
        let send = |p: Piece| tx.send(p).is_ok();
        match self.read_into(client, text, &send) {
            Ok(()) => {
                send(Piece::Done);
            }
            Err(e) => {
                send(Piece::Failed(e));
            }
        }
    }

    fn read_into(
        &self,
        client: &reqwest::blocking::Client,
        text: &str,
        send: &dyn Fn(Piece) -> bool,
    ) -> Result<(), TtsError> {
        let url = format!("{}/audio/speech", self.base_url.trim_end_matches('/'));
        let body =
            serde_json::json!({"model": self.model, "input": text, "voice": self.voice, "response_format": "pcm"});
        let mut req = client.post(&url).json(&body);
        if let Some(key) = self.api_key_env.as_ref().and_then(|v| std::env::var(v).ok()).filter(|k| !k.is_empty()) {
            req = req.bearer_auth(key);
        }
        let mut resp = req.send().map_err(|e| {
            let why = if e.is_timeout() { format!("no answer within {:?}", self.timeout) } else { e.to_string() };
            TtsError::Synth(format!("cannot reach {url}: {why}"))
        })?;
        let status = resp.status();
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 | 403 => format!(
                    ": check the API key in ${}",
                    self.api_key_env.as_deref().unwrap_or("<no key variable configured>")
                ),
                _ => String::new(),
            };
            return Err(TtsError::Synth(format!("{url} answered {status}{hint}")));
        }
        let wav = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("wav"));
        let mut header_left = if wav { 44 } else { 0 };
        let mut buf = [0u8; 4096];
        let mut carry: Option<u8> = None;
        loop {
            let n =
                resp.read(&mut buf).map_err(|e| TtsError::Synth(format!("{url}: the audio stream broke off: {e}")))?;
            if n == 0 {
                return Ok(());
            }
            let mut bytes = &buf[..n];
            if header_left > 0 {
                // A server that ignored `pcm` and sent WAV: take its rate, skip its header.
                if header_left == 44 && bytes.len() >= 28 {
                    send(Piece::Rate(u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]])));
                }
                let skip = header_left.min(bytes.len());
                bytes = &bytes[skip..];
                header_left -= skip;
            }
            let mut samples = Vec::with_capacity(bytes.len() / 2 + 1);
            let mut it = bytes.iter().copied();
            if let Some(lo) = carry.take()
                && let Some(hi) = it.next()
            {
                samples.push(i16::from_le_bytes([lo, hi]));
            }
            let rest: Vec<u8> = it.collect();
            for pair in rest.chunks(2) {
                match pair {
                    [lo, hi] => samples.push(i16::from_le_bytes([*lo, *hi])),
                    [lo] => carry = Some(*lo),
                    _ => {}
                }
            }
            if !samples.is_empty() && !send(Piece::Samples(samples)) {
                return Ok(()); // the synthesis thread moved on (barge-in)
            }
        }
    }

    /// Speaks `text` and returns the whole audio (no phonemes: this engine gives no timing).
    pub fn synthesize(&self, text: &str) -> Result<Speech, TtsError> {
        let mut all = Vec::new();
        let rate = self.stream(text, &|| false, |s| all.extend_from_slice(s))?;
        Ok(Speech { sample_rate: rate, samples: all, phonemes: Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A loopback server answering one request with `status` and a chunked body in pieces.
    fn serve(
        status: &'static str,
        content_type: &'static str,
        pieces: Vec<Vec<u8>>,
    ) -> (String, std::thread::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let (mut head, mut len) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            std::io::Read::read_exact(&mut r, &mut body).unwrap();
            write!(s, "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n")
                .unwrap();
            for p in pieces {
                write!(s, "{:x}\r\n", p.len()).unwrap();
                s.write_all(&p).unwrap();
                s.write_all(b"\r\n").unwrap();
                s.flush().unwrap();
            }
            s.write_all(b"0\r\n\r\n").unwrap();
            format!("{head}\n{}", String::from_utf8_lossy(&body))
        });
        (url, h)
    }

    fn engine(url: &str) -> OpenAiSpeech {
        OpenAiSpeech {
            timeout: Duration::from_secs(5),
            ..OpenAiSpeech::new(url, "tts-1", "alloy", Some("CARGO_PKG_NAME".into()))
        }
    }

    #[test]
    fn streams_pcm_in_pieces_split_inside_samples() {
        let tone: Vec<i16> = (0..24_000).map(|i| ((i as f32 * 0.05).sin() * 9000.0) as i16).collect();
        let bytes: Vec<u8> = tone.iter().flat_map(|s| s.to_le_bytes()).collect();
        let pieces: Vec<Vec<u8>> = bytes.chunks(1001).map(<[u8]>::to_vec).collect(); // odd sizes
        let (url, h) = serve("200 OK", "audio/pcm", pieces);
        let mut calls = 0;
        let mut got = Vec::new();
        let rate = engine(&url)
            .stream("Hello there", &|| false, |s| {
                calls += 1;
                got.extend_from_slice(s);
            })
            .unwrap();
        let request = h.join().unwrap();
        assert_eq!(rate, 24_000);
        assert_eq!(got, tone, "every sample, in order, across odd chunk boundaries");
        assert!(calls > 5, "audio arrived in pieces ({calls} calls), not all at the end");
        assert!(request.contains("\"response_format\":\"pcm\"") && request.contains("\"input\":\"Hello there\""));
        assert!(request.to_lowercase().contains("authorization: bearer tomoni_voice"), "{request}");
    }

    #[test]
    fn wav_answers_are_understood_and_the_mouth_follows_the_audio() {
        let s = crate::espeak::synthesize("Hello, how are you today?", &Default::default()).unwrap();
        let mut wav = Vec::new();
        let dir = std::env::temp_dir().join(format!("tomoni-tts-{}.wav", std::process::id()));
        crate::wav::write(&dir, s.sample_rate, &s.samples).unwrap();
        wav.extend(std::fs::read(&dir).unwrap());
        let (url, _h) = serve("200 OK", "audio/wav", wav.chunks(3000).map(<[u8]>::to_vec).collect());
        let speech = engine(&url).synthesize("Hello, how are you today?").unwrap();
        assert_eq!(speech.sample_rate, 22_050);
        assert_eq!(speech.samples, s.samples);
        let track = crate::analysis::track(&speech.samples, speech.sample_rate);
        let open = track.iter().filter(|w| crate::analysis::mouth_class(w) != 5).count();
        assert!(open > track.len() / 4, "the mouth opens on {open} of {} frames", track.len());
    }

    #[test]
    fn a_stalled_server_is_an_error_after_the_timeout_and_cancelling_is_heard_at_once() {
        // A server that accepts and never answers.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", l.local_addr().unwrap());
        std::thread::spawn(move || {
            let held: Vec<_> = l.incoming().take(2).collect();
            std::thread::sleep(Duration::from_secs(30));
            drop(held);
        });
        let quick = OpenAiSpeech { timeout: Duration::from_millis(400), ..engine(&url) };
        let began = std::time::Instant::now();
        let e = quick.synthesize("hi").unwrap_err().to_string();
        assert!(began.elapsed() < Duration::from_secs(3), "waited {:?}", began.elapsed());
        assert!(e.contains("cannot reach") || e.contains("broke off"), "{e}");
        let slow = OpenAiSpeech { timeout: Duration::from_secs(20), ..engine(&url) };
        let began = std::time::Instant::now();
        let cancel_at = began + Duration::from_millis(150);
        let e = slow.stream("hi", &|| std::time::Instant::now() > cancel_at, |_| {}).unwrap_err().to_string();
        assert!(e.contains("cancelled"), "{e}");
        assert!(began.elapsed() < Duration::from_secs(1), "barge-in took {:?}", began.elapsed());
    }

    #[test]
    fn errors_name_the_endpoint_and_the_key_variable() {
        let (url, _h) = serve("401 Unauthorized", "application/json", vec![b"{}".to_vec()]);
        let e = engine(&url).synthesize("hi").unwrap_err().to_string();
        assert!(e.contains("401") && e.contains("$CARGO_PKG_NAME") && !e.contains("tomoni_voice"), "{e}");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = engine(&format!("http://127.0.0.1:{port}/v1")).synthesize("hi").unwrap_err().to_string();
        assert!(e.contains("cannot reach"), "{e}");
    }
}
