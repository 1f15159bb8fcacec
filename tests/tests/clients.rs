//! Real client drivers against joltdb: each program under `tests/clients/`
//! (psycopg2, psycopg 3, SQLAlchemy, asyncpg, node-postgres, pgJDBC) runs as
//! a subprocess against a fresh server and must exit 0; sqlx runs in
//! process. `tests/clients/setup.sh` installs the drivers.
//!
//! A missing runtime or driver fails the test. `JOLTDB_SKIP_CLIENTS` skips
//! clients explicitly: `all`, or a comma-separated list of `python`, `node`,
//! `java`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use joltdb_tests::{wait_timeout, TestServer, USER};

/// How long one client program may run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// True when `JOLTDB_SKIP_CLIENTS` names `runtime` (or `all`).
fn skipped(runtime: &str) -> bool {
    let Ok(list) = std::env::var("JOLTDB_SKIP_CLIENTS") else {
        return false;
    };
    let skip = list
        .split(',')
        .map(str::trim)
        .any(|item| item == "all" || item == runtime);
    if skip {
        eprintln!("skipping the {runtime} client test: JOLTDB_SKIP_CLIENTS={list}");
    }
    skip
}

/// Fails with how to install the clients when `path` is missing.
#[track_caller]
fn require(path: &Path, what: &str) {
    assert!(
        path.exists(),
        "{what} not found at {}: run tests/clients/setup.sh (or set \
         JOLTDB_SKIP_CLIENTS to skip client tests explicitly)",
        path.display()
    );
}

/// `program` on the PATH.
#[track_caller]
fn on_path(program: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(program))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "`{program}` is not on the PATH: run tests/clients/setup.sh (or set \
                 JOLTDB_SKIP_CLIENTS to skip client tests explicitly)"
            )
        })
}

