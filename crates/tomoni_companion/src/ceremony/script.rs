//! Ceremony scripts (`configs/ceremonies/*.toml`): parsed and checked before anything runs, so
//! a bad script never starts. Every error names the file, line, column and field.
//!
//! A script is a `[ceremony]` header and a list of `[[step]]` tables. Each step has a `name`
//! and a `kind`; the other fields depend on the kind (see `docs/ceremony.md`). Steps are flat
//! tables rather than a tagged enum so that every field keeps its place in the file for errors.

use std::path::{Path, PathBuf};
use toml::Spanned;
use tomoni_core::behaviour::Gesture;
use tomoni_core::config::{ConfigError, line_col, parse_toml};
use tomoni_persona::tags::{self, Tagged};

/// A checked ceremony script.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// Where it was read from (named in errors and the timeline).
    pub path: PathBuf,
    /// The ceremony's title (shown on the operator page and the panel).
    pub title: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl Script {
    /// Every `outfit` step names one of the avatar's `outfits` (known only once the avatar is:
    /// the script is checked before). The error names the file, the step's line and the step.
    pub fn check_outfits(&self, outfits: &[String], avatar: &Path) -> Result<(), String> {
        for s in &self.steps {
            if let Action::Outfit { name } = &s.action
                && !outfits.contains(name)
            {
                return Err(format!(
                    "{}:{}: step {:?}: outfit {name:?}: {} has {}",
                    self.path.display(),
                    s.line,
                    s.name,
                    avatar.display(),
                    tomoni_avatar::outfit::listed(outfits)
                ));
            }
        }
        Ok(())
    }
}

/// One step of a ceremony.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Its name (unique in the script; shown to the operator).
    pub name: String,
    /// What happens.
    pub action: Action,
    /// 1-based line of the step's `name` (errors while running point here).
    pub line: usize,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The companion speaks a fixed line.
    Say {
        /// The line, with expression and gesture tags.
        text: String,
    },
    /// The companion's vows.
    Vows {
        /// The reviewed wording (written by `tomoni ceremony prepare` or by hand); `None` until
        /// prepared, and then the script cannot run.
        text: Option<String>,
        /// What the model is asked to write.
        prompt: Option<String>,
    },
    /// A gesture.
    Gesture {
        /// Built in, or a clip in `assets/animations/`.
        name: String,
    },
    /// An expression.
    Expression {
        /// Which.
        emotion: tags::Emotion,
        /// How strongly, 0..1.
        intensity: f32,
    },
    /// Music from `assets/`.
    Music {
        /// The file (checked and decoded before the ceremony starts).
        file: PathBuf,
        /// Fade-in, seconds.
        fade_in: f32,
        /// Fade-out at the end, seconds.
        fade_out: f32,
        /// Play this long (default: to the end of the file).
        seconds: Option<f32>,
        /// The step lasts as long as the music; otherwise the next step starts at once.
        wait: bool,
    },
    /// The companion changes into an outfit (the avatar's `outfit_<name>` expression: the
    /// shipped avatars have `suit` and `everyday`).
    Outfit {
        /// Which.
        name: String,
    },
    /// Fades out whatever music plays.
    MusicStop {
        /// Fade-out, seconds.
        fade_out: f32,
    },
    /// The companion offers its hand with the ring (a prop on the right hand bone).
    Ring {
        /// How long the hand is held out.
        seconds: f32,
    },
    /// A picture of the moment.
    Photo,
    /// A wait.
    Pause {
        /// Seconds, or until the operator says next when `None`.
        seconds: Option<f32>,
    },
    /// Waits for the person's words (e.g. "I do", their vows): with ears, it ends once they
    /// have spoken and then been quiet for `quiet` seconds; the operator's next always ends it.
    Listen {
        /// What the person is invited to say (shown to the operator).
        prompt: Option<String>,
        /// Bounds the wait in an automatic run.
        seconds: Option<f32>,
        /// Silence after their words that ends the step (vows have pauses between sentences).
        quiet: f32,
    },
}

impl Action {
    /// The kind's name, as written in scripts.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Say { .. } => "say",
            Action::Vows { .. } => "vows",
            Action::Gesture { .. } => "gesture",
            Action::Expression { .. } => "expression",
            Action::Music { .. } | Action::MusicStop { .. } => "music",
            Action::Ring { .. } => "ring",
            Action::Photo => "photo",
            Action::Outfit { .. } => "outfit",
            Action::Pause { .. } => "pause",
            Action::Listen { .. } => "listen",
        }
    }
}

