//! The simple query protocol: a Query message may hold several statements;
//! each is prepared and run in turn, results stream back, and the first
//! error ends the batch.

use crate::conn::{ConnState, Connection};
use crate::encode::{error_response, Formats};
use crate::handler::{
    send_command_complete, send_row_description, stream_rows, txn_status, QueryHandler, StepError,
};
use async_trait::async_trait;
use futures::{Sink, SinkExt};
use joltdb_engine::{Output, Statement};
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::Response;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::response::{EmptyQueryResponse, ReadyForQuery};
use pgwire::messages::simplequery::Query;
use pgwire::messages::PgWireBackendMessage;
use std::fmt::Debug;

#[async_trait]
impl SimpleQueryHandler for QueryHandler {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = Connection::of(client)?;
        let mut state = conn.lock().await;
        // A cancel that arrived while idle must not hit this query.
        state.session.cancel_token().take();

        match run_batch(client, &mut state, &query.query).await {
            // ReadyForQuery follows the client's CopyDone.
            Ok(()) if state.copy_in.is_some() => return Ok(()),
            Ok(()) => {}
            Err(StepError::Engine(err)) => {
                client
                    .feed(PgWireBackendMessage::ErrorResponse(error_response(&err)))
                    .await?;
            }
            Err(StepError::Wire(err)) => return Err(err),
        }

        let status = txn_status(state.session.txn_status());
        client.set_transaction_status(status);
        client
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                status,
            )))
            .await?;
        Ok(())
    }

    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // `on_query` handles everything; pgwire never reaches this.
        Ok(Vec::new())
    }
}

async fn run_batch<C>(client: &mut C, state: &mut ConnState, sql: &str) -> Result<(), StepError>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let statements = state.session.parse(sql)?;
    if statements.is_empty() {
        client
            .feed(PgWireBackendMessage::EmptyQueryResponse(
                EmptyQueryResponse::new(),
            ))
            .await
            .map_err(PgWireError::from)?;
        return Ok(());
    }
    if statements.len() == 1 {
        return run_statement(client, state, &statements[0]).await;
    }
    if statements.iter().any(Statement::is_copy_in) {
        return Err(StepError::Engine(joltdb_engine::Error::unsupported(
            "COPY FROM STDIN must be the only statement in its query string",
        )));
    }
    state.session.begin_batch();
    for statement in &statements {
        if let Err(e) = run_statement(client, state, statement).await {
            state.session.end_batch(false).await?;
            return Err(e);
        }
    }
    state.session.end_batch(true).await?;
    Ok(())
}

async fn run_statement<C>(
    client: &mut C,
    state: &mut ConnState,
    statement: &Statement,
) -> Result<(), StepError>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    if let Some(target) = statement.deallocate() {
        let done = crate::conn::deallocate(state, target)?;
        return send_command_complete(client, done).await;
    }
    let prepared = state.session.prepare(statement, &[])?;
    match state.session.execute(&prepared, Vec::new()).await? {
        Output::Command(done) => send_command_complete(client, done).await,
        Output::Rows(cursor) => {
            send_row_description(client, &cursor.columns, &Formats::AllText).await?;
            stream_rows(client, state, cursor, &Formats::AllText, 0).await?;
            Ok(())
        }
        Output::CopyIn(copy) => crate::copy::start_copy_in(client, state, copy, false).await,
        Output::CopyOut(copy) => crate::copy::send_copy_out(client, state, copy).await,
    }
}
