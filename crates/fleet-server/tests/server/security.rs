//! Authentication, TLS, the configuration rules and the OpenAPI document.

use base64::Engine;
use serde_json::Value;

use crate::common::*;

const KEY: &str = "c2VjcmV0LWtleS1ieXRlcw==";
const CENTRAL_TOKEN: &str = "SharedAccessSignature sr=app&sig=abc&skn=operator&se=99999999999";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_verified_when_keys_are_configured() {
    let s = start(
        config()
            .hub_key("iothubowner", KEY)
            .central_token(CENTRAL_TOKEN),
    )
    .await;
    let host = s.base.trim_start_matches("http://").to_string();
    let key = base64::engine::general_purpose::STANDARD
        .decode(KEY)
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let path = format!("/jobs/v2/query?{HV}");
    let r = s.get(&path).await;
    assert_eq!(
        (r.status.as_u16(), hub_code(&r).as_str()),
        (401, "IotHubUnauthorizedAccess")
    );
    let good = fleet_server::sas_token(&host, &key, "iothubowner", now + 3600);
    let r = s
        .call(
            reqwest::Method::GET,
            &path,
            None,
            &[("authorization", &good)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expired = fleet_server::sas_token(&host, &key, "iothubowner", now - 10);
    let r = s
        .call(
            reqwest::Method::GET,
            &path,
            None,
            &[("authorization", &expired)],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.body["Message"].as_str().unwrap().contains("expired"));
    let wrong = fleet_server::sas_token(&host, b"another key", "iothubowner", now + 3600);
    let r = s
        .call(
            reqwest::Method::GET,
            &path,
            None,
            &[("authorization", &wrong)],
        )
        .await;
    assert_eq!(r.status, 401);
    let elsewhere = fleet_server::sas_token(
        "other-hub.azure-devices.net",
        &key,
        "iothubowner",
        now + 3600,
    );
    let r = s
        .call(
            reqwest::Method::GET,
            &path,
            None,
            &[("authorization", &elsewhere)],
        )
        .await;
    assert_eq!(r.status, 401);
    // IoT Central API tokens.
    let path = format!("/api/jobs?{CV}");
    let r = s.get(&path).await;
    assert_eq!(
        (r.status.as_u16(), central_code(&r).as_str()),
        (401, "Unauthorized")
    );
    let r = s
        .call(
            reqwest::Method::GET,
            &path,
            None,
            &[("authorization", CENTRAL_TOKEN)],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .call(
            reqwest::Method::GET,
            &path,
            None,
            &[("authorization", "SharedAccessSignature sr=app&sig=nope")],
        )
        .await;
    assert_eq!(r.status, 401);
    // The OpenAPI document needs no token.
    assert_eq!(s.get("/openapi.json").await.status, 200);
    s.stop().await;
}

#[test]
fn without_keys_only_loopback_is_served() {
    let e = config()
        .bind("0.0.0.0:0".parse().unwrap())
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), fleet_server::ErrorKind::Config);
    assert!(e.message().contains("loopback"));
    assert!(config()
        .bind("0.0.0.0:0".parse().unwrap())
        .hub_key("k", KEY)
        .build()
        .is_ok());
    assert!(config().time_scale(0.0).build().is_err());
    assert!(config().hub_key("k", "not base64!").build().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let server = fleet_server::Server::start(config().tls(&cert_path, &key_path).build().unwrap())
        .await
        .unwrap();
    assert!(server.banner().contains("https://"));
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!("https://{}/api/deviceGroups?{CV}", server.local_addr());
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["value"].as_array().unwrap().len(), 2);
    // Plain HTTP to the TLS port does not get an answer.
    let plain = reqwest::Client::new()
        .get(format!(
            "http://{}/api/deviceGroups?{CV}",
            server.local_addr()
        ))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    server.shutdown().await.unwrap();
    // A missing key file is a clear error.
    let e = fleet_server::Server::start(
        config()
            .tls(&cert_path, dir.path().join("nope.pem"))
            .build()
            .unwrap(),
    )
    .await
    .err()
    .unwrap();
    assert!(e.message().contains("nope.pem"), "{e}");
}

/// Over HTTP/2 (what curl, Go and browsers negotiate over TLS) the host is in `:authority`,
/// not in a `Host` header: `nextLink` keeps the port, and early errors arrive with their body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_links_keep_the_port_and_early_errors_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let server = fleet_server::Server::start(config().tls(&cert_path, &key_path).build().unwrap())
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let base = format!("https://{}", server.local_addr());
    let r = client
        .get(format!("{base}/api/deviceGroups?{CV}&maxpagesize=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let body: Value = r.json().await.unwrap();
    let link = body["nextLink"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{base}/api/deviceGroups?")),
        "{link}"
    );
    let next = client.get(link).send().await.unwrap();
    assert_eq!(
        (next.version(), next.status().as_u16()),
        (reqwest::Version::HTTP_2, 200)
    );
    // A body over the limit, and a method the route does not have: status and body arrive.
    let big = format!("{{\"group\": \"{}\"}}", "x".repeat(1 << 20));
    let r = client
        .put(format!("{base}/api/jobs/big?{CV}"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (r.version(), r.status().as_u16()),
        (reqwest::Version::HTTP_2, 413)
    );
    assert!(r.text().await.unwrap().contains("PayloadTooLarge"));
    let r = client
        .delete(format!("{base}/api/jobs/x?{CV}"))
        .body("y".repeat(10_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert!(r.text().await.unwrap().contains("MethodNotAllowed"));
    server.shutdown().await.unwrap();
}
