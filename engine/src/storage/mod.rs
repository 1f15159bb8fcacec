//! In-memory, hash-partitioned, multi-versioned row storage.
//!
//! Each table has one ordered map per partition from row key (the
//! memcomparable encoding of the primary key, or of a hidden row id) to a
//! [`Slot`]: the committed versions of that row, newest last, plus at most
//! one uncommitted write intent. Secondary indexes are table-wide ordered
//! sets of (index key, row key); readers re-check every candidate row.

pub mod codec;

use crate::catalog::{IndexDef, TableDef};
use crate::error::{Error, Result, SqlState};
use crate::types::keys::{encode_columns, encode_key, partition_hash, partition_hash_of_key};
use crate::types::{Row, Value};
use parking_lot::RwLock;
use smallvec::SmallVec;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A row or index key: its memcomparable bytes. Keys of up to 16 bytes
/// (every integer key, short text keys) are stored inline, so an ordered
/// map compares them without following a pointer per key.
pub type Key = SmallVec<[u8; 16]>;
pub type TxnId = u64;
/// Commit timestamp: the order in which transactions became visible.
pub type Ts = u64;

pub struct Version {
    pub ts: Ts,
    /// `None` marks a deletion.
    pub row: Option<Arc<Row>>,
}

pub struct Intent {
    pub txn: TxnId,
    pub row: Option<Arc<Row>>,
}

#[derive(Default)]
pub struct Slot {
    pub versions: Vec<Version>,
    pub intent: Option<Intent>,
}

impl Slot {
    /// The row as transaction `txn` with snapshot `snap` sees it.
    pub fn visible(&self, snap: Ts, txn: TxnId) -> Option<&Arc<Row>> {
        if let Some(intent) = &self.intent {
            if intent.txn == txn {
                return intent.row.as_ref();
            }
        }
        self.versions
            .iter()
            .rev()
            .find(|v| v.ts <= snap)
            .and_then(|v| v.row.as_ref())
    }

    fn newest_committed(&self) -> Option<&Version> {
        self.versions.last()
    }
}

pub type PartitionMap = BTreeMap<Key, Slot>;

/// Slots the vacuum visits under one hold of a partition's write lock.
pub const VACUUM_CHUNK: usize = 512;

type RowImages = Vec<Arc<Row>>;

/// A secondary index: a set of (index key, row key) with the row's
/// partition.
pub struct IndexStore {
    pub def: IndexDef,
    pub entries: RwLock<BTreeMap<(Key, Key), u16>>,
}

impl IndexStore {
    pub fn key_of(&self, row: &[Value]) -> Key {
        let mut out = Vec::with_capacity(16);
        encode_columns(row, &self.def.columns, &mut out);
        key_from_vec(out)
    }

    pub fn key_has_null(&self, row: &[Value]) -> bool {
        self.def.columns.iter().any(|&c| row[c].is_null())
    }

    /// Candidate (row key, partition) pairs whose index key starts with
    /// `prefix`, or lies within the bounds when given.
    pub fn lookup_prefix(&self, prefix: &[u8]) -> Vec<(Key, u16)> {
        let entries = self.entries.read();
        let start: (Key, Key) = (prefix.into(), Key::new());
        entries
            .range(start..)
            .take_while(|((k, _), _)| k.starts_with(prefix))
            .map(|((_, rk), p)| (rk.clone(), *p))
            .collect()
    }

