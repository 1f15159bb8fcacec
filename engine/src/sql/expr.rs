//! Bound expressions and their evaluation.

use super::exec::{self, StmtCtx};
use super::plan::Plan;
use crate::error::{Error, Result, SqlState};
use crate::types::cast::cast;
use crate::types::functions::ScalarFunction;
use crate::types::value::{eval_binary, eval_unary, BinaryOp, UnaryOp};
use crate::types::{DataType, Row, Value};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    BoolAnd,
    BoolOr,
    StringAgg,
    ArrayAgg,
    Variance(super::exec::VarianceKind),
}

#[derive(Clone, Debug)]
pub struct AggCall {
    pub func: AggFunc,
    pub args: Vec<Expr>,
    pub distinct: bool,
    /// `agg(x ORDER BY ...)`: the order the inputs are fed in.
    pub order_by: Vec<super::plan::SortKey>,
    pub result_type: DataType,
    /// `agg(...) FILTER (WHERE ...)`: only rows passing it are fed in.
    pub filter: Option<Expr>,
}

/// Functions that need the session or transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecialFunc {
    Now,
    StatementTimestamp,
    ClockTimestamp,
    CurrentDate,
    LocalTimestamp,
    Version,
    CurrentUser,
    SessionUser,
    CurrentDatabase,
    CurrentSchema,
    CurrentSetting,
    Nextval,
    Currval,
    Lastval,
    Setval,
    TxidCurrent,
    /// Functions over the system catalogs (format_type, pg_get_expr, ...).
    Catalog(crate::syscat::functions::CatalogFunc),
}

#[derive(Clone, Debug)]
pub enum SubqueryKind {
    Scalar,
    Exists,
    /// `expr IN (subquery)`; the comparison is `expr = column 0`.
    In(Box<Expr>),
    /// `ARRAY(subquery)`: column 0 of every row as an array.
    Array,
}

#[derive(Clone)]
pub struct Subquery {
    pub plan: Arc<Plan>,
    pub kind: SubqueryKind,
    pub negated: bool,
    /// Uncorrelated subqueries run once per statement.
    pub correlated: bool,
    pub id: usize,
}

impl std::fmt::Debug for Subquery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Subquery#{}", self.id)
    }
}

#[derive(Clone, Debug)]
pub enum Expr {
    Literal(Value),
    Column(usize),
    /// A column of an enclosing query's row: depth 1 is the nearest.
    Outer {
        depth: usize,
        index: usize,
    },
    Param(usize),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    IsDistinct {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    /// `IS [NOT] TRUE/FALSE`
    IsBool {
        expr: Box<Expr>,
        value: bool,
        negated: bool,
    },
    Cast {
        expr: Box<Expr>,
        to: DataType,
    },
    Func {
        func: ScalarFunction,
        args: Vec<Expr>,
    },
    Special {
        func: SpecialFunc,
        args: Vec<Expr>,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        else_: Option<Box<Expr>>,
    },
    Coalesce(Vec<Expr>),
    NullIf(Box<Expr>, Box<Expr>),
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Subquery(Box<Subquery>),
    /// `ARRAY[...]` with non-constant elements.
    Array(Vec<Expr>),
    /// `array[index]` (1-based; NULL when out of range).
    Subscript {
        array: Box<Expr>,
        index: Box<Expr>,
    },
    /// `array[lower:upper]`
    Slice {
        array: Box<Expr>,
        lower: Option<Box<Expr>>,
        upper: Option<Box<Expr>>,
    },
    /// `left op ANY (array)`, or `ALL` when `all`.
    AnyAll {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
        all: bool,
    },
    /// An aggregate call; replaced by a column reference once the aggregate
    /// node is planned.
    Agg(Box<AggCall>),
    /// The n-th window function call of a SELECT; replaced by a column
    /// reference once the window node is planned.
    Window(usize),
}

/// What an expression is evaluated against.
pub struct Env<'a> {
    pub ctx: &'a Arc<StmtCtx>,
    /// Rows of enclosing queries, innermost last.
    pub outer: &'a [Row],
}

fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

impl Expr {
    pub fn lit_bool(b: bool) -> Expr {
        Expr::Literal(Value::Bool(b))
    }

