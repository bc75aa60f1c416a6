//! Windows: no exec, so `run` starts the command, waits for it in a job
//! object that ends it with kvenv, and exits with its code; Ctrl+C and
//! Ctrl+Break, which the console delivers to the whole group, are left to
//! the command. No templates (nothing without a disk to put them in yet).

mod child;
mod console;
mod exec;
mod files;
mod output;
mod process;

pub(crate) use child::{asks_to_end, signal_exit_code, Child, ChildEvents, Signals};
pub(crate) use console::{parse_signal, Inherited, Signal};
pub(crate) use exec::{exec, find_program, spawn};
pub(crate) use files::{
    make_executable, open_for_reading, owner_only, running_binary, special_kind,
};
pub(crate) use output::{resizes, wire, ChildIo, Wired, MASK_SUPPORTED};
pub(crate) use process::{
    block_sigpipe_in_this_thread, descriptor_limit, exec_budget, hold_closed_standard_descriptors,
    kept, left_to_command, os_string, out_of_descriptors, raw_environment, replace, replaceable,
    sigpipe_blocked_here, templates_supported, without_sigpipe, Hardening, KeptFile,
};

/// A console program gets no signal but Ctrl+C and Ctrl+Break.
pub(crate) const SIGNALS_TO_COMMAND: bool = false;

/// Files kvenv writes take their folder's access list (see `owner_only`).
pub(crate) const OWNER_ONLY_FILES: bool = false;

/// Windows ignores case in variable names: `Path` is `PATH`.
pub(crate) const NAMES_IGNORE_CASE: bool = true;
