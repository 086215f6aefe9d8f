//! Configuration files with errors that name the file, line, column and field.
//!
//! Built-in defaults are embedded so that `tomoni` runs with no files at all; a file on disk
//! replaces them. Unknown keys are errors: a typo must not be silently ignored.

use crate::placement::Placement;
use bevy::prelude::Resource;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The app settings shipped in `configs/tomoni.toml`.
pub const DEFAULT_APP_TOML: &str = include_str!("../../../configs/tomoni.toml");
/// The default persona shipped in `configs/personas/default.toml`.
pub const DEFAULT_PERSONA_TOML: &str = include_str!("../../../configs/personas/default.toml");

/// A config file that could not be used, with where and why.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{}", self.place())]
pub struct ConfigError {
    /// The file (or `<built-in …>` for embedded defaults).
    pub path: String,
    /// 1-based line of the problem (0 when the file could not be read at all).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, including the field's name where the parser knows it.
    pub message: String,
}

impl ConfigError {
    /// `file:line:column: message`, or `file: message` where no place is known (a file that
    /// could not be read at all).
    fn place(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.path, self.message)
        } else {
            format!("{}:{}:{}: {}", self.path, self.line, self.column, self.message)
        }
    }
}

/// App settings (`configs/tomoni.toml`).
#[derive(Debug, Clone, PartialEq, Deserialize, Resource)]
#[serde(deny_unknown_fields, default)]
pub struct AppConfig {
    /// Persona name: `configs/personas/<persona>.toml`.
    pub persona: String,
    /// Where the companion stands relative to the viewer.
    pub placement: Placement,
    /// The viewer, where the runtime or window does not say.
    pub viewer: ViewerConfig,
    /// Rendering choices.
    pub render: RenderConfig,
    /// The language model service.
    pub llm: LlmSettings,
    /// Glasses and headsets.
    pub xr: XrConfig,
    /// Crisis care, honesty and break reminders (docs/wellbeing.md).
    pub wellbeing: WellbeingConfig,
    /// Hands-free talk: the microphone, when speech starts and ends, who transcribes it.
    pub listen: ListenSettings,
}

/// Hands-free talk (`[listen]`): voice activity knobs and the speech recogniser.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenSettings {
    /// Listen on the microphone when one is present (`tomoni run --no-mic` turns it off).
    pub microphone: bool,
    /// Listen only while the push-to-talk key (desktop: Space) is held.
    pub push_to_talk: bool,
    /// Speech probability at or above which a 32 ms chunk is speech (0.05..0.99).
    pub threshold: f32,
    /// Shorter bursts are not speech, in ms (a cough, a door).
    pub min_speech_ms: u32,
    /// Silence that ends an utterance, in ms: short cuts people off, long answers slowly.
    pub end_silence_ms: u32,
    /// Audio kept around speech so word edges reach the recogniser, in ms.
    pub pad_ms: u32,
    /// "local" (Whisper in process) or "openai" (any `/v1/audio/transcriptions`).
    pub engine: String,
    /// Language spoken to the companion (`en`, `ja`, …).
    pub language: String,
    /// For "local": a ggml Whisper model; empty: the one `cargo xtask` set up.
    pub model_path: String,
    /// For "openai": the endpoint up to and including /v1.
    pub endpoint: String,
    /// For "openai": the model name (`whisper-1`, …).
    pub model: String,
    /// For "openai": the NAME of the environment variable that holds the API key.
    pub api_key_env: String,
}

impl Default for ListenSettings {
    fn default() -> Self {
        Self {
            microphone: true,
            push_to_talk: false,
            threshold: 0.5,
            min_speech_ms: 200,
            end_silence_ms: 500,
            pad_ms: 200,
            engine: "local".into(),
            language: "en".into(),
            model_path: String::new(),
            endpoint: String::new(),
            model: "whisper-1".into(),
            api_key_env: String::new(),
        }
    }
}

