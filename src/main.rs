//! kvenv's entry point: parse, run, exit with the code the error maps to.
//!
//! `#![no_main]` keeps the Rust runtime from setting SIGPIPE to "ignore" before
//! `main`, so the command kvenv execs inherits the dispositions kvenv was given.
//! On Windows, where no signal disposition is inherited, it is a plain `main`.
#![cfg_attr(unix, no_main)]

#[cfg(unix)]
use std::ffi::{c_char, c_int, CStr, OsString};
#[cfg(unix)]
use std::os::unix::ffi::OsStringExt;

#[cfg(windows)]
fn main() {
    std::process::exit(kvenv::main());
}

// SAFETY: this is the C `main` symbol; the C runtime calls it with `argc`
// valid strings at `argv`, read once in `arguments`.
#[cfg(unix)]
#[allow(unsafe_code)] // a C symbol has to be exported unmangled
#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    one_allocator_arena();
    kvenv::main_from(arguments(argc, argv))
}

/// The arguments as the C runtime hands them to `main`. std reads them by
/// itself only with glibc (which also passes them to its initialisers); with
/// musl and a `main` of our own, std sees none, so kvenv built for musl
/// printed its help for `kvenv --version`. Read here, on every libc.
#[cfg(unix)]
fn arguments(argc: c_int, argv: *const *const c_char) -> Vec<OsString> {
    let count = usize::try_from(argc).unwrap_or(0);
    if argv.is_null() {
        return Vec::new();
    }
    (0..count)
        .map(|i| {
            // SAFETY: `i < argc`, and the C runtime's `argv` holds `argc`
            // pointers to NUL-terminated strings (a null one is skipped).
            #[allow(unsafe_code)]
            let arg = unsafe { *argv.add(i) };
            if arg.is_null() {
                return OsString::new();
            }
            // SAFETY: as above, a NUL-terminated string that outlives `main`.
            #[allow(unsafe_code)]
            let bytes = unsafe { CStr::from_ptr(arg) }.to_bytes().to_vec();
            OsString::from_vec(bytes)
        })
        .collect()
}

/// glibc gives the network thread an allocator arena of its own, which grows
/// one page at a time with an `mprotect` call each (about 500 calls, and as
/// many TLB shootdowns, for 100 references: a third of kvenv's time at that
/// size). One arena for every thread grows with `brk` in 128 KiB steps
/// instead; kvenv has two threads, so nothing contends for it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_allocator_arena() {
    // SAFETY: `mallopt` only sets an allocator parameter; M_ARENA_MAX takes
    // any positive count. No other thread exists yet.
    #[allow(unsafe_code)]
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1);
    }
}

/// musl's allocator has no per-thread arenas; macOS's zones grow otherwise.
#[cfg(all(unix, not(all(target_os = "linux", target_env = "gnu"))))]
fn one_allocator_arena() {}

// The only two libm functions anything in kvenv calls (the DNS resolver's
// round-trip average, the multi-threaded runtime's statistics; neither on
// kvenv's path to exec) are defined here, from the `libm` crate (musl's, in
// Rust), so that the linker finds them in the binary and libm.so is not
// loaded at every start: loading and relocating it was about 0.1 ms of a
// 1.5 ms exec with no references.
// SAFETY: plain functions of f64 with the C signatures of exp(3) and pow(3).
#[cfg(unix)]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn exp(x: f64) -> f64 {
    libm::exp(x)
}

// SAFETY: as above.
#[cfg(unix)]
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}
