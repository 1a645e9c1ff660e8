//! fleet-server: `fleetsim serve`, the IoT Central and IoT Hub jobs REST APIs served locally
//! over a simulated fleet, durable across restarts.
//!
//! The server drives the same [`fleet_core::JobRun`] as the simulator, in wall-clock time
//! multiplied by a time scale, over fleet-sim's device model ([`fleet_sim::DeviceModel`]), whose devices answer with the
//! scenario's behaviour. Every engine input and fleet write is logged in SQLite before a
//! request is answered, so a server killed in the middle of a job continues it after a restart
//! with no device result lost or run twice. See `docs/server.md` for the endpoints, the
//! decisions and the limits.
//!
//! ```no_run
//! # async fn example() -> Result<(), fleet_server::Error> {
//! let config = fleet_server::Config::builder()
//!     .bind("127.0.0.1:0".parse().unwrap())
//!     .data_dir("/tmp/fleetsim-data")
//!     .time_scale(100.0)
//!     .build()?;
//! let server = fleet_server::Server::start(config).await?;
//! println!("{}", server.banner());
//! // ... requests to server.local_addr() ...
//! server.shutdown().await?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod api_error;
mod auth;
mod clock;
mod config;
mod dashboard;
mod device_keys;
mod driver;
mod dtdl;
mod error;
mod hub_view;
mod idle;
mod metrics;
mod mqtt;
mod odata;
pub mod openapi;
mod operation;
mod paging;
mod routes;
mod schedules;
mod server;
mod state;
mod store;
mod throttle;
mod tls;
mod validate;
mod world;

pub use api_error::{ApiError, ApiErrorKind};
pub use auth::sas_token;
pub use config::{Config, ConfigBuilder, HISTORY_TTL_MS};
pub use device_keys::{device_connection_string, DEVELOPMENT_FLEET_KEY};
pub use error::{Error, ErrorKind, Result};
pub use server::{serve, Server};
pub use world::DEMO_SCENARIO;
