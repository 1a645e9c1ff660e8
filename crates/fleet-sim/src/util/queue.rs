//! The executor's event queue: a calendar queue with one-millisecond buckets, and the binary
//! heap it was measured against.
//!
//! Public only for the benchmarks (`benches/benches/queue.rs`); not part of the stable API.
//!
//! # Choice, by benchmark
//!
//! `cargo bench -p fleet-bench --bench queue`, hold model (pop the earliest event, push one
//! 0..20 s later, so the queue size stays N), on the project's 2-core machine, median time per
//! pop+push pair:
//!
//! | pending events | [`HeapQueue`] (binary heap) | [`CalendarQueue`] |
//! |---|---|---|
//! | 100,000 | 168 ns | 26 ns |
//! | 1,000,000 | 689 ns | 29 ns |
//!
//! The heap degrades with size as expected (log n levels of cache misses); the calendar queue
//! stays flat, so the simulator uses the calendar queue.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A priority queue of events keyed by (time, insertion order): [`EventQueue::pop`] gives the
/// earliest event, and events of equal time in the order they were pushed (FIFO). A pushed
/// time must not be earlier than the last popped one (time never goes back).
pub trait EventQueue {
    /// Adds an event.
    fn push(&mut self, at_ms: i64, payload: u64);
    /// Removes the earliest event.
    fn pop(&mut self) -> Option<(i64, u64)>;
    /// Number of pending events.
    fn len(&self) -> usize;
    /// Whether no event is pending.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A binary heap of (time, sequence, payload), 24 bytes per event. O(log n) push and pop.
#[derive(Debug, Default, Clone)]
pub struct HeapQueue {
    heap: BinaryHeap<Reverse<(i64, u64, u64)>>,
    seq: u64,
}

impl HeapQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }
}

impl EventQueue for HeapQueue {
    #[inline]
    fn push(&mut self, at_ms: i64, payload: u64) {
        self.heap.push(Reverse((at_ms, self.seq, payload)));
        self.seq += 1;
    }

    #[inline]
    fn pop(&mut self) -> Option<(i64, u64)> {
        self.heap.pop().map(|Reverse((t, _, p))| (t, p))
    }

    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// Width of the calendar's window in one-millisecond buckets (2^16 ms = 65.5 s).
const WINDOW: usize = 1 << 16;
const MASK: usize = WINDOW - 1;
/// Words of the bitmap of non-empty buckets.
const WORDS: usize = WINDOW / 64;

/// A calendar queue: a ring of one-millisecond buckets covering the next 65.5 s, and a binary
/// heap for events further away.
///
/// # How it works
///
/// Virtual time is an integer number of milliseconds, so a bucket holds events of exactly one
/// time and needs no sorting: a push into the window appends the 8-byte payload to its bucket
/// (the time is implied by the bucket), which keeps FIFO order for free. A pop takes events from
/// the current bucket in order; when it is empty, a two-level bitmap of non-empty buckets finds
/// the next one (a word per 64 buckets, and a summary bit per word). Events beyond the window wait in a heap of (time,
/// sequence, payload); when the window moves forward, those now inside it move into their
/// buckets, before any event pushed later for the same time (which keeps FIFO). When the ring
/// is empty the window jumps straight to the heap's earliest event.
///
/// # Cost and trade-offs
///
/// Push and pop are O(1) amortised for events within the window (device latencies and
/// timeouts are seconds to tens of seconds); finding the next non-empty bucket reads at most
/// 17 summary words and one bitmap word, however long the empty stretch before it; events
/// further away pay the heap's O(log n) once. Memory: 8 bytes per pending event in the window
/// plus about 1.5 MB of bucket headers. A bucket's buffer, once popped, goes to a pool of
/// spare buffers, and the next bucket pushed to while it has no buffer takes one from the pool:
/// buffers follow the events instead of staying with their slot until the ring comes round,
/// so a steady state allocates nothing (a rollout's next batch fills the buffers its previous
/// batch emptied) and the memory is that of the buckets occupied at once, not of every bucket
/// ever used. Measured: the growth of fresh buckets was 62 instructions a device of the
/// reference rollout at 1,000,000 devices (callgrind), and is now a tenth of it. A jump to a
/// far event is O(1). The summary level replaced a scan of one word per 64 empty buckets,
/// which was a fifth of the nightly example's instructions (sparse events: meters that come
/// back online minutes apart).
#[derive(Debug, Clone)]
pub struct CalendarQueue {
    buckets: Vec<Vec<u64>>,
    /// One bit per bucket: non-empty.
    occupied: Vec<u64>,
    /// One bit per word of `occupied`: non-zero. The scan for the next event reads at most
    /// 17 summary words and one word of `occupied`, however far the next event is.
    summary: [u64; WORDS / 64],
    /// The time of the current bucket: the window is `[base_ms, base_ms + WINDOW)`.
    base_ms: i64,
    /// The events of `base_ms` being popped, and the position of the next one.
    current: Vec<u64>,
    current_pos: usize,
    /// Emptied buffers, handed to the next bucket pushed to while it has no capacity.
    spare: Vec<Vec<u64>>,
    /// Events in `buckets`.
    in_ring: usize,
    far: BinaryHeap<Reverse<(i64, u64, u64)>>,
    seq: u64,
}

impl Default for CalendarQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl CalendarQueue {
    /// An empty queue at time 0.
    pub fn new() -> Self {
        Self {
            buckets: vec![Vec::new(); WINDOW],
            occupied: vec![0; WORDS],
            summary: [0; WORDS / 64],
            base_ms: 0,
            current: Vec::new(),
            current_pos: 0,
            spare: Vec::new(),
            in_ring: 0,
            far: BinaryHeap::new(),
            seq: 0,
        }
    }

