//! Per-query memory accounting: sorts, hash joins, aggregates, DISTINCT,
//! set operations and subquery results charge what they keep to the
//! statement's budget, and a statement that goes over fails with 53200
//! (out of memory) instead of the server being killed.
//!
//! The accounting is an estimate of the rows and keys held (values plus
//! their heap data), not of allocator bytes; streamed rows are not charged.

use crate::error::{Error, Result, SqlState};
use crate::types::Value;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Default per-query limit (the server's `--query-memory-mb`).
pub const DEFAULT_QUERY_MEMORY: usize = 1024 << 20;

/// What one statement may hold; `limit == 0` means unlimited.
#[derive(Debug, Default)]
pub struct MemoryBudget {
    used: AtomicUsize,
    limit: usize,
}

impl MemoryBudget {
    pub fn new(limit: usize) -> MemoryBudget {
        MemoryBudget {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Bytes charged so far.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Charges `bytes`; 53200 when that goes over the limit.
    pub fn charge(&self, bytes: usize) -> Result<()> {
        let used = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if self.limit != 0 && used > self.limit {
            return Err(
                Error::new(SqlState::OUT_OF_MEMORY, "out of memory").with_detail(format!(
                    "The query needs more than the {} MB a query may use (--query-memory-mb).",
                    self.limit >> 20
                )),
            );
        }
        Ok(())
    }

    /// Gives back what was charged since `mark` (a value of [`Self::used`]),
    /// once that data is gone.
    pub fn release_to(&self, mark: usize) {
        self.used.fetch_min(mark, Ordering::Relaxed);
    }
}

/// Estimated bytes a value holds.
pub fn value_bytes(v: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match v {
            Value::Text(s) => s.capacity(),
            Value::Bytea(b) => b.capacity(),
            _ => 0,
        }
}

/// Estimated bytes a row (or key) holds.
pub fn row_bytes(r: &[Value]) -> usize {
    std::mem::size_of::<Vec<Value>>() + r.iter().map(value_bytes).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_fails_with_53200_over_the_limit() {
        let b = MemoryBudget::new(1000);
        b.charge(600).unwrap();
        let mark = b.used();
        let err = b.charge(600).unwrap_err();
        assert_eq!(err.state, SqlState::OUT_OF_MEMORY);
        b.release_to(mark);
        b.charge(300).unwrap();
        MemoryBudget::new(0).charge(usize::MAX / 2).unwrap();
    }
}
