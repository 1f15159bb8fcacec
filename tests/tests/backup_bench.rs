//! Backup/restore benchmark against PostgreSQL's pg_dump -Fc / pg_restore
//! on the same data (pgbench's tables at scale 20: 2,000,000 accounts),
//! plus TPC-B throughput while hot backups run. Ignored by default; run it
//! with
//!
//! ```sh
//! cargo test --release -p joltdb-tests --test backup_bench -- --ignored --nocapture
//! ```
//!
//! It needs PostgreSQL 15's binaries in /usr/lib/postgresql/15/bin and
//! root (to run them as the `postgres` user). `BENCH_SCALE` overrides the
//! scale.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use joltdb_tests::{free_port, ServerOpts, TestServer};
use rand::Rng;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn scale() -> i32 {
    std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

fn as_postgres(program: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(Path::new(PG_BIN).join(program))
        .args(args)
        .output()
        .expect("running a PostgreSQL binary");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

struct Measured {
    secs: f64,
    bytes: u64,
}

fn report(what: &str, rows: u64, m: &Measured) {
    println!(
        "{what:<28} {:>8.2} s {:>12.0} rows/s {:>8.1} MB/s ({:.1} MB)",
        m.secs,
        rows as f64 / m.secs,
        m.bytes as f64 / 1e6 / m.secs,
        m.bytes as f64 / 1e6
    );
}

/// pg_dump -Fc and pg_restore of a pgbench database.
fn postgres_round_trip(scale: i32) -> (Measured, Measured) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("pg");
    let dump = dir.path().join("bench.dump");
    std::fs::create_dir_all(&data).unwrap();
    Command::new("chown")
        .args(["-R", "postgres"])
        .arg(dir.path())
        .status()
        .unwrap();
    let port = free_port().to_string();
    let sock = dir.path().to_str().unwrap().to_string();
    as_postgres(
        "initdb",
        &[
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
        ],
    );
    as_postgres(
        "pg_ctl",
        &[
            "-D",
            data.to_str().unwrap(),
            "-w",
            "-l",
            dir.path().join("log").to_str().unwrap(),
            "-o",
            &format!("-p {port} -k {sock} -c listen_addresses=''"),
            "start",
        ],
    );
    let conn = ["-h", &sock, "-p", &port, "-U", "postgres"];
    let with = |extra: &[&str]| -> Vec<String> {
        conn.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let run = |prog: &str, extra: &[&str]| {
        let args = with(extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        as_postgres(prog, &refs)
    };
    run(
        "pgbench",
        &["-i", "-q", "-s", &scale.to_string(), "postgres"],
    );
    let t = Instant::now();
    run(
        "pg_dump",
        &["-Fc", "-f", dump.to_str().unwrap(), "postgres"],
    );
    let dump_time = t.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&dump).unwrap().len();
    run("createdb", &["restored"]);
    let t = Instant::now();
    run("pg_restore", &["-d", "restored", dump.to_str().unwrap()]);
    let restore_time = t.elapsed().as_secs_f64();
    as_postgres(
        "pg_ctl",
        &["-D", data.to_str().unwrap(), "-m", "fast", "stop"],
    );
    (
        Measured {
            secs: dump_time,
            bytes,
        },
        Measured {
            secs: restore_time,
            bytes,
        },
    )
}

async fn load_pgbench(c: &tokio_postgres::Client, scale: i32) {
    c.batch_execute(
        "CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88));
         CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84));
         CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
         CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));",
    )
    .await
    .unwrap();
    let values = |n: i32, per: i32| -> String {
        (1..=n)
            .map(|i| format!("({i}, {}, 0, '')", (i - 1) / per + 1))
            .collect::<Vec<_>>()
            .join(",")
    };
    c.batch_execute(&format!(
        "INSERT INTO pgbench_branches VALUES {}",
        (1..=scale)
            .map(|i| format!("({i}, 0, '')"))
            .collect::<Vec<_>>()
            .join(",")
    ))
    .await
    .unwrap();
    c.batch_execute(&format!(
        "INSERT INTO pgbench_tellers VALUES {}",
        values(scale * 10, 10)
    ))
    .await
    .unwrap();
    let accounts = scale * 100_000;
    for start in (1..=accounts).step_by(2000) {
        let rows: Vec<String> = (start..start + 2000)
            .map(|i| format!("({i}, {}, 0, '')", (i - 1) / 100_000 + 1))
            .collect();
        c.batch_execute(&format!(
            "INSERT INTO pgbench_accounts VALUES {}",
            rows.join(",")
        ))
        .await
        .unwrap();
    }
}

