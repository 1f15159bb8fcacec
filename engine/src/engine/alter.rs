//! ALTER TABLE. Changes that keep the row layout and keys (renames,
//! defaults, NOT NULL, CHECK, UNIQUE) only replace the table definition.
//! Changes of the row layout or of the primary key (ADD/DROP COLUMN, ALTER
//! COLUMN TYPE, ADD/DROP PRIMARY KEY) rewrite the table: every row is
//! copied, converted, into a new table store with a new table id and
//! logged (in large records, as a RESTORE logs its rows), and once all of
//! it is durable the catalog swaps the new table in. The
//! new id is persisted before any row is logged, so the rows of a rewrite
//! interrupted by a crash belong to no table and are ignored on recovery.

use super::{build_table, duplicate_relation, EngineInner};
use crate::backup::LogBatcher;
use crate::catalog::{self, CatalogData, CheckDef, IndexDef, Table, TableDef};
use crate::error::{Error, Result, SqlState};
use crate::sql::binder::bind_table_check;
use crate::sql::expr::Expr;
use crate::sql::plan::AlterAction;
use crate::storage::{IndexStore, Key, TableStore};
use crate::types::cast::assign;
use crate::types::{Row, Value};
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// Evaluates an expression over a row (the session supplies it, so that
/// defaults like now() or nextval() see the statement's context).
pub type Evaluator<'a> = &'a dyn Fn(&Expr, &[Value]) -> Result<Value>;

fn no_column(table: &str, column: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_COLUMN,
        format!("column \"{column}\" of relation \"{table}\" does not exist"),
    )
}

/// The error PostgreSQL gives when a new primary key meets a duplicate.
fn duplicate_key(def: &TableDef, row: &[Value]) -> Error {
    let pk_name = def.pk_name.clone().unwrap_or_default();
    let names: Vec<&str> = def
        .primary_key
        .iter()
        .map(|&c| def.columns[c].name.as_str())
        .collect();
    let io = crate::types::io::IoContext::default();
    let vals: Vec<String> = def
        .primary_key
        .iter()
        .map(|&c| crate::types::io::to_text(&row[c], &io))
        .collect();
    Error::new(
        SqlState::UNIQUE_VIOLATION,
        format!("could not create unique index \"{pk_name}\""),
    )
    .with_detail(format!(
        "Key ({})=({}) is duplicated.",
        names.join(", "),
        vals.join(", ")
    ))
}

fn contains_nulls(table: &str, column: &str) -> Error {
    Error::new(
        SqlState::NOT_NULL_VIOLATION,
        format!("column \"{column}\" of relation \"{table}\" contains null values"),
    )
}

/// Whether the SQL text `expr` mentions the identifier `name`.
fn mentions(expr: &str, name: &str) -> bool {
    tokens(expr)
        .iter()
        .any(|t| matches!(t, sqlparser::tokenizer::Token::Word(w) if word_is(w, name)))
}

fn word_is(w: &sqlparser::tokenizer::Word, name: &str) -> bool {
    match w.quote_style {
        Some(_) => w.value == name,
        None => w.value.to_lowercase() == name,
    }
}

fn tokens(expr: &str) -> Vec<sqlparser::tokenizer::Token> {
    sqlparser::tokenizer::Tokenizer::new(&sqlparser::dialect::PostgreSqlDialect {}, expr)
        .tokenize()
        .unwrap_or_default()
}

/// `expr` with the identifier `from` renamed to `to`.
fn rename_in(expr: &str, from: &str, to: &str) -> String {
    use sqlparser::tokenizer::Token;
    tokens(expr)
        .into_iter()
        .map(|t| match t {
            Token::Word(w) if word_is(&w, from) => crate::types::functions::quote_ident(to),
            other => other.to_string(),
        })
        .collect()
}

