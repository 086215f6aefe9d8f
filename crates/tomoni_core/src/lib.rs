//! tomoni_core (placeholder while dependencies build).
