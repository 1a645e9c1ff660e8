//! [`Config`] and its [`ConfigBuilder`]: everything `fleetsim serve` can be told.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

/// The settings of a server. Built with [`Config::builder`].
///
/// | setting | default | `fleetsim serve` flag |
/// |---|---|---|
/// | `bind` | `127.0.0.1:8443` | `--bind` |
/// | `scenario` | none: the built-in demo fleet | `--scenario` |
/// | `data_dir` | none: an in-memory database (nothing survives a restart) | `--data` |
/// | `time_scale` | 1.0 | `--time-scale` |
/// | `tls` | none: plain HTTP | `--tls-cert`, `--tls-key` |
/// | `hub_keys` | none | `--hub-key NAME=BASE64KEY` |
/// | `central_tokens` | none | `--central-token TOKEN` |
/// | `device_timeout_ms` | none: a device may stay in flight until it answers | `--device-timeout-s` |
/// | `page_size` | 100 | |
/// | `body_limit` | 256 KiB | |
/// | `history_ttl_ms` | 30 days (virtual time) | |
/// | `events_per_commit` | 20,000 | |
/// | `header_timeout` | 10 s: a request's header must arrive whole within it (also the longest a kept-alive connection may wait idle between requests) | `--header-timeout-s` |
/// | `mqtt_bind` | none (`fleetsim serve` with TLS: the `--bind` address's IP, port 8883): the device endpoint, MQTT over TLS | `--mqtt-bind` |
/// | `device_key` | none: [`crate::DEVELOPMENT_FLEET_KEY`], devices on loopback only | `--device-key` |
/// | `max_device_connections` | 10,000 | `--max-device-connections` |
/// | `idle_timeout` | 60 s: a connection on which nothing is read or written this long is closed | `--idle-timeout-s` |
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) bind: SocketAddr,
    pub(crate) scenario: Option<PathBuf>,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) time_scale: f64,
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
    pub(crate) hub_keys: Vec<(String, Vec<u8>)>,
    pub(crate) central_tokens: Vec<String>,
    pub(crate) device_timeout_ms: Option<i64>,
    pub(crate) page_size: usize,
    pub(crate) body_limit: usize,
    pub(crate) history_ttl_ms: i64,
    pub(crate) events_per_commit: usize,
    pub(crate) header_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) quiet: bool,
    pub(crate) mqtt_bind: Option<SocketAddr>,
    /// The MQTT address is a default, not asked for: if it cannot be bound, the server says so
    /// and serves without it.
    pub(crate) mqtt_optional: bool,
    pub(crate) device_key: Option<String>,
    pub(crate) max_device_connections: usize,
}

/// Builds a [`Config`]; [`ConfigBuilder::build`] checks the settings together.
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    config: Config,
    errors: Vec<String>,
}

/// 30 days in milliseconds: IoT Hub keeps job history this long.
pub const HISTORY_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

impl Config {
    /// A builder with every default.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config {
                bind: SocketAddr::from(([127, 0, 0, 1], 8443)),
                scenario: None,
                data_dir: None,
                time_scale: 1.0,
                tls: None,
                hub_keys: Vec::new(),
                central_tokens: Vec::new(),
                device_timeout_ms: None,
                page_size: 100,
                body_limit: 256 * 1024,
                history_ttl_ms: HISTORY_TTL_MS,
                events_per_commit: 20_000,
                header_timeout: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(60),
                quiet: false,
                mqtt_bind: None,
                mqtt_optional: false,
                device_key: None,
                max_device_connections: 10_000,
            },
            errors: Vec::new(),
        }
    }

    /// The address to listen on.
    pub fn bind(&self) -> SocketAddr {
        self.bind
    }

    /// Whether any key or token is configured (requests must then authenticate).
    pub fn has_auth(&self) -> bool {
        !self.hub_keys.is_empty() || !self.central_tokens.is_empty()
    }

    /// Whether devices may connect: with a fleet key of the user's own, or on loopback (the
    /// development key is published).
    pub(crate) fn serves_devices(&self) -> bool {
        self.device_key.is_some() || self.bind.ip().is_loopback()
    }
}

