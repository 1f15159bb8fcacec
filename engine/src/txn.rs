//! Transactions: ids, snapshots, commit timestamps, waiting for row locks
//! (with deadlock detection), savepoints, and the commit path that turns a
//! transaction's write intents into one log record per touched partition.
//!
//! Commit across partitions: every touched partition's log gets a record
//! carrying the transaction id and the full list of participant partitions.
//! A transaction is committed exactly when all of its records are durable;
//! recovery applies a record only if every participant holds one. So one
//! round of (grouped) fsyncs commits a multi-partition transaction, and a
//! crash between the fsyncs of two partitions leaves it wholly absent.

use crate::error::{Error, Result, SqlState};
use crate::storage::codec::{encode_row, put_bytes, put_u32, put_u64, Reader};
use crate::storage::{IndexStore, Key, TableStore, Ts, TxnId};
use crate::types::Row;
use crate::wal::{Lsn, PartitionLog};
use parking_lot::{Condvar, Mutex};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Isolation {
    pub fn name(&self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read committed",
            Isolation::RepeatableRead => "repeatable read",
            Isolation::Serializable => "serializable",
        }
    }

    pub fn parse(s: &str) -> Option<Isolation> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read committed" | "read uncommitted" => Some(Isolation::ReadCommitted),
            "repeatable read" => Some(Isolation::RepeatableRead),
            "serializable" => Some(Isolation::Serializable),
            _ => None,
        }
    }
}

struct Waitable {
    done: AtomicBool,
    notify: Notify,
}

/// Shared transaction bookkeeping for one engine.
pub struct TxnManager {
    next_txn: AtomicU64,
    /// Every commit with a timestamp <= this is fully applied.
    visible_ts: AtomicU64,
    commit_lock: Mutex<()>,
    /// Committers hold it shared while they queue their log records; a
    /// [`Cut`] holds it exclusively to stop new commits for a moment.
    append_gate: tokio::sync::RwLock<()>,
    /// The last commit time handed out (microseconds since the Unix epoch).
    /// Held while a commit's records are queued, so commit times are
    /// strictly increasing and every partition log holds its records in
    /// commit-time order.
    last_commit_time: Mutex<i64>,
    /// Commits whose records are queued but not yet applied to memory.
    in_flight: Mutex<usize>,
    in_flight_done: Condvar,
    /// Bytes of log records queued since the engine started.
    log_bytes: AtomicU64,
    active: Mutex<HashMap<TxnId, Arc<Waitable>>>,
    waits_for: Mutex<HashMap<TxnId, TxnId>>,
    snapshots: Mutex<BTreeMap<Ts, usize>>,
}

impl Default for TxnManager {
    fn default() -> Self {
        TxnManager {
            next_txn: AtomicU64::new(1),
            visible_ts: AtomicU64::new(1),
            commit_lock: Mutex::new(()),
            append_gate: tokio::sync::RwLock::new(()),
            last_commit_time: Mutex::new(i64::MIN),
            in_flight: Mutex::new(0),
            in_flight_done: Condvar::new(),
            log_bytes: AtomicU64::new(0),
            active: Mutex::new(HashMap::new()),
            waits_for: Mutex::new(HashMap::new()),
            snapshots: Mutex::new(BTreeMap::new()),
        }
    }
}

/// One write of a transaction, kept to undo it (savepoints, rollback) and
/// to find the final intents at commit.
pub struct WriteEntry {
    pub table: Arc<TableStore>,
    pub partition: u16,
    pub key: Key,
    pub previous: Option<Option<Arc<Row>>>,
    pub index_entries: Vec<(Arc<IndexStore>, Key)>,
    /// The table's schema epoch when the statement that wrote was bound.
    pub epoch: u64,
}

/// A registered snapshot; keeps the versions it can see from being pruned.
pub struct SnapshotGuard {
    mgr: Arc<TxnManager>,
    pub ts: Ts,
}

impl Drop for SnapshotGuard {
    fn drop(&mut self) {
        let mut snaps = self.mgr.snapshots.lock();
        if let Some(n) = snaps.get_mut(&self.ts) {
            *n -= 1;
            if *n == 0 {
                snaps.remove(&self.ts);
            }
        }
    }
}

impl TxnManager {
    pub fn begin(&self) -> TxnId {
        let id = self.next_txn.fetch_add(1, Ordering::Relaxed);
        self.active.lock().insert(
            id,
            Arc::new(Waitable {
                done: AtomicBool::new(false),
                notify: Notify::new(),
            }),
        );
        id
    }

