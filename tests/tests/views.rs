//! Views end to end: CREATE [OR REPLACE] VIEW and DROP VIEW with
//! PostgreSQL's errors, views in joins and on other views, the dependency
//! rules of DROP TABLE / ALTER TABLE, privileges checked as the view's
//! owner, and views surviving kill -9, checkpoints and BACKUP/RESTORE.

use joltdb_tests::simple_rows as rows;
use joltdb_tests::TestServer;
use tokio_postgres::error::SqlState;

fn r(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.to_string())).collect()
}

fn message(err: tokio_postgres::Error) -> String {
    err.as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_default()
}

const SCHEMA: &str = "
    CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
    CREATE TABLE orders (id int PRIMARY KEY, customer int, total numeric(10,2));
    INSERT INTO customers VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');
    INSERT INTO orders VALUES (10, 1, 5.00), (11, 1, 7.50), (12, 2, 1.25);
    CREATE VIEW big_orders AS SELECT id, customer, total FROM orders WHERE total > 2;
    CREATE VIEW spend (who, spent) AS
        SELECT c.name, sum(o.total) FROM customers c JOIN orders o ON o.customer = c.id
        GROUP BY c.name;
    CREATE VIEW top_spender AS SELECT who FROM spend ORDER BY spent DESC LIMIT 1;
";

