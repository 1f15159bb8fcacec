//! The `json` and `jsonb` types as PostgreSQL has them.
//!
//! `json` values are kept as their validated input text (PostgreSQL keeps
//! it verbatim); `jsonb` values are parsed into [`Jsonb`], normalized the
//! way PostgreSQL normalizes them: object keys de-duplicated (the last one
//! wins) and ordered shorter-first then bytewise, numbers kept as exact
//! decimal text in PostgreSQL's `numeric` form (`1e2` is `100`, `1.50`
//! stays `1.50`), so no precision is lost whatever the magnitude.
//!
//! The parser is a small strict JSON (RFC 8259) parser of its own, because
//! it has to keep numbers exact and record where each value starts and ends
//! in the input (the json operators return those slices verbatim).
//!
//! Functions and operators live in `json_funcs`.

use crate::error::{Error, Result, SqlState};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt::Write;

/// A jsonb value.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Jsonb {
    Null,
    Bool(bool),
    /// Exact decimal text in PostgreSQL numeric output form.
    Number(String),
    String(String),
    Array(Vec<Jsonb>),
    /// Pairs ordered by [`key_cmp`], keys unique.
    Object(Vec<(String, Jsonb)>),
}

/// A parsed json value with the byte range it covers in the input.
pub struct Node {
    pub start: usize,
    pub end: usize,
    pub kind: NodeKind,
}

pub enum NodeKind {
    Null,
    Bool(bool),
    Number,
    String(String),
    Array(Vec<Node>),
    /// Pairs in input order, duplicates kept.
    Object(Vec<(String, Node)>),
}

/// Deepest nesting accepted, as a guard against stack exhaustion.
const MAX_DEPTH: usize = 2000;
/// Longest decimal text a number may expand to (PostgreSQL's numeric
/// allows 131072 digits before the point and 16383 after).
const MAX_NUMBER_LEN: usize = 150_000;

