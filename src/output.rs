//! kvenv's own output, which must never end kvenv: on stderr, a write to a
//! pipe whose reader has gone, to `/dev/full` or to a closed descriptor is
//! dropped (a broken stderr says nothing about the command, and in watch mode
//! kvenv still has a command to supervise); on stdout, such a write is an
//! error of kvenv's, exit 125.
//!
//! The default SIGPIPE disposition is kept for the command (see `main.rs`), so
//! a write from a thread that does not block SIGPIPE would kill kvenv. Such a
//! write is made from a short-lived helper thread that blocks it instead: the
//! SIGPIPE a broken pipe raises is directed at that thread and is discarded
//! with it, and neither the dispositions nor this thread's mask change.

use std::io::Write;

/// Writes one line per line of `text`, each as `kvenv: LINE`.
pub(crate) fn lines(text: &str) {
    let mut out = String::new();
    for line in text.lines() {
        out.push_str("kvenv: ");
        out.push_str(line);
        out.push('\n');
    }
    write(out.as_bytes());
}

/// Writes `bytes` to stderr; a failure is ignored.
pub(crate) fn write(bytes: &[u8]) {
    let _ = without_sigpipe(|| std::io::stderr().write_all(bytes));
}

/// Writes to stdout (a report, a rendered template, completions) and flushes.
pub(crate) fn stdout(
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()> + Send,
) -> std::io::Result<()> {
    without_sigpipe(|| {
        let mut out = std::io::stdout().lock();
        write(&mut out).and_then(|()| out.flush())
    })
    .unwrap_or_else(|| Err(std::io::Error::other("no thread to write with")))
}

/// Runs `io` where a SIGPIPE cannot kill kvenv: here if this thread blocks it
/// already, else on a helper thread that does. `None` if no thread could be
/// started (the output is dropped rather than risk the write).
fn without_sigpipe<T: Send>(io: impl FnOnce() -> T + Send) -> Option<T> {
    if crate::platform::sigpipe_blocked_here() {
        return Some(io());
    }
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new().spawn_scoped(scope, || {
            crate::platform::block_sigpipe_in_this_thread();
            io()
        });
        helper.ok()?.join().ok()
    })
}

/// The log writer: each event goes out through [`write`] in one piece.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Logs;

/// One event's text, written when the logger drops it.
#[derive(Default)]
pub(crate) struct Event(Vec<u8>);

impl Write for Event {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            write(&self.0);
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Event;

    fn make_writer(&'a self) -> Event {
        Event::default()
    }
}
