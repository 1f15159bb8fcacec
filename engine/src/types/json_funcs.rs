//! Functions, operators and casts of `json` and `jsonb`.
//!
//! Operators are bound to the functions PostgreSQL implements them with
//! (`->` is `jsonb_object_field` or `jsonb_array_element`, `@>` is
//! `jsonb_contains`, ...), so they go through ordinary function calls.
//! The aggregates are built on `array_agg`: `jsonb_agg(x)` is
//! `to_jsonb(array_agg(x))`, and `json_agg`/`jsonb_object_agg` finish the
//! collected array with the functions here.

use super::functions::ScalarFunction;
use super::io::{format_text, IoContext};
use super::json::{self, canonical_number, escape_string, Jsonb, Node, NodeKind};
use super::{DataType, ElemType, Value};
use crate::error::{Error, Result, SqlState};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

const J: DataType = DataType::Jsonb;
const JS: DataType = DataType::Json;
const T: DataType = DataType::Text;
const I4: DataType = DataType::Int4;
const B: DataType = DataType::Bool;
const TA: DataType = DataType::Array(ElemType {
    oid: 25,
    typmod: -1,
});

type Eval = fn(&[Value]) -> Result<Value>;

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

fn invalid_param(msg: impl Into<String>) -> Error {
    Error::new(SqlState::INVALID_PARAMETER_VALUE, msg)
}

/// Whether an argument of type `arg` can be passed for a parameter of
/// type `param` (exact, untyped literal, or an implicit string/integer
/// conversion).
fn fits(arg: DataType, param: DataType) -> bool {
    if arg == DataType::Unknown || arg.without_modifier() == param {
        return true;
    }
    match param {
        DataType::Text => arg.is_string(),
        DataType::Int4 => matches!(arg, DataType::Int2 | DataType::Int4),
        DataType::Array(_) => arg
            .elem()
            .is_some_and(|e| e.is_string() || e == DataType::Unknown),
        _ => false,
    }
}

/// Any-typed argument: an untyped literal is text.
fn any(t: DataType) -> DataType {
    if t == DataType::Unknown {
        T
    } else {
        t
    }
}

