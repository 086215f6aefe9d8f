//! tomoni_voice (placeholder while dependencies build).