/// Kinds and the fields each takes (besides `name` and `kind`).
const KINDS: [(&str, &[&str]); 10] = [
    ("say", &["text"]),
    ("vows", &["text", "prompt"]),
    ("gesture", &["gesture"]),
    ("expression", &["expression", "intensity"]),
    ("music", &["file", "fade_in", "fade_out", "seconds", "wait", "stop"]),
    ("ring", &["seconds"]),
    ("photo", &[]),
    ("pause", &["seconds"]),
    ("listen", &["prompt", "seconds", "quiet"]),
    ("outfit", &["outfit"]),
];

/// Silence after the person's words that ends a `listen` step, seconds: longer than the pause
/// between two sentences of vows, short enough not to leave the room waiting.
pub const DEFAULT_QUIET: f32 = 2.5;

/// Longest time any step may name, seconds (a typo of `6000` for `60` must not hang a
/// ceremony for hours).
const MAX_SECONDS: f32 = 3600.0;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    ceremony: RawHeader,
    #[serde(default)]
    step: Vec<RawStep>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    title: String,
    #[serde(default)]
    #[expect(dead_code, reason = "read by people; allowed so scripts can say what they are for")]
    description: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Spanned<String>,
    kind: Spanned<String>,
    text: Option<Spanned<String>>,
    prompt: Option<Spanned<String>>,
    gesture: Option<Spanned<String>>,
    expression: Option<Spanned<String>>,
    intensity: Option<Spanned<f32>>,
    file: Option<Spanned<String>>,
    fade_in: Option<Spanned<f32>>,
    fade_out: Option<Spanned<f32>>,
    seconds: Option<Spanned<f32>>,
    quiet: Option<Spanned<f32>>,
    wait: Option<Spanned<bool>>,
    stop: Option<Spanned<bool>>,
    outfit: Option<Spanned<String>>,
}

impl RawStep {
    /// The fields set, with where each starts.
    fn present(&self) -> Vec<(&'static str, usize)> {
        let mut v = Vec::new();
        let mut add = |name: &'static str, span: Option<std::ops::Range<usize>>| {
            if let Some(s) = span {
                v.push((name, s.start));
            }
        };
        add("text", self.text.as_ref().map(Spanned::span));
        add("prompt", self.prompt.as_ref().map(Spanned::span));
        add("gesture", self.gesture.as_ref().map(Spanned::span));
        add("expression", self.expression.as_ref().map(Spanned::span));
        add("intensity", self.intensity.as_ref().map(Spanned::span));
        add("file", self.file.as_ref().map(Spanned::span));
        add("fade_in", self.fade_in.as_ref().map(Spanned::span));
        add("fade_out", self.fade_out.as_ref().map(Spanned::span));
        add("seconds", self.seconds.as_ref().map(Spanned::span));
        add("quiet", self.quiet.as_ref().map(Spanned::span));
        add("wait", self.wait.as_ref().map(Spanned::span));
        add("stop", self.stop.as_ref().map(Spanned::span));
        add("outfit", self.outfit.as_ref().map(Spanned::span));
        v
    }
}

/// Reads and checks a script; `assets` is where music files and animation clips are looked up.
pub fn load(path: &Path, assets: &Path) -> Result<Script, ConfigError> {
    parse(&tomoni_core::config::read_text(path)?, path, assets)
}

