//! Crash test: clients commit numbered rows, multi-row transactions and bank
//! transfers across partitions while the server is killed with SIGKILL at
//! random moments. After every restart each acknowledged commit must be
//! there, no transaction may be half there, and the bank total must hold.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use joltdb_tests::{connect_with, ServerOpts, TestServer};
use rand::Rng;
use tokio_postgres::error::SqlState;

const WORKERS: i64 = 8;
const ROUNDS: i64 = 5;
const ACCOUNTS: i32 = 16;
const INITIAL_BALANCE: i64 = 1000;
const TXN_ROWS: i64 = 4;

/// What the server acknowledged, accumulated over all rounds.
#[derive(Clone, Default)]
struct Acked {
    items: Vec<i64>,
    transfers: Vec<i64>,
    /// Errors other than connection loss or an expected retryable SQLSTATE.
    unexpected: Vec<String>,
}

async fn setup(c: &tokio_postgres::Client) {
    c.batch_execute(
        "CREATE TABLE items (
            id bigint PRIMARY KEY, txn bigint NOT NULL,
            txn_size integer NOT NULL, worker integer NOT NULL);
         CREATE TABLE bank (id integer PRIMARY KEY, balance bigint NOT NULL);
         CREATE TABLE transfers (
            id bigint PRIMARY KEY, src integer NOT NULL,
            dst integer NOT NULL, amount bigint NOT NULL);",
    )
    .await
    .unwrap();
    let values: Vec<String> = (1..=ACCOUNTS)
        .map(|i| format!("({i}, {INITIAL_BALANCE})"))
        .collect();
    c.batch_execute(&format!("INSERT INTO bank VALUES {}", values.join(", ")))
        .await
        .unwrap();
}

enum Outcome {
    Committed,
    /// A retryable failure (deadlock, serialization): nothing was committed.
    Retry,
    /// The connection is gone; the outcome of the last commit is unknown.
    Lost,
}

fn classify(e: &tokio_postgres::Error, acked: &Mutex<Acked>) -> Outcome {
    match e.code() {
        None => Outcome::Lost,
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED => Outcome::Retry,
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE => Outcome::Retry,
        // Shutdown-related codes when the server dies mid-statement.
        Some(c) if c.code().starts_with("57") || c.code().starts_with("08") => Outcome::Lost,
        Some(_) => {
            acked.lock().unwrap().unexpected.push(format!("{e:?}"));
            Outcome::Lost
        }
    }
}

async fn single_insert(
    c: &tokio_postgres::Client,
    stmt: &tokio_postgres::Statement,
    id: i64,
    worker: i32,
) -> Result<(), tokio_postgres::Error> {
    c.execute(stmt, &[&id, &id, &1i32, &worker]).await.map(drop)
}

async fn multi_insert(
    c: &mut tokio_postgres::Client,
    stmt: &tokio_postgres::Statement,
    first: i64,
    worker: i32,
) -> Result<(), tokio_postgres::Error> {
    let tx = c.transaction().await?;
    let size = TXN_ROWS as i32;
    for id in first..first + TXN_ROWS {
        tx.execute(stmt, &[&id, &first, &size, &worker]).await?;
    }
    tx.commit().await
}

async fn transfer(
    c: &mut tokio_postgres::Client,
    id: i64,
    src: i32,
    dst: i32,
    amount: i64,
) -> Result<(), tokio_postgres::Error> {
    let tx = c.transaction().await?;
    // Lock the accounts in id order so transfers do not deadlock each other.
    let mut legs = [(src, -amount), (dst, amount)];
    legs.sort();
    for (account, delta) in legs {
        let n = tx
            .execute(
                "UPDATE bank SET balance = balance + $2 WHERE id = $1",
                &[&account, &delta],
            )
            .await?;
        assert_eq!(n, 1, "account {account} missing");
    }
    tx.execute(
        "INSERT INTO transfers VALUES ($1, $2, $3, $4)",
        &[&id, &src, &dst, &amount],
    )
    .await?;
    tx.commit().await
}

/// Runs until the connection is lost (the server is killed) or the safety
/// limit is reached.
async fn worker(cfg: tokio_postgres::Config, round: i64, w: i64, acked: Arc<Mutex<Acked>>) {
    let Ok(mut c) = connect_with(cfg).await else {
        return;
    };
    let Ok(insert) = c.prepare("INSERT INTO items VALUES ($1, $2, $3, $4)").await else {
        return;
    };
    let worker = w as i32;
    let mut next = ((round * 100 + w) * 1_000_000) + 1;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let choice = rand::thread_rng().gen_range(0..3);
        let id = next;
        next += TXN_ROWS;
        let (result, rows): (_, Vec<i64>) = match choice {
            0 => (single_insert(&c, &insert, id, worker).await, vec![id]),
            1 => (
                multi_insert(&mut c, &insert, id, worker).await,
                (id..id + TXN_ROWS).collect(),
            ),
            _ => {
                let (src, dst, amount) = {
                    let mut rng = rand::thread_rng();
                    let src = rng.gen_range(1..=ACCOUNTS);
                    let mut dst = rng.gen_range(1..ACCOUNTS);
                    if dst >= src {
                        dst += 1;
                    }
                    (src, dst, rng.gen_range(1..=100))
                };
                let r = transfer(&mut c, id, src, dst, amount).await;
                if r.is_ok() {
                    acked.lock().unwrap().transfers.push(id);
                }
                (r, Vec::new())
            }
        };
        let outcome = match &result {
            Ok(()) => Outcome::Committed,
            Err(e) => classify(e, &acked),
        };
        match outcome {
            Outcome::Committed => acked.lock().unwrap().items.extend(rows),
            Outcome::Retry => {}
            Outcome::Lost => return,
        }
    }
}

