//! kvenv's one error type, its exit codes (as `env(1)`: 125 ours, 126 not
//! executable, 127 not found) and the per-reference failure statuses, named
//! as App Service names them.

use std::fmt;
use std::path::PathBuf;

/// Why one reference did not resolve (App Service's status names, plus
/// `HostNotAllowed` for kvenv's token guard).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Resolved,
    InvalidSyntax,
    HostNotAllowed,
    MSINotEnabled,
    VaultNotFound,
    SecretNotFound,
    SecretVersionNotFound,
    AccessToKeyVaultDenied,
    FetchTimedOut,
    OtherReasons,
    /// `--json-field`/`--json-expand`: the secret is not JSON (or not an object).
    InvalidJson,
    /// `--json-field`: the pointer names nothing in the secret.
    FieldNotFound,
    /// The secret (or the version asked for) is disabled: 403 `SecretDisabled`.
    SecretDisabled,
    /// `--fail-expired`: the vault's `exp`, or a `--cert` leaf's `notAfter`, has passed.
    SecretExpired,
    /// `--fail-expired`: the vault's `nbf`, or a `--cert` leaf's `notBefore`, is still ahead.
    SecretNotYetValid,
    /// `--cert`: the secret is not a certificate kvenv reads (or its key is of another kind).
    NotACertificate,
    /// `--cert` asked for the key of a certificate whose secret holds none.
    KeyNotExportable,
    /// `--cert`: the PKCS#12 or the key is encrypted with a password.
    CertificateEncrypted,
    /// `--cert`: no certificate in the secret is a leaf (or holds the key).
    NoLeafCertificate,
    /// `--file VAR=ENCODING`: the secret does not decode.
    InvalidEncoding,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A reference that failed: its status, what happened (one printable line),
/// and, kept apart, what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub status: Status,
    pub detail: String,
    pub hint: Option<String>,
}

impl Failure {
    pub(crate) fn new(status: Status, detail: impl Into<String>) -> Failure {
        Failure {
            status,
            detail: printable(&detail.into()),
            hint: None,
        }
    }

    /// What to do about it ("grant it the ... role").
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(printable(&hint.into()));
        self
    }

    /// The detail and the hint as one line, as the table and `run` print them.
    pub(crate) fn explained(&self) -> String {
        match &self.hint {
            Some(hint) => format!("{}; {hint}", self.detail),
            None => self.detail.clone(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.explained())
    }
}

/// One reference (or `--token`) that did not resolve, where it was needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unresolved {
    /// The variable, or `template:line`.
    pub location: String,
    pub failure: Failure,
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.failure)
    }
}

/// What a usage error is about; it starts the line.
#[derive(Debug)]
pub(crate) enum At {
    /// A flag or a command's operand, and what it was given when that says
    /// more: `--template`, `--token PGPASSWORD`, `export DB`.
    Arg(&'static str, Option<String>),
    /// A file by how it was given and its path, with the line when known:
    /// `--env-file app.env:3`, `template app.conf`, `-o out.env`.
    File(&'static str, PathBuf, Option<usize>),
    /// The command, by name.
    Command(String),
}

impl At {
    pub(crate) fn arg(flag: &'static str, given: impl Into<String>) -> At {
        At::Arg(flag, Some(given.into()))
    }

    pub(crate) fn file(how: &'static str, path: impl Into<PathBuf>) -> At {
        At::File(how, path.into(), None)
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Arg(flag, None) => f.write_str(flag),
            At::Arg(flag, Some(given)) => write!(f, "{flag} {given}"),
            At::File(how, path, None) => write!(f, "{how} {}", path.display()),
            At::File(how, path, Some(line)) => write!(f, "{how} {}:{line}", path.display()),
            At::Command(name) => f.write_str(name),
        }
    }
}

/// A cause of kvenv's own failure: an I/O, system or library error.
pub(crate) type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A bad flag, variable or file: kvenv did nothing.
    #[error("{at}: {problem}")]
    Usage { at: At, problem: String },
    /// The references (and `--token`s) that failed; the command was not started.
    #[error("{}", lines(.0))]
    Unresolved(Vec<Unresolved>),
    /// One variable would be larger than Linux takes (`MAX_ARG_STRLEN`).
    #[error("{name}: with its secrets in place the variable would be {} KiB; Linux allows at most {} KiB for one variable (use --template for large values)", .size / 1024, .max / 1024)]
    VariableTooLarge {
        name: String,
        size: usize,
        max: usize,
    },
    /// The arguments and environment would be larger than exec takes (`ARG_MAX`).
    #[error("the environment with its secrets in place would be {} KiB; the command's arguments and environment may be at most {} KiB (ARG_MAX)", .size / 1024, .max / 1024)]
    EnvironmentTooLarge { size: usize, max: usize },
    /// kvenv's own work failed: what it was doing, and why.
    #[error("{doing}: {cause}")]
    Internal { doing: String, cause: Cause },
    #[error("{0}: command not found")]
    CommandNotFound(String),
    #[error("{0}: cannot execute: {1}")]
    CommandNotExecutable(String, String),
    /// exec said "no such file" for a command that exists: something it needs is missing.
    #[error("{0}: cannot run it: {1}")]
    CommandNotRunnable(String, String),
}

