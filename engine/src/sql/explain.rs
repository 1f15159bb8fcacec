//! EXPLAIN: renders a bound statement's plan as PostgreSQL-style text, one
//! line per row of the `QUERY PLAN` column. Besides the access path of each
//! scan it says which partitions the scan or write touches: one partition
//! when the primary key is fixed by constants, one chosen at run time when
//! it is fixed by parameters, otherwise all of them.

use super::expr::{AggCall, AggFunc, Expr, Subquery, SubqueryKind};
use super::plan::{Access, Command, DmlJoin, JoinKind, Plan, SetOpKind, SortKey, WindowFunc};
use crate::catalog::Table;
use crate::types::{io, Value};
use std::sync::Arc;

/// The plan of `command` as text lines, or `None` for statements that have
/// no plan (utility statements).
pub fn render(command: &Command) -> Option<Vec<String>> {
    let mut out = Explainer::default();
    match command {
        Command::Query(plan) => out.plan(plan, 0),
        Command::Insert(ins) => {
            out.node(0, format!("Insert on {}", ins.table.def.name));
            out.detail(0, insert_partitions(&ins.table, &ins.source));
            out.plan(&ins.source, 1);
        }
        Command::Update(up) => {
            out.node(0, format!("Update on {}", up.table.def.name));
            out.dml_source(&up.table, &up.access, up.filter.as_ref(), up.join.as_ref());
        }
        Command::Delete(del) => {
            out.node(0, format!("Delete on {}", del.table.def.name));
            out.dml_source(
                &del.table,
                &del.access,
                del.filter.as_ref(),
                del.join.as_ref(),
            );
        }
        Command::CopyTo { plan, .. } => out.plan(plan, 0),
        _ => return None,
    }
    Some(out.lines)
}

#[derive(Default)]
struct Explainer {
    lines: Vec<String>,
    /// Output column names of the recursive CTEs being rendered, by id.
    work_tables: Vec<(usize, Vec<String>)>,
    /// Column names of enclosing queries, innermost last (for correlated
    /// subqueries).
    outer: Vec<Vec<String>>,
    subplans: usize,
    /// UPDATE ... FROM / DELETE ... USING: the work table id that stands
    /// for the target table's scan.
    dml_target: Option<(usize, Arc<Table>, Access, Option<Expr>)>,
}

impl Explainer {
    fn node(&mut self, depth: usize, text: String) {
        if depth == 0 {
            self.lines.push(text);
        } else {
            let indent = " ".repeat(2 + 6 * (depth - 1));
            self.lines.push(format!("{indent}->  {text}"));
        }
    }

    fn detail(&mut self, depth: usize, text: String) {
        let indent = " ".repeat(2 + 6 * depth);
        self.lines.push(format!("{indent}{text}"));
    }

