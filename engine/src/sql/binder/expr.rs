//! Binding expressions: name resolution, typing, implicit coercion,
//! parameter type inference, functions, aggregates and subqueries.

use super::query::contains_agg;
use super::*;

/// Bound arguments of a call, whether it was `f(*)`, and whether DISTINCT.
type FunctionArgs = (Vec<(Expr, DataType)>, bool, bool);

fn op_of(op: &ast::BinaryOperator) -> Option<BinaryOp> {
    use ast::BinaryOperator as B;
    Some(match op {
        B::Plus => BinaryOp::Add,
        B::Minus => BinaryOp::Sub,
        B::Multiply => BinaryOp::Mul,
        B::Divide => BinaryOp::Div,
        B::Modulo => BinaryOp::Mod,
        B::PGExp => BinaryOp::Pow,
        B::StringConcat => BinaryOp::Concat,
        B::Eq => BinaryOp::Eq,
        B::NotEq => BinaryOp::NotEq,
        B::Lt => BinaryOp::Lt,
        B::LtEq => BinaryOp::LtEq,
        B::Gt => BinaryOp::Gt,
        B::GtEq => BinaryOp::GtEq,
        B::BitwiseAnd => BinaryOp::BitAnd,
        B::BitwiseOr => BinaryOp::BitOr,
        B::PGBitwiseXor => BinaryOp::BitXor,
        B::PGBitwiseShiftLeft => BinaryOp::ShiftLeft,
        B::PGBitwiseShiftRight => BinaryOp::ShiftRight,
        B::PGRegexMatch => BinaryOp::RegexMatch {
            case_insensitive: false,
            negated: false,
        },
        B::PGRegexIMatch => BinaryOp::RegexMatch {
            case_insensitive: true,
            negated: false,
        },
        B::PGRegexNotMatch => BinaryOp::RegexMatch {
            case_insensitive: false,
            negated: true,
        },
        B::PGRegexNotIMatch => BinaryOp::RegexMatch {
            case_insensitive: true,
            negated: true,
        },
        B::PGLikeMatch => BinaryOp::Like,
        B::PGILikeMatch => BinaryOp::ILike,
        B::PGNotLikeMatch => BinaryOp::NotLike,
        B::PGNotILikeMatch => BinaryOp::NotILike,
        B::AtArrow => BinaryOp::Contains,
        B::ArrowAt => BinaryOp::ContainedBy,
        B::PGOverlap => BinaryOp::Overlap,
        B::PGCustomBinaryOperator(parts) => {
            return op_of(&super::syscat::qualified_operator(parts)?)
        }
        _ => return None,
    })
}

/// The comparison operator for `op`, if it is one.
pub(super) fn comparison_op(op: &ast::BinaryOperator) -> Option<BinaryOp> {
    op_of(op).filter(BinaryOp::is_comparison)
}

pub(super) fn agg_func(name: &str) -> Option<AggFunc> {
    Some(match name {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "avg" => AggFunc::Avg,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        "bool_and" | "every" => AggFunc::BoolAnd,
        "bool_or" => AggFunc::BoolOr,
        "string_agg" => AggFunc::StringAgg,
        "array_agg" => AggFunc::ArrayAgg,
        other => AggFunc::Variance(crate::sql::exec::VarianceKind::by_name(other)?),
    })
}

fn special_func(name: &str) -> Option<SpecialFunc> {
    Some(match name {
        "now" | "transaction_timestamp" | "current_timestamp" => SpecialFunc::Now,
        "statement_timestamp" => SpecialFunc::StatementTimestamp,
        "clock_timestamp" => SpecialFunc::ClockTimestamp,
        "current_date" => SpecialFunc::CurrentDate,
        "localtimestamp" => SpecialFunc::LocalTimestamp,
        "version" => SpecialFunc::Version,
        "current_user" | "user" | "current_role" => SpecialFunc::CurrentUser,
        "session_user" => SpecialFunc::SessionUser,
        "current_database" | "current_catalog" => SpecialFunc::CurrentDatabase,
        "current_schema" => SpecialFunc::CurrentSchema,
        "current_setting" => SpecialFunc::CurrentSetting,
        "nextval" => SpecialFunc::Nextval,
        "currval" => SpecialFunc::Currval,
        "lastval" => SpecialFunc::Lastval,
        "setval" => SpecialFunc::Setval,
        "txid_current" => SpecialFunc::TxidCurrent,
        _ => return None,
    })
}

fn special_type(f: SpecialFunc) -> DataType {
    match f {
        SpecialFunc::Now | SpecialFunc::StatementTimestamp | SpecialFunc::ClockTimestamp => {
            DataType::TimestampTz
        }
        SpecialFunc::LocalTimestamp => DataType::Timestamp,
        SpecialFunc::CurrentDate => DataType::Date,
        SpecialFunc::Version | SpecialFunc::CurrentSetting => DataType::Text,
        SpecialFunc::CurrentUser
        | SpecialFunc::SessionUser
        | SpecialFunc::CurrentDatabase
        | SpecialFunc::CurrentSchema => DataType::Name,
        SpecialFunc::Nextval
        | SpecialFunc::Currval
        | SpecialFunc::Lastval
        | SpecialFunc::Setval
        | SpecialFunc::TxidCurrent => DataType::Int8,
        SpecialFunc::Catalog(f) => crate::syscat::functions::return_type(f),
    }
}

