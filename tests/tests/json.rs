//! json and jsonb end to end: binary-format round trips through
//! tokio-postgres (serde_json values as parameters and results), text and
//! binary results agreeing, values surviving kill -9 and restart, COPY, and
//! the SQLSTATEs of bad input.

use futures::SinkExt;
use joltdb_tests::{assert_sqlstate, TestServer};
use serde_json::{json, Value as Json};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Json as PgJson;

#[tokio::test]
async fn binary_round_trips_through_tokio_postgres() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE docs (id int PRIMARY KEY, doc jsonb, raw json)")
        .await
        .unwrap();

    let doc =
        json!({"name": "ann", "tags": ["a", "b"], "n": 1.5, "nested": {"ok": true, "none": null}});
    let raw = json!([1, "two", {"three": 3}]);
    // Parameters go out in binary (jsonb version 1 + text; json text).
    c.execute("INSERT INTO docs VALUES ($1, $2, $3)", &[&1i32, &doc, &raw])
        .await
        .unwrap();

    // Results come back in binary through the extended protocol.
    let row = c
        .query_one(
            "SELECT doc, raw, doc->'tags', doc->>'name' FROM docs WHERE id = 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Json>(0), doc);
    assert_eq!(row.get::<_, Json>(1), raw);
    assert_eq!(row.get::<_, Json>(2), json!(["a", "b"]));
    assert_eq!(row.get::<_, String>(3), "ann");

    // The column types are jsonb (3802) and json (114).
    let stmt = c.prepare("SELECT doc, raw FROM docs").await.unwrap();
    assert_eq!(stmt.columns()[0].type_().oid(), 3802);
    assert_eq!(stmt.columns()[1].type_().oid(), 114);

    // A jsonb parameter in a containment predicate.
    let found = c
        .query(
            "SELECT id FROM docs WHERE doc @> $1",
            &[&PgJson(json!({"nested": {"ok": true}}))],
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let missing = c
        .query(
            "SELECT id FROM docs WHERE doc @> $1",
            &[&json!({"name": "bob"})],
        )
        .await
        .unwrap();
    assert!(missing.is_empty());

    // Text results (simple protocol) show PostgreSQL's normalized form.
    let rows = c
        .simple_query("SELECT '{\"b\": 1, \"a\": [1e2, 1.50]}'::jsonb")
        .await
        .unwrap();
    let text = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    });
    assert_eq!(text.as_deref(), Some(r#"{"a": [100, 1.50], "b": 1}"#));
}

#[tokio::test]
async fn jsonb_survives_kill9_and_restart() {
    let mut server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(
        "CREATE TABLE events (id int PRIMARY KEY, payload jsonb NOT NULL, note json);
         INSERT INTO events VALUES
           (1, '{\"kind\": \"click\", \"at\": 1.50, \"meta\": {\"x\": 1}}', '{\"keep\" :  \"spacing\"}'),
           (2, '[1, 2, 3]', null);
         UPDATE events SET payload = jsonb_set(payload, '{meta,x}', '2') WHERE id = 1;",
    )
    .await
    .unwrap();
    drop(c);
    server.kill9();
    server.restart();
    let c = server.connect().await;
    let rows = c
        .simple_query("SELECT payload::text, note::text FROM events ORDER BY id")
        .await
        .unwrap();
    let got: Vec<(String, Option<String>)> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((r.get(0).unwrap().to_string(), r.get(1).map(str::to_string)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                r#"{"at": 1.50, "kind": "click", "meta": {"x": 2}}"#.to_string(),
                Some(r#"{"keep" :  "spacing"}"#.to_string())
            ),
            ("[1, 2, 3]".to_string(), None),
        ]
    );
    let n: i64 = c
        .query_one("SELECT count(*) FROM events WHERE payload ? 'kind'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn copy_text_and_csv() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute("CREATE TABLE cj (id int PRIMARY KEY, doc jsonb)")
        .await
        .unwrap();
    // COPY FROM in csv: the json text is quoted because it holds commas
    // and quotes.
    let sink = c
        .copy_in("COPY cj FROM STDIN WITH (FORMAT csv)")
        .await
        .unwrap();
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from_static(
        b"1,\"{\"\"b\"\": [1, 2], \"\"a\"\": \"\"x,y\"\"}\"\n",
    ))
    .await
    .unwrap();
    assert_eq!(sink.finish().await.unwrap(), 1);
    c.batch_execute("INSERT INTO cj VALUES (2, '\"tab\\there\"')")
        .await
        .unwrap();
    let csv = server.psql(&["-c", "COPY cj TO STDOUT WITH (FORMAT csv)"]);
    assert_eq!(
        String::from_utf8_lossy(&csv.stdout),
        "1,\"{\"\"a\"\": \"\"x,y\"\", \"\"b\"\": [1, 2]}\"\n2,\"\"\"tab\\there\"\"\"\n"
    );
    let text = server.psql(&["-c", "COPY cj TO STDOUT"]);
    assert_eq!(
        String::from_utf8_lossy(&text.stdout),
        "1\t{\"a\": \"x,y\", \"b\": [1, 2]}\n2\t\"tab\\\\there\"\n"
    );
}

#[tokio::test]
async fn bad_input_gets_postgres_sqlstates() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    assert_sqlstate(
        c.simple_query("SELECT '{\"a\": }'::jsonb").await,
        &SqlState::INVALID_TEXT_REPRESENTATION,
    );
    assert_sqlstate(
        c.simple_query("SELECT '\"a\"'::jsonb::int").await,
        &SqlState::INVALID_PARAMETER_VALUE,
    );
    assert_sqlstate(
        c.simple_query("SELECT jsonb_array_length('1')").await,
        &SqlState::INVALID_PARAMETER_VALUE,
    );
    assert_sqlstate(
        c.simple_query("SELECT '{}'::json = '{}'::json").await,
        &SqlState::UNDEFINED_FUNCTION,
    );
    assert_sqlstate(
        c.simple_query("SELECT '{}'::jsonb = 'x'::text").await,
        &SqlState::UNDEFINED_FUNCTION,
    );
    // A bad binary jsonb parameter (unknown version byte) is rejected.
    let stmt = c.prepare("SELECT $1::jsonb").await.unwrap();
    let err = c
        .query(&stmt, &[&RawJsonb(vec![2, b'1'])])
        .await
        .unwrap_err();
    assert!(err.code().is_some(), "{err:?}");
    // The connection is still usable.
    let row = c.query_one("SELECT '[1]'::jsonb -> 0", &[]).await.unwrap();
    assert_eq!(row.get::<_, Json>(0), json!(1));
}

/// Raw bytes sent as a binary jsonb parameter.
#[derive(Debug)]
struct RawJsonb(Vec<u8>);

impl tokio_postgres::types::ToSql for RawJsonb {
    fn to_sql(
        &self,
        _ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(tokio_postgres::types::IsNull::No)
    }

    fn accepts(_ty: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}
