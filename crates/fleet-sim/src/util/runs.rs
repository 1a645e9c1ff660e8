//! A batch's events as sorted runs beside the event queue (issue 20, eighth round).
//!
//! A batch's dispatch ([`crate::RunExec`]'s range of first dispatches) pushes one answer or
//! time-out per device, all at once. Pushed one by one into the [`CalendarQueue`], each event
//! costs an append, a move from the wheel's first level into its ring, and a pop, with the
//! event loop's bookkeeping for each. [`Runs`] takes such a burst instead: it sorts the events by
//! time (stable: a counting sort on the millisecond), keeps them as one *run*, and puts into
//! the queue one *marker* per distinct time. When the queue pops a marker, the run's events of
//! that time come out one by one, in the order they were pushed, before anything else.
//!
//! # Why the order is exact
//!
//! The queue orders events by (time, push order). Every event of a run was pushed in one burst,
//! with no other push in between, so at any time `t` the run's events of `t` form one block
//! in push order: after every event of `t` pushed before the burst, and before every event of
//! `t` pushed after it. The marker of `t` is pushed at the end of the burst, so the queue pops
//! it exactly where the block's first event would have been; the block is then taken in push
//! order before the queue is popped again. Events of the burst more than [`SPAN_MS_MAX`] after
//! its earliest (or its device time-out, if shorter) go to the queue as they are (all the
//! burst's events of a time go the same way), and so does a burst too small or too spread out
//! to be worth a run.
//!
//! # Cost and trade-offs
//!
//! A burst of `n` events spanning `w` milliseconds costs `O(n + w)`: two passes over the events
//! and one over `w` counters. A queue push and pop are paid per distinct time instead of per
//! event (at 1,000,000 devices a batch of 100,000 answers has about 20,000 distinct times).
//! Memory: 8 bytes per event (the queue's first level takes 16), 16 bytes per distinct time, the
//! counters (4 bytes per millisecond of the widest burst, at most 256 KB) and the burst being
//! pushed (16 bytes per event). The buffers are kept for the next burst and run: a steady
//! rollout allocates once. The rollout's peak memory did not grow (142 against 143 MB at
//! 10,000,000 devices, 24 against 29 MB at 1,000,000).
//!
//! A burst that cannot make a run (fewer than [`EVENTS_MIN`] events, or fewer events than
//! milliseconds in its window: the rollout at 100,000 devices) is not kept at all; what the
//! runs then cost is a flag checked per push and a comparison per event (under 1 % of the
//! instructions of the throttled and flapping examples, no change in their time).

use super::queue::{CalendarQueue, EventQueue};

/// The widest span of times (ms) a run takes (and a burst's device time-out, if shorter);
/// events further from the burst's earliest go to the queue. 65.5 s: a batch's answers within
/// a time-out of seconds to a minute.
pub(crate) const SPAN_MS_MAX: i64 = 1 << 16;

/// The fewest events a run takes: a smaller burst goes to the queue as it is.
const EVENTS_MIN: usize = 256;
/// The most milliseconds of span per event a run takes: a sparser burst goes to the queue as it
/// is. A run pays for its counters and its passes over the burst with the queue operations of
/// the events that share a time; with fewer events than milliseconds most times have one event,
/// and the run costs more than it saves (callgrind, the rollout at 100,000 devices, whose batches
/// have 10,000 answers over 30 s: 3.7 % more instructions when such bursts made runs).
const MS_PER_EVENT_MAX: usize = 1;

/// Whether `events` events over `span_ms` milliseconds are worth a run ([`EVENTS_MIN`],
/// [`MS_PER_EVENT_MAX`]).
#[inline]
fn worth_a_run(events: usize, span_ms: usize) -> bool {
    events >= EVENTS_MIN && span_ms <= events * MS_PER_EVENT_MAX
}

/// One run: a burst's events sorted by time, and where each time's block ends.
#[derive(Debug, Default)]
struct Run {
    events: Vec<u64>,
    /// (time, end of its block in `events`), in time order.
    blocks: Vec<(i64, u32)>,
    /// The next block whose marker the queue will pop.
    next_block: usize,
}

