//! `/metrics`: what the server did, in the Prometheus text exposition format (the
//! `prometheus-client` crate writes it; OpenMetrics text, which Prometheus reads).
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `fleetsim_http_requests` | counter | `method`, `route`, `status` | requests answered (`route` is the route's template, `/api/jobs/{id}`; `unmatched` for a 404 of no route) |
//! | `fleetsim_http_request_duration_seconds` | histogram | `route` | time from the request's arrival to its response |
//! | `fleetsim_jobs` | gauge | `api`, `status` | jobs by API (`central`, `hub`) and status word, at the scrape |
//! | `fleetsim_device_operations_dispatched` | counter | | dispatches to devices whose answer the device model scheduled |
//! | `fleetsim_device_operations_answered` | counter | `result` | answers by result: `succeeded`, or the failure reason (`throttled`, `offline`, `device_error`, ...) |
//! | `fleetsim_store_commit_duration_seconds` | histogram | | one driver tick's SQLite commit |
//! | `fleetsim_device_connections` | gauge | | real devices connected over the device endpoint (MQTT) |
//! | `fleetsim_device_messages` | counter | `kind` | device-to-cloud messages by kind: `telemetry`, `twin_get`, `reported`, `method_response`, `refused` |
//! | `fleetsim_hub_rate_per_second` | gauge | `throttle` | the hub model's refill rate of each token bucket (`job_device_operations`, `twin_updates`, `direct_methods` in 4 KB chunks) |
//! | `fleetsim_hub_tokens_available` | gauge | `throttle` | tokens in the bucket at the scrape (0 to one second's worth) |
//! | `fleetsim_hub_queued_operations` | gauge | `throttle` | operations the hub holds back for a later send time (traffic shaping) at the scrape |
//! | `fleetsim_hub_concurrent_jobs_limit` | gauge | | the tier's concurrent-jobs limit |
//! | `fleetsim_hub_jobs_holding_slot` | gauge | | job runs holding one of those slots |
//! | `fleetsim_hub_jobs_waiting` | gauge | | job runs waiting for a slot (status pending) |
//!
//! The `fleetsim_hub_*` gauges exist only when the scenario sets a hub model; operations the
//! hub refused are `fleetsim_device_operations_answered_total{result="throttled"}`.
//!
//! Counters are kept in memory: they start at 0 with each process, as Prometheus expects.

use std::sync::{Mutex, OnceLock};

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::hub_view::HubView;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    api: String,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThrottleLabels {
    throttle: String,
}

type Timings = Family<RouteLabels, Histogram, fn() -> Histogram>;
type Levels = Family<ThrottleLabels, Gauge<f64, AtomicU64>>;

/// The hub model's gauges, registered once a hub is seen.
struct HubGauges {
    rate: Levels,
    available: Levels,
    queued: Levels,
    limit: Gauge,
    holding: Gauge,
    waiting: Gauge,
}

impl HubGauges {
    fn register(registry: &mut Registry) -> Self {
        let g = Self {
            rate: Levels::default(),
            available: Levels::default(),
            queued: Levels::default(),
            limit: Gauge::default(),
            holding: Gauge::default(),
            waiting: Gauge::default(),
        };
        let sub = registry.sub_registry_with_prefix("hub");
        sub.register(
            "rate_per_second",
            "The hub model's refill rate of each token bucket",
            g.rate.clone(),
        );
        sub.register(
            "tokens_available",
            "Tokens in each of the hub model's buckets",
            g.available.clone(),
        );
        sub.register(
            "queued_operations",
            "Operations the hub model holds back for a later send time",
            g.queued.clone(),
        );
        sub.register(
            "concurrent_jobs_limit",
            "The hub tier's concurrent-jobs limit",
            g.limit.clone(),
        );
        sub.register(
            "jobs_holding_slot",
            "Job runs holding a concurrent-jobs slot",
            g.holding.clone(),
        );
        sub.register(
            "jobs_waiting",
            "Job runs waiting for a concurrent-jobs slot",
            g.waiting.clone(),
        );
        g
    }

    fn set(&self, hub: &HubView, now_ms: i64) {
        for b in hub.buckets_at(now_ms) {
            let labels = ThrottleLabels {
                throttle: b.throttle.to_string(),
            };
            self.rate.get_or_create(&labels).set(b.rate_per_s as f64);
            self.available
                .get_or_create(&labels)
                .set(b.available_tokens);
            self.queued.get_or_create(&labels).set(b.queued_operations);
        }
        self.limit.set(i64::from(hub.slot_limit.unwrap_or(0)));
        self.holding.set(i64::from(hub.slots_held));
        self.waiting.set(i64::from(hub.jobs_waiting));
    }
}

/// The server's metrics (see the module documentation).
pub(crate) struct Metrics {
    /// Behind the scrape lock: the hub gauges are registered at the first scrape that sees a
    /// hub model.
    registry: Mutex<Registry>,
    hub: OnceLock<HubGauges>,
    requests: Family<RequestLabels, Counter>,
    durations: Timings,
    jobs: Family<JobLabels, Gauge>,
    dispatched: Counter,
    answered: Family<ResultLabels, Counter>,
    commits: Histogram,
    connections: Gauge,
    messages: Family<KindLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Request durations: 0.1 ms to about 26 s, doubling.
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 19))
}

