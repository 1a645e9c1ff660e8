//! Opening a store under `--data`, and refusing one that is damaged or not a fleetsim store.
//!
//! - A new store is created whole: in `fleetsim.db.new`, stamped and given its tables, then
//!   renamed into place. So a `fleetsim.db` that is empty was not made by fleetsim (or lost its
//!   data): it is refused, unless its write-ahead log holds the data (a store of an earlier
//!   version killed before its first checkpoint).
//! - The file must be a SQLite database with fleetsim's `application_id` and a format version
//!   this version reads. A store of an earlier version (no `application_id`, but fleetsim's
//!   tables) is stamped and accepted.
//! - SQLite's `quick_check` must answer `ok`.
//! - Every commit is counted in `meta` and, once it is durable, in `fleetsim.db.commits`. A
//!   database holding fewer commits than that file records has lost acknowledged work (its
//!   `-wal` file was deleted or damaged, or an older copy was put in its place): refused.
//!
//! Every refusal names the file and says what is wrong.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::SCHEMA;
use crate::error::{Error, ErrorKind, Result};

/// The database's file name in the data directory.
pub(crate) const DB_FILE: &str = "fleetsim.db";
/// The side file recording the commits made.
pub(crate) const COMMITS_FILE: &str = "fleetsim.db.commits";
/// The `meta` key counting commits.
pub(super) const COMMITS_KEY: &str = "commits";
/// `PRAGMA application_id` of a fleetsim store: "FLTS".
const APPLICATION_ID: i64 = 0x464C_5453;
/// `PRAGMA user_version`: the store's format. Bump when a change cannot be read by older
/// versions. Format 2: effects of jobs of several operations (`Effect` stages of 4 and more);
/// this version reads format 1 as it is.
const FORMAT: i64 = 2;
/// The tables that make a SQLite database an (unstamped) fleetsim store of an earlier version.
const LEGACY_TABLES: [&str; 4] = ["meta", "runs", "inputs", "effects"];

/// An opened, checked store.
pub(super) struct Opened {
    pub(super) conn: Connection,
    pub(super) commits: i64,
    pub(super) marker: Marker,
    pub(super) path: PathBuf,
}

/// A refusal naming `path`.
fn refuse(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Store, format!("{}: {what}", path.display()))
}

/// Opens `dir/fleetsim.db`, creating it whole if neither it nor its companions exist, and
/// checks it.
pub(super) fn open(dir: &Path) -> Result<Opened> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::new(
            ErrorKind::Store,
            format!("cannot create the data directory {}: {e}", dir.display()),
        )
    })?;
    let path = dir.join(DB_FILE);
    let wal = dir.join(format!("{DB_FILE}-wal"));
    let commits_file = dir.join(COMMITS_FILE);
    if !path.exists() {
        for companion in [&wal, &commits_file] {
            if companion.exists() {
                return Err(refuse(
                    &path,
                    format!(
                        "the database is missing but {} is there: the store lost its main \
                         file; restore it, or start with a new --data directory",
                        companion.display()
                    ),
                ));
            }
        }
        create(dir, &path)?;
    }
    check_file(&path, &wal)?;
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| refuse(&path, format!("cannot open the database: {e}")))?;
    let sql = |e: rusqlite::Error| refuse(&path, format!("the database cannot be read: {e}"));
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(refuse(
            &path,
            format!("SQLite cannot use a write-ahead log here (journal mode {mode:?})"),
        ));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql)?;
    check_format(&conn, &path)?;
    quick_check(&conn, &path)?;
    conn.execute_batch(SCHEMA).map_err(sql)?;
    let commits: i64 = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [COMMITS_KEY],
            |r| r.get::<_, String>(0),
        )
        .optional()
        .map_err(sql)?
        .map_or(Ok(0), |v| {
            v.parse().map_err(|_| {
                refuse(
                    &path,
                    format!("meta {COMMITS_KEY:?} is {v:?}, not a number"),
                )
            })
        })?;
    let marker = Marker::open(&commits_file, &path, commits)?;
    Ok(Opened {
        conn,
        commits,
        marker,
        path,
    })
}

