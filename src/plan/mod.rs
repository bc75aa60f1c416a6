//! What is to be resolved: every text that may hold references (environment
//! values, template files), scanned before any request, each reference kept
//! with where it came from so that every message can name the variable or the
//! file and line, never the content.

use crate::cloud::Cloud;
use crate::error::{printable, Error, Failure, Status, Unresolved};
use crate::reference::{Reference, SecretRef};
use crate::resolve::Resolution;
use crate::secret::SecretBytes;
use crate::template::{self, Template};
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::path::Path;

/// Which input an item is, for the caller to put the rendered text back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// Index into the caller's list of environment variables.
    Var(usize),
    /// Index into the caller's list of template files.
    File(usize),
}

pub(crate) struct Item<'a> {
    pub key: Key,
    label: String,
    text: &'a str,
    is_file: bool,
    /// `None` when the text had a syntax error and is kept literally (`--keep-unresolved`).
    template: Option<Template<'a>>,
}

impl Item<'_> {
    /// The text with every resolved reference in place; unresolved ones stay literal.
    pub(crate) fn render(&self, resolution: &Resolution) -> SecretBytes {
        match &self.template {
            Some(t) => t.render(|r| resolution.value(r).map(|f| &f.value)),
            None => {
                let mut out = SecretBytes::with_capacity(self.text.len());
                out.push(self.text.as_bytes());
                out
            }
        }
    }

    /// The length [`Item::render`] would give.
    pub(crate) fn rendered_len(&self, resolution: &Resolution) -> usize {
        match &self.template {
            Some(t) => t.rendered_len(|r| resolution.value(r).map(|f| &f.value)),
            None => self.text.len(),
        }
    }

    /// Whether this is an environment variable (not a template file).
    pub(crate) fn is_var(&self) -> bool {
        !self.is_file
    }

    /// The reference that is this item's whole text, if it is exactly one.
    pub(crate) fn whole_reference(&self) -> Option<&Reference> {
        self.template.as_ref().and_then(Template::whole)
    }

    /// The `contentType` the vault gave the secret that is this item's whole
    /// text (none when it is more than one reference, or not resolved).
    pub(crate) fn content_type<'r>(&self, resolution: &'r Resolution) -> Option<&'r str> {
        self.whole_reference()
            .and_then(|r| resolution.value(r))
            .and_then(|f| f.meta.content_type.as_deref())
    }

    /// Every reference in this item's text.
    pub(crate) fn references(&self) -> impl Iterator<Item = &Reference> {
        self.template.iter().flat_map(|t| t.refs())
    }

    /// Where this item is: `NAME` or `PATH`.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// Where a reference at `offset` is: `NAME`, or `PATH:LINE` for a file.
    fn location(&self, offset: usize) -> String {
        if self.is_file {
            format!("{}:{}", self.label, template::line_of(self.text, offset))
        } else {
            self.label.clone()
        }
    }
}

/// A reference that could not even be parsed, and where.
struct Problem {
    location: String,
    message: String,
}

/// One reference at one location and what became of it (for `kvenv check`).
pub(crate) struct Row {
    pub location: String,
    pub reference: Option<Reference>,
    /// For an App Configuration key-value that is a Key Vault reference: the secret.
    pub via: Option<SecretRef>,
    pub resolved_version: Option<String>,
    pub status: Status,
    pub detail: String,
    /// What to do about a failure, kept apart from what happened.
    pub hint: Option<String>,
    /// A `--token`'s expiry (RFC 3339), when it was issued.
    pub expires_on: Option<String>,
    /// `--optional`: not found, and that is allowed (it does not fail `check`).
    pub optional: bool,
    /// What the vault said about the secret (`contentType`, attributes).
    pub meta: Option<crate::vault::Meta>,
    /// `--cert`: the leaf the certificate's secret holds.
    pub certificate: Option<crate::cert::Summary>,
}

#[derive(Default)]
pub(crate) struct Plan<'a> {
    pub items: Vec<Item<'a>>,
    problems: Vec<Problem>,
}

