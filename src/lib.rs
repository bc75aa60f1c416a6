//! kvenv resolves Azure Key Vault references (`@Microsoft.KeyVault(...)`) in
//! the environment and in template files with the identity the process
//! already has, then replaces itself with the command (`execve`), leaving
//! nothing behind.
//!
//! Data flows one way: arguments → validated settings → plan (references and
//! where they are) → token → secrets → environment and in-memory files → exec.

#![cfg_attr(not(test), forbid(unsafe_code))]
#![cfg_attr(test, deny(unsafe_code))]

mod audience;
mod cli;
mod cloud;
mod dns;
mod environment;
mod error;
mod exec;
mod files;
mod http;
mod identity;
mod memfile;
mod plan;
mod reference;
mod report;
mod resolve;
mod secret;
mod sources;
mod template;
mod vault;

/// Entry points for the fuzz targets in `fuzz/` (not a stable API).
#[doc(hidden)]
pub mod fuzzing {
    use crate::cloud::Cloud;

    /// Scans a text for references and renders it with every reference unresolved.
    pub fn scan(text: &str) {
        if let Ok(t) = crate::template::scan(text, Cloud::Public) {
            let rendered = t.render(|_| None);
            assert_eq!(
                rendered.expose(),
                text.as_bytes(),
                "unresolved text must come back unchanged"
            );
        }
    }

    /// Parses the inside of one `@Microsoft.KeyVault(...)`.
    pub fn reference(body: &str) {
        if let Ok(r) = crate::reference::parse(body, Cloud::Public) {
            assert!(!r.name.is_empty() && r.name.len() <= 127);
            let _ = crate::vault::trust(&r.vault, Cloud::Public, &[]);
        }
    }

    /// Takes a vault's answer (the first byte picks the status and whether a
    /// version was asked for; the rest is the body) through to `check`'s
    /// table and JSON. Nothing a vault sends may panic or reach the output as
    /// a control or direction character.
    pub fn vault_answer(data: &[u8]) {
        use crate::reference::{SecretRef, VaultAddr};
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let secret = SecretRef {
            vault: VaultAddr {
                host: "v.vault.azure.net".into(),
                port: None,
            },
            name: "db".into(),
            version: (selector & 1 == 1).then(|| "0123456789abcdef0123456789abcdef".into()),
        };
        let status = [200u16, 401, 403, 404, 429, 500, 503, 302][(selector as usize >> 1) % 8];
        let (resolved_version, status, detail) =
            match crate::vault::outcome_of_answer(status, body, &secret) {
                Ok(fetched) => (
                    fetched.version,
                    crate::error::Status::Resolved,
                    fetched.warning.unwrap_or_default(),
                ),
                Err(failure) => (None, failure.status, failure.detail),
            };
        let rows = [crate::plan::Row {
            location: "VAR".into(),
            reference: Some(secret),
            resolved_version,
            status,
            detail,
        }];
        for text in [crate::report::table(&rows), crate::report::json(&rows)] {
            let clean = text
                .chars()
                .all(|c| c == '\n' || crate::error::printable(&c.to_string()) == c.to_string());
            assert!(clean, "a control or direction character reached the output");
        }
    }

    /// Parses a dotenv text as `--env-file` does.
    pub fn dotenv(text: &str) {
        let _ = crate::sources::parse_dotenv(std::path::Path::new("fuzz.env"), text);
    }
}

use crate::cli::{
    CheckArgs, Cli, Command, Common, LogFormat, Output, RenderArgs, RunArgs, TemplateArg,
};
use crate::error::Error;
use crate::plan::{Key, Plan};
use crate::resolve::{Resolution, Settings};
use crate::secret::SecretBytes;
use clap::Parser;
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Parses the command line, runs it and returns the process exit code.
/// The only place that prints kvenv's own errors.
pub fn main() -> i32 {
    main_from(std::env::args_os())
}

/// [`main`] with the arguments given (the first is the program name): for a
/// program that embeds kvenv, such as the quickstart.
pub fn main_from<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind::*;
            let code = match e.kind() {
                DisplayHelp | DisplayVersion => 0,
                _ => 125,
            };
            let _ = e.print();
            return code;
        }
    };
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Render(args) => render(args),
        Command::Check(args) => check(args),
        Command::Completions { shell } => print(|out| {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "kvenv",
                out,
            );
            Ok(())
        }),
        Command::Man => {
            print(|out| clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(out))
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("kvenv: {line}");
            }
            e.exit_code()
        }
    }
}

