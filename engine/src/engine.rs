//! The engine's shared state for one data directory: the catalog, table
//! storage, transaction manager and partition logs; opening (with crash
//! recovery), DDL and sequences.

use crate::catalog::{
    self, CatalogData, CatalogSnapshot, ColumnDef, IndexDef, Sequence, SequenceDef, SequenceState,
    Table, TableDef, CATALOG_FORMAT_VERSION, FIRST_USER_OID,
};
use crate::checkpoint::Checkpointer;
use crate::error::{Error, Result, SqlState};
use crate::session::EngineConfig;
use crate::sql::binder::bind_table_check;
use crate::sql::plan::CreateTablePlan;
use crate::storage::{GarbageWork, IndexStore, TableStore, VACUUM_CHUNK};
use crate::txn::TxnManager;
use crate::types::DataType;
use crate::wal::file::{FileLog, FileLogOptions};
use crate::wal::PartitionLog;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod alter;
mod foreign_key;
mod sequence;
mod view;
pub use alter::Evaluator;
pub use foreign_key::NewForeignKey;
pub use view::NewView;

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
    pub(crate) catalog_data: Mutex<CatalogData>,
    pub txns: Arc<TxnManager>,
    pub logs: Vec<Arc<dyn PartitionLog>>,
    pub checkpointer: Checkpointer,
    /// Where backup names resolve.
    pub backup_dir: PathBuf,
    /// Roles, shared with the server's authentication.
    pub roles: joltdb_auth::RoleStore,
    /// Per-statement memory limit in bytes (0 = unlimited).
    pub query_memory_limit: std::sync::atomic::AtomicUsize,
    /// When this engine was opened (pg_postmaster_start_time).
    pub started: chrono::DateTime<chrono::Utc>,
    /// Which database of the data directory this engine is, once the
    /// server's list of databases has taken it in.
    pub(crate) database: std::sync::OnceLock<crate::databases::Membership>,
    _lock: File,
}

pub(crate) fn duplicate_relation(name: &str) -> Error {
    Error::new(
        SqlState::DUPLICATE_TABLE,
        format!("relation \"{name}\" already exists"),
    )
}

pub(crate) fn build_table(
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
        epoch: store.schema_epoch(),
        store,
        checks,
    }))
}

