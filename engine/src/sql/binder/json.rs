//! Binding json/jsonb operators and aggregates onto the functions that
//! implement them (see `types::json_funcs`).

use super::expr::comparison_op;
use super::*;
use crate::types::json_funcs;

/// The operator's spelling when it is one json/jsonb may overload.
pub(super) fn json_operator_symbol(op: &ast::BinaryOperator) -> Option<&'static str> {
    use ast::BinaryOperator as B;
    Some(match op {
        B::Arrow => "->",
        B::LongArrow => "->>",
        B::HashArrow => "#>",
        B::HashLongArrow => "#>>",
        B::HashMinus => "#-",
        B::Question => "?",
        B::QuestionAnd => "?&",
        B::QuestionPipe => "?|",
        B::AtArrow => "@>",
        B::ArrowAt => "<@",
        B::StringConcat => "||",
        B::Minus => "-",
        _ => return None,
    })
}

/// Whether the operator exists only for json/jsonb (its right operand is
/// a key, index or path, never of the left operand's type).
pub(super) fn is_json_only_operator(op: &ast::BinaryOperator) -> bool {
    matches!(
        json_operator_symbol(op),
        Some("->" | "->>" | "#>" | "#>>" | "#-" | "?" | "?&" | "?|")
    )
}

/// A bound expression with its type.
type Operand = (Expr, DataType);

/// The bound call, or the operands handed back when the operator is not a
/// json one.
type OperatorBinding = std::result::Result<Operand, (Operand, Operand)>;

pub(super) fn is_json_aggregate(name: &str) -> bool {
    matches!(name, "jsonb_agg" | "json_agg" | "jsonb_object_agg")
}

impl Binder<'_> {
    /// `left op right` as a call of the json function implementing it, or
    /// `None` when the operands are not json.
    pub(super) fn bind_json_operator(
        &mut self,
        op: &ast::BinaryOperator,
        left: Operand,
        right: Operand,
    ) -> Result<OperatorBinding> {
        // json has no equality or ordering operators (jsonb has).
        if comparison_op(op).is_some() && (left.1 == DataType::Json || right.1 == DataType::Json) {
            return Err(no_operator(&op.to_string(), left.1, right.1));
        }
        let Some(sym) = json_operator_symbol(op) else {
            return Ok(Err((left, right)));
        };
        match json_funcs::operator_function(sym, left.1, right.1) {
            Some(name) => Ok(Ok(self.call_function(name, vec![left, right])?)),
            None => Ok(Err((left, right))),
        }
    }

    /// `jsonb_agg(x)` is `to_jsonb(array_agg(x))`, `json_agg(x)` finishes
    /// the array as json text, and `jsonb_object_agg(k, v)` collects
    /// [k, v] pairs and builds the object from them.
    pub(super) fn bind_json_aggregate(
        &mut self,
        name: &str,
        args: Vec<(Expr, DataType)>,
        star: bool,
        distinct: bool,
        order_by: Vec<crate::sql::plan::SortKey>,
    ) -> Result<(Expr, DataType)> {
        let wrong_args = || {
            let types: Vec<&str> = args.iter().map(|(_, t)| t.base_name()).collect();
            Error::new(
                SqlState::UNDEFINED_FUNCTION,
                format!("function {name}({}) does not exist", types.join(", ")),
            )
        };
        let (inner, finish) = match name {
            "jsonb_object_agg" => {
                if args.len() != 2 || star {
                    return Err(wrong_args());
                }
                (
                    vec![self.call_function("jsonb_object_agg_pair", args)?],
                    "jsonb_object_agg_final",
                )
            }
            _ => {
                if args.len() != 1 || star {
                    return Err(wrong_args());
                }
                let finish = if name == "jsonb_agg" {
                    "to_jsonb"
                } else {
                    "json_agg_final"
                };
                (args, finish)
            }
        };
        let (agg, at) = self.bind_aggregate(AggFunc::ArrayAgg, name, inner, false, distinct)?;
        let agg = match agg {
            Expr::Agg(mut call) => {
                call.order_by = order_by;
                Expr::Agg(call)
            }
            other => other,
        };
        self.call_function(finish, vec![(agg, at)])
    }
}
