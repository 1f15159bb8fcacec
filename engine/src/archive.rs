//! Continuous log archiving and reading the archive back (for
//! point-in-time restore).
//!
//! With an archive directory configured, every checkpoint first copies the
//! partition log records written since the previous one into the archive
//! (synced), and only then may the data directory's log be truncated. The
//! archive therefore holds the complete committed history from the moment
//! archiving started (or from its start time, once `prune` removed older
//! files for the configured retention).
//!
//! Layout of an archive directory:
//! - `ARCHIVE_STATE`: a chunk file (see [`crate::chunkfile`]) holding the
//!   partition count, the time the archive's history starts after, its
//!   horizon (every transaction committed at or before it is archived, none
//!   after it is), and per partition the last archived LSN. It is replaced
//!   atomically after the record files it covers are durable.
//! - `wal/pNNNN/<first LSN>-<last LSN>.jwa`: chunk files of log records
//!   (LSN, length, record) of one partition, in LSN order.
//!
//! Commit times are strictly increasing and each partition's log holds its
//! records in commit-time order (see [`crate::txn`]), so merging the
//! partitions by commit time yields whole transactions in commit order.
//! The log also holds catalog records (see [`crate::catalog_log`]), each
//! with a commit time of its own, so they come in the same order.

use crate::chunkfile::{sync_dir, ChunkReader, ChunkWriter};
use crate::error::{Error, Result, SqlState};
use crate::storage::codec::{put_u32, put_u64, Reader};
use crate::storage::Key;
use crate::txn::CommitRecord;
use crate::types::Row;
use crate::wal::{Lsn, PartitionLog};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// object_not_in_prerequisite_state
const NOT_PREPARED: SqlState = SqlState("55000");
const STATE_MAGIC: [u8; 8] = *b"JOLTARST";
const SEGMENT_MAGIC: [u8; 8] = *b"JOLTARWL";
const FORMAT_VERSION: u32 = 1;
const STATE_NAME: &str = "ARCHIVE_STATE";
const TAG_STATE: u8 = 1;
const TAG_RECORDS: u8 = 2;
/// Records per archive chunk are grouped up to about this many bytes.
const CHUNK_BYTES: usize = 4 << 20;

/// One committed transaction read back from the archive.
pub struct ArchivedTxn {
    pub txn: u64,
    pub commit_time_micros: i64,
    /// (table id, row key, new row or `None` for a deletion).
    pub changes: Vec<(u32, Key, Option<Row>)>,
    /// The partition each entry of `changes` was logged in.
    pub partitions: Vec<u16>,
    /// A catalog record's encoded change (see [`crate::catalog_log`]).
    pub catalog: Option<Vec<u8>>,
}

/// Calls `f` for every complete committed transaction with commit_time_micros in (after_micros, until_micros], in commit order.
///
/// Fails (55000) if the archive's history does not reach back to
/// `after_micros` or forward to `until_micros` (a checkpoint archives the
/// log up to the moment it is taken), and with XX001 if a file is damaged.
pub fn replay_archive(
    archive_dir: &Path,
    after_micros: i64,
    until_micros: i64,
    mut f: impl FnMut(ArchivedTxn) -> Result<()>,
) -> Result<()> {
    let state = read_state(archive_dir)?.ok_or_else(|| {
        Error::new(
            NOT_PREPARED,
            format!("{} holds no log archive", archive_dir.display()),
        )
    })?;
    if after_micros < state.start_micros {
        return Err(Error::new(
            NOT_PREPARED,
            format!(
                "the log archive in {} starts after {}; it has no history before that",
                archive_dir.display(),
                show_time(state.start_micros)
            ),
        ));
    }
    if until_micros > state.horizon_micros {
        return Err(Error::new(
            NOT_PREPARED,
            format!(
                "the log archive in {} reaches only to {}",
                archive_dir.display(),
                show_time(state.horizon_micros)
            ),
        )
        .with_hint("Run CHECKPOINT to archive the log written since."));
    }
    let mut streams = (0..state.upto.len())
        .map(|p| PartitionStream::open(archive_dir, p, state.upto[p]))
        .collect::<Result<Vec<_>>>()?;
    loop {
        let mut next: Option<i64> = None;
        for s in streams.iter_mut() {
            if let Some(r) = s.peek()? {
                next = Some(next.map_or(r.commit_time_micros, |t| t.min(r.commit_time_micros)));
            }
        }
        let Some(time) = next else { break };
        if time > until_micros {
            break;
        }
        let mut parts: Vec<(u16, CommitRecord)> = Vec::new();
        for (p, s) in streams.iter_mut().enumerate() {
            if s.peek()?.is_some_and(|r| r.commit_time_micros == time) {
                parts.push((p as u16, s.pop().expect("peeked")));
            }
        }
        if time <= after_micros {
            continue;
        }
        let txn = parts[0].1.txn;
        let mut held: Vec<u16> = parts.iter().map(|(p, _)| *p).collect();
        held.sort_unstable();
        let mut wanted = parts[0].1.participants.clone();
        wanted.sort_unstable();
        if parts.iter().any(|(_, r)| r.txn != txn) {
            return Err(Error::new(
                SqlState::DATA_CORRUPTED,
                format!(
                    "log archive {}: two transactions share commit time {time}",
                    archive_dir.display()
                ),
            ));
        }
        if held != wanted {
            // Not every participant logged it: it never committed.
            continue;
        }
        let mut changes = Vec::new();
        let mut partitions = Vec::new();
        let mut catalog = None;
        for (p, r) in parts {
            partitions.extend(std::iter::repeat_n(p, r.changes.len()));
            changes.extend(r.changes);
            catalog = catalog.or(r.catalog);
        }
        f(ArchivedTxn {
            txn,
            commit_time_micros: time,
            changes,
            partitions,
            catalog,
        })?;
    }
    Ok(())
}