pub fn invalid_json(detail: impl Into<String>) -> Error {
    Error::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        "invalid input syntax for type json",
    )
    .with_detail(detail)
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The token starting at the current position, for error details.
    fn token(&self) -> String {
        let rest = &self.src[self.pos..];
        let mut end = 0;
        for (i, c) in rest.char_indices() {
            if i > 0 && !c.is_alphanumeric() {
                break;
            }
            end = i + c.len_utf8();
            if !c.is_alphanumeric() {
                break;
            }
        }
        rest[..end].to_string()
    }

    fn unexpected(&self, expected: &str) -> Error {
        if self.pos >= self.bytes.len() {
            return invalid_json("The input string ended unexpectedly.");
        }
        let tok = self.token();
        if expected.is_empty() {
            invalid_json(format!("Token \"{tok}\" is invalid."))
        } else {
            invalid_json(format!("Expected {expected}, but found \"{tok}\"."))
        }
    }

    fn value(&mut self) -> Result<Node> {
        self.skip_ws();
        let start = self.pos;
        let kind = match self.bytes.get(self.pos) {
            None => return Err(self.unexpected("")),
            Some(b'{') => {
                self.enter()?;
                self.pos += 1;
                let mut pairs = Vec::new();
                self.skip_ws();
                if self.bytes.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.skip_ws();
                        if self.bytes.get(self.pos) != Some(&b'"') {
                            return Err(self.unexpected("string"));
                        }
                        let key = self.string()?;
                        self.skip_ws();
                        if self.bytes.get(self.pos) != Some(&b':') {
                            return Err(self.unexpected("\":\""));
                        }
                        self.pos += 1;
                        let v = self.value()?;
                        pairs.push((key, v));
                        self.skip_ws();
                        match self.bytes.get(self.pos) {
                            Some(b',') => self.pos += 1,
                            Some(b'}') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.unexpected("\",\" or \"}\"")),
                        }
                    }
                }
                self.depth -= 1;
                NodeKind::Object(pairs)
            }
            Some(b'[') => {
                self.enter()?;
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.bytes.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.skip_ws();
                        match self.bytes.get(self.pos) {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.unexpected("\",\" or \"]\"")),
                        }
                    }
                }
                self.depth -= 1;
                NodeKind::Array(items)
            }
            Some(b'"') => NodeKind::String(self.string()?),
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                NodeKind::Number
            }
            Some(_) => {
                let tok = self.token();
                self.pos += tok.len();
                match tok.as_str() {
                    "true" => NodeKind::Bool(true),
                    "false" => NodeKind::Bool(false),
                    "null" => NodeKind::Null,
                    _ => {
                        self.pos = start;
                        return Err(self.unexpected(""));
                    }
                }
            }
        };
        Ok(Node {
            start,
            end: self.pos,
            kind,
        })
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::new(SqlState("54001"), "stack depth limit exceeded"));
        }
        Ok(())
    }

    fn number(&mut self) -> Result<()> {
        let start = self.pos;
        let b = self.bytes;
        let digits = |p: &mut usize| {
            let s = *p;
            while b.get(*p).is_some_and(u8::is_ascii_digit) {
                *p += 1;
            }
            *p - s
        };
        let mut p = self.pos;
        if b.get(p) == Some(&b'-') {
            p += 1;
        }
        let ok = match b.get(p) {
            Some(b'0') => {
                p += 1;
                true
            }
            Some(b'1'..=b'9') => {
                digits(&mut p);
                true
            }
            _ => false,
        };
        let mut ok = ok;
        if ok && b.get(p) == Some(&b'.') {
            p += 1;
            ok = digits(&mut p) > 0;
        }
        if ok && matches!(b.get(p), Some(b'e' | b'E')) {
            p += 1;
            if matches!(b.get(p), Some(b'+' | b'-')) {
                p += 1;
            }
            ok = digits(&mut p) > 0;
        }
        // A number must end at a delimiter ("01" and "1x" are invalid).
        if ok
            && b.get(p)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.')
        {
            ok = false;
        }
        if !ok {
            self.pos = start;
            return Err(self.unexpected(""));
        }
        self.pos = p;
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32> {
        let h = self
            .src
            .get(self.pos..self.pos + 4)
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .ok_or_else(|| invalid_json("\"\\u\" must be followed by four hexadecimal digits."))?;
        self.pos += 4;
        Ok(u32::from_str_radix(h, 16).unwrap_or(0))
    }

    fn string(&mut self) -> Result<String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(&c) = self.bytes.get(self.pos) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.src[run_start..self.pos]);
            match self.bytes.get(self.pos) {
                None => return Err(invalid_json("The input string ended unexpectedly.")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.bytes.get(self.pos).copied();
                    self.pos += 1;
                    match c {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                if self.src.get(self.pos..self.pos + 2) != Some("\\u") {
                                    return Err(invalid_json(
                                        "Unicode high surrogate must not follow a high surrogate.",
                                    ));
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(invalid_json(
                                        "Unicode low surrogate must follow a high surrogate.",
                                    ));
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            } else if (0xDC00..0xE000).contains(&cp) {
                                return Err(invalid_json(
                                    "Unicode low surrogate must follow a high surrogate.",
                                ));
                            }
                            if cp == 0 {
                                return Err(Error::new(
                                    SqlState("22P05"),
                                    "unsupported Unicode escape sequence",
                                )
                                .with_detail("\\u0000 cannot be converted to text."));
                            }
                            out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                        }
                        _ => {
                            self.pos -= 1;
                            let tok: String = self.src[self.pos..].chars().take(1).collect();
                            return Err(invalid_json(format!(
                                "Escape sequence \"\\{tok}\" is invalid."
                            )));
                        }
                    }
                }
                Some(_) => {
                    return Err(invalid_json(format!(
                        "Character with value 0x{:02x} must be escaped.",
                        self.bytes[self.pos]
                    )))
                }
            }
        }
    }
}

