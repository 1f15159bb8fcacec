//! Running [`Plan::Lateral`]: the right side once per left row.

use super::{Cursor, Env, Node, Result};
use crate::sql::expr::Expr;
use crate::sql::plan::{JoinKind, Plan};
use crate::types::{Row, Value};
use std::collections::VecDeque;
use std::sync::Arc;

/// The joined rows of the current left row not yet returned.
#[derive(Default)]
pub(super) struct LateralState {
    queue: VecDeque<Row>,
}

/// The next joined row: each left row followed by each row the right side
/// yields for it (that passes `on`), or by NULLs for a LEFT join when none
/// does.
pub(super) fn next(
    left: &mut Node,
    left_plan: &Plan,
    right: &Arc<Plan>,
    (kind, on, right_width): (JoinKind, Option<&Expr>, usize),
    state: &mut LateralState,
    env: &Env,
) -> Result<Option<Row>> {
    loop {
        if let Some(row) = state.queue.pop_front() {
            return Ok(Some(row));
        }
        let Some(lrow) = left.next(left_plan, env)? else {
            return Ok(None);
        };
        env.ctx.tick()?;
        let mut outer = env.outer.to_vec();
        outer.push(lrow.clone());
        let mut cursor = Cursor::new(right.clone(), env.ctx.clone(), outer);
        let mut any = false;
        while let Some(rrow) = cursor.next_row()? {
            env.ctx.tick()?;
            let mut row = lrow.clone();
            row.extend(rrow);
            if let Some(c) = on {
                if !c.eval_pred(&row, env)? {
                    continue;
                }
            }
            any = true;
            state.queue.push_back(row);
        }
        if !any && kind == JoinKind::Left {
            let mut row = lrow;
            row.extend(std::iter::repeat_n(Value::Null, right_width));
            state.queue.push_back(row);
        }
    }
}
