//! Views in the catalog: CREATE [OR REPLACE] VIEW, DROP VIEW, and the
//! dependencies between views and the relations they read, which DROP
//! TABLE, DROP VIEW and ALTER TABLE respect.
//!
//! A view is a relation of the catalog like a table (same name space,
//! owner and privileges) whose definition carries a [`ViewDef`]: the
//! defining query as SQL text and the names of the relations it reads. It
//! holds no rows; queries bind its text in place of the view.

use super::{build_table, duplicate_relation, EngineInner};
use crate::catalog::{CatalogData, ColumnDef, TableDef, ViewDef};
use crate::error::{Error, Result, SqlState};
use crate::types::DataType;

/// A bound CREATE [OR REPLACE] VIEW.
#[derive(Clone, Debug)]
pub struct NewView {
    pub name: String,
    /// Output columns: names (after the optional column list) and types.
    pub columns: Vec<(String, DataType)>,
    /// The defining query as SQL text.
    pub query: String,
    /// Relations (tables and views) the query reads.
    pub depends_on: Vec<String>,
    pub or_replace: bool,
}

/// `"x" is not a view` (42809), for DROP VIEW and CREATE OR REPLACE VIEW
/// naming a table.
fn not_a_view(name: &str) -> Error {
    Error::new(
        SqlState::WRONG_OBJECT_TYPE,
        format!("\"{name}\" is not a view"),
    )
}

fn kind_of(def: &TableDef) -> &'static str {
    if def.is_view() {
        "view"
    } else {
        "table"
    }
}

/// The views that read `name` directly.
fn direct_dependents<'a>(data: &'a CatalogData, name: &str) -> Vec<&'a TableDef> {
    data.tables
        .values()
        .filter(|d| {
            d.view
                .as_ref()
                .is_some_and(|v| v.depends_on.iter().any(|n| n == name))
        })
        .collect()
}

/// Every view that reads one of `roots`, directly or through other views
/// (they are all dropped together, so their order does not matter). Each
/// comes with the relation it depends on, for error details.
fn dependents(data: &CatalogData, roots: &[String]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut queue: Vec<String> = roots.to_vec();
    while let Some(name) = queue.pop() {
        for d in direct_dependents(data, &name) {
            if roots.contains(&d.name) || out.iter().any(|(v, _)| v == &d.name) {
                continue;
            }
            out.push((d.name.clone(), name.clone()));
            queue.push(d.name.clone());
        }
    }
    out
}

/// Whether `from` reads `target`, directly or through views.
fn reads(data: &CatalogData, from: &str, target: &str) -> bool {
    let mut seen: Vec<&str> = Vec::new();
    let mut stack = vec![from];
    while let Some(n) = stack.pop() {
        if n == target {
            return true;
        }
        if seen.contains(&n) {
            continue;
        }
        seen.push(n);
        if let Some(v) = data.tables.get(n).and_then(|d| d.view.as_ref()) {
            stack.extend(v.depends_on.iter().map(String::as_str));
        }
    }
    false
}

