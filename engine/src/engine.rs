//! The engine's shared state for one data directory: the catalog, table
//! storage, transaction manager and partition logs; opening (with crash
//! recovery), DDL and sequences.

use crate::catalog::{
    self, CatalogData, CatalogSnapshot, ColumnDef, IndexDef, Sequence, SequenceDef, SequenceState,
    Table, TableDef, CATALOG_FORMAT_VERSION, FIRST_USER_OID,
};
use crate::error::{Error, Result, SqlState};
use crate::session::EngineConfig;
use crate::sql::binder::bind_table_check;
use crate::sql::plan::CreateTablePlan;
use crate::storage::{row_id_of, IndexStore, TableStore};
use crate::txn::{CommitRecord, TxnManager};
use crate::types::DataType;
use crate::wal::file::{FileLog, FileLogOptions};
use crate::wal::PartitionLog;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub const SERVER_VERSION: &str = "15.0";
pub const SERVER_VERSION_NUM: &str = "150000";

pub fn version_string() -> String {
    format!(
        "PostgreSQL {SERVER_VERSION} (joltdb {}) on {}-linux, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

/// How many sequence values are reserved (and persisted) at a time.
const SEQUENCE_RESERVE: i64 = 100;

pub struct EngineInner {
    pub data_dir: PathBuf,
    pub partitions: usize,
    catalog: RwLock<Arc<CatalogSnapshot>>,
    /// The persisted form of the catalog; its lock also serialises DDL.
    catalog_data: Mutex<CatalogData>,
    pub txns: Arc<TxnManager>,
    pub logs: Vec<Arc<dyn PartitionLog>>,
    /// The role store, when the server has one (the system catalogs list
    /// its roles).
    roles: std::sync::OnceLock<joltdb_auth::RoleStore>,
    pub started: chrono::DateTime<chrono::Utc>,
    _lock: File,
}

fn duplicate_relation(name: &str) -> Error {
    Error::new(
        SqlState::DUPLICATE_TABLE,
        format!("relation \"{name}\" already exists"),
    )
}

fn build_table(
    def: TableDef,
    store: Option<Arc<TableStore>>,
    partitions: usize,
) -> Result<Arc<Table>> {
    let checks = def
        .checks
        .iter()
        .map(|c| Ok((c.name.clone(), bind_table_check(&def, &c.expr)?)))
        .collect::<Result<Vec<_>>>()?;
    let store = store.unwrap_or_else(|| Arc::new(TableStore::new(&def, partitions)));
    Ok(Arc::new(Table {
        def: Arc::new(def),
        store,
        checks,
    }))
}

fn sequence_from(def: &SequenceDef) -> Arc<Sequence> {
    let state = match def.reserved_until {
        Some(r) => SequenceState {
            last: r,
            called: true,
            reserved_until: Some(r),
        },
        None => SequenceState {
            last: def.start,
            called: false,
            reserved_until: None,
        },
    };
    Arc::new(Sequence {
        def: def.clone(),
        state: Mutex::new(state),
    })
}

impl EngineInner {
    pub fn open(config: &EngineConfig) -> Result<Arc<EngineInner>> {
        let dir = &config.data_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating data directory {}", dir.display()), e))?;
        let lock_path = dir.join("joltdb.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(format!("opening {}", lock_path.display()), e))?;
        if lock.try_lock().is_err() {
            return Err(Error::new(
                SqlState("55006"),
                format!(
                    "data directory {} is in use by another joltdb process",
                    dir.display()
                ),
            ));
        }
        let data = match catalog::load(dir)? {
            Some(d) => d,
            None => {
                let d = CatalogData {
                    format_version: CATALOG_FORMAT_VERSION,
                    partitions: config.partitions.clamp(1, 1024),
                    next_oid: FIRST_USER_OID,
                    tables: BTreeMap::new(),
                    sequences: BTreeMap::new(),
                };
                catalog::save(dir, &d)?;
                d
            }
        };
        let partitions = data.partitions;
        let mut logs: Vec<Arc<dyn PartitionLog>> = Vec::with_capacity(partitions);
        for p in 0..partitions {
            let log = FileLog::open(
                &dir.join("wal").join(format!("p{p:04}")),
                FileLogOptions {
                    segment_size: config.wal_segment_size,
                },
            )?;
            logs.push(Arc::new(log));
        }
        let mut tables = BTreeMap::new();
        for def in data.tables.values() {
            tables.insert(
                def.name.clone(),
                build_table(def.clone(), None, partitions)?,
            );
        }
        let sequences = data
            .sequences
            .values()
            .map(|s| (s.name.clone(), sequence_from(s)))
            .collect();
        let snapshot = CatalogSnapshot {
            version: 1,
            tables,
            sequences,
        };
        let engine = EngineInner {
            data_dir: dir.clone(),
            partitions,
            catalog: RwLock::new(Arc::new(snapshot)),
            catalog_data: Mutex::new(data),
            txns: Arc::new(TxnManager::default()),
            logs,
            roles: std::sync::OnceLock::new(),
            started: chrono::Utc::now(),
            _lock: lock,
        };
        engine.recover()?;
        Ok(Arc::new(engine))
    }

    /// Replays the partition logs: a transaction's records are applied only
    /// when every participant partition holds one.
    fn recover(&self) -> Result<()> {
        let mut per_partition: Vec<Vec<CommitRecord>> = Vec::with_capacity(self.partitions);
        let mut holders: HashMap<u64, HashSet<u16>> = HashMap::new();
        for (p, log) in self.logs.iter().enumerate() {
            let mut recs = Vec::new();
            for r in log.read_from(1)? {
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
        let snap = self.catalog();
        let by_oid: HashMap<u32, &Arc<Table>> =
            snap.tables.values().map(|t| (t.def.oid, t)).collect();
        let mut applied = 0usize;
        let mut skipped = 0usize;
        let mut max_txn = 0u64;
        for (p, recs) in per_partition.into_iter().enumerate() {
            for rec in recs {
                max_txn = max_txn.max(rec.txn);
                let complete = rec
                    .participants
                    .iter()
                    .all(|q| holders.get(&rec.txn).is_some_and(|h| h.contains(q)));
                if !complete {
                    skipped += 1;
                    continue;
                }
                applied += 1;
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
        self.txns.advance_txn_ids(max_txn + 1);
        if applied + skipped > 0 {
            tracing::info!(
                "recovered {applied} transaction records from the partition logs ({skipped} incomplete multi-partition records discarded)"
            );
        }
        Ok(())
    }

    /// Starts the background thread that reclaims row versions no snapshot
    /// can see any more. It stops when the engine is dropped.
    pub fn start_vacuum(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("joltdb-vacuum".into())
            .spawn(move || loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
                let Some(engine) = weak.upgrade() else { return };
                engine.vacuum_pass();
            });
        if let Err(e) = spawned {
            tracing::warn!("could not start the vacuum thread: {e}");
        }
    }

    /// One pass over every table partition, a chunk at a time so writers
    /// are never held up for long.
    pub fn vacuum_pass(&self) {
        let catalog = self.catalog();
        for table in catalog.tables.values() {
            for p in 0..table.store.partition_count() {
                if !table.store.take_garbage_mark(p as u16) {
                    continue;
                }
                let mut from: Option<crate::storage::Key> = None;
                loop {
                    let oldest = self.txns.oldest_snapshot();
                    from = table
                        .store
                        .vacuum_chunk(p as u16, from.as_deref(), oldest, 512);
                    if from.is_none() {
                        break;
                    }
                }
            }
        }
    }

    /// The role store, if one was attached.
    pub fn roles(&self) -> Option<&joltdb_auth::RoleStore> {
        self.roles.get()
    }

    /// Attaches the role store (once; later calls are ignored).
    pub fn attach_roles(&self, roles: joltdb_auth::RoleStore) {
        let _ = self.roles.set(roles);
    }

    pub fn catalog(&self) -> Arc<CatalogSnapshot> {
        self.catalog.read().clone()
    }

    /// Applies a catalog change: persist, then publish a new snapshot.
    fn publish(&self, data: &CatalogData, change: impl FnOnce(&mut CatalogSnapshot)) -> Result<()> {
        catalog::save(&self.data_dir, data)?;
        let mut cur = self.catalog.write();
        let mut next = (**cur).clone();
        next.version += 1;
        change(&mut next);
        *cur = Arc::new(next);
        Ok(())
    }

    fn relation_exists(data: &CatalogData, name: &str) -> bool {
        data.tables.contains_key(name)
            || data.sequences.contains_key(name)
            || data.tables.values().any(|t| {
                t.indexes.iter().any(|i| i.name == name) || t.pk_name.as_deref() == Some(name)
            })
    }

    /// Returns false when the table existed and IF NOT EXISTS was given.
    pub fn create_table(&self, plan: &CreateTablePlan) -> Result<bool> {
        let mut data = self.catalog_data.lock();
        if data.tables.contains_key(&plan.name) || Self::relation_exists(&data, &plan.name) {
            if plan.if_not_exists {
                return Ok(false);
            }
            return Err(duplicate_relation(&plan.name));
        }
        let mut new_data = data.clone();
        let oid = new_data.next_oid;
        new_data.next_oid += 1;
        let mut columns = Vec::new();
        let mut sequences = Vec::new();
        for c in &plan.columns {
            let mut default = c.default.clone();
            if c.serial || c.identity.is_some() {
                let seq_name = format!("{}_{}_seq", plan.name, c.name);
                if Self::relation_exists(&new_data, &seq_name) {
                    return Err(duplicate_relation(&seq_name));
                }
                let max = match c.data_type {
                    DataType::Int2 => i16::MAX as i64,
                    DataType::Int4 => i32::MAX as i64,
                    _ => i64::MAX,
                };
                let seq = SequenceDef {
                    oid: new_data.next_oid,
                    name: seq_name.clone(),
                    increment: 1,
                    min_value: 1,
                    max_value: max,
                    start: 1,
                    data_type: c.data_type,
                    reserved_until: None,
                };
                new_data.next_oid += 1;
                new_data.sequences.insert(seq_name.clone(), seq.clone());
                sequences.push(seq);
                default = Some(format!("nextval('{seq_name}')"));
            }
            columns.push(ColumnDef {
                name: c.name.clone(),
                data_type: c.data_type,
                not_null: c.not_null,
                default,
                identity: c.identity.clone(),
            });
        }
        let partition_key = match &plan.partition_by {
            Some(cols) => {
                if !plan.primary_key.is_empty()
                    && !cols.iter().all(|c| plan.primary_key.contains(c))
                {
                    return Err(Error::new(
                        SqlState::INVALID_TABLE_DEFINITION,
                        "unique constraint on partitioned table must include all partitioning columns",
                    )
                    .with_detail(format!(
                        "PRIMARY KEY constraint on table \"{}\" lacks a partitioning column.",
                        plan.name
                    )));
                }
                if plan.primary_key.is_empty() {
                    return Err(Error::unsupported(
                        "PARTITION BY HASH needs a primary key that contains the partition columns",
                    ));
                }
                cols.clone()
            }
            None => plan
                .primary_key
                .first()
                .map(|c| vec![*c])
                .unwrap_or_default(),
        };
        let pk_name = if plan.primary_key.is_empty() {
            None
        } else {
            let n = plan
                .pk_name
                .clone()
                .unwrap_or_else(|| format!("{}_pkey", plan.name));
            if Self::relation_exists(&new_data, &n) {
                return Err(duplicate_relation(&n));
            }
            Some(n)
        };
        let mut indexes: Vec<IndexDef> = Vec::new();
        for (name, cols) in &plan.uniques {
            if *cols == plan.primary_key {
                continue;
            }
            let n = name.clone().unwrap_or_else(|| {
                let names: Vec<&str> = cols
                    .iter()
                    .map(|&c| plan.columns[c].name.as_str())
                    .collect();
                format!("{}_{}_key", plan.name, names.join("_"))
            });
            if Self::relation_exists(&new_data, &n) || indexes.iter().any(|i| i.name == n) {
                return Err(duplicate_relation(&n));
            }
            indexes.push(IndexDef {
                oid: new_data.next_oid,
                name: n,
                columns: cols.clone(),
                unique: true,
                primary: false,
                constraint: true,
            });
            new_data.next_oid += 1;
        }
        let mut checks = Vec::new();
        for (i, (name, expr)) in plan.checks.iter().enumerate() {
            let n = name.clone().unwrap_or_else(|| {
                let base = format!("{}_check", plan.name);
                if i == 0 {
                    base
                } else {
                    format!("{base}{i}")
                }
            });
            checks.push(crate::catalog::CheckDef {
                name: n,
                expr: expr.clone(),
            });
        }
        let def = TableDef {
            oid,
            name: plan.name.clone(),
            columns,
            primary_key: plan.primary_key.clone(),
            pk_name,
            indexes,
            checks,
            partition_key,
            owned_sequences: sequences.iter().map(|s| s.name.clone()).collect(),
        };
        let table = build_table(def.clone(), None, self.partitions)?;
        new_data.tables.insert(plan.name.clone(), def);
        self.publish(&new_data, |snap| {
            snap.tables.insert(plan.name.clone(), table);
            for s in &sequences {
                snap.sequences.insert(s.name.clone(), sequence_from(s));
            }
        })?;
        *data = new_data;
        Ok(true)
    }

    /// Drops tables; returns the names that did not exist (for notices).
    pub fn drop_tables(&self, names: &[String], if_exists: bool) -> Result<Vec<String>> {
        let mut data = self.catalog_data.lock();
        let mut missing = Vec::new();
        for n in names {
            if !data.tables.contains_key(n) {
                if if_exists {
                    missing.push(n.clone());
                } else {
                    return Err(Error::new(
                        SqlState::UNDEFINED_TABLE,
                        format!("table \"{n}\" does not exist"),
                    ));
                }
            }
        }
        let mut new_data = data.clone();
        let mut dropped_seqs = Vec::new();
        for n in names {
            if let Some(def) = new_data.tables.remove(n) {
                for s in def.owned_sequences {
                    new_data.sequences.remove(&s);
                    dropped_seqs.push(s);
                }
            }
        }
        self.publish(&new_data, |snap| {
            for n in names {
                snap.tables.remove(n);
            }
            for s in &dropped_seqs {
                snap.sequences.remove(s);
            }
        })?;
        *data = new_data;
        Ok(missing)
    }

    pub fn create_index(
        &self,
        name: Option<String>,
        table: &str,
        columns: &[String],
        unique: bool,
        if_not_exists: bool,
    ) -> Result<bool> {
        let mut data = self.catalog_data.lock();
        let Some(def) = data.tables.get(table).cloned() else {
            return Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{table}\" does not exist"),
            ));
        };
        let mut cols = Vec::new();
        for c in columns {
            cols.push(def.column_index(c).ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{c}\" does not exist"),
                )
            })?);
        }
        let name = name.unwrap_or_else(|| {
            let base = format!(
                "{}_{}_{}",
                table,
                columns.join("_"),
                if unique { "key" } else { "idx" }
            );
            let mut n = base.clone();
            let mut i = 1;
            while Self::relation_exists(&data, &n) {
                n = format!("{base}{i}");
                i += 1;
            }
            n
        });
        if Self::relation_exists(&data, &name) {
            if if_not_exists {
                return Ok(false);
            }
            return Err(duplicate_relation(&name));
        }
        let mut new_data = data.clone();
        let idef = IndexDef {
            oid: new_data.next_oid,
            name: name.clone(),
            columns: cols,
            unique,
            primary: false,
            constraint: false,
        };
        new_data.next_oid += 1;
        let snap = self.catalog();
        let old = snap.table(table)?.clone();
        let index = Arc::new(IndexStore {
            def: idef.clone(),
            entries: RwLock::new(BTreeMap::new()),
        });
        old.store.build_index(&index);
        if unique {
            self.check_unique_build(&old, &index)?;
        }
        {
            let mut list = old.store.indexes.write();
            let mut v = (**list).clone();
            v.push(index);
            *list = Arc::new(v);
        }
        let mut new_def = def;
        new_def.indexes.push(idef);
        new_data.tables.insert(table.to_string(), new_def.clone());
        let table_obj = build_table(new_def, Some(old.store.clone()), self.partitions)?;
        let res = self.publish(&new_data, |snap| {
            snap.tables.insert(table.to_string(), table_obj);
        });
        if let Err(e) = res {
            let mut list = old.store.indexes.write();
            let v: Vec<_> = list
                .iter()
                .filter(|i| i.def.name != name)
                .cloned()
                .collect();
            *list = Arc::new(v);
            return Err(e);
        }
        *data = new_data;
        Ok(true)
    }

    fn check_unique_build(&self, table: &Table, index: &IndexStore) -> Result<()> {
        let entries = index.entries.read();
        let mut last: Option<&[u8]> = None;
        for ((k, rk), p) in entries.iter() {
            let map = table.store.partitions[*p as usize].read();
            let live = map
                .get(rk)
                .and_then(|s| s.versions.last())
                .and_then(|v| v.row.as_ref())
                .is_some_and(|r| &index.key_of(r) == k && !index.key_has_null(r));
            if !live {
                continue;
            }
            if last == Some(&**k) {
                return Err(Error::new(
                    SqlState::UNIQUE_VIOLATION,
                    format!("could not create unique index \"{}\"", index.def.name),
                )
                .with_detail("Key is duplicated."));
            }
            last = Some(k);
        }
        Ok(())
    }

    /// Drops indexes; returns the names that did not exist (for notices).
    pub fn drop_indexes(&self, names: &[String], if_exists: bool) -> Result<Vec<String>> {
        let mut data = self.catalog_data.lock();
        let mut new_data = data.clone();
        let mut changed = Vec::new();
        let mut missing = Vec::new();
        for n in names {
            let owner = new_data
                .tables
                .values()
                .find(|t| t.indexes.iter().any(|i| &i.name == n))
                .map(|t| t.name.clone());
            match owner {
                Some(t) => {
                    let def = new_data.tables.get_mut(&t).unwrap();
                    def.indexes.retain(|i| &i.name != n);
                    changed.push((t, n.clone()));
                }
                None => {
                    if new_data
                        .tables
                        .values()
                        .any(|t| t.pk_name.as_deref() == Some(n.as_str()))
                    {
                        return Err(Error::new(
                            SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                            format!("cannot drop index {n} because constraint {n} on its table requires it"),
                        ));
                    }
                    if !if_exists {
                        return Err(Error::new(
                            SqlState::UNDEFINED_OBJECT,
                            format!("index \"{n}\" does not exist"),
                        ));
                    }
                    missing.push(n.clone());
                }
            }
        }
        let snap = self.catalog();
        let mut rebuilt = Vec::new();
        for (t, _) in &changed {
            let old = snap.table(t)?;
            let def = new_data.tables[t].clone();
            rebuilt.push((
                t.clone(),
                build_table(def, Some(old.store.clone()), self.partitions)?,
            ));
        }
        self.publish(&new_data, |s| {
            for (t, table) in rebuilt {
                s.tables.insert(t, table);
            }
        })?;
        for (t, n) in &changed {
            let store = &snap.table(t)?.store;
            let mut list = store.indexes.write();
            let v: Vec<_> = list.iter().filter(|i| &i.def.name != n).cloned().collect();
            *list = Arc::new(v);
        }
        *data = new_data;
        Ok(missing)
    }

    pub fn sequence(&self, name: &str) -> Result<Arc<Sequence>> {
        self.catalog().sequences.get(name).cloned().ok_or_else(|| {
            Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{name}\" does not exist"),
            )
        })
    }

    /// Persists that values up to `until` may be in use.
    fn reserve(&self, name: &str, until: i64) -> Result<()> {
        let mut data = self.catalog_data.lock();
        let mut new_data = data.clone();
        if let Some(s) = new_data.sequences.get_mut(name) {
            s.reserved_until = Some(until);
        }
        catalog::save(&self.data_dir, &new_data)?;
        *data = new_data;
        Ok(())
    }

    pub fn nextval(&self, name: &str) -> Result<i64> {
        let seq = self.sequence(name)?;
        let mut st = seq.state.lock();
        let next = if st.called {
            st.last
                .checked_add(seq.def.increment)
                .filter(|v| *v <= seq.def.max_value)
                .ok_or_else(|| {
                    Error::new(
                        SqlState("2200H"),
                        format!(
                            "nextval: reached maximum value of sequence \"{name}\" ({})",
                            seq.def.max_value
                        ),
                    )
                })?
        } else {
            st.last
        };
        if st.reserved_until.is_none_or(|r| next > r) {
            let until = next.saturating_add(SEQUENCE_RESERVE);
            self.reserve(name, until)?;
            st.reserved_until = Some(until);
        }
        st.last = next;
        st.called = true;
        Ok(next)
    }

    pub fn setval(&self, name: &str, value: i64, called: bool) -> Result<()> {
        let seq = self.sequence(name)?;
        if value < seq.def.min_value || value > seq.def.max_value {
            return Err(Error::new(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                format!(
                    "setval: value {value} is out of bounds for sequence \"{name}\" ({}..{})",
                    seq.def.min_value, seq.def.max_value
                ),
            ));
        }
        let mut st = seq.state.lock();
        let until = value.saturating_add(SEQUENCE_RESERVE);
        self.reserve(name, until)?;
        st.reserved_until = Some(until);
        st.last = value;
        st.called = called;
        Ok(())
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}