    /// Candidates whose index key lies within the bounds (the bounds are
    /// on the full encoded index key; see [`prefix_bounds`]).
    pub fn lookup_range(&self, lower: Bound<Key>, upper: Bound<Key>) -> Vec<(Key, u16)> {
        let entries = self.entries.read();
        let start: Bound<(Key, Key)> = match lower {
            Bound::Included(k) => Bound::Included((k, Key::new())),
            Bound::Excluded(k) => Bound::Excluded((k, Key::from_slice(&[0xff]))),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut out = Vec::new();
        for ((k, rk), p) in entries.range((start, Bound::Unbounded)) {
            let within = match &upper {
                Bound::Included(u) => k <= u,
                Bound::Excluded(u) => k < u,
                Bound::Unbounded => true,
            };
            if !within {
                break;
            }
            out.push((rk.clone(), *p));
        }
        out
    }

    /// Inserts an entry of a unique index after `check` has seen every
    /// other row filed under the same key. The check runs under the index
    /// lock, so two writers of one key are ordered: the second sees the
    /// first's entry (and waits for it) instead of both missing each other.
    pub fn insert_checked(
        &self,
        key: Key,
        row_key: Key,
        partition: u16,
        mut check: impl FnMut(&[u8], u16) -> Result<()>,
    ) -> Result<()> {
        let mut entries = self.entries.write();
        let start: (Key, Key) = (key.clone(), Key::new());
        let others: Vec<(Key, u16)> = entries
            .range(start..)
            .take_while(|((k, _), _)| *k == key)
            .filter(|((_, rk), _)| *rk != row_key)
            .map(|((_, rk), p)| (rk.clone(), *p))
            .collect();
        for (rk, p) in others {
            check(&rk, p)?;
        }
        entries.insert((key, row_key), partition);
        Ok(())
    }

    pub fn insert(&self, key: Key, row_key: Key, partition: u16) {
        self.entries.write().insert((key, row_key), partition);
    }

    pub fn remove(&self, key: Key, row_key: Key) {
        self.entries.write().remove(&(key, row_key));
    }
}

/// Result of placing a write intent.
pub enum WriteOutcome {
    Written {
        /// The intent this transaction had on the row before (to restore on
        /// rollback); `None` if it had none.
        previous: Option<Option<Arc<Row>>>,
    },
    /// INSERT found a live row with the same key.
    Duplicate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    Insert,
    Update,
    Delete,
}

/// How a write reacts to concurrent commits.
#[derive(Clone, Copy, Debug)]
pub struct WriteCtx {
    pub txn: TxnId,
    pub snapshot: Ts,
    /// REPEATABLE READ/SERIALIZABLE: a row changed after the snapshot is a
    /// serialization failure; READ COMMITTED re-runs the statement instead.
    pub snapshot_isolation: bool,
}

pub struct TableStore {
    pub oid: u32,
    pub partitions: Vec<RwLock<PartitionMap>>,
    pub indexes: RwLock<Arc<Vec<Arc<IndexStore>>>>,
    pub next_row_id: AtomicU64,
    /// Bumped by every ALTER TABLE or CREATE INDEX of the table: a
    /// transaction whose writes were made against an older definition (its
    /// rows may miss a new index or constraint, or sit in a store a rewrite
    /// replaced) cannot commit.
    schema_epoch: AtomicU64,
    /// Per partition: the rows that may hold versions for the vacuum to
    /// reclaim (old versions or deletion markers).
    garbage: Vec<parking_lot::Mutex<Garbage>>,
}

/// Rows of one partition the vacuum should visit. Past
/// [`MAX_GARBAGE_KEYS`] rows it stops listing them and scans the whole
/// partition instead.
#[derive(Default)]
struct Garbage {
    keys: Vec<Key>,
    overflow: bool,
}

const MAX_GARBAGE_KEYS: usize = 1 << 20;

/// What the vacuum has to do in one partition.
pub enum GarbageWork {
    Nothing,
    /// Visit these rows (possibly with repeats).
    Rows(Vec<Key>),
    /// Too many rows were listed: visit every row.
    WholePartition,
}

/// What vacuuming one slot did.
struct SlotVacuum {
    removed: RowImages,
    /// Only a deletion nobody can see is left: remove the slot.
    dead: bool,
    /// Versions remain that an open snapshot may still need.
    leftover: bool,
}

impl Slot {
    fn vacuum(&mut self, oldest_snapshot: Ts) -> SlotVacuum {
        let removed = prune(&mut self.versions, oldest_snapshot);
        let dead = self.versions.len() == 1
            && self.versions[0].row.is_none()
            && self.versions[0].ts <= oldest_snapshot
            && self.intent.is_none();
        let leftover = !dead
            && (self.versions.len() > 1 || self.versions.last().is_some_and(|v| v.row.is_none()));
        SlotVacuum {
            removed,
            dead,
            leftover,
        }
    }

