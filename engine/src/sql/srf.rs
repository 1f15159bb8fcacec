//! Set-returning functions: `generate_series` (integer, bigint, numeric,
//! timestamp and timestamptz with an interval step), `generate_subscripts`
//! and `unnest`, the json ones, and the two-column `jsonb_each(_text)` /
//! `json_each(_text)`.
//! Rows are produced one at a time, so a long series is never held in
//! memory.

use crate::error::{Error, Result, SqlState};
use crate::types::value::add_interval;
use crate::types::{DataType, Interval, Value};
use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetFunc {
    GenerateSeries,
    /// generate_subscripts(array, dim [, reverse]).
    GenerateSubscripts,
    Unnest,
    /// pg_partition_ancestors(regclass): a partition's ancestors, itself
    /// first. Only partitions and partitioned tables have any, and joltdb
    /// has neither, so the set is always empty (psql's `\d` adds the
    /// table itself).
    PartitionAncestors,
    /// jsonb_array_elements(_text), jsonb_object_keys and their json forms.
    Json(&'static str),
    /// jsonb_each(_text) and json_each(_text): `key`, `value` columns.
    Each(&'static str),
}

impl SetFunc {
    pub fn by_name(name: &str) -> Option<SetFunc> {
        match name {
            "generate_series" => Some(SetFunc::GenerateSeries),
            "generate_subscripts" => Some(SetFunc::GenerateSubscripts),
            "unnest" => Some(SetFunc::Unnest),
            "pg_partition_ancestors" => Some(SetFunc::PartitionAncestors),
            _ => crate::types::json_funcs::set_function(name)
                .map(|(n, _, _)| SetFunc::Json(n))
                .or_else(|| {
                    crate::types::json_funcs::each_function(name).map(|(n, _, _)| SetFunc::Each(n))
                }),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            SetFunc::GenerateSeries => "generate_series",
            SetFunc::GenerateSubscripts => "generate_subscripts",
            SetFunc::Unnest => "unnest",
            SetFunc::PartitionAncestors => "pg_partition_ancestors",
            SetFunc::Json(name) | SetFunc::Each(name) => name,
        }
    }

    /// The column names of a function that produces several columns (the
    /// last one of the type [`SetFunc::signature`] gives, the others text).
    pub fn column_names(&self) -> Option<&'static [&'static str]> {
        match self {
            SetFunc::Each(_) => Some(&["key", "value"]),
            _ => None,
        }
    }

    /// The produced column's own name, for functions whose result column
    /// is named independently of the function (PostgreSQL's OUT
    /// parameters): `value` for the json array element functions.
    pub fn column_name(&self) -> Option<&'static str> {
        match self {
            SetFunc::Json(name) if name.contains("array_elements") => Some("value"),
            SetFunc::PartitionAncestors => Some("relid"),
            _ => None,
        }
    }

    /// The argument types the call's arguments are cast to and the type of
    /// the produced column, or `None` when no variant fits.
    pub fn signature(&self, args: &[DataType]) -> Option<(Vec<DataType>, DataType)> {
        use DataType as T;
        match self {
            SetFunc::Unnest => match args {
                [a] if a.is_array() => Some((vec![*a], a.elem()?)),
                _ => None,
            },
            SetFunc::GenerateSubscripts => {
                let int = |t: &T| matches!(t, T::Int2 | T::Int4 | T::Unknown);
                match args {
                    [a, d] if a.is_array() && int(d) => Some((vec![*a, T::Int4], T::Int4)),
                    [a, d, r] if a.is_array() && int(d) && matches!(r, T::Bool | T::Unknown) => {
                        Some((vec![*a, T::Int4, T::Bool], T::Int4))
                    }
                    _ => None,
                }
            }
            SetFunc::Each(name) => {
                let (_, input, output) = crate::types::json_funcs::each_function(name)?;
                match args {
                    [a] if *a == input || *a == T::Unknown => Some((vec![input], output)),
                    _ => None,
                }
            }
            SetFunc::PartitionAncestors => match args {
                [T::Oid | T::Unknown | T::Int2 | T::Int4 | T::Int8] => Some((vec![T::Oid], T::Oid)),
                _ => None,
            },
            SetFunc::Json(name) => {
                let (_, input, output) = crate::types::json_funcs::set_function(name)?;
                match args {
                    [a] if *a == input || *a == T::Unknown => Some((vec![input], output)),
                    _ => None,
                }
            }
            SetFunc::GenerateSeries => {
                if !(2..=3).contains(&args.len()) {
                    return None;
                }
                let rank = |t: &T| match t {
                    T::Int2 | T::Int4 | T::Unknown => Some(0),
                    T::Int8 => Some(1),
                    T::Numeric(_) => Some(2),
                    _ => None,
                };
                if let Some(r) = args
                    .iter()
                    .map(rank)
                    .try_fold(0, |m, r| r.map(|r| m.max(r)))
                {
                    let t = [T::Int4, T::Int8, T::Numeric(None)][r];
                    return Some((vec![t; args.len()], t));
                }
                let ts = match (args[0], args[1]) {
                    (T::Timestamp, T::Timestamp | T::Unknown)
                    | (T::Unknown, T::Timestamp)
                    | (T::Date, T::Date) => T::Timestamp,
                    (a, b)
                        if matches!(a, T::TimestampTz | T::Timestamp | T::Date | T::Unknown)
                            && matches!(
                                b,
                                T::TimestampTz | T::Timestamp | T::Date | T::Unknown
                            ) =>
                    {
                        T::TimestampTz
                    }
                    _ => return None,
                };
                match args.get(2) {
                    Some(T::Interval | T::Unknown) => Some((vec![ts, ts, T::Interval], ts)),
                    _ => None,
                }
            }
        }
    }
}

