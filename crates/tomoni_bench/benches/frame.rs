//! CPU time of tomoni's own per-frame systems (placement, pose writing onto a 55-bone VRM
//! skeleton) in a `MinimalPlugins` app: one `app.update()` is one frame of our work, without
//! rendering. Rendered frame times come from `tomoni bench-frames` (see docs/benchmarks.md).
#![expect(missing_docs, reason = "criterion_group! generates undocumented functions")]

use bevy::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use tomoni_avatar::PosePlugin;
use tomoni_core::TomoniSystems;
use tomoni_xr::ViewerCorePlugin;

fn app() -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .configure_sets(
            Update,
            (TomoniSystems::Input, TomoniSystems::Dialogue, TomoniSystems::Behaviour, TomoniSystems::Pose).chain(),
        )
        .add_plugins((ViewerCorePlugin { placement: Default::default() }, PosePlugin));
    tomoni_bench::spawn_skeleton(app.world_mut());
    app.world_mut().resource_mut::<tomoni_core::ViewerHead>().valid = true;
    app.update();
    app
}

fn bench(c: &mut Criterion) {
    // Baseline: the same MinimalPlugins app with none of our systems, so the difference is ours.
    let mut empty = App::new();
    empty.add_plugins(MinimalPlugins);
    empty.update();
    c.bench_function("baseline: empty MinimalPlugins update", |b| b.iter(|| empty.update()));
    let mut app = app();
    let mut t = 0.0f32;
    c.bench_function("our per-frame systems, 55-bone avatar", |b| {
        b.iter(|| {
            // Change the pose every frame so the write path really runs.
            t += 0.016;
            app.world_mut()
                .resource_mut::<tomoni_avatar::BonePose>()
                .0
                .insert("head", Quat::from_rotation_y(t.sin() * 0.3));
            app.update();
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
