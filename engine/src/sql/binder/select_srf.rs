//! Set-returning functions in a select list (`SELECT id, unnest(tags)
//! FROM t`), with PostgreSQL 10's semantics: the calls of one select list
//! run in lockstep for each input row, the shorter ones padded with NULL,
//! so the row yields as many rows as its longest call (none when every
//! call is empty).
//!
//! While a select list is bound, each call is collected and stands, in the
//! expression around it, for a column past the input row's columns: the
//! [`Plan::ProjectSet`] below the projection appends the calls' values to
//! each input row. Everywhere else a call is refused with PostgreSQL's
//! message for that clause.

use super::*;

pub(super) const IN_WHERE: &str = "set-returning functions are not allowed in WHERE";
pub(super) const IN_JOIN: &str = "set-returning functions are not allowed in JOIN conditions";
pub(super) const IN_HAVING: &str = "set-returning functions are not allowed in HAVING";
pub(super) const IN_UPDATE: &str = "set-returning functions are not allowed in UPDATE";
pub(super) const IN_VALUES: &str = "set-returning functions are not allowed in VALUES";
pub(super) const IN_LIMIT: &str = "set-returning functions are not allowed in LIMIT";
pub(super) const IN_CASE: &str = "set-returning functions are not allowed in CASE";
pub(super) const IN_COALESCE: &str = "set-returning functions are not allowed in COALESCE";
pub(super) const IN_AGGREGATE: &str =
    "aggregate function calls cannot contain set-returning function calls";
/// Places PostgreSQL accepts but joltdb does not evaluate them in.
pub(super) const UNSUPPORTED: &str =
    "set-returning functions are only supported in FROM and in a select list";
const NESTED: &str =
    "set-returning functions in the arguments of a set-returning function are not supported";

/// Where a set-returning function met while binding goes.
pub(super) enum SrfPlace {
    /// Refused with this message.
    Refused(&'static str),
    /// Collected for the select list being bound; the call `k` is read as
    /// column `base + k`.
    Collect { base: usize, calls: Vec<SetCall> },
}

impl Default for SrfPlace {
    fn default() -> Self {
        SrfPlace::Refused(UNSUPPORTED)
    }
}

impl Binder<'_> {
    /// Runs `f` with set-returning functions refused with `message`.
    pub(super) fn refusing_set_functions<T>(
        &mut self,
        message: &'static str,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let saved = std::mem::replace(&mut self.srf, SrfPlace::Refused(message));
        let r = f(self);
        self.srf = saved;
        r
    }

    /// Runs `f` (binding a select list over rows `base` columns wide)
    /// collecting its set-returning function calls after `calls`.
    pub(super) fn collecting_set_functions<T>(
        &mut self,
        base: usize,
        calls: Vec<SetCall>,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<(T, Vec<SetCall>)> {
        let saved = std::mem::replace(&mut self.srf, SrfPlace::Collect { base, calls });
        let r = f(self);
        let place = std::mem::replace(&mut self.srf, saved);
        let calls = match place {
            SrfPlace::Collect { calls, .. } => calls,
            SrfPlace::Refused(_) => Vec::new(),
        };
        Ok((r?, calls))
    }

    /// A call of the set-returning function `name` met in an expression.
    pub(super) fn bind_set_function_call(
        &mut self,
        f: &ast::Function,
        scopes: &[Scope],
    ) -> Result<(Expr, DataType)> {
        let place = std::mem::replace(&mut self.srf, SrfPlace::Refused(NESTED));
        let (base, mut calls) = match place {
            SrfPlace::Collect { base, calls } => (base, calls),
            SrfPlace::Refused(message) => {
                self.srf = SrfPlace::Refused(message);
                let err = Error::new(SqlState::FEATURE_NOT_SUPPORTED, message);
                return Err(if matches!(message, IN_CASE | IN_COALESCE | IN_AGGREGATE) {
                    err.with_hint(
                        "You might be able to move the set-returning function into a LATERAL FROM item.",
                    )
                } else {
                    err
                });
            }
        };
        let bound = (|| {
            let ast::FunctionArguments::List(list) = &f.args else {
                return Err(Error::syntax(format!("invalid call {f}")));
            };
            if !list.clauses.is_empty() || list.duplicate_treatment.is_some() || f.filter.is_some()
            {
                return Err(Error::syntax(format!(
                    "{} is not an aggregate function",
                    f.name
                )));
            }
            let (func, args, ty) = self.bind_set_call(&f.name, &list.args, scopes)?;
            if func.column_names().is_some() {
                return Err(Error::unsupported(format!(
                    "{}() returns a record; call it in FROM",
                    func.name()
                )));
            }
            Ok((SetCall { func, args }, ty))
        })();
        let result = bound.map(|(call, ty)| {
            calls.push(call);
            (Expr::Column(base + calls.len() - 1), ty)
        });
        self.srf = SrfPlace::Collect { base, calls };
        result
    }
}

/// The depth that marks a set-returning call's column while the select
/// list is rewritten over aggregated rows (no real outer reference is
/// this deep).
const SET_COLUMN_MARK: usize = usize::MAX;

/// Replaces the columns of the select list's set-returning calls (`base`
/// and up) with marks that aggregate rewriting leaves alone.
pub(super) fn hide_set_columns(e: Expr, base: usize) -> Expr {
    e.transform(&mut |x| {
        Ok(match x {
            Expr::Column(i) if *i >= base => Some(Expr::Outer {
                depth: SET_COLUMN_MARK,
                index: i - base,
            }),
            _ => None,
        })
    })
    .expect("infallible")
}

/// Whether an expression reads a set-returning call's (hidden) column.
pub(super) fn reads_set_columns(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if matches!(x, Expr::Outer { depth, .. } if *depth == SET_COLUMN_MARK) {
            found = true;
        }
    });
    found
}

/// Turns the marks of [`hide_set_columns`] into the columns the calls'
/// values take after `width` aggregated columns.
pub(super) fn place_set_columns(e: Expr, width: usize) -> Expr {
    e.transform(&mut |x| {
        Ok(match x {
            Expr::Outer { depth, index } if *depth == SET_COLUMN_MARK => {
                Some(Expr::Column(width + index))
            }
            _ => None,
        })
    })
    .expect("infallible")
}
