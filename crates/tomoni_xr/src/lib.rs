//! tomoni_xr (placeholder while dependencies build).
