//! One-dimensional arrays: the array type of each element type (with
//! PostgreSQL's OIDs), array literals (`{1,2,NULL}`) and the binary wire
//! format, ordering, the array operators (`@>`, `<@`, `&&`, `||`) and the
//! array functions (array_length, array_append, array_to_string, ...).

use super::functions::ScalarFunction;
use super::io::{decode_binary, encode_binary, format_text, parse_text, IoContext};
use super::{DataType, Value};
use crate::error::{Error, Result, SqlState};
use std::cmp::Ordering;

/// (element OID, array OID, array type name as in error messages).
const ARRAY_TYPES: &[(u32, u32, &str)] = &[
    (16, 1000, "boolean[]"),
    (17, 1001, "bytea[]"),
    (18, 1002, "\"char\"[]"),
    (19, 1003, "name[]"),
    (20, 1016, "bigint[]"),
    (21, 1005, "smallint[]"),
    (23, 1007, "integer[]"),
    (25, 1009, "text[]"),
    (26, 1028, "oid[]"),
    (700, 1021, "real[]"),
    (701, 1022, "double precision[]"),
    (1042, 1014, "character[]"),
    (1043, 1015, "character varying[]"),
    (1082, 1182, "date[]"),
    (1083, 1183, "time without time zone[]"),
    (1114, 1115, "timestamp without time zone[]"),
    (1184, 1185, "timestamp with time zone[]"),
    (1186, 1187, "interval[]"),
    (1700, 1231, "numeric[]"),
    (2950, 2951, "uuid[]"),
    (114, 199, "json[]"),
    (3802, 3807, "jsonb[]"),
];

/// The OID of the array type whose elements have type OID `elem`.
pub fn array_oid(elem: u32) -> Option<u32> {
    ARRAY_TYPES.iter().find(|t| t.0 == elem).map(|t| t.1)
}

/// The element type OID of the array type OID `array`.
pub fn elem_oid(array: u32) -> Option<u32> {
    ARRAY_TYPES.iter().find(|t| t.1 == array).map(|t| t.0)
}

pub(super) fn array_base_name(elem: u32) -> &'static str {
    ARRAY_TYPES
        .iter()
        .find(|t| t.0 == elem)
        .map(|t| t.2)
        .unwrap_or("anyarray")
}

fn malformed(input: &str, detail: &str) -> Error {
    Error::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!("malformed array literal: \"{input}\""),
    )
    .with_detail(detail)
}

fn multidimensional() -> Error {
    Error::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        "multidimensional arrays are not supported",
    )
}

/// Parses an array literal such as `{1,2,NULL}` or `{"a b",c}` into an
/// array of `elem`. Errors: 22P02 malformed array literal, and the
/// element type's own input errors.
pub fn parse_array(elem: DataType, input: &str, ctx: &IoContext) -> Result<Value> {
    let body = input.trim();
    let Some(rest) = body.strip_prefix('{') else {
        return Err(malformed(
            input,
            "Array value must start with \"{\" or dimension information.",
        ));
    };
    let mut items = Vec::new();
    let mut chars = rest.chars().peekable();
    let skip_ws = |it: &mut std::iter::Peekable<std::str::Chars>| {
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
    };
    skip_ws(&mut chars);
    if chars.peek() == Some(&'}') {
        chars.next();
    } else {
        loop {
            skip_ws(&mut chars);
            let mut text = String::new();
            let mut quoted = false;
            match chars.peek() {
                Some('{') => return Err(multidimensional()),
                Some('"') => {
                    quoted = true;
                    chars.next();
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(c) => text.push(c),
                                None => return Err(malformed(input, "Unexpected end of input.")),
                            },
                            Some(c) => text.push(c),
                            None => return Err(malformed(input, "Unexpected end of input.")),
                        }
                    }
                    skip_ws(&mut chars);
                }
                _ => {
                    let mut trailing_ws = 0;
                    while let Some(&c) = chars.peek() {
                        if c == ',' || c == '}' {
                            break;
                        }
                        if c == '"' || c == '{' {
                            return Err(malformed(input, "Unexpected array element."));
                        }
                        chars.next();
                        if c == '\\' {
                            match chars.next() {
                                Some(e) => text.push(e),
                                None => return Err(malformed(input, "Unexpected end of input.")),
                            }
                            trailing_ws = 0;
                        } else {
                            text.push(c);
                            trailing_ws = if c.is_whitespace() {
                                trailing_ws + 1
                            } else {
                                0
                            };
                        }
                    }
                    let keep = text.chars().count() - trailing_ws;
                    text = text.chars().take(keep).collect();
                    if text.is_empty() {
                        return Err(malformed(input, "Unexpected \",\" character."));
                    }
                }
            }
            if !quoted && text.eq_ignore_ascii_case("null") {
                items.push(Value::Null);
            } else {
                items.push(parse_text(elem, &text, ctx)?);
            }
            match chars.next() {
                Some(',') => continue,
                Some('}') => break,
                _ => return Err(malformed(input, "Unexpected end of input.")),
            }
        }
    }
    if chars.any(|c| !c.is_whitespace()) {
        return Err(malformed(input, "Junk after closing right brace."));
    }
    Ok(Value::Array(items))
}

