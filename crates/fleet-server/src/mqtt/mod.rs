//! The device endpoint: IoT Hub's device protocol, MQTT 3.1.1 over TLS (port 8883) and over
//! WebSockets (`/$iothub/websocket` on the HTTPS port, subprotocol `mqtt`), so that device
//! programs on the official device SDKs join the simulated fleet (see `docs/devices.md`).
//!
//! Packets are read and written by rumqttc's MQTT 3.1.1 codec (`rumqttc::mqttbytes::v4`,
//! used without its client); TLS is rustls with the server's HTTPS certificate. Each
//! connection is one task ([`session`]); what it means for jobs is the driver's (`real`).
//!
//! # Limits
//!
//! | limit | value | over it |
//! |---|---|---|
//! | connections per server | [`Limits::max_connections`] (`--max-device-connections`, 10,000) | `CONNACK` 3 (server unavailable) |
//! | connections per device | 1 | a new one closes the older (as IoT Hub does) |
//! | packet size | 256 KiB + 1 KiB of header (IoT Hub's message size) | the connection is closed |
//! | messages queued to a device | 64 | the device is disconnected (it does not read) |
//! | twin requests in flight per connection | 16 | answered `429` on `$iothub/twin/res/429/` |
//! | requests to the driver per connection | 200 a second, 400 in a burst | the connection is closed |
//! | `CONNECT` after the TLS handshake | 10 s (handshake: 10 s) | the connection is closed |
//! | keep-alive | 1.5 x the client's (at most IoT Hub's 1,767 s; 0 means 1,767 s) | the connection is closed |
//! | a write to the device | 10 s | the connection is closed |
//!
//! The driver never waits on a connection: it queues with `try_send`, and requests reach it
//! through its channel at the rate above. A client that misbehaves loses its connection; the
//! jobs go on.

mod session;
pub(crate) mod topics;

use std::net::TcpListener as StdListener;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::device_keys::FleetKey;
use crate::state::Shared;

/// The device endpoint's limits (see the module documentation).
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) max_packet_bytes: usize,
    pub(crate) queue: usize,
    pub(crate) pending_requests: usize,
    pub(crate) requests_per_s: f64,
    pub(crate) request_burst: f64,
    pub(crate) connect_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_keep_alive_s: u64,
}

impl Limits {
    pub(crate) fn new(max_connections: usize) -> Self {
        Self {
            max_connections,
            max_packet_bytes: 256 * 1024 + 1024,
            queue: 64,
            pending_requests: 16,
            requests_per_s: 200.0,
            request_burst: 400.0,
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_keep_alive_s: 1767,
        }
    }
}

/// What every connection shares.
pub(crate) struct Endpoint {
    pub(crate) shared: Arc<Shared>,
    pub(crate) key: FleetKey,
    pub(crate) limits: Limits,
    /// Connections open now (authenticated or not).
    pub(crate) open: AtomicUsize,
    pub(crate) next_conn: AtomicU64,
    /// Set to true when the server stops: every connection closes.
    pub(crate) closing: watch::Receiver<bool>,
}

/// Serves MQTT over TLS on `listener` until `closing` turns true.
pub(crate) fn listen(
    listener: StdListener,
    tls: Arc<rustls::ServerConfig>,
    endpoint: Arc<Endpoint>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let acceptor = TlsAcceptor::from(tls);
    let mut closing = endpoint.closing.clone();
    Ok(tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = closing.changed() => return,
            };
            let Ok((tcp, _)) = accepted else {
                // Out of file descriptors, for instance: wait a moment rather than spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, endpoint) = (acceptor.clone(), endpoint.clone());
            tokio::spawn(async move {
                let handshake = endpoint.limits.connect_timeout;
                if let Ok(Ok(tls)) = tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
                    session::run(tls, endpoint).await;
                }
            });
        }
    }))
}

/// `GET /$iothub/websocket`: MQTT over WebSockets (subprotocol `mqtt`), one MQTT byte stream
/// in binary messages.
pub(crate) async fn websocket(
    State(endpoint): State<Arc<Endpoint>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(["mqtt"])
        .max_message_size(endpoint.limits.max_packet_bytes * 2)
        .on_upgrade(move |socket| bridge(socket, endpoint))
}

/// Carries the bytes of binary messages to a session and back.
async fn bridge(mut socket: WebSocket, endpoint: Arc<Endpoint>) {
    let (mut near, far) = tokio::io::duplex(64 * 1024);
    let session = tokio::spawn(session::run(far, endpoint));
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            m = socket.recv() => match m {
                Some(Ok(Message::Binary(bytes))) => {
                    if near.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                // Text frames are not MQTT; a close or an error ends the connection.
                _ => break,
            },
            n = near.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let frame = Message::Binary(buf[..n].to_vec().into());
                    if socket.send(frame).await.is_err() {
                        break;
                    }
                }
            },
        }
    }
    drop(near);
    let _ = session.await;
    let _ = socket.send(Message::Close(None)).await;
}
