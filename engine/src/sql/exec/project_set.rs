//! Running [`Plan::ProjectSet`]: the set-returning functions of a select
//! list, in lockstep over each input row.

use super::{Env, Node, Result};
use crate::sql::plan::{Plan, SetCall};
use crate::sql::srf::SetIter;
use crate::types::{Row, Value};

/// The input row being expanded and its calls (`None` once exhausted).
pub(super) struct Expanding {
    row: Row,
    calls: Vec<Option<SetIter>>,
}

/// The next output row: the current input row followed by each call's
/// next value (NULL for calls already done), until every call is done;
/// then the next input row's.
pub(super) fn next(
    input: &mut Node,
    input_plan: &Plan,
    calls: &[SetCall],
    current: &mut Option<Expanding>,
    env: &Env,
) -> Result<Option<Row>> {
    loop {
        if let Some(exp) = current {
            env.ctx.tick()?;
            let mut out = Vec::with_capacity(exp.row.len() + exp.calls.len());
            out.extend(exp.row.iter().cloned());
            let mut any = false;
            for call in &mut exp.calls {
                let value = match call {
                    Some(it) => it.next_value()?,
                    None => None,
                };
                match value {
                    Some(v) => {
                        any = true;
                        out.push(v);
                    }
                    None => {
                        *call = None;
                        out.push(Value::Null);
                    }
                }
            }
            if any {
                return Ok(Some(out));
            }
            *current = None;
        }
        let Some(row) = input.next(input_plan, env)? else {
            return Ok(None);
        };
        let mut started = Vec::with_capacity(calls.len());
        for call in calls {
            let args = call
                .args
                .iter()
                .map(|e| e.eval(&row, env))
                .collect::<Result<Vec<_>>>()?;
            started.push(Some(SetIter::start(call.func, args)?));
        }
        *current = Some(Expanding {
            row,
            calls: started,
        });
    }
}
