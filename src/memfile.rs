//! Anonymous in-memory files for `--template TEMPLATE=VAR`: a `memfd` holding
//! the rendered template, mode 0600, sealed against any change, positioned at
//! offset 0 and left open across exec so the command can read `/dev/fd/N`.
//! Nothing touches a filesystem; without memfd the option fails.

use crate::error::Error;
use crate::secret::SecretBytes;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::stat::{fchmod, Mode};
use nix::unistd::{lseek, Whence};
use std::io::Write;
use std::os::fd::{AsFd, IntoRawFd, OwnedFd, RawFd};

/// Writes `content` into a new sealed memfd and returns its descriptor number,
/// now inherited by exec (close-on-exec cleared for this fd only).
pub fn sealed(name: &str, content: &SecretBytes) -> Result<RawFd, Error> {
    let fail =
        |what: &str, e: nix::Error| Error::Internal(format!("--template {name}: {what}: {e}"));
    let fd: OwnedFd = memfd_create(
        c"kvenv-template",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .map_err(|e| {
        fail(
            "memfd_create is not available (kvenv never falls back to a file on disk)",
            e,
        )
    })?;
    // libpq and others refuse password files readable by group or others.
    fchmod(fd.as_fd(), Mode::S_IRUSR | Mode::S_IWUSR).map_err(|e| fail("fchmod", e))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(content.expose()).map_err(|e| {
        Error::Internal(format!(
            "--template {name}: writing the in-memory file: {e}"
        ))
    })?;
    let fd = OwnedFd::from(file);
    let seals = SealFlag::F_SEAL_WRITE
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_SEAL;
    fcntl(fd.as_fd(), FcntlArg::F_ADD_SEALS(seals)).map_err(|e| fail("sealing", e))?;
    lseek(fd.as_fd(), 0, Whence::SeekSet).map_err(|e| fail("lseek", e))?;
    fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
        .map_err(|e| fail("clearing close-on-exec", e))?;
    Ok(fd.into_raw_fd())
}
