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
use crate::error::Error;
use crate::plan::Plan;
use crate::resolve::{Resolution, Settings};
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
    settings: &Settings,
    mode: Mode,
) -> Result<(Resolution, Option<exec::Hardening>), Error> {
    if let Mode::Strict { keep_unresolved } = mode {
        plan.check_syntax(keep_unresolved)?;
    }
    let refs = plan.refs();
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
        plan.check_resolution(&resolution, keep_unresolved)?;
    }
    Ok((resolution, Some(hardening)))
}
