//! COPY: parsing the statement and its options (both the parenthesised
//! `WITH (FORMAT csv, ...)` list and the older `WITH CSV HEADER` spelling),
//! and the text and CSV data formats in both directions: decoding the
//! client's data into fields, and encoding result rows for the client.

use super::parser::{location_to_offset, parse_one, Parsed};
use crate::error::{Error, Result, SqlState};
use crate::types::io::{format_text, IoContext};
use crate::types::Value;
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
}

/// The options of one COPY statement.
#[derive(Clone, Debug)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub delimiter: u8,
    pub null: String,
    pub header: bool,
    pub quote: u8,
    pub escape: u8,
    /// Accepted for compatibility; rows are visible to other transactions
    /// after commit either way.
    pub freeze: bool,
    /// CSV output: quote every non-NULL value of these columns (`None` in
    /// the list form means all columns).
    pub force_quote: ForceQuote,
}

#[derive(Clone, Debug, Default)]
pub enum ForceQuote {
    #[default]
    None,
    All,
    Columns(Vec<String>),
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            format: CopyFormat::Text,
            delimiter: b'\t',
            null: "\\N".into(),
            header: false,
            quote: b'"',
            escape: b'"',
            freeze: false,
            force_quote: ForceQuote::None,
        }
    }
}

/// What a COPY reads from or writes to.
#[derive(Clone, Debug)]
pub enum CopyTarget {
    Table(ast::ObjectName),
    Query(Box<ast::Statement>),
}

/// A parsed `COPY ... FROM STDIN` or `COPY ... TO STDOUT`.
#[derive(Clone, Debug)]
pub struct CopyStatement {
    pub target: CopyTarget,
    pub columns: Vec<String>,
    /// True for FROM STDIN, false for TO STDOUT.
    pub from: bool,
    pub options: CopyOptions,
}

