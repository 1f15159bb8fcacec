//! COPY FROM STDIN and COPY TO STDOUT through tokio-postgres, psql's
//! `\copy` and `pgbench -i`: data round trips in text and CSV, errors carry
//! PostgreSQL's SQLSTATE and line context and leave the connection usable,
//! and a failed COPY loads nothing.

use bytes::Bytes;
use futures::{SinkExt, TryStreamExt};
use joltdb_tests::TestServer;
use std::process::Command;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

async fn rows(c: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

async fn count(c: &Client, table: &str) -> i64 {
    c.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

async fn copy_in(c: &Client, sql: &str, chunks: &[&str]) -> Result<u64, tokio_postgres::Error> {
    let sink = c.copy_in(sql).await?;
    futures::pin_mut!(sink);
    for chunk in chunks {
        sink.send(Bytes::from(chunk.to_string())).await?;
    }
    sink.finish().await
}

async fn copy_out(c: &Client, sql: &str) -> String {
    let stream = c.copy_out(sql).await.unwrap();
    let parts: Vec<Bytes> = stream.try_collect().await.unwrap();
    String::from_utf8(parts.concat()).unwrap()
}

#[tokio::test]
async fn text_and_csv_round_trip() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(8,2), added date,
                             note text DEFAULT 'none')",
    )
    .await
    .unwrap();
    // Rows split across CopyData messages at arbitrary points.
    let n = copy_in(
        &c,
        "COPY items (id, name, price, added) FROM STDIN",
        &[
            "1\tplain\t1.50\t2024-01-02\n2\ttab\\there\t\\N\t2024-",
            "02-03\n3\tback\\\\slash\\nnewline\t10\t\\N\n",
        ],
    )
    .await
    .unwrap();
    assert_eq!(n, 3);
    let n = copy_in(
        &c,
        "COPY items FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER ';')",
        &["id;name;price;added;note\n4;\"semi;colon \"\"q\"\"\";;2024-05-06;\"\"\n5;\"multi\nline\";2;;x\n"],
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    let got = rows(
        &c,
        "SELECT id, name, price, added, note FROM items ORDER BY id",
    )
    .await;
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        got,
        vec![
            vec![s("1"), s("plain"), s("1.50"), s("2024-01-02"), s("none")],
            vec![s("2"), s("tab\there"), None, s("2024-02-03"), s("none")],
            vec![
                s("3"),
                s("back\\slash\nnewline"),
                s("10.00"),
                None,
                s("none")
            ],
            vec![s("4"), s("semi;colon \"q\""), None, s("2024-05-06"), s("")],
            vec![s("5"), s("multi\nline"), s("2.00"), None, s("x")],
        ]
    );
    // Output as PostgreSQL 15 prints it for the same rows.
    assert_eq!(
        copy_out(&c, "COPY (SELECT * FROM items ORDER BY id) TO STDOUT").await,
        "1\tplain\t1.50\t2024-01-02\tnone\n\
         2\ttab\\there\t\\N\t2024-02-03\tnone\n\
         3\tback\\\\slash\\nnewline\t10.00\t\\N\tnone\n\
         4\tsemi;colon \"q\"\t\\N\t2024-05-06\t\n\
         5\tmulti\\nline\t2.00\t\\N\tx\n"
    );
    assert_eq!(
        copy_out(
            &c,
            "COPY (SELECT id, name, note FROM items ORDER BY id) TO STDOUT WITH CSV HEADER"
        )
        .await,
        "id,name,note\n1,plain,none\n2,tab\there,none\n3,\"back\\slash\nnewline\",none\n\
         4,\"semi;colon \"\"q\"\"\",\"\"\n5,\"multi\nline\",x\n"
    );
    // A whole table (any row order) round-trips through COPY TO and FROM.
    let dump = copy_out(&c, "COPY items TO STDOUT (FORMAT csv)").await;
    c.batch_execute("CREATE TABLE items2 (id int PRIMARY KEY, name text, price numeric(8,2), added date, note text)")
        .await
        .unwrap();
    copy_in(&c, "COPY items2 FROM STDIN (FORMAT csv)", &[&dump])
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM items2 ORDER BY id").await,
        rows(&c, "SELECT * FROM items ORDER BY id").await
    );
}

