//! Foreign keys in the catalog: resolving a FOREIGN KEY / REFERENCES clause
//! against the referenced table (PostgreSQL's rules and errors), adding one
//! to an existing table after checking its rows, and the dependencies DROP
//! TABLE respects. Enforcement on writes is in [`crate::sql::exec`]'s `fk`
//! module.

use super::EngineInner;
use crate::catalog::{CatalogData, ForeignKeyAction, ForeignKeyDef, TableDef};
use crate::error::{Error, Result, SqlState};
use crate::types::cast::can_implicit_cast;

/// A FOREIGN KEY clause as written, before the referenced table is looked
/// up.
#[derive(Clone, Debug)]
pub struct NewForeignKey {
    pub name: Option<String>,
    /// Referencing columns (positions in the owning table).
    pub columns: Vec<usize>,
    pub ref_table: String,
    /// Referenced column names; empty means the referenced primary key.
    pub ref_columns: Vec<String>,
    pub on_delete: ForeignKeyAction,
    pub on_update: ForeignKeyAction,
}

fn invalid_fk(message: String) -> Error {
    Error::new(SqlState("42830"), message)
}

fn same_set(a: &[usize], b: &[usize]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    !a.is_empty() && a == b
}

/// Whether `def` already has a constraint or index named `name`.
fn constraint_name_taken(def: &TableDef, name: &str) -> bool {
    def.pk_name.as_deref() == Some(name)
        || def.indexes.iter().any(|i| i.name == name)
        || def.checks.iter().any(|c| c.name == name)
        || def.foreign_keys.iter().any(|f| f.name == name)
}

/// Resolves `fk` of table `child` (whose definition may not be in `data`
/// yet; a table may reference itself).
pub(crate) fn resolve(
    data: &CatalogData,
    child: &TableDef,
    fk: &NewForeignKey,
) -> Result<ForeignKeyDef> {
    let parent: &TableDef = if fk.ref_table == child.name {
        child
    } else {
        data.tables.get(&fk.ref_table).ok_or_else(|| {
            Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{}\" does not exist", fk.ref_table),
            )
        })?
    };
    if parent.is_view() {
        return Err(Error::new(
            SqlState::WRONG_OBJECT_TYPE,
            format!("referenced relation \"{}\" is not a table", parent.name),
        ));
    }
    let ref_columns: Vec<usize> = if fk.ref_columns.is_empty() {
        if parent.primary_key.is_empty() {
            return Err(invalid_fk(format!(
                "there is no primary key for referenced table \"{}\"",
                parent.name
            )));
        }
        parent.primary_key.clone()
    } else {
        fk.ref_columns
            .iter()
            .map(|n| {
                parent.column_index(n).ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!(
                            "column \"{n}\" referenced in foreign key constraint does not exist"
                        ),
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    if ref_columns.len() != fk.columns.len() {
        return Err(invalid_fk(
            "number of referencing and referenced columns for foreign key disagree".into(),
        ));
    }
    let unique = same_set(&ref_columns, &parent.primary_key)
        || parent
            .indexes
            .iter()
            .any(|i| i.unique && same_set(&i.columns, &ref_columns));
    if !unique {
        return Err(invalid_fk(format!(
            "there is no unique constraint matching given keys for referenced table \"{}\"",
            parent.name
        )));
    }
    let name = fk.name.clone().unwrap_or_else(|| {
        let cols: Vec<&str> = fk
            .columns
            .iter()
            .map(|&c| child.columns[c].name.as_str())
            .collect();
        let base = format!("{}_{}_fkey", child.name, cols.join("_"));
        let mut n = base.clone();
        let mut i = 1;
        while constraint_name_taken(child, &n) {
            n = format!("{base}{i}");
            i += 1;
        }
        n
    });
    if constraint_name_taken(child, &name) {
        return Err(Error::new(
            SqlState::DUPLICATE_OBJECT,
            format!(
                "constraint \"{name}\" for relation \"{}\" already exists",
                child.name
            ),
        ));
    }
    for (&c, &r) in fk.columns.iter().zip(&ref_columns) {
        let (ct, rt) = (child.columns[c].data_type, parent.columns[r].data_type);
        if !can_implicit_cast(ct, rt) && !can_implicit_cast(rt, ct) {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!("foreign key constraint \"{name}\" cannot be implemented"),
            )
            .with_detail(format!(
                "Key columns \"{}\" and \"{}\" are of incompatible types: {} and {}.",
                child.columns[c].name,
                parent.columns[r].name,
                ct.sql_name(),
                rt.sql_name()
            )));
        }
    }
    Ok(ForeignKeyDef {
        name,
        columns: fk.columns.clone(),
        ref_table: parent.name.clone(),
        ref_columns,
        on_delete: fk.on_delete,
        on_update: fk.on_update,
    })
}

