//! Point-in-time restore: `RESTORE ... FROM 'name' AS OF '<timestamp>'`.
//!
//! A backup holds its tables as of one consistent cut (every transaction
//! committed at or before its snapshot time, none after). To bring them
//! forward, the restore first archives the log written up to now (the same
//! step a checkpoint takes, without writing a checkpoint), so the archive
//! is complete up to a horizon at or after the requested time, and then
//! replays from the archive exactly the transactions committed strictly
//! after the snapshot time and at or before the requested time, whole and
//! in commit order across partitions (see [`crate::archive`]). Nothing is
//! read from the live log, so no transaction can be seen twice or missed
//! between the two.
//!
//! Identity: a table is followed by the table id the backup recorded. A
//! rename keeps the id, so changes made under a new name are replayed; a
//! dropped table's history ends at the drop, so `AS OF` a time before the
//! drop brings back what it held then. A table that was replaced since
//! (a rewriting `ALTER TABLE`, `RESTORE ... WITH (replace = true)`, `DROP`
//! then `CREATE` of the same name) is a different table with a new id whose
//! changes are not replayed.
//!
//! Only the changes of the restored tables are applied; they are logged
//! like the backup's rows, so the restore stays all or nothing.

use crate::archive::{self, ArchivedTxn};
use crate::backup::format::Manifest;
use crate::catalog::{SequenceDef, TableDef};
use crate::engine::EngineInner;
use crate::error::{Error, Result, SqlState};
use crate::storage::{row_id_of, Key, TableStore};
use crate::types::{Row, Value};
use std::collections::HashMap;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// object_not_in_prerequisite_state
const NOT_PREPARED: SqlState = SqlState("55000");

/// The span of history a point-in-time restore replays: every transaction
/// committed after `after_micros` and at or before `until_micros`.
pub(crate) struct Window {
    archive_dir: PathBuf,
    after_micros: i64,
    until_micros: i64,
}

/// A table being restored: its id in the backup, its new definition and
/// the store being filled.
pub(crate) struct Target<'a> {
    pub backup_oid: u32,
    pub def: &'a TableDef,
    pub store: &'a Arc<TableStore>,
}

/// What the replay changed.
#[derive(Default, Debug)]
pub(crate) struct ReplayStats {
    pub transactions: u64,
    pub changes: u64,
}

fn show(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string())
        .unwrap_or_else(|| micros.to_string())
}

/// Checks an `AS OF` time against the backup and the server, and archives
/// the log written up to now so the archive covers it. Call before holding
/// checkpoints off (archiving waits for a running checkpoint).
pub(crate) fn prepare(engine: &EngineInner, manifest: &Manifest, as_of: i64) -> Result<Window> {
    let Some(archive_dir) = engine.checkpointer.settings.archive_dir.clone() else {
        return Err(Error::new(
            NOT_PREPARED,
            "RESTORE ... AS OF needs a log archive, and this server has none",
        )
        .with_hint("Start the server with --archive-dir before taking the backup."));
    };
    let snapshot = manifest.snapshot_time_micros;
    if as_of < snapshot {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!(
                "AS OF {} is before the backup's snapshot time {}",
                show(as_of),
                show(snapshot)
            ),
        )
        .with_hint("Restore from an older backup."));
    }
    let now = chrono::Utc::now().timestamp_micros();
    if as_of > now {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("AS OF {} is in the future", show(as_of)),
        ));
    }
    if manifest.partitions != engine.partitions {
        return Err(Error::new(
            NOT_PREPARED,
            format!(
                "the backup was taken from a database with {} partitions, this one has {}; its log archive cannot apply",
                manifest.partitions, engine.partitions
            ),
        ));
    }
    let horizon = crate::checkpoint::archive_now(engine)?;
    if horizon < as_of {
        return Err(Error::internal(format!(
            "the log archive reaches only to {} after archiving",
            show(horizon)
        )));
    }
    Ok(Window {
        archive_dir,
        after_micros: snapshot,
        until_micros: as_of,
    })
}

/// Applies every archived change of the target tables in the window to
/// their stores, calling `log` for each (partition, new table id, key,
/// row) so it is made durable with the restore.
pub(crate) fn replay(
    window: &Window,
    targets: &[Target],
    mut log: impl FnMut(u16, u32, Key, Option<Arc<Row>>) -> Result<()>,
) -> Result<ReplayStats> {
    let by_oid: HashMap<u32, &Target> = targets.iter().map(|t| (t.backup_oid, t)).collect();
    let mut stats = ReplayStats::default();
    archive::replay_archive(
        &window.archive_dir,
        window.after_micros,
        window.until_micros,
        |txn: ArchivedTxn| {
            let mut touched = false;
            for ((oid, key, row), partition) in txn.changes.into_iter().zip(txn.partitions) {
                let Some(target) = by_oid.get(&oid) else {
                    continue;
                };
                if row
                    .as_ref()
                    .is_some_and(|r| r.len() != target.def.columns.len())
                {
                    return Err(Error::new(
                        SqlState::DATA_CORRUPTED,
                        format!(
                            "the log archive holds a row of table id {oid} that does not match the backup's definition of \"{}\"",
                            target.def.name
                        ),
                    ));
                }
                if partition as usize >= target.store.partition_count() {
                    return Err(Error::new(
                        SqlState::DATA_CORRUPTED,
                        "the log archive names a partition this database does not have",
                    ));
                }
                if row.is_some() {
                    if let Some(id) = row_id_of(&key) {
                        target
                            .store
                            .next_row_id
                            .fetch_max(id + 1, Ordering::Relaxed);
                    }
                }
                let row = row.map(Arc::new);
                target.store.replay_put(partition, key.clone(), row.clone());
                log(partition, target.def.oid, key, row)?;
                stats.changes += 1;
                touched = true;
            }
            stats.transactions += touched as u64;
            Ok(())
        },
    )?;
    Ok(stats)
}

/// Moves the sequences a restored table's columns draw from past the
/// largest value the replayed rows hold, so `nextval` does not hand out a
/// value the table already has.
pub(crate) fn advance_sequences(def: &TableDef, store: &TableStore, sequences: &mut [SequenceDef]) {
    for seq in sequences.iter_mut().filter(|s| s.increment > 0) {
        let default = format!("nextval('{}')", seq.name);
        let Some(col) = def
            .columns
            .iter()
            .position(|c| c.default.as_deref() == Some(default.as_str()))
        else {
            continue;
        };
        let mut max: Option<i64> = None;
        let mut batch = Vec::new();
        for p in 0..store.partition_count() {
            let mut from: Option<Key> = None;
            loop {
                batch.clear();
                let lower = from.as_deref().map_or(Bound::Unbounded, Bound::Included);
                // Nothing else sees this store yet: every row is the latest.
                let next = store.scan_batch(
                    p as u16,
                    lower,
                    Bound::Unbounded,
                    u64::MAX,
                    0,
                    1024,
                    &mut batch,
                );
                for (_, row) in &batch {
                    let v = match &row[col] {
                        Value::Int2(v) => *v as i64,
                        Value::Int4(v) => *v as i64,
                        Value::Int8(v) => *v,
                        _ => continue,
                    };
                    max = Some(max.map_or(v, |m| m.max(v)));
                }
                match next {
                    Some(k) => from = Some(k),
                    None => break,
                }
            }
        }
        if let Some(max) = max {
            if seq.reserved_until.is_none_or(|r| r < max) {
                seq.reserved_until = Some(max);
            }
        }
    }
}