/// The libpq-style environment the client programs read.
fn client_command(server: &TestServer, program: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("PGHOST", "127.0.0.1")
        .env("PGPORT", server.port().to_string())
        .env("PGUSER", USER)
        .env("PGPASSWORD", server.password())
        .env("PGDATABASE", "joltdb")
        .env("PGSSLMODE", "disable")
        .env("PGCONNECT_TIMEOUT", "10")
        .env("TZ", "UTC")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PGSERVICE")
        .env_remove("PGOPTIONS")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` (output to a file, so a chatty program cannot block on a
/// full pipe) and panics with its output and the server's log unless it
/// exits 0 within [`CLIENT_TIMEOUT`].
fn run_client(server: &TestServer, what: &str, mut cmd: Command) {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out_path = out_dir.path().join("output");
    let out = std::fs::File::create(&out_path).expect("output file");
    cmd.stdout(out.try_clone().expect("dup")).stderr(out);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what} ({cmd:?}): {e}"));
    let status = wait_timeout(&mut child, CLIENT_TIMEOUT);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!(
            "{what} failed ({s})\n---- output ----\n{output}---- server log ----\n{}",
            server.log()
        ),
        None => {
            panic!("{what} did not finish within {CLIENT_TIMEOUT:?}\n---- output ----\n{output}")
        }
    }
}

/// Runs a Python client program from the clients' virtualenv with the
/// given check groups.
fn run_python(script: &str, groups: &[&str]) {
    if skipped("python") {
        return;
    }
    let python = clients_dir().join("python/.venv/bin/python");
    require(&python, "the Python client virtualenv");
    let server = TestServer::start_default();
    let mut cmd = client_command(&server, &python);
    cmd.arg(clients_dir().join("python").join(script))
        .args(groups)
        .current_dir(clients_dir().join("python"));
    run_client(&server, script, cmd);
}

#[test]
fn psycopg2() {
    run_python("psycopg2_test.py", &[]);
}

#[test]
fn psycopg3() {
    run_python("psycopg3_test.py", &[]);
}

#[test]
fn sqlalchemy_orm() {
    run_python("sqlalchemy_test.py", &["default"]);
}

/// Reflection (`inspect(engine).get_columns`), `create_all` with its
/// existence check and the dialect's hstore lookup on connect all query
/// pg_catalog; its column and constraint queries call `unnest()` and
/// `generate_subscripts()` in a select list next to other items.
#[test]
fn sqlalchemy_reflection() {
    run_python("sqlalchemy_test.py", &["catalog"]);
}

#[test]
fn asyncpg() {
    run_python("asyncpg_test.py", &["default"]);
}

/// A custom type codec makes asyncpg introspect types with its recursive
/// query over pg_catalog.pg_type, which reads `typtype` as the one-byte
/// `"char"` type.
#[test]
fn asyncpg_type_introspection() {
    run_python("asyncpg_test.py", &["catalog"]);
}

#[test]
fn node_postgres() {
    if skipped("node") {
        return;
    }
    let node = on_path("node");
    let dir = clients_dir().join("node");
    require(&dir.join("node_modules/pg"), "node-postgres (npm ci)");
    let server = TestServer::start_default();
    let mut cmd = client_command(&server, &node);
    cmd.arg("pg_test.js").current_dir(&dir);
    run_client(&server, "node-postgres", cmd);
}

/// Where Debian's libpostgresql-jdbc-java puts the driver.
const PGJDBC_JAR: &str = "/usr/share/java/postgresql.jar";

#[test]
fn pgjdbc() {
    if skipped("java") {
        return;
    }
    let javac = on_path("javac");
    let java = on_path("java");
    let jar = Path::new(PGJDBC_JAR);
    require(jar, "pgJDBC (libpostgresql-jdbc-java)");
    let classes = tempfile::tempdir().expect("temp dir");
    let compiled = Command::new(javac)
        .arg("-d")
        .arg(classes.path())
        .arg("-cp")
        .arg(jar)
        .arg(clients_dir().join("java/JdbcTest.java"))
        .stdin(Stdio::null())
        .output()
        .expect("running javac");
    assert!(
        compiled.status.success(),
        "javac failed:\n{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let server = TestServer::start_default();
    let mut cmd = client_command(&server, &java);
    let classpath = format!("{}:{}", classes.path().display(), jar.display());
    cmd.arg("-cp").arg(classpath).arg("JdbcTest");
    run_client(&server, "pgJDBC", cmd);
}

/// sqlx (binary protocol, named prepared statements cached per
/// connection) through a pool.
#[tokio::test]
async fn sqlx_postgres() {
    use rust_decimal::Decimal;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use sqlx::Row;

    let server = TestServer::start_default();
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(server.port())
        .username(USER)
        .password(server.password())
        .database("joltdb");
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .expect("connecting with sqlx");

    let (sum, text, null): (i32, String, Option<i64>) =
        sqlx::query_as("select $1::int4 + $2, $3::text, $4::int8")
            .bind(40)
            .bind(2)
            .bind("jolt")
            .bind(None::<i64>)
            .fetch_one(&pool)
            .await
            .expect("parameters");
    assert_eq!((sum, text.as_str(), null), (42, "jolt", None));

    sqlx::query(
        "create table sqlx_items (id bigint primary key, name text not null, price numeric(10,2), \
         at timestamptz, day date, tag uuid, raw bytea, ok boolean)",
    )
    .execute(&pool)
    .await
    .expect("create table");
    let at = chrono::DateTime::parse_from_rfc3339("2024-02-29T13:14:15.123456Z")
        .expect("timestamp")
        .with_timezone(&chrono::Utc);
    let day = chrono::NaiveDate::from_ymd_opt(2024, 2, 29).expect("date");
    let tag = uuid::Uuid::parse_str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").expect("uuid");
    for id in 1..=20i64 {
        let inserted =
            sqlx::query("insert into sqlx_items values ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(id)
                .bind(format!("item {id}"))
                .bind(Decimal::new(id * 125, 2))
                .bind(at)
                .bind(day)
                .bind(tag)
                .bind(vec![0u8, id as u8, 255])
                .bind(id % 2 == 0)
                .execute(&pool)
                .await
                .expect("insert");
        assert_eq!(inserted.rows_affected(), 1);
    }
    sqlx::query("insert into sqlx_items (id, name) values (21, 'nulls')")
        .execute(&pool)
        .await
        .expect("insert nulls");

    let row = sqlx::query("select * from sqlx_items where id = $1")
        .bind(4i64)
        .fetch_one(&pool)
        .await
        .expect("select one");
    assert_eq!(row.get::<String, _>("name"), "item 4");
    assert_eq!(row.get::<Decimal, _>("price"), Decimal::new(500, 2));
    assert_eq!(row.get::<chrono::DateTime<chrono::Utc>, _>("at"), at);
    assert_eq!(row.get::<chrono::NaiveDate, _>("day"), day);
    assert_eq!(row.get::<uuid::Uuid, _>("tag"), tag);
    assert_eq!(row.get::<Vec<u8>, _>("raw"), vec![0, 4, 255]);
    assert!(row.get::<bool, _>("ok"));

    let nulls = sqlx::query("select price, at, raw, ok from sqlx_items where id = 21")
        .fetch_one(&pool)
        .await
        .expect("select nulls");
    assert_eq!(nulls.get::<Option<Decimal>, _>("price"), None);
    assert_eq!(nulls.get::<Option<bool>, _>("ok"), None);

    let (count, total): (i64, Decimal) =
        sqlx::query_as("select count(*), sum(price) from sqlx_items where ok")
            .fetch_one(&pool)
            .await
            .expect("aggregate");
    assert_eq!((count, total), (10, Decimal::new(13750, 2)));

    // A transaction that is rolled back leaves nothing behind.
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("delete from sqlx_items")
        .execute(&mut *tx)
        .await
        .expect("delete");
    tx.rollback().await.expect("rollback");
    let (left,): (i64,) = sqlx::query_as("select count(*) from sqlx_items")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(left, 21);

    let err = sqlx::query("insert into sqlx_items (id, name) values (1, 'dup')")
        .execute(&pool)
        .await
        .expect_err("duplicate key");
    let db_err = err.as_database_error().expect("a database error");
    assert_eq!(db_err.code().as_deref(), Some("23505"), "{db_err}");
    let err = sqlx::query("select * from sqlx_no_such_table")
        .fetch_all(&pool)
        .await
        .expect_err("missing table");
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42P01")
    );
    pool.close().await;
}
