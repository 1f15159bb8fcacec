//! Text and binary input/output of values in PostgreSQL's wire formats.

use super::{DataType, Interval, Value};
use crate::error::{Error, Result, SqlState};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use regex::Regex;
use rust_decimal::Decimal;
use std::fmt::Write;
use std::str::FromStr;
use std::sync::OnceLock;

/// Session settings that change how values print.
#[derive(Clone, Debug)]
pub struct IoContext {
    /// Offset of the session's TimeZone from UTC, in seconds (timestamptz
    /// values print in this zone).
    pub tz_offset_secs: i32,
}

#[allow(clippy::derivable_impls)]
impl Default for IoContext {
    fn default() -> Self {
        IoContext { tz_offset_secs: 0 }
    }
}

pub const MICROS_PER_SEC: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;

/// PostgreSQL's epoch for binary date/time values: 2000-01-01.
pub fn pg_epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date")
}

pub fn pg_epoch() -> NaiveDateTime {
    pg_epoch_date().and_hms_opt(0, 0, 0).expect("valid time")
}

/// Microseconds since midnight.
pub fn time_to_micros(t: NaiveTime) -> i64 {
    t.num_seconds_from_midnight() as i64 * MICROS_PER_SEC + (t.nanosecond() / 1000) as i64
}

pub fn micros_to_time(us: i64) -> Option<NaiveTime> {
    if !(0..MICROS_PER_DAY).contains(&us) {
        return None;
    }
    NaiveTime::from_num_seconds_from_midnight_opt(
        (us / MICROS_PER_SEC) as u32,
        ((us % MICROS_PER_SEC) * 1000) as u32,
    )
}

/// Microseconds since 2000-01-01 00:00.
pub fn timestamp_to_micros(ts: NaiveDateTime) -> i64 {
    let d = ts - pg_epoch();
    d.num_microseconds().unwrap_or(if d < Duration::zero() {
        i64::MIN
    } else {
        i64::MAX
    })
}

pub fn micros_to_timestamp(us: i64) -> Option<NaiveDateTime> {
    pg_epoch().checked_add_signed(Duration::microseconds(us))
}

/// Total length of an interval in microseconds, counting a month as 30
/// days (PostgreSQL's interval comparison rule). i128 so it cannot overflow.
pub fn interval_total_micros(iv: &Interval) -> i128 {
    (iv.months as i128 * 30 + iv.days as i128) * MICROS_PER_DAY as i128 + iv.micros as i128
}

fn datetime_format_err(ty: &str, input: &str) -> Error {
    Error::new(
        SqlState::INVALID_DATETIME_FORMAT,
        format!("invalid input syntax for type {ty}: \"{input}\""),
    )
}

fn field_overflow(input: &str) -> Error {
    Error::new(
        SqlState::DATETIME_FIELD_OVERFLOW,
        format!("date/time field value out of range: \"{input}\""),
    )
}

fn binary_format_err() -> Error {
    Error::new(
        SqlState::INVALID_BINARY_REPRESENTATION,
        "incorrect binary data format",
    )
}

/// Parses PostgreSQL text input for `ty` (also used for string literals
/// cast to a type). Errors: 22P02, 22003, 22007, 22008.
pub fn parse_text(ty: DataType, input: &str, ctx: &IoContext) -> Result<Value> {
    match ty {
        DataType::Bool => parse_bool(input).map(Value::Bool),
        DataType::Int2 => parse_int(input, "smallint", i16::MIN as i64, i16::MAX as i64)
            .map(|v| Value::Int2(v as i16)),
        DataType::Int4 => parse_int(input, "integer", i32::MIN as i64, i32::MAX as i64)
            .map(|v| Value::Int4(v as i32)),
        DataType::Int8 => parse_int(input, "bigint", i64::MIN, i64::MAX).map(Value::Int8),
        DataType::Float4 => parse_float(input, "real", true).map(|v| Value::Float4(v as f32)),
        DataType::Float8 => parse_float(input, "double precision", false).map(Value::Float8),
        DataType::Numeric(_) => parse_numeric(input).map(Value::Numeric),
        DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Name
        | DataType::InternalChar
        | DataType::Unknown => Ok(Value::Text(input.to_string())),
        DataType::Bytea => parse_bytea(input).map(Value::Bytea),
        DataType::Date => {
            let p = parse_datetime(input, "date", ctx)?;
            Ok(Value::Date(p.date))
        }
        DataType::Time => parse_time(input, ctx).map(Value::Time),
        DataType::Timestamp => {
            let p = parse_datetime(input, "timestamp", ctx)?;
            Ok(Value::Timestamp(p.date.and_time(p.time)))
        }
        DataType::TimestampTz => {
            let p = parse_datetime(input, "timestamp with time zone", ctx)?;
            let offset = p.offset.unwrap_or(ctx.tz_offset_secs);
            let utc = p
                .date
                .and_time(p.time)
                .checked_sub_signed(Duration::seconds(offset as i64))
                .ok_or_else(|| field_overflow(input))?;
            Ok(Value::TimestampTz(DateTime::from_naive_utc_and_offset(
                utc, Utc,
            )))
        }
        DataType::Interval => parse_interval(input).map(Value::Interval),
        DataType::Uuid => parse_uuid(input).map(Value::Uuid),
        DataType::Oid => parse_oid(input).map(Value::Oid),
        DataType::Json => super::json::validate_json(input).map(|_| Value::Json(input.to_string())),
        DataType::Jsonb => super::json::parse_jsonb(input).map(|j| Value::Jsonb(Box::new(j))),
        DataType::Array(_) => {
            super::array::parse_array(ty.elem().unwrap_or(DataType::Text), input, ctx)
        }
    }
}

pub fn parse_bool(input: &str) -> Result<bool> {
    let s = input.trim().to_ascii_lowercase();
    let is_prefix = |word: &str, min: usize| s.len() >= min && word.starts_with(s.as_str());
    let v = if is_prefix("true", 1) || is_prefix("yes", 1) || is_prefix("on", 2) || s == "1" {
        Some(true)
    } else if is_prefix("false", 1) || is_prefix("no", 1) || is_prefix("off", 2) || s == "0" {
        Some(false)
    } else {
        None
    };
    v.ok_or_else(|| Error::invalid_text("boolean", input))
}

fn parse_int(input: &str, type_name: &str, min: i64, max: i64) -> Result<i64> {
    let s = input.trim_matches(|c: char| c.is_ascii_whitespace());
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_text(type_name, input));
    }
    let out_of_range = || {
        Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("value \"{input}\" is out of range for type {type_name}"),
        )
    };
    let mut v: i128 = 0;
    for b in digits.bytes() {
        v = v * 10 + (b - b'0') as i128;
        if v > (1i128 << 64) {
            return Err(out_of_range());
        }
    }
    if neg {
        v = -v;
    }
    if v < min as i128 || v > max as i128 {
        return Err(out_of_range());
    }
    Ok(v as i64)
}

