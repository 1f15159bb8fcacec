//! Functions over the system catalogs that clients call: format_type,
//! pg_get_expr, pg_get_indexdef, pg_table_is_visible, has_*_privilege,
//! and the reg* conversions (`'t'::regclass`, `oid::regclass`).

use super::pg_catalog::{
    constraint_def, format_type, index_def, table_constraints, table_indexes, type_by_name,
    type_by_oid,
};
use super::{oids, SysCtx};
use crate::error::{Error, Result, SqlState};
use crate::sql::exec::StmtCtx;
use crate::types::io::{format_text, IoContext};
use crate::types::{DataType, Value};
use std::sync::LazyLock;

/// A catalog function, as bound into an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogFunc {
    FormatType,
    GetExpr,
    GetIndexdef,
    GetConstraintdef,
    GetViewdef,
    GetStatisticsobjdefColumns,
    /// pg_get_triggerdef: NULL, as for every OID that is not a trigger's
    /// (pg_trigger has no rows: foreign keys are enforced without
    /// catalog triggers).
    GetTriggerdef,
    TableIsVisible,
    TypeIsVisible,
    RelationIsPublishable,
    GetUserById,
    EncodingToChar,
    CurrentSchemas,
    SetConfig,
    /// has_table_privilege and friends: every role may do everything
    /// until privileges exist; the object must exist.
    HasTablePrivilege,
    HasSchemaPrivilege,
    HasDatabasePrivilege,
    GetSerialSequence,
    ToRegclass,
    ToRegtype,
    ObjDescription,
    ShobjDescription,
    MyTempSchema,
    IsOtherTempSchema,
    BackendPid,
    PostmasterStartTime,
    /// text -> oid for `::regclass` and friends.
    RegIn(RegKind),
    /// oid -> its name for `oid::regclass` and friends.
    RegOut(RegKind),
}

/// The reg* types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegKind {
    Class,
    Type,
    Namespace,
    Proc,
}

impl RegKind {
    pub fn from_type_name(name: &str) -> Option<RegKind> {
        Some(match name {
            "regclass" => RegKind::Class,
            "regtype" => RegKind::Type,
            "regnamespace" => RegKind::Namespace,
            "regproc" | "regprocedure" => RegKind::Proc,
            _ => return None,
        })
    }
}

/// A callable signature. `Unknown` argument types accept any type.
pub struct CatalogFunction {
    pub name: &'static str,
    pub func: CatalogFunc,
    pub args: Vec<DataType>,
    pub ret: DataType,
}

/// OIDs of catalog functions in pg_proc (by position in the list).
pub const FIRST_FUNCTION_OID: u32 = 14000;

const ANY: DataType = DataType::Unknown;
const T: DataType = DataType::Text;
const O: DataType = DataType::Oid;
const B: DataType = DataType::Bool;
const I4: DataType = DataType::Int4;

