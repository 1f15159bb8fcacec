//! `pg_catalog`: PostgreSQL's system catalogs and the views over them that
//! clients query (pg_class, pg_attribute, pg_index, pg_roles, ...).

use super::{
    oids, Schema, SysCtx, SysTable, INFORMATION_SCHEMA_NAMESPACE, PG_CATALOG_NAMESPACE,
    PUBLIC_NAMESPACE,
};
use crate::catalog::{CatalogSnapshot, ForeignKeyAction, IdentityKind, Table, TableDef};
use crate::types::functions::quote_ident;
use crate::types::{DataType, Row, Value};

pub const HEAP_AM: u32 = 2;
pub const BTREE_AM: u32 = 403;
pub const DEFAULT_COLLATION: u32 = 100;
pub const DEFAULT_TABLESPACE: u32 = 1663;
const UTF8_ENCODING: i32 = 6;

/// A built-in type as pg_type describes it.
pub struct TypeInfo {
    pub oid: u32,
    pub name: &'static str,
    pub len: i16,
    pub byval: bool,
    pub category: char,
    /// Element type of an array or vector type.
    pub elem: u32,
    /// The array type over this type.
    pub array: u32,
    /// The name format_type prints.
    pub display: &'static str,
    pub pseudo: bool,
}

const fn ty(
    oid: u32,
    name: &'static str,
    len: i16,
    byval: bool,
    category: char,
    array: u32,
    display: &'static str,
) -> TypeInfo {
    TypeInfo {
        oid,
        name,
        len,
        byval,
        category,
        elem: 0,
        array,
        display,
        pseudo: false,
    }
}

const fn arr(oid: u32, name: &'static str, elem: u32, display: &'static str) -> TypeInfo {
    TypeInfo {
        oid,
        name,
        len: -1,
        byval: false,
        category: 'A',
        elem,
        array: 0,
        display,
        pseudo: false,
    }
}

const fn pseudo(oid: u32, name: &'static str, display: &'static str) -> TypeInfo {
    TypeInfo {
        oid,
        name,
        len: 4,
        byval: true,
        category: 'P',
        elem: 0,
        array: 0,
        display,
        pseudo: true,
    }
}

/// The built-in types, with PostgreSQL's OIDs.
pub static TYPES: &[TypeInfo] = &[
    ty(16, "bool", 1, true, 'B', 1000, "boolean"),
    ty(17, "bytea", -1, false, 'U', 1001, "bytea"),
    ty(18, "char", 1, true, 'Z', 1002, "\"char\""),
    ty(19, "name", 64, false, 'S', 1003, "name"),
    ty(20, "int8", 8, true, 'N', 1016, "bigint"),
    ty(21, "int2", 2, true, 'N', 1005, "smallint"),
    TypeInfo {
        elem: 21,
        ..ty(22, "int2vector", -1, false, 'A', 1006, "int2vector")
    },
    ty(23, "int4", 4, true, 'N', 1007, "integer"),
    ty(24, "regproc", 4, true, 'N', 1008, "regproc"),
    ty(25, "text", -1, false, 'S', 1009, "text"),
    ty(26, "oid", 4, true, 'N', 1028, "oid"),
    TypeInfo {
        elem: 26,
        ..ty(30, "oidvector", -1, false, 'A', 1013, "oidvector")
    },
    ty(194, "pg_node_tree", -1, false, 'Z', 0, "pg_node_tree"),
    ty(700, "float4", 4, true, 'N', 1021, "real"),
    ty(701, "float8", 8, true, 'N', 1022, "double precision"),
    TypeInfo {
        len: -2,
        byval: false,
        ..ty(705, "unknown", -2, false, 'X', 0, "unknown")
    },
    ty(1033, "aclitem", 12, false, 'U', 1034, "aclitem"),
    ty(1042, "bpchar", -1, false, 'S', 1014, "character"),
    ty(1043, "varchar", -1, false, 'S', 1015, "character varying"),
    ty(1082, "date", 4, true, 'D', 1182, "date"),
    ty(1083, "time", 8, true, 'D', 1183, "time without time zone"),
    ty(
        1114,
        "timestamp",
        8,
        true,
        'D',
        1115,
        "timestamp without time zone",
    ),
    ty(
        1184,
        "timestamptz",
        8,
        true,
        'D',
        1185,
        "timestamp with time zone",
    ),
    ty(1186, "interval", 16, false, 'T', 1187, "interval"),
    ty(1700, "numeric", -1, false, 'N', 1231, "numeric"),
    ty(2205, "regclass", 4, true, 'N', 2210, "regclass"),
    ty(2206, "regtype", 4, true, 'N', 2211, "regtype"),
    ty(2950, "uuid", 16, false, 'U', 2951, "uuid"),
    ty(4089, "regnamespace", 4, true, 'N', 4090, "regnamespace"),
    arr(1000, "_bool", 16, "boolean[]"),
    arr(1001, "_bytea", 17, "bytea[]"),
    arr(1002, "_char", 18, "\"char\"[]"),
    arr(1003, "_name", 19, "name[]"),
    arr(1005, "_int2", 21, "smallint[]"),
    arr(1006, "_int2vector", 22, "int2vector[]"),
    arr(1007, "_int4", 23, "integer[]"),
    arr(1008, "_regproc", 24, "regproc[]"),
    arr(1009, "_text", 25, "text[]"),
    arr(1013, "_oidvector", 30, "oidvector[]"),
    arr(1014, "_bpchar", 1042, "character[]"),
    arr(1015, "_varchar", 1043, "character varying[]"),
    arr(1016, "_int8", 20, "bigint[]"),
    arr(1021, "_float4", 700, "real[]"),
    arr(1022, "_float8", 701, "double precision[]"),
    arr(1028, "_oid", 26, "oid[]"),
    arr(1034, "_aclitem", 1033, "aclitem[]"),
    arr(1115, "_timestamp", 1114, "timestamp without time zone[]"),
    arr(1182, "_date", 1082, "date[]"),
    arr(1183, "_time", 1083, "time without time zone[]"),
    arr(1185, "_timestamptz", 1184, "timestamp with time zone[]"),
    arr(1187, "_interval", 1186, "interval[]"),
    arr(1231, "_numeric", 1700, "numeric[]"),
    arr(2210, "_regclass", 2205, "regclass[]"),
    arr(2211, "_regtype", 2206, "regtype[]"),
    arr(2951, "_uuid", 2950, "uuid[]"),
    arr(4090, "_regnamespace", 4089, "regnamespace[]"),
    pseudo(2249, "record", "record"),
    pseudo(2276, "any", "\"any\""),
    pseudo(2277, "anyarray", "anyarray"),
    pseudo(2278, "void", "void"),
];