#[tokio::test]
async fn errors_report_sqlstate_and_line_and_load_nothing() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE ct (a int PRIMARY KEY, b text NOT NULL, c date)")
        .await
        .unwrap();
    let cases: &[(&str, &str, &SqlState, &str, &str)] = &[
        (
            "COPY ct FROM STDIN",
            "1\tx\t2020-01-01\nnope\ty\t\\N\n",
            &SqlState::INVALID_TEXT_REPRESENTATION,
            "invalid input syntax for type integer: \"nope\"",
            "COPY ct, line 2, column a: \"nope\"",
        ),
        (
            "COPY ct FROM STDIN",
            "1\tx\t2020-01-01\n2\ty\n",
            &SqlState::BAD_COPY_FILE_FORMAT,
            "missing data for column \"c\"",
            "COPY ct, line 2: \"2\ty\"",
        ),
        (
            "COPY ct FROM STDIN",
            "1\tx\t2020-01-01\textra\n",
            &SqlState::BAD_COPY_FILE_FORMAT,
            "extra data after last expected column",
            "COPY ct, line 1: \"1\tx\t2020-01-01\textra\"",
        ),
        (
            "COPY ct FROM STDIN (FORMAT csv)",
            "1,x,2020-01-01\n1,y,2020-01-01\n",
            &SqlState::UNIQUE_VIOLATION,
            "duplicate key value violates unique constraint \"ct_pkey\"",
            "COPY ct, line 2",
        ),
        (
            "COPY ct FROM STDIN",
            "1\t\\N\t2020-01-01\n",
            &SqlState::NOT_NULL_VIOLATION,
            "null value in column \"b\" of relation \"ct\" violates not-null constraint",
            "COPY ct, line 1: \"1\t\\N\t2020-01-01\"",
        ),
    ];
    for (sql, data, state, message, context) in cases {
        let err = copy_in(&c, sql, &[data]).await.unwrap_err();
        let db = err
            .as_db_error()
            .unwrap_or_else(|| panic!("{sql}: {err:?}"));
        assert_eq!(db.code(), *state, "{data:?}: {db:?}");
        assert_eq!(db.message(), *message);
        assert_eq!(db.where_(), Some(*context));
        // The connection goes on, and the failed COPY left nothing behind.
        assert_eq!(count(&c, "ct").await, 0);
    }
    // Bad options and targets fail before any data is sent.
    for (sql, state) in [
        (
            "COPY ct FROM STDIN (FORMAT xml)",
            SqlState::INVALID_PARAMETER_VALUE,
        ),
        (
            "COPY ct FROM STDIN (QUOTE '\"')",
            SqlState::FEATURE_NOT_SUPPORTED,
        ),
        ("COPY ct FROM STDIN (BOGUS)", SqlState::SYNTAX_ERROR),
        ("COPY ct (nope) FROM STDIN", SqlState::UNDEFINED_COLUMN),
        ("COPY missing FROM STDIN", SqlState::UNDEFINED_TABLE),
        (
            "COPY ct FROM '/etc/passwd'",
            SqlState::FEATURE_NOT_SUPPORTED,
        ),
    ] {
        let err = c.simple_query(sql).await.unwrap_err();
        assert_eq!(err.code(), Some(&state), "{sql}: {err:?}");
    }
    // A client that gives up (CopyFail) fails the COPY, not the connection.
    {
        let sink = c.copy_in("COPY ct FROM STDIN").await.unwrap();
        futures::pin_mut!(sink);
        sink.send(Bytes::from_static(b"1\tx\t\\N\n")).await.unwrap();
        // Dropping the sink unfinished sends CopyFail.
    }
    assert_eq!(count(&c, "ct").await, 0);
}

#[tokio::test]
async fn copy_joins_the_transaction_block() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE tx (a int PRIMARY KEY, b text)")
        .await
        .unwrap();
    c.batch_execute("BEGIN").await.unwrap();
    copy_in(&c, "COPY tx FROM STDIN", &["1\tone\n2\ttwo\n"])
        .await
        .unwrap();
    assert_eq!(count(&c, "tx").await, 2);
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(count(&c, "tx").await, 0);

    c.batch_execute("BEGIN; TRUNCATE tx").await.unwrap();
    copy_in(&c, "COPY tx FROM STDIN WITH (FREEZE on)", &["1\tone\n"])
        .await
        .unwrap();
    c.batch_execute("COMMIT").await.unwrap();
    let other = server.connect().await;
    assert_eq!(count(&other, "tx").await, 1);

    // An error inside the block fails the block, as any statement's does.
    c.batch_execute("BEGIN").await.unwrap();
    assert!(copy_in(&c, "COPY tx FROM STDIN", &["x\ty\n"])
        .await
        .is_err());
    let err = c.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION));
    c.batch_execute("ROLLBACK").await.unwrap();
}

#[test]
fn psql_copy_round_trip() {
    let server = TestServer::start_default();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    std::fs::write(&csv, "id,name\n1,\"a, b\"\n2,\n3,\"\"\n").unwrap();
    let out = dir.path().join("out.txt");
    let script = format!(
        "CREATE TABLE p (id int PRIMARY KEY, name text);\n\
         \\copy p from '{}' with (format csv, header)\n\
         \\copy (select * from p order by id) to '{}'\n\
         COPY p FROM STDIN;\n4\tfour\n\\.\n\
         SELECT count(*) FROM p;\n",
        csv.display(),
        out.display()
    );
    let file = dir.path().join("script.sql");
    std::fs::write(&file, script).unwrap();
    let o = server.psql(&[
        "-v",
        "ON_ERROR_STOP=1",
        "-q",
        "-A",
        "-t",
        "-f",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "4");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "1\ta, b\n2\t\\N\n3\t\n"
    );
}

#[test]
fn pgbench_initialises_with_copy() {
    let server = TestServer::start_default();
    // Tables with their primary keys, then pgbench's data step (TRUNCATE
    // and COPY pgbench_accounts FROM STDIN inside one transaction).
    let o = server.psql(&[
        "-v",
        "ON_ERROR_STOP=1",
        "-q",
        "-c",
        "CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88));
         CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84));
         CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
         CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new("pgbench")
        .args([
            "-i",
            "-I",
            "gv",
            "-s",
            "1",
            "-h",
            "127.0.0.1",
            "-U",
            "joltdb",
            "-p",
        ])
        .arg(server.port().to_string())
        .arg("joltdb")
        .env("PGPASSWORD", server.password())
        .output()
        .expect("running pgbench");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = server.psql(&[
        "-A",
        "-t",
        "-c",
        "SELECT (SELECT count(*) FROM pgbench_accounts), (SELECT count(*) FROM pgbench_branches),
                (SELECT count(*) FROM pgbench_tellers), (SELECT sum(aid) FROM pgbench_accounts)",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "100000|1|10|5000050000"
    );
}
