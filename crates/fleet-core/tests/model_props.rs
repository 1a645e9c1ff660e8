//! Property tests of the model's general rules: ranges, id and name alphabets, round trips of
//! any `value`, and the dialects' counts.

use fleet_core::model::{parse, DeviceJobStatistics, Job, JobData, JobRequest, Progress, Validate};
use fleet_core::{Counts, ErrorKind};
use proptest::prelude::*;
use serde_json::{json, Value};

fn job_with(batch: Value, threshold: Value) -> Value {
    json!({
        "group": "group1",
        "batch": batch,
        "cancellationThreshold": threshold,
        "data": [{"type": "property", "target": "dtmi:x:y", "path": "p", "value": 1}]
    })
}

fn ok_threshold() -> Value {
    json!({"type": "percentage", "value": 10, "batch": false})
}

fn ok_batch() -> Value {
    json!({"type": "number", "value": 1})
}

/// Parses through text (as a user's document would be) and validates.
fn check(doc: &Value) -> fleet_core::Result<Job> {
    let job: Job = parse::from_str(&doc.to_string())?;
    job.validate()?;
    Ok(job)
}

/// Any JSON value, `null` included, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const TWIN_FORBIDDEN: &[char] = &[
    '$', '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}', ' ',
    '\t', '.',
];

