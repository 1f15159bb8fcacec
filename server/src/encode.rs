//! Building backend messages from engine results: RowDescription, DataRow
//! (written straight into one shared buffer, no per-value allocation) and
//! ErrorResponse from engine errors.

use bytes::{BufMut, BytesMut};
use joltdb_engine::types::io::{encode_binary, format_text, IoContext};
use joltdb_engine::{Column, Error, Value};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::data::{DataRow, FieldDescription, RowDescription};
use pgwire::messages::response::ErrorResponse;

/// Result column formats chosen by Bind (the simple protocol is all text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Formats {
    AllText,
    AllBinary,
    PerColumn(Vec<bool>),
}

impl Formats {
    /// Interprets Bind's result format codes for `columns` result columns.
    pub fn from_codes(codes: &[i16], columns: usize) -> Result<Formats, Error> {
        let binary = |code: i16| match code {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(protocol_violation(format!(
                "unsupported format code: {other}"
            ))),
        };
        match codes {
            [] => Ok(Formats::AllText),
            [code] => Ok(if binary(*code)? {
                Formats::AllBinary
            } else {
                Formats::AllText
            }),
            codes if codes.len() == columns => Ok(Formats::PerColumn(
                codes.iter().map(|c| binary(*c)).collect::<Result<_, _>>()?,
            )),
            codes => Err(protocol_violation(format!(
                "bind message has {} result formats but query has {} columns",
                codes.len(),
                columns
            ))),
        }
    }

    #[inline]
    pub fn is_binary(&self, column: usize) -> bool {
        match self {
            Formats::AllText => false,
            Formats::AllBinary => true,
            Formats::PerColumn(v) => v.get(column).copied().unwrap_or(false),
        }
    }
}

pub fn protocol_violation(message: impl Into<String>) -> Error {
    Error::new(joltdb_engine::SqlState::PROTOCOL_VIOLATION, message)
}

/// RowDescription for `columns` in the given formats.
pub fn row_description(columns: &[Column], formats: &Formats) -> RowDescription {
    let fields = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            FieldDescription::new(
                c.name.clone(),
                c.table_oid as i32,
                c.column_id,
                c.data_type.oid(),
                c.data_type.type_len(),
                c.data_type.typmod(),
                i16::from(formats.is_binary(i)),
            )
        })
        .collect();
    RowDescription::new(fields)
}

/// Reusable buffers for encoding rows.
#[derive(Default)]
pub struct RowEncoder {
    /// DataRow bodies are written here and split off, so consecutive rows
    /// share one allocation.
    out: BytesMut,
    text: String,
    binary: Vec<u8>,
}

impl RowEncoder {
    /// Encodes one row as a DataRow message.
    pub fn encode(
        &mut self,
        row: &[Value],
        columns: &[Column],
        formats: &Formats,
        ctx: &IoContext,
    ) -> Result<DataRow, Error> {
        if self.out.capacity() < 256 {
            self.out.reserve(64 * 1024);
        }
        for (i, value) in row.iter().enumerate() {
            if value.is_null() {
                self.out.put_i32(-1);
            } else if formats.is_binary(i) {
                let ty = columns
                    .get(i)
                    .map(|c| c.data_type)
                    .unwrap_or_else(|| value.data_type());
                self.binary.clear();
                encode_binary(value, ty, &mut self.binary)?;
                put_field(&mut self.out, &self.binary)?;
            } else {
                self.text.clear();
                format_text(value, ctx, &mut self.text);
                put_field(&mut self.out, self.text.as_bytes())?;
            }
        }
        Ok(DataRow::new(self.out.split(), row.len() as i16))
    }
}

fn put_field(out: &mut BytesMut, bytes: &[u8]) -> Result<(), Error> {
    let len = i32::try_from(bytes.len()).map_err(|_| {
        Error::new(
            joltdb_engine::SqlState::PROGRAM_LIMIT_EXCEEDED,
            "value too large to send",
        )
    })?;
    out.put_i32(len);
    out.put_slice(bytes);
    Ok(())
}

/// The ErrorInfo an engine error is reported with.
pub fn error_info(err: &Error, severity: &str) -> ErrorInfo {
    let mut info = ErrorInfo::new(
        severity.to_owned(),
        err.state.code().to_owned(),
        err.message.clone(),
    );
    info.severity_nonlocalized = Some(severity.to_owned());
    info.detail = err.detail.clone();
    info.hint = err.hint.clone();
    info.position = err.position.map(|p| p.to_string());
    info.where_context = err.context.clone();
    info
}

/// ErrorResponse (severity ERROR) for an engine error.
pub fn error_response(err: &Error) -> ErrorResponse {
    error_info(err, "ERROR").into()
}

/// An engine error as a pgwire error (severity ERROR), for handlers whose
/// errors pgwire reports (the extended protocol: the connection then
/// discards messages until Sync).
pub fn wire_error(err: &Error) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(err, "ERROR")))
}

/// A FATAL error: reported, then the connection is closed.
pub fn fatal(code: &str, message: impl Into<String>) -> PgWireError {
    let mut info = ErrorInfo::new("FATAL".to_owned(), code.to_owned(), message.into());
    info.severity_nonlocalized = Some("FATAL".to_owned());
    PgWireError::UserError(Box::new(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_formats() {
        assert_eq!(Formats::from_codes(&[], 3).unwrap(), Formats::AllText);
        assert_eq!(Formats::from_codes(&[1], 3).unwrap(), Formats::AllBinary);
        let f = Formats::from_codes(&[0, 1], 2).unwrap();
        assert!(!f.is_binary(0) && f.is_binary(1));
        assert_eq!(
            Formats::from_codes(&[0, 1], 3).unwrap_err().state.code(),
            "08P01"
        );
        assert!(Formats::from_codes(&[2], 1).is_err());
    }

    #[test]
    fn null_is_minus_one() {
        let mut enc = RowEncoder::default();
        let row = enc
            .encode(
                &[Value::Null],
                &[],
                &Formats::AllText,
                &IoContext::default(),
            )
            .unwrap();
        assert_eq!(row.field_count, 1);
        assert_eq!(&row.data[..], &(-1i32).to_be_bytes());
    }
}
