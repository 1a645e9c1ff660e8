//! The source documents (`shared/seeds/000`-`004`): every HTTP request each one shows, replayed
//! in order and literally (only the host replaced), with the status code and the response
//! fields the document shows. The request texts are copied here from the documents, so the
//! tests do not read `shared/` at run time.
//!
//! The documents assume things exist that they do not create (a device group, devices of a
//! template, earlier jobs): each test creates them first, over a scenario whose templates and
//! ids are the documents' own.
//!
//! Where a document contradicts itself, the test follows the requests and says so: 000, 001
//! and 004 list a `job-006` ("Set customer name") before creating `job-006`, so the list is
//! checked for the jobs that exist at that point (`job-004`, `job-005`); 002 titles its last
//! request "Delete a scheduled job" but shows a `GET`, which is replayed as shown.

use reqwest::Method;
use serde_json::Value;

use crate::common::*;

/// The documents' IoT Central application: the template of the thermostats (`targetTemperature`,
/// `getMaxMinReport`), the one of job-006's cloud property, 002's device template
/// (`dtmi:modelDefinition:dtdlv2`) and scheduled job's (`Company`), and their groups.
const DOCS_APP: &str = r#"
name = "the jobs documents' application"
seed = 7
clock_start = "2022-09-01T00:00:00Z"

[fleet]
devices = 12
id_pattern = "therm-{:02}"
templates = [
  { template = "dtmi:modelDefinition:zomtmdxh:eqod32zbyl", count = 4 },
  { template = "dtmi:modelDefinition:bojo9tfju:yfvu5gv2vl", count = 2 },
  { template = "dtmi:modelDefinition:dtdlv2", count = 2 },
  { template = "dtmi:eclipsethreadx:devkit:hlby5jgib2o", count = 2 },
  { template = "dtmi:rigado:evxfmi0xim", count = 2 },
]

# The documents set targetTemperature both as 56 and as "55" and do not show the model: its
# schema is `any` here (with `double`, "55" fails on every device with `schema_mismatch`, and
# job-006's cancellation threshold cancels it before the document stops it). 002's job-006 runs
# over group1, the devices of `dtmi:modelDefinition:dtdlv2`: the document shows it running until
# it is stopped and resumed, so those devices take "55" too.
[[templates]]
id = "dtmi:modelDefinition:zomtmdxh:eqod32zbyl"
properties = [{ name = "targetTemperature", schema = "any" }]
commands = [{ name = "getMaxMinReport" }]

[[templates]]
id = "dtmi:modelDefinition:bojo9tfju:yfvu5gv2vl"
cloud_properties = [{ name = "CustomerName", schema = "string" }]

[[templates]]
id = "dtmi:modelDefinition:dtdlv2"
properties = [{ name = "targetTemperature", schema = "any" }]

[[templates]]
id = "dtmi:eclipsethreadx:devkit:hlby5jgib2o"
cloud_properties = [{ name = "Company", schema = "string" }]

[[templates]]
id = "dtmi:rigado:evxfmi0xim"
cloud_properties = [{ name = "test", schema = "integer" }]

[[groups]]
id = "833d7a7d-8f99-4e04-9e56-745806bdba6e"
displayName = "Thermostats"
selector = { template = "dtmi:modelDefinition:zomtmdxh:eqod32zbyl" }

[[groups]]
id = "4fcbec3b-5ee8-4324-855d-0f03b56bcf7f"
displayName = "Customer devices"
selector = { template = "dtmi:modelDefinition:bojo9tfju:yfvu5gv2vl" }

[[groups]]
id = "6fecf96f-a26c-49ed-8076-6960f8efba31"
displayName = "Devkits"
selector = { template = "dtmi:eclipsethreadx:devkit:hlby5jgib2o" }

[[groups]]
id = "cdd04344-bb55-425b-a55a-954d68383289"
displayName = "Rigado"
selector = { template = "dtmi:rigado:evxfmi0xim" }

[[behaviour.rules]]
latency = { type = "fixed", ms = 1000 }
failure_probability = 0.0
"#;

