//! Fuzzing the scenario loader and the query parser with mutated real files: every file under
//! `examples/` (and the queries written in them), with random byte and line mutations,
//! truncations and swaps of field values. Loading never panics, and every error names a line
//! or a field (and a line within the file). Bounded: `PROPTEST_CASES` cases (default 256).

use std::path::PathBuf;

use fleet_scenario::{Format, Scenario};
use proptest::prelude::*;

/// The examples' directory: a fleet file an example names is relative to it.
fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Every example scenario: (name, text, format).
fn examples() -> Vec<(String, String, Format)> {
    let dir = examples_dir();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the examples directory") {
        let path = entry.unwrap().path();
        let Ok(format) = Format::of_path(&path) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        out.push((path.display().to_string(), text, format));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 5, "examples found: {}", out.len());
    out
}

/// The query strings written in the examples (`filter = "..."`, `selector = "..."`).
fn example_queries() -> Vec<String> {
    let mut out = Vec::new();
    for (_, text, _) in examples() {
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if !matches!(key.trim(), "filter" | "selector") {
                continue;
            }
            let v = value.trim();
            if v.len() >= 2 && (v.starts_with('"') || v.starts_with('\'')) {
                out.push(v[1..v.len() - 1].to_string());
            }
        }
    }
    assert!(!out.is_empty());
    out
}

/// One mutation of a text.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the byte at (position modulo length) with this one.
    Byte(usize, u8),
    /// Insert a fragment at (position modulo length).
    Insert(usize, &'static str),
    /// Remove the line at (index modulo lines).
    DeleteLine(usize),
    /// Repeat the line at (index modulo lines).
    DuplicateLine(usize),
    /// Cut the text at (position modulo length).
    Truncate(usize),
    /// Swap the values of two `key = value` lines.
    SwapValues(usize, usize),
    /// Give the value of a `key = value` line one of these.
    SetValue(usize, &'static str),
}

const FRAGMENTS: &[&str] = &[
    "\"",
    "'''",
    "{",
    "}",
    "[",
    "]",
    ",",
    "=",
    "\n",
    "\n[[jobs]]\n",
    "\n[hub]\n",
    "-1",
    "1e300",
    "null",
    "\"value\": \"56\", ",
    "é",
];

const VALUES: &[&str] = &[
    "0",
    "-1",
    "1.5",
    "1e17",
    "-0.0",
    "nan",
    "inf",
    "4294967295",
    "18446744073709551616",
    "\"\"",
    "\"x\"",
    "true",
    "[]",
    "{}",
    "'''{}'''",
    "'''{\"id\": 1}'''",
    "\"SELECT * FROM devices WHERE\"",
    "\"tags.a = \"",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Byte(p, b)),
        (any::<usize>(), proptest::sample::select(FRAGMENTS))
            .prop_map(|(p, f)| Mutation::Insert(p, f)),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapValues(a, b)),
        (any::<usize>(), proptest::sample::select(VALUES))
            .prop_map(|(a, v)| Mutation::SetValue(a, v)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let len = bytes.len().max(1);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let assignments: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.split_once('=')
                .is_some_and(|(k, _)| !k.trim().is_empty() && !k.contains(['"', '{', '[']))
        })
        .map(|(i, _)| i)
        .collect();
    let split = |l: &str| {
        let (k, v) = l.split_once('=').unwrap();
        (k.to_string(), v.trim().to_string())
    };
    match m {
        Mutation::Byte(p, b) => {
            if !bytes.is_empty() {
                bytes[p % len] = *b;
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Mutation::Insert(p, f) => {
            let at = p % len;
            bytes.splice(at..at, f.bytes());
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Mutation::Truncate(p) => String::from_utf8_lossy(&bytes[..p % len]).into_owned(),
        Mutation::DeleteLine(i) | Mutation::DuplicateLine(i) => {
            let mut out: Vec<&str> = lines.clone();
            if out.is_empty() {
                return text.to_string();
            }
            let i = i % out.len();
            match m {
                Mutation::DeleteLine(_) => {
                    out.remove(i);
                }
                _ => out.insert(i, lines[i]),
            }
            out.concat()
        }
        Mutation::SwapValues(..) | Mutation::SetValue(..) if assignments.is_empty() => {
            text.to_string()
        }
        Mutation::SwapValues(a, b) => {
            let (ia, ib) = (
                assignments[a % assignments.len()],
                assignments[b % assignments.len()],
            );
            let (ka, va) = split(lines[ia]);
            let (kb, vb) = split(lines[ib]);
            let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            out[ia] = format!("{ka}= {vb}\n");
            out[ib] = format!("{kb}= {va}\n");
            out.concat()
        }
        Mutation::SetValue(a, v) => {
            let i = assignments[a % assignments.len()];
            let (k, _) = split(lines[i]);
            let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            out[i] = format!("{k}= {v}\n");
            out.concat()
        }
    }
}

fn check_load(text: &str, format: Format) -> Result<(), TestCaseError> {
    match Scenario::from_str_in(text, format, &examples_dir()) {
        Ok(_) => Ok(()),
        Err(e) => {
            let lines = text.lines().count().max(1) + 1;
            match e.line_col() {
                Some((line, col)) => {
                    prop_assert!(line >= 1 && line <= lines, "line {line} of {lines}: {e}");
                    prop_assert!(col >= 1, "{e}");
                }
                None => prop_assert!(
                    e.field().is_some_and(|f| !f.is_empty()),
                    "an error with neither a line nor a field: {e}"
                ),
            }
            prop_assert!(!e.to_string().is_empty());
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // 256 cases unless PROPTEST_CASES says otherwise (CI sets it; a longer fuzz raises it).
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_examples_load_or_name_a_line_or_field(
        pick in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let files = examples();
        let (_, text, format) = &files[pick % files.len()];
        let mut text = text.clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        check_load(&text, *format)?;
    }

    #[test]
    fn mutated_example_queries_never_panic(
        pick in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..3),
    ) {
        let queries = example_queries();
        let mut text = queries[pick % queries.len()].clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        if let Err(e) = fleet_query::Query::parse_any(&text) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn every_example_loads_unchanged() {
    for (name, text, format) in examples() {
        if let Err(e) = Scenario::from_str_in(&text, format, &examples_dir()) {
            panic!("{name}: {e}");
        }
    }
}