/// TPC-B transactions (pgbench's default script) until `stop`.
async fn tpcb_client(
    cfg: tokio_postgres::Config,
    scale: i32,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) {
    let c = joltdb_tests::connect_with(cfg).await.unwrap();
    while !stop.load(Ordering::Relaxed) {
        let (aid, tid, bid, delta) = {
            let mut r = rand::thread_rng();
            (
                r.gen_range(1..=scale * 100_000),
                r.gen_range(1..=scale * 10),
                r.gen_range(1..=scale),
                r.gen_range(-5000..=5000),
            )
        };
        let sql = format!(
            "BEGIN;
             UPDATE pgbench_accounts SET abalance = abalance + {delta} WHERE aid = {aid};
             SELECT abalance FROM pgbench_accounts WHERE aid = {aid};
             UPDATE pgbench_tellers SET tbalance = tbalance + {delta} WHERE tid = {tid};
             UPDATE pgbench_branches SET bbalance = bbalance + {delta} WHERE bid = {bid};
             INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ({tid}, {bid}, {aid}, {delta}, CURRENT_TIMESTAMP);
             END;"
        );
        match c.batch_execute(&sql).await {
            Ok(()) => {
                done.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                let _ = c.batch_execute("ROLLBACK").await;
            }
        }
    }
}

async fn tpcb_tps(server: &TestServer, scale: i32, secs: u64, during_backup: bool) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(tpcb_client(
                server.config(),
                scale,
                stop.clone(),
                done.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let backups = during_backup.then(|| {
        let cfg = server.config();
        let stop = stop.clone();
        tokio::spawn(async move {
            let c = joltdb_tests::connect_with(cfg).await.unwrap();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                c.batch_execute(&format!("BACKUP DATABASE TO 'during{n}'"))
                    .await
                    .unwrap();
                n += 1;
            }
            n
        })
    });
    let start = done.load(Ordering::Relaxed);
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let tps = (done.load(Ordering::Relaxed) - start) as f64 / t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    if let Some(b) = backups {
        println!(
            "hot backups completed during the TPC-B run: {}",
            b.await.unwrap()
        );
    }
    tps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
async fn backup_restore_vs_pg_dump() {
    let scale = scale();
    let rows = scale as u64 * (100_000 + 10 + 1);
    let (pg_dump, pg_restore) = postgres_round_trip(scale);

    let server = TestServer::start(ServerOpts::default().partitions(4));
    let c = server.connect().await;
    let t = Instant::now();
    load_pgbench(&c, scale).await;
    println!(
        "joltdb: loaded {rows} rows in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    c.batch_execute("BACKUP DATABASE TO 'bench'").await.unwrap();
    let bytes = std::fs::metadata(server.data_dir().join("backups/bench"))
        .unwrap()
        .len();
    let backup = Measured {
        secs: t.elapsed().as_secs_f64(),
        bytes,
    };
    c.batch_execute(
        "DROP TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history",
    )
    .await
    .unwrap();
    let t = Instant::now();
    c.batch_execute("RESTORE DATABASE FROM 'bench'")
        .await
        .unwrap();
    let restore = Measured {
        secs: t.elapsed().as_secs_f64(),
        bytes,
    };
    let n: i64 = c
        .query_one("SELECT count(*) FROM pgbench_accounts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, scale as i64 * 100_000);

    println!("scale {scale}: {rows} rows");
    report("pg_dump -Fc", rows, &pg_dump);
    report("joltdb BACKUP DATABASE", rows, &backup);
    report("pg_restore", rows, &pg_restore);
    report("joltdb RESTORE DATABASE", rows, &restore);
    println!(
        "speed-up over PostgreSQL: backup {:.2}x, restore {:.2}x, round trip {:.2}x",
        pg_dump.secs / backup.secs,
        pg_restore.secs / restore.secs,
        (pg_dump.secs + pg_restore.secs) / (backup.secs + restore.secs)
    );

    let normal = tpcb_tps(&server, scale, 10, false).await;
    let during = tpcb_tps(&server, scale, 10, true).await;
    println!(
        "TPC-B: {normal:.0} tps normally, {during:.0} tps during hot backups ({:.0}%)",
        during / normal * 100.0
    );
}
