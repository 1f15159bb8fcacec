//! The engine's public face: [`Engine`] (one per database) and
//! [`Session`] (one per client connection), through which the server parses,
//! prepares and runs statements.

use crate::engine::{EngineInner, SERVER_VERSION, SERVER_VERSION_NUM};
use crate::error::{Error, Result, SqlState};
use crate::sql::binder::Binder;
use crate::sql::exec::{self, StmtCtx};
use crate::sql::parser::{self, Parsed};
use crate::sql::plan::{BoundStatement, Command, Plan};
use crate::storage::TxnId;
use crate::txn::{commit_writes, rollback_writes, Isolation, SnapshotGuard, WriteEntry};
use crate::types::io::IoContext;
use crate::types::{DataType, Row, Value};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod copy;
pub use copy::{CopyIn, CopyOut};
mod authz;
mod databases;

/// How to open a data directory.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    /// Partition count for a new data directory (an existing one keeps its
    /// own).
    pub partitions: usize,
    /// Size of each preallocated partition log segment, in bytes.
    pub wal_segment_size: u64,
    /// When to checkpoint, and where to archive the log.
    pub checkpoint: crate::checkpoint::CheckpointSettings,
    /// Directory backup names resolve in (default `<data_dir>/backups`).
    pub backup_dir: Option<PathBuf>,
}

/// An open database: the data directory itself for the default database,
/// a directory of its own for each other one (see [`crate::databases`]);
/// each is guarded by a lock file.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

impl Engine {
    /// Opens (creating if needed) the data directory, takes its lock,
    /// recovers from the partition logs. Fails if another process holds the
    /// directory.
    pub fn open(config: EngineConfig) -> Result<Engine> {
        Self::open_with_roles(config, None)
    }

    /// [`Engine::open`], using `roles` instead of the directory's own role
    /// store when given.
    pub(crate) fn open_with_roles(
        config: EngineConfig,
        roles: Option<joltdb_auth::RoleStore>,
    ) -> Result<Engine> {
        let inner = EngineInner::open_with_roles(&config, roles)?;
        inner.start_vacuum();
        crate::checkpoint::start(&inner);
        Ok(Engine { inner })
    }

    pub(crate) fn inner(&self) -> &Arc<EngineInner> {
        &self.inner
    }

    /// Takes a checkpoint now (and archives the log, if configured).
    pub async fn checkpoint(&self) -> Result<crate::checkpoint::CheckpointInfo> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || crate::checkpoint::take(&inner))
            .await
            .map_err(|e| Error::internal(format!("checkpoint task failed: {e}")))?
    }

    /// What start-up recovery did.
    pub fn recovery_stats(&self) -> crate::checkpoint::RecoveryStats {
        self.inner.checkpointer.recovery_stats()
    }

    /// The directory the log is archived to, if any.
    pub fn archive_dir(&self) -> Option<&std::path::Path> {
        self.inner.checkpointer.settings.archive_dir.as_deref()
    }

    /// Backs up the whole database to `path` (any path: this is the
    /// operator's command line, not SQL).
    pub fn backup_database_to(
        &self,
        path: &std::path::Path,
        options: &crate::backup::BackupOptions,
    ) -> Result<crate::backup::BackupSummary> {
        crate::backup::take_backup(&self.inner, None, path, options)
    }

    /// Restores from the backup file at `path`.
    pub fn restore_from(
        &self,
        path: &std::path::Path,
        request: &crate::backup::RestoreRequest,
    ) -> Result<crate::backup::RestoreSummary> {
        crate::backup::restore_backup(&self.inner, path, request)
    }

    /// The roles of this data directory (also what authentication checks
    /// passwords against).
    pub fn roles(&self) -> &joltdb_auth::RoleStore {
        &self.inner.roles
    }

    /// Sets how much memory one statement's sorts, hash joins, aggregates
    /// and materialised results may hold (bytes; 0 = unlimited). A
    /// statement that needs more fails with 53200.
    pub fn set_query_memory_limit(&self, bytes: usize) {
        self.inner
            .query_memory_limit
            .store(bytes, Ordering::Relaxed);
    }

    /// The partition count of the open data directory.
    pub fn partitions(&self) -> usize {
        self.inner.partitions
    }

    /// A new session for an authenticated role. `params` are the startup
    /// parameters the client sent (application_name, DateStyle, TimeZone,
    /// client_encoding, search_path, ...).
    pub fn new_session(
        &self,
        user: &str,
        database: &str,
        params: &[(String, String)],
    ) -> Result<Session> {
        let mut s = Session {
            engine: self.inner.clone(),
            user: user.to_string(),
            database: database.to_string(),
            settings: default_settings(user),
            settings_arc: Arc::new(HashMap::new()),
            hot: HotSettings::of(&HashMap::new()),
            io: IoContext::default(),
            txn: None,
            cancel: CancelToken::default(),
            currvals: Arc::new(Mutex::new(HashMap::new())),
            batch: false,
            auth: authz::SessionAuth::new(user),
        };
        s.apply_role_settings();
        for (k, v) in params {
            let name = k.to_lowercase();
            if matches!(
                name.as_str(),
                "user" | "database" | "options" | "replication"
            ) {
                continue;
            }
            if let Some(canon) = canonical_setting(&name) {
                s.set_setting(canon, v)?;
            }
        }
        s.refresh_settings();
        Ok(s)
    }

    /// Takes a final checkpoint (so the next start replays no log), flushes
    /// the partition logs (so commits made with `synchronous_commit = off`
    /// are durable too) and closes them.
    /// Stops without a checkpoint: everything is durable in the log, which
    /// is left whole for the next start (and its log archiving).
    pub async fn close_without_checkpoint(&self) {
        let inner = self.inner.clone();
        let _ = tokio::task::spawn_blocking(move || {
            crate::checkpoint::stop(&inner);
            for log in &inner.logs {
                log.close();
            }
        })
        .await;
    }

    pub async fn shutdown(&self) {
        let inner = self.inner.clone();
        let _ = tokio::task::spawn_blocking(move || {
            crate::checkpoint::stop(&inner);
            if let Err(e) = crate::checkpoint::take(&inner) {
                tracing::error!("shutdown checkpoint failed: {e}");
            }
            for log in &inner.logs {
                log.close();
            }
        })
        .await;
    }
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
    fn clear(&self) {
        self.0.store(false, Ordering::SeqCst);
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
    parsed: Parsed,
}

/// The prepared statements a `DEALLOCATE` drops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deallocate {
    All,
    Named(String),
}

