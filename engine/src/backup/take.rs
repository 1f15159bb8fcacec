//! Taking a backup: every chosen table read at one consistent cut across
//! the partitions (an MVCC snapshot and the commit time it ends at),
//! written to a hidden, locked temporary file that is synced and then
//! linked under its name.

use super::format::{
    BackupWriter, EndMarker, FrameKind, Manifest, SequenceEntry, TableEntry, FORMAT_VERSION,
};
use crate::catalog::Table;
use crate::engine::EngineInner;
use crate::error::{Error, Result, SqlState};
use crate::storage::codec::{encode_row, put_bytes, put_u32};
use crate::storage::{Key, PartitionMap, Ts};
use crate::types::{Row, Value};
use parking_lot::{Mutex, RwLock};
use std::io::BufWriter;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

/// Raw size at which a row chunk is written out.
const CHUNK_BYTES: usize = 1 << 20;
/// Row slots read per partition lock acquisition.
const SCAN_BATCH: usize = 1024;
/// Row slots counted per partition lock acquisition.
const COUNT_BATCH: usize = 4096;
/// Threads that scan partitions at once.
const SCAN_THREADS: usize = 2;
/// Full chunks queued for the writer thread.
const CHUNKS_IN_FLIGHT: usize = 2;
/// The nice value of a backup's threads (0 is normal, 19 the lowest
/// priority).
const BACKGROUND_NICE: i32 = 19;

#[derive(Clone, PartialEq, Eq)]
pub struct BackupOptions {
    pub compressed: bool,
    pub passphrase: Option<String>,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            compressed: true,
            passphrase: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct BackupSummary {
    pub tables: usize,
    pub rows: u64,
    pub bytes: u64,
}

/// Backs up `tables` (every table when `None`) to `dest`, which must not
/// exist yet. The file appears under its name only when complete and
/// durable.
pub fn take_backup(
    engine: &EngineInner,
    tables: Option<&[String]>,
    dest: &Path,
    opts: &BackupOptions,
) -> Result<BackupSummary> {
    // A consistent cut: the snapshot holds exactly the transactions
    // committed at or before `snapshot_time`, so a point-in-time restore
    // replays the log strictly after it.
    // No table rewrite or restore may straddle the cut: a point-in-time
    // restore follows a table to its new id with the rows logged under it,
    // which must all be after the snapshot time (or the new id in the
    // backup already).
    let no_loads = engine.checkpointer.no_loads();
    let cut = engine.txns.cut(&engine.logs);
    let snapshot = cut.snapshot;
    let snapshot_time = cut.horizon_micros;
    let catalog = engine.catalog();
    drop(no_loads);
    let chosen: Vec<Arc<Table>> = match tables {
        Some(names) => {
            let mut v: Vec<Arc<Table>> = Vec::new();
            for n in names {
                let t = catalog.table(n)?;
                if !v.iter().any(|x| x.def.name == t.def.name) {
                    v.push(t.clone());
                }
            }
            v
        }
        None => catalog.tables.values().cloned().collect(),
    };
    let mut sequences = Vec::new();
    for (name, seq) in &catalog.sequences {
        let owned = chosen.iter().any(|t| t.def.owned_sequences.contains(name));
        if tables.is_none() || owned {
            let st = *seq.state.lock();
            sequences.push(SequenceEntry {
                def: seq.def.clone(),
                last: st.last,
                called: st.called,
            });
        }
    }
    let counts = count_rows(&chosen, snapshot.ts)?;
    let mut entries = Vec::with_capacity(chosen.len());
    for t in &chosen {
        entries.push(TableEntry {
            def: (*t.def).clone(),
            rows: counts[entries.len()],
        });
    }
    let roles = match tables {
        None => engine.roles.roles(),
        Some(_) => Vec::new(),
    };
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        kind: if tables.is_some() {
            "table"
        } else {
            "database"
        }
        .into(),
        snapshot_ts: snapshot.ts,
        snapshot_time_micros: snapshot_time,
        partitions: engine.partitions,
        tables: entries,
        sequences,
        roles,
    };

