//! SQL: parsing (sqlparser plus a small pre-parser for statements it does
//! not know), binding names and types against the catalog, planning access
//! paths, and executing plans.

pub mod binder;
pub mod copy;
pub mod exec;
pub mod explain;
pub mod expr;
pub mod limits;
pub mod memory;
pub mod parser;
pub mod plan;
pub mod roles;
pub mod srf;
