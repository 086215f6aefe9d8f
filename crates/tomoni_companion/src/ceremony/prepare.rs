//! `tomoni ceremony prepare`: the persona's model writes its vows *ahead of time*, from the
//! script's prompt and its memories, into a reviewed copy of the script. Nothing unreviewed is
//! said on the day, and the ceremony itself needs no network.

use crate::error::Failure;
use crate::session::{Brain, ChatArgs, Session};
use std::path::{Path, PathBuf};
use tomoni_persona::client::DialogueEvent;

/// What the model is asked, after the script's own prompt.
const HOW: &str = "Write them as you will say them aloud at the ceremony, in your own voice, \
    in 60 to 160 words, without a title, stage directions or quotation marks. You may add one or \
    two expression tags such as [happy] or [gesture:hand_on_heart].";

/// Asks the model for every `vows` step with a prompt, writes the copy to `out` (default: beside
/// the script, `NAME.prepared.toml`) and returns its path and the texts, for the person to
/// review.
pub fn prepare(
    file: &Path,
    out: Option<&Path>,
    assets: &Path,
    args: &ChatArgs,
) -> Result<(PathBuf, Vec<(String, String)>), Failure> {
    let script = super::script::load(file, assets).map_err(|e| Failure::Input(e.to_string()))?;
    let resolved = args.resolve()?;
    let (mut session, label) = Session::open(&resolved.config, resolved.persona, args)?;
    if matches!(session_brain(&session), BrainKind::Offline) {
        return Err(Failure::Runtime(format!(
            "no language model answers ({label}): set one in [llm] or with --endpoint, or write the vows as `text` in {} yourself",
            file.display()
        )));
    }
    let source = std::fs::read_to_string(file).map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
    let mut doc: toml_edit::DocumentMut =
        source.parse().map_err(|e| Failure::Input(format!("{}: {e}", file.display())))?;
    let mut written = Vec::new();
    for (i, step) in script.steps.iter().enumerate() {
        let super::script::Action::Vows { prompt: Some(prompt), .. } = &step.action else { continue };
        let text = ask(&mut session, &format!("{prompt}\n\n{HOW}"))
            .map_err(|e| Failure::Runtime(format!("{}: step {:?}: {e}", file.display(), step.name)))?;
        let table = doc["step"]
            .as_array_of_tables_mut()
            .and_then(|a| a.get_mut(i))
            .ok_or_else(|| Failure::Runtime(format!("{}: step {} not found again", file.display(), i + 1)))?;
        table["text"] = toml_edit::value(text.clone());
        table.decor_mut().set_prefix(format!(
            "\n# Vows written by the persona's model with `tomoni ceremony prepare` ({label}).\n# Review them: they are said exactly as written.\n"
        ));
        written.push((step.name.clone(), text));
    }
    if written.is_empty() {
        return Err(Failure::Input(format!("{}: no `vows` step has a `prompt` to prepare", file.display())));
    }
    let out = out.map(Path::to_path_buf).unwrap_or_else(|| {
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("ceremony");
        file.with_file_name(format!("{stem}.prepared.toml"))
    });
    tomoni_persona::private::write(&out, doc.to_string())
        .map_err(|e| Failure::Runtime(format!("{}: {e}", out.display())))?;
    // The copy must itself be a valid, runnable script.
    let again = super::script::load(&out, assets)
        .map_err(|e| Failure::Runtime(format!("the prepared copy is invalid: {e}")))?;
    if let Some(s) = again.unprepared() {
        return Err(Failure::Runtime(format!("{}: step {:?} is still unprepared", out.display(), s.name)));
    }
    Ok((out, written))
}

enum BrainKind {
    Llm,
    Offline,
}

fn session_brain(s: &Session) -> BrainKind {
    match s.brain() {
        Brain::Llm(_) => BrainKind::Llm,
        Brain::Offline => BrainKind::Offline,
    }
}

/// One turn to the model, its reply rebuilt as a scripted line (clauses with their tags).
fn ask(session: &mut Session, prompt: &str) -> Result<String, String> {
    let mut turn = session.send(prompt).map_err(|e| e.to_string())?;
    let mut text = String::new();
    let mut push = |s: &str| {
        if !text.is_empty() && !text.ends_with(' ') {
            text.push(' ');
        }
        text.push_str(s);
    };
    while let Some(ev) = turn.blocking_next() {
        match ev {
            DialogueEvent::Clause(c) => push(c.trim()),
            DialogueEvent::Emotion(e, _) => push(&format!("[{}]", e.vrm_name())),
            DialogueEvent::Gesture(g) => push(&format!("[gesture:{g}]")),
            DialogueEvent::Error(e) => return Err(format!("the model's reply broke off: {}", e.message)),
            DialogueEvent::End(end) if end.status != tomoni_persona::client::TurnStatus::Complete => {
                return Err("the model's reply was cut short".into());
            }
            _ => {}
        }
    }
    // Trailing tags say nothing; a reply with no words is no vow.
    let words: String = text.split_whitespace().filter(|w| !w.starts_with('[')).collect();
    if words.is_empty() {
        return Err("the model wrote nothing".into());
    }
    Ok(text)
}
