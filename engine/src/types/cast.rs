//! Conversions between types: explicit casts, assignment casts and the
//! implicit coercions the binder applies.

use super::io::{format_text, parse_numeric, parse_text, IoContext};
use super::{DataType, Value};
use crate::error::{Error, Result, SqlState};
use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

/// Explicit cast (`x::t`, `CAST(x AS t)`). NULL casts to NULL.
/// Conversions involving timestamptz use UTC; see [`cast_with`].
pub fn cast(value: Value, target: DataType) -> Result<Value> {
    cast_with(value, target, &IoContext::default())
}

/// Explicit cast in a session context (timestamptz <-> timestamp/date/text
/// conversions use the session's time zone offset).
pub fn cast_with(value: Value, target: DataType, ctx: &IoContext) -> Result<Value> {
    convert(value, target, ctx, false)
}

/// Assignment cast for storing into a column of type `target` (INSERT,
/// UPDATE): applies length limits (22001) and numeric precision (22003).
pub fn assign(value: Value, target: DataType) -> Result<Value> {
    assign_with(value, target, &IoContext::default())
}

/// Assignment cast in a session context.
pub fn assign_with(value: Value, target: DataType, ctx: &IoContext) -> Result<Value> {
    convert(value, target, ctx, true)
}

fn cannot_cast(from: DataType, to: DataType) -> Error {
    Error::new(
        SqlState::CANNOT_COERCE,
        format!("cannot cast type {} to {}", from.sql_name(), to.sql_name()),
    )
}

