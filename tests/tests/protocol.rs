//! Wire-protocol behaviour drivers depend on: start-up parameters,
//! ReadyForQuery transaction status, multi-statement simple queries,
//! portals with a row limit, and version().

use joltdb_tests::raw::RawConn;
use joltdb_tests::{TestServer, PASSWORD, USER};

#[tokio::test]
async fn startup_reports_parameters_drivers_expect() {
    let server = TestServer::start_default();
    let c = RawConn::login(server.addr(), USER, PASSWORD).await;
    let expect = |name: &str, check: &dyn Fn(&str) -> bool| {
        let v = c.param(name);
        assert!(
            v.is_some_and(check),
            "ParameterStatus {name} = {v:?}; all: {:?}",
            c.params
        );
    };
    expect("server_version", &|v| v.starts_with("15"));
    expect("server_encoding", &|v| v == "UTF8");
    expect("client_encoding", &|v| v == "UTF8");
    expect("DateStyle", &|v| v.starts_with("ISO"));
    expect("standard_conforming_strings", &|v| v == "on");
    expect("integer_datetimes", &|v| v == "on");
    assert!(
        c.got_backend_key,
        "no BackendKeyData, so no cancel requests"
    );
}

#[tokio::test]
async fn version_names_postgres_15_and_joltdb() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    let v: String = c.query_one("SELECT version()", &[]).await.unwrap().get(0);
    assert!(v.starts_with("PostgreSQL 15"), "{v}");
    assert!(v.to_lowercase().contains("joltdb"), "{v}");
}

#[tokio::test]
async fn ready_for_query_reports_transaction_status() {
    let server = TestServer::start_default();
    let mut c = RawConn::login(server.addr(), USER, PASSWORD).await;

    assert_eq!(c.simple("SELECT 1").await.status(), Some(b'I'));
    assert_eq!(c.simple("BEGIN").await.status(), Some(b'T'));
    assert_eq!(c.simple("SELECT 1").await.status(), Some(b'T'));
    let r = c.simple("SELECT 1 / 0").await;
    assert_eq!(r.sqlstates(), vec!["22012"]);
    assert_eq!(r.status(), Some(b'E'));
    let r = c.simple("SELECT 1").await;
    assert_eq!(r.sqlstates(), vec!["25P02"]);
    assert_eq!(r.status(), Some(b'E'));
    let r = c.simple("ROLLBACK").await;
    assert_eq!(r.tags(), vec!["ROLLBACK"]);
    assert_eq!(r.status(), Some(b'I'));

    // An empty query string gets EmptyQueryResponse.
    let r = c.simple("").await;
    assert_eq!(r.tags_seen(), "IZ", "{r:?}");
}

#[tokio::test]
async fn multi_statement_simple_query() {
    let server = TestServer::start_default();
    let mut c = RawConn::login(server.addr(), USER, PASSWORD).await;

    let r = c
        .simple(
            "CREATE TABLE m (id integer PRIMARY KEY); \
             INSERT INTO m VALUES (1); INSERT INTO m VALUES (2), (3)",
        )
        .await;
    assert_eq!(r.tags(), vec!["CREATE TABLE", "INSERT 0 1", "INSERT 0 2"]);
    assert_eq!(r.status(), Some(b'I'));

    // Outside BEGIN the statements of one query string form one implicit
    // transaction: an error undoes the earlier ones and skips the rest.
    let r = c
        .simple("INSERT INTO m VALUES (4); SELECT 1 / 0; INSERT INTO m VALUES (5)")
        .await;
    assert_eq!(r.sqlstates(), vec!["22012"]);
    assert_eq!(r.status(), Some(b'I'));

    let client = server.connect().await;
    let ids: Vec<i32> = client
        .query("SELECT id FROM m ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![1, 2, 3]);
}

#[tokio::test]
async fn portal_with_row_limit() {
    let server = TestServer::start_default();
    let mut c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE p (id integer PRIMARY KEY);
         INSERT INTO p VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10);",
    )
    .await
    .unwrap();

    let tx = c.transaction().await.unwrap();
    let stmt = tx
        .prepare("SELECT id FROM p WHERE id > $1 ORDER BY id")
        .await
        .unwrap();
    let portal = tx.bind(&stmt, &[&0i32]).await.unwrap();
    let mut batches = Vec::new();
    loop {
        let rows = tx.query_portal(&portal, 3).await.unwrap();
        let ids: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        let done = ids.len() < 3;
        batches.push(ids);
        if done {
            break;
        }
        assert!(batches.len() < 10, "portal never finished: {batches:?}");
    }
    assert_eq!(
        batches,
        vec![vec![1, 2, 3], vec![4, 5, 6], vec![7, 8, 9], vec![10]]
    );
    tx.commit().await.unwrap();
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// Parse, Bind and Execute of one statement through the unnamed statement
/// and portal.
fn extended_statement(sql: &str) -> Vec<u8> {
    let mut parse = b"\0".to_vec();
    parse.extend_from_slice(sql.as_bytes());
    parse.extend_from_slice(&[0, 0, 0]);
    let bind = [0u8, 0, 0, 0, 0, 0, 0, 0];
    let execute = [0u8, 0, 0, 0, 0];
    [
        message(b'P', &parse),
        message(b'B', &bind),
        message(b'E', &execute),
    ]
    .concat()
}

#[tokio::test]
async fn extended_messages_up_to_sync_form_one_implicit_transaction() {
    let server = TestServer::start_default();
    let mut c = RawConn::login(server.addr(), USER, PASSWORD).await;
    c.simple("CREATE TABLE x (id integer PRIMARY KEY)").await;

    let batch = [
        extended_statement("INSERT INTO x VALUES (1)"),
        extended_statement("SELECT 1 / 0"),
        extended_statement("INSERT INTO x VALUES (2)"),
        message(b'S', &[]),
    ]
    .concat();
    c.send(&batch).await;
    let r = c.react().await;
    assert_eq!(r.sqlstates(), vec!["22012"]);
    assert_eq!(r.status(), Some(b'I'));

    let batch = [
        extended_statement("INSERT INTO x VALUES (3)"),
        extended_statement("INSERT INTO x VALUES (4)"),
        message(b'S', &[]),
    ]
    .concat();
    c.send(&batch).await;
    let r = c.react().await;
    assert!(r.sqlstates().is_empty(), "{r:?}");

    let client = server.connect().await;
    let ids: Vec<i32> = client
        .query("SELECT id FROM x ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ids,
        vec![3, 4],
        "the failed batch must leave nothing behind"
    );
}
