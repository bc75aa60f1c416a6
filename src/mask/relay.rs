//! The threads that carry the command's output to kvenv's own stdout and
//! stderr through a [`Stream`], and what is typed at kvenv's terminal to
//! the command's. A write that fails (kvenv's stdout closed) stops the
//! writing, never the reading, so the command is never blocked by it.

use super::{Shared, Stream};
use std::io::{Read, Write};
use std::sync::mpsc;

/// Where a relay writes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum To {
    Stdout,
    Stderr,
}

/// Starts a thread that masks `from` into `to` until `from` ends; it says
/// so on `done`.
pub(crate) fn start(mut from: std::fs::File, to: To, patterns: Shared, done: mpsc::Sender<()>) {
    std::thread::spawn(move || {
        let mut stream = Stream::new(patterns);
        let mut buf = zeroize::Zeroizing::new(vec![0u8; 64 * 1024]);
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(64 * 1024));
        let mut writing = true;
        loop {
            let n = match from.read(&mut buf[..]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break, // EIO from a terminal whose command is gone
            };
            stream.feed(&buf[..n], &mut out);
            writing = writing && emit(to, &out);
            out.clear();
        }
        stream.finish(&mut out);
        if writing {
            emit(to, &out);
        }
        let _ = done.send(());
    });
}

fn emit(to: To, bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return true;
    }
    let written = match to {
        To::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush())
        }
        To::Stderr => {
            let mut err = std::io::stderr().lock();
            err.write_all(bytes).and_then(|()| err.flush())
        }
    };
    written.is_ok()
}

/// Starts a thread that copies what is typed (kvenv's stdin) to the
/// command's terminal until either side ends.
pub(crate) fn typing(mut to: std::fs::File) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    });
}
