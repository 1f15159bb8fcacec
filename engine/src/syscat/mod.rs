//! The system catalogs: `pg_catalog` and `information_schema` as read-only
//! relations whose rows are generated, when a query reads them, from the
//! engine's own catalog ([`CatalogSnapshot`]), the role store and the
//! session's settings. Nothing here is stored, so nothing can drift out of
//! sync with the real definitions.
//!
//! OIDs: tables, indexes and sequences carry their persisted OID. Objects
//! without one of their own get an OID derived from their owner's, so it is
//! stable across restarts (see [`oids`]). Built-in types use PostgreSQL's
//! OIDs, and namespaces its numbers (`pg_catalog` = 11, `public` = 2200).
//!
//! Array columns are arrays (`aclitem[]` as `text[]`); vectors
//! (`int2vector`, `oidvector`) are `int2[]`/`oid[]`, so they print as
//! `{1,2}` and are subscripted from 1. `regproc` and `pg_node_tree` columns
//! are text in PostgreSQL's text form.

pub mod functions;
mod information_schema;
pub mod pg_catalog;

use crate::catalog::CatalogSnapshot;
use crate::sql::exec::StmtCtx;
use crate::types::{DataType, Row, Value};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

pub const PG_CATALOG_NAMESPACE: u32 = 11;
pub const PUBLIC_NAMESPACE: u32 = 2200;
/// Always empty: joltdb has no TOAST tables.
pub const PG_TOAST_NAMESPACE: u32 = 99;
pub const INFORMATION_SCHEMA_NAMESPACE: u32 = 13000;
/// The bootstrap superuser's OID, as in PostgreSQL; every object is owned
/// by it (there is no per-object ownership yet).
pub const BOOTSTRAP_SUPERUSER_OID: u32 = 10;
/// The only database's OID.
pub const DATABASE_OID: u32 = 5;

/// Which schema a system relation lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    PgCatalog,
    InformationSchema,
}

impl Schema {
    pub fn name(self) -> &'static str {
        match self {
            Schema::PgCatalog => "pg_catalog",
            Schema::InformationSchema => "information_schema",
        }
    }

    pub fn oid(self) -> u32 {
        match self {
            Schema::PgCatalog => PG_CATALOG_NAMESPACE,
            Schema::InformationSchema => INFORMATION_SCHEMA_NAMESPACE,
        }
    }
}

/// A column of a system relation.
#[derive(Clone, Debug)]
pub struct SysColumn {
    pub name: &'static str,
    pub ty: DataType,
    /// The value of a column not filled in: false, 0, '' for `"char"`,
    /// NULL otherwise.
    empty: Value,
}

type Generator = fn(&SysCtx, &SysTable) -> Vec<Row>;

/// A system relation: its shape and the function producing its rows.
pub struct SysTable {
    pub schema: Schema,
    pub name: &'static str,
    pub oid: u32,
    pub columns: Vec<SysColumn>,
    generate: Generator,
}

impl SysTable {
    /// A row with every column at its empty value (false, 0 or NULL), to be
    /// filled in with [`RowBuilder::set`].
    fn row(&self) -> RowBuilder<'_> {
        RowBuilder {
            table: self,
            values: self.columns.iter().map(|c| c.empty.clone()).collect(),
        }
    }
}

fn empty_value(ty: DataType) -> Value {
    match ty {
        DataType::Bool => Value::Bool(false),
        DataType::Int2 => Value::Int2(0),
        DataType::Int4 => Value::Int4(0),
        DataType::Int8 => Value::Int8(0),
        DataType::Float4 => Value::Float4(0.0),
        DataType::Oid => Value::Oid(0),
        _ => Value::Null,
    }
}

struct RowBuilder<'a> {
    table: &'a SysTable,
    values: Row,
}

impl RowBuilder<'_> {
    fn set(mut self, column: &str, value: Value) -> Self {
        let i = self
            .table
            .columns
            .iter()
            .position(|c| c.name == column)
            .unwrap_or_else(|| panic!("{} has no column {column}", self.table.name));
        self.values[i] = value;
        self
    }

    fn build(self) -> Row {
        self.values
    }
}

/// What a catalog query can see: the engine's catalog and roles, and the
/// session it runs in.
pub struct SysCtx {
    pub catalog: Arc<CatalogSnapshot>,
    pub roles: Vec<RoleInfo>,
    pub store: joltdb_auth::RoleStore,
    pub user: String,
    pub database: String,
    pub settings: Arc<HashMap<String, String>>,
    /// Every database of the data directory (see [`crate::databases`]).
    pub databases: Vec<crate::databases::DatabaseInfo>,
}

