//! Basic end-to-end behaviour through tokio-postgres: DDL/DML, prepared
//! statements, binary results, error SQLSTATEs, transaction states,
//! start-up/shutdown and authentication.

use joltdb_tests::{simple_rows, text_row as row};
use std::process::Stdio;
use std::time::Duration;

use joltdb_tests::{assert_sqlstate, connect_with, free_port, wait_timeout, TestServer};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

#[tokio::test]
async fn create_insert_select_update_delete() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE t (id integer PRIMARY KEY, name text NOT NULL, score double precision)",
    )
    .await
    .unwrap();
    let n = c
        .execute(
            "INSERT INTO t VALUES (1, 'one', 1.5), (2, 'two', NULL), (3, 'three', -2.25)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 3);

    assert_eq!(
        simple_rows(&c, "SELECT id, name, score FROM t ORDER BY id").await,
        vec![
            row(&[Some("1"), Some("one"), Some("1.5")]),
            row(&[Some("2"), Some("two"), None]),
            row(&[Some("3"), Some("three"), Some("-2.25")]),
        ]
    );

    let n = c
        .execute("UPDATE t SET score = 0 WHERE id >= $1", &[&2i32])
        .await
        .unwrap();
    assert_eq!(n, 2);
    let n = c
        .execute("DELETE FROM t WHERE id = $1", &[&3i32])
        .await
        .unwrap();
    assert_eq!(n, 1);

    let rows = c
        .query("SELECT id, name, score FROM t ORDER BY id DESC", &[])
        .await
        .unwrap();
    let got: Vec<(i32, String, Option<f64>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, "two".to_string(), Some(0.0)),
            (1, "one".to_string(), Some(1.5))
        ]
    );
}

#[tokio::test]
async fn prepared_statements_with_parameters() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE kv (k integer PRIMARY KEY, v text, n bigint)")
        .await
        .unwrap();

    // Parameter types are inferred from their use, as PostgreSQL does.
    let insert = c
        .prepare("INSERT INTO kv (k, v, n) VALUES ($1, $2, $3)")
        .await
        .unwrap();
    assert_eq!(insert.params(), &[Type::INT4, Type::TEXT, Type::INT8]);
    for k in 0..50i32 {
        let v = format!("value {k}");
        let n = i64::from(k) * 1_000_000_000;
        assert_eq!(c.execute(&insert, &[&k, &v, &n]).await.unwrap(), 1);
    }

    let select = c.prepare("SELECT v, n FROM kv WHERE k = $1").await.unwrap();
    assert_eq!(select.params(), &[Type::INT4]);
    assert_eq!(
        select
            .columns()
            .iter()
            .map(|c| (c.name(), c.type_().clone()))
            .collect::<Vec<_>>(),
        vec![("v", Type::TEXT), ("n", Type::INT8)]
    );
    for k in [0i32, 7, 49] {
        let r = c.query_one(&select, &[&k]).await.unwrap();
        assert_eq!(r.get::<_, String>(0), format!("value {k}"));
        assert_eq!(r.get::<_, i64>(1), i64::from(k) * 1_000_000_000);
    }
    assert!(c.query_opt(&select, &[&1000i32]).await.unwrap().is_none());

    let range = c
        .query(
            "SELECT k FROM kv WHERE k >= $1 AND k < $2 ORDER BY k",
            &[&10i32, &13i32],
        )
        .await
        .unwrap();
    assert_eq!(
        range.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>(),
        vec![10, 11, 12]
    );

    let r = c
        .query_one(
            "SELECT count(*), sum(n) FROM kv WHERE v LIKE $1",
            &[&"value 1%"],
        )
        .await
        .unwrap();
    // value 1, value 10..19
    assert_eq!(r.get::<_, i64>(0), 11);

    // Explicitly typed parameters and expressions over them.
    let r = c
        .query_one("SELECT $1::bigint + 1, $2::text || '!'", &[&41i64, &"hi"])
        .await
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), 42);
    assert_eq!(r.get::<_, String>(1), "hi!");

    // NULL parameters.
    c.execute(&insert, &[&100i32, &None::<String>, &None::<i64>])
        .await
        .unwrap();
    let r = c.query_one(&select, &[&100i32]).await.unwrap();
    assert_eq!(r.get::<_, Option<String>>(0), None);
    assert_eq!(r.get::<_, Option<i64>>(1), None);
}

