//! Backup and restore end to end: the SQL statements through psql and
//! tokio-postgres, consistency of a hot backup under concurrent writers,
//! damaged and wrongly-keyed backups, path escapes, SIGKILL during BACKUP
//! and RESTORE, and cold backups of a stopped data directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use joltdb_tests::{assert_sqlstate, server_binary, ServerOpts, TestServer};
use rand::Rng;
use tokio_postgres::error::SqlState;

fn backup_file(server: &TestServer, name: &str) -> PathBuf {
    server.data_dir().join("backups").join(name)
}

async fn count(c: &tokio_postgres::Client, table: &str) -> i64 {
    c.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

async fn table_missing(c: &tokio_postgres::Client, table: &str) {
    assert_sqlstate(
        c.simple_query(&format!("SELECT * FROM {table}")).await,
        &SqlState::UNDEFINED_TABLE,
    );
}

#[test]
fn psql_session_backs_up_and_restores_a_table() {
    let server = TestServer::start_default();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("session.sql");
    std::fs::write(
        &script,
        "CREATE TABLE mytable (id INT PRIMARY KEY, name VARCHAR(100));
INSERT INTO mytable VALUES (1, 'John');
BACKUP TABLE mytable TO 'mytable.backup';
DROP TABLE mytable;
RESTORE TABLE mytable FROM 'mytable.backup';
SELECT * FROM mytable;
",
    )
    .unwrap();
    let out = server.psql(&["-v", "ON_ERROR_STOP=1", "-f", script.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "psql reported errors"
    );
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "CREATE TABLE\nINSERT 0 1\nBACKUP\nDROP TABLE\nRESTORE\n id | name \n----+------\n  1 | John\n(1 row)\n\n"
    );
    assert!(backup_file(&server, "mytable.backup").is_file());
}

#[tokio::test]
async fn restore_keeps_definitions_sequences_and_survives_restart() {
    let mut server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE acct (id serial PRIMARY KEY, owner text NOT NULL UNIQUE,
             balance numeric(12,2) NOT NULL DEFAULT 5 CHECK (balance >= 0));
         CREATE INDEX acct_balance ON acct (balance);
         INSERT INTO acct (owner, balance) VALUES ('ann', 10), ('bob', 20), ('cy', 30);
         CREATE TABLE log (msg text);
         INSERT INTO log VALUES ('a'), ('b');",
    )
    .await
    .unwrap();
    c.batch_execute("BACKUP DATABASE TO 'db1' WITH (compression = 'none')")
        .await
        .unwrap();

    // Restoring over existing tables needs replace.
    assert_sqlstate(
        c.batch_execute("RESTORE DATABASE FROM 'db1'").await,
        &SqlState::DUPLICATE_TABLE,
    );
    c.batch_execute("RESTORE TABLE acct FROM 'db1' AS acct2")
        .await
        .unwrap();
    c.batch_execute("DELETE FROM acct; DELETE FROM log; INSERT INTO log VALUES ('x')")
        .await
        .unwrap();
    c.batch_execute("RESTORE DATABASE FROM 'db1' WITH (replace = true)")
        .await
        .unwrap();

    for t in ["acct", "acct2"] {
        // Definitions came back: the sequence continues, defaults, CHECK
        // and UNIQUE hold.
        let row = c
            .query_one(
                &format!("INSERT INTO {t} (owner) VALUES ('dee') RETURNING id, balance::text"),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, i32>(0), 4, "{t}");
        assert_eq!(row.get::<_, String>(1), "5.00");
        assert_sqlstate(
            c.batch_execute(&format!("INSERT INTO {t} (owner) VALUES ('ann')"))
                .await,
            &SqlState::UNIQUE_VIOLATION,
        );
        assert_sqlstate(
            c.batch_execute(&format!(
                "INSERT INTO {t} (owner, balance) VALUES ('eve', -1)"
            ))
            .await,
            &SqlState::CHECK_VIOLATION,
        );
        let owners: Vec<String> = c
            .query(
                &format!("SELECT owner FROM {t} WHERE balance >= 20 ORDER BY 1"),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(owners, ["bob", "cy"]);
    }
    let logs: Vec<String> = c
        .query("SELECT msg FROM log ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(logs, ["a", "b"]);

    // SHOW BACKUP lists the tables with their row counts.
    let rows = c.simple_query("SHOW BACKUP 'db1'").await.unwrap();
    let listed: Vec<(String, String, String, String)> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some((
                r.get(0).unwrap().to_string(),
                r.get(1).unwrap().to_string(),
                r.get(4).unwrap().to_string(),
                r.get(5).unwrap().to_string(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("acct".into(), "3".into(), "f".into(), "f".into()),
            ("log".into(), "2".into(), "f".into(), "f".into())
        ]
    );

    // Restored rows are in the log: they survive SIGKILL and restart.
    drop(c);
    server.kill9();
    server.restart();
    let c = server.connect().await;
    assert_eq!(count(&c, "acct").await, 4);
    assert_eq!(count(&c, "acct2").await, 4);
    assert_eq!(count(&c, "log").await, 2);
    let next: i32 = c
        .query_one("INSERT INTO acct2 (owner) VALUES ('fay') RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    assert!(next > 4);
}

#[tokio::test]
async fn damaged_and_wrongly_keyed_backups_restore_nothing() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        .await
        .unwrap();
    for chunk in 0..50 {
        let values: Vec<String> = (1..=100)
            .map(|i| format!("({}, repeat('x', 50) || {i})", chunk * 100 + i))
            .collect();
        c.batch_execute(&format!("INSERT INTO t VALUES {}", values.join(",")))
            .await
            .unwrap();
    }
    c.batch_execute("BACKUP TABLE t TO 'enc' WITH (encryption_passphrase = 'correct horse')")
        .await
        .unwrap();
    let good = std::fs::read(backup_file(&server, "enc")).unwrap();
    assert!(
        !good.windows(5).any(|w| w == b"xxxxx"),
        "encrypted backup holds plaintext"
    );

    let verified = c
        .simple_query("VERIFY BACKUP 'enc' WITH (encryption_passphrase = 'correct horse')")
        .await
        .unwrap();
    assert!(verified.iter().any(|m| matches!(m,
        tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("t") && r.get(1) == Some("5000"))));

    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    std::fs::write(backup_file(&server, "flipped"), &flipped).unwrap();
    std::fs::write(backup_file(&server, "truncated"), &good[..good.len() - 100]).unwrap();

    let with_pw = " WITH (encryption_passphrase = 'correct horse')";
    for (name, state) in [
        ("flipped", &SqlState::DATA_CORRUPTED),
        ("truncated", &SqlState::DATA_CORRUPTED),
    ] {
        assert_sqlstate(
            c.batch_execute(&format!("RESTORE TABLE t FROM '{name}' AS t_copy{with_pw}"))
                .await,
            state,
        );
        assert_sqlstate(
            c.simple_query(&format!("VERIFY BACKUP '{name}'{with_pw}"))
                .await,
            state,
        );
    }
    assert_sqlstate(
        c.batch_execute(
            "RESTORE TABLE t FROM 'enc' AS t_copy WITH (encryption_passphrase = 'wrong')",
        )
        .await,
        &SqlState::INVALID_PASSWORD,
    );
    assert_sqlstate(
        c.batch_execute("RESTORE TABLE t FROM 'enc' AS t_copy")
            .await,
        &SqlState::INVALID_PARAMETER_VALUE,
    );
    assert_sqlstate(
        c.batch_execute("RESTORE TABLE t FROM 'missing' AS t_copy")
            .await,
        &SqlState::UNDEFINED_OBJECT,
    );
    table_missing(&c, "t_copy").await;

    // Nothing is restored over an existing table unless asked.
    assert_sqlstate(
        c.batch_execute(&format!("RESTORE TABLE t FROM 'enc'{with_pw}"))
            .await,
        &SqlState::DUPLICATE_TABLE,
    );
    c.batch_execute(&format!("RESTORE TABLE t FROM 'enc' AS t_copy{with_pw}"))
        .await
        .unwrap();
    assert_eq!(count(&c, "t_copy").await, 5000);
    assert!(
        !server.log().contains("correct horse"),
        "the passphrase reached the server log"
    );
}

#[tokio::test]
async fn backup_names_cannot_leave_the_backup_directory() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(server.data_dir().join("backups")).unwrap();
    std::os::unix::fs::symlink(outside.path(), backup_file(&server, "link")).unwrap();
    let abs = outside.path().join("abs");
    for name in [
        "../escape",
        "a/../../escape",
        abs.to_str().unwrap(),
        "link/escape",
    ] {
        assert_sqlstate(
            c.batch_execute(&format!("BACKUP TABLE t TO '{name}'"))
                .await,
            &SqlState::INSUFFICIENT_PRIVILEGE,
        );
        assert_sqlstate(
            c.batch_execute(&format!("RESTORE TABLE t FROM '{name}' AS t2"))
                .await,
            &SqlState::INSUFFICIENT_PRIVILEGE,
        );
    }
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    assert!(!server.data_dir().join("escape").exists());
    // Inside a transaction block, backup statements are refused.
    c.batch_execute("BEGIN").await.unwrap();
    assert_sqlstate(
        c.batch_execute("BACKUP TABLE t TO 'intx'").await,
        &SqlState::ACTIVE_SQL_TRANSACTION,
    );
    c.batch_execute("ROLLBACK").await.unwrap();
}

const ACCOUNTS: i32 = 2000;
const INITIAL: i64 = 1000;

/// Transfers money between random accounts until told to stop; returns the
/// number of committed transfers.
async fn transfer_loop(
    server_cfg: tokio_postgres::Config,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) {
    let c = joltdb_tests::connect_with(server_cfg).await.unwrap();
    while !stop.load(Ordering::Relaxed) {
        let (a, b, amount) = {
            let mut rng = rand::thread_rng();
            let a = rng.gen_range(1..=ACCOUNTS);
            let mut b = rng.gen_range(1..=ACCOUNTS);
            if b == a {
                b = a % ACCOUNTS + 1;
            }
            (a, b, rng.gen_range(1..=50i64))
        };
        let sql = format!(
            "BEGIN; UPDATE bank SET balance = balance - {amount} WHERE id = {a};
             UPDATE bank SET balance = balance + {amount} WHERE id = {b}; COMMIT;"
        );
        match c.batch_execute(&sql).await {
            Ok(()) => {
                done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let code = e.code().cloned();
                let _ = c.batch_execute("ROLLBACK").await;
                assert!(
                    code == Some(SqlState::T_R_DEADLOCK_DETECTED)
                        || code == Some(SqlState::T_R_SERIALIZATION_FAILURE),
                    "transfer failed: {e:?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hot_backup_is_consistent_under_concurrent_transfers() {
    let server = TestServer::start(ServerOpts::default().partitions(4));
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE bank (id int PRIMARY KEY, balance bigint NOT NULL)")
        .await
        .unwrap();
    for start in (1..=ACCOUNTS).step_by(500) {
        let values: Vec<String> = (start..start + 500)
            .map(|i| format!("({i}, {INITIAL})"))
            .collect();
        c.batch_execute(&format!("INSERT INTO bank VALUES {}", values.join(",")))
            .await
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| tokio::spawn(transfer_loop(server.config(), stop.clone(), done.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut during = Vec::new();
    for i in 0..3 {
        let before = done.load(Ordering::Relaxed);
        c.batch_execute(&format!("BACKUP TABLE bank TO 'bank{i}'"))
            .await
            .unwrap();
        during.push(done.load(Ordering::Relaxed) - before);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    assert!(done.load(Ordering::Relaxed) > 0, "no transfer committed");
    for i in 0..3 {
        let t = format!("bank_copy{i}");
        c.batch_execute(&format!("RESTORE TABLE bank FROM 'bank{i}' AS {t}"))
            .await
            .unwrap();
        let row = c
            .query_one(
                &format!("SELECT count(*), sum(balance)::bigint FROM {t}"),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), ACCOUNTS as i64);
        assert_eq!(
            row.get::<_, i64>(1),
            ACCOUNTS as i64 * INITIAL,
            "backup {i} is not a consistent snapshot"
        );
    }
    let total: i64 = c
        .query_one("SELECT sum(balance)::bigint FROM bank", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, ACCOUNTS as i64 * INITIAL);
    eprintln!("transfers committed while each backup ran: {during:?}");
}

async fn fill_big(c: &tokio_postgres::Client, rows: i32) {
    c.batch_execute("CREATE TABLE big (id int PRIMARY KEY, pad text NOT NULL)")
        .await
        .unwrap();
    for start in (0..rows).step_by(1000) {
        let values: Vec<String> = (start..(start + 1000).min(rows))
            .map(|i| format!("({i}, '{i}-paddingpaddingpaddingpaddingpaddingpadding')"))
            .collect();
        c.batch_execute(&format!("INSERT INTO big VALUES {}", values.join(",")))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn sigkill_during_backup_or_restore_leaves_nothing_half_done() {
    const ROWS: i32 = 100_000;
    let mut server = TestServer::start_default();
    let c = server.connect().await;
    fill_big(&c, ROWS).await;
    c.batch_execute("BACKUP TABLE big TO 'full'").await.unwrap();

    let mut rng = rand::thread_rng();
    for round in 0..3 {
        let c = server.connect().await;
        let stmt = format!("RESTORE TABLE big FROM 'full' AS big_r{round}");
        let running = tokio::spawn(async move { c.batch_execute(&stmt).await });
        tokio::time::sleep(Duration::from_millis(rng.gen_range(5..200))).await;
        server.kill9();
        let _ = running.await;
        server.restart();
        let c = server.connect().await;
        match c
            .query_one(&format!("SELECT count(*) FROM big_r{round}"), &[])
            .await
        {
            Ok(r) => assert_eq!(r.get::<_, i64>(0), ROWS as i64, "partial restore"),
            Err(e) => assert_eq!(e.code(), Some(&SqlState::UNDEFINED_TABLE), "{e:?}"),
        }

        let c2 = server.connect().await;
        let name = format!("killed{round}");
        let stmt = format!("BACKUP TABLE big TO '{name}'");
        let running = tokio::spawn(async move { c2.batch_execute(&stmt).await });
        tokio::time::sleep(Duration::from_millis(rng.gen_range(5..150))).await;
        server.kill9();
        let _ = running.await;
        server.restart();
        let c = server.connect().await;
        if backup_file(&server, &name).exists() {
            let rows = c
                .simple_query(&format!("VERIFY BACKUP '{name}'"))
                .await
                .expect("a backup under its final name is complete");
            assert!(rows.iter().any(|m| matches!(m,
                tokio_postgres::SimpleQueryMessage::Row(r) if r.get(1) == Some("100000"))));
        } else {
            assert_sqlstate(
                c.simple_query(&format!("VERIFY BACKUP '{name}'")).await,
                &SqlState::UNDEFINED_OBJECT,
            );
        }
    }
    let c = server.connect().await;
    assert_eq!(count(&c, "big").await, ROWS as i64);
}

fn joltdb(args: &[&str], data_dir: &Path) -> std::process::Output {
    Command::new(server_binary())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("JOLTDB_DATA_DIR")
        .env_remove("JOLTDB_BACKUP_DIR")
        .output()
        .expect("running joltdb")
}

#[tokio::test]
async fn cold_and_hot_backups_restore_either_way() {
    let mut a = TestServer::start_default();
    let c = a.connect().await;
    c.batch_execute(
        "CREATE TABLE items (id bigserial PRIMARY KEY, name text);
         INSERT INTO items (name) VALUES ('one'), ('two'), ('three');
         CREATE TABLE nokey (v int);
         INSERT INTO nokey VALUES (1), (2);",
    )
    .await
    .unwrap();
    c.batch_execute("BACKUP DATABASE TO 'hot' WITH (encryption_passphrase = 'pw')")
        .await
        .unwrap();
    drop(c);

    // A running server's data directory is refused.
    let dir = tempfile::tempdir().unwrap();
    let cold = dir.path().join("cold.backup");
    let out = joltdb(&["backup", "--to", cold.to_str().unwrap()], &a.data_dir());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));

    a.stop();
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, "pw\n").unwrap();
    let out = joltdb(
        &[
            "backup",
            "--to",
            cold.to_str().unwrap(),
            "--encryption-passphrase-file",
            pw_file.to_str().unwrap(),
        ],
        &a.data_dir(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Hot backup -> cold restore into a new data directory.
    let fresh = dir.path().join("fresh");
    let out = joltdb(
        &[
            "restore",
            "--from",
            backup_file(&a, "hot").to_str().unwrap(),
            "--encryption-passphrase-file",
            pw_file.to_str().unwrap(),
        ],
        &fresh,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = joltdb(
        &[
            "restore",
            "--from",
            backup_file(&a, "hot").to_str().unwrap(),
            "--encryption-passphrase-file",
            pw_file.to_str().unwrap(),
        ],
        &fresh,
    );
    assert!(
        !out.status.success(),
        "restoring over existing tables needs --replace"
    );

    // Cold backup -> hot restore on another server.
    let b = TestServer::start_default();
    std::fs::create_dir_all(b.data_dir().join("backups")).unwrap();
    std::fs::copy(&cold, backup_file(&b, "cold")).unwrap();
    let c = b.connect().await;
    c.batch_execute("RESTORE DATABASE FROM 'cold' WITH (encryption_passphrase = 'pw')")
        .await
        .unwrap();
    let names: Vec<String> = c
        .query("SELECT name FROM items ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["one", "two", "three"]);
    assert_eq!(count(&c, "nokey").await, 2);
    c.batch_execute("INSERT INTO nokey VALUES (3)")
        .await
        .unwrap();
    assert_eq!(count(&c, "nokey").await, 3);
    let id: i64 = c
        .query_one("INSERT INTO items (name) VALUES ('four') RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    // The sequence continues after the values the source handed out (a
    // stopped server's sequences resume above their reserved range).
    assert!(id > 3, "sequence went back to {id}");

    // The cold-restored directory serves the hot backup's data.
    let out = Command::new(server_binary())
        .args(["restore", "--from"])
        .arg(&cold)
        .args(["--encryption-passphrase-file"])
        .arg(&pw_file)
        .arg("--replace")
        .arg("--data-dir")
        .arg(&fresh)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = joltdb(
        &[
            "backup",
            "--to",
            dir.path().join("again").to_str().unwrap(),
            "--compression",
            "none",
        ],
        &fresh,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 tables, 5 rows"));
}

/// Fills tables that take several backup chunks each and exercise every
/// way a restore places rows: a primary key (with a secondary index), a
/// composite primary key (partitioned by its first column) and no primary
/// key (hidden row ids).
async fn fill_chunked_tables(c: &tokio_postgres::Client, rows: i32) {
    c.batch_execute(
        "CREATE TABLE wide (id int PRIMARY KEY, grp int NOT NULL, pad text NOT NULL);
         CREATE INDEX wide_grp ON wide (grp);
         CREATE TABLE pair (a int, b int, v text, PRIMARY KEY (a, b));
         CREATE TABLE loose (v int, t text);",
    )
    .await
    .unwrap();
    for start in (0..rows).step_by(2000) {
        let end = (start + 2000).min(rows);
        c.batch_execute(&format!(
            "INSERT INTO wide SELECT g, g % 97, repeat(md5(g::text), 3) FROM generate_series({start}, {}) g;
             INSERT INTO pair SELECT g % 50, g, md5(g::text) FROM generate_series({start}, {}) g;
             INSERT INTO loose SELECT g, md5(g::text) FROM generate_series({start}, {}) g;",
            end - 1,
            end - 1,
            end - 1
        ))
        .await
        .unwrap();
    }
}

/// What a user checks after a restore: counts, contents (through sums),
/// an index lookup, the primary key still refusing duplicates, and a
/// table without a key handing out fresh row ids.
async fn check_chunked_tables(c: &tokio_postgres::Client, rows: i32) {
    let n = rows as i64;
    let row = c
        .query_one(
            "SELECT count(*), sum(id)::int8, sum(grp)::int8, sum(length(pad))::int8 FROM wide",
            &[],
        )
        .await
        .unwrap();
    let grp_sum: i64 = (0..n).map(|g| g % 97).sum();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2),
            row.get::<_, i64>(3)
        ),
        (n, n * (n - 1) / 2, grp_sum, n * 96)
    );
    let in_group: i64 = c
        .query_one("SELECT count(*) FROM wide WHERE grp = 7", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_group, (0..n).filter(|g| g % 97 == 7).count() as i64);
    let plan: Vec<String> = c
        .query("EXPLAIN SELECT count(*) FROM wide WHERE grp = 7", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan.iter().any(|l| l.contains("wide_grp")),
        "the index is used: {plan:?}"
    );
    assert_sqlstate(
        c.batch_execute("INSERT INTO wide VALUES (5, 0, 'x')").await,
        &SqlState::UNIQUE_VIOLATION,
    );
    let row = c
        .query_one(
            "SELECT count(*), sum(b)::int8, count(DISTINCT a) FROM pair",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2)
        ),
        (n, n * (n - 1) / 2, 50)
    );
    let v: String = c
        .query_one("SELECT v FROM pair WHERE a = 13 AND b = 1013", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v.len(), 32);
    assert_sqlstate(
        c.batch_execute("INSERT INTO pair VALUES (13, 1013, 'again')")
            .await,
        &SqlState::UNIQUE_VIOLATION,
    );
    let row = c
        .query_one("SELECT count(*), sum(v)::int8 FROM loose", &[])
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1)),
        (n, n * (n - 1) / 2)
    );
}

#[tokio::test]
async fn multi_chunk_backups_restore_every_row_and_index_into_any_partition_count() {
    // About 10 MB of rows: several 1 MiB chunks per table.
    const ROWS: i32 = 60_000;
    let a = TestServer::start(ServerOpts::default().partitions(2));
    let c = a.connect().await;
    fill_chunked_tables(&c, ROWS).await;
    for backup in [
        "BACKUP DATABASE TO 'plain'",
        "BACKUP DATABASE TO 'sealed' WITH (encryption_passphrase = 'pw')",
        "BACKUP DATABASE TO 'raw' WITH (compression = 'none')",
    ] {
        c.batch_execute(backup).await.unwrap();
    }
    for (name, with) in [
        ("plain", ""),
        ("sealed", " WITH (encryption_passphrase = 'pw')"),
        ("raw", ""),
    ] {
        let mut listed: Vec<(String, String)> = c
            .simple_query(&format!("VERIFY BACKUP '{name}'{with}"))
            .await
            .unwrap()
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some((r.get(0).unwrap().into(), r.get(1).unwrap().into()))
                }
                _ => None,
            })
            .collect();
        listed.sort();
        let n = ROWS.to_string();
        assert_eq!(
            listed,
            [
                ("loose".into(), n.clone()),
                ("pair".into(), n.clone()),
                ("wide".into(), n)
            ],
            "{name}"
        );
    }
    // The raw backup holds several chunks per table.
    let raw_size = std::fs::metadata(backup_file(&a, "raw")).unwrap().len();
    assert!(raw_size > 8 << 20, "{raw_size} bytes");

    // The same partition count, from the encrypted backup.
    c.batch_execute("DROP TABLE wide, pair, loose")
        .await
        .unwrap();
    c.batch_execute("RESTORE DATABASE FROM 'sealed' WITH (encryption_passphrase = 'pw')")
        .await
        .unwrap();
    check_chunked_tables(&c, ROWS).await;

    // Another partition count: the rows of each source partition spread
    // over the new ones.
    let mut b = TestServer::start(ServerOpts::default().partitions(3));
    std::fs::create_dir_all(b.data_dir().join("backups")).unwrap();
    for name in ["plain", "raw"] {
        std::fs::copy(backup_file(&a, name), backup_file(&b, name)).unwrap();
    }
    let cb = b.connect().await;
    cb.batch_execute("RESTORE DATABASE FROM 'plain'")
        .await
        .unwrap();
    check_chunked_tables(&cb, ROWS).await;
    cb.batch_execute("RESTORE TABLE wide FROM 'raw' AS wide2")
        .await
        .unwrap();
    assert_eq!(count(&cb, "wide2").await, ROWS as i64);

    // The restored rows were logged: they survive SIGKILL and restart.
    drop(cb);
    b.kill9();
    b.restart();
    let cb = b.connect().await;
    check_chunked_tables(&cb, ROWS).await;
    assert_eq!(count(&cb, "wide2").await, ROWS as i64);
    // A new row of the table without a key takes a row id of its own.
    cb.batch_execute("INSERT INTO loose VALUES (-1, 'new')")
        .await
        .unwrap();
    assert_eq!(count(&cb, "loose").await, ROWS as i64 + 1);
}