/// A role as the catalogs show it: the role store's role and its OID.
#[derive(Clone, Debug)]
pub struct RoleInfo {
    pub oid: u32,
    pub name: String,
    pub role: joltdb_auth::Role,
}

impl SysCtx {
    pub fn from_stmt(ctx: &StmtCtx) -> SysCtx {
        let mut roles: Vec<RoleInfo> = ctx
            .engine
            .roles
            .roles()
            .into_iter()
            .map(|r| RoleInfo {
                oid: oids::role(&r.name),
                name: r.name.clone(),
                role: r,
            })
            .collect();
        roles.sort_by_key(|r| r.oid);
        SysCtx {
            catalog: ctx.engine.catalog(),
            roles,
            store: ctx.engine.roles.clone(),
            user: ctx.user.clone(),
            database: ctx.database.clone(),
            settings: ctx.settings.clone(),
            databases: crate::databases::all_of(&ctx.engine, &ctx.database),
        }
    }

    /// The OID of the database the session is connected to.
    pub fn database_oid(&self) -> u32 {
        self.databases
            .iter()
            .find(|d| d.name == self.database)
            .map_or(DATABASE_OID, |d| d.oid)
    }

    pub fn role_name(&self, oid: u32) -> Option<&str> {
        self.roles
            .iter()
            .find(|r| r.oid == oid)
            .map(|r| r.name.as_str())
    }

    /// Whether the current user is `role` or a member of it, or a
    /// superuser (an "enabled role" in information_schema's terms).
    pub fn is_enabled_role(&self, role: &str) -> bool {
        self.store.get(&self.user).is_some_and(|r| r.superuser)
            || crate::acl::is_member_of(&self.store, &self.user, role)
    }

    /// The name shown as the owner of the built-in objects (schemas, the
    /// database): the bootstrap superuser.
    pub fn owner_name(&self) -> &str {
        oids::SUPERUSER_NAME
    }
}

/// Stable OIDs for catalog objects that have none of their own.
pub mod oids {
    /// The bootstrap superuser of a joltdb data directory.
    pub const SUPERUSER_NAME: &str = joltdb_auth::SUPERUSER;
    const PK_INDEX_BIT: u32 = 1 << 30;
    const CONSTRAINT_BIT: u32 = 1 << 31;
    const CHECK_BIT: u32 = 1 << 29;
    const ROLE_BASE: u32 = 1 << 29;

    /// The primary key's index (a table's primary key has no index OID of
    /// its own).
    pub fn pk_index(table: u32) -> u32 {
        table | PK_INDEX_BIT
    }

    /// The constraint backed by an index (primary key or unique).
    pub fn index_constraint(index: u32) -> u32 {
        index | CONSTRAINT_BIT
    }

    /// The `n`-th CHECK constraint of a table.
    pub fn check_constraint(table: u32, n: usize) -> u32 {
        CONSTRAINT_BIT | CHECK_BIT | ((table & 0x7F_FFFF) << 6) | (n as u32 & 63)
    }

    /// The `n`-th FOREIGN KEY constraint of a table (numbered after the
    /// CHECK constraints' range).
    pub fn foreign_key_constraint(table: u32, n: usize) -> u32 {
        check_constraint(table, 32 + (n & 31))
    }

    /// A column default (pg_attrdef row) of column `attnum` (1-based).
    pub fn attrdef(table: u32, attnum: usize) -> u32 {
        CONSTRAINT_BIT
            | PK_INDEX_BIT
            | CHECK_BIT
            | ((table & 0x3_FFFF) << 11)
            | (attnum as u32 & 0x7FF)
    }

    /// What a constraint OID refers to.
    pub enum ConstraintRef {
        /// A primary key or unique constraint, by its index OID.
        Index(u32),
        /// A CHECK constraint: (low bits of the table OID, position).
        Check(u32, usize),
    }

    pub fn decode_constraint(oid: u32) -> Option<ConstraintRef> {
        if oid & CONSTRAINT_BIT == 0 {
            return None;
        }
        let rest = oid & !CONSTRAINT_BIT;
        if rest & CHECK_BIT != 0 && rest & PK_INDEX_BIT == 0 {
            Some(ConstraintRef::Check(
                (rest & !CHECK_BIT) >> 6,
                (rest & 63) as usize,
            ))
        } else {
            Some(ConstraintRef::Index(rest))
        }
    }

