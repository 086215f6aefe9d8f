//! The living companion's per-frame cost, measured on the real bridge (`tomoni_companion::bridge`):
//! dialogue streamed from a loopback SSE server at 80 tokens/s, the default persona's voice (Piper, in process) on the speaker
//! thread, lip-sync from the audio clock, gaze, idle life and gestures, written onto a 55-bone
//! skeleton with spring-boned hair (bevy_vrm1's spring system, transforms propagated) and 14
//! expressions. One `app.update()` is one frame of that work (no rendering).
//!
//! Prints, from one run: per-frame time (median, p99) for an empty `MinimalPlugins` app, for the
//! companion idle, and while a reply streams and is spoken; the streaming/idle p99 ratio; and
//! heap allocations per frame on the frame-loop thread, beside the empty app's.

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_vrm1::prelude::{ExpressionEntityMap, VrmExpression};
use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};
use tomoni_avatar::{AvatarReady, Companion, LifePlugin, PosePlugin};
use tomoni_core::TomoniSystems;
use tomoni_core::behaviour::Conversation;

#[global_allocator]
static GLOBAL: tomoni_bench::Counting = tomoni_bench::Counting;

/// An SSE server that streams `tokens` words at `per_second`.
fn serve(tokens: usize, per_second: f64) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = tomoni_bench::read_request(&s);
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n");
            let words = ["I", "remember", "the", "river", "walk,", "and", "the", "light", "on", "the", "water."];
            for i in 0..tokens {
                let mut w = format!("{} ", words[i % words.len()]);
                if i % 40 == 20 {
                    w.push_str("[gesture:nod] ");
                }
                if i % 50 == 0 {
                    w.insert_str(0, "[happy 0.6] ");
                }
                let chunk = serde_json::json!({"choices": [{"delta": {"content": w}}]});
                if write!(s, "data: {chunk}\n\n").and_then(|()| s.flush()).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_secs_f64(1.0 / per_second));
            }
            let _ = s.write_all(b"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
        }
    });
    url
}

/// Both apps run their schedules on one thread here: the multi-threaded executor allocates per
/// system task it spawns, which would hide whether *our* systems allocate.
fn single_threaded(app: &mut App) {
    use bevy::ecs::schedule::{ScheduleLabel, SingleThreadedExecutor};
    for label in [First.intern(), PreUpdate.intern(), Update.intern(), PostUpdate.intern(), Last.intern()] {
        app.edit_schedule(label, |s| {
            s.set_executor(SingleThreadedExecutor::new());
        });
    }
}

fn live_app(url: &str) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, TransformPlugin, bevy_vrm1::vrm::spring_bone::VrmSpringBonePlugin))
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(1.0 / 60.0)))
        .configure_sets(
            Update,
            (TomoniSystems::Input, TomoniSystems::Dialogue, TomoniSystems::Behaviour, TomoniSystems::Pose).chain(),
        )
        .add_plugins((
            tomoni_xr::ViewerCorePlugin { placement: Default::default() },
            PosePlugin,
            LifePlugin,
            tomoni_companion::bridge::CompanionPlugin,
        ));
    tomoni_bench::spawn_skeleton(app.world_mut());
    tomoni_bench::spawn_hair_springs(app.world_mut());
    let presets = tomoni_avatar::vrm_check::PRESET_EXPRESSIONS;
    let map = presets.iter().map(|p| (VrmExpression::from(*p), app.world_mut().spawn(Name::new(*p)).id())).collect();
    app.world_mut().spawn((
        Companion,
        AvatarReady { model_height: 1.7, model_min_y: 0.0, scale: 1.0 },
        Transform::from_xyz(0.7, 0.0, -0.35),
        GlobalTransform::from_translation(Vec3::new(0.7, 0.0, -0.35)),
        ExpressionEntityMap(map),
    ));
    let chat = tomoni_companion::session::ChatArgs { endpoint: Some(url.into()), ..Default::default() };
    let r = chat.resolve().expect("config");
    let (bridge, _) = tomoni_companion::bridge::open(&r.config, r.persona, &chat, Some(false)).expect("bridge");
    app.insert_resource(bridge);
    app.world_mut().resource_mut::<tomoni_core::ViewerHead>().valid = true;
    single_threaded(&mut app);
    app
}

struct Stats {
    median_us: f64,
    p99_us: f64,
    allocs_per_frame: f64,
}