pub static CATALOG_FUNCTIONS: LazyLock<Vec<CatalogFunction>> = LazyLock::new(|| {
    use CatalogFunc as F;
    let f = |name, func, args: &[DataType], ret| CatalogFunction {
        name,
        func,
        args: args.to_vec(),
        ret,
    };
    vec![
        f("format_type", F::FormatType, &[O, I4], T),
        f("pg_get_expr", F::GetExpr, &[T, O], T),
        f("pg_get_expr", F::GetExpr, &[T, O, B], T),
        f("pg_get_indexdef", F::GetIndexdef, &[O], T),
        f("pg_get_indexdef", F::GetIndexdef, &[O, I4, B], T),
        f("pg_get_constraintdef", F::GetConstraintdef, &[O], T),
        f("pg_get_constraintdef", F::GetConstraintdef, &[O, B], T),
        f("pg_get_viewdef", F::GetViewdef, &[O], T),
        f("pg_get_viewdef", F::GetViewdef, &[O, B], T),
        f(
            "pg_get_statisticsobjdef_columns",
            F::GetStatisticsobjdefColumns,
            &[O],
            T,
        ),
        f("pg_get_triggerdef", F::GetTriggerdef, &[O], T),
        f("pg_get_triggerdef", F::GetTriggerdef, &[O, B], T),
        f("pg_table_is_visible", F::TableIsVisible, &[O], B),
        f("pg_type_is_visible", F::TypeIsVisible, &[O], B),
        f(
            "pg_relation_is_publishable",
            F::RelationIsPublishable,
            &[O],
            B,
        ),
        f("pg_get_userbyid", F::GetUserById, &[O], DataType::Name),
        f(
            "pg_encoding_to_char",
            F::EncodingToChar,
            &[I4],
            DataType::Name,
        ),
        f(
            "current_schemas",
            F::CurrentSchemas,
            &[B],
            DataType::Name.array_of().expect("name[]"),
        ),
        f("set_config", F::SetConfig, &[T, T, B], T),
        f("has_table_privilege", F::HasTablePrivilege, &[ANY, T], B),
        f(
            "has_table_privilege",
            F::HasTablePrivilege,
            &[ANY, ANY, T],
            B,
        ),
        f("has_schema_privilege", F::HasSchemaPrivilege, &[ANY, T], B),
        f(
            "has_schema_privilege",
            F::HasSchemaPrivilege,
            &[ANY, ANY, T],
            B,
        ),
        f(
            "has_database_privilege",
            F::HasDatabasePrivilege,
            &[ANY, T],
            B,
        ),
        f(
            "has_database_privilege",
            F::HasDatabasePrivilege,
            &[ANY, ANY, T],
            B,
        ),
        f("pg_get_serial_sequence", F::GetSerialSequence, &[T, T], T),
        f("to_regclass", F::ToRegclass, &[T], O),
        f("to_regtype", F::ToRegtype, &[T], O),
        f("obj_description", F::ObjDescription, &[O], T),
        f("obj_description", F::ObjDescription, &[O, T], T),
        f("col_description", F::ObjDescription, &[O, I4], T),
        f("shobj_description", F::ShobjDescription, &[O, T], T),
        f("pg_my_temp_schema", F::MyTempSchema, &[], O),
        f("pg_is_other_temp_schema", F::IsOtherTempSchema, &[O], B),
        f("pg_backend_pid", F::BackendPid, &[], I4),
        f(
            "pg_postmaster_start_time",
            F::PostmasterStartTime,
            &[],
            DataType::TimestampTz,
        ),
    ]
});

/// The catalog function called `name` with `nargs` arguments.
pub fn lookup(name: &str, nargs: usize) -> Option<&'static CatalogFunction> {
    CATALOG_FUNCTIONS
        .iter()
        .find(|f| f.name == name && f.args.len() == nargs)
}

/// Whether some catalog function is called `name` (for the error when
/// the argument count matches none).
pub fn exists(name: &str) -> bool {
    CATALOG_FUNCTIONS.iter().any(|f| f.name == name)
}

/// The result type of a bound catalog function.
pub fn return_type(f: CatalogFunc) -> DataType {
    match f {
        CatalogFunc::RegIn(_) => DataType::Oid,
        CatalogFunc::RegOut(_) => DataType::Text,
        other => CATALOG_FUNCTIONS
            .iter()
            .find(|c| c.func == other)
            .map(|c| c.ret)
            .unwrap_or(DataType::Text),
    }
}

fn undefined_table(name: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_TABLE,
        format!("relation \"{name}\" does not exist"),
    )
}

fn oid_arg(v: &Value) -> Option<u32> {
    match v {
        Value::Oid(o) => Some(*o),
        Value::Int2(i) => Some(*i as u32),
        Value::Int4(i) => Some(*i as u32),
        Value::Int8(i) => Some(*i as u32),
        _ => None,
    }
}

fn text_arg(v: &Value) -> Option<&str> {
    match v {
        Value::Text(s) => Some(s),
        _ => None,
    }
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// Splits a possibly schema-qualified, possibly quoted name into its
/// schema and (case-folded unless quoted) object name.
pub fn split_qualified(name: &str) -> (Option<String>, String) {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = name.trim().chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            c if quoted => cur.push(c),
            c => cur.extend(c.to_lowercase()),
        }
    }
    parts.push(cur);
    let name = parts.pop().unwrap_or_default();
    (parts.pop(), name)
}

/// A relation's OID by (possibly qualified) name: tables, indexes,
/// sequences and system relations.
pub fn relation_oid(sys: &SysCtx, name: &str) -> Option<u32> {
    let (schema, rel) = split_qualified(name);
    match schema.as_deref() {
        None | Some("public") => {
            if schema.is_none() {
                if let Some(t) = super::lookup(None, &rel) {
                    return Some(t.oid);
                }
            }
            let cat = &sys.catalog;
            if let Some(t) = cat.tables.get(&rel) {
                return Some(t.def.oid);
            }
            if let Some(s) = cat.sequences.get(&rel) {
                return Some(s.def.oid);
            }
            cat.tables.values().find_map(|t| {
                table_indexes(&t.def)
                    .into_iter()
                    .find(|i| i.name == rel)
                    .map(|i| i.oid)
            })
        }
        Some(s) => super::lookup(Some(s), &rel).map(|t| t.oid),
    }
}

