//! EXPLAIN end to end: the access path of each scan, which partitions a
//! statement touches (one for a constant primary key, one chosen at run
//! time for a parameter, all for a scan), the same privilege checks as the
//! statement itself, and clear errors for what it does not support.

use joltdb_tests::{assert_sqlstate, connect_with, ServerOpts, TestServer};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

async fn plan(c: &Client, sql: &str) -> Vec<String> {
    c.query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

/// The partition a plan line `Partitions: 1 of N (partition P)` names.
fn single_partition(lines: &[String]) -> u32 {
    let line = lines
        .iter()
        .find(|l| l.trim_start().starts_with("Partitions: 1 of"))
        .unwrap_or_else(|| panic!("no single partition in {lines:#?}"));
    line.trim_end_matches(')')
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn explain_shows_access_paths_and_partitions() {
    let server = TestServer::start(ServerOpts::default().partitions(4));
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE a (id int PRIMARY KEY, v text);
         CREATE TABLE b (id int PRIMARY KEY, a_id int, w int);
         CREATE INDEX b_a ON b (a_id);",
    )
    .await
    .unwrap();

    assert_eq!(
        plan(&c, "EXPLAIN SELECT * FROM a").await,
        ["Seq Scan on a", "  Partitions: all 4"]
    );

    // A constant key names its partition; the INSERT of that key and the
    // lookup of it agree, and the keys spread over more than one partition.
    let mut seen = std::collections::BTreeSet::new();
    for id in 1..=20 {
        let select = plan(&c, &format!("EXPLAIN SELECT v FROM a WHERE id = {id}")).await;
        assert_eq!(select[0], "Index Scan using a_pkey on a");
        assert_eq!(select[1], format!("  Index Cond: (id = {id})"));
        let insert = plan(&c, &format!("EXPLAIN INSERT INTO a VALUES ({id}, 'x')")).await;
        assert_eq!(insert[0], "Insert on a");
        let p = single_partition(&select);
        assert_eq!(p, single_partition(&insert), "key {id}");
        assert!(p < 4);
        seen.insert(p);
    }
    assert!(seen.len() > 1, "20 keys all in one partition: {seen:?}");

    // A parameter: one partition, decided when the statement runs.
    let stmt = c
        .prepare("EXPLAIN UPDATE a SET v = 'y' WHERE id = $1")
        .await
        .unwrap();
    let lines: Vec<String> = c
        .query(&stmt, &[&7i32])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        lines,
        [
            "Update on a",
            "  ->  Index Scan using a_pkey on a",
            "        Index Cond: (id = $1)",
            "        Partitions: 1 of 4 (chosen by the key at run time)",
            "        Filter: (id = $1)",
        ]
    );

    let join = plan(
        &c,
        "EXPLAIN SELECT a.v, count(*) FROM a JOIN b ON a.id = b.a_id GROUP BY a.v",
    )
    .await;
    assert_eq!(
        join,
        [
            "HashAggregate",
            "  Group Key: a.v",
            "  ->  Hash Join",
            "        Hash Cond: (a.id = b.a_id)",
            "        ->  Seq Scan on a",
            "              Partitions: all 4",
            "        ->  Hash",
            "              ->  Seq Scan on b",
            "                    Partitions: all 4",
        ]
    );
    let by_index = plan(&c, "EXPLAIN DELETE FROM b WHERE a_id = 5").await;
    assert_eq!(by_index[1], "  ->  Index Scan using b_a on b");

    // EXPLAIN does not run the statement.
    plan(&c, "EXPLAIN INSERT INTO a VALUES (100, 'never')").await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM a", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);

    assert_sqlstate(
        c.batch_execute("EXPLAIN ANALYZE SELECT 1").await,
        &SqlState::FEATURE_NOT_SUPPORTED,
    );
    assert_sqlstate(
        c.batch_execute("EXPLAIN CREATE TABLE z (i int)").await,
        &SqlState::FEATURE_NOT_SUPPORTED,
    );
    assert_sqlstate(
        c.batch_execute("EXPLAIN SELECT * FROM missing").await,
        &SqlState::UNDEFINED_TABLE,
    );
}

#[tokio::test]
async fn explain_needs_the_privileges_of_the_statement() {
    let server = TestServer::start_default();
    let admin = server.connect().await;
    admin
        .batch_execute(
            "CREATE TABLE t (id int PRIMARY KEY);
             CREATE USER carol WITH PASSWORD 'carol-pw';",
        )
        .await
        .unwrap();
    let mut cfg = server.config();
    cfg.user("carol").password("carol-pw");
    let carol = connect_with(cfg).await.unwrap();
    assert_sqlstate(
        carol.batch_execute("EXPLAIN SELECT * FROM t").await,
        &SqlState::INSUFFICIENT_PRIVILEGE,
    );
    admin
        .batch_execute("GRANT SELECT ON t TO carol")
        .await
        .unwrap();
    assert_eq!(
        plan(&carol, "EXPLAIN SELECT * FROM t").await[0],
        "Seq Scan on t"
    );
    assert_sqlstate(
        carol.batch_execute("EXPLAIN DELETE FROM t").await,
        &SqlState::INSUFFICIENT_PRIVILEGE,
    );
}
