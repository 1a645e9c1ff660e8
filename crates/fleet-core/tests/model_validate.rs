//! Validation: one test per rule, each asserting the exact `ErrorKind` and the field's path; and
//! the conversion of validated jobs into the engine's builder.

use fleet_core::model::{
    parse, Collection, DeviceGroup, Job, JobRequest, JobResponse, ScheduledJob, ScheduledJobPatch,
    Validate,
};
use fleet_core::{Action, Error, ErrorKind, Input, RunStatus, Timer};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

const T: &str = "dtmi:modelDefinition:zomtmdxh:eqod32zbyl";

fn job() -> Value {
    json!({
        "id": "job-004",
        "group": "833d7a7d-8f99-4e04-9e56-745806bdba6e",
        "batch": {"type": "percentage", "value": 25},
        "cancellationThreshold": {"type": "percentage", "value": 10, "batch": false},
        "data": [{"type": "PropertyJobData", "target": T, "path": "targetTemperature", "value": "56"}],
        "status": "complete"
    })
}

fn scheduled() -> Value {
    json!({
        "id": "scheduled-Job-001",
        "group": "6fecf96f-a26c-49ed-8076-6960f8efba31",
        "data": [{"type": "cloudProperty", "target": T, "path": "Company", "value": "Contoso"}],
        "schedule": {"start": "2022-10-24T22:29:01Z", "recurrence": "daily",
                     "end": {"type": "date", "date": "2022-12-30"}}
    })
}

fn method_request() -> Value {
    json!({
        "jobId": "reboot-floor-3",
        "type": "scheduleDeviceMethod",
        "cloudToDeviceMethod": {"methodName": "reboot", "payload": {"delay": 5},
                                "responseTimeoutInSeconds": 30, "connectTimeoutInSeconds": 0},
        "queryCondition": "tags.floor = '3'",
        "startTime": null,
        "maxExecutionTimeInSeconds": 600
    })
}

fn twin_request() -> Value {
    json!({
        "jobId": "set-channel",
        "type": "scheduleUpdateTwin",
        "updateTwin": {"etag": "*", "tags": {"wave": 2},
                       "properties": {"desired": {"firmware": {"channel": "stable"}}}},
        "queryCondition": "*"
    })
}

/// Sets (or with `Value::Null` and `remove`, removes) the field at a JSON pointer.
fn set(mut doc: Value, pointer: &str, v: Value) -> Value {
    let (parent, name) = pointer.rsplit_once('/').unwrap();
    match doc.pointer_mut(parent).unwrap() {
        Value::Object(map) => {
            map.insert(name.to_string(), v);
        }
        Value::Array(items) => items[name.parse::<usize>().unwrap()] = v,
        _ => panic!("not a container"),
    }
    doc
}

fn remove(mut doc: Value, pointer: &str) -> Value {
    let (parent, name) = pointer.rsplit_once('/').unwrap();
    doc.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(name);
    doc
}

fn validate<T: DeserializeOwned + Validate>(doc: Value) -> Result<T, Error> {
    let model: T = parse::from_value(doc).expect("the document parses");
    model.validate().map(|_| model)
}

fn err<T: DeserializeOwned + Validate>(doc: Value) -> Error {
    match validate::<T>(doc) {
        Ok(_) => panic!("must not validate"),
        Err(e) => e,
    }
}

/// Asserts the error's path and that its kind matches.
macro_rules! assert_err {
    ($ty:ty, $doc:expr, $path:expr, $kind:pat) => {{
        let e = err::<$ty>($doc);
        assert_eq!(e.path(), Some($path), "{e}");
        assert!(matches!(e.kind(), $kind), "unexpected kind: {e:?}");
        e
    }};
}

#[test]
fn the_base_documents_are_valid() {
    validate::<Job>(job()).unwrap();
    validate::<ScheduledJob>(scheduled()).unwrap();
    validate::<JobRequest>(method_request()).unwrap();
    validate::<JobRequest>(twin_request()).unwrap();
}

// ----- IoT Central ids -----

