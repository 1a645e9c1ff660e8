//! The executor's event queue: a calendar queue (a timing wheel of one-millisecond buckets and
//! two levels of slots above them), and the binary heap it was measured against.
//!
//! Public only for the benchmarks (`benches/benches/queue.rs`); not part of the stable API.
//!
//! # Choice, by benchmark
//!
//! `cargo bench -p fleet-bench --bench queue`, hold model (pop the earliest event, push one
//! 0..20 s later, so the queue size stays N), median time per pop+push pair. First measured
//! on the project's 2-core machine of the time:
//!
//! | pending events | [`HeapQueue`] (binary heap) | [`CalendarQueue`] |
//! |---|---|---|
//! | 100,000 | 168 ns | 26 ns |
//! | 1,000,000 | 689 ns | 29 ns |
//!
//! The heap degrades with size as expected (log n levels of cache misses); the calendar queue
//! stays flat, so the simulator uses the calendar queue. Its timing wheel (issue 20, fourth
//! round) against the ring of 65,536 one-millisecond buckets it replaced, in one sitting on
//! the 2-core AMD EPYC machine of 2026-12-05:
//!
//! | pending events | binary heap | ring of 65,536 buckets | timing wheel |
//! |---|---|---|---|
//! | 100,000 | 129 ns | 15.5 ns | 10.4 ns |
//! | 1,000,000 | 603 ns | 18.0 ns | 9.7 ns |

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

/// Bits of time below a ring unit: the ring holds the events of the current 64 ms and the
/// next (128 one-millisecond buckets).
const RING_UNIT_BITS: u32 = 6;
const RING: usize = 2 << RING_UNIT_BITS;
const _: () = assert!(RING >= 64, "the ring's bitmap is whole words");
/// Bits of time below a unit of each level above the ring: the first level holds, in slots of
/// one ring unit (64 ms), the events up to the end of the next 2^15 ms (32.8 s); the second,
/// in slots of 32.8 s, those up to the end of the next 2^26 ms (18.6 hours). Each level has
/// two of its units of slots: 1,024 and 4,096.
const LEVEL_UNIT_BITS: [u32; 2] = [15, 26];

/// The bits of time below a unit of level `k` (0: the ring).
#[inline(always)]
fn unit_bits(k: usize) -> u32 {
    match k {
        0 => RING_UNIT_BITS,
        _ => LEVEL_UNIT_BITS[k - 1],
    }
}

/// The unit of time (its number) of level `k` (0: the ring) that `t` falls in. Times are
/// never negative: they start at 0.
#[inline(always)]
fn unit(k: usize, t: i64) -> u64 {
    (t as u64) >> unit_bits(k)
}

/// The last time level `k` (0: the ring) takes while the current time is in its unit `u`: the
/// end of the next unit (at most the end of time).
#[inline]
fn last_of(k: usize, u: u64) -> i64 {
    // `u <= 2^(63 - bits)`: no overflow.
    (((u + 2) << unit_bits(k)) - 1).min(i64::MAX as u64) as i64
}

/// The largest buffer a pool keeps (64 KB): a larger one (a batch's timeouts, all due in the
/// same millisecond) is freed when emptied. A buffer reused by a smaller slot keeps its
/// capacity, so without a bound the pools would, run after run, fill with buffers each as
/// large as the largest slot ever.
const POOLED_BYTES_MAX: usize = 64 << 10;

/// Whether an emptied buffer goes back to its pool.
#[inline]
fn pooled<T>(buffer: &Vec<T>) -> bool {
    buffer.capacity() * std::mem::size_of::<T>() <= POOLED_BYTES_MAX
}

/// One level of the wheel above the ring: slots of one unit of the level below, as
/// (time, payload) in push order, with a bitmap of the non-empty ones.
#[derive(Debug, Clone)]
struct Level {
    /// The bits of time below a unit of the level below: a slot's span.
    below_bits: u32,
    /// The number of slots less one (a power of two less one).
    mask: u64,
    slots: Vec<Vec<(i64, u64)>>,
    occupied: Vec<u64>,
    len: usize,
    /// Emptied buffers, handed to the next slot pushed to while it has none.
    spare: Vec<Vec<(i64, u64)>>,
}