/// Checks a script's text (named `path` in errors).
pub fn parse(text: &str, path: &Path, assets: &Path) -> Result<Script, ConfigError> {
    let name = path.display().to_string();
    let raw: RawScript = parse_toml(text, &name)?;
    let at = |offset: usize, message: String| {
        let (line, column) = line_col(text, offset);
        ConfigError { path: name.clone(), line, column, message }
    };
    if raw.step.is_empty() {
        return Err(ConfigError {
            path: name.clone(),
            line: 1,
            column: 1,
            message: "a ceremony needs at least one [[step]]".into(),
        });
    }
    let mut steps: Vec<Step> = Vec::with_capacity(raw.step.len());
    for (i, s) in raw.step.iter().enumerate() {
        let step_name = s.name.get_ref().trim().to_string();
        let n = i + 1;
        if step_name.is_empty() {
            return Err(at(s.name.span().start, format!("step {n}: `name` is empty")));
        }
        if steps.iter().any(|p| p.name == step_name) {
            return Err(at(s.name.span().start, format!("step {n}: another step is already called {step_name:?}")));
        }
        let kind = s.kind.get_ref().as_str();
        let Some((_, allowed)) = KINDS.iter().find(|(k, _)| *k == kind) else {
            let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
            return Err(at(
                s.kind.span().start,
                format!("step {step_name:?}: kind: unknown step kind {kind:?} (one of {})", kinds.join(", ")),
            ));
        };
        for (field, offset) in s.present() {
            if !allowed.contains(&field) {
                let takes = if allowed.is_empty() { "nothing else".to_string() } else { allowed.join(", ") };
                return Err(at(
                    offset,
                    format!("step {step_name:?}: {field}: a `{kind}` step does not take it (it takes {takes})"),
                ));
            }
        }
        let missing = |field: &str| {
            at(s.kind.span().start, format!("step {step_name:?}: missing field `{field}` (a `{kind}` step needs it)"))
        };
        let seconds = |v: &Option<Spanned<f32>>, field: &str, min: f32| -> Result<Option<f32>, ConfigError> {
            match v {
                None => Ok(None),
                Some(x) if x.get_ref().is_finite() && (min..=MAX_SECONDS).contains(x.get_ref()) => {
                    Ok(Some(*x.get_ref()))
                }
                Some(x) => Err(at(
                    x.span().start,
                    format!("step {step_name:?}: {field}: {} is outside {min}..{MAX_SECONDS} seconds", x.get_ref()),
                )),
            }
        };
        let line_text = |v: &Spanned<String>, field: &str| -> Result<String, ConfigError> {
            check_tags(text, v, assets)
                .map_err(|(offset, why)| at(offset, format!("step {step_name:?}: {field}: {why}")))?;
            if tags_removed(v.get_ref()).trim().is_empty() {
                return Err(at(v.span().start, format!("step {step_name:?}: {field}: nothing to say")));
            }
            Ok(v.get_ref().clone())
        };
        let action = match kind {
            "say" => Action::Say { text: line_text(s.text.as_ref().ok_or_else(|| missing("text"))?, "text")? },
            "vows" => {
                if s.text.is_none() && s.prompt.is_none() {
                    return Err(at(
                        s.kind.span().start,
                        format!(
                            "step {step_name:?}: a `vows` step needs `prompt` (for `tomoni ceremony prepare`) or `text`"
                        ),
                    ));
                }
                let text = s.text.as_ref().map(|t| line_text(t, "text")).transpose()?;
                let prompt = s.prompt.as_ref().map(|p| p.get_ref().trim().to_string()).filter(|p| !p.is_empty());
                Action::Vows { text, prompt }
            }
            "gesture" => {
                let g = s.gesture.as_ref().ok_or_else(|| missing("gesture"))?;
                check_gesture(g.get_ref(), assets)
                    .map_err(|why| at(g.span().start, format!("step {step_name:?}: gesture: {why}")))?;
                Action::Gesture { name: g.get_ref().clone() }
            }
            "expression" => {
                let e = s.expression.as_ref().ok_or_else(|| missing("expression"))?;
                let emotion = tags::Emotion::parse(e.get_ref()).ok_or_else(|| {
                    at(
                        e.span().start,
                        format!(
                            "step {step_name:?}: expression: unknown expression {:?} (happy, sad, angry, relaxed, surprised, neutral)",
                            e.get_ref()
                        ),
                    )
                })?;
                let intensity = match &s.intensity {
                    None => 0.8,
                    Some(i) if (0.0..=1.0).contains(i.get_ref()) => *i.get_ref(),
                    Some(i) => {
                        return Err(at(
                            i.span().start,
                            format!("step {step_name:?}: intensity: {} is outside 0..1", i.get_ref()),
                        ));
                    }
                };
                Action::Expression { emotion, intensity }
            }
            "music" => {
                let fade_out = seconds(&s.fade_out, "fade_out", 0.0)?.unwrap_or(2.0);
                if s.stop.as_ref().is_some_and(|b| *b.get_ref()) {
                    if let Some(f) = &s.file {
                        return Err(at(
                            f.span().start,
                            format!("step {step_name:?}: file: a music step with `stop = true` plays nothing"),
                        ));
                    }
                    Action::MusicStop { fade_out }
                } else {
                    let f = s.file.as_ref().ok_or_else(|| missing("file"))?;
                    let file = assets.join(f.get_ref());
                    check_audio(&file).map_err(|why| at(f.span().start, format!("step {step_name:?}: file: {why}")))?;
                    Action::Music {
                        file,
                        fade_in: seconds(&s.fade_in, "fade_in", 0.0)?.unwrap_or(1.0),
                        fade_out,
                        seconds: seconds(&s.seconds, "seconds", 0.1)?,
                        wait: s.wait.as_ref().is_none_or(|w| *w.get_ref()),
                    }
                }
            }
            "ring" => Action::Ring { seconds: seconds(&s.seconds, "seconds", 0.5)?.unwrap_or(4.0) },
            "photo" => Action::Photo,
            "outfit" => Action::Outfit { name: s.outfit.as_ref().ok_or_else(|| missing("outfit"))?.get_ref().clone() },
            "pause" => Action::Pause { seconds: seconds(&s.seconds, "seconds", 0.0)? },
            "listen" => Action::Listen {
                prompt: s.prompt.as_ref().map(|p| p.get_ref().clone()),
                seconds: seconds(&s.seconds, "seconds", 0.1)?,
                quiet: seconds(&s.quiet, "quiet", 0.0)?.unwrap_or(DEFAULT_QUIET),
            },
            _ => unreachable!("kinds are checked above"),
        };
        steps.push(Step { name: step_name, action, line: line_col(text, s.name.span().start).0 });
    }
    Ok(Script { path: path.to_path_buf(), title: raw.ceremony.title, steps })
}

