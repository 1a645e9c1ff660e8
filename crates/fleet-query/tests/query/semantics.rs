//! The rules, on device documents, and the compiled form over a small store.

use fleet_query::{Query, Truth};
use serde_json::{json, Value};

use crate::store::DocStore;

fn docs() -> Vec<Value> {
    vec![
        json!({"deviceId": "a", "tags": {"fw": "1.2", "n": 1, "loc": {"Region": "eu"}}, "on": true}),
        json!({"deviceId": "b", "tags": {"fw": 1.2, "n": null}, "on": false}),
        json!({"deviceId": "c", "tags": {"fw": "1.3", "list": [1]}}),
        json!({"deviceId": "d"}),
    ]
}

/// The ids the query selects, by the interpreter and by the compiled form (which must agree).
fn select(text: &str) -> Vec<String> {
    let q = Query::parse_any(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let store = DocStore::new(docs());
    let ids = |v: Vec<u32>| -> Vec<String> {
        v.into_iter()
            .map(|i| {
                store.docs[i as usize]["deviceId"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let by_json = ids(q
        .select_json(&store.docs)
        .into_iter()
        .map(|i| i as u32)
        .collect());
    let compiled = ids(q.compile(&store).select());
    assert_eq!(compiled, by_json, "{text}");
    compiled
}

#[test]
fn a_device_matches_only_when_the_condition_is_true() {
    // Missing fields compare unknown, for every operator, and NOT keeps unknown.
    assert_eq!(select("tags.fw = '1.2'"), ["a"]);
    assert_eq!(select("tags.fw != '1.2'"), ["b", "c"]);
    assert_eq!(select("NOT tags.fw = '1.2'"), ["b", "c"]);
    assert_eq!(select("NOT (tags.fw = '1.2' AND on = true)"), ["b", "c"]);
    // d: fw unknown, on unknown: unknown OR ... stays unknown.
    assert_eq!(select("tags.fw = '1.2' OR on = false"), ["a", "b"]);
    assert_eq!(select("tags.fw = '1.3' OR NOT IS_DEFINED(on)"), ["c", "d"]);
    // Objects and arrays never compare.
    assert_eq!(select("tags.loc != 'x'"), Vec::<String>::new());
    assert_eq!(select("tags.list IN [1]"), Vec::<String>::new());
    // IS_DEFINED is true for null.
    assert_eq!(select("IS_DEFINED(tags.n)"), ["a", "b"]);
    assert_eq!(select("tags.n = null"), ["b"]);
    assert_eq!(select("tags.n != null"), ["a"]);
    // Ordering needs matching types.
    assert_eq!(select("tags.fw < '2'"), ["a", "c"]);
    assert_eq!(select("tags.fw < 2"), ["b"]);
    assert_eq!(select("NOT tags.fw < 2"), Vec::<String>::new());
    assert_eq!(select("on > false"), Vec::<String>::new());
    // Names ignore case; nested names too.
    assert_eq!(select("TAGS.LOC.region = 'eu'"), ["a"]);
    assert_eq!(select("DeviceId IN ['b', 'd', 'zz']"), ["b", "d"]);
    assert_eq!(select("deviceId > 'a' AND deviceId <= 'c'"), ["b", "c"]);
    assert_eq!(select("deviceId >= 'b0'"), ["c", "d"]);
    assert_eq!(select("deviceId < 'b0'"), ["a", "b"]);
}

#[test]
fn top_takes_the_first_matches_in_id_order() {
    assert_eq!(
        select("SELECT TOP 1 * FROM devices WHERE IS_DEFINED(tags)"),
        ["a"]
    );
    assert_eq!(
        select("SELECT TOP 2 * FROM devices WHERE deviceId != 'a'"),
        ["b", "c"]
    );
    assert_eq!(select("SELECT TOP 9 * FROM devices"), ["a", "b", "c", "d"]);
    assert_eq!(select("SELECT TOP 0 * FROM devices"), Vec::<String>::new());
    let store = DocStore::new(docs());
    let q = Query::parse("SELECT TOP 1 * FROM devices WHERE deviceId != 'a'").unwrap();
    let c = q.compile(&store);
    assert_eq!((c.matches(1), c.matches(2)), (true, false));
    assert_eq!(c.truth(2), Truth::True);
    assert_eq!(c.count(), 1);
}

#[test]
fn constant_conditions_fold() {
    let store = DocStore::new(docs());
    let compile = |t: &str| Query::parse_any(t).unwrap().compile(&store);
    assert!(compile("*").selects_all());
    assert!(compile("status = 'x' OR NOT IS_DEFINED(nothing)").selects_all());
    assert!(compile("nothing = 1").selects_none());
    assert!(compile("NOT nothing = 1").selects_none());
    assert!(compile("SELECT TOP 0 * FROM devices").selects_none());
    assert!(!compile("tags.fw = '1.2'").selects_none());
    assert!(!compile("SELECT TOP 3 * FROM devices").selects_all());
    // Out-of-range devices never match.
    assert!(!compile("*").matches(99));
}

#[test]
fn the_interpreter_reads_documents() {
    let q = Query::parse_condition("tags.x = 1 AND NOT tags.y = 2").unwrap();
    assert_eq!(
        q.truth_json(&json!({"tags": {"x": 1, "y": 3}})),
        Truth::True
    );
    assert_eq!(q.truth_json(&json!({"tags": {"x": 1}})), Truth::Unknown);
    assert_eq!(q.truth_json(&json!({"tags": {"x": 2}})), Truth::False);
    assert_eq!(q.truth_json(&json!(null)), Truth::Unknown);
    assert!(Query::parse_condition("*")
        .unwrap()
        .matches_json(&json!({})));
}
