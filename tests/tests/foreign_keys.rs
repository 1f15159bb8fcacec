//! Foreign keys end to end: REFERENCES and FOREIGN KEY clauses with
//! PostgreSQL's errors (23503 and its message), ON DELETE actions, ALTER
//! TABLE ADD/DROP CONSTRAINT, DROP TABLE dependencies, concurrent
//! transactions that must not leave orphans, and constraints surviving
//! kill -9 and BACKUP/RESTORE.

use joltdb_tests::TestServer;
use joltdb_tests::{simple_rows as rows, text_row as r};
use std::time::Duration;
use tokio_postgres::error::SqlState;

fn db_error(err: &tokio_postgres::Error) -> (String, String) {
    let e = err.as_db_error().expect("a server error");
    (
        e.message().to_string(),
        e.detail().unwrap_or("").to_string(),
    )
}

const SCHEMA: &str = "
    CREATE TABLE parents (id int PRIMARY KEY, code text UNIQUE);
    CREATE TABLE kids (
        id int PRIMARY KEY,
        parent int REFERENCES parents ON DELETE CASCADE,
        note text
    );
    CREATE TABLE pets (id int PRIMARY KEY, owner_code text, CONSTRAINT pets_owner
        FOREIGN KEY (owner_code) REFERENCES parents (code) ON DELETE SET NULL);
    CREATE TABLE loans (id int PRIMARY KEY, parent int REFERENCES parents (id) ON DELETE RESTRICT);
    INSERT INTO parents VALUES (1, 'a'), (2, 'b'), (3, 'c');
    INSERT INTO kids VALUES (10, 1, 'x'), (11, 1, 'y'), (12, 2, 'z'), (13, NULL, 'none');
    INSERT INTO pets VALUES (20, 'b'), (21, 'c');
    INSERT INTO loans VALUES (30, 3);
";

#[tokio::test]
async fn references_are_enforced_with_postgres_errors() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(SCHEMA).await.unwrap();

    let e = c
        .batch_execute("INSERT INTO kids VALUES (14, 9, 'orphan')")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    assert_eq!(
        db_error(&e),
        (
            "insert or update on table \"kids\" violates foreign key constraint \"kids_parent_fkey\""
                .to_string(),
            "Key (parent)=(9) is not present in table \"parents\".".to_string()
        )
    );
    let e = c
        .batch_execute("UPDATE kids SET parent = 8 WHERE id = 13")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    let e = c
        .batch_execute("INSERT INTO pets VALUES (22, 'zz')")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));

    // RESTRICT: the referenced row stays.
    let e = c
        .batch_execute("DELETE FROM parents WHERE id = 3")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    assert_eq!(
        db_error(&e),
        (
            "update or delete on table \"parents\" violates foreign key constraint \"loans_parent_fkey\" on table \"loans\""
                .to_string(),
            "Key (id)=(3) is still referenced from table \"loans\".".to_string()
        )
    );
    // Changing a referenced key is refused too (ON UPDATE NO ACTION).
    let e = c
        .batch_execute("UPDATE parents SET id = 33 WHERE id = 3")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    // A key nobody references may change, and other columns always may.
    let e = c
        .batch_execute("UPDATE parents SET code = 'cc' WHERE id = 3")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    c.batch_execute("INSERT INTO parents VALUES (4, 'd'); UPDATE parents SET id = 44 WHERE id = 4")
        .await
        .unwrap();

    // CASCADE and SET NULL.
    c.batch_execute("DELETE FROM parents WHERE id IN (1, 2)")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT id, parent FROM kids ORDER BY id").await,
        vec![r(&[Some("13"), None])]
    );
    assert_eq!(
        rows(&c, "SELECT id, owner_code FROM pets ORDER BY id").await,
        vec![r(&[Some("20"), None]), r(&[Some("21"), Some("c")])]
    );

    // A statement may delete rows that reference each other.
    c.batch_execute(
        "CREATE TABLE tree (id int PRIMARY KEY, up int REFERENCES tree);
         INSERT INTO tree VALUES (1, NULL), (2, 1), (3, 2), (4, 4);",
    )
    .await
    .unwrap();
    let e = c
        .batch_execute("DELETE FROM tree WHERE id = 1")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    c.batch_execute("DELETE FROM tree").await.unwrap();

    // Inside a transaction the failed statement leaves the transaction
    // aborted, and nothing of it stays.
    c.batch_execute("BEGIN; INSERT INTO parents VALUES (5, 'e')")
        .await
        .unwrap();
    c.batch_execute("INSERT INTO kids VALUES (15, 5, 'new parent, same txn')")
        .await
        .unwrap();
    c.batch_execute("COMMIT").await.unwrap();
    assert_eq!(
        rows(&c, "SELECT parent FROM kids WHERE id = 15").await,
        vec![r(&[Some("5")])]
    );
}