/// One request of a document: its text (the request line, then the body if any) and the
/// response it shows (status, and the fields of the body, if the document shows one).
struct Step {
    request: &'static str,
    status: u16,
    response: Option<&'static str>,
}

const fn step(request: &'static str, status: u16, response: Option<&'static str>) -> Step {
    Step {
        request,
        status,
        response,
    }
}

/// The hosts the documents use, replaced by the server's.
const HOSTS: [&str; 3] = [
    "https://{your app subdomain}.azureiotcentral.com",
    "https://{your app subdomain}",
    "https://contoso-hub-1.azure-devices.net",
];

/// Sends a request text (`METHOD URL [HTTP/1.1]`, header lines, a blank line, a body) with the
/// host replaced; headers are sent as shown.
async fn send(s: &TestServer, text: &str) -> Reply {
    let text = text.trim();
    let (head, body) = match text.split_once("\n\n") {
        Some((h, b)) => (h, Some(b)),
        None => match text.find("\n{") {
            Some(i) => (&text[..i], Some(&text[i + 1..])),
            None => (text, None),
        },
    };
    let mut lines = head.lines();
    // The host first: the documents' placeholder has spaces in it.
    let mut line = lines.next().unwrap().to_string();
    for host in HOSTS {
        if line.contains(host) {
            line = line.replacen(host, &s.base, 1);
            break;
        }
    }
    let mut first = line.split_whitespace();
    let method: Method = first.next().unwrap().parse().unwrap();
    let mut url = first.next().unwrap().to_string();
    if url.starts_with('/') {
        url = format!("{}{url}", s.base);
    }
    let mut req = s.client.request(method, url);
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        // The document's Host and Content-Length are the transport's, not the request's.
        let name = name.trim();
        if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length") {
            req = req.header(name, value.trim());
        }
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// Whether `actual` has every field of `expected` with its value (objects: the fields shown;
/// arrays: every element shown matches one of the actual elements). `etag` is the server's own.
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e.iter().all(|(k, v)| {
            k == "etag" && a.get(k).is_some_and(Value::is_string)
                || a.get(k).is_some_and(|av| contains(av, v))
        }),
        (Value::Array(a), Value::Array(e)) => {
            e.iter().all(|ev| a.iter().any(|av| contains(av, ev)))
        }
        _ => actual == expected,
    }
}

/// Replays `steps` in order, checking each status and the fields each response shows.
async fn replay(s: &TestServer, steps: &[Step]) {
    for (i, st) in steps.iter().enumerate() {
        let r = send(s, st.request).await;
        let line = st.request.trim().lines().next().unwrap();
        assert_eq!(r.status, st.status, "step {i}: {line}: {}", r.body);
        if let Some(shown) = st.response {
            let shown: Value = serde_json::from_str(shown).unwrap();
            assert!(
                contains(&r.body, &shown),
                "step {i}: {line}: the response {} lacks the document's fields {shown}",
                r.body
            );
            assert!(
                r.headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json"),
                "step {i}"
            );
        }
    }
}

// ----- 000 (German), 001 (Chinese), 004 (French): the preview jobs how-to -----