impl Binder<'_> {
    pub(super) fn bind_expr(
        &mut self,
        e: &ast::Expr,
        scopes: &[Scope],
    ) -> Result<(Expr, DataType)> {
        self.bind_expr_typed(e, scopes, None)
    }

    pub(super) fn bind_predicate(&mut self, e: &ast::Expr, scopes: &[Scope]) -> Result<Expr> {
        let (b, t) = self.bind_expr_typed(e, scopes, Some(DataType::Bool))?;
        if t != DataType::Bool && t != DataType::Unknown {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "argument of WHERE must be type boolean, not type {}",
                    t.sql_name()
                ),
            ));
        }
        self.coerce(b, t, DataType::Bool)
    }

    /// Converts `e` of type `from` to `to`: parameters of unknown type take
    /// the type, untyped literals are parsed, other types cast implicitly.
    pub(super) fn coerce(&mut self, e: Expr, from: DataType, to: DataType) -> Result<Expr> {
        if from == to || to == DataType::Unknown {
            return Ok(e);
        }
        if is_bpchar(from) && to.is_string() && !is_bpchar(to) {
            return Ok(cast_to(bpchar_to_text(e)?, to));
        }
        if from.without_modifier() == to.without_modifier()
            && matches!(
                to,
                DataType::Numeric(_) | DataType::Varchar(_) | DataType::Char(_)
            )
        {
            return Ok(e);
        }
        match e {
            Expr::Param(i) if self.params[i] == DataType::Unknown => {
                self.params[i] = to;
                Ok(Expr::Param(i))
            }
            Expr::Literal(Value::Null) => Ok(Expr::Literal(Value::Null)),
            Expr::Literal(Value::Text(s)) if from == DataType::Unknown => {
                Ok(Expr::Literal(parse_text(to, &s, &self.io)?))
            }
            e if from == DataType::Unknown || can_implicit_cast(from, to) => Ok(Expr::Cast {
                expr: Box::new(e),
                to,
            }),
            _ => Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "argument of type {} cannot be used as type {}",
                    from.sql_name(),
                    to.sql_name()
                ),
            )),
        }
    }

    /// `left op right` for comparison operators: both sides are brought to a
    /// common type.
    pub(super) fn comparison(
        &mut self,
        op: BinaryOp,
        l: Expr,
        lt: DataType,
        r: Expr,
        rt: DataType,
    ) -> Result<Expr> {
        let (l, r) = self.unify(l, lt, r, rt, op)?;
        Ok(Expr::Binary {
            op,
            left: Box::new(l),
            right: Box::new(r),
        })
    }

    fn unify(
        &mut self,
        l: Expr,
        lt: DataType,
        r: Expr,
        rt: DataType,
        op: BinaryOp,
    ) -> Result<(Expr, Expr)> {
        if (is_bpchar(lt) || is_bpchar(rt))
            && (lt.is_string() || lt == DataType::Unknown)
            && (rt.is_string() || rt == DataType::Unknown)
        {
            // character(n) compares without its trailing blanks; an untyped
            // literal compared with it is read as character too.
            let l = self.coerce(l, lt, DataType::Text)?;
            let r = self.coerce(r, rt, DataType::Text)?;
            let side = |e: Expr, t: DataType| {
                if t == DataType::Unknown {
                    bpchar_to_text(e)
                } else {
                    Ok(e)
                }
            };
            return Ok((side(l, lt)?, side(r, rt)?));
        }
        let target = match (lt, rt) {
            (DataType::Unknown, DataType::Unknown) => DataType::Text,
            (DataType::Unknown, t) | (t, DataType::Unknown) => t,
            (a, b) if a.without_modifier() == b.without_modifier() => return Ok((l, r)),
            (a, b) if a.is_numeric() && b.is_numeric() => {
                common_type(a, b).unwrap_or(DataType::Float8)
            }
            (a, b) => common_type(a, b).ok_or_else(|| op_error(op, a, b))?,
        };
        let target = target.without_modifier();
        // An unknown literal that does not parse as the other side's type is
        // an input error (22P02 and friends), not a missing operator.
        let op_err = |e: Error| {
            if e.state.code().starts_with("22") {
                e
            } else {
                op_error(op, lt, rt)
            }
        };
        let l = self.coerce(l, lt, target).map_err(op_err)?;
        let r = self.coerce(r, rt, target).map_err(op_err)?;
        Ok((l, r))
    }

    fn resolve_column(&self, parts: &[String], scopes: &[Scope]) -> Result<(Expr, DataType)> {
        let (table, name) = match parts {
            [c] => (None, c.as_str()),
            [t, c] => (Some(t.as_str()), c.as_str()),
            [s, t, c] if matches!(s.as_str(), "public" | "pg_catalog" | "information_schema") => {
                (Some(t.as_str()), c.as_str())
            }
            _ => {
                return Err(Error::syntax(format!(
                    "improper qualified name: {}",
                    parts.join(".")
                )))
            }
        };
        for (depth, scope) in scopes.iter().rev().enumerate() {
            let hits: Vec<usize> = scope
                .cols
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.name == name
                        && match table {
                            None => !c.hidden,
                            Some(t) => c.table.as_deref() == Some(t),
                        }
                })
                .map(|(i, _)| i)
                .collect();
            match hits.as_slice() {
                [] => continue,
                [i] => {
                    self.note_column_read(&scope.cols[*i]);
                    let ty = scope.cols[*i].ty;
                    let e = if depth == 0 {
                        Expr::Column(*i)
                    } else {
                        Expr::Outer { depth, index: *i }
                    };
                    return Ok((e, ty));
                }
                _ => {
                    return Err(Error::new(
                        SqlState::AMBIGUOUS_COLUMN,
                        format!("column reference \"{name}\" is ambiguous"),
                    ))
                }
            }
        }
        if let Some(t) = table {
            let known = scopes
                .iter()
                .any(|s| s.cols.iter().any(|c| c.table.as_deref() == Some(t)));
            if !known {
                return Err(Error::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("missing FROM-clause entry for table \"{t}\""),
                ));
            }
            return Err(undefined_column(&format!("{t}.{name}")));
        }
        Err(undefined_column(name))
    }

    pub(super) fn bind_subquery(
        &mut self,
        q: &ast::Query,
        scopes: &[Scope],
    ) -> Result<(Arc<Plan>, Vec<OutCol>, bool)> {
        let (plan, cols) = self.bind_query(q, scopes)?;
        let correlated = plan_refers_outer(&plan);
        Ok((Arc::new(plan), cols, correlated))
    }

    pub(super) fn subquery(
        &mut self,
        plan: Arc<Plan>,
        kind: SubqueryKind,
        negated: bool,
        correlated: bool,
    ) -> Expr {
        self.next_subquery += 1;
        Expr::Subquery(Box::new(Subquery {
            plan,
            kind,
            negated,
            correlated,
            id: self.next_subquery,
        }))
    }

    /// Binds an expression; `hint` is the type the context expects (used to
    /// type parameters and untyped literals).
    pub(super) fn bind_expr_typed(
        &mut self,
        e: &ast::Expr,
        scopes: &[Scope],
        hint: Option<DataType>,
    ) -> Result<(Expr, DataType)> {
        if self.depth >= crate::sql::limits::MAX_EXPR_DEPTH {
            return Err(crate::sql::limits::too_deep());
        }
        self.depth += 1;
        let r = crate::sql::limits::with_stack(|| self.bind_expr_nested(e, scopes, hint));
        self.depth -= 1;
        r
    }

    fn bind_expr_nested(
        &mut self,
        e: &ast::Expr,
        scopes: &[Scope],
        hint: Option<DataType>,
    ) -> Result<(Expr, DataType)> {
        use ast::Expr as E;
        Ok(match e {
            E::Identifier(i) => {
                let name = ident(i);
                match self.resolve_column(std::slice::from_ref(&name), scopes) {
                    Ok(r) => r,
                    Err(err) => {
                        // Keyword-like functions written without parentheses.
                        if i.quote_style.is_none() {
                            if let Some(f) = special_func(&name) {
                                if matches!(
                                    name.as_str(),
                                    "current_timestamp"
                                        | "current_date"
                                        | "current_user"
                                        | "session_user"
                                        | "user"
                                        | "current_role"
                                        | "current_catalog"
                                        | "current_schema"
                                        | "localtimestamp"
                                ) {
                                    return Ok((
                                        Expr::Special {
                                            func: f,
                                            args: vec![],
                                        },
                                        special_type(f),
                                    ));
                                }
                            }
                        }
                        return Err(err);
                    }
                }
            }
            E::CompoundIdentifier(parts) => {
                let names: Vec<String> = parts.iter().map(ident).collect();
                self.resolve_column(&names, scopes)?
            }
            E::Value(v) => self.bind_value(&v.value, hint)?,
            E::TypedString(ts) => {
                let ty = convert_type(&ts.data_type)?;
                let text = match &ts.value.value {
                    ast::Value::SingleQuotedString(s) | ast::Value::EscapedStringLiteral(s) => {
                        s.clone()
                    }
                    other => other.to_string(),
                };
                (Expr::Literal(parse_text(ty, &text, &self.io)?), ty)
            }
            E::Interval(iv) => {
                let (inner, t) = self.bind_expr(&iv.value, scopes)?;
                let mut text = match inner {
                    Expr::Literal(Value::Text(s)) if t == DataType::Unknown => s,
                    Expr::Literal(v) if !v.is_null() => {
                        let mut s = String::new();
                        crate::types::io::format_text(&v, &self.io, &mut s);
                        s
                    }
                    _ => return Err(Error::unsupported("INTERVAL needs a constant")),
                };
                if let Some(f) = &iv.leading_field {
                    if iv.last_field.is_none() {
                        text = format!("{text} {f}");
                    }
                }
                (
                    Expr::Literal(parse_text(DataType::Interval, &text, &self.io)?),
                    DataType::Interval,
                )
            }
            E::Nested(inner) => self.bind_expr_typed(inner, scopes, hint)?,
            E::BinaryOp { left, op, right } => self.bind_binary(left, op, right, scopes)?,
            E::UnaryOp { op, expr } => self.bind_unary(op, expr, scopes)?,
            E::IsNull(x) | E::IsNotNull(x) => {
                let (b, _) = self.bind_expr(x, scopes)?;
                (
                    Expr::IsNull {
                        expr: Box::new(b),
                        negated: matches!(e, E::IsNotNull(_)),
                    },
                    DataType::Bool,
                )
            }
            E::IsTrue(x) | E::IsNotTrue(x) | E::IsFalse(x) | E::IsNotFalse(x) => {
                let (b, t) = self.bind_expr(x, scopes)?;
                let b = self.coerce(b, t, DataType::Bool)?;
                (
                    Expr::IsBool {
                        expr: Box::new(b),
                        value: matches!(e, E::IsTrue(_) | E::IsNotTrue(_)),
                        negated: matches!(e, E::IsNotTrue(_) | E::IsNotFalse(_)),
                    },
                    DataType::Bool,
                )
            }
            E::IsUnknown(x) | E::IsNotUnknown(x) => {
                let (b, t) = self.bind_expr(x, scopes)?;
                let b = self.coerce(b, t, DataType::Bool)?;
                (
                    Expr::IsNull {
                        expr: Box::new(b),
                        negated: matches!(e, E::IsNotUnknown(_)),
                    },
                    DataType::Bool,
                )
            }
            E::IsDistinctFrom(l, r) | E::IsNotDistinctFrom(l, r) => {
                let (lb, lt) = self.bind_expr(l, scopes)?;
                let (rb, rt) = self.bind_expr(r, scopes)?;
                let (lb, rb) = self.unify(lb, lt, rb, rt, BinaryOp::Eq)?;
                (
                    Expr::IsDistinct {
                        left: Box::new(lb),
                        right: Box::new(rb),
                        negated: matches!(e, E::IsNotDistinctFrom(..)),
                    },
                    DataType::Bool,
                )
            }
            E::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (x, xt) = self.bind_expr(expr, scopes)?;
                let (lo, lt) = self.bind_expr(low, scopes)?;
                let (hi, ht) = self.bind_expr(high, scopes)?;
                let ge = self.comparison(BinaryOp::GtEq, x.clone(), xt, lo, lt)?;
                let le = self.comparison(BinaryOp::LtEq, x, xt, hi, ht)?;
                let both = Expr::And(Box::new(ge), Box::new(le));
                let e = if *negated {
                    Expr::Unary {
                        op: UnaryOp::Not,
                        expr: Box::new(both),
                    }
                } else {
                    both
                };
                (e, DataType::Bool)
            }
            E::In {
                expr,
                target: ast::InTarget::List(list),
                negated,
                ..
            } => {
                let (x, mut xt) = self.bind_expr(expr, scopes)?;
                let mut items = Vec::new();
                for item in list {
                    items.push(self.bind_expr_typed(item, scopes, Some(xt))?);
                }
                if xt == DataType::Unknown {
                    for (_, t) in &items {
                        xt = common_type(xt, *t).ok_or_else(|| op_error(BinaryOp::Eq, xt, *t))?;
                    }
                    if xt == DataType::Unknown {
                        xt = DataType::Text;
                    }
                }
                let target = xt.without_modifier();
                let mut bound = Vec::new();
                for (b, t) in items {
                    let (_, b2) =
                        self.unify(Expr::Literal(Value::Null), target, b, t, BinaryOp::Eq)?;
                    bound.push(b2);
                }
                let x = self.coerce(x, xt, target)?;
                (
                    Expr::InList {
                        expr: Box::new(x),
                        list: bound,
                        negated: *negated,
                    },
                    DataType::Bool,
                )
            }
            E::In {
                expr,
                target: ast::InTarget::Subquery(subquery),
                negated,
                ..
            } => {
                let (x, xt) = self.bind_expr(expr, scopes)?;
                let (plan, cols, correlated) = self.bind_subquery(subquery, scopes)?;
                if cols.len() != 1 {
                    return Err(Error::syntax("subquery has too many columns"));
                }
                let ct = cols[0].ty;
                let (x, plan) = if xt.without_modifier() == ct.without_modifier() {
                    (x, plan)
                } else {
                    let target =
                        common_type(xt, ct).ok_or_else(|| op_error(BinaryOp::Eq, xt, ct))?;
                    let x = self.coerce(x, xt, target)?;
                    let inner = self.coerce(Expr::Column(0), ct, target)?;
                    let plan = Arc::new(Plan::Project {
                        input: Box::new(Arc::try_unwrap(plan).unwrap_or_else(|p| (*p).clone())),
                        exprs: vec![inner],
                    });
                    (x, plan)
                };
                (
                    self.subquery(plan, SubqueryKind::In(Box::new(x)), *negated, correlated),
                    DataType::Bool,
                )
            }
            E::Exists { subquery, negated } => {
                let (plan, _, correlated) = self.bind_subquery(subquery, scopes)?;
                (
                    self.subquery(plan, SubqueryKind::Exists, *negated, correlated),
                    DataType::Bool,
                )
            }
            E::Subquery(q) => {
                let (plan, cols, correlated) = self.bind_subquery(q, scopes)?;
                if cols.len() != 1 {
                    return Err(Error::syntax("subquery must return only one column"));
                }
                let ty = cols[0].ty;
                (
                    self.subquery(plan, SubqueryKind::Scalar, false, correlated),
                    ty,
                )
            }
            E::Like {
                negated,
                expr,
                pattern,
                escape_char,
                any,
            }
            | E::ILike {
                negated,
                expr,
                pattern,
                escape_char,
                any,
            } => {
                if *any || escape_char.is_some() {
                    return Err(Error::unsupported("LIKE ANY / ESCAPE is not supported yet"));
                }
                let ci = matches!(e, E::ILike { .. });
                let op = match (ci, negated) {
                    (false, false) => BinaryOp::Like,
                    (false, true) => BinaryOp::NotLike,
                    (true, false) => BinaryOp::ILike,
                    (true, true) => BinaryOp::NotILike,
                };
                let (l, lt) = self.bind_expr_typed(expr, scopes, Some(DataType::Text))?;
                let (r, rt) = self.bind_expr_typed(pattern, scopes, Some(DataType::Text))?;
                let l = self.coerce_to_text(l, lt)?;
                let r = self.coerce_to_text(r, rt)?;
                (
                    Expr::Binary {
                        op,
                        left: Box::new(l),
                        right: Box::new(r),
                    },
                    DataType::Bool,
                )
            }
            E::Cast {
                expr, data_type, ..
            } => {
                if let Some(r) = self.bind_catalog_cast(expr, data_type, scopes)? {
                    return Ok(r);
                }
                let to = convert_type(data_type)?;
                let (b, t) = self.bind_expr_typed(expr, scopes, Some(to))?;
                let b = match b {
                    Expr::Literal(Value::Text(s)) if t == DataType::Unknown => {
                        Expr::Literal(crate::types::cast::cast(
                            parse_text(to.without_modifier(), &s, &self.io)?,
                            to,
                        )?)
                    }
                    Expr::Param(i) if self.params[i] == DataType::Unknown => {
                        self.params[i] = to;
                        Expr::Param(i)
                    }
                    other if t == to => other,
                    other if is_bpchar(t) && to.is_string() && !is_bpchar(to) => {
                        cast_to(bpchar_to_text(other)?, to)
                    }
                    other => Expr::Cast {
                        expr: Box::new(other),
                        to,
                    },
                };
                (b, to)
            }
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.refusing_set_functions(select_srf::IN_CASE, |b| {
                b.bind_case(
                    operand.as_deref(),
                    conditions,
                    else_result.as_deref(),
                    scopes,
                )
            })?,
            E::Function(f) => self.bind_function(f, scopes)?,
            E::Extract { field, expr, .. } => {
                let (x, xt) = self.bind_expr(expr, scopes)?;
                let field = Expr::Literal(Value::Text(field.to_string().to_lowercase()));
                self.call_function("extract", vec![(field, DataType::Text), (x, xt)])?
            }
            E::Position { expr, r#in } => {
                let (a, at) = self.bind_expr(expr, scopes)?;
                let (b, bt) = self.bind_expr(r#in, scopes)?;
                self.call_function("strpos", vec![(b, bt), (a, at)])?
            }
            E::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.bind_expr(expr, scopes)?];
                match substring_from {
                    Some(f) => args.push(self.bind_expr(f, scopes)?),
                    None => args.push((Expr::Literal(Value::Int4(1)), DataType::Int4)),
                }
                if let Some(f) = substring_for {
                    args.push(self.bind_expr(f, scopes)?);
                }
                self.call_function("substring", args)?
            }
            E::Trim {
                expr,
                trim_where,
                trim_what,
                trim_characters,
            } => {
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    _ => "btrim",
                };
                let mut args = vec![self.bind_expr(expr, scopes)?];
                if let Some(w) = trim_what {
                    args.push(self.bind_expr(w, scopes)?);
                } else if let Some(chars) = trim_characters {
                    if let Some(c) = chars.first() {
                        args.push(self.bind_expr(c, scopes)?);
                    }
                }
                self.call_function(name, args)?
            }
            E::Ceil { expr, .. } => {
                let a = self.bind_expr(expr, scopes)?;
                self.call_function("ceil", vec![a])?
            }
            E::Floor { expr, .. } => {
                let a = self.bind_expr(expr, scopes)?;
                self.call_function("floor", vec![a])?
            }
            E::AtTimeZone { .. } => {
                return Err(Error::unsupported("AT TIME ZONE is not supported yet"))
            }
            E::Array(a) => self.bind_array_ctor(&a.elem, scopes, hint)?,
            E::AnyOp {
                left,
                compare_op,
                right,
                ..
            } => self.bind_any_all(left, compare_op, right, false, scopes)?,
            E::AllOp {
                left,
                compare_op,
                right,
            } => self.bind_any_all(left, compare_op, right, true, scopes)?,
            E::CompoundFieldAccess { root, access_chain } => {
                self.bind_subscript(root, access_chain, scopes)?
            }
            E::Collate { expr, collation } => self.bind_collate(expr, collation, scopes, hint)?,
            E::Tuple(_) => {
                return Err(Error::unsupported("row constructors are not supported yet"))
            }
            other => {
                return Err(Error::unsupported(format!(
                    "unsupported expression: {other}"
                )))
            }
        })
    }

    fn coerce_to_text(&mut self, e: Expr, t: DataType) -> Result<Expr> {
        if t.is_string() {
            return Ok(e);
        }
        self.coerce(e, t, DataType::Text)
    }

    fn bind_value(&mut self, v: &ast::Value, hint: Option<DataType>) -> Result<(Expr, DataType)> {
        use ast::Value as V;
        Ok(match v {
            V::Number(n, _) => {
                if let Ok(i) = n.parse::<i32>() {
                    (Expr::Literal(Value::Int4(i)), DataType::Int4)
                } else if let Ok(i) = n.parse::<i64>() {
                    (Expr::Literal(Value::Int8(i)), DataType::Int8)
                } else if let Ok(d) = Decimal::from_str(n).or_else(|_| Decimal::from_scientific(n))
                {
                    (Expr::Literal(Value::Numeric(d)), DataType::Numeric(None))
                } else if let (Some(t @ (DataType::Float4 | DataType::Float8)), Ok(f)) =
                    (hint, n.parse::<f64>())
                {
                    // Beyond what our numeric holds, but fine as a float.
                    let v = if t == DataType::Float4 {
                        Value::Float4(f as f32)
                    } else {
                        Value::Float8(f)
                    };
                    (Expr::Literal(crate::types::cast::cast(v, t)?), t)
                } else {
                    return Err(Error::unsupported(format!(
                        "numeric literal {n} exceeds the supported precision"
                    )));
                }
            }
            V::SingleQuotedString(s)
            | V::EscapedStringLiteral(s)
            | V::DollarQuotedString(ast::DollarQuotedString { value: s, .. })
            | V::UnicodeStringLiteral(s) => {
                (Expr::Literal(Value::Text(s.clone())), DataType::Unknown)
            }
            V::HexStringLiteral(s) => (Expr::Literal(Value::Text(s.clone())), DataType::Unknown),
            V::Boolean(b) => (Expr::Literal(Value::Bool(*b)), DataType::Bool),
            V::Null => (Expr::Literal(Value::Null), DataType::Unknown),
            V::Placeholder(p) => {
                let n: usize = p
                    .strip_prefix('$')
                    .and_then(|d| d.parse().ok())
                    .filter(|n| *n >= 1 && *n <= 65535)
                    .ok_or_else(|| Error::syntax(format!("syntax error at or near \"{p}\"")))?;
                if self.params.len() < n {
                    self.params.resize(n, DataType::Unknown);
                }
                let mut t = self.params[n - 1];
                if t == DataType::Unknown {
                    if let Some(h) = hint {
                        if h != DataType::Unknown {
                            self.params[n - 1] = h;
                            t = h;
                        }
                    }
                }
                (Expr::Param(n - 1), t)
            }
            other => return Err(Error::unsupported(format!("unsupported literal {other}"))),
        })
    }

    fn bind_binary(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
        scopes: &[Scope],
    ) -> Result<(Expr, DataType)> {
        match op {
            ast::BinaryOperator::And | ast::BinaryOperator::Or => {
                let l = self.bind_predicate_part(left, scopes)?;
                let r = self.bind_predicate_part(right, scopes)?;
                let e = if matches!(op, ast::BinaryOperator::And) {
                    Expr::And(Box::new(l), Box::new(r))
                } else {
                    Expr::Or(Box::new(l), Box::new(r))
                };
                return Ok((e, DataType::Bool));
            }
            _ => {}
        }
        let json_only = json::is_json_only_operator(op);
        if !json_only && op_of(op).is_none() {
            return Err(Error::new(
                SqlState::UNDEFINED_FUNCTION,
                format!("operator does not exist: {op}"),
            ));
        }
        let (l, lt) = self.bind_expr(left, scopes)?;
        let hint = Some(lt).filter(|t| *t != DataType::Unknown && !json_only);
        let (r, rt) = self.bind_expr_typed(right, scopes, hint)?;
        let ((l, lt), (r, rt)) = match self.bind_json_operator(op, (l, lt), (r, rt))? {
            Ok(bound) => return Ok(bound),
            Err(operands) => operands,
        };
        let bop = op_of(op).ok_or_else(|| no_operator(&op.to_string(), lt, rt))?;
        // A parameter on the left takes the right side's type.
        let (l, lt) = match l {
            Expr::Param(i) if lt == DataType::Unknown && rt != DataType::Unknown => {
                let target = if bop == BinaryOp::Concat {
                    DataType::Text
                } else {
                    rt
                };
                self.params[i] = target;
                (Expr::Param(i), target)
            }
            other => (other, lt),
        };
        if bop.is_comparison() {
            let e = self.comparison(bop, l, lt, r, rt)?;
            return Ok((fold_strict_null(e), DataType::Bool));
        }
        let (l, lt, r, rt) = match bop {
            BinaryOp::Concat | BinaryOp::Contains | BinaryOp::ContainedBy | BinaryOp::Overlap
                if lt.is_array() || rt.is_array() =>
            {
                self.array_operands(bop, l, lt, r, rt)?
            }
            BinaryOp::Concat => {
                let (l, lt) = if lt == DataType::Unknown || is_bpchar(lt) {
                    (self.coerce(l, lt, DataType::Text)?, DataType::Text)
                } else {
                    (l, lt)
                };
                let (r, rt) = if rt == DataType::Unknown || is_bpchar(rt) {
                    (self.coerce(r, rt, DataType::Text)?, DataType::Text)
                } else {
                    (r, rt)
                };
                (l, lt, r, rt)
            }
            BinaryOp::Like
            | BinaryOp::NotLike
            | BinaryOp::ILike
            | BinaryOp::NotILike
            | BinaryOp::RegexMatch { .. } => {
                let l = self.coerce_to_text(l, lt)?;
                let r = self.coerce_to_text(r, rt)?;
                (l, DataType::Text, r, DataType::Text)
            }
            _ => match (lt, rt) {
                (DataType::Unknown, DataType::Unknown) => {
                    let l = self.coerce(l, lt, DataType::Text)?;
                    let r = self.coerce(r, rt, DataType::Text)?;
                    (l, DataType::Text, r, DataType::Text)
                }
                (DataType::Unknown, t) => {
                    let ut = unknown_operand_type(bop, t);
                    (self.coerce(l, lt, ut)?, ut, r, rt)
                }
                (t, DataType::Unknown) => {
                    let ut = unknown_operand_type(bop, t);
                    let r = self.coerce(r, rt, ut)?;
                    (l, lt, r, ut)
                }
                _ => (l, lt, r, rt),
            },
        };
        let ty = binary_op_type(bop, lt, rt)?;
        // Bring numeric operands to one type so evaluation is simple.
        let (l, r) = if lt.is_numeric()
            && rt.is_numeric()
            && lt.without_modifier() != rt.without_modifier()
            && !matches!(bop, BinaryOp::ShiftLeft | BinaryOp::ShiftRight)
        {
            let common = common_type(lt, rt)
                .unwrap_or(DataType::Float8)
                .without_modifier();
            (self.coerce(l, lt, common)?, self.coerce(r, rt, common)?)
        } else {
            (l, r)
        };
        let e = Expr::Binary {
            op: bop,
            left: Box::new(l),
            right: Box::new(r),
        };
        Ok((fold_strict_null(e), ty))
    }

    /// Operands of an array operator: an untyped side takes the array
    /// type; arrays (and an appended element) are brought to one element
    /// type.
    fn array_operands(
        &mut self,
        op: BinaryOp,
        l: Expr,
        lt: DataType,
        r: Expr,
        rt: DataType,
    ) -> Result<(Expr, DataType, Expr, DataType)> {
        let elem_of = |t: DataType| t.elem().unwrap_or(t);
        let elem = match (lt, rt) {
            (DataType::Unknown, t) | (t, DataType::Unknown) => elem_of(t),
            (a, b) => {
                common_type(elem_of(a), elem_of(b)).ok_or_else(|| no_operator(op.symbol(), a, b))?
            }
        };
        let elem = elem.without_modifier();
        let at = elem
            .array_of()
            .ok_or_else(|| no_operator(op.symbol(), lt, rt))?;
        let side =
            |b: &mut Self, e: Expr, t: DataType, other: DataType| -> Result<(Expr, DataType)> {
                let target = if t.is_array()
                    || (t == DataType::Unknown && (op != BinaryOp::Concat || other.is_array()))
                {
                    at
                } else {
                    elem
                };
                if t.without_modifier() == target {
                    return Ok((e, target));
                }
                Ok((b.coerce(e, t, target)?, target))
            };
        let (l, lt2) = side(self, l, lt, rt)?;
        let (r, rt2) = side(self, r, rt, lt)?;
        Ok((l, lt2, r, rt2))
    }

    fn bind_predicate_part(&mut self, e: &ast::Expr, scopes: &[Scope]) -> Result<Expr> {
        let (b, t) = self.bind_expr_typed(e, scopes, Some(DataType::Bool))?;
        if t != DataType::Bool && t != DataType::Unknown {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "argument of AND/OR must be type boolean, not type {}",
                    t.sql_name()
                ),
            ));
        }
        self.coerce(b, t, DataType::Bool)
    }

    fn bind_unary(
        &mut self,
        op: &ast::UnaryOperator,
        expr: &ast::Expr,
        scopes: &[Scope],
    ) -> Result<(Expr, DataType)> {
        // Fold negated numeric literals so `-2147483648` is an integer (and,
        // as in PostgreSQL, `-(-2147483648)` a bigint).
        if matches!(op, ast::UnaryOperator::Minus) {
            if let Some((n, l)) = negated_literal(expr) {
                return self.bind_value(&ast::Value::Number(n, l), None);
            }
        }
        let uop = match op {
            ast::UnaryOperator::Not => UnaryOp::Not,
            ast::UnaryOperator::Minus => UnaryOp::Neg,
            ast::UnaryOperator::Plus => UnaryOp::Plus,
            ast::UnaryOperator::BitwiseNot => UnaryOp::BitNot,
            other => {
                return Err(Error::unsupported(format!(
                    "operator does not exist: {other}"
                )))
            }
        };
        if uop == UnaryOp::Not {
            let b = self.bind_predicate_part(expr, scopes)?;
            return Ok((
                Expr::Unary {
                    op: uop,
                    expr: Box::new(b),
                },
                DataType::Bool,
            ));
        }
        let (b, t) = self.bind_expr(expr, scopes)?;
        let (b, t) = if t == DataType::Unknown {
            (self.coerce(b, t, DataType::Float8)?, DataType::Float8)
        } else {
            (b, t)
        };
        let ty = unary_op_type(uop, t)?;
        Ok((
            Expr::Unary {
                op: uop,
                expr: Box::new(b),
            },
            ty,
        ))
    }

    fn bind_case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
        scopes: &[Scope],
    ) -> Result<(Expr, DataType)> {
        let op = operand.map(|o| self.bind_expr(o, scopes)).transpose()?;
        let mut whens = Vec::new();
        let mut results = Vec::new();
        for cw in conditions {
            let w = match &op {
                Some((o, ot)) => {
                    let (wb, wt) = self.bind_expr_typed(&cw.condition, scopes, Some(*ot))?;
                    let (_, wb) = self.unify(o.clone(), *ot, wb, wt, BinaryOp::Eq)?;
                    wb
                }
                None => self.bind_predicate_part(&cw.condition, scopes)?,
            };
            whens.push(w);
            results.push(self.bind_expr(&cw.result, scopes)?);
        }
        let else_ = else_result.map(|e| self.bind_expr(e, scopes)).transpose()?;
        let mut ty = DataType::Unknown;
        for (_, t) in results.iter().chain(else_.iter()) {
            ty = common_type(ty, *t).ok_or_else(|| {
                Error::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "CASE types {} and {} cannot be matched",
                        ty.base_name(),
                        t.base_name()
                    ),
                )
            })?;
        }
        if ty == DataType::Unknown {
            ty = DataType::Text;
        }
        let mut pairs = Vec::new();
        for (w, (r, rt)) in whens.into_iter().zip(results) {
            pairs.push((w, self.coerce(r, rt, ty)?));
        }
        let else_ = match else_ {
            Some((e, t)) => Some(Box::new(self.coerce(e, t, ty)?)),
            None => None,
        };
        let operand = op.map(|(o, _)| Box::new(o));
        // With an operand, the WHEN values were unified against it; compare
        // them at evaluation time with SQL equality.
        Ok((
            Expr::Case {
                operand,
                whens: pairs,
                else_,
            },
            ty,
        ))
    }

    pub(super) fn function_args(
        &mut self,
        f: &ast::Function,
        scopes: &[Scope],
    ) -> Result<FunctionArgs> {
        let mut star = false;
        let mut distinct = false;
        let mut out = Vec::new();
        match &f.args {
            ast::FunctionArguments::None => {}
            ast::FunctionArguments::Subquery(_) => {
                return Err(Error::unsupported("subquery as function argument"))
            }
            ast::FunctionArguments::List(list) => {
                distinct = matches!(
                    list.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                );
                for a in &list.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                            out.push(self.bind_expr(e, scopes)?)
                        }
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                        other => {
                            return Err(Error::unsupported(format!(
                                "unsupported function argument {other}"
                            )))
                        }
                    }
                }
            }
        }
        Ok((out, star, distinct))
    }

    /// The `ORDER BY` inside an aggregate call's parentheses.
    fn aggregate_order_by(&mut self, f: &ast::Function, scopes: &[Scope]) -> Result<Vec<SortKey>> {
        let ast::FunctionArguments::List(list) = &f.args else {
            return Ok(Vec::new());
        };
        let mut keys = Vec::new();
        for clause in &list.clauses {
            match clause {
                ast::FunctionArgumentClause::OrderBy(items) => {
                    for item in items {
                        let desc = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
                        let (expr, _) = self.bind_expr(&item.expr, scopes)?;
                        keys.push(SortKey {
                            expr,
                            desc,
                            nulls_first: item.options.nulls_first.unwrap_or(desc),
                        });
                    }
                }
                other => {
                    return Err(Error::unsupported(format!(
                        "unsupported function argument clause {other}"
                    )))
                }
            }
        }
        Ok(keys)
    }

    fn bind_function(&mut self, f: &ast::Function, scopes: &[Scope]) -> Result<(Expr, DataType)> {
        if let Some(r) = self.bind_catalog_call(f, scopes)? {
            return Ok(r);
        }
        let name = object_name(&f.name)?;
        if let (true, ast::FunctionArguments::Subquery(q)) = (name == "array", &f.args) {
            return self.bind_array_subquery(q, scopes);
        }
        if f.over.is_some() {
            return self.bind_window_call(f, &name, scopes);
        }
        if crate::sql::srf::SetFunc::by_name(&name).is_some() {
            return self.bind_set_function_call(f, scopes);
        }
        let refused = if name == "coalesce" {
            Some(select_srf::IN_COALESCE)
        } else if agg_func(&name).is_some() || json::is_json_aggregate(&name) {
            Some(select_srf::IN_AGGREGATE)
        } else {
            None
        };
        let (args, star, distinct) = match refused {
            Some(message) => {
                self.refusing_set_functions(message, |b| b.function_args(f, scopes))?
            }
            None => self.function_args(f, scopes)?,
        };
        let order_by = self.aggregate_order_by(f, scopes)?;
        if json::is_json_aggregate(&name) {
            return self.bind_json_aggregate(&name, args, star, distinct, order_by);
        }
        if let Some(agg) = agg_func(&name) {
            let filter = match &f.filter {
                Some(pred) => {
                    let (e, t) = self.bind_expr(pred, scopes)?;
                    if contains_agg(&e) {
                        return Err(Error::new(
                            SqlState::GROUPING_ERROR,
                            "aggregate functions are not allowed in FILTER",
                        ));
                    }
                    Some(self.coerce(e, t, DataType::Bool)?)
                }
                None => None,
            };
            let (e, t) = self.bind_aggregate(agg, &name, args, star, distinct)?;
            return Ok(match e {
                Expr::Agg(mut call) => {
                    call.order_by = order_by;
                    call.filter = filter;
                    (Expr::Agg(call), t)
                }
                other => (other, t),
            });
        }
        if !order_by.is_empty() {
            return Err(Error::syntax(format!(
                "ORDER BY specified, but {name} is not an aggregate function"
            )));
        }
        if star {
            return Err(Error::syntax(format!(
                "{name}(*) specified, but {name} is not an aggregate function"
            )));
        }
        match name.as_str() {
            "coalesce" => {
                let mut ty = DataType::Unknown;
                for (_, t) in &args {
                    ty = common_type(ty, *t).ok_or_else(|| {
                        Error::new(
                            SqlState::DATATYPE_MISMATCH,
                            format!(
                                "COALESCE types {} and {} cannot be matched",
                                ty.base_name(),
                                t.base_name()
                            ),
                        )
                    })?;
                }
                if ty == DataType::Unknown {
                    ty = DataType::Text;
                }
                let mut bound = Vec::new();
                for (e, t) in args {
                    bound.push(self.coerce(e, t, ty)?);
                }
                return Ok((Expr::Coalesce(bound), ty));
            }
            "nullif" => {
                if args.len() != 2 {
                    return Err(no_function(&name, &args));
                }
                let mut it = args.into_iter();
                let (a, at) = it.next().unwrap();
                let (b, bt) = it.next().unwrap();
                let ty = if at == DataType::Unknown {
                    if bt == DataType::Unknown {
                        DataType::Text
                    } else {
                        bt
                    }
                } else {
                    at
                };
                let (a, b) = self.unify(a, at, b, bt, BinaryOp::Eq)?;
                return Ok((Expr::NullIf(Box::new(a), Box::new(b)), ty));
            }
            "pg_typeof" => {
                let t = args.first().map(|(_, t)| *t).unwrap_or(DataType::Unknown);
                return Ok((Expr::Literal(Value::Text(t.sql_name())), DataType::Text));
            }
            _ => {}
        }
        if let Some(sf) = special_func(&name) {
            let mut bound = Vec::new();
            for (e, t) in args {
                let target = match (sf, bound.len()) {
                    (SpecialFunc::Setval, 1) => DataType::Int8,
                    (SpecialFunc::Setval, 2) => DataType::Bool,
                    _ => DataType::Text,
                };
                bound.push(self.coerce(e, t, target).or_else(|_| {
                    Ok::<_, Error>(Expr::Cast {
                        expr: Box::new(Expr::Literal(Value::Null)),
                        to: target,
                    })
                })?);
            }
            return Ok((
                Expr::Special {
                    func: sf,
                    args: bound,
                },
                special_type(sf),
            ));
        }
        self.call_function(&name, args)
    }

    pub(super) fn call_function(
        &mut self,
        name: &str,
        args: Vec<(Expr, DataType)>,
    ) -> Result<(Expr, DataType)> {
        let types: Vec<DataType> = args.iter().map(|(_, t)| *t).collect();
        let func = functions::resolve(name, &types)?;
        let mut bound = Vec::new();
        for ((e, t), target) in args.into_iter().zip(func.arg_types.iter()) {
            // octet_length(character) counts the padding.
            let keep = name == "octet_length" && is_bpchar(t);
            let b = if keep || t.without_modifier() == target.without_modifier() {
                e
            } else {
                self.coerce(e, t, *target).or_else(|_| {
                    Ok::<_, Error>(Expr::Cast {
                        expr: Box::new(Expr::Literal(Value::Null)),
                        to: *target,
                    })
                })?
            };
            bound.push(b);
        }
        let ty = func.return_type;
        Ok((Expr::Func { func, args: bound }, ty))
    }

    pub(super) fn bind_aggregate(
        &mut self,
        agg: AggFunc,
        name: &str,
        args: Vec<(Expr, DataType)>,
        star: bool,
        distinct: bool,
    ) -> Result<(Expr, DataType)> {
        if args.iter().any(|(e, _)| contains_agg(e)) {
            return Err(Error::new(
                SqlState::GROUPING_ERROR,
                "aggregate function calls cannot be nested",
            ));
        }
        let (func, result_type, args) = match (agg, star, args.len()) {
            (AggFunc::Count, true, 0) => (AggFunc::CountStar, DataType::Int8, vec![]),
            (AggFunc::Count, false, 1) => (AggFunc::Count, DataType::Int8, args),
            (AggFunc::Sum, false, 1) => {
                let t = args[0].1;
                let rt = match t {
                    DataType::Int2 | DataType::Int4 => DataType::Int8,
                    DataType::Int8 | DataType::Numeric(_) => DataType::Numeric(None),
                    DataType::Float4 => DataType::Float4,
                    DataType::Float8 | DataType::Unknown => DataType::Float8,
                    DataType::Interval => DataType::Interval,
                    other => return Err(no_function(name, &[(Expr::Literal(Value::Null), other)])),
                };
                (AggFunc::Sum, rt, args)
            }
            (AggFunc::Avg, false, 1) => {
                let t = args[0].1;
                let rt = match t {
                    DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Numeric(_) => {
                        DataType::Numeric(None)
                    }
                    DataType::Float4 | DataType::Float8 | DataType::Unknown => DataType::Float8,
                    DataType::Interval => DataType::Interval,
                    other => return Err(no_function(name, &[(Expr::Literal(Value::Null), other)])),
                };
                (AggFunc::Avg, rt, args)
            }
            (AggFunc::Min | AggFunc::Max, false, 1) => {
                let t = args[0].1;
                let t = if t == DataType::Unknown {
                    DataType::Text
                } else {
                    t
                };
                (agg, t, args)
            }
            (AggFunc::BoolAnd | AggFunc::BoolOr, false, 1) => {
                let (e, t) = args.into_iter().next().unwrap();
                let e = self.coerce(e, t, DataType::Bool)?;
                (agg, DataType::Bool, vec![(e, DataType::Bool)])
            }
            (AggFunc::ArrayAgg, false, 1) => {
                let (e, t) = args.into_iter().next().unwrap();
                let t = if t == DataType::Unknown {
                    DataType::Text
                } else {
                    t
                };
                let at = t.array_of().ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("could not find array type for data type {}", t.sql_name()),
                    )
                })?;
                let e = self.coerce(e, DataType::Unknown, t)?;
                (agg, at, vec![(e, t)])
            }
            (AggFunc::Variance(_), false, 1) => {
                let (e, t) = args.into_iter().next().unwrap();
                let rt = match t {
                    DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Numeric(_) => {
                        DataType::Numeric(None)
                    }
                    DataType::Float4 | DataType::Float8 | DataType::Unknown => DataType::Float8,
                    other => return Err(no_function(name, &[(e, other)])),
                };
                let e = if rt == DataType::Float8 {
                    self.coerce(e, t, DataType::Float8)?
                } else {
                    e
                };
                (agg, rt, vec![(e, t)])
            }
            (AggFunc::StringAgg, false, 2) => {
                let mut out = Vec::new();
                for (e, t) in args {
                    out.push((self.coerce_to_text(e, t)?, DataType::Text));
                }
                (agg, DataType::Text, out)
            }
            _ => return Err(no_function(name, &args)),
        };
        Ok((
            Expr::Agg(Box::new(AggCall {
                func,
                args: args.into_iter().map(|(e, _)| e).collect(),
                distinct,
                order_by: Vec::new(),
                result_type,
                filter: None,
            })),
            result_type,
        ))
    }
}

