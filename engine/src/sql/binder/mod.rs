//! The binder: resolves names against the catalog, types expressions,
//! infers parameter types, and builds plans (choosing access paths).

use super::expr::{AggCall, AggFunc, Expr, SpecialFunc, Subquery, SubqueryKind};
use super::parser::{parse_expr, Parsed};
use super::plan::*;
use super::roles::{self, RoleCommand};
use crate::catalog::{CatalogSnapshot, IdentityKind, Table};
use crate::error::{Error, Result, SqlState};
use crate::session::Column;
use crate::txn::Isolation;
use crate::types::cast::{can_implicit_cast, common_type};
use crate::types::functions;
use crate::types::io::{parse_text, IoContext};
use crate::types::value::{binary_op_type, no_operator, unary_op_type, BinaryOp, UnaryOp};
use crate::types::{DataType, Value};
use rust_decimal::Decimal;
use sqlparser::ast;
use std::str::FromStr;
use std::sync::Arc;

#[derive(Clone, Debug)]
struct ScopeCol {
    table: Option<String>,
    /// The right-hand twin of a `JOIN ... USING` column: reachable only
    /// qualified, and left out of `SELECT *`.
    hidden: bool,
    /// The visible column of a `JOIN ... USING` pair: `SELECT *` lists it
    /// first.
    merged: bool,
    name: String,
    ty: DataType,
    table_oid: u32,
    col_id: i16,
}

#[derive(Clone, Debug, Default)]
struct Scope {
    cols: Vec<ScopeCol>,
}

impl Scope {
    fn width(&self) -> usize {
        self.cols.len()
    }
}

/// An output column of a bound query.
#[derive(Clone, Debug)]
pub struct OutCol {
    pub name: String,
    pub ty: DataType,
    pub table_oid: u32,
    pub col_id: i16,
}

impl OutCol {
    fn column(&self) -> Column {
        Column {
            name: self.name.clone(),
            data_type: self.ty,
            table_oid: self.table_oid,
            column_id: self.col_id,
        }
    }
}

pub struct Binder<'a> {
    catalog: &'a CatalogSnapshot,
    params: Vec<DataType>,
    next_subquery: usize,
    io: IoContext,
    /// WITH queries in scope, innermost last.
    ctes: Vec<cte::CteBinding>,
    /// Window function calls bound so far; a SELECT takes its own.
    windows: Vec<WindowCall>,
    /// Privileges the statement needs, noted as tables and columns are
    /// resolved.
    needs: std::cell::RefCell<crate::acl::AccessNeeds>,
    /// Current expression/query nesting, bounded by
    /// [`super::limits::MAX_EXPR_DEPTH`].
    depth: usize,
    /// Where a set-returning function call is allowed right now.
    srf: select_srf::SrfPlace,
    /// The next SELECT bound leaves its unknown-typed outputs (a bare NULL
    /// or string literal) unknown, for its context to type: an INSERT's
    /// source or a set operation's branch. Any other SELECT makes them
    /// text, as PostgreSQL does.
    keep_unknown_outputs: bool,
}

/// The data-modifying statement a query body is, if it is one.
fn dml_body(body: &ast::SetExpr) -> Option<&ast::Statement> {
    match body {
        ast::SetExpr::Insert(s) | ast::SetExpr::Update(s) | ast::SetExpr::Delete(s) => Some(s),
        _ => None,
    }
}

pub fn ident(i: &ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

/// The unqualified object name (schema `public`/`pg_catalog` prefixes are
/// accepted and dropped).
pub fn object_name(n: &ast::ObjectName) -> Result<String> {
    let parts: Vec<String> =
        n.0.iter()
            .map(|p| match p {
                ast::ObjectNamePart::Identifier(i) => Ok(ident(i)),
                _ => Err(Error::syntax(format!("unsupported name {n}"))),
            })
            .collect::<Result<_>>()?;
    match parts.as_slice() {
        [name] => Ok(name.clone()),
        [schema, name] if schema == "public" || schema == "pg_catalog" => Ok(name.clone()),
        [schema, _] => Err(Error::new(
            SqlState::UNDEFINED_OBJECT,
            format!("schema \"{schema}\" does not exist"),
        )),
        _ => Err(Error::syntax(format!("improper qualified name: {n}"))),
    }
}

fn undefined_column(name: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_COLUMN,
        format!("column \"{name}\" does not exist"),
    )
}

