//! The platform seam: every call into the operating system kvenv makes
//! (exec and spawn, signals and their dispositions, descriptors, in-memory
//! files, process hardening, the environment as the OS gives it, file types
//! and modes, the supervised child) lives here, one folder per OS family.
//! The rest of kvenv is platform-free: it sees the functions and types
//! re-exported below, the same on every OS.
//!
//! Where macOS takes a path Linux does not (templates through a pipe, the
//! ignored signals read with `sigaction`), the path is written for every
//! Unix and chosen by [`Paths`]: so the macOS logic also runs, and is
//! tested, on Linux.

mod kinds;
mod paths;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "linux")]
use linux as os;
#[cfg(target_os = "macos")]
use macos as os;

pub(crate) use kinds::{file_kind, FileKind, OpenError};
pub(crate) use paths::select_paths;
#[cfg(unix)]
pub(crate) use paths::Paths;
#[cfg(unix)]
pub(crate) use unix::*;
#[cfg(windows)]
pub(crate) use windows::*;
