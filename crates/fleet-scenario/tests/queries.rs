//! Device groups with IoT Central filters, selectors as query strings, and IoT Hub
//! queryConditions in scenarios: what they select, and the errors when they do not parse.

use fleet_query::Query;
use fleet_scenario::{Format, RunOptions, Scenario};

/// A fleet of 400 devices on two templates with a firmware tag, and `extra` appended.
fn scenario(extra: &str) -> String {
    format!(
        r#"
seed = 11

[fleet]
devices = 400
id_pattern = "dev-{{:04}}"
templates = [{{ template = "dtmi:t;1", share = 3.0 }}, {{ template = "dtmi:s;1", share = 1.0 }}]
tags = [{{ name = "firmware", values = [{{ value = "1.2", weight = 1 }}, {{ value = "1.3", weight = 3 }}] }}]
provisioned = 0.9

[[templates]]
id = "dtmi:t;1"
commands = [{{ name = "reboot" }}]

[[templates]]
id = "dtmi:s;1"
commands = [{{ name = "reboot" }}]

{extra}
"#
    )
}

fn load(extra: &str) -> Result<Scenario, String> {
    Scenario::from_str(&scenario(extra), Format::Toml).map_err(|e| e.to_string())
}

/// How many devices job 0 targeted, and how many the query selects in the scenario's fleet.
fn targets_and_expected(s: &Scenario, query: &str) -> (u64, u32) {
    let report = fleet_scenario::run(s, RunOptions::default(), &mut |_, _| {}).unwrap();
    let fleet = s.fleet(None).unwrap();
    let expected = Query::parse_any(query).unwrap().compile(&fleet).count();
    (u64::from(report.result.jobs[0].counts.total), expected)
}

const CENTRAL_JOB: &str = r#"
[[jobs]]
json = '''{"id": "j", "group": "g",
  "data": [{"type": "command", "target": "dtmi:t;1", "path": "reboot"}]}'''
"#;

#[test]
fn a_group_filter_selects_the_job_targets() {
    let filter = r#"SELECT * FROM devices WHERE $template = "dtmi:t;1" AND tags.firmware = '1.2' AND $provisioned = true"#;
    let s = load(&format!(
        "[[groups]]\nid = \"g\"\ndisplayName = \"Old firmware\"\netag = '\"abc\"'\norganizations = [\"contoso\"]\nfilter = '''{filter}'''\n{CENTRAL_JOB}"
    ))
    .unwrap();
    let (targets, expected) = targets_and_expected(&s, filter);
    assert_eq!(targets, u64::from(expected));
    assert!(expected > 40 && expected < 100, "{expected}");
}

#[test]
fn a_selector_string_selects_the_job_targets() {
    let s = load(&format!(
        "[[groups]]\nid = \"g\"\nselector = \"SELECT TOP 25 * FROM devices WHERE tags.firmware = '1.3'\"\n{CENTRAL_JOB}"
    ))
    .unwrap();
    let (targets, _) = targets_and_expected(&s, "*");
    assert_eq!(targets, 25);
}

#[test]
fn an_iot_hub_query_condition_selects_the_job_targets() {
    let condition = "deviceId IN ['dev-0001', 'dev-0002', 'dev-0399', 'nope'] OR tags.firmware = '1.2' AND deviceId < 'dev-0100'";
    let s = load(&format!(
        r#"
[[jobs]]
job = {{ jobId = "h", type = "scheduleDeviceMethod", cloudToDeviceMethod = {{ methodName = "reboot" }}, queryCondition = "{condition}" }}
"#
    ))
    .unwrap();
    let (targets, expected) = targets_and_expected(&s, condition);
    assert_eq!(targets, u64::from(expected));
    assert!(expected > 10, "{expected}");
}

#[test]
fn query_errors_name_the_field_and_the_column() {
    let e =
        load("[[groups]]\nid = \"g\"\nfilter = \"SELECT * FROM devices WHERE tags.firmware =\"\n")
            .unwrap_err();
    assert!(e.contains("field `groups[0].filter`"), "{e}");
    assert!(
        e.contains(
            "invalid filter: expected a value after '=', found the end of the query at column 44"
        ),
        "{e}"
    );
    let e = load("[[groups]]\nid = \"g\"\nfilter = \"tags.firmware = '1.2'\"\n").unwrap_err();
    assert!(e.contains("field `groups[0].filter`"), "{e}");
    assert!(e.contains("a group filter is a whole query"), "{e}");
    let e = load(
        "[[groups]]\nid = \"g\"\nfilter = \"SELECT * FROM devices\"\nselector = { template = \"dtmi:t;1\" }\n",
    )
    .unwrap_err();
    assert!(
        e.ends_with(
            "field `groups[0]`: give the group a `filter` (a query) or a `selector`, not both"
        ),
        "{e}"
    );
    let e = load(
        "[[behaviour.rules]]\nselector = \"tags.firmware IN ['1.2'\"\nfailure_probability = 1.0\n",
    )
    .unwrap_err();
    assert!(e.contains("field `behaviour.rules[0].selector`"), "{e}");
    assert!(
        e.contains(
            "invalid query: expected ']' to close the '[', found the end of the query at column 18"
        ),
        "{e}"
    );
    let hub = |condition: &str| {
        load(&format!(
            "[[jobs]]\njson = '''{{\"jobId\": \"h\", \"type\": \"scheduleDeviceMethod\", \"cloudToDeviceMethod\": {{\"methodName\": \"reboot\"}}, \"queryCondition\": \"{condition}\"}}'''\n"
        ))
        .unwrap_err()
    };
    let e = hub("deviceId = 'a' AND");
    assert!(
        e.ends_with("field `jobs[0].json.queryCondition`: \"deviceId = 'a' AND\": expected a condition after 'AND', found the end of the query at column 19"),
        "{e}"
    );
    let e = hub("SELECT * FROM devices WHERE deviceId = 'a'");
    assert!(e.contains("field `jobs[0].json.queryCondition`"), "{e}");
    assert!(
        e.contains("a queryCondition is the WHERE part alone"),
        "{e}"
    );
}

#[test]
fn star_and_no_condition_target_every_device() {
    for condition in ["*", " * "] {
        let s = load(&format!(
            "[[jobs]]\njob = {{ jobId = \"h\", type = \"scheduleDeviceMethod\", cloudToDeviceMethod = {{ methodName = \"reboot\" }}, queryCondition = \"{condition}\" }}\n"
        ))
        .unwrap();
        let (targets, _) = targets_and_expected(&s, "*");
        assert_eq!(targets, 400);
    }
    let s = load(&format!("[[groups]]\nid = \"g\"\n{CENTRAL_JOB}")).unwrap();
    assert_eq!(targets_and_expected(&s, "*").0, 400);
}
