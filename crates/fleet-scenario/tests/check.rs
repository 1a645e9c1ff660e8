//! `fleetsim check`'s library: the planted defect found and shrunk to its boundary from
//! several seeds, determinism across thread counts, rendering of cases, and bad ranges.

use std::path::Path;

use fleet_scenario::check::{
    check_with, run_check, Case, CheckOptions, CheckReport, Expectations, Pick, Property, Template,
    Verdict, FLOAT_TOLERANCE,
};
use fleet_scenario::{Budget, Format, Scenario};

/// A small fleet whose failure rate and size are ranges, a job, and `expect` TOML.
fn template(extra: &str) -> Template {
    let text = format!(
        r#"
seed = 3
[fleet]
devices = {{ min = 10, max = 200 }}
templates = [{{ template = "dtmi:t;1", share = 1.0 }}]
[[templates]]
id = "dtmi:t;1"
properties = [{{ name = "p", schema = "integer" }}]
[[groups]]
id = "g"
[[behaviour.rules]]
latency = {{ type = "uniform", min_ms = 500, max_ms = 1500 }}
failure_probability = {{ min = 0.0, max = 0.05 }}   # the failure rate
[[jobs]]
json = '''{{"id": "j", "group": "g",
  "data": [{{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1}}]}}'''
[[expect]]
job = "j"
status = "complete"
{extra}
"#
    );
    Template::from_str_in(&text, Format::Toml, Path::new(".")).unwrap()
}

/// The value of the variable at `field` in `case`.
fn pick(t: &Template, case: &Case, field: &str) -> Pick {
    let v = t
        .space
        .variables
        .iter()
        .position(|v| v.path.to_string() == field)
        .unwrap_or_else(|| panic!("no variable {field}"));
    case.picks[v]
}

/// The planted defect: the scenario's expectations (each case is simulated), plus one that
/// fails exactly when the failure rate is at least 2.5 % and the fleet has at least 40
/// devices.
struct Planted<'a> {
    t: &'a Template,
    expectations: Expectations<'a>,
}

impl Property for Planted<'_> {
    fn names(&self) -> Vec<String> {
        let mut n = self.expectations.names();
        n.push("planted: failure rate < 2.5 % or fewer than 40 devices".into());
        n
    }

    fn evaluate(&self, case: &Case) -> fleet_scenario::Result<Vec<Verdict>> {
        let mut v = self.expectations.evaluate(case)?;
        let (Pick::Float(p), Pick::Int(n)) = (
            pick(self.t, case, "behaviour.rules[0].failure_probability"),
            pick(self.t, case, "fleet.devices"),
        ) else {
            panic!("the variables' kinds")
        };
        v.push(Verdict {
            held: !(p >= 0.025 && n >= 40),
            checks: Vec::new(),
        });
        Ok(v)
    }
}

fn planted(seed: u64, threads: usize) -> CheckReport {
    let t = template("");
    let expectations = Expectations::new(&t, Budget::default()).unwrap();
    let property = Planted {
        t: &t,
        expectations,
    };
    let options = CheckOptions {
        seed: Some(seed),
        cases: 64,
        threads,
        ..CheckOptions::default()
    };
    check_with(&t, &property, &options, &mut |_, _, _| {}).unwrap()
}

#[test]
fn the_planted_defect_is_found_and_shrunk_to_its_boundary_from_several_seeds() {
    let tolerance = 0.05 * FLOAT_TOLERANCE;
    for seed in [1, 2, 3, 4, 5] {
        let r = planted(seed, 2);
        assert!(r.expectations[0].held, "seed {seed}: the job completes");
        let planted = &r.expectations[1];
        assert!(!planted.held, "seed {seed}: found");
        let c = &r.counterexamples[0];
        assert_eq!(c.expectation, 1);
        let value = |f: &str| -> f64 {
            let (_, v) = c.shrunk.iter().find(|(x, _)| x == f).unwrap();
            v.parse().unwrap()
        };
        let p = value("behaviour.rules[0].failure_probability");
        let n = value("fleet.devices");
        eprintln!(
            "seed {seed}: found in case {} ({:?}), shrunk to p = {p}, n = {n} in {} steps, {} simulations",
            c.found_case, c.found, c.shrink_steps, c.shrink_simulations
        );
        assert_eq!(
            n, 40.0,
            "seed {seed}: the fleet shrinks to exactly 40 devices"
        );
        assert!(
            (0.025..=0.025 + tolerance).contains(&p),
            "seed {seed}: the rate shrinks to 2.5 % within {tolerance}: {p}"
        );
        // The printed case is a scenario at the boundary with the case's seed.
        let s = Scenario::from_str(&c.scenario, Format::Toml).unwrap();
        assert_eq!(s.file.fleet.devices, 40);
        assert_eq!(s.file.seed, c.seed);
        assert!(
            c.scenario.contains("failure_probability = 0.025"),
            "{}",
            c.scenario
        );
        assert!(
            c.scenario.contains("# the failure rate"),
            "comments are kept"
        );
    }
}

