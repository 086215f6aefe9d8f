//! The OpenAI-compatible transcription path against a real HTTP server on loopback: the server
//! parses the multipart upload the way whisper servers do, runs a real recogniser (Whisper in
//! process) on the WAV it received, and answers with JSON. What tomoni sends must be a valid
//! upload of the right audio, and what comes back must reach the caller; an error status is a
//! clear error naming the endpoint.

use std::io::{Read, Write};
use tomoni_listen::stt::{OpenAiTranscription, Recognizer, WhisperLocal};

fn ready() -> bool {
    let ok = tomoni_listen::stt::default_model().is_file();
    assert!(ok || std::env::var_os("TOMONI_TEST_LISTEN").is_none(), "the Whisper model is not set up");
    ok
}

/// One multipart/form-data request → its fields (name → bytes).
fn fields(head: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let boundary = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().starts_with("content-type:").then(|| l.split("boundary=").nth(1)))
        .flatten()
        .expect("a multipart boundary")
        .trim()
        .to_string();
    let sep = format!("--{boundary}");
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = find(rest, sep.as_bytes()) {
        rest = &rest[at + sep.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let Some(end_head) = find(rest, b"\r\n\r\n") else { break };
        let part_head = String::from_utf8_lossy(&rest[..end_head]).to_string();
        let name = part_head.split("name=\"").nth(1).and_then(|n| n.split('"').next()).unwrap_or("").to_string();
        let data = &rest[end_head + 4..];
        let end = find(data, format!("\r\n{sep}").as_bytes()).expect("a closed part");
        out.push((name, data[..end].to_vec()));
        rest = &data[end + 2..];
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A whisper server on loopback; `status` is what it answers with.
fn serve(status: u16) -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut whisper = WhisperLocal::load(&tomoni_listen::stt::default_model(), "en", 2).unwrap();
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            let (head, body) = loop {
                let n = s.read(&mut chunk).unwrap();
                buf.extend_from_slice(&chunk[..n]);
                if let Some(h) = find(&buf, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..h]).to_string();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap();
                    while buf.len() < h + 4 + len {
                        let n = s.read(&mut chunk).unwrap();
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    break (head, buf[h + 4..h + 4 + len].to_vec());
                }
            };
            let (code, answer) = if status != 200 {
                (status, r#"{"error":{"message":"model overloaded"}}"#.to_string())
            } else {
                assert!(head.starts_with("POST /v1/audio/transcriptions "), "{head}");
                let f = fields(&head, &body);
                let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
                assert_eq!(get("model"), b"whisper-1");
                assert_eq!(get("language"), b"en");
                let wav = get("file");
                assert_eq!(&wav[..4], b"RIFF");
                let samples: Vec<f32> =
                    wav[44..].chunks_exact(2).map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0).collect();
                let text = whisper.transcribe(&samples).unwrap();
                (200, serde_json::json!({ "text": text }).to_string())
            };
            let _ = write!(
                s,
                "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

#[test]
fn an_utterance_goes_to_a_transcription_server_and_its_words_come_back() {
    if !ready() {
        return;
    }
    let said = "Please remind me to water the plants.";
    let voice = tomoni_voice::espeak::EspeakVoice::default();
    let s = tomoni_voice::espeak::synthesize(said, &voice).unwrap();
    let x: Vec<f32> = s.samples.iter().map(|&v| f32::from(v) / 32768.0).collect();
    let mut audio = vec![0.0; 3200];
    audio.extend(tomoni_listen::audio::resample(&x, s.sample_rate, 16_000));
    let mut rec = OpenAiTranscription::new(&serve(200), "whisper-1", "en", None);
    let heard = rec.transcribe(&audio).unwrap();
    // The server heard exactly the audio (as 16-bit PCM): the same recogniser here, on the
    // same samples, gives the same words. (How well Whisper hears is the other tests' job.)
    let sent: Vec<f32> = audio.iter().map(|v| f32::from((v.clamp(-1.0, 1.0) * 32767.0) as i16) / 32768.0).collect();
    let local = WhisperLocal::load(&tomoni_listen::stt::default_model(), "en", 2).unwrap().transcribe(&sent).unwrap();
    assert_eq!(heard, local);
    assert!(heard.to_lowercase().contains("remind me"), "{heard:?}");

    let url = serve(503);
    let e = OpenAiTranscription::new(&url, "whisper-1", "en", None).transcribe(&audio).unwrap_err().to_string();
    assert!(e.contains(&url) && e.contains("503") && e.contains("overloaded"), "{e}");
}
