//! The store under `--data`: refused at start when damaged or not a fleetsim store, and a
//! write answered 2xx survives a crash right after.

use serde_json::json;

use crate::common::*;

/// Starting on `data` fails; returns the message.
async fn refused(data: &std::path::Path) -> String {
    match fleet_server::Server::start(config().data_dir(data).build().unwrap()).await {
        Ok(_) => panic!("a server started on a bad store"),
        Err(e) => {
            assert_eq!(e.kind(), fleet_server::ErrorKind::Store);
            e.message().to_string()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_or_foreign_database_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleetsim.db");
    let named = format!("{}: ", db.display());

    std::fs::write(&db, b"").unwrap();
    let m = refused(dir.path()).await;
    assert!(m.starts_with(&named), "{m}");
    assert!(m.contains("the file is empty (0 bytes)"), "{m}");
    assert_eq!(
        std::fs::metadata(&db).unwrap().len(),
        0,
        "the file was touched"
    );

    std::fs::write(&db, "name = \"not a database\"\n".repeat(40)).unwrap();
    let m = refused(dir.path()).await;
    assert!(m.starts_with(&named), "{m}");
    assert!(m.contains("not a SQLite database"), "{m}");

    std::fs::remove_file(&db).unwrap();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES ('mine');")
            .unwrap();
    }
    let m = refused(dir.path()).await;
    assert!(m.starts_with(&named), "{m}");
    assert!(m.contains("not a fleetsim store"), "{m}");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "application_id", 42).unwrap();
    }
    let m = refused(dir.path()).await;
    assert!(m.contains("application_id is 0x0000002a"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(config().data_dir(&data)).await;
    let g = json!({"displayName": "B44", "filter": "SELECT * FROM devices WHERE tags.building = 'b44'"});
    assert_eq!(
        s.put(&format!("/api/deviceGroups/b44?{CV}"), g)
            .await
            .status,
        200
    );
    s.stop().await;
    // Overwrite the third page (a table's b-tree) with garbage.
    let db = data.join("fleetsim.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let page = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    assert!(bytes.len() >= 4 * page, "a store of {} bytes", bytes.len());
    bytes[2 * page..3 * page].fill(0x5a);
    std::fs::write(&db, &bytes).unwrap();
    let m = refused(&data).await;
    assert!(m.starts_with(&format!("{}: ", db.display())), "{m}");
    assert!(
        m.contains("the database is damaged (SQLite quick_check: "),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_copy_of_the_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(config().data_dir(&data)).await;
    s.stop().await;
    let db = data.join("fleetsim.db");
    let old = dir.path().join("old.db");
    std::fs::copy(&db, &old).unwrap();
    let s = start(config().data_dir(&data)).await;
    let g = json!({"displayName": "B44", "filter": "SELECT * FROM devices WHERE tags.building = 'b44'"});
    assert_eq!(
        s.put(&format!("/api/deviceGroups/b44?{CV}"), g)
            .await
            .status,
        200
    );
    s.stop().await;
    std::fs::copy(&old, &db).unwrap();
    let m = refused(&data).await;
    assert!(m.starts_with(&format!("{}: ", db.display())), "{m}");
    assert!(m.contains("acknowledged work is missing"), "{m}");
    assert!(m.contains("fleetsim.db.commits"), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_answered_2xx_survives_a_crash_right_after() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for round in 0..5 {
        let s = start(config().data_dir(&data).time_scale(1000.0)).await;
        let g = json!({"displayName": format!("g{round}"), "filter": "SELECT * FROM devices"});
        let r = s.put(&format!("/api/deviceGroups/g{round}?{CV}"), g).await;
        assert_eq!(r.status, 200);
        let etag = r.body["etag"].clone();
        let job = json!({"type": "scheduleUpdateTwin", "queryCondition": "*", "updateTwin": {"tags": {"round": round}}});
        assert_eq!(
            s.put(&format!("/jobs/v2/j{round}?{HV}"), job).await.status,
            200
        );
        s.kill().await; // at once: no graceful commit after the answers

        let s = start(config().data_dir(&data).time_scale(1000.0)).await;
        let r = s.get(&format!("/api/deviceGroups/g{round}?{CV}")).await;
        assert_eq!(
            r.status, 200,
            "round {round}: the group answered 200 was lost"
        );
        assert_eq!(r.body["etag"], etag);
        let r = s.get(&format!("/jobs/v2/j{round}?{HV}")).await;
        assert_eq!(
            r.status, 200,
            "round {round}: the job answered 200 was lost"
        );
        assert_eq!(r.body["jobId"], format!("j{round}"));
        s.kill().await;
    }
}