    let file_name = dest
        .file_name()
        .ok_or_else(|| {
            Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "backup name has no file name",
            )
        })?
        .to_string_lossy()
        .into_owned();
    let tmp = dest.with_file_name(format!(".{file_name}.partial"));
    let file = open_partial(&tmp, &file_name)?;
    let result = write_file(&file, &manifest, &chosen, snapshot.ts, opts);
    drop(snapshot);
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    // A link, unlike a rename, never replaces a backup that appeared under
    // the name meanwhile. The lock on the file is held until it is done.
    if let Err(e) = std::fs::hard_link(&tmp, dest) {
        let _ = std::fs::remove_file(&tmp);
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            return Err(Error::new(
                SqlState::DUPLICATE_OBJECT,
                format!("backup \"{file_name}\" already exists"),
            ));
        }
        return Err(Error::io(
            format!("moving backup into {}", dest.display()),
            e,
        ));
    }
    let _ = std::fs::remove_file(&tmp);
    drop(file);
    if let Some(dir) = dest.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("syncing backup directory", e))?;
    }
    tracing::info!(
        tables = summary.tables,
        rows = summary.rows,
        bytes = summary.bytes,
        "backup written to {}",
        dest.display()
    );
    Ok(summary)
}

/// Opens the temporary file a backup is written to, holding an exclusive
/// lock on it for as long as the backup runs: start-up clean-up
/// ([`super::remove_stale_partials`]) removes only files nobody holds, and
/// a second BACKUP to the same name is refused (55006) instead of
/// overwriting the first one's file.
fn open_partial(tmp: &Path, name: &str) -> Result<std::fs::File> {
    use std::os::unix::fs::MetadataExt;
    for _ in 0..3 {
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(tmp)
            .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
        if file.try_lock().is_err() {
            return Err(Error::new(
                SqlState::OBJECT_IN_USE,
                format!("backup \"{name}\" is being written by another BACKUP"),
            ));
        }
        // The clean-up may have removed the file between our open and lock.
        let ours = file
            .metadata()
            .map_err(|e| Error::io(format!("reading {}", tmp.display()), e))?;
        match std::fs::metadata(tmp) {
            Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => {
                file.set_len(0)
                    .map_err(|e| Error::io(format!("truncating {}", tmp.display()), e))?;
                return Ok(file);
            }
            _ => continue,
        }
    }
    Err(Error::new(
        SqlState::OBJECT_IN_USE,
        format!("could not take hold of {}", tmp.display()),
    ))
}

fn write_file(
    file: &std::fs::File,
    manifest: &Manifest,
    tables: &[Arc<Table>],
    snap: Ts,
    opts: &BackupOptions,
) -> Result<BackupSummary> {
    let file = file
        .try_clone()
        .map_err(|e| Error::io("opening backup file", e))?;
    let mut w = BackupWriter::new(
        BufWriter::with_capacity(1 << 20, file),
        opts.compressed,
        opts.passphrase.as_deref(),
    )?;
    w.manifest(manifest)?;
    // The scan fills chunks; another thread compresses, seals and writes
    // them. All of them run at a low CPU priority, so a backup yields the
    // CPUs to transactions when they are busy and takes what is left.
    let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
    let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let (scanned, written) = std::thread::scope(|s| {
        let spare = &spare;
        let writer = s.spawn(move || -> Result<_> {
            lower_thread_priority();
            let mut chunks = 0u64;
            for mut raw in full_rx {
                w.frame(FrameKind::Chunk, &raw)?;
                chunks += 1;
                raw.clear();
                spare.lock().push(raw);
            }
            Ok((w, chunks))
        });
        let scanned = scan_tables(tables, snap, manifest, full_tx, spare);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(Error::internal("backup writer thread failed")));
        (scanned, written)
    });
    // A writer that failed stops the scan; its error is the one to report.
    let (mut w, chunks) = written?;
    let total = scanned?;
    w.end(EndMarker {
        chunks,
        rows: total,
    })?;
    let bytes = w.bytes();
    let file = w
        .into_inner()
        .into_inner()
        .map_err(|e| Error::io("writing backup file", e.into_error()))?;
    file.sync_all()
        .map_err(|e| Error::io("syncing backup file", e))?;
    Ok(BackupSummary {
        tables: tables.len(),
        rows: total,
        bytes,
    })
}

