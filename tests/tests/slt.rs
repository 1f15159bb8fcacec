//! The sqllogictest corpus (`tests/slt/*.slt`) against joltdb, and the same
//! corpus against a scratch PostgreSQL 15, so every expected result in it is
//! proven to be PostgreSQL's.
//!
//! Files run in name order over one connection each, one after the other,
//! against one server. Values are compared as PostgreSQL's text output: NULL
//! is `NULL`, the empty string `(empty)`. Column types are checked too, from
//! the statement's Describe: `I` integers, `R` real, double and numeric,
//! `T` text types, `?` anything else.
//!
//! `JOLTDB_SLT_REWRITE=1 cargo test -p joltdb-tests --test slt postgres`
//! rewrites the expected results of every file from PostgreSQL 15 (review
//! the diff before committing it). `JOLTDB_SLT_FILTER=name` runs only the
//! files whose name contains `name`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use joltdb_tests::postgres::Postgres;
use joltdb_tests::TestServer;
use sqllogictest::{
    default_normalizer, default_validator, strict_column_validator, AsyncDB, DBOutput,
    DefaultColumnType, Runner,
};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Config, SimpleQueryMessage};

/// One connection, as the runner's database.
struct Db {
    client: Client,
    engine: &'static str,
}

/// An error as the runner sees it: the server's message and SQLSTATE.
#[derive(Debug)]
struct DbError {
    code: Option<String>,
    message: String,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} (SQLSTATE {code})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DbError {}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => DbError {
                code: Some(db.code().code().to_owned()),
                message: db.message().to_owned(),
            },
            None => DbError {
                code: None,
                message: e.to_string(),
            },
        }
    }
}

fn column_type(ty: &Type) -> DefaultColumnType {
    match *ty {
        Type::INT2 | Type::INT4 | Type::INT8 => DefaultColumnType::Integer,
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => DefaultColumnType::FloatingPoint,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

impl Db {
    async fn connect(config: Config, engine: &'static str) -> Result<Db, DbError> {
        let client = joltdb_tests::connect_with(config).await?;
        Ok(Db { client, engine })
    }

    /// The result column types, from Describe; `?` for each column when
    /// the statement cannot be described on its own.
    async fn column_types(&self, sql: &str, columns: usize) -> Vec<DefaultColumnType> {
        match self.client.prepare(sql).await {
            Ok(stmt) if stmt.columns().len() == columns => stmt
                .columns()
                .iter()
                .map(|c| column_type(c.type_()))
                .collect(),
            _ => vec![DefaultColumnType::Any; columns],
        }
    }
}

#[async_trait]
impl AsyncDB for Db {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let messages = self.client.simple_query(sql).await?;
        let mut columns = None;
        let mut rows = Vec::new();
        let mut count = 0;
        for message in messages {
            match message {
                SimpleQueryMessage::RowDescription(cols) => columns = Some(cols.len()),
                SimpleQueryMessage::Row(row) => rows.push(
                    (0..row.len())
                        .map(|i| match row.get(i) {
                            None => "NULL".to_owned(),
                            Some("") => "(empty)".to_owned(),
                            Some(v) => v.to_owned(),
                        })
                        .collect(),
                ),
                SimpleQueryMessage::CommandComplete(n) => count = n,
                _ => {}
            }
        }
        match columns {
            Some(n) => Ok(DBOutput::Rows {
                types: self.column_types(sql, n).await,
                rows,
            }),
            None => Ok(DBOutput::StatementComplete(count)),
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        self.engine
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }

    fn error_sql_state(err: &DbError) -> Option<String> {
        err.code.clone()
    }
}

/// The corpus files, in name order (filtered by `JOLTDB_SLT_FILTER`).
fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("slt");
    let filter = std::env::var("JOLTDB_SLT_FILTER").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(&filter))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

fn runner(
    config: Config,
    engine: &'static str,
) -> Runner<Db, impl sqllogictest::MakeConnection<Conn = Db>> {
    let mut runner = Runner::new(move || Db::connect(config.clone(), engine));
    runner.with_column_validator(strict_column_validator);
    runner
}

/// Runs every file; returns the failures (one message per failing file).
async fn run_corpus(config: Config, engine: &'static str) -> Vec<String> {
    let mut failures = Vec::new();
    for file in corpus() {
        let mut runner = runner(config.clone(), engine);
        if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}: {}", file.display(), e.display(false)));
        }
        runner.shutdown_async().await;
    }
    failures
}

#[tokio::test]
async fn joltdb() {
    let server = TestServer::start_default();
    let failures = run_corpus(server.config(), "joltdb").await;
    assert!(
        failures.is_empty(),
        "{} file(s) failed against joltdb:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[tokio::test]
async fn postgres() {
    let mut pg = Postgres::start();
    // Wait until it accepts connections.
    drop(pg.connect().await);
    if std::env::var_os("JOLTDB_SLT_REWRITE").is_some() {
        for file in corpus() {
            let mut runner = runner(pg.config(), "postgresql");
            runner
                .update_test_file(
                    &file,
                    " ",
                    default_validator,
                    default_normalizer,
                    strict_column_validator,
                )
                .await
                .unwrap_or_else(|e| panic!("rewriting {}: {e}", file.display()));
            runner.shutdown_async().await;
        }
        return;
    }
    let failures = run_corpus(pg.config(), "postgresql").await;
    assert!(
        failures.is_empty(),
        "{} file(s) failed against PostgreSQL 15:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
