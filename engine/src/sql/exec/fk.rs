//! Foreign key enforcement on writes.
//!
//! Referencing side (INSERT, UPDATE of the key columns, COPY FROM): the
//! referenced row must exist, and it is locked the way this engine locks
//! rows — with a write intent of the transaction, here one that rewrites
//! the row unchanged (like PostgreSQL's `SELECT ... FOR KEY SHARE`, but
//! exclusive). That is what makes the check hold under concurrency, in the
//! same way unique checks do: they look at the newest state of a row and
//! wait for any other transaction's intent on it instead of trusting the
//! statement's snapshot.
//!
//! - A child insert and a delete of its parent cannot both commit: whichever
//!   reaches the parent row second finds the other's intent and waits. If
//!   the delete came first, the insert then finds no parent (23503). If the
//!   insert came first, the delete finds a version newer than its snapshot
//!   and re-runs (READ COMMITTED; it then sees the new child) or fails with
//!   40001 (REPEATABLE READ).
//! - Referenced side (DELETE, UPDATE of the referenced columns): referencing
//!   rows are looked for at the statement's snapshot, and every candidate
//!   is re-read at its newest state, waiting for other writers, as unique
//!   checks do. A referencing row committed after the snapshot always comes
//!   with a newer version of the parent (its lock), which the delete's own
//!   write of the parent notices.
//!
//! ON DELETE CASCADE and SET NULL act on the referencing rows as the
//! parent row is deleted; NO ACTION and RESTRICT are checked once the
//! statement's deletes are done, so a statement may delete rows that
//! reference each other.

use super::*;
use crate::catalog::{ForeignKeyAction, ForeignKeyDef};

/// A row's newest state for a foreign key check: this transaction's own
/// intent, else the newest committed version. Another transaction's intent
/// means waiting for it; a committed version newer than the snapshot is a
/// serialization failure under snapshot isolation and a re-run of the
/// statement otherwise (as for any write to a row changed since).
fn newest_for_lock(
    ctx: &StmtCtx,
    store: &TableStore,
    p: u16,
    key: &[u8],
) -> Result<(Option<Arc<Row>>, bool)> {
    let map = store.partitions[p as usize].read();
    let Some(slot) = map.get(key) else {
        return Ok((None, false));
    };
    if let Some(intent) = &slot.intent {
        if intent.txn != ctx.txn {
            return Err(Error::retry_after(intent.txn));
        }
        return Ok((intent.row.clone(), true));
    }
    match slot.versions.last() {
        Some(v) if v.ts > ctx.snapshot && v.row.is_some() => {
            if ctx.snapshot_isolation {
                Err(Error::new(
                    SqlState::SERIALIZATION_FAILURE,
                    "could not serialize access due to concurrent update",
                ))
            } else {
                Err(Error::retry_after(0))
            }
        }
        Some(v) => Ok((v.row.clone(), false)),
        None => Ok((None, false)),
    }
}

fn key_text(def: &crate::catalog::TableDef, cols: &[usize], values: &[Value]) -> String {
    let names: Vec<&str> = cols.iter().map(|&c| def.columns[c].name.as_str()).collect();
    format!("({})=({})", names.join(", "), row_text(values))
}

/// Values of `cols` of `row`, cast to the types of `to_cols` of `to`
/// (the other side of the key).
fn key_values(
    row: &[Value],
    cols: &[usize],
    to: &crate::catalog::TableDef,
    to_cols: &[usize],
) -> Result<Vec<Value>> {
    cols.iter()
        .zip(to_cols)
        .map(|(&c, &t)| assign(row[c].clone(), to.columns[t].data_type))
        .collect()
}

fn matches(row: &[Value], cols: &[usize], values: &[Value]) -> bool {
    cols.iter().zip(values).all(|(&c, v)| &row[c] == v)
}

