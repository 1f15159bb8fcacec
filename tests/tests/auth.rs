//! Authentication: wrong password and unknown role look the same, hba rules
//! allow, reject and refuse, cleartext passwords only over TLS, repeated
//! failures from one address are slowed down, and a bad hba file refuses
//! start-up with its line number.

use joltdb_tests::tls::{connect_tls, TestCa};
use joltdb_tests::{connect_with, server_binary, ServerOpts, TestServer, PASSWORD};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_postgres::config::ChannelBinding;

/// Writes `rules` to an hba file in `dir`.
fn hba_file(dir: &Path, rules: &str) -> PathBuf {
    let path = dir.join("hba.conf");
    std::fs::write(&path, rules).unwrap();
    path
}

/// The (SQLSTATE, message) a failed connection attempt got.
fn failure(result: Result<tokio_postgres::Client, tokio_postgres::Error>) -> (String, String) {
    let err = result.expect_err("the connection must fail");
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("expected a server error, got {err}"));
    (db.code().code().to_owned(), db.message().to_owned())
}

#[tokio::test]
async fn wrong_password_and_unknown_role_are_indistinguishable() {
    let server = TestServer::start_default();
    let mut wrong = server.config();
    wrong.password("not-the-password");
    let (code, message) = failure(connect_with(wrong).await);
    assert_eq!(code, "28P01");
    assert_eq!(
        message,
        "password authentication failed for user \"joltdb\""
    );

    let mut unknown = server.config();
    unknown.user("nobody").password(PASSWORD);
    let (code, message) = failure(connect_with(unknown).await);
    assert_eq!(code, "28P01");
    assert_eq!(
        message,
        "password authentication failed for user \"nobody\""
    );

    // The log records the failures but never a password.
    let log = server.log();
    assert!(log.contains("password authentication failed"), "{log}");
    assert!(
        !log.contains("not-the-password") && !log.contains(PASSWORD),
        "{log}"
    );

    server
        .connect()
        .await
        .simple_query("SELECT 1")
        .await
        .unwrap();
}

#[tokio::test]
async fn hba_rules_allow_reject_and_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let hba = hba_file(
        dir.path(),
        "# TYPE  DATABASE       ROLE    ADDRESS        METHOD\n\
         host     closed         all     all            reject\n\
         host     dev            joltdb  127.0.0.1/32   trust\n\
         host     joltdb,other   all     127.0.0.0/8    scram-sha-256\n",
    );
    let server = TestServer::start(
        ServerOpts::default().args(["--hba".to_owned(), hba.display().to_string()]),
    );
    let admin = server.connect().await;
    admin.batch_execute("CREATE DATABASE other").await.unwrap();
    admin.batch_execute("CREATE DATABASE dev").await.unwrap();

    let mut cfg = server.config();
    cfg.dbname("other");
    connect_with(cfg)
        .await
        .unwrap()
        .simple_query("SELECT 1")
        .await
        .unwrap();
    server.connect().await;

    let mut cfg = server.config();
    cfg.dbname("closed");
    let (code, message) = failure(connect_with(cfg).await);
    assert_eq!(code, "28000");
    assert_eq!(
        message,
        "hba rule rejects connection for host \"127.0.0.1\", user \"joltdb\", database \"closed\", no encryption"
    );

    let mut cfg = server.config();
    cfg.dbname("elsewhere");
    let (code, message) = failure(connect_with(cfg).await);
    assert_eq!(code, "28000");
    assert_eq!(
        message,
        "no hba entry for host \"127.0.0.1\", user \"joltdb\", database \"elsewhere\", no encryption"
    );

    // trust (loopback only): no password asked.
    let mut cfg = server.config();
    cfg.dbname("dev").password("anything");
    connect_with(cfg)
        .await
        .unwrap()
        .simple_query("SELECT 1")
        .await
        .unwrap();
}

#[tokio::test]
async fn cleartext_password_over_tls_is_checked_against_the_hash() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let hba = hba_file(
        dir.path(),
        "hostssl  all  all  all  password\n\
         host     all  all  all  scram-sha-256\n",
    );
    let server = TestServer::start(
        ServerOpts::default()
            .args(ca.server_args())
            .args(["--hba".to_owned(), hba.display().to_string()]),
    );
    // tokio-postgres answers a cleartext request with the password
    // (channel binding cannot be required without SCRAM).
    let c = connect_tls(server.config(), ca.connector(), ChannelBinding::Disable)
        .await
        .unwrap();
    c.simple_query("SELECT 1").await.unwrap();
    let out = server.psql_conninfo("sslmode=require", PASSWORD, "SELECT 'clear'");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut wrong = server.config();
    wrong.password("wrong");
    let (code, wrong_message) =
        failure(connect_tls(wrong, ca.connector(), ChannelBinding::Disable).await);
    assert_eq!(code, "28P01");
    assert_eq!(
        wrong_message,
        "password authentication failed for user \"joltdb\""
    );
    let mut unknown = server.config();
    unknown.user("ghost");
    let (code, message) =
        failure(connect_tls(unknown, ca.connector(), ChannelBinding::Disable).await);
    assert_eq!(code, "28P01");
    assert_eq!(message, "password authentication failed for user \"ghost\"");

    // Plaintext connections get SCRAM instead, never a cleartext request:
    // a client that insists on channel binding sees SASL and fails only
    // because there is no TLS to bind to.
    let c = connect_with(server.config()).await.unwrap();
    c.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_slowed_down() {
    let server = TestServer::start_default();
    let mut wrong = server.config();
    wrong.password("guess");
    let mut last = Duration::ZERO;
    for _ in 0..7 {
        let started = Instant::now();
        let (code, _) = failure(connect_with(wrong.clone()).await);
        assert_eq!(code, "28P01");
        last = started.elapsed();
    }
    // Seven failures in a row: the seventh attempt waited its turn (the
    // spacing after six failures is 400 ms).
    assert!(
        last >= Duration::from_millis(350),
        "the 7th failed attempt took only {last:?}"
    );
    // The right password still gets in.
    server
        .connect()
        .await
        .simple_query("SELECT 1")
        .await
        .unwrap();
}

#[test]
fn bad_hba_file_refuses_start_up_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "host all all all scram-sha-256\nhost all all all md5\n",
            ":2: method \"md5\"",
        ),
        (
            "\nhost all all 0.0.0.0/0 trust\n",
            ":2: method \"trust\" is allowed only for loopback",
        ),
        ("host all all all password\n", ":1: method \"password\""),
        (
            "hostssl all all all scram-sha-256\n",
            ":1: hostssl rule cannot match",
        ),
        ("host all all 300.1.1.1 reject\n", ":1: invalid address"),
    ];
    for (rules, needle) in cases {
        let hba = hba_file(dir.path(), rules);
        let out = std::process::Command::new(server_binary())
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--hba")
            .arg(&hba)
            .env("JOLTDB_PASSWORD", PASSWORD)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with {rules:?}");
        assert!(err.contains(needle), "{rules:?}: {err}");
    }
}