proptest! {
    #[test]
    fn any_percentage_in_0_100_is_accepted(p in 0.000_001f64..=100.0) {
        let batch = json!({"type": "percentage", "value": p});
        let threshold = json!({"type": "percentage", "value": p, "batch": true});
        let job = check(&job_with(batch, threshold)).unwrap();
        // Accepted as given: the engine's batch size is the one asked for, not a clamped one.
        prop_assert!(job.run_builder().is_ok());
    }

    #[test]
    fn any_percentage_outside_0_100_is_rejected(
        p in prop_oneof![-1e9f64..=0.0, 100.000_001f64..1e9]
    ) {
        let batch = json!({"type": "percentage", "value": p});
        let e = check(&job_with(batch, ok_threshold())).unwrap_err();
        prop_assert_eq!(e.path(), Some("batch.value"));
        prop_assert!(matches!(e.kind(), ErrorKind::BatchOutOfRange(_)));

        let threshold = json!({"type": "percentage", "value": p, "batch": false});
        let e = check(&job_with(ok_batch(), threshold)).unwrap_err();
        prop_assert_eq!(e.path(), Some("cancellationThreshold.value"));
        prop_assert!(matches!(e.kind(), ErrorKind::ThresholdOutOfRange(_)));
    }

    #[test]
    fn any_whole_number_of_at_least_1_is_accepted(n in 1u32..=u32::MAX) {
        let batch = json!({"type": "number", "value": n});
        let threshold = json!({"type": "number", "value": n, "batch": true});
        check(&job_with(batch, threshold)).unwrap();
    }

    #[test]
    fn any_number_below_1_is_rejected(n in i64::MIN..=0) {
        let batch = json!({"type": "number", "value": n});
        let e = check(&job_with(batch, ok_threshold())).unwrap_err();
        prop_assert_eq!(e.path(), Some("batch.value"));
        prop_assert!(matches!(e.kind(), ErrorKind::BatchOutOfRange(_)));
        let threshold = json!({"type": "number", "value": n});
        let e = check(&job_with(ok_batch(), threshold)).unwrap_err();
        prop_assert!(matches!(e.kind(), ErrorKind::ThresholdOutOfRange(_)));
    }

    #[test]
    fn any_number_with_a_fraction_is_rejected(whole in 1u32..1_000_000, frac in 0.001f64..0.999) {
        let batch = json!({"type": "number", "value": f64::from(whole) + frac});
        let e = check(&job_with(batch, ok_threshold())).unwrap_err();
        prop_assert_eq!(e.path(), Some("batch.value"));
        prop_assert!(matches!(e.kind(), ErrorKind::InvalidValue(_)));
    }

    /// Floats included: serde_json's `float_roundtrip` feature makes parsing exact.
    #[test]
    fn any_data_value_round_trips_null_included(value in any_json()) {
        let entry = json!({"type": "PropertyJobData", "target": "t", "path": "p", "value": value});
        let read: JobData = parse::from_str(&entry.to_string()).unwrap();
        prop_assert_eq!(read.value.as_ref(), Some(&value));
        prop_assert_eq!(parse::to_value(&read).unwrap(), entry);
    }

    #[test]
    fn central_ids_of_unreserved_characters_are_accepted(id in "[A-Za-z0-9._~-]{1,128}") {
        fleet_core::model::validate::central_job_id(&id).unwrap();
    }

    #[test]
    fn central_ids_with_any_other_character_are_rejected(
        prefix in "[a-z]{0,5}",
        bad in "[^A-Za-z0-9._~-]",
    ) {
        let id = format!("{prefix}{bad}");
        let e = fleet_core::model::validate::central_job_id(&id).unwrap_err();
        let is_invalid_id = matches!(e.kind(), ErrorKind::InvalidJobId { .. });
        prop_assert!(is_invalid_id);
    }

    #[test]
    fn hub_job_ids_of_letters_digits_and_dashes_are_accepted(id in "[A-Za-z0-9-]{1,64}") {
        let request = json!({"jobId": id, "type": "scheduleDeviceMethod", "queryCondition": "*",
                             "cloudToDeviceMethod": {"methodName": "m"}});
        parse::validated::<JobRequest>(&request.to_string()).unwrap();
    }

    #[test]
    fn hub_job_ids_too_long_or_with_other_characters_are_rejected(
        id in prop_oneof!["[A-Za-z0-9-]{65,100}", "[a-z]{0,10}[^A-Za-z0-9-][a-z]{0,10}"]
    ) {
        let request = json!({"jobId": id, "type": "scheduleDeviceMethod", "queryCondition": "*",
                             "cloudToDeviceMethod": {"methodName": "m"}});
        let e = parse::validated::<JobRequest>(&request.to_string()).unwrap_err();
        prop_assert_eq!(e.path(), Some("jobId"));
        let is_invalid_id = matches!(e.kind(), ErrorKind::InvalidJobId { .. });
        prop_assert!(is_invalid_id);
    }

    #[test]
    fn twin_names_of_allowed_characters_are_accepted(name in "[!#%&'*+0-9A-Z^_`a-z|~-]{1,40}") {
        fleet_core::model::validate::twin_property_name(&name).unwrap();
    }

    #[test]
    fn twin_names_with_a_forbidden_character_are_rejected(
        before in "[a-z]{0,5}",
        after in "[a-z]{0,5}",
        i in 0..TWIN_FORBIDDEN.len(),
    ) {
        let name = format!("{before}{}{after}", TWIN_FORBIDDEN[i]);
        let e = fleet_core::model::validate::twin_property_name(&name).unwrap_err();
        let is_invalid_name = matches!(e.kind(), ErrorKind::InvalidPropertyName { .. });
        prop_assert!(is_invalid_name);
    }

    #[test]
    fn response_timeouts_inside_5_300_are_accepted_and_outside_rejected(t in -1000i64..1000) {
        // The connect timeout (0 to 300) gets the same value; it is valid whenever the response
        // timeout is.
        let request = json!({"type": "scheduleDeviceMethod", "queryCondition": "*",
                             "cloudToDeviceMethod": {"methodName": "m", "responseTimeoutInSeconds": t,
                                                     "connectTimeoutInSeconds": t}});
        let result = parse::validated::<JobRequest>(&request.to_string());
        if (5..=300).contains(&t) {
            prop_assert!(result.is_ok());
        } else {
            // When both are out of range, the response timeout is reported (it is checked first).
            let e = result.unwrap_err();
            prop_assert_eq!(e.path(), Some("cloudToDeviceMethod.responseTimeoutInSeconds"));
        }
    }

    #[test]
    fn progress_and_statistics_add_up_like_the_counts(
        pending in 0u32..1_000_000,
        in_flight in 0u32..1_000_000,
        succeeded in 0u32..1_000_000,
        failed in 0u32..1_000_000,
        cancelled in 0u32..1_000_000,
    ) {
        let total = pending + in_flight + succeeded + failed + cancelled;
        let counts = Counts { total, pending, in_flight, succeeded, failed, cancelled };
        prop_assert!(counts.is_consistent());
        let p = Progress::from(counts);
        prop_assert_eq!(p.pending + p.completed + p.failed, p.total);
        prop_assert_eq!((p.total, p.completed, p.failed), (total, succeeded, failed));
        let s = DeviceJobStatistics::from(counts);
        prop_assert_eq!(
            s.pending_count + s.running_count + s.succeeded_count + s.failed_count,
            s.device_count
        );
        prop_assert_eq!((s.device_count, s.running_count), (total, in_flight));
    }
}