/// Appends the text form of an array (`{1,NULL,"a b"}`).
pub fn format_array(items: &[Value], ctx: &IoContext, out: &mut String) {
    out.push('{');
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if v.is_null() {
            out.push_str("NULL");
            continue;
        }
        let mut s = String::new();
        format_text(v, ctx, &mut s);
        let needs_quotes = s.is_empty()
            || s.eq_ignore_ascii_case("null")
            || s.chars()
                .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
        if needs_quotes {
            out.push('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str(&s);
        }
    }
    out.push('}');
}

/// PostgreSQL's binary array format: ndim, has-null flag, element OID, then
/// (length, lower bound) per dimension and each element as length + bytes
/// (length -1 for NULL).
pub fn encode_array(items: &[Value], elem: DataType, out: &mut Vec<u8>) -> Result<()> {
    let ndim: i32 = if items.is_empty() { 0 } else { 1 };
    out.extend_from_slice(&ndim.to_be_bytes());
    out.extend_from_slice(&(items.iter().any(Value::is_null) as i32).to_be_bytes());
    out.extend_from_slice(&elem.oid().to_be_bytes());
    if ndim == 1 {
        out.extend_from_slice(&(items.len() as i32).to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
    }
    for v in items {
        if v.is_null() {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            continue;
        }
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        encode_binary(v, elem, out)?;
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

fn binary_format_err() -> Error {
    Error::new(
        SqlState::INVALID_BINARY_REPRESENTATION,
        "incorrect binary data format",
    )
}

/// Decodes the binary array format for an array of `elem`. Errors: 22P03.
pub fn decode_array(elem: DataType, bytes: &[u8]) -> Result<Value> {
    let mut pos = 0;
    let next_i32 = |pos: &mut usize| -> Result<i32> {
        let b = bytes.get(*pos..*pos + 4).ok_or_else(binary_format_err)?;
        *pos += 4;
        Ok(i32::from_be_bytes(
            b.try_into().map_err(|_| binary_format_err())?,
        ))
    };
    let ndim = next_i32(&mut pos)?;
    let _flags = next_i32(&mut pos)?;
    let oid = next_i32(&mut pos)? as u32;
    if oid != elem.oid() {
        return Err(Error::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "binary data has array element type {oid} instead of expected {}",
                elem.oid()
            ),
        ));
    }
    let count = match ndim {
        0 => 0,
        1 => {
            let n = next_i32(&mut pos)?;
            let _lower = next_i32(&mut pos)?;
            usize::try_from(n).map_err(|_| binary_format_err())?
        }
        n if n > 1 => return Err(multidimensional()),
        _ => return Err(binary_format_err()),
    };
    let mut items = Vec::with_capacity(count.min(bytes.len() / 4));
    for _ in 0..count {
        let len = next_i32(&mut pos)?;
        if len == -1 {
            items.push(Value::Null);
            continue;
        }
        let len = usize::try_from(len).map_err(|_| binary_format_err())?;
        let start = pos;
        let data = bytes
            .get(start..start + len)
            .ok_or_else(binary_format_err)?;
        pos += len;
        items.push(decode_binary(elem, data)?);
    }
    if pos != bytes.len() {
        return Err(binary_format_err());
    }
    Ok(Value::Array(items))
}

/// PostgreSQL's array ordering: element by element (NULL elements equal to
/// each other and above any value), then the shorter array first.
pub fn cmp_arrays(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = x.total_cmp(y);
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

fn contains_all(haystack: &[Value], needles: &[Value]) -> bool {
    // PostgreSQL: a NULL element never matches anything.
    needles.iter().all(|n| {
        !n.is_null()
            && haystack
                .iter()
                .any(|h| h.sql_cmp(n) == Some(Ordering::Equal))
    })
}

/// `a @> b`: every element of b occurs in a.
pub fn array_contains(a: &[Value], b: &[Value]) -> bool {
    contains_all(a, b)
}

/// `a && b`: the arrays share an element.
pub fn array_overlaps(a: &[Value], b: &[Value]) -> bool {
    a.iter()
        .any(|x| !x.is_null() && b.iter().any(|y| x.sql_cmp(y) == Some(Ordering::Equal)))
}

fn items(v: &Value) -> Result<&[Value]> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(Error::internal(format!("expected an array, got {other:?}"))),
    }
}

