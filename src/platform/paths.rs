//! Which of the paths that differ between Unix systems this process takes.

use std::sync::OnceLock;

/// The paths where macOS and Linux differ (Windows has its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Paths {
    /// Linux's: templates in sealed `memfd`s, ignored signals from `/proc`.
    Linux,
    /// macOS's: templates through a pipe (read once), ignored signals from
    /// `sigaction`, no `PR_SET_DUMPABLE`.
    Macos,
}

static SELECTED: OnceLock<Paths> = OnceLock::new();

/// What this OS does natively.
const NATIVE: Paths = if cfg!(target_os = "linux") {
    Paths::Linux
} else {
    Paths::Macos
};

/// Chooses the paths once, at start, from `KVENV_TEST_PATHS` (`macos` takes
/// macOS's paths on Linux, for tests; anything else, or nothing, takes the
/// native ones). Off Linux the native paths are the only ones.
pub(crate) fn select_paths(requested: Option<&std::ffi::OsStr>) {
    let chosen = match requested.and_then(std::ffi::OsStr::to_str) {
        Some("macos") => Paths::Macos,
        _ => NATIVE,
    };
    let _ = SELECTED.set(chosen);
}

#[cfg_attr(windows, allow(dead_code))]
impl Paths {
    /// The paths chosen at start (native if none were).
    pub(crate) fn now() -> Paths {
        *SELECTED.get().unwrap_or(&NATIVE)
    }
}
