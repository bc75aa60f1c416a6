//! Refreshing while the command runs: a network thread that keeps one session
//! (connections, identity, token renewed before it expires) for the
//! supervisor's whole life, which references are worth asking again (those
//! without a version), and what a new round changed.

use crate::plan::Plan;
use crate::reference::{Reference, SecretRef};
use crate::resolve::{Resolution, Session, Settings};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::oneshot;

/// References to fetch, whether all must resolve, and where the answer goes.
type Job = (BTreeSet<Reference>, bool, oneshot::Sender<Resolution>);

/// The thread that fetches: SIGPIPE blocked (a reset peer must not kill the
/// supervisor), its own runtime, one session (one credential, one token
/// cache, resumed TLS) for the first round and every refresh.
pub(crate) struct Network {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Network {
    /// Starts the thread and its session; a session that cannot be set up
    /// (a bad `--ca-file`, say) is kvenv's error, as without `--watch`.
    pub(crate) fn start(settings: Settings) -> Result<Network, crate::error::Error> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let (ready, started) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            crate::platform::block_sigpipe_in_this_thread();
            let session = match Session::new(&settings) {
                Ok(session) => {
                    let _ = ready.send(Ok(()));
                    session
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            for (refs, all_or_nothing, reply) in queue {
                let _ = reply.send(session.round(&refs, all_or_nothing));
            }
        });
        match started.recv() {
            Ok(Ok(())) => Ok(Network { jobs }),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(crate::error::Error::internal(
                "the network thread ended before it started",
                e,
            )),
        }
    }

    /// The first round, waited for: what `run` fetches before the command starts.
    pub(crate) fn first(&self, refs: &BTreeSet<Reference>, all_or_nothing: bool) -> Resolution {
        let (reply, answer) = oneshot::channel();
        let _ = self.jobs.send((refs.clone(), all_or_nothing, reply));
        answer.blocking_recv().unwrap_or_default()
    }

    /// Fetches `refs` once; the answer arrives on the receiver.
    pub(super) fn round(&self, refs: BTreeSet<Reference>) -> oneshot::Receiver<Resolution> {
        let (reply, answer) = oneshot::channel();
        let _ = self.jobs.send((refs, false, reply));
        answer
    }
}

/// What a refresh asks again: secrets without a version (a pinned version
/// never changes) and App Configuration key-values.
pub(super) fn unpinned(plan: &Plan) -> BTreeSet<Reference> {
    plan.refs()
        .into_iter()
        .filter(|r| match r {
            Reference::Secret(s) => s.version.is_none(),
            Reference::Config(_) | Reference::Token(_) => true,
        })
        .collect()
}

/// The wait before the next refresh: `interval` ±20%, so that a fleet
/// started together does not poll together.
pub(super) fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.8 + 0.4 * fastrand::f64())
}

/// One reference that changed, with what identifies its old and new value.
pub(super) struct Change {
    reference: Reference,
    old: Option<String>,
    new: Option<String>,
}

pub(super) struct Changes(Vec<Change>);

impl Changes {
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn touches(&self, r: &Reference) -> bool {
        self.0.iter().any(|c| &c.reference == r)
    }

    /// The variables and the template files whose text holds a changed reference.
    pub(super) fn affected(&self, plan: &Plan) -> (Vec<String>, Vec<String>) {
        let (mut vars, mut files) = (Vec::new(), Vec::new());
        for item in &plan.items {
            if item.references().any(|r| self.touches(r)) {
                match item.key {
                    crate::plan::Key::Var(_) => vars.push(item.label().to_string()),
                    crate::plan::Key::File(_) => files.push(item.label().to_string()),
                }
            }
        }
        (vars, files)
    }

