//! Binding window function calls (`f(...) OVER (PARTITION BY ... ORDER BY
//! ... ROWS BETWEEN ...)`) and planning the window node of a SELECT.

use super::expr::agg_func;
use super::*;

impl Binder<'_> {
    /// Binds a call with OVER; the result stands for the window node's
    /// output column until [`Binder::plan_windows`] places it.
    pub(super) fn bind_window_call(
        &mut self,
        f: &ast::Function,
        name: &str,
        scopes: &[Scope],
    ) -> Result<(Expr, DataType)> {
        let spec = match &f.over {
            Some(ast::WindowType::WindowSpec(spec)) => spec,
            _ => return Err(Error::unsupported("named windows are not supported yet")),
        };
        if f.filter.is_some() {
            return Err(Error::unsupported(
                "FILTER is not supported for window functions",
            ));
        }
        let mark = self.windows.len();
        let (args, star, distinct) = self.function_args(f, scopes)?;
        if self.windows.len() > mark || args.iter().any(|(e, _)| contains_window(e)) {
            return Err(Error::new(
                SqlState("42P20"),
                "window function calls cannot be nested",
            ));
        }
        if distinct {
            return Err(Error::unsupported(
                "DISTINCT is not implemented for window functions",
            ));
        }
        let arity = |lo: usize, hi: usize| -> Result<()> {
            if args.len() < lo || args.len() > hi || star {
                Err(Error::new(
                    SqlState::UNDEFINED_FUNCTION,
                    format!(
                        "function {name} with {} arguments does not exist",
                        args.len()
                    ),
                ))
            } else {
                Ok(())
            }
        };
        let (func, ty, bound_args) = match name {
            "row_number" | "rank" | "dense_rank" => {
                arity(0, 0)?;
                let func = match name {
                    "row_number" => WindowFunc::RowNumber,
                    "rank" => WindowFunc::Rank,
                    _ => WindowFunc::DenseRank,
                };
                (func, DataType::Int8, vec![])
            }
            "ntile" => {
                arity(1, 1)?;
                let (e, t) = args.into_iter().next().expect("one argument");
                (
                    WindowFunc::Ntile,
                    DataType::Int4,
                    vec![self.coerce(e, t, DataType::Int4)?],
                )
            }
            "first_value" | "last_value" => {
                arity(1, 1)?;
                let (e, from) = args.into_iter().next().expect("one argument");
                let t = if from == DataType::Unknown {
                    DataType::Text
                } else {
                    from
                };
                let func = if name == "first_value" {
                    WindowFunc::FirstValue
                } else {
                    WindowFunc::LastValue
                };
                (func, t, vec![self.coerce(e, from, t)?])
            }
            "lag" | "lead" => {
                arity(1, 3)?;
                let mut it = args.into_iter();
                let (value, from) = it.next().expect("a value");
                let vt = if from == DataType::Unknown {
                    DataType::Text
                } else {
                    from
                };
                let mut bound = vec![self.coerce(value, from, vt)?];
                if let Some((e, t)) = it.next() {
                    bound.push(self.coerce(e, t, DataType::Int8)?);
                }
                if let Some((e, t)) = it.next() {
                    if bound.len() == 2 {
                        bound.push(self.coerce(e, t, vt)?);
                    }
                }
                let func = if name == "lag" {
                    WindowFunc::Lag
                } else {
                    WindowFunc::Lead
                };
                (func, vt, bound)
            }
            _ => match agg_func(name) {
                Some(agg) => {
                    let (e, ty) = self.bind_aggregate(agg, name, args, star, false)?;
                    let Expr::Agg(call) = e else {
                        return Err(Error::internal("aggregate binding"));
                    };
                    let call = *call;
                    let args = call.args.clone();
                    (WindowFunc::Aggregate(call), ty, args)
                }
                None => {
                    return Err(Error::new(
                        SqlState::WRONG_OBJECT_TYPE,
                        format!("OVER specified, but {name} is not a window function nor an aggregate function"),
                    ))
                }
            },
        };
        let mut partition = Vec::new();
        for e in &spec.partition_by {
            partition.push(self.bind_expr(e, scopes)?.0);
        }
        let mut order = Vec::new();
        for item in &spec.order_by {
            let desc = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
            order.push(SortKey {
                expr: self.bind_expr(&item.expr, scopes)?.0,
                desc,
                nulls_first: item.options.nulls_first.unwrap_or(desc),
            });
        }
        if self.windows.len() > mark
            || partition.iter().any(contains_window)
            || order.iter().any(|k| contains_window(&k.expr))
        {
            return Err(Error::new(
                SqlState("42P20"),
                "window function calls cannot be nested",
            ));
        }
        let frame = match &spec.window_frame {
            None => WindowFrame::Default,
            Some(fr) => self.bind_frame(fr, !order.is_empty())?,
        };
        self.windows.push(WindowCall {
            func,
            args: bound_args,
            partition,
            order,
            frame,
        });
        Ok((Expr::Window(self.windows.len() - 1), ty))
    }

    fn bind_frame(&mut self, fr: &ast::WindowFrame, ordered: bool) -> Result<WindowFrame> {
        let bound = |b: &ast::WindowFrameBound, this: &mut Self| -> Result<FrameBound> {
            let offset = |e: &Option<Box<ast::Expr>>, this: &mut Self| -> Result<Option<u64>> {
                let Some(e) = e else { return Ok(None) };
                let _ = this;
                match &**e {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::Number(n, _) => n.parse::<u64>().map(Some).map_err(|_| {
                            Error::new(
                                SqlState("22013"),
                                "frame offset must be a non-negative integer",
                            )
                        }),
                        _ => Err(Error::unsupported(
                            "window frame offsets must be integer constants",
                        )),
                    },
                    ast::Expr::UnaryOp {
                        op: ast::UnaryOperator::Minus,
                        ..
                    } => Err(Error::new(
                        SqlState("22013"),
                        "frame starting offset must not be negative",
                    )),
                    _ => Err(Error::unsupported(
                        "window frame offsets must be integer constants",
                    )),
                }
            };
            Ok(match b {
                ast::WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
                ast::WindowFrameBound::Preceding(e) => match offset(e, this)? {
                    None => FrameBound::UnboundedPreceding,
                    Some(n) => FrameBound::Preceding(n),
                },
                ast::WindowFrameBound::Following(e) => match offset(e, this)? {
                    None => FrameBound::UnboundedFollowing,
                    Some(n) => FrameBound::Following(n),
                },
            })
        };
        let start = bound(&fr.start_bound, self)?;
        let end = match &fr.end_bound {
            Some(b) => bound(b, self)?,
            None => FrameBound::CurrentRow,
        };
        if start == FrameBound::UnboundedFollowing {
            return Err(Error::new(
                SqlState("42P20"),
                "frame start cannot be UNBOUNDED FOLLOWING",
            ));
        }
        if end == FrameBound::UnboundedPreceding {
            return Err(Error::new(
                SqlState("42P20"),
                "frame end cannot be UNBOUNDED PRECEDING",
            ));
        }
        match fr.units {
            ast::WindowFrameUnits::Rows => Ok(WindowFrame::Rows { start, end }),
            ast::WindowFrameUnits::Range => match (start, end) {
                (FrameBound::UnboundedPreceding, FrameBound::CurrentRow) => {
                    Ok(WindowFrame::Default)
                }
                (FrameBound::UnboundedPreceding, FrameBound::UnboundedFollowing) => {
                    Ok(WindowFrame::Rows { start, end })
                }
                (FrameBound::CurrentRow, FrameBound::UnboundedFollowing) if !ordered => {
                    Ok(WindowFrame::Rows {
                        start: FrameBound::UnboundedPreceding,
                        end,
                    })
                }
                _ => Err(Error::unsupported(
                    "RANGE frames other than UNBOUNDED PRECEDING to CURRENT ROW or UNBOUNDED FOLLOWING are not supported yet",
                )),
            },
            ast::WindowFrameUnits::Groups => {
                Err(Error::unsupported("GROUPS frames are not supported yet"))
            }
        }
    }

    /// Fails when a clause bound after `mark` used a window function.
    pub(super) fn no_windows_in(&mut self, mark: usize, clause: &str) -> Result<()> {
        if self.windows.len() > mark {
            self.windows.truncate(mark);
            return Err(Error::new(
                SqlState("42P20"),
                format!("window functions are not allowed in {clause}"),
            ));
        }
        Ok(())
    }

    /// Adds the window node for the calls bound since `mark` over `plan`
    /// (rows `width` wide) and points `exprs` at its output columns.
    pub(super) fn plan_windows(
        &mut self,
        plan: Plan,
        exprs: Vec<Expr>,
        mark: usize,
        width: usize,
    ) -> Result<(Plan, Vec<Expr>)> {
        let calls: Vec<WindowCall> = self.windows.drain(mark..).collect();
        let exprs = exprs
            .into_iter()
            .map(|e| {
                e.transform(&mut |x| {
                    Ok(match x {
                        Expr::Window(k) => Some(Expr::Column(width + k - mark)),
                        _ => None,
                    })
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((
            Plan::Window {
                input: Box::new(plan),
                calls,
            },
            exprs,
        ))
    }
}

fn contains_window(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if matches!(x, Expr::Window(_)) {
            found = true;
        }
    });
    found
}
