//! The command's final environment, as a pure function of kvenv's own
//! environment, the rendered values and the template descriptors; and the
//! kernel's limits on it, checked before anything is rendered, so that a
//! large environment full of references fails early with one line instead of
//! spending memory on values exec would refuse (`E2BIG`).

use crate::error::{printable, Error, Failure, Status, Unresolved};
use crate::secret::SecretBytes;
use std::ffi::OsString;

/// Linux refuses any single `NAME=VALUE` longer than this (`MAX_ARG_STRLEN`).
pub(crate) const ENTRY_MAX: usize = 32 * 4096;

pub(crate) use crate::platform::exec_budget;

/// Bytes one entry costs exec: the string, its NUL and its pointer.
fn cost(len: usize) -> usize {
    len + 1 + std::mem::size_of::<usize>()
}

/// Checks the environment's size from each entry's final length, before any
/// value is rendered. `lens[i]` is the value length of `vars[i]` after
/// rendering; `extra` are the template descriptors.
pub(crate) fn check_size(
    vars: &[(OsString, OsString)],
    lens: &[usize],
    extra: &[(OsString, Vec<u8>)],
    args: &[OsString],
) -> Result<(), Error> {
    let mut total: usize = args.iter().map(|a| cost(a.len())).sum();
    for ((name, _), len) in vars.iter().zip(lens) {
        let entry = name.len() + 1 + len;
        if entry > ENTRY_MAX {
            return Err(Error::VariableTooLarge {
                name: printable(&name.to_string_lossy()),
                size: entry,
                max: ENTRY_MAX,
            });
        }
        total = total.saturating_add(cost(entry));
    }
    total += extra
        .iter()
        .map(|(n, v)| cost(n.len() + 1 + v.len()))
        .sum::<usize>();
    let budget = exec_budget();
    if total > budget {
        return Err(Error::EnvironmentTooLarge {
            size: total,
            max: budget,
        });
    }
    Ok(())
}

/// The command's variables, in order, each with its value.
pub(crate) type Vars = Vec<(OsString, SecretBytes)>;

/// What the command's variables are made from.
pub(crate) struct Sources<'a> {
    pub plan: &'a crate::plan::Plan<'a>,
    pub resolution: &'a crate::resolve::Resolution,
    /// kvenv's own environment (after env files), in order.
    pub vars: &'a [(OsString, OsString)],
    pub tokens: &'a [crate::token::TokenTarget],
    /// The `--template` VARs.
    pub templates: &'a [&'a str],
    pub shapes: &'a crate::shape::Shapes,
}

/// The command's variables, in order: each of kvenv's own with its references
/// rendered and the JSON and optional options applied (an expanded variable
/// replaced by its members where it stood), then the `--token` variables
/// (which replace a variable of that name). Also the warnings for optional
/// references that were not there. Every failure is one line of the error.
pub(crate) fn command_vars(src: &Sources<'_>) -> Result<(Vars, Vec<String>), Error> {
    use crate::plan::Key;
    use crate::shape::Shaped;
    let mut shaped: Vec<Option<Shaped>> = (0..src.vars.len()).map(|_| None).collect();
    let (mut failures, mut warnings) = (Vec::new(), Vec::new());
    let is_token = |name: &str| src.tokens.iter().any(|t| t.var == name);
    let named = src.tokens.iter().map(|t| t.var.as_str());
    let mut taken = crate::shape::Taken::new(src.vars, named.chain(src.templates.iter().copied()));
    for item in &src.plan.items {
        let Key::Var(i) = item.key else { continue };
        let var = item.label();
        let missing = item.references().find_map(|r| {
            src.resolution
                .failures
                .get(r)
                .filter(|f| src.shapes.excuses(var, f))
        });
        if let Some(failure) = missing {
            warnings.push(src.shapes.missing_line(var, failure));
            shaped[i] = Some(src.shapes.when_missing(var));
            continue;
        }
        let value = item.render(src.resolution);
        // A file may hold any byte; a variable cannot hold a NUL.
        if value.expose().contains(&0) && !src.shapes.makes_file(var) {
            failures.push(Unresolved {
                location: var.to_string(),
                failure: Failure::new(Status::OtherReasons, crate::vars::NUL_IN_VARIABLE),
            });
            continue;
        }
        let named = item
            .whole_reference()
            .map_or_else(|| var.to_string(), |r| r.to_string());
        let content_type = item.content_type(src.resolution);
        match src.shapes.apply(var, value, content_type, &named) {
            Ok(Shaped::Expanded(members)) => {
                let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
                match taken.claim(var, src.shapes.prefix(var), &names) {
                    Ok(()) => shaped[i] = Some(Shaped::Expanded(members)),
                    Err(failure) => failures.push(Unresolved {
                        location: var.to_string(),
                        failure,
                    }),
                }
            }
            Ok(other) => shaped[i] = Some(other),
            Err(failure) => failures.push(Unresolved {
                location: var.to_string(),
                failure,
            }),
        }
    }
    if !failures.is_empty() {
        return Err(Error::Unresolved(failures));
    }
    let mut out: Vec<(OsString, SecretBytes)> = Vec::with_capacity(src.vars.len());
    for ((name, value), shaped) in src.vars.iter().zip(shaped) {
        if is_token(&name.to_string_lossy()) {
            continue;
        }
        match shaped {
            None => out.push((
                name.clone(),
                SecretBytes::new(value.as_encoded_bytes().to_vec()),
            )),
            Some(Shaped::Value(v) | Shaped::File(v)) => out.push((name.clone(), v)),
            Some(Shaped::Absent) => {}
            Some(Shaped::Expanded(members)) => {
                out.extend(members.into_iter().map(|(n, v)| (OsString::from(n), v)))
            }
        }
    }
    for t in src.tokens {
        if let Some(fetched) = src
            .resolution
            .values
            .get(&crate::reference::Reference::Token(t.token.clone()))
        {
            out.push((
                OsString::from(&t.var),
                SecretBytes::new(fetched.value.expose().to_vec()),
            ));
        }
    }
    Ok((out, warnings))
}

