//! Statements nested too deeply fail with 54001 (stack depth limit
//! exceeded) instead of overflowing the server's stack, and another client
//! keeps being served meanwhile.

use joltdb_tests::{assert_sqlstate, TestServer};
use tokio_postgres::error::SqlState;

const TOO_COMPLEX: &SqlState = &SqlState::STATEMENT_TOO_COMPLEX;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_nesting_fails_with_54001_and_server_survives() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    let other = server.connect().await;
    c.batch_execute("CREATE TABLE t (x int PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();

    let deep = [
        // Left-deep operator chains are built without parser recursion.
        format!("SELECT {}", vec!["1"; 100_000].join(" + ")),
        format!("SELECT 1 WHERE {}", vec!["true"; 50_000].join(" AND ")),
        format!(
            "SELECT x FROM t WHERE {}",
            vec!["x = 1"; 20_000].join(" OR ")
        ),
        vec!["SELECT 1"; 20_000].join(" UNION ALL "),
        // Nesting through the parser.
        format!("SELECT {}1{}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("SELECT {}1{}", "abs(".repeat(5_000), ")".repeat(5_000)),
        format!("SELECT {}1{}", "(SELECT ".repeat(2_000), ")".repeat(2_000)),
        format!("SELECT {}1", "- ".repeat(50_000)),
        format!("SELECT {}true{}", "NOT (".repeat(5_000), ")".repeat(5_000)),
    ];
    for sql in &deep {
        let err = c.simple_query(sql).await.unwrap_err();
        assert_eq!(err.code(), Some(TOO_COMPLEX), "{}...: {err:?}", &sql[..40]);
        // The other client is served meanwhile.
        let row = other
            .query_one("SELECT count(*) FROM t", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 1);
    }

    // Moderately deep statements still work.
    let ok = [
        format!("SELECT {}", vec!["1"; 500].join(" + ")),
        format!("SELECT {}1{}", "(".repeat(100), ")".repeat(100)),
        format!("SELECT {}1{}", "(SELECT ".repeat(50), ")".repeat(50)),
        vec!["SELECT 1"; 200].join(" UNION ALL "),
    ];
    for sql in &ok {
        c.simple_query(sql).await.unwrap();
    }
    let row = c
        .query_one(&*format!("SELECT {}", vec!["1"; 500].join(" + ")), &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_over_memory_limit_fails_with_53200_and_others_keep_going() {
    let server = TestServer::start(joltdb_tests::ServerOpts {
        args: vec!["--query-memory-mb".into(), "8".into()],
        ..Default::default()
    });
    let c = server.connect().await;
    let other = server.connect().await;
    c.batch_execute("CREATE TABLE t (x int PRIMARY KEY, s text)")
        .await
        .unwrap();
    for chunk in (0..1000).collect::<Vec<i32>>().chunks(250) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("({i}, '{}')", "s".repeat(60)))
            .collect();
        c.batch_execute(&format!("INSERT INTO t VALUES {}", values.join(", ")))
            .await
            .unwrap();
    }
    let oom = &SqlState::OUT_OF_MEMORY;
    for sql in [
        // A million-row sort, DISTINCT, aggregate and hash join build side.
        "SELECT a.s || b.s FROM t a, t b ORDER BY 1",
        "SELECT DISTINCT a.s || b.s FROM t a, t b",
        "SELECT a.x * 1000 + b.x, count(*) FROM t a, t b GROUP BY 1",
        "SELECT count(*) FROM t a JOIN (SELECT a.x * 1000 + b.x AS k, a.s FROM t a, t b) j ON j.k = a.x",
        "SELECT a.s || b.s FROM t a, t b UNION SELECT 'x'",
    ] {
        assert_sqlstate(c.simple_query(sql).await, oom);
        let row = other.query_one("SELECT count(*) FROM t", &[]).await.unwrap();
        assert_eq!(row.get::<_, i64>(0), 1000);
    }
    // Streaming a large result needs no budget, and small sorts still fit.
    let rows = c
        .simple_query("SELECT a.x FROM t a, t b WHERE b.x < 100")
        .await
        .unwrap();
    assert!(rows.len() > 100_000);
    let row = c
        .query_one(
            "SELECT count(*) FROM (SELECT DISTINCT s FROM t ORDER BY s) d",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
}