    fn images(&self) -> RowImages {
        self.versions.iter().filter_map(|v| v.row.clone()).collect()
    }
}

impl TableStore {
    pub fn new(def: &TableDef, partitions: usize) -> TableStore {
        let indexes = def
            .indexes
            .iter()
            .map(|d| {
                Arc::new(IndexStore {
                    def: d.clone(),
                    entries: RwLock::new(BTreeMap::new()),
                })
            })
            .collect();
        TableStore {
            oid: def.oid,
            partitions: (0..partitions)
                .map(|_| RwLock::new(BTreeMap::new()))
                .collect(),
            indexes: RwLock::new(Arc::new(indexes)),
            next_row_id: AtomicU64::new(1),
            schema_epoch: AtomicU64::new(0),
            garbage: (0..partitions).map(|_| Default::default()).collect(),
        }
    }

    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    pub fn schema_epoch(&self) -> u64 {
        self.schema_epoch.load(Ordering::Acquire)
    }

    /// Moves the table to a new definition epoch; returns the previous one.
    pub fn bump_schema_epoch(&self) -> u64 {
        self.schema_epoch.fetch_add(1, Ordering::AcqRel)
    }

    /// Undoes a bump whose definition was never published.
    pub fn restore_schema_epoch(&self, epoch: u64) {
        self.schema_epoch.store(epoch, Ordering::Release);
    }

    pub fn indexes(&self) -> Arc<Vec<Arc<IndexStore>>> {
        self.indexes.read().clone()
    }

    /// The row key and partition of a new row. Tables without a primary
    /// key get a fresh hidden row id.
    pub fn place_new(&self, def: &TableDef, row: &[Value]) -> (Key, u16) {
        if def.primary_key.is_empty() {
            let id = self.next_row_id.fetch_add(1, Ordering::Relaxed);
            (
                row_id_key(id),
                self.partition_for(&[Value::Int8(id as i64)]),
            )
        } else {
            self.place_existing(def, row)
        }
    }

    /// The row key and partition of a row with a primary key.
    pub fn place_existing(&self, def: &TableDef, row: &[Value]) -> (Key, u16) {
        let mut key = Vec::with_capacity(16);
        encode_columns(row, &def.primary_key, &mut key);
        let partition = if def.partition_key == def.primary_key {
            self.partition_for_key(&key)
        } else {
            self.partition_of_columns(row, &def.partition_key)
        };
        (key_from_vec(key), partition)
    }

    /// The partition of a row whose partition key is its columns `cols`.
    pub fn partition_of_columns(&self, row: &[Value], cols: &[usize]) -> u16 {
        let mut encoded = Vec::with_capacity(16);
        encode_columns(row, cols, &mut encoded);
        self.partition_for_key(&encoded)
    }

    pub fn partition_for(&self, partition_key: &[Value]) -> u16 {
        (partition_hash(partition_key) % self.partitions.len() as u64) as u16
    }

    /// [`TableStore::partition_for`] of a partition key given in its key
    /// encoding (the row key, when the partition key is the primary key).
    pub fn partition_for_key(&self, encoded: &[u8]) -> u16 {
        (partition_hash_of_key(encoded) % self.partitions.len() as u64) as u16
    }

    pub fn get(&self, partition: u16, key: &[u8], snap: Ts, txn: TxnId) -> Option<Arc<Row>> {
        let map = self.partitions[partition as usize].read();
        map.get(key).and_then(|s| s.visible(snap, txn).cloned())
    }

    /// Up to `limit` visible rows with keys in `[from, to)`-style bounds, in
    /// key order, and the bound to continue from when more may follow.
    #[allow(clippy::too_many_arguments)]
    pub fn scan_batch(
        &self,
        partition: u16,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        snap: Ts,
        txn: TxnId,
        limit: usize,
        out: &mut Vec<(Key, Arc<Row>)>,
    ) -> Option<Key> {
        let map = self.partitions[partition as usize].read();
        let range = map.range::<[u8], _>((from, to));
        for (seen, (k, slot)) in range.enumerate() {
            if seen >= limit {
                return Some(k.clone());
            }
            if let Some(row) = slot.visible(snap, txn) {
                out.push((k.clone(), row.clone()));
            }
        }
        None
    }