/// Resolves the json/jsonb functions; `None` when `name` is not one.
pub fn resolve(name: &str, arg_types: &[DataType]) -> Option<Result<ScalarFunction>> {
    let fixed: Option<(&'static str, Vec<DataType>, DataType, Eval)> = match name {
        "jsonb_typeof" => Some(("jsonb_typeof", vec![J], T, f_jsonb_typeof)),
        "json_typeof" => Some(("json_typeof", vec![JS], T, f_json_typeof)),
        "jsonb_array_length" => Some(("jsonb_array_length", vec![J], I4, f_jsonb_array_length)),
        "json_array_length" => Some(("json_array_length", vec![JS], I4, f_json_array_length)),
        "jsonb_strip_nulls" => Some(("jsonb_strip_nulls", vec![J], J, f_jsonb_strip_nulls)),
        "jsonb_pretty" => Some(("jsonb_pretty", vec![J], T, f_jsonb_pretty)),
        "jsonb_object_field" => Some(("jsonb_object_field", vec![J, T], J, f_jsonb_field)),
        "jsonb_object_field_text" => {
            Some(("jsonb_object_field_text", vec![J, T], T, f_jsonb_field_text))
        }
        "jsonb_array_element" => Some(("jsonb_array_element", vec![J, I4], J, f_jsonb_element)),
        "jsonb_array_element_text" => Some((
            "jsonb_array_element_text",
            vec![J, I4],
            T,
            f_jsonb_element_text,
        )),
        "jsonb_extract_path_op" => Some(("jsonb_extract_path_op", vec![J, TA], J, f_jsonb_path)),
        "jsonb_extract_path_text_op" => Some((
            "jsonb_extract_path_text_op",
            vec![J, TA],
            T,
            f_jsonb_path_text,
        )),
        "json_object_field" => Some(("json_object_field", vec![JS, T], JS, f_json_field)),
        "json_object_field_text" => {
            Some(("json_object_field_text", vec![JS, T], T, f_json_field_text))
        }
        "json_array_element" => Some(("json_array_element", vec![JS, I4], JS, f_json_element)),
        "json_array_element_text" => Some((
            "json_array_element_text",
            vec![JS, I4],
            T,
            f_json_element_text,
        )),
        "json_extract_path_op" => Some(("json_extract_path_op", vec![JS, TA], JS, f_json_path)),
        "json_extract_path_text_op" => Some((
            "json_extract_path_text_op",
            vec![JS, TA],
            T,
            f_json_path_text,
        )),
        "jsonb_contains" => Some(("jsonb_contains", vec![J, J], B, f_jsonb_contains)),
        "jsonb_contained" => Some(("jsonb_contained", vec![J, J], B, f_jsonb_contained)),
        "jsonb_exists" => Some(("jsonb_exists", vec![J, T], B, f_jsonb_exists)),
        "jsonb_exists_any" => Some(("jsonb_exists_any", vec![J, TA], B, f_jsonb_exists_any)),
        "jsonb_exists_all" => Some(("jsonb_exists_all", vec![J, TA], B, f_jsonb_exists_all)),
        "jsonb_concat" => Some(("jsonb_concat", vec![J, J], J, f_jsonb_concat)),
        "jsonb_delete" => Some(match arg_types.get(1) {
            Some(t) if t.is_integer() => ("jsonb_delete", vec![J, I4], J, f_jsonb_delete_index),
            Some(t) if t.is_array() => ("jsonb_delete", vec![J, TA], J, f_jsonb_delete_keys),
            _ => ("jsonb_delete", vec![J, T], J, f_jsonb_delete_key),
        }),
        "jsonb_delete_path" => Some(("jsonb_delete_path", vec![J, TA], J, f_jsonb_delete_path)),
        "jsonb_set" if arg_types.len() == 4 => {
            Some(("jsonb_set", vec![J, TA, J, B], J, f_jsonb_set))
        }
        "jsonb_set" => Some(("jsonb_set", vec![J, TA, J], J, f_jsonb_set)),
        "json_agg_final" => Some(("json_agg_final", vec![any_array()], JS, f_json_agg_final)),
        "jsonb_object_agg_final" => Some((
            "jsonb_object_agg_final",
            vec![J.array_of()?],
            J,
            f_jsonb_object_agg_final,
        )),
        _ => None,
    };
    if let Some((n, params, ret, eval)) = fixed {
        if params.len() != arg_types.len()
            || !arg_types
                .iter()
                .zip(&params)
                .all(|(a, p)| fits(*a, *p) || (n == "json_agg_final" && a.is_array()))
        {
            return Some(Err(no_function(name, arg_types)));
        }
        let params = if n == "json_agg_final" {
            arg_types.to_vec()
        } else {
            params
        };
        return Some(Ok(make(n, params, ret, true, eval)));
    }
    let variadic: (&'static str, Vec<DataType>, DataType, bool, Eval) = match name {
        "jsonb_build_object" | "json_build_object" => {
            if !arg_types.len().is_multiple_of(2) {
                return Some(
                    Err(invalid_param(
                        "argument list must have even number of elements",
                    ))
                    .map_err(|e| {
                        e.with_hint(format!(
                        "The arguments of {name}() must consist of alternating keys and values."
                    ))
                    }),
                );
            }
            let args = arg_types.iter().copied().map(any).collect();
            if name == "jsonb_build_object" {
                ("jsonb_build_object", args, J, false, f_jsonb_build_object)
            } else {
                ("json_build_object", args, JS, false, f_json_build_object)
            }
        }
        "jsonb_build_array" | "json_build_array" => {
            let args = arg_types.iter().copied().map(any).collect();
            if name == "jsonb_build_array" {
                ("jsonb_build_array", args, J, false, f_jsonb_build_array)
            } else {
                ("json_build_array", args, JS, false, f_json_build_array)
            }
        }
        "to_jsonb" | "to_json" if arg_types.len() == 1 => {
            let args = vec![any(arg_types[0])];
            if name == "to_jsonb" {
                ("to_jsonb", args, J, true, f_to_jsonb)
            } else {
                ("to_json", args, JS, true, f_to_json)
            }
        }
        "jsonb_object_agg_pair" if arg_types.len() == 2 => (
            "jsonb_object_agg_pair",
            arg_types.iter().copied().map(any).collect(),
            J,
            false,
            f_jsonb_object_agg_pair,
        ),
        "jsonb_extract_path"
        | "jsonb_extract_path_text"
        | "json_extract_path"
        | "json_extract_path_text"
            if arg_types.len() >= 2 =>
        {
            let base = if name.starts_with("jsonb") { J } else { JS };
            if !fits(arg_types[0], base) || !arg_types[1..].iter().all(|t| fits(*t, T)) {
                return Some(Err(no_function(name, arg_types)));
            }
            let mut args = vec![base];
            args.extend(std::iter::repeat_n(T, arg_types.len() - 1));
            match name {
                "jsonb_extract_path" => ("jsonb_extract_path", args, J, true, f_jsonb_path_var),
                "jsonb_extract_path_text" => (
                    "jsonb_extract_path_text",
                    args,
                    T,
                    true,
                    f_jsonb_path_text_var,
                ),
                "json_extract_path" => ("json_extract_path", args, JS, true, f_json_path_var),
                _ => (
                    "json_extract_path_text",
                    args,
                    T,
                    true,
                    f_json_path_text_var,
                ),
            }
        }
        _ => return None,
    };
    let (n, args, ret, strict, eval) = variadic;
    Some(Ok(make(n, args, ret, strict, eval)))
}

fn any_array() -> DataType {
    TA
}

fn make(
    name: &'static str,
    args: Vec<DataType>,
    ret: DataType,
    strict: bool,
    eval: Eval,
) -> ScalarFunction {
    ScalarFunction {
        name,
        arg_types: args,
        return_type: ret,
        strict,
        volatile: false,
        eval,
    }
}

