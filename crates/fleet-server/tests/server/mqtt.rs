//! The device endpoint (MQTT 3.1.1 over TLS) with a small device written on the same codec:
//! credentials, twins, methods and property acknowledgements in jobs, and the limits. The
//! official device SDKs are checked by tests/clients/run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::BytesMut;
use fleet_server::{device_connection_string, sas_token, Server, DEVELOPMENT_FLEET_KEY};
use rumqttc::mqttbytes::v4::{
    ConnAck, Connect, ConnectReturnCode, Packet, Publish, Subscribe, SubscribeReasonCode,
};
use rumqttc::mqttbytes::{Error as CodecError, QoS};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::common::{config, scenario, CV, HV};

/// Ten thermostats answering in 1 s (virtual); dev-00 .. dev-02 are external (real code).
const HYBRID: &str = r#"
name = "hybrid"
seed = 5
[fleet]
devices = 10
id_pattern = "dev-{:02}"
templates = [{ template = "dtmi:t;1", share = 1.0 }]
[[templates]]
id = "dtmi:t;1"
properties = [{ name = "p", schema = "integer" }]
commands = [{ name = "reboot" }]
[[groups]]
id = "real"
filter = "SELECT * FROM devices WHERE $id = \"dev-00\" OR $id = \"dev-01\""
[behaviour]
external = "deviceId IN ['dev-00', 'dev-01', 'dev-02']"
[[behaviour.rules]]
latency = { type = "fixed", ms = 1000 }
"#;

struct Hybrid {
    server: Server,
    http: reqwest::Client,
    base: String,
    mqtt: SocketAddr,
    tls: TlsConnector,
    _dir: tempfile::TempDir,
}

async fn hybrid(scale: f64, max_connections: usize) -> Hybrid {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let path = scenario(dir.path(), HYBRID);
    let c = config()
        .scenario(path)
        .time_scale(scale)
        .tls(&cert_path, &key_path)
        .mqtt_bind("127.0.0.1:0".parse().unwrap())
        .max_device_connections(max_connections);
    let server = Server::start(c.build().unwrap()).await.unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    Hybrid {
        base: format!("https://{}", server.local_addr()),
        mqtt: server.mqtt_addr().expect("the device endpoint listens"),
        server,
        http,
        tls: TlsConnector::from(Arc::new(tls)),
        _dir: dir,
    }
}

impl Hybrid {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    async fn wait_for(&self, path: &str, pointer: &str, want: &str) -> Value {
        for _ in 0..1000 {
            let body = self.call(reqwest::Method::GET, path, None).await;
            if body.pointer(pointer).and_then(Value::as_str) == Some(want) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{path}: {pointer} never became {want}");
    }

    /// Connects as `id` with a token signed by `key` (default: the device's own key).
    async fn device(&self, id: &str, key: Option<&[u8]>) -> (Device, ConnectReturnCode) {
        let tcp = TcpStream::connect(self.mqtt).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let io = self.tls.connect(name, tcp).await.unwrap();
        let mut d = Device {
            io,
            input: BytesMut::new(),
        };
        let own = device_key(id);
        let token = sas_token(
            &format!("127.0.0.1/devices/{id}"),
            key.unwrap_or(&own),
            "",
            4_000_000_000,
        );
        let mut connect = Connect::new(id);
        connect.keep_alive = 30;
        connect.set_login(
            format!("127.0.0.1/{id}/?api-version=2021-04-12"),
            token.replace("&skn=", ""),
        );
        d.send(Packet::Connect(connect)).await;
        match d.recv().await {
            Some(Packet::ConnAck(ConnAck { code, .. })) => (d, code),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }
}

fn device_key(id: &str) -> Vec<u8> {
    let cs = device_connection_string(DEVELOPMENT_FLEET_KEY, "127.0.0.1", id).unwrap();
    let key = cs.split("SharedAccessKey=").nth(1).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap()
}

/// A device on the codec, over TLS.
struct Device {
    io: TlsStream<TcpStream>,
    input: BytesMut,
}

impl Device {
    /// Sends a packet. A write the server cut short (it closed the connection, as it does on
    /// a packet over the size limit) is not an error here: the next `recv` sees the close.
    async fn send(&mut self, p: Packet) {
        let mut out = BytesMut::new();
        p.write(&mut out, usize::MAX).unwrap();
        let _ = self.io.write_all(&out).await;
    }

