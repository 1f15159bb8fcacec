//! Text and binary input/output of values in PostgreSQL's wire formats.

use super::{DataType, Value};
use crate::error::Result;

/// Session settings that change how values print.
#[derive(Clone, Debug)]
pub struct IoContext {
    /// Offset of the session's TimeZone from UTC, in seconds (timestamptz
    /// values print in this zone).
    pub tz_offset_secs: i32,
}

impl Default for IoContext {
    fn default() -> Self {
        IoContext { tz_offset_secs: 0 }
    }
}

/// Parses PostgreSQL text input for `ty` (also used for string literals
/// cast to a type). Errors: 22P02, 22003, 22007, 22008.
pub fn parse_text(ty: DataType, input: &str, ctx: &IoContext) -> Result<Value> {
    let _ = (ty, input, ctx);
    unimplemented!()
}

/// Appends PostgreSQL's text output of `value` to `out`. `value` is not
/// NULL.
pub fn format_text(value: &Value, ctx: &IoContext, out: &mut String) {
    let _ = (value, ctx, out);
    unimplemented!()
}

/// Appends the binary wire format of `value` as type `ty` to `out`.
pub fn encode_binary(value: &Value, ty: DataType, out: &mut Vec<u8>) -> Result<()> {
    let _ = (value, ty, out);
    unimplemented!()
}

/// Decodes the binary wire format of `ty`. Errors: 22P03.
pub fn decode_binary(ty: DataType, bytes: &[u8]) -> Result<Value> {
    let _ = (ty, bytes);
    unimplemented!()
}
