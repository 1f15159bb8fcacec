//! Binding what catalog queries use: system relations (`pg_class`,
//! `information_schema.columns`), set-returning functions in FROM, catalog
//! functions, reg* casts (`'t'::regclass`, `oid::regclass`), schema-
//! qualified operators (`OPERATOR(pg_catalog.~)`), `COLLATE`, and the
//! array operations (`= ANY`, subscripts, `ARRAY(subquery)`) over the text
//! form of catalog array columns.

use super::*;
use crate::sql::srf::TableFunction;
use crate::syscat::functions::{self as catfn, CatalogFunc, RegKind};

/// The binary operator named by `OPERATOR(schema.op)`.
pub(super) fn qualified_operator(parts: &[String]) -> Option<ast::BinaryOperator> {
    use ast::BinaryOperator as B;
    let (op, schema) = parts.split_last()?;
    if !(schema.is_empty() || schema == ["pg_catalog"]) {
        return None;
    }
    Some(match op.as_str() {
        "~" => B::PGRegexMatch,
        "~*" => B::PGRegexIMatch,
        "!~" => B::PGRegexNotMatch,
        "!~*" => B::PGRegexNotIMatch,
        "~~" => B::PGLikeMatch,
        "~~*" => B::PGILikeMatch,
        "!~~" => B::PGNotLikeMatch,
        "!~~*" => B::PGNotILikeMatch,
        "=" => B::Eq,
        "<>" | "!=" => B::NotEq,
        "<" => B::Lt,
        "<=" => B::LtEq,
        ">" => B::Gt,
        ">=" => B::GtEq,
        "+" => B::Plus,
        "-" => B::Minus,
        "*" => B::Multiply,
        "/" => B::Divide,
        "||" => B::StringConcat,
        _ => return None,
    })
}

fn name_parts(n: &ast::ObjectName) -> Result<Vec<String>> {
    n.0.iter()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => Ok(ident(i)),
            _ => Err(Error::syntax(format!("unsupported name {n}"))),
        })
        .collect()
}

/// A type name as written, if it names a reg* type.
fn reg_kind(t: &ast::DataType) -> Option<RegKind> {
    match t {
        ast::DataType::Regclass => Some(RegKind::Class),
        ast::DataType::Custom(name, _) => RegKind::from_type_name(&object_name(name).ok()?),
        _ => None,
    }
}

