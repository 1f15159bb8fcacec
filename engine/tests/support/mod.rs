//! Helpers shared by the engine's integration tests and the fuzz targets.

pub mod parse_bind;
