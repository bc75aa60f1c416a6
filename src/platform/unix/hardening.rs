//! Core dumps off while secrets are in memory, put back for the command.

use super::super::Paths;
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// What kvenv changed to keep secrets out of core dumps, to be put back before exec.
pub(crate) struct Hardening {
    core: Option<(u64, u64)>,
    /// `PR_SET_DUMPABLE` as kvenv found it (Linux).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    dumpable: Option<bool>,
}

impl Hardening {
    /// Turns core dumps off: a soft `RLIMIT_CORE` of 0 (the hard limit is
    /// kept so the soft one can be restored) and, on Linux, `PR_SET_DUMPABLE`
    /// 0, which also keeps other processes of the same user from
    /// ptrace-attaching or reading kvenv's memory.
    pub(crate) fn engage() -> Hardening {
        let core = getrlimit(Resource::RLIMIT_CORE).ok();
        if let Some((_, hard)) = core {
            if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, hard) {
                tracing::warn!("could not set RLIMIT_CORE to 0: {e}");
            }
        }
        let dumpable = match Paths::now() {
            #[cfg(target_os = "linux")]
            Paths::Linux => super::super::os::not_dumpable(),
            _ => None,
        };
        Hardening { core, dumpable }
    }

    /// For a kvenv that stays the command's parent: on macOS, no debugger
    /// may attach to it (`PT_DENY_ATTACH`; Linux has that from `engage`).
    pub(crate) fn supervising(&self) {
        #[cfg(target_os = "macos")]
        super::super::os::deny_attach();
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
            super::super::os::restore_dumpable(dumpable);
        }
    }
}