    /// How many rows snapshot `snap` sees, counted in place a chunk of
    /// slots per lock acquisition (no row is copied).
    pub fn count_visible(&self, snap: Ts) -> u64 {
        const CHUNK: usize = 4096;
        let mut count = 0;
        for part in &self.partitions {
            let mut from: Option<Key> = None;
            loop {
                let map = part.read();
                let lower = from.as_deref().map_or(Bound::Unbounded, Bound::Included);
                let mut next = None;
                for (seen, (k, slot)) in map.range::<[u8], _>((lower, Bound::Unbounded)).enumerate()
                {
                    if seen >= CHUNK {
                        next = Some(k.clone());
                        break;
                    }
                    // Transaction id 0 owns no intents: committed rows only.
                    if slot.visible(snap, 0).is_some() {
                        count += 1;
                    }
                }
                drop(map);
                match next {
                    Some(k) => from = Some(k),
                    None => break,
                }
            }
        }
        count
    }

    /// Places a write intent of `ctx.txn` on the row at `key`.
    pub fn write(
        &self,
        partition: u16,
        key: &Key,
        row: Option<Arc<Row>>,
        kind: WriteKind,
        ctx: WriteCtx,
    ) -> Result<WriteOutcome> {
        let mut map = self.partitions[partition as usize].write();
        let slot = if kind == WriteKind::Insert {
            map.entry(key.clone()).or_default()
        } else {
            match map.get_mut(key) {
                Some(s) => s,
                // The row vanished (pruned after a delete): nothing to do but
                // re-read.
                None => return Err(Error::retry_after(0)),
            }
        };
        if let Some(intent) = &slot.intent {
            if intent.txn != ctx.txn {
                return Err(Error::retry_after(intent.txn));
            }
            if kind == WriteKind::Insert && intent.row.is_some() {
                return Ok(WriteOutcome::Duplicate);
            }
            let previous = std::mem::replace(&mut slot.intent.as_mut().unwrap().row, row);
            return Ok(WriteOutcome::Written {
                previous: Some(previous),
            });
        }
        if let Some(newest) = slot.newest_committed() {
            if kind == WriteKind::Insert {
                if newest.row.is_some() {
                    return Ok(WriteOutcome::Duplicate);
                }
            } else if newest.ts > ctx.snapshot {
                if ctx.snapshot_isolation {
                    return Err(Error::new(
                        SqlState::SERIALIZATION_FAILURE,
                        "could not serialize access due to concurrent update",
                    ));
                }
                return Err(Error::retry_after(0));
            }
        }
        slot.intent = Some(Intent { txn: ctx.txn, row });
        Ok(WriteOutcome::Written { previous: None })
    }

    /// Undoes a write of transaction `txn`, restoring its earlier intent.
    pub fn restore(
        &self,
        partition: u16,
        key: &Key,
        txn: TxnId,
        previous: Option<Option<Arc<Row>>>,
    ) {
        let mut map = self.partitions[partition as usize].write();
        let remove = match map.get_mut(key) {
            Some(slot) => {
                if slot.intent.as_ref().is_some_and(|i| i.txn == txn) {
                    match previous {
                        Some(row) => slot.intent.as_mut().unwrap().row = row,
                        None => slot.intent = None,
                    }
                }
                slot.intent.is_none() && slot.versions.is_empty()
            }
            None => false,
        };
        if remove {
            map.remove(key);
        }
    }

    /// Makes `txn`'s intent on a row a committed version with timestamp
    /// `ts`, pruning versions older than `oldest_snapshot` that nobody can
    /// see any more.
    pub fn apply_commit(
        &self,
        partition: u16,
        key: &[u8],
        txn: TxnId,
        ts: Ts,
        oldest_snapshot: Ts,
    ) {
        self.apply_commits(partition, [key], txn, ts, oldest_snapshot);
    }