fn lines(unresolved: &[Unresolved]) -> String {
    let lines: Vec<String> = unresolved.iter().map(Unresolved::to_string).collect();
    lines.join("\n")
}

impl Error {
    /// A usage error about `at`.
    pub(crate) fn usage(at: At, problem: impl Into<String>) -> Error {
        Error::Usage {
            at,
            problem: problem.into(),
        }
    }

    /// kvenv's own failure while `doing` something.
    pub(crate) fn internal(doing: impl Into<String>, cause: impl Into<Cause>) -> Error {
        Error::Internal {
            doing: doing.into(),
            cause: cause.into(),
        }
    }

    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::Usage { .. }
            | Error::Unresolved(_)
            | Error::VariableTooLarge { .. }
            | Error::EnvironmentTooLarge { .. }
            | Error::Internal { .. } => EXIT_KVENV,
            Error::CommandNotExecutable(..) => 126,
            Error::CommandNotFound(_) | Error::CommandNotRunnable(..) => 127,
        }
    }
}

/// kvenv's own failure (as `env(1)`): nothing was started.
pub(crate) const EXIT_KVENV: i32 = 125;
/// `kvenv check`: some reference does not resolve.
pub(crate) const EXIT_CHECK_FAILED: i32 = 1;

/// Characters that change how a terminal shows the text around them: C0, DEL
/// and C1 controls (escape sequences, newlines), direction overrides and
/// isolates (U+202E "Trojan Source"), zero-width and line-separator characters.
pub(crate) fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Untrusted text (variable names, server messages) made safe for a terminal
/// and a single log line: control and direction characters become spaces,
/// length is bounded.
pub(crate) fn printable(text: &str) -> String {
    const MAX: usize = 1000;
    let mut out: String = text
        .chars()
        .map(|c| if is_deceptive(c) { ' ' } else { c })
        .take(MAX)
        .collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// The messages of an error and its sources, deduplicated, on one line.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    // Context the SDK's retry policy wraps around errors: it says nothing to a user.
    const NOISE: [&str; 2] = [
        "non-transport error occurred which will not be retried",
        "retry policy expired and the request will no longer be retried",
    ];
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty()
            && !NOISE.contains(&text.as_str())
            && !parts.iter().any(|p| p.contains(&text))
        {
            parts.push(text);
        }
        next = e.source();
    }
    printable(&parts.join(": "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_env() {
        assert_eq!(Error::usage(At::Command("x".into()), "x").exit_code(), 125);
        assert_eq!(Error::Unresolved(vec![]).exit_code(), 125);
        assert_eq!(
            Error::CommandNotExecutable("x".into(), "y".into()).exit_code(),
            126
        );
        assert_eq!(Error::CommandNotFound("x".into()).exit_code(), 127);
    }

    #[test]
    fn printable_strips_control_characters() {
        assert_eq!(printable("a\x1b[31mb\nc"), "a [31mb c");
        assert_eq!(printable("x\u{202E}y\u{9b}z\u{2028}"), "x y z ");
        assert_eq!(printable(&"x".repeat(1500)).chars().count(), 1001);
    }
}
