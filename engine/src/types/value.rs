//! Comparison, equality, hashing and operators on [`Value`].

use super::io::{
    interval_total_micros, parse_text, timestamp_to_micros, to_text, IoContext, MICROS_PER_DAY,
};
use super::{DataType, Interval, Value};
use crate::error::{Error, Result, SqlState};
use chrono::{DateTime, Duration, Months, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::{Decimal, MathematicalOps, RoundingStrategy};
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// Binary operators other than AND/OR (whose three-valued logic the
/// executor evaluates itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Like,
    NotLike,
    ILike,
    NotILike,
    /// `~`, `~*`, `!~`, `!~*`
    RegexMatch {
        case_insensitive: bool,
        negated: bool,
    },
    BitAnd,
    BitOr,
    BitXor,
    ShiftLeft,
    ShiftRight,
    /// `@>` (array containment)
    Contains,
    /// `<@`
    ContainedBy,
    /// `&&` (arrays share an element)
    Overlap,
}

impl BinaryOp {
    /// The operator as PostgreSQL spells it in error messages.
    pub fn symbol(&self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Concat => "||",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::Like => "~~",
            BinaryOp::NotLike => "!~~",
            BinaryOp::ILike => "~~*",
            BinaryOp::NotILike => "!~~*",
            BinaryOp::RegexMatch {
                case_insensitive,
                negated,
            } => match (negated, case_insensitive) {
                (false, false) => "~",
                (false, true) => "~*",
                (true, false) => "!~",
                (true, true) => "!~*",
            },
            BinaryOp::BitAnd => "&",
            BinaryOp::BitOr => "|",
            BinaryOp::BitXor => "#",
            BinaryOp::ShiftLeft => "<<",
            BinaryOp::ShiftRight => ">>",
            BinaryOp::Contains => "@>",
            BinaryOp::ContainedBy => "<@",
            BinaryOp::Overlap => "&&",
        }
    }

    pub fn is_comparison(&self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::NotEq
                | BinaryOp::Lt
                | BinaryOp::LtEq
                | BinaryOp::Gt
                | BinaryOp::GtEq
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
    BitNot,
}

impl UnaryOp {
    pub fn symbol(&self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Plus => "+",
            UnaryOp::Not => "NOT",
            UnaryOp::BitNot => "~",
        }
    }
}

/// Comparison classes: values of the same class compare with each other.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Class {
    Bool,
    Number,
    String,
    Bytea,
    DateTime,
    Time,
    Interval,
    Uuid,
    Array,
    Json,
    Jsonb,
}

fn class_of(v: &Value) -> Option<Class> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(_) => Class::Bool,
        Value::Int2(_)
        | Value::Int4(_)
        | Value::Int8(_)
        | Value::Float4(_)
        | Value::Float8(_)
        | Value::Numeric(_)
        | Value::Oid(_) => Class::Number,
        Value::Text(_) => Class::String,
        Value::Bytea(_) => Class::Bytea,
        Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_) => Class::DateTime,
        Value::Time(_) => Class::Time,
        Value::Interval(_) => Class::Interval,
        Value::Uuid(_) => Class::Uuid,
        Value::Array(_) => Class::Array,
        Value::Json(_) => Class::Json,
        Value::Jsonb(_) => Class::Jsonb,
    })
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Float4(f) => *f as f64,
        Value::Float8(f) => *f,
        Value::Numeric(d) => d.to_f64().unwrap_or(f64::NAN),
        other => other.as_i64().unwrap_or_default() as f64,
    }
}

fn as_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Numeric(d) => Some(*d),
        Value::Float4(f) => Decimal::from_f32(*f),
        Value::Float8(f) => Decimal::from_f64(*f),
        other => other.as_i64().map(Decimal::from),
    }
}

/// PostgreSQL float ordering: NaN equals NaN and is above everything.
fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Date, timestamp and timestamptz as microseconds since 2000-01-01 UTC.
fn datetime_micros(v: &Value) -> i64 {
    match v {
        Value::Date(d) => timestamp_to_micros(d.and_hms_opt(0, 0, 0).unwrap_or(NaiveDateTime::MIN)),
        Value::Timestamp(ts) => timestamp_to_micros(*ts),
        Value::TimestampTz(ts) => timestamp_to_micros(ts.naive_utc()),
        _ => 0,
    }
}

fn number_cmp(a: &Value, b: &Value) -> Ordering {
    let is_float = |v: &Value| matches!(v, Value::Float4(_) | Value::Float8(_));
    if is_float(a) || is_float(b) {
        return float_cmp(as_f64(a), as_f64(b));
    }
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x.cmp(&y);
    }
    match (as_decimal(a), as_decimal(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => Ordering::Equal,
    }
}

impl Value {
    /// SQL comparison of two values of comparable types (integers, floats
    /// and numeric compare with each other; strings with strings; date,
    /// timestamp and timestamptz with each other). `None` when either side
    /// is NULL or the types are not comparable.
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        let (ca, cb) = (class_of(self)?, class_of(other)?);
        if ca != cb {
            return None;
        }
        Some(match (self, other) {
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Text(a), Value::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bytea(a), Value::Bytea(b)) => a.cmp(b),
            (Value::Time(a), Value::Time(b)) => a.cmp(b),
            (Value::Interval(a), Value::Interval(b)) => {
                interval_total_micros(a).cmp(&interval_total_micros(b))
            }
            (Value::Uuid(a), Value::Uuid(b)) => a.cmp(b),
            (Value::Array(a), Value::Array(b)) => super::array::cmp_arrays(a, b),
            (Value::Jsonb(a), Value::Jsonb(b)) => super::json::compare(a, b),
            // json has no ordering in SQL; grouping and DISTINCT treat it
            // as its text.
            (Value::Json(a), Value::Json(b)) => a.as_bytes().cmp(b.as_bytes()),
            _ if ca == Class::Number => number_cmp(self, other),
            _ if ca == Class::DateTime => datetime_micros(self).cmp(&datetime_micros(other)),
            _ => return None,
        })
    }

    /// A total order for sorting, consistent with `sql_cmp`; NULL sorts
    /// after every non-NULL value (PostgreSQL's default for ASC).
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (class_of(self), class_of(other)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) if a != b => a.cmp(&b),
            _ => self.sql_cmp(other).unwrap_or(Ordering::Equal),
        }
    }
}

impl PartialEq for Value {
    /// Grouping equality: NULL equals NULL, and values of the same class
    /// are equal when `sql_cmp` says so.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            _ => self.sql_cmp(other) == Some(Ordering::Equal),
        }
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let class = class_of(self);
        class.map(|c| c as u8).unwrap_or(255).hash(state);
        match self {
            Value::Null => {}
            Value::Bool(b) => b.hash(state),
            Value::Text(s) => s.hash(state),
            Value::Bytea(b) => b.hash(state),
            Value::Time(t) => t.hash(state),
            Value::Interval(iv) => interval_total_micros(iv).hash(state),
            Value::Uuid(u) => u.hash(state),
            Value::Array(items) => items.hash(state),
            Value::Json(s) => s.hash(state),
            Value::Jsonb(j) => j.normalized_text().hash(state),
            Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_) => {
                datetime_micros(self).hash(state)
            }
            _ => {
                // Numbers: integral values hash as i64, others as f64 bits,
                // so equal values of different numeric types hash alike.
                let int = match self {
                    Value::Numeric(d) if d.fract().is_zero() => d.to_i64(),
                    Value::Float4(_) | Value::Float8(_) => {
                        let f = as_f64(self);
                        (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
                    }
                    other => other.as_i64(),
                };
                match int {
                    Some(i) => {
                        0u8.hash(state);
                        i.hash(state);
                    }
                    None => {
                        let f = as_f64(self);
                        let bits = if f.is_nan() {
                            f64::NAN.to_bits()
                        } else {
                            f.to_bits()
                        };
                        1u8.hash(state);
                        bits.hash(state);
                    }
                }
            }
        }
    }
}

