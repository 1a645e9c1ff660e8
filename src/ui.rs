//! The habits every subcommand shares: `-q/--quiet`, `-v/--verbose` and `--color`
//! (docs/cli.md). Set once from the global flags, read wherever something is printed.

use std::io::IsTerminal;
use std::sync::OnceLock;

use anstyle::{AnsiColor, Style};

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set to a non-empty value or `TERM` is `dumb`.
    #[default]
    Auto,
    /// Always (even when `NO_COLOR` is set: the flag is the more specific wish).
    Always,
    /// Never.
    Never,
}

/// The settings of this process's output.
#[derive(Debug, Clone, Copy)]
struct Ui {
    quiet: bool,
    verbose: u8,
    color: ColorChoice,
}

static UI: OnceLock<Ui> = OnceLock::new();

/// Sets the output settings (the first call wins; tests of the binary run it once).
pub(crate) fn init(quiet: bool, verbose: u8, color: ColorChoice) {
    let _ = UI.set(Ui {
        quiet,
        verbose,
        color,
    });
    // indicatif draws through `console`: the same choice for its bar.
    let on = colored(Stream::Stderr);
    console::set_colors_enabled_stderr(on);
    console::set_colors_enabled(colored(Stream::Stdout));
}

fn ui() -> Ui {
    UI.get().copied().unwrap_or(Ui {
        quiet: false,
        verbose: 0,
        color: ColorChoice::Auto,
    })
}

/// `--quiet`: no progress bar, no warnings or notes; errors and the report only.
pub(crate) fn quiet() -> bool {
    ui().quiet
}

/// How many times `-v` was given (0 when `--quiet`).
pub(crate) fn verbosity() -> u8 {
    let u = ui();
    if u.quiet {
        0
    } else {
        u.verbose
    }
}

/// The two streams a choice applies to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// Whether text written to `stream` is coloured.
pub(crate) fn colored(stream: Stream) -> bool {
    match ui().color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let terminal = match stream {
                Stream::Stdout => std::io::stdout().is_terminal(),
                Stream::Stderr => std::io::stderr().is_terminal(),
            };
            terminal && no_color_unset() && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

/// `NO_COLOR` unset or empty (https://no-color.org: "when present and not an empty string").
fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `text` in `style` when `stream` is coloured.
pub(crate) fn paint(stream: Stream, style: Style, text: &str) -> String {
    if colored(stream) {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// Red, bold: errors and failed expectations.
pub(crate) const BAD: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));
/// Yellow: warnings.
pub(crate) const WARN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
/// Green: what held.
pub(crate) const GOOD: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));

/// Prints `warning: message` on stderr, unless `--quiet`.
pub(crate) fn warn(message: impl std::fmt::Display) {
    if !quiet() {
        eprintln!("{} {message}", paint(Stream::Stderr, WARN, "warning:"));
    }
}

/// Prints a note on stderr with `-v` given at least `level` times (level 0: unless
/// `--quiet`).
pub(crate) fn note(level: u8, message: impl std::fmt::Display) {
    if !quiet() && verbosity() >= level {
        eprintln!("{message}");
    }
}

/// Prints `error: message` on stderr (always).
pub(crate) fn error(message: impl std::fmt::Display) {
    eprintln!("{} {message}", paint(Stream::Stderr, BAD, "error:"));
}

/// Colours a text report's expectation marks (`ok`, `FAIL`) for `stream`.
pub(crate) fn paint_report(text: &str, stream: Stream) -> String {
    if !colored(stream) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("  ok   ") {
            out.push_str(&format!("  {} {rest}", paint(stream, GOOD, "ok  ")));
        } else if let Some(rest) = line.strip_prefix("  FAIL ") {
            out.push_str(&format!("  {} {rest}", paint(stream, BAD, "FAIL")));
        } else {
            out.push_str(line);
        }
    }
    out
}
