//! Binding queries: SELECT, FROM and joins, GROUP BY/aggregates, ORDER BY,
//! LIMIT/OFFSET, DISTINCT and set operations.

use super::dml::{choose_access, conjuncts};
use super::*;

impl Binder<'_> {
    /// Binds a query; `outer` are the scopes of enclosing queries (for
    /// correlated subqueries), innermost last.
    pub(super) fn bind_query(
        &mut self,
        q: &ast::Query,
        outer: &[Scope],
    ) -> Result<(Plan, Vec<OutCol>)> {
        if let Some(with) = &q.with {
            // The WITH queries are typed on their own; the flag is for the
            // body.
            let keep_unknown = std::mem::take(&mut self.keep_unknown_outputs);
            let mark = self.push_ctes(with)?;
            self.keep_unknown_outputs = keep_unknown;
            let mut inner = q.clone();
            inner.with = None;
            let result = self.bind_query(&inner, outer);
            self.pop_ctes(mark);
            return result;
        }
        if !q.locks.is_empty() {
            return Err(Error::unsupported(
                "SELECT ... FOR UPDATE/SHARE is not supported yet",
            ));
        }
        let (mut plan, cols) = match &*q.body {
            ast::SetExpr::Select(sel) => self.bind_select(sel, q.order_by.as_ref(), outer)?,
            body => {
                let (plan, cols) = self.bind_set_expr(body, outer)?;
                match &q.order_by {
                    None => (plan, cols),
                    Some(ob) => {
                        let keys = self.output_sort_keys(ob, &cols)?;
                        (
                            Plan::Sort {
                                input: Box::new(plan),
                                keys,
                            },
                            cols,
                        )
                    }
                }
            }
        };
        if let Some(lc) = &q.limit_clause {
            let (limit, offset) = match lc {
                ast::LimitClause::LimitOffset { limit, offset, .. } => {
                    (limit.as_ref(), offset.as_ref().map(|o| &o.value))
                }
                ast::LimitClause::OffsetCommaLimit { offset, limit } => (Some(limit), Some(offset)),
            };
            let mut bind_count = |e: &ast::Expr| -> Result<Expr> {
                let (b, t) = self.refusing_set_functions(select_srf::IN_LIMIT, |b| {
                    b.bind_expr_typed(e, outer, Some(DataType::Int8))
                })?;
                self.coerce(b, t, DataType::Int8)
            };
            let limit = match limit {
                Some(ast::Expr::Value(v)) if matches!(v.value, ast::Value::Null) => None,
                Some(e) => Some(bind_count(e)?),
                None => None,
            };
            let offset = offset.map(&mut bind_count).transpose()?;
            plan = Plan::Limit {
                input: Box::new(plan),
                limit,
                offset,
            };
        }
        if let Some(f) = &q.fetch {
            let limit = match &f.quantity {
                Some(e) => {
                    let (b, t) = self.bind_expr_typed(e, outer, Some(DataType::Int8))?;
                    Some(self.coerce(b, t, DataType::Int8)?)
                }
                None => Some(Expr::Literal(Value::Int8(1))),
            };
            plan = Plan::Limit {
                input: Box::new(plan),
                limit,
                offset: None,
            };
        }
        Ok((plan, cols))
    }

    pub(super) fn bind_set_expr(
        &mut self,
        body: &ast::SetExpr,
        outer: &[Scope],
    ) -> Result<(Plan, Vec<OutCol>)> {
        if self.depth >= crate::sql::limits::MAX_EXPR_DEPTH {
            return Err(crate::sql::limits::too_deep());
        }
        self.depth += 1;
        let r = crate::sql::limits::with_stack(|| self.bind_set_expr_nested(body, outer));
        self.depth -= 1;
        r
    }

    fn bind_set_expr_nested(
        &mut self,
        body: &ast::SetExpr,
        outer: &[Scope],
    ) -> Result<(Plan, Vec<OutCol>)> {
        match body {
            ast::SetExpr::Select(sel) => self.bind_select(sel, None, outer),
            ast::SetExpr::Query(q) => self.bind_query(q, outer),
            ast::SetExpr::Values(values) => self.bind_values(values, outer),
            ast::SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                // Unknown-typed branch outputs take the other branch's type.
                self.keep_unknown_outputs = true;
                let left = self.bind_set_expr(left, outer);
                self.keep_unknown_outputs = true;
                let right = left.and_then(|l| Ok((l, self.bind_set_expr(right, outer)?)));
                self.keep_unknown_outputs = false;
                let ((lp, lcols), (rp, rcols)) = right?;
                let kind = match op {
                    ast::SetOperator::Union => SetOpKind::Union,
                    ast::SetOperator::Intersect => SetOpKind::Intersect,
                    ast::SetOperator::Except | ast::SetOperator::Minus => SetOpKind::Except,
                };
                let opname = format!("{op}");
                if lcols.len() != rcols.len() {
                    return Err(Error::syntax(format!(
                        "each {opname} query must have the same number of columns"
                    )));
                }
                let mut cols = Vec::new();
                let mut lexprs = Vec::new();
                let mut rexprs = Vec::new();
                for (i, (l, r)) in lcols.iter().zip(&rcols).enumerate() {
                    let ty = common_type(l.ty, r.ty).ok_or_else(|| {
                        Error::new(
                            SqlState::DATATYPE_MISMATCH,
                            format!(
                                "{opname} types {} and {} cannot be matched",
                                l.ty.base_name(),
                                r.ty.base_name()
                            ),
                        )
                    })?;
                    let ty = if ty == DataType::Unknown {
                        DataType::Text
                    } else {
                        ty
                    };
                    lexprs.push(self.coerce(Expr::Column(i), l.ty, ty)?);
                    rexprs.push(self.coerce(Expr::Column(i), r.ty, ty)?);
                    cols.push(OutCol {
                        name: l.name.clone(),
                        ty,
                        table_oid: 0,
                        col_id: 0,
                    });
                }
                let all = matches!(set_quantifier, ast::SetQuantifier::All);
                Ok((
                    Plan::SetOp {
                        left: Box::new(Plan::Project {
                            input: Box::new(lp),
                            exprs: lexprs,
                        }),
                        right: Box::new(Plan::Project {
                            input: Box::new(rp),
                            exprs: rexprs,
                        }),
                        kind,
                        all,
                    },
                    cols,
                ))
            }
            other => Err(Error::unsupported(format!("unsupported query: {other}"))),
        }
    }

    fn bind_values(
        &mut self,
        values: &ast::Values,
        outer: &[Scope],
    ) -> Result<(Plan, Vec<OutCol>)> {
        let width = values.rows.first().map(|r| r.content.len()).unwrap_or(0);
        let mut rows: Vec<Vec<(Expr, DataType)>> = Vec::new();
        for r in &values.rows {
            if r.content.len() != width {
                return Err(Error::syntax("VALUES lists must all be the same length"));
            }
            let mut row = Vec::new();
            for e in &r.content {
                row.push(
                    self.refusing_set_functions(select_srf::IN_VALUES, |b| b.bind_expr(e, outer))?,
                );
            }
            rows.push(row);
        }
        let mut types = vec![DataType::Unknown; width];
        for row in &rows {
            for (i, (_, t)) in row.iter().enumerate() {
                types[i] = common_type(types[i], *t).ok_or_else(|| {
                    Error::new(
                        SqlState::DATATYPE_MISMATCH,
                        format!(
                            "VALUES types {} and {} cannot be matched",
                            types[i].base_name(),
                            t.base_name()
                        ),
                    )
                })?;
            }
        }
        for t in types.iter_mut() {
            if *t == DataType::Unknown {
                *t = DataType::Text;
            }
        }
        let mut out_rows = Vec::new();
        for row in rows {
            let mut r = Vec::new();
            for (i, (e, t)) in row.into_iter().enumerate() {
                r.push(self.coerce(e, t, types[i])?);
            }
            out_rows.push(r);
        }
        let cols = types
            .iter()
            .enumerate()
            .map(|(i, t)| OutCol {
                name: format!("column{}", i + 1),
                ty: *t,
                table_oid: 0,
                col_id: 0,
            })
            .collect();
        Ok((Plan::Values { rows: out_rows }, cols))
    }

    fn bind_table_factor(
        &mut self,
        tf: &ast::TableFactor,
        outer: &[Scope],
    ) -> Result<(Plan, Scope)> {
        match tf {
            ast::TableFactor::Table {
                name,
                alias,
                args,
                with_ordinality,
                ..
            } => {
                if let Some(args) = args {
                    return self.bind_set_function(
                        name,
                        &args.args,
                        alias.as_ref(),
                        *with_ordinality,
                        outer,
                    );
                }
                if let Some(cte) = self.cte_reference(name, alias.as_ref())? {
                    return Ok(cte);
                }
                if let Some(r) = self.bind_system_relation(name, alias.as_ref())? {
                    return Ok(r);
                }
                let tname = object_name(name)?;
                let table = self.catalog.table(&tname)?.clone();
                if table.def.is_view() {
                    return self.bind_view_reference(&table, alias.as_ref());
                }
                self.needs
                    .borrow_mut()
                    .require(&table.def, crate::acl::Privilege::Select);
                let mut scope =
                    self.scope_for_table(&table, alias.as_ref().map(|a| ident(&a.name)));
                if let Some(a) = alias {
                    rename_columns(&mut scope, &a.columns)?;
                }
                Ok((
                    Plan::Scan {
                        table,
                        access: Access::Full,
                        filter: None,
                    },
                    scope,
                ))
            }
            ast::TableFactor::Derived {
                subquery, alias, ..
            } => {
                // A LATERAL subquery's outer scopes already end with the
                // items to its left (see `lateral::item_scopes`).
                let (plan, cols) = self.bind_query(subquery, outer)?;
                let tname = alias.as_ref().map(|a| ident(&a.name));
                let mut scope = Scope {
                    cols: cols
                        .iter()
                        .map(|c| ScopeCol {
                            table: tname.clone(),
                            hidden: false,
                            merged: false,
                            name: c.name.clone(),
                            ty: c.ty,
                            table_oid: 0,
                            col_id: 0,
                        })
                        .collect(),
                };
                if let Some(a) = alias {
                    rename_columns(&mut scope, &a.columns)?;
                }
                Ok((plan, scope))
            }
            ast::TableFactor::Function {
                name,
                args,
                alias,
                with_ordinality,
                ..
            } => self.bind_set_function(name, args, alias.as_ref(), *with_ordinality, outer),
            ast::TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_ordinality,
                ..
            } => {
                let args: Vec<ast::FunctionArg> = array_exprs
                    .iter()
                    .map(|e| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e.clone())))
                    .collect();
                let name = ast::ObjectName::from(vec![ast::Ident::new("unnest")]);
                self.bind_set_function(&name, &args, alias.as_ref(), *with_ordinality, outer)
            }
            ast::TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                let (plan, mut scope) = self.bind_from_item(table_with_joins, outer)?;
                if let Some(a) = alias {
                    let n = ident(&a.name);
                    for c in &mut scope.cols {
                        c.table = Some(n.clone());
                    }
                }
                Ok((plan, scope))
            }
            other => Err(Error::unsupported(format!(
                "unsupported FROM item: {other}"
            ))),
        }
    }

    /// A set-returning function in FROM (`generate_series`, `unnest`).
    fn bind_set_function(
        &mut self,
        name: &ast::ObjectName,
        args: &[ast::FunctionArg],
        alias: Option<&ast::TableAlias>,
        ordinality: bool,
        outer: &[Scope],
    ) -> Result<(Plan, Scope)> {
        // The arguments may read enclosing queries' rows, not this one's.
        let mut scopes = outer.to_vec();
        scopes.push(Scope::default());
        let (func, exprs, out_type) = self.bind_set_call(name, args, &scopes)?;
        let fname = object_name(name)?;
        let tname = alias
            .map(|a| ident(&a.name))
            .unwrap_or_else(|| fname.clone());
        let column = |name: String, ty: DataType| ScopeCol {
            table: Some(tname.clone()),
            hidden: false,
            merged: false,
            name,
            ty,
            table_oid: 0,
            col_id: 0,
        };
        let cols = match func.column_names() {
            // Several columns: text ones, the last of the function's type.
            Some(names) => names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let ty = if i + 1 == names.len() {
                        out_type
                    } else {
                        DataType::Text
                    };
                    column(n.to_string(), ty)
                })
                .collect(),
            None => vec![column(
                func.column_name()
                    .map_or_else(|| tname.clone(), str::to_string),
                out_type,
            )],
        };
        let mut scope = Scope { cols };
        if ordinality {
            scope
                .cols
                .push(column("ordinality".to_string(), DataType::Int8));
        }
        if let Some(a) = alias {
            rename_columns(&mut scope, &a.columns)?;
        }
        Ok((
            Plan::FunctionScan {
                func,
                args: exprs,
                ordinality,
            },
            scope,
        ))
    }

    /// A set-returning function call's function, arguments (bound over
    /// `scopes`, cast to its signature) and result type.
    pub(super) fn bind_set_call(
        &mut self,
        name: &ast::ObjectName,
        args: &[ast::FunctionArg],
        scopes: &[Scope],
    ) -> Result<(crate::sql::srf::SetFunc, Vec<Expr>, DataType)> {
        let fname = object_name(name)?;
        let func = crate::sql::srf::SetFunc::by_name(&fname);
        let mut bound = Vec::new();
        for a in args {
            match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                    bound.push(self.bind_expr(e, scopes)?)
                }
                other => {
                    return Err(Error::unsupported(format!(
                        "unsupported function argument {other}"
                    )))
                }
            }
        }
        let types: Vec<DataType> = bound.iter().map(|(_, t)| *t).collect();
        let Some((func, (arg_types, out_type))) =
            func.and_then(|f| Some((f, f.signature(&types)?)))
        else {
            let names: Vec<&str> = types.iter().map(|t| t.base_name()).collect();
            return Err(Error::new(
                SqlState::UNDEFINED_FUNCTION,
                format!("function {fname}({}) does not exist", names.join(", ")),
            )
            .with_hint("No function matches the given name and argument types. You might need to add explicit type casts."));
        };
        let mut exprs = Vec::new();
        for ((e, t), target) in bound.into_iter().zip(arg_types) {
            let (e, t) = if func == crate::sql::srf::SetFunc::PartitionAncestors {
                self.regclass_argument(e, t)?
            } else {
                (e, t)
            };
            exprs.push(self.coerce(e, t, target)?);
        }
        Ok((func, exprs, out_type))
    }

    fn bind_from_item(
        &mut self,
        twj: &ast::TableWithJoins,
        outer: &[Scope],
    ) -> Result<(Plan, Scope)> {
        let (mut plan, mut scope) = self.bind_table_factor(&twj.relation, outer)?;
        for j in &twj.joins {
            let lateral = lateral::may_be_lateral(&j.relation);
            let (rplan, rscope) =
                self.bind_table_factor(&j.relation, &lateral::item_scopes(lateral, outer, &scope))?;
            use ast::JoinOperator as J;
            let (kind, constraint) = match &j.join_operator {
                J::Join(c) | J::Inner(c) => (JoinKind::Inner, Some(c)),
                J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, Some(c)),
                J::Right(c) | J::RightOuter(c) => (JoinKind::Right, Some(c)),
                J::FullOuter(c) => (JoinKind::Full, Some(c)),
                J::CrossJoin(_) => (JoinKind::Inner, None),
                other => return Err(Error::unsupported(format!("unsupported join: {other:?}"))),
            };
            let left_width = scope.width();
            let right_width = rscope.width();
            let mut combined = scope.clone();
            combined.cols.extend(rscope.cols.iter().cloned());
            let mut scopes = outer.to_vec();
            scopes.push(combined.clone());
            // NATURAL JOIN is USING over the column names both sides show.
            let using: Option<Vec<String>> = match constraint {
                Some(ast::JoinConstraint::Using(cols)) => {
                    Some(cols.iter().map(object_name).collect::<Result<_>>()?)
                }
                Some(ast::JoinConstraint::Natural) => Some(
                    scope
                        .cols
                        .iter()
                        .filter(|c| !c.hidden)
                        .map(|c| c.name.clone())
                        .filter(|n| rscope.cols.iter().any(|c| !c.hidden && &c.name == n))
                        .fold(Vec::new(), |mut v, n| {
                            if !v.contains(&n) {
                                v.push(n);
                            }
                            v
                        }),
                ),
                _ => None,
            };
            let on = match constraint {
                None | Some(ast::JoinConstraint::None) => None,
                Some(ast::JoinConstraint::On(e)) => {
                    Some(self.refusing_set_functions(select_srf::IN_JOIN, |b| {
                        b.bind_predicate(e, &scopes)
                    })?)
                }
                Some(ast::JoinConstraint::Using(_) | ast::JoinConstraint::Natural) => {
                    let mut pred: Option<Expr> = None;
                    for n in using.iter().flatten() {
                        let n = n.clone();
                        let li = find_unique(&scope, &n)?;
                        let ri = find_unique(&rscope, &n)?;
                        let (l, lt) = (Expr::Column(li), scope.cols[li].ty);
                        let (r, rt) = (Expr::Column(left_width + ri), rscope.cols[ri].ty);
                        let eq = self.comparison(BinaryOp::Eq, l, lt, r, rt)?;
                        // The merged column is the left one (the right one
                        // for RIGHT JOIN); its twin is reachable qualified.
                        let (keep, hide) = if kind == JoinKind::Right {
                            (left_width + ri, li)
                        } else {
                            (li, left_width + ri)
                        };
                        combined.cols[hide].hidden = true;
                        combined.cols[keep].merged = true;
                        pred = Some(match pred {
                            None => eq,
                            Some(p) => Expr::And(Box::new(p), Box::new(eq)),
                        });
                    }
                    pred
                }
                Some(other) => {
                    return Err(Error::unsupported(format!(
                        "unsupported join constraint {other:?}"
                    )))
                }
            };
            plan = lateral::join_item(
                plan,
                rplan,
                lateral,
                kind,
                on,
                right_width,
                |l, r, k, on| make_join(l, r, k, on, left_width, right_width),
            )?;
            scope = combined;
        }
        Ok((plan, scope))
    }

    pub(super) fn bind_from(
        &mut self,
        from: &[ast::TableWithJoins],
        outer: &[Scope],
    ) -> Result<(Plan, Scope)> {
        if from.is_empty() {
            return Ok((Plan::Values { rows: vec![vec![]] }, Scope::default()));
        }
        let (mut plan, mut scope) = self.bind_from_item(&from[0], outer)?;
        for item in &from[1..] {
            let lateral = lateral::item_may_be_lateral(item);
            let (rplan, rscope) =
                self.bind_from_item(item, &lateral::item_scopes(lateral, outer, &scope))?;
            let lw = scope.width();
            let rw = rscope.width();
            plan = lateral::join_item(
                plan,
                rplan,
                lateral,
                JoinKind::Inner,
                None,
                rw,
                |l, r, k, on| Plan::NestedLoop {
                    left: Box::new(l),
                    right: Box::new(r),
                    kind: k,
                    on,
                    left_width: lw,
                    right_width: rw,
                },
            )?;
            scope.cols.extend(rscope.cols);
        }
        Ok((plan, scope))
    }

    pub(super) fn bind_select_items(
        &mut self,
        items: &[ast::SelectItem],
        scopes: &[Scope],
    ) -> Result<(Vec<Expr>, Vec<OutCol>)> {
        let scope = scopes.last().expect("a scope");
        let mut exprs = Vec::new();
        let mut cols = Vec::new();
        for item in items {
            match item {
                ast::SelectItem::Wildcard(_) => {
                    if scope.cols.is_empty() {
                        return Err(Error::syntax(
                            "SELECT * with no tables specified is not valid",
                        ));
                    }
                    // Merged USING columns first, as PostgreSQL lists them.
                    for merged in [true, false] {
                        for (i, c) in scope.cols.iter().enumerate() {
                            if c.hidden || c.merged != merged {
                                continue;
                            }
                            self.note_column_read(c);
                            exprs.push(Expr::Column(i));
                            cols.push(out_col(c));
                        }
                    }
                }
                ast::SelectItem::QualifiedWildcard(kind, _) => {
                    let name = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n) => object_name(n)?,
                        ast::SelectItemQualifiedWildcardKind::Expr(e) => e.to_string(),
                    };
                    let mut any = false;
                    for (i, c) in scope.cols.iter().enumerate() {
                        if c.table.as_deref() == Some(name.as_str()) {
                            self.note_column_read(c);
                            exprs.push(Expr::Column(i));
                            cols.push(out_col(c));
                            any = true;
                        }
                    }
                    if !any {
                        return Err(Error::new(
                            SqlState::UNDEFINED_TABLE,
                            format!("missing FROM-clause entry for table \"{name}\""),
                        ));
                    }
                }
                ast::SelectItem::UnnamedExpr(e) => {
                    let (b, t) = self.bind_expr(e, scopes)?;
                    let mut col = OutCol {
                        name: column_name(e),
                        ty: t,
                        table_oid: 0,
                        col_id: 0,
                    };
                    // (A select-list set-returning function reads a column
                    // past the scope's.)
                    let source = match &b {
                        Expr::Column(i) => scope.cols.get(*i),
                        _ => None,
                    };
                    if let Some(c) = source {
                        col.table_oid = c.table_oid;
                        col.col_id = c.col_id;
                    }
                    exprs.push(b);
                    cols.push(col);
                }
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    let (b, t) = self.bind_expr(expr, scopes)?;
                    exprs.push(b);
                    cols.push(OutCol {
                        name: ident(alias),
                        ty: t,
                        table_oid: 0,
                        col_id: 0,
                    });
                }
                other => {
                    return Err(Error::unsupported(format!(
                        "unsupported select item {other}"
                    )))
                }
            }
        }
        Ok((exprs, cols))
    }

    fn bind_select(
        &mut self,
        sel: &ast::Select,
        order_by: Option<&ast::OrderBy>,
        outer: &[Scope],
    ) -> Result<(Plan, Vec<OutCol>)> {
        let keep_unknown = std::mem::take(&mut self.keep_unknown_outputs);
        // A select's own select list decides where its calls go, not the
        // enclosing query's.
        let (plan, mut cols) = self.refusing_set_functions(select_srf::UNSUPPORTED, |b| {
            b.bind_select_body(sel, order_by, outer)
        })?;
        if !keep_unknown {
            resolve_unknown_as_text(&mut cols);
        }
        Ok((plan, cols))
    }

    fn bind_select_body(
        &mut self,
        sel: &ast::Select,
        order_by: Option<&ast::OrderBy>,
        outer: &[Scope],
    ) -> Result<(Plan, Vec<OutCol>)> {
        // `SELECT srf(...)` without FROM reads as `SELECT x FROM srf(...) x`.
        let rewritten;
        let (sel, (mut plan, scope)) = match set_function_item(sel) {
            Some((f, args, col)) => {
                let alias = ast::TableAlias {
                    explicit: true,
                    name: ast::Ident::with_quote('"', col.clone()),
                    columns: vec![ast::TableAliasColumnDef {
                        name: ast::Ident::with_quote('"', col.clone()),
                        data_type: None,
                    }],
                    at: None,
                };
                let bound = self.bind_set_function(&f.name, args, Some(&alias), false, outer)?;
                let mut s = sel.clone();
                s.projection = vec![ast::SelectItem::UnnamedExpr(ast::Expr::Identifier(
                    ast::Ident::with_quote('"', col),
                ))];
                rewritten = s;
                (&rewritten, bound)
            }
            None => (sel, self.bind_from(&sel.from, outer)?),
        };
        let mut scopes = outer.to_vec();
        scopes.push(scope.clone());
        let window_mark = self.windows.len();
        if let Some(w) = &sel.selection {
            let pred = self
                .refusing_set_functions(select_srf::IN_WHERE, |b| b.bind_predicate(w, &scopes))?;
            self.no_windows_in(window_mark, "WHERE")?;
            if contains_agg(&pred) {
                return Err(Error::new(
                    SqlState::GROUPING_ERROR,
                    "aggregate functions are not allowed in WHERE",
                ));
            }
            plan = push_filter(plan, pred);
        }
        let ((mut exprs, mut cols), mut set_calls) =
            self.collecting_set_functions(scope.width(), Vec::new(), |b| {
                b.bind_select_items(&sel.projection, &scopes)
            })?;
        let group_by: Vec<&ast::Expr> = match &sel.group_by {
            ast::GroupByExpr::Expressions(es, _) => es.iter().collect(),
            ast::GroupByExpr::All(_) => {
                return Err(Error::unsupported("GROUP BY ALL is not supported"))
            }
        };
        let having =
            match &sel.having {
                Some(h) => Some(self.refusing_set_functions(select_srf::IN_HAVING, |b| {
                    b.bind_predicate(h, &scopes)
                })?),
                None => None,
            };
        // ORDER BY items: output column (by name or position) or an
        // expression over the input, computed as a hidden column.
        let mut sort_keys = Vec::new();
        let visible = exprs.len();
        if let Some(ob) = order_by {
            let ast::OrderByKind::Expressions(items) = &ob.kind else {
                return Err(Error::unsupported("ORDER BY ALL is not supported"));
            };
            for item in items {
                let desc = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
                let nulls_first = item.options.nulls_first.unwrap_or(desc);
                let idx = match self.output_ref(&item.expr, &cols)? {
                    Some(i) => i,
                    None => {
                        // A set-returning call here runs in lockstep with
                        // the select list's, as in PostgreSQL.
                        let ((b, _), calls) = self.collecting_set_functions(
                            scope.width(),
                            std::mem::take(&mut set_calls),
                            |b| b.bind_expr(&item.expr, &scopes),
                        )?;
                        set_calls = calls;
                        exprs.push(b);
                        exprs.len() - 1
                    }
                };
                sort_keys.push(SortKey {
                    expr: Expr::Column(idx),
                    desc,
                    nulls_first,
                });
            }
        }
        // DISTINCT ON keys: output columns or hidden expressions.
        let mut distinct_on = Vec::new();
        if let Some(ast::Distinct::On(items)) = &sel.distinct {
            for item in items {
                let idx = match self.output_ref(item, &cols)? {
                    Some(i) => i,
                    None => {
                        let (b, _) = self.bind_expr(item, &scopes)?;
                        exprs.push(b);
                        exprs.len() - 1
                    }
                };
                distinct_on.push(idx);
            }
            // PostgreSQL: the leading ORDER BY items must be the keys.
            let leading_match = sort_keys
                .iter()
                .zip(&distinct_on)
                .all(|(k, &i)| matches!(k.expr, Expr::Column(c) if c == i || same_expr(&exprs[c], &exprs[i])));
            if !leading_match {
                return Err(Error::new(
                    SqlState::INVALID_COLUMN_REFERENCE,
                    "SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
                ));
            }
        }
        let aggregating = !group_by.is_empty()
            || having.is_some()
            || exprs.iter().any(contains_agg)
            || set_calls.iter().flat_map(|c| &c.args).any(contains_agg);
        if !set_calls.is_empty() {
            if self.windows.len() > window_mark {
                return Err(Error::unsupported(
                    "set-returning functions in the select list of a query with window functions are not supported",
                ));
            }
            // With aggregates, the calls run over the aggregated rows.
            if !aggregating {
                plan = Plan::ProjectSet {
                    input: Box::new(plan),
                    calls: std::mem::take(&mut set_calls),
                };
            }
        }
        if aggregating {
            let base = scope.width();
            exprs = exprs
                .into_iter()
                .map(|e| select_srf::hide_set_columns(e, base))
                .collect();
            let mut group = Vec::new();
            for g in &group_by {
                // GROUP BY may name an output column or position.
                let bound = match self.output_ref(g, &cols)? {
                    Some(i) if !matches!(g, ast::Expr::Identifier(id) if find_in_scope(&scope, &ident(id)).is_some()) => {
                        exprs[i].clone()
                    }
                    _ => self.bind_expr(g, &scopes)?.0,
                };
                if contains_agg(&bound) {
                    return Err(Error::new(
                        SqlState::GROUPING_ERROR,
                        "aggregate functions are not allowed in GROUP BY",
                    ));
                }
                if select_srf::reads_set_columns(&bound) {
                    return Err(Error::unsupported(
                        "set-returning functions in GROUP BY are not supported",
                    ));
                }
                group.push(bound);
            }
            let mut aggs = Vec::new();
            let mut rewritten = Vec::new();
            for e in exprs {
                rewritten.push(rewrite_agg(e, &group, &mut aggs, &scope)?);
            }
            let having = having
                .map(|h| rewrite_agg(h, &group, &mut aggs, &scope))
                .transpose()?;
            for call in &mut set_calls {
                for arg in &mut call.args {
                    *arg = rewrite_agg(
                        std::mem::replace(arg, Expr::Literal(Value::Null)),
                        &group,
                        &mut aggs,
                        &scope,
                    )?;
                }
            }
            let aggregated_width = group.len() + aggs.len();
            plan = Plan::Aggregate {
                input: Box::new(plan),
                group,
                aggs,
            };
            if let Some(h) = having {
                plan = Plan::Filter {
                    input: Box::new(plan),
                    predicate: h,
                };
            }
            exprs = rewritten;
            if !set_calls.is_empty() {
                plan = Plan::ProjectSet {
                    input: Box::new(plan),
                    calls: set_calls,
                };
                exprs = exprs
                    .into_iter()
                    .map(|e| select_srf::place_set_columns(e, aggregated_width))
                    .collect();
            }
        }
        if self.windows.len() > window_mark {
            if aggregating {
                return Err(Error::unsupported(
                    "window functions in a query with GROUP BY or aggregates are not supported yet",
                ));
            }
            (plan, exprs) = self.plan_windows(plan, exprs, window_mark, scope.width())?;
        }
        let projected_width = exprs.len();
        plan = Plan::Project {
            input: Box::new(plan),
            exprs,
        };
        match &sel.distinct {
            None | Some(ast::Distinct::All) => {}
            Some(ast::Distinct::Distinct) => {
                if sort_keys
                    .iter()
                    .any(|k| matches!(k.expr, Expr::Column(i) if i >= visible))
                {
                    return Err(Error::new(
                        SqlState::INVALID_COLUMN_REFERENCE,
                        "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                    ));
                }
                plan = Plan::Distinct {
                    input: Box::new(plan),
                };
            }
            Some(ast::Distinct::On(_)) => {}
        }
        if !sort_keys.is_empty() {
            plan = Plan::Sort {
                input: Box::new(plan),
                keys: sort_keys,
            };
        }
        if !distinct_on.is_empty() {
            plan = Plan::DistinctOn {
                input: Box::new(plan),
                keys: distinct_on,
            };
        }
        if projected_width > visible {
            plan = Plan::Project {
                input: Box::new(plan),
                exprs: (0..visible).map(Expr::Column).collect(),
            };
        }
        cols.truncate(visible);
        Ok((plan, cols))
    }

    /// An ORDER BY / GROUP BY item that names an output column or gives its
    /// position.
    fn output_ref(&self, e: &ast::Expr, cols: &[OutCol]) -> Result<Option<usize>> {
        match e {
            ast::Expr::Value(v) => {
                if let ast::Value::Number(n, _) = &v.value {
                    let pos: usize = n
                        .parse()
                        .map_err(|_| Error::syntax(format!("invalid position {n}")))?;
                    if pos == 0 || pos > cols.len() {
                        return Err(Error::new(
                            SqlState::INVALID_COLUMN_REFERENCE,
                            format!("ORDER BY position {pos} is not in select list"),
                        ));
                    }
                    return Ok(Some(pos - 1));
                }
                Ok(None)
            }
            ast::Expr::Identifier(i) => {
                let n = ident(i);
                let hits: Vec<usize> = cols
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.name == n)
                    .map(|(i, _)| i)
                    .collect();
                Ok(if hits.len() == 1 { Some(hits[0]) } else { None })
            }
            _ => Ok(None),
        }
    }

    fn output_sort_keys(&mut self, ob: &ast::OrderBy, cols: &[OutCol]) -> Result<Vec<SortKey>> {
        let ast::OrderByKind::Expressions(items) = &ob.kind else {
            return Err(Error::unsupported("ORDER BY ALL is not supported"));
        };
        let mut keys = Vec::new();
        for item in items {
            let desc = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
            let idx = self.output_ref(&item.expr, cols)?.ok_or_else(|| {
                Error::unsupported("ORDER BY on a set operation must name an output column")
            })?;
            keys.push(SortKey {
                expr: Expr::Column(idx),
                desc,
                nulls_first: item.options.nulls_first.unwrap_or(desc),
            });
        }
        Ok(keys)
    }
}

