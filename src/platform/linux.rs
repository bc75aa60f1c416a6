//! What only Linux has: `memfd` in-memory files and their seals,
//! `PR_SET_DUMPABLE`, the ignored signals in `/proc`, and a signal set that
//! holds the C library's own signals.

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::prctl;
use nix::sys::signal::{SigSet, Signal};
use std::os::fd::{AsFd, OwnedFd};

/// An anonymous in-memory file, close-on-exec, that can be sealed.
pub(crate) fn memory_file(name: &std::ffi::CStr) -> nix::Result<OwnedFd> {
    memfd_create(name, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)
}

/// Seals `fd` against writing and growing, and against further seals; with
/// `shrink`, against shrinking too.
pub(crate) fn seal(fd: &OwnedFd, shrink: bool) -> nix::Result<()> {
    let mut seals = SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
    if shrink {
        seals |= SealFlag::F_SEAL_SHRINK;
    }
    fcntl(fd.as_fd(), FcntlArg::F_ADD_SEALS(seals)).map(drop)
}

/// `PR_SET_DUMPABLE` 0 (no core dump, and no other process of the same
/// user may ptrace-attach or read kvenv's memory), and what it was.
pub(crate) fn not_dumpable() -> Option<bool> {
    let dumpable = prctl::get_dumpable().ok();
    if let Err(e) = prctl::set_dumpable(false) {
        tracing::warn!("could not clear PR_SET_DUMPABLE: {e}");
    }
    dumpable
}

/// Puts `PR_SET_DUMPABLE` back, just before exec.
pub(crate) fn restore_dumpable(dumpable: bool) {
    let _ = prctl::set_dumpable(dumpable);
}

/// The signals this process ignores (`SigIgn` in `/proc/self/status`; none
/// if it cannot be read): bit N-1 for signal N, the C library's own included.
pub(crate) fn ignored_signals() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0)
}

/// Every signal (1 to 64) not in `ignored`, but SIGKILL and SIGSTOP. The set
/// includes the C library's internal signals (glibc's 32 and 33, which its
/// `posix_spawn` sets to "ignore" in the child unless told otherwise), which
/// `sigaddset` refuses, so the set is built from its bits.
pub(crate) fn defaults(ignored: u64) -> SigSet {
    use nix::libc::{c_ulong, sigset_t};
    const BITS: usize = c_ulong::BITS as usize;
    const WORDS: usize = std::mem::size_of::<sigset_t>() / std::mem::size_of::<c_ulong>();
    let unchangeable =
        (1u64 << (Signal::SIGKILL as i32 - 1)) | (1u64 << (Signal::SIGSTOP as i32 - 1));
    let wanted = !ignored & !unchangeable;
    let mut words: [c_ulong; WORDS] = [0; WORDS];
    for bit in (0..64).filter(|bit| wanted & (1u64 << bit) != 0) {
        words[bit / BITS] |= 1 << (bit % BITS);
    }
    // SAFETY: `sigset_t` is, on Linux with glibc and musl, a plain array of
    // `WORDS` `c_ulong`s in which signal N is bit N-1 (the size is checked
    // by `transmute` at compile time); any bit pattern is a valid set.
    #[allow(unsafe_code)]
    unsafe {
        SigSet::from_sigset_t_unchecked(std::mem::transmute::<[c_ulong; WORDS], sigset_t>(words))
    }
}
