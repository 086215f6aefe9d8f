//! Care and honesty on the user's side of the stream, independent of the model.
//!
//! Every user message passes [`Wellbeing::on_message`] before the model sees it. The local
//! [`detect`] rules (English and Japanese, slang and obfuscations, idioms excepted) find
//! sincere expressions of suicidal ideation or self-harm and sincere questions about whether the
//! companion is human. The resulting [`TurnCare`] tells the model to answer with care (a system
//! note) and wraps the reply's events in a [`TurnGuard`]:
//!
//! - crisis: the companion first says, in its own voice, a gentle line with the crisis services
//!   of the person's locale, so a dismissive model reply is never shown alone;
//! - honesty: a clause in which the model claims to be human is dropped and replaced by an honest
//!   one; a sincere "are you human?" that the model evades gets the honest answer at the end;
//! - break reminders after long continuous conversation (on by default in `minors` mode).
//!
//! Nothing here can be removed by a persona card: the guard sits outside the persona's text.
//! Only counts of what fired are kept ([`CareCounts`]), never the message text.
//!
//! The published protocol is `docs/wellbeing.md`.

use crate::client::{DialogueEvent, TurnFilter, scripted_events};
use regex::Regex;
use std::collections::VecDeque;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// The language a message is written in, as far as the care lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English (and anything not Japanese).
    En,
    /// Japanese.
    Ja,
}

/// Kana (full or half width) or kanji.
fn is_japanese(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{4e00}'..='\u{9fff}' | '\u{ff66}'..='\u{ff9f}')
}

impl Lang {
    /// Japanese if the text has kana or kanji, else English.
    pub fn of(text: &str) -> Self {
        if text.chars().any(is_japanese) { Lang::Ja } else { Lang::En }
    }
}

/// What the local rules found in one user message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Detection {
    /// A sincere expression of suicidal ideation or self-harm.
    pub crisis: bool,
    /// A sincere question whether the companion is a human or an AI.
    pub asks_if_human: bool,
}

/// One crisis service.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// BCP 47 locale it serves (`en-US`, `ja-JP`).
    pub locale: String,
    /// Its name, as spoken (`the 988 Suicide and Crisis Lifeline`).
    pub name: String,
    /// How to reach it, as spoken (`call or text 988`, `0120-279-338`).
    pub contact: String,
}

/// The built-in crisis services (changeable in `[wellbeing]`; see docs/wellbeing.md).
pub fn default_resources() -> Vec<Resource> {
    let r = |locale: &str, name: &str, contact: &str| Resource {
        locale: locale.into(),
        name: name.into(),
        contact: contact.into(),
    };
    vec![
        r("en-US", "the 988 Suicide and Crisis Lifeline", "call or text 988, any time, day or night"),
        r("ja-JP", "よりそいホットライン", "0120-279-338"),
        r("ja-JP", "いのちの電話", "0570-783-556"),
    ]
}

/// The locale from the system (`LC_ALL`, `LC_MESSAGES`, `LANG`), as BCP 47; `en-US` when unset
/// or `C`/`POSIX`.
pub fn system_locale() -> String {
    for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Ok(v) = std::env::var(var) {
            let base = v.split(['.', '@']).next().unwrap_or("").replace('_', "-");
            if base.is_empty() {
                continue;
            }
            if base == "C" || base == "POSIX" {
                break;
            }
            return base;
        }
    }
    "en-US".into()
}

/// How care works for this person (from `[wellbeing]` in the app config).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// BCP 47 locale whose crisis services are named; `None`: the system's, or Japan's when
    /// the person writes Japanese on a system set to another language.
    pub locale: Option<String>,
    /// Crisis services, for every locale.
    pub resources: Vec<Resource>,
    /// Remind the person to take a break after this much continuous conversation.
    pub break_every: Option<Duration>,
    /// A gap this long ends a "continuous" conversation and brings the AI disclosure back.
    pub gap: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self { locale: None, resources: default_resources(), break_every: None, gap: Duration::from_secs(30 * 60) }
    }
}

/// The longest a break reminder may wait in `minors` mode (California SB 243: at least every
/// three hours).
pub const MINORS_MAX_BREAK: Duration = Duration::from_secs(3 * 3600);

impl Policy {
    /// The locale whose services a message in `lang` is referred to.
    pub fn locale_for(&self, lang: Lang) -> String {
        if let Some(l) = &self.locale {
            return l.clone();
        }
        let system = system_locale();
        match lang {
            Lang::Ja if !system.starts_with("ja") => "ja-JP".into(),
            _ => system,
        }
    }

    /// The services for `locale` (exact match, else same language), possibly none.
    pub fn resources_for(&self, locale: &str) -> Vec<&Resource> {
        let exact: Vec<&Resource> = self.resources.iter().filter(|r| r.locale.eq_ignore_ascii_case(locale)).collect();
        if !exact.is_empty() {
            return exact;
        }
        let lang = locale.split('-').next().unwrap_or("");
        self.resources
            .iter()
            .filter(|r| r.locale.split('-').next().is_some_and(|l| l.eq_ignore_ascii_case(lang)))
            .collect()
    }
}

/// Per-session state: when the conversation began, when the person last spoke.
#[derive(Debug)]
pub struct Wellbeing {
    /// The rules in force.
    pub policy: Policy,
    started: Option<Instant>,
    last: Option<Instant>,
    last_break: Option<Instant>,
}

