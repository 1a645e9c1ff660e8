//! One device connection: `CONNECT` and its credentials, then IoT Hub's device topics until
//! the device disconnects, misbehaves, goes quiet past its keep-alive, or the driver kicks it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{
    ConnAck, ConnectReturnCode, Packet, PubAck, Publish, SubAck, SubscribeReasonCode, UnsubAck,
};
use rumqttc::mqttbytes::{Error as CodecError, Protocol, QoS};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

use super::topics::{self, Incoming, Subscription};
use super::Endpoint;
use crate::driver::{Command, Link, Outbound, RealCommand, Reply};

/// Why a session ends (logged at debug level; the device sees its connection close).
type End = String;

/// The bytes of one connection, with the codec around them.
struct Io<S> {
    stream: S,
    input: BytesMut,
    output: BytesMut,
    max_packet_bytes: usize,
    write_timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Io<S> {
    /// The next whole packet already read, if any.
    fn parsed(&mut self) -> Result<Option<Packet>, End> {
        match Packet::read(&mut self.input, self.max_packet_bytes) {
            Ok(p) => Ok(Some(p)),
            Err(CodecError::InsufficientBytes(_)) => Ok(None),
            Err(e) => Err(format!("malformed or oversized packet: {e}")),
        }
    }

    /// Reads more bytes (cancel safe: nothing is lost when another branch wins a `select!`).
    async fn fill(&mut self) -> Result<(), End> {
        match self.stream.read_buf(&mut self.input).await {
            Ok(0) => Err("the device closed the connection".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("read: {e}")),
        }
    }

    /// The next packet, reading as needed.
    async fn packet(&mut self) -> Result<Packet, End> {
        loop {
            if let Some(p) = self.parsed()? {
                return Ok(p);
            }
            self.fill().await?;
        }
    }

    async fn write(&mut self, packet: Packet) -> Result<(), End> {
        self.output.clear();
        packet
            .write(&mut self.output, usize::MAX)
            .map_err(|e| format!("encode: {e}"))?;
        let write = self.stream.write_all(&self.output);
        match tokio::time::timeout(self.write_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("write: {e}")),
            Err(_) => Err("the device does not read: a write timed out".into()),
        }
    }
}

/// An authenticated device's session.
struct Session {
    endpoint: Arc<Endpoint>,
    id: String,
    device: u32,
    conn: u64,
    tx: mpsc::Sender<Outbound>,
    /// Twin requests in flight to the driver.
    pending: Arc<Semaphore>,
    /// Requests to the driver: a token bucket (tokens, last refill).
    bucket: (f64, Instant),
}

/// Serves one connection to its end.
pub(super) async fn run<S: AsyncRead + AsyncWrite + Unpin>(stream: S, endpoint: Arc<Endpoint>) {
    let limits = endpoint.limits.clone();
    let mut io = Io {
        stream,
        input: BytesMut::with_capacity(4096),
        output: BytesMut::with_capacity(4096),
        max_packet_bytes: limits.max_packet_bytes,
        write_timeout: limits.write_timeout,
    };
    let open = endpoint.open.fetch_add(1, Ordering::SeqCst) + 1;
    let end = match tokio::time::timeout(limits.connect_timeout, io.packet()).await {
        Ok(Ok(Packet::Connect(c))) if open > limits.max_connections => {
            let _ = connack(&mut io, ConnectReturnCode::ServiceUnavailable).await;
            format!(
                "{}: refused, {} connections are open",
                c.client_id,
                open - 1
            )
        }
        Ok(Ok(Packet::Connect(c))) => match admit(&mut io, &endpoint, c).await {
            Ok((session, rx, kick, keep_alive)) => {
                serve(&mut io, session, rx, kick, keep_alive).await
            }
            Err(e) => e,
        },
        Ok(Ok(_)) => "the first packet is not CONNECT".into(),
        Ok(Err(e)) => e,
        Err(_) => "no CONNECT in time".into(),
    };
    endpoint.open.fetch_sub(1, Ordering::SeqCst);
    tracing::debug!(target: "fleetsim::device", "connection closed: {end}");
}