/// Parses json text into a tree that remembers each value's input span.
pub fn parse_node(src: &str) -> Result<Node> {
    let mut p = Parser {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let node = p.value()?;
    p.skip_ws();
    if p.pos < src.len() {
        return Err(p.unexpected("end of input"));
    }
    Ok(node)
}

/// Validates `json` input (its text is kept as it is).
pub fn validate_json(src: &str) -> Result<()> {
    parse_node(src).map(|_| ())
}

/// Parses `jsonb` input.
pub fn parse_jsonb(src: &str) -> Result<Jsonb> {
    let node = parse_node(src)?;
    node_to_jsonb(&node, src)
}

pub fn node_to_jsonb(node: &Node, src: &str) -> Result<Jsonb> {
    Ok(match &node.kind {
        NodeKind::Null => Jsonb::Null,
        NodeKind::Bool(b) => Jsonb::Bool(*b),
        NodeKind::Number => Jsonb::Number(canonical_number(&src[node.start..node.end])?),
        NodeKind::String(s) => Jsonb::String(s.clone()),
        NodeKind::Array(items) => Jsonb::Array(
            items
                .iter()
                .map(|n| node_to_jsonb(n, src))
                .collect::<Result<_>>()?,
        ),
        NodeKind::Object(pairs) => {
            let mut out = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                out.push((k.clone(), node_to_jsonb(v, src)?));
            }
            Jsonb::object(out)
        }
    })
}

/// PostgreSQL's jsonb key order: shorter keys first, then bytewise.
pub fn key_cmp(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

fn numeric_overflow() -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value overflows numeric format",
    )
}

/// The numeric output form of a JSON number literal: exponents applied,
/// the scale of the literal kept (`1.50` -> `1.50`, `1e2` -> `100`,
/// `1.5e-1` -> `0.15`, `-0` -> `0`).
pub fn canonical_number(raw: &str) -> Result<String> {
    let (neg, rest) = match raw.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, raw.strip_prefix('+').unwrap_or(raw)),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => {
            let e = &rest[i + 1..];
            let e: i64 = e.parse().map_err(|_| {
                if e.trim_start_matches(['+', '-'])
                    .bytes()
                    .all(|c| c.is_ascii_digit())
                {
                    numeric_overflow()
                } else {
                    invalid_json("")
                }
            })?;
            (&rest[..i], e)
        }
        None => (rest, 0),
    };
    if exp.unsigned_abs() > MAX_NUMBER_LEN as u64 {
        return Err(numeric_overflow());
    }
    let (int, frac) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    let mut digits = String::with_capacity(int.len() + frac.len());
    digits.push_str(int);
    digits.push_str(frac);
    let mut scale = frac.len() as i64 - exp;
    if scale < 0 {
        digits.extend(std::iter::repeat_n('0', (-scale) as usize));
        scale = 0;
    }
    let scale = scale as usize;
    if digits.len() <= scale {
        let pad = scale + 1 - digits.len();
        digits.insert_str(0, &"0".repeat(pad));
    }
    if digits.len() > MAX_NUMBER_LEN {
        return Err(numeric_overflow());
    }
    let split = digits.len() - scale;
    let int_part = digits[..split].trim_start_matches('0');
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let zero = digits.bytes().all(|c| c == b'0');
    let mut out = String::new();
    if neg && !zero {
        out.push('-');
    }
    out.push_str(int_part);
    if scale > 0 {
        out.push('.');
        out.push_str(&digits[split..]);
    }
    Ok(out)
}

/// A canonical number as (negative, integer digits, fraction digits) with
/// insignificant zeros removed, for comparison and hashing.
fn number_parts(n: &str) -> (bool, &str, &str) {
    let (neg, rest) = match n.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, n),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let neg = neg && !(int.is_empty() && frac.is_empty());
    (neg, int, frac)
}

pub fn number_cmp(a: &str, b: &str) -> Ordering {
    let (an, ai, af) = number_parts(a);
    let (bn, bi, bf) = number_parts(b);
    let mag = ai
        .len()
        .cmp(&bi.len())
        .then_with(|| ai.cmp(bi))
        .then_with(|| af.cmp(bf));
    match (an, bn) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => mag,
        (true, true) => mag.reverse(),
    }
}

