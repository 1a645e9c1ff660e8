//! `/openapi.json`: it describes exactly the routes served, lists every status of each
//! operation, has security only when keys are configured, and real responses of a running
//! server validate against its schemas (with the `jsonschema` crate, JSON Schema 2020-12).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

const KEY: &str = "c2VjcmV0LWtleS1ieXRlcw==";

/// Every (method, path) of the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

/// `text` as one token of a JSON pointer in a URI fragment (`/` is `~1`, braces encoded).
fn escape(text: &str) -> String {
    text.replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

/// A validator of the response body of `method path` with `status`, against the document.
fn validator(doc: &Value, method: &str, path: &str, status: u16) -> jsonschema::Validator {
    let pointer = format!(
        "#/paths/{}/{method}/responses/{status}/content/application~1json/schema",
        escape(path)
    );
    let mut root = doc.clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["$ref"] = json!(pointer);
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("{method} {path} {status}: {e}"))
}

/// Checks a reply against the document: its status is documented and its body (JSON, with a
/// JSON content type) is valid.
fn check(doc: &Value, method: &str, path: &str, reply: &Reply) {
    let status = reply.status.as_u16();
    let op = &doc["paths"][path][method];
    assert!(
        op["responses"][status.to_string()].is_object(),
        "{method} {path}: status {status} is not documented"
    );
    let content_type = reply.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let v = validator(doc, method, path, status);
    let errors: Vec<String> = v.iter_errors(&reply.body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:?}\n{}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_exactly_the_routes_served() {
    let s = start(config().time_scale(1000.0)).await;
    let doc = s.get("/openapi.json").await.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let served: BTreeSet<(String, String)> = fleet_server::openapi::served().into_iter().collect();
    assert_eq!(served.len(), 40, "{served:?}");
    assert_eq!(documented(&doc), served);
    // Every documented operation is served: it is neither 405 nor the fallback's 404.
    for (method, path) in &served {
        let concrete = path.replace("{id}", "x").replace("{rerunId}", "y");
        let version = if concrete.starts_with("/api") { CV } else { HV };
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = s
            .call(m, &format!("{concrete}?{version}"), Some(json!({})), &[])
            .await;
        assert_ne!(
            r.status, 405,
            "{method} {path} is documented but not served"
        );
        let message = r.body["error"]["message"]
            .as_str()
            .or(r.body["Message"].as_str())
            .unwrap_or_default();
        assert!(
            !message.contains("no resource at"),
            "{method} {path}: {message}"
        );
    }
    // An undocumented path is not served.
    let r = s.get(&format!("/api/users?{CV}")).await;
    assert_eq!(r.status, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_lists_its_statuses_with_the_apis_error_body() {
    let s = start(config().time_scale(1000.0)).await;
    let doc = s.get("/openapi.json").await.body;
    for (method, path) in documented(&doc) {
        if OPS.contains(&path.as_str()) {
            continue; // text answers, tested in `operator_paths_answer_text`
        }
        let responses = doc["paths"][&path][&method]["responses"]
            .as_object()
            .unwrap();
        let statuses: BTreeSet<&str> = responses.keys().map(String::as_str).collect();
        let success = statuses.iter().filter(|s| s.starts_with('2')).count();
        assert_eq!(success, 1, "{method} {path}: {statuses:?}");
        for common in ["400", "413", "414", "431", "503"] {
            assert!(statuses.contains(common), "{method} {path} lacks {common}");
        }
        // No keys, no throttling hub model: neither 401 nor 429.
        assert!(!statuses.contains("401") && !statuses.contains("429"));
        if path.contains("{id}") && method != "put" {
            assert!(statuses.contains("404"), "{method} {path} lacks 404");
        }
        let error = if path.starts_with("/api/") {
            "CentralError"
        } else {
            "HubError"
        };
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    format!("#/components/schemas/{error}"),
                    "{method} {path} {status}"
                );
            }
        }
    }
    let ops = &doc["paths"];
    for (path, method, status) in [
        ("/api/jobs/{id}", "put", "409"),
        ("/api/jobs/{id}/stop", "post", "409"),
        ("/api/scheduledJobs/{id}", "put", "412"),
        ("/api/deviceGroups/{id}", "patch", "412"),
        ("/jobs/v2/{id}", "put", "409"),
    ] {
        assert!(
            ops[path][method]["responses"][status].is_object(),
            "{method} {path}"
        );
    }
    assert!(ops["/api/jobs/{id}/stop"]["post"]["responses"]["204"].is_object());
    assert!(doc["components"]["securitySchemes"].is_null());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_and_throttling_are_documented_only_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(
        config()
            .scenario(scenario(dir.path(), S1_HUB))
            .hub_key("service", KEY)
            .central_token("token"),
    )
    .await;
    let doc = s.get("/openapi.json").await.body;
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes.len(), 2);
    for (method, path) in documented(&doc) {
        let op = &doc["paths"][&path][&method];
        if path == "/openapi.json" || path == "/healthz" || path == "/readyz" {
            assert!(op["responses"]["401"].is_null(), "{path}");
            continue;
        }
        if path == "/metrics" {
            assert!(op["responses"]["401"].is_object());
            assert_eq!(
                op["security"].as_array().unwrap().len(),
                2,
                "either API's credentials"
            );
            continue;
        }
        let scheme = if path.starts_with("/api/") {
            "centralToken"
        } else {
            "hubSas"
        };
        assert!(op["responses"]["401"].is_object(), "{method} {path}");
        assert!(op["security"][0][scheme].is_array(), "{method} {path}");
    }
    let ops = &doc["paths"];
    assert!(ops["/jobs/v2/{id}"]["put"]["responses"]["429"].is_object());
    assert!(ops["/devices/query"]["post"]["responses"]["429"].is_object());
    assert!(ops["/twins/{id}"]["get"]["responses"]["429"].is_null());
    assert!(ops["/api/jobs/{id}"]["put"]["responses"]["429"].is_null());
    // The scenario's templates are the values a job's target may take.
    let target = &doc["components"]["schemas"]["JobDataRequest"]["oneOf"][0]["items"]["properties"]
        ["target"];
    assert_eq!(target["enum"], json!(["dtmi:t;1"]));
    s.stop().await;
}