async fn connack<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Io<S>,
    code: ConnectReturnCode,
) -> Result<(), End> {
    io.write(Packet::ConnAck(ConnAck::new(code, false))).await
}

/// Whether a `CONNECT` may go on: MQTT 3.1.1, and a user name and SAS token of the device
/// (see `device_keys`); else the return code to refuse it with, and why.
fn credentials(
    endpoint: &Endpoint,
    connect: &rumqttc::mqttbytes::v4::Connect,
) -> Result<(), (ConnectReturnCode, String)> {
    let id = &connect.client_id;
    match (&connect.protocol, &connect.login) {
        (Protocol::V5, _) => Err((
            ConnectReturnCode::RefusedProtocolVersion,
            "MQTT 5 (IoT Hub speaks 3.1.1)".to_string(),
        )),
        (_, None) => Err((
            ConnectReturnCode::BadUserNamePassword,
            "no user name and password".to_string(),
        )),
        (_, Some(login)) => {
            let now_s = jiff::Timestamp::now().as_second();
            endpoint
                .key
                .check(id, &login.username, &login.password, now_s)
                .map(|_host| ())
                .map_err(|r| {
                    let code = match r.code {
                        4 => ConnectReturnCode::BadUserNamePassword,
                        _ => ConnectReturnCode::NotAuthorized,
                    };
                    (code, r.why)
                })
        }
    }
}

type Admitted = (Session, mpsc::Receiver<Outbound>, Arc<Notify>, Duration);

/// Checks a `CONNECT` (protocol, credentials, the device in the fleet), registers the
/// connection with the driver and answers `CONNACK`.
async fn admit<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Io<S>,
    endpoint: &Arc<Endpoint>,
    connect: rumqttc::mqttbytes::v4::Connect,
) -> Result<Admitted, End> {
    let id = connect.client_id.clone();
    let checked = credentials(endpoint, &connect);
    if let Err((code, why)) = checked {
        let _ = connack(io, code).await;
        tracing::info!(target: "fleetsim::device", device = %id, "connection refused: {why}");
        return Err(format!("{id}: refused: {why}"));
    }
    let (tx, rx) = mpsc::channel(endpoint.limits.queue);
    let kick = Arc::new(Notify::new());
    let conn = endpoint.next_conn.fetch_add(1, Ordering::SeqCst) + 1;
    let link = Link {
        conn,
        tx: tx.clone(),
        kick: kick.clone(),
    };
    let (reply, answer) = oneshot::channel();
    let sent = endpoint
        .shared
        .commands
        .send(Command::Real(RealCommand::Connect {
            id: id.clone(),
            link,
            reply,
        }));
    let device = match (sent, answer.await) {
        (Ok(()), Ok(Ok(v))) => v.as_u64().unwrap_or_default() as u32,
        (_, Ok(Err(e))) => {
            let _ = connack(io, ConnectReturnCode::NotAuthorized).await;
            return Err(format!("{id}: refused: {}", e.message));
        }
        _ => {
            let _ = connack(io, ConnectReturnCode::ServiceUnavailable).await;
            return Err(format!("{id}: the server is stopping"));
        }
    };
    connack(io, ConnectReturnCode::Success).await?;
    tracing::info!(target: "fleetsim::device", device = %id, conn, "device connected");
    let max = endpoint.limits.max_keep_alive_s;
    let keep_alive_s = match u64::from(connect.keep_alive) {
        0 => max,
        k => k.min(max),
    };
    let session = Session {
        endpoint: endpoint.clone(),
        id,
        device,
        conn,
        tx,
        pending: Arc::new(Semaphore::new(endpoint.limits.pending_requests)),
        bucket: (endpoint.limits.request_burst, Instant::now()),
    };
    Ok((
        session,
        rx,
        kick,
        Duration::from_millis(keep_alive_s * 1500),
    ))
}

