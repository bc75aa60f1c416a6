//! Secrets in the shape the app needs: `--json-field VAR=POINTER` (one member
//! of a JSON secret), `--json-expand VAR[=PREFIX]` (every top-level member as
//! a variable of its own) and `--optional VAR[=DEFAULT]` (a secret that is
//! not there is not an error). The values keep App Service's syntax; these
//! are kvenv's options, checked before any request and applied to the
//! rendered variables, never to template files.

mod json;
mod names;

use names::check_name;
pub(crate) use names::{in_env, Taken};

use crate::error::{printable, At, Error, Failure, Status};
use crate::secret::SecretBytes;

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
    /// `named` says where the value came from, for messages. A member obeys
    /// the rules of a plain secret: one holding a NUL fails naming its
    /// variable.
    pub(crate) fn apply(
        &self,
        var: &str,
        value: SecretBytes,
        named: &str,
    ) -> Result<Shaped, Failure> {
        if let Some((_, pointer)) = self.fields.iter().find(|(v, _)| v == var) {
            let flag = format!("--json-field {var}={pointer}");
            let doc =
                json::Doc::parse(value.expose()).map_err(|e| not_json(e, var, named, &flag))?;
            let found = doc
                .pointer(pointer)
                .map_err(|e| not_json(e, var, named, &flag))?;
            let Some(text) = found else {
                return Err(Failure::new(
                    Status::FieldNotFound,
                    format!("{named} has no member at '{}' (--json-field {var})", printable(pointer)),
                )
                .hint("check the pointer: /name, /a/b, /0 for an array's first item, ~1 for '/', ~0 for '~'"));
            };
            return no_nul(None, text).map(Shaped::Value);
        }
        if let Some((_, prefix)) = self.expands.iter().find(|(v, _)| v == var) {
            let flag = format!("--json-expand {var}");
            let doc =
                json::Doc::parse(value.expose()).map_err(|e| not_json(e, var, named, &flag))?;
            let Some(members) = doc.members().map_err(|e| not_json(e, var, named, &flag))? else {
                return Err(Failure::new(
                    Status::InvalidJson,
                    format!("{named} is JSON but not an object (--json-expand {var})"),
                ));
            };
            let mut made = Vec::with_capacity(members.len());
            for (key, text) in members {
                let name = format!("{prefix}{key}");
                let text = no_nul(Some(&name), text)?;
                made.push((name, text));
            }
            return Ok(Shaped::Expanded(made));
        }
        Ok(Shaped::Value(value))
    }
}

/// A member's text, refused as a plain secret is when it holds a NUL;
/// `made` names the variable an expanded member would have become.
fn no_nul(made: Option<&str>, text: SecretBytes) -> Result<SecretBytes, Failure> {
    if !text.expose().contains(&0) {
        return Ok(text);
    }
    let detail = match made {
        Some(name) => format!("{name}: {}", crate::vars::NUL_IN_VARIABLE),
        None => crate::vars::NUL_IN_VARIABLE.to_string(),
    };
    Err(Failure::new(Status::OtherReasons, detail))
}

fn not_json(problem: json::Problem, var: &str, named: &str, flag: &str) -> Failure {
    let what = match problem {
        json::Problem::Syntax => "is not JSON",
        json::Problem::Duplicate => "has a member twice in one object, so its meaning is ambiguous",
    };
    Failure::new(Status::InvalidJson, format!("{named} {what} ({flag})")).hint(format!(
        "store {var}'s secret as a JSON document (each member once), or drop the option"
    ))
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
}