pub(crate) fn sequence_from(def: &SequenceDef) -> Arc<Sequence> {
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

/// Holds off commits of transactions that wrote a table under its current
/// definition while DDL replaces that definition (see
/// `TableStore::schema_epoch`). Kept unless `restore` is called.
#[must_use]
pub(crate) struct SchemaFence {
    store: Arc<TableStore>,
    previous: u64,
}

impl SchemaFence {
    /// The change was not made: writers of the current definition may
    /// commit again.
    pub(crate) fn restore(self) {
        self.store.restore_schema_epoch(self.previous);
    }
}

impl EngineInner {
    /// Moves `store` to a new schema epoch and waits for the commits already
    /// past their epoch check, so that the rows the caller reads next are
    /// every row that will ever commit under the old definition.
    pub(crate) fn fence_writers(&self, store: &Arc<TableStore>) -> SchemaFence {
        let previous = store.bump_schema_epoch();
        crate::sql::exec::run_blocking(true, || self.txns.quiesce());
        SchemaFence {
            store: store.clone(),
            previous,
        }
    }

    pub fn open(config: &EngineConfig) -> Result<Arc<EngineInner>> {
        Self::open_with_roles(config, None)
    }

    /// Opens the data directory; with `roles`, uses that role store
    /// instead of the directory's own (the databases of one server share
    /// their roles).
    pub(crate) fn open_with_roles(
        config: &EngineConfig,
        roles: Option<joltdb_auth::RoleStore>,
    ) -> Result<Arc<EngineInner>> {
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
                    last_change: Vec::new(),
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
        let roles = match roles {
            Some(shared) => shared,
            None => crate::acl::open_roles(dir)?,
        };
        let engine = EngineInner {
            roles,
            query_memory_limit: std::sync::atomic::AtomicUsize::new(
                crate::sql::memory::DEFAULT_QUERY_MEMORY,
            ),
            data_dir: dir.clone(),
            partitions,
            catalog: RwLock::new(Arc::new(snapshot)),
            catalog_data: Mutex::new(data),
            txns: Arc::new(TxnManager::default()),
            logs,
            checkpointer: Checkpointer::new(config.checkpoint.clone()),
            backup_dir: config
                .backup_dir
                .clone()
                .unwrap_or_else(|| dir.join("backups")),
            started: chrono::Utc::now(),
            database: std::sync::OnceLock::new(),
            _lock: lock,
        };
        engine.recover()?;
        crate::catalog_log::log_last_change(&engine)?;
        crate::backup::remove_stale_partials(&engine.backup_dir);
        Ok(Arc::new(engine))
    }

    /// Start-up recovery: the newest usable checkpoint, then the log after
    /// it (see [`crate::checkpoint`]).
    fn recover(&self) -> Result<()> {
        crate::checkpoint::recover(self).map(|_| ())
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
            let store = &table.store;
            for p in 0..store.partition_count() as u16 {
                match store.take_garbage(p) {
                    GarbageWork::Nothing => {}
                    GarbageWork::Rows(mut keys) => {
                        keys.sort_unstable();
                        keys.dedup();
                        store.vacuum_rows(p, &keys, self.txns.oldest_snapshot());
                    }
                    GarbageWork::WholePartition => {
                        let mut from: Option<crate::storage::Key> = None;
                        loop {
                            let oldest = self.txns.oldest_snapshot();
                            from = store.vacuum_chunk(p, from.as_deref(), oldest, VACUUM_CHUNK);
                            if from.is_none() {
                                break;
                            }
                        }
                    }
                }
            }
        }
    }

    pub fn catalog(&self) -> Arc<CatalogSnapshot> {
        self.catalog.read().clone()
    }

    /// Applies a catalog change: persist, then publish a new snapshot.
    pub(crate) fn publish(
        &self,
        data: &CatalogData,
        change: impl FnOnce(&mut CatalogSnapshot),
    ) -> Result<()> {
        crate::catalog_log::save_and_log(self, data)?;
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
    /// The table is owned by the bootstrap superuser.
    pub fn create_table(&self, plan: &CreateTablePlan) -> Result<bool> {
        self.create_table_owned(plan, joltdb_auth::SUPERUSER)
    }

    /// CREATE TABLE on behalf of `owner`, who will own the table.
    pub fn create_table_owned(&self, plan: &CreateTablePlan, owner: &str) -> Result<bool> {
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
                    cycle: false,
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
        let mut def = TableDef {
            oid,
            name: plan.name.clone(),
            columns,
            primary_key: plan.primary_key.clone(),
            pk_name,
            indexes,
            checks,
            partition_key,
            owned_sequences: sequences.iter().map(|s| s.name.clone()).collect(),
            owner: owner.to_string(),
            acl: None,
            column_acl: Default::default(),
            view: None,
            foreign_keys: vec![],
        };
        foreign_key::resolve_all(&new_data, &mut def, &plan.foreign_keys)?;
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
        self.drop_tables_cascade(names, if_exists, false)
            .map(|(missing, _)| missing)
    }

    /// Drops tables, and with `cascade` the views that read them; returns
    /// the names that did not exist and the views dropped along.
    pub fn drop_tables_cascade(
        &self,
        names: &[String],
        if_exists: bool,
        cascade: bool,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let mut data = self.catalog_data.lock();
        let mut missing = Vec::new();
        for n in names {
            if data.tables.get(n).is_some_and(|d| d.is_view()) {
                return Err(Error::new(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("\"{n}\" is not a table"),
                )
                .with_hint("Use DROP VIEW to remove a view."));
            }
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
        let present: Vec<String> = names
            .iter()
            .filter(|n| data.tables.contains_key(*n))
            .cloned()
            .collect();
        let cascaded = view::cascade_views(&data, &present, "table", cascade)?;
        let mut new_data = data.clone();
        let unreferenced = foreign_key::drop_referencing(&mut new_data, &present, cascade)?;
        let snap = self.catalog();
        let mut rebuilt = Vec::new();
        for t in &unreferenced {
            let def = new_data.tables[t].clone();
            let store = snap.table(t)?.store.clone();
            rebuilt.push((t.clone(), build_table(def, Some(store), self.partitions)?));
        }
        let mut dropped_seqs = Vec::new();
        for n in names.iter().chain(&cascaded) {
            if let Some(def) = new_data.tables.remove(n) {
                for s in def.owned_sequences {
                    new_data.sequences.remove(&s);
                    dropped_seqs.push(s);
                }
            }
        }
        self.publish(&new_data, |snap| {
            for n in names.iter().chain(&cascaded) {
                snap.tables.remove(n);
            }
            for s in &dropped_seqs {
                snap.sequences.remove(s);
            }
            for (t, table) in rebuilt {
                snap.tables.insert(t, table);
            }
        })?;
        *data = new_data;
        Ok((missing, cascaded))
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
        if def.is_view() {
            return Err(Error::new(
                SqlState::WRONG_OBJECT_TYPE,
                format!("cannot create index on relation \"{table}\""),
            )
            .with_detail("This operation is not supported for views."));
        }
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
        let fence = self.fence_writers(&old.store);
        let index = Arc::new(IndexStore {
            def: idef.clone(),
            entries: RwLock::new(BTreeMap::new()),
        });
        old.store.build_index(&index);
        if unique {
            if let Err(e) = self.check_unique_build(&old, &index) {
                fence.restore();
                return Err(e);
            }
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
            drop(list);
            fence.restore();
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
                .filter(|r| &index.key_of(r) == k && !index.key_has_null(r));
            let Some(row) = live else {
                continue;
            };
            if last == Some(&**k) {
                let io = crate::types::io::IoContext::default();
                let names: Vec<&str> = index
                    .def
                    .columns
                    .iter()
                    .map(|&c| table.def.columns[c].name.as_str())
                    .collect();
                let vals: Vec<String> = index
                    .def
                    .columns
                    .iter()
                    .map(|&c| crate::types::io::to_text(&row[c], &io))
                    .collect();
                return Err(Error::new(
                    SqlState::UNIQUE_VIOLATION,
                    format!("could not create unique index \"{}\"", index.def.name),
                )
                .with_detail(format!(
                    "Key ({})=({}) is duplicated.",
                    names.join(", "),
                    vals.join(", ")
                )));
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

    /// Changes table definitions in place (owner, ACLs): `change` gets
    /// every table definition and returns whether it changed it. The
    /// changed definitions are persisted and published; rows stay.
    pub fn alter_table_defs(
        &self,
        mut change: impl FnMut(&mut TableDef) -> Result<bool>,
    ) -> Result<()> {
        let mut data = self.catalog_data.lock();
        let mut new_data = data.clone();
        let snap = self.catalog();
        let mut rebuilt = Vec::new();
        for (name, def) in new_data.tables.iter_mut() {
            if change(def)? {
                let old = snap.table(name)?;
                rebuilt.push((
                    name.clone(),
                    build_table(def.clone(), Some(old.store.clone()), self.partitions)?,
                ));
            }
        }
        if rebuilt.is_empty() {
            return Ok(());
        }
        self.publish(&new_data, |s| {
            for (t, table) in rebuilt {
                s.tables.insert(t, table);
            }
        })?;
        *data = new_data;
        Ok(())
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
        let def = &seq.def;
        let mut st = seq.state.lock();
        let ascending = def.increment > 0;
        let (next, wrapped) = if st.called {
            match st
                .last
                .checked_add(def.increment)
                .filter(|v| (def.min_value..=def.max_value).contains(v))
            {
                Some(v) => (v, false),
                None if def.cycle => {
                    if ascending {
                        (def.min_value, true)
                    } else {
                        (def.max_value, true)
                    }
                }
                None => {
                    let (what, bound) = if ascending {
                        ("maximum", def.max_value)
                    } else {
                        ("minimum", def.min_value)
                    };
                    return Err(Error::new(
                        SqlState("2200H"),
                        format!("nextval: reached {what} value of sequence \"{name}\" ({bound})"),
                    ));
                }
            }
        } else {
            (st.last, false)
        };
        // Values up to the reservation are never handed out again after a
        // crash.
        let beyond = |r: i64| if ascending { next > r } else { next < r };
        if wrapped || st.reserved_until.is_none_or(beyond) {
            let until = next
                .saturating_add(SEQUENCE_RESERVE.saturating_mul(def.increment))
                .clamp(def.min_value, def.max_value);
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
