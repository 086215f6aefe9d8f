//! Guilt, jealousy and "don't leave me" have no place in anything tomoni ships: the default
//! persona, its fallback line, the offline demo's lines and the personas the importers draft.

use tomoni_persona::client::DialogueEvent;
use tomoni_persona::persona::Persona;

#[test]
fn shipped_words_use_no_engagement_tricks() {
    let tricks = [
        "don't leave",
        "do not leave",
        "don't go",
        "miss me",
        "lonely without",
        "jealous",
        "you owe",
        "after all i",
        "only i understand",
        "only one who",
        "stay with me",
        "need you to stay",
        "abandon",
    ];
    let mut shipped = vec![Persona::default_persona().to_toml(), Persona::default_persona().fallback_line];
    shipped.extend((0..5).flat_map(tomoni_persona::offline::reply).filter_map(|e| match e {
        DialogueEvent::Clause(c) => Some(c),
        _ => None,
    }));
    let export = tomoni_persona::chatgpt::ChatGptExport { conversations: vec![], custom_instructions: None };
    shipped.push(tomoni_persona::chatgpt::draft_persona(&export).to_toml());
    shipped.push(tomoni_persona::persona::SAFETY_RULES.replace("guilt, jealousy, flattery or pleas", ""));
    for text in shipped {
        let lower = text.to_lowercase();
        for t in tricks {
            assert!(!lower.contains(t), "{t:?} in {text}");
        }
    }
}
