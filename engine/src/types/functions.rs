//! The built-in scalar function library (string, math, date/time, ...).
//! Functions that need session or transaction state (now(), version(),
//! current_setting(), nextval(), ...) are evaluated by the executor, not here.
//!
//! Overload resolution follows PostgreSQL's rules in simplified form: a
//! candidate is usable when every argument is of its parameter type, is an
//! untyped literal, or converts implicitly; among usable candidates the one
//! with the most exact matches wins, then the one using the preferred type
//! of each category (double precision, text, timestamptz) most often.

use super::{DataType, Interval, Value};
use crate::error::{Error, Result, SqlState};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, MathematicalOps, RoundingStrategy};

/// A function resolved for concrete argument types.
#[derive(Clone, Debug)]
pub struct ScalarFunction {
    pub name: &'static str,
    /// The types the arguments must be cast to before the call.
    pub arg_types: Vec<DataType>,
    pub return_type: DataType,
    /// A strict function returns NULL when any argument is NULL, without
    /// being called.
    pub strict: bool,
    /// A volatile function (random(), gen_random_uuid()) may return a
    /// different result on every call and must not be constant-folded.
    pub volatile: bool,
    pub eval: fn(&[Value]) -> Result<Value>,
}

impl ScalarFunction {
    /// Calls the function, honouring strictness.
    pub fn invoke(&self, args: &[Value]) -> Result<Value> {
        if self.strict && args.iter().any(Value::is_null) {
            return Ok(Value::Null);
        }
        (self.eval)(args)
    }
}

/// Whether the function named `name` is volatile.
pub fn is_volatile(name: &str) -> bool {
    matches!(name, "random" | "gen_random_uuid")
}

type EvalFn = fn(&[Value]) -> Result<Value>;

struct Cand {
    name: &'static str,
    args: Vec<DataType>,
    ret: DataType,
    eval: EvalFn,
}

const B: DataType = DataType::Bool;
const I2: DataType = DataType::Int2;
const I4: DataType = DataType::Int4;
const I8: DataType = DataType::Int8;
const F4: DataType = DataType::Float4;
const F8: DataType = DataType::Float8;
const N: DataType = DataType::Numeric(None);
const T: DataType = DataType::Text;
const BY: DataType = DataType::Bytea;
const D: DataType = DataType::Date;
const TM: DataType = DataType::Time;
const TS: DataType = DataType::Timestamp;
const TZ: DataType = DataType::TimestampTz;
const IV: DataType = DataType::Interval;
const U: DataType = DataType::Uuid;
const TA: DataType = DataType::Array(super::ElemType {
    oid: 25,
    typmod: -1,
});

/// Looks up function `name` (lower case, without schema) for arguments of
/// the given types. Errors: 42883 "function f(integer) does not exist".
pub fn resolve(name: &str, arg_types: &[DataType]) -> Result<ScalarFunction> {
    if let Some(f) = super::array::resolve(name, arg_types) {
        return f;
    }
    if let Some(f) = super::json_funcs::resolve(name, arg_types) {
        return f;
    }
    if let Some(f) = resolve_variadic(name, arg_types)? {
        return Ok(f);
    }
    let cands = candidates(name);
    let mut best: Option<(&Cand, (usize, usize))> = None;
    for c in &cands {
        if c.args.len() != arg_types.len() {
            continue;
        }
        if !arg_types.iter().zip(&c.args).all(|(a, p)| implicit(*a, *p)) {
            continue;
        }
        let mut exact = 0;
        let mut preferred = 0;
        for (a, p) in arg_types.iter().zip(&c.args) {
            if a.without_modifier() == *p {
                exact += 1;
            } else if matches!(p, DataType::Float8 | DataType::Text | DataType::TimestampTz) {
                preferred += 1;
            }
        }
        let score = (exact, preferred);
        if best.as_ref().is_none_or(|(_, s)| score > *s) {
            best = Some((c, score));
        }
    }
    match best {
        Some((c, _)) => Ok(ScalarFunction {
            name: c.name,
            arg_types: c.args.clone(),
            return_type: c.ret,
            strict: true,
            volatile: is_volatile(c.name),
            eval: c.eval,
        }),
        None => Err(no_function(name, arg_types)),
    }
}

fn no_function(name: &str, arg_types: &[DataType]) -> Error {
    let args: Vec<&str> = arg_types.iter().map(|t| t.base_name()).collect();
    Error::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("function {}({}) does not exist", name, args.join(", ")),
    )
    .with_hint(
        "No function matches the given name and argument types. You might need to add explicit type casts.",
    )
}

fn numeric_rank(t: DataType) -> Option<u8> {
    Some(match t {
        DataType::Int2 => 1,
        DataType::Int4 => 2,
        DataType::Int8 => 3,
        DataType::Numeric(_) => 4,
        DataType::Float4 => 5,
        DataType::Float8 => 6,
        _ => return None,
    })
}

fn datetime_rank(t: DataType) -> Option<u8> {
    Some(match t {
        DataType::Date => 1,
        DataType::Timestamp => 2,
        DataType::TimestampTz => 3,
        _ => return None,
    })
}

/// PostgreSQL's implicit conversions, as far as function resolution needs
/// them.
fn implicit(from: DataType, to: DataType) -> bool {
    let from = from.without_modifier();
    if from == to || from == DataType::Unknown {
        return true;
    }
    if let (Some(a), Some(b)) = (numeric_rank(from), numeric_rank(to)) {
        return a < b;
    }
    if let (Some(a), Some(b)) = (datetime_rank(from), datetime_rank(to)) {
        return a < b;
    }
    from.is_string() && matches!(to, DataType::Text | DataType::Varchar(None))
}

/// The type GREATEST/LEAST coerce their arguments to.
fn common_type(name: &str, types: &[DataType]) -> Result<DataType> {
    let mut acc: Option<DataType> = None;
    for t in types.iter().map(|t| t.without_modifier()) {
        if t == DataType::Unknown {
            continue;
        }
        let t = if t.is_string() { T } else { t };
        acc = Some(match acc {
            None => t,
            Some(a) if a == t => a,
            Some(a) => match (
                numeric_rank(a),
                numeric_rank(t),
                datetime_rank(a),
                datetime_rank(t),
            ) {
                (Some(x), Some(y), _, _) => {
                    if x >= y {
                        a
                    } else {
                        t
                    }
                }
                (_, _, Some(x), Some(y)) => {
                    if x >= y {
                        a
                    } else {
                        t
                    }
                }
                _ => {
                    return Err(Error::new(
                        SqlState::DATATYPE_MISMATCH,
                        format!(
                            "{} types {} and {} cannot be matched",
                            name.to_uppercase(),
                            a.base_name(),
                            t.base_name()
                        ),
                    ))
                }
            },
        });
    }
    Ok(acc.unwrap_or(T))
}

