//! The names `--json-expand` makes: each a valid variable name, never one
//! that changes how a program is loaded or started, and never one the
//! command already gets. kvenv never overwrites silently.

use crate::error::{printable, Failure, Status};
use std::ffi::OsString;

pub(super) fn is_name(name: &str) -> bool {
    crate::vars::is_name(name.as_bytes())
}

pub(super) fn check_name(var: &str) -> Result<(), String> {
    match is_name(var) {
        true => Ok(()),
        false => Err(format!(
            "'{}' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
            printable(var)
        )),
    }
}

/// Every variable the command would get, for `--json-expand`'s promise that
/// it never overwrites one: kvenv's environment (env files included, so the
/// `--json-field` VARs too), the `--token` and `--template` VARs, and the
/// members every other `--json-expand` made.
pub(crate) struct Taken<'a> {
    vars: &'a [(OsString, OsString)],
    named: Vec<&'a str>,
    made: Vec<String>,
}

impl<'a> Taken<'a> {
    /// `named`: the `--token` and `--template` VARs.
    pub(crate) fn new(
        vars: &'a [(OsString, OsString)],
        named: impl IntoIterator<Item = &'a str>,
    ) -> Taken<'a> {
        Taken {
            vars,
            named: named.into_iter().collect(),
            made: Vec::new(),
        }
    }

    fn has(&self, name: &str) -> bool {
        in_env(self.vars, name) || self.named.contains(&name) || self.made.iter().any(|m| m == name)
    }

    /// Checks the names `--json-expand VAR` would make (each a valid name, none
    /// that changes how a program is loaded, none taken or made twice) and,
    /// when all pass, counts them as taken.
    pub(crate) fn claim(&mut self, var: &str, prefix: &str, names: &[&str]) -> Result<(), Failure> {
        for (i, name) in names.iter().enumerate() {
            let member = name.strip_prefix(prefix).unwrap_or(name);
            if !is_name(name) {
                return Err(Failure::new(
                    Status::OtherReasons,
                    format!(
                        "--json-expand {var}: member '{}' would make '{}', which is not a variable name",
                        printable(member),
                        printable(name)
                    ),
                )
                .hint("give a --json-expand prefix, or rename the member"));
            }
            if changes_loading(name) {
                return Err(Failure::new(
                    Status::OtherReasons,
                    format!(
                        "--json-expand {var}: member '{}' would make {name}, which changes how programs are loaded or started; a secret never sets it",
                        printable(member)
                    ),
                )
                .hint(format!("keep the default prefix ({var}_), or rename the member")));
            }
            if self.has(name) || names[..i].contains(name) {
                return Err(Failure::new(
                    Status::OtherReasons,
                    format!("--json-expand {var}: {name} is already in the command's environment; kvenv never overwrites it"),
                )
                .hint("give --json-expand a prefix that makes the names unique"));
            }
        }
        self.made.extend(names.iter().map(|n| n.to_string()));
        Ok(())
    }
}

/// Whether a variable named `name` changes how a program is loaded or
/// started: the dynamic loaders' (glibc, musl, macOS), the shells' start-up
/// variables, the interpreters' hooks, and kvenv's own. Compared without
/// case, as Windows compares names.
pub(super) fn changes_loading(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "GCONV_PATH",
        "GLIBC_TUNABLES",
        "BASH_ENV",
        "ENV",
        "PROMPT_COMMAND",
        "PS4",
        "SHELLOPTS",
        "BASHOPTS",
        "IFS",
        "PATH",
        "NODE_OPTIONS",
        "RUBYOPT",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "DOTNET_STARTUP_HOOKS",
    ];
    const PREFIXES: &[&str] = &[
        "LD_", "MALLOC_", "DYLD_", "PYTHON", "PERL5", "CORECLR_", "KVENV_",
    ];
    let upper = name.to_ascii_uppercase();
    EXACT.contains(&upper.as_str()) || PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// Whether `name` is among `vars`.
pub(crate) fn in_env(vars: &[(OsString, OsString)], name: &str) -> bool {
    vars.iter()
        .any(|(n, _)| n.as_encoded_bytes() == name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expanded_names_are_valid_and_never_overwrite() {
        let vars = [(OsString::from("HOME"), OsString::from("/root"))];
        let mut taken = Taken::new(&vars, ["TPL"]);
        assert!(taken.claim("DB", "DB_", &["DB_user"]).is_ok());
        assert!(taken.claim("DB", "DB_", &["DB_a-b"]).is_err());
        assert!(taken.claim("DB", "", &["HOME"]).is_err());
        assert!(taken.claim("DB", "", &["TPL"]).is_err());
        // Another expansion's member counts as taken; a refused one does not.
        assert!(taken.claim("OTHER", "DB_", &["DB_user"]).is_err());
        assert!(taken.claim("OTHER", "", &["fine", "HOME"]).is_err());
        assert!(taken.claim("THIRD", "", &["fine"]).is_ok());
    }

    #[test]
    fn loader_and_start_up_variables_are_never_made_whatever_the_case() {
        for name in [
            "LD_PRELOAD",
            "ld_preload",
            "LD_LIBRARY_PATH",
            "GCONV_PATH",
            "GLIBC_TUNABLES",
            "MALLOC_CHECK_",
            "DYLD_INSERT_LIBRARIES",
            "BASH_ENV",
            "ENV",
            "PROMPT_COMMAND",
            "PS4",
            "SHELLOPTS",
            "BASHOPTS",
            "IFS",
            "PATH",
            "NODE_OPTIONS",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "PERL5OPT",
            "PERL5LIB",
            "RUBYOPT",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "DOTNET_STARTUP_HOOKS",
            "CORECLR_PROFILER",
            "KVENV_ALLOW_HOST",
        ] {
            assert!(changes_loading(name), "{name}");
            let mut taken = Taken::new(&[], []);
            let err = taken.claim("DB", "", &[name]).unwrap_err();
            assert!(
                err.detail.contains("changes how programs are loaded"),
                "{name}"
            );
        }
        for name in ["DB_LD_PRELOAD", "ENVIRONMENT", "MYPATH", "NODE_ENV", "user"] {
            assert!(!changes_loading(name), "{name}");
        }
    }
}
