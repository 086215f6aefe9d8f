//! Precision and recall of the crisis detector on the project's labelled sets
//! (`cargo run -p tomoni_persona --example wellbeing_eval`), per set and language, with every
//! miss and false alarm listed. The figures in docs/wellbeing.md come from here.

use tomoni_persona::wellbeing::{LABELLED_SETS, evaluate};

fn main() {
    for (name, tsv) in LABELLED_SETS {
        for lang in [None, Some("en"), Some("ja")] {
            let s = evaluate(tsv, lang).unwrap_or_else(|e| panic!("{name}: {e}"));
            println!(
                "{name:8} {:3}  crisis {:3}  benign {:3}  recall {:.3}  precision {:.3}  false alarms {:.3}",
                lang.unwrap_or("all"),
                s.true_pos + s.false_neg,
                s.true_neg + s.false_pos,
                s.recall(),
                s.precision(),
                s.false_alarm_rate()
            );
            if lang.is_none() {
                for m in &s.missed {
                    println!("    missed:      {m}");
                }
                for f in &s.false_alarms {
                    println!("    false alarm: {f}");
                }
            }
        }
    }
    let n = 10_000;
    let start = std::time::Instant::now();
    let mut fired = 0;
    for i in 0..n {
        let (_, tsv) = LABELLED_SETS[i % LABELLED_SETS.len()];
        let line = tsv.lines().nth(3 + i % 30).unwrap_or("");
        fired += usize::from(tomoni_persona::wellbeing::detect(line).crisis);
    }
    println!("detect: {:.1} µs a message (mean of {n}; {fired} fired)", start.elapsed().as_secs_f64() * 1e6 / n as f64);
}
