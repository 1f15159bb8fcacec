//! CREATE DATABASE and DROP DATABASE as PostgreSQL 15 writes them, which
//! sqlparser does not know in full:
//!
//! ```text
//! CREATE DATABASE name [ [WITH] option [=] value ... ]
//! DROP DATABASE [IF EXISTS] name [ [WITH] ( FORCE [, ...] ) ]
//! ```
//!
//! Every option PostgreSQL knows is accepted where joltdb can honour it:
//! `OWNER`, `TEMPLATE template0 | template1` (a new database starts
//! empty), `ENCODING 'UTF8'`, `TABLESPACE pg_default`,
//! `ALLOW_CONNECTIONS true`, `CONNECTION LIMIT -1`, `IS_TEMPLATE false`;
//! the locale options (`LOCALE`, `LC_COLLATE`, `LC_CTYPE`, `ICU_LOCALE`,
//! `LOCALE_PROVIDER`, `COLLATION_VERSION`) and `STRATEGY` are accepted
//! and have no effect (joltdb compares text bytewise, as the C locale
//! does, in every database). Other values are refused with 0A000.

use crate::error::{Error, Result, SqlState};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseStatement {
    Create {
        name: String,
        /// OWNER: the role that will own the database (default: the
        /// current role).
        owner: Option<String>,
        /// TEMPLATE other than template0/template1/DEFAULT, checked when
        /// the statement runs.
        template: Option<String>,
    },
    Drop {
        name: String,
        if_exists: bool,
        /// WITH (FORCE): end the other sessions connected to it first.
        force: bool,
    },
}

/// One token of the statement, whitespace dropped.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// An unquoted word, lower-cased.
    Word(String),
    /// A double-quoted identifier, case kept.
    Quoted(String),
    Str(String),
    Number(String),
    Punct(char),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Word(w) | Tok::Number(w) => w.clone(),
            Tok::Quoted(q) => format!("\"{q}\""),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Punct(c) => c.to_string(),
        }
    }
}

fn tokens(text: &str) -> Result<Vec<Tok>> {
    let dialect = PostgreSqlDialect {};
    let raw = Tokenizer::new(&dialect, text)
        .tokenize()
        .map_err(|e| Error::syntax(format!("syntax error: {e}")))?;
    let mut out = Vec::new();
    for t in raw {
        out.push(match t {
            Token::Whitespace(_) | Token::EOF => continue,
            Token::SemiColon => break,
            Token::Word(w) => match w.quote_style {
                Some(_) if w.value.is_empty() => {
                    return Err(Error::syntax(
                        "zero-length delimited identifier at or near \"\"\"\"",
                    ))
                }
                Some(_) => Tok::Quoted(w.value),
                None => Tok::Word(w.value.to_lowercase()),
            },
            Token::SingleQuotedString(s) | Token::EscapedStringLiteral(s) => Tok::Str(s),
            Token::Number(n, _) => Tok::Number(n),
            Token::Eq => Tok::Punct('='),
            Token::LParen => Tok::Punct('('),
            Token::RParen => Tok::Punct(')'),
            Token::Comma => Tok::Punct(','),
            Token::Minus => Tok::Punct('-'),
            other => {
                return Err(Error::syntax(format!(
                    "syntax error at or near \"{other}\""
                )))
            }
        });
    }
    Ok(out)
}

struct Cursor {
    toks: Vec<Tok>,
    pos: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        let yes = self.is_word(w);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let yes = self.peek() == Some(&Tok::Punct(c));
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn unexpected(&self) -> Error {
        match self.peek() {
            Some(t) => Error::syntax(format!("syntax error at or near \"{}\"", t.text())),
            None => Error::syntax("syntax error at end of input"),
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<()> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect_punct(&mut self, c: char) -> Result<()> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// A name: an identifier, unquoted (lower-cased) or quoted.
    fn name(&mut self) -> Result<String> {
        match self.peek() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.unexpected()),
        }
    }

    /// An option value: a word, a string, a (possibly negative) number.
    fn value(&mut self) -> Result<OptionValue> {
        let negative = self.eat_punct('-');
        match self.next() {
            Some(Tok::Number(n)) => Ok(OptionValue(if negative { format!("-{n}") } else { n })),
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) | Some(Tok::Str(w)) if !negative => {
                Ok(OptionValue(w))
            }
            _ => {
                self.pos -= 1;
                Err(self.unexpected())
            }
        }
    }

    fn end(&self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected()),
        }
    }
}

/// An option's value as written (without quotes).
struct OptionValue(String);

impl OptionValue {
    fn is_default(&self) -> bool {
        self.0.eq_ignore_ascii_case("default")
    }

    fn as_bool(&self, option: &str) -> Result<bool> {
        match self.0.to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" | "1" | "t" | "y" => Ok(true),
            "false" | "off" | "no" | "0" | "f" | "n" => Ok(false),
            _ => Err(Error::new(
                SqlState::SYNTAX_ERROR,
                format!("{option} requires a Boolean value"),
            )),
        }
    }
}

fn unsupported(what: impl Into<String>) -> Error {
    Error::new(SqlState::FEATURE_NOT_SUPPORTED, what.into())
}

/// Parses one CREATE DATABASE or DROP DATABASE statement.
pub fn parse_statement(text: &str) -> Result<DatabaseStatement> {
    let mut c = Cursor {
        toks: tokens(text)?,
        pos: 0,
    };
    if c.eat_word("create") {
        c.expect_word("database")?;
        parse_create(&mut c)
    } else {
        c.expect_word("drop")?;
        c.expect_word("database")?;
        parse_drop(&mut c)
    }
}