/// What the preview how-to assumes: job-004 (a command job) and job-005 (a property job) over
/// the thermostats' group, complete.
async fn preview_setup(s: &TestServer) {
    let jobs = [
        (
            "job-004",
            r#"{"displayName": "Run device report", "description": "Call command to run the device reports",
            "group": "833d7a7d-8f99-4e04-9e56-745806bdba6e",
            "batch": {"type": "percentage", "value": 25},
            "cancellationThreshold": {"type": "percentage", "value": 10, "batch": false},
            "data": [{"type": "CommandJobData", "target": "dtmi:modelDefinition:zomtmdxh:eqod32zbyl",
                      "path": "getMaxMinReport", "value": "2021-06-15T05:00:00.000Z"}]}"#,
        ),
        (
            "job-005",
            r#"{"displayName": "Set target temperature", "description": "Set target temperature device property",
            "group": "833d7a7d-8f99-4e04-9e56-745806bdba6e",
            "data": [{"type": "PropertyJobData", "target": "dtmi:modelDefinition:zomtmdxh:eqod32zbyl",
                      "path": "targetTemperature", "value": 56}]}"#,
        ),
    ];
    for (id, body) in jobs {
        let r = s
            .put(
                &format!("/api/jobs/{id}?api-version=preview"),
                serde_json::from_str(body).unwrap(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        s.wait_for(
            &format!("/api/jobs/{id}?api-version=preview"),
            "status",
            &["complete", "completed"],
        )
        .await;
    }
}

/// The requests of the preview how-to (identical in 000, 001 and 004), with what it shows.
const PREVIEW_STEPS: [Step; 7] = [
    step(
        "GET https://{your app subdomain}.azureiotcentral.com/api/jobs?api-version=preview",
        200,
        Some(
            r#"{
  "value": [
    {
      "id": "job-005",
      "displayName": "Set target temperature",
      "description": "Set target temperature device property",
      "group": "833d7a7d-8f99-4e04-9e56-745806bdba6e",
      "data": [
        {
          "type": "PropertyJobData",
          "target": "dtmi:modelDefinition:zomtmdxh:eqod32zbyl",
          "path": "targetTemperature",
          "value": 56
        }
      ],
      "status": "complete"
    },
    {
      "id": "job-004",
      "displayName": "Run device report",
      "description": "Call command to run the device reports",
      "group": "833d7a7d-8f99-4e04-9e56-745806bdba6e",
      "batch": {
        "type": "percentage",
        "value": 25
      },
      "cancellationThreshold": {
        "type": "percentage",
        "value": 10,
        "batch": false
      },
      "data": [
        {
          "type": "CommandJobData",
          "target": "dtmi:modelDefinition:zomtmdxh:eqod32zbyl",
          "path": "getMaxMinReport",
          "value": "2021-06-15T05:00:00.000Z"
        }
      ],
      "status": "complete"
    }
  ]
}"#,
        ),
    ),
    step(
        "GET https://{your app subdomain}.azureiotcentral.com/api/jobs/job-004?api-version=preview",
        200,
        Some(
            r#"{
  "id": "job-004",
  "displayName": "Run device report",
  "description": "Call command to run the device reports",
  "group": "833d7a7d-8f99-4e04-9e56-745806bdba6e",
  "batch": {
    "type": "percentage",
    "value": 25
  },
  "cancellationThreshold": {
    "type": "percentage",
    "value": 10,
    "batch": false
  },
  "data": [
    {
      "type": "CommandJobData",
      "target": "dtmi:modelDefinition:zomtmdxh:eqod32zbyl",
      "path": "getMaxMinReport",
      "value": "2021-06-15T05:00:00.000Z"
    }
  ],
  "status": "complete"
}"#,
        ),
    ),
    step(
        "GET https://{your app subdomain}.azureiotcentral.com/api/jobs/job-004/devices?api-version=preview",
        200,
        // The document's device ids are its own application's; here every device of the job is
        // `completed`, as it shows (checked in `preview_document` too).
        Some(r#"{"value": [{"status": "completed"}]}"#),
    ),
    step(
        r#"PUT https://{your app subdomain}.azureiotcentral.com/api/jobs/job-006?api-version=preview
{
  "displayName": "Set target temperature",
  "description": "Set target temperature device property",
  "group": "833d7a7d-8f99-4e04-9e56-745806bdba6e",
  "batch": {
    "type": "percentage",
    "value": 25
  },
  "cancellationThreshold": {
    "type": "percentage",
    "value": 10,
    "batch": false
  },
  "data": [
    {
      "type": "PropertyJobData",
      "target": "dtmi:modelDefinition:zomtmdxh:eqod32zbyl",
      "path": "targetTemperature",
      "value": "55"
    }
  ]
}"#,
        200,
        Some(
            r#"{
  "id": "job-006",
  "displayName": "Set target temperature",
  "description": "Set target temperature device property",
  "group": "833d7a7d-8f99-4e04-9e56-745806bdba6e",
  "batch": {
    "type": "percentage",
    "value": 25
  },
  "cancellationThreshold": {
    "type": "percentage",
    "value": 10,
    "batch": false
  },
  "data": [
    {
      "type": "PropertyJobData",
      "target": "dtmi:modelDefinition:zomtmdxh:eqod32zbyl",
      "path": "targetTemperature",
      "value": "55"
    }
  ],
  "status": "pending"
}"#,
        ),
    ),
    step(
        "POST https://{your app subdomain}.azureiotcentral.com/api/jobs/job-006/stop?api-version=preview",
        204,
        None,
    ),
    step(
        "POST https://{your app subdomain}.azureiotcentral.com/api/jobs/job-006/resume?api-version=preview",
        204,
        None,
    ),
    step(
        "PUT https://{your app subdomain}.azureiotcentral.com/api/jobs/job-006/rerun/rerun-001?api-version=preview",
        200,
        None,
    ),
];

