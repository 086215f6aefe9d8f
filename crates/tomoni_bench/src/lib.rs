//! tomoni_bench (placeholder while dependencies build).