/// Functions taking any number of arguments of any type.
fn resolve_variadic(name: &str, arg_types: &[DataType]) -> Result<Option<ScalarFunction>> {
    let any = |t: &DataType| if *t == DataType::Unknown { T } else { *t };
    let (name, args, ret, strict, eval): (&'static str, Vec<DataType>, DataType, bool, EvalFn) =
        match name {
            "concat" if !arg_types.is_empty() => (
                "concat",
                arg_types.iter().map(any).collect(),
                T,
                false,
                f_concat,
            ),
            "concat_ws" if arg_types.len() >= 2 && implicit(arg_types[0], T) => {
                let mut args = vec![T];
                args.extend(arg_types[1..].iter().map(any));
                ("concat_ws", args, T, false, f_concat_ws)
            }
            "greatest" | "least" if !arg_types.is_empty() => {
                let t = common_type(name, arg_types)?;
                let (n, f): (&'static str, EvalFn) = if name == "greatest" {
                    ("greatest", f_greatest)
                } else {
                    ("least", f_least)
                };
                (n, vec![t; arg_types.len()], t, false, f)
            }
            "format" if !arg_types.is_empty() && implicit(arg_types[0], T) => {
                let mut args = vec![T];
                args.extend(arg_types[1..].iter().map(any));
                ("format", args, T, false, f_format)
            }
            "quote_literal" if arg_types.len() == 1 => (
                "quote_literal",
                vec![any(&arg_types[0])],
                T,
                true,
                f_quote_literal,
            ),
            "quote_nullable" if arg_types.len() == 1 => (
                "quote_nullable",
                vec![any(&arg_types[0])],
                T,
                false,
                f_quote_nullable,
            ),
            _ => return Ok(None),
        };
    Ok(Some(ScalarFunction {
        name,
        arg_types: args,
        return_type: ret,
        strict,
        volatile: false,
        eval,
    }))
}

fn candidates(name: &str) -> Vec<Cand> {
    let mut v: Vec<Cand> = Vec::new();
    macro_rules! c {
        ($n:expr, [$($a:expr),*], $r:expr, $f:expr) => {
            v.push(Cand { name: $n, args: vec![$($a),*], ret: $r, eval: $f })
        };
    }
    match name {
        // ---- strings ----
        "lower" => c!("lower", [T], T, f_lower),
        "upper" => c!("upper", [T], T, f_upper),
        "length" | "char_length" | "character_length" => {
            c!("length", [T], I4, f_length);
            if name == "length" {
                c!("length", [BY], I4, f_octet_length);
            }
        }
        "octet_length" => {
            c!("octet_length", [T], I4, f_octet_length);
            c!("octet_length", [BY], I4, f_octet_length);
        }
        "bit_length" => {
            c!("bit_length", [T], I4, f_bit_length);
            c!("bit_length", [BY], I4, f_bit_length);
        }
        "substr" | "substring" => {
            c!("substr", [T, I4], T, f_substr);
            c!("substr", [T, I4, I4], T, f_substr);
            c!("substr", [BY, I4], BY, f_substr);
            c!("substr", [BY, I4, I4], BY, f_substr);
        }
        "strpos" | "position" => c!("strpos", [T, T], I4, f_strpos),
        "replace" => c!("replace", [T, T, T], T, f_replace),
        "btrim" | "trim" => {
            c!("btrim", [T], T, f_btrim);
            c!("btrim", [T, T], T, f_btrim);
        }
        "ltrim" => {
            c!("ltrim", [T], T, f_ltrim);
            c!("ltrim", [T, T], T, f_ltrim);
        }
        "rtrim" => {
            c!("rtrim", [T], T, f_rtrim);
            c!("rtrim", [T, T], T, f_rtrim);
        }
        "lpad" => {
            c!("lpad", [T, I4], T, f_lpad);
            c!("lpad", [T, I4, T], T, f_lpad);
        }
        "rpad" => {
            c!("rpad", [T, I4], T, f_rpad);
            c!("rpad", [T, I4, T], T, f_rpad);
        }
        "left" => c!("left", [T, I4], T, f_left),
        "right" => c!("right", [T, I4], T, f_right),
        "repeat" => c!("repeat", [T, I4], T, f_repeat),
        "reverse" => c!("reverse", [T], T, f_reverse),
        "split_part" => c!("split_part", [T, T, I4], T, f_split_part),
        "initcap" => c!("initcap", [T], T, f_initcap),
        "ascii" => c!("ascii", [T], I4, f_ascii),
        "chr" => c!("chr", [I4], T, f_chr),
        "md5" => {
            c!("md5", [T], T, f_md5);
            c!("md5", [BY], T, f_md5);
        }
        "to_hex" => {
            c!("to_hex", [I4], T, f_to_hex32);
            c!("to_hex", [I8], T, f_to_hex64);
        }
        "starts_with" => c!("starts_with", [T, T], B, f_starts_with),
        "quote_ident" => c!("quote_ident", [T], T, f_quote_ident),
        "translate" => c!("translate", [T, T, T], T, f_translate),
        "regexp_replace" => {
            c!("regexp_replace", [T, T, T], T, f_regexp_replace);
            c!("regexp_replace", [T, T, T, T], T, f_regexp_replace);
        }
        "regexp_like" => {
            c!("regexp_like", [T, T], B, f_regexp_like);
            c!("regexp_like", [T, T, T], B, f_regexp_like);
        }
        "regexp_count" => c!("regexp_count", [T, T], I4, f_regexp_count),
        "regexp_match" => {
            c!("regexp_match", [T, T], TA, f_regexp_match);
            c!("regexp_match", [T, T, T], TA, f_regexp_match);
        }
        "regexp_substr" => c!("regexp_substr", [T, T], T, f_regexp_substr),
        // ---- math ----
        "abs" => {
            c!("abs", [F8], F8, f_abs);
            c!("abs", [F4], F4, f_abs);
            c!("abs", [I2], I2, f_abs);
            c!("abs", [I4], I4, f_abs);
            c!("abs", [I8], I8, f_abs);
            c!("abs", [N], N, f_abs);
        }
        "ceil" | "ceiling" => {
            c!("ceil", [F8], F8, f_ceil);
            c!("ceil", [N], N, f_ceil);
        }
        "floor" => {
            c!("floor", [F8], F8, f_floor);
            c!("floor", [N], N, f_floor);
        }
        "round" => {
            c!("round", [F8], F8, f_round);
            c!("round", [N], N, f_round);
            c!("round", [N, I4], N, f_round);
        }
        "trunc" => {
            c!("trunc", [F8], F8, f_trunc);
            c!("trunc", [N], N, f_trunc);
            c!("trunc", [N, I4], N, f_trunc);
        }
        "sqrt" => {
            c!("sqrt", [F8], F8, f_sqrt);
            c!("sqrt", [N], N, f_sqrt);
        }
        "cbrt" => c!("cbrt", [F8], F8, f_cbrt),
        "power" | "pow" => {
            c!("power", [F8, F8], F8, f_power);
            c!("power", [N, N], N, f_power);
        }
        "exp" => {
            c!("exp", [F8], F8, f_exp);
            c!("exp", [N], N, f_exp);
        }
        "ln" => {
            c!("ln", [F8], F8, f_ln);
            c!("ln", [N], N, f_ln);
        }
        "log" | "log10" => {
            c!("log", [F8], F8, f_log10);
            c!("log", [N], N, f_log10);
            if name == "log" {
                c!("log", [N, N], N, f_log);
            }
        }
        "mod" => {
            c!("mod", [I2, I2], I2, f_mod);
            c!("mod", [I4, I4], I4, f_mod);
            c!("mod", [I8, I8], I8, f_mod);
            c!("mod", [N, N], N, f_mod);
        }
        "div" => c!("div", [N, N], N, f_div),
        "gcd" => {
            c!("gcd", [I4, I4], I4, f_gcd);
            c!("gcd", [I8, I8], I8, f_gcd);
            c!("gcd", [N, N], N, f_gcd);
        }
        "lcm" => {
            c!("lcm", [I4, I4], I4, f_lcm);
            c!("lcm", [I8, I8], I8, f_lcm);
            c!("lcm", [N, N], N, f_lcm);
        }
        "sign" => {
            c!("sign", [F8], F8, f_sign);
            c!("sign", [N], N, f_sign);
        }
        "pi" => c!("pi", [], F8, |_| Ok(Value::Float8(std::f64::consts::PI))),
        "degrees" => c!("degrees", [F8], F8, |a| float1(a, f64::to_degrees)),
        "radians" => c!("radians", [F8], F8, |a| float1(a, f64::to_radians)),
        "sin" => c!("sin", [F8], F8, |a| trig(a, f64::sin)),
        "cos" => c!("cos", [F8], F8, |a| trig(a, f64::cos)),
        "tan" => c!("tan", [F8], F8, |a| trig(a, f64::tan)),
        "cot" => c!("cot", [F8], F8, |a| trig(a, |x| 1.0 / x.tan())),
        "asin" => c!("asin", [F8], F8, |a| arc(a, f64::asin)),
        "acos" => c!("acos", [F8], F8, |a| arc(a, f64::acos)),
        "atan" => c!("atan", [F8], F8, |a| float1(a, f64::atan)),
        "atan2" => c!("atan2", [F8, F8], F8, |a| Ok(Value::Float8(
            f8(&a[0])?.atan2(f8(&a[1])?)
        ))),
        "random" => c!("random", [], F8, |_| Ok(Value::Float8(
            rand::random::<f64>()
        ))),
        "width_bucket" => c!("width_bucket", [F8, F8, F8, I4], I4, f_width_bucket),
        "gen_random_uuid" => c!("gen_random_uuid", [], U, |_| Ok(Value::Uuid(
            uuid::Uuid::new_v4().as_u128()
        ))),
        // ---- date/time ----
        "date_part" => {
            c!("date_part", [T, TS], F8, f_date_part);
            c!("date_part", [T, TZ], F8, f_date_part);
            c!("date_part", [T, D], F8, f_date_part);
            c!("date_part", [T, IV], F8, f_date_part);
            c!("date_part", [T, TM], F8, f_date_part);
        }
        "extract" => {
            c!("extract", [T, TS], N, f_extract);
            c!("extract", [T, TZ], N, f_extract);
            c!("extract", [T, D], N, f_extract);
            c!("extract", [T, IV], N, f_extract);
            c!("extract", [T, TM], N, f_extract);
        }
        "date_trunc" => {
            c!("date_trunc", [T, TS], TS, f_date_trunc);
            c!("date_trunc", [T, TZ], TZ, f_date_trunc);
            c!("date_trunc", [T, IV], IV, f_date_trunc);
        }
        "make_date" => c!("make_date", [I4, I4, I4], D, f_make_date),
        "make_timestamp" => c!(
            "make_timestamp",
            [I4, I4, I4, I4, I4, F8],
            TS,
            f_make_timestamp
        ),
        "age" => {
            c!("age", [TS, TS], IV, f_age);
            c!("age", [TZ, TZ], IV, f_age);
        }
        "to_timestamp" => c!("to_timestamp", [F8], TZ, f_to_timestamp),
        "to_char" => {
            c!("to_char", [TS, T], T, super::to_char::f_to_char);
            c!("to_char", [TZ, T], T, super::to_char::f_to_char);
            c!("to_char", [I4, T], T, super::to_char_num::f_to_char_number);
            c!("to_char", [I8, T], T, super::to_char_num::f_to_char_number);
            c!("to_char", [N, T], T, super::to_char_num::f_to_char_number);
            c!("to_char", [F4, T], T, super::to_char_num::f_to_char_number);
            c!("to_char", [F8, T], T, super::to_char_num::f_to_char_number);
        }
        "justify_days" => c!("justify_days", [IV], IV, f_justify_days),
        "justify_hours" => c!("justify_hours", [IV], IV, f_justify_hours),
        "justify_interval" => c!("justify_interval", [IV], IV, f_justify_interval),
        _ => {}
    }
    v
}

// ---------------------------------------------------------------------------
// Argument access. Arguments arrive already cast to the declared types; the
// accessors also accept neighbouring representations to stay robust.

fn bad_arg(v: &Value) -> Error {
    Error::internal(format!("unexpected function argument {v:?}"))
}

fn text(v: &Value) -> Result<&str> {
    v.as_str().ok_or_else(|| bad_arg(v))
}

fn int(v: &Value) -> Result<i64> {
    v.as_i64().ok_or_else(|| bad_arg(v))
}

fn f8(v: &Value) -> Result<f64> {
    match v {
        Value::Float8(f) => Ok(*f),
        Value::Float4(f) => Ok(*f as f64),
        Value::Numeric(d) => Ok(d.to_f64().unwrap_or(f64::NAN)),
        _ => Ok(int(v)? as f64),
    }
}

fn num(v: &Value) -> Result<Decimal> {
    match v {
        Value::Numeric(d) => Ok(*d),
        _ => Ok(Decimal::from(int(v)?)),
    }
}

fn bytes(v: &Value) -> Result<&[u8]> {
    match v {
        Value::Bytea(b) => Ok(b),
        Value::Text(s) => Ok(s.as_bytes()),
        _ => Err(bad_arg(v)),
    }
}

fn err(state: &'static str, msg: impl Into<String>) -> Error {
    Error::new(SqlState(state), msg)
}

fn text_val(s: impl Into<String>) -> Result<Value> {
    Ok(Value::Text(s.into()))
}

/// The text output of a non-NULL value, as concat() and friends use it.
fn to_text(v: &Value, out: &mut String) {
    match v {
        Value::Text(s) => out.push_str(s),
        other => super::io::format_text(other, &super::io::IoContext::default(), out),
    }
}

/// Integer result in the width of the (integer) input.
fn same_int(like: &Value, v: i64) -> Result<Value> {
    Ok(match like {
        Value::Int2(_) => {
            Value::Int2(i16::try_from(v).map_err(|_| Error::out_of_range("smallint"))?)
        }
        Value::Int4(_) => {
            Value::Int4(i32::try_from(v).map_err(|_| Error::out_of_range("integer"))?)
        }
        _ => Value::Int8(v),
    })
}

fn int_overflow(like: &Value) -> Error {
    Error::out_of_range(match like {
        Value::Int2(_) => "smallint",
        Value::Int4(_) => "integer",
        _ => "bigint",
    })
}

// ---------------------------------------------------------------------------
// Strings

fn f_lower(a: &[Value]) -> Result<Value> {
    text_val(text(&a[0])?.to_lowercase())
}

fn f_upper(a: &[Value]) -> Result<Value> {
    text_val(text(&a[0])?.to_uppercase())
}

fn f_length(a: &[Value]) -> Result<Value> {
    Ok(Value::Int4(text(&a[0])?.chars().count() as i32))
}

fn f_octet_length(a: &[Value]) -> Result<Value> {
    Ok(Value::Int4(bytes(&a[0])?.len() as i32))
}

fn f_bit_length(a: &[Value]) -> Result<Value> {
    Ok(Value::Int4(bytes(&a[0])?.len() as i32 * 8))
}

/// The 0-based half-open range [start, end) that substring(s from f for n)
/// selects within a string of `len` elements.
fn substr_range(len: usize, from: i64, count: Option<i64>) -> Result<(usize, usize)> {
    let end = match count {
        Some(n) if n < 0 => {
            return Err(err("22011", "negative substring length not allowed"));
        }
        Some(n) => from.saturating_add(n),
        None => i64::MAX,
    };
    let s = from.max(1);
    if end <= s {
        return Ok((0, 0));
    }
    let s = ((s - 1) as u64).min(len as u64) as usize;
    let e = ((end - 1) as u64).min(len as u64) as usize;
    Ok((s, e.max(s)))
}

fn f_substr(a: &[Value]) -> Result<Value> {
    let from = int(&a[1])?;
    let count = a.get(2).map(int).transpose()?;
    match &a[0] {
        Value::Bytea(b) => {
            let (s, e) = substr_range(b.len(), from, count)?;
            Ok(Value::Bytea(b[s..e].to_vec()))
        }
        v => {
            let s = text(v)?;
            let n = s.chars().count();
            let (st, en) = substr_range(n, from, count)?;
            text_val(s.chars().skip(st).take(en - st).collect::<String>())
        }
    }
}

fn f_strpos(a: &[Value]) -> Result<Value> {
    let (s, sub) = (text(&a[0])?, text(&a[1])?);
    Ok(Value::Int4(match s.find(sub) {
        Some(i) => s[..i].chars().count() as i32 + 1,
        None => 0,
    }))
}

fn f_replace(a: &[Value]) -> Result<Value> {
    let (s, from, to) = (text(&a[0])?, text(&a[1])?, text(&a[2])?);
    if from.is_empty() {
        return text_val(s);
    }
    text_val(s.replace(from, to))
}

fn trim_set(a: &[Value]) -> Result<Vec<char>> {
    Ok(match a.get(1) {
        Some(v) => text(v)?.chars().collect(),
        None => vec![' '],
    })
}

fn f_btrim(a: &[Value]) -> Result<Value> {
    let set = trim_set(a)?;
    text_val(text(&a[0])?.trim_matches(|c| set.contains(&c)))
}

fn f_ltrim(a: &[Value]) -> Result<Value> {
    let set = trim_set(a)?;
    text_val(text(&a[0])?.trim_start_matches(|c| set.contains(&c)))
}

fn f_rtrim(a: &[Value]) -> Result<Value> {
    let set = trim_set(a)?;
    text_val(text(&a[0])?.trim_end_matches(|c| set.contains(&c)))
}

const MAX_STRING_BYTES: usize = (1 << 30) - 1;

fn too_large() -> Error {
    err("54000", "requested length too large")
}

fn pad(a: &[Value], left: bool) -> Result<Value> {
    let s = text(&a[0])?;
    let len = int(&a[1])?;
    let fill = match a.get(2) {
        Some(v) => text(v)?,
        None => " ",
    };
    if len <= 0 {
        return text_val("");
    }
    let len = len as usize;
    let n = s.chars().count();
    if n >= len || fill.is_empty() {
        return text_val(s.chars().take(len).collect::<String>());
    }
    if len.saturating_mul(4) > MAX_STRING_BYTES {
        return Err(too_large());
    }
    let padding: String = fill.chars().cycle().take(len - n).collect();
    text_val(if left {
        padding + s
    } else {
        s.to_string() + &padding
    })
}

fn f_lpad(a: &[Value]) -> Result<Value> {
    pad(a, true)
}

fn f_rpad(a: &[Value]) -> Result<Value> {
    pad(a, false)
}

fn f_left(a: &[Value]) -> Result<Value> {
    let s = text(&a[0])?;
    let n = int(&a[1])?;
    let len = s.chars().count() as i64;
    let take = if n >= 0 { n } else { (len + n).max(0) };
    text_val(s.chars().take(take as usize).collect::<String>())
}

fn f_right(a: &[Value]) -> Result<Value> {
    let s = text(&a[0])?;
    let n = int(&a[1])?;
    let len = s.chars().count() as i64;
    let skip = if n >= 0 {
        (len - n).max(0)
    } else {
        (-n).min(len)
    };
    text_val(s.chars().skip(skip as usize).collect::<String>())
}

fn f_repeat(a: &[Value]) -> Result<Value> {
    let s = text(&a[0])?;
    let n = int(&a[1])?;
    if n <= 0 || s.is_empty() {
        return text_val("");
    }
    if (n as u128) * (s.len() as u128) > MAX_STRING_BYTES as u128 {
        return Err(too_large());
    }
    text_val(s.repeat(n as usize))
}

fn f_reverse(a: &[Value]) -> Result<Value> {
    text_val(text(&a[0])?.chars().rev().collect::<String>())
}

fn f_concat(a: &[Value]) -> Result<Value> {
    let mut out = String::new();
    for v in a.iter().filter(|v| !v.is_null()) {
        to_text(v, &mut out);
    }
    text_val(out)
}

fn f_concat_ws(a: &[Value]) -> Result<Value> {
    let sep = match &a[0] {
        Value::Null => return Ok(Value::Null),
        v => text(v)?,
    };
    let mut out = String::new();
    let mut first = true;
    for v in a[1..].iter().filter(|v| !v.is_null()) {
        if !first {
            out.push_str(sep);
        }
        first = false;
        to_text(v, &mut out);
    }
    text_val(out)
}

fn f_split_part(a: &[Value]) -> Result<Value> {
    let (s, delim, n) = (text(&a[0])?, text(&a[1])?, int(&a[2])?);
    if n == 0 {
        return Err(err("22023", "field position must not be zero"));
    }
    let parts: Vec<&str> = if delim.is_empty() {
        if s.is_empty() {
            vec![]
        } else {
            vec![s]
        }
    } else if s.is_empty() {
        vec![]
    } else {
        s.split(delim).collect()
    };
    let idx = if n > 0 { n - 1 } else { parts.len() as i64 + n };
    text_val(if idx >= 0 {
        parts.get(idx as usize).copied().unwrap_or("")
    } else {
        ""
    })
}

fn f_initcap(a: &[Value]) -> Result<Value> {
    let mut out = String::new();
    let mut in_word = false;
    for c in text(&a[0])?.chars() {
        if in_word {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        in_word = c.is_alphanumeric();
    }
    text_val(out)
}

fn f_ascii(a: &[Value]) -> Result<Value> {
    Ok(Value::Int4(
        text(&a[0])?.chars().next().map_or(0, |c| c as i32),
    ))
}

fn f_chr(a: &[Value]) -> Result<Value> {
    let n = int(&a[0])?;
    if n == 0 {
        return Err(err("54000", "null character not permitted"));
    }
    if n < 0 {
        return Err(err("54000", "character number must be positive"));
    }
    if n > 0x10FFFF {
        return Err(err(
            "54000",
            format!("requested character too large for encoding: {n}"),
        ));
    }
    match char::from_u32(n as u32) {
        Some(c) => text_val(c.to_string()),
        None => Err(err(
            "54000",
            format!("requested character not valid for encoding: {n}"),
        )),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn f_md5(a: &[Value]) -> Result<Value> {
    use md5::{Digest, Md5};
    text_val(hex(&Md5::digest(bytes(&a[0])?)))
}

fn f_to_hex32(a: &[Value]) -> Result<Value> {
    text_val(format!("{:x}", int(&a[0])? as i32 as u32))
}

fn f_to_hex64(a: &[Value]) -> Result<Value> {
    text_val(format!("{:x}", int(&a[0])? as u64))
}

fn f_starts_with(a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(text(&a[0])?.starts_with(text(&a[1])?)))
}

/// Keywords PostgreSQL's quote_ident() quotes (all but the unreserved ones).
const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "json",
    "json_array",
    "json_arrayagg",
    "json_object",
    "json_objectagg",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// Quotes an identifier when PostgreSQL would need it quoted.
pub fn quote_ident(s: &str) -> String {
    let safe = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !QUOTED_KEYWORDS.contains(&s);
    if safe {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

fn f_quote_ident(a: &[Value]) -> Result<Value> {
    text_val(quote_ident(text(&a[0])?))
}

fn quote_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    if s.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

fn f_quote_literal(a: &[Value]) -> Result<Value> {
    let mut s = String::new();
    to_text(&a[0], &mut s);
    text_val(quote_literal(&s))
}

fn f_quote_nullable(a: &[Value]) -> Result<Value> {
    if a[0].is_null() {
        return text_val("NULL");
    }
    f_quote_literal(a)
}

fn f_translate(a: &[Value]) -> Result<Value> {
    let (s, from, to) = (text(&a[0])?, text(&a[1])?, text(&a[2])?);
    let from: Vec<char> = from.chars().collect();
    let to: Vec<char> = to.chars().collect();
    text_val(
        s.chars()
            .filter_map(|c| match from.iter().position(|f| *f == c) {
                Some(i) => to.get(i).copied(),
                None => Some(c),
            })
            .collect::<String>(),
    )
}

// ---- regular expressions ----

struct RegexFlags {
    global: bool,
    case_insensitive: bool,
    newline: bool,
    expanded: bool,
}

fn regex_flags(flags: Option<&str>) -> Result<RegexFlags> {
    let mut f = RegexFlags {
        global: false,
        case_insensitive: false,
        newline: false,
        expanded: false,
    };
    for c in flags.unwrap_or("").chars() {
        match c {
            'g' => f.global = true,
            'i' => f.case_insensitive = true,
            'c' => f.case_insensitive = false,
            'n' | 'm' => f.newline = true,
            's' => f.newline = false,
            'x' => f.expanded = true,
            't' => f.expanded = false,
            _ => {
                return Err(err(
                    "22023",
                    format!("invalid regular expression option: \"{c}\""),
                ))
            }
        }
    }
    Ok(f)
}

fn compile_regex(pattern: &str, f: &RegexFlags) -> Result<regex::Regex> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static CACHE: RefCell<HashMap<(String, bool, bool, bool), regex::Regex>> =
            RefCell::new(HashMap::new());
    }
    let key = (
        pattern.to_string(),
        f.case_insensitive,
        f.newline,
        f.expanded,
    );
    if let Some(r) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(r);
    }
    let re = regex::RegexBuilder::new(pattern)
        .case_insensitive(f.case_insensitive)
        // PostgreSQL's `.` matches newlines unless newline-sensitive.
        .dot_matches_new_line(!f.newline)
        .multi_line(f.newline)
        .ignore_whitespace(f.expanded)
        .build()
        .map_err(|e| {
            let msg = e.to_string();
            let last = msg.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
            let detail = last.trim().trim_start_matches("error: ");
            err("2201B", format!("invalid regular expression: {detail}"))
        })?;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 256 {
            c.clear();
        }
        c.insert(key, re.clone());
    });
    Ok(re)
}

