//! Checkpoints and crash recovery.
//!
//! A checkpoint is a consistent snapshot of every partition, written while
//! writes go on: [`TxnManager::cut`](crate::txn::TxnManager::cut) holds new
//! commits back for as long as the commits already in flight need to become
//! durable, then takes an MVCC snapshot together with each partition log's
//! last LSN and a commit-time horizon. The snapshot holds exactly the
//! transactions committed at or before the horizon, whose records are
//! exactly those at or below the recorded LSNs; every later transaction has
//! all of its records above them. So recovery loads the checkpoint and
//! replays each partition's log from just after its recorded LSN, applying
//! a transaction only if every participant holds its record — and no
//! transaction is lost or applied twice, even though the partition logs
//! are truncated independently.
//!
//! Files: `checkpoints/ckpt-<sequence number>.jck` in the data directory, in
//! the chunk format of [`crate::chunkfile`]. The first chunk holds the
//! metadata (sequence number, horizon, partition count, per-partition LSNs,
//! next transaction id); each further chunk holds up to about 1 MiB of rows
//! of one table partition, identified by table id (tables dropped since are
//! skipped on load, tables created since are filled from the log).
//!
//! Retention: the two newest checkpoints are kept, and the log is truncated
//! only before what the older of them needs, so a damaged newest checkpoint
//! falls back to the previous one. With an archive directory the log is
//! also kept until it has been archived.

use crate::archive;
use crate::catalog::Table;
use crate::chunkfile::{self, ChunkReader, ChunkWriter};
use crate::engine::EngineInner;
use crate::error::{Error, Result, SqlState};
use crate::storage::codec::{encode_row, put_bytes, put_u32, put_u64, Reader};
use crate::storage::{row_id_of, Key};
use crate::txn::CommitRecord;
use crate::wal::Lsn;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAGIC: [u8; 8] = *b"JOLTCKPT";
const FORMAT_VERSION: u32 = 1;
const TAG_META: u8 = 1;
const TAG_ROWS: u8 = 2;
const DIR_NAME: &str = "checkpoints";
/// Checkpoints kept; the log is kept from what the oldest of them needs.
const KEEP: usize = 2;
const ROWS_CHUNK_BYTES: usize = 1 << 20;
const SCAN_BATCH: usize = 1024;

/// When checkpoints are taken in the background.
#[derive(Clone, Debug)]
pub struct CheckpointSettings {
    /// At most this long between checkpoints while there are writes;
    /// `None` disables the timer.
    pub interval: Option<Duration>,
    /// A checkpoint starts once this many bytes of log were written since
    /// the last one; 0 disables the trigger.
    pub log_bytes: u64,
    /// Where the log is archived before it is truncated.
    pub archive_dir: Option<PathBuf>,
    /// Archived history older than this is removed after each checkpoint
    /// (`None` keeps everything).
    pub archive_retention: Option<Duration>,
}

/// What start-up recovery did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryStats {
    /// Sequence number of the checkpoint loaded, if any.
    pub checkpoint: Option<u64>,
    /// Rows loaded from it.
    pub checkpoint_rows: u64,
    /// Log records read after the checkpoint (or from the start).
    pub records_read: u64,
    /// Of those, records of complete transactions that were applied.
    pub records_applied: u64,
    /// Records of multi-partition transactions some participant lacks.
    pub records_discarded: u64,
}

/// The result of one checkpoint.
#[derive(Clone, Debug)]
pub struct CheckpointInfo {
    pub seq: u64,
    pub horizon_micros: i64,
    pub rows: u64,
    pub bytes: u64,
    pub duration: Duration,
}

/// The checkpoint metadata (first chunk of a checkpoint file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointMeta {
    pub seq: u64,
    pub horizon_micros: i64,
    pub lsns: Vec<Lsn>,
    pub next_txn: u64,
}

/// Per-engine checkpoint state.
pub struct Checkpointer {
    pub settings: CheckpointSettings,
    /// One checkpoint at a time.
    running: Mutex<()>,
    /// Held (shared) while rows are being loaded for a table that is not in
    /// the catalog yet (RESTORE, a rewriting ALTER TABLE): a checkpoint would
    /// not contain them, so it must not truncate the log that does.
    loading: parking_lot::RwLock<()>,
    last: Mutex<LastCheckpoint>,
    stopped: AtomicBool,
    recovery: Mutex<RecoveryStats>,
}