/// The running state of one call.
pub enum SetIter {
    Int {
        next: i128,
        stop: i128,
        step: i128,
        int8: bool,
    },
    Numeric {
        next: Decimal,
        stop: Decimal,
        step: Decimal,
    },
    Timestamp {
        next: NaiveDateTime,
        stop: NaiveDateTime,
        step: Interval,
        forward: bool,
        tz: bool,
    },
    Values(std::vec::IntoIter<Value>),
    /// Whole rows, for functions with several columns.
    Rows(std::vec::IntoIter<Vec<Value>>),
    Done,
}

fn zero_step() -> Error {
    Error::new(
        SqlState::INVALID_PARAMETER_VALUE,
        "step size cannot equal zero",
    )
}

impl SetIter {
    /// Starts a call with its (already cast) arguments.
    pub fn start(func: SetFunc, args: Vec<Value>) -> Result<SetIter> {
        if args.iter().any(Value::is_null) {
            return Ok(SetIter::Done);
        }
        Ok(match func {
            SetFunc::Unnest => match args.into_iter().next() {
                Some(Value::Array(items)) => SetIter::Values(items.into_iter()),
                _ => SetIter::Done,
            },
            SetFunc::PartitionAncestors => SetIter::Done,
            SetFunc::Json(name) => {
                SetIter::Values(crate::types::json_funcs::set_members(name, &args[0])?.into_iter())
            }
            SetFunc::Each(name) => {
                SetIter::Rows(crate::types::json_funcs::each_rows(name, &args[0])?.into_iter())
            }
            // Arrays are one-dimensional with lower bound 1: dimension 1
            // has subscripts 1..=length, any other none.
            SetFunc::GenerateSubscripts => match (&args[0], &args[1]) {
                (Value::Array(items), Value::Int4(1)) if !items.is_empty() => {
                    let len = items.len() as i128;
                    if matches!(args.get(2), Some(Value::Bool(true))) {
                        SetIter::Int {
                            next: len,
                            stop: 1,
                            step: -1,
                            int8: false,
                        }
                    } else {
                        SetIter::Int {
                            next: 1,
                            stop: len,
                            step: 1,
                            int8: false,
                        }
                    }
                }
                _ => SetIter::Done,
            },
            SetFunc::GenerateSeries => match (&args[0], &args[1]) {
                (Value::Numeric(a), Value::Numeric(b)) => {
                    let step = match args.get(2) {
                        Some(Value::Numeric(s)) => *s,
                        _ => Decimal::ONE,
                    };
                    if step.is_zero() {
                        return Err(zero_step());
                    }
                    SetIter::Numeric {
                        next: *a,
                        stop: *b,
                        step,
                    }
                }
                (Value::Timestamp(_) | Value::TimestampTz(_), _) => {
                    let naive = |v: &Value| match v {
                        Value::Timestamp(t) => *t,
                        Value::TimestampTz(t) => t.naive_utc(),
                        _ => NaiveDateTime::MIN,
                    };
                    let step = match args.get(2) {
                        Some(Value::Interval(iv)) => *iv,
                        _ => return Ok(SetIter::Done),
                    };
                    let total = crate::types::io::interval_total_micros(&step);
                    if total == 0 {
                        return Err(zero_step());
                    }
                    SetIter::Timestamp {
                        next: naive(&args[0]),
                        stop: naive(&args[1]),
                        step,
                        forward: total > 0,
                        tz: matches!(args[0], Value::TimestampTz(_)),
                    }
                }
                (a, b) => {
                    let step = args.get(2).and_then(Value::as_i64).unwrap_or(1);
                    if step == 0 {
                        return Err(zero_step());
                    }
                    SetIter::Int {
                        next: a.as_i64().unwrap_or_default() as i128,
                        stop: b.as_i64().unwrap_or_default() as i128,
                        step: step as i128,
                        int8: matches!(a, Value::Int8(_)),
                    }
                }
            },
        })
    }

