//! The process boundary: core-dump protection while secrets are in memory,
//! SIGPIPE kept away from the network work, and `execvpe(3)` with the
//! resolved environment so the command keeps kvenv's PID, fds, signal state
//! and limits.

use crate::error::Error;
use crate::secret::SecretBytes;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::prctl;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::signal::{SigSet, Signal};
use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, IntoRawFd};
use std::os::unix::ffi::OsStrExt;

/// What kvenv changed to keep secrets out of core dumps, to be put back before exec.
pub(crate) struct Hardening {
    core: Option<(u64, u64)>,
    dumpable: Option<bool>,
}

impl Hardening {
    /// Turns core dumps off: `PR_SET_DUMPABLE` 0 (also keeps other processes of the
    /// same user from ptrace-attaching or reading our memory) and a soft
    /// `RLIMIT_CORE` of 0. The hard limit is kept so the soft one can be restored.
    pub(crate) fn engage() -> Hardening {
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
    pub(crate) fn around_spawn<T>(&self, spawn: impl FnOnce() -> T) -> T {
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
    pub(crate) fn restore(&self) {
        if let Some((soft, hard)) = self.core {
            let _ = setrlimit(Resource::RLIMIT_CORE, soft, hard);
        }
        if let Some(dumpable) = self.dumpable {
            let _ = prctl::set_dumpable(dumpable);
        }
    }
}

#[allow(unsafe_code)] // declaring the C library's `environ`; read in `raw_environment`
unsafe extern "C" {
    /// The C library's environment: a NULL-terminated array of NUL-terminated
    /// `NAME=VALUE` strings (glibc and musl both export it).
    static environ: *const *const std::ffi::c_char;
}

/// kvenv's environment exactly as it stands, every entry as `ENTRY\0`: those
/// without `=` or starting with it too, which `std::env` leaves out and
/// `env(1)` passes on. Read from the C library's `environ`, which kvenv never
/// changes after its env files are applied (on the main thread, before any
/// other thread exists).
pub(crate) fn raw_environment() -> Vec<SecretBytes> {
    let mut entries = Vec::new();
    // SAFETY: `environ` is either null or points to a NULL-terminated array of
    // pointers to NUL-terminated strings that the C library keeps valid; no
    // thread changes the environment while kvenv reads it (kvenv only sets
    // variables from env files, on the main thread, before this is called),
    // and each string is copied out before the next is read.
    #[allow(unsafe_code)]
    unsafe {
        let mut at = environ;
        while !at.is_null() && !(*at).is_null() {
            let bytes = CStr::from_ptr(*at).to_bytes_with_nul();
            let mut entry = SecretBytes::with_capacity(bytes.len());
            entry.push(bytes);
            entries.push(entry);
            at = at.add(1);
        }
    }
    entries
}

/// When kvenv was started with descriptor 0, 1 or 2 closed, puts an empty,
/// sealed, close-on-exec in-memory file there, so that no descriptor kvenv
/// opens (a socket, a template's in-memory file) takes that number: kvenv's
/// own lines would go into it, or the command would get a template as its
/// stdin. Close-on-exec, so the command finds them closed, as with `env(1)`.
pub(crate) fn hold_closed_standard_descriptors() {
    let closed = |fd: std::os::fd::BorrowedFd<'_>| fcntl(fd, FcntlArg::F_GETFD).is_err();
    let any_closed = closed(std::io::stdin().as_fd())
        || closed(std::io::stdout().as_fd())
        || closed(std::io::stderr().as_fd());
    if !any_closed {
        return;
    }
    // Each new descriptor takes the lowest free number: the closed ones first.
    while let Ok(fd) = memfd_create(
        c"kvenv-closed",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    ) {
        let seals = SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
        let _ = fcntl(fd.as_fd(), FcntlArg::F_ADD_SEALS(seals));
        if fd.as_raw_fd() > 2 {
            break;
        }
        // Held for kvenv's whole life; exec closes it.
        let _ = fd.into_raw_fd();
    }
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
        Inherited {
            mask: SigSet::thread_get_mask().unwrap_or_else(|_| SigSet::empty()),
            ignored: ignored_signals(),
        }
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
    fn defaults(&self) -> SigSet {
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

/// Starts `command` as a child, searched in PATH like exec, with `env`, the
/// signal mask and dispositions kvenv was started with (`inherited`) and the
/// original core limit: what exec would have given it.
pub(crate) fn spawn(
    command: &[OsString],
    env: &[SecretBytes],
    hardening: Option<&Hardening>,
    inherited: &Inherited,
) -> Result<nix::unistd::Pid, Error> {
    use nix::spawn::{posix_spawnp, PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
    let name = crate::error::printable(&command[0].to_string_lossy());
    let (args, entries) = argv_envp(command, env)?;
    let fail = |e: nix::Error| Error::Internal(format!("cannot start {name}: {e}"));
    let actions = PosixSpawnFileActions::init().map_err(fail)?;
    let mut attr = PosixSpawnAttr::init().map_err(fail)?;
    attr.set_sigmask(&inherited.mask).map_err(fail)?;
    attr.set_sigdefault(&inherited.defaults()).map_err(fail)?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
    )
    .map_err(fail)?;
    let spawn = || posix_spawnp(&args[0], &actions, &attr, &args, &entries);
    let spawned = match hardening {
        Some(h) => h.around_spawn(spawn),
        None => spawn(),
    };
    spawned.map_err(|errno| exec_error(&command[0], errno))
}

/// Replaces this process with `command`, searched in `PATH` like `execvp(3)`,
/// with exactly `env` as its environment. Returns only on failure, with the
/// exit code `env(1)` uses: 127 when exec said `ENOENT`, 126 for any other
/// reason (not executable, a directory, `ENOTDIR`, ...).
/// `env` entries are `NAME=VALUE\0` (see `environment::entry`); they are
/// wiped if exec fails.
pub(crate) fn exec(
    command: &[OsString],
    env: Vec<SecretBytes>,
    hardening: Option<&Hardening>,
) -> Error {
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
pub(crate) fn argv_envp<'e>(
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
pub(crate) fn exec_error(command: &OsStr, errno: nix::errno::Errno) -> Error {
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
