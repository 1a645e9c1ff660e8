//! The design floor of the reference rollout as a whole process (issue 20, eighth round): the
//! least-work yardstick with DESIGN.md's obligations (keyed streams, every event in time order
//! into a trace hash, per-device results; `fleet_bench::design_floor_rollout`), to time beside
//! `least-work` and `fleetsim run examples/rollout.toml --devices N`:
//!
//! ```sh
//! cargo build --release -p fleet-bench --bin design-floor
//! time ./target/release/design-floor 1000000
//! ```
//!
//! Prints the counts and the trace hash, so that the work cannot be optimised away.

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|a| a.replace('_', "").parse().expect("design-floor N"))
        .unwrap_or(1_000_000);
    let r = fleet_bench::design_floor_rollout(n, 10.0, 10.0, 1);
    let c = r.counts;
    println!(
        "devices {n}: succeeded {} failed {} batches {} end {} ms threshold {:?} trace {:016x} samples {} reported {} first tag {}",
        c.succeeded, c.failed, c.batches, c.end_ms, c.tripped_ms, r.trace, r.samples, r.reported, r.first_tag
    );
}
