//! `kvenv export`: resolve as `run` does (failing closed), then write the
//! variables in a format another tool reads back exactly: by default those
//! whose values held a reference (after the JSON options) and the `--token`
//! ones, or the VARs named, or with `--all` the whole environment the command
//! would get. To stdout, or to `-o FILE` with `render`'s rules. On any
//! failure nothing is written.

use super::render::{check_destination, write_atomically};
use super::shared::{prepare, print, resolve, shapes, Mode, Resolved};
use crate::child::Given;
use crate::cli::ExportArgs;
use crate::error::{At, Error};
use crate::plan::Plan;
use crate::vars::Vars;
use std::ffi::OsString;
use std::path::Path;

pub(crate) fn run(args: ExportArgs, vars: Vars) -> Result<(), Error> {
    let (settings, world) = prepare(&args.common, vars)?;
    let destination = args.output.as_deref().filter(|p| *p != Path::new("-"));
    if let Some(path) = destination {
        check_destination(path)?;
    }
    let vars = world.entries();
    let tokens = crate::token::targets(&args.token.tokens, &args.token.allowed, settings.cloud)?;
    let plan = Plan::of(vars, &[], settings.cloud);
    let shapes = shapes(&args.shapes, &plan, vars)?;
    let Resolved {
        resolution, stale, ..
    } = resolve(
        &plan,
        &tokens,
        &shapes,
        &settings,
        Mode::Strict {
            keep_unresolved: false,
        },
        false,
    )?;
    super::shared::warn_stale(&stale, args.common.quiet);
    let given = Given {
        vars,
        templates: &[],
        tokens: &tokens,
        shapes: &shapes,
        quiet: args.common.quiet,
        path: world.path(),
        odd: world.odd(),
    };
    let all = crate::child::command_vars(&plan, &resolution, &given)?;
    drop(resolution);
    // What held a reference: those variables, what they expanded into, the tokens.
    let original = |name: &OsString| vars.iter().any(|(n, _)| n == name);
    let referenced = |name: &OsString| {
        let shown = name.to_string_lossy();
        plan.items.iter().any(|i| i.is_var() && i.label() == shown)
            || tokens.iter().any(|t| t.var == shown)
            || !original(name)
    };
    let chosen: Vec<(&std::ffi::OsStr, &[u8])> = if args.all {
        all.iter()
            .map(|(n, v)| (n.as_os_str(), v.expose()))
            .collect()
    } else if !args.vars.is_empty() {
        let mut chosen = Vec::new();
        for var in &args.vars {
            let found = all
                .iter()
                .find(|(n, _)| n.as_os_str() == std::ffi::OsStr::new(var));
            match found {
                Some((n, v)) => chosen.push((n.as_os_str(), v.expose())),
                None => {
                    return Err(Error::usage(
                        At::arg("export", crate::error::printable(var)),
                        "not in the environment the command would get",
                    ))
                }
            }
        }
        chosen
    } else {
        all.iter()
            .filter(|(n, _)| referenced(n))
            .map(|(n, v)| (n.as_os_str(), v.expose()))
            .collect()
    };
    // A --cert or --file part that is not text (a pfx, a keystore) has no
    // place in a text format, whatever the format could carry.
    for (name, value) in &chosen {
        let shown = name.to_string_lossy();
        if shapes.makes_file(&shown) && (value.contains(&0) || std::str::from_utf8(value).is_err())
        {
            return Err(Error::usage(
                At::arg("export", crate::error::printable(&shown)),
                "its --cert or --file content is binary, and export writes text; nothing was written (use run, which hands it over as a file)",
            ));
        }
    }
    let text = crate::export::encode(args.format, &chosen).map_err(|u| {
        Error::usage(
            At::arg("export", crate::error::printable(&u.var)),
            format!(
                "cannot be written as {}: {}; nothing was written",
                args.format.name(),
                u.why
            ),
        )
    })?;
    match destination {
        None => print(|out| out.write_all(text.expose())),
        Some(path) => write_atomically(path, &text),
    }
}