/// The runs of the bursts pushed so far and not yet taken; see the module's documentation.
#[derive(Debug)]
pub(crate) struct Runs {
    /// Runs by index (the marker's number); a used-up run's slot is reused.
    runs: Vec<Run>,
    free: Vec<u32>,
    /// The burst being pushed: (time, payload) in push order.
    burst: Vec<(i64, u64)>,
    staging: bool,
    /// The span the open burst's run may take from its earliest event (ms): the device
    /// time-out, at most [`SPAN_MS_MAX`]. Events after it (answers later than the time-out,
    /// time-outs themselves when answers come much sooner) go to the queue.
    window_ms: i64,
    /// Counting-sort counters, kept between bursts.
    counts: Vec<u32>,
    /// The block being taken: its run and its time, and the next event and the block's end
    /// (equal: no block is being taken).
    cursor: (u32, i64),
    at: u32,
    end: u32,
    /// Whether bursts become runs (off: every event goes to the queue as it is; for the tests
    /// that compare the two).
    enabled: bool,
    /// Runs made so far (for the tests).
    #[cfg(test)]
    made: usize,
}

impl Default for Runs {
    fn default() -> Self {
        Self {
            runs: Vec::new(),
            free: Vec::new(),
            burst: Vec::new(),
            staging: false,
            window_ms: SPAN_MS_MAX,
            counts: Vec::new(),
            cursor: (0, 0),
            at: 0,
            end: 0,
            enabled: true,
            #[cfg(test)]
            made: 0,
        }
    }
}

impl Runs {
    /// Runs that never make a run: every event goes to the queue as it is pushed.
    #[cfg(test)]
    pub(crate) fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// A burst of about `events` events, most within `span_ms` of now (a device time-out, if
    /// any), may start: if it could make a run, [`Self::push`] keeps events until
    /// [`Self::end_burst`]. A burst that could not is not kept at all, so that a small batch
    /// pays nothing for the runs.
    pub(crate) fn begin_burst(&mut self, events: usize, span_ms: Option<i64>) {
        debug_assert!(!self.staging && self.burst.is_empty());
        self.window_ms = span_ms.map_or(SPAN_MS_MAX, |s| s.clamp(0, SPAN_MS_MAX - 1) + 1);
        self.staging = self.enabled && worth_a_run(events, self.window_ms as usize);
    }

    /// Pushes an event: into the burst if one is open, else into `queue`.
    #[inline(always)]
    pub(crate) fn push(&mut self, queue: &mut CalendarQueue, at_ms: i64, payload: u64) {
        if self.staging {
            self.burst.push((at_ms, payload));
        } else {
            queue.push(at_ms, payload);
        }
    }

    /// The burst ends: its events become a run with its markers in `queue` (`marker(r)`: the
    /// payload of run `r`'s markers), or go to `queue` as they are.
    pub(crate) fn end_burst(&mut self, queue: &mut CalendarQueue, marker: impl Fn(u32) -> u64) {
        if !std::mem::take(&mut self.staging) {
            return;
        }
        let (earliest_ms, latest_ms) = self
            .burst
            .iter()
            .fold((i64::MAX, i64::MIN), |(e, l), &(t, _)| (e.min(t), l.max(t)));
        let n = self.burst.len();
        // Most bursts lie within the window; one that does not keeps its window only.
        let (in_span, last_ms) = match latest_ms.saturating_sub(earliest_ms) < self.window_ms {
            true => (n, latest_ms),
            false => self.within_span(earliest_ms),
        };
        let span = last_ms.saturating_sub(earliest_ms).saturating_add(1) as usize;
        if !worth_a_run(in_span, span) {
            for &(t, p) in &self.burst {
                queue.push(t, p);
            }
            self.burst.clear();
            return;
        }
        let r = self.take_slot();
        self.sort_into(r, earliest_ms, span);
        #[cfg(test)]
        {
            self.made += 1;
        }
        for &(t, _) in &self.runs[r as usize].blocks {
            queue.push(t, marker(r));
        }
        // Events past the span, in push order after the markers: a time is either all in the
        // run or all here.
        if in_span < n {
            for &(t, p) in self.burst.iter().filter(|&&(t, _)| t > last_ms) {
                queue.push(t, p);
            }
        }
        self.burst.clear();
    }

