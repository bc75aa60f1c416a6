//! `kvenv man [COMMAND]`.

use super::shared::print;
use crate::error::{At, Error};

/// `kvenv man [COMMAND]`: kvenv(1), or `kvenv-COMMAND(1)` with all of its
/// options; every page names the others under SEE ALSO.
pub(crate) fn man(command: Option<&str>) -> Result<(), Error> {
    let mut top = <crate::cli::Cli as clap::CommandFactory>::command();
    top.build();
    let names: Vec<String> = top
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect();
    let page = match command {
        None => top.clone(),
        Some(name) => top
            .find_subcommand(name)
            .filter(|_| name != "help")
            .cloned()
            .map(|c| {
                let full = format!("kvenv-{name}");
                c.bin_name(format!("kvenv {name}")).display_name(full)
            })
            .ok_or_else(|| {
                Error::usage(
                    At::arg("man", crate::error::printable(name)),
                    format!("not a command; one of {}", names.join(", ")),
                )
            })?,
    };
    let see_also: Vec<String> = std::iter::once("kvenv(1)".to_string())
        .chain(names.iter().map(|n| format!("kvenv-{n}(1)")))
        .filter(|p| Some(p.as_str()) != command.map(|c| format!("kvenv-{c}(1)")).as_deref())
        .filter(|p| command.is_some() || p != "kvenv(1)")
        .collect();
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut roff)
        .map_err(|e| Error::internal("writing the man page", e))?;
    roff.extend_from_slice(format!(".SH \"SEE ALSO\"\n{}\n", see_also.join(", ")).as_bytes());
    print(|out| out.write_all(&roff))
}
