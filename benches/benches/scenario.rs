//! `fleetsim run examples/rollout.toml --devices N` without process start-up and printing:
//! load and validate the scenario file, rescale it, generate the fleet, simulate, check the
//! expectations. Targets (DESIGN.md section 9): 1,000,000 devices in at most 0.3 s on one
//! thread; 10,000,000 in at most 3 s.
//!
//! `nightly_toml`: the same for `examples/nightly-settings.toml`, a scheduled job over 30
//! nights of virtual time whose devices flap (30 runs; throughput counts device-runs).

use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fleet_scenario::{RunOptions, Scenario};

/// Loads the example at `path`, rescales it to `n` devices and runs it; its expectations must
/// hold. Returns the events processed.
fn run_example(path: &Path, n: u32) -> u64 {
    let scenario = Scenario::load(path)
        .and_then(|s| s.with_devices(std::hint::black_box(n)))
        .expect("the example is valid");
    let report = fleet_scenario::run(&scenario, RunOptions::default(), &mut |_, _| {})
        .expect("the example runs");
    assert!(
        report.passed,
        "the example's expectations hold at {n} devices"
    );
    report.result.events_processed
}

fn scenario(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/rollout.toml");
    let mut group = c.benchmark_group("rollout_toml");
    group.sample_size(10);
    for n in [10_000u32, 100_000, 1_000_000, 10_000_000] {
        if n == 10_000_000 {
            // Ten samples of a 2-3 s run: give criterion the time it needs.
            group.measurement_time(std::time::Duration::from_secs(40));
        }
        group.throughput(Throughput::Elements(u64::from(n)));
        group.bench_with_input(BenchmarkId::new("run", n), &n, |b, &n| {
            b.iter(|| run_example(&path, n))
        });
    }
    group.finish();
}

fn nightly(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/nightly-settings.toml");
    let mut group = c.benchmark_group("nightly_toml");
    group.sample_size(10);
    for n in [20_000u32, 200_000] {
        group.throughput(Throughput::Elements(u64::from(n) * 30));
        group.bench_with_input(BenchmarkId::new("run", n), &n, |b, &n| {
            b.iter(|| run_example(&path, n))
        });
    }
    group.finish();
}

criterion_group!(benches, scenario, nightly);
criterion_main!(benches);