fn dim_arg(v: &Value) -> Result<i64> {
    v.as_i64()
        .ok_or_else(|| Error::internal("array dimension must be an integer"))
}

fn f_array_length(a: &[Value]) -> Result<Value> {
    let items = items(&a[0])?;
    Ok(if dim_arg(&a[1])? == 1 && !items.is_empty() {
        Value::Int4(items.len() as i32)
    } else {
        Value::Null
    })
}

fn f_array_lower(a: &[Value]) -> Result<Value> {
    let items = items(&a[0])?;
    Ok(if dim_arg(&a[1])? == 1 && !items.is_empty() {
        Value::Int4(1)
    } else {
        Value::Null
    })
}

fn f_array_ndims(a: &[Value]) -> Result<Value> {
    Ok(if items(&a[0])?.is_empty() {
        Value::Null
    } else {
        Value::Int4(1)
    })
}

fn f_array_dims(a: &[Value]) -> Result<Value> {
    let items = items(&a[0])?;
    Ok(if items.is_empty() {
        Value::Null
    } else {
        Value::Text(format!("[1:{}]", items.len()))
    })
}

fn f_cardinality(a: &[Value]) -> Result<Value> {
    Ok(Value::Int4(items(&a[0])?.len() as i32))
}

fn f_array_position(a: &[Value]) -> Result<Value> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    let items = items(&a[0])?;
    let start = match a.get(2) {
        Some(Value::Null) => return Ok(Value::Null),
        Some(v) => dim_arg(v)?.max(1) as usize,
        None => 1,
    };
    for (i, v) in items.iter().enumerate().skip(start - 1) {
        let hit = match (&a[1], v) {
            (Value::Null, Value::Null) => true,
            (Value::Null, _) | (_, Value::Null) => false,
            (x, y) => x.sql_cmp(y) == Some(Ordering::Equal),
        };
        if hit {
            return Ok(Value::Int4(i as i32 + 1));
        }
    }
    Ok(Value::Null)
}

fn f_array_positions(a: &[Value]) -> Result<Value> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    let found = items(&a[0])?
        .iter()
        .enumerate()
        .filter(|(_, v)| match (&a[1], v) {
            (Value::Null, Value::Null) => true,
            (Value::Null, _) | (_, Value::Null) => false,
            (x, y) => x.sql_cmp(y) == Some(Ordering::Equal),
        })
        .map(|(i, _)| Value::Int4(i as i32 + 1))
        .collect();
    Ok(Value::Array(found))
}

fn f_array_append(a: &[Value]) -> Result<Value> {
    let mut out = match &a[0] {
        Value::Null => Vec::new(),
        v => items(v)?.to_vec(),
    };
    out.push(a[1].clone());
    Ok(Value::Array(out))
}