/// Converts a SQL type name to a [`DataType`]. `serial` types map to their
/// integer type; the caller handles the sequence.
pub fn convert_type(t: &ast::DataType) -> Result<DataType> {
    use ast::DataType as T;
    let char_len = |l: &Option<ast::CharacterLength>| -> Option<u32> {
        match l {
            Some(ast::CharacterLength::IntegerLength { length, .. }) => Some(*length as u32),
            _ => None,
        }
    };
    Ok(match t {
        T::Bool | T::Boolean => DataType::Bool,
        T::SmallInt(_) | T::Int2(_) => DataType::Int2,
        T::Int(_) | T::Integer(_) | T::Int4(_) => DataType::Int4,
        T::BigInt(_) | T::Int8(_) => DataType::Int8,
        T::Real | T::Float4 => DataType::Float4,
        T::Double(_) | T::DoublePrecision | T::Float8 => DataType::Float8,
        T::Float(info) => match info {
            ast::ExactNumberInfo::Precision(p) if *p <= 24 => DataType::Float4,
            _ => DataType::Float8,
        },
        T::Numeric(info) | T::Decimal(info) | T::Dec(info) => match info {
            ast::ExactNumberInfo::None => DataType::Numeric(None),
            ast::ExactNumberInfo::Precision(p) => numeric_type(*p, 0)?,
            ast::ExactNumberInfo::PrecisionAndScale(p, s) => numeric_type(*p, *s)?,
        },
        T::Text | T::String(_) => DataType::Text,
        T::Varchar(l) | T::CharacterVarying(l) | T::CharVarying(l) => {
            DataType::Varchar(char_len(l))
        }
        T::Char(l) | T::Character(l) => DataType::Char(Some(char_len(l).unwrap_or(1))),
        T::Bytea => DataType::Bytea,
        T::Date => DataType::Date,
        T::Time(_, _) => DataType::Time,
        T::Timestamp(_, tz) => match tz {
            ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz => DataType::TimestampTz,
            _ => DataType::Timestamp,
        },
        T::Interval { .. } => DataType::Interval,
        T::Uuid => DataType::Uuid,
        T::JSON => DataType::Json,
        T::JSONB => DataType::Jsonb,
        T::Regclass => DataType::Oid,
        T::Array(
            ast::ArrayElemTypeDef::SquareBracket(inner, _)
            | ast::ArrayElemTypeDef::Qualified(inner, _),
        ) => {
            let elem = convert_type(inner)?;
            elem.array_of().ok_or_else(|| {
                Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("arrays of {} are not supported", elem.sql_name()),
                )
            })?
        }
        T::Custom(name, mods) => {
            let n = object_name(name)?;
            match n.as_str() {
                "serial" | "serial4" | "int4" => DataType::Int4,
                "bigserial" | "serial8" | "int8" => DataType::Int8,
                "smallserial" | "serial2" | "int2" => DataType::Int2,
                "timestamptz" => DataType::TimestampTz,
                "bpchar" => DataType::Char(mods.first().and_then(|m| m.to_string().parse().ok())),
                "oid" | "regtype" | "regclass" | "regproc" | "regnamespace" => DataType::Oid,
                "name" => DataType::Name,
                "float4" => DataType::Float4,
                "float8" => DataType::Float8,
                "bool" => DataType::Bool,
                // Other built-in type names (text, varchar, "char", ...).
                _ if crate::syscat::pg_catalog::type_by_name(&n).is_some() => {
                    let t = crate::syscat::pg_catalog::type_by_name(&n).expect("checked");
                    DataType::from_oid(t.oid).unwrap_or(DataType::Text)
                }
                "json" => DataType::Json,
                "jsonb" => DataType::Jsonb,
                _ => {
                    return Err(Error::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("type \"{n}\" does not exist"),
                    ))
                }
            }
        }
        other => {
            return Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("type \"{other}\" is not supported"),
            ))
        }
    })
}

fn numeric_type(p: u64, s: i64) -> Result<DataType> {
    if !(1..=1000).contains(&p) {
        return Err(Error::syntax(format!(
            "NUMERIC precision {p} must be between 1 and 1000"
        )));
    }
    if s < 0 || s as u64 > p {
        return Err(Error::syntax(format!(
            "NUMERIC scale {s} must be between 0 and precision {p}"
        )));
    }
    Ok(DataType::Numeric(Some((p as u32, s as u32))))
}

fn is_serial(t: &ast::DataType) -> bool {
    if let ast::DataType::Custom(name, _) = t {
        if let Ok(n) = object_name(name) {
            return matches!(
                n.as_str(),
                "serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2"
            );
        }
    }
    false
}

