//! Files as Windows opens and describes them.

use super::super::{FileKind, OpenError};
use std::fs::{File, FileType};
use std::path::{Path, PathBuf};

/// Windows tells no more than file, folder or link.
pub(crate) fn special_kind(_kind: &FileType) -> FileKind {
    FileKind::Other
}

/// Opens `path` to read; with `follow` false, a symbolic link at `path`
/// itself is refused.
pub(crate) fn open_for_reading(path: &Path, follow: bool) -> Result<File, OpenError> {
    if !follow && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(OpenError::Symlink);
    }
    File::open(path).map_err(OpenError::Io)
}

/// Windows files take their folder's access list: kvenv cannot make one
/// owner-only here (see the README).
pub(crate) fn owner_only(_file: &File) -> std::io::Result<()> {
    Ok(())
}

/// Any file may be run on Windows; nothing to set.
pub(crate) fn make_executable(_file: &File) -> std::io::Result<()> {
    Ok(())
}

/// The running kvenv's own image.
pub(crate) fn running_binary() -> std::io::Result<PathBuf> {
    std::env::current_exe()
}
