//! Errors that stop the server from starting or serving.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open the database: {0}")]
    Engine(#[from] joltdb_engine::Error),
    #[error("{0}")]
    Backup(joltdb_engine::Error),
    #[error("cannot open the role store: {0}")]
    Roles(#[from] joltdb_auth::AuthError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("invalid hba file: {0}")]
    Hba(#[from] crate::hba::HbaError),
    #[error("cannot install the signal handler: {0}")]
    Signal(#[source] io::Error),
}
