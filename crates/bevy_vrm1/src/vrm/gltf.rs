pub mod extensions;

pub mod materials;

pub mod prelude {
    pub use crate::vrm::gltf::{
        extensions::{VrmExtensions, VrmNode, vrmc_spring_bone::*, vrmc_vrm::*},
        materials::*,
    };
}
