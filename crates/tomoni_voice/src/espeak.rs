//! espeak-ng in process, with exact phoneme timings from its phoneme events.
//!
//! The C library keeps global state and is not thread-safe: every call goes through one mutex.
//! Synchronous mode hands us the samples and the events in a callback, which we collect into a
//! buffer passed as `user_data`.
#![expect(unsafe_code, reason = "espeak-ng is a C library; every unsafe block is commented")]

use crate::{Phoneme, Speech, TtsError};
use espeakng_sys as sys;
use std::ffi::{CStr, CString, c_int, c_short};
use std::sync::Mutex;

/// Voice settings for espeak-ng.
#[derive(Debug, Clone, PartialEq)]
pub struct EspeakVoice {
    /// Voice name (`en-us`, `en-gb`, `ja`, …).
    pub voice: String,
    /// Words per minute, 80–450.
    pub rate: u32,
    /// Pitch 0–100.
    pub pitch: u32,
}

impl Default for EspeakVoice {
    fn default() -> Self {
        Self { voice: "en-us".into(), rate: 165, pitch: 50 }
    }
}

/// The engine's sample rate once initialised.
static ENGINE: Mutex<Option<u32>> = Mutex::new(None);

struct Collector {
    samples: Vec<i16>,
    phonemes: Vec<Phoneme>,
}

extern "C" fn on_synth(wav: *mut c_short, numsamples: c_int, events: *mut sys::espeak_EVENT) -> c_int {
    if events.is_null() {
        return 0;
    }
    // SAFETY: espeak passes an array of events terminated by LIST_TERMINATED, valid for the
    // duration of the callback; `user_data` is the `Collector` we passed to `espeak_Synth`,
    // alive for the whole (synchronous) call and not aliased elsewhere meanwhile.
    unsafe {
        let collector = (*events).user_data.cast::<Collector>();
        if collector.is_null() {
            return 0;
        }
        let c = &mut *collector;
        if !wav.is_null() && numsamples > 0 {
            c.samples.extend_from_slice(std::slice::from_raw_parts(wav, numsamples as usize));
        }
        let mut e = events;
        while (*e).type_ != sys::espeak_EVENT_TYPE_espeakEVENT_LIST_TERMINATED {
            if (*e).type_ == sys::espeak_EVENT_TYPE_espeakEVENT_PHONEME {
                let raw = (*e).id.string;
                let bytes: Vec<u8> = raw.iter().take_while(|&&b| b != 0).map(|&b| b as u8).collect();
                let ipa = String::from_utf8_lossy(&bytes).into_owned();
                if !ipa.is_empty() {
                    c.phonemes.push(Phoneme { start_ms: f64::from((*e).audio_position), ipa });
                }
            }
            e = e.add(1);
        }
    }
    0
}

/// Makes sure the engine is initialised; returns its sample rate. Call with the lock held.
fn ensure_engine(engine: &mut Option<u32>) -> Result<u32, TtsError> {
    if let Some(r) = *engine {
        return Ok(r);
    }
    let options = (sys::espeakINITIALIZE_PHONEME_EVENTS | sys::espeakINITIALIZE_PHONEME_IPA) as c_int;
    // SAFETY: plain C call with a null data path (espeak's default) and valid enum values.
    let r = unsafe {
        sys::espeak_Initialize(sys::espeak_AUDIO_OUTPUT_AUDIO_OUTPUT_SYNCHRONOUS, 0, std::ptr::null(), options)
    };
    if r <= 0 {
        return Err(TtsError::Init("espeak_Initialize failed (is espeak-ng-data installed?)".into()));
    }
    // SAFETY: registering a callback with the exact signature espeak expects.
    unsafe { sys::espeak_SetSynthCallback(Some(on_synth)) };
    *engine = Some(r as u32);
    Ok(r as u32)
}

fn set_voice(voice: &str) -> Result<(), TtsError> {
    let name = CString::new(voice).map_err(|_| TtsError::Voice(voice.into()))?;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    if unsafe { sys::espeak_SetVoiceByName(name.as_ptr()) } != sys::espeak_ERROR_EE_OK {
        return Err(TtsError::Voice(voice.into()));
    }
    Ok(())
}

