//! Reading backups back: the manifest (`SHOW BACKUP`), a full check
//! (`VERIFY BACKUP`) and restoring tables.
//!
//! A restore loads rows into table stores that are not in the catalog yet,
//! appends them to the partition logs under fresh table ids (reserved in
//! the catalog first, so no later table can take them), waits until every
//! record is durable and then publishes all restored tables and sequences
//! in one catalog change. Until that change, recovery skips the records
//! (their table ids are unknown), so a failed or interrupted restore leaves
//! nothing behind.
//!
//! A point-in-time restore (`AS OF`) first brings the loaded tables forward
//! with the log archive (see [`crate::pitr`]), which may change their
//! definitions and add tables created after the backup, and then logs the
//! result under fresh ids the same way.

use super::format::{parse_end, BackupReader, FrameKind, Header, Manifest};
use crate::catalog::{self, SequenceDef, TableDef};
use crate::engine::{build_table, duplicate_relation, sequence_from, EngineInner};
use crate::error::{Error, Result, SqlState};
use crate::storage::{row_id_of, Key, TableStore};
use crate::txn::{encode_change, encode_change_of_encoded_row, encode_commit_record_of};
use crate::types::{Row, Value};
use futures::future::BoxFuture;
use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Log records in flight before the restore waits for them.
const MAX_PENDING_APPENDS: usize = 256;
/// Rows per log record written by a restore.
const ROWS_PER_RECORD: usize = 4096;
/// Largest log record body a restore writes, in bytes (wide rows).
const BYTES_PER_RECORD: usize = 4 << 20;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct RestoreRequest {
    /// Restore only this table (all tables when `None`).
    pub table: Option<String>,
    /// Restore the table under this name.
    pub rename: Option<String>,
    /// Replace existing tables of the same names instead of failing.
    pub replace: bool,
    pub passphrase: Option<String>,
    /// Bring the tables forward to this time (microseconds since the Unix
    /// epoch) with the log archive (see [`crate::pitr`]).
    pub as_of_micros: Option<i64>,
    /// With `as_of_micros`: read this log archive as it is, instead of the
    /// server's own archive brought up to date (a restore into a stopped
    /// data directory).
    pub archive_dir: Option<std::path::PathBuf>,
}

#[derive(Clone, Debug)]
pub struct RestoreSummary {
    pub tables: Vec<String>,
    pub rows: u64,
}

fn open(path: &Path, passphrase: Option<&str>) -> Result<BackupReader<BufReader<File>>> {
    let file =
        File::open(path).map_err(|e| Error::io(format!("opening backup {}", path.display()), e))?;
    BackupReader::new(BufReader::with_capacity(1 << 20, file), passphrase)
}

/// The header and manifest of a backup file.
pub fn read_manifest(path: &Path, passphrase: Option<&str>) -> Result<(Header, Manifest)> {
    let mut r = open(path, passphrase)?;
    let m = r.manifest()?;
    Ok((r.header, m))
}

/// Reads every frame, checking checksums, authentication, row encoding and
/// the row counts; returns (table, rows) as found.
pub fn verify_backup(path: &Path, passphrase: Option<&str>) -> Result<Vec<(String, u64)>> {
    let mut r = open(path, passphrase)?;
    let manifest = r.manifest()?;
    let mut counts = vec![0u64; manifest.tables.len()];
    let mut chunks = 0u64;
    loop {
        match r.next_frame()? {
            Some((FrameKind::Chunk, raw)) => {
                let chunk = super::load::decode_chunk(raw, &manifest, None)?;
                counts[chunk.table] += chunk.count as u64;
                chunks += 1;
            }
            Some((FrameKind::End, raw)) => {
                check_totals(&manifest, &counts, chunks, &raw)?;
                break;
            }
            Some((FrameKind::Manifest, _)) => {
                return Err(super::format::corrupt("has a second manifest"))
            }
            None => return Err(super::format::corrupt("is truncated")),
        }
    }
    Ok(manifest
        .tables
        .iter()
        .zip(counts)
        .map(|(t, n)| (t.def.name.clone(), n))
        .collect())
}

