//! kvenv resolves Azure Key Vault references (`@Microsoft.KeyVault(...)`) in
//! the environment and in template files with the identity the process
//! already has, then replaces itself with the command (`execve`), leaving
//! nothing behind.
//!
//! Data flows one way: arguments → validated settings → plan (references and
//! where they are) → token → secrets → environment and in-memory files → exec.

// `unsafe` is allowed only in `platform` (the C library's `environ` read as
// it stands, a signal set built from its bits, dispositions read with
// `sigaction`, macOS's `ptrace`) and in `secret` (spare capacity wiped);
// everywhere else it is an error.
#![deny(unsafe_code)]

mod appconfig;
mod audience;
mod cert;
mod child;
mod cli;
mod cloud;
mod commands;
mod decode;
mod dns;
mod encode;
mod error;
mod export;
mod files;
mod http;
mod identity;
mod inject;
mod mask;
mod output;
mod plan;
mod platform;
mod reference;
mod report;
mod resolve;
mod secret;
mod shape;
mod sources;
mod template;
mod token;
mod vars;
mod vault;
mod watch;

#[doc(hidden)]
pub mod fuzzing;

use crate::cli::Cli;
use clap::Parser;
use std::ffi::OsString;
use std::io::IsTerminal;

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
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // The one read of kvenv's environment: every entry as it stands, those
    // without `=` too (passed on untouched, as `env(1)` does).
    let environment = platform::raw_environment();
    platform::select_paths(vars::Vars::find(&environment, b"KVENV_TEST_PATHS").as_deref());
    let result = match commands::plain(&args, environment) {
        Ok(failed) => Err(failed),
        Err(environment) => parse_and_run(args, vars::Vars::from_raw(&environment)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            output::lines(&e.to_string());
            e.exit_code()
        }
    }
}

/// Everything but the plain `run` that `commands::run::plain` takes.
fn parse_and_run(args: Vec<OsString>, vars: vars::Vars) -> Result<i32, error::Error> {
    platform::hold_closed_standard_descriptors();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind::*;
            let code = match e.kind() {
                DisplayHelp | DisplayVersion => 0,
                _ => 125,
            };
            let styled = e.render();
            let terminal = match e.use_stderr() {
                true => std::io::stderr().is_terminal(),
                false => std::io::stdout().is_terminal(),
            };
            let text = match terminal {
                true => styled.ansi().to_string(),
                false => styled.to_string(),
            };
            if e.use_stderr() {
                output::write(text.as_bytes());
            } else {
                commands::print(|out| out.write_all(text.as_bytes()))?;
            }
            return Ok(code);
        }
    };
    commands::dispatch(cli.command, vars)
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
                crate::fuzzing::vault_answer(&answer(selector, &body));
            }
        }
    }

    proptest! {
        #[test]
        fn any_vault_answer_reaches_check_clean(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            crate::fuzzing::vault_answer(&data);
        }
    }
}
