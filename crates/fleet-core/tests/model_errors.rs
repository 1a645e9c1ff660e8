//! Parse errors: unknown fields, wrong types and unknown words are `ErrorKind::Json` errors whose
//! path names the field.

use fleet_core::model::{
    parse, Collection, DeviceGroup, Job, JobDefinition, JobRequest, JobResponse, ScheduledJob,
    ScheduledJobPatch,
};
use fleet_core::ErrorKind;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// A valid job to break in one place.
fn job() -> Value {
    json!({
        "id": "job-004",
        "group": "833d7a7d-8f99-4e04-9e56-745806bdba6e",
        "batch": {"type": "percentage", "value": 25},
        "cancellationThreshold": {"type": "percentage", "value": 10, "batch": false},
        "data": [{"type": "CommandJobData", "target": "dtmi:x:y", "path": "getMaxMinReport", "value": "2021"}],
        "progress": {"total": 4, "pending": 0, "completed": 4, "failed": 0},
        "status": "complete"
    })
}

fn scheduled() -> Value {
    json!({
        "id": "scheduled-Job-001",
        "group": "6fecf96f-a26c-49ed-8076-6960f8efba31",
        "data": [{"type": "cloudProperty", "target": "dtmi:x:y", "path": "Company", "value": "Contoso"}],
        "schedule": {"start": "2022-10-24T22:29:01Z", "recurrence": "daily",
                     "end": {"type": "occurrences", "occurrences": 3}},
        "enabled": false
    })
}

fn hub_request() -> Value {
    json!({
        "jobId": "reboot-floor-3",
        "type": "scheduleDeviceMethod",
        "cloudToDeviceMethod": {"methodName": "reboot", "payload": {}, "responseTimeoutInSeconds": 30},
        "queryCondition": "*",
        "startTime": null,
        "maxExecutionTimeInSeconds": 600
    })
}

/// Parses `value` (as text) as a `T` and returns the error's path and message, asserting the
/// kind is `Json`.
fn json_error<T: DeserializeOwned + std::fmt::Debug>(value: &Value) -> (Option<String>, String) {
    let text = serde_json::to_string_pretty(value).unwrap();
    let err = parse::from_str::<T>(&text).expect_err("must not parse");
    let ErrorKind::Json(message) = err.kind() else {
        panic!("expected a Json error, got {err:?}");
    };
    (err.path().map(str::to_string), message.clone())
}

/// Sets the field at `pointer` (JSON pointer) to `v`.
fn set(mut doc: Value, pointer: &str, v: Value) -> Value {
    let (parent, name) = pointer.rsplit_once('/').unwrap();
    let target = doc.pointer_mut(parent).unwrap();
    match target {
        Value::Object(map) => {
            map.insert(name.to_string(), v);
        }
        Value::Array(items) => items[name.parse::<usize>().unwrap()] = v,
        _ => panic!("not a container"),
    }
    doc
}

fn assert_path<T: DeserializeOwned + std::fmt::Debug>(doc: &Value, path: &str, needle: &str) {
    let (got, message) = json_error::<T>(doc);
    assert_eq!(got.as_deref(), Some(path), "message: {message}");
    assert!(
        message.contains(needle),
        "message {message:?} should contain {needle:?}"
    );
}

#[test]
fn the_valid_documents_parse() {
    parse::from_value::<Job>(job()).unwrap();
    parse::from_value::<ScheduledJob>(scheduled()).unwrap();
    parse::from_value::<JobRequest>(hub_request()).unwrap();
}

// ----- unknown fields -----

#[test]
fn unknown_field_in_a_data_entry() {
    let doc = set(job(), "/data/0/valu", json!(5));
    assert_path::<Job>(&doc, "data[0].valu", "unknown field `valu`");
}

#[test]
fn unknown_field_at_the_top() {
    let doc = set(job(), "/statuz", json!("complete"));
    assert_path::<Job>(&doc, "statuz", "unknown field `statuz`");
}

#[test]
fn unknown_field_in_batch_threshold_and_progress() {
    assert_path::<Job>(
        &set(job(), "/batch/size", json!(3)),
        "batch.size",
        "unknown field",
    );
    assert_path::<Job>(
        &set(job(), "/cancellationThreshold/perBatch", json!(true)),
        "cancellationThreshold.perBatch",
        "unknown field",
    );
    assert_path::<Job>(
        &set(job(), "/progress/running", json!(1)),
        "progress.running",
        "unknown field",
    );
}

#[test]
fn run_fields_are_unknown_in_a_scheduled_job() {
    assert_path::<ScheduledJob>(
        &set(scheduled(), "/status", json!("running")),
        "status",
        "unknown field `status`",
    );
    assert_path::<ScheduledJob>(
        &set(scheduled(), "/schedule/end/occurences", json!(3)),
        "schedule.end.occurences",
        "unknown field",
    );
}

