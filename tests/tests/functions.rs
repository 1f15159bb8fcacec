//! Arrays, aggregates and scalar functions end to end through
//! tokio-postgres, in text and binary format. Expected values are the ones
//! PostgreSQL 15 returns for the same statements.

use joltdb_tests::{assert_sqlstate, TestServer};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::SimpleQueryMessage;

/// The first column of every row of a simple (text-format) query.
async fn texts(c: &tokio_postgres::Client, sql: &str) -> Vec<Option<String>> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
            _ => None,
        })
        .collect()
}

/// The single text value a query returns.
async fn text(c: &tokio_postgres::Client, sql: &str) -> Option<String> {
    let rows = texts(c, sql).await;
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    rows.into_iter().next().unwrap()
}

#[tokio::test]
async fn array_literals_operators_and_functions() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    let cases: &[(&str, Option<&str>)] = &[
        ("SELECT ARRAY[1,2,3]", Some("{1,2,3}")),
        (
            "SELECT ARRAY['a','b c',NULL,'','null']",
            Some(r#"{a,"b c",NULL,"","null"}"#),
        ),
        ("SELECT '{1, 2 ,NULL}'::int[]", Some("{1,2,NULL}")),
        (r#"SELECT '{"x\"y",z}'::text[]"#, Some(r#"{"x\"y",z}"#)),
        ("SELECT (ARRAY[10,20,30])[2]", Some("20")),
        ("SELECT (ARRAY[10,20,30])[4]", None),
        ("SELECT (ARRAY[1,2,3,4])[2:3]", Some("{2,3}")),
        ("SELECT (ARRAY[1,2,3])[:2]", Some("{1,2}")),
        ("SELECT 2 = ANY(ARRAY[1,2,3])", Some("t")),
        ("SELECT 5 = ANY('{1,2}')", Some("f")),
        ("SELECT 5 <> ALL(ARRAY[1,2])", Some("t")),
        ("SELECT 1 = ANY(ARRAY[NULL,2])", None),
        ("SELECT NULL::int = ANY('{}'::int[])", Some("f")),
        ("SELECT 3 > ALL(ARRAY[1,2])", Some("t")),
        ("SELECT 1 = ANY(SELECT 1)", Some("t")),
        ("SELECT array_length(ARRAY[1,2,3], 1)", Some("3")),
        ("SELECT array_length('{}'::int[], 1)", None),
        ("SELECT cardinality(ARRAY[1,2])", Some("2")),
        ("SELECT array_position(ARRAY['a','b'], 'b')", Some("2")),
        ("SELECT array_positions(ARRAY[1,2,1], 1)", Some("{1,3}")),
        ("SELECT array_append(ARRAY[1,2], 3)", Some("{1,2,3}")),
        ("SELECT array_prepend(0, ARRAY[1])", Some("{0,1}")),
        ("SELECT array_cat(ARRAY[1], ARRAY[2,3])", Some("{1,2,3}")),
        ("SELECT array_remove(ARRAY[1,2,1], 1)", Some("{2}")),
        ("SELECT array_replace(ARRAY[1,2,1], 1, 9)", Some("{9,2,9}")),
        ("SELECT array_to_string(ARRAY[1,NULL,3], ',')", Some("1,3")),
        (
            "SELECT array_to_string(ARRAY[1,NULL,3], ',', '*')",
            Some("1,*,3"),
        ),
        (
            "SELECT string_to_array('a,b,,c', ',')",
            Some(r#"{a,b,"",c}"#),
        ),
        (
            "SELECT string_to_array('a|b|x', '|', 'x')",
            Some("{a,b,NULL}"),
        ),
        ("SELECT string_to_array('abc', NULL)", Some("{a,b,c}")),
        ("SELECT ARRAY[1,2] @> ARRAY[1]", Some("t")),
        ("SELECT ARRAY[1] <@ ARRAY[1,2]", Some("t")),
        ("SELECT ARRAY[1,2] && ARRAY[3]", Some("f")),
        ("SELECT ARRAY[1,2] || ARRAY[3]", Some("{1,2,3}")),
        ("SELECT ARRAY[1,2] || 3", Some("{1,2,3}")),
        ("SELECT 0 || ARRAY[1]", Some("{0,1}")),
        ("SELECT ARRAY[1,2] < ARRAY[1,3]", Some("t")),
        ("SELECT ARRAY[1] < ARRAY[1,0]", Some("t")),
        (
            "SELECT ARRAY(SELECT 1 UNION SELECT 2 ORDER BY 1)",
            Some("{1,2}"),
        ),
        ("SELECT ARRAY[1.5, 2]", Some("{1.5,2}")),
        ("SELECT '{1,2}'::int[]::text", Some("{1,2}")),
        ("SELECT pg_typeof(ARRAY[1])::text", Some("integer[]")),
    ];
    for (sql, want) in cases {
        assert_eq!(text(&c, sql).await.as_deref(), *want, "{sql}");
    }

    assert_sqlstate(
        c.simple_query("SELECT ARRAY[]").await,
        &SqlState::INDETERMINATE_DATATYPE,
    );
    assert_eq!(
        text(&c, "SELECT ARRAY[]::int[]").await.as_deref(),
        Some("{}")
    );
    assert_sqlstate(
        c.simple_query("SELECT '{1,2'::int[]").await,
        &SqlState::INVALID_TEXT_REPRESENTATION,
    );
    assert_sqlstate(
        c.simple_query("SELECT '{1,x}'::int[]").await,
        &SqlState::INVALID_TEXT_REPRESENTATION,
    );
    assert_sqlstate(
        c.simple_query("SELECT 1 = ANY(ARRAY['1'])").await,
        &SqlState::UNDEFINED_FUNCTION,
    );
}

#[tokio::test]
async fn array_columns_aggregates_and_binary_format() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE arr (id int PRIMARY KEY, tags text[], nums int[]);
         INSERT INTO arr VALUES (1, ARRAY['x','y'], '{1,2,3}'), (2, '{}', NULL),
                                (3, '{\"a b\",NULL}', ARRAY[5]);",
    )
    .await
    .unwrap();
    assert_eq!(
        texts(&c, "SELECT tags FROM arr ORDER BY id").await,
        vec![
            Some("{x,y}".into()),
            Some("{}".into()),
            Some(r#"{"a b",NULL}"#.into())
        ]
    );
    assert_eq!(
        texts(&c, "SELECT id FROM arr WHERE 'x' = ANY(tags)").await,
        vec![Some("1".into())]
    );
    assert_eq!(
        texts(&c, "SELECT nums[1] FROM arr ORDER BY id").await,
        vec![Some("1".into()), None, Some("5".into())]
    );
    assert_eq!(
        text(&c, "SELECT array_agg(id ORDER BY id DESC) FROM arr").await,
        Some("{3,2,1}".into())
    );
    assert_eq!(
        text(&c, "SELECT array_agg(id) FROM arr WHERE id < 0").await,
        None
    );
    assert_eq!(
        text(
            &c,
            "SELECT string_agg(x::text, ',' ORDER BY x) FROM (VALUES (3),(1),(2)) t(x)"
        )
        .await,
        Some("1,2,3".into())
    );
    assert_eq!(
        text(&c, "SELECT array_agg(x) FROM (VALUES (1),(NULL),(2)) t(x)").await,
        Some("{1,NULL,2}".into())
    );

    // Binary results and parameters with the array type OIDs.
    let stmt = c
        .prepare("SELECT nums, tags FROM arr WHERE id = $1")
        .await
        .unwrap();
    assert_eq!(stmt.columns()[0].type_(), &Type::INT4_ARRAY);
    assert_eq!(stmt.columns()[1].type_(), &Type::TEXT_ARRAY);
    let row = c.query_one(&stmt, &[&3i32]).await.unwrap();
    assert_eq!(row.get::<_, Vec<i32>>(0), vec![5]);
    assert_eq!(
        row.get::<_, Vec<Option<String>>>(1),
        vec![Some("a b".to_string()), None]
    );
    let row = c.query_one(&stmt, &[&2i32]).await.unwrap();
    assert_eq!(row.get::<_, Option<Vec<i32>>>(0), None);
    assert_eq!(row.get::<_, Vec<String>>(1), Vec::<String>::new());

    c.execute(
        "INSERT INTO arr VALUES ($1, $2, $3)",
        &[&4i32, &vec!["p", "q r"], &vec![Some(7i32), None]],
    )
    .await
    .unwrap();
    assert_eq!(
        text(
            &c,
            "SELECT nums::text || ' ' || tags::text FROM arr WHERE id = 4"
        )
        .await,
        Some(r#"{7,NULL} {p,"q r"}"#.into())
    );
    let ids: Vec<i32> = c
        .query(
            "SELECT id FROM arr WHERE id = ANY($1) ORDER BY id",
            &[&vec![1i32, 4, 9]],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![1, 4]);
    let row = c
        .query_one(
            "SELECT ARRAY[1::int8, 2], ARRAY[1.5::float8], ARRAY[true, false], ARRAY[1::int2]",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Vec<i64>>(0), vec![1, 2]);
    assert_eq!(row.get::<_, Vec<f64>>(1), vec![1.5]);
    assert_eq!(row.get::<_, Vec<bool>>(2), vec![true, false]);
    assert_eq!(row.get::<_, Vec<i16>>(3), vec![1]);

    // Array columns survive a restart (log replay).
    let mut server = server;
    server.restart();
    let c = server.connect().await;
    assert_eq!(
        text(&c, "SELECT nums FROM arr WHERE id = 4").await,
        Some("{7,NULL}".into())
    );
}

#[tokio::test]
async fn set_returning_functions() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    let cases: &[(&str, &[&str])] = &[
        (
            "SELECT * FROM generate_series(1,5)",
            &["1", "2", "3", "4", "5"],
        ),
        (
            "SELECT g FROM generate_series(1,10,3) g",
            &["1", "4", "7", "10"],
        ),
        (
            "SELECT x FROM generate_series(5,1,-2) AS t(x)",
            &["5", "3", "1"],
        ),
        (
            "SELECT * FROM generate_series(0.5, 2.0, 0.5)",
            &["0.5", "1.0", "1.5", "2.0"],
        ),
        (
            "SELECT * FROM generate_series('2024-01-30'::timestamp, '2024-04-01', '1 month')",
            &[
                "2024-01-30 00:00:00",
                "2024-02-29 00:00:00",
                "2024-03-29 00:00:00",
            ],
        ),
        ("SELECT * FROM unnest(ARRAY['a','b'])", &["a", "b"]),
        ("SELECT u FROM unnest('{3,4}'::int[]) u", &["3", "4"]),
        ("SELECT generate_series(1,3)", &["1", "2", "3"]),
        ("SELECT unnest(ARRAY[2,1]) AS v ORDER BY v", &["1", "2"]),
        ("SELECT * FROM generate_series(NULL::int, 3)", &[]),
    ];
    for (sql, want) in cases {
        let got = texts(&c, sql).await;
        let want: Vec<Option<String>> = want.iter().map(|s| Some(s.to_string())).collect();
        assert_eq!(got, want, "{sql}");
    }
    assert_eq!(
        text(&c, "SELECT sum(g) FROM generate_series(1, 100000) g").await,
        Some("5000050000".into())
    );
    let row = c
        .query_one(
            "SELECT count(*) FROM generate_series(1::bigint, $1) g",
            &[&10i64],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 10);
    assert_sqlstate(
        c.simple_query("SELECT * FROM generate_series(1, 3, 0)")
            .await,
        &SqlState::INVALID_PARAMETER_VALUE,
    );
    assert_sqlstate(
        c.simple_query("SELECT * FROM nosuchfunc(1)").await,
        &SqlState::UNDEFINED_FUNCTION,
    );
}

#[tokio::test]
async fn format_regexp_match_and_to_char() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    let cases: &[(&str, Option<&str>)] = &[
        ("SELECT format('%s-%s', 'a', 1)", Some("a-1")),
        (
            "SELECT format('%I.%L', 'My Tab', 'it''s')",
            Some(r#""My Tab".'it''s'"#),
        ),
        ("SELECT format('%L', NULL)", Some("NULL")),
        ("SELECT format('%2$s %1$s', 'a', 'b')", Some("b a")),
        ("SELECT format('100%%')", Some("100%")),
        ("SELECT format('%s', true)", Some("t")),
        ("SELECT regexp_match('abc', '(b)(c)')", Some("{b,c}")),
        ("SELECT regexp_match('abc', 'b')", Some("{b}")),
        ("SELECT regexp_match('abc', 'z')", None),
        ("SELECT regexp_match('ABC', 'b', 'i')", Some("{B}")),
        ("SELECT regexp_match('abc', '(x)?b')", Some("{NULL}")),
        (
            "SELECT (regexp_match('key=val', '(\\w+)=(\\w+)'))[2]",
            Some("val"),
        ),
        (
            "SELECT to_char(timestamp '2024-03-05 14:07:09.123456', 'YYYY-MM-DD HH24:MI:SS.MS')",
            Some("2024-03-05 14:07:09.123"),
        ),
        (
            "SELECT to_char(timestamp '2024-03-05 14:07:09', 'Month|Day|')",
            Some("March    |Tuesday  |"),
        ),
        (
            "SELECT to_char(timestamp '2024-03-05 14:07:09', 'FMMonth FMDD, FMHH12:MI pm')",
            Some("March 5, 2:07 pm"),
        ),
        (
            "SELECT to_char(date '2024-12-25', 'Dy, DD Mon YYYY \"Q\"Q')",
            Some("Wed, 25 Dec 2024 Q4"),
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(text(&c, sql).await.as_deref(), *want, "{sql}");
    }
    assert_sqlstate(
        c.simple_query("SELECT format('%x', 1)").await,
        &SqlState::INVALID_PARAMETER_VALUE,
    );
    assert_sqlstate(
        c.simple_query("SELECT format('%s %s', 1)").await,
        &SqlState::INVALID_PARAMETER_VALUE,
    );
}
