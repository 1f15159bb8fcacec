//! CREATE DATABASE / DROP DATABASE: each database has its own tables,
//! sequences and views; unknown names are refused with 3D000; roles work
//! on every database; DROP refuses while others are connected unless
//! FORCE ends them, and removes the database's files; a created database
//! survives a restart and kill -9 like everything else.

use joltdb_tests::{assert_sqlstate, connect_with, simple_rows, text_row, ServerOpts, TestServer};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

async fn connect_to(server: &TestServer, database: &str) -> Client {
    let mut cfg = server.config();
    cfg.dbname(database);
    connect_with(cfg)
        .await
        .unwrap_or_else(|e| panic!("connecting to {database}: {e}"))
}

async fn connect_as(server: &TestServer, user: &str, password: &str, database: &str) -> Client {
    let mut cfg = server.config();
    cfg.user(user).password(password).dbname(database);
    connect_with(cfg)
        .await
        .unwrap_or_else(|e| panic!("connecting as {user} to {database}: {e}"))
}

/// The (SQLSTATE, message) of a failed connection attempt.
async fn connect_failure(server: &TestServer, database: &str) -> (String, String) {
    let mut cfg = server.config();
    cfg.dbname(database);
    let err = connect_with(cfg)
        .await
        .expect_err("the connection must fail");
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("expected a server error, got {err}"));
    (db.code().code().to_owned(), db.message().to_owned())
}

async fn names(c: &Client) -> Vec<String> {
    simple_rows(c, "SELECT datname FROM pg_database ORDER BY datname")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect()
}