    /// [`TableStore::apply_commit`] for many rows of one partition, taking
    /// the partition's lock once per chunk of rows rather than per row.
    pub fn apply_commits<'k>(
        &self,
        partition: u16,
        keys: impl IntoIterator<Item = &'k [u8]>,
        txn: TxnId,
        ts: Ts,
        oldest_snapshot: Ts,
    ) {
        const CHUNK: usize = 4096;
        let mut keys = keys.into_iter().peekable();
        while keys.peek().is_some() {
            let mut cleanup: Vec<(&[u8], RowImages, RowImages)> = Vec::new();
            let mut leftovers: Vec<&[u8]> = Vec::new();
            {
                let mut map = self.partitions[partition as usize].write();
                for key in keys.by_ref().take(CHUNK) {
                    let Some(slot) = map.get_mut(key) else {
                        continue;
                    };
                    match slot.intent.take() {
                        Some(intent) if intent.txn == txn => slot.versions.push(Version {
                            ts,
                            row: intent.row,
                        }),
                        other => {
                            slot.intent = other;
                            continue;
                        }
                    }
                    let done = slot.vacuum(oldest_snapshot);
                    if done.leftover {
                        leftovers.push(key);
                    }
                    if !done.removed.is_empty() {
                        let remaining = if done.dead { Vec::new() } else { slot.images() };
                        cleanup.push((key, done.removed, remaining));
                    }
                    if done.dead {
                        map.remove(key);
                    }
                }
            }
            self.note_garbage(partition, leftovers.iter().copied());
            for (key, removed, remaining) in cleanup {
                self.drop_index_entries(key, &removed, &remaining);
            }
        }
    }

