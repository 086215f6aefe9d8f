//! tomoni_avatar (placeholder while dependencies build).
