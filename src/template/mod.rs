//! Finds Key Vault and App Configuration references inside a larger text (an
//! environment value or a template file) and renders the text with the values
//! put in their place. Values are inserted byte for byte and never scanned again.

use crate::cloud::Cloud;
use crate::encode::Encoding;
use crate::reference::{self, RefError, Reference};
use crate::secret::SecretBytes;
use std::ops::Range;

pub(crate) const PREFIX: &str = "@Microsoft.KeyVault(";
/// App Service's second kind of reference.
pub(crate) const CONFIG_PREFIX: &str = "@Microsoft.AppConfiguration(";

#[derive(Debug)]
enum Piece {
    Text(Range<usize>),
    /// A reference, the span of its whole literal text, and how its value
    /// is encoded where it stands (`Encode=`).
    Ref(Reference, Range<usize>, Option<Encoding>),
}

/// A text split into literal pieces and references.
#[derive(Debug)]
pub(crate) struct Template<'a> {
    text: &'a str,
    pieces: Vec<Piece>,
}

/// The first malformed reference in a text, and where it starts.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ScanError {
    pub offset: usize,
    pub error: RefError,
}

/// 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Whether raw bytes (say, a value that is not UTF-8) contain the reference prefix.
pub(crate) fn mentions_reference(bytes: &[u8]) -> bool {
    find_prefix(bytes, 0).is_some()
}

/// Whether `bytes` hold something that looks like a reference but is not one:
/// `Microsoft.KeyVault(` or `Microsoft.AppConfiguration(` (in any case)
/// without the leading `@`, or with it but in another case than App Service's.
/// Such text passes on as it is; kvenv warns about it, never fails.
pub(crate) fn near_miss(bytes: &[u8]) -> bool {
    const NAMES: [&[u8]; 2] = [b"microsoft.keyvault(", b"microsoft.appconfiguration("];
    let mut at = 0;
    while let Some(offset) = bytes
        .get(at..)
        .and_then(|b| b.iter().position(|c| matches!(c, b'M' | b'm')))
    {
        let i = at + offset;
        let here = &bytes[i..];
        let named = NAMES
            .iter()
            .any(|n| here.len() >= n.len() && here[..n.len()].eq_ignore_ascii_case(n));
        if named {
            let exact = i > 0
                && bytes[i - 1] == b'@'
                && find_prefix(bytes, i - 1).is_some_and(|(p, _)| p == i - 1);
            if !exact {
                return true;
            }
        }
        at = i + 1;
    }
    false
}

/// The first reference prefix at or after `from`: where, and which. Only an
/// `@` can start one, so the scan skips to each `@` (every environment value
/// passes through here at every start).
fn find_prefix(bytes: &[u8], from: usize) -> Option<(usize, &'static str)> {
    let mut at = from;
    while let Some(offset) = bytes.get(at..)?.iter().position(|b| *b == b'@') {
        let i = at + offset;
        let found = [PREFIX, CONFIG_PREFIX].into_iter().find(|prefix| {
            bytes
                .get(i..i + prefix.len())
                .is_some_and(|candidate| candidate.eq_ignore_ascii_case(prefix.as_bytes()))
        });
        if let Some(prefix) = found {
            return Some((i, prefix));
        }
        at = i + 1;
    }
    None
}

/// Splits `text` into literal text and references.
pub(crate) fn scan(text: &str, cloud: Cloud) -> Result<Template<'_>, ScanError> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut pos = 0;
    while let Some((start, prefix)) = find_prefix(bytes, pos) {
        if start > pos {
            pieces.push(Piece::Text(pos..start));
        }
        let body_start = start + prefix.len();
        let Some(len) = text[body_start..].find(')') else {
            return Err(ScanError {
                offset: start,
                error: RefError::Unterminated,
            });
        };
        let end = body_start + len + 1;
        let body = &text[body_start..end - 1];
        let at = |error| ScanError {
            offset: start,
            error,
        };
        let (body, encoding) = encoding_of(body).map_err(at)?;
        let parsed = if prefix == PREFIX {
            reference::parse(&body, cloud).map(Reference::Secret)
        } else {
            reference::config::parse(&body).map(Reference::Config)
        };
        pieces.push(Piece::Ref(parsed.map_err(at)?, start..end, encoding));
        pos = end;
    }
    if pos < text.len() {
        pieces.push(Piece::Text(pos..text.len()));
    }
    Ok(Template { text, pieces })
}