fn measure(app: &mut App, frames: usize, mut each: impl FnMut(&mut App, usize)) -> Stats {
    let mut times = Vec::with_capacity(frames);
    let before = tomoni_bench::allocations();
    for i in 0..frames {
        each(app, i);
        tomoni_bench::count_here(true);
        let t = Instant::now();
        app.update();
        let dt = t.elapsed();
        tomoni_bench::count_here(false);
        times.push(dt.as_secs_f64() * 1e6);
        // Real time passes between frames as in a 60 Hz app, so the worker threads keep pace.
        std::thread::sleep(Duration::from_micros(16_667).saturating_sub(dt));
    }
    let allocs = tomoni_bench::allocations() - before;
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Stats { median_us: at(0.5), p99_us: at(0.99), allocs_per_frame: allocs as f64 / frames as f64 }
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if !filter.is_empty() && !filter.iter().any(|f| "alive".contains(f.as_str())) {
        return;
    }
    let data = std::env::temp_dir().join(format!("tomoni-bench-alive-{}", std::process::id()));
    tomoni_bench::set_data_dir(&data);
    let mut empty = App::new();
    empty.add_plugins((MinimalPlugins, TransformPlugin));
    single_threaded(&mut empty);
    for _ in 0..300 {
        empty.update();
    }
    let base = measure(&mut empty, 1200, |_, _| {});

    let url = serve(2000, 80.0);
    let mut app = live_app(&url);
    // Warm up: life, gaze and the face bind; every buffer reaches its working size.
    let _ = measure(&mut app, 300, |_, _| {});
    let idle = measure(&mut app, 1200, |app, i| {
        let head = Transform::from_xyz((i as f32 * 0.01).sin() * 0.5, 1.6, 0.0);
        app.world_mut().resource_mut::<tomoni_core::ViewerHead>().transform = head;
    });
    app.world_mut().resource_mut::<tomoni_companion::bridge::Bridge>().say("Tell me about our walk.", None);
    // Wait for speech to start, then measure while the reply streams and is spoken.
    let t0 = Instant::now();
    while *app.world().resource::<Conversation>() != Conversation::Speaking && t0.elapsed().as_secs() < 20 {
        app.update();
        std::thread::sleep(Duration::from_millis(16));
    }
    let speaking = measure(&mut app, 1200, |app, i| {
        if i % 150 == 0 {
            app.world_mut().write_message(tomoni_core::behaviour::GestureCue::Procedural(
                tomoni_core::behaviour::Gesture::ALL[(i / 150) % 8],
            ));
        }
    });
    let mouth_moved = app.world().resource::<tomoni_core::behaviour::MouthWeights>().0;
    let ceremony = ceremony_running(&url, false);
    let ceremony_ears = ceremony_running(&url, true);
    let listening = listening_running(&url);
    // The springs really ran: the hair's root joints turned away from rest with the gestures.
    let mut roots = app.world_mut().query_filtered::<&Transform, With<bevy_vrm1::prelude::SpringRoot>>();
    let swing =
        roots.iter(app.world()).map(|t| t.rotation.angle_between(Quat::IDENTITY).to_degrees()).fold(0.0, f32::max);
    let state = *app.world().resource::<Conversation>();
    println!(
        "alive: frame-loop CPU per update (µs), single-threaded schedules, 60 Hz, dialogue at 80 tokens/s, the persona's voice (Piper by default)"
    );
    for (name, s) in [
        ("empty MinimalPlugins + TransformPlugin app", &base),
        ("companion idle (life, gaze)", &idle),
        ("companion speaking (stream, TTS, lip-sync, gestures)", &speaking),
        ("ceremony (music, scripted speech, operator page polled)", &ceremony),
        ("ceremony with ears held by the script (a guest talking)", &ceremony_ears),
        ("listening (a person talking: VAD, Whisper, turns)", &listening),
    ] {
        println!(
            "alive: {name:<52} median {:>7.1} µs  p99 {:>7.1} µs  allocations/frame {:>6.2}",
            s.median_us, s.p99_us, s.allocs_per_frame
        );
    }
    println!(
        "alive: ours while speaking, over the empty app: median {:.1} µs, p99 {:.1} µs; allocations/frame over the empty app: idle {:.2}, speaking {:.2}",
        speaking.median_us - base.median_us,
        speaking.p99_us - base.p99_us,
        idle.allocs_per_frame - base.allocs_per_frame,
        speaking.allocs_per_frame - base.allocs_per_frame
    );
    println!(
        "alive: p99 speaking / p99 idle = {:.3} (state at the end: {state:?}, mouth {mouth_moved:?}, hair springs swung up to {swing:.1}°)",
        speaking.p99_us / idle.p99_us
    );
    let _ = std::fs::remove_dir_all(&data);
    // Voices and the VAD may still be inside ONNX Runtime on their threads: it must not be torn
    // down under them at exit.
    tomoni_voice::onnx::quiesce();
}