/// 42883 "operator does not exist: left op right" with PostgreSQL's hint.
pub fn no_operator(op: &str, left: DataType, right: DataType) -> Error {
    Error::new(
        SqlState::UNDEFINED_FUNCTION,
        format!(
            "operator does not exist: {} {} {}",
            left.base_name(),
            op,
            right.base_name()
        ),
    )
    .with_hint(
        "No operator matches the given name and argument types. You might need to add explicit type casts.",
    )
}

fn no_unary_operator(op: UnaryOp, operand: DataType) -> Error {
    Error::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("operator does not exist: {} {}", op.symbol(), operand.base_name()),
    )
    .with_hint(
        "No operator matches the given name and argument type. You might need to add an explicit type cast.",
    )
}

/// Rank in the numeric promotion order; `None` for non-numbers.
fn num_rank(t: DataType) -> Option<u8> {
    Some(match t {
        DataType::Int2 => 0,
        DataType::Int4 => 1,
        DataType::Int8 | DataType::Oid => 2,
        DataType::Numeric(_) => 3,
        DataType::Float4 => 4,
        DataType::Float8 => 5,
        _ => return None,
    })
}

fn is_text_like(t: DataType) -> bool {
    t.is_string() || t == DataType::Unknown
}

/// Result type of arithmetic on two numbers, following PostgreSQL's
/// operator resolution.
fn arith_type(l: DataType, r: DataType) -> Option<DataType> {
    let (a, b) = (num_rank(l)?, num_rank(r)?);
    Some(match (a, b) {
        (4, 4) => DataType::Float4,
        _ if a >= 4 || b >= 4 => DataType::Float8,
        _ if a == 3 || b == 3 => DataType::Numeric(None),
        _ => match a.max(b) {
            0 => DataType::Int2,
            1 => DataType::Int4,
            _ => DataType::Int8,
        },
    })
}

fn comparable(l: DataType, r: DataType) -> bool {
    use DataType as T;
    if l == T::Unknown || r == T::Unknown {
        return true;
    }
    if let (Some(a), Some(b)) = (l.elem(), r.elem()) {
        return comparable(a, b);
    }
    let class = |t: DataType| -> Option<u8> {
        Some(match t {
            T::Bool => 0,
            _ if t.is_numeric() => 1,
            _ if t.is_string() => 2,
            T::Bytea => 3,
            T::Date | T::Timestamp | T::TimestampTz => 4,
            T::Time => 5,
            T::Interval => 6,
            T::Uuid => 7,
            T::Jsonb => 8,
            _ => return None,
        })
    };
    matches!((class(l), class(r)), (Some(a), Some(b)) if a == b)
}

/// Result type of `left op right`, or 42883 "operator does not exist".
pub fn binary_op_type(op: BinaryOp, left: DataType, right: DataType) -> Result<DataType> {
    use DataType as T;
    let fail = || no_operator(op.symbol(), left, right);
    let l = left.without_modifier();
    let r = right.without_modifier();
    match op {
        _ if op.is_comparison() => {
            if comparable(l, r) {
                Ok(T::Bool)
            } else {
                Err(fail())
            }
        }
        BinaryOp::Like
        | BinaryOp::NotLike
        | BinaryOp::ILike
        | BinaryOp::NotILike
        | BinaryOp::RegexMatch { .. } => {
            let bytea_like = l == T::Bytea
                && matches!(r, T::Bytea | T::Unknown)
                && matches!(op, BinaryOp::Like | BinaryOp::NotLike);
            if (is_text_like(l) && is_text_like(r)) || bytea_like {
                Ok(T::Bool)
            } else {
                Err(fail())
            }
        }
        BinaryOp::Contains | BinaryOp::ContainedBy | BinaryOp::Overlap => {
            match (l.elem(), r.elem()) {
                (Some(a), Some(b)) if comparable(a, b) => Ok(T::Bool),
                (Some(_), None) | (None, Some(_)) if l == T::Unknown || r == T::Unknown => {
                    Ok(T::Bool)
                }
                _ => Err(fail()),
            }
        }
        BinaryOp::Concat => match (l, r) {
            (T::Array(_), T::Array(_) | T::Unknown) | (T::Unknown, T::Array(_)) => {
                if l == T::Unknown || r == T::Unknown || comparable(l, r) {
                    Ok(if l == T::Unknown { r } else { l })
                } else {
                    Err(fail())
                }
            }
            (T::Array(_), e) | (e, T::Array(_))
                if (if l.is_array() { l } else { r })
                    .elem()
                    .is_some_and(|x| super::cast::can_implicit_cast(e, x)) =>
            {
                Ok(if l.is_array() { l } else { r })
            }
            (T::Bytea, T::Bytea) | (T::Bytea, T::Unknown) | (T::Unknown, T::Bytea) => Ok(T::Bytea),
            _ if is_text_like(l) || is_text_like(r) => Ok(T::Text),
            _ => Err(fail()),
        },
        BinaryOp::BitAnd | BinaryOp::BitOr | BinaryOp::BitXor => match arith_type(l, r) {
            Some(t) if t.is_integer() => Ok(t),
            _ => Err(fail()),
        },
        BinaryOp::ShiftLeft | BinaryOp::ShiftRight => {
            if l.is_integer() && matches!(r, T::Int2 | T::Int4) {
                Ok(l)
            } else {
                Err(fail())
            }
        }
        BinaryOp::Pow => match arith_type(l, r) {
            Some(T::Numeric(_)) => Ok(T::Numeric(None)),
            Some(_) => Ok(T::Float8),
            None => Err(fail()),
        },
        BinaryOp::Mod => match arith_type(l, r) {
            Some(t @ (T::Int2 | T::Int4 | T::Int8 | T::Numeric(_))) => Ok(t),
            _ => Err(fail()),
        },
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
            if let Some(t) = arith_type(l, r) {
                return Ok(t);
            }
            let small_int = |t: DataType| matches!(t, T::Int2 | T::Int4);
            let res = match (op, l, r) {
                (BinaryOp::Add, T::Date, i) | (BinaryOp::Add, i, T::Date) if small_int(i) => {
                    T::Date
                }
                (BinaryOp::Sub, T::Date, i) if small_int(i) => T::Date,
                (BinaryOp::Sub, T::Date, T::Date) => T::Int4,
                (BinaryOp::Add, T::Date, T::Interval)
                | (BinaryOp::Add, T::Interval, T::Date)
                | (BinaryOp::Sub, T::Date, T::Interval)
                | (BinaryOp::Add, T::Date, T::Time)
                | (BinaryOp::Add, T::Time, T::Date) => T::Timestamp,
                (
                    BinaryOp::Add | BinaryOp::Sub,
                    t @ (T::Timestamp | T::TimestampTz),
                    T::Interval,
                )
                | (BinaryOp::Add, T::Interval, t @ (T::Timestamp | T::TimestampTz)) => t,
                (BinaryOp::Add | BinaryOp::Sub, T::Time, T::Interval)
                | (BinaryOp::Add, T::Interval, T::Time) => T::Time,
                (BinaryOp::Sub, T::Time, T::Time) => T::Interval,
                (
                    BinaryOp::Sub,
                    T::Date | T::Timestamp | T::TimestampTz,
                    T::Date | T::Timestamp | T::TimestampTz,
                ) => T::Interval,
                (BinaryOp::Add | BinaryOp::Sub, T::Interval, T::Interval) => T::Interval,
                (BinaryOp::Mul, T::Interval, n) | (BinaryOp::Mul, n, T::Interval)
                    if num_rank(n).is_some() =>
                {
                    T::Interval
                }
                (BinaryOp::Div, T::Interval, n) if num_rank(n).is_some() => T::Interval,
                _ => return Err(fail()),
            };
            Ok(res)
        }
        _ => Err(fail()),
    }
}