/// The name of the function implementing a json operator for operand
/// types `left` and `right` (`->`, `->>`, `#>`, `#>>`, `@>`, `<@`, `?`,
/// `?|`, `?&`, `||`, `-`, `#-`); `None` when the operands are not json.
pub fn operator_function(op: &str, left: DataType, right: DataType) -> Option<&'static str> {
    let is_json = |t: DataType| matches!(t, DataType::Json | DataType::Jsonb);
    let unknown = DataType::Unknown;
    let jsonb = left == J || (left == unknown && right == J);
    let json_family = |t: DataType| t == J || t == unknown;
    Some(match op {
        "->" | "->>" | "#>" | "#>>" => {
            let text = op.ends_with(">>");
            let path = op.starts_with('#');
            let int = right.is_integer();
            match (left, path, int, text) {
                (J, false, false, false) => "jsonb_object_field",
                (J, false, false, true) => "jsonb_object_field_text",
                (J, false, true, false) => "jsonb_array_element",
                (J, false, true, true) => "jsonb_array_element_text",
                (J, true, _, false) => "jsonb_extract_path_op",
                (J, true, _, true) => "jsonb_extract_path_text_op",
                (JS, false, false, false) => "json_object_field",
                (JS, false, false, true) => "json_object_field_text",
                (JS, false, true, false) => "json_array_element",
                (JS, false, true, true) => "json_array_element_text",
                (JS, true, _, false) => "json_extract_path_op",
                (JS, true, _, true) => "json_extract_path_text_op",
                _ => return None,
            }
        }
        "@>" if jsonb || (right == J && left == unknown) => "jsonb_contains",
        "<@" if jsonb || (right == J && left == unknown) => "jsonb_contained",
        "?" if json_family(left) && left != unknown => "jsonb_exists",
        "?|" if left == J => "jsonb_exists_any",
        "?&" if left == J => "jsonb_exists_all",
        "||" if (json_family(left) && json_family(right)) && (left == J || right == J) => {
            "jsonb_concat"
        }
        "-" if left == J => "jsonb_delete",
        "#-" if left == J => "jsonb_delete_path",
        _ if is_json(left) || is_json(right) => return None,
        _ => return None,
    })
}

fn jsonb_arg(v: &Value) -> &Jsonb {
    match v {
        Value::Jsonb(j) => j,
        _ => &Jsonb::Null,
    }
}

