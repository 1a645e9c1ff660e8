//! The AWS IoT Jobs and hawkBit dialects: reading, round trips, validation errors that name the
//! field, conversion into the engine's rules (`docs/semantics.md` sections 9, 10, 13, 14, 16, 17).

use fleet_core::model::{
    parse, AwsExecutionStatus, AwsJob, AwsJobStatus, HawkbitRollout, JobDefinition, Validate,
};
use fleet_core::{
    Action, DeviceState, ErrorKind, Input, JobRun, Outcome, PauseReason, RunStatus, Timer,
};
use serde_json::{json, Value};

/// AWS's own example of a job with every rollout policy, as `aws iot create-job` takes it.
fn aws_example() -> Value {
    json!({
        "jobId": "firmware-2-1",
        "targets": ["arn:aws:iot:us-east-1:123456789012:thinggroup/thermostats"],
        "document": "{\"operation\":\"upgrade\",\"version\":\"2.1\"}",
        "description": "Firmware 2.1",
        "targetSelection": "SNAPSHOT",
        "jobExecutionsRolloutConfig": {
            "maximumPerMinute": 100,
            "exponentialRate": {
                "baseRatePerMinute": 10,
                "incrementFactor": 2,
                "rateIncreaseCriteria": {"numberOfSucceededThings": 20}
            }
        },
        "abortConfig": {
            "criteriaList": [
                {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 10.5, "minNumberOfExecutedThings": 20},
                {"failureType": "TIMED_OUT", "action": "CANCEL", "thresholdPercentage": 30, "minNumberOfExecutedThings": 10}
            ]
        },
        "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
        "jobExecutionsRetryConfig": {
            "criteriaList": [
                {"failureType": "FAILED", "numberOfRetries": 2},
                {"failureType": "TIMED_OUT", "numberOfRetries": 1}
            ]
        },
        "tags": [{"Key": "team", "Value": "firmware"}]
    })
}

/// hawkBit's own example of a rollout create body.
fn hawkbit_example() -> Value {
    json!({
        "distributionSetId": 6,
        "targetFilterQuery": "id==targets-*",
        "description": "Rollout for all named targets",
        "amountGroups": 5,
        "type": "forced",
        "successCondition": {"condition": "THRESHOLD", "expression": "50"},
        "successAction": {"expression": "", "action": "NEXTGROUP"},
        "name": "exampleRollout",
        "forcetime": 1682408571791_i64,
        "errorAction": {"expression": "", "action": "PAUSE"},
        "confirmationRequired": false,
        "errorCondition": {"condition": "THRESHOLD", "expression": "80"}
    })
}

fn aws(v: Value) -> AwsJob {
    parse::from_value(v).expect("reads")
}

fn hawkbit(v: Value) -> HawkbitRollout {
    parse::from_value(v).expect("reads")
}

/// The path and kind of the error converting `v` gives.
fn aws_error(v: Value) -> (String, ErrorKind) {
    let e = match parse::from_value::<AwsJob>(v) {
        Ok(job) => job.run_builder().expect_err("must be refused"),
        Err(e) => e,
    };
    (e.path().unwrap_or("").to_string(), e.kind().clone())
}

fn hawkbit_error(v: Value) -> (String, ErrorKind) {
    let e = match parse::from_value::<HawkbitRollout>(v) {
        Ok(r) => r.run_builder().expect_err("must be refused"),
        Err(e) => e,
    };
    (e.path().unwrap_or("").to_string(), e.kind().clone())
}

fn with(mut base: Value, pointer: &str, value: Value) -> Value {
    *base.pointer_mut(pointer).unwrap() = value;
    base
}

fn without(mut base: Value, key: &str) -> Value {
    base.as_object_mut().unwrap().remove(key);
    base
}

fn dispatched(actions: &[Action]) -> Vec<u32> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Dispatch { device, .. } => Some(*device),
            _ => None,
        })
        .collect()
}

// ===== AWS =====

#[test]
fn an_aws_job_reads_and_writes_back_the_same_json() {
    let job = aws(aws_example());
    job.validate().unwrap();
    assert_eq!(parse::to_value(&job).unwrap(), aws_example());
    let def = JobDefinition::from_value(aws_example()).unwrap();
    assert!(matches!(def, JobDefinition::Aws(_)));
    assert_eq!(def.dialect(), "aws");
}

