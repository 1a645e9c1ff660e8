//! Reading TOML and JSON into typed values with errors that name the line, column and field.

use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, Result};

/// The two spellings of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML (`.toml`).
    Toml,
    /// JSON (`.json`).
    Json,
}

impl Format {
    /// The format of a file, by its extension.
    pub fn of_path(path: &std::path::Path) -> Result<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("toml") => Ok(Self::Toml),
            Some(e) if e.eq_ignore_ascii_case("json") => Ok(Self::Json),
            other => Err(Error::new(ErrorKind::UnknownFormat(
                other.unwrap_or("").to_string(),
            ))),
        }
    }
}

/// Parses `text` as `T`. Unknown fields and wrong types are errors with the field path and the
/// 1-based line and column.
pub fn parse<T: DeserializeOwned>(text: &str, format: Format) -> Result<T> {
    match format {
        Format::Toml => parse_toml(text),
        Format::Json => parse_json(text),
    }
}

fn parse_toml<T: DeserializeOwned>(text: &str) -> Result<T> {
    let de = toml::Deserializer::parse(text).map_err(|e| toml_error(text, &e, String::new()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        toml_error(text, e.inner(), path)
    })
}

fn toml_error(text: &str, e: &toml::de::Error, path: String) -> Error {
    let mut err = Error::new(ErrorKind::Syntax(e.message().trim().to_string()));
    if path != "." && !path.is_empty() {
        err = err.with_field(path);
    }
    match e.span() {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            err.with_position(line, col)
        }
        None => err,
    }
}

fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_error(e.inner(), path)
    })?;
    de.end().map_err(|e| json_error(&e, String::new()))?;
    Ok(value)
}

/// Converts a serde_json error (whose message ends in "at line L column C") to an [`Error`].
pub(crate) fn json_error(e: &serde_json::Error, path: String) -> Error {
    let message = e.to_string();
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    let mut err = Error::new(ErrorKind::Syntax(message));
    if path != "." && !path.is_empty() {
        err = err.with_field(path);
    }
    if e.line() > 0 {
        err = err.with_position(e.line(), e.column());
    }
    err
}

/// The 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        size: u32,
    }

    #[test]
    fn toml_unknown_field_names_line_and_path() {
        let text = "name = \"x\"\n[[items]]\nsize = 1\n[[items]]\nsiz = 2\n";
        let err = parse::<Outer>(text, Format::Toml).unwrap_err();
        assert_eq!(err.field(), Some("items[1].siz"));
        assert_eq!(err.line_col(), Some((5, 1)));
        assert!(err.to_string().contains("unknown field `siz`"), "{err}");
    }

    #[test]
    fn toml_wrong_type_names_the_field() {
        let err =
            parse::<Outer>("name = \"x\"\n[[items]]\nsize = \"big\"\n", Format::Toml).unwrap_err();
        assert_eq!(err.field(), Some("items[0].size"));
        assert_eq!(err.line_col().map(|p| p.0), Some(3));
    }

    #[test]
    fn json_errors_name_line_and_path() {
        let text = "{\n  \"name\": \"x\",\n  \"items\": [{\"size\": -1}]\n}";
        let err = parse::<Outer>(text, Format::Json).unwrap_err();
        assert_eq!(err.field(), Some("items[0].size"));
        assert_eq!(err.line_col().map(|p| p.0), Some(3));
        let err = parse::<Outer>("{\"name\": \"x\"} trailing", Format::Json).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Syntax(_)));
    }
}