/// The span of history an archive holds: every transaction committed after
/// the first time and at or before the second one.
pub fn archive_span(archive_dir: &Path) -> Result<Option<(i64, i64)>> {
    Ok(read_state(archive_dir)?.map(|s| (s.start_micros, s.horizon_micros)))
}

fn show_time(micros: i64) -> String {
    if micros == i64::MIN {
        return "the beginning".into();
    }
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string())
        .unwrap_or_else(|| micros.to_string())
}

/// What `ARCHIVE_STATE` records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArchiveState {
    pub start_micros: i64,
    pub horizon_micros: i64,
    /// Per partition, the last archived LSN.
    pub upto: Vec<Lsn>,
}

pub(crate) fn read_state(dir: &Path) -> Result<Option<ArchiveState>> {
    let path = dir.join(STATE_NAME);
    if !path.exists() {
        return Ok(None);
    }
    let mut r = ChunkReader::open(&path, STATE_MAGIC, FORMAT_VERSION)?;
    let damaged = || {
        Error::new(
            SqlState::DATA_CORRUPTED,
            format!("{} is damaged", path.display()),
        )
    };
    let Some((TAG_STATE, buf)) = r.next_chunk(true)? else {
        return Err(damaged());
    };
    let mut rd = Reader::new(&buf);
    let start_micros = rd.u64()? as i64;
    let horizon_micros = rd.u64()? as i64;
    let n = rd.u32()? as usize;
    let mut upto = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        upto.push(rd.u64()?);
    }
    if r.next_chunk(false)?.is_some() {
        return Err(damaged());
    }
    Ok(Some(ArchiveState {
        start_micros,
        horizon_micros,
        upto,
    }))
}

fn write_state(dir: &Path, state: &ArchiveState) -> Result<()> {
    let mut buf = Vec::new();
    put_u64(&mut buf, state.start_micros as u64);
    put_u64(&mut buf, state.horizon_micros as u64);
    put_u32(&mut buf, state.upto.len() as u32);
    for &l in &state.upto {
        put_u64(&mut buf, l);
    }
    let mut w = ChunkWriter::create(&dir.join(STATE_NAME), STATE_MAGIC, FORMAT_VERSION)?;
    w.chunk(TAG_STATE, &buf)?;
    w.finish()?;
    Ok(())
}

fn partition_dir(dir: &Path, p: usize) -> PathBuf {
    dir.join("wal").join(format!("p{p:04}"))
}

