//! `kvenv export`'s formats: each writes variables so that its consumer reads
//! every value back byte for byte, or refuses the value, naming the variable.
//! The output holds secrets: it is built in a `SecretBytes`.

use crate::secret::SecretBytes;
use std::ffi::OsStr;

/// What reads the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// `VAR="..."` with `\`, `"`, `$` and newline escaped: kvenv's `--env-file`, dotenvy.
    Dotenv,
    /// `export VAR='...'`: `.` or `eval` in sh, bash, zsh.
    Shell,
    /// One JSON object of strings.
    Json,
    /// One YAML 1.2 mapping of double-quoted scalars.
    Yaml,
    /// `VAR=value` lines, as `docker run --env-file` reads them.
    Docker,
}

impl Format {
    /// The name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Dotenv => "dotenv",
            Format::Shell => "shell",
            Format::Json => "json",
            Format::Yaml => "yaml",
            Format::Docker => "docker",
        }
    }
}

/// Why a variable cannot be written in a format.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unwritable {
    pub var: String,
    pub why: &'static str,
}

/// Writes `vars` in `format`. Names are `[A-Za-z_][A-Za-z0-9_]*` or refused.
pub(crate) fn encode(format: Format, vars: &[(&OsStr, &[u8])]) -> Result<SecretBytes, Unwritable> {
    let mut out = SecretBytes::with_capacity(
        vars.iter()
            .map(|(n, v)| n.len() + v.len() * 2 + 16)
            .sum::<usize>()
            + 4,
    );
    if format == Format::Json {
        out.push(b"{");
    }
    for (i, (name, value)) in vars.iter().enumerate() {
        let var = name.to_string_lossy().into_owned();
        let unwritable = |why| Unwritable {
            var: var.clone(),
            why,
        };
        if !crate::vars::is_name(name.as_encoded_bytes()) {
            return Err(unwritable("its name is not [A-Za-z_][A-Za-z0-9_]*"));
        }
        let text =
            || std::str::from_utf8(value).map_err(|_| unwritable("its value is not UTF-8 text"));
        match format {
            Format::Dotenv => {
                let quote = dotenv_quote(text()?).map_err(unwritable)?;
                out.push(name.as_encoded_bytes());
                out.push(&[b'=', quote]);
                out.push(value);
                out.push(&[quote, b'\n']);
            }
            Format::Shell => {
                out.push(b"export ");
                out.push(name.as_encoded_bytes());
                out.push(b"='");
                for chunk in value.split(|b| *b == b'\'').enumerate() {
                    if chunk.0 > 0 {
                        out.push(b"'\\''");
                    }
                    out.push(chunk.1);
                }
                out.push(b"'\n");
            }
            Format::Json => {
                let text = text()?;
                if i > 0 {
                    out.push(b",");
                }
                out.push(b"\n  \"");
                out.push(name.as_encoded_bytes());
                out.push(b"\": \"");
                json_escape(&mut out, text);
                out.push(b"\"");
            }
            Format::Yaml => {
                let text = text()?;
                out.push(b"\"");
                out.push(name.as_encoded_bytes());
                out.push(b"\": \"");
                yaml_escape(&mut out, text);
                out.push(b"\"\n");
            }
            Format::Docker => {
                text()?;
                if value.contains(&b'\n') {
                    return Err(unwritable(
                        "its value has a newline, which docker's env-file cannot hold",
                    ));
                }
                if value.ends_with(b"\r") {
                    return Err(unwritable(
                        "its value ends with a carriage return, which docker's env-file drops",
                    ));
                }
                out.push(name.as_encoded_bytes());
                out.push(b"=");
                out.push(value);
                out.push(b"\n");
            }
        }
    }
    if format == Format::Json {
        out.push(if vars.is_empty() { b"}\n" } else { b"\n}\n" });
    }
    Ok(out)
}

/// The quote that makes `text` read back the same in every widely used
/// dotenv reader: dotenvy (kvenv's own `--env-file`), python-dotenv (which
/// expands `${...}` even in single quotes and reads `\\` and `\'` there as
/// escapes), node's `dotenv` (no escapes at all, and CR read as LF) and docker
/// compose (`\'` an escape in single quotes). Single quotes carry the most;
/// double quotes carry a `'` when nothing in the value needs escaping; no form
/// carries the rest.
fn dotenv_quote(text: &str) -> Result<u8, &'static str> {
    const NEITHER: &str = "no .env line reads back the same in dotenvy, python-dotenv, node's dotenv and docker compose (a carriage return; ${, \\\\ or a final \\; or ' with \" \\ $ ` or a line break); --format shell or json carries it";
    let single = !text.contains(['\'', '\r'])
        && !text.contains("${")
        && !text.contains("\\\\")
        && !text.ends_with('\\');
    if single {
        return Ok(b'\'');
    }
    let double = !text.contains(['"', '\\', '$', '\n', '\r', '`']);
    match double {
        true => Ok(b'"'),
        false => Err(NEITHER),
    }
}

/// `\uXXXX` for each UTF-16 unit of `c`, written straight into `out` (no
/// string of its own holds a piece of the value).
fn push_unicode(out: &mut SecretBytes, c: char) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut units = [0u16; 2];
    for unit in c.encode_utf16(&mut units) {
        let u = *unit as usize;
        out.push(&[
            b'\\',
            b'u',
            HEX[(u >> 12) & 15],
            HEX[(u >> 8) & 15],
            HEX[(u >> 4) & 15],
            HEX[u & 15],
        ]);
    }
}

