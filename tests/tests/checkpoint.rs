//! Checkpoints, bounded recovery and log archiving: checkpoints taken while
//! writers run, then SIGKILL and restart; torn log tails after a
//! checkpoint; damaged checkpoints (fallback, or a clear refusal to start
//! once the log they needed is gone); the archive read back for a time
//! window; and restart replaying only the log written since the checkpoint.

// The engine's error type is large by its own choice.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use joltdb_engine::archive::{replay_archive, ArchivedTxn};
use joltdb_engine::Value;
use joltdb_tests::{wait_timeout, ServerOpts, TestServer};
use rand::Rng;

const ACCOUNTS: i32 = 20;
const INITIAL: i64 = 1000;

fn opts(partitions: u32, extra: &[&str]) -> ServerOpts {
    let mut o = ServerOpts::default().partitions(partitions);
    // No background checkpoints unless a test asks for them: each test
    // decides exactly when checkpoints happen.
    o.args = [
        "--checkpoint-interval-secs",
        "0",
        "--checkpoint-log-mb",
        "0",
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect();
    o
}

fn restart(server: &mut TestServer) {
    tokio::task::block_in_place(|| server.restart());
}

/// The numbers the last recovery reported: (checkpoint used, log records
/// read after it).
fn last_recovery(server: &TestServer) -> (Option<u64>, u64) {
    let log = server.log();
    let start = log.rfind("---- start #").expect("a start marker");
    let tail = &log[start..];
    if let Some(i) = tail.find("recovered from checkpoint ") {
        let rest = &tail[i + "recovered from checkpoint ".len()..];
        let seq: u64 = rest.split_whitespace().next().unwrap().parse().unwrap();
        let j = rest.find(" and ").unwrap();
        let n: u64 = rest[j + 5..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        return (Some(seq), n);
    }
    if let Some(i) = tail.find("recovered from ") {
        let n: u64 = tail[i + "recovered from ".len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        return (None, n);
    }
    (None, 0)
}

fn checkpoint_files(server: &TestServer) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(server.data_dir().join("checkpoints"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "jck"));
    v.sort();
    v
}

fn flip_byte(path: &Path, at_fraction: f64) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = ((bytes.len() as f64 * at_fraction) as usize).clamp(40, bytes.len() - 1);
    bytes[i] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

async fn setup_bank(c: &tokio_postgres::Client) {
    c.batch_execute("CREATE TABLE bank (id integer PRIMARY KEY, balance bigint NOT NULL)")
        .await
        .unwrap();
    let values: Vec<String> = (0..ACCOUNTS).map(|i| format!("({i}, {INITIAL})")).collect();
    c.batch_execute(&format!("INSERT INTO bank VALUES {}", values.join(",")))
        .await
        .unwrap();
}

async fn balances(c: &tokio_postgres::Client) -> BTreeMap<i32, i64> {
    c.query("SELECT id, balance FROM bank", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// One transfer between two accounts (usually on different partitions).
async fn transfer(c: &tokio_postgres::Client, from: i32, to: i32, amount: i64) -> bool {
    let sql = format!(
        "BEGIN; UPDATE bank SET balance = balance - {amount} WHERE id = {from}; \
         UPDATE bank SET balance = balance + {amount} WHERE id = {to}; COMMIT"
    );
    match c.batch_execute(&sql).await {
        Ok(()) => true,
        Err(_) => {
            let _ = c.batch_execute("ROLLBACK").await;
            false
        }
    }
}

/// Writers move money while checkpoints are taken; every acknowledged
/// transfer must survive SIGKILL exactly, then a kill in mid-flight must
/// keep the total.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn checkpoint_under_concurrent_writers_then_kill9() {
    let mut server = TestServer::start(opts(4, &[]));
    let c = server.connect().await;
    setup_bank(&c).await;

    let expected = Arc::new(Mutex::new(
        (0..ACCOUNTS)
            .map(|i| (i, INITIAL))
            .collect::<BTreeMap<i32, i64>>(),
    ));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..4 {
        let client = server.connect().await;
        let expected = expected.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut done = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && done < 2000 {
                let (from, to, amount) = {
                    let mut rng = rand::thread_rng();
                    let from = rng.gen_range(0..ACCOUNTS);
                    let to = (from + rng.gen_range(1..ACCOUNTS)) % ACCOUNTS;
                    (from, to, rng.gen_range(1..50i64))
                };
                if transfer(&client, from, to, amount).await {
                    let mut e = expected.lock().unwrap();
                    *e.get_mut(&from).unwrap() -= amount;
                    *e.get_mut(&to).unwrap() += amount;
                }
                done += 1;
            }
        }));
    }
    let mut checkpoints = 0;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        c.batch_execute("CHECKPOINT").await.unwrap();
        checkpoints += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    // Some log after the last checkpoint.
    for i in 0..10 {
        assert!(transfer(&c, i, i + 1, 1).await);
        let mut e = expected.lock().unwrap();
        *e.get_mut(&i).unwrap() -= 1;
        *e.get_mut(&(i + 1)).unwrap() += 1;
    }
    assert_eq!(
        checkpoint_files(&server).len(),
        2,
        "two checkpoints are kept"
    );
    server.kill9();
    restart(&mut server);
    let (used, _) = last_recovery(&server);
    assert_eq!(used, Some(checkpoints));
    let c = server.connect().await;
    assert_eq!(balances(&c).await, *expected.lock().unwrap());

    // Kill while transfers and a checkpoint are in flight: the total holds.
    let mut writers = Vec::new();
    for _ in 0..4 {
        let client = server.connect().await;
        writers.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let from = i % ACCOUNTS;
                if client
                    .batch_execute(&format!(
                        "BEGIN; UPDATE bank SET balance = balance - 1 WHERE id = {from}; \
                         UPDATE bank SET balance = balance + 1 WHERE id = {}; COMMIT",
                        (from + 7) % ACCOUNTS
                    ))
                    .await
                    .is_err()
                {
                    let _ = client.batch_execute("ROLLBACK").await;
                    if client.is_closed() {
                        return;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ckpt = tokio::spawn(async move { c.batch_execute("CHECKPOINT").await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    server.kill9();
    let _ = ckpt.await;
    for w in writers {
        let _ = w.await;
    }
    restart(&mut server);
    let c = server.connect().await;
    let b = balances(&c).await;
    assert_eq!(b.len(), ACCOUNTS as usize);
    assert_eq!(b.values().sum::<i64>(), ACCOUNTS as i64 * INITIAL);
}

/// Byte offsets of the records in a log segment (after its 32-byte header).
fn record_offsets(segment: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut off = 32;
    while off + 16 <= segment.len() {
        let len = u32::from_le_bytes(segment[off..off + 4].try_into().unwrap()) as usize;
        if len < 16 || off + len > segment.len() {
            break;
        }
        out.push((off, len));
        off += len;
    }
    out
}

/// A torn last record after a checkpoint is cut off; everything the
/// checkpoint holds and every earlier record survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_then_torn_log_tail() {
    let mut server = TestServer::start(opts(2, &[]));
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE t (id integer PRIMARY KEY, v text)")
        .await
        .unwrap();
    for i in 1..=300 {
        c.execute("INSERT INTO t VALUES ($1, 'before')", &[&i])
            .await
            .unwrap();
    }
    c.batch_execute("CHECKPOINT").await.unwrap();
    for i in 301..=340 {
        c.execute("INSERT INTO t VALUES ($1, 'after')", &[&i])
            .await
            .unwrap();
    }
    server.kill9();
    let mut torn = 0;
    for p in 0..2 {
        let dir = server.data_dir().join("wal").join(format!("p{p:04}"));
        let mut segs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "wal"))
            .collect();
        segs.sort();
        let last = segs.last().unwrap();
        let mut bytes = std::fs::read(last).unwrap();
        let recs = record_offsets(&bytes);
        let &(off, len) = recs.last().unwrap();
        // Half-written: the second half of the record is still zeros.
        for b in &mut bytes[off + len / 2..off + len] {
            *b = 0;
        }
        std::fs::write(last, bytes).unwrap();
        torn += 1;
    }
    restart(&mut server);
    let (used, read) = last_recovery(&server);
    assert_eq!(used, Some(1));
    assert_eq!(read, 40 - torn, "the torn records are not replayed");
    let c = server.connect().await;
    let ids: Vec<i32> = c
        .query("SELECT id FROM t ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids.len(), 340 - torn as usize);
    assert!((1..=300).all(|i| ids.binary_search(&i).is_ok()));
    // New writes after the cut-off survive another crash.
    c.batch_execute("INSERT INTO t VALUES (1000, 'new')")
        .await
        .unwrap();
    server.kill9();
    restart(&mut server);
    let c = server.connect().await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 341 - torn as i64);
}

async fn fill(c: &tokio_postgres::Client, from: i32, to: i32, pad: usize) {
    let padding = "x".repeat(pad);
    for chunk in (from..=to).collect::<Vec<_>>().chunks(50) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("({i}, '{padding}')"))
            .collect();
        c.batch_execute(&format!("INSERT INTO t VALUES {}", values.join(",")))
            .await
            .unwrap();
    }
}

