//! The single-node partition log: preallocated segment files in a
//! directory, with group commit (one fdatasync for every record queued
//! while the previous one ran).
