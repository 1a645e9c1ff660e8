//! The checks at open, on the store itself (the server-level refusals are in
//! `tests/server/store.rs`).

use super::check::{COMMITS_FILE, DB_FILE};
use super::Store;

fn commit_a_tick(store: &mut Store, clock: i64) {
    store.begin().unwrap();
    store.set_meta("clock", &clock.to_string()).unwrap();
    store.commit().unwrap();
}

#[test]
fn a_store_is_durable_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(Some(dir.path())).unwrap();
    let sync: i64 = store
        .conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "synchronous must be FULL");
    let mode: String = store
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let id: i64 = store
        .conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    assert_eq!(id, 0x464C_5453);
}

#[test]
fn a_lost_write_ahead_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(Some(dir.path())).unwrap();
    for t in 0..3 {
        commit_a_tick(&mut store, t);
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join(COMMITS_FILE))
            .unwrap()
            .trim(),
        "3"
    );
    // As after a crash: the three commits are in the -wal file only (no checkpoint yet).
    // A copy of the directory without it has lost them.
    let lost = tempfile::tempdir().unwrap();
    let whole = tempfile::tempdir().unwrap();
    for name in [DB_FILE.to_string(), COMMITS_FILE.to_string()] {
        std::fs::copy(dir.path().join(&name), lost.path().join(&name)).unwrap();
        std::fs::copy(dir.path().join(&name), whole.path().join(&name)).unwrap();
    }
    let wal = format!("{DB_FILE}-wal");
    std::fs::copy(dir.path().join(&wal), whole.path().join(&wal)).unwrap();
    drop(store);

    let e = Store::open(Some(lost.path()))
        .err()
        .expect("a store that lost its log opened");
    let db = lost.path().join(DB_FILE);
    assert!(
        e.message().starts_with(&format!("{}: ", db.display())),
        "{e}"
    );
    assert!(
        e.message()
            .contains("acknowledged work is missing: the database holds 0 commits"),
        "{e}"
    );
    assert!(e.message().contains("records 3"), "{e}");
    assert!(e.message().contains("fleetsim.db-wal"), "{e}");

    // With its log, the copy is whole.
    let store = Store::open(Some(whole.path())).unwrap();
    assert_eq!(store.commits, 3);
    assert_eq!(store.meta("clock").unwrap().as_deref(), Some("2"));
    drop(store);

    // Deleting the marker accepts what the database holds, as the message says.
    std::fs::remove_file(lost.path().join(COMMITS_FILE)).unwrap();
    let store = Store::open(Some(lost.path())).unwrap();
    assert_eq!(store.commits, 0);
}

#[test]
fn a_store_of_an_earlier_version_is_stamped_and_accepted() {
    let dir = tempfile::tempdir().unwrap();
    {
        // As the earlier version made it: no application_id, WAL, its tables.
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch(super::SCHEMA).unwrap();
        conn.execute("INSERT INTO meta(key, value) VALUES ('clock', '7')", [])
            .unwrap();
    }
    let store = Store::open(Some(dir.path())).unwrap();
    assert_eq!(store.meta("clock").unwrap().as_deref(), Some("7"));
    let id: i64 = store
        .conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    assert_eq!(id, 0x464C_5453);
}