fn range_err(t: DataType) -> Error {
    match t {
        DataType::Int2 => Error::out_of_range("smallint"),
        DataType::Int4 => Error::out_of_range("integer"),
        _ => Error::out_of_range("bigint"),
    }
}

fn fit_int(v: i64, t: DataType) -> Result<Value> {
    match t {
        DataType::Int2 => i16::try_from(v).map(Value::Int2).map_err(|_| range_err(t)),
        DataType::Int4 => i32::try_from(v).map(Value::Int4).map_err(|_| range_err(t)),
        _ => Ok(Value::Int8(v)),
    }
}

fn int_arith(op: BinaryOp, a: i64, b: i64, t: DataType) -> Result<Value> {
    let r = match op {
        BinaryOp::Add => a.checked_add(b),
        BinaryOp::Sub => a.checked_sub(b),
        BinaryOp::Mul => a.checked_mul(b),
        BinaryOp::Div => {
            if b == 0 {
                return Err(Error::division_by_zero());
            }
            a.checked_div(b)
        }
        BinaryOp::Mod => {
            if b == 0 {
                return Err(Error::division_by_zero());
            }
            Some(a.checked_rem(b).unwrap_or(0))
        }
        BinaryOp::BitAnd => Some(a & b),
        BinaryOp::BitOr => Some(a | b),
        BinaryOp::BitXor => Some(a ^ b),
        _ => None,
    };
    match r {
        Some(v) => fit_int(v, t),
        None => Err(range_err(t)),
    }
}

fn float_overflow() -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value out of range: overflow",
    )
}

fn float_underflow() -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value out of range: underflow",
    )
}

fn float_arith(op: BinaryOp, a: f64, b: f64) -> Result<f64> {
    let r = match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => {
            if b == 0.0 {
                return Err(Error::division_by_zero());
            }
            a / b
        }
        BinaryOp::Pow => return float_pow(a, b),
        _ => return Err(Error::internal("bad float operator")),
    };
    if r.is_infinite() && !a.is_infinite() && !b.is_infinite() {
        return Err(float_overflow());
    }
    if r == 0.0 && matches!(op, BinaryOp::Mul | BinaryOp::Div) && a != 0.0 && !b.is_infinite() {
        return Err(float_underflow());
    }
    Ok(r)
}

fn float_pow(a: f64, b: f64) -> Result<f64> {
    let invalid_arg = |m: &str| Error::new(SqlState("2201F"), m.to_string());
    if a == 0.0 && b < 0.0 {
        return Err(invalid_arg("zero raised to a negative power is undefined"));
    }
    if a < 0.0 && b.is_finite() && b.fract() != 0.0 {
        return Err(invalid_arg(
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    let r = a.powf(b);
    if r.is_infinite() && a.is_finite() && b.is_finite() {
        return Err(float_overflow());
    }
    if r == 0.0 && a != 0.0 && a.is_finite() && b.is_finite() {
        return Err(float_underflow());
    }
    Ok(r)
}

fn numeric_overflow() -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value overflows numeric format",
    )
}

/// Base-10000 weight and leading digit of a decimal, as PostgreSQL's
/// numeric stores it (used to pick division and power result scales).
fn nbase_weight(d: &Decimal) -> (i32, u32) {
    let s = d.abs().normalize().to_string();
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let int = int.trim_start_matches('0');
    if !int.is_empty() {
        let groups = int.len().div_ceil(4);
        let lead_len = int.len() - (groups - 1) * 4;
        (groups as i32 - 1, int[..lead_len].parse().unwrap_or(0))
    } else {
        let zeros = frac.len() - frac.trim_start_matches('0').len();
        let group = zeros / 4;
        let padded = format!("{frac}0000");
        let lead: u32 = padded[group * 4..group * 4 + 4].parse().unwrap_or(0);
        (-(group as i32) - 1, lead)
    }
}

fn with_scale(d: Decimal, scale: i64) -> Decimal {
    let scale = scale.clamp(0, 28) as u32;
    let mut r = d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(scale);
    r
}

fn numeric_arith(op: BinaryOp, a: Decimal, b: Decimal) -> Result<Decimal> {
    let r = match op {
        BinaryOp::Add => a.checked_add(b),
        BinaryOp::Sub => a.checked_sub(b),
        BinaryOp::Mul => a.checked_mul(b),
        BinaryOp::Div => {
            if b.is_zero() {
                return Err(Error::division_by_zero());
            }
            let (w1, d1) = nbase_weight(&a);
            let (w2, d2) = nbase_weight(&b);
            let mut qweight = w1 - w2;
            if d1 <= d2 {
                qweight -= 1;
            }
            let rscale = (16 - qweight as i64 * 4)
                .max(a.scale() as i64)
                .max(b.scale() as i64)
                .max(0);
            a.checked_div(b).map(|q| with_scale(q, rscale))
        }
        BinaryOp::Mod => {
            if b.is_zero() {
                return Err(Error::division_by_zero());
            }
            a.checked_rem(b)
        }
        BinaryOp::Pow => return numeric_pow(a, b),
        _ => return Err(Error::internal("bad numeric operator")),
    };
    // PostgreSQL's display scale: max of the operands' for + - %, their sum
    // for *. The decimal type may drop trailing zeros (e.g. of zero), so put
    // them back.
    let scale = match op {
        BinaryOp::Mul => a.scale() + b.scale(),
        BinaryOp::Div => 0,
        _ => a.scale().max(b.scale()),
    };
    r.map(|mut r| {
        if r.scale() < scale && scale <= 28 {
            r.rescale(scale);
        }
        r
    })
    .ok_or_else(numeric_overflow)
}

fn numeric_pow(a: Decimal, b: Decimal) -> Result<Decimal> {
    let invalid_arg = |m: &str| Error::new(SqlState("2201F"), m.to_string());
    if a.is_zero() && b.is_sign_negative() && !b.is_zero() {
        return Err(invalid_arg("zero raised to a negative power is undefined"));
    }
    if a.is_sign_negative() && !a.is_zero() && !b.fract().is_zero() {
        return Err(invalid_arg(
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    let (r, rscale) = if b.fract().is_zero() {
        let e = b.to_i64().ok_or_else(numeric_overflow)?;
        let r = if e >= 0 {
            a.checked_powi(e)
        } else {
            a.checked_powi(-e).and_then(|p| Decimal::ONE.checked_div(p))
        };
        (r, 16i64.max(a.scale() as i64))
    } else {
        let r = a.checked_powd(b);
        let val = a.abs().to_f64().unwrap_or(1.0).log10() * b.to_f64().unwrap_or(0.0);
        let rscale = (16 - val.trunc() as i64)
            .max(a.scale() as i64)
            .max(b.scale() as i64)
            .max(0);
        (r, rscale)
    };
    r.map(|r| with_scale(r, rscale))
        .ok_or_else(numeric_overflow)
}

/// LIKE matching with `%`, `_` and backslash escape; works on chars.
pub fn like_match(text: &str, pattern: &str, case_insensitive: bool) -> bool {
    let (t, p): (Vec<char>, Vec<char>) = if case_insensitive {
        (
            text.to_lowercase().chars().collect(),
            pattern.to_lowercase().chars().collect(),
        )
    } else {
        (text.chars().collect(), pattern.chars().collect())
    };
    like_rec(&t, &p)
}

/// LIKE matching over characters or bytes: `%`, `_`, backslash escape.
fn like_rec<T: Copy + PartialEq + From<u8>>(t: &[T], p: &[T]) -> bool {
    let (percent, underscore, escape) = (T::from(b'%'), T::from(b'_'), T::from(b'\\'));
    let (mut ti, mut pi) = (0, 0);
    while pi < p.len() {
        let c = p[pi];
        if c == percent {
            while pi < p.len() && p[pi] == percent {
                pi += 1;
            }
            if pi == p.len() {
                return true;
            }
            return (ti..=t.len()).any(|start| like_rec(&t[start..], &p[pi..]));
        }
        if c == underscore {
            if ti >= t.len() {
                return false;
            }
        } else {
            let c = if c == escape && pi + 1 < p.len() {
                pi += 1;
                p[pi]
            } else {
                c
            };
            if ti >= t.len() || t[ti] != c {
                return false;
            }
        }
        ti += 1;
        pi += 1;
    }
    ti == t.len()
}

/// Regex match with a small per-thread cache of compiled patterns.
pub fn regex_match(text: &str, pattern: &str, case_insensitive: bool) -> Result<bool> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static CACHE: RefCell<HashMap<(String, bool), regex::Regex>> =
            RefCell::new(HashMap::new());
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let key = (pattern.to_string(), case_insensitive);
        if !cache.contains_key(&key) {
            let re = regex::RegexBuilder::new(pattern)
                .case_insensitive(case_insensitive)
                .build()
                .map_err(|e| {
                    Error::new(
                        SqlState("2201B"),
                        format!("invalid regular expression: {e}"),
                    )
                })?;
            if cache.len() >= 64 {
                cache.clear();
            }
            cache.insert(key.clone(), re);
        }
        Ok(cache.get(&key).is_some_and(|re| re.is_match(text)))
    })
}

fn timestamp_overflow() -> Error {
    Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "timestamp out of range")
}