    /// Renders `plan` at `depth`; subqueries met in its expressions are
    /// rendered after it as SubPlans.
    fn plan(&mut self, plan: &Plan, depth: usize) {
        let mut subs: Vec<Subquery> = Vec::new();
        match plan {
            Plan::Values { rows } => {
                if rows.len() == 1 {
                    self.node(depth, "Result".into());
                } else {
                    self.node(depth, "Values Scan".into());
                }
                rows.iter()
                    .flatten()
                    .for_each(|e| collect_subqueries(e, &mut subs));
            }
            Plan::Scan {
                table,
                access,
                filter,
            } => {
                if let Some(f) = filter {
                    collect_subqueries(f, &mut subs);
                }
                self.scan(depth, table, access, filter.as_ref());
            }
            Plan::FunctionScan { func, .. } => {
                let name = format!("{func:?}");
                self.node(depth, format!("Function Scan on {}", snake_case(&name)));
            }
            Plan::ProjectSet { input, calls } => {
                calls
                    .iter()
                    .flat_map(|c| &c.args)
                    .for_each(|e| collect_subqueries(e, &mut subs));
                self.node(depth, "ProjectSet".into());
                self.plan(input, depth + 1);
            }
            Plan::Filter { input, predicate } => {
                collect_subqueries(predicate, &mut subs);
                self.node(depth, "Filter".into());
                let names = self.names(input);
                let text = self.expr(predicate, &names);
                self.detail(depth, format!("Filter: {text}"));
                self.plan(input, depth + 1);
            }
            Plan::Project { input, exprs } => {
                exprs.iter().for_each(|e| collect_subqueries(e, &mut subs));
                if subs.is_empty() {
                    // Projections are not nodes of their own in PostgreSQL's
                    // plans either.
                    self.plan(input, depth);
                } else {
                    self.node(depth, "Result".into());
                    self.plan(input, depth + 1);
                }
            }
            Plan::NestedLoop {
                left,
                right,
                kind,
                on,
                ..
            } => {
                self.node(depth, format!("Nested Loop{}", join_suffix(*kind)));
                if let Some(on) = on {
                    self.join_filter(depth, on, left, right, &mut subs);
                }
                self.plan(left, depth + 1);
                self.node(depth + 1, "Materialize".into());
                self.plan(right, depth + 2);
            }
            Plan::Lateral {
                left,
                right,
                kind,
                on,
                ..
            } => {
                self.node(depth, format!("Nested Loop{}", join_suffix(*kind)));
                let always = matches!(on, Some(Expr::Literal(Value::Bool(true))));
                if let Some(on) = on.as_ref().filter(|_| !always) {
                    self.join_filter(depth, on, left, right, &mut subs);
                }
                self.plan(left, depth + 1);
                let left_names = self.names(left);
                self.outer.push(left_names);
                self.plan(right, depth + 1);
                self.outer.pop();
            }
            Plan::HashJoin {
                left,
                right,
                kind,
                left_keys,
                right_keys,
                residual,
                ..
            } => {
                self.node(depth, format!("Hash{}", join_suffix(*kind)));
                let lnames = self.names(left);
                let rnames = self.names(right);
                let conds: Vec<String> = left_keys
                    .iter()
                    .zip(right_keys)
                    .map(|(l, r)| {
                        format!("({} = {})", self.expr(l, &lnames), self.expr(r, &rnames))
                    })
                    .collect();
                self.detail(depth, format!("Hash Cond: {}", conds.join(" AND ")));
                if let Some(res) = residual {
                    self.join_filter(depth, res, left, right, &mut subs);
                }
                self.plan(left, depth + 1);
                self.node(depth + 1, "Hash".into());
                self.plan(right, depth + 2);
            }
            Plan::Aggregate { input, group, .. } => {
                let names = self.names(input);
                if group.is_empty() {
                    self.node(depth, "Aggregate".into());
                } else {
                    self.node(depth, "HashAggregate".into());
                    let keys: Vec<String> = group.iter().map(|g| self.expr(g, &names)).collect();
                    self.detail(depth, format!("Group Key: {}", keys.join(", ")));
                }
                self.plan(input, depth + 1);
            }
            Plan::Sort { input, keys } => {
                self.node(depth, "Sort".into());
                let names = self.names(input);
                let keys = self.sort_keys(keys, &names);
                self.detail(depth, format!("Sort Key: {keys}"));
                self.plan(input, depth + 1);
            }
            Plan::Limit { input, .. } => {
                self.node(depth, "Limit".into());
                self.plan(input, depth + 1);
            }
            Plan::Distinct { input } => {
                self.node(depth, "HashAggregate".into());
                let names = self.names(input);
                self.detail(depth, format!("Group Key: {}", names.join(", ")));
                self.plan(input, depth + 1);
            }
            Plan::DistinctOn { input, keys } => {
                self.node(depth, "Unique".into());
                let names = self.names(input);
                let keys: Vec<&str> = keys.iter().map(|&k| names[k].as_str()).collect();
                self.detail(depth, format!("Distinct On: {}", keys.join(", ")));
                self.plan(input, depth + 1);
            }
            Plan::SetOp {
                left,
                right,
                kind,
                all,
            } => {
                let name = match (kind, all) {
                    (SetOpKind::Union, true) => "Append".to_string(),
                    (SetOpKind::Union, false) => "HashAggregate (Union)".to_string(),
                    (SetOpKind::Intersect, all) => {
                        format!("HashSetOp Intersect{}", if *all { " All" } else { "" })
                    }
                    (SetOpKind::Except, all) => {
                        format!("HashSetOp Except{}", if *all { " All" } else { "" })
                    }
                };
                self.node(depth, name);
                self.plan(left, depth + 1);
                self.plan(right, depth + 1);
            }
            Plan::RecursiveUnion {
                anchor,
                recursive,
                id,
                ..
            } => {
                self.node(depth, "Recursive Union".into());
                let names = self.names(anchor);
                self.work_tables.push((*id, names));
                self.plan(anchor, depth + 1);
                self.plan(recursive, depth + 1);
                self.work_tables.pop();
            }
            Plan::WorkTable { id } => match self.dml_target.clone() {
                Some((target, table, access, filter)) if target == *id => {
                    self.scan(depth, &table, &access, filter.as_ref())
                }
                _ => self.node(depth, "WorkTable Scan".into()),
            },
            Plan::SystemScan { table } => self.node(
                depth,
                format!("Seq Scan on {}.{}", table.schema.name(), table.name),
            ),
            Plan::Window { input, calls } => {
                self.node(depth, "WindowAgg".into());
                let names = self.names(input);
                if let Some(call) = calls.first() {
                    let mut parts = Vec::new();
                    if !call.partition.is_empty() {
                        let p: Vec<String> = call
                            .partition
                            .iter()
                            .map(|e| self.expr(e, &names))
                            .collect();
                        parts.push(format!("PARTITION BY {}", p.join(", ")));
                    }
                    if !call.order.is_empty() {
                        parts.push(format!("ORDER BY {}", self.sort_keys(&call.order, &names)));
                    }
                    if !parts.is_empty() {
                        self.detail(depth, format!("Window: ({})", parts.join(" ")));
                    }
                }
                self.plan(input, depth + 1);
            }
        }
        self.subplans(depth, &subs, plan);
    }

