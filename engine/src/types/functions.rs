//! The built-in scalar function library (string, math, date/time, ...).
//! Functions that need session or transaction state (now(), version(),
//! current_setting(), nextval(), ...) are evaluated by the executor, not here.

use super::{DataType, Value};
use crate::error::Result;

/// A function resolved for concrete argument types.
#[derive(Clone, Debug)]
pub struct ScalarFunction {
    pub name: &'static str,
    /// The types the arguments must be cast to before the call.
    pub arg_types: Vec<DataType>,
    pub return_type: DataType,
    /// A strict function returns NULL when any argument is NULL, without
    /// being called.
    pub strict: bool,
    pub eval: fn(&[Value]) -> Result<Value>,
}

/// Looks up function `name` (lower case, without schema) for arguments of
/// the given types. Errors: 42883 "function f(integer) does not exist".
pub fn resolve(name: &str, arg_types: &[DataType]) -> Result<ScalarFunction> {
    let _ = (name, arg_types);
    unimplemented!()
}