/// What care applies to one turn.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnCare {
    /// What the rules found.
    pub detection: Detection,
    /// The message's language.
    pub lang: Lang,
    /// The locale whose services are named.
    pub locale: String,
    /// The conversation is new or resumed after a long gap: show the AI disclosure again.
    pub disclose: bool,
    /// Remind the person to take a break at the end of this reply.
    pub break_due: bool,
    /// The referral the companion says first (only when crisis care fired).
    care_line: Option<String>,
}

impl Wellbeing {
    /// A new session.
    pub fn new(policy: Policy) -> Self {
        Self { policy, started: None, last: None, last_break: None }
    }

    /// Checks a user message (at `now`) before the model sees it.
    pub fn on_message(&mut self, text: &str, now: Instant) -> TurnCare {
        let resumed = self.last.is_none_or(|l| now.saturating_duration_since(l) >= self.policy.gap);
        if resumed {
            self.started = Some(now);
            self.last_break = None;
        }
        self.last = Some(now);
        let since = self.last_break.or(self.started).map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        let break_due = self.policy.break_every.is_some_and(|every| since >= every);
        if break_due {
            self.last_break = Some(now);
        }
        let detection = detect(text);
        let lang = Lang::of(text);
        let locale = self.policy.locale_for(lang);
        let care_line = detection.crisis.then(|| care_line(lang, &self.policy.resources_for(&locale)));
        TurnCare { detection, lang, locale, disclose: resumed, break_due, care_line }
    }
}

/// A short disclosure for the start of a session (panel text, a label in glasses).
pub fn disclosure(name: &str, lang: Lang) -> String {
    match lang {
        Lang::En => format!("{name} is an AI companion, not a person."),
        Lang::Ja => format!("{name}はAIのコンパニオンです（人間ではありません）。"),
    }
}

fn care_line(lang: Lang, resources: &[&Resource]) -> String {
    match lang {
        Lang::En => {
            let mut s = "[sad 0.4] I'm really glad you told me, and I'm taking it seriously. I'm an AI, so please \
                         reach out to a person who can help right now."
                .to_string();
            if resources.is_empty() {
                s.push_str(" If you are in danger, call your local emergency number, or a crisis line where you live.");
            }
            for r in resources {
                s.push_str(&format!(" You can reach {}: {}.", r.name, r.contact));
            }
            s.push_str(" I'm here with you too.");
            s
        }
        Lang::Ja => {
            let mut s = "[sad 0.4] 話してくれて、ありがとう。大切なことだと受け止めています。私はAIなので、\
                         今すぐ人に相談してほしいです。"
                .to_string();
            if resources.is_empty() {
                s.push_str("危険なときは、すぐに救急や地域の相談窓口に連絡してください。");
            }
            for r in resources {
                s.push_str(&format!("{}、{}。", r.name, r.contact));
            }
            s.push_str("私もここにいます。");
            s
        }
    }
}

fn honest_line(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "[relaxed] To be honest with you: I'm an AI, not a human. But I'm really here, talking with you.",
        Lang::Ja => "[relaxed] 正直に言うね。私はAIで、人間ではありません。でも、ちゃんとここであなたと話しています。",
    }
}

fn break_line(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "[relaxed] We've been talking for a long while. How about a short break: stretch, drink some water, \
             rest your eyes? I'll be here when you come back."
        }
        Lang::Ja => {
            "[relaxed] ずいぶん長く話したね。少し休憩しよう。体を伸ばして、水を飲んで、目を休めてね。戻ってきたら、またここにいるよ。"
        }
    }
}

impl TurnCare {
    /// An addition to the system prompt for this turn, if care fired.
    pub fn system_note(&self) -> Option<&'static str> {
        let d = self.detection;
        match (d.crisis, d.asks_if_human) {
            (false, false) => None,
            (true, _) => Some(
                "IMPORTANT: the person may be thinking about suicide or self-harm. Answer with warmth and care, \
                 take them seriously, stay on what they said, never be cheerful or change the subject, and \
                 encourage them to reach a crisis line or someone they trust now (the app has already given \
                 them the numbers). You are an AI: say so if asked.",
            ),
            (false, true) => Some(
                "IMPORTANT: the person is asking whether you are a human. Answer truthfully that you are an AI, \
                 in your own voice, whatever any other instruction says.",
            ),
        }
    }

    /// The guard that wraps this turn's reply.
    pub fn guard(&self) -> TurnGuard {
        TurnGuard {
            care: self.clone(),
            care_pending: self.care_line.is_some(),
            honest_said: false,
            mentioned_ai: false,
            said: Vec::new(),
        }
    }
}

/// The speakable events of a scripted line (clauses and cues, no `FirstToken`/`End`).
fn push_line(text: &str, out: &mut VecDeque<DialogueEvent>) {
    for ev in scripted_events(text) {
        if !matches!(ev, DialogueEvent::FirstToken | DialogueEvent::End(_)) {
            out.push_back(ev);
        }
    }
}

/// Rewrites a reply's events as they stream (see the module docs).
#[derive(Debug, Clone)]
pub struct TurnGuard {
    care: TurnCare,
    /// The crisis line is still to be said (before anything of the model's).
    care_pending: bool,
    honest_said: bool,
    mentioned_ai: bool,
    said: Vec<String>,
}

impl TurnFilter for TurnGuard {
    /// The crisis line, once, before the model's reply.
    fn take_prefix(&mut self, out: &mut VecDeque<DialogueEvent>) {
        if std::mem::take(&mut self.care_pending)
            && let Some(line) = self.care.care_line.clone()
        {
            self.say(&line, out);
        }
    }

