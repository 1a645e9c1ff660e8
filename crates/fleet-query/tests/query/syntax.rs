//! What parses, and to what.

use fleet_query::{CompareOp, Constant, Expr, Path, Query};

fn path(p: &[&str]) -> Path {
    Path::new(p.iter().copied()).unwrap()
}

fn cond(text: &str) -> Expr {
    Query::parse_any(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .condition()
        .cloned()
        .expect("a condition")
}

fn cmp(p: &[&str], op: CompareOp, value: Constant) -> Expr {
    Expr::Compare {
        path: path(p),
        op,
        value,
    }
}

#[test]
fn comparisons_constants_and_names() {
    use CompareOp::*;
    let s = |x: &str| Constant::String(x.into());
    assert_eq!(cond("deviceId = 'a'"), cmp(&["deviceId"], Eq, s("a")));
    assert_eq!(cond("tags.x != \"a\""), cmp(&["tags", "x"], Ne, s("a")));
    assert_eq!(
        cond("tags.x <> 1"),
        cmp(&["tags", "x"], Ne, Constant::Number(1.0))
    );
    assert_eq!(cond("x<2"), cmp(&["x"], Lt, Constant::Number(2.0)));
    assert_eq!(cond("x<=-2.5"), cmp(&["x"], Le, Constant::Number(-2.5)));
    assert_eq!(cond("x>0x1f"), cmp(&["x"], Gt, Constant::Number(31.0)));
    assert_eq!(cond("x >= 0XFF"), cmp(&["x"], Ge, Constant::Number(255.0)));
    assert_eq!(cond("x = 1e3"), cmp(&["x"], Eq, Constant::Number(1000.0)));
    assert_eq!(cond("x = 2.5E-1"), cmp(&["x"], Eq, Constant::Number(0.25)));
    assert_eq!(cond("x = null"), cmp(&["x"], Eq, Constant::Null));
    assert_eq!(cond("x = NULL"), cmp(&["x"], Eq, Constant::Null));
    assert_eq!(cond("x = True"), cmp(&["x"], Eq, Constant::Bool(true)));
    assert_eq!(cond("x = false"), cmp(&["x"], Eq, Constant::Bool(false)));
    assert_eq!(cond("5 > x"), cmp(&["x"], Lt, Constant::Number(5.0)));
    assert_eq!(cond("'a' = x"), cmp(&["x"], Eq, s("a")));
    // Escapes.
    assert_eq!(
        cond(r#"x = 'it\'s \"q\" \\ \/ \b\f\n\r\t \u00e9 \uD83D\uDE00'"#),
        cmp(&["x"], Eq, s("it's \"q\" \\ / \u{8}\u{c}\n\r\t é 😀"))
    );
    assert_eq!(cond(r#"x = "it's""#), cmp(&["x"], Eq, s("it's")));
    // Names: $, escaped, reserved words after a dot, Unicode.
    assert_eq!(cond("$template = 'a'"), cmp(&["$template"], Eq, s("a")));
    assert_eq!(
        cond("[[group]] = 1"),
        cmp(&["group"], Eq, Constant::Number(1.0))
    );
    assert_eq!(
        cond("tags.[[a.b c]].[[x]] = 1"),
        cmp(&["tags", "a.b c", "x"], Eq, Constant::Number(1.0))
    );
    assert_eq!(
        cond("tags.group = 1"),
        cmp(&["tags", "group"], Eq, Constant::Number(1.0))
    );
    assert_eq!(
        cond("tags.größe = 1"),
        cmp(&["tags", "größe"], Eq, Constant::Number(1.0))
    );
    assert_eq!(
        cond("properties.reported.$version > 1"),
        cmp(
            &["properties", "reported", "$version"],
            Gt,
            Constant::Number(1.0)
        )
    );
}

#[test]
fn connectives_bind_not_then_and_then_or() {
    let a = cmp(&["a"], CompareOp::Eq, Constant::Number(1.0));
    let b = cmp(&["b"], CompareOp::Eq, Constant::Number(2.0));
    let c = cmp(&["c"], CompareOp::Eq, Constant::Number(3.0));
    let not = |e: Expr| Expr::Not(Box::new(e));
    assert_eq!(
        cond("a = 1 OR b = 2 AND c = 3"),
        Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        cond("(a = 1 OR b = 2) AND c = 3"),
        Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        cond("NOT a = 1 AND b = 2"),
        Expr::And(vec![not(a.clone()), b.clone()])
    );
    assert_eq!(
        cond("not (a = 1 and b = 2)"),
        not(Expr::And(vec![a.clone(), b.clone()]))
    );
    assert_eq!(cond("NOT NOT a = 1"), not(not(a.clone())));
    assert_eq!(cond("((a = 1))"), a.clone());
    assert_eq!(
        cond("a = 1 AND b = 2 AND c = 3"),
        Expr::And(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(
        cond("IS_DEFINED(tags.x) or is_defined ( [[y]] )"),
        Expr::Or(vec![
            Expr::IsDefined(path(&["tags", "x"])),
            Expr::IsDefined(path(&["y"]))
        ])
    );
    assert_eq!(
        cond("deviceId nin ['a', 1, null, true] AND x IN []"),
        Expr::And(vec![
            Expr::In {
                path: path(&["deviceId"]),
                values: vec![
                    Constant::String("a".into()),
                    Constant::Number(1.0),
                    Constant::Null,
                    Constant::Bool(true)
                ],
                negated: true
            },
            Expr::In {
                path: path(&["x"]),
                values: vec![],
                negated: false
            }
        ])
    );
}

#[test]
fn select_top_and_keywords_ignore_case() {
    let q = Query::parse("select TOP 10 * From Devices wHeRe x = 1").unwrap();
    assert_eq!(q.top(), Some(10));
    assert!(q.condition().is_some());
    let q = Query::parse("SELECT TOP 0x10 * FROM devices").unwrap();
    assert_eq!((q.top(), q.condition()), (Some(16), None));
    assert_eq!(q.to_string(), "SELECT TOP 16 * FROM devices");
    let q = Query::parse("SELECT\t*\r\nFROM devices\nWHERE\n  x = 1").unwrap();
    assert_eq!(q.to_string(), "SELECT * FROM devices WHERE x = 1");
    assert!(!q.is_all());
}

#[test]
fn canonical_text_parses_to_the_same_query() {
    for text in [
        "SELECT TOP 3 * FROM devices WHERE NOT (a = 1 OR [[group]].b != 'it\\'s') AND c IN [1, 'x', null]",
        "x = -0.5 OR (IS_DEFINED(y) AND NOT NOT z < 1e-7)",
        "tags.[[a b]] = '\\u0001'",
    ] {
        let q = Query::parse_any(text).unwrap();
        let again = Query::parse(&q.to_string()).unwrap();
        assert_eq!(again.condition(), q.condition(), "{q}");
        assert_eq!(again.top(), q.top());
    }
}

#[test]
fn queries_are_serde_strings() {
    let q: Query = serde_json::from_str(r#""tags.x = 1""#).unwrap();
    assert_eq!(q.text(), "tags.x = 1");
    assert_eq!(serde_json::to_string(&q).unwrap(), r#""tags.x = 1""#);
    let e = serde_json::from_str::<Query>(r#""tags.x = ""#).unwrap_err();
    assert!(
        e.to_string().starts_with(
            "invalid query: expected a value after '=', found the end of the query at column 10"
        ),
        "{e}"
    );
    assert_eq!("x = 1".parse::<Query>().unwrap().text(), "x = 1");
}
