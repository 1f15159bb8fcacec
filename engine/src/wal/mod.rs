//! The partition log (write-ahead log): one ordered, checksummed log per
//! partition. Everything above this module talks to [`PartitionLog`] only,
//! so a replicated log can replace the local-file one.

pub mod file;

use crate::error::Result;
use futures::future::BoxFuture;

/// Log sequence number: the position of a record in one partition's log.
/// The first record has LSN 1; 0 means "before the first record".
pub type Lsn = u64;

/// One record read back from a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub lsn: Lsn,
    pub payload: Vec<u8>,
}

/// The narrow interface of a partition log.
pub trait PartitionLog: Send + Sync + 'static {
    /// Queues `payload` for appending. The record is queued before this
    /// returns (records become durable in the order `append` was called);
    /// the future resolves with the record's LSN once it is durable.
    /// Dropping the future does not cancel the append.
    fn append(&self, payload: Vec<u8>) -> BoxFuture<'static, Result<Lsn>>;

    /// Every record with LSN >= `from`, in order.
    fn read_from(&self, from: Lsn) -> Result<Vec<LogRecord>>;

    /// Discards records with LSN < `lsn` (after a checkpoint made them
    /// unnecessary). May keep some for a while; never discards newer ones.
    fn truncate_before(&self, lsn: Lsn) -> Result<()>;

    /// Discards records with LSN > `lsn` (a Raft follower dropping a
    /// conflicting tail).
    fn truncate_after(&self, lsn: Lsn) -> Result<()>;

    /// The LSN of the last record appended (durable or not); 0 if none.
    fn last_lsn(&self) -> Lsn;

    /// The LSN the log starts at: records before it were truncated away
    /// (1 for a log that was never truncated).
    fn first_lsn(&self) -> Lsn;

    /// Waits until every record appended before the call is durable;
    /// returns the durable LSN.
    fn wait_durable(&self) -> Result<Lsn>;

    /// Makes everything appended so far durable and stops accepting
    /// appends (clean shutdown).
    fn close(&self);
}
