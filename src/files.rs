//! Reading the files kvenv is pointed at (CA bundles, token files, certificates,
//! Azure Arc keys, env files, templates): opened without blocking, required to
//! be regular files, and read with a hard cap, so that a FIFO, `/dev/zero` or a
//! huge file ends in one clear error instead of a hang or unbounded memory.

use crate::platform::{file_kind, open_for_reading, FileKind, OpenError};
use std::io::Read;
use std::path::Path;

/// Why a file was refused. The messages name the problem, never the content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum FileError {
    #[error("cannot read: {0}")]
    Unreadable(String),
    #[error("is a symbolic link; refusing to follow it")]
    Symlink,
    #[error("not a regular file (a {0})")]
    NotRegular(&'static str),
    #[error("larger than {} KiB", .0 / 1024)]
    TooLarge(u64),
}

/// How a path may be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Links {
    /// A symbolic link to a regular file is fine (config files, mounted secrets).
    Follow,
    /// The path itself must be the file (`O_NOFOLLOW`).
    Refuse,
}

/// Reads a regular file of at most `max` bytes. The open never blocks (a FIFO
/// with no writer would otherwise hang past `--timeout`), and the read stops
/// one byte past `max` whatever the file claims its size is.
pub(crate) fn read_regular(path: &Path, max: u64, links: Links) -> Result<Vec<u8>, FileError> {
    let file = open_for_reading(path, links == Links::Follow).map_err(|e| match e {
        OpenError::Symlink => FileError::Symlink,
        OpenError::Io(e) => FileError::Unreadable(io_reason(&e)),
    })?;
    let meta = file
        .metadata()
        .map_err(|e| FileError::Unreadable(io_reason(&e)))?;
    match file_kind(&meta) {
        FileKind::Regular => {}
        other => return Err(FileError::NotRegular(other.name())),
    }
    if meta.len() > max {
        return Err(FileError::TooLarge(max));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::Unreadable(io_reason(&e)))?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooLarge(max));
    }
    Ok(bytes)
}

/// The OS's words for an I/O error, without the "(os error N)" noise.
fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(read_regular(&path, 3, Links::Refuse).unwrap(), b"abc");
        assert_eq!(
            read_regular(&path, 2, Links::Follow),
            Err(FileError::TooLarge(2))
        );
    }

    #[test]
    #[cfg(unix)] // FIFOs, /dev/zero
    fn devices_fifos_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert_eq!(
            read_regular(&fifo, 10, Links::Follow),
            Err(FileError::NotRegular("FIFO"))
        );
        assert_eq!(
            read_regular(Path::new("/dev/zero"), 10, Links::Follow),
            Err(FileError::NotRegular("device"))
        );
        assert_eq!(
            read_regular(dir.path(), 10, Links::Follow),
            Err(FileError::NotRegular("directory"))
        );
    }

    #[test]
    #[cfg(unix)] // symbolic links need privileges on Windows
    fn symlinks_are_followed_only_when_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        std::fs::write(&target, b"x").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read_regular(&link, 10, Links::Follow).unwrap(), b"x");
        assert_eq!(
            read_regular(&link, 10, Links::Refuse),
            Err(FileError::Symlink)
        );
        let to_zero = dir.path().join("z");
        std::os::unix::fs::symlink("/dev/zero", &to_zero).unwrap();
        assert_eq!(
            read_regular(&to_zero, 10, Links::Follow),
            Err(FileError::NotRegular("device"))
        );
    }
}
