//! [`Store`]: the durable state in an embedded SQLite database (`fleetsim.db` under `--data`).
//!
//! | table | rows |
//! |---|---|
//! | `meta` | the scenario's fingerprint, the fleet's epoch, the virtual clock reached |
//! | `groups` | IoT Central device groups (JSON documents with their etags) |
//! | `scheduled_jobs` | IoT Central scheduled jobs (JSON documents with their etags) |
//! | `ops` | every job operation ever run, as fleet-sim `Operation` JSON |
//! | `runs` | every job run: dialect, id, definition, targets, status |
//! | `inputs` | every input handed to a run's engine, in order (the run's durable log) |
//! | `schedule_log` | every input handed to a scheduled job's state machine (create, update, replace, delete, a run finished), in order |
//! | `effects` | every write a job, or a direct write (twin update, device property), made to the fleet (desired, reported, cloud properties, twin patches, templates), in order |
//! | `direct` | the device answers still due to direct property writes: when, and how they end |
//!
//! The driver opens one transaction per tick ([`Store::begin`] .. [`Store::commit`]) and
//! answers no request, and publishes no state, before the commit. A run's state after a restart
//! is its engine replayed through its logged inputs; the fleet is rebuilt from the scenario and
//! the logged effects. Nothing is stored that can be derived.
//!
//! Durability: WAL journal, `synchronous = FULL` (a committed tick survives a power cut, not
//! only a killed process).
//!
//! Integrity (see `check`): a new store is created whole (in a temporary file renamed into
//! place), is marked with an `application_id` and a format version, and counts its commits in
//! `meta` and in the side file `fleetsim.db.commits` (written after each commit). On open the
//! file is checked (not empty, a SQLite database, a fleetsim store of a format this version
//! reads, SQLite's `quick_check`), and a database holding fewer commits than the side file
//! records (a write-ahead log lost or damaged) is refused.

pub(crate) mod check;

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;

/// One logged engine input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InputRow {
    pub(crate) at_ms: i64,
    pub(crate) kind: u8,
    pub(crate) device: u32,
    pub(crate) attempt: u8,
    pub(crate) value: i64,
}

/// One stored run.
#[derive(Debug, Clone)]
pub(crate) struct RunRow {
    pub(crate) no: i64,
    pub(crate) dialect: String,
    pub(crate) id: String,
    pub(crate) doc: String,
    pub(crate) op: i64,
    pub(crate) created_ms: i64,
    pub(crate) start_ms: i64,
    pub(crate) targets: Option<Vec<u8>>,
    pub(crate) status: String,
    pub(crate) finished_ms: Option<i64>,
    /// A settled run's summary (status, counts, times) as JSON: a restart need not replay it.
    pub(crate) summary: Option<String>,
}

