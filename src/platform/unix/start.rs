//! What kvenv finds at start and keeps as it was: its environment entries
//! exactly as given, and its standard descriptors (closed ones stay closed
//! for the command).

use crate::secret::SecretBytes;
use nix::fcntl::{fcntl, FcntlArg};
use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd};

#[allow(unsafe_code)] // declaring the C library's `environ`; read in `raw_environment`
unsafe extern "C" {
    /// The C library's environment: a NULL-terminated array of NUL-terminated
    /// `NAME=VALUE` strings (glibc and musl both export it).
    static environ: *const *const std::ffi::c_char;
}

/// kvenv's environment exactly as it stands, every entry as `ENTRY\0`: those
/// without `=` or starting with it too, which Rust's `vars_os` leaves out and
/// `env(1)` passes on. Read from the C library's `environ`, which kvenv never changes.
pub(crate) fn raw_environment() -> Vec<SecretBytes> {
    let mut entries = Vec::new();
    // SAFETY: `environ` is either null or points to a NULL-terminated array of
    // pointers to NUL-terminated strings that the C library keeps valid; no
    // thread changes the environment while kvenv reads it (kvenv never
    // changes its own environment), and each string is copied out before the next is read.
    #[allow(unsafe_code)]
    unsafe {
        let mut at = environ;
        while !at.is_null() && !(*at).is_null() {
            let bytes = CStr::from_ptr(*at).to_bytes_with_nul();
            let mut entry = SecretBytes::with_capacity(bytes.len());
            entry.push(bytes);
            entries.push(entry);
            at = at.add(1);
        }
    }
    entries
}

/// The OS string whose bytes are `bytes` (on Unix, any bytes are one).
pub(crate) fn os_string(bytes: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes).to_owned()
}

/// When kvenv was started with descriptor 0, 1 or 2 closed, puts an empty,
/// sealed, close-on-exec in-memory file there, so that no descriptor kvenv
/// opens (a socket, a template's in-memory file) takes that number: kvenv's
/// own lines would go into it, or the command would get a template as its
/// stdin. Close-on-exec, so the command finds them closed, as with `env(1)`.
pub(crate) fn hold_closed_standard_descriptors() {
    let closed = |fd: std::os::fd::BorrowedFd<'_>| fcntl(fd, FcntlArg::F_GETFD).is_err();
    let any_closed = closed(std::io::stdin().as_fd())
        || closed(std::io::stdout().as_fd())
        || closed(std::io::stderr().as_fd());
    if !any_closed {
        return;
    }
    // Each new descriptor takes the lowest free number: the closed ones first.
    while let Some(fd) = placeholder() {
        if fd.as_raw_fd() > 2 {
            break;
        }
        // Held for kvenv's whole life; exec closes it.
        let _ = fd.into_raw_fd();
    }
}

/// An empty, close-on-exec file that holds a descriptor number: a sealed
/// `memfd` on Linux, `/dev/null` read-only elsewhere.
fn placeholder() -> Option<std::os::fd::OwnedFd> {
    #[cfg(target_os = "linux")]
    if super::super::Paths::now() == super::super::Paths::Linux {
        let fd = super::super::os::memory_file(c"kvenv-closed").ok()?;
        let _ = super::super::os::seal(&fd, false);
        return Some(fd);
    }
    use nix::fcntl::{open, OFlag};
    open(
        c"/dev/null",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()
}
