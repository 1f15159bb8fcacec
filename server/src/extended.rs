//! The extended query protocol (Parse, Bind, Describe, Execute, Close,
//! Sync, Flush) over the connection's own statements and portals. Replies
//! are queued and written once at Sync or Flush; errors are returned to
//! pgwire, which reports them and discards messages until Sync.

use crate::conn::{ConnState, Connection, Portal, PortalState, PreparedStatement};
use crate::encode::{error_response, protocol_violation, wire_error, Formats};
use crate::handler::{
    send_command_complete, send_row_description, stream_rows, txn_status, QueryHandler, StepError,
    Streamed,
};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{Sink, SinkExt};
use joltdb_engine::types::io::{decode_binary, parse_text};
use joltdb_engine::{DataType, Error, Output, SqlState, Value};
use pgwire::api::portal::Portal as PgPortal;
use pgwire::api::query::ExtendedQueryHandler;
use pgwire::api::results::Response;
use pgwire::api::stmt::NoopQueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Flush, Parse, ParseComplete,
    Sync as PgSync, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{EmptyQueryResponse, ReadyForQuery};
use pgwire::messages::PgWireBackendMessage;
use std::fmt::Debug;
use std::sync::Arc;

#[async_trait]
impl ExtendedQueryHandler for QueryHandler {
    type Statement = String;
    type QueryParser = NoopQueryParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = Connection::of(client)?;
        let mut state = conn.lock().await;
        let name = message.name.unwrap_or_default();
        if !name.is_empty() && state.statements.contains_key(&name) {
            return Err(wire_error(&Error::new(
                SqlState("42P05"),
                format!("prepared statement \"{name}\" already exists"),
            )));
        }
        let statement = parse_statement(&mut state, &message.query, &message.type_oids)
            .map_err(|e| wire_error(&e))?;
        state.statements.insert(name, Arc::new(statement));
        client
            .feed(PgWireBackendMessage::ParseComplete(ParseComplete::new()))
            .await?;
        Ok(())
    }

    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = Connection::of(client)?;
        let mut state = conn.lock().await;
        let portal_name = message.portal_name.clone().unwrap_or_default();
        let portal = bind_portal(&mut state, &portal_name, message).map_err(|e| wire_error(&e))?;
        state.portals.insert(portal_name, portal);
        client
            .feed(PgWireBackendMessage::BindComplete(BindComplete::new()))
            .await?;
        Ok(())
    }

    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = Connection::of(client)?;
        let state = conn.lock().await;
        let name = message.name.unwrap_or_default();
        match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                let statement = state
                    .statements
                    .get(&name)
                    .ok_or_else(|| wire_error(&no_statement(&name)))?;
                let prepared = statement.prepared.as_deref();
                let types = prepared
                    .map(|p| p.param_types.iter().map(DataType::oid).collect())
                    .unwrap_or_default();
                client
                    .feed(PgWireBackendMessage::ParameterDescription(
                        ParameterDescription::new(types),
                    ))
                    .await?;
                match prepared {
                    Some(p) if !p.columns.is_empty() => {
                        send_row_description(client, &p.columns, &Formats::AllText).await?
                    }
                    _ => {
                        client
                            .feed(PgWireBackendMessage::NoData(NoData::new()))
                            .await?
                    }
                }
            }
            TARGET_TYPE_BYTE_PORTAL => {
                let portal = state
                    .portals
                    .get(&name)
                    .ok_or_else(|| wire_error(&no_portal(&name)))?;
                match portal.statement.prepared.as_deref() {
                    Some(p) if !p.columns.is_empty() => {
                        send_row_description(client, &p.columns, &portal.formats).await?
                    }
                    _ => {
                        client
                            .feed(PgWireBackendMessage::NoData(NoData::new()))
                            .await?
                    }
                }
            }
            other => {
                return Err(wire_error(&protocol_violation(format!(
                    "invalid DESCRIBE message subtype {other}"
                ))))
            }
        }
        Ok(())
    }

    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = Connection::of(client)?;
        let mut state = conn.lock().await;
        let name = message.name.unwrap_or_default();
        let max_rows = usize::try_from(message.max_rows).unwrap_or(0);
        match execute_portal(client, &mut state, &name, max_rows).await {
            Ok(()) => Ok(()),
            Err(StepError::Engine(e)) => Err(wire_error(&e)),
            Err(StepError::Wire(e)) => Err(e),
        }
    }

    async fn on_close<C>(&self, client: &mut C, message: Close) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = Connection::of(client)?;
        let mut state = conn.lock().await;
        let name = message.name.unwrap_or_default();
        match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                state.statements.remove(&name);
            }
            TARGET_TYPE_BYTE_PORTAL => {
                state.portals.remove(&name);
            }
            other => {
                return Err(wire_error(&protocol_violation(format!(
                    "invalid CLOSE message subtype {other}"
                ))))
            }
        }
        client
            .feed(PgWireBackendMessage::CloseComplete(CloseComplete::new()))
            .await?;
        Ok(())
    }

    async fn on_flush<C>(&self, client: &mut C, _message: Flush) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        SinkExt::flush(client).await?;
        Ok(())
    }

    async fn on_sync<C>(&self, client: &mut C, _message: PgSync) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = Connection::of(client)?;
        let mut state = conn.lock().await;
        if let Err(e) = state.session.end_batch(true).await {
            client
                .feed(PgWireBackendMessage::ErrorResponse(error_response(&e)))
                .await?;
        }
        let status = state.session.txn_status();
        // Portals live until their transaction ends; outside a transaction
        // block that is now.
        if status == joltdb_engine::TxnStatus::Idle {
            state.portals.clear();
        } else {
            state.portals.remove("");
        }
        let status = txn_status(status);
        client.set_transaction_status(status);
        client
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                status,
            )))
            .await?;
        Ok(())
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        _portal: &PgPortal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Every extended message is handled above; pgwire never gets here.
        Err(wire_error(&Error::internal(
            "unexpected portal execution path",
        )))
    }
}

