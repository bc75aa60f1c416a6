//! What the command is given: its variables (rendered, shaped, with the
//! `--token`s) and its templates' in-memory files, put together for exec or
//! for the supervised start under `--watch`.

pub(crate) mod environment;
mod masked;

use crate::error::{At, Error};
use crate::plan::{Key, Plan};
use crate::secret::SecretBytes;
use crate::token::TokenTarget;
pub(crate) use masked::mask_values;
use std::ffi::OsString;

/// Rendered templates are configuration files; past this they are not.
pub(crate) const TEMPLATE_RENDERED_MAX: usize = 16 << 20;

/// A template that would be larger than [`TEMPLATE_RENDERED_MAX`] rendered.
pub(crate) fn too_large(template: &str) -> Error {
    Error::usage(
        At::file("template", template),
        format!(
            "with its secrets in place it would be larger than {} MiB",
            TEMPLATE_RENDERED_MAX >> 20
        ),
    )
}

/// A template the command gets as an in-memory file (`--template TEMPLATE=VAR`):
/// its path, and the variable that names the file.
#[derive(Clone, Debug)]
pub(crate) struct TemplateArg {
    pub path: std::path::PathBuf,
    pub var: String,
}

/// Which in-memory file: a template's (its index) or a `--cert`/`--file`
/// variable's (its name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FileKey {
    Template(usize),
    Var(String),
}

/// An in-memory file kvenv keeps, to rewrite it in place.
pub(crate) type KeptFile = (FileKey, crate::platform::KeptFile);

/// How template files are handed to the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Files {
    /// Sealed and left to the command (`run`).
    Sealed,
    /// Kept by kvenv, writable, to be replaced in place (`run --watch`).
    Shared,
}

/// What the command is given besides the plan and the values: the
/// environment, the templates, the `--token`s and the shaping options.
pub(crate) struct Given<'a> {
    pub vars: &'a [(OsString, OsString)],
    pub templates: &'a [TemplateArg],
    pub tokens: &'a [TokenTarget],
    pub shapes: &'a crate::shape::Shapes,
    /// `-q`: no warning for an optional reference that is not there.
    pub quiet: bool,
    /// Where the command is searched (kvenv's `PATH`).
    pub path: &'a std::ffi::OsStr,
    /// kvenv's environment entries without a name, passed on untouched.
    pub odd: &'a [OsString],
}

/// The command's variables and the warnings for optional references that
/// were not there (see `environment::command_vars`).
pub(crate) fn variables(
    plan: &Plan,
    resolution: &crate::resolve::Resolution,
    given: &Given,
) -> Result<(environment::Vars, Vec<String>), Error> {
    let templates: Vec<&str> = given.templates.iter().map(|t| t.var.as_str()).collect();
    environment::command_vars(&environment::Sources {
        plan,
        resolution,
        vars: given.vars,
        tokens: given.tokens,
        templates: &templates,
        shapes: given.shapes,
    })
}

/// The command's variables (see `environment::command_vars`), with the
/// warnings for optional references printed.
pub(crate) fn command_vars(
    plan: &Plan,
    resolution: &crate::resolve::Resolution,
    given: &Given,
) -> Result<Vec<(OsString, SecretBytes)>, Error> {
    let (vars, warnings) = variables(plan, resolution, given)?;
    if !given.quiet {
        for line in warnings {
            crate::output::lines(&line);
        }
    }
    Ok(vars)
}

/// The command's environment, with every reference rendered, and the
/// in-memory files of the templates and the `--cert`/`--file` variables
/// (empty for sealed files, which belong to the command).
pub(crate) fn materialize(
    plan: &Plan,
    resolution: &crate::resolve::Resolution,
    given: &Given,
    files: Files,
) -> Result<(Vec<SecretBytes>, Vec<KeptFile>), Error> {
    let vars = command_vars(plan, resolution, given)?;
    let mut extra: Vec<(OsString, Vec<u8>)> = Vec::new();
    let mut kept = Vec::new();
    let mut deliver = |key: FileKey, name: &str, var: &str, value: &SecretBytes| {
        let fd = match files {
            Files::Sealed => crate::platform::left_to_command(name, value)?,
            Files::Shared => {
                let file = crate::platform::kept(name, value)?;
                let number = file.number();
                kept.push((key, file));
                number
            }
        };
        extra.push((OsString::from(var), format!("/dev/fd/{fd}").into_bytes()));
        Ok::<(), Error>(())
    };
    for item in &plan.items {
        let Key::File(i) = item.key else { continue };
        let t = &given.templates[i];
        let name = t.path.display().to_string();
        deliver(
            FileKey::Template(i),
            &name,
            &t.var,
            &item.render(resolution),
        )?;
    }
    for (name, value) in &vars {
        let var = name.to_string_lossy();
        if given.shapes.makes_file(&var) {
            deliver(FileKey::Var(var.to_string()), &var, &var, value)?;
        }
    }
    let odd: Vec<SecretBytes> = given
        .odd
        .iter()
        .map(|e| {
            let mut entry = SecretBytes::with_capacity(e.len() + 1);
            entry.push(e.as_encoded_bytes());
            entry.push(b"\0");
            entry
        })
        .collect();
    Ok((environment::build(&vars, &extra, &odd), kept))
}