impl EngineInner {
    /// Applies one ALTER TABLE action. Returns a notice (SQLSTATE, text)
    /// when the action was skipped (IF EXISTS / IF NOT EXISTS).
    pub fn alter_table(
        &self,
        table: &str,
        action: &AlterAction,
        eval: Evaluator,
    ) -> Result<Option<(SqlState, String)>> {
        if let AlterAction::AddForeignKey(fk) = action {
            self.add_foreign_key(table, fk)?;
            return Ok(None);
        }
        if let AlterAction::AddUnique { name, columns } = action {
            let name = name.clone().unwrap_or_else(|| {
                let data = self.catalog_data.lock();
                let base = format!("{table}_{}_key", columns.join("_"));
                let mut n = base.clone();
                let mut i = 1;
                while Self::relation_exists(&data, &n) {
                    n = format!("{base}{i}");
                    i += 1;
                }
                n
            });
            self.create_index(Some(name), table, columns, true, false)?;
            return Ok(None);
        }
        if let AlterAction::DropConstraint { name, .. } = action {
            let unique_index = self.catalog_data.lock().tables.get(table).is_some_and(|d| {
                !d.checks.iter().any(|c| &c.name == name)
                    && d.pk_name.as_deref() != Some(name.as_str())
                    && d.indexes.iter().any(|i| &i.name == name && i.unique)
            });
            if unique_index {
                self.drop_indexes(std::slice::from_ref(name), false)?;
                return Ok(None);
            }
        }
        let mut data = self.catalog_data.lock();
        let Some(def) = data.tables.get(table).cloned() else {
            return Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{table}\" does not exist"),
            ));
        };
        let old = self.catalog().table(table)?.clone();
        let fence = self.fence_writers(&old.store);
        let result = self.alter_locked(&mut data, table, def, &old, action, eval);
        // Ok(None) means a new definition was published; anything else
        // changed nothing.
        if !matches!(result, Ok(None)) {
            fence.restore();
        }
        result
    }

    /// `alter_table` once the catalog is locked and writers are fenced off.
    fn alter_locked(
        &self,
        data: &mut CatalogData,
        table: &str,
        def: TableDef,
        old: &Arc<Table>,
        action: &AlterAction,
        eval: Evaluator,
    ) -> Result<Option<(SqlState, String)>> {
        let col = |name: &str| def.column_index(name).ok_or_else(|| no_column(table, name));
        let mut new_def = def.clone();
        let reshapes = match action {
            AlterAction::RenameTable(_) => Some(format!("rename table {table}")),
            AlterAction::DropColumn { name: c, .. } => {
                Some(format!("drop column {c} of table {table}"))
            }
            AlterAction::RenameColumn { from: c, .. } | AlterAction::SetType { column: c, .. } => {
                Some(format!("alter column {c} of table {table}"))
            }
            AlterAction::AddColumn { .. } => Some(format!("add a column to table {table}")),
            _ => None,
        };
        if let Some(what) = reshapes {
            super::view::refuse_if_views_depend(data, table, &what)?;
            if !matches!(action, AlterAction::AddColumn { .. }) {
                super::foreign_key::refuse_if_keys_use(data, table, &what)?;
            }
        }
        match action {
            AlterAction::AddUnique { .. } | AlterAction::AddForeignKey(_) => {
                unreachable!("handled above")
            }
            AlterAction::RenameTable(to) => {
                if Self::relation_exists(data, to) {
                    return Err(duplicate_relation(to));
                }
                new_def.name = to.clone();
                let t = build_table(new_def.clone(), Some(old.store.clone()), self.partitions)?;
                let mut next = (*data).clone();
                next.tables.remove(table);
                next.tables.insert(to.clone(), new_def);
                self.publish(&next, |snap| {
                    snap.tables.remove(table);
                    snap.tables.insert(to.clone(), t);
                })?;
                *data = next;
                return Ok(None);
            }
            AlterAction::RenameColumn { from, to } => {
                let i = col(from)?;
                if def.column_index(to).is_some() {
                    return Err(Error::new(
                        SqlState::DUPLICATE_COLUMN,
                        format!("column \"{to}\" of relation \"{table}\" already exists"),
                    ));
                }
                new_def.columns[i].name = to.clone();
                for c in &mut new_def.checks {
                    c.expr = rename_in(&c.expr, from, to);
                }
            }
            AlterAction::SetDefault { column, default } => {
                let i = col(column)?;
                new_def.columns[i].default = default.clone();
            }
            AlterAction::SetNotNull { column, not_null } => {
                let i = col(column)?;
                if !*not_null && def.primary_key.contains(&i) {
                    return Err(Error::new(
                        SqlState::INVALID_TABLE_DEFINITION,
                        format!("column \"{column}\" is in a primary key"),
                    ));
                }
                if *not_null {
                    self.for_each_row(old, &mut |row| {
                        if row[i].is_null() {
                            return Err(contains_nulls(table, column));
                        }
                        Ok(())
                    })?;
                }
                new_def.columns[i].not_null = *not_null;
            }
            AlterAction::AddCheck { name, expr } => {
                let name = name.clone().unwrap_or_else(|| {
                    let base = format!("{table}_check");
                    let mut n = base.clone();
                    let mut i = 1;
                    while def.checks.iter().any(|c| c.name == n) {
                        n = format!("{base}{i}");
                        i += 1;
                    }
                    n
                });
                if def.checks.iter().any(|c| c.name == name) {
                    return Err(Error::new(
                        SqlState::DUPLICATE_OBJECT,
                        format!("constraint \"{name}\" for relation \"{table}\" already exists"),
                    ));
                }
                let check = bind_table_check(&def, expr)?;
                self.for_each_row(old, &mut |row| {
                    if let Value::Bool(false) = eval(&check, row)? {
                        return Err(Error::new(
                            SqlState::CHECK_VIOLATION,
                            format!(
                                "check constraint \"{name}\" of relation \"{table}\" is violated by some row"
                            ),
                        ));
                    }
                    Ok(())
                })?;
                new_def.checks.push(CheckDef {
                    name,
                    expr: expr.clone(),
                });
            }
            AlterAction::DropConstraint { name, if_exists } => {
                if let Some(pos) = def.checks.iter().position(|c| &c.name == name) {
                    new_def.checks.remove(pos);
                } else if let Some(pos) = def.foreign_keys.iter().position(|f| &f.name == name) {
                    new_def.foreign_keys.remove(pos);
                } else if def.pk_name.as_deref() == Some(name.as_str()) {
                    new_def.primary_key.clear();
                    new_def.pk_name = None;
                    new_def.partition_key.clear();
                    return self.rewrite(data, old, new_def, &mut |row| Ok(row));
                } else if *if_exists {
                    return Ok(Some((
                        SqlState::SUCCESSFUL_COMPLETION,
                        format!(
                            "constraint \"{name}\" of relation \"{table}\" does not exist, skipping"
                        ),
                    )));
                } else {
                    return Err(Error::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("constraint \"{name}\" of relation \"{table}\" does not exist"),
                    ));
                }
            }
            AlterAction::AddColumn {
                column,
                if_not_exists,
                fill,
            } => {
                if def.column_index(&column.name).is_some() {
                    let msg = format!(
                        "column \"{}\" of relation \"{table}\" already exists",
                        column.name
                    );
                    if *if_not_exists {
                        return Ok(Some((
                            SqlState::DUPLICATE_COLUMN,
                            format!("{msg}, skipping"),
                        )));
                    }
                    return Err(Error::new(SqlState::DUPLICATE_COLUMN, msg));
                }
                new_def.columns.push(catalog::ColumnDef {
                    name: column.name.clone(),
                    data_type: column.data_type,
                    not_null: column.not_null,
                    default: column.default.clone(),
                    identity: None,
                });
                let (ty, not_null, name) = (column.data_type, column.not_null, &column.name);
                let checks = build_table(new_def.clone(), None, 1)?;
                return self.rewrite(data, old, new_def, &mut |row| {
                    let mut row = Arc::unwrap_or_clone(row);
                    let v = eval(fill, &[])?;
                    let v = if v.is_null() { v } else { assign(v, ty)? };
                    if not_null && v.is_null() {
                        return Err(contains_nulls(table, name));
                    }
                    row.push(v);
                    for (check_name, check) in &checks.checks {
                        if let Value::Bool(false) = eval(check, &row)? {
                            return Err(Error::new(
                                SqlState::CHECK_VIOLATION,
                                format!(
                                    "check constraint \"{check_name}\" of relation \"{table}\" is violated by some row"
                                ),
                            ));
                        }
                    }
                    Ok(Arc::new(row))
                });
            }
            AlterAction::DropColumn { name, if_exists } => {
                let Some(i) = def.column_index(name) else {
                    if *if_exists {
                        return Ok(Some((
                            SqlState::SUCCESSFUL_COMPLETION,
                            format!(
                                "column \"{name}\" of relation \"{table}\" does not exist, skipping"
                            ),
                        )));
                    }
                    return Err(no_column(table, name));
                };
                new_def.columns.remove(i);
                let shift = |c: usize| if c > i { c - 1 } else { c };
                if def.primary_key.contains(&i) {
                    new_def.primary_key.clear();
                    new_def.pk_name = None;
                    new_def.partition_key.clear();
                } else {
                    new_def.primary_key = def.primary_key.iter().map(|&c| shift(c)).collect();
                    new_def.partition_key = def.partition_key.iter().map(|&c| shift(c)).collect();
                }
                new_def.indexes = def
                    .indexes
                    .iter()
                    .filter(|x| !x.columns.contains(&i))
                    .map(|x| IndexDef {
                        columns: x.columns.iter().map(|&c| shift(c)).collect(),
                        ..x.clone()
                    })
                    .collect();
                new_def.checks.retain(|c| !mentions(&c.expr, name));
                return self.rewrite(data, old, new_def, &mut |row| {
                    let mut row = Arc::unwrap_or_clone(row);
                    if i < row.len() {
                        row.remove(i);
                    }
                    Ok(Arc::new(row))
                });
            }
            AlterAction::SetType { column, data_type } => {
                let i = col(column)?;
                new_def.columns[i].data_type = *data_type;
                let ty = *data_type;
                return self.rewrite(data, old, new_def, &mut |row| {
                    let mut row = Arc::unwrap_or_clone(row);
                    let v = std::mem::take(&mut row[i]);
                    row[i] = if v.is_null() { v } else { assign(v, ty)? };
                    Ok(Arc::new(row))
                });
            }
            AlterAction::AddPrimaryKey { name, columns } => {
                if !def.primary_key.is_empty() {
                    return Err(Error::new(
                        SqlState::INVALID_TABLE_DEFINITION,
                        format!("multiple primary keys for table \"{table}\" are not allowed"),
                    ));
                }
                let cols = columns.iter().map(|c| col(c)).collect::<Result<Vec<_>>>()?;
                let pk_name = name.clone().unwrap_or_else(|| format!("{table}_pkey"));
                if Self::relation_exists(data, &pk_name) {
                    return Err(duplicate_relation(&pk_name));
                }
                for &c in &cols {
                    new_def.columns[c].not_null = true;
                }
                new_def.primary_key = cols.clone();
                new_def.partition_key = vec![cols[0]];
                new_def.pk_name = Some(pk_name);
                return self.rewrite(data, old, new_def, &mut |row| {
                    for &c in &cols {
                        if row[c].is_null() {
                            return Err(contains_nulls(table, &def.columns[c].name));
                        }
                    }
                    Ok(row)
                });
            }
        }
        // Definition-only change: same rows, same store.
        let t = build_table(new_def.clone(), Some(old.store.clone()), self.partitions)?;
        let mut next = (*data).clone();
        next.tables.insert(table.to_string(), new_def);
        self.publish(&next, |snap| {
            snap.tables.insert(table.to_string(), t);
        })?;
        *data = next;
        Ok(None)
    }

    /// Calls `f` with every row of the table visible now.
    fn for_each_row(
        &self,
        table: &Table,
        f: &mut dyn FnMut(&Arc<Row>) -> Result<()>,
    ) -> Result<()> {
        let snap = self.txns.snapshot();
        for p in 0..table.store.partition_count() {
            let mut from: Bound<Key> = Bound::Unbounded;
            loop {
                let mut out = Vec::new();
                let next = table.store.scan_batch(
                    p as u16,
                    from.as_ref().map(|k| &**k),
                    Bound::Unbounded,
                    snap.ts,
                    0,
                    1024,
                    &mut out,
                );
                for (_, row) in &out {
                    f(row)?;
                }
                match next {
                    Some(k) => from = Bound::Included(k),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Copies every row of `old`, converted by `map`, into a new table with
    /// definition `new_def` (and a new table id), then swaps it in.
    fn rewrite(
        &self,
        data: &mut CatalogData,
        old: &Arc<Table>,
        mut new_def: TableDef,
        map: &mut dyn FnMut(Arc<Row>) -> Result<Arc<Row>>,
    ) -> Result<Option<(SqlState, String)>> {
        let _no_checkpoint = self.checkpointer.hold_off();
        let mut reserved = data.clone();
        new_def.oid = reserved.next_oid;
        reserved.next_oid += 1;
        catalog::save(&self.data_dir, &reserved)?;
        data.next_oid = reserved.next_oid;

        let store = Arc::new(TableStore::new(&new_def, self.partitions));
        // The indexes are built once all rows are in.
        *store.indexes.write() = Arc::new(Vec::new());
        let mut rows = Vec::new();
        self.for_each_row(old, &mut |row| {
            rows.push(row.clone());
            Ok(())
        })?;
        // Nobody sees the new table before it is published, so its rows go
        // in as committed versions directly, and are logged in large
        // records whose syncs are waited for once, at the end (as a
        // RESTORE does). A crash before the catalog swap leaves rows of a
        // table id no table has, which recovery ignores.
        let mut log = LogBatcher::new(self);
        for row in rows {
            let row = map(row)?;
            let (key, partition) = store.place_new(&new_def, &row);
            if !store.insert_committed(partition, key.clone(), row.clone()) {
                return Err(duplicate_key(&new_def, &row));
            }
            log.add(partition, new_def.oid, &key, Some(&row))?;
        }
        log.finish()?;
        let table = build_table(new_def.clone(), Some(store.clone()), self.partitions)?;
        let fresh: Vec<Arc<IndexStore>> = new_def
            .indexes
            .iter()
            .map(|d| {
                Arc::new(IndexStore {
                    def: d.clone(),
                    entries: RwLock::new(BTreeMap::new()),
                })
            })
            .collect();
        for index in &fresh {
            store.build_index(index);
            if index.def.unique {
                self.check_unique_build(&table, index)?;
            }
        }
        *store.indexes.write() = Arc::new(fresh);
        let mut next = data.clone();
        let name = new_def.name.clone();
        next.tables.insert(name.clone(), new_def);
        self.publish(&next, |snap| {
            snap.tables.insert(name, table);
        })?;
        *data = next;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_identifiers_in_check_text() {
        assert_eq!(
            rename_in("(a > 0) AND (ab < a)", "a", "b"),
            "(b > 0) AND (ab < b)"
        );
        assert_eq!(
            rename_in("\"A\" > 0 AND a < 1", "a", "New"),
            "\"A\" > 0 AND \"New\" < 1"
        );
        assert!(mentions("x + y > 0", "y"));
        assert!(!mentions("xy > 0", "y"));
    }
}
