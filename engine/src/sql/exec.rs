//! The executor: runs plans as pull-based cursors (rows are produced as the
//! client fetches them) and applies INSERT/UPDATE/DELETE as write intents
//! of the current transaction.

use super::expr::{AggCall, AggFunc, Env, Expr, SpecialFunc, Subquery};
use super::memory::row_bytes;
use super::plan::*;
use crate::catalog::Table;
use crate::engine::EngineInner;
use crate::error::{Error, Result, SqlState};
use crate::session::CancelToken;
use crate::storage::{
    prefix_bounds, Key, TableStore, Ts, TxnId, WriteCtx, WriteKind, WriteOutcome,
};
use crate::txn::WriteEntry;
use crate::types::cast::assign;
use crate::types::keys::encode_key;
use crate::types::value::{eval_binary, BinaryOp};
use crate::types::{DataType, Row, Value};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Instant;

mod dml_join;
mod fk;
mod lateral;
mod project_set;
mod variance;
mod window;
pub use fk::check_existing_references;
pub use variance::VarianceKind;

/// Everything a statement runs with.
pub struct StmtCtx {
    pub engine: Arc<EngineInner>,
    pub txn: TxnId,
    pub snapshot: Ts,
    pub snapshot_isolation: bool,
    pub params: Vec<Value>,
    pub writes: Arc<Mutex<Vec<WriteEntry>>>,
    pub txn_start: DateTime<Utc>,
    pub stmt_start: DateTime<Utc>,
    pub user: String,
    pub database: String,
    pub settings: Arc<HashMap<String, String>>,
    pub currvals: Arc<Mutex<HashMap<String, i64>>>,
    pub cancel: CancelToken,
    pub deadline: Option<Instant>,
    pub subquery_cache: Mutex<HashMap<usize, Arc<Vec<Row>>>>,
    /// The current round's rows of each recursive CTE being evaluated.
    pub work_tables: Mutex<HashMap<usize, Arc<Vec<Row>>>>,
    /// Units of work done, for periodic interrupt checks.
    pub ticks: std::sync::atomic::AtomicU64,
    /// Memory the statement's sorts, joins and aggregates may hold.
    pub memory: super::memory::MemoryBudget,
}

impl StmtCtx {
    fn write_ctx(&self) -> WriteCtx {
        WriteCtx {
            txn: self.txn,
            snapshot: self.snapshot,
            snapshot_isolation: self.snapshot_isolation,
        }
    }

    /// Counts one unit of work (a row examined, a pair of rows joined) and
    /// checks for cancellation every few thousand.
    pub fn tick(&self) -> Result<()> {
        let n = self
            .ticks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n.is_multiple_of(4096) {
            self.check_interrupt()?;
        }
        Ok(())
    }

    /// Fails with 57014 when the statement was cancelled or timed out.
    pub fn check_interrupt(&self) -> Result<()> {
        if self.cancel.take() {
            return Err(Error::new(
                SqlState::QUERY_CANCELED,
                "canceling statement due to user request",
            ));
        }
        if let Some(d) = self.deadline {
            if Instant::now() >= d {
                return Err(Error::new(
                    SqlState::QUERY_CANCELED,
                    "canceling statement due to statement timeout",
                ));
            }
        }
        Ok(())
    }
}

pub fn eval_special(f: SpecialFunc, args: &[Value], ctx: &StmtCtx) -> Result<Value> {
    let text_arg = |i: usize| -> Result<String> {
        match args.get(i) {
            Some(Value::Text(s)) => Ok(s.clone()),
            Some(Value::Null) | None => Err(Error::new(
                SqlState::NULL_VALUE_NOT_ALLOWED,
                "argument must not be null",
            )),
            Some(other) => Ok(format!("{other:?}")),
        }
    };
    Ok(match f {
        SpecialFunc::Now => Value::TimestampTz(ctx.txn_start),
        SpecialFunc::StatementTimestamp => Value::TimestampTz(ctx.stmt_start),
        SpecialFunc::ClockTimestamp => Value::TimestampTz(Utc::now()),
        SpecialFunc::CurrentDate => Value::Date(ctx.txn_start.date_naive()),
        SpecialFunc::LocalTimestamp => Value::Timestamp(ctx.txn_start.naive_utc()),
        SpecialFunc::Version => Value::Text(crate::engine::version_string()),
        SpecialFunc::CurrentUser => Value::Text(ctx.user.clone()),
        SpecialFunc::SessionUser => Value::Text(
            ctx.settings
                .get("session_authorization")
                .cloned()
                .unwrap_or_else(|| ctx.user.clone()),
        ),
        SpecialFunc::CurrentDatabase => Value::Text(ctx.database.clone()),
        SpecialFunc::CurrentSchema => Value::Text("public".into()),
        SpecialFunc::CurrentSetting => {
            let name = text_arg(0)?.to_lowercase();
            match ctx.settings.get(&name) {
                Some(v) => Value::Text(v.clone()),
                None => {
                    let missing_ok =
                        matches!(args.get(1), Some(Value::Text(s)) if s == "true" || s == "t");
                    if missing_ok {
                        Value::Null
                    } else {
                        return Err(Error::new(
                            SqlState::UNDEFINED_OBJECT,
                            format!("unrecognized configuration parameter \"{name}\""),
                        ));
                    }
                }
            }
        }
        SpecialFunc::Nextval => {
            let name = sequence_name(&text_arg(0)?);
            let v = ctx.engine.nextval(&name)?;
            let mut currvals = ctx.currvals.lock();
            currvals.insert(name, v);
            currvals.insert(LASTVAL_KEY.into(), v);
            Value::Int8(v)
        }
        SpecialFunc::Currval => {
            let name = sequence_name(&text_arg(0)?);
            ctx.engine.sequence(&name)?;
            match ctx.currvals.lock().get(&name) {
                Some(v) => Value::Int8(*v),
                None => {
                    return Err(Error::new(
                        SqlState("55000"),
                        format!(
                            "currval of sequence \"{name}\" is not yet defined in this session"
                        ),
                    ))
                }
            }
        }
        SpecialFunc::Lastval => match ctx.currvals.lock().get(LASTVAL_KEY) {
            Some(v) => Value::Int8(*v),
            None => {
                return Err(Error::new(
                    SqlState("55000"),
                    "lastval is not yet defined in this session",
                ))
            }
        },
        SpecialFunc::Setval => {
            let name = sequence_name(&text_arg(0)?);
            let v = args.get(1).and_then(Value::as_i64).ok_or_else(|| {
                Error::new(
                    SqlState::NULL_VALUE_NOT_ALLOWED,
                    "setval value must not be null",
                )
            })?;
            let called = args.get(2).and_then(Value::as_bool).unwrap_or(true);
            ctx.engine.setval(&name, v, called)?;
            if called {
                ctx.currvals.lock().insert(name, v);
            }
            Value::Int8(v)
        }
        SpecialFunc::TxidCurrent => Value::Int8(ctx.txn as i64),
        SpecialFunc::Catalog(f) => crate::syscat::functions::eval(f, args, ctx)?,
    })
}

/// Where a session's per-sequence currval map keeps the value lastval()
/// returns (no sequence can have an empty name).
const LASTVAL_KEY: &str = "";

fn sequence_name(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_prefix("public.").unwrap_or(s);
    if let Some(q) = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        q.to_string()
    } else {
        s.to_lowercase()
    }
}

