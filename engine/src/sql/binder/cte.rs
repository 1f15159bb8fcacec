//! Binding WITH: common table expressions, visible to the query that
//! declares them (and its subqueries) and to the CTEs declared after them;
//! WITH RECURSIVE becomes a [`Plan::RecursiveUnion`] over a work table.

use super::*;

/// A CTE in scope while its query is bound.
pub(super) struct CteBinding {
    name: String,
    cols: Vec<OutCol>,
    source: CteSource,
}

enum CteSource {
    Plan(Arc<Plan>),
    /// A recursive CTE referenced from its own recursive term.
    WorkTable {
        id: usize,
        used: bool,
    },
}

impl Binder<'_> {
    /// Binds a WITH list, bringing its CTEs into scope; returns the mark
    /// to pass to [`Binder::pop_ctes`] once the query is bound.
    pub(super) fn push_ctes(&mut self, with: &ast::With) -> Result<usize> {
        let mark = self.ctes.len();
        for cte in &with.cte_tables {
            let name = ident(&cte.alias.name);
            if self.ctes[mark..].iter().any(|c| c.name == name) {
                return Err(Error::new(
                    SqlState("42712"),
                    format!("WITH query name \"{name}\" specified more than once"),
                ));
            }
            let binding = if with.recursive {
                match self.bind_recursive(&name, cte)? {
                    Some(b) => b,
                    None => self.bind_plain_cte(&name, cte)?,
                }
            } else {
                self.bind_plain_cte(&name, cte)?
            };
            self.ctes.push(binding);
        }
        Ok(mark)
    }

    pub(super) fn pop_ctes(&mut self, mark: usize) {
        self.ctes.truncate(mark);
    }

    fn bind_plain_cte(&mut self, name: &str, cte: &ast::Cte) -> Result<CteBinding> {
        let (plan, mut cols) = self.bind_query(&cte.query, &[])?;
        rename_cte_columns(name, &mut cols, &cte.alias.columns)?;
        Ok(CteBinding {
            name: name.to_string(),
            cols,
            source: CteSource::Plan(Arc::new(plan)),
        })
    }

    /// `anchor UNION [ALL] recursive-term` where the recursive term names
    /// the CTE itself; `None` when the CTE does not refer to itself.
    fn bind_recursive(&mut self, name: &str, cte: &ast::Cte) -> Result<Option<CteBinding>> {
        let ast::SetExpr::SetOperation {
            left,
            op: ast::SetOperator::Union,
            set_quantifier,
            right,
        } = &*cte.query.body
        else {
            return Ok(None);
        };
        if cte.query.with.is_some()
            || cte.query.order_by.is_some()
            || cte.query.limit_clause.is_some()
        {
            return Err(Error::unsupported(
                "WITH, ORDER BY and LIMIT in a recursive query are not supported",
            ));
        }
        let (anchor, cols) = self.bind_set_expr(left, &[])?;
        let mut cols = cols.to_vec();
        rename_cte_columns(name, &mut cols, &cte.alias.columns)?;
        for c in &mut cols {
            if c.ty == DataType::Unknown {
                c.ty = DataType::Text;
            }
        }
        let id = self.next_subquery;
        self.next_subquery += 1;
        self.ctes.push(CteBinding {
            name: name.to_string(),
            cols: cols.clone(),
            source: CteSource::WorkTable { id, used: false },
        });
        let bound = self.bind_set_expr(right, &[]);
        let binding = self.ctes.pop().expect("the work table binding");
        let (recursive, rcols) = bound?;
        if !matches!(binding.source, CteSource::WorkTable { used: true, .. }) {
            return Ok(None);
        }
        if rcols.len() != cols.len() {
            return Err(Error::syntax(
                "each UNION query must have the same number of columns",
            ));
        }
        let mut exprs = Vec::with_capacity(cols.len());
        for (i, (c, r)) in cols.iter().zip(&rcols).enumerate() {
            exprs.push(if c.ty == r.ty {
                Expr::Column(i)
            } else {
                self.coerce_assign(Expr::Column(i), r.ty, c.ty, &c.name)
                    .map_err(|_| {
                        Error::new(
                            SqlState::DATATYPE_MISMATCH,
                            format!(
                                "recursive query \"{name}\" column {} has type {} in non-recursive term but type {} overall",
                                i + 1,
                                c.ty.sql_name(),
                                r.ty.sql_name()
                            ),
                        )
                    })?
            });
        }
        let all = matches!(set_quantifier, ast::SetQuantifier::All);
        let plan = Plan::RecursiveUnion {
            anchor: Box::new(anchor),
            recursive: Box::new(Plan::Project {
                input: Box::new(recursive),
                exprs,
            }),
            all,
            id,
        };
        Ok(Some(CteBinding {
            name: name.to_string(),
            cols,
            source: CteSource::Plan(Arc::new(plan)),
        }))
    }

    /// The plan and scope of a FROM item naming a CTE in scope.
    pub(super) fn cte_reference(
        &mut self,
        name: &ast::ObjectName,
        alias: Option<&ast::TableAlias>,
    ) -> Result<Option<(Plan, Scope)>> {
        let [ast::ObjectNamePart::Identifier(id)] = name.0.as_slice() else {
            return Ok(None);
        };
        let n = ident(id);
        let Some(binding) = self.ctes.iter_mut().rev().find(|c| c.name == n) else {
            return Ok(None);
        };
        let plan = match &mut binding.source {
            CteSource::Plan(p) => (**p).clone(),
            CteSource::WorkTable { id, used } => {
                *used = true;
                Plan::WorkTable { id: *id }
            }
        };
        let tname = alias.map(|a| ident(&a.name)).unwrap_or(n);
        let mut scope = Scope {
            cols: binding
                .cols
                .iter()
                .map(|c| ScopeCol {
                    table: Some(tname.clone()),
                    hidden: false,
                    merged: false,
                    name: c.name.clone(),
                    ty: c.ty,
                    table_oid: 0,
                    col_id: 0,
                })
                .collect(),
        };
        if let Some(a) = alias {
            super::query::rename_columns(&mut scope, &a.columns)?;
        }
        Ok(Some((plan, scope)))
    }
}

fn rename_cte_columns(
    name: &str,
    cols: &mut [OutCol],
    names: &[ast::TableAliasColumnDef],
) -> Result<()> {
    if names.len() > cols.len() {
        return Err(Error::new(
            SqlState::INVALID_COLUMN_REFERENCE,
            format!(
                "WITH query \"{name}\" has {} columns available but {} columns specified",
                cols.len(),
                names.len()
            ),
        ));
    }
    for (c, n) in cols.iter_mut().zip(names) {
        c.name = ident(&n.name);
        c.table_oid = 0;
        c.col_id = 0;
    }
    Ok(())
}
