//! Plans: the bound, typed form of statements that the executor runs.

use super::expr::{AggCall, Expr};
use crate::catalog::{IdentityKind, Table};
use crate::session::Column;
use crate::txn::Isolation;
use crate::types::DataType;
use std::sync::Arc;

/// How a scan reaches rows.
#[derive(Debug, Clone)]
pub enum Access {
    Full,
    /// Every primary-key column fixed: one row in one partition.
    PkPoint(Vec<Expr>),
    /// Range over the first primary-key column (or all pk columns' prefix).
    PkRange {
        lower: Option<(Expr, bool)>,
        upper: Option<(Expr, bool)>,
    },
    /// Equality on a leading prefix of a secondary index's columns.
    IndexEq {
        index: String,
        values: Vec<Expr>,
    },
    /// Range on the first column of a secondary index.
    IndexRange {
        index: String,
        lower: Option<(Expr, bool)>,
        upper: Option<(Expr, bool)>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

/// A window function call: `func(args) OVER (PARTITION BY ... ORDER BY
/// ... frame)`.
#[derive(Debug, Clone)]
pub struct WindowCall {
    pub func: WindowFunc,
    pub args: Vec<Expr>,
    pub partition: Vec<Expr>,
    pub order: Vec<SortKey>,
    pub frame: WindowFrame,
}

#[derive(Debug, Clone)]
pub enum WindowFunc {
    RowNumber,
    Rank,
    DenseRank,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    Aggregate(AggCall),
}

/// A window frame. Without one: with ORDER BY, from the partition start to
/// the current row's last peer; without, the whole partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowFrame {
    Default,
    Rows { start: FrameBound, end: FrameBound },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(u64),
    CurrentRow,
    Following(u64),
    UnboundedFollowing,
}

/// A set-returning function call in a select list.
#[derive(Debug, Clone)]
pub struct SetCall {
    pub func: super::srf::SetFunc,
    pub args: Vec<Expr>,
}

#[derive(Debug, Clone)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

#[derive(Clone)]
pub enum Plan {
    /// Literal rows (also the single empty row of a SELECT without FROM).
    Values {
        rows: Vec<Vec<Expr>>,
    },
    Scan {
        table: Arc<Table>,
        access: Access,
        filter: Option<Expr>,
    },
    /// A set-returning function in FROM: one column, one row per value;
    /// `WITH ORDINALITY` adds a bigint column numbering the rows from 1.
    FunctionScan {
        func: super::srf::SetFunc,
        args: Vec<Expr>,
        ordinality: bool,
    },
    /// Set-returning functions of a select list: each input row followed
    /// by the calls' values, run in lockstep (the shorter padded with
    /// NULL), as many rows as the longest call yields.
    ProjectSet {
        input: Box<Plan>,
        calls: Vec<SetCall>,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
    },
    /// Nested-loop join; the right side is materialised once.
    NestedLoop {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        on: Option<Expr>,
        left_width: usize,
        right_width: usize,
    },
    /// LATERAL: the right side runs once per left row, which it reads as
    /// its innermost outer row (an inner or left join).
    Lateral {
        left: Box<Plan>,
        right: Arc<Plan>,
        kind: JoinKind,
        on: Option<Expr>,
        right_width: usize,
    },
    /// Equi-join: builds a hash table of the right side.
    HashJoin {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        left_keys: Vec<Expr>,
        right_keys: Vec<Expr>,
        residual: Option<Expr>,
        left_width: usize,
        right_width: usize,
    },
    Aggregate {
        input: Box<Plan>,
        group: Vec<Expr>,
        aggs: Vec<AggCall>,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Plan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    Distinct {
        input: Box<Plan>,
    },
    /// DISTINCT ON: the first row (in input order) of each distinct value
    /// of the `keys` columns.
    DistinctOn {
        input: Box<Plan>,
        keys: Vec<usize>,
    },
    SetOp {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: SetOpKind,
        all: bool,
    },
    /// WITH RECURSIVE: the anchor's rows, then the recursive term run
    /// again and again over the rows the previous round produced (read
    /// through [`Plan::WorkTable`] `id`) until a round produces none.
    RecursiveUnion {
        anchor: Box<Plan>,
        recursive: Box<Plan>,
        /// UNION ALL keeps duplicates; UNION drops rows already produced.
        all: bool,
        id: usize,
    },
    /// Window functions: each input row followed by one value per call.
    Window {
        input: Box<Plan>,
        calls: Vec<WindowCall>,
    },
    /// The rows of the current round of the recursive CTE `id`.
    WorkTable {
        id: usize,
    },
    /// A system catalog relation; its rows are generated when read.
    SystemScan {
        table: &'static crate::syscat::SysTable,
    },
}

pub struct InsertPlan {
    pub table: Arc<Table>,
    /// Produces full rows in table column order (defaults filled in).
    pub source: Arc<Plan>,
    pub on_conflict: Option<OnConflict>,
    pub returning: Option<Vec<Expr>>,
}

pub enum OnConflict {
    DoNothing {
        /// Index (by name, "" = primary key) whose conflict is tolerated;
        /// `None` = any unique constraint.
        target: Option<String>,
    },
    DoUpdate {
        target: String,
        /// (column, expression over existing row ++ excluded row)
        assignments: Vec<(usize, Expr)>,
        predicate: Option<Expr>,
    },
}

pub struct UpdatePlan {
    pub table: Arc<Table>,
    pub access: Access,
    pub filter: Option<Expr>,
    /// UPDATE ... FROM: SET and RETURNING then read the joined row.
    pub join: Option<DmlJoin>,
    pub assignments: Vec<(usize, Expr)>,
    pub returning: Option<Vec<Expr>>,
}

pub struct DeletePlan {
    pub table: Arc<Table>,
    pub access: Access,
    pub filter: Option<Expr>,
    /// DELETE ... USING: RETURNING then reads the joined row.
    pub join: Option<DmlJoin>,
    pub returning: Option<Vec<Expr>>,
}

/// The join of `UPDATE ... FROM` / `DELETE ... USING`: `plan` reads the
/// target rows (each followed by its position, as an int8) through
/// [`Plan::WorkTable`] `id` and yields target columns, position, then the
/// other tables' columns.
pub struct DmlJoin {
    pub id: usize,
    pub plan: Arc<Plan>,
}

pub struct NewColumn {
    pub name: String,
    pub data_type: DataType,
    pub not_null: bool,
    pub default: Option<String>,
    pub identity: Option<IdentityKind>,
    /// serial/bigserial: create a sequence and default to its nextval.
    pub serial: bool,
}

pub struct CreateTablePlan {
    pub name: String,
    pub if_not_exists: bool,
    pub columns: Vec<NewColumn>,
    pub primary_key: Vec<usize>,
    pub pk_name: Option<String>,
    pub uniques: Vec<(Option<String>, Vec<usize>)>,
    pub checks: Vec<(Option<String>, String)>,
    pub partition_by: Option<Vec<usize>>,
    pub foreign_keys: Vec<crate::engine::NewForeignKey>,
}

/// COPY ... FROM STDIN.
pub struct CopyFromPlan {
    pub table: Arc<Table>,
    /// The table column each input field fills, in input order.
    pub columns: Vec<usize>,
    /// Per table column: its DEFAULT when no input field fills it.
    pub defaults: Vec<Option<Expr>>,
    pub options: super::copy::CopyOptions,
}

/// CREATE SEQUENCE; `None` options take PostgreSQL's defaults.
pub struct NewSequence {
    pub name: String,
    pub if_not_exists: bool,
    pub data_type: DataType,
    pub increment: Option<i64>,
    pub min_value: Option<i64>,
    pub max_value: Option<i64>,
    pub start: Option<i64>,
    pub cycle: bool,
}

/// One action of ALTER TABLE.
pub enum AlterAction {
    AddColumn {
        column: NewColumn,
        if_not_exists: bool,
        /// The value existing rows get (the default, or NULL).
        fill: Expr,
    },
    DropColumn {
        name: String,
        if_exists: bool,
    },
    RenameColumn {
        from: String,
        to: String,
    },
    RenameTable(String),
    SetDefault {
        column: String,
        default: Option<String>,
    },
    SetNotNull {
        column: String,
        not_null: bool,
    },
    SetType {
        column: String,
        data_type: DataType,
    },
    AddPrimaryKey {
        name: Option<String>,
        columns: Vec<String>,
    },
    AddUnique {
        name: Option<String>,
        columns: Vec<String>,
    },
    AddCheck {
        name: Option<String>,
        expr: String,
    },
    AddForeignKey(crate::engine::NewForeignKey),
    DropConstraint {
        name: String,
        if_exists: bool,
    },
}

pub enum Command {
    Query(Arc<Plan>),
    CopyFrom(CopyFromPlan),
    /// COPY ... TO STDOUT of a table or a query's rows.
    CopyTo {
        plan: Arc<Plan>,
        column_names: Vec<String>,
        options: super::copy::CopyOptions,
    },
    Insert(InsertPlan),
    Update(UpdatePlan),
    Delete(DeletePlan),
    CreateTable(CreateTablePlan),
    DropTable {
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
    CreateView(crate::engine::NewView),
    DropView {
        names: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
    CreateIndex {
        name: Option<String>,
        table: String,
        columns: Vec<String>,
        unique: bool,
        if_not_exists: bool,
    },
    DropIndex {
        names: Vec<String>,
        if_exists: bool,
    },
    CreateSequence(NewSequence),
    DropSequence {
        names: Vec<String>,
        if_exists: bool,
    },
    AlterTable {
        table: String,
        if_exists: bool,
        actions: Vec<AlterAction>,
    },
    Truncate {
        tables: Vec<Arc<Table>>,
    },
    Begin {
        isolation: Option<Isolation>,
        /// The command tag (`BEGIN` or `START TRANSACTION`).
        tag: &'static str,
    },
    Commit,
    Rollback,
    Savepoint(String),
    RollbackTo(String),
    Release(String),
    /// SET or RESET of a setting (`value: None` = its default).
    Set {
        name: String,
        value: Option<String>,
        /// `SET` or `RESET`.
        tag: &'static str,
        /// SET LOCAL: only until the end of the transaction.
        local: bool,
    },
    SetTransaction(Isolation),
    Show(String),
    ResetAll,
    /// Statements accepted for compatibility that have nothing to do
    /// (VACUUM, ANALYZE, ...), with their command tag.
    NoOp(&'static str),
    /// BACKUP, RESTORE, SHOW BACKUP, VERIFY BACKUP.
    Backup(Box<crate::backup::BackupStatement>),
    /// CREATE DATABASE, DROP DATABASE.
    Database(Box<crate::databases::DatabaseStatement>),
    /// Role and privilege statements.
    Role(super::roles::RoleCommand),
}

/// A statement bound to the catalog.
pub struct BoundStatement {
    pub command: Command,
    pub columns: Vec<Column>,
    pub param_types: Vec<DataType>,
    /// Table privileges the statement needs; checked at every execution.
    pub access: crate::acl::AccessNeeds,
}