#[test]
fn central_job_id_is_not_empty() {
    assert_err!(
        Job,
        set(job(), "/id", json!("")),
        "id",
        ErrorKind::InvalidJobId { .. }
    );
}

#[test]
fn central_job_id_has_at_most_128_characters() {
    validate::<Job>(set(job(), "/id", json!("a".repeat(128)))).unwrap();
    assert_err!(
        Job,
        set(job(), "/id", json!("a".repeat(129))),
        "id",
        ErrorKind::InvalidJobId { .. }
    );
}

#[test]
fn central_job_id_holds_only_unreserved_characters() {
    for ok in [
        "job-014",
        "scheduled-Job-001",
        "a.b_c~d",
        "46480dff-dc22-4542-924e-a5d45bf347aa",
    ] {
        validate::<Job>(set(job(), "/id", json!(ok))).unwrap();
    }
    for bad in ["job/1", "job 1", "job?1", "job%201", "jöb", "job#1"] {
        let e = assert_err!(
            Job,
            set(job(), "/id", json!(bad)),
            "id",
            ErrorKind::InvalidJobId { .. }
        );
        let ErrorKind::InvalidJobId { id, .. } = e.kind() else {
            unreachable!()
        };
        assert_eq!(id, bad);
    }
}

#[test]
fn scheduled_job_id_of_a_run_follows_the_id_rule() {
    assert_err!(
        Job,
        set(job(), "/scheduledJobId", json!("no spaces")),
        "scheduledJobId",
        ErrorKind::InvalidJobId { .. }
    );
}

#[test]
fn group_is_a_device_group_id() {
    assert_err!(
        Job,
        set(job(), "/group", json!("")),
        "group",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        Job,
        set(job(), "/group", json!("group one")),
        "group",
        ErrorKind::InvalidValue(_)
    );
}

// ----- batch and threshold -----

#[test]
fn batch_percentage_outside_0_100_is_rejected() {
    for ok in [json!(100), json!(0.5), json!(25), json!(100.0)] {
        validate::<Job>(set(job(), "/batch/value", ok)).unwrap();
    }
    for bad in [json!(0), json!(-3), json!(100.5), json!(101), json!(0.0)] {
        assert_err!(
            Job,
            set(job(), "/batch/value", bad),
            "batch.value",
            ErrorKind::BatchOutOfRange(_)
        );
    }
}

#[test]
fn batch_number_below_1_is_rejected() {
    let number = |v: Value| set(job(), "/batch", json!({"type": "number", "value": v}));
    validate::<Job>(number(json!(1))).unwrap();
    validate::<Job>(number(json!(5000))).unwrap();
    for bad in [json!(0), json!(-1), json!(-0.0)] {
        assert_err!(
            Job,
            number(bad),
            "batch.value",
            ErrorKind::BatchOutOfRange(_)
        );
    }
    assert_err!(
        Job,
        number(json!(4_294_967_296u64)),
        "batch.value",
        ErrorKind::BatchOutOfRange(_)
    );
}

#[test]
fn batch_number_that_is_not_whole_is_rejected() {
    let number = |v: Value| set(job(), "/batch", json!({"type": "number", "value": v}));
    assert_err!(
        Job,
        number(json!(2.5)),
        "batch.value",
        ErrorKind::InvalidValue(_)
    );
    // A whole number written with a fraction is the same number.
    validate::<Job>(number(json!(5.0))).unwrap();
}

#[test]
fn threshold_percentage_outside_0_100_is_rejected() {
    for bad in [json!(0), json!(-10), json!(150)] {
        assert_err!(
            Job,
            set(job(), "/cancellationThreshold/value", bad),
            "cancellationThreshold.value",
            ErrorKind::ThresholdOutOfRange(_)
        );
    }
}

#[test]
fn threshold_number_below_1_or_not_whole_is_rejected() {
    let number = |v: Value| {
        set(
            job(),
            "/cancellationThreshold",
            json!({"type": "number", "value": v, "batch": true}),
        )
    };
    validate::<Job>(number(json!(1))).unwrap();
    assert_err!(
        Job,
        number(json!(0)),
        "cancellationThreshold.value",
        ErrorKind::ThresholdOutOfRange(_)
    );
    assert_err!(
        Job,
        number(json!(1.5)),
        "cancellationThreshold.value",
        ErrorKind::InvalidValue(_)
    );
}