/// 000, 001 and 004 show the same requests; each test replays them on its own server. The
/// server runs at scale 1, so job-006 is still running when it is stopped (its first device
/// answers after a virtual second) and stopped when it is resumed; the rerun then waits for
/// it to settle, as a rerun of a running job is refused.
async fn preview_document() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), DOCS_APP);
    let s = start(config().scenario(&path).time_scale(1.0)).await;
    preview_setup(&s).await;
    replay(&s, &PREVIEW_STEPS[..6]).await;
    // Every device of job-004 completed (the document shows four, all `completed`).
    let r = s.get("/api/jobs/job-004/devices?api-version=preview").await;
    let devices = r.body["value"].as_array().unwrap();
    assert_eq!(devices.len(), 4, "{}", r.body);
    assert!(devices
        .iter()
        .all(|d| d["status"] == "completed" && d["id"].as_str().unwrap().starts_with("therm-")));
    s.wait_for(
        "/api/jobs/job-006?api-version=preview",
        "status",
        &["complete", "completed", "failed"],
    )
    .await;
    replay(&s, &PREVIEW_STEPS[6..]).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_000_german_preview_jobs() {
    preview_document().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_001_chinese_preview_jobs() {
    preview_document().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_004_french_preview_jobs() {
    preview_document().await;
}

// ----- 002 (English): jobs, device groups and scheduled jobs, api-version 2022-07-31 -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_002_english_jobs_and_scheduled_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), DOCS_APP);
    let s = start(config().scenario(&path).time_scale(1.0)).await;
    // What the document assumes: job-004 and job-005, as in the preview how-to.
    for (id, body) in [("job-004", PREVIEW_JOB_004), ("job-005", PREVIEW_JOB_005)] {
        let r = s
            .put(
                &format!("/api/jobs/{id}?api-version=2022-07-31"),
                serde_json::from_str(body).unwrap(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        s.wait_for(
            &format!("/api/jobs/{id}?api-version=2022-07-31"),
            "status",
            &["complete", "completed"],
        )
        .await;
    }
    let steps: Vec<Step> = PREVIEW_STEPS[..3]
        .iter()
        .map(|st| Step {
            request: leak(
                st.request
                    .replace("api-version=preview", "api-version=2022-07-31"),
            ),
            status: st.status,
            response: st.response,
        })
        .collect();
    replay(&s, &steps).await;
    replay(&s, &ENGLISH_STEPS[..2]).await;
    // Stop and resume job-006 while it runs (204 each, as the document shows); the job is
    // stopped in between.
    replay(&s, &ENGLISH_STEPS[2..3]).await;
    let job = s.get("/api/jobs/job-006?api-version=2022-07-31").await;
    assert_eq!(job.body["status"], "stopped", "{}", job.body);
    replay(&s, &ENGLISH_STEPS[3..4]).await;
    // The rerun of job-006 once it has settled (a running job's rerun is refused).
    s.wait_for(
        "/api/jobs/job-006?api-version=2022-07-31",
        "status",
        &["complete", "completed", "failed", "cancelled"],
    )
    .await;
    replay(
        &s,
        &[step(
            "PUT https://{your app subdomain}.azureiotcentral.com/api/jobs/job-006/rerun/rerun-001?api-version=2022-07-31",
            200,
            None,
        )],
    )
    .await;
    replay(&s, &ENGLISH_STEPS[4..]).await;
    // "Delete a scheduled job" shows a GET: replayed as shown, it reads the job.
    replay(
        &s,
        &[step(
            "GET https://{your app subdomain}.azureiotcentral.com/api/scheduledJobs/scheduled-Job-001?api-version=2022-07-31",
            200,
            Some(r#"{"id": "scheduled-Job-001", "schedule": {"recurrence": "weekly"}}"#),
        )],
    )
    .await;
    s.stop().await;
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

const PREVIEW_JOB_004: &str = r#"{"displayName": "Run device report", "description": "Call command to run the device reports",
    "group": "833d7a7d-8f99-4e04-9e56-745806bdba6e",
    "batch": {"type": "percentage", "value": 25},
    "cancellationThreshold": {"type": "percentage", "value": 10, "batch": false},
    "data": [{"type": "CommandJobData", "target": "dtmi:modelDefinition:zomtmdxh:eqod32zbyl",
              "path": "getMaxMinReport", "value": "2021-06-15T05:00:00.000Z"}]}"#;

const PREVIEW_JOB_005: &str = r#"{"displayName": "Set target temperature", "description": "Set target temperature device property",
    "group": "833d7a7d-8f99-4e04-9e56-745806bdba6e",
    "data": [{"type": "PropertyJobData", "target": "dtmi:modelDefinition:zomtmdxh:eqod32zbyl",
              "path": "targetTemperature", "value": 56}]}"#;

/// 002's requests after the three it shares with the preview how-to.
const ENGLISH_STEPS: [Step; 8] = [
    step(
        r#"PUT https://{your app subdomain}/api/deviceGroups/group1?api-version=2022-07-31
{
  "displayName": "Device group 1",
  "description": "Custom device group.",
  "filter": "SELECT * FROM devices WHERE $template = \"dtmi:modelDefinition:dtdlv2\" AND $provisioned = true"
}"#,
        200,
        Some(
            r#"{
  "id": "group1",
  "displayName": "Device group 1",
  "description": "Custom device group.",
  "filter": "SELECT * FROM devices WHERE $template = \"dtmi:modelDefinition:dtdlv2\" AND $provisioned = true"
}"#,
        ),
    ),
    step(
        r#"PUT https://{your app subdomain}.azureiotcentral.com/api/jobs/job-006?api-version=2022-07-31
{
  "displayName": "Set target temperature",
  "description": "Set target temperature device property",
  "group": "group1",
  "batch": {
    "type": "percentage",
    "value": 25
  },
  "cancellationThreshold": {
    "type": "percentage",
    "value": 10,
    "batch": false
  },
  "data": [
    {
      "type": "PropertyJobData",
      "target": "dtmi:modelDefinition:zomtmdxh:eqod32zbyl",
      "path": "targetTemperature",
      "value": "55"
    }
  ]
}"#,
        200,
        Some(
            r#"{
  "id": "job-006",
  "displayName": "Set target temperature",
  "description": "Set target temperature device property",
  "group": "group1",
  "batch": {
    "type": "percentage",
    "value": 25
  },
  "cancellationThreshold": {
    "type": "percentage",
    "value": 10,
    "batch": false
  },
  "data": [
    {
      "type": "PropertyJobData",
      "target": "dtmi:modelDefinition:zomtmdxh:eqod32zbyl",
      "path": "targetTemperature",
      "value": "55"
    }
  ],
  "status": "pending"
}"#,
        ),
    ),
    step(
        "POST https://{your app subdomain}.azureiotcentral.com/api/jobs/job-006/stop?api-version=2022-07-31",
        204,
        None,
    ),
    step(
        "POST https://{your app subdomain}.azureiotcentral.com/api/jobs/job-006/resume?api-version=2022-07-31",
        204,
        None,
    ),
    step(
        r#"PUT https://{your app subdomain}.azureiotcentral.com/api/scheduledJobs/scheduled-Job-001?api-version=2022-07-31
{
    "displayName": "New Scheduled Job",
    "group": "6fecf96f-a26c-49ed-8076-6960f8efba31",
    "data": [
        {
            "type": "cloudProperty",
            "target": "dtmi:eclipsethreadx:devkit:hlby5jgib2o",
            "path": "Company",
            "value": "Contoso"
        }
    ],
    "schedule": {
        "start": "2022-10-24T22:29:01Z",
        "recurrence": "daily",
        "end": {
            "type": "date",
            "date": "2022-12-30"
        }
    }
}"#,
        200,
        Some(
            r#"{
    "id": "scheduled-Job-001",
    "displayName": "New Scheduled Job",
    "description": "",
    "group": "6fecf96f-a26c-49ed-8076-6960f8efba31",
    "data": [
        {
            "type": "cloudProperty",
            "target": "dtmi:eclipsethreadx:devkit:hlby5jgib2o",
            "path": "Company",
            "value": "Contoso"
        }
    ],
    "schedule": {
        "start": "2022-10-24T22:29:01Z",
        "recurrence": "daily",
        "end": {
            "type": "date",
            "date": "2022-12-30"
        }
    },
    "enabled": false,
    "completed": false,
    "etag": "\"88003877-0000-0700-0000-631020670000\""
}"#,
        ),
    ),
    step(
        "GET https://{your app subdomain}.azureiotcentral.com/api/scheduledJobs/scheduled-Job-001?api-version=2022-07-31",
        200,
        Some(
            r#"{
    "id": "scheduled-Job-001",
    "displayName": "New Scheduled Job",
    "description": "",
    "group": "6fecf96f-a26c-49ed-8076-6960f8efba31",
    "data": [
        {
            "type": "cloudProperty",
            "target": "dtmi:eclipsethreadx:devkit:hlby5jgib2o",
            "path": "Company",
            "value": "Contoso"
        }
    ],
    "schedule": {
        "start": "2022-10-24T22:29:01Z",
        "recurrence": "daily"
    },
    "enabled": false,
    "completed": false,
    "etag": "\"88003877-0000-0700-0000-631020670000\""
}"#,
        ),
    ),
    step(
        "GET https://{your app subdomain}.azureiotcentral.com/api/scheduledJobs?api-version=2022-07-31",
        200,
        // The document's second scheduled job (`46480dff-...`) is another application's.
        Some(
            r#"{
    "value": [
        {
            "id": "scheduled-Job-001",
            "displayName": "New Scheduled Job",
            "description": "",
            "group": "6fecf96f-a26c-49ed-8076-6960f8efba31",
            "data": [
                {
                    "type": "cloudProperty",
                    "target": "dtmi:eclipsethreadx:devkit:hlby5jgib2o",
                    "path": "Company",
                    "value": "Contoso"
                }
            ],
            "schedule": {
                "start": "2022-10-24T22:29:01Z",
                "recurrence": "daily"
            },
            "enabled": false,
            "completed": false,
            "etag": "\"88003877-0000-0700-0000-631020670000\""
        }
    ]
}"#,
        ),
    ),
    step(
        r#"PATCH https://{your app subdomain}.azureiotcentral.com/api/scheduledJobs/scheduled-Job-001?api-version=2022-07-31
{
  "schedule": {
    "start": "2022-10-24T22:29:01Z",
    "recurrence": "weekly"
  }
}"#,
        200,
        Some(
            r#"{
    "id": "scheduled-Job-001",
    "displayName": "New Scheduled Job",
    "description": "",
    "group": "6fecf96f-a26c-49ed-8076-6960f8efba31",
    "data": [
        {
            "type": "cloudProperty",
            "target": "dtmi:eclipsethreadx:devkit:hlby5jgib2o",
            "path": "Company",
            "value": "Contoso"
        }
    ],
    "schedule": {
        "start": "2022-10-24T22:29:01Z",
        "recurrence": "weekly"
    },
    "enabled": false,
    "completed": false,
    "etag": "\"88003877-0000-0700-0000-631020670000\""
}"#,
        ),
    ),
];

