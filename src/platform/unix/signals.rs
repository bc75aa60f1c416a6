//! Signals at the process boundary: SIGPIPE kept away from kvenv's own
//! writes and network work, and the mask and dispositions kvenv was started
//! with, which a child started by `run --watch` gets back.

use super::super::Paths;
use nix::sys::signal::SigSet;
pub(crate) use nix::sys::signal::Signal;

/// The signal called `name` (`SIGHUP`), if this OS has it and it can be
/// sent and caught (never SIGKILL or SIGSTOP).
pub(crate) fn parse_signal(name: &str) -> Option<Signal> {
    name.parse::<Signal>()
        .ok()
        .filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP))
}

/// Whether the calling thread blocks SIGPIPE.
pub(crate) fn sigpipe_blocked_here() -> bool {
    SigSet::thread_get_mask().is_ok_and(|mask| mask.contains(Signal::SIGPIPE))
}

/// Blocks SIGPIPE for the calling thread (and the threads it starts): for a
/// thread that does network work for as long as kvenv lives (`run --watch`).
pub(crate) fn block_sigpipe_in_this_thread() {
    let mut pipe = SigSet::empty();
    pipe.add(Signal::SIGPIPE);
    if let Err(e) = pipe.thread_block() {
        tracing::warn!("could not block SIGPIPE while resolving: {e}");
    }
}

/// Runs `work` (all of kvenv's network I/O) on a helper thread that blocks
/// SIGPIPE. rustls and hyper write with `writev`, which has no `MSG_NOSIGNAL`,
/// so a peer that resets the connection would otherwise kill kvenv with the
/// inherited default disposition. Blocked, the write fails with `EPIPE` and is
/// handled like any other transport failure; a SIGPIPE left pending is
/// thread-directed and is discarded with the thread. Neither the process's
/// dispositions nor the main thread's mask change, so the command still
/// inherits exactly what kvenv was given.
pub(crate) fn without_sigpipe<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let helper = scope.spawn(|| {
            block_sigpipe_in_this_thread();
            work()
        });
        match helper.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The signal state kvenv was started with, which a child started by
/// `run --watch` gets back: the mask, and the default disposition for every
/// signal that was not ignored.
pub(crate) struct Inherited {
    mask: SigSet,
    /// `SigIgn` at start: bit N-1 for signal N.
    ignored: u64,
}

impl Inherited {
    /// Reads the calling thread's mask and the process's ignored signals.
    pub(crate) fn now() -> Inherited {
        let ignored = match Paths::now() {
            #[cfg(target_os = "linux")]
            Paths::Linux => super::super::os::ignored_signals(),
            _ => ignored_by_sigaction(),
        };
        Inherited {
            mask: SigSet::thread_get_mask().unwrap_or_else(|_| SigSet::empty()),
            ignored,
        }
    }

    /// The mask kvenv was started with.
    pub(super) fn mask(&self) -> &SigSet {
        &self.mask
    }

    /// Whether `signal` was ignored at start.
    pub(crate) fn ignored(&self, signal: Signal) -> bool {
        self.ignored & (1u64 << (signal as i32 - 1)) != 0
    }

    /// Every signal that was not ignored at start, but SIGKILL and SIGSTOP,
    /// whose dispositions cannot change: the set a spawned child gets the
    /// default disposition for.
    pub(super) fn defaults(&self) -> SigSet {
        #[cfg(target_os = "linux")]
        if Paths::now() == Paths::Linux {
            return super::super::os::defaults(self.ignored);
        }
        let mut set = SigSet::empty();
        for signal in Signal::iterator() {
            if !self.ignored(signal) && !matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
                set.add(signal);
            }
        }
        set
    }
}

/// The signals this process ignores, asked of `sigaction` one by one (what
/// macOS has; Linux reads `/proc`, which also knows the C library's own).
pub(crate) fn ignored_by_sigaction() -> u64 {
    Signal::iterator()
        .filter(|signal| is_ignored(*signal))
        .fold(0u64, |set, signal| set | 1u64 << (signal as i32 - 1))
}

/// Whether `signal`'s disposition is "ignore", read without changing it.
fn is_ignored(signal: Signal) -> bool {
    let mut old = std::mem::MaybeUninit::<nix::libc::sigaction>::zeroed();
    // SAFETY: with a null new action `sigaction` only writes the current one
    // into `old`, which is a zeroed `sigaction`; no disposition changes.
    #[allow(unsafe_code)]
    let read = unsafe { nix::libc::sigaction(signal as i32, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: `old` was zeroed (a valid `sigaction`) and, on success, filled.
    #[allow(unsafe_code)]
    let old = unsafe { old.assume_init() };
    read == 0 && old.sa_sigaction == nix::libc::SIG_IGN
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The macOS way and the Linux way agree on the signals both know.
    #[test]
    fn sigaction_agrees_with_proc() {
        let standard = (1u64 << 31) - 1;
        let by_sigaction = ignored_by_sigaction();
        // Rust's runtime ignores SIGPIPE: both must see it.
        assert_ne!(by_sigaction & (1 << (Signal::SIGPIPE as i32 - 1)), 0);
        assert_eq!(
            by_sigaction & standard,
            crate::platform::os::ignored_signals() & standard
        );
    }
}
