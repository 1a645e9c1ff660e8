//! Runs the reference rollout (DESIGN.md section 9) and prints timings: `cargo run --release
//! -p fleet-sim --example reference -- 1000000`.

use std::time::Instant;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let t0 = Instant::now();
    let sim = fleet_sim::SimBuilder::reference_rollout(n, 42)
        .build()
        .expect("valid");
    let t1 = Instant::now();
    let heap = sim.heap_bytes();
    let result = sim.run();
    let t2 = Instant::now();
    let job = &result.jobs[0];
    println!(
        "n={n} build={:?} run={:?} events={} end_ms={} status={} counts={:?} heap={} B ({:.1} B/device) trace={}",
        t1 - t0,
        t2 - t1,
        result.events_processed,
        result.end_ms,
        job.status,
        job.counts,
        heap,
        heap as f64 / f64::from(n.max(1)),
        result.trace_hash
    );
}
