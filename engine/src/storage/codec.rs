//! Compact binary encoding of rows for log records and checkpoints: one tag
//! byte per value followed by its payload.

use crate::error::{Error, Result, SqlState};
use crate::types::{Interval, Value};
use chrono::{DateTime, NaiveDate, NaiveTime};
use rust_decimal::Decimal;

pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

pub fn encode_row(row: &[Value], out: &mut Vec<u8>) {
    put_u32(out, row.len() as u32);
    for v in row {
        encode_value(v, out);
    }
}

fn encode_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0),
        Value::Bool(b) => {
            out.push(1);
            out.push(*b as u8);
        }
        Value::Int2(i) => {
            out.push(2);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Int4(i) => {
            out.push(3);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Int8(i) => {
            out.push(4);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float4(f) => {
            out.push(5);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Float8(f) => {
            out.push(6);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Numeric(d) => {
            out.push(7);
            out.extend_from_slice(&d.serialize());
        }
        Value::Text(s) => {
            out.push(8);
            put_bytes(out, s.as_bytes());
        }
        Value::Bytea(b) => {
            out.push(9);
            put_bytes(out, b);
        }
        Value::Date(d) => {
            out.push(10);
            out.extend_from_slice(&chrono::Datelike::num_days_from_ce(d).to_le_bytes());
        }
        Value::Time(t) => {
            out.push(11);
            let micros = (*t - NaiveTime::MIN).num_microseconds().unwrap_or(0);
            out.extend_from_slice(&micros.to_le_bytes());
        }
        Value::Timestamp(ts) => {
            out.push(12);
            out.extend_from_slice(&ts.and_utc().timestamp_micros().to_le_bytes());
        }
        Value::TimestampTz(ts) => {
            out.push(13);
            out.extend_from_slice(&ts.timestamp_micros().to_le_bytes());
        }
        Value::Interval(iv) => {
            out.push(14);
            out.extend_from_slice(&iv.months.to_le_bytes());
            out.extend_from_slice(&iv.days.to_le_bytes());
            out.extend_from_slice(&iv.micros.to_le_bytes());
        }
        Value::Uuid(u) => {
            out.push(15);
            out.extend_from_slice(&u.to_le_bytes());
        }
        Value::Oid(o) => {
            out.push(16);
            out.extend_from_slice(&o.to_le_bytes());
        }
        Value::Array(items) => {
            out.push(17);
            encode_row(items, out);
        }
        Value::Json(s) => {
            out.push(18);
            put_bytes(out, s.as_bytes());
        }
        Value::Jsonb(j) => {
            out.push(19);
            put_bytes(out, j.to_text().as_bytes());
        }
    }
}

/// Reads values back from a buffer written by the functions above.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn corrupt() -> Error {
    Error::new(SqlState::DATA_CORRUPTED, "corrupt row encoding")
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(corrupt)?;
        let s = self.buf.get(self.pos..end).ok_or_else(corrupt)?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("length checked"))
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    pub fn row(&mut self) -> Result<Vec<Value>> {
        let n = self.u32()? as usize;
        let mut row = Vec::with_capacity(n.min(4096));
        for _ in 0..n {
            row.push(self.value()?);
        }
        Ok(row)
    }

    fn value(&mut self) -> Result<Value> {
        Ok(match self.u8()? {
            0 => Value::Null,
            1 => Value::Bool(self.u8()? != 0),
            2 => Value::Int2(i16::from_le_bytes(self.array()?)),
            3 => Value::Int4(i32::from_le_bytes(self.array()?)),
            4 => Value::Int8(i64::from_le_bytes(self.array()?)),
            5 => Value::Float4(f32::from_le_bytes(self.array()?)),
            6 => Value::Float8(f64::from_le_bytes(self.array()?)),
            7 => Value::Numeric(Decimal::deserialize(self.array()?)),
            8 => Value::Text(String::from_utf8(self.bytes()?.to_vec()).map_err(|_| corrupt())?),
            9 => Value::Bytea(self.bytes()?.to_vec()),
            10 => Value::Date(
                NaiveDate::from_num_days_from_ce_opt(i32::from_le_bytes(self.array()?))
                    .ok_or_else(corrupt)?,
            ),
            11 => {
                let micros = i64::from_le_bytes(self.array()?);
                Value::Time(NaiveTime::MIN + chrono::Duration::microseconds(micros))
            }
            12 => Value::Timestamp(
                DateTime::from_timestamp_micros(i64::from_le_bytes(self.array()?))
                    .ok_or_else(corrupt)?
                    .naive_utc(),
            ),
            13 => Value::TimestampTz(
                DateTime::from_timestamp_micros(i64::from_le_bytes(self.array()?))
                    .ok_or_else(corrupt)?,
            ),
            14 => Value::Interval(Interval {
                months: i32::from_le_bytes(self.array()?),
                days: i32::from_le_bytes(self.array()?),
                micros: i64::from_le_bytes(self.array()?),
            }),
            15 => Value::Uuid(u128::from_le_bytes(self.array()?)),
            16 => Value::Oid(u32::from_le_bytes(self.array()?)),
            17 => Value::Array(self.row()?),
            18 => Value::Json(String::from_utf8(self.bytes()?.to_vec()).map_err(|_| corrupt())?),
            19 => {
                let text = std::str::from_utf8(self.bytes()?).map_err(|_| corrupt())?;
                Value::Jsonb(Box::new(
                    crate::types::json::parse_jsonb(text).map_err(|_| corrupt())?,
                ))
            }
            _ => return Err(corrupt()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_round_trip() {
        let row = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int4(-7),
            Value::Int8(1 << 40),
            Value::Float8(1.5),
            Value::Numeric(Decimal::new(12345, 2)),
            Value::Text("héllo".into()),
            Value::Bytea(vec![0, 1, 2]),
            Value::Date(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()),
            Value::Uuid(42),
            Value::Array(vec![Value::Int4(1), Value::Null]),
            Value::Interval(Interval {
                months: 1,
                days: 2,
                micros: 3,
            }),
        ];
        let mut buf = Vec::new();
        encode_row(&row, &mut buf);
        let back = Reader::new(&buf).row().unwrap();
        assert_eq!(format!("{row:?}"), format!("{back:?}"));
    }
}