/// Expands PostgreSQL replacement syntax: `\1`..`\9`, `\&` (whole match)
/// and `\\`.
fn expand_replacement(rep: &str, caps: &regex::Captures, out: &mut String) {
    let mut chars = rep.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(d @ '1'..='9') => {
                chars.next();
                let i = d as usize - '0' as usize;
                if let Some(m) = caps.get(i) {
                    out.push_str(m.as_str());
                }
            }
            Some('&') => {
                chars.next();
                out.push_str(&caps[0]);
            }
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            _ => out.push('\\'),
        }
    }
}

fn f_regexp_replace(a: &[Value]) -> Result<Value> {
    let (s, pat, rep) = (text(&a[0])?, text(&a[1])?, text(&a[2])?);
    let flags = regex_flags(a.get(3).map(text).transpose()?)?;
    let re = compile_regex(pat, &flags)?;
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let m = caps.get(0).expect("group 0 always matches");
        out.push_str(&s[last..m.start()]);
        expand_replacement(rep, &caps, &mut out);
        last = m.end();
        if !flags.global {
            break;
        }
    }
    out.push_str(&s[last..]);
    text_val(out)
}

fn f_regexp_like(a: &[Value]) -> Result<Value> {
    let flags = regex_flags(a.get(2).map(text).transpose()?)?;
    if flags.global {
        return Err(err(
            "22023",
            "regexp_like() does not support the \"global\" option",
        ));
    }
    let re = compile_regex(text(&a[1])?, &flags)?;
    Ok(Value::Bool(re.is_match(text(&a[0])?)))
}

fn f_regexp_count(a: &[Value]) -> Result<Value> {
    let re = compile_regex(text(&a[1])?, &regex_flags(None)?)?;
    Ok(Value::Int4(re.find_iter(text(&a[0])?).count() as i32))
}

/// The first match: its capture groups (or the whole match when the
/// pattern has none) as a text array; NULL when nothing matches.
fn f_regexp_match(a: &[Value]) -> Result<Value> {
    let flags = regex_flags(a.get(2).map(text).transpose()?)?;
    if flags.global {
        return Err(err(
            "22023",
            "regexp_match() does not support the \"global\" option",
        )
        .with_hint("Use the regexp_matches function instead."));
    }
    let re = compile_regex(text(&a[1])?, &flags)?;
    let Some(caps) = re.captures(text(&a[0])?) else {
        return Ok(Value::Null);
    };
    let groups: Vec<Value> = if caps.len() == 1 {
        vec![Value::Text(caps[0].to_string())]
    } else {
        (1..caps.len())
            .map(|i| {
                caps.get(i)
                    .map(|m| Value::Text(m.as_str().to_string()))
                    .unwrap_or(Value::Null)
            })
            .collect()
    };
    Ok(Value::Array(groups))
}

/// format(): `%s` (text, NULL as empty), `%I` (identifier), `%L`
/// (literal, NULL as NULL), `%%`; `%n$` picks an argument by position.
fn f_format(a: &[Value]) -> Result<Value> {
    let Value::Text(fmt) = &a[0] else {
        return Ok(Value::Null);
    };
    let args = &a[1..];
    let io = super::io::IoContext::default();
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let index = if !digits.is_empty() && chars.peek() == Some(&'$') {
            chars.next();
            let n: usize = digits.parse().unwrap_or(0);
            if n == 0 {
                return Err(err(
                    "22023",
                    "format specifies argument 0, but arguments are numbered from 1",
                ));
            }
            n - 1
        } else if !digits.is_empty() {
            return Err(err("0A000", "width in format() is not supported"));
        } else {
            let i = next;
            next += 1;
            i
        };
        let conv = chars
            .next()
            .ok_or_else(|| err("22023", "unterminated format() type specifier"))?;
        if conv == '%' {
            out.push('%');
            next -= 1;
            continue;
        }
        let arg = args
            .get(index)
            .ok_or_else(|| err("22023", "too few arguments for format()"))?;
        next = index + 1;
        let as_text = |v: &Value| match v {
            Value::Null => None,
            v => Some(super::io::to_text(v, &io)),
        };
        match conv {
            's' => out.push_str(&as_text(arg).unwrap_or_default()),
            'I' => match as_text(arg) {
                Some(t) => out.push_str(&quote_ident(&t)),
                None => {
                    return Err(err(
                        "22004",
                        "null values cannot be formatted as an SQL identifier",
                    ))
                }
            },
            'L' => match as_text(arg) {
                Some(t) => out.push_str(&quote_literal(&t)),
                None => out.push_str("NULL"),
            },
            other => {
                return Err(err(
                    "22023",
                    format!("unrecognized format() type specifier \"{other}\""),
                )
                .with_hint("For a single \"%\" use \"%%\"."))
            }
        }
    }
    Ok(Value::Text(out))
}