/// Reserves `needed` object ids in the saved catalog; returns the first.
fn reserve_oids(engine: &EngineInner, needed: u32) -> Result<u32> {
    let mut data = engine.catalog_data.lock();
    let mut new_data = data.clone();
    let base = new_data.next_oid;
    new_data.next_oid = base
        .checked_add(needed)
        .ok_or_else(|| Error::new(SqlState::PROGRAM_LIMIT_EXCEEDED, "out of object ids"))?;
    catalog::save(&engine.data_dir, &new_data)?;
    *data = new_data;
    Ok(base)
}

pub(crate) fn check_totals(
    manifest: &Manifest,
    counts: &[u64],
    chunks: u64,
    end_raw: &[u8],
) -> Result<()> {
    let end = parse_end(end_raw)?;
    let total: u64 = counts.iter().sum();
    let per_table_ok = manifest
        .tables
        .iter()
        .zip(counts)
        .all(|(t, n)| t.rows == *n);
    if end.chunks != chunks || end.rows != total || !per_table_ok {
        return Err(super::format::corrupt(
            "does not hold the rows its manifest lists",
        ));
    }
    Ok(())
}

/// `old_table_name...` becomes `new_table_name...`; other names get the new
/// table name as a prefix.
fn rename_object(old: &str, new: &str, object: &str) -> String {
    match object.strip_prefix(old) {
        Some(rest) => format!("{new}{rest}"),
        None => format!("{new}_{object}"),
    }
}

/// Renames a table and, after it, its indexes, constraints and sequences.
fn rename_table(def: &mut TableDef, seqs: &mut [SequenceDef], new: &str) {
    let old = std::mem::replace(&mut def.name, new.to_string());
    def.pk_name = def.pk_name.take().map(|n| rename_object(&old, new, &n));
    for idx in &mut def.indexes {
        idx.name = rename_object(&old, new, &idx.name);
    }
    for seq in seqs.iter_mut() {
        let renamed = rename_object(&old, new, &seq.name);
        let from = format!("nextval('{}')", seq.name);
        let to = format!("nextval('{renamed}')");
        for c in &mut def.columns {
            if c.default.as_deref() == Some(from.as_str()) {
                c.default = Some(to.clone());
            }
        }
        seq.name = renamed;
    }
    def.owned_sequences = seqs.iter().map(|s| s.name.clone()).collect();
}

/// Marks a restored table created after the backup (`AS OF`), in
/// [`Pending::source`].
const CREATED_AFTER_BACKUP: usize = usize::MAX - 1;

/// A table being restored, not yet in the catalog.
pub(crate) struct Pending {
    /// Position in the manifest.
    pub source: usize,
    pub def: TableDef,
    pub sequences: Vec<SequenceDef>,
    pub store: Arc<TableStore>,
    pub rows: u64,
}

fn not_in_backup(name: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_TABLE,
        format!("table \"{name}\" is not in the backup"),
    )
}

