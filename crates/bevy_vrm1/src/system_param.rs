mod cameras;
mod child_searcher;
mod parent_searcher;
mod vrm_animation;

pub mod prelude {
    pub use crate::system_param::{
        cameras::Cameras, child_searcher::ChildSearcher, parent_searcher::ParentSearcher,
        vrm_animation::VrmAnimation,
    };
}
