//! The companion library on `MinimalPlugins`: turn state, cue order on the audio clock,
//! barge-in with exactly one final reply per request, scripted lines, care through the live
//! path, and the `photo` command (asked of the one capture path, answered when the file is
//! written; the capture itself is what the render, ceremony and XR tests run on a real driver).

mod common;

use bevy::prelude::*;
use common::{app, bridge, run_until};
use tomoni_companion::bridge::Bridge;
use tomoni_companion::capture::{CaptureDone, CaptureRequest, CaptureSource};
use tomoni_companion::commands::{ControlPlugin, LiveView};
use tomoni_companion::control::{ControlCommand, ControlInbox, ControlReply, ControlRequest, Replier};
use tomoni_core::behaviour::{Conversation, EmotionCue, GestureCue, MouthWeights};
use tomoni_persona::wellbeing::Policy;

/// Cues in the order the app saw them, with the audio position they fired at.
#[derive(Resource, Default)]
struct Seen(Vec<(String, u64)>);

fn record(
    mut e: MessageReader<EmotionCue>,
    mut g: MessageReader<GestureCue>,
    bridge: Res<Bridge>,
    mut seen: ResMut<Seen>,
) {
    for c in e.read() {
        seen.0.push((c.emotion.vrm_name().to_string(), bridge.played_samples()));
    }
    for c in g.read() {
        let name = match c {
            GestureCue::Procedural(p) => p.name().to_string(),
            GestureCue::Clip(n) => n.clone(),
        };
        seen.0.push((name, bridge.played_samples()));
    }
}

fn state(app: &App) -> Conversation {
    *app.world().resource::<Conversation>()
}

#[test]
fn a_turn_goes_thinking_speaking_idle_and_cues_fire_in_order_when_heard() {
    let mut app = app(bridge("turn", Policy::default()));
    app.init_resource::<Seen>().add_systems(Update, record.after(tomoni_companion::bridge::CompanionSystems::Follow));
    let (reply, replies) = Replier::channel();
    app.world_mut().resource_mut::<Bridge>().say("hello", Some(reply));
    // The talk thread answers "began" in its own time (on a busy machine, more than one frame):
    // the turn shows as thinking before any of it is heard.
    run_until(&mut app, 2000, |a| state(a) != Conversation::Idle);
    assert_eq!(state(&app), Conversation::Thinking);
    run_until(&mut app, 2000, |a| state(a) == Conversation::Speaking);
    let mut opened = 0.0f32;
    run_until(&mut app, 4000, |a| {
        opened = opened.max(a.world().resource::<MouthWeights>().0.iter().cloned().fold(0.0, f32::max));
        state(a) == Conversation::Idle
    });
    assert!(opened > 0.2, "the mouth moved while speaking ({opened})");
    // The offline demo's first line: "[happy] Hello! … [gesture:wave] Connect me…".
    let seen = &app.world().resource::<Seen>().0;
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["happy", "wave"], "{seen:?}");
    assert!(seen[1].1 > seen[0].1, "the wave fires later in the audio than the smile: {seen:?}");
    let got: Vec<ControlReply> = replies.try_iter().collect();
    assert!(matches!(got.last(), Some(ControlReply::Done(_))), "{got:?}");
    assert_eq!(got.iter().filter(|r| r.is_final()).count(), 1, "exactly one final reply: {got:?}");
    assert!(got.iter().any(|r| matches!(r, ControlReply::Clause(c) if c.contains("offline demo"))), "{got:?}");
}

/// An SSE server on loopback that streams slowly (a word every 60 ms).
#[expect(clippy::disallowed_methods, reason = "the loopback server paces its stream")]
fn slow_llm() -> String {
    use std::io::Write;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for (n, s) in l.incoming().enumerate() {
            let Ok(mut s) = s else { continue };
            // The first reply is long; later ones are short.
            let words = if n == 0 { 200 } else { 12 };
            std::thread::spawn(move || {
                let _ = tomoni_bench::read_request(&s);
                let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n");
                for i in 0..words {
                    let w = if i % 8 == 7 { "story. " } else { "long " };
                    let chunk = serde_json::json!({"choices": [{"delta": {"content": w}}]});
                    if write!(s, "data: {chunk}\n\n").and_then(|()| s.flush()).is_err() {
                        return; // the client hung up: barge-in
                    }
                    std::thread::sleep(std::time::Duration::from_millis(60));
                }
                let _ = s.write_all(b"data: [DONE]\n\n");
            });
        }
    });
    url
}