/// The command's environment as exec takes it: the variables (but those a
/// template descriptor replaces), then the descriptors, then the entries that
/// are not `NAME=VALUE` (`odd`), untouched.
pub(crate) fn build(
    vars: &[(OsString, SecretBytes)],
    extra: &[(OsString, Vec<u8>)],
    odd: &[SecretBytes],
) -> Vec<SecretBytes> {
    let mut env: Vec<SecretBytes> = vars
        .iter()
        .filter(|(name, _)| !extra.iter().any(|(n, _)| n == name))
        .map(|(name, value)| entry(name.as_encoded_bytes(), value.expose()))
        .collect();
    env.extend(
        extra
            .iter()
            .map(|(name, value)| entry(name.as_encoded_bytes(), value)),
    );
    env.extend(odd.iter().map(|e| SecretBytes::new(e.expose().to_vec())));
    env
}

/// One `NAME=VALUE\0` entry, built in place.
pub(crate) fn entry(name: &[u8], value: &[u8]) -> SecretBytes {
    let mut entry = SecretBytes::with_capacity(name.len() + 1 + value.len() + 1);
    entry.push(name);
    entry.push(b"=");
    entry.push(value);
    entry.push(b"\0");
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    fn text(env: &[SecretBytes]) -> Vec<String> {
        env.iter()
            .map(|e| String::from_utf8_lossy(e.expose()).into_owned())
            .collect()
    }

    #[test]
    fn descriptors_replace_their_variable_and_odd_entries_come_last() {
        let vars = vec![
            (os("A"), SecretBytes::new(b"plain".to_vec())),
            (os("B"), SecretBytes::new(b"s3cret".to_vec())),
            (os("PGPASSFILE"), SecretBytes::new(b"/old".to_vec())),
        ];
        let extra = vec![(os("PGPASSFILE"), b"/dev/fd/3".to_vec())];
        assert_eq!(
            text(&build(
                &vars,
                &extra,
                &[SecretBytes::new(b"ODD\0".to_vec())]
            )),
            ["A=plain\0", "B=s3cret\0", "PGPASSFILE=/dev/fd/3\0", "ODD\0"]
        );
    }

    #[test]
    fn sizes_past_the_kernel_limits_are_refused_before_rendering() {
        let vars = vec![(os("BIG"), os("x"))];
        let err = check_size(&vars, &[ENTRY_MAX], &[], &[]).unwrap_err();
        assert!(err.to_string().starts_with("BIG: "), "{err}");
        assert!(check_size(&vars, &[100], &[], &[]).is_ok());
        let many: Vec<_> = (0..400).map(|i| (os(&format!("V{i}")), os("x"))).collect();
        let lens = vec![100 * 1024; 400];
        let err = check_size(&many, &lens, &[], &[]).unwrap_err();
        assert!(err.to_string().contains("ARG_MAX"), "{err}");
    }
}