impl Script {
    /// The first vows step that has no reviewed text yet, if any: such a script is valid but
    /// cannot run (nothing unreviewed is said on the day).
    pub fn unprepared(&self) -> Option<&Step> {
        self.steps.iter().find(|s| matches!(s.action, Action::Vows { text: None, .. }))
    }
}

/// The words of `text` without its tags.
fn tags_removed(text: &str) -> String {
    let mut out = Vec::new();
    let mut p = tags::TagParser::default();
    p.feed(text, &mut out);
    p.finish(&mut out);
    out.into_iter()
        .filter_map(|t| match t {
            Tagged::Text(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// Every tag in a line is part of the protocol (a scripted line is reviewed: an unknown tag is
/// a mistake, not model noise to drop). On error: the tag's byte offset in the file and why.
fn check_tags(source: &str, v: &Spanned<String>, assets: &Path) -> Result<(), (usize, String)> {
    let mut out = Vec::new();
    let mut p = tags::TagParser::default();
    p.feed(v.get_ref(), &mut out);
    p.finish(&mut out);
    // Where a tag is written: search the value's source text (quotes and escapes included).
    let span = v.span();
    let raw = &source[span.clone()];
    let offset_of = |needle: &str| raw.find(needle).map_or(span.start, |i| span.start + i);
    for t in out {
        match t {
            Tagged::Unknown(tag) => {
                return Err((
                    offset_of(&format!("[{tag}")),
                    format!("unknown tag [{tag}] (see docs/expression-protocol.md)"),
                ));
            }
            Tagged::Gesture(g) => {
                check_gesture(&g, assets).map_err(|why| (offset_of(&g), format!("[gesture:{g}]: {why}")))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A built-in gesture, or a clip at `assets/animations/NAME.vrma`.
fn check_gesture(name: &str, assets: &Path) -> Result<(), String> {
    if Gesture::parse(name).is_some() {
        return Ok(());
    }
    let clip = assets.join("animations").join(format!("{name}.vrma"));
    if clip.is_file() {
        Ok(())
    } else {
        Err(format!(
            "unknown gesture {name:?}: not built in ({}) and no clip at {}",
            tags::GESTURES.join(", "),
            clip.display()
        ))
    }
}

/// An audio file that exists and decodes (read in full: a truncated file is caught here, not
/// in the middle of the ceremony).
fn check_audio(file: &Path) -> Result<(), String> {
    if !file.is_file() {
        return Err(format!("no audio file at {}", file.display()));
    }
    crate::music::decode(file).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assets() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets")
    }

    fn check(text: &str) -> Result<Script, ConfigError> {
        parse(text, Path::new("t.toml"), &assets())
    }

    const HEAD: &str = "[ceremony]\ntitle = \"T\"\n\n";

    #[test]
    fn a_good_script_has_its_steps() {
        let s = check(&format!(
            "{HEAD}[[step]]\nname = \"Welcome\"\nkind = \"say\"\ntext = \"[happy] Welcome. [gesture:bow]\"\n\n\
             [[step]]\nname = \"Wait\"\nkind = \"pause\"\n\n[[step]]\nname = \"Vows\"\nkind = \"vows\"\nprompt = \"Write vows.\"\n"
        ))
        .unwrap();
        assert_eq!(s.steps.len(), 3);
        assert_eq!(s.steps[0].line, 5);
        assert_eq!(s.steps[1].action, Action::Pause { seconds: None });
        assert_eq!(s.unprepared().map(|s| s.name.as_str()), Some("Vows"));
    }

    #[test]
    fn an_unknown_kind_is_named_where_it_is() {
        let e = check(&format!("{HEAD}[[step]]\nname = \"A\"\nkind = \"dance\"\n")).unwrap_err();
        assert_eq!((e.line, e.column), (6, 8), "{e}");
        assert!(e.message.contains("kind") && e.message.contains("\"dance\""), "{e}");
    }

    #[test]
    fn a_missing_field_is_named() {
        let e = check(&format!("{HEAD}[[step]]\nname = \"A\"\nkind = \"say\"\n")).unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(e.message.contains("missing field `text`"), "{e}");
        // And serde's own missing fields (no `kind`) name it too.
        let e = check(&format!("{HEAD}[[step]]\nname = \"A\"\n")).unwrap_err();
        assert!(e.message.contains("kind"), "{e}");
    }

    #[test]
    fn a_field_of_another_kind_is_refused() {
        let e = check(&format!("{HEAD}[[step]]\nname = \"A\"\nkind = \"say\"\ntext = \"Hi.\"\nfile = \"x.wav\"\n"))
            .unwrap_err();
        assert_eq!((e.line, e.column), (8, 8), "{e}");
        assert!(e.message.contains("file: a `say` step does not take it"), "{e}");
    }

    #[test]
    fn a_missing_audio_file_is_named() {
        let e =
            check(&format!("{HEAD}[[step]]\nname = \"M\"\nkind = \"music\"\nfile = \"music/nope.wav\"\n")).unwrap_err();
        assert_eq!((e.line, e.column), (7, 8), "{e}");
        assert!(e.message.contains("no audio file at") && e.message.contains("nope.wav"), "{e}");
    }

    #[test]
    fn a_bad_tag_is_pointed_at() {
        let e = check(&format!("{HEAD}[[step]]\nname = \"A\"\nkind = \"say\"\ntext = \"Hello [dance] all.\"\n"))
            .unwrap_err();
        // Column of `[dance` inside the quoted value.
        assert_eq!((e.line, e.column), (7, 15), "{e}");
        assert!(e.message.contains("unknown tag [dance]"), "{e}");
        let e = check(&format!("{HEAD}[[step]]\nname = \"A\"\nkind = \"say\"\ntext = \"Hi [gesture:moonwalk]\"\n"))
            .unwrap_err();
        assert!(e.message.contains("unknown gesture \"moonwalk\""), "{e}");
    }

    #[test]
    fn numbers_out_of_range_and_duplicate_names_are_refused() {
        let e = check(&format!("{HEAD}[[step]]\nname = \"P\"\nkind = \"pause\"\nseconds = inf\n")).unwrap_err();
        assert!(e.message.contains("seconds: inf is outside"), "{e}");
        let e = check(&format!(
            "{HEAD}[[step]]\nname = \"P\"\nkind = \"photo\"\n\n[[step]]\nname = \"P\"\nkind = \"photo\"\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, 9, "{e}");
        assert!(e.message.contains("already called \"P\""), "{e}");
        let e = check(HEAD).unwrap_err();
        assert!(e.message.contains("at least one [[step]]"), "{e}");
    }

    #[test]
    fn the_shipped_scripts_are_valid_and_prepared() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/ceremonies");
        for name in ["wedding.toml", "anniversary.toml"] {
            let s = load(&dir.join(name), &assets()).unwrap_or_else(|e| panic!("{e}"));
            assert!(s.unprepared().is_none(), "{name} runs offline out of the box");
        }
    }
}