#[tokio::test]
async fn views_query_join_nest_and_follow_the_tables() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(SCHEMA).await.unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM big_orders ORDER BY id").await,
        vec![r(&["10", "1", "5.00"]), r(&["11", "1", "7.50"])]
    );
    assert_eq!(
        rows(&c, "SELECT who, spent FROM spend ORDER BY who").await,
        vec![r(&["ann", "12.50"]), r(&["bob", "1.25"])]
    );
    assert_eq!(
        rows(&c, "SELECT * FROM top_spender").await,
        vec![r(&["ann"])]
    );
    // A view joined with a table, under an alias with column aliases.
    assert_eq!(
        rows(
            &c,
            "SELECT c.name, b.n FROM customers c JOIN big_orders AS b (n, cust) ON b.cust = c.id
             ORDER BY b.n"
        )
        .await,
        vec![r(&["ann", "10"]), r(&["ann", "11"])]
    );
    // Views read the tables as they are now.
    c.batch_execute("INSERT INTO orders VALUES (13, 3, 100)")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM top_spender").await,
        vec![r(&["cy"])]
    );
    // Column types and names come from the query; the wire reports them.
    let stmt = c.prepare("SELECT * FROM spend").await.unwrap();
    let cols: Vec<(&str, String)> = stmt
        .columns()
        .iter()
        .map(|col| (col.name(), col.type_().name().to_string()))
        .collect();
    assert_eq!(
        cols,
        vec![
            ("who", "text".to_string()),
            ("spent", "numeric".to_string())
        ]
    );
    // Inside a transaction, a view sees the transaction's own writes.
    c.batch_execute("BEGIN; DELETE FROM orders WHERE id = 13")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM top_spender").await,
        vec![r(&["ann"])]
    );
    c.batch_execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn view_ddl_errors_match_postgres() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(SCHEMA).await.unwrap();

    let e = c
        .batch_execute("CREATE VIEW big_orders AS SELECT 1")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DUPLICATE_TABLE));
    let e = c
        .batch_execute("CREATE VIEW v (a, b) AS SELECT 1")
        .await
        .unwrap_err();
    assert_eq!(
        message(e),
        "CREATE VIEW specifies more column names than columns"
    );
    let e = c
        .batch_execute("CREATE VIEW v AS SELECT 1 AS a, 2 AS a")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DUPLICATE_COLUMN));
    let e = c
        .batch_execute("CREATE VIEW v AS SELECT * FROM nowhere")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::UNDEFINED_TABLE));

    // OR REPLACE keeps the old columns and may add new ones at the end.
    c.batch_execute("CREATE VIEW names AS SELECT id, name FROM customers")
        .await
        .unwrap();
    let e = c
        .batch_execute("CREATE OR REPLACE VIEW names AS SELECT id FROM customers")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INVALID_TABLE_DEFINITION));
    assert_eq!(message(e), "cannot drop columns from view");
    let e = c
        .batch_execute("CREATE OR REPLACE VIEW names AS SELECT name, id FROM customers")
        .await
        .unwrap_err();
    assert_eq!(
        message(e),
        "cannot change name of view column \"id\" to \"name\""
    );
    c.batch_execute(
        "CREATE OR REPLACE VIEW names AS SELECT id, upper(name) AS name, 1 AS one FROM customers",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM names WHERE id = 2").await,
        vec![r(&["2", "BOB", "1"])]
    );
    let e = c
        .batch_execute("CREATE OR REPLACE VIEW customers AS SELECT 1 AS id")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::WRONG_OBJECT_TYPE));

    // Views are read-only.
    for sql in [
        "INSERT INTO big_orders VALUES (20, 1, 9)",
        "UPDATE big_orders SET total = 0",
        "DELETE FROM big_orders",
    ] {
        let e = c.batch_execute(sql).await.unwrap_err();
        assert_eq!(e.code(), Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE));
    }
    let e = c
        .batch_execute("INSERT INTO big_orders VALUES (20, 1, 9)")
        .await
        .unwrap_err();
    assert_eq!(message(e), "cannot insert into view \"big_orders\"");
    let e = c.batch_execute("TRUNCATE big_orders").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::WRONG_OBJECT_TYPE));
    let e = c
        .batch_execute("CREATE INDEX ON big_orders (id)")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::WRONG_OBJECT_TYPE));

    // DROP of the wrong kind, of something missing, and dependencies.
    let e = c.batch_execute("DROP TABLE big_orders").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::WRONG_OBJECT_TYPE));
    assert_eq!(message(e), "\"big_orders\" is not a table");
    let e = c.batch_execute("DROP VIEW orders").await.unwrap_err();
    assert_eq!(message(e), "\"orders\" is not a view");
    let e = c.batch_execute("DROP VIEW nope").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::UNDEFINED_TABLE));
    assert_eq!(message(e), "view \"nope\" does not exist");
    c.batch_execute("DROP VIEW IF EXISTS nope").await.unwrap();

    let e = c.batch_execute("DROP TABLE orders").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST));
    assert_eq!(
        message(e),
        "cannot drop table orders because other objects depend on it"
    );
    let e = c.batch_execute("DROP VIEW spend").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST));
    let e = c
        .batch_execute("ALTER TABLE orders DROP COLUMN total")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST));
    // Nothing was dropped by the failed statements.
    assert_eq!(
        rows(&c, "SELECT count(*) FROM spend").await,
        vec![r(&["2"])]
    );

    // CASCADE drops the views that depend, transitively.
    c.batch_execute("DROP TABLE orders CASCADE").await.unwrap();
    for v in ["big_orders", "spend", "top_spender"] {
        let e = c
            .batch_execute(&format!("SELECT * FROM {v}"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(&SqlState::UNDEFINED_TABLE));
    }
    // A view over a view: DROP VIEW ... CASCADE.
    c.batch_execute(
        "CREATE VIEW a AS SELECT id FROM customers;
         CREATE VIEW b AS SELECT id FROM a;
         DROP VIEW a CASCADE;",
    )
    .await
    .unwrap();
    let e = c.batch_execute("SELECT * FROM b").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::UNDEFINED_TABLE));
    // The names are free again.
    c.batch_execute("CREATE TABLE b (x int); DROP TABLE b")
        .await
        .unwrap();
}

