//! The engine's public face: [`Engine`] (one per data directory) and
//! [`Session`] (one per client connection), through which the server parses,
//! prepares and runs statements.

use crate::error::Result;
use crate::types::io::IoContext;
use crate::types::{DataType, Row, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How to open a data directory.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    /// Partition count for a new data directory (an existing one keeps its
    /// own).
    pub partitions: usize,
}

/// An open database: one per data directory (guarded by a lock file).
#[derive(Clone)]
pub struct Engine {
    _private: (),
}

impl Engine {
    /// Opens (creating if needed) the data directory, takes its lock,
    /// recovers from the partition logs. Fails if another process holds the
    /// directory.
    pub fn open(config: EngineConfig) -> Result<Engine> {
        let _ = config;
        unimplemented!()
    }

    /// A new session for an authenticated role. `params` are the startup
    /// parameters the client sent (application_name, DateStyle, TimeZone,
    /// client_encoding, search_path, ...).
    pub fn new_session(&self, user: &str, database: &str, params: &[(String, String)]) -> Result<Session> {
        let _ = (user, database, params);
        unimplemented!()
    }

    /// Flushes and closes the logs; further commits fail.
    pub async fn shutdown(&self) {}
}

/// Transaction state as ReadyForQuery reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnStatus {
    Idle,
    InBlock,
    Failed,
}

/// A flag the server sets from a CancelRequest; the running statement
/// stops with 57014 at its next check.
#[derive(Clone, Default, Debug)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::SeqCst)
    }
}

/// A result column as RowDescription describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
    /// OID of the table the column comes from, or 0.
    pub table_oid: u32,
    /// Attribute number in that table, or 0.
    pub column_id: i16,
}

/// One parsed SQL statement (not yet bound to the catalog).
#[derive(Clone, Debug)]
pub struct Statement {
    _private: (),
}

/// A statement bound to the catalog with known parameter and result types.
#[derive(Debug)]
pub struct Prepared {
    /// Parameter types ($1, $2, ...), inferred where the client left them
    /// unspecified.
    pub param_types: Vec<DataType>,
    /// Result columns; empty for statements that return no rows.
    pub columns: Vec<Column>,
}

/// What running a statement produced.
pub enum Output {
    /// Rows to fetch with [`Session::fetch`]; the command tag follows when
    /// the cursor is exhausted (see [`Cursor::tag`]).
    Rows(Cursor),
    /// A statement without a result set.
    Command(CommandComplete),
}

/// Command completion: the tag (e.g. `INSERT 0 3`) and any session
/// parameters whose new values must be reported with ParameterStatus.
#[derive(Clone, Debug, Default)]
pub struct CommandComplete {
    pub tag: String,
    pub parameter_status: Vec<(String, String)>,
}

/// An open result set; rows are produced as they are fetched.
pub struct Cursor {
    pub columns: Arc<Vec<Column>>,
}

impl Cursor {
    /// The command tag once every row was fetched (`SELECT n`, or e.g.
    /// `INSERT 0 n` for INSERT ... RETURNING).
    pub fn tag(&self) -> String {
        unimplemented!()
    }
}

/// One client's session: settings, the current transaction, cursors.
pub struct Session {
    _private: (),
}

impl Session {
    /// Splits `sql` into statements and parses them. Empty input gives an
    /// empty list. Errors: 42601 with position.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        let _ = sql;
        unimplemented!()
    }

    /// Binds one statement: resolves names, types expressions, infers the
    /// types of parameters the client left unspecified (`DataType::Unknown`).
    pub fn prepare(&mut self, stmt: &Statement, param_types: &[DataType]) -> Result<Arc<Prepared>> {
        let _ = (stmt, param_types);
        unimplemented!()
    }

    /// Runs a prepared statement with parameter values (already decoded to
    /// the prepared parameter types). In a failed transaction block every
    /// statement but ROLLBACK/COMMIT fails with 25P02.
    pub async fn execute(&mut self, prepared: &Arc<Prepared>, params: Vec<Value>) -> Result<Output> {
        let _ = (prepared, params);
        unimplemented!()
    }

    /// Fetches up to `max_rows` rows (0 = all) into `out`. Returns true when
    /// the cursor is exhausted.
    pub async fn fetch(&mut self, cursor: &mut Cursor, max_rows: usize, out: &mut Vec<Row>) -> Result<bool> {
        let _ = (cursor, max_rows, out);
        unimplemented!()
    }

    pub fn txn_status(&self) -> TxnStatus {
        unimplemented!()
    }

    /// The token a CancelRequest for this session sets.
    pub fn cancel_token(&self) -> CancelToken {
        unimplemented!()
    }

    /// Settings that shape text output (TimeZone, ...).
    pub fn io_context(&self) -> &IoContext {
        unimplemented!()
    }

    /// The ParameterStatus values to send after authentication
    /// (server_version, client_encoding, DateStyle, TimeZone, ...).
    pub fn startup_parameters(&self) -> Vec<(String, String)> {
        unimplemented!()
    }
}