fn interval_overflow() -> Error {
    Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "interval out of range")
}

/// Adds `sign * iv` to a timestamp: months first (clamping the day of
/// month), then days, then microseconds, like PostgreSQL.
pub fn add_interval(ts: NaiveDateTime, iv: &Interval, sign: i64) -> Result<NaiveDateTime> {
    let months = iv.months as i64 * sign;
    let mut r = if months >= 0 {
        ts.checked_add_months(Months::new(months as u32))
    } else {
        ts.checked_sub_months(Months::new(months.unsigned_abs() as u32))
    }
    .ok_or_else(timestamp_overflow)?;
    r = r
        .checked_add_signed(Duration::days(iv.days as i64 * sign))
        .ok_or_else(timestamp_overflow)?;
    r.checked_add_signed(Duration::microseconds(
        iv.micros.checked_mul(sign).ok_or_else(timestamp_overflow)?,
    ))
    .ok_or_else(timestamp_overflow)
}

/// Difference of two timestamps as days plus time (justified hours).
fn timestamp_diff(a: i64, b: i64) -> Result<Interval> {
    let d = a.checked_sub(b).ok_or_else(interval_overflow)?;
    Ok(Interval {
        months: 0,
        days: i32::try_from(d / MICROS_PER_DAY).map_err(|_| interval_overflow())?,
        micros: d % MICROS_PER_DAY,
    })
}

fn interval_addsub(a: &Interval, b: &Interval, sign: i32) -> Result<Interval> {
    Ok(Interval {
        months: a
            .months
            .checked_add(b.months.checked_mul(sign).ok_or_else(interval_overflow)?)
            .ok_or_else(interval_overflow)?,
        days: a
            .days
            .checked_add(b.days.checked_mul(sign).ok_or_else(interval_overflow)?)
            .ok_or_else(interval_overflow)?,
        micros: a
            .micros
            .checked_add(
                b.micros
                    .checked_mul(sign as i64)
                    .ok_or_else(interval_overflow)?,
            )
            .ok_or_else(interval_overflow)?,
    })
}

/// PostgreSQL's interval_mul/interval_div: fractional months cascade into
/// days and fractional days into time.
pub fn interval_scale(iv: &Interval, factor: f64, divide: bool) -> Result<Interval> {
    if divide && factor == 0.0 {
        return Err(Error::division_by_zero());
    }
    let f = |x: f64| if divide { x / factor } else { x * factor };
    let tsround = |x: f64| (x * 1e6).round() / 1e6;
    let month_d = f(iv.months as f64);
    let day_d = f(iv.days as f64);
    if !month_d.is_finite()
        || !day_d.is_finite()
        || month_d.abs() > i32::MAX as f64
        || day_d.abs() > i32::MAX as f64
    {
        return Err(interval_overflow());
    }
    let months = month_d.trunc() as i32;
    let mut days = day_d.trunc() as i32;
    let month_remainder_days = tsround((month_d - months as f64) * 30.0);
    let mut sec_remainder = tsround(
        (day_d - days as f64 + month_remainder_days - month_remainder_days.trunc()) * 86400.0,
    );
    if sec_remainder.abs() >= 86400.0 {
        let extra = (sec_remainder / 86400.0).trunc();
        days += extra as i32;
        sec_remainder -= extra * 86400.0;
    }
    days = days
        .checked_add(month_remainder_days.trunc() as i32)
        .ok_or_else(interval_overflow)?;
    let micros = (f(iv.micros as f64) + sec_remainder * 1e6).round();
    if !micros.is_finite() || micros.abs() >= i64::MAX as f64 {
        return Err(interval_overflow());
    }
    Ok(Interval {
        months,
        days,
        micros: micros as i64,
    })
}

fn time_add(t: NaiveTime, micros: i64) -> NaiveTime {
    let cur = super::io::time_to_micros(t);
    let v = (cur as i128 + micros as i128).rem_euclid(MICROS_PER_DAY as i128) as i64;
    super::io::micros_to_time(v).unwrap_or(NaiveTime::MIN)
}

