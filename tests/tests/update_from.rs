//! UPDATE ... FROM and DELETE ... USING end to end: prepared with
//! parameters, privileges on the joined tables (SELECT on them, UPDATE or
//! DELETE on the target), and the changes rolled back with the
//! transaction.

use joltdb_tests::{assert_sqlstate, connect_with, TestServer};
use tokio_postgres::error::SqlState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_from_and_delete_using() {
    let server = TestServer::start_default();
    let admin = server.connect().await;
    admin
        .batch_execute(
            "CREATE TABLE stock (sku text PRIMARY KEY, qty int);
             CREATE TABLE delivery (id int PRIMARY KEY, sku text, qty int);
             INSERT INTO stock VALUES ('a', 1), ('b', 2), ('c', 3);
             INSERT INTO delivery VALUES (1, 'a', 10), (2, 'c', 30), (3, 'z', 99);",
        )
        .await
        .unwrap();

    // Prepared, with a parameter on each side of the join.
    let update = admin
        .prepare(
            "UPDATE stock s SET qty = s.qty + d.qty FROM delivery d \
             WHERE d.sku = s.sku AND d.qty >= $1 AND s.sku <> $2 RETURNING s.sku, s.qty, d.id",
        )
        .await
        .unwrap();
    let rows = admin.query(&update, &[&20i32, &"x"]).await.unwrap();
    let got: Vec<(String, i32, i32)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(got, vec![("c".to_string(), 33, 2)]);
    let n = admin.execute(&update, &[&0i32, &"c"]).await.unwrap();
    assert_eq!(n, 1, "only 'a' joins and is not excluded");

    // Rolled back with its transaction.
    admin.batch_execute("BEGIN").await.unwrap();
    let n = admin
        .execute(
            "DELETE FROM stock USING delivery WHERE delivery.sku = stock.sku",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    admin.batch_execute("ROLLBACK").await.unwrap();
    let rows = admin
        .query("SELECT sku, qty FROM stock ORDER BY sku", &[])
        .await
        .unwrap();
    let got: Vec<(String, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        vec![("a".into(), 11), ("b".into(), 2), ("c".into(), 33)]
    );

    // Privileges: the target's UPDATE/DELETE and SELECT on what is read.
    admin
        .batch_execute(
            "CREATE USER clerk WITH PASSWORD 'clerk-pw';
             GRANT SELECT, UPDATE, DELETE ON stock TO clerk;",
        )
        .await
        .unwrap();
    let mut cfg = server.config();
    cfg.user("clerk").password("clerk-pw");
    let clerk = connect_with(cfg).await.unwrap();
    let set_from = "UPDATE stock SET qty = 0 FROM delivery WHERE delivery.sku = stock.sku";
    let delete_using = "DELETE FROM stock USING delivery WHERE delivery.sku = stock.sku";
    for sql in [set_from, delete_using] {
        assert_sqlstate(
            clerk.batch_execute(sql).await,
            &SqlState::INSUFFICIENT_PRIVILEGE,
        );
    }
    admin
        .batch_execute(
            "GRANT SELECT ON delivery TO clerk; REVOKE UPDATE, DELETE ON stock FROM clerk",
        )
        .await
        .unwrap();
    for sql in [set_from, delete_using] {
        assert_sqlstate(
            clerk.batch_execute(sql).await,
            &SqlState::INSUFFICIENT_PRIVILEGE,
        );
    }
    admin
        .batch_execute("GRANT UPDATE, DELETE ON stock TO clerk")
        .await
        .unwrap();
    assert_eq!(clerk.execute(set_from, &[]).await.unwrap(), 2);
    assert_eq!(clerk.execute(delete_using, &[]).await.unwrap(), 2);
    let rows = admin.query("SELECT sku FROM stock", &[]).await.unwrap();
    let left: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(left, vec!["b".to_string()]);
}
