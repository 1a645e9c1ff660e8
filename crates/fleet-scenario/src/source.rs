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

/// Where a field was written: the 1-based line and column of the deepest part of `field` (a
/// path such as `jobs[0].json.batch.value`) found in `text`, and whether the whole path was
/// found. Inside a job pasted as a JSON string (`json = '''...'''`), the position is the file's,
/// not the string's. `None` when not even the first part of the path is in the file.
pub fn locate(text: &str, format: Format, field: &str) -> Option<Located> {
    let path = parse_path(field);
    let (offset, exact) = match format {
        Format::Toml => toml_locate(text, &path)?,
        Format::Json => {
            let (offset, matched) = json_locate(text, &path)?;
            (offset, matched == path.len())
        }
    };
    let (line, column) = line_col(text, offset);
    Some(Located {
        line,
        column,
        exact,
    })
}

/// A position found by [`locate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Whether the whole field path was found (else the position is its deepest parent's).
    pub exact: bool,
}

/// Gives an error without a position the position of its field; an error found inside a
/// pasted job JSON (whose message ends in "at line L column C" of the string) gets the line and
/// column of the file instead.
pub(crate) fn position_error(err: Error, text: &str, format: Format) -> Error {
    if err.line_col().is_some() {
        return err;
    }
    let Some(field) = err.field().map(str::to_string) else {
        return err;
    };
    let path = parse_path(&field);
    if let (Some((line, col)), Format::Toml) = (message_position(&err), format) {
        let json_key = path
            .iter()
            .position(|s| matches!(s, Seg::Key(k) if k == "json"));
        if let Some(start) = json_key.and_then(|k| toml_string(text, &path[..=k])) {
            let err = err.map_message(strip_position);
            return if start.exact {
                let inner = offset_of(&text[start.start..start.end], line, col);
                let (l, c) = line_col(text, start.start + inner);
                err.with_position(l, c)
            } else {
                let (l, c) = line_col(text, start.start);
                err.with_position(l, c)
                    .map_message(|m| format!("{m} (line {line}, column {col} of the job JSON)"))
            };
        }
    }
    match locate(text, format, &field) {
        Some(at) => err.with_position(at.line, at.column),
        None => err,
    }
}

/// "... at line L column C" at the end of an error message.
fn message_position(err: &Error) -> Option<(usize, usize)> {
    let message = err.message()?;
    let i = message.rfind(" at line ")?;
    let rest = &message[i + " at line ".len()..];
    let (line, col) = rest.split_once(" column ")?;
    Some((line.trim().parse().ok()?, col.trim().parse().ok()?))
}

fn strip_position(message: String) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    }
}

/// The byte offset of 1-based `line` and `column` (in characters) in `text`.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for _ in 1..line {
        match text[offset..].find('\n') {
            Some(i) => offset += i + 1,
            None => return text.len(),
        }
    }
    let rest = &text[offset..];
    offset
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}

/// One part of a field path.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// `jobs[0].json.batch.value` as parts; `?` (an unknown part) ends the path.
fn parse_path(field: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    'parts: for part in field.split('.') {
        let key_end = part.find('[').unwrap_or(part.len());
        let key = &part[..key_end];
        if key == "?" {
            break;
        }
        if !key.is_empty() {
            out.push(Seg::Key(key.to_string()));
        }
        let mut rest = &part[key_end..];
        while let Some(inner) = rest.strip_prefix('[') {
            let Some(end) = inner.find(']') else {
                break 'parts;
            };
            match inner[..end].parse() {
                Ok(i) => out.push(Seg::Index(i)),
                Err(_) => break 'parts,
            }
            rest = &inner[end + 1..];
        }
    }
    out
}

/// The offset of the deepest part of `path` in a TOML `text`, and whether all of it was found.
fn toml_locate(text: &str, path: &[Seg]) -> Option<(usize, bool)> {
    use toml::de::{DeTable, DeValue};
    let (root, _) = DeTable::parse_recoverable(text);
    let mut value: Option<&toml::Spanned<DeValue<'_>>> = None;
    let mut best = None;
    for (i, seg) in path.iter().enumerate() {
        let table = match value {
            None => Some(root.get_ref()),
            Some(v) => match v.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            },
        };
        let found = match (seg, table, value.map(|v| v.get_ref())) {
            (Seg::Key(k), Some(t), _) => t
                .get_key_value(k.as_str())
                .map(|(key, v)| (key.span().start, v)),
            (Seg::Index(n), _, Some(DeValue::Array(a))) => a.get(*n).map(|v| (v.span().start, v)),
            (_, _, Some(DeValue::String(_))) => {
                // Inside a pasted JSON string.
                let Some(s) = toml_string(text, &path[..i]) else {
                    return best.map(|b| (b, false));
                };
                if !s.exact {
                    return Some((s.start, false));
                }
                return Some(match json_locate(&text[s.start..s.end], &path[i..]) {
                    Some((at, matched)) => (s.start + at, i + matched == path.len()),
                    None => (s.start, false),
                });
            }
            _ => None,
        };
        let Some((offset, v)) = found else {
            return best.map(|b| (b, false));
        };
        best = Some(offset);
        value = Some(v);
    }
    best.map(|b| (b, true))
}

/// The text of a TOML string value in its file.
struct StringText {
    /// Where its text starts (exact) or where the string starts (not exact).
    start: usize,
    /// Where its text ends.
    end: usize,
    /// Whether the file's bytes from `start` to `end` are the string's text (a literal string,
    /// or one without escapes).
    exact: bool,
}

