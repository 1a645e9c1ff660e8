//! The IoT Hub model: tier throttles as token buckets, and the concurrent-jobs limit.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// An IoT Hub tier and unit count, which give the throttles of [`HubLimits`].
///
/// ```
/// use fleet_sim::{HubSpec, Tier};
///
/// let hub: HubSpec = serde_json::from_str(r#"{"tier": "S2", "units": 20}"#)?;
/// let limits = hub.limits();
/// assert_eq!(limits.job_device_ops_per_s, 20);
/// assert_eq!(limits.twin_updates_per_s, 100);
/// assert_eq!(limits.concurrent_jobs, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # The throttle model
///
/// Each throttle is a token bucket (implemented as GCRA, the "virtual scheduling" form: one
/// theoretical arrival time per bucket, exact integer arithmetic) refilled at the published
/// rate, holding at most one second of tokens (the burst). Which bucket an operation draws from:
///
/// | operation | bucket | cost | over the limit |
/// |---|---|---|---|
/// | IoT Hub job: twin update, device method | job device operations | 1 | queued without bound: the hub paces its own jobs |
/// | writable property (IoT Central) | twin updates | 1 | queued up to `max_queue_wait_ms`, then throttled |
/// | command (IoT Central) | direct methods | 4 KB chunks of the payload (at least 1) | queued up to `max_queue_wait_ms`, then throttled |
/// | cloud property, template migration | none (no hub traffic) | | |
///
/// "Queued" (the hub's traffic shaping) means the operation reaches the device when the bucket
/// has a token for it, in dispatch order. When that wait would exceed `max_queue_wait_ms`, the
/// operation fails at once with the reason `throttled` (429 ThrottlingException) and takes no
/// token.
///
/// The concurrent-jobs limit applies to every job of the simulation: a job whose start time
/// comes while the limit is reached waits, status pending, until a running job settles; waiting
/// jobs start in order of their start time, then of their order in the scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct HubSpec {
    /// The tier.
    pub tier: Tier,
    /// Number of units, 1 to 200 (S3: 1 to 10).
    #[serde(default = "one")]
    pub units: u32,
    /// The longest an operation waits for a throttle before it fails as throttled (default
    /// 30,000 ms). Does not apply to the hub's own job device operations.
    #[serde(default = "default_queue_wait")]
    pub max_queue_wait_ms: u64,
    /// Overrides the tier's concurrent-jobs limit (IoT Central allows 5 per application).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent_jobs: Option<u32>,
}

fn one() -> u32 {
    1
}

fn default_queue_wait() -> u64 {
    30_000
}

impl Default for HubSpec {
    /// One S1 unit.
    fn default() -> Self {
        Self {
            tier: Tier::S1,
            units: 1,
            max_queue_wait_ms: default_queue_wait(),
            concurrent_jobs: None,
        }
    }
}

/// An IoT Hub standard tier. Written `S1`, `S2`, `S3` (or lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tier {
    /// S1.
    #[default]
    #[serde(rename = "S1", alias = "s1")]
    S1,
    /// S2.
    #[serde(rename = "S2", alias = "s2")]
    S2,
    /// S3.
    #[serde(rename = "S3", alias = "s3")]
    S3,
}

/// The published limits of a tier and unit count (API-NOTES, "IoT Hub throttles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HubLimits {
    /// Job device operations (twin update, direct method) per second: S1 10; S2 max(10, units);
    /// S3 50 per unit.
    pub job_device_ops_per_s: u64,
    /// Twin updates per second: S1 50; S2 max(50, 5 per unit); S3 250 per unit.
    pub twin_updates_per_s: u64,
    /// Direct-method 4 KB chunks per second: S1 40 (160 KB/s) per unit; S2 120 (480 KB/s) per
    /// unit; S3 6,000 (24 MB/s) per unit.
    pub direct_method_chunks_per_s: u64,
    /// Jobs running at once: S1 1, S2 5, S3 10 (or the override).
    pub concurrent_jobs: u32,
}

impl HubSpec {
    /// Checks the unit count and the limits.
    pub fn validate(&self) -> Result<()> {
        let max = if self.tier == Tier::S3 { 10 } else { 200 };
        if !(1..=max).contains(&self.units) {
            return Err(Error::at(
                "units",
                ErrorKind::InvalidValue(format!(
                    "{} units; {:?} allows 1 to {max}",
                    self.units, self.tier
                )),
            ));
        }
        if self.concurrent_jobs == Some(0) {
            return Err(Error::at(
                "concurrent_jobs",
                ErrorKind::InvalidValue("at least 1 job must be able to run".into()),
            ));
        }
        Ok(())
    }