pub fn type_by_oid(oid: u32) -> Option<&'static TypeInfo> {
    TYPES.iter().find(|t| t.oid == oid)
}

/// Finds a type by a name as written in SQL (`int4`, `integer`,
/// `character varying`, `text[]`, ...).
pub fn type_by_name(name: &str) -> Option<&'static TypeInfo> {
    let n = name.trim().to_lowercase();
    let n = n.strip_prefix("pg_catalog.").unwrap_or(&n);
    if let Some(elem) = n.strip_suffix("[]") {
        let e = type_by_name(elem)?;
        return type_by_oid(e.array);
    }
    let alias = match n {
        "int" | "integer" => "int4",
        "smallint" => "int2",
        "bigint" => "int8",
        "boolean" => "bool",
        "real" => "float4",
        "double precision" => "float8",
        "character varying" => "varchar",
        "character" => "bpchar",
        "decimal" => "numeric",
        "timestamp without time zone" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        "time without time zone" => "time",
        "\"char\"" => "char",
        other => other,
    };
    TYPES.iter().find(|t| t.name == alias)
}

/// format_type(type oid, typmod).
pub fn format_type(oid: u32, typmod: i32) -> String {
    let Some(t) = type_by_oid(oid) else {
        return "???".into();
    };
    let m = typmod - 4;
    match t.oid {
        1043 if typmod >= 4 => format!("character varying({m})"),
        1042 if typmod >= 4 => format!("character({m})"),
        1042 => "bpchar".into(),
        1700 if typmod >= 4 => format!("numeric({},{})", (m >> 16) & 0xffff, m & 0xffff),
        _ => t.display.into(),
    }
}

/// The collation a column of this type has (100 = default for strings).
pub fn type_collation(dt: DataType) -> u32 {
    match dt {
        DataType::Name => 950,
        DataType::InternalChar => 0,
        _ if dt.is_string() => DEFAULT_COLLATION,
        _ => 0,
    }
}

fn t(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}
fn b(v: bool) -> Value {
    Value::Bool(v)
}
fn o(v: u32) -> Value {
    Value::Oid(v)
}
fn i2(v: i64) -> Value {
    Value::Int2(v as i16)
}
fn i4(v: i64) -> Value {
    Value::Int4(v as i32)
}
fn i8v(v: i64) -> Value {
    Value::Int8(v)
}

/// An index as the catalogs show it: secondary indexes and the primary
/// key's implicit one.
pub struct IndexView<'a> {
    pub oid: u32,
    pub name: &'a str,
    pub columns: &'a [usize],
    pub unique: bool,
    pub primary: bool,
    /// Created by a PRIMARY KEY or UNIQUE constraint (not CREATE INDEX).
    pub constraint: bool,
}

pub fn table_indexes(def: &TableDef) -> Vec<IndexView<'_>> {
    let mut v = Vec::new();
    if let Some(name) = &def.pk_name {
        v.push(IndexView {
            oid: oids::pk_index(def.oid),
            name,
            columns: &def.primary_key,
            unique: true,
            primary: true,
            constraint: true,
        });
    }
    for i in &def.indexes {
        v.push(IndexView {
            oid: i.oid,
            name: &i.name,
            columns: &i.columns,
            unique: i.unique,
            primary: i.primary,
            constraint: i.constraint,
        });
    }
    v
}

/// A constraint as pg_constraint shows it.
pub struct ConstraintView<'a> {
    pub oid: u32,
    pub name: &'a str,
    /// 'p', 'u', 'c' or 'f'.
    pub kind: char,
    pub table: &'a TableDef,
    /// Column positions (0-based).
    pub columns: Vec<usize>,
    pub index: u32,
    /// CHECK expression text.
    pub check: Option<&'a str>,
    /// A foreign key's referenced side.
    pub references: Option<References<'a>>,
}

/// The referenced side of a foreign key.
pub struct References<'a> {
    pub table: &'a TableDef,
    /// Column positions (0-based) in the referenced table.
    pub columns: Vec<usize>,
    pub on_update: ForeignKeyAction,
    pub on_delete: ForeignKeyAction,
}

/// pg_constraint's code for a foreign key action.
pub fn action_code(a: ForeignKeyAction) -> &'static str {
    match a {
        ForeignKeyAction::NoAction => "a",
        ForeignKeyAction::Restrict => "r",
        ForeignKeyAction::Cascade => "c",
        ForeignKeyAction::SetNull => "n",
        ForeignKeyAction::SetDefault => "d",
    }
}

