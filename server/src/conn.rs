//! Per-connection state: the engine session plus the extended protocol's
//! prepared statements and portals. It lives in the connection's pgwire
//! session extensions; the handlers themselves are shared by all
//! connections.

use crate::encode::{Formats, RowEncoder};
use joltdb_engine::session::{Cursor, Deallocate};
use joltdb_engine::{
    CommandComplete, CopyIn, Error, Prepared, Row, Session, SqlState, TxnStatus, Value,
};
use pgwire::api::ClientInfo;
use pgwire::error::PgWireError;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard};

/// Rows fetched from the engine per round trip while streaming a result.
pub const FETCH_BATCH: usize = 1000;

/// The state of one client connection.
pub struct Connection {
    state: Mutex<ConnState>,
}

pub struct ConnState {
    pub session: Session,
    /// Prepared statements by name ("" is the unnamed one).
    pub statements: HashMap<String, Arc<PreparedStatement>>,
    /// Portals by name ("" is the unnamed one).
    pub portals: HashMap<String, Portal>,
    /// Fetch buffer, reused between batches.
    pub rows: Vec<Row>,
    pub encoder: RowEncoder,
    /// A `COPY ... FROM STDIN` waiting for the client's data.
    pub copy_in: Option<CopyIn>,
}

/// A statement prepared with Parse; `None` for an empty query string or
/// a `DEALLOCATE`.
pub struct PreparedStatement {
    pub prepared: Option<Arc<Prepared>>,
    /// What a `DEALLOCATE` statement drops when executed.
    pub deallocate: Option<Deallocate>,
}

/// A statement bound to parameters with Bind.
pub struct Portal {
    pub statement: Arc<PreparedStatement>,
    pub formats: Formats,
    pub state: PortalState,
}

pub enum PortalState {
    /// Bound, not yet executed; holds the parameter values.
    Ready(Vec<Value>),
    /// Executed with a row limit and suspended with rows left.
    Suspended(Cursor),
    /// Ran to completion (or failed).
    Done,
}

impl Connection {
    pub fn new(session: Session) -> Connection {
        Connection {
            state: Mutex::new(ConnState {
                session,
                statements: HashMap::new(),
                portals: HashMap::new(),
                rows: Vec::with_capacity(FETCH_BATCH),
                encoder: RowEncoder::default(),
                copy_in: None,
            }),
        }
    }

    /// The connection of an authenticated client.
    pub fn of<C: ClientInfo>(client: &C) -> Result<Arc<Connection>, PgWireError> {
        client
            .session_extensions()
            .get::<Connection>()
            .ok_or(PgWireError::NotReadyForQuery)
    }

    pub async fn lock(&self) -> MutexGuard<'_, ConnState> {
        self.state.lock().await
    }
}

/// Carries out `DEALLOCATE`: drops one or all of the connection's prepared
/// statements (SQL `PREPARE` and protocol-level Parse share one namespace).
pub fn deallocate(state: &mut ConnState, target: Deallocate) -> Result<CommandComplete, Error> {
    if state.session.txn_status() == TxnStatus::Failed {
        return Err(Error::new(
            SqlState::IN_FAILED_SQL_TRANSACTION,
            "current transaction is aborted, commands ignored until end of transaction block",
        ));
    }
    let tag = match target {
        Deallocate::All => {
            state.statements.retain(|name, _| name.is_empty());
            "DEALLOCATE ALL"
        }
        Deallocate::Named(name) => {
            if name.is_empty() || state.statements.remove(&name).is_none() {
                return Err(Error::new(
                    SqlState::INVALID_SQL_STATEMENT_NAME,
                    format!("prepared statement \"{name}\" does not exist"),
                ));
            }
            "DEALLOCATE"
        }
    };
    Ok(CommandComplete {
        tag: tag.to_owned(),
        ..Default::default()
    })
}
