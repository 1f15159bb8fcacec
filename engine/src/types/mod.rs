//! SQL data types and values: what a column can hold, how values compare,
//! convert, print and parse (text and binary wire formats), and how they are
//! encoded into order-preserving index keys.
//!
//! Submodules:
//! - `value`: comparison, hashing, arithmetic and operators on [`Value`]
//! - `cast`: conversions between types (`::type`, CAST, implicit coercion)
//! - `io`: text and binary input/output in PostgreSQL's formats
//! - `keys`: memcomparable key encoding for indexes and partition hashing
//! - `functions`: the built-in scalar function library
//! - `array`: one-dimensional arrays (literals, wire formats, functions)
//! - `to_char`: date/time formatting with PostgreSQL's patterns
//! - `json`, `json_funcs`: the json and jsonb types, their operators and functions

pub mod array;
pub mod cast;
pub mod functions;
pub mod io;
pub mod json;
pub mod json_funcs;
pub mod keys;
pub mod to_char;
pub mod to_char_num;
pub mod value;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A SQL data type as a column, parameter or expression has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// numeric(precision, scale); `None` means unconstrained `numeric`.
    Numeric(Option<(u32, u32)>),
    Text,
    /// varchar(n); `None` means no length limit.
    Varchar(Option<u32>),
    /// char(n) (bpchar); blank-padded to n.
    Char(Option<u32>),
    Bytea,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Uuid,
    /// `oid` and the reg* types (regclass, regtype, ...), stored as u32.
    Oid,
    /// `name` (catalog identifiers).
    Name,
    /// `"char"`: a single byte, as the catalogs use for codes like
    /// pg_type.typtype.
    InternalChar,
    Json,
    Jsonb,
    /// The type of an untyped literal or of a NULL whose type is not yet
    /// known; resolved by context.
    Unknown,
    /// A one-dimensional array of the element type.
    Array(ElemType),
}

/// The element type of an array type, kept as the element's type OID and
/// type modifier so that [`DataType`] stays `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ElemType {
    oid: u32,
    typmod: i32,
}

impl DataType {
    /// The PostgreSQL type OID as sent in RowDescription and
    /// ParameterDescription.
    pub fn oid(&self) -> u32 {
        match self {
            DataType::Bool => 16,
            DataType::Int2 => 21,
            DataType::Int4 => 23,
            DataType::Int8 => 20,
            DataType::Float4 => 700,
            DataType::Float8 => 701,
            DataType::Numeric(_) => 1700,
            DataType::Text => 25,
            DataType::Varchar(_) => 1043,
            DataType::Char(_) => 1042,
            DataType::Bytea => 17,
            DataType::Date => 1082,
            DataType::Time => 1083,
            DataType::Timestamp => 1114,
            DataType::TimestampTz => 1184,
            DataType::Interval => 1186,
            DataType::Uuid => 2950,
            DataType::Oid => 26,
            DataType::Name => 19,
            DataType::InternalChar => 18,
            DataType::Json => 114,
            DataType::Jsonb => 3802,
            DataType::Unknown => 705,
            DataType::Array(e) => array::array_oid(e.oid).unwrap_or(0),
        }
    }

    /// The type for a PostgreSQL type OID (as a client sends in Parse).
    pub fn from_oid(oid: u32) -> Option<DataType> {
        Some(match oid {
            16 => DataType::Bool,
            21 => DataType::Int2,
            23 => DataType::Int4,
            20 => DataType::Int8,
            700 => DataType::Float4,
            701 => DataType::Float8,
            1700 => DataType::Numeric(None),
            25 => DataType::Text,
            1043 => DataType::Varchar(None),
            1042 => DataType::Char(None),
            17 => DataType::Bytea,
            1082 => DataType::Date,
            1083 => DataType::Time,
            1114 => DataType::Timestamp,
            1184 => DataType::TimestampTz,
            1186 => DataType::Interval,
            2950 => DataType::Uuid,
            26 => DataType::Oid,
            19 => DataType::Name,
            18 => DataType::InternalChar,
            114 => DataType::Json,
            3802 => DataType::Jsonb,
            705 | 0 => DataType::Unknown,
            _ => {
                return array::elem_oid(oid)
                    .and_then(DataType::from_oid)?
                    .array_of()
            }
        })
    }