/// The constraints of a table; `catalog` resolves what foreign keys
/// reference.
pub fn table_constraints<'a>(
    def: &'a TableDef,
    catalog: &'a CatalogSnapshot,
) -> Vec<ConstraintView<'a>> {
    let mut v = Vec::new();
    for ix in table_indexes(def) {
        if !ix.constraint {
            continue;
        }
        v.push(ConstraintView {
            oid: oids::index_constraint(ix.oid),
            name: ix.name,
            kind: if ix.primary { 'p' } else { 'u' },
            table: def,
            columns: ix.columns.to_vec(),
            index: ix.oid,
            check: None,
            references: None,
        });
    }
    for (n, c) in def.checks.iter().enumerate() {
        v.push(ConstraintView {
            oid: oids::check_constraint(def.oid, n),
            name: &c.name,
            kind: 'c',
            table: def,
            columns: check_columns(def, &c.expr),
            index: 0,
            check: Some(&c.expr),
            references: None,
        });
    }
    for (n, fk) in def.foreign_keys.iter().enumerate() {
        let Some(target) = catalog.tables.get(&fk.ref_table) else {
            continue;
        };
        let target = &target.def;
        // The referenced key's index: the primary key's or a unique one's.
        let index = table_indexes(target)
            .into_iter()
            .find(|ix| ix.unique && ix.columns == fk.ref_columns.as_slice())
            .map_or(0, |ix| ix.oid);
        v.push(ConstraintView {
            oid: oids::foreign_key_constraint(def.oid, n),
            name: &fk.name,
            kind: 'f',
            table: def,
            columns: fk.columns.clone(),
            index,
            check: None,
            references: Some(References {
                table: target,
                columns: fk.ref_columns.clone(),
                on_update: fk.on_update,
                on_delete: fk.on_delete,
            }),
        });
    }
    v
}

/// The columns a CHECK expression mentions (for conkey).
fn check_columns(def: &TableDef, expr: &str) -> Vec<usize> {
    let words: Vec<String> = expr
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map(|w| w.to_lowercase())
        .collect();
    (0..def.columns.len())
        .filter(|&i| words.iter().any(|w| *w == def.columns[i].name))
        .collect()
}

/// pg_get_constraintdef's text for a constraint; without `pretty` an
/// operator expression is parenthesised, as PostgreSQL does.
pub fn constraint_def(c: &ConstraintView, pretty: bool) -> String {
    let cols = |idx: &[usize]| {
        idx.iter()
            .map(|&i| quote_ident(&c.table.columns[i].name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match c.kind {
        'p' => format!("PRIMARY KEY ({})", cols(&c.columns)),
        'u' => format!("UNIQUE ({})", cols(&c.columns)),
        'f' => {
            let Some(r) = &c.references else {
                return String::new();
            };
            let ref_cols: Vec<String> = r
                .columns
                .iter()
                .map(|&i| quote_ident(&r.table.columns[i].name))
                .collect();
            let mut s = format!(
                "FOREIGN KEY ({}) REFERENCES {}({})",
                cols(&c.columns),
                quote_ident(&r.table.name),
                ref_cols.join(", ")
            );
            if r.on_update != ForeignKeyAction::NoAction {
                s.push_str(&format!(" ON UPDATE {}", r.on_update.sql()));
            }
            if r.on_delete != ForeignKeyAction::NoAction {
                s.push_str(&format!(" ON DELETE {}", r.on_delete.sql()));
            }
            s
        }
        _ => {
            let expr = c.check.unwrap_or("");
            if pretty || !expr.contains(' ') {
                format!("CHECK ({expr})")
            } else {
                format!("CHECK (({expr}))")
            }
        }
    }
}

/// pg_get_indexdef's text for an index.
pub fn index_def(table: &TableDef, ix: &IndexView) -> String {
    let cols: Vec<String> = ix
        .columns
        .iter()
        .map(|&i| quote_ident(&table.columns[i].name))
        .collect();
    format!(
        "CREATE {}INDEX {} ON public.{} USING btree ({})",
        if ix.unique { "UNIQUE " } else { "" },
        quote_ident(ix.name),
        quote_ident(&table.name),
        cols.join(", ")
    )
}

/// A column default as pg_get_expr prints it: string literals carry a
/// cast to the column's type, sequence names a cast to regclass.
pub fn default_display(default: &str, ty: DataType) -> String {
    use sqlparser::ast;
    let Ok(e) = crate::sql::parser::parse_expr(default) else {
        return default.to_string();
    };
    match &e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => {
                let cast = match ty {
                    DataType::Varchar(_) => "character varying".to_string(),
                    DataType::Char(_) => "bpchar".to_string(),
                    other => other.base_name().to_string(),
                };
                format!("'{}'::{cast}", s.replace('\'', "''"))
            }
            _ => e.to_string(),
        },
        ast::Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("nextval") => {
            let arg = f.args.to_string();
            let seq = arg.trim_matches(|c| c == '(' || c == ')');
            if seq.contains("::") {
                format!("nextval({seq})")
            } else {
                format!("nextval({seq}::regclass)")
            }
        }
        ast::Expr::Function(f)
            if f.name.to_string().eq_ignore_ascii_case("now")
                || f.name.to_string().eq_ignore_ascii_case("current_timestamp") =>
        {
            "now()".into()
        }
        ast::Expr::Identifier(i) if i.value.eq_ignore_ascii_case("current_timestamp") => {
            "CURRENT_TIMESTAMP".into()
        }
        _ => e.to_string(),
    }
}

fn tables_sorted(ctx: &SysCtx) -> impl Iterator<Item = &std::sync::Arc<Table>> {
    ctx.catalog.tables.values()
}

/// Whether a table references or is referenced by a foreign key.
/// PostgreSQL enforces foreign keys with internal triggers on both
/// tables, so both show `relhastriggers` (which psql's `\d` needs to
/// list the keys).
fn in_foreign_key(ctx: &SysCtx, table: &str) -> bool {
    ctx.catalog.tables.values().any(|t| {
        t.def
            .foreign_keys
            .iter()
            .any(|fk| t.def.name == table || fk.ref_table == table)
    })
}

fn pg_class(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut rows = Vec::new();
    let class = |oid: u32, name: &str, ns: u32, kind: &str| {
        me.row()
            .set("oid", o(oid))
            .set("relname", t(name))
            .set("relnamespace", o(ns))
            .set("relowner", o(super::BOOTSTRAP_SUPERUSER_OID))
            .set("relfilenode", o(oid))
            .set("relpersistence", t("p"))
            .set("relkind", t(kind))
            .set("relreplident", t(if kind == "r" { "d" } else { "n" }))
            .set("relispopulated", b(true))
            .set("reltuples", Value::Float4(-1.0))
    };
    for table in tables_sorted(ctx) {
        let d = &table.def;
        let idx = table_indexes(d);
        let view = d.view.is_some();
        rows.push(
            class(
                d.oid,
                &d.name,
                PUBLIC_NAMESPACE,
                if view { "v" } else { "r" },
            )
            .set("relowner", o(super::oids::role(&d.owner)))
            .set(
                "relacl",
                d.acl.as_deref().map(acl_array).unwrap_or(Value::Null),
            )
            .set("relam", o(if view { 0 } else { HEAP_AM }))
            .set("relnatts", i2(d.columns.len() as i64))
            .set("relchecks", i2(d.checks.len() as i64))
            .set("relhasindex", b(!idx.is_empty()))
            .set("relhastriggers", b(in_foreign_key(ctx, &d.name)))
            .build(),
        );
        for ix in idx {
            rows.push(
                class(ix.oid, ix.name, PUBLIC_NAMESPACE, "i")
                    .set("relowner", o(super::oids::role(&d.owner)))
                    .set("relam", o(BTREE_AM))
                    .set("relnatts", i2(ix.columns.len() as i64))
                    .build(),
            );
        }
    }
    for s in ctx.catalog.sequences.values() {
        rows.push(
            class(s.def.oid, &s.def.name, PUBLIC_NAMESPACE, "S")
                .set("relnatts", i2(3))
                .build(),
        );
    }
    for st in super::all() {
        rows.push(
            class(st.oid, st.name, st.schema.oid(), "v")
                .set("relnatts", i2(st.columns.len() as i64))
                .build(),
        );
    }
    rows
}

fn pg_namespace(_ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    [
        (PG_CATALOG_NAMESPACE, "pg_catalog"),
        (super::PG_TOAST_NAMESPACE, "pg_toast"),
        (PUBLIC_NAMESPACE, "public"),
        (INFORMATION_SCHEMA_NAMESPACE, "information_schema"),
    ]
    .into_iter()
    .map(|(oid, name)| {
        me.row()
            .set("oid", o(oid))
            .set("nspname", t(name))
            .set("nspowner", o(super::BOOTSTRAP_SUPERUSER_OID))
            .build()
    })
    .collect()
}

fn attribute<'a>(
    me: &'a SysTable,
    rel: u32,
    name: &str,
    num: usize,
    dt: DataType,
    not_null: bool,
) -> super::RowBuilder<'a> {
    let (align, storage) = match dt.type_len() {
        1 => ("c", "p"),
        2 => ("s", "p"),
        4 => ("i", "p"),
        8 | 16 => ("d", "p"),
        64 => ("c", "p"),
        _ => ("i", "x"),
    };
    me.row()
        .set("attrelid", o(rel))
        .set("attname", t(name))
        .set("atttypid", o(dt.oid()))
        .set("attstattarget", i4(-1))
        .set("attlen", i2(dt.type_len() as i64))
        .set("attnum", i2(num as i64))
        .set("attcacheoff", i4(-1))
        .set("atttypmod", i4(dt.typmod() as i64))
        .set(
            "attbyval",
            b(matches!(dt.type_len(), 1 | 2 | 4 | 8) && dt != DataType::Name),
        )
        .set("attalign", t(align))
        .set("attstorage", t(storage))
        .set("attnotnull", b(not_null))
        .set("attislocal", b(true))
        .set("attcollation", o(type_collation(dt)))
}

