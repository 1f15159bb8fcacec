//! Binding COPY: the target table and columns (with DEFAULTs for the
//! columns the data leaves out), or the query whose rows COPY TO sends.

use super::*;
use crate::sql::copy::{CopyStatement, CopyTarget};

impl Binder<'_> {
    pub(super) fn bind_copy(&mut self, stmt: &CopyStatement) -> Result<Command> {
        let table = match &stmt.target {
            CopyTarget::Query(q) => {
                let ast::Statement::Query(q) = q.as_ref() else {
                    return Err(Error::unsupported("COPY (query) needs a SELECT"));
                };
                let (plan, cols) = self.bind_query(q, &[])?;
                return Ok(Command::CopyTo {
                    plan: Arc::new(plan),
                    column_names: cols.iter().map(|c| c.name.clone()).collect(),
                    options: stmt.options.clone(),
                });
            }
            CopyTarget::Table(name) => self.catalog.table(&object_name(name)?)?.clone(),
        };
        let def = table.def.clone();
        if def.is_view() {
            let (msg, hint) = if stmt.from {
                (format!("cannot copy to view \"{}\"", def.name), None)
            } else {
                (
                    format!("cannot copy from view \"{}\"", def.name),
                    Some("Try the COPY (SELECT ...) TO variant."),
                )
            };
            let err = Error::new(SqlState::WRONG_OBJECT_TYPE, msg);
            return Err(match hint {
                Some(h) => err.with_hint(h),
                None => err,
            });
        }
        let columns: Vec<usize> = if stmt.columns.is_empty() {
            (0..def.columns.len()).collect()
        } else {
            let mut cols = Vec::with_capacity(stmt.columns.len());
            for n in &stmt.columns {
                let i = def.column_index(n).ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!("column \"{n}\" of relation \"{}\" does not exist", def.name),
                    )
                })?;
                if cols.contains(&i) {
                    return Err(Error::new(
                        SqlState::DUPLICATE_COLUMN,
                        format!("column \"{n}\" specified more than once"),
                    ));
                }
                cols.push(i);
            }
            cols
        };
        if stmt.from {
            self.needs
                .borrow_mut()
                .insert_columns(&def, columns.iter().copied());
            let mut defaults = Vec::with_capacity(def.columns.len());
            for i in 0..def.columns.len() {
                defaults.push(if columns.contains(&i) {
                    None
                } else {
                    Some(self.default_expr(&table, i)?)
                });
            }
            return Ok(Command::CopyFrom(CopyFromPlan {
                table,
                columns,
                defaults,
                options: stmt.options.clone(),
            }));
        }
        {
            let mut needs = self.needs.borrow_mut();
            needs.touch(&def);
            if columns.is_empty() {
                needs.require(&def, crate::acl::Privilege::Select);
            }
            for &i in &columns {
                needs.select_column(def.oid, i);
            }
        }
        let plan = Plan::Project {
            input: Box::new(Plan::Scan {
                table: table.clone(),
                access: Access::Full,
                filter: None,
            }),
            exprs: columns.iter().map(|&i| Expr::Column(i)).collect(),
        };
        Ok(Command::CopyTo {
            plan: Arc::new(plan),
            column_names: columns
                .iter()
                .map(|&i| def.columns[i].name.clone())
                .collect(),
            options: stmt.options.clone(),
        })
    }
}