/// The type an untyped literal takes next to a known operand.
/// Operators are strict: with a NULL constant operand the result is NULL
/// without evaluating the other side, as PostgreSQL's constant folding does
/// (so e.g. a division by zero there never happens).
fn fold_strict_null(e: Expr) -> Expr {
    fn is_null(e: &Expr) -> bool {
        match e {
            Expr::Literal(Value::Null) => true,
            Expr::Cast { expr, .. } => is_null(expr),
            _ => false,
        }
    }
    match &e {
        Expr::Binary { left, right, .. } if is_null(left) || is_null(right) => {
            Expr::Literal(Value::Null)
        }
        _ => e,
    }
}

/// The text of `-expr` when `expr` is a numeric literal, possibly
/// parenthesised or itself negated.
fn negated_literal(expr: &ast::Expr) -> Option<(String, bool)> {
    match expr {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, l) => Some((format!("-{n}"), *l)),
            _ => None,
        },
        ast::Expr::Nested(inner) => negated_literal(inner),
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr: inner,
        } => {
            // negated_literal(inner) is the text of `expr` itself.
            let (n, l) = negated_literal(inner)?;
            Some(match n.strip_prefix('-') {
                Some(p) => (p.to_string(), l),
                None => (format!("-{n}"), l),
            })
        }
        _ => None,
    }
}