    /// Makes new transaction ids start at `next` or above (after recovery,
    /// so log records never share an id).
    pub fn advance_txn_ids(&self, next: TxnId) {
        self.next_txn.fetch_max(next, Ordering::Relaxed);
    }

    /// Makes later commit times greater than `micros` (after recovery).
    pub fn advance_commit_time(&self, micros: i64) {
        let mut last = self.last_commit_time.lock();
        *last = (*last).max(micros);
    }

    /// Bytes of log records queued since the engine started.
    pub fn log_bytes(&self) -> u64 {
        self.log_bytes.load(Ordering::Relaxed)
    }

    /// The next transaction id to be handed out.
    pub fn next_txn_id(&self) -> TxnId {
        self.next_txn.load(Ordering::Relaxed)
    }

    /// Takes a consistent cut across all partitions: for a moment no commit
    /// may queue log records, commits already queued are waited for until
    /// they are applied, and then a snapshot, every log's last LSN and a
    /// commit-time horizon are taken together. Writers are held up only for
    /// as long as the commits in flight need to become durable.
    ///
    /// Must not be called from an async task (it blocks).
    pub fn cut(self: &Arc<Self>, logs: &[Arc<dyn PartitionLog>]) -> Cut {
        let _gate = self.append_gate.blocking_write();
        let mut n = self.in_flight.lock();
        while *n > 0 {
            self.in_flight_done.wait(&mut n);
        }
        drop(n);
        let _commit = self.commit_lock.lock();
        let snapshot = self.snapshot();
        let lsns = logs.iter().map(|l| l.last_lsn()).collect();
        let mut last = self.last_commit_time.lock();
        let horizon_micros = (*last).max(chrono::Utc::now().timestamp_micros());
        *last = horizon_micros;
        Cut {
            snapshot,
            lsns,
            horizon_micros,
            next_txn: self.next_txn_id(),
        }
    }

    /// Waits until every commit that has passed the append gate is applied
    /// and visible. Blocks; call it where blocking is allowed.
    pub fn quiesce(&self) {
        drop(futures::executor::block_on(self.append_gate.write()));
        let mut n = self.in_flight.lock();
        while *n > 0 {
            self.in_flight_done.wait(&mut n);
        }
    }

    /// Queues an already committed record made outside the commit path (a
    /// restore's rows) on `log`, with a commit time handed out like any
    /// commit's: commit times stay strictly increasing, every log stays in
    /// commit-time order and a [`Cut`] never splits the record from its
    /// time. `build` gets the commit time. Blocks (not for async tasks).
    pub fn append_committed(
        &self,
        log: &Arc<dyn PartitionLog>,
        build: impl FnOnce(i64) -> Vec<u8>,
    ) -> futures::future::BoxFuture<'static, Result<crate::wal::Lsn>> {
        // Not `blocking_read`: a table rewrite calls this from a runtime
        // thread (inside `block_in_place`), where tokio refuses to block.
        let _gate = futures::executor::block_on(self.append_gate.read());
        let mut last = self.last_commit_time.lock();
        let now = chrono::Utc::now()
            .timestamp_micros()
            .max(last.saturating_add(1));
        *last = now;
        let record = build(now);
        self.log_bytes
            .fetch_add(record.len() as u64, Ordering::Relaxed);
        log.append(record)
    }

    pub fn snapshot(self: &Arc<Self>) -> SnapshotGuard {
        let mut snaps = self.snapshots.lock();
        let ts = self.visible_ts.load(Ordering::Acquire);
        *snaps.entry(ts).or_default() += 1;
        SnapshotGuard {
            mgr: self.clone(),
            ts,
        }
    }

    pub fn visible_ts(&self) -> Ts {
        self.visible_ts.load(Ordering::Acquire)
    }

    pub fn set_visible_ts(&self, ts: Ts) {
        self.visible_ts.store(ts, Ordering::Release);
    }

    pub fn oldest_snapshot(&self) -> Ts {
        let snaps = self.snapshots.lock();
        snaps
            .keys()
            .next()
            .copied()
            .unwrap_or_else(|| self.visible_ts.load(Ordering::Acquire))
    }

    /// Marks a transaction finished and wakes everyone waiting for it.
    pub fn finish(&self, txn: TxnId) {
        if let Some(w) = self.active.lock().remove(&txn) {
            w.done.store(true, Ordering::Release);
            w.notify.notify_waiters();
        }
        self.waits_for.lock().remove(&txn);
    }

    /// Waits until `holder` finishes. Fails with 40P01 if waiting would
    /// close a cycle of waiting transactions.
    pub async fn wait_for(&self, waiter: TxnId, holder: TxnId) -> Result<()> {
        let handle = match self.active.lock().get(&holder) {
            Some(h) => h.clone(),
            None => return Ok(()),
        };
        {
            let mut graph = self.waits_for.lock();
            let mut cur = holder;
            let mut seen = HashSet::new();
            while let Some(&next) = graph.get(&cur) {
                if next == waiter {
                    return Err(Error::new(SqlState::DEADLOCK_DETECTED, "deadlock detected")
                        .with_detail(format!(
                            "Process {waiter} waits for ShareLock on transaction {holder}; blocked by process {holder}."
                        ))
                        .with_hint("See server log for query details."));
                }
                if !seen.insert(next) {
                    break;
                }
                cur = next;
            }
            graph.insert(waiter, holder);
        }
        let notified = handle.notify.notified();
        if !handle.done.load(Ordering::Acquire) {
            notified.await;
        }
        self.waits_for.lock().remove(&waiter);
        Ok(())
    }

    pub fn stop_waiting(&self, waiter: TxnId) {
        self.waits_for.lock().remove(&waiter);
    }
}

