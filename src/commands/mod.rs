//! The three commands that resolve references, `run`, `check` and `render`,
//! and the one path they share: env files, settings and logs; the plan; then
//! resolution with core dumps off (none of it when there is nothing to resolve).

mod check;
pub(crate) mod export;
pub(crate) mod inject;
mod install;
mod logging;
pub(crate) mod render;
pub(crate) mod run;

pub(crate) use check::check;
pub(crate) use install::install;
pub(crate) use render::render;
pub(crate) use run::run;

use crate::cli::Common;
use crate::error::{At, Error, Status, Unresolved};
use crate::plan::Plan;
use crate::reference::Reference;
use crate::resolve::{Resolution, Settings};
use crate::token::TokenTarget;
use crate::vars::Vars;
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
    crate::output::stdout(write).map_err(|e| Error::internal("writing to stdout", e))
}

/// `kvenv man [COMMAND]`: kvenv(1), or `kvenv-COMMAND(1)` with all of its
/// options; every page names the others under SEE ALSO.
pub(crate) fn man(command: Option<&str>) -> Result<(), Error> {
    let mut top = <crate::cli::Cli as clap::CommandFactory>::command();
    top.build();
    let names: Vec<String> = top
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect();
    let page = match command {
        None => top.clone(),
        Some(name) => top
            .find_subcommand(name)
            .filter(|_| name != "help")
            .cloned()
            .map(|c| {
                let full = format!("kvenv-{name}");
                c.bin_name(format!("kvenv {name}")).display_name(full)
            })
            .ok_or_else(|| {
                Error::usage(
                    At::arg("man", crate::error::printable(name)),
                    format!("not a command; one of {}", names.join(", ")),
                )
            })?,
    };
    let see_also: Vec<String> = std::iter::once("kvenv(1)".to_string())
        .chain(names.iter().map(|n| format!("kvenv-{n}(1)")))
        .filter(|p| Some(p.as_str()) != command.map(|c| format!("kvenv-{c}(1)")).as_deref())
        .filter(|p| command.is_some() || p != "kvenv(1)")
        .collect();
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| Error::internal("writing the man page", e))?;
    roff.extend_from_slice(format!(".SH \"SEE ALSO\"\n{}\n", see_also.join(", ")).as_bytes());
    print(|out| out.write_all(&roff))
}

/// Env files first (they may configure kvenv too), then settings, then logs.
pub(crate) fn prepare(common: &Common, vars: Vars) -> Result<(Settings, Vars), Error> {
    let vars = sources::apply_env_files(&common.env_file, vars)?;
    let settings = common.settings(identity::Snapshot::of(&vars));
    logging::init_logging(common);
    if !common.quiet {
        for (name, value) in vars.entries() {
            if crate::template::near_miss(std::os::unix::ffi::OsStrExt::as_bytes(value.as_os_str()))
            {
                crate::output::lines(&format!(
                    "{}: looks like a reference but is not one, so it is passed on as it is (a reference is @Microsoft.KeyVault(...) or @Microsoft.AppConfiguration(...), written exactly so)",
                    crate::error::printable(&name.to_string_lossy())
                ));
            }
        }
    }
    Ok((settings, vars))
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
    shapes: &crate::shape::Shapes,
    settings: &Settings,
    mode: Mode,
) -> Result<(Resolution, Option<exec::Hardening>), Error> {
    resolve_through(plan, tokens, shapes, settings, mode, None)
}

/// [`resolve`], through a network thread kept for later rounds (`--watch`)
/// when `network` is given: it is started here if there is anything to fetch.
pub(crate) fn resolve_through(
    plan: &Plan,
    tokens: &[TokenTarget],
    shapes: &crate::shape::Shapes,
    settings: &Settings,
    mode: Mode,
    network: Option<&mut Option<crate::watch::Network>>,
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
    let resolution = match network {
        Some(slot) => {
            let network = crate::watch::Network::start(settings.clone())?;
            let first = network.first(&refs, all_or_nothing);
            *slot = Some(network);
            first
        }
        None => resolve::resolve(&refs, settings, all_or_nothing)?,
    };
    if let Mode::Strict { keep_unresolved } = mode {
        // A token that did not come fails the run, --keep-unresolved or not:
        // there is no literal text to keep.
        let failed: Vec<Unresolved> = tokens
            .iter()
            .filter_map(|t| {
                let failure = resolution
                    .failures
                    .get(&Reference::Token(t.token.clone()))?;
                Some(Unresolved {
                    location: t.var.clone(),
                    failure: failure.clone(),
                })
            })
            .collect();
        let excused = |item: &crate::plan::Item, f: &crate::error::Failure| {
            item.is_var() && shapes.excuses(item.label(), f)
        };
        let plan_lines = plan.check_resolution(&resolution, keep_unresolved, &excused);
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

/// The shaping options, checked against the plan before any request.
pub(crate) fn shapes(
    args: &crate::cli::ShapeArgs,
    plan: &Plan,
    vars: &[(std::ffi::OsString, std::ffi::OsString)],
) -> Result<crate::shape::Shapes, Error> {
    let item = |var: &str| plan.items.iter().find(|i| i.is_var() && i.label() == var);
    let whole = |var: &str| -> Option<bool> {
        match item(var) {
            Some(i) => Some(i.whole_reference().is_some()),
            None => crate::shape::in_env(vars, var).then_some(false),
        }
    };
    let holds = |var: &str| item(var).is_some_and(|i| i.references().next().is_some());
    crate::shape::Shapes::new(
        &args.json_field,
        &args.json_expand,
        &args.optional,
        &whole,
        &holds,
    )
}

/// `check` under the shaping options: an optional row that is not found is
/// marked so (and passes); a resolved row whose JSON option fails takes that
/// failure, as `run` would report it.
pub(crate) fn shape_rows(
    rows: &mut [crate::plan::Row],
    plan: &Plan,
    resolution: &Resolution,
    shapes: &crate::shape::Shapes,
    vars: &[(std::ffi::OsString, std::ffi::OsString)],
    tokens: &[TokenTarget],
) {
    let mut taken = crate::shape::Taken::new(vars, tokens.iter().map(|t| t.var.as_str()));
    for row in rows.iter_mut() {
        let Some(item) = plan
            .items
            .iter()
            .find(|i| i.is_var() && i.label() == row.location)
        else {
            continue;
        };
        let var = item.label();
        let failure = crate::error::Failure {
            status: row.status,
            detail: String::new(),
            hint: None,
        };
        if row.status != Status::Resolved {
            row.optional = shapes.excuses(var, &failure);
            continue;
        }
        let named = item
            .whole_reference()
            .map_or_else(|| var.to_string(), |r| r.to_string());
        let shaped = shapes
            .apply(var, item.render(resolution), &named)
            .and_then(|shaped| match &shaped {
                crate::shape::Shaped::Expanded(members) => {
                    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
                    taken.claim(var, shapes.prefix(var), &names)
                }
                _ => Ok(()),
            });
        if let Err(f) = shaped {
            row.status = f.status;
            row.detail = f.detail;
            row.hint = f.hint;
        }
    }
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
                optional: false,
            }
        })
        .collect()
}