fn no_statement(name: &str) -> Error {
    Error::new(
        SqlState::INVALID_SQL_STATEMENT_NAME,
        format!("prepared statement \"{name}\" does not exist"),
    )
}

fn no_portal(name: &str) -> Error {
    Error::new(
        SqlState::INVALID_CURSOR_NAME,
        format!("portal \"{name}\" does not exist"),
    )
}

fn parse_statement(
    state: &mut ConnState,
    sql: &str,
    type_oids: &[u32],
) -> Result<PreparedStatement, Error> {
    let param_types = type_oids
        .iter()
        .map(|&oid| match oid {
            0 => Ok(DataType::Unknown),
            oid => DataType::from_oid(oid).ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!("type with OID {oid} is not supported"),
                )
            }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut statements = state.session.parse(sql)?;
    match statements.len() {
        0 => Ok(PreparedStatement {
            prepared: None,
            deallocate: None,
        }),
        1 => {
            let statement = statements.remove(0);
            if let Some(target) = statement.deallocate() {
                return Ok(PreparedStatement {
                    prepared: None,
                    deallocate: Some(target),
                });
            }
            let prepared = state.session.prepare(&statement, &param_types)?;
            Ok(PreparedStatement {
                prepared: Some(prepared),
                deallocate: None,
            })
        }
        _ => Err(Error::syntax(
            "cannot insert multiple commands into a prepared statement",
        )),
    }
}