fn f_regexp_substr(a: &[Value]) -> Result<Value> {
    let re = compile_regex(text(&a[1])?, &regex_flags(None)?)?;
    Ok(match re.find(text(&a[0])?) {
        Some(m) => Value::Text(m.as_str().to_string()),
        None => Value::Null,
    })
}

// ---------------------------------------------------------------------------
// Comparison

fn pick(a: &[Value], want: std::cmp::Ordering) -> Result<Value> {
    let mut best: Option<(&Value, Vec<u8>)> = None;
    for v in a.iter().filter(|v| !v.is_null()) {
        let mut k = Vec::new();
        super::keys::encode_key(std::slice::from_ref(v), &mut k);
        if best.as_ref().is_none_or(|(_, bk)| k.cmp(bk) == want) {
            best = Some((v, k));
        }
    }
    Ok(best.map_or(Value::Null, |(v, _)| v.clone()))
}

fn f_greatest(a: &[Value]) -> Result<Value> {
    pick(a, std::cmp::Ordering::Greater)
}

fn f_least(a: &[Value]) -> Result<Value> {
    pick(a, std::cmp::Ordering::Less)
}

// ---------------------------------------------------------------------------
// Math

const MIN_SIG_DIGITS: i64 = 16;

fn float_result(r: f64, inputs_finite: bool) -> Result<Value> {
    if r.is_infinite() && inputs_finite {
        return Err(err("22003", "value out of range: overflow"));
    }
    Ok(Value::Float8(r))
}

fn float1(a: &[Value], f: fn(f64) -> f64) -> Result<Value> {
    let x = f8(&a[0])?;
    float_result(f(x), x.is_finite())
}

fn trig(a: &[Value], f: fn(f64) -> f64) -> Result<Value> {
    let x = f8(&a[0])?;
    if x.is_infinite() {
        return Err(err("22003", "input is out of range"));
    }
    Ok(Value::Float8(f(x)))
}

fn arc(a: &[Value], f: fn(f64) -> f64) -> Result<Value> {
    let x = f8(&a[0])?;
    if !(-1.0..=1.0).contains(&x) && !x.is_nan() {
        return Err(err("22003", "input is out of range"));
    }
    Ok(Value::Float8(f(x)))
}

fn numeric_overflow() -> Error {
    err("22003", "value overflows numeric format")
}

/// Rounds to `scale` decimal places and pads to exactly that many, as far
/// as the decimal representation allows.
fn with_scale(d: Decimal, scale: i64) -> Decimal {
    let scale = scale.clamp(0, 28) as u32;
    let mut r = d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    if r.scale() < scale {
        let mut padded = r;
        padded.rescale(scale);
        if padded == r {
            r = padded;
        }
    }
    r
}

/// The number of base-10000 digits before the decimal point minus one, as
/// PostgreSQL's NumericVar.weight.
fn nbase_weight(d: &Decimal) -> i64 {
    if d.is_zero() {
        return 0;
    }
    let digits = d.abs().normalize().mantissa().to_string().len() as i64;
    let exp10 = digits - d.abs().normalize().scale() as i64; // value < 10^exp10
    (exp10 - 1).div_euclid(4)
}

/// PostgreSQL's estimate of the decimal weight of ln(x).
fn ln_dweight(x: &Decimal) -> i64 {
    let one = Decimal::ONE;
    if x.is_sign_negative() || x.is_zero() {
        return 0;
    }
    if *x >= Decimal::new(9, 1) && *x <= Decimal::new(11, 1) {
        let d = *x - one;
        if d.is_zero() {
            return 0;
        }
        return d.abs().to_f64().unwrap_or(1.0).log10().floor() as i64;
    }
    let l = x.to_f64().unwrap_or(1.0).ln();
    l.abs().log10() as i64
}

fn f_abs(a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Float8(f) => Ok(Value::Float8(f.abs())),
        Value::Float4(f) => Ok(Value::Float4(f.abs())),
        Value::Numeric(d) => Ok(Value::Numeric(d.abs())),
        v => {
            let i = int(v)?;
            same_int(v, i.checked_abs().ok_or_else(|| int_overflow(v))?)
        }
    }
}

fn f_ceil(a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Numeric(d) => Ok(Value::Numeric(d.ceil().normalize_zero())),
        v => Ok(Value::Float8(f8(v)?.ceil())),
    }
}

fn f_floor(a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Numeric(d) => Ok(Value::Numeric(d.floor().normalize_zero())),
        v => Ok(Value::Float8(f8(v)?.floor())),
    }
}

trait NormalizeZero {
    fn normalize_zero(self) -> Self;
}

impl NormalizeZero for Decimal {
    /// Avoids printing "-0" for a negative value rounded to zero.
    fn normalize_zero(self) -> Self {
        if self.is_zero() {
            Decimal::new(0, self.scale())
        } else {
            self
        }
    }
}

/// Rounds (or truncates) numeric `d` to `s` places; negative `s` rounds to
/// tens, hundreds, ... The result has max(s, 0) decimal places.
fn round_numeric(d: Decimal, s: i64, strategy: RoundingStrategy) -> Result<Decimal> {
    if s >= 0 {
        let s = s.min(28) as u32;
        let mut r = d.round_dp_with_strategy(s, strategy);
        let mut padded = r;
        padded.rescale(s);
        if padded == r {
            r = padded;
        }
        return Ok(r.normalize_zero());
    }
    if s < -28 {
        return Ok(Decimal::ZERO);
    }
    let p = Decimal::from_i128_with_scale(10i128.pow((-s) as u32), 0);
    let q = (d / p).round_dp_with_strategy(0, strategy);
    let r = q.checked_mul(p).ok_or_else(numeric_overflow)?;
    Ok(r.round_dp(0).normalize_zero())
}

fn f_round(a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Numeric(d) => {
            let s = a.get(1).map(int).transpose()?.unwrap_or(0);
            Ok(Value::Numeric(round_numeric(
                *d,
                s,
                RoundingStrategy::MidpointAwayFromZero,
            )?))
        }
        // Like C's rint(): halves round to even.
        v => Ok(Value::Float8(f8(v)?.round_ties_even())),
    }
}

fn f_trunc(a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Numeric(d) => {
            let s = a.get(1).map(int).transpose()?.unwrap_or(0);
            Ok(Value::Numeric(round_numeric(
                *d,
                s,
                RoundingStrategy::ToZero,
            )?))
        }
        v => Ok(Value::Float8(f8(v)?.trunc())),
    }
}

fn negative_sqrt() -> Error {
    err("2201F", "cannot take square root of a negative number")
}

fn f_sqrt(a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Numeric(d) => {
            if d.is_sign_negative() && !d.is_zero() {
                return Err(negative_sqrt());
            }
            let sweight = (nbase_weight(d) + 1) * 4 / 2 - 1;
            let rscale = (MIN_SIG_DIGITS - sweight).max(d.scale() as i64);
            let r = d.sqrt().ok_or_else(negative_sqrt)?;
            Ok(Value::Numeric(with_scale(r, rscale)))
        }
        v => {
            let x = f8(v)?;
            if x < 0.0 {
                return Err(negative_sqrt());
            }
            Ok(Value::Float8(x.sqrt()))
        }
    }
}

fn f_cbrt(a: &[Value]) -> Result<Value> {
    Ok(Value::Float8(f8(&a[0])?.cbrt()))
}

fn zero_neg_power() -> Error {
    err("2201F", "zero raised to a negative power is undefined")
}

fn complex_power() -> Error {
    err(
        "2201F",
        "a negative number raised to a non-integer power yields a complex result",
    )
}

fn f_power(a: &[Value]) -> Result<Value> {
    if let (Value::Numeric(_), Value::Numeric(_)) = (&a[0], &a[1]) {
        let (b, e) = (num(&a[0])?, num(&a[1])?);
        if b.is_zero() && e.is_sign_negative() && !e.is_zero() {
            return Err(zero_neg_power());
        }
        let is_int = e.fract().is_zero();
        if b.is_sign_negative() && !b.is_zero() && !is_int {
            return Err(complex_power());
        }
        let scales = (b.scale() as i64).max(e.scale() as i64);
        if is_int {
            if let Some(ei) = e.to_i64().filter(|v| i32::try_from(*v).is_ok()) {
                let rscale = MIN_SIG_DIGITS.max(b.scale() as i64);
                let r = if ei >= 0 {
                    b.checked_powi(ei)
                } else {
                    b.checked_powi(-ei)
                        .and_then(|p| Decimal::ONE.checked_div(p))
                }
                .ok_or_else(numeric_overflow)?;
                return Ok(Value::Numeric(with_scale(r, rscale)));
            }
        }
        let val =
            e.to_f64().unwrap_or(0.0) * b.to_f64().unwrap_or(1.0).ln() * std::f64::consts::LOG10_E;
        let rscale = (MIN_SIG_DIGITS - val as i64).max(scales);
        let r = b.checked_powd(e).ok_or_else(numeric_overflow)?;
        return Ok(Value::Numeric(with_scale(r, rscale)));
    }
    let (x, y) = (f8(&a[0])?, f8(&a[1])?);
    if x == 0.0 && y < 0.0 {
        return Err(zero_neg_power());
    }
    if x < 0.0 && y.is_finite() && y.fract() != 0.0 {
        return Err(complex_power());
    }
    let r = x.powf(y);
    if r == 0.0 && x != 0.0 && x.is_finite() && y.is_finite() {
        return Err(err("22003", "value out of range: underflow"));
    }
    float_result(r, x.is_finite() && y.is_finite())
}

fn f_exp(a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Numeric(d) => {
            let val = d.to_f64().unwrap_or(0.0) * std::f64::consts::LOG10_E;
            let rscale = (MIN_SIG_DIGITS - val as i64).max(d.scale() as i64);
            let r = d.checked_exp().ok_or_else(numeric_overflow)?;
            Ok(Value::Numeric(with_scale(r, rscale)))
        }
        v => {
            let x = f8(v)?;
            let r = x.exp();
            if r == 0.0 && x.is_finite() {
                return Err(err("22003", "value out of range: underflow"));
            }
            float_result(r, x.is_finite())
        }
    }
}

fn log_domain(is_zero: bool, is_negative: bool) -> Result<()> {
    if is_zero {
        return Err(err("2201E", "cannot take logarithm of zero"));
    }
    if is_negative {
        return Err(err("2201E", "cannot take logarithm of a negative number"));
    }
    Ok(())
}

fn f_ln(a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Numeric(d) => {
            log_domain(d.is_zero(), d.is_sign_negative())?;
            let rscale = (MIN_SIG_DIGITS - ln_dweight(d)).max(d.scale() as i64);
            Ok(Value::Numeric(with_scale(d.ln(), rscale)))
        }
        v => {
            let x = f8(v)?;
            log_domain(x == 0.0, x < 0.0)?;
            Ok(Value::Float8(x.ln()))
        }
    }
}

fn numeric_log(base: Decimal, x: Decimal) -> Result<Decimal> {
    log_domain(base.is_zero(), base.is_sign_negative())?;
    log_domain(x.is_zero(), x.is_sign_negative())?;
    let ln_base = base.ln();
    if ln_base.is_zero() {
        return Err(Error::division_by_zero());
    }
    let rdweight = ln_dweight(&x) - ln_dweight(&base);
    let rscale = (MIN_SIG_DIGITS - rdweight)
        .max(base.scale() as i64)
        .max(x.scale() as i64);
    let r = if base == Decimal::TEN {
        x.log10()
    } else {
        x.ln() / ln_base
    };
    Ok(with_scale(r, rscale))
}

