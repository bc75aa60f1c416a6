//! Secrets in the shape the app needs: `--json-field VAR=POINTER` (one member
//! of a JSON secret), `--json-expand VAR[=PREFIX]` (every top-level member as
//! a variable of its own) and `--optional VAR[=DEFAULT]` (a secret that is
//! not there is not an error). The values keep App Service's syntax; these
//! are kvenv's options, checked before any request and applied to the
//! rendered variables, never to template files.

use crate::error::{printable, At, Error, Failure, Status};
use crate::secret::SecretBytes;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

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

fn is_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_name(var: &str) -> Result<(), String> {
    match is_name(var) {
        true => Ok(()),
        false => Err(format!(
            "'{}' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
            printable(var)
        )),
    }
}

/// The shaping options, validated against the environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Shapes {
    fields: Vec<(String, String)>,
    expands: Vec<(String, String)>,
    optional: Vec<(String, Option<String>)>,
}

/// What a variable becomes.
pub(crate) enum Shaped {
    /// The rendered value, or the member it names.
    Value(SecretBytes),
    /// Left out of the environment (an optional reference without a default).
    Absent,
    /// `--json-expand`: these variables instead of it.
    Expanded(Vec<(String, SecretBytes)>),
}

impl Shapes {
    /// Checks the options before any request: each VAR once across the JSON
    /// options, and a JSON option's VAR must be exactly one reference (the
    /// whole value), an optional VAR must hold one. `whole(VAR)`: whether the
    /// variable is set and its value is exactly one reference; `holds(VAR)`:
    /// whether it holds one at all.
    pub(crate) fn new(
        fields: &[(String, String)],
        expands: &[(String, String)],
        optional: &[(String, Option<String>)],
        whole: &dyn Fn(&str) -> Option<bool>,
        holds: &dyn Fn(&str) -> bool,
    ) -> Result<Shapes, Error> {
        let mut json: Vec<&str> = Vec::new();
        for (flag, var) in fields
            .iter()
            .map(|(v, _)| ("--json-field", v))
            .chain(expands.iter().map(|(v, _)| ("--json-expand", v)))
        {
            if json.contains(&var.as_str()) {
                return Err(Error::usage(
                    At::arg(flag, var),
                    format!("{var} is given to two JSON options; each VAR takes one"),
                ));
            }
            json.push(var);
            match whole(var) {
                None => return Err(Error::usage(At::arg(flag, var), format!("{var} is not set"))),
                Some(false) => {
                    return Err(Error::usage(
                        At::arg(flag, var),
                        format!("{var}'s value must be exactly one reference (the whole value), nothing around it"),
                    ))
                }
                Some(true) => {}
            }
        }
        for (i, (var, _)) in optional.iter().enumerate() {
            if optional[..i].iter().any(|(earlier, _)| earlier == var) {
                return Err(Error::usage(At::arg("--optional", var), "given twice"));
            }
            if !holds(var) {
                return Err(Error::usage(
                    At::arg("--optional", var),
                    format!("{var} holds no reference"),
                ));
            }
        }
        Ok(Shapes {
            fields: fields.to_vec(),
            expands: expands.to_vec(),
            optional: optional.to_vec(),
        })
    }

    /// The prefix `--json-expand VAR` gives its members.
    pub(crate) fn prefix(&self, var: &str) -> &str {
        self.expands
            .iter()
            .find(|(v, _)| v == var)
            .map_or("", |(_, p)| p.as_str())
    }

    /// Whether `failure` of a reference in variable `var` is excused: `var`
    /// is optional and the secret (or key-value) is not there.
    pub(crate) fn excuses(&self, var: &str, failure: &Failure) -> bool {
        self.optional.iter().any(|(v, _)| v == var)
            && matches!(
                failure.status,
                Status::SecretNotFound | Status::SecretVersionNotFound
            )
    }

    /// What an optional variable whose reference is not there becomes.
    pub(crate) fn when_missing(&self, var: &str) -> Shaped {
        match self.optional.iter().find(|(v, _)| v == var) {
            Some((_, Some(default))) => {
                Shaped::Value(SecretBytes::new(default.clone().into_bytes()))
            }
            _ => Shaped::Absent,
        }
    }

    /// The warning for an optional variable that is not there.
    pub(crate) fn missing_line(&self, var: &str, failure: &Failure) -> String {
        let what = match self.optional.iter().find(|(v, _)| v == var) {
            Some((_, Some(_))) => "set to its default",
            _ => "left out of the environment",
        };
        format!("{var}: {}: optional, so {var} is {what}", failure.status)
    }

    /// Applies the JSON options to variable `var`'s rendered `value`;
    /// `named` says where the value came from, for messages.
    pub(crate) fn apply(
        &self,
        var: &str,
        value: SecretBytes,
        named: &str,
    ) -> Result<Shaped, Failure> {
        if let Some((_, pointer)) = self.fields.iter().find(|(v, _)| v == var) {
            let mut doc = parse(&value, var, named, &format!("--json-field {var}={pointer}"))?;
            let found = doc.pointer(pointer).map(text_of);
            wipe(&mut doc);
            return match found {
                Some(text) => Ok(Shaped::Value(text)),
                None => Err(Failure::new(
                    Status::FieldNotFound,
                    format!("{named} has no member at '{}' (--json-field {var})", printable(pointer)),
                )
                .hint("check the pointer: /name, /a/b, /0 for an array's first item, ~1 for '/', ~0 for '~'")),
            };
        }
        if let Some((_, prefix)) = self.expands.iter().find(|(v, _)| v == var) {
            let mut doc = parse(&value, var, named, &format!("--json-expand {var}"))?;
            let members = match doc.as_object() {
                Some(object) => Ok(object
                    .iter()
                    .map(|(k, v)| (format!("{prefix}{k}"), text_of(v)))
                    .collect()),
                None => Err(Failure::new(
                    Status::InvalidJson,
                    format!("{named} is JSON but not an object (--json-expand {var})"),
                )),
            };
            wipe(&mut doc);
            return members.map(Shaped::Expanded);
        }
        Ok(Shaped::Value(value))
    }
}