    /// The throttles of this tier and unit count.
    pub fn limits(&self) -> HubLimits {
        let u = u64::from(self.units);
        let (job, twin, chunks, jobs) = match self.tier {
            Tier::S1 => (10, 50, 40 * u, 1),
            Tier::S2 => (u.max(10), (5 * u).max(50), 120 * u, 5),
            Tier::S3 => (50 * u, 250 * u, 6000 * u, 10),
        };
        HubLimits {
            job_device_ops_per_s: job,
            twin_updates_per_s: twin,
            direct_method_chunks_per_s: chunks,
            concurrent_jobs: self.concurrent_jobs.unwrap_or(jobs),
        }
    }
}

/// Which throttle an operation draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Throttle {
    JobDeviceOps = 0,
    TwinUpdates = 1,
    DirectMethods = 2,
}

impl Throttle {
    /// Every throttle, in the order of [`Hub`]'s buckets.
    const ALL: [Throttle; 3] = [
        Throttle::JobDeviceOps,
        Throttle::TwinUpdates,
        Throttle::DirectMethods,
    ];

    /// The name `/metrics` and the dashboard give it.
    fn name(self) -> &'static str {
        match self {
            Throttle::JobDeviceOps => "job_device_operations",
            Throttle::TwinUpdates => "twin_updates",
            Throttle::DirectMethods => "direct_methods",
        }
    }
}

/// One of the hub model's token buckets at an instant: what `/metrics` and the dashboard of
/// `fleetsim serve` show ([`DeviceModel::hub_load`](crate::DeviceModel::hub_load)).
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleLoad {
    /// `job_device_operations`, `twin_updates` or `direct_methods` (4 KB chunks).
    pub throttle: &'static str,
    /// Tokens per second.
    pub rate_per_s: u64,
    /// The bucket's size (one second of tokens).
    pub burst: u32,
    /// Tokens taken and not yet refilled at `at_ms`: up to `burst` is the bucket's use, the
    /// rest is operations queued for a later send time (traffic shaping).
    pub backlog_tokens: f64,
    /// The instant of these figures.
    pub at_ms: i64,
}

impl ThrottleLoad {
    /// The backlog at a later instant (the bucket refills at its rate; nothing taken since).
    pub fn backlog_at(&self, now_ms: i64) -> f64 {
        let refilled = (now_ms - self.at_ms).max(0) as f64 * self.rate_per_s as f64 / 1000.0;
        (self.backlog_tokens - refilled).max(0.0)
    }

    /// Tokens available at `now_ms` (0 to `burst`).
    pub fn available_at(&self, now_ms: i64) -> f64 {
        (f64::from(self.burst) - self.backlog_at(now_ms)).max(0.0)
    }

    /// Operations (tokens) waiting at `now_ms` for a send time after it.
    pub fn queued_at(&self, now_ms: i64) -> f64 {
        (self.backlog_at(now_ms) - f64::from(self.burst)).max(0.0)
    }
}

/// A token bucket in GCRA form.
///
/// Time is scaled by the rate so that everything is an integer: a scaled instant is
/// `ms * rate_per_s`, one token is worth 1000 scaled units, and the burst tolerance is
/// `(burst - 1) * 1000`. Granting is O(1) and allocation-free.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    rate_per_s: i128,
    burst: u32,
    /// Theoretical arrival time of the next conforming token, scaled.
    tat: i128,
}

impl Bucket {
    pub(crate) fn new(rate_per_s: u64) -> Self {
        Self {
            rate_per_s: i128::from(rate_per_s.max(1)),
            burst: u32::try_from(rate_per_s.max(1)).unwrap_or(u32::MAX),
            tat: i128::MIN / 4,
        }
    }

    /// When an operation of `cost` tokens dispatched at `now_ms` may be sent: the earliest
    /// conforming instant, rounded up to a millisecond. `None` (and nothing taken) when that is
    /// more than `max_wait_ms` away.
    pub(crate) fn grant(
        &mut self,
        now_ms: i64,
        cost: u32,
        max_wait_ms: Option<i64>,
    ) -> Option<i64> {
        const TOKEN: i128 = 1000;
        let cost = i128::from(cost.clamp(1, self.burst));
        let tau = i128::from(self.burst - 1) * TOKEN;
        let now = i128::from(now_ms) * self.rate_per_s;
        let send = now.max(self.tat + (cost - 1) * TOKEN - tau);
        let send_ms = (send + self.rate_per_s - 1).div_euclid(self.rate_per_s) as i64;
        if let Some(max) = max_wait_ms {
            if send_ms - now_ms > max {
                return None;
            }
        }
        self.tat = self.tat.max(send) + cost * TOKEN;
        Some(send_ms)
    }

    /// Tokens taken and not yet refilled at `now_ms`.
    fn backlog(&self, now_ms: i64) -> f64 {
        let now = i128::from(now_ms) * self.rate_per_s;
        (self.tat - now).max(0) as f64 / 1000.0
    }
}

