//! How fast a streamed reply becomes events: SSE parsing, chunk JSON, expression tags and the
//! clause chunker together, on a 2,000-token reply in 10-byte network pieces.
#![expect(missing_docs, reason = "criterion_group! generates undocumented functions")]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tomoni_persona::chunker::ClauseChunker;
use tomoni_persona::openai::{ChunkPart, parse_chunk};
use tomoni_persona::sse::SseParser;
use tomoni_persona::tags::TagParser;

fn stream_bytes() -> Vec<u8> {
    let words = [
        "[happy]Hello",
        " there!",
        " I",
        " was",
        " thinking",
        " about",
        " you,",
        " and",
        " the",
        " day",
        " we",
        " met.",
        " [gesture:nod]It",
        " was",
        " 3.14",
        " o'clock?",
    ];
    let mut out = Vec::new();
    for i in 0..2000 {
        let w = words[i % words.len()];
        out.extend(
            format!(
                "data: {}\n\n",
                serde_json::json!({"choices":[{"index":0,"delta":{"content":w},"finish_reason":null}]})
            )
            .bytes(),
        );
    }
    out.extend(b"data: [DONE]\n\n");
    out
}

fn bench(c: &mut Criterion) {
    let bytes = stream_bytes();
    let mut g = c.benchmark_group("dialogue");
    g.throughput(Throughput::Elements(2000));
    g.bench_function("2000 tokens: sse + json + tags + clauses", |b| {
        b.iter(|| {
            let mut sse = SseParser::default();
            let mut tags = TagParser::default();
            let mut chunker = ClauseChunker::default();
            let (mut evs, mut tagged, mut clauses) = (Vec::new(), Vec::new(), Vec::new());
            for piece in bytes.chunks(10) {
                sse.feed(piece, &mut evs);
                for e in evs.drain(..) {
                    if e.data == "[DONE]" {
                        continue;
                    }
                    for p in parse_chunk(&e.data).unwrap_or_default() {
                        if let ChunkPart::Content(t) = p {
                            tags.feed(&t, &mut tagged);
                        }
                    }
                    for t in tagged.drain(..) {
                        if let tomoni_persona::tags::Tagged::Text(s) = t {
                            chunker.push(&s, &mut clauses);
                        }
                    }
                }
            }
            chunker.finish(&mut clauses);
            black_box(clauses.len())
        })
    });
    g.finish();
}

/// The crisis and honesty rules on every message of the labelled sets: the cost each user
/// message pays before the model sees it.
fn wellbeing(c: &mut Criterion) {
    let messages: Vec<&str> = tomoni_persona::wellbeing::LABELLED_SETS
        .iter()
        .flat_map(|(_, tsv)| tsv.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.splitn(3, '\t').nth(2)))
        .collect();
    let mut g = c.benchmark_group("wellbeing");
    g.throughput(Throughput::Elements(messages.len() as u64));
    g.bench_function("detect_labelled_sets", |b| {
        b.iter(|| messages.iter().filter(|m| tomoni_persona::wellbeing::detect(black_box(m)).crisis).count())
    });
    g.finish();
}

criterion_group!(benches, bench, wellbeing);
criterion_main!(benches);
