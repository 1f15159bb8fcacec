//! Connection limits: --max-connections, the authentication timeout,
//! idle_in_transaction_session_timeout and --max-message-bytes.

use bytes::BytesMut;
use joltdb_tests::raw::RawConn;
use joltdb_tests::{connect_with, ServerOpts, TestServer, PASSWORD, USER};
use postgres_protocol::message::frontend;
use std::time::{Duration, Instant};

#[tokio::test]
async fn max_connections_refuses_the_extra_one_only() {
    let server = TestServer::start(ServerOpts::default().args(["--max-connections", "2"]));
    let first = server.connect().await;
    let second = server.connect().await;

    let err = server.try_connect().await.expect_err("a third connection");
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "53300");
    assert_eq!(db.message(), "sorry, too many clients already");

    // The two admitted clients keep working.
    for c in [&first, &second] {
        let v: i32 = c.query_one("SELECT 1 + 1", &[]).await.unwrap().get(0);
        assert_eq!(v, 2);
    }

    // Once one leaves, a new client gets its slot.
    drop(second);
    let deadline = Instant::now() + Duration::from_secs(10);
    let third = loop {
        match server.try_connect().await {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                assert_eq!(e.code().map(|c| c.code()), Some("53300"), "{e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no slot freed after a client left: {e}"),
        }
    };
    third.simple_query("SELECT 1").await.unwrap();
    first.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn silent_and_stalled_clients_are_dropped_after_the_auth_timeout() {
    let server = TestServer::start(ServerOpts::default().args(["--auth-timeout-secs", "1"]));

    // Connects and sends nothing.
    let mut silent = RawConn::connect(server.addr()).await;
    // Starts up, then never answers the SASL request.
    let mut stalled = RawConn::connect(server.addr()).await;
    let mut out = BytesMut::new();
    frontend::startup_message([("user", USER), ("database", "joltdb")], &mut out).unwrap();
    stalled.send(&out).await;
    let m = stalled.read_msg().await.expect("authentication request");
    assert_eq!(m.tag, b'R');

    // Both are closed by the server (read_msg gives up after 15 s).
    assert!(silent.until_closed().await.closed);
    assert!(stalled.until_closed().await.closed);

    // Others are unaffected.
    server
        .connect()
        .await
        .simple_query("SELECT 1")
        .await
        .unwrap();
}

#[tokio::test]
async fn idle_in_transaction_session_timeout_ends_the_session() {
    let server = TestServer::start_default();
    let setup = server.connect().await;
    setup
        .batch_execute(
            "CREATE TABLE acct (id int PRIMARY KEY, v int); INSERT INTO acct VALUES (1, 0)",
        )
        .await
        .unwrap();

    let mut idle = RawConn::login(server.addr(), USER, PASSWORD).await;
    let r = idle
        .simple("SET idle_in_transaction_session_timeout = '300ms'")
        .await;
    assert!(r.sqlstates().is_empty(), "{r:?}");
    // Idle outside a transaction block: not affected.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let r = idle
        .simple("BEGIN; UPDATE acct SET v = 1 WHERE id = 1")
        .await;
    assert!(r.sqlstates().is_empty(), "{r:?}");
    assert_eq!(r.status(), Some(b'T'));

    // Now idle inside the block: FATAL 25P03, then the connection closes.
    let r = idle.until_closed().await;
    assert_eq!(r.sqlstates(), ["25P03"], "{r:?}");
    let message = r.messages.iter().find_map(|m| m.field(b'M')).unwrap();
    assert_eq!(
        message,
        "terminating connection due to idle-in-transaction timeout"
    );

    // Its transaction was rolled back and its row lock released.
    let other = server.connect().await;
    let updated = tokio::time::timeout(
        Duration::from_secs(10),
        other.execute("UPDATE acct SET v = v + 10 WHERE id = 1", &[]),
    )
    .await
    .expect("the row must not stay locked")
    .unwrap();
    assert_eq!(updated, 1);
    let v: i32 = other
        .query_one("SELECT v FROM acct WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 10);
}

#[tokio::test]
async fn disconnecting_mid_transaction_releases_row_locks() {
    let server = TestServer::start_default();
    let a = server.connect().await;
    a.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0)")
        .await
        .unwrap();
    let mut quitter = RawConn::login(server.addr(), USER, PASSWORD).await;
    let r = quitter
        .simple("BEGIN; UPDATE t SET v = 99 WHERE id = 1")
        .await;
    assert_eq!(r.status(), Some(b'T'), "{r:?}");
    drop(quitter);
    let n = tokio::time::timeout(
        Duration::from_secs(10),
        a.execute("UPDATE t SET v = v + 1 WHERE id = 1", &[]),
    )
    .await
    .expect("the row must not stay locked")
    .unwrap();
    assert_eq!(n, 1);
    let v: i32 = a.query_one("SELECT v FROM t", &[]).await.unwrap().get(0);
    assert_eq!(v, 1);
}

#[tokio::test]
async fn max_message_bytes_flag_is_enforced() {
    let server = TestServer::start(ServerOpts::default().args(["--max-message-bytes", "4096"]));
    let c = server.connect().await;
    // Within the limit.
    let fits = format!("SELECT '{}'", "x".repeat(3000));
    c.simple_query(&fits).await.unwrap();

    // Over it: the connection is closed with a protocol error.
    let mut raw = RawConn::login(server.addr(), USER, PASSWORD).await;
    raw.send_query_bytes(format!("SELECT '{}'", "y".repeat(5000)).as_bytes())
        .await;
    let r = raw.until_closed().await;
    assert_eq!(r.sqlstates(), ["08P01"], "{r:?}");
    let message = r.messages.iter().find_map(|m| m.field(b'M')).unwrap();
    assert!(
        message.contains("exceeds the limit of 4096 bytes"),
        "{message}"
    );

    // Others are unaffected.
    c.simple_query("SELECT 1").await.unwrap();
    let _ = connect_with(server.config()).await.unwrap();
}
