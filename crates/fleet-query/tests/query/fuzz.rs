//! Fuzzing the parser with proptest (bounded: `PROPTEST_CASES`, 256 by default): arbitrary
//! strings, query-shaped token soup, mutations of valid queries, and generated syntax trees
//! that must survive printing and parsing. Parsing never panics; what parses also compiles
//! and evaluates.

use fleet_query::{CompareOp, Constant, Expr, Path, Query};
use proptest::prelude::*;
use serde_json::json;

use crate::store::DocStore;

fn store() -> DocStore {
    DocStore::new(vec![
        json!({"deviceId": "a", "tags": {"x": 1, "group": "g"}, "$template": "t"}),
        json!({"deviceId": "b", "tags": {"x": "1"}, "status": "enabled"}),
        json!({"deviceId": "c"}),
    ])
}

/// Parses `text` every way; whatever parses must compile, evaluate, and print to text that
/// parses to the same query.
fn check(text: &str) -> Result<(), TestCaseError> {
    let store = store();
    for result in [
        Query::parse(text),
        Query::parse_condition(text),
        Query::parse_any(text),
    ] {
        match result {
            Ok(q) => {
                let c = q.compile(&store);
                let _ = c.select();
                for d in &store.docs {
                    let _ = q.truth_json(d);
                }
                let printed = q.to_string();
                if printed.chars().count() > fleet_query::MAX_QUERY_CHARS {
                    continue; // escapes made it longer than the limit
                }
                let again = Query::parse(&printed);
                prop_assert!(again.is_ok(), "{} printed as {}", text, q);
                let again = again.unwrap();
                prop_assert_eq!(again.condition(), q.condition());
            }
            Err(e) => {
                prop_assert!(e.column() >= 1 && e.line() >= 1);
                prop_assert!(!e.to_string().is_empty());
                let _ = e.caret(text);
            }
        }
    }
    Ok(())
}

const TOKENS: &[&str] = &[
    "SELECT",
    "select",
    "TOP",
    "3",
    "*",
    "FROM",
    "devices",
    "WHERE",
    "AND",
    "or",
    "NOT",
    "(",
    ")",
    "[",
    "]",
    ",",
    "IN",
    "NIN",
    "IS_DEFINED",
    "tags",
    ".",
    "x",
    "$template",
    "deviceId",
    "'a'",
    "\"b\"",
    "'it\\'s'",
    "0x1F",
    "1.5",
    "-3",
    "1e9",
    "=",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "null",
    "true",
    "FALSE",
    "[[group]]",
    "[[",
    "]]",
    "'",
    "\"",
    "\\",
    "\\u00e9",
    "'\\uD83D\\uDE00'",
    "0x",
    "1.",
    "é",
    "GROUP",
    "BY",
    "STARTS_WITH",
    "#",
    "!",
    "-",
    "\n",
];

fn token_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        (
            proptest::sample::select(TOKENS),
            proptest::sample::select(&["", " ", "  ", "\t"][..]),
        ),
        0..40,
    )
    .prop_map(|v| v.into_iter().map(|(t, s)| format!("{t}{s}")).collect())
}

const VALID: &[&str] = &[
    "SELECT * FROM devices WHERE $template = \"dtmi:modelDefinition:dtdlv2\" AND $provisioned = true",
    "deviceId IN ['MyDevice1','MyDevice2']",
    "SELECT TOP 5 * FROM devices WHERE NOT (tags.x = 1 OR IS_DEFINED(tags.[[group]])) AND tags.y NIN [0x1F, 'a\\'b', null]",
];

fn mutated() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(VALID),
        proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 1..6),
    )
        .prop_map(|(text, edits)| {
            let mut chars: Vec<char> = text.chars().collect();
            for (at, kind, c) in edits {
                let i = at.index(chars.len() + 1);
                match kind {
                    0 if i < chars.len() => {
                        chars.remove(i);
                    }
                    1 if i < chars.len() => chars[i] = c,
                    _ => chars.insert(i, c),
                }
            }
            chars.into_iter().collect()
        })
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "tags",
            "x",
            "deviceId",
            "$template",
            "group",
            "IN",
            "a b",
            "é",
            "$v"
        ])
        .prop_map(str::to_string),
        "[a-zA-Z_$][a-zA-Z0-9_$]{0,5}",
        "[^\\]]{1,4}",
    ]
}

fn a_path() -> impl Strategy<Value = Path> {
    proptest::collection::vec(name(), 1..4).prop_map(|v| Path::new(v).unwrap())
}

fn a_constant() -> impl Strategy<Value = Constant> {
    prop_oneof![
        Just(Constant::Null),
        any::<bool>().prop_map(Constant::Bool),
        any::<f64>()
            .prop_filter("finite", |n| n.is_finite())
            .prop_map(Constant::Number),
        (-1000i64..1000).prop_map(|n| Constant::Number(n as f64)),
        any::<String>().prop_map(Constant::String),
        "[a-z'\"\\\\]{0,6}".prop_map(Constant::String),
    ]
}

fn an_expr() -> impl Strategy<Value = Expr> {
    let op = proptest::sample::select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Gt,
        CompareOp::Ge,
    ]);
    let leaf = prop_oneof![
        (a_path(), op, a_constant()).prop_map(|(path, op, value)| Expr::Compare {
            path,
            op,
            value
        }),
        (
            a_path(),
            proptest::collection::vec(a_constant(), 0..4),
            any::<bool>()
        )
            .prop_map(|(path, values, negated)| Expr::In {
                path,
                values,
                negated
            }),
        a_path().prop_map(Expr::IsDefined),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            proptest::collection::vec(inner, 2..4).prop_map(Expr::Or),
        ]
    })
}

// A generated tree may nest lists of the same kind (AND in AND); they print with parentheses
// and parse back as nested lists, so trees compare as they are.
proptest! {
    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn query_alphabet_strings_never_panic(text in "[ -~\\n\\té€😀]{0,120}") {
        check(&text)?;
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        check(&text)?;
        check(&format!("SELECT * FROM devices WHERE {text}"))?;
    }

    #[test]
    fn mutated_queries_never_panic(text in mutated()) {
        check(&text)?;
    }

    #[test]
    fn printed_trees_parse_back_to_themselves(e in an_expr(), top in proptest::option::of(0u64..1000)) {
        let text = match top {
            Some(n) => format!("SELECT TOP {n} * FROM devices WHERE {e}"),
            None => format!("SELECT * FROM devices WHERE {e}"),
        };
        let q = Query::parse(&text);
        prop_assert!(q.is_ok(), "{}: {:?}", text, q.err());
        let q = q.unwrap();
        prop_assert_eq!(q.condition(), Some(&e));
        prop_assert_eq!(q.top(), top);
        check(&text)?;
    }
}