/// One clause as espeak-ng reads it: its IPA and the punctuation that ended it.
#[derive(Debug, Clone, PartialEq)]
pub struct IpaClause {
    /// The clause's phonemes in IPA, words separated by spaces, stress marks included.
    pub ipa: String,
    /// `.`, `,`, `?`, `!`, `:` or `;` when the clause ended with one.
    pub terminator: Option<char>,
}

impl IpaClause {
    /// Whether the clause ends a sentence (Piper synthesises sentence by sentence).
    pub fn ends_sentence(&self) -> bool {
        matches!(self.terminator, Some('.' | '?' | '!'))
    }
}

/// Text to IPA, clause by clause, the way Piper's voices were trained to read it (espeak-ng's
/// `TextToPhonemes` in IPA mode, punctuation kept). Stock espeak-ng does not report a clause's
/// punctuation, so it is read from the text the clause consumed.
pub fn text_to_ipa(text: &str, voice: &str) -> Result<Vec<IpaClause>, TtsError> {
    let text = readable(text, voice)?;
    let mut engine = ENGINE.lock().map_err(|_| TtsError::Init("engine lock poisoned".into()))?;
    ensure_engine(&mut engine)?;
    set_voice(voice)?;
    let ctext = CString::new(text.replace('\0', " ")).map_err(|e| TtsError::Synth(e.to_string()))?;
    let bytes = ctext.as_bytes();
    let base = ctext.as_ptr();
    let mut ptr: *const std::ffi::c_void = base.cast();
    let mut out = Vec::new();
    while !ptr.is_null() {
        // SAFETY: `ptr` is null or points into `ctext` (espeak advances it within the string);
        // the returned pointer is espeak's static buffer, copied before the next call; the
        // engine mutex is held throughout.
        let (ipa, next) = unsafe {
            let from = ptr.cast::<u8>().offset_from(base.cast::<u8>()) as usize;
            let r =
                sys::espeak_TextToPhonemes(&mut ptr, sys::espeakCHARS_AUTO as c_int, sys::espeakPHONEMES_IPA as c_int);
            let ipa = if r.is_null() { String::new() } else { CStr::from_ptr(r.cast()).to_string_lossy().into_owned() };
            let to = if ptr.is_null() { bytes.len() } else { ptr.cast::<u8>().offset_from(base.cast::<u8>()) as usize };
            (ipa, from..to.max(from))
        };
        let consumed = String::from_utf8_lossy(&bytes[next]);
        // espeak-ng has read one character into the next clause before it stops.
        let mut consumed = consumed.chars();
        if !ptr.is_null() {
            consumed.next_back();
        }
        let terminator = consumed.as_str().trim_end().chars().last().and_then(|c| match c {
            '.' | '。' => Some('.'),
            ',' | '、' => Some(','),
            '?' | '？' => Some('?'),
            '!' | '！' => Some('!'),
            ':' | ';' => Some(c),
            _ => None,
        });
        // Words in another language come wrapped in (lang) flags; Piper strips them too.
        let ipa = strip_language_flags(ipa.trim());
        if !ipa.is_empty() || terminator.is_some() {
            out.push(IpaClause { ipa, terminator });
        }
    }
    Ok(out)
}

fn strip_language_flags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0u32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The text a voice is given: Japanese voices get kanji as their pronunciation in kana
/// ([`crate::japanese`]); espeak-ng would spell them out as "Chinese letter".
fn readable<'a>(text: &'a str, voice: &str) -> Result<std::borrow::Cow<'a, str>, TtsError> {
    if crate::japanese::is_japanese_voice(voice) {
        crate::japanese::pronounce(text).map_err(TtsError::Model)
    } else {
        Ok(std::borrow::Cow::Borrowed(text))
    }
}

/// espeak-ng's output rate.
pub const SAMPLE_RATE: u32 = 22_050;