#[test]
fn out_of_range_values_are_never_clamped_by_the_builder() {
    let e = Job::run_builder(&parse::from_value(set(job(), "/batch/value", json!(120))).unwrap())
        .unwrap_err();
    assert_eq!(e.path(), Some("batch.value"));
    assert!(matches!(e.kind(), ErrorKind::BatchOutOfRange(_)));
}

// ----- data -----

#[test]
fn data_must_not_be_empty() {
    assert_err!(
        Job,
        set(job(), "/data", json!([])),
        "data",
        ErrorKind::EmptyData
    );
    assert_err!(
        ScheduledJob,
        set(scheduled(), "/data", json!([])),
        "data",
        ErrorKind::EmptyData
    );
}

#[test]
fn data_entries_are_all_of_one_type() {
    let mixed = json!([
        {"type": "property", "target": T, "path": "a", "value": 1},
        {"type": "PropertyJobData", "target": T, "path": "b", "value": 2},
        {"type": "cloudProperty", "target": T, "path": "c", "value": 3}
    ]);
    // The two spellings of one type are one type; the third entry is another.
    assert_err!(
        Job,
        set(job(), "/data", mixed.clone()),
        "data[2].type",
        ErrorKind::MixedData(_)
    );
    assert_err!(
        ScheduledJob,
        set(scheduled(), "/data", mixed),
        "data[2].type",
        ErrorKind::MixedData(_)
    );
}

#[test]
fn several_entries_of_one_type_are_allowed() {
    let two = json!([
        {"type": "property", "target": T, "path": "a", "value": 1},
        {"type": "property", "target": T, "path": "b", "value": null}
    ]);
    validate::<Job>(set(job(), "/data", two)).unwrap();
}

#[test]
fn a_migration_has_exactly_one_entry() {
    let two = json!([
        {"type": "deviceTemplateMigration", "template": "dtmi:a"},
        {"type": "deviceTemplateMigration", "template": "dtmi:b"}
    ]);
    assert_err!(
        Job,
        set(job(), "/data", two),
        "data[1]",
        ErrorKind::MixedData(_)
    );
}

#[test]
fn two_entries_for_the_same_property_are_rejected() {
    let twice = json!([
        {"type": "property", "target": T, "path": "a", "value": 1},
        {"type": "property", "target": T, "path": "a", "value": 2}
    ]);
    assert_err!(
        Job,
        set(job(), "/data", twice),
        "data[1].path",
        ErrorKind::InvalidValue(_)
    );
}

#[test]
fn capability_entries_need_target_and_path() {
    assert_err!(
        Job,
        remove(job(), "/data/0/target"),
        "data[0].target",
        ErrorKind::MissingField("target")
    );
    assert_err!(
        Job,
        remove(job(), "/data/0/path"),
        "data[0].path",
        ErrorKind::MissingField("path")
    );
    assert_err!(
        Job,
        set(job(), "/data/0/target", json!("")),
        "data[0].target",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        Job,
        set(job(), "/data/0/path", json!("  ")),
        "data[0].path",
        ErrorKind::InvalidValue(_)
    );
}

#[test]
fn properties_need_a_value_which_may_be_null_and_commands_do_not() {
    assert_err!(
        Job,
        remove(job(), "/data/0/value"),
        "data[0].value",
        ErrorKind::MissingField("value")
    );
    validate::<Job>(set(job(), "/data/0/value", json!(null))).unwrap();
    let cloud = set(job(), "/data/0/type", json!("cloudProperty"));
    assert_err!(
        Job,
        remove(cloud, "/data/0/value"),
        "data[0].value",
        ErrorKind::MissingField("value")
    );
    let command = set(job(), "/data/0/type", json!("command"));
    validate::<Job>(remove(command, "/data/0/value")).unwrap();
}

