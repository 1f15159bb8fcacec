//! Resource limits: statement_timeout and query cancellation stop a slow
//! query with SQLSTATE 57014 without blocking other sessions, and a large
//! result is streamed rather than built up in server memory.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{pin_mut, TryStreamExt};
use joltdb_tests::{assert_sqlstate, ServerOpts, TestServer};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

/// A query over a 3000-row table joined with itself; it matches nothing
/// and takes far longer than the timeouts used here.
const SLOW_QUERY: &str = "SELECT count(*) FROM t a, t b WHERE a.x + b.x = -1";
const SLOW_ROWS: i32 = 3000;

/// Upper bound for a trivial query answered while another session runs
/// the slow query.
const RESPONSIVE: Duration = Duration::from_secs(2);
/// Upper bound for the slow query to be stopped once asked to.
const STOP_BOUND: Duration = Duration::from_secs(10);

async fn setup_slow_table(c: &tokio_postgres::Client) {
    c.batch_execute("CREATE TABLE t (x integer NOT NULL)")
        .await
        .unwrap();
    for chunk in (0..SLOW_ROWS).collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk.iter().map(|i| format!("({i})")).collect();
        c.batch_execute(&format!("INSERT INTO t VALUES {}", values.join(", ")))
            .await
            .unwrap();
    }
}