fn parse_float(input: &str, type_name: &str, single: bool) -> Result<f64> {
    let s = input.trim_matches(|c: char| c.is_ascii_whitespace());
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    match body {
        "inf" | "infinity" => {
            let neg = lower.starts_with('-');
            return Ok(if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "nan" if body.len() == lower.len() => return Ok(f64::NAN),
        _ => {}
    }
    let valid = !body.is_empty()
        && body.len() + 1 >= lower.len()
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
        && body.bytes().any(|b| b.is_ascii_digit());
    let invalid = || Error::invalid_text(type_name, input);
    if !valid {
        return Err(invalid());
    }
    let out_of_range = || {
        Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("\"{input}\" is out of range for type {type_name}"),
        )
    };
    let mantissa_nonzero = body
        .split('e')
        .next()
        .is_some_and(|m| m.bytes().any(|b| (b'1'..=b'9').contains(&b)));
    let v: f64 = if single {
        let v: f32 = s.parse().map_err(|_| invalid())?;
        if v.is_infinite() || (v == 0.0 && mantissa_nonzero) {
            return Err(out_of_range());
        }
        v as f64
    } else {
        s.parse().map_err(|_| invalid())?
    };
    if v.is_infinite() || (v == 0.0 && mantissa_nonzero) {
        return Err(out_of_range());
    }
    Ok(v)
}

fn numeric_overflow() -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value overflows numeric format",
    )
}

pub fn parse_numeric(input: &str) -> Result<Decimal> {
    let s = input.trim_matches(|c: char| c.is_ascii_whitespace());
    let invalid = || Error::invalid_text("numeric", input);
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.trim_start_matches(['+', '-']),
        "nan" | "inf" | "infinity"
    ) {
        return Err(Error::unsupported(format!(
            "numeric value \"{input}\" is not supported"
        )));
    }
    let (mant, exp) = match lower.find('e') {
        Some(i) => {
            let e: i64 = lower[i + 1..].parse().map_err(|_| invalid())?;
            (&lower[..i], e)
        }
        None => (lower.as_str(), 0),
    };
    let (neg, body) = match mant.as_bytes().first() {
        Some(b'-') => (true, &mant[1..]),
        Some(b'+') => (false, &mant[1..]),
        _ => (false, mant),
    };
    let (int_part, frac_part) = match body.find('.') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, ""),
    };
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    // Shift the decimal point by the exponent, working on digit strings.
    let mut digits: String = format!("{int_part}{frac_part}");
    let mut scale = frac_part.len() as i64 - exp;
    if scale < 0 {
        if -scale > 40 {
            return Err(numeric_overflow());
        }
        digits.extend(std::iter::repeat_n('0', (-scale) as usize));
        scale = 0;
    }
    let trimmed = digits.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    if scale > 28 {
        // rust_decimal holds at most 28 fractional digits: round the rest.
        let cut = (scale - 28) as usize;
        let keep = digits.len().saturating_sub(cut);
        let mut d = Decimal::from_str(&format!(
            "0.{}{}",
            "0".repeat(cut.saturating_sub(digits.len())),
            &digits[keep..]
        ))
        .map_err(|_| invalid())?;
        d = d.round();
        let head = if keep == 0 { "0" } else { &digits[..keep] };
        let head_dec = Decimal::from_str(head).map_err(|_| numeric_overflow())?;
        let mut v = head_dec + d;
        v.set_scale(28).map_err(|_| numeric_overflow())?;
        if neg {
            v.set_sign_negative(true);
        }
        return Ok(v);
    }
    let mut v = Decimal::from_str(digits).map_err(|_| numeric_overflow())?;
    v.set_scale(scale as u32).map_err(|_| numeric_overflow())?;
    if neg && !v.is_zero() {
        v.set_sign_negative(true);
    }
    Ok(v)
}

fn parse_bytea(input: &str) -> Result<Vec<u8>> {
    let invalid = || Error::invalid_text("bytea", input);
    if let Some(hex) = input.strip_prefix("\\x") {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let mut chars = hex.chars().filter(|c| !c.is_ascii_whitespace());
        while let Some(hi) = chars.next() {
            let hi = hi.to_digit(16).ok_or_else(|| {
                Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("invalid hexadecimal digit: \"{hi}\""),
                )
            })?;
            let lo = chars.next().ok_or_else(|| {
                Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "invalid hexadecimal data: odd number of digits",
                )
            })?;
            let lo = lo.to_digit(16).ok_or_else(|| {
                Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("invalid hexadecimal digit: \"{lo}\""),
                )
            })?;
            out.push((hi * 16 + lo) as u8);
        }
        return Ok(out);
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if i + 3 < bytes.len()
            && (b'0'..=b'3').contains(&bytes[i + 1])
            && (b'0'..=b'7').contains(&bytes[i + 2])
            && (b'0'..=b'7').contains(&bytes[i + 3])
        {
            out.push(
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0'),
            );
            i += 4;
        } else {
            return Err(invalid());
        }
    }
    Ok(out)
}

fn parse_uuid(input: &str) -> Result<u128> {
    let invalid = || Error::invalid_text("uuid", input);
    let mut s = input;
    if let Some(inner) = s.strip_prefix('{') {
        s = inner.strip_suffix('}').ok_or_else(invalid)?;
    }
    let mut v: u128 = 0;
    let mut count = 0;
    let mut prev_dash = false;
    for c in s.chars() {
        if c == '-' {
            if count == 0 || count % 4 != 0 || count >= 32 || prev_dash {
                return Err(invalid());
            }
            prev_dash = true;
            continue;
        }
        let d = c.to_digit(16).ok_or_else(invalid)?;
        if count >= 32 {
            return Err(invalid());
        }
        v = (v << 4) | d as u128;
        count += 1;
        prev_dash = false;
    }
    if count != 32 || prev_dash {
        return Err(invalid());
    }
    Ok(v)
}

fn parse_oid(input: &str) -> Result<u32> {
    let s = input.trim_matches(|c: char| c.is_ascii_whitespace());
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_text("oid", input));
    }
    let out_of_range = || {
        Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("value \"{input}\" is out of range for type oid"),
        )
    };
    let v: u64 = digits.parse().map_err(|_| out_of_range())?;
    if neg {
        // Like PostgreSQL, negative values down to -2^31 wrap around.
        if v > 1 << 31 {
            return Err(out_of_range());
        }
        Ok((-(v as i64)) as u32)
    } else {
        u32::try_from(v).map_err(|_| out_of_range())
    }
}

/// A parsed date/time literal.
struct DateTimeParts {
    date: NaiveDate,
    time: NaiveTime,
    /// Explicit UTC offset in seconds, if the input had one.
    offset: Option<i32>,
}

fn datetime_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?xi)^\s*
            (?:(\d{1,7})-(\d{1,2})-(\d{1,2}) | (\d{4})(\d{2})(\d{2}))
            (?:(?:T|\s+)(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d*))?)?)?
            \s*(?:(z|utc|gmt) | ([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?)?
            \s*(bc|ad)?\s*$",
        )
        .expect("valid regex")
    })
}

fn time_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?xi)^\s*(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d*))?)?
            \s*(?:(z|utc|gmt) | ([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?)?\s*$",
        )
        .expect("valid regex")
    })
}