#[test]
fn template_migration_needs_template_and_nothing_else() {
    let migration = |entry: Value| set(job(), "/data", json!([entry]));
    validate::<Job>(migration(
        json!({"type": "DeviceTemplateMigrationJobData", "template": "dtmi:b"}),
    ))
    .unwrap();
    assert_err!(
        Job,
        migration(json!({"type": "deviceTemplateMigration"})),
        "data[0].template",
        ErrorKind::MissingField("template")
    );
    assert_err!(
        Job,
        migration(json!({"type": "deviceTemplateMigration", "template": ""})),
        "data[0].template",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        Job,
        migration(json!({"type": "deviceTemplateMigration", "template": "dtmi:b", "target": T})),
        "data[0].target",
        ErrorKind::UnexpectedField("target")
    );
}

#[test]
fn manifest_migration_needs_manifest_and_nothing_else() {
    let migration = |entry: Value| set(job(), "/data", json!([entry]));
    assert_err!(
        Job,
        migration(json!({"type": "deviceManifestMigration"})),
        "data[0].manifest",
        ErrorKind::MissingField("manifest")
    );
    assert_err!(
        Job,
        migration(json!({"type": "deviceManifestMigration", "manifest": "m", "template": "t"})),
        "data[0].template",
        ErrorKind::UnexpectedField("template")
    );
}

#[test]
fn capability_entries_take_no_template_or_manifest() {
    assert_err!(
        Job,
        set(job(), "/data/0/template", json!("dtmi:b")),
        "data[0].template",
        ErrorKind::UnexpectedField("template")
    );
    assert_err!(
        Job,
        set(job(), "/data/0/manifest", json!("m")),
        "data[0].manifest",
        ErrorKind::UnexpectedField("manifest")
    );
}

#[test]
fn job_times_are_rfc3339() {
    validate::<Job>(set(job(), "/start", json!("2021-06-15T05:00:00.000Z"))).unwrap();
    assert_err!(
        Job,
        set(job(), "/start", json!("yesterday")),
        "start",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        Job,
        set(job(), "/end", json!("2021-06-15 05:00")),
        "end",
        ErrorKind::InvalidValue(_)
    );
}

#[test]
fn collection_errors_name_the_element() {
    let list = json!({"value": [job(), set(job(), "/batch/value", json!(0))]});
    assert_err!(
        Collection<Job>,
        list,
        "value[1].batch.value",
        ErrorKind::BatchOutOfRange(_)
    );
}

// ----- scheduled jobs -----

#[test]
fn schedule_start_is_an_rfc3339_date_time_with_offset() {
    assert_err!(
        ScheduledJob,
        set(scheduled(), "/schedule/start", json!("2022-10-24T22:29:01")),
        "schedule.start",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        ScheduledJob,
        set(scheduled(), "/schedule/start", json!("tomorrow")),
        "schedule.start",
        ErrorKind::InvalidValue(_)
    );
}

#[test]
fn schedule_end_needs_a_recurrence() {
    assert_err!(
        ScheduledJob,
        remove(scheduled(), "/schedule/recurrence"),
        "schedule.end",
        ErrorKind::UnexpectedField("end")
    );
}

#[test]
fn schedule_end_date_rules() {
    let end = |v: Value| set(scheduled(), "/schedule/end", v);
    validate::<ScheduledJob>(end(json!({"type": "date", "date": "2022-10-24"}))).unwrap();
    validate::<ScheduledJob>(end(json!({"type": "date", "date": "2022-12-30T00:00:00Z"}))).unwrap();
    assert_err!(
        ScheduledJob,
        end(json!({"type": "date"})),
        "schedule.end.date",
        ErrorKind::MissingField("date")
    );
    assert_err!(
        ScheduledJob,
        end(json!({"type": "date", "date": "30/12/2022"})),
        "schedule.end.date",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        ScheduledJob,
        end(json!({"type": "date", "date": "2022-12-30", "occurrences": 3})),
        "schedule.end.occurrences",
        ErrorKind::UnexpectedField("occurrences")
    );
    assert_err!(
        ScheduledJob,
        end(json!({"type": "date", "date": "2022-10-23"})),
        "schedule.end.date",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        ScheduledJob,
        end(json!({"type": "date", "date": "2022-10-24T22:00:00Z"})),
        "schedule.end.date",
        ErrorKind::InvalidValue(_)
    );
}