/// An ACL as `aclitem[]` (shown as `text[]`), e.g. `{alice=r/owner}`.
fn acl_array(acl: &[crate::acl::AclItem]) -> Value {
    Value::Array(acl.iter().map(|item| t(item.to_text())).collect())
}

fn pg_attribute(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut rows = Vec::new();
    for table in tables_sorted(ctx) {
        let d = &table.def;
        for (i, c) in d.columns.iter().enumerate() {
            let not_null = c.not_null || d.primary_key.contains(&i);
            let identity = match c.identity {
                Some(IdentityKind::Always) => "a",
                Some(IdentityKind::ByDefault) => "d",
                None => "",
            };
            rows.push(
                attribute(me, d.oid, &c.name, i + 1, c.data_type, not_null)
                    .set("atthasdef", b(c.default.is_some() && c.identity.is_none()))
                    .set("attidentity", t(identity))
                    .set(
                        "attacl",
                        d.column_acl
                            .get(&c.name)
                            .filter(|acl| !acl.is_empty())
                            .map(|acl| acl_array(acl))
                            .unwrap_or(Value::Null),
                    )
                    .build(),
            );
        }
        for ix in table_indexes(d) {
            for (n, &col) in ix.columns.iter().enumerate() {
                let c = &d.columns[col];
                rows.push(attribute(me, ix.oid, &c.name, n + 1, c.data_type, false).build());
            }
        }
    }
    for s in ctx.catalog.sequences.values() {
        for (n, (name, dt)) in [
            ("last_value", DataType::Int8),
            ("log_cnt", DataType::Int8),
            ("is_called", DataType::Bool),
        ]
        .into_iter()
        .enumerate()
        {
            rows.push(attribute(me, s.def.oid, name, n + 1, dt, true).build());
        }
    }
    for st in super::all() {
        for (n, c) in st.columns.iter().enumerate() {
            rows.push(attribute(me, st.oid, c.name, n + 1, c.ty, false).build());
        }
    }
    rows
}

fn pg_attrdef(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut rows = Vec::new();
    for table in tables_sorted(ctx) {
        let d = &table.def;
        for (i, c) in d.columns.iter().enumerate() {
            if let (Some(def), None) = (&c.default, &c.identity) {
                rows.push(
                    me.row()
                        .set("oid", o(oids::attrdef(d.oid, i + 1)))
                        .set("adrelid", o(d.oid))
                        .set("adnum", i2(i as i64 + 1))
                        .set("adbin", t(default_display(def, c.data_type)))
                        .build(),
                );
            }
        }
    }
    rows
}