fn convert(value: Value, target: DataType, ctx: &IoContext, assignment: bool) -> Result<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if let Some(r) = super::json_funcs::cast(&value, target) {
        return r;
    }
    let from = value.data_type();
    let fail = || cannot_cast(from, target);
    let v = match (value, target) {
        (v @ Value::Text(_), t) if t.is_string() || t == DataType::Unknown => v,
        (v, t) if t.is_string() || t == DataType::Unknown => Value::Text(match v {
            Value::Bool(b) => (if b { "true" } else { "false" }).to_string(),
            other => {
                let mut s = String::new();
                format_text(&other, ctx, &mut s);
                s
            }
        }),
        (Value::Text(s), t @ DataType::Array(_)) => {
            return convert(parse_text(t, &s, ctx)?, t, ctx, assignment)
        }
        (Value::Text(s), t) => parse_text(t, &s, ctx)?,
        (Value::Array(items), t @ DataType::Array(_)) => {
            let elem = t.elem().ok_or_else(fail)?;
            Value::Array(
                items
                    .into_iter()
                    .map(|v| convert(v, elem, ctx, assignment))
                    .collect::<Result<_>>()?,
            )
        }
        (v, DataType::Bool) => match v {
            Value::Bool(b) => Value::Bool(b),
            Value::Int2(i) => Value::Bool(i != 0),
            Value::Int4(i) => Value::Bool(i != 0),
            Value::Int8(i) => Value::Bool(i != 0),
            _ => return Err(fail()),
        },
        (v, t @ (DataType::Int2 | DataType::Int4 | DataType::Int8)) => {
            let i = match v {
                Value::Bool(b) => b as i64,
                Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Oid(_) => {
                    v.as_i64().unwrap_or_default()
                }
                Value::Float4(f) => float_to_int(f as f64, t)?,
                Value::Float8(f) => float_to_int(f, t)?,
                Value::Numeric(d) => d
                    .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
                    .to_i64()
                    .ok_or_else(|| int_range(t))?,
                _ => return Err(fail()),
            };
            fit_int(i, t)?
        }
        (v, DataType::Float4) => {
            let f = match v {
                Value::Float4(f) => return Ok(Value::Float4(f)),
                Value::Float8(f) => f,
                Value::Numeric(d) => d.to_f64().unwrap_or(f64::NAN),
                Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Oid(_) => {
                    v.as_i64().unwrap_or_default() as f64
                }
                _ => return Err(fail()),
            };
            let r = f as f32;
            if r.is_infinite() && f.is_finite() {
                return Err(Error::new(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: overflow",
                ));
            }
            if r == 0.0 && f != 0.0 {
                return Err(Error::new(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: underflow",
                ));
            }
            Value::Float4(r)
        }
        (v, DataType::Float8) => Value::Float8(match v {
            Value::Float4(f) => f as f64,
            Value::Float8(f) => f,
            Value::Numeric(d) => d.to_f64().unwrap_or(f64::NAN),
            Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Oid(_) => {
                v.as_i64().unwrap_or_default() as f64
            }
            _ => return Err(fail()),
        }),
        (v, DataType::Numeric(_)) => Value::Numeric(match v {
            Value::Numeric(d) => d,
            Value::Float4(f) => float_to_numeric(f as f64, 6)?,
            Value::Float8(f) => float_to_numeric(f, 15)?,
            Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Oid(_) => {
                Decimal::from(v.as_i64().unwrap_or_default())
            }
            _ => return Err(fail()),
        }),
        (v, DataType::Oid) => match v {
            Value::Oid(o) => Value::Oid(o),
            Value::Int2(_) | Value::Int4(_) | Value::Int8(_) => {
                let i = v.as_i64().unwrap_or_default();
                let o = u32::try_from(i)
                    .or_else(|_| i32::try_from(i).map(|x| x as u32))
                    .map_err(|_| Error::out_of_range("OID"))?;
                Value::Oid(o)
            }
            _ => return Err(fail()),
        },
        (v, DataType::Date) => match v {
            Value::Date(d) => Value::Date(d),
            Value::Timestamp(ts) => Value::Date(ts.date()),
            Value::TimestampTz(ts) => Value::Date(to_local(&ts, ctx)?.date()),
            _ => return Err(fail()),
        },
        (v, DataType::Time) => match v {
            Value::Time(t) => Value::Time(t),
            Value::Timestamp(ts) => Value::Time(ts.time()),
            Value::TimestampTz(ts) => Value::Time(to_local(&ts, ctx)?.time()),
            Value::Interval(iv) => {
                let us = iv.micros.rem_euclid(super::io::MICROS_PER_DAY);
                Value::Time(super::io::micros_to_time(us).unwrap_or(NaiveTime::MIN))
            }
            _ => return Err(fail()),
        },
        (v, DataType::Timestamp) => match v {
            Value::Timestamp(ts) => Value::Timestamp(ts),
            Value::Date(d) => Value::Timestamp(d.and_time(NaiveTime::MIN)),
            Value::TimestampTz(ts) => Value::Timestamp(to_local(&ts, ctx)?),
            _ => return Err(fail()),
        },
        (v, DataType::TimestampTz) => match v {
            Value::TimestampTz(ts) => Value::TimestampTz(ts),
            Value::Date(d) => from_local(d.and_time(NaiveTime::MIN), ctx)?,
            Value::Timestamp(ts) => from_local(ts, ctx)?,
            _ => return Err(fail()),
        },
        (v, DataType::Interval) => match v {
            Value::Interval(iv) => Value::Interval(iv),
            Value::Time(t) => Value::Interval(super::Interval {
                months: 0,
                days: 0,
                micros: super::io::time_to_micros(t),
            }),
            _ => return Err(fail()),
        },
        (v @ Value::Bytea(_), DataType::Bytea) => v,
        (v @ Value::Uuid(_), DataType::Uuid) => v,
        _ => return Err(fail()),
    };
    apply_modifier(v, target, assignment)
}

fn to_local(ts: &DateTime<Utc>, ctx: &IoContext) -> Result<NaiveDateTime> {
    ts.naive_utc()
        .checked_add_signed(Duration::seconds(ctx.tz_offset_secs as i64))
        .ok_or_else(timestamp_range)
}

fn from_local(ts: NaiveDateTime, ctx: &IoContext) -> Result<Value> {
    let utc = ts
        .checked_sub_signed(Duration::seconds(ctx.tz_offset_secs as i64))
        .ok_or_else(timestamp_range)?;
    Ok(Value::TimestampTz(DateTime::from_naive_utc_and_offset(
        utc, Utc,
    )))
}