    /// Whether the expression refers to columns of an enclosing query (at
    /// nesting depth >= `depth`).
    pub fn refers_outer(&self, depth: usize) -> bool {
        let mut found = false;
        self.walk(&mut |e| {
            if let Expr::Outer { depth: d, .. } = e {
                if *d >= depth {
                    found = true;
                }
            }
            if let Expr::Subquery(sq) = e {
                if sq.correlated {
                    found = true;
                }
            }
        });
        found
    }

    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Literal(_)
            | Expr::Column(_)
            | Expr::Outer { .. }
            | Expr::Param(_)
            | Expr::Window(_) => {}
            Expr::Binary { left, right, .. }
            | Expr::And(left, right)
            | Expr::Or(left, right)
            | Expr::IsDistinct { left, right, .. }
            | Expr::NullIf(left, right) => {
                left.walk(f);
                right.walk(f);
            }
            Expr::Unary { expr, .. }
            | Expr::IsNull { expr, .. }
            | Expr::IsBool { expr, .. }
            | Expr::Cast { expr, .. } => expr.walk(f),
            Expr::Func { args, .. }
            | Expr::Special { args, .. }
            | Expr::Coalesce(args)
            | Expr::Array(args) => args.iter().for_each(|a| a.walk(f)),
            Expr::Subscript { array, index } => {
                array.walk(f);
                index.walk(f);
            }
            Expr::Slice {
                array,
                lower,
                upper,
            } => {
                array.walk(f);
                lower.iter().chain(upper.iter()).for_each(|a| a.walk(f));
            }
            Expr::AnyAll { left, right, .. } => {
                left.walk(f);
                right.walk(f);
            }
            Expr::Case {
                operand,
                whens,
                else_,
            } => {
                if let Some(o) = operand {
                    o.walk(f);
                }
                for (w, t) in whens {
                    w.walk(f);
                    t.walk(f);
                }
                if let Some(e) = else_ {
                    e.walk(f);
                }
            }
            Expr::InList { expr, list, .. } => {
                expr.walk(f);
                list.iter().for_each(|a| a.walk(f));
            }
            Expr::Subquery(sq) => {
                if let SubqueryKind::In(e) = &sq.kind {
                    e.walk(f);
                }
            }
            Expr::Agg(call) => {
                call.args.iter().for_each(|a| a.walk(f));
                call.order_by.iter().for_each(|k| k.expr.walk(f));
                if let Some(filter) = &call.filter {
                    filter.walk(f);
                }
            }
        }
    }

    /// Rewrites the expression bottom-up-first: `f` returns `Some` to replace
    /// a node (its children are then not visited).
    pub fn transform(self, f: &mut dyn FnMut(&Expr) -> Result<Option<Expr>>) -> Result<Expr> {
        if let Some(e) = f(&self)? {
            return Ok(e);
        }
        let b = |e: Box<Expr>,
                 f: &mut dyn FnMut(&Expr) -> Result<Option<Expr>>|
         -> Result<Box<Expr>> { Ok(Box::new(e.transform(f)?)) };
        Ok(match self {
            Expr::Binary { op, left, right } => Expr::Binary {
                op,
                left: b(left, f)?,
                right: b(right, f)?,
            },
            Expr::Unary { op, expr } => Expr::Unary {
                op,
                expr: b(expr, f)?,
            },
            Expr::And(l, r) => Expr::And(b(l, f)?, b(r, f)?),
            Expr::Or(l, r) => Expr::Or(b(l, f)?, b(r, f)?),
            Expr::IsNull { expr, negated } => Expr::IsNull {
                expr: b(expr, f)?,
                negated,
            },
            Expr::IsDistinct {
                left,
                right,
                negated,
            } => Expr::IsDistinct {
                left: b(left, f)?,
                right: b(right, f)?,
                negated,
            },
            Expr::IsBool {
                expr,
                value,
                negated,
            } => Expr::IsBool {
                expr: b(expr, f)?,
                value,
                negated,
            },
            Expr::Cast { expr, to } => Expr::Cast {
                expr: b(expr, f)?,
                to,
            },
            Expr::Func { func, args } => Expr::Func {
                func,
                args: args
                    .into_iter()
                    .map(|a| a.transform(f))
                    .collect::<Result<_>>()?,
            },
            Expr::Special { func, args } => Expr::Special {
                func,
                args: args
                    .into_iter()
                    .map(|a| a.transform(f))
                    .collect::<Result<_>>()?,
            },
            Expr::Coalesce(args) => Expr::Coalesce(
                args.into_iter()
                    .map(|a| a.transform(f))
                    .collect::<Result<_>>()?,
            ),
            Expr::NullIf(l, r) => Expr::NullIf(b(l, f)?, b(r, f)?),
            Expr::Array(args) => Expr::Array(
                args.into_iter()
                    .map(|a| a.transform(f))
                    .collect::<Result<_>>()?,
            ),
            Expr::Subscript { array, index } => Expr::Subscript {
                array: b(array, f)?,
                index: b(index, f)?,
            },
            Expr::Slice {
                array,
                lower,
                upper,
            } => Expr::Slice {
                array: b(array, f)?,
                lower: lower.map(|e| b(e, f)).transpose()?,
                upper: upper.map(|e| b(e, f)).transpose()?,
            },
            Expr::AnyAll {
                op,
                left,
                right,
                all,
            } => Expr::AnyAll {
                op,
                left: b(left, f)?,
                right: b(right, f)?,
                all,
            },
            Expr::Case {
                operand,
                whens,
                else_,
            } => Expr::Case {
                operand: operand.map(|o| b(o, f)).transpose()?,
                whens: whens
                    .into_iter()
                    .map(|(w, t)| Ok((w.transform(f)?, t.transform(f)?)))
                    .collect::<Result<_>>()?,
                else_: else_.map(|e| b(e, f)).transpose()?,
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: b(expr, f)?,
                list: list
                    .into_iter()
                    .map(|a| a.transform(f))
                    .collect::<Result<_>>()?,
                negated,
            },
            Expr::Subquery(mut sq) => {
                if let SubqueryKind::In(e) = sq.kind {
                    sq.kind = SubqueryKind::In(b(e, f)?);
                }
                Expr::Subquery(sq)
            }
            Expr::Agg(mut call) => {
                call.args = call
                    .args
                    .into_iter()
                    .map(|a| a.transform(f))
                    .collect::<Result<_>>()?;
                for key in &mut call.order_by {
                    key.expr = std::mem::replace(&mut key.expr, Expr::Literal(Value::Null))
                        .transform(f)?;
                }
                call.filter = call.filter.map(|e| e.transform(f)).transpose()?;
                Expr::Agg(call)
            }
            other => other,
        })
    }

    pub fn eval(&self, row: &[Value], env: &Env) -> Result<Value> {
        Ok(match self {
            Expr::Literal(v) => v.clone(),
            Expr::Column(i) => row[*i].clone(),
            Expr::Outer { depth, index } => {
                let r = &env.outer[env.outer.len() - depth];
                r[*index].clone()
            }
            Expr::Param(i) => env.ctx.params.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Binary { op, left, right } => {
                let l = left.eval(row, env)?;
                if l.is_null() {
                    return Ok(Value::Null);
                }
                let r = right.eval(row, env)?;
                if r.is_null() {
                    return Ok(Value::Null);
                }
                eval_binary(*op, &l, &r)?
            }
            Expr::Unary { op, expr } => {
                let v = expr.eval(row, env)?;
                if v.is_null() {
                    Value::Null
                } else {
                    eval_unary(*op, &v)?
                }
            }
            Expr::And(l, r) => {
                let a = truth(&l.eval(row, env)?);
                if a == Some(false) {
                    return Ok(Value::Bool(false));
                }
                let b = truth(&r.eval(row, env)?);
                match (a, b) {
                    (_, Some(false)) => Value::Bool(false),
                    (Some(true), Some(true)) => Value::Bool(true),
                    _ => Value::Null,
                }
            }
            Expr::Or(l, r) => {
                let a = truth(&l.eval(row, env)?);
                if a == Some(true) {
                    return Ok(Value::Bool(true));
                }
                let b = truth(&r.eval(row, env)?);
                match (a, b) {
                    (_, Some(true)) => Value::Bool(true),
                    (Some(false), Some(false)) => Value::Bool(false),
                    _ => Value::Null,
                }
            }
            Expr::IsNull { expr, negated } => {
                Value::Bool(expr.eval(row, env)?.is_null() != *negated)
            }
            Expr::IsDistinct {
                left,
                right,
                negated,
            } => {
                let l = left.eval(row, env)?;
                let r = right.eval(row, env)?;
                let distinct = match (l.is_null(), r.is_null()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    _ => l.sql_cmp(&r) != Some(std::cmp::Ordering::Equal),
                };
                Value::Bool(distinct != *negated)
            }
            Expr::IsBool {
                expr,
                value,
                negated,
            } => {
                let v = truth(&expr.eval(row, env)?);
                Value::Bool((v == Some(*value)) != *negated)
            }
            Expr::Cast { expr, to } => cast(expr.eval(row, env)?, *to)?,
            Expr::Func { func, args } => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    let v = a.eval(row, env)?;
                    if func.strict && v.is_null() {
                        return Ok(Value::Null);
                    }
                    vals.push(v);
                }
                (func.eval)(&vals)?
            }
            Expr::Special { func, args } => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(a.eval(row, env)?);
                }
                exec::eval_special(*func, &vals, env.ctx)?
            }
            Expr::Case {
                operand,
                whens,
                else_,
            } => {
                let op = match operand {
                    Some(o) => Some(o.eval(row, env)?),
                    None => None,
                };
                for (w, t) in whens {
                    let hit = match &op {
                        Some(o) => {
                            let wv = w.eval(row, env)?;
                            o.sql_cmp(&wv) == Some(std::cmp::Ordering::Equal)
                        }
                        None => truth(&w.eval(row, env)?) == Some(true),
                    };
                    if hit {
                        return t.eval(row, env);
                    }
                }
                match else_ {
                    Some(e) => e.eval(row, env)?,
                    None => Value::Null,
                }
            }
            Expr::Coalesce(args) => {
                for a in args {
                    let v = a.eval(row, env)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                Value::Null
            }
            Expr::NullIf(l, r) => {
                let a = l.eval(row, env)?;
                let b = r.eval(row, env)?;
                if a.sql_cmp(&b) == Some(std::cmp::Ordering::Equal) {
                    Value::Null
                } else {
                    a
                }
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let v = expr.eval(row, env)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    let iv = item.eval(row, env)?;
                    match v.sql_cmp(&iv) {
                        Some(std::cmp::Ordering::Equal) => return Ok(Value::Bool(!*negated)),
                        None => saw_null = true,
                        _ => {}
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*negated)
                }
            }
            Expr::Subquery(sq) => eval_subquery(sq, row, env)?,
            Expr::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|e| e.eval(row, env))
                    .collect::<Result<_>>()?,
            ),
            Expr::Subscript { array, index } => {
                match (array.eval(row, env)?, index.eval(row, env)?) {
                    (Value::Array(items), i) => match i.as_i64() {
                        Some(i) => crate::types::array::subscript(&items, i),
                        None => Value::Null,
                    },
                    _ => Value::Null,
                }
            }
            Expr::Slice {
                array,
                lower,
                upper,
            } => {
                let Value::Array(items) = array.eval(row, env)? else {
                    return Ok(Value::Null);
                };
                let bound = |e: &Option<Box<Expr>>| -> Result<Option<Option<i64>>> {
                    Ok(match e {
                        None => Some(None),
                        Some(e) => e.eval(row, env)?.as_i64().map(Some),
                    })
                };
                match (bound(lower)?, bound(upper)?) {
                    (Some(lo), Some(hi)) => crate::types::array::slice(&items, lo, hi),
                    _ => Value::Null,
                }
            }
            Expr::AnyAll {
                op,
                left,
                right,
                all,
            } => {
                let Value::Array(items) = right.eval(row, env)? else {
                    return Ok(Value::Null);
                };
                if items.is_empty() {
                    return Ok(Value::Bool(*all));
                }
                let l = left.eval(row, env)?;
                if l.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in &items {
                    match eval_binary(*op, &l, item)? {
                        Value::Bool(b) if b != *all => return Ok(Value::Bool(b)),
                        Value::Null => saw_null = true,
                        _ => {}
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*all)
                }
            }
            Expr::Agg(_) => return Err(Error::internal("aggregate evaluated outside aggregation")),
            Expr::Window(_) => {
                return Err(Error::internal(
                    "window function evaluated outside its window",
                ))
            }
        })
    }

    /// Evaluates a predicate: only TRUE passes.
    pub fn eval_pred(&self, row: &[Value], env: &Env) -> Result<bool> {
        Ok(matches!(self.eval(row, env)?, Value::Bool(true)))
    }
}

