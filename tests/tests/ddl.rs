//! ALTER TABLE end to end: every action against rows already stored, the
//! errors PostgreSQL 15 gives (same SQLSTATEs and messages), and altered
//! tables surviving kill -9.

use joltdb_tests::{assert_sqlstate, TestServer};
use joltdb_tests::{simple_rows as rows, text_row as r};
use tokio_postgres::error::SqlState;

fn message(err: tokio_postgres::Error) -> String {
    err.as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn alter_table_columns_and_constraints() {
    let mut server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE t (id int, name text);
         INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, NULL);
         ALTER TABLE t ADD COLUMN score int DEFAULT 7;
         ALTER TABLE t ADD COLUMN flag bool NOT NULL DEFAULT true;",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM t ORDER BY id").await,
        vec![
            r(&[Some("1"), Some("a"), Some("7"), Some("t")]),
            r(&[Some("2"), Some("b"), Some("7"), Some("t")]),
            r(&[Some("3"), None, Some("7"), Some("t")]),
        ]
    );
    let e = c
        .batch_execute("ALTER TABLE t ADD COLUMN score int")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DUPLICATE_COLUMN));
    assert_eq!(
        message(e),
        "column \"score\" of relation \"t\" already exists"
    );
    c.batch_execute("ALTER TABLE t ADD COLUMN IF NOT EXISTS score int")
        .await
        .unwrap();
    assert_sqlstate(
        c.batch_execute("ALTER TABLE t ADD COLUMN req int NOT NULL")
            .await,
        &SqlState::NOT_NULL_VIOLATION,
    );

    c.batch_execute("ALTER TABLE t DROP COLUMN name")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM t WHERE id = 3").await,
        vec![r(&[Some("3"), Some("7"), Some("t")])]
    );
    let e = c
        .batch_execute("ALTER TABLE t DROP COLUMN nosuch")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::UNDEFINED_COLUMN));
    assert_eq!(
        message(e),
        "column \"nosuch\" of relation \"t\" does not exist"
    );
    c.batch_execute("ALTER TABLE t DROP COLUMN IF EXISTS nosuch")
        .await
        .unwrap();

    c.batch_execute(
        "ALTER TABLE t RENAME COLUMN score TO points;
         ALTER TABLE t RENAME TO t2;",
    )
    .await
    .unwrap();
    assert_sqlstate(
        c.simple_query("SELECT * FROM t").await,
        &SqlState::UNDEFINED_TABLE,
    );
    assert_eq!(
        rows(&c, "SELECT points FROM t2 WHERE id = 1").await,
        vec![r(&[Some("7")])]
    );

    // ADD PRIMARY KEY rekeys the rows; duplicates and NULLs are refused.
    c.batch_execute("ALTER TABLE t2 ADD PRIMARY KEY (id)")
        .await
        .unwrap();
    assert_sqlstate(
        c.batch_execute("INSERT INTO t2 VALUES (1, 1, true)").await,
        &SqlState::UNIQUE_VIOLATION,
    );
    let e = c
        .batch_execute("ALTER TABLE t2 ADD PRIMARY KEY (id)")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INVALID_TABLE_DEFINITION));
    assert_eq!(
        message(e),
        "multiple primary keys for table \"t2\" are not allowed"
    );
    c.batch_execute(
        "CREATE TABLE d (a int); INSERT INTO d VALUES (1), (1);
         CREATE TABLE n (a int); INSERT INTO n VALUES (NULL);",
    )
    .await
    .unwrap();
    let e = c
        .batch_execute("ALTER TABLE d ADD PRIMARY KEY (a)")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::UNIQUE_VIOLATION));
    assert_eq!(
        e.as_db_error().and_then(|d| d.detail()),
        Some("Key (a)=(1) is duplicated.")
    );
    let e = c
        .batch_execute("ALTER TABLE n ADD PRIMARY KEY (a)")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::NOT_NULL_VIOLATION));
    assert_eq!(
        message(e),
        "column \"a\" of relation \"n\" contains null values"
    );
    assert_sqlstate(
        c.batch_execute("ALTER TABLE n ALTER COLUMN a SET NOT NULL")
            .await,
        &SqlState::NOT_NULL_VIOLATION,
    );
    assert_sqlstate(
        c.batch_execute("ALTER TABLE t2 ALTER COLUMN id DROP NOT NULL")
            .await,
        &SqlState::INVALID_TABLE_DEFINITION,
    );

    // Defaults and NOT NULL.
    c.batch_execute(
        "ALTER TABLE t2 ALTER COLUMN points SET NOT NULL;
         ALTER TABLE t2 ALTER COLUMN points DROP DEFAULT;",
    )
    .await
    .unwrap();
    assert_sqlstate(
        c.batch_execute("INSERT INTO t2 (id, flag) VALUES (9, false)")
            .await,
        &SqlState::NOT_NULL_VIOLATION,
    );
    c.batch_execute(
        "ALTER TABLE t2 ALTER COLUMN points SET DEFAULT 5;
         INSERT INTO t2 (id, flag) VALUES (9, false);",
    )
    .await
    .unwrap();

    // CHECK constraints are validated against existing rows.
    let e = c
        .batch_execute("ALTER TABLE t2 ADD CONSTRAINT pos CHECK (points > 6)")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::CHECK_VIOLATION));
    assert_eq!(
        message(e),
        "check constraint \"pos\" of relation \"t2\" is violated by some row"
    );
    c.batch_execute("ALTER TABLE t2 ADD CONSTRAINT pos CHECK (points > 4)")
        .await
        .unwrap();
    assert_sqlstate(
        c.batch_execute("INSERT INTO t2 (id, points, flag) VALUES (10, 1, false)")
            .await,
        &SqlState::CHECK_VIOLATION,
    );
    c.batch_execute("ALTER TABLE t2 DROP CONSTRAINT pos")
        .await
        .unwrap();
    assert_sqlstate(
        c.batch_execute("ALTER TABLE t2 DROP CONSTRAINT pos").await,
        &SqlState::UNDEFINED_OBJECT,
    );
    c.batch_execute(
        "ALTER TABLE t2 DROP CONSTRAINT IF EXISTS pos;
         INSERT INTO t2 (id, points, flag) VALUES (10, 1, false);",
    )
    .await
    .unwrap();

    // Column type changes convert stored values; impossible ones are refused.
    c.batch_execute("ALTER TABLE t2 ALTER COLUMN points TYPE bigint")
        .await
        .unwrap();
    let e = c
        .batch_execute("ALTER TABLE t2 ALTER COLUMN flag TYPE int")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DATATYPE_MISMATCH));
    assert_eq!(
        message(e),
        "column \"flag\" cannot be cast automatically to type integer"
    );
    let e = c
        .batch_execute("ALTER TABLE t2 ADD CONSTRAINT u UNIQUE (points)")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::UNIQUE_VIOLATION));
    assert_eq!(
        e.as_db_error().and_then(|d| d.detail()),
        Some("Key (points)=(7) is duplicated.")
    );
    c.batch_execute("ALTER TABLE t2 ADD CONSTRAINT u UNIQUE (id, points)")
        .await
        .unwrap();
    let expected = vec![
        r(&[Some("1"), Some("7"), Some("t")]),
        r(&[Some("2"), Some("7"), Some("t")]),
        r(&[Some("3"), Some("7"), Some("t")]),
        r(&[Some("9"), Some("5"), Some("f")]),
        r(&[Some("10"), Some("1"), Some("f")]),
    ];
    assert_eq!(rows(&c, "SELECT * FROM t2 ORDER BY id").await, expected);
    assert_eq!(
        rows(&c, "SELECT pg_typeof(points)::text FROM t2 LIMIT 1").await,
        vec![r(&[Some("bigint")])]
    );

    // Everything survives a crash: the catalog and the rewritten rows.
    drop(c);
    server.kill9();
    server.restart();
    let c = server.connect().await;
    assert_eq!(rows(&c, "SELECT * FROM t2 ORDER BY id").await, expected);
    assert_sqlstate(
        c.batch_execute("INSERT INTO t2 VALUES (1, 1, true)").await,
        &SqlState::UNIQUE_VIOLATION,
    );
    assert_sqlstate(
        c.batch_execute("INSERT INTO t2 (id, flag) VALUES (11, NULL)")
            .await,
        &SqlState::NOT_NULL_VIOLATION,
    );
    c.batch_execute("INSERT INTO t2 (id, flag) VALUES (11, true)")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT points FROM t2 WHERE id = 11").await,
        vec![r(&[Some("5")])]
    );
    c.batch_execute("ALTER TABLE t2 DROP CONSTRAINT t2_pkey; INSERT INTO t2 VALUES (1, 9, true)")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT count(*) FROM t2 WHERE id = 1").await,
        vec![r(&[Some("2")])]
    );
}