/// A relation's name by OID, schema-qualified when not on the search path
/// (as regclass prints it).
pub fn relation_name(sys: &SysCtx, oid: u32) -> Option<String> {
    let cat = &sys.catalog;
    for t in cat.tables.values() {
        if t.def.oid == oid {
            return Some(quote(&t.def.name));
        }
        if let Some(i) = table_indexes(&t.def).into_iter().find(|i| i.oid == oid) {
            return Some(quote(i.name));
        }
    }
    if let Some(s) = cat.sequences.values().find(|s| s.def.oid == oid) {
        return Some(quote(&s.def.name));
    }
    super::by_oid(oid).map(|t| match t.schema {
        super::Schema::PgCatalog => t.name.to_string(),
        super::Schema::InformationSchema => format!("information_schema.{}", t.name),
    })
}

fn quote(s: &str) -> String {
    crate::types::functions::quote_ident(s)
}

fn namespace_oid(name: &str) -> Option<u32> {
    match split_qualified(name).1.as_str() {
        "pg_catalog" => Some(super::PG_CATALOG_NAMESPACE),
        "public" => Some(super::PUBLIC_NAMESPACE),
        "information_schema" => Some(super::INFORMATION_SCHEMA_NAMESPACE),
        _ => None,
    }
}

fn namespace_name(oid: u32) -> Option<&'static str> {
    match oid {
        super::PG_CATALOG_NAMESPACE => Some("pg_catalog"),
        super::PUBLIC_NAMESPACE => Some("public"),
        super::INFORMATION_SCHEMA_NAMESPACE => Some("information_schema"),
        _ => None,
    }
}

fn function_oid(name: &str) -> Option<u32> {
    let (_, n) = split_qualified(name);
    CATALOG_FUNCTIONS
        .iter()
        .position(|f| f.name == n)
        .map(|i| FIRST_FUNCTION_OID + i as u32)
}

fn reg_in(kind: RegKind, sys: &SysCtx, name: &str) -> Result<Option<u32>> {
    // A number is taken as an OID as it is.
    if let Ok(n) = name.trim().parse::<u32>() {
        return Ok(Some(n));
    }
    Ok(match kind {
        RegKind::Class => relation_oid(sys, name),
        RegKind::Type => type_by_name(name).map(|t| t.oid),
        RegKind::Namespace => namespace_oid(name),
        RegKind::Proc => function_oid(name),
    })
}

fn reg_in_error(kind: RegKind, name: &str) -> Error {
    match kind {
        RegKind::Class => undefined_table(name),
        RegKind::Type => Error::new(
            SqlState::UNDEFINED_OBJECT,
            format!("type \"{name}\" does not exist"),
        ),
        RegKind::Namespace => Error::new(
            SqlState("3F000"),
            format!("schema \"{name}\" does not exist"),
        ),
        RegKind::Proc => Error::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("function \"{name}\" does not exist"),
        ),
    }
}

fn reg_out(kind: RegKind, sys: &SysCtx, oid: u32) -> String {
    if oid == 0 {
        return "-".into();
    }
    let name = match kind {
        RegKind::Class => relation_name(sys, oid),
        RegKind::Type => type_by_oid(oid).map(|t| format_type(t.oid, -1)),
        RegKind::Namespace => namespace_name(oid).map(str::to_string),
        RegKind::Proc => CATALOG_FUNCTIONS
            .get(oid.wrapping_sub(FIRST_FUNCTION_OID) as usize)
            .map(|f| f.name.to_string()),
    };
    name.unwrap_or_else(|| oid.to_string())
}

fn check_privilege_names(privs: &str, allowed: &[&str]) -> Result<()> {
    for p in privs.split(',') {
        let p = p.trim().to_lowercase();
        let p = p.strip_suffix(" with grant option").unwrap_or(&p).trim();
        if !allowed.contains(&p) {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("unrecognized privilege type: \"{p}\""),
            ));
        }
    }
    Ok(())
}

