//! Files as the OS opens and describes them: opens that never block or
//! follow a last link when told not to, file types, and modes.

use super::super::{FileKind, OpenError};
use std::fs::{File, FileType};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What a file that is no regular file, folder or link is here.
pub(crate) fn special_kind(kind: &FileType) -> FileKind {
    if kind.is_fifo() {
        FileKind::Fifo
    } else if kind.is_socket() {
        FileKind::Socket
    } else if kind.is_char_device() || kind.is_block_device() {
        FileKind::Device
    } else {
        FileKind::Other
    }
}

/// Opens `path` to read, close-on-exec and without blocking (a FIFO with no
/// writer would otherwise hang); with `follow` false, a symbolic link at
/// `path` itself is refused (`O_NOFOLLOW`).
pub(crate) fn open_for_reading(path: &Path, follow: bool) -> Result<File, OpenError> {
    let mut flags = nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC;
    if !follow {
        flags |= nix::libc::O_NOFOLLOW;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ELOOP) if !follow => OpenError::Symlink,
            _ => OpenError::Io(e),
        })
}

/// Readable and writable by its owner only (0600), whatever the umask.
pub(crate) fn owner_only(file: &File) -> std::io::Result<()> {
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

/// Readable and runnable by all, writable by its owner (0755).
pub(crate) fn make_executable(file: &File) -> std::io::Result<()> {
    file.set_permissions(std::fs::Permissions::from_mode(0o755))
}

/// Where the running kvenv's own image can be read, whatever its name or
/// whether it still has one.
pub(crate) fn running_binary() -> std::io::Result<PathBuf> {
    if cfg!(target_os = "linux") {
        Ok(PathBuf::from("/proc/self/exe"))
    } else {
        std::env::current_exe()
    }
}
