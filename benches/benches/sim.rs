//! The simulator on the reference rollout of DESIGN.md section 9 (batches of 10 %, log-normal
//! latency median 2 s sigma 0.5, 1 % offline timing out after 30 s, 2 % of the others failing,
//! job-wide threshold 10 %). Target: 1,000,000 devices in at most 0.3 s on one thread.
//!
//! Each iteration builds the fleet and runs the whole job (building is a few ms of it).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fleet_sim::SimBuilder;

fn sim(c: &mut Criterion) {
    let mut group = c.benchmark_group("reference_rollout");
    group.sample_size(10);
    for n in [100_000u32, 1_000_000] {
        group.throughput(Throughput::Elements(u64::from(n)));
        group.bench_with_input(BenchmarkId::new("run", n), &n, |b, &n| {
            b.iter(|| {
                let result = SimBuilder::reference_rollout(std::hint::black_box(n), 42)
                    .build()
                    .expect("the reference rollout is valid")
                    .run();
                assert_eq!(result.jobs[0].counts.total, n);
                result.events_processed
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sim);
criterion_main!(benches);