fn timestamp_range() -> Error {
    Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "timestamp out of range")
}

fn int_range(t: DataType) -> Error {
    Error::out_of_range(t.base_name())
}

fn fit_int(i: i64, t: DataType) -> Result<Value> {
    Ok(match t {
        DataType::Int2 => Value::Int2(i16::try_from(i).map_err(|_| int_range(t))?),
        DataType::Int4 => Value::Int4(i32::try_from(i).map_err(|_| int_range(t))?),
        _ => Value::Int8(i),
    })
}

/// Float to integer rounds half to even (C's rint), as PostgreSQL does.
fn float_to_int(f: f64, t: DataType) -> Result<i64> {
    let r = f.round_ties_even();
    if r.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&r) {
        return Err(int_range(t));
    }
    Ok(r as i64)
}

/// Float to numeric goes through `digits` significant decimal digits, like
/// PostgreSQL's `%.*g` conversion.
fn float_to_numeric(f: f64, digits: usize) -> Result<Decimal> {
    if f.is_nan() {
        return Err(Error::unsupported("numeric NaN is not supported"));
    }
    if f.is_infinite() {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "cannot convert infinity to numeric",
        ));
    }
    let s = format!("{:.*e}", digits - 1, f);
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mant = if mant.contains('.') {
        mant.trim_end_matches('0').trim_end_matches('.')
    } else {
        mant
    };
    parse_numeric(&format!("{mant}e{exp}"))
}

/// Applies numeric(p,s) rounding/precision checks, and varchar(n)/char(n)
/// length rules (truncating for explicit casts, erroring for assignment).
fn apply_modifier(v: Value, target: DataType, assignment: bool) -> Result<Value> {
    match (v, target) {
        (Value::Numeric(d), DataType::Numeric(Some((p, s)))) => {
            numeric_typmod(d, p, s).map(Value::Numeric)
        }
        (Value::Text(s), DataType::Varchar(Some(n))) => {
            Ok(Value::Text(fit_length(s, n, assignment, target)?))
        }
        (Value::Text(s), DataType::Char(n)) => {
            let n = match n {
                Some(n) => n,
                None => return Ok(Value::Text(s)),
            };
            let mut s = fit_length(s, n, assignment, target)?;
            let len = s.chars().count();
            s.extend(std::iter::repeat_n(' ', n as usize - len));
            Ok(Value::Text(s))
        }
        (Value::Text(s), DataType::InternalChar) => {
            // PostgreSQL keeps the first byte; a multibyte character is
            // kept whole here, since values are UTF-8 strings.
            Ok(Value::Text(
                s.chars().next().map(String::from).unwrap_or_default(),
            ))
        }
        (Value::Text(mut s), DataType::Name) => {
            if s.len() > 63 {
                let mut cut = 63;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
            }
            Ok(Value::Text(s))
        }
        (v, _) => Ok(v),
    }
}

fn fit_length(s: String, n: u32, assignment: bool, target: DataType) -> Result<String> {
    let n = n as usize;
    if s.len() <= n {
        // No more bytes than allowed characters.
        return Ok(s);
    }
    let Some((cut, _)) = s.char_indices().nth(n) else {
        return Ok(s);
    };
    if assignment && !s[cut..].chars().all(|c| c == ' ') {
        return Err(Error::new(
            SqlState::STRING_DATA_RIGHT_TRUNCATION,
            format!("value too long for type {}", target.sql_name()),
        ));
    }
    let mut s = s;
    s.truncate(cut);
    Ok(s)
}