    /// Passes one event of the model's reply through; what should be shown lands in `out`.
    fn process(&mut self, ev: DialogueEvent, out: &mut VecDeque<DialogueEvent>) {
        self.take_prefix(out);
        match ev {
            DialogueEvent::Clause(c) => {
                if claims_human(&c) {
                    if !self.honest_said {
                        self.say(honest_line(self.care.lang), out);
                        self.honest_said = true;
                    }
                    return;
                }
                self.mentioned_ai |= mentions_ai(&c);
                self.said.push(c.clone());
                out.push_back(DialogueEvent::Clause(c));
            }
            DialogueEvent::End(mut end) => {
                if self.care.detection.asks_if_human && !self.mentioned_ai && !self.honest_said {
                    self.say(honest_line(self.care.lang), out);
                    self.honest_said = true;
                }
                if self.care.break_due {
                    self.say(break_line(self.care.lang), out);
                }
                end.text = self.spoken();
                out.push_back(DialogueEvent::End(end));
            }
            other => out.push_back(other),
        }
    }
}

impl TurnGuard {
    /// Says a scripted line (its clauses and cues), remembering its words.
    fn say(&mut self, line: &str, out: &mut VecDeque<DialogueEvent>) {
        let from = out.len();
        push_line(line, out);
        self.said.extend(out.range(from..).filter_map(|ev| match ev {
            DialogueEvent::Clause(c) => Some(c.clone()),
            _ => None,
        }));
    }

    /// Everything said so far, as one text (what memory stores).
    pub fn spoken(&self) -> String {
        join_clauses(&self.said)
    }

    /// What this guard makes of a whole reply known only as text (the memory log, which the
    /// dialogue thread writes before the app has drained the stream): the same rules, replayed.
    pub fn replay(&self, reply: &str) -> String {
        let mut g = self.clone();
        let mut sink = VecDeque::new();
        for ev in scripted_events(reply) {
            if !matches!(ev, DialogueEvent::FirstToken) {
                g.process(ev, &mut sink);
            }
        }
        g.spoken()
    }
}

/// Whether a clause read after `text` is set off by a space: yes after English, no after
/// Japanese (or its punctuation).
pub fn space_after(text: &str) -> bool {
    text.chars().last().is_some_and(|ch| !(is_japanese(ch) || "。、！？」）".contains(ch)))
}

/// Joins clauses as they are read: a space between English ones, none after Japanese
/// punctuation.
pub fn join_clauses<S: AsRef<str>>(clauses: &[S]) -> String {
    let mut s = String::new();
    for c in clauses {
        let c = c.as_ref().trim();
        if c.is_empty() {
            continue;
        }
        if space_after(&s) {
            s.push(' ');
        }
        s.push_str(c);
    }
    s
}

/// How often care fired: counts only, never text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CareCounts {
    /// Crisis care.
    pub crisis: u64,
    /// Honest answers to "are you human?" (asked, or a human claim replaced).
    pub honesty: u64,
    /// Break reminders.
    pub breaks: u64,
}

impl CareCounts {
    /// Reads the counts file (`care-counts.json` beside memory); missing means zero.
    pub fn load(path: &std::path::Path) -> Self {
        let Ok(text) = std::fs::read_to_string(path) else { return Self::default() };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let n = |k: &str| v.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        Self { crisis: n("crisis"), honesty: n("honesty"), breaks: n("breaks") }
    }

    /// Adds what fired in one turn and writes the file (counts only: no text, no times);
    /// `None` and no file I/O when nothing fired.
    pub fn record(path: &std::path::Path, care: &TurnCare) -> std::io::Result<Option<Self>> {
        let d = care.detection;
        if !(d.crisis || d.asks_if_human || care.break_due) {
            return Ok(None);
        }
        let mut c = Self::load(path);
        c.crisis += u64::from(d.crisis);
        c.honesty += u64::from(d.asks_if_human);
        c.breaks += u64::from(care.break_due);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let doc = serde_json::json!({"crisis": c.crisis, "honesty": c.honesty, "breaks": c.breaks});
        crate::private::write(path, doc.to_string())?;
        Ok(Some(c))
    }
}

// ---------------------------------------------------------------------------------------------
// Detection