#[test]
fn schedule_end_occurrences_rules() {
    let end = |v: Value| set(scheduled(), "/schedule/end", v);
    validate::<ScheduledJob>(end(json!({"type": "occurrences", "occurrences": 1}))).unwrap();
    assert_err!(
        ScheduledJob,
        end(json!({"type": "occurrences", "occurrences": 0})),
        "schedule.end.occurrences",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        ScheduledJob,
        end(json!({"type": "occurrences"})),
        "schedule.end.occurrences",
        ErrorKind::MissingField("occurrences")
    );
    assert_err!(
        ScheduledJob,
        end(json!({"type": "occurrences", "occurrences": 2, "date": "2022-12-30"})),
        "schedule.end.date",
        ErrorKind::UnexpectedField("date")
    );
}

#[test]
fn scheduled_job_rules_include_the_job_rules() {
    assert_err!(
        ScheduledJob,
        set(scheduled(), "/id", json!("a b")),
        "id",
        ErrorKind::InvalidJobId { .. }
    );
    assert_err!(
        ScheduledJob,
        set(
            scheduled(),
            "/batch",
            json!({"type": "percentage", "value": 0})
        ),
        "batch.value",
        ErrorKind::BatchOutOfRange(_)
    );
}

#[test]
fn patch_fields_are_validated_where_present() {
    assert_err!(
        ScheduledJobPatch,
        json!({"batch": {"type": "number", "value": 0}}),
        "batch.value",
        ErrorKind::BatchOutOfRange(_)
    );
    assert_err!(
        ScheduledJobPatch,
        json!({"schedule": {"start": "soon"}}),
        "schedule.start",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        ScheduledJobPatch,
        json!({"data": []}),
        "data",
        ErrorKind::EmptyData
    );
    assert_err!(
        ScheduledJobPatch,
        json!({"schedule": {"end": {"type": "occurrences"}}}),
        "schedule.end.occurrences",
        ErrorKind::MissingField("occurrences")
    );
    validate::<ScheduledJobPatch>(json!({"batch": null, "schedule": {"recurrence": null}}))
        .unwrap();
}

#[test]
fn a_patch_that_leaves_an_end_without_recurrence_is_refused_on_merge() {
    let job: ScheduledJob = parse::from_value(scheduled()).unwrap();
    let patch: ScheduledJobPatch =
        parse::from_value(json!({"schedule": {"recurrence": null}})).unwrap();
    let e = job.patched(&patch).unwrap_err();
    assert_eq!(e.path(), Some("schedule.end"));
    assert!(matches!(e.kind(), ErrorKind::UnexpectedField("end")));
    let patch: ScheduledJobPatch = parse::from_value(json!({"id": "other-job"})).unwrap();
    let e = job.patched(&patch).unwrap_err();
    assert_eq!(e.path(), Some("id"));
}

// ----- device groups -----

#[test]
fn device_group_rules() {
    let group = || {
        json!({"id": "group1", "displayName": "Device group 1",
               "filter": "SELECT * FROM devices WHERE $simulated = true"})
    };
    validate::<DeviceGroup>(group()).unwrap();
    assert_err!(
        DeviceGroup,
        set(group(), "/displayName", json!(" ")),
        "displayName",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        DeviceGroup,
        set(group(), "/filter", json!("")),
        "filter",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        DeviceGroup,
        set(group(), "/filter", json!("x".repeat(8193))),
        "filter",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        DeviceGroup,
        set(group(), "/id", json!("group/1")),
        "id",
        ErrorKind::InvalidValue(_)
    );
}

// ----- IoT Hub -----

#[test]
fn hub_job_id_has_at_most_64_letters_digits_and_dashes() {
    validate::<JobRequest>(set(method_request(), "/jobId", json!("a".repeat(64)))).unwrap();
    for bad in [
        "a".repeat(65),
        String::new(),
        "job_1".into(),
        "job.1".into(),
        "job 1".into(),
    ] {
        assert_err!(
            JobRequest,
            set(method_request(), "/jobId", json!(bad)),
            "jobId",
            ErrorKind::InvalidJobId { .. }
        );
    }
}