#[test]
fn an_aws_job_runs_with_its_rate_ramp_timeout_retries_and_abort_criteria() {
    let mut run: JobRun = aws(aws_example())
        .run_builder()
        .unwrap()
        .build(500)
        .unwrap();
    let mut actions = Vec::new();
    run.handle(0, Input::Start, &mut actions).unwrap();
    // The ramp's base rate: 10 devices in the first minute.
    assert_eq!(dispatched(&actions), (0..10).collect::<Vec<_>>());
    assert_eq!(run.rate_per_minute(), Some(10));
    // The in-progress timeout: 30 minutes after each dispatch.
    assert!(actions.contains(&Action::SetTimer {
        at_ms: 1_800_000,
        timer: Timer::DeviceTimeout {
            device: 0,
            attempt: 1
        }
    }));
    // Retries: FAILED 2.
    actions.clear();
    run.handle(
        1_000,
        Input::Outcome {
            device: 0,
            attempt: 1,
            outcome: Outcome::Failed,
        },
        &mut actions,
    )
    .unwrap();
    assert_eq!(
        actions[0],
        Action::Dispatch {
            device: 0,
            attempt: 2
        }
    );
}

#[test]
fn an_aws_job_without_a_rollout_config_gets_aws_default_rate() {
    let v = without(
        without(
            without(
                without(aws_example(), "jobExecutionsRolloutConfig"),
                "abortConfig",
            ),
            "jobExecutionsRetryConfig",
        ),
        "timeoutConfig",
    );
    let mut run = aws(v).run_builder().unwrap().build(1_500).unwrap();
    let mut actions = Vec::new();
    run.handle(0, Input::Start, &mut actions).unwrap();
    assert_eq!(dispatched(&actions).len(), 1_000);
    assert_eq!(run.rate_per_minute(), Some(1_000));
}

#[test]
fn the_first_aws_abort_criterion_that_holds_cancels() {
    // TIMED_OUT 30 % after 10 executed: 3 timeouts among 10.
    let mut run = aws(aws_example())
        .run_builder()
        .unwrap()
        .build(100)
        .unwrap();
    let mut actions = Vec::new();
    run.handle(0, Input::Start, &mut actions).unwrap();
    for d in 0..10u32 {
        let timer = Timer::DeviceTimeout {
            device: d,
            attempt: 1,
        };
        let outcome = if d < 3 {
            None
        } else {
            Some(Outcome::Succeeded)
        };
        match outcome {
            // A timeout is retried once (TIMED_OUT 1), then final.
            None => {
                run.handle(1_800_000, Input::Timer(timer), &mut actions)
                    .unwrap();
                run.handle(
                    3_600_000,
                    Input::Timer(Timer::DeviceTimeout {
                        device: d,
                        attempt: 2,
                    }),
                    &mut actions,
                )
                .unwrap();
            }
            Some(o) => run
                .handle(
                    3_600_000,
                    Input::Outcome {
                        device: d,
                        attempt: 1,
                        outcome: o,
                    },
                    &mut actions,
                )
                .unwrap(),
        }
    }
    assert_eq!(run.status(), RunStatus::Cancelled);
    let trip = run.abort_trip().unwrap();
    assert_eq!((trip.criterion, trip.executed, trip.failures), (1, 10, 3));
}

