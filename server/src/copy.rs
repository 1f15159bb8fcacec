//! COPY on the wire: CopyInResponse and the client's CopyData / CopyDone /
//! CopyFail for `COPY ... FROM STDIN`, and CopyOutResponse, CopyData and
//! CopyDone for `COPY ... TO STDOUT`.

use crate::conn::{ConnState, Connection, FETCH_BATCH};
use crate::encode::wire_error;
use crate::handler::{send_command_complete, txn_status, QueryHandler, StepError};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{Sink, SinkExt};
use joltdb_engine::{CommandComplete, CopyIn, CopyOut};
use pgwire::api::copy::CopyHandler;
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail, CopyInResponse, CopyOutResponse};
use pgwire::messages::PgWireBackendMessage;
use std::fmt::Debug;

/// Tells the client to send its data, and keeps the COPY until it has.
pub async fn start_copy_in<C>(
    client: &mut C,
    state: &mut ConnState,
    copy: CopyIn,
    extended: bool,
) -> Result<(), StepError>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let columns = copy.columns;
    state.copy_in = Some(copy);
    client
        .send(PgWireBackendMessage::CopyInResponse(CopyInResponse::new(
            0,
            columns as i16,
            vec![0; columns],
        )))
        .await
        .map_err(PgWireError::from)?;
    client.set_state(PgWireConnectionState::CopyInProgress(extended));
    Ok(())
}

/// Streams a COPY TO: CopyOutResponse, one CopyData per row, CopyDone and
/// `COPY n`.
pub async fn send_copy_out<C>(
    client: &mut C,
    state: &mut ConnState,
    mut copy: CopyOut,
) -> Result<(), StepError>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let columns = copy.columns();
    client
        .feed(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
            0,
            columns as i16,
            vec![0; columns],
        )))
        .await
        .map_err(PgWireError::from)?;
    let mut buf = Vec::new();
    copy.header(&mut buf);
    if !buf.is_empty() {
        client
            .feed(PgWireBackendMessage::CopyData(CopyData::new(Bytes::from(
                std::mem::take(&mut buf),
            ))))
            .await
            .map_err(PgWireError::from)?;
    }
    let ConnState { session, rows, .. } = state;
    loop {
        rows.clear();
        let exhausted = session.fetch(&mut copy.cursor, FETCH_BATCH, rows).await?;
        for row in rows.drain(..) {
            let mut line = Vec::with_capacity(64);
            copy.encode(&row, session.io_context(), &mut line);
            client
                .feed(PgWireBackendMessage::CopyData(CopyData::new(Bytes::from(
                    line,
                ))))
                .await
                .map_err(PgWireError::from)?;
        }
        if exhausted {
            break;
        }
    }
    client
        .feed(PgWireBackendMessage::CopyDone(CopyDone::new()))
        .await
        .map_err(PgWireError::from)?;
    send_command_complete(
        client,
        CommandComplete {
            tag: copy.cursor.tag(),
            ..Default::default()
        },
    )
    .await
}

fn sync_status<C: ClientInfo>(client: &mut C, state: &ConnState) {
    client.set_transaction_status(txn_status(state.session.txn_status()));
}

#[async_trait]
impl CopyHandler for QueryHandler {
    async fn on_copy_data<C>(&self, client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = Connection::of(client)?;
        let mut state = conn.lock().await;
        // Data after a failed COPY is dropped, as PostgreSQL does.
        let Some(mut copy) = state.copy_in.take() else {
            return Ok(());
        };
        match state.session.copy_data(&mut copy, &copy_data.data).await {
            Ok(()) => {
                state.copy_in = Some(copy);
                Ok(())
            }
            Err(e) => {
                sync_status(client, &state);
                Err(wire_error(&e))
            }
        }
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = Connection::of(client)?;
        let mut state = conn.lock().await;
        let Some(copy) = state.copy_in.take() else {
            return Ok(());
        };
        let result = state.session.copy_done(copy).await;
        sync_status(client, &state);
        match result {
            Ok(done) => match send_command_complete(client, done).await {
                Ok(()) => Ok(()),
                Err(StepError::Wire(e)) => Err(e),
                Err(StepError::Engine(e)) => Err(wire_error(&e)),
            },
            Err(e) => Err(wire_error(&e)),
        }
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = match Connection::of(client) {
            Ok(c) => c,
            Err(e) => return e,
        };
        let mut state = conn.lock().await;
        let err = match state.copy_in.take() {
            Some(copy) => state.session.copy_fail(copy, &fail.message),
            None => joltdb_engine::Error::new(
                joltdb_engine::SqlState::QUERY_CANCELED,
                format!("COPY from stdin failed: {}", fail.message),
            ),
        };
        sync_status(client, &state);
        wire_error(&err)
    }
}
