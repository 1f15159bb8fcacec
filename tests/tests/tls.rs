//! TLS: certificate verification with psql and a rustls client against a
//! CA made by the test, SSLRequest/GSSENCRequest answers, --require-tls,
//! and SCRAM-SHA-256-PLUS channel binding offered on TLS only.

use bytes::BytesMut;
use joltdb_tests::raw::RawConn;
use joltdb_tests::tls::{connect_tls, TestCa};
use joltdb_tests::{connect_with, ServerOpts, TestServer, PASSWORD, USER};
use postgres_protocol::message::frontend;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use tokio_postgres::config::ChannelBinding;

fn tls_server(ca: &TestCa, extra: &[&str]) -> TestServer {
    TestServer::start(
        ServerOpts::default()
            .args(ca.server_args())
            .args(extra.iter().copied()),
    )
}

/// Sends an 8-byte negotiation request (SSLRequest or GSSENCRequest) and
/// returns the server's one-byte answer.
fn negotiate(server: &TestServer, code: u32) -> u8 {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut msg = 8u32.to_be_bytes().to_vec();
    msg.extend_from_slice(&code.to_be_bytes());
    s.write_all(&msg).unwrap();
    let mut answer = [0u8; 1];
    s.read_exact(&mut answer).unwrap();
    answer[0]
}

const SSL_REQUEST: u32 = 80877103;
const GSSENC_REQUEST: u32 = 80877104;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

#[tokio::test]
async fn verify_full_against_the_test_ca() {
    let ca = TestCa::new();
    let server = tls_server(&ca, &[]);
    assert_eq!(negotiate(&server, SSL_REQUEST), b'S');
    assert_eq!(negotiate(&server, GSSENC_REQUEST), b'N');

    // psql verifies the chain and the host name.
    for host in ["localhost", "127.0.0.1"] {
        let root = ca.ca_path();
        let out = server.psql_conninfo(
            &format!(
                "host={host} sslmode=verify-full sslrootcert={}",
                root.display()
            ),
            PASSWORD,
            "SELECT 40 + 2",
        );
        assert!(out.status.success(), "psql via {host}: {}", stderr(&out));
        assert_eq!(stdout(&out), "42");
    }
    let out = server.psql_conninfo("sslmode=require", PASSWORD, "\\conninfo");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("SSL connection"), "{}", stdout(&out));

    // A rustls client trusting the test CA.
    let c = connect_tls(server.config(), ca.connector(), ChannelBinding::Prefer)
        .await
        .unwrap();
    let v: i32 = c.query_one("SELECT 7", &[]).await.unwrap().get(0);
    assert_eq!(v, 7);

    // A client trusting some other CA refuses the server.
    let other = TestCa::new();
    let err = connect_tls(server.config(), other.connector(), ChannelBinding::Prefer)
        .await
        .expect_err("a certificate from an unknown CA must be refused");
    assert!(
        err.code().is_none(),
        "a TLS failure, not a server error: {err}"
    );
    let out = server.psql_conninfo(
        &format!(
            "sslmode=verify-full sslrootcert={}",
            other.ca_path().display()
        ),
        PASSWORD,
        "SELECT 1",
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("certificate verify failed"),
        "{}",
        stderr(&out)
    );

    // Plaintext is still allowed without --require-tls.
    let out = server.psql_conninfo("sslmode=disable", PASSWORD, "SELECT 1");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn without_tls_the_server_says_no() {
    let server = TestServer::start_default();
    assert_eq!(negotiate(&server, SSL_REQUEST), b'N');
    assert_eq!(negotiate(&server, GSSENC_REQUEST), b'N');
    let out = server.psql_conninfo("sslmode=require", PASSWORD, "SELECT 1");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("server does not support SSL"),
        "{}",
        stderr(&out)
    );
    // sslmode=prefer falls back to plaintext on the same server.
    let out = server.psql_conninfo("sslmode=prefer", PASSWORD, "SELECT 1");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn require_tls_refuses_plaintext() {
    let ca = TestCa::new();
    let server = tls_server(&ca, &["--require-tls"]);
    let err = connect_with(server.config())
        .await
        .expect_err("plaintext must be refused");
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "28000");
    assert!(db.message().contains("requires TLS"), "{}", db.message());
    let out = server.psql_conninfo("sslmode=disable", PASSWORD, "SELECT 1");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("requires TLS"), "{}", stderr(&out));

    let c = connect_tls(server.config(), ca.connector(), ChannelBinding::Prefer)
        .await
        .unwrap();
    c.simple_query("SELECT 1").await.unwrap();
    let out = server.psql_conninfo("sslmode=require", PASSWORD, "SELECT 1");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn plaintext_loopback_can_be_allowed() {
    let ca = TestCa::new();
    let server = tls_server(&ca, &["--require-tls", "--allow-plaintext-loopback"]);
    let c = connect_with(server.config()).await.unwrap();
    c.simple_query("SELECT 1").await.unwrap();
}

