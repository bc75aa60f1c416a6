//! Signals at the process boundary: SIGPIPE kept away from kvenv's own
//! writes and network work, and the mask and dispositions kvenv was started
//! with, which a child started by `run --watch` gets back.

use nix::sys::signal::{SigSet, Signal};

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
        Inherited {
            mask: SigSet::thread_get_mask().unwrap_or_else(|_| SigSet::empty()),
            ignored: ignored_signals(),
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

    /// Every signal (1 to 64) that was not ignored at start, but SIGKILL and
    /// SIGSTOP, whose dispositions cannot change. The set includes the C
    /// library's internal signals (glibc's 32 and 33, which its `posix_spawn`
    /// sets to "ignore" in the child unless told otherwise), which `sigaddset`
    /// refuses, so the set is built from its bits.
    #[cfg(target_os = "linux")]
    pub(super) fn defaults(&self) -> SigSet {
        use nix::libc::{c_ulong, sigset_t};
        const BITS: usize = c_ulong::BITS as usize;
        const WORDS: usize = std::mem::size_of::<sigset_t>() / std::mem::size_of::<c_ulong>();
        let unchangeable =
            (1u64 << (Signal::SIGKILL as i32 - 1)) | (1u64 << (Signal::SIGSTOP as i32 - 1));
        let wanted = !self.ignored & !unchangeable;
        let mut words: [c_ulong; WORDS] = [0; WORDS];
        for bit in (0..64).filter(|bit| wanted & (1u64 << bit) != 0) {
            words[bit / BITS] |= 1 << (bit % BITS);
        }
        // SAFETY: `sigset_t` is, on Linux with glibc and musl, a plain array of
        // `WORDS` `c_ulong`s in which signal N is bit N-1 (the size is checked
        // by `transmute` at compile time); any bit pattern is a valid set.
        #[allow(unsafe_code)]
        unsafe {
            SigSet::from_sigset_t_unchecked(std::mem::transmute::<[c_ulong; WORDS], sigset_t>(
                words,
            ))
        }
    }

    /// Elsewhere (macOS) the C library has no internal signals: every
    /// signal `sigaddset` knows that was not ignored, but SIGKILL and SIGSTOP.
    #[cfg(not(target_os = "linux"))]
    pub(super) fn defaults(&self) -> SigSet {
        let mut set = SigSet::empty();
        for signal in Signal::iterator() {
            if !self.ignored(signal) && !matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
                set.add(signal);
            }
        }
        set
    }
}

/// The signals this process ignores (`SigIgn` in `/proc/self/status`; none
/// if it cannot be read).
fn ignored_signals() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0)
}
