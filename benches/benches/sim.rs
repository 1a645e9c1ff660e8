//! The simulator on the reference rollout of DESIGN.md section 9 (batches of 10 %, log-normal
//! latency median 2 s sigma 0.5, 1 % offline timing out after 30 s, 2 % of the others failing,
//! job-wide threshold 10 %). Target: 1,000,000 devices in at most 0.3 s on one thread.
//!
//! Each iteration builds the fleet and runs the whole job (building is a few ms of it).
//!
//! Measured on the project's 2-core machine (criterion median, sample size 10): 100,000
//! devices 18.2 ms; 1,000,000 devices 189 ms (178-195 ms across runs). Outside criterion, the
//! `reference` example of fleet-sim runs 10,000,000 devices in 2.3-2.4 s with a peak RSS of
//! 260 MB (26 bytes per device).

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