/// The table and sequence definitions to restore, renamed as asked, with
/// table ids not yet assigned.
fn plan_tables(
    manifest: &Manifest,
    req: &RestoreRequest,
) -> Result<Vec<(usize, TableDef, Vec<SequenceDef>)>> {
    let sources: Vec<usize> = match &req.table {
        Some(name) => vec![manifest
            .tables
            .iter()
            .position(|t| &t.def.name == name)
            .ok_or_else(|| not_in_backup(name))?],
        None => (0..manifest.tables.len()).collect(),
    };
    let sequence_def = |name: &str| -> Result<SequenceDef> {
        let e = manifest
            .sequences
            .iter()
            .find(|s| s.def.name == name)
            .ok_or_else(|| super::format::corrupt(&format!("lacks sequence \"{name}\"")))?;
        let mut def = e.def.clone();
        def.reserved_until = e.called.then_some(e.last);
        Ok(def)
    };
    let mut out = Vec::new();
    for i in sources {
        let mut def = manifest.tables[i].def.clone();
        let mut seqs = def
            .owned_sequences
            .iter()
            .map(|s| sequence_def(s))
            .collect::<Result<Vec<_>>>()?;
        if let Some(new) = &req.rename {
            rename_table(&mut def, &mut seqs, new);
        }
        out.push((i, def, seqs));
    }
    if req.table.is_none() {
        // Sequences no table owns come back with a database restore.
        let owned: HashSet<&str> = out
            .iter()
            .flat_map(|(_, d, _)| d.owned_sequences.iter().map(String::as_str))
            .collect();
        let free: Vec<SequenceDef> = manifest
            .sequences
            .iter()
            .filter(|s| !owned.contains(s.def.name.as_str()))
            .map(|s| sequence_def(&s.def.name))
            .collect::<Result<_>>()?;
        if !free.is_empty() {
            // A carrier for the sequences no table owns (never published).
            out.push((usize::MAX, TableDef::default(), free));
        }
    }
    Ok(out)
}