/// Resolves every FOREIGN KEY clause of a new table, in order (each name
/// taken before the next is chosen).
pub(crate) fn resolve_all(
    data: &CatalogData,
    child: &mut TableDef,
    fks: &[NewForeignKey],
) -> Result<()> {
    for fk in fks {
        let def = resolve(data, child, fk)?;
        child.foreign_keys.push(def);
    }
    Ok(())
}

/// The foreign keys of other tables that reference one of `names`:
/// (referencing table, constraint name).
pub(crate) fn referencing(data: &CatalogData, names: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in data.tables.values() {
        if names.contains(&t.name) {
            continue;
        }
        for fk in &t.foreign_keys {
            if names.contains(&fk.ref_table) {
                out.push((t.name.clone(), fk.name.clone()));
            }
        }
    }
    out
}

/// DROP TABLE of referenced tables: 2BP01 without CASCADE; with CASCADE
/// the referencing constraints are removed from `data` (their tables
/// stay). Returns the tables whose definitions changed.
pub(crate) fn drop_referencing(
    data: &mut CatalogData,
    names: &[String],
    cascade: bool,
) -> Result<Vec<String>> {
    let refs = referencing(data, names);
    if refs.is_empty() {
        return Ok(vec![]);
    }
    if !cascade {
        let (child, fk) = &refs[0];
        let parent = &data.tables[child]
            .foreign_keys
            .iter()
            .find(|f| &f.name == fk)
            .map(|f| f.ref_table.clone())
            .unwrap_or_default();
        let detail: Vec<String> = refs
            .iter()
            .map(|(c, f)| format!("constraint {f} on table {c} depends on table {parent}"))
            .collect();
        return Err(Error::new(
            SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot drop table {parent} because other objects depend on it"),
        )
        .with_detail(detail.join("\n"))
        .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
    }
    let mut changed = Vec::new();
    for (child, fk) in refs {
        if let Some(def) = data.tables.get_mut(&child) {
            def.foreign_keys.retain(|f| f.name != fk);
        }
        if !changed.contains(&child) {
            changed.push(child);
        }
    }
    Ok(changed)
}

/// Fails with 2BP01 when ALTER TABLE would change columns a foreign key
/// uses (on either side): constraints record column positions.
pub(crate) fn refuse_if_keys_use(data: &CatalogData, table: &str, what: &str) -> Result<()> {
    let own = data
        .tables
        .get(table)
        .and_then(|d| d.foreign_keys.first().map(|f| f.name.clone()));
    let other = referencing(data, &[table.to_string()])
        .into_iter()
        .next()
        .map(|(_, f)| f);
    if let Some(fk) = own.or(other) {
        return Err(Error::new(
            SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot {what} because other objects depend on it"),
        )
        .with_detail(format!("constraint {fk} depends on table {table}"))
        .with_hint("Drop the foreign key constraint first."));
    }
    Ok(())
}

impl EngineInner {
    /// ALTER TABLE ... ADD [CONSTRAINT name] FOREIGN KEY: resolves the
    /// constraint, checks every committed row of the table (23503 on the
    /// first that references nothing) and records it.
    pub fn add_foreign_key(&self, table: &str, fk: &NewForeignKey) -> Result<()> {
        let mut data = self.catalog_data.lock();
        let Some(child) = data.tables.get(table).cloned() else {
            return Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{table}\" does not exist"),
            ));
        };
        let def = resolve(&data, &child, fk)?;
        let snap = self.catalog();
        let child_table = snap.table(table)?.clone();
        let parent_table = snap.table(&def.ref_table)?.clone();
        crate::sql::exec::check_existing_references(self, &child_table, &parent_table, &def)?;
        let mut new_data = data.clone();
        let mut new_def = child;
        new_def.foreign_keys.push(def);
        new_data.tables.insert(table.to_string(), new_def.clone());
        let rebuilt =
            super::build_table(new_def, Some(child_table.store.clone()), self.partitions)?;
        self.publish(&new_data, |s| {
            s.tables.insert(table.to_string(), rebuilt);
        })?;
        *data = new_data;
        Ok(())
    }
}