#[tokio::test]
async fn binary_results_of_common_types() {
    use chrono::NaiveDate;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE types (
            id integer PRIMARY KEY,
            i4 integer, i8 bigint, t text, f8 double precision, b boolean,
            n numeric(12,3), ts timestamp, u uuid
        )",
    )
    .await
    .unwrap();

    let ts = NaiveDate::from_ymd_opt(2024, 2, 29)
        .unwrap()
        .and_hms_micro_opt(12, 34, 56, 789_000)
        .unwrap();
    let u = uuid::Uuid::from_str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").unwrap();
    let n = Decimal::from_str("-12345.678").unwrap();

    // Binary parameters in.
    c.execute(
        "INSERT INTO types VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &1i32,
            &-2_147_483_648i32,
            &9_007_199_254_740_993i64,
            &"héllo, wörld",
            &std::f64::consts::PI,
            &true,
            &n,
            &ts,
            &u,
        ],
    )
    .await
    .unwrap();
    // Text literals in, so the server's own conversions are exercised too.
    c.batch_execute(
        "INSERT INTO types VALUES (2, 2147483647, -1, '', -0.5, false, 0.001,
            '1999-12-31 23:59:59', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12');
         INSERT INTO types (id) VALUES (3)",
    )
    .await
    .unwrap();

    let rows = c
        .query(
            "SELECT id, i4, i8, t, f8, b, n, ts, u FROM types ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let types: Vec<Type> = rows[0]
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            Type::INT4,
            Type::INT4,
            Type::INT8,
            Type::TEXT,
            Type::FLOAT8,
            Type::BOOL,
            Type::NUMERIC,
            Type::TIMESTAMP,
            Type::UUID
        ]
    );

    let r = &rows[0];
    assert_eq!(r.get::<_, i32>("i4"), -2_147_483_648);
    assert_eq!(r.get::<_, i64>("i8"), 9_007_199_254_740_993);
    assert_eq!(r.get::<_, &str>("t"), "héllo, wörld");
    assert_eq!(r.get::<_, f64>("f8"), std::f64::consts::PI);
    assert!(r.get::<_, bool>("b"));
    assert_eq!(r.get::<_, Decimal>("n"), n);
    assert_eq!(r.get::<_, chrono::NaiveDateTime>("ts"), ts);
    assert_eq!(r.get::<_, uuid::Uuid>("u"), u);

    let r = &rows[1];
    assert_eq!(r.get::<_, i32>("i4"), 2_147_483_647);
    assert_eq!(r.get::<_, i64>("i8"), -1);
    assert_eq!(r.get::<_, &str>("t"), "");
    assert_eq!(r.get::<_, f64>("f8"), -0.5);
    assert!(!r.get::<_, bool>("b"));
    assert_eq!(
        r.get::<_, Decimal>("n"),
        Decimal::from_str("0.001").unwrap()
    );
    assert_eq!(
        r.get::<_, chrono::NaiveDateTime>("ts"),
        NaiveDate::from_ymd_opt(1999, 12, 31)
            .unwrap()
            .and_hms_opt(23, 59, 59)
            .unwrap()
    );
    assert_eq!(
        r.get::<_, uuid::Uuid>("u").to_string(),
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12"
    );

    let r = &rows[2];
    assert_eq!(r.get::<_, Option<i32>>("i4"), None);
    assert_eq!(r.get::<_, Option<&str>>("t"), None);
    assert_eq!(r.get::<_, Option<Decimal>>("n"), None);
    assert_eq!(r.get::<_, Option<uuid::Uuid>>("u"), None);

    // numeric keeps its declared scale in text form.
    assert_eq!(
        simple_rows(&c, "SELECT n FROM types WHERE id = 2").await,
        vec![row(&[Some("0.001")])]
    );
}