fn f_log10(a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Numeric(d) => Ok(Value::Numeric(numeric_log(Decimal::TEN, *d)?)),
        v => {
            let x = f8(v)?;
            log_domain(x == 0.0, x < 0.0)?;
            Ok(Value::Float8(x.log10()))
        }
    }
}

fn f_log(a: &[Value]) -> Result<Value> {
    Ok(Value::Numeric(numeric_log(num(&a[0])?, num(&a[1])?)?))
}

fn f_mod(a: &[Value]) -> Result<Value> {
    if let Value::Numeric(_) = &a[0] {
        let (x, y) = (num(&a[0])?, num(&a[1])?);
        if y.is_zero() {
            return Err(Error::division_by_zero());
        }
        return Ok(Value::Numeric(
            x.checked_rem(y)
                .ok_or_else(numeric_overflow)?
                .normalize_zero(),
        ));
    }
    let (x, y) = (int(&a[0])?, int(&a[1])?);
    if y == 0 {
        return Err(Error::division_by_zero());
    }
    same_int(&a[0], x.wrapping_rem(y))
}

fn f_div(a: &[Value]) -> Result<Value> {
    let (x, y) = (num(&a[0])?, num(&a[1])?);
    if y.is_zero() {
        return Err(Error::division_by_zero());
    }
    let q = x.checked_div(y).ok_or_else(numeric_overflow)?;
    Ok(Value::Numeric(q.trunc().round_dp(0).normalize_zero()))
}

fn gcd_i64(mut a: i64, mut b: i64) -> Option<i64> {
    // Work with negative values so that i64::MIN is representable.
    a = if a > 0 { -a } else { a };
    b = if b > 0 { -b } else { b };
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a.checked_neg()
}

fn f_gcd(a: &[Value]) -> Result<Value> {
    if let Value::Numeric(_) = &a[0] {
        let (mut x, mut y) = (num(&a[0])?.abs(), num(&a[1])?.abs());
        while !y.is_zero() {
            let t = x % y;
            x = y;
            y = t;
        }
        return Ok(Value::Numeric(x));
    }
    let g = gcd_i64(int(&a[0])?, int(&a[1])?).ok_or_else(|| int_overflow(&a[0]))?;
    same_int(&a[0], g).map_err(|_| int_overflow(&a[0]))
}

fn f_lcm(a: &[Value]) -> Result<Value> {
    if let Value::Numeric(_) = &a[0] {
        let (x, y) = (num(&a[0])?, num(&a[1])?);
        if x.is_zero() || y.is_zero() {
            return Ok(Value::Numeric(Decimal::ZERO));
        }
        let mut g = x.abs();
        let mut h = y.abs();
        while !h.is_zero() {
            let t = g % h;
            g = h;
            h = t;
        }
        let r = (x / g).checked_mul(y).ok_or_else(numeric_overflow)?.abs();
        return Ok(Value::Numeric(r));
    }
    let (x, y) = (int(&a[0])?, int(&a[1])?);
    if x == 0 || y == 0 {
        return same_int(&a[0], 0);
    }
    let g = gcd_i64(x, y).ok_or_else(|| int_overflow(&a[0]))?;
    let r = (x / g)
        .checked_mul(y)
        .and_then(i64::checked_abs)
        .ok_or_else(|| int_overflow(&a[0]))?;
    same_int(&a[0], r).map_err(|_| int_overflow(&a[0]))
}

fn f_sign(a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Numeric(d) => Ok(Value::Numeric(if d.is_zero() {
            Decimal::ZERO
        } else if d.is_sign_negative() {
            Decimal::NEGATIVE_ONE
        } else {
            Decimal::ONE
        })),
        v => {
            let x = f8(v)?;
            Ok(Value::Float8(if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }))
        }
    }
}

fn f_width_bucket(a: &[Value]) -> Result<Value> {
    let (op, lo, hi, count) = (f8(&a[0])?, f8(&a[1])?, f8(&a[2])?, int(&a[3])?);
    if count <= 0 {
        return Err(err("2201G", "count must be greater than zero"));
    }
    if op.is_nan() || lo.is_nan() || hi.is_nan() {
        return Err(err(
            "2201G",
            "operand, lower bound, and upper bound cannot be NaN",
        ));
    }
    if !lo.is_finite() || !hi.is_finite() {
        return Err(err("2201G", "lower and upper bounds must be finite"));
    }
    let c = count as f64;
    let bucket = if lo < hi {
        if op < lo {
            0
        } else if op >= hi {
            count + 1
        } else {
            (c * ((op - lo) / (hi - lo))) as i64 + 1
        }
    } else if lo > hi {
        if op > lo {
            0
        } else if op <= hi {
            count + 1
        } else {
            (c * ((lo - op) / (lo - hi))) as i64 + 1
        }
    } else {
        return Err(err("2201G", "lower bound cannot equal upper bound"));
    };
    Ok(Value::Int4(
        i32::try_from(bucket).map_err(|_| Error::out_of_range("integer"))?,
    ))
}

// ---------------------------------------------------------------------------
// Date and time

const USECS_PER_SEC: i64 = 1_000_000;
const USECS_PER_DAY: i64 = 86_400 * USECS_PER_SEC;
/// Julian day number of 0001-01-01 minus one (chrono counts days from CE).
const JULIAN_CE_OFFSET: i64 = 1_721_425;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Field {
    Micro,
    Milli,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
    Decade,
    Century,
    Millennium,
    Dow,
    IsoDow,
    Doy,
    IsoYear,
    Epoch,
    Julian,
    Timezone,
    TimezoneHour,
    TimezoneMinute,
}

fn parse_field(s: &str) -> Option<Field> {
    use Field::*;
    Some(match s {
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "usecond" | "useconds" => Micro,
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "msecond" | "mseconds" => Milli,
        "second" | "seconds" | "s" | "sec" | "secs" => Second,
        "minute" | "minutes" | "m" | "min" | "mins" => Minute,
        "hour" | "hours" | "h" | "hr" | "hrs" => Hour,
        "day" | "days" | "d" => Day,
        "week" | "weeks" | "w" => Week,
        "month" | "months" | "mon" | "mons" => Month,
        "quarter" | "qtr" => Quarter,
        "year" | "years" | "y" | "yr" | "yrs" => Year,
        "decade" | "decades" | "dec" | "decs" => Decade,
        "century" | "centuries" | "c" | "cent" => Century,
        "millennium" | "millennia" | "millenniums" | "mil" | "mils" => Millennium,
        "dow" => Dow,
        "isodow" => IsoDow,
        "doy" => Doy,
        "isoyear" => IsoYear,
        "epoch" => Epoch,
        "julian" | "j" => Julian,
        "timezone" => Timezone,
        "timezone_h" | "timezone_hour" => TimezoneHour,
        "timezone_m" | "timezone_minute" => TimezoneMinute,
        _ => return None,
    })
}

fn unit_error(unit: &str, ty: DataType, recognized: bool) -> Error {
    if recognized {
        err(
            "0A000",
            format!("unit \"{unit}\" not supported for type {}", ty.base_name()),
        )
    } else {
        err(
            "22023",
            format!("unit \"{unit}\" not recognized for type {}", ty.base_name()),
        )
    }
}

/// PostgreSQL numbers years before 1 AD as negative without a year 0.
fn pg_year(y: i32) -> i64 {
    if y <= 0 {
        y as i64 - 1
    } else {
        y as i64
    }
}

fn decade(y: i64) -> i64 {
    if y >= 0 {
        y / 10
    } else {
        -((8 - (y - 1)) / 10)
    }
}

fn century(y: i64) -> i64 {
    if y > 0 {
        (y + 99) / 100
    } else {
        -((99 - (y - 1)) / 100)
    }
}

fn millennium(y: i64) -> i64 {
    if y > 0 {
        (y + 999) / 1000
    } else {
        -((999 - (y - 1)) / 1000)
    }
}

fn dec(v: i64) -> Decimal {
    Decimal::from(v)
}

/// `v / 10^scale` as an exact decimal.
fn dec_scaled(v: i64, scale: u32) -> Decimal {
    Decimal::new(v, scale)
}

fn date_field(f: Field, d: NaiveDate) -> Option<Decimal> {
    use Field::*;
    let y = pg_year(d.year());
    Some(dec(match f {
        Day => d.day() as i64,
        Month => d.month() as i64,
        Quarter => (d.month() as i64 - 1) / 3 + 1,
        Year => y,
        Decade => decade(y),
        Century => century(y),
        Millennium => millennium(y),
        Week => d.iso_week().week() as i64,
        Dow => d.weekday().num_days_from_sunday() as i64,
        IsoDow => d.weekday().number_from_monday() as i64,
        Doy => d.ordinal() as i64,
        IsoYear => pg_year(d.iso_week().year()),
        Epoch => (d.num_days_from_ce() as i64 - 719_163) * 86_400,
        Julian => d.num_days_from_ce() as i64 + JULIAN_CE_OFFSET,
        _ => return None,
    }))
}

fn micros_of_day(t: NaiveTime) -> i64 {
    t.num_seconds_from_midnight() as i64 * USECS_PER_SEC + (t.nanosecond() / 1000) as i64
}

fn time_field(f: Field, t: NaiveTime) -> Option<Decimal> {
    use Field::*;
    let us = micros_of_day(t);
    let sec_us = us % (60 * USECS_PER_SEC);
    Some(match f {
        Micro => dec(sec_us),
        Milli => dec_scaled(sec_us, 3),
        Second => dec_scaled(sec_us, 6),
        Minute => dec(us / (60 * USECS_PER_SEC) % 60),
        Hour => dec(us / (3600 * USECS_PER_SEC)),
        Epoch => dec_scaled(us, 6),
        _ => return None,
    })
}

fn timestamp_field(f: Field, ts: NaiveDateTime, tz: bool) -> Option<Decimal> {
    use Field::*;
    match f {
        Micro | Milli | Second | Minute | Hour => time_field(f, ts.time()),
        Epoch => Some(dec_scaled(ts.and_utc().timestamp_micros(), 6)),
        Julian => {
            let day = Decimal::from(ts.date().num_days_from_ce() as i64 + JULIAN_CE_OFFSET);
            let frac = Decimal::from(micros_of_day(ts.time())) / Decimal::from(USECS_PER_DAY);
            Some(with_scale(day + frac, 20))
        }
        Timezone | TimezoneHour | TimezoneMinute if tz => Some(Decimal::ZERO),
        Timezone | TimezoneHour | TimezoneMinute => None,
        _ => date_field(f, ts.date()),
    }
}

fn interval_field(f: Field, iv: &Interval) -> Option<Decimal> {
    use Field::*;
    let (m, us) = (iv.months as i64, iv.micros);
    let y = m / 12;
    let sec_us = us % (60 * USECS_PER_SEC);
    Some(match f {
        Micro => dec(sec_us),
        Milli => dec_scaled(sec_us, 3),
        Second => dec_scaled(sec_us, 6),
        Minute => dec(us / (60 * USECS_PER_SEC) % 60),
        Hour => dec(us / (3600 * USECS_PER_SEC)),
        Day => dec(iv.days as i64),
        Month => dec(m % 12),
        Quarter => dec((m % 12) / 3 + 1),
        Year => dec(y),
        Decade => dec(y / 10),
        Century => dec(y / 100),
        Millennium => dec(y / 1000),
        Epoch => {
            // 365.25 days per year and 30 days per month, as PostgreSQL.
            let secs = (1461 * y + 120 * (m % 12) + 4 * iv.days as i64) * 21_600;
            dec_scaled(us, 6) + dec(secs)
        }
        _ => return None,
    })
}

/// The value of a date/time field as an exact decimal (EXTRACT's result).
/// timestamptz values are taken in UTC.
fn extract_field(unit: &str, v: &Value, date_as_timestamp: bool) -> Result<Decimal> {
    let unit = unit.to_lowercase();
    let field = parse_field(&unit);
    let (ty, r) = match v {
        Value::Date(d) if date_as_timestamp => (
            TS,
            field.and_then(|f| timestamp_field(f, d.and_time(NaiveTime::MIN), false)),
        ),
        Value::Date(d) => (D, field.and_then(|f| date_field(f, *d))),
        Value::Timestamp(ts) => (TS, field.and_then(|f| timestamp_field(f, *ts, false))),
        Value::TimestampTz(ts) => (
            TZ,
            field.and_then(|f| timestamp_field(f, ts.naive_utc(), true)),
        ),
        Value::Time(t) => (TM, field.and_then(|f| time_field(f, *t))),
        Value::Interval(iv) => (IV, field.and_then(|f| interval_field(f, iv))),
        other => return Err(bad_arg(other)),
    };
    r.ok_or_else(|| unit_error(&unit, ty, field.is_some()))
}

