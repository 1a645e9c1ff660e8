//! [`Shared`]: what request handlers read without asking the driver, kept current by it.
//!
//! The driver owns every run, the fleet and the database, and is the only writer. After each
//! commit it publishes what changed: the rendered JSON of each job that changed, the device
//! groups and the scheduled jobs. Reads of these (the hot path: clients poll a job's status)
//! are a map lookup and a clone of an `Arc`, and never wait for the driver.

use std::sync::{Arc, Mutex, OnceLock};

use dashmap::DashMap;
use fleet_core::model::{DeviceGroup, ScheduledJob};

use crate::clock::Clock;
use crate::driver::Command;
use crate::hub_view::HubView;
use crate::metrics::Metrics;

/// A job as published: its JSON, rendered once per change, and what listings filter on.
#[derive(Debug, Clone)]
pub(crate) struct JobView {
    /// The job (IoT Central `Job` or IoT Hub `JobResponse`) as JSON text.
    pub(crate) json: Arc<str>,
    /// IoT Hub `type` word (`scheduleDeviceMethod`), empty for IoT Central jobs.
    pub(crate) kind: &'static str,
    /// The status word of the job's dialect.
    pub(crate) status: &'static str,
    /// The scheduled job that created it, if any.
    pub(crate) scheduled_job_id: Option<String>,
}

/// The state handlers share with the driver.
pub(crate) struct Shared {
    pub(crate) central_jobs: DashMap<String, Arc<JobView>>,
    pub(crate) hub_jobs: DashMap<String, Arc<JobView>>,
    pub(crate) groups: DashMap<String, Arc<DeviceGroup>>,
    pub(crate) scheduled: DashMap<String, Arc<ScheduledJob>>,
    pub(crate) commands: crossbeam_channel::Sender<Command>,
    /// Why the server stopped serving (its store failed, or its driver), once it has.
    failure: tokio::sync::watch::Sender<Option<String>>,
    /// The driver's virtual clock, published when the driver opens (it never changes after).
    clock: OnceLock<Clock>,
    /// What `/metrics` shows: counted by the request layer and the driver.
    pub(crate) metrics: Metrics,
    /// The hub model's buckets and slots, as of the driver's last commit.
    hub: Mutex<HubView>,
}

impl Shared {
    pub(crate) fn new(commands: crossbeam_channel::Sender<Command>) -> Self {
        Self {
            central_jobs: DashMap::new(),
            hub_jobs: DashMap::new(),
            groups: DashMap::new(),
            scheduled: DashMap::new(),
            commands,
            failure: tokio::sync::watch::Sender::new(None),
            clock: OnceLock::new(),
            metrics: Metrics::new(),
            hub: Mutex::new(HubView::default()),
        }
    }

    /// Publishes the hub model's state (the driver, after a commit).
    pub(crate) fn publish_hub(&self, view: HubView) {
        *self
            .hub
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = view;
    }

    /// The hub model's state as last published.
    pub(crate) fn hub(&self) -> HubView {
        self.hub
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Publishes the driver's virtual clock (the first one published is kept).
    pub(crate) fn publish_clock(&self, clock: Clock) {
        let _ = self.clock.set(clock);
    }

    /// The driver's virtual clock, once published.
    pub(crate) fn clock(&self) -> Option<Clock> {
        self.clock.get().copied()
    }

    /// Records why the server cannot go on (the first reason is kept) and wakes whoever waits
    /// for it.
    pub(crate) fn fail(&self, reason: String) {
        self.failure.send_if_modified(|f| {
            if f.is_some() {
                return false;
            }
            *f = Some(reason);
            true
        });
    }

    /// Why the server cannot go on, if it cannot.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// Waits until the server cannot go on; returns why.
    pub(crate) async fn failed(&self) -> String {
        let mut rx = self.failure.subscribe();
        let reason = rx.wait_for(Option::is_some).await.map(|f| f.clone());
        // The sender lives in `self`, so the channel cannot close while this waits.
        reason.ok().flatten().unwrap_or_default()
    }
}

/// Sorted ids of a map (listings are in id order, for stable paging).
pub(crate) fn sorted_ids<V>(map: &DashMap<String, V>) -> Vec<String> {
    let mut ids: Vec<String> = map.iter().map(|e| e.key().clone()).collect();
    ids.sort_unstable();
    ids
}