    /// The next row, `None` when the call is exhausted.
    pub fn next_row(&mut self) -> Result<Option<Vec<Value>>> {
        match self {
            SetIter::Rows(rows) => Ok(rows.next()),
            _ => Ok(self.next_value()?.map(|v| vec![v])),
        }
    }

    /// The next value of a one-column function, `None` when the call is
    /// exhausted.
    pub fn next_value(&mut self) -> Result<Option<Value>> {
        Ok(match self {
            SetIter::Done => None,
            SetIter::Rows(_) => {
                return Err(Error::internal(
                    "a function with several columns read as one value",
                ))
            }
            SetIter::Values(it) => it.next(),
            SetIter::Int {
                next,
                stop,
                step,
                int8,
            } => {
                if (*step > 0 && *next > *stop) || (*step < 0 && *next < *stop) {
                    return Ok(None);
                }
                let v = *next;
                *next += *step;
                Some(if *int8 {
                    Value::Int8(v as i64)
                } else {
                    Value::Int4(v as i32)
                })
            }
            SetIter::Numeric { next, stop, step } => {
                if (step.is_sign_positive() && *next > *stop)
                    || (step.is_sign_negative() && *next < *stop)
                {
                    return Ok(None);
                }
                let v = *next;
                *next = next.checked_add(*step).ok_or_else(|| {
                    Error::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "value out of range")
                })?;
                Some(Value::Numeric(v))
            }
            SetIter::Timestamp {
                next,
                stop,
                step,
                forward,
                tz,
            } => {
                if (*forward && *next > *stop) || (!*forward && *next < *stop) {
                    return Ok(None);
                }
                let v = *next;
                // Past the representable range the series ends.
                *next = add_interval(v, step, 1).unwrap_or(if *forward {
                    NaiveDateTime::MAX
                } else {
                    NaiveDateTime::MIN
                });
                Some(if *tz {
                    Value::TimestampTz(DateTime::from_naive_utc_and_offset(v, Utc))
                } else {
                    Value::Timestamp(v)
                })
            }
        })
    }
}
