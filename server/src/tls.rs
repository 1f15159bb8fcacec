//! TLS for client connections: loads the certificate chain and key named
//! by `--tls-cert`/`--tls-key` into a rustls acceptor.
//!
//! The crypto provider (ring) is passed to rustls explicitly rather than
//! taken from the process default, so start-up never depends on which
//! rustls features the dependency graph happens to enable.

use rustls::crypto::ring;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read TLS certificate {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("cannot read TLS key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("TLS certificate {cert} and key {key} do not fit together: {reason}")]
    Config {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// What the server needs of its TLS set-up.
pub struct Tls {
    pub acceptor: TlsAcceptor,
    /// The certificate chain as PEM, for SCRAM channel binding
    /// (tls-server-end-point hashes the server's own certificate).
    pub cert_pem: Vec<u8>,
}

impl Tls {
    /// Loads `cert` (a PEM chain, server certificate first) and `key`.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let cert_pem = std::fs::read(cert).map_err(|e| TlsError::Certificate {
            path: cert.to_path_buf(),
            reason: e.to_string(),
        })?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Certificate {
                path: cert.to_path_buf(),
                reason: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsError::Certificate {
                path: cert.to_path_buf(),
                reason: "no PEM certificate found".into(),
            });
        }
        // The key's content must never reach an error message.
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
            path: key.to_path_buf(),
            reason: match e {
                rustls_pki_types::pem::Error::NoItemsFound => "no PEM private key found".into(),
                rustls_pki_types::pem::Error::Io(io) => io.to_string(),
                _ => "malformed PEM".into(),
            },
        })?;
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key_der))
            .map_err(|e| TlsError::Config {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
                reason: e.to_string(),
            })?;
        // Clients that start TLS directly (sslnegotiation=direct) must
        // name the protocol; the SSLRequest path does not need it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert_pem,
        })
    }
}
