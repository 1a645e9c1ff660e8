//! `deploy/serve/Dockerfile`, the container image of `fleetsim serve`: what it declares (a
//! non-root user, the data volume, the port, a health check without curl), and its commands run
//! here as the container would run them (there is no Docker daemon on this machine): the
//! entrypoint with the image's arguments serves, and the health check's probe says healthy, then
//! unhealthy once the server is gone.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The Dockerfile's instructions of the final stage, continuation lines joined.
fn final_stage() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/serve/Dockerfile");
    let text = std::fs::read_to_string(path).unwrap();
    let joined = text.replace("\\\n", " ");
    let mut stage = Vec::new();
    for line in joined.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (op, rest) = line.split_once(' ').unwrap_or((line, ""));
        if op == "FROM" {
            stage.clear();
        }
        stage.push((op.to_string(), rest.trim().to_string()));
    }
    stage
}

fn one<'a>(stage: &'a [(String, String)], op: &str) -> &'a str {
    let found: Vec<&str> = stage
        .iter()
        .filter(|(o, _)| o == op)
        .map(|(_, r)| r.as_str())
        .collect();
    assert_eq!(found.len(), 1, "one {op} in the final stage: {found:?}");
    found[0]
}

fn exec_form(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?} is not an exec-form array: {e}"))
}

#[test]
fn the_image_declares_a_non_root_user_a_volume_a_port_and_a_curl_free_health_check() {
    let stage = final_stage();
    let user = one(&stage, "USER");
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "USER {user}"
    );
    assert_eq!(exec_form(one(&stage, "VOLUME")), ["/data"]);
    assert_eq!(one(&stage, "EXPOSE"), "8443");
    let health = one(&stage, "HEALTHCHECK");
    let probe = exec_form(health.split_once("CMD ").unwrap().1);
    assert_eq!(probe[..2], ["fleetsim", "healthcheck"]);
    assert_eq!(probe[2], "http://127.0.0.1:8443/healthz");
    assert_eq!(exec_form(one(&stage, "ENTRYPOINT")), ["fleetsim"]);
    let cmd = exec_form(one(&stage, "CMD"));
    assert_eq!(cmd[..3], ["serve", "--bind", "0.0.0.0:8443"]);
    assert!(cmd.windows(2).any(|w| w == ["--data", "/data"]), "{cmd:?}");
}

/// The image's arguments, with the address and the data directory of this test.
fn image_args(bind: &str, data: &Path) -> Vec<String> {
    let mut cmd = exec_form(one(&final_stage(), "CMD"));
    for i in 1..cmd.len() {
        match cmd[i - 1].as_str() {
            "--bind" => cmd[i] = bind.to_string(),
            "--data" => cmd[i] = data.display().to_string(),
            _ => {}
        }
    }
    cmd
}

fn healthcheck(url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(["healthcheck", url, "--timeout-s", "2"])
        .output()
        .unwrap()
}

#[test]
fn the_image_command_serves_and_its_probe_tells_healthy_from_gone() {
    let data = tempfile::tempdir().unwrap();
    // As in the image: without a credential the server refuses to listen beyond loopback.
    let refused = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(image_args("0.0.0.0:0", data.path()))
        .env_remove("FLEETSIM_CENTRAL_TOKEN")
        .env_remove("FLEETSIM_HUB_KEY")
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // With the credential in the environment, as `docker run -e` gives it.
    let mut server = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(image_args("127.0.0.1:0", data.path()))
        .env(
            "FLEETSIM_CENTRAL_TOKEN",
            "SharedAccessSignature sr=ci&sig=x&skn=ci&se=4102444800",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The banner is the first line on stderr; the log follows it (drained, so it never blocks).
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let banner = lines.next().unwrap().unwrap();
    std::thread::spawn(move || lines.for_each(drop));
    let addr = banner
        .rsplit(" at http://")
        .next()
        .unwrap()
        .trim()
        .to_string();
    let url = format!("http://{addr}/healthz");
    let started = Instant::now();
    let healthy = loop {
        let out = healthcheck(&url);
        if out.status.success() || started.elapsed() > Duration::from_secs(10) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        healthy.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    // The API itself needs the token; the probe's path does not.
    let wrong = healthcheck(&format!("http://{addr}/api/jobs"));
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("unhealthy: HTTP 401"));
    server.kill().unwrap();
    server.wait().unwrap();
    let gone = healthcheck(&url);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("unhealthy"),
        "{gone:?}"
    );
    assert!(
        data.path().join("fleetsim.db").exists(),
        "the store is in the data volume"
    );
}
