//! Benchmarks only: see `benches/`. Run them with `cargo xtask bench`, which builds them in the
//! dev profile every other task uses, so Bevy is compiled once.
