//! One function per mode, each over its validated arguments: `run`,
//! `check`, `render`, `export` and `inject` resolve or rewrite; the rest
//! (`completions`, `install`, `man`) only print or copy. What the resolving
//! modes share is in `shared`.

mod check;
mod export;
mod inject;
mod install;
mod logging;
mod man;
mod masking;
mod render;
mod rows;
mod run;
mod shared;

pub(crate) use run::plain;
pub(crate) use shared::print;

use crate::cli::Command;
use crate::error::Error;
use crate::vars::Vars;

/// Runs the mode `command` names; the process exit code, or kvenv's failure.
pub(crate) fn dispatch(command: Command, vars: Vars) -> Result<i32, Error> {
    match command {
        Command::Run(args) => run::run(args, vars),
        Command::Check(args) => check::check(args, vars),
        // The rest print or copy: done is exit code 0.
        Command::Render(args) => render::render(args, vars).map(|()| 0),
        Command::Export(args) => export::run(args, vars).map(|()| 0),
        Command::Inject(args) => inject::run(args).map(|()| 0),
        Command::Completions { shell } => completions(shell).map(|()| 0),
        Command::Install { dir } => install::install(&dir).map(|()| 0),
        Command::Man { command } => man::man(command.as_deref()).map(|()| 0),
    }
}

/// `kvenv completions SHELL`. clap_complete panics when its writer fails (a
/// full disk, a closed pipe): it writes into memory, kvenv writes that out.
fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut script = Vec::new();
    clap_complete::generate(
        shell,
        &mut <crate::cli::Cli as clap::CommandFactory>::command(),
        "kvenv",
        &mut script,
    );
    print(|out| out.write_all(&script))
}