struct LastCheckpoint {
    lsns: Vec<Lsn>,
    log_bytes: u64,
    at: Instant,
}

impl Checkpointer {
    /// Keeps checkpoints from starting until the guard is dropped; hold it
    /// from the first logged row of an unpublished table until the table is
    /// in the catalog.
    pub fn hold_off(&self) -> parking_lot::RwLockReadGuard<'_, ()> {
        self.loading.read()
    }

    /// Waits until no table is being loaded outside the catalog and keeps
    /// new loads from starting until the guard is dropped (a backup's cut:
    /// a table rewrite or restore is then wholly before or after it).
    pub fn no_loads(&self) -> parking_lot::RwLockWriteGuard<'_, ()> {
        self.loading.write()
    }

    pub fn new(settings: CheckpointSettings) -> Checkpointer {
        Checkpointer {
            settings,
            running: Mutex::new(()),
            loading: parking_lot::RwLock::new(()),
            last: Mutex::new(LastCheckpoint {
                lsns: Vec::new(),
                log_bytes: 0,
                at: Instant::now(),
            }),
            stopped: AtomicBool::new(false),
            recovery: Mutex::new(RecoveryStats::default()),
        }
    }

    pub fn recovery_stats(&self) -> RecoveryStats {
        self.recovery.lock().clone()
    }
}

fn dir_of(data_dir: &Path) -> PathBuf {
    data_dir.join(DIR_NAME)
}

