//! Authentication: IoT Hub SharedAccessSignature tokens and IoT Central API tokens.
//!
//! With no key and no token configured, every request is served (and the server listens on
//! loopback only; see [`crate::ConfigBuilder::build`]). With any configured, every API request
//! needs an `Authorization` header:
//!
//! - **IoT Hub** (`/jobs/v2/...`, `/devices/query`, `/twins/...`): `SharedAccessSignature
//!   sr=<resource>&sig=<signature>&se=<expiry>&skn=<key name>`. The signature must be
//!   base64(HMAC-SHA256(key, url-encoded resource + "\n" + expiry)) with the key named `skn`
//!   (any configured key when `skn` is absent), the expiry (seconds since the Unix epoch, wall
//!   clock) must not have passed, and the resource must name the request's host (the port may
//!   be left out) and its path or an ancestor of it, compared whole segment by whole segment
//!   after url-decoding (as IoT Hub checks it: a token for `myhub.azure-devices.net` is good
//!   for every path of that host; one for `myhub.azure-devices.net/devices/therm-0` for
//!   `/devices/therm-0` and below, not for `/devices/therm-00`).
//! - **IoT Central** (`/api/...`): the header's value, after an optional `Bearer `, must equal
//!   one of the configured API tokens (compared in constant time).
//!
//! Anything else is 401 in the API's own error shape.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::api_error::{ApiError, ApiErrorKind};

/// The configured credentials.
#[derive(Debug, Clone, Default)]
pub(crate) struct Auth {
    pub(crate) hub_keys: Vec<(String, Vec<u8>)>,
    pub(crate) central_tokens: Vec<String>,
}

fn unauthorized(m: impl Into<String>) -> ApiError {
    ApiError::new(ApiErrorKind::Unauthorized, m)
}

impl Auth {
    /// Whether requests must authenticate.
    pub(crate) fn enabled(&self) -> bool {
        !self.hub_keys.is_empty() || !self.central_tokens.is_empty()
    }

    /// Checks an IoT Hub request's `Authorization` header against `host` + `path`, at wall
    /// time `now_s` (seconds since the Unix epoch).
    pub(crate) fn check_hub(
        &self,
        header: Option<&str>,
        host: &str,
        path: &str,
        now_s: i64,
    ) -> Result<(), ApiError> {
        let header = header.ok_or_else(|| unauthorized("the Authorization header is missing"))?;
        let token = SasToken::parse(header, now_s).map_err(|e| {
            unauthorized(match e {
                SasError::NotSas => "the Authorization header is not a SharedAccessSignature",
                e => e.message(),
            })
        })?;
        let resource = token
            .resource
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        if !grants(resource, host, path) {
            return Err(unauthorized(format!(
                "the token is for {resource}, not for {host}{path}"
            )));
        }
        let keys = self
            .hub_keys
            .iter()
            .filter(|(name, _)| token.skn.is_none_or(|s| s == name))
            .map(|(_, key)| key.as_slice());
        if token
            .signed_by_any(keys)
            .map_err(|e| unauthorized(e.message()))?
        {
            return Ok(());
        }
        Err(unauthorized("the token's signature does not match any key"))
    }

    /// Checks an IoT Central request's `Authorization` header.
    pub(crate) fn check_central(&self, header: Option<&str>) -> Result<(), ApiError> {
        let header = header.ok_or_else(|| unauthorized("the Authorization header is missing"))?;
        let token = header.trim();
        let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
        let ok = self
            .central_tokens
            .iter()
            .any(|t| t.as_bytes().ct_eq(token.as_bytes()).into());
        if ok {
            Ok(())
        } else {
            Err(unauthorized(
                "the API token is not valid for this application",
            ))
        }
    }
}

/// Whether a token's resource (url-decoded, without its scheme) grants the request to `host`
/// and `path`: its host is the request's (with or without the port), and its path, compared
/// whole segment by whole segment after url-decoding both, is the request's path or one of
/// its ancestors. `host/devices/therm-0` grants `/devices/therm-0` and `/devices/therm-0/...`,
/// not `/devices/therm-00`. Case is ignored, as are trailing slashes.
fn grants(resource: &str, host: &str, path: &str) -> bool {
    let resource = resource.to_lowercase();
    let resource = resource.trim_end_matches('/');
    let (r_host, r_path) = resource.split_once('/').unwrap_or((resource, ""));
    let host = host.to_lowercase();
    let bare_host = match host.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host.as_str(),
    };
    if r_host != host && r_host != bare_host {
        return false;
    }
    let path = percent_decode_str(path).decode_utf8_lossy().to_lowercase();
    let mut wanted = path.split('/').filter(|s| !s.is_empty());
    r_path
        .split('/')
        .filter(|s| !s.is_empty())
        .all(|segment| wanted.next() == Some(segment))
}

