//! Turning SQL text into statements: splitting a query string at
//! semicolons, a small pre-parser for statements sqlparser does not know,
//! and sqlparser (PostgreSQL dialect) for the rest.

use crate::error::{Error, Result, SqlState};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

/// One parsed statement.
#[derive(Clone, Debug)]
pub enum Parsed {
    Sql(Box<ast::Statement>),
    /// Accepted and ignored, with its command tag.
    NoOp(&'static str),
    /// COPY (parsed by `copy.rs`: sqlparser does not know all its options).
    Copy(Box<super::copy::CopyStatement>),
    /// BACKUP, RESTORE, SHOW BACKUP, VERIFY BACKUP.
    Backup(Box<crate::backup::BackupStatement>),
    /// CREATE DATABASE, DROP DATABASE (PostgreSQL's options, which
    /// sqlparser does not know).
    Database(Box<crate::databases::DatabaseStatement>),
}

/// Maximum nesting sqlparser may recurse into before giving up (protects
/// the stack from hostile input).
const RECURSION_LIMIT: usize = 200;

/// Splits `sql` into statement texts (without the semicolons), honouring
/// quotes, dollar quotes and comments. Blank statements are dropped.
/// Returns each statement with its byte offset in `sql`.
pub fn split(sql: &str) -> Vec<(usize, &str)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let q = b[i];
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if i + 1 < b.len() && b[i + 1] == q {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'$' => {
                // $tag$ ... $tag$ (but not $1 parameters)
                let tag_end = b[i + 1..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .map(|p| i + 1 + p);
                match tag_end {
                    Some(e)
                        if b[e] == b'$'
                            && !b[i + 1..e].first().is_some_and(|c| c.is_ascii_digit()) =>
                    {
                        let tag = &sql[i..=e];
                        match sql[e + 1..].find(tag) {
                            Some(p) => i = e + 1 + p + tag.len(),
                            None => i = b.len(),
                        }
                    }
                    _ => i += 1,
                }
            }
            b';' => {
                push_stmt(&mut out, sql, start, i);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push_stmt(&mut out, sql, start, b.len().min(sql.len()));
    out
}

fn push_stmt<'a>(out: &mut Vec<(usize, &'a str)>, sql: &'a str, start: usize, end: usize) {
    let text = &sql[start..end];
    if !is_blank(text) {
        out.push((start, text));
    }
}

/// True when the text holds only whitespace and comments.
fn is_blank(text: &str) -> bool {
    let mut rest = text.trim_start();
    loop {
        if rest.is_empty() {
            return true;
        }
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.find('\n').map(|p| &r[p..]).unwrap_or("").trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map(|p| &r[p + 2..]).unwrap_or("").trim_start();
        } else {
            return false;
        }
    }
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .take(3)
        .map(|w| w.trim_end_matches(';').to_ascii_lowercase())
        .collect()
}

/// Parses one statement's text. `offset` is its byte offset in the whole
/// query string (for error positions).
pub fn parse_one(full: &str, offset: usize, text: &str) -> Result<Parsed> {
    let w = words(text);
    match w.first().map(String::as_str) {
        Some("vacuum") => return Ok(Parsed::NoOp("VACUUM")),
        Some("analyze") | Some("analyse") => return Ok(Parsed::NoOp("ANALYZE")),
        Some("checkpoint") => return Ok(Parsed::NoOp("CHECKPOINT")),
        Some("discard") => return Ok(Parsed::NoOp("DISCARD ALL")),
        Some("copy") => {
            return super::copy::parse_copy(full, offset, text).map(|c| Parsed::Copy(Box::new(c)))
        }
        Some("backup") | Some("restore") | Some("verify") => {
            return Ok(Parsed::Backup(Box::new(crate::backup::parse_statement(
                text,
            )?)))
        }
        Some("create") | Some("drop") if w.get(1).is_some_and(|x| x == "database") => {
            return crate::databases::parse_statement(text).map(|d| Parsed::Database(Box::new(d)))
        }
        Some("show") if w.get(1).is_some_and(|x| x == "backup") => {
            return Ok(Parsed::Backup(Box::new(crate::backup::parse_statement(
                text,
            )?)))
        }
        _ => {}
    }
    if let Some(role_text) = user_as_role(text, &w) {
        // PostgreSQL's CREATE/ALTER USER is CREATE/ALTER ROLE, with LOGIN
        // the default for CREATE USER.
        let mut parsed = parse_one(full, offset, &role_text)?;
        if let Parsed::Sql(stmt) = &mut parsed {
            if let ast::Statement::CreateRole(cr) = &mut **stmt {
                cr.login.get_or_insert(true);
            }
        }
        return Ok(parsed);
    }
    super::limits::check_operator_chain(text)?;
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(text)
        .map_err(|e| parse_error(full, offset, text, e))?;
    let stmt = parser
        .parse_statement()
        .map_err(|e| parse_error(full, offset, text, e))?;
    // Anything after the statement but a semicolon is an error.
    if parser.peek_token().token != sqlparser::tokenizer::Token::EOF {
        let tok = parser.peek_token();
        let pos = location_to_offset(text, tok.span.start.line, tok.span.start.column);
        return Err(
            Error::syntax(format!("syntax error at or near \"{}\"", tok.token))
                .with_position(char_position(full, offset + pos)),
        );
    }
    Ok(Parsed::Sql(Box::new(stmt)))
}

