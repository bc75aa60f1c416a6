//! Anonymous in-memory files for `--template TEMPLATE=VAR`: a `memfd` holding
//! the rendered template, mode 0600, positioned at offset 0 and left open
//! across exec so the command can read `/dev/fd/N`. For `run` it is sealed
//! against any change; for `run --watch` with `signal:NAME` kvenv keeps it
//! writable to replace the content in place. Nothing touches a filesystem;
//! without memfd the option fails.

use crate::error::Error;
use crate::secret::SecretBytes;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::stat::{fchmod, Mode};
use nix::unistd::{lseek, Whence};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd, RawFd};

/// Writes `content` into a new sealed memfd and returns its descriptor number,
/// now inherited by exec (close-on-exec cleared for this fd only).
pub(crate) fn sealed(name: &str, content: &SecretBytes) -> Result<RawFd, Error> {
    create(name, content, true).map(IntoRawFd::into_raw_fd)
}

/// A memfd like [`sealed`], but writable by kvenv later ([`replace`]); kvenv
/// owns it and it closes when dropped.
pub(crate) fn shared(name: &str, content: &SecretBytes) -> Result<OwnedFd, Error> {
    create(name, content, false)
}

/// Replaces a [`shared`] memfd's content with one write and a truncation, so
/// that a command that reads the file again (after the signal kvenv sends it
/// next) sees only the new content.
pub(crate) fn replace(fd: &OwnedFd, content: &SecretBytes) -> Result<(), Error> {
    let fail = |e: nix::Error| Error::internal("replacing a template's in-memory file", e);
    let mut written = 0;
    while written < content.len() {
        written += nix::sys::uio::pwrite(fd, &content.expose()[written..], written as i64)
            .map_err(fail)?;
    }
    nix::unistd::ftruncate(fd, content.len() as i64).map_err(fail)
}

fn create(name: &str, content: &SecretBytes, seal: bool) -> Result<OwnedFd, Error> {
    let fail = |what: &str, e: nix::Error| Error::internal(format!("--template {name}: {what}"), e);
    let fd: OwnedFd = memory_file().map_err(|e| {
        fail(
            "no anonymous in-memory file here (memfd, Linux only so far; kvenv never falls back to a file on disk)",
            e,
        )
    })?;
    // libpq and others refuse password files readable by group or others.
    fchmod(fd.as_fd(), Mode::S_IRUSR | Mode::S_IWUSR).map_err(|e| fail("fchmod", e))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(content.expose()).map_err(|e| {
        Error::internal(format!("--template {name}: writing the in-memory file"), e)
    })?;
    let fd = OwnedFd::from(file);
    if seal {
        seal_all(&fd).map_err(|e| fail("sealing", e))?;
    }
    lseek(fd.as_fd(), 0, Whence::SeekSet).map_err(|e| fail("lseek", e))?;
    // Never 0, 1 or 2, whatever kvenv was started with: the command would take
    // the template for its stdin, stdout or stderr (the copy is 3 or above).
    let fd = match fd.as_raw_fd() {
        0..=2 => fd.try_clone().map_err(|e| {
            Error::internal(format!("--template {name}: moving the in-memory file"), e)
        })?,
        _ => fd,
    };
    fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
        .map_err(|e| fail("clearing close-on-exec", e))?;
    Ok(fd)
}

/// An anonymous in-memory file, close-on-exec, that can be sealed.
#[cfg(target_os = "linux")]
fn memory_file() -> nix::Result<OwnedFd> {
    use nix::sys::memfd::{memfd_create, MFdFlags};
    memfd_create(
        c"kvenv-template",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
}

/// Elsewhere there is none yet: `--template` fails rather than use a disk.
#[cfg(not(target_os = "linux"))]
fn memory_file() -> nix::Result<OwnedFd> {
    Err(nix::Error::ENOSYS)
}

/// Sealed against writing, growing, shrinking and further sealing.
#[cfg(target_os = "linux")]
fn seal_all(fd: &OwnedFd) -> nix::Result<()> {
    use nix::fcntl::SealFlag;
    let seals = SealFlag::F_SEAL_WRITE
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_SEAL;
    fcntl(fd.as_fd(), FcntlArg::F_ADD_SEALS(seals)).map(drop)
}

#[cfg(not(target_os = "linux"))]
fn seal_all(_fd: &OwnedFd) -> nix::Result<()> {
    Err(nix::Error::ENOSYS)
}
