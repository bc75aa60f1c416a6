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
        Command::Render(args) => render::render(args, vars).map(done),
        Command::Export(args) => export::run(args, vars).map(done),
        Command::Inject(args) => inject::run(args).map(done),
        Command::Completions { shell } => completions(shell).map(done),
        Command::Install { dir } => install::install(&dir).map(done),
        Command::Man { command } => man::man(command.as_deref()).map(done),
    }
}

/// A mode that ended well: exit code 0.
fn done((): ()) -> i32 {
    0
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