/// A microphone that hears a person say the same thing every 4 s, at the pace of speech.
struct Talker {
    speech: Vec<f32>,
    t0: Instant,
    at: usize,
}

impl tomoni_listen::audio::AudioSource for Talker {
    fn read(&mut self, out: &mut Vec<f32>, _: Duration) -> Result<bool, tomoni_listen::ListenError> {
        std::thread::sleep(Duration::from_millis(10));
        let due = (self.t0.elapsed().as_secs_f64() * 16_000.0) as usize;
        let period = 4 * 16_000;
        for i in self.at..due {
            out.push(self.speech.get(i % period).copied().unwrap_or(0.0));
        }
        self.at = due.max(self.at);
        Ok(true)
    }
}

/// A fresh live app hearing a person (Silero VAD and Whisper on the listener's threads; each
/// utterance becomes a turn the companion answers), measured over 20 s.
fn listening_running(url: &str) -> Stats {
    let mut app = live_app(url);
    let source = talker();
    let settings = tomoni_core::config::ListenSettings::default();
    let hearing = {
        let bridge = app.world().resource::<tomoni_companion::bridge::Bridge>();
        tomoni_companion::hearing::Hearing::start_with(&settings, Box::new(source), "bench".into(), bridge).unwrap()
    };
    app.insert_resource(hearing).add_plugins(tomoni_companion::hearing::HearingPlugin);
    single_threaded(&mut app);
    let _ = measure(&mut app, 120, |_, _| {});
    let s = measure(&mut app, 1200, |_, _| {});
    let h = app.world().resource::<tomoni_companion::hearing::Hearing>();
    println!("alive: listening heard {} utterances during the measurement: {:?}", h.heard.len(), h.heard.first());
    s
}

/// The shipped wedding running in a fresh live app, its operator page served on loopback and
/// polled 20 times a second by a client thread, measured from its first step (procession music
/// mixed on the audio clock, then the welcome spoken). `ears`: a microphone hears someone
/// talking all along; the script holds the ears (closed outside its listen steps).
fn ceremony_running(url: &str, ears: bool) -> Stats {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script =
        tomoni_companion::ceremony::script::load(&root.join("configs/ceremonies/wedding.toml"), &root.join("assets"))
            .expect("the shipped wedding");
    let ceremony = tomoni_companion::ceremony::Ceremony::new(script, std::env::temp_dir()).expect("runnable");
    let mut app = live_app(url);
    let launch = tomoni_companion::ceremony::launch::CeremonyLaunch::new(
        ceremony,
        Some(("127.0.0.1:0".parse().unwrap(), Some("bench-token-1234".into()))),
    );
    app.add_plugins(tomoni_companion::commands::ControlPlugin);
    if ears {
        let hearing = {
            let bridge = app.world().resource::<tomoni_companion::bridge::Bridge>();
            let settings = tomoni_core::config::ListenSettings::default();
            tomoni_companion::hearing::Hearing::start_with(&settings, Box::new(talker()), "bench".into(), bridge)
                .unwrap()
        };
        app.insert_resource(hearing).add_plugins(tomoni_companion::hearing::HearingPlugin);
    }
    tomoni_companion::ceremony::launch::install(&mut app, launch, false, "offline").expect("operator page");
    single_threaded(&mut app);
    let page = app.world().resource::<tomoni_companion::ceremony::launch::OperatorPage>().url.clone();
    let base = page.split("/?").next().unwrap().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let c = reqwest::blocking::Client::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = c.get(format!("{base}/api/state")).bearer_auth("bench-token-1234").send();
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // Warm up past the ceremony's start (it waits for the companion to be ready).
    let _ = measure(&mut app, 300, |_, _| {});
    let s = measure(&mut app, 1200, |_, _| {});
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = poller.join();
    let c = app.world().resource::<tomoni_companion::ceremony::Ceremony>();
    println!("alive: the ceremony reached step {} ({:?}) during the measurement", c.step, c.status().name);
    if let Some(h) = app.world().get_resource::<tomoni_companion::hearing::Hearing>() {
        println!("alive: ears held by the script: {:?}, heard {} utterances", h.scripted, h.heard.len());
    }
    s
}

/// Someone saying the same sentence every 4 s into the microphone.
fn talker() -> Talker {
    let voice = tomoni_voice::espeak::EspeakVoice { voice: "en-us+f2".into(), rate: 170, pitch: 60 };
    let s = tomoni_voice::espeak::synthesize("Could you tell me about the river walk again?", &voice).unwrap();
    let x: Vec<f32> = s.samples.iter().map(|&v| f32::from(v) / 32768.0).collect();
    let speech = tomoni_listen::audio::resample(&x, s.sample_rate, 16_000);
    Talker { speech, t0: Instant::now(), at: 0 }
}