impl Jsonb {
    /// An object from pairs in any order: keys sorted, the last of equal
    /// keys kept.
    pub fn object(mut pairs: Vec<(String, Jsonb)>) -> Jsonb {
        pairs.sort_by(|a, b| key_cmp(&a.0, &b.0));
        let mut out: Vec<(String, Jsonb)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        Jsonb::Object(out)
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Jsonb::Null => "null",
            Jsonb::Bool(_) => "boolean",
            Jsonb::Number(_) => "number",
            Jsonb::String(_) => "string",
            Jsonb::Array(_) => "array",
            Jsonb::Object(_) => "object",
        }
    }

    pub fn is_scalar(&self) -> bool {
        !matches!(self, Jsonb::Array(_) | Jsonb::Object(_))
    }

    pub fn get(&self, key: &str) -> Option<&Jsonb> {
        match self {
            Jsonb::Object(pairs) => pairs
                .binary_search_by(|(k, _)| key_cmp(k, key))
                .ok()
                .map(|i| &pairs[i].1),
            _ => None,
        }
    }

    /// Text output as PostgreSQL prints jsonb.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    pub fn write(&self, out: &mut String) {
        match self {
            Jsonb::Null => out.push_str("null"),
            Jsonb::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Jsonb::Number(n) => out.push_str(n),
            Jsonb::String(s) => escape_string(s, out),
            Jsonb::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Jsonb::Object(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    escape_string(k, out);
                    out.push_str(": ");
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// `jsonb_pretty` output: four-space indentation, one member a line
    /// (an empty container still spans two lines, as in PostgreSQL).
    pub fn write_pretty(&self, indent: usize, out: &mut String) {
        let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n * 4));
        match self {
            Jsonb::Array(items) => {
                out.push_str("[\n");
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    pad(out, indent + 1);
                    v.write_pretty(indent + 1, out);
                }
                if !items.is_empty() {
                    out.push('\n');
                }
                pad(out, indent);
                out.push(']');
            }
            Jsonb::Object(pairs) => {
                out.push_str("{\n");
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    pad(out, indent + 1);
                    escape_string(k, out);
                    out.push_str(": ");
                    v.write_pretty(indent + 1, out);
                }
                if !pairs.is_empty() {
                    out.push('\n');
                }
                pad(out, indent);
                out.push('}');
            }
            other => other.write(out),
        }
    }

    /// Text with numbers stripped of insignificant zeros, so that values
    /// that compare equal produce equal text (for hashing and keys).
    pub fn normalized_text(&self) -> String {
        fn norm(v: &Jsonb) -> Jsonb {
            match v {
                Jsonb::Number(n) => {
                    let (neg, int, frac) = number_parts(n);
                    let mut s = String::new();
                    if neg {
                        s.push('-');
                    }
                    s.push_str(if int.is_empty() { "0" } else { int });
                    if !frac.is_empty() {
                        s.push('.');
                        s.push_str(frac);
                    }
                    Jsonb::Number(s)
                }
                Jsonb::Array(items) => Jsonb::Array(items.iter().map(norm).collect()),
                Jsonb::Object(pairs) => {
                    Jsonb::Object(pairs.iter().map(|(k, v)| (k.clone(), norm(v))).collect())
                }
                other => other.clone(),
            }
        }
        norm(self).to_text()
    }
}

/// A JSON string literal with PostgreSQL's escaping.
pub fn escape_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Type rank in PostgreSQL's jsonb ordering.
fn rank(v: &Jsonb) -> u8 {
    match v {
        Jsonb::Null => 0,
        Jsonb::String(_) => 1,
        Jsonb::Number(_) => 2,
        Jsonb::Bool(_) => 3,
        Jsonb::Array(_) => 4,
        Jsonb::Object(_) => 5,
    }
}

/// PostgreSQL's jsonb ordering (btree jsonb_ops): by type (null < string <
/// number < boolean < array < object), arrays and objects first by their
/// number of elements/pairs, then member by member (object keys in key
/// order, each key before its value). A top-level scalar is stored as a
/// one-element array, so it sorts among arrays by that count: after `[]`,
/// before any other array.
pub fn compare(a: &Jsonb, b: &Jsonb) -> Ordering {
    let scalar_vs_array = |items: &Vec<Jsonb>| match items.len() {
        1 => Ordering::Less,
        n => 1.cmp(&n),
    };
    match (a, b) {
        (s, Jsonb::Array(items)) if s.is_scalar() => scalar_vs_array(items),
        (Jsonb::Array(items), s) if s.is_scalar() => scalar_vs_array(items).reverse(),
        _ => compare_members(a, b),
    }
}