/// Runs `select 1` repeatedly on `c` until `stop` is set; returns the
/// slowest answer and how many answers came.
async fn ping_until(c: tokio_postgres::Client, stop: Arc<AtomicBool>) -> (Duration, u32) {
    let mut worst = Duration::ZERO;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let row = tokio::time::timeout(STOP_BOUND, c.query_one("SELECT 1", &[]))
            .await
            .expect("select 1 did not answer while the slow query ran")
            .unwrap();
        assert_eq!(row.get::<_, i32>(0), 1);
        worst = worst.max(t.elapsed());
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (worst, n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_stops_slow_query_and_others_keep_going() {
    let server = TestServer::start(ServerOpts::default());
    let c = server.connect().await;
    setup_slow_table(&c).await;
    let other = server.connect().await;

    c.batch_execute("SET statement_timeout = '200ms'")
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = tokio::spawn(ping_until(other, stop.clone()));

    let t = Instant::now();
    let slow = c.query_one(SLOW_QUERY, &[]);
    let fresh = async {
        // A new session can be opened while the slow query runs.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = Instant::now();
        let r = tokio::time::timeout(STOP_BOUND, server.try_connect()).await;
        let took = t.elapsed();
        if let Ok(Ok(fresh)) = &r {
            fresh.query_one("SELECT 1", &[]).await.unwrap();
        }
        (r.map(|r| r.map(drop)), took)
    };
    let (res, (fresh, fresh_took)) = tokio::join!(tokio::time::timeout(STOP_BOUND, slow), fresh);
    let took = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (worst, n) = pinger.await.unwrap();
    assert!(n > 0, "no select 1 answered during the slow query");
    assert!(
        worst < RESPONSIVE,
        "select 1 took {worst:?} while another session ran the slow query"
    );
    match fresh {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("connecting during the slow query failed: {e}"),
        Err(_) => panic!("connecting during the slow query took over {STOP_BOUND:?}"),
    }
    assert!(
        fresh_took < RESPONSIVE,
        "connecting took {fresh_took:?} while another session ran the slow query"
    );
    let res = res.unwrap_or_else(|_| {
        panic!("statement_timeout = 200ms did not stop the query within {STOP_BOUND:?}")
    });
    assert_sqlstate(res, &SqlState::QUERY_CANCELED);
    assert!(
        took >= Duration::from_millis(150),
        "query stopped before the timeout could have fired: {took:?}"
    );

    // The session is still usable, and the timeout can be lifted.
    let row = c.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    c.batch_execute("SET statement_timeout = 0").await.unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, i64::from(SLOW_ROWS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_request_stops_slow_query() {
    let server = TestServer::start(ServerOpts::default());
    let c = server.connect().await;
    setup_slow_table(&c).await;

    let token = c.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await
    });
    let t = Instant::now();
    let res = tokio::time::timeout(STOP_BOUND + Duration::from_millis(300), async {
        c.query_one(SLOW_QUERY, &[]).await
    })
    .await
    .unwrap_or_else(|_| panic!("a cancel request did not stop the query within {STOP_BOUND:?}"));
    let took = t.elapsed();
    canceller
        .await
        .unwrap()
        .expect("sending the cancel request");
    assert_sqlstate(res, &SqlState::QUERY_CANCELED);
    assert!(
        took >= Duration::from_millis(250),
        "query failed before it was cancelled: {took:?}"
    );

    // The connection stays usable after the cancellation.
    let row = c.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    let n: i64 = c
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, i64::from(SLOW_ROWS));
}

/// Resident set size of a process in bytes (`VmRSS`).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

const STREAM_ROWS: i32 = 200_000;
const PAD_LEN: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_result_is_streamed() {
    let server = TestServer::start(ServerOpts::default());
    let pid = server.pid().expect("server pid");
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE big (id integer PRIMARY KEY, pad text NOT NULL)")
        .await
        .unwrap();
    let pad = "p".repeat(PAD_LEN);
    let deadline = Instant::now() + Duration::from_secs(50);
    for start in (0..STREAM_ROWS).step_by(1000) {
        let values: Vec<String> = (start..start + 1000)
            .map(|i| format!("({i}, '{pad}')"))
            .collect();
        c.batch_execute(&format!("INSERT INTO big VALUES {}", values.join(", ")))
            .await
            .unwrap();
    }
    assert!(Instant::now() < deadline, "loading took too long");

    let baseline = rss_bytes(pid).expect("reading server VmRSS");
    let peak = Arc::new(AtomicU64::new(baseline));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let peak = peak.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(rss) = rss_bytes(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(40), async {
        let stream = c
            .query_raw("SELECT id, pad FROM big", std::iter::empty::<i32>())
            .await?;
        pin_mut!(stream);
        let mut count = 0u64;
        let mut bytes = 0u64;
        while let Some(row) = stream.try_next().await? {
            let pad: &str = row.get(1);
            bytes += 4 + pad.len() as u64;
            count += 1;
        }
        Ok::<_, tokio_postgres::Error>((count, bytes))
    })
    .await;
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let (count, bytes) = result
        .unwrap_or_else(|_| panic!("streaming SELECT did not finish within 40 s"))
        .expect("streaming SELECT failed");
    let elapsed = started.elapsed();

    assert_eq!(count, STREAM_ROWS as u64, "wrong row count ({elapsed:?})");
    let growth = peak.load(Ordering::Relaxed).saturating_sub(baseline);
    assert!(
        growth < bytes / 2,
        "server RSS grew by {} KiB while streaming a {} KiB result (baseline {} KiB); \
         the result seems to be buffered in memory",
        growth / 1024,
        bytes / 1024,
        baseline / 1024
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn others_served_during_slow_simple_query() {
    let server = TestServer::start(ServerOpts::default());
    let c = server.connect().await;
    setup_slow_table(&c).await;
    let other = server.connect().await;

    let slow = tokio::spawn(async move {
        let t = Instant::now();
        let r = c.simple_query(SLOW_QUERY).await.map(drop);
        (r, t.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let ping = tokio::time::timeout(RESPONSIVE, other.query_one("SELECT 1", &[])).await;
    let ping_took = t.elapsed();
    let t = Instant::now();
    let fresh = tokio::time::timeout(RESPONSIVE, server.try_connect()).await;
    let fresh_took = t.elapsed();
    let (slow_result, slow_took) = slow.await.unwrap();
    slow_result.expect("slow query failed");
    assert!(
        ping.is_ok(),
        "select 1 on an open session got no answer within {ping_took:?} while another \
         session ran a slow simple-protocol query (which took {slow_took:?})"
    );
    ping.unwrap().unwrap();
    assert!(
        fresh.is_ok(),
        "a new connection was not established within {fresh_took:?} while another \
         session ran a slow simple-protocol query (which took {slow_took:?})"
    );
    fresh.unwrap().expect("connecting during the slow query");
}
