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
//! Identity: a table is followed by the table id the backup recorded,
//! through the catalog records of the log (see [`crate::catalog_log`]). A
//! rename or another definition-only change keeps the id, so changes made
//! under a new name are replayed and the definition at the time is the
//! one restored. A change that gives the table a new id (a rewriting
//! `ALTER TABLE`, `RESTORE ... WITH (replace = true)`) is followed: the
//! table continues as the rows logged under the new id (the rewrite or
//! restore logs all of them), in the new definition. A dropped table's
//! history ends at the drop, so `AS OF` a time after it brings back what
//! it held when dropped; a table created later under the name it had
//! continues it. A table whose name was taken over by an existing table
//! (renamed into it) after a drop cannot be followed exactly: that fails
//! with 0A000 rather than restoring stale rows. A database restore also
//! brings back the tables created after the backup that exist at the time.
//!
//! Only the changes of the restored tables are applied; the restore logs
//! the result like the backup's rows, so it stays all or nothing.

use crate::archive::{self, ArchivedTxn};
use crate::backup::format::Manifest;
use crate::catalog::{SequenceDef, TableDef};
use crate::catalog_log::{self, CatalogEntry};
use crate::engine::EngineInner;
use crate::error::{Error, Result, SqlState};
use crate::storage::{row_id_of, Key, TableStore};
use crate::types::{Row, Value};
use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
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

/// A backup table being restored: its id and name in the backup, its
/// definition and the store holding its backed-up rows.
pub(crate) struct Target<'a> {
    pub backup_oid: u32,
    pub backup_name: &'a str,
    pub def: &'a TableDef,
    pub store: &'a Arc<TableStore>,
}

/// A table as the replay left it, at the restore's time.
pub(crate) struct Replayed {
    /// The definition the log gave it (names and ids of the live database),
    /// or `None` when the backup's still holds.
    pub def: Option<TableDef>,
    /// With `def`: the sequences the table owned then.
    pub sequences: Vec<SequenceDef>,
    /// Its rows, keyed as `def` (or the backup's definition) keys them.
    pub store: Arc<TableStore>,
    /// Dropped before the time (it holds what it held when dropped).
    pub dropped: bool,
}