/// Checkpoint files as (sequence number, path), oldest first.
pub fn list(data_dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let dir = dir_of(data_dir);
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
        let name = entry.file_name();
        let seq = name
            .to_str()
            .and_then(|n| n.strip_prefix("ckpt-"))
            .and_then(|n| n.strip_suffix(".jck"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(seq) = seq {
            out.push((seq, entry.path()));
        } else if name.to_str().is_some_and(|n| n.ends_with(".tmp")) {
            // Left by a checkpoint that was interrupted.
            let _ = std::fs::remove_file(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

fn encode_meta(meta: &CheckpointMeta) -> Vec<u8> {
    let mut buf = Vec::new();
    put_u64(&mut buf, meta.seq);
    put_u64(&mut buf, meta.horizon_micros as u64);
    put_u64(&mut buf, meta.next_txn);
    put_u32(&mut buf, meta.lsns.len() as u32);
    for &l in &meta.lsns {
        put_u64(&mut buf, l);
    }
    buf
}

fn decode_meta(buf: &[u8]) -> Result<CheckpointMeta> {
    let mut r = Reader::new(buf);
    let seq = r.u64()?;
    let horizon_micros = r.u64()? as i64;
    let next_txn = r.u64()?;
    let n = r.u32()? as usize;
    let mut lsns = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        lsns.push(r.u64()?);
    }
    Ok(CheckpointMeta {
        seq,
        horizon_micros,
        lsns,
        next_txn,
    })
}

fn open_checked(path: &Path) -> Result<(ChunkReader, CheckpointMeta)> {
    let mut r = ChunkReader::open(path, MAGIC, FORMAT_VERSION)?;
    match r.next_chunk(true)? {
        Some((TAG_META, buf)) => {
            let meta = decode_meta(&buf)?;
            Ok((r, meta))
        }
        _ => Err(Error::new(
            SqlState::DATA_CORRUPTED,
            format!("{} is damaged: no metadata", path.display()),
        )),
    }
}

/// Reads a checkpoint's metadata and checks every checksum in the file.
pub fn verify(path: &Path) -> Result<CheckpointMeta> {
    let (mut r, meta) = open_checked(path)?;
    while r.next_chunk(false)?.is_some() {}
    Ok(meta)
}

/// Loads a verified checkpoint's rows into the tables that still exist.
fn load(path: &Path, tables: &HashMap<u32, &Arc<Table>>) -> Result<u64> {
    let (mut r, _) = open_checked(path)?;
    let mut rows = 0u64;
    while let Some((tag, buf)) = r.next_chunk(true)? {
        if tag != TAG_ROWS {
            continue;
        }
        let mut rd = Reader::new(&buf);
        let oid = rd.u32()?;
        let partition = rd.u32()? as u16;
        let next_row_id = rd.u64()?;
        let n = rd.u32()?;
        let Some(table) = tables.get(&oid) else {
            continue;
        };
        if partition as usize >= table.store.partition_count() {
            return Err(Error::new(
                SqlState::DATA_CORRUPTED,
                format!("{} is damaged: bad partition", path.display()),
            ));
        }
        table
            .store
            .next_row_id
            .fetch_max(next_row_id, Ordering::Relaxed);
        for _ in 0..n {
            let key: Key = rd.bytes()?.into();
            let row = rd.row()?;
            table.store.replay_put(partition, key, Some(Arc::new(row)));
            rows += 1;
        }
    }
    Ok(rows)
}

/// Takes a checkpoint now: writes it, archives the log (if configured),
/// drops checkpoints no longer needed and truncates the logs.
pub fn take(engine: &EngineInner) -> Result<CheckpointInfo> {
    let started = Instant::now();
    let ckpt = &engine.checkpointer;
    let _running = ckpt.running.lock();
    let _no_loads = ckpt.loading.write();
    let data_dir = &engine.data_dir;
    let dir = dir_of(data_dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let log_bytes = engine.txns.log_bytes();
    let cut = engine.txns.cut(&engine.logs);
    let catalog = engine.catalog();
    // Commits made with synchronous_commit = off may not be durable yet: the
    // log must never restart numbering below what the checkpoint covers.
    for log in &engine.logs {
        log.wait_durable()?;
    }
    let seq = list(data_dir)?.last().map_or(1, |(s, _)| s + 1);
    let meta = CheckpointMeta {
        seq,
        horizon_micros: cut.horizon_micros,
        lsns: cut.lsns.clone(),
        next_txn: cut.next_txn,
    };
    let path = dir.join(format!("ckpt-{seq:020}.jck"));
    let mut w = ChunkWriter::create(&path, MAGIC, FORMAT_VERSION)?;
    w.chunk(TAG_META, &encode_meta(&meta))?;
    let snap = cut.snapshot.ts;
    let mut rows = 0u64;
    let mut batch: Vec<(Key, Arc<crate::types::Row>)> = Vec::with_capacity(SCAN_BATCH);
    let mut chunk = Vec::with_capacity(ROWS_CHUNK_BYTES + 65536);
    for table in catalog.tables.values() {
        let store = &table.store;
        for p in 0..store.partition_count() {
            let mut count = 0u32;
            let start_chunk = |chunk: &mut Vec<u8>| {
                chunk.clear();
                put_u32(chunk, store.oid);
                put_u32(chunk, p as u32);
                put_u64(chunk, store.next_row_id.load(Ordering::Relaxed));
                put_u32(chunk, 0);
            };
            start_chunk(&mut chunk);
            let mut from: Option<Key> = None;
            loop {
                batch.clear();
                let lower = from.as_deref().map_or(Bound::Unbounded, Bound::Included);
                let next = store.scan_batch(
                    p as u16,
                    lower,
                    Bound::Unbounded,
                    snap,
                    0,
                    SCAN_BATCH,
                    &mut batch,
                );
                for (key, row) in &batch {
                    put_bytes(&mut chunk, key);
                    encode_row(row, &mut chunk);
                    count += 1;
                    rows += 1;
                    if chunk.len() >= ROWS_CHUNK_BYTES {
                        chunk[16..20].copy_from_slice(&count.to_le_bytes());
                        w.chunk(TAG_ROWS, &chunk)?;
                        start_chunk(&mut chunk);
                        count = 0;
                    }
                }
                match next {
                    Some(k) => from = Some(k),
                    None => break,
                }
            }
            if count > 0 {
                chunk[16..20].copy_from_slice(&count.to_le_bytes());
                w.chunk(TAG_ROWS, &chunk)?;
            }
        }
    }
    let bytes = w.finish()?;
    drop(cut.snapshot);

    let archived = match &ckpt.settings.archive_dir {
        Some(adir) => {
            match archive::archive_logs(adir, &engine.logs, &meta.lsns, meta.horizon_micros) {
                Ok(state) => {
                    if let Some(keep) = ckpt.settings.archive_retention {
                        let keep = i64::try_from(keep.as_micros()).unwrap_or(i64::MAX);
                        let before = chrono::Utc::now().timestamp_micros().saturating_sub(keep);
                        match archive::prune(adir, before) {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(
                                "removed {n} log archive files older than the archive retention"
                            ),
                            Err(e) => tracing::warn!("pruning the log archive failed: {e}"),
                        }
                    }
                    Some(state.upto)
                }
                Err(e) => {
                    tracing::error!("archiving the log to {} failed: {e}; the log is kept until it can be archived", adir.display());
                    None
                }
            }
        }
        None => None,
    };
    retain_and_truncate(engine, archived.as_deref())?;
    {
        let mut last = ckpt.last.lock();
        last.lsns = meta.lsns.clone();
        last.log_bytes = log_bytes;
        last.at = Instant::now();
    }
    let info = CheckpointInfo {
        seq,
        horizon_micros: meta.horizon_micros,
        rows,
        bytes,
        duration: started.elapsed(),
    };
    tracing::info!(
        "checkpoint {seq} written: {rows} rows, {bytes} bytes in {:.3}s",
        info.duration.as_secs_f64()
    );
    Ok(info)
}

/// Archives the log written up to now without taking a checkpoint (a
/// point-in-time restore needs the archive to reach the present) and
/// returns the archive's horizon: every transaction committed at or before
/// it is archived. Fails with 55000 when no archive directory is set.
pub fn archive_now(engine: &EngineInner) -> Result<i64> {
    let ckpt = &engine.checkpointer;
    let Some(adir) = &ckpt.settings.archive_dir else {
        return Err(Error::new(
            SqlState("55000"),
            "this server has no log archive (--archive-dir)",
        ));
    };
    let _running = ckpt.running.lock();
    let cut = engine.txns.cut(&engine.logs);
    drop(cut.snapshot);
    for log in &engine.logs {
        log.wait_durable()?;
    }
    let state = archive::archive_logs(adir, &engine.logs, &cut.lsns, cut.horizon_micros)?;
    Ok(state.horizon_micros)
}

/// Keeps the [`KEEP`] newest checkpoints (once the older of those is
/// verified) and truncates each log before what that older one needs.
fn retain_and_truncate(engine: &EngineInner, archived: Option<&[Lsn]>) -> Result<()> {
    if engine.checkpointer.settings.archive_dir.is_some() && archived.is_none() {
        return Ok(());
    }
    let all = list(&engine.data_dir)?;
    if all.len() < KEEP {
        return Ok(());
    }
    let (oldest_seq, oldest_path) = &all[all.len() - KEEP];
    let meta = match verify(oldest_path) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(
                "checkpoint {oldest_seq} is damaged ({e}); keeping older checkpoints and the log"
            );
            return Ok(());
        }
    };
    if meta.lsns.len() != engine.logs.len() {
        return Ok(());
    }
    for (_, path) in &all[..all.len() - KEEP] {
        std::fs::remove_file(path)
            .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
    }
    chunkfile::sync_dir(&dir_of(&engine.data_dir))?;
    for (p, log) in engine.logs.iter().enumerate() {
        let mut keep_from = meta.lsns[p] + 1;
        if let Some(upto) = archived {
            keep_from = keep_from.min(upto[p] + 1);
        }
        log.truncate_before(keep_from)?;
    }
    Ok(())
}

/// Whether a background checkpoint is due.
fn due(engine: &EngineInner) -> bool {
    let ckpt = &engine.checkpointer;
    let last = ckpt.last.lock();
    let changed = engine
        .logs
        .iter()
        .enumerate()
        .any(|(p, l)| last.lsns.get(p) != Some(&l.last_lsn()));
    if !changed {
        return false;
    }
    let s = &ckpt.settings;
    (s.log_bytes > 0 && engine.txns.log_bytes().saturating_sub(last.log_bytes) >= s.log_bytes)
        || s.interval.is_some_and(|i| last.at.elapsed() >= i)
}

/// Starts the background checkpoint thread; it stops when the engine is
/// dropped or [`stop`] is called.
pub fn start(engine: &Arc<EngineInner>) {
    let weak = Arc::downgrade(engine);
    let spawned = std::thread::Builder::new()
        .name("joltdb-checkpoint".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(200));
            let Some(engine) = weak.upgrade() else { return };
            if engine.checkpointer.stopped.load(Ordering::Acquire) {
                return;
            }
            if due(&engine) {
                if let Err(e) = take(&engine) {
                    tracing::error!("checkpoint failed: {e}");
                    // Try again after the interval, not in a tight loop.
                    let mut last = engine.checkpointer.last.lock();
                    last.at = Instant::now();
                    last.log_bytes = engine.txns.log_bytes();
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("could not start the checkpoint thread: {e}");
    }
}

/// Stops background checkpoints (before a clean shutdown's final one).
pub fn stop(engine: &EngineInner) {
    engine.checkpointer.stopped.store(true, Ordering::Release);
}

/// Start-up recovery: loads the newest usable checkpoint, then replays the
/// partition logs after it.
pub(crate) fn recover(engine: &EngineInner) -> Result<RecoveryStats> {
    let partitions = engine.logs.len();
    let firsts: Vec<Lsn> = engine.logs.iter().map(|l| l.first_lsn()).collect();
    let lasts: Vec<Lsn> = engine.logs.iter().map(|l| l.last_lsn()).collect();
    let mut problems = Vec::new();
    let mut chosen: Option<(PathBuf, CheckpointMeta)> = None;
    for (seq, path) in list(&engine.data_dir)?.into_iter().rev() {
        let meta = match verify(&path) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("checkpoint {seq} is unusable: {e}");
                problems.push(format!("checkpoint {seq}: {}", e.message));
                continue;
            }
        };
        if meta.lsns.len() != partitions {
            problems.push(format!(
                "checkpoint {seq} is for {} partitions, not {partitions}",
                meta.lsns.len()
            ));
            continue;
        }
        if let Some(p) = (0..partitions).find(|&p| lasts[p] < meta.lsns[p]) {
            return Err(Error::new(
                SqlState::DATA_CORRUPTED,
                format!(
                    "cannot recover {}: partition {p}'s log ends at LSN {}, before LSN {} that checkpoint {seq} covers; the log is damaged",
                    engine.data_dir.display(),
                    lasts[p],
                    meta.lsns[p]
                ),
            ));
        }
        if let Some(p) = (0..partitions).find(|&p| firsts[p] > meta.lsns[p] + 1) {
            problems.push(format!(
                "checkpoint {seq} needs partition {p}'s log from LSN {}, which was truncated (the log starts at {})",
                meta.lsns[p] + 1,
                firsts[p]
            ));
            continue;
        }
        if !problems.is_empty() {
            tracing::warn!("falling back to checkpoint {seq}");
        }
        chosen = Some((path, meta));
        break;
    }
    if chosen.is_none() {
        if let Some(p) = (0..partitions).find(|&p| firsts[p] > 1) {
            let why = if problems.is_empty() {
                "there is no checkpoint".to_string()
            } else {
                problems.join("; ")
            };
            return Err(Error::new(
                SqlState::DATA_CORRUPTED,
                format!(
                    "cannot recover {}: no usable checkpoint ({why}), and partition {p}'s log was truncated before LSN {} after an earlier checkpoint, so replaying the log alone would lose data; restore the data directory from a backup",
                    engine.data_dir.display(),
                    firsts[p]
                ),
            ));
        }
        if !problems.is_empty() {
            tracing::warn!("no usable checkpoint; replaying the whole log");
        }
    }

    let snap = engine.catalog();
    let by_oid: HashMap<u32, &Arc<Table>> = snap.tables.values().map(|t| (t.def.oid, t)).collect();
    let mut stats = RecoveryStats::default();
    let mut from = vec![1; partitions];
    if let Some((path, meta)) = &chosen {
        stats.checkpoint = Some(meta.seq);
        stats.checkpoint_rows = load(path, &by_oid)?;
        from = meta.lsns.iter().map(|l| l + 1).collect();
        engine.txns.advance_txn_ids(meta.next_txn);
        engine.txns.advance_commit_time(meta.horizon_micros);
    }

    let mut per_partition: Vec<Vec<CommitRecord>> = Vec::with_capacity(partitions);
    let mut holders: HashMap<u64, HashSet<u16>> = HashMap::new();
    for (p, log) in engine.logs.iter().enumerate() {
        let mut recs = Vec::new();
        for r in log.read_from(from[p])? {
            let rec = CommitRecord::decode(&r.payload).map_err(|e| {
                Error::new(
                    SqlState::DATA_CORRUPTED,
                    format!(
                        "partition {p} log record {} is damaged: {}",
                        r.lsn, e.message
                    ),
                )
            })?;
            holders.entry(rec.txn).or_default().insert(p as u16);
            recs.push(rec);
        }
        per_partition.push(recs);
    }
    let mut max_txn = 0u64;
    let mut max_time = i64::MIN;
    for (p, recs) in per_partition.into_iter().enumerate() {
        for rec in recs {
            max_txn = max_txn.max(rec.txn);
            max_time = max_time.max(rec.commit_time_micros);
            if rec.catalog.is_some() {
                // The catalog file already holds the change (see
                // `crate::catalog_log`); the record is for the archive.
                continue;
            }
            stats.records_read += 1;
            max_txn = max_txn.max(rec.txn);
            max_time = max_time.max(rec.commit_time_micros);
            let complete = rec
                .participants
                .iter()
                .all(|q| holders.get(&rec.txn).is_some_and(|h| h.contains(q)));
            if !complete {
                stats.records_discarded += 1;
                continue;
            }
            stats.records_applied += 1;
            for (oid, key, row) in rec.changes {
                let Some(table) = by_oid.get(&oid) else {
                    continue;
                };
                if let Some(id) = row_id_of(&key) {
                    table.store.next_row_id.fetch_max(id + 1, Ordering::Relaxed);
                }
                table.store.replay_put(p as u16, key, row.map(Arc::new));
            }
        }
    }
    engine.txns.advance_txn_ids(max_txn + 1);
    engine.txns.advance_commit_time(max_time);
    if let Some(adir) = &engine.checkpointer.settings.archive_dir {
        if let Some((_, horizon)) = archive::archive_span(adir)? {
            engine.txns.advance_commit_time(horizon);
        }
    }
    {
        let mut last = engine.checkpointer.last.lock();
        last.lsns = match &chosen {
            Some((_, m)) if m.lsns == lasts => lasts.clone(),
            _ => Vec::new(),
        };
        last.at = Instant::now();
    }
    match stats.checkpoint {
        Some(seq) => tracing::info!(
            "recovered from checkpoint {seq} ({} rows) and {} log records after it ({} applied, {} of incomplete multi-partition transactions discarded)",
            stats.checkpoint_rows,
            stats.records_read,
            stats.records_applied,
            stats.records_discarded
        ),
        None if stats.records_read > 0 => tracing::info!(
            "recovered from {} log records ({} applied, {} of incomplete multi-partition transactions discarded)",
            stats.records_read,
            stats.records_applied,
            stats.records_discarded
        ),
        None => {}
    }
    *engine.checkpointer.recovery.lock() = stats.clone();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::EngineConfig;

    #[test]
    fn checkpoint_waits_for_rows_of_unpublished_tables() {
        let dir = tempfile::tempdir().unwrap();
        let engine = EngineInner::open(&EngineConfig {
            data_dir: dir.path().to_path_buf(),
            partitions: 2,
            wal_segment_size: 1 << 20,
            checkpoint: CheckpointSettings {
                interval: None,
                log_bytes: 0,
                archive_dir: None,
                archive_retention: None,
            },
            backup_dir: None,
        })
        .unwrap();
        let load = engine.checkpointer.hold_off();
        let (done_tx, done) = std::sync::mpsc::channel();
        let checkpointing = engine.clone();
        std::thread::spawn(move || {
            let _ = done_tx.send(take(&checkpointing).map(|info| info.seq));
        });
        assert!(
            done.recv_timeout(Duration::from_millis(300)).is_err(),
            "a checkpoint ran while rows of an unpublished table were loading"
        );
        drop(load);
        done.recv_timeout(Duration::from_secs(60))
            .expect("the checkpoint runs once the load is published")
            .unwrap();
    }
}