#[test]
fn aws_errors_name_the_field() {
    let cases: Vec<(Value, &str)> = vec![
        (
            with(
                aws_example(),
                "/jobExecutionsRolloutConfig/maximumPerMinute",
                json!(0),
            ),
            "jobExecutionsRolloutConfig.maximumPerMinute",
        ),
        (
            with(
                aws_example(),
                "/jobExecutionsRolloutConfig/maximumPerMinute",
                json!(1001),
            ),
            "jobExecutionsRolloutConfig.maximumPerMinute",
        ),
        (
            with(
                aws_example(),
                "/jobExecutionsRolloutConfig/exponentialRate/incrementFactor",
                json!(1.15),
            ),
            "jobExecutionsRolloutConfig.exponentialRate.incrementFactor",
        ),
        (
            with(
                aws_example(),
                "/jobExecutionsRolloutConfig/exponentialRate/incrementFactor",
                json!(5.5),
            ),
            "jobExecutionsRolloutConfig.exponentialRate.incrementFactor",
        ),
        (
            with(
                aws_example(),
                "/jobExecutionsRolloutConfig/exponentialRate/baseRatePerMinute",
                json!(101),
            ),
            "jobExecutionsRolloutConfig.exponentialRate.baseRatePerMinute",
        ),
        (
            with(
                aws_example(),
                "/jobExecutionsRolloutConfig/exponentialRate/rateIncreaseCriteria",
                json!({"numberOfNotifiedThings": 5, "numberOfSucceededThings": 5}),
            ),
            "jobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria",
        ),
        (
            with(
                aws_example(),
                "/abortConfig/criteriaList/0/thresholdPercentage",
                json!(10.999),
            ),
            "abortConfig.criteriaList[0].thresholdPercentage",
        ),
        (
            with(
                aws_example(),
                "/abortConfig/criteriaList/1/thresholdPercentage",
                json!(0),
            ),
            "abortConfig.criteriaList[1].thresholdPercentage",
        ),
        (
            with(
                aws_example(),
                "/abortConfig/criteriaList/1/minNumberOfExecutedThings",
                json!(0),
            ),
            "abortConfig.criteriaList[1].minNumberOfExecutedThings",
        ),
        (
            with(aws_example(), "/abortConfig/criteriaList", json!([])),
            "abortConfig.criteriaList",
        ),
        (
            with(
                aws_example(),
                "/timeoutConfig/inProgressTimeoutInMinutes",
                json!(10_081),
            ),
            "timeoutConfig.inProgressTimeoutInMinutes",
        ),
        (
            with(
                aws_example(),
                "/jobExecutionsRetryConfig/criteriaList/0/numberOfRetries",
                json!(11),
            ),
            "jobExecutionsRetryConfig.criteriaList[0].numberOfRetries",
        ),
        (
            with(
                aws_example(),
                "/jobExecutionsRetryConfig/criteriaList/1/failureType",
                json!("REJECTED"),
            ),
            "jobExecutionsRetryConfig.criteriaList[1].failureType",
        ),
        (
            with(
                aws_example(),
                "/jobExecutionsRetryConfig/criteriaList/1/failureType",
                json!("FAILED"),
            ),
            "jobExecutionsRetryConfig.criteriaList[1].failureType",
        ),
        (
            with(
                aws_example(),
                "/jobExecutionsRetryConfig/criteriaList/1/failureType",
                json!("ALL"),
            ),
            "jobExecutionsRetryConfig.criteriaList",
        ),
        (
            with(aws_example(), "/targetSelection", json!("CONTINUOUS")),
            "targetSelection",
        ),
        (with(aws_example(), "/jobId", json!("bad id")), "jobId"),
    ];
    for (v, path) in cases {
        let (got, kind) = aws_error(v);
        assert_eq!(got, path, "{kind:?}");
    }
    // Unknown fields and words are shape errors at their path.
    let (path, kind) = aws_error(with(
        aws_example(),
        "/abortConfig/criteriaList/0",
        json!({"failureType": "FAILED", "action": "CANCEL", "thresholdPercent": 10, "minNumberOfExecutedThings": 1}),
    ));
    assert_eq!(path, "abortConfig.criteriaList[0].thresholdPercent");
    assert!(matches!(kind, ErrorKind::Json(_)));
    let (path, _) = aws_error(with(
        aws_example(),
        "/abortConfig/criteriaList/0/action",
        json!("PAUSE"),
    ));
    assert_eq!(path, "abortConfig.criteriaList[0].action");
    // A job needs something to run.
    let (path, kind) = aws_error(without(aws_example(), "document"));
    assert_eq!(
        (path.as_str(), kind),
        ("document", ErrorKind::MissingField("document"))
    );
}

/// The AWS example with this `schedulingConfig`.
fn scheduled(config: Value) -> Value {
    let mut v = aws_example();
    v.as_object_mut()
        .unwrap()
        .insert("schedulingConfig".into(), config);
    v
}

/// 2026-12-01T00:00:00Z, in ms.
const DEC_1: i64 = 1_796_083_200_000;
const HOUR: i64 = 3_600_000;

