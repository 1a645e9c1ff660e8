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
/// Bits of time below a half-window: a half-window is 2^15 ms (32.8 s), the span of one
/// slot of the second level.
const HALF_BITS: u32 = 15;
const _: () = assert!(1 << (HALF_BITS + 1) == WINDOW);
/// Slots of the second level (2^12 half-windows: 37.3 hours ahead).
const SLOTS: usize = 1 << 12;

/// A calendar queue: a ring of one-millisecond buckets covering the next 65.5 s, a second
/// level of half-window slots covering the next 37 hours, and a binary heap for events further
/// away.
///
/// # How it works
///
/// Virtual time is an integer number of milliseconds, so a bucket holds events of exactly one
/// time and needs no sorting: a push into the window appends the 8-byte payload to its bucket
/// (the time is implied by the bucket), which keeps FIFO order for free. A pop takes events from
/// the current bucket in order; when it is empty, a two-level bitmap of non-empty buckets finds
/// the next one (a word per 64 buckets, and a summary bit per word).
///
/// Time is cut into half-windows of 2^15 ms. The ring takes the events of the current time's
/// half-window and the next (so never more than a window ahead, and a ring slot is never
/// shared by two times). An event further ahead, up to 4,096 half-windows, is appended as
/// (time, payload) to the second-level slot of its half-window; when the current time enters
/// a new half-window, the slot of the half-window after it moves into the ring, in push order.
/// Events past the second level wait in a heap of (time, sequence, payload) and move into the
/// second level (or the ring) as it reaches them. Every event of a time reaches the ring
/// before any later push for that time can (that push would have gone to the same level), so
/// FIFO holds across the levels. When the ring is empty the time jumps to the first non-empty
/// slot, or to the heap's earliest event.
///
/// # Cost and trade-offs
///
/// Push and pop are O(1) amortised for events within the window (device latencies and
/// timeouts are seconds to tens of seconds); finding the next non-empty bucket reads at most
/// 17 summary words and one bitmap word, however long the empty stretch before it. An event
/// minutes or hours ahead (a device timeout of 30 minutes, a meter that answers when it comes
/// back online) costs one append and one move into the ring: O(1), in order, with no
/// comparison; the heap it replaced cost O(log n) cache misses per pop (a tenth of the nightly
/// example's time at 1,000,000 meters). Only events more than 37 hours ahead pay the heap's
/// O(log n). Memory: 8 bytes per pending event in the window, 16 in the second level, plus
/// about 1.6 MB of bucket and slot headers. A bucket's (or slot's) buffer, once emptied, goes
/// to a pool of spare buffers, and the next bucket pushed to while it has no buffer takes one
/// from it: buffers follow the events instead of staying with their slot until the ring comes
/// round, so a steady state allocates nothing (a rollout's next batch fills the buffers its
/// previous batch emptied) and the memory is that of the buckets occupied at once, not of
/// every bucket ever used. Measured: the growth of fresh buckets was 62 instructions a device
/// of the reference rollout at 1,000,000 devices (callgrind), and is now a tenth of it. The
/// summary level replaced a scan of one word per 64 empty buckets, which was a fifth of the
/// nightly example's instructions (sparse events: meters that come back online minutes
/// apart).
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
    /// The last time the ring takes now: the end of the half-window after `base_ms`'s
    /// ([`Self::ring_last`]).
    ring_last_ms: i64,
    /// The events of `base_ms` being popped, and the position of the next one.
    current: Vec<u64>,
    current_pos: usize,
    /// Emptied buffers, handed to the next bucket pushed to while it has no capacity.
    spare: Vec<Vec<u64>>,
    /// Events in `buckets`.
    in_ring: usize,
    /// The second level: one slot per half-window `h` (time `>> HALF_BITS`) for
    /// `h_base + 2 <= h < h_base + SLOTS`, where `h_base` is the current time's half-window;
    /// (time, payload) in push order.
    slots: Vec<Vec<(i64, u64)>>,
    /// One bit per second-level slot: non-empty.
    slots_occupied: [u64; SLOTS / 64],
    /// Events in `slots`.
    in_slots: usize,
    /// Emptied second-level buffers, handed to the next slot pushed to while it has none.
    slots_spare: Vec<Vec<(i64, u64)>>,
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
            buckets: vec![Vec::new(); WINDOW],
            occupied: vec![0; WORDS],
            summary: [0; WORDS / 64],
            base_ms: 0,
            ring_last_ms: Self::ring_last(0),
            current: Vec::new(),
            current_pos: 0,
            spare: Vec::new(),
            in_ring: 0,
            slots: vec![Vec::new(); SLOTS],
            slots_occupied: [0; SLOTS / 64],
            in_slots: 0,
            slots_spare: Vec::new(),
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

    /// The half-window of time `t` (times are never negative: they start at 0).
    #[inline]
    fn half(t: i64) -> u64 {
        (t as u64) >> HALF_BITS
    }

    /// The last time the ring takes while the current time is in half-window `h_base`: the
    /// end of the next half-window (at most the end of time).
    fn ring_last(h_base: u64) -> i64 {
        let end = (u128::from(h_base) + 2) << HALF_BITS;
        (end - 1).min(i64::MAX as u128) as i64
    }

    /// Where an event at `at_ms` goes, seen from the current half-window `h_base`: the ring
    /// (its half-window or the next), the second level (up to `SLOTS` half-windows ahead),
    /// or the heap.
    #[inline(never)]
    fn place(&mut self, h_base: u64, at_ms: i64, payload: u64) {
        let h = Self::half(at_ms);
        if h <= h_base + 1 {
            self.put(at_ms, payload);
        } else if h - h_base < SLOTS as u64 {
            self.put_slot(h, at_ms, payload);
        } else {
            self.far.push(Reverse((at_ms, self.seq, payload)));
            self.seq += 1;
        }
    }

    /// Appends an event to the second-level slot of half-window `h`.
    fn put_slot(&mut self, h: u64, at_ms: i64, payload: u64) {
        let i = h as usize % SLOTS;
        let slot = &mut self.slots[i];
        if slot.capacity() == 0 {
            if let Some(buffer) = self.slots_spare.pop() {
                *slot = buffer;
            }
        }
        slot.push((at_ms, payload));
        self.slots_occupied[i / 64] |= 1 << (i % 64);
        self.in_slots += 1;
    }

    /// The current time moved from half-window `from` to a later one: the second-level slots
    /// now within the ring's reach go to their buckets, then the heap's events now within the
    /// second level's (or the ring's) reach. Each keeps its push order, and every event of a
    /// time moves before any later push for that time can reach the ring (such a push would
    /// have gone to the same level), which keeps FIFO.
    fn advance(&mut self, from: u64) {
        let to = Self::half(self.base_ms);
        debug_assert!(to > from);
        self.ring_last_ms = Self::ring_last(to);
        if self.in_slots != 0 {
            // The slots held half-windows `from + 2 ..= from + SLOTS - 1`.
            let last = (to + 1).min(from + SLOTS as u64 - 1);
            for h in from + 2..=last {
                self.drain_slot(h);
                if self.in_slots == 0 {
                    break;
                }
            }
        }
        while let Some(&Reverse((t, _, p))) = self.far.peek() {
            if Self::half(t) - to >= SLOTS as u64 {
                break;
            }
            self.far.pop();
            self.place(to, t, p);
        }
    }

    /// Moves the events of the second-level slot of half-window `h` into their buckets.
    fn drain_slot(&mut self, h: u64) {
        let i = h as usize % SLOTS;
        if self.slots_occupied[i / 64] & 1 << (i % 64) == 0 {
            return;
        }
        self.slots_occupied[i / 64] &= !(1 << (i % 64));
        let mut events = std::mem::take(&mut self.slots[i]);
        self.in_slots -= events.len();
        for &(t, p) in &events {
            debug_assert_eq!(Self::half(t), h);
            self.put(t, p);
        }
        events.clear();
        self.slots_spare.push(events);
    }

    /// The first half-window after `h_base + 1` with a second-level event.
    fn next_slot(&self, h_base: u64) -> Option<u64> {
        if self.in_slots == 0 {
            return None;
        }
        (h_base + 2..h_base + SLOTS as u64).find(|&h| {
            let i = h as usize % SLOTS;
            self.slots_occupied[i / 64] & 1 << (i % 64) != 0
        })
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
        debug_assert_eq!(
            at_ms <= self.ring_last_ms,
            Self::half(at_ms) <= Self::half(self.base_ms) + 1
        );
        if at_ms <= self.ring_last_ms {
            self.put(at_ms, payload);
        } else {
            self.place(Self::half(self.base_ms), at_ms, payload);
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
            let from = Self::half(self.base_ms);
            match self.next_occupied() {
                Some(k) => self.base_ms += k as i64,
                None => match self.next_slot(from) {
                    // Every event is at or after the slot's first millisecond.
                    Some(h) => self.base_ms = (h << HALF_BITS) as i64,
                    None => {
                        let &Reverse((t, _, _)) = self.far.peek()?;
                        self.base_ms = t;
                    }
                },
            }
            if Self::half(self.base_ms) != from {
                self.advance(from);
            }
        }
    }

    fn len(&self) -> usize {
        self.in_ring + self.in_slots + self.far.len() + (self.current.len() - self.current_pos)
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

    /// A delay for the levels test: at the same time, within the ring, into the second
    /// level (near its edges too), or past it.
    fn delay() -> impl proptest::strategy::Strategy<Value = i64> {
        use proptest::prelude::*;
        let half = 1i64 << HALF_BITS;
        let reach = half * SLOTS as i64;
        prop_oneof![
            Just(0i64),
            0..64i64,
            0..WINDOW as i64,
            half - 2..half + 2,
            2 * half - 2..2 * half + 2,
            0..40 * half,
            reach - 3 * half..reach + 3 * half,
            0..3 * reach,
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