/// The hub during a simulation: one bucket per throttle and the limits.
#[derive(Debug, Clone)]
pub(crate) struct Hub {
    buckets: [Bucket; 3],
    max_wait_ms: i64,
    /// Operations refused so far.
    throttled: u64,
}

impl Hub {
    pub(crate) fn new(spec: &HubSpec) -> Self {
        let l = spec.limits();
        Self {
            buckets: [
                Bucket::new(l.job_device_ops_per_s),
                Bucket::new(l.twin_updates_per_s),
                Bucket::new(l.direct_method_chunks_per_s),
            ],
            max_wait_ms: i64::try_from(spec.max_queue_wait_ms).unwrap_or(i64::MAX),
            throttled: 0,
        }
    }

    /// When an operation may be sent (see [`Bucket::grant`]); `None`: throttled.
    #[inline]
    pub(crate) fn grant(&mut self, throttle: Throttle, now_ms: i64, cost: u32) -> Option<i64> {
        let max = (throttle != Throttle::JobDeviceOps).then_some(self.max_wait_ms);
        let granted = self.buckets[throttle as usize].grant(now_ms, cost, max);
        self.throttled += u64::from(granted.is_none());
        granted
    }

    /// The queues at `at_ms` (at or after the last grant) and the refusals so far.
    pub(crate) fn sample(&self, at_ms: i64) -> crate::result::HubSample {
        let queued = |b: &Bucket| (b.backlog(at_ms) - f64::from(b.burst)).max(0.0);
        crate::result::HubSample {
            at_ms,
            queued: [
                queued(&self.buckets[0]),
                queued(&self.buckets[1]),
                queued(&self.buckets[2]),
            ],
            throttled: self.throttled,
        }
    }

    /// Every bucket's load at `now_ms`.
    pub(crate) fn load(&self, now_ms: i64) -> Vec<ThrottleLoad> {
        Throttle::ALL
            .iter()
            .map(|&t| {
                let b = &self.buckets[t as usize];
                ThrottleLoad {
                    throttle: t.name(),
                    rate_per_s: b.rate_per_s as u64,
                    burst: b.burst,
                    backlog_tokens: b.backlog(now_ms),
                    at_ms: now_ms,
                }
            })
            .collect()
    }
}

/// The hub's limit on concurrent jobs (API-NOTES, "IoT Hub throttles"): a run holds a slot
/// from its start until it settles; a run submitted while every slot is held waits, first come
/// first served, and starts when one frees. Used by both drivers of the executor (the simulator
/// and the server), so the rule exists once.
///
/// `T` names a waiting run (a job index, a run number). O(1) per operation but
/// [`JobSlots::remove`], which is O(waiting).
#[derive(Debug, Clone)]
pub struct JobSlots<T> {
    /// `None`: no hub, no limit.
    limit: Option<u32>,
    held: u32,
    waiting: std::collections::VecDeque<T>,
}

impl<T: PartialEq> JobSlots<T> {
    /// Slots for a hub with this limit (`None`: unlimited).
    pub fn new(limit: Option<u32>) -> Self {
        Self {
            limit,
            held: 0,
            waiting: std::collections::VecDeque::new(),
        }
    }

    /// Whether a hub is modelled (runs then hold slots).
    pub fn limited(&self) -> bool {
        self.limit.is_some()
    }

    /// The limit (`None`: no hub, no limit).
    pub fn limit(&self) -> Option<u32> {
        self.limit
    }

    /// Runs holding a slot.
    pub fn held(&self) -> u32 {
        self.held
    }

    /// Runs waiting for a slot.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Takes a slot for a run that starts now, or queues `run` and returns `false`.
    pub fn take_or_wait(&mut self, run: T) -> bool {
        match self.limit {
            Some(limit) if self.held >= limit => {
                self.waiting.push_back(run);
                false
            }
            Some(_) => {
                self.held += 1;
                true
            }
            None => true,
        }
    }

    /// Takes a slot without asking (a run restored with its slot).
    pub fn hold(&mut self) {
        if self.limit.is_some() {
            self.held += 1;
        }
    }

    /// A run that held a slot settled: frees it.
    pub fn release(&mut self) {
        assert!(self.held > 0, "a slot is released by the run that holds it");
        self.held -= 1;
    }

    /// The next waiting run, with a slot taken for it, if a slot is free.
    pub fn next_ready(&mut self) -> Option<T> {
        if self.limit.is_some_and(|l| self.held >= l) {
            return None;
        }
        let run = self.waiting.pop_front()?;
        if self.limit.is_some() {
            self.held += 1;
        }
        Some(run)
    }

    /// Queues `run` at the end, as if it had just been refused a slot.
    pub fn wait(&mut self, run: T) {
        self.waiting.push_back(run);
    }

