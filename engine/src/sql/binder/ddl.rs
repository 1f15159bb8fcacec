//! Binding CREATE TABLE.

use super::*;

impl Binder<'_> {
    pub(super) fn bind_create_table(&mut self, ct: &ast::CreateTable) -> Result<CreateTablePlan> {
        let name = object_name(&ct.name)?;
        if ct.query.is_some() {
            return Err(Error::unsupported("CREATE TABLE AS is not supported"));
        }
        let mut columns: Vec<NewColumn> = Vec::new();
        let mut primary_key: Vec<usize> = Vec::new();
        let mut pk_name = None;
        let mut uniques = Vec::new();
        let mut checks = Vec::new();
        let mut foreign_keys = Vec::new();
        for c in &ct.columns {
            let cname = ident(&c.name);
            if columns.iter().any(|x| x.name == cname) {
                return Err(Error::new(
                    SqlState::DUPLICATE_COLUMN,
                    format!("column \"{cname}\" specified more than once"),
                ));
            }
            let idx = columns.len();
            let mut col = NewColumn {
                name: cname.clone(),
                data_type: convert_type(&c.data_type)?,
                not_null: false,
                default: None,
                identity: None,
                serial: is_serial(&c.data_type),
            };
            if col.serial {
                col.not_null = true;
            }
            for opt in &c.options {
                match &opt.option {
                    ast::ColumnOption::Null => col.not_null = false,
                    ast::ColumnOption::NotNull => col.not_null = true,
                    ast::ColumnOption::Default(e) => {
                        // Validate now so a bad default fails at CREATE.
                        col.default = Some(e.to_string());
                    }
                    ast::ColumnOption::PrimaryKey(pk) => {
                        if !primary_key.is_empty() {
                            return Err(multiple_pk(&name));
                        }
                        primary_key.push(idx);
                        col.not_null = true;
                        pk_name = pk.name.as_ref().map(ident).or(opt.name.as_ref().map(ident));
                    }
                    ast::ColumnOption::Unique(u) => uniques.push((
                        u.name.as_ref().map(ident).or(opt.name.as_ref().map(ident)),
                        vec![idx],
                    )),
                    ast::ColumnOption::Check(chk) => checks.push((
                        chk.name
                            .as_ref()
                            .map(ident)
                            .or(opt.name.as_ref().map(ident))
                            .or_else(|| Some(format!("{name}_{cname}_check"))),
                        chk.expr.to_string(),
                    )),
                    ast::ColumnOption::Generated {
                        generated_as,
                        generation_expr,
                        ..
                    } => {
                        if generation_expr.is_some() {
                            return Err(Error::unsupported("generated columns are not supported"));
                        }
                        col.identity = Some(match generated_as {
                            ast::GeneratedAs::Always => IdentityKind::Always,
                            _ => IdentityKind::ByDefault,
                        });
                        col.not_null = true;
                    }
                    ast::ColumnOption::ForeignKey(fk) => {
                        foreign_keys.push(foreign_key::bind_foreign_key(
                            fk,
                            opt.name.as_ref().map(ident),
                            &[],
                            Some(idx),
                        )?)
                    }
                    ast::ColumnOption::Collation(_) | ast::ColumnOption::Comment(_) => {}
                    other => {
                        return Err(Error::unsupported(format!(
                            "column option not supported: {other}"
                        )))
                    }
                }
            }
            if (col.serial || col.identity.is_some()) && !col.data_type.is_integer() {
                return Err(Error::new(
                    SqlState::DATATYPE_MISMATCH,
                    "identity column type must be smallint, integer, or bigint",
                ));
            }
            columns.push(col);
        }
        let col_idx = |i: &ast::Ident| -> Result<usize> {
            let n = ident(i);
            columns.iter().position(|c| c.name == n).ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{n}\" named in key does not exist"),
                )
            })
        };
        let index_cols = |cols: &[ast::IndexColumn]| -> Result<Vec<usize>> {
            cols.iter()
                .map(|c| match &c.column.expr {
                    ast::Expr::Identifier(i) => col_idx(i),
                    other => Err(Error::unsupported(format!(
                        "key expression not supported: {other}"
                    ))),
                })
                .collect()
        };
        for tc in &ct.constraints {
            match tc {
                ast::TableConstraint::PrimaryKey(pk) => {
                    if !primary_key.is_empty() {
                        return Err(multiple_pk(&name));
                    }
                    primary_key = index_cols(&pk.columns)?;
                    pk_name = pk.name.as_ref().map(ident);
                }
                ast::TableConstraint::Unique(u) => {
                    uniques.push((u.name.as_ref().map(ident), index_cols(&u.columns)?))
                }
                ast::TableConstraint::Check(chk) => {
                    checks.push((chk.name.as_ref().map(ident), chk.expr.to_string()))
                }
                ast::TableConstraint::ForeignKey(fk) => {
                    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
                    foreign_keys.push(foreign_key::bind_foreign_key(fk, None, &names, None)?)
                }
                other => {
                    return Err(Error::unsupported(format!(
                        "table constraint not supported: {other}"
                    )))
                }
            }
        }
        for &i in &primary_key {
            columns[i].not_null = true;
        }
        let partition_by = match &ct.partition_by {
            None => None,
            Some(e) => Some(self.partition_columns(e, &columns)?),
        };
        // Validate defaults and checks against the new columns.
        let scope = Scope {
            cols: columns
                .iter()
                .map(|c| ScopeCol {
                    table: Some(name.clone()),
                    hidden: false,
                    merged: false,
                    name: c.name.clone(),
                    ty: c.data_type,
                    table_oid: 0,
                    col_id: 0,
                })
                .collect(),
        };
        for c in &columns {
            if let Some(d) = &c.default {
                let e = parse_expr(d)?;
                let (bound, ty) = self.bind_expr(&e, &[Scope::default()])?;
                self.coerce(bound, ty, c.data_type)?;
            }
        }
        for (_, text) in &checks {
            let e = parse_expr(text)?;
            let (bound, ty) = self.bind_expr(&e, std::slice::from_ref(&scope))?;
            self.coerce(bound, ty, DataType::Bool)?;
        }
        Ok(CreateTablePlan {
            name,
            if_not_exists: ct.if_not_exists,
            columns,
            primary_key,
            pk_name,
            uniques,
            checks,
            partition_by,
            foreign_keys,
        })
    }

    fn partition_columns(&self, e: &ast::Expr, columns: &[NewColumn]) -> Result<Vec<usize>> {
        let ast::Expr::Function(f) = e else {
            return Err(Error::syntax(format!("unsupported PARTITION BY {e}")));
        };
        let method = object_name(&f.name)?;
        if method != "hash" {
            return Err(Error::unsupported(format!(
                "only PARTITION BY HASH is supported, not {}",
                method.to_uppercase()
            )));
        }
        let ast::FunctionArguments::List(list) = &f.args else {
            return Err(Error::syntax("PARTITION BY HASH needs a column list"));
        };
        let mut out = Vec::new();
        for a in &list.args {
            match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Identifier(i))) => {
                    let n = ident(i);
                    let idx = columns.iter().position(|c| c.name == n).ok_or_else(|| {
                        Error::new(
                            SqlState::UNDEFINED_COLUMN,
                            format!("column \"{n}\" named in partition key does not exist"),
                        )
                    })?;
                    out.push(idx);
                }
                other => return Err(Error::syntax(format!("unsupported partition key {other}"))),
            }
        }
        Ok(out)
    }
}

fn multiple_pk(table: &str) -> Error {
    Error::new(
        SqlState::INVALID_TABLE_DEFINITION,
        format!("multiple primary keys for table \"{table}\" are not allowed"),
    )
}
