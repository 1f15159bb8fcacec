//! Window functions: rows are split into partitions, each sorted by the
//! window's ORDER BY, and every call's value for every row is appended to
//! that row.

use super::{agg_final, agg_init, agg_update, compare_keys};
use crate::error::{Error, Result, SqlState};
use crate::sql::expr::Env;
use crate::sql::plan::{FrameBound, WindowCall, WindowFrame, WindowFunc};
use crate::types::{Row, Value};
use std::cmp::Ordering;
use std::collections::HashMap;

/// Appends one column per call to every row (rows keep their order).
pub(super) fn evaluate(mut rows: Vec<Row>, calls: &[WindowCall], env: &Env) -> Result<Vec<Row>> {
    for call in calls {
        let values = evaluate_call(&rows, call, env)?;
        for (row, v) in rows.iter_mut().zip(values) {
            row.push(v);
        }
    }
    Ok(rows)
}

fn evaluate_call(rows: &[Row], call: &WindowCall, env: &Env) -> Result<Vec<Value>> {
    // Partitions in order of first appearance.
    let mut partitions: Vec<Vec<usize>> = Vec::new();
    let mut by_key: HashMap<Vec<Value>, usize> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let key = call
            .partition
            .iter()
            .map(|e| e.eval(row, env))
            .collect::<Result<Vec<_>>>()?;
        let p = *by_key.entry(key).or_insert_with(|| {
            partitions.push(Vec::new());
            partitions.len() - 1
        });
        partitions[p].push(i);
    }
    let mut out = vec![Value::Null; rows.len()];
    for members in partitions {
        env.ctx.check_interrupt()?;
        let mut keyed: Vec<(Vec<Value>, usize)> = members
            .into_iter()
            .map(|i| {
                let k = call
                    .order
                    .iter()
                    .map(|k| k.expr.eval(&rows[i], env))
                    .collect::<Result<Vec<_>>>()?;
                Ok((k, i))
            })
            .collect::<Result<_>>()?;
        keyed.sort_by(|a, b| compare_keys(&a.0, &b.0, &call.order));
        let args: Vec<Vec<Value>> = keyed
            .iter()
            .map(|(_, i)| {
                call.args
                    .iter()
                    .map(|e| e.eval(&rows[*i], env))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        let peers = |a: usize, b: usize| {
            compare_keys(&keyed[a].0, &keyed[b].0, &call.order) == Ordering::Equal
        };
        let values = partition_values(call, &keyed, &args, &peers)?;
        for ((_, i), v) in keyed.iter().zip(values) {
            out[*i] = v;
        }
    }
    Ok(out)
}

fn partition_values(
    call: &WindowCall,
    keyed: &[(Vec<Value>, usize)],
    args: &[Vec<Value>],
    peers: &dyn Fn(usize, usize) -> bool,
) -> Result<Vec<Value>> {
    let n = keyed.len();
    // End (exclusive) of each row's peer group.
    let mut peer_end = vec![n; n];
    let mut start = 0;
    for i in 1..=n {
        if i == n || !peers(start, i) {
            for e in &mut peer_end[start..i] {
                *e = i;
            }
            start = i;
        }
    }
    let mut out = Vec::with_capacity(n);
    match &call.func {
        WindowFunc::RowNumber => out.extend((1..=n as i64).map(Value::Int8)),
        WindowFunc::Rank | WindowFunc::DenseRank => {
            let dense = matches!(call.func, WindowFunc::DenseRank);
            let (mut rank, mut dense_rank) = (0i64, 0i64);
            for i in 0..n {
                if i == 0 || !peers(i - 1, i) {
                    rank = i as i64 + 1;
                    dense_rank += 1;
                }
                out.push(Value::Int8(if dense { dense_rank } else { rank }));
            }
        }
        WindowFunc::Ntile => {
            for (i, a) in args.iter().enumerate() {
                let buckets = match a.first().and_then(Value::as_i64) {
                    None => {
                        out.push(Value::Null);
                        continue;
                    }
                    Some(b) if b <= 0 => {
                        return Err(Error::new(
                            SqlState("22014"),
                            "argument of ntile must be greater than zero",
                        ))
                    }
                    Some(b) => b as usize,
                };
                // The first n % buckets buckets get one extra row.
                let size = n / buckets;
                let extra = n % buckets;
                let big = extra * (size + 1);
                let bucket = if i < big {
                    i / (size + 1)
                } else {
                    extra + (i - big) / size.max(1)
                };
                out.push(Value::Int4(bucket as i32 + 1));
            }
        }
        WindowFunc::Lag | WindowFunc::Lead => {
            for (i, a) in args.iter().enumerate() {
                let offset = match a.get(1) {
                    None => 1,
                    Some(v) if v.is_null() => {
                        out.push(Value::Null);
                        continue;
                    }
                    Some(v) => v.as_i64().unwrap_or(1),
                };
                let target = if matches!(call.func, WindowFunc::Lag) {
                    i as i64 - offset
                } else {
                    i as i64 + offset
                };
                out.push(if target >= 0 && (target as usize) < n {
                    args[target as usize][0].clone()
                } else {
                    a.get(2).cloned().unwrap_or(Value::Null)
                });
            }
        }
        WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::Aggregate(_) => {
            for (i, &last_peer) in peer_end.iter().enumerate() {
                let (s, e) = frame_bounds(call.frame, i, n, last_peer, !call.order.is_empty());
                out.push(match &call.func {
                    _ if s >= e => match &call.func {
                        WindowFunc::Aggregate(agg) => agg_final(agg_init(agg), agg)?,
                        _ => Value::Null,
                    },
                    WindowFunc::FirstValue => args[s][0].clone(),
                    WindowFunc::LastValue => args[e - 1][0].clone(),
                    WindowFunc::Aggregate(agg) => {
                        let mut state = agg_init(agg);
                        for a in &args[s..e] {
                            agg_update(&mut state, agg, a)?;
                        }
                        agg_final(state, agg)?
                    }
                    _ => unreachable!(),
                });
            }
        }
    }
    Ok(out)
}

/// The frame of row `i` as a half-open range of partition positions.
fn frame_bounds(
    frame: WindowFrame,
    i: usize,
    n: usize,
    peer_end: usize,
    ordered: bool,
) -> (usize, usize) {
    match frame {
        WindowFrame::Default if ordered => (0, peer_end),
        WindowFrame::Default => (0, n),
        WindowFrame::Rows { start, end } => {
            let (i, n) = (i as i64, n as i64);
            let pos = |b: FrameBound, is_end: bool| -> usize {
                let p = match b {
                    FrameBound::UnboundedPreceding => 0,
                    FrameBound::Preceding(k) => i - k.min(i64::MAX as u64) as i64,
                    FrameBound::CurrentRow => i,
                    FrameBound::Following(k) => i.saturating_add(k.min(i64::MAX as u64) as i64),
                    FrameBound::UnboundedFollowing => n,
                };
                let p = if is_end && b != FrameBound::UnboundedFollowing {
                    p.saturating_add(1)
                } else {
                    p
                };
                p.clamp(0, n) as usize
            };
            (pos(start, false), pos(end, true))
        }
    }
}
