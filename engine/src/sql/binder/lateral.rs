//! LATERAL: FROM items that read the rows of the items to their left —
//! subqueries marked `LATERAL` and function calls (implicitly lateral, as
//! in PostgreSQL).
//!
//! Such an item is bound with the left items' columns as the innermost
//! enclosing scope, so its references to them become outer references;
//! when it has any, it runs once per left row as the right side of a
//! [`Plan::Lateral`], which hands it that row as its innermost outer row.
//! An item that reads nothing from outside joins as usual.

use super::expr::plan_refers_outer;
use super::*;

/// Whether a FROM item may read the items to its left.
pub(super) fn may_be_lateral(tf: &ast::TableFactor) -> bool {
    match tf {
        ast::TableFactor::Derived { lateral, .. } => *lateral,
        ast::TableFactor::Table { args, .. } => args.is_some(),
        ast::TableFactor::Function { .. } | ast::TableFactor::UNNEST { .. } => true,
        _ => false,
    }
}

/// Whether an entry of a comma-separated FROM list may read the entries to
/// its left: its first item or one joined in it may.
pub(super) fn item_may_be_lateral(item: &ast::TableWithJoins) -> bool {
    may_be_lateral(&item.relation) || item.joins.iter().any(|j| may_be_lateral(&j.relation))
}

/// The enclosing scopes a FROM item to the right of `left` is bound in:
/// `left` innermost when the item may be lateral.
pub(super) fn item_scopes(lateral: bool, outer: &[Scope], left: &Scope) -> Vec<Scope> {
    let mut scopes = outer.to_vec();
    if lateral {
        scopes.push(left.clone());
    }
    scopes
}

/// Joins `right`, bound in [`item_scopes`] with `lateral`, to `left`: a
/// [`Plan::Lateral`] when it reads from outside, else `join` builds the
/// usual join.
pub(super) fn join_item(
    left: Plan,
    right: Plan,
    lateral: bool,
    kind: JoinKind,
    on: Option<Expr>,
    right_width: usize,
    join: impl FnOnce(Plan, Plan, JoinKind, Option<Expr>) -> Plan,
) -> Result<Plan> {
    if !(lateral && plan_refers_outer(&right)) {
        return Ok(join(left, right, kind, on));
    }
    if !matches!(kind, JoinKind::Inner | JoinKind::Left) {
        return Err(Error::new(
            SqlState::INVALID_COLUMN_REFERENCE,
            "invalid reference to FROM-clause entry of a LATERAL item",
        )
        .with_detail("The combining JOIN type must be INNER or LEFT for a LATERAL reference."));
    }
    Ok(Plan::Lateral {
        left: Box::new(left),
        right: Arc::new(right),
        kind,
        on,
        right_width,
    })
}