impl Statement {
    /// True for `COPY ... FROM STDIN`, which reads data from the client.
    pub fn is_copy_in(&self) -> bool {
        matches!(&self.parsed, Parsed::Copy(c) if c.from)
    }

    /// `Some` for `DEALLOCATE [PREPARE] {name | ALL}`. Prepared statements
    /// belong to the connection, so the wire layer carries it out.
    pub fn deallocate(&self) -> Option<Deallocate> {
        match &self.parsed {
            Parsed::Sql(stmt) => match stmt.as_ref() {
                sqlparser::ast::Statement::Deallocate { name, .. } => Some(
                    if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all") {
                        Deallocate::All
                    } else {
                        Deallocate::Named(if name.quote_style.is_none() {
                            name.value.to_lowercase()
                        } else {
                            name.value.clone()
                        })
                    },
                ),
                _ => None,
            },
            _ => None,
        }
    }
}

/// A statement bound to the catalog with known parameter and result types.
pub struct Prepared {
    /// Parameter types ($1, $2, ...), inferred where the client left them
    /// unspecified.
    pub param_types: Vec<DataType>,
    /// Result columns; empty for statements that return no rows.
    pub columns: Vec<Column>,
    statement: Statement,
    client_types: Vec<DataType>,
    bound: Mutex<(u64, Arc<BoundStatement>)>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("param_types", &self.param_types)
            .field("columns", &self.columns)
            .finish()
    }
}

/// What running a statement produced.
pub enum Output {
    /// Rows to fetch with [`Session::fetch`]; the command tag follows when
    /// the cursor is exhausted (see [`Cursor::tag`]).
    Rows(Cursor),
    /// A statement without a result set.
    Command(CommandComplete),
    /// `COPY ... FROM STDIN`: the client sends data next.
    CopyIn(CopyIn),
    /// `COPY ... TO STDOUT`: rows to send as CopyData.
    CopyOut(CopyOut),
}

/// Command completion: the tag (e.g. `INSERT 0 3`) and any session
/// parameters whose new values must be reported with ParameterStatus.
#[derive(Clone, Debug, Default)]
pub struct CommandComplete {
    pub tag: String,
    pub parameter_status: Vec<(String, String)>,
    /// Warnings and notices for the client (e.g. "there is no transaction
    /// in progress").
    pub notices: Vec<Notice>,
}

enum RowSource {
    /// The snapshot guard keeps the versions the cursor reads from being
    /// pruned while it is open.
    Plan {
        cursor: Box<exec::Cursor>,
        heavy: bool,
        _snapshot: Arc<SnapshotGuard>,
    },
    Buffered(std::vec::IntoIter<Row>),
}

/// A NOTICE or WARNING sent before a statement's completion.
#[derive(Clone, Debug)]
pub struct Notice {
    /// `NOTICE` or `WARNING`.
    pub severity: &'static str,
    pub state: SqlState,
    pub message: String,
}

impl Notice {
    fn info(state: SqlState, message: impl Into<String>) -> Notice {
        Notice {
            severity: "NOTICE",
            state,
            message: message.into(),
        }
    }

    fn warning(state: SqlState, message: impl Into<String>) -> Notice {
        Notice {
            severity: "WARNING",
            state,
            message: message.into(),
        }
    }
}

/// An open result set; rows are produced as they are fetched.
pub struct Cursor {
    pub columns: Arc<Vec<Column>>,
    source: RowSource,
    /// Tag prefix ("SELECT", "INSERT 0", "UPDATE", ...).
    tag_prefix: &'static str,
    /// For DML with RETURNING: the affected row count.
    fixed_count: Option<u64>,
    fetched: u64,
    done: bool,
}

impl Cursor {
    /// The command tag once every row was fetched (`SELECT n`, or e.g.
    /// `INSERT 0 n` for INSERT ... RETURNING).
    pub fn tag(&self) -> String {
        format!(
            "{} {}",
            self.tag_prefix,
            self.fixed_count.unwrap_or(self.fetched)
        )
    }
}

impl TxnState {
    /// Index of the newest savepoint called `name`.
    fn savepoint_position(&self, name: &str) -> Result<usize> {
        self.savepoints
            .iter()
            .rposition(|(n, _)| n == name)
            .ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_OBJECT_SAVEPOINT,
                    format!("savepoint \"{name}\" does not exist"),
                )
            })
    }
}

struct TxnState {
    id: TxnId,
    isolation: Isolation,
    /// Inside BEGIN ... COMMIT.
    explicit: bool,
    failed: bool,
    /// REPEATABLE READ / SERIALIZABLE: the snapshot of the first statement.
    snapshot: Option<Arc<SnapshotGuard>>,
    writes: Arc<Mutex<Vec<WriteEntry>>>,
    savepoints: Vec<(String, usize)>,
    start: DateTime<Utc>,
    /// Settings before the first SET LOCAL, restored when the
    /// transaction ends.
    saved_settings: Option<(HashMap<String, String>, IoContext)>,
}

/// The settings consulted on every statement, parsed once whenever the
/// settings change.
#[derive(Clone, Copy)]
struct HotSettings {
    default_isolation: Isolation,
    synchronous_commit: bool,
    statement_timeout_ms: u64,
    idle_in_transaction_timeout_ms: u64,
}

impl HotSettings {
    fn of(settings: &HashMap<String, String>) -> HotSettings {
        let ms = |name: &str| {
            settings
                .get(name)
                .and_then(|v| parse_duration_ms(v))
                .unwrap_or(0)
        };
        HotSettings {
            default_isolation: settings
                .get("default_transaction_isolation")
                .and_then(|v| Isolation::parse(v))
                .unwrap_or(Isolation::ReadCommitted),
            synchronous_commit: settings
                .get("synchronous_commit")
                .is_none_or(|v| v != "off"),
            statement_timeout_ms: ms("statement_timeout"),
            idle_in_transaction_timeout_ms: ms("idle_in_transaction_session_timeout"),
        }
    }
}

/// One client's session: settings, the current transaction, cursors.
pub struct Session {
    engine: Arc<EngineInner>,
    user: String,
    database: String,
    settings: HashMap<String, String>,
    settings_arc: Arc<HashMap<String, String>>,
    hot: HotSettings,
    io: IoContext,
    txn: Option<TxnState>,
    cancel: CancelToken,
    currvals: Arc<Mutex<HashMap<String, i64>>>,
    /// Inside a multi-statement query string: statements share one
    /// implicit transaction, committed at the end of the string.
    batch: bool,
    /// Session user, current role (SET ROLE) and what they may do.
    auth: authz::SessionAuth,
}