/// date_part(field, source) -> double precision. timestamptz is read in UTC.
fn f_date_part(a: &[Value]) -> Result<Value> {
    let d = extract_field(text(&a[0])?, &a[1], true)?;
    Ok(Value::Float8(d.to_f64().unwrap_or(f64::NAN)))
}

/// EXTRACT(field FROM source) -> numeric (PostgreSQL 14+ semantics).
/// timestamptz is read in UTC.
fn f_extract(a: &[Value]) -> Result<Value> {
    Ok(Value::Numeric(extract_field(text(&a[0])?, &a[1], false)?))
}

fn trunc_timestamp(f: Field, ts: NaiveDateTime) -> Option<NaiveDateTime> {
    use Field::*;
    let d = ts.date();
    let t = ts.time();
    let us = micros_of_day(t);
    let keep = |unit: i64| {
        let us = us - us % unit;
        NaiveTime::from_num_seconds_from_midnight_opt(
            (us / USECS_PER_SEC) as u32,
            ((us % USECS_PER_SEC) * 1000) as u32,
        )
    };
    let year_start = |y: i64| {
        // Back from PostgreSQL's BC numbering to chrono's proleptic years.
        let cy = if y <= 0 { y + 1 } else { y };
        NaiveDate::from_ymd_opt(cy as i32, 1, 1)
    };
    let y = pg_year(d.year());
    let (date, time) = match f {
        Micro => (d, keep(1)?),
        Milli => (d, keep(1000)?),
        Second => (d, keep(USECS_PER_SEC)?),
        Minute => (d, keep(60 * USECS_PER_SEC)?),
        Hour => (d, keep(3600 * USECS_PER_SEC)?),
        Day => (d, NaiveTime::MIN),
        Week => (
            d - chrono::Duration::days(d.weekday().num_days_from_monday() as i64),
            NaiveTime::MIN,
        ),
        Month => (d.with_day(1)?, NaiveTime::MIN),
        Quarter => (
            NaiveDate::from_ymd_opt(d.year(), (d.month() - 1) / 3 * 3 + 1, 1)?,
            NaiveTime::MIN,
        ),
        Year => (year_start(y)?, NaiveTime::MIN),
        Decade => {
            let dy = if y > 0 {
                y - y % 10
            } else {
                -((8 - (y - 1)) / 10) * 10
            };
            (year_start(dy)?, NaiveTime::MIN)
        }
        Century => {
            let cy = if y > 0 {
                (y + 99) / 100 * 100 - 99
            } else {
                -((99 - (y - 1)) / 100) * 100 + 1
            };
            (year_start(cy)?, NaiveTime::MIN)
        }
        Millennium => {
            let my = if y > 0 {
                (y + 999) / 1000 * 1000 - 999
            } else {
                -((999 - (y - 1)) / 1000) * 1000 + 1
            };
            (year_start(my)?, NaiveTime::MIN)
        }
        _ => return None,
    };
    Some(date.and_time(time))
}

fn trunc_interval(f: Field, iv: &Interval) -> Option<Interval> {
    use Field::*;
    let m = iv.months;
    let us = iv.micros;
    let (months, days, micros) = match f {
        Micro => (m, iv.days, us),
        Milli => (m, iv.days, us - us % 1000),
        Second => (m, iv.days, us - us % USECS_PER_SEC),
        Minute => (m, iv.days, us - us % (60 * USECS_PER_SEC)),
        Hour => (m, iv.days, us - us % (3600 * USECS_PER_SEC)),
        Day => (m, iv.days, 0),
        Month => (m, 0, 0),
        Quarter => (m - m % 3, 0, 0),
        Year => (m - m % 12, 0, 0),
        Decade => (m - m % 120, 0, 0),
        Century => (m - m % 1200, 0, 0),
        Millennium => (m - m % 12000, 0, 0),
        _ => return None,
    };
    Some(Interval {
        months,
        days,
        micros,
    })
}

/// date_trunc(field, source). timestamptz is truncated in UTC.
fn f_date_trunc(a: &[Value]) -> Result<Value> {
    let unit = text(&a[0])?.to_lowercase();
    let field = parse_field(&unit);
    let fail = |ty| unit_error(&unit, ty, false);
    match &a[1] {
        Value::Timestamp(ts) => field
            .and_then(|f| trunc_timestamp(f, *ts))
            .map(Value::Timestamp)
            .ok_or_else(|| fail(TS)),
        Value::TimestampTz(ts) => field
            .and_then(|f| trunc_timestamp(f, ts.naive_utc()))
            .map(|t| Value::TimestampTz(t.and_utc()))
            .ok_or_else(|| fail(TZ)),
        Value::Interval(iv) => {
            if field == Some(Field::Week) {
                return Err(unit_error(&unit, IV, true)
                    .with_detail("Months usually have fractional weeks."));
            }
            field
                .and_then(|f| trunc_interval(f, iv))
                .map(Value::Interval)
                .ok_or_else(|| fail(IV))
        }
        Value::Date(d) => field
            .and_then(|f| trunc_timestamp(f, d.and_time(NaiveTime::MIN)))
            .map(|t| Value::TimestampTz(t.and_utc()))
            .ok_or_else(|| fail(TZ)),
        other => Err(bad_arg(other)),
    }
}

fn make_naive_date(y: i64, m: i64, d: i64) -> Result<NaiveDate> {
    let bad = || {
        err(
            "22008",
            format!("date field value out of range: {y}-{m:02}-{d:02}"),
        )
    };
    if y == 0 {
        return Err(bad());
    }
    let cy = if y < 0 { y + 1 } else { y };
    let (cy, m, d) = (
        i32::try_from(cy).map_err(|_| bad())?,
        u32::try_from(m).map_err(|_| bad())?,
        u32::try_from(d).map_err(|_| bad())?,
    );
    NaiveDate::from_ymd_opt(cy, m, d).ok_or_else(bad)
}

fn f_make_date(a: &[Value]) -> Result<Value> {
    Ok(Value::Date(make_naive_date(
        int(&a[0])?,
        int(&a[1])?,
        int(&a[2])?,
    )?))
}

fn f_make_timestamp(a: &[Value]) -> Result<Value> {
    let d = make_naive_date(int(&a[0])?, int(&a[1])?, int(&a[2])?)?;
    let (h, mi, s) = (int(&a[3])?, int(&a[4])?, f8(&a[5])?);
    let bad = || {
        let sec = if s.fract() == 0.0 {
            format!("{:02}", s as i64)
        } else {
            format!("{s}")
        };
        err(
            "22008",
            format!("time field value out of range: {h}:{mi:02}:{sec}"),
        )
    };
    if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0.0..60.0).contains(&s) {
        return Err(bad());
    }
    let us = (s * 1e6).round() as i64;
    let t = NaiveTime::from_hms_opt(h as u32, mi as u32, 0).ok_or_else(bad)?
        + chrono::Duration::microseconds(us);
    Ok(Value::Timestamp(d.and_time(t)))
}

fn timestamp_of(v: &Value) -> Result<NaiveDateTime> {
    match v {
        Value::Timestamp(t) => Ok(*t),
        Value::TimestampTz(t) => Ok(t.naive_utc()),
        Value::Date(d) => Ok(d.and_time(NaiveTime::MIN)),
        other => Err(bad_arg(other)),
    }
}

fn days_in_month(year: i32, month: u32) -> i64 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let first_next = NaiveDate::from_ymd_opt(ny, nm, 1).expect("valid date");
    first_next.pred_opt().expect("valid date").day() as i64
}

/// age(a, b): the symbolic difference in years, months, days and time, as
/// PostgreSQL's timestamp_age computes it.
fn f_age(a: &[Value]) -> Result<Value> {
    let (t1, t2) = (timestamp_of(&a[0])?, timestamp_of(&a[1])?);
    let neg = t1 < t2;
    let sign = if neg { -1 } else { 1 };
    let us1 = micros_of_day(t1.time());
    let us2 = micros_of_day(t2.time());
    let mut fsec = sign * (us1 % USECS_PER_SEC - us2 % USECS_PER_SEC);
    let mut sec = sign * (t1.second() as i64 - t2.second() as i64);
    let mut min = sign * (t1.minute() as i64 - t2.minute() as i64);
    let mut hour = sign * (t1.hour() as i64 - t2.hour() as i64);
    let mut mday = sign * (t1.day() as i64 - t2.day() as i64);
    let mut mon = sign * (t1.month() as i64 - t2.month() as i64);
    let mut year = sign * (t1.year() as i64 - t2.year() as i64);
    while fsec < 0 {
        fsec += USECS_PER_SEC;
        sec -= 1;
    }
    while sec < 0 {
        sec += 60;
        min -= 1;
    }
    while min < 0 {
        min += 60;
        hour -= 1;
    }
    while hour < 0 {
        hour += 24;
        mday -= 1;
    }
    while mday < 0 {
        let base = if neg { t1 } else { t2 };
        mday += days_in_month(base.year(), base.month());
        mon -= 1;
    }
    while mon < 0 {
        mon += 12;
        year -= 1;
    }
    let months = sign * (year * 12 + mon);
    let micros = sign * (((hour * 60 + min) * 60 + sec) * USECS_PER_SEC + fsec);
    Ok(Value::Interval(Interval {
        months: i32::try_from(months).map_err(|_| Error::out_of_range("interval"))?,
        days: (sign * mday) as i32,
        micros,
    }))
}

fn f_to_timestamp(a: &[Value]) -> Result<Value> {
    let x = f8(&a[0])?;
    if x.is_nan() {
        return Err(err("22008", "timestamp cannot be NaN"));
    }
    let out_of_range = || err("22008", format!("timestamp out of range: \"{x}\""));
    if !x.is_finite() || x.abs() > 9.0e12 {
        return Err(out_of_range());
    }
    let us = (x * 1e6).round() as i64;
    chrono::DateTime::from_timestamp_micros(us)
        .map(Value::TimestampTz)
        .ok_or_else(out_of_range)
}

fn interval_arg(v: &Value) -> Result<Interval> {
    match v {
        Value::Interval(iv) => Ok(*iv),
        other => Err(bad_arg(other)),
    }
}

fn justify_days(iv: Interval) -> Result<Interval> {
    let mut months = iv.months as i64 + (iv.days / 30) as i64;
    let mut days = iv.days % 30;
    if days > 0 && months < 0 {
        days -= 30;
        months += 1;
    } else if days < 0 && months > 0 {
        days += 30;
        months -= 1;
    }
    Ok(Interval {
        months: i32::try_from(months).map_err(|_| Error::out_of_range("interval"))?,
        days,
        micros: iv.micros,
    })
}

fn justify_hours(iv: Interval) -> Result<Interval> {
    let mut days = iv.days as i64 + iv.micros / USECS_PER_DAY;
    let mut micros = iv.micros % USECS_PER_DAY;
    if days > 0 && micros < 0 {
        micros += USECS_PER_DAY;
        days -= 1;
    } else if days < 0 && micros > 0 {
        micros -= USECS_PER_DAY;
        days += 1;
    }
    Ok(Interval {
        months: iv.months,
        days: i32::try_from(days).map_err(|_| Error::out_of_range("interval"))?,
        micros,
    })
}

fn f_justify_days(a: &[Value]) -> Result<Value> {
    Ok(Value::Interval(justify_days(interval_arg(&a[0])?)?))
}

fn f_justify_hours(a: &[Value]) -> Result<Value> {
    Ok(Value::Interval(justify_hours(interval_arg(&a[0])?)?))
}

