//! The one snapshot of the environment the credentials read (taken after
//! `--env-file` files are applied): nothing in `identity/` reads the process
//! environment itself, so selection is a pure function of this and the flags.

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot(BTreeMap<String, String>);

impl Snapshot {
    /// kvenv's environment (names and values that are not UTF-8 are left out:
    /// none of the variables kvenv reads can be such).
    pub(crate) fn of(vars: &crate::vars::Vars) -> Snapshot {
        Snapshot(
            vars.entries()
                .iter()
                .cloned()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        )
    }

    /// A variable's value, `None` when unset or blank.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let found = self.0.get(name).or_else(|| {
            let ignore_case = crate::platform::NAMES_IGNORE_CASE;
            self.0
                .iter()
                .find(|(n, _)| ignore_case && n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        });
        found.map(String::as_str).filter(|v| !v.trim().is_empty())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Snapshot {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Snapshot(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}
