//! Binding `UPDATE ... FROM` and `DELETE ... USING`: the target table
//! joined with other tables, the join condition given in WHERE.
//!
//! The target rows are read by the statement itself (it needs their
//! storage keys to write them); the join with the other tables is an
//! ordinary query plan whose left side is a work table holding the target
//! rows, each followed by its position among them. The executor keeps the
//! first joined row of each target row, as PostgreSQL keeps an arbitrary
//! one.

use super::dml::{choose_access, conjuncts};
use super::query::{make_join_with, push_filter, shift_columns};
use super::*;

/// The name of the hidden column that carries a target row's position
/// through the join; no identifier can name it.
const ORDINAL_COLUMN: &str = "\0target_row";

/// A bound `UPDATE ... FROM` / `DELETE ... USING` source.
pub(super) struct BoundDmlJoin {
    /// Target columns, the hidden position column, then the other tables'
    /// columns: the scope SET, WHERE and RETURNING are bound in.
    pub scope: Scope,
    /// How to reach the target rows and the WHERE parts that only read
    /// them.
    pub access: Access,
    pub filter: Option<Expr>,
    pub join: DmlJoin,
}

impl Binder<'_> {
    /// Binds the other tables of an UPDATE/DELETE and its WHERE clause.
    pub(super) fn bind_dml_join(
        &mut self,
        table: &Table,
        target: Scope,
        from: &[ast::TableWithJoins],
        selection: Option<&ast::Expr>,
    ) -> Result<BoundDmlJoin> {
        let target_name = target.cols.first().and_then(|c| c.table.clone());
        let (from_plan, from_scope) = self.bind_from(from, &[])?;
        if let Some(name) = &target_name {
            if from_scope
                .cols
                .iter()
                .any(|c| c.table.as_deref() == Some(name.as_str()))
            {
                return Err(Error::new(
                    SqlState("42712"),
                    format!("table name \"{name}\" specified more than once"),
                ));
            }
        }
        let target_width = target.width();
        let from_width = from_scope.width();
        let mut scope = target;
        scope.cols.push(ScopeCol {
            table: None,
            hidden: true,
            merged: false,
            name: ORDINAL_COLUMN.into(),
            ty: DataType::Int8,
            table_oid: 0,
            col_id: 0,
        });
        scope.cols.extend(from_scope.cols);
        let pred = match selection {
            Some(e) => Some(self.bind_predicate(e, std::slice::from_ref(&scope))?),
            None => None,
        };
        if pred.as_ref().is_some_and(query::contains_agg) {
            return Err(Error::new(
                SqlState::GROUPING_ERROR,
                "aggregate functions are not allowed in WHERE",
            ));
        }
        // Conditions on the target alone choose its access path; those on
        // the other tables alone filter them before the join; the rest is
        // the join condition.
        let left_width = target_width + 1;
        let mut target_parts = Vec::new();
        let mut from_parts = Vec::new();
        let mut join_parts = Vec::new();
        for part in pred.iter().flat_map(conjuncts) {
            match columns_side(part, left_width) {
                Some(true) => target_parts.push(part.clone()),
                Some(false) => from_parts.push(shift_columns(part.clone(), left_width)),
                None => join_parts.push(part.clone()),
            }
        }
        let and_all = |parts: Vec<Expr>| {
            parts
                .into_iter()
                .reduce(|a, b| Expr::And(Box::new(a), Box::new(b)))
        };
        let filter = and_all(target_parts);
        let access = choose_access(table, filter.as_ref());
        let from_plan = match and_all(from_parts) {
            Some(p) => push_filter(from_plan, p),
            None => from_plan,
        };
        let id = self.next_subquery;
        self.next_subquery += 1;
        let plan = make_join_with(
            Plan::WorkTable { id },
            from_plan,
            JoinKind::Inner,
            join_parts,
            left_width,
            from_width,
        );
        Ok(BoundDmlJoin {
            scope,
            access,
            filter,
            join: DmlJoin {
                id,
                plan: Arc::new(plan),
            },
        })
    }
}

/// Which side of the join a WHERE part reads: `Some(true)` only the target
/// (columns below `left_width`), `Some(false)` only the other tables,
/// `None` both, neither, or something evaluated per joined row (a
/// subquery, which may be correlated with either side).
fn columns_side(e: &Expr, left_width: usize) -> Option<bool> {
    let mut left = false;
    let mut right = false;
    let mut per_row = false;
    e.walk(&mut |x| match x {
        Expr::Column(i) if *i < left_width => left = true,
        Expr::Column(_) => right = true,
        Expr::Subquery(_) | Expr::Agg(_) => per_row = true,
        _ => {}
    });
    match (left, right, per_row) {
        (true, false, false) => Some(true),
        (false, true, false) => Some(false),
        _ => None,
    }
}