/// Parses a COPY statement (`text` starts with the word COPY).
pub fn parse_copy(full: &str, offset: usize, text: &str) -> Result<CopyStatement> {
    let dialect = PostgreSqlDialect {};
    let tokens: Vec<TokenWithSpan> = Tokenizer::new(&dialect, text)
        .tokenize_with_location()
        .map_err(|e| Error::syntax(format!("syntax error in COPY: {e}")))?
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let mut p = Tokens {
        tokens: &tokens,
        pos: 0,
        full,
        offset,
        text,
    };
    p.expect_word("copy")?;
    let target = if p.peek() == Some(&Token::LParen) {
        let open = p.pos;
        let mut depth = 0;
        let mut close = None;
        for (i, t) in tokens.iter().enumerate().skip(open) {
            match t.token {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(close) = close else {
            return Err(p.error_here());
        };
        if close == open + 1 {
            return Err(p.error_at(close));
        }
        let start = p.byte_offset(open + 1);
        let end = p.byte_offset(close);
        let inner = &text[start..end];
        let stmt = match parse_one(full, offset + start, inner)? {
            Parsed::Sql(s) if matches!(*s, ast::Statement::Query(_)) => s,
            _ => {
                return Err(Error::unsupported(
                    "COPY (query) supports only SELECT and VALUES queries",
                ))
            }
        };
        p.pos = close + 1;
        CopyTarget::Query(stmt)
    } else {
        let mut parts = vec![p.ident()?];
        while p.peek() == Some(&Token::Period) {
            p.pos += 1;
            parts.push(p.ident()?);
        }
        CopyTarget::Table(ast::ObjectName(
            parts
                .into_iter()
                .map(ast::ObjectNamePart::Identifier)
                .collect(),
        ))
    };
    let mut columns = Vec::new();
    if matches!(target, CopyTarget::Table(_)) && p.peek() == Some(&Token::LParen) {
        p.pos += 1;
        loop {
            columns.push(super::binder::ident(&p.ident()?));
            match p.next() {
                Some(Token::Comma) => continue,
                Some(Token::RParen) => break,
                _ => return Err(p.error_prev()),
            }
        }
    }
    let from = match p.word().as_deref() {
        Some("from") => true,
        Some("to") => false,
        _ => return Err(p.error_prev()),
    };
    if matches!(target, CopyTarget::Query(_)) && from {
        return Err(p.error_prev());
    }
    match p.peek().cloned() {
        Some(Token::Word(w)) => {
            let w = w.value.to_ascii_lowercase();
            match (from, w.as_str()) {
                (true, "stdin") | (false, "stdout") => p.pos += 1,
                (_, "program") => {
                    return Err(Error::new(
                        SqlState::INSUFFICIENT_PRIVILEGE,
                        "COPY to or from an external program is not supported",
                    ))
                }
                _ => return Err(p.error_here()),
            }
        }
        Some(Token::SingleQuotedString(_)) => {
            return Err(
                Error::unsupported("COPY to or from a server file is not supported")
                    .with_hint("Use COPY ... FROM STDIN or TO STDOUT, or psql's \\copy."),
            )
        }
        _ => return Err(p.error_here()),
    }
    let options = p.options()?;
    if p.pos < tokens.len() {
        return Err(p.error_here());
    }
    validate(&options, from)?;
    Ok(CopyStatement {
        target,
        columns,
        from,
        options,
    })
}

fn validate(o: &CopyOptions, from: bool) -> Result<()> {
    let csv = o.format == CopyFormat::Csv;
    if o.delimiter == b'\r' || o.delimiter == b'\n' {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "COPY delimiter cannot be newline or carriage return",
        ));
    }
    if o.null.contains(['\r', '\n']) {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "COPY null representation cannot use newline or carriage return",
        ));
    }
    if !csv && (o.delimiter == b'\\' || o.delimiter.is_ascii_alphanumeric() || o.delimiter == b'.')
    {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!(
                "COPY delimiter cannot be \"{}\"",
                char::from(o.delimiter).escape_default()
            ),
        ));
    }
    if csv && o.delimiter == o.quote {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "COPY delimiter and quote must be different",
        ));
    }
    if csv && o.null.as_bytes().contains(&o.delimiter)
        || !csv && o.null.as_bytes().contains(&o.delimiter)
    {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "COPY delimiter must not appear in the NULL specification",
        ));
    }
    if from && !matches!(o.force_quote, ForceQuote::None) {
        return Err(Error::unsupported(
            "COPY FORCE_QUOTE only available using COPY TO",
        ));
    }
    if !csv && !matches!(o.force_quote, ForceQuote::None) {
        return Err(Error::unsupported(
            "COPY FORCE_QUOTE only available in CSV mode",
        ));
    }
    Ok(())
}

struct Tokens<'a> {
    tokens: &'a [TokenWithSpan],
    pos: usize,
    full: &'a str,
    offset: usize,
    text: &'a str,
}