/// The central operations of a demo server, each reply checked against the document.
async fn central_replies(s: &TestServer, doc: &Value) {
    let group = json!({"displayName": "Warm", "filter": "SELECT * FROM devices WHERE $template = \"dtmi:contoso:thermostat;1\""});
    let r = s.put(&format!("/api/deviceGroups/warm?{CV}"), group).await;
    assert_eq!(r.status, 200, "{}", r.body);
    check(doc, "put", "/api/deviceGroups/{id}", &r);
    for (path, url) in [
        ("/api/deviceGroups/{id}", "/api/deviceGroups/warm"),
        ("/api/deviceGroups", "/api/deviceGroups"),
        (
            "/api/deviceGroups/{id}/devices",
            "/api/deviceGroups/warm/devices",
        ),
    ] {
        let r = s.get(&format!("{url}?{CV}&maxpagesize=3")).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        check(doc, "get", path, &r);
    }
    let r = s
        .put(
            &format!("/api/jobs/j1?{CV}"),
            property_job("warm", json!(21)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    check(doc, "put", "/api/jobs/{id}", &r);
    let done = s
        .wait_for(&format!("/api/jobs/j1?{CV}"), "status", &["complete"])
        .await;
    assert_eq!(done["progress"]["total"], 50);
    for (path, url) in [
        ("/api/jobs/{id}", "/api/jobs/j1"),
        ("/api/jobs", "/api/jobs"),
        ("/api/jobs/{id}/devices", "/api/jobs/j1/devices"),
    ] {
        let r = s.get(&format!("{url}?{CV}&maxpagesize=2")).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        check(doc, "get", path, &r);
    }
    let scheduled = json!({"displayName": "Nightly", "group": "warm",
        "data": [{"type": "command", "target": "dtmi:contoso:thermostat;1", "path": "reboot"}],
        "schedule": {"start": "2099-01-01T00:00:00Z", "recurrence": "daily",
            "end": {"type": "occurrences", "occurrences": 3}}});
    let r = s
        .put(&format!("/api/scheduledJobs/nightly?{CV}"), scheduled)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    check(doc, "put", "/api/scheduledJobs/{id}", &r);
    let r = s.get(&format!("/api/scheduledJobs?{CV}")).await;
    check(doc, "get", "/api/scheduledJobs", &r);
    let r = s.get(&format!("/api/jobs/nope?{CV}")).await;
    assert_eq!(r.status, 404);
    check(doc, "get", "/api/jobs/{id}", &r);
    let r = s.get("/api/jobs?api-version=1.0").await;
    assert_eq!(r.status, 400);
    check(doc, "get", "/api/jobs", &r);
}

/// The hub operations of a demo server, each reply checked against the document.
async fn hub_replies(s: &TestServer, doc: &Value) {
    let job = json!({"type": "scheduleUpdateTwin", "queryCondition": "*",
        "updateTwin": {"etag": "*", "tags": {"site": {"name": "north"}}}});
    let r = s.put(&format!("/jobs/v2/h1?{HV}"), job).await;
    assert_eq!(r.status, 200, "{}", r.body);
    check(doc, "put", "/jobs/v2/{id}", &r);
    s.wait_for(&format!("/jobs/v2/h1?{HV}"), "status", &["completed"])
        .await;
    let r = s.get(&format!("/jobs/v2/h1?{HV}")).await;
    check(doc, "get", "/jobs/v2/{id}", &r);
    let r = s.post(&format!("/jobs/v2/h1/cancel?{HV}"), None).await;
    check(doc, "post", "/jobs/v2/{id}/cancel", &r);
    let r = s
        .get(&format!("/jobs/v2/query?{HV}&jobType=scheduleUpdateTwin"))
        .await;
    check(doc, "get", "/jobs/v2/query", &r);
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    let query = json!({"query": "SELECT * FROM devices WHERE tags.site.name = 'north'"});
    let r = s
        .call(
            Method::POST,
            &format!("/devices/query?{HV}"),
            Some(query),
            &[("x-ms-max-item-count", "2")],
        )
        .await;
    check(doc, "post", "/devices/query", &r);
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let token = r.headers["x-ms-continuation"].to_str().unwrap();
    let pattern = doc["paths"]["/devices/query"]["post"]["responses"]["200"]["headers"]
        ["x-ms-continuation"]["schema"]["pattern"]
        .as_str()
        .unwrap();
    let v = jsonschema::validator_for(&json!({"pattern": pattern})).unwrap();
    assert!(
        v.is_valid(&json!(token)),
        "{token} does not match {pattern}"
    );
    let r = s.get(&format!("/twins/therm-00?{HV}")).await;
    check(doc, "get", "/twins/{id}", &r);
    assert_eq!(r.body["tags"]["site"]["name"], "north");
    let r = s.get(&format!("/twins/nobody?{HV}")).await;
    assert_eq!(r.status, 404);
    check(doc, "get", "/twins/{id}", &r);
}

/// The device-level operations (IoT Central devices and templates, IoT Hub twin writes and
/// methods), each reply checked against the document.
async fn device_replies(s: &TestServer, doc: &Value) {
    for (path, url) in [
        (
            "/api/devices",
            "/api/devices?api-version=2022-07-31&maxpagesize=2&orderby=displayName%20desc",
        ),
        (
            "/api/devices",
            "/api/devices?api-version=1.1-preview&$top=2&$filter=simulated%20eq%20true",
        ),
        ("/api/devices/{id}", "/api/devices/therm-01?api-version=1.0"),
        (
            "/api/devices/{id}/properties",
            "/api/devices/therm-01/properties?api-version=2022-07-31",
        ),
        (
            "/api/deviceTemplates",
            "/api/deviceTemplates?api-version=2022-07-31",
        ),
        (
            "/api/deviceTemplates/{id}",
            "/api/deviceTemplates/dtmi:contoso:thermostat;1?api-version=2022-07-31",
        ),
        ("/jobs", "/jobs?api-version=2021-04-12"),
    ] {
        let r = s.get(url).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        check(doc, "get", path, &r);
    }
    let body = json!({"targetTemperature": 22.0, "CustomerName": "Contoso"});
    let url = format!("/api/devices/therm-02/properties?{CV}");
    let r = s.call(Method::PATCH, &url, Some(body), &[]).await;
    assert_eq!(r.status, 202, "{}", r.body);
    check(doc, "patch", "/api/devices/{id}/properties", &r);
    assert_eq!(
        r.body["$metadata"]["targetTemperature"]["desiredValue"],
        json!(22.0)
    );
    let twin = json!({"tags": {"floor": 3}, "properties": {"desired": {"targetTemperature": 19}}});
    let r = s
        .call(
            Method::PATCH,
            &format!("/twins/therm-03?{HV}"),
            Some(twin),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    check(doc, "patch", "/twins/{id}", &r);
    let r = s
        .call(
            Method::PUT,
            &format!("/twins/therm-03?{HV}"),
            Some(json!({"tags": {}})),
            &[("if-match", "\"stale\"")],
        )
        .await;
    assert_eq!(r.status, 412);
    check(doc, "put", "/twins/{id}", &r);
    let call = json!({"methodName": "reboot", "responseTimeoutInSeconds": 30});
    let r = s
        .post(&format!("/twins/therm-04/methods?{HV}"), Some(call))
        .await;
    check(doc, "post", "/twins/{id}/methods", &r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_responses_validate_against_their_schemas() {
    let s = start(config().time_scale(1000.0)).await;
    let doc = s.get("/openapi.json").await.body;
    central_replies(&s, &doc).await;
    hub_replies(&s, &doc).await;
    device_replies(&s, &doc).await;
    // The validator is not blind: a job without its status, or with an unknown one, fails.
    let v = validator(&doc, "get", "/api/jobs/{id}", 200);
    let job = s.get(&format!("/api/jobs/j1?{CV}")).await.body;
    assert!(v.is_valid(&job));
    let mut broken = job.clone();
    broken.as_object_mut().unwrap().remove("status");
    assert!(!v.is_valid(&broken));
    broken["status"] = json!("exploded");
    assert!(!v.is_valid(&broken));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_numbers_written_with_a_fraction_are_integers() {
    // Regressions found by schemathesis: each request below is valid by the document.
    let s = start(config().time_scale(1000.0)).await;
    // A whole number written with a fraction is an integer (JSON does not tell them apart).
    let job = json!({"type": "scheduleDeviceMethod", "queryCondition": "*",
        "cloudToDeviceMethod": {"methodName": "reboot", "responseTimeoutInSeconds": 68.0,
            "connectTimeoutInSeconds": 2.0}, "maxExecutionTimeInSeconds": 3600.0});
    let r = s.put(&format!("/jobs/v2/floats?{HV}"), job).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["cloudToDeviceMethod"]["responseTimeoutInSeconds"],
        json!(68)
    );
    assert_eq!(r.body["maxExecutionTimeInSeconds"], json!(3600));
    let scheduled = json!({"group": "all-thermostats",
        "data": [{"type": "command", "target": "dtmi:contoso:thermostat;1", "path": "reboot"}],
        "schedule": {"start": "2099-01-01T00:00:00Z", "recurrence": "weekly",
            "end": {"type": "occurrences", "occurrences": 2.0}}});
    let r = s
        .put(&format!("/api/scheduledJobs/floats?{CV}"), scheduled)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["schedule"]["end"]["occurrences"], json!(2));
    let r = s
        .put(
            &format!("/jobs/v2/half?{HV}"),
            json!({"type": "scheduleDeviceMethod",
        "queryCondition": "*", "cloudToDeviceMethod": {"methodName": "reboot",
            "responseTimeoutInSeconds": 68.5}}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        hub_code(&r) == "ArgumentInvalid" && r.body["Message"].as_str().unwrap().contains("68.5")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn well_formed_tokens_are_read_and_tiny_percentages_say_why_not() {
    // Regressions found by schemathesis, continued.
    let s = start(config().time_scale(1000.0)).await;
    let doc = s.get("/openapi.json").await.body;
    // Any token that matches the document's pattern is read: an index past any collection is
    // an empty last page, not a 400.
    let r = s
        .put(
            &format!("/api/jobs/paged?{CV}"),
            property_job("all-thermostats", json!(20)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let far = "djF8OTk5OTk5OTk5OTk5OTk5OTk5OQ"; // base64url("v1|9999999999999999999")
    let pattern = doc["paths"]["/api/jobs/{id}/devices"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "$skiptoken")
        .unwrap()["schema"]["pattern"]
        .clone();
    let v = jsonschema::validator_for(&json!({"pattern": pattern})).unwrap();
    assert!(v.is_valid(&json!(far)));
    let r = s
        .get(&format!("/api/jobs/paged/devices?{CV}&$skiptoken={far}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"], json!([]));
    assert!(r.body["nextLink"].is_null());
    // The smallest percentage is 0.000001: a smaller one is refused with that reason.
    let mut tiny = property_job("all-thermostats", json!(20));
    tiny["batch"] = json!({"type": "percentage", "value": 1e-9});
    let r = s.put(&format!("/api/jobs/tiny?{CV}"), tiny).await;
    assert_eq!(r.status, 400);
    assert!(central_code(&r) == "BadRequest");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("0.000001"),
        "{}",
        r.body
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_data_entries_are_those_the_server_runs() {
    // When the server learns to run more entries, or manifest migrations, this fails until the
    // document says so too (openapi/schemas.rs: DATA_ENTRIES_MAX, MANIFEST_MIGRATION_RUNS).
    let s = start(config().time_scale(1000.0)).await;
    let doc = s.get("/openapi.json").await.body;
    let kinds = doc["components"]["schemas"]["JobDataRequest"]["oneOf"]
        .as_array()
        .unwrap();
    let max = kinds[0]["maxItems"].as_u64().unwrap() as usize;
    let manifest = kinds.iter().any(|k| {
        k["items"]["properties"]["type"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("deviceManifestMigration"))
    });
    let entry = |i: usize| {
        json!({"type": "cloudProperty", "target": "dtmi:contoso:thermostat;1",
            "path": format!("p{i}"), "value": i})
    };
    let job = |data: Value| json!({"group": "all-thermostats", "data": data});
    let data: Vec<Value> = (0..max).map(entry).collect();
    let r = s
        .put(&format!("/api/jobs/most?{CV}"), job(json!(data)))
        .await;
    assert_eq!(r.status, 200, "{max} entries: {}", r.body);
    let data: Vec<Value> = (0..=max).map(entry).collect();
    let r = s
        .put(&format!("/api/jobs/more?{CV}"), job(json!(data)))
        .await;
    assert_eq!(r.status, 400, "{} entries: {}", max + 1, r.body);
    let migration = json!([{"type": "deviceManifestMigration", "manifest": "edge-1"}]);
    let r = s.put(&format!("/api/jobs/edge?{CV}"), job(migration)).await;
    assert_eq!(r.status == 200, manifest, "manifest migration: {}", r.body);
    // Every recurrence word of the model is documented.
    let words =
        &doc["components"]["schemas"]["Schedule"]["anyOf"][0]["properties"]["recurrence"]["enum"];
    for word in ["daily", "weekly", "monthly"] {
        assert!(words.as_array().unwrap().contains(&json!(word)), "{words}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_valid_alone_that_breaks_a_rule_once_merged_is_409() {
    // Found by schemathesis: `{"schedule": {"recurrence": null}}` is a valid patch, but not of a
    // scheduled job that has an end. The conflict is with the job as it stands: 409, not 400.
    let s = start(config().time_scale(1000.0)).await;
    let path = format!("/api/scheduledJobs/ends?{CV}");
    let job = json!({"group": "all-thermostats",
        "data": [{"type": "command", "target": "dtmi:contoso:thermostat;1", "path": "reboot"}],
        "schedule": {"start": "2099-01-01T00:00:00Z", "recurrence": "daily",
            "end": {"type": "occurrences", "occurrences": 3}}});
    assert_eq!(s.put(&path, job).await.status, 200);
    let patch = |body: Value| s.call(Method::PATCH, &path, Some(body), &[]);
    let r = patch(json!({"schedule": {"recurrence": null}})).await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (409, "Conflict")
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("schedule.end"),
        "{}",
        r.body
    );
    let r = patch(json!({"schedule": {"start": "2099-06-01T00:00:00Z",
        "end": {"type": "date", "date": "2099-02-01"}}}))
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    // Nothing changed.
    let got = s.get(&path).await.body;
    assert_eq!(got["schedule"]["recurrence"], "daily");
    assert_eq!(got["schedule"]["end"]["occurrences"], 3);
    // The patch's own faults are still 400: a body id that is not the URL's, 33 entries.
    let r = patch(json!({"id": "other"})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("id"));
    let entry =
        |p: &str| json!({"type": "command", "target": "dtmi:contoso:thermostat;1", "path": p});
    let many: Vec<_> = (0..33).map(|i| entry(&format!("c{i}"))).collect();
    let r = patch(json!({ "data": many })).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // And a patch that holds once merged is applied.
    let r = patch(json!({"schedule": {"recurrence": "weekly"}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["schedule"]["recurrence"], "weekly");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_examples_are_valid_and_accepted() {
    let s = start(config().time_scale(1000.0)).await;
    let doc = s.get("/openapi.json").await.body;
    // (path with ids, method, path template) in an order that creates before it patches.
    let calls = [
        ("/api/deviceGroups/example", "put", "/api/deviceGroups/{id}"),
        (
            "/api/deviceGroups/example",
            "patch",
            "/api/deviceGroups/{id}",
        ),
        ("/api/jobs/example", "put", "/api/jobs/{id}"),
        (
            "/api/scheduledJobs/example",
            "put",
            "/api/scheduledJobs/{id}",
        ),
        (
            "/api/scheduledJobs/example",
            "patch",
            "/api/scheduledJobs/{id}",
        ),
        ("/jobs/v2/example", "put", "/jobs/v2/{id}"),
        ("/devices/query", "post", "/devices/query"),
        (
            "/api/devices/therm-05/properties",
            "patch",
            "/api/devices/{id}/properties",
        ),
        ("/twins/therm-05", "patch", "/twins/{id}"),
        ("/twins/therm-06/methods", "post", "/twins/{id}/methods"),
    ];
    for (url, method, path) in calls {
        let media = &doc["paths"][path][method]["requestBody"]["content"]["application/json"];
        let example = &media["examples"]["example"]["value"];
        assert!(example.is_object(), "{method} {path} has no example");
        let mut root = doc.clone();
        root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        root["$ref"] = media["schema"]["$ref"].clone();
        let v = jsonschema::validator_for(&root).unwrap();
        let errors: Vec<String> = v.iter_errors(example).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{method} {path}: {errors:?}");
        let version = if url.starts_with("/api") { CV } else { HV };
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = s
            .call(m, &format!("{url}?{version}"), Some(example.clone()), &[])
            .await;
        // A property write is 202; a method to a device the demo fleet keeps offline, 404.
        let offline = path.ends_with("methods") && r.status == 404;
        assert!(
            matches!(r.status.as_u16(), 200 | 202) || offline,
            "{method} {path}: {} {}",
            r.status,
            r.body
        );
        check(&doc, method, path, &r);
    }
    s.stop().await;
}

/// The operator's paths (`/healthz`, `/readyz`, `/metrics`) answer text, not the APIs' JSON.
const OPS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_paths_answer_text_as_documented() {
    let s = start(config().time_scale(1000.0)).await;
    let doc = s.get("/openapi.json").await.body;
    for path in OPS {
        let responses = doc["paths"][path]["get"]["responses"].as_object().unwrap();
        let documented = responses["200"]["content"].as_object().unwrap();
        let media = documented.keys().next().unwrap().clone();
        let r = s
            .client
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let got = r.headers()["content-type"].to_str().unwrap().to_string();
        let essence = |m: &str| m.split(';').next().unwrap().trim().to_string();
        assert_eq!(essence(&got), essence(&media), "{path}");
    }
    assert!(doc["paths"]["/readyz"]["get"]["responses"]["503"].is_object());
    s.stop().await;
}
