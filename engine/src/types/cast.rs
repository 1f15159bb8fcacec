//! Conversions between types: explicit casts, assignment casts and the
//! implicit coercions the binder applies.

use super::{DataType, Value};
use crate::error::Result;

/// Explicit cast (`x::t`, `CAST(x AS t)`). NULL casts to NULL.
pub fn cast(value: Value, target: DataType) -> Result<Value> {
    let _ = (value, target);
    unimplemented!()
}

/// Assignment cast for storing into a column of type `target` (INSERT,
/// UPDATE): applies length limits (22001) and numeric precision (22003).
pub fn assign(value: Value, target: DataType) -> Result<Value> {
    let _ = (value, target);
    unimplemented!()
}

/// Whether PostgreSQL would convert `from` to `to` implicitly.
pub fn can_implicit_cast(from: DataType, to: DataType) -> bool {
    let _ = (from, to);
    unimplemented!()
}

/// The common type two expressions are coerced to (CASE, COALESCE, UNION,
/// IN lists, comparisons); `None` when they cannot be matched.
pub fn common_type(a: DataType, b: DataType) -> Option<DataType> {
    let _ = (a, b);
    unimplemented!()
}