/// Which views a DROP of `names` (of kind `kind`, "table" or "view") also
/// drops: none without CASCADE, where any dependent view fails the DROP
/// with 2BP01 as in PostgreSQL.
pub(crate) fn cascade_views(
    data: &CatalogData,
    names: &[String],
    kind: &str,
    cascade: bool,
) -> Result<Vec<String>> {
    let deps = dependents(data, names);
    if deps.is_empty() {
        return Ok(vec![]);
    }
    if !cascade {
        let root = deps
            .iter()
            .find(|(_, on)| names.contains(on))
            .map(|(_, on)| on.clone())
            .unwrap_or_default();
        let detail: Vec<String> = deps
            .iter()
            .map(|(v, on)| {
                let on_kind = data.tables.get(on).map(kind_of).unwrap_or(kind);
                format!("view {v} depends on {on_kind} {on}")
            })
            .collect();
        return Err(Error::new(
            SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot drop {kind} {root} because other objects depend on it"),
        )
        .with_detail(detail.join("\n"))
        .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
    }
    Ok(deps.into_iter().map(|(v, _)| v).collect())
}

/// Fails with 2BP01 when a view reads `table`: a view keeps its query as
/// text, so ALTER TABLE actions that add, rename or remove columns, change
/// their types or rename the table would change what the view means.
/// `what` names the action (`drop column c of table t`).
pub(crate) fn refuse_if_views_depend(data: &CatalogData, table: &str, what: &str) -> Result<()> {
    if let Some(v) = direct_dependents(data, table).first() {
        return Err(Error::new(
            SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot {what} because other objects depend on it"),
        )
        .with_detail(format!(
            "view {} depends on {} {table}",
            v.name,
            data.tables.get(table).map(kind_of).unwrap_or("table")
        ))
        .with_hint("Drop the view first, and create it again afterwards."));
    }
    Ok(())
}

impl EngineInner {
    /// CREATE [OR REPLACE] VIEW on behalf of `owner`. Replacing keeps the
    /// view's owner and privileges; as in PostgreSQL the new query must
    /// keep the old columns (names and types, in order) and may add more.
    pub fn create_view(&self, view: &NewView, owner: &str) -> Result<()> {
        let mut data = self.catalog_data.lock();
        let mut new_data = data.clone();
        let columns: Vec<ColumnDef> = view
            .columns
            .iter()
            .map(|(name, ty)| ColumnDef {
                name: name.clone(),
                data_type: *ty,
                not_null: false,
                default: None,
                identity: None,
            })
            .collect();
        let body = ViewDef {
            query: view.query.clone(),
            depends_on: view.depends_on.clone(),
        };
        let def = match data.tables.get(&view.name) {
            Some(old) if view.or_replace => {
                if !old.is_view() {
                    return Err(not_a_view(&view.name));
                }
                check_replacement(&old.columns, &columns)?;
                if columns.len() > old.columns.len() {
                    // A view over this one keeps its query as text: its
                    // `*` would pick up the new columns.
                    refuse_if_views_depend(
                        &data,
                        &view.name,
                        &format!("add columns to view {}", view.name),
                    )?;
                }
                if view.depends_on.iter().any(|d| reads(&data, d, &view.name)) {
                    return Err(Error::new(
                        SqlState("42P17"),
                        format!(
                            "infinite recursion detected in rules for relation \"{}\"",
                            view.name
                        ),
                    ));
                }
                let mut def = old.clone();
                def.columns = columns;
                def.view = Some(body);
                def
            }
            _ => {
                if Self::relation_exists(&data, &view.name) {
                    return Err(duplicate_relation(&view.name));
                }
                let oid = new_data.next_oid;
                new_data.next_oid += 1;
                TableDef {
                    oid,
                    name: view.name.clone(),
                    columns,
                    owner: owner.to_string(),
                    view: Some(body),
                    ..Default::default()
                }
            }
        };
        let table = build_table(def.clone(), None, self.partitions)?;
        new_data.tables.insert(view.name.clone(), def);
        self.publish(&new_data, |snap| {
            snap.tables.insert(view.name.clone(), table);
        })?;
        *data = new_data;
        Ok(())
    }

    /// DROP VIEW. Returns the names that did not exist (IF EXISTS) and the
    /// views dropped because they depended on a dropped one (CASCADE).
    pub fn drop_views(
        &self,
        names: &[String],
        if_exists: bool,
        cascade: bool,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let mut data = self.catalog_data.lock();
        let mut missing = Vec::new();
        let mut present = Vec::new();
        for n in names {
            match data.tables.get(n) {
                Some(d) if d.is_view() => present.push(n.clone()),
                Some(_) => {
                    return Err(not_a_view(n).with_hint("Use DROP TABLE to remove a table."));
                }
                None if if_exists => missing.push(n.clone()),
                None => {
                    return Err(Error::new(
                        SqlState::UNDEFINED_TABLE,
                        format!("view \"{n}\" does not exist"),
                    ))
                }
            }
        }
        let cascaded = cascade_views(&data, &present, "view", cascade)?;
        let mut new_data = data.clone();
        let all: Vec<String> = present.iter().chain(&cascaded).cloned().collect();
        for n in &all {
            new_data.tables.remove(n);
        }
        self.publish(&new_data, |snap| {
            for n in &all {
                snap.tables.remove(n);
            }
        })?;
        *data = new_data;
        Ok((missing, cascaded))
    }
}

/// CREATE OR REPLACE VIEW's rule: the old columns stay, in order, with
/// their names and types; new ones may follow.
fn check_replacement(old: &[ColumnDef], new: &[ColumnDef]) -> Result<()> {
    if new.len() < old.len() {
        return Err(Error::new(
            SqlState::INVALID_TABLE_DEFINITION,
            "cannot drop columns from view",
        ));
    }
    for (o, n) in old.iter().zip(new) {
        if o.name != n.name {
            return Err(Error::new(
                SqlState::INVALID_TABLE_DEFINITION,
                format!(
                    "cannot change name of view column \"{}\" to \"{}\"",
                    o.name, n.name
                ),
            ));
        }
        if o.data_type != n.data_type {
            return Err(Error::new(
                SqlState::INVALID_TABLE_DEFINITION,
                format!(
                    "cannot change data type of view column \"{}\" from {} to {}",
                    o.name,
                    o.data_type.sql_name(),
                    n.data_type.sql_name()
                ),
            ));
        }
    }
    Ok(())
}
