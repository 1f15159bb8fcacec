//! Binding FOREIGN KEY and REFERENCES clauses (CREATE TABLE, ALTER TABLE
//! ADD CONSTRAINT) into [`NewForeignKey`]s; the referenced table is
//! resolved when the constraint is created.

use super::*;
use crate::catalog::ForeignKeyAction;
use crate::engine::NewForeignKey;

fn action(a: Option<&ast::ReferentialAction>) -> ForeignKeyAction {
    match a {
        None | Some(ast::ReferentialAction::NoAction) => ForeignKeyAction::NoAction,
        Some(ast::ReferentialAction::Restrict) => ForeignKeyAction::Restrict,
        Some(ast::ReferentialAction::Cascade) => ForeignKeyAction::Cascade,
        Some(ast::ReferentialAction::SetNull) => ForeignKeyAction::SetNull,
        Some(ast::ReferentialAction::SetDefault) => ForeignKeyAction::SetDefault,
    }
}

/// Binds a foreign key of a table with columns `columns`. `own_column` is
/// the column a column-level REFERENCES is written on.
pub(super) fn bind_foreign_key(
    fk: &ast::ForeignKeyConstraint,
    name: Option<String>,
    columns: &[String],
    own_column: Option<usize>,
) -> Result<NewForeignKey> {
    if matches!(
        fk.match_kind,
        Some(ast::ConstraintReferenceMatchKind::Full | ast::ConstraintReferenceMatchKind::Partial)
    ) {
        return Err(Error::unsupported(
            "only MATCH SIMPLE foreign keys are supported",
        ));
    }
    if fk
        .characteristics
        .as_ref()
        .is_some_and(|c| c.deferrable == Some(true) || c.initially.is_some())
    {
        return Err(Error::unsupported(
            "deferrable foreign keys are not supported",
        ));
    }
    let on_delete = action(fk.on_delete.as_ref());
    let on_update = action(fk.on_update.as_ref());
    if on_delete == ForeignKeyAction::SetDefault {
        return Err(Error::unsupported("ON DELETE SET DEFAULT is not supported"));
    }
    if !matches!(
        on_update,
        ForeignKeyAction::NoAction | ForeignKeyAction::Restrict
    ) {
        return Err(Error::unsupported(format!(
            "ON UPDATE {} is not supported (NO ACTION and RESTRICT are)",
            on_update.sql()
        )));
    }
    let cols: Vec<usize> = match own_column {
        Some(c) if fk.columns.is_empty() => vec![c],
        _ => fk
            .columns
            .iter()
            .map(|i| {
                let n = ident(i);
                columns.iter().position(|c| *c == n).ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!(
                            "column \"{n}\" referenced in foreign key constraint does not exist"
                        ),
                    )
                })
            })
            .collect::<Result<_>>()?,
    };
    Ok(NewForeignKey {
        name: fk.name.as_ref().map(ident).or(name),
        columns: cols,
        ref_table: object_name(&fk.foreign_table)?,
        ref_columns: fk.referred_columns.iter().map(ident).collect(),
        on_delete,
        on_update,
    })
}
