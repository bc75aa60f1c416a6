//! Where references come from besides the environment: dotenv files
//! (`--env-file`) and template files (`--template`, `render`). Both are read
//! with size limits and reported by file and line, never by content.

use crate::error::{printable, At, Error};
use crate::vars::Vars;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Template files are text; anything larger than this is not a config file.
pub(crate) const MAX_TEMPLATE: u64 = 1 << 20;
/// Same bound for dotenv files.
pub(crate) const MAX_ENV_FILE: u64 = 1 << 20;

/// A regular file of at most `max` bytes (see `files`), errors naming `what` and the path.
fn read_bounded(what: &'static str, path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    crate::files::read_regular(path, max, crate::files::Links::Follow)
        .map_err(|e| Error::usage(At::file(what, path), e.to_string()))
}

/// Reads dotenv files in order. Returns the variables they define that are not
/// already in the environment and not defined by an earlier file.
pub(crate) fn env_files(files: &[PathBuf], vars: &Vars) -> Result<Vec<(String, String)>, Error> {
    let mut out: Vec<(String, String)> = Vec::new();
    for path in files {
        let bytes = read_bounded("--env-file", path, MAX_ENV_FILE)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::usage(At::file("--env-file", path), "not valid UTF-8"))?;
        // Editors on Windows start UTF-8 files with a byte-order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        for (name, value) in parse_dotenv_with(path, text, vars)? {
            if vars.get(&name).is_some() || out.iter().any(|(n, _)| *n == name) {
                continue; // the environment (and earlier files) win
            }
            out.push((name, value));
        }
    }
    Ok(out)
}

/// Every `NAME=value` of a dotenv text, in order, in an empty environment.
/// `path` only names the file in errors.
pub(crate) fn parse_dotenv(path: &Path, text: &str) -> Result<Vec<(String, String)>, Error> {
    parse_dotenv_with(path, text, &Vars::default())
}

/// [`parse_dotenv`], with `$NAME` bounded by the values in `vars`.
fn parse_dotenv_with(path: &Path, text: &str, vars: &Vars) -> Result<Vec<(String, String)>, Error> {
    if let Some(line) = expansion_exceeds(text, MAX_ENV_FILE as usize, vars) {
        return Err(Error::usage(
            At::File("--env-file", path.into(), Some(line)),
            format!(
                "variable expansion ($NAME) would grow the values past {} KiB",
                MAX_ENV_FILE / 1024
            ),
        ));
    }
    dotenvy::from_read_iter(text.as_bytes())
        .map(|item| item.map_err(|e| env_file_error(path, text, e)))
        .collect()
}

/// dotenv expands `$NAME` and `${NAME}` with earlier values, so a few hundred
/// bytes like `p=$p$p` repeated can grow to gigabytes inside the parser (found
/// by fuzzing). Before parsing, this bounds every value's size from above,
/// counting every `$NAME` as the referenced value's bound (quotes ignored:
/// the bound only needs to be safe), and returns the first line past `max`.
fn expansion_exceeds(text: &str, max: usize, vars: &Vars) -> Option<usize> {
    let mut sizes: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut current: Option<&str> = None;
    let name_end = |s: &str| {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let assignment = trimmed.strip_prefix("export ").unwrap_or(trimmed);
        let name_len = name_end(assignment);
        let assigns = name_len > 0 && assignment[name_len..].trim_start().starts_with('=');
        let mut bound = line.len() + 1;
        let mut rest = line;
        while let Some(at) = rest.find('$') {
            rest = &rest[at + 1..];
            let name = match rest.strip_prefix('{') {
                Some(braced) => &braced[..braced.find('}').unwrap_or(braced.len())],
                None => &rest[..name_end(rest)],
            };
            let referenced = sizes
                .get(name)
                .copied()
                .unwrap_or_else(|| vars.get(name).map_or(0, |v| v.len()));
            bound = bound.saturating_add(referenced);
        }
        // References use the earlier value, so the new one starts only now.
        if assigns {
            current = Some(&assignment[..name_len]);
            sizes.insert(&assignment[..name_len], 0);
        }
        if let Some(name) = current {
            let size = sizes.entry(name).or_insert(0);
            *size = size.saturating_add(bound);
            if *size > max {
                return Some(number + 1);
            }
        }
    }
    None
}