impl Tokens<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.token)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).map(|t| t.token.clone());
        self.pos += 1;
        t
    }

    fn byte_offset(&self, i: usize) -> usize {
        match self.tokens.get(i) {
            Some(t) => location_to_offset(self.text, t.span.start.line, t.span.start.column),
            None => self.text.len(),
        }
    }

    fn error_at(&self, i: usize) -> Error {
        let pos = self.byte_offset(i);
        let message = match self.tokens.get(i) {
            Some(t) => format!("syntax error at or near \"{}\"", t.token),
            None => "syntax error at end of input".to_string(),
        };
        let chars = self.full[..(self.offset + pos).min(self.full.len())]
            .chars()
            .count() as u32
            + 1;
        Error::syntax(message).with_position(chars)
    }

    fn error_here(&self) -> Error {
        self.error_at(self.pos)
    }

    fn error_prev(&self) -> Error {
        self.error_at(self.pos.saturating_sub(1))
    }

    /// The next token as a lowercase unquoted word, consuming it.
    fn word(&mut self) -> Option<String> {
        match self.next() {
            Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn expect_word(&mut self, want: &str) -> Result<()> {
        if self.word().as_deref() == Some(want) {
            Ok(())
        } else {
            Err(self.error_prev())
        }
    }

    fn peek_word(&self) -> Option<String> {
        match self.peek() {
            Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn ident(&mut self) -> Result<ast::Ident> {
        match self.next() {
            Some(Token::Word(w)) => Ok(ast::Ident {
                value: w.value,
                quote_style: w.quote_style,
                span: sqlparser::tokenizer::Span::empty(),
            }),
            _ => Err(self.error_prev()),
        }
    }

    fn string(&mut self) -> Result<String> {
        match self.next() {
            Some(Token::SingleQuotedString(s)) | Some(Token::EscapedStringLiteral(s)) => Ok(s),
            _ => Err(self.error_prev()),
        }
    }

    fn column_list(&mut self) -> Result<Vec<String>> {
        if self.next() != Some(Token::LParen) {
            return Err(self.error_prev());
        }
        let mut cols = Vec::new();
        loop {
            cols.push(super::binder::ident(&self.ident()?));
            match self.next() {
                Some(Token::Comma) => continue,
                Some(Token::RParen) => return Ok(cols),
                _ => return Err(self.error_prev()),
            }
        }
    }

    /// `[WITH] ( option [value], ... )` or the pre-9.0 option words.
    fn options(&mut self) -> Result<CopyOptions> {
        let mut o = CopyOptions::default();
        let mut seen: Vec<&'static str> = Vec::new();
        let mut once = |name: &'static str| -> Result<()> {
            if seen.contains(&name) {
                return Err(Error::syntax("conflicting or redundant options"));
            }
            seen.push(name);
            Ok(())
        };
        let mut explicit_quote = false;
        let mut explicit_escape = false;
        let mut explicit_delimiter = false;
        let mut explicit_null = false;
        if self.peek_word().as_deref() == Some("with") {
            self.pos += 1;
        }
        if self.peek() == Some(&Token::LParen) {
            self.pos += 1;
            loop {
                let name = self.word().ok_or_else(|| self.error_prev())?;
                let has_value = !matches!(self.peek(), Some(Token::Comma) | Some(Token::RParen));
                match name.as_str() {
                    "format" => {
                        once("format")?;
                        let f = self.option_value()?;
                        o.format = match f.as_str() {
                            "text" => CopyFormat::Text,
                            "csv" => CopyFormat::Csv,
                            "binary" => {
                                return Err(Error::unsupported(
                                    "COPY format \"binary\" is not supported",
                                ))
                            }
                            other => {
                                return Err(Error::new(
                                    SqlState::INVALID_PARAMETER_VALUE,
                                    format!("COPY format \"{other}\" not recognized"),
                                ))
                            }
                        };
                    }
                    "freeze" => {
                        once("freeze")?;
                        o.freeze = !has_value || self.bool_value("freeze")?;
                    }
                    "header" => {
                        once("header")?;
                        o.header = !has_value || self.bool_value("header")?;
                    }
                    "delimiter" => {
                        once("delimiter")?;
                        o.delimiter = single_byte(&self.string()?, "delimiter")?;
                        explicit_delimiter = true;
                    }
                    "null" => {
                        once("null")?;
                        o.null = self.string()?;
                        explicit_null = true;
                    }
                    "quote" => {
                        once("quote")?;
                        o.quote = single_byte(&self.string()?, "quote")?;
                        explicit_quote = true;
                    }
                    "escape" => {
                        once("escape")?;
                        o.escape = single_byte(&self.string()?, "escape")?;
                        explicit_escape = true;
                    }
                    "encoding" => {
                        once("encoding")?;
                        check_encoding(&self.string()?)?;
                    }
                    "force_quote" => {
                        once("force_quote")?;
                        if self.peek() == Some(&Token::Mul) {
                            self.pos += 1;
                            o.force_quote = ForceQuote::All;
                        } else {
                            o.force_quote = ForceQuote::Columns(self.column_list()?);
                        }
                    }
                    other => {
                        return Err(Error::syntax(format!("option \"{other}\" not recognized")))
                    }
                }
                match self.next() {
                    Some(Token::Comma) => continue,
                    Some(Token::RParen) => break,
                    _ => return Err(self.error_prev()),
                }
            }
        } else {
            while let Some(w) = self.peek_word() {
                self.pos += 1;
                match w.as_str() {
                    "binary" => {
                        return Err(Error::unsupported(
                            "COPY format \"binary\" is not supported",
                        ))
                    }
                    "csv" => {
                        once("format")?;
                        o.format = CopyFormat::Csv;
                    }
                    "header" => {
                        once("header")?;
                        o.header = true;
                    }
                    "freeze" => {
                        once("freeze")?;
                        o.freeze = true;
                    }
                    "delimiter" | "null" | "quote" | "escape" | "encoding" => {
                        if self.peek_word().as_deref() == Some("as") {
                            self.pos += 1;
                        }
                        let v = self.string()?;
                        match w.as_str() {
                            "delimiter" => {
                                once("delimiter")?;
                                o.delimiter = single_byte(&v, "delimiter")?;
                                explicit_delimiter = true;
                            }
                            "null" => {
                                once("null")?;
                                o.null = v;
                                explicit_null = true;
                            }
                            "quote" => {
                                once("quote")?;
                                o.quote = single_byte(&v, "quote")?;
                                explicit_quote = true;
                            }
                            "escape" => {
                                once("escape")?;
                                o.escape = single_byte(&v, "escape")?;
                                explicit_escape = true;
                            }
                            _ => check_encoding(&v)?,
                        }
                    }
                    "force" => {
                        if self.word().as_deref() != Some("quote") {
                            return Err(self.error_prev());
                        }
                        once("force_quote")?;
                        if self.peek() == Some(&Token::Mul) {
                            self.pos += 1;
                            o.force_quote = ForceQuote::All;
                        } else {
                            let mut cols = vec![super::binder::ident(&self.ident()?)];
                            while self.peek() == Some(&Token::Comma) {
                                self.pos += 1;
                                cols.push(super::binder::ident(&self.ident()?));
                            }
                            o.force_quote = ForceQuote::Columns(cols);
                        }
                    }
                    _ => {
                        self.pos -= 1;
                        return Err(self.error_here());
                    }
                }
            }
        }
        let csv = o.format == CopyFormat::Csv;
        if !csv && explicit_quote {
            return Err(Error::unsupported("COPY quote available only in CSV mode"));
        }
        if !csv && explicit_escape {
            return Err(Error::unsupported("COPY escape available only in CSV mode"));
        }
        if csv {
            if !explicit_delimiter {
                o.delimiter = b',';
            }
            if !explicit_null {
                o.null = String::new();
            }
            if !explicit_escape {
                o.escape = o.quote;
            }
        }
        Ok(o)
    }

    /// An option's argument: a word, a string or a number, lowercased.
    fn option_value(&mut self) -> Result<String> {
        match self.next() {
            Some(Token::Word(w)) => Ok(w.value.to_ascii_lowercase()),
            Some(Token::SingleQuotedString(s)) => Ok(s.to_ascii_lowercase()),
            Some(Token::Number(n, _)) => Ok(n),
            _ => Err(self.error_prev()),
        }
    }

    fn bool_value(&mut self, name: &str) -> Result<bool> {
        let v = self.option_value()?;
        match v.as_str() {
            "true" | "on" | "1" | "yes" => Ok(true),
            "false" | "off" | "0" | "no" => Ok(false),
            _ => Err(Error::syntax(format!("{name} requires a Boolean value"))),
        }
    }
}

fn single_byte(v: &str, what: &str) -> Result<u8> {
    match v.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err(Error::unsupported(format!(
            "COPY {what} must be a single one-byte character"
        ))),
    }
}

fn check_encoding(v: &str) -> Result<()> {
    let norm: String = v
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if norm == "utf8" || norm == "unicode" {
        Ok(())
    } else {
        Err(Error::unsupported(format!(
            "encoding \"{v}\" is not supported; joltdb uses UTF8"
        )))
    }
}

/// Splits incoming COPY data into records and fields. Data arrives in
/// arbitrary chunks; a record is processed once its end has arrived.
pub struct CopyDecoder {
    opts: CopyOptions,
    pending: Vec<u8>,
    /// Line number (1-based) of the next record, for error context.
    line: u64,
    header_pending: bool,
    /// `\.` was seen: everything after it is ignored.
    ended: bool,
    /// Field bytes of the current record, unescaped.
    scratch: Vec<u8>,
    /// (start, end) into `scratch`, or `None` for NULL.
    ranges: Vec<Option<(usize, usize)>>,
}

/// One decoded record: its fields (`None` = NULL) and line number.
pub struct Record<'a> {
    pub fields: &'a [Option<&'a str>],
    pub line: u64,
    /// The raw text of the record, for error context.
    pub raw: &'a [u8],
}

