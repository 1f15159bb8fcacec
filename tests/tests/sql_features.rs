//! WITH / WITH RECURSIVE, window functions and DISTINCT ON, checked against the rows
//! PostgreSQL 15 returns for the same queries (recorded with `psql -A -t`:
//! columns joined by `|`, NULL as an empty field).

use joltdb_tests::TestServer;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

const SETUP: &str = r#"CREATE TABLE emp (id int PRIMARY KEY, name text, boss int, dept text, salary int);
INSERT INTO emp VALUES (1,'ann',NULL,'eng',100),(2,'bob',1,'eng',80),(3,'cy',1,'ops',80),(4,'dee',2,'eng',60),(5,'eve',4,'ops',NULL),(6,'fay',3,'ops',70),(7,'gus',2,'eng',80);"#;

/// (query, PostgreSQL 15's rows)
const CASES: &[(&str, &str)] = &[
    (
        r#"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n FROM r"#,
        r#"1
2
3
4
5"#,
    ),
    (
        r#"WITH RECURSIVE r(n) AS (VALUES (1) UNION SELECT n % 3 + 1 FROM r) SELECT n FROM r ORDER BY n"#,
        r#"1
2
3"#,
    ),
    (
        r#"WITH RECURSIVE chain AS (SELECT id, name, 0 AS depth FROM emp WHERE boss IS NULL UNION ALL SELECT e.id, e.name, c.depth + 1 FROM emp e JOIN chain c ON e.boss = c.id) SELECT id, name, depth FROM chain ORDER BY id"#,
        r#"1|ann|0
2|bob|1
3|cy|1
4|dee|2
5|eve|3
6|fay|2
7|gus|2"#,
    ),
    (
        r#"WITH RECURSIVE fib(a, b) AS (SELECT 0::bigint, 1::bigint UNION ALL SELECT b, a + b FROM fib WHERE b < 100) SELECT a FROM fib"#,
        r#"0
1
1
2
3
5
8
13
21
34
55
89"#,
    ),
    (
        r#"WITH a AS (SELECT id, name FROM emp WHERE id < 4), b AS (SELECT * FROM a WHERE id > 1) SELECT b.name, e.name FROM b JOIN emp e ON e.boss = b.id ORDER BY 1, 2"#,
        r#"bob|dee
bob|gus
cy|fay"#,
    ),
    (
        r#"WITH x(k) AS (SELECT id FROM emp) SELECT count(*), (WITH y AS (SELECT 2 AS v) SELECT v FROM y) FROM x"#,
        r#"7|2"#,
    ),
    (
        r#"WITH emp AS (SELECT 42 AS id) SELECT id FROM emp"#,
        r#"42"#,
    ),
    (
        r#"SELECT * FROM emp WHERE id IN (WITH q AS (SELECT 6) SELECT * FROM q)"#,
        r#"6|fay|3|ops|70"#,
    ),
    (
        r#"SELECT id, dept, row_number() OVER (PARTITION BY dept ORDER BY salary, id), rank() OVER (PARTITION BY dept ORDER BY salary), dense_rank() OVER (PARTITION BY dept ORDER BY salary) FROM emp ORDER BY id"#,
        r#"1|eng|4|4|3
2|eng|2|2|2
3|ops|2|2|2
4|eng|1|1|1
5|ops|3|3|3
6|ops|1|1|1
7|eng|3|2|2"#,
    ),
    (
        r#"SELECT id, sum(salary) OVER (PARTITION BY dept ORDER BY salary), count(*) OVER (PARTITION BY dept), avg(salary) OVER (PARTITION BY dept) FROM emp ORDER BY id"#,
        r#"1|320|4|80.0000000000000000
2|220|4|80.0000000000000000
3|150|3|75.0000000000000000
4|60|4|80.0000000000000000
5|150|3|75.0000000000000000
6|70|3|75.0000000000000000
7|220|4|80.0000000000000000"#,
    ),
    (
        r#"SELECT id, lag(salary) OVER (ORDER BY id), lead(salary, 2, -1) OVER (ORDER BY id), first_value(name) OVER (PARTITION BY dept ORDER BY id), last_value(name) OVER (PARTITION BY dept ORDER BY id) FROM emp ORDER BY id"#,
        r#"1||80|ann|ann
2|100|60|ann|bob
3|80||cy|cy
4|80|70|ann|dee
5|60|80|cy|eve
6||-1|cy|fay
7|70|-1|ann|gus"#,
    ),
    (
        r#"SELECT id, ntile(3) OVER (ORDER BY id), sum(salary) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), min(salary) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), max(salary) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM emp ORDER BY id"#,
        r#"1|1|180|100|100
2|1|260|80|80
3|1|220|80|80
4|2|140|60|80
5|2|130|60|80
6|3|150|60|80
7|3|150|60|80"#,
    ),
    (
        r#"SELECT id, last_value(salary) OVER (PARTITION BY dept ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM emp ORDER BY id"#,
        r#"1|80
2|80
3|70
4|80
5|70
6|70
7|80"#,
    ),
    (
        r#"SELECT id, sum(salary) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING) FROM emp ORDER BY id"#,
        r#"1|
2|100
3|180
4|160
5|140
6|60
7|70"#,
    ),
    (
        r#"SELECT name, salary, sum(salary) OVER () FROM emp ORDER BY 1"#,
        r#"ann|100|470
bob|80|470
cy|80|470
dee|60|470
eve||470
fay|70|470
gus|80|470"#,
    ),
    (
        r#"SELECT id, row_number() OVER (ORDER BY salary DESC NULLS LAST, id) AS rn FROM emp ORDER BY rn"#,
        r#"1|1
2|2
3|3
7|4
6|5
4|6
5|7"#,
    ),
    (
        r#"SELECT DISTINCT ON (dept) dept, name, salary FROM emp ORDER BY dept, salary DESC NULLS LAST, id"#,
        r#"eng|ann|100
ops|cy|80"#,
    ),
    (
        r#"SELECT DISTINCT ON (salary) id, salary FROM emp ORDER BY salary, id DESC"#,
        r#"4|60
6|70
7|80
1|100
5|"#,
    ),
    (
        r#"SELECT DISTINCT ON (boss IS NULL) name FROM emp ORDER BY boss IS NULL, id"#,
        r#"bob
ann"#,
    ),
];