/// Crisis care, honesty and break reminders. The care itself cannot be switched off: only
/// where it refers people, and how often it suggests a break.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WellbeingConfig {
    /// BCP 47 locale whose crisis services are named (`en-US`, `ja-JP`); empty: the system's
    /// (`LANG`), or Japan's when the person writes Japanese on a system set to another language.
    pub locale: String,
    /// `adult` or `minors`. In `minors` mode break reminders are on and come at least every
    /// three hours.
    pub mode: String,
    /// Minutes of continuous conversation before a break reminder; 0: off (the adult default),
    /// unset in `minors` mode: 180.
    pub break_reminder_minutes: Option<f32>,
    /// Minutes without a message that end a continuous conversation (the AI disclosure shows again).
    pub gap_minutes: f32,
    /// Crisis services; empty: the built-in ones (988 in the US; よりそいホットライン and
    /// いのちの電話 in Japan).
    pub resources: Vec<CrisisResource>,
}

/// One crisis service, as the companion says it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrisisResource {
    /// BCP 47 locale it serves.
    pub locale: String,
    /// Its name, as spoken.
    pub name: String,
    /// How to reach it, as spoken (`call or text 988`).
    pub contact: String,
}

impl Default for WellbeingConfig {
    fn default() -> Self {
        Self {
            locale: String::new(),
            mode: "adult".into(),
            break_reminder_minutes: None,
            gap_minutes: 30.0,
            resources: Vec::new(),
        }
    }
}

impl WellbeingConfig {
    /// Minutes between break reminders in force, or `None` for off; `Err` names a bad field.
    pub fn break_minutes(&self) -> Result<Option<f32>, String> {
        let minors = match self.mode.as_str() {
            "adult" => false,
            "minors" => true,
            m => return Err(format!("wellbeing.mode: {m:?}: expected \"adult\" or \"minors\"")),
        };
        match self.break_reminder_minutes {
            Some(m) if !m.is_finite() || m < 0.0 => {
                Err(format!("wellbeing.break_reminder_minutes: {m} is not a number of minutes (0: off)"))
            }
            Some(m) if minors && (m == 0.0 || m > 180.0) => Err(format!(
                "wellbeing.break_reminder_minutes: {m} in minors mode; it must be 1..=180 (at least every three hours)"
            )),
            Some(0.0) => Ok(None),
            Some(m) => Ok(Some(m)),
            None if minors => Ok(Some(180.0)),
            None => Ok(None),
        }
    }
}

/// OpenXR choices.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct XrConfig {
    /// Environment blend modes in order of preference: `alpha_blend` (video passthrough),
    /// `additive` (optical see-through), `opaque` (VR). The first the runtime offers is used.
    pub blend_modes: Vec<String>,
    /// Keep the companion where you left it: the pose is saved and restored next session.
    pub remember_place: bool,
    /// Reference spaces in order of preference: `stage` (room-scale floor), `local_floor`,
    /// `local` (seated; the floor is `viewer.eye_height` below where the session began).
    pub reference_spaces: Vec<String>,
}

impl Default for XrConfig {
    fn default() -> Self {
        Self {
            blend_modes: vec!["alpha_blend".into(), "additive".into(), "opaque".into()],
            remember_place: true,
            reference_spaces: vec!["stage".into(), "local_floor".into(), "local".into()],
        }
    }
}

/// Which OpenAI-compatible service the persona talks through. The API key is never here:
/// only the name of the environment variable that holds it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmSettings {
    /// Base URL up to `/v1`; empty: try Ollama on its default local port, else the offline demo.
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// Environment variable holding the API key (e.g. `OPENAI_API_KEY`); empty for none.
    pub api_key_env: String,
    /// Seconds to wait for the first token.
    pub first_token_timeout: f32,
    /// Seconds of silence tolerated between chunks.
    pub idle_timeout: f32,
    /// Seconds one reply may stream in all (a server that never ends is cut off).
    pub turn_timeout: f32,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            model: "llama3.2".into(),
            api_key_env: String::new(),
            first_token_timeout: 60.0,
            idle_timeout: 30.0,
            turn_timeout: 300.0,
        }
    }
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            persona: "default".into(),
            placement: Placement::default(),
            viewer: ViewerConfig::default(),
            render: RenderConfig::default(),
            llm: LlmSettings::default(),
            xr: XrConfig::default(),
            wellbeing: WellbeingConfig::default(),
            listen: ListenSettings::default(),
        }
    }
}