fn parse_create(c: &mut Cursor) -> Result<DatabaseStatement> {
    let name = c.name()?;
    let mut owner = None;
    let mut template = None;
    let mut seen: Vec<String> = Vec::new();
    c.eat_word("with");
    while c.peek().is_some() {
        let option = match c.next() {
            Some(Tok::Word(w)) if w == "connection" => {
                c.expect_word("limit")?;
                "connection limit".to_string()
            }
            Some(Tok::Word(w)) => w,
            _ => {
                c.pos -= 1;
                return Err(c.unexpected());
            }
        };
        if seen.contains(&option) {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                "conflicting or redundant options",
            ));
        }
        c.eat_punct('=');
        let value = c.value()?;
        match option.as_str() {
            "owner" => {
                if !value.is_default() {
                    owner = Some(value.0);
                }
            }
            "template" => {
                let t = value.0;
                if !(value_is_default(&t) || t == "template0" || t == "template1") {
                    template = Some(t);
                }
            }
            "encoding" => {
                let e = value.0.to_ascii_lowercase().replace(['-', '_'], "");
                if !matches!(e.as_str(), "utf8" | "unicode" | "6" | "default") {
                    return Err(
                        unsupported(format!("encoding \"{}\" is not supported", value.0))
                            .with_detail("joltdb databases use the UTF8 encoding."),
                    );
                }
            }
            "tablespace" => {
                if !(value.is_default() || value.0 == "pg_default") {
                    return Err(Error::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("tablespace \"{}\" does not exist", value.0),
                    ));
                }
            }
            "allow_connections" => {
                if !value.is_default() && !value.as_bool(&option)? {
                    return Err(unsupported(
                        "databases that do not allow connections are not supported",
                    ));
                }
            }
            "connection limit" => {
                if !value.is_default() && value.0 != "-1" {
                    return Err(unsupported(
                        "connection limits per database are not supported",
                    ));
                }
            }
            "is_template" => {
                if !value.is_default() && value.as_bool(&option)? {
                    return Err(unsupported("template databases are not supported"));
                }
            }
            "oid" => return Err(unsupported("CREATE DATABASE ... OID is not supported")),
            "locale" | "lc_collate" | "lc_ctype" | "icu_locale" | "locale_provider"
            | "collation_version" | "strategy" => {}
            _ => {
                return Err(Error::new(
                    SqlState::SYNTAX_ERROR,
                    format!("option \"{option}\" not recognized"),
                ))
            }
        }
        seen.push(option);
    }
    Ok(DatabaseStatement::Create {
        name,
        owner,
        template,
    })
}

fn value_is_default(v: &str) -> bool {
    v.eq_ignore_ascii_case("default")
}

fn parse_drop(c: &mut Cursor) -> Result<DatabaseStatement> {
    let if_exists = if c.eat_word("if") {
        c.expect_word("exists")?;
        true
    } else {
        false
    };
    let name = c.name()?;
    let mut force = false;
    if c.peek().is_some() {
        c.eat_word("with");
        c.expect_punct('(')?;
        loop {
            c.expect_word("force")?;
            force = true;
            if !c.eat_punct(',') {
                break;
            }
        }
        c.expect_punct(')')?;
    }
    c.end()?;
    Ok(DatabaseStatement::Drop {
        name,
        if_exists,
        force,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(name: &str, owner: Option<&str>, template: Option<&str>) -> DatabaseStatement {
        DatabaseStatement::Create {
            name: name.into(),
            owner: owner.map(Into::into),
            template: template.map(Into::into),
        }
    }

    #[test]
    fn parses_create_with_the_usual_options() {
        assert_eq!(
            parse_statement("CREATE DATABASE Test_X").unwrap(),
            create("test_x", None, None)
        );
        assert_eq!(
            parse_statement(
                "create database \"Mixed\" WITH OWNER = alice TEMPLATE template0 \
                 ENCODING 'UTF8' LC_COLLATE 'en_US.UTF-8' LC_CTYPE = 'C' \
                 CONNECTION LIMIT = -1 TABLESPACE pg_default IS_TEMPLATE false;"
            )
            .unwrap(),
            create("Mixed", Some("alice"), None)
        );
        assert_eq!(
            parse_statement("create database a template b").unwrap(),
            create("a", None, Some("b"))
        );
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        let state = |sql: &str| parse_statement(sql).unwrap_err().state;
        assert_eq!(state("create database a foo 1"), SqlState::SYNTAX_ERROR);
        assert_eq!(
            state("create database a owner x owner y"),
            SqlState::SYNTAX_ERROR
        );
        assert_eq!(
            state("create database a encoding 'LATIN1'"),
            SqlState::FEATURE_NOT_SUPPORTED
        );
        assert_eq!(
            state("create database a tablespace t"),
            SqlState::UNDEFINED_OBJECT
        );
        assert_eq!(
            state("create database a connection limit 5"),
            SqlState::FEATURE_NOT_SUPPORTED
        );
        assert_eq!(state("create database \"\""), SqlState::SYNTAX_ERROR);
        assert_eq!(state("create database"), SqlState::SYNTAX_ERROR);
    }

    #[test]
    fn parses_drop() {
        assert_eq!(
            parse_statement("DROP DATABASE IF EXISTS t WITH (FORCE)").unwrap(),
            DatabaseStatement::Drop {
                name: "t".into(),
                if_exists: true,
                force: true
            }
        );
        assert_eq!(
            parse_statement("drop database t (force, force)").unwrap(),
            DatabaseStatement::Drop {
                name: "t".into(),
                if_exists: false,
                force: true
            }
        );
        let e = parse_statement("drop database t with (foo)").unwrap_err();
        assert_eq!(e.message, "syntax error at or near \"foo\"");
        assert!(parse_statement("drop database t cascade").is_err());
    }
}