/// A consistent cut across partitions (see [`TxnManager::cut`]): the
/// snapshot sees exactly the transactions whose commit time is at most
/// `horizon_micros`; their log records are exactly those at or below
/// `lsns[p]` in each partition `p`. Later commits get later times and
/// higher LSNs.
pub struct Cut {
    pub snapshot: SnapshotGuard,
    pub lsns: Vec<Lsn>,
    pub horizon_micros: i64,
    pub next_txn: TxnId,
}

/// Counts a commit as in flight from queueing its records until it is
/// applied (or abandoned).
struct InFlight<'a>(&'a TxnManager);

impl<'a> InFlight<'a> {
    fn new(mgr: &'a TxnManager) -> InFlight<'a> {
        *mgr.in_flight.lock() += 1;
        InFlight(mgr)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut n = self.0.in_flight.lock();
        *n -= 1;
        if *n == 0 {
            self.0.in_flight_done.notify_all();
        }
    }
}

/// Undoes writes after position `to` (a savepoint), newest first.
pub fn rollback_writes(txn: TxnId, writes: &mut Vec<WriteEntry>, to: usize) {
    while writes.len() > to {
        let w = writes.pop().expect("len checked");
        w.table.restore(w.partition, &w.key, txn, w.previous);
        for (index, key) in w.index_entries {
            let still_used = index_key_in_use(&w.table, w.partition, &w.key, &index, &key);
            if !still_used {
                index.remove(key, w.key.clone());
            }
        }
    }
}

fn index_key_in_use(
    table: &TableStore,
    partition: u16,
    row_key: &Key,
    index: &IndexStore,
    key: &Key,
) -> bool {
    let map = table.partitions[partition as usize].read();
    let Some(slot) = map.get(row_key) else {
        return false;
    };
    slot.versions
        .iter()
        .filter_map(|v| v.row.as_ref())
        .chain(slot.intent.iter().filter_map(|i| i.row.as_ref()))
        .any(|r| &index.key_of(r) == key)
}

/// Log record format version.
const RECORD_VERSION: u8 = 1;
/// The first byte of a catalog record (see [`crate::catalog_log`]): the
/// same header as a commit record, no row changes, then the change.
const CATALOG_RECORD: u8 = 2;

/// Where the commit time sits in an encoded record (it is filled in last).
const TIME_OFFSET: usize = 9;

/// One partition's part of a committed transaction, as logged.
pub struct CommitRecord {
    pub txn: TxnId,
    pub commit_time_micros: i64,
    pub participants: Vec<u16>,
    pub changes: Vec<(u32, Key, Option<Row>)>,
    /// A catalog record's encoded change (such a record has no rows).
    pub catalog: Option<Vec<u8>>,
}

impl CommitRecord {
    pub fn decode(buf: &[u8]) -> Result<CommitRecord> {
        let mut r = Reader::new(buf);
        let kind = r.u8()?;
        if kind != RECORD_VERSION && kind != CATALOG_RECORD {
            return Err(Error::new(
                SqlState::DATA_CORRUPTED,
                "unknown log record version",
            ));
        }
        let txn = r.u64()?;
        let commit_time_micros = r.u64()? as i64;
        let np = r.u32()? as usize;
        let mut participants = Vec::with_capacity(np.min(1024));
        for _ in 0..np {
            participants.push(r.u32()? as u16);
        }
        let n = r.u32()? as usize;
        let mut changes = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let table = r.u32()?;
            let key: Key = r.bytes()?.into();
            let row = if r.u8()? == 1 { Some(r.row()?) } else { None };
            changes.push((table, key, row));
        }
        let catalog = match kind {
            CATALOG_RECORD => Some(r.bytes()?.to_vec()),
            _ => None,
        };
        Ok(CommitRecord {
            txn,
            commit_time_micros,
            participants,
            changes,
            catalog,
        })
    }
}

