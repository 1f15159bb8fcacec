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
use crate::storage::{Key, Ts};
use crate::types::Row;
use std::io::BufWriter;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

/// Raw size at which a row chunk is written out.
const CHUNK_BYTES: usize = 1 << 20;
/// Rows read per partition lock acquisition.
const SCAN_BATCH: usize = 1024;

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

/// Calls `f` for every row of `table` visible at `snap`, a batch at a time
/// so writers are held up for one batch at most.
fn for_each_row(
    table: &Table,
    snap: Ts,
    mut f: impl FnMut(&Key, &Arc<Row>) -> Result<()>,
) -> Result<()> {
    let mut batch = Vec::with_capacity(SCAN_BATCH);
    for p in 0..table.store.partition_count() {
        let mut from: Option<Key> = None;
        loop {
            batch.clear();
            let lower = match &from {
                Some(k) => Bound::Included(&k[..]),
                None => Bound::Unbounded,
            };
            // Transaction id 0 owns no intents: only committed rows count.
            let next = table.store.scan_batch(
                p as u16,
                lower,
                Bound::Unbounded,
                snap,
                0,
                SCAN_BATCH,
                &mut batch,
            );
            for (k, row) in &batch {
                f(k, row)?;
            }
            match next {
                Some(k) => from = Some(k),
                None => break,
            }
        }
    }
    Ok(())
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
    let mut entries = Vec::with_capacity(chosen.len());
    for t in &chosen {
        entries.push(TableEntry {
            def: (*t.def).clone(),
            rows: t.store.count_visible(snapshot.ts),
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

fn flush_chunk<W: std::io::Write>(
    buf: &mut Vec<u8>,
    in_chunk: &mut u32,
    w: &mut BackupWriter<W>,
    chunks: &mut u64,
) -> Result<()> {
    if *in_chunk == 0 {
        return Ok(());
    }
    // The row count sits after the table index at the chunk's start.
    buf[4..8].copy_from_slice(&in_chunk.to_le_bytes());
    w.frame(FrameKind::Chunk, buf)?;
    *chunks += 1;
    buf.clear();
    *in_chunk = 0;
    Ok(())
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
    let mut chunks = 0u64;
    let mut total = 0u64;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + 4096);
    for (ti, table) in tables.iter().enumerate() {
        let mut in_chunk = 0u32;
        let mut written = 0u64;
        for_each_row(table, snap, |key, row| {
            if in_chunk == 0 {
                put_u32(&mut buf, ti as u32);
                put_u32(&mut buf, 0);
            }
            put_bytes(&mut buf, key);
            encode_row(row, &mut buf);
            in_chunk += 1;
            written += 1;
            if buf.len() >= CHUNK_BYTES {
                flush_chunk(&mut buf, &mut in_chunk, &mut w, &mut chunks)?;
            }
            Ok(())
        })?;
        flush_chunk(&mut buf, &mut in_chunk, &mut w, &mut chunks)?;
        if written != manifest.tables[ti].rows {
            return Err(Error::internal("backup snapshot changed while being read"));
        }
        total += written;
    }
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
