//! `check`'s view of the plan: one row per reference and location, with its
//! outcome and what the vault said about it.

use super::{Plan, Row};
use crate::error::Status;
use crate::reference::Reference;
use crate::resolve::Resolution;
use std::collections::BTreeSet;

impl Plan<'_> {
    /// Every reference by location with its outcome, syntax errors first.
    /// `makes_file(VAR)`: whether VAR becomes a file (`--cert`, `--file`),
    /// which may hold any byte.
    pub(crate) fn rows(
        &self,
        resolution: &Resolution,
        makes_file: &dyn Fn(&str) -> bool,
    ) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .problems
            .iter()
            .map(|p| Row {
                location: p.location.clone(),
                reference: None,
                via: None,
                resolved_version: None,
                status: Status::InvalidSyntax,
                detail: p.message.clone(),
                hint: None,
                expires_on: None,
                optional: false,
                meta: None,
                certificate: None,
            })
            .collect();
        for item in &self.items {
            let Some(t) = &item.template else { continue };
            let mut seen = BTreeSet::new();
            for (r, offset) in t.refs_at() {
                if !seen.insert(r) {
                    continue;
                }
                let (resolved_version, status, detail, hint) =
                    match (resolution.value(r), resolution.failures.get(r)) {
                        // What `run` refuses, `check` must not call resolved.
                        (Some(fetched), _)
                            if !item.is_file
                                && !makes_file(item.label())
                                && fetched.value.expose().contains(&0) =>
                        {
                            (
                                fetched.version.clone(),
                                Status::OtherReasons,
                                crate::vars::NUL_IN_VARIABLE.to_string(),
                                None,
                            )
                        }
                        (Some(fetched), _) => {
                            let (status, detail) = match t.refusal(r, fetched.value.expose()) {
                                Some(why) => (Status::OtherReasons, why.to_string()),
                                None => {
                                    // Served out of its validity: a warning, not a failure.
                                    let stale = fetched.meta.invalid_at(crate::shape::now()).map(
                                        |(_, why)| format!("{why}; the vault still serves it"),
                                    );
                                    let notes: Vec<String> =
                                        fetched.warning.iter().cloned().chain(stale).collect();
                                    (Status::Resolved, notes.join("; "))
                                }
                            };
                            (fetched.version.clone(), status, detail, None)
                        }
                        (None, Some(f)) => (None, f.status, f.detail.clone(), f.hint.clone()),
                        (None, None) => (None, Status::OtherReasons, "not attempted".into(), None),
                    };
                rows.push(Row {
                    location: item.location(offset),
                    reference: Some(r.clone()),
                    via: match r {
                        Reference::Config(c) => resolution.links.get(c).cloned(),
                        Reference::Secret(_) | Reference::Token(_) => None,
                    },
                    resolved_version,
                    status,
                    detail,
                    hint,
                    expires_on: None,
                    optional: false,
                    meta: resolution.value(r).map(|f| f.meta.clone()),
                    certificate: None,
                });
            }
        }
        rows
    }
}