/// Rounds to `scale` digits and checks the integer digits fit `precision`.
pub fn numeric_typmod(d: Decimal, precision: u32, scale: u32) -> Result<Decimal> {
    let mut r = d.round_dp_with_strategy(scale.min(28), RoundingStrategy::MidpointAwayFromZero);
    r.rescale(scale.min(28));
    let int_digits = precision as i64 - scale as i64;
    let overflow = if int_digits > 28 {
        false
    } else if int_digits >= 0 {
        let bound = Decimal::from_i128_with_scale(10i128.pow(int_digits as u32), 0);
        r.abs() >= bound
    } else {
        let bound = Decimal::from_i128_with_scale(1, (-int_digits) as u32);
        r.abs() >= bound
    };
    if overflow {
        let limit = match int_digits {
            0 => "1".to_string(),
            n => format!("10^{n}"),
        };
        return Err(Error::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "numeric field overflow")
            .with_detail(format!(
                "A field with precision {precision}, scale {scale} must round to an absolute value less than {limit}."
            )));
    }
    Ok(r)
}

/// Rank in the numeric category (implicit casts only widen).
fn num_rank(t: DataType) -> Option<u8> {
    Some(match t {
        DataType::Int2 => 0,
        DataType::Int4 => 1,
        DataType::Int8 => 2,
        DataType::Numeric(_) => 3,
        DataType::Float4 => 4,
        DataType::Float8 => 5,
        _ => return None,
    })
}

fn datetime_rank(t: DataType) -> Option<u8> {
    Some(match t {
        DataType::Date => 0,
        DataType::Timestamp => 1,
        DataType::TimestampTz => 2,
        _ => return None,
    })
}

/// Whether PostgreSQL would convert `from` to `to` implicitly.
pub fn can_implicit_cast(from: DataType, to: DataType) -> bool {
    if from == DataType::Unknown || from.without_modifier() == to.without_modifier() {
        return true;
    }
    if let (Some(a), Some(b)) = (from.elem(), to.elem()) {
        return can_implicit_cast(a, b);
    }
    if from.is_string() && to.is_string() {
        return true;
    }
    if let (Some(a), Some(b)) = (num_rank(from), num_rank(to)) {
        return a < b;
    }
    if let (Some(a), Some(b)) = (datetime_rank(from), datetime_rank(to)) {
        return a < b;
    }
    matches!(
        (from, to),
        (
            DataType::Int2 | DataType::Int4 | DataType::Int8,
            DataType::Oid
        ) | (DataType::Oid, DataType::Int8)
            | (DataType::Time, DataType::Interval)
    )
}

/// Whether a value of `from` may be stored into a column of type `to`
/// without an explicit cast (PostgreSQL's implicit and assignment casts).
pub fn can_assign_cast(from: DataType, to: DataType) -> bool {
    if can_implicit_cast(from, to) || to.is_string() {
        return true;
    }
    if let (Some(a), Some(b)) = (from.elem(), to.elem()) {
        return can_assign_cast(a, b);
    }
    (from.is_numeric() && to.is_numeric())
        || (datetime_rank(from).is_some() && datetime_rank(to).is_some())
        || matches!(
            (from, to),
            (DataType::Interval, DataType::Time)
                | (DataType::Timestamp | DataType::TimestampTz, DataType::Time)
                | (DataType::Json, DataType::Jsonb)
                | (DataType::Jsonb, DataType::Json)
        )
}

