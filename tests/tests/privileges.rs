//! Roles and privileges end to end: CREATE ROLE/USER with a password that
//! then logs in, GRANT/REVOKE on tables and columns checked for every kind
//! of statement (SQLSTATE 42501 when missing), REVOKE taking effect at the
//! next statement, role membership with INHERIT/NOINHERIT and SET ROLE,
//! ownership, and who may manage roles.

use joltdb_tests::{assert_sqlstate, connect_with, TestServer};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

const DENIED: &SqlState = &SqlState::INSUFFICIENT_PRIVILEGE;

async fn connect_as(server: &TestServer, user: &str, password: &str) -> Client {
    let mut cfg = server.config();
    cfg.user(user).password(password);
    connect_with(cfg)
        .await
        .unwrap_or_else(|e| panic!("connecting as {user}: {e}"))
}

/// A table `t (id, secret, note)` owned by the superuser with two rows, and
/// a login role `alice` (password `alice-pw`) with no privileges.
async fn setup(admin: &Client) {
    admin
        .batch_execute(
            "CREATE TABLE t (id int PRIMARY KEY, secret text, note text);
             INSERT INTO t VALUES (1, 's1', 'n1'), (2, 's2', 'n2');
             CREATE USER alice WITH PASSWORD 'alice-pw';",
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_role_logs_in_with_its_password() {
    let server = TestServer::start_default();
    let admin = server.connect().await;
    admin
        .batch_execute(
            "CREATE ROLE bob LOGIN PASSWORD 'bob-pw';
             CREATE ROLE carol PASSWORD 'carol-pw';",
        )
        .await
        .unwrap();
    let bob = connect_as(&server, "bob", "bob-pw").await;
    let row = bob
        .query_one("SELECT current_user, session_user", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "bob");
    assert_eq!(row.get::<_, String>(1), "bob");

    // Wrong password, and a role without LOGIN, are refused.
    let mut cfg = server.config();
    cfg.user("bob").password("wrong");
    assert_sqlstate(connect_with(cfg).await, &SqlState::INVALID_PASSWORD);
    let mut cfg = server.config();
    cfg.user("carol").password("carol-pw");
    assert_sqlstate(
        connect_with(cfg).await,
        &SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
    );

    // ALTER ROLE: LOGIN and a new password apply to the next connection.
    admin
        .batch_execute("ALTER ROLE carol LOGIN PASSWORD 'carol-2'")
        .await
        .unwrap();
    connect_as(&server, "carol", "carol-2").await;

    // A password given as a SCRAM verifier is stored as is (this one is
    // PostgreSQL's verifier for the password "pencil").
    admin
        .batch_execute(
            "CREATE USER dave PASSWORD 'SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU='",
        )
        .await
        .unwrap();
    connect_as(&server, "dave", "pencil").await;

    // Expired passwords no longer work.
    admin
        .batch_execute("ALTER ROLE bob VALID UNTIL '2001-01-01 00:00:00+00'")
        .await
        .unwrap();
    let mut cfg = server.config();
    cfg.user("bob").password("bob-pw");
    assert_sqlstate(connect_with(cfg).await, &SqlState::INVALID_PASSWORD);

    // Roles survive a restart; the file holds no password in clear.
    let roles = std::fs::read_to_string(server.data_dir().join("roles.json")).unwrap();
    assert!(!roles.contains("carol-2"));
    drop(admin);
    drop(bob);
    let mut server = server;
    server.restart();
    connect_as(&server, "carol", "carol-2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privilege_matrix() {
    let server = TestServer::start_default();
    let admin = server.connect().await;
    setup(&admin).await;
    let alice = connect_as(&server, "alice", "alice-pw").await;

    // Nothing granted: every statement kind is refused.
    for sql in [
        "SELECT * FROM t",
        "SELECT count(*) FROM t",
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM t)",
        "SELECT (SELECT max(id) FROM t)",
        "INSERT INTO t VALUES (3, 'x', 'y')",
        "UPDATE t SET note = 'z'",
        "DELETE FROM t",
        "TRUNCATE t",
        "DROP TABLE t",
        "CREATE INDEX t_note ON t (note)",
        "COPY t TO STDOUT",
        "COPY t (id) TO STDOUT",
        "COPY (SELECT id FROM t) TO STDOUT",
        "COPY t FROM STDIN",
        "ALTER TABLE t ADD COLUMN extra int",
        "ALTER TABLE t RENAME TO t2",
    ] {
        let r = alice.batch_execute(sql).await;
        assert_sqlstate(r, DENIED);
    }
    let err = alice.query("SELECT * FROM t", &[]).await.unwrap_err();
    assert_eq!(
        err.as_db_error().unwrap().message(),
        "permission denied for table t"
    );

    // INSERT alone: inserting works, RETURNING needs SELECT too.
    admin
        .batch_execute("GRANT INSERT ON t TO alice")
        .await
        .unwrap();
    alice
        .batch_execute("INSERT INTO t VALUES (3, 's3', 'n3')")
        .await
        .unwrap();
    assert_sqlstate(
        alice
            .query("INSERT INTO t VALUES (4, 's4', 'n4') RETURNING id", &[])
            .await,
        DENIED,
    );
    assert_sqlstate(alice.query("SELECT id FROM t", &[]).await, DENIED);

    // UPDATE without SELECT: a blind update works; one that reads columns
    // (WHERE, SET from a column, RETURNING) does not.
    admin
        .batch_execute("GRANT UPDATE ON t TO alice")
        .await
        .unwrap();
    alice
        .batch_execute("UPDATE t SET note = 'blind'")
        .await
        .unwrap();
    for sql in [
        "UPDATE t SET note = 'x' WHERE id = 1",
        "UPDATE t SET note = secret",
        "UPDATE t SET note = 'x' RETURNING id",
    ] {
        assert_sqlstate(alice.batch_execute(sql).await, DENIED);
    }

    // DELETE with WHERE needs SELECT on the columns it reads.
    admin
        .batch_execute("GRANT DELETE ON t TO alice")
        .await
        .unwrap();
    assert_sqlstate(
        alice.batch_execute("DELETE FROM t WHERE id = 3").await,
        DENIED,
    );

    // Column-level SELECT: only the granted columns may be read.
    admin
        .batch_execute("GRANT SELECT (id, note) ON t TO alice")
        .await
        .unwrap();
    let rows = alice
        .query("SELECT id, note FROM t ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    alice.query("SELECT count(*) FROM t", &[]).await.unwrap();
    assert_sqlstate(alice.query("SELECT secret FROM t", &[]).await, DENIED);
    assert_sqlstate(alice.query("SELECT * FROM t", &[]).await, DENIED);
    assert_sqlstate(
        alice
            .query("SELECT id FROM t WHERE secret = 's1'", &[])
            .await,
        DENIED,
    );
    alice
        .batch_execute("DELETE FROM t WHERE id = 3")
        .await
        .unwrap();
    alice
        .batch_execute("UPDATE t SET note = 'upd' WHERE id = 1")
        .await
        .unwrap();
    let r = alice
        .query(
            "INSERT INTO t VALUES (5, 's5', 'n5') RETURNING id, note",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r[0].get::<_, i32>(0), 5);
    // A subquery reading a column without SELECT is refused too.
    assert_sqlstate(
        alice
            .query(
                "SELECT id FROM t WHERE id IN (SELECT id FROM t WHERE secret > '')",
                &[],
            )
            .await,
        DENIED,
    );

    // Column-level UPDATE: only the granted column may be set.
    admin
        .batch_execute("REVOKE UPDATE ON t FROM alice; GRANT UPDATE (note) ON t TO alice")
        .await
        .unwrap();
    alice
        .batch_execute("UPDATE t SET note = 'n' WHERE id = 1")
        .await
        .unwrap();
    assert_sqlstate(
        alice
            .batch_execute("UPDATE t SET secret = 'n' WHERE id = 1")
            .await,
        DENIED,
    );

    // TRUNCATE, and SELECT on the whole table.
    admin
        .batch_execute("GRANT SELECT, TRUNCATE ON TABLE t TO alice")
        .await
        .unwrap();
    alice.query("SELECT * FROM t", &[]).await.unwrap();
    alice.batch_execute("TRUNCATE t").await.unwrap();

    // Only the owner may drop or index the table.
    assert_sqlstate(alice.batch_execute("DROP TABLE t").await, DENIED);
    assert_sqlstate(
        alice.batch_execute("CREATE INDEX t_note ON t (note)").await,
        DENIED,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_takes_effect_at_next_statement() {
    let server = TestServer::start_default();
    let admin = server.connect().await;
    setup(&admin).await;
    admin
        .batch_execute("GRANT SELECT ON t TO alice")
        .await
        .unwrap();
    let alice = connect_as(&server, "alice", "alice-pw").await;
    let prepared = alice
        .prepare("SELECT secret FROM t WHERE id = $1")
        .await
        .unwrap();
    let row = alice.query_one(&prepared, &[&1i32]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "s1");

    admin
        .batch_execute("REVOKE SELECT ON t FROM alice")
        .await
        .unwrap();
    // Same connection, same prepared statement: refused now.
    assert_sqlstate(alice.query_one(&prepared, &[&1i32]).await, DENIED);
    assert_sqlstate(alice.query("SELECT 1 FROM t", &[]).await, DENIED);

    // Inside an open transaction too.
    admin
        .batch_execute("GRANT SELECT ON t TO alice")
        .await
        .unwrap();
    alice.batch_execute("BEGIN").await.unwrap();
    alice.query_one(&prepared, &[&2i32]).await.unwrap();
    admin
        .batch_execute("REVOKE ALL ON t FROM alice")
        .await
        .unwrap();
    assert_sqlstate(alice.query_one(&prepared, &[&2i32]).await, DENIED);
    alice.batch_execute("ROLLBACK").await.unwrap();

    // PUBLIC grants reach everyone.
    admin
        .batch_execute("GRANT SELECT ON t TO PUBLIC")
        .await
        .unwrap();
    alice.query_one(&prepared, &[&2i32]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_inherit_and_set_role() {
    let server = TestServer::start_default();
    let admin = server.connect().await;
    setup(&admin).await;
    admin
        .batch_execute(
            "CREATE ROLE readers NOLOGIN;
             GRANT SELECT ON t TO readers;
             CREATE ROLE nick LOGIN PASSWORD 'nick-pw' NOINHERIT IN ROLE readers;
             GRANT readers TO alice;",
        )
        .await
        .unwrap();

    // alice inherits the group's privileges.
    let alice = connect_as(&server, "alice", "alice-pw").await;
    alice.query("SELECT * FROM t", &[]).await.unwrap();

    // nick (NOINHERIT) must SET ROLE to use them.
    let nick = connect_as(&server, "nick", "nick-pw").await;
    assert_sqlstate(nick.query("SELECT * FROM t", &[]).await, DENIED);
    nick.batch_execute("SET ROLE readers").await.unwrap();
    let row = nick
        .query_one("SELECT current_user, session_user", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "readers");
    assert_eq!(row.get::<_, String>(1), "nick");
    nick.query("SELECT * FROM t", &[]).await.unwrap();
    nick.batch_execute("RESET ROLE").await.unwrap();
    assert_sqlstate(nick.query("SELECT * FROM t", &[]).await, DENIED);

    // SET ROLE to a role one is not a member of is refused.
    assert_sqlstate(nick.batch_execute("SET ROLE alice").await, DENIED);
    // SET SESSION AUTHORIZATION is for superusers.
    assert_sqlstate(
        nick.batch_execute("SET SESSION AUTHORIZATION alice").await,
        DENIED,
    );
    admin
        .batch_execute("SET SESSION AUTHORIZATION nick")
        .await
        .unwrap();
    let row = admin.query_one("SELECT current_user", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "nick");
    assert_sqlstate(admin.query("SELECT * FROM t", &[]).await, DENIED);
    admin
        .batch_execute("RESET SESSION AUTHORIZATION")
        .await
        .unwrap();

    // Revoking the membership removes the inherited privilege.
    admin
        .batch_execute("REVOKE readers FROM alice")
        .await
        .unwrap();
    assert_sqlstate(alice.query("SELECT * FROM t", &[]).await, DENIED);

    // Membership cycles are refused.
    assert_sqlstate(
        admin.batch_execute("GRANT nick TO readers").await,
        &SqlState::INVALID_GRANT_OPERATION,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_management_and_ownership() {
    let server = TestServer::start_default();
    let admin = server.connect().await;
    setup(&admin).await;
    let alice = connect_as(&server, "alice", "alice-pw").await;

    // A plain role may not manage roles.
    assert_sqlstate(alice.batch_execute("CREATE ROLE x").await, DENIED);
    assert_sqlstate(
        alice.batch_execute("ALTER ROLE alice CREATEROLE").await,
        DENIED,
    );
    // But may change its own password.
    alice
        .batch_execute("ALTER ROLE alice PASSWORD 'alice-2'")
        .await
        .unwrap();
    connect_as(&server, "alice", "alice-2").await;

    // CREATEROLE may create roles, but not superusers.
    admin
        .batch_execute("ALTER ROLE alice CREATEROLE")
        .await
        .unwrap();
    alice.batch_execute("CREATE ROLE helper").await.unwrap();
    assert_sqlstate(
        alice.batch_execute("CREATE ROLE boss SUPERUSER").await,
        DENIED,
    );
    assert_sqlstate(alice.batch_execute("DROP ROLE joltdb").await, DENIED);

    // alice owns what she creates and may grant on it.
    alice
        .batch_execute(
            "CREATE TABLE mine (id int PRIMARY KEY);
             INSERT INTO mine VALUES (1);
             GRANT SELECT ON mine TO helper;",
        )
        .await
        .unwrap();
    // Granting on a table one does not own and holds no grant option for
    // is refused.
    assert_sqlstate(
        alice.batch_execute("GRANT SELECT ON t TO helper").await,
        DENIED,
    );
    // WITH GRANT OPTION lets alice pass the privilege on.
    admin
        .batch_execute("GRANT SELECT ON t TO alice WITH GRANT OPTION")
        .await
        .unwrap();
    alice
        .batch_execute("GRANT SELECT ON t TO helper")
        .await
        .unwrap();
    // Revoking alice's grant option needs CASCADE because helper depends on it.
    assert_sqlstate(
        admin.batch_execute("REVOKE SELECT ON t FROM alice").await,
        &SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
    );
    admin
        .batch_execute("REVOKE SELECT ON t FROM alice CASCADE")
        .await
        .unwrap();

    // DROP ROLE is refused while the role owns objects or holds privileges.
    let err = admin.batch_execute("DROP ROLE alice").await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST),
        "{err:?}"
    );
    assert_sqlstate(
        admin.batch_execute("DROP ROLE helper").await,
        &SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
    );
    admin
        .batch_execute(
            "REVOKE ALL ON mine FROM helper; DROP ROLE helper; DROP ROLE IF EXISTS nobody",
        )
        .await
        .unwrap();
    // The owner drops its own table; then the role can go.
    alice.batch_execute("DROP TABLE mine").await.unwrap();
    drop(alice);
    admin.batch_execute("DROP ROLE alice").await.unwrap();
    assert_sqlstate(
        admin.batch_execute("DROP ROLE alice").await,
        &SqlState::UNDEFINED_OBJECT,
    );
    let mut cfg = server.config();
    cfg.user("alice").password("alice-2");
    assert!(connect_with(cfg).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_role_membership_and_acl_survive_restart() {
    let mut server = TestServer::start_default();
    let admin = server.connect().await;
    setup(&admin).await;
    admin
        .batch_execute("GRANT SELECT (note) ON t TO alice; GRANT joltdb_backup TO alice")
        .await
        .unwrap();
    drop(admin);
    server.restart();
    let alice = connect_as(&server, "alice", "alice-pw").await;
    alice.query("SELECT note FROM t", &[]).await.unwrap();
    assert_sqlstate(alice.query("SELECT secret FROM t", &[]).await, DENIED);
    // Built-in roles cannot log in and cannot be dropped.
    let admin = server.connect().await;
    assert_sqlstate(
        admin.batch_execute("DROP ROLE joltdb_restore").await,
        &SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
    );
}