fn f_justify_interval(a: &[Value]) -> Result<Value> {
    let iv = interval_arg(&a[0])?;
    // Move whole days out of the time part first, then whole months out of
    // the days, then fix up mixed signs.
    let mut days = iv.days as i64 + iv.micros / USECS_PER_DAY;
    let mut micros = iv.micros % USECS_PER_DAY;
    let mut months = iv.months as i64 + days / 30;
    days %= 30;
    if months > 0 && (days < 0 || (days == 0 && micros < 0)) {
        days += 30;
        months -= 1;
    } else if months < 0 && (days > 0 || (days == 0 && micros > 0)) {
        days -= 30;
        months += 1;
    }
    if days > 0 && micros < 0 {
        micros += USECS_PER_DAY;
        days -= 1;
    } else if days < 0 && micros > 0 {
        micros -= USECS_PER_DAY;
        days += 1;
    }
    Ok(Value::Interval(Interval {
        months: i32::try_from(months).map_err(|_| Error::out_of_range("interval"))?,
        days: days as i32,
        micros,
    }))
}

#[cfg(test)]
mod tests {
    //! Expected values were checked against PostgreSQL 15.
    use super::*;
    use chrono::NaiveDate;
    use std::str::FromStr;

    /// Converts an argument the way the binder's cast would, for the types
    /// these tests use.
    fn conv(v: Value, ty: DataType) -> Value {
        match (&v, ty) {
            (Value::Null, _) => v,
            (_, DataType::Float8) => Value::Float8(f8(&v).unwrap()),
            (_, DataType::Numeric(_)) => Value::Numeric(num(&v).unwrap()),
            (Value::Int2(_) | Value::Int4(_) | Value::Int8(_), DataType::Int8) => {
                Value::Int8(int(&v).unwrap())
            }
            (Value::Int2(_) | Value::Int4(_), DataType::Int4) => {
                Value::Int4(int(&v).unwrap() as i32)
            }
            (Value::Date(d), DataType::Timestamp) => Value::Timestamp(d.and_time(NaiveTime::MIN)),
            (Value::Date(d), DataType::TimestampTz) => {
                Value::TimestampTz(d.and_time(NaiveTime::MIN).and_utc())
            }
            _ => v,
        }
    }

    fn call(name: &str, args: Vec<Value>) -> Result<Value> {
        let types: Vec<DataType> = args.iter().map(Value::data_type).collect();
        let f = resolve(name, &types)?;
        let args: Vec<Value> = args
            .into_iter()
            .zip(&f.arg_types)
            .map(|(v, t)| conv(v, *t))
            .collect();
        f.invoke(&args)
    }

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn n(s: &str) -> Value {
        Value::Numeric(Decimal::from_str(s).unwrap())
    }

    fn ts(s: &str) -> Value {
        Value::Timestamp(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap())
    }