/// What the replay produced.
pub(crate) struct Outcome {
    /// One per target, in order.
    pub targets: Vec<Replayed>,
    /// Tables created after the backup (when asked for), that exist at
    /// the time.
    pub created: Vec<Replayed>,
    pub stats: ReplayStats,
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

fn check_time(manifest: &Manifest, as_of: i64, partitions: usize) -> Result<()> {
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
    if manifest.partitions != partitions {
        return Err(Error::new(
            NOT_PREPARED,
            format!(
                "the backup was taken from a database with {} partitions, this one has {}; its log archive cannot apply",
                manifest.partitions, partitions
            ),
        ));
    }
    Ok(())
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
    check_time(manifest, as_of, engine.partitions)?;
    let horizon = crate::checkpoint::archive_now(engine)?;
    if horizon < as_of {
        return Err(Error::internal(format!(
            "the log archive reaches only to {} after archiving",
            show(horizon)
        )));
    }
    Ok(Window {
        archive_dir,
        after_micros: manifest.snapshot_time_micros,
        until_micros: as_of,
    })
}

/// Like [`prepare`], for an archive read as it is (a restore into a stopped
/// data directory, whose archive may belong to another database): nothing
/// is archived, and the archive must already reach the time.
pub(crate) fn prepare_from_archive(
    archive_dir: &Path,
    manifest: &Manifest,
    as_of: i64,
    partitions: usize,
) -> Result<Window> {
    check_time(manifest, as_of, partitions)?;
    match archive::archive_span(archive_dir)? {
        None => Err(Error::new(
            NOT_PREPARED,
            format!("{} holds no log archive", archive_dir.display()),
        )),
        Some((_, horizon)) if horizon < as_of => Err(Error::new(
            NOT_PREPARED,
            format!(
                "the log archive in {} reaches only to {}",
                archive_dir.display(),
                show(horizon)
            ),
        )
        .with_hint(
            "Run CHECKPOINT on the server the archive belongs to (or start it again) so the archive reaches that time.",
        )),
        Some(_) => Ok(Window {
            archive_dir: archive_dir.to_path_buf(),
            after_micros: manifest.snapshot_time_micros,
            until_micros: as_of,
        }),
    }
}

/// A change staged for a table id the replay will follow later.
type Staged = (u16, Key, Option<Arc<Row>>);

/// One table the replay follows.
struct Followed {
    /// The table id whose changes apply now.
    oid: u32,
    /// Its name in the live database.
    name: String,
    /// The backup's definition (for a backup table).
    base: Option<TableDef>,
    /// The definition the log gave it.
    def: Option<TableDef>,
    sequences: Vec<SequenceDef>,
    dropped: bool,
    /// Dropped, and an existing table was renamed into its name since.
    superseded: bool,
    /// Created after the backup.
    created: bool,
    /// `None` while only the catalog records are read.
    store: Option<Arc<TableStore>>,
}

impl Followed {
    fn columns(&self) -> usize {
        self.def
            .as_ref()
            .or(self.base.as_ref())
            .map_or(0, |d| d.columns.len())
    }
}

/// Follows tables through the log's catalog records; with stores, applies
/// their row changes too.
struct Follower {
    tables: Vec<Followed>,
    by_oid: HashMap<u32, usize>,
    /// Follow tables created after the backup too.
    track_created: bool,
    /// With stores: the table ids that become followed later, whose
    /// changes are kept until then.
    wanted: HashSet<u32>,
    staged: HashMap<u32, Vec<Staged>>,
    /// Every table id that was followed at some point.
    seen: HashSet<u32>,
    partitions: usize,
    with_rows: bool,
}

impl Follower {
    fn index(&mut self) {
        self.by_oid = self
            .tables
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.dropped)
            .map(|(i, f)| (f.oid, i))
            .collect();
        self.seen.extend(self.by_oid.keys().copied());
    }

    /// A store holding the changes staged for `oid` (a table id new with
    /// the catalog change that makes it followed).
    fn adopt(&mut self, oid: u32, def: &TableDef) -> Option<Arc<TableStore>> {
        if !self.with_rows {
            return None;
        }
        let store = Arc::new(TableStore::new(def, self.partitions));
        for (partition, key, row) in self.staged.remove(&oid).unwrap_or_default() {
            put(&store, partition, key, row);
        }
        Some(store)
    }

    fn on_catalog(&mut self, entries: Vec<CatalogEntry>) {
        // First the tables that keep their id (renamed, altered in place),
        // then what the names say about the others.
        let mut touched = HashSet::new();
        let mut matched = Vec::with_capacity(entries.len());
        for e in &entries {
            let followed = e
                .def
                .as_ref()
                .and_then(|d| self.by_oid.get(&d.oid).copied());
            if let (Some(i), Some(def)) = (followed, &e.def) {
                let f = &mut self.tables[i];
                f.name = e.name.clone();
                f.def = Some(def.clone());
                f.sequences = e.sequences.clone();
                touched.insert(i);
            }
            matched.push(followed.is_some());
        }
        for (e, matched) in entries.into_iter().zip(matched) {
            let at = self
                .tables
                .iter()
                .enumerate()
                .position(|(i, f)| f.name == e.name && !touched.contains(&i));
            match (at, e.def) {
                (Some(i), None) => {
                    let f = &mut self.tables[i];
                    f.dropped = true;
                    f.superseded = false;
                }
                (Some(i), Some(def)) if e.new_id && !matched => {
                    let store = self.adopt(def.oid, &def);
                    let f = &mut self.tables[i];
                    f.oid = def.oid;
                    f.def = Some(def);
                    f.sequences = e.sequences;
                    f.dropped = false;
                    f.superseded = false;
                    f.store = store;
                    touched.insert(i);
                }
                (Some(i), Some(_)) => {
                    // An existing table took the name.
                    let f = &mut self.tables[i];
                    if f.dropped {
                        f.superseded = true;
                    }
                }
                (None, Some(def))
                    if e.new_id && !matched && self.track_created && def.view.is_none() =>
                {
                    let store = self.adopt(def.oid, &def);
                    self.tables.push(Followed {
                        oid: def.oid,
                        name: e.name,
                        base: None,
                        def: Some(def),
                        sequences: e.sequences,
                        dropped: false,
                        superseded: false,
                        created: true,
                        store,
                    });
                    touched.insert(self.tables.len() - 1);
                }
                (None, _) => {}
            }
        }
        self.index();
    }

