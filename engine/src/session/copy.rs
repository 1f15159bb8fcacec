//! COPY in a session: `COPY ... FROM STDIN` receives the client's data in
//! chunks, decodes and checks rows, and writes them in large batches inside
//! the statement's transaction; `COPY ... TO STDOUT` streams a query's rows
//! encoded as text or CSV.

use super::{Cursor, Session};
use crate::error::{Error, Result, SqlState};
use crate::sql::copy::{CopyDecoder, CopyEncoder, Record};
use crate::sql::exec::{self, StmtCtx};
use crate::sql::expr::{Env, Expr};
use crate::sql::plan::{BoundStatement, Command, CopyFromPlan};
use crate::txn::SnapshotGuard;
use crate::types::io::{parse_text, IoContext};
use crate::types::{Row, Value};
use crate::CommandComplete;
use std::sync::Arc;

/// Rows decoded before they are written as one batch.
const COPY_BATCH: usize = 8192;

/// A `COPY ... FROM STDIN` in progress: feed it the client's CopyData with
/// [`Session::copy_data`], then end it with [`Session::copy_done`] or
/// [`Session::copy_fail`].
pub struct CopyIn {
    bound: Arc<BoundStatement>,
    decoder: CopyDecoder,
    ctx: Arc<StmtCtx>,
    _snapshot: Arc<SnapshotGuard>,
    batch: Vec<Arc<Row>>,
    /// The input line of each row in `batch`, for error context.
    lines: Vec<u64>,
    count: u64,
    /// The COPY runs in its own transaction, committed when it ends.
    implicit: bool,
    /// Number of columns the data has.
    pub columns: usize,
}

/// A `COPY ... TO STDOUT`: fetch rows from `cursor` with
/// [`Session::fetch`] and encode each with [`CopyOut::encode`].
pub struct CopyOut {
    pub cursor: Cursor,
    encoder: CopyEncoder,
    column_names: Vec<String>,
}

impl CopyOut {
    pub fn columns(&self) -> usize {
        self.column_names.len()
    }

    /// The header line, when HEADER was asked for (else nothing).
    pub fn header(&mut self, out: &mut Vec<u8>) {
        self.encoder.header(&self.column_names, out);
    }

    /// Appends one encoded row, with its newline, to `out`.
    pub fn encode(&mut self, row: &[Value], io: &IoContext, out: &mut Vec<u8>) {
        self.encoder.row(row, io, out);
    }
}

fn copy_plan(bound: &BoundStatement) -> &CopyFromPlan {
    match &bound.command {
        Command::CopyFrom(plan) => plan,
        _ => unreachable!("a COPY FROM statement"),
    }
}

fn raw_text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// Turns one record into a checked table row.
fn convert(plan: &CopyFromPlan, rec: &Record<'_>, io: &IoContext, env: &Env) -> Result<Row> {
    let table = &plan.table;
    let name = &table.def.name;
    if rec.fields.len() != plan.columns.len() {
        let context = format!("COPY {name}, line {}: \"{}\"", rec.line, raw_text(rec.raw));
        let message = if rec.fields.len() < plan.columns.len() {
            let missing = plan.columns[rec.fields.len()];
            format!(
                "missing data for column \"{}\"",
                table.def.columns[missing].name
            )
        } else {
            "extra data after last expected column".to_string()
        };
        return Err(Error::new(SqlState::BAD_COPY_FILE_FORMAT, message).with_context(context));
    }
    let mut row: Row = vec![Value::Null; table.def.columns.len()];
    for (field, &ci) in rec.fields.iter().zip(&plan.columns) {
        if let Some(text) = field {
            let col = &table.def.columns[ci];
            row[ci] = parse_text(col.data_type, text, io).map_err(|e| {
                e.with_context(format!(
                    "COPY {name}, line {}, column {}: \"{text}\"",
                    rec.line, col.name
                ))
            })?;
        }
    }
    for (i, default) in plan.defaults.iter().enumerate() {
        match default {
            None | Some(Expr::Literal(Value::Null)) => {}
            Some(e) => row[i] = e.eval(&[], env)?,
        }
    }
    exec::prepare_row(table, row, env).map_err(|e| {
        if e.context.is_some() {
            e
        } else {
            e.with_context(format!(
                "COPY {name}, line {}: \"{}\"",
                rec.line,
                raw_text(rec.raw)
            ))
        }
    })
}