fn f_array_prepend(a: &[Value]) -> Result<Value> {
    let mut out = vec![a[0].clone()];
    if !a[1].is_null() {
        out.extend_from_slice(items(&a[1])?);
    }
    Ok(Value::Array(out))
}

fn f_array_cat(a: &[Value]) -> Result<Value> {
    match (&a[0], &a[1]) {
        (Value::Null, Value::Null) => Ok(Value::Null),
        (Value::Null, v) | (v, Value::Null) => Ok(v.clone()),
        (x, y) => {
            let mut out = items(x)?.to_vec();
            out.extend_from_slice(items(y)?);
            Ok(Value::Array(out))
        }
    }
}

fn f_array_remove(a: &[Value]) -> Result<Value> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    let kept = items(&a[0])?
        .iter()
        .filter(|v| match (&a[1], v) {
            (Value::Null, Value::Null) => false,
            (Value::Null, _) | (_, Value::Null) => true,
            (x, y) => x.sql_cmp(y) != Some(Ordering::Equal),
        })
        .cloned()
        .collect();
    Ok(Value::Array(kept))
}

fn f_array_replace(a: &[Value]) -> Result<Value> {
    if a[0].is_null() {
        return Ok(Value::Null);
    }
    let out = items(&a[0])?
        .iter()
        .map(|v| {
            let hit = match (&a[1], v) {
                (Value::Null, Value::Null) => true,
                (Value::Null, _) | (_, Value::Null) => false,
                (x, y) => x.sql_cmp(y) == Some(Ordering::Equal),
            };
            if hit {
                a[2].clone()
            } else {
                v.clone()
            }
        })
        .collect();
    Ok(Value::Array(out))
}

fn f_array_to_string(a: &[Value]) -> Result<Value> {
    if a[0].is_null() || a[1].is_null() {
        return Ok(Value::Null);
    }
    let delim = a[1].as_str().unwrap_or_default();
    let null_text = a.get(2).and_then(|v| v.as_str());
    let ctx = IoContext::default();
    let mut out = String::new();
    let mut first = true;
    for v in items(&a[0])? {
        let piece = match v {
            Value::Null => match null_text {
                Some(t) => t.to_string(),
                None => continue,
            },
            v => {
                let mut s = String::new();
                format_text(v, &ctx, &mut s);
                s
            }
        };
        if !first {
            out.push_str(delim);
        }
        first = false;
        out.push_str(&piece);
    }
    Ok(Value::Text(out))
}

fn f_string_to_array(a: &[Value]) -> Result<Value> {
    let Value::Text(s) = &a[0] else {
        return Ok(Value::Null);
    };
    let null_text = a.get(2).and_then(|v| v.as_str());
    let to_value = |piece: &str| {
        if null_text == Some(piece) {
            Value::Null
        } else {
            Value::Text(piece.to_string())
        }
    };
    if s.is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let parts: Vec<Value> = match &a[1] {
        Value::Null => s.chars().map(|c| to_value(&c.to_string())).collect(),
        Value::Text(d) if d.is_empty() => vec![to_value(s)],
        Value::Text(d) => s.split(d.as_str()).map(to_value).collect(),
        _ => return Err(Error::internal("string_to_array delimiter must be text")),
    };
    Ok(Value::Array(parts))
}