    /// Calls `each` with `txn`'s final intent on every row at `keys` of a
    /// partition (what a commit will write), under one read lock per chunk;
    /// rows without such an intent are skipped.
    pub fn for_each_intent<'k>(
        &self,
        partition: u16,
        keys: impl IntoIterator<Item = &'k [u8]>,
        txn: TxnId,
        mut each: impl FnMut(&[u8], Option<&Arc<Row>>),
    ) {
        const CHUNK: usize = 4096;
        let mut keys = keys.into_iter().peekable();
        while keys.peek().is_some() {
            let map = self.partitions[partition as usize].read();
            for key in keys.by_ref().take(CHUNK) {
                if let Some(intent) = map
                    .get(key)
                    .and_then(|s| s.intent.as_ref())
                    .filter(|i| i.txn == txn)
                {
                    each(key, intent.row.as_ref());
                }
            }
        }
    }

    /// Lists rows of a partition for the vacuum to visit.
    fn note_garbage<'k>(&self, partition: u16, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut keys = keys.into_iter().peekable();
        if keys.peek().is_none() {
            return;
        }
        let mut garbage = self.garbage[partition as usize].lock();
        for key in keys {
            if garbage.overflow || garbage.keys.len() >= MAX_GARBAGE_KEYS {
                garbage.overflow = true;
                garbage.keys = Vec::new();
                return;
            }
            garbage.keys.push(Key::from_slice(key));
        }
    }

    /// Takes the vacuum's work list of a partition.
    pub fn take_garbage(&self, partition: u16) -> GarbageWork {
        let garbage = std::mem::take(&mut *self.garbage[partition as usize].lock());
        if garbage.overflow {
            GarbageWork::WholePartition
        } else if garbage.keys.is_empty() {
            GarbageWork::Nothing
        } else {
            GarbageWork::Rows(garbage.keys)
        }
    }

    /// Reclaims versions older than `oldest_snapshot` in the listed rows of
    /// a partition; rows an open snapshot still needs are listed again.
    pub fn vacuum_rows(&self, partition: u16, keys: &[Key], oldest_snapshot: Ts) {
        for chunk in keys.chunks(VACUUM_CHUNK) {
            self.vacuum_slots(partition, oldest_snapshot, |map, visit| {
                for key in chunk {
                    if let Some(slot) = map.get_mut(key.as_slice()) {
                        visit(key, slot);
                    }
                }
                None
            });
        }
    }

    /// Reclaims versions older than `oldest_snapshot` in up to `limit` slots
    /// of a partition, starting at `from`; returns where to continue.
    pub fn vacuum_chunk(
        &self,
        partition: u16,
        from: Option<&[u8]>,
        oldest_snapshot: Ts,
        limit: usize,
    ) -> Option<Key> {
        self.vacuum_slots(partition, oldest_snapshot, |map, visit| {
            let start: Bound<&[u8]> = from.map_or(Bound::Unbounded, Bound::Included);
            for (n, (k, slot)) in map
                .range_mut::<[u8], _>((start, Bound::Unbounded))
                .enumerate()
            {
                if n >= limit {
                    return Some(k.clone());
                }
                visit(k, slot);
            }
            None
        })
    }

    /// Runs `walk` over a partition under its write lock; `walk` calls
    /// `visit` on each slot to vacuum. Dead slots are removed, rows with
    /// leftover garbage listed again, and index entries of removed images
    /// dropped after the lock is released.
    fn vacuum_slots(
        &self,
        partition: u16,
        oldest_snapshot: Ts,
        walk: impl FnOnce(&mut PartitionMap, &mut dyn FnMut(&Key, &mut Slot)) -> Option<Key>,
    ) -> Option<Key> {
        let mut cleanup: Vec<(Key, RowImages, RowImages)> = Vec::new();
        let mut leftovers: Vec<Key> = Vec::new();
        let mut dead: Vec<Key> = Vec::new();
        let next = {
            let mut map = self.partitions[partition as usize].write();
            let next = walk(&mut map, &mut |key, slot| {
                if slot.intent.is_some() {
                    // Its commit or rollback decides; look again later.
                    if slot.versions.len() > 1
                        || slot.versions.last().is_some_and(|v| v.row.is_none())
                    {
                        leftovers.push(key.clone());
                    }
                    return;
                }
                let done = slot.vacuum(oldest_snapshot);
                if done.leftover {
                    leftovers.push(key.clone());
                }
                if done.dead {
                    dead.push(key.clone());
                }
                if !done.removed.is_empty() {
                    let remaining = if done.dead { Vec::new() } else { slot.images() };
                    cleanup.push((key.clone(), done.removed, remaining));
                }
            });
            for k in &dead {
                map.remove(k);
            }
            next
        };
        self.note_garbage(partition, leftovers.iter().map(|k| k.as_slice()));
        for (k, removed, remaining) in cleanup {
            self.drop_index_entries(&k, &removed, &remaining);
        }
        next
    }

    /// Removes index entries of `gone` row images that no remaining image of
    /// the row shares.
    pub fn drop_index_entries(&self, row_key: &[u8], gone: &[Arc<Row>], remaining: &[Arc<Row>]) {
        for index in self.indexes().iter() {
            let keep: BTreeSet<Key> = remaining.iter().map(|r| index.key_of(r)).collect();
            for row in gone {
                let k = index.key_of(row);
                if !keep.contains(&k) {
                    index.remove(k, row_key.into());
                }
            }
        }
    }

    /// Inserts a committed row into a table nobody else sees yet (a table
    /// being rewritten); false if a row with this key is already there.
    /// Index entries are left to [`TableStore::build_index`].
    pub fn insert_committed(&self, partition: u16, key: Key, row: Arc<Row>) -> bool {
        let mut map = self.partitions[partition as usize].write();
        match map.entry(key) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(Slot {
                    versions: vec![Version {
                        ts: 1,
                        row: Some(row),
                    }],
                    intent: None,
                });
                true
            }
        }
    }

    /// Applies a replayed (already committed) change during recovery.
    pub fn replay_put(&self, partition: u16, key: Key, row: Option<Arc<Row>>) {
        let mut map = self.partitions[partition as usize].write();
        let old = match &row {
            Some(new) => {
                let slot = Slot {
                    versions: vec![Version {
                        ts: 1,
                        row: Some(new.clone()),
                    }],
                    intent: None,
                };
                match map.entry(key.clone()) {
                    Entry::Occupied(mut e) => Some(std::mem::replace(e.get_mut(), slot)),
                    Entry::Vacant(e) => {
                        e.insert(slot);
                        None
                    }
                }
            }
            None => map.remove(&key),
        };
        drop(map);
        let old_row = old.and_then(|s| s.versions.into_iter().last().and_then(|v| v.row));
        for index in self.indexes().iter() {
            if let Some(old) = &old_row {
                index.remove(index.key_of(old), key.clone());
            }
            if let Some(new) = &row {
                index.insert(index.key_of(new), key.clone(), partition);
            }
        }
    }

    /// Builds an index's entries from every row image currently stored.
    pub fn build_index(&self, index: &IndexStore) {
        for (p, part) in self.partitions.iter().enumerate() {
            let map = part.read();
            for (k, slot) in map.iter() {
                let images = slot
                    .versions
                    .iter()
                    .filter_map(|v| v.row.as_ref())
                    .chain(slot.intent.iter().filter_map(|i| i.row.as_ref()));
                for row in images {
                    index.insert(index.key_of(row), k.clone(), p as u16);
                }
            }
        }
    }

    /// Number of row slots (live or not) across partitions.
    pub fn slot_count(&self) -> usize {
        self.partitions.iter().map(|p| p.read().len()).sum()
    }
}