/// Fractional-second digits to microseconds, rounding half up; may return
/// 1_000_000 when rounding carries.
fn frac_to_micros(frac: &str) -> i64 {
    let mut us: i64 = 0;
    for i in 0..6 {
        us = us * 10 + frac.as_bytes().get(i).map_or(0, |b| (b - b'0') as i64);
    }
    if frac.as_bytes().get(6).is_some_and(|b| *b >= b'5') {
        us += 1;
    }
    us
}

fn make_time(h: u32, m: u32, s: u32, frac: Option<&str>) -> Option<(NaiveTime, bool)> {
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let us = frac.map_or(0, frac_to_micros);
    let total = (h as i64 * 3600 + m as i64 * 60 + s as i64) * MICROS_PER_SEC + us;
    if total >= MICROS_PER_DAY {
        // Rounded up into the next day.
        return Some((NaiveTime::MIN, true));
    }
    micros_to_time(total).map(|t| (t, false))
}

fn parse_offset(sign: &str, h: &str, m: Option<&str>, s: Option<&str>) -> Option<i32> {
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.map_or(Some(0), |m| m.parse().ok())?;
    let s: i32 = s.map_or(Some(0), |s| s.parse().ok())?;
    if h > 15 || m > 59 || s > 59 {
        return None;
    }
    let v = h * 3600 + m * 60 + s;
    Some(if sign == "-" { -v } else { v })
}

fn special_datetime(lower: &str, ctx: &IoContext) -> Option<DateTimeParts> {
    let now_local = || Utc::now().naive_utc() + Duration::seconds(ctx.tz_offset_secs as i64);
    let midnight = |d: NaiveDate| DateTimeParts {
        date: d,
        time: NaiveTime::MIN,
        offset: None,
    };
    match lower {
        "epoch" => Some(DateTimeParts {
            date: NaiveDate::from_ymd_opt(1970, 1, 1)?,
            time: NaiveTime::MIN,
            offset: Some(0),
        }),
        "now" => {
            let n = now_local();
            Some(DateTimeParts {
                date: n.date(),
                time: n.time(),
                offset: None,
            })
        }
        "today" => Some(midnight(now_local().date())),
        "tomorrow" => Some(midnight(now_local().date().succ_opt()?)),
        "yesterday" => Some(midnight(now_local().date().pred_opt()?)),
        _ => None,
    }
}

fn parse_datetime(input: &str, type_name: &str, ctx: &IoContext) -> Result<DateTimeParts> {
    let lower = input.trim().to_ascii_lowercase();
    if let Some(p) = special_datetime(&lower, ctx) {
        return Ok(p);
    }
    if matches!(lower.as_str(), "infinity" | "-infinity" | "+infinity") {
        return Err(Error::unsupported(format!(
            "infinite {type_name} values are not supported"
        )));
    }
    let caps = datetime_regex()
        .captures(input)
        .ok_or_else(|| datetime_format_err(type_name, input))?;
    let num = |i: usize| -> i64 { caps.get(i).map_or(0, |m| m.as_str().parse().unwrap_or(-1)) };
    let (y, mo, d) = if caps.get(1).is_some() {
        (num(1), num(2), num(3))
    } else {
        (num(4), num(5), num(6))
    };
    let bc = caps
        .get(16)
        .is_some_and(|m| m.as_str().eq_ignore_ascii_case("bc"));
    if y == 0 && !bc {
        return Err(field_overflow(input));
    }
    let year = if bc { 1 - y } else { y };
    let mut date = NaiveDate::from_ymd_opt(year as i32, mo as u32, d as u32)
        .ok_or_else(|| field_overflow(input))?;
    let mut time = NaiveTime::MIN;
    if caps.get(7).is_some() {
        let (t, carry) = make_time(
            num(7) as u32,
            num(8) as u32,
            num(9) as u32,
            caps.get(10).map(|m| m.as_str()),
        )
        .ok_or_else(|| field_overflow(input))?;
        time = t;
        if carry {
            date = date.succ_opt().ok_or_else(|| field_overflow(input))?;
        }
    }
    let offset = if caps.get(11).is_some() {
        Some(0)
    } else if let Some(sign) = caps.get(12) {
        Some(
            parse_offset(
                sign.as_str(),
                caps.get(13).map_or("0", |m| m.as_str()),
                caps.get(14).map(|m| m.as_str()),
                caps.get(15).map(|m| m.as_str()),
            )
            .ok_or_else(|| field_overflow(input))?,
        )
    } else {
        None
    };
    Ok(DateTimeParts { date, time, offset })
}

fn parse_time(input: &str, ctx: &IoContext) -> Result<NaiveTime> {
    let type_name = "time without time zone";
    if let Some(caps) = time_regex().captures(input) {
        let num = |i: usize| -> u32 { caps.get(i).map_or(0, |m| m.as_str().parse().unwrap_or(99)) };
        let (t, carry) = make_time(num(1), num(2), num(3), caps.get(4).map(|m| m.as_str()))
            .ok_or_else(|| field_overflow(input))?;
        if carry {
            return Err(field_overflow(input));
        }
        return Ok(t);
    }
    let lower = input.trim().to_ascii_lowercase();
    if lower == "allballs" {
        return Ok(NaiveTime::MIN);
    }
    if datetime_regex().is_match(input) || special_datetime(&lower, ctx).is_some() {
        return Ok(parse_datetime(input, type_name, ctx)?.time);
    }
    Err(datetime_format_err(type_name, input))
}

/// Accumulates interval fields, spilling fractions to smaller units like
/// PostgreSQL does.
#[derive(Default)]
struct IntervalAcc {
    months: f64,
    days: f64,
    micros: f64,
}

impl IntervalAcc {
    fn add_months(&mut self, v: f64) {
        let whole = v.trunc();
        self.months += whole;
        self.add_days((v - whole) * 30.0);
    }

    fn add_days(&mut self, v: f64) {
        let whole = v.trunc();
        self.days += whole;
        self.micros += (v - whole) * MICROS_PER_DAY as f64;
    }

    fn add_unit(&mut self, v: f64, unit: &str) -> bool {
        match unit {
            "microsecond" | "microseconds" | "usec" | "usecs" | "us" => self.micros += v,
            "millisecond" | "milliseconds" | "msec" | "msecs" | "ms" => self.micros += v * 1e3,
            "second" | "seconds" | "sec" | "secs" | "s" => self.micros += v * 1e6,
            "minute" | "minutes" | "min" | "mins" | "m" => self.micros += v * 6e7,
            "hour" | "hours" | "hr" | "hrs" | "h" => self.micros += v * 3.6e9,
            "day" | "days" | "d" => self.add_days(v),
            "week" | "weeks" | "w" => self.add_days(v * 7.0),
            "month" | "months" | "mon" | "mons" => self.add_months(v),
            "year" | "years" | "yr" | "yrs" | "y" => self.add_months(v * 12.0),
            "decade" | "decades" => self.add_months(v * 120.0),
            "century" | "centuries" => self.add_months(v * 1200.0),
            "millennium" | "millennia" | "millenniums" => self.add_months(v * 12000.0),
            _ => return false,
        }
        true
    }