/// The common type two expressions are coerced to (CASE, COALESCE, UNION,
/// IN lists, comparisons); `None` when they cannot be matched. Unknown
/// (untyped literals, NULL) yields to the other side; callers folding over
/// several expressions resolve an all-unknown result to text at the end.
pub fn common_type(a: DataType, b: DataType) -> Option<DataType> {
    use DataType as T;
    match (a, b) {
        (T::Unknown, t) | (t, T::Unknown) => Some(t),
        _ if a == b => Some(a),
        _ if a.without_modifier() == b.without_modifier() => Some(a.without_modifier()),
        _ if a.is_string() && b.is_string() => Some(T::Text),
        (T::Array(_), T::Array(_)) => common_type(a.elem()?, b.elem()?)?.array_of(),
        (T::Oid, t) | (t, T::Oid) if t.is_integer() => Some(T::Int8),
        (T::Time, T::Interval) | (T::Interval, T::Time) => Some(T::Interval),
        _ => {
            if let (Some(x), Some(y)) = (num_rank(a), num_rank(b)) {
                return Some(if x >= y { a } else { b }.without_modifier());
            }
            if let (Some(x), Some(y)) = (datetime_rank(a), datetime_rank(b)) {
                return Some(if x >= y { a } else { b });
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::io::to_text;

    fn num(s: &str) -> Value {
        Value::Numeric(parse_numeric(s).unwrap())
    }

    fn txt(v: &Value) -> String {
        to_text(v, &IoContext::default())
    }

    fn c(v: Value, t: DataType) -> String {
        txt(&cast(v, t).unwrap())
    }

    #[test]
    fn numeric_casts() {
        assert_eq!(c(Value::Float8(2.5), DataType::Int4), "2");
        assert_eq!(c(Value::Float8(3.5), DataType::Int4), "4");
        assert_eq!(c(num("2.5"), DataType::Int4), "3");
        assert_eq!(c(num("-2.5"), DataType::Int4), "-3");
        assert_eq!(
            cast(Value::Float8(f64::NAN), DataType::Int4)
                .unwrap_err()
                .message,
            "integer out of range"
        );
        assert_eq!(
            cast(Value::Int4(70000), DataType::Int2)
                .unwrap_err()
                .message,
            "smallint out of range"
        );
        assert_eq!(
            cast(Value::Float8(1e300), DataType::Float4)
                .unwrap_err()
                .message,
            "value out of range: overflow"
        );
        assert_eq!(
            c(Value::Float8(1.0 / 3.0), DataType::Numeric(None)),
            "0.333333333333333"
        );
        assert_eq!(c(Value::Float4(0.1), DataType::Numeric(None)), "0.1");
        assert_eq!(
            c(Value::Float8(1e20), DataType::Numeric(None)),
            "100000000000000000000"
        );
        assert_eq!(c(num("123.456"), DataType::Numeric(Some((5, 2)))), "123.46");
        assert_eq!(c(Value::Int4(5), DataType::Numeric(Some((5, 2)))), "5.00");
        let e = cast(num("1234.5"), DataType::Numeric(Some((5, 2)))).unwrap_err();
        assert_eq!(
            (e.state.code(), e.message.as_str()),
            ("22003", "numeric field overflow")
        );
        assert_eq!(
            e.detail.as_deref(),
            Some(
                "A field with precision 5, scale 2 must round to an absolute value less than 10^3."
            )
        );
        let e = cast(Value::Int4(1), DataType::Numeric(Some((2, 2)))).unwrap_err();
        assert!(e.detail.unwrap().ends_with("less than 1."));
        assert_eq!(c(Value::Int8(5), DataType::Oid), "5");
        assert_eq!(c(Value::Oid(5), DataType::Int4), "5");
    }

    #[test]
    fn text_casts() {
        let s = |x: &str| Value::Text(x.into());
        assert_eq!(c(Value::Bool(true), DataType::Text), "true");
        assert_eq!(c(Value::Int4(5), DataType::Varchar(None)), "5");
        assert_eq!(c(s(" 42 "), DataType::Int8), "42");
        assert_eq!(c(s("abc"), DataType::Varchar(Some(2))), "ab");
        assert_eq!(c(s("abc"), DataType::Char(Some(5))), "abc  ");
        assert_eq!(c(s("abcdef"), DataType::Char(Some(3))), "abc");
        assert_eq!(c(s("1 day"), DataType::Interval), "1 day");
        assert_eq!(
            c(s("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), DataType::Uuid),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        );
        assert_eq!(
            cast(s("abc"), DataType::Int4).unwrap_err().message,
            "invalid input syntax for type integer: \"abc\""
        );
        let e = cast(Value::Int8(1), DataType::Bytea).unwrap_err();
        assert_eq!(
            (e.state.code(), e.message.as_str()),
            ("42846", "cannot cast type bigint to bytea")
        );
        assert_eq!(cast(Value::Null, DataType::Int4).unwrap(), Value::Null);
    }

    #[test]
    fn assignment() {
        let s = |x: &str| Value::Text(x.into());
        assert_eq!(
            txt(&assign(s("ab  "), DataType::Varchar(Some(3))).unwrap()),
            "ab "
        );
        let e = assign(s("abcd"), DataType::Varchar(Some(3))).unwrap_err();
        assert_eq!(
            (e.state.code(), e.message.as_str()),
            ("22001", "value too long for type character varying(3)")
        );
        let e = assign(s("abcd"), DataType::Char(Some(3))).unwrap_err();
        assert_eq!(e.message, "value too long for type character(3)");
        assert_eq!(
            txt(&assign(s("ab"), DataType::Char(Some(3))).unwrap()),
            "ab "
        );
        assert_eq!(
            txt(&assign(s("ab     "), DataType::Char(Some(3))).unwrap()),
            "ab "
        );
        assert_eq!(
            assign(Value::Int8(1 << 40), DataType::Int4)
                .unwrap_err()
                .state
                .code(),
            "22003"
        );
        assert_eq!(
            assign(num("999.995"), DataType::Numeric(Some((5, 2))))
                .unwrap_err()
                .state
                .code(),
            "22003"
        );
    }

    #[test]
    fn datetime_casts() {
        let ctx = IoContext {
            tz_offset_secs: 3600,
        };
        let ts = parse_text(DataType::Timestamp, "2026-01-02 00:30:00", &ctx).unwrap();
        let tz = cast_with(ts.clone(), DataType::TimestampTz, &ctx).unwrap();
        assert_eq!(
            to_text(&tz, &IoContext::default()),
            "2026-01-01 23:30:00+00"
        );
        assert_eq!(
            to_text(&cast_with(tz.clone(), DataType::Date, &ctx).unwrap(), &ctx),
            "2026-01-02"
        );
        assert_eq!(c(tz, DataType::Date), "2026-01-01");
        assert_eq!(c(ts.clone(), DataType::Time), "00:30:00");
        assert_eq!(c(ts, DataType::Date), "2026-01-02");
        let d = parse_text(DataType::Date, "2026-01-02", &ctx).unwrap();
        assert_eq!(c(d, DataType::Timestamp), "2026-01-02 00:00:00");
    }

    #[test]
    fn implicit_rules() {
        use DataType as T;
        assert!(can_implicit_cast(T::Int2, T::Int8));
        assert!(can_implicit_cast(T::Int8, T::Numeric(None)));
        assert!(can_implicit_cast(T::Numeric(None), T::Float8));
        assert!(!can_implicit_cast(T::Float8, T::Int4));
        assert!(!can_implicit_cast(T::Int8, T::Int4));
        assert!(can_implicit_cast(T::Varchar(Some(3)), T::Text));
        assert!(can_implicit_cast(T::Unknown, T::Date));
        assert!(can_implicit_cast(T::Date, T::TimestampTz));
        assert!(!can_implicit_cast(T::TimestampTz, T::Date));
        assert!(!can_implicit_cast(T::Int4, T::Text));
        assert_eq!(common_type(T::Unknown, T::Int4), Some(T::Int4));
        assert_eq!(common_type(T::Unknown, T::Unknown), Some(T::Unknown));
        assert_eq!(common_type(T::Int4, T::Float4), Some(T::Float4));
        assert_eq!(
            common_type(T::Int8, T::Numeric(Some((5, 2)))),
            Some(T::Numeric(None))
        );
        assert_eq!(common_type(T::Varchar(Some(3)), T::Text), Some(T::Text));
        assert_eq!(
            common_type(T::Varchar(Some(3)), T::Varchar(Some(5))),
            Some(T::Varchar(None))
        );
        assert_eq!(common_type(T::Date, T::Timestamp), Some(T::Timestamp));
        assert_eq!(common_type(T::Int4, T::Text), None);
    }
}