/// Rows (partition, key) of `table` that may hold `values` in `cols`:
/// through the primary key or an index when one fits, else every row
/// visible to the statement.
fn candidates(
    ctx: &StmtCtx,
    table: &Table,
    cols: &[usize],
    values: &[Value],
) -> Result<Vec<(u16, Key)>> {
    let def = &table.def;
    let mut template = vec![Value::Null; def.columns.len()];
    for (&c, v) in cols.iter().zip(values) {
        template[c] = v.clone();
    }
    let mut pk_sorted = def.primary_key.clone();
    pk_sorted.sort_unstable();
    let mut cols_sorted = cols.to_vec();
    cols_sorted.sort_unstable();
    if !pk_sorted.is_empty() && pk_sorted == cols_sorted {
        let (key, p) = table.store.place_existing(def, &template);
        return Ok(vec![(p, key)]);
    }
    for idx in table.store.indexes().iter() {
        let n = cols.len();
        if idx.def.columns.len() >= n && {
            let mut lead = idx.def.columns[..n].to_vec();
            lead.sort_unstable();
            lead == cols_sorted
        } {
            let lead: Vec<Value> = idx.def.columns[..n]
                .iter()
                .map(|&c| template[c].clone())
                .collect();
            return Ok(idx
                .lookup_prefix(&encode_prefix(&lead))
                .into_iter()
                .map(|(k, p)| (p, k))
                .collect());
        }
    }
    let mut out = Vec::new();
    let mut batch = Vec::new();
    for p in 0..table.store.partition_count() as u16 {
        let mut from: Option<Key> = None;
        loop {
            batch.clear();
            let lower = match &from {
                Some(k) => Bound::Included(&k[..]),
                None => Bound::Unbounded,
            };
            let next = table.store.scan_batch(
                p,
                lower,
                Bound::Unbounded,
                ctx.snapshot,
                ctx.txn,
                1024,
                &mut batch,
            );
            ctx.check_interrupt()?;
            for (k, row) in &batch {
                if matches(row, cols, values) {
                    out.push((p, k.clone()));
                }
            }
            match next {
                Some(k) => from = Some(k),
                None => break,
            }
        }
    }
    Ok(out)
}

/// Checks the foreign keys of `table` for a row this statement has just
/// written (`old`: the row's previous image for an UPDATE, whose unchanged
/// keys need no check), locking each referenced row.
pub(super) fn check_references(
    ctx: &StmtCtx,
    table: &Table,
    row: &[Value],
    old: Option<&[Value]>,
) -> Result<()> {
    if table.def.foreign_keys.is_empty() {
        return Ok(());
    }
    let catalog = ctx.engine.catalog();
    for fk in &table.def.foreign_keys {
        if fk.columns.iter().any(|&c| row[c].is_null()) {
            continue;
        }
        if old.is_some_and(|o| fk.columns.iter().all(|&c| o[c] == row[c])) {
            continue;
        }
        let parent = catalog.table(&fk.ref_table)?;
        let values = key_values(row, &fk.columns, &parent.def, &fk.ref_columns)?;
        if !lock_referenced(ctx, parent, &fk.ref_columns, &values)? {
            return Err(Error::new(
                SqlState::FOREIGN_KEY_VIOLATION,
                format!(
                    "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                    table.def.name, fk.name
                ),
            )
            .with_detail(format!(
                "Key {} is not present in table \"{}\".",
                key_text(&table.def, &fk.columns, &row_values(row, &fk.columns)),
                parent.def.name
            )));
        }
    }
    Ok(())
}

fn row_values(row: &[Value], cols: &[usize]) -> Vec<Value> {
    cols.iter().map(|&c| row[c].clone()).collect()
}

/// Finds the row of `parent` holding `values` in `cols` and locks it for
/// this transaction; false when there is none.
fn lock_referenced(
    ctx: &StmtCtx,
    parent: &Table,
    cols: &[usize],
    values: &[Value],
) -> Result<bool> {
    for (p, key) in candidates(ctx, parent, cols, values)? {
        let (row, own) = newest_for_lock(ctx, &parent.store, p, &key)?;
        let Some(row) = row else { continue };
        if !matches(&row, cols, values) {
            continue;
        }
        if !own {
            match parent.store.write(
                p,
                &key,
                Some(row.clone()),
                WriteKind::Update,
                ctx.write_ctx(),
            )? {
                WriteOutcome::Written { previous } => {
                    record_write(ctx, parent, p, &key, Some(&row), previous)?
                }
                WriteOutcome::Duplicate => unreachable!("updates never report duplicates"),
            }
        }
        return Ok(true);
    }
    Ok(false)
}