#[test]
fn an_aws_scheduling_config_gives_the_run_its_windows_and_the_driver_its_times() {
    let v = scheduled(json!({
        "startTime": "2026-12-01T01:00",
        "endTime": "2026-12-03T06:00",
        "endBehavior": "CANCEL",
        "maintenanceWindows": [{"startTime": "cron(0 2 * * ? *)", "durationInMinutes": 120}]
    }));
    let job = aws(v.clone());
    job.validate().unwrap();
    assert_eq!(parse::to_value(&job).unwrap(), v);
    // The driver's part: submit at startTime, hand the end behaviour's input at endTime.
    let scheduling = job.scheduling().unwrap().expect("a schedulingConfig");
    assert_eq!(scheduling.start_ms(), Some(DEC_1 + HOUR));
    let end = scheduling.end_action(DEC_1 + HOUR).unwrap();
    assert_eq!(end.at_ms, DEC_1 + 2 * 24 * HOUR + 6 * HOUR);
    assert_eq!(end.input, Input::Cancel { force: false });
    // The run's part: the maintenance windows.
    let mut run = job.run_builder().unwrap().build(3).unwrap();
    assert_eq!(run.maintenance_windows(), scheduling.windows());
    let mut actions = Vec::new();
    run.handle(DEC_1 + HOUR, Input::Start, &mut actions)
        .unwrap();
    assert_eq!(
        actions,
        [
            Action::Status(RunStatus::Running),
            Action::SetTimer {
                at_ms: DEC_1 + 2 * HOUR,
                timer: Timer::Window
            }
        ],
        "started at 01:00 UTC, before the window: nothing dispatched"
    );
    actions.clear();
    run.handle(DEC_1 + 2 * HOUR, Input::Timer(Timer::Window), &mut actions)
        .unwrap();
    assert_eq!(dispatched(&actions), [0, 1, 2]);
    // A driver whose clock starts elsewhere says where its time 0 is.
    let mut run = job
        .run_builder()
        .unwrap()
        .clock_origin_ms(DEC_1 + 3 * HOUR)
        .build(1)
        .unwrap();
    actions.clear();
    run.handle(0, Input::Start, &mut actions).unwrap();
    assert_eq!(dispatched(&actions), [0], "03:00 UTC is inside the window");
}

#[test]
fn an_aws_scheduling_config_without_windows_does_not_restrict_the_run() {
    for config in [
        json!({"startTime": "2026-12-01T01:00"}),
        json!({"maintenanceWindows": []}),
        json!({}),
    ] {
        let job = aws(scheduled(config.clone()));
        let mut run = job.run_builder().unwrap().build(2).unwrap();
        assert_eq!(run.maintenance_windows(), None, "{config}");
        let mut actions = Vec::new();
        run.handle(0, Input::Start, &mut actions).unwrap();
        assert_eq!(dispatched(&actions), [0, 1], "{config}");
        assert!(job.scheduling().unwrap().is_some());
    }
    let job = aws(aws_example());
    assert_eq!(job.scheduling().unwrap(), None);
    assert_eq!(
        job.run_builder()
            .unwrap()
            .build(1)
            .unwrap()
            .maintenance_windows(),
        None
    );
    // The end behaviour without endTime does not apply; endTime alone stops the rollout.
    let job = aws(scheduled(json!({"endBehavior": "FORCE_CANCEL"})));
    assert_eq!(job.scheduling().unwrap().unwrap().end_action(0), None);
    let job = aws(scheduled(json!({"endTime": "2026-12-01T06:00:00Z"})));
    let end = job.scheduling().unwrap().unwrap().end_action(0).unwrap();
    assert_eq!(end.input, Input::Stop);
}

#[test]
fn aws_scheduling_errors_name_the_field() {
    let window =
        |cron: &str, minutes: u32| json!({"startTime": cron, "durationInMinutes": minutes});
    let cases = [
        (
            json!({"startTime": "tomorrow"}),
            "schedulingConfig.startTime",
        ),
        (
            json!({"startTime": "2026-12-01T01:00", "endTime": "2026-12-01T01:20"}),
            "schedulingConfig.endTime",
        ),
        (
            json!({"maintenanceWindows": [window("cron(0 2 * * ? *)", 60), window("0 2 * * *", 60)]}),
            "schedulingConfig.maintenanceWindows[1].startTime",
        ),
        (
            json!({"maintenanceWindows": [window("cron(0 2 * * ? *)", 0)]}),
            "schedulingConfig.maintenanceWindows[0].durationInMinutes",
        ),
        (
            json!({"maintenanceWindows": [window("cron(0 2 * * ? *)", 60), window("cron(0 2 * * ? *)", 1431)]}),
            "schedulingConfig.maintenanceWindows[1].durationInMinutes",
        ),
    ];
    for (config, path) in cases {
        let v = scheduled(config.clone());
        let (got, kind) = aws_error(v.clone());
        assert_eq!(got, path, "{config}");
        assert!(matches!(kind, ErrorKind::InvalidValue(_)), "{kind:?}");
        let job = aws(v);
        assert_eq!(job.validate().unwrap_err().path(), Some(path));
        assert_eq!(job.scheduling().unwrap_err().path(), Some(path));
    }
    // An unknown field is a shape error at its path.
    let (path, kind) = aws_error(scheduled(json!({"timeZone": "UTC"})));
    assert_eq!(path, "schedulingConfig.timeZone");
    assert!(matches!(kind, ErrorKind::Json(_)));
}