#[tokio::test]
async fn foreign_key_ddl() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(SCHEMA).await.unwrap();
    for (sql, state, message) in [
        (
            "CREATE TABLE bad (x int REFERENCES nowhere)",
            SqlState::UNDEFINED_TABLE,
            "relation \"nowhere\" does not exist",
        ),
        (
            "CREATE TABLE bad (x text REFERENCES parents)",
            SqlState::DATATYPE_MISMATCH,
            "foreign key constraint \"bad_x_fkey\" cannot be implemented",
        ),
        (
            "CREATE TABLE bad (x text REFERENCES kids (note))",
            SqlState::INVALID_FOREIGN_KEY,
            "there is no unique constraint matching given keys for referenced table \"kids\"",
        ),
        (
            "CREATE TABLE bad (x int, y int, FOREIGN KEY (x, y) REFERENCES parents)",
            SqlState::INVALID_FOREIGN_KEY,
            "number of referencing and referenced columns for foreign key disagree",
        ),
    ] {
        let e = c.batch_execute(sql).await.unwrap_err();
        assert_eq!(e.code(), Some(&state), "{sql}");
        assert_eq!(db_error(&e).0, message, "{sql}");
    }

    // ALTER TABLE ADD CONSTRAINT checks the rows already there.
    c.batch_execute(
        "CREATE TABLE later (id int PRIMARY KEY, parent int);
         INSERT INTO later VALUES (1, 1), (2, 7);",
    )
    .await
    .unwrap();
    let e = c
        .batch_execute(
            "ALTER TABLE later ADD CONSTRAINT later_fk FOREIGN KEY (parent) REFERENCES parents",
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    assert_eq!(
        db_error(&e).1,
        "Key (parent)=(7) is not present in table \"parents\"."
    );
    c.batch_execute(
        "DELETE FROM later WHERE id = 2;
         ALTER TABLE later ADD CONSTRAINT later_fk FOREIGN KEY (parent) REFERENCES parents;",
    )
    .await
    .unwrap();
    let e = c
        .batch_execute("INSERT INTO later VALUES (3, 7)")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    c.batch_execute("ALTER TABLE later DROP CONSTRAINT later_fk; INSERT INTO later VALUES (3, 7)")
        .await
        .unwrap();

    // DROP TABLE of a referenced table.
    let e = c.batch_execute("DROP TABLE parents").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST));
    assert_eq!(
        db_error(&e).0,
        "cannot drop table parents because other objects depend on it"
    );
    c.batch_execute("DROP TABLE parents CASCADE").await.unwrap();
    // The referencing tables stay, without their constraints.
    c.batch_execute("INSERT INTO kids VALUES (99, 12345, 'free now')")
        .await
        .unwrap();
}