/// Python's `quote_plus` keeps these unescaped.
const QUOTE_PLUS: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// JavaScript's `encodeURIComponent` keeps these unescaped too.
const URI_COMPONENT: &AsciiSet = &QUOTE_PLUS
    .remove(b'!')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// A SharedAccessSignature token (`SharedAccessSignature sr=...&sig=...&se=...[&skn=...]`),
/// parsed and checked for form and expiry; HTTP requests and MQTT logins read it alike.
pub(crate) struct SasToken<'a> {
    /// The resource as written (percent-encoded or not).
    pub(crate) sr: &'a str,
    /// The resource decoded and lower-cased.
    pub(crate) resource: String,
    /// The key name, if given.
    pub(crate) skn: Option<&'a str>,
    sig: &'a str,
    expiry: i64,
}

/// Why a text is not a usable SharedAccessSignature token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SasError {
    /// Not of the form `SharedAccessSignature ...`.
    NotSas,
    /// `sr`, `sig` or `se` missing.
    Missing,
    /// `se` not a number.
    BadExpiry,
    /// `se` is not after now.
    Expired,
    /// `sig` not base64.
    BadSignature,
}

impl SasError {
    /// What to tell the client (for [`SasError::NotSas`], the caller says what it read).
    pub(crate) fn message(self) -> &'static str {
        match self {
            SasError::NotSas => "the text is not a SharedAccessSignature token",
            SasError::Missing => "the token needs sr, sig and se",
            SasError::BadExpiry => "the token's se is not a number",
            SasError::Expired => "the token has expired",
            SasError::BadSignature => "the token's sig is not base64",
        }
    }
}

impl<'a> SasToken<'a> {
    /// Parses `text` and checks that it has not expired at `now_s` (Unix seconds).
    pub(crate) fn parse(text: &'a str, now_s: i64) -> Result<Self, SasError> {
        let fields = text
            .trim()
            .strip_prefix("SharedAccessSignature ")
            .ok_or(SasError::NotSas)?;
        let (mut sr, mut sig, mut se, mut skn) = (None, None, None, None);
        for pair in fields.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k.trim() {
                "sr" => sr = Some(v),
                "sig" => sig = Some(v),
                "se" => se = Some(v),
                "skn" => skn = Some(v),
                _ => {}
            }
        }
        let (Some(sr), Some(sig), Some(se)) = (sr, sig, se) else {
            return Err(SasError::Missing);
        };
        let expiry: i64 = se.parse().map_err(|_| SasError::BadExpiry)?;
        if expiry <= now_s {
            return Err(SasError::Expired);
        }
        Ok(Self {
            sr,
            resource: percent_decode_str(sr).decode_utf8_lossy().to_lowercase(),
            skn,
            sig,
            expiry,
        })
    }

    /// Whether one of `keys` signed the token (its resource in any of the encodings clients
    /// use), compared in constant time; refused if the signature is not base64.
    pub(crate) fn signed_by_any<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) -> Result<bool, SasError> {
        let given = STANDARD
            .decode(percent_decode_str(self.sig).decode_utf8_lossy().as_bytes())
            .map_err(|_| SasError::BadSignature)?;
        let encoded = encodings(self.sr);
        Ok(keys.into_iter().any(|key| {
            encoded
                .iter()
                .any(|e| sign(key, e, self.expiry).ct_eq(&given).into())
        }))
    }
}

