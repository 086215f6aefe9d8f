//! tomoni_persona (placeholder while dependencies build).
