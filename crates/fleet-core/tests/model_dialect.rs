//! The engine's statuses and counts in each dialect's words, and the spelling of values built in
//! code.

use fleet_core::model::{
    parse, CentralJobStatus, DataType, DeviceJobStatistics, DeviceStatus, HubJobStatus, Job,
    JobData, JobDeviceStatus, Progress, Spelling, Word,
};
use fleet_core::{
    BatchSize, Counts, DeviceState, Input, Outcome, RunBuilder, RunStatus, Threshold,
};
use serde_json::json;

const RUN_STATUSES: [RunStatus; 6] = [
    RunStatus::Pending,
    RunStatus::Running,
    RunStatus::Stopped,
    RunStatus::Complete,
    RunStatus::Cancelled,
    RunStatus::Failed,
];

#[test]
fn central_job_status_words() {
    let words: Vec<&str> = RUN_STATUSES
        .iter()
        .map(|&s| CentralJobStatus::from(s).as_str())
        .collect();
    assert_eq!(
        words,
        [
            "pending",
            "running",
            "stopped",
            "complete",
            "cancelled",
            "failed"
        ]
    );
    // The same words as the engine's own `RunStatus::as_str`.
    for s in RUN_STATUSES {
        assert_eq!(CentralJobStatus::from(s).as_str(), s.as_str());
    }
}

#[test]
fn central_job_status_maps_back_one_to_one() {
    for s in RUN_STATUSES {
        assert_eq!(RunStatus::from(CentralJobStatus::from(s)), s);
    }
}

#[test]
fn central_alternate_spellings_read_as_the_same_status_and_write_back_as_read() {
    for (word, status) in [
        ("complete", RunStatus::Complete),
        ("completed", RunStatus::Complete),
        ("cancelled", RunStatus::Cancelled),
        ("canceled", RunStatus::Cancelled),
    ] {
        let read: Word<CentralJobStatus> = parse::from_str(&format!("\"{word}\"")).unwrap();
        assert_eq!(RunStatus::from(read.value()), status);
        assert_eq!(parse::to_string(&read).unwrap(), format!("\"{word}\""));
        // The bare enum always writes the specification's word.
        assert_eq!(read.value().as_str(), status.as_str());
    }
    assert_eq!(
        "canceled".parse::<CentralJobStatus>().unwrap(),
        CentralJobStatus::Cancelled
    );
    assert!("done".parse::<CentralJobStatus>().is_err());
}

#[test]
fn hub_job_status_words() {
    let words: Vec<&str> = RUN_STATUSES
        .iter()
        .map(|&s| HubJobStatus::from_run(s, false).as_str())
        .collect();
    assert_eq!(
        words,
        [
            "queued",
            "running",
            "running",
            "completed",
            "cancelled",
            "failed"
        ]
    );
    assert_eq!(
        HubJobStatus::from_run(RunStatus::Pending, true),
        HubJobStatus::Scheduled
    );
    // `scheduled` only matters for a pending run.
    assert_eq!(
        HubJobStatus::from_run(RunStatus::Running, true),
        HubJobStatus::Running
    );
}

#[test]
fn hub_words_map_back_to_engine_statuses() {
    use HubJobStatus::*;
    let cases = [
        (Unknown, None),
        (Enqueued, Some(RunStatus::Pending)),
        (Queued, Some(RunStatus::Pending)),
        (Scheduled, Some(RunStatus::Pending)),
        (Running, Some(RunStatus::Running)),
        (Completed, Some(RunStatus::Complete)),
        (Failed, Some(RunStatus::Failed)),
        (Cancelled, Some(RunStatus::Cancelled)),
    ];
    for (hub, run) in cases {
        assert_eq!(hub.run_status(), run, "{hub}");
        assert_eq!(
            hub.is_final(),
            run.is_some_and(RunStatus::is_final),
            "{hub}"
        );
    }
    // Every status but Stopped survives the trip (Stopped reads back as Running).
    for s in RUN_STATUSES {
        let back = HubJobStatus::from_run(s, false).run_status().unwrap();
        let expected = if s == RunStatus::Stopped {
            RunStatus::Running
        } else {
            s
        };
        assert_eq!(back, expected);
    }
}

#[test]
fn per_device_status_words() {
    let cases = [
        (DeviceState::Pending, "pending"),
        (DeviceState::InFlight, "pending"),
        (DeviceState::Succeeded, "completed"),
        (DeviceState::Failed, "failed"),
        (DeviceState::Rejected, "failed"),
        (DeviceState::TimedOut, "failed"),
        (DeviceState::Cancelled, "pending"),
    ];
    for (state, word) in cases {
        assert_eq!(DeviceStatus::from(state).as_str(), word, "{state}");
    }
    let row = JobDeviceStatus {
        id: "therm-01".into(),
        status: DeviceState::Succeeded.into(),
    };
    assert_eq!(
        parse::to_value(&row).unwrap(),
        json!({"id": "therm-01", "status": "completed"})
    );
}

#[test]
fn counts_to_progress_and_statistics() {
    let counts = Counts {
        total: 100,
        pending: 40,
        in_flight: 10,
        succeeded: 30,
        failed: 15,
        cancelled: 5,
    };
    assert_eq!(
        Progress::from(counts),
        Progress {
            total: 100,
            pending: 55,
            completed: 30,
            failed: 15
        }
    );
    assert_eq!(
        DeviceJobStatistics::from(counts),
        DeviceJobStatistics {
            device_count: 100,
            failed_count: 15,
            succeeded_count: 30,
            running_count: 10,
            pending_count: 45
        }
    );
    assert_eq!(
        parse::to_value(&Progress::from(counts)).unwrap(),
        json!({"total": 100, "pending": 55, "completed": 30, "failed": 15})
    );
    assert_eq!(
        parse::to_value(&DeviceJobStatistics::from(counts)).unwrap(),
        json!({"deviceCount": 100, "failedCount": 15, "succeededCount": 30,
               "runningCount": 10, "pendingCount": 45})
    );
}

