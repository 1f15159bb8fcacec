//! Point-in-time restore end to end: `RESTORE ... AS OF` between two
//! commits (a table under a new name and a whole database), across
//! checkpoints that archived and truncated the log, under concurrent
//! writers (a bank-transfer invariant), its errors with their SQLSTATEs,
//! SIGKILL during an `AS OF` restore, the start-up clean-up of files left
//! by killed backups, following tables through definition changes (a
//! rewriting ALTER TABLE, RESTORE over them, DROP then CREATE), tables
//! created after the backup, and `joltdb restore --as-of`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use joltdb_tests::{assert_sqlstate, ServerOpts, TestServer};
use rand::Rng;
use tokio_postgres::error::SqlState;

/// A server archiving its log to a directory of its own; checkpoints only
/// when a test runs `CHECKPOINT`.
fn start(partitions: u32) -> (TestServer, tempfile::TempDir) {
    start_with(partitions, &[])
}

fn start_with(partitions: u32, extra: &[&str]) -> (TestServer, tempfile::TempDir) {
    let archive = tempfile::tempdir().unwrap();
    let mut o = ServerOpts::default().partitions(partitions);
    o.args = [
        "--checkpoint-interval-secs",
        "0",
        "--checkpoint-log-mb",
        "0",
        "--archive-dir",
        archive.path().join("arch").to_str().unwrap(),
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect();
    (TestServer::start(o), archive)
}

/// Now, as an `AS OF` literal.
async fn now_literal() -> String {
    // Commit times are microseconds: keep the next commit strictly later.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let t = chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S%.6f+00")
        .to_string();
    tokio::time::sleep(Duration::from_millis(2)).await;
    t
}

async fn rows(c: &tokio_postgres::Client, table: &str) -> BTreeMap<i32, String> {
    c.query(&format!("SELECT id, v FROM {table}"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn expected(pairs: &[(i32, &str)]) -> BTreeMap<i32, String> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_between_two_commits_shows_exactly_the_first() {
    let (mut server, _archive) = start(3);
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);
         CREATE TABLE s (id serial PRIMARY KEY, v text);
         INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three');
         INSERT INTO s (v) VALUES ('a'), ('b');",
    )
    .await
    .unwrap();
    c.batch_execute("BACKUP DATABASE TO 'base'").await.unwrap();
    let t0 = now_literal().await;
    // A: several partitions in one transaction.
    c.batch_execute(
        "BEGIN;
         INSERT INTO t VALUES (10, 'A'), (11, 'A'), (12, 'A');
         UPDATE t SET v = 'one-A' WHERE id = 1;
         DELETE FROM t WHERE id = 2;
         INSERT INTO s (v) VALUES ('c'), ('d');
         COMMIT;",
    )
    .await
    .unwrap();
    let t1 = now_literal().await;
    // B.
    c.batch_execute(
        "INSERT INTO t VALUES (20, 'B'); UPDATE t SET v = 'three-B' WHERE id = 3;
         DELETE FROM t WHERE id = 10; INSERT INTO s (v) VALUES ('e');",
    )
    .await
    .unwrap();
    let t2 = now_literal().await;
    let after_a = expected(&[(1, "one-A"), (3, "three"), (10, "A"), (11, "A"), (12, "A")]);
    let after_b = expected(&[
        (1, "one-A"),
        (3, "three-B"),
        (11, "A"),
        (12, "A"),
        (20, "B"),
    ]);

    for stmt in [
        format!("RESTORE TABLE t FROM 'base' AS OF '{t1}' AS t_a"),
        format!("RESTORE TABLE t FROM 'base' AS t_b AS OF '{t2}'"),
        format!("RESTORE TABLE t FROM 'base' AS OF '{t0}' AS t_0"),
    ] {
        c.batch_execute(&stmt).await.unwrap();
    }
    assert_eq!(rows(&c, "t_a").await, after_a);
    assert_eq!(rows(&c, "t_b").await, after_b);
    assert_eq!(
        rows(&c, "t_0").await,
        expected(&[(1, "one"), (2, "two"), (3, "three")])
    );
    assert_eq!(rows(&c, "t").await, after_b);
    // The restored copy's index answers lookups of replayed rows.
    let n: i64 = c
        .query_one("SELECT count(*) FROM t_a WHERE id = 11", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    // A renamed table is the same table; a dropped one ends at the drop.
    c.batch_execute("ALTER TABLE t RENAME TO t_old; INSERT INTO t_old VALUES (30, 'C')")
        .await
        .unwrap();
    let mut after_c = after_b.clone();
    after_c.insert(30, "C".into());
    c.batch_execute("DROP TABLE t_old; DROP TABLE s")
        .await
        .unwrap();
    let t3 = now_literal().await;
    c.batch_execute(&format!("RESTORE TABLE t FROM 'base' AS OF '{t3}' AS t_c"))
        .await
        .unwrap();
    assert_eq!(rows(&c, "t_c").await, after_c);

    // The whole database, after both tables were dropped.
    c.batch_execute(&format!("RESTORE DATABASE FROM 'base' AS OF '{t1}'"))
        .await
        .unwrap();
    assert_eq!(rows(&c, "t").await, after_a);
    assert_eq!(
        rows(&c, "s").await,
        expected(&[(1, "a"), (2, "b"), (3, "c"), (4, "d")])
    );
    // The sequence continues after the replayed rows.
    let id: i32 = c
        .query_one("INSERT INTO s (v) VALUES ('new') RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        id > 4,
        "nextval handed out {id}, which the restored rows hold"
    );

    // Durable: the same after kill -9.
    server.kill9();
    server.restart();
    let c = server.connect().await;
    assert_eq!(rows(&c, "t").await, after_a);
    assert_eq!(rows(&c, "t_a").await, after_a);
    assert_eq!(rows(&c, "t_b").await, after_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_reads_across_checkpoints_that_archived_and_truncated_the_log() {
    let (server, _archive) = start(4);
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)")
        .await
        .unwrap();
    c.batch_execute("INSERT INTO t SELECT g, 'base' FROM generate_series(1, 50) g")
        .await
        .unwrap();
    c.batch_execute("BACKUP TABLE t TO 'early'").await.unwrap();
    // After step i, times[i] and states[i] record the table as of then.
    let mut times = Vec::new();
    let mut states = Vec::new();
    for i in 1..=24 {
        c.batch_execute(&format!(
            "BEGIN;
             UPDATE t SET v = 'step{i}' WHERE id % 7 = {m};
             INSERT INTO t VALUES ({a}, 'new{i}'), ({b}, 'new{i}');
             DELETE FROM t WHERE id = {d};
             COMMIT;",
            m = i % 7,
            a = 100 + 2 * i,
            b = 101 + 2 * i,
            d = i,
        ))
        .await
        .unwrap();
        times.push(now_literal().await);
        states.push(rows(&c, "t").await);
        // Three checkpoints: the log before them is archived and the data
        // directory's copy truncated; the last steps stay in the live log.
        if i % 6 == 0 && i < 24 {
            c.batch_execute("CHECKPOINT").await.unwrap();
        }
    }
    for (n, i) in [0usize, 5, 6, 11, 17, 18, 23].into_iter().enumerate() {
        c.batch_execute(&format!(
            "RESTORE TABLE t FROM 'early' AS OF '{}' AS t_{n}",
            times[i]
        ))
        .await
        .unwrap();
        assert_eq!(
            rows(&c, &format!("t_{n}")).await,
            states[i],
            "AS OF after step {}",
            i + 1
        );
    }
}

const ACCOUNTS: i32 = 500;
const INITIAL: i64 = 1000;

async fn transfer_loop(cfg: tokio_postgres::Config, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) {
    let c = joltdb_tests::connect_with(cfg).await.unwrap();
    while !stop.load(Ordering::Relaxed) {
        let (a, b, amount) = {
            let mut rng = rand::thread_rng();
            (
                rng.gen_range(1..=ACCOUNTS),
                rng.gen_range(1..=ACCOUNTS),
                rng.gen_range(1..=50i64),
            )
        };
        if a == b {
            continue;
        }
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

async fn bank_totals(c: &tokio_postgres::Client, table: &str) -> (i64, i64) {
    let r = c
        .query_one(
            &format!("SELECT count(*), sum(balance)::bigint FROM {table}"),
            &[],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn as_of_under_concurrent_transfers_keeps_the_invariant() {
    let (server, _archive) = start(4);
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE bank (id int PRIMARY KEY, balance bigint NOT NULL)")
        .await
        .unwrap();
    let values: Vec<String> = (1..=ACCOUNTS)
        .map(|i| format!("({i}, {INITIAL})"))
        .collect();
    c.batch_execute(&format!("INSERT INTO bank VALUES {}", values.join(",")))
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..3)
        .map(|_| tokio::spawn(transfer_loop(server.config(), stop.clone(), done.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.batch_execute("BACKUP TABLE bank TO 'bank'")
        .await
        .unwrap();
    let mut times = Vec::new();
    for i in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        if i == 1 {
            c.batch_execute("CHECKPOINT").await.unwrap();
        }
        times.push(now_literal().await);
    }
    // Restores while the transfers go on.
    for (i, t) in times.iter().enumerate() {
        c.batch_execute(&format!(
            "RESTORE TABLE bank FROM 'bank' AS OF '{t}' AS bank_{i}"
        ))
        .await
        .unwrap();
        assert_eq!(
            bank_totals(&c, &format!("bank_{i}")).await,
            (ACCOUNTS as i64, ACCOUNTS as i64 * INITIAL),
            "AS OF {t} is not a consistent state"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    assert!(done.load(Ordering::Relaxed) > 0, "no transfer committed");
    // Once the writers stopped, AS OF now is exactly the table.
    let t = now_literal().await;
    c.batch_execute(&format!(
        "RESTORE TABLE bank FROM 'bank' AS OF '{t}' AS bank_now"
    ))
    .await
    .unwrap();
    let now: Vec<(i32, i64)> = c
        .query("SELECT id, balance FROM bank_now ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let live: Vec<(i32, i64)> = c
        .query("SELECT id, balance FROM bank ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(now, live);
    let backup: Vec<(i32, i64)> = c
        .query("SELECT id, balance FROM bank_0 ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_ne!(
        backup, live,
        "the transfers after the first AS OF were not replayed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_errors_have_sqlstates_and_publish_nothing() {
    let (server, _archive) = start(2);
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t VALUES (1, 'x');",
    )
    .await
    .unwrap();
    let before = now_literal().await;
    c.batch_execute("BACKUP TABLE t TO 'b'").await.unwrap();
    let after = now_literal().await;
    let snapshot: String = c
        .simple_query("SHOW BACKUP 'b'")
        .await
        .unwrap()
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(2).unwrap().to_string()),
            _ => None,
        })
        .unwrap();
    let parse = |s: &str| {
        chrono::NaiveDateTime::parse_from_str(s.trim_end_matches("+00"), "%Y-%m-%d %H:%M:%S%.f")
            .unwrap()
    };
    assert!(
        parse(&before) < parse(&snapshot) && parse(&snapshot) < parse(&after),
        "SHOW BACKUP's snapshot_time {snapshot} is not when the backup was taken ({before} .. {after})"
    );
    let invalid = SqlState::INVALID_PARAMETER_VALUE;
    for (stmt, state) in [
        (
            format!("RESTORE TABLE t FROM 'b' AS OF '{before}' AS t2"),
            &invalid,
        ),
        (
            "RESTORE TABLE t FROM 'b' AS OF '2999-01-01 00:00:00+00' AS t2".to_string(),
            &invalid,
        ),
        (
            "RESTORE DATABASE FROM 'b' AS OF 'not a time'".to_string(),
            &SqlState::INVALID_DATETIME_FORMAT,
        ),
        (
            "RESTORE TABLE t FROM 'b' AS OF".to_string(),
            &SqlState::SYNTAX_ERROR,
        ),
        (
            format!("RESTORE TABLE t FROM 'missing' AS OF '{after}' AS t2"),
            &SqlState::UNDEFINED_OBJECT,
        ),
        (
            format!("RESTORE TABLE t FROM 'b' AS OF '{after}'"),
            &SqlState::DUPLICATE_TABLE,
        ),
    ] {
        assert_sqlstate(c.simple_query(&stmt).await, state);
        assert_sqlstate(
            c.simple_query("SELECT * FROM t2").await,
            &SqlState::UNDEFINED_TABLE,
        );
    }

    // A server without a log archive cannot restore to a point in time.
    let plain = TestServer::start_default();
    let c = plain.connect().await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    c.batch_execute("BACKUP TABLE t TO 'b'").await.unwrap();
    let t = now_literal().await;
    assert_sqlstate(
        c.simple_query(&format!("RESTORE TABLE t FROM 'b' AS OF '{t}' AS t2"))
            .await,
        &SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
    );
    assert_sqlstate(
        c.simple_query("SELECT * FROM t2").await,
        &SqlState::UNDEFINED_TABLE,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_an_as_of_restore_publishes_nothing() {
    const ROWS: i32 = 60_000;
    let (mut server, _archive) = start(2);
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE big (id int PRIMARY KEY, pad text NOT NULL)")
        .await
        .unwrap();
    for start in (0..ROWS).step_by(2000) {
        c.batch_execute(&format!(
            "INSERT INTO big SELECT g, 'padding-padding-padding-' || g FROM generate_series({start}, {}) g",
            start + 1999
        ))
        .await
        .unwrap();
    }
    c.batch_execute("BACKUP TABLE big TO 'full'").await.unwrap();
    for start in (0..ROWS).step_by(5000) {
        c.batch_execute(&format!(
            "UPDATE big SET pad = 'changed' WHERE id >= {start} AND id < {}",
            start + 2500
        ))
        .await
        .unwrap();
    }
    let t = now_literal().await;
    let mut rng = rand::thread_rng();
    let mut interrupted = 0;
    for round in 0..3 {
        let c = server.connect().await;
        let stmt = format!("RESTORE TABLE big FROM 'full' AS OF '{t}' AS big_r{round}");
        let running = tokio::spawn(async move { c.batch_execute(&stmt).await });
        tokio::time::sleep(Duration::from_millis(rng.gen_range(5..800))).await;
        server.kill9();
        let _ = running.await;
        server.restart();
        let c = server.connect().await;
        match c
            .query_one(
                &format!("SELECT count(*), sum(CASE WHEN pad = 'changed' THEN 1 ELSE 0 END)::bigint FROM big_r{round}"),
                &[],
            )
            .await
        {
            Ok(r) => {
                assert_eq!(r.get::<_, i64>(0), ROWS as i64, "partial restore");
                assert_eq!(r.get::<_, i64>(1), ROWS as i64 / 2, "partial replay");
            }
            Err(e) => {
                assert_eq!(e.code(), Some(&SqlState::UNDEFINED_TABLE), "{e:?}");
                interrupted += 1;
            }
        }
    }
    // Once it is left to finish, it is complete.
    let c = server.connect().await;
    let started = std::time::Instant::now();
    c.batch_execute(&format!(
        "RESTORE TABLE big FROM 'full' AS OF '{t}' AS big_done"
    ))
    .await
    .unwrap();
    eprintln!(
        "{interrupted} of 3 AS OF restores killed before publishing; a whole one takes {:?}",
        started.elapsed()
    );
    let r = c
        .query_one(
            "SELECT count(*), sum(CASE WHEN pad = 'changed' THEN 1 ELSE 0 END)::bigint FROM big_done",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.get::<_, i64>(0), r.get::<_, i64>(1)),
        (ROWS as i64, ROWS as i64 / 2)
    );
}

fn partial(server: &TestServer, name: &str) -> PathBuf {
    server
        .data_dir()
        .join("backups")
        .join(format!(".{name}.partial"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftovers_of_killed_backups_are_removed_at_start() {
    let mut server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    c.batch_execute("BACKUP TABLE t TO 'kept'").await.unwrap();
    let dir = server.data_dir().join("backups");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(partial(&server, "gone"), b"half a backup").unwrap();
    std::fs::write(dir.join("sub").join(".deep.partial"), b"half").unwrap();
    std::fs::write(dir.join("visible.partial"), b"not ours").unwrap();
    server.kill9();
    server.restart();
    assert!(!partial(&server, "gone").exists());
    assert!(!dir.join("sub").join(".deep.partial").exists());
    assert!(
        dir.join("visible.partial").exists(),
        "only hidden partial files are backups' leftovers"
    );
    assert!(dir.join("kept").exists());
    let c = server.connect().await;
    c.batch_execute("RESTORE TABLE t FROM 'kept' AS t2")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_retention_prunes_history_older_backups_would_need() {
    // About 1.1 seconds.
    let (server, archive) = start_with(1, &["--archive-retention-hours", "0.0003"]);
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL); INSERT INTO t VALUES (1, 'a')",
    )
    .await
    .unwrap();
    c.batch_execute("BACKUP TABLE t TO 'old'").await.unwrap();
    c.batch_execute("INSERT INTO t VALUES (2, 'b')")
        .await
        .unwrap();
    c.batch_execute("CHECKPOINT").await.unwrap();
    let files = || {
        std::fs::read_dir(archive.path().join("arch/wal/p0000"))
            .unwrap()
            .count()
    };
    assert_eq!(files(), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    c.batch_execute("INSERT INTO t VALUES (3, 'c')")
        .await
        .unwrap();
    c.batch_execute("CHECKPOINT").await.unwrap();
    assert_eq!(
        files(),
        1,
        "the archive file older than the retention stays"
    );
    let t = now_literal().await;
    assert_sqlstate(
        c.simple_query(&format!("RESTORE TABLE t FROM 'old' AS OF '{t}' AS t_old"))
            .await,
        &SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
    );
    // A backup taken since is served.
    c.batch_execute("BACKUP TABLE t TO 'new'").await.unwrap();
    c.batch_execute("INSERT INTO t VALUES (4, 'd')")
        .await
        .unwrap();
    let t = now_literal().await;
    c.batch_execute(&format!("RESTORE TABLE t FROM 'new' AS OF '{t}' AS t_new"))
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "t_new").await,
        expected(&[(1, "a"), (2, "b"), (3, "c"), (4, "d")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_backups_to_one_name_never_clobber_each_other() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE big (id int PRIMARY KEY, pad text NOT NULL)")
        .await
        .unwrap();
    c.batch_execute(
        "INSERT INTO big SELECT g, 'padding-padding-padding-' || g FROM generate_series(1, 50000) g",
    )
    .await
    .unwrap();
    for round in 0..3 {
        let name = format!("same{round}");
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let cfg = server.config();
                let stmt = format!("BACKUP TABLE big TO '{name}'");
                tokio::spawn(async move {
                    let c = joltdb_tests::connect_with(cfg).await.unwrap();
                    c.batch_execute(&stmt).await
                })
            })
            .collect();
        let mut ok = 0;
        for r in runs {
            match r.await.unwrap() {
                Ok(()) => ok += 1,
                Err(e) => assert!(
                    e.code() == Some(&SqlState::OBJECT_IN_USE)
                        || e.code() == Some(&SqlState::DUPLICATE_OBJECT),
                    "{e:?}"
                ),
            }
        }
        assert_eq!(ok, 1, "exactly one BACKUP to '{name}' succeeds");
        let verified = c
            .simple_query(&format!("VERIFY BACKUP '{name}'"))
            .await
            .unwrap();
        assert!(verified.iter().any(|m| matches!(m,
            tokio_postgres::SimpleQueryMessage::Row(r) if r.get(1) == Some("50000"))));
        assert!(!partial(&server, &name).exists());
    }
}

/// (id, v, w) of every row, w as text ('-' for NULL).
async fn rows3(c: &tokio_postgres::Client, table: &str) -> BTreeMap<i32, (String, String)> {
    c.query(&format!("SELECT id, v, w::text FROM {table}"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let w: Option<String> = r.get(2);
            (r.get(0), (r.get(1), w.unwrap_or_else(|| "-".into())))
        })
        .collect()
}

async fn columns(c: &tokio_postgres::Client, table: &str) -> Vec<String> {
    c.query(
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
        &[&table],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_follows_a_table_through_alter_replace_drop_and_create() {
    let (mut server, _archive) = start(3);
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);
         CREATE TABLE u (id int PRIMARY KEY, v text);
         INSERT INTO t VALUES (1, 'one'), (2, 'two');
         INSERT INTO u VALUES (1, 'u1');",
    )
    .await
    .unwrap();
    c.batch_execute("BACKUP DATABASE TO 'base'").await.unwrap();

    // A rewriting ALTER TABLE gives t a new table id.
    c.batch_execute(
        "INSERT INTO t VALUES (3, 'three');
         ALTER TABLE t ADD COLUMN w int DEFAULT 7;
         INSERT INTO t VALUES (10, 'after', 8);
         UPDATE t SET v = 'one-x' WHERE id = 1;
         DELETE FROM t WHERE id = 2;",
    )
    .await
    .unwrap();
    let t_alter = now_literal().await;
    c.batch_execute("INSERT INTO t VALUES (11, 'later', 9)")
        .await
        .unwrap();
    let after_alter: BTreeMap<i32, (String, String)> = [
        (1, ("one-x", "7")),
        (3, ("three", "7")),
        (10, ("after", "8")),
    ]
    .into_iter()
    .map(|(k, (v, w))| (k, (v.to_string(), w.to_string())))
    .collect();
    c.batch_execute(&format!(
        "RESTORE TABLE t FROM 'base' AS OF '{t_alter}' AS t_alter"
    ))
    .await
    .unwrap();
    assert_eq!(rows3(&c, "t_alter").await, after_alter);
    assert_eq!(columns(&c, "t_alter").await, ["id", "v", "w"]);
    // The restored definition is the one of the time, under the new name.
    assert_sqlstate(
        c.simple_query("INSERT INTO t_alter VALUES (3, 'dup', 1)")
            .await,
        &SqlState::UNIQUE_VIOLATION,
    );
    let w: i32 = c
        .query_one(
            "INSERT INTO t_alter (id, v) VALUES (50, 'd') RETURNING w",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(w, 7, "the default ADD COLUMN gave");

    // RESTORE ... WITH (replace = true) gives u a new table id: what u held
    // before the replacement is gone, what came after is replayed.
    for stmt in [
        "INSERT INTO u VALUES (2, 'lost')",
        "RESTORE TABLE u FROM 'base' WITH (replace = true)",
        "INSERT INTO u VALUES (3, 'kept')",
    ] {
        c.batch_execute(stmt).await.unwrap();
    }
    let t_replace = now_literal().await;
    c.batch_execute("INSERT INTO u VALUES (4, 'too late')")
        .await
        .unwrap();
    c.batch_execute(&format!(
        "RESTORE TABLE u FROM 'base' AS OF '{t_replace}' AS u_replace"
    ))
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "u_replace").await,
        expected(&[(1, "u1"), (3, "kept")])
    );

    // DROP, then CREATE under the same name with another definition.
    c.batch_execute("DROP TABLE t").await.unwrap();
    let t_dropped = now_literal().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text, note text);
         INSERT INTO t VALUES (100, 'new', 'n');",
    )
    .await
    .unwrap();
    let t_created = now_literal().await;
    for stmt in [
        format!("RESTORE TABLE t FROM 'base' AS OF '{t_dropped}' AS t_dropped"),
        format!("RESTORE TABLE t FROM 'base' AS OF '{t_created}' AS t_created"),
    ] {
        c.batch_execute(&stmt).await.unwrap();
    }
    // Between the drop and the create: the table as it was when dropped.
    let mut when_dropped = after_alter.clone();
    when_dropped.insert(11, ("later".into(), "9".into()));
    assert_eq!(rows3(&c, "t_dropped").await, when_dropped);
    assert_eq!(rows(&c, "t_created").await, expected(&[(100, "new")]));
    assert_eq!(columns(&c, "t_created").await, ["id", "v", "note"]);

    // Durable, and the catalog records still lead the way after kill -9.
    server.kill9();
    server.restart();
    let c = server.connect().await;
    assert_eq!(rows3(&c, "t_alter").await.len(), 4);
    assert_eq!(rows(&c, "t_created").await, expected(&[(100, "new")]));
    c.batch_execute("INSERT INTO t VALUES (101, 'restarted', 'r')")
        .await
        .unwrap();
    let t_restarted = now_literal().await;
    c.batch_execute(&format!(
        "RESTORE TABLE t FROM 'base' AS OF '{t_restarted}' AS t_restarted"
    ))
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "t_restarted").await,
        expected(&[(100, "new"), (101, "restarted")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_database_restore_brings_tables_created_after_the_backup() {
    let (server, _archive) = start(2);
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE a (id int PRIMARY KEY, v text);
         INSERT INTO a VALUES (1, 'a1');",
    )
    .await
    .unwrap();
    c.batch_execute("BACKUP DATABASE TO 'base'").await.unwrap();
    c.batch_execute(
        "CREATE TABLE n (id serial PRIMARY KEY, v text);
         INSERT INTO n (v) VALUES ('n1'), ('n2');
         CREATE TABLE gone (id int);
         INSERT INTO gone VALUES (1);
         DROP TABLE gone;
         INSERT INTO a VALUES (2, 'a2');",
    )
    .await
    .unwrap();
    let t1 = now_literal().await;
    c.batch_execute(
        "INSERT INTO n (v) VALUES ('n3');
         CREATE TABLE too_late (id int);
         DROP TABLE a; DROP TABLE n;",
    )
    .await
    .unwrap();
    c.batch_execute(&format!("RESTORE DATABASE FROM 'base' AS OF '{t1}'"))
        .await
        .unwrap();
    assert_eq!(rows(&c, "a").await, expected(&[(1, "a1"), (2, "a2")]));
    assert_eq!(rows(&c, "n").await, expected(&[(1, "n1"), (2, "n2")]));
    // Created and dropped before the time: not there.
    assert_sqlstate(
        c.simple_query("SELECT * FROM gone").await,
        &SqlState::UNDEFINED_TABLE,
    );
    // The created table's sequence came along, past the restored rows.
    let id: i32 = c
        .query_one("INSERT INTO n (v) VALUES ('again') RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        id > 2,
        "nextval handed out {id}, which the restored rows hold"
    );
    // too_late (created after the time) still exists and was not touched.
    c.batch_execute("SELECT * FROM too_late").await.unwrap();
}

fn cold_restore(args: &[&str], data_dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(joltdb_tests::server_binary())
        .arg("restore")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("JOLTDB_DATA_DIR")
        .env_remove("JOLTDB_ARCHIVE_DIR")
        .output()
        .expect("running joltdb restore")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_restore_as_of_round_trip() {
    let (mut source, archive) = start(2);
    let arch = archive.path().join("arch");
    let c = source.connect().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t VALUES (1, 'one'), (2, 'two');",
    )
    .await
    .unwrap();
    c.batch_execute("BACKUP DATABASE TO 'base'").await.unwrap();
    let backup = source.data_dir().join("backups").join("base");
    // The archive holds the log up to this checkpoint only, for now.
    c.batch_execute("CHECKPOINT").await.unwrap();
    c.batch_execute(
        "ALTER TABLE t ADD COLUMN w int DEFAULT 5;
         INSERT INTO t VALUES (3, 'three', 6);
         CREATE TABLE n (id int PRIMARY KEY, v text);
         INSERT INTO n VALUES (1, 'n1');",
    )
    .await
    .unwrap();
    let t1 = now_literal().await;
    c.batch_execute("INSERT INTO t VALUES (4, 'four', 7)")
        .await
        .unwrap();
    now_literal().await;

    let (mut target, _target_archive) = start(2);
    target.kill9();
    let b = backup.to_str().unwrap();
    let a = arch.to_str().unwrap();
    // The archive does not reach the time until the source archives again.
    let out = cold_restore(
        &["--from", b, "--archive-dir", a, "--as-of", &t1],
        &target.data_dir(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reaches only to"), "{err}");
    // --as-of needs the archive.
    let out = cold_restore(&["--from", b, "--as-of", &t1], &target.data_dir());
    assert!(!out.status.success());
    // A data directory a running server holds is refused.
    let out = cold_restore(
        &["--from", b, "--archive-dir", a, "--as-of", &t1],
        &source.data_dir(),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    c.batch_execute("CHECKPOINT").await.unwrap();
    source.kill9();
    let out = cold_restore(
        &["--from", b, "--archive-dir", a, "--as-of", &t1],
        &target.data_dir(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.restart();
    let c = target.connect().await;
    let t: BTreeMap<i32, (String, String)> = rows3(&c, "t").await;
    let want: BTreeMap<i32, (String, String)> =
        [(1, ("one", "5")), (2, ("two", "5")), (3, ("three", "6"))]
            .into_iter()
            .map(|(k, (v, w))| (k, (v.to_string(), w.to_string())))
            .collect();
    assert_eq!(t, want);
    assert_eq!(rows(&c, "n").await, expected(&[(1, "n1")]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_after_drop_column_and_type_change_or_a_name_taken_over() {
    let (server, _archive) = start(2);
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE w (id int PRIMARY KEY, extra text, n int);
         INSERT INTO w VALUES (1, 'x', 10), (2, 'y', 20);
         CREATE TABLE t (id int PRIMARY KEY, v text);
         CREATE TABLE v (id int PRIMARY KEY, v text);
         INSERT INTO v VALUES (1, 'from v');",
    )
    .await
    .unwrap();
    c.batch_execute("BACKUP DATABASE TO 'base'").await.unwrap();
    c.batch_execute(
        "ALTER TABLE w DROP COLUMN extra;
         ALTER TABLE w ALTER COLUMN n TYPE bigint;
         INSERT INTO w VALUES (3, 30000000000);
         DROP TABLE t;
         ALTER TABLE v RENAME TO t;",
    )
    .await
    .unwrap();
    let t1 = now_literal().await;
    c.batch_execute(&format!("RESTORE TABLE w FROM 'base' AS OF '{t1}' AS w1"))
        .await
        .unwrap();
    let got: Vec<(i32, i64)> = c
        .query("SELECT id, n FROM w1 ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(got, [(1, 10), (2, 20), (3, 30_000_000_000)]);
    assert_eq!(columns(&c, "w1").await, ["id", "n"]);
    // t's name belongs to the former v at that time: refused, not stale.
    assert_sqlstate(
        c.simple_query(&format!("RESTORE TABLE t FROM 'base' AS OF '{t1}' AS t1"))
            .await,
        &SqlState::FEATURE_NOT_SUPPORTED,
    );
    assert_sqlstate(
        c.simple_query("SELECT * FROM t1").await,
        &SqlState::UNDEFINED_TABLE,
    );
}
