//! Order-preserving ("memcomparable") encoding of values into index keys,
//! and the stable hash that assigns rows to partitions.
//!
//! Every value is encoded as a one-byte type class tag followed by a
//! payload whose byte order equals the value order. NULL is a lone 0xFF
//! tag, so it sorts after every non-NULL value. Self-delimiting payloads
//! (fixed width, or escaped and terminated) keep the encoding of a prefix
//! of the columns a prefix of the whole encoding.

use super::{Interval, Value};
use chrono::Timelike;
use rust_decimal::Decimal;

const TAG_BOOL: u8 = 0x10;
const TAG_INT: u8 = 0x20;
const TAG_FLOAT: u8 = 0x30;
const TAG_NUMERIC: u8 = 0x40;
const TAG_TEXT: u8 = 0x50;
const TAG_BYTEA: u8 = 0x60;
const TAG_DATE: u8 = 0x70;
const TAG_TIMESTAMP: u8 = 0x80;
const TAG_TIMESTAMPTZ: u8 = 0x81;
const TAG_TIME: u8 = 0x90;
const TAG_INTERVAL: u8 = 0xA0;
const TAG_UUID: u8 = 0xB0;
const TAG_ARRAY: u8 = 0xC0;
const TAG_JSON: u8 = 0xD0;
const TAG_JSONB: u8 = 0xD1;
const TAG_NULL: u8 = 0xFF;

const MICROS_PER_DAY: i128 = 86_400_000_000;

/// Appends an encoding of `values` to `out` such that byte-wise comparison
/// of two encodings orders them as `Value::total_cmp` would, column by
/// column. Values of the same column share a type.
pub fn encode_key(values: &[Value], out: &mut Vec<u8>) {
    for v in values {
        encode_value(v, out);
    }
}

fn encode_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(b) => {
            out.push(TAG_BOOL);
            out.push(*b as u8);
        }
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Oid(_) => {
            out.push(TAG_INT);
            put_i64(out, v.as_i64().unwrap_or_default());
        }
        Value::Float4(f) => encode_float(*f as f64, out),
        Value::Float8(f) => encode_float(*f, out),
        Value::Numeric(d) => encode_numeric(d, out),
        Value::Text(s) => {
            out.push(TAG_TEXT);
            put_escaped(out, s.as_bytes());
        }
        Value::Bytea(b) => {
            out.push(TAG_BYTEA);
            put_escaped(out, b);
        }
        Value::Date(d) => {
            out.push(TAG_DATE);
            put_i64(out, chrono::Datelike::num_days_from_ce(d) as i64);
        }
        Value::Time(t) => {
            out.push(TAG_TIME);
            let micros =
                t.num_seconds_from_midnight() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64;
            put_i64(out, micros);
        }
        Value::Timestamp(ts) => {
            out.push(TAG_TIMESTAMP);
            put_i64(out, ts.and_utc().timestamp_micros());
        }
        Value::TimestampTz(ts) => {
            out.push(TAG_TIMESTAMPTZ);
            put_i64(out, ts.timestamp_micros());
        }
        Value::Interval(iv) => {
            out.push(TAG_INTERVAL);
            let span = interval_span(iv);
            out.extend_from_slice(&((span as u128) ^ (1u128 << 127)).to_be_bytes());
        }
        Value::Uuid(u) => {
            out.push(TAG_UUID);
            out.extend_from_slice(&u.to_be_bytes());
        }
        Value::Array(items) => {
            // Each element is preceded by 0x01 and the list ends with 0x00,
            // so a shorter array sorts before its extensions.
            out.push(TAG_ARRAY);
            for item in items {
                out.push(0x01);
                encode_value(item, out);
            }
            out.push(0x00);
        }
        // json and jsonb keys are equality keys (their text, numbers
        // normalized for jsonb); they do not follow jsonb's sort order.
        Value::Json(s) => {
            out.push(TAG_JSON);
            put_escaped(out, s.as_bytes());
        }
        Value::Jsonb(j) => {
            out.push(TAG_JSONB);
            put_escaped(out, j.normalized_text().as_bytes());
        }
    }
}