fn f_trim_array(a: &[Value]) -> Result<Value> {
    let items = items(&a[0])?;
    let n = dim_arg(&a[1])?;
    if n < 0 || n as usize > items.len() {
        return Err(Error::new(
            SqlState::ARRAY_SUBSCRIPT_ERROR,
            "number of elements to trim must be between 0 and ".to_string()
                + &items.len().to_string(),
        ));
    }
    Ok(Value::Array(items[..items.len() - n as usize].to_vec()))
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

/// The array type for polymorphic arguments (anyarray, anyelement): from
/// the array argument, else from the element argument.
fn poly_array(array_arg: DataType, elem_arg: DataType) -> Option<DataType> {
    match (array_arg, elem_arg) {
        (a @ DataType::Array(_), _) => Some(a.without_modifier()),
        (DataType::Unknown, DataType::Unknown) => DataType::Text.array_of(),
        (DataType::Unknown, e) => e.without_modifier().array_of(),
        _ => None,
    }
}

/// Resolves the array functions; `None` when `name` is not one of them.
pub fn resolve(name: &str, arg_types: &[DataType]) -> Option<Result<ScalarFunction>> {
    type Eval = fn(&[Value]) -> Result<Value>;
    let make = |args: Vec<DataType>, ret: DataType, strict: bool, eval: Eval, n: &'static str| {
        Ok(ScalarFunction {
            name: n,
            arg_types: args,
            return_type: ret,
            strict,
            volatile: false,
            eval,
        })
    };
    let fail = || Some(Err(no_function(name, arg_types)));
    let first_array = || arg_types.first().copied().filter(DataType::is_array);
    let i4 = DataType::Int4;
    let text = DataType::Text;
    let text_array = DataType::Text.array_of()?;
    let r = match (name, arg_types.len()) {
        ("array_length" | "array_upper" | "array_lower", 2) => {
            let Some(at) = first_array() else {
                return fail();
            };
            let eval: Eval = if name == "array_lower" {
                f_array_lower
            } else {
                f_array_length
            };
            let n = match name {
                "array_length" => "array_length",
                "array_upper" => "array_upper",
                _ => "array_lower",
            };
            make(vec![at, i4], i4, true, eval, n)
        }
        ("array_ndims" | "array_dims" | "cardinality", 1) => {
            let Some(at) = first_array() else {
                return fail();
            };
            match name {
                "array_ndims" => make(vec![at], i4, true, f_array_ndims, "array_ndims"),
                "array_dims" => make(vec![at], text, true, f_array_dims, "array_dims"),
                _ => make(vec![at], i4, true, f_cardinality, "cardinality"),
            }
        }
        ("array_position" | "array_positions", 2 | 3) => {
            let Some(at) = first_array() else {
                return fail();
            };
            let elem = at.elem()?;
            let mut args = vec![at, elem];
            if arg_types.len() == 3 {
                if name == "array_positions" {
                    return fail();
                }
                args.push(i4);
            }
            if name == "array_position" {
                make(args, i4, false, f_array_position, "array_position")
            } else {
                make(
                    args,
                    i4.array_of()?,
                    false,
                    f_array_positions,
                    "array_positions",
                )
            }
        }
        ("array_append" | "array_remove", 2) => {
            let Some(at) = poly_array(arg_types[0], arg_types[1]) else {
                return fail();
            };
            let elem = at.elem()?;
            if name == "array_append" {
                make(vec![at, elem], at, false, f_array_append, "array_append")
            } else {
                make(vec![at, elem], at, false, f_array_remove, "array_remove")
            }
        }
        ("array_replace", 3) => {
            let Some(at) = poly_array(arg_types[0], arg_types[1]) else {
                return fail();
            };
            let elem = at.elem()?;
            make(
                vec![at, elem, elem],
                at,
                false,
                f_array_replace,
                "array_replace",
            )
        }
        ("array_prepend", 2) => {
            let Some(at) = poly_array(arg_types[1], arg_types[0]) else {
                return fail();
            };
            let elem = at.elem()?;
            make(vec![elem, at], at, false, f_array_prepend, "array_prepend")
        }
        ("array_cat", 2) => {
            let at = match (arg_types[0], arg_types[1]) {
                (a @ DataType::Array(_), DataType::Array(_) | DataType::Unknown)
                | (DataType::Unknown, a @ DataType::Array(_)) => a.without_modifier(),
                _ => return fail(),
            };
            make(vec![at, at], at, false, f_array_cat, "array_cat")
        }
        ("array_to_string", 2 | 3) => {
            let Some(at) = first_array() else {
                return fail();
            };
            let mut args = vec![at, text];
            if arg_types.len() == 3 {
                args.push(text);
            }
            make(args, text, false, f_array_to_string, "array_to_string")
        }
        ("string_to_array", 2 | 3) => {
            if !arg_types
                .iter()
                .all(|t| t.is_string() || *t == DataType::Unknown)
            {
                return fail();
            }
            make(
                vec![text; arg_types.len()],
                text_array,
                false,
                f_string_to_array,
                "string_to_array",
            )
        }
        ("trim_array", 2) => {
            let Some(at) = first_array() else {
                return fail();
            };
            make(vec![at, i4], at, true, f_trim_array, "trim_array")
        }
        _ => return None,
    };
    Some(r)
}

