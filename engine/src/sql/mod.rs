//! SQL: parsing (sqlparser plus a small pre-parser for statements it does
//! not know), binding names and types against the catalog, planning access
//! paths, and executing plans.

pub mod binder;
pub mod exec;
pub mod expr;
pub mod parser;
pub mod plan;
pub mod srf;
