//! Warnings: each names the field and its line, and says what will happen; a scenario without
//! a trap has none.

use fleet_scenario::{report, run, warnings, Format, RunOptions, Scenario, Warning};

/// A fleet of 100 devices whose `firmware` tag is a string, one template with an integer and a
/// double property and a command; line 1 is `seed = 1`.
const BASE: &str = r#"seed = 1
clock_start = "2026-03-01T00:00:00Z"

[fleet]
devices = 100
templates = [{ template = "dtmi:t;1", share = 1.0 }]
tags = [{ name = "firmware", values = [{ value = "1.2", weight = 1 }] }]

[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }, { name = "temp", schema = "double" }]
commands = [{ name = "reboot" }]

[[groups]]
id = "all"
"#;

fn load(extra: &str) -> Scenario {
    Scenario::from_str(&format!("{BASE}{extra}"), Format::Toml).expect("the scenario loads")
}

/// The line of the first line of `extra` that contains `needle`, in `BASE + extra`.
fn line_of(extra: &str, needle: &str) -> usize {
    let text = format!("{BASE}{extra}");
    text.lines()
        .position(|l| l.contains(needle))
        .expect("the needle is in the text")
        + 1
}

fn only(warnings: &[Warning], code: &str) -> Warning {
    let found: Vec<&Warning> = warnings.iter().filter(|w| w.code == code).collect();
    assert_eq!(found.len(), 1, "one {code} warning in {warnings:#?}");
    found[0].clone()
}

fn central_job(id: &str, data: &str) -> String {
    format!(
        "\n[[jobs]]\njson = '''\n{{\"id\": \"{id}\", \"group\": \"all\",\n  \"data\": [{data}]}}'''\n"
    )
}

#[test]
fn a_scenario_without_traps_has_no_warnings() {
    let extra = central_job(
        "j",
        r#"{"type": "property", "target": "dtmi:t;1", "path": "temp", "value": 56}"#,
    );
    let s = load(&extra);
    assert_eq!(warnings::check(&s), vec![]);
    let r = run(&s, RunOptions::default(), &mut |_, _| {}).unwrap();
    assert!(r.warnings.is_empty(), "{:#?}", r.warnings);
}

#[test]
fn a_rule_whose_selector_compares_a_string_tag_with_a_number_selects_nothing() {
    let extra = "\n[[behaviour.rules]]\nselector = { tags = { firmware = 1.2 } }\nfailure_probability = 1.0\n";
    let w = only(&warnings::check(&load(extra)), "selects_no_device");
    assert_eq!(w.field, "behaviour.rules[0].selector");
    assert_eq!(w.line, Some(line_of(extra, "selector =")));
    assert!(
        w.message.starts_with("selects 0 of 100 devices"),
        "{}",
        w.message
    );
    assert!(w.message.contains("write \"1.2\""), "{}", w.message);
    // The same rule with the string selects every device: no warning.
    let fixed = extra.replace("firmware = 1.2", "firmware = \"1.2\"");
    assert_eq!(warnings::check(&load(&fixed)), vec![]);
}

#[test]
fn a_cohort_that_selects_nothing_is_named_with_its_line() {
    let extra = "\n[[behaviour.cohorts]]\nselector = \"tags.firmware = 1.2\"\nprobability = 0.1\nfailure_probability = 1.0\n";
    let w = only(&warnings::check(&load(extra)), "selects_no_device");
    assert_eq!(w.field, "behaviour.cohorts[0].selector");
    assert_eq!(w.line, Some(line_of(extra, "selector =")));
    assert!(
        w.message.contains("this cohort's fault hits no device"),
        "{}",
        w.message
    );
}

