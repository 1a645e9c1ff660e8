//! The least-work yardstick of the reference rollout as a whole process (issue 20), to time
//! beside `fleetsim run examples/rollout.toml --devices N`:
//!
//! ```sh
//! cargo build --release -p fleet-bench --bin least-work
//! time ./target/release/least-work 1000000
//! ```
//!
//! Prints the counts, so that the work cannot be optimised away.

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|a| a.replace('_', "").parse().expect("least-work N"))
        .unwrap_or(1_000_000);
    let r = fleet_bench::least_work_rollout(n, 10.0, 10.0, 1);
    println!(
        "devices {n}: succeeded {} failed {} batches {} end {} ms threshold {:?}",
        r.succeeded, r.failed, r.batches, r.end_ms, r.tripped_ms
    );
}
