//! joltdb's engine: catalog, SQL binding/planning/execution, partitioned
//! in-memory MVCC storage, the partition logs (WAL) and transactions.
//! It knows nothing of the wire protocol: the server drives it through
//! [`Engine`] and [`Session`].

#![allow(clippy::result_large_err)]

pub mod acl;
pub mod archive;
pub mod backup;
pub mod catalog;
pub mod catalog_log;
pub mod checkpoint;
mod chunkfile;
pub mod databases;
pub mod engine;
pub mod error;
mod pitr;
pub mod session;
pub mod sql;
pub mod storage;
pub mod syscat;
pub mod txn;
pub mod types;
pub mod wal;

pub use checkpoint::{CheckpointInfo, CheckpointSettings, RecoveryStats};
pub use databases::{DatabaseLease, Databases};
pub use error::{Error, Result, SqlState};
pub use session::{
    CancelToken, Column, CommandComplete, CopyIn, CopyOut, Cursor, Engine, EngineConfig, Notice,
    Output, Prepared, Session, Statement, TxnStatus,
};
pub use types::{DataType, Row, Value};
