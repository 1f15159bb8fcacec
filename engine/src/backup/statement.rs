//! The backup statements, which sqlparser does not know, and their small
//! parser:
//!
//! ```text
//! BACKUP TABLE t [, t2 ...] TO 'name' [WITH (option = value, ...)]
//! BACKUP DATABASE TO 'name' [WITH (...)]
//! RESTORE TABLE t FROM 'name' [AS OF 'timestamptz'] [AS t_copy] [WITH (...)]
//! RESTORE DATABASE FROM 'name' [AS OF 'timestamptz'] [WITH (...)]
//! SHOW BACKUP 'name' [WITH (encryption_passphrase = '...')]
//! VERIFY BACKUP 'name' [WITH (encryption_passphrase = '...')]
//! ```
//!
//! Options: `compression = 'zstd' | 'none'` (BACKUP),
//! `encryption_passphrase = '...'` (all), `replace = true | false`
//! (RESTORE).

use super::restore::RestoreRequest;
use super::take::BackupOptions;
use crate::error::{Error, Result, SqlState};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackupTarget {
    Tables(Vec<String>),
    Database,
}

#[derive(Clone, PartialEq, Eq)]
pub enum BackupStatement {
    Backup {
        target: BackupTarget,
        name: String,
        options: BackupOptions,
    },
    Restore {
        name: String,
        request: RestoreRequest,
    },
    Show {
        name: String,
        passphrase: Option<String>,
    },
    Verify {
        name: String,
        passphrase: Option<String>,
    },
}

/// Never prints a passphrase.
impl std::fmt::Debug for BackupStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupStatement::Backup { target, name, .. } => f
                .debug_struct("Backup")
                .field("target", target)
                .field("name", name)
                .finish_non_exhaustive(),
            BackupStatement::Restore { name, request } => f
                .debug_struct("Restore")
                .field("name", name)
                .field("table", &request.table)
                .finish_non_exhaustive(),
            BackupStatement::Show { name, .. } => f
                .debug_struct("Show")
                .field("name", name)
                .finish_non_exhaustive(),
            BackupStatement::Verify { name, .. } => f
                .debug_struct("Verify")
                .field("name", name)
                .finish_non_exhaustive(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    /// A double-quoted identifier (case kept).
    Quoted(String),
    Str(String),
    Punct(char),
}

fn tokenize(text: &str) -> Result<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '-' && chars.clone().nth(1) == Some('-') {
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
        } else if c == '\'' || c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some(q) if q == c => {
                        if chars.peek() == Some(&c) {
                            chars.next();
                            s.push(c);
                        } else {
                            break;
                        }
                    }
                    Some(other) => s.push(other),
                    None => {
                        return Err(Error::syntax(if c == '\'' {
                            "unterminated quoted string at or near \"'\""
                        } else {
                            "unterminated quoted identifier at or near \"\"\""
                        }))
                    }
                }
            }
            out.push(if c == '\'' {
                Tok::Str(s)
            } else {
                Tok::Quoted(s)
            });
        } else if c.is_alphanumeric() || c == '_' {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_alphanumeric() || c == '_' || c == '$' {
                    w.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Word(w.to_lowercase()));
        } else {
            chars.next();
            out.push(Tok::Punct(c));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "syntax error at end of input".into(),
        Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => format!("syntax error at or near \"{w}\""),
        Some(Tok::Str(s)) => format!("syntax error at or near \"'{s}'\""),
        Some(Tok::Punct(c)) => format!("syntax error at or near \"{c}\""),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn error(&self) -> Error {
        Error::syntax(describe(self.peek()))
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(w)) if w == kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, kw: &str) -> Result<()> {
        if self.keyword(kw) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn punct(&mut self, p: char) -> bool {
        if self.peek() == Some(&Tok::Punct(p)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn string(&mut self) -> Result<String> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.error()),
        }
    }

    fn ident(&mut self) -> Result<String> {
        match self.peek().cloned() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => {
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.error()),
        }
    }

    /// A table name, optionally qualified with the `public` schema.
    fn table_name(&mut self) -> Result<String> {
        let first = self.ident()?;
        if self.punct('.') {
            let name = self.ident()?;
            if first != "public" {
                return Err(Error::new(
                    SqlState("3F000"),
                    format!("schema \"{first}\" does not exist"),
                ));
            }
            return Ok(name);
        }
        Ok(first)
    }

    /// `WITH (name = value, ...)`; values are strings, words or numbers.
    fn options(&mut self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        if !self.keyword("with") {
            return Ok(out);
        }
        if !self.punct('(') {
            return Err(self.error());
        }
        loop {
            let name = self.ident()?;
            if !self.punct('=') {
                return Err(self.error());
            }
            let value = match self.peek().cloned() {
                Some(Tok::Str(s)) | Some(Tok::Word(s)) => {
                    self.pos += 1;
                    s
                }
                _ => return Err(self.error()),
            };
            if out.iter().any(|(n, _)| *n == name) {
                return Err(Error::syntax(format!(
                    "option \"{name}\" given more than once"
                )));
            }
            out.push((name, value));
            if self.punct(')') {
                break;
            }
            if !self.punct(',') {
                return Err(self.error());
            }
        }
        Ok(out)
    }

    fn end(&self) -> Result<()> {
        if self.pos < self.toks.len() {
            return Err(self.error());
        }
        Ok(())
    }
}