/// Settings reported to the client with ParameterStatus when they change.
const REPORTED: &[&str] = &[
    "application_name",
    "client_encoding",
    "DateStyle",
    "default_transaction_read_only",
    "in_hot_standby",
    "integer_datetimes",
    "IntervalStyle",
    "is_superuser",
    "server_encoding",
    "server_version",
    "session_authorization",
    "standard_conforming_strings",
    "TimeZone",
];

const SETTINGS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("client_encoding", "UTF8"),
    ("DateStyle", "ISO, MDY"),
    ("default_transaction_isolation", "read committed"),
    ("default_transaction_read_only", "off"),
    ("extra_float_digits", "1"),
    ("idle_in_transaction_session_timeout", "0"),
    ("in_hot_standby", "off"),
    ("integer_datetimes", "on"),
    ("IntervalStyle", "postgres"),
    ("lock_timeout", "0"),
    ("max_identifier_length", "63"),
    ("search_path", "\"$user\", public"),
    ("server_encoding", "UTF8"),
    ("server_version", SERVER_VERSION),
    ("server_version_num", SERVER_VERSION_NUM),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("synchronous_commit", "on"),
    ("TimeZone", "UTC"),
    ("transaction_isolation", "read committed"),
    ("bytea_output", "hex"),
    ("client_min_messages", "notice"),
    ("row_security", "on"),
    ("default_transaction_deferrable", "off"),
    ("transaction_read_only", "off"),
    ("transaction_deferrable", "off"),
    ("timezone_abbreviations", "Default"),
    ("datestyle", ""),
];

fn default_settings(user: &str) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = SETTINGS
        .iter()
        .filter(|(k, _)| *k != "datestyle")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    m.insert("is_superuser".into(), "on".into());
    m.insert("session_authorization".into(), user.to_string());
    m
}

/// The canonical (case-preserving) name of a known setting.
fn canonical_setting(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    SETTINGS
        .iter()
        .map(|(k, _)| *k)
        .chain(["is_superuser", "session_authorization"])
        .find(|k| k.to_lowercase() == lower && *k != "datestyle")
}

fn parse_timezone(v: &str) -> Option<i32> {
    let t = v.trim();
    match t.to_ascii_lowercase().as_str() {
        "utc" | "gmt" | "z" | "etc/utc" | "etc/gmt" | "zulu" | "universal" | "uct" => {
            return Some(0)
        }
        _ => {}
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        b'0'..=b'9' => (1, t),
        _ => return None,
    };
    // As in PostgreSQL: a plain number is hours east of UTC (ISO), while
    // `[+-]hh:mm` is a POSIX zone name, whose offset counts west.
    let sign = if rest.contains(':') { -sign } else { sign };
    let mut parts = rest.split(':');
    let h: i32 = parts.next()?.parse().ok()?;
    let m: i32 = parts.next().map(|m| m.parse().ok()).unwrap_or(Some(0))?;
    if h > 15 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

fn parse_duration_ms(v: &str) -> Option<u64> {
    let t = v.trim().to_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..split].parse().ok()?;
    let unit = t[split..].trim();
    Some(match unit {
        "" | "ms" => n,
        "s" => n * 1000,
        "min" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => return None,
    })
}

fn invalid_value(name: &str, value: &str) -> Error {
    Error::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{name}\": \"{value}\""),
    )
}

fn aborted() -> Error {
    Error::new(
        SqlState::IN_FAILED_SQL_TRANSACTION,
        "current transaction is aborted, commands ignored until end of transaction block",
    )
}

fn command(tag: impl Into<String>) -> Output {
    Output::Command(CommandComplete {
        tag: tag.into(),
        ..Default::default()
    })
}

/// Completion of DROP ... IF EXISTS, with a notice per missing object.
fn dropped(tag: &str, kind: &str, missing: Vec<String>) -> Output {
    Output::Command(CommandComplete {
        tag: tag.into(),
        parameter_status: vec![],
        notices: missing
            .into_iter()
            .map(|n| {
                Notice::info(
                    SqlState::SUCCESSFUL_COMPLETION,
                    format!("{kind} \"{n}\" does not exist, skipping"),
                )
            })
            .collect(),
    })
}

/// Adds PostgreSQL's `drop cascades to view v` notices.
fn with_cascade_notices(mut out: Output, cascaded: Vec<String>) -> Output {
    if let Output::Command(c) = &mut out {
        c.notices.extend(cascaded.into_iter().map(|v| {
            Notice::info(
                SqlState::SUCCESSFUL_COMPLETION,
                format!("drop cascades to view {v}"),
            )
        }));
    }
    out
}

fn command_with_notice(tag: &str, notice: Notice) -> Output {
    Output::Command(CommandComplete {
        tag: tag.into(),
        notices: vec![notice],
        ..Default::default()
    })
}

/// A client that goes away mid-transaction leaves nothing behind: its
/// uncommitted writes are undone and their row locks released.
impl Drop for Session {
    fn drop(&mut self) {
        self.abort_txn();
    }
}