fn pg_type(_ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    TYPES
        .iter()
        .map(|ti| {
            let (input, output) = if ti.category == 'A' && ti.elem != 0 && ti.name.starts_with('_')
            {
                ("array_in".to_string(), "array_out".to_string())
            } else {
                (format!("{}in", ti.name), format!("{}out", ti.name))
            };
            let align = match ti.len {
                1 | -2 => "c",
                2 => "s",
                8 | 16 => "d",
                _ => "i",
            };
            me.row()
                .set("oid", o(ti.oid))
                .set("typname", t(ti.name))
                .set("typnamespace", o(PG_CATALOG_NAMESPACE))
                .set("typowner", o(super::BOOTSTRAP_SUPERUSER_OID))
                .set("typlen", i2(ti.len as i64))
                .set("typbyval", b(ti.byval))
                .set("typtype", t(if ti.pseudo { "p" } else { "b" }))
                .set("typcategory", t(ti.category.to_string()))
                .set(
                    "typispreferred",
                    b(matches!(ti.oid, 16 | 25 | 26 | 701 | 1184 | 1186)),
                )
                .set("typisdefined", b(true))
                .set("typdelim", t(","))
                .set(
                    "typsubscript",
                    t(if ti.elem != 0 {
                        "array_subscript_handler"
                    } else {
                        "-"
                    }),
                )
                .set("typelem", o(ti.elem))
                .set("typarray", o(ti.array))
                .set("typinput", t(input))
                .set("typoutput", t(output))
                .set("typreceive", t(format!("{}recv", ti.name)))
                .set("typsend", t(format!("{}send", ti.name)))
                .set("typmodin", t("-"))
                .set("typmodout", t("-"))
                .set("typanalyze", t("-"))
                .set("typalign", t(align))
                .set("typstorage", t(if ti.len == -1 { "x" } else { "p" }))
                .set("typtypmod", i4(-1))
                .set(
                    "typcollation",
                    o(if matches!(ti.oid, 25 | 1042 | 1043) {
                        DEFAULT_COLLATION
                    } else if ti.oid == 19 {
                        950
                    } else {
                        0
                    }),
                )
                .build()
        })
        .collect()
}

fn pg_index(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut rows = Vec::new();
    for table in tables_sorted(ctx) {
        let d = &table.def;
        for ix in table_indexes(d) {
            let keys = ix
                .columns
                .iter()
                .map(|c| Value::Int2(*c as i16 + 1))
                .collect();
            let n = ix.columns.len();
            let colls = ix
                .columns
                .iter()
                .map(|&c| o(type_collation(d.columns[c].data_type)))
                .collect();
            rows.push(
                me.row()
                    .set("indexrelid", o(ix.oid))
                    .set("indrelid", o(d.oid))
                    .set("indnatts", i2(n as i64))
                    .set("indnkeyatts", i2(n as i64))
                    .set("indisunique", b(ix.unique))
                    .set("indisprimary", b(ix.primary))
                    .set("indimmediate", b(true))
                    .set("indisvalid", b(true))
                    .set("indisready", b(true))
                    .set("indislive", b(true))
                    .set("indkey", Value::Array(keys))
                    .set("indcollation", Value::Array(colls))
                    .set("indclass", Value::Array(vec![o(0); n]))
                    .set("indoption", Value::Array(vec![i2(0); n]))
                    .build(),
            );
        }
    }
    rows
}

fn pg_constraint(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut rows = Vec::new();
    for table in tables_sorted(ctx) {
        for c in table_constraints(&table.def, &ctx.catalog) {
            let keys = c
                .columns
                .iter()
                .map(|k| Value::Int2(*k as i16 + 1))
                .collect();
            let mut row = me.row();
            if let Some(r) = &c.references {
                let fkeys = r
                    .columns
                    .iter()
                    .map(|k| Value::Int2(*k as i16 + 1))
                    .collect();
                row = row
                    .set("confrelid", o(r.table.oid))
                    .set("confupdtype", t(action_code(r.on_update)))
                    .set("confdeltype", t(action_code(r.on_delete)))
                    .set("confmatchtype", t("s"))
                    .set("confkey", Value::Array(fkeys));
            } else {
                row = row
                    .set("confupdtype", t(" "))
                    .set("confdeltype", t(" "))
                    .set("confmatchtype", t(" "));
            }
            rows.push(
                row.set("oid", o(c.oid))
                    .set("conname", t(c.name))
                    .set("connamespace", o(PUBLIC_NAMESPACE))
                    .set("contype", t(c.kind.to_string()))
                    .set("convalidated", b(true))
                    .set("conrelid", o(table.def.oid))
                    .set("conindid", o(c.index))
                    .set("conislocal", b(true))
                    .set("connoinherit", b(c.kind == 'p' || c.kind == 'u'))
                    .set("conkey", Value::Array(keys))
                    .set("conbin", c.check.map(t).unwrap_or(Value::Null))
                    .build(),
            );
        }
    }
    rows
}

fn pg_am(_ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    [
        (HEAP_AM, "heap", "heap_tableam_handler", "t"),
        (BTREE_AM, "btree", "bthandler", "i"),
        (405, "hash", "hashhandler", "i"),
    ]
    .into_iter()
    .map(|(oid, name, handler, kind)| {
        me.row()
            .set("oid", o(oid))
            .set("amname", t(name))
            .set("amhandler", t(handler))
            .set("amtype", t(kind))
            .build()
    })
    .collect()
}

fn pg_collation(_ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    [
        (DEFAULT_COLLATION, "default", "d", None),
        (950, "C", "c", Some("C")),
        (951, "POSIX", "c", Some("POSIX")),
    ]
    .into_iter()
    .map(|(oid, name, provider, locale)| {
        me.row()
            .set("oid", o(oid))
            .set("collname", t(name))
            .set("collnamespace", o(PG_CATALOG_NAMESPACE))
            .set("collowner", o(super::BOOTSTRAP_SUPERUSER_OID))
            .set("collprovider", t(provider))
            .set("collisdeterministic", b(true))
            .set("collencoding", i4(-1))
            .set("collcollate", locale.map(t).unwrap_or(Value::Null))
            .set("collctype", locale.map(t).unwrap_or(Value::Null))
            .build()
    })
    .collect()
}

