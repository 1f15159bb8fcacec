//! Set-returning functions in select lists and LATERAL items through the
//! extended protocol: parameters inside them, result column types as
//! Describe reports them, and binary results.

use joltdb_tests::{assert_sqlstate, TestServer};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_list_set_functions_and_lateral_prepared() {
    let server = TestServer::start_default();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE doc (id int PRIMARY KEY, tags text[], meta jsonb);
             INSERT INTO doc VALUES (1, '{a,b,c}', '{\"lang\": \"en\", \"pages\": 3}'),
                                    (2, '{d}', '{}');",
        )
        .await
        .unwrap();

    // Lockstep: three tags against a two-row series, padded with NULL.
    let stmt = client
        .prepare(
            "SELECT id, unnest(tags) AS tag, generate_series(1, $1) AS n \
             FROM doc WHERE id = $2 ORDER BY n NULLS LAST, tag",
        )
        .await
        .unwrap();
    let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
    assert_eq!(types, vec![Type::INT4, Type::TEXT, Type::INT4]);
    let rows = client.query(&stmt, &[&2i32, &1i32]).await.unwrap();
    let got: Vec<(i32, Option<String>, Option<i32>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Some("a".into()), Some(1)),
            (1, Some("b".into()), Some(2)),
            (1, Some("c".into()), None),
        ]
    );

    // LATERAL and jsonb_each with a parameter in the lateral subquery.
    let stmt = client
        .prepare(
            "SELECT d.id, kv.key, kv.value, s.n FROM doc d \
             CROSS JOIN LATERAL jsonb_each(d.meta) kv \
             LEFT JOIN LATERAL (SELECT count(*) AS n FROM unnest(d.tags) t WHERE t >= $1) s ON true \
             ORDER BY kv.key",
        )
        .await
        .unwrap();
    let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
    assert_eq!(types, vec![Type::INT4, Type::TEXT, Type::JSONB, Type::INT8]);
    let rows = client.query(&stmt, &[&"b"]).await.unwrap();
    let got: Vec<(i32, String, serde_json::Value, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "lang".into(), serde_json::json!("en"), 2),
            (1, "pages".into(), serde_json::json!(3), 2),
        ]
    );

    let err = client
        .query("SELECT id FROM doc WHERE unnest(tags) = 'a'", &[])
        .await;
    assert_sqlstate(err, &SqlState::FEATURE_NOT_SUPPORTED);
}