impl CopyDecoder {
    pub fn new(opts: CopyOptions) -> CopyDecoder {
        CopyDecoder {
            header_pending: opts.header,
            opts,
            pending: Vec::new(),
            line: 1,
            ended: false,
            scratch: Vec::new(),
            ranges: Vec::new(),
        }
    }

    /// The line number of the record being processed.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Consumes `data`, calling `on_record` for each complete record.
    pub fn feed(
        &mut self,
        data: &[u8],
        on_record: &mut dyn FnMut(Record<'_>) -> Result<()>,
    ) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        let owned;
        let buf: &[u8] = if self.pending.is_empty() {
            data
        } else {
            self.pending.extend_from_slice(data);
            owned = std::mem::take(&mut self.pending);
            &owned
        };
        let mut start = 0;
        while let Some(end) = self.record_end(buf, start) {
            let rec = &buf[start..end];
            start = end + 1;
            self.process(rec, on_record)?;
            if self.ended {
                return Ok(());
            }
        }
        self.pending = buf[start..].to_vec();
        Ok(())
    }

    /// Processes a final record without a trailing newline.
    pub fn finish(&mut self, on_record: &mut dyn FnMut(Record<'_>) -> Result<()>) -> Result<()> {
        if self.ended || self.pending.is_empty() {
            return Ok(());
        }
        let rec = std::mem::take(&mut self.pending);
        if self.opts.format == CopyFormat::Csv && self.in_open_quote(&rec) {
            return Err(self.bad_format("unterminated CSV quoted field", &rec));
        }
        self.process(&rec, on_record)
    }

    /// Index of the newline ending the record that starts at `start`.
    fn record_end(&self, buf: &[u8], start: usize) -> Option<usize> {
        match self.opts.format {
            CopyFormat::Text => buf[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|p| start + p),
            CopyFormat::Csv => {
                let (q, e) = (self.opts.quote, self.opts.escape);
                let mut in_quote = false;
                let mut i = start;
                while i < buf.len() {
                    let b = buf[i];
                    if in_quote {
                        if b == e && e != q && buf.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        if b == e && e != q && i + 1 == buf.len() {
                            return None;
                        }
                        if b == q {
                            in_quote = false;
                        }
                    } else if b == q {
                        in_quote = true;
                    } else if b == b'\n' {
                        return Some(i);
                    }
                    i += 1;
                }
                None
            }
        }
    }

    fn in_open_quote(&self, rec: &[u8]) -> bool {
        let (q, e) = (self.opts.quote, self.opts.escape);
        let mut in_quote = false;
        let mut i = 0;
        while i < rec.len() {
            if in_quote && rec[i] == e && e != q && rec.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            if rec[i] == q {
                in_quote = !in_quote;
            }
            i += 1;
        }
        in_quote
    }

    fn bad_format(&self, message: &str, raw: &[u8]) -> Error {
        Error::new(SqlState::BAD_COPY_FILE_FORMAT, message.to_string()).with_context(format!(
            "line {}: \"{}\"",
            self.line,
            String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw))
        ))
    }

    fn process(
        &mut self,
        rec: &[u8],
        on_record: &mut dyn FnMut(Record<'_>) -> Result<()>,
    ) -> Result<()> {
        let newlines = rec.iter().filter(|&&b| b == b'\n').count() as u64;
        let rec = rec.strip_suffix(b"\r").unwrap_or(rec);
        if rec == b"\\." {
            self.ended = true;
            return Ok(());
        }
        if self.header_pending {
            self.header_pending = false;
            self.line += 1 + newlines;
            return Ok(());
        }
        match self.opts.format {
            CopyFormat::Text => self.split_text(rec)?,
            CopyFormat::Csv => self.split_csv(rec)?,
        }
        let text = std::str::from_utf8(&self.scratch).map_err(|_| {
            Error::new(
                SqlState::CHARACTER_NOT_IN_REPERTOIRE,
                "invalid byte sequence for encoding \"UTF8\"",
            )
            .with_context(format!("line {}", self.line))
        })?;
        let mut fields: Vec<Option<&str>> = Vec::with_capacity(self.ranges.len());
        for r in &self.ranges {
            fields.push(r.map(|(a, b)| &text[a..b]));
        }
        let line = self.line;
        self.line += 1 + newlines;
        on_record(Record {
            fields: &fields,
            line,
            raw: rec,
        })
    }

    fn split_text(&mut self, rec: &[u8]) -> Result<()> {
        self.scratch.clear();
        self.ranges.clear();
        let delim = self.opts.delimiter;
        let null = self.opts.null.as_bytes();
        let mut i = 0;
        loop {
            let raw_start = i;
            let start = self.scratch.len();
            while i < rec.len() && rec[i] != delim {
                let b = rec[i];
                if b == b'\\' && i + 1 < rec.len() {
                    i += 1;
                    let c = rec[i];
                    match c {
                        b'b' => self.scratch.push(8),
                        b'f' => self.scratch.push(12),
                        b'n' => self.scratch.push(b'\n'),
                        b'r' => self.scratch.push(b'\r'),
                        b't' => self.scratch.push(b'\t'),
                        b'v' => self.scratch.push(11),
                        b'0'..=b'7' => {
                            let mut v: u32 = u32::from(c - b'0');
                            for _ in 0..2 {
                                match rec.get(i + 1) {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        i += 1;
                                    }
                                    _ => break,
                                }
                            }
                            self.scratch.push((v & 0xff) as u8);
                        }
                        b'x' if rec.get(i + 1).is_some_and(u8::is_ascii_hexdigit) => {
                            let mut v = 0u8;
                            for _ in 0..2 {
                                match rec.get(i + 1) {
                                    Some(d) if d.is_ascii_hexdigit() => {
                                        v = v * 16 + (*d as char).to_digit(16).unwrap_or(0) as u8;
                                        i += 1;
                                    }
                                    _ => break,
                                }
                            }
                            self.scratch.push(v);
                        }
                        other => self.scratch.push(other),
                    }
                    i += 1;
                } else {
                    self.scratch.push(b);
                    i += 1;
                }
            }
            let raw = &rec[raw_start..i];
            if raw == null {
                self.scratch.truncate(start);
                self.ranges.push(None);
            } else {
                self.ranges.push(Some((start, self.scratch.len())));
            }
            if i >= rec.len() {
                return Ok(());
            }
            i += 1; // the delimiter
        }
    }

    fn split_csv(&mut self, rec: &[u8]) -> Result<()> {
        self.scratch.clear();
        self.ranges.clear();
        let (delim, q, e) = (self.opts.delimiter, self.opts.quote, self.opts.escape);
        let null = self.opts.null.as_bytes();
        let mut i = 0;
        loop {
            let start = self.scratch.len();
            let raw_start = i;
            let mut quoted = false;
            let mut in_quote = false;
            while i < rec.len() {
                let b = rec[i];
                if in_quote {
                    if b == e && rec.get(i + 1) == Some(&q) {
                        self.scratch.push(q);
                        i += 2;
                        continue;
                    }
                    if b == q {
                        in_quote = false;
                        i += 1;
                        continue;
                    }
                    self.scratch.push(b);
                    i += 1;
                } else if b == delim {
                    break;
                } else if b == q {
                    in_quote = true;
                    quoted = true;
                    i += 1;
                } else {
                    self.scratch.push(b);
                    i += 1;
                }
            }
            if in_quote {
                return Err(self.bad_format("unterminated CSV quoted field", rec));
            }
            if !quoted && &rec[raw_start..i] == null {
                self.scratch.truncate(start);
                self.ranges.push(None);
            } else {
                self.ranges.push(Some((start, self.scratch.len())));
            }
            if i >= rec.len() {
                return Ok(());
            }
            i += 1;
        }
    }
}