#[test]
fn a_group_that_selects_nothing_is_named_with_its_line() {
    let extra = "\n[[groups]]\nid = \"old\"\nfilter = \"SELECT * FROM devices WHERE tags.firmware = 1.2\"\n";
    let w = only(&warnings::check(&load(extra)), "selects_no_device");
    assert_eq!(w.field, "groups[1].filter");
    assert_eq!(w.line, Some(line_of(extra, "filter =")));
    assert!(
        w.message.contains("group \"old\" selects 0 of 100 devices"),
        "{}",
        w.message
    );
}

#[test]
fn a_path_not_in_the_template_warns_at_the_path_line_in_the_file() {
    let extra = central_job(
        "j",
        r#"{"type": "property", "target": "dtmi:t;1", "path": "q", "value": 1}"#,
    );
    let s = load(&extra);
    let w = only(&warnings::check(&s), "not_in_template");
    assert_eq!(w.field, "jobs[0].json.data[0].path");
    assert_eq!(w.job.as_deref(), Some("j"));
    // The line of the file, not of the pasted JSON string.
    assert_eq!(w.line, Some(line_of(&extra, "\"path\": \"q\"")));
    assert!(w.message.contains("not_in_template"), "{}", w.message);
    // And the run agrees: every device fails with that reason.
    let r = run(&s, RunOptions::default(), &mut |_, _| {}).unwrap();
    let job = r.result.job("j").unwrap();
    assert_eq!(job.failure_reasons.get("not_in_template"), Some(&100));
    assert_eq!(only(&r.warnings, "not_in_template").field, w.field);
}

#[test]
fn a_quoted_number_for_a_double_property_is_a_schema_mismatch() {
    // The IoT Central documentation's own example: "value": "56" for a double property.
    let extra = central_job(
        "j",
        r#"{"type": "property", "target": "dtmi:t;1", "path": "temp", "value": "56"}"#,
    );
    let w = only(&warnings::check(&load(&extra)), "schema_mismatch");
    assert_eq!(w.field, "jobs[0].json.data[0].value");
    assert_eq!(w.line, Some(line_of(&extra, "\"value\": \"56\"")));
    assert!(
        w.message.contains("write 56 without quotes"),
        "{}",
        w.message
    );
    assert!(w.message.contains("schema_mismatch"), "{}", w.message);
}

#[test]
fn a_command_not_in_the_template_warns() {
    let extra = central_job(
        "j",
        r#"{"type": "command", "target": "dtmi:t;1", "path": "restart"}"#,
    );
    let w = only(&warnings::check(&load(&extra)), "not_in_template");
    assert!(
        w.message.contains("\"restart\" is not a command"),
        "{}",
        w.message
    );
}

#[test]
fn a_scheduled_job_that_is_not_enabled_warns() {
    let job = |enabled: &str| {
        format!(
            "\n[[jobs]]\njson = '''\n{{\"id\": \"s\", \"group\": \"all\",\n  \"data\": [{{\"type\": \"property\", \"target\": \"dtmi:t;1\", \"path\": \"p\", \"value\": 1}}],\n  \"schedule\": {{\"start\": \"2026-03-01T02:00:00Z\", \"recurrence\": \"daily\", \"end\": {{\"type\": \"occurrences\", \"occurrences\": 2}}}}{enabled}}}'''\n"
        )
    };
    let absent = job("");
    let w = only(&warnings::check(&load(&absent)), "schedule_disabled");
    assert_eq!(w.field, "jobs[0].json.enabled");
    assert!(w.message.contains("absent"), "{}", w.message);
    assert!(
        w.message.contains("every occurrence is skipped"),
        "{}",
        w.message
    );
    let off = job(",\n  \"enabled\": false");
    let w = only(&warnings::check(&load(&off)), "schedule_disabled");
    assert_eq!(w.line, Some(line_of(&off, "\"enabled\": false")));
    let on = job(",\n  \"enabled\": true");
    assert_eq!(warnings::check(&load(&on)), vec![]);
}

