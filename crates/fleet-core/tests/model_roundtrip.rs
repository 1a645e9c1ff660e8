//! Every JSON example of the IoT Central jobs how-to (seeds/002), of API-NOTES.md and of the IoT
//! Hub Swagger, kept as a fixture under `tests/fixtures/`, is read by its model type and written
//! back unchanged (compared as `serde_json::Value`), and validates.

use std::collections::BTreeSet;

use fleet_core::model::{
    parse, Collection, DeviceGroup, ErrorResponse, HubError, Job, JobDeviceStatus, JobRequest,
    JobResponse, ScheduledJob, ScheduledJobPatch, Validate,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Reads `text` as a `T`, writes it back, and checks the JSON value is unchanged, through both a
/// `Value` and text.
fn roundtrip<T: DeserializeOwned + Serialize>(name: &str, text: &str) -> T {
    let original: Value = serde_json::from_str(text).expect("fixture is JSON");
    let model: T = parse::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let written = parse::to_value(&model).unwrap();
    assert_eq!(written, original, "{name}: written back differently");
    let again: T = parse::from_str(&parse::to_string_pretty(&model).unwrap()).unwrap();
    assert_eq!(
        parse::to_value(&again).unwrap(),
        original,
        "{name}: second trip"
    );
    model
}

macro_rules! fixtures {
    ($( $test:ident: $ty:ty = $file:literal $(, $valid:ident)?; )+) => {
        $(
            #[test]
            fn $test() {
                let text = include_str!(concat!("fixtures/", $file));
                let _model = roundtrip::<$ty>($file, text);
                $( fixtures!(@$valid _model, $file); )?
            }
        )+

        const FIXTURES: &[&str] = &[$($file),+];
    };
    (@valid $model:ident, $file:literal) => {
        $model.validate().unwrap_or_else(|e| panic!("{}: {e}", $file));
    };
}

fixtures! {
    // seeds/002: the IoT Central jobs how-to, in the order it shows them.
    seed_job_payload: Job = "central_job_014_property_job_data.json", valid;
    seed_job_list: Collection<Job> = "central_job_list.json", valid;
    seed_job_get: Job = "central_job_004_command.json", valid;
    seed_job_devices: Collection<JobDeviceStatus> = "central_job_004_devices.json";
    seed_device_group_create_body: DeviceGroup = "central_device_group_create.json", valid;
    seed_device_group_response: DeviceGroup = "central_device_group_group1.json", valid;
    seed_job_create_body: Job = "central_job_create_body.json", valid;
    seed_job_create_response: Job = "central_job_006_pending.json", valid;
    seed_scheduled_job_create_body: ScheduledJob = "central_scheduled_job_create_body.json", valid;
    seed_scheduled_job_create_response: ScheduledJob = "central_scheduled_job_created.json", valid;
    seed_scheduled_job_get: ScheduledJob = "central_scheduled_job_get.json", valid;
    seed_scheduled_job_list: Collection<ScheduledJob> = "central_scheduled_job_list.json", valid;
    seed_scheduled_job_patch_body: ScheduledJobPatch = "central_scheduled_job_patch_body.json", valid;
    seed_scheduled_job_patch_response: ScheduledJob = "central_scheduled_job_patched.json", valid;

    // API-NOTES.md: every data type in both spellings.
    data_property: Job = "central_data_property.json", valid;
    data_property_job_data: Job = "central_data_property_job_data.json", valid;
    data_cloud_property: Job = "central_data_cloud_property.json", valid;
    data_cloud_property_job_data: Job = "central_data_cloud_property_job_data.json", valid;
    data_command: Job = "central_data_command.json", valid;
    data_command_job_data: Job = "central_data_command_job_data.json", valid;
    data_device_template_migration: Job = "central_data_device_template_migration.json", valid;
    data_device_template_migration_job_data: Job =
        "central_data_device_template_migration_job_data.json", valid;
    data_device_manifest_migration: Job = "central_data_device_manifest_migration.json", valid;
    data_device_manifest_migration_job_data: Job =
        "central_data_device_manifest_migration_job_data.json", valid;

    // API-NOTES.md: batch, cancellation threshold, statuses, collections, groups, errors.
    batch_number_threshold_per_batch: Job =
        "central_job_batch_number_threshold_per_batch.json", valid;
    threshold_batch_flag_string: Job = "central_job_threshold_batch_string.json", valid;
    fractional_percentages: Job = "central_job_fractional_percentages.json", valid;
    job_list_alternate_statuses: Collection<Job> =
        "central_job_list_alternate_statuses.json", valid;
    job_devices_every_status: Collection<JobDeviceStatus> = "central_job_devices_mixed.json";
    scheduled_job_monthly_occurrences: ScheduledJob =
        "central_scheduled_job_monthly_occurrences.json", valid;
    scheduled_job_patch_with_nulls: ScheduledJobPatch =
        "central_scheduled_job_patch_nulls.json", valid;
    device_group_list: Collection<DeviceGroup> = "central_device_group_list.json", valid;
    central_error_body: ErrorResponse = "central_error.json";

    // IoT Hub jobs v2, built from the Swagger's JobRequest / JobResponse.
    hub_request_update_twin: JobRequest = "hub_job_request_update_twin.json", valid;
    hub_request_device_method_null_start: JobRequest =
        "hub_job_request_device_method.json", valid;
    hub_request_device_method_minimal: JobRequest =
        "hub_job_request_device_method_minimal.json", valid;
    hub_response_update_twin_running: JobResponse =
        "hub_job_response_update_twin_running.json", valid;
    hub_response_device_method_completed: JobResponse =
        "hub_job_response_device_method_completed.json", valid;
    hub_response_failed: JobResponse = "hub_job_response_failed.json", valid;
    hub_job_query_result: Vec<JobResponse> = "hub_job_query.json", valid;
    hub_error_body: HubError = "hub_error.json";
}

#[test]
fn every_fixture_file_has_a_roundtrip_test() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let tested: BTreeSet<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, tested);
}

#[test]
fn seed_patch_applied_to_seed_get_gives_seed_response() {
    let get: ScheduledJob =
        parse::from_str(include_str!("fixtures/central_scheduled_job_get.json")).unwrap();
    let patch: ScheduledJobPatch = parse::from_str(include_str!(
        "fixtures/central_scheduled_job_patch_body.json"
    ))
    .unwrap();
    let expected: ScheduledJob =
        parse::from_str(include_str!("fixtures/central_scheduled_job_patched.json")).unwrap();
    assert_eq!(get.patched(&patch).unwrap(), expected);
}

#[test]
fn merge_patch_nulls_remove_fields() {
    let job: ScheduledJob = parse::from_str(include_str!(
        "fixtures/central_scheduled_job_monthly_occurrences.json"
    ))
    .unwrap();
    let patch: ScheduledJobPatch = parse::from_str(include_str!(
        "fixtures/central_scheduled_job_patch_nulls.json"
    ))
    .unwrap();
    let patched = job.patched(&patch).unwrap();
    assert_eq!(patched.description, None);
    assert_eq!(patched.batch, None);
    assert_eq!(patched.enabled, Some(true));
    assert!(!patched.cancellation_threshold.unwrap().per_batch());
    let schedule = parse::to_value(&patched.schedule).unwrap();
    assert_eq!(
        schedule,
        serde_json::json!({
            "start": "2022-11-01T01:00:00Z",
            "recurrence": "weekly",
            "end": {"type": "date", "date": "2023-03-31"}
        })
    );
}
