//! Binding INSERT, UPDATE and DELETE, and choosing access paths.

use super::*;

impl Binder<'_> {
    fn table_scope(&self, table: &Table, alias: Option<String>) -> Scope {
        let tname = alias.unwrap_or_else(|| table.def.name.clone());
        Scope {
            cols: table
                .def
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| ScopeCol {
                    table: Some(tname.clone()),
                    hidden: false,
                    merged: false,
                    name: c.name.clone(),
                    ty: c.data_type,
                    table_oid: table.def.oid,
                    col_id: i as i16 + 1,
                })
                .collect(),
        }
    }

    /// The bound DEFAULT of column `i` (NULL when it has none).
    pub(super) fn default_expr(&mut self, table: &Table, i: usize) -> Result<Expr> {
        let col = &table.def.columns[i];
        match &col.default {
            None => Ok(Expr::Literal(Value::Null)),
            Some(text) => {
                let e = parse_expr(text)?;
                let (bound, ty) = self.bind_expr(&e, &[Scope::default()])?;
                self.coerce_assign(bound, ty, col.data_type, &col.name)
            }
        }
    }

    /// Coercion for storing into a column: implicit casts plus the
    /// assignment casts PostgreSQL allows (numeric narrowing, anything to
    /// text, timestamptz to timestamp or date).
    pub(super) fn coerce_assign(
        &mut self,
        e: Expr,
        from: DataType,
        to: DataType,
        column: &str,
    ) -> Result<Expr> {
        if from == to || from == DataType::Unknown {
            return self.coerce(e, from, to);
        }
        if crate::types::cast::can_assign_cast(from, to) {
            return Ok(Expr::Cast {
                expr: Box::new(e),
                to,
            });
        }
        Err(Error::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "column \"{column}\" is of type {} but expression is of type {}",
                to.sql_name(),
                from.sql_name()
            ),
        )
        .with_hint("You will need to rewrite or cast the expression."))
    }

    fn bind_returning(
        &mut self,
        items: &Option<Vec<ast::SelectItem>>,
        scope: &Scope,
    ) -> Result<(Option<Vec<Expr>>, Vec<Column>)> {
        let Some(items) = items else {
            return Ok((None, vec![]));
        };
        let (exprs, mut cols) = self.bind_select_items(items, std::slice::from_ref(scope))?;
        super::query::resolve_unknown_as_text(&mut cols);
        Ok((Some(exprs), cols.iter().map(OutCol::column).collect()))
    }

    pub(super) fn bind_insert(&mut self, ins: &ast::Insert) -> Result<(Command, Vec<Column>)> {
        let ast::TableObject::TableName(tname) = &ins.table else {
            return Err(Error::unsupported(
                "INSERT into a table function is not supported",
            ));
        };
        let table = self.catalog.table(&object_name(tname)?)?.clone();
        let def = table.def.clone();
        view::refuse_view_target(&def, "insert into")?;
        self.needs.borrow_mut().touch(&def);
        let targets: Vec<usize> = if ins.columns.is_empty() {
            // Without a column list, values fill the leading columns.
            let width = match ins.source.as_deref().map(|q| &*q.body) {
                Some(ast::SetExpr::Values(v)) => {
                    v.rows.first().map(|r| r.content.len()).unwrap_or(0)
                }
                _ => def.columns.len(),
            };
            if width > def.columns.len() {
                return Err(Error::syntax(
                    "INSERT has more expressions than target columns",
                ));
            }
            (0..width).collect()
        } else {
            let mut t = Vec::new();
            for c in &ins.columns {
                let n = object_name(c)?;
                let i = def.column_index(&n).ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!("column \"{n}\" of relation \"{}\" does not exist", def.name),
                    )
                })?;
                if t.contains(&i) {
                    return Err(Error::new(
                        SqlState::DUPLICATE_COLUMN,
                        format!("column \"{n}\" specified more than once"),
                    ));
                }
                t.push(i);
            }
            t
        };
        self.needs
            .borrow_mut()
            .insert_columns(&def, targets.iter().copied());
        let overriding = ins.overriding.is_some();
        let check_identity = |i: usize| -> Result<()> {
            let c = &def.columns[i];
            if c.identity == Some(IdentityKind::Always) && !overriding {
                return Err(Error::new(
                    SqlState("428C9"),
                    format!(
                        "cannot insert a non-DEFAULT value into column \"{}\"",
                        c.name
                    ),
                )
                .with_detail(format!(
                    "Column \"{}\" is an identity column defined as GENERATED ALWAYS.",
                    c.name
                ))
                .with_hint("Use OVERRIDING SYSTEM VALUE to override."));
            }
            Ok(())
        };
        let mut defaults = Vec::with_capacity(def.columns.len());
        for i in 0..def.columns.len() {
            defaults.push(self.default_expr(&table, i)?);
        }
        let source = Arc::new(match &ins.source {
            None => Plan::Values {
                rows: vec![defaults.clone()],
            },
            Some(q) => match (
                &*q.body,
                q.order_by.is_none() && q.limit_clause.is_none() && q.with.is_none(),
            ) {
                (ast::SetExpr::Values(values), true) => {
                    let mut rows = Vec::with_capacity(values.rows.len());
                    for r in &values.rows {
                        if r.content.len() > targets.len() {
                            return Err(Error::syntax(
                                "INSERT has more expressions than target columns",
                            ));
                        }
                        if r.content.len() < targets.len() {
                            return Err(Error::syntax(
                                "INSERT has more target columns than expressions",
                            ));
                        }
                        let mut row = defaults.clone();
                        for (e, &ci) in r.content.iter().zip(&targets) {
                            if is_default_keyword(e) {
                                continue;
                            }
                            check_identity(ci)?;
                            let col = &def.columns[ci];
                            let (bound, ty) = self.bind_expr_typed(e, &[], Some(col.data_type))?;
                            row[ci] = self.coerce_assign(bound, ty, col.data_type, &col.name)?;
                        }
                        rows.push(row);
                    }
                    Plan::Values { rows }
                }
                _ => {
                    // The source's unknown-typed outputs take the target
                    // columns' types.
                    self.keep_unknown_outputs = true;
                    let source = self.bind_query(q, &[]);
                    self.keep_unknown_outputs = false;
                    let (plan, cols) = source?;
                    if cols.len() > targets.len() {
                        return Err(Error::syntax(
                            "INSERT has more expressions than target columns",
                        ));
                    }
                    if cols.len() < targets.len() {
                        return Err(Error::syntax(
                            "INSERT has more target columns than expressions",
                        ));
                    }
                    let mut exprs = defaults.clone();
                    for (k, &ci) in targets.iter().enumerate() {
                        check_identity(ci)?;
                        let col = &def.columns[ci];
                        exprs[ci] = self.coerce_assign(
                            Expr::Column(k),
                            cols[k].ty,
                            col.data_type,
                            &col.name,
                        )?;
                    }
                    Plan::Project {
                        input: Box::new(plan),
                        exprs,
                    }
                }
            },
        });
        let scope = self.table_scope(&table, ins.table_alias.as_ref().map(|a| ident(&a.alias)));
        let on_conflict = match &ins.on {
            None => None,
            Some(ast::OnInsert::OnConflict(oc)) => Some(self.bind_on_conflict(&table, oc, &scope)?),
            Some(other) => {
                return Err(Error::unsupported(format!(
                    "unsupported ON clause: {other}"
                )))
            }
        };
        let (returning, cols) = self.bind_returning(&ins.returning, &scope)?;
        Ok((
            Command::Insert(InsertPlan {
                table,
                source,
                on_conflict,
                returning,
            }),
            cols,
        ))
    }

    fn conflict_index(
        &self,
        table: &Table,
        target: &Option<ast::ConflictTarget>,
    ) -> Result<Option<String>> {
        let def = &table.def;
        match target {
            None => Ok(None),
            Some(ast::ConflictTarget::OnConstraint(name)) => {
                let n = object_name(name)?;
                if def.pk_name.as_deref() == Some(n.as_str()) || n == format!("{}_pkey", def.name) {
                    return Ok(Some(String::new()));
                }
                if def.indexes.iter().any(|i| i.name == n && i.unique) {
                    return Ok(Some(n));
                }
                Err(Error::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!(
                        "constraint \"{n}\" for table \"{}\" does not exist",
                        def.name
                    ),
                ))
            }
            Some(ast::ConflictTarget::Columns { columns, .. }) => {
                let mut cols = Vec::new();
                for c in columns {
                    let n = ident(c);
                    cols.push(def.column_index(&n).ok_or_else(|| undefined_column(&n))?);
                }
                cols.sort_unstable();
                let mut pk = def.primary_key.clone();
                pk.sort_unstable();
                if !pk.is_empty() && pk == cols {
                    return Ok(Some(String::new()));
                }
                for idx in &def.indexes {
                    let mut ic = idx.columns.clone();
                    ic.sort_unstable();
                    if idx.unique && ic == cols {
                        return Ok(Some(idx.name.clone()));
                    }
                }
                Err(Error::new(
                    SqlState::INVALID_COLUMN_REFERENCE,
                    "there is no unique or exclusion constraint matching the ON CONFLICT specification",
                ))
            }
        }
    }

    fn bind_on_conflict(
        &mut self,
        table: &Table,
        oc: &ast::OnConflict,
        scope: &Scope,
    ) -> Result<OnConflict> {
        let target = self.conflict_index(table, &oc.conflict_target)?;
        match &oc.action {
            ast::OnConflictAction::DoNothing => Ok(OnConflict::DoNothing { target }),
            ast::OnConflictAction::DoUpdate(du) => {
                let target = target.ok_or_else(|| {
                    Error::syntax(
                        "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                    )
                    .with_hint("For example, ON CONFLICT (column_name).")
                })?;
                let mut both = scope.clone();
                for c in &scope.cols {
                    both.cols.push(ScopeCol {
                        table: Some("excluded".into()),
                        hidden: false,
                        merged: false,
                        ..c.clone()
                    });
                }
                let assignments = self.bind_assignments(table, &du.assignments, &both)?;
                self.needs
                    .borrow_mut()
                    .update_columns(&table.def, assignments.iter().map(|(c, _)| *c));
                let predicate = match &du.selection {
                    Some(e) => Some(self.bind_predicate(e, std::slice::from_ref(&both))?),
                    None => None,
                };
                Ok(OnConflict::DoUpdate {
                    target,
                    assignments,
                    predicate,
                })
            }
        }
    }

    fn bind_assignments(
        &mut self,
        table: &Table,
        assignments: &[ast::Assignment],
        scope: &Scope,
    ) -> Result<Vec<(usize, Expr)>> {
        let def = &table.def;
        let mut out: Vec<(usize, Expr)> = Vec::new();
        for a in assignments {
            let ast::AssignmentTarget::ColumnName(name) = &a.target else {
                return Err(Error::unsupported(
                    "multi-column assignment is not supported",
                ));
            };
            let n = match name.0.last() {
                Some(ast::ObjectNamePart::Identifier(i)) => ident(i),
                _ => return Err(Error::syntax(format!("bad column name {name}"))),
            };
            let ci = def.column_index(&n).ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{n}\" of relation \"{}\" does not exist", def.name),
                )
            })?;
            if out.iter().any(|(c, _)| *c == ci) {
                return Err(Error::syntax(format!(
                    "multiple assignments to same column \"{n}\""
                )));
            }
            let col = &def.columns[ci];
            let e = if is_default_keyword(&a.value) {
                self.default_expr(table, ci)?
            } else {
                if col.identity == Some(IdentityKind::Always) {
                    return Err(Error::new(
                        SqlState("428C9"),
                        format!("column \"{n}\" can only be updated to DEFAULT"),
                    )
                    .with_detail(format!(
                        "Column \"{n}\" is an identity column defined as GENERATED ALWAYS."
                    )));
                }
                let (bound, ty) = self.refusing_set_functions(select_srf::IN_UPDATE, |b| {
                    b.bind_expr_typed(&a.value, std::slice::from_ref(scope), Some(col.data_type))
                })?;
                self.coerce_assign(bound, ty, col.data_type, &col.name)?
            };
            out.push((ci, e));
        }
        Ok(out)
    }

    fn single_table(&self, twj: &ast::TableWithJoins) -> Result<(Arc<Table>, Option<String>)> {
        if !twj.joins.is_empty() {
            return Err(Error::unsupported(
                "joins in UPDATE/DELETE targets are not supported",
            ));
        }
        match &twj.relation {
            ast::TableFactor::Table { name, alias, .. } => Ok((
                self.catalog.table(&object_name(name)?)?.clone(),
                alias.as_ref().map(|a| ident(&a.name)),
            )),
            other => Err(Error::unsupported(format!("unsupported target {other}"))),
        }
    }

    pub(super) fn bind_update(&mut self, upd: &ast::Update) -> Result<(Command, Vec<Column>)> {
        let (table, alias) = self.single_table(&upd.table)?;
        view::refuse_view_target(&table.def, "update")?;
        self.needs.borrow_mut().touch(&table.def);
        let mut scope = self.table_scope(&table, alias);
        let (access, filter, join) = match &upd.from {
            Some(
                ast::UpdateTableFromKind::AfterSet(from)
                | ast::UpdateTableFromKind::BeforeSet(from),
            ) => {
                let bound = self.bind_dml_join(&table, scope, from, upd.selection.as_ref())?;
                scope = bound.scope;
                (bound.access, bound.filter, Some(bound.join))
            }
            None => {
                let filter = match &upd.selection {
                    Some(e) => Some(self.bind_predicate(e, std::slice::from_ref(&scope))?),
                    None => None,
                };
                (choose_access(&table, filter.as_ref()), filter, None)
            }
        };
        let assignments = self.bind_assignments(&table, &upd.assignments, &scope)?;
        self.needs
            .borrow_mut()
            .update_columns(&table.def, assignments.iter().map(|(c, _)| *c));
        let (returning, cols) = self.bind_returning(&upd.returning, &scope)?;
        Ok((
            Command::Update(UpdatePlan {
                table,
                access,
                filter,
                join,
                assignments,
                returning,
            }),
            cols,
        ))
    }

    pub(super) fn bind_delete(&mut self, del: &ast::Delete) -> Result<(Command, Vec<Column>)> {
        let from = match &del.from {
            ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
        };
        if from.len() != 1 {
            return Err(Error::unsupported(
                "DELETE from several tables is not supported",
            ));
        }
        let (table, alias) = self.single_table(&from[0])?;
        view::refuse_view_target(&table.def, "delete from")?;
        self.needs
            .borrow_mut()
            .require(&table.def, crate::acl::Privilege::Delete);
        let mut scope = self.table_scope(&table, alias);
        let (access, filter, join) = match &del.using {
            Some(using) => {
                let bound = self.bind_dml_join(&table, scope, using, del.selection.as_ref())?;
                scope = bound.scope;
                (bound.access, bound.filter, Some(bound.join))
            }
            None => {
                let filter = match &del.selection {
                    Some(e) => Some(self.bind_predicate(e, std::slice::from_ref(&scope))?),
                    None => None,
                };
                (choose_access(&table, filter.as_ref()), filter, None)
            }
        };
        let (returning, cols) = self.bind_returning(&del.returning, &scope)?;
        Ok((
            Command::Delete(DeletePlan {
                table,
                access,
                filter,
                join,
                returning,
            }),
            cols,
        ))
    }

    /// Notes that a statement reads a scope column (for column privileges).
    pub(super) fn note_column_read(&self, c: &ScopeCol) {
        if c.table_oid != 0 && c.col_id > 0 {
            self.needs
                .borrow_mut()
                .select_column(c.table_oid, c.col_id as usize - 1);
        }
    }

    pub(super) fn scope_for_table(&self, table: &Table, alias: Option<String>) -> Scope {
        self.table_scope(table, alias)
    }
}