/// The rows of `child` that reference `values` through `fk`, at their
/// newest state (waiting for other writers).
fn referencing_rows(
    ctx: &StmtCtx,
    child: &Table,
    fk: &ForeignKeyDef,
    values: &[Value],
) -> Result<Vec<(u16, Key, Arc<Row>)>> {
    let mut out = Vec::new();
    for (p, key) in candidates(ctx, child, &fk.columns, values)? {
        if let Some(row) = latest_image(ctx, &child.store, p, &key)? {
            if matches(&row, &fk.columns, values) {
                out.push((p, key, row));
            }
        }
    }
    Ok(out)
}

/// Whether any foreign key references `table`.
pub(super) fn is_referenced(ctx: &StmtCtx, table: &str) -> bool {
    ctx.engine
        .catalog()
        .tables
        .values()
        .any(|t| t.def.foreign_keys.iter().any(|fk| fk.ref_table == table))
}

/// The foreign keys that reference `table`, with their tables.
fn referencing_keys(ctx: &StmtCtx, table: &str) -> Vec<(Arc<Table>, ForeignKeyDef)> {
    let catalog = ctx.engine.catalog();
    let mut out = Vec::new();
    for t in catalog.tables.values() {
        for fk in &t.def.foreign_keys {
            if fk.ref_table == table {
                out.push((t.clone(), fk.clone()));
            }
        }
    }
    out
}

/// A referenced key whose NO ACTION/RESTRICT check waits for the end of
/// the statement.
pub(super) struct PendingCheck {
    parent: String,
    child: Arc<Table>,
    fk: ForeignKeyDef,
    /// The parent's key values, in the parent's types.
    parent_values: Vec<Value>,
}

fn still_referenced(parent: &Table, child: &Table, fk: &ForeignKeyDef, values: &[Value]) -> Error {
    Error::new(
        SqlState::FOREIGN_KEY_VIOLATION,
        format!(
            "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
            parent.def.name, fk.name, child.def.name
        ),
    )
    .with_detail(format!(
        "Key {} is still referenced from table \"{}\".",
        key_text(&parent.def, &fk.ref_columns, values),
        child.def.name
    ))
}

/// The referencing side of a row `parent` is losing (deleted, or updated
/// to `new` with other referenced values): CASCADE and SET NULL act now;
/// NO ACTION and RESTRICT are queued for [`check_pending`].
pub(super) fn on_referenced_row_gone(
    ctx: &StmtCtx,
    env: &Env,
    parent: &Table,
    row: &[Value],
    new: Option<&[Value]>,
    pending: &mut Vec<PendingCheck>,
) -> Result<()> {
    for (child, fk) in referencing_keys(ctx, &parent.def.name) {
        let parent_values = row_values(row, &fk.ref_columns);
        if parent_values.iter().any(Value::is_null) {
            continue;
        }
        if new.is_some_and(|n| fk.ref_columns.iter().all(|&c| n[c] == row[c])) {
            continue;
        }
        let action = match new {
            None => fk.on_delete,
            Some(_) => fk.on_update,
        };
        match action {
            ForeignKeyAction::Cascade | ForeignKeyAction::SetNull => {
                let values = key_values(row, &fk.ref_columns, &child.def, &fk.columns)?;
                for (p, key, crow) in referencing_rows(ctx, &child, &fk, &values)? {
                    if action == ForeignKeyAction::Cascade {
                        let latest = WriteCtx {
                            snapshot: Ts::MAX,
                            ..ctx.write_ctx()
                        };
                        match child
                            .store
                            .write(p, &key, None, WriteKind::Delete, latest)?
                        {
                            WriteOutcome::Written { previous } => {
                                record_write(ctx, &child, p, &key, None, previous)?
                            }
                            WriteOutcome::Duplicate => unreachable!(),
                        }
                        on_referenced_row_gone(ctx, env, &child, &crow, None, pending)?;
                    } else {
                        let mut new = crow.to_vec();
                        for &c in &fk.columns {
                            new[c] = Value::Null;
                        }
                        update_row(ctx, &child, p, &key, &crow, new, env, true)?;
                    }
                }
            }
            _ => pending.push(PendingCheck {
                parent: parent.def.name.clone(),
                child,
                fk,
                parent_values,
            }),
        }
    }
    Ok(())
}