fn pg_database(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    ctx.databases
        .iter()
        .map(|d| {
            me.row()
                .set("oid", o(d.oid))
                .set("datname", t(&d.name))
                .set("datdba", o(oids::role(&d.owner)))
                .set("encoding", i4(UTF8_ENCODING as i64))
                .set("datlocprovider", t("c"))
                .set("datallowconn", b(true))
                .set("datconnlimit", i4(-1))
                .set("dattablespace", o(DEFAULT_TABLESPACE))
                .set("datcollate", t("C"))
                .set("datctype", t("C"))
                .build()
        })
        .collect()
}

/// The attributes PostgreSQL gives its bootstrap superuser (CREATEROLE,
/// CREATEDB, REPLICATION, BYPASSRLS) are shown for joltdb's, which may do
/// all of that; other roles show what they were created or altered with.
fn is_bootstrap(r: &super::RoleInfo) -> bool {
    r.oid == super::BOOTSTRAP_SUPERUSER_OID
}

fn valid_until(r: &super::RoleInfo) -> Value {
    r.role
        .valid_until
        .and_then(chrono::DateTime::from_timestamp_micros)
        .map(Value::TimestampTz)
        .unwrap_or(Value::Null)
}

fn pg_roles(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    ctx.roles
        .iter()
        .map(|r| {
            let boot = is_bootstrap(r);
            me.row()
                .set("rolname", t(&r.name))
                .set("rolsuper", b(r.role.superuser))
                .set("rolinherit", b(r.role.inherit))
                .set("rolcreaterole", b(r.role.createrole || boot))
                .set("rolcreatedb", b(r.role.createdb || boot))
                .set("rolcanlogin", b(r.role.login))
                .set("rolreplication", b(boot))
                .set("rolconnlimit", i4(-1))
                .set("rolpassword", t("********"))
                .set("rolvaliduntil", valid_until(r))
                .set("rolbypassrls", b(boot))
                .set("oid", o(r.oid))
                .build()
        })
        .collect()
}

fn pg_user(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    ctx.roles
        .iter()
        .filter(|r| r.role.login)
        .map(|r| {
            let boot = is_bootstrap(r);
            me.row()
                .set("usename", t(&r.name))
                .set("usesysid", o(r.oid))
                .set("usecreatedb", b(r.role.createdb || boot))
                .set("usesuper", b(r.role.superuser))
                .set("userepl", b(boot))
                .set("usebypassrls", b(boot))
                .set("passwd", t("********"))
                .set("valuntil", valid_until(r))
                .build()
        })
        .collect()
}

fn pg_auth_members(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut rows = Vec::new();
    for r in &ctx.roles {
        for m in &r.role.member_of {
            rows.push(
                me.row()
                    .set("roleid", o(super::oids::role(&m.role)))
                    .set("member", o(r.oid))
                    .set("grantor", o(super::oids::role(&m.grantor)))
                    .set("admin_option", b(m.admin_option))
                    .build(),
            );
        }
    }
    rows
}

fn pg_settings(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut names: Vec<&String> = ctx.settings.keys().collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let v = &ctx.settings[n];
            me.row()
                .set("name", t(n.as_str()))
                .set("setting", t(v.as_str()))
                .set("category", t("Client Connection Defaults"))
                .set("short_desc", t(""))
                .set("context", t("user"))
                .set("vartype", t("string"))
                .set("source", t("session"))
                .set("boot_val", t(v.as_str()))
                .set("reset_val", t(v.as_str()))
                .set("pending_restart", b(false))
                .build()
        })
        .collect()
}

fn pg_sequence(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    ctx.catalog
        .sequences
        .values()
        .map(|s| {
            let d = &s.def;
            me.row()
                .set("seqrelid", o(d.oid))
                .set("seqtypid", o(d.data_type.oid()))
                .set("seqstart", i8v(d.start))
                .set("seqincrement", i8v(d.increment))
                .set("seqmax", i8v(d.max_value))
                .set("seqmin", i8v(d.min_value))
                .set("seqcache", i8v(1))
                .build()
        })
        .collect()
}

fn pg_sequences(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    ctx.catalog
        .sequences
        .values()
        .map(|s| {
            let d = &s.def;
            let st = *s.state.lock();
            me.row()
                .set("schemaname", t("public"))
                .set("sequencename", t(&d.name))
                .set("sequenceowner", t(ctx.owner_name()))
                .set("data_type", t(d.data_type.sql_name()))
                .set("start_value", i8v(d.start))
                .set("min_value", i8v(d.min_value))
                .set("max_value", i8v(d.max_value))
                .set("increment_by", i8v(d.increment))
                .set("cache_size", i8v(1))
                .set(
                    "last_value",
                    if st.called { i8v(st.last) } else { Value::Null },
                )
                .build()
        })
        .collect()
}

fn pg_tables(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    tables_sorted(ctx)
        .filter(|table| table.def.view.is_none())
        .map(|table| {
            me.row()
                .set("schemaname", t("public"))
                .set("tablename", t(&table.def.name))
                .set("tableowner", t(&table.def.owner))
                .set("hasindexes", b(!table_indexes(&table.def).is_empty()))
                .build()
        })
        .collect()
}

fn pg_views(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    tables_sorted(ctx)
        .filter_map(|table| {
            let view = table.def.view.as_ref()?;
            Some(
                me.row()
                    .set("schemaname", t("public"))
                    .set("viewname", t(&table.def.name))
                    .set("viewowner", t(&table.def.owner))
                    .set("definition", t(&view.query))
                    .build(),
            )
        })
        .collect()
}

fn pg_indexes(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    let mut rows = Vec::new();
    for table in tables_sorted(ctx) {
        for ix in table_indexes(&table.def) {
            rows.push(
                me.row()
                    .set("schemaname", t("public"))
                    .set("tablename", t(&table.def.name))
                    .set("indexname", t(ix.name))
                    .set("indexdef", t(index_def(&table.def, &ix)))
                    .build(),
            );
        }
    }
    rows
}