fn is_bpchar(t: DataType) -> bool {
    matches!(t, DataType::Char(_))
}

/// character(n) → text drops the trailing blanks, as in PostgreSQL.
fn bpchar_to_text(e: Expr) -> Result<Expr> {
    let func = functions::resolve("rtrim", &[DataType::Text])?;
    Ok(match e {
        Expr::Literal(Value::Text(s)) => Expr::Literal(Value::Text(s.trim_end_matches(' ').into())),
        Expr::Literal(Value::Null) => Expr::Literal(Value::Null),
        e => Expr::Func {
            func,
            args: vec![e],
        },
    })
}

fn cast_to(e: Expr, to: DataType) -> Expr {
    if to == DataType::Text {
        e
    } else {
        Expr::Cast {
            expr: Box::new(e),
            to,
        }
    }
}

fn unknown_operand_type(op: BinaryOp, other: DataType) -> DataType {
    match (op, other) {
        (
            BinaryOp::Add | BinaryOp::Sub,
            DataType::Date | DataType::Timestamp | DataType::TimestampTz,
        ) => DataType::Interval,
        (BinaryOp::Mul | BinaryOp::Div, DataType::Interval) => DataType::Float8,
        _ => other,
    }
}

fn op_error(op: BinaryOp, l: DataType, r: DataType) -> Error {
    no_operator(op.symbol(), l, r)
}

