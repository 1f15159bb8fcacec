//! TLS for tests: a throwaway certificate authority and server certificate
//! (made with rcgen, written to a temporary directory), and tokio-postgres
//! connectors (rustls) that trust that authority.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::CertificateDer;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_postgres::config::{ChannelBinding, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A certificate authority and a server certificate it signed, valid for
/// `localhost` and `127.0.0.1`.
pub struct TestCa {
    dir: tempfile::TempDir,
    ca_der: CertificateDer<'static>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let dir = tempfile::Builder::new()
            .prefix("joltdb-tls-")
            .tempdir()
            .expect("temp dir");

        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        // A distinct name per CA, so a client holding another test CA
        // does not mistake it for this certificate's issuer.
        ca_params.distinguished_name.push(
            DnType::CommonName,
            format!("joltdb test CA {:016x}", rand::random::<u64>()),
        );
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_cert = params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");

        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("writing PEM");
        };
        write("ca.pem", &ca_cert.pem());
        write("server.pem", &server_cert.pem());
        write("server.key", &server_key.serialize_pem());
        TestCa {
            dir,
            ca_der: ca_cert.der().clone(),
        }
    }

    /// The CA certificate (PEM), for `sslrootcert=`.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }

    /// `--tls-cert ... --tls-key ...` for the server.
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert_path().display().to_string(),
            "--tls-key".into(),
            self.key_path().display().to_string(),
        ]
    }

    /// A connector that verifies the server against this CA (and the
    /// host name), as `sslmode=verify-full` does.
    pub fn connector(&self) -> MakeRustlsConnect {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("adding CA");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        MakeRustlsConnect::new(config)
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

/// Connects over TLS (`sslmode=require`) with `connector`, asking for
/// channel binding as `binding` says.
pub async fn connect_tls(
    mut cfg: tokio_postgres::Config,
    connector: MakeRustlsConnect,
    binding: ChannelBinding,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    cfg.ssl_mode(SslMode::Require).channel_binding(binding);
    let (client, conn) = cfg.connect(connector).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}