pub fn run_subquery(
    sq: &Subquery,
    row: &[Value],
    env: &Env,
    limit: Option<usize>,
) -> Result<Arc<Vec<Row>>> {
    if !sq.correlated {
        if let Some(rows) = env.ctx.subquery_cache.lock().get(&sq.id) {
            return Ok(rows.clone());
        }
    }
    let mut outer = env.outer.to_vec();
    outer.push(row.to_vec());
    let mark = env.ctx.memory.used();
    let mut cursor = Cursor::new(sq.plan.clone(), env.ctx.clone(), outer);
    let mut rows = Vec::new();
    let limit = if sq.correlated { limit } else { None };
    while let Some(r) = cursor.next_row()? {
        env.ctx.memory.charge(row_bytes(&r))?;
        rows.push(r);
        if limit.is_some_and(|l| rows.len() >= l) {
            break;
        }
    }
    drop(cursor);
    let rows = Arc::new(rows);
    if sq.correlated {
        // Used once and dropped by the caller: a correlated subquery runs
        // for every outer row and must not add up.
        env.ctx.memory.release_to(mark);
    } else {
        env.ctx.subquery_cache.lock().insert(sq.id, rows.clone());
    }
    Ok(rows)
}

/// Whether running a plan may take long (whole-table scans, sorts,
/// aggregates, joins): such work must not occupy an async worker thread.
pub fn is_heavy(plan: &Plan) -> bool {
    match plan {
        Plan::Values { .. } => false,
        Plan::FunctionScan { .. } => true,
        Plan::Scan { access, .. } => matches!(
            access,
            Access::Full | Access::PkRange { .. } | Access::IndexRange { .. }
        ),
        Plan::Filter { input, .. } | Plan::Project { input, .. } | Plan::Limit { input, .. } => {
            is_heavy(input)
        }
        Plan::ProjectSet { .. } | Plan::Lateral { .. } => true,
        Plan::NestedLoop { .. }
        | Plan::HashJoin { .. }
        | Plan::Aggregate { .. }
        | Plan::Sort { .. }
        | Plan::Distinct { .. }
        | Plan::SetOp { .. }
        | Plan::RecursiveUnion { .. }
        | Plan::WorkTable { .. }
        | Plan::Window { .. }
        | Plan::DistinctOn { .. } => true,
        Plan::SystemScan { .. } => false,
    }
}