/// pgbench -i creates its tables without keys, loads them, then adds the
/// primary keys; the keyed table must be usable and durable.
#[tokio::test]
async fn add_primary_key_after_load_survives_restart() {
    let mut server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE accounts (aid int NOT NULL, bid int, abalance int, filler char(84))",
    )
    .await
    .unwrap();
    let values: Vec<String> = (1..=5000).map(|i| format!("({i}, 1, 0, '')")).collect();
    c.batch_execute(&format!("INSERT INTO accounts VALUES {}", values.join(",")))
        .await
        .unwrap();
    c.batch_execute("ALTER TABLE accounts ADD PRIMARY KEY (aid)")
        .await
        .unwrap();
    c.batch_execute("UPDATE accounts SET abalance = abalance + 5 WHERE aid = 42")
        .await
        .unwrap();
    drop(c);
    server.kill9();
    server.restart();
    let c = server.connect().await;
    assert_eq!(
        rows(&c, "SELECT count(*), sum(aid) FROM accounts").await,
        vec![r(&[Some("5000"), Some("12502500")])]
    );
    assert_eq!(
        rows(&c, "SELECT abalance FROM accounts WHERE aid = 42").await,
        vec![r(&[Some("5")])]
    );
    assert_sqlstate(
        c.batch_execute("INSERT INTO accounts VALUES (42, 1, 0, '')")
            .await,
        &SqlState::UNIQUE_VIOLATION,
    );
}