/// The report without the fields that depend on the machine.
fn stable(r: &CheckReport) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    for k in ["threads", "search_s", "cases_per_s", "wall_s"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

#[test]
fn the_same_seed_finds_and_shrinks_the_same_case_whatever_the_thread_count() {
    let one = planted(9, 1);
    let three = planted(9, 3);
    assert_eq!(stable(&one), stable(&three));
    assert_ne!(
        stable(&one),
        stable(&planted(10, 2)),
        "another seed, other cases"
    );
}

#[test]
fn an_expectation_that_holds_everywhere_is_reported_as_held_in_every_case() {
    let t = template("failed_percent = { max = 100 }");
    let options = CheckOptions {
        cases: 40,
        threads: 2,
        ..CheckOptions::default()
    };
    let r = run_check(&t, &options, Budget::default(), &mut |_, _, _| {}).unwrap();
    assert_eq!(r.cases_run, 40);
    assert!(r.expectations.iter().all(|e| e.held && e.failed_cases == 0));
    assert!(r.counterexamples.is_empty());
}

#[test]
fn a_real_expectation_fails_and_its_shrunk_case_fails_under_run() {
    // Fails as soon as one device fails: the simplest failing case has few devices.
    let t = template("failed = 0");
    let options = CheckOptions {
        cases: 32,
        threads: 2,
        ..CheckOptions::default()
    };
    let r = run_check(&t, &options, Budget::default(), &mut |_, _, _| {}).unwrap();
    let c = &r.counterexamples[0];
    let s = Scenario::from_str(&c.scenario, Format::Toml).unwrap();
    let report = fleet_scenario::run(&s, Default::default(), &mut |_, _| {}).unwrap();
    let failed = report.expectations.iter().filter(|k| !k.passed).count();
    assert_eq!(
        failed, 1,
        "`run` fails the shrunk case the same way: {:?}",
        report.expectations
    );
    // Shrunk: the failure rate and the fleet are no larger than in the case found.
    for f in ["fleet.devices", "behaviour.rules[0].failure_probability"] {
        let get = |v: &Vec<(String, String)>| -> f64 {
            v.iter().find(|(x, _)| x == f).unwrap().1.parse().unwrap()
        };
        assert!(
            get(&c.shrunk) <= get(&c.found),
            "{f}: {:?} {:?}",
            c.shrunk,
            c.found
        );
    }
}

/// A check scenario with every kind of marker, nested ones too.
const LAYOUT: &str = r#"
seed = 1
[fleet]
devices = { min = 5, max = 9 }   # size
templates = [{ template = "dtmi:t;1", share = 1.0 }]
[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]
[[groups]]
id = "g"
[[behaviour.rules]]
latency = { one_of = [{ type = "fixed", ms = 10 }, { type = "uniform", min_ms = 0, max_ms = { min = 20, max = 30 } }] }
flapping = { optional = { mean_up_ms = 1000, mean_down_ms = 10 } }
[[behaviour.cohorts]]
optional = true
selector = "deviceId = 'd-1'"
probability = 1.0
failure_probability = 1.0
[[jobs]]
json = '''{"id": "j", "group": "g", "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 1}]}'''
commands = [{ at_s = { min = 1, max = 5 }, command = "stop" }]
[[expect]]
job = "j"
status = "stopped"
"#;

#[test]
fn expectations_hold_no_markers() {
    // `status` in `expect` is not a marker: the scenario itself refuses the table.
    let text = LAYOUT.replace("status = \"stopped\"", "status = { one_of = [\"x\"] }");
    let err = Template::from_str_in(&text, Format::Toml, Path::new(".")).unwrap_err();
    assert!(err.to_string().contains("expect[0].status"), "{err}");
}

#[test]
fn ranges_choices_and_optional_parts_resolve_in_the_users_layout() {
    let t = Template::from_str_in(LAYOUT, Format::Toml, Path::new(".")).unwrap();
    let fields: Vec<String> = t
        .space
        .variables
        .iter()
        .map(|v| v.path.to_string())
        .collect();
    assert_eq!(
        fields,
        [
            "behaviour.cohorts[0]",
            "behaviour.rules[0].flapping",
            "behaviour.rules[0].latency",
            "behaviour.rules[0].latency.one_of[1].max_ms",
            "fleet.devices",
            "jobs[0].commands[0].at_s"
        ]
    );
    let mut case = Case::simplest(&t.space, 0, 77);
    case.picks = vec![
        Pick::Choice(1),
        Pick::Choice(0),
        Pick::Choice(1),
        Pick::Int(25),
        Pick::Int(7),
        Pick::Int(3),
    ];
    let out = t.render(&case).unwrap();
    assert!(out.contains("devices = 7   # size"), "{out}");
    assert!(out.contains("max_ms = 25"), "{out}");
    assert!(!out.contains("flapping"), "{out}");
    assert!(!out.contains("optional"), "{out}");
    assert!(out.contains("at_s = 3"), "{out}");
    assert!(out.contains("seed = 77"), "{out}");
    let s = Scenario::from_str(&out, Format::Toml).unwrap();
    assert_eq!(s.file.behaviour.cohorts.len(), 1);
    assert_eq!(s.file.fleet.devices, 7);
    case.picks[0] = Pick::Choice(0);
    let s = Scenario::from_str(&t.render(&case).unwrap(), Format::Toml).unwrap();
    assert!(
        s.file.behaviour.cohorts.is_empty(),
        "an absent entry is removed"
    );
}

#[test]
fn a_json_check_scenario_resolves_too() {
    let text = r#"{"seed": 2, "fleet": {"devices": {"min": 3, "max": 4}},
      "behaviour": {"rules": [{"failure_probability": {"one_of": [0.0, 1.0]}}]},
      "expect": []}"#;
    let t = Template::from_str_in(text, Format::Json, Path::new(".")).unwrap();
    let mut case = Case::simplest(&t.space, 0, 5);
    case.picks = vec![Pick::Choice(1), Pick::Int(4)];
    let s = Scenario::from_str(&t.render(&case).unwrap(), Format::Json).unwrap();
    assert_eq!((s.file.fleet.devices, s.file.seed), (4, 5));
}