    /// A role's OID: 10 for the bootstrap superuser, as in PostgreSQL;
    /// otherwise derived from the name (FNV-1a), so it stays the same
    /// across restarts.
    pub fn role(name: &str) -> u32 {
        if name == SUPERUSER_NAME {
            return super::BOOTSTRAP_SUPERUSER_OID;
        }
        let mut h: u32 = 0x811c_9dc5;
        for b in name.bytes() {
            h ^= b as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
        ROLE_BASE | (h & 0x0FFF_FFFF)
    }
}

/// A system relation of `schema` whose columns are given as a compact
/// list (see [`columns`]).
fn relation(
    schema: Schema,
    name: &'static str,
    oid: u32,
    spec: &'static str,
    generate: Generator,
) -> SysTable {
    SysTable {
        schema,
        name,
        oid,
        columns: columns(spec),
        generate,
    }
}

/// The generator of relations that are always empty.
fn no_rows(_ctx: &SysCtx, _me: &SysTable) -> Vec<Row> {
    Vec::new()
}

/// Parses a compact column list (`name:type name:type ...`).
fn columns(spec: &'static str) -> Vec<SysColumn> {
    spec.split_whitespace()
        .map(|c| {
            let (name, ty) = c.split_once(':').expect("name:type");
            let empty_char = ty == "char";
            let ty = match ty {
                "oid" => DataType::Oid,
                "name" => DataType::Name,
                "bool" => DataType::Bool,
                "int2" => DataType::Int2,
                "int4" => DataType::Int4,
                "int8" => DataType::Int8,
                "float4" => DataType::Float4,
                "float8" => DataType::Float8,
                "tstz" => DataType::TimestampTz,
                "char" => DataType::InternalChar,
                "char[]" => DataType::InternalChar.array_of().expect("\"char\"[]"),
                // text, regproc, pg_node_tree
                "text" => DataType::Text,
                // aclitem elements are shown as text.
                "text[]" | "aclitem[]" => DataType::Text.array_of().expect("text[]"),
                "int2[]" | "int2vector" => DataType::Int2.array_of().expect("int2[]"),
                "oid[]" | "oidvector" => DataType::Oid.array_of().expect("oid[]"),
                other => panic!("unknown catalog column type {other}"),
            };
            let empty = if empty_char {
                Value::Text(String::new())
            } else {
                empty_value(ty)
            };
            SysColumn { name, ty, empty }
        })
        .collect()
}

static TABLES: LazyLock<Vec<SysTable>> = LazyLock::new(|| {
    let mut v = pg_catalog::relations();
    v.extend(information_schema::relations());
    v
});

/// Every system relation.
pub fn all() -> &'static [SysTable] {
    &TABLES
}

/// Resolves a relation name: `schema` given (`pg_catalog`,
/// `information_schema`), or unqualified (only `pg_catalog` is searched
/// implicitly, and before user tables, as in PostgreSQL).
pub fn lookup(schema: Option<&str>, name: &str) -> Option<&'static SysTable> {
    let want = match schema {
        None | Some("pg_catalog") => Schema::PgCatalog,
        Some("information_schema") => Schema::InformationSchema,
        Some(_) => return None,
    };
    all().iter().find(|t| t.schema == want && t.name == name)
}

pub fn by_oid(oid: u32) -> Option<&'static SysTable> {
    all().iter().find(|t| t.oid == oid)
}

/// The rows of a system relation, generated now.
pub fn rows(table: &SysTable, ctx: &StmtCtx) -> Vec<Row> {
    let sys = SysCtx::from_stmt(ctx);
    (table.generate)(&sys, table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_oids_decode() {
        let c = oids::index_constraint(oids::pk_index(16390));
        assert!(
            matches!(oids::decode_constraint(c), Some(oids::ConstraintRef::Index(i)) if i == oids::pk_index(16390))
        );
        let k = oids::check_constraint(16390, 2);
        assert!(matches!(
            oids::decode_constraint(k),
            Some(oids::ConstraintRef::Check(16390, 2))
        ));
        assert!(oids::decode_constraint(16390).is_none());
        assert_eq!(oids::role("joltdb"), BOOTSTRAP_SUPERUSER_OID);
    }
}
