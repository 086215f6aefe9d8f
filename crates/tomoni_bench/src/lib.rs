//! Benchmarks: see `benches/`. Run them with `cargo xtask bench`, which builds them in the dev
//! profile every other task uses, so Bevy is compiled once. This library holds what several
//! benches share (and the tests of `tomoni` and `tomoni_companion`): a VRM-like skeleton with spring-boned hair,
//! a loopback HTTP request reader, a counting global allocator, and the labelled speech the
//! lip-sync is trained and measured on ([`lipsync`]).

pub mod lipsync;

use bevy::prelude::*;
use bevy_vrm1::prelude::{ColliderShape, RestTransform, SpringJointProps, SpringRoot, VrmBone};
use bevy_vrm1::vrm::spring_bone::{SpringCenterNode, SpringColliders, SpringJoints};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use tomoni_avatar::pose::ModelRest;

/// Spawns 55 bones like the default avatar's: the humanoid bones that get poses
/// ([`tomoni_avatar::life::ANIMATED_BONES`]), the rest named but never posed.
pub fn spawn_skeleton(world: &mut World) {
    let names = tomoni_avatar::life::ANIMATED_BONES;
    for i in 0..55 {
        let name = names.get(i).map_or_else(|| format!("finger{i}"), |s| s.to_string());
        let rest = Transform::from_rotation(Quat::from_rotation_z(0.01 * i as f32));
        world.spawn((VrmBone(name), RestTransform(rest), ModelRest(Quat::from_rotation_x(0.02 * i as f32)), rest));
    }
}

/// Hair spring chains like the default avatar's (`VRMC_springBone`: seven chains of three
/// joints round the back and sides of the head, one skull collider), simulated by bevy_vrm1's
/// own spring system. Needs [`spawn_skeleton`] first; returns the first joint of each chain.
pub fn spawn_hair_springs(world: &mut World) -> Vec<Entity> {
    let head = world
        .query::<(Entity, &VrmBone)>()
        .iter(world)
        .find(|(_, b)| b.0 == "head")
        .map(|(e, _)| e)
        .expect("spawn_skeleton first");
    let skull = ColliderShape::Sphere(bevy_vrm1::prelude::Sphere { offset: [0.0, 0.08, 0.0], radius: 0.08 });
    let props = SpringJointProps {
        drag_force: 0.4,
        gravity_dir: Vec3::NEG_Y,
        gravity_power: 0.0,
        hit_radius: 0.01,
        stiffness: 1.2,
    };
    [-150.0f32, -110.0, -72.0, 72.0, 110.0, 150.0, 180.0]
        .iter()
        .map(|deg| {
            let (s, c) = deg.to_radians().sin_cos();
            let j0 = world.spawn((Transform::from_xyz(0.1 * s, 0.1, 0.1 * c), props, ChildOf(head))).id();
            let j1 = world.spawn((Transform::from_xyz(0.0, -0.05, 0.0), props, ChildOf(j0))).id();
            let j2 = world.spawn((Transform::from_xyz(0.0, -0.05, 0.0), props, ChildOf(j1))).id();
            world.entity_mut(j0).insert(SpringRoot {
                joints: SpringJoints(vec![j0, j1, j2]),
                colliders: SpringColliders(vec![(head, skull)]),
                center_node: SpringCenterNode(None),
            });
            j0
        })
        .collect()
}

/// An OpenAI-compatible chat endpoint on loopback that answers each request (up to 8) by
/// streaming `chunks` as SSE content deltas, one every `pace`, then the end of the stream — or,
/// with `cut`, closes the connection without it (a stream that breaks mid-reply). Returns the
/// base URL (`http://127.0.0.1:PORT/v1`).
pub fn serve_sse_chunks(chunks: Vec<String>, cut: bool, pace: std::time::Duration) -> String {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}/v1", listener.local_addr().expect("its address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut s) = stream else { continue };
            let _ = read_request(&s);
            let _ = write!(s, "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n");
            for c in &chunks {
                let body = format!("data: {}\n\n", serde_json::json!({"choices": [{"delta": {"content": c}}]}));
                let _ = s.write_all(body.as_bytes());
                let _ = s.flush();
                std::thread::sleep(pace);
            }
            if !cut {
                let _ =
                    s.write_all(b"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
            }
            // Dropping the socket ends (or cuts) the stream.
        }
    });
    url
}

/// Reads one HTTP request from a loopback client: its first line and its body.
pub fn read_request(s: &TcpStream) -> (String, Vec<u8>) {
    let (head, body) = read_request_head(s);
    (head.lines().next().map(|l| format!("{l}\r\n")).unwrap_or_default(), body)
}

/// Reads one HTTP request: its request line and headers as sent, and its body.
pub fn read_request_head(s: &TcpStream) -> (String, Vec<u8>) {
    let mut reader = BufReader::new(s.try_clone().expect("socket clone"));
    let (mut head, mut len) = (String::new(), 0usize);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
    }
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    (head, body)
}

/// A global allocator that counts allocations made on threads that opted in (the frame loop),
/// not the worker threads. A test or bench binary installs it with
/// `#[global_allocator] static A: tomoni_bench::Counting = tomoni_bench::Counting;`.
pub struct Counting;

static ALLOCS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
thread_local! {
    static COUNT_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Counts (or stops counting) this thread's allocations.
pub fn count_here(on: bool) {
    COUNT_HERE.with(|c| c.set(on));
}

/// Allocations counted so far.
pub fn allocations() -> u64 {
    ALLOCS.load(std::sync::atomic::Ordering::Relaxed)
}

fn counted() {
    if COUNT_HERE.try_with(std::cell::Cell::get).unwrap_or(false) {
        ALLOCS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

// SAFETY: defers to the system allocator; only adds a relaxed counter increment.
#[expect(unsafe_code, reason = "a counting global allocator")]
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        counted();
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, n: usize) -> *mut u8 {
        counted();
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.realloc(p, l, n) }
    }
}

/// Points the talk thread's memory (`TOMONI_DATA_DIR`) at a folder of the bench's own. Call it
/// first thing in `main`, before any thread exists.
pub fn set_data_dir(dir: &std::path::Path) {
    // Edition 2024 makes `set_var` unsafe; a bench owns its process and sets this before any
    // thread starts, but our workspace denies unsafe code elsewhere: keep it to this one place.
    #[expect(unsafe_code, reason = "set_var before any other thread exists")]
    // SAFETY: single-threaded at this point (no app, no server yet).
    unsafe {
        std::env::set_var("TOMONI_DATA_DIR", dir);
    }
}