    /// One line's worth: what changed, for which variables and templates,
    /// old → new versions; never values.
    pub(super) fn describe(&self, plan: &Plan, tokens: &[crate::token::TokenTarget]) -> String {
        let each: Vec<String> = self
            .0
            .iter()
            .map(|c| {
                let users = users_of(plan, &c.reference);
                // A secret reached only through a key-value: the key-value's line names them.
                let used = match users.is_empty() {
                    true => String::new(),
                    false => format!(" (used by {})", users.join(", ")),
                };
                let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unknown)".into());
                match (&c.reference, &c.old, &c.new) {
                    (Reference::Token(t), _, _) => {
                        let vars: Vec<&str> = tokens
                            .iter()
                            .filter(|target| &target.token == t)
                            .map(|target| target.var.as_str())
                            .collect();
                        format!("{} (used by {}) was renewed", t, vars.join(", "))
                    }
                    (Reference::Config(_), None, None) => {
                        format!("{}{used} has a new value", c.reference)
                    }
                    _ => format!(
                        "{}{used} {} -> {}",
                        c.reference,
                        shown(&c.old),
                        shown(&c.new)
                    ),
                }
            })
            .collect();
        format!("new version: {}", each.join("; "))
    }
}

/// The variables and templates whose text holds `r`, or a key-value that
/// refers to it.
fn users_of<'p>(plan: &'p Plan, r: &Reference) -> Vec<&'p str> {
    plan.items
        .iter()
        .filter(|i| i.references().any(|x| x == r))
        .map(|i| i.label())
        .collect()
}

fn version_of(resolution: &Resolution, secret: &SecretRef) -> Option<String> {
    resolution
        .values
        .get(&Reference::Secret(secret.clone()))
        .and_then(|f| f.version.clone())
}

/// Takes a refresh into `current`: failures are warned about and leave the
/// current value alone; new values replace old ones, and what changed is
/// returned.
pub(super) fn merge(
    current: &mut Resolution,
    mut fresh: Resolution,
    plan: &Plan,
    quiet: bool,
) -> Changes {
    let mut changes = Vec::new();
    for (r, failure) in &fresh.failures {
        if !quiet {
            crate::output::lines(&format!(
                "refresh of {r} (used by {}) failed: {failure}; keeping the current value",
                users_of(plan, r).join(", ")
            ));
        }
    }
    // Secrets first: a key-value that refers to one changes when it does.
    let secrets: Vec<Reference> = fresh
        .values
        .keys()
        .filter(|r| matches!(r, Reference::Secret(_)))
        .cloned()
        .collect();
    for r in secrets {
        let new = fresh.values.remove(&r).expect("listed");
        let Reference::Secret(secret) = &r else {
            continue;
        };
        let old = current.values.get(&r);
        let changed = match (
            old.and_then(|o| o.version.as_deref()),
            new.version.as_deref(),
        ) {
            (Some(a), Some(b)) => a != b,
            _ => old.is_none_or(|o| o.value.expose() != new.value.expose()),
        };
        if changed {
            changes.push(Change {
                reference: r.clone(),
                old: version_of(current, secret),
                new: new.version.clone(),
            });
        }
        current.values.insert(r, new);
    }
    for (config, secret) in std::mem::take(&mut fresh.links) {
        let secret_changed = changes
            .iter()
            .any(|c| c.reference == Reference::Secret(secret.clone()));
        if secret_changed || current.links.get(&config) != Some(&secret) {
            changes.push(Change {
                reference: Reference::Config(config.clone()),
                old: None,
                new: None,
            });
        }
        current.links.insert(config, secret);
    }
    for (r, new) in fresh.values.drain() {
        if let (Reference::Token(_), Some(old)) = (&r, current.value(&r)) {
            // A token no later than the one held is no change: keep the held one.
            if matches!((old.expires_on, new.expires_on), (Some(a), Some(b)) if b <= a) {
                continue;
            }
        }
        let changed = current
            .value(&r)
            .is_none_or(|old| old.value.expose() != new.value.expose());
        if let Reference::Config(config) = &r {
            current.links.remove(config);
        }
        if changed {
            changes.push(Change {
                reference: r.clone(),
                old: None,
                new: None,
            });
        }
        current.values.insert(r, new);
    }
    Changes(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_twenty_percent_and_spreads() {
        let interval = Duration::from_secs(600);
        let waits: Vec<Duration> = (0..2000).map(|_| jittered(interval)).collect();
        let (min, max) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
        assert!(*min >= interval.mul_f64(0.8) && *max <= interval.mul_f64(1.2));
        assert!(*max - *min > interval.mul_f64(0.35), "{min:?}..{max:?}");
    }
}