pub(super) fn rename_columns(scope: &mut Scope, names: &[ast::TableAliasColumnDef]) -> Result<()> {
    if names.len() > scope.cols.len() {
        return Err(Error::new(
            SqlState::INVALID_COLUMN_REFERENCE,
            format!(
                "table has {} columns available but {} columns specified",
                scope.cols.len(),
                names.len()
            ),
        ));
    }
    for (c, n) in scope.cols.iter_mut().zip(names) {
        c.name = ident(&n.name);
    }
    Ok(())
}

fn out_col(c: &ScopeCol) -> OutCol {
    OutCol {
        name: c.name.clone(),
        ty: c.ty,
        table_oid: c.table_oid,
        col_id: c.col_id,
    }
}

fn find_in_scope(scope: &Scope, name: &str) -> Option<usize> {
    scope.cols.iter().position(|c| c.name == name)
}

fn find_unique(scope: &Scope, name: &str) -> Result<usize> {
    let hits: Vec<usize> = scope
        .cols
        .iter()
        .enumerate()
        .filter(|(_, c)| c.name == name && !c.hidden)
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [i] => Ok(*i),
        [] => Err(Error::new(
            SqlState::UNDEFINED_COLUMN,
            format!("column \"{name}\" specified in USING clause does not exist in left table"),
        )),
        _ => Err(Error::new(
            SqlState::AMBIGUOUS_COLUMN,
            format!("common column name \"{name}\" appears more than once in left table"),
        )),
    }
}