/// PostgreSQL compares intervals by their span with 30-day months and
/// 24-hour days.
fn interval_span(iv: &Interval) -> i128 {
    (iv.months as i128 * 30 + iv.days as i128) * MICROS_PER_DAY + iv.micros as i128
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&((v as u64) ^ (1u64 << 63)).to_be_bytes());
}

fn encode_float(f: f64, out: &mut Vec<u8>) {
    out.push(TAG_FLOAT);
    let f = if f.is_nan() {
        f64::NAN
    } else if f == 0.0 {
        0.0
    } else {
        f
    };
    let bits = f.to_bits();
    let bits = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    out.extend_from_slice(&bits.to_be_bytes());
}

/// Zero bytes are escaped as 0x00 0xFF and the string ends with 0x00 0x00,
/// so a string sorts before every longer string it is a prefix of.
fn put_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Numeric: a sign byte, then for non-zero values the decimal exponent
/// (value = 0.d1d2... * 10^exp) and the significant digits (each as
/// digit + 1, terminated by 0), all bit-inverted for negative values.
/// Trailing zeros are stripped, so 1.5 and 1.50 encode identically.
fn encode_numeric(d: &Decimal, out: &mut Vec<u8>) {
    out.push(TAG_NUMERIC);
    if d.is_zero() {
        out.push(2);
        return;
    }
    let n = d.normalize();
    let negative = n.is_sign_negative();
    let digits = n.mantissa().unsigned_abs().to_string();
    let exp = digits.len() as i64 - n.scale() as i64;
    out.push(if negative { 1 } else { 3 });
    let e = ((exp as i32 as u32) ^ (1u32 << 31)).to_be_bytes();
    let body = out.len();
    out.extend_from_slice(&e);
    out.extend(digits.bytes().map(|c| c - b'0' + 1));
    out.push(0);
    if negative {
        for b in &mut out[body..] {
            *b = !*b;
        }
    }
}

/// A hash of a partition key that is stable across restarts and versions
/// (it decides which partition's log holds a row).
///
/// FNV-1a over the key encoding, finished with a fixed avalanche step.
/// Values equal under grouping semantics (integers of any width, numerics
/// of any scale) share an encoding and therefore a hash.
pub fn partition_hash(values: &[Value]) -> u64 {
    let mut buf = Vec::with_capacity(32);
    encode_key(values, &mut buf);
    partition_hash_of_key(&buf)
}

