//! Binding ALTER TABLE: each operation becomes an [`AlterAction`] the
//! engine applies; defaults and CHECK expressions are validated here.

use super::*;

fn key_columns(cols: &[ast::IndexColumn]) -> Result<Vec<String>> {
    cols.iter()
        .map(|c| match &c.column.expr {
            ast::Expr::Identifier(i) => Ok(ident(i)),
            other => Err(Error::unsupported(format!(
                "key expression not supported: {other}"
            ))),
        })
        .collect()
}

/// A constant integer option of CREATE SEQUENCE.
fn sequence_int(e: &ast::Expr) -> Result<i64> {
    let (text, negative) = match e {
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => (expr.to_string(), true),
        other => (other.to_string(), false),
    };
    let v: i64 = text
        .parse()
        .map_err(|_| Error::syntax(format!("invalid sequence option value {e}")))?;
    Ok(if negative { -v } else { v })
}

impl Binder<'_> {
    pub(super) fn bind_create_sequence(
        &mut self,
        name: String,
        if_not_exists: bool,
        options: &[ast::SequenceOptions],
    ) -> Result<NewSequence> {
        let mut seq = NewSequence {
            name,
            if_not_exists,
            data_type: DataType::Int8,
            increment: None,
            min_value: None,
            max_value: None,
            start: None,
            cycle: false,
        };
        for opt in options {
            use ast::SequenceOptions as O;
            match opt {
                O::DataType(t) => {
                    seq.data_type = convert_type(t)?;
                    if !seq.data_type.is_integer() {
                        return Err(Error::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            "sequence type must be smallint, integer, or bigint",
                        ));
                    }
                }
                O::IncrementBy(e, _) => seq.increment = Some(sequence_int(e)?),
                O::MinValue(e) => seq.min_value = e.as_ref().map(sequence_int).transpose()?,
                O::MaxValue(e) => seq.max_value = e.as_ref().map(sequence_int).transpose()?,
                O::StartWith(e, _) => seq.start = Some(sequence_int(e)?),
                O::Cache(e) => {
                    sequence_int(e)?;
                }
                O::Cycle(no) => seq.cycle = !*no,
                O::OwnedBy(_) => {
                    return Err(Error::unsupported(
                        "CREATE SEQUENCE ... OWNED BY is not supported",
                    ))
                }
            }
        }
        Ok(seq)
    }

    pub(super) fn bind_alter_table(&mut self, at: &ast::AlterTable) -> Result<Command> {
        let table = object_name(&at.name)?;
        let def = match self.catalog.tables.get(&table) {
            Some(t) if t.def.is_view() => {
                return Err(Error::new(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("\"{table}\" is not a table, composite type, or foreign table"),
                ))
            }
            Some(t) => Some(t.def.clone()),
            None if at.if_exists => None,
            None => {
                return Err(Error::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("relation \"{table}\" does not exist"),
                ))
            }
        };
        let mut actions = Vec::new();
        for op in &at.operations {
            actions.push(self.bind_alter_operation(&table, def.as_deref(), op)?);
        }
        Ok(Command::AlterTable {
            table,
            if_exists: at.if_exists,
            actions,
        })
    }

    fn bind_alter_operation(
        &mut self,
        table: &str,
        def: Option<&crate::catalog::TableDef>,
        op: &ast::AlterTableOperation,
    ) -> Result<AlterAction> {
        use ast::AlterTableOperation as Op;
        Ok(match op {
            Op::AddColumn {
                if_not_exists,
                column_def,
                ..
            } => {
                let mut column = NewColumn {
                    name: ident(&column_def.name),
                    data_type: convert_type(&column_def.data_type)?,
                    not_null: false,
                    default: None,
                    identity: None,
                    serial: is_serial(&column_def.data_type),
                };
                if column.serial {
                    return Err(Error::unsupported(
                        "ALTER TABLE ADD COLUMN with serial is not supported; add an integer column with a sequence default instead",
                    ));
                }
                for opt in &column_def.options {
                    match &opt.option {
                        ast::ColumnOption::Null => column.not_null = false,
                        ast::ColumnOption::NotNull => column.not_null = true,
                        ast::ColumnOption::Default(e) => column.default = Some(e.to_string()),
                        other => {
                            return Err(Error::unsupported(format!(
                                "column option not supported in ALTER TABLE ADD COLUMN: {other}"
                            )))
                        }
                    }
                }
                let fill = match &column.default {
                    Some(text) => {
                        let e = parse_expr(text)?;
                        let (bound, ty) = self.bind_expr(&e, &[Scope::default()])?;
                        self.coerce(bound, ty, column.data_type)?
                    }
                    None => Expr::Literal(Value::Null),
                };
                AlterAction::AddColumn {
                    column,
                    if_not_exists: *if_not_exists,
                    fill,
                }
            }
            Op::DropColumn {
                column_names,
                if_exists,
                ..
            } => {
                let [name] = column_names.as_slice() else {
                    return Err(Error::unsupported("drop one column per DROP COLUMN clause"));
                };
                AlterAction::DropColumn {
                    name: ident(name),
                    if_exists: *if_exists,
                }
            }
            Op::RenameColumn {
                old_column_name,
                new_column_name,
            } => AlterAction::RenameColumn {
                from: ident(old_column_name),
                to: ident(new_column_name),
            },
            Op::RenameTable { table_name } => {
                let (ast::RenameTableNameKind::To(n) | ast::RenameTableNameKind::As(n)) =
                    table_name;
                AlterAction::RenameTable(object_name(n)?)
            }
            Op::AlterColumn { column_name, op } => {
                let column = ident(column_name);
                let col_def = def.and_then(|d| d.columns.iter().find(|c| c.name == column));
                if def.is_some() && col_def.is_none() {
                    return Err(Error::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!("column \"{column}\" of relation \"{table}\" does not exist"),
                    ));
                }
                match op {
                    ast::AlterColumnOperation::SetNotNull => AlterAction::SetNotNull {
                        column,
                        not_null: true,
                    },
                    ast::AlterColumnOperation::DropNotNull => AlterAction::SetNotNull {
                        column,
                        not_null: false,
                    },
                    ast::AlterColumnOperation::DropDefault => AlterAction::SetDefault {
                        column,
                        default: None,
                    },
                    ast::AlterColumnOperation::SetDefault { value } => {
                        if let Some(c) = col_def {
                            let (bound, ty) = self.bind_expr(value, &[Scope::default()])?;
                            self.coerce(bound, ty, c.data_type)?;
                        }
                        AlterAction::SetDefault {
                            column,
                            default: Some(value.to_string()),
                        }
                    }
                    ast::AlterColumnOperation::SetDataType {
                        data_type, using, ..
                    } => {
                        if using.is_some() {
                            return Err(Error::unsupported(
                                "ALTER COLUMN TYPE ... USING is not supported",
                            ));
                        }
                        let to = convert_type(data_type)?;
                        if let Some(c) = col_def {
                            if !crate::types::cast::can_assign_cast(c.data_type, to) {
                                return Err(Error::new(
                                    SqlState::DATATYPE_MISMATCH,
                                    format!(
                                        "column \"{column}\" cannot be cast automatically to type {}",
                                        to.sql_name()
                                    ),
                                )
                                .with_hint(format!(
                                    "You might need to specify \"USING {column}::{}\".",
                                    to.sql_name()
                                )));
                            }
                        }
                        AlterAction::SetType {
                            column,
                            data_type: to,
                        }
                    }
                    other => {
                        return Err(Error::unsupported(format!(
                            "ALTER COLUMN {other} is not supported"
                        )))
                    }
                }
            }
            Op::AddConstraint { constraint, .. } => match constraint {
                ast::TableConstraint::PrimaryKey(pk) => AlterAction::AddPrimaryKey {
                    name: pk.name.as_ref().map(ident),
                    columns: key_columns(&pk.columns)?,
                },
                ast::TableConstraint::Unique(u) => AlterAction::AddUnique {
                    name: u.name.as_ref().map(ident),
                    columns: key_columns(&u.columns)?,
                },
                ast::TableConstraint::Check(chk) => {
                    let expr = chk.expr.to_string();
                    if let Some(d) = def {
                        bind_table_check(d, &expr)?;
                    }
                    AlterAction::AddCheck {
                        name: chk.name.as_ref().map(ident),
                        expr,
                    }
                }
                ast::TableConstraint::ForeignKey(fk) => {
                    let names: Vec<String> = def
                        .map(|d| d.columns.iter().map(|c| c.name.clone()).collect())
                        .unwrap_or_default();
                    AlterAction::AddForeignKey(foreign_key::bind_foreign_key(
                        fk, None, &names, None,
                    )?)
                }
                other => {
                    return Err(Error::unsupported(format!(
                        "table constraint not supported: {other}"
                    )))
                }
            },
            Op::DropConstraint {
                if_exists, name, ..
            } => AlterAction::DropConstraint {
                name: ident(name),
                if_exists: *if_exists,
            },
            other => {
                return Err(Error::unsupported(format!(
                    "ALTER TABLE {other} is not supported"
                )))
            }
        })
    }
}
