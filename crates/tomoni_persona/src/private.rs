//! Files that hold a person's life with their companion (memories, personas, exports, vows)
//! are readable by that person only: `0600` files in a `0700` state folder. Other local users
//! could read conversations when they were created with the default `0644`/`0755`.
//!
//! On systems without Unix permissions these are plain file operations.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Mode of private files.
pub const FILE_MODE: u32 = 0o600;
/// Mode of the state folder.
pub const DIR_MODE: u32 = 0o700;

/// Creates the state folder (and its parents) and makes the folder itself user-only, also
/// when it already existed with wider rights. Parents keep theirs: they are the user's.
pub fn dir(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path)?;
    set_mode(path, DIR_MODE)
}

/// Creates (or truncates) a user-only file, tightening one that existed with wider rights.
pub fn create(path: &Path) -> io::Result<File> {
    let f = options().create(true).truncate(true).open(path)?;
    set_mode(path, FILE_MODE)?;
    Ok(f)
}

/// Creates a new user-only file; an existing file is an error and is left untouched (checked
/// and created in one step, so nothing can slip in between).
pub fn create_new(path: &Path) -> io::Result<File> {
    options().create_new(true).open(path)
}

/// Writes `bytes` to a user-only file (see [`create`]).
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    create(path)?.write_all(bytes.as_ref())
}

/// Writes `bytes` to a new user-only file (see [`create_new`]).
pub fn write_new(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    create_new(path)?.write_all(bytes.as_ref())
}

/// Makes an existing file user-only (a store created by an older version).
pub fn tighten(path: &Path) -> io::Result<()> {
    set_mode(path, FILE_MODE)
}

fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, FILE_MODE);
    o
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_the_state_folder_are_user_only_even_when_they_existed_wider() {
        let root = std::env::temp_dir().join(format!("tomoni-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let state = root.join("a/tomoni");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir(&state).unwrap();
        assert_eq!(mode(&state), 0o700);
        let f = state.join("memory.json");
        std::fs::write(&f, "old").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&f, "new").unwrap();
        assert_eq!((mode(&f), std::fs::read_to_string(&f).unwrap().as_str()), (0o600, "new"));
        let g = state.join("export.json");
        write_new(&g, "x").unwrap();
        assert_eq!(mode(&g), 0o600);
        assert_eq!(write_new(&g, "y").unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&g).unwrap(), "x");
        let _ = std::fs::remove_dir_all(&root);
    }
}
