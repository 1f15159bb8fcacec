//! Catalog records: every change of the table definitions is also written
//! to the log, so the log archive knows which table id a table name stood
//! for at any moment and what it looked like. A point-in-time restore
//! follows a table through the changes that give it a new id (a rewriting
//! `ALTER TABLE`, `RESTORE ... WITH (replace = true)`, `DROP` then
//! `CREATE`) and finds the tables created after a backup (see
//! [`crate::pitr`]).
//!
//! A record lists, for each table name the change touched, the table's
//! definition afterwards (or none, when no table has the name any more),
//! the sequences it owns, and whether its id is new with this change. It
//! is queued like a commit, so its commit time orders it with every
//! transaction, and it is durable before the change becomes visible: no
//! commit can touch a new table id before the record that introduces it.
//!
//! The catalog file stays the source of truth at start-up; recovery skips
//! catalog records. The catalog file is written first and carries the
//! change (`last_change`) until a later catalog write, so a crash between
//! the two writes loses nothing: every start logs that change again.
//! Applying a change twice is harmless (the second time, every table is
//! already what it says).

use crate::catalog::{self, CatalogData, CatalogSnapshot, SequenceDef, TableDef};
use crate::engine::EngineInner;
use crate::error::{Error, Result, SqlState};
use crate::txn::encode_catalog_record;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// One table name a catalog change touched.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub name: String,
    /// The table's definition after the change; `None` when no table has
    /// this name any more (dropped, or renamed away).
    pub def: Option<TableDef>,
    /// The sequences the table owns, as the change left them.
    #[serde(default)]
    pub sequences: Vec<SequenceDef>,
    /// The table id is new with this change: the table was created,
    /// restored or rewritten, and all its rows are logged under the new id
    /// from this change on, or before it by the change itself.
    pub new_id: bool,
}

fn same_def(a: &TableDef, b: &TableDef) -> bool {
    serde_json::to_value(a).ok() == serde_json::to_value(b).ok()
}

/// The table changes from the published catalog `old` to `new`.
pub(crate) fn changes(old: &CatalogSnapshot, new: &CatalogData) -> Vec<CatalogEntry> {
    let old_ids: HashSet<u32> = old.tables.values().map(|t| t.def.oid).collect();
    let mut out = Vec::new();
    for (name, def) in &new.tables {
        if old.tables.get(name).is_some_and(|t| same_def(&t.def, def)) {
            continue;
        }
        out.push(CatalogEntry {
            name: name.clone(),
            def: Some(def.clone()),
            sequences: def
                .owned_sequences
                .iter()
                .filter_map(|s| new.sequences.get(s).cloned())
                .collect(),
            new_id: !old_ids.contains(&def.oid),
        });
    }
    for name in old.tables.keys() {
        if !new.tables.contains_key(name) {
            out.push(CatalogEntry {
                name: name.clone(),
                def: None,
                sequences: Vec::new(),
                new_id: false,
            });
        }
    }
    out
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<CatalogEntry>> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            SqlState::DATA_CORRUPTED,
            format!("a catalog record in the log is damaged: {e}"),
        )
    })
}

/// Writes the catalog file for `data` and, when table definitions
/// changed, the catalog record of the change, waiting until it is durable.
/// Call with the catalog locked, before the change is made visible.
pub(crate) fn save_and_log(engine: &EngineInner, data: &CatalogData) -> Result<()> {
    let entries = changes(&engine.catalog(), data);
    if entries.is_empty() {
        return catalog::save(&engine.data_dir, data);
    }
    let mut file = data.clone();
    file.last_change = entries;
    catalog::save(&engine.data_dir, &file)?;
    if let Err(e) = log_entries(engine, &file.last_change) {
        // The catalog file holds a change the log does not: this node must
        // not go on serving (the next start logs the change).
        tracing::error!("partition log failure, stopping: {e}");
        std::process::abort();
    }
    Ok(())
}

fn log_entries(engine: &EngineInner, entries: &[CatalogEntry]) -> Result<()> {
    let payload = serde_json::to_vec(entries).map_err(|e| Error::internal(e.to_string()))?;
    let txn = engine.txns.begin();
    engine.txns.finish(txn);
    let append = engine.txns.append_committed(&engine.logs[0], |time| {
        encode_catalog_record(txn, time, 0, &payload)
    });
    futures::executor::block_on(append).map(|_| ())
}

/// At start-up (after recovery): logs the change the catalog file carries
/// again, in case a crash came between the file and its record.
pub(crate) fn log_last_change(engine: &EngineInner) -> Result<()> {
    let entries = std::mem::take(&mut engine.catalog_data.lock().last_change);
    if entries.is_empty() {
        return Ok(());
    }
    log_entries(engine, &entries)
}