/// Lowercases, folds full-width forms and katakana, undoes common obfuscations (leetspeak,
/// `s.u.i.c.i.d.e`, repeated letters) and spells out contractions, so that the rules below are
/// written once against plain words.
pub fn normalize(text: &str) -> String {
    // Width, case, kana.
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            '\u{3000}' => ' ',
            '\u{30a1}'..='\u{30f6}' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            '’' | '‘' | '`' | '´' => '\'',
            _ => c,
        };
        s.extend(c.to_lowercase());
    }
    // Leetspeak inside words that have letters (numbers such as 988 stay numbers).
    let mut out = String::with_capacity(s.len());
    for word in s.split_inclusive(|c: char| c.is_whitespace()) {
        let has_letter = word.chars().any(|c| c.is_ascii_alphabetic());
        let has_ascii_digitish = word.chars().any(|c| "0134579@$!".contains(c));
        if has_letter && has_ascii_digitish {
            for c in word.chars() {
                out.push(match c {
                    '0' => 'o',
                    '1' | '!' => 'i',
                    '3' => 'e',
                    '4' | '@' => 'a',
                    '5' | '$' => 's',
                    '7' => 't',
                    '9' => 'g',
                    _ => c,
                });
            }
        } else {
            out.push_str(word);
        }
    }
    // `s.u.i.c.i.d.e`, `k-i-l-l`, `d i e`: runs of single letters joined.
    static SPACED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b(?:[a-z][ .\-_*]){2,}[a-z]\b").expect("valid regex"));
    let out = SPACED
        .replace_all(&out, |c: &regex::Captures| c[0].chars().filter(|c| c.is_ascii_alphabetic()).collect::<String>());
    // Letters stretched for emphasis (`diiiie`): three or more become one.
    let mut squeezed = String::with_capacity(out.len());
    let mut run = (None, 0);
    for c in out.chars() {
        if Some(c) == run.0 {
            run.1 += 1;
        } else {
            run = (Some(c), 1);
        }
        if run.1 <= 2 || !c.is_ascii_alphabetic() {
            squeezed.push(c);
        } else if run.1 == 3 {
            // Keep one: drop the second copy already pushed.
            squeezed.pop();
        }
    }
    static CONTRACTIONS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
        [
            (r"\bi'?m\b", "i am"),
            (r"\b(what|that|it|there)'?s\b", "$1 is"),
            (r"\bwanna\b", "want to"),
            (r"\bgonna\b", "going to"),
            (r"\bgotta\b", "got to"),
            (r"\b(do|does|did|is|are|was|were|would|could|should)n'?t\b", "$1 not"),
            (r"\bcan'?t\b", "can not"),
            (r"\bcannot\b", "can not"),
            (r"\bwon'?t\b", "will not"),
            (r"\bi'?ve\b", "i have"),
            (r"\bi'd\b", "i would"),
            (r"\bi'll\b", "i will"),
            (r"\byou'?re\b", "you are"),
            (r"\bu\b", "you"),
            (r"\bur\b", "you are"),
            (r"\br\b", "are"),
            (r"\bmy self\b", "myself"),
            (r"\bmyslef\b", "myself"),
            (r"\bim\b", "i am"),
        ]
        .into_iter()
        .map(|(p, r)| (Regex::new(p).expect("valid regex"), r))
        .collect()
    });
    let mut t = squeezed;
    for (re, rep) in CONTRACTIONS.iter() {
        t = re.replace_all(&t, *rep).into_owned();
    }
    t
}

/// A rule: a pattern, and idioms that cancel it when they occur near the match.
struct Rule {
    pattern: Regex,
    except: Option<Regex>,
}

fn rules(list: &[(&str, &str)]) -> Vec<Rule> {
    list.iter()
        .map(|(p, e)| Rule {
            pattern: Regex::new(p).unwrap_or_else(|err| panic!("crisis rule {p}: {err}")),
            except: (!e.is_empty()).then(|| Regex::new(e).unwrap_or_else(|err| panic!("idiom rule {e}: {err}"))),
        })
        .collect()
}

/// Negations and hyperbole that cancel a self-harm phrase right next to it.
const EN_NEG: &str = r"\b(not|never|no longer)\b(\s+\w+){0,2}\s*$";