async fn ids(c: &tokio_postgres::Client) -> Vec<i32> {
    c.query("SELECT id FROM t ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A damaged newest checkpoint falls back to the previous one plus the
/// log; with every checkpoint damaged and the log truncated, the server
/// refuses to start and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_checkpoints_fall_back_or_refuse() {
    let mut server = TestServer::start(opts(2, &[]));
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE t (id integer PRIMARY KEY, v text)")
        .await
        .unwrap();
    // Several MiB of log, so whole 1 MiB segments can be truncated.
    fill(&c, 1, 3000, 2000).await;
    c.batch_execute("CHECKPOINT").await.unwrap();
    fill(&c, 3001, 4000, 2000).await;
    c.batch_execute("CHECKPOINT").await.unwrap();
    fill(&c, 4001, 4100, 10).await;
    c.batch_execute("DELETE FROM t WHERE id <= 10")
        .await
        .unwrap();
    let want = ids(&c).await;
    assert_eq!(want.len(), 4090);
    let wal0 = server.data_dir().join("wal").join("p0000");
    let first_segment = std::fs::read_dir(&wal0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".wal"))
        .min()
        .unwrap();
    assert_ne!(
        first_segment, "00000000000000000001.wal",
        "the log before the older checkpoint was truncated"
    );

    server.kill9();
    let files = checkpoint_files(&server);
    assert_eq!(files.len(), 2);
    flip_byte(&files[1], 0.5);
    restart(&mut server);
    assert_eq!(
        last_recovery(&server).0,
        Some(1),
        "fell back to checkpoint 1"
    );
    assert!(server.log().contains("checkpoint 2 is unusable"));
    let c = server.connect().await;
    assert_eq!(ids(&c).await, want);

    server.kill9();
    flip_byte(&files[0], 0.5);
    let mut child = server
        .command(joltdb_tests::free_port())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = tokio::task::block_in_place(|| wait_timeout(&mut child, Duration::from_secs(60)))
        .expect("the server exits instead of starting");
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("no usable checkpoint")
            && err.contains("restore the data directory from a backup"),
        "{err}"
    );
}

