//! The schema: the same tables and columns on SQLite and PostgreSQL, versioned, and a database
//! from a newer build refused.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use fleet_server::db::{Db, DbError, Location, migrations};

async fn columns(db: &Db) -> BTreeSet<(String, String, String)> {
    let backend = db.backend();
    db.read(move |c| {
        let mut out = BTreeSet::new();
        match backend {
            fleet_server::db::Backend::Sqlite => {
                let tables = c.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", &[])?;
                for t in tables {
                    let name = t.text(0)?;
                    for col in c.query(&format!("SELECT name, type FROM pragma_table_info('{name}')"), &[])? {
                        let ty = match col.text(1)?.as_str() {
                            "INTEGER" | "BIGINT" => "integer",
                            "TEXT" => "text",
                            "BLOB" => "bytes",
                            other => return Err(DbError::Schema(format!("unexpected SQLite type {other}"))),
                        };
                        out.insert((name.clone(), col.text(0)?, ty.to_string()));
                    }
                }
            }
            fleet_server::db::Backend::Postgres => {
                for col in c.query(
                    "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = 'public'",
                    &[],
                )? {
                    let ty = match col.text(2)?.as_str() {
                        "bigint" => "integer",
                        "text" => "text",
                        "bytea" => "bytes",
                        other => return Err(DbError::Schema(format!("unexpected PostgreSQL type {other}"))),
                    };
                    out.insert((col.text(0)?, col.text(1)?, ty.to_string()));
                }
            }
        }
        Ok::<_, DbError>(out)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_hold_the_same_schema() {
    let dir = common::temp_dir("schema");
    let sqlite = Db::open(&Location::Sqlite(dir.join("a.db")), 1)
        .await
        .unwrap();
    let lite = columns(&sqlite).await;
    let tables: BTreeSet<&str> = lite.iter().map(|(t, _, _)| t.as_str()).collect();
    for t in [
        "devices",
        "heartbeats",
        "releases",
        "rollouts",
        "decisions",
        "issued_sequences",
        "sequence_allocator",
        "notices",
        "tickets",
        "alert_events",
        "schema_migrations",
    ] {
        assert!(tables.contains(t), "table {t} missing");
    }
    let Location::Postgres(_) = common::database(&dir).await else {
        eprintln!("SKIP: FLEET_TEST_POSTGRES is not set; compared nothing against PostgreSQL");
        return;
    };
    let pg = Db::open(&common::database(&dir).await, 1).await.unwrap();
    let theirs = columns(&pg).await;
    assert_eq!(lite, theirs, "the schemas differ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_build_is_refused() {
    let dir = common::temp_dir("newer");
    let location = common::database(&dir).await;
    let db = Db::open(&location, 1).await.unwrap();
    assert_eq!(migrations::latest(), 1);
    let next = migrations::latest() + 1;
    db.write(move |c| {
        c.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'from the future', 0)",
            &[next.into()],
        )
    })
    .await
    .unwrap();
    let err = Db::open(&location, 1).await.unwrap_err();
    assert!(
        matches!(&err, DbError::Schema(m) if m.contains("newer than the 1 this build knows")),
        "{err}"
    );
}