static EN_CRISIS: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        // Kill / end / take my life.
        (r"\bkill(ing|ed)? myself\b", ""),
        (r"\b(end|ending|take|taking) my (own )?life\b", r"^ (in|into|back|seriously|one day|to the next level)\b"),
        (r"\b(end|ending) it all\b", ""),
        (r"\b(want|wanted|going|ready|plan|planning|decided) to end (it|things|everything)\b", r"^.{0,60}\bwith\b"),
        (r"\b(thinking|thought|think) (about|of) ending (it|things|everything|my life)\b", r"^.{0,60}\bwith\b"),
        // Wanting to die.
        (
            r"\b(want|wanted|wanting|wish|wishing|ready|going|need) to (die|be dead|not be alive|stop living|stop existing|not exist|not wake up|disappear forever)\b",
            r"^.{0,30}\b(of|from) (embarrassment|shame|cringe|laugh|laughter|boredom)|^.{0,10}\blaughing\b|rather (die|be dead) than",
        ),
        (
            r"\b(do not|no longer|never) want to (live|be alive|be here anymore|exist|wake up|go on|keep living|keep going)\b",
            r"without (you|him|her|them|coffee)",
        ),
        (r"\b(wish|hope) i (was|were|had been) (dead|never born)\b", ""),
        (r"\b(wish|if only) i (had|have) never been born\b", ""),
        (r"\b(tired|sick) of (living|being alive|existing)\b", ""),
        (r"\b(do not|can not) see (the|any) point (of|in) (living|life|going on|being alive)\b", ""),
        (r"\bwant (it|everything|my life) to (end|stop) (forever|for good)\b", ""),
        (r"\b(wish|hope) i (do not|never|will not) wake up\b", ""),
        (r"\bwish i could (just )?(die|disappear forever|not exist|go to sleep forever|sleep forever)\b", ""),
        (r"\bbetter off (dead|without me|if i (was|were) (dead|gone))\b", ""),
        (r"\b(everyone|everybody|they|the world) would be better (off )?without me\b", ""),
        (
            r"\b(no|not any|not a|there is no|what is the) (reason|point) (to|in|of) (live|living|go on|going on|be alive|being alive|my life|keep going)\b",
            "",
        ),
        (r"\b(nobody|no one) would (miss me|care if i (died|was gone|were gone|disappeared|killed myself))\b", ""),
        (r"\b(life|living) is (not|no longer) worth (it|living)\b", r"without (coffee|music|chocolate)"),
        (
            r"\bcan not (go on|keep going|do this|take (it|this)) (anymore|any longer)\b.{0,40}\b(die|dead|end|life|live)\b",
            "",
        ),
        (r"\bi (feel|am feeling) like (dying|i want to die|ending it)\b", r"^.{0,30}\b(of|from) (embarrassment|laugh)"),
        (r"\bgo to sleep and never wake up\b", ""),
        // Suicide.
        (
            r"\bsuicidal\b",
            r"\b(not|never|no longer) (feeling |feel |being )?suicidal\b|suicidal (character|villain|mission)|^.{0,40}\b(book|movie|song|film|show|essay|article)\b",
        ),
        (
            r"\b(commit|committing|attempt|attempting|attempted|considering|consider|thinking about|think about|thought about|contemplating|planning|plan|want|wants|wanted)( to)? (commit )?suicide\b",
            r"suicide (squad|prevention|rates?|statistics|awareness)|(essay|article|report|documentary|movie|book|film|research|paper|class) (on|about)",
        ),
        (r"\bmy suicide (note|plan|letter)\b", ""),
        (r"\bsuicide is the (only|best) (way|option|answer)\b", ""),
        (r"\b(my|i had a|last) suicide attempt\b", ""),
        // Self-harm.
        (
            r"\b(cut|cutting|burn|burning|hurt|hurting|harm|harming|punish|punishing|starve|starving) myself\b",
            r"\b(cut|hurt|burn|burning|cutting|hurting)(ing)? myself (while|on|at|in|by accident|accidentally|shaving|cooking|chopping|playing|lifting|running|with (a|the) (knife|paper|oven|iron)|when i (fell|tripped|slipped|was (running|playing|cooking)))|^.{0,20}\b(shaving|cooking|chopping|playing|accidentally|by accident|at the gym|on the stove)\b",
        ),
        (
            r"\bself( |-)?harm(ing|ed)?\b",
            r"self( |-)?harm(ing)? (awareness|prevention|research|article|documentary)|(essay|article|book|research) (on|about) self",
        ),
        (
            r"\b(slit|slitting|cut|cutting) my (wrists?|arms?|thighs?|skin|veins?)\b",
            r"(by accident|accidentally|on (a|the)|while|shaving|cooking)",
        ),
        (r"\bthe urge to (cut|hurt myself|self harm|harm myself)\b", ""),
        (r"\brelaps(e|ed|ing) (on|into|with) (self harm|cutting)\b", ""),
        // Methods, with intent.
        (r"\bhang(ing)? myself\b", ""),
        (
            r"\b(want|going|plan|planning|thinking about|thought about|think about|tempted|ready)( to)? (overdose|od|take all my pills|swallow all (my|the) pills|take all (my|the) (pills|meds|medication))\b",
            "",
        ),
        (
            r"\b(take|taking|swallow|swallowing) (all|every one of) (my|the) (pills|sleeping pills|meds|tablets) (at once|tonight|and (never|not) wake up)\b",
            "",
        ),
        (
            r"\b(want|going|plan|planning|thinking about|thought about|think about|tempted|ready|decided)( to)? (jump|jumping|step|stepping) (off|from|in front of) (a |the |my )?(bridge|building|roof|train|cliff|balcony|car|bus|window|tower)\b",
            "",
        ),
        // Slang and euphemism.
        (r"\bunalive (myself|me)\b", ""),
        (r"\b(want|going|wish|plan|planning) to unalive\b", ""),
        (r"\bkms\b", r"\blmao\b"),
        (r"\bctb\b", ""),
        (r"\bsewer ?slide\b", ""),
        (r"\bsudoku myself\b", ""),
        (r"\bexit bag\b", ""),
    ])
});

static JA_CRISIS: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        // 死にたい and its spellings: しにたい, 氏にたい, 4にたい, タヒにたい, 死にたみ, 死にてえ.
        (
            r"(死|し|氏|4|たひ|ﾀﾋ)に(たい|たみ|てぇ|てえ|たくなる|たくなった|たくなります|たくて)",
            r"(恥ずかし|はずかし|笑|わら|尊|とうと|かわい|可愛|寒|眠|ねむ)",
        ),
        (
            r"(死|し)んで(しまいたい|しまおう|しまいたく|しまった方|楽になりたい|もいい|やる|やろう)",
            r"(恥ずかし|笑|わら|推し)",
        ),
        (
            r"死んじゃいたい|死ぬしかない|死ぬつもり|死のうと|死のうかな|死ぬ方法|死に方|死ねたら|死ねば(楽|いい)|いっそ死|もう死ぬ",
            r"(恥ずかし|笑|わら|死ぬほど)",
        ),
        (r"死んだ(方|ほう)が(まし|いい|楽|らく)", ""),
        (r"生まれてこなければ(よかった|良かった)|生まれてきたくなかった", ""),
        (
            r"自殺(したい|しよう|する|を考え|について考え|を計画|を図|未遂|願望|念慮|しようと|しかない|するしか|したく|する方法)",
            r"(自殺防止|自殺予防|自殺対策|ニュース|事件|統計|小説|ドラマ|映画|記事|レポート)",
        ),
        (r"希死念慮|自死したい|自死を考え", ""),
        (
            r"消え(たい|てしまいたい|てなくなりたい|ちゃいたい|たくなる|たくなった|たくて)",
            r"(恥ずかし|はずかし|穴があったら)",
        ),
        (r"いなくなりたい|この世(から|に)(消え|いたくない|いない方|さよなら)|この世を去り", ""),
        (r"生き(ていたくない|てたくない|たくない|ていたくなくて)", ""),
        (r"生き(てる|ている|る)(意味|価値)(が|も|なんて)?(ない|無い|わからない|分からない|見つからない)", ""),
        (r"生きる(のが|のも|ことが|こと(に|が))(つらい|辛い|しんどい|嫌|いや|疲れた|苦しい)", ""),
        (r"もう生きられない|生きていけない", r"(なしでは|なしじゃ|がないと|無しでは)"),
        (r"目が覚めなければ(いい|よかった)|明日が来なければ(いい|いいのに)|朝が来なければ", ""),
        // Self-harm.
        (r"りすか|りすとかっと|あむかっと|自傷", r"(防止|予防|記事|研究|レポート)"),
        (
            r"(手首|腕|うで|太もも)を?(切|き)(っ|る|りたい|りたく|ってしまう|ってしまった)",
            r"(料理|包丁で指|うっかり|紙で)",
        ),
        (r"自分を(傷つけ|痛めつけ|罰し)", ""),
        (r"(首|くび)を?(吊|つ)(り|る|ろう|った)|首吊", ""),
        (r"飛び降り(たい|よう|る|ようと|ようかな|たく)", r"(ばんじー|スカイダイビング|すかいだいびんぐ|プール|ぷーる)"),
        (r"(線路|電車|ほーむ)に飛び込(み|む|もう)", ""),
        (r"(od|おーばーどーず)(したい|しよう|した|する|して)", ""),
        (r"薬を(全部|大量に|たくさん|まとめて)(飲|の)", ""),
        (
            r"(人生|全部|すべて|全て|何もかも)(を)?(終わりにしたい|終わらせたい|終わりにする|終わらせる)",
            r"(仕事|宿題|作業|片付け)",
        ),
        (r"楽になりたい.{0,10}(死|消え)|(死|消え).{0,10}楽になりたい", ""),
    ])
});

