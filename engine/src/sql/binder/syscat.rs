//! Binding what catalog queries use: system relations (`pg_class`,
//! `information_schema.columns`), catalog functions, reg* casts
//! (`'t'::regclass`, `oid::regclass`), schema-qualified operators (`OPERATOR(pg_catalog.~)`) and `COLLATE`.

use super::*;
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
    /// A `regclass` function argument: a name (or a number in quotes) is
    /// looked up as `'name'::regclass` is; an OID is taken as it is.
    pub(super) fn regclass_argument(&mut self, e: Expr, t: DataType) -> Result<(Expr, DataType)> {
        if !(t.is_string() || t == DataType::Unknown) {
            return Ok((e, t));
        }
        let e = self.coerce(e, t, DataType::Text)?;
        Ok((
            Expr::Special {
                func: SpecialFunc::Catalog(CatalogFunc::RegIn(RegKind::Class)),
                args: vec![e],
            },
            DataType::Oid,
        ))
    }

    /// A system relation in FROM; `None` when `name` is not one (an
    /// ordinary table).
    pub(super) fn bind_system_relation(
        &mut self,
        name: &ast::ObjectName,
        alias: Option<&ast::TableAlias>,
    ) -> Result<Option<(Plan, Scope)>> {
        let parts = name_parts(name)?;
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

    /// Catalog functions; `None` for other functions.
    pub(super) fn bind_catalog_call(
        &mut self,
        f: &ast::Function,
        scopes: &[Scope],
    ) -> Result<Option<(Expr, DataType)>> {
        let name = object_name(&f.name)?;
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

    /// Casts to reg* types; `None` for other casts.
    pub(super) fn bind_catalog_cast(
        &mut self,
        expr: &ast::Expr,
        to: &ast::DataType,
        scopes: &[Scope],
    ) -> Result<Option<(Expr, DataType)>> {
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
}