impl<'a> Binder<'a> {
    pub fn new(
        catalog: &'a CatalogSnapshot,
        param_types: &[DataType],
        io: IoContext,
    ) -> Binder<'a> {
        Binder {
            catalog,
            params: param_types.to_vec(),
            next_subquery: 0,
            io,
            ctes: Vec::new(),
            windows: Vec::new(),
            needs: Default::default(),
            depth: 0,
            srf: Default::default(),
            keep_unknown_outputs: false,
        }
    }

    pub fn bind(mut self, stmt: &Parsed) -> Result<BoundStatement> {
        let (command, columns) = match stmt {
            Parsed::NoOp(tag) => (Command::NoOp(tag), vec![]),
            Parsed::Backup(b) => (Command::Backup(b.clone()), crate::backup::result_columns(b)),
            Parsed::Database(d) => (Command::Database(d.clone()), vec![]),
            Parsed::Sql(s) => self.bind_statement(s)?,
            Parsed::Copy(c) => (self.bind_copy(c)?, vec![]),
        };
        let param_types = self
            .params
            .iter()
            .map(|t| {
                if *t == DataType::Unknown {
                    DataType::Text
                } else {
                    *t
                }
            })
            .collect();
        Ok(BoundStatement {
            command,
            columns,
            param_types,
            access: self.needs.into_inner(),
        })
    }

    /// EXPLAIN: the plan's text as the rows of a one-column query. The
    /// explained statement is bound (so it needs the same privileges) but
    /// not run.
    fn bind_explain(
        &mut self,
        analyze: bool,
        statement: &ast::Statement,
        options: Option<&[ast::UtilityOption]>,
    ) -> Result<(Command, Vec<Column>)> {
        let mut analyze = analyze;
        for o in options.unwrap_or_default() {
            let on = o.arg.as_ref().is_none_or(|a| {
                !matches!(a.to_string().to_lowercase().as_str(), "false" | "off" | "0")
            });
            match o.name.value.to_lowercase().as_str() {
                "analyze" => analyze = on,
                "verbose" | "costs" | "summary" | "timing" | "buffers" | "settings" | "wal" => {}
                "format" => {
                    let format = o.arg.as_ref().map(|a| a.to_string().to_lowercase());
                    if format.as_deref() != Some("text") {
                        return Err(Error::unsupported("EXPLAIN supports only FORMAT TEXT"));
                    }
                }
                other => {
                    return Err(Error::new(
                        SqlState::SYNTAX_ERROR,
                        format!("unrecognized EXPLAIN option \"{other}\""),
                    ))
                }
            }
        }
        if analyze {
            return Err(Error::unsupported("EXPLAIN ANALYZE is not supported"));
        }
        let (command, _) = self.bind_statement(statement)?;
        let lines = crate::sql::explain::render(&command).ok_or_else(|| {
            Error::unsupported("EXPLAIN supports SELECT, INSERT, UPDATE and DELETE")
        })?;
        let rows = lines
            .into_iter()
            .map(|l| vec![Expr::Literal(Value::Text(l))])
            .collect();
        Ok((
            Command::Query(Arc::new(Plan::Values { rows })),
            vec![Column {
                name: "QUERY PLAN".into(),
                data_type: DataType::Text,
                table_oid: 0,
                column_id: 0,
            }],
        ))
    }

    fn bind_statement(&mut self, stmt: &ast::Statement) -> Result<(Command, Vec<Column>)> {
        use ast::Statement as S;
        Ok(match stmt {
            S::Query(q) => match (&q.with, dml_body(&q.body)) {
                // `WITH ... INSERT/UPDATE/DELETE`: the WITH queries are in
                // scope for the statement.
                (Some(with), Some(inner)) => {
                    let mark = self.push_ctes(with)?;
                    let bound = self.bind_statement(inner);
                    self.pop_ctes(mark);
                    bound?
                }
                _ => {
                    let (plan, cols) = self.bind_query(q, &[])?;
                    (
                        Command::Query(Arc::new(plan)),
                        cols.iter().map(OutCol::column).collect(),
                    )
                }
            },
            S::Explain {
                analyze,
                statement,
                options,
                ..
            } => self.bind_explain(*analyze, statement, options.as_deref())?,
            S::Insert(ins) => self.bind_insert(ins)?,
            S::Update(upd) => self.bind_update(upd)?,
            S::Delete(del) => self.bind_delete(del)?,
            S::CreateTable(ct) => (Command::CreateTable(self.bind_create_table(ct)?), vec![]),
            S::CreateView(cv) => (self.bind_create_view(cv)?, vec![]),
            S::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => {
                let names = names.iter().map(object_name).collect::<Result<Vec<_>>>()?;
                match object_type {
                    ast::ObjectType::Table => (
                        Command::DropTable {
                            names,
                            if_exists: *if_exists,
                            cascade: *cascade,
                        },
                        vec![],
                    ),
                    ast::ObjectType::View => (
                        Command::DropView {
                            names,
                            if_exists: *if_exists,
                            cascade: *cascade,
                        },
                        vec![],
                    ),
                    ast::ObjectType::Sequence => (
                        Command::DropSequence {
                            names,
                            if_exists: *if_exists,
                        },
                        vec![],
                    ),
                    ast::ObjectType::Index => (
                        Command::DropIndex {
                            names,
                            if_exists: *if_exists,
                        },
                        vec![],
                    ),
                    ast::ObjectType::Role | ast::ObjectType::User => (
                        Command::Role(RoleCommand::DropRole {
                            names,
                            if_exists: *if_exists,
                        }),
                        vec![],
                    ),
                    other => {
                        return Err(Error::unsupported(format!("DROP {other} is not supported")))
                    }
                }
            }
            S::CreateIndex(ci) => {
                let table = object_name(&ci.table_name)?;
                let mut columns = Vec::new();
                for c in &ci.columns {
                    match &c.column.expr {
                        ast::Expr::Identifier(i) => columns.push(ident(i)),
                        other => {
                            return Err(Error::unsupported(format!(
                                "index expressions are not supported: {other}"
                            )))
                        }
                    }
                }
                let name = ci.name.as_ref().map(object_name).transpose()?;
                (
                    Command::CreateIndex {
                        name,
                        table,
                        columns,
                        unique: ci.unique,
                        if_not_exists: ci.if_not_exists,
                    },
                    vec![],
                )
            }
            S::AlterTable(at) => (self.bind_alter_table(at)?, vec![]),
            S::CreateSequence {
                temporary,
                if_not_exists,
                name,
                sequence_options,
                ..
            } => {
                if *temporary {
                    return Err(Error::unsupported("temporary sequences are not supported"));
                }
                (
                    Command::CreateSequence(self.bind_create_sequence(
                        object_name(name)?,
                        *if_not_exists,
                        sequence_options,
                    )?),
                    vec![],
                )
            }
            S::Truncate(t) => {
                let mut tables = Vec::new();
                for target in &t.table_names {
                    let table = self.catalog.table(&object_name(&target.name)?)?.clone();
                    if table.def.is_view() {
                        return Err(Error::new(
                            SqlState::WRONG_OBJECT_TYPE,
                            format!("\"{}\" is not a table", table.def.name),
                        ));
                    }
                    self.needs
                        .borrow_mut()
                        .require(&table.def, crate::acl::Privilege::Truncate);
                    tables.push(table);
                }
                (Command::Truncate { tables }, vec![])
            }
            S::StartTransaction { modes, begin, .. } => (
                Command::Begin {
                    isolation: isolation_of(modes)?,
                    tag: if *begin { "BEGIN" } else { "START TRANSACTION" },
                },
                vec![],
            ),
            S::Commit { .. } => (Command::Commit, vec![]),
            S::Rollback { savepoint, .. } => match savepoint {
                Some(name) => (Command::RollbackTo(ident(name)), vec![]),
                None => (Command::Rollback, vec![]),
            },
            S::Savepoint { name } => (Command::Savepoint(ident(name)), vec![]),
            S::ReleaseSavepoint { name } => (Command::Release(ident(name)), vec![]),
            S::Set(set) => (self.bind_set(set)?, vec![]),
            S::CreateRole(cr) => (Command::Role(roles::bind_create_role(cr)?), vec![]),
            S::AlterRole { name, operation } => (
                Command::Role(roles::bind_alter_role(name, operation)?),
                vec![],
            ),
            S::Grant(g) => (Command::Role(roles::bind_grant(g)?), vec![]),
            S::Revoke(r) => (Command::Role(roles::bind_revoke(r)?), vec![]),
            S::GrantRole(g) => (Command::Role(roles::bind_grant_role(g)?), vec![]),
            S::RevokeRole(r) => (Command::Role(roles::bind_revoke_role(r)?), vec![]),
            S::ShowVariable { variable } => {
                let name = variable.iter().map(ident).collect::<Vec<_>>().join(" ");
                let name = match name.as_str() {
                    "transaction isolation level" => "transaction_isolation".to_string(),
                    "time zone" => "timezone".to_string(),
                    _ => name,
                };
                let col = Column {
                    name: name.clone(),
                    data_type: DataType::Text,
                    table_oid: 0,
                    column_id: 0,
                };
                let cols = if name == "all" {
                    ["name", "setting", "description"]
                        .iter()
                        .map(|n| Column {
                            name: n.to_string(),
                            ..col.clone()
                        })
                        .collect()
                } else {
                    vec![col]
                };
                (Command::Show(name), cols)
            }
            S::Reset(r) => match &r.reset {
                ast::Reset::ALL => (Command::ResetAll, vec![]),
                ast::Reset::SessionAuthorization => (
                    Command::Role(RoleCommand::SetSessionAuthorization(None, "RESET")),
                    vec![],
                ),
                ast::Reset::ConfigurationParameter(name) if object_name(name)? == "role" => {
                    (Command::Role(RoleCommand::SetRole(None, "RESET")), vec![])
                }
                ast::Reset::ConfigurationParameter(name) => (
                    Command::Set {
                        name: object_name(name)?,
                        value: None,
                        tag: "RESET",
                        local: false,
                    },
                    vec![],
                ),
            },
            other => {
                return Err(Error::unsupported(format!(
                    "statement not supported: {}",
                    first_words(&other.to_string())
                )))
            }
        })
    }

    fn bind_set(&mut self, set: &ast::Set) -> Result<Command> {
        match set {
            ast::Set::SingleAssignment {
                scope,
                variable,
                values,
                ..
            } => {
                let name = object_name(variable)?;
                let local = matches!(scope, Some(ast::ContextModifier::Local));
                let value = if values.len() == 1 && is_default_keyword(&values[0]) {
                    None
                } else {
                    Some(
                        values
                            .iter()
                            .map(setting_value)
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                };
                Ok(Command::Set {
                    name,
                    value,
                    tag: "SET",
                    local,
                })
            }
            ast::Set::SetTimeZone { value, .. } => Ok(Command::Set {
                name: "timezone".into(),
                value: Some(setting_value(value)),
                tag: "SET",
                local: false,
            }),
            ast::Set::SetNames { charset_name, .. } => Ok(Command::Set {
                name: "client_encoding".into(),
                value: Some(charset_name.value.clone()),
                tag: "SET",
                local: false,
            }),
            ast::Set::SetRole { role_name, .. } => Ok(Command::Role(RoleCommand::SetRole(
                role_name.as_ref().map(ident),
                "SET",
            ))),
            ast::Set::SetSessionAuthorization(p) => {
                Ok(Command::Role(roles::bind_set_session_authorization(p)))
            }
            ast::Set::SetTransaction { modes, .. } => match isolation_of(modes)? {
                Some(iso) => Ok(Command::SetTransaction(iso)),
                None => Ok(Command::NoOp("SET")),
            },
            other => Err(Error::unsupported(format!("unsupported SET: {other}"))),
        }
    }
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn is_default_keyword(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(i) if i.value.eq_ignore_ascii_case("default") && i.quote_style.is_none())
}

