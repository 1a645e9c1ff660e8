//! A device-connection load generator for `fleetsim serve`'s device endpoint (loopback only):
//! opens N MQTT-over-TLS connections as devices `{prefix}{index:0width$}` (keys derived from the
//! development fleet key, or FLEETSIM_DEVICE_KEY), subscribes each to methods and desired
//! patches, answers every method with 200 and acknowledges every desired property (`ac` 200),
//! keeps them open for S seconds, and prints what they received.
//!
//! ```sh
//! cargo run --release -p fleet-server --example mqtt_load -- \
//!     127.0.0.1:8883 cert.pem therm- 7 1000 60
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{Connect, Packet, Publish, Subscribe};
use rumqttc::mqttbytes::QoS;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[derive(Default)]
struct Counts {
    connected: AtomicU64,
    refused: AtomicU64,
    methods: AtomicU64,
    desired: AtomicU64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: mqtt_load ADDR CERT.pem ID-PREFIX ID-DIGITS CONNECTIONS SECONDS");
        std::process::exit(2);
    }
    let addr: std::net::SocketAddr = args[1].parse().expect("an address");
    assert!(
        addr.ip().is_loopback(),
        "the load generator only targets loopback addresses"
    );
    let pem = std::fs::read(&args[2]).expect("the certificate");
    let (prefix, digits) = (args[3].clone(), args[4].parse::<usize>().expect("digits"));
    let n: usize = args[5].parse().expect("a number of connections");
    let seconds: u64 = args[6].parse().expect("seconds");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
        roots
            .add(cert.expect("a PEM certificate"))
            .expect("a certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tls = TlsConnector::from(Arc::new(tls));
    let fleet_key = std::env::var("FLEETSIM_DEVICE_KEY")
        .unwrap_or_else(|_| fleet_server::DEVELOPMENT_FLEET_KEY.to_string());
    let counts = Arc::new(Counts::default());
    let mut tasks = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}{i:0digits$}");
        let cs = fleet_server::device_connection_string(&fleet_key, "127.0.0.1", &id).unwrap();
        let key = cs.split("SharedAccessKey=").nth(1).unwrap().to_string();
        let (tls, counts) = (tls.clone(), counts.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = device(addr, tls, &id, &key, &counts, seconds).await {
                eprintln!("{id}: {e}");
            }
        }));
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "connected {} refused {}",
        counts.connected.load(Ordering::SeqCst),
        counts.refused.load(Ordering::SeqCst)
    );
    for t in tasks {
        let _ = t.await;
    }
    println!(
        "methods answered {} desired patches acknowledged {}",
        counts.methods.load(Ordering::SeqCst),
        counts.desired.load(Ordering::SeqCst)
    );
}

async fn write(io: &mut (impl AsyncWriteExt + Unpin), p: Packet) -> std::io::Result<()> {
    let mut out = BytesMut::new();
    p.write(&mut out, usize::MAX)
        .map_err(std::io::Error::other)?;
    io.write_all(&out).await
}

/// One device: connect, subscribe, answer until `seconds` have passed.
async fn device(
    addr: std::net::SocketAddr,
    tls: TlsConnector,
    id: &str,
    key: &str,
    counts: &Counts,
    seconds: u64,
) -> std::io::Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut io = tls.connect(name, tcp).await?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap();
    let token =
        fleet_server::sas_token(&format!("127.0.0.1/devices/{id}"), &key, "", 4_000_000_000);
    let mut connect = Connect::new(id);
    connect.keep_alive = 60;
    connect.set_login(
        format!("127.0.0.1/{id}/?api-version=2021-04-12"),
        token.replace("&skn=", ""),
    );
    write(&mut io, Packet::Connect(connect)).await?;
    let mut sub = Subscribe::new("$iothub/methods/POST/#", QoS::AtMostOnce);
    sub.add(
        "$iothub/twin/PATCH/properties/desired/#".into(),
        QoS::AtMostOnce,
    );
    sub.pkid = 1;
    write(&mut io, Packet::Subscribe(sub)).await?;
    let mut input = BytesMut::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    loop {
        while let Ok(p) = Packet::read(&mut input, 1 << 20) {
            match p {
                Packet::ConnAck(a)
                    if a.code == rumqttc::mqttbytes::v4::ConnectReturnCode::Success =>
                {
                    counts.connected.fetch_add(1, Ordering::SeqCst);
                }
                Packet::ConnAck(_) => {
                    counts.refused.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                }
                Packet::Publish(p) => answer(&mut io, p, counts).await?,
                _ => {}
            }
        }
        tokio::select! {
            n = io.read_buf(&mut input) => if n? == 0 { return Ok(()) },
            _ = ping.tick() => write(&mut io, Packet::PingReq).await?,
            _ = tokio::time::sleep_until(deadline) => return write(&mut io, Packet::Disconnect).await,
        }
    }
}

/// Answers a method with 200, acknowledges a desired property with `ac` 200.
async fn answer(
    io: &mut (impl AsyncWriteExt + Unpin),
    p: Publish,
    counts: &Counts,
) -> std::io::Result<()> {
    if !p.topic.starts_with("$iothub/methods/POST/")
        && !p
            .topic
            .starts_with("$iothub/twin/PATCH/properties/desired/")
    {
        return Ok(()); // an answer to the device's own twin request
    }
    let (topic, body) = if p.topic.starts_with("$iothub/methods/POST/") {
        counts.methods.fetch_add(1, Ordering::SeqCst);
        let rid = p.topic.split("$rid=").nth(1).unwrap_or_default();
        (format!("$iothub/methods/res/200/?$rid={rid}"), json!({}))
    } else {
        counts.desired.fetch_add(1, Ordering::SeqCst);
        let desired: Value = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
        let version = desired["$version"].clone();
        let mut ack = serde_json::Map::new();
        for (k, v) in desired
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !k.starts_with('$'))
        {
            ack.insert(k.clone(), json!({"value": v, "ac": 200, "av": version}));
        }
        (
            "$iothub/twin/PATCH/properties/reported/?$rid=1".to_string(),
            Value::Object(ack),
        )
    };
    write(
        io,
        Packet::Publish(Publish::new(topic, QoS::AtMostOnce, body.to_string())),
    )
    .await
}
