//! Starting the command on Windows, where there is no exec: found as
//! `CreateProcess` and cmd.exe find it (each `PATH` folder, each `PATHEXT`
//! extension), started with exactly kvenv's environment for it (a `.cmd` or
//! `.bat` through cmd.exe with its quoting rules, which Rust's standard
//! library applies), waited for in a job object, and its exit code passed on.

use super::child::{Child, Job};
use super::{console, Hardening, Inherited};

use crate::error::{At, Error};
use crate::secret::SecretBytes;
use std::ffi::{OsStr, OsString};
use std::os::windows::process::CommandExt;
use std::path::{Path, PathBuf};

/// What `PATHEXT` says when it is not set.
const PATHEXT_DEFAULT: &str = ".COM;.EXE;.BAT;.CMD";

/// Where a tool (`az`, `azd`) is found on `path`, with `pathext`'s
/// extensions: never in the current folder.
pub(crate) fn find_program(name: &OsStr, path: &OsStr, pathext: Option<&OsStr>) -> Option<PathBuf> {
    find_in(name, path, pathext, false)
}

/// Where `name` is found, as cmd.exe finds it: as given when it names a
/// folder (`.\app`, `C:\tools\app`), else in the current folder (unless
/// `current_folder` is false: cmd.exe skips it when
/// `NoDefaultCurrentDirectoryInExePath` is set), then in each `path` folder
/// in order; as written if it has an extension, then with each of
/// `pathext`'s.
fn find_in(
    name: &OsStr,
    path: &OsStr,
    pathext: Option<&OsStr>,
    current_folder: bool,
) -> Option<PathBuf> {
    let pathext = pathext
        .and_then(OsStr::to_str)
        .filter(|p| !p.is_empty())
        .unwrap_or(PATHEXT_DEFAULT);
    let as_given = Path::new(name);
    let bases: Vec<PathBuf> = if name
        .as_encoded_bytes()
        .iter()
        .any(|b| matches!(b, b'\\' | b'/' | b':'))
    {
        vec![as_given.to_path_buf()]
    } else {
        let current = current_folder.then(|| Path::new(".").join(name));
        let listed = path
            .as_encoded_bytes()
            .split(|b| *b == b';')
            .filter(|dir| !dir.is_empty())
            .map(|dir| Path::new(&super::os_string(dir)).join(name));
        current.into_iter().chain(listed).collect()
    };
    bases.into_iter().find_map(|base| {
        let with_ext = pathext.split(';').filter(|e| !e.is_empty()).map(|ext| {
            let mut file = base.clone().into_os_string();
            file.push(ext);
            PathBuf::from(file)
        });
        let as_written = base.extension().is_some().then(|| base.clone());
        as_written.into_iter().chain(with_ext).find(|p| p.is_file())
    })
}

/// The environment entries (`NAME=VALUE\0`) as the pairs a Windows process
/// gets; a value that is not UTF-8 (which UTF-16 cannot hold) fails closed,
/// naming its variable.
fn pairs(env: &[SecretBytes]) -> Result<Vec<(OsString, OsString)>, Error> {
    let mut out = Vec::with_capacity(env.len());
    for entry in env {
        let bytes = entry.expose();
        let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
        let Some(at) = bytes.iter().skip(1).position(|b| *b == b'=').map(|i| i + 1) else {
            continue;
        };
        let name = String::from_utf8_lossy(&bytes[..at]).into_owned();
        // The per-drive folders (`=C:`) are the child's own business.
        if name.starts_with('=') {
            continue;
        }
        let value = std::str::from_utf8(&bytes[at + 1..]).map_err(|_| {
            Error::usage(
                At::arg("variable", crate::error::printable(&name)),
                "its value is not valid UTF-8, which a Windows environment variable cannot hold",
            )
        })?;
        out.push((OsString::from(name), OsString::from(value)));
    }
    Ok(out)
}