impl ConfigBuilder {
    /// The address to listen on (port 0: any free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.config.bind = addr;
        self
    }

    /// The scenario file whose fleet, groups, behaviour and hub model the server serves.
    pub fn scenario(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.scenario = Some(path.into());
        self
    }

    /// The directory of the SQLite database (created if missing).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.data_dir = Some(dir.into());
        self
    }

    /// Virtual time runs this many times faster than the wall clock (positive, finite).
    pub fn time_scale(mut self, scale: f64) -> Self {
        if !(scale.is_finite() && scale > 0.0) {
            self.errors
                .push(format!("time scale {scale}: it must be a positive number"));
        }
        self.config.time_scale = scale;
        self
    }

    /// Serves HTTPS with this PEM certificate chain and PEM private key.
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.config.tls = Some((cert.into(), key.into()));
        self
    }

    /// Accepts IoT Hub SharedAccessSignature tokens signed with this key (`skn` = `name`;
    /// `key` is the base64 text of the key, as in a connection string).
    pub fn hub_key(mut self, name: impl Into<String>, key_base64: &str) -> Self {
        use base64::Engine;
        match base64::engine::general_purpose::STANDARD.decode(key_base64.trim()) {
            Ok(key) if !key.is_empty() => self.config.hub_keys.push((name.into(), key)),
            _ => self
                .errors
                .push("a hub key must be non-empty base64 text".to_string()),
        }
        self
    }

    /// Accepts this IoT Central API token (the whole `SharedAccessSignature sr=...` text, or
    /// a bearer token).
    pub fn central_token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        if token.trim().is_empty() {
            self.errors
                .push("an IoT Central token must not be empty".to_string());
        }
        self.config.central_tokens.push(token.trim().to_string());
        self
    }

    /// Times out a device that has not answered this long (virtual milliseconds) after its
    /// dispatch, in every job.
    pub fn device_timeout_ms(mut self, ms: i64) -> Self {
        if ms <= 0 {
            self.errors
                .push(format!("device timeout {ms} ms: it must be positive"));
        }
        self.config.device_timeout_ms = Some(ms);
        self
    }

    /// The most elements in one page of a collection (at least 1).
    pub fn page_size(mut self, n: usize) -> Self {
        self.config.page_size = n.max(1);
        self
    }

    /// The largest request body accepted, in bytes.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes.max(1024);
        self
    }

    /// How long (virtual milliseconds) a settled job is kept.
    pub fn history_ttl_ms(mut self, ms: i64) -> Self {
        self.config.history_ttl_ms = ms.max(1);
        self
    }

    /// The most events the driver handles in one database transaction.
    pub fn events_per_commit(mut self, n: usize) -> Self {
        self.config.events_per_commit = n.max(1);
        self
    }

    /// How long a client has to send a request's header whole, counted from when the server
    /// starts waiting for it (the connection's start, or the end of the previous response on a
    /// kept-alive connection); then the connection is closed. At least 1 ms.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        if timeout.is_zero() {
            self.errors
                .push("the header timeout must be positive".to_string());
        }
        self.config.header_timeout = timeout;
        self
    }

    /// How long a connection may go without a byte read or written (a stalled body, a client
    /// that stopped reading) before it is closed. At least 1 ms.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        if timeout.is_zero() {
            self.errors
                .push("the idle timeout must be positive".to_string());
        }
        self.config.idle_timeout = timeout;
        self
    }

    /// Serves the device endpoint, MQTT 3.1.1 over TLS, on `addr` (IoT Hub's port is 8883);
    /// needs [`ConfigBuilder::tls`]. MQTT over WebSockets is served on the HTTP(S) address
    /// whenever devices may connect (see `docs/devices.md`).
    pub fn mqtt_bind(mut self, addr: SocketAddr) -> Self {
        self.config.mqtt_bind = Some(addr);
        self.config.mqtt_optional = false;
        self
    }

    /// Serves the device endpoint on `addr` if it can be bound; if not (the port is taken),
    /// the banner says why and the server serves without it (`fleetsim serve`'s default).
    pub fn mqtt_bind_if_free(mut self, addr: SocketAddr) -> Self {
        self.config.mqtt_bind = Some(addr);
        self.config.mqtt_optional = true;
        self
    }

    /// The fleet key (base64) every device key is derived from, as IoT Hub's Device
    /// Provisioning Service derives group-enrollment keys.
    pub fn device_key(mut self, key_base64: &str) -> Self {
        if crate::device_keys::FleetKey::from_base64(key_base64).is_none() {
            self.errors
                .push("the device key must be non-empty base64 text".to_string());
        }
        self.config.device_key = Some(key_base64.trim().to_string());
        self
    }

    /// The most device connections open at once (at least 1).
    pub fn max_device_connections(mut self, n: usize) -> Self {
        self.config.max_device_connections = n.max(1);
        self
    }

    /// Prints nothing at start.
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.config.quiet = quiet;
        self
    }

    /// The configuration, if the settings hold together: no key configured means loopback
    /// only; TLS needs both files.
    pub fn build(self) -> Result<Config> {
        if let Some(e) = self.errors.first() {
            return Err(Error::new(ErrorKind::Config, e.clone()));
        }
        let c = self.config;
        if let Some(m) = c.mqtt_bind {
            if c.tls.is_none() {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("the device endpoint on {m} is MQTT over TLS: give --tls-cert and --tls-key"),
                ));
            }
            if c.device_key.is_none() && !m.ip().is_loopback() {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "without --device-key, devices authenticate with the published development                          key, so the device endpoint serves only on loopback; {m} is not a                          loopback address (give --device-key, or --mqtt-bind 127.0.0.1:8883)"
                    ),
                ));
            }
        }
        if !c.has_auth() && !c.bind.ip().is_loopback() {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "no key or token is configured, so fleetsim serves only on loopback; {} is \
                     not a loopback address (give --hub-key or --central-token, or bind \
                     127.0.0.1)",
                    c.bind
                ),
            ));
        }
        Ok(c)
    }
}