impl Metrics {
    /// Every metric at zero, registered.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("fleetsim");
        let requests = Family::<RequestLabels, Counter>::default();
        let durations: Timings = Family::new_with_constructor(request_histogram);
        let jobs = Family::<JobLabels, Gauge>::default();
        let dispatched = Counter::default();
        let answered = Family::<ResultLabels, Counter>::default();
        let commits = Histogram::new(exponential_buckets(0.00005, 2.0, 16));
        registry.register("http_requests", "Requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response",
            durations.clone(),
        );
        registry.register("jobs", "Jobs by API and status", jobs.clone());
        registry.register(
            "device_operations_dispatched",
            "Dispatches to devices whose answer the device model scheduled",
            dispatched.clone(),
        );
        registry.register(
            "device_operations_answered",
            "Device answers by result (succeeded or the failure reason)",
            answered.clone(),
        );
        registry.register(
            "store_commit_duration_seconds",
            "One driver tick's SQLite commit",
            commits.clone(),
        );
        let connections = Gauge::default();
        let messages = Family::<KindLabels, Counter>::default();
        registry.register(
            "device_connections",
            "Real devices connected over the device endpoint",
            connections.clone(),
        );
        registry.register(
            "device_messages",
            "Device-to-cloud messages by kind",
            messages.clone(),
        );
        Self {
            connections,
            messages,
            registry: Mutex::new(registry),
            hub: OnceLock::new(),
            requests,
            durations,
            jobs,
            dispatched,
            answered,
            commits,
        }
    }

    /// A request to `route` answered `status` after `seconds`.
    pub(crate) fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = RequestLabels {
            method: method.to_string(),
            route: route.to_string(),
            status: status.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        let route = RouteLabels {
            route: route.to_string(),
        };
        self.durations.get_or_create(&route).observe(seconds);
    }

    /// `n` dispatches whose answers are scheduled.
    pub(crate) fn dispatched(&self, n: u64) {
        if n > 0 {
            self.dispatched.inc_by(n);
        }
    }

    /// A device's answer arrived with `result` (`succeeded` or a reason word).
    pub(crate) fn answered(&self, result: &str) {
        let labels = ResultLabels {
            result: result.to_string(),
        };
        self.answered.get_or_create(&labels).inc();
    }

    /// `delta` more real devices connected (negative: disconnected).
    pub(crate) fn devices_connected(&self, delta: i64) {
        self.connections.inc_by(delta);
    }

    /// A device sent a message of `kind`.
    pub(crate) fn device_message(&self, kind: &'static str) {
        let labels = KindLabels {
            kind: kind.to_string(),
        };
        self.messages.get_or_create(&labels).inc();
    }

    /// Answers counted with `result` so far.
    pub(crate) fn answered_count(&self, result: &str) -> u64 {
        let labels = ResultLabels {
            result: result.to_string(),
        };
        self.answered.get(&labels).map_or(0, |c| c.get())
    }

    /// A commit took `seconds`.
    pub(crate) fn commit(&self, seconds: f64) {
        self.commits.observe(seconds);
    }

    /// The exposition text, with the job gauges set to `jobs` ((api, status, count)) and the
    /// hub gauges to `hub` at virtual time `now_ms`.
    pub(crate) fn render(&self, jobs: &[(&str, &str, i64)], hub: &HubView, now_ms: i64) -> String {
        // One scrape at a time: the gauges are set, then encoded.
        let mut registry = self
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.jobs.clear();
        for (api, status, n) in jobs {
            let labels = JobLabels {
                api: (*api).to_string(),
                status: (*status).to_string(),
            };
            self.jobs.get_or_create(&labels).set(*n);
        }
        if hub.modelled() {
            let gauges = self.hub.get_or_init(|| HubGauges::register(&mut registry));
            gauges.set(hub, now_ms);
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_carries_what_was_counted() {
        let m = Metrics::new();
        m.request("GET", "/api/jobs/{id}", 200, 0.002);
        m.request("GET", "/api/jobs/{id}", 200, 0.004);
        m.request("PUT", "/api/jobs/{id}", 400, 0.001);
        m.dispatched(5);
        m.answered("succeeded");
        m.answered("throttled");
        m.answered("succeeded");
        m.commit(0.0003);
        let text = m.render(
            &[("central", "running", 2), ("hub", "completed", 1)],
            &HubView::default(),
            0,
        );
        assert!(
            !text.contains("fleetsim_hub_"),
            "no hub model, no hub gauges: {text}"
        );
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
                .to_string()
        };
        assert!(line(
            "fleetsim_http_requests_total{method=\"GET\",route=\"/api/jobs/{id}\",status=\"200\"}"
        )
        .ends_with(" 2"));
        assert!(line("fleetsim_http_requests_total{method=\"PUT\"").ends_with(" 1"));
        assert!(line("fleetsim_device_operations_dispatched_total").ends_with(" 5"));
        assert!(
            line("fleetsim_device_operations_answered_total{result=\"succeeded\"}").ends_with(" 2")
        );
        assert!(line("fleetsim_jobs{api=\"central\",status=\"running\"}").ends_with(" 2"));
        assert!(
            line("fleetsim_http_request_duration_seconds_count{route=\"/api/jobs/{id}\"}")
                .ends_with(" 3")
        );
        assert!(line("fleetsim_store_commit_duration_seconds_count").ends_with(" 1"));
        // A later scrape replaces the job gauges rather than adding to them.
        let text = m.render(&[("hub", "completed", 4)], &HubView::default(), 0);
        assert!(!text.contains("status=\"running\""), "{text}");
        assert!(
            text.contains("fleetsim_jobs{api=\"hub\",status=\"completed\"} 4"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn the_hub_model_shows_its_buckets_queue_and_slots() {
        let m = Metrics::new();
        let hub = HubView {
            loads: vec![fleet_sim::ThrottleLoad {
                throttle: "job_device_operations",
                rate_per_s: 10,
                burst: 10,
                backlog_tokens: 25.0,
                at_ms: 1_000,
            }],
            slot_limit: Some(1),
            slots_held: 1,
            jobs_waiting: 2,
        };
        // A second after the publication 10 tokens came back: 15 in use, 5 queued.
        let text = m.render(&[], &hub, 2_000);
        for line in [
            "fleetsim_hub_rate_per_second{throttle=\"job_device_operations\"} 10.0",
            "fleetsim_hub_tokens_available{throttle=\"job_device_operations\"} 0.0",
            "fleetsim_hub_queued_operations{throttle=\"job_device_operations\"} 5.0",
            "fleetsim_hub_concurrent_jobs_limit 1",
            "fleetsim_hub_jobs_holding_slot 1",
            "fleetsim_hub_jobs_waiting 2",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        let later = m.render(&[], &hub, 5_000);
        assert!(
            later
                .contains("fleetsim_hub_tokens_available{throttle=\"job_device_operations\"} 10.0"),
            "{later}"
        );
    }
}
