//! Exec with the resolved environment, so the command keeps kvenv's PID,
//! descriptors, signal state and limits; or spawn, for `run --watch`, with
//! what exec would have given it. The command is searched in kvenv's `PATH` (with its env files),
//! as `execvp(3)` does.

use super::{Hardening, Inherited};
use crate::error::{At, Error};
use crate::secret::SecretBytes;
use nix::errno::Errno;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Starts `command` as a child, searched and run as [`exec`] would, with `env`,
/// the signal mask and dispositions kvenv was started with (`inherited`) and
/// the original core limit: what exec would have given it.
pub(crate) fn spawn(
    command: &[OsString],
    env: &[SecretBytes],
    path: &OsStr,
    hardening: Option<&Hardening>,
    inherited: &Inherited,
    io: Option<&super::ChildIo>,
) -> Result<super::Child, Error> {
    use nix::spawn::{posix_spawn, PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
    let name = crate::error::printable(&command[0].to_string_lossy());
    let (args, entries) = argv_envp(command, env)?;
    let fail = |e: nix::Error| Error::internal(format!("cannot start {name}"), e);
    let mut actions = PosixSpawnFileActions::init().map_err(fail)?;
    let mut attr = PosixSpawnAttr::init().map_err(fail)?;
    attr.set_sigmask(inherited.mask()).map_err(fail)?;
    attr.set_sigdefault(&inherited.defaults()).map_err(fail)?;
    let mut flags =
        PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF;
    if let Some(io) = io {
        io.actions(&mut actions, &mut flags).map_err(fail)?;
    }
    attr.set_flags(flags).map_err(fail)?;
    let spawn = || {
        search(&command[0], path, |file| {
            match posix_spawn(file, &actions, &attr, &args, &entries) {
                Err(Errno::ENOEXEC) => {
                    let script = shell_script(file, &args);
                    posix_spawn(c"/bin/sh", &actions, &attr, &script, &entries)
                }
                spawned => spawned,
            }
        })
    };
    let spawned = match hardening {
        Some(h) => h.around_spawn(spawn),
        None => spawn(),
    };
    spawned
        .map(super::Child::new)
        .map_err(|errno| exec_error(&command[0], path, errno))
}

/// Replaces this process with `command`, searched in `path` as `execvp(3)`
/// does (a file exec calls not executable, `ENOEXEC`, is run by `/bin/sh`),
/// with exactly `env` as its environment. Returns only on failure, with the
/// exit code `env(1)` uses: 127 when exec said `ENOENT`, 126 for any other
/// reason (not executable, a directory, `ENOTDIR`, ...).
/// `env` entries are `NAME=VALUE\0` (see `environment::entry`); they are
/// wiped if exec fails.
pub(crate) fn exec(
    command: &[OsString],
    env: Vec<SecretBytes>,
    path: &OsStr,
    hardening: Option<&Hardening>,
) -> Error {
    let (args, entries) = match argv_envp(command, &env) {
        Ok(both) => both,
        Err(e) => return e,
    };
    if let Some(h) = hardening {
        h.restore();
    }
    let Err(errno) = search::<std::convert::Infallible>(&command[0], path, |file| {
        let Err(errno) = nix::unistd::execve(file, &args, &entries);
        if errno != Errno::ENOEXEC {
            return Err(errno);
        }
        let Err(errno) = nix::unistd::execve(c"/bin/sh", &shell_script(file, &args), &entries);
        Err(errno)
    });
    drop(entries);
    drop(env); // wiped on drop
    exec_error(&command[0], path, errno)
}

/// The arguments that run `file` (which exec found not executable) with
/// `/bin/sh`, as `execvp(3)` does.
fn shell_script<'a>(file: &'a CStr, args: &'a [CString]) -> Vec<&'a CStr> {
    let mut script: Vec<&CStr> = vec![c"/bin/sh", file];
    script.extend(args[1..].iter().map(CString::as_c_str));
    script
}

/// Calls `attempt` with each file `execvp(3)` would try for `command`: the
/// command itself when it holds a `/`; else the command in each `path`
/// folder (an empty entry is the current folder), going on past a folder
/// where it is not (`ENOENT`, `ENOTDIR`, ...) or not permitted (`EACCES`,
/// which is the answer if nothing else is found). Any other failure ends
/// the search.
fn search<T>(
    command: &OsStr,
    path: &OsStr,
    mut attempt: impl FnMut(&CStr) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let as_c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::ENOENT);
    if command.is_empty() {
        return Err(Errno::ENOENT);
    }
    if command.as_bytes().contains(&b'/') {
        return attempt(&as_c(Path::new(command))?);
    }
    let (mut denied, mut last) = (false, Errno::ENOENT);
    for file in in_path(command, path) {
        match attempt(&as_c(&file)?) {
            Ok(done) => return Ok(done),
            Err(Errno::EACCES) => denied = true,
            Err(
                e @ (Errno::ENOENT
                | Errno::ESTALE
                | Errno::ENOTDIR
                | Errno::ENODEV
                | Errno::ETIMEDOUT),
            ) => last = e,
            Err(other) => return Err(other),
        }
    }
    Err(if denied { Errno::EACCES } else { last })
}