#[test]
fn aws_words_for_devices_and_jobs() {
    use DeviceState::*;
    let words: Vec<&str> = [
        Pending, InFlight, Succeeded, Failed, Rejected, TimedOut, Cancelled,
    ]
    .into_iter()
    .map(|s| AwsExecutionStatus::from(s).as_str())
    .collect();
    assert_eq!(
        words,
        [
            "QUEUED",
            "IN_PROGRESS",
            "SUCCEEDED",
            "FAILED",
            "REJECTED",
            "TIMED_OUT",
            "CANCELED"
        ]
    );
    assert_eq!(
        serde_json::from_str::<AwsExecutionStatus>("\"REMOVED\"")
            .unwrap()
            .device_state(),
        Cancelled
    );
    assert_eq!(
        AwsJobStatus::from(RunStatus::Paused).as_str(),
        "IN_PROGRESS"
    );
    assert_eq!(
        AwsJobStatus::from(RunStatus::Complete).as_str(),
        "COMPLETED"
    );
    assert_eq!(
        AwsJobStatus::from(RunStatus::Cancelled).as_str(),
        "CANCELED"
    );
}

// ===== hawkBit =====

#[test]
fn a_hawkbit_rollout_reads_and_writes_back_the_same_json() {
    let r = hawkbit(hawkbit_example());
    r.validate().unwrap();
    assert_eq!(parse::to_value(&r).unwrap(), hawkbit_example());
    let def = JobDefinition::from_value(hawkbit_example()).unwrap();
    assert!(matches!(def, JobDefinition::Hawkbit(_)));
    assert_eq!(def.dialect(), "hawkbit");
}

#[test]
fn a_hawkbit_rollout_runs_in_equal_groups_behind_its_gate() {
    let mut run = hawkbit(hawkbit_example())
        .run_builder()
        .unwrap()
        .build(12)
        .unwrap();
    assert_eq!(run.plan().sizes().collect::<Vec<_>>(), [3, 3, 2, 2, 2]);
    let mut actions = Vec::new();
    run.handle(0, Input::Start, &mut actions).unwrap();
    assert_eq!(dispatched(&actions), [0, 1, 2]);
    // Success 50 % of 3 is 2 devices, NEXTGROUP.
    for d in 0..2 {
        actions.clear();
        run.handle(
            1,
            Input::Outcome {
                device: d,
                attempt: 1,
                outcome: Outcome::Succeeded,
            },
            &mut actions,
        )
        .unwrap();
    }
    assert_eq!(dispatched(&actions), [3, 4, 5]);
    // Error 80 % of 3: 3 failures pause the run.
    for d in 3..6 {
        actions.clear();
        run.handle(
            2,
            Input::Outcome {
                device: d,
                attempt: 1,
                outcome: Outcome::Failed,
            },
            &mut actions,
        )
        .unwrap();
    }
    assert_eq!(run.status(), RunStatus::Paused);
    assert!(matches!(
        run.pauses()[0].reason,
        PauseReason::ErrorCondition {
            failures: 3,
            limit: 3
        }
    ));
}

