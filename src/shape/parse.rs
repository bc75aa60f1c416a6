//! The shaping options as given on the command line, each checked alone
//! (names, pointers, parts, encodings) before anything else is read.

use super::check_name;
use crate::cert::Part;
use crate::decode::Decoding;
use crate::error::printable;

/// `--cert VAR=PART` as given.
pub(crate) fn parse_cert(text: &str) -> Result<(String, Part), String> {
    let (var, part) = text
        .split_once('=')
        .ok_or("expected VAR=PART (PART: key, cert, fullchain, bundle or pfx)")?;
    check_name(var)?;
    let part = part.parse().map_err(|()| {
        format!(
            "{var}: '{}' is not a part (key, cert, fullchain, bundle or pfx)",
            printable(part)
        )
    })?;
    Ok((var.to_string(), part))
}

/// `--file VAR[=ENCODING]` as given.
pub(crate) fn parse_file(text: &str) -> Result<(String, Decoding), String> {
    let (var, decoding) = match text.split_once('=') {
        None => (text, Decoding::Raw),
        Some((var, name)) => (
            var,
            name.parse().map_err(|()| {
                format!(
                    "{var}: '{}' is not an encoding (base64, base64url or hex)",
                    printable(name)
                )
            })?,
        ),
    };
    check_name(var)?;
    Ok((var.to_string(), decoding))
}

/// `--json-field VAR=POINTER` as given.
pub(crate) fn parse_field(text: &str) -> Result<(String, String), String> {
    let (var, pointer) = text.split_once('=').ok_or(
        "expected VAR=POINTER (an RFC 6901 pointer such as /user, or empty for the whole document)",
    )?;
    check_name(var)?;
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(format!(
            "{var}: the pointer must be empty or start with '/'"
        ));
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(format!("{var}: in a pointer '~' is written ~0 and '/' ~1"));
        }
    }
    Ok((var.to_string(), pointer.to_string()))
}

/// `--json-expand VAR[=PREFIX]` as given; the default prefix is `VAR_`.
pub(crate) fn parse_expand(text: &str) -> Result<(String, String), String> {
    let (var, prefix) = match text.split_once('=') {
        Some((var, prefix)) => (var, prefix.to_string()),
        None => (text, format!("{text}_")),
    };
    check_name(var)?;
    Ok((var.to_string(), prefix))
}

/// `--optional VAR[=DEFAULT]` as given.
pub(crate) fn parse_optional(text: &str) -> Result<(String, Option<String>), String> {
    let (var, default) = match text.split_once('=') {
        Some((var, default)) => (var, Some(default.to_string())),
        None => (text, None),
    };
    check_name(var)?;
    Ok((var.to_string(), default))
}