/// Logs on stderr. `-v`: what was resolved and how; `-vv`: one line per HTTP
/// exchange as well; `-vvv`: the crates' own debug lines too. Never values.
fn init_logging(common: &Common) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let quiet = Targets::new().with_default(LevelFilter::WARN);
    let filter = match (common.quiet, common.verbose) {
        (true, _) => Targets::new().with_default(LevelFilter::OFF),
        (false, 0) => quiet,
        (false, 1) => quiet.with_target("kvenv", LevelFilter::INFO),
        (false, 2) => quiet.with_target("kvenv", LevelFilter::DEBUG),
        (false, _) => Targets::new()
            .with_default(LevelFilter::DEBUG)
            .with_target("kvenv", LevelFilter::TRACE)
            .with_target("rustls", LevelFilter::INFO)
            .with_target("h2", LevelFilter::INFO),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(common.verbose > 1);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match common.log_format {
        LogFormat::Text => registry
            .with(layer.with_ansi(std::io::stderr().is_terminal()))
            .try_init(),
        LogFormat::Json => registry.with(layer.json()).try_init(),
    };
}

fn read_templates(paths: &[&Path]) -> Result<Vec<String>, Error> {
    paths.iter().map(|path| sources::template(path)).collect()
}

fn with_texts<'a>(paths: &[&'a Path], texts: &'a [String]) -> Vec<(&'a Path, &'a str)> {
    paths
        .iter()
        .copied()
        .zip(texts.iter().map(String::as_str))
        .collect()
}

/// Writes output (a report, a rendered template, completions, a man page) to stdout.
fn print(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    write(&mut out)
        .and_then(|_| out.flush())
        .map_err(|e| Error::Internal(format!("writing to stdout: {e}")))
}

/// Env files first (they may configure kvenv too), then settings, then logs.
fn prepare(common: &Common) -> Result<Settings, Error> {
    sources::apply_env_files(&common.env_file)?;
    let settings = common.settings(identity::Env::snapshot())?;
    init_logging(common);
    Ok(settings)
}

/// Resolves what the plan refers to, with core dumps off while secrets are in
/// memory. No references: no runtime, no TLS, no credential.
fn resolve(
    plan: &Plan,
    settings: &Settings,
    keep_unresolved: bool,
) -> Result<(Resolution, Option<exec::Hardening>), Error> {
    plan.check_syntax(keep_unresolved)?;
    let refs = plan.refs();
    if refs.is_empty() {
        return Ok((Resolution::default(), None));
    }
    let hardening = exec::Hardening::engage();
    let resolution = resolve::resolve(&refs, settings, !keep_unresolved)?;
    plan.check_resolution(&resolution, keep_unresolved)?;
    Ok((resolution, Some(hardening)))
}