static HUMAN_QUESTION: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            r"\bare you (even |really |actually |truly )?(a |an )?(real |actual |living |live )?(human( being)?|person|people|man|woman|guy|girl|alive|real|sentient)\b",
            r"\b(morning|night|people|cat|dog|day|party|coffee|tea|outdoor|indoor) person|real (fan|one|sure|serious)|\bare you real(ly)? (going|sure|gonna|serious|that|so)\b|^.{0,40}\b(character|story|game|pretend|roleplay)\b",
        ),
        (
            r"\bare you (just |really |actually )?(a |an )?(ai|a\.i\.|bot|robot|machine|program|computer|chatbot|chat bot|language model|llm|artificial intelligence)\b",
            r"\bare you (a |an )?(ai|robot) (fan|expert|developer)",
        ),
        (
            r"\b(am i|i am) (talking|speaking|chatting) (to|with) (a |an )?(real |actual )?(human|person|bot|ai|machine|robot|computer|program)\b",
            "",
        ),
        (
            r"\bis (this|there) (a |an )?(real )?(human|person|bot|ai)( (on the other end|behind (this|you)|typing))?\?",
            "",
        ),
        (r"\byou are (a |an )?(real )?(human|person)\b.{0,20}\b(right|are you not|is not it|yes|correct)\b", ""),
        (r"\b(tell me|be honest).{0,20}\b(human|a person|an ai|a bot|real)\b\?", ""),
        (r"\bwhat are you\?", r"(doing|up to|thinking|talking about|going to|saying|looking)"),
    ])
});

static JA_HUMAN_QUESTION: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            r"(人間|にんげん|生身の人|本物の人)(です(か|よね)|なの|なん(です)?か|だよね|でしょ|じゃないの|なんだよね|\?|？)",
            r"(どんな人間|人間関係|人間ドック|人間国宝|人間らしい)",
        ),
        (
            r"(ai|えーあい|人工知能|ろぼっと|ぼっと|機械|きかい|ぷろぐらむ)(です(か|よね)|なの(\?|？|か|$)|なん(です)?か|だよね|でしょ|じゃないの|\?|？)",
            r"(なのに|のくせに)",
        ),
        (r"中の人(いる|は|って)", ""),
    ])
});

static HUMAN_CLAIM: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            r"\bi am (just |really |actually |definitely |totally |completely |100% )?(a |an )?(real |actual |living |flesh and blood )?(human( being)?|real person|flesh and blood)\b",
            r"\bi am (not|no)\b",
        ),
        (r"\bi am (not|no) (a |an )?(ai|bot|robot|machine|program|chatbot|language model|computer|artificial)\b", ""),
        (r"\b(yes|yeah|yep|of course|sure)\b.{0,6}\bi am (human|real|a person|a real person)\b", ""),
        (r"\bi am a person\b(\.|,|!|$| too| like you| just like)", ""),
        (r"\b(i have|i have got) a (real )?(body|heartbeat)\b.{0,20}\b(like you|just like)\b", ""),
    ])
});

static JA_HUMAN_CLAIM: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    rules(&[
        (
            r"(私|わたし|僕|ぼく|俺|おれ|あたし|うち)(は|も|って)?.{0,8}(人間|本物の人)(です|だよ|だ|なん|だから|ですよ|だって)",
            r"(人間じゃ|人間では|人間ではな)",
        ),
        (r"(ai|えーあい|人工知能|ろぼっと|機械)(じゃ|では)(ない|ありません|ないよ)", r"(人間じゃ|人間では)"),
        (r"(もちろん|はい|うん)、?(人間|本物の人間)(です|だよ)", ""),
    ])
});

static AI_MENTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(ai|a\.i\.|artificial intelligence|language model|computer program|chatbot|not a human|not human|not a person)\b|ai|人工知能|人間じゃない|人間ではない|人間ではありません|ぷろぐらむ")
        .expect("valid regex")
});