/// Fails with 42P07 when a restored table, index or sequence name is taken
/// (by something the restore does not replace).
fn check_conflicts(
    data: &catalog::CatalogData,
    plan: &[(usize, TableDef, Vec<SequenceDef>)],
    replace: bool,
) -> Result<()> {
    let replaced: HashSet<&str> = plan
        .iter()
        .filter(|(src, _, _)| *src != usize::MAX)
        .map(|(_, d, _)| d.name.as_str())
        .filter(|n| replace && data.tables.contains_key(*n))
        .collect();
    let replaced_seqs: HashSet<&str> = replaced
        .iter()
        .flat_map(|t| data.tables[*t].owned_sequences.iter().map(String::as_str))
        .collect();
    let taken = |name: &str| -> bool {
        if replaced.contains(name) || replaced_seqs.contains(name) {
            return false;
        }
        if data.tables.contains_key(name) {
            return true;
        }
        if data.sequences.contains_key(name) {
            return !replace;
        }
        data.tables.values().any(|t| {
            !replaced.contains(t.name.as_str())
                && (t.pk_name.as_deref() == Some(name) || t.indexes.iter().any(|i| i.name == name))
        })
    };
    for (src, def, seqs) in plan {
        let mut names: Vec<&str> = seqs.iter().map(|s| s.name.as_str()).collect();
        if *src != usize::MAX {
            names.push(&def.name);
            names.extend(def.pk_name.as_deref());
            names.extend(def.indexes.iter().map(|i| i.name.as_str()));
        }
        for n in names {
            if taken(n) {
                let mut e = duplicate_relation(n);
                if !replace && data.tables.contains_key(n) {
                    e = e.with_hint("Use RESTORE ... WITH (replace = true) to replace it.");
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Restores tables (and their sequences; roles for a database backup)
/// from the backup at `path`. All or nothing.
pub fn restore_backup(
    engine: &EngineInner,
    path: &Path,
    req: &RestoreRequest,
) -> Result<RestoreSummary> {
    let mut reader = open(path, req.passphrase.as_deref())?;
    let manifest = reader.manifest()?;
    if req.rename.is_some() && req.table.is_none() {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "AS needs RESTORE TABLE",
        ));
    }
    let plan = plan_tables(&manifest, req)?;
    check_conflicts(&engine.catalog_data.lock(), &plan, req.replace)?;
    let window = match (req.as_of_micros, &req.archive_dir) {
        (Some(t), Some(dir)) => Some(crate::pitr::prepare_from_archive(
            dir,
            &manifest,
            t,
            engine.partitions,
        )?),
        (Some(t), None) => Some(crate::pitr::prepare(engine, &manifest, t)?),
        (None, _) => None,
    };
    let _no_checkpoint = engine.checkpointer.hold_off();

    // Reserve fresh ids durably before any row is logged under them.
    let needed: u32 = plan
        .iter()
        .map(|(src, d, s)| {
            (*src != usize::MAX) as u32 * (1 + d.indexes.len() as u32) + s.len() as u32
        })
        .sum();
    let mut next_oid = reserve_oids(engine, needed)?;
    let mut take_oid = || {
        let o = next_oid;
        next_oid += 1;
        o
    };
    let mut pending: Vec<Pending> = Vec::new();
    let mut free_sequences: Vec<SequenceDef> = Vec::new();
    for (source, mut def, mut sequences) in plan {
        for s in &mut sequences {
            s.oid = take_oid();
        }
        if source == usize::MAX {
            free_sequences = sequences;
            continue;
        }
        def.oid = take_oid();
        for idx in &mut def.indexes {
            idx.oid = take_oid();
        }
        let store = Arc::new(TableStore::new(&def, engine.partitions));
        pending.push(Pending {
            source,
            def,
            sequences,
            store,
            rows: 0,
        });
    }

    // Load and log the rows.
    let mut log = LogBatcher::new(engine);
    let log_now = window.is_none().then_some(&mut log);
    super::load::load_rows(reader, &manifest, &mut pending, log_now)?;
    if let Some(window) = &window {
        bring_forward(engine, &manifest, window, req, &mut pending)?;
        for p in &pending {
            log_all_rows(&mut log, p)?;
        }
    }
    log.finish()?;

    // Publish everything in one catalog change.
    let mut data = engine.catalog_data.lock();
    let all_plan: Vec<(usize, TableDef, Vec<SequenceDef>)> = pending
        .iter()
        .map(|p| (p.source, p.def.clone(), p.sequences.clone()))
        .chain(
            (!free_sequences.is_empty())
                .then(|| (usize::MAX, TableDef::default(), free_sequences.clone())),
        )
        .collect();
    check_conflicts(&data, &all_plan, req.replace)?;
    let mut new_data = data.clone();
    let mut removed_tables = Vec::new();
    let mut removed_sequences = Vec::new();
    for p in &pending {
        if let Some(old) = new_data.tables.remove(&p.def.name) {
            for s in old.owned_sequences {
                new_data.sequences.remove(&s);
                removed_sequences.push(s);
            }
            removed_tables.push(p.def.name.clone());
        }
    }
    let mut tables = Vec::new();
    let mut sequences = Vec::new();
    for p in &pending {
        new_data.tables.insert(p.def.name.clone(), p.def.clone());
        tables.push((
            p.def.name.clone(),
            build_table(p.def.clone(), Some(p.store.clone()), engine.partitions)?,
        ));
        for s in &p.sequences {
            new_data.sequences.insert(s.name.clone(), s.clone());
            sequences.push((s.name.clone(), sequence_from(s)));
        }
    }
    for s in &free_sequences {
        new_data.sequences.insert(s.name.clone(), s.clone());
        sequences.push((s.name.clone(), sequence_from(s)));
    }
    engine.publish(&new_data, |snap| {
        for t in &removed_tables {
            snap.tables.remove(t);
        }
        for s in &removed_sequences {
            snap.sequences.remove(s);
        }
        for (n, t) in tables {
            snap.tables.insert(n, t);
        }
        for (n, s) in sequences {
            snap.sequences.insert(n, s);
        }
    })?;
    *data = new_data;
    drop(data);

    if req.table.is_none() {
        {
            let store = &engine.roles;
            for role in &manifest.roles {
                if store.get(&role.name).is_none() {
                    if let Err(e) = store.create_role(role.clone()) {
                        tracing::warn!("could not restore role \"{}\": {e}", role.name);
                    }
                }
            }
        }
    }
    let summary = RestoreSummary {
        tables: pending.iter().map(|p| p.def.name.clone()).collect(),
        rows: pending.iter().map(|p| p.rows).sum(),
    };
    tracing::info!(
        tables = summary.tables.len(),
        rows = summary.rows,
        "restored from {}",
        path.display()
    );
    Ok(summary)
}

/// Calls `f` with every row of a store nothing else sees yet.
fn for_each_row(
    store: &TableStore,
    mut f: impl FnMut(u16, Key, Arc<Row>) -> Result<()>,
) -> Result<()> {
    let mut batch = Vec::new();
    for part in 0..store.partition_count() {
        let mut from: Option<Key> = None;
        loop {
            batch.clear();
            let lower = from
                .as_deref()
                .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Included);
            // Nothing else sees this store yet: every row is the latest.
            let next = store.scan_batch(
                part as u16,
                lower,
                std::ops::Bound::Unbounded,
                u64::MAX,
                0,
                1024,
                &mut batch,
            );
            for (key, row) in batch.drain(..) {
                f(part as u16, key, row)?;
            }
            match next {
                Some(k) => from = Some(k),
                None => break,
            }
        }
    }
    Ok(())
}

/// Logs every row of a restored table (after a point-in-time replay).
fn log_all_rows(log: &mut LogBatcher, p: &Pending) -> Result<()> {
    for_each_row(&p.store, |part, key, row| {
        log.add(part, p.def.oid, &key, Some(&row))
    })
}

/// The point-in-time part of a restore: replays the log archive into the
/// pending tables, takes the definitions the log gave them, adds the
/// tables created after the backup (a database restore) and gives every
/// table, index and sequence whose definition came from the log a fresh
/// id. Nothing is logged yet.
fn bring_forward(
    engine: &EngineInner,
    manifest: &Manifest,
    window: &crate::pitr::Window,
    req: &RestoreRequest,
    pending: &mut Vec<Pending>,
) -> Result<()> {
    let targets: Vec<crate::pitr::Target> = pending
        .iter()
        .map(|p| crate::pitr::Target {
            backup_oid: manifest.tables[p.source].def.oid,
            backup_name: &manifest.tables[p.source].def.name,
            def: &p.def,
            store: &p.store,
        })
        .collect();
    let outcome = crate::pitr::replay(window, &targets, engine.partitions, req.table.is_none())?;
    drop(targets);
    tracing::info!(
        transactions = outcome.stats.transactions,
        changes = outcome.stats.changes,
        created = outcome.created.len(),
        "replayed the log archive for RESTORE ... AS OF"
    );
    // (source, definition, sequences, rows, table id to keep)
    let mut tables = Vec::new();
    for (p, r) in pending.iter().zip(outcome.targets) {
        let (def, seqs) = match r.def {
            Some(mut def) => {
                let mut seqs = r.sequences;
                // A table restore keeps the name asked for; a database
                // restore takes the names of the time.
                if req.table.is_some() && def.name != p.def.name {
                    rename_table(&mut def, &mut seqs, &p.def.name);
                }
                (def, seqs)
            }
            None => (p.def.clone(), p.sequences.clone()),
        };
        tables.push((p.source, def, seqs, r.store, Some(p.def.oid)));
    }
    for r in outcome.created {
        let def = r.def.expect("a created table has a definition");
        tables.push((CREATED_AFTER_BACKUP, def, r.sequences, r.store, None));
    }
    let mut names = HashSet::new();
    for (_, def, _, _, _) in &tables {
        if !names.insert(def.name.as_str()) {
            return Err(duplicate_relation(&def.name));
        }
    }
    let needed: u32 = tables
        .iter()
        .map(|(_, d, s, _, keep)| keep.is_none() as u32 + (d.indexes.len() + s.len()) as u32)
        .sum();
    let mut next_oid = reserve_oids(engine, needed)?;
    let mut take_oid = || {
        let o = next_oid;
        next_oid += 1;
        o
    };
    let mut out = Vec::with_capacity(tables.len());
    for (source, mut def, mut sequences, rows, keep) in tables {
        def.oid = keep.unwrap_or_else(&mut take_oid);
        for idx in &mut def.indexes {
            idx.oid = take_oid();
        }
        for s in &mut sequences {
            s.oid = take_oid();
        }
        let store = Arc::new(TableStore::new(&def, engine.partitions));
        let mut count = 0u64;
        for_each_row(&rows, |part, key, row| {
            if let Some(id) = row_id_of(&key) {
                store.next_row_id.fetch_max(id + 1, Ordering::Relaxed);
            }
            store.replay_put(part, key, Some(row));
            count += 1;
            Ok(())
        })?;
        crate::pitr::advance_sequences(&def, &store, &mut sequences);
        out.push(Pending {
            source,
            def,
            sequences,
            store,
            rows: count,
        });
    }
    *pending = out;
    Ok(())
}

/// One partition's changes waiting to be logged, already encoded as a
/// commit record holds them.
#[derive(Default)]
struct PendingRecord {
    body: Vec<u8>,
    changes: usize,
}

/// Groups rows of a table that is not published yet (a restore, a table
/// rewrite) into partition log records, and waits for them.
pub(crate) struct LogBatcher<'a> {
    engine: &'a EngineInner,
    buffers: Vec<PendingRecord>,
    in_flight: Vec<BoxFuture<'static, Result<u64>>>,
}

impl<'a> LogBatcher<'a> {
    pub(crate) fn new(engine: &'a EngineInner) -> Self {
        LogBatcher {
            engine,
            buffers: (0..engine.partitions).map(|_| Default::default()).collect(),
            in_flight: Vec::new(),
        }
    }

    /// Logs `row` (or a deletion) under `key` of table `oid`.
    pub(crate) fn add(
        &mut self,
        partition: u16,
        oid: u32,
        key: &[u8],
        row: Option<&[Value]>,
    ) -> Result<()> {
        let buf = &mut self.buffers[partition as usize];
        encode_change(oid, key, row, &mut buf.body);
        self.added(partition)
    }

    /// Logs a row given in its stored encoding (a backup's chunks hold rows
    /// the way log records do).
    pub(crate) fn add_encoded(
        &mut self,
        partition: u16,
        oid: u32,
        key: &[u8],
        encoded_row: &[u8],
    ) -> Result<()> {
        let buf = &mut self.buffers[partition as usize];
        encode_change_of_encoded_row(oid, key, encoded_row, &mut buf.body);
        self.added(partition)
    }

    fn added(&mut self, partition: u16) -> Result<()> {
        let buf = &mut self.buffers[partition as usize];
        buf.changes += 1;
        if buf.changes >= ROWS_PER_RECORD || buf.body.len() >= BYTES_PER_RECORD {
            self.flush_partition(partition)?;
        }
        Ok(())
    }

    fn flush_partition(&mut self, partition: u16) -> Result<()> {
        let record = std::mem::take(&mut self.buffers[partition as usize]);
        if record.changes == 0 {
            return Ok(());
        }
        // Each record is its own one-partition transaction.
        let txn = self.engine.txns.begin();
        self.engine.txns.finish(txn);
        let append = self
            .engine
            .txns
            .append_committed(&self.engine.logs[partition as usize], |time| {
                encode_commit_record_of(txn, time, &[partition], record.changes, &record.body)
            });
        self.in_flight.push(append);
        if self.in_flight.len() >= MAX_PENDING_APPENDS {
            self.wait()?;
        }
        Ok(())
    }

    fn wait(&mut self) -> Result<()> {
        let all = std::mem::take(&mut self.in_flight);
        for r in futures::executor::block_on(futures::future::join_all(all)) {
            r?;
        }
        Ok(())
    }

    /// Logs what is left and waits until every record is durable.
    pub(crate) fn finish(mut self) -> Result<()> {
        for p in 0..self.buffers.len() {
            self.flush_partition(p as u16)?;
        }
        self.wait()
    }
}
