//! An utterance with a pause in it, transcribed in pieces by real Whisper: the part before the
//! pause when the pause comes, then only the part after it, with the words before as the
//! prompt. The words must come out whole (neither piece lost nor heard twice), and the second
//! transcription must really have been of the second piece alone.

use tomoni_listen::ListenError;
use tomoni_listen::listener::{Ears, Pieces, Transcriber};
use tomoni_listen::stt::{Recognizer, WhisperLocal, word_error_rate};
use tomoni_listen::vad::{SileroVad, VadConfig};

fn ready() -> bool {
    let ok = tomoni_listen::vad::default_model().is_file()
        && tomoni_voice::onnx::check_runtime().is_ok()
        && tomoni_listen::stt::default_model().is_file();
    assert!(ok || std::env::var_os("TOMONI_TEST_LISTEN").is_none(), "the listening models are not set up");
    ok
}

/// Whisper, noting what it was given: (seconds of audio, prompt).
struct Noted {
    whisper: WhisperLocal,
    calls: Vec<(f64, String)>,
}

impl Recognizer for Noted {
    fn transcribe_after(&mut self, audio: &[f32], before: &str) -> Result<String, ListenError> {
        self.calls.push((audio.len() as f64 / 16_000.0, before.to_string()));
        self.whisper.transcribe_after(audio, before)
    }
    fn describe(&self) -> String {
        self.whisper.describe()
    }
}

fn speak(text: &str) -> Vec<f32> {
    let s = tomoni_voice::espeak::synthesize(text, &tomoni_voice::espeak::EspeakVoice::default()).unwrap();
    let x: Vec<f32> = s.samples.iter().map(|&v| f32::from(v) / 32768.0).collect();
    tomoni_listen::audio::resample(&x, s.sample_rate, 16_000)
}

#[test]
fn an_utterance_that_goes_on_after_a_pause_is_transcribed_from_the_pause_on() {
    if !ready() {
        return;
    }
    let (first, second) = ("I went to the market this morning.", "Then I made a big pot of soup for my family.");
    let later = speak(second);
    // A pause long enough to transcribe at (200 ms), too short to end the utterance (500 ms).
    let mut audio = vec![0.0; 4_800];
    audio.extend(speak(first));
    audio.extend(vec![0.0; 5_600]);
    audio.extend(&later);
    audio.extend(vec![0.0; 16_000]);

    let mut ears = Ears::new(SileroVad::load(&tomoni_listen::vad::default_model()).unwrap(), VadConfig::default());
    ears.speculate = true;
    let mut cuts = Vec::new();
    for chunk in audio.chunks(1_600) {
        cuts.extend(ears.hear(chunk, false, &mut |_| {}).unwrap());
    }
    assert!(
        cuts.len() >= 3 && !cuts.last().unwrap().speculative,
        "expected cuts at the pause, the end and the decision"
    );

    let mut rec =
        Noted { whisper: WhisperLocal::load(&tomoni_listen::stt::default_model(), "en", 2).unwrap(), calls: vec![] };
    let mut t = Transcriber::new(&mut rec, &VadConfig::default());
    t.pieces = Pieces::Split;
    let words: Vec<String> = cuts.iter().map(|u| t.words(u).unwrap()).collect();
    drop(t);
    let heard = words.last().unwrap();
    let said = format!("{first} {second}");
    let wer = word_error_rate(&said, heard);
    println!("heard {heard:?} (WER {wer:.2}); calls {:?}", rec.calls);
    // A piece lost or heard twice is 8 or more words of 19: over 0.4.
    assert!(wer <= 0.2, "{heard:?} for {said:?}");
    // Whisper was called once a piece: the first whole, the second from the pause on, with the
    // first piece's words as its prompt; the final cut added nothing and was not transcribed.
    assert_eq!(rec.calls.len(), 2, "{:?}", rec.calls);
    assert_eq!(rec.calls[0].1, "");
    assert_eq!(rec.calls[1].1, words[0]);
    let piece = later.len() as f64 / 16_000.0;
    assert!(rec.calls[1].0 < piece + 0.55, "the second call heard {:.2} s for a {piece:.2} s piece", rec.calls[1].0);
}