/// The viewer's body, used where no tracking gives it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ViewerConfig {
    /// Eye height above the floor, metres.
    pub eye_height: f32,
}

impl Default for ViewerConfig {
    fn default() -> Self {
        Self { eye_height: 1.6 }
    }
}

/// Rendering choices.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RenderConfig {
    /// Clear to transparent instead of the room colour (AR compositing).
    pub transparent: bool,
}

/// The part of a persona file the renderer needs: which avatar and how tall.
/// The persona crate reads the rest of the same file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PersonaLook {
    /// Display name.
    pub name: String,
    /// The avatar.
    pub avatar: AvatarSpec,
}

/// Which VRM and how tall it stands.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvatarSpec {
    /// Path of a VRM 1.0 file, relative to the asset root unless absolute.
    pub path: PathBuf,
    /// Standing height in metres.
    pub height: f32,
    /// The outfit to wear (an avatar's `outfit_<name>` expression); none: the file as it stands.
    #[serde(default)]
    pub outfit: Option<String>,
}

/// Parses TOML into `T`, turning serde's byte span into a line and column.
pub fn parse_toml<T: for<'de> Deserialize<'de>>(text: &str, path: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        let message = match field_at(text, line) {
            Some(field) if !e.message().contains(&field) => format!("{field}: {}", e.message().trim()),
            _ => e.message().trim().to_string(),
        };
        ConfigError { path: path.into(), line, column, message }
    })
}

/// The dotted name of the key set on 1-based `line` (`placement.right`), if that line sets one.
pub fn field_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let key = lines.get(line.checked_sub(1)?)?.split_once('=')?.0.trim();
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    let section = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match section {
        Some(s) if !s.is_empty() => format!("{s}.{key}"),
        _ => key.to_string(),
    })
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Reads a file, or the embedded default when `path` is `None`.
pub fn load_toml<T: for<'de> Deserialize<'de>>(
    path: Option<&Path>,
    default: &str,
    name: &str,
) -> Result<T, ConfigError> {
    match path {
        None => parse_toml(default, &format!("<built-in {name}>")),
        Some(p) => parse_toml(&read_text(p)?, &p.display().to_string()),
    }
}

/// A file's text, or an error naming the file (no line: it could not be read at all).
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        path: path.display().to_string(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    })
}