#[tokio::test]
async fn view_privileges_are_checked_as_the_owner() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE secret (id int PRIMARY KEY, pay int, name text);
         INSERT INTO secret VALUES (1, 100, 'ann'), (2, 200, 'bob');
         CREATE ROLE owner_role;
         CREATE ROLE reader;
         GRANT SELECT ON secret TO owner_role;
         SET ROLE owner_role;
         CREATE VIEW public_names AS SELECT id, name FROM secret;
         RESET ROLE;",
    )
    .await
    .unwrap();
    // The reader has no privilege on the view yet.
    c.batch_execute("SET ROLE reader").await.unwrap();
    let e = c
        .batch_execute("SELECT * FROM public_names")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    assert_eq!(message(e), "permission denied for view public_names");
    c.batch_execute("RESET ROLE").await.unwrap();

    // SELECT on the view is enough: the table is checked as the view's
    // owner, who may read it.
    c.batch_execute("SET ROLE owner_role; GRANT SELECT ON public_names TO reader; RESET ROLE")
        .await
        .unwrap();
    c.batch_execute("SET ROLE reader").await.unwrap();
    assert_eq!(
        rows(&c, "SELECT name FROM public_names ORDER BY id").await,
        vec![r(&["ann"]), r(&["bob"])]
    );
    let e = c.batch_execute("SELECT * FROM secret").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    // Only the owner may replace or drop the view.
    let e = c.batch_execute("DROP VIEW public_names").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    assert_eq!(message(e), "must be owner of view public_names");
    c.batch_execute("RESET ROLE").await.unwrap();

    // When the owner loses its privilege on the table, the view stops
    // working for everyone — the superuser included.
    c.batch_execute("REVOKE SELECT ON secret FROM owner_role")
        .await
        .unwrap();
    c.batch_execute("SET ROLE reader").await.unwrap();
    let e = c
        .batch_execute("SELECT * FROM public_names")
        .await
        .unwrap_err();
    assert_eq!(message(e), "permission denied for table secret");
    c.batch_execute("RESET ROLE").await.unwrap();
    let e = c
        .batch_execute("SELECT * FROM public_names")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
}

#[tokio::test]
async fn views_survive_kill9_checkpoint_and_backup_restore() {
    let mut server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(SCHEMA).await.unwrap();
    c.batch_execute("CREATE ROLE reader; GRANT SELECT ON spend TO reader")
        .await
        .unwrap();
    drop(c);
    server.kill9();
    server.restart();
    let c = server.connect().await;
    assert_eq!(
        rows(&c, "SELECT who, spent FROM spend ORDER BY who").await,
        vec![r(&["ann", "12.50"]), r(&["bob", "1.25"])]
    );
    c.batch_execute("SET ROLE reader").await.unwrap();
    assert_eq!(
        rows(&c, "SELECT count(*) FROM spend").await,
        vec![r(&["2"])]
    );
    c.batch_execute("RESET ROLE").await.unwrap();
    // The dependencies were kept too.
    let e = c.batch_execute("DROP TABLE customers").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST));

    c.batch_execute("CHECKPOINT; INSERT INTO orders VALUES (13, 3, 100)")
        .await
        .unwrap();
    drop(c);
    server.kill9();
    server.restart();
    let c = server.connect().await;
    assert_eq!(
        rows(&c, "SELECT * FROM top_spender").await,
        vec![r(&["cy"])]
    );

    // BACKUP DATABASE carries the views; RESTORE brings them back.
    c.batch_execute("BACKUP DATABASE TO 'with_views.backup'")
        .await
        .unwrap();
    c.batch_execute("DROP TABLE orders, customers CASCADE")
        .await
        .unwrap();
    c.batch_execute("RESTORE DATABASE FROM 'with_views.backup'")
        .await
        .unwrap();
    assert_eq!(
        rows(&c, "SELECT * FROM top_spender").await,
        vec![r(&["cy"])]
    );
    assert_eq!(
        rows(&c, "SELECT id FROM big_orders ORDER BY id").await,
        vec![r(&["10"]), r(&["11"]), r(&["13"])]
    );
    let e = c.batch_execute("DROP TABLE orders").await.unwrap_err();
    assert_eq!(e.code(), Some(&SqlState::DEPENDENT_OBJECTS_STILL_EXIST));
}
