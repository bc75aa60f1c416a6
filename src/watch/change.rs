//! What a refresh changes: the variables and templates the command sees,
//! compared before and after, and what `--on-change` does about them (a
//! restart, or templates rewritten in place and a signal).

use super::options::OnChange;
use super::{Signals, Supervisor};
use crate::child::FileKey;
use crate::error::Error;
use crate::resolve::Resolution;
use crate::secret::SecretBytes;
use std::ffi::OsString;

/// What the command sees: its variables and its in-memory files' content
/// (templates, then `--cert` and `--file` variables), each file with its
/// key and its name.
struct Seen {
    vars: Vec<(OsString, SecretBytes)>,
    files: Vec<(FileKey, String, SecretBytes)>,
}

/// The variables whose value, and the files (indexes into `after.files`)
/// whose content, differ between two sights.
fn seen_changes(before: &Seen, after: &Seen) -> (Vec<String>, Vec<usize>) {
    fn value<'s>(list: &'s [(OsString, SecretBytes)], name: &OsString) -> Option<&'s [u8]> {
        list.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.expose())
    }
    let mut vars: Vec<String> = Vec::new();
    for (name, _) in before.vars.iter().chain(&after.vars) {
        let shown = name.to_string_lossy().into_owned();
        if value(&before.vars, name) != value(&after.vars, name) && !vars.contains(&shown) {
            vars.push(shown);
        }
    }
    let files = (0..after.files.len())
        .filter(|i| {
            let now = &after.files[*i];
            before
                .files
                .iter()
                .find(|(key, _, _)| *key == now.0)
                .is_none_or(|(_, _, was)| was.expose() != now.2.expose())
        })
        .collect();
    (vars, files)
}

impl Supervisor<'_> {
    /// Acts on a refresh: warnings for failures, and a restart or a signal
    /// when something changed. `Some(code)` when kvenv must end.
    pub(super) async fn apply(
        &mut self,
        fresh: Resolution,
        signals: &mut Signals,
        children: &mut crate::platform::ChildEvents,
    ) -> Result<Option<i32>, Error> {
        let quiet = self.watched.options.quiet;
        let before = self.seen();
        let changes = super::refresh::merge(&mut self.current, fresh, self.watched.plan, quiet);
        if changes.is_empty() {
            return Ok(None);
        }
        // New values are masked from now on, before the command can print them.
        if self.output.masking() {
            let w = &self.watched;
            if let Ok((values, _short)) = crate::child::mask_values(w.plan, &self.current, w.given)
            {
                self.output.add(values);
            }
        }
        // What the command would see, before and after: a new version whose
        // member (--json-field) or rendering is the same changes nothing.
        let (vars, files, after) = match (before, self.seen()) {
            (Ok(before), Ok(after)) => {
                let (vars, files) = seen_changes(&before, &after);
                (vars, files, after)
            }
            (_, Err(e)) => {
                if !quiet {
                    crate::output::lines(&format!(
                        "{}, but it cannot be used; the command keeps what it has:\n{e}",
                        changes.describe(self.watched.plan, self.watched.given.tokens)
                    ));
                }
                return Ok(None);
            }
            (Err(_), Ok(after)) => {
                // Nothing to compare with: every file counts as changed.
                let (mut vars, _) = changes.affected(self.watched.plan);
                vars.retain(|v| !self.watched.given.shapes.makes_file(v));
                let files = (0..after.files.len()).collect();
                (vars, files, after)
            }
        };
        if vars.is_empty() && files.is_empty() {
            tracing::info!(
                "{}; nothing the command sees changed",
                changes.describe(self.watched.plan, self.watched.given.tokens)
            );
            return Ok(None);
        }
        match self.watched.options.on_change {
            OnChange::Signal(sig) if vars.is_empty() => {
                self.rewrite(&after, &files)?;
                if !quiet {
                    let names: Vec<&str> =
                        files.iter().map(|i| after.files[*i].1.as_str()).collect();
                    crate::output::lines(&format!(
                        "{}; rewrote {} in place and sent {sig}",
                        changes.describe(self.watched.plan, self.watched.given.tokens),
                        names.join(", ")
                    ));
                }
                self.child.signal(sig);
                Ok(None)
            }
            on_change => {
                if !quiet {
                    let why = match on_change {
                        OnChange::Signal(_) => format!(" (variables {} changed: a running command's environment cannot change)", vars.join(", ")),
                        OnChange::Restart => String::new(),
                    };
                    crate::output::lines(&format!(
                        "{}; restarting the command{why}",
                        changes.describe(self.watched.plan, self.watched.given.tokens)
                    ));
                }
                if let Some(code) = self.stop(signals, children).await {
                    return Ok(Some(code));
                }
                self.start()?;
                Ok(None)
            }
        }
    }

    /// The command's variables and each in-memory file's content, as the
    /// current values make them.
    fn seen(&self) -> Result<Seen, Error> {
        let w = &self.watched;
        let (all, _warnings) = crate::child::variables(w.plan, &self.current, w.given)?;
        let mut files: Vec<(FileKey, String, SecretBytes)> = w
            .plan
            .items
            .iter()
            .filter_map(|i| match i.key {
                crate::plan::Key::File(t) => Some((
                    FileKey::Template(t),
                    i.label().to_string(),
                    i.render(&self.current),
                )),
                crate::plan::Key::Var(_) => None,
            })
            .collect();
        let mut vars = Vec::with_capacity(all.len());
        for (name, value) in all {
            let shown = name.to_string_lossy().into_owned();
            if w.given.shapes.makes_file(&shown) {
                files.push((FileKey::Var(shown.clone()), shown, value));
            } else {
                vars.push((name, value));
            }
        }
        Ok(Seen { vars, files })
    }

    /// Replaces the content of the files `changed` names (indexes into
    /// `after.files`) in place.
    fn rewrite(&self, after: &Seen, changed: &[usize]) -> Result<(), Error> {
        for (key, _, content) in changed.iter().map(|i| &after.files[*i]) {
            if let Some((_, fd)) = self.files.iter().find(|(k, _)| k == key) {
                crate::platform::replace(fd, content)?;
            }
        }
        Ok(())
    }
}