    #[inline]
    fn slot(at_ms: i64) -> usize {
        (at_ms as u64 as usize) & MASK
    }

    #[inline]
    fn put(&mut self, at_ms: i64, payload: u64) {
        let s = Self::slot(at_ms);
        let bucket = &mut self.buckets[s];
        if bucket.capacity() == 0 {
            if let Some(buffer) = self.spare.pop() {
                debug_assert!(buffer.is_empty());
                *bucket = buffer;
            }
        }
        bucket.push(payload);
        self.occupied[s / 64] |= 1 << (s % 64);
        self.summary[s / 4096] |= 1 << (s / 64 % 64);
        self.in_ring += 1;
    }

    /// Moves far events that are now within the window into their buckets.
    fn migrate(&mut self) {
        // `t - base_ms`, not `t >= base_ms + WINDOW`: near `i64::MAX` the sum saturates and an
        // event at `i64::MAX` would never enter the window (the pop would spin forever).
        while let Some(&Reverse((t, _, p))) = self.far.peek() {
            if t.saturating_sub(self.base_ms) >= WINDOW as i64 {
                break;
            }
            self.far.pop();
            self.put(t, p);
        }
    }

    /// Bucket `s` is empty now.
    #[inline]
    fn unmark(&mut self, s: usize) {
        let w = s / 64;
        self.occupied[w] &= !(1 << (s % 64));
        if self.occupied[w] == 0 {
            self.summary[w / 64] &= !(1 << (w % 64));
        }
    }

    /// The distance in buckets from the current one to the next non-empty bucket (1..WINDOW),
    /// if any bucket is non-empty.
    fn next_occupied(&self) -> Option<usize> {
        if self.in_ring == 0 {
            return None;
        }
        let start = Self::slot(self.base_ms);
        // From the bucket after `start`, circularly; the current bucket is empty.
        let s = self
            .first_occupied_from((start + 1) & MASK)
            .expect("in_ring > 0 but no bucket is occupied");
        debug_assert_ne!(s, start);
        Some((s + WINDOW - start) & MASK)
    }