/// Splits a predicate into its AND-ed parts.
pub fn conjuncts(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    fn go<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
        if let Expr::And(l, r) = e {
            go(l, out);
            go(r, out);
        } else {
            out.push(e);
        }
    }
    go(e, &mut out);
    out
}

/// An expression that does not depend on the scanned row.
fn is_row_independent(e: &Expr) -> bool {
    let mut ok = true;
    e.walk(&mut |x| match x {
        Expr::Column(_) | Expr::Agg(_) => ok = false,
        Expr::Subquery(_) => ok = false,
        Expr::Func { func, .. } if func.name == "random" => ok = false,
        _ => {}
    });
    ok
}

/// `col op value` facts found in a filter.
struct Bounds {
    eq: Vec<Option<Expr>>,
    lower: Vec<Option<(Expr, bool)>>,
    upper: Vec<Option<(Expr, bool)>>,
}

fn collect_bounds(filter: &Expr, width: usize, types: &[DataType]) -> Bounds {
    let mut b = Bounds {
        eq: vec![None; width],
        lower: vec![None; width],
        upper: vec![None; width],
    };
    for c in conjuncts(filter) {
        let Expr::Binary { op, left, right } = c else {
            continue;
        };
        let (col, val, op) = match (&**left, &**right) {
            (Expr::Column(i), v) if is_row_independent(v) => (*i, v, *op),
            (v, Expr::Column(i)) if is_row_independent(v) => (*i, v, flip(*op)),
            _ => continue,
        };
        if col >= width || !value_type_matches(val, types[col]) {
            continue;
        }
        match op {
            BinaryOp::Eq => b.eq[col] = Some(val.clone()),
            BinaryOp::Gt => b.lower[col] = Some((val.clone(), false)),
            BinaryOp::GtEq => b.lower[col] = Some((val.clone(), true)),
            BinaryOp::Lt => b.upper[col] = Some((val.clone(), false)),
            BinaryOp::LtEq => b.upper[col] = Some((val.clone(), true)),
            _ => {}
        }
    }
    b
}

