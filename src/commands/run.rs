//! `kvenv run`: resolve, check what exec will accept, render into the
//! environment and in-memory files, then exec the command.

use super::shared::{
    prepare, read_templates, resolve, shapes, warn_stale, with_texts, Mode, Resolved,
};
use crate::child::environment;
use crate::child::{materialize, Files, Given};
use crate::cli::{RunArgs, TemplateArg};
use crate::error::{At, Error};
use crate::plan::{Key, Plan};
use crate::reference::Reference;
use crate::secret::SecretBytes;
use crate::template;
use crate::token::TokenTarget;
use crate::vars::Vars;
use std::ffi::OsString;
use std::path::Path;

/// Whether the variable `var` is set to a text that holds a reference: an
/// option that would set it (a template, a token) would drop the reference.
fn holds_reference(vars: &[(OsString, OsString)], var: &str) -> bool {
    vars.iter().any(|(name, value)| {
        name.as_encoded_bytes() == var.as_bytes()
            && template::mentions_reference(value.as_encoded_bytes())
    })
}

/// Each `--template` VAR once, and never a variable that holds a reference
/// (the reference would be dropped silently).
fn check_template_vars(
    templates: &[TemplateArg],
    vars: &[(OsString, OsString)],
) -> Result<(), Error> {
    for (i, t) in templates.iter().enumerate() {
        if templates[..i].iter().any(|earlier| earlier.var == t.var) {
            return Err(Error::usage(
                At::Arg("--template", None),
                format!("{} is given to two templates; each VAR takes one", t.var),
            ));
        }
        if holds_reference(vars, &t.var) {
            return Err(Error::usage(
                At::arg("--template", format!("{}={}", t.path.display(), t.var)),
                format!(
                    "{} already holds a Key Vault reference; name another variable for the template",
                    t.var
                ),
            ));
        }
    }
    Ok(())
}

/// The entrypoint form `kvenv run [--] COMMAND...` with nothing to resolve: no
/// option, no `KVENV_*` variable (options may come from those) and no
/// reference text anywhere in the environment. Exactly what [`run`] would do
/// then (exec the command with the environment unchanged), without parsing
/// options, reading settings or starting logs, so that kvenv in front of a
/// container that needs no secret costs about what `env` does. `None` when
/// the arguments or the environment ask for more (the environment comes
/// back); otherwise only returns if exec failed. `env`: every entry of kvenv's
/// environment as it stands, those without `=` too (as `env(1)`).
pub(crate) fn plain(args: &[OsString], env: Vec<SecretBytes>) -> Result<Error, Vec<SecretBytes>> {
    let command = match args.get(1..) {
        Some([run, dashes, command @ ..]) if run == "run" && dashes == "--" => command,
        Some([run, command @ ..]) if run == "run" => command,
        _ => return Err(env),
    };
    if command
        .first()
        .is_none_or(|c| c.as_encoded_bytes().starts_with(b"-"))
    {
        return Err(env);
    }
    let asks_more = |entry: &SecretBytes| {
        entry.expose().starts_with(b"KVENV_")
            || template::mentions_reference(entry.expose())
            || template::near_miss(entry.expose())
    };
    if env.iter().any(asks_more) {
        return Err(env);
    }
    let path = env
        .iter()
        .find_map(|e| e.expose().strip_prefix(b"PATH="))
        .map(|value| crate::platform::os_string(value.strip_suffix(b"\0").unwrap_or(value)));
    let path = path.unwrap_or_else(|| crate::vars::Vars::default().path().to_owned());
    Ok(crate::platform::exec(command, env, &path, None))
}