fn to_number(v: &Value, t: DataType) -> Result<Value> {
    Ok(match t {
        DataType::Float8 => Value::Float8(as_f64(v)),
        DataType::Float4 => Value::Float4(as_f64(v) as f32),
        DataType::Numeric(_) => Value::Numeric(as_decimal(v).ok_or_else(numeric_overflow)?),
        _ => Value::Int8(v.as_i64().unwrap_or_default()),
    })
}

/// Coerces a string operand to the other operand's type for comparison.
fn coerce_for_compare<'a>(
    l: &'a Value,
    r: &'a Value,
) -> Result<(std::borrow::Cow<'a, Value>, std::borrow::Cow<'a, Value>)> {
    use std::borrow::Cow;
    let ctx = IoContext::default();
    match (l, r) {
        (Value::Text(s), other) if !matches!(other, Value::Text(_)) => Ok((
            Cow::Owned(parse_text(other.data_type(), s, &ctx)?),
            Cow::Borrowed(r),
        )),
        (other, Value::Text(s)) if !matches!(other, Value::Text(_)) => Ok((
            Cow::Borrowed(l),
            Cow::Owned(parse_text(other.data_type(), s, &ctx)?),
        )),
        _ => Ok((Cow::Borrowed(l), Cow::Borrowed(r))),
    }
}

/// Evaluates `left op right`; NULL in gives NULL out. Operand types are the
/// ones `binary_op_type` accepted.
pub fn eval_binary(op: BinaryOp, left: &Value, right: &Value) -> Result<Value> {
    if left.is_null() || right.is_null() {
        return Ok(Value::Null);
    }
    let (lt, rt) = (left.data_type(), right.data_type());
    match op {
        _ if op.is_comparison() => {
            let (l, r) = coerce_for_compare(left, right)?;
            let ord = l
                .sql_cmp(&r)
                .ok_or_else(|| no_operator(op.symbol(), lt, rt))?;
            Ok(Value::Bool(match op {
                BinaryOp::Eq => ord == Ordering::Equal,
                BinaryOp::NotEq => ord != Ordering::Equal,
                BinaryOp::Lt => ord == Ordering::Less,
                BinaryOp::LtEq => ord != Ordering::Greater,
                BinaryOp::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }))
        }
        BinaryOp::Like | BinaryOp::NotLike | BinaryOp::ILike | BinaryOp::NotILike => {
            let negated = matches!(op, BinaryOp::NotLike | BinaryOp::NotILike);
            let ci = matches!(op, BinaryOp::ILike | BinaryOp::NotILike);
            let m = match (left, right) {
                (Value::Text(t), Value::Text(p)) => like_match(t, p, ci),
                (Value::Bytea(t), Value::Bytea(p)) => like_rec(t, p),
                (Value::Bytea(t), Value::Text(p)) => like_rec(t, p.as_bytes()),
                _ => return Err(no_operator(op.symbol(), lt, rt)),
            };
            Ok(Value::Bool(m != negated))
        }
        BinaryOp::RegexMatch {
            case_insensitive,
            negated,
        } => match (left, right) {
            (Value::Text(t), Value::Text(p)) => {
                Ok(Value::Bool(regex_match(t, p, case_insensitive)? != negated))
            }
            _ => Err(no_operator(op.symbol(), lt, rt)),
        },
        BinaryOp::Contains | BinaryOp::ContainedBy | BinaryOp::Overlap => match (left, right) {
            (Value::Array(a), Value::Array(b)) => Ok(Value::Bool(match op {
                BinaryOp::Contains => super::array::array_contains(a, b),
                BinaryOp::ContainedBy => super::array::array_contains(b, a),
                _ => super::array::array_overlaps(a, b),
            })),
            _ => Err(no_operator(op.symbol(), lt, rt)),
        },
        BinaryOp::Concat => match (left, right) {
            (Value::Array(a), Value::Array(b)) => {
                let mut v = a.clone();
                v.extend_from_slice(b);
                Ok(Value::Array(v))
            }
            (Value::Array(a), e) => {
                let mut v = a.clone();
                v.push(e.clone());
                Ok(Value::Array(v))
            }
            (e, Value::Array(b)) => {
                let mut v = vec![e.clone()];
                v.extend_from_slice(b);
                Ok(Value::Array(v))
            }
            (Value::Bytea(a), Value::Bytea(b)) => {
                let mut v = a.clone();
                v.extend_from_slice(b);
                Ok(Value::Bytea(v))
            }
            (Value::Text(_), _) | (_, Value::Text(_)) => {
                let ctx = IoContext::default();
                // The non-text side goes through its cast to text, which for
                // boolean spells `true`/`false` (not the output form `t`/`f`).
                let text = |v: &Value| match v {
                    Value::Bool(b) => b.to_string(),
                    v => to_text(v, &ctx),
                };
                let mut s = text(left);
                s.push_str(&text(right));
                Ok(Value::Text(s))
            }
            _ => Err(no_operator(op.symbol(), lt, rt)),
        },
        BinaryOp::ShiftLeft | BinaryOp::ShiftRight => {
            let (Some(a), Some(b)) = (left.as_i64(), right.as_i64()) else {
                return Err(no_operator(op.symbol(), lt, rt));
            };
            let b = b as u32;
            Ok(match left {
                Value::Int2(x) => Value::Int2(if op == BinaryOp::ShiftLeft {
                    x.wrapping_shl(b)
                } else {
                    x.wrapping_shr(b)
                }),
                Value::Int4(x) => Value::Int4(if op == BinaryOp::ShiftLeft {
                    x.wrapping_shl(b)
                } else {
                    x.wrapping_shr(b)
                }),
                _ => Value::Int8(if op == BinaryOp::ShiftLeft {
                    a.wrapping_shl(b)
                } else {
                    a.wrapping_shr(b)
                }),
            })
        }
        _ => eval_arith(op, left, right),
    }
}