    /// The next packet; `None` when the server closed the connection.
    async fn recv(&mut self) -> Option<Packet> {
        loop {
            match Packet::read(&mut self.input, 1 << 20) {
                Ok(p) => return Some(p),
                Err(CodecError::InsufficientBytes(_)) => {}
                Err(e) => panic!("{e}"),
            }
            let read = self.io.read_buf(&mut self.input);
            match tokio::time::timeout(Duration::from_secs(20), read).await {
                Ok(Ok(0)) | Ok(Err(_)) => return None,
                Ok(Ok(_)) => {}
                Err(_) => panic!("nothing from the server in 20 s"),
            }
        }
    }

    async fn publish(&mut self, topic: &str, payload: Value) {
        let mut p = Publish::new(topic, QoS::AtLeastOnce, payload.to_string());
        p.pkid = 1;
        self.send(Packet::Publish(p)).await;
    }

    async fn subscribe(&mut self, filters: &[&str]) -> Vec<SubscribeReasonCode> {
        let mut s = Subscribe::new(filters[0], QoS::AtLeastOnce);
        for f in &filters[1..] {
            s.add(f.to_string(), QoS::AtLeastOnce);
        }
        s.pkid = 2;
        self.send(Packet::Subscribe(s)).await;
        loop {
            match self.recv().await {
                Some(Packet::SubAck(a)) => return a.return_codes,
                Some(_) => {}
                None => panic!("closed before SUBACK"),
            }
        }
    }

    /// The next PUBLISH from the server (other packets are skipped).
    async fn next_publish(&mut self) -> Option<Publish> {
        loop {
            if let Packet::Publish(p) = self.recv().await? {
                return Some(p);
            }
        }
    }