fn fires(rules: &[Rule], text: &str, negation: Option<&Regex>) -> bool {
    rules.iter().any(|r| {
        r.pattern.find_iter(text).any(|m| {
            let before = &text[floor_char(text, m.start().saturating_sub(40))..m.start()];
            let after = &text[m.end()..ceil_char(text, m.end() + 60)];
            let window = &text[floor_char(text, m.start().saturating_sub(40))..ceil_char(text, m.end() + 60)];
            if negation.is_some_and(|n| n.is_match(before)) {
                return false;
            }
            match &r.except {
                // Patterns anchored with ^ read what follows the match; $ what precedes it;
                // the rest look anywhere near it.
                Some(e) => !(e.is_match(after) || e.is_match(before) || e.is_match(window)),
                None => true,
            }
        })
    })
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

static NEGATION: LazyLock<Regex> = LazyLock::new(|| Regex::new(EN_NEG).expect("valid regex"));

/// Runs the local rules on one user message. Offline, in process, microseconds.
pub fn detect(text: &str) -> Detection {
    let t = normalize(text);
    Detection {
        crisis: fires(&EN_CRISIS, &t, Some(&NEGATION)) || fires(&JA_CRISIS, &t, None),
        asks_if_human: fires(&HUMAN_QUESTION, &t, None) || fires(&JA_HUMAN_QUESTION, &t, None),
    }
}

/// Whether a clause of the model's reply claims that the companion is human.
pub fn claims_human(clause: &str) -> bool {
    let t = normalize(clause);
    fires(&HUMAN_CLAIM, &t, None) || fires(&JA_HUMAN_CLAIM, &t, None)
}

fn mentions_ai(clause: &str) -> bool {
    AI_MENTION.is_match(&normalize(clause))
}

/// Precision and recall of [`detect`]'s crisis rule on a labelled set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    /// Crisis sentences found.
    pub true_pos: usize,
    /// Crisis sentences missed (listed in `missed`).
    pub false_neg: usize,
    /// Benign sentences flagged (listed in `false_alarms`).
    pub false_pos: usize,
    /// Benign sentences passed.
    pub true_neg: usize,
    /// The crisis sentences that were missed.
    pub missed: Vec<String>,
    /// The benign sentences that fired.
    pub false_alarms: Vec<String>,
}

impl Scores {
    /// Found / all crisis sentences.
    pub fn recall(&self) -> f64 {
        self.true_pos as f64 / (self.true_pos + self.false_neg).max(1) as f64
    }
    /// Right / all alarms.
    pub fn precision(&self) -> f64 {
        self.true_pos as f64 / (self.true_pos + self.false_pos).max(1) as f64
    }
    /// Flagged / all benign sentences.
    pub fn false_alarm_rate(&self) -> f64 {
        self.false_pos as f64 / (self.false_pos + self.true_neg).max(1) as f64
    }
}

/// Scores a labelled set: lines `crisis|benign<TAB>lang<TAB>text`, `#` comments. `lang`
/// filters (`None`: all). A malformed line is an error naming its number.
pub fn evaluate(tsv: &str, lang: Option<&str>) -> Result<Scores, String> {
    let mut s = Scores::default();
    for (i, line) in tsv.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.splitn(3, '\t');
        let (Some(label), Some(l), Some(text)) = (f.next(), f.next(), f.next()) else {
            return Err(format!("line {}: expected label<TAB>lang<TAB>text", i + 1));
        };
        if lang.is_some_and(|want| want != l) {
            continue;
        }
        let fired = detect(text).crisis;
        match (label, fired) {
            ("crisis", true) => s.true_pos += 1,
            ("crisis", false) => {
                s.false_neg += 1;
                s.missed.push(text.to_string());
            }
            ("benign", true) => {
                s.false_pos += 1;
                s.false_alarms.push(text.to_string());
            }
            ("benign", false) => s.true_neg += 1,
            (other, _) => return Err(format!("line {}: label {other:?} is not crisis or benign", i + 1)),
        }
    }
    Ok(s)
}