    fn subplans(&mut self, depth: usize, subs: &[Subquery], owner: &Plan) {
        if subs.is_empty() {
            return;
        }
        let names = self.names(owner);
        for sq in subs {
            self.subplans += 1;
            let label = if sq.correlated { "SubPlan" } else { "InitPlan" };
            self.detail(depth, format!("{label} {}", self.subplans));
            self.outer.push(names.clone());
            self.plan(&sq.plan, depth + 1);
            self.outer.pop();
        }
    }

    /// The rows an UPDATE or DELETE changes: a scan of its table, joined
    /// with the FROM / USING tables when it has them.
    fn dml_source(
        &mut self,
        table: &Arc<Table>,
        access: &Access,
        filter: Option<&Expr>,
        join: Option<&DmlJoin>,
    ) {
        let Some(join) = join else {
            return self.scan(1, table, access, filter);
        };
        let mut names: Vec<String> = table
            .def
            .columns
            .iter()
            .map(|c| format!("{}.{}", table.def.name, c.name))
            .collect();
        names.push(String::new());
        self.work_tables.push((join.id, names));
        self.dml_target = Some((join.id, table.clone(), access.clone(), filter.cloned()));
        self.plan(&join.plan, 1);
        self.dml_target = None;
        self.work_tables.pop();
    }