    /// The first non-empty bucket at or after slot `pos`, circularly: the rest of `pos`'s
    /// word, then the next non-empty word by the summary (the word of `pos` itself last, for
    /// its buckets before `pos`). O(1): at most 17 summary words.
    fn first_occupied_from(&self, pos: usize) -> Option<usize> {
        let w = pos / 64;
        let bits = self.occupied[w] & (!0u64 << (pos % 64));
        if bits != 0 {
            return Some(w * 64 + bits.trailing_zeros() as usize);
        }
        let next = (w + 1) % WORDS;
        let mut mask = !0u64 << (next % 64);
        for k in 0..=self.summary.len() {
            let sw = (next / 64 + k) % self.summary.len();
            let bits = self.summary[sw] & mask;
            if bits != 0 {
                let word = sw * 64 + bits.trailing_zeros() as usize;
                debug_assert_ne!(self.occupied[word], 0, "the summary is exact");
                return Some(word * 64 + self.occupied[word].trailing_zeros() as usize);
            }
            mask = !0;
        }
        None
    }
}

impl CalendarQueue {
    /// Whether more events are pending at the time of the event popped last: those still to
    /// pop from its bucket and those pushed for that time since. O(1).
    pub fn has_more_now(&self) -> bool {
        self.current_pos < self.current.len() || !self.buckets[Self::slot(self.base_ms)].is_empty()
    }
}

impl EventQueue for CalendarQueue {
    #[inline]
    fn push(&mut self, at_ms: i64, payload: u64) {
        debug_assert!(
            at_ms >= self.base_ms,
            "time went back: {at_ms} < {}",
            self.base_ms
        );
        if at_ms < self.base_ms.saturating_add(WINDOW as i64) {
            self.put(at_ms, payload);
        } else {
            self.far.push(Reverse((at_ms, self.seq, payload)));
            self.seq += 1;
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<(i64, u64)> {
        loop {
            if let Some(&p) = self.current.get(self.current_pos) {
                self.current_pos += 1;
                return Some((self.base_ms, p));
            }
            self.current.clear();
            self.current_pos = 0;
            let s = Self::slot(self.base_ms);
            if !self.buckets[s].is_empty() {
                // Events pushed for the current time while it was being popped.
                let emptied =
                    std::mem::replace(&mut self.current, std::mem::take(&mut self.buckets[s]));
                if emptied.capacity() != 0 {
                    self.spare.push(emptied);
                }
                self.unmark(s);
                self.in_ring -= self.current.len();
                continue;
            }
            match self.next_occupied() {
                Some(k) => self.base_ms += k as i64,
                None => {
                    let &Reverse((t, _, _)) = self.far.peek()?;
                    self.base_ms = t;
                }
            }
            self.migrate();
        }
    }

    fn len(&self) -> usize {
        self.in_ring + self.far.len() + (self.current.len() - self.current_pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<Q: EventQueue>(q: &mut Q) -> Vec<(i64, u64)> {
        std::iter::from_fn(|| q.pop()).collect()
    }

    #[test]
    fn fifo_within_a_time_and_far_events() {
        for far in [0i64, 10, WINDOW as i64, 3 * WINDOW as i64 + 5] {
            let mut c = CalendarQueue::new();
            let mut h = HeapQueue::new();
            let pushes = [
                (5 + far, 1),
                (5 + far, 2),
                (3, 3),
                (5 + far, 4),
                (WINDOW as i64 * 2 + far, 5),
                (3, 6),
            ];
            for (t, p) in pushes {
                c.push(t, p);
                h.push(t, p);
            }
            assert_eq!(c.len(), 6);
            let a = drain(&mut c);
            assert_eq!(a, drain(&mut h));
            assert_eq!(a[0], (3, 3));
            assert_eq!(a[1], (3, 6));
        }
    }

    #[test]
    fn an_emptied_bucket_buffer_serves_the_next_fresh_bucket() {
        let mut c = CalendarQueue::new();
        for p in 0..1000 {
            c.push(5, p);
        }
        assert_eq!(drain(&mut c).len(), 1000);
        // The popped bucket's buffer is the queue's current one until the next bucket's
        // events take its place; then it goes to the pool.
        c.push(20, 1);
        assert_eq!(c.pop(), Some((20, 1)));
        assert_eq!(c.spare.len(), 1);
        assert!(c.spare[0].capacity() >= 1000 && c.spare[0].is_empty());
        // A push to a bucket without a buffer takes it: no allocation and no growth.
        c.push(30, 2);
        assert!(c.spare.is_empty());
        assert!(c.buckets[CalendarQueue::slot(30)].capacity() >= 1000);
        assert_eq!(drain(&mut c), [(30, 2)]);
    }

    #[test]
    fn sparse_events_across_the_window_agree_with_the_heap() {
        // Few events, far apart within the window and across it: the summary level's search
        // (the rest of a word, the next non-empty word, the wrap round the ring).
        let mut x: u64 = 99;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..50u64 {
            let mut c = CalendarQueue::new();
            let mut h = HeapQueue::new();
            let mut now = (next() % 1_000) as i64;
            c.push(now, 0);
            h.push(now, 0);
            for i in 1..200u64 {
                let a = c.pop();
                assert_eq!(a, h.pop(), "round {round}, event {i}");
                if let Some((t, _)) = a {
                    now = t;
                }
                for k in 0..(next() % 3) {
                    let dt = match next() % 5 {
                        0 => (next() % 64) as i64,
                        1 => (next() % 4_096) as i64,
                        2 => WINDOW as i64 - 1 - (next() % 64) as i64,
                        3 => (next() % WINDOW as u64) as i64,
                        _ => (next() % (3 * WINDOW as u64)) as i64,
                    };
                    c.push(now + dt, i * 4 + k);
                    h.push(now + dt, i * 4 + k);
                }
            }
            assert_eq!(drain(&mut c), drain(&mut h));
        }
    }

    #[test]
    fn events_at_the_end_of_time_pop() {
        // Saturated times: `base + WINDOW` saturates at `i64::MAX`; the pop must not spin.
        let mut c = CalendarQueue::new();
        c.push(i64::MAX, 1);
        c.push(i64::MAX - 1, 2);
        c.push(5, 3);
        c.push(i64::MAX, 4);
        assert_eq!(
            drain(&mut c),
            [(5, 3), (i64::MAX - 1, 2), (i64::MAX, 1), (i64::MAX, 4)]
        );
        c.push(i64::MAX, 5);
        assert_eq!(drain(&mut c), [(i64::MAX, 5)]);
    }

    #[test]
    fn agrees_with_the_heap_on_a_hold_model() {
        let mut c = CalendarQueue::new();
        let mut h = HeapQueue::new();
        let mut x: u64 = 12345;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..1000 {
            let t = (next() % 100_000) as i64;
            c.push(t, i);
            h.push(t, i);
        }
        for i in 1000..20_000u64 {
            let a = c.pop().unwrap();
            assert_eq!(Some(a), h.pop());
            let dt = match next() % 4 {
                0 => 0,
                1 => (next() % 10) as i64,
                2 => (next() % 100_000) as i64,
                _ => (next() % 1_000_000) as i64,
            };
            c.push(a.0 + dt, i);
            h.push(a.0 + dt, i);
            assert_eq!(c.len(), h.len());
        }
        assert_eq!(drain(&mut c), drain(&mut h));
    }
}