/// The element at 1-based `index`, NULL when out of range.
pub fn subscript(items: &[Value], index: i64) -> Value {
    if index < 1 {
        return Value::Null;
    }
    items
        .get(index as usize - 1)
        .cloned()
        .unwrap_or(Value::Null)
}

/// The slice `[lower:upper]` (1-based, inclusive, clamped).
pub fn slice(items: &[Value], lower: Option<i64>, upper: Option<i64>) -> Value {
    let lo = lower.unwrap_or(1).max(1);
    let hi = upper.unwrap_or(items.len() as i64).min(items.len() as i64);
    if lo > hi {
        return Value::Array(Vec::new());
    }
    Value::Array(items[(lo - 1) as usize..hi as usize].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> IoContext {
        IoContext::default()
    }

    fn roundtrip_text(elem: DataType, input: &str) -> String {
        let v = parse_array(elem, input, &ctx()).unwrap();
        let Value::Array(items) = v else { panic!() };
        let mut s = String::new();
        format_array(&items, &ctx(), &mut s);
        s
    }

    #[test]
    fn text_literals_match_postgres() {
        assert_eq!(roundtrip_text(DataType::Int4, "{1, 2 ,NULL}"), "{1,2,NULL}");
        assert_eq!(roundtrip_text(DataType::Int4, " { } "), "{}");
        assert_eq!(
            roundtrip_text(DataType::Text, r#"{a b,"c,d","","null",NULL,"x\"y",  z  }"#),
            r#"{"a b","c,d","","null",NULL,"x\"y",z}"#
        );
        assert_eq!(roundtrip_text(DataType::Bool, "{true,f}"), "{t,f}");
        let e = parse_array(DataType::Int4, "1,2", &ctx()).unwrap_err();
        assert_eq!(e.state.code(), "22P02");
        let e = parse_array(DataType::Int4, "{1,x}", &ctx()).unwrap_err();
        assert_eq!(e.message, "invalid input syntax for type integer: \"x\"");
        let e = parse_array(DataType::Int4, "{1,2", &ctx()).unwrap_err();
        assert_eq!(e.state.code(), "22P02");
        let e = parse_array(DataType::Int4, "{1,,2}", &ctx()).unwrap_err();
        assert_eq!(e.state.code(), "22P02");
        let e = parse_array(DataType::Int4, "{{1},{2}}", &ctx()).unwrap_err();
        assert_eq!(e.state.code(), "0A000");
    }

    #[test]
    fn binary_roundtrip() {
        let v = vec![Value::Int4(1), Value::Null, Value::Int4(-3)];
        let mut buf = Vec::new();
        encode_array(&v, DataType::Int4, &mut buf).unwrap();
        assert_eq!(&buf[..12], &[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 23]);
        let Value::Array(back) = decode_array(DataType::Int4, &buf).unwrap() else {
            panic!()
        };
        assert_eq!(back, v);
        let mut empty = Vec::new();
        encode_array(&[], DataType::Text, &mut empty).unwrap();
        assert_eq!(empty, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25]);
        assert!(decode_array(DataType::Int8, &buf).is_err());
    }

    #[test]
    fn array_type_oids() {
        let int4_array = DataType::Int4.array_of().unwrap();
        assert_eq!(int4_array.oid(), 1007);
        assert_eq!(DataType::from_oid(1009), DataType::Text.array_of());
        assert_eq!(int4_array.elem(), Some(DataType::Int4));
        let vc = DataType::Varchar(Some(5)).array_of().unwrap();
        assert_eq!(vc.elem(), Some(DataType::Varchar(Some(5))));
        assert_eq!(vc.sql_name(), "character varying(5)[]");
        assert_eq!(int4_array.base_name(), "integer[]");
    }
}