/// The url-encoded spellings of a token's resource that the official clients sign: the
/// resource as sent, and encoded the way Python (`quote_plus`) and JavaScript
/// (`encodeURIComponent`) encode it, as given and in lower case.
pub(crate) fn encodings(sr: &str) -> Vec<String> {
    let decoded = percent_decode_str(sr).decode_utf8_lossy().into_owned();
    let lower = decoded.to_lowercase();
    let mut out = vec![sr.to_string()];
    for d in [&decoded, &lower] {
        for set in [QUOTE_PLUS, URI_COMPONENT] {
            let e = utf8_percent_encode(d, set).to_string();
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
}

/// HMAC-SHA256 with `key` of `encoded_resource + "\n" + expiry`.
pub(crate) fn sign(key: &[u8], encoded_resource: &str, expiry: i64) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{encoded_resource}\n{expiry}").as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, QUOTE_PLUS).to_string()
}

/// A SharedAccessSignature token for `resource`, valid until `expiry` (seconds since the Unix
/// epoch), signed with `key` named `key_name`: what the official clients send.
pub fn sas_token(resource: &str, key: &[u8], key_name: &str, expiry: i64) -> String {
    let sr = encode(resource);
    let sig = STANDARD.encode(sign(key, &sr, expiry));
    format!(
        "SharedAccessSignature sr={sr}&sig={}&se={expiry}&skn={key_name}",
        encode(&sig)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth {
            hub_keys: vec![("iothubowner".into(), b"secret-key-bytes".to_vec())],
            central_tokens: vec!["SharedAccessSignature sr=a&sig=b&skn=c&se=1".into()],
        }
    }

    #[test]
    fn hub_tokens() {
        let a = auth();
        let t = sas_token("127.0.0.1:8443", b"secret-key-bytes", "iothubowner", 2_000);
        assert!(a
            .check_hub(Some(&t), "127.0.0.1:8443", "/jobs/v2/x", 1_000)
            .is_ok());
        // expired
        assert!(a
            .check_hub(Some(&t), "127.0.0.1:8443", "/jobs/v2/x", 2_000)
            .is_err());
        // another host
        assert!(a
            .check_hub(Some(&t), "127.0.0.1:9999", "/jobs/v2/x", 1_000)
            .is_err());
        // wrong key
        let t = sas_token("127.0.0.1:8443", b"other", "iothubowner", 2_000);
        assert!(a
            .check_hub(Some(&t), "127.0.0.1:8443", "/jobs/v2/x", 1_000)
            .is_err());
        assert!(a.check_hub(None, "h", "/", 0).is_err());
        assert!(a.check_hub(Some("Bearer x"), "h", "/", 0).is_err());
    }

    #[test]
    fn resources_grant_whole_segments() {
        let host = "myhub.azure-devices.net";
        // The hub: every path of the host (with or without the port).
        assert!(grants(host, host, "/jobs/v2/x"));
        assert!(grants(host, "myhub.azure-devices.net:443", "/jobs/v2/x"));
        assert!(!grants(host, "myhub.azure-devices.net.evil", "/jobs/v2/x"));
        assert!(!grants(
            "myhub.azure-devices.net:44",
            "myhub.azure-devices.net:443",
            "/"
        ));
        // A device: the device and its sub-paths, not a device whose id starts the same.
        let sr = "myhub.azure-devices.net/devices/therm-0";
        assert!(grants(sr, host, "/devices/therm-0"));
        assert!(grants(sr, host, "/devices/therm-0/"));
        assert!(grants(sr, host, "/devices/therm-0/methods"));
        assert!(grants(&format!("{sr}/"), host, "/devices/therm-0/methods"));
        assert!(!grants(sr, host, "/devices/therm-00"));
        assert!(!grants(sr, host, "/devices/therm-00/methods"));
        assert!(!grants(sr, host, "/devices"));
        assert!(!grants(sr, host, "/twins/therm-0"));
        // Url-decoded, case ignored.
        assert!(grants(sr, host, "/devices/therm%2D0/methods"));
        assert!(grants(
            "MyHub.azure-devices.net/Devices/Therm-0",
            host,
            "/devices/therm-0"
        ));
    }

    #[test]
    fn device_scoped_tokens_are_checked_by_segment() {
        let a = auth();
        let host = "127.0.0.1:8443";
        let t = sas_token(
            "127.0.0.1:8443/twins/therm-0",
            b"secret-key-bytes",
            "iothubowner",
            2_000,
        );
        assert!(a.check_hub(Some(&t), host, "/twins/therm-0", 1_000).is_ok());
        assert!(a
            .check_hub(Some(&t), host, "/twins/therm-00", 1_000)
            .is_err());
        assert!(a.check_hub(Some(&t), host, "/jobs/v2/x", 1_000).is_err());
        // Signed url-encoded (quote_plus): decoded before the comparison.
        let t = sas_token(
            "127.0.0.1:8443/twins/therm 0",
            b"secret-key-bytes",
            "iothubowner",
            2_000,
        );
        assert!(a
            .check_hub(Some(&t), host, "/twins/therm%200", 1_000)
            .is_ok());
        assert!(a
            .check_hub(Some(&t), host, "/twins/therm%2000", 1_000)
            .is_err());
        // A host that only starts like the token's is refused too.
        let t = sas_token("127.0.0.1:8443", b"secret-key-bytes", "iothubowner", 2_000);
        assert!(a
            .check_hub(Some(&t), "127.0.0.1:84430", "/jobs/v2/x", 1_000)
            .is_err());
    }

    #[test]
    fn central_tokens() {
        let a = auth();
        assert!(a
            .check_central(Some("SharedAccessSignature sr=a&sig=b&skn=c&se=1"))
            .is_ok());
        assert!(a.check_central(Some("SharedAccessSignature sr=a")).is_err());
        assert!(a.check_central(None).is_err());
    }
}