/// A rewrite runs in many batches (pgbench -i -s 3 and up add a primary key
/// to 300,000 rows and more); it must finish, and the result be durable.
#[tokio::test]
async fn add_primary_key_to_a_large_table() {
    let mut server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE big (id int NOT NULL, v int)")
        .await
        .unwrap();
    for start in (1..=300_000).step_by(10_000) {
        let values: Vec<String> = (start..start + 10_000)
            .map(|i| format!("({i}, {})", i % 7))
            .collect();
        c.batch_execute(&format!("INSERT INTO big VALUES {}", values.join(",")))
            .await
            .unwrap();
    }
    tokio::time::timeout(
        std::time::Duration::from_secs(120),
        c.batch_execute("ALTER TABLE big ADD PRIMARY KEY (id)"),
    )
    .await
    .expect("ALTER TABLE ADD PRIMARY KEY did not finish")
    .unwrap();
    drop(c);
    server.kill9();
    server.restart();
    let c = server.connect().await;
    assert_eq!(
        rows(&c, "SELECT count(*), sum(id) FROM big").await,
        vec![r(&[Some("300000"), Some("45000150000")])]
    );
    assert_sqlstate(
        c.batch_execute("INSERT INTO big VALUES (123456, 0)").await,
        &SqlState::UNIQUE_VIOLATION,
    );
}

