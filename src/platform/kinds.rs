//! What the OS says about a file, in the same words on every OS.

/// What a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(windows, allow(dead_code))] // Windows says only file, folder, link
pub(crate) enum FileKind {
    Regular,
    Directory,
    Symlink,
    Fifo,
    Socket,
    Device,
    Other,
}

impl FileKind {
    /// How kvenv's lines name it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            FileKind::Regular => "regular file",
            FileKind::Directory => "directory",
            FileKind::Symlink => "symbolic link",
            FileKind::Fifo => "FIFO",
            FileKind::Socket => "socket",
            FileKind::Device => "device",
            FileKind::Other => "special file",
        }
    }
}

/// The kind of file `meta` describes.
pub(crate) fn file_kind(meta: &std::fs::Metadata) -> FileKind {
    let kind = meta.file_type();
    if kind.is_file() {
        FileKind::Regular
    } else if kind.is_dir() {
        FileKind::Directory
    } else if kind.is_symlink() {
        FileKind::Symlink
    } else {
        super::special_kind(&kind)
    }
}

/// Why `open_for_reading` failed.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The path is a symbolic link, and links were refused.
    Symlink,
    Io(std::io::Error),
}