/// A select without FROM whose only item is a set-returning function call:
/// the call, its arguments and the output column name.
fn set_function_item(sel: &ast::Select) -> Option<(&ast::Function, &[ast::FunctionArg], String)> {
    if !sel.from.is_empty() || sel.projection.len() != 1 {
        return None;
    }
    let (expr, alias) = match &sel.projection[0] {
        ast::SelectItem::UnnamedExpr(e) => (e, None),
        ast::SelectItem::ExprWithAlias { expr, alias } => (expr, Some(ident(alias))),
        _ => return None,
    };
    let ast::Expr::Function(f) = expr else {
        return None;
    };
    let name = object_name(&f.name).ok()?;
    if crate::sql::srf::SetFunc::by_name(&name)?
        .column_names()
        .is_some()
    {
        return None;
    }
    let ast::FunctionArguments::List(list) = &f.args else {
        return None;
    };
    if !list.clauses.is_empty() || list.duplicate_treatment.is_some() || f.over.is_some() {
        return None;
    }
    Some((f, &list.args, alias.unwrap_or(name)))
}

/// The name PostgreSQL gives an unaliased select item.
fn column_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(i) => ident(i),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(ident).unwrap_or_default(),
        ast::Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(ident)
            .unwrap_or_else(|| "?column?".into()),
        ast::Expr::Cast {
            expr, data_type, ..
        } => match &**expr {
            ast::Expr::Identifier(_)
            | ast::Expr::CompoundIdentifier(_)
            | ast::Expr::Function(_)
            | ast::Expr::Array(_) => column_name(expr),
            _ => match convert_type(data_type) {
                Ok(t) => type_column_name(t),
                Err(_) => "?column?".into(),
            },
        },
        ast::Expr::Nested(inner) => column_name(inner),
        // A scalar subquery is named after its (first) output column.
        ast::Expr::Subquery(q) => match &*q.body {
            ast::SetExpr::Select(sel) => match sel.projection.first() {
                Some(ast::SelectItem::UnnamedExpr(e)) => column_name(e),
                Some(ast::SelectItem::ExprWithAlias { alias, .. }) => ident(alias),
                _ => "?column?".into(),
            },
            _ => "?column?".into(),
        },
        ast::Expr::Case { .. } => "case".into(),
        ast::Expr::Exists { .. } => "exists".into(),
        ast::Expr::Extract { .. } => "extract".into(),
        ast::Expr::Substring { shorthand, .. } => {
            if *shorthand { "substr" } else { "substring" }.into()
        }
        ast::Expr::Position { .. } => "position".into(),
        ast::Expr::Trim { .. } => "btrim".into(),
        ast::Expr::Ceil { .. } => "ceil".into(),
        ast::Expr::Floor { .. } => "floor".into(),
        ast::Expr::TypedString(ts) => match convert_type(&ts.data_type) {
            Ok(t) => type_column_name(t),
            Err(_) => "?column?".into(),
        },
        ast::Expr::Interval(_) => "interval".into(),
        ast::Expr::Array(_) => "array".into(),
        ast::Expr::CompoundFieldAccess { root, .. } => match column_name(root) {
            n if n == "?column?" => "array".into(),
            n => n,
        },
        _ => "?column?".into(),
    }
}