fn no_function(name: &str, args: &[(Expr, DataType)]) -> Error {
    let types: Vec<String> = args.iter().map(|(_, t)| t.sql_name()).collect();
    Error::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("function {name}({}) does not exist", types.join(", ")),
    )
    .with_hint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

/// Whether a plan refers to rows of an enclosing query.
pub(super) fn plan_refers_outer(plan: &Plan) -> bool {
    fn exprs_outer(es: &[Expr]) -> bool {
        es.iter().any(|e| e.refers_outer(1))
    }
    fn opt(e: &Option<Expr>) -> bool {
        e.as_ref().is_some_and(|e| e.refers_outer(1))
    }
    fn bound(b: &Option<(Expr, bool)>) -> bool {
        b.as_ref().is_some_and(|(e, _)| e.refers_outer(1))
    }
    match plan {
        Plan::Values { rows } => rows.iter().any(|r| exprs_outer(r)),
        Plan::FunctionScan { args, .. } => exprs_outer(args),
        // The right side reads the left row as an outer row: whether it also
        // reads enclosing queries' rows is not told apart.
        Plan::Lateral {
            left, right, on, ..
        } => plan_refers_outer(left) || opt(on) || plan_refers_outer(right),
        Plan::ProjectSet { input, calls } => {
            calls.iter().any(|c| exprs_outer(&c.args)) || plan_refers_outer(input)
        }
        Plan::Scan { access, filter, .. } => {
            opt(filter)
                || match access {
                    Access::Full => false,
                    Access::PkPoint(v) | Access::IndexEq { values: v, .. } => exprs_outer(v),
                    Access::PkRange { lower, upper } | Access::IndexRange { lower, upper, .. } => {
                        bound(lower) || bound(upper)
                    }
                }
        }
        Plan::Filter { input, predicate } => predicate.refers_outer(1) || plan_refers_outer(input),
        Plan::Project { input, exprs } => exprs_outer(exprs) || plan_refers_outer(input),
        Plan::NestedLoop {
            left, right, on, ..
        } => opt(on) || plan_refers_outer(left) || plan_refers_outer(right),
        Plan::HashJoin {
            left,
            right,
            left_keys,
            right_keys,
            residual,
            ..
        } => {
            exprs_outer(left_keys)
                || exprs_outer(right_keys)
                || opt(residual)
                || plan_refers_outer(left)
                || plan_refers_outer(right)
        }
        Plan::Aggregate { input, group, aggs } => {
            exprs_outer(group)
                || aggs.iter().any(|a| {
                    exprs_outer(&a.args) || a.order_by.iter().any(|k| k.expr.refers_outer(1))
                })
                || plan_refers_outer(input)
        }
        Plan::Sort { input, keys } => {
            keys.iter().any(|k| k.expr.refers_outer(1)) || plan_refers_outer(input)
        }
        Plan::Limit {
            input,
            limit,
            offset,
        } => opt(limit) || opt(offset) || plan_refers_outer(input),
        Plan::Distinct { input } | Plan::DistinctOn { input, .. } => plan_refers_outer(input),
        Plan::SetOp { left, right, .. } => plan_refers_outer(left) || plan_refers_outer(right),
        // CTEs are bound without enclosing scopes.
        Plan::RecursiveUnion { .. } | Plan::WorkTable { .. } => false,
        Plan::Window { input, calls } => {
            plan_refers_outer(input)
                || calls.iter().any(|c| {
                    exprs_outer(&c.args)
                        || exprs_outer(&c.partition)
                        || c.order.iter().any(|k| k.expr.refers_outer(1))
                })
        }
        Plan::SystemScan { .. } => false,
    }
}