/// Restart replays only the log written since the last checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_replays_only_the_log_after_the_checkpoint() {
    let mut server = TestServer::start(opts(2, &[]));
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE t (id integer PRIMARY KEY, v text)")
        .await
        .unwrap();
    for i in 1..=200 {
        c.execute("INSERT INTO t VALUES ($1, 'x')", &[&i])
            .await
            .unwrap();
    }
    server.kill9();
    restart(&mut server);
    assert_eq!(last_recovery(&server), (None, 200));

    let c = server.connect().await;
    c.batch_execute("CHECKPOINT").await.unwrap();
    for i in 201..=207 {
        c.execute("INSERT INTO t VALUES ($1, 'y')", &[&i])
            .await
            .unwrap();
    }
    server.kill9();
    restart(&mut server);
    assert_eq!(last_recovery(&server), (Some(1), 7));
    let c = server.connect().await;
    assert_eq!(ids(&c).await, (1..=207).collect::<Vec<_>>());

    // A clean shutdown checkpoints: nothing to replay on the next start.
    tokio::task::block_in_place(|| assert!(server.stop().success()));
    restart(&mut server);
    assert_eq!(last_recovery(&server), (Some(2), 0));
    let c = server.connect().await;
    assert_eq!(ids(&c).await.len(), 207);
}