impl Level {
    /// Level `k` (1 or 2): two of its units in slots of one unit of level `k - 1`.
    fn new(k: usize) -> Self {
        let below = unit_bits(k - 1);
        let n = 2 << (unit_bits(k) - below);
        Self {
            below_bits: below,
            mask: n as u64 - 1,
            slots: vec![Vec::new(); n],
            occupied: vec![0; n / 64],
            len: 0,
            spare: Vec::new(),
        }
    }

    /// Appends an event to the slot of its time's unit of the level below.
    #[inline(always)]
    fn push(&mut self, at_ms: i64, payload: u64) {
        let i = ((at_ms as u64 >> self.below_bits) & self.mask) as usize;
        let slot = &mut self.slots[i];
        if slot.capacity() == 0 {
            if let Some(buffer) = self.spare.pop() {
                *slot = buffer;
            }
        }
        slot.push((at_ms, payload));
        self.occupied[i / 64] |= 1 << (i % 64);
        self.len += 1;
    }

    /// Takes the events of slot `i` (in push order); the caller hands the buffer back with
    /// [`Level::recycle`].
    fn take(&mut self, i: usize) -> Vec<(i64, u64)> {
        self.occupied[i / 64] &= !(1 << (i % 64));
        let events = std::mem::take(&mut self.slots[i]);
        self.len -= events.len();
        events
    }

    /// Hands an emptied buffer to the pool, unless it is larger than [`POOLED_BYTES_MAX`].
    fn recycle(&mut self, mut buffer: Vec<(i64, u64)>) {
        if pooled(&buffer) {
            buffer.clear();
            self.spare.push(buffer);
        }
    }

    /// The first unit in `u..end` whose slot is occupied (`end - u` at most the number of
    /// slots). Reads a bitmap word per 64 slots.
    fn next_from(&self, mut u: u64, end: u64) -> Option<u64> {
        debug_assert!(end <= u + self.slots.len() as u64);
        while u < end {
            let i = (u & self.mask) as usize;
            let bits = self.occupied[i / 64] >> (i % 64);
            if bits != 0 {
                let found = u + u64::from(bits.trailing_zeros());
                return (found < end).then_some(found);
            }
            // The start of the next word (which wraps round with the slots: a multiple of 64).
            u += 64 - (i % 64) as u64;
        }
        None
    }

    /// The first occupied slot's unit while the current unit of the level below is `from`
    /// (the level holds units `from + 2 ..= from + n - 1`).
    fn first(&self, from: u64) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        self.next_from(from + 2, from + self.slots.len() as u64)
    }
}

