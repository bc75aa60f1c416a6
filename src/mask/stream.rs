//! One output stream, masked as it flows: what arrives is appended to what
//! was held back; every match that cannot grow any more is replaced; the
//! longest tail that is still the beginning of some pattern is held back
//! for the next read, and all before it is written at once.

use super::{Patterns, Shared, MASK};
use zeroize::Zeroizing;

/// The masking state of one stream (stdout or stderr).
pub(crate) struct Stream {
    patterns: Shared,
    /// Output not written yet: at most the longest pattern, less one byte.
    held: Zeroizing<Vec<u8>>,
}

impl Stream {
    pub(crate) fn new(patterns: Shared) -> Stream {
        Stream {
            patterns,
            held: Zeroizing::new(Vec::new()),
        }
    }

    /// Takes `input` and appends to `out` what can be written now.
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let patterns = self.current();
        self.held.extend_from_slice(input);
        let keep = held_from(&patterns, &self.held);
        self.write(&patterns, keep, out);
    }

    /// The stream has ended: everything left, masked, into `out`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        let patterns = self.current();
        let end = self.held.len();
        self.write(&patterns, end, out);
    }

    fn current(&self) -> std::sync::Arc<Patterns> {
        match self.patterns.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Writes `held[..keep]` masked, and what a match running past `keep`
    /// covers; keeps the rest.
    fn write(&mut self, patterns: &Patterns, keep: usize, out: &mut Vec<u8>) {
        let mut written = 0;
        if let Some(automaton) = &patterns.automaton {
            for m in automaton.find_iter(&self.held[..]) {
                if m.start() >= keep {
                    break;
                }
                out.extend_from_slice(&self.held[written..m.start()]);
                out.extend_from_slice(MASK);
                written = m.end();
            }
        }
        let until = keep.max(written);
        out.extend_from_slice(&self.held[written.min(until)..until]);
        self.held.drain(..until);
    }
}

/// Where the longest tail of `held` that is still the beginning of a
/// pattern starts (`held.len()` when there is none): only those bytes can
/// still become a match, so only they wait.
fn held_from(patterns: &Patterns, held: &[u8]) -> usize {
    let start = held
        .len()
        .saturating_sub(patterns.longest.saturating_sub(1));
    (start..held.len())
        .find(|i| patterns.first_bytes[usize::from(held[*i])] && patterns.starts_some(&held[*i..]))
        .unwrap_or(held.len())
}