fn type_column_name(t: DataType) -> String {
    match t {
        DataType::Int2 => "int2",
        DataType::Int4 => "int4",
        DataType::Int8 => "int8",
        DataType::Float4 => "float4",
        DataType::Float8 => "float8",
        DataType::Numeric(_) => "numeric",
        DataType::Bool => "bool",
        DataType::Varchar(_) => "varchar",
        DataType::Char(_) => "bpchar",
        DataType::Timestamp => "timestamp",
        DataType::TimestampTz => "timestamptz",
        DataType::Time => "time",
        DataType::Array(_) => return t.elem().map(type_column_name).unwrap_or_default(),
        other => return other.base_name().to_string(),
    }
    .to_string()
}

pub(super) fn contains_agg(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if matches!(x, Expr::Agg(_)) {
            found = true;
        }
    });
    found
}

fn same_expr(a: &Expr, b: &Expr) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// Rewrites an expression over the aggregate's output: group expressions
/// become columns 0.., aggregate calls columns after them.
fn rewrite_agg(e: Expr, group: &[Expr], aggs: &mut Vec<AggCall>, scope: &Scope) -> Result<Expr> {
    let n = group.len();
    e.transform(&mut |x| {
        if let Some(i) = group.iter().position(|g| same_expr(g, x)) {
            return Ok(Some(Expr::Column(i)));
        }
        match x {
            Expr::Agg(call) => {
                if call.args.iter().any(contains_agg) {
                    return Err(Error::new(
                        SqlState::GROUPING_ERROR,
                        "aggregate function calls cannot be nested",
                    ));
                }
                aggs.push((**call).clone());
                Ok(Some(Expr::Column(n + aggs.len() - 1)))
            }
            Expr::Column(i) => {
                let c = &scope.cols[*i];
                let qual = c.table.as_ref().map(|t| format!("{t}.")).unwrap_or_default();
                Err(Error::new(
                    SqlState::GROUPING_ERROR,
                    format!(
                        "column \"{qual}{}\" must appear in the GROUP BY clause or be used in an aggregate function",
                        c.name
                    ),
                ))
            }
            _ => Ok(None),
        }
    })
}