async fn psql_style(c: &Client, sql: &str) -> String {
    let mut lines = Vec::new();
    for m in c
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    {
        if let SimpleQueryMessage::Row(r) = m {
            let fields: Vec<&str> = (0..r.len()).map(|i| r.get(i).unwrap_or("")).collect();
            lines.push(fields.join("|"));
        }
    }
    lines.join("\n")
}

#[tokio::test]
async fn queries_match_postgres() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(SETUP).await.unwrap();
    for (sql, expected) in CASES {
        assert_eq!(psql_style(&c, sql).await, *expected, "{sql}");
    }
}

#[tokio::test]
async fn errors_match_postgres() {
    let server = TestServer::start_default();
    let c = server.connect().await;
    c.batch_execute(SETUP).await.unwrap();
    for (sql, state) in [
        (
            "SELECT id FROM emp WHERE row_number() OVER () > 1",
            SqlState::WINDOWING_ERROR,
        ),
        (
            "WITH a(x, y) AS (SELECT 1) SELECT * FROM a",
            SqlState::INVALID_COLUMN_REFERENCE,
        ),
        (
            "SELECT lower(name) OVER () FROM emp",
            SqlState::WRONG_OBJECT_TYPE,
        ),
    ] {
        let err = c.simple_query(sql).await.unwrap_err();
        assert_eq!(err.code(), Some(&state), "{sql}: {err:?}");
    }
    // A recursive query that never ends is stopped by statement_timeout.
    c.batch_execute("SET statement_timeout = 200")
        .await
        .unwrap();
    let err = c
        .simple_query("WITH RECURSIVE inf(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM inf) SELECT count(*) FROM inf")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED));
}
