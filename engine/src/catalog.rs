//! The catalog: table, index and sequence definitions. Kept in memory as an
//! immutable snapshot that DDL replaces, and persisted to `catalog.json` in
//! the data directory (written to a temporary name, synced, renamed).

use crate::error::{Error, Result, SqlState};
use crate::storage::TableStore;
use crate::types::DataType;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum IdentityKind {
    Always,
    ByDefault,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    pub not_null: bool,
    /// The DEFAULT expression as SQL text.
    pub default: Option<String>,
    pub identity: Option<IdentityKind>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexDef {
    pub oid: u32,
    pub name: String,
    pub columns: Vec<usize>,
    pub unique: bool,
    pub primary: bool,
    /// Made for a UNIQUE constraint (rather than by CREATE INDEX).
    #[serde(default)]
    pub constraint: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckDef {
    pub name: String,
    pub expr: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TableDef {
    /// Table id and OID (they are the same number).
    pub oid: u32,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Primary key column positions; empty means the table has a hidden
    /// row id.
    pub primary_key: Vec<usize>,
    pub pk_name: Option<String>,
    /// Secondary indexes, including those behind UNIQUE constraints.
    pub indexes: Vec<IndexDef>,
    pub checks: Vec<CheckDef>,
    /// Columns whose hash picks a row's partition (a prefix-free subset of
    /// the primary key; empty means the hidden row id).
    pub partition_key: Vec<usize>,
    /// Sequences owned by columns of this table (serial/identity).
    pub owned_sequences: Vec<String>,
    /// The role that owns the table (its creator unless changed).
    #[serde(default = "default_owner")]
    pub owner: String,
    /// Table privileges; `None` until the first GRANT or REVOKE (the owner
    /// then holds every privilege).
    #[serde(default)]
    pub acl: Option<Vec<crate::acl::AclItem>>,
    /// Column privileges by column name.
    #[serde(default)]
    pub column_acl: crate::acl::ColumnAcls,
    /// Set when this relation is a view (it then has no rows of its own).
    #[serde(default)]
    pub view: Option<ViewDef>,
    /// FOREIGN KEY constraints of this table (it is the referencing side).
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKeyDef>,
}

/// What makes a relation a view: its defining query. The view's columns
/// (names and types) are the relation's `columns`; privileges on the
/// relations the query reads are checked as the view's owner.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ViewDef {
    /// The defining query as SQL text.
    pub query: String,
    /// Names of the tables and views the query reads.
    pub depends_on: Vec<String>,
}

/// What a foreign key does to referencing rows when the referenced row is
/// deleted or its key updated.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ForeignKeyAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl ForeignKeyAction {
    /// PostgreSQL's spelling (`NO ACTION`, `CASCADE`, ...).
    pub fn sql(self) -> &'static str {
        match self {
            ForeignKeyAction::NoAction => "NO ACTION",
            ForeignKeyAction::Restrict => "RESTRICT",
            ForeignKeyAction::Cascade => "CASCADE",
            ForeignKeyAction::SetNull => "SET NULL",
            ForeignKeyAction::SetDefault => "SET DEFAULT",
        }
    }
}

/// A FOREIGN KEY constraint: `columns` of the owning table reference
/// `ref_columns` of `ref_table` (which has a primary key or unique index on
/// exactly those columns).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForeignKeyDef {
    pub name: String,
    pub columns: Vec<usize>,
    pub ref_table: String,
    pub ref_columns: Vec<usize>,
    pub on_delete: ForeignKeyAction,
    pub on_update: ForeignKeyAction,
}

fn default_owner() -> String {
    joltdb_auth::SUPERUSER.to_string()
}