/// `CREATE USER ...` / `ALTER USER ...` rewritten as `... ROLE ...` (same
/// length, so error positions stay right).
fn user_as_role(text: &str, w: &[String]) -> Option<String> {
    if !matches!(w.first().map(String::as_str), Some("create" | "alter"))
        || w.get(1).map(String::as_str) != Some("user")
    {
        return None;
    }
    let start = text.len() - text.trim_start().len();
    let after_first = start + text[start..].find(char::is_whitespace)?;
    let second = after_first + (text[after_first..].len() - text[after_first..].trim_start().len());
    let mut out = text.to_string();
    out.replace_range(second..second + 4, "role");
    Some(out)
}

/// Parses a standalone expression (a column DEFAULT or CHECK text).
pub fn parse_expr(text: &str) -> Result<ast::Expr> {
    let dialect = PostgreSqlDialect {};
    Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| parse_error(text, 0, text, e))
}

fn parse_error(full: &str, offset: usize, text: &str, err: ParserError) -> Error {
    match err {
        ParserError::RecursionLimitExceeded => Error::new(
            SqlState::STATEMENT_TOO_COMPLEX,
            "stack depth limit exceeded",
        )
        .with_hint("The statement is nested too deeply."),
        ParserError::TokenizerError(msg) | ParserError::ParserError(msg) => {
            let (clean, loc) = split_location(&msg);
            let pos = loc
                .map(|(l, c)| location_to_offset(text, l, c))
                .unwrap_or(text.len());
            let near = near_token(text, pos);
            let message = match near {
                Some(tok) => format!("syntax error at or near \"{tok}\""),
                None => "syntax error at end of input".to_string(),
            };
            tracing::debug!("parse error: {clean}");
            Error::syntax(message).with_position(char_position(full, offset + pos))
        }
    }
}

/// sqlparser messages end with " at Line: L, Column: C".
fn split_location(msg: &str) -> (String, Option<(u64, u64)>) {
    if let Some(p) = msg.rfind(" at Line: ") {
        let rest = &msg[p + " at Line: ".len()..];
        let mut parts = rest.split(", Column: ");
        let line = parts.next().and_then(|s| s.trim().parse().ok());
        let col = parts.next().and_then(|s| s.trim().parse().ok());
        if let (Some(l), Some(c)) = (line, col) {
            return (msg[..p].to_string(), Some((l, c)));
        }
    }
    (msg.to_string(), None)
}

pub(crate) fn location_to_offset(text: &str, line: u64, column: u64) -> usize {
    if line == 0 {
        return text.len();
    }
    let mut off = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            let col_bytes: usize = l
                .chars()
                .take(column.saturating_sub(1) as usize)
                .map(char::len_utf8)
                .sum();
            return off + col_bytes;
        }
        off += l.len();
    }
    text.len()
}

fn near_token(text: &str, pos: usize) -> Option<String> {
    let rest = text.get(pos..)?.trim_start();
    if rest.is_empty() {
        return None;
    }
    let end = rest
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || (!c.is_alphanumeric() && *c != '_'))
        .map(|(i, c)| if i == 0 { c.len_utf8() } else { i })
        .unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// 1-based character position for ErrorResponse.
fn char_position(full: &str, byte_offset: usize) -> u32 {
    let b = byte_offset.min(full.len());
    let mut b2 = b;
    while !full.is_char_boundary(b2) {
        b2 -= 1;
    }
    full[..b2].chars().count() as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements() {
        let s = split("select 1; select ';' ; -- x;\n select $$a;b$$;;");
        let texts: Vec<&str> = s.iter().map(|(_, t)| t.trim()).collect();
        assert_eq!(
            texts,
            vec!["select 1", "select ';'", "-- x;\n select $$a;b$$"]
        );
    }

    #[test]
    fn syntax_error_position() {
        let e = parse_one("selec 1", 0, "selec 1").unwrap_err();
        assert_eq!(e.state, SqlState::SYNTAX_ERROR);
        assert_eq!(e.position, Some(1));
        assert_eq!(e.message, "syntax error at or near \"selec\"");
    }
}
