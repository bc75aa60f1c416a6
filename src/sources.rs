//! Where references come from besides the environment: dotenv files
//! (`--env-file`) and template files (`--template`, `render`). Both are read
//! with size limits and reported by file and line, never by content.

use crate::error::{printable, Error};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Template files are text; anything larger than this is not a config file.
pub const MAX_TEMPLATE: u64 = 1 << 20;
/// Same bound for dotenv files.
pub const MAX_ENV_FILE: u64 = 1 << 20;

fn read_bounded(what: &str, path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    let shown = format!("{what} {}", path.display());
    let meta =
        std::fs::metadata(path).map_err(|e| Error::Usage(format!("{shown}: cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(Error::Usage(format!("{shown}: not a regular file")));
    }
    if meta.len() > max {
        return Err(Error::Usage(format!(
            "{shown}: larger than {} KiB",
            max / 1024
        )));
    }
    std::fs::read(path).map_err(|e| Error::Usage(format!("{shown}: cannot read: {e}")))
}

/// Reads dotenv files in order. Returns the variables they define that are not
/// already in the environment and not defined by an earlier file.
pub fn env_files(files: &[PathBuf]) -> Result<Vec<(String, String)>, Error> {
    let mut out: Vec<(String, String)> = Vec::new();
    for path in files {
        let bytes = read_bounded("--env-file", path, MAX_ENV_FILE)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::Usage(format!("--env-file {}: not valid UTF-8", path.display())))?;
        for (name, value) in parse_dotenv(path, &text)? {
            if std::env::var_os(&name).is_some() || out.iter().any(|(n, _)| *n == name) {
                continue; // the environment (and earlier files) win
            }
            out.push((name, value));
        }
    }
    Ok(out)
}

/// Every `NAME=value` of a dotenv text, in order. `path` only names the file in errors.
pub fn parse_dotenv(path: &Path, text: &str) -> Result<Vec<(String, String)>, Error> {
    dotenvy::from_read_iter(text.as_bytes())
        .map(|item| item.map_err(|e| env_file_error(path, text, e)))
        .collect()
}

/// A parse error names the file and line, never the line's content (it may hold a secret).
fn env_file_error(path: &Path, text: &str, error: dotenvy::Error) -> Error {
    let shown = path.display();
    match error {
        dotenvy::Error::LineParse(line, _) => {
            let number = text
                .lines()
                .position(|l| !l.trim().is_empty() && line.starts_with(l))
                .map(|n| format!(":{}", n + 1))
                .unwrap_or_default();
            Error::Usage(format!("--env-file {shown}{number}: not a valid NAME=value line (quotes unbalanced, or a bad name?)"))
        }
        dotenvy::Error::Io(e) => Error::Usage(format!("--env-file {shown}: cannot read: {e}")),
        dotenvy::Error::EnvVar(e) => Error::Usage(format!("--env-file {shown}: {e}")),
        _ => Error::Usage(format!("--env-file {shown}: cannot be parsed")),
    }
}

/// Makes the variables of `--env-file` files part of kvenv's own environment, so
/// that they reach the command and configure kvenv's credentials alike.
/// Must run before any thread exists: this is the only place kvenv changes its
/// own environment.
pub fn apply_env_files(files: &[PathBuf]) -> Result<(), Error> {
    for (name, value) in env_files(files)? {
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            return Err(Error::Usage(format!(
                "--env-file: variable {} cannot be set",
                printable(&name)
            )));
        }
        std::env::set_var(&name, OsString::from(value));
    }
    Ok(())
}

/// A template file's text, read with the size limit and required to be UTF-8.
pub fn template(path: &Path) -> Result<String, Error> {
    let bytes = read_bounded("template", path, MAX_TEMPLATE)?;
    String::from_utf8(bytes).map_err(|e| {
        let line = crate::template::line_of(
            &String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]),
            usize::MAX,
        );
        Error::Usage(format!(
            "template {}:{line}: not valid UTF-8 (templates are text)",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dotenv_forms() {
        let text = "# c\nexport A=1\nB='x $Y'\nC=\"l1\nl2\"\n\nD=plain # comment\n";
        let got = parse_dotenv(Path::new("f"), text).unwrap();
        let want = [("A", "1"), ("B", "x $Y"), ("C", "l1\nl2"), ("D", "plain")];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((n, v), (wn, wv)) in got.iter().zip(want) {
            assert_eq!((n.as_str(), v.as_str()), (wn, wv));
        }
    }

    proptest! {
        #[test]
        fn dotenv_never_panics_and_errors_never_echo_content(text in "[ -~\n]{0,200}") {
            if let Err(e) = parse_dotenv(Path::new("f.env"), &text) {
                let message = e.to_string();
                prop_assert!(message.starts_with("--env-file f.env"));
                // Only the file, a line number and a fixed description.
                prop_assert!(message.len() < 120, "{}", message);
            }
        }

        #[test]
        fn single_quoted_values_round_trip(name in "[A-Z_][A-Z0-9_]{0,20}", value in "[^'\n\\\\]{0,60}") {
            let got = parse_dotenv(Path::new("f"), &format!("{name}='{value}'\n")).unwrap();
            prop_assert_eq!(got, vec![(name, value)]);
        }
    }
}