/// Speaks `text` with `voice`; returns samples and phoneme timings.
pub fn synthesize(text: &str, voice: &EspeakVoice) -> Result<Speech, TtsError> {
    let text = readable(text, &voice.voice)?;
    let mut engine = ENGINE.lock().map_err(|_| TtsError::Init("engine lock poisoned".into()))?;
    let rate = ensure_engine(&mut engine)?;
    set_voice(&voice.voice)?;
    // SAFETY: plain C calls with in-range values.
    unsafe {
        sys::espeak_SetParameter(sys::espeak_PARAMETER_espeakRATE, voice.rate.clamp(80, 450) as c_int, 0);
        sys::espeak_SetParameter(sys::espeak_PARAMETER_espeakPITCH, voice.pitch.min(100) as c_int, 0);
    }
    let ctext = CString::new(text.replace('\0', " ")).map_err(|e| TtsError::Synth(e.to_string()))?;
    let mut collector = Collector { samples: Vec::new(), phonemes: Vec::new() };
    let bytes = ctext.as_bytes_with_nul().len();
    // SAFETY: `ctext` outlives the synchronous call; the collector pointer is only used by our
    // callback during this call, while we hold the engine mutex.
    let err = unsafe {
        sys::espeak_Synth(
            ctext.as_ptr().cast(),
            bytes,
            0,
            sys::espeak_POSITION_TYPE_POS_CHARACTER,
            0,
            sys::espeakCHARS_UTF8,
            std::ptr::null_mut(),
            (&raw mut collector).cast(),
        )
    };
    if err != sys::espeak_ERROR_EE_OK {
        return Err(TtsError::Synth(format!("espeak_Synth returned {err}")));
    }
    // SAFETY: waits for synthesis to finish (a no-op in synchronous mode, kept for safety).
    unsafe { sys::espeak_Synchronize() };
    drop(engine);
    Ok(Speech { sample_rate: rate, samples: collector.samples, phonemes: collector.phonemes })
}