/// A calendar queue: a hierarchical timing wheel of a ring of 128 one-millisecond buckets,
/// two levels of slots above it (the next 65.5 s in slots of 64 ms, the next 37 hours in
/// slots of 32.8 s), and a binary heap for events further away.
///
/// # How it works
///
/// Virtual time is an integer number of milliseconds, so a bucket holds events of exactly one
/// time and needs no sorting: a push into the ring appends the 8-byte payload to its bucket
/// (the time is implied by the bucket), which keeps FIFO order for free. A pop takes events
/// from the current bucket in order; when it is empty, the ring's two bitmap words find the
/// next one.
///
/// Time is cut into units at each level: 64 ms for the ring, 32.8 s for the first level,
/// 18.6 hours for the second. A level takes an event if the event's time is in the current
/// time's unit of that level or the next, and no lower level takes it; so the ring holds at
/// most 128 ms of events and a ring bucket is never shared by two times. A level above the
/// ring appends (time, payload) to the slot of the event's unit of the level below. When the
/// current time enters a new unit of a level, the slots of the level above that this releases
/// move down, in push order, each event to the level that takes it now; the heap's events
/// move down as the second level reaches them. Every event of a time is in the one level that
/// takes that time now (it moved down the moment that changed, before any later push), and
/// moves keep push order, so FIFO holds across the levels. When the ring is empty the time
/// jumps to the start of the first occupied slot, or to the heap's earliest event.
///
/// # Cost and trade-offs
///
/// A push is one comparison and one append, an event seconds ahead (a device's answer) moves
/// once from the first level into the ring, one minutes to hours ahead (a device timeout of
/// 30 minutes, a meter that answers when it comes back online) twice; only events more than
/// 37 hours ahead pay the heap's O(log n). The ring and the slots being filled are few (a
/// batch's answers spread over 20 s fill about 300 slots of 64 ms), so the appends stay in
/// the cache: a ring of 65,536 one-millisecond buckets, measured before, took a cache miss
/// at every push and every pop of a batch of a million answers (a tenth of the time at
/// 10,000,000 devices), and a binary heap for events past it took O(log n) cache misses per
/// pop (a tenth of the nightly example's time at 1,000,000 meters). The price is the moves:
/// a few instructions per event per level. Memory: 8 bytes per pending event in the ring and
/// 16 in the levels, plus about 125 KB of slot headers. An emptied buffer goes to its level's
/// pool of spare buffers, and the next slot pushed to while it has none takes one from it:
/// buffers follow the events, so a steady state allocates nothing (a rollout's next batch
/// fills the buffers its previous batch emptied) and the memory is that of the slots occupied
/// at once. A pool keeps buffers of up to 64 KB ([`POOLED_BYTES_MAX`]): the rollout at
/// 10,000,000 devices peaks at 175 MB with the bound and at 225 MB without it.
#[derive(Debug, Clone)]
pub struct CalendarQueue {
    buckets: Vec<Vec<u64>>,
    /// One bit per bucket: non-empty.
    occupied: [u64; RING / 64],
    /// The time of the current bucket.
    base_ms: i64,
    /// The last time the ring takes now ([`last_of`] of the current ring unit).
    ring_last_ms: i64,
    /// The last time the first level takes now.
    first_last_ms: i64,
    /// The events of `base_ms` being popped, and the position of the next one.
    current: Vec<u64>,
    current_pos: usize,
    /// Emptied bucket buffers, handed to the next bucket pushed to while it has none.
    spare: Vec<Vec<u64>>,
    /// Events in `buckets`.
    in_ring: usize,
    levels: [Level; 2],
    /// Events past the second level: (time, sequence, payload).
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
            buckets: vec![Vec::new(); RING],
            occupied: [0; RING / 64],
            base_ms: 0,
            ring_last_ms: last_of(0, 0),
            first_last_ms: last_of(1, 0),
            current: Vec::new(),
            current_pos: 0,
            spare: Vec::new(),
            in_ring: 0,
            levels: [Level::new(1), Level::new(2)],
            far: BinaryHeap::new(),
            seq: 0,
        }
    }

    #[inline]
    fn slot(at_ms: i64) -> usize {
        (at_ms as u64 as usize) & (RING - 1)
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
        self.in_ring += 1;
    }

    /// The level that takes an event at `at_ms` now: 0 the ring, 1 and 2 the levels, 3 the
    /// heap.
    fn level_for(&self, at_ms: i64) -> usize {
        (0..3)
            .find(|&k| unit(k, at_ms) <= unit(k, self.base_ms) + 1)
            .unwrap_or(3)
    }

    /// Puts an event where it belongs now.
    #[inline(always)]
    fn place(&mut self, at_ms: i64, payload: u64) {
        debug_assert_eq!(at_ms <= self.ring_last_ms, self.level_for(at_ms) == 0);
        if at_ms <= self.ring_last_ms {
            self.put(at_ms, payload);
        } else if at_ms <= self.first_last_ms {
            debug_assert_eq!(self.level_for(at_ms), 1);
            self.levels[0].push(at_ms, payload);
        } else {
            self.place_far(at_ms, payload);
        }
    }

    /// [`Self::place`] past the first level: the second level or the heap.
    #[inline(never)]
    fn place_far(&mut self, at_ms: i64, payload: u64) {
        debug_assert!(self.level_for(at_ms) >= 2);
        if unit(2, at_ms) <= unit(2, self.base_ms) + 1 {
            self.levels[1].push(at_ms, payload);
        } else {
            self.far.push(Reverse((at_ms, self.seq, payload)));
            self.seq += 1;
        }
    }

    /// The current time moved from `from_ms` on: the events that a lower level takes now move
    /// there, in push order (level by level, slot by slot; the events of one time share a
    /// slot).
    fn advance(&mut self, from_ms: i64) {
        self.ring_last_ms = last_of(0, unit(0, self.base_ms));
        if unit(1, self.base_ms) != unit(1, from_ms) {
            self.first_last_ms = last_of(1, unit(1, self.base_ms));
        }
        for k in 0..2 {
            let (from, to) = (unit(k, from_ms), unit(k, self.base_ms));
            if to != from && self.levels[k].len != 0 {
                self.release(k, from, to);
            }
        }
        if !self.far.is_empty() {
            self.release_far();
        }
    }

    /// Moves down the events of the slots of level `k + 1` that the move of level `k`'s
    /// current unit from `from` to `to` released.
    fn release(&mut self, k: usize, from: u64, to: u64) {
        // The level held the units `from + 2 ..= from + n - 1` of level `k`; those up to
        // `to + 1` are released.
        let n = self.levels[k].mask + 1;
        let end = (to + 2).min(from + n);
        let mut u = from + 2;
        while let Some(found) = self.levels[k].next_from(u, end) {
            let events = self.levels[k].take((found & (n - 1)) as usize);
            if k == 0 {
                // A released slot of the first level goes to the ring.
                for &(t, p) in &events {
                    debug_assert_eq!(self.level_for(t), 0);
                    self.put(t, p);
                }
            } else {
                for &(t, p) in &events {
                    debug_assert!(self.level_for(t) <= k);
                    self.place(t, p);
                }
            }
            self.levels[k].recycle(events);
            if self.levels[k].len == 0 {
                break;
            }
            u = found + 1;
        }
    }

    /// Moves down the heap's events that the second level (or a lower one) takes now.
    fn release_far(&mut self) {
        let top = unit(2, self.base_ms);
        while let Some(&Reverse((t, _, p))) = self.far.peek() {
            if unit(2, t) > top + 1 {
                break;
            }
            self.far.pop();
            self.place(t, p);
        }
    }

    /// Bucket `s` is empty now.
    #[inline]
    fn unmark(&mut self, s: usize) {
        self.occupied[s / 64] &= !(1 << (s % 64));
    }

    /// The distance in buckets from the current one to the next non-empty bucket of the ring
    /// (1..RING), if any.
    fn next_occupied(&self) -> Option<usize> {
        if self.in_ring == 0 {
            return None;
        }
        let start = Self::slot(self.base_ms);
        let next = (start + 1) % RING;
        // The ring's bits from `next` on, circularly: the rest of `next`'s word, the other
        // words, then the start of `next`'s word.
        const WORDS: usize = RING / 64;
        let (w, b) = (next / 64, next % 64);
        let s = if self.occupied[w] >> b != 0 {
            next + (self.occupied[w] >> b).trailing_zeros() as usize
        } else {
            (1..=WORDS)
                .map(|k| (w + k) % WORDS)
                .find(|&v| self.occupied[v] != 0)
                .map(|v| v * 64 + self.occupied[v].trailing_zeros() as usize)
                .expect("in_ring > 0 but no bucket is occupied")
        };
        debug_assert_ne!(s, start);
        Some((s + RING - start) % RING)
    }

    /// The earliest time any event can have when the ring is empty: the start of the first
    /// occupied slot of the lowest non-empty level, or the heap's earliest event.
    fn next_base(&self) -> Option<i64> {
        for (k, level) in self.levels.iter().enumerate() {
            if let Some(u) = level.first(unit(k, self.base_ms)) {
                return Some((u << unit_bits(k)) as i64);
            }
        }
        self.far.peek().map(|&Reverse((t, _, _))| t)
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
        self.place(at_ms, payload);
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
                if emptied.capacity() != 0 && pooled(&emptied) {
                    self.spare.push(emptied);
                }
                self.unmark(s);
                self.in_ring -= self.current.len();
                continue;
            }
            let from_ms = self.base_ms;
            match self.next_occupied() {
                Some(k) => self.base_ms += k as i64,
                None => self.base_ms = self.next_base()?,
            }
            debug_assert!(self.base_ms > from_ms);
            if unit(0, self.base_ms) != unit(0, from_ms) {
                self.advance(from_ms);
            }
        }
    }

    fn len(&self) -> usize {
        self.in_ring
            + self.levels[0].len
            + self.levels[1].len
            + self.far.len()
            + (self.current.len() - self.current_pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 65.5 s: a span of delays for the tests (the first level's reach).
    const WINDOW: usize = 1 << 16;

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
    fn a_buffer_past_the_bound_is_freed_not_pooled() {
        let mut c = CalendarQueue::new();
        // 20,000 events of one time: a 256 KB bucket buffer, past the 64 KB bound.
        for p in 0..20_000 {
            c.push(5, p);
        }
        assert_eq!(c.pop(), Some((5, 0)));
        c.push(20, 1);
        assert_eq!(drain(&mut c).len(), 20_000);
        assert!(c.spare.iter().all(pooled), "no buffer past the bound");
        assert!(c.spare.iter().all(|b| b.capacity() < 20_000));
        // The same through a level: 20,000 events of one time 10 s ahead.
        for p in 0..20_000 {
            c.push(10_000, p);
        }
        assert_eq!(drain(&mut c).len(), 20_000);
        assert!(c.levels[0].spare.iter().all(|b| b.capacity() < 20_000));
        assert!(c.spare.iter().all(|b| b.capacity() < 20_000));
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

    /// A delay for the levels test: at the same time, within the ring, into the second
    /// level (near its edges too), or past it.
    fn delay() -> impl proptest::strategy::Strategy<Value = i64> {
        use proptest::prelude::*;
        let unit = |k: usize| 1i64 << unit_bits(k);
        let edge = move |k: usize, m: i64| m * unit(k) - 3..m * unit(k) + 3;
        prop_oneof![
            Just(0i64),
            0..64i64,
            edge(0, 1),
            edge(0, 2),
            0..WINDOW as i64,
            edge(1, 1),
            edge(1, 2),
            0..40 * unit(1),
            edge(2, 1),
            edge(2, 2),
            0..5 * unit(2),
        ]
    }

    proptest::proptest! {
        /// Pushes and pops interleaved, with delays across every level (ring, second level,
        /// heap) and their boundaries: the calendar gives the heap's order, time and FIFO,
        /// and the same length at every step.
        #[test]
        fn every_level_agrees_with_the_heap(
            steps in proptest::collection::vec(
                (0..4usize, proptest::collection::vec(delay(), 0..4)),
                1..300,
            ),
        ) {
            let mut c = CalendarQueue::new();
            let mut h = HeapQueue::new();
            let mut now = 0i64;
            let mut payload = 0u64;
            for (pops, delays) in steps {
                for dt in delays {
                    c.push(now + dt, payload);
                    h.push(now + dt, payload);
                    payload += 1;
                }
                for _ in 0..pops {
                    let a = c.pop();
                    proptest::prop_assert_eq!(a, h.pop());
                    if let Some((t, _)) = a {
                        now = t;
                    }
                }
                proptest::prop_assert_eq!(c.len(), h.len());
            }
            proptest::prop_assert_eq!(drain(&mut c), drain(&mut h));
        }
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