#[tokio::test]
async fn concurrent_child_insert_and_parent_delete_never_both_commit() {
    let server = TestServer::start_default();
    let a = server.connect().await;
    let b = server.connect().await;
    a.batch_execute(
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p);
         INSERT INTO p VALUES (1), (2);",
    )
    .await
    .unwrap();

    // The child insert first: the delete waits, then finds the child.
    a.batch_execute("BEGIN; INSERT INTO c VALUES (1, 1)")
        .await
        .unwrap();
    let delete = tokio::spawn(async move {
        let res = b.batch_execute("DELETE FROM p WHERE id = 1").await;
        (b, res)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!delete.is_finished(), "the delete must wait for the insert");
    a.batch_execute("COMMIT").await.unwrap();
    let (b, res) = delete.await.unwrap();
    assert_eq!(
        res.unwrap_err().code(),
        Some(&SqlState::FOREIGN_KEY_VIOLATION)
    );

    // The delete first: the insert waits, then finds no parent.
    b.batch_execute("BEGIN; DELETE FROM p WHERE id = 2")
        .await
        .unwrap();
    let a = std::sync::Arc::new(a);
    let a2 = a.clone();
    let insert = tokio::spawn(async move { a2.batch_execute("INSERT INTO c VALUES (2, 2)").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!insert.is_finished(), "the insert must wait for the delete");
    b.batch_execute("COMMIT").await.unwrap();
    assert_eq!(
        insert.await.unwrap().unwrap_err().code(),
        Some(&SqlState::FOREIGN_KEY_VIOLATION)
    );

    // A delete that rolls back lets the waiting insert through.
    a.batch_execute("INSERT INTO p VALUES (3)").await.unwrap();
    b.batch_execute("BEGIN; DELETE FROM p WHERE id = 3")
        .await
        .unwrap();
    let a3 = a.clone();
    let insert = tokio::spawn(async move { a3.batch_execute("INSERT INTO c VALUES (3, 3)").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.batch_execute("ROLLBACK").await.unwrap();
    insert.await.unwrap().unwrap();
    assert_eq!(
        rows(&a, "SELECT id, pid FROM c ORDER BY id").await,
        vec![r(&[Some("1"), Some("1")]), r(&[Some("3"), Some("3")])]
    );
}

#[tokio::test]
async fn racing_writers_leave_no_orphans() {
    let server = TestServer::start_default();
    let setup = server.connect().await;
    setup
        .batch_execute(
            "CREATE TABLE p (id int PRIMARY KEY);
             CREATE TABLE c (id serial PRIMARY KEY, pid int REFERENCES p);",
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let client = server.connect().await;
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                let key = (i * 7 + worker * 3) % 10;
                let sql = match (worker + i) % 3 {
                    0 => format!("INSERT INTO p VALUES ({key}) ON CONFLICT DO NOTHING"),
                    1 => format!("INSERT INTO c (pid) VALUES ({key})"),
                    _ => format!("DELETE FROM p WHERE id = {key}"),
                };
                // Violations are expected; anything else is not.
                if let Err(e) = client.batch_execute(&sql).await {
                    assert_eq!(
                        e.code(),
                        Some(&SqlState::FOREIGN_KEY_VIOLATION),
                        "{sql}: {e:?}"
                    );
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        rows(
            &setup,
            "SELECT count(*) FROM c WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.id = c.pid)"
        )
        .await,
        vec![r(&[Some("0")])]
    );
}

#[tokio::test]
async fn foreign_keys_survive_kill9_and_backup_restore() {
    let mut server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(SCHEMA).await.unwrap();
    drop(c);
    server.kill9();
    server.restart();
    let c = server.connect().await;
    let e = c
        .batch_execute("INSERT INTO kids VALUES (14, 9, 'orphan')")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    c.batch_execute("DELETE FROM parents WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT count(*) FROM kids WHERE parent = 1").await,
        vec![r(&[Some("0")])]
    );

    c.batch_execute("BACKUP DATABASE TO 'fk.backup'")
        .await
        .unwrap();
    c.batch_execute("DROP TABLE parents, kids, pets, loans")
        .await
        .unwrap();
    c.batch_execute("RESTORE DATABASE FROM 'fk.backup'")
        .await
        .unwrap();
    let e = c
        .batch_execute("DELETE FROM parents WHERE id = 3")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
    let e = c
        .batch_execute("INSERT INTO pets VALUES (29, 'nope')")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
}
