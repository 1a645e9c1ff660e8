//! The engine alone: a JobRun over N devices with synthetic outcomes (no simulator).
//! Target (issue 2): at most 50 ns per device at N = 1,000,000.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fleet_bench::drive_engine;

fn engine(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    group.sample_size(20);
    for n in [10_000u32, 100_000, 1_000_000] {
        group.throughput(Throughput::Elements(u64::from(n)));
        group.bench_with_input(BenchmarkId::new("drive", n), &n, |b, &n| {
            b.iter(|| drive_engine(std::hint::black_box(n)))
        });
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