    /// The burst's events within the window from `earliest_ms`: how many, and the latest.
    #[cold]
    fn within_span(&self, earliest_ms: i64) -> (usize, i64) {
        let last_ms = earliest_ms + self.window_ms - 1;
        self.burst
            .iter()
            .filter(|&&(t, _)| t <= last_ms)
            .fold((0, earliest_ms), |(n, l), &(t, _)| (n + 1, l.max(t)))
    }

    /// A free run slot, emptied.
    fn take_slot(&mut self) -> u32 {
        match self.free.pop() {
            Some(r) => r,
            None => {
                self.runs.push(Run::default());
                (self.runs.len() - 1) as u32
            }
        }
    }

    /// Sorts the burst's events of `earliest_ms .. earliest_ms + span` into run `r`, stable,
    /// by counting: one counter per millisecond.
    fn sort_into(&mut self, r: u32, earliest_ms: i64, span: usize) {
        let counts = &mut self.counts;
        counts.clear();
        counts.resize(span, 0);
        let in_span = |t: i64| ((t - earliest_ms) as u64) < span as u64;
        for &(t, _) in self.burst.iter().filter(|&&(t, _)| in_span(t)) {
            counts[(t - earliest_ms) as usize] += 1;
        }
        debug_assert!(
            counts.last().is_some_and(|&c| c != 0),
            "the span ends at an event"
        );
        let run = &mut self.runs[r as usize];
        debug_assert!(run.events.is_empty() && run.blocks.is_empty());
        let mut end = 0u32;
        for (k, c) in counts.iter_mut().enumerate() {
            if *c != 0 {
                let start = end;
                end += *c;
                run.blocks.push((earliest_ms + k as i64, end));
                *c = start;
            }
        }
        run.events.resize(end as usize, 0);
        for &(t, p) in self.burst.iter().filter(|&&(t, _)| in_span(t)) {
            let at = &mut counts[(t - earliest_ms) as usize];
            run.events[*at as usize] = p;
            *at += 1;
        }
        run.next_block = 0;
    }

    /// The queue popped run `r`'s marker at `at_ms`: its block of that time is taken next.
    pub(crate) fn open(&mut self, r: u32, at_ms: i64) {
        debug_assert!(
            self.at == self.end,
            "a block is taken whole before the next pop"
        );
        let run = &mut self.runs[r as usize];
        let b = run.next_block;
        let (t, end) = run.blocks[b];
        assert_eq!(t, at_ms, "run {r}'s markers pop in time order");
        self.at = if b == 0 { 0 } else { run.blocks[b - 1].1 };
        self.end = end;
        run.next_block += 1;
        self.cursor = (r, t);
    }

    /// The next event of the block being taken, if any: (time, payload).
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Option<(i64, u64)> {
        if self.at == self.end {
            return None;
        }
        let (r, t) = self.cursor;
        let payload = self.runs[r as usize].events[self.at as usize];
        self.at += 1;
        if self.at == self.end {
            self.close(r);
        }
        Some((t, payload))
    }

    /// The block of run `r` is taken: the run's slot is freed if that was its last block.
    #[cold]
    fn close(&mut self, r: u32) {
        let run = &mut self.runs[r as usize];
        if run.next_block == run.blocks.len() {
            run.events.clear();
            run.blocks.clear();
            self.free.push(r);
        }
    }

    /// How many runs were made so far.
    #[cfg(test)]
    pub(crate) fn made(&self) -> usize {
        self.made
    }