/// Runs `f` where blocking is allowed: on a multi-threaded runtime the
/// worker hands its other tasks to another thread first.
pub fn run_blocking<T>(heavy: bool, f: impl FnOnce() -> T) -> T {
    if heavy
        && tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
    {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// An open plan: `next` produces one row at a time.
pub struct Cursor {
    plan: Arc<Plan>,
    state: Node,
    ctx: Arc<StmtCtx>,
    outer: Vec<Row>,
    produced: u64,
}

impl Cursor {
    pub fn new(plan: Arc<Plan>, ctx: Arc<StmtCtx>, outer: Vec<Row>) -> Cursor {
        let state = Node::new(&plan);
        Cursor {
            plan,
            state,
            ctx,
            outer,
            produced: 0,
        }
    }

    pub fn next_row(&mut self) -> Result<Option<Row>> {
        let env = Env {
            ctx: &self.ctx,
            outer: &self.outer,
        };
        let r = self.state.next(&self.plan, &env)?;
        if r.is_some() {
            self.produced += 1;
            if self.produced.is_multiple_of(1024) {
                self.ctx.check_interrupt()?;
            }
        }
        Ok(r)
    }

    pub fn ctx(&self) -> &Arc<StmtCtx> {
        &self.ctx
    }
}

/// Execution state mirroring a plan node.
enum Node {
    Values(usize),
    Scan(Box<ScanState>),
    /// The running call and how many rows it produced.
    FunctionScan(Option<super::srf::SetIter>, i64),
    Filter(Box<Node>),
    Project(Box<Node>),
    ProjectSet {
        input: Box<Node>,
        current: Option<project_set::Expanding>,
    },
    Lateral {
        left: Box<Node>,
        state: lateral::LateralState,
    },
    Join {
        left: Box<Node>,
        right: Option<JoinSide>,
        queue: VecDeque<Row>,
        left_done: bool,
    },
    /// Sort, aggregate, distinct, set operations: computed in full on the
    /// first fetch.
    Materialized(Option<std::vec::IntoIter<Row>>),
    Limit {
        input: Box<Node>,
        remaining: Option<u64>,
        started: bool,
    },
}

struct JoinSide {
    rows: Vec<Row>,
    matched: Vec<bool>,
    hash: Option<HashMap<Vec<Value>, Vec<usize>>>,
}

impl Node {
    fn new(plan: &Plan) -> Node {
        match plan {
            Plan::Values { .. } => Node::Values(0),
            Plan::FunctionScan { .. } => Node::FunctionScan(None, 0),
            Plan::Scan { .. } => Node::Scan(Box::default()),
            Plan::Filter { input, .. } => Node::Filter(Box::new(Node::new(input))),
            Plan::Project { input, .. } => Node::Project(Box::new(Node::new(input))),
            Plan::ProjectSet { input, .. } => Node::ProjectSet {
                input: Box::new(Node::new(input)),
                current: None,
            },
            Plan::Lateral { left, .. } => Node::Lateral {
                left: Box::new(Node::new(left)),
                state: Default::default(),
            },
            Plan::NestedLoop { left, .. } | Plan::HashJoin { left, .. } => Node::Join {
                left: Box::new(Node::new(left)),
                right: None,
                queue: VecDeque::new(),
                left_done: false,
            },
            Plan::Aggregate { .. }
            | Plan::Sort { .. }
            | Plan::Distinct { .. }
            | Plan::SetOp { .. }
            | Plan::RecursiveUnion { .. }
            | Plan::WorkTable { .. }
            | Plan::Window { .. }
            | Plan::DistinctOn { .. }
            | Plan::SystemScan { .. } => Node::Materialized(None),
            Plan::Limit { input, .. } => Node::Limit {
                input: Box::new(Node::new(input)),
                remaining: None,
                started: false,
            },
        }
    }

    fn next(&mut self, plan: &Plan, env: &Env) -> Result<Option<Row>> {
        match (self, plan) {
            (
                Node::FunctionScan(state, produced),
                Plan::FunctionScan {
                    func,
                    args,
                    ordinality,
                },
            ) => {
                if state.is_none() {
                    let values = args
                        .iter()
                        .map(|e| e.eval(&[], env))
                        .collect::<Result<Vec<_>>>()?;
                    *state = Some(super::srf::SetIter::start(*func, values)?);
                }
                let Some(it) = state.as_mut() else {
                    return Ok(None);
                };
                env.ctx.tick()?;
                let Some(mut row) = it.next_row()? else {
                    return Ok(None);
                };
                *produced += 1;
                if *ordinality {
                    row.push(Value::Int8(*produced));
                }
                Ok(Some(row))
            }
            (Node::Values(i), Plan::Values { rows }) => {
                if *i >= rows.len() {
                    return Ok(None);
                }
                let r = rows[*i]
                    .iter()
                    .map(|e| e.eval(&[], env))
                    .collect::<Result<Row>>()?;
                *i += 1;
                Ok(Some(r))
            }
            (
                Node::Scan(s),
                Plan::Scan {
                    table,
                    access,
                    filter,
                },
            ) => loop {
                if let Some((_, _, row)) = s.next(table, access, env)? {
                    env.ctx.tick()?;
                    if let Some(f) = filter {
                        if !f.eval_pred(&row, env)? {
                            continue;
                        }
                    }
                    return Ok(Some(Arc::unwrap_or_clone(row)));
                }
                return Ok(None);
            },
            (
                Node::Filter(input),
                Plan::Filter {
                    input: p,
                    predicate,
                },
            ) => loop {
                env.ctx.tick()?;
                match input.next(p, env)? {
                    None => return Ok(None),
                    Some(r) => {
                        if predicate.eval_pred(&r, env)? {
                            return Ok(Some(r));
                        }
                    }
                }
            },
            (Node::Project(input), Plan::Project { input: p, exprs }) => {
                match input.next(p, env)? {
                    None => Ok(None),
                    Some(r) => Ok(Some(
                        exprs
                            .iter()
                            .map(|e| e.eval(&r, env))
                            .collect::<Result<Row>>()?,
                    )),
                }
            }
            (
                Node::Lateral { left, state },
                Plan::Lateral {
                    left: lp,
                    right,
                    kind,
                    on,
                    right_width,
                },
            ) => lateral::next(
                left,
                lp,
                right,
                (*kind, on.as_ref(), *right_width),
                state,
                env,
            ),
            (Node::ProjectSet { input, current }, Plan::ProjectSet { input: p, calls }) => {
                project_set::next(input, p, calls, current, env)
            }
            (
                Node::Join {
                    left,
                    right,
                    queue,
                    left_done,
                },
                plan @ (Plan::NestedLoop { .. } | Plan::HashJoin { .. }),
            ) => join_next(left, right, queue, left_done, plan, env),
            (Node::Materialized(state), plan) => {
                if state.is_none() {
                    *state = Some(materialize(plan, env)?.into_iter());
                }
                Ok(state.as_mut().unwrap().next())
            }
            (
                Node::Limit {
                    input,
                    remaining,
                    started,
                },
                Plan::Limit {
                    input: p,
                    limit,
                    offset,
                },
            ) => {
                if !*started {
                    *started = true;
                    let count = |e: &Option<Expr>| -> Result<Option<i64>> {
                        match e {
                            None => Ok(None),
                            Some(e) => match e.eval(&[], env)? {
                                Value::Null => Ok(None),
                                v => Ok(v.as_i64()),
                            },
                        }
                    };
                    let off = count(offset)?.unwrap_or(0);
                    if off < 0 {
                        return Err(Error::new(SqlState("2201X"), "OFFSET must not be negative"));
                    }
                    let lim = count(limit)?;
                    if lim.is_some_and(|l| l < 0) {
                        return Err(Error::new(SqlState("2201W"), "LIMIT must not be negative"));
                    }
                    *remaining = lim.map(|l| l as u64);
                    for _ in 0..off {
                        if input.next(p, env)?.is_none() {
                            break;
                        }
                    }
                }
                if *remaining == Some(0) {
                    return Ok(None);
                }
                let r = input.next(p, env)?;
                if r.is_some() {
                    if let Some(n) = remaining {
                        *n -= 1;
                    }
                }
                Ok(r)
            }
            _ => Err(Error::internal("plan and execution state do not match")),
        }
    }
}

fn drain(plan: &Plan, env: &Env) -> Result<Vec<Row>> {
    let mut node = Node::new(plan);
    let mut out = Vec::new();
    while let Some(r) = node.next(plan, env)? {
        env.ctx.memory.charge(row_bytes(&r))?;
        out.push(r);
        if out.len().is_multiple_of(4096) {
            env.ctx.check_interrupt()?;
        }
    }
    Ok(out)
}

fn join_next(
    left: &mut Node,
    right: &mut Option<JoinSide>,
    queue: &mut VecDeque<Row>,
    left_done: &mut bool,
    plan: &Plan,
    env: &Env,
) -> Result<Option<Row>> {
    let (lplan, rplan, kind, lw, rw) = match plan {
        Plan::NestedLoop {
            left,
            right,
            kind,
            left_width,
            right_width,
            ..
        }
        | Plan::HashJoin {
            left,
            right,
            kind,
            left_width,
            right_width,
            ..
        } => (left, right, *kind, *left_width, *right_width),
        _ => unreachable!(),
    };
    if right.is_none() {
        let rows = drain(rplan, env)?;
        let hash = match plan {
            Plan::HashJoin { right_keys, .. } => {
                let mut h: HashMap<Vec<Value>, Vec<usize>> = HashMap::new();
                for (i, r) in rows.iter().enumerate() {
                    let k = right_keys
                        .iter()
                        .map(|e| e.eval(r, env))
                        .collect::<Result<Vec<_>>>()?;
                    if k.iter().any(Value::is_null) {
                        continue;
                    }
                    env.ctx.memory.charge(row_bytes(&k))?;
                    h.entry(k).or_default().push(i);
                }
                Some(h)
            }
            _ => None,
        };
        *right = Some(JoinSide {
            matched: vec![false; rows.len()],
            rows,
            hash,
        });
    }
    let side = right.as_mut().unwrap();
    loop {
        if let Some(r) = queue.pop_front() {
            return Ok(Some(r));
        }
        if *left_done {
            return Ok(None);
        }
        match left.next(lplan, env)? {
            None => {
                *left_done = true;
                if matches!(kind, JoinKind::Right | JoinKind::Full) {
                    for (i, r) in side.rows.iter().enumerate() {
                        if !side.matched[i] {
                            let mut row = vec![Value::Null; lw];
                            row.extend(r.iter().cloned());
                            queue.push_back(row);
                        }
                    }
                }
            }
            Some(lrow) => {
                env.ctx.tick()?;
                let candidates: Vec<usize> = match (plan, &side.hash) {
                    (Plan::HashJoin { left_keys, .. }, Some(h)) => {
                        let k = left_keys
                            .iter()
                            .map(|e| e.eval(&lrow, env))
                            .collect::<Result<Vec<_>>>()?;
                        if k.iter().any(Value::is_null) {
                            vec![]
                        } else {
                            h.get(&k).cloned().unwrap_or_default()
                        }
                    }
                    _ => (0..side.rows.len()).collect(),
                };
                let cond = match plan {
                    Plan::NestedLoop { on, .. } => on.as_ref(),
                    Plan::HashJoin { residual, .. } => residual.as_ref(),
                    _ => None,
                };
                let mut any = false;
                for i in candidates {
                    env.ctx.tick()?;
                    let mut row = lrow.clone();
                    row.extend(side.rows[i].iter().cloned());
                    if let Some(c) = cond {
                        if !c.eval_pred(&row, env)? {
                            continue;
                        }
                    }
                    any = true;
                    side.matched[i] = true;
                    queue.push_back(row);
                }
                if !any && matches!(kind, JoinKind::Left | JoinKind::Full) {
                    let mut row = lrow;
                    row.extend(std::iter::repeat_n(Value::Null, rw));
                    queue.push_back(row);
                }
            }
        }
    }
}

/// Values compared column by column, ascending with NULLs last.
fn compare_ascending(a: &[Value], b: &[Value]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => x.total_cmp(y),
        })
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

fn compare_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> Ordering {
    for (i, k) in keys.iter().enumerate() {
        let (x, y) = (&a[i], &b[i]);
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => {
                let o = x.total_cmp(y);
                if k.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn materialize(plan: &Plan, env: &Env) -> Result<Vec<Row>> {
    match plan {
        Plan::Sort { input, keys } => {
            let rows = drain(input, env)?;
            let mut keyed: Vec<(Vec<Value>, Row)> = rows
                .into_iter()
                .map(|r| {
                    let k = keys
                        .iter()
                        .map(|k| k.expr.eval(&r, env))
                        .collect::<Result<Vec<_>>>()?;
                    env.ctx.memory.charge(row_bytes(&k))?;
                    Ok((k, r))
                })
                .collect::<Result<_>>()?;
            keyed.sort_by(|a, b| compare_keys(&a.0, &b.0, keys));
            Ok(keyed.into_iter().map(|(_, r)| r).collect())
        }
        Plan::Distinct { input } => {
            let rows = drain(input, env)?;
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for r in rows {
                if seen.insert(r.clone()) {
                    env.ctx.memory.charge(row_bytes(&r))?;
                    out.push(r);
                }
            }
            Ok(out)
        }
        Plan::SetOp {
            left,
            right,
            kind,
            all,
        } => {
            let l = drain(left, env)?;
            let r = drain(right, env)?;
            // The set operation keeps about one more copy of its inputs.
            env.ctx
                .memory
                .charge(l.iter().chain(&r).map(|x| row_bytes(x)).sum())?;
            Ok(set_op(l, r, *kind, *all))
        }
        Plan::Aggregate { input, group, aggs } => aggregate(input, group, aggs, env),
        Plan::RecursiveUnion {
            anchor,
            recursive,
            all,
            id,
        } => recursive_union(anchor, recursive, *all, *id, env),
        Plan::DistinctOn { input, keys } => {
            let rows = drain(input, env)?;
            let mut seen = HashSet::new();
            Ok(rows
                .into_iter()
                .filter(|r| seen.insert(keys.iter().map(|&k| r[k].clone()).collect::<Vec<_>>()))
                .collect())
        }
        Plan::Window { input, calls } => window::evaluate(drain(input, env)?, calls, env),
        Plan::WorkTable { id } => Ok(env
            .ctx
            .work_tables
            .lock()
            .get(id)
            .map(|rows| rows.as_ref().clone())
            .unwrap_or_default()),
        Plan::SystemScan { table } => Ok(crate::syscat::rows(table, env.ctx)),
        _ => Err(Error::internal("not a materializing plan")),
    }
}

/// Evaluates WITH RECURSIVE: rounds of the recursive term over the
/// previous round's new rows until a round adds none. Each round checks
/// for cancellation and statement_timeout, so a query that never ends
/// can be stopped.
fn recursive_union(
    anchor: &Plan,
    recursive: &Plan,
    all: bool,
    id: usize,
    env: &Env,
) -> Result<Vec<Row>> {
    let mut seen: HashSet<Row> = HashSet::new();
    let fresh = |rows: Vec<Row>, seen: &mut HashSet<Row>| -> Vec<Row> {
        if all {
            rows
        } else {
            rows.into_iter()
                .filter(|r| seen.insert(r.clone()))
                .collect()
        }
    };
    let mut out = fresh(drain(anchor, env)?, &mut seen);
    let mut work = out.clone();
    while !work.is_empty() {
        env.ctx.check_interrupt()?;
        env.ctx.work_tables.lock().insert(id, Arc::new(work));
        let next = drain(recursive, env);
        env.ctx.work_tables.lock().remove(&id);
        work = fresh(next?, &mut seen);
        out.extend(work.iter().cloned());
    }
    Ok(out)
}

fn set_op(l: Vec<Row>, r: Vec<Row>, kind: SetOpKind, all: bool) -> Vec<Row> {
    match (kind, all) {
        (SetOpKind::Union, true) => l.into_iter().chain(r).collect(),
        (SetOpKind::Union, false) => {
            let mut seen = HashSet::new();
            l.into_iter()
                .chain(r)
                .filter(|x| seen.insert(x.clone()))
                .collect()
        }
        (SetOpKind::Intersect | SetOpKind::Except, _) => {
            let mut counts: HashMap<Row, usize> = HashMap::new();
            for x in r {
                *counts.entry(x).or_default() += 1;
            }
            let mut out = Vec::new();
            let mut emitted: HashSet<Row> = HashSet::new();
            for x in l {
                let c = counts.get_mut(&x);
                let in_right = c.as_ref().is_some_and(|c| **c > 0);
                let keep = match kind {
                    SetOpKind::Intersect => in_right,
                    _ => !in_right,
                };
                if all {
                    if let Some(c) = c {
                        if *c > 0 {
                            *c -= 1;
                        }
                    }
                    if keep {
                        out.push(x);
                    }
                } else if keep && emitted.insert(x.clone()) {
                    out.push(x);
                }
            }
            out
        }
    }
}

#[derive(Clone)]
enum AggState {
    Count(i64),
    Sum(Option<Value>),
    Avg(Option<Value>, i64),
    MinMax(Option<Value>),
    Bool(Option<bool>),
    StringAgg(Option<String>),
    ArrayAgg(Option<Vec<Value>>),
    Variance(variance::VarianceState),
}

fn agg_init(call: &AggCall) -> AggState {
    match call.func {
        AggFunc::CountStar | AggFunc::Count => AggState::Count(0),
        AggFunc::Sum => AggState::Sum(None),
        AggFunc::Avg => AggState::Avg(None, 0),
        AggFunc::Min | AggFunc::Max => AggState::MinMax(None),
        AggFunc::BoolAnd | AggFunc::BoolOr => AggState::Bool(None),
        AggFunc::StringAgg => AggState::StringAgg(None),
        AggFunc::ArrayAgg => AggState::ArrayAgg(None),
        AggFunc::Variance(_) => AggState::Variance(variance::VarianceState::new(
            call.result_type == DataType::Float8,
        )),
    }
}

/// Widens a value to the type sums accumulate in.
fn sum_input(v: Value, result: DataType) -> Value {
    match (v, result) {
        (Value::Int2(i), DataType::Int8) => Value::Int8(i as i64),
        (Value::Int4(i), DataType::Int8) => Value::Int8(i as i64),
        (Value::Int2(i), DataType::Numeric(_)) => Value::Numeric(Decimal::from(i)),
        (Value::Int4(i), DataType::Numeric(_)) => Value::Numeric(Decimal::from(i)),
        (Value::Int8(i), DataType::Numeric(_)) => Value::Numeric(Decimal::from(i)),
        (Value::Float4(f), DataType::Float8) => Value::Float8(f as f64),
        (v, _) => v,
    }
}

fn agg_update(state: &mut AggState, call: &AggCall, args: &[Value]) -> Result<()> {
    if call.func == AggFunc::CountStar {
        if let AggState::Count(n) = state {
            *n += 1;
        }
        return Ok(());
    }
    let v = &args[0];
    if let AggState::ArrayAgg(acc) = state {
        // array_agg keeps NULL inputs.
        acc.get_or_insert_with(Vec::new).push(v.clone());
        return Ok(());
    }
    if v.is_null() {
        return Ok(());
    }
    match state {
        AggState::Count(n) => *n += 1,
        AggState::Sum(acc) => {
            let v = sum_input(v.clone(), call.result_type);
            *acc = Some(match acc.take() {
                None => v,
                Some(a) => eval_binary(BinaryOp::Add, &a, &v)?,
            });
        }
        AggState::Avg(acc, n) => {
            let v = sum_input(v.clone(), call.result_type);
            *acc = Some(match acc.take() {
                None => v,
                Some(a) => eval_binary(BinaryOp::Add, &a, &v)?,
            });
            *n += 1;
        }
        AggState::MinMax(acc) => {
            let replace = match acc {
                None => true,
                Some(a) => {
                    let o = v.total_cmp(a);
                    if call.func == AggFunc::Min {
                        o == Ordering::Less
                    } else {
                        o == Ordering::Greater
                    }
                }
            };
            if replace {
                *acc = Some(v.clone());
            }
        }
        AggState::Bool(acc) => {
            let b = v.as_bool().unwrap_or(false);
            *acc = Some(match (acc.take(), call.func) {
                (None, _) => b,
                (Some(a), AggFunc::BoolAnd) => a && b,
                (Some(a), _) => a || b,
            });
        }
        AggState::StringAgg(acc) => {
            let s = v.as_str().unwrap_or_default();
            match acc {
                None => *acc = Some(s.to_string()),
                Some(a) => {
                    if let Some(d) = args.get(1).and_then(Value::as_str) {
                        a.push_str(d);
                    }
                    a.push_str(s);
                }
            }
        }
        AggState::ArrayAgg(_) => {}
        AggState::Variance(acc) => acc.add(v)?,
    }
    Ok(())
}

fn agg_final(state: AggState, call: &AggCall) -> Result<Value> {
    Ok(match state {
        AggState::Count(n) => Value::Int8(n),
        AggState::Sum(v) => v.unwrap_or(Value::Null),
        AggState::Avg(None, _) => Value::Null,
        AggState::Avg(Some(sum), n) => match call.result_type {
            DataType::Numeric(_) => {
                eval_binary(BinaryOp::Div, &sum, &Value::Numeric(Decimal::from(n)))?
            }
            DataType::Interval => eval_binary(BinaryOp::Div, &sum, &Value::Float8(n as f64))?,
            _ => eval_binary(BinaryOp::Div, &sum, &Value::Float8(n as f64))?,
        },
        AggState::MinMax(v) => v.unwrap_or(Value::Null),
        AggState::Bool(b) => b.map(Value::Bool).unwrap_or(Value::Null),
        AggState::StringAgg(s) => s.map(Value::Text).unwrap_or(Value::Null),
        AggState::ArrayAgg(items) => items.map(Value::Array).unwrap_or(Value::Null),
        AggState::Variance(acc) => match call.func {
            AggFunc::Variance(kind) => acc.finish(kind)?,
            _ => return Err(Error::internal("variance state of another aggregate")),
        },
    })
}

/// Inputs of an ordered aggregate (`agg(x ORDER BY y)`) held until the
/// group is complete: (sort key values, argument values).
type OrderedInputs = Vec<(Vec<Value>, Vec<Value>)>;

/// One group: its key, aggregate states, the argument values seen by each
/// DISTINCT aggregate, and the held inputs of each ordered aggregate.
type Group = (
    Vec<Value>,
    Vec<AggState>,
    Vec<HashSet<Vec<Value>>>,
    Vec<OrderedInputs>,
);

fn aggregate(input: &Plan, group: &[Expr], aggs: &[AggCall], env: &Env) -> Result<Vec<Row>> {
    let mut index: HashMap<Vec<Value>, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut node = Node::new(input);
    let mut n = 0u64;
    while let Some(row) = node.next(input, env)? {
        n += 1;
        if n.is_multiple_of(4096) {
            env.ctx.check_interrupt()?;
        }
        let key = group
            .iter()
            .map(|g| g.eval(&row, env))
            .collect::<Result<Vec<_>>>()?;
        let gi = match index.get(&key) {
            Some(&i) => i,
            None => {
                // The key is held twice (index and group) plus the states.
                env.ctx
                    .memory
                    .charge(2 * row_bytes(&key) + aggs.len() * std::mem::size_of::<AggState>())?;
                groups.push((
                    key.clone(),
                    aggs.iter().map(agg_init).collect(),
                    aggs.iter().map(|_| HashSet::new()).collect(),
                    aggs.iter().map(|_| Vec::new()).collect(),
                ));
                index.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        let g = &mut groups[gi];
        for (ai, call) in aggs.iter().enumerate() {
            if let Some(filter) = &call.filter {
                if !filter.eval_pred(&row, env)? {
                    continue;
                }
            }
            let args = call
                .args
                .iter()
                .map(|a| a.eval(&row, env))
                .collect::<Result<Vec<_>>>()?;
            if call.distinct {
                if !g.2[ai].insert(args.clone()) {
                    continue;
                }
                env.ctx.memory.charge(row_bytes(&args))?;
            }
            if !call.order_by.is_empty() {
                let keys = call
                    .order_by
                    .iter()
                    .map(|k| k.expr.eval(&row, env))
                    .collect::<Result<Vec<_>>>()?;
                g.3[ai].push((keys, args));
                continue;
            }
            if call.distinct {
                // As in PostgreSQL, a DISTINCT aggregate sees its inputs
                // sorted (ascending, NULLs last) unless it has an ORDER BY.
                env.ctx.memory.charge(row_bytes(&args))?;
                g.3[ai].push((args.clone(), args));
                continue;
            }
            agg_update(&mut g.1[ai], call, &args)?;
        }
    }
    if groups.is_empty() && group.is_empty() {
        groups.push((
            vec![],
            aggs.iter().map(agg_init).collect(),
            vec![],
            aggs.iter().map(|_| Vec::new()).collect(),
        ));
    }
    let mut out = Vec::with_capacity(groups.len());
    for (key, states, _, held) in groups {
        let mut row = key;
        for ((mut s, call), mut inputs) in states.into_iter().zip(aggs).zip(held) {
            if call.order_by.is_empty() {
                inputs.sort_by(|a, b| compare_ascending(&a.0, &b.0));
            } else {
                inputs.sort_by(|a, b| compare_keys(&a.0, &b.0, &call.order_by));
            }
            for (_, args) in &inputs {
                agg_update(&mut s, call, args)?;
            }
            row.push(agg_final(s, call)?);
        }
        out.push(row);
    }
    Ok(out)
}

/// Scan position: which partition, where to resume, buffered rows.
#[derive(Default)]
struct ScanState {
    started: bool,
    partition: usize,
    resume: Option<Key>,
    partition_done: bool,
    lower: Option<Bound<Key>>,
    upper: Option<Bound<Key>>,
    buffer: VecDeque<(u16, Key, Arc<Row>)>,
    /// Index / point access: the (row key, partition) candidates.
    candidates: Option<VecDeque<(Key, u16)>>,
    finished: bool,
}

const SCAN_BATCH: usize = 256;

fn encode_prefix(values: &[Value]) -> Key {
    let mut out = Vec::new();
    encode_key(values, &mut out);
    crate::storage::key_from_vec(out)
}

impl ScanState {
    fn start(&mut self, table: &Table, access: &Access, env: &Env) -> Result<()> {
        self.started = true;
        let def = &table.def;
        let eval_all =
            |es: &[Expr]| -> Result<Vec<Value>> { es.iter().map(|e| e.eval(&[], env)).collect() };
        let bound = |b: &Option<(Expr, bool)>| -> Result<Option<Option<(Key, bool)>>> {
            match b {
                None => Ok(Some(None)),
                Some((e, incl)) => {
                    let v = e.eval(&[], env)?;
                    if v.is_null() {
                        return Ok(None);
                    }
                    Ok(Some(Some((encode_prefix(&[v]), *incl))))
                }
            }
        };
        match access {
            Access::Full => {}
            Access::PkPoint(exprs) => {
                let vals = eval_all(exprs)?;
                if vals.iter().any(Value::is_null) {
                    self.finished = true;
                    return Ok(());
                }
                let mut full = vec![Value::Null; def.columns.len()];
                for (v, &c) in vals.into_iter().zip(&def.primary_key) {
                    full[c] = v;
                }
                let (key, p) = table.store.place_existing(def, &full);
                self.candidates = Some(VecDeque::from([(key, p)]));
            }
            Access::PkRange { lower, upper } => {
                let (Some(lo), Some(hi)) = (bound(lower)?, bound(upper)?) else {
                    self.finished = true;
                    return Ok(());
                };
                let (lo, hi) = prefix_bounds(lo, hi);
                self.lower = Some(lo);
                self.upper = Some(hi);
            }
            Access::IndexEq { index, values } => {
                let vals = eval_all(values)?;
                if vals.iter().any(Value::is_null) {
                    self.finished = true;
                    return Ok(());
                }
                let idx = find_index(&table.store, index)?;
                let mut c = idx.lookup_prefix(&encode_prefix(&vals));
                c.sort();
                c.dedup();
                self.candidates = Some(c.into());
            }
            Access::IndexRange {
                index,
                lower,
                upper,
            } => {
                let (Some(lo), Some(hi)) = (bound(lower)?, bound(upper)?) else {
                    self.finished = true;
                    return Ok(());
                };
                let (lo, hi) = prefix_bounds(lo, hi);
                let idx = find_index(&table.store, index)?;
                let mut c = idx.lookup_range(lo, hi);
                c.sort();
                c.dedup();
                self.candidates = Some(c.into());
            }
        }
        Ok(())
    }

    fn next(
        &mut self,
        table: &Table,
        access: &Access,
        env: &Env,
    ) -> Result<Option<(u16, Key, Arc<Row>)>> {
        if !self.started {
            self.start(table, access, env)?;
        }
        let ctx = env.ctx;
        loop {
            if let Some(r) = self.buffer.pop_front() {
                return Ok(Some(r));
            }
            if self.finished {
                return Ok(None);
            }
            if let Some(c) = &mut self.candidates {
                match c.pop_front() {
                    None => {
                        self.finished = true;
                        return Ok(None);
                    }
                    Some((key, p)) => {
                        if let Some(row) = table.store.get(p, &key, ctx.snapshot, ctx.txn) {
                            return Ok(Some((p, key, row)));
                        }
                        continue;
                    }
                }
            }
            let store = &table.store;
            if self.partition >= store.partition_count() {
                self.finished = true;
                return Ok(None);
            }
            let from: Bound<&[u8]> = match &self.resume {
                Some(k) => Bound::Included(k),
                None => match &self.lower {
                    Some(Bound::Included(k)) => Bound::Included(k),
                    Some(Bound::Excluded(k)) => Bound::Excluded(k),
                    _ => Bound::Unbounded,
                },
            };
            let to: Bound<&[u8]> = match &self.upper {
                Some(Bound::Included(k)) => Bound::Included(k),
                Some(Bound::Excluded(k)) => Bound::Excluded(k),
                _ => Bound::Unbounded,
            };
            let mut batch = Vec::with_capacity(SCAN_BATCH);
            let p = self.partition as u16;
            let resume =
                store.scan_batch(p, from, to, ctx.snapshot, ctx.txn, SCAN_BATCH, &mut batch);
            self.buffer
                .extend(batch.into_iter().map(|(k, r)| (p, k, r)));
            match resume {
                Some(k) => self.resume = Some(k),
                None => {
                    self.resume = None;
                    self.partition += 1;
                }
            }
            let _ = self.partition_done;
        }
    }
}

fn find_index(store: &TableStore, name: &str) -> Result<Arc<crate::storage::IndexStore>> {
    store
        .indexes()
        .iter()
        .find(|i| i.def.name == name)
        .cloned()
        .ok_or_else(|| {
            Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("index \"{name}\" does not exist"),
            )
        })
}

/// Rows a DML statement targets: (partition, key, row).
fn target_rows(
    table: &Table,
    access: &Access,
    filter: &Option<Expr>,
    env: &Env,
) -> Result<Vec<(u16, Key, Arc<Row>)>> {
    let mut s = ScanState::default();
    let mut out = Vec::new();
    while let Some((p, k, row)) = s.next(table, access, env)? {
        env.ctx.tick()?;
        if let Some(f) = filter {
            if !f.eval_pred(&row, env)? {
                continue;
            }
        }
        out.push((p, k, row));
        if out.len().is_multiple_of(4096) {
            env.ctx.check_interrupt()?;
        }
    }
    Ok(out)
}

/// What a DML statement returns: the affected row count and RETURNING rows.
pub struct DmlResult {
    pub count: u64,
    pub rows: Vec<Row>,
}

fn not_null_error(table: &Table, col: usize, row: &[Value]) -> Error {
    let c = &table.def.columns[col];
    Error::new(
        SqlState::NOT_NULL_VIOLATION,
        format!(
            "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
            c.name, table.def.name
        ),
    )
    .with_detail(format!("Failing row contains ({}).", row_text(row)))
}

fn row_text(row: &[Value]) -> String {
    let ctx = crate::types::io::IoContext::default();
    row.iter()
        .map(|v| {
            if v.is_null() {
                "null".to_string()
            } else {
                let mut s = String::new();
                crate::types::io::format_text(v, &ctx, &mut s);
                s
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Casts a candidate row to the column types and checks NOT NULL and
/// CHECK constraints.
pub fn prepare_row(table: &Table, row: Row, env: &Env) -> Result<Row> {
    let mut out = row;
    out.truncate(table.def.columns.len());
    for (v, c) in out.iter_mut().zip(&table.def.columns) {
        if !v.is_null() {
            *v = assign(std::mem::take(v), c.data_type)?;
        }
    }
    for (i, c) in table.def.columns.iter().enumerate() {
        if c.not_null && out[i].is_null() {
            return Err(not_null_error(table, i, &out));
        }
    }
    for (name, check) in table.checks.iter() {
        if let Value::Bool(false) = check.eval(&out, env)? {
            return Err(Error::new(
                SqlState::CHECK_VIOLATION,
                format!(
                    "new row for relation \"{}\" violates check constraint \"{name}\"",
                    table.def.name
                ),
            )
            .with_detail(format!("Failing row contains ({}).", row_text(&out))));
        }
    }
    Ok(out)
}

fn key_detail(table: &Table, cols: &[usize], row: &[Value]) -> String {
    let names: Vec<&str> = cols
        .iter()
        .map(|&c| table.def.columns[c].name.as_str())
        .collect();
    let vals: Vec<Value> = cols.iter().map(|&c| row[c].clone()).collect();
    format!(
        "Key ({})=({}) already exists.",
        names.join(", "),
        row_text(&vals)
    )
}

fn pk_violation(table: &Table, row: &[Value]) -> Error {
    let name = table
        .def
        .pk_name
        .clone()
        .unwrap_or_else(|| format!("{}_pkey", table.def.name));
    Error::new(
        SqlState::UNIQUE_VIOLATION,
        format!("duplicate key value violates unique constraint \"{name}\""),
    )
    .with_detail(key_detail(table, &table.def.primary_key, row))
}

/// Writes a row image as this transaction's intent and records it.
fn write_row(
    ctx: &StmtCtx,
    table: &Table,
    p: u16,
    key: &Key,
    row: Option<Arc<Row>>,
    kind: WriteKind,
) -> Result<bool> {
    match table
        .store
        .write(p, key, row.clone(), kind, ctx.write_ctx())?
    {
        WriteOutcome::Duplicate => Ok(false),
        WriteOutcome::Written { previous } => {
            record_write(ctx, table, p, key, row.as_ref(), previous)?;
            Ok(true)
        }
    }
}

/// The latest state of a row for uniqueness checks: waits on other
/// transactions' intents; returns the live image, if any.
fn latest_image(ctx: &StmtCtx, store: &TableStore, p: u16, key: &[u8]) -> Result<Option<Arc<Row>>> {
    let map = store.partitions[p as usize].read();
    let Some(slot) = map.get(key) else {
        return Ok(None);
    };
    if let Some(intent) = &slot.intent {
        if intent.txn != ctx.txn {
            return Err(Error::retry_after(intent.txn));
        }
        return Ok(intent.row.clone());
    }
    Ok(slot.versions.last().and_then(|v| v.row.clone()))
}

/// Checks the secondary unique indexes for `row` stored at `key`; returns
/// the violated index name.
fn unique_conflict(
    ctx: &StmtCtx,
    table: &Table,
    key: &[u8],
    row: &[Value],
) -> Result<Option<String>> {
    for idx in table.store.indexes().iter() {
        if !idx.def.unique || idx.key_has_null(row) {
            continue;
        }
        let k = idx.key_of(row);
        for (rk, p) in idx.lookup_prefix(&k) {
            if &*rk == key {
                continue;
            }
            if let Some(other) = latest_image(ctx, &table.store, p, &rk)? {
                if idx.key_of(&other) == k {
                    return Ok(Some(idx.def.name.clone()));
                }
            }
        }
    }
    Ok(None)
}

fn unique_violation(table: &Table, index: &str, row: &[Value]) -> Error {
    let cols = table
        .def
        .indexes
        .iter()
        .find(|i| i.name == index)
        .map(|i| i.columns.clone())
        .unwrap_or_default();
    Error::new(
        SqlState::UNIQUE_VIOLATION,
        format!("duplicate key value violates unique constraint \"{index}\""),
    )
    .with_detail(key_detail(table, &cols, row))
}

fn rollback_to(ctx: &StmtCtx, mark: usize) {
    let mut writes = ctx.writes.lock();
    crate::txn::rollback_writes(ctx.txn, &mut writes, mark);
}

pub fn run_insert(ip: &InsertPlan, ctx: &Arc<StmtCtx>) -> Result<DmlResult> {
    let env = Env { ctx, outer: &[] };
    let table = &ip.table;
    let source = ip.source.clone();
    let mut cursor = Cursor::new(source, ctx.clone(), vec![]);
    let mut result = DmlResult {
        count: 0,
        rows: vec![],
    };
    // Rows this command inserted or updated, by primary key: DO UPDATE must
    // not touch one of them again.
    let track = matches!(ip.on_conflict, Some(OnConflict::DoUpdate { .. }));
    let mut touched: HashSet<(u16, Key)> = HashSet::new();
    while let Some(row) = cursor.next_row()? {
        let row = prepare_row(table, row, &env)?;
        let row = Arc::new(row);
        let mark = ctx.writes.lock().len();
        let (key, p) = table.store.place_new(&table.def, &row);
        let inserted = write_row(ctx, table, p, &key, Some(row.clone()), WriteKind::Insert)?;
        if !inserted {
            match &ip.on_conflict {
                Some(OnConflict::DoNothing { target })
                    if target.as_deref().is_none_or(str::is_empty) =>
                {
                    continue
                }
                Some(OnConflict::DoUpdate {
                    target,
                    assignments,
                    predicate,
                }) if target.is_empty() => {
                    let update = Upsert {
                        excluded: &row,
                        assignments,
                        predicate: predicate.as_ref(),
                        returning: &ip.returning,
                    };
                    update.apply(ctx, table, p, &key, &env, &mut touched, &mut result)?;
                    continue;
                }
                _ => {
                    // A concurrent writer may hold the row: wait for it.
                    latest_image(ctx, &table.store, p, &key)?;
                    return Err(pk_violation(table, &row));
                }
            }
        }
        if let Some(index) = unique_conflict(ctx, table, &key, &row)? {
            match &ip.on_conflict {
                Some(OnConflict::DoNothing { target })
                    if target.as_ref().is_none_or(|t| *t == index) =>
                {
                    rollback_to(ctx, mark);
                    continue;
                }
                Some(OnConflict::DoUpdate {
                    target,
                    assignments,
                    predicate,
                }) if *target == index => {
                    rollback_to(ctx, mark);
                    let idx = find_index(&table.store, &index)?;
                    let k = idx.key_of(&row);
                    let mut found = None;
                    for (rk, rp) in idx.lookup_prefix(&k) {
                        if let Some(other) = latest_image(ctx, &table.store, rp, &rk)? {
                            if idx.key_of(&other) == k {
                                found = Some((rk, rp));
                                break;
                            }
                        }
                    }
                    let Some((rk, rp)) = found else { continue };
                    let update = Upsert {
                        excluded: &row,
                        assignments,
                        predicate: predicate.as_ref(),
                        returning: &ip.returning,
                    };
                    update.apply(ctx, table, rp, &rk, &env, &mut touched, &mut result)?;
                    continue;
                }
                _ => return Err(unique_violation(table, &index, &row)),
            }
        }
        fk::check_references(ctx, table, &row, None)?;
        if track {
            touched.insert((p, key));
        }
        result.count += 1;
        if let Some(ret) = &ip.returning {
            result.rows.push(
                ret.iter()
                    .map(|e| e.eval(&row, &env))
                    .collect::<Result<_>>()?,
            );
        }
    }
    Ok(result)
}

/// Inserts rows already checked by [`prepare_row`] (COPY FROM), starting
/// at `rows[*done]` and advancing `done`. A row that must wait for another
/// transaction leaves no trace and ends the call with a retry error; the
/// caller waits and calls again.
pub fn insert_prepared(
    table: &Table,
    rows: &[Arc<Row>],
    ctx: &StmtCtx,
    done: &mut usize,
) -> Result<()> {
    while let Some(row) = rows.get(*done) {
        if (*done).is_multiple_of(4096) {
            ctx.check_interrupt()?;
        }
        let mark = ctx.writes.lock().len();
        let (key, p) = table.store.place_new(&table.def, row);
        let written = (|| {
            if !write_row(ctx, table, p, &key, Some(row.clone()), WriteKind::Insert)? {
                latest_image(ctx, &table.store, p, &key)?;
                return Err(pk_violation(table, row));
            }
            if let Some(index) = unique_conflict(ctx, table, &key, row)? {
                return Err(unique_violation(table, &index, row));
            }
            fk::check_references(ctx, table, row, None)
        })();
        if let Err(e) = written {
            rollback_to(ctx, mark);
            return Err(e);
        }
        *done += 1;
    }
    Ok(())
}

/// ON CONFLICT DO UPDATE of one proposed row against the existing row it
/// conflicts with.
struct Upsert<'a> {
    excluded: &'a Row,
    assignments: &'a [(usize, Expr)],
    predicate: Option<&'a Expr>,
    returning: &'a Option<Vec<Expr>>,
}

impl Upsert<'_> {
    /// Updates the existing row at (`p`, `key`) unless this statement
    /// already did, counting it and collecting RETURNING.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        ctx: &Arc<StmtCtx>,
        table: &Table,
        p: u16,
        key: &Key,
        env: &Env,
        touched: &mut HashSet<(u16, Key)>,
        result: &mut DmlResult,
    ) -> Result<()> {
        check_not_touched(touched, p, key)?;
        let updated = conflict_update(
            ctx,
            table,
            p,
            key,
            self.excluded,
            self.assignments,
            self.predicate,
            env,
        )?;
        if let Some(r) = updated {
            touched.insert((p, key.clone()));
            result.count += 1;
            if let Some(ret) = self.returning {
                result
                    .rows
                    .push(ret.iter().map(|e| e.eval(&r, env)).collect::<Result<_>>()?);
            }
        }
        Ok(())
    }
}

fn check_not_touched(touched: &HashSet<(u16, Key)>, p: u16, key: &Key) -> Result<()> {
    if touched.contains(&(p, key.clone())) {
        return Err(Error::new(
            SqlState::CARDINALITY_VIOLATION,
            "ON CONFLICT DO UPDATE command cannot affect row a second time",
        )
        .with_hint(
            "Ensure that no rows proposed for insertion within the same command have duplicate constrained values.",
        ));
    }
    Ok(())
}

/// ON CONFLICT DO UPDATE: updates the existing row at `key` with the
/// assignments evaluated over (existing ++ excluded).
#[allow(clippy::too_many_arguments)]
fn conflict_update(
    ctx: &Arc<StmtCtx>,
    table: &Table,
    p: u16,
    key: &Key,
    excluded: &[Value],
    assignments: &[(usize, Expr)],
    predicate: Option<&Expr>,
    env: &Env,
) -> Result<Option<Arc<Row>>> {
    let Some(existing) = latest_image(ctx, &table.store, p, key)? else {
        return Err(Error::retry_after(0));
    };
    let mut both: Row = existing.to_vec();
    both.extend(excluded.iter().cloned());
    if let Some(pred) = predicate {
        if !pred.eval_pred(&both, env)? {
            return Ok(None);
        }
    }
    let mut new = existing.to_vec();
    for (c, e) in assignments {
        new[*c] = e.eval(&both, env)?;
    }
    let new = update_row(ctx, table, p, key, &existing, new, env, true)?;
    Ok(Some(new))
}

/// Replaces the row at `key` with `new` (moving it when its primary key
/// changes).
#[allow(clippy::too_many_arguments)]
fn update_row(
    ctx: &StmtCtx,
    table: &Table,
    p: u16,
    key: &Key,
    old: &Row,
    new: Row,
    env: &Env,
    latest: bool,
) -> Result<Arc<Row>> {
    let new = Arc::new(prepare_row(table, new, env)?);
    let (new_key, new_p) = if table.def.primary_key.is_empty() {
        (key.clone(), p)
    } else {
        table.store.place_existing(&table.def, &new)
    };
    let wctx = if latest {
        WriteCtx {
            snapshot: Ts::MAX,
            ..ctx.write_ctx()
        }
    } else {
        ctx.write_ctx()
    };
    if new_key == *key {
        match table
            .store
            .write(p, key, Some(new.clone()), WriteKind::Update, wctx)?
        {
            WriteOutcome::Written { previous } => {
                record_write(ctx, table, p, key, Some(&new), previous)?
            }
            WriteOutcome::Duplicate => unreachable!("updates never report duplicates"),
        }
    } else {
        match table.store.write(p, key, None, WriteKind::Delete, wctx)? {
            WriteOutcome::Written { previous } => record_write(ctx, table, p, key, None, previous)?,
            WriteOutcome::Duplicate => unreachable!(),
        }
        if !write_row(
            ctx,
            table,
            new_p,
            &new_key,
            Some(new.clone()),
            WriteKind::Insert,
        )? {
            latest_image(ctx, &table.store, new_p, &new_key)?;
            return Err(pk_violation(table, &new));
        }
    }
    if let Some(index) = unique_conflict(ctx, table, &new_key, &new)? {
        return Err(unique_violation(table, &index, &new));
    }
    fk::check_references(ctx, table, &new, Some(old))?;
    if fk::is_referenced(ctx, &table.def.name) {
        let mut pending = Vec::new();
        fk::on_referenced_row_gone(ctx, env, table, old, Some(&new), &mut pending)?;
        fk::check_pending(ctx, pending)?;
    }
    Ok(new)
}

fn record_write(
    ctx: &StmtCtx,
    table: &Table,
    p: u16,
    key: &Key,
    row: Option<&Arc<Row>>,
    previous: Option<Option<Arc<Row>>>,
) -> Result<()> {
    // Recorded first, so a failure below still undoes the intent.
    ctx.writes.lock().push(WriteEntry {
        table: table.store.clone(),
        partition: p,
        key: key.clone(),
        previous,
        index_entries: Vec::new(),
        epoch: table.epoch,
    });
    let Some(r) = row else { return Ok(()) };
    for idx in table.store.indexes().iter() {
        let k = idx.key_of(r);
        if idx.def.unique && !idx.key_has_null(r) {
            // Wait for any other writer of a row filed under this key;
            // duplicates among committed rows are reported afterwards.
            idx.insert_checked(k.clone(), key.clone(), p, |rk, rp| {
                latest_image(ctx, &table.store, rp, rk).map(|_| ())
            })?;
        } else {
            idx.insert(k.clone(), key.clone(), p);
        }
        if let Some(w) = ctx.writes.lock().last_mut() {
            w.index_entries.push((idx.clone(), k));
        }
    }
    Ok(())
}

pub fn run_update(up: &UpdatePlan, ctx: &Arc<StmtCtx>) -> Result<DmlResult> {
    let env = Env { ctx, outer: &[] };
    let table = &up.table;
    let targets = target_rows(table, &up.access, &up.filter, &env)?;
    let mut result = DmlResult {
        count: 0,
        rows: vec![],
    };
    let width = table.def.columns.len();
    // Without FROM the assignments read the target row alone; with it,
    // the joined row.
    let sources: Vec<(usize, Option<Row>)> = match &up.join {
        None => (0..targets.len()).map(|i| (i, None)).collect(),
        Some(join) => dml_join::matched_rows(join, &targets, ctx, &env)?
            .into_iter()
            .map(|(i, row)| (i, Some(row)))
            .collect(),
    };
    for (i, joined) in sources {
        let (p, key, old) = &targets[i];
        let source: &[Value] = joined.as_deref().unwrap_or(old);
        let mut new = old.to_vec();
        for (c, e) in &up.assignments {
            new[*c] = e.eval(source, &env)?;
        }
        let new = update_row(ctx, table, *p, key, old, new, &env, false)?;
        result.count += 1;
        if let Some(ret) = &up.returning {
            let row: Row = match &joined {
                None => new.to_vec(),
                Some(j) => new.iter().chain(&j[width..]).cloned().collect(),
            };
            result.rows.push(
                ret.iter()
                    .map(|e| e.eval(&row, &env))
                    .collect::<Result<_>>()?,
            );
        }
    }
    Ok(result)
}

pub fn run_delete(dp: &DeletePlan, ctx: &Arc<StmtCtx>) -> Result<DmlResult> {
    let env = Env { ctx, outer: &[] };
    let table = &dp.table;
    let targets = target_rows(table, &dp.access, &dp.filter, &env)?;
    let mut result = DmlResult {
        count: 0,
        rows: vec![],
    };
    let referenced = fk::is_referenced(ctx, &table.def.name);
    let mut pending = Vec::new();
    // With USING, only the target rows that join are deleted, and
    // RETURNING reads the joined row.
    let sources: Vec<(usize, Option<Row>)> = match &dp.join {
        None => (0..targets.len()).map(|i| (i, None)).collect(),
        Some(join) => dml_join::matched_rows(join, &targets, ctx, &env)?
            .into_iter()
            .map(|(i, row)| (i, Some(row)))
            .collect(),
    };
    for (i, joined) in sources {
        let (p, key, old) = &targets[i];
        match table
            .store
            .write(*p, key, None, WriteKind::Delete, ctx.write_ctx())?
        {
            WriteOutcome::Written { previous } => {
                record_write(ctx, table, *p, key, None, previous)?
            }
            WriteOutcome::Duplicate => unreachable!(),
        }
        if referenced {
            fk::on_referenced_row_gone(ctx, &env, table, old, None, &mut pending)?;
        }
        result.count += 1;
        if let Some(ret) = &dp.returning {
            let row: &[Value] = joined.as_deref().unwrap_or(old);
            result.rows.push(
                ret.iter()
                    .map(|e| e.eval(row, &env))
                    .collect::<Result<_>>()?,
            );
        }
    }
    fk::check_pending(ctx, pending)?;
    Ok(result)
}

/// Deletes every visible row of a table (TRUNCATE, transactional).
pub fn run_truncate(table: &Arc<Table>, ctx: &Arc<StmtCtx>) -> Result<()> {
    let plan = DeletePlan {
        table: table.clone(),
        access: Access::Full,
        filter: None,
        join: None,
        returning: None,
    };
    run_delete(&plan, ctx).map(|_| ())
}
