//! Limits that keep hostile or runaway statements from exhausting the
//! server: how deeply a statement may nest (54001 instead of a stack
//! overflow).
//!
//! Parentheses, subqueries and function calls are bounded by the parser's
//! recursion limit. A chain of binary operators (`1+1+1+...`) is parsed
//! without recursion but becomes a tree as deep as the chain is long, which
//! everything after the parser walks recursively; [`check_operator_chain`]
//! refuses such statements before they are parsed, and the binder refuses
//! expressions nested deeper than [`MAX_EXPR_DEPTH`].

use crate::error::{Error, Result, SqlState};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Deepest expression nesting the binder accepts.
pub const MAX_EXPR_DEPTH: usize = 1000;

/// Longest chain of binary operators (`a + b + c ...`, `x OR y OR ...`)
/// at one parenthesis level. A statement shorter than this many bytes cannot
/// hold a longer one, so only long statements are tokenized.
pub const MAX_OPERATOR_CHAIN: usize = MAX_EXPR_DEPTH;

/// Runs `f`, first moving to a fresh stack segment when little of the
/// current one is left, so recursion bounded by [`MAX_EXPR_DEPTH`] never
/// overflows whatever the thread's stack size and the build's frame sizes.
pub fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(256 * 1024, 8 * 1024 * 1024, f)
}

/// `stack depth limit exceeded` (54001).
pub fn too_deep() -> Error {
    Error::new(
        SqlState::STATEMENT_TOO_COMPLEX,
        "stack depth limit exceeded",
    )
    .with_hint("The statement is nested too deeply; simplify it.")
}

fn is_binary_operator(t: &Token) -> bool {
    match t {
        Token::Word(w) => matches!(w.keyword, Keyword::AND | Keyword::OR),
        Token::Plus
        | Token::Minus
        | Token::Mul
        | Token::Div
        | Token::Mod
        | Token::StringConcat
        | Token::Eq
        | Token::Neq
        | Token::Lt
        | Token::Gt
        | Token::LtEq
        | Token::GtEq
        | Token::Caret
        | Token::Ampersand
        | Token::Pipe
        | Token::ShiftLeft
        | Token::ShiftRight
        | Token::DoubleColon => true,
        _ => false,
    }
}

/// Refuses statements holding an operator chain longer than
/// [`MAX_OPERATOR_CHAIN`] (a comma or a parenthesis ends a chain, so long
/// VALUES lists and IN lists are fine), or more set operations than that.
pub fn check_operator_chain(text: &str) -> Result<()> {
    if text.len() < MAX_OPERATOR_CHAIN {
        return Ok(());
    }
    let dialect = PostgreSqlDialect {};
    // A statement the tokenizer rejects gets its error from the parser.
    let Ok(tokens) = Tokenizer::new(&dialect, text).tokenize() else {
        return Ok(());
    };
    let mut chain = 0usize;
    // Set operations chain across select lists and parentheses, so all of
    // a statement's UNION/INTERSECT/EXCEPT count together.
    let mut set_ops = 0usize;
    for t in &tokens {
        match t {
            Token::Word(w)
                if matches!(
                    w.keyword,
                    Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT
                ) =>
            {
                set_ops += 1;
                if set_ops > MAX_OPERATOR_CHAIN {
                    return Err(too_deep());
                }
            }
            Token::Comma | Token::LParen | Token::RParen | Token::SemiColon => chain = 0,
            t if is_binary_operator(t) => {
                chain += 1;
                if chain > MAX_OPERATOR_CHAIN {
                    return Err(too_deep());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_operator_chain_is_refused() {
        let chain = vec!["1"; MAX_OPERATOR_CHAIN + 2].join("+");
        let err = check_operator_chain(&format!("SELECT {chain}")).unwrap_err();
        assert_eq!(err.state, SqlState::STATEMENT_TOO_COMPLEX);
        let values = vec!["(-1, 'a'::text)"; 2 * MAX_OPERATOR_CHAIN].join(", ");
        check_operator_chain(&format!("INSERT INTO t VALUES {values}")).unwrap();
    }
}
