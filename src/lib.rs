//! kvenv resolves Azure Key Vault references (`@Microsoft.KeyVault(...)`) in
//! the environment with the identity the process already has, then replaces
//! itself with the command (`execvpe`), leaving nothing behind.
//!
//! Data flows one way: arguments → validated settings → references →
//! token → secrets → environment → exec.

#![deny(unsafe_code)]

mod cli;
mod cloud;
mod error;
#[allow(unsafe_code)]
mod exec;
mod http;
mod identity;
mod reference;
mod resolve;
mod secret;
mod template;
mod vault;

use crate::cli::{Cli, Command, Common, LogFormat, RunArgs};
use crate::error::{printable, Error};
use crate::secret::SecretBytes;
use clap::Parser;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;

/// Parses the command line, runs it and returns the process exit code.
/// The only place that prints kvenv's own errors.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
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

fn init_logging(common: &Common) {
    let filter = match (common.quiet, common.verbose) {
        (true, _) => "off",
        (false, 0) => "warn",
        (false, 1) => "warn,kvenv=info",
        (false, 2) => "info,kvenv=debug,azure_core=debug,typespec_client_core=debug,azure_identity=debug",
        (false, _) => "debug,kvenv=trace,azure_core=trace,typespec_client_core=trace,azure_identity=trace,rustls=info,h2=info",
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(common.verbose > 1);
    let _ = match common.log_format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// `kvenv run`: resolve, then exec. Returns only on failure.
fn run(args: RunArgs) -> Result<(), Error> {
    let settings = args.common.settings()?;
    init_logging(&args.common);

    let vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let mut templated = Vec::new();
    let mut problems = Vec::new();
    for (i, (name, value)) in vars.iter().enumerate() {
        let shown = printable(&name.to_string_lossy());
        match value.to_str() {
            Some(text) => match template::scan(text, settings.cloud) {
                Ok(t) if t.has_refs() => templated.push((i, t)),
                Ok(_) => {}
                Err(e) => problems.push(format!(
                    "{shown}: {}: {}",
                    error::Status::InvalidSyntax,
                    e.error
                )),
            },
            None if template::mentions_reference(value.as_bytes()) => problems.push(format!(
                "{shown}: {}: the value is not valid UTF-8",
                error::Status::InvalidSyntax
            )),
            None => {}
        }
    }
    if !problems.is_empty() {
        if !args.keep_unresolved {
            return Err(Error::Unresolved(problems));
        }
        for p in &problems {
            tracing::warn!("kept literally: {p}");
        }
    }
    if templated.is_empty() {
        // Fast path: nothing to resolve, so no runtime, no TLS, no credential.
        let env = vars
            .iter()
            .map(|(n, v)| exec::env_entry(n, v.as_bytes()))
            .collect();
        return Err(exec::exec(&args.command, env, None));
    }

    let hardening = exec::Hardening::engage();
    let refs: BTreeSet<_> = templated
        .iter()
        .flat_map(|(_, t)| t.refs().cloned())
        .collect();
    let resolution = resolve::resolve(&refs, &settings)?;

    let mut failures = Vec::new();
    for (i, t) in &templated {
        let shown = printable(&vars[*i].0.to_string_lossy());
        let mut seen = BTreeSet::new();
        for r in t.refs() {
            if let Some(f) = resolution.failures.get(r) {
                if seen.insert(r) {
                    failures.push(format!("{shown}: {f}"));
                }
            }
        }
    }
    if !failures.is_empty() {
        if !args.keep_unresolved {
            return Err(Error::Unresolved(failures));
        }
        for f in &failures {
            tracing::warn!("kept literally: {f}");
        }
    }

    let mut rendered: Vec<Option<SecretBytes>> = (0..vars.len()).map(|_| None).collect();
    for (i, t) in &templated {
        let value = t.render(|r| resolution.values.get(r).map(|f| &f.value));
        if value.expose().contains(&0) {
            let shown = printable(&vars[*i].0.to_string_lossy());
            return Err(Error::Unresolved(vec![format!(
                "{shown}: OtherReasons: a secret in it contains a NUL byte, which an environment variable cannot hold; use a template file instead"
            )]));
        }
        rendered[*i] = Some(value);
    }
    drop(resolution);
    let env = vars
        .iter()
        .zip(&rendered)
        .map(|((name, value), rendered)| match rendered {
            Some(r) => exec::env_entry(name, r.expose()),
            None => exec::env_entry(name, value.as_bytes()),
        })
        .collect();
    drop(rendered);
    Err(exec::exec(&args.command, env, Some(&hardening)))
}
