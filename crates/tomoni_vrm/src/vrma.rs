//! A VRM animation clip (`.vrma`, `VRMC_vrm_animation`) as data: which expressions it animates.
//! While such a clip plays, the companion's own face (blinks, emotions) must leave those
//! expressions to it, or bevy_vrm1 shows the face's override instead of the clip's track.

/// The expression names (preset and custom) a clip has tracks for.
pub fn expression_tracks(bytes: &[u8]) -> Result<Vec<String>, String> {
    let (doc, _) = crate::glb::parts(bytes)?;
    let ext = doc.pointer("/extensions/VRMC_vrm_animation").ok_or("no `extensions.VRMC_vrm_animation`: not a VRMA")?;
    Ok(crate::glb::expressions(ext).map(|(_, name, _)| name.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped sample clip smiles as it cheers (`crates/xtask/animation/make_vrma.py`).
    #[test]
    fn the_sample_clip_has_a_happy_track() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let bytes = std::fs::read(root.join("assets/animations/cheer.vrma")).unwrap();
        assert_eq!(expression_tracks(&bytes).unwrap(), ["happy"]);
    }

    #[test]
    fn a_file_that_is_not_a_clip_says_so() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let bytes = std::fs::read(root.join("assets/avatars/default.vrm")).unwrap();
        assert!(expression_tracks(&bytes).unwrap_err().contains("not a VRMA"));
    }
}