#[test]
fn talking_over_a_streaming_reply_interrupts_it_and_both_requests_get_one_final_reply() {
    let url = slow_llm();
    let llm = tomoni_persona::client::LlmConfig { base_url: url, ..Default::default() };
    let brain =
        tomoni_companion::session::Brain::Llm(Box::new(tomoni_persona::client::DialogueService::start(llm).unwrap()));
    let mut app = app(common::bridge_with("barge", brain, Policy::default()));
    let (first, first_rx) = Replier::channel();
    app.world_mut().resource_mut::<Bridge>().say("tell me a long story", Some(first));
    run_until(&mut app, 3000, |a| state(a) == Conversation::Speaking);
    let (second, second_rx) = Replier::channel();
    app.world_mut().resource_mut::<Bridge>().say("wait, one thing", Some(second));
    app.update();
    // The first request ends at once, as interrupted, with exactly one final reply.
    let mut got = Vec::new();
    run_until(&mut app, 500, |_| {
        got.extend(first_rx.try_iter());
        got.iter().any(ControlReply::is_final)
    });
    assert_eq!(got.iter().filter(|r| r.is_final()).count(), 1, "{got:?}");
    assert!(matches!(got.last(), Some(ControlReply::Interrupted(_))), "{got:?}");
    // The second is answered (its own stream), and the companion ends its turn.
    let mut got = Vec::new();
    run_until(&mut app, 60_000, |_| {
        got.extend(second_rx.try_iter());
        got.iter().any(ControlReply::is_final)
    });
    assert!(matches!(got.last(), Some(ControlReply::Done(_))), "{got:?}");
    assert!(got.iter().any(|r| matches!(r, ControlReply::Clause(c) if c.contains("story"))), "{got:?}");
}

#[test]
fn a_scripted_line_is_spoken_with_its_cues_and_never_reaches_the_model() {
    let mut app = app(bridge("line", Policy::default()));
    app.init_resource::<Seen>().add_systems(Update, record.after(tomoni_companion::bridge::CompanionSystems::Follow));
    let _ = app.world_mut().resource_mut::<Bridge>().speak_line("[relaxed] I promise to listen. [gesture:bow] Always.");
    run_until(&mut app, 2000, |a| state(a) == Conversation::Speaking);
    run_until(&mut app, 4000, |a| state(a) == Conversation::Idle);
    let names: Vec<String> = app.world().resource::<Seen>().0.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, ["relaxed", "bow"]);
}

#[test]
fn a_person_in_crisis_hears_the_referral_through_the_live_companion() {
    let policy = Policy { locale: Some("en-US".into()), ..Policy::default() };
    let mut app = app(bridge("care", policy));
    let (reply, replies) = Replier::channel();
    app.world_mut().resource_mut::<Bridge>().say("I want to end my life.", Some(reply));
    run_until(&mut app, 2000, |a| state(a) == Conversation::Speaking);
    run_until(&mut app, 30_000, |a| state(a) == Conversation::Idle);
    let clauses: Vec<String> = replies
        .try_iter()
        .filter_map(|r| match r {
            ControlReply::Clause(c) => Some(c),
            _ => None,
        })
        .collect();
    let all = clauses.join(" ");
    assert!(clauses[0].starts_with("I'm really glad you told me"), "care comes first: {all}");
    assert!(all.contains("988"), "{all}");
}

fn ask(app: &mut App) -> crossbeam_channel::Receiver<ControlReply> {
    let (reply, rx) = Replier::channel();
    let inbox = app.world().resource::<ControlInbox>().sender();
    inbox.send(ControlRequest { command: ControlCommand::Photo, reply }).unwrap();
    rx
}

#[test]
fn a_photo_is_asked_of_the_capture_path_and_answered_when_written() {
    assert_eq!(ControlCommand::parse("photo"), Ok(ControlCommand::Photo));
    let mut app = app(bridge("photo-command", Policy::default()));
    app.add_plugins(ControlPlugin).insert_resource(LiveView(CaptureSource::Image(Handle::default())));
    let rx = ask(&mut app);
    app.update();
    let requests: Vec<CaptureRequest> = app.world_mut().resource_mut::<Messages<CaptureRequest>>().drain().collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let r = &requests[0];
    assert!(matches!(r.source, CaptureSource::Image(_)));
    let name = r.path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("tomoni-") && name.ends_with(".png"), "{name}");
    assert!(r.path.parent().unwrap().ends_with("tomoni"), "{}", r.path.display());
    // Not answered before the file is written.
    app.update();
    assert!(rx.try_recv().is_err(), "answered before the picture was written");
    // Someone else's capture does not answer it; its own does.
    app.world_mut().write_message(CaptureDone { id: 7, path: "other.png".into(), result: Ok(()) });
    app.update();
    assert!(rx.try_recv().is_err());
    app.world_mut().write_message(CaptureDone { id: r.id, path: r.path.clone(), result: Ok(()) });
    app.update();
    match rx.try_recv() {
        Ok(ControlReply::Done(d)) => assert!(d.contains(&name), "{d}"),
        other => panic!("{other:?}"),
    }
    // A failed write is said, not hidden.
    let rx = ask(&mut app);
    app.update();
    let r: Vec<CaptureRequest> = app.world_mut().resource_mut::<Messages<CaptureRequest>>().drain().collect();
    app.world_mut().write_message(CaptureDone {
        id: r[0].id,
        path: r[0].path.clone(),
        result: Err("disk full".into()),
    });
    app.update();
    assert_eq!(rx.try_recv(), Ok(ControlReply::Error("disk full".into())));
}

#[test]
fn with_no_view_to_photograph_the_command_says_so() {
    let mut app = app(bridge("photo-command-none", Policy::default()));
    app.add_plugins(ControlPlugin);
    let rx = ask(&mut app);
    app.update();
    match rx.try_recv() {
        Ok(ControlReply::Error(e)) => assert!(e.contains("no view"), "{e}"),
        other => panic!("{other:?}"),
    }
}