/// Index keys are encoded from values of the column's own type; a lookup
/// value of another numeric type is fine for integers (they share one
/// encoding) but not in general.
fn value_type_matches(_v: &Expr, _col: DataType) -> bool {
    true
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        other => other,
    }
}

/// Picks the cheapest way to reach the rows a filter can match; the filter
/// itself is always re-applied to the rows found.
pub fn choose_access(table: &Table, filter: Option<&Expr>) -> Access {
    let Some(filter) = filter else {
        return Access::Full;
    };
    let def = &table.def;
    let types: Vec<DataType> = def.columns.iter().map(|c| c.data_type).collect();
    let b = collect_bounds(filter, def.columns.len(), &types);
    if !def.primary_key.is_empty() && def.primary_key.iter().all(|&c| b.eq[c].is_some()) {
        return Access::PkPoint(
            def.primary_key
                .iter()
                .map(|&c| b.eq[c].clone().unwrap())
                .collect(),
        );
    }
    // Secondary index with the longest equality prefix.
    let mut best: Option<(usize, &crate::catalog::IndexDef)> = None;
    for idx in &def.indexes {
        let n = idx
            .columns
            .iter()
            .take_while(|&&c| b.eq[c].is_some())
            .count();
        if n > 0 && best.is_none_or(|(bn, _)| n > bn) {
            best = Some((n, idx));
        }
    }
    if let Some((n, idx)) = best {
        return Access::IndexEq {
            index: idx.name.clone(),
            values: idx.columns[..n]
                .iter()
                .map(|&c| b.eq[c].clone().unwrap())
                .collect(),
        };
    }
    if let Some(&c) = def.primary_key.first() {
        if b.lower[c].is_some() || b.upper[c].is_some() {
            return Access::PkRange {
                lower: b.lower[c].clone(),
                upper: b.upper[c].clone(),
            };
        }
    }
    for idx in &def.indexes {
        let c = idx.columns[0];
        if b.lower[c].is_some() || b.upper[c].is_some() {
            return Access::IndexRange {
                index: idx.name.clone(),
                lower: b.lower[c].clone(),
                upper: b.upper[c].clone(),
            };
        }
    }
    Access::Full
}