fn pg_tablespace(_ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    [(DEFAULT_TABLESPACE, "pg_default"), (1664, "pg_global")]
        .into_iter()
        .map(|(oid, name)| {
            me.row()
                .set("oid", o(oid))
                .set("spcname", t(name))
                .set("spcowner", o(super::BOOTSTRAP_SUPERUSER_OID))
                .build()
        })
        .collect()
}

fn pg_stat_activity(ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    vec![me
        .row()
        .set("datid", o(ctx.database_oid()))
        .set("datname", t(&ctx.database))
        .set("pid", i4(std::process::id() as i64))
        .set("usesysid", o(oids::role(&ctx.user)))
        .set("usename", t(&ctx.user))
        .set(
            "application_name",
            t(ctx
                .settings
                .get("application_name")
                .cloned()
                .unwrap_or_default()),
        )
        .set("state", t("active"))
        .set("backend_type", t("client backend"))
        .build()]
}

fn pg_proc(_ctx: &SysCtx, me: &SysTable) -> Vec<Row> {
    super::functions::CATALOG_FUNCTIONS
        .iter()
        .enumerate()
        .map(|(i, f)| {
            me.row()
                .set("oid", o(super::functions::FIRST_FUNCTION_OID + i as u32))
                .set("proname", t(f.name))
                .set("pronamespace", o(PG_CATALOG_NAMESPACE))
                .set("proowner", o(super::BOOTSTRAP_SUPERUSER_OID))
                .set("prolang", o(12))
                .set("procost", Value::Float4(1.0))
                .set("prosupport", t("-"))
                .set("prokind", t("f"))
                .set("provolatile", t("s"))
                .set("proparallel", t("s"))
                .set("pronargs", i2(f.args.len() as i64))
                .set("prorettype", o(f.ret.oid()))
                .set(
                    "proargtypes",
                    Value::Array(f.args.iter().map(|a| o(a.oid())).collect()),
                )
                .set("prosrc", t(f.name))
                .build()
        })
        .collect()
}