    /// The type modifier sent in RowDescription (-1 when none), following
    /// PostgreSQL: varchar/char n+4, numeric ((p << 16) | s) + 4.
    pub fn typmod(&self) -> i32 {
        match self {
            DataType::Varchar(Some(n)) | DataType::Char(Some(n)) => *n as i32 + 4,
            DataType::Numeric(Some((p, s))) => (((*p as i32) << 16) | *s as i32) + 4,
            DataType::Array(e) => e.typmod,
            _ => -1,
        }
    }

    /// Fixed size in bytes as in pg_type.typlen (-1 for variable length).
    pub fn type_len(&self) -> i16 {
        match self {
            DataType::Bool | DataType::InternalChar => 1,
            DataType::Int2 => 2,
            DataType::Int4 | DataType::Float4 | DataType::Date | DataType::Oid => 4,
            DataType::Int8
            | DataType::Float8
            | DataType::Time
            | DataType::Timestamp
            | DataType::TimestampTz => 8,
            DataType::Interval | DataType::Uuid => 16,
            DataType::Name => 64,
            DataType::Unknown => -2,
            _ => -1,
        }
    }

    /// The name PostgreSQL's format_type gives (e.g. `character varying(10)`).
    pub fn sql_name(&self) -> String {
        match self {
            DataType::Bool => "boolean".into(),
            DataType::Int2 => "smallint".into(),
            DataType::Int4 => "integer".into(),
            DataType::Int8 => "bigint".into(),
            DataType::Float4 => "real".into(),
            DataType::Float8 => "double precision".into(),
            DataType::Numeric(None) => "numeric".into(),
            DataType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
            DataType::Text => "text".into(),
            DataType::Varchar(None) => "character varying".into(),
            DataType::Varchar(Some(n)) => format!("character varying({n})"),
            DataType::Char(None) => "character".into(),
            DataType::Char(Some(n)) => format!("character({n})"),
            DataType::Bytea => "bytea".into(),
            DataType::Date => "date".into(),
            DataType::Time => "time without time zone".into(),
            DataType::Timestamp => "timestamp without time zone".into(),
            DataType::TimestampTz => "timestamp with time zone".into(),
            DataType::Interval => "interval".into(),
            DataType::Uuid => "uuid".into(),
            DataType::Oid => "oid".into(),
            DataType::Name => "name".into(),
            DataType::InternalChar => "\"char\"".into(),
            DataType::Json => "json".into(),
            DataType::Jsonb => "jsonb".into(),
            DataType::Unknown => "unknown".into(),
            DataType::Array(_) => format!("{}[]", self.elem().unwrap_or(DataType::Text).sql_name()),
        }
    }