fn compare_members(a: &Jsonb, b: &Jsonb) -> Ordering {
    match (a, b) {
        (Jsonb::String(x), Jsonb::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Jsonb::Number(x), Jsonb::Number(y)) => number_cmp(x, y),
        (Jsonb::Bool(x), Jsonb::Bool(y)) => x.cmp(y),
        (Jsonb::Null, Jsonb::Null) => Ordering::Equal,
        (Jsonb::Array(x), Jsonb::Array(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|(p, q)| compare_members(p, q))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        (Jsonb::Object(x), Jsonb::Object(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|((kp, vp), (kq, vq))| {
                    kp.as_bytes()
                        .cmp(kq.as_bytes())
                        .then_with(|| compare_members(vp, vq))
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// `a @> b`: PostgreSQL's jsonb containment.
pub fn contains(a: &Jsonb, b: &Jsonb) -> bool {
    match (a, b) {
        // At the top level an array contains a bare scalar it has as an
        // element.
        (Jsonb::Array(items), s) if s.is_scalar() => items.iter().any(|i| scalar_eq(i, s)),
        _ => deep_contains(a, b),
    }
}

fn scalar_eq(a: &Jsonb, b: &Jsonb) -> bool {
    a.is_scalar() && b.is_scalar() && compare_members(a, b) == Ordering::Equal
}

fn deep_contains(a: &Jsonb, b: &Jsonb) -> bool {
    match (a, b) {
        (Jsonb::Object(_), Jsonb::Object(want)) => want.iter().all(|(k, wv)| match a.get(k) {
            None => false,
            Some(av) if wv.is_scalar() => scalar_eq(av, wv),
            Some(av) => deep_contains(av, wv),
        }),
        (Jsonb::Array(have), Jsonb::Array(want)) => want.iter().all(|w| {
            if w.is_scalar() {
                have.iter().any(|h| scalar_eq(h, w))
            } else {
                have.iter().any(|h| !h.is_scalar() && deep_contains(h, w))
            }
        }),
        (x, y) if x.is_scalar() && y.is_scalar() => scalar_eq(x, y),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        parse_jsonb(s).unwrap().to_text()
    }

    #[test]
    fn normalizes_like_postgres() {
        assert_eq!(
            norm(r#"{"b":1,"aa":2,"a":3,"b":4}"#),
            r#"{"a": 3, "b": 4, "aa": 2}"#
        );
        assert_eq!(
            norm("[1.50, 1e2, -0.0, 1.0e1, 1.5e-1, 0]"),
            "[1.50, 100, 0.0, 10, 0.15, 0]"
        );
        assert_eq!(norm(r#""a\u00e9\n\"""#), "\"a\u{e9}\\n\\\"\"");
        assert_eq!(norm(" [ ] "), "[]");
    }

    #[test]
    fn rejects_invalid_input() {
        for s in [
            "", "x", "01", "[1,]", "{\"a\"}", "{a:1}", "[1] x", "1.", "\"\\x\"", "-",
        ] {
            let e = parse_jsonb(s).unwrap_err();
            assert_eq!(e.state.code(), "22P02", "{s}");
        }
    }

    #[test]
    fn ordering_and_containment() {
        let j = |s: &str| parse_jsonb(s).unwrap();
        assert_eq!(compare(&j("1.0"), &j("1")), Ordering::Equal);
        assert_eq!(compare(&j("[1,2]"), &j("[3]")), Ordering::Greater);
        assert_eq!(compare(&j("null"), &j("\"a\"")), Ordering::Less);
        assert_eq!(compare(&j("[]"), &j("null")), Ordering::Less);
        assert_eq!(compare(&j("true"), &j("[3]")), Ordering::Less);
        assert_eq!(compare(&j("[[1]]"), &j("[1]")), Ordering::Greater);
        assert_eq!(compare(&j("-2"), &j("-10")), Ordering::Greater);
        assert!(contains(&j(r#"{"a":1,"b":[1,2]}"#), &j(r#"{"b":[2]}"#)));
        assert!(contains(&j("[1,2]"), &j("1")));
        assert!(!contains(&j("1"), &j("[1]")));
        assert!(!contains(&j("[[1,2]]"), &j("[1]")));
    }
}
