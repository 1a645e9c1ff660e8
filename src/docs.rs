//! What the command line says about itself: shell completions and the manual page, both
//! generated from the clap definitions in `cli.rs`, so that they never disagree with `--help`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Args;

/// Writes the completion script for `shell` on stdout.
pub(crate) fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut command = Args::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "fleetsim", &mut out);
    out.flush().context("cannot write the completion script")?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the manual page (roff, section 1) on stdout, with one section per subcommand.
pub(crate) fn man() -> anyhow::Result<ExitCode> {
    let command = Args::command();
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(command.clone())
        .render(&mut out)
        .context("cannot write the manual page")?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("fleetsim-{}", sub.get_name());
        let page = clap_mangen::Man::new(sub.clone().name(name));
        page.render_title(&mut out)
            .and_then(|()| page.render_name_section(&mut out))
            .and_then(|()| page.render_synopsis_section(&mut out))
            .and_then(|()| page.render_description_section(&mut out))
            .and_then(|()| page.render_options_section(&mut out))
            .context("cannot write the manual page")?;
    }
    out.flush().context("cannot write the manual page")?;
    Ok(ExitCode::SUCCESS)
}
