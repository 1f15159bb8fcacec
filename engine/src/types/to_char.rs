//! `to_char(timestamp, format)`: PostgreSQL's date/time formatting
//! patterns (YYYY, MM, DD, HH24, MI, SS, MS, US, Mon, Month, Day, AM, FM,
//! quoted text, ...).

use super::Value;
use crate::error::{Error, Result};
use chrono::{Datelike, NaiveDateTime, Timelike};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Patterns, longest first so that e.g. `HH24` wins over `HH`.
const PATTERNS: &[&str] = &[
    "MONTH", "Month", "month", "HH24", "HH12", "YYYY", "DAY", "Day", "day", "MON", "Mon", "mon",
    "DDD", "YYY", "A.M.", "P.M.", "a.m.", "p.m.", "HH", "MI", "SS", "MS", "US", "YY", "MM", "DD",
    "DY", "Dy", "dy", "AM", "PM", "am", "pm", "Y", "Q", "D",
];

/// Text with the case of the pattern: `MONTH` upper, `Month` capitalised,
/// `month` lower.
fn cased(word: &str, pattern: &str) -> String {
    if pattern.chars().all(|c| c.is_ascii_uppercase()) {
        word.to_uppercase()
    } else if pattern.chars().all(|c| c.is_ascii_lowercase()) {
        word.to_lowercase()
    } else {
        word.to_string()
    }
}

fn field(pattern: &str, ts: &NaiveDateTime, fill: bool) -> String {
    let num = |v: i64, width: usize| {
        if fill {
            format!("{v:0width$}")
        } else {
            v.to_string()
        }
    };
    let name = |word: &str, width: usize| {
        let w = cased(word, pattern);
        if fill {
            format!("{w:<width$}")
        } else {
            w
        }
    };
    let hour12 = match ts.hour() % 12 {
        0 => 12,
        h => h,
    } as i64;
    let pm = ts.hour() >= 12;
    match pattern {
        "YYYY" => num(ts.year() as i64, 4),
        "YYY" => num((ts.year() % 1000) as i64, 3),
        "YY" => num((ts.year() % 100) as i64, 2),
        "Y" => num((ts.year() % 10) as i64, 1),
        "MM" => num(ts.month() as i64, 2),
        "DD" => num(ts.day() as i64, 2),
        "DDD" => num(ts.ordinal() as i64, 3),
        "D" => num(ts.weekday().num_days_from_sunday() as i64 + 1, 1),
        "Q" => num(((ts.month() - 1) / 3 + 1) as i64, 1),
        "HH24" => num(ts.hour() as i64, 2),
        "HH" | "HH12" => num(hour12, 2),
        "MI" => num(ts.minute() as i64, 2),
        "SS" => num(ts.second() as i64, 2),
        "MS" => num((ts.nanosecond() / 1_000_000) as i64, 3),
        "US" => num((ts.nanosecond() / 1_000) as i64, 6),
        "MONTH" | "Month" | "month" => name(MONTHS[ts.month0() as usize], 9),
        "MON" | "Mon" | "mon" => cased(&MONTHS[ts.month0() as usize][..3], pattern),
        "DAY" | "Day" | "day" => name(DAYS[ts.weekday().num_days_from_sunday() as usize], 9),
        "DY" | "Dy" | "dy" => cased(
            &DAYS[ts.weekday().num_days_from_sunday() as usize][..3],
            pattern,
        ),
        "AM" | "PM" => (if pm { "PM" } else { "AM" }).into(),
        "am" | "pm" => (if pm { "pm" } else { "am" }).into(),
        "A.M." | "P.M." => (if pm { "P.M." } else { "A.M." }).into(),
        "a.m." | "p.m." => (if pm { "p.m." } else { "a.m." }).into(),
        _ => String::new(),
    }
}

/// Formats `ts` with a PostgreSQL to_char pattern.
pub fn format_timestamp(ts: &NaiveDateTime, fmt: &str) -> String {
    let mut out = String::new();
    let mut rest = fmt;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('"') {
            // Quoted literal text; backslash escapes a quote.
            let mut chars = r.char_indices();
            let mut end = r.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            out.push(e);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            rest = &r[end.min(r.len())..];
            continue;
        }
        let (fill, body) = match rest.strip_prefix("FM") {
            Some(b) => (false, b),
            None => (true, rest),
        };
        if let Some(p) = PATTERNS.iter().find(|p| body.starts_with(**p)) {
            out.push_str(&field(p, ts, fill));
            rest = &body[p.len()..];
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

pub(super) fn f_to_char(a: &[Value]) -> Result<Value> {
    let ts = match &a[0] {
        Value::Timestamp(t) => *t,
        Value::TimestampTz(t) => t.naive_utc(),
        Value::Date(d) => d.and_hms_opt(0, 0, 0).unwrap_or_default(),
        other => return Err(Error::internal(format!("to_char of {other:?}"))),
    };
    let fmt = a[1].as_str().unwrap_or_default();
    Ok(Value::Text(format_timestamp(&ts, fmt)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_postgres() {
        let ts =
            NaiveDateTime::parse_from_str("2024-03-05 14:07:09.123456", "%Y-%m-%d %H:%M:%S%.f")
                .unwrap();
        let cases = [
            ("YYYY-MM-DD HH24:MI:SS", "2024-03-05 14:07:09"),
            ("YYYY-MM-DD HH24:MI:SS.MS", "2024-03-05 14:07:09.123"),
            ("US", "123456"),
            ("Mon DD, YYYY", "Mar 05, 2024"),
            ("FMMonth FMDD", "March 5"),
            ("Month|Day|", "March    |Tuesday  |"),
            ("DY dy HH12 AM", "TUE tue 02 PM"),
            ("\"Q\"Q DDD D", "Q1 065 3"),
            ("FMHH12:MI pm", "2:07 pm"),
        ];
        for (fmt, want) in cases {
            assert_eq!(format_timestamp(&ts, fmt), want, "{fmt}");
        }
    }
}