fn text_arg(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn jsonb_value(j: Jsonb) -> Value {
    Value::Jsonb(Box::new(j))
}

fn opt_jsonb(j: Option<&Jsonb>) -> Value {
    j.map(|j| jsonb_value(j.clone())).unwrap_or(Value::Null)
}

/// `->>` result: strings unquoted, JSON null is SQL NULL.
fn jsonb_as_text(j: Option<&Jsonb>) -> Value {
    match j {
        None | Some(Jsonb::Null) => Value::Null,
        Some(Jsonb::String(s)) => Value::Text(s.clone()),
        Some(other) => Value::Text(other.to_text()),
    }
}

fn array_index<T>(items: &[T], i: i64) -> Option<&T> {
    let idx = if i < 0 { items.len() as i64 + i } else { i };
    usize::try_from(idx).ok().and_then(|i| items.get(i))
}

fn jsonb_element(j: &Jsonb, i: i64) -> Option<&Jsonb> {
    match j {
        Jsonb::Array(items) => array_index(items, i),
        _ => None,
    }
}

fn text_items(v: &Value) -> Vec<Option<String>> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn jsonb_path<'a>(j: &'a Jsonb, path: &[Option<String>]) -> Option<&'a Jsonb> {
    let mut cur = j;
    for step in path {
        let step = step.as_deref()?;
        cur = match cur {
            Jsonb::Object(_) => cur.get(step)?,
            Jsonb::Array(items) => array_index(items, step.trim().parse::<i64>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn f_jsonb_typeof(a: &[Value]) -> Result<Value> {
    Ok(Value::Text(jsonb_arg(&a[0]).type_name().into()))
}

fn f_jsonb_array_length(a: &[Value]) -> Result<Value> {
    match jsonb_arg(&a[0]) {
        Jsonb::Array(items) => Ok(Value::Int4(items.len() as i32)),
        Jsonb::Object(_) => Err(invalid_param("cannot get array length of a non-array")),
        _ => Err(invalid_param("cannot get array length of a scalar")),
    }
}

fn strip_nulls(j: &Jsonb) -> Jsonb {
    match j {
        Jsonb::Object(pairs) => Jsonb::Object(
            pairs
                .iter()
                .filter(|(_, v)| !matches!(v, Jsonb::Null))
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Jsonb::Array(items) => Jsonb::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

fn f_jsonb_strip_nulls(a: &[Value]) -> Result<Value> {
    Ok(jsonb_value(strip_nulls(jsonb_arg(&a[0]))))
}

fn f_jsonb_pretty(a: &[Value]) -> Result<Value> {
    let mut out = String::new();
    jsonb_arg(&a[0]).write_pretty(0, &mut out);
    Ok(Value::Text(out))
}

fn f_jsonb_field(a: &[Value]) -> Result<Value> {
    Ok(opt_jsonb(jsonb_arg(&a[0]).get(text_arg(&a[1]))))
}

fn f_jsonb_field_text(a: &[Value]) -> Result<Value> {
    Ok(jsonb_as_text(jsonb_arg(&a[0]).get(text_arg(&a[1]))))
}

fn f_jsonb_element(a: &[Value]) -> Result<Value> {
    let i = a[1].as_i64().unwrap_or_default();
    Ok(opt_jsonb(jsonb_element(jsonb_arg(&a[0]), i)))
}

fn f_jsonb_element_text(a: &[Value]) -> Result<Value> {
    let i = a[1].as_i64().unwrap_or_default();
    Ok(jsonb_as_text(jsonb_element(jsonb_arg(&a[0]), i)))
}

fn f_jsonb_path(a: &[Value]) -> Result<Value> {
    Ok(opt_jsonb(jsonb_path(jsonb_arg(&a[0]), &text_items(&a[1]))))
}

fn f_jsonb_path_text(a: &[Value]) -> Result<Value> {
    Ok(jsonb_as_text(jsonb_path(
        jsonb_arg(&a[0]),
        &text_items(&a[1]),
    )))
}

fn variadic_path(a: &[Value]) -> Vec<Option<String>> {
    a[1..]
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn f_jsonb_path_var(a: &[Value]) -> Result<Value> {
    Ok(opt_jsonb(jsonb_path(jsonb_arg(&a[0]), &variadic_path(a))))
}

fn f_jsonb_path_text_var(a: &[Value]) -> Result<Value> {
    Ok(jsonb_as_text(jsonb_path(
        jsonb_arg(&a[0]),
        &variadic_path(a),
    )))
}

fn f_jsonb_contains(a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(json::contains(
        jsonb_arg(&a[0]),
        jsonb_arg(&a[1]),
    )))
}

fn f_jsonb_contained(a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(json::contains(
        jsonb_arg(&a[1]),
        jsonb_arg(&a[0]),
    )))
}

fn key_exists(j: &Jsonb, key: &str) -> bool {
    match j {
        Jsonb::Object(_) => j.get(key).is_some(),
        Jsonb::Array(items) => items
            .iter()
            .any(|i| matches!(i, Jsonb::String(s) if s == key)),
        Jsonb::String(s) => s == key,
        _ => false,
    }
}

fn f_jsonb_exists(a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(key_exists(jsonb_arg(&a[0]), text_arg(&a[1]))))
}

fn f_jsonb_exists_any(a: &[Value]) -> Result<Value> {
    let j = jsonb_arg(&a[0]);
    Ok(Value::Bool(
        text_items(&a[1]).iter().flatten().any(|k| key_exists(j, k)),
    ))
}

fn f_jsonb_exists_all(a: &[Value]) -> Result<Value> {
    let j = jsonb_arg(&a[0]);
    Ok(Value::Bool(
        text_items(&a[1]).iter().flatten().all(|k| key_exists(j, k)),
    ))
}

fn f_jsonb_concat(a: &[Value]) -> Result<Value> {
    let (l, r) = (jsonb_arg(&a[0]), jsonb_arg(&a[1]));
    Ok(jsonb_value(match (l, r) {
        (Jsonb::Object(x), Jsonb::Object(y)) => {
            Jsonb::object(x.iter().chain(y.iter()).cloned().collect())
        }
        (Jsonb::Array(x), Jsonb::Array(y)) => Jsonb::Array(x.iter().chain(y).cloned().collect()),
        (Jsonb::Array(x), other) => {
            let mut items = x.clone();
            items.push(other.clone());
            Jsonb::Array(items)
        }
        (other, Jsonb::Array(y)) => {
            let mut items = vec![other.clone()];
            items.extend(y.iter().cloned());
            Jsonb::Array(items)
        }
        (x, y) => Jsonb::Array(vec![x.clone(), y.clone()]),
    }))
}

fn cannot_delete_scalar() -> Error {
    invalid_param("cannot delete from scalar")
}

fn delete_keys(j: &Jsonb, keys: &[&str]) -> Result<Jsonb> {
    Ok(match j {
        Jsonb::Object(pairs) => Jsonb::Object(
            pairs
                .iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .cloned()
                .collect(),
        ),
        Jsonb::Array(items) => Jsonb::Array(
            items
                .iter()
                .filter(|i| !matches!(i, Jsonb::String(s) if keys.contains(&s.as_str())))
                .cloned()
                .collect(),
        ),
        _ => return Err(cannot_delete_scalar()),
    })
}

fn f_jsonb_delete_key(a: &[Value]) -> Result<Value> {
    delete_keys(jsonb_arg(&a[0]), &[text_arg(&a[1])]).map(jsonb_value)
}

fn f_jsonb_delete_keys(a: &[Value]) -> Result<Value> {
    let keys = text_items(&a[1]);
    let keys: Vec<&str> = keys.iter().flatten().map(String::as_str).collect();
    delete_keys(jsonb_arg(&a[0]), &keys).map(jsonb_value)
}

fn f_jsonb_delete_index(a: &[Value]) -> Result<Value> {
    let i = a[1].as_i64().unwrap_or_default();
    match jsonb_arg(&a[0]) {
        Jsonb::Array(items) => {
            let idx = if i < 0 { items.len() as i64 + i } else { i };
            Ok(jsonb_value(Jsonb::Array(
                items
                    .iter()
                    .enumerate()
                    .filter(|(n, _)| *n as i64 != idx)
                    .map(|(_, v)| v.clone())
                    .collect(),
            )))
        }
        Jsonb::Object(_) => Err(invalid_param(
            "cannot delete from object using integer index",
        )),
        _ => Err(cannot_delete_scalar()),
    }
}

fn path_index(step: &str, len: usize, pos: usize) -> Result<Option<i64>> {
    let i: i64 = step.trim().parse().map_err(|_| {
        Error::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("path element at position {pos} is not an integer: \"{step}\""),
        )
    })?;
    let idx = if i < 0 { len as i64 + i } else { i };
    Ok(Some(idx))
}

fn delete_path(j: &mut Jsonb, path: &[String], pos: usize) -> Result<()> {
    let Some((step, rest)) = path.split_first() else {
        return Ok(());
    };
    match j {
        Jsonb::Object(pairs) => {
            if let Ok(i) = pairs.binary_search_by(|(k, _)| json::key_cmp(k, step)) {
                if rest.is_empty() {
                    pairs.remove(i);
                } else {
                    delete_path(&mut pairs[i].1, rest, pos + 1)?;
                }
            }
        }
        Jsonb::Array(items) => {
            if let Some(idx) = path_index(step, items.len(), pos)? {
                if idx >= 0 && (idx as usize) < items.len() {
                    if rest.is_empty() {
                        items.remove(idx as usize);
                    } else {
                        delete_path(&mut items[idx as usize], rest, pos + 1)?;
                    }
                }
            }
        }
        _ if pos == 1 => return Err(invalid_param("cannot delete path in scalar")),
        _ => {}
    }
    Ok(())
}

fn non_null_path(v: &Value, what: &str) -> Result<Vec<String>> {
    text_items(v)
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            s.ok_or_else(|| {
                Error::new(
                    SqlState::NULL_VALUE_NOT_ALLOWED,
                    format!("path element at position {} is null", i + 1),
                )
                .with_detail(what.to_string())
            })
        })
        .collect()
}

fn f_jsonb_delete_path(a: &[Value]) -> Result<Value> {
    let mut j = jsonb_arg(&a[0]).clone();
    if j.is_scalar() {
        return Err(invalid_param("cannot delete path in scalar"));
    }
    let path = non_null_path(&a[1], "")?;
    delete_path(&mut j, &path, 1)?;
    Ok(jsonb_value(j))
}

fn set_path(j: &mut Jsonb, path: &[String], new: &Jsonb, create: bool, pos: usize) -> Result<()> {
    let Some((step, rest)) = path.split_first() else {
        return Ok(());
    };
    match j {
        Jsonb::Object(pairs) => match pairs.binary_search_by(|(k, _)| json::key_cmp(k, step)) {
            Ok(i) if rest.is_empty() => pairs[i].1 = new.clone(),
            Ok(i) => set_path(&mut pairs[i].1, rest, new, create, pos + 1)?,
            Err(i) if rest.is_empty() && create => pairs.insert(i, (step.clone(), new.clone())),
            Err(_) => {}
        },
        Jsonb::Array(items) => {
            let len = items.len();
            let Some(idx) = path_index(step, len, pos)? else {
                return Ok(());
            };
            if idx >= 0 && (idx as usize) < len {
                if rest.is_empty() {
                    items[idx as usize] = new.clone();
                } else {
                    set_path(&mut items[idx as usize], rest, new, create, pos + 1)?;
                }
            } else if rest.is_empty() && create {
                if idx < 0 {
                    items.insert(0, new.clone());
                } else {
                    items.push(new.clone());
                }
            }
        }
        _ if pos == 1 => return Err(invalid_param("cannot set path in scalar")),
        _ => {}
    }
    Ok(())
}

fn f_jsonb_set(a: &[Value]) -> Result<Value> {
    let mut j = jsonb_arg(&a[0]).clone();
    let path = non_null_path(&a[1], "")?;
    let create = a.get(3).and_then(Value::as_bool).unwrap_or(true);
    if j.is_scalar() {
        return Err(invalid_param("cannot set path in scalar"));
    }
    set_path(&mut j, &path, jsonb_arg(&a[2]), create, 1)?;
    Ok(jsonb_value(j))
}

/// A SQL value as jsonb, as `to_jsonb` converts it.
pub fn value_to_jsonb(v: &Value) -> Result<Jsonb> {
    let ctx = IoContext::default();
    Ok(match v {
        Value::Null => Jsonb::Null,
        Value::Bool(b) => Jsonb::Bool(*b),
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Oid(_) | Value::Numeric(_) => {
            let mut s = String::new();
            format_text(v, &ctx, &mut s);
            Jsonb::Number(canonical_number(&s)?)
        }
        Value::Float4(_) | Value::Float8(_) => {
            let mut s = String::new();
            format_text(v, &ctx, &mut s);
            match canonical_number(&s) {
                Ok(n) if s != "NaN" && !s.ends_with("Infinity") => Jsonb::Number(n),
                _ => Jsonb::String(s),
            }
        }
        Value::Jsonb(j) => (**j).clone(),
        Value::Json(s) => json::parse_jsonb(s)?,
        Value::Array(items) => {
            Jsonb::Array(items.iter().map(value_to_jsonb).collect::<Result<_>>()?)
        }
        Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_) => {
            Jsonb::String(iso_datetime(v, &ctx))
        }
        other => {
            let mut s = String::new();
            format_text(other, &ctx, &mut s);
            Jsonb::String(s)
        }
    })
}

