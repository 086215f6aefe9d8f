//! The libFuzzer entry point for every target: `TOMONI_FUZZ_TARGET` names the one to run
//! (one binary, one instrumented build). Built and run by `cargo xtask fuzz`.

#![no_main]

use std::sync::OnceLock;

static TARGET: OnceLock<tomoni_fuzz::Target> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let target = TARGET.get_or_init(|| {
        let name = std::env::var("TOMONI_FUZZ_TARGET").unwrap_or_default();
        tomoni_fuzz::target(&name).unwrap_or_else(|| {
            eprintln!("TOMONI_FUZZ_TARGET={name:?} is not one of: {}", tomoni_fuzz::names().join(", "));
            std::process::exit(2)
        })
    });
    (target.run)(data);
});