/// Drops versions no snapshot at or after `oldest` can see; returns the row
/// images dropped.
fn prune(versions: &mut Vec<Version>, oldest: Ts) -> Vec<Arc<Row>> {
    let keep_from = match versions.iter().rposition(|v| v.ts <= oldest) {
        Some(i) => i,
        None => return Vec::new(),
    };
    if keep_from == 0 {
        return Vec::new();
    }
    versions.drain(..keep_from).filter_map(|v| v.row).collect()
}

/// The smallest byte string greater than every string starting with
/// `prefix` (`None` when there is none).
pub fn prefix_successor(prefix: &[u8]) -> Option<Key> {
    let mut v = prefix.to_vec();
    while let Some(last) = v.pop() {
        if last < 0xff {
            v.push(last + 1);
            return Some(key_from_vec(v));
        }
    }
    None
}

/// Converts bounds on a leading key column (encoded as prefixes) into
/// bounds on whole keys.
pub fn prefix_bounds(
    lower: Option<(Key, bool)>,
    upper: Option<(Key, bool)>,
) -> (Bound<Key>, Bound<Key>) {
    let lo = match lower {
        None => Bound::Unbounded,
        Some((p, true)) => Bound::Included(p),
        Some((p, false)) => match prefix_successor(&p) {
            Some(s) => Bound::Included(s),
            None => Bound::Excluded(p),
        },
    };
    let hi = match upper {
        None => Bound::Unbounded,
        Some((p, false)) => Bound::Excluded(p),
        Some((p, true)) => match prefix_successor(&p) {
            Some(s) => Bound::Excluded(s),
            None => Bound::Unbounded,
        },
    };
    (lo, hi)
}