/// A writable property to 100 devices at once over an S1 hub (50 twin updates/s) whose queue
/// wait is cut to 1 s: most fail as throttled.
fn throttled(hub: &str) -> String {
    let mut devices = String::from(BASE).replace("devices = 100", "devices = 5000");
    devices.push_str(hub);
    devices.push_str(&central_job(
        "j",
        r#"{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1}"#,
    ));
    devices
}

#[test]
fn a_burst_far_over_the_hub_rate_with_the_default_queue_wait_warns() {
    let text = throttled("\n[hub]\ntier = \"S1\"\n");
    let s = Scenario::from_str(&text, Format::Toml).unwrap();
    let w = only(&warnings::check(&s), "queue_wait_default");
    assert_eq!(w.field, "hub.max_queue_wait_ms");
    // Not written: the line of the [hub] table.
    let hub_line = text.lines().position(|l| l == "[hub]").unwrap() + 1;
    assert_eq!(w.line, Some(hub_line));
    assert!(w.message.contains("5000 devices at once"), "{}", w.message);
    assert!(w.message.contains("default of 30000 ms"), "{}", w.message);
    // The run: most failures are throttling, which the report warns about too, and the text
    // report shows the hub's limits.
    let r = run(&s, RunOptions::default(), &mut |_, _| {}).unwrap();
    let job = r.result.job("j").unwrap();
    assert!(job.failure_reasons.get("throttled").copied().unwrap_or(0) > 2000);
    let post = only(&r.warnings, "mostly_throttled");
    assert_eq!(post.field, "hub.max_queue_wait_ms");
    assert_eq!(post.job.as_deref(), Some("j"));
    let text_report = report::text::render(&r);
    assert!(
        text_report.contains("hub S1 x1: 10 job device operations/s, 50 twin updates/s, 40 direct-method 4 KB chunks/s, 1 concurrent job; queue wait up to 30000 ms (the default)"),
        "{text_report}"
    );
    assert!(
        text_report.contains("\nwarnings:\n  hub.max_queue_wait_ms: "),
        "{text_report}"
    );
    // An explicit queue wait is the user's choice: no static warning.
    let set = throttled("\n[hub]\ntier = \"S1\"\nmax_queue_wait_ms = 30_000\n");
    let s = Scenario::from_str(&set, Format::Toml).unwrap();
    assert!(warnings::check(&s)
        .iter()
        .all(|w| w.code != "queue_wait_default"));
}

#[test]
fn a_duration_that_is_exactly_the_device_timeout_says_the_timeout_set_it() {
    // Every device is offline: each times out after 60 s, and the job takes exactly 60 s.
    let extra = "\n[[behaviour.rules]]\noffline = true\n\n[[jobs]]\ndevice_timeout_s = 60\njson = '''\n{\"id\": \"j\", \"group\": \"all\",\n  \"data\": [{\"type\": \"property\", \"target\": \"dtmi:t;1\", \"path\": \"p\", \"value\": 1}]}'''\n";
    let s = load(extra);
    let r = run(&s, RunOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!(r.result.job("j").unwrap().duration_ms, Some(60_000));
    let w = only(&r.warnings, "duration_is_timeout");
    assert_eq!(w.field, "jobs[0].device_timeout_s");
    assert_eq!(w.line, Some(line_of(extra, "device_timeout_s")));
    assert!(
        w.message
            .contains("took exactly 1m00.0s (the device timeout)"),
        "{}",
        w.message
    );
    let text = report::text::render(&r);
    assert!(
        text.contains("took 1m00.0s of virtual time (set by `jobs[0].device_timeout_s`)"),
        "{text}"
    );
}

#[test]
fn warnings_print_as_file_line_field_message() {
    let w = Warning {
        code: "selects_no_device",
        file: Some("s.toml".into()),
        line: Some(12),
        field: "groups[0].filter".into(),
        job: None,
        message: "selects 0 of 10 devices".into(),
    };
    assert_eq!(
        w.to_string(),
        "s.toml:12: groups[0].filter: selects 0 of 10 devices"
    );
}