/// The SASL mechanisms a plaintext connection is offered.
async fn plaintext_mechanisms(server: &TestServer) -> Vec<String> {
    let mut c = RawConn::connect(server.addr()).await;
    let mut out = BytesMut::new();
    frontend::startup_message([("user", USER), ("database", "joltdb")], &mut out).unwrap();
    c.send(&out).await;
    let m = c.read_msg().await.expect("an authentication request");
    assert_eq!(m.tag, b'R');
    assert_eq!(&m.body[..4], &10i32.to_be_bytes(), "AuthenticationSASL");
    m.body[4..]
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[tokio::test]
async fn channel_binding_only_over_tls() {
    let ca = TestCa::new();
    let server = tls_server(&ca, &[]);

    // Over TLS both SCRAM variants work; `require` insists on -PLUS.
    for binding in [
        ChannelBinding::Require,
        ChannelBinding::Prefer,
        ChannelBinding::Disable,
    ] {
        let c = connect_tls(server.config(), ca.connector(), binding)
            .await
            .unwrap_or_else(|e| panic!("TLS with {binding:?}: {e}"));
        c.simple_query("SELECT 1").await.unwrap();
    }
    let out = server.psql_conninfo(
        &format!(
            "sslmode=verify-full sslrootcert={} channel_binding=require",
            ca.ca_path().display()
        ),
        PASSWORD,
        "SELECT 'bound'",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "bound");

    // Plaintext is offered SCRAM-SHA-256 only (libpq refuses a plaintext
    // server that offers -PLUS).
    assert_eq!(plaintext_mechanisms(&server).await, ["SCRAM-SHA-256"]);
    let c = connect_with(server.config()).await.unwrap();
    c.simple_query("SELECT 1").await.unwrap();
    let out = server.psql_conninfo(
        "sslmode=disable channel_binding=require",
        PASSWORD,
        "SELECT 1",
    );
    assert!(
        !out.status.success(),
        "binding cannot be required in the open"
    );

    // A wrong password over a bound exchange is still a plain 28P01.
    let mut cfg = server.config();
    cfg.password("wrong");
    let err = connect_tls(cfg, ca.connector(), ChannelBinding::Require)
        .await
        .expect_err("wrong password");
    assert_eq!(err.code().map(|c| c.code()), Some("28P01"), "{err}");
}

#[test]
fn unusable_tls_files_refuse_start_up() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let other = TestCa::new();
    let cases: [(Vec<String>, &str); 3] = [
        (
            vec![
                "--tls-cert".into(),
                garbage.display().to_string(),
                "--tls-key".into(),
                ca.key_path().display().to_string(),
            ],
            "no PEM certificate",
        ),
        (
            vec![
                "--tls-cert".into(),
                ca.cert_path().display().to_string(),
                "--tls-key".into(),
                dir.path().join("missing.key").display().to_string(),
            ],
            "cannot read TLS key",
        ),
        (
            vec![
                "--tls-cert".into(),
                ca.cert_path().display().to_string(),
                "--tls-key".into(),
                other.key_path().display().to_string(),
            ],
            "do not fit together",
        ),
    ];
    for (args, needle) in cases {
        let data = dir.path().join("data");
        let out = std::process::Command::new(joltdb_tests::server_binary())
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .args(&args)
            .env("JOLTDB_PASSWORD", PASSWORD)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with {args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