fn parse(
    value: &SecretBytes,
    var: &str,
    named: &str,
    flag: &str,
) -> Result<serde_json::Value, Failure> {
    serde_json::from_slice(value.expose()).map_err(|_| {
        Failure::new(Status::InvalidJson, format!("{named} is not JSON ({flag})")).hint(format!(
            "store {var}'s secret as a JSON document, or drop the option"
        ))
    })
}

/// A member as the command gets it: a string as its text, anything else as
/// its compact JSON.
fn text_of(value: &serde_json::Value) -> SecretBytes {
    match value {
        serde_json::Value::String(s) => SecretBytes::new(s.as_bytes().to_vec()),
        other => SecretBytes::from_string(serde_json::to_string(other).unwrap_or_default()),
    }
}

/// Wipes every string of a parsed secret before it is dropped.
fn wipe(value: &mut serde_json::Value) {
    use zeroize::Zeroize;
    match value {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(wipe),
        serde_json::Value::Object(map) => {
            for (mut key, mut item) in std::mem::take(map) {
                key.zeroize();
                wipe(&mut item);
            }
        }
        _ => {}
    }
}

/// Checks expanded names: each a valid variable name, none already in the
/// environment (`taken`) or made twice. kvenv never overwrites silently.
pub(crate) fn check_expanded(
    var: &str,
    prefix: &str,
    names: &[&str],
    taken: &dyn Fn(&str) -> bool,
) -> Result<(), Failure> {
    for (i, name) in names.iter().enumerate() {
        if !is_name(name) {
            let member = name.strip_prefix(prefix).unwrap_or(name);
            return Err(Failure::new(
                Status::OtherReasons,
                format!(
                    "--json-expand {var}: member '{}' would make '{}', which is not a variable name",
                    printable(member),
                    printable(name)
                ),
            )
            .hint("give a --json-expand prefix, or rename the member"));
        }
        if taken(name) || names[..i].contains(name) {
            return Err(Failure::new(
                Status::OtherReasons,
                format!("--json-expand {var}: {name} is already in the environment; kvenv never overwrites it"),
            )
            .hint("give --json-expand a prefix that makes the names unique"));
        }
    }
    Ok(())
}

/// Whether `name` is among `vars`.
pub(crate) fn in_env(vars: &[(OsString, OsString)], name: &str) -> bool {
    vars.iter().any(|(n, _)| n.as_bytes() == name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(fields: &[(&str, &str)], expands: &[(&str, &str)]) -> Shapes {
        let own = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        Shapes::new(&own(fields), &own(expands), &[], &|_| Some(true), &|_| true).unwrap()
    }

    fn value(shaped: Shaped) -> String {
        match shaped {
            Shaped::Value(v) => String::from_utf8(v.expose().to_vec()).unwrap(),
            _ => panic!("not a value"),
        }
    }

    #[test]
    fn pointers_pick_members_strings_as_text_the_rest_as_compact_json() {
        let doc = r#"{"user":"app","port":5432,"tls":true,"none":null,"a/b":{"c~d":["x",{"y":1}]},"list":[1, 2]}"#;
        for (pointer, expected) in [
            ("/user", "app"),
            ("/port", "5432"),
            ("/tls", "true"),
            ("/none", "null"),
            ("/a~1b/c~0d/0", "x"),
            ("/a~1b/c~0d/1", r#"{"y":1}"#),
            ("/list", "[1,2]"),
        ] {
            let s = shapes(&[("V", pointer)], &[]);
            let got = value(
                s.apply("V", SecretBytes::new(doc.as_bytes().to_vec()), "secret 's'")
                    .unwrap(),
            );
            assert_eq!(got, expected, "{pointer}");
        }
        let whole = shapes(&[("V", "")], &[]);
        let got = value(
            whole
                .apply("V", SecretBytes::new(b"{ \"a\" : 1 }".to_vec()), "s")
                .unwrap(),
        );
        assert_eq!(got, r#"{"a":1}"#);
        let missing = shapes(&[("V", "/nope")], &[]);
        let err = missing
            .apply("V", SecretBytes::new(doc.as_bytes().to_vec()), "s")
            .err()
            .unwrap();
        assert_eq!(err.status, Status::FieldNotFound);
        let err = missing
            .apply("V", SecretBytes::new(b"not json".to_vec()), "s")
            .err()
            .unwrap();
        assert_eq!(err.status, Status::InvalidJson);
    }

    #[test]
    fn flags_are_checked_as_given() {
        assert!(parse_field("V=/a").is_ok() && parse_field("V=").is_ok());
        for bad in ["V", "V=a", "V=/~2", "1V=/a"] {
            assert!(parse_field(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_expand("DB").unwrap(), ("DB".into(), "DB_".into()));
        assert_eq!(parse_expand("DB=").unwrap(), ("DB".into(), "".into()));
        assert_eq!(parse_optional("X").unwrap(), ("X".into(), None));
        assert_eq!(
            parse_optional("X=").unwrap(),
            ("X".into(), Some(String::new()))
        );
    }

    #[test]
    fn expanded_names_are_valid_and_never_overwrite() {
        assert!(check_expanded("DB", "DB_", &["DB_user"], &|_| false).is_ok());
        assert!(check_expanded("DB", "DB_", &["DB_a-b"], &|_| false).is_err());
        assert!(check_expanded("DB", "", &["HOME"], &|n| n == "HOME").is_err());
    }
}
