//! `to_char(number, format)` for integer, bigint, numeric, real and double
//! precision: PostgreSQL's numeric patterns `9`, `0`, `.`, `D`, `,`, `G`,
//! `FM`, `S`, `MI`, `PL`, `SG`, `PR`, `L` and `EEEE`, with the C locale's
//! symbols, and `#` filling a value with more integer digits than the
//! pattern has.
//!
//! The pattern is first summarised (digits before and after the decimal
//! point, sign placement, fill mode, where `0` digits start and end); the
//! value is rendered as a plain digit string rounded to the pattern's
//! decimals; then the pattern is walked once, emitting blanks, zeros,
//! digits, separators and the sign where PostgreSQL puts them.

use super::Value;
use crate::error::{Error, Result, SqlState};
use rust_decimal::{Decimal, RoundingStrategy};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Nine,
    Zero,
    /// `.` or `D`: in the C locale both print a period.
    Point,
    /// `,` or `G`: in the C locale both print a comma.
    Group,
    FillMode,
    /// `S`: the sign anchored to the number.
    LocaleSign,
    Minus,
    Plus,
    SignAlways,
    Brackets,
    Currency,
    Eeee,
    Literal(char),
}

/// Where an `S` sign goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SignPos {
    None,
    Before,
    After,
}

/// The pattern's summary.
struct Desc {
    pre: usize,
    post: usize,
    decimal: bool,
    fill: bool,
    zero: bool,
    zero_start: usize,
    zero_end: usize,
    lsign: SignPos,
    pre_lsign_num: usize,
    minus: bool,
    plus: bool,
    brackets: bool,
    eeee: bool,
}

fn format_error(msg: &str) -> Error {
    Error::new(SqlState::SYNTAX_ERROR, msg.to_string())
}

fn tokenize(fmt: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let starts = |i: usize, s: &str| {
        let n = s.len();
        i + n <= chars.len()
            && chars[i..i + n]
                .iter()
                .zip(s.chars())
                .all(|(a, b)| a.eq_ignore_ascii_case(&b))
    };
    while i < chars.len() {
        let c = chars[i];
        let (tok, len) = if starts(i, "EEEE") {
            (Token::Eeee, 4)
        } else if starts(i, "FM") {
            (Token::FillMode, 2)
        } else if starts(i, "MI") {
            (Token::Minus, 2)
        } else if starts(i, "PL") {
            (Token::Plus, 2)
        } else if starts(i, "SG") {
            (Token::SignAlways, 2)
        } else if starts(i, "PR") {
            (Token::Brackets, 2)
        } else if starts(i, "RN") || starts(i, "TH") || starts(i, "SP") {
            return Err(Error::unsupported(format!(
                "to_char pattern \"{}\" is not supported",
                chars[i..i + 2].iter().collect::<String>()
            )));
        } else {
            match c {
                '9' => (Token::Nine, 1),
                '0' => (Token::Zero, 1),
                '.' | 'D' | 'd' => (Token::Point, 1),
                ',' | 'G' | 'g' => (Token::Group, 1),
                'S' | 's' => (Token::LocaleSign, 1),
                'L' | 'l' => (Token::Currency, 1),
                'V' | 'v' | 'B' | 'b' | 'C' | 'c' => {
                    return Err(Error::unsupported(format!(
                        "to_char pattern \"{c}\" is not supported"
                    )))
                }
                '"' => {
                    i += 1;
                    while i < chars.len() && chars[i] != '"' {
                        if chars[i] == '\\' && i + 1 < chars.len() {
                            i += 1;
                        }
                        out.push(Token::Literal(chars[i]));
                        i += 1;
                    }
                    i += 1;
                    continue;
                }
                '\\' if i + 1 < chars.len() => {
                    out.push(Token::Literal(chars[i + 1]));
                    i += 2;
                    continue;
                }
                other => (Token::Literal(other), 1),
            }
        };
        out.push(tok);
        i += len;
    }
    Ok(out)
}