fn eval_arith(op: BinaryOp, left: &Value, right: &Value) -> Result<Value> {
    let (lt, rt) = (left.data_type(), right.data_type());
    let fail = || no_operator(op.symbol(), lt, rt);
    if arith_type(lt, rt).is_some() {
        let t = binary_op_type(op, lt, rt)?;
        return match t {
            DataType::Int2 | DataType::Int4 | DataType::Int8 => {
                let (Some(a), Some(b)) = (left.as_i64(), right.as_i64()) else {
                    return Err(fail());
                };
                int_arith(op, a, b, t)
            }
            DataType::Float4 if op != BinaryOp::Pow => {
                let r = float_arith(op, as_f64(left), as_f64(right))?;
                let f = r as f32;
                if f.is_infinite() && !r.is_infinite() {
                    return Err(float_overflow());
                }
                Ok(Value::Float4(f))
            }
            DataType::Numeric(_) => {
                let (Value::Numeric(a), Value::Numeric(b)) =
                    (to_number(left, t)?, to_number(right, t)?)
                else {
                    return Err(fail());
                };
                numeric_arith(op, a, b).map(Value::Numeric)
            }
            _ => float_arith(op, as_f64(left), as_f64(right)).map(Value::Float8),
        };
    }
    let ts = |v: NaiveDateTime| Value::Timestamp(v);
    let tstz = |v: NaiveDateTime| Value::TimestampTz(DateTime::from_naive_utc_and_offset(v, Utc));
    let midnight = |d: &chrono::NaiveDate| d.and_time(NaiveTime::MIN);
    let small_int = |v: &Value| match v {
        Value::Int2(i) => Some(*i as i64),
        Value::Int4(i) => Some(*i as i64),
        _ => None,
    };
    let date_overflow = || Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "date out of range");
    match (op, left, right) {
        (BinaryOp::Add, Value::Date(d), n) | (BinaryOp::Add, n, Value::Date(d))
            if small_int(n).is_some() =>
        {
            d.checked_add_signed(Duration::days(small_int(n).unwrap_or(0)))
                .map(Value::Date)
                .ok_or_else(date_overflow)
        }
        (BinaryOp::Sub, Value::Date(d), n) if small_int(n).is_some() => d
            .checked_sub_signed(Duration::days(small_int(n).unwrap_or(0)))
            .map(Value::Date)
            .ok_or_else(date_overflow),
        (BinaryOp::Sub, Value::Date(a), Value::Date(b)) => {
            Ok(Value::Int4((*a - *b).num_days() as i32))
        }
        (BinaryOp::Add, Value::Date(d), Value::Interval(iv))
        | (BinaryOp::Add, Value::Interval(iv), Value::Date(d)) => {
            add_interval(midnight(d), iv, 1).map(ts)
        }
        (BinaryOp::Sub, Value::Date(d), Value::Interval(iv)) => {
            add_interval(midnight(d), iv, -1).map(ts)
        }
        (BinaryOp::Add, Value::Date(d), Value::Time(t))
        | (BinaryOp::Add, Value::Time(t), Value::Date(d)) => Ok(ts(d.and_time(*t))),
        (BinaryOp::Add, Value::Timestamp(t), Value::Interval(iv))
        | (BinaryOp::Add, Value::Interval(iv), Value::Timestamp(t)) => {
            add_interval(*t, iv, 1).map(ts)
        }
        (BinaryOp::Sub, Value::Timestamp(t), Value::Interval(iv)) => {
            add_interval(*t, iv, -1).map(ts)
        }
        (BinaryOp::Add, Value::TimestampTz(t), Value::Interval(iv))
        | (BinaryOp::Add, Value::Interval(iv), Value::TimestampTz(t)) => {
            add_interval(t.naive_utc(), iv, 1).map(tstz)
        }
        (BinaryOp::Sub, Value::TimestampTz(t), Value::Interval(iv)) => {
            add_interval(t.naive_utc(), iv, -1).map(tstz)
        }
        (
            BinaryOp::Sub,
            Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_),
            Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_),
        ) => timestamp_diff(datetime_micros(left), datetime_micros(right)).map(Value::Interval),
        (BinaryOp::Add, Value::Time(t), Value::Interval(iv))
        | (BinaryOp::Add, Value::Interval(iv), Value::Time(t)) => {
            Ok(Value::Time(time_add(*t, iv.micros)))
        }
        (BinaryOp::Sub, Value::Time(t), Value::Interval(iv)) => {
            Ok(Value::Time(time_add(*t, -iv.micros)))
        }
        (BinaryOp::Sub, Value::Time(a), Value::Time(b)) => Ok(Value::Interval(Interval {
            months: 0,
            days: 0,
            micros: super::io::time_to_micros(*a) - super::io::time_to_micros(*b),
        })),
        (BinaryOp::Add, Value::Interval(a), Value::Interval(b)) => {
            interval_addsub(a, b, 1).map(Value::Interval)
        }
        (BinaryOp::Sub, Value::Interval(a), Value::Interval(b)) => {
            interval_addsub(a, b, -1).map(Value::Interval)
        }
        (BinaryOp::Mul, Value::Interval(iv), n) | (BinaryOp::Mul, n, Value::Interval(iv))
            if num_rank(n.data_type()).is_some() =>
        {
            interval_scale(iv, as_f64(n), false).map(Value::Interval)
        }
        (BinaryOp::Div, Value::Interval(iv), n) if num_rank(n.data_type()).is_some() => {
            interval_scale(iv, as_f64(n), true).map(Value::Interval)
        }
        _ => Err(fail()),
    }
}

/// Result type of a unary operator applied to `operand`.
pub fn unary_op_type(op: UnaryOp, operand: DataType) -> Result<DataType> {
    let t = operand.without_modifier();
    let ok = match op {
        UnaryOp::Neg | UnaryOp::Plus => {
            (t.is_numeric() && t != DataType::Oid) || t == DataType::Interval
        }
        UnaryOp::Not => matches!(t, DataType::Bool | DataType::Unknown),
        UnaryOp::BitNot => t.is_integer(),
    };
    if !ok {
        return Err(no_unary_operator(op, operand));
    }
    Ok(match (op, t) {
        (UnaryOp::Not, _) => DataType::Bool,
        _ => t,
    })
}

