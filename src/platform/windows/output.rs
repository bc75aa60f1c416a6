//! `--mask` is refused on Windows (kvenv would need a pseudo console to keep
//! the command's terminal); these stand in for the Unix types.

use crate::error::{At, Error};
use std::fs::File;

/// Nothing to set up: `--mask` is refused before any start.
pub(crate) struct ChildIo;

/// See [`ChildIo`].
pub(crate) struct Wired {
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    pub typed: Option<File>,
}

impl Wired {
    pub(crate) fn resize(&self) {}
}

/// Whether `--mask` can run here.
pub(crate) const MASK_SUPPORTED: bool = false;

pub(crate) fn wire() -> Result<(ChildIo, Wired), Error> {
    Err(Error::usage(
        At::Arg("--mask", None),
        "is not available on Windows: kvenv would need a pseudo console to mask the command's output and keep its terminal",
    ))
}

/// No window-size signal on Windows.
pub(crate) fn resizes(_signal: super::Signal) -> bool {
    false
}