/// The database.
pub(crate) struct Store {
    conn: Connection,
    in_tx: bool,
    /// Commits made so far (meta `commits`).
    commits: i64,
    /// The side file recording `commits` after each commit (none in memory).
    marker: Option<check::Marker>,
    /// The database file (none in memory).
    path: Option<PathBuf>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS groups(id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scheduled_jobs(id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ops(id INTEGER PRIMARY KEY, op TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
    no INTEGER PRIMARY KEY, dialect TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL,
    op INTEGER NOT NULL, created_ms INTEGER NOT NULL, start_ms INTEGER NOT NULL,
    targets BLOB, status TEXT NOT NULL, finished_ms INTEGER, summary TEXT,
    UNIQUE(dialect, id));
CREATE TABLE IF NOT EXISTS inputs(
    run INTEGER NOT NULL, seq INTEGER NOT NULL, at_ms INTEGER NOT NULL, kind INTEGER NOT NULL,
    device INTEGER NOT NULL, attempt INTEGER NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY(run, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schedule_log(
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL, at_ms INTEGER NOT NULL, kind TEXT NOT NULL,
    body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS effects(
    seq INTEGER PRIMARY KEY, op INTEGER NOT NULL, device INTEGER NOT NULL, stage INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS direct(
    no INTEGER PRIMARY KEY, op INTEGER NOT NULL, device INTEGER NOT NULL, at_ms INTEGER NOT NULL,
    reason INTEGER NOT NULL);
";

/// A device answer still due to a direct write (not a job's): operation `op`, device `device`,
/// due at `at_ms`, ending with reason code `reason` (0: success).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirectRow {
    pub(crate) no: i64,
    pub(crate) op: i64,
    pub(crate) device: u32,
    pub(crate) at_ms: i64,
    pub(crate) reason: u8,
}

impl Store {
    /// Opens (creating if needed) `dir/fleetsim.db`, or an in-memory database. An existing
    /// store is checked first (see `check`): damage is refused, naming the file.
    pub(crate) fn open(dir: Option<&Path>) -> Result<Self> {
        let Some(dir) = dir else {
            let conn = Connection::open_in_memory()?;
            conn.execute_batch(SCHEMA)?;
            return Ok(Self {
                conn,
                in_tx: false,
                commits: 0,
                marker: None,
                path: None,
            });
        };
        let opened = check::open(dir)?;
        Ok(Self {
            conn: opened.conn,
            in_tx: false,
            commits: opened.commits,
            marker: Some(opened.marker),
            path: Some(opened.path),
        })
    }

    /// The database file, or `None` in memory.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Starts the tick's transaction (no-op if one is open).
    pub(crate) fn begin(&mut self) -> Result<()> {
        if !self.in_tx {
            self.conn.execute_batch("BEGIN")?;
            self.in_tx = true;
        }
        Ok(())
    }

    /// Commits the tick's transaction (no-op if none is open), counting the commit in `meta`
    /// and then in the side file. When this returns, the commit is durable (`synchronous =
    /// FULL`).
    pub(crate) fn commit(&mut self) -> Result<()> {
        if !self.in_tx {
            return Ok(());
        }
        #[cfg(test)]
        check::injected_fault(self.path.as_deref())?;
        let commits = self.commits + 1;
        self.set_meta(check::COMMITS_KEY, &commits.to_string())?;
        self.conn.execute_batch("COMMIT")?;
        self.in_tx = false;
        self.commits = commits;
        if let Some(marker) = &mut self.marker {
            marker.record(commits)?;
        }
        Ok(())
    }

    // ----- meta -----

    pub(crate) fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    pub(crate) fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")?
            .execute([key, value])?;
        Ok(())
    }

    // ----- documents (groups, scheduled jobs) -----

    fn table(kind: DocKind) -> &'static str {
        match kind {
            DocKind::Group => "groups",
            DocKind::Scheduled => "scheduled_jobs",
        }
    }

    pub(crate) fn put_doc(&self, kind: DocKind, id: &str, doc: &str) -> Result<()> {
        let sql = format!(
            "INSERT OR REPLACE INTO {}(id, doc) VALUES (?1, ?2)",
            Self::table(kind)
        );
        self.conn.prepare_cached(&sql)?.execute([id, doc])?;
        Ok(())
    }

    pub(crate) fn delete_doc(&self, kind: DocKind, id: &str) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE id = ?1", Self::table(kind));
        self.conn.prepare_cached(&sql)?.execute([id])?;
        Ok(())
    }

    pub(crate) fn docs(&self, kind: DocKind) -> Result<Vec<(String, String)>> {
        let sql = format!("SELECT id, doc FROM {} ORDER BY id", Self::table(kind));
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    // ----- operations -----

    pub(crate) fn insert_op(&self, op: &str) -> Result<i64> {
        self.conn
            .prepare_cached("INSERT INTO ops(op) VALUES (?1)")?
            .execute([op])?;
        Ok(self.conn.last_insert_rowid())
    }

    pub(crate) fn ops(&self) -> Result<Vec<(i64, String)>> {
        let mut stmt = self.conn.prepare("SELECT id, op FROM ops ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    // ----- runs -----

    pub(crate) fn insert_run(&self, run: &RunRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO runs(no, dialect, id, doc, op, created_ms, start_ms, targets, \
                 status, finished_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                run.no,
                run.dialect,
                run.id,
                run.doc,
                run.op,
                run.created_ms,
                run.start_ms,
                run.targets,
                run.status,
                run.finished_ms
            ])?;
        Ok(())
    }

    pub(crate) fn set_targets(&self, no: i64, targets: &[u8]) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE runs SET targets = ?2 WHERE no = ?1")?
            .execute(params![no, targets])?;
        Ok(())
    }

    pub(crate) fn run_targets(&self, no: i64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT targets FROM runs WHERE no = ?1")?
            .query_row([no], |r| r.get(0))
            .optional()?
            .flatten())
    }

    pub(crate) fn set_status(&self, no: i64, status: &str, finished_ms: Option<i64>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE runs SET status = ?2, finished_ms = ?3 WHERE no = ?1")?
            .execute(params![no, status, finished_ms])?;
        Ok(())
    }

    pub(crate) fn set_summary(&self, no: i64, summary: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE runs SET summary = ?2 WHERE no = ?1")?
            .execute(params![no, summary])?;
        Ok(())
    }

    pub(crate) fn delete_run(&self, no: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM inputs WHERE run = ?1")?
            .execute([no])?;
        self.conn
            .prepare_cached("DELETE FROM runs WHERE no = ?1")?
            .execute([no])?;
        Ok(())
    }

    pub(crate) fn runs(&self) -> Result<Vec<RunRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT no, dialect, id, doc, op, created_ms, start_ms, targets, status, finished_ms, \
             summary \
             FROM runs ORDER BY no",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RunRow {
                no: r.get(0)?,
                dialect: r.get(1)?,
                id: r.get(2)?,
                doc: r.get(3)?,
                op: r.get(4)?,
                created_ms: r.get(5)?,
                start_ms: r.get(6)?,
                targets: r.get(7)?,
                status: r.get(8)?,
                finished_ms: r.get(9)?,
                summary: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    // ----- logs -----

    pub(crate) fn log_input(&self, run: i64, seq: i64, row: InputRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO inputs(run, seq, at_ms, kind, device, attempt, value) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                run,
                seq,
                row.at_ms,
                row.kind,
                row.device,
                row.attempt,
                row.value
            ])?;
        Ok(())
    }

    pub(crate) fn inputs(&self, run: i64) -> Result<Vec<InputRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at_ms, kind, device, attempt, value FROM inputs WHERE run = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([run], |r| {
            Ok(InputRow {
                at_ms: r.get(0)?,
                kind: r.get(1)?,
                device: r.get(2)?,
                attempt: r.get(3)?,
                value: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    pub(crate) fn log_schedule(&self, id: &str, at_ms: i64, kind: &str, body: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO schedule_log(id, at_ms, kind, body) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, at_ms, kind, body])?;
        Ok(())
    }

    /// Every logged scheduled-job input, in order: (id, at_ms, kind, body).
    pub(crate) fn schedule_log(&self) -> Result<Vec<(String, i64, String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, at_ms, kind, body FROM schedule_log ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    pub(crate) fn log_effect(&self, op: i64, device: u32, stage: u8) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO effects(op, device, stage) VALUES (?1, ?2, ?3)")?
            .execute(params![op, device, stage])?;
        Ok(())
    }

    /// Calls `f(op, device, stage)` for every logged effect, in order.
    pub(crate) fn each_effect(&self, mut f: impl FnMut(i64, u32, u8)) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT op, device, stage FROM effects ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(r.get(0)?, r.get(1)?, r.get(2)?);
        }
        Ok(())
    }
}

impl Store {
    // ----- direct writes -----

    /// Records a device answer due to a direct write.
    pub(crate) fn insert_direct(&self, row: DirectRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO direct(no, op, device, at_ms, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![row.no, row.op, row.device, row.at_ms, row.reason])?;
        Ok(())
    }

    /// Forgets a device answer once it has come.
    pub(crate) fn delete_direct(&self, no: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM direct WHERE no = ?1")?
            .execute([no])?;
        Ok(())
    }

    /// The device answers still due to direct writes, in order.
    pub(crate) fn directs(&self) -> Result<Vec<DirectRow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT no, op, device, at_ms, reason FROM direct ORDER BY no")?;
        let rows = stmt.query_map([], |r| {
            Ok(DirectRow {
                no: r.get(0)?,
                op: r.get(1)?,
                device: r.get(2)?,
                at_ms: r.get(3)?,
                reason: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}

/// Which document table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocKind {
    Group,
    Scheduled,
}

#[cfg(test)]
mod tests;