fn eval_subquery(sq: &Subquery, row: &[Value], env: &Env) -> Result<Value> {
    let limit = match sq.kind {
        SubqueryKind::Exists => Some(1),
        SubqueryKind::Scalar => Some(2),
        SubqueryKind::In(_) | SubqueryKind::Array => None,
    };
    let rows = exec::run_subquery(sq, row, env, limit)?;
    Ok(match &sq.kind {
        SubqueryKind::Exists => Value::Bool(rows.is_empty() == sq.negated),
        SubqueryKind::Scalar => {
            if rows.len() > 1 {
                return Err(Error::new(
                    SqlState::CARDINALITY_VIOLATION,
                    "more than one row returned by a subquery used as an expression",
                ));
            }
            rows.first().map(|r| r[0].clone()).unwrap_or(Value::Null)
        }
        SubqueryKind::Array => Value::Array(rows.iter().map(|r| r[0].clone()).collect()),
        SubqueryKind::In(e) => {
            let v = e.eval(row, env)?;
            if v.is_null() {
                return Ok(if rows.is_empty() {
                    Value::Bool(sq.negated)
                } else {
                    Value::Null
                });
            }
            let mut saw_null = false;
            for r in rows.iter() {
                match v.sql_cmp(&r[0]) {
                    Some(std::cmp::Ordering::Equal) => return Ok(Value::Bool(!sq.negated)),
                    None => saw_null = true,
                    _ => {}
                }
            }
            if saw_null {
                Value::Null
            } else {
                Value::Bool(sq.negated)
            }
        }
    })
}