impl Session {
    /// Splits `sql` into statements and parses them. Empty input gives an
    /// empty list. Errors: 42601 with position.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        parser::split(sql)
            .into_iter()
            .map(|(off, text)| {
                Ok(Statement {
                    parsed: parser::parse_one(sql, off, text)?,
                })
            })
            .collect()
    }

    fn bind(&self, stmt: &Statement, param_types: &[DataType]) -> Result<(u64, BoundStatement)> {
        let catalog = self.engine.catalog();
        let bound = Binder::new(&catalog, param_types, self.io.clone()).bind(&stmt.parsed)?;
        Ok((catalog.version, bound))
    }

    /// Binds one statement: resolves names, types expressions, infers the
    /// types of parameters the client left unspecified (`DataType::Unknown`).
    pub fn prepare(&mut self, stmt: &Statement, param_types: &[DataType]) -> Result<Arc<Prepared>> {
        if self.txn.as_ref().is_some_and(|t| t.failed) && !is_txn_end(&stmt.parsed) {
            return Err(aborted());
        }
        let (version, bound) = self.bind(stmt, param_types)?;
        Ok(Arc::new(Prepared {
            param_types: bound.param_types.clone(),
            columns: bound.columns.clone(),
            statement: stmt.clone(),
            client_types: param_types.to_vec(),
            bound: Mutex::new((version, Arc::new(bound))),
        }))
    }

    fn current_bound(&self, prepared: &Prepared) -> Result<Arc<BoundStatement>> {
        let version = self.engine.catalog().version;
        let mut b = prepared.bound.lock();
        if b.0 != version {
            let (v, bound) = self.bind(&prepared.statement, &prepared.client_types)?;
            if bound.columns != prepared.columns || bound.param_types != prepared.param_types {
                return Err(Error::unsupported(
                    "cached plan must not change result type",
                ));
            }
            *b = (v, Arc::new(bound));
        }
        Ok(b.1.clone())
    }

    /// Runs a prepared statement with parameter values (already decoded to
    /// the prepared parameter types). In a failed transaction block every
    /// statement but ROLLBACK/COMMIT fails with 25P02.
    pub async fn execute(
        &mut self,
        prepared: &Arc<Prepared>,
        params: Vec<Value>,
    ) -> Result<Output> {
        self.cancel.clear();
        if self.txn.as_ref().is_some_and(|t| t.failed) && !is_txn_end(&prepared.statement.parsed) {
            return Err(aborted());
        }
        let bound = match self
            .current_bound(prepared)
            .and_then(|b| self.check_access(&b).map(|_| b))
        {
            Ok(b) => b,
            Err(e) => {
                self.on_error();
                return Err(e);
            }
        };
        let result = self.run(&bound, params).await;
        if result.is_err() {
            self.on_error();
        }
        result
    }

    /// Starts a multi-statement query string: until [`Session::end_batch`]
    /// its statements run in one implicit transaction (as PostgreSQL runs a
    /// simple Query message holding several statements).
    pub fn begin_batch(&mut self) {
        self.batch = true;
    }

    /// Ends a multi-statement query string, committing its implicit
    /// transaction when `success` (rolled back otherwise).
    pub async fn end_batch(&mut self, success: bool) -> Result<()> {
        self.batch = false;
        if self.txn.as_ref().is_some_and(|t| !t.explicit) {
            if success {
                return self.commit_txn().await;
            }
            self.abort_txn();
        }
        Ok(())
    }

    /// After an error: an explicit transaction becomes failed; an implicit
    /// one is rolled back.
    ///
    /// As in PostgreSQL, the failed part of the transaction releases its
    /// row locks at once: everything after the newest savepoint is undone
    /// (all of it when there is none), so other sessions need not wait for
    /// the client's ROLLBACK.
    fn on_error(&mut self) {
        match &mut self.txn {
            Some(t) if t.explicit => {
                t.failed = true;
                let mark = t.savepoints.last().map(|(_, m)| *m).unwrap_or(0);
                rollback_writes(t.id, &mut t.writes.lock(), mark);
                if t.savepoints.is_empty() {
                    self.engine.txns.finish(t.id);
                }
            }
            Some(_) => self.abort_txn(),
            None => {}
        }
    }

    fn begin_txn(&mut self, explicit: bool, isolation: Option<Isolation>) {
        let iso = isolation.unwrap_or(self.hot.default_isolation);
        self.txn = Some(TxnState {
            id: self.engine.txns.begin(),
            isolation: iso,
            explicit,
            failed: false,
            snapshot: None,
            writes: Arc::new(Mutex::new(Vec::new())),
            savepoints: Vec::new(),
            start: Utc::now(),
            saved_settings: None,
        });
    }

    /// Undoes SET LOCAL at the end of a transaction.
    fn restore_local_settings(&mut self, saved: Option<(HashMap<String, String>, IoContext)>) {
        if let Some((settings, io)) = saved {
            self.settings = settings;
            self.io = io;
            self.refresh_settings();
        }
    }

    fn abort_txn(&mut self) {
        if let Some(mut t) = self.txn.take() {
            self.restore_local_settings(t.saved_settings.take());
            let mut w = t.writes.lock();
            rollback_writes(t.id, &mut w, 0);
            drop(w);
            self.engine.txns.finish(t.id);
        }
    }

    async fn commit_txn(&mut self) -> Result<()> {
        let Some(mut t) = self.txn.take() else {
            return Ok(());
        };
        let wait = self.hot.synchronous_commit;
        self.restore_local_settings(t.saved_settings.take());
        let writes = std::mem::take(&mut *t.writes.lock());
        let result = commit_writes(&self.engine.txns, &self.engine.logs, t.id, &writes, wait).await;
        if result.is_err() {
            let mut w = writes;
            rollback_writes(t.id, &mut w, 0);
        }
        self.engine.txns.finish(t.id);
        result.map(|_| ())
    }

    fn stmt_ctx(&self, params: Vec<Value>, snapshot: u64) -> Arc<StmtCtx> {
        let t = self.txn.as_ref().expect("transaction");
        let timeout = self.hot.statement_timeout_ms;
        Arc::new(StmtCtx {
            engine: self.engine.clone(),
            txn: t.id,
            snapshot,
            snapshot_isolation: t.isolation != Isolation::ReadCommitted,
            params,
            writes: t.writes.clone(),
            txn_start: t.start,
            stmt_start: Utc::now(),
            user: self.auth.current_user().to_string(),
            database: self.database.clone(),
            settings: self.settings_arc.clone(),
            currvals: self.currvals.clone(),
            cancel: self.cancel.clone(),
            deadline: (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout)),
            subquery_cache: Mutex::new(HashMap::new()),
            work_tables: Mutex::new(HashMap::new()),
            ticks: Default::default(),
            memory: crate::sql::memory::MemoryBudget::new(
                self.engine.query_memory_limit.load(Ordering::Relaxed),
            ),
        })
    }

    /// The snapshot for the next statement of the current transaction.
    fn statement_snapshot(&mut self) -> Arc<SnapshotGuard> {
        let txns = self.engine.txns.clone();
        let t = self.txn.as_mut().expect("transaction");
        if t.isolation == Isolation::ReadCommitted {
            return Arc::new(txns.snapshot());
        }
        t.snapshot
            .get_or_insert_with(|| Arc::new(txns.snapshot()))
            .clone()
    }

    async fn run(&mut self, bound: &Arc<BoundStatement>, params: Vec<Value>) -> Result<Output> {
        match &bound.command {
            Command::Begin { isolation, tag } => {
                match &mut self.txn {
                    Some(t) if t.explicit => {
                        return Ok(command_with_notice(
                            tag,
                            Notice::warning(
                                SqlState::ACTIVE_SQL_TRANSACTION,
                                "there is already a transaction in progress",
                            ),
                        ));
                    }
                    // BEGIN inside a multi-statement string turns its
                    // implicit transaction into a transaction block.
                    Some(t) => {
                        t.explicit = true;
                        if let Some(iso) = isolation {
                            t.isolation = *iso;
                        }
                    }
                    None => self.begin_txn(true, *isolation),
                }
                Ok(command(*tag))
            }
            Command::Commit => match &self.txn {
                Some(t) if t.explicit => {
                    if t.failed {
                        self.abort_txn();
                        return Ok(command("ROLLBACK"));
                    }
                    self.commit_txn().await?;
                    Ok(command("COMMIT"))
                }
                Some(_) => {
                    self.commit_txn().await?;
                    Ok(command_with_notice(
                        "COMMIT",
                        Notice::warning(
                            SqlState::NO_ACTIVE_SQL_TRANSACTION,
                            "there is no transaction in progress",
                        ),
                    ))
                }
                None => Ok(command_with_notice(
                    "COMMIT",
                    Notice::warning(
                        SqlState::NO_ACTIVE_SQL_TRANSACTION,
                        "there is no transaction in progress",
                    ),
                )),
            },
            Command::Rollback => {
                if self.txn.as_ref().is_some_and(|t| t.explicit) {
                    self.abort_txn();
                    Ok(command("ROLLBACK"))
                } else if self.txn.is_some() {
                    self.abort_txn();
                    Ok(command_with_notice(
                        "ROLLBACK",
                        Notice::warning(
                            SqlState::NO_ACTIVE_SQL_TRANSACTION,
                            "there is no transaction in progress",
                        ),
                    ))
                } else {
                    Ok(command_with_notice(
                        "ROLLBACK",
                        Notice::warning(
                            SqlState::NO_ACTIVE_SQL_TRANSACTION,
                            "there is no transaction in progress",
                        ),
                    ))
                }
            }
            Command::Savepoint(name) => {
                let t = self.explicit_txn("SAVEPOINT")?;
                let mark = t.writes.lock().len();
                t.savepoints.push((name.clone(), mark));
                Ok(command("SAVEPOINT"))
            }
            Command::RollbackTo(name) => {
                let t = self.explicit_txn("ROLLBACK TO SAVEPOINT")?;
                let pos = t.savepoint_position(name)?;
                let mark = t.savepoints[pos].1;
                t.savepoints.truncate(pos + 1);
                rollback_writes(t.id, &mut t.writes.lock(), mark);
                t.failed = false;
                Ok(command("ROLLBACK"))
            }
            Command::Release(name) => {
                let t = self.explicit_txn("RELEASE SAVEPOINT")?;
                let pos = t.savepoint_position(name)?;
                t.savepoints.truncate(pos);
                Ok(command("RELEASE"))
            }
            Command::SetTransaction(iso) => {
                match &mut self.txn {
                    Some(t) if t.explicit => {
                        if t.snapshot.is_some() || !t.writes.lock().is_empty() {
                            return Err(Error::new(
                                SqlState::ACTIVE_SQL_TRANSACTION,
                                "SET TRANSACTION ISOLATION LEVEL must be called before any query",
                            ));
                        }
                        t.isolation = *iso;
                    }
                    _ => {
                        return Ok(command_with_notice(
                            "SET",
                            Notice::warning(
                                SqlState::NO_ACTIVE_SQL_TRANSACTION,
                                "SET TRANSACTION can only be used in transaction blocks",
                            ),
                        ))
                    }
                }
                Ok(command("SET"))
            }
            Command::Set {
                name,
                value,
                tag,
                local,
            } => {
                if *local {
                    match &mut self.txn {
                        Some(t) if t.explicit => {
                            if t.saved_settings.is_none() {
                                t.saved_settings = Some((self.settings.clone(), self.io.clone()));
                            }
                        }
                        _ => {
                            return Ok(command_with_notice(
                                "SET",
                                Notice::warning(
                                    SqlState::NO_ACTIVE_SQL_TRANSACTION,
                                    "SET LOCAL can only be used in transaction blocks",
                                ),
                            ))
                        }
                    }
                }
                self.run_set(name, value.as_deref(), tag)
            }
            Command::ResetAll => {
                let before = self.settings.clone();
                self.settings = default_settings(&self.user);
                self.apply_role_settings();
                self.io = IoContext::default();
                self.refresh_settings();
                let changed = REPORTED
                    .iter()
                    .filter(|k| before.get(**k) != self.settings.get(**k))
                    .map(|k| (k.to_string(), self.settings[*k].clone()))
                    .collect();
                Ok(Output::Command(CommandComplete {
                    tag: "RESET".into(),
                    parameter_status: changed,
                    notices: vec![],
                }))
            }
            Command::Show(name) => self.run_show(name, bound),
            Command::NoOp("CHECKPOINT") => self.run_checkpoint().await,
            Command::NoOp(tag) => Ok(command(*tag)),
            Command::Role(cmd) => self.run_role_command(cmd),
            Command::CreateTable(plan) => {
                let owner = self.auth.current_user().to_string();
                if self.engine.create_table_owned(plan, &owner)? {
                    Ok(command("CREATE TABLE"))
                } else {
                    Ok(command_with_notice(
                        "CREATE TABLE",
                        Notice::info(
                            SqlState::DUPLICATE_TABLE,
                            format!("relation \"{}\" already exists, skipping", plan.name),
                        ),
                    ))
                }
            }
            Command::DropTable {
                names,
                if_exists,
                cascade,
            } => {
                let (missing, cascaded) = self
                    .engine
                    .drop_tables_cascade(names, *if_exists, *cascade)?;
                Ok(with_cascade_notices(
                    dropped("DROP TABLE", "table", missing),
                    cascaded,
                ))
            }
            Command::CreateView(view) => {
                let owner = self.auth.current_user().to_string();
                self.engine.create_view(view, &owner)?;
                Ok(command("CREATE VIEW"))
            }
            Command::DropView {
                names,
                if_exists,
                cascade,
            } => {
                let (missing, cascaded) = self.engine.drop_views(names, *if_exists, *cascade)?;
                Ok(with_cascade_notices(
                    dropped("DROP VIEW", "view", missing),
                    cascaded,
                ))
            }
            Command::CreateIndex {
                name,
                table,
                columns,
                unique,
                if_not_exists,
            } => {
                self.engine
                    .create_index(name.clone(), table, columns, *unique, *if_not_exists)?;
                Ok(command("CREATE INDEX"))
            }
            Command::CreateSequence(plan) => {
                if self.engine.create_sequence(plan)? {
                    Ok(command("CREATE SEQUENCE"))
                } else {
                    Ok(command_with_notice(
                        "CREATE SEQUENCE",
                        Notice::info(
                            SqlState::DUPLICATE_TABLE,
                            format!("relation \"{}\" already exists, skipping", plan.name),
                        ),
                    ))
                }
            }
            Command::DropSequence { names, if_exists } => {
                let missing = self.engine.drop_sequences(names, *if_exists)?;
                Ok(dropped("DROP SEQUENCE", "sequence", missing))
            }
            Command::AlterTable {
                table,
                if_exists,
                actions,
            } => self.run_alter_table(table, *if_exists, actions).await,
            Command::DropIndex { names, if_exists } => {
                let missing = self.engine.drop_indexes(names, *if_exists)?;
                Ok(dropped("DROP INDEX", "index", missing))
            }
            Command::Backup(stmt) => self.run_backup(stmt, bound).await,
            Command::Database(stmt) => self.run_database_statement(stmt).await,
            Command::Query(_) => self.run_query(bound, params),
            Command::CopyFrom(_) => Ok(Output::CopyIn(self.start_copy_in(bound)?)),
            Command::CopyTo { .. } => Ok(Output::CopyOut(self.start_copy_out(bound, params)?)),
            Command::Insert(_)
            | Command::Update(_)
            | Command::Delete(_)
            | Command::Truncate { .. } => self.run_dml(bound, params).await,
        }
    }

    fn explicit_txn(&mut self, what: &str) -> Result<&mut TxnState> {
        match &mut self.txn {
            Some(t) if t.explicit => Ok(t),
            _ => Err(Error::new(
                SqlState::NO_ACTIVE_SQL_TRANSACTION,
                format!("{what} can only be used in transaction blocks"),
            )),
        }
    }

    /// ALTER TABLE: each action in turn; defaults and checks over existing
    /// rows are evaluated in this statement's context.
    async fn run_alter_table(
        &mut self,
        table: &str,
        if_exists: bool,
        actions: &[crate::sql::plan::AlterAction],
    ) -> Result<Output> {
        if !self.engine.catalog().tables.contains_key(table) {
            if if_exists {
                return Ok(command_with_notice(
                    "ALTER TABLE",
                    Notice::info(
                        SqlState::SUCCESSFUL_COMPLETION,
                        format!("relation \"{table}\" does not exist, skipping"),
                    ),
                ));
            }
            return Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{table}\" does not exist"),
            ));
        }
        self.check_table_owner(table)?;
        // ALTER TABLE reads committed rows: earlier statements of the same
        // query string are committed first; a transaction block that has
        // written rows cannot run it.
        if let Some(t) = &self.txn {
            if !t.writes.lock().is_empty() {
                if t.explicit {
                    return Err(Error::unsupported(
                        "ALTER TABLE cannot run in a transaction block that has changed rows",
                    ));
                }
                self.commit_txn().await?;
            }
        }
        let implicit = self.txn.is_none();
        if implicit {
            self.begin_txn(false, None);
        }
        let snap = self.statement_snapshot();
        let ctx = self.stmt_ctx(vec![], snap.ts);
        let env = crate::sql::expr::Env {
            ctx: &ctx,
            outer: &[],
        };
        let eval = |e: &crate::sql::expr::Expr, row: &[Value]| e.eval(row, &env);
        let mut notices = Vec::new();
        let mut result = Ok(());
        for action in actions {
            let altered = crate::sql::exec::run_blocking(true, || {
                self.engine.alter_table(table, action, &eval)
            });
            match altered {
                Ok(Some((state, n))) => notices.push(Notice::info(state, n)),
                Ok(None) => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if implicit && !self.batch {
            if let Some(t) = self.txn.take() {
                self.engine.txns.finish(t.id);
            }
        }
        result?;
        Ok(Output::Command(CommandComplete {
            tag: "ALTER TABLE".into(),
            notices,
            ..Default::default()
        }))
    }

    fn run_query(&mut self, bound: &Arc<BoundStatement>, params: Vec<Value>) -> Result<Output> {
        let Command::Query(plan) = &bound.command else {
            unreachable!()
        };
        Ok(Output::Rows(self.open_cursor(
            plan.clone(),
            bound.columns.clone(),
            params,
        )))
    }

    /// Opens a cursor over `plan`'s rows in the current (or a new
    /// single-statement) transaction.
    fn open_cursor(&mut self, plan: Arc<Plan>, columns: Vec<Column>, params: Vec<Value>) -> Cursor {
        let implicit = self.txn.is_none();
        if implicit {
            self.begin_txn(false, None);
        }
        let snap = self.statement_snapshot();
        let ctx = self.stmt_ctx(params, snap.ts);
        let heavy = exec::is_heavy(&plan);
        let cursor = exec::Cursor::new(plan, ctx, vec![]);
        if implicit && !self.batch {
            // A query changes nothing; its snapshot keeps what it reads.
            let t = self.txn.take().expect("transaction");
            self.engine.txns.finish(t.id);
        }
        Cursor {
            columns: Arc::new(columns),
            source: RowSource::Plan {
                cursor: Box::new(cursor),
                heavy,
                _snapshot: snap,
            },
            tag_prefix: "SELECT",
            fixed_count: None,
            fetched: 0,
            done: false,
        }
    }

    async fn run_dml(&mut self, bound: &Arc<BoundStatement>, params: Vec<Value>) -> Result<Output> {
        let implicit = self.txn.is_none();
        if implicit {
            self.begin_txn(false, None);
        }
        let insert = match &bound.command {
            Command::Insert(_) => Some(()),
            _ => None,
        };
        let result = loop {
            let mark = self.txn.as_ref().unwrap().writes.lock().len();
            let snap = self.statement_snapshot();
            let ctx = self.stmt_ctx(params.clone(), snap.ts);
            let heavy = match &bound.command {
                Command::Insert(ip) => exec::is_heavy(&ip.source),
                Command::Update(up) => {
                    up.join.is_some() || matches!(up.access, crate::sql::plan::Access::Full)
                }
                Command::Delete(dp) => {
                    dp.join.is_some() || matches!(dp.access, crate::sql::plan::Access::Full)
                }
                _ => true,
            };
            let r = exec::run_blocking(heavy, || match &bound.command {
                Command::Insert(ip) => exec::run_insert(ip, &ctx),
                Command::Update(up) => exec::run_update(up, &ctx),
                Command::Delete(dp) => exec::run_delete(dp, &ctx),
                Command::Truncate { tables } => {
                    let mut r = Ok(exec::DmlResult {
                        count: 0,
                        rows: vec![],
                    });
                    for t in tables {
                        if let Err(e) = exec::run_truncate(t, &ctx) {
                            r = Err(e);
                            break;
                        }
                    }
                    r
                }
                _ => unreachable!(),
            });
            match r {
                Ok(res) => break Ok(res),
                Err(e) if e.retry_after.is_some() => {
                    let t = self.txn.as_ref().unwrap();
                    rollback_writes(t.id, &mut t.writes.lock(), mark);
                    let holder = e.retry_after.unwrap();
                    if holder != 0 {
                        self.wait_for(holder, &ctx).await?;
                    } else {
                        ctx.check_interrupt()?;
                        tokio::task::yield_now().await;
                    }
                    if t.isolation != Isolation::ReadCommitted {
                        // The retry sees the same snapshot; a change by the
                        // other transaction becomes a serialization failure.
                    }
                }
                Err(e) => {
                    let t = self.txn.as_ref().unwrap();
                    rollback_writes(t.id, &mut t.writes.lock(), mark);
                    break Err(e);
                }
            }
        };
        let res = result?;
        if implicit && !self.batch {
            self.commit_txn().await?;
        }
        let (prefix, tag) = match (&bound.command, insert) {
            (Command::Insert(_), _) => ("INSERT 0", format!("INSERT 0 {}", res.count)),
            (Command::Update(_), _) => ("UPDATE", format!("UPDATE {}", res.count)),
            (Command::Delete(_), _) => ("DELETE", format!("DELETE {}", res.count)),
            _ => ("TRUNCATE TABLE", "TRUNCATE TABLE".to_string()),
        };
        let returning = match &bound.command {
            Command::Insert(p) => p.returning.is_some(),
            Command::Update(p) => p.returning.is_some(),
            Command::Delete(p) => p.returning.is_some(),
            _ => false,
        };
        if returning {
            return Ok(Output::Rows(Cursor {
                columns: Arc::new(bound.columns.clone()),
                source: RowSource::Buffered(res.rows.into_iter()),
                tag_prefix: prefix,
                fixed_count: Some(res.count),
                fetched: 0,
                done: false,
            }));
        }
        Ok(command(tag))
    }

    async fn wait_for(&self, holder: TxnId, ctx: &StmtCtx) -> Result<()> {
        let me = self.txn.as_ref().unwrap().id;
        let txns = self.engine.txns.clone();
        let wait = txns.wait_for(me, holder);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                r = &mut wait => return r,
                _ = tokio::time::sleep(Duration::from_millis(20)) => {
                    if let Err(e) = ctx.check_interrupt() {
                        txns.stop_waiting(me);
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Fetches up to `max_rows` rows (0 = all) into `out`. Returns true when
    /// the cursor is exhausted.
    pub async fn fetch(
        &mut self,
        cursor: &mut Cursor,
        max_rows: usize,
        out: &mut Vec<Row>,
    ) -> Result<bool> {
        if cursor.done {
            return Ok(true);
        }
        let limit = if max_rows == 0 { usize::MAX } else { max_rows };
        // Heavy plans run in slices off the async worker, yielding between
        // slices so other sessions keep being served.
        const SLICE: usize = 4096;
        let mut n = 0;
        while n < limit {
            let want = (limit - n).min(SLICE);
            let before = out.len();
            let result = match &mut cursor.source {
                RowSource::Plan {
                    cursor: c, heavy, ..
                } => {
                    let heavy = *heavy;
                    exec::run_blocking(heavy, || pull(c, want, out))
                }
                RowSource::Buffered(it) => {
                    out.extend(it.by_ref().take(want));
                    Ok(out.len() - before < want)
                }
            };
            let got = out.len() - before;
            n += got;
            cursor.fetched += got as u64;
            match result {
                Ok(true) => {
                    cursor.done = true;
                    return Ok(true);
                }
                Ok(false) => {
                    if n < limit {
                        tokio::task::yield_now().await;
                    }
                }
                Err(e) => {
                    cursor.done = true;
                    self.on_error();
                    return Err(e);
                }
            }
        }
        Ok(false)
    }

    /// `idle_in_transaction_session_timeout`, when set (non-zero): how long
    /// the session may sit idle inside a transaction block.
    pub fn idle_in_transaction_timeout(&self) -> Option<Duration> {
        let ms = self.hot.idle_in_transaction_timeout_ms;
        (ms > 0).then(|| Duration::from_millis(ms))
    }

    pub fn txn_status(&self) -> TxnStatus {
        match &self.txn {
            Some(t) if t.explicit && t.failed => TxnStatus::Failed,
            Some(t) if t.explicit => TxnStatus::InBlock,
            _ => TxnStatus::Idle,
        }
    }

    /// The token a CancelRequest for this session sets.
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }

    /// Settings that shape text output (TimeZone, ...).
    pub fn io_context(&self) -> &IoContext {
        &self.io
    }

    /// The ParameterStatus values to send after authentication
    /// (server_version, client_encoding, DateStyle, TimeZone, ...).
    pub fn startup_parameters(&self) -> Vec<(String, String)> {
        REPORTED
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    self.settings.get(*k).cloned().unwrap_or_default(),
                )
            })
            .collect()
    }

    fn refresh_settings(&mut self) {
        let mut m: HashMap<String, String> = self
            .settings
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.clone()))
            .collect();
        let iso = self
            .txn
            .as_ref()
            .map(|t| t.isolation.name().to_string())
            .unwrap_or_else(|| self.settings["default_transaction_isolation"].clone());
        m.insert("transaction_isolation".into(), iso);
        self.settings_arc = Arc::new(m);
        self.hot = HotSettings::of(&self.settings);
    }

    fn set_setting(&mut self, name: &str, value: &str) -> Result<()> {
        let v = value.to_string();
        match name {
            "client_encoding" => {
                // As PostgreSQL's clean_encoding_name: only letters and
                // digits count, so asyncpg's quoted 'utf-8' is UTF8.
                let norm: String = value
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_uppercase();
                if norm != "UTF8" && norm != "UNICODE" {
                    return Err(Error::unsupported(format!(
                        "client_encoding \"{value}\" is not supported; joltdb speaks UTF8 only"
                    )));
                }
                self.settings.insert(name.into(), "UTF8".into());
                return Ok(());
            }
            "TimeZone" => {
                let off = parse_timezone(value).ok_or_else(|| invalid_value("TimeZone", value))?;
                self.io.tz_offset_secs = off;
            }
            "DateStyle" => {
                let up = value.to_uppercase();
                if !up.contains("ISO") && !up.is_empty() {
                    return Err(Error::unsupported("only DateStyle ISO is supported"));
                }
                self.settings.insert(name.into(), "ISO, MDY".into());
                return Ok(());
            }
            "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout" => {
                parse_duration_ms(value).ok_or_else(|| invalid_value(name, value))?;
            }
            "default_transaction_isolation" | "transaction_isolation" => {
                let iso = Isolation::parse(value).ok_or_else(|| invalid_value(name, value))?;
                if name == "transaction_isolation" {
                    if let Some(t) = &mut self.txn {
                        t.isolation = iso;
                    }
                    return Ok(());
                }
                self.settings.insert(name.into(), iso.name().into());
                return Ok(());
            }
            "synchronous_commit" => {
                let on = match value.to_lowercase().as_str() {
                    "on" | "true" | "1" | "yes" | "local" | "remote_write" | "remote_apply" => true,
                    "off" | "false" | "0" | "no" => false,
                    _ => return Err(invalid_value(name, value)),
                };
                self.settings
                    .insert(name.into(), if on { "on" } else { "off" }.into());
                return Ok(());
            }
            "extra_float_digits" => {
                let n: i32 = value
                    .trim()
                    .parse()
                    .map_err(|_| invalid_value(name, value))?;
                if !(-15..=3).contains(&n) {
                    return Err(invalid_value(name, value));
                }
            }
            "server_version"
            | "server_version_num"
            | "server_encoding"
            | "integer_datetimes"
            | "max_identifier_length"
            | "is_superuser"
            | "session_authorization"
            | "in_hot_standby" => {
                return Err(Error::new(
                    SqlState("55P02"),
                    format!("parameter \"{name}\" cannot be changed"),
                ))
            }
            _ => {}
        }
        self.settings.insert(name.to_string(), v);
        Ok(())
    }

    fn run_set(&mut self, name: &str, value: Option<&str>, tag: &str) -> Result<Output> {
        let canon = match canonical_setting(name) {
            Some(c) => c.to_string(),
            None if name.contains('.') => name.to_string(),
            None => {
                return Err(Error::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!("unrecognized configuration parameter \"{name}\""),
                ))
            }
        };
        let default = SETTINGS
            .iter()
            .find(|(k, _)| *k == canon)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        let value = value.map(str::to_string).unwrap_or(default);
        self.set_setting(&canon, &value)?;
        self.refresh_settings();
        let mut status = Vec::new();
        if REPORTED.contains(&canon.as_str()) {
            status.push((
                canon.clone(),
                self.settings.get(&canon).cloned().unwrap_or_default(),
            ));
        }
        Ok(Output::Command(CommandComplete {
            tag: tag.into(),
            parameter_status: status,
            notices: vec![],
        }))
    }

    /// CHECKPOINT: takes a checkpoint now (superusers only, as in
    /// PostgreSQL).
    async fn run_checkpoint(&mut self) -> Result<Output> {
        if self.settings.get("is_superuser").map(String::as_str) != Some("on") {
            return Err(Error::new(
                SqlState::INSUFFICIENT_PRIVILEGE,
                "must be superuser or have privileges of pg_checkpoint to do CHECKPOINT",
            ));
        }
        Engine {
            inner: self.engine.clone(),
        }
        .checkpoint()
        .await?;
        Ok(command("CHECKPOINT"))
    }

    async fn run_backup(
        &mut self,
        stmt: &crate::backup::BackupStatement,
        bound: &Arc<BoundStatement>,
    ) -> Result<Output> {
        use crate::backup::BackupStatement as B;
        let what = match stmt {
            B::Backup { .. } => "BACKUP",
            B::Restore { .. } => "RESTORE",
            B::Show { .. } => "SHOW BACKUP",
            B::Verify { .. } => "VERIFY BACKUP",
        };
        // BACKUP needs joltdb_backup, RESTORE joltdb_restore; reading a
        // backup's contents (SHOW, VERIFY) either one.
        match stmt {
            B::Backup { .. } => self.require_role_membership(crate::acl::BACKUP_ROLE)?,
            B::Restore { request, .. } => {
                self.require_role_membership(crate::acl::RESTORE_ROLE)?;
                // Replacing a table is dropping it: its owner's right.
                if request.replace {
                    match request.rename.as_ref().or(request.table.as_ref()) {
                        Some(target) => {
                            if self.engine.catalog().tables.contains_key(target) {
                                self.check_table_owner(target)?;
                            }
                        }
                        None => self.require_superuser("RESTORE DATABASE with replace")?,
                    }
                }
            }
            B::Show { .. } | B::Verify { .. } => {
                if self
                    .require_role_membership(crate::acl::RESTORE_ROLE)
                    .is_err()
                {
                    self.require_role_membership(crate::acl::BACKUP_ROLE)?;
                }
            }
        }
        if self.txn.as_ref().is_some_and(|t| t.explicit) || self.batch {
            return Err(Error::new(
                SqlState::ACTIVE_SQL_TRANSACTION,
                format!("{what} cannot run inside a transaction block"),
            ));
        }
        let out = crate::backup::execute(&self.engine, stmt.clone()).await?;
        Ok(match out.rows {
            Some(rows) => Output::Rows(Cursor {
                columns: Arc::new(bound.columns.clone()),
                fixed_count: None,
                source: RowSource::Buffered(rows.into_iter()),
                tag_prefix: if what == "SHOW BACKUP" {
                    "SHOW"
                } else {
                    "VERIFY"
                },
                fetched: 0,
                done: false,
            }),
            None => command(out.tag),
        })
    }

    fn run_show(&mut self, name: &str, bound: &Arc<BoundStatement>) -> Result<Output> {
        self.refresh_settings();
        let rows: Vec<Row> = if name == "all" {
            let mut keys: Vec<&String> = self.settings.keys().collect();
            keys.sort_by_key(|k| k.to_lowercase());
            keys.into_iter()
                .map(|k| {
                    vec![
                        Value::Text(k.clone()),
                        Value::Text(self.settings[k].clone()),
                        Value::Text(String::new()),
                    ]
                })
                .collect()
        } else {
            let v = self
                .settings_arc
                .get(&name.to_lowercase())
                .cloned()
                .ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("unrecognized configuration parameter \"{name}\""),
                    )
                })?;
            vec![vec![Value::Text(v)]]
        };
        Ok(Output::Rows(Cursor {
            columns: Arc::new(bound.columns.clone()),
            fixed_count: None,
            source: RowSource::Buffered(rows.into_iter()),
            tag_prefix: "SHOW",
            fetched: 0,
            done: false,
        }))
    }
}

/// Pulls up to `want` rows; true when the cursor is exhausted.
fn pull(c: &mut exec::Cursor, want: usize, out: &mut Vec<Row>) -> Result<bool> {
    for _ in 0..want {
        match c.next_row()? {
            Some(r) => out.push(r),
            None => return Ok(true),
        }
    }
    Ok(false)
}

fn is_txn_end(p: &Parsed) -> bool {
    match p {
        Parsed::Sql(s) => matches!(
            **s,
            sqlparser::ast::Statement::Commit { .. } | sqlparser::ast::Statement::Rollback { .. }
        ),
        _ => false,
    }
}
