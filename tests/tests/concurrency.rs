//! Concurrent writers: no lost updates under READ COMMITTED, writers wait
//! for each other, deadlocks fail one transaction with 40P01, and snapshot
//! write-write conflicts fail with 40001.

use std::sync::Arc;
use std::time::Duration;

use joltdb_tests::{assert_sqlstate, ServerOpts, TestServer};
use rand::Rng;
use tokio::time::timeout;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

const COUNTERS: i32 = 4;
const CLIENTS: usize = 12;
const INCREMENTS_PER_CLIENT: usize = 40;
const WAIT: Duration = Duration::from_secs(30);

async fn counters_table(c: &Client, table: &str, n: i32) {
    let values: Vec<String> = (1..=n).map(|i| format!("({i}, 0)")).collect();
    c.batch_execute(&format!(
        "CREATE TABLE {table} (id integer PRIMARY KEY, v bigint NOT NULL);
         INSERT INTO {table} VALUES {};",
        values.join(", ")
    ))
    .await
    .unwrap();
}

async fn values(c: &Client, table: &str) -> Vec<i64> {
    c.query(&format!("SELECT v FROM {table} ORDER BY id"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_are_not_lost() {
    let server = TestServer::start(ServerOpts::default().partitions(4));
    counters_table(&server.connect().await, "c", COUNTERS).await;

    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let mut client = server.connect().await;
        tasks.push(tokio::spawn(async move {
            let stmt = client
                .prepare("UPDATE c SET v = v + 1 WHERE id = $1")
                .await
                .unwrap();
            let mut committed = [0i64; COUNTERS as usize];
            let mut errors = Vec::new();
            for i in 0..INCREMENTS_PER_CLIENT {
                let (a, b) = {
                    let mut rng = rand::thread_rng();
                    (rng.gen_range(1..=COUNTERS), rng.gen_range(1..=COUNTERS))
                };
                let result = match i % 3 {
                    // Autocommit.
                    0 => client.execute(&stmt, &[&a]).await.map(|n| vec![(a, n)]),
                    // One increment in an explicit transaction.
                    1 => {
                        async {
                            let tx = client.transaction().await?;
                            let n = tx.execute(&stmt, &[&a]).await?;
                            tx.commit().await?;
                            Ok(vec![(a, n)])
                        }
                        .await
                    }
                    // Two counters in one transaction, in id order.
                    _ => {
                        async {
                            let (lo, hi) = (a.min(b), a.max(b));
                            let tx = client.transaction().await?;
                            let n1 = tx.execute(&stmt, &[&lo]).await?;
                            let n2 = tx.execute(&stmt, &[&hi]).await?;
                            tx.commit().await?;
                            Ok(vec![(lo, n1), (hi, n2)])
                        }
                        .await
                    }
                };
                match result {
                    Ok(done) => {
                        for (id, n) in done {
                            assert_eq!(n, 1, "UPDATE of counter {id} touched {n} rows");
                            committed[(id - 1) as usize] += 1;
                        }
                    }
                    Err(e) => errors.push(format!("{e:?}")),
                }
            }
            (committed, errors)
        }));
    }

    let mut expected = [0i64; COUNTERS as usize];
    let mut errors = Vec::new();
    for t in tasks {
        let (committed, errs) = timeout(Duration::from_secs(120), t)
            .await
            .expect("increments did not finish in time")
            .unwrap();
        for (e, c) in expected.iter_mut().zip(committed) {
            *e += c;
        }
        errors.extend(errs);
    }
    let c = server.connect().await;
    assert_eq!(values(&c, "c").await, expected.to_vec(), "lost updates");
    // In READ COMMITTED, single-row increments in id order never fail.
    assert!(errors.is_empty(), "increments failed: {errors:?}");
}

#[tokio::test]
async fn writers_wait_for_each_other() {
    let server = TestServer::start_default();
    let c1 = server.connect().await;
    let c2 = Arc::new(server.connect().await);
    counters_table(&c1, "w", 1).await;

    c1.batch_execute("BEGIN; UPDATE w SET v = v + 1 WHERE id = 1")
        .await
        .unwrap();
    let waiter = {
        let c2 = c2.clone();
        tokio::spawn(async move {
            c2.execute("UPDATE w SET v = v + 10 WHERE id = 1", &[])
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiter.is_finished(),
        "a second writer did not wait for the first one's row lock"
    );
    c1.batch_execute("COMMIT").await.unwrap();
    let n = timeout(WAIT, waiter)
        .await
        .expect("waiting writer was not released by COMMIT")
        .unwrap()
        .unwrap();
    assert_eq!(n, 1);
    // The waiter re-read the committed row (READ COMMITTED), so both count.
    assert_eq!(values(&c1, "w").await, vec![11]);
}

#[tokio::test]
async fn deadlock_fails_one_transaction_with_40p01() {
    let server = TestServer::start_default();
    let c1 = Arc::new(server.connect().await);
    let c2 = Arc::new(server.connect().await);
    counters_table(&c1, "d", 2).await;

    c1.batch_execute("BEGIN; UPDATE d SET v = v + 1 WHERE id = 1")
        .await
        .unwrap();
    c2.batch_execute("BEGIN; UPDATE d SET v = v + 1 WHERE id = 2")
        .await
        .unwrap();
    let spawn_update = |c: Arc<Client>, id: i32| {
        tokio::spawn(async move {
            c.execute("UPDATE d SET v = v + 1 WHERE id = $1", &[&id])
                .await
        })
    };
    let mut t1 = spawn_update(c1.clone(), 2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut t2 = spawn_update(c2.clone(), 1);

    // Whichever finishes first, one update fails with 40P01. The other may
    // need the victim's ROLLBACK to go on (PostgreSQL releases the locks at
    // once, so it may also have finished already).
    let (first, first_is_1) = timeout(WAIT, async {
        tokio::select! {
            r = &mut t1 => (r.unwrap(), true),
            r = &mut t2 => (r.unwrap(), false),
        }
    })
    .await
    .expect("deadlock was not detected");
    let (other_task, first_failed) = if first_is_1 {
        (t2, first.is_err())
    } else {
        (t1, first.is_err())
    };
    let victim_is_1 = first_is_1 == first_failed;
    let (victim, winner) = if victim_is_1 { (c1, c2) } else { (c2, c1) };
    let winner_result = if first_failed {
        assert_sqlstate(first, &SqlState::T_R_DEADLOCK_DETECTED);
        victim.batch_execute("ROLLBACK").await.unwrap();
        timeout(WAIT, other_task)
            .await
            .expect("the surviving transaction stayed blocked")
            .unwrap()
    } else {
        let second = timeout(WAIT, other_task)
            .await
            .expect("deadlock victim never failed")
            .unwrap();
        assert_sqlstate(second, &SqlState::T_R_DEADLOCK_DETECTED);
        victim.batch_execute("ROLLBACK").await.unwrap();
        first
    };
    assert_eq!(winner_result.unwrap(), 1);
    winner.batch_execute("COMMIT").await.unwrap();
    assert_eq!(values(&winner, "d").await, vec![1, 1]);
}

#[tokio::test]
async fn snapshot_write_conflicts_fail_with_40001() {
    let server = TestServer::start_default();
    let c1 = Arc::new(server.connect().await);
    let c2 = server.connect().await;
    counters_table(&c1, "r", 4).await;

    // Row changed and committed after the snapshot was taken.
    for (level, id) in [("REPEATABLE READ", 1), ("SERIALIZABLE", 2)] {
        c1.batch_execute(&format!("BEGIN ISOLATION LEVEL {level}"))
            .await
            .unwrap();
        let before: i64 = c1
            .query_one("SELECT v FROM r WHERE id = $1", &[&id])
            .await
            .unwrap()
            .get(0);
        c2.execute("UPDATE r SET v = v + 1 WHERE id = $1", &[&id])
            .await
            .unwrap();
        let seen: i64 = c1
            .query_one("SELECT v FROM r WHERE id = $1", &[&id])
            .await
            .unwrap()
            .get(0);
        assert_eq!(seen, before, "{level} snapshot saw a later commit");
        assert_sqlstate(
            c1.execute("UPDATE r SET v = v + 1 WHERE id = $1", &[&id])
                .await,
            &SqlState::T_R_SERIALIZATION_FAILURE,
        );
        c1.batch_execute("ROLLBACK").await.unwrap();
    }

    // Row locked by a concurrent transaction that then commits: the waiter
    // fails. If that transaction rolls back instead, the waiter goes on.
    for (end, id) in [("COMMIT", 3), ("ROLLBACK", 4)] {
        c2.batch_execute(&format!("BEGIN; UPDATE r SET v = v + 1 WHERE id = {id}"))
            .await
            .unwrap();
        c1.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await
            .unwrap();
        c1.query_one("SELECT count(*) FROM r", &[]).await.unwrap();
        let waiter = {
            let c1 = c1.clone();
            tokio::spawn(async move {
                c1.execute("UPDATE r SET v = v + 100 WHERE id = $1", &[&id])
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        c2.batch_execute(end).await.unwrap();
        let result = timeout(WAIT, waiter)
            .await
            .expect("the waiting update was not released")
            .unwrap();
        if end == "COMMIT" {
            assert_sqlstate(result, &SqlState::T_R_SERIALIZATION_FAILURE);
            c1.batch_execute("ROLLBACK").await.unwrap();
        } else {
            assert_eq!(result.unwrap(), 1);
            c1.batch_execute("COMMIT").await.unwrap();
        }
    }
    assert_eq!(values(&c2, "r").await, vec![1, 1, 1, 100]);
}

#[tokio::test]
async fn waiting_statement_can_be_cancelled() {
    let server = TestServer::start_default();
    let c1 = server.connect().await;
    let c2 = Arc::new(server.connect().await);
    counters_table(&c1, "k", 1).await;

    c1.batch_execute("BEGIN; UPDATE k SET v = v + 1 WHERE id = 1")
        .await
        .unwrap();
    let waiter = {
        let c2 = c2.clone();
        tokio::spawn(async move {
            c2.execute("UPDATE k SET v = v + 10 WHERE id = 1", &[])
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    c2.cancel_token()
        .cancel_query(tokio_postgres::NoTls)
        .await
        .unwrap();
    let result = timeout(WAIT, waiter)
        .await
        .expect("cancel request did not stop the waiting statement")
        .unwrap();
    assert_sqlstate(result, &SqlState::QUERY_CANCELED);
    c1.batch_execute("COMMIT").await.unwrap();

    // statement_timeout ends a wait the same way.
    c1.batch_execute("BEGIN; UPDATE k SET v = v + 1 WHERE id = 1")
        .await
        .unwrap();
    c2.batch_execute("SET statement_timeout = 300")
        .await
        .unwrap();
    let result = timeout(
        WAIT,
        c2.execute("UPDATE k SET v = v + 10 WHERE id = 1", &[]),
    )
    .await
    .expect("statement_timeout did not end the wait");
    assert_sqlstate(result, &SqlState::QUERY_CANCELED);
    c1.batch_execute("COMMIT").await.unwrap();
    c2.batch_execute("RESET statement_timeout").await.unwrap();

    // Both connections still work, and only c1's increments happened.
    assert_eq!(values(&c2, "k").await, vec![2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_waiters_do_not_stall_other_sessions() {
    // One partition, so the waiters and the others share it.
    let server = TestServer::start(ServerOpts::default().partitions(1));
    let c1 = server.connect().await;
    counters_table(&c1, "s", 2).await;

    c1.batch_execute("BEGIN; UPDATE s SET v = v + 1 WHERE id = 1")
        .await
        .unwrap();
    // More waiters than the server has CPUs.
    let mut waiters = Vec::new();
    for _ in 0..8 {
        let c = server.connect().await;
        waiters.push(tokio::spawn(async move {
            c.execute("UPDATE s SET v = v + 1 WHERE id = 1", &[]).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let other = server.connect().await;
    timeout(Duration::from_secs(10), async {
        for _ in 0..20 {
            other
                .execute("UPDATE s SET v = v + 1 WHERE id = 2", &[])
                .await
                .unwrap();
        }
        let n: i64 = other
            .query_one("SELECT v FROM s WHERE id = 2", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 20);
    })
    .await
    .expect("sessions waiting for a row lock stalled everyone else");

    c1.batch_execute("COMMIT").await.unwrap();
    for w in waiters {
        let n = timeout(WAIT, w)
            .await
            .expect("waiter not released")
            .unwrap()
            .unwrap();
        assert_eq!(n, 1);
    }
    assert_eq!(values(&other, "s").await, vec![9, 20]);
}

/// Two transactions inserting the same unique key: the second waits for the
/// first and then fails with 23505 (or succeeds if the first rolls back).
#[tokio::test]
async fn unique_key_inserts_wait_then_conflict() {
    let server = TestServer::start_default();
    let c1 = server.connect().await;
    let c2 = Arc::new(server.connect().await);
    c1.batch_execute("CREATE TABLE uk (id serial PRIMARY KEY, k integer UNIQUE)")
        .await
        .unwrap();

    for commit in [true, false] {
        let key = if commit { 1 } else { 2 };
        c1.batch_execute(&format!("BEGIN; INSERT INTO uk (k) VALUES ({key})"))
            .await
            .unwrap();
        let waiter = {
            let c2 = c2.clone();
            tokio::spawn(async move { c2.execute("INSERT INTO uk (k) VALUES ($1)", &[&key]).await })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            !waiter.is_finished(),
            "an insert of a key another transaction is inserting did not wait"
        );
        c1.batch_execute(if commit { "COMMIT" } else { "ROLLBACK" })
            .await
            .unwrap();
        let result = timeout(WAIT, waiter)
            .await
            .expect("waiting insert was not released")
            .unwrap();
        if commit {
            assert_sqlstate(result, &SqlState::UNIQUE_VIOLATION);
        } else {
            assert_eq!(result.unwrap(), 1);
        }
    }
    let rows = c1.query("SELECT k FROM uk ORDER BY k", &[]).await.unwrap();
    let keys: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(keys, vec![1, 2]);
}
