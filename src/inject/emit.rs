//! Writes a manifest that kvenv changed as block YAML that kubectl reads
//! exactly as the value says: every string double-quoted (so `"no"`, `"on"`,
//! `"0755"` and `"2024-01-01"` stay strings under YAML 1.1), numbers, booleans
//! and null as JSON writes them, keys plain only where no reader could take
//! them for anything but a string.

use serde_json::Value;

/// `value` as a YAML document (no `---`), ending in a newline.
pub(crate) fn yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(map, 0, false, &mut out),
        Value::Array(items) if !items.is_empty() => sequence(items, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn pad(indent: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A mapping's entries at `indent`; `inline`: the first goes on the current
/// line (after a sequence's `- `).
fn mapping(map: &serde_json::Map<String, Value>, indent: usize, inline: bool, out: &mut String) {
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 || !inline {
            pad(indent, out);
        }
        out.push_str(&key(k));
        out.push(':');
        value_after(v, indent, out);
    }
}

fn sequence(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        pad(indent, out);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                out.push(' ');
                mapping(map, indent + 2, true, out);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                sequence(inner, indent + 2, out);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

/// What follows `key:`.
fn value_after(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            mapping(map, indent + 2, false, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            sequence(items, indent, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => quoted(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

/// A key plain when it is a name no YAML reader takes for anything else.
fn key(k: &str) -> String {
    let first = k.chars().next();
    let name = first.is_some_and(|c| c.is_ascii_alphabetic())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    let special = matches!(
        k.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
    );
    match name && !special {
        true => k.to_string(),
        false => quoted(k),
    }
}

/// A double-quoted scalar: `"` and `\` escaped, and every character a YAML
/// reader could take as a line break or that a terminal would act on (C0,
/// DEL, C1 with NEL, U+2028, U+2029, a byte order mark) as `\uXXXX`.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_stay_strings_and_the_layout_is_block_yaml() {
        let v = json!({
            "kind": "Pod",
            "metadata": {"labels": {"on": "no", "app.kubernetes.io/name": "2024-01-01"}},
            "spec": {"containers": [{"name": "a", "args": ["yes", "0755", "line\none\u{2028}"]}],
                     "volumes": [], "mode": 493, "ok": true, "none": null, "empty": {}}
        });
        assert_eq!(
            yaml(&v),
            concat!(
                "kind: \"Pod\"\n",
                "metadata:\n  labels:\n    \"on\": \"no\"\n    app.kubernetes.io/name: \"2024-01-01\"\n",
                "spec:\n  containers:\n  - name: \"a\"\n    args:\n    - \"yes\"\n    - \"0755\"\n",
                "    - \"line\\none\\u2028\"\n",
                "  volumes: []\n  mode: 493\n  ok: true\n  none: null\n  empty: {}\n"
            )
        );
        assert_eq!(
            yaml(&json!([[1, 2], [], {"a": [{"b": 1}]}])),
            "-\n  - 1\n  - 2\n- []\n- a:\n  - b: 1\n"
        );
    }
}
