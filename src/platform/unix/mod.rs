//! What Linux and macOS share: POSIX exec and spawn, signals, descriptors,
//! file types and modes. What differs lives in `linux.rs` and `macos.rs`.

mod child;
mod exec;
mod files;
mod hardening;
mod memfile;
mod signals;
mod start;
mod terminal;

pub(crate) use child::{asks_to_end, signal_exit_code, Child, ChildEvents, Signals};
pub(crate) use exec::{
    descriptor_limit, exec, exec_budget, find_program, out_of_descriptors, spawn,
    templates_supported, NAMES_IGNORE_CASE, OWNER_ONLY_FILES, SIGNALS_TO_COMMAND,
};
pub(crate) use files::{
    make_executable, open_for_reading, owner_only, running_binary, special_kind,
};
pub(crate) use hardening::Hardening;
pub(crate) use memfile::{kept, left_to_command, replace, replaceable, KeptFile};
pub(crate) use signals::{
    block_sigpipe_in_this_thread, parse_signal, sigpipe_blocked_here, without_sigpipe, Inherited,
    Signal,
};
pub(crate) use start::{hold_closed_standard_descriptors, os_string, raw_environment};
pub(crate) use terminal::{resizes, wire, ChildIo, Wired, MASK_SUPPORTED};