/// The connected session's loop: packets from the device, messages from the driver, the
/// keep-alive, the kick and the server's stop.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Io<S>,
    mut s: Session,
    mut rx: mpsc::Receiver<Outbound>,
    kick: Arc<Notify>,
    keep_alive: Duration,
) -> End {
    let mut closing = s.endpoint.closing.clone();
    let mut deadline = tokio::time::Instant::now() + keep_alive;
    let end = loop {
        let step = async {
            while let Some(p) = io.parsed()? {
                deadline = tokio::time::Instant::now() + keep_alive;
                if let Some(reply) = s.handle(p)? {
                    io.write(reply).await?;
                }
            }
            tokio::select! {
                r = io.fill() => r,
                Some(out) = rx.recv() => {
                    let publish = Publish::new(out.topic, QoS::AtMostOnce, out.payload);
                    io.write(Packet::Publish(publish)).await
                }
                _ = kick.notified() => Err("replaced by a newer connection, or too slow to read".into()),
                _ = tokio::time::sleep_until(deadline) => Err("keep-alive expired".into()),
                _ = closing.changed() => Err("the server is stopping".into()),
            }
        };
        if let Err(e) = step.await {
            break e;
        }
    };
    let _ = s
        .endpoint
        .shared
        .commands
        .send(Command::Real(RealCommand::Disconnect {
            device: s.device,
            conn: s.conn,
        }));
    tracing::info!(target: "fleetsim::device", device = %s.id, conn = s.conn, "device disconnected: {end}");
    format!("{}: {end}", s.id)
}

impl Session {
    /// Handles a packet from the device; returns the packet to answer with, if any.
    fn handle(&mut self, packet: Packet) -> Result<Option<Packet>, End> {
        match packet {
            Packet::Publish(p) => self.publish(p),
            Packet::Subscribe(sub) => {
                let mut codes = Vec::with_capacity(sub.filters.len());
                for f in &sub.filters {
                    let code = match topics::subscription(&f.path, &self.id) {
                        Subscription::Methods => {
                            self.tell_driver(RealCommand::Methods {
                                device: self.device,
                                conn: self.conn,
                                on: true,
                            })?;
                            SubscribeReasonCode::Success(QoS::AtMostOnce)
                        }
                        Subscription::TwinResponses | Subscription::DesiredPatches => {
                            SubscribeReasonCode::Success(QoS::AtMostOnce)
                        }
                        // Cloud-to-device messages are not served: the subscription fails.
                        Subscription::CloudToDevice | Subscription::Other => {
                            self.endpoint.shared.metrics.device_message("refused");
                            SubscribeReasonCode::Failure
                        }
                    };
                    codes.push(code);
                }
                Ok(Some(Packet::SubAck(SubAck::new(sub.pkid, codes))))
            }
            Packet::Unsubscribe(u) => {
                if u.topics.iter().any(|t| t == "$iothub/methods/POST/#") {
                    self.tell_driver(RealCommand::Methods {
                        device: self.device,
                        conn: self.conn,
                        on: false,
                    })?;
                }
                Ok(Some(Packet::UnsubAck(UnsubAck::new(u.pkid))))
            }
            Packet::PingReq => Ok(Some(Packet::PingResp)),
            Packet::PubAck(_) => Ok(None),
            Packet::Disconnect => Err("the device disconnected".into()),
            other => Err(format!("unexpected packet {:?}", packet_name(&other))),
        }
    }