    /// Applies one logged change; returns whether it was for a followed
    /// table.
    fn on_change(&mut self, partition: u16, oid: u32, key: Key, row: Option<Row>) -> Result<bool> {
        if partition as usize >= self.partitions {
            return Err(Error::new(
                SqlState::DATA_CORRUPTED,
                "the log archive names a partition this database does not have",
            ));
        }
        if let Some(&i) = self.by_oid.get(&oid) {
            let f = &self.tables[i];
            if row.as_ref().is_some_and(|r| r.len() != f.columns()) {
                return Err(Error::new(
                    SqlState::DATA_CORRUPTED,
                    format!(
                        "the log archive holds a row of table id {oid} that does not match the definition of \"{}\"",
                        f.name
                    ),
                ));
            }
            if let Some(store) = &f.store {
                put(store, partition, key, row.map(Arc::new));
            }
            return Ok(true);
        }
        if self.wanted.contains(&oid) {
            self.staged
                .entry(oid)
                .or_default()
                .push((partition, key, row.map(Arc::new)));
        }
        Ok(false)
    }
}

fn put(store: &TableStore, partition: u16, key: Key, row: Option<Arc<Row>>) {
    if row.is_some() {
        if let Some(id) = row_id_of(&key) {
            store.next_row_id.fetch_max(id + 1, Ordering::Relaxed);
        }
    }
    store.replay_put(partition, key, row);
}

fn follower(
    targets: &[Target],
    partitions: usize,
    track_created: bool,
    with_rows: bool,
) -> Follower {
    let mut f = Follower {
        tables: targets
            .iter()
            .map(|t| Followed {
                oid: t.backup_oid,
                name: t.backup_name.to_string(),
                base: Some(t.def.clone()),
                def: None,
                sequences: Vec::new(),
                dropped: false,
                superseded: false,
                created: false,
                store: with_rows.then(|| t.store.clone()),
            })
            .collect(),
        by_oid: HashMap::new(),
        track_created,
        wanted: HashSet::new(),
        staged: HashMap::new(),
        seen: HashSet::new(),
        partitions,
        with_rows,
    };
    f.index();
    f
}