// ----- 003 (German): the IoT Hub jobs guide -----

/// 003's requests: a direct-method job and a twin-update job (with the headers shown; the
/// server has no keys here, so the document's redacted signatures are not checked), then the
/// job query with its optional parameters left out and given.
const HUB_STEPS: [Step; 5] = [
    step(
        r#"PUT https://contoso-hub-1.azure-devices.net/jobs/v2/job01?api-version=2021-04-12 HTTP/1.1
Authorization: SharedAccessSignature sr=contoso-hub-1.azure-devices.net&sig=68iv------------------------------------v8Hxalg%3D&se=1556849884&skn=iothubowner
Content-Type: application/json; charset=utf-8
Host: contoso-hub-1.azure-devices.net
Content-Length: 317

{
    "jobId": "job01",
    "type": "scheduleDeviceMethod",
    "cloudToDeviceMethod": {
        "methodName": "testMethod",
        "payload": {},
        "responseTimeoutInSeconds": 30
    },
    "queryCondition": "*",
    "startTime": "2019-05-04T15:53:00.077Z",
    "maxExecutionTimeInSeconds": 20
}"#,
        200,
        Some(r#"{"jobId":"job01","type":"scheduleDeviceMethod","status":"queued"}"#),
    ),
    step(
        r#"PUT https://contoso-hub-1.azure-devices.net/jobs/v2/job02?api-version=2021-04-12 HTTP/1.1
Authorization: SharedAccessSignature sr=contoso-hub-1.azure-devices.net&sig=BN0U-------------------------------------RuA%3D&se=1556925787&skn=iothubowner
Content-Type: application/json; charset=utf-8
Host: contoso-hub-1.azure-devices.net
Content-Length: 339

{
    "jobId": "job02",
    "type": "scheduleUpdateTwin",
    "updateTwin": {
      "properties": {
        "desired": {
          "test1": "value1"
        }
      },
     "etag": "*"
     },
    "queryCondition": "deviceId = 'test-device'",
    "startTime": "2019-05-08T12:19:56.868Z",
    "maxExecutionTimeInSeconds": 20
}"#,
        200,
        Some(r#"{"jobId":"job02","type":"scheduleUpdateTwin","status":"queued"}"#),
    ),
    step(
        "GET https://contoso-hub-1.azure-devices.net/jobs/v2/job01?api-version=2021-04-12",
        200,
        Some(r#"{"jobId":"job01","type":"scheduleDeviceMethod"}"#),
    ),
    step(
        "GET /jobs/v2/query?api-version=2021-04-12\nAuthorization: <config.sharedAccessSignature>\nContent-Type: application/json; charset=utf-8",
        200,
        Some(r#"[{"jobId":"job01"},{"jobId":"job02"}]"#),
    ),
    step(
        "GET /jobs/v2/query?api-version=2021-04-12&jobType=scheduleUpdateTwin&pageSize=1",
        200,
        Some(r#"[{"jobId":"job02","type":"scheduleUpdateTwin"}]"#),
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_003_german_hub_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), DOCS_APP);
    let s = start(config().scenario(&path).time_scale(1.0)).await;
    replay(&s, &HUB_STEPS).await;
    // The query with a page size: one job, and the continuation the guide describes.
    let r = send(&s, "GET /jobs/v2/query?api-version=2021-04-12&pageSize=1").await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let token = r.headers["x-ms-continuation"].to_str().unwrap().to_string();
    let r = send(
        &s,
        &format!("GET /jobs/v2/query?api-version=2021-04-12&pageSize=1&continuationToken={token}"),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.body[0]["jobId"].as_str()),
        (200, Some("job02"))
    );
    s.stop().await;
}
