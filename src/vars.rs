//! kvenv's environment as one value: read once at start (in `lib.rs`, the
//! only place that reads the process environment), with the `--env-file`
//! variables added after it. Identity, the plan, the command's environment
//! and the `PATH` search all read this value; kvenv never changes its own
//! environment.

use std::ffi::{OsStr, OsString};

/// Where `execvp(3)` searches when `PATH` is not set (glibc's `_CS_PATH`).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Every `NAME=value` of kvenv's environment that has a name, in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Vars(Vec<(OsString, OsString)>);

impl Vars {
    pub(crate) fn new(entries: impl IntoIterator<Item = (OsString, OsString)>) -> Vars {
        Vars(entries.into_iter().collect())
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
            .find(|(n, _)| n.as_os_str() == name)
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
