//! Binding array expressions: `ARRAY[...]`, `ARRAY(subquery)`, subscripts
//! and slices (`a[1]`, `a[2:3]`), and `x op ANY/ALL (array)`.

use super::*;

fn empty_array_type() -> Error {
    Error::new(
        SqlState::INDETERMINATE_DATATYPE,
        "cannot determine type of empty array",
    )
    .with_hint("Explicitly cast to the desired type, for example ARRAY[]::integer[].")
}

fn no_array_type(t: DataType) -> Error {
    if t.is_array() {
        return Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "multidimensional arrays are not supported",
        );
    }
    Error::new(
        SqlState::UNDEFINED_OBJECT,
        format!("could not find array type for data type {}", t.sql_name()),
    )
}

impl Binder<'_> {
    /// `ARRAY[e1, e2, ...]`: the elements are brought to a common type.
    pub(super) fn bind_array_ctor(
        &mut self,
        elems: &[ast::Expr],
        scopes: &[Scope],
        hint: Option<DataType>,
    ) -> Result<(Expr, DataType)> {
        // As in PostgreSQL, the context's type only decides the type of an
        // empty array: untyped elements are text.
        let hint_elem = hint.and_then(|h| h.elem());
        let mut items = Vec::with_capacity(elems.len());
        for e in elems {
            items.push(self.bind_expr(e, scopes)?);
        }
        let mut ty = DataType::Unknown;
        for (_, t) in &items {
            ty = common_type(ty, *t).ok_or_else(|| {
                Error::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "ARRAY types {} and {} cannot be matched",
                        ty.sql_name(),
                        t.sql_name()
                    ),
                )
            })?;
        }
        if ty == DataType::Unknown {
            ty = match hint_elem {
                _ if !items.is_empty() => DataType::Text,
                Some(h) => h,
                None => return Err(empty_array_type()),
            };
        }
        let array_type = ty.array_of().ok_or_else(|| no_array_type(ty))?;
        let mut bound = Vec::with_capacity(items.len());
        for (e, t) in items {
            bound.push(self.coerce(e, t, ty)?);
        }
        if bound.iter().all(|e| matches!(e, Expr::Literal(_))) {
            let values = bound
                .into_iter()
                .map(|e| match e {
                    Expr::Literal(v) => v,
                    _ => Value::Null,
                })
                .collect();
            return Ok((Expr::Literal(Value::Array(values)), array_type));
        }
        Ok((Expr::Array(bound), array_type))
    }

    /// `ARRAY(SELECT ...)`: the single output column's values as an array.
    pub(super) fn bind_array_subquery(
        &mut self,
        q: &ast::Query,
        scopes: &[Scope],
    ) -> Result<(Expr, DataType)> {
        let (plan, cols, correlated) = self.bind_subquery(q, scopes)?;
        if cols.len() != 1 {
            return Err(Error::syntax("subquery must return only one column"));
        }
        let elem = match cols[0].ty {
            DataType::Unknown => DataType::Text,
            t => t,
        };
        let ty = elem.array_of().ok_or_else(|| no_array_type(elem))?;
        Ok((
            self.subquery(plan, SubqueryKind::Array, false, correlated),
            ty,
        ))
    }

    /// `a[i]` and `a[lo:hi]`.
    pub(super) fn bind_subscript(
        &mut self,
        root: &ast::Expr,
        chain: &[ast::AccessExpr],
        scopes: &[Scope],
    ) -> Result<(Expr, DataType)> {
        let (base, bt) = self.bind_expr(root, scopes)?;
        let [ast::AccessExpr::Subscript(sub)] = chain else {
            return Err(Error::unsupported(
                "only a single array subscript or slice is supported",
            ));
        };
        let Some(elem) = bt.elem() else {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "cannot subscript type {} because it does not support subscripting",
                    bt.sql_name()
                ),
            ));
        };
        let bound_int = |b: &mut Self, e: &ast::Expr| -> Result<Expr> {
            let (x, t) = b.bind_expr_typed(e, scopes, Some(DataType::Int4))?;
            if !(t.is_integer() || t == DataType::Unknown) {
                return Err(Error::new(
                    SqlState::DATATYPE_MISMATCH,
                    "array subscript must have type integer",
                ));
            }
            b.coerce(x, t, DataType::Int8)
        };
        Ok(match sub {
            ast::Subscript::Index { index } => {
                let i = bound_int(self, index)?;
                (
                    Expr::Subscript {
                        array: Box::new(base),
                        index: Box::new(i),
                    },
                    elem,
                )
            }
            ast::Subscript::Slice {
                lower_bound,
                upper_bound,
                stride,
            } => {
                if stride.is_some() {
                    return Err(Error::unsupported("array slice strides are not supported"));
                }
                let lower = match lower_bound {
                    Some(e) => Some(Box::new(bound_int(self, e)?)),
                    None => None,
                };
                let upper = match upper_bound {
                    Some(e) => Some(Box::new(bound_int(self, e)?)),
                    None => None,
                };
                (
                    Expr::Slice {
                        array: Box::new(base),
                        lower,
                        upper,
                    },
                    bt,
                )
            }
        })
    }

    /// `left op ANY (right)` / `left op ALL (right)`. With a subquery on the
    /// right, `= ANY` is `IN` and `<> ALL` is `NOT IN`.
    pub(super) fn bind_any_all(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
        all: bool,
        scopes: &[Scope],
    ) -> Result<(Expr, DataType)> {
        let bop = super::expr::comparison_op(op).ok_or_else(|| {
            Error::unsupported(format!(
                "operator {op} is not supported with {}",
                if all { "ALL" } else { "ANY" }
            ))
        })?;
        if let ast::Expr::Subquery(q) = right {
            let negated = match (bop, all) {
                (BinaryOp::Eq, false) => false,
                (BinaryOp::NotEq, true) => true,
                _ => {
                    return Err(Error::unsupported(
                        "only = ANY and <> ALL are supported with a subquery",
                    ))
                }
            };
            let in_expr = ast::Expr::In {
                expr: Box::new(left.clone()),
                target: ast::InTarget::Subquery(q.clone()),
                negated,
                global: false,
            };
            return self.bind_expr_typed(&in_expr, scopes, None);
        }
        let (l, lt) = self.bind_expr(left, scopes)?;
        let hint = if lt == DataType::Unknown {
            None
        } else {
            lt.without_modifier().array_of()
        };
        let (r, rt) = self.bind_expr_typed(right, scopes, hint)?;
        let (r, rt) = match rt {
            DataType::Unknown => {
                let t = match hint {
                    Some(t) => t,
                    None => DataType::Text.array_of().ok_or_else(empty_array_type)?,
                };
                (self.coerce(r, rt, t)?, t)
            }
            t if t.is_array() => (r, t),
            other => {
                return Err(Error::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "op {} ANY/ALL (array) requires array on right side",
                        bop.symbol()
                    ),
                )
                .with_detail(format!("The right side has type {}.", other.sql_name())))
            }
        };
        let et = rt.elem().unwrap_or(DataType::Text);
        let target = match (lt, et) {
            (DataType::Unknown, e) => e,
            (a, b) if a.without_modifier() == b.without_modifier() => a.without_modifier(),
            (a, b) => common_type(a, b).ok_or_else(|| no_operator(bop.symbol(), a, b))?,
        };
        binary_op_type(bop, target, target)?;
        let l = self.coerce(l, lt, target)?;
        let target_array = target
            .without_modifier()
            .array_of()
            .ok_or_else(|| no_array_type(target))?;
        let r = if rt.without_modifier() == target_array {
            r
        } else {
            self.coerce(r, rt, target_array)?
        };
        Ok((
            Expr::AnyAll {
                op: bop,
                left: Box::new(l),
                right: Box::new(r),
                all,
            },
            DataType::Bool,
        ))
    }
}