fn bind_portal(state: &mut ConnState, portal_name: &str, message: Bind) -> Result<Portal, Error> {
    let statement_name = message.statement_name.unwrap_or_default();
    let statement = state
        .statements
        .get(&statement_name)
        .cloned()
        .ok_or_else(|| no_statement(&statement_name))?;
    if !portal_name.is_empty() && state.portals.contains_key(portal_name) {
        return Err(Error::new(
            SqlState("42P03"),
            format!("portal \"{portal_name}\" already exists"),
        ));
    }
    let (param_types, columns): (&[DataType], usize) = match statement.prepared.as_deref() {
        Some(p) => (&p.param_types, p.columns.len()),
        None => (&[], 0),
    };
    if message.parameters.len() != param_types.len() {
        return Err(protocol_violation(format!(
            "bind message supplies {} parameters, but prepared statement \"{}\" requires {}",
            message.parameters.len(),
            statement_name,
            param_types.len()
        )));
    }
    let codes = &message.parameter_format_codes;
    if codes.len() > 1 && codes.len() != message.parameters.len() {
        return Err(protocol_violation(format!(
            "bind message has {} parameter formats but {} parameters",
            codes.len(),
            message.parameters.len()
        )));
    }
    let ctx = state.session.io_context();
    let params = message
        .parameters
        .iter()
        .zip(param_types)
        .enumerate()
        .map(|(i, (raw, ty))| {
            let code = match codes.len() {
                0 => 0,
                1 => codes[0],
                _ => codes[i],
            };
            decode_param(raw.as_ref(), *ty, code, ctx, i + 1)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let formats = Formats::from_codes(&message.result_column_format_codes, columns)?;
    Ok(Portal {
        statement,
        formats,
        state: PortalState::Ready(params),
    })
}

fn decode_param(
    raw: Option<&Bytes>,
    ty: DataType,
    format: i16,
    ctx: &joltdb_engine::types::io::IoContext,
    position: usize,
) -> Result<Value, Error> {
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    match format {
        0 => {
            let text = std::str::from_utf8(raw).map_err(|_| {
                Error::new(
                    SqlState::CHARACTER_NOT_IN_REPERTOIRE,
                    "invalid byte sequence for encoding \"UTF8\"",
                )
            })?;
            parse_text(ty, text, ctx)
        }
        1 => decode_binary(ty, raw),
        other => Err(protocol_violation(format!(
            "unsupported format code: {other}"
        ))),
    }
    .map_err(|mut e| {
        if e.detail.is_none() {
            e.detail = Some(format!("in parameter ${position}"));
        }
        e
    })
}

async fn execute_portal<C>(
    client: &mut C,
    state: &mut ConnState,
    name: &str,
    max_rows: usize,
) -> Result<(), StepError>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let portal = state.portals.get_mut(name).ok_or_else(|| no_portal(name))?;
    let Some(prepared) = portal.statement.prepared.clone() else {
        if let Some(target) = portal.statement.deallocate.clone() {
            let done = crate::conn::deallocate(state, target)?;
            return send_command_complete(client, done).await;
        }
        client
            .feed(PgWireBackendMessage::EmptyQueryResponse(
                EmptyQueryResponse::new(),
            ))
            .await
            .map_err(PgWireError::from)?;
        return Ok(());
    };
    let formats = portal.formats.clone();
    let cursor = match std::mem::replace(&mut portal.state, PortalState::Done) {
        PortalState::Ready(params) => {
            state.session.cancel_token().take();
            // Everything up to Sync runs in one implicit transaction.
            state.session.begin_batch();
            match state.session.execute(&prepared, params).await? {
                Output::Command(done) => return send_command_complete(client, done).await,
                Output::Rows(cursor) => cursor,
                Output::CopyIn(copy) => {
                    return crate::copy::start_copy_in(client, state, copy, true).await
                }
                Output::CopyOut(copy) => {
                    return crate::copy::send_copy_out(client, state, copy).await
                }
            }
        }
        PortalState::Suspended(cursor) => cursor,
        PortalState::Done => {
            // PostgreSQL answers a re-run of a finished portal with an
            // empty completion.
            return send_command_complete(
                client,
                joltdb_engine::CommandComplete {
                    tag: if prepared.columns.is_empty() {
                        String::new()
                    } else {
                        "SELECT 0".to_owned()
                    },
                    ..Default::default()
                },
            )
            .await;
        }
    };
    if let Streamed::Suspended(cursor) =
        stream_rows(client, state, cursor, &formats, max_rows).await?
    {
        if let Some(portal) = state.portals.get_mut(name) {
            portal.state = PortalState::Suspended(cursor);
        }
    }
    Ok(())
}