    fn finish(self, negate: bool, input: &str) -> Result<Interval> {
        let sign = if negate { -1.0 } else { 1.0 };
        let overflow = || {
            Error::new(
                SqlState::DATETIME_FIELD_OVERFLOW,
                format!("interval field value out of range: \"{input}\""),
            )
        };
        let months = self.months * sign;
        let days = self.days * sign;
        let micros = (self.micros * sign).round();
        if months.abs() > i32::MAX as f64
            || days.abs() > i32::MAX as f64
            || micros.abs() >= i64::MAX as f64
        {
            return Err(overflow());
        }
        Ok(Interval {
            months: months as i32,
            days: days as i32,
            micros: micros as i64,
        })
    }
}

/// Parses `[-+]H:M[:S[.f]]` into microseconds.
fn parse_interval_time(tok: &str) -> Option<f64> {
    let (neg, body) = match tok.as_bytes().first() {
        Some(b'-') => (true, &tok[1..]),
        Some(b'+') => (false, &tok[1..]),
        _ => (false, tok),
    };
    let parts: Vec<&str> = body.split(':').collect();
    let num = |s: &str| -> Option<f64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return None;
        }
        s.parse().ok()
    };
    let us = match parts.as_slice() {
        [h, m] if m.contains('.') => num(h)? * 6e7 + num(m)? * 1e6,
        [h, m] => num(h)? * 3.6e9 + num(m)? * 6e7,
        [h, m, s] => num(h)? * 3.6e9 + num(m)? * 6e7 + num(s)? * 1e6,
        _ => return None,
    };
    Some(if neg { -us } else { us })
}

fn parse_iso_interval(s: &str, input: &str) -> Result<Interval> {
    let invalid = || datetime_format_err("interval", input);
    let mut acc = IntervalAcc::default();
    let mut in_time = false;
    let mut rest = &s[1..];
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('t') {
            if in_time {
                return Err(invalid());
            }
            in_time = true;
            rest = r;
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
            .ok_or_else(invalid)?;
        if end == 0 {
            return Err(invalid());
        }
        let v: f64 = rest[..end].parse().map_err(|_| invalid())?;
        let unit = &rest[end..end + 1];
        let unit = match (unit, in_time) {
            ("y", false) => "year",
            ("m", false) => "month",
            ("w", false) => "week",
            ("d", false) => "day",
            ("h", true) => "hour",
            ("m", true) => "minute",
            ("s", true) => "second",
            _ => return Err(invalid()),
        };
        acc.add_unit(v, unit);
        rest = &rest[end + 1..];
    }
    acc.finish(false, input)
}

pub fn parse_interval(input: &str) -> Result<Interval> {
    let invalid = || datetime_format_err("interval", input);
    let s = input.trim().to_ascii_lowercase();
    if s.starts_with('p') {
        return parse_iso_interval(&s, input);
    }
    // Split into tokens, also separating numbers glued to units ("1day").
    let mut tokens: Vec<String> = Vec::new();
    for word in s.split_whitespace() {
        let bytes = word.as_bytes();
        let split = bytes
            .iter()
            .position(|b| b.is_ascii_alphabetic())
            .filter(|&i| i > 0 && !word.contains(':'));
        match split {
            Some(i) => {
                tokens.push(word[..i].to_string());
                tokens.push(word[i..].to_string());
            }
            None => tokens.push(word.to_string()),
        }
    }
    let mut acc = IntervalAcc::default();
    let mut negate = false;
    let mut i = 0;
    if tokens.first().is_some_and(|t| t == "@") {
        i = 1;
    }
    if tokens.len() <= i {
        return Err(invalid());
    }
    while i < tokens.len() {
        let tok = tokens[i].as_str();
        if tok == "ago" {
            if i + 1 != tokens.len() || negate {
                return Err(invalid());
            }
            negate = true;
            i += 1;
            continue;
        }
        if tok.contains(':') {
            acc.micros += parse_interval_time(tok).ok_or_else(invalid)?;
            i += 1;
            continue;
        }
        // SQL-standard year-month literal: Y-M.
        if let Some((y, m)) =
            tok.strip_prefix('-')
                .unwrap_or(tok)
                .split_once('-')
                .filter(|(y, m)| {
                    !y.is_empty()
                        && !m.is_empty()
                        && y.bytes().all(|b| b.is_ascii_digit())
                        && m.bytes().all(|b| b.is_ascii_digit())
                })
        {
            let sign = if tok.starts_with('-') { -1.0 } else { 1.0 };
            let y: f64 = y.parse().map_err(|_| invalid())?;
            let m: f64 = m.parse().map_err(|_| invalid())?;
            acc.add_months(sign * (y * 12.0 + m));
            i += 1;
            continue;
        }
        let is_num = tok
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e'))
            && tok.bytes().any(|b| b.is_ascii_digit());
        if !is_num {
            return Err(invalid());
        }
        let v: f64 = tok.parse().map_err(|_| invalid())?;
        match tokens.get(i + 1).map(|s| s.as_str()) {
            Some(next) if next.contains(':') => {
                // "1 02:03:04": a day count before a time.
                acc.add_days(v);
                i += 1;
            }
            Some(unit) if unit != "ago" && unit.bytes().all(|b| b.is_ascii_alphabetic()) => {
                if !acc.add_unit(v, unit) {
                    return Err(invalid());
                }
                i += 2;
            }
            _ => {
                acc.micros += v * 1e6;
                i += 1;
            }
        }
    }
    acc.finish(negate, input)
}