/// Runs `sql` through both the simple and the extended protocol and checks
/// the SQLSTATE each time.
async fn expect_error(c: &tokio_postgres::Client, sql: &str, state: &SqlState) {
    let simple = c.batch_execute(sql).await;
    assert!(simple.is_err(), "{sql}: expected {}", state.code());
    assert_eq!(
        simple.as_ref().unwrap_err().code(),
        Some(state),
        "{sql} (simple protocol): {:?}",
        simple
    );
    let extended = c.query(sql, &[]).await;
    assert!(extended.is_err(), "{sql}: expected {}", state.code());
    assert_eq!(
        extended.as_ref().unwrap_err().code(),
        Some(state),
        "{sql} (extended protocol): {:?}",
        extended
    );
}

#[tokio::test]
async fn errors_carry_postgres_sqlstates() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE e (id integer PRIMARY KEY, v text NOT NULL);
         INSERT INTO e VALUES (1, 'a');",
    )
    .await
    .unwrap();

    expect_error(
        &c,
        "SELECT * FROM missing_table",
        &SqlState::UNDEFINED_TABLE,
    )
    .await;
    expect_error(&c, "SELECT nope FROM e", &SqlState::UNDEFINED_COLUMN).await;
    expect_error(&c, "SELEC 1", &SqlState::SYNTAX_ERROR).await;
    expect_error(&c, "SELECT 'unterminated", &SqlState::SYNTAX_ERROR).await;
    expect_error(
        &c,
        "INSERT INTO e VALUES (1, 'b')",
        &SqlState::UNIQUE_VIOLATION,
    )
    .await;
    expect_error(
        &c,
        "INSERT INTO e VALUES (2, NULL)",
        &SqlState::NOT_NULL_VIOLATION,
    )
    .await;
    expect_error(&c, "SELECT 1 / 0", &SqlState::DIVISION_BY_ZERO).await;
    expect_error(
        &c,
        "SELECT 'abc'::integer",
        &SqlState::INVALID_TEXT_REPRESENTATION,
    )
    .await;
    expect_error(&c, "CREATE TABLE e (x integer)", &SqlState::DUPLICATE_TABLE).await;

    // Errors from parameters at execution time.
    assert_sqlstate(
        c.query("SELECT 10 / $1::integer", &[&0i32]).await,
        &SqlState::DIVISION_BY_ZERO,
    );
    assert_sqlstate(
        c.execute("INSERT INTO e VALUES ($1, $2)", &[&1i32, &"dup"])
            .await,
        &SqlState::UNIQUE_VIOLATION,
    );

    // The syntax error points into the statement.
    let err = c.batch_execute("SELECT 1 FROM e WHERE").await.unwrap_err();
    let db = err.as_db_error().expect("database error");
    assert_eq!(db.code(), &SqlState::SYNTAX_ERROR);
    assert!(
        db.position().is_some(),
        "syntax error without position: {db:?}"
    );

    // None of this disturbed the data or the connection.
    let r = c.query_one("SELECT count(*) FROM e", &[]).await.unwrap();
    assert_eq!(r.get::<_, i64>(0), 1);
}

#[tokio::test]
async fn failed_transaction_until_rollback() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE f (id integer PRIMARY KEY)")
        .await
        .unwrap();

    c.batch_execute("BEGIN; INSERT INTO f VALUES (1)")
        .await
        .unwrap();
    assert_sqlstate(
        c.batch_execute("SELECT 1 / 0").await,
        &SqlState::DIVISION_BY_ZERO,
    );
    assert_sqlstate(
        c.batch_execute("SELECT 1").await,
        &SqlState::IN_FAILED_SQL_TRANSACTION,
    );
    assert_sqlstate(
        c.query("SELECT id FROM f", &[]).await,
        &SqlState::IN_FAILED_SQL_TRANSACTION,
    );
    assert_sqlstate(
        c.execute("INSERT INTO f VALUES ($1)", &[&2i32]).await,
        &SqlState::IN_FAILED_SQL_TRANSACTION,
    );
    c.batch_execute("ROLLBACK").await.unwrap();
    let r = c.query_one("SELECT count(*) FROM f", &[]).await.unwrap();
    assert_eq!(r.get::<_, i64>(0), 0, "rolled-back insert is visible");

    // COMMIT of a failed transaction rolls it back.
    c.batch_execute("BEGIN; INSERT INTO f VALUES (3)")
        .await
        .unwrap();
    assert!(c.batch_execute("INSERT INTO f VALUES (3)").await.is_err());
    c.batch_execute("COMMIT").await.unwrap();
    let r = c.query_one("SELECT count(*) FROM f", &[]).await.unwrap();
    assert_eq!(r.get::<_, i64>(0), 0, "failed transaction was committed");

    // A working transaction through the client API.
    let mut c = c;
    let tx = c.transaction().await.unwrap();
    tx.execute("INSERT INTO f VALUES (4)", &[]).await.unwrap();
    tx.execute("INSERT INTO f VALUES (5)", &[]).await.unwrap();
    tx.commit().await.unwrap();
    let r = c.query_one("SELECT count(*) FROM f", &[]).await.unwrap();
    assert_eq!(r.get::<_, i64>(0), 2);
}