    fn date(y: i32, m: u32, d: u32) -> Value {
        Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    fn iv(months: i32, days: i32, micros: i64) -> Value {
        Value::Interval(Interval {
            months,
            days,
            micros,
        })
    }

    /// Renders a result for comparison with psql's output.
    fn show(v: Value) -> String {
        match v {
            Value::Null => "NULL".into(),
            Value::Text(s) => s,
            Value::Numeric(d) => d.to_string(),
            Value::Float8(f) => format!("{f}"),
            Value::Int2(i) => i.to_string(),
            Value::Int4(i) => i.to_string(),
            Value::Int8(i) => i.to_string(),
            Value::Bool(b) => (if b { "t" } else { "f" }).into(),
            Value::Timestamp(t) => t.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
            Value::TimestampTz(t) => t.format("%Y-%m-%d %H:%M:%S%.f+00").to_string(),
            Value::Date(d) => d.to_string(),
            Value::Interval(i) => format!("{}m {}d {}us", i.months, i.days, i.micros),
            other => format!("{other:?}"),
        }
    }

    fn check(name: &str, args: Vec<Value>, expected: &str) {
        let got = show(call(name, args.clone()).unwrap_or_else(|e| panic!("{name}{args:?}: {e}")));
        assert_eq!(got, expected, "{name}{args:?}");
    }

    fn check_err(name: &str, args: Vec<Value>, state: &str, msg: &str) {
        match call(name, args.clone()) {
            Ok(v) => panic!("{name}{args:?} returned {v:?}"),
            Err(e) => {
                assert_eq!(e.state.code(), state, "{name}{args:?}: {}", e.message);
                assert_eq!(e.message, msg, "{name}{args:?}");
            }
        }
    }

    #[test]
    fn resolution_picks_postgres_overloads() {
        let r = |name: &str, args: &[DataType]| resolve(name, args).unwrap();
        assert_eq!(r("abs", &[I4]).return_type, I4);
        assert_eq!(r("abs", &[I2]).return_type, I2);
        assert_eq!(r("round", &[I4]).return_type, F8);
        assert_eq!(r("round", &[N]).return_type, N);
        assert_eq!(r("round", &[N, I4]).return_type, N);
        assert_eq!(r("sqrt", &[I4]).arg_types, vec![F8]);
        assert_eq!(r("power", &[I4, I4]).return_type, F8);
        assert_eq!(r("power", &[I4, N]).return_type, N);
        assert_eq!(r("mod", &[I4, I8]).return_type, I8);
        assert_eq!(r("mod", &[I2, I4]).return_type, I4);
        assert_eq!(r("ceil", &[I4]).return_type, F8);
        assert_eq!(r("log", &[I4]).return_type, F8);
        assert_eq!(r("length", &[DataType::Unknown]).arg_types, vec![T]);
        assert_eq!(
            r("length", &[DataType::Varchar(Some(3))]).arg_types,
            vec![T]
        );
        assert_eq!(
            r("date_part", &[DataType::Unknown, TS]).arg_types,
            vec![T, TS]
        );
        assert_eq!(r("date_trunc", &[T, D]).return_type, TZ);
        assert_eq!(r("greatest", &[I4, N]).return_type, N);
        assert_eq!(
            r("greatest", &[I4, DataType::Unknown, I4]).arg_types,
            vec![I4; 3]
        );
        assert!(!r("concat", &[T, I4]).strict);
        assert!(r("random", &[]).volatile);
        assert!(!r("lower", &[T]).volatile);

        let e = resolve("foo", &[I4]).unwrap_err();
        assert_eq!(e.state, SqlState::UNDEFINED_FUNCTION);
        assert_eq!(e.message, "function foo(integer) does not exist");
        assert_eq!(
            e.hint.as_deref(),
            Some("No function matches the given name and argument types. You might need to add explicit type casts.")
        );
        let e = resolve("round", &[F8, I4]).unwrap_err();
        assert_eq!(
            e.message,
            "function round(double precision, integer) does not exist"
        );
        let e = resolve("greatest", &[I4, T]).unwrap_err();
        assert_eq!(e.state, SqlState::DATATYPE_MISMATCH);
        assert_eq!(
            e.message,
            "GREATEST types integer and text cannot be matched"
        );
    }

    #[test]
    fn string_functions() {
        check("lower", vec![t("AbC")], "abc");
        check("upper", vec![t("héllo")], "HÉLLO");
        check("length", vec![t("héllo")], "5");
        check("octet_length", vec![t("é")], "2");
        check("bit_length", vec![t("ab")], "16");
        check(
            "substr",
            vec![t("hello"), Value::Int4(2), Value::Int4(100)],
            "ello",
        );
        check(
            "substr",
            vec![t("hello"), Value::Int4(-5), Value::Int4(7)],
            "h",
        );
        check("substring", vec![t("hello"), Value::Int4(0)], "hello");
        check(
            "substr",
            vec![t("hello"), Value::Int4(-1), Value::Int4(3)],
            "h",
        );
        check_err(
            "substr",
            vec![t("abc"), Value::Int4(1), Value::Int4(-1)],
            "22011",
            "negative substring length not allowed",
        );
        check("strpos", vec![t("héllo"), t("l")], "3");
        check("strpos", vec![t("abc"), t("x")], "0");
        check("replace", vec![t("abcabc"), t("b"), t("XX")], "aXXcaXXc");
        check("btrim", vec![t("xyxtrimyyx"), t("xy")], "trim");
        check("ltrim", vec![t("  a ")], "a ");
        check("rtrim", vec![t("a  ")], "a");
        check("lpad", vec![t("hello"), Value::Int4(3)], "hel");
        check("lpad", vec![t("ab"), Value::Int4(6), t("xyz")], "xyzxab");
        check("rpad", vec![t("hi"), Value::Int4(5), t("xy")], "hixyx");
        check("rpad", vec![t("abc"), Value::Int4(2)], "ab");
        check("left", vec![t("abcde"), Value::Int4(-2)], "abc");
        check("right", vec![t("abcde"), Value::Int4(-2)], "cde");
        check("right", vec![t("abc"), Value::Int4(5)], "abc");
        check("repeat", vec![t("ab"), Value::Int4(3)], "ababab");
        check_err(
            "repeat",
            vec![t("a"), Value::Int4(2_000_000_000)],
            "54000",
            "requested length too large",
        );
        check("reverse", vec![t("abc")], "cba");
        check("concat", vec![t("a"), Value::Null, t("b")], "ab");
        check(
            "concat_ws",
            vec![t(","), t("a"), Value::Null, t("b")],
            "a,b",
        );
        check("concat_ws", vec![Value::Null, t("a")], "NULL");
        check(
            "concat",
            vec![t("a"), Value::Int4(1), Value::Bool(true)],
            "a1t",
        );
        check(
            "concat_ws",
            vec![t("-"), n("1.50"), Value::Int8(2)],
            "1.50-2",
        );
        check(
            "split_part",
            vec![t("abc~@~def~@~ghi"), t("~@~"), Value::Int4(2)],
            "def",
        );
        check("split_part", vec![t("a,b"), t(","), Value::Int4(5)], "");
        check("split_part", vec![t("a,b,c"), t(","), Value::Int4(-1)], "c");
        check("split_part", vec![t("a,b,c"), t(","), Value::Int4(-4)], "");
        check_err(
            "split_part",
            vec![t("a,b"), t(","), Value::Int4(0)],
            "22023",
            "field position must not be zero",
        );
        check(
            "initcap",
            vec![t("hELLO wORLD-foo bar_baz 1st")],
            "Hello World-Foo Bar_Baz 1st",
        );
        check("ascii", vec![t("é")], "233");
        check("chr", vec![Value::Int4(233)], "é");
        check_err(
            "chr",
            vec![Value::Int4(0)],
            "54000",
            "null character not permitted",
        );
        check_err(
            "chr",
            vec![Value::Int4(-1)],
            "54000",
            "character number must be positive",
        );
        check_err(
            "chr",
            vec![Value::Int4(55296)],
            "54000",
            "requested character not valid for encoding: 55296",
        );
        check("md5", vec![t("abc")], "900150983cd24fb0d6963f7d28e17f72");
        check("to_hex", vec![Value::Int4(-1)], "ffffffff");
        check("to_hex", vec![Value::Int8(255)], "ff");
        check("starts_with", vec![t("alphabet"), t("alph")], "t");
        check("quote_ident", vec![t("Foo")], "\"Foo\"");
        check("quote_ident", vec![t("select")], "\"select\"");
        check("quote_ident", vec![t("int")], "\"int\"");
        check("quote_ident", vec![t("abc_1")], "abc_1");
        check("quote_literal", vec![t("a\\b'c")], "E'a\\\\b''c'");
        check("quote_nullable", vec![Value::Null], "NULL");
        check("translate", vec![t("12345"), t("143"), t("ax")], "a2x5");
    }

    #[test]
    fn regexp_functions() {
        check(
            "regexp_replace",
            vec![t("Thomas"), t(".[mN]a."), t("M")],
            "ThM",
        );
        check(
            "regexp_replace",
            vec![t("foobarbaz"), t("b(..)"), t("X\\1Y"), t("g")],
            "fooXarYXazY",
        );
        check(
            "regexp_replace",
            vec![t("ABC abc"), t("b"), t("x"), t("gi")],
            "AxC axc",
        );
        check(
            "regexp_replace",
            vec![t("a.b"), t("."), t("[\\&]")],
            "[a].b",
        );
        check_err(
            "regexp_replace",
            vec![t("a"), t("a"), t("b"), t("z")],
            "22023",
            "invalid regular expression option: \"z\"",
        );
        assert_eq!(
            call("regexp_replace", vec![t("a"), t("("), t("b")])
                .unwrap_err()
                .state
                .code(),
            "2201B"
        );
        check("regexp_like", vec![t("Hello"), t("^h"), t("i")], "t");
        check("regexp_count", vec![t("ababab"), t("ab")], "3");
        check("regexp_substr", vec![t("abc123"), t("[0-9]+")], "123");
    }

    #[test]
    fn math_functions() {
        check("abs", vec![n("-5.50")], "5.50");
        check("abs", vec![Value::Int4(-3)], "3");
        check_err(
            "abs",
            vec![Value::Int4(i32::MIN)],
            "22003",
            "integer out of range",
        );
        check("ceil", vec![Value::Float8(1.2)], "2");
        check("ceil", vec![n("-0.5")], "0");
        check("floor", vec![Value::Float8(-1.5)], "-2");
        check("floor", vec![n("0.5")], "0");
        check("round", vec![n("-2.5")], "-3");
        check("round", vec![n("0.5")], "1");
        check("round", vec![n("-0.4")], "0");
        check("round", vec![Value::Float8(-2.5)], "-2");
        check("round", vec![Value::Float8(2.5)], "2");
        check("round", vec![n("1234.5678"), Value::Int4(-2)], "1200");
        check("round", vec![n("1.5"), Value::Int4(3)], "1.500");
        check("round", vec![n("99.99"), Value::Int4(1)], "100.0");
        check("trunc", vec![n("5.789"), Value::Int4(1)], "5.7");
        check("trunc", vec![n("-0.5")], "0");
        check("trunc", vec![Value::Float8(-5.789)], "-5");
        check("sqrt", vec![Value::Int4(16)], "4");
        check("sqrt", vec![n("2")], "1.414213562373095");
        check("sqrt", vec![n("100")], "10.000000000000000");
        check("sqrt", vec![n("0.0001")], "0.01000000000000000");
        check("sqrt", vec![n("12345.678")], "111.1111065555555");
        check_err(
            "sqrt",
            vec![Value::Float8(-1.0)],
            "2201F",
            "cannot take square root of a negative number",
        );
        check("exp", vec![n("1")], "2.7182818284590452");
        check("exp", vec![n("10")], "22026.465794806717");
        check_err(
            "exp",
            vec![Value::Float8(1000.0)],
            "22003",
            "value out of range: overflow",
        );
        check("ln", vec![n("2.5")], "0.9162907318741551");
        check("ln", vec![n("1.05")], "0.048790164169432003");
        check_err(
            "ln",
            vec![Value::Int4(0)],
            "2201E",
            "cannot take logarithm of zero",
        );
        check_err(
            "ln",
            vec![Value::Int4(-1)],
            "2201E",
            "cannot take logarithm of a negative number",
        );
        check("log", vec![n("100")], "2.0000000000000000");
        check("log", vec![n("1000.5")], "3.0002170929722302");
        check(
            "log",
            vec![Value::Int4(2), Value::Int4(8)],
            "3.0000000000000000",
        );
        check("log", vec![Value::Int4(8)], "0.9030899869919435");
        check("log10", vec![Value::Float8(1000.0)], "3");
        check("power", vec![Value::Int4(2), Value::Int4(10)], "1024");
        check("power", vec![n("2"), n("10")], "1024.0000000000000000");
        check("power", vec![n("10"), n("-2")], "0.0100000000000000");
        check("power", vec![n("1.5"), n("2")], "2.2500000000000000");
        check("power", vec![n("2"), n("0.5")], "1.4142135623730950");
        check_err(
            "power",
            vec![Value::Int4(0), Value::Int4(-1)],
            "2201F",
            "zero raised to a negative power is undefined",
        );
        check_err(
            "power",
            vec![Value::Int4(-1), n("0.5")],
            "2201F",
            "a negative number raised to a non-integer power yields a complex result",
        );
        check("mod", vec![Value::Int4(-7), Value::Int4(3)], "-1");
        check("mod", vec![n("7.5"), n("-2")], "1.5");
        check("mod", vec![n("5.50"), n("2")], "1.50");
        check_err(
            "mod",
            vec![Value::Int4(1), Value::Int4(0)],
            "22012",
            "division by zero",
        );
        check("div", vec![n("9"), n("4")], "2");
        check("div", vec![n("-7.5"), n("2")], "-3");
        check("gcd", vec![Value::Int4(-12), Value::Int4(18)], "6");
        check("gcd", vec![n("12.5"), n("5")], "2.5");
        check("lcm", vec![Value::Int4(-4), Value::Int4(6)], "12");
        check("lcm", vec![Value::Int4(0), Value::Int4(5)], "0");
        check("sign", vec![Value::Float8(-3.0)], "-1");
        check("sign", vec![n("-2.5")], "-1");
        check("degrees", vec![Value::Float8(std::f64::consts::PI)], "180");
        // PostgreSQL prints 3.0000000000000004 here (glibc's cbrt); any
        // correctly rounded neighbour is acceptable.
        let c = f8(&call("cbrt", vec![Value::Int4(27)]).unwrap()).unwrap();
        assert!((c - 3.0).abs() < 1e-15);
        check_err(
            "asin",
            vec![Value::Int4(2)],
            "22003",
            "input is out of range",
        );
        check(
            "width_bucket",
            vec![n("5.35"), n("0.024"), n("10.06"), Value::Int4(5)],
            "3",
        );
        check(
            "width_bucket",
            vec![
                Value::Int4(10),
                Value::Int4(10),
                Value::Int4(0),
                Value::Int4(5),
            ],
            "1",
        );
        check("greatest", vec![Value::Int4(1), n("2.5")], "2.5");
        check("least", vec![Value::Null, Value::Int4(1)], "1");
        check("greatest", vec![t("a"), t("b")], "b");
        check("greatest", vec![Value::Null, Value::Null], "NULL");
        let r = call("random", vec![]).unwrap();
        assert!(matches!(r, Value::Float8(f) if (0.0..1.0).contains(&f)));
        assert!(matches!(
            call("gen_random_uuid", vec![]).unwrap(),
            Value::Uuid(_)
        ));
    }

    #[test]
    fn date_part_and_extract() {
        let x = |f: &str, v: Value, e: &str| check("extract", vec![t(f), v], e);
        x("second", ts("2020-01-01 10:00:01.5"), "1.500000");
        x("epoch", ts("2020-01-01 10:00:01.5"), "1577872801.500000");
        x("millisecond", ts("2020-01-01 10:00:01.5"), "1500.000");
        x("microseconds", ts("2020-01-01 00:00:05.25"), "5250000");
        x("year", ts("2020-01-01 00:00:00"), "2020");
        x(
            "julian",
            ts("2020-01-01 12:00:00"),
            "2458850.50000000000000000000",
        );
        x("epoch", date(2020, 1, 1), "1577836800");
        x("dow", date(2020, 3, 1), "0");
        x("week", date(2021, 1, 1), "53");
        x("isoyear", date(2021, 1, 1), "2020");
        x("doy", ts("2020-12-31 23:59:59.999"), "366");
        x("century", date(2000, 12, 31), "20");
        x("millennium", date(2001, 1, 1), "3");
        x("decade", date(2019, 5, 5), "201");
        x("quarter", date(2020, 8, 1), "3");
        x("epoch", iv(12, 2, 3_250_000), "31730403.250000");
        x("second", iv(0, 0, 3_250_000), "3.250000");
        x("minute", iv(0, 0, -3_900_000_000), "-5");
        x("month", iv(14, 0, 0), "2");
        x("quarter", iv(14, 0, 0), "1");
        x(
            "epoch",
            Value::Time(NaiveTime::from_hms_milli_opt(10, 0, 1, 500).unwrap()),
            "36001.500000",
        );
        check(
            "date_part",
            vec![t("epoch"), ts("2020-01-01 10:00:01.5")],
            "1577872801.5",
        );
        check("date_part", vec![t("hour"), date(2020, 1, 1)], "0");
        check_err(
            "date_part",
            vec![t("foo"), ts("2020-01-01 00:00:00")],
            "22023",
            "unit \"foo\" not recognized for type timestamp without time zone",
        );
        check_err(
            "date_part",
            vec![t("dow"), iv(0, 1, 0)],
            "0A000",
            "unit \"dow\" not supported for type interval",
        );
        check_err(
            "extract",
            vec![t("hour"), date(2020, 1, 1)],
            "0A000",
            "unit \"hour\" not supported for type date",
        );
        check_err(
            "extract",
            vec![t("timezone"), ts("2020-01-01 00:00:00")],
            "0A000",
            "unit \"timezone\" not supported for type timestamp without time zone",
        );
    }

    #[test]
    fn date_trunc_and_construction() {
        let tr = |f: &str, v: Value, e: &str| check("date_trunc", vec![t(f), v], e);
        tr("week", ts("2020-01-01 13:14:15"), "2019-12-30 00:00:00");
        tr("quarter", ts("2020-08-15 01:00:00"), "2020-07-01 00:00:00");
        tr("century", ts("2020-08-15 00:00:00"), "2001-01-01 00:00:00");
        tr("decade", ts("2019-08-15 00:00:00"), "2010-01-01 00:00:00");
        tr(
            "millennium",
            ts("2020-08-15 00:00:00"),
            "2001-01-01 00:00:00",
        );
        tr(
            "milliseconds",
            ts("2020-01-01 00:00:00.123456"),
            "2020-01-01 00:00:00.123",
        );
        tr("hour", iv(0, 3, 20_601_000_000), "0m 3d 18000000000us");
        tr("year", iv(15, 3, 0), "12m 0d 0us");
        tr("day", date(2020, 1, 1), "2020-01-01 00:00:00+00");
        check_err(
            "date_trunc",
            vec![t("dow"), ts("2020-01-01 00:00:00")],
            "22023",
            "unit \"dow\" not recognized for type timestamp without time zone",
        );
        check_err(
            "date_trunc",
            vec![t("week"), iv(0, 1, 0)],
            "0A000",
            "unit \"week\" not supported for type interval",
        );

        check(
            "make_date",
            vec![Value::Int4(-44), Value::Int4(3), Value::Int4(15)],
            "-0043-03-15",
        );
        check_err(
            "make_date",
            vec![Value::Int4(2020), Value::Int4(13), Value::Int4(1)],
            "22008",
            "date field value out of range: 2020-13-01",
        );
        let mt = |h: i32, s: f64| {
            let mut a = vec![Value::Int4(2013), Value::Int4(7), Value::Int4(15)];
            a.extend([Value::Int4(h), Value::Int4(15), Value::Float8(s)]);
            a
        };
        check("make_timestamp", mt(8, 23.5), "2013-07-15 08:15:23.500");
        check_err(
            "make_timestamp",
            mt(25, 0.0),
            "22008",
            "time field value out of range: 25:15:00",
        );
        check_err(
            "make_timestamp",
            mt(1, 61.5),
            "22008",
            "time field value out of range: 1:15:61.5",
        );
        check(
            "to_timestamp",
            vec![Value::Float8(1284352323.5)],
            "2010-09-13 04:32:03.500+00",
        );
        check_err(
            "to_timestamp",
            vec![Value::Float8(f64::NAN)],
            "22008",
            "timestamp cannot be NaN",
        );
        // 43 years 9 mons 27 days
        check(
            "age",
            vec![ts("2001-04-10 00:00:00"), ts("1957-06-13 00:00:00")],
            "525m 27d 0us",
        );
        // 1 mon 14:00:00 and -1 mons -1 days -10:00:00
        check(
            "age",
            vec![ts("2020-03-01 00:00:00"), ts("2020-01-31 10:00:00")],
            "1m 0d 50400000000us",
        );
        check(
            "age",
            vec![ts("2020-01-31 00:00:00"), ts("2020-03-01 10:00:00")],
            "-1m -1d -36000000000us",
        );
        check(
            "age",
            vec![ts("2020-01-01 00:00:00"), ts("2020-01-01 00:00:00.5")],
            "0m 0d -500000us",
        );
        check("justify_days", vec![iv(0, 35, 0)], "1m 5d 0us");
        check(
            "justify_hours",
            vec![iv(0, 0, 27 * 3_600_000_000)],
            "0m 1d 10800000000us",
        );
        check(
            "justify_interval",
            vec![iv(1, 0, -3_600_000_000)],
            "0m 29d 82800000000us",
        );
    }
}
