//! kvenv's own log lines, started once the settings are known.

use crate::cli::{Common, LogFormat};
use std::io::IsTerminal;

/// Logs on stderr. `-v`: what was resolved and how; `-vv`: one line per HTTP
/// exchange as well; `-vvv`: the crates' own debug lines too. Never values.
pub(super) fn init_logging(common: &Common) {
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
        .with_writer(crate::output::Logs)
        .log_internal_errors(false)
        .with_target(common.verbose > 1);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match common.log_format {
        LogFormat::Text => registry
            .with(layer.with_ansi(std::io::stderr().is_terminal()))
            .try_init(),
        LogFormat::Json => registry.with(layer.json()).try_init(),
    };
}