/// Puts a WHERE predicate as close to the scan as possible and picks an
/// access path for a single-table scan.
pub(super) fn push_filter(plan: Plan, pred: Expr) -> Plan {
    match plan {
        Plan::Scan {
            table,
            filter: None,
            ..
        } => {
            let access = choose_access(&table, Some(&pred));
            Plan::Scan {
                table,
                access,
                filter: Some(pred),
            }
        }
        Plan::NestedLoop {
            left,
            right,
            kind: JoinKind::Inner,
            on: None,
            left_width,
            right_width,
        } => {
            // Turn equi-conditions between the two sides into a hash join.
            let parts: Vec<Expr> = conjuncts(&pred).into_iter().cloned().collect();
            make_join_with(
                *left,
                *right,
                JoinKind::Inner,
                parts,
                left_width,
                right_width,
            )
        }
        other => Plan::Filter {
            input: Box::new(other),
            predicate: pred,
        },
    }
}

fn side_of(e: &Expr, left_width: usize) -> Option<bool> {
    let mut left = false;
    let mut right = false;
    let mut other = false;
    e.walk(&mut |x| match x {
        Expr::Column(i) => {
            if *i < left_width {
                left = true
            } else {
                right = true
            }
        }
        Expr::Subquery(_) | Expr::Agg(_) => other = true,
        _ => {}
    });
    if other || (left && right) {
        return None;
    }
    if left {
        Some(true)
    } else if right {
        Some(false)
    } else {
        None
    }
}

