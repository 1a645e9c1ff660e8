//! Reading a scenario: from a file, or from standard input when the path is `-`
//! (`--input-format toml|json`; docs/cli.md).

use std::io::Read;
use std::path::{Path, PathBuf};

use fleet_scenario::{Format, Scenario};

/// The scenario's format, overriding the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum InputFormat {
    /// TOML.
    Toml,
    /// JSON, with the same schema.
    Json,
}

impl From<InputFormat> for Format {
    fn from(f: InputFormat) -> Self {
        match f {
            InputFormat::Toml => Format::Toml,
            InputFormat::Json => Format::Json,
        }
    }
}

/// The name errors and reports give a scenario read from standard input.
pub(crate) const STDIN_NAME: &str = "<stdin>";

/// Loads the scenario at `path` (`-`: standard input). `format` overrides the extension; for
/// standard input without it, the text tells: JSON when it starts with `{`, else TOML (a TOML
/// document cannot start with `{`). A fleet file the scenario names is relative to the
/// scenario's directory, or to the current directory for standard input.
pub(crate) fn load(path: &Path, format: Option<InputFormat>) -> anyhow::Result<Scenario> {
    if path != Path::new("-") {
        let Some(format) = format else {
            return Ok(Scenario::load(path)?);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            fleet_scenario::Error::new(fleet_scenario::ErrorKind::Io(e)).with_file(path)
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut scenario =
            Scenario::from_str_in(&text, format.into(), dir).map_err(|e| e.with_file(path))?;
        scenario.path = Some(path.to_path_buf());
        return Ok(scenario);
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| {
        anyhow::anyhow!("{STDIN_NAME}: cannot read the scenario from standard input: {e}")
    })?;
    let format = format.map_or_else(|| sniff(&text), Format::from);
    let mut scenario = Scenario::from_str_in(&text, format, Path::new("."))
        .map_err(|e| e.with_file(STDIN_NAME))?;
    scenario.path = Some(PathBuf::from(STDIN_NAME));
    Ok(scenario)
}

/// The format of a text without a name: JSON when its first non-blank character is `{`.
fn sniff(text: &str) -> Format {
    match text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
    {
        true => Format::Json,
        false => Format::Toml,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_told_by_its_brace_and_everything_else_is_toml() {
        assert_eq!(sniff("  \n{\"name\": 1}"), Format::Json);
        assert_eq!(sniff("\u{feff}{}"), Format::Json);
        assert_eq!(sniff("name = \"x\"\n"), Format::Toml);
        assert_eq!(sniff("# {comment}\n[fleet]"), Format::Toml);
    }
}