#[test]
fn unknown_field_in_a_patch_and_a_device_group() {
    let patch = json!({"schedule": {"start": "2022-10-24T22:29:01Z"}, "completed": true});
    assert_path::<ScheduledJobPatch>(&patch, "completed", "unknown field `completed`");
    let group = json!({"displayName": "g", "filter": "SELECT * FROM devices", "filters": "x"});
    assert_path::<DeviceGroup>(&group, "filters", "unknown field `filters`");
}

#[test]
fn unknown_field_in_hub_payloads() {
    assert_path::<JobRequest>(
        &set(hub_request(), "/cloudToDeviceMethod/timeout", json!(30)),
        "cloudToDeviceMethod.timeout",
        "unknown field",
    );
    let twin = json!({
        "type": "scheduleUpdateTwin", "queryCondition": "*",
        "updateTwin": {"etag": "*", "properties": {"desired": {"a": 1}, "reported": {"b": 2}}}
    });
    assert_path::<JobRequest>(
        &twin,
        "updateTwin.properties.reported",
        "unknown field `reported`",
    );
}

#[test]
fn unknown_field_in_a_collection_element() {
    let list = json!({"value": [job(), set(job(), "/data/0/valeu", json!(1))]});
    assert_path::<Collection<Job>>(&list, "value[1].data[0].valeu", "unknown field");
    let list = json!({"value": [], "next_link": "x"});
    assert_path::<Collection<Job>>(&list, "next_link", "unknown field");
}

// ----- wrong types -----

#[test]
fn threshold_value_of_the_wrong_type() {
    let doc = set(job(), "/cancellationThreshold/value", json!("10"));
    assert_path::<Job>(&doc, "cancellationThreshold.value", "invalid type");
}

#[test]
fn wrong_types_name_their_field() {
    assert_path::<Job>(
        &set(job(), "/batch/value", json!(null)),
        "batch.value",
        "invalid type",
    );
    assert_path::<Job>(&set(job(), "/group", json!(7)), "group", "invalid type");
    assert_path::<Job>(
        &set(job(), "/data", json!({"type": "property"})),
        "data",
        "invalid type",
    );
    assert_path::<Job>(
        &set(job(), "/data/0/path", json!(["a"])),
        "data[0].path",
        "invalid type",
    );
    assert_path::<Job>(
        &set(job(), "/progress/total", json!(-1)),
        "progress.total",
        "invalid value",
    );
    assert_path::<Job>(
        &set(job(), "/organizations", json!("contoso")),
        "organizations",
        "invalid type",
    );
    assert_path::<ScheduledJob>(
        &set(scheduled(), "/schedule/end/occurrences", json!("3")),
        "schedule.end.occurrences",
        "invalid type",
    );
    assert_path::<ScheduledJob>(
        &set(scheduled(), "/enabled", json!("false")),
        "enabled",
        "invalid type",
    );
    assert_path::<JobRequest>(
        &set(
            hub_request(),
            "/cloudToDeviceMethod/responseTimeoutInSeconds",
            json!("30"),
        ),
        "cloudToDeviceMethod.responseTimeoutInSeconds",
        "invalid type",
    );
    assert_path::<JobRequest>(
        &set(hub_request(), "/maxExecutionTimeInSeconds", json!(1.5)),
        "maxExecutionTimeInSeconds",
        "invalid type",
    );
    assert_path::<JobRequest>(
        &set(hub_request(), "/startTime", json!(12)),
        "startTime",
        "invalid type",
    );
}

#[test]
fn threshold_batch_flag_accepts_only_booleans_and_the_mistaken_type_word() {
    for ok in [
        json!(true),
        json!(false),
        json!("number"),
        json!("percentage"),
    ] {
        parse::from_value::<Job>(set(job(), "/cancellationThreshold/batch", ok)).unwrap();
    }
    // `null` for an optional field reads as absent, as for every optional field outside the
    // few that keep `null` apart (`value`, `startTime`, merge-patch fields).
    let job_null: Job =
        parse::from_value(set(job(), "/cancellationThreshold/batch", json!(null))).unwrap();
    assert_eq!(job_null.cancellation_threshold.unwrap().batch, None);
    for bad in [json!("true"), json!("yes"), json!(1)] {
        assert_path::<Job>(
            &set(job(), "/cancellationThreshold/batch", bad),
            "cancellationThreshold.batch",
            "invalid type",
        );
    }
}

