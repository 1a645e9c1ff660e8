//! [`Server`]: starting, serving, stopping (gracefully, as a crash, or because its store
//! failed).

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::Router;
use crossbeam_channel::Receiver;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder as AutoBuilder;

use crate::auth::Auth;
use crate::config::Config;
use crate::driver::{Command, Driver, DriverConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::idle::IdleAcceptor;
use crate::routes::{self, AppState};
use crate::state::Shared;
use crate::store::Store;
use crate::throttle::Throttles;
use crate::world::World;

/// A running server: the HTTP listener on the tokio runtime and the driver on its own thread.
pub struct Server {
    addr: SocketAddr,
    mqtt_addr: Option<SocketAddr>,
    /// Turned true when the server stops: device connections close.
    closing: tokio::sync::watch::Sender<bool>,
    handle: axum_server::Handle,
    kill: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    driver: Option<JoinHandle<()>>,
    banner: String,
}

impl Server {
    /// Loads the world, opens (or creates) the store, restores every run, binds and starts
    /// serving. Call from within a tokio runtime.
    pub async fn start(config: Config) -> Result<Self> {
        let world = World::load(config.scenario.as_deref())?;
        let store = Store::open(config.data_dir.as_deref())?;
        let (tx, rx) = crossbeam_channel::unbounded::<Command>();
        let shared = Arc::new(Shared::new(tx));
        let throttles = world.hub.as_ref().map(Throttles::of);
        let templates = world.model.fleet().templates().to_vec();
        let name = world.name.clone();
        let devices = world.model.fleet().len();
        let ignored = world.ignored_jobs;
        let driver = Driver::open(world, store, driver_config(&config), shared.clone())?;
        let kill = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let driver = spawn_driver(driver, rx, kill.clone(), stop.clone(), shared.clone())?;
        let (listener, addr) = bind(config.bind)?;
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let state = Arc::new(AppState {
            shared: shared.clone(),
            page_size: config.page_size,
            auth: Auth {
                hub_keys: config.hub_keys.clone(),
                central_tokens: config.central_tokens.clone(),
            },
            throttles,
            scheme,
            templates,
        });
        let (closing, closed) = tokio::sync::watch::channel(false);
        let endpoint = config
            .serves_devices()
            .then(|| device_endpoint(&config, &shared, closed));
        let mut app = routes::router(state, config.body_limit);
        if let Some(endpoint) = &endpoint {
            let ws = axum::routing::get(crate::mqtt::websocket);
            let ws = Router::new()
                .route(WEBSOCKET_PATH, ws)
                .with_state(endpoint.clone());
            app = app.merge(ws);
        }
        let mqtt = match (&config.mqtt_bind, &config.tls, &endpoint) {
            (Some(bind), Some((cert, key)), Some(endpoint)) => {
                match serve_mqtt(*bind, cert, key, endpoint.clone()).await {
                    Ok(addr) => Ok(Some(addr)),
                    Err(e) if config.mqtt_optional => Err(e.to_string()),
                    Err(e) => return Err(e),
                }
            }
            _ => Ok(None),
        };
        let mqtt_addr = mqtt.clone().ok().flatten();
        let handle = axum_server::Handle::new();
        serve_http(listener, &config, app, &handle).await?;
        let banner = banner(&config, &name, devices, ignored, scheme, addr)
            + &devices_banner(&config, scheme, addr, mqtt);
        Ok(Self {
            addr,
            mqtt_addr,
            closing,
            handle,
            kill,
            stop,
            shared,
            driver: Some(driver),
            banner,
        })
    }

    /// The address served (with the port chosen when binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the device endpoint (MQTT over TLS), if it serves one.
    pub fn mqtt_addr(&self) -> Option<SocketAddr> {
        self.mqtt_addr
    }

    /// What the server says at start: where it listens, the time scale, the data directory,
    /// and whether it authenticates.
    pub fn banner(&self) -> &str {
        &self.banner
    }

    /// Why the server stopped serving, if it has: its store failed while running (a full disk,
    /// an I/O error, damage found), so it acknowledges nothing more and every request answers
    /// 503 with this reason. A server in this state should be stopped ([`Server::shutdown`])
    /// and started again; `fleetsim serve` does so by exiting non-zero.
    pub fn failure(&self) -> Option<Error> {
        self.shared
            .failure()
            .map(|reason| Error::new(ErrorKind::Store, reason))
    }

    /// Waits until the server cannot go on (see [`Server::failure`]) and returns why. Never
    /// returns while the server is healthy.
    pub async fn failed(&self) -> Error {
        Error::new(ErrorKind::Store, self.shared.failed().await)
    }

    /// Stops gracefully: no new connections, the driver commits its last tick and stops.
    /// Returns the failure that stopped the server, if its store failed (before, or in the
    /// last commit).
    pub async fn shutdown(mut self) -> Result<()> {
        self.handle
            .graceful_shutdown(Some(std::time::Duration::from_secs(2)));
        let _ = self.closing.send(true);
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.shared.commands.send(Command::Wake);
        self.join().await;
        self.failure().map_or(Ok(()), Err)
    }

    /// Stops as a crash would: connections are dropped and the driver stops where it is,
    /// without committing the tick in progress. For tests of restarts.
    pub async fn kill(mut self) {
        self.kill.store(true, Ordering::SeqCst);
        let _ = self.closing.send(true);
        self.handle.shutdown();
        let _ = self.shared.commands.send(Command::Wake);
        self.join().await;
    }

    async fn join(&mut self) {
        if let Some(driver) = self.driver.take() {
            let _ = tokio::task::spawn_blocking(move || driver.join()).await;
        }
    }
}

/// Where MQTT over WebSockets is served, on the HTTP(S) address (as IoT Hub serves it on 443).
const WEBSOCKET_PATH: &str = "/$iothub/websocket";

/// The device endpoint's shared state.
fn device_endpoint(
    config: &Config,
    shared: &Arc<Shared>,
    closing: tokio::sync::watch::Receiver<bool>,
) -> Arc<crate::mqtt::Endpoint> {
    let key = config
        .device_key
        .as_deref()
        .unwrap_or(crate::device_keys::DEVELOPMENT_FLEET_KEY);
    Arc::new(crate::mqtt::Endpoint {
        shared: shared.clone(),
        key: crate::device_keys::FleetKey::from_base64(key).expect("checked by the builder"),
        limits: crate::mqtt::Limits::new(config.max_device_connections),
        open: Default::default(),
        next_conn: Default::default(),
        closing,
    })
}

/// Binds the device endpoint and serves MQTT over TLS there, with the HTTPS certificate (no
/// ALPN: MQTT clients send none). Returns the address bound.
async fn serve_mqtt(
    bind_addr: SocketAddr,
    cert: &std::path::Path,
    key: &std::path::Path,
    endpoint: Arc<crate::mqtt::Endpoint>,
) -> Result<SocketAddr> {
    let tls = crate::tls::config(cert, key).await?;
    let mut tls = (*tls.get_inner()).clone();
    tls.alpn_protocols.clear();
    let (listener, addr) = bind(bind_addr).map_err(|e| {
        Error::new(
            ErrorKind::Network,
            format!("the device endpoint (MQTT, --mqtt-bind): {e}"),
        )
    })?;
    crate::mqtt::listen(listener, Arc::new(tls), endpoint)
        .map_err(|e| Error::new(ErrorKind::Network, e.to_string()))?;
    Ok(addr)
}

/// The banner's lines about devices.
fn devices_banner(
    config: &Config,
    scheme: &str,
    addr: SocketAddr,
    mqtt: std::result::Result<Option<SocketAddr>, String>,
) -> String {
    if !config.serves_devices() {
        return "\n  devices:     off (give --device-key to let devices connect on a non-loopback \
                address)"
            .to_string();
    }
    let ws = if scheme == "https" { "wss" } else { "ws" };
    let key = if config.device_key.is_some() {
        "keys derived from --device-key"
    } else {
        "keys derived from the published development key"
    };
    let mqtt = match mqtt {
        Ok(Some(m)) => format!("mqtts://{m}"),
        Ok(None) => "MQTT over TLS off (--mqtt-bind)".to_string(),
        Err(e) => format!("MQTT over TLS OFF: {e} (give --mqtt-bind)"),
    };
    format!("\n  devices:     {mqtt}, {ws}://{addr}{WEBSOCKET_PATH} ({key})")
}

/// The driver's settings, from the server's configuration.
fn driver_config(config: &Config) -> DriverConfig {
    DriverConfig {
        time_scale: config.time_scale,
        device_timeout_ms: config.device_timeout_ms,
        history_ttl_ms: config.history_ttl_ms,
        events_per_commit: config.events_per_commit,
    }
}

/// Starts the driver on its own thread, reading `commands` until `kill` or `stop` is set. A
/// panic in the driver stops the server as a store failure does.
fn spawn_driver(
    driver: Driver,
    commands: Receiver<Command>,
    kill: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("fleetsim-driver".into())
        .spawn(move || {
            let run = std::panic::AssertUnwindSafe(|| driver.run(commands, kill, stop));
            if let Err(panic) = std::panic::catch_unwind(run) {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let reason = format!("the driver failed: {what}");
                eprintln!("fleetsim serve: {reason}; refusing requests and stopping");
                shared.fail(reason);
            }
        })
        .map_err(|e| Error::new(ErrorKind::Config, format!("cannot start the driver: {e}")))
}

/// Binds a non-blocking listener to `bind`; returns it with the address actually bound.
fn bind(bind: SocketAddr) -> Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(bind)
        .map_err(|e| Error::new(ErrorKind::Network, format!("cannot listen on {bind}: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::new(ErrorKind::Network, e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::new(ErrorKind::Network, e.to_string()))?;
    Ok((listener, addr))
}

/// Serves `app` on `listener` in a tokio task, over TLS if configured: HTTP/1 only, with the
/// header and idle timeouts of `config`.
async fn serve_http(
    listener: TcpListener,
    config: &Config,
    app: Router,
    handle: &axum_server::Handle,
) -> Result<()> {
    let idle = IdleAcceptor {
        timeout: config.idle_timeout,
    };
    match &config.tls {
        Some((cert, key)) => {
            let tls = crate::tls::config(cert, key).await?;
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls).acceptor(idle);
            let mut server = axum_server::from_tcp(listener)
                .acceptor(acceptor)
                .handle(handle.clone());
            http_settings(server.http_builder(), config);
            tokio::spawn(async move {
                let _ = server
                    .serve(app.into_make_service_with_connect_info::<SocketAddr>())
                    .await;
            });
        }
        None => {
            let mut server = axum_server::from_tcp(listener)
                .acceptor(idle)
                .handle(handle.clone());
            http_settings(server.http_builder(), config);
            tokio::spawn(async move {
                let _ = server
                    .serve(app.into_make_service_with_connect_info::<SocketAddr>())
                    .await;
            });
        }
    }
    Ok(())
}

/// HTTP/1 only (no protocol sniffing, which would wait for bytes without a timeout), with
/// the header timeout. hyper parses up to [`HYPER_MAX_HEADERS`] header fields, more than the
/// router's limit ([`routes::MAX_HEADERS`]), so that a request a little over that limit gets
/// the router's 431 with the API's error body rather than hyper's 431 without one.
fn http_settings(builder: &mut AutoBuilder<TokioExecutor>, config: &Config) {
    let b = std::mem::replace(builder, AutoBuilder::new(TokioExecutor::new()));
    *builder = b.http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .max_headers(HYPER_MAX_HEADERS)
        .header_read_timeout(config.header_timeout);
}

/// The most header fields hyper parses; a request with more gets hyper's own 431, which has
/// no body (it is answered before any handler runs).
const HYPER_MAX_HEADERS: usize = 4 * routes::MAX_HEADERS;

/// What the server says at start (see [`Server::banner`]).
fn banner(
    config: &Config,
    name: &str,
    devices: u32,
    ignored: usize,
    scheme: &str,
    addr: SocketAddr,
) -> String {
    let auth = if config.has_auth() {
        "requests must authenticate (IoT Hub SAS tokens, IoT Central API tokens)".to_string()
    } else {
        "no key or token configured: serving WITHOUT authentication, on loopback only".to_string()
    };
    format!(
        "fleetsim serve: {name} ({devices} devices) at {scheme}://{addr}\n  IoT Central: \
         {scheme}://{addr}/api (api-version {})\n  IoT Hub:     \
         {scheme}://{addr} (api-version 2021-04-12)\n  OpenAPI:     {scheme}://{addr}/openapi.json\n  \
         Dashboard:   {scheme}://{addr}/\n  \
         time scale {}x; data: {}\n  {auth}{}",
        routes::CENTRAL_VERSIONS.join(", "),
        config.time_scale,
        config
            .data_dir
            .as_ref()
            .map_or("in memory (nothing survives a restart)".to_string(), |d| d
                .display()
                .to_string()),
        if ignored > 0 {
            format!("\n  the scenario's {ignored} job(s) are not run: create jobs through the API")
        } else {
            String::new()
        }
    )
}

/// Starts a server, prints its banner, and serves until Ctrl-C, or until its store fails:
/// then it stops and returns the failure (`fleetsim serve` exits non-zero, so that a
/// supervisor starts it again, and the checks at start decide whether the store can be used).
pub async fn serve(config: Config) -> Result<()> {
    let quiet = config.quiet;
    let server = Server::start(config).await?;
    if !quiet {
        eprintln!("{}", server.banner());
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {
            if !quiet {
                eprintln!("fleetsim serve: stopping");
            }
        }
        _ = server.failed() => {}
    }
    server.shutdown().await
}

#[cfg(test)]
mod tests;