pub(super) fn shift_columns(e: Expr, by: usize) -> Expr {
    e.transform(&mut |x| {
        Ok(match x {
            Expr::Column(i) => Some(Expr::Column(i - by)),
            _ => None,
        })
    })
    .expect("infallible")
}

fn make_join(
    left: Plan,
    right: Plan,
    kind: JoinKind,
    on: Option<Expr>,
    lw: usize,
    rw: usize,
) -> Plan {
    let parts: Vec<Expr> = on
        .map(|e| conjuncts(&e).into_iter().cloned().collect())
        .unwrap_or_default();
    make_join_with(left, right, kind, parts, lw, rw)
}

pub(super) fn make_join_with(
    left: Plan,
    right: Plan,
    kind: JoinKind,
    parts: Vec<Expr>,
    lw: usize,
    rw: usize,
) -> Plan {
    let mut left_keys = Vec::new();
    let mut right_keys = Vec::new();
    let mut residual: Vec<Expr> = Vec::new();
    for p in parts {
        if let Expr::Binary {
            op: BinaryOp::Eq,
            left: l,
            right: r,
        } = &p
        {
            match (side_of(l, lw), side_of(r, lw)) {
                (Some(true), Some(false)) => {
                    left_keys.push((**l).clone());
                    right_keys.push(shift_columns((**r).clone(), lw));
                    continue;
                }
                (Some(false), Some(true)) => {
                    left_keys.push((**r).clone());
                    right_keys.push(shift_columns((**l).clone(), lw));
                    continue;
                }
                _ => {}
            }
        }
        residual.push(p);
    }
    let residual = residual
        .into_iter()
        .reduce(|a, b| Expr::And(Box::new(a), Box::new(b)));
    if left_keys.is_empty() {
        return Plan::NestedLoop {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            on: residual,
            left_width: lw,
            right_width: rw,
        };
    }
    Plan::HashJoin {
        left: Box::new(left),
        right: Box::new(right),
        kind,
        left_keys,
        right_keys,
        residual,
        left_width: lw,
        right_width: rw,
    }
}

/// What a SELECT's unknown-typed outputs become outside an INSERT's source
/// or a set operation: text.
pub(super) fn resolve_unknown_as_text(cols: &mut [OutCol]) {
    for c in cols {
        if c.ty == DataType::Unknown {
            c.ty = DataType::Text;
        }
    }
}