/// Row key of a hidden row id (tables without a primary key).
pub fn row_id_key(id: u64) -> Key {
    let mut k = Key::new();
    k.push(0x01);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The hidden row id in a row key made by [`row_id_key`].
pub fn row_id_of(key: &[u8]) -> Option<u64> {
    if key.len() == 9 && key[0] == 0x01 {
        Some(u64::from_be_bytes(key[1..].try_into().ok()?))
    } else {
        None
    }
}

pub fn key_of(values: &[Value]) -> Key {
    let mut out = Vec::with_capacity(16);
    encode_key(values, &mut out);
    key_from_vec(out)
}

/// A key from encoded bytes: inline when short, otherwise in an
/// allocation of exactly its length.
pub fn key_from_vec(mut bytes: Vec<u8>) -> Key {
    if bytes.len() <= 16 {
        Key::from_slice(&bytes)
    } else {
        bytes.shrink_to_fit();
        Key::from_vec(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ColumnDef, IndexDef, TableDef};
    use crate::types::DataType;

    fn table() -> (TableDef, TableStore) {
        let col = |name: &str| ColumnDef {
            name: name.into(),
            data_type: DataType::Int4,
            not_null: false,
            default: None,
            identity: None,
        };
        let def = TableDef {
            oid: 1,
            name: "t".into(),
            columns: vec![col("id"), col("v")],
            primary_key: vec![0],
            pk_name: None,
            indexes: vec![IndexDef {
                oid: 2,
                name: "t_v".into(),
                columns: vec![1],
                unique: false,
                primary: false,
                constraint: false,
            }],
            checks: vec![],
            partition_key: vec![0],
            owned_sequences: vec![],
            owner: "joltdb".into(),
            acl: None,
            column_acl: Default::default(),
            view: None,
            foreign_keys: vec![],
        };
        let store = TableStore::new(&def, 1);
        (def, store)
    }

    /// Writes `row` (or deletes, when None) at `id` as transaction `txn` and
    /// commits it at `ts`.
    fn commit(store: &TableStore, id: i32, row: Option<Row>, txn: TxnId, ts: Ts, oldest: Ts) {
        let key = key_of(&[Value::Int4(id)]);
        let kind = if row.is_none() {
            WriteKind::Delete
        } else {
            WriteKind::Update
        };
        let ctx = WriteCtx {
            txn,
            snapshot: ts - 1,
            snapshot_isolation: false,
        };
        let row = row.map(Arc::new);
        let kind = match (kind, store.get(0, &key, ts - 1, txn)) {
            (WriteKind::Update, None) => WriteKind::Insert,
            (k, _) => k,
        };
        assert!(matches!(
            store.write(0, &key, row.clone(), kind, ctx).unwrap(),
            WriteOutcome::Written { .. }
        ));
        if let Some(r) = &row {
            for idx in store.indexes().iter() {
                idx.insert(idx.key_of(r), key.clone(), 0);
            }
        }
        store.apply_commit(0, &key, txn, ts, oldest);
    }

    #[test]
    fn vacuum_reclaims_versions_no_snapshot_sees() {
        let (_, store) = table();
        let row = |id: i32, v: i32| vec![Value::Int4(id), Value::Int4(v)];
        // An old snapshot (ts 1) keeps every version alive at commit time.
        commit(&store, 1, Some(row(1, 10)), 100, 2, 1);
        commit(&store, 1, Some(row(1, 11)), 101, 3, 1);
        commit(&store, 2, Some(row(2, 20)), 102, 4, 1);
        commit(&store, 2, None, 103, 5, 1);
        assert_eq!(store.slot_count(), 2);
        assert_eq!(store.indexes()[0].entries.read().len(), 3);

        // While the snapshot at ts 1 is open, nothing may go.
        let GarbageWork::Rows(listed) = store.take_garbage(0) else {
            panic!("the updated and the deleted row are listed");
        };
        store.vacuum_rows(0, &listed, 1);
        assert_eq!(store.slot_count(), 2);
        let GarbageWork::Rows(again) = store.take_garbage(0) else {
            panic!("garbage left behind must be revisited");
        };

        // Once it closed: the old version of row 1, the deleted row 2 and
        // their index entries are gone; what is visible stays.
        store.vacuum_rows(0, &again, 5);
        assert_eq!(store.slot_count(), 1);
        assert!(matches!(store.take_garbage(0), GarbageWork::Nothing));
        let key1 = key_of(&[Value::Int4(1)]);
        let map = store.partitions[0].read();
        assert_eq!(map.get(&key1).unwrap().versions.len(), 1);
        drop(map);
        assert_eq!(store.get(0, &key1, 5, 0).unwrap()[1], Value::Int4(11));
        assert_eq!(store.indexes()[0].entries.read().len(), 1);
    }

    #[test]
    fn a_rows_place_is_its_key_and_its_partition_keys_hash() {
        let (mut def, _) = table();
        let store = TableStore::new(&def, 7);
        let place = |def: &TableDef, row: &[Value]| {
            let pk: Vec<Value> = def.primary_key.iter().map(|&c| row[c].clone()).collect();
            let part: Vec<Value> = def.partition_key.iter().map(|&c| row[c].clone()).collect();
            (key_of(&pk), store.partition_for(&part))
        };
        for id in 0..50 {
            let row = vec![Value::Int4(id), Value::Int4(1000 - id)];
            assert_eq!(store.place_existing(&def, &row), place(&def, &row));
            def.partition_key = vec![1];
            assert_eq!(store.place_existing(&def, &row), place(&def, &row));
            def.primary_key = vec![1, 0];
            assert_eq!(store.place_existing(&def, &row), place(&def, &row));
            def.primary_key = vec![0];
            def.partition_key = vec![0];
        }
    }

    #[test]
    fn vacuum_scans_the_partition_once_the_row_list_overflows() {
        let (_, store) = table();
        let row = |id: i32, v: i32| vec![Value::Int4(id), Value::Int4(v)];
        commit(&store, 1, Some(row(1, 10)), 100, 2, 1);
        commit(&store, 1, Some(row(1, 11)), 101, 3, 1);
        store.garbage[0].lock().overflow = true;
        assert!(matches!(store.take_garbage(0), GarbageWork::WholePartition));
        assert!(store.vacuum_chunk(0, None, 3, VACUUM_CHUNK).is_none());
        let key1 = key_of(&[Value::Int4(1)]);
        assert_eq!(store.partitions[0].read()[&key1].versions.len(), 1);
        assert!(matches!(store.take_garbage(0), GarbageWork::Nothing));
    }
}
