//! The process boundary, and the only module with `unsafe`: core-dump
//! protection while secrets are in memory, and `execvpe(3)` with the resolved
//! environment so the command keeps kvenv's PID, fds, signal state and limits.

use crate::error::Error;
use crate::secret::SecretBytes;
use nix::sys::prctl;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// What kvenv changed to keep secrets out of core dumps, to be put back before exec.
pub struct Hardening {
    core: Option<(u64, u64)>,
    dumpable: Option<bool>,
}

impl Hardening {
    /// Turns core dumps off: `PR_SET_DUMPABLE` 0 (also keeps other processes of the
    /// same user from ptrace-attaching or reading our memory) and a soft
    /// `RLIMIT_CORE` of 0. The hard limit is kept so the soft one can be restored.
    pub fn engage() -> Hardening {
        let core = getrlimit(Resource::RLIMIT_CORE).ok();
        if let Some((_, hard)) = core {
            if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, hard) {
                tracing::warn!("could not set RLIMIT_CORE to 0: {e}");
            }
        }
        let dumpable = prctl::get_dumpable().ok();
        if let Err(e) = prctl::set_dumpable(false) {
            tracing::warn!("could not clear PR_SET_DUMPABLE: {e}");
        }
        Hardening { core, dumpable }
    }

    /// Puts back what [`Hardening::engage`] found, just before exec.
    pub fn restore(&self) {
        if let Some((soft, hard)) = self.core {
            let _ = setrlimit(Resource::RLIMIT_CORE, soft, hard);
        }
        if let Some(dumpable) = self.dumpable {
            let _ = prctl::set_dumpable(dumpable);
        }
    }
}

/// One `NAME=VALUE\0` entry for the command's environment.
pub fn env_entry(name: &OsStr, value: &[u8]) -> SecretBytes {
    let mut entry = SecretBytes::with_capacity(name.len() + 1 + value.len() + 1);
    entry.push(name.as_bytes());
    entry.push(b"=");
    entry.push(value);
    entry.push(b"\0");
    entry
}

/// Replaces this process with `command`, searched in `PATH` like `execvp(3)`,
/// with exactly `env` as its environment. Returns only on failure, with the
/// exit code `env(1)` uses: 127 when the command is not found, 126 otherwise.
/// `env` entries must come from [`env_entry`]; they are wiped if exec fails.
pub fn exec(command: &[OsString], env: Vec<SecretBytes>, hardening: Option<&Hardening>) -> Error {
    let name = crate::error::printable(&command[0].to_string_lossy());
    let args: Result<Vec<CString>, _> =
        command.iter().map(|a| CString::new(a.as_bytes())).collect();
    let Ok(args) = args else {
        return Error::Usage(format!("{name}: an argument contains a NUL byte"));
    };
    let mut argv: Vec<*const nix::libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const nix::libc::c_char> = env
        .iter()
        .map(|e| {
            debug_assert_eq!(e.expose().last(), Some(&0));
            e.expose().as_ptr().cast()
        })
        .collect();
    envp.push(std::ptr::null());
    if let Some(h) = hardening {
        h.restore();
    }
    // SAFETY: `argv` and `envp` are null-terminated arrays of pointers to
    // NUL-terminated strings (`CString`s and `env_entry` buffers) that outlive
    // the call; execvpe only returns on failure and then leaves them untouched.
    unsafe {
        nix::libc::execvpe(args[0].as_ptr(), argv.as_ptr(), envp.as_ptr());
    }
    let errno = nix::errno::Errno::last();
    drop(env); // wiped on drop
    match errno {
        nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR => Error::CommandNotFound(name),
        other => Error::CommandNotExecutable(name, other.desc().to_string()),
    }
}