impl Binder<'_> {
    /// A system relation or a set-returning function in FROM; `None` when
    /// `name` is neither (an ordinary table).
    pub(super) fn bind_system_relation(
        &mut self,
        name: &ast::ObjectName,
        alias: Option<&ast::TableAlias>,
        args: Option<&ast::TableFunctionArgs>,
        outer: &[Scope],
    ) -> Result<Option<(Plan, Scope)>> {
        let parts = name_parts(name)?;
        if let Some(args) = args {
            let fname = object_name(name)?;
            // Arguments may refer to enclosing queries, not to this FROM.
            let mut scopes = outer.to_vec();
            scopes.push(Scope::default());
            let mut bound = Vec::new();
            for a in &args.args {
                match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                        bound.push(self.bind_expr(e, &scopes)?)
                    }
                    other => {
                        return Err(Error::unsupported(format!(
                            "unsupported function argument {other}"
                        )))
                    }
                }
            }
            let types: Vec<DataType> = bound.iter().map(|(_, t)| *t).collect();
            let (func, arg_type) = TableFunction::resolve(&fname, &types)?;
            let mut exprs = Vec::new();
            for (e, t) in bound {
                exprs.push(self.coerce(e, t, arg_type)?);
            }
            let table = alias.map(|a| ident(&a.name)).unwrap_or(fname.clone());
            let mut scope = Scope {
                cols: vec![ScopeCol {
                    table: Some(table.clone()),
                    hidden: false,
                    merged: false,
                    name: table,
                    ty: func.column_type(),
                    table_oid: 0,
                    col_id: 0,
                }],
            };
            if let Some(a) = alias {
                query::rename_columns(&mut scope, &a.columns)?;
            }
            return Ok(Some((Plan::FunctionScan { func, args: exprs }, scope)));
        }
        let (schema, rel) = match parts.as_slice() {
            [rel] => (None, rel.as_str()),
            [schema, rel] if schema == "pg_catalog" || schema == "information_schema" => {
                (Some(schema.as_str()), rel.as_str())
            }
            _ => return Ok(None),
        };
        let Some(table) = crate::syscat::lookup(schema, rel) else {
            return match schema {
                Some(s) => Err(Error::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("relation \"{s}.{rel}\" does not exist"),
                )),
                None => Ok(None),
            };
        };
        let tname = alias.map(|a| ident(&a.name)).unwrap_or(rel.to_string());
        let mut scope = Scope {
            cols: table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| ScopeCol {
                    table: Some(tname.clone()),
                    hidden: false,
                    merged: false,
                    name: c.name.to_string(),
                    ty: c.ty,
                    table_oid: table.oid,
                    col_id: i as i16 + 1,
                })
                .collect(),
        };
        if let Some(a) = alias {
            query::rename_columns(&mut scope, &a.columns)?;
        }
        Ok(Some((Plan::SystemScan { table }, scope)))
    }

    /// Catalog functions and `ARRAY(subquery)`; `None` for other functions.
    pub(super) fn bind_catalog_call(
        &mut self,
        f: &ast::Function,
        scopes: &[Scope],
    ) -> Result<Option<(Expr, DataType)>> {
        let name = object_name(&f.name)?;
        if name == "array" {
            if let ast::FunctionArguments::Subquery(q) = &f.args {
                let (plan, cols, correlated) = self.bind_subquery(q, scopes)?;
                if cols.len() != 1 {
                    return Err(Error::syntax("subquery must return only one column"));
                }
                return Ok(Some((
                    self.subquery(plan, SubqueryKind::Array, false, correlated),
                    DataType::Text,
                )));
            }
        }
        if !catfn::exists(&name) {
            return Ok(None);
        }
        let (args, _, _) = self.function_args(f, scopes)?;
        let Some(func) = catfn::lookup(&name, args.len()) else {
            let types: Vec<String> = args.iter().map(|(_, t)| t.sql_name()).collect();
            return Err(Error::new(
                SqlState::UNDEFINED_FUNCTION,
                format!("function {name}({}) does not exist", types.join(", ")),
            ));
        };
        let mut bound = Vec::new();
        for ((e, t), target) in args.into_iter().zip(&func.args) {
            let target = match *target {
                DataType::Unknown if t == DataType::Unknown => DataType::Text,
                DataType::Unknown => t,
                other => other,
            };
            let e = match self.coerce(e.clone(), t, target) {
                Ok(e) => e,
                Err(_) => Expr::Cast {
                    expr: Box::new(e),
                    to: target,
                },
            };
            bound.push(e);
        }
        Ok(Some((
            Expr::Special {
                func: SpecialFunc::Catalog(func.func),
                args: bound,
            },
            func.ret,
        )))
    }

    /// Casts to reg* types and to array types; `None` for other casts.
    pub(super) fn bind_catalog_cast(
        &mut self,
        expr: &ast::Expr,
        to: &ast::DataType,
        scopes: &[Scope],
    ) -> Result<Option<(Expr, DataType)>> {
        if let ast::DataType::Array(_) = to {
            // Arrays exist only as the text form of catalog columns.
            let (e, t) = self.bind_expr(expr, scopes)?;
            if t == DataType::Text || t == DataType::Unknown {
                let e = self.coerce(e, t, DataType::Text)?;
                return Ok(Some((e, DataType::Text)));
            }
            return Err(Error::unsupported("arrays are not supported yet"));
        }
        let Some(kind) = reg_kind(to) else {
            // `'int4'::regtype::text` prints the name, as the reg* type's
            // output function would.
            let mut inner = expr;
            while let ast::Expr::Nested(e) = inner {
                inner = e;
            }
            if let ast::Expr::Cast { data_type, .. } = inner {
                if let (Some(k), Ok(target)) = (reg_kind(data_type), convert_type(to)) {
                    if target.is_string() {
                        let (e, t) = self.bind_expr(inner, scopes)?;
                        let e = if t == DataType::Oid {
                            Expr::Special {
                                func: SpecialFunc::Catalog(CatalogFunc::RegOut(k)),
                                args: vec![e],
                            }
                        } else {
                            e
                        };
                        return Ok(Some((self.coerce(e, DataType::Text, target)?, target)));
                    }
                }
            }
            return Ok(None);
        };
        let (e, t) = self.bind_expr(expr, scopes)?;
        let (func, arg_type) = if t.is_string() || t == DataType::Unknown {
            (CatalogFunc::RegIn(kind), DataType::Text)
        } else if t.is_integer() || t == DataType::Oid {
            (CatalogFunc::RegOut(kind), DataType::Oid)
        } else {
            return Err(Error::new(
                SqlState::CANNOT_COERCE,
                format!("cannot cast type {} to {}", t.sql_name(), to),
            ));
        };
        let e = self.coerce(e, t, arg_type)?;
        Ok(Some((
            Expr::Special {
                func: SpecialFunc::Catalog(func),
                args: vec![e],
            },
            catfn::return_type(func),
        )))
    }

    /// `expr COLLATE name`: only the byte-order collations exist.
    pub(super) fn bind_collate(
        &mut self,
        expr: &ast::Expr,
        collation: &ast::ObjectName,
        scopes: &[Scope],
        hint: Option<DataType>,
    ) -> Result<(Expr, DataType)> {
        let parts = name_parts(collation)?;
        let name = parts.last().map(String::as_str).unwrap_or("");
        if !matches!(
            name.to_lowercase().as_str(),
            "default" | "c" | "posix" | "ucs_basic"
        ) {
            return Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("collation \"{name}\" for encoding \"UTF8\" does not exist"),
            ));
        }
        self.bind_expr_typed(expr, scopes, hint)
    }

    /// `left op ANY(right)`.
    pub(super) fn bind_any(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
        scopes: &[Scope],
    ) -> Result<(Expr, DataType)> {
        if *op != ast::BinaryOperator::Eq {
            return Err(Error::unsupported(format!("{op} ANY is not supported yet")));
        }
        match right {
            ast::Expr::Subquery(q) => {
                let in_subquery = ast::Expr::In {
                    expr: Box::new(left.clone()),
                    target: ast::InTarget::Subquery(q.clone()),
                    negated: false,
                    global: false,
                };
                return self.bind_expr_typed(&in_subquery, scopes, None);
            }
            ast::Expr::Array(a) => {
                let in_list = ast::Expr::In {
                    expr: Box::new(left.clone()),
                    target: ast::InTarget::List(a.elem.clone()),
                    negated: false,
                    global: false,
                };
                return self.bind_expr_typed(&in_list, scopes, None);
            }
            _ => {}
        }
        let (l, lt) = self.bind_expr(left, scopes)?;
        let (r, rt) = self.bind_expr(right, scopes)?;
        if !(rt == DataType::Text || rt == DataType::Unknown) {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                "op ANY/ALL (array) requires array on right side",
            ));
        }
        let l = if lt == DataType::Unknown {
            self.coerce(l, lt, DataType::Text)?
        } else {
            l
        };
        let r = self.coerce(r, rt, DataType::Text)?;
        Ok((
            Expr::Special {
                func: SpecialFunc::Catalog(CatalogFunc::ArrayContains),
                args: vec![l, r],
            },
            DataType::Bool,
        ))
    }

    /// `array[i]` on the text form of an array or vector column; the
    /// element's type is taken from context.
    pub(super) fn bind_subscript(
        &mut self,
        root: &ast::Expr,
        chain: &[ast::AccessExpr],
        scopes: &[Scope],
    ) -> Result<(Expr, DataType)> {
        let [ast::AccessExpr::Subscript(ast::Subscript::Index { index })] = chain else {
            return Err(Error::unsupported(format!(
                "unsupported expression: {root}{}",
                chain.iter().map(|c| format!("{c}")).collect::<String>()
            )));
        };
        let (r, rt) = self.bind_expr(root, scopes)?;
        if !(rt == DataType::Text || rt == DataType::Unknown) {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "cannot subscript type {} because it does not support subscripting",
                    rt.sql_name()
                ),
            ));
        }
        let r = self.coerce(r, rt, DataType::Text)?;
        let (i, it) = self.bind_expr(index, scopes)?;
        let i = self.coerce(i, it, DataType::Int4)?;
        Ok((
            Expr::Special {
                func: SpecialFunc::Catalog(CatalogFunc::ArrayElement),
                args: vec![r, i],
            },
            DataType::Unknown,
        ))
    }
}
