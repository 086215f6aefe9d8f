//! The no-allocation invariants, asserted (the `alive` bench prints the same figures): once
//! warm, the companion's frame-loop systems allocate nothing per frame, idle or while the
//! mouth follows speech on the audio clock. Allocations are counted on the frame-loop thread,
//! only while the companion's own systems run (`CompanionSystems`), with a single-threaded
//! executor so no task spawning of Bevy's is counted.

mod common;

use bevy::ecs::schedule::SingleThreadedExecutor;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use common::{app, bridge, run_until};
use std::time::Duration;
use tomoni_companion::bridge::{Bridge, CompanionSystems};
use tomoni_core::behaviour::Conversation;
use tomoni_persona::wellbeing::Policy;

#[global_allocator]
static GLOBAL: tomoni_bench::Counting = tomoni_bench::Counting;

fn start_counting() {
    tomoni_bench::count_here(true);
}
fn stop_counting() {
    tomoni_bench::count_here(false);
}

/// Allocations made by the companion's systems over `frames` updates.
fn allocations(app: &mut App, frames: usize) -> u64 {
    let before = tomoni_bench::allocations();
    for _ in 0..frames {
        app.update();
    }
    tomoni_bench::allocations() - before
}

#[test]
fn the_companion_allocates_nothing_per_frame_idle_or_speaking() {
    let mut app = app(bridge("alloc", Policy::default()));
    app.add_systems(
        Update,
        (start_counting.before(CompanionSystems::Talk), stop_counting.after(CompanionSystems::Follow)),
    );
    app.edit_schedule(Update, |s| {
        s.set_executor(SingleThreadedExecutor::new());
    });
    // Warm up: the first frames size the buffers.
    for _ in 0..30 {
        app.update();
    }
    assert_eq!(allocations(&mut app, 300), 0, "idle");
    // A reply, synthesised and queued while the clock stands still (zero-length frames), so
    // that every event has arrived before the measured stretch of speaking.
    app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::ZERO));
    app.world_mut().resource_mut::<Bridge>().say("hello", None);
    let (mut last, mut quiet) = (0, 0);
    run_until(&mut app, 5000, |a| {
        let b = a.world().resource::<Bridge>();
        let pending = b.pending_samples();
        quiet = if pending > 0 && pending == last && b.turn_ended() { quiet + 1 } else { 0 };
        last = pending;
        quiet > 150 // every clause synthesised and queued: nothing new for a while
    });
    app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_secs_f64(1.0 / 60.0)));
    for _ in 0..5 {
        app.update();
    }
    assert_eq!(*app.world().resource::<Conversation>(), Conversation::Speaking);
    let n = allocations(&mut app, 120);
    assert_eq!(*app.world().resource::<Conversation>(), Conversation::Speaking, "still speaking after 2 s");
    assert_eq!(n, 0, "while the mouth follows the audio clock");
}