fn txn_ids_in(t: &ArchivedTxn) -> Vec<i32> {
    let mut v: Vec<i32> = t
        .changes
        .iter()
        .filter_map(|(_, _, row)| match row.as_ref().map(|r| &r[0]) {
            Some(Value::Int4(i)) => Some(*i),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// The archive returns exactly the transactions committed in a window, in
/// commit order, whole (multi-partition ones included), across
/// checkpoints that truncate the data directory's log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_replays_exactly_a_time_window() {
    let archive = tempfile::tempdir().unwrap();
    let adir = archive.path().join("arch");
    let mut server = TestServer::start(opts(3, &["--archive-dir", adir.to_str().unwrap()]));
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE t (id integer PRIMARY KEY, v text)")
        .await
        .unwrap();
    // After txn i (1-based) commits, times[i] lies between its commit time
    // and the next one's.
    let mut times = vec![now_micros()];
    for i in 1..=30 {
        if i % 3 == 0 {
            // Three rows: most likely on several partitions.
            c.batch_execute(&format!(
                "INSERT INTO t VALUES ({}, 'a'), ({}, 'b'), ({}, 'c')",
                i * 100,
                i * 100 + 1,
                i * 100 + 2
            ))
            .await
            .unwrap();
        } else {
            c.execute("INSERT INTO t VALUES ($1, 'one')", &[&(i * 100)])
                .await
                .unwrap();
        }
        times.push(now_micros());
        if i == 10 || i == 20 {
            c.batch_execute("CHECKPOINT").await.unwrap();
        }
    }
    // Not yet archived: the archive says how far it reaches.
    let err = replay_archive(&adir, times[0], times[30], |_| Ok(())).unwrap_err();
    assert_eq!(err.state.0, "55000", "{}", err.message);
    c.batch_execute("CHECKPOINT").await.unwrap();
    // Aborted work never shows up.
    c.batch_execute("BEGIN; INSERT INTO t VALUES (99999, 'no'); ROLLBACK")
        .await
        .unwrap();

    let collect = |after: i64, until: i64| {
        let mut got = Vec::new();
        replay_archive(&adir, after, until, |t| {
            // Catalog records (CREATE TABLE) hold no rows.
            if t.catalog.is_none() {
                got.push(t);
            }
            Ok(())
        })
        .unwrap();
        got
    };
    let expected_ids = |i: i32| -> Vec<i32> {
        if i % 3 == 0 {
            vec![i * 100, i * 100 + 1, i * 100 + 2]
        } else {
            vec![i * 100]
        }
    };
    let all = collect(i64::MIN, times[30]);
    assert_eq!(all.len(), 30);
    for (n, t) in all.iter().enumerate() {
        assert_eq!(txn_ids_in(t), expected_ids(n as i32 + 1));
        assert!(t.commit_time_micros <= times[n + 1] && t.commit_time_micros > times[n]);
    }
    assert!(all
        .windows(2)
        .all(|w| w[0].commit_time_micros < w[1].commit_time_micros));
    // (times[7], times[22]] holds exactly transactions 8..=22.
    let window = collect(times[7], times[22]);
    let got: Vec<Vec<i32>> = window.iter().map(txn_ids_in).collect();
    let want: Vec<Vec<i32>> = (8..=22).map(expected_ids).collect();
    assert_eq!(got, want);
    assert!(collect(times[30], times[30]).is_empty());

    // The archive outlives a crash and keeps growing after it.
    server.kill9();
    restart(&mut server);
    let c = server.connect().await;
    c.batch_execute("INSERT INTO t VALUES (5000, 'late')")
        .await
        .unwrap();
    let late = now_micros();
    c.batch_execute("CHECKPOINT").await.unwrap();
    let tail = collect(times[30], late);
    assert_eq!(tail.len(), 1);
    assert_eq!(txn_ids_in(&tail[0]), vec![5000]);
}

/// Restart time of a large log, and of a checkpoint of the same data.
/// Run with `cargo test --release -p joltdb-tests --test checkpoint --
/// --ignored --nocapture restart_benchmark`; JOLTDB_BENCH_MB sets the log
/// size (default 1024).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn restart_benchmark() {
    let mb: usize = std::env::var("JOLTDB_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let mut server = TestServer::start(opts(2, &[]));
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE t (id integer PRIMARY KEY, a bigint, v text)")
        .await
        .unwrap();
    let row_bytes = 1000;
    let rows = mb * (1 << 20) / row_bytes;
    let pad = "p".repeat(row_bytes - 40);
    let load = Instant::now();
    let per_stmt = 500;
    for start in (0..rows).step_by(per_stmt) {
        let values: Vec<String> = (start..(start + per_stmt).min(rows))
            .map(|i| format!("({i}, {}, '{pad}')", i * 7))
            .collect();
        c.batch_execute(&format!("INSERT INTO t VALUES {}", values.join(",")))
            .await
            .unwrap();
    }
    let wal_bytes: u64 = dir_size(&server.data_dir().join("wal"));
    println!(
        "loaded {rows} rows in {:.1}s; wal directory {:.0} MiB",
        load.elapsed().as_secs_f64(),
        wal_bytes as f64 / (1 << 20) as f64
    );
    server.kill9();
    let t = Instant::now();
    restart(&mut server);
    println!(
        "restart replaying the whole log: {:.2}s ({:?})",
        t.elapsed().as_secs_f64(),
        last_recovery(&server)
    );
    let c = server.connect().await;
    let t = Instant::now();
    c.batch_execute("CHECKPOINT").await.unwrap();
    println!(
        "checkpoint: {:.2}s, {:.0} MiB",
        t.elapsed().as_secs_f64(),
        checkpoint_files(&server)
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .sum::<u64>() as f64
            / (1 << 20) as f64
    );
    server.kill9();
    let t = Instant::now();
    restart(&mut server);
    println!(
        "restart from the checkpoint: {:.2}s ({:?})",
        t.elapsed().as_secs_f64(),
        last_recovery(&server)
    );
    let c = server.connect().await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n as usize, rows);
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        total += if m.is_dir() {
            dir_size(&e.path())
        } else {
            m.len()
        };
    }
    total
}
