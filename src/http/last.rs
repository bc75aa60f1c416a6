//! What a fetch last heard, for the line that says it ran out of time: the
//! last failing answer (`HTTP 500`) or transport failure of any try it made,
//! its identity requests included. Recorded by the log policy, which runs for
//! every try, into a slot the fetch's task carries, and into its host's: a
//! request held back behind its host's first one hears what that one heard.

use super::failure::TransportFailure;
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static LAST: LastHeard;
}

type Slot = Arc<Mutex<Option<Heard>>>;

/// A failing answer or a transport failure, and from which host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Heard {
    pub host: String,
    pub what: HeardKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeardKind {
    Status(u16),
    Transport(TransportFailure),
    /// Nothing came back, but the host's connections kept closing: this many
    /// were opened (see the gate's pacing).
    Unanswered(usize),
}

/// The slot for one fetch (or one host), and the host's, if any.
#[derive(Clone, Debug, Default)]
pub(crate) struct LastHeard {
    slot: Slot,
    parent: Option<Slot>,
    /// The host's connection gate, which knows whether its connections died.
    gate: Option<super::Gate>,
}

impl LastHeard {
    /// A slot whose records also go to the one of the scope it is made in.
    pub(crate) fn child() -> LastHeard {
        let outer = LAST
            .try_with(|outer| (outer.slot.clone(), outer.gate.clone()))
            .ok();
        let (parent, gate) = outer.map_or((None, None), |(slot, gate)| (Some(slot), gate));
        LastHeard {
            slot: Slot::default(),
            parent,
            gate,
        }
    }

    /// The slot for one host, whose connections go through `gate`.
    pub(crate) fn for_host(gate: &super::Gate) -> LastHeard {
        LastHeard {
            gate: Some(gate.clone()),
            ..LastHeard::default()
        }
    }

    /// Runs `fetch` with this slot as the one its tries record into.
    pub(crate) async fn scope<F: std::future::Future>(&self, fetch: F) -> F::Output {
        LAST.scope(self.clone(), fetch).await
    }

    /// What was last recorded here, or else in the parent, or else whether
    /// the host's connections kept closing.
    pub(crate) fn get(&self) -> Option<Heard> {
        let read = |slot: &Slot| slot.lock().ok()?.clone();
        read(&self.slot)
            .or_else(|| self.parent.as_ref().and_then(read))
            .or_else(|| {
                let opened = self.gate.as_ref()?.closing_connections()?;
                Some(Heard {
                    host: String::new(),
                    what: HeardKind::Unanswered(opened),
                })
            })
    }
}

/// Records a try's outcome in the current fetch's slot, if it has one: a
/// status of 400 and up (but 401, a challenge the client answers), or a
/// transport failure.
pub(super) fn record(host: &str, outcome: Result<u16, &azure_core::Error>) {
    let what = match outcome {
        Ok(status) if status >= 400 && status != 401 => HeardKind::Status(status),
        Ok(_) => return,
        Err(e) => match super::find::<TransportFailure>(e) {
            Some(failure) => HeardKind::Transport(failure.clone()),
            None => return,
        },
    };
    let heard = Heard {
        host: host.to_string(),
        what,
    };
    let _ = LAST.try_with(|last| {
        for slot in std::iter::once(&last.slot).chain(&last.parent) {
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(heard.clone());
            }
        }
    });
}

impl std::fmt::Display for Heard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.what {
            HeardKind::Status(status) => write!(f, "last answer: HTTP {status}"),
            HeardKind::Transport(failure) => write!(f, "last failure: {failure}"),
            HeardKind::Unanswered(opened) => write!(
                f,
                "last failure: {opened} connections were closed before any answer"
            ),
        }
    }
}