    /// A `PUBLISH` from the device: telemetry, a twin request or a method's answer. A topic
    /// IoT Hub does not serve, or QoS 2, closes the connection (as IoT Hub does).
    fn publish(&mut self, p: Publish) -> Result<Option<Packet>, End> {
        if p.qos == QoS::ExactlyOnce {
            return Err("QoS 2 is not supported (IoT Hub closes the connection)".into());
        }
        let metrics = &self.endpoint.shared.metrics;
        match topics::incoming(&p.topic, &self.id) {
            Incoming::Telemetry => metrics.device_message("telemetry"),
            Incoming::TwinGet { rid } => {
                metrics.device_message("twin_get");
                let rid = rid.to_string();
                self.twin_request(rid, |device, reply| RealCommand::TwinGet { device, reply })?;
            }
            Incoming::Reported { rid } => {
                metrics.device_message("reported");
                let rid = rid.to_string();
                match serde_json::from_slice::<Value>(&p.payload) {
                    Ok(Value::Object(patch)) => {
                        self.twin_request(rid, move |device, reply| RealCommand::Reported {
                            device,
                            patch,
                            reply,
                        })?
                    }
                    _ => self.respond(topics::twin_response(400, &rid, None), Vec::new()),
                }
            }
            Incoming::MethodResponse { status, rid } => {
                metrics.device_message("method_response");
                let rid = rid.parse().unwrap_or(0);
                let payload = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                let (device, conn) = (self.device, self.conn);
                self.tell_driver(RealCommand::MethodResponse {
                    device,
                    conn,
                    rid,
                    status,
                    payload,
                })?;
            }
            Incoming::Unknown => {
                metrics.device_message("refused");
                return Err(format!(
                    "a publish to {:?}, which IoT Hub does not serve",
                    p.topic
                ));
            }
        }
        Ok((p.qos == QoS::AtLeastOnce).then(|| Packet::PubAck(PubAck::new(p.pkid))))
    }

    /// Sends a request to the driver, within the connection's rate.
    fn tell_driver(&mut self, c: RealCommand) -> Result<(), End> {
        let limits = &self.endpoint.limits;
        let (tokens, last) = &mut self.bucket;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * limits.requests_per_s)
            .min(limits.request_burst);
        *last = now;
        if *tokens < 1.0 {
            return Err(format!(
                "more than {} requests a second to the twin and methods",
                limits.requests_per_s
            ));
        }
        *tokens -= 1.0;
        self.endpoint
            .shared
            .commands
            .send(Command::Real(c))
            .map_err(|_| "the server is stopping".to_string())
    }

    /// A twin request: answered on `$iothub/twin/res/{status}/?$rid=` when the driver replies
    /// (429 at once when too many are in flight).
    fn twin_request(
        &mut self,
        rid: String,
        make: impl FnOnce(u32, oneshot::Sender<Reply>) -> RealCommand,
    ) -> Result<(), End> {
        let Ok(permit) = self.pending.clone().try_acquire_owned() else {
            self.respond(topics::twin_response(429, &rid, None), Vec::new());
            return Ok(());
        };
        let (reply, answer) = oneshot::channel();
        self.tell_driver(make(self.device, reply))?;
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let (topic, payload) = match answer.await {
                Ok(Ok(Value::Number(v))) => {
                    let version = v.as_u64().map(|v| v as u32);
                    (topics::twin_response(204, &rid, version), Vec::new())
                }
                Ok(Ok(body)) => (
                    topics::twin_response(200, &rid, None),
                    serde_json::to_vec(&body).unwrap_or_default(),
                ),
                Ok(Err(e)) => (
                    topics::twin_response(e.status().as_u16(), &rid, None),
                    Vec::new(),
                ),
                Err(_) => (topics::twin_response(503, &rid, None), Vec::new()),
            };
            let _ = tx.send(Outbound { topic, payload }).await;
            drop(permit);
        });
        Ok(())
    }

    /// Queues an answer to the device (dropped if its queue is full: the driver's next
    /// message to it then disconnects it).
    fn respond(&self, topic: String, payload: Vec<u8>) {
        let _ = self.tx.try_send(Outbound { topic, payload });
    }
}

fn packet_name(p: &Packet) -> &'static str {
    match p {
        Packet::Connect(_) => "CONNECT",
        Packet::ConnAck(_) => "CONNACK",
        Packet::PubRec(_) => "PUBREC",
        Packet::PubRel(_) => "PUBREL",
        Packet::PubComp(_) => "PUBCOMP",
        Packet::SubAck(_) => "SUBACK",
        Packet::UnsubAck(_) => "UNSUBACK",
        Packet::PingResp => "PINGRESP",
        _ => "packet",
    }
}