/// Runs `f` on every (table, partition) pair of `tables`, on up to
/// [`SCAN_THREADS`] threads: scanning memory is bound by its latency,
/// which threads on separate CPUs overlap.
fn for_each_partition<T: Send>(
    tables: &[Arc<Table>],
    f: impl Fn(usize, &RwLock<PartitionMap>) -> Result<T> + Sync,
) -> Result<Vec<(usize, T)>> {
    let items: Vec<(usize, &RwLock<PartitionMap>)> = tables
        .iter()
        .enumerate()
        .flat_map(|(ti, t)| t.store.partitions.iter().map(move |p| (ti, p)))
        .collect();
    let next = AtomicUsize::new(0);
    let work = || -> Result<Vec<(usize, T)>> {
        let mut done = Vec::new();
        while let Some(&(ti, partition)) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
            done.push((ti, f(ti, partition)?));
        }
        Ok(done)
    };
    let threads = SCAN_THREADS.min(items.len()).max(1);
    let results: Vec<Result<Vec<(usize, T)>>> = std::thread::scope(|s| {
        let helpers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    lower_thread_priority();
                    work()
                })
            })
            .collect();
        let mut results = Vec::with_capacity(threads);
        for h in helpers {
            results.push(
                h.join()
                    .unwrap_or_else(|_| Err(Error::internal("backup scan thread failed"))),
            );
        }
        results
    });
    let mut all = Vec::with_capacity(items.len());
    for r in results {
        all.extend(r?);
    }
    Ok(all)
}

/// How many rows of each table snapshot `snap` sees.
fn count_rows(tables: &[Arc<Table>], snap: Ts) -> Result<Vec<u64>> {
    let counted = for_each_partition(tables, |_, partition| {
        let mut count = 0u64;
        let mut from: Option<Key> = None;
        loop {
            let map = partition.read();
            let lower = from.as_deref().map_or(Bound::Unbounded, Bound::Included);
            let mut next = None;
            for (seen, (key, slot)) in map.range::<[u8], _>((lower, Bound::Unbounded)).enumerate() {
                if seen >= COUNT_BATCH {
                    next = Some(key.clone());
                    break;
                }
                // Transaction id 0 owns no intents: committed rows only.
                count += slot.visible(snap, 0).is_some() as u64;
            }
            drop(map);
            match next {
                Some(k) => from = Some(k),
                None => return Ok(count),
            }
        }
    })?;
    let mut counts = vec![0u64; tables.len()];
    for (ti, n) in counted {
        counts[ti] += n;
    }
    Ok(counts)
}

