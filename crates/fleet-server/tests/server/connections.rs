//! Connections that send no complete request header in time, or go idle, are closed.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// Reads until the server closes the connection; returns how long it took (panics after 5 s).
async fn closed_after(stream: &mut TcpStream, from: Instant) -> (Duration, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Err(_) => panic!("the connection is still open after 5 s"),
            Ok(Ok(0)) | Ok(Err(_)) => return (from.elapsed(), got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_header_that_does_not_arrive_in_time_closes_the_connection() {
    let s = start(
        config()
            .header_timeout(Duration::from_millis(300))
            .idle_timeout(Duration::from_secs(30)),
    )
    .await;
    let addr = s.base.trim_start_matches("http://").to_string();
    // Slowloris: part of a request line, then nothing.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    let t0 = Instant::now();
    slow.write_all(b"GET /api/jobs?api-version=2022-07-31 HT")
        .await
        .unwrap();
    let (took, _) = closed_after(&mut slow, t0).await;
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");

    // A kept-alive connection that sends nothing after its request is closed as well.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let t0 = Instant::now();
    let (took, got) = closed_after(&mut idle, t0).await;
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got[..20.min(got.len())])
    );
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");

    // The server still serves.
    assert_eq!(s.get(&format!("/api/jobs?{CV}")).await.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_with_nothing_read_or_written_for_the_idle_timeout_is_closed() {
    let s = start(
        config()
            .header_timeout(Duration::from_secs(30))
            .idle_timeout(Duration::from_millis(300)),
    )
    .await;
    let addr = s.base.trim_start_matches("http://").to_string();
    // A whole header, then a body that stops after 10 of its 100 bytes.
    let mut stalled = TcpStream::connect(&addr).await.unwrap();
    stalled
        .write_all(
            b"PUT /api/deviceGroups/g?api-version=2022-07-31 HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"display",
        )
        .await
        .unwrap();
    let t0 = Instant::now();
    let (took, _) = closed_after(&mut stalled, t0).await;
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    assert_eq!(
        s.get(&format!("/api/deviceGroups/g?{CV}")).await.status,
        404
    );
    s.stop().await;
}
