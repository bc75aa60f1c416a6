//! `kvenv run --mask`: every resolved value, and the forms tools print it in
//! (base64, base64url, percent-encoding, a JSON string's escapes), replaced
//! with `***` in the command's output. Matching streams: longest first,
//! across reads, holding back only a tail that could still become a match,
//! and never waiting on a timer.

mod relay;
mod stream;

pub(crate) use relay::{start as relay, typing, To};

pub(crate) use stream::Stream;

use crate::encode::Encoding;
use crate::secret::SecretBytes;
use base64::Engine;
use std::sync::{Arc, RwLock};

/// Values shorter than this are not masked: they would mask ordinary text.
pub(crate) const SHORTEST: usize = 4;

/// What replaces a match.
pub(crate) const MASK: &[u8] = b"***";

/// `--mask` or `--mask=github`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum MaskMode {
    /// Mask the command's stdout and stderr.
    On,
    /// Also print `::add-mask::` workflow commands when GITHUB_ACTIONS is true.
    Github,
}

/// Every form of one value that is masked: the value, its base64 (with and
/// without padding), base64url (both), percent-encoding (upper and lower case
/// hex) and JSON string escapes. Forms equal to the value are not repeated.
pub(crate) fn forms(value: &[u8]) -> Vec<SecretBytes> {
    let mut out = vec![SecretBytes::new(value.to_vec())];
    for engine in [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        let mut text = vec![0u8; base64::encoded_len(value.len(), true).unwrap_or(0)];
        let n = engine.encode_slice(value, &mut text).unwrap_or(0);
        text.truncate(n);
        out.push(SecretBytes::new(text));
    }
    for encoding in [Encoding::Uri, Encoding::Json] {
        let mut text = SecretBytes::with_capacity(encoding.len(value));
        encoding.push(value, &mut text);
        if encoding == Encoding::Uri {
            let mut lower = SecretBytes::with_capacity(text.len());
            lower.push(&lowercase_escapes(text.expose()));
            out.push(lower);
        }
        out.push(text);
    }
    let mut unique: Vec<SecretBytes> = Vec::with_capacity(out.len());
    for form in out {
        if !unique.iter().any(|u| u.expose() == form.expose()) {
            unique.push(form);
        }
    }
    unique
}

/// `%2F` as `%2f`.
fn lowercase_escapes(text: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(text.to_vec());
    let mut i = 0;
    while i < out.len() {
        if out[i] == b'%' && i + 2 < out.len() {
            out[i + 1] = out[i + 1].to_ascii_lowercase();
            out[i + 2] = out[i + 2].to_ascii_lowercase();
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// The set of byte strings to mask, as one automaton that finds the longest
/// match at the leftmost place, and sorted, to tell whether a tail of
/// output could still grow into a match.
pub(crate) struct Patterns {
    sorted: Vec<SecretBytes>,
    automaton: Option<aho_corasick::AhoCorasick>,
    longest: usize,
    /// Which bytes begin some pattern.
    first_bytes: [bool; 256],
}

impl Patterns {
    /// The patterns for `values` (each value with its [`forms`]).
    pub(crate) fn new<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Patterns {
        let mut sorted: Vec<SecretBytes> = values
            .into_iter()
            .filter(|v| v.len() >= SHORTEST)
            .flat_map(forms)
            .filter(|f| f.len() >= SHORTEST)
            .collect();
        sorted.sort_by(|a, b| a.expose().cmp(b.expose()));
        sorted.dedup_by(|a, b| a.expose() == b.expose());
        let automaton = (!sorted.is_empty()).then(|| {
            aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(sorted.iter().map(|p| p.expose()))
                .expect("patterns of bounded size")
        });
        let longest = sorted.iter().map(SecretBytes::len).max().unwrap_or(0);
        let mut first_bytes = [false; 256];
        for p in &sorted {
            first_bytes[usize::from(p.expose()[0])] = true;
        }
        Patterns {
            sorted,
            automaton,
            longest,
            first_bytes,
        }
    }

    /// Whether `tail` is the beginning (or the whole) of some pattern.
    fn starts_some(&self, tail: &[u8]) -> bool {
        let at = self.sorted.partition_point(|p| p.expose() < tail);
        self.sorted
            .get(at)
            .is_some_and(|p| p.expose().starts_with(tail))
    }
}

/// The patterns in force, replaced as a whole when `--watch` fetches new
/// values (old values stay in the set).
pub(crate) type Shared = Arc<RwLock<Arc<Patterns>>>;

/// Every value masked so far, and the patterns the relays read.
pub(crate) struct Masked {
    values: Vec<SecretBytes>,
    pub patterns: Shared,
}

impl Masked {
    pub(crate) fn new(values: Vec<SecretBytes>) -> Masked {
        let patterns = Patterns::new(values.iter().map(SecretBytes::expose));
        Masked {
            values,
            patterns: Arc::new(RwLock::new(Arc::new(patterns))),
        }
    }

    /// Adds `fresh` values (rotation under `--watch`): from now on they are
    /// masked too, and the old ones stay masked.
    pub(crate) fn add(&mut self, fresh: Vec<SecretBytes>) {
        let before = self.values.len();
        for value in fresh {
            if !self.values.iter().any(|v| v.expose() == value.expose()) {
                self.values.push(value);
            }
        }
        if self.values.len() == before {
            return;
        }
        let patterns = Arc::new(Patterns::new(self.values.iter().map(SecretBytes::expose)));
        match self.patterns.write() {
            Ok(mut current) => *current = patterns,
            Err(poisoned) => *poisoned.into_inner() = patterns,
        }
    }
}

/// One `::add-mask::` line per line of each value and form, for GitHub
/// Actions (`%`, CR and LF escaped as its workflow commands expect).
pub(crate) fn github_lines<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> SecretBytes {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for value in values.into_iter().filter(|v| v.len() >= SHORTEST) {
        for form in forms(value) {
            for line in form.expose().split(|b| *b == b'\n' || *b == b'\r') {
                if line.len() >= SHORTEST && !lines.iter().any(|l| l == line) {
                    lines.push(line.to_vec());
                }
            }
        }
    }
    let escaped = |line: &[u8]| {
        line.iter()
            .map(|b| if *b == b'%' { 3 } else { 1 })
            .sum::<usize>()
    };
    let size = lines
        .iter()
        .map(|l| "::add-mask::\n".len() + escaped(l))
        .sum();
    let mut out = SecretBytes::with_capacity(size);
    for mut line in lines {
        out.push(b"::add-mask::");
        for b in &line {
            out.push(if *b == b'%' {
                b"%25"
            } else {
                std::slice::from_ref(b)
            });
        }
        out.push(b"\n");
        zeroize::Zeroize::zeroize(&mut line);
    }
    out
}

#[cfg(test)]
mod tests;
