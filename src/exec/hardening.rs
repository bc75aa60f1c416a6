//! Core dumps off while secrets are in memory, put back for the command.

#[cfg(target_os = "linux")]
use nix::sys::prctl;
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// What kvenv changed to keep secrets out of core dumps, to be put back before exec.
pub(crate) struct Hardening {
    core: Option<(u64, u64)>,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    dumpable: Option<bool>,
}

impl Hardening {
    /// Turns core dumps off: `PR_SET_DUMPABLE` 0 (also keeps other processes of the
    /// same user from ptrace-attaching or reading our memory) and a soft
    /// `RLIMIT_CORE` of 0. The hard limit is kept so the soft one can be restored.
    pub(crate) fn engage() -> Hardening {
        let core = getrlimit(Resource::RLIMIT_CORE).ok();
        if let Some((_, hard)) = core {
            if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, hard) {
                tracing::warn!("could not set RLIMIT_CORE to 0: {e}");
            }
        }
        Hardening {
            core,
            dumpable: not_dumpable(),
        }
    }

    /// Runs `spawn` with the original core limit, so that a child started by
    /// `run --watch` gets it, while kvenv stays non-dumpable throughout (no
    /// core is written for a non-dumpable process whatever its limit).
    pub(crate) fn around_spawn<T>(&self, spawn: impl FnOnce() -> T) -> T {
        if let Some((soft, hard)) = self.core {
            let _ = setrlimit(Resource::RLIMIT_CORE, soft, hard);
        }
        let spawned = spawn();
        if let Some((_, hard)) = self.core {
            let _ = setrlimit(Resource::RLIMIT_CORE, 0, hard);
        }
        spawned
    }

    /// Puts back what [`Hardening::engage`] found, just before exec.
    pub(crate) fn restore(&self) {
        if let Some((soft, hard)) = self.core {
            let _ = setrlimit(Resource::RLIMIT_CORE, soft, hard);
        }
        #[cfg(target_os = "linux")]
        if let Some(dumpable) = self.dumpable {
            let _ = prctl::set_dumpable(dumpable);
        }
    }
}

/// `PR_SET_DUMPABLE` 0, and what it was. Linux only: macOS has no
/// per-process equivalent that exec would not keep (its `PT_DENY_ATTACH`
/// would pass to the command), so there the soft core limit alone applies.
#[cfg(target_os = "linux")]
fn not_dumpable() -> Option<bool> {
    let dumpable = prctl::get_dumpable().ok();
    if let Err(e) = prctl::set_dumpable(false) {
        tracing::warn!("could not clear PR_SET_DUMPABLE: {e}");
    }
    dumpable
}

#[cfg(not(target_os = "linux"))]
fn not_dumpable() -> Option<bool> {
    None
}
