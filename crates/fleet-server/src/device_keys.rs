//! Device credentials for the device endpoint: every device's key derived from one fleet key,
//! as IoT Hub's Device Provisioning Service derives the keys of a group enrollment, and the
//! checks of an MQTT `CONNECT`'s user name and SAS-token password.
//!
//! A device's key is `base64(HMAC-SHA256(base64decode(fleet key), device id))`, so a user who
//! knows the fleet key computes any device's connection string without asking the server
//! (`fleetsim serve --print-device-connection-string ID`, or the two lines of Python in
//! `docs/devices.md`). Without `--device-key`, the fleet key is [`DEVELOPMENT_FLEET_KEY`], a
//! published key, as the Azure Storage emulator publishes its account key: fine on loopback,
//! never anywhere else (the server refuses to serve devices on another address without a key
//! of its own).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::auth::{SasError, SasToken};

/// The fleet key used when none is given: base64 of the 32 bytes of
/// `fleetsim-development-fleet-key!!`. Published, so it protects nothing.
pub const DEVELOPMENT_FLEET_KEY: &str = "ZmxlZXRzaW0tZGV2ZWxvcG1lbnQtZmxlZXQta2V5ISE=";

/// The fleet key: the group-enrollment key every device key is derived from.
#[derive(Clone)]
pub(crate) struct FleetKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for FleetKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FleetKey(..)")
    }
}

/// Why a `CONNECT` is refused, with the MQTT 3.1.1 return code it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// 4: bad user name or password; 5: not authorized.
    pub(crate) code: u8,
    pub(crate) why: String,
}

fn refuse(code: u8, why: impl Into<String>) -> Refusal {
    Refusal {
        code,
        why: why.into(),
    }
}

impl FleetKey {
    /// The fleet key of base64 text; `None` if it is not non-empty base64.
    pub(crate) fn from_base64(text: &str) -> Option<Self> {
        let key = STANDARD.decode(text.trim()).ok()?;
        (!key.is_empty()).then_some(Self { key })
    }

    /// Device `id`'s key (raw bytes).
    pub(crate) fn device_key(&self, id: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(id.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Checks a `CONNECT` of client `client_id` with `user_name` and `password` at wall time
    /// `now_s`: the user name is `{host}/{device id}/?api-version=...` with the device id the
    /// client id; the password a SharedAccessSignature whose `sr` is `{host}/devices/{device
    /// id}` (url-encoded), signed with the device's key, not expired. Returns the host.
    pub(crate) fn check(
        &self,
        client_id: &str,
        user_name: &str,
        password: &str,
        now_s: i64,
    ) -> Result<String, Refusal> {
        let (host, rest) = user_name.split_once('/').ok_or_else(|| {
            refuse(
                4,
                "the user name is not {host}/{device id}/?api-version=...",
            )
        })?;
        let device = rest.split('/').next().unwrap_or_default();
        if device != client_id || host.is_empty() {
            return Err(refuse(
                4,
                format!("the user name names device {device:?} on {host:?}, the client id is {client_id:?}"),
            ));
        }
        let token = SasToken::parse(password, now_s).map_err(|e| match e {
            SasError::NotSas => refuse(4, "the password is not a SharedAccessSignature token"),
            SasError::Expired => refuse(5, e.message()),
            e => refuse(4, e.message()),
        })?;
        let resource = &token.resource;
        let wanted = format!("{host}/devices/{client_id}").to_lowercase();
        if resource.trim_end_matches('/') != wanted {
            return Err(refuse(
                5,
                format!("the token is for {resource}, not for {wanted}"),
            ));
        }
        let key = self.device_key(client_id);
        if token
            .signed_by_any([key.as_slice()])
            .map_err(|e| refuse(4, e.message()))?
        {
            return Ok(host.to_string());
        }
        Err(refuse(
            5,
            "the token's signature does not match the device's key",
        ))
    }
}

/// Device `id`'s connection string on `host` (a host name or IP address, as the SDKs connect
/// to it: they add port 8883 for MQTT, 443 for MQTT over WebSockets).
pub fn device_connection_string(fleet_key: &str, host: &str, id: &str) -> Option<String> {
    let key = FleetKey::from_base64(fleet_key)?.device_key(id);
    Some(format!(
        "HostName={host};DeviceId={id};SharedAccessKey={}",
        STANDARD.encode(key)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sas_token;

    /// A device token as the SDKs make it (no `skn`).
    fn device_token(host: &str, id: &str, key: &[u8], expiry: i64) -> String {
        let t = sas_token(&format!("{host}/devices/{id}"), key, "", expiry);
        t.trim_end_matches("&skn=").to_string()
    }

    #[test]
    fn device_keys_are_dps_group_keys() {
        // The DPS documentation's derivation, computed independently:
        // python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(hmac.new(
        //   base64.b64decode("ZmxlZXRzaW0tZGV2ZWxvcG1lbnQtZmxlZXQta2V5ISE="), b"dev-01",
        //   hashlib.sha256).digest()).decode())'
        let cs = device_connection_string(DEVELOPMENT_FLEET_KEY, "127.0.0.1", "dev-01").unwrap();
        assert_eq!(
            cs,
            "HostName=127.0.0.1;DeviceId=dev-01;SharedAccessKey=vzd90LrmXMOuiWstaIXNNcPJByQWo0qHK0gTaYYGw+E="
        );
        assert!(device_connection_string("not base64!", "h", "d").is_none());
    }

    #[test]
    fn connect_checks() {
        let fleet = FleetKey::from_base64(DEVELOPMENT_FLEET_KEY).unwrap();
        let key = fleet.device_key("dev-01");
        let user = "127.0.0.1/dev-01/?api-version=2021-04-12";
        let good = device_token("127.0.0.1", "dev-01", &key, 2_000);
        assert_eq!(
            fleet.check("dev-01", user, &good, 1_000),
            Ok("127.0.0.1".into())
        );
        // expired
        assert_eq!(
            fleet.check("dev-01", user, &good, 2_000).unwrap_err().code,
            5
        );
        // another device's client id
        assert_eq!(
            fleet.check("dev-02", user, &good, 1_000).unwrap_err().code,
            4
        );
        // another device's token
        let other = device_token("127.0.0.1", "dev-02", &fleet.device_key("dev-02"), 2_000);
        let user2 = "127.0.0.1/dev-02/?api-version=2021-04-12";
        assert_eq!(
            fleet.check("dev-01", user, &other, 1_000).unwrap_err().code,
            5
        );
        assert!(fleet.check("dev-02", user2, &other, 1_000).is_ok());
        // signed with the wrong key
        let forged = device_token("127.0.0.1", "dev-01", b"wrong", 2_000);
        assert_eq!(
            fleet
                .check("dev-01", user, &forged, 1_000)
                .unwrap_err()
                .code,
            5
        );
        // not a token
        assert_eq!(
            fleet
                .check("dev-01", user, "hunter2", 1_000)
                .unwrap_err()
                .code,
            4
        );
    }
}