impl<'a> Plan<'a> {
    /// The plan for the whole environment and the given template files (path, text).
    pub(crate) fn of(
        vars: &'a [(OsString, OsString)],
        files: &[(&Path, &'a str)],
        cloud: Cloud,
    ) -> Plan<'a> {
        let mut plan = Plan::default();
        for (i, (name, value)) in vars.iter().enumerate() {
            plan.var(i, name, value, cloud);
        }
        for (i, (path, text)) in files.iter().enumerate() {
            plan.file(i, path, text, cloud);
        }
        plan
    }

    /// An environment variable: kept only if its value holds a reference.
    pub(crate) fn var(&mut self, key: usize, name: &OsStr, value: &'a OsStr, cloud: Cloud) {
        let label = printable(&name.to_string_lossy());
        match value.to_str() {
            Some(text) => self.scan(Key::Var(key), label, text, false, cloud),
            None if template::mentions_reference(value.as_encoded_bytes()) => {
                self.problems.push(Problem {
                    location: label,
                    message: "the value is not valid UTF-8".into(),
                })
            }
            None => {}
        }
    }

    /// A template file: always kept, since it is rendered even without references.
    pub(crate) fn file(&mut self, key: usize, path: &Path, text: &'a str, cloud: Cloud) {
        let label = printable(&path.display().to_string());
        self.scan(Key::File(key), label, text, true, cloud);
    }

    fn scan(&mut self, key: Key, label: String, text: &'a str, is_file: bool, cloud: Cloud) {
        let mut item = Item {
            key,
            label,
            text,
            is_file,
            template: None,
        };
        match template::scan(text, cloud) {
            Ok(t) if t.has_refs() || is_file => item.template = Some(t),
            Ok(_) => return,
            Err(e) => self.problems.push(Problem {
                location: item.location(e.offset),
                message: e.error.to_string(),
            }),
        }
        self.items.push(item);
    }

    /// Every unique reference.
    pub(crate) fn refs(&self) -> BTreeSet<Reference> {
        self.items
            .iter()
            .filter_map(|i| i.template.as_ref())
            .flat_map(|t| t.refs().cloned())
            .collect()
    }

    /// Syntax problems fail the run (or, kept literally, are warned about).
    pub(crate) fn check_syntax(&self, keep_unresolved: bool) -> Result<(), Error> {
        let lines = self
            .problems
            .iter()
            .map(|p| Unresolved {
                location: p.location.clone(),
                failure: Failure::new(Status::InvalidSyntax, p.message.clone()),
            })
            .collect();
        settle(lines, keep_unresolved)
    }

    /// Every reference that did not resolve, one line each, by location.
    pub(crate) fn check_resolution(
        &self,
        resolution: &Resolution,
        keep_unresolved: bool,
        excused: &dyn Fn(&Item, &Failure) -> bool,
    ) -> Result<(), Error> {
        let mut lines = Vec::new();
        for item in &self.items {
            let Some(t) = &item.template else { continue };
            let mut seen = BTreeSet::new();
            for (r, offset) in t.refs_at() {
                if let Some(failure) = resolution.failures.get(r).filter(|f| !excused(item, f)) {
                    if seen.insert(r) {
                        lines.push(Unresolved {
                            location: item.location(offset),
                            failure: failure.clone(),
                        });
                    }
                }
            }
            lines.extend(unencodable(item, t, resolution));
        }
        settle(lines, keep_unresolved)
    }
}

/// Each resolved value that the place its reference stands in (`Encode=`)
/// cannot hold, one line per location.
fn unencodable(item: &Item, t: &Template, resolution: &Resolution) -> Vec<Unresolved> {
    t.encodings()
        .filter_map(|(r, encoding, offset)| {
            let why = encoding.refuses(resolution.value(r)?.value.expose())?;
            Some(Unresolved {
                location: item.location(offset),
                failure: Failure::new(Status::OtherReasons, why),
            })
        })
        .collect()
}

fn settle(lines: Vec<Unresolved>, keep_unresolved: bool) -> Result<(), Error> {
    if lines.is_empty() {
        return Ok(());
    }
    if !keep_unresolved {
        return Err(Error::Unresolved(lines));
    }
    for line in &lines {
        tracing::warn!("kept literally: {line}");
    }
    Ok(())
}

mod rows;

#[cfg(test)]
mod tests;