/// Brings the target tables forward through the window: first reads the
/// catalog records to learn which table ids they (and, with
/// `track_created`, the tables created since) go through, then applies
/// every change of those ids, in commit order.
pub(crate) fn replay(
    window: &Window,
    targets: &[Target],
    partitions: usize,
    track_created: bool,
) -> Result<Outcome> {
    let mut plan = follower(targets, partitions, track_created, false);
    let initial: HashSet<u32> = plan.seen.clone();
    archive::replay_archive(
        &window.archive_dir,
        window.after_micros,
        window.until_micros,
        |txn: ArchivedTxn| {
            if let Some(c) = &txn.catalog {
                plan.on_catalog(catalog_log::decode(c)?);
            }
            Ok(())
        },
    )?;
    let mut run = follower(targets, partitions, track_created, true);
    run.wanted = plan.seen.difference(&initial).copied().collect();
    let mut stats = ReplayStats::default();
    archive::replay_archive(
        &window.archive_dir,
        window.after_micros,
        window.until_micros,
        |txn: ArchivedTxn| {
            if let Some(c) = &txn.catalog {
                run.on_catalog(catalog_log::decode(c)?);
                return Ok(());
            }
            let mut touched = false;
            for ((oid, key, row), partition) in txn.changes.into_iter().zip(txn.partitions) {
                if run.on_change(partition, oid, key, row)? {
                    stats.changes += 1;
                    touched = true;
                }
            }
            stats.transactions += touched as u64;
            Ok(())
        },
    )?;
    let mut out = Outcome {
        targets: Vec::new(),
        created: Vec::new(),
        stats,
    };
    for f in run.tables {
        if f.superseded {
            return Err(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!(
                    "table \"{}\" was dropped and another table was renamed to its name before the AS OF time; RESTORE ... AS OF cannot follow it",
                    f.name
                ),
            )
            .with_hint("Restore AS OF a time before the drop, or take a new backup."));
        }
        let replayed = Replayed {
            def: f.def,
            sequences: f.sequences,
            store: f.store.expect("replayed with rows"),
            dropped: f.dropped,
        };
        if !f.created {
            out.targets.push(replayed);
        } else if !replayed.dropped {
            out.created.push(replayed);
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn def(oid: u32, name: &str) -> TableDef {
        TableDef {
            oid,
            name: name.to_string(),
            ..Default::default()
        }
    }

    fn set(name: &str, oid: u32, new_id: bool) -> CatalogEntry {
        CatalogEntry {
            name: name.to_string(),
            def: Some(def(oid, name)),
            sequences: vec![],
            new_id,
        }
    }

    fn gone(name: &str) -> CatalogEntry {
        CatalogEntry {
            name: name.to_string(),
            def: None,
            sequences: vec![],
            new_id: false,
        }
    }

    fn follow(track_created: bool, changes: Vec<Vec<CatalogEntry>>) -> Follower {
        let backup = def(10, "t");
        let store = Arc::new(TableStore::new(&backup, 1));
        let targets = [Target {
            backup_oid: 10,
            backup_name: "t",
            def: &backup,
            store: &store,
        }];
        let mut f = follower(&targets, 1, track_created, false);
        for c in changes {
            f.on_catalog(c);
        }
        f
    }

    #[test]
    fn follows_renames_replacements_and_recreation() {
        // Renamed, rewritten (new id) under the new name, logged twice.
        let f = follow(
            false,
            vec![
                vec![set("u", 10, false), gone("t")],
                vec![set("u", 11, true)],
                vec![set("u", 11, true)],
            ],
        );
        let t = &f.tables[0];
        assert_eq!((t.oid, t.name.as_str(), t.dropped), (11, "u", false));
        assert_eq!(f.seen, HashSet::from([10, 11]));

        // Dropped, then created again under the name it had.
        let f = follow(false, vec![vec![gone("t")], vec![set("t", 12, true)]]);
        assert_eq!((f.tables[0].oid, f.tables[0].dropped), (12, false));

        // A table created under the old name after a rename is another one.
        let f = follow(
            true,
            vec![
                vec![set("u", 10, false), gone("t")],
                vec![set("t", 13, true)],
            ],
        );
        assert_eq!(f.tables[0].oid, 10);
        assert!(f.tables[1].created && f.tables[1].oid == 13);
    }

    #[test]
    fn a_name_taken_by_a_renamed_table_cannot_be_followed() {
        let f = follow(
            false,
            vec![vec![gone("t")], vec![set("t", 7, false), gone("v")]],
        );
        assert!(f.tables[0].dropped && f.tables[0].superseded);
        // Once that table leaves the name again, the drop stands.
        let f = follow(
            false,
            vec![
                vec![gone("t")],
                vec![set("t", 7, false), gone("v")],
                vec![gone("t")],
            ],
        );
        assert!(f.tables[0].dropped && !f.tables[0].superseded);
    }
}