/// Reads the app config (a file, or the built-in default when `path` is `None`) and checks
/// every number a type cannot check: a value that would panic or silently mislead (`inf`,
/// `nan`, a negative eye height, a zero timeout) is an error naming the file, line and field.
pub fn load_app_config(path: Option<&Path>) -> Result<AppConfig, ConfigError> {
    let text = match path {
        None => DEFAULT_APP_TOML.to_string(),
        Some(p) => std::fs::read_to_string(p).map_err(|e| ConfigError {
            path: p.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?,
    };
    let name = path.map_or_else(|| "<built-in configs/tomoni.toml>".to_string(), |p| p.display().to_string());
    let cfg: AppConfig = parse_toml(&text, &name)?;
    cfg.validate(&text, &name)?;
    Ok(cfg)
}

impl AppConfig {
    /// Checks ranges (see [`load_app_config`]); `text` locates the offending key.
    pub fn validate(&self, text: &str, path: &str) -> Result<(), ConfigError> {
        let fail = |section: &str, key: &str, message: String| {
            let (line, column) = locate(text, section, key);
            Err(ConfigError { path: path.into(), line, column, message: format!("{section}.{key}: {message}") })
        };
        let within = |v: f32, lo: f32, hi: f32| v.is_finite() && (lo..=hi).contains(&v);
        for (key, v) in [("right", self.placement.right), ("forward", self.placement.forward)] {
            if !within(v, -10.0, 10.0) {
                return fail("placement", key, format!("{v} m: expected a distance within 10 m of the viewer"));
            }
        }
        let eye = self.viewer.eye_height;
        if !within(eye, 0.5, 2.5) {
            return fail("viewer", "eye_height", format!("{eye} m is not a plausible eye height (0.5..2.5)"));
        }
        for (key, v) in [
            ("first_token_timeout", self.llm.first_token_timeout),
            ("idle_timeout", self.llm.idle_timeout),
            ("turn_timeout", self.llm.turn_timeout),
        ] {
            if !within(v, 0.1, 3600.0) {
                return fail("llm", key, format!("{v}: expected seconds in 0.1..3600"));
            }
        }
        if let Err(m) = self.wellbeing.break_minutes() {
            let key = if m.starts_with("wellbeing.mode") { "mode" } else { "break_reminder_minutes" };
            let (line, column) = locate(text, "wellbeing", key);
            return Err(ConfigError { path: path.into(), line, column, message: m });
        }
        let gap = self.wellbeing.gap_minutes;
        if !within(gap, 1.0, 7.0 * 24.0 * 60.0) {
            return fail("wellbeing", "gap_minutes", format!("{gap}: expected minutes in 1..10080"));
        }
        let l = &self.listen;
        if !within(l.threshold, 0.05, 0.99) {
            return fail("listen", "threshold", format!("{}: expected a probability in 0.05..0.99", l.threshold));
        }
        for (key, v, lo, hi) in [
            ("min_speech_ms", l.min_speech_ms, 0, 5000),
            ("end_silence_ms", l.end_silence_ms, 100, 5000),
            ("pad_ms", l.pad_ms, 0, 1000),
        ] {
            if !(lo..=hi).contains(&v) {
                return fail("listen", key, format!("{v}: expected milliseconds in {lo}..{hi}"));
            }
        }
        match l.engine.as_str() {
            "local" => {}
            "openai" if !l.endpoint.is_empty() => {}
            "openai" => return fail("listen", "endpoint", "engine \"openai\" needs an endpoint (…/v1)".into()),
            other => return fail("listen", "engine", format!("\"{other}\": expected \"local\" or \"openai\"")),
        }
        Ok(())
    }
}

/// Line and column of `key =` inside `[section]` (0, 0 when absent, e.g. a built-in default).
fn locate(text: &str, section: &str, key: &str) -> (usize, usize) {
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with('[') {
            inside = t.trim_start_matches('[').trim_end().trim_end_matches(']').trim() == section;
            continue;
        }
        if inside && t.starts_with(key) && t[key.len()..].trim_start().starts_with('=') {
            return (i + 1, line.len() - t.len() + 1);
        }
    }
    (0, 0)
}

/// Validates a persona look beyond what types can say.
pub fn check_look(look: &PersonaLook, path: &str) -> Result<(), ConfigError> {
    let h = look.avatar.height;
    if !(0.3..=3.0).contains(&h) {
        return Err(ConfigError {
            path: path.into(),
            line: 0,
            column: 0,
            message: format!("avatar.height = {h} m is not a plausible standing height (0.3..3.0)"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_parse() {
        let app: AppConfig = parse_toml(DEFAULT_APP_TOML, "tomoni.toml").unwrap();
        assert_eq!(app, AppConfig::default());
        let look: PersonaLook = parse_toml(DEFAULT_PERSONA_TOML, "default.toml").unwrap();
        assert_eq!(look.avatar.height, 1.70);
        check_look(&look, "default.toml").unwrap();
    }

    #[test]
    fn unknown_key_is_named_with_line_and_column() {
        let text = "persona = \"x\"\n[placement]\nrigth = 0.5\n";
        let err = parse_toml::<AppConfig>(text, "my.toml").unwrap_err();
        assert_eq!((err.path.as_str(), err.line, err.column), ("my.toml", 3, 1));
        assert!(err.message.contains("rigth"), "{}", err.message);
        assert!(err.to_string().starts_with("my.toml:3:1: "));
    }

    #[test]
    fn wrong_type_names_the_place() {
        let err = parse_toml::<AppConfig>("[viewer]\neye_height = \"tall\"\n", "a.toml").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.starts_with("viewer.eye_height: "), "the field is named: {}", err.message);
        assert!(err.message.contains("float") || err.message.contains("f32"), "{}", err.message);
    }

    #[test]
    fn implausible_height_is_refused() {
        let look: PersonaLook = parse_toml("name='x'\n[avatar]\npath='a.vrm'\nheight=17.0\n", "p.toml").unwrap();
        let err = check_look(&look, "p.toml").unwrap_err();
        assert!(err.message.contains("avatar.height"));
    }

    #[test]
    fn break_reminders_default_by_mode_and_refuse_nonsense() {
        let w = |t: &str| parse_toml::<AppConfig>(t, "w.toml").unwrap().wellbeing.break_minutes();
        assert_eq!(w(""), Ok(None));
        assert_eq!(w("[wellbeing]\nmode = \"minors\"\n"), Ok(Some(180.0)));
        assert_eq!(w("[wellbeing]\nbreak_reminder_minutes = 90\n"), Ok(Some(90.0)));
        assert!(w("[wellbeing]\nmode = \"minors\"\nbreak_reminder_minutes = 0\n").is_err());
        assert!(w("[wellbeing]\nmode = \"minors\"\nbreak_reminder_minutes = 240\n").is_err());
        assert!(w("[wellbeing]\nbreak_reminder_minutes = nan\n").is_err());
        assert!(w("[wellbeing]\nmode = \"kids\"\n").unwrap_err().contains("wellbeing.mode"));
    }

    #[test]
    fn numbers_that_would_panic_or_mislead_are_refused_with_their_place() {
        let check = |t: &str| {
            let cfg: AppConfig = parse_toml(t, "v.toml").unwrap();
            cfg.validate(t, "v.toml")
        };
        for (text, field, line) in [
            ("[placement]\nright = inf\n", "placement.right", 2),
            ("[placement]\nforward = nan\n", "placement.forward", 2),
            ("[viewer]\neye_height = 1e30\n", "viewer.eye_height", 2),
            ("[viewer]\neye_height = -1.6\n", "viewer.eye_height", 2),
            ("[llm]\nmodel = \"m\"\nfirst_token_timeout = 1e30\n", "llm.first_token_timeout", 3),
            ("[llm]\nidle_timeout = nan\n", "llm.idle_timeout", 2),
            ("[llm]\nidle_timeout = 0\n", "llm.idle_timeout", 2),
            ("[llm]\nfirst_token_timeout = -1\n", "llm.first_token_timeout", 2),
            ("[wellbeing]\ngap_minutes = inf\n", "wellbeing.gap_minutes", 2),
            ("[listen]\nthreshold = 1.5\n", "listen.threshold", 2),
            ("[listen]\nlanguage = \"en\"\nend_silence_ms = 20\n", "listen.end_silence_ms", 3),
            ("[listen]\npad_ms = 5000\n", "listen.pad_ms", 2),
            ("[listen]\nengine = \"vosk\"\n", "listen.engine", 2),
            ("[listen]\nengine = \"openai\"\n", "listen.endpoint", 0),
        ] {
            let e = check(text).unwrap_err();
            assert!(e.message.starts_with(field), "{text}: {e}");
            assert_eq!((e.path.as_str(), e.line), ("v.toml", line), "{text}: {e}");
        }
        check(DEFAULT_APP_TOML).unwrap();
        check("[viewer]\neye_height = 1.45\n[llm]\nfirst_token_timeout = 0.5\n").unwrap();
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let err = load_toml::<AppConfig>(Some(Path::new("/nonexistent/t.toml")), "", "x").unwrap_err();
        assert_eq!(err.path, "/nonexistent/t.toml");
        assert!(err.message.contains("cannot read"));
        assert!(err.to_string().starts_with("/nonexistent/t.toml: cannot read"), "no :0:0 place: {err}");
    }
}