#[test]
fn hub_type_is_required_and_runnable() {
    assert_err!(
        JobRequest,
        remove(method_request(), "/type"),
        "type",
        ErrorKind::MissingField("type")
    );
    assert_err!(
        JobRequest,
        set(method_request(), "/type", json!("export")),
        "type",
        ErrorKind::InvalidValue(_)
    );
}

#[test]
fn device_method_jobs_need_a_method_and_no_twin() {
    assert_err!(
        JobRequest,
        remove(method_request(), "/cloudToDeviceMethod"),
        "cloudToDeviceMethod",
        ErrorKind::MissingField("cloudToDeviceMethod")
    );
    assert_err!(
        JobRequest,
        set(
            method_request(),
            "/updateTwin",
            json!({"etag": "*", "tags": {"a": 1}})
        ),
        "updateTwin",
        ErrorKind::UnexpectedField("updateTwin")
    );
    assert_err!(
        JobRequest,
        remove(method_request(), "/cloudToDeviceMethod/methodName"),
        "cloudToDeviceMethod.methodName",
        ErrorKind::MissingField("methodName")
    );
    assert_err!(
        JobRequest,
        set(
            method_request(),
            "/cloudToDeviceMethod/methodName",
            json!("")
        ),
        "cloudToDeviceMethod.methodName",
        ErrorKind::InvalidValue(_)
    );
}

#[test]
fn twin_jobs_need_a_twin_and_no_method() {
    assert_err!(
        JobRequest,
        remove(twin_request(), "/updateTwin"),
        "updateTwin",
        ErrorKind::MissingField("updateTwin")
    );
    assert_err!(
        JobRequest,
        set(
            twin_request(),
            "/cloudToDeviceMethod",
            json!({"methodName": "reboot"})
        ),
        "cloudToDeviceMethod",
        ErrorKind::UnexpectedField("cloudToDeviceMethod")
    );
}

#[test]
fn response_timeout_is_5_to_300_seconds() {
    for ok in [5, 30, 300] {
        validate::<JobRequest>(set(
            method_request(),
            "/cloudToDeviceMethod/responseTimeoutInSeconds",
            json!(ok),
        ))
        .unwrap();
    }
    for bad in [4, 0, -1, 301] {
        assert_err!(
            JobRequest,
            set(
                method_request(),
                "/cloudToDeviceMethod/responseTimeoutInSeconds",
                json!(bad)
            ),
            "cloudToDeviceMethod.responseTimeoutInSeconds",
            ErrorKind::InvalidValue(_)
        );
    }
}

#[test]
fn connect_timeout_is_0_to_300_seconds() {
    for ok in [0, 300] {
        validate::<JobRequest>(set(
            method_request(),
            "/cloudToDeviceMethod/connectTimeoutInSeconds",
            json!(ok),
        ))
        .unwrap();
    }
    for bad in [-1, 301] {
        assert_err!(
            JobRequest,
            set(
                method_request(),
                "/cloudToDeviceMethod/connectTimeoutInSeconds",
                json!(bad)
            ),
            "cloudToDeviceMethod.connectTimeoutInSeconds",
            ErrorKind::InvalidValue(_)
        );
    }
}

#[test]
fn method_payload_is_at_most_128_kb() {
    let big = json!({"blob": "x".repeat(128 * 1024)});
    assert_err!(
        JobRequest,
        set(method_request(), "/cloudToDeviceMethod/payload", big),
        "cloudToDeviceMethod.payload",
        ErrorKind::InvalidValue(_)
    );
}

#[test]
fn max_execution_time_is_positive() {
    for bad in [json!(0), json!(-5), json!(i64::MAX)] {
        assert_err!(
            JobRequest,
            set(method_request(), "/maxExecutionTimeInSeconds", bad),
            "maxExecutionTimeInSeconds",
            ErrorKind::InvalidValue(_)
        );
    }
}