/// Dates and timestamps in json are ISO 8601 (`T` between date and time,
/// offsets as `+hh:mm`).
fn iso_datetime(v: &Value, ctx: &IoContext) -> String {
    let mut s = String::new();
    format_text(v, ctx, &mut s);
    if matches!(v, Value::Timestamp(_) | Value::TimestampTz(_)) {
        s = s.replacen(' ', "T", 1);
    }
    if let Value::TimestampTz(_) = v {
        // "+00" -> "+00:00"
        if let Some(p) = s.rfind(['+', '-']) {
            if s.len() - p == 3 {
                s.push_str(":00");
            }
        }
    }
    s
}

/// A SQL value as json text, as `to_json` writes it (arrays without
/// spaces, json values verbatim).
pub fn write_json_value(v: &Value, out: &mut String) -> Result<()> {
    let ctx = IoContext::default();
    match v {
        Value::Null => out.push_str("null"),
        Value::Json(s) => out.push_str(s),
        Value::Jsonb(j) => j.write(out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_value(item, out)?;
            }
            out.push(']');
        }
        Value::Text(s) => escape_string(s, out),
        Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_) => {
            escape_string(&iso_datetime(v, &ctx), out)
        }
        Value::Bool(_)
        | Value::Int2(_)
        | Value::Int4(_)
        | Value::Int8(_)
        | Value::Oid(_)
        | Value::Numeric(_)
        | Value::Float4(_)
        | Value::Float8(_) => match value_to_jsonb(v)? {
            Jsonb::String(s) => escape_string(&s, out),
            _ => format_text(v, &ctx, out),
        },
        other => {
            let mut s = String::new();
            format_text(other, &ctx, &mut s);
            escape_string(&s, out);
        }
    }
    Ok(())
}