#[tokio::test]
async fn sequences() {
    let mut server = TestServer::start_default();
    let c = server.connect().await;
    let e = c.simple_query("SELECT lastval()").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE));
    assert_eq!(message(e), "lastval is not yet defined in this session");
    c.batch_execute("CREATE SEQUENCE s").await.unwrap();
    assert_eq!(
        rows(&c, "SELECT nextval('s'), nextval('s'), currval('s')").await,
        vec![r(&[Some("1"), Some("2"), Some("2")])]
    );
    assert_eq!(rows(&c, "SELECT lastval()").await, vec![r(&[Some("2")])]);
    assert_sqlstate(
        c.batch_execute("CREATE SEQUENCE s").await,
        &SqlState::DUPLICATE_TABLE,
    );
    c.batch_execute("CREATE SEQUENCE IF NOT EXISTS s")
        .await
        .unwrap();
    c.batch_execute("CREATE SEQUENCE down INCREMENT BY -2 START WITH 10 MINVALUE 1 MAXVALUE 10")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT nextval('down'), nextval('down'), nextval('down'), nextval('down'), nextval('down')").await,
        vec![r(&[Some("10"), Some("8"), Some("6"), Some("4"), Some("2")])]
    );
    let e = c.simple_query("SELECT nextval('down')").await.unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("2200H"));
    assert_eq!(
        message(e),
        "nextval: reached minimum value of sequence \"down\" (1)"
    );
    c.batch_execute("CREATE SEQUENCE cyc MAXVALUE 2 CYCLE")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT nextval('cyc'), nextval('cyc'), nextval('cyc')").await,
        vec![r(&[Some("1"), Some("2"), Some("1")])]
    );
    for (sql, msg) in [
        (
            "CREATE SEQUENCE bad INCREMENT 0",
            "INCREMENT must not be zero",
        ),
        (
            "CREATE SEQUENCE bad MINVALUE 5 MAXVALUE 1",
            "MINVALUE (5) must be less than MAXVALUE (1)",
        ),
        (
            "CREATE SEQUENCE bad START 0",
            "START value (0) cannot be less than MINVALUE (1)",
        ),
        (
            "CREATE SEQUENCE bad AS smallint MAXVALUE 100000",
            "MAXVALUE (100000) is out of range for sequence data type smallint",
        ),
    ] {
        let e = c.batch_execute(sql).await.unwrap_err();
        assert_eq!(e.code(), Some(&SqlState::INVALID_PARAMETER_VALUE), "{sql}");
        assert_eq!(message(e), msg, "{sql}");
    }
    c.batch_execute("CREATE SEQUENCE fresh").await.unwrap();
    let e = c.simple_query("SELECT currval('fresh')").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE));
    assert_eq!(
        message(e),
        "currval of sequence \"fresh\" is not yet defined in this session"
    );
    assert_eq!(
        rows(&c, "SELECT setval('fresh', 42), nextval('fresh')").await,
        vec![r(&[Some("42"), Some("43")])]
    );
    c.batch_execute("CREATE TABLE ser (id serial)")
        .await
        .unwrap();
    assert_sqlstate(
        c.batch_execute("DROP SEQUENCE ser_id_seq").await,
        &SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
    );
    c.batch_execute("DROP SEQUENCE fresh; DROP SEQUENCE IF EXISTS fresh")
        .await
        .unwrap();
    assert_sqlstate(
        c.batch_execute("DROP SEQUENCE fresh").await,
        &SqlState::UNDEFINED_TABLE,
    );

    // After a crash a sequence never hands out a value twice.
    drop(c);
    server.kill9();
    server.restart();
    let c = server.connect().await;
    let next: i64 = c
        .query_one("SELECT nextval('s')", &[])
        .await
        .unwrap()
        .get(0);
    assert!(next > 2, "nextval after restart: {next}");
    let next: i64 = c
        .query_one("SELECT nextval('down')", &[])
        .await
        .map(|r| r.get(0))
        .unwrap_or(0);
    assert_eq!(next, 0, "a finished descending sequence stays finished");
}

/// Inserts ids `first, first + step, ...` in autocommit until `stop`, and
/// returns the ids whose INSERT was acknowledged. A 40001 (the table was
/// altered under the statement) is retried, as a client would.
async fn insert_until(
    c: tokio_postgres::Client,
    first: i32,
    step: i32,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<i32> {
    let mut acked = Vec::new();
    let mut id = first;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        match c
            .execute("INSERT INTO live (id, v) VALUES ($1, $1)", &[&id])
            .await
        {
            Ok(_) => {
                acked.push(id);
                id += step;
            }
            Err(e) if e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE) => {}
            Err(e) => panic!("insert {id}: {e:?}"),
        }
    }
    acked
}

#[tokio::test]
async fn alter_table_under_concurrent_writers_loses_no_row() {
    let mut server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE live (id int, v int)")
        .await
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = 3;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let client = server.connect().await;
        tasks.push(tokio::spawn(insert_until(client, w, writers, stop.clone())));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Each of these copies or re-validates the table while rows arrive.
    for ddl in [
        "ALTER TABLE live ADD COLUMN extra int DEFAULT 5",
        "CREATE UNIQUE INDEX live_v ON live (v)",
        "ALTER TABLE live ADD PRIMARY KEY (id)",
        "ALTER TABLE live ALTER COLUMN v TYPE bigint",
        "ALTER TABLE live ALTER COLUMN v SET NOT NULL",
        "ALTER TABLE live DROP COLUMN extra",
    ] {
        c.batch_execute(ddl)
            .await
            .unwrap_or_else(|e| panic!("{ddl}: {e:?}"));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    acked.sort_unstable();
    assert!(acked.len() > 10, "writers made no progress: {acked:?}");
    let check = |rows: Vec<tokio_postgres::Row>| {
        let ids: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(ids, acked, "acknowledged rows differ from stored rows");
    };
    check(
        c.query("SELECT id FROM live ORDER BY id", &[])
            .await
            .unwrap(),
    );
    // Every acknowledged row is reachable through the index built while
    // it was being written.
    for &id in acked.iter().step_by(7) {
        let n: i64 = c
            .query_one("SELECT count(*) FROM live WHERE v = $1", &[&(id as i64)])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "row {id} through the index");
    }
    drop(c);
    server.kill9();
    server.restart();
    let c = server.connect().await;
    check(
        c.query("SELECT id FROM live ORDER BY id", &[])
            .await
            .unwrap(),
    );
}
