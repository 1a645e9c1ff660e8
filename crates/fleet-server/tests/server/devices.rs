//! IoT Central devices and device templates over the fleet: lists (paged, filtered, ordered,
//! per api-version), a device by id, its properties (read and write), templates.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::twins::METHODS;

/// Four devices of two templates; every device answers in 3 s and never fails.
pub const PROPS: &str = r#"
name = "props"
seed = 2
[fleet]
devices = 4
id_pattern = "p-{:02}"
templates = [{ template = "dtmi:a;1", share = 0.5 }, { template = "dtmi:b;1", share = 0.5 }]
[[templates]]
id = "dtmi:a;1"
properties = [{ name = "p", schema = "integer" }]
cloud_properties = [{ name = "owner", schema = "string" }]
[[templates]]
id = "dtmi:b;1"
commands = [{ name = "reboot" }]
[[behaviour.rules]]
latency = { type = "fixed", ms = 3000 }
"#;

fn ids(devices: &[Value]) -> Vec<String> {
    devices
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

fn therms(range: impl Iterator<Item = u32>) -> Vec<String> {
    range.map(|i| format!("therm-{i:02}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_list_pages_filters_and_orders_as_each_version_does() {
    let s = start(config().time_scale(1000.0)).await;
    // 2022-07-31: maxpagesize, filter, orderby; nextLink keeps them.
    let r = s.get(&format!("/api/devices?{CV}&maxpagesize=20")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 20);
    let link = r.body["nextLink"].as_str().unwrap();
    assert!(
        link.contains("maxpagesize=20") && link.contains("%24skiptoken="),
        "{link}"
    );
    let d = &r.body["value"][3];
    assert_eq!(d["id"], "therm-03");
    assert_eq!(d["displayName"], "therm-03");
    assert_eq!(d["template"], "dtmi:contoso:thermostat;1");
    assert_eq!(
        (d["enabled"].as_bool(), d["provisioned"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(d["simulated"].is_boolean() && d["etag"].is_string(), "{d}");
    let all = collect_central(&s, &format!("/api/devices?{CV}&maxpagesize=20")).await;
    assert_eq!(ids(&all), therms(0..50));
    let f = "filter=id%20eq%20%27therm-07%27%20or%20id%20eq%20%27therm-12%27";
    let two = collect_central(&s, &format!("/api/devices?{CV}&{f}")).await;
    assert_eq!(ids(&two), ["therm-07", "therm-12"]);
    let f = "filter=contains(displayName,%20%274%27)%20and%20enabled%20eq%20true";
    let fours = collect_central(&s, &format!("/api/devices?{CV}&{f}&maxpagesize=3")).await;
    let want: Vec<String> = therms(0..50)
        .into_iter()
        .filter(|id| id.contains('4'))
        .collect();
    assert_eq!(ids(&fours), want);
    let desc = collect_central(
        &s,
        &format!("/api/devices?{CV}&orderby=displayName%20desc&maxpagesize=7"),
    )
    .await;
    assert_eq!(ids(&desc), therms((0..50).rev()));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_versions_list_devices_with_their_own_parameters() {
    let s = start(config().time_scale(1000.0)).await;
    // 1.1-preview and 1.2-preview: OData $top (1 to 100, default 25), $filter, $orderby.
    let r = s.get("/api/devices?api-version=1.1-preview").await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 25);
    let odata = collect_central(
        &s,
        "/api/devices?api-version=1.2-preview&$top=4&$filter=indexof(displayName,%20%27therm-1%27)%20ge%200&$orderby=displayName%20desc",
    )
    .await;
    assert_eq!(ids(&odata), therms((10..20).rev()));
    // 1.0 (and preview): no list parameters.
    let r = s.get("/api/devices?api-version=1.0").await;
    assert_eq!(
        (r.status.as_u16(), r.body["value"].as_array().unwrap().len()),
        (200, 50)
    );
    for (query, field) in [
        ("api-version=1.0&filter=id%20eq%20%27x%27", "filter:"),
        ("api-version=1.1-preview&maxpagesize=5", "maxpagesize:"),
        ("api-version=2022-07-31&$top=5", "$top:"),
        ("api-version=1.1-preview&$top=101", "$top:"),
        ("api-version=2022-07-31&filter=id%20eq", "filter:"),
        ("api-version=2022-07-31&orderby=id", "orderby:"),
        ("api-version=2022-07-31&$skiptoken=nope", "$skiptoken:"),
        ("api-version=2021-01-01", "api-version:"),
    ] {
        let r = s.get(&format!("/api/devices?{query}")).await;
        assert_eq!(
            (r.status.as_u16(), central_code(&r).as_str()),
            (400, "BadRequest"),
            "{query}"
        );
        let m = r.body["error"]["message"].as_str().unwrap();
        assert!(m.starts_with(field), "{query}: {m}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_and_templates_are_served_in_1_0_but_jobs_are_not() {
    let s = start(config().time_scale(1000.0)).await;
    let r = s.get("/api/devices/therm-03?api-version=1.0").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], "therm-03");
    assert_eq!(
        r.headers["etag"].to_str().unwrap(),
        r.body["etag"].as_str().unwrap()
    );
    let r = s.get("/api/devices/nope?api-version=1.0").await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (404, "NotFound")
    );
    let r = s.get("/api/deviceTemplates?api-version=1.0").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let templates = r.body["value"].as_array().unwrap();
    assert_eq!(templates.len(), 1);
    let t = &templates[0];
    assert_eq!(t["@id"], "dtmi:contoso:thermostat;1");
    assert_eq!(t["@type"], json!(["ModelDefinition", "DeviceModel"]));
    let contents = t["capabilityModel"]["contents"].as_array().unwrap();
    let names: Vec<(&str, String)> = contents
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["@type"].to_string()))
        .collect();
    assert_eq!(
        names,
        [
            ("targetTemperature", "\"Property\"".to_string()),
            ("CustomerName", "[\"Property\",\"Cloud\"]".to_string()),
            ("reboot", "\"Command\"".to_string()),
            ("getMaxMinReport", "\"Command\"".to_string()),
        ]
    );
    assert_eq!(contents[0]["schema"], "double");
    assert_eq!(contents[0]["writable"], true);
    // By id, its characters escaped or not.
    for id in [
        "dtmi:contoso:thermostat;1",
        "dtmi%3Acontoso%3Athermostat%3B1",
    ] {
        let r = s.get(&format!("/api/deviceTemplates/{id}?{CV}")).await;
        assert_eq!(r.status, 200, "{id}: {}", r.body);
        assert_eq!(&r.body, t);
    }
    let r = s
        .get(&format!("/api/deviceTemplates/dtmi:nope;1?{CV}"))
        .await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (404, "NotFound")
    );
    let r = s.get("/api/jobs?api-version=1.0").await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (400, "BadRequest")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_page_and_filter() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(
        config()
            .scenario(scenario(dir.path(), PROPS))
            .time_scale(1000.0),
    )
    .await;
    let all = collect_central(&s, &format!("/api/deviceTemplates?{CV}&maxpagesize=1")).await;
    let ids: Vec<&str> = all.iter().map(|t| t["@id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["dtmi:a;1", "dtmi:b;1"]);
    let desc = collect_central(
        &s,
        &format!("/api/deviceTemplates?{CV}&maxpagesize=1&orderby=displayName%20desc"),
    )
    .await;
    assert_eq!(desc[0]["@id"], "dtmi:b;1");
    assert_eq!(desc.len(), 2);
    let b = collect_central(
        &s,
        &format!("/api/deviceTemplates?{CV}&filter=displayName%20eq%20%27dtmi:b;1%27"),
    )
    .await;
    assert_eq!(b.len(), 1);
    assert_eq!(b[0]["capabilityModel"]["contents"][0]["name"], "reboot");
    s.stop().await;
}

/// Polls device `id`'s IoT Central properties until `done` holds.
async fn wait_props(s: &TestServer, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = s.get(&format!("/api/devices/{id}/properties?{CV}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if done(&r.body) {
            return r.body;
        }
        assert!(Instant::now() < deadline, "{id}: {}", r.body);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_writes_are_checked_and_acknowledged_per_the_device_model() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(
        config()
            .scenario(scenario(dir.path(), METHODS))
            .time_scale(100.0),
    )
    .await;
    // m-00 acknowledges after 2 s; m-02 fails every operation; m-03 is offline.
    for id in ["m-00", "m-02", "m-03"] {
        let r = s
            .call(
                Method::PATCH,
                &format!("/api/devices/{id}/properties?{CV}"),
                Some(json!({"p": 7, "owner": "Contoso"})),
                &[],
            )
            .await;
        assert_eq!(r.status, 202, "{id}: {}", r.body);
        assert_eq!(r.body["owner"], "Contoso");
        assert_eq!(r.body["$metadata"]["p"]["desiredValue"], 7);
        assert_eq!(r.body["$metadata"]["p"]["desiredVersion"], 2);
    }
    let acked = wait_props(&s, "m-00", |p| p["p"] == 7).await;
    assert_eq!(acked["owner"], "Contoso");
    assert_eq!(acked["$metadata"]["p"]["desiredValue"], 7);
    let twin = s.get(&format!("/twins/m-00?{HV}")).await.body;
    assert_eq!(twin["properties"]["reported"]["p"], 7);
    assert_eq!(twin["properties"]["reported"]["$version"], 2);
    // Well after m-00's answer, the others still have only the desired value.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for id in ["m-02", "m-03"] {
        let props = s
            .get(&format!("/api/devices/{id}/properties?{CV}"))
            .await
            .body;
        assert!(props.get("p").is_none(), "{id} never acknowledged: {props}");
        assert_eq!(props["$metadata"]["p"]["desiredValue"], 7, "{props}");
    }
    // PUT writes too.
    let r = s
        .put(
            &format!("/api/devices/m-00/properties?{CV}"),
            json!({"p": 8}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    wait_props(&s, "m-00", |p| p["p"] == 8).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_decides_which_properties_may_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(
        config()
            .scenario(scenario(dir.path(), METHODS))
            .time_scale(100.0),
    )
    .await;
    for (body, field) in [
        (json!({"nope": 1}), "nope:"),
        (json!({"p": "seven"}), "p:"),
        (json!({"p": 1.5}), "p:"),
        (json!({"owner": 3}), "owner:"),
        (json!([1]), "the body must be"),
    ] {
        let r = s
            .call(
                Method::PATCH,
                &format!("/api/devices/m-01/properties?{CV}"),
                Some(body.clone()),
                &[],
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), central_code(&r).as_str()),
            (400, "BadRequest"),
            "{body}"
        );
        let m = r.body["error"]["message"].as_str().unwrap();
        assert!(m.starts_with(field), "{body}: {m}");
    }
    // Nothing of the refused writes reached m-01.
    let props = s
        .get(&format!("/api/devices/m-01/properties?{CV}"))
        .await
        .body;
    assert_eq!(props, json!({}));
    let r = s
        .put(
            &format!("/api/devices/nope/properties?{CV}"),
            json!({"p": 1}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (404, "NotFound")
    );
    s.stop().await;
}