/// kvenv's `Encode=NAME` parameter taken out of a reference's body, which
/// the reference parsers then see without it.
fn encoding_of(body: &str) -> Result<(String, Option<Encoding>), RefError> {
    let mut encoding = None;
    let mut rest: Vec<&str> = Vec::new();
    for piece in body.split(';') {
        match piece.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("Encode") => {
                if encoding.is_some() {
                    return Err(RefError::Duplicate("Encode"));
                }
                encoding = Some(Encoding::named(v.trim()).ok_or(RefError::BadEncoding)?);
            }
            _ => rest.push(piece),
        }
    }
    Ok((rest.join(";"), encoding))
}

impl Template<'_> {
    pub(crate) fn has_refs(&self) -> bool {
        self.refs().next().is_some()
    }

    pub(crate) fn refs(&self) -> impl Iterator<Item = &Reference> {
        self.refs_at().map(|(r, _)| r)
    }

    /// The one reference that is the whole text, if the text is exactly one.
    pub(crate) fn whole(&self) -> Option<&Reference> {
        match self.pieces.as_slice() {
            [Piece::Ref(r, range, _)] if range.start == 0 && range.end == self.text.len() => {
                Some(r)
            }
            _ => None,
        }
    }

    /// Each reference with the byte offset where it starts.
    pub(crate) fn refs_at(&self) -> impl Iterator<Item = (&Reference, usize)> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Ref(r, range, _) => Some((r, range.start)),
            Piece::Text(_) => None,
        })
    }

    /// Why the value `r` resolved to cannot stand where the text asks for it
    /// encoded, if it cannot.
    pub(crate) fn refusal(&self, r: &Reference, value: &[u8]) -> Option<&'static str> {
        self.encodings()
            .filter(|(x, _, _)| *x == r)
            .find_map(|(_, e, _)| e.refuses(value))
    }

    /// Each reference that asks for an encoding, with it and where it starts.
    pub(crate) fn encodings(&self) -> impl Iterator<Item = (&Reference, Encoding, usize)> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Ref(r, range, Some(e)) => Some((r, *e, range.start)),
            _ => None,
        })
    }

    /// How long [`Template::render`] with the same `lookup` would be, without
    /// rendering: sizes are checked before any memory is spent on them.
    pub(crate) fn rendered_len<'s>(
        &self,
        lookup: impl Fn(&Reference) -> Option<&'s SecretBytes>,
    ) -> usize {
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(range) => range.len(),
                Piece::Ref(r, range, encoding) => match (lookup(r), encoding) {
                    (None, _) => range.len(),
                    (Some(v), None) => v.len(),
                    (Some(v), Some(e)) => e.len(v.expose()),
                },
            })
            .fold(0usize, usize::saturating_add)
    }

    /// The text with each reference replaced by its secret. A reference that
    /// `lookup` cannot answer stays as its literal text (`--keep-unresolved`).
    pub(crate) fn render<'s>(
        &self,
        lookup: impl Fn(&Reference) -> Option<&'s SecretBytes>,
    ) -> SecretBytes {
        let mut out = SecretBytes::with_capacity(self.rendered_len(&lookup));
        for piece in &self.pieces {
            match piece {
                Piece::Text(range) => out.push(&self.text.as_bytes()[range.clone()]),
                Piece::Ref(r, range, encoding) => match (lookup(r), encoding) {
                    (Some(v), None) => out.push(v.expose()),
                    (Some(v), Some(e)) => e.push(v.expose(), &mut out),
                    (None, _) => out.push(&self.text.as_bytes()[range.clone()]),
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