/// Encodes every row of `tables` visible at `snap` into chunks (straight
/// from the stored versions, under the partition's read lock, a batch of
/// rows at a time) and sends each full chunk to the writer. Partitions are
/// scanned in parallel, each in key order by one thread. Returns the
/// number of rows.
fn scan_tables(
    tables: &[Arc<Table>],
    snap: Ts,
    manifest: &Manifest,
    out: mpsc::SyncSender<Vec<u8>>,
    spare: &Mutex<Vec<Vec<u8>>>,
) -> Result<u64> {
    let scanned = for_each_partition(tables, |ti, partition| {
        let mut chunk = ChunkBuilder {
            buf: spare.lock().pop().unwrap_or_default(),
            rows: 0,
            out: out.clone(),
            spare,
        };
        let mut written = 0u64;
        let mut from: Option<Key> = None;
        loop {
            let next = {
                let map = partition.read();
                let lower = from.as_deref().map_or(Bound::Unbounded, Bound::Included);
                let mut next = None;
                let mut batch = Vec::with_capacity(SCAN_BATCH);
                for (seen, (key, slot)) in
                    map.range::<[u8], _>((lower, Bound::Unbounded)).enumerate()
                {
                    if seen >= SCAN_BATCH {
                        next = Some(key.clone());
                        break;
                    }
                    // Transaction id 0 owns no intents: only committed rows
                    // count.
                    if let Some(row) = slot.visible(snap, 0) {
                        batch.push((key, row));
                    }
                }
                warm_up(&batch);
                for (key, row) in batch {
                    if chunk.buf.len() >= CHUNK_BYTES {
                        next = Some(key.clone());
                        break;
                    }
                    chunk.push(ti as u32, key, row);
                    written += 1;
                }
                next
            };
            // Sending may wait for the writer: never with a lock held.
            if chunk.buf.len() >= CHUNK_BYTES {
                chunk.send()?;
            }
            match next {
                Some(k) => from = Some(k),
                None => break,
            }
        }
        // A chunk holds rows of one table (here of one partition).
        chunk.send()?;
        Ok(written)
    })?;
    let mut written = vec![0u64; tables.len()];
    for (ti, n) in scanned {
        written[ti] += n;
    }
    if written
        .iter()
        .zip(&manifest.tables)
        .any(|(n, t)| *n != t.rows)
    {
        return Err(Error::internal("backup snapshot changed while being read"));
    }
    Ok(written.iter().sum())
}

/// Reads, pass by pass, what encoding a batch of rows will read: each
/// row's header, its values, then the bytes of its key and strings. The
/// loads of one pass do not depend on one another, so the CPU overlaps the
/// cache misses of many rows instead of waiting on each row's chain of
/// pointers in turn; the encoding then finds everything in cache.
fn warm_up(batch: &[(&Key, &Arc<Row>)]) {
    let mut sink = 0usize;
    for (_, row) in batch {
        sink = sink.wrapping_add(row.len());
    }
    for (_, row) in batch {
        if let (Some(first), Some(last)) = (row.first(), row.last()) {
            sink = sink.wrapping_add(first.is_null() as usize + last.is_null() as usize);
        }
    }
    for (key, row) in batch {
        sink = sink.wrapping_add(key.first().copied().unwrap_or(0) as usize);
        for value in row.iter() {
            let bytes: &[u8] = match value {
                Value::Text(s) | Value::Json(s) => s.as_bytes(),
                Value::Bytea(b) => b,
                _ => continue,
            };
            if let (Some(first), Some(last)) = (bytes.first(), bytes.last()) {
                sink = sink.wrapping_add(*first as usize + *last as usize);
            }
        }
    }
    std::hint::black_box(sink);
}

/// The row chunk being filled: `u32` manifest table index, `u32` row
/// count, then per row its key (length-prefixed) and its encoding.
struct ChunkBuilder<'a> {
    buf: Vec<u8>,
    rows: u32,
    out: mpsc::SyncSender<Vec<u8>>,
    /// Buffers the writer is done with.
    spare: &'a Mutex<Vec<Vec<u8>>>,
}

impl ChunkBuilder<'_> {
    fn push(&mut self, table: u32, key: &[u8], row: &[Value]) {
        if self.rows == 0 {
            self.buf.reserve(CHUNK_BYTES + (64 << 10));
            put_u32(&mut self.buf, table);
            put_u32(&mut self.buf, 0);
        }
        put_bytes(&mut self.buf, key);
        encode_row(row, &mut self.buf);
        self.rows += 1;
    }

    fn send(&mut self) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        // The row count sits after the table index at the chunk's start.
        self.buf[4..8].copy_from_slice(&self.rows.to_le_bytes());
        let next = self.spare.lock().pop().unwrap_or_default();
        let full = std::mem::replace(&mut self.buf, next);
        self.rows = 0;
        self.out
            .send(full)
            .map_err(|_| Error::internal("backup writer stopped"))
    }
}

/// Lowers the calling thread's CPU priority (raises its nice value), so it
/// runs on CPU time that transactions leave over. Best effort: a failure
/// leaves the priority as it was.
fn lower_thread_priority() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), BACKGROUND_NICE) {
        tracing::debug!("could not lower a backup thread's priority: {e}");
    }
}
