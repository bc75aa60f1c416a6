//! A YAML 1.1 scalar as go-yaml v2 resolves it for an untyped target (what
//! kubectl's reader does): null, booleans (`y`, `no`, `on`, ...), integers
//! (decimal, `0x`, `0o`, `0b`, a leading `0` for octal, `_` ignored),
//! floats; everything else, timestamps included, a string.

use saphyr_parser::ScalarStyle;
use serde_json::{Number, Value};

/// A scalar as go-yaml v2 resolves it for an untyped target.
pub(super) fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    let string = || Value::String(text.to_string());
    match tag {
        Some("tag:yaml.org,2002:str" | "!!str" | "!") => return string(),
        Some("tag:yaml.org,2002:null" | "!!null") => return Value::Null,
        Some("tag:yaml.org,2002:bool" | "!!bool" | "tag:yaml.org,2002:int" | "!!int")
        | Some("tag:yaml.org,2002:float" | "!!float") => return plain(text).unwrap_or_else(string),
        _ => {}
    }
    match style {
        ScalarStyle::Plain => plain(text).unwrap_or_else(string),
        _ => string(),
    }
}

/// What a plain scalar is when it is not a string.
fn plain(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Some(Value::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Some(Value::Bool(false))
        }
        _ => {}
    }
    // go-yaml tries numbers only for what starts like one.
    if !text.starts_with([
        '-', '+', '.', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
    ]) {
        return None;
    }
    let digits = text.replace('_', "");
    if let Some(n) = integer(&digits) {
        return Some(n);
    }
    if is_float(text) {
        return digits
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number);
    }
    None
}

/// Go's `strconv.ParseInt(s, 0, 64)` (then unsigned): decimal, `0x`, `0o`,
/// `0b`, and a leading `0` for octal.
fn integer(text: &str) -> Option<Value> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    match negative {
        false => Some(Value::Number(magnitude.into())),
        true => i64::try_from(magnitude)
            .ok()
            .map(|m| Value::Number((-m).into()))
            .or_else(|| (magnitude == 1 << 63).then(|| Value::Number(i64::MIN.into()))),
    }
}

/// go-yaml v2's float pattern: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_float(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}