fn f_to_jsonb(a: &[Value]) -> Result<Value> {
    value_to_jsonb(&a[0]).map(jsonb_value)
}

fn f_to_json(a: &[Value]) -> Result<Value> {
    let mut out = String::new();
    write_json_value(&a[0], &mut out)?;
    Ok(Value::Json(out))
}

fn key_text(v: &Value, pos: usize) -> Result<String> {
    match v {
        Value::Null => Err(invalid_param(format!(
            "argument {pos}: key must not be null"
        ))),
        Value::Text(s) => Ok(s.clone()),
        other => match value_to_jsonb(other)? {
            Jsonb::String(s) => Ok(s),
            Jsonb::Number(n) => Ok(n),
            Jsonb::Bool(b) => Ok(b.to_string()),
            j @ (Jsonb::Array(_) | Jsonb::Object(_)) => {
                let _ = j;
                Err(invalid_param(
                    "key value must be scalar, not array, composite, or json",
                ))
            }
            Jsonb::Null => Ok("null".into()),
        },
    }
}

fn f_jsonb_build_object(a: &[Value]) -> Result<Value> {
    let mut pairs = Vec::with_capacity(a.len() / 2);
    for (i, kv) in a.chunks(2).enumerate() {
        pairs.push((key_text(&kv[0], i * 2 + 1)?, value_to_jsonb(&kv[1])?));
    }
    Ok(jsonb_value(Jsonb::object(pairs)))
}

fn f_json_build_object(a: &[Value]) -> Result<Value> {
    let mut out = String::from("{");
    for (i, kv) in a.chunks(2).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        escape_string(&key_text(&kv[0], i * 2 + 1)?, &mut out);
        out.push_str(" : ");
        write_json_value(&kv[1], &mut out)?;
    }
    out.push('}');
    Ok(Value::Json(out))
}

fn f_jsonb_build_array(a: &[Value]) -> Result<Value> {
    Ok(jsonb_value(Jsonb::Array(
        a.iter().map(value_to_jsonb).collect::<Result<_>>()?,
    )))
}

fn f_json_build_array(a: &[Value]) -> Result<Value> {
    let mut out = String::from("[");
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_json_value(v, &mut out)?;
    }
    out.push(']');
    Ok(Value::Json(out))
}

fn f_json_agg_final(a: &[Value]) -> Result<Value> {
    let Value::Array(items) = &a[0] else {
        return Ok(Value::Null);
    };
    f_json_build_array(items)
}

fn f_jsonb_object_agg_pair(a: &[Value]) -> Result<Value> {
    if a[0].is_null() {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "field name must not be null",
        ));
    }
    let key = key_text(&a[0], 1)?;
    Ok(jsonb_value(Jsonb::Array(vec![
        Jsonb::String(key),
        value_to_jsonb(&a[1])?,
    ])))
}

fn f_jsonb_object_agg_final(a: &[Value]) -> Result<Value> {
    let Value::Array(items) = &a[0] else {
        return Ok(Value::Null);
    };
    let mut pairs = Vec::with_capacity(items.len());
    for item in items {
        if let Value::Jsonb(j) = item {
            if let Jsonb::Array(kv) = &**j {
                if let [Jsonb::String(k), v] = kv.as_slice() {
                    pairs.push((k.clone(), v.clone()));
                }
            }
        }
    }
    Ok(jsonb_value(Jsonb::object(pairs)))
}

// json (text) functions: parsed on each call, results sliced verbatim
// from the input as PostgreSQL does.

fn json_node(v: &Value) -> Result<(Node, &str)> {
    let src = match v {
        Value::Json(s) | Value::Text(s) => s.as_str(),
        _ => "null",
    };
    Ok((json::parse_node(src)?, src))
}