    /// Whether events of the block being taken remain.
    pub(crate) fn has_more_now(&self) -> bool {
        self.at < self.end
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::util::queue::HeapQueue;

    /// Markers carry this bit; test payloads never do.
    const MARK: u64 = 1 << 63;

    /// The next event through the runs, as the simulator takes it: the block being taken
    /// first, then the queue, a marker opening its block.
    fn next_event(q: &mut CalendarQueue, runs: &mut Runs) -> Option<(i64, u64)> {
        loop {
            if let Some(e) = runs.next() {
                return Some(e);
            }
            let (t, p) = q.pop()?;
            if p & MARK == 0 {
                return Some((t, p));
            }
            runs.open((p & !MARK) as u32, t);
        }
    }

    /// Pops everything through the runs.
    fn drain(q: &mut CalendarQueue, runs: &mut Runs) -> Vec<(i64, u64)> {
        std::iter::from_fn(|| next_event(q, runs)).collect()
    }

    proptest! {
        /// Bursts taken as runs come out in exactly the order of the heap queue given the same
        /// pushes one by one: by time, then push order, across runs, plain pushes, far events,
        /// and pushes made while a run's block is being taken.
        #[test]
        fn runs_keep_the_queue_order(
            steps in prop::collection::vec(
                (0usize..3, 0u8..3, prop::collection::vec((0i64..70_000, 0u8..20), 0..900)),
                1..8,
            ),
        ) {
            let (mut q, mut runs, mut h) = (CalendarQueue::new(), Runs::default(), HeapQueue::new());
            let (mut expected, mut got) = (Vec::new(), Vec::new());
            let mut next = 0u64;
            let mut now = 0i64;
            for (pops, mode, burst) in steps {
                // Mode 0: dense (a run if large enough); 1: dense with a few events past the
                // span; 2: spread over 70 s (to the queue). An odd length: plain pushes.
                let as_burst = burst.len() % 2 == 0;
                if as_burst {
                    runs.begin_burst(burst.len(), Some(299));
                }
                for &(delay, k) in &burst {
                    let t = now + match (mode, k) {
                        (0, _) | (1, 1..) => delay % 300,
                        (1, 0) => SPAN_MS_MAX + delay,
                        _ => delay,
                    };
                    runs.push(&mut q, t, next);
                    h.push(t, next);
                    next += 1;
                }
                if as_burst {
                    runs.end_burst(&mut q, |r| MARK | u64::from(r));
                }
                // Take a few events (a block may be left half taken, as between two steps).
                for _ in 0..pops * 50 {
                    let Some(e) = next_event(&mut q, &mut runs) else {
                        break;
                    };
                    now = e.0;
                    got.push(e);
                    expected.push(h.pop().expect("the heap holds as many"));
                }
            }
            got.extend(drain(&mut q, &mut runs));
            expected.extend(std::iter::from_fn(|| h.pop()));
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn a_dense_burst_becomes_one_run_with_a_marker_per_time() {
        let (mut q, mut runs) = (CalendarQueue::new(), Runs::default());
        runs.begin_burst(1000, Some(7));
        for k in 0..1000u64 {
            runs.push(&mut q, 10 + (k % 7) as i64, k);
        }
        runs.end_burst(&mut q, |r| MARK | u64::from(r));
        assert_eq!(q.len(), 7, "one marker per distinct time");
        let out = drain(&mut q, &mut runs);
        assert_eq!(out.len(), 1000);
        assert!(out
            .windows(2)
            .all(|w| w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1)));
        assert_eq!(runs.free, [0], "the used-up run's slot is free again");
    }

    #[test]
    fn a_small_or_sparse_burst_goes_to_the_queue_as_it_is() {
        for (n, spread) in [(EVENTS_MIN - 1, 1), (1000, 2)] {
            let (mut q, mut runs) = (CalendarQueue::new(), Runs::default());
            runs.begin_burst(n, Some(0));
            for k in 0..n as u64 {
                runs.push(&mut q, (k as i64 * spread) % SPAN_MS_MAX, k);
            }
            runs.end_burst(&mut q, |r| MARK | u64::from(r));
            assert_eq!(q.len(), n, "no run for {n} events {spread} ms apart");
            assert!(runs.runs.is_empty());
        }
    }
}