/// NO ACTION / RESTRICT: fails with 23503 when a key the statement removed
/// is still referenced.
pub(super) fn check_pending(ctx: &StmtCtx, pending: Vec<PendingCheck>) -> Result<()> {
    for check in pending {
        let catalog = ctx.engine.catalog();
        let parent = catalog.table(&check.parent)?;
        let mut parent_row = vec![Value::Null; parent.def.columns.len()];
        for (&c, v) in check.fk.ref_columns.iter().zip(&check.parent_values) {
            parent_row[c] = v.clone();
        }
        // The key may be back (deleted and inserted again, or another row
        // updated to it): then nothing lost its parent.
        let mut back = false;
        for (p, key) in candidates(ctx, parent, &check.fk.ref_columns, &check.parent_values)? {
            if let Some(r) = latest_image(ctx, &parent.store, p, &key)? {
                if matches(&r, &check.fk.ref_columns, &check.parent_values) {
                    back = true;
                }
            }
        }
        if back {
            continue;
        }
        let values = key_values(
            &parent_row,
            &check.fk.ref_columns,
            &check.child.def,
            &check.fk.columns,
        )?;
        if !referencing_rows(ctx, &check.child, &check.fk, &values)?.is_empty() {
            return Err(still_referenced(
                parent,
                &check.child,
                &check.fk,
                &check.parent_values,
            ));
        }
    }
    Ok(())
}

/// ALTER TABLE ... ADD FOREIGN KEY: every committed row of `child` must
/// reference a row of `parent` (23503 naming the first that does not).
pub fn check_existing_references(
    engine: &EngineInner,
    child: &Table,
    parent: &Table,
    fk: &ForeignKeyDef,
) -> Result<()> {
    let snapshot = engine.txns.snapshot();
    let mut keys: HashSet<Key> = HashSet::new();
    for_each_committed(parent, snapshot.ts, |row| {
        let values = row_values(row, &fk.ref_columns);
        if !values.iter().any(Value::is_null) {
            keys.insert(encode_prefix(&values));
        }
        Ok(())
    })?;
    for_each_committed(child, snapshot.ts, |row| {
        if fk.columns.iter().any(|&c| row[c].is_null()) {
            return Ok(());
        }
        let values = key_values(row, &fk.columns, &parent.def, &fk.ref_columns)?;
        if keys.contains(&encode_prefix(&values)) {
            return Ok(());
        }
        Err(Error::new(
            SqlState::FOREIGN_KEY_VIOLATION,
            format!(
                "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                child.def.name, fk.name
            ),
        )
        .with_detail(format!(
            "Key {} is not present in table \"{}\".",
            key_text(&child.def, &fk.columns, &row_values(row, &fk.columns)),
            parent.def.name
        )))
    })
}

fn for_each_committed(
    table: &Table,
    snap: Ts,
    mut f: impl FnMut(&Row) -> Result<()>,
) -> Result<()> {
    let mut batch = Vec::new();
    for p in 0..table.store.partition_count() as u16 {
        let mut from: Option<Key> = None;
        loop {
            batch.clear();
            let lower = match &from {
                Some(k) => Bound::Included(&k[..]),
                None => Bound::Unbounded,
            };
            // Transaction id 0 owns no intents: only committed rows count.
            let next =
                table
                    .store
                    .scan_batch(p, lower, Bound::Unbounded, snap, 0, 1024, &mut batch);
            for (_, row) in &batch {
                f(row)?;
            }
            match next {
                Some(k) => from = Some(k),
                None => break,
            }
        }
    }
    Ok(())
}