fn describe(tokens: &[Token]) -> Result<Desc> {
    let mut d = Desc {
        pre: 0,
        post: 0,
        decimal: false,
        fill: false,
        zero: false,
        zero_start: 0,
        zero_end: 0,
        lsign: SignPos::None,
        pre_lsign_num: 0,
        minus: false,
        plus: false,
        brackets: false,
        eeee: false,
    };
    for t in tokens {
        if d.eeee && !matches!(t, Token::Literal(_)) {
            return Err(format_error("\"EEEE\" must be the last pattern used"));
        }
        match t {
            Token::Nine | Token::Zero => {
                if d.brackets {
                    return Err(format_error("\"9\" must be ahead of \"PR\""));
                }
                // Only a `0` before the decimal point makes leading
                // zeros print.
                if *t == Token::Zero && !d.zero && !d.decimal {
                    d.zero = true;
                    d.zero_start = d.pre + 1;
                }
                if d.decimal {
                    d.post += 1;
                } else {
                    d.pre += 1;
                }
                if *t == Token::Zero {
                    d.zero_end = d.pre + d.post;
                }
            }
            Token::Point => {
                if d.decimal {
                    return Err(format_error("multiple decimal points"));
                }
                d.decimal = true;
            }
            Token::FillMode => d.fill = true,
            Token::LocaleSign => {
                if d.lsign != SignPos::None {
                    return Err(format_error("cannot use \"S\" twice"));
                }
                if d.plus || d.minus || d.brackets {
                    return Err(format_error(
                        "cannot use \"S\" and \"PL\"/\"MI\"/\"SG\"/\"PR\" together",
                    ));
                }
                if d.decimal {
                    d.lsign = SignPos::After;
                } else {
                    d.lsign = SignPos::Before;
                    d.pre_lsign_num = d.pre;
                }
            }
            Token::Minus | Token::Plus | Token::SignAlways => {
                if d.lsign != SignPos::None {
                    let name = match t {
                        Token::Minus => "MI",
                        Token::Plus => "PL",
                        _ => "SG",
                    };
                    return Err(format_error(&format!(
                        "cannot use \"S\" and \"{name}\" together"
                    )));
                }
                d.minus |= matches!(t, Token::Minus | Token::SignAlways);
                d.plus |= matches!(t, Token::Plus | Token::SignAlways);
            }
            Token::Brackets => {
                if d.lsign != SignPos::None || d.plus || d.minus {
                    return Err(format_error(
                        "cannot use \"PR\" and \"S\"/\"PL\"/\"MI\"/\"SG\" together",
                    ));
                }
                d.brackets = true;
            }
            Token::Eeee => {
                if d.fill || d.lsign != SignPos::None || d.brackets || d.minus || d.plus {
                    return Err(format_error("\"EEEE\" is incompatible with other formats"));
                }
                d.eeee = true;
            }
            Token::Group | Token::Currency | Token::Literal(_) => {}
        }
    }
    Ok(d)
}

/// A value as to_char sees it.
pub enum Number {
    Int(i64),
    Numeric(Decimal),
    /// A double, or a real widened to one, with the type's significant
    /// digits (15 for double, 6 for real).
    Float(f64, usize),
}

