//! What the binary's tests share.

use std::path::Path;
use std::process::Command;

/// The `tomoni` binary, run from the repository root; on the Vulkan driver the tests name
/// (`TOMONI_TEST_VULKAN=lavapipe`: chosen explicitly, so a stray GPU driver on a developer's
/// machine cannot make CI and local results differ).
pub fn tomoni_cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tomoni"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    if std::env::var("TOMONI_TEST_VULKAN").as_deref() == Ok("lavapipe") {
        let icd = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";
        c.env("VK_DRIVER_FILES", icd).env("VK_ICD_FILENAMES", icd);
    }
    c
}
