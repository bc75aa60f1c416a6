//! What a refresh changes: the variables and templates the command sees,
//! compared before and after, and what `--on-change` does about them (a
//! restart, or templates rewritten in place and a signal).

use super::options::OnChange;
use super::{Signals, Supervisor};
use crate::error::Error;
use crate::resolve::Resolution;
use crate::secret::SecretBytes;
use std::ffi::OsString;

/// What the command sees: its variables and its templates' content.
struct Seen {
    vars: Vec<(OsString, SecretBytes)>,
    files: Vec<(String, SecretBytes)>,
}

/// The variables and templates whose content differs between two sights.
fn seen_changes(before: &Seen, after: &Seen) -> (Vec<String>, Vec<String>) {
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
    let files = before
        .files
        .iter()
        .zip(&after.files)
        .filter(|((_, a), (_, b))| a.expose() != b.expose())
        .map(|((label, _), _)| label.clone())
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
        // What the command would see, before and after: a new version whose
        // member (--json-field) or rendering is the same changes nothing.
        let (vars, files) = match (before, self.seen()) {
            (Ok(before), Ok(after)) => seen_changes(&before, &after),
            (_, Err(e)) => {
                if !quiet {
                    crate::output::lines(&format!(
                        "{}, but it cannot be used; the command keeps what it has:\n{e}",
                        changes.describe(self.watched.plan, self.watched.given.tokens)
                    ));
                }
                return Ok(None);
            }
            (Err(_), Ok(_)) => changes.affected(self.watched.plan),
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
                self.rewrite(&files)?;
                if !quiet {
                    crate::output::lines(&format!(
                        "{}; rewrote {} in place and sent {sig}",
                        changes.describe(self.watched.plan, self.watched.given.tokens),
                        files.join(", ")
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

    /// The command's variables and each template's content, as the current
    /// values make them.
    fn seen(&self) -> Result<Seen, Error> {
        let w = &self.watched;
        let (vars, _warnings) = crate::child::variables(w.plan, &self.current, w.given)?;
        let files = w
            .plan
            .items
            .iter()
            .filter(|i| !i.is_var())
            .map(|i| (i.label().to_string(), i.render(&self.current)))
            .collect();
        Ok(Seen { vars, files })
    }

    /// Replaces the named templates' content in place.
    fn rewrite(&self, labels: &[String]) -> Result<(), Error> {
        for item in &self.watched.plan.items {
            let crate::plan::Key::File(i) = item.key else {
                continue;
            };
            if !labels.iter().any(|l| l == item.label()) {
                continue;
            }
            let content: SecretBytes = item.render(&self.current);
            if let Some((_, fd)) = self.files.iter().find(|(index, _)| *index == i) {
                crate::platform::replace(fd, &content)?;
            }
        }
        Ok(())
    }
}
