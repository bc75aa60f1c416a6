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
    kvenv::main()
}
