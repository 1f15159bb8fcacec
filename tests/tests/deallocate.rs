//! `DEALLOCATE` drops the connection's protocol-level prepared statements
//! (drivers such as psycopg send `DEALLOCATE ALL` after schema changes).

use joltdb_tests::raw::{RawConn, Reaction};
use joltdb_tests::{TestServer, PASSWORD, USER};

/// One frontend message: type byte, length, body.
fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = i32::try_from(body.len() + 4).expect("short message");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// Parse `sql` as the named statement `name`, then Sync.
async fn parse(conn: &mut RawConn, name: &str, sql: &str) -> Reaction {
    let mut body = Vec::new();
    cstr(&mut body, name);
    cstr(&mut body, sql);
    body.extend_from_slice(&0i16.to_be_bytes());
    let mut bytes = message(b'P', &body);
    bytes.extend(message(b'S', &[]));
    conn.send(&bytes).await;
    conn.react().await
}

/// Bind the named statement (no parameters) to the unnamed portal,
/// Execute it and Sync.
async fn run_named(conn: &mut RawConn, name: &str) -> Reaction {
    let mut bind = Vec::new();
    cstr(&mut bind, "");
    cstr(&mut bind, name);
    bind.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut execute = Vec::new();
    cstr(&mut execute, "");
    execute.extend_from_slice(&0i32.to_be_bytes());
    let mut bytes = message(b'B', &bind);
    bytes.extend(message(b'E', &execute));
    bytes.extend(message(b'S', &[]));
    conn.send(&bytes).await;
    conn.react().await
}

#[tokio::test]
async fn deallocate_drops_prepared_statements() {
    let server = TestServer::start_default();
    let mut conn = RawConn::login(server.addr(), USER, PASSWORD).await;
    for (name, sql) in [("first", "select 1"), ("second", "select 2")] {
        let r = parse(&mut conn, name, sql).await;
        assert!(r.sqlstates().is_empty(), "parse {name}: {r:?}");
    }
    assert_eq!(run_named(&mut conn, "first").await.tags(), ["SELECT 1"]);

    let r = conn.simple("deallocate first").await;
    assert_eq!(r.tags(), ["DEALLOCATE"], "{r:?}");
    assert_eq!(run_named(&mut conn, "first").await.sqlstates(), ["26000"]);
    assert_eq!(run_named(&mut conn, "second").await.tags(), ["SELECT 1"]);
    assert_eq!(conn.simple("deallocate first").await.sqlstates(), ["26000"]);

    let r = conn.simple("deallocate all").await;
    assert_eq!(r.tags(), ["DEALLOCATE ALL"], "{r:?}");
    assert_eq!(run_named(&mut conn, "second").await.sqlstates(), ["26000"]);
    // The name is free again.
    let r = parse(&mut conn, "second", "select 3").await;
    assert!(r.sqlstates().is_empty(), "{r:?}");
    assert_eq!(run_named(&mut conn, "second").await.tags(), ["SELECT 1"]);

    // DEALLOCATE through the extended protocol (as pgJDBC sends every
    // statement).
    let r = parse(&mut conn, "dealloc", "deallocate second").await;
    assert!(r.sqlstates().is_empty(), "{r:?}");
    assert_eq!(run_named(&mut conn, "dealloc").await.tags(), ["DEALLOCATE"]);
    assert_eq!(run_named(&mut conn, "second").await.sqlstates(), ["26000"]);

    // In a failed transaction DEALLOCATE is refused like everything else.
    assert_eq!(conn.simple("begin").await.sqlstates(), Vec::<String>::new());
    assert_eq!(conn.simple("select 1/0").await.sqlstates(), ["22012"]);
    assert_eq!(conn.simple("deallocate all").await.sqlstates(), ["25P02"]);
    assert_eq!(conn.simple("rollback").await.tags(), ["ROLLBACK"]);
}