/// `command` in each folder of `path`, in order.
fn in_path<'a>(command: &'a OsStr, path: &'a OsStr) -> impl Iterator<Item = PathBuf> + 'a {
    path.as_bytes()
        .split(|b| *b == b':')
        .map(move |dir| match dir {
            b"" => Path::new(".").join(command),
            dir => Path::new(OsStr::from_bytes(dir)).join(command),
        })
}

/// The argument vector and environment for exec or spawn: the arguments as
/// C strings, and pointers into kvenv's own `NAME=VALUE\0` buffers (no copy
/// of a value is made).
fn argv_envp<'e>(
    command: &[OsString],
    env: &'e [SecretBytes],
) -> Result<(Vec<CString>, Vec<&'e CStr>), Error> {
    let name = crate::error::printable(&command[0].to_string_lossy());
    let args = command
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::usage(At::Command(name), "an argument contains a NUL byte"))?;
    let entries = env
        .iter()
        .map(|e| CStr::from_bytes_with_nul(e.expose()))
        .collect::<Result<_, _>>()
        .map_err(|e| Error::internal("building the command's environment", e))?;
    Ok((args, entries))
}

/// What `env(1)` makes of an exec (or spawn) that failed with `errno`: 127
/// for ENOENT, naming a missing interpreter when that is the cause; 126 else.
fn exec_error(command: &OsStr, path: &OsStr, errno: Errno) -> Error {
    let name = crate::error::printable(&command.to_string_lossy());
    match errno {
        Errno::ENOENT => match missing_helper(command, path) {
            Some(why) => Error::CommandNotRunnable(name, why),
            None => Error::CommandNotFound(name),
        },
        other => Error::CommandNotExecutable(name, other.desc().to_string()),
    }
}

/// When exec says `ENOENT` for a command that exists, what is missing is what
/// it needs to run: a script's interpreter, or an executable's loader.
fn missing_helper(command: &OsStr, path: &OsStr) -> Option<String> {
    let found = find_in_path(command, path)?;
    let mut head = Vec::new();
    let file = super::open_for_reading(&found, true).ok()?;
    std::io::Read::read_to_end(&mut std::io::Read::take(file, 4096), &mut head).ok()?;
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

/// A running command can be sent any signal (`--on-change signal:NAME`).
pub(crate) const SIGNALS_TO_COMMAND: bool = true;

/// A file kvenv writes can be made owner-only (mode 0600).
pub(crate) const OWNER_ONLY_FILES: bool = true;

/// Variable names are case-sensitive here.
pub(crate) const NAMES_IGNORE_CASE: bool = false;

/// Templates are in-memory files here (a `memfd`, or a pipe).
pub(crate) fn templates_supported() -> bool {
    true
}

/// Where `execvp` would have found `name` (`pathext` is Windows's).
pub(crate) fn find_program(
    name: &OsStr,
    path: &OsStr,
    _pathext: Option<&OsStr>,
) -> Option<PathBuf> {
    find_in_path(name, path)
}

/// Where `execvp` would have found `command`: as given when it has a `/`,
/// else the first regular file in a `path` folder.
fn find_in_path(command: &OsStr, path: &OsStr) -> Option<PathBuf> {
    let is_file = |p: &Path| p.metadata().is_ok_and(|m| m.is_file());
    if command.as_bytes().contains(&b'/') {
        let path = PathBuf::from(command);
        return is_file(&path).then_some(path);
    }
    in_path(command, path).find(|p| is_file(p))
}

/// Whether `error` says the process (`EMFILE`) or the system (`ENFILE`) has
/// no file descriptor left: back-pressure, not a broken host.
pub(crate) fn out_of_descriptors(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error().map(Errno::from_raw),
        Some(Errno::EMFILE | Errno::ENFILE)
    )
}

/// How many descriptors this process may open (`ulimit -n`), if known.
pub(crate) fn descriptor_limit() -> Option<u64> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft)
        .filter(|n| *n != nix::sys::resource::RLIM_INFINITY)
}

/// What exec accepts for arguments and environment together: the kernel's
/// `ARG_MAX` (a quarter of the stack limit on Linux), 2 MiB if it cannot be
/// read, and never more than 32 MiB (an unlimited stack must not mean
/// unlimited memory).
pub(crate) fn exec_budget() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::ARG_MAX)
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(2 << 20)
        .min(32 << 20)
}
