//! `kvenv run`: resolve, check what exec will accept, render into the
//! environment and in-memory files, then exec the command.

use super::{prepare, read_templates, resolve, with_texts, Mode};
use crate::cli::{RunArgs, TemplateArg};
use crate::error::Error;
use crate::plan::{self, Key, Plan};
use crate::secret::SecretBytes;
use crate::{environment, exec, memfile, template};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Rendered templates are configuration files; past this they are not.
pub(crate) const TEMPLATE_RENDERED_MAX: usize = 16 << 20;

/// Each `--template` VAR once, and never a variable that holds a reference
/// (the reference would be dropped silently).
fn check_template_vars(
    templates: &[TemplateArg],
    vars: &[(OsString, OsString)],
) -> Result<(), Error> {
    for (i, t) in templates.iter().enumerate() {
        if templates[..i].iter().any(|earlier| earlier.var == t.var) {
            return Err(Error::Usage(format!(
                "--template: {} is given to two templates; each VAR takes one",
                t.var
            )));
        }
        let holds_reference = vars.iter().any(|(name, value)| {
            name.as_bytes() == t.var.as_bytes() && template::mentions_reference(value.as_bytes())
        });
        if holds_reference {
            return Err(Error::Usage(format!(
                "--template {}={}: {} already holds a Key Vault reference; name another variable for the template",
                t.path.display(),
                t.var,
                t.var
            )));
        }
    }
    Ok(())
}

/// `kvenv run`: resolve, then exec. Returns only on failure.
pub(crate) fn run(args: RunArgs) -> Result<(), Error> {
    let settings = prepare(&args.common)?;
    let vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    check_template_vars(&args.template, &vars)?;
    let paths: Vec<&Path> = args.template.iter().map(|t| t.path.as_path()).collect();
    let texts = read_templates(&paths)?;
    let plan = Plan::of(&vars, &with_texts(&paths, &texts), settings.cloud);
    let (resolution, hardening) = resolve(
        &plan,
        &settings,
        Mode::Strict {
            keep_unresolved: args.keep_unresolved,
        },
    )?;

    // Sizes first, from lengths alone: nothing is rendered that exec would refuse.
    let mut lens: Vec<usize> = vars.iter().map(|(_, v)| v.len()).collect();
    let mut extra: Vec<(OsString, Vec<u8>)> = Vec::new();
    for item in &plan.items {
        let len = item.rendered_len(&resolution);
        match item.key {
            Key::Var(i) => lens[i] = len,
            Key::File(_) if len > TEMPLATE_RENDERED_MAX => {
                return Err(Error::Usage(format!(
                    "template {}: with its secrets in place it would be larger than {} MiB",
                    item.label(),
                    TEMPLATE_RENDERED_MAX >> 20
                )))
            }
            // `/dev/fd/N` with the largest N: a bound for the size check.
            Key::File(i) => extra.push((OsString::from(&args.template[i].var), vec![b'x'; 18])),
        }
    }
    environment::check_size(&vars, &lens, &extra, &args.command)?;
    extra.clear();

    let mut rendered: Vec<Option<SecretBytes>> = (0..vars.len()).map(|_| None).collect();
    for item in &plan.items {
        let value = item.render(&resolution);
        match item.key {
            Key::Var(i) => {
                if value.expose().contains(&0) {
                    return Err(Error::Unresolved(vec![format!(
                        "{}: OtherReasons: {}",
                        item.label(),
                        plan::NUL_IN_VARIABLE
                    )]));
                }
                rendered[i] = Some(value);
            }
            Key::File(i) => {
                let t = &args.template[i];
                let fd = memfile::sealed(&t.path.display().to_string(), &value)?;
                extra.push((OsString::from(&t.var), format!("/dev/fd/{fd}").into_bytes()));
            }
        }
    }
    drop(resolution);
    let env = environment::build(&vars, &rendered, &extra);
    drop(rendered);
    Err(exec::exec(&args.command, env, hardening.as_ref()))
}