/// Starts `command` with `env`, in a job of its own; for `run --watch`
/// (`watched`), in a process group of its own too. The command is put in
/// its job as soon as it is started: what it starts from then on is in it.
fn start(
    command: &[OsString],
    env: &[SecretBytes],
    path: &OsStr,
    watched: bool,
) -> Result<(std::process::Child, Option<Job>), Error> {
    use windows_sys::Win32::System::Threading::{
        CREATE_DEFAULT_ERROR_MODE, CREATE_NEW_PROCESS_GROUP,
    };
    let name = crate::error::printable(&command[0].to_string_lossy());
    if command.iter().any(|a| a.as_encoded_bytes().contains(&0)) {
        return Err(Error::usage(
            At::Command(name),
            "an argument contains a NUL byte",
        ));
    }
    let vars = pairs(env)?;
    let var = |name: &str| {
        vars.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_os_str())
    };
    let current_folder = var("NoDefaultCurrentDirectoryInExePath").is_none();
    let program = find_in(&command[0], path, var("PATHEXT"), current_folder)
        .ok_or_else(|| Error::CommandNotFound(name.clone()))?;
    let mut flags = CREATE_DEFAULT_ERROR_MODE;
    if watched {
        flags |= CREATE_NEW_PROCESS_GROUP;
    }
    let child = std::process::Command::new(&program)
        .args(&command[1..])
        .env_clear()
        .envs(vars)
        .creation_flags(flags)
        .spawn()
        .map_err(|e| match (e.kind(), e.raw_os_error()) {
            // ERROR_MOD_NOT_FOUND: the program is there, a DLL it needs is not.
            (_, Some(126)) => Error::CommandNotRunnable(
                name.clone(),
                "a library it needs to start (a DLL) was not found".into(),
            ),
            (std::io::ErrorKind::NotFound, _) => Error::CommandNotFound(name.clone()),
            _ => Error::CommandNotExecutable(name.clone(), e.to_string()),
        })?;
    let job = Job::holding(&child);
    Ok((child, job))
}

/// `run` without exec: starts `command`, waits for it with Ctrl+C and
/// Ctrl+Break left to it, and ends kvenv with its exit code (the whole
/// 32-bit value). Returns only if the command could not be started.
pub(crate) fn exec(
    command: &[OsString],
    env: Vec<SecretBytes>,
    path: &OsStr,
    _hardening: Option<&Hardening>,
) -> Error {
    console::ignore_interrupts();
    let started = start(command, &env, path, false);
    drop(env); // wiped on drop
    let (mut child, job) = match started {
        Ok(both) => both,
        Err(e) => return e,
    };
    let code = match child.wait() {
        Ok(status) => status.code().unwrap_or(1),
        Err(e) => return Error::internal("waiting for the command", e),
    };
    drop(job);
    std::process::exit(code)
}

/// Starts `command` for `run --watch`: in a job object and a process group
/// of its own (so that Ctrl+Break reaches it alone).
pub(crate) fn spawn(
    command: &[OsString],
    env: &[SecretBytes],
    path: &OsStr,
    _hardening: Option<&Hardening>,
    _inherited: &Inherited,
    _io: Option<&super::ChildIo>,
) -> Result<Child, Error> {
    let (child, job) = start(command, env, path, true)?;
    Ok(Child::new(child, job))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_as_cmd_finds_them() {
        let dir = tempfile::tempdir().unwrap();
        let later = tempfile::tempdir().unwrap();
        for (folder, file) in [
            (&dir, "tool.cmd"),
            (&dir, "prog.exe"),
            (&later, "tool.exe"),
            (&later, "only.bat"),
        ] {
            std::fs::write(folder.path().join(file), b"").unwrap();
        }
        let path = OsString::from(format!(
            "{};;{}",
            dir.path().display(),
            later.path().display()
        ));
        let found = |name: &str, pathext: Option<&str>| {
            find_in(OsStr::new(name), &path, pathext.map(OsStr::new), false).map(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_ascii_lowercase()
            })
        };
        // Each folder in PATH order, with each PATHEXT extension in it.
        assert_eq!(found("tool", None).as_deref(), Some("tool.cmd"));
        assert_eq!(
            found("tool", Some(".EXE;.CMD")).as_deref(),
            Some("tool.cmd")
        );
        assert_eq!(found("tool", Some(".EXE")).as_deref(), Some("tool.exe"));
        assert_eq!(found("only", None).as_deref(), Some("only.bat"));
        assert_eq!(found("prog.exe", None).as_deref(), Some("prog.exe"));
        assert_eq!(found("tool", Some(".COM")), None);
        assert_eq!(found("absent", None), None);
        // A name with a folder in it is taken as given.
        let given = dir.path().join("prog");
        assert!(find_in(given.as_os_str(), OsStr::new(""), None, false).is_some());
    }

    #[test]
    fn a_value_windows_cannot_hold_fails_naming_its_variable() {
        let entry = |bytes: &[u8]| {
            let mut e = SecretBytes::with_capacity(bytes.len() + 1);
            e.push(bytes);
            e.push(b"\0");
            e
        };
        let ok = pairs(&[entry(b"A=caf\xc3\xa9"), entry(b"=C:=C:\\x")]).unwrap();
        assert_eq!(ok, [(OsString::from("A"), OsString::from("café"))]);
        let refused = pairs(&[entry(b"DB_PASSWORD=\xff\xfe")]).unwrap_err();
        let line = refused.to_string();
        assert!(
            line.contains("DB_PASSWORD") && line.contains("UTF-8"),
            "{line}"
        );
    }
}