/// [`partition_hash`] of values given in their key encoding.
pub fn partition_hash_of_key(encoded: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in encoded {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveTime};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::cmp::Ordering;
    use std::str::FromStr;

    fn enc(values: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key(values, &mut out);
        out
    }

    /// Sorts by encoding and checks that neighbours are ordered (and equal
    /// exactly when their encodings are) by the reference comparison.
    fn check_order(mut vals: Vec<Value>, cmp: impl Fn(&Value, &Value) -> Ordering) {
        vals.sort_by_key(|v| enc(std::slice::from_ref(v)));
        for w in vals.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let (ea, eb) = (enc(std::slice::from_ref(a)), enc(std::slice::from_ref(b)));
            let expected = cmp(a, b);
            let got = ea.cmp(&eb);
            assert_eq!(got, expected, "{a:?} vs {b:?}");
        }
    }

    fn ref_cmp(a: &Value, b: &Value) -> Ordering {
        use Value::*;
        match (a, b) {
            (Null, Null) => Ordering::Equal,
            (Null, _) => Ordering::Greater,
            (_, Null) => Ordering::Less,
            (Int8(x), Int8(y)) => x.cmp(y),
            (Float8(x), Float8(y)) => match (x.is_nan(), y.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => x.partial_cmp(y).unwrap(),
            },
            (Numeric(x), Numeric(y)) => x.cmp(y),
            (Text(x), Text(y)) => x.cmp(y),
            (Bytea(x), Bytea(y)) => x.cmp(y),
            (Timestamp(x), Timestamp(y)) => x.cmp(y),
            (Interval(x), Interval(y)) => interval_span(x).cmp(&interval_span(y)),
            (Time(x), Time(y)) => x.cmp(y),
            (Date(x), Date(y)) => x.cmp(y),
            _ => panic!("unexpected pair"),
        }
    }

    #[test]
    fn integers_of_all_widths_encode_alike() {
        assert_eq!(enc(&[Value::Int4(1)]), enc(&[Value::Int8(1)]));
        assert_eq!(enc(&[Value::Int2(-7)]), enc(&[Value::Int8(-7)]));
        assert_eq!(enc(&[Value::Oid(42)]), enc(&[Value::Int4(42)]));
        assert_eq!(
            partition_hash(&[Value::Int4(1)]),
            partition_hash(&[Value::Int8(1)])
        );
        let mut rng = StdRng::seed_from_u64(1);
        let mut vals: Vec<Value> = (0..2000).map(|_| Value::Int8(rng.gen())).collect();
        vals.extend((0..500).map(|_| Value::Int8(rng.gen_range(-5..5))));
        vals.extend([Value::Int8(i64::MIN), Value::Int8(i64::MAX), Value::Null]);
        check_order(vals, ref_cmp);
    }

    #[test]
    fn floats_order() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut vals: Vec<Value> = (0..2000)
            .map(|_| {
                let m: f64 = rng.gen_range(-1.0..1.0);
                Value::Float8(m * 10f64.powi(rng.gen_range(-30..30)))
            })
            .collect();
        for f in [
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
        ] {
            vals.push(Value::Float8(f));
        }
        check_order(vals, ref_cmp);
        assert_eq!(enc(&[Value::Float8(0.0)]), enc(&[Value::Float8(-0.0)]));
        assert_eq!(enc(&[Value::Float4(1.5)]), enc(&[Value::Float8(1.5)]));
    }

    #[test]
    fn numerics_order_and_normalize() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut vals: Vec<Value> = (0..3000)
            .map(|_| {
                let m: i64 = match rng.gen_range(0..3) {
                    0 => rng.gen_range(-1000..1000),
                    1 => rng.gen(),
                    _ => rng.gen_range(-10..10) * 100,
                };
                Value::Numeric(Decimal::new(m, rng.gen_range(0..12)))
            })
            .collect();
        vals.push(Value::Numeric(Decimal::MAX));
        vals.push(Value::Numeric(Decimal::MIN));
        check_order(vals, ref_cmp);
        let a = Decimal::from_str("1.5").unwrap();
        let b = Decimal::from_str("1.50").unwrap();
        assert_eq!(enc(&[Value::Numeric(a)]), enc(&[Value::Numeric(b)]));
        assert_eq!(
            partition_hash(&[Value::Numeric(a)]),
            partition_hash(&[Value::Numeric(b)])
        );
        let z1 = Decimal::from_str("0.000").unwrap();
        let z2 = Decimal::from_str("-0").unwrap();
        assert_eq!(enc(&[Value::Numeric(z1)]), enc(&[Value::Numeric(z2)]));
    }

    #[test]
    fn strings_and_bytes_order() {
        let mut rng = StdRng::seed_from_u64(4);
        let alphabet = ['\0', 'a', 'b', '\u{1}', 'é', '\u{ff}', 'z'];
        let mut texts = Vec::new();
        let mut bytes = Vec::new();
        for _ in 0..2000 {
            let n = rng.gen_range(0..6);
            texts.push(Value::Text(
                (0..n)
                    .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                    .collect(),
            ));
            let n = rng.gen_range(0..6);
            bytes.push(Value::Bytea(
                (0..n)
                    .map(|_| [0u8, 1, 0xFF, 0x7F][rng.gen_range(0..4)])
                    .collect(),
            ));
        }
        check_order(texts, ref_cmp);
        check_order(bytes, ref_cmp);
    }

    #[test]
    fn datetimes_order() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut ts = Vec::new();
        let mut dates = Vec::new();
        let mut times = Vec::new();
        let mut ivs = Vec::new();
        for _ in 0..2000 {
            let secs = rng.gen_range(-100_000_000_000i64..100_000_000_000);
            let t = DateTime::from_timestamp(secs, rng.gen_range(0..1000) * 1000)
                .unwrap()
                .naive_utc();
            ts.push(Value::Timestamp(t));
            dates.push(Value::Date(t.date()));
            times.push(Value::Time(
                NaiveTime::from_num_seconds_from_midnight_opt(rng.gen_range(0..86400), 0).unwrap(),
            ));
            ivs.push(Value::Interval(Interval {
                months: rng.gen_range(-30..30),
                days: rng.gen_range(-100..100),
                micros: rng.gen_range(-200_000_000_000..200_000_000_000),
            }));
        }
        check_order(ts, ref_cmp);
        check_order(dates, ref_cmp);
        check_order(times, ref_cmp);
        check_order(ivs, ref_cmp);
        // '1 month' = '30 days' in PostgreSQL.
        let a = Interval {
            months: 1,
            ..Default::default()
        };
        let b = Interval {
            days: 30,
            ..Default::default()
        };
        assert_eq!(enc(&[Value::Interval(a)]), enc(&[Value::Interval(b)]));
    }

    #[test]
    fn composite_keys_and_prefixes() {
        let mut rng = StdRng::seed_from_u64(6);
        let mut rows: Vec<Vec<Value>> = (0..2000)
            .map(|_| {
                let a = if rng.gen_range(0..10) == 0 {
                    Value::Null
                } else {
                    Value::Int8(rng.gen_range(0..5))
                };
                let n = rng.gen_range(0..3);
                let b = Value::Text(
                    (0..n)
                        .map(|_| ['a', '\0', 'b'][rng.gen_range(0..3)])
                        .collect(),
                );
                vec![a, b]
            })
            .collect();
        rows.sort_by_key(|r| enc(r));
        for w in rows.windows(2) {
            let expected = ref_cmp(&w[0][0], &w[1][0]).then_with(|| ref_cmp(&w[0][1], &w[1][1]));
            assert_eq!(
                enc(&w[0]).cmp(&enc(&w[1])),
                expected,
                "{:?} {:?}",
                w[0],
                w[1]
            );
        }
        let full = enc(&[Value::Int4(3), Value::Text("x".into())]);
        assert!(full.starts_with(&enc(&[Value::Int4(3)])));
        assert!(enc(&[Value::Int8(i64::MAX)]) < enc(&[Value::Null]));
    }

    #[test]
    fn partition_hash_is_stable() {
        // Pinned: the hash decides where rows live on disk.
        assert_eq!(
            partition_hash(&[Value::Int4(1)]),
            partition_hash(&[Value::Int8(1)])
        );
        let h = partition_hash(&[Value::Text("abc".into())]);
        assert_eq!(h, partition_hash(&[Value::Text("abc".into())]));
        assert_ne!(h, partition_hash(&[Value::Text("abd".into())]));
        assert_eq!(partition_hash(&[Value::Int8(42)]), PINNED_42);
    }

    #[test]
    fn agrees_with_total_cmp() {
        let mut rng = StdRng::seed_from_u64(7);
        type Gen = Box<dyn Fn(&mut StdRng) -> Value>;
        let gens: Vec<Gen> = vec![
            Box::new(|r| Value::Int4(r.gen_range(-50..50))),
            Box::new(|r| Value::Float8(r.gen_range(-5.0..5.0))),
            Box::new(|r| Value::Numeric(Decimal::new(r.gen_range(-999..999), r.gen_range(0..3)))),
            Box::new(|r| {
                Value::Text(
                    (0..r.gen_range(0..3))
                        .map(|_| ['a', 'B', '\0'][r.gen_range(0..3)])
                        .collect(),
                )
            }),
            Box::new(|r| Value::Bool(r.gen())),
            Box::new(|r| Value::Uuid(r.gen_range(0..4))),
            Box::new(|r| {
                Value::Interval(Interval {
                    months: r.gen_range(-2..2),
                    days: r.gen_range(-40..40),
                    micros: r.gen_range(-2..2) * 86_400_000_000,
                })
            }),
        ];
        for g in &gens {
            let vals: Vec<Value> = (0..300)
                .map(|_| {
                    if rng.gen_range(0..20) == 0 {
                        Value::Null
                    } else {
                        g(&mut rng)
                    }
                })
                .collect();
            for a in &vals[..40] {
                for b in &vals {
                    assert_eq!(
                        enc(std::slice::from_ref(a)).cmp(&enc(std::slice::from_ref(b))),
                        a.total_cmp(b),
                        "{a:?} vs {b:?}"
                    );
                }
            }
        }
    }

    const PINNED_42: u64 = 7_500_990_158_559_403_612;
}
