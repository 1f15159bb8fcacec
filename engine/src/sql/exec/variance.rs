//! The variance aggregates (`var_samp`/`variance`, `var_pop`,
//! `stddev_samp`/`stddev`, `stddev_pop`), computed as PostgreSQL does so
//! results agree to the last digit: floating-point inputs with the
//! Youngs-Cramer update, exact inputs (integers, numeric) from exact sums
//! with PostgreSQL's choice of result scale.

use crate::error::{Error, Result, SqlState};
use crate::types::Value;
use rust_decimal::prelude::*;
use rust_decimal::Decimal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarianceKind {
    VarSamp,
    VarPop,
    StddevSamp,
    StddevPop,
}

impl VarianceKind {
    pub fn by_name(name: &str) -> Option<VarianceKind> {
        Some(match name {
            "variance" | "var_samp" => VarianceKind::VarSamp,
            "var_pop" => VarianceKind::VarPop,
            "stddev" | "stddev_samp" => VarianceKind::StddevSamp,
            "stddev_pop" => VarianceKind::StddevPop,
            _ => return None,
        })
    }

    fn sample(self) -> bool {
        matches!(self, VarianceKind::VarSamp | VarianceKind::StddevSamp)
    }

    fn root(self) -> bool {
        matches!(self, VarianceKind::StddevSamp | VarianceKind::StddevPop)
    }
}

/// Running state of one variance aggregate.
#[derive(Clone, Debug)]
pub enum VarianceState {
    /// Youngs-Cramer: count, sum, sum of squared differences.
    Float { n: f64, sx: f64, sxx: f64 },
    /// Exact sums.
    Exact {
        n: i64,
        sum: Decimal,
        sum_sq: Decimal,
    },
}

fn overflow() -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value out of range: overflow",
    )
}

impl VarianceState {
    pub fn new(float: bool) -> VarianceState {
        if float {
            VarianceState::Float {
                n: 0.0,
                sx: 0.0,
                sxx: 0.0,
            }
        } else {
            VarianceState::Exact {
                n: 0,
                sum: Decimal::ZERO,
                sum_sq: Decimal::ZERO,
            }
        }
    }

    pub fn add(&mut self, v: &Value) -> Result<()> {
        match self {
            VarianceState::Float { n, sx, sxx } => {
                let x = match v {
                    Value::Float4(f) => *f as f64,
                    Value::Float8(f) => *f,
                    _ => return Err(Error::internal("variance of a non-float value")),
                };
                *n += 1.0;
                *sx += x;
                if *n > 1.0 {
                    let tmp = x * *n - *sx;
                    *sxx += tmp * tmp / (*n * (*n - 1.0));
                }
            }
            VarianceState::Exact { n, sum, sum_sq } => {
                let x = match v {
                    Value::Int2(i) => Decimal::from(*i),
                    Value::Int4(i) => Decimal::from(*i),
                    Value::Int8(i) => Decimal::from(*i),
                    Value::Numeric(d) => *d,
                    _ => return Err(Error::internal("variance of a non-numeric value")),
                };
                *n += 1;
                *sum = sum.checked_add(x).ok_or_else(overflow)?;
                let sq = x.checked_mul(x).ok_or_else(overflow)?;
                *sum_sq = sum_sq.checked_add(sq).ok_or_else(overflow)?;
            }
        }
        Ok(())
    }

    pub fn finish(self, kind: VarianceKind) -> Result<Value> {
        match self {
            VarianceState::Float { n, sxx, .. } => {
                let den = if kind.sample() { n - 1.0 } else { n };
                if n == 0.0 || den <= 0.0 {
                    return Ok(Value::Null);
                }
                let var = sxx / den;
                Ok(Value::Float8(if kind.root() { var.sqrt() } else { var }))
            }
            VarianceState::Exact { n, sum, sum_sq } => {
                if n == 0 || (kind.sample() && n == 1) {
                    return Ok(Value::Null);
                }
                let dn = Decimal::from(n);
                // N * sum(x^2) - sum(x)^2, over N * (N - 1) or N * N.
                let num = dn
                    .checked_mul(sum_sq)
                    .and_then(|a| sum.checked_mul(sum).and_then(|b| a.checked_sub(b)))
                    .ok_or_else(overflow)?;
                if num <= Decimal::ZERO {
                    return Ok(Value::Numeric(Decimal::ZERO));
                }
                let den = if kind.sample() {
                    dn * Decimal::from(n - 1)
                } else {
                    dn * dn
                };
                let scale = division_scale(&num, &den);
                // Rounded to `scale` digits, and padded to them as PostgreSQL
                // shows them.
                let round = |d: Decimal| {
                    let mut r =
                        d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
                    r.rescale(scale);
                    r
                };
                let var = round(num.checked_div(den).ok_or_else(overflow)?);
                Ok(Value::Numeric(if kind.root() {
                    round(var.sqrt().ok_or_else(overflow)?)
                } else {
                    var
                }))
            }
        }
    }
}

/// PostgreSQL's `select_div_scale`: enough fractional digits for at least
/// 16 significant ones, judged in base-10000 digit groups.
fn division_scale(num: &Decimal, den: &Decimal) -> u32 {
    let (w1, d1) = base_10000_lead(num);
    let (w2, d2) = base_10000_lead(den);
    let mut qweight = w1 - w2;
    if d1 <= d2 {
        qweight -= 1;
    }
    let scale = 16 - qweight * 4;
    scale
        .max(num.scale() as i64)
        .max(den.scale() as i64)
        .clamp(0, 28) as u32
}

/// The weight (position of the leading base-10000 digit, 0 for the units
/// group) and the leading digit of a positive decimal.
fn base_10000_lead(d: &Decimal) -> (i64, u32) {
    let abs = d.abs();
    if abs >= Decimal::ONE {
        let int = abs.trunc().to_u128().unwrap_or(0);
        let digits = int.to_string().len() as i64;
        let weight = (digits - 1) / 4;
        let lead = (int / 10u128.pow((weight * 4) as u32)) as u32;
        (weight, lead)
    } else {
        // Fractional groups: 0.0001..0.9999 is weight -1, and so on.
        let mut weight = -1;
        let mut x = abs;
        loop {
            x *= Decimal::from(10000);
            if x >= Decimal::ONE || x.is_zero() {
                return (weight, x.trunc().to_u32().unwrap_or(0));
            }
            weight -= 1;
        }
    }
}
