//! proptest strategies for jobs in every dialect, within each API's limits (feature
//! `proptest`): for property tests of the code that builds and sends jobs.
//!
//! Each strategy gives the JSON the API takes (what an automation sends); every job it gives
//! reads as a [`JobDefinition`] of its dialect and passes the model's validation (a test of
//! this crate checks it). Shrinking goes toward the simplest job: fewer data entries, no
//! batches or thresholds, small numbers.
//!
//! ```
//! use fleet_core::model::JobDefinition;
//! use fleet_core::strategy;
//! use proptest::prelude::*;
//!
//! proptest!(|(job in strategy::job("all-devices"))| {
//!     // Every generated job is valid and runs over any number of targets.
//!     let def = JobDefinition::from_value(job.json.clone()).unwrap();
//!     let run = def.run_builder().unwrap().build(25).unwrap();
//!     prop_assert_eq!(run.counts().total, 25);
//! });
//! ```

use proptest::prelude::*;
use serde_json::{json, Value};

/// A job's dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// An IoT Central job (`PUT /jobs/{id}`).
    Central,
    /// An IoT Hub JobRequest (`PUT /jobs/v2/{id}`).
    Hub,
    /// An AWS IoT Jobs `CreateJob` body.
    Aws,
    /// A hawkBit rollout (`POST /rest/v1/rollouts`).
    Hawkbit,
}

/// A generated job: its dialect and its JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedJob {
    /// The dialect.
    pub dialect: Dialect,
    /// The JSON the API takes.
    pub json: Value,
}

/// A job in any of the four dialects; an IoT Central job targets `group`.
pub fn job(group: &str) -> impl Strategy<Value = GeneratedJob> {
    let tag = |dialect: Dialect| move |json: Value| GeneratedJob { dialect, json };
    prop_oneof![
        central_job(group).prop_map(tag(Dialect::Central)),
        hub_job().prop_map(tag(Dialect::Hub)),
        aws_job().prop_map(tag(Dialect::Aws)),
        hawkbit_rollout().prop_map(tag(Dialect::Hawkbit)),
    ]
}

/// An IoT Central batch: a percentage in (0, 100] or a number of at least 1.
pub fn central_batch() -> impl Strategy<Value = Value> {
    prop_oneof![
        (1u32..=1000)
            .prop_map(|tenths| json!({"type": "percentage", "value": f64::from(tenths) / 10.0})),
        (1u32..=10_000).prop_map(|n| json!({"type": "number", "value": n})),
    ]
}

/// An IoT Central cancellation threshold, job-wide or per batch.
pub fn central_threshold() -> impl Strategy<Value = Value> {
    (central_batch(), any::<bool>()).prop_map(|(mut t, batch)| {
        t["batch"] = Value::Bool(batch);
        t
    })
}

/// An IoT Central job over `group`: 1 to 32 property entries on template `dtmi:fleetsim:t;1`
/// (properties `p0` to `p31`, integers; one entry per property, as IoT Central requires),
/// optional batches and threshold.
pub fn central_job(group: &str) -> impl Strategy<Value = Value> {
    let group = group.to_string();
    (
        "[A-Za-z0-9._~-]{1,32}",
        prop::option::of(central_batch()),
        prop::option::of(central_threshold()),
        prop::collection::vec(-1000i64..1000, 1..=32),
    )
        .prop_map(move |(id, batch, threshold, values)| {
            let data: Vec<Value> = values
                .iter()
                .enumerate()
                .map(|(i, v)| json!({"type": "property", "target": "dtmi:fleetsim:t;1", "path": format!("p{i}"), "value": v}))
                .collect();
            let mut job = json!({"id": id, "displayName": "generated", "group": group, "data": data});
            if let Some(b) = batch {
                job["batch"] = b;
            }
            if let Some(t) = threshold {
                job["cancellationThreshold"] = t;
            }
            job
        })
}

/// An IoT Hub JobRequest: a direct method (response timeout 5 to 300 s) or a twin update,
/// over every device, with an optional deadline.
pub fn hub_job() -> impl Strategy<Value = Value> {
    let method = (5u32..=300).prop_map(|t| {
        json!({"type": "scheduleDeviceMethod",
               "cloudToDeviceMethod": {"methodName": "reboot", "responseTimeoutInSeconds": t}})
    });
    let twin = (-1000i64..1000).prop_map(|v| {
        json!({"type": "scheduleUpdateTwin",
               "updateTwin": {"etag": "*", "properties": {"desired": {"p": v}}}})
    });
    (
        "[A-Za-z0-9-]{1,64}",
        prop_oneof![method, twin],
        prop::option::of(1u32..=86_400),
    )
        .prop_map(|(id, mut job, deadline)| {
            job["jobId"] = Value::String(id);
            job["queryCondition"] = Value::String("*".into());
            if let Some(d) = deadline {
                job["maxExecutionTimeInSeconds"] = Value::from(d);
            }
            job
        })
}

/// An AWS IoT Jobs CreateJob body: a rate of 1 to 1,000 per minute, optionally an abort
/// criterion and an in-progress timeout (1 to 10,080 minutes).
pub fn aws_job() -> impl Strategy<Value = Value> {
    (
        "[a-zA-Z0-9_-]{1,64}",
        1u32..=1000,
        prop::option::of((1u32..=100, 1u32..=1000)),
        prop::option::of(1u32..=10_080),
    )
        .prop_map(|(id, rate, abort, timeout)| {
            let mut job = json!({
                "jobId": id,
                "document": "{\"operation\":\"update\"}",
                "targetSelection": "SNAPSHOT",
                "jobExecutionsRolloutConfig": {"maximumPerMinute": rate},
            });
            if let Some((percent, min)) = abort {
                job["abortConfig"] = json!({"criteriaList": [{"failureType": "FAILED",
                    "action": "CANCEL", "thresholdPercentage": percent,
                    "minNumberOfExecutedThings": min}]});
            }
            if let Some(t) = timeout {
                job["timeoutConfig"] = json!({"inProgressTimeoutInMinutes": t});
            }
            job
        })
}

/// A hawkBit rollout: 1 to 20 equal groups with success and error gates.
pub fn hawkbit_rollout() -> impl Strategy<Value = Value> {
    (
        "[a-z][a-z0-9-]{0,31}",
        1u32..=1000,
        1u32..=20,
        1u32..=100,
        1u32..=100,
    )
        .prop_map(|(name, set, groups, success, error)| {
            json!({
                "name": name,
                "distributionSetId": set,
                "amountGroups": groups,
                "successCondition": {"condition": "THRESHOLD", "expression": success.to_string()},
                "successAction": {"action": "NEXTGROUP", "expression": ""},
                "errorCondition": {"condition": "THRESHOLD", "expression": error.to_string()},
                "errorAction": {"action": "PAUSE", "expression": ""},
            })
        })
}