/// Encodes rows as COPY TO output.
pub struct CopyEncoder {
    opts: CopyOptions,
    /// Per column: always quote (CSV FORCE_QUOTE).
    force: Vec<bool>,
    text: String,
}

impl CopyEncoder {
    pub fn new(opts: CopyOptions, column_names: &[String]) -> Result<CopyEncoder> {
        let force = match &opts.force_quote {
            ForceQuote::None => vec![false; column_names.len()],
            ForceQuote::All => vec![true; column_names.len()],
            ForceQuote::Columns(cols) => {
                for c in cols {
                    if !column_names.contains(c) {
                        return Err(Error::new(
                            SqlState::UNDEFINED_COLUMN,
                            format!("FORCE_QUOTE column \"{c}\" not referenced by COPY"),
                        ));
                    }
                }
                column_names.iter().map(|n| cols.contains(n)).collect()
            }
        };
        Ok(CopyEncoder {
            opts,
            force,
            text: String::new(),
        })
    }

    /// The header line, if HEADER was asked for.
    pub fn header(&mut self, column_names: &[String], out: &mut Vec<u8>) {
        if !self.opts.header {
            return;
        }
        for (i, name) in column_names.iter().enumerate() {
            if i > 0 {
                out.push(self.opts.delimiter);
            }
            self.field(name.as_bytes().to_vec().as_slice(), false, out);
        }
        out.push(b'\n');
    }