/// `kvenv run`: resolve, then exec; returns only on failure, or under
/// `--watch` with the command's exit status.
pub(crate) fn run(args: RunArgs, vars: Vars) -> Result<i32, Error> {
    let (settings, world) = prepare(&args.common, vars)?;
    let vars = world.entries();
    check_template_vars(&args.template, vars)?;
    let tokens = crate::token::targets(&args.token.tokens, &args.token.allowed, settings.cloud)?;
    check_token_vars(&tokens, &args.template, vars)?;
    if args.mask.is_some() && !crate::platform::MASK_SUPPORTED {
        return Err(Error::usage(
            At::Arg("--mask", None),
            "is not available on Windows: kvenv would need a pseudo console to mask the command's output and keep its terminal",
        ));
    }
    // Which option asks for an in-memory file, if any does.
    let file_flag = [
        ("--template", !args.template.is_empty()),
        ("--cert", !args.shapes.cert.is_empty()),
        ("--file", !args.shapes.file.is_empty()),
    ]
    .into_iter()
    .find_map(|(flag, given)| given.then_some(flag));
    if let Some(flag) = file_flag.filter(|_| !crate::platform::templates_supported()) {
        return Err(Error::usage(
            At::Arg(flag, None),
            "in-memory files are not available on Windows: kvenv has no such file to give the command there, and never writes a secret to disk",
        ));
    }
    if let Some(flag) = file_flag.filter(|_| {
        args.watch
            && matches!(args.on_change, crate::watch::options::OnChange::Signal(_))
            && !crate::platform::replaceable()
    }) {
        return Err(Error::usage(
            At::Arg("--on-change", None),
            format!("signal:NAME cannot rewrite a {flag} file here: in-memory files are delivered through a pipe, read once; use --on-change restart"),
        ));
    }
    let paths: Vec<&Path> = args.template.iter().map(|t| t.path.as_path()).collect();
    let texts = read_templates(&paths)?;
    let plan = Plan::of(vars, &with_texts(&paths, &texts), settings.cloud);
    let shapes = shapes(&args.shapes, &plan, vars)?;
    // Under --watch, one network thread and session serve the first round
    // and every refresh.
    let Resolved {
        resolution,
        hardening,
        network,
        stale,
    } = resolve(
        &plan,
        &tokens,
        &shapes,
        &settings,
        Mode::Strict {
            keep_unresolved: args.keep_unresolved,
        },
        args.watch,
    )?;

    warn_stale(&stale, args.common.quiet);
    check_sizes(&plan, &resolution, vars, &args, &tokens)?;
    let given = Given {
        vars,
        templates: &args.template,
        tokens: &tokens,
        shapes: &shapes,
        quiet: args.common.quiet,
        path: world.path(),
        odd: world.odd(),
    };
    if args.watch || args.mask.is_some() {
        let options = crate::watch::options::Options {
            command: args.command.clone(),
            refresh_interval: args.refresh_interval,
            on_change: args.on_change,
            stop_signal: args.stop_signal,
            stop_timeout: args.stop_timeout,
            quiet: args.common.quiet,
            refresh: args.watch,
        };
        let masked = args
            .mask
            .map(|mode| super::masking::prepare(mode, &plan, &resolution, &given))
            .transpose()?;
        let watched = crate::watch::Watched {
            options: &options,
            plan: &plan,
            given: &given,
        };
        return crate::watch::supervise(watched, resolution, hardening, network, masked);
    }
    let (env, _files) = materialize(&plan, &resolution, &given, Files::Sealed)?;
    drop(resolution);
    Err(crate::platform::exec(
        &args.command,
        env,
        world.path(),
        hardening.as_ref(),
    ))
}

/// Each `--token` VAR once (checked by `token::targets`), never a template's
/// VAR, never a variable that holds a reference.
fn check_token_vars(
    tokens: &[TokenTarget],
    templates: &[TemplateArg],
    vars: &[(OsString, OsString)],
) -> Result<(), Error> {
    for t in tokens {
        if templates.iter().any(|tpl| tpl.var == t.var) {
            return Err(Error::usage(
                At::arg("--token", &t.var),
                format!(
                    "{} is also a --template's VAR; each variable takes one",
                    t.var
                ),
            ));
        }
        if holds_reference(vars, &t.var) {
            return Err(Error::usage(
                At::arg("--token", &t.var),
                format!(
                    "{} already holds a Key Vault reference; name another variable for the token",
                    t.var
                ),
            ));
        }
    }
    Ok(())
}

/// Sizes first, from lengths alone: nothing is rendered that exec would refuse.
pub(crate) fn check_sizes(
    plan: &Plan,
    resolution: &crate::resolve::Resolution,
    vars: &[(OsString, OsString)],
    args: &RunArgs,
    tokens: &[TokenTarget],
) -> Result<(), Error> {
    let mut lens: Vec<usize> = vars.iter().map(|(_, v)| v.len()).collect();
    let mut extra: Vec<(OsString, Vec<u8>)> = Vec::new();
    for t in tokens {
        let len = resolution
            .values
            .get(&Reference::Token(t.token.clone()))
            .map_or(0, |f| f.value.len());
        extra.push((OsString::from(&t.var), vec![b'x'; len]));
    }
    let makes_file = |var: &str| {
        let s = &args.shapes;
        s.cert.iter().any(|(v, _)| v == var) || s.file.iter().any(|(v, _)| v == var)
    };
    for item in &plan.items {
        let len = item.rendered_len(resolution);
        match item.key {
            // `/dev/fd/N` with the largest N, as for a template.
            Key::Var(i) if makes_file(item.label()) => lens[i] = 18,
            Key::Var(i) => lens[i] = len,
            Key::File(_) if len > crate::child::TEMPLATE_RENDERED_MAX => {
                return Err(crate::child::too_large(item.label()))
            }
            // `/dev/fd/N` with the largest N: a bound for the size check.
            Key::File(i) => extra.push((OsString::from(&args.template[i].var), vec![b'x'; 18])),
        }
    }
    environment::check_size(vars, &lens, &extra, &args.command)
}