/// Rendered templates are configuration files; past this they are not.
const TEMPLATE_RENDERED_MAX: usize = 16 << 20;

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
fn run(args: RunArgs) -> Result<(), Error> {
    let settings = prepare(&args.common)?;
    let vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    check_template_vars(&args.template, &vars)?;
    let paths: Vec<&Path> = args.template.iter().map(|t| t.path.as_path()).collect();
    let texts = read_templates(&paths)?;
    let plan = Plan::of(&vars, &with_texts(&paths, &texts), settings.cloud);
    let (resolution, hardening) = resolve(&plan, &settings, args.keep_unresolved)?;

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

/// `kvenv check`: every reference with its outcome; exit 1 if any failed.
fn check(args: CheckArgs) -> Result<(), Error> {
    let settings = prepare(&args.common)?;
    let vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let paths: Vec<&Path> = args.template.iter().map(PathBuf::as_path).collect();
    let texts = read_templates(&paths)?;
    let plan = Plan::of(&vars, &with_texts(&paths, &texts), settings.cloud);
    let refs = plan.refs();
    let _hardening = (!refs.is_empty()).then(exec::Hardening::engage);
    let resolution = if refs.is_empty() {
        Resolution::default()
    } else {
        resolve::resolve(&refs, &settings, false)?
    };
    let rows = plan.rows(&resolution);
    drop(resolution);
    let text = match args.output {
        Output::Table if rows.is_empty() => String::new(),
        Output::Table => report::table(&rows),
        Output::Json => report::json(&rows),
    };
    if rows.is_empty() && !args.common.quiet {
        // Not an error (a HEALTHCHECK on an image without references passes),
        // but a header alone would look like a broken report.
        eprintln!("kvenv: no references found");
    }
    print(|out| out.write_all(text.as_bytes()))?;
    if rows.iter().all(|r| r.status == error::Status::Resolved) {
        Ok(())
    } else {
        Err(Error::CheckFailed)
    }
}

/// `kvenv render`: the resolved template to stdout or, atomically, to a file.
fn render(args: RenderArgs) -> Result<(), Error> {
    let settings = prepare(&args.common)?;
    let destination = args.output.as_deref().filter(|p| *p != Path::new("-"));
    if let Some(path) = destination {
        check_destination(path)?;
    }
    let text = sources::template(&args.template)?;
    let plan = Plan::of(&[], &[(&args.template, &text)], settings.cloud);
    let (resolution, _hardening) = resolve(&plan, &settings, args.keep_unresolved)?;
    if plan.items[0].rendered_len(&resolution) > TEMPLATE_RENDERED_MAX {
        return Err(Error::Usage(format!(
            "template {}: with its secrets in place it would be larger than {} MiB",
            args.template.display(),
            TEMPLATE_RENDERED_MAX >> 20
        )));
    }
    let rendered = plan.items[0].render(&resolution);
    drop(resolution);
    match destination {
        None => print(|out| out.write_all(rendered.expose())),
        Some(path) => write_atomically(path, &rendered),
    }
}

/// `-o FILE` replaces FILE only if it is a regular file (or absent): never a
/// device such as `/dev/stdout`, a FIFO, a directory, or a symbolic link,
/// which a rename would replace instead of writing through.
fn check_destination(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::FileTypeExt;
    let shown = path.display();
    let kind = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta.file_type(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::Usage(format!("-o {shown}: cannot be checked: {e}"))),
    };
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a device"
    };
    Err(Error::Usage(format!(
        "-o {shown}: is {what}, not a regular file; refusing to replace it (use -o - for stdout)"
    )))
}

/// Creates FILE with mode 0600 (whatever the umask) through a temporary file
/// in the same folder and a rename, so that FILE is either complete or untouched.
fn write_atomically(path: &Path, content: &SecretBytes) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fail = |e: std::io::Error| Error::Usage(format!("-o {shown}: cannot write: {e}"));
    let mut tmp = tempfile::Builder::new()
        .prefix(".kvenv-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    // fchmod, so the umask plays no part.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(fail)?;
    tmp.write_all(content.expose()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    check_destination(path)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    fn answer(status_selector: u8, body: &str) -> Vec<u8> {
        let mut data = vec![status_selector];
        data.extend_from_slice(body.as_bytes());
        data
    }

    // The cases the fuzz target started from: what a hostile vault sends.
    #[test]
    fn hostile_vault_answers_reach_check_clean() {
        let id = |version: &str| {
            format!(r#"{{"value":"x","id":"https://v.vault.azure.net/secrets/db/{version}"}}"#)
        };
        for body in [
            id(&"f".repeat(70_000)),
            id("\\u001b]0;pwned\\u0007\\u009b31m\\u202e"),
            id("ec96f02080254f109c51a1f14cdb1931\\n"),
            r#"{"value":"x","id":"https://other.vault.azure.net/secrets/db/ec96f02080254f109c51a1f14cdb1931"}"#.into(),
            r#"{"value":"x"}"#.into(),
            r#"{"error":{"code":"Forbidden\u001b[2J","innererror":{"code":"SecretDisabled"}}}"#.into(),
            "not json".into(),
        ] {
            for selector in 0..16 {
                super::fuzzing::vault_answer(&answer(selector, &body));
            }
        }
    }

    proptest! {
        #[test]
        fn any_vault_answer_reaches_check_clean(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            super::fuzzing::vault_answer(&data);
        }
    }
}