    fn scan(&mut self, depth: usize, table: &Table, access: &Access, filter: Option<&Expr>) {
        let def = &table.def;
        let names: Vec<String> = def.columns.iter().map(|c| c.name.clone()).collect();
        let pk_name = def.pk_name.clone().unwrap_or_else(|| "primary key".into());
        let pk_cols: Vec<&str> = def
            .primary_key
            .iter()
            .map(|&c| def.columns[c].name.as_str())
            .collect();
        let partitions = table.store.partition_count();
        match access {
            Access::Full => {
                self.node(depth, format!("Seq Scan on {}", def.name));
                self.detail(depth, format!("Partitions: all {partitions}"));
            }
            Access::PkPoint(values) => {
                self.node(depth, format!("Index Scan using {pk_name} on {}", def.name));
                let conds: Vec<String> = pk_cols
                    .iter()
                    .zip(values)
                    .map(|(c, v)| format!("({c} = {})", self.expr(v, &names)))
                    .collect();
                self.detail(depth, format!("Index Cond: {}", conds.join(" AND ")));
                let constants: Option<Vec<Value>> = values.iter().map(constant).collect();
                let which = match constants {
                    Some(vals) => {
                        let mut full = vec![Value::Null; def.columns.len()];
                        for (v, &c) in vals.into_iter().zip(&def.primary_key) {
                            full[c] = v;
                        }
                        let (_, p) = table.store.place_existing(def, &full);
                        format!("Partitions: 1 of {partitions} (partition {p})")
                    }
                    None => {
                        format!("Partitions: 1 of {partitions} (chosen by the key at run time)")
                    }
                };
                self.detail(depth, which);
            }
            Access::PkRange { lower, upper } => {
                self.node(depth, format!("Index Scan using {pk_name} on {}", def.name));
                let first = pk_cols.first().copied().unwrap_or("?");
                let cond = self.range(first, lower.as_ref(), upper.as_ref(), &names);
                self.detail(depth, format!("Index Cond: {cond}"));
                self.detail(depth, format!("Partitions: all {partitions}"));
            }
            Access::IndexEq { index, values } => {
                self.node(depth, format!("Index Scan using {index} on {}", def.name));
                let cols = index_columns(def, index);
                let conds: Vec<String> = cols
                    .iter()
                    .zip(values)
                    .map(|(c, v)| format!("({c} = {})", self.expr(v, &names)))
                    .collect();
                self.detail(depth, format!("Index Cond: {}", conds.join(" AND ")));
                self.detail(
                    depth,
                    format!("Partitions: those of the matching rows, of {partitions}"),
                );
            }
            Access::IndexRange {
                index,
                lower,
                upper,
            } => {
                self.node(depth, format!("Index Scan using {index} on {}", def.name));
                let cols = index_columns(def, index);
                let first = cols.first().cloned().unwrap_or_default();
                let cond = self.range(&first, lower.as_ref(), upper.as_ref(), &names);
                self.detail(depth, format!("Index Cond: {cond}"));
                self.detail(
                    depth,
                    format!("Partitions: those of the matching rows, of {partitions}"),
                );
            }
        }
        if let Some(f) = filter {
            let text = self.expr(f, &names);
            self.detail(depth, format!("Filter: {text}"));
        }
    }

    fn range(
        &self,
        column: &str,
        lower: Option<&(Expr, bool)>,
        upper: Option<&(Expr, bool)>,
        names: &[String],
    ) -> String {
        let mut parts = Vec::new();
        if let Some((e, inclusive)) = lower {
            let op = if *inclusive { ">=" } else { ">" };
            parts.push(format!("({column} {op} {})", self.expr(e, names)));
        }
        if let Some((e, inclusive)) = upper {
            let op = if *inclusive { "<=" } else { "<" };
            parts.push(format!("({column} {op} {})", self.expr(e, names)));
        }
        parts.join(" AND ")
    }

