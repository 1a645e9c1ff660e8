//! The log of `fleetsim serve`: `tracing` events of the server (target `fleetsim::request`,
//! one per request; `fleetsim::job`, the job lifecycle) written to stderr as text or JSON lines.

use std::io::IsTerminal;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`).
    Json,
}

/// Installs the subscriber: `filter` (a level or `RUST_LOG` directives), else `RUST_LOG`, else
/// `info`. A filter that does not parse is an error that names it.
pub(crate) fn init(format: LogFormat, filter: Option<&str>) -> anyhow::Result<()> {
    let filter = match filter {
        Some(f) => EnvFilter::try_new(f).with_context(|| format!("--log-level {f:?}"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    // Colour only on a terminal, and never with NO_COLOR set (https://no-color.org).
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.with_target(true).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the log: {e}"))
}