#[test]
fn ranges_that_leave_a_fields_bounds_are_errors_naming_the_line_and_field() {
    for (field, range, needle) in [
        (
            "failure_probability",
            "{ min = 0.0, max = 1.5 }",
            "with every range at its `max`",
        ),
        (
            "failure_probability",
            "{ min = 0.5, max = 0.1 }",
            "min <= max",
        ),
        (
            "failure_probability",
            "{ min = 0.1 }",
            "needs both `min` and `max`",
        ),
        ("offline", "{ one_of = [] }", "at least one value"),
        (
            "failure_probability",
            "{ min = -1, max = 0 }",
            "with every range at its `min`",
        ),
    ] {
        let text = format!("[fleet]\ndevices = 5\n[[behaviour.rules]]\n{field} = {range}\n");
        let err = Template::from_str_in(&text, Format::Toml, Path::new(".")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(needle), "{range}: {msg}");
        assert!(
            msg.contains(&format!("behaviour.rules[0].{field}")),
            "{range}: {msg}"
        );
        assert_eq!(err.line_col().map(|(l, _)| l), Some(4), "{range}: {msg}");
    }
}

#[test]
fn a_check_needs_an_expectation() {
    let t = Template::from_str_in(
        "[fleet]\ndevices = { min = 1, max = 3 }\n",
        Format::Toml,
        Path::new("."),
    )
    .unwrap();
    let err = run_check(
        &t,
        &CheckOptions::default(),
        Budget::default(),
        &mut |_, _, _| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("at least one [[expect]]"), "{err}");
}