/// The directories of the databases other than the default one.
fn database_dirs(data_dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(data_dir.join("databases")) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test]
async fn databases_have_their_own_tables_sequences_and_views() {
    let server = TestServer::start_default();
    let admin = server.connect().await;
    assert_eq!(names(&admin).await, ["joltdb", "postgres"]);
    admin
        .batch_execute(
            "CREATE DATABASE test_a WITH OWNER joltdb TEMPLATE template0 ENCODING 'UTF8' \
             LC_COLLATE 'C' LC_CTYPE 'C'",
        )
        .await
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE \"Test_B\"")
        .await
        .unwrap();
    assert_sqlstate(
        admin.batch_execute("CREATE DATABASE test_a").await,
        &SqlState::DUPLICATE_DATABASE,
    );
    assert_sqlstate(
        admin.batch_execute("CREATE DATABASE joltdb").await,
        &SqlState::DUPLICATE_DATABASE,
    );
    assert_eq!(
        names(&admin).await,
        ["Test_B", "joltdb", "postgres", "test_a"]
    );

    let schema = "CREATE TABLE t (id serial PRIMARY KEY, v text);
                  CREATE VIEW tv AS SELECT v FROM t;";
    admin.batch_execute(schema).await.unwrap();
    let a = connect_to(&server, "test_a").await;
    a.batch_execute(schema).await.unwrap();
    let b = connect_to(&server, "Test_B").await;
    b.batch_execute("CREATE TABLE t (x int PRIMARY KEY)")
        .await
        .unwrap();

    admin
        .batch_execute("INSERT INTO t (v) VALUES ('default 1'), ('default 2')")
        .await
        .unwrap();
    a.batch_execute("INSERT INTO t (v) VALUES ('a 1')")
        .await
        .unwrap();
    b.batch_execute("INSERT INTO t VALUES (7)").await.unwrap();
    assert_eq!(
        simple_rows(&admin, "SELECT id, v FROM t ORDER BY id").await,
        [
            text_row(&[Some("1"), Some("default 1")]),
            text_row(&[Some("2"), Some("default 2")])
        ]
    );
    // Its own sequence: the first value again.
    assert_eq!(
        simple_rows(&a, "SELECT id, v FROM tv JOIN t USING (v)").await,
        [text_row(&[Some("1"), Some("a 1")])]
    );
    assert_eq!(
        simple_rows(&b, "SELECT * FROM t").await,
        [text_row(&[Some("7")])]
    );
    assert_sqlstate(
        b.simple_query("SELECT * FROM tv").await,
        &SqlState::UNDEFINED_TABLE,
    );
    for (c, name) in [(&admin, "joltdb"), (&a, "test_a"), (&b, "Test_B")] {
        assert_eq!(
            simple_rows(c, "SELECT current_database()").await,
            [text_row(&[Some(name)])]
        );
    }
    assert_eq!(
        simple_rows(
            &a,
            "SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba \
             WHERE d.datname = current_database()"
        )
        .await,
        [text_row(&[Some("test_a"), Some("joltdb")])]
    );
    assert_eq!(
        simple_rows(&a, "SELECT has_database_privilege('Test_B', 'CONNECT')").await,
        [text_row(&[Some("t")])]
    );

    // psql's \l lists them, and psql -l (which connects to "postgres") too.
    for args in [&["-c", "\\l"][..], &["-l"][..]] {
        let out = server.psql(args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        for name in ["joltdb", "postgres", "test_a", "Test_B"] {
            assert!(
                text.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{name} "))
                        && l.contains("| joltdb")),
                "{name} missing from:\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn unknown_databases_and_unsupported_options_are_refused() {
    let server = TestServer::start_default();
    let (code, message) = connect_failure(&server, "nosuch").await;
    assert_eq!(code, "3D000");
    assert_eq!(message, "database \"nosuch\" does not exist");
    // Names are case-sensitive, as in PostgreSQL.
    let (code, _) = connect_failure(&server, "JOLTDB").await;
    assert_eq!(code, "3D000");

    let c = connect_to(&server, "postgres").await;
    assert_eq!(
        simple_rows(
            &c,
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        )
        .await,
        [text_row(&[Some("0")])]
    );
    for (sql, state) in [
        (
            "CREATE DATABASE x TEMPLATE joltdb",
            SqlState::FEATURE_NOT_SUPPORTED,
        ),
        (
            "CREATE DATABASE x TEMPLATE nosuch",
            SqlState::UNDEFINED_DATABASE,
        ),
        (
            "CREATE DATABASE x ENCODING 'LATIN1'",
            SqlState::FEATURE_NOT_SUPPORTED,
        ),
        ("CREATE DATABASE x OWNER nosuch", SqlState::UNDEFINED_OBJECT),
        ("CREATE DATABASE x foo 1", SqlState::SYNTAX_ERROR),
        ("DROP DATABASE x WITH (foo)", SqlState::SYNTAX_ERROR),
        ("DROP DATABASE nosuch", SqlState::UNDEFINED_DATABASE),
    ] {
        assert_sqlstate(c.batch_execute(sql).await, &state);
    }
    c.batch_execute("BEGIN").await.unwrap();
    assert_sqlstate(
        c.batch_execute("CREATE DATABASE x").await,
        &SqlState::ACTIVE_SQL_TRANSACTION,
    );
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(names(&c).await, ["joltdb", "postgres"]);

    let out = server.psql(&["-c", "DROP DATABASE IF EXISTS nosuch"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "NOTICE:  database \"nosuch\" does not exist, skipping"
    );
}

#[tokio::test]
async fn drop_refuses_while_in_use_and_force_ends_the_sessions() {
    let server = TestServer::start_default();
    let admin = server.connect().await;
    admin.batch_execute("CREATE DATABASE busy").await.unwrap();
    let user = connect_to(&server, "busy").await;
    user.batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let dirs = database_dirs(&server.data_dir());
    assert_eq!(dirs.len(), 1, "{dirs:?}");

    let err = admin.batch_execute("DROP DATABASE busy").await.unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code(), &SqlState::OBJECT_IN_USE);
    assert_eq!(
        db.message(),
        "database \"busy\" is being accessed by other users"
    );
    assert_eq!(
        db.detail(),
        Some("There is 1 other session using the database.")
    );
    assert_sqlstate(
        user.batch_execute("DROP DATABASE busy").await,
        &SqlState::OBJECT_IN_USE,
    );
    assert_sqlstate(
        admin.batch_execute("DROP DATABASE joltdb").await,
        &SqlState::OBJECT_IN_USE,
    );
    let postgres = connect_to(&server, "postgres").await;
    assert_sqlstate(
        postgres.batch_execute("DROP DATABASE joltdb").await,
        &SqlState::FEATURE_NOT_SUPPORTED,
    );

    admin
        .batch_execute("DROP DATABASE IF EXISTS busy WITH (FORCE)")
        .await
        .unwrap();
    assert!(user.simple_query("SELECT 1").await.is_err());
    assert!(user.is_closed());
    let (code, _) = connect_failure(&server, "busy").await;
    assert_eq!(code, "3D000");
    assert_eq!(names(&admin).await, ["joltdb", "postgres"]);
    assert!(!dirs[0].exists(), "{} is still there", dirs[0].display());

    // A database made again under the same name starts empty.
    admin.batch_execute("CREATE DATABASE busy").await.unwrap();
    let again = connect_to(&server, "busy").await;
    assert_sqlstate(
        again.simple_query("SELECT * FROM t").await,
        &SqlState::UNDEFINED_TABLE,
    );
    drop(again);
    // Without FORCE, once its last session has gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match admin.batch_execute("DROP DATABASE busy").await {
            Ok(()) => break,
            Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) => {
                assert!(std::time::Instant::now() < deadline, "{e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(database_dirs(&server.data_dir()).len() <= 1);
}

#[tokio::test]
async fn createdb_privilege_ownership_and_cluster_wide_roles() {
    let server = TestServer::start_default();
    let admin = server.connect().await;
    admin
        .batch_execute(
            "CREATE ROLE plain LOGIN PASSWORD 'plain-pw';
             CREATE ROLE maker LOGIN CREATEDB PASSWORD 'maker-pw';",
        )
        .await
        .unwrap();
    // As in PostgreSQL, not in a multi-statement string (an implicit
    // transaction block).
    assert_sqlstate(
        admin
            .batch_execute("CREATE DATABASE shared; SELECT 1")
            .await,
        &SqlState::ACTIVE_SQL_TRANSACTION,
    );
    admin.batch_execute("CREATE DATABASE shared").await.unwrap();

    // Roles are cluster-wide: the same logins work on every database.
    let plain = connect_as(&server, "plain", "plain-pw", "shared").await;
    assert_sqlstate(
        plain.batch_execute("CREATE DATABASE mine").await,
        &SqlState::INSUFFICIENT_PRIVILEGE,
    );
    assert_sqlstate(
        plain.batch_execute("DROP DATABASE postgres").await,
        &SqlState::INSUFFICIENT_PRIVILEGE,
    );

    let maker = connect_as(&server, "maker", "maker-pw", "shared").await;
    assert_sqlstate(
        maker
            .batch_execute("CREATE DATABASE theirs OWNER plain")
            .await,
        &SqlState::INSUFFICIENT_PRIVILEGE,
    );
    maker.batch_execute("CREATE DATABASE mine").await.unwrap();
    assert_eq!(
        simple_rows(
            &maker,
            "SELECT r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba \
             WHERE d.datname = 'mine'"
        )
        .await,
        [text_row(&[Some("maker")])]
    );
    let err = plain.batch_execute("DROP DATABASE mine").await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    assert_eq!(
        err.as_db_error().unwrap().message(),
        "must be owner of database mine"
    );
    // A role made while connected to one database logs in to another.
    let in_mine = connect_as(&server, "maker", "maker-pw", "mine").await;
    admin
        .batch_execute("CREATE ROLE late LOGIN PASSWORD 'late-pw'")
        .await
        .unwrap();
    connect_as(&server, "late", "late-pw", "mine").await;
    drop(in_mine);
    drop(plain);
    tokio::time::sleep(Duration::from_millis(100)).await;
    maker.batch_execute("DROP DATABASE mine").await.unwrap();
}

#[tokio::test]
async fn a_created_database_survives_restart_and_kill9() {
    let mut server = TestServer::start_default();
    let admin = server.connect().await;
    admin
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE durable")
        .await
        .unwrap();
    let c = connect_to(&server, "durable").await;
    c.batch_execute(
        "CREATE TABLE t (id serial PRIMARY KEY, v text);
         INSERT INTO t (v) VALUES ('before checkpoint');
         CHECKPOINT;
         INSERT INTO t (v) VALUES ('after checkpoint');",
    )
    .await
    .unwrap();
    drop(c);
    drop(admin);
    server.kill9();
    server.restart();

    let c = connect_to(&server, "durable").await;
    assert_eq!(
        simple_rows(&c, "SELECT id, v FROM t ORDER BY id").await,
        [
            text_row(&[Some("1"), Some("before checkpoint")]),
            text_row(&[Some("2"), Some("after checkpoint")])
        ]
    );
    c.batch_execute("INSERT INTO t (v) VALUES ('after kill')")
        .await
        .unwrap();
    let admin = server.connect().await;
    assert_eq!(
        simple_rows(&admin, "SELECT count(*) FROM t").await,
        [text_row(&[Some("0")])]
    );
    // A database created just before a crash is there afterwards.
    admin.batch_execute("CREATE DATABASE late").await.unwrap();
    drop(c);
    drop(admin);
    server.kill9();
    server.restart();

    let admin = server.connect().await;
    assert_eq!(
        names(&admin).await,
        ["durable", "joltdb", "late", "postgres"]
    );
    drop(admin);
    // A clean stop and start; a directory no database names (what a
    // crash in the middle of DROP DATABASE leaves) is removed.
    server.stop();
    let orphan = server.data_dir().join("databases").join("99999");
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("catalog.json"), b"{}").unwrap();
    server.restart();
    assert!(!orphan.exists());
    let c = connect_to(&server, "durable").await;
    // After a crash the sequence skips the values it had reserved, as
    // PostgreSQL's does.
    assert_eq!(
        simple_rows(&c, "SELECT v FROM t ORDER BY id").await,
        [
            text_row(&[Some("before checkpoint")]),
            text_row(&[Some("after checkpoint")]),
            text_row(&[Some("after kill")])
        ]
    );
    connect_to(&server, "late").await;
}

#[tokio::test]
async fn backup_and_restore_act_on_the_connected_database() {
    let server = TestServer::start_default();
    let admin = server.connect().await;
    admin
        .batch_execute("CREATE TABLE only_default (id int PRIMARY KEY)")
        .await
        .unwrap();
    admin.batch_execute("CREATE DATABASE source").await.unwrap();
    admin.batch_execute("CREATE DATABASE copy").await.unwrap();
    let source = connect_to(&server, "source").await;
    source
        .batch_execute(
            "CREATE TABLE items (id int PRIMARY KEY, name text);
             INSERT INTO items VALUES (1, 'one'), (2, 'two');",
        )
        .await
        .unwrap();
    source
        .batch_execute("BACKUP DATABASE TO 'source.backup'")
        .await
        .unwrap();
    let copy = connect_to(&server, "copy").await;
    copy.batch_execute("RESTORE DATABASE FROM 'source.backup'")
        .await
        .unwrap();
    assert_eq!(
        simple_rows(&copy, "SELECT id, name FROM items ORDER BY id").await,
        [
            text_row(&[Some("1"), Some("one")]),
            text_row(&[Some("2"), Some("two")])
        ]
    );
    assert_sqlstate(
        copy.simple_query("SELECT * FROM only_default").await,
        &SqlState::UNDEFINED_TABLE,
    );
    assert_sqlstate(
        admin.simple_query("SELECT * FROM items").await,
        &SqlState::UNDEFINED_TABLE,
    );
}

#[tokio::test]
async fn each_database_archives_its_own_log_for_point_in_time_restore() {
    let archive = tempfile::tempdir().unwrap();
    let archive_dir = archive.path().join("arch");
    let server = TestServer::start(ServerOpts::default().args([
        "--archive-dir".to_string(),
        archive_dir.display().to_string(),
    ]));
    let admin = server.connect().await;
    admin.batch_execute("CREATE DATABASE hist").await.unwrap();
    let c = connect_to(&server, "hist").await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t VALUES (1, 'base');",
    )
    .await
    .unwrap();
    c.batch_execute("BACKUP DATABASE TO 'hist.backup'")
        .await
        .unwrap();
    c.batch_execute("INSERT INTO t VALUES (2, 'wanted')")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let then = chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S%.6f+00")
        .to_string();
    tokio::time::sleep(Duration::from_millis(5)).await;
    c.batch_execute("INSERT INTO t VALUES (3, 'too late'); CHECKPOINT")
        .await
        .unwrap();

    let oid = simple_rows(&c, "SELECT oid FROM pg_database WHERE datname = 'hist'").await[0][0]
        .clone()
        .unwrap();
    let own = archive_dir.join("databases").join(&oid).join("wal");
    assert!(own.is_dir(), "{} was not archived to", own.display());

    c.batch_execute(&format!(
        "RESTORE TABLE t FROM 'hist.backup' AS OF '{then}' AS t_then"
    ))
    .await
    .unwrap();
    assert_eq!(
        simple_rows(&c, "SELECT id, v FROM t_then ORDER BY id").await,
        [
            text_row(&[Some("1"), Some("base")]),
            text_row(&[Some("2"), Some("wanted")])
        ]
    );
}

#[tokio::test]
async fn a_data_directory_from_before_databases_keeps_only_joltdb() {
    let mut server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (1)")
        .await
        .unwrap();
    drop(c);
    server.stop();
    // What an earlier joltdb left: no list of databases.
    std::fs::remove_file(server.data_dir().join("databases.json")).unwrap();
    server.restart();

    let c = server.connect().await;
    assert_eq!(names(&c).await, ["joltdb"]);
    assert_eq!(
        simple_rows(&c, "SELECT id FROM kept").await,
        [text_row(&[Some("1")])]
    );
    let (code, _) = connect_failure(&server, "postgres").await;
    assert_eq!(code, "3D000");
    c.batch_execute("CREATE DATABASE postgres").await.unwrap();
    connect_to(&server, "postgres").await;
}