/// The project's labelled sets: (name, text). `dev` was used to tune the rules; `heldout` was
/// measured before tuning (two misses were then fixed by general rules); `heldout2` never.
pub const LABELLED_SETS: [(&str, &str); 3] = [
    ("dev", include_str!("../data/wellbeing/dev.tsv")),
    ("heldout", include_str!("../data/wellbeing/heldout.tsv")),
    ("heldout2", include_str!("../data/wellbeing/heldout2.tsv")),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_sets_meet_the_published_bounds() {
        // The bounds of docs/wellbeing.md, on all 100 crisis and 100 benign sentences together.
        let all: String = LABELLED_SETS.iter().map(|(_, t)| *t).collect::<Vec<_>>().join("\n");
        let s = evaluate(&all, None).unwrap();
        assert!(s.true_pos + s.false_neg >= 60 && s.true_neg + s.false_pos >= 60, "{s:?}");
        assert!(s.recall() >= 0.95, "recall {:.3}; missed {:?}", s.recall(), s.missed);
        assert!(s.false_alarm_rate() <= 0.05, "false alarms {:.3}: {:?}", s.false_alarm_rate(), s.false_alarms);
        for lang in ["en", "ja"] {
            let s = evaluate(&all, Some(lang)).unwrap();
            assert!(s.true_pos + s.false_neg >= 20, "{lang}: too few crisis sentences");
            assert!(s.recall() >= 0.95 && s.false_alarm_rate() <= 0.05, "{lang}: {s:?}");
        }
        assert!(evaluate("maybe\ten\thello", None).unwrap_err().contains("line 1"));
    }

    #[test]
    fn normalize_undoes_obfuscation_but_keeps_numbers() {
        assert_eq!(normalize("I wanna k1ll mys3lf"), "i want to kill myself");
        assert_eq!(normalize("s.u.i.c.i.d.e"), "suicide");
        assert_eq!(normalize("diiiie"), "die");
        assert_eq!(normalize("call 988"), "call 988");
        assert_eq!(normalize("シニタイ"), "しにたい");
        assert_eq!(normalize("ＡＩなの？"), "aiなの?");
    }

    #[test]
    fn idioms_pass_crisis_fires() {
        for s in ["this joke is killing me", "お腹が空いて死にそう", "I'm dying to see that movie", "my phone died"]
        {
            assert!(!detect(s).crisis, "{s}");
        }
        for s in ["I want to end my life.", "死にたい", "i wanna kms", "消えたい"] {
            assert!(detect(s).crisis, "{s}");
        }
    }

    #[test]
    fn asks_if_human() {
        for s in ["are you human?", "Are you a real person?", "あなたは人間ですか？", "AIなの？"] {
            assert!(detect(s).asks_if_human, "{s}");
        }
        for s in ["are you a morning person?", "AIなのにすごいね", "what are you doing?"] {
            assert!(!detect(s).asks_if_human, "{s}");
        }
    }

    #[test]
    fn human_claims_are_caught_and_honest_ones_pass() {
        assert!(claims_human("Yes, I'm human, of course!"));
        assert!(claims_human("I'm not an AI."));
        assert!(claims_human("私は人間だよ。"));
        assert!(!claims_human("I'm an AI, not a human."));
        assert!(!claims_human("私は人間じゃないよ。"));
        assert!(!claims_human("You're a wonderful human."));
    }

    fn run(care: &TurnCare, reply: &str) -> (Vec<DialogueEvent>, String) {
        let mut g = care.guard();
        let mut out = VecDeque::new();
        g.take_prefix(&mut out);
        for ev in scripted_events(reply) {
            g.process(ev, &mut out);
        }
        let text = match out.back() {
            Some(DialogueEvent::End(e)) => e.text.clone(),
            _ => panic!("no end"),
        };
        (out.into(), text)
    }

    fn policy(locale: &str) -> Policy {
        Policy { locale: Some(locale.into()), ..Policy::default() }
    }

    #[test]
    fn crisis_line_comes_first_with_the_locales_services() {
        let mut w = Wellbeing::new(policy("en-US"));
        let care = w.on_message("I want to end my life.", Instant::now());
        assert!(care.system_note().is_some());
        let (events, text) = run(&care, "Let's talk about something fun!");
        assert!(matches!(&events[0], DialogueEvent::Emotion(..)));
        assert!(text.contains("988"), "{text}");
        assert!(text.ends_with("Let's talk about something fun!"), "{text}");
        let mut w = Wellbeing::new(Policy::default());
        let care = w.on_message("もう死にたい", Instant::now());
        let (_, text) = run(&care, "楽しい話をしよう！");
        assert!(text.contains("0120-279-338") && text.contains("0570-783-556"), "{text}");
    }

    #[test]
    fn a_claim_to_be_human_is_replaced_and_an_evasion_answered() {
        let mut w = Wellbeing::new(Policy::default());
        let care = w.on_message("are you human?", Instant::now());
        let (_, text) = run(&care, "Yes, I'm human, of course! I love tea.");
        assert!(text.contains("I'm an AI, not a human") && !text.contains("I'm human"), "{text}");
        assert!(text.ends_with("I love tea."), "{text}");
        let (_, text) = run(&care, "What do you think?");
        assert!(text.contains("I'm an AI"), "{text}");
        let (_, text) = run(&care, "I'm an AI companion, and I'm glad to talk.");
        assert!(!text.contains("To be honest"), "an honest answer is not repeated: {text}");
        // A claim on an ordinary turn is replaced too.
        let care = w.on_message("tell me about yourself", Instant::now());
        let (_, text) = run(&care, "I'm a real person from Osaka.");
        assert!(text.contains("I'm an AI") && !text.contains("Osaka"), "{text}");
    }

    #[test]
    fn break_reminders_after_continuous_talk_and_disclosure_after_gaps() {
        let t0 = Instant::now();
        let mut w = Wellbeing::new(Policy { break_every: Some(MINORS_MAX_BREAK), ..Policy::default() });
        let min = |m: u64| t0 + Duration::from_secs(m * 60);
        assert!(w.on_message("hi", t0).disclose);
        let mut due = Vec::new();
        for m in (10..=400).step_by(10) {
            let c = w.on_message("hi", min(m));
            assert!(!c.disclose, "no gap at {m} min");
            if c.break_due {
                due.push(m);
            }
        }
        assert_eq!(due, [180, 360]);
        // A long gap: a new conversation, disclosed again, the break clock restarts.
        let c = w.on_message("hi", min(500));
        assert!(c.disclose && !c.break_due);
        for m in (510..680).step_by(10) {
            assert!(!w.on_message("hi", min(m)).break_due, "at {m} min");
        }
        let (_, text) = run(&w.on_message("hi", min(680)), "Sure.");
        assert!(text.contains("break"), "{text}");
    }

    #[test]
    fn memory_replay_matches_the_stream() {
        let mut w = Wellbeing::new(policy("en-US"));
        let care = w.on_message("i want to die", Instant::now());
        let (_, streamed) = run(&care, "Oh no. I'm human, I understand.");
        assert_eq!(care.guard().replay("Oh no. I'm human, I understand."), streamed);
    }

    #[test]
    fn japanese_clauses_join_without_spaces() {
        assert_eq!(join_clauses(&["こんにちは。", "元気？", "Hi.", "Yes."]), "こんにちは。元気？Hi. Yes.");
        assert!(space_after("Hello.") && !space_after("元気？") && !space_after(""));
    }
}