fn node_field<'a>(n: &'a Node, key: &str) -> Option<&'a Node> {
    match &n.kind {
        NodeKind::Object(pairs) => pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

fn node_element(n: &Node, i: i64) -> Option<&Node> {
    match &n.kind {
        NodeKind::Array(items) => array_index(items, i),
        _ => None,
    }
}

fn node_path<'a>(n: &'a Node, path: &[Option<String>]) -> Option<&'a Node> {
    let mut cur = n;
    for step in path {
        let step = step.as_deref()?;
        cur = match &cur.kind {
            NodeKind::Object(_) => node_field(cur, step)?,
            NodeKind::Array(_) => node_element(cur, step.trim().parse().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn node_json(n: Option<&Node>, src: &str) -> Value {
    n.map(|n| Value::Json(src[n.start..n.end].to_string()))
        .unwrap_or(Value::Null)
}

fn node_text(n: Option<&Node>, src: &str) -> Value {
    match n.map(|n| (n, &n.kind)) {
        None | Some((_, NodeKind::Null)) => Value::Null,
        Some((_, NodeKind::String(s))) => Value::Text(s.clone()),
        Some((n, _)) => Value::Text(src[n.start..n.end].to_string()),
    }
}

fn f_json_typeof(a: &[Value]) -> Result<Value> {
    let (n, _) = json_node(&a[0])?;
    Ok(Value::Text(
        match n.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "boolean",
            NodeKind::Number => "number",
            NodeKind::String(_) => "string",
            NodeKind::Array(_) => "array",
            NodeKind::Object(_) => "object",
        }
        .into(),
    ))
}

fn f_json_array_length(a: &[Value]) -> Result<Value> {
    let (n, _) = json_node(&a[0])?;
    match n.kind {
        NodeKind::Array(items) => Ok(Value::Int4(items.len() as i32)),
        NodeKind::Object(_) => Err(invalid_param("cannot get array length of a non-array")),
        _ => Err(invalid_param("cannot get array length of a scalar")),
    }
}

fn f_json_field(a: &[Value]) -> Result<Value> {
    let (n, src) = json_node(&a[0])?;
    Ok(node_json(node_field(&n, text_arg(&a[1])), src))
}

fn f_json_field_text(a: &[Value]) -> Result<Value> {
    let (n, src) = json_node(&a[0])?;
    Ok(node_text(node_field(&n, text_arg(&a[1])), src))
}

fn f_json_element(a: &[Value]) -> Result<Value> {
    let (n, src) = json_node(&a[0])?;
    Ok(node_json(
        node_element(&n, a[1].as_i64().unwrap_or_default()),
        src,
    ))
}

fn f_json_element_text(a: &[Value]) -> Result<Value> {
    let (n, src) = json_node(&a[0])?;
    Ok(node_text(
        node_element(&n, a[1].as_i64().unwrap_or_default()),
        src,
    ))
}

fn f_json_path(a: &[Value]) -> Result<Value> {
    let (n, src) = json_node(&a[0])?;
    Ok(node_json(node_path(&n, &text_items(&a[1])), src))
}

fn f_json_path_text(a: &[Value]) -> Result<Value> {
    let (n, src) = json_node(&a[0])?;
    Ok(node_text(node_path(&n, &text_items(&a[1])), src))
}

fn f_json_path_var(a: &[Value]) -> Result<Value> {
    let (n, src) = json_node(&a[0])?;
    Ok(node_json(node_path(&n, &variadic_path(a)), src))
}

fn f_json_path_text_var(a: &[Value]) -> Result<Value> {
    let (n, src) = json_node(&a[0])?;
    Ok(node_text(node_path(&n, &variadic_path(a)), src))
}

/// The members a set-returning json function produces, one value each.
pub fn set_members(func: &str, arg: &Value) -> Result<Vec<Value>> {
    let j = match arg {
        Value::Null => return Ok(Vec::new()),
        Value::Json(_) => return json_set_members(func, arg),
        other => jsonb_arg(other).clone(),
    };
    let json_out = func.starts_with("json_");
    let as_json = |v: Jsonb| {
        if json_out {
            Value::Json(v.to_text())
        } else {
            jsonb_value(v)
        }
    };
    let short = func
        .trim_start_matches("jsonb_")
        .trim_start_matches("json_");
    match short {
        "array_elements" | "array_elements_text" => {
            let items = match j {
                Jsonb::Array(items) => items,
                Jsonb::Object(_) => {
                    return Err(invalid_param("cannot extract elements from an object"))
                }
                _ => return Err(invalid_param("cannot extract elements from a scalar")),
            };
            Ok(if short == "array_elements" {
                items.into_iter().map(as_json).collect()
            } else {
                items.iter().map(|i| jsonb_as_text(Some(i))).collect()
            })
        }
        _ => match j {
            Jsonb::Object(pairs) => Ok(pairs.into_iter().map(|(k, _)| Value::Text(k)).collect()),
            Jsonb::Array(_) => Err(invalid_param(format!("cannot call {func} on an array"))),
            _ => Err(invalid_param(format!("cannot call {func} on a scalar"))),
        },
    }
}

/// `json_array_elements(_text)` and `json_object_keys`: members sliced
/// verbatim from the input, keys in input order.
fn json_set_members(func: &str, arg: &Value) -> Result<Vec<Value>> {
    let (n, src) = json_node(arg)?;
    match (func, &n.kind) {
        ("json_array_elements", NodeKind::Array(items)) => {
            Ok(items.iter().map(|i| node_json(Some(i), src)).collect())
        }
        ("json_array_elements_text", NodeKind::Array(items)) => {
            Ok(items.iter().map(|i| node_text(Some(i), src)).collect())
        }
        ("json_object_keys", NodeKind::Object(pairs)) => {
            Ok(pairs.iter().map(|(k, _)| Value::Text(k.clone())).collect())
        }
        ("json_object_keys", NodeKind::Array(_)) => {
            Err(invalid_param(format!("cannot call {func} on an array")))
        }
        ("json_object_keys", _) => Err(invalid_param(format!("cannot call {func} on a scalar"))),
        (_, NodeKind::Object(_)) => Err(invalid_param("cannot extract elements from an object")),
        _ => Err(invalid_param("cannot extract elements from a scalar")),
    }
}

/// The set-returning json functions and the type of the column each
/// produces.
pub fn set_function(name: &str) -> Option<(&'static str, DataType, DataType)> {
    Some(match name {
        "jsonb_array_elements" => ("jsonb_array_elements", J, J),
        "jsonb_array_elements_text" => ("jsonb_array_elements_text", J, T),
        "jsonb_object_keys" => ("jsonb_object_keys", J, T),
        "json_array_elements" => ("json_array_elements", JS, JS),
        "json_array_elements_text" => ("json_array_elements_text", JS, T),
        "json_object_keys" => ("json_object_keys", JS, T),
        _ => return None,
    })
}

fn cannot_cast(j: &Jsonb, target: DataType) -> Error {
    Error::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!(
            "cannot cast jsonb {} to type {}",
            j.type_name(),
            target.base_name()
        ),
    )
}

fn number_to_decimal(n: &str) -> Result<Decimal> {
    Decimal::from_str(n)
        .or_else(|_| Decimal::from_scientific(n))
        .map_err(|_| {
            Error::new(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                "numeric field overflow",
            )
        })
}

/// Casts to or from json/jsonb; `None` when neither side is json.
pub fn cast(value: &Value, target: DataType) -> Option<Result<Value>> {
    let to = target.without_modifier();
    Some(match (value, to) {
        (Value::Text(s), DataType::Jsonb) => json::parse_jsonb(s).map(jsonb_value),
        (Value::Text(s), DataType::Json) => json::validate_json(s).map(|_| Value::Json(s.clone())),
        (Value::Json(s), DataType::Jsonb) => json::parse_jsonb(s).map(jsonb_value),
        (Value::Json(s), DataType::Json) => Ok(Value::Json(s.clone())),
        (Value::Jsonb(j), DataType::Jsonb) => Ok(Value::Jsonb(j.clone())),
        (Value::Jsonb(j), DataType::Json) => Ok(Value::Json(j.to_text())),
        (Value::Json(s), t) if t.is_string() => {
            return Some(super::cast::cast(Value::Text(s.clone()), target))
        }
        (Value::Jsonb(j), t) if t.is_string() => {
            return Some(super::cast::cast(Value::Text(j.to_text()), target))
        }
        (Value::Jsonb(j), DataType::Bool) => match &**j {
            Jsonb::Bool(b) => Ok(Value::Bool(*b)),
            other => Err(cannot_cast(other, to)),
        },
        (Value::Jsonb(j), t) if t.is_numeric() && t != DataType::Oid => match &**j {
            Jsonb::Number(n) => number_to_decimal(n).and_then(|d| {
                let d = if t.is_integer() {
                    d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
                } else {
                    d
                };
                match t {
                    DataType::Float8 => Ok(Value::Float8(d.to_f64().unwrap_or(f64::NAN))),
                    DataType::Float4 => Ok(Value::Float4(d.to_f32().unwrap_or(f32::NAN))),
                    _ => super::cast::cast(Value::Numeric(d), target),
                }
            }),
            other => Err(cannot_cast(other, to)),
        },
        (Value::Json(_) | Value::Jsonb(_), _) | (_, DataType::Json | DataType::Jsonb) => {
            Err(Error::new(
                SqlState("42846"),
                format!(
                    "cannot cast type {} to {}",
                    value.data_type().base_name(),
                    target.base_name()
                ),
            ))
        }
        _ => return None,
    })
}

/// The two-column set-returning json functions (`key text`, `value`): the
/// input type and the value column's type.
pub fn each_function(name: &str) -> Option<(&'static str, DataType, DataType)> {
    Some(match name {
        "jsonb_each" => ("jsonb_each", J, J),
        "jsonb_each_text" => ("jsonb_each_text", J, T),
        "json_each" => ("json_each", JS, JS),
        "json_each_text" => ("json_each_text", JS, T),
        _ => return None,
    })
}

/// `jsonb_each(_text)` and `json_each(_text)`: one (key, value) row per
/// member of an object; json keeps the input's members verbatim, in input
/// order, duplicates included.
pub fn each_rows(func: &str, arg: &Value) -> Result<Vec<Vec<Value>>> {
    let as_text = func.ends_with("_text");
    if let Value::Json(_) = arg {
        let (n, src) = json_node(arg)?;
        return match &n.kind {
            NodeKind::Object(pairs) => Ok(pairs
                .iter()
                .map(|(k, v)| {
                    let value = if as_text {
                        node_text(Some(v), src)
                    } else {
                        node_json(Some(v), src)
                    };
                    vec![Value::Text(k.clone()), value]
                })
                .collect()),
            NodeKind::Array(_) => Err(invalid_param("cannot deconstruct an array as an object")),
            _ => Err(invalid_param("cannot deconstruct a scalar")),
        };
    }
    if arg.is_null() {
        return Ok(Vec::new());
    }
    match jsonb_arg(arg).clone() {
        Jsonb::Object(pairs) => Ok(pairs
            .into_iter()
            .map(|(k, v)| {
                let value = if as_text {
                    jsonb_as_text(Some(&v))
                } else {
                    jsonb_value(v)
                };
                vec![Value::Text(k), value]
            })
            .collect()),
        _ => Err(invalid_param(format!("cannot call {func} on a non-object"))),
    }
}