#[test]
fn hawkbit_defaults_and_groups() {
    // No conditions: hawkBit's defaults (success 50 NEXTGROUP, error 50 PAUSE); no amountGroups:
    // one group.
    let r = hawkbit(json!({"name": "r", "distributionSetId": 1}));
    let gate = r.gate().unwrap();
    assert_eq!(gate.success.unwrap().threshold.value(), 50.0);
    assert_eq!(gate.error.unwrap().value(), 50.0);
    assert_eq!(r.group_count(), 1);
    // Explicit groups with the equal split's percentages, or none, and repeated conditions.
    let r = hawkbit(json!({
        "name": "r", "distributionSetId": 1,
        "successCondition": {"condition": "THRESHOLD", "expression": "100"},
        "successAction": {"action": "PAUSE"},
        "groups": [
            {"name": "g1", "targetPercentage": 25.0},
            {"name": "g2", "targetPercentage": 33.33, "successCondition": {"condition": "THRESHOLD", "expression": "100"}},
            {"name": "g3"},
            {"name": "g4", "targetPercentage": 100}
        ]
    }));
    r.validate().unwrap();
    let run = r.run_builder().unwrap().build(8).unwrap();
    assert_eq!(run.plan().sizes().collect::<Vec<_>>(), [2, 2, 2, 2]);
    // Phased groups: 1 %, then 10 % of the rest, then the rest, rounded as hawkBit rounds.
    let r = hawkbit(json!({
        "name": "r", "distributionSetId": 1,
        "groups": [
            {"name": "canary", "targetPercentage": 1},
            {"name": "early", "targetPercentage": 10},
            {"name": "rest", "targetPercentage": 100}
        ]
    }));
    r.validate().unwrap();
    let run = r.run_builder().unwrap().build(1000).unwrap();
    assert_eq!(run.plan().sizes().collect::<Vec<_>>(), [10, 99, 891]);
    let run = r.run_builder().unwrap().build(30).unwrap();
    assert_eq!(
        run.plan().sizes().collect::<Vec<_>>(),
        [3, 27],
        "1 % of 30 rounds to 0"
    );
}

#[test]
fn hawkbit_errors_name_the_field() {
    let cases: Vec<(Value, &str)> = vec![
        (
            with(
                hawkbit_example(),
                "/successCondition/expression",
                json!("fifty"),
            ),
            "successCondition.expression",
        ),
        (
            with(
                hawkbit_example(),
                "/errorCondition/expression",
                json!("101"),
            ),
            "errorCondition.expression",
        ),
        (
            with(hawkbit_example(), "/amountGroups", json!(0)),
            "amountGroups",
        ),
        (
            with(hawkbit_example(), "/amountGroups", json!(501)),
            "amountGroups",
        ),
        (without(hawkbit_example(), "name"), "name"),
        (
            without(hawkbit_example(), "distributionSetId"),
            "distributionSetId",
        ),
        (
            with(hawkbit_example(), "/confirmationRequired", json!("no")),
            "confirmationRequired",
        ),
    ];
    for (v, path) in cases {
        let (got, kind) = hawkbit_error(v);
        assert_eq!(got, path, "{kind:?}");
    }
    let groups = |groups: Value| {
        let mut v = without(hawkbit_example(), "amountGroups");
        v.as_object_mut().unwrap().insert("groups".into(), groups);
        v
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            groups(json!([{"name": "a", "targetFilterQuery": "id==x*"}])),
            "groups[0].targetFilterQuery",
        ),
        (
            groups(json!([{"name": "a", "targetPercentage": 20}, {"name": "b"}])),
            "groups[1].targetPercentage",
        ),
        (
            groups(
                json!([{"name": "a", "targetPercentage": 10}, {"name": "b", "targetPercentage": 50}]),
            ),
            "groups[1].targetPercentage",
        ),
        (
            groups(
                json!([{"name": "a", "targetPercentage": 0}, {"name": "b", "targetPercentage": 100}]),
            ),
            "groups[1].targetPercentage",
        ),
        (
            groups(
                json!([{"name": "a"}, {"name": "b", "errorCondition": {"condition": "THRESHOLD", "expression": "10"}}]),
            ),
            "groups[1].errorCondition",
        ),
        (
            groups(json!([{"name": "a", "successAction": {"action": "PAUSE"}}])),
            "groups[0].successAction",
        ),
        (groups(json!([])), "groups"),
    ];
    for (v, path) in cases {
        let (got, kind) = hawkbit_error(v);
        assert_eq!(got, path, "{kind:?}");
    }
    // amountGroups and groups together.
    let mut v = hawkbit_example();
    v.as_object_mut()
        .unwrap()
        .insert("groups".into(), json!([{"name": "a"}]));
    assert_eq!(hawkbit_error(v).0, "groups");
    // A scheduled start is not simulated yet.
    let v = with(hawkbit_example(), "/forcetime", json!(1));
    let mut v = v;
    v.as_object_mut()
        .unwrap()
        .insert("startAt".into(), json!(1_682_408_570_791_i64));
    let (path, _) = hawkbit_error(v);
    assert_eq!(path, "startAt");
}
