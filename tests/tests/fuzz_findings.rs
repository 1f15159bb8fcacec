//! Inputs the fuzzers found (see fuzz/README.md), replayed against the real
//! server: each must end that client's connection with a protocol error
//! while everyone else is served on.

use bytes::BytesMut;
use joltdb_tests::raw::RawConn;
use joltdb_tests::{TestServer, PASSWORD, USER};
use postgres_protocol::message::frontend;

fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// The connection got FATAL 08P01 "invalid message format" and was closed.
async fn assert_rejected(c: &mut RawConn) {
    let r = c.until_closed().await;
    assert_eq!(r.sqlstates(), ["08P01"], "{r:?}");
    let text = r.messages.iter().find_map(|m| m.field(b'M')).unwrap();
    assert_eq!(text, "invalid message format");
}

#[tokio::test]
async fn bind_parameter_longer_than_the_message() {
    let server = TestServer::start_default();
    let mut c = RawConn::login(server.addr(), USER, PASSWORD).await;
    // Portal "", statement "", no format codes, one parameter claiming
    // 7433019 bytes, of which the message holds none.
    let bind = message(b'B', &[0, 0, 0, 0, 0, 1, 0, 0x71, 0x6b, 0x3b]);
    c.send(&bind).await;
    assert_rejected(&mut c).await;
    server
        .connect()
        .await
        .simple_query("SELECT 1")
        .await
        .unwrap();
}

#[tokio::test]
async fn execute_message_cut_short() {
    let server = TestServer::start_default();
    let mut c = RawConn::login(server.addr(), USER, PASSWORD).await;
    // Execute: portal name, then a row limit that is missing.
    c.send(&message(b'E', b"\0")).await;
    assert_rejected(&mut c).await;
    server
        .connect()
        .await
        .simple_query("SELECT 1")
        .await
        .unwrap();
}

#[tokio::test]
async fn sasl_initial_response_longer_than_the_message() {
    let server = TestServer::start_default();
    let mut c = RawConn::connect(server.addr()).await;
    let mut out = BytesMut::new();
    frontend::startup_message([("user", USER), ("database", "joltdb")], &mut out).unwrap();
    c.send(&out).await;
    assert_eq!(c.read_msg().await.unwrap().tag, b'R');
    // Mechanism name, then a client-first length of 54 with 5 bytes after.
    let body = [
        b"SCRAM-SHA-256\0".as_slice(),
        &54u32.to_be_bytes(),
        b"n,,n=",
    ]
    .concat();
    c.send(&message(b'p', &body)).await;
    assert_rejected(&mut c).await;
    server
        .connect()
        .await
        .simple_query("SELECT 1")
        .await
        .unwrap();
}