pub(super) fn relations() -> Vec<SysTable> {
    let rel =
        |name, oid, spec, generate| super::relation(Schema::PgCatalog, name, oid, spec, generate);
    let empty = super::no_rows;
    vec![
        rel("pg_class", 1259, "oid:oid relname:name relnamespace:oid reltype:oid reloftype:oid relowner:oid relam:oid relfilenode:oid reltablespace:oid relpages:int4 reltuples:float4 relallvisible:int4 reltoastrelid:oid relhasindex:bool relisshared:bool relpersistence:char relkind:char relnatts:int2 relchecks:int2 relhasrules:bool relhastriggers:bool relhassubclass:bool relrowsecurity:bool relforcerowsecurity:bool relispopulated:bool relreplident:char relispartition:bool relrewrite:oid relfrozenxid:int8 relminmxid:int8 relacl:aclitem[] reloptions:text[] relpartbound:text", pg_class),
        rel("pg_namespace", 2615, "oid:oid nspname:name nspowner:oid nspacl:aclitem[]", pg_namespace),
        rel("pg_attribute", 1249, "attrelid:oid attname:name atttypid:oid attstattarget:int4 attlen:int2 attnum:int2 attndims:int4 attcacheoff:int4 atttypmod:int4 attbyval:bool attalign:char attstorage:char attcompression:char attnotnull:bool atthasdef:bool atthasmissing:bool attidentity:char attgenerated:char attisdropped:bool attislocal:bool attinhcount:int4 attcollation:oid attacl:aclitem[] attoptions:text[] attfdwoptions:text[] attmissingval:text", pg_attribute),
        rel("pg_attrdef", 2604, "oid:oid adrelid:oid adnum:int2 adbin:text", pg_attrdef),
        rel("pg_type", 1247, "oid:oid typname:name typnamespace:oid typowner:oid typlen:int2 typbyval:bool typtype:char typcategory:char typispreferred:bool typisdefined:bool typdelim:char typrelid:oid typsubscript:text typelem:oid typarray:oid typinput:text typoutput:text typreceive:text typsend:text typmodin:text typmodout:text typanalyze:text typalign:char typstorage:char typnotnull:bool typbasetype:oid typtypmod:int4 typndims:int4 typcollation:oid typdefaultbin:text typdefault:text typacl:aclitem[]", pg_type),
        rel("pg_range", 3541, "rngtypid:oid rngsubtype:oid rngmultitypid:oid rngcollation:oid rngsubopc:oid rngcanonical:text rngsubdiff:text", empty),
        rel("pg_index", 2610, "indexrelid:oid indrelid:oid indnatts:int2 indnkeyatts:int2 indisunique:bool indnullsnotdistinct:bool indisprimary:bool indisexclusion:bool indimmediate:bool indisclustered:bool indisvalid:bool indcheckxmin:bool indisready:bool indislive:bool indisreplident:bool indkey:int2vector indcollation:oidvector indclass:oidvector indoption:int2vector indexprs:text indpred:text", pg_index),
        rel("pg_constraint", 2606, "oid:oid conname:name connamespace:oid contype:char condeferrable:bool condeferred:bool convalidated:bool conrelid:oid contypid:oid conindid:oid conparentid:oid confrelid:oid confupdtype:char confdeltype:char confmatchtype:char conislocal:bool coninhcount:int4 connoinherit:bool conkey:int2[] confkey:int2[] conpfeqop:oid[] conppeqop:oid[] conffeqop:oid[] confdelsetcols:int2[] conexclop:oid[] conbin:text", pg_constraint),
        rel("pg_am", 2601, "oid:oid amname:name amhandler:text amtype:char", pg_am),
        rel("pg_collation", 3456, "oid:oid collname:name collnamespace:oid collowner:oid collprovider:char collisdeterministic:bool collencoding:int4 collcollate:text collctype:text colliculocale:text collversion:text", pg_collation),
        rel("pg_database", 1262, "oid:oid datname:name datdba:oid encoding:int4 datlocprovider:char datistemplate:bool datallowconn:bool datconnlimit:int4 datfrozenxid:int8 datminmxid:int8 dattablespace:oid datcollate:text datctype:text daticulocale:text datcollversion:text datacl:aclitem[]", pg_database),
        rel("pg_roles", 12001, "rolname:name rolsuper:bool rolinherit:bool rolcreaterole:bool rolcreatedb:bool rolcanlogin:bool rolreplication:bool rolconnlimit:int4 rolpassword:text rolvaliduntil:tstz rolbypassrls:bool rolconfig:text[] oid:oid", pg_roles),
        rel("pg_user", 12002, "usename:name usesysid:oid usecreatedb:bool usesuper:bool userepl:bool usebypassrls:bool passwd:text valuntil:tstz useconfig:text[]", pg_user),
        rel("pg_auth_members", 1261, "roleid:oid member:oid grantor:oid admin_option:bool", pg_auth_members),
        rel("pg_description", 2609, "objoid:oid classoid:oid objsubid:int4 description:text", empty),
        rel("pg_shdescription", 2396, "objoid:oid classoid:oid description:text", empty),
        rel("pg_proc", 1255, "oid:oid proname:name pronamespace:oid proowner:oid prolang:oid procost:float4 prorows:float4 provariadic:oid prosupport:text prokind:char prosecdef:bool proleakproof:bool proisstrict:bool proretset:bool provolatile:char proparallel:char pronargs:int2 pronargdefaults:int2 prorettype:oid proargtypes:oidvector proallargtypes:oid[] proargmodes:char[] proargnames:text[] proargdefaults:text protrftypes:oid[] prosrc:text probin:text prosqlbody:text proconfig:text[] proacl:aclitem[]", pg_proc),
        rel("pg_settings", 12003, "name:text setting:text unit:text category:text short_desc:text extra_desc:text context:text vartype:text source:text min_val:text max_val:text enumvals:text[] boot_val:text reset_val:text sourcefile:text sourceline:int4 pending_restart:bool", pg_settings),
        rel("pg_sequence", 2224, "seqrelid:oid seqtypid:oid seqstart:int8 seqincrement:int8 seqmax:int8 seqmin:int8 seqcache:int8 seqcycle:bool", pg_sequence),
        rel("pg_sequences", 12004, "schemaname:name sequencename:name sequenceowner:name data_type:text start_value:int8 min_value:int8 max_value:int8 increment_by:int8 cycle:bool cache_size:int8 last_value:int8", pg_sequences),
        rel("pg_tables", 12005, "schemaname:name tablename:name tableowner:name tablespace:name hasindexes:bool hasrules:bool hastriggers:bool rowsecurity:bool", pg_tables),
        rel("pg_indexes", 12006, "schemaname:name tablename:name indexname:name tablespace:name indexdef:text", pg_indexes),
        rel("pg_views", 12007, "schemaname:name viewname:name viewowner:name definition:text", pg_views),
        rel("pg_matviews", 12008, "schemaname:name matviewname:name matviewowner:name tablespace:name hasindexes:bool ispopulated:bool definition:text", empty),
        rel("pg_tablespace", 1213, "oid:oid spcname:name spcowner:oid spcacl:aclitem[] spcoptions:text[]", pg_tablespace),
        rel("pg_extension", 3079, "oid:oid extname:name extowner:oid extnamespace:oid extrelocatable:bool extversion:text extconfig:oid[] extcondition:text[]", empty),
        rel("pg_stat_activity", 12009, "datid:oid datname:name pid:int4 leader_pid:int4 usesysid:oid usename:name application_name:text client_addr:text client_hostname:text client_port:int4 backend_start:tstz xact_start:tstz query_start:tstz state_change:tstz wait_event_type:text wait_event:text state:text backend_xid:int8 backend_xmin:int8 query_id:int8 query:text backend_type:text", pg_stat_activity),
        rel("pg_policy", 3256, "oid:oid polname:name polrelid:oid polcmd:char polpermissive:bool polroles:oid[] polqual:text polwithcheck:text", empty),
        rel("pg_statistic_ext", 3381, "oid:oid stxrelid:oid stxname:name stxnamespace:oid stxowner:oid stxstattarget:int4 stxkeys:int2vector stxkind:char[] stxexprs:text", empty),
        rel("pg_publication", 6104, "oid:oid pubname:name pubowner:oid puballtables:bool pubinsert:bool pubupdate:bool pubdelete:bool pubtruncate:bool pubviaroot:bool", empty),
        rel("pg_publication_rel", 6106, "oid:oid prpubid:oid prrelid:oid prqual:text prattrs:int2vector", empty),
        rel("pg_publication_namespace", 6237, "oid:oid pnpubid:oid pnnspid:oid", empty),
        rel("pg_inherits", 2611, "inhrelid:oid inhparent:oid inhseqno:int4 inhdetachpending:bool", empty),
        rel("pg_partitioned_table", 3350, "partrelid:oid partstrat:char partnatts:int2 partdefid:oid partattrs:int2vector partclass:oidvector partcollation:oidvector partexprs:text", empty),
        rel("pg_trigger", 2620, "oid:oid tgrelid:oid tgparentid:oid tgname:name tgfoid:oid tgtype:int2 tgenabled:char tgisinternal:bool tgconstrrelid:oid tgconstrindid:oid tgconstraint:oid tgdeferrable:bool tginitdeferred:bool tgnargs:int2 tgattr:int2vector tgargs:text tgqual:text tgoldtable:name tgnewtable:name", empty),
        rel("pg_rewrite", 2618, "oid:oid rulename:name ev_class:oid ev_type:char ev_enabled:char is_instead:bool ev_qual:text ev_action:text", empty),
        rel("pg_foreign_table", 3118, "ftrelid:oid ftserver:oid ftoptions:text[]", empty),
        rel("pg_enum", 3501, "oid:oid enumtypid:oid enumsortorder:float4 enumlabel:name", empty),
        rel("pg_event_trigger", 3466, "oid:oid evtname:name evtevent:name evtowner:oid evtfoid:oid evtenabled:char evttags:text[]", empty),
    ]
}