/// Creates a new store: stamped, with its tables, in `fleetsim.db.new`, then renamed to `path`
/// (so `path` never exists half made).
fn create(dir: &Path, path: &Path) -> Result<()> {
    let tmp = dir.join(format!("{DB_FILE}.new"));
    let io = |e: std::io::Error| refuse(path, format!("cannot create the database: {e}"));
    for stale in [
        tmp.clone(),
        dir.join(format!("{DB_FILE}.new-journal")),
        dir.join(format!("{DB_FILE}.new-wal")),
    ] {
        match std::fs::remove_file(&stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    {
        let sql = |e: rusqlite::Error| refuse(path, format!("cannot create the database: {e}"));
        let conn = Connection::open(&tmp).map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(sql)?;
        conn.pragma_update(None, "user_version", FORMAT)
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, '0')",
            [COMMITS_KEY],
        )
        .map_err(sql)?;
        conn.close().map_err(|(_, e)| sql(e))?;
    }
    File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    // The rename is durable once the directory is synced (where directories can be opened).
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The file itself: not empty (unless its write-ahead log holds the data), a SQLite database.
fn check_file(path: &Path, wal: &Path) -> Result<()> {
    let mut header = [0u8; 16];
    let mut file = File::open(path).map_err(|e| refuse(path, format!("cannot open: {e}")))?;
    let len = file
        .metadata()
        .map_err(|e| refuse(path, format!("cannot read: {e}")))?
        .len();
    if len == 0 {
        let wal_len = std::fs::metadata(wal).map_or(0, |m| m.len());
        if wal_len > 0 {
            return Ok(()); // an earlier version's store, all in its log until a checkpoint
        }
        return Err(refuse(
            path,
            "the file is empty (0 bytes): it is not a fleetsim store, or it lost its data; \
             restore it from a copy, or start with a new --data directory",
        ));
    }
    let read = file
        .read(&mut header)
        .map_err(|e| refuse(path, format!("cannot read: {e}")))?;
    if read < header.len() || &header != b"SQLite format 3\0" {
        return Err(refuse(
            path,
            "not a fleetsim store: the file is not a SQLite database",
        ));
    }
    Ok(())
}

/// fleetsim's `application_id` and a format this version reads; an earlier version's store
/// (fleetsim's tables, no id) is stamped.
fn check_format(conn: &Connection, path: &Path) -> Result<()> {
    let sql = |e: rusqlite::Error| refuse(path, format!("the database cannot be read: {e}"));
    let id: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(sql)?;
    let format: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql)?;
    match id {
        APPLICATION_ID if format > FORMAT => Err(refuse(
            path,
            format!(
                "the store has format {format}, from a newer fleetsim (this one reads format \
                 {FORMAT})"
            ),
        )),
        APPLICATION_ID => Ok(()),
        0 => {
            let mut found = 0;
            for table in LEGACY_TABLES {
                let n: i64 = conn
                    .query_row(
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                        [table],
                        |r| r.get(0),
                    )
                    .map_err(sql)?;
                found += n;
            }
            if found < LEGACY_TABLES.len() as i64 {
                return Err(refuse(
                    path,
                    "not a fleetsim store: a SQLite database without fleetsim's application id \
                     or tables",
                ));
            }
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(sql)?;
            conn.pragma_update(None, "user_version", FORMAT)
                .map_err(sql)?;
            Ok(())
        }
        other => Err(refuse(
            path,
            format!(
                "not a fleetsim store: its SQLite application_id is {other:#010x} (fleetsim's \
                 is {APPLICATION_ID:#010x})"
            ),
        )),
    }
}

/// SQLite's `quick_check`: the pages, records and indexes hold together.
fn quick_check(conn: &Connection, path: &Path) -> Result<()> {
    let damaged = |what: String| {
        refuse(
            path,
            format!(
                "the database is damaged (SQLite quick_check: {what}); restore it from a copy, \
                 or start with a new --data directory"
            ),
        )
    };
    let mut stmt = conn
        .prepare("PRAGMA quick_check(5)")
        .map_err(|e| damaged(e.to_string()))?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| damaged(e.to_string()))?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(damaged(rows.join("; ")))
    }
}

/// `fleetsim.db.commits`: the number of commits made, written after each one is durable. It
/// is never ahead of the database, so a database behind it lost acknowledged commits.
pub(super) struct Marker {
    file: File,
    path: PathBuf,
}

/// The marker's text: the count, padded to one width so that every write overwrites the last
/// one whole.
fn marker_text(commits: i64) -> String {
    format!("{commits:>20}\n")
}

impl Marker {
    /// Opens (creating) the marker; refuses a database behind it.
    fn open(path: &Path, db: &Path, commits: i64) -> Result<Self> {
        let io = |e: std::io::Error| refuse(path, format!("cannot use: {e}"));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(io)?;
        if !text.trim().is_empty() {
            let recorded: i64 = text.trim().parse().map_err(|_| {
                refuse(
                    path,
                    format!(
                        "damaged: {:?} is not a number of commits; delete it to start from what \
                         {} holds",
                        text.trim(),
                        db.display()
                    ),
                )
            })?;
            if recorded > commits {
                let wal = format!("{}-wal", db.display());
                return Err(refuse(
                    db,
                    format!(
                        "acknowledged work is missing: the database holds {commits} commits but \
                         {} records {recorded}; its write-ahead log {wal} was deleted or is \
                         damaged, or an older copy of the database was put in its place. \
                         Restore the -wal file (or the database); to start anyway from what the \
                         database holds, delete {}",
                        path.display(),
                        path.display()
                    ),
                ));
            }
        }
        file.set_len(0).map_err(io)?;
        let mut marker = Self {
            file,
            path: path.to_path_buf(),
        };
        marker.record(commits)?;
        Ok(marker)
    }

    /// Records `commits` (after the commit is durable).
    pub(super) fn record(&mut self, commits: i64) -> Result<()> {
        let text = marker_text(commits);
        self.file
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.file.write_all(text.as_bytes()))
            .map_err(|e| refuse(&self.path, format!("cannot record the commit: {e}")))
    }
}

/// Test-only fault injection: data directories whose store fails its next commits with the
/// error of a full disk.
#[cfg(test)]
pub(crate) static FAULTS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Makes every later commit of the store under `dir` fail as on a full disk.
#[cfg(test)]
pub(crate) fn inject_fault(dir: &Path) {
    FAULTS.lock().unwrap().push(dir.join(DB_FILE));
}

#[cfg(test)]
pub(super) fn injected_fault(path: Option<&Path>) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    if FAULTS.lock().unwrap().iter().any(|p| p == path) {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        )
        .into());
    }
    Ok(())
}