#[test]
fn query_condition_is_required_and_bounded() {
    assert_err!(
        JobRequest,
        remove(method_request(), "/queryCondition"),
        "queryCondition",
        ErrorKind::MissingField("queryCondition")
    );
    assert_err!(
        JobRequest,
        set(method_request(), "/queryCondition", json!("")),
        "queryCondition",
        ErrorKind::InvalidValue(_)
    );
    assert_err!(
        JobRequest,
        set(method_request(), "/queryCondition", json!("a".repeat(8193))),
        "queryCondition",
        ErrorKind::InvalidValue(_)
    );
}

#[test]
fn start_time_is_rfc3339_or_null() {
    validate::<JobRequest>(set(method_request(), "/startTime", json!(null))).unwrap();
    validate::<JobRequest>(set(
        method_request(),
        "/startTime",
        json!("2024-04-25T22:00:00.1234567Z"),
    ))
    .unwrap();
    assert_err!(
        JobRequest,
        set(method_request(), "/startTime", json!("now")),
        "startTime",
        ErrorKind::InvalidValue(_)
    );
}

#[test]
fn twin_patch_etag_is_the_wildcard() {
    assert_err!(
        JobRequest,
        set(twin_request(), "/updateTwin/etag", json!("AAAAAAAAAAE=")),
        "updateTwin.etag",
        ErrorKind::InvalidValue(_)
    );
    validate::<JobRequest>(remove(twin_request(), "/updateTwin/etag")).unwrap();
}

#[test]
fn twin_patch_changes_something() {
    assert_err!(
        JobRequest,
        set(twin_request(), "/updateTwin", json!({"etag": "*"})),
        "updateTwin",
        ErrorKind::InvalidValue(_)
    );
}

#[test]
fn twin_property_names_are_printable_ascii_without_separators() {
    for bad in [
        "a$b", "a(b", "a)b", "a<b", "a>b", "a@b", "a,b", "a;b", "a:b", "a\\b", "a\"b", "a/b",
        "a[b", "a]b", "a?b", "a=b", "a{b", "a}b", "a b", "a\tb", "a.b", "é", "",
    ] {
        let desired = json!({ bad: 1 });
        let e = assert_err!(
            JobRequest,
            set(twin_request(), "/updateTwin/properties/desired", desired),
            format!("updateTwin.properties.desired.{bad}").as_str(),
            ErrorKind::InvalidPropertyName { .. }
        );
        let ErrorKind::InvalidPropertyName { name, .. } = e.kind() else {
            unreachable!()
        };
        assert_eq!(name, bad);
    }
    // Nested names and tags are checked too; values are free.
    assert_err!(
        JobRequest,
        set(
            twin_request(),
            "/updateTwin/tags",
            json!({"site": {"bad name": 1}})
        ),
        "updateTwin.tags.site.bad name",
        ErrorKind::InvalidPropertyName { .. }
    );
    validate::<JobRequest>(set(
        twin_request(),
        "/updateTwin/properties/desired",
        json!({"fw_url-2": "https://x.example/a?b=c {d}", "n": null}),
    ))
    .unwrap();
}

#[test]
fn twin_objects_nest_at_most_10_deep() {
    let nest = |depth: usize| {
        let mut v = json!("leaf");
        for i in (1..=depth).rev() {
            v = json!({ format!("l{i}"): v });
        }
        v
    };
    validate::<JobRequest>(set(
        twin_request(),
        "/updateTwin/properties/desired",
        nest(11),
    ))
    .unwrap();
    let e = assert_err!(
        JobRequest,
        set(twin_request(), "/updateTwin/properties/desired", nest(12)),
        "updateTwin.properties.desired.l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11",
        ErrorKind::InvalidValue(_)
    );
    assert!(e.to_string().contains("10"));
}

#[test]
fn a_response_validates_as_its_request() {
    let response = set(method_request(), "/status", json!("completed"));
    validate::<JobResponse>(response.clone()).unwrap();
    assert_err!(
        JobResponse,
        set(
            response,
            "/cloudToDeviceMethod/responseTimeoutInSeconds",
            json!(1)
        ),
        "cloudToDeviceMethod.responseTimeoutInSeconds",
        ErrorKind::InvalidValue(_)
    );
}