/// Appends PostgreSQL's text output of `value` to `out`. `value` is not
/// NULL.
pub fn format_text(value: &Value, ctx: &IoContext, out: &mut String) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Int2(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int4(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int8(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Float4(v) => format_float(*v as f64, &format!("{v:e}"), 6, out),
        Value::Float8(v) => format_float(*v, &format!("{v:e}"), 15, out),
        Value::Numeric(d) => {
            let mut d = *d;
            if d.is_zero() {
                d.set_sign_positive(true);
            }
            let _ = write!(out, "{d}");
        }
        Value::Text(s) => out.push_str(s),
        Value::Bytea(b) => {
            out.push_str("\\x");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
        }
        Value::Date(d) => format_date(*d, out),
        Value::Time(t) => format_time(*t, out),
        Value::Timestamp(ts) => {
            format_date_only(ts.date(), out);
            out.push(' ');
            format_time(ts.time(), out);
            if ts.year() <= 0 {
                out.push_str(" BC");
            }
        }
        Value::TimestampTz(ts) => {
            let off = ctx.tz_offset_secs;
            let local = ts.naive_utc() + Duration::seconds(off as i64);
            format_date_only(local.date(), out);
            out.push(' ');
            format_time(local.time(), out);
            format_offset(off, out);
            if local.year() <= 0 {
                out.push_str(" BC");
            }
        }
        Value::Interval(iv) => format_interval(iv, out),
        Value::Uuid(u) => {
            let _ = write!(out, "{}", uuid::Uuid::from_u128(*u).hyphenated());
        }
        Value::Oid(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Array(items) => super::array::format_array(items, ctx, out),
        Value::Json(s) => out.push_str(s),
        Value::Jsonb(j) => j.write(out),
    }
}

/// Text output of a value as a new string.
pub fn to_text(value: &Value, ctx: &IoContext) -> String {
    let mut s = String::new();
    format_text(value, ctx, &mut s);
    s
}

/// Shortest round-trip output in PostgreSQL's style: fixed notation for
/// decimal exponents in [-4, `sci_from`), otherwise `d.ddde+XX`.
fn format_float(v: f64, rust_exp: &str, sci_from: i32, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    let (mant, exp) = rust_exp.split_once('e').unwrap_or((rust_exp, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    if neg {
        out.push('-');
    }
    if digits == "0" {
        out.push('0');
        return;
    }
    if exp < -4 || exp >= sci_from {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    }
}

fn format_date_only(d: NaiveDate, out: &mut String) {
    let y = d.year();
    let y = if y <= 0 { 1 - y } else { y };
    let _ = write!(out, "{:04}-{:02}-{:02}", y, d.month(), d.day());
}

fn format_date(d: NaiveDate, out: &mut String) {
    format_date_only(d, out);
    if d.year() <= 0 {
        out.push_str(" BC");
    }
}

/// Appends `.ffffff` with trailing zeros removed (nothing when zero).
fn format_fraction(us: i64, out: &mut String) {
    if us != 0 {
        let s = format!("{us:06}");
        out.push('.');
        out.push_str(s.trim_end_matches('0'));
    }
}

fn format_time(t: NaiveTime, out: &mut String) {
    let _ = write!(out, "{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    format_fraction((t.nanosecond() / 1000) as i64, out);
}

fn format_offset(off: i32, out: &mut String) {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    let _ = write!(out, "{sign}{:02}", a / 3600);
    if !a.is_multiple_of(3600) {
        let _ = write!(out, ":{:02}", (a % 3600) / 60);
        if !a.is_multiple_of(60) {
            let _ = write!(out, ":{:02}", a % 60);
        }
    }
}

/// PostgreSQL's `IntervalStyle = postgres` output.
pub fn format_interval(iv: &Interval, out: &mut String) {
    let start = out.len();
    let mut is_before = false;
    let mut part = |out: &mut String, value: i64, unit: &str| {
        if value == 0 {
            return;
        }
        let _ = write!(
            out,
            "{}{}{} {}{}",
            if out.len() > start { " " } else { "" },
            if is_before && value > 0 { "+" } else { "" },
            value,
            unit,
            if value != 1 { "s" } else { "" }
        );
        is_before = value < 0;
    };
    part(out, (iv.months / 12) as i64, "year");
    part(out, (iv.months % 12) as i64, "mon");
    part(out, iv.days as i64, "day");
    let is_zero = out.len() == start;
    if is_zero || iv.micros != 0 {
        let us = iv.micros.unsigned_abs();
        let minus = iv.micros < 0;
        let hours = us / (3600 * MICROS_PER_SEC as u64);
        let mins = us / (60 * MICROS_PER_SEC as u64) % 60;
        let secs = us / MICROS_PER_SEC as u64 % 60;
        let _ = write!(
            out,
            "{}{}{:02}:{:02}:{:02}",
            if is_zero { "" } else { " " },
            if minus {
                "-"
            } else if is_before {
                "+"
            } else {
                ""
            },
            hours,
            mins,
            secs
        );
        format_fraction((us % MICROS_PER_SEC as u64) as i64, out);
    }
}

/// Appends the binary wire format of `value` as type `ty` to `out`.
pub fn encode_binary(value: &Value, ty: DataType, out: &mut Vec<u8>) -> Result<()> {
    match (ty, value) {
        (_, Value::Null) => Err(Error::internal("cannot binary-encode NULL")),
        (DataType::Bool, Value::Bool(b)) => {
            out.push(*b as u8);
            Ok(())
        }
        (DataType::Int2 | DataType::Int4 | DataType::Int8, v) if v.as_i64().is_some() => {
            let i = v.as_i64().unwrap_or_default();
            let range_err = || Error::out_of_range(ty.base_name());
            match ty {
                DataType::Int2 => {
                    out.extend_from_slice(&i16::try_from(i).map_err(|_| range_err())?.to_be_bytes())
                }
                DataType::Int4 => {
                    out.extend_from_slice(&i32::try_from(i).map_err(|_| range_err())?.to_be_bytes())
                }
                _ => out.extend_from_slice(&i.to_be_bytes()),
            }
            Ok(())
        }
        (DataType::Float4, Value::Float4(f)) => {
            out.extend_from_slice(&f.to_bits().to_be_bytes());
            Ok(())
        }
        (DataType::Float8, Value::Float8(f)) => {
            out.extend_from_slice(&f.to_bits().to_be_bytes());
            Ok(())
        }
        (DataType::Numeric(_), Value::Numeric(d)) => {
            encode_numeric(d, out);
            Ok(())
        }
        (
            DataType::Text
            | DataType::Varchar(_)
            | DataType::Char(_)
            | DataType::Name
            | DataType::InternalChar
            | DataType::Unknown,
            Value::Text(s),
        ) => {
            out.extend_from_slice(s.as_bytes());
            Ok(())
        }
        (DataType::Bytea, Value::Bytea(b)) => {
            out.extend_from_slice(b);
            Ok(())
        }
        (DataType::Date, Value::Date(d)) => {
            let days = (*d - pg_epoch_date()).num_days();
            out.extend_from_slice(&(days as i32).to_be_bytes());
            Ok(())
        }
        (DataType::Time, Value::Time(t)) => {
            out.extend_from_slice(&time_to_micros(*t).to_be_bytes());
            Ok(())
        }
        (DataType::Timestamp, Value::Timestamp(ts)) => {
            out.extend_from_slice(&timestamp_to_micros(*ts).to_be_bytes());
            Ok(())
        }
        (DataType::TimestampTz, Value::TimestampTz(ts)) => {
            out.extend_from_slice(&timestamp_to_micros(ts.naive_utc()).to_be_bytes());
            Ok(())
        }
        (DataType::Interval, Value::Interval(iv)) => {
            out.extend_from_slice(&iv.micros.to_be_bytes());
            out.extend_from_slice(&iv.days.to_be_bytes());
            out.extend_from_slice(&iv.months.to_be_bytes());
            Ok(())
        }
        (DataType::Uuid, Value::Uuid(u)) => {
            out.extend_from_slice(&u.to_be_bytes());
            Ok(())
        }
        (DataType::Array(_), Value::Array(items)) => {
            super::array::encode_array(items, ty.elem().unwrap_or(DataType::Text), out)
        }
        (DataType::Json, Value::Json(s)) => {
            out.extend_from_slice(s.as_bytes());
            Ok(())
        }
        (DataType::Jsonb, Value::Jsonb(j)) => {
            // Version 1 of jsonb's binary format: the text form.
            out.push(1);
            out.extend_from_slice(j.to_text().as_bytes());
            Ok(())
        }
        (DataType::Oid, v) if v.as_i64().is_some() => {
            let i = v.as_i64().unwrap_or_default();
            let o = u32::try_from(i)
                .or_else(|_| i32::try_from(i).map(|x| x as u32))
                .map_err(|_| Error::out_of_range("OID"))?;
            out.extend_from_slice(&o.to_be_bytes());
            Ok(())
        }
        _ => {
            // Mismatched value and column type: convert as a cast would.
            let converted = super::cast::cast(value.clone(), ty)?;
            if std::mem::discriminant(&converted) == std::mem::discriminant(value) {
                return Err(Error::internal(format!(
                    "cannot binary-encode {:?} as {}",
                    value,
                    ty.sql_name()
                )));
            }
            encode_binary(&converted, ty, out)
        }
    }
}

/// PostgreSQL's numeric binary format: base-10000 digits.
fn encode_numeric(d: &Decimal, out: &mut Vec<u8>) {
    let scale = d.scale() as usize;
    let abs = d.abs().to_string();
    let (int_part, frac_part) = match abs.split_once('.') {
        Some((i, f)) => (i.trim_start_matches('0').to_string(), f.to_string()),
        None => (abs.trim_start_matches('0').to_string(), String::new()),
    };
    let int_pad = (4 - int_part.len() % 4) % 4;
    let int_str = format!("{}{}", "0".repeat(int_pad), int_part);
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let frac_str = format!("{}{}", frac_part, "0".repeat(frac_pad));
    let all = format!("{int_str}{frac_str}");
    let mut groups: Vec<i16> = all
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or("0").parse().unwrap_or(0))
        .collect();
    let mut weight = (int_str.len() / 4) as i32 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    let sign: u16 = if d.is_sign_negative() && !groups.is_empty() {
        0x4000
    } else {
        0
    };
    if groups.is_empty() {
        weight = 0;
    }
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(scale as u16).to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
}

fn decode_numeric(bytes: &[u8]) -> Result<Decimal> {
    if bytes.len() < 8 {
        return Err(binary_format_err());
    }
    let be16 = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
    let ndigits = be16(0) as i16;
    let weight = be16(2) as i16 as i32;
    let sign = be16(4);
    let dscale = be16(6);
    if ndigits < 0 || bytes.len() != 8 + ndigits as usize * 2 || dscale & 0xC000 != 0 {
        return Err(binary_format_err());
    }
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Err(Error::unsupported("numeric NaN is not supported")),
        _ => return Err(binary_format_err()),
    }
    let mut int_str = String::new();
    let mut frac_str = String::new();
    for i in 0..ndigits as i32 {
        let g = be16(8 + i as usize * 2);
        if g >= 10000 {
            return Err(binary_format_err());
        }
        let pos = weight - i;
        if pos >= 0 {
            let _ = write!(int_str, "{g:04}");
        } else {
            if frac_str.is_empty() {
                frac_str.push_str(&"0000".repeat((-pos - 1) as usize));
            }
            let _ = write!(frac_str, "{g:04}");
        }
    }
    // Trailing integer zero groups omitted in the encoding.
    let last_pos = weight - (ndigits as i32 - 1);
    if ndigits > 0 && last_pos > 0 {
        int_str.push_str(&"0000".repeat(last_pos as usize));
    }
    let int_str = int_str.trim_start_matches('0');
    let int_str = if int_str.is_empty() { "0" } else { int_str };
    let dscale = dscale as usize;
    if dscale > 28 {
        return Err(numeric_overflow());
    }
    frac_str.truncate(dscale);
    while frac_str.len() < dscale {
        frac_str.push('0');
    }
    let text = if dscale > 0 {
        format!(
            "{}{int_str}.{frac_str}",
            if sign == 0x4000 { "-" } else { "" }
        )
    } else {
        format!("{}{int_str}", if sign == 0x4000 { "-" } else { "" })
    };
    Decimal::from_str_exact(&text).map_err(|_| numeric_overflow())
}

fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| binary_format_err())
}

/// Decodes the binary wire format of `ty`. Errors: 22P03.
pub fn decode_binary(ty: DataType, bytes: &[u8]) -> Result<Value> {
    Ok(match ty {
        DataType::Bool => match fixed::<1>(bytes)? {
            [0] => Value::Bool(false),
            [1] => Value::Bool(true),
            _ => return Err(binary_format_err()),
        },
        DataType::Int2 => Value::Int2(i16::from_be_bytes(fixed(bytes)?)),
        DataType::Int4 => Value::Int4(i32::from_be_bytes(fixed(bytes)?)),
        DataType::Int8 => Value::Int8(i64::from_be_bytes(fixed(bytes)?)),
        DataType::Float4 => Value::Float4(f32::from_bits(u32::from_be_bytes(fixed(bytes)?))),
        DataType::Float8 => Value::Float8(f64::from_bits(u64::from_be_bytes(fixed(bytes)?))),
        DataType::Numeric(_) => Value::Numeric(decode_numeric(bytes)?),
        DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Name
        | DataType::InternalChar
        | DataType::Unknown => match std::str::from_utf8(bytes) {
            Ok(s) => Value::Text(s.to_string()),
            Err(e) => {
                let bad = &bytes[e.valid_up_to()..];
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                let hex: Vec<String> = bad[..n].iter().map(|b| format!("0x{b:02x}")).collect();
                return Err(Error::new(
                    SqlState::CHARACTER_NOT_IN_REPERTOIRE,
                    format!(
                        "invalid byte sequence for encoding \"UTF8\": {}",
                        hex.join(" ")
                    ),
                ));
            }
        },
        DataType::Bytea => Value::Bytea(bytes.to_vec()),
        DataType::Date => {
            let days = i32::from_be_bytes(fixed(bytes)?);
            let d = pg_epoch_date()
                .checked_add_signed(Duration::days(days as i64))
                .ok_or_else(|| {
                    Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "date out of range")
                })?;
            Value::Date(d)
        }
        DataType::Time => {
            let us = i64::from_be_bytes(fixed(bytes)?);
            Value::Time(micros_to_time(us).ok_or_else(|| {
                Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "time out of range")
            })?)
        }
        DataType::Timestamp | DataType::TimestampTz => {
            let us = i64::from_be_bytes(fixed(bytes)?);
            let ts = micros_to_timestamp(us).ok_or_else(|| {
                Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "timestamp out of range")
            })?;
            if ty == DataType::Timestamp {
                Value::Timestamp(ts)
            } else {
                Value::TimestampTz(DateTime::from_naive_utc_and_offset(ts, Utc))
            }
        }
        DataType::Interval => {
            let b: [u8; 16] = fixed(bytes)?;
            Value::Interval(Interval {
                micros: i64::from_be_bytes(b[0..8].try_into().map_err(|_| binary_format_err())?),
                days: i32::from_be_bytes(b[8..12].try_into().map_err(|_| binary_format_err())?),
                months: i32::from_be_bytes(b[12..16].try_into().map_err(|_| binary_format_err())?),
            })
        }
        DataType::Uuid => Value::Uuid(u128::from_be_bytes(fixed(bytes)?)),
        DataType::Oid => Value::Oid(u32::from_be_bytes(fixed(bytes)?)),
        DataType::Json | DataType::Jsonb => {
            let body = if ty == DataType::Jsonb {
                match bytes.split_first() {
                    Some((1, rest)) => rest,
                    Some((v, _)) => {
                        return Err(Error::new(
                            SqlState::INVALID_BINARY_REPRESENTATION,
                            format!("unsupported jsonb version number {v}"),
                        ))
                    }
                    None => return Err(binary_format_err()),
                }
            } else {
                bytes
            };
            let text = std::str::from_utf8(body).map_err(|_| binary_format_err())?;
            return parse_text(ty, text, &IoContext::default());
        }
        DataType::Array(_) => {
            return super::array::decode_array(ty.elem().unwrap_or(DataType::Text), bytes)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> IoContext {
        IoContext::default()
    }

    fn parse(ty: DataType, s: &str) -> Result<Value> {
        parse_text(ty, s, &ctx())
    }

    fn text(ty: DataType, s: &str) -> String {
        to_text(&parse(ty, s).unwrap(), &ctx())
    }

    fn err(ty: DataType, s: &str) -> (String, &'static str) {
        let e = parse(ty, s).unwrap_err();
        (e.message, e.state.code())
    }

    #[test]
    fn bools() {
        for s in ["t", "TRUE", " yes ", "on", "1", "tr"] {
            assert!(parse_bool(s).unwrap(), "{s}");
        }
        for s in ["f", "False", "no", "off", "0", "n"] {
            assert!(!parse_bool(s).unwrap(), "{s}");
        }
        assert_eq!(
            err(DataType::Bool, "o"),
            (
                "invalid input syntax for type boolean: \"o\"".into(),
                "22P02"
            )
        );
    }

    #[test]
    fn integers() {
        assert_eq!(text(DataType::Int4, "  -42 "), "-42");
        assert_eq!(text(DataType::Int2, "+7"), "7");
        assert_eq!(
            err(DataType::Int4, "abc"),
            (
                "invalid input syntax for type integer: \"abc\"".into(),
                "22P02"
            )
        );
        assert_eq!(
            err(DataType::Int4, "99999999999"),
            (
                "value \"99999999999\" is out of range for type integer".into(),
                "22003"
            )
        );
        assert_eq!(err(DataType::Int2, "32768").1, "22003");
        assert_eq!(
            text(DataType::Int8, "-9223372036854775808"),
            "-9223372036854775808"
        );
        assert_eq!(err(DataType::Int8, "9223372036854775808").1, "22003");
        assert_eq!(err(DataType::Int4, "1.5").1, "22P02");
        assert_eq!(text(DataType::Oid, "-1"), "4294967295");
    }

    #[test]
    fn floats() {
        let f8 = |v: f64| to_text(&Value::Float8(v), &ctx());
        let f4 = |v: f32| to_text(&Value::Float4(v), &ctx());
        assert_eq!(f8(0.1), "0.1");
        assert_eq!(f8(1e20), "1e+20");
        assert_eq!(f8(1.5e-7), "1.5e-07");
        assert_eq!(f8(1e15), "1e+15");
        assert_eq!(f8(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(f8(1e-4), "0.0001");
        assert_eq!(f8(100.0), "100");
        assert_eq!(f8(1e-300), "1e-300");
        assert_eq!(f8(-0.0), "-0");
        assert_eq!(f8(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(f8(f64::NAN), "NaN");
        assert_eq!(f8(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(f4(1e5), "100000");
        assert_eq!(f4(1e6), "1e+06");
        assert_eq!(f4(1234567.0), "1.234567e+06");
        assert_eq!(f4(1e-5), "1e-05");
        assert_eq!(f4(3.4e38), "3.4e+38");
        assert_eq!(text(DataType::Float8, " -Infinity "), "-Infinity");
        assert_eq!(text(DataType::Float8, "nan"), "NaN");
        assert_eq!(
            err(DataType::Float8, "1e400"),
            (
                "\"1e400\" is out of range for type double precision".into(),
                "22003"
            )
        );
        assert_eq!(err(DataType::Float8, "1e-400").1, "22003");
        assert_eq!(err(DataType::Float4, "1e40").1, "22003");
        assert_eq!(
            err(DataType::Float4, "abc").0,
            "invalid input syntax for type real: \"abc\""
        );
    }

    #[test]
    fn numerics() {
        let n = DataType::Numeric(None);
        assert_eq!(text(n, " 1.5e3 "), "1500");
        assert_eq!(text(n, ".5"), "0.5");
        assert_eq!(text(n, "-0.00"), "0.00");
        assert_eq!(text(n, "5."), "5");
        assert_eq!(text(n, "1.50"), "1.50");
        assert_eq!(text(n, "1.5e-3"), "0.0015");
        assert_eq!(
            err(n, "abc"),
            (
                "invalid input syntax for type numeric: \"abc\"".into(),
                "22P02"
            )
        );
        assert_eq!(err(n, "NaN").1, "0A000");
    }

    #[test]
    fn bytea_text() {
        assert_eq!(
            parse(DataType::Bytea, "\\x01 02ff").unwrap(),
            Value::Bytea(vec![1u8, 2, 255])
        );
        assert_eq!(
            parse(DataType::Bytea, "a\\\\b\\001").unwrap(),
            Value::Bytea(b"a\\b\x01".to_vec())
        );
        assert_eq!(to_text(&Value::Bytea(vec![1, 2]), &ctx()), "\\x0102");
        assert_eq!(err(DataType::Bytea, "\\x0").1, "22023");
        assert_eq!(err(DataType::Bytea, "a\\b").1, "22P02");
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(text(DataType::Date, "2026-01-02"), "2026-01-02");
        assert_eq!(text(DataType::Date, "20260102"), "2026-01-02");
        assert_eq!(text(DataType::Date, "0001-01-01 BC"), "0001-01-01 BC");
        assert_eq!(text(DataType::Date, "10000-01-01"), "10000-01-01");
        assert_eq!(text(DataType::Date, "2026-01-02 03:04:05"), "2026-01-02");
        assert_eq!(
            err(DataType::Date, "x"),
            ("invalid input syntax for type date: \"x\"".into(), "22007")
        );
        assert_eq!(
            err(DataType::Date, "2026-02-30"),
            (
                "date/time field value out of range: \"2026-02-30\"".into(),
                "22008"
            )
        );
        assert_eq!(
            text(DataType::Timestamp, "2026-01-02T03:04:05.000001"),
            "2026-01-02 03:04:05.000001"
        );
        assert_eq!(
            text(DataType::Timestamp, "2026-01-02 03:04:05.120"),
            "2026-01-02 03:04:05.12"
        );
        assert_eq!(
            text(DataType::Timestamp, "2026-01-02"),
            "2026-01-02 00:00:00"
        );
        assert_eq!(
            text(DataType::Timestamp, "2026-01-02 03:04:05+02"),
            "2026-01-02 03:04:05"
        );
        assert_eq!(err(DataType::Timestamp, "2026-01-02 25:00").1, "22008");
        assert_eq!(text(DataType::Time, "03:04:05.5"), "03:04:05.5");
        assert_eq!(text(DataType::Time, "3:04"), "03:04:00");
        assert_eq!(
            err(DataType::Time, "x").0,
            "invalid input syntax for type time without time zone: \"x\""
        );

        let ist = IoContext {
            tz_offset_secs: 5 * 3600 + 1800,
        };
        let tz = |s: &str| {
            let v = parse_text(DataType::TimestampTz, s, &ist).unwrap();
            to_text(&v, &ist)
        };
        assert_eq!(
            tz("2026-01-02 03:04:05.120"),
            "2026-01-02 03:04:05.12+05:30"
        );
        assert_eq!(tz("2026-01-02 03:04:05+00"), "2026-01-02 08:34:05+05:30");
        assert_eq!(tz("2026-01-02 03:04:05Z"), "2026-01-02 08:34:05+05:30");
        assert_eq!(tz("2026-01-02 03:04:05 -0330"), "2026-01-02 12:04:05+05:30");
        let v = parse(DataType::TimestampTz, "2026-01-02 03:04:05 -08:00:15").unwrap();
        assert_eq!(to_text(&v, &ctx()), "2026-01-02 11:04:20+00");
        let v = parse(DataType::TimestampTz, "0001-01-01 BC").unwrap();
        assert_eq!(to_text(&v, &ctx()), "0001-01-01 00:00:00+00 BC");
        let neg = IoContext {
            tz_offset_secs: -8 * 3600,
        };
        assert_eq!(to_text(&v, &neg), "0002-12-31 16:00:00-08 BC");
    }

    #[test]
    fn intervals() {
        let iv = |s: &str| text(DataType::Interval, s);
        assert_eq!(
            iv("1 year 2 mons 3 days 04:05:06.5"),
            "1 year 2 mons 3 days 04:05:06.5"
        );
        assert_eq!(iv("-1 days"), "-1 days");
        assert_eq!(iv("1 day 2 hours"), "1 day 02:00:00");
        assert_eq!(iv("0"), "00:00:00");
        assert_eq!(iv("-3 minutes"), "-00:03:00");
        assert_eq!(iv("1 week"), "7 days");
        assert_eq!(iv("@ 1 day ago"), "-1 days");
        assert_eq!(iv("P1Y2M3DT4H5M6S"), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(
            iv("-1 year -2 mons +3 days -04:05:06"),
            "-1 years -2 mons +3 days -04:05:06"
        );
        assert_eq!(iv("1 mon -1 day"), "1 mon -1 days");
        assert_eq!(iv("10:00:00"), "10:00:00");
        assert_eq!(iv("1.5 days"), "1 day 12:00:00");
        assert_eq!(iv("1.5 months"), "1 mon 15 days");
        assert_eq!(iv("1.5 years"), "1 year 6 mons");
        assert_eq!(iv("-00:00:01.5"), "-00:00:01.5");
        assert_eq!(iv("100 hours"), "100:00:00");
        assert_eq!(iv("2 days 3 hours ago"), "-2 days -03:00:00");
        assert_eq!(iv("1day"), "1 day");
        assert_eq!(iv("1 2:03:04"), "1 day 02:03:04");
        assert_eq!(iv("1-2"), "1 year 2 mons");
        assert_eq!(iv("10"), "00:00:10");
        assert_eq!(iv("1:2"), "01:02:00");
        assert_eq!(iv("10:00.5"), "00:10:00.5");
        assert_eq!(iv("-1 day +2 hours"), "-1 days +02:00:00");
        assert_eq!(iv("P1.5Y"), "1 year 6 mons");
        assert_eq!(iv("PT1.5S"), "00:00:01.5");
        assert_eq!(iv("1 hour 30"), "01:00:30");
        assert_eq!(
            err(DataType::Interval, "x"),
            (
                "invalid input syntax for type interval: \"x\"".into(),
                "22007"
            )
        );
    }

    #[test]
    fn uuids() {
        let want = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        for s in [
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
        ] {
            assert_eq!(text(DataType::Uuid, s), want, "{s}");
        }
        assert_eq!(err(DataType::Uuid, "a0eebc99").1, "22P02");
        assert_eq!(
            err(DataType::Uuid, "{a0eebc999c0b4ef8bb6d6bb9bd380a11").1,
            "22P02"
        );
    }

    fn roundtrip(ty: DataType, s: &str) {
        let v = parse(ty, s).unwrap();
        let mut buf = Vec::new();
        encode_binary(&v, ty, &mut buf).unwrap();
        let back = decode_binary(ty, &buf).unwrap();
        assert_eq!(to_text(&back, &ctx()), to_text(&v, &ctx()), "{ty:?} {s}");
    }

    #[test]
    fn binary_round_trips() {
        let n = DataType::Numeric(None);
        for s in [
            "0",
            "0.00",
            "1",
            "-1.50",
            "12345.6789",
            "10000",
            "100000000",
            "0.0001",
            "0.00001",
            "-123456789012345678.123456789",
            "9999.9999",
            "1e20",
        ] {
            roundtrip(n, s);
        }
        roundtrip(DataType::Bool, "t");
        roundtrip(DataType::Int2, "-5");
        roundtrip(DataType::Int8, "-9223372036854775808");
        roundtrip(DataType::Float4, "1.5");
        roundtrip(DataType::Float8, "-0.1");
        roundtrip(DataType::Text, "héllo");
        roundtrip(DataType::Bytea, "\\x00ff");
        roundtrip(DataType::Date, "1999-12-31");
        roundtrip(DataType::Time, "23:59:59.999999");
        roundtrip(DataType::Timestamp, "1970-01-01 00:00:00.5");
        roundtrip(DataType::TimestampTz, "2026-01-02 03:04:05+07");
        roundtrip(DataType::Interval, "1 year -2 days 03:00:00.25");
        roundtrip(DataType::Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        roundtrip(DataType::Oid, "4294967295");
    }

    #[test]
    fn binary_formats() {
        let enc = |v: Value, ty: DataType| {
            let mut b = Vec::new();
            encode_binary(&v, ty, &mut b).unwrap();
            b
        };
        let d = |s: &str| Value::Numeric(parse_numeric(s).unwrap());
        let n = DataType::Numeric(None);
        // 12345.678: digits [1, 2345, 6780], weight 1, dscale 3.
        assert_eq!(
            enc(d("12345.678"), n),
            vec![0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]
        );
        // -0.0001: one digit 1 at weight -1.
        assert_eq!(
            enc(d("-0.0001"), n),
            vec![0, 1, 0xff, 0xff, 0x40, 0, 0, 4, 0, 1]
        );
        assert_eq!(enc(d("0.00"), n), vec![0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(enc(Value::Int4(7), DataType::Int8), 7i64.to_be_bytes());
        assert_eq!(enc(Value::Int8(7), DataType::Int2), 7i16.to_be_bytes());
        assert_eq!(
            enc(
                Value::Date(NaiveDate::from_ymd_opt(2000, 1, 2).unwrap()),
                DataType::Date
            ),
            1i32.to_be_bytes()
        );
        assert_eq!(
            decode_binary(DataType::Int4, &[0, 1])
                .unwrap_err()
                .state
                .code(),
            "22P03"
        );
        let e = decode_binary(DataType::Text, b"a\xff").unwrap_err();
        assert_eq!(e.state.code(), "22021");
        assert_eq!(
            e.message,
            "invalid byte sequence for encoding \"UTF8\": 0xff"
        );
    }
}
