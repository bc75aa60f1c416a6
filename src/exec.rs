//! The process boundary: core-dump protection while secrets are in memory,
//! SIGPIPE kept away from the network work, and `execvpe(3)` with the
//! resolved environment so the command keeps kvenv's PID, fds, signal state
//! and limits.

use crate::error::Error;
use crate::secret::SecretBytes;
use nix::sys::prctl;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use std::ffi::{CStr, CString, OsStr, OsString};
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

    /// Runs `spawn` with the original core limit, so that a child started by
    /// `run --watch` gets it, while kvenv stays non-dumpable throughout (no
    /// core is written for a non-dumpable process whatever its limit).
    pub fn around_spawn<T>(&self, spawn: impl FnOnce() -> T) -> T {
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
    pub fn restore(&self) {
        if let Some((soft, hard)) = self.core {
            let _ = setrlimit(Resource::RLIMIT_CORE, soft, hard);
        }
        if let Some(dumpable) = self.dumpable {
            let _ = prctl::set_dumpable(dumpable);
        }
    }
}

/// Blocks SIGPIPE for the calling thread (and the threads it starts): for a
/// thread that does network work for as long as kvenv lives (`run --watch`).
pub fn block_sigpipe_in_this_thread() {
    let mut pipe = nix::sys::signal::SigSet::empty();
    pipe.add(nix::sys::signal::Signal::SIGPIPE);
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
pub fn without_sigpipe<T: Send>(work: impl FnOnce() -> T + Send) -> T {
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

/// Replaces this process with `command`, searched in `PATH` like `execvp(3)`,
/// with exactly `env` as its environment. Returns only on failure, with the
/// exit code `env(1)` uses: 127 when exec said `ENOENT`, 126 for any other
/// reason (not executable, a directory, `ENOTDIR`, ...).
/// `env` entries are `NAME=VALUE\0` (see `environment::entry`); they are
/// wiped if exec fails.
pub fn exec(command: &[OsString], env: Vec<SecretBytes>, hardening: Option<&Hardening>) -> Error {
    let (args, entries) = match argv_envp(command, &env) {
        Ok(both) => both,
        Err(e) => return e,
    };
    if let Some(h) = hardening {
        h.restore();
    }
    let Err(errno) = nix::unistd::execvpe(&args[0], &args, &entries);
    drop(entries);
    drop(env); // wiped on drop
    exec_error(&command[0], errno)
}

/// The argument vector and environment for exec or spawn: the arguments as
/// C strings, and pointers into kvenv's own `NAME=VALUE\0` buffers (no copy
/// of a value is made).
pub fn argv_envp<'e>(
    command: &[OsString],
    env: &'e [SecretBytes],
) -> Result<(Vec<CString>, Vec<&'e CStr>), Error> {
    let name = crate::error::printable(&command[0].to_string_lossy());
    let args = command
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::Usage(format!("{name}: an argument contains a NUL byte")))?;
    let entries = env
        .iter()
        .map(|e| CStr::from_bytes_with_nul(e.expose()))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::Internal("an environment entry holds a NUL byte".into()))?;
    Ok((args, entries))
}

/// What `env(1)` makes of an exec (or spawn) that failed with `errno`: 127
/// for ENOENT, naming a missing interpreter when that is the cause; 126 else.
pub fn exec_error(command: &OsStr, errno: nix::errno::Errno) -> Error {
    let name = crate::error::printable(&command.to_string_lossy());
    match errno {
        nix::errno::Errno::ENOENT => match missing_helper(command) {
            Some(why) => Error::CommandNotRunnable(name, why),
            None => Error::CommandNotFound(name),
        },
        other => Error::CommandNotExecutable(name, other.desc().to_string()),
    }
}

/// When exec says `ENOENT` for a command that exists, what is missing is what
/// it needs to run: a script's interpreter, or an executable's loader.
fn missing_helper(command: &OsStr) -> Option<String> {
    let found = find_in_path(command)?;
    let head = crate::files::read_regular(&found, 1 << 20, crate::files::Links::Follow).ok()?;
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    Some(match line.strip_prefix(b"#!") {
        Some(rest) => {
            let interpreter = String::from_utf8_lossy(rest);
            let interpreter = interpreter.split_whitespace().next().unwrap_or_default();
            format!(
                "its interpreter {} was not found",
                crate::error::printable(interpreter)
            )
        }
        None => "a file it needs to start (its program loader) was not found".to_string(),
    })
}

/// Where `execvp` would have found `command`: as given when it has a `/`,
/// else the first regular file in a `PATH` folder (an empty entry is the
/// current folder).
fn find_in_path(command: &OsStr) -> Option<std::path::PathBuf> {
    let is_file = |p: &std::path::Path| p.metadata().is_ok_and(|m| m.is_file());
    if command.as_bytes().contains(&b'/') {
        let path = std::path::PathBuf::from(command);
        return is_file(&path).then_some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    path.as_bytes()
        .split(|b| *b == b':')
        .map(|dir| match dir {
            b"" => std::path::Path::new(".").join(command),
            dir => std::path::Path::new(OsStr::from_bytes(dir)).join(command),
        })
        .find(|p| is_file(p))
}
