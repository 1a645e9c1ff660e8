//! `fleetsim healthcheck [URL]`: the container image's health probe (deploy/serve/Dockerfile),
//! for images without curl or wget. An `http://` URL gets a GET whose answer must be 200 (the
//! server's `/healthz` by default); an `https://` URL gets a TCP connection only (the listener
//! is up; the probe carries no TLS client). Exit 0: healthy; 1: not.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

/// The arguments of `fleetsim healthcheck`.
#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// What to probe.
    #[arg(default_value = "http://127.0.0.1:8443/healthz")]
    url: String,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    timeout_s: f64,
}

/// Runs the probe; `Err` is a malformed URL (exit 2).
pub fn execute(args: HealthcheckArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.timeout_s.is_finite() && args.timeout_s > 0.0 && args.timeout_s <= 3600.0,
        "--timeout-s {}: give a number of seconds above 0, at most 3600",
        args.timeout_s
    );
    let timeout = Duration::from_secs_f64(args.timeout_s);
    let target = Target::parse(&args.url)?;
    match probe(&target, timeout) {
        Ok(()) => {
            crate::ui::note(1, format_args!("{}: healthy", args.url));
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            eprintln!("{}: unhealthy: {why}", args.url);
            Ok(ExitCode::from(1))
        }
    }
}

/// A probe's target.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    tls: bool,
    /// `host:port`.
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let (tls, rest) = match url.split_once("://") {
            Some(("http", rest)) => (false, rest),
            Some(("https", rest)) => (true, rest),
            _ => anyhow::bail!("{url:?}: give an http:// or https:// URL"),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        anyhow::ensure!(!authority.is_empty(), "{url:?}: the URL names no host");
        let with_port = match authority.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_ok() => authority.to_string(),
            _ => format!("{authority}:{}", if tls { 443 } else { 80 }),
        };
        Ok(Self {
            tls,
            authority: with_port,
            path: path.to_string(),
        })
    }
}

fn probe(target: &Target, timeout: Duration) -> Result<(), String> {
    let addr = target
        .authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", target.authority))?
        .next()
        .ok_or_else(|| format!("{} resolves to no address", target.authority))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    if target.tls {
        return Ok(());
    }
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: fleetsim-healthcheck\r\n\r\n",
        target.path, target.authority
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| e.to_string())?;
    let line = String::from_utf8_lossy(&head[..n]);
    let status = line.split_whitespace().nth(1).unwrap_or("");
    match status {
        "200" => Ok(()),
        "" => Err("no HTTP answer".to_string()),
        other => Err(format!("HTTP {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_scheme_authority_and_path() {
        let t = Target::parse("http://127.0.0.1:8443/healthz").unwrap();
        assert_eq!(
            t,
            Target {
                tls: false,
                authority: "127.0.0.1:8443".into(),
                path: "/healthz".into()
            }
        );
        let t = Target::parse("https://localhost").unwrap();
        assert_eq!(
            (t.tls, t.authority.as_str(), t.path.as_str()),
            (true, "localhost:443", "/")
        );
        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("http:///healthz").is_err());
    }
}