/// The espeak-ng version string, for `tomoni doctor`.
pub fn version() -> String {
    let mut path: *const std::ffi::c_char = std::ptr::null();
    // SAFETY: espeak returns a pointer to a static NUL-terminated string.
    unsafe {
        let v = sys::espeak_Info(&mut path);
        if v.is_null() { String::new() } else { CStr::from_ptr(v).to_string_lossy().into_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_espeak_speaks_with_phoneme_timings() {
        let s = synthesize("Hello, my friend.", &EspeakVoice::default()).unwrap();
        assert_eq!(s.sample_rate, 22_050);
        assert!(s.duration_ms() > 500.0 && s.duration_ms() < 3000.0, "{} ms", s.duration_ms());
        let rms = (s.samples.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.samples.len() as f64).sqrt();
        assert!(rms > 500.0, "silent audio (rms {rms})");
        let ipa: String = s.phonemes.iter().map(|p| p.ipa.as_str()).collect();
        assert!(ipa.contains('h') && ipa.contains('l') && ipa.contains('m') && ipa.contains('f'), "{ipa}");
        assert!(s.phonemes.windows(2).all(|w| w[0].start_ms <= w[1].start_ms), "times go forward");
        assert!(s.phonemes.last().unwrap().start_ms < s.duration_ms());
    }

    #[test]
    fn japanese_and_unknown_voices() {
        let s = synthesize("こんにちは", &EspeakVoice { voice: "ja".into(), ..EspeakVoice::default() }).unwrap();
        assert!(!s.phonemes.is_empty() && s.duration_ms() > 300.0);
        let e =
            synthesize("hi", &EspeakVoice { voice: "xx-nonexistent".into(), ..EspeakVoice::default() }).unwrap_err();
        assert_eq!(e, TtsError::Voice("xx-nonexistent".into()));
    }

    /// Sentences a companion says, written as a person writes them (kanji) and as they are
    /// pronounced (katakana, written by hand for this test, not produced by the dictionary):
    /// nothing was tuned on them. espeak-ng's Japanese voice must say the written form as it
    /// says the pronounced one. Before the dictionary, each kanji was "Chinese letter".
    const WRITTEN_AND_SAID: [(&str, &str); 12] = [
        ("今日は本当に楽しかったです。", "キョーワホントーニタノシカッタデス。"),
        ("明日も一緒に話しましょう。", "アシタモイッショニハナシマショー。"),
        ("あなたの声を聞けて嬉しいです。", "アナタノコエヲキケテウレシーデス。"),
        ("私はAIですが、あなたを大切に思っています。", "ワタシワAIデスガ、アナタヲタイセツニオモッテイマス。"),
        ("少し休んだほうがいいかもしれません。", "スコシヤスンダホーガイイカモシレマセン。"),
        ("誓いの言葉を申し上げます。", "チカイノコトバヲモーシアゲマス。"),
        ("晩ご飯は何を食べましたか。", "バンゴハンワナニヲタベマシタカ。"),
        ("雨の日は家で映画を見ます。", "アメノヒワイエデエイガヲミマス。"),
        ("眠れない夜は、ゆっくり深呼吸してみてください。", "ネムレナイヨルワ、ユックリシンコキューシテミテクダサイ。"),
        ("友達と電話で話しました。", "トモダチトデンワデハナシマシタ。"),
        ("新しい仕事には慣れましたか。", "アタラシイシゴトニワナレマシタカ。"),
        ("桜が咲いたら、公園へ行きましょう。", "サクラガサイタラ、コーエンエイキマショー。"),
    ];

    /// The held-out sentences' phonemes agree with their hand-written pronunciation (measured:
    /// see `docs/voice.md`), and a sentence in kanji takes as long to say as in kana.
    #[test]
    fn japanese_in_kanji_is_said_as_it_is_pronounced() {
        if !crate::japanese::ready_for_tests() {
            return;
        }
        let ipa = |t: &str| text_to_ipa(t, "ja").unwrap().iter().map(|c| c.ipa.replace(' ', "")).collect::<String>();
        let (mut errors, mut total, mut exact) = (0, 0, 0);
        for (written, said) in WRITTEN_AND_SAID {
            let (got, want) = (ipa(written), ipa(said));
            let (g, w): (Vec<char>, Vec<char>) = (got.chars().collect(), want.chars().collect());
            let d = crate::edit_distance(&g, &w);
            eprintln!("{d:>2}/{:>3}  {written}\n        {got}\n        {want}", want.chars().count());
            errors += d;
            total += want.chars().count();
            exact += usize::from(d == 0);
        }
        let agreement = 1.0 - errors as f64 / total as f64;
        eprintln!("phoneme agreement {:.1} % over {total} phonemes; {exact} of 12 sentences exact", agreement * 100.0);
        // Kanji spelled out as "Chinese letter" agree on about a third; a misread word or two
        // in a sentence costs a few percent.
        assert!(agreement >= 0.95, "phoneme agreement {:.1} %", agreement * 100.0);
        let voice = EspeakVoice { voice: "ja".into(), ..EspeakVoice::default() };
        let (a, b) =
            (synthesize(WRITTEN_AND_SAID[0].0, &voice).unwrap(), synthesize(WRITTEN_AND_SAID[0].1, &voice).unwrap());
        let ratio = a.duration_ms() / b.duration_ms();
        assert!((0.9..1.1).contains(&ratio), "kanji {} ms vs kana {} ms", a.duration_ms(), b.duration_ms());
    }

    #[test]
    fn ipa_by_clause_with_punctuation() {
        let c = text_to_ipa("Hello there, my friend. How are you?", "en-us").unwrap();
        let ends: Vec<_> = c.iter().map(|c| c.terminator).collect();
        assert_eq!(ends, [Some(','), Some('.'), Some('?')], "{c:?}");
        assert!(c[0].ipa.contains('h') && c[0].ipa.contains('ð'), "{c:?}");
        assert!(c[1].ends_sentence() && !c[0].ends_sentence());
        assert!(c.iter().all(|c| !c.ipa.contains('(')), "{c:?}");
        let ja = text_to_ipa("こんにちは。", "ja").unwrap();
        assert!(!ja[0].ipa.is_empty(), "{ja:?}");
    }
}
