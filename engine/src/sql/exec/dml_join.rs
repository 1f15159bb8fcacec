//! Running the join of `UPDATE ... FROM` / `DELETE ... USING`: which
//! target rows have a match among the other tables, and the joined row
//! each one is changed with.

use super::{Cursor, Env, Result, StmtCtx};
use crate::error::Error;
use crate::sql::plan::DmlJoin;
use crate::storage::Key;
use crate::types::{Row, Value};
use std::sync::Arc;

/// For each target row (in `targets` order) that joins with at least one
/// row of the other tables: its index in `targets` and the first joined
/// row (target columns, position, other tables' columns). A target row
/// matched several times is changed once, with one of its matches, as in
/// PostgreSQL.
pub(super) fn matched_rows(
    join: &DmlJoin,
    targets: &[(u16, Key, Arc<Row>)],
    ctx: &Arc<StmtCtx>,
    env: &Env,
) -> Result<Vec<(usize, Row)>> {
    let rows: Vec<Row> = targets
        .iter()
        .enumerate()
        .map(|(i, (_, _, row))| {
            let mut r = Vec::with_capacity(row.len() + 1);
            r.extend(row.iter().cloned());
            r.push(Value::Int8(i as i64));
            r
        })
        .collect();
    let position = targets.first().map_or(0, |(_, _, r)| r.len());
    ctx.work_tables.lock().insert(join.id, Arc::new(rows));
    let joined = (|| {
        let mut cursor = Cursor::new(join.plan.clone(), ctx.clone(), env.outer.to_vec());
        let mut first: Vec<Option<Row>> = vec![None; targets.len()];
        while let Some(row) = cursor.next_row()? {
            let Some(Value::Int8(i)) = row.get(position) else {
                return Err(Error::internal("joined row without its target position"));
            };
            let slot = &mut first[*i as usize];
            if slot.is_none() {
                *slot = Some(row);
            }
        }
        Ok(first)
    })();
    ctx.work_tables.lock().remove(&join.id);
    Ok(joined?
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| r.map(|r| (i, r)))
        .collect())
}