async fn verify(c: &tokio_postgres::Client, acked: &Acked, after: &str) {
    let rows = c
        .query("SELECT id, txn, txn_size FROM items", &[])
        .await
        .unwrap();
    let mut present = HashSet::with_capacity(rows.len());
    let mut txns: HashMap<i64, (i32, i32)> = HashMap::new();
    for r in &rows {
        let (id, txn, size): (i64, i64, i32) = (r.get(0), r.get(1), r.get(2));
        assert!(present.insert(id), "{after}: item {id} appears twice");
        let e = txns.entry(txn).or_insert((size, 0));
        e.1 += 1;
    }
    let lost: Vec<i64> = acked
        .items
        .iter()
        .copied()
        .filter(|id| !present.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "{after}: {} acknowledged rows lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    for (txn, (size, count)) in &txns {
        assert_eq!(
            count, size,
            "{after}: transaction {txn} is partly visible ({count} of {size} rows)"
        );
    }

    let rows = c
        .query("SELECT id, src, dst, amount FROM transfers", &[])
        .await
        .unwrap();
    let mut expected: BTreeMap<i32, i64> = (1..=ACCOUNTS).map(|i| (i, INITIAL_BALANCE)).collect();
    let mut transfers = HashSet::new();
    for r in &rows {
        let (id, src, dst, amount): (i64, i32, i32, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
        transfers.insert(id);
        *expected.get_mut(&src).unwrap() -= amount;
        *expected.get_mut(&dst).unwrap() += amount;
    }
    let lost = acked
        .transfers
        .iter()
        .filter(|id| !transfers.contains(id))
        .count();
    assert_eq!(lost, 0, "{after}: {lost} acknowledged transfers lost");

    let rows = c
        .query("SELECT id, balance FROM bank ORDER BY id", &[])
        .await
        .unwrap();
    let balances: BTreeMap<i32, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let total: i64 = balances.values().sum();
    assert_eq!(
        total,
        i64::from(ACCOUNTS) * INITIAL_BALANCE,
        "{after}: bank total changed"
    );
    assert_eq!(
        balances, expected,
        "{after}: balances do not match the committed transfers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_commits_survive_sigkill() {
    let mut server = TestServer::start(ServerOpts::default().partitions(4));
    setup(&server.connect().await).await;
    let acked = Arc::new(Mutex::new(Acked::default()));

    for round in 0..ROUNDS {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| tokio::spawn(worker(server.config(), round, w, acked.clone())))
            .collect();
        let load_ms = rand::thread_rng().gen_range(500..2000);
        tokio::time::sleep(Duration::from_millis(load_ms)).await;
        server.kill9();
        for w in workers {
            tokio::time::timeout(Duration::from_secs(30), w)
                .await
                .expect("client did not notice the server's death")
                .expect("client task panicked");
        }
        tokio::task::block_in_place(|| server.restart());
        let c = server.connect().await;
        let acked = acked.lock().unwrap().clone();
        assert!(
            acked.unexpected.is_empty(),
            "unexpected errors: {:?}",
            acked.unexpected
        );
        verify(&c, &acked, &format!("after crash {}", round + 1)).await;
    }

    let (items, transfers) = {
        let a = acked.lock().unwrap();
        (a.items.len(), a.transfers.len())
    };
    assert!(
        items > 0 && transfers > 0,
        "no progress under load: {items} rows, {transfers} transfers acknowledged"
    );

    // A clean shutdown after all that keeps everything too.
    let status = tokio::task::block_in_place(|| server.stop());
    assert!(
        status.success(),
        "joltdb exited with {status} after SIGTERM"
    );
    tokio::task::block_in_place(|| server.restart());
    let c = server.connect().await;
    let acked = acked.lock().unwrap().clone();
    verify(&c, &acked, "after clean restart").await;
}

#[tokio::test]
async fn commit_is_durable_the_moment_it_is_acknowledged() {
    let mut server = TestServer::start_default();
    for round in 0..3i32 {
        let c = server.connect().await;
        c.batch_execute(&format!(
            "CREATE TABLE t{round} (id integer PRIMARY KEY, v text);
             INSERT INTO t{round} VALUES (1, 'a'), (2, 'b');"
        ))
        .await
        .unwrap();
        c.execute(&format!("UPDATE t{round} SET v = 'c' WHERE id = 2"), &[])
            .await
            .unwrap();
        c.execute(&format!("DELETE FROM t{round} WHERE id = 1"), &[])
            .await
            .unwrap();
        // Killed right after the acknowledgement, with no time to flush.
        server.kill9();
        server.restart();
        let c = server.connect().await;
        for t in 0..=round {
            let rows: Vec<(i32, String)> = c
                .query(&format!("SELECT id, v FROM t{t} ORDER BY id"), &[])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            assert_eq!(
                rows,
                vec![(2, "c".to_string())],
                "table t{t} after crash {round}"
            );
        }
    }
}
