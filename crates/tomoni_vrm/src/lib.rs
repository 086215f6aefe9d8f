//! A VRM file as data, before any engine sees it: the binary glTF container ([`glb`]), the
//! checks a file must pass to be shown ([`vrm_check`]), the VRM 0.x → 1.0 migration
//! ([`vrm0`]), the expressions' material binds ([`binds`]), and what a motion clip animates
//! ([`vrma`]).
//!
//! These parsers take files from strangers, so they live apart from Bevy: they build in
//! seconds, their tests need no GPU, and `cargo xtask fuzz vrm` instruments them alone.
//!
//! ```no_run
//! let info = tomoni_vrm::vrm_check::inspect(std::path::Path::new("assets/avatars/default.vrm"));
//! println!("{info:?}");
//! ```

pub mod binds;
pub mod glb;
pub mod vrm0;
pub mod vrm_check;
pub mod vrma;
