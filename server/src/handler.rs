//! The query handler shared by all connections, and what the simple and
//! extended protocols have in common: running a statement and streaming
//! its rows in batches.

use crate::conn::{ConnState, FETCH_BATCH};
use crate::encode::Formats;
use futures::{Sink, SinkExt};
use joltdb_engine::session::Cursor;
use joltdb_engine::{CommandComplete, Notice, TxnStatus};
use pgwire::error::PgWireError;
use pgwire::messages::extendedquery::PortalSuspended;
use pgwire::messages::response::{
    CommandComplete as CommandCompleteMsg, NoticeResponse, TransactionStatus,
};
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::PgWireBackendMessage;
use std::fmt::Debug;

/// Serves simple and extended queries (see `simple.rs`, `extended.rs`).
#[derive(Debug, Default)]
pub struct QueryHandler {
    pub(crate) parser: std::sync::Arc<pgwire::api::stmt::NoopQueryParser>,
}

/// Why a statement stopped: an engine error is reported to the client and
/// the connection goes on; a wire error ends the handler.
pub enum StepError {
    Engine(joltdb_engine::Error),
    Wire(PgWireError),
}

impl From<joltdb_engine::Error> for StepError {
    fn from(e: joltdb_engine::Error) -> Self {
        StepError::Engine(e)
    }
}

impl From<PgWireError> for StepError {
    fn from(e: PgWireError) -> Self {
        StepError::Wire(e)
    }
}

pub fn txn_status(status: TxnStatus) -> TransactionStatus {
    match status {
        TxnStatus::Idle => TransactionStatus::Idle,
        TxnStatus::InBlock => TransactionStatus::Transaction,
        TxnStatus::Failed => TransactionStatus::Error,
    }
}

/// Sends the statement's notices, CommandComplete and any ParameterStatus
/// the statement changed.
pub async fn send_command_complete<C>(
    client: &mut C,
    done: CommandComplete,
) -> Result<(), StepError>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    for notice in done.notices {
        client
            .feed(PgWireBackendMessage::NoticeResponse(notice_response(
                notice,
            )))
            .await
            .map_err(PgWireError::from)?;
    }
    client
        .feed(PgWireBackendMessage::CommandComplete(
            CommandCompleteMsg::new(done.tag),
        ))
        .await
        .map_err(PgWireError::from)?;
    for (name, value) in done.parameter_status {
        client
            .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                name, value,
            )))
            .await
            .map_err(PgWireError::from)?;
    }
    Ok(())
}

/// How far [`stream_rows`] got.
pub enum Streamed {
    /// All rows were sent, followed by CommandComplete.
    Done,
    /// `max_rows` rows were sent, followed by PortalSuspended; the cursor
    /// has more.
    Suspended(Cursor),
}

/// Fetches rows from `cursor` in batches and feeds them as DataRows;
/// at most `max_rows` (0 = all), then CommandComplete or PortalSuspended.
pub async fn stream_rows<C>(
    client: &mut C,
    state: &mut ConnState,
    mut cursor: Cursor,
    formats: &Formats,
    max_rows: usize,
) -> Result<Streamed, StepError>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let ConnState {
        session,
        rows,
        encoder,
        ..
    } = state;
    let columns = cursor.columns.clone();
    let mut remaining = max_rows;
    loop {
        let batch = if max_rows == 0 {
            FETCH_BATCH
        } else {
            remaining.min(FETCH_BATCH)
        };
        rows.clear();
        let exhausted = session.fetch(&mut cursor, batch, rows).await?;
        let ctx = session.io_context();
        for row in rows.drain(..) {
            let data_row = encoder.encode(&row, &columns, formats, ctx)?;
            client
                .feed(PgWireBackendMessage::DataRow(data_row))
                .await
                .map_err(PgWireError::from)?;
            remaining = remaining.saturating_sub(1);
        }
        if exhausted {
            let tag = cursor.tag();
            send_command_complete(
                client,
                CommandComplete {
                    tag,
                    ..Default::default()
                },
            )
            .await?;
            return Ok(Streamed::Done);
        }
        if max_rows != 0 && remaining == 0 {
            client
                .feed(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))
                .await
                .map_err(PgWireError::from)?;
            return Ok(Streamed::Suspended(cursor));
        }
    }
}

/// Sends a RowDescription.
pub async fn send_row_description<C>(
    client: &mut C,
    columns: &[joltdb_engine::Column],
    formats: &Formats,
) -> Result<(), PgWireError>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    client
        .feed(PgWireBackendMessage::RowDescription(
            crate::encode::row_description(columns, formats),
        ))
        .await
        .map_err(PgWireError::from)
}

fn notice_response(notice: Notice) -> NoticeResponse {
    NoticeResponse::new(vec![
        (b'S', notice.severity.to_owned()),
        (b'V', notice.severity.to_owned()),
        (b'C', notice.state.code().to_owned()),
        (b'M', notice.message),
    ])
}
