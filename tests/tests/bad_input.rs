//! Malformed input over raw TCP: garbage, absurd lengths, oversized
//! messages, invalid UTF-8 and half-sent messages. Each must get a clear
//! error or a closed connection, and the server must keep serving others
//! with committed data intact.

use joltdb_tests::raw::{Msg, RawConn};
use joltdb_tests::{TestServer, PASSWORD, USER};

async fn fixture() -> TestServer {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE keep (id integer PRIMARY KEY, v text NOT NULL);
         INSERT INTO keep VALUES (1, 'one'), (2, 'two'), (3, 'three');",
    )
    .await
    .unwrap();
    server
}

/// A fresh client still works and the committed rows are unchanged.
async fn assert_healthy(server: &TestServer) {
    let c = server.connect().await;
    let rows = c
        .query("SELECT id, v FROM keep ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        vec![
            (1, "one".to_string()),
            (2, "two".to_string()),
            (3, "three".to_string())
        ]
    );
}

async fn login(server: &TestServer) -> RawConn {
    RawConn::login(server.addr(), USER, PASSWORD).await
}

fn is_ready(m: &Msg) -> bool {
    m.tag == b'Z'
}

#[tokio::test]
async fn garbage_before_startup() {
    let server = fixture().await;

    let mut c = RawConn::connect(server.addr()).await;
    let mut garbage = b"GET / HTTP/1.1\r\nHost: joltdb\r\n\r\n".to_vec();
    garbage.extend(0..=255u8);
    c.send(&garbage).await;
    c.shutdown_write().await;
    let r = c.until_closed().await;
    assert!(
        !r.messages.iter().any(is_ready),
        "garbage got a session: {r:?}"
    );

    // Bytes that parse as a tiny length, then an unknown protocol version.
    let mut c = RawConn::connect(server.addr()).await;
    c.send(&[0, 0, 0, 8, 0x12, 0x34, 0x56, 0x78]).await;
    let r = c.until_closed().await;
    assert!(!r.messages.iter().any(is_ready), "{r:?}");

    let mut c = RawConn::connect(server.addr()).await;
    c.send(&[0, 0, 0, 2]).await;
    let r = c.until_closed().await;
    assert!(!r.messages.iter().any(is_ready), "{r:?}");

    assert_healthy(&server).await;
}

#[tokio::test]
async fn absurd_startup_length_is_refused() {
    let server = fixture().await;
    let mut c = RawConn::connect(server.addr()).await;
    // Claims a 2 GB start-up packet; the server must not wait for it.
    let mut packet = 0x7fff_ffffi32.to_be_bytes().to_vec();
    packet.extend_from_slice(&196_608i32.to_be_bytes());
    packet.extend_from_slice(b"user\0joltdb\0\0");
    c.send(&packet).await;
    let r = c.until_closed().await;
    assert!(!r.messages.iter().any(is_ready), "{r:?}");
    assert_healthy(&server).await;
}

#[tokio::test]
async fn oversized_message_after_login_is_refused() {
    let server = fixture().await;
    let mut c = login(&server).await;
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
    msg.extend_from_slice(b"SELECT 1");
    c.send(&msg).await;
    // The stream cannot be resynchronised after this: an error, if any,
    // then a closed connection, without waiting for the 2 GB.
    let r = c.until_closed().await;
    for state in r.sqlstates() {
        assert!(
            state.starts_with("08") || state == "54000",
            "unexpected SQLSTATE {state} for an oversized message: {r:?}"
        );
    }
    assert_healthy(&server).await;
}

#[tokio::test]
async fn invalid_utf8_in_queries() {
    let server = fixture().await;

    // Simple query.
    let mut c = login(&server).await;
    c.send_query_bytes(b"SELECT '\xff\xfe invalid'").await;
    let r = c.react().await;
    if !r.closed {
        assert_eq!(r.sqlstates(), vec!["22021"], "{r:?}");
        // The session goes on.
        c.send_query_bytes(b"SELECT count(*) FROM keep").await;
        let r = c.react().await;
        assert!(r.messages.iter().any(|m| m.tag == b'D'), "{r:?}");
    }

    // Parse message of the extended protocol, then Sync.
    let mut c = login(&server).await;
    let mut body = b"\0INSERT INTO keep VALUES (4, '\xc3\x28')\0".to_vec();
    body.extend_from_slice(&0i16.to_be_bytes());
    let mut msg = vec![b'P'];
    msg.extend_from_slice(&i32::try_from(body.len() + 4).unwrap().to_be_bytes());
    msg.extend_from_slice(&body);
    msg.extend_from_slice(&[b'S', 0, 0, 0, 4]);
    c.send(&msg).await;
    let r = c.react().await;
    if !r.closed {
        assert_eq!(r.sqlstates(), vec!["22021"], "{r:?}");
    }

    assert_healthy(&server).await;
}

#[tokio::test]
async fn unterminated_statement_is_a_syntax_error() {
    let server = fixture().await;
    let mut c = login(&server).await;
    c.send_query_bytes(b"SELECT 'no end quote FROM keep").await;
    let r = c.react().await;
    assert!(!r.closed, "connection closed on a syntax error");
    assert_eq!(r.sqlstates(), vec!["42601"], "{r:?}");
    c.send_query_bytes(b"SELECT 1").await;
    let r = c.react().await;
    assert!(r.messages.iter().any(|m| m.tag == b'D'), "{r:?}");
    assert_healthy(&server).await;
}

#[tokio::test]
async fn half_sent_messages_do_not_block_others() {
    let server = fixture().await;

    // A query message cut off in the middle, left hanging.
    let mut stalled = login(&server).await;
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&100i32.to_be_bytes());
    msg.extend_from_slice(b"INSERT INTO keep VALUES (9, ");
    stalled.send(&msg).await;

    // A start-up packet cut off in the middle, left hanging.
    let mut stalled_startup = RawConn::connect(server.addr()).await;
    stalled_startup.send(&[0, 0, 0, 40, 0, 3, 0, 0, b'u']).await;

    // Others are served meanwhile.
    assert_healthy(&server).await;

    // Then both clients vanish; the half statement must not run.
    drop(stalled);
    drop(stalled_startup);
    assert_healthy(&server).await;

    // Same with a clean end of input instead of a reset.
    let mut c = login(&server).await;
    c.send(&msg).await;
    c.shutdown_write().await;
    let r = c.until_closed().await;
    assert!(!r.messages.iter().any(is_ready), "{r:?}");
    assert_healthy(&server).await;
}
