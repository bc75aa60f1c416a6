//! kvenv's environment as one value: read once at start (in `lib.rs`, the
//! only place that reads the process environment), with the `--env-file`
//! variables added after it. Identity, the plan, the command's environment
//! and the `PATH` search all read this value; kvenv never changes its own
//! environment.

use std::ffi::{OsStr, OsString};

/// Where `execvp(3)` searches when `PATH` is not set (glibc's `_CS_PATH`).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Whether `name` is a variable name kvenv makes or takes from options:
/// `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_name(name: &[u8]) -> bool {
    name.first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Every `NAME=value` of kvenv's environment that has a name, in order; and
/// the entries that have none (no `=` after their first byte), which pass
/// on to the command untouched.
#[derive(Clone, Debug, Default)]
pub(crate) struct Vars(Vec<(OsString, OsString)>, Vec<OsString>);

/// Why a secret cannot go into an environment variable.
pub(crate) const NUL_IN_VARIABLE: &str = "the secret contains a NUL byte, which an environment variable cannot hold; use --template instead";

use crate::platform::os_string;

impl Vars {
    /// The environment's raw entries (`ENTRY\0`), split as the C library and
    /// Rust's `vars_os` split them: the name up to the first `=` after the
    /// first byte.
    pub(crate) fn from_raw(entries: &[crate::secret::SecretBytes]) -> Vars {
        let mut vars = Vars::default();
        for entry in entries {
            let bytes = entry.expose();
            let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
            match bytes.iter().skip(1).position(|b| *b == b'=') {
                Some(at) => vars
                    .0
                    .push((os_string(&bytes[..at + 1]), os_string(&bytes[at + 2..]))),
                None => vars.1.push(os_string(bytes)),
            }
        }
        vars
    }

    /// The value of `name` among the raw entries (`NAME=VALUE\0`), if set.
    pub(crate) fn find(entries: &[crate::secret::SecretBytes], name: &[u8]) -> Option<OsString> {
        entries.iter().find_map(|entry| {
            let bytes = entry.expose();
            let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
            let value = bytes.strip_prefix(name)?.strip_prefix(b"=")?;
            Some(os_string(value))
        })
    }

    /// The entries without a name, as they stood.
    pub(crate) fn odd(&self) -> &[OsString] {
        &self.1
    }

    /// The variables, in the order the command gets them.
    pub(crate) fn entries(&self) -> &[(OsString, OsString)] {
        &self.0
    }

    /// A variable's value, set or not (blank counts as set).
    pub(crate) fn get(&self, name: impl AsRef<OsStr>) -> Option<&OsStr> {
        let name = name.as_ref();
        self.0
            .iter()
            .find(|(n, _)| same_name(n, name))
            .map(|(_, v)| v.as_os_str())
    }

    /// The folders a command without `/` is searched in.
    pub(crate) fn path(&self) -> &OsStr {
        self.get("PATH").unwrap_or(OsStr::new(DEFAULT_PATH))
    }

    /// These variables, then `added` (names not already set: the environment
    /// wins over env files).
    pub(crate) fn with(mut self, added: Vec<(OsString, OsString)>) -> Vars {
        for (name, value) in added {
            if self.get(&name).is_none() {
                self.0.push((name, value));
            }
        }
        self
    }
}

/// Whether two variable names are the same: byte for byte, or, where the
/// OS ignores case in them (Windows: `Path` is `PATH`), without ASCII case.
pub(crate) fn same_name(a: &OsStr, b: &OsStr) -> bool {
    a == b
        || (crate::platform::NAMES_IGNORE_CASE
            && a.as_encoded_bytes()
                .eq_ignore_ascii_case(b.as_encoded_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretBytes;

    #[test]
    fn raw_entries_split_as_the_c_library_splits_them() {
        let raw: Vec<SecretBytes> = ["A=1\0", "=B=2\0", "C=\0", "ODD\0", "D==x=\0"]
            .iter()
            .map(|e| SecretBytes::new(e.as_bytes().to_vec()))
            .collect();
        let vars = Vars::from_raw(&raw);
        let named: Vec<(&str, &str)> = vars
            .entries()
            .iter()
            .map(|(n, v)| (n.to_str().unwrap(), v.to_str().unwrap()))
            .collect();
        assert_eq!(named, [("A", "1"), ("=B", "2"), ("C", ""), ("D", "=x=")]);
        assert_eq!(vars.odd(), [OsString::from("ODD")]);
    }
}
