//! The console's Ctrl+C and Ctrl+Break: the console delivers them to every
//! process attached to it, the command included, so kvenv itself ignores
//! them and waits. A supervised command (`run --watch`) sits in a process
//! group of its own, so kvenv passes them on to it as Ctrl+Break.

use std::sync::OnceLock;
use tokio::sync::Notify;
use windows_sys::core::BOOL;
use windows_sys::Win32::System::Console::{SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_C_EVENT};

/// What kvenv can send a command on Windows: Ctrl+Break to its process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    CtrlBreak,
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ctrl+Break")
    }
}

/// The names that mean "stop" (`SIGTERM`, `SIGINT`, `SIGQUIT`, `SIGHUP`,
/// `SIGBREAK`) are Ctrl+Break here; others have no Windows equivalent.
pub(crate) fn parse_signal(name: &str) -> Option<Signal> {
    matches!(
        name,
        "SIGTERM" | "SIGINT" | "SIGQUIT" | "SIGHUP" | "SIGBREAK"
    )
    .then_some(Signal::CtrlBreak)
}

/// Ctrl+C or Ctrl+Break came while kvenv was listening.
static PRESSED: OnceLock<Notify> = OnceLock::new();

/// The console's handler: Ctrl+C and Ctrl+Break are kvenv's to ignore (the
/// command got them too, or is told by the supervisor); closing the
/// console or logging off is not, and ends kvenv and its job.
extern "system" fn handler(event: u32) -> BOOL {
    match event {
        CTRL_C_EVENT | CTRL_BREAK_EVENT => {
            if let Some(pressed) = PRESSED.get() {
                pressed.notify_one();
            }
            1
        }
        _ => 0,
    }
}

/// From now on, Ctrl+C and Ctrl+Break do not end kvenv.
pub(super) fn ignore_interrupts() {
    let _ = PRESSED.get_or_init(Notify::new);
    // SAFETY: `handler` is a plain function that lives as long as the process.
    #[allow(unsafe_code)]
    let set = unsafe { SetConsoleCtrlHandler(Some(handler), 1) };
    if set == 0 {
        tracing::warn!("could not set a console control handler");
    }
}

/// The console state kvenv was started with; nothing a command inherits
/// needs keeping on Windows.
pub(crate) struct Inherited;

impl Inherited {
    pub(crate) fn now() -> Inherited {
        Inherited
    }

    /// Ctrl+C and Ctrl+Break pressed at the console, each as Ctrl+Break for
    /// the command's process group.
    pub(crate) fn forwarded(&self) -> Result<super::Signals, (Signal, std::io::Error)> {
        use futures::StreamExt;
        ignore_interrupts();
        let presses = futures::stream::unfold((), |()| async {
            PRESSED.get_or_init(Notify::new).notified().await;
            Some((Signal::CtrlBreak, ()))
        })
        .boxed();
        let mut all = futures::stream::SelectAll::new();
        all.push(presses);
        Ok(all)
    }
}