/// Archive files of a partition as (first LSN, last LSN, path), ascending.
fn segment_files(pdir: &Path) -> Result<Vec<(Lsn, Lsn, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(pdir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(format!("reading {}", pdir.display()), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("reading {}", pdir.display()), e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".jwa")) else {
            continue;
        };
        let Some((a, b)) = stem.split_once('-') else {
            continue;
        };
        if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
            out.push((a, b, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Copies the records of every partition log up to `lsns` (a consistent
/// cut whose commit-time horizon is `horizon_micros`) into the archive and
/// records the new horizon. Returns the archive's state afterwards.
pub(crate) fn archive_logs(
    dir: &Path,
    logs: &[Arc<dyn PartitionLog>],
    lsns: &[Lsn],
    horizon_micros: i64,
) -> Result<ArchiveState> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating archive directory {}", dir.display()), e))?;
    let mut state = match read_state(dir)? {
        Some(s) => s,
        None => {
            // A new archive holds the whole history if the log still does;
            // otherwise it starts now.
            let whole = logs.iter().all(|l| l.first_lsn() <= 1);
            let start = ArchiveState {
                start_micros: if whole { i64::MIN } else { horizon_micros },
                horizon_micros: if whole { i64::MIN } else { horizon_micros },
                upto: if whole {
                    vec![0; logs.len()]
                } else {
                    lsns.to_vec()
                },
            };
            write_state(dir, &start)?;
            start
        }
    };
    if state.upto.len() != logs.len() {
        return Err(Error::new(
            NOT_PREPARED,
            format!(
                "log archive {} was made for {} partitions, this database has {}",
                dir.display(),
                state.upto.len(),
                logs.len()
            ),
        ));
    }
    for (p, log) in logs.iter().enumerate() {
        let (from, to) = (state.upto[p] + 1, lsns[p]);
        if to + 1 < from {
            return Err(Error::new(
                NOT_PREPARED,
                format!(
                    "log archive {} is ahead of partition {p}'s log (archived to LSN {}, log at {to}); it belongs to another database",
                    dir.display(),
                    state.upto[p]
                ),
            ));
        }
        let pdir = partition_dir(dir, p);
        std::fs::create_dir_all(&pdir)
            .map_err(|e| Error::io(format!("creating {}", pdir.display()), e))?;
        // Files past the recorded state are left from an interrupted run.
        for (first, _, path) in segment_files(&pdir)? {
            if first >= from {
                std::fs::remove_file(&path)
                    .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
            }
        }
        if from > to {
            continue;
        }
        let records = log.read_from(from)?;
        let records: Vec<_> = records.into_iter().take_while(|r| r.lsn <= to).collect();
        if records.first().map(|r| r.lsn) != Some(from) || records.last().map(|r| r.lsn) != Some(to)
        {
            return Err(Error::new(
                NOT_PREPARED,
                format!(
                    "partition {p}'s log no longer holds LSNs {from}..={to} for the archive in {}; archiving needs a new archive directory",
                    dir.display()
                ),
            ));
        }
        let path = pdir.join(format!("{from:020}-{to:020}.jwa"));
        let mut w = ChunkWriter::create(&path, SEGMENT_MAGIC, FORMAT_VERSION)?;
        let mut buf = Vec::with_capacity(CHUNK_BYTES + 4096);
        for r in &records {
            put_u64(&mut buf, r.lsn);
            put_u32(&mut buf, r.payload.len() as u32);
            buf.extend_from_slice(&r.payload);
            if buf.len() >= CHUNK_BYTES {
                w.chunk(TAG_RECORDS, &buf)?;
                buf.clear();
            }
        }
        if !buf.is_empty() {
            w.chunk(TAG_RECORDS, &buf)?;
        }
        w.finish()?;
    }
    sync_dir(&dir.join("wal"))?;
    state.upto = lsns.to_vec();
    state.horizon_micros = state.horizon_micros.max(horizon_micros);
    write_state(dir, &state)?;
    Ok(state)
}

/// The commit time of the last record in an archive file.
fn last_commit_time(path: &Path) -> Result<Option<i64>> {
    let mut r = ChunkReader::open(path, SEGMENT_MAGIC, FORMAT_VERSION)?;
    let mut last = None;
    while let Some((_, chunk)) = r.next_chunk(true)? {
        let mut rd = Reader::new(&chunk);
        while !rd.is_empty() {
            rd.u64()?;
            last = Some(rd.bytes()?.to_vec());
        }
    }
    last.map(|rec| CommitRecord::decode(&rec).map(|r| r.commit_time_micros))
        .transpose()
}

/// Removes archive files holding only transactions committed before
/// `before_micros` (the newest file of each partition is always kept) and
/// moves the archive's start forward past what they held, so a restore
/// that would need them fails with 55000 instead of missing history.
/// Returns how many files were removed.
pub(crate) fn prune(dir: &Path, before_micros: i64) -> Result<usize> {
    let Some(mut state) = read_state(dir)? else {
        return Ok(0);
    };
    let before_system =
        std::time::UNIX_EPOCH + std::time::Duration::from_micros(before_micros.max(0) as u64);
    let mut doomed = Vec::new();
    let mut start = state.start_micros;
    for p in 0..state.upto.len() {
        let files = segment_files(&partition_dir(dir, p))?;
        for (_, last_lsn, path) in files.iter().take(files.len().saturating_sub(1)) {
            if *last_lsn > state.upto[p] {
                break;
            }
            // A file written after the cut-off cannot be all older; this
            // saves reading the files that stay.
            let written = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            if written >= before_system {
                break;
            }
            match last_commit_time(path)? {
                Some(t) if t < before_micros => {
                    start = start.max(t);
                    doomed.push(path.clone());
                }
                Some(_) => break,
                None => doomed.push(path.clone()),
            }
        }
    }
    if doomed.is_empty() {
        return Ok(0);
    }
    // The new start is recorded first: a crash in between leaves files the
    // archive no longer claims, never a claim without its files.
    state.start_micros = start;
    write_state(dir, &state)?;
    for path in &doomed {
        std::fs::remove_file(path)
            .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
    }
    Ok(doomed.len())
}

/// The archived records of one partition, decoded one chunk at a time.
struct PartitionStream {
    files: VecDeque<PathBuf>,
    reader: Option<ChunkReader>,
    buffered: VecDeque<CommitRecord>,
    upto: Lsn,
    next_lsn: Lsn,
}

impl PartitionStream {
    fn open(dir: &Path, p: usize, upto: Lsn) -> Result<PartitionStream> {
        let files = segment_files(&partition_dir(dir, p))?;
        let next_lsn = files.first().map_or(1, |f| f.0);
        Ok(PartitionStream {
            files: files.into_iter().map(|f| f.2).collect(),
            reader: None,
            buffered: VecDeque::new(),
            upto,
            next_lsn,
        })
    }

    fn fill(&mut self) -> Result<()> {
        while self.buffered.is_empty() && self.next_lsn <= self.upto {
            if self.reader.is_none() {
                let Some(path) = self.files.pop_front() else {
                    return Err(Error::new(
                        SqlState::DATA_CORRUPTED,
                        format!("log archive is missing LSN {}", self.next_lsn),
                    ));
                };
                self.reader = Some(ChunkReader::open(&path, SEGMENT_MAGIC, FORMAT_VERSION)?);
            }
            let reader = self.reader.as_mut().expect("opened");
            let Some((_, chunk)) = reader.next_chunk(true)? else {
                self.reader = None;
                continue;
            };
            let mut rd = Reader::new(&chunk);
            while !rd.is_empty() {
                let lsn = rd.u64()?;
                let payload = rd.bytes()?;
                if lsn < self.next_lsn || lsn > self.upto {
                    continue;
                }
                if lsn != self.next_lsn {
                    return Err(Error::new(
                        SqlState::DATA_CORRUPTED,
                        format!("log archive is missing LSN {}", self.next_lsn),
                    ));
                }
                self.next_lsn += 1;
                self.buffered.push_back(CommitRecord::decode(payload)?);
            }
        }
        Ok(())
    }

    fn peek(&mut self) -> Result<Option<&CommitRecord>> {
        self.fill()?;
        Ok(self.buffered.front())
    }

    fn pop(&mut self) -> Option<CommitRecord> {
        self.buffered.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::file::{FileLog, FileLogOptions};
    use futures::executor::block_on;

    fn record(txn: u64, time: i64, participants: &[u16], id: i32) -> Vec<u8> {
        let mut b = vec![1u8];
        put_u64(&mut b, txn);
        put_u64(&mut b, time as u64);
        put_u32(&mut b, participants.len() as u32);
        for p in participants {
            put_u32(&mut b, *p as u32);
        }
        put_u32(&mut b, 1);
        put_u32(&mut b, 16384);
        crate::storage::codec::put_bytes(&mut b, &id.to_be_bytes());
        b.push(1);
        crate::storage::codec::encode_row(&[crate::types::Value::Int4(id)], &mut b);
        b
    }

    /// Two partition logs with 4 KiB segments under `dir`.
    fn two_small_logs(dir: &std::path::Path) -> Vec<Arc<dyn PartitionLog>> {
        (0..2)
            .map(|p| {
                let log = FileLog::open(
                    &dir.join(format!("wal{p}")),
                    FileLogOptions { segment_size: 4096 },
                )
                .unwrap();
                Arc::new(log) as Arc<dyn PartitionLog>
            })
            .collect()
    }

    #[test]
    fn pruning_drops_old_files_and_moves_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let logs = two_small_logs(dir.path());
        let append = |p: usize, rec: Vec<u8>| block_on(logs[p].append(rec)).unwrap();
        let adir = dir.path().join("archive");
        let archive = |horizon| {
            let lsns: Vec<Lsn> = logs.iter().map(|l| l.last_lsn()).collect();
            archive_logs(&adir, &logs, &lsns, horizon).unwrap();
        };
        append(0, record(1, 10, &[0, 1], 1));
        append(1, record(1, 10, &[0, 1], 2));
        archive(15);
        append(0, record(2, 20, &[0], 3));
        append(1, record(3, 30, &[1], 4));
        archive(35);
        append(0, record(4, 40, &[0], 5));
        archive(45);
        // Nothing is old by the files' times yet.
        assert_eq!(prune(&adir, 25).unwrap(), 0);
        for p in 0..2 {
            for (_, _, path) in segment_files(&partition_dir(&adir, p)).unwrap() {
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_modified(std::time::UNIX_EPOCH)
                    .unwrap();
            }
        }
        // p0 loses its files up to time 20, p1 its first; each keeps its newest.
        assert_eq!(prune(&adir, 25).unwrap(), 3);
        assert_eq!(archive_span(&adir).unwrap(), Some((20, 45)));
        assert_eq!(segment_files(&partition_dir(&adir, 0)).unwrap().len(), 1);
        assert_eq!(segment_files(&partition_dir(&adir, 1)).unwrap().len(), 1);
        let err = replay_archive(&adir, 10, 45, |_| Ok(())).err().unwrap();
        assert_eq!(err.state, NOT_PREPARED);
        let mut got = Vec::new();
        replay_archive(&adir, 20, 45, |t| {
            got.push(t.txn);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, vec![3, 4]);
        // Still appendable after pruning.
        append(1, record(5, 50, &[1], 6));
        archive(55);
        let mut got = Vec::new();
        replay_archive(&adir, 20, 55, |t| {
            got.push(t.txn);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, vec![3, 4, 5]);
    }

    #[test]
    fn replays_complete_transactions_in_a_window() {
        let dir = tempfile::tempdir().unwrap();
        let logs = two_small_logs(dir.path());
        let append = |p: usize, rec: Vec<u8>| block_on(logs[p].append(rec)).unwrap();
        append(0, record(1, 10, &[0, 1], 1));
        append(1, record(1, 10, &[0, 1], 2));
        // Only one of its two participants logged transaction 2.
        append(0, record(2, 20, &[0, 1], 3));
        append(1, record(3, 30, &[1], 4));
        let adir = dir.path().join("archive");
        let lsns: Vec<Lsn> = logs.iter().map(|l| l.last_lsn()).collect();
        let state = archive_logs(&adir, &logs, &lsns, 40).unwrap();
        assert_eq!(state.upto, vec![2, 2]);
        append(0, record(4, 50, &[0], 5));
        let lsns: Vec<Lsn> = logs.iter().map(|l| l.last_lsn()).collect();
        archive_logs(&adir, &logs, &lsns, 60).unwrap();

        let window = |after, until| {
            let mut got = Vec::new();
            replay_archive(&adir, after, until, |t| {
                got.push((t.txn, t.commit_time_micros, t.changes.len()));
                Ok(())
            })
            .map(|_| got)
        };
        assert_eq!(
            window(0, 60).unwrap(),
            vec![(1, 10, 2), (3, 30, 1), (4, 50, 1)]
        );
        assert_eq!(window(10, 49).unwrap(), vec![(3, 30, 1)]);
        assert_eq!(window(30, 30).unwrap(), vec![]);
        assert_eq!(window(0, 61).unwrap_err().state, NOT_PREPARED);

        // A damaged archive file is reported, not skipped.
        let file = segment_files(&partition_dir(&adir, 1)).unwrap()[0]
            .2
            .clone();
        let mut bytes = std::fs::read(&file).unwrap();
        let n = bytes.len();
        bytes[n - 30] ^= 0xff;
        std::fs::write(&file, bytes).unwrap();
        assert_eq!(window(0, 60).unwrap_err().state, SqlState::DATA_CORRUPTED);
    }
}