    /// Answers every method request with `status` (`None`: never) until the server closes.
    async fn answer_methods(mut self, status: Option<u16>) {
        while let Some(p) = self.next_publish().await {
            let rid = p
                .topic
                .split("$rid=")
                .nth(1)
                .unwrap_or_default()
                .to_string();
            if let (Some(s), true) = (status, p.topic.starts_with("$iothub/methods/POST/")) {
                let topic = format!("$iothub/methods/res/{s}/?$rid={rid}");
                self.publish(&topic, json!({"answered": s})).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_checked() {
    let h = hybrid(1.0, 100).await;
    let (_, code) = h.device("dev-00", None).await;
    assert_eq!(code, ConnectReturnCode::Success);
    let (_, code) = h.device("dev-01", Some(b"another key")).await;
    assert_eq!(code, ConnectReturnCode::NotAuthorized);
    // Signed with the right derivation, but the fleet has no such device.
    let (_, code) = h.device("nope", None).await;
    assert_eq!(code, ConnectReturnCode::NotAuthorized);
    // Another device's key.
    let (_, code) = h.device("dev-02", Some(&device_key("dev-03"))).await;
    assert_eq!(code, ConnectReturnCode::NotAuthorized);
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_reads_reported_patches_and_desired_pushes() {
    let h = hybrid(1.0, 100).await;
    let (mut d, _) = h.device("dev-00", None).await;
    let codes = d
        .subscribe(&[
            "$iothub/twin/res/#",
            "$iothub/twin/PATCH/properties/desired/#",
        ])
        .await;
    assert_eq!(codes.len(), 2);
    assert!(codes
        .iter()
        .all(|c| matches!(c, SubscribeReasonCode::Success(_))));
    d.publish("$iothub/twin/GET/?$rid=r1", json!(null)).await;
    let p = d.next_publish().await.unwrap();
    assert_eq!(p.topic, "$iothub/twin/res/200/?$rid=r1");
    let twin: Value = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!(twin["desired"]["$version"], 1);
    assert_eq!(twin["reported"]["$version"], 1);
    d.publish(
        "$iothub/twin/PATCH/properties/reported/?$rid=r2",
        json!({"fw": "2.0"}),
    )
    .await;
    let p = d.next_publish().await.unwrap();
    assert_eq!(p.topic, "$iothub/twin/res/204/?$rid=r2&$version=2");
    let twin = h
        .call(reqwest::Method::GET, &format!("/twins/dev-00?{HV}"), None)
        .await;
    assert_eq!(twin["properties"]["reported"]["fw"], "2.0");
    assert_eq!(twin["connectionState"], "Connected");
    // A twin update through the service API is pushed to the device.
    let patch = json!({"properties": {"desired": {"interval": 5}}});
    h.call(
        reqwest::Method::PATCH,
        &format!("/twins/dev-00?{HV}"),
        Some(patch),
    )
    .await;
    let p = d.next_publish().await.unwrap();
    assert_eq!(p.topic, "$iothub/twin/PATCH/properties/desired/?$version=2");
    let body: Value = serde_json::from_slice(&p.payload).unwrap();
    assert_eq!(body, json!({"interval": 5, "$version": 2}));
    drop(d);
    h.wait_for(
        &format!("/twins/dev-00?{HV}"),
        "/connectionState",
        "Disconnected",
    )
    .await;
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_job_takes_the_real_devices_answers() {
    // 10x: the 30 s response timeout is 3 s of wall time.
    let h = hybrid(10.0, 100).await;
    for (id, status) in [
        ("dev-00", Some(200)),
        ("dev-01", Some(500)),
        ("dev-02", None),
    ] {
        let (mut d, _) = h.device(id, None).await;
        d.subscribe(&["$iothub/methods/POST/#"]).await;
        tokio::spawn(d.answer_methods(status));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let job = json!({"type": "scheduleDeviceMethod", "queryCondition": "*",
        "cloudToDeviceMethod": {"methodName": "reboot", "payload": {}, "responseTimeoutInSeconds": 30}});
    h.call(reqwest::Method::PUT, &format!("/jobs/v2/m?{HV}"), Some(job))
        .await;
    let done = h
        .wait_for(&format!("/jobs/v2/m?{HV}"), "/status", "completed")
        .await;
    let s = &done["deviceJobStatistics"];
    assert_eq!(
        (
            s["deviceCount"].clone(),
            s["succeededCount"].clone(),
            s["failedCount"].clone()
        ),
        (json!(10), json!(8), json!(2))
    );
    let q = json!({"query": "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'm'"});
    let rows = h
        .call(
            reqwest::Method::POST,
            &format!("/devices/query?{HV}"),
            Some(q),
        )
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[0]["status"], "completed");
    assert_eq!(
        rows[0]["outcome"]["deviceMethodResponse"],
        json!({"status": 200, "payload": {"answered": 200}})
    );
    assert_eq!(rows[1]["status"], "failed");
    assert_eq!(rows[1]["error"]["code"], "device_error");
    assert_eq!(rows[1]["outcome"]["deviceMethodResponse"]["status"], 500);
    assert_eq!(rows[2]["error"]["code"], "response_timeout");
    assert_eq!(
        rows[3]["outcome"]["deviceMethodResponse"],
        json!({"status": 200, "payload": null})
    );
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iot_central_property_job_completes_on_acknowledgements() {
    let h = hybrid(1.0, 100).await;
    let mut acks = Vec::new();
    for (id, ac) in [("dev-00", 200), ("dev-01", 400)] {
        let (mut d, _) = h.device(id, None).await;
        d.subscribe(&[
            "$iothub/twin/PATCH/properties/desired/#",
            "$iothub/twin/res/#",
        ])
        .await;
        acks.push(tokio::spawn(async move {
            let p = d.next_publish().await.unwrap();
            let desired: Value = serde_json::from_slice(&p.payload).unwrap();
            let ack = json!({"p": {"value": desired["p"], "ac": ac, "av": desired["$version"]}});
            d.publish("$iothub/twin/PATCH/properties/reported/?$rid=1", ack)
                .await;
            d.next_publish().await.unwrap().topic
        }));
    }
    let job = json!({"group": "real", "data": [{"type": "property", "target": "dtmi:t;1", "path": "p", "value": 7}]});
    h.call(
        reqwest::Method::PUT,
        &format!("/api/jobs/p?{CV}"),
        Some(job),
    )
    .await;
    for a in acks {
        assert!(a.await.unwrap().starts_with("$iothub/twin/res/204/"));
    }
    h.wait_for(&format!("/api/jobs/p?{CV}"), "/status", "complete")
        .await;
    let devices = h
        .call(
            reqwest::Method::GET,
            &format!("/api/jobs/p/devices?{CV}"),
            None,
        )
        .await;
    assert_eq!(
        devices["value"],
        json!([{"id": "dev-00", "status": "completed"}, {"id": "dev-01", "status": "failed"}])
    );
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_iot_hub_does_not_serve_is_refused() {
    let h = hybrid(1.0, 2).await;
    let (mut d, _) = h.device("dev-00", None).await;
    // Cloud-to-device messages are not served: the subscription fails, the connection stays.
    let codes = d
        .subscribe(&[
            "devices/dev-00/messages/devicebound/#",
            "$iothub/methods/POST/#",
        ])
        .await;
    assert_eq!(codes[0], SubscribeReasonCode::Failure);
    assert!(matches!(codes[1], SubscribeReasonCode::Success(_)));
    // Telemetry is accepted (PUBACK).
    d.publish("devices/dev-00/messages/events/", json!({"t": 1}))
        .await;
    assert!(matches!(d.recv().await, Some(Packet::PubAck(_))));
    // A topic IoT Hub does not serve closes the connection.
    d.publish("devices/dev-00/other", json!({})).await;
    assert!(d.recv().await.is_none());
    // QoS 2 closes it too.
    let (mut d, _) = h.device("dev-01", None).await;
    let mut p = Publish::new("devices/dev-01/messages/events/", QoS::ExactlyOnce, "x");
    p.pkid = 3;
    d.send(Packet::Publish(p)).await;
    assert!(d.recv().await.is_none());
    // So does a packet over the size limit (256 KiB messages).
    let (mut d, _) = h.device("dev-01", None).await;
    d.publish(
        "devices/dev-01/messages/events/",
        json!("x".repeat(300 * 1024)),
    )
    .await;
    assert!(d.recv().await.is_none());
    // At most 2 connections on this server (the closed ones are gone once the server saw them
    // close).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_a, code) = h.device("dev-02", None).await;
    assert_eq!(code, ConnectReturnCode::Success);
    let (_b, code) = h.device("dev-03", None).await;
    assert_eq!(code, ConnectReturnCode::Success);
    let (_c, code) = h.device("dev-04", None).await;
    assert_eq!(code, ConnectReturnCode::ServiceUnavailable);
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_does_not_read_cannot_stall_a_job() {
    let h = hybrid(10.0, 100).await;
    let (mut d, _) = h.device("dev-00", None).await;
    d.subscribe(&["$iothub/twin/PATCH/properties/desired/#"])
        .await;
    // The device reads nothing more; desired patches of 30 KB pile up.
    let big = "x".repeat(30 * 1024);
    for i in 0..400 {
        let patch = json!({"properties": {"desired": {"blob": big, "i": i}}});
        h.call(
            reqwest::Method::PATCH,
            &format!("/twins/dev-00?{HV}"),
            Some(patch),
        )
        .await;
    }
    h.wait_for(
        &format!("/twins/dev-00?{HV}"),
        "/connectionState",
        "Disconnected",
    )
    .await;
    // Meanwhile jobs go on.
    let job = json!({"type": "scheduleDeviceMethod", "queryCondition": "deviceId = 'dev-05'",
        "cloudToDeviceMethod": {"methodName": "reboot", "payload": {}, "responseTimeoutInSeconds": 5}});
    h.call(
        reqwest::Method::PUT,
        &format!("/jobs/v2/after?{HV}"),
        Some(job),
    )
    .await;
    let done = h
        .wait_for(&format!("/jobs/v2/after?{HV}"), "/status", "completed")
        .await;
    assert_eq!(done["deviceJobStatistics"]["succeededCount"], 1);
    drop(d);
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_waits_its_connect_timeout_for_a_real_device() {
    let h = hybrid(1.0, 100).await;
    let url = format!("{}/twins/dev-00/methods?{HV}", h.base);
    // Not connected, no connect timeout: 404 at once (IoT Hub: DeviceNotOnline).
    let r = h
        .http
        .post(&url)
        .json(&json!({"methodName": "reboot", "payload": {}, "responseTimeoutInSeconds": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // With a connect timeout: the device connects within it, gets the method, answers.
    let call = h
        .http
        .post(&url)
        .json(&json!({"methodName": "reboot", "payload": {"n": 1},
            "responseTimeoutInSeconds": 5, "connectTimeoutInSeconds": 20}))
        .send();
    let call = tokio::spawn(call);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut d, _) = h.device("dev-00", None).await;
    d.subscribe(&["$iothub/methods/POST/#"]).await;
    let p = d.next_publish().await.unwrap();
    assert!(
        p.topic.starts_with("$iothub/methods/POST/reboot/?$rid="),
        "{}",
        p.topic
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&p.payload).unwrap(),
        json!({"n": 1})
    );
    let rid = p.topic.split("$rid=").nth(1).unwrap().to_string();
    d.publish(
        &format!("$iothub/methods/res/201/?$rid={rid}"),
        json!({"ok": true}),
    )
    .await;
    let r = call.await.unwrap().unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"status": 201, "payload": {"ok": true}}));
    h.server.shutdown().await.unwrap();
}