    /// The short name used in error messages ("integer", "numeric", ...),
    /// i.e. the name without a type modifier.
    pub fn base_name(&self) -> &'static str {
        match self {
            DataType::Bool => "boolean",
            DataType::Int2 => "smallint",
            DataType::Int4 => "integer",
            DataType::Int8 => "bigint",
            DataType::Float4 => "real",
            DataType::Float8 => "double precision",
            DataType::Numeric(_) => "numeric",
            DataType::Text => "text",
            DataType::Varchar(_) => "character varying",
            DataType::Char(_) => "character",
            DataType::Bytea => "bytea",
            DataType::Date => "date",
            DataType::Time => "time without time zone",
            DataType::Timestamp => "timestamp without time zone",
            DataType::TimestampTz => "timestamp with time zone",
            DataType::Interval => "interval",
            DataType::Uuid => "uuid",
            DataType::Oid => "oid",
            DataType::Name => "name",
            DataType::InternalChar => "\"char\"",
            DataType::Json => "json",
            DataType::Jsonb => "jsonb",
            DataType::Unknown => "unknown",
            DataType::Array(e) => array::array_base_name(e.oid),
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            DataType::Int2
                | DataType::Int4
                | DataType::Int8
                | DataType::Float4
                | DataType::Float8
                | DataType::Numeric(_)
                | DataType::Oid
        )
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, DataType::Int2 | DataType::Int4 | DataType::Int8)
    }

    pub fn is_string(&self) -> bool {
        matches!(
            self,
            DataType::Text
                | DataType::Varchar(_)
                | DataType::Char(_)
                | DataType::Name
                | DataType::InternalChar
        )
    }

    /// The same type without its modifier (varchar(10) -> varchar).
    pub fn without_modifier(&self) -> DataType {
        match self {
            DataType::Numeric(_) => DataType::Numeric(None),
            DataType::Varchar(_) => DataType::Varchar(None),
            DataType::Char(_) => DataType::Char(None),
            DataType::Array(e) => DataType::Array(ElemType {
                oid: e.oid,
                typmod: -1,
            }),
            other => *other,
        }
    }

    /// The array type whose elements are of this type; `None` for types
    /// without one (arrays of arrays are multidimensional arrays, and
    /// `unknown` has no array type).
    pub fn array_of(self) -> Option<DataType> {
        if matches!(self, DataType::Array(_) | DataType::Unknown) {
            return None;
        }
        let oid = self.oid();
        array::array_oid(oid)?;
        Some(DataType::Array(ElemType {
            oid,
            typmod: self.typmod(),
        }))
    }

    /// The element type of an array type.
    pub fn elem(&self) -> Option<DataType> {
        let DataType::Array(e) = self else {
            return None;
        };
        let base = DataType::from_oid(e.oid)?;
        Some(match (base, e.typmod) {
            (_, m) if m < 4 => base,
            (DataType::Varchar(_), m) => DataType::Varchar(Some((m - 4) as u32)),
            (DataType::Char(_), m) => DataType::Char(Some((m - 4) as u32)),
            (DataType::Numeric(_), m) => {
                let m = (m - 4) as u32;
                DataType::Numeric(Some((m >> 16, m & 0xffff)))
            }
            _ => base,
        })
    }

    pub fn is_array(&self) -> bool {
        matches!(self, DataType::Array(_))
    }
}

/// A PostgreSQL interval: months, days and microseconds kept apart, as
/// PostgreSQL does (a month is not a fixed number of days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

/// One SQL value. `Null` is the SQL NULL of any type. String types
/// (text, varchar, char, name) all use `Text`; the column's [`DataType`]
/// says which one it is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    Numeric(Decimal),
    Text(String),
    Bytea(Vec<u8>),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Interval(Interval),
    Uuid(u128),
    Oid(u32),
    /// A one-dimensional array; elements may be NULL.
    Array(Vec<Value>),
    /// A `json` value: its validated input text.
    Json(String),
    /// A `jsonb` value.
    Jsonb(Box<json::Jsonb>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The natural type of this value (`Unknown` for NULL; `Text` for any
    /// string).
    pub fn data_type(&self) -> DataType {
        match self {
            Value::Null => DataType::Unknown,
            Value::Bool(_) => DataType::Bool,
            Value::Int2(_) => DataType::Int2,
            Value::Int4(_) => DataType::Int4,
            Value::Int8(_) => DataType::Int8,
            Value::Float4(_) => DataType::Float4,
            Value::Float8(_) => DataType::Float8,
            Value::Numeric(_) => DataType::Numeric(None),
            Value::Text(_) => DataType::Text,
            Value::Bytea(_) => DataType::Bytea,
            Value::Date(_) => DataType::Date,
            Value::Time(_) => DataType::Time,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::TimestampTz(_) => DataType::TimestampTz,
            Value::Interval(_) => DataType::Interval,
            Value::Uuid(_) => DataType::Uuid,
            Value::Oid(_) => DataType::Oid,
            Value::Json(_) => DataType::Json,
            Value::Jsonb(_) => DataType::Jsonb,
            Value::Array(items) => items
                .iter()
                .find(|v| !v.is_null())
                .and_then(|v| v.data_type().array_of())
                .unwrap_or(DataType::Array(ElemType {
                    oid: 25,
                    typmod: -1,
                })),
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as i64 if it is an integer type.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int2(v) => Some(*v as i64),
            Value::Int4(v) => Some(*v as i64),
            Value::Int8(v) => Some(*v),
            Value::Oid(v) => Some(*v as i64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// A row: one value per column.
pub type Row = Vec<Value>;
