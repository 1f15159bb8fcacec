//! Comparison, equality, hashing and operators on [`Value`].

use super::{DataType, Value};
use crate::error::Result;
use std::cmp::Ordering;

/// Binary operators other than AND/OR (whose three-valued logic the
/// executor evaluates itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Like,
    NotLike,
    ILike,
    NotILike,
    /// `~`, `~*`, `!~`, `!~*`
    RegexMatch { case_insensitive: bool, negated: bool },
    BitAnd,
    BitOr,
    BitXor,
    ShiftLeft,
    ShiftRight,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
    BitNot,
}

impl Value {
    /// SQL comparison of two values of comparable types (integers, floats
    /// and numeric compare with each other; strings with strings; date,
    /// timestamp and timestamptz with each other). `None` when either side
    /// is NULL or the types are not comparable.
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        let _ = other;
        unimplemented!()
    }

    /// A total order for sorting, consistent with `sql_cmp`; NULL sorts
    /// after every non-NULL value (PostgreSQL's default for ASC).
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        let _ = other;
        unimplemented!()
    }
}

/// Result type of `left op right`, or 42883 "operator does not exist".
pub fn binary_op_type(op: BinaryOp, left: DataType, right: DataType) -> Result<DataType> {
    let _ = (op, left, right);
    unimplemented!()
}

/// Evaluates `left op right`; NULL in gives NULL out. Operand types are the
/// ones `binary_op_type` accepted.
pub fn eval_binary(op: BinaryOp, left: &Value, right: &Value) -> Result<Value> {
    let _ = (op, left, right);
    unimplemented!()
}

/// Result type of a unary operator applied to `operand`.
pub fn unary_op_type(op: UnaryOp, operand: DataType) -> Result<DataType> {
    let _ = (op, operand);
    unimplemented!()
}

pub fn eval_unary(op: UnaryOp, operand: &Value) -> Result<Value> {
    let _ = (op, operand);
    unimplemented!()
}