/// A parse error names the file and line, never the line's content (it may hold a secret).
fn env_file_error(path: &Path, text: &str, error: dotenvy::Error) -> Error {
    let file = || At::file("--env-file", path);
    match error {
        dotenvy::Error::LineParse(line, _) => {
            let number = text
                .lines()
                .position(|l| !l.trim().is_empty() && line.starts_with(l))
                .map(|n| n + 1);
            Error::usage(
                At::File("--env-file", path.into(), number),
                "not a valid NAME=value line (quotes unbalanced, or a bad name?)",
            )
        }
        dotenvy::Error::Io(e) => Error::usage(file(), format!("cannot read: {e}")),
        dotenvy::Error::EnvVar(e) => Error::usage(file(), e.to_string()),
        _ => Error::usage(file(), "cannot be parsed"),
    }
}

/// `vars` with the variables of `--env-file` files added, so that they reach
/// the command and configure kvenv's credentials alike.
pub(crate) fn apply_env_files(files: &[PathBuf], vars: Vars) -> Result<Vars, Error> {
    let mut added = Vec::new();
    for (name, value) in env_files(files, &vars)? {
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            return Err(Error::usage(
                At::Arg("--env-file", None),
                format!("variable {} cannot be set", printable(&name)),
            ));
        }
        added.push((OsString::from(name), OsString::from(value)));
    }
    Ok(vars.with(added))
}

/// A template file's text, read with the size limit and required to be UTF-8.
pub(crate) fn template(path: &Path) -> Result<String, Error> {
    let bytes = read_bounded("template", path, MAX_TEMPLATE)?;
    String::from_utf8(bytes).map_err(|e| {
        let line = crate::template::line_of(
            &String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]),
            usize::MAX,
        );
        Error::usage(
            At::File("template", path.into(), Some(line)),
            "not valid UTF-8 (templates are text)",
        )
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

    // Regression: a 602-byte file found by fuzzing (tests/fixtures) made the
    // dotenv parser allocate 2 GB through self-referencing expansion.
    #[test]
    fn expansion_bombs_are_refused_before_parsing() {
        let bomb = std::fs::read("tests/fixtures/dotenv-expansion-bomb.env").unwrap();
        let err = parse_dotenv(Path::new("bomb.env"), &String::from_utf8_lossy(&bomb)).unwrap_err();
        assert!(err.to_string().contains("variable expansion"), "{err}");
        let doubling: String = (0..40).map(|_| "P=$P$P\n").collect();
        assert!(parse_dotenv(Path::new("d.env"), &format!("P=xx\n{doubling}")).is_err());
        // Ordinary expansion still works.
        let ok = parse_dotenv(Path::new("ok.env"), "A=1\nB=${A}2\n").unwrap();
        assert_eq!(ok[1], ("B".to_string(), "12".to_string()));
    }

    #[test]
    fn the_example_env_file_parses_with_both_kinds_of_reference() {
        let text = std::fs::read_to_string("examples/app.env").unwrap();
        let vars = parse_dotenv(Path::new("examples/app.env"), &text).unwrap();
        let mut kinds = std::collections::BTreeSet::new();
        for (name, value) in &vars {
            let template = crate::template::scan(value, crate::cloud::Cloud::Public)
                .unwrap_or_else(|e| panic!("{name}: {}", e.error));
            for r in template.refs() {
                kinds.insert(matches!(r, crate::reference::Reference::Config(_)));
            }
        }
        assert_eq!(kinds.len(), 2, "both kinds are shown");
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