    /// Takes `run` out of the queue (a run cancelled before it started). Returns whether it
    /// was waiting.
    pub fn remove(&mut self, run: &T) -> bool {
        match self.waiting.iter().position(|w| w == run) {
            Some(at) => {
                self.waiting.remove(at);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_queue_first_come_first_served() {
        let mut slots = JobSlots::new(Some(1));
        assert!(slots.take_or_wait(1));
        assert!(!slots.take_or_wait(2));
        assert!(!slots.take_or_wait(3));
        assert_eq!(slots.next_ready(), None, "the slot is held");
        slots.release();
        assert_eq!(slots.next_ready(), Some(2));
        assert!(slots.remove(&3));
        slots.release();
        assert_eq!(slots.next_ready(), None, "3 left the queue");
        let mut free = JobSlots::new(None);
        assert!((0..100).all(|i| free.take_or_wait(i)));
        assert!(!free.limited());
    }

    #[test]
    fn published_numbers() {
        let l = HubSpec {
            tier: Tier::S1,
            units: 3,
            ..Default::default()
        }
        .limits();
        assert_eq!(
            (
                l.job_device_ops_per_s,
                l.twin_updates_per_s,
                l.direct_method_chunks_per_s,
                l.concurrent_jobs
            ),
            (10, 50, 120, 1)
        );
        let l = HubSpec {
            tier: Tier::S3,
            units: 2,
            ..Default::default()
        }
        .limits();
        assert_eq!(
            (
                l.job_device_ops_per_s,
                l.twin_updates_per_s,
                l.direct_method_chunks_per_s,
                l.concurrent_jobs
            ),
            (100, 500, 12_000, 10)
        );
        assert!(HubSpec {
            tier: Tier::S3,
            units: 11,
            ..Default::default()
        }
        .validate()
        .is_err());
        let t: Tier = serde_json::from_str("\"s2\"").unwrap();
        assert_eq!(t, Tier::S2);
    }

    #[test]
    fn bucket_bursts_then_paces() {
        let mut b = Bucket::new(10);
        let sends: Vec<i64> = (0..25).map(|_| b.grant(0, 1, None).unwrap()).collect();
        assert!(sends[..10].iter().all(|&s| s == 0), "{sends:?}");
        assert_eq!(sends[10], 100);
        assert_eq!(sends[24], 1500);
        // A later request after a quiet period gets a token at once.
        assert_eq!(b.grant(10_000, 1, None), Some(10_000));
    }

    #[test]
    fn bucket_refuses_past_the_queue_bound() {
        let mut b = Bucket::new(10);
        for _ in 0..10 {
            b.grant(0, 1, Some(1000)).unwrap();
        }
        // 10 more fit within 1 s of waiting, the next does not.
        for _ in 0..10 {
            assert!(b.grant(0, 1, Some(1000)).is_some());
        }
        assert_eq!(b.grant(0, 1, Some(1000)), None);
    }

    #[test]
    fn fractional_intervals_are_exact() {
        // 6000/s: 6 per ms after the burst.
        let mut b = Bucket::new(6000);
        let sends: Vec<i64> = (0..6012).map(|_| b.grant(0, 1, None).unwrap()).collect();
        assert_eq!(sends[5999], 0);
        assert_eq!(sends[6000], 1);
        assert_eq!(sends[6005], 1);
        assert_eq!(sends[6006], 2);
    }

    #[test]
    fn a_bucket_shows_its_use_then_its_queue_then_refills() {
        let spec = HubSpec {
            tier: Tier::S1,
            units: 1,
            max_queue_wait_ms: 30_000,
            concurrent_jobs: None,
        };
        let mut hub = Hub::new(&spec);
        let rate = spec.limits().job_device_ops_per_s;
        assert_eq!(rate, 10);
        let idle = &hub.load(1_000)[0];
        assert_eq!(
            (idle.throttle, idle.available_at(1_000)),
            ("job_device_operations", 10.0)
        );
        for _ in 0..25 {
            hub.grant(Throttle::JobDeviceOps, 1_000, 1).unwrap();
        }
        let busy = &hub.load(1_000)[0];
        assert_eq!(busy.available_at(1_000), 0.0);
        assert_eq!(busy.queued_at(1_000), 15.0, "25 taken, 10 in the bucket");
        // A second later 10 tokens came back: 5 still queued; 2.5 s later nothing is.
        assert_eq!(busy.queued_at(2_000), 5.0);
        assert_eq!(busy.queued_at(3_500), 0.0);
        assert_eq!(busy.available_at(4_500), 10.0);
        assert_eq!(
            hub.load(2_000)[0].queued_at(2_000),
            5.0,
            "the bucket agrees"
        );
        assert_eq!(
            hub.load(1_000)[1].backlog_tokens,
            0.0,
            "twin updates untouched"
        );
    }
}
