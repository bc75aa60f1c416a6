//! The path `run`, `check`, `render` and `export` share: env files,
//! settings and logs; templates read; the shaping options checked; then
//! resolution with core dumps off (none of it when there is nothing to
//! resolve).

use crate::cli::Common;
use crate::error::{Error, Unresolved};
use crate::plan::Plan;
use crate::reference::Reference;
use crate::resolve::{Resolution, Settings};
use crate::token::TokenTarget;
use crate::vars::Vars;
use crate::{identity, resolve, sources};
use std::io::Write;
use std::path::Path;

/// The templates' texts, in order.
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

/// Env files first (they may configure kvenv too), then settings, then logs.
pub(crate) fn prepare(common: &Common, vars: Vars) -> Result<(Settings, Vars), Error> {
    let vars = sources::apply_env_files(&common.env_file, vars)?;
    let settings = common.settings(identity::Snapshot::of(&vars));
    super::logging::init_logging(common);
    if !common.quiet {
        for (name, value) in vars.entries() {
            if crate::template::near_miss(value.as_encoded_bytes()) {
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

/// What resolution gives a command.
#[derive(Default)]
pub(crate) struct Resolved {
    pub resolution: Resolution,
    /// Core dumps off while secrets are in memory; none when nothing was fetched.
    pub hardening: Option<crate::platform::Hardening>,
    /// The network thread and session, kept for later rounds (`--watch`).
    pub network: Option<crate::watch::Network>,
    /// One line for each secret the vault served out of its validity (its
    /// `exp` passed, its `nbf` ahead), without `--fail-expired`.
    pub stale: Vec<String>,
}

/// Prints the lines about secrets out of their validity (unless `quiet`).
pub(crate) fn warn_stale(stale: &[String], quiet: bool) {
    if !quiet {
        stale.iter().for_each(|line| crate::output::lines(line));
    }
}

/// Secrets the vault served although their `exp` has passed or their `nbf`
/// is ahead (Key Vault serves them with 200): with `--fail-expired` each
/// becomes its reference's failure; otherwise one warning line each,
/// naming the variables or templates that use it.
fn judge_validity(plan: &Plan, resolution: &mut Resolution, fail: bool) -> Vec<String> {
    let now = crate::shape::now();
    let mut stale: Vec<(Reference, crate::error::Status, String)> = resolution
        .values
        .iter()
        .filter_map(|(r, f)| f.meta.invalid_at(now).map(|(s, why)| (r.clone(), s, why)))
        .collect();
    stale.sort_by(|a, b| a.0.cmp(&b.0));
    let mut lines = Vec::new();
    for (r, status, why) in stale {
        // Who uses it: a reference to it, or a key-value that refers to it.
        let uses = |x: &Reference| match (x, &r) {
            (Reference::Config(c), Reference::Secret(s)) => resolution.links.get(c) == Some(s),
            _ => x == &r,
        };
        let users: Vec<&str> = plan
            .items
            .iter()
            .filter(|i| i.references().any(uses))
            .map(|i| i.label())
            .collect();
        if fail {
            resolution.values.remove(&r);
            let failure = crate::error::Failure::new(
                status,
                format!(
                    "secret {r} {why}; the vault still serves it, and --fail-expired refuses it"
                ),
            )
            .hint("set a new version (or new dates) in the vault, or drop --fail-expired");
            resolution.failures.insert(r, failure);
        } else {
            lines.push(format!("{}: secret {r} {why}; the vault still serves it (--fail-expired makes this a failure)", users.join(", ")));
        }
    }
    lines
}

/// Resolves what the plan refers to, with core dumps off while secrets are in
/// memory. No references: no runtime, no TLS, no credential, no hardening.
/// With `keep_network` (`--watch`), the network thread that fetched stays
/// for later rounds.
pub(crate) fn resolve(
    plan: &Plan,
    tokens: &[TokenTarget],
    shapes: &crate::shape::Shapes,
    settings: &Settings,
    mode: Mode,
    keep_network: bool,
) -> Result<Resolved, Error> {
    if let Mode::Strict { keep_unresolved } = mode {
        plan.check_syntax(keep_unresolved)?;
    }
    let mut refs = plan.refs();
    refs.extend(tokens.iter().map(|t| Reference::Token(t.token.clone())));
    if refs.is_empty() {
        return Ok(Resolved::default());
    }
    let hardening = crate::platform::Hardening::engage();
    let all_or_nothing = mode
        == Mode::Strict {
            keep_unresolved: false,
        };
    let (mut resolution, network) = if keep_network {
        let network = crate::watch::Network::start(settings.clone())?;
        (network.first(&refs, all_or_nothing), Some(network))
    } else {
        (resolve::resolve(&refs, settings, all_or_nothing)?, None)
    };
    let stale = judge_validity(plan, &mut resolution, shapes.fail_expired());
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
    Ok(Resolved {
        resolution,
        hardening: Some(hardening),
        network,
        stale,
    })
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
    let wanted = crate::shape::Wanted {
        fields: &args.json_field,
        expands: &args.json_expand,
        optional: &args.optional,
        certs: &args.cert,
        files: &args.file,
        fail_expired: args.fail_expired,
    };
    crate::shape::Shapes::new(wanted, &whole, &holds)
}
