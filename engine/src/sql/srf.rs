//! Set-returning functions used as a FROM item: `generate_series(start,
//! stop[, step])` over integers.

use super::exec::StmtCtx;
use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Row, Value};

/// Most rows a set-returning function may produce in one call.
const MAX_ROWS: i64 = 100_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFunction {
    /// generate_series over integers of the given type.
    GenerateSeries(DataType),
}

impl TableFunction {
    /// The function called `name` for arguments of these types, with the
    /// type its arguments are cast to.
    pub fn resolve(name: &str, arg_types: &[DataType]) -> Result<(TableFunction, DataType)> {
        match name {
            "generate_series" if matches!(arg_types.len(), 2 | 3) => {
                let ty = if arg_types.contains(&DataType::Int8) {
                    DataType::Int8
                } else {
                    DataType::Int4
                };
                if arg_types
                    .iter()
                    .all(|t| t.is_integer() || *t == DataType::Unknown)
                {
                    return Ok((TableFunction::GenerateSeries(ty), ty));
                }
                Err(Error::new(
                    SqlState::UNDEFINED_FUNCTION,
                    format!(
                        "function generate_series({}) does not exist",
                        arg_types
                            .iter()
                            .map(|t| t.sql_name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
            _ => Err(Error::unsupported(format!(
                "table function {name} is not supported"
            ))),
        }
    }

    /// The single output column's type.
    pub fn column_type(&self) -> DataType {
        match self {
            TableFunction::GenerateSeries(t) => *t,
        }
    }

    pub fn rows(&self, args: &[Value], ctx: &StmtCtx) -> Result<Vec<Row>> {
        match self {
            TableFunction::GenerateSeries(ty) => {
                if args.iter().any(Value::is_null) {
                    return Ok(vec![]);
                }
                let int = |v: &Value| v.as_i64().unwrap_or(0);
                let (start, stop) = (int(&args[0]), int(&args[1]));
                let step = args.get(2).map(int).unwrap_or(1);
                if step == 0 {
                    return Err(Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "step size cannot equal zero",
                    ));
                }
                let count = if (step > 0 && start > stop) || (step < 0 && start < stop) {
                    0
                } else {
                    (stop as i128 - start as i128) / step as i128 + 1
                };
                if count > MAX_ROWS as i128 {
                    return Err(Error::new(
                        SqlState::PROGRAM_LIMIT_EXCEEDED,
                        format!("generate_series would produce more than {MAX_ROWS} rows"),
                    ));
                }
                let mut rows = Vec::with_capacity(count as usize);
                let mut v = start as i128;
                for _ in 0..count {
                    ctx.tick()?;
                    rows.push(vec![match ty {
                        DataType::Int8 => Value::Int8(v as i64),
                        _ => Value::Int4(v as i32),
                    }]);
                    v += step as i128;
                }
                Ok(rows)
            }
        }
    }
}