    /// Appends one row (with its newline) to `out`.
    pub fn row(&mut self, row: &[Value], io: &IoContext, out: &mut Vec<u8>) {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out.push(self.opts.delimiter);
            }
            if v.is_null() {
                out.extend_from_slice(self.opts.null.as_bytes());
                continue;
            }
            let mut text = std::mem::take(&mut self.text);
            text.clear();
            format_text(v, io, &mut text);
            let force = self.force.get(i).copied().unwrap_or(false);
            self.field(text.as_bytes(), force, out);
            self.text = text;
        }
        out.push(b'\n');
    }

    fn field(&self, s: &[u8], force: bool, out: &mut Vec<u8>) {
        let d = self.opts.delimiter;
        match self.opts.format {
            CopyFormat::Text => {
                for &b in s {
                    match b {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        b'\t' if d == b'\t' => out.extend_from_slice(b"\\t"),
                        8 => out.extend_from_slice(b"\\b"),
                        12 => out.extend_from_slice(b"\\f"),
                        11 => out.extend_from_slice(b"\\v"),
                        b if b == d => {
                            out.push(b'\\');
                            out.push(b);
                        }
                        b => out.push(b),
                    }
                }
            }
            CopyFormat::Csv => {
                let (q, e) = (self.opts.quote, self.opts.escape);
                let needs = force
                    || s == self.opts.null.as_bytes()
                    || s == b"\\."
                    || s.iter()
                        .any(|&b| b == d || b == q || b == b'\n' || b == b'\r')
                    || (s.is_empty() && self.opts.null.is_empty());
                if !needs {
                    out.extend_from_slice(s);
                    return;
                }
                out.push(q);
                for &b in s {
                    if b == q || b == e {
                        out.push(e);
                    }
                    out.push(b);
                }
                out.push(q);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> Result<CopyStatement> {
        parse_copy(sql, 0, sql)
    }

    fn decode(opts: CopyOptions, chunks: &[&[u8]]) -> Result<Vec<Vec<Option<String>>>> {
        let mut d = CopyDecoder::new(opts);
        let mut out = Vec::new();
        let mut f = |r: Record<'_>| -> Result<()> {
            out.push(r.fields.iter().map(|f| f.map(str::to_owned)).collect());
            Ok(())
        };
        for c in chunks {
            d.feed(c, &mut f)?;
        }
        d.finish(&mut f)?;
        Ok(out)
    }

    #[test]
    fn parses_option_spellings() {
        let s = parse("copy pgbench_accounts from stdin with (freeze on)").unwrap();
        assert!(s.from && s.options.freeze && s.options.format == CopyFormat::Text);
        let s = parse(
            "COPY t (a, \"B\") FROM STDIN WITH (FORMAT csv, HEADER, DELIMITER ';', NULL 'x')",
        )
        .unwrap();
        assert_eq!(s.columns, vec!["a", "B"]);
        assert_eq!(s.options.delimiter, b';');
        assert_eq!(s.options.null, "x");
        assert!(s.options.header);
        let s = parse("copy t to stdout with csv header").unwrap();
        assert!(!s.from && s.options.header && s.options.delimiter == b',');
        let s = parse("copy (select 1) to stdout").unwrap();
        assert!(matches!(s.target, CopyTarget::Query(_)));
        assert_eq!(
            parse("copy t from stdin (bogus)").unwrap_err().state,
            SqlState::SYNTAX_ERROR
        );
        assert_eq!(
            parse("copy t from '/etc/passwd'").unwrap_err().state,
            SqlState::FEATURE_NOT_SUPPORTED
        );
        assert_eq!(
            parse("copy t from stdin (quote '\"')").unwrap_err().state,
            SqlState::FEATURE_NOT_SUPPORTED
        );
    }

    #[test]
    fn decodes_text_across_chunks() {
        let rows = decode(
            CopyOptions::default(),
            &[b"1\ta\\tb\t\\N\n2\t", b"x\\\\y\t\\101\n3\tlast\t"],
        )
        .unwrap();
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), Some("a\tb".into()), None],
                vec![Some("2".into()), Some("x\\y".into()), Some("A".into())],
                vec![Some("3".into()), Some("last".into()), Some("".into())],
            ]
        );
    }

    #[test]
    fn decodes_csv_quotes_and_nulls() {
        let opts = parse("copy t from stdin csv header").unwrap().options;
        let rows = decode(
            opts,
            &[b"a,b\n1,\"x,\"\"y\"\"\n", b"z\"\n2,\"\"\n3,\n\\.\n9,9\n"],
        )
        .unwrap();
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), Some("x,\"y\"\nz".into())],
                vec![Some("2".into()), Some("".into())],
                vec![Some("3".into()), None],
            ]
        );
    }

    #[test]
    fn encodes_round_trip() {
        let io = IoContext::default();
        for sql in ["copy t to stdout", "copy t to stdout (format csv)"] {
            let opts = parse(sql).unwrap().options;
            let mut enc = CopyEncoder::new(opts.clone(), &["a".into(), "b".into()]).unwrap();
            let mut out = Vec::new();
            let row = vec![Value::Text("x,\t\"\n\\y".into()), Value::Null];
            enc.row(&row, &io, &mut out);
            enc.row(&[Value::Text(String::new()), Value::Int4(5)], &io, &mut out);
            let back = decode(opts, &[&out]).unwrap();
            assert_eq!(
                back,
                vec![
                    vec![Some("x,\t\"\n\\y".into()), None],
                    vec![Some("".into()), Some("5".into())]
                ]
            );
        }
    }
}
