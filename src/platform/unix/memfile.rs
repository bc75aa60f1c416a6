//! The in-memory files a `--template TEMPLATE=VAR` is delivered in, left
//! open across exec so the command reads `/dev/fd/N`; nothing touches a
//! filesystem.
//!
//! On Linux it is a `memfd`, mode 0600, at offset 0: sealed against any
//! change for `run`, kept writable by kvenv under `run --watch` to replace
//! the content in place. On macOS, which has no `memfd`, it is a pipe that
//! holds the whole content: read once, as large as the pipe's buffer, and
//! never replaced in place.

use super::super::Paths;
use crate::error::{At, Error};
use crate::secret::SecretBytes;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd, RawFd};

/// A pipe is sure to hold this much on every Unix kvenv runs on.
const PIPE_MAX: usize = 16 << 10;

/// A template's in-memory file that kvenv keeps while the command runs.
pub(crate) struct KeptFile {
    fd: OwnedFd,
}

impl KeptFile {
    /// Its descriptor number, the same in the command.
    pub(crate) fn number(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Whether a template's file can be rewritten in place under the running
/// command (`--on-change signal:NAME`): a `memfd` can, a pipe cannot.
pub(crate) fn replaceable() -> bool {
    Paths::now() == Paths::Linux
}

/// Writes `content` into a new in-memory file (sealed where it can be) and
/// returns its descriptor number, now inherited by exec.
pub(crate) fn left_to_command(name: &str, content: &SecretBytes) -> Result<RawFd, Error> {
    create(name, content, true).map(IntoRawFd::into_raw_fd)
}

/// An in-memory file like [`left_to_command`], but kept by kvenv (it closes
/// when dropped) and, where [`replaceable`], writable by kvenv ([`replace`]).
pub(crate) fn kept(name: &str, content: &SecretBytes) -> Result<KeptFile, Error> {
    create(name, content, false).map(|fd| KeptFile { fd })
}

/// Replaces a [`kept`] file's content with one write and a truncation, so
/// that a command that reads the file again (after the signal kvenv sends it
/// next) sees only the new content.
pub(crate) fn replace(file: &KeptFile, content: &SecretBytes) -> Result<(), Error> {
    let fail = |e: nix::Error| Error::internal("replacing a template's in-memory file", e);
    if !replaceable() {
        return Err(fail(nix::Error::ENOTSUP));
    }
    let mut written = 0;
    while written < content.len() {
        written += nix::sys::uio::pwrite(&file.fd, &content.expose()[written..], written as i64)
            .map_err(fail)?;
    }
    nix::unistd::ftruncate(&file.fd, content.len() as i64).map_err(fail)
}

/// `seal` is for a `memfd`: a pipe needs none, its write end is closed.
#[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
fn create(name: &str, content: &SecretBytes, seal: bool) -> Result<OwnedFd, Error> {
    let fd = match Paths::now() {
        #[cfg(target_os = "linux")]
        Paths::Linux => memory_file(name, content, seal)?,
        _ => piped(name, content)?,
    };
    // Never 0, 1 or 2, whatever kvenv was started with: the command would take
    // the template for its stdin, stdout or stderr (the copy is 3 or above).
    let fd = match fd.as_raw_fd() {
        0..=2 => fd.try_clone().map_err(|e| {
            Error::internal(format!("--template {name}: moving the in-memory file"), e)
        })?,
        _ => fd,
    };
    fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
        .map_err(|e| Error::internal(format!("--template {name}: clearing close-on-exec"), e))?;
    Ok(fd)
}

/// A `memfd` holding `content`, mode 0600, at offset 0; sealed if asked.
#[cfg(target_os = "linux")]
fn memory_file(name: &str, content: &SecretBytes, seal: bool) -> Result<OwnedFd, Error> {
    use nix::sys::stat::{fchmod, Mode};
    use nix::unistd::{lseek, Whence};
    let fail = |what: &str, e: nix::Error| Error::internal(format!("--template {name}: {what}"), e);
    let fd = super::super::os::memory_file(c"kvenv-template").map_err(|e| {
        fail(
            "no anonymous in-memory file (memfd); kvenv never falls back to a file on disk",
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
        super::super::os::seal(&fd, true).map_err(|e| fail("sealing", e))?;
    }
    lseek(fd.as_fd(), 0, Whence::SeekSet).map_err(|e| fail("lseek", e))?;
    Ok(fd)
}

/// The read end of a pipe that already holds all of `content` (its write
/// end is closed, so the reader sees the end of the file after it).
fn piped(name: &str, content: &SecretBytes) -> Result<OwnedFd, Error> {
    let too_large = || {
        Error::usage(
            At::file("template", name),
            format!(
                "rendered, it is {} bytes; templates are delivered through a pipe here, which holds at most {} KiB",
                content.len(),
                PIPE_MAX >> 10
            ),
        )
    };
    if content.len() > PIPE_MAX {
        return Err(too_large());
    }
    let fail = |e: nix::Error| Error::internal(format!("--template {name}: making a pipe"), e);
    let (read, write) = nix::unistd::pipe().map_err(fail)?;
    for end in [&read, &write] {
        fcntl(end.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(fail)?;
    }
    // Never blocks: what does not fit fails instead of waiting for a reader.
    fcntl(write.as_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(fail)?;
    let mut writer = std::fs::File::from(write);
    match writer.write_all(content.expose()) {
        Ok(()) => Ok(read),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(too_large()),
        Err(e) => Err(Error::internal(
            format!("--template {name}: writing the pipe"),
            e,
        )),
    }
}