/// `mantissa e±XX` with `digits` decimals, PostgreSQL's scientific form.
fn scientific(v: f64, digits: usize) -> String {
    let s = format!("{:.*e}", digits, v.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if v.is_sign_negative() { "-" } else { " " };
    let esign = if exp < 0 { '-' } else { '+' };
    format!("{sign}{mantissa}e{esign}{:02}", exp.abs())
}

/// Scientific form of a numeric, rounding half away from zero.
fn scientific_decimal(v: Decimal, digits: usize) -> String {
    if v.is_zero() {
        let zeros = "0".repeat(digits);
        let point = if digits > 0 { "." } else { "" };
        return format!(" 0{point}{zeros}e+00");
    }
    let abs = v.abs();
    // The exponent of the leading digit.
    let int_digits = abs.trunc().to_string().trim_start_matches('0').len() as i32;
    let exp = if int_digits > 0 {
        int_digits - 1
    } else {
        let frac = abs.fract().to_string();
        let after = frac.split_once('.').map_or("", |(_, f)| f);
        -((after.len() - after.trim_start_matches('0').len()) as i32 + 1)
    };
    let shift = |x: Decimal, e: i32| -> Option<Decimal> {
        let ten = Decimal::TEN;
        let mut r = x;
        if e >= 0 {
            for _ in 0..e {
                r = r.checked_div(ten)?;
            }
        } else {
            for _ in 0..-e {
                r = r.checked_mul(ten)?;
            }
        }
        Some(r)
    };
    // The exponent is fixed before rounding: 9.995 with one decimal is
    // "10.0e+00", as PostgreSQL prints it.
    let mut m = shift(abs, exp)
        .unwrap_or(abs)
        .round_dp_with_strategy(digits as u32, RoundingStrategy::MidpointAwayFromZero);
    m.rescale(digits as u32);
    let sign = if v.is_sign_negative() { "-" } else { " " };
    let esign = if exp < 0 { '-' } else { '+' };
    format!("{sign}{m}e{esign}{:02}", exp.abs())
}

/// A finite double's digits and sign: at most 15 significant digits
/// before rounding to the pattern's decimals.
fn finite_float_digits(f: f64, significant: usize, d: &mut Desc) -> (String, bool) {
    let int_len = format!("{:.0}", f.abs()).len();
    if int_len >= significant {
        d.post = 0;
    } else if int_len + d.post > significant {
        d.post = significant - int_len;
    }
    let s = format!("{:.*}", d.post, f);
    match s.strip_prefix('-') {
        Some(rest) => (rest.to_string(), true),
        None => (s, false),
    }
}

/// The value's digits (no sign, with the pattern's decimals), its sign
/// and how many blanks precede its first digit.
fn digits(n: &Number, d: &mut Desc) -> (String, char, usize) {
    let overflow = |d: &Desc| {
        let mut s = "#".repeat(d.pre + d.post + 1);
        s.replace_range(d.pre..d.pre + 1, ".");
        s
    };
    let (text, negative) = match n {
        Number::Int(i) => {
            let mut s = i.unsigned_abs().to_string();
            if d.post > 0 {
                s.push('.');
                s.push_str(&"0".repeat(d.post));
            }
            (s, *i < 0)
        }
        Number::Numeric(v) => {
            let mut r = v.round_dp_with_strategy(
                d.post.min(28) as u32,
                RoundingStrategy::MidpointAwayFromZero,
            );
            r.rescale(d.post.min(28) as u32);
            let mut s = r.abs().to_string();
            if d.post > 28 {
                s.push_str(&"0".repeat(d.post - 28));
            }
            (s, r.is_sign_negative() && !r.is_zero())
        }
        Number::Float(f, significant) => {
            if f.is_nan() {
                ("NaN".to_string(), false)
            } else if f.is_infinite() {
                ("Infinity".to_string(), *f < 0.0)
            } else {
                finite_float_digits(*f, *significant, d)
            }
        }
    };
    let sign = if negative { '-' } else { '+' };
    let int_len = text.find('.').unwrap_or(text.len());
    if int_len < d.pre {
        (text, sign, d.pre - int_len)
    } else if int_len > d.pre {
        (overflow(d), sign, 0)
    } else {
        (text, sign, 0)
    }
}

/// Formats a number with a to_char pattern.
pub fn format_number(n: Number, fmt: &str) -> Result<String> {
    let tokens = tokenize(fmt)?;
    let mut d = describe(&tokens)?;
    if d.eeee {
        return Ok(match n {
            Number::Int(i) => scientific(i as f64, d.post),
            Number::Float(f, _) if f.is_nan() || f.is_infinite() => {
                let mut s = "#".repeat(d.pre + d.post + 6);
                s.replace_range(0..1, " ");
                s.replace_range(d.pre + 1..d.pre + 2, ".");
                s
            }
            Number::Float(f, _) => scientific(f, d.post),
            Number::Numeric(v) => scientific_decimal(v, d.post),
        });
    }
    let (number, sign, pre_spaces) = digits(&n, &mut d);
    Ok(Processor::new(d, number, sign, pre_spaces).run(&tokens))
}

/// The walk over the pattern (PostgreSQL's NUM_processor for output).
struct Processor {
    d: Desc,
    number: Vec<char>,
    /// Position in `number` of the next character to print.
    pos: usize,
    sign: char,
    sign_wrote: bool,
    pre_spaces: usize,
    /// Index of the last decimal digit worth printing in fill mode.
    last_relevant: Option<usize>,
    /// How many digit positions of the pattern were processed.
    num_curr: usize,
    num_count: usize,
    /// Whether a digit has been written (separators print after one).
    num_in: bool,
    out: String,
}

impl Processor {
    fn new(mut d: Desc, number: String, sign: char, pre_spaces: usize) -> Processor {
        let number: Vec<char> = number.chars().collect();
        if d.zero_start > 0 {
            d.zero_start -= 1;
        }
        let sign_wrote = if d.plus || d.minus {
            !d.plus || d.minus
        } else {
            if sign != '-' && d.fill {
                d.brackets = false;
            }
            if d.lsign == SignPos::Before && d.pre == d.pre_lsign_num {
                d.lsign = SignPos::After;
            }
            sign == '+' && d.fill && d.lsign == SignPos::None
        };
        let mut num_count = (d.post + d.pre).saturating_sub(1);
        let mut last_relevant = None;
        if d.fill && d.decimal {
            if let Some(p) = number.iter().position(|c| *c == '.') {
                let mut r = p;
                for (i, c) in number.iter().enumerate().skip(p + 1) {
                    if *c != '0' {
                        r = i;
                    }
                }
                if d.zero_end > pre_spaces {
                    let last_zero = (number.len() - 1).min(d.zero_end - pre_spaces);
                    r = r.max(last_zero);
                }
                last_relevant = Some(r);
            }
        }
        if !sign_wrote && pre_spaces == 0 {
            num_count += 1;
        }
        Processor {
            d,
            number,
            pos: 0,
            sign,
            sign_wrote,
            pre_spaces,
            last_relevant,
            num_curr: 0,
            num_count,
            num_in: false,
            out: String::new(),
        }
    }

    fn current(&self) -> char {
        self.number.get(self.pos).copied().unwrap_or('\0')
    }

    fn last_relevant_is_point(&self) -> bool {
        self.last_relevant
            .is_some_and(|i| self.number.get(i) == Some(&'.'))
    }

    /// "0.1" with `9.9` prints " .1": the lone zero before the point is
    /// not printed unless a `0` asks for it.
    fn predec_space(&self) -> bool {
        !self.d.zero && self.pos == 0 && self.number.first() == Some(&'0') && self.d.post != 0
    }

    fn write_sign_before(&mut self) {
        if self.d.lsign != SignPos::None {
            if self.d.lsign == SignPos::Before {
                self.out.push(if self.sign == '-' { '-' } else { '+' });
                self.sign_wrote = true;
            }
        } else if self.d.brackets {
            self.out.push(if self.sign == '+' { ' ' } else { '<' });
            self.sign_wrote = true;
        } else if self.sign == '+' {
            if !self.d.fill {
                self.out.push(' ');
            }
            self.sign_wrote = true;
        } else if self.sign == '-' {
            self.out.push('-');
            self.sign_wrote = true;
        }
    }

    fn digit(&mut self, token: Token) {
        self.num_in = false;
        if !self.sign_wrote
            && (self.num_curr >= self.pre_spaces
                || (self.d.zero && self.d.zero_start == self.num_curr))
            && (!self.predec_space() || self.last_relevant_is_point())
        {
            self.write_sign_before();
        }
        if self.num_curr < self.pre_spaces && (self.d.zero_start > self.num_curr || !self.d.zero) {
            if !self.d.fill {
                self.out.push(' ');
            }
        } else if self.d.zero
            && self.num_curr < self.pre_spaces
            && self.d.zero_start <= self.num_curr
        {
            self.out.push('0');
            self.num_in = true;
        } else {
            if self.current() == '.' {
                if !self.last_relevant_is_point() || self.d.fill {
                    self.out.push('.');
                }
            } else if self.last_relevant.is_some_and(|r| self.pos > r) && token != Token::Zero {
                // Trailing zeros dropped by fill mode.
            } else if self.predec_space() {
                if !self.d.fill {
                    self.out.push(' ');
                } else if self.last_relevant_is_point() {
                    self.out.push('0');
                }
            } else {
                let c = self.current();
                if c != '\0' {
                    self.out.push(c);
                }
                self.num_in = true;
            }
            if self.pos < self.number.len() {
                self.pos += 1;
            }
        }
        let mut end =
            self.num_count + usize::from(self.pre_spaces > 0) + usize::from(self.d.decimal);
        if self.last_relevant == Some(self.pos) {
            end = self.num_curr;
        }
        if self.num_curr + 1 == end {
            if self.sign_wrote && self.d.brackets {
                self.out.push(if self.sign == '+' { ' ' } else { '>' });
            } else if self.d.lsign == SignPos::After {
                self.out.push(if self.sign == '-' { '-' } else { '+' });
            }
        }
        self.num_curr += 1;
    }

    fn run(mut self, tokens: &[Token]) -> String {
        for t in tokens {
            match *t {
                Token::Nine | Token::Zero | Token::Point => self.digit(*t),
                Token::Group => {
                    if self.num_in {
                        self.out.push(',');
                    } else if !self.d.fill {
                        self.out.push(' ');
                    }
                }
                Token::Currency => self.out.push(' '),
                Token::Minus => {
                    if self.sign == '-' {
                        self.out.push('-');
                    } else if !self.d.fill {
                        self.out.push(' ');
                    }
                }
                Token::Plus => {
                    if self.sign == '+' {
                        self.out.push('+');
                    } else if !self.d.fill {
                        self.out.push(' ');
                    }
                }
                Token::SignAlways => self.out.push(self.sign),
                Token::Literal(c) => self.out.push(c),
                Token::FillMode | Token::LocaleSign | Token::Brackets | Token::Eeee => {}
            }
        }
        self.out
    }
}

/// `to_char(int | bigint | numeric | double precision, text)`.
pub(super) fn f_to_char_number(a: &[Value]) -> Result<Value> {
    let n = match &a[0] {
        Value::Int2(i) => Number::Int(*i as i64),
        Value::Int4(i) => Number::Int(*i as i64),
        // bigint is formatted through numeric, as PostgreSQL does (it
        // matters for EEEE's rounding).
        Value::Int8(i) => Number::Numeric(Decimal::from(*i)),
        Value::Numeric(d) => Number::Numeric(*d),
        Value::Float4(f) => Number::Float(*f as f64, 6),
        Value::Float8(f) => Number::Float(*f, 15),
        other => return Err(Error::internal(format!("to_char of {other:?}"))),
    };
    let fmt = a[1].as_str().unwrap_or_default();
    Ok(Value::Text(format_number(n, fmt)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_postgres() {
        let cases = [
            (Number::Int(-1234), "9,999", "-1,234"),
            (Number::Int(1234), "999", " ###"),
            (Number::Int(12), "0000", " 0012"),
            (Number::Int(-12), "999PR", " <12>"),
            (Number::Numeric(Decimal::new(5, 1)), "9.99", "  .50"),
            (
                Number::Numeric(Decimal::new(-12345, 1)),
                "FM9,999.00",
                "-1,234.50",
            ),
            (
                Number::Numeric(Decimal::new(9995, 3)),
                "9.9EEEE",
                " 10.0e+00",
            ),
            (Number::Float(1e20, 15), "9.99EEEE", " 1.00e+20"),
            (Number::Float(-0.004, 15), "FM9,999.00", "-.00"),
            (
                Number::Float(1.234_567_8_f32 as f64, 6),
                "9.9999999",
                " 1.23457",
            ),
        ];
        for (n, fmt, want) in cases {
            assert_eq!(format_number(n, fmt).unwrap(), want, "{fmt}");
        }
        assert!(format_number(Number::Int(1), "9.9.9").is_err());
    }
}
