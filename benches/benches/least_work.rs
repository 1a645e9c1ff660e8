//! The least-work yardstick of the reference rollout (issue 20; see `fleet_bench::least_work`):
//! per device one uniform draw for "offline", one log-normal latency and one uniform draw for
//! "fails", no event queue, a batch ends at its latest answer, and only failure times are
//! sorted to find the threshold instant. fleetsim's reference rollout (`--bench sim`,
//! `--bench scenario`) is measured against it: the goal is within 3x.
//!
//! Beside it, the design floor (`fleet_bench::design_floor_rollout`): the same rollout with
//! DESIGN.md's obligations added in their cheapest form (keyed streams, every event in time
//! order into a trace hash, per-device results), no engine and no event queue.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fleet_bench::{design_floor_rollout, least_work_rollout};

fn least_work(c: &mut Criterion) {
    let mut group = c.benchmark_group("least_work");
    group.sample_size(10);
    for n in [100_000u32, 1_000_000, 10_000_000] {
        group.throughput(Throughput::Elements(u64::from(n)));
        group.bench_with_input(BenchmarkId::new("rollout", n), &n, |b, &n| {
            b.iter(|| least_work_rollout(std::hint::black_box(n), 10.0, 10.0, 42))
        });
        group.bench_with_input(BenchmarkId::new("design_floor", n), &n, |b, &n| {
            b.iter(|| design_floor_rollout(std::hint::black_box(n), 10.0, 10.0, 42))
        });
    }
    group.finish();
}

criterion_group!(benches, least_work);
criterion_main!(benches);
