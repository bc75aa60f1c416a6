//! kvenv's entry point: parse, run, exit with the code the error maps to.
//!
//! `#![no_main]` keeps the Rust runtime from setting SIGPIPE to "ignore" before
//! `main`, so the command kvenv execs inherits the dispositions kvenv was given.
#![no_main]

use std::ffi::{c_char, c_int};

// SAFETY: this is the C `main` symbol; it takes no pointers from its arguments
// (std reads argv itself on Linux) and only calls safe Rust.
#[allow(unsafe_code)] // the one place: a C symbol has to be exported unmangled
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    one_allocator_arena();
    kvenv::main()
}

/// glibc gives the network thread an allocator arena of its own, which grows
/// one page at a time with an `mprotect` call each (about 500 calls, and as
/// many TLB shootdowns, for 100 references: a third of kvenv's time at that
/// size). One arena for every thread grows with `brk` in 128 KiB steps
/// instead; kvenv has two threads, so nothing contends for it.
#[cfg(target_env = "gnu")]
fn one_allocator_arena() {
    // SAFETY: `mallopt` only sets an allocator parameter; M_ARENA_MAX takes
    // any positive count. No other thread exists yet.
    #[allow(unsafe_code)]
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1);
    }
}

/// musl's allocator has no per-thread arenas.
#[cfg(not(target_env = "gnu"))]
fn one_allocator_arena() {}

// The only two libm functions anything in kvenv calls (the DNS resolver's
// round-trip average, the multi-threaded runtime's statistics; neither on
// kvenv's path to exec) are defined here, from the `libm` crate (musl's, in
// Rust), so that the linker finds them in the binary and libm.so is not
// loaded at every start: loading and relocating it was about 0.1 ms of a
// 1.5 ms exec with no references.
// SAFETY: plain functions of f64 with the C signatures of exp(3) and pow(3).
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn exp(x: f64) -> f64 {
    libm::exp(x)
}

// SAFETY: as above.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}