#[test]
fn a_cancelled_run_in_both_dialects() {
    // The crate tutorial's run: 7 devices, batches of 25 %, cancelled by 2 failures in batch 1.
    let mut run = RunBuilder::new()
        .batch(BatchSize::percentage(25.0).unwrap())
        .threshold(Threshold::number(2, true).unwrap())
        .build(7)
        .unwrap();
    let mut actions = Vec::new();
    run.handle(0, Input::Start, &mut actions).unwrap();
    for (device, outcome) in [
        (0, Outcome::Succeeded),
        (1, Outcome::Succeeded),
        (2, Outcome::Failed),
        (3, Outcome::Failed),
    ] {
        run.handle(
            1_000,
            Input::Outcome {
                device,
                attempt: 1,
                outcome,
            },
            &mut actions,
        )
        .unwrap();
    }
    assert_eq!(run.status(), RunStatus::Cancelled);

    let mut job = Job::new(
        "group1",
        vec![JobData::property(
            "dtmi:x:y",
            "targetTemperature",
            json!(21),
        )],
    );
    job.status = Some(CentralJobStatus::from(run.status()).into());
    job.progress = Some(run.counts().into());
    let written = parse::to_value(&job).unwrap();
    assert_eq!(written["status"], "cancelled");
    assert_eq!(
        written["progress"],
        json!({"total": 7, "pending": 3, "completed": 2, "failed": 2})
    );
    let stats = DeviceJobStatistics::from(run.counts());
    assert_eq!(
        (
            stats.succeeded_count,
            stats.failed_count,
            stats.pending_count
        ),
        (2, 2, 3)
    );
    assert_eq!(
        HubJobStatus::from_run(run.status(), false),
        HubJobStatus::Cancelled
    );
    let devices: Vec<&str> = run
        .device_states()
        .iter()
        .map(|&s| DeviceStatus::from(s).as_str())
        .collect();
    assert_eq!(
        devices,
        [
            "completed",
            "completed",
            "failed",
            "failed",
            "pending",
            "pending",
            "pending"
        ]
    );
}

#[test]
fn values_built_in_code_use_the_specification_spelling() {
    let mut job = Job::new(
        "group1",
        vec![JobData::property(
            "dtmi:x:y",
            "targetTemperature",
            json!("56"),
        )],
    );
    job.status = Some(CentralJobStatus::Complete.into());
    let written = parse::to_value(&job).unwrap();
    assert_eq!(written["data"][0]["type"], "property");
    assert_eq!(written["data"][0]["value"], "56");
    assert_eq!(written["status"], "complete");

    let entries = [
        (JobData::cloud_property("t", "p", json!(1)), "cloudProperty"),
        (JobData::command("t", "p", None), "command"),
        (
            JobData::device_template_migration("dtmi:b"),
            "deviceTemplateMigration",
        ),
        (
            JobData::device_manifest_migration("m"),
            "deviceManifestMigration",
        ),
    ];
    for (entry, word) in entries {
        assert_eq!(parse::to_value(&entry).unwrap()["type"], word);
        assert!(entry.operation().is_ok());
    }
    // A command without a payload writes no `value`; a property set to null writes `null`.
    assert_eq!(
        parse::to_value(&JobData::command("t", "p", None)).unwrap(),
        json!({"type": "command", "target": "t", "path": "p"})
    );
    assert_eq!(
        parse::to_value(&JobData::property("t", "p", json!(null))).unwrap(),
        json!({"type": "property", "target": "t", "path": "p", "value": null})
    );
    // An alternate spelling can be asked for explicitly.
    let mut entry = JobData::property("t", "p", json!(1));
    entry.kind = Word::with_spelling(DataType::Property, Spelling::Alternate);
    assert_eq!(parse::to_value(&entry).unwrap()["type"], "PropertyJobData");
    // A member without an alternate keeps its only word.
    let pending = Word::with_spelling(CentralJobStatus::Pending, Spelling::Alternate);
    assert_eq!(pending.as_str(), "pending");
    assert_eq!(pending.spelling(), Spelling::Spec);
}

#[test]
fn data_types_read_in_both_spellings() {
    for (word, expected, spelling) in [
        ("property", DataType::Property, Spelling::Spec),
        ("PropertyJobData", DataType::Property, Spelling::Alternate),
        ("cloudProperty", DataType::CloudProperty, Spelling::Spec),
        (
            "CloudPropertyJobData",
            DataType::CloudProperty,
            Spelling::Alternate,
        ),
        ("command", DataType::Command, Spelling::Spec),
        ("CommandJobData", DataType::Command, Spelling::Alternate),
        (
            "deviceTemplateMigration",
            DataType::DeviceTemplateMigration,
            Spelling::Spec,
        ),
        (
            "DeviceTemplateMigrationJobData",
            DataType::DeviceTemplateMigration,
            Spelling::Alternate,
        ),
        (
            "deviceManifestMigration",
            DataType::DeviceManifestMigration,
            Spelling::Spec,
        ),
        (
            "DeviceManifestMigrationJobData",
            DataType::DeviceManifestMigration,
            Spelling::Alternate,
        ),
    ] {
        let w = Word::<DataType>::parse(word).unwrap();
        assert_eq!((w.value(), w.spelling()), (expected, spelling), "{word}");
        assert_eq!(w.as_str(), word);
        assert_eq!(
            expected.is_capability(),
            expected.as_str().contains("roperty") || expected == DataType::Command
        );
    }
}