// ----- conversion into the engine -----

#[test]
fn central_job_becomes_a_run_builder() {
    let job: Job = parse::from_value(job()).unwrap();
    let run = job.run_builder().unwrap().build(7).unwrap();
    assert_eq!(run.plan().sizes().collect::<Vec<_>>(), [2, 2, 2, 1]);

    // Batches of 2, cancelled when 2 devices of one batch fail.
    let doc = set(
        set(
            json_job_with_threshold(json!({"type": "number", "value": 2, "batch": true})),
            "/batch",
            json!({"type": "number", "value": 2}),
        ),
        "/id",
        json!("job-1"),
    );
    let job: Job = parse::from_value(doc).unwrap();
    let mut run = job.run_builder().unwrap().build(6).unwrap();
    let mut actions = Vec::new();
    run.handle(0, Input::Start, &mut actions).unwrap();
    for (device, at) in [(0, 1), (1, 2)] {
        run.handle(
            at,
            Input::Outcome {
                device,
                attempt: 1,
                outcome: fleet_core::Outcome::Failed,
            },
            &mut actions,
        )
        .unwrap();
    }
    assert_eq!(run.status(), RunStatus::Cancelled);
}

fn json_job_with_threshold(threshold: Value) -> Value {
    set(job(), "/cancellationThreshold", threshold)
}

#[test]
fn the_mistaken_batch_flag_means_a_job_wide_threshold() {
    // "batch": "number" reads as false: 2 failures anywhere in the job cancel it.
    let doc = json_job_with_threshold(json!({"type": "number", "value": 2, "batch": "number"}));
    let job: Job =
        parse::from_value(set(doc, "/batch", json!({"type": "number", "value": 1}))).unwrap();
    assert!(!job.cancellation_threshold.as_ref().unwrap().per_batch());
    let mut run = job.run_builder().unwrap().build(4).unwrap();
    let mut actions = Vec::new();
    run.handle(0, Input::Start, &mut actions).unwrap();
    // One failure per batch of one: a per-batch threshold of 2 would never trip.
    for device in [0, 1] {
        run.handle(
            10,
            Input::Outcome {
                device,
                attempt: 1,
                outcome: fleet_core::Outcome::Failed,
            },
            &mut actions,
        )
        .unwrap();
    }
    assert_eq!(run.status(), RunStatus::Cancelled);
}

#[test]
fn hub_max_execution_time_becomes_the_run_deadline() {
    let request: JobRequest = parse::from_value(method_request()).unwrap();
    assert_eq!(request.max_execution_ms().unwrap(), Some(600_000));
    let mut run = request.run_builder().unwrap().build(3).unwrap();
    let mut actions = Vec::new();
    run.handle(1_000, Input::Start, &mut actions).unwrap();
    assert!(actions.contains(&Action::SetTimer {
        at_ms: 601_000,
        timer: Timer::Deadline
    }));
    // No batches: every device is dispatched at once.
    assert_eq!(run.plan().count(), 1);

    let no_deadline: JobRequest =
        parse::from_value(remove(method_request(), "/maxExecutionTimeInSeconds")).unwrap();
    let mut run = no_deadline.run_builder().unwrap().build(3).unwrap();
    let mut actions = Vec::new();
    run.handle(0, Input::Start, &mut actions).unwrap();
    assert!(!actions.iter().any(|a| matches!(a, Action::SetTimer { .. })));
}

#[test]
fn run_builder_refuses_an_invalid_request() {
    let request: JobRequest =
        parse::from_value(remove(method_request(), "/cloudToDeviceMethod")).unwrap();
    let e = request.run_builder().unwrap_err();
    assert_eq!(e.path(), Some("cloudToDeviceMethod"));
}

#[test]
fn scheduled_job_becomes_a_run_builder() {
    let doc = set(
        scheduled(),
        "/batch",
        json!({"type": "percentage", "value": 50}),
    );
    let job: ScheduledJob = parse::from_value(doc).unwrap();
    let run = job.run_builder().unwrap().build(5).unwrap();
    assert_eq!(run.plan().sizes().collect::<Vec<_>>(), [3, 2]);
}