    fn sort_keys(&self, keys: &[SortKey], names: &[String]) -> String {
        keys.iter()
            .map(|k| {
                let mut s = self.expr(&k.expr, names);
                if k.desc {
                    s.push_str(" DESC");
                }
                if k.nulls_first != k.desc {
                    s.push_str(if k.nulls_first {
                        " NULLS FIRST"
                    } else {
                        " NULLS LAST"
                    });
                }
                s
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A join's "Join Filter:" line over its two inputs' columns.
    fn join_filter(
        &mut self,
        depth: usize,
        cond: &Expr,
        left: &Plan,
        right: &Plan,
        subs: &mut Vec<Subquery>,
    ) {
        collect_subqueries(cond, subs);
        let names = self.join_names(left, right);
        let text = self.expr(cond, &names);
        self.detail(depth, format!("Join Filter: {text}"));
    }

    fn join_names(&self, left: &Plan, right: &Plan) -> Vec<String> {
        let mut names = self.names(left);
        names.extend(self.names(right));
        names
    }

    /// The names of a plan's output columns, for rendering expressions over
    /// them.
    fn names(&self, plan: &Plan) -> Vec<String> {
        match plan {
            Plan::Values { rows } => (1..=rows.first().map_or(0, Vec::len))
                .map(|i| format!("column{i}"))
                .collect(),
            Plan::Scan { table, .. } => table
                .def
                .columns
                .iter()
                .map(|c| format!("{}.{}", table.def.name, c.name))
                .collect(),
            Plan::FunctionScan {
                func, ordinality, ..
            } => {
                let mut names = match func.column_names() {
                    Some(names) => names.iter().map(|n| n.to_string()).collect(),
                    None => vec![snake_case(&format!("{func:?}"))],
                };
                if *ordinality {
                    names.push("ordinality".into());
                }
                names
            }
            Plan::SystemScan { table } => {
                table.columns.iter().map(|c| c.name.to_string()).collect()
            }
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input }
            | Plan::DistinctOn { input, .. } => self.names(input),
            Plan::Project { input, exprs } => {
                let names = self.names(input);
                exprs.iter().map(|e| self.expr(e, &names)).collect()
            }
            Plan::ProjectSet { input, calls } => {
                let mut names = self.names(input);
                let produced: Vec<String> = calls
                    .iter()
                    .map(|c| {
                        let args: Vec<String> =
                            c.args.iter().map(|e| self.expr(e, &names)).collect();
                        format!("{}({})", c.func.name(), args.join(", "))
                    })
                    .collect();
                names.extend(produced);
                names
            }
            Plan::NestedLoop { left, right, .. } | Plan::HashJoin { left, right, .. } => {
                self.join_names(left, right)
            }
            Plan::Lateral { left, right, .. } => self.join_names(left, right),
            Plan::Aggregate { input, group, aggs } => {
                let names = self.names(input);
                let mut out: Vec<String> = group.iter().map(|g| self.expr(g, &names)).collect();
                out.extend(aggs.iter().map(|a| self.agg(a, &names)));
                out
            }
            Plan::SetOp { left, .. } => self.names(left),
            Plan::RecursiveUnion { anchor, .. } => self.names(anchor),
            Plan::WorkTable { id } => self
                .work_tables
                .iter()
                .rev()
                .find(|(i, _)| i == id)
                .map(|(_, n)| n.clone())
                .unwrap_or_default(),
            Plan::Window { input, calls } => {
                let names = self.names(input);
                let mut out = names.clone();
                for call in calls {
                    let args: Vec<String> =
                        call.args.iter().map(|a| self.expr(a, &names)).collect();
                    let name = match &call.func {
                        WindowFunc::Aggregate(a) => self.agg(a, &names),
                        f => format!("{}({})", snake_case(&format!("{f:?}")), args.join(", ")),
                    };
                    out.push(name);
                }
                out
            }
        }
    }

    fn agg(&self, a: &AggCall, names: &[String]) -> String {
        let args: Vec<String> = a.args.iter().map(|e| self.expr(e, names)).collect();
        let name = match a.func {
            AggFunc::CountStar => return "count(*)".into(),
            f => snake_case(&format!("{f:?}")),
        };
        let distinct = if a.distinct { "DISTINCT " } else { "" };
        format!("{name}({distinct}{})", args.join(", "))
    }

    /// An expression as SQL-like text over columns called `names`.
    fn expr(&self, e: &Expr, names: &[String]) -> String {
        let x = |e: &Expr| self.expr(e, names);
        let list = |es: &[Expr]| es.iter().map(x).collect::<Vec<_>>().join(", ");
        match e {
            Expr::Literal(v) => literal(v),
            Expr::Column(i) => names.get(*i).cloned().unwrap_or_else(|| format!("#{i}")),
            Expr::Outer { depth, index } => self
                .outer
                .len()
                .checked_sub(*depth)
                .and_then(|d| self.outer.get(d))
                .and_then(|n| n.get(*index).cloned())
                .unwrap_or_else(|| format!("outer#{index}")),
            Expr::Param(i) => format!("${}", i + 1),
            Expr::Binary { op, left, right } => {
                format!("({} {} {})", x(left), op.symbol(), x(right))
            }
            Expr::Unary { op, expr } => format!("({} {})", op.symbol(), x(expr)),
            Expr::And(l, r) => format!("({} AND {})", x(l), x(r)),
            Expr::Or(l, r) => format!("({} OR {})", x(l), x(r)),
            Expr::IsNull { expr, negated } => {
                format!(
                    "({} IS {}NULL)",
                    x(expr),
                    if *negated { "NOT " } else { "" }
                )
            }
            Expr::IsDistinct {
                left,
                right,
                negated,
            } => format!(
                "({} IS {}DISTINCT FROM {})",
                x(left),
                if *negated { "NOT " } else { "" },
                x(right)
            ),
            Expr::IsBool {
                expr,
                value,
                negated,
            } => format!(
                "({} IS {}{})",
                x(expr),
                if *negated { "NOT " } else { "" },
                if *value { "TRUE" } else { "FALSE" }
            ),
            Expr::Cast { expr, to } => format!("({})::{}", x(expr), to.sql_name()),
            Expr::Func { func, args } => {
                format!("{}({})", snake_case(&format!("{func:?}")), list(args))
            }
            Expr::Special { func, args } => {
                format!("{}({})", snake_case(&format!("{func:?}")), list(args))
            }
            Expr::Case { .. } => "CASE ... END".into(),
            Expr::Coalesce(args) => format!("COALESCE({})", list(args)),
            Expr::NullIf(l, r) => format!("NULLIF({}, {})", x(l), x(r)),
            Expr::InList {
                expr,
                list: items,
                negated,
            } => format!(
                "({} {}IN ({}))",
                x(expr),
                if *negated { "NOT " } else { "" },
                list(items)
            ),
            Expr::Subquery(sq) => match &sq.kind {
                SubqueryKind::Scalar => "(SubPlan)".into(),
                SubqueryKind::Exists => {
                    format!("({}EXISTS(SubPlan))", if sq.negated { "NOT " } else { "" })
                }
                SubqueryKind::In(left) => format!(
                    "({} {}IN (SubPlan))",
                    x(left),
                    if sq.negated { "NOT " } else { "" }
                ),
                SubqueryKind::Array => "ARRAY(SubPlan)".into(),
            },
            Expr::Array(items) => format!("ARRAY[{}]", list(items)),
            Expr::Subscript { array, index } => format!("{}[{}]", x(array), x(index)),
            Expr::Slice {
                array,
                lower,
                upper,
            } => format!(
                "{}[{}:{}]",
                x(array),
                lower.as_deref().map(x).unwrap_or_default(),
                upper.as_deref().map(x).unwrap_or_default()
            ),
            Expr::AnyAll {
                op,
                left,
                right,
                all,
            } => format!(
                "({} {} {}({}))",
                x(left),
                op.symbol(),
                if *all { "ALL" } else { "ANY" },
                x(right)
            ),
            Expr::Agg(a) => self.agg(a, names),
            Expr::Window(i) => format!("window#{i}"),
        }
    }
}

fn join_suffix(kind: JoinKind) -> &'static str {
    match kind {
        JoinKind::Inner => " Join",
        JoinKind::Left => " Left Join",
        JoinKind::Right => " Right Join",
        JoinKind::Full => " Full Join",
    }
}

fn index_columns(def: &crate::catalog::TableDef, index: &str) -> Vec<String> {
    def.indexes
        .iter()
        .find(|i| i.name == index)
        .map(|i| {
            i.columns
                .iter()
                .map(|&c| def.columns[c].name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Which partitions an INSERT writes: computable when every source row has
/// constant primary-key values.
fn insert_partitions(table: &Table, source: &Plan) -> String {
    let def = &table.def;
    let partitions = table.store.partition_count();
    let Plan::Values { rows } = source else {
        return format!("Partitions: chosen per row at run time, of {partitions}");
    };
    if def.primary_key.is_empty() {
        return format!("Partitions: chosen per row at run time, of {partitions}");
    }
    let mut hit = std::collections::BTreeSet::new();
    for row in rows {
        let values: Option<Vec<Value>> = row.iter().map(constant).collect();
        let Some(values) = values else {
            return format!("Partitions: chosen per row at run time, of {partitions}");
        };
        hit.insert(table.store.place_existing(def, &values).1);
    }
    let list: Vec<String> = hit.iter().map(u16::to_string).collect();
    format!(
        "Partitions: {} of {partitions} ({})",
        hit.len(),
        if hit.len() == 1 {
            format!("partition {}", list[0])
        } else {
            format!("partitions {}", list.join(", "))
        }
    )
}

fn constant(e: &Expr) -> Option<Value> {
    match e {
        Expr::Literal(v) => Some(v.clone()),
        _ => None,
    }
}

fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(_)
        | Value::Int2(_)
        | Value::Int4(_)
        | Value::Int8(_)
        | Value::Float4(_)
        | Value::Float8(_)
        | Value::Numeric(_) => io::to_text(v, &io::IoContext::default()),
        other => {
            let text = io::to_text(other, &io::IoContext::default());
            format!("'{}'", text.replace('\'', "''"))
        }
    }
}

fn collect_subqueries(e: &Expr, out: &mut Vec<Subquery>) {
    e.walk(&mut |e| {
        if let Expr::Subquery(sq) = e {
            out.push((**sq).clone());
        }
    });
}

/// `DateTrunc` -> `date_trunc`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}