impl Session {
    pub(super) fn start_copy_in(&mut self, bound: &Arc<BoundStatement>) -> Result<CopyIn> {
        let plan = copy_plan(bound);
        let implicit = self.txn.is_none();
        if implicit {
            self.begin_txn(false, None);
        }
        let snapshot = self.statement_snapshot();
        let ctx = self.stmt_ctx(Vec::new(), snapshot.ts);
        Ok(CopyIn {
            decoder: CopyDecoder::new(plan.options.clone()),
            columns: plan.columns.len(),
            bound: bound.clone(),
            ctx,
            _snapshot: snapshot,
            batch: Vec::with_capacity(COPY_BATCH),
            lines: Vec::with_capacity(COPY_BATCH),
            count: 0,
            implicit,
        })
    }

    pub(super) fn start_copy_out(
        &mut self,
        bound: &Arc<BoundStatement>,
        params: Vec<Value>,
    ) -> Result<CopyOut> {
        let Command::CopyTo {
            plan,
            column_names,
            options,
        } = &bound.command
        else {
            unreachable!("a COPY TO statement")
        };
        let encoder = CopyEncoder::new(options.clone(), column_names)?;
        let mut cursor = self.open_cursor(plan.clone(), Vec::new(), params);
        cursor.tag_prefix = "COPY";
        Ok(CopyOut {
            cursor,
            encoder,
            column_names: column_names.clone(),
        })
    }

    /// Takes one CopyData message's bytes. On error the COPY is over (its
    /// transaction fails as any failed statement's does).
    pub async fn copy_data(&mut self, copy: &mut CopyIn, data: &[u8]) -> Result<()> {
        let result = self.copy_data_inner(copy, data, false).await;
        if result.is_err() {
            self.on_error();
        }
        result
    }

    /// Ends the COPY at the client's CopyDone: writes what is left and,
    /// outside a transaction block, commits.
    pub async fn copy_done(&mut self, mut copy: CopyIn) -> Result<CommandComplete> {
        let result = self.copy_data_inner(&mut copy, &[], true).await;
        if let Err(e) = result {
            self.on_error();
            return Err(e);
        }
        if copy.implicit && !self.batch {
            self.commit_txn().await?;
        }
        Ok(CommandComplete {
            tag: format!("COPY {}", copy.count),
            ..Default::default()
        })
    }

    /// The client gave up (CopyFail): the COPY fails with its message.
    pub fn copy_fail(&mut self, copy: CopyIn, message: &str) -> Error {
        drop(copy);
        self.on_error();
        Error::new(
            SqlState::QUERY_CANCELED,
            format!("COPY from stdin failed: {message}"),
        )
    }

    async fn copy_data_inner(&mut self, copy: &mut CopyIn, data: &[u8], last: bool) -> Result<()> {
        let CopyIn {
            bound,
            decoder,
            ctx,
            batch,
            lines,
            ..
        } = copy;
        let plan = copy_plan(bound);
        let env = Env { ctx, outer: &[] };
        let io = &self.io;
        let mut on_record = |rec: Record<'_>| -> Result<()> {
            batch.push(Arc::new(convert(plan, &rec, io, &env)?));
            lines.push(rec.line);
            Ok(())
        };
        let in_copy = |mut e: Error| {
            if let Some(c) = e.context.as_ref().filter(|c| c.starts_with("line ")) {
                e.context = Some(format!("COPY {}, {c}", plan.table.def.name));
            }
            e
        };
        // Decode in slices so a huge message does not build a huge batch.
        for chunk in data.chunks(1 << 20) {
            decoder.feed(chunk, &mut on_record).map_err(in_copy)?;
        }
        if last {
            decoder.finish(&mut on_record).map_err(in_copy)?;
        }
        if batch.len() >= COPY_BATCH || (last && !batch.is_empty()) {
            self.write_copy_batch(copy).await?;
        }
        Ok(())
    }

    async fn write_copy_batch(&mut self, copy: &mut CopyIn) -> Result<()> {
        copy.ctx.check_interrupt()?;
        let table = &copy_plan(&copy.bound).table;
        let mut done = 0;
        loop {
            let result = exec::run_blocking(true, || {
                exec::insert_prepared(table, &copy.batch, &copy.ctx, &mut done)
            });
            match result {
                Ok(()) => break,
                Err(e) if e.retry_after.is_some() => match e.retry_after {
                    Some(holder) if holder != 0 => self.wait_for(holder, &copy.ctx).await?,
                    _ => {
                        copy.ctx.check_interrupt()?;
                        tokio::task::yield_now().await;
                    }
                },
                Err(e) => {
                    return Err(if e.context.is_some() {
                        e
                    } else {
                        let line = copy.lines.get(done).copied().unwrap_or(0);
                        e.with_context(format!("COPY {}, line {line}", table.def.name))
                    })
                }
            }
        }
        copy.count += copy.batch.len() as u64;
        copy.batch.clear();
        copy.lines.clear();
        Ok(())
    }
}