/// Where the text of the string at `path` is in a TOML `text`.
fn toml_string(text: &str, path: &[Seg]) -> Option<StringText> {
    use toml::de::{DeTable, DeValue};
    let (root, _) = DeTable::parse_recoverable(text);
    let mut current: Option<&toml::Spanned<DeValue<'_>>> = None;
    for seg in path {
        let next = match (seg, current.map(|v| v.get_ref())) {
            (Seg::Key(k), None) => root.get_ref().get(k.as_str()),
            (Seg::Key(k), Some(DeValue::Table(t))) => t.get(k.as_str()),
            (Seg::Index(n), Some(DeValue::Array(a))) => a.get(*n),
            _ => None,
        };
        current = Some(next?);
    }
    let value = current?;
    let DeValue::String(_) = value.get_ref() else {
        return None;
    };
    let span = value.span();
    let raw = text.get(span.clone())?;
    let (delim, literal) = if raw.starts_with("'''") {
        (3, true)
    } else if raw.starts_with("\"\"\"") {
        (3, false)
    } else {
        (1, raw.starts_with('\''))
    };
    if raw.len() < 2 * delim {
        return None;
    }
    let mut start = span.start + delim;
    let end = span.end - delim;
    if delim == 3 {
        // A newline right after the opening delimiter is not part of the string.
        if text[start..].starts_with("\r\n") {
            start += 2;
        } else if text[start..].starts_with('\n') {
            start += 1;
        }
    }
    let start = start.min(end);
    let exact = literal || !text[start..end].contains('\\');
    Some(StringText {
        start: if exact { start } else { span.start },
        end,
        exact,
    })
}

/// The offset of the deepest part of `path` in a JSON `text`, and how many parts were found.
fn json_locate(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let mut p = JsonCursor {
        b: text.as_bytes(),
        i: 0,
    };
    p.ws();
    if p.i >= p.b.len() {
        return None;
    }
    let at = p.i;
    Some(p.find(path, 0, at))
}

/// A small JSON reader that only finds where values are.
struct JsonCursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl JsonCursor<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Finds `path[depth..]` in the value at the cursor; `at` is where that value (or its key)
    /// starts. Returns the offset of the deepest part found and how many parts were found.
    fn find(&mut self, path: &[Seg], depth: usize, at: usize) -> (usize, usize) {
        self.ws();
        let Some(seg) = path.get(depth) else {
            return (at, depth);
        };
        match (seg, self.b.get(self.i)) {
            (Seg::Key(k), Some(b'{')) => {
                self.i += 1;
                loop {
                    self.ws();
                    let key_at = self.i;
                    let Some(key) = self.string() else {
                        return (at, depth);
                    };
                    if !self.eat(b':') {
                        return (at, depth);
                    }
                    if &key == k {
                        return self.find(path, depth + 1, key_at);
                    }
                    if !self.skip_value() || !self.eat(b',') {
                        return (at, depth);
                    }
                }
            }
            (Seg::Index(n), Some(b'[')) => {
                self.i += 1;
                for _ in 0..*n {
                    if !self.skip_value() || !self.eat(b',') {
                        return (at, depth);
                    }
                }
                self.ws();
                let element_at = self.i;
                if self.b.get(self.i).is_none_or(|&c| c == b']') {
                    return (at, depth);
                }
                self.find(path, depth + 1, element_at)
            }
            _ => (at, depth),
        }
    }

    /// Reads a string at the cursor (escapes decoded).
    fn string(&mut self) -> Option<String> {
        self.ws();
        let start = self.i;
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    let raw = std::str::from_utf8(&self.b[start..self.i]).ok()?;
                    return serde_json::from_str(raw).ok();
                }
                _ => self.i += 1,
            }
        }
        None
    }

    /// Skips one value; false when the text ends or is malformed.
    fn skip_value(&mut self) -> bool {
        self.ws();
        match self.b.get(self.i) {
            Some(b'"') => self.string().is_some(),
            Some(&open @ (b'{' | b'[')) => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.i += 1;
                if self.eat(close) {
                    return true;
                }
                loop {
                    if open == b'{' && (self.string().is_none() || !self.eat(b':')) {
                        return false;
                    }
                    if !self.skip_value() {
                        return false;
                    }
                    if self.eat(close) {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                }
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.b.len()
                    && !matches!(self.b[self.i], b',' | b'}' | b']')
                    && !self.b[self.i].is_ascii_whitespace()
                {
                    self.i += 1;
                }
                self.i > start
            }
            None => false,
        }
    }
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
    fn locate_finds_fields_in_toml_pasted_json_and_json() {
        let toml = "seed = 1\n[[jobs]]\nid = \"a\"\n[[jobs]]\njson = '''\n{\"id\": \"b\",\n \"batch\": {\"value\": 0}}'''\n";
        let at = locate(toml, Format::Toml, "jobs[1].json.batch.value").unwrap();
        assert_eq!((at.line, at.column, at.exact), (7, 12, true));
        let at = locate(toml, Format::Toml, "jobs[0].id").unwrap();
        assert_eq!((at.line, at.exact), (3, true));
        // A missing field: its nearest parent (here the `[[jobs]]` header).
        let at = locate(toml, Format::Toml, "jobs[0].retry.all").unwrap();
        assert_eq!((at.line, at.exact), (2, false));
        let json = "{\n  \"jobs\": [\n    {\"id\": \"a\"},\n    {\"job\": {\n      \"batch\": {\"value\": 0}}}\n  ]\n}";
        let at = locate(json, Format::Json, "jobs[1].job.batch.value").unwrap();
        assert_eq!((at.line, at.exact), (5, true));
        assert_eq!(
            locate(json, Format::Json, "jobs[2]").map(|a| a.exact),
            Some(false)
        );
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