#[test]
fn elements_of_a_top_level_array_are_indexed() {
    let list = json!([
        {"jobId": "a", "type": "scheduleUpdateTwin"},
        {"jobId": 42, "type": "scheduleUpdateTwin"}
    ]);
    assert_path::<Vec<JobResponse>>(&list, "[1].jobId", "invalid type");
}

// ----- unknown words -----

#[test]
fn unknown_words_name_their_field_and_the_accepted_words() {
    assert_path::<Job>(
        &set(job(), "/data/0/type", json!("PropertyData")),
        "data[0].type",
        "`PropertyJobData`",
    );
    assert_path::<Job>(
        &set(job(), "/batch/type", json!("percent")),
        "batch.type",
        "unknown variant `percent`",
    );
    assert_path::<Job>(
        &set(job(), "/status", json!("done")),
        "status",
        "unknown variant `done`",
    );
    // Words are case-sensitive.
    assert_path::<Job>(
        &set(job(), "/status", json!("Complete")),
        "status",
        "unknown variant",
    );
    assert_path::<ScheduledJob>(
        &set(scheduled(), "/schedule/recurrence", json!("hourly")),
        "schedule.recurrence",
        "unknown variant `hourly`",
    );
    assert_path::<ScheduledJob>(
        &set(scheduled(), "/schedule/end/type", json!("count")),
        "schedule.end.type",
        "unknown variant",
    );
    assert_path::<JobRequest>(
        &set(hub_request(), "/type", json!("scheduleReboot")),
        "type",
        "unknown variant",
    );
    assert_path::<JobResponse>(
        &json!({"status": "canceled"}),
        "status",
        "unknown variant `canceled`",
    );
    let devices = json!({"value": [{"id": "d", "status": "succeeded"}]});
    assert_path::<Collection<fleet_core::model::JobDeviceStatus>>(
        &devices,
        "value[0].status",
        "unknown variant",
    );
}

// ----- the document as a whole -----

#[test]
fn missing_required_fields_are_parse_errors() {
    let mut doc = job();
    doc.as_object_mut().unwrap().remove("group");
    let (path, message) = json_error::<Job>(&doc);
    assert_eq!(path, None);
    assert!(message.contains("missing field `group`"), "{message}");

    let mut doc = scheduled();
    doc["schedule"].as_object_mut().unwrap().remove("start");
    assert_path::<ScheduledJob>(&doc, "schedule", "missing field `start`");
}

#[test]
fn syntax_errors_and_trailing_text_are_json_errors() {
    for text in ["{", "[]", "{\"group\": \"g\", \"data\": []} x", ""] {
        let err = parse::from_str::<Job>(text).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Json(_)), "{text:?}: {err}");
    }
    let err = parse::from_slice::<Job>(b"{\"group\": \"g\", \"data\": [1]}").unwrap_err();
    assert_eq!(err.path(), Some("data[0]"));
}

#[test]
fn messages_carry_the_line_and_the_path() {
    let text = "{\n  \"group\": \"g\",\n  \"data\": [\n    {\"type\": \"command\", \"pth\": \"x\"}\n  ]\n}";
    let err = parse::from_str::<Job>(text).unwrap_err();
    assert_eq!(err.path(), Some("data[0].pth"));
    let shown = err.to_string();
    assert!(
        shown.starts_with("data[0].pth: unknown field `pth`"),
        "{shown}"
    );
    assert!(shown.contains("line 4"), "{shown}");
}

#[test]
fn job_definition_tells_the_dialect_and_keeps_paths() {
    let central = serde_json::to_string(&job()).unwrap();
    assert!(matches!(
        JobDefinition::from_json(&central).unwrap(),
        JobDefinition::Central(_)
    ));
    let sched = serde_json::to_string(&scheduled()).unwrap();
    assert!(matches!(
        JobDefinition::from_json(&sched).unwrap(),
        JobDefinition::Scheduled(_)
    ));
    assert!(matches!(
        JobDefinition::from_value(hub_request()).unwrap(),
        JobDefinition::Hub(_)
    ));

    let err = JobDefinition::from_value(set(job(), "/data/0/valu", json!(1))).unwrap_err();
    assert_eq!(err.path(), Some("data[0].valu"));
    // A response's own fields are not part of a definition.
    let err =
        JobDefinition::from_value(set(hub_request(), "/status", json!("running"))).unwrap_err();
    assert_eq!(err.path(), Some("status"));
    for not_a_job in [json!({"displayName": "x"}), json!([1]), json!("job")] {
        let err = JobDefinition::from_value(not_a_job).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidValue(_)));
    }
    // Through serde (a scenario file): the path is in the message.
    let err =
        serde_json::from_value::<JobDefinition>(set(job(), "/data/0/valu", json!(1))).unwrap_err();
    assert!(
        err.to_string().starts_with("data[0].valu: unknown field"),
        "{err}"
    );
}
