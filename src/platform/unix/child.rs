//! The command as kvenv's child (`run --watch`): signals sent to it, its
//! end (and every orphan's: kvenv may be PID 1) reaped, and the signals
//! kvenv receives for it.

use super::{Inherited, Signal};
use futures::StreamExt;
use nix::sys::signal::kill;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::signal::unix::{signal, SignalKind};

/// The signals kvenv passes on to the command.
const FORWARDED: [Signal; 7] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// A started command (or none yet).
#[derive(Debug)]
pub(crate) struct Child(Pid);

impl Child {
    pub(super) fn new(pid: Pid) -> Child {
        Child(pid)
    }

    /// No command started yet.
    pub(crate) fn none() -> Child {
        Child(Pid::from_raw(0))
    }

    /// Whether a command was started.
    pub(crate) fn started(&self) -> bool {
        self.0.as_raw() != 0
    }

    /// Sends `signal` to the command (nothing if there is none).
    pub(crate) fn signal(&self, signal: Signal) {
        if self.started() {
            let _ = kill(self.0, signal);
        }
    }

    /// Ends the command now (SIGKILL).
    pub(crate) fn kill(&self) {
        self.signal(Signal::SIGKILL);
    }

    /// Reaps every child that has ended (orphans too: kvenv may be PID 1);
    /// the command's end gives its exit code, 128+N for a signal.
    pub(crate) fn ended(&self) -> Option<i32> {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == self.0 => return Some(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == self.0 => {
                    return Some(128 + sig as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }
}

/// Word that some child has ended (SIGCHLD).
pub(crate) struct ChildEvents(tokio::signal::unix::Signal);

impl ChildEvents {
    /// Listens from now on. Needs a running tokio runtime.
    pub(crate) fn listen() -> std::io::Result<ChildEvents> {
        signal(SignalKind::child()).map(ChildEvents)
    }

    /// Waits for the next word.
    pub(crate) async fn next(&mut self) {
        self.0.recv().await;
    }
}

/// The signals kvenv forwards, as they arrive.
pub(crate) type Signals = futures::stream::SelectAll<futures::stream::BoxStream<'static, Signal>>;

impl Inherited {
    /// The forwarded signals but those ignored when kvenv started: those stay
    /// ignored (kvenv does not catch them), so that the command inherits them
    /// ignored, as with exec. Needs a running tokio runtime.
    pub(crate) fn forwarded(&self) -> Result<Signals, (Signal, std::io::Error)> {
        let mut all = futures::stream::SelectAll::new();
        for sig in FORWARDED.into_iter().filter(|s| !self.ignored(*s)) {
            let stream = signal(SignalKind::from_raw(sig as i32)).map_err(|e| (sig, e))?;
            all.push(
                futures::stream::unfold(stream, move |mut s| async move {
                    s.recv().await.map(|()| (sig, s))
                })
                .boxed(),
            );
        }
        Ok(all)
    }
}

/// Whether `signal` asks the receiver to end (SIGTERM, SIGINT, SIGQUIT).
pub(crate) fn asks_to_end(signal: Signal) -> bool {
    matches!(signal, Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT)
}

/// The exit code that says "ended by `signal`": 128+N.
pub(crate) fn signal_exit_code(signal: Signal) -> i32 {
    128 + signal as i32
}