/// JSON string content: `"` and `\` escaped, and every control, direction
/// or zero-width character as `\uXXXX` (the text reads back the same).
fn json_escape(out: &mut SecretBytes, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push(b"\\\""),
            '\\' => out.push(b"\\\\"),
            '\n' => out.push(b"\\n"),
            '\r' => out.push(b"\\r"),
            '\t' => out.push(b"\\t"),
            c if crate::error::is_deceptive(c) => push_unicode(out, c),
            c => out.push(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

/// YAML double-quoted scalar content: `"` and `\` escaped, line breaks and
/// every other non-printable or direction character escaped, so that no line
/// folding or normalisation can touch it.
fn yaml_escape(out: &mut SecretBytes, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push(b"\\\""),
            '\\' => out.push(b"\\\\"),
            '\n' => out.push(b"\\n"),
            '\r' => out.push(b"\\r"),
            '\t' => out.push(b"\\t"),
            // Not "printable" in YAML: controls, and U+FFFE and U+FFFF.
            c if crate::error::is_deceptive(c)
                || matches!(c, '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}') =>
            {
                push_unicode(out, c)
            }
            c => out.push(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TORTURE: &str = "line one\nline two\r\n\ttab \"double\" 'single' back\\slash $HOME ${HOME} `date` ünïcödé 🔑 \u{202e}end";

    fn one(format: Format, value: &str) -> String {
        let out = encode(format, &[(OsStr::new("V"), value.as_bytes())]).unwrap();
        String::from_utf8(out.expose().to_vec()).unwrap()
    }

    fn dotenv_back(text: &str) -> String {
        let vars = crate::sources::parse_dotenv(std::path::Path::new("t.env"), text).unwrap();
        assert_eq!(vars.len(), 1, "{text}");
        vars[0].1.clone()
    }

    fn docker_back(text: &str) -> String {
        // docker's opts.ParseEnvFile: lines split on \n, a trailing \r dropped,
        // leading white space trimmed, the value taken as is after the first '='.
        let line = text.strip_suffix('\n').unwrap();
        let line = line.strip_suffix('\r').unwrap_or(line).trim_start();
        line.split_once('=').unwrap().1.to_string()
    }

    #[test]
    fn the_torture_value_reads_back_in_every_format_that_can_hold_it() {
        // dotenv has no form every reader reads the same for it (a CR, ${...}).
        assert_eq!(
            encode(Format::Dotenv, &[(OsStr::new("V"), TORTURE.as_bytes())])
                .unwrap_err()
                .var,
            "V"
        );
        let carried = "line one\nline two\n\ttab \"double\" back\\slash $HOME `date` ünïcödé 🔑 #x";
        assert_eq!(one(Format::Dotenv, carried), format!("V='{carried}'\n"));
        assert_eq!(dotenv_back(&one(Format::Dotenv, carried)), carried);
        assert_eq!(one(Format::Dotenv, "it's"), "V=\"it's\"\n");
        let json: serde_json::Value = serde_json::from_str(&one(Format::Json, TORTURE)).unwrap();
        assert_eq!(json["V"], TORTURE);
        let yaml: std::collections::BTreeMap<String, String> =
            serde_norway::from_str(&one(Format::Yaml, TORTURE)).unwrap();
        assert_eq!(yaml["V"], TORTURE);
        let err = encode(Format::Docker, &[(OsStr::new("V"), TORTURE.as_bytes())]).unwrap_err();
        assert_eq!(err.var, "V");
        let flat = "no newline: \"q\" 'q' $HOME `x` 🔑\ttab\rcr";
        assert_eq!(docker_back(&one(Format::Docker, flat)), flat);
        assert_eq!(one(Format::Shell, "it's"), "export V='it'\\''s'\n");
    }

    #[test]
    fn what_a_format_cannot_hold_is_refused_naming_the_variable() {
        let bad = [0xff, 0xfe];
        for format in [Format::Dotenv, Format::Json, Format::Yaml, Format::Docker] {
            let err = encode(format, &[(OsStr::new("BIN"), &bad)]).unwrap_err();
            assert_eq!(err.var, "BIN");
        }
        assert!(encode(Format::Shell, &[(OsStr::new("BIN"), &bad)]).is_ok());
        assert!(encode(Format::Shell, &[(OsStr::new("A-B"), b"x")]).is_err());
        assert!(encode(Format::Docker, &[(OsStr::new("V"), b"ends\r")]).is_err());
    }

    proptest! {
        #[test]
        fn dotenv_json_yaml_and_docker_read_back(value in "[^\\x00]{0,64}") {
            // Written, or refused: never written to read back otherwise.
            if let Ok(out) = encode(Format::Dotenv, &[(OsStr::new("V"), value.as_bytes())]) {
                let text = String::from_utf8(out.expose().to_vec()).unwrap();
                prop_assert_eq!(dotenv_back(&text), value.clone());
            }
            let json: serde_json::Value = serde_json::from_str(&one(Format::Json, &value)).unwrap();
            prop_assert_eq!(json["V"].as_str().unwrap(), value.as_str());
            let yaml: std::collections::BTreeMap<String, String> =
                serde_norway::from_str(&one(Format::Yaml, &value)).unwrap();
            prop_assert_eq!(&yaml["V"], &value);
            if !value.contains('\n') && !value.ends_with('\r') {
                prop_assert_eq!(docker_back(&one(Format::Docker, &value)), value.clone());
            }
        }
    }
}