fn invalid_option(stmt: &str, name: &str) -> Error {
    Error::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("option \"{name}\" is not valid for {stmt}"),
    )
}

fn bool_option(name: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("{name} requires a Boolean value"),
        )),
    }
}

fn passphrase_option(v: String) -> Result<String> {
    if v.is_empty() {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "encryption_passphrase must not be empty",
        ));
    }
    Ok(v)
}

/// An `AS OF` time: a `timestamptz` literal, UTC unless it has an offset.
pub fn parse_as_of(text: &str) -> Result<i64> {
    let io = crate::types::io::IoContext::default();
    match crate::types::io::parse_text(crate::types::DataType::TimestampTz, text, &io)? {
        crate::types::Value::TimestampTz(t) => Ok(t.timestamp_micros()),
        _ => Err(Error::new(
            SqlState::INVALID_DATETIME_FORMAT,
            format!("invalid input syntax for type timestamp with time zone: \"{text}\""),
        )),
    }
}

/// Parses a statement starting with BACKUP, RESTORE, VERIFY or
/// `SHOW BACKUP`. Errors are 42601 (syntax) or 22023 (bad option).
pub fn parse_statement(text: &str) -> Result<BackupStatement> {
    let mut p = Parser {
        toks: tokenize(text)?,
        pos: 0,
    };
    let stmt = if p.keyword("backup") {
        let target = if p.keyword("database") {
            BackupTarget::Database
        } else {
            p.expect("table")?;
            let mut tables = vec![p.table_name()?];
            while p.punct(',') {
                tables.push(p.table_name()?);
            }
            BackupTarget::Tables(tables)
        };
        p.expect("to")?;
        let name = p.string()?;
        let mut options = BackupOptions::default();
        for (k, v) in p.options()? {
            match k.as_str() {
                "compression" => {
                    options.compressed = match v.to_ascii_lowercase().as_str() {
                        "zstd" => true,
                        "none" => false,
                        _ => {
                            return Err(Error::new(
                                SqlState::INVALID_PARAMETER_VALUE,
                                format!("unrecognized compression \"{v}\""),
                            )
                            .with_hint("Use 'zstd' or 'none'."))
                        }
                    }
                }
                "encryption_passphrase" => options.passphrase = Some(passphrase_option(v)?),
                _ => return Err(invalid_option("BACKUP", &k)),
            }
        }
        BackupStatement::Backup {
            target,
            name,
            options,
        }
    } else if p.keyword("restore") {
        let mut request = RestoreRequest::default();
        if !p.keyword("database") {
            p.expect("table")?;
            request.table = Some(p.table_name()?);
        }
        p.expect("from")?;
        let name = p.string()?;
        // `AS OF '<time>'` and (for a table) `AS new_name`, in either order.
        while p.peek() == Some(&Tok::Word("as".into())) {
            if p.toks.get(p.pos + 1) == Some(&Tok::Word("of".into())) {
                if request.as_of_micros.is_some() {
                    return Err(p.error());
                }
                p.pos += 2;
                request.as_of_micros = Some(parse_as_of(&p.string()?)?);
            } else if request.table.is_some() && request.rename.is_none() {
                p.pos += 1;
                request.rename = Some(p.table_name()?);
            } else {
                break;
            }
        }
        for (k, v) in p.options()? {
            match k.as_str() {
                "replace" => request.replace = bool_option("replace", &v)?,
                "encryption_passphrase" => request.passphrase = Some(passphrase_option(v)?),
                _ => return Err(invalid_option("RESTORE", &k)),
            }
        }
        BackupStatement::Restore { name, request }
    } else {
        let show = p.keyword("show");
        if !show {
            p.expect("verify")?;
        }
        p.expect("backup")?;
        let name = p.string()?;
        let mut passphrase = None;
        for (k, v) in p.options()? {
            match k.as_str() {
                "encryption_passphrase" => passphrase = Some(passphrase_option(v)?),
                _ => {
                    return Err(invalid_option(
                        if show { "SHOW BACKUP" } else { "VERIFY BACKUP" },
                        &k,
                    ))
                }
            }
        }
        if show {
            BackupStatement::Show { name, passphrase }
        } else {
            BackupStatement::Verify { name, passphrase }
        }
    };
    p.end()?;
    Ok(stmt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let s = parse_statement("BACKUP TABLE a, \"B\" TO 'x.backup' WITH (compression = 'none', encryption_passphrase = 'p')").unwrap();
        let BackupStatement::Backup {
            target,
            name,
            options,
        } = s
        else {
            panic!()
        };
        assert_eq!(target, BackupTarget::Tables(vec!["a".into(), "B".into()]));
        assert_eq!(name, "x.backup");
        assert!(!options.compressed);
        assert_eq!(options.passphrase.as_deref(), Some("p"));
        assert!(matches!(
            parse_statement("backup database to 'd'").unwrap(),
            BackupStatement::Backup {
                target: BackupTarget::Database,
                ..
            }
        ));
        let BackupStatement::Restore { name, request } =
            parse_statement("RESTORE TABLE public.t FROM 'n' AS t2 WITH (replace = true)").unwrap()
        else {
            panic!()
        };
        assert_eq!(name, "n");
        assert_eq!(request.table.as_deref(), Some("t"));
        assert_eq!(request.rename.as_deref(), Some("t2"));
        assert!(request.replace);
        assert_eq!(request.as_of_micros, None);
        for text in [
            "RESTORE TABLE t FROM 'n' AS OF '2026-01-02 03:04:05+00' AS t2",
            "RESTORE TABLE t FROM 'n' AS t2 AS OF '2026-01-02 04:04:05+01'",
        ] {
            let BackupStatement::Restore { request, .. } = parse_statement(text).unwrap() else {
                panic!()
            };
            assert_eq!(request.rename.as_deref(), Some("t2"), "{text}");
            assert_eq!(request.as_of_micros, Some(1_767_323_045_000_000), "{text}");
        }
        let BackupStatement::Restore { request, .. } =
            parse_statement("RESTORE DATABASE FROM 'n' AS OF '2026-01-02 03:04:05'").unwrap()
        else {
            panic!()
        };
        assert_eq!(request.as_of_micros, Some(1_767_323_045_000_000));
        assert!(matches!(
            parse_statement("SHOW BACKUP 'n'").unwrap(),
            BackupStatement::Show { .. }
        ));
        assert!(matches!(
            parse_statement("VERIFY BACKUP 'n' WITH (encryption_passphrase='x')").unwrap(),
            BackupStatement::Verify {
                passphrase: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn rejects_bad_syntax_and_options() {
        for bad in [
            "BACKUP TABLE TO 'x'",
            "BACKUP TABLE t 'x'",
            "RESTORE TABLE t FROM x",
            "BACKUP TABLE t TO 'x' extra",
            "RESTORE DATABASE FROM 'x' AS t2",
            "RESTORE TABLE t FROM 'x' AS OF",
            "RESTORE TABLE t FROM 'x' AS OF '2026-01-01' AS OF '2026-01-01'",
        ] {
            assert_eq!(
                parse_statement(bad).unwrap_err().state,
                SqlState::SYNTAX_ERROR,
                "{bad}"
            );
        }
        for bad in [
            "BACKUP TABLE t TO 'x' WITH (compression = 'lz4')",
            "BACKUP TABLE t TO 'x' WITH (replace = true)",
            "RESTORE TABLE t FROM 'x' WITH (replace = maybe)",
        ] {
            assert_eq!(
                parse_statement(bad).unwrap_err().state,
                SqlState::INVALID_PARAMETER_VALUE,
                "{bad}"
            );
        }
        assert_eq!(
            parse_statement("RESTORE TABLE t FROM 'x' AS OF 'yesterday-ish'")
                .unwrap_err()
                .state,
            SqlState::INVALID_DATETIME_FORMAT
        );
    }
}