fn setting_value(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => s.clone(),
            ast::Value::Number(n, _) => n.to_string(),
            other => other.to_string(),
        },
        ast::Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

fn isolation_of(modes: &[ast::TransactionMode]) -> Result<Option<Isolation>> {
    let mut iso = None;
    for m in modes {
        match m {
            ast::TransactionMode::IsolationLevel(level) => {
                iso = Some(match level {
                    ast::TransactionIsolationLevel::ReadUncommitted
                    | ast::TransactionIsolationLevel::ReadCommitted => Isolation::ReadCommitted,
                    ast::TransactionIsolationLevel::RepeatableRead => Isolation::RepeatableRead,
                    ast::TransactionIsolationLevel::Serializable => Isolation::Serializable,
                    other => {
                        return Err(Error::unsupported(format!(
                            "isolation level {other} is not supported"
                        )))
                    }
                })
            }
            ast::TransactionMode::AccessMode(_) => {}
        }
    }
    Ok(iso)
}

/// Binds a CHECK constraint's text against a table's columns.
pub fn bind_table_check(def: &crate::catalog::TableDef, text: &str) -> Result<Expr> {
    let empty = CatalogSnapshot {
        version: 0,
        tables: Default::default(),
        sequences: Default::default(),
    };
    let mut b = Binder::new(&empty, &[], IoContext::default());
    let scope = Scope {
        cols: def
            .columns
            .iter()
            .map(|c| ScopeCol {
                table: Some(def.name.clone()),
                hidden: false,
                merged: false,
                name: c.name.clone(),
                ty: c.data_type,
                table_oid: def.oid,
                col_id: 0,
            })
            .collect(),
    };
    let e = parse_expr(text)?;
    b.bind_predicate(&e, &[scope])
}

mod alter;
mod array;
mod copy;
mod cte;
mod ddl;
mod dml;
mod dml_join;
mod expr;
mod foreign_key;
mod json;
mod lateral;
mod query;
mod select_srf;
mod syscat;
mod view;
mod window;