impl TableDef {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn is_view(&self) -> bool {
        self.view.is_some()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SequenceDef {
    pub oid: u32,
    pub name: String,
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    pub start: i64,
    pub data_type: DataType,
    /// CYCLE: wrap around at the end instead of failing.
    #[serde(default)]
    pub cycle: bool,
    /// Values up to this one may have been handed out before a crash; after
    /// a restart the sequence continues above it.
    pub reserved_until: Option<i64>,
}

/// What is persisted.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CatalogData {
    pub format_version: u32,
    pub partitions: usize,
    pub next_oid: u32,
    pub tables: BTreeMap<String, TableDef>,
    pub sequences: BTreeMap<String, SequenceDef>,
    /// The table changes of the catalog change that wrote this file, until
    /// their catalog record is known to be in the log (see
    /// [`crate::catalog_log`]). Only ever set in the file, never in memory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_change: Vec<crate::catalog_log::CatalogEntry>,
}

/// A table: its definition plus its rows.
pub struct Table {
    pub def: Arc<TableDef>,
    pub store: Arc<TableStore>,
    /// CHECK constraints, bound: (name, predicate over a table row).
    pub checks: Vec<(String, crate::sql::expr::Expr)>,
    /// The store's schema epoch this definition belongs to.
    pub epoch: u64,
}

/// Runtime state of a sequence.
pub struct Sequence {
    pub def: SequenceDef,
    /// (last value handed out, whether one was handed out, reserved up to)
    pub state: Mutex<SequenceState>,
}

#[derive(Clone, Copy, Debug)]
pub struct SequenceState {
    pub last: i64,
    pub called: bool,
    pub reserved_until: Option<i64>,
}

/// An immutable view of the catalog; DDL builds a new one.
#[derive(Clone)]
pub struct CatalogSnapshot {
    pub version: u64,
    pub tables: BTreeMap<String, Arc<Table>>,
    pub sequences: BTreeMap<String, Arc<Sequence>>,
}

impl CatalogSnapshot {
    pub fn table(&self, name: &str) -> Result<&Arc<Table>> {
        self.tables.get(name).ok_or_else(|| {
            if crate::syscat::lookup(None, name).is_some() {
                return Error::new(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("cannot change system catalog relation \"{name}\""),
                );
            }
            Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{name}\" does not exist"),
            )
        })
    }
}

pub const CATALOG_FORMAT_VERSION: u32 = 1;
pub const FIRST_USER_OID: u32 = 16384;

pub fn catalog_path(data_dir: &Path) -> PathBuf {
    data_dir.join("catalog.json")
}

pub fn load(data_dir: &Path) -> Result<Option<CatalogData>> {
    read_versioned_json(
        &catalog_path(data_dir),
        "catalog file",
        |data: &CatalogData| data.format_version,
        CATALOG_FORMAT_VERSION,
    )
}

/// Reads a JSON file that carries a format version: `None` when it does not
/// exist, a data-corrupted error (naming it `what`) when it cannot be
/// parsed or has another version.
pub(crate) fn read_versioned_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    version_of: impl Fn(&T) -> u32,
    expected: u32,
) -> Result<Option<T>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let data: T = serde_json::from_slice(&bytes).map_err(|e| {
        Error::new(
            SqlState::DATA_CORRUPTED,
            format!("{what} {} is damaged: {e}", path.display()),
        )
    })?;
    let version = version_of(&data);
    if version != expected {
        return Err(Error::new(
            SqlState::DATA_CORRUPTED,
            format!(
                "{what} {} has format version {version}, expected {expected}",
                path.display()
            ),
        ));
    }
    Ok(Some(data))
}

/// Writes the catalog durably: temporary file, fsync, rename, fsync dir.
pub fn save(data_dir: &Path, data: &CatalogData) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(data)
        .map_err(|e| Error::internal(format!("serializing catalog: {e}")))?;
    write_file_atomic(&catalog_path(data_dir), &bytes)
}

pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let ctx = |what: &str| format!("{what} {}", tmp.display());
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(ctx("creating"), e))?;
    f.write_all(bytes)
        .map_err(|e| Error::io(ctx("writing"), e))?;
    f.sync_all().map_err(|e| Error::io(ctx("syncing"), e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(ctx("renaming"), e))?;
    if let Some(dir) = path.parent() {
        let d = std::fs::File::open(dir).map_err(|e| Error::io("opening data directory", e))?;
        d.sync_all()
            .map_err(|e| Error::io("syncing data directory", e))?;
    }
    Ok(())
}