fn encode_record_header(
    txn: TxnId,
    time: i64,
    participants: &[u16],
    n_changes: usize,
    out: &mut Vec<u8>,
) {
    out.push(RECORD_VERSION);
    put_u64(out, txn);
    debug_assert_eq!(out.len(), TIME_OFFSET);
    put_u64(out, time as u64);
    put_u32(out, participants.len() as u32);
    for p in participants {
        put_u32(out, *p as u32);
    }
    put_u32(out, n_changes as u32);
}

/// One change as a log record holds it: table id, row key, new row (or
/// `None` for a deletion).
pub type LoggedChange<'a> = (u32, &'a [u8], Option<&'a [crate::types::Value]>);

/// Encodes one partition's log record of an already committed change set
/// (a restore logs its rows this way).
pub fn encode_commit_record(
    txn: TxnId,
    time: i64,
    participants: &[u16],
    changes: &[LoggedChange],
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64 + changes.len() * 64);
    encode_record_header(txn, time, participants, changes.len(), &mut buf);
    for (table, key, row) in changes {
        encode_change(*table, key, *row, &mut buf);
    }
    buf
}

/// Appends one change as a commit record holds it (see
/// [`encode_commit_record_of`]).
pub fn encode_change(
    table: u32,
    key: &[u8],
    row: Option<&[crate::types::Value]>,
    out: &mut Vec<u8>,
) {
    put_u32(out, table);
    put_bytes(out, key);
    match row {
        Some(r) => {
            out.push(1);
            encode_row(r, out);
        }
        None => out.push(0),
    }
}

/// Appends one change whose new row is already encoded (by
/// [`crate::storage::codec::encode_row`]), as [`encode_change`] would.
pub fn encode_change_of_encoded_row(table: u32, key: &[u8], encoded_row: &[u8], out: &mut Vec<u8>) {
    put_u32(out, table);
    put_bytes(out, key);
    out.push(1);
    out.extend_from_slice(encoded_row);
}

/// A commit record like [`encode_commit_record`]'s from `n_changes`
/// changes already appended to `body` by [`encode_change`] or
/// [`encode_change_of_encoded_row`].
pub fn encode_commit_record_of(
    txn: TxnId,
    time: i64,
    participants: &[u16],
    n_changes: usize,
    body: &[u8],
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64 + body.len());
    encode_record_header(txn, time, participants, n_changes, &mut buf);
    buf.extend_from_slice(body);
    buf
}

/// Encodes a catalog record (see [`crate::catalog_log`]) of one partition.
pub fn encode_catalog_record(txn: TxnId, time: i64, partition: u16, change: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64 + change.len());
    encode_record_header(txn, time, &[partition], 0, &mut buf);
    buf[0] = CATALOG_RECORD;
    put_bytes(&mut buf, change);
    buf
}

/// A commit writing at least this many rows encodes and applies its
/// partitions on parallel threads.
const PARALLEL_COMMIT_ROWS: usize = 50_000;

