//! The three commands that resolve references, `run`, `check` and `render`,
//! and the one path they share: env files, settings and logs; the plan; then
//! resolution with core dumps off (none of it when there is nothing to resolve).

mod check;
pub(crate) mod inject;
mod install;
mod render;
pub(crate) mod run;

pub(crate) use check::check;
pub(crate) use install::install;
pub(crate) use render::render;
pub(crate) use run::run;

use crate::cli::Common;
use crate::error::{Error, Status};
use crate::plan::Plan;
use crate::reference::Reference;
use crate::resolve::{Resolution, Settings};
use crate::token::TokenTarget;
use crate::{exec, identity, resolve, sources};
use std::io::Write;
use std::path::Path;

pub(crate) fn read_templates(paths: &[&Path]) -> Result<Vec<String>, Error> {
    paths.iter().map(|path| sources::template(path)).collect()
}

pub(crate) fn with_texts<'a>(paths: &[&'a Path], texts: &'a [String]) -> Vec<(&'a Path, &'a str)> {
    paths
        .iter()
        .copied()
        .zip(texts.iter().map(String::as_str))
        .collect()
}

/// Writes output (a report, a rendered template, completions, a man page) to stdout.
pub(crate) fn print(
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()> + Send,
) -> Result<(), Error> {
    crate::output::stdout(write).map_err(|e| Error::Internal(format!("writing to stdout: {e}")))
}

/// Env files first (they may configure kvenv too), then settings, then logs.
pub(crate) fn prepare(common: &Common) -> Result<Settings, Error> {
    sources::apply_env_files(&common.env_file)?;
    let settings = common.settings(identity::Env::snapshot());
    crate::init_logging(common);
    Ok(settings)
}

/// What a command wants from resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `run` and `render`: every reference must resolve (or, kept literally,
    /// is warned about); a refused host stops all fetching.
    Strict { keep_unresolved: bool },
    /// `check`: resolve what can be, report the rest.
    Report,
}

/// Resolves what the plan refers to, with core dumps off while secrets are in
/// memory. No references: no runtime, no TLS, no credential, no hardening.
pub(crate) fn resolve(
    plan: &Plan,
    tokens: &[TokenTarget],
    settings: &Settings,
    mode: Mode,
) -> Result<(Resolution, Option<exec::Hardening>), Error> {
    if let Mode::Strict { keep_unresolved } = mode {
        plan.check_syntax(keep_unresolved)?;
    }
    let mut refs = plan.refs();
    refs.extend(tokens.iter().map(|t| Reference::Token(t.token.clone())));
    if refs.is_empty() {
        return Ok((Resolution::default(), None));
    }
    let hardening = exec::Hardening::engage();
    let all_or_nothing = mode
        == Mode::Strict {
            keep_unresolved: false,
        };
    let resolution = resolve::resolve(&refs, settings, all_or_nothing)?;
    if let Mode::Strict { keep_unresolved } = mode {
        // A token that did not come fails the run, --keep-unresolved or not:
        // there is no literal text to keep.
        let failed: Vec<String> = tokens
            .iter()
            .filter_map(|t| {
                let failure = resolution
                    .failures
                    .get(&Reference::Token(t.token.clone()))?;
                Some(format!("{}: {failure}", t.var))
            })
            .collect();
        let plan_lines = plan.check_resolution(&resolution, keep_unresolved);
        match (plan_lines, failed.is_empty()) {
            (Ok(()), true) => {}
            (Ok(()), false) => return Err(Error::Unresolved(failed)),
            (Err(Error::Unresolved(mut lines)), _) => {
                lines.extend(failed);
                return Err(Error::Unresolved(lines));
            }
            (Err(e), _) => return Err(e),
        }
    }
    Ok((resolution, Some(hardening)))
}

/// `--token` rows for `check`: the variable, the resource, the credential and
/// when the token expires; never the token.
pub(crate) fn token_rows(
    tokens: &[TokenTarget],
    resolution: &Resolution,
    credential: &str,
) -> Vec<crate::plan::Row> {
    tokens
        .iter()
        .map(|t| {
            let r = Reference::Token(t.token.clone());
            let (status, detail, hint, expires_on) =
                match (resolution.values.get(&r), resolution.failures.get(&r)) {
                    (Some(fetched), _) => {
                        let expires = fetched
                            .expires_on
                            .as_ref()
                            .map(azure_core::time::to_rfc3339);
                        let detail = format!(
                            "token for {} from {credential}{}",
                            t.token.scope,
                            expires
                                .as_ref()
                                .map(|e| format!(", expires {e}"))
                                .unwrap_or_default()
                        );
                        (Status::Resolved, detail, None, expires)
                    }
                    (None, Some(f)) => (f.status, f.detail.clone(), f.hint.clone(), None),
                    (None, None) => (Status::OtherReasons, "not attempted".into(), None, None),
                };
            crate::plan::Row {
                location: t.var.clone(),
                reference: Some(r),
                via: None,
                resolved_version: None,
                status,
                detail,
                hint,
                expires_on,
            }
        })
        .collect()
}
