//! Opening the store, and rebuilding the world from it after a restart.
//!
//! Every stored run is rebuilt by replaying its logged inputs through a new executor
//! ([`RunExec::replay`]; the engine is pure, so the replay ends in the state the run had at the
//! last commit), and the fleet is rebuilt from the scenario and the logged writes. A device
//! that was in flight at the last commit keeps its attempt: its fate is drawn again from the
//! same random stream ([`RunExec::resume`]: same latency, same outcome) and its answer comes at
//! the same virtual time. Timers still wanted are armed again. So no device result that was
//! acknowledged is lost, no attempt is dispatched twice, and what was not committed before the
//! crash happens again exactly as it would have.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use fleet_core::model::DeviceGroup;
use fleet_core::{JobRun, RunStatus};
use fleet_sim::{Operation, PreparedOp, RunExec, RunKey};

use super::log::{input_of, RunDoc, Summary};
use super::render::{failure_text, to_json};
use super::{Ctx, Dialect, Driver, DriverConfig, Event, Events, Run, RunAgenda};
use crate::clock::{self, Clock};
use crate::error::{Error, ErrorKind, Result};
use crate::schedules::{self, ScheduleInput};
use crate::state::Shared;
use crate::store::{DocKind, Effect, RunRow, Store};

/// The targets of a stored run, from their blob.
fn targets_of(blob: &[u8]) -> Vec<u32> {
    blob.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Driver {
    /// Opens the world: rebuilds the fleet, the documents and every run from the store.
    pub(crate) fn open(
        world: crate::world::World,
        store: Store,
        config: DriverConfig,
        shared: Arc<Shared>,
    ) -> Result<Self> {
        match store.meta("scenario")? {
            Some(f) if f != world.fingerprint => {
                return Err(Error::new(
                    ErrorKind::Store,
                    "the data directory belongs to another scenario (or another version of \
                     it): give the scenario it was created with, or a new --data directory",
                ))
            }
            Some(_) => {}
            None => store.set_meta("scenario", &world.fingerprint)?,
        }
        // A fresh store's clock starts at the scenario's clock_start, or now.
        let fresh_vt = world.clock_start_ms.unwrap_or_else(clock::wall_ms);
        let start_vt = match store.meta("clock")? {
            Some(v) => v.parse().unwrap_or(fresh_vt),
            None => fresh_vt,
        };
        let epoch = match store.meta("epoch")? {
            Some(v) => v.parse().unwrap_or(start_vt),
            None => {
                store.set_meta("epoch", &start_vt.to_string())?;
                start_vt
            }
        };
        seed_groups(&store, &world.groups)?;
        let slots = world.model.hub_limits().map(|l| l.concurrent_jobs);
        let mut driver = Self {
            ctx: Ctx {
                model: world.model.with_epoch(epoch),
                store,
                events: Events::default(),
                outbox: Default::default(),
            },
            runs: HashMap::new(),
            index: HashMap::new(),
            next_run: 1,
            slots: fleet_sim::JobSlots::new(slots),
            clock: Clock::new(start_vt, config.time_scale),
            now: start_vt,
            config,
            shared,
            groups: HashMap::new(),
            scheduled: HashMap::new(),
            finished: Vec::new(),
            etag_seq: 0,
            rebuilt: None,
            dirty: Vec::new(),
            last_expiry: Instant::now(),
            directs: std::collections::BTreeMap::new(),
            direct_seq: 0,
            late: Vec::new(),
            links: Default::default(),
        };
        driver.ctx.outbox.active = driver.ctx.model.real_count() != 0;
        driver.shared.publish_clock(driver.clock);
        driver.restore()?;
        Ok(driver)
    }

    /// Rebuilds documents, the fleet's writes and every run from the store.
    fn restore(&mut self) -> Result<()> {
        self.restore_documents()?;
        let ops = self.restore_fleet()?;
        self.restore_directs(&ops)?;
        for row in self.ctx.store.runs()? {
            let no = row.no;
            self.next_run = self.next_run.max(no + 1);
            let Some(op) = ops.get(&row.op).cloned() else {
                continue;
            };
            self.restore_run(row, op)?;
        }
        // Runs waiting for a slot, in creation order.
        let mut waiting: Vec<(i64, i64)> = self
            .runs
            .values()
            .filter(|r| r.waiting)
            .map(|r| (r.created_ms, r.no))
            .collect();
        waiting.sort_unstable();
        for (_, no) in waiting {
            self.slots.wait(no);
        }
        let nos: Vec<i64> = self.runs.keys().copied().collect();
        for no in nos {
            self.publish(no);
        }
        Ok(())
    }

    /// Device groups, and scheduled jobs from their log.
    fn restore_documents(&mut self) -> Result<()> {
        for (id, doc) in self.ctx.store.docs(DocKind::Group)? {
            if let Ok(g) = serde_json::from_str::<DeviceGroup>(&doc) {
                self.shared.groups.insert(id.clone(), Arc::new(g.clone()));
                self.groups.insert(id, g);
            }
        }
        let mut ignored = Vec::new();
        for (id, at, _, body) in self.ctx.store.schedule_log()? {
            let Ok(input) = serde_json::from_str::<ScheduleInput>(&body) else {
                continue;
            };
            if let Ok(Some(state)) =
                schedules::apply(self.scheduled.get_mut(&id), &id, at, &input, &mut ignored)
            {
                self.scheduled.insert(id, state);
            }
            ignored.clear();
        }
        let ids: Vec<String> = self.scheduled.keys().cloned().collect();
        for id in ids {
            self.publish_scheduled(&id);
        }
        Ok(())
    }

    /// The stored operations, prepared, and the fleet's logged writes applied in order.
    fn restore_fleet(&mut self) -> Result<HashMap<i64, PreparedOp>> {
        let mut ops: HashMap<i64, PreparedOp> = HashMap::new();
        for (id, json) in self.ctx.store.ops()? {
            let bad =
                |e: String| Error::new(ErrorKind::Store, format!("stored operation {id}: {e}"));
            let op: Operation = serde_json::from_str(&json).map_err(|e| bad(e.to_string()))?;
            let prepared = self
                .ctx
                .model
                .prepare(&op)
                .map_err(|e| bad(e.to_string()))?;
            ops.insert(id, prepared);
        }
        let model = &mut self.ctx.model;
        self.ctx.store.each_effect(|op, device, effect| {
            if let Some(op) = ops.get(&op) {
                if device < model.fleet().len() {
                    match effect {
                        Effect::Dispatch { parts } => model.replay_dispatch(op, device, parts),
                        Effect::Answer => model.replay_answer(op, device),
                    }
                }
            }
        })?;
        Ok(ops)
    }

    fn restore_run(&mut self, row: RunRow, op: PreparedOp) -> Result<()> {
        let bad = |m: String| Error::new(ErrorKind::Store, format!("run {}: {m}", row.id));
        let doc: RunDoc = serde_json::from_str(&row.doc).map_err(|e| bad(e.to_string()))?;
        let builder = doc.builder().map_err(|e| bad(e.to_string()))?;
        let dialect = match row.dialect.as_str() {
            "hub" => Dialect::Hub,
            _ => Dialect::Central,
        };
        let handover = super::real::Handover::of_doc(&doc, self.ctx.model.fleet().templates());
        let mut run = Run {
            handover,
            no: row.no,
            dialect,
            id: row.id.clone(),
            doc,
            op,
            op_id: row.op,
            builder,
            created_ms: row.created_ms,
            start_ms: row.start_ms,
            exec: None,
            seq: 0,
            holds_slot: false,
            waiting: false,
            settled: false,
            finished_ms: row.finished_ms,
            failure: None,
            stored_status: RunStatus::Pending,
            summary: None,
            logged: Default::default(),
        };
        if let Some(summary) = row.summary.as_deref().and_then(Summary::from_json) {
            // Settled: nothing to replay; its devices are rebuilt from the log on demand.
            run.summary = Some(summary);
            run.settled = true;
            run.stored_status = summary.status;
            run.finished_ms = summary.finished.or(row.finished_ms);
            if summary.status == RunStatus::Failed {
                run.failure = Some(failure_text(&run));
            }
        } else {
            match &row.targets {
                // Not started: start it when due (or wait for a slot, as before).
                None if row.status == "waiting" => run.waiting = true,
                None => self
                    .ctx
                    .events
                    .push(row.start_ms, Event::Start { run: row.no }),
                Some(blob) => self.resume_run(&mut run, targets_of(blob), row.finished_ms)?,
            }
        }
        self.index.insert((dialect, row.id), row.no);
        self.runs.insert(row.no, run);
        Ok(())
    }

    /// Rebuilds a started run from its logged inputs, and carries on with its devices in
    /// flight and its timers.
    fn resume_run(
        &mut self,
        run: &mut Run,
        targets: Vec<u32>,
        finished: Option<i64>,
    ) -> Result<()> {
        let bad = |m: String| Error::new(ErrorKind::Store, format!("run {}: {m}", run.id));
        let inputs = self.ctx.store.inputs(run.no)?;
        let mut exec = self.replayed(run, targets, &inputs).map_err(bad)?;
        let ctx = &mut self.ctx;
        let mut agenda = RunAgenda {
            events: &mut ctx.events,
            store: &ctx.store,
            run: run.no,
            op_id: run.op_id,
            seq: &mut run.seq,
            error: None,
            dispatched: 0,
            outbox: &mut ctx.outbox,
        };
        exec.resume(&mut ctx.model, &run.op, &mut agenda);
        if let Some(e) = agenda.error {
            return Err(e);
        }
        let job = exec.run();
        run.stored_status = job.status();
        run.settled = job.is_settled();
        if !run.settled && self.slots.limited() {
            self.slots.hold();
            run.holds_slot = true;
        }
        run.seq = inputs.len() as i64;
        run.finished_ms = job.finished_ms().or(finished);
        if job.status() == RunStatus::Failed {
            run.failure = Some(failure_text(run));
        }
        run.exec = Some(exec);
        run.evict();
        Ok(())
    }

    /// A new executor for `run` over `targets` with the logged `inputs` replayed.
    fn replayed(
        &self,
        run: &Run,
        targets: Vec<u32>,
        inputs: &[crate::store::InputRow],
    ) -> std::result::Result<RunExec, String> {
        let job: JobRun = run
            .builder
            .build(targets.len() as u32)
            .map_err(|e| e.to_string())?;
        let key = RunKey::new(self.ctx.model.seed(), &run.id);
        let mut exec = RunExec::new(job, key, Some(targets));
        for row in inputs {
            let (input, reason) = input_of(row);
            exec.replay(row.at_ms, input, reason)
                .map_err(|e| format!("replaying the log: {e}"))?;
        }
        Ok(exec)
    }

    /// Calls `f` with a run's executor: in memory, or rebuilt from the log for a settled run
    /// whose state was evicted (one such run is kept rebuilt, for paging through its devices).
    /// `None` if the run has not started.
    pub(super) fn with_state<T>(
        &mut self,
        no: i64,
        f: impl FnOnce(&RunExec) -> T,
    ) -> Result<Option<T>> {
        let Some(r) = self.runs.get(&no) else {
            return Ok(None);
        };
        if let Some(exec) = &r.exec {
            return Ok(Some(f(exec)));
        }
        if r.summary.is_none() {
            return Ok(None);
        }
        if self.rebuilt.as_ref().is_none_or(|(n, _)| *n != no) {
            let blob = self.ctx.store.run_targets(no)?.unwrap_or_default();
            let inputs = self.ctx.store.inputs(no)?;
            let exec = self
                .replayed(r, targets_of(&blob), &inputs)
                .map_err(|e| Error::new(ErrorKind::Store, format!("run {no}: {e}")))?;
            self.rebuilt = Some((no, exec));
        }
        let (_, exec) = self.rebuilt.as_ref().expect("rebuilt above");
        Ok(Some(f(exec)))
    }
}

/// Stores the scenario's device groups in a new store, each with an etag.
fn seed_groups(store: &Store, groups: &[DeviceGroup]) -> Result<()> {
    if store.meta("groups_seeded")?.is_some() {
        return Ok(());
    }
    for g in groups {
        let mut g = g.clone();
        g.etag = Some(format!(
            "\"{:016x}\"",
            crate::world::fnv(g.filter.as_bytes())
        ));
        let id = g.id.clone().unwrap_or_default();
        store.put_doc(DocKind::Group, &id, &to_json(&g))?;
    }
    store.set_meta("groups_seeded", "1")
}