/// Runs `f` for every partition with entries: on one scoped thread per
/// partition when `parallel`, else in turn. Results are in partition order.
fn per_partition<'w, T: Send>(
    parallel: bool,
    by_partition: &[Vec<&'w WriteEntry>],
    f: impl Fn(u16, &[&'w WriteEntry]) -> T + Sync,
) -> Vec<T> {
    let busy = by_partition
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.is_empty());
    if !parallel || by_partition.iter().filter(|e| !e.is_empty()).count() < 2 {
        return busy.map(|(p, e)| f(p as u16, e)).collect();
    }
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = busy
            .map(|(p, e)| scope.spawn(move || f(p as u16, e)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// One partition's log record of a commit (its commit time still zero),
/// and how many changes it holds. Every partition with entries is a
/// participant.
fn encode_partition_record(
    p: u16,
    entries: &[&WriteEntry],
    txn: TxnId,
    participants: &[u16],
) -> (u16, usize, Vec<u8>) {
    let mut buf = Vec::new();
    encode_record_header(txn, 0, participants, 0, &mut buf);
    let count_at = buf.len() - 4;
    let mut changes = 0;
    for run in entries.chunk_by(|a, b| Arc::ptr_eq(&a.table, &b.table)) {
        let table = &run[0].table;
        let keys = run.iter().map(|w| &*w.key);
        table.for_each_intent(p, keys, txn, |key, row| {
            changes += 1;
            put_u32(&mut buf, table.oid);
            put_bytes(&mut buf, key);
            match row {
                Some(r) => {
                    buf.push(1);
                    encode_row(r, &mut buf);
                }
                None => buf.push(0),
            }
        });
    }
    buf[count_at..count_at + 4].copy_from_slice(&(changes as u32).to_le_bytes());
    (p, changes, buf)
}

/// Commits a transaction's writes: logs one record per touched partition,
/// waits until all are durable (unless `wait_durable` is false), then makes
/// the versions visible atomically. Returns the commit timestamp.
pub async fn commit_writes(
    mgr: &TxnManager,
    logs: &[Arc<dyn PartitionLog>],
    txn: TxnId,
    writes: &[WriteEntry],
    wait_durable: bool,
) -> Result<Ts> {
    // A write that found no earlier intent of this transaction is the
    // row's first: one per row, in first-write order, grouped by partition.
    let mut by_partition: Vec<Vec<&WriteEntry>> = vec![Vec::new(); logs.len()];
    for w in writes.iter().filter(|w| w.previous.is_none()) {
        by_partition[w.partition as usize].push(w);
    }
    let large = writes.len() >= PARALLEL_COMMIT_ROWS;
    let participants: Vec<u16> = (0..by_partition.len() as u16)
        .filter(|&p| !by_partition[p as usize].is_empty())
        .collect();
    // Every partition with entries is a participant and logs a record,
    // even one whose rows no longer carry an intent (then it is empty).
    let encoded = per_partition(large, &by_partition, |p, entries| {
        encode_partition_record(p, entries, txn, &participants)
    });
    if encoded.iter().all(|(_, changes, _)| *changes == 0) {
        return Ok(mgr.visible_ts());
    }
    let records: Vec<(u16, Vec<u8>)> = encoded.into_iter().map(|(p, _, buf)| (p, buf)).collect();
    let gate = mgr.append_gate.read().await;
    // Checked under the gate: `quiesce` then knows every commit that got
    // past this check.
    if writes.iter().any(|w| w.table.schema_epoch() != w.epoch) {
        return Err(Error::new(
            SqlState::SERIALIZATION_FAILURE,
            "could not serialize access due to concurrent ALTER TABLE or CREATE INDEX",
        )
        .with_hint("Retry the transaction."));
    }
    let in_flight = InFlight::new(mgr);
    let pending: Vec<_> = {
        let mut last = mgr.last_commit_time.lock();
        let now = chrono::Utc::now()
            .timestamp_micros()
            .max(last.saturating_add(1));
        *last = now;
        records
            .into_iter()
            .map(|(p, mut buf)| {
                buf[TIME_OFFSET..TIME_OFFSET + 8].copy_from_slice(&(now as u64).to_le_bytes());
                mgr.log_bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                logs[p as usize].append(buf)
            })
            .collect()
    };
    drop(gate);
    if wait_durable {
        for r in futures::future::join_all(pending).await {
            if let Err(e) = r {
                // The log could not make the commit durable: the record may
                // or may not survive, so this node must not go on serving.
                tracing::error!("partition log failure, stopping: {e}");
                std::process::abort();
            }
        }
    }
    let oldest = mgr.oldest_snapshot();
    let _guard = mgr.commit_lock.lock();
    let ts = mgr.visible_ts() + 1;
    per_partition(large, &by_partition, |p, entries| {
        for run in entries.chunk_by(|a, b| Arc::ptr_eq(&a.table, &b.table)) {
            let keys = run.iter().map(|w| &*w.key);
            run[0].table.apply_commits(p, keys, txn, ts, oldest);
        }
    });
    mgr.set_visible_ts(ts);
    drop(_guard);
    drop(in_flight);
    Ok(ts)
}