pub fn eval_unary(op: UnaryOp, operand: &Value) -> Result<Value> {
    if operand.is_null() {
        return Ok(Value::Null);
    }
    let fail = || no_unary_operator(op, operand.data_type());
    Ok(match (op, operand) {
        (UnaryOp::Plus, v) if unary_op_type(op, v.data_type()).is_ok() => v.clone(),
        (UnaryOp::Neg, Value::Int2(v)) => {
            Value::Int2(v.checked_neg().ok_or_else(|| range_err(DataType::Int2))?)
        }
        (UnaryOp::Neg, Value::Int4(v)) => {
            Value::Int4(v.checked_neg().ok_or_else(|| range_err(DataType::Int4))?)
        }
        (UnaryOp::Neg, Value::Int8(v)) => {
            Value::Int8(v.checked_neg().ok_or_else(|| range_err(DataType::Int8))?)
        }
        (UnaryOp::Neg, Value::Float4(v)) => Value::Float4(-v),
        (UnaryOp::Neg, Value::Float8(v)) => Value::Float8(-v),
        (UnaryOp::Neg, Value::Numeric(v)) => Value::Numeric(-v),
        (UnaryOp::Neg, Value::Interval(iv)) => Value::Interval(Interval {
            months: iv.months.checked_neg().ok_or_else(interval_overflow)?,
            days: iv.days.checked_neg().ok_or_else(interval_overflow)?,
            micros: iv.micros.checked_neg().ok_or_else(interval_overflow)?,
        }),
        (UnaryOp::Not, Value::Bool(b)) => Value::Bool(!b),
        (UnaryOp::Not, Value::Text(s)) => Value::Bool(!super::io::parse_bool(s)?),
        (UnaryOp::BitNot, Value::Int2(v)) => Value::Int2(!v),
        (UnaryOp::BitNot, Value::Int4(v)) => Value::Int4(!v),
        (UnaryOp::BitNot, Value::Int8(v)) => Value::Int8(!v),
        _ => return Err(fail()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::io::{parse_text, to_text, IoContext};
    use std::collections::hash_map::DefaultHasher;

    fn v(ty: DataType, s: &str) -> Value {
        parse_text(ty, s, &IoContext::default()).unwrap()
    }

    #[test]
    fn like_on_text_and_bytes() {
        let like = |t: &str, p: &str| like_match(t, p, false);
        assert!(like("hello", "h%o"));
        assert!(like("hello", "_ello"));
        assert!(like("héllo", "h_llo"));
        assert!(!like("hello", "h_o"));
        assert!(like("a%b", "a\\%b"));
        assert!(!like("axb", "a\\%b"));
        assert!(like("", "%"));
        assert!(like_match("HeLLo", "he%", true));
        assert!(like_rec(b"ab\x00c".as_slice(), b"ab_c".as_slice()));
        assert!(!like_rec(b"abc".as_slice(), b"ab".as_slice()));
    }

    fn num(s: &str) -> Value {
        v(DataType::Numeric(None), s)
    }

    fn txt(val: &Value) -> String {
        to_text(val, &IoContext::default())
    }

    fn bin(op: BinaryOp, a: &Value, b: &Value) -> String {
        txt(&eval_binary(op, a, b).unwrap())
    }

    fn hash(v: &Value) -> u64 {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    #[test]
    fn comparisons() {
        assert_eq!(
            Value::Int2(1).sql_cmp(&Value::Int8(2)),
            Some(Ordering::Less)
        );
        assert_eq!(Value::Int4(1).sql_cmp(&num("1.0")), Some(Ordering::Equal));
        assert_eq!(
            Value::Float8(0.5).sql_cmp(&num("0.4")),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Value::Float8(f64::NAN).sql_cmp(&Value::Float8(f64::INFINITY)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Value::Float8(f64::NAN).sql_cmp(&Value::Float4(f32::NAN)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            Value::Text("B".into()).sql_cmp(&Value::Text("a".into())),
            Some(Ordering::Less)
        );
        assert_eq!(Value::Int4(1).sql_cmp(&Value::Text("1".into())), None);
        assert_eq!(Value::Null.sql_cmp(&Value::Null), None);
        assert_eq!(
            v(DataType::Date, "2026-01-02").sql_cmp(&v(DataType::Timestamp, "2026-01-02")),
            Some(Ordering::Equal)
        );
        assert_eq!(
            v(DataType::Timestamp, "2026-01-02 01:00")
                .sql_cmp(&v(DataType::TimestampTz, "2026-01-02 00:30+00")),
            Some(Ordering::Greater)
        );
        assert_eq!(
            v(DataType::Interval, "1 mon").sql_cmp(&v(DataType::Interval, "30 days")),
            Some(Ordering::Equal)
        );
        assert_eq!(Value::Null.total_cmp(&Value::Int4(1)), Ordering::Greater);
        assert_eq!(Value::Int4(1).total_cmp(&Value::Null), Ordering::Less);
        assert_eq!(Value::Null.total_cmp(&Value::Null), Ordering::Equal);
    }

    #[test]
    fn grouping_equality_and_hash() {
        let same = [
            Value::Int2(1),
            Value::Int4(1),
            Value::Int8(1),
            num("1.0"),
            Value::Float8(1.0),
            Value::Oid(1),
        ];
        for a in &same {
            for b in &same {
                assert_eq!(a, b);
                assert_eq!(hash(a), hash(b), "{a:?} {b:?}");
            }
        }
        assert_eq!(Value::Float8(-0.0), Value::Float8(0.0));
        assert_eq!(hash(&Value::Float8(-0.0)), hash(&Value::Float8(0.0)));
        assert_eq!(Value::Float8(f64::NAN), Value::Float8(f64::NAN));
        assert_eq!(hash(&num("0.5")), hash(&Value::Float8(0.5)));
        assert_eq!(Value::Null, Value::Null);
        assert_ne!(Value::Null, Value::Int4(0));
        assert_ne!(Value::Int4(1), Value::Text("1".into()));
        assert_eq!(
            hash(&v(DataType::Interval, "1 mon")),
            hash(&v(DataType::Interval, "30 days"))
        );
    }

    #[test]
    fn operator_types() {
        use DataType as T;
        let t = |op, a, b| binary_op_type(op, a, b).unwrap();
        assert_eq!(t(BinaryOp::Add, T::Int2, T::Int2), T::Int2);
        assert_eq!(t(BinaryOp::Add, T::Int2, T::Int4), T::Int4);
        assert_eq!(t(BinaryOp::Mul, T::Int4, T::Int8), T::Int8);
        assert_eq!(
            t(BinaryOp::Add, T::Int4, T::Numeric(Some((5, 2)))),
            T::Numeric(None)
        );
        assert_eq!(t(BinaryOp::Add, T::Float4, T::Float4), T::Float4);
        assert_eq!(t(BinaryOp::Add, T::Int4, T::Float4), T::Float8);
        assert_eq!(t(BinaryOp::Add, T::Numeric(None), T::Float4), T::Float8);
        assert_eq!(t(BinaryOp::Pow, T::Int4, T::Int4), T::Float8);
        assert_eq!(
            t(BinaryOp::Pow, T::Numeric(None), T::Int4),
            T::Numeric(None)
        );
        assert_eq!(t(BinaryOp::Concat, T::Text, T::Int4), T::Text);
        assert_eq!(t(BinaryOp::Eq, T::Varchar(Some(3)), T::Unknown), T::Bool);
        assert_eq!(t(BinaryOp::Add, T::Date, T::Int4), T::Date);
        assert_eq!(t(BinaryOp::Sub, T::Date, T::Date), T::Int4);
        assert_eq!(t(BinaryOp::Add, T::Date, T::Interval), T::Timestamp);
        assert_eq!(
            t(BinaryOp::Sub, T::TimestampTz, T::Interval),
            T::TimestampTz
        );
        assert_eq!(t(BinaryOp::Sub, T::Timestamp, T::Timestamp), T::Interval);
        assert_eq!(t(BinaryOp::Mul, T::Interval, T::Float8), T::Interval);
        let e = binary_op_type(BinaryOp::Eq, T::Int4, T::Text).unwrap_err();
        assert_eq!(e.state.code(), "42883");
        assert_eq!(e.message, "operator does not exist: integer = text");
        assert!(binary_op_type(BinaryOp::Concat, T::Int4, T::Int4).is_err());
        assert!(binary_op_type(BinaryOp::Mod, T::Float8, T::Float8).is_err());
        let e = unary_op_type(UnaryOp::Neg, T::Text).unwrap_err();
        assert_eq!(e.message, "operator does not exist: - text");
    }

    #[test]
    fn arithmetic() {
        use BinaryOp as B;
        assert_eq!(bin(B::Div, &Value::Int4(7), &Value::Int4(-2)), "-3");
        assert_eq!(bin(B::Mod, &Value::Int4(-7), &Value::Int4(3)), "-1");
        let e = eval_binary(B::Add, &Value::Int4(i32::MAX), &Value::Int4(1)).unwrap_err();
        assert_eq!(
            (e.state.code(), e.message.as_str()),
            ("22003", "integer out of range")
        );
        let e = eval_binary(B::Add, &Value::Int2(i16::MAX), &Value::Int2(1)).unwrap_err();
        assert_eq!(e.message, "smallint out of range");
        let e = eval_binary(B::Mul, &Value::Int8(i64::MAX), &Value::Int4(2)).unwrap_err();
        assert_eq!(e.message, "bigint out of range");
        let e = eval_binary(B::Div, &Value::Int4(i32::MIN), &Value::Int4(-1)).unwrap_err();
        assert_eq!(e.message, "integer out of range");
        let e = eval_binary(B::Div, &num("1.0"), &Value::Int4(0)).unwrap_err();
        assert_eq!(
            (e.state.code(), e.message.as_str()),
            ("22012", "division by zero")
        );
        assert_eq!(
            eval_binary(B::Mod, &Value::Int4(1), &Value::Int4(0))
                .unwrap_err()
                .state
                .code(),
            "22012"
        );
        assert_eq!(
            eval_binary(B::Div, &Value::Float8(1.0), &Value::Float8(0.0))
                .unwrap_err()
                .state
                .code(),
            "22012"
        );
        let e = eval_binary(B::Mul, &Value::Float8(1e308), &Value::Int4(10)).unwrap_err();
        assert_eq!(e.message, "value out of range: overflow");
        assert_eq!(
            bin(B::Div, &num("1"), &Value::Int4(3)),
            "0.33333333333333333333"
        );
        assert_eq!(
            bin(B::Div, &num("6"), &Value::Int4(2)),
            "3.0000000000000000"
        );
        assert_eq!(
            bin(B::Div, &num("100"), &Value::Int4(7)),
            "14.2857142857142857"
        );
        assert_eq!(bin(B::Mul, &num("1.5"), &num("2.25")), "3.375");
        assert_eq!(bin(B::Mod, &num("7.5"), &Value::Int4(2)), "1.5");
        assert_eq!(
            bin(B::Pow, &num("2"), &Value::Int4(3)),
            "8.0000000000000000"
        );
        assert_eq!(
            bin(B::Pow, &num("1.5"), &Value::Int4(2)),
            "2.2500000000000000"
        );
        assert_eq!(bin(B::Pow, &Value::Int4(2), &Value::Int4(3)), "8");
        assert_eq!(
            eval_binary(B::Pow, &Value::Float8(0.0), &Value::Int4(-1))
                .unwrap_err()
                .message,
            "zero raised to a negative power is undefined"
        );
        assert_eq!(bin(B::Add, &Value::Int4(1), &Value::Float4(1.5)), "2.5");
        assert!(matches!(
            eval_binary(B::Add, &Value::Int4(1), &Value::Float4(1.5)).unwrap(),
            Value::Float8(_)
        ));
        assert_eq!(bin(B::BitXor, &Value::Int4(5), &Value::Int4(3)), "6");
        assert_eq!(
            bin(B::ShiftLeft, &Value::Int8(1), &Value::Int4(40)),
            "1099511627776"
        );
        assert_eq!(
            txt(&eval_unary(UnaryOp::BitNot, &Value::Int4(0)).unwrap()),
            "-1"
        );
        assert_eq!(
            eval_unary(UnaryOp::Neg, &Value::Int4(i32::MIN))
                .unwrap_err()
                .message,
            "integer out of range"
        );
        assert_eq!(
            eval_binary(B::Add, &Value::Null, &Value::Int4(1)).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn strings_and_patterns() {
        use BinaryOp as B;
        let s = |x: &str| Value::Text(x.into());
        assert_eq!(bin(B::Concat, &s("a"), &Value::Int4(1)), "a1");
        assert_eq!(bin(B::Concat, &Value::Int4(1), &s("a")), "1a");
        assert_eq!(bin(B::Concat, &s("a"), &Value::Bool(true)), "atrue");
        assert!(eval_binary(B::Concat, &s("a"), &Value::Null)
            .unwrap()
            .is_null());
        assert_eq!(bin(B::Like, &s("hello"), &s("h%o")), "t");
        assert_eq!(bin(B::Like, &s("hello"), &s("h_llo")), "t");
        assert_eq!(bin(B::Like, &s("hello"), &s("H%")), "f");
        assert_eq!(bin(B::ILike, &s("hello"), &s("H%")), "t");
        assert_eq!(bin(B::NotLike, &s("50%"), &s("50\\%")), "f");
        assert_eq!(bin(B::Like, &s("50x"), &s("50\\%")), "f");
        assert_eq!(bin(B::Like, &s("a_b"), &s("a\\_b")), "t");
        assert_eq!(bin(B::Like, &s(""), &s("%")), "t");
        let re = |ci, neg| B::RegexMatch {
            case_insensitive: ci,
            negated: neg,
        };
        assert_eq!(bin(re(false, false), &s("abc"), &s("^a.c$")), "t");
        assert_eq!(bin(re(true, false), &s("ABC"), &s("b")), "t");
        assert_eq!(bin(re(false, true), &s("ABC"), &s("b")), "t");
        assert_eq!(
            eval_binary(re(false, false), &s("a"), &s("("))
                .unwrap_err()
                .state
                .code(),
            "2201B"
        );
        assert_eq!(bin(B::Eq, &Value::Int4(5), &s("5")), "t");
        assert_eq!(bin(B::Lt, &s("abc"), &s("abd")), "t");
    }

    #[test]
    fn datetime_arithmetic() {
        use BinaryOp as B;
        let d = |s| v(DataType::Date, s);
        let ts = |s| v(DataType::Timestamp, s);
        let iv = |s| v(DataType::Interval, s);
        assert_eq!(bin(B::Add, &d("2026-01-31"), &Value::Int4(1)), "2026-02-01");
        assert_eq!(bin(B::Sub, &d("2026-03-01"), &Value::Int4(1)), "2026-02-28");
        assert_eq!(bin(B::Sub, &d("2026-03-01"), &d("2026-02-01")), "28");
        assert_eq!(
            bin(B::Add, &d("2026-01-31"), &iv("1 month")),
            "2026-02-28 00:00:00"
        );
        assert_eq!(
            bin(B::Sub, &ts("2026-01-03 01:00"), &ts("2026-01-01")),
            "2 days 01:00:00"
        );
        assert_eq!(
            bin(B::Add, &ts("2026-01-01 23:00"), &iv("1 day 2 hours")),
            "2026-01-03 01:00:00"
        );
        let tz = v(DataType::TimestampTz, "2026-01-01 00:00+00");
        assert_eq!(bin(B::Sub, &tz, &iv("1 hour")), "2025-12-31 23:00:00+00");
        assert_eq!(
            bin(B::Mul, &iv("1 mon"), &Value::Float8(1.5)),
            "1 mon 15 days"
        );
        assert_eq!(bin(B::Div, &iv("1 day"), &Value::Int4(3)), "08:00:00");
        assert_eq!(bin(B::Sub, &iv("1 day"), &iv("2 days")), "-1 days");
        assert_eq!(bin(B::Sub, &iv("1 day"), &iv("1 mon")), "-1 mons +1 day");
        assert_eq!(bin(B::Mul, &iv("1 year"), &num("0.3")), "3 mons 18 days");
        assert_eq!(
            bin(B::Div, &iv("-7 days 3 hours"), &Value::Int4(7)),
            "-1 days +00:25:42.857143"
        );
        assert_eq!(txt(&iv("-1 day -25 hours")), "-1 days -25:00:00");
        assert_eq!(
            txt(&eval_unary(UnaryOp::Neg, &iv("1 day 02:00:00")).unwrap()),
            "-1 days -02:00:00"
        );
    }
}
