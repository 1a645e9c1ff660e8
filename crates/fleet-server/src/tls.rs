//! HTTPS with rustls (the ring provider): the official Azure clients speak only HTTPS.
//!
//! Give a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1). A client trusts
//! a self-signed certificate through its CA bundle (Python's `requests` honours
//! `REQUESTS_CA_BUNDLE`), and accepts `HostName=127.0.0.1:PORT` in a connection string when
//! the certificate names `127.0.0.1` as an IP address.

use std::path::Path;

use axum_server::tls_rustls::RustlsConfig;

use crate::error::{Error, ErrorKind, Result};

/// Installs ring as the process's rustls provider (once; later calls do nothing).
pub(crate) fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The rustls configuration of a certificate chain and key in PEM files.
pub(crate) async fn config(cert: &Path, key: &Path) -> Result<RustlsConfig> {
    install_provider();
    for (what, path) in [("certificate", cert), ("key", key)] {
        if !path.is_file() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("the TLS {what} {} is not a readable file", path.display()),
            ));
        }
    }
    RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
        Error::new(
            ErrorKind::Network,
            format!(
                "cannot use the TLS certificate {} and key {}: {e}",
                cert.display(),
                key.display()
            ),
        )
    })
}
