//! The supervisor's side of `--mask`: each start gets fresh pipes or a
//! pseudo-terminal, whose other ends threads read and mask into kvenv's
//! stdout and stderr; rotation adds the new values to the patterns; at the
//! end, what the command wrote last is written out before kvenv exits.

use crate::mask::{Masked, To};
use crate::platform::{ChildIo, Wired};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long kvenv waits, once the command has ended, for its output to end
/// (a process it left behind may hold it open).
const DRAIN: Duration = Duration::from_secs(2);

pub(super) struct Output {
    masked: Option<Masked>,
    /// The current start's descriptors: the terminal's settings to put back.
    wired: Option<Wired>,
    /// Relays still running, and where they say they are done.
    running: usize,
    done: (mpsc::Sender<()>, mpsc::Receiver<()>),
}

impl Output {
    pub(super) fn new(masked: Option<Masked>) -> Output {
        Output {
            masked,
            wired: None,
            running: 0,
            done: mpsc::channel(),
        }
    }

    /// The descriptors for the next start (none without `--mask`). The
    /// previous start's terminal settings are put back first.
    pub(super) fn wire(&mut self) -> Result<Option<(ChildIo, Wired)>, crate::error::Error> {
        if self.masked.is_none() {
            return Ok(None);
        }
        self.wired = None;
        crate::platform::wire().map(Some)
    }

    /// Starts the relays for a start's descriptors.
    pub(super) fn relay(&mut self, mut wired: Wired) {
        let Some(masked) = &self.masked else { return };
        for (from, to) in [
            (wired.stdout.take(), To::Stdout),
            (wired.stderr.take(), To::Stderr),
        ] {
            if let Some(from) = from {
                crate::mask::relay(from, to, masked.patterns.clone(), self.done.0.clone());
                self.running += 1;
            }
        }
        if let Some(typed) = wired.typed.take() {
            crate::mask::typing(typed);
        }
        self.wired = Some(wired);
    }

    /// SIGWINCH: the terminal's new size, to the command's.
    pub(super) fn resize(&self) {
        if let Some(wired) = &self.wired {
            wired.resize();
        }
    }

    /// New values (rotation under `--watch`) join the masked ones.
    pub(super) fn add(&mut self, values: Vec<crate::secret::SecretBytes>) {
        if let Some(masked) = &mut self.masked {
            masked.add(values);
        }
    }

    pub(super) fn masking(&self) -> bool {
        self.masked.is_some()
    }

    /// Waits (at most [`DRAIN`]) for the relays to write the command's last
    /// output, then puts the terminal back.
    pub(super) fn drain(&mut self) {
        let deadline = Instant::now() + DRAIN;
        while self.running > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.done.1.recv_timeout(left) {
                Ok(()) => self.running -= 1,
                Err(_) => break,
            }
        }
        self.wired = None;
    }
}
