//! Secrets in the shape the app needs: `--json-field VAR=POINTER` (one member
//! of a JSON secret), `--json-expand VAR[=PREFIX]` (every top-level member as
//! a variable of its own), `--optional VAR[=DEFAULT]` (a secret that is not
//! there is not an error), `--cert VAR=PART` and `--file VAR[=ENCODING]` (the
//! secret as an in-memory file, VAR its path). The values keep App Service's
//! syntax; these are kvenv's options, checked before any request and applied
//! to the rendered variables, never to template files.

mod json;
mod names;
mod parse;

use names::check_name;
pub(crate) use names::{in_env, Taken};
pub(crate) use parse::{parse_cert, parse_expand, parse_field, parse_file, parse_optional};

use crate::cert::Part;
use crate::decode::Decoding;
use crate::error::{printable, At, Error, Failure, Status};
use crate::secret::SecretBytes;

/// The shaping options as given.
#[derive(Clone, Copy, Default)]
pub(crate) struct Wanted<'a> {
    pub fields: &'a [(String, String)],
    pub expands: &'a [(String, String)],
    pub optional: &'a [(String, Option<String>)],
    pub certs: &'a [(String, Part)],
    pub files: &'a [(String, Decoding)],
    /// `--fail-expired`.
    pub fail_expired: bool,
}

/// The shaping options, validated against the environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Shapes {
    fields: Vec<(String, String)>,
    expands: Vec<(String, String)>,
    optional: Vec<(String, Option<String>)>,
    certs: Vec<(String, Part)>,
    files: Vec<(String, Decoding)>,
    fail_expired: bool,
}

/// What a variable becomes.
pub(crate) enum Shaped {
    /// The rendered value, or the member it names.
    Value(SecretBytes),
    /// Left out of the environment (an optional reference without a default).
    Absent,
    /// `--json-expand`: these variables instead of it.
    Expanded(Vec<(String, SecretBytes)>),
    /// `--cert`, `--file`: the content of the in-memory file whose path
    /// the variable becomes.
    File(SecretBytes),
}

impl Shapes {
    /// Checks the options before any request: each VAR once across the JSON
    /// options, and a JSON option's VAR must be exactly one reference (the
    /// whole value), an optional VAR must hold one. `whole(VAR)`: whether the
    /// variable is set and its value is exactly one reference; `holds(VAR)`:
    /// whether it holds one at all.
    pub(crate) fn new(
        wanted: Wanted<'_>,
        whole: &dyn Fn(&str) -> Option<bool>,
        holds: &dyn Fn(&str) -> bool,
    ) -> Result<Shapes, Error> {
        let Wanted {
            fields,
            expands,
            optional,
            certs,
            files,
            fail_expired,
        } = wanted;
        let mut shaped: Vec<&str> = Vec::new();
        for (flag, var) in fields
            .iter()
            .map(|(v, _)| ("--json-field", v))
            .chain(expands.iter().map(|(v, _)| ("--json-expand", v)))
            .chain(certs.iter().map(|(v, _)| ("--cert", v)))
            .chain(files.iter().map(|(v, _)| ("--file", v)))
        {
            if shaped.contains(&var.as_str()) {
                return Err(Error::usage(
                    At::arg(flag, var),
                    format!("{var} is given twice to --json-field, --json-expand, --cert or --file; each VAR takes one"),
                ));
            }
            shaped.push(var);
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
            certs: certs.to_vec(),
            files: files.to_vec(),
            fail_expired,
        })
    }

    /// Whether `var` becomes the path of an in-memory file (`--cert`, `--file`).
    pub(crate) fn makes_file(&self, var: &str) -> bool {
        self.certs.iter().any(|(v, _)| v == var) || self.files.iter().any(|(v, _)| v == var)
    }

    /// `--fail-expired`.
    pub(crate) fn fail_expired(&self) -> bool {
        self.fail_expired
    }

    /// `--cert VAR`'s certificate as read from `value` (what the vault said
    /// about it in `meta`), or `None` when VAR is no `--cert` variable.
    pub(crate) fn certificate(
        &self,
        var: &str,
        value: &[u8],
        content_type: Option<&str>,
        named: &str,
    ) -> Option<Result<crate::cert::Certificate, Failure>> {
        self.certs.iter().find(|(v, _)| v == var)?;
        Some(self.read_cert(var, value, content_type, named))
    }

    /// `--cert VAR`'s certificate, refused when it is out of its validity
    /// and `--fail-expired` is given.
    fn read_cert(
        &self,
        var: &str,
        value: &[u8],
        content_type: Option<&str>,
        named: &str,
    ) -> Result<crate::cert::Certificate, Failure> {
        let cert = crate::cert::read(value, content_type).map_err(|p| p.failure(var, named))?;
        match cert.invalid_at(now()).filter(|_| self.fail_expired) {
            Some((status, why)) => Err(Failure::new(
                status,
                format!("{named}'s certificate {why} (--cert {var}, --fail-expired)"),
            )
            .hint("renew the certificate in the vault, or drop --fail-expired")),
            None => Ok(cert),
        }
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
        content_type: Option<&str>,
        named: &str,
    ) -> Result<Shaped, Failure> {
        if let Some((_, part)) = self.certs.iter().find(|(v, _)| v == var) {
            let cert = self.read_cert(var, value.expose(), content_type, named)?;
            return cert
                .part(*part)
                .map(Shaped::File)
                .map_err(|p| p.failure(var, named));
        }
        if let Some((_, decoding)) = self.files.iter().find(|(v, _)| v == var) {
            return decoding
                .decode(value.expose())
                .map(Shaped::File)
                .ok_or_else(|| {
                    Failure::new(
                        Status::InvalidEncoding,
                        format!(
                            "{named} is not {} (--file {var}={})",
                            decoding.name(),
                            decoding.name()
                        ),
                    )
                    .hint(format!(
                        "store {var}'s secret {}-encoded, or name its encoding",
                        decoding.name()
                    ))
                });
        }
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

/// The time validity is judged at.
pub(crate) fn now() -> azure_core::time::OffsetDateTime {
    azure_core::time::OffsetDateTime::now_utc()
}

#[cfg(test)]
mod tests;