/// Evaluates a catalog function.
pub fn eval(f: CatalogFunc, args: &[Value], ctx: &StmtCtx) -> Result<Value> {
    use CatalogFunc as F;
    // Most functions are strict.
    let strict = !matches!(f, F::FormatType | F::SetConfig | F::RegOut(_) | F::RegIn(_));
    if strict && args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let sys = || SysCtx::from_stmt(ctx);
    let oid0 = || args.first().and_then(oid_arg).unwrap_or(0);
    Ok(match f {
        F::FormatType => match args.first().and_then(oid_arg) {
            None => Value::Null,
            Some(oid) => {
                let typmod = match args.get(1) {
                    Some(Value::Int4(m)) => *m,
                    _ => -1,
                };
                text(format_type(oid, typmod))
            }
        },
        F::GetExpr => args[0].clone(),
        F::GetIndexdef => {
            let oid = oid0();
            let sys = sys();
            let found = sys.catalog.tables.values().find_map(|t| {
                table_indexes(&t.def)
                    .into_iter()
                    .find(|i| i.oid == oid)
                    .map(|i| index_def(&t.def, &i))
            });
            found.map(text).unwrap_or(Value::Null)
        }
        F::GetConstraintdef => {
            let oid = oid0();
            let pretty = args.get(1).and_then(Value::as_bool).unwrap_or(false);
            let sys = sys();
            let table_of = |low: u32| {
                sys.catalog
                    .tables
                    .values()
                    .find(|t| t.def.oid & 0x7F_FFFF == low)
            };
            let found = match oids::decode_constraint(oid) {
                Some(oids::ConstraintRef::Check(low, _)) => table_of(low).and_then(|t| {
                    table_constraints(&t.def, &sys.catalog)
                        .into_iter()
                        .find(|c| c.oid == oid)
                        .map(|c| constraint_def(&c, pretty))
                }),
                Some(oids::ConstraintRef::Index(_)) => sys.catalog.tables.values().find_map(|t| {
                    table_constraints(&t.def, &sys.catalog)
                        .into_iter()
                        .find(|c| c.oid == oid)
                        .map(|c| constraint_def(&c, pretty))
                }),
                None => None,
            };
            found.map(text).unwrap_or(Value::Null)
        }
        F::GetViewdef => {
            let oid = oid0();
            sys()
                .catalog
                .tables
                .values()
                .find(|t| t.def.oid == oid)
                .and_then(|t| t.def.view.as_ref())
                .map(|v| text(v.query.clone()))
                .unwrap_or(Value::Null)
        }
        F::GetStatisticsobjdefColumns | F::GetTriggerdef => Value::Null,
        F::TableIsVisible => {
            let oid = oid0();
            let sys = sys();
            Value::Bool(
                relation_name(&sys, oid).is_some_and(|n| !n.starts_with("information_schema.")),
            )
        }
        F::TypeIsVisible => Value::Bool(type_by_oid(oid0()).is_some()),
        F::RelationIsPublishable => {
            let oid = oid0();
            Value::Bool(sys().catalog.tables.values().any(|t| t.def.oid == oid))
        }
        F::GetUserById => {
            let oid = oid0();
            let sys = sys();
            text(
                sys.role_name(oid)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("unknown (OID={oid})")),
            )
        }
        F::EncodingToChar => match &args[0] {
            Value::Int4(6) => text("UTF8"),
            Value::Int4(0) => text("SQL_ASCII"),
            _ => text(""),
        },
        F::CurrentSchemas => {
            let implicit = args[0].as_bool().unwrap_or(false);
            let names: &[&str] = if implicit {
                &["pg_catalog", "public"]
            } else {
                &["public"]
            };
            Value::Array(names.iter().map(|n| text(*n)).collect())
        }
        F::SetConfig => return Err(Error::unsupported("set_config() is not supported; use SET")),
        F::HasTablePrivilege => {
            let (target, privs) = privilege_args(args);
            let sys = sys();
            let role = match args.len() {
                3 => match &args[0] {
                    Value::Text(name) => name.clone(),
                    v => {
                        let oid = oid_arg(v).unwrap_or(0);
                        sys.role_name(oid).map(str::to_string).ok_or_else(|| {
                            Error::new(
                                SqlState::UNDEFINED_OBJECT,
                                format!("role with OID {oid} does not exist"),
                            )
                        })?
                    }
                },
                _ => ctx.user.clone(),
            };
            let oid = match target {
                Value::Text(name) => {
                    relation_oid(&sys, name).ok_or_else(|| undefined_table(name))?
                }
                v => oid_arg(v)
                    .filter(|o| relation_name(&sys, *o).is_some())
                    .ok_or_else(|| {
                        undefined_table(&format!("with OID {}", oid_arg(v).unwrap_or(0)))
                    })?,
            };
            let store = &ctx.engine.roles;
            match sys.catalog.tables.values().find(|t| t.def.oid == oid) {
                Some(table) => Value::Bool(crate::acl::role_has_table_privilege(
                    store, &role, &table.def, privs,
                )?),
                None => {
                    // System catalogs are readable by everyone, as
                    // PostgreSQL grants SELECT on them to PUBLIC; indexes
                    // and sequences have no privileges of their own.
                    let Some(r) = store.get(&role) else {
                        return Err(Error::new(
                            SqlState::UNDEFINED_OBJECT,
                            format!("role \"{role}\" does not exist"),
                        ));
                    };
                    let wanted = crate::acl::parse_privilege_list(privs)?;
                    let system = super::by_oid(oid).is_some();
                    Value::Bool(
                        r.superuser
                            || !system
                            || wanted
                                .iter()
                                .any(|(p, g)| !g && *p == crate::acl::Privilege::Select),
                    )
                }
            }
        }
        F::HasSchemaPrivilege => {
            let (target, privs) = privilege_args(args);
            let exists = match target {
                Value::Text(name) => namespace_oid(name).is_some(),
                v => oid_arg(v).is_some_and(|o| namespace_name(o).is_some()),
            };
            if !exists {
                return Err(Error::new(
                    SqlState("3F000"),
                    format!(
                        "schema \"{}\" does not exist",
                        text_arg(target).unwrap_or("?")
                    ),
                ));
            }
            check_privilege_names(privs, &["usage", "create"])?;
            Value::Bool(true)
        }
        F::HasDatabasePrivilege => {
            let (target, privs) = privilege_args(args);
            let databases = crate::databases::all_of(&ctx.engine, &ctx.database);
            let exists = match target {
                Value::Text(name) => databases.iter().any(|d| d.name == **name),
                v => oid_arg(v).is_some_and(|oid| databases.iter().any(|d| d.oid == oid)),
            };
            if !exists {
                return Err(Error::new(
                    SqlState("3D000"),
                    format!(
                        "database \"{}\" does not exist",
                        text_arg(target).unwrap_or("?")
                    ),
                ));
            }
            check_privilege_names(privs, &["create", "connect", "temporary", "temp"])?;
            Value::Bool(true)
        }
        F::GetSerialSequence => {
            let (table, column) = (text_arg(&args[0]), text_arg(&args[1]));
            let (Some(table), Some(column)) = (table, column) else {
                return Ok(Value::Null);
            };
            let (_, tname) = split_qualified(table);
            let sys = sys();
            let t = sys
                .catalog
                .tables
                .get(&tname)
                .ok_or_else(|| undefined_table(table))?;
            let col = column.to_string();
            let Some(c) = t.def.columns.iter().find(|c| c.name == col) else {
                return Err(Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{col}\" of relation \"{tname}\" does not exist"),
                ));
            };
            let seq = format!("{}_{}_seq", t.def.name, c.name);
            if t.def.owned_sequences.contains(&seq) {
                text(format!("public.{}", quote(&seq)))
            } else {
                Value::Null
            }
        }
        F::ToRegclass => {
            let sys = sys();
            match relation_oid(&sys, text_arg(&args[0]).unwrap_or("")) {
                Some(o) => Value::Oid(o),
                None => Value::Null,
            }
        }
        F::ToRegtype => match type_by_name(text_arg(&args[0]).unwrap_or("")) {
            Some(t) => Value::Oid(t.oid),
            None => Value::Null,
        },
        // There is no COMMENT ON yet, so nothing has a description.
        F::ObjDescription | F::ShobjDescription => Value::Null,
        F::MyTempSchema => Value::Oid(0),
        F::IsOtherTempSchema => Value::Bool(false),
        F::BackendPid => Value::Int4(std::process::id() as i32),
        F::PostmasterStartTime => Value::TimestampTz(ctx.engine.started),
        F::RegIn(kind) => {
            let name = match &args[0] {
                Value::Null => return Ok(Value::Null),
                Value::Text(s) => s.clone(),
                other => {
                    let mut s = String::new();
                    format_text(other, &IoContext::default(), &mut s);
                    s
                }
            };
            match reg_in(kind, &sys(), &name)? {
                Some(o) => Value::Oid(o),
                None => return Err(reg_in_error(kind, &name)),
            }
        }
        F::RegOut(kind) => match args.first().and_then(oid_arg) {
            None => Value::Null,
            Some(oid) => text(reg_out(kind, &sys(), oid)),
        },
    })
}

/// (object, privileges) of has_*_privilege([role,] object, privileges).
fn privilege_args(args: &[Value]) -> (&Value, &str) {
    let n = args.len();
    (&args[n - 2], text_arg(&args[n - 1]).unwrap_or(""))
}