#[tokio::test]
async fn second_server_on_same_data_dir_is_refused() {
    let server = TestServer::start_default();
    let mut second = server
        .command(free_port())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = match wait_timeout(&mut second, Duration::from_secs(30)) {
        Some(s) => s,
        None => {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second server on the same data directory kept running");
        }
    };
    let mut stderr = String::new();
    use std::io::Read;
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "second server exited with {status}");
    let lower = stderr.to_lowercase();
    assert!(
        ["lock", "already", "in use", "running"]
            .iter()
            .any(|w| lower.contains(w)),
        "unclear refusal message: {stderr:?}"
    );

    // The first server is unaffected.
    let c = server.connect().await;
    let r = c.query_one("SELECT 1 + 1", &[]).await.unwrap();
    assert_eq!(r.get::<_, i32>(0), 2);
}

#[tokio::test]
async fn sigterm_exits_cleanly_and_data_survives_restart() {
    let mut server = TestServer::start_default();
    {
        let c = server.connect().await;
        c.batch_execute("CREATE TABLE s (id bigint PRIMARY KEY, v text)")
            .await
            .unwrap();
        let stmt = c.prepare("INSERT INTO s VALUES ($1, $2)").await.unwrap();
        for i in 0..200i64 {
            c.execute(&stmt, &[&i, &format!("row {i}")]).await.unwrap();
        }
    }
    let status = server.stop();
    assert!(
        status.success(),
        "joltdb exited with {status} after SIGTERM"
    );

    server.restart();
    let c = server.connect().await;
    let r = c
        .query_one("SELECT count(*), sum(id), max(v) FROM s", &[])
        .await
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), 200);
    assert_eq!(
        r.get::<_, rust_decimal::Decimal>(1),
        (0..200i64).sum::<i64>().into()
    );
    assert_eq!(r.get::<_, String>(2), "row 99");

    // And a restart after that keeps accepting writes.
    c.execute("INSERT INTO s VALUES (1000, 'after restart')", &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn authentication_failures() {
    let server = TestServer::start_default();

    let mut cfg = server.config();
    cfg.password("not the password");
    let wrong = match connect_with(cfg).await {
        Ok(_) => panic!("wrong password accepted"),
        Err(e) => e,
    };
    assert_eq!(wrong.code(), Some(&SqlState::INVALID_PASSWORD), "{wrong:?}");

    let mut cfg = server.config();
    cfg.user("nobody_here");
    let unknown = match connect_with(cfg).await {
        Ok(_) => panic!("unknown user accepted"),
        Err(e) => e,
    };
    assert_eq!(
        unknown.code(),
        Some(&SqlState::INVALID_PASSWORD),
        "{unknown:?}"
    );

    // The two failures look alike, so role names cannot be probed.
    let msg = |e: &tokio_postgres::Error, user: &str| {
        e.as_db_error()
            .map(|d| d.message().replace(user, "USER"))
            .unwrap_or_default()
    };
    assert_eq!(
        msg(&wrong, "joltdb"),
        msg(&unknown, "nobody_here"),
        "wrong password and unknown user give different errors"
    );

    // The right password still works.
    let c = server.connect().await;
    c.query_one("SELECT 1", &[]).await.unwrap();
}
