//! The simulator's event queue: calendar queue against binary heap, hold model.
//!
//! Hold model: the queue holds N pending events; each operation pops the earliest event and
//! pushes one at that time plus an increment (uniform 0..20 s, device latencies and timeouts),
//! so the queue size stays N. Reported per pop+push pair.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fleet_sim::util::queue::{CalendarQueue, EventQueue, HeapQueue};

const OPS: u64 = 200_000;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn filled<Q: EventQueue>(mut q: Q, n: u64, rng: &mut XorShift) -> Q {
    for i in 0..n {
        q.push((rng.next() % 20_000) as i64, i);
    }
    q
}

fn hold<Q: EventQueue>(q: &mut Q, rng: &mut XorShift) -> u64 {
    let mut sum = 0u64;
    for _ in 0..OPS {
        let (t, p) = q.pop().expect("the queue holds N events");
        sum = sum.wrapping_add(p);
        q.push(t + (rng.next() % 20_000) as i64, p);
    }
    sum
}

fn queue(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue_hold");
    group.sample_size(10);
    group.throughput(Throughput::Elements(OPS));
    for n in [100_000u64, 1_000_000] {
        group.bench_with_input(BenchmarkId::new("binary_heap", n), &n, |b, &n| {
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
            let mut q = filled(HeapQueue::new(), n, &mut rng);
            b.iter(|| hold(&mut q, &mut rng))
        });
        group.bench_with_input(BenchmarkId::new("calendar", n), &n, |b, &n| {
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
            let mut q = filled(CalendarQueue::new(), n, &mut rng);
            b.iter(|| hold(&mut q, &mut rng))
        });
    }
    group.finish();
}

criterion_group!(benches, queue);
criterion_main!(benches);
