//! Connection start-up: the TLS requirement and host-based rules decide
//! how a client authenticates — SCRAM-SHA-256 against stored verifiers
//! (with SCRAM-SHA-256-PLUS channel binding offered on TLS connections),
//! a cleartext password over TLS checked against the argon2id hash, trust
//! (loopback only) or reject — then the engine session, ParameterStatus
//! and BackendKeyData.

use crate::backoff::LoginBackoff;
use crate::cancel::CancelRegistry;
use crate::conn::Connection;
use crate::encode::{error_info, fatal};
use crate::hba::{self, Hba, Method};
use async_trait::async_trait;
use futures::Sink;
use joltdb_auth::RoleStore;
use joltdb_engine::Databases;
use pgwire::api::auth::cleartext::CleartextPasswordAuth;
use pgwire::api::auth::mechanism::AuthMechanismFactory;
use pgwire::api::auth::sasl::scram::{ScramAuth, ScramSecret};
use pgwire::api::auth::{
    protocol_negotiation, save_startup_parameters_to_metadata, AuthDriver, AuthOutcome, AuthSource,
    LoginInfo, Password, ServerParameterProvider, StartupHandler,
};
use pgwire::api::{ClientInfo, METADATA_DATABASE, METADATA_USER};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

/// Iteration count announced for roles that do not exist (matches the
/// usual verifier strength so the exchange looks the same).
const MOCK_ITERATIONS: usize = 4096;

/// Who may connect, over what, and how they authenticate.
pub struct AccessPolicy {
    pub hba: Hba,
    /// Refuse plaintext connections ...
    pub require_tls: bool,
    /// ... except from loopback addresses.
    pub allow_plaintext_loopback: bool,
}

/// Handles StartupMessage and the authentication exchange for every
/// connection.
pub struct Startup {
    driver: AuthDriver<SessionParameters>,
    /// SCRAM-SHA-256 only: what plaintext connections are offered.
    scram: ScramAuth,
    /// SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, for TLS connections; `None`
    /// without TLS or when the certificate's signature algorithm has no
    /// tls-server-end-point hash.
    scram_tls: Option<ScramAuth>,
    cleartext: CleartextPasswordAuth<RoleSource>,
    policy: AccessPolicy,
    backoff: LoginBackoff,
    databases: Databases,
    roles: Arc<RoleStore>,
    cancels: Arc<CancelRegistry>,
}

impl Startup {
    /// `tls_cert_pem` is the server certificate chain when TLS is on.
    pub fn new(
        databases: Databases,
        roles: Arc<RoleStore>,
        cancels: Arc<CancelRegistry>,
        policy: AccessPolicy,
        tls_cert_pem: Option<&[u8]>,
    ) -> Startup {
        let source = Arc::new(RoleSource {
            roles: roles.clone(),
            mock_salt_key: std::collections::hash_map::RandomState::new(),
            dummy_hash: joltdb_auth::hash_password(&random_secret()),
        });
        // Channel binding is offered only where it can work: libpq refuses
        // a plaintext server that offers SCRAM-SHA-256-PLUS.
        let scram = ScramAuth::new(source.clone());
        let scram_tls = tls_cert_pem.and_then(|pem| {
            let mut auth = ScramAuth::new(source.clone());
            match auth.configure_certificate(pem) {
                Ok(()) => Some(auth),
                Err(err) => {
                    tracing::warn!(
                        "SCRAM channel binding is not offered: the certificate does not allow it ({err})"
                    );
                    None
                }
            }
        });
        Startup {
            driver: AuthDriver::new(SessionParameters),
            scram,
            scram_tls,
            cleartext: CleartextPasswordAuth::new(source),
            policy,
            backoff: LoginBackoff::default(),
            databases,
            roles,
            cancels,
        }
    }

    /// The TLS requirement and the host-based rules: how this client must
    /// authenticate, or the FATAL error refusing it.
    fn admit<C: ClientInfo>(&self, client: &C, user: &str) -> PgWireResult<Method> {
        let addr = client.socket_addr().ip();
        let tls = client.is_secure();
        if self.policy.require_tls
            && !tls
            && !(self.policy.allow_plaintext_loopback && is_loopback(addr))
        {
            return Err(fatal(
                "28000",
                "this server requires TLS: connect with sslmode=require (or verify-full)",
            ));
        }
        let database = client
            .metadata()
            .get(METADATA_DATABASE)
            .map(String::as_str)
            .unwrap_or(user);
        let who = hba::Client {
            addr,
            tls,
            database,
            role: user,
        };
        let describe = || {
            format!(
                "host \"{addr}\", user \"{user}\", database \"{database}\", {}",
                if tls {
                    "SSL encryption"
                } else {
                    "no encryption"
                }
            )
        };
        match self.policy.hba.method_for(&who) {
            None => Err(fatal("28000", format!("no hba entry for {}", describe()))),
            Some(Method::Reject) => Err(fatal(
                "28000",
                format!("hba rule rejects connection for {}", describe()),
            )),
            Some(method) => Ok(method),
        }
    }

    /// Starts authenticating with `method` (not `Reject`).
    async fn begin<C>(&self, client: &mut C, method: Method) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mechanism = match method {
            Method::Trust => return self.open_session(client, None).await,
            Method::ScramSha256 => match (&self.scram_tls, client.is_secure()) {
                (Some(plus), true) => plus.create(),
                _ => self.scram.create(),
            },
            // The rules allow `password` only on hostssl lines; this guards
            // against ever asking for a cleartext password in the open.
            Method::Password if client.is_secure() => self.cleartext.create(),
            Method::Password | Method::Reject => {
                return Err(fatal("28000", "authentication method not available"))
            }
        };
        // Spread repeated guesses from one address out in time.
        let wait = self.backoff.reserve(client.socket_addr().ip());
        if !wait.is_zero() {
            tracing::debug!(?wait, "delaying authentication after failed attempts");
            tokio::time::sleep(wait).await;
        }
        let outcome = self.driver.begin_authentication(client, mechanism).await;
        self.after_step(client, outcome).await
    }

    /// Completes the start-up after a successful step, or turns a failed
    /// one into the client's error (and a strike for its address).
    async fn after_step<C>(
        &self,
        client: &mut C,
        outcome: PgWireResult<AuthOutcome>,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match outcome {
            Ok(AuthOutcome::InProgress) => Ok(()),
            Ok(AuthOutcome::Authenticated { final_message, .. }) => {
                self.backoff.succeeded(client.socket_addr().ip());
                self.open_session(client, final_message).await
            }
            Err(e) => {
                self.backoff.failed(client.socket_addr().ip());
                Err(auth_failure(e, &startup_user(client)))
            }
        }
    }

    /// Runs after the password was verified: login check, engine session,
    /// then the rest of the start-up reply.
    async fn open_session<C>(
        &self,
        client: &mut C,
        final_message: Option<Authentication>,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let user = startup_user(client);
        // Only `trust` gets here without proving the role exists.
        let Some(role) = self.roles.get(&user) else {
            return Err(fatal("28000", format!("role \"{user}\" does not exist")));
        };
        if !role.login {
            return Err(fatal(
                "28000",
                format!("role \"{user}\" is not permitted to log in"),
            ));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(i64::MAX);
        if role.password_expired(now) {
            tracing::info!(user, "password expired (VALID UNTIL)");
            return Err(fatal(
                "28P01",
                format!("password authentication failed for user \"{user}\""),
            ));
        }
        let database = client
            .metadata()
            .get(METADATA_DATABASE)
            .cloned()
            .unwrap_or_else(|| user.clone());
        let params: Vec<(String, String)> = client
            .metadata()
            .iter()
            .filter(|(k, _)| k.as_str() != METADATA_USER && k.as_str() != METADATA_DATABASE)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();

        let (session, lease) = self
            .databases
            .connect(&user, &database, &params)
            .await
            .map_err(|e| PgWireError::UserError(Box::new(error_info(&e, "FATAL"))))?;
        client.session_extensions().insert(lease);
        let token = session.cancel_token();
        let mut reported = session.startup_parameters();
        add_default_parameters(&mut reported, &user, role.superuser);
        client
            .session_extensions()
            .insert(StartupParameters(reported));
        client.session_extensions().insert(Connection::new(session));

        self.driver
            .complete_authentication(client, final_message)
            .await?;

        let (pid, secret) = client.pid_and_secret_key();
        let guard = self.cancels.register(pid, &secret, token);
        client.session_extensions().insert(guard);
        tracing::debug!(user, database, pid, "session started");
        Ok(())
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                let user = startup_user(client);
                if user.is_empty() {
                    return Err(fatal(
                        "28000",
                        "no PostgreSQL user name specified in startup packet",
                    ));
                }
                let method = self.admit(client, &user)?;
                self.begin(client, method).await
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                let outcome = self.driver.advance_authentication(client, message).await;
                self.after_step(client, outcome).await
            }
            _ => Ok(()),
        }
    }
}

fn startup_user<C: ClientInfo>(client: &C) -> String {
    client
        .metadata()
        .get(METADATA_USER)
        .cloned()
        .unwrap_or_default()
}

/// Maps pgwire's authentication errors to PostgreSQL's wording. Wrong
/// password and unknown role look the same to the client.
fn auth_failure(err: PgWireError, user: &str) -> PgWireError {
    match err {
        PgWireError::InvalidPassword(_) => {
            tracing::info!(user, "password authentication failed");
            fatal(
                "28P01",
                format!("password authentication failed for user \"{user}\""),
            )
        }
        PgWireError::InvalidScramMessage(msg) if msg.contains("hannel binding") => {
            tracing::info!(user, "SCRAM channel binding check failed: {msg}");
            fatal("28000", "SCRAM channel binding check failed")
        }
        PgWireError::InvalidScramMessage(msg) => {
            tracing::info!(user, "malformed SCRAM message: {msg}");
            fatal("08P01", format!("malformed SCRAM message: {msg}"))
        }
        // A cleartext password exchange that got some other message.
        PgWireError::FailedToCoercePasswordMessage => fatal(
            "08P01",
            "expected password response, got a different message",
        ),
        PgWireError::UnsupportedSASLAuthMethod(method) => fatal(
            "28000",
            format!("client selected an invalid SASL authentication mechanism: {method}"),
        ),
        other => other,
    }
}

/// The ParameterStatus values reported after authentication, computed
/// when the session opens.
struct StartupParameters(Vec<(String, String)>);

/// Values clients depend on, used when the engine does not report them.
fn add_default_parameters(params: &mut Vec<(String, String)>, user: &str, superuser: bool) {
    let defaults = [
        ("server_version", "16.0".to_owned()),
        ("server_encoding", "UTF8".to_owned()),
        ("client_encoding", "UTF8".to_owned()),
        ("DateStyle", "ISO, MDY".to_owned()),
        ("IntervalStyle", "postgres".to_owned()),
        ("TimeZone", "UTC".to_owned()),
        ("integer_datetimes", "on".to_owned()),
        ("standard_conforming_strings", "on".to_owned()),
        (
            "is_superuser",
            if superuser { "on" } else { "off" }.to_owned(),
        ),
        ("session_authorization", user.to_owned()),
    ];
    for (name, value) in defaults {
        if !params.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
            params.push((name.to_owned(), value));
        }
    }
}

/// Feeds [`StartupParameters`] to pgwire's start-up completion.
struct SessionParameters;

impl ServerParameterProvider for SessionParameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let params = client.session_extensions().get::<StartupParameters>()?;
        Some(params.0.iter().cloned().collect())
    }
}

/// Looks up SCRAM verifiers and argon2id hashes in the role store.
struct RoleSource {
    roles: Arc<RoleStore>,
    /// Keys the salt made up for unknown roles, so it is stable per name
    /// (as a real one would be) but not predictable.
    mock_salt_key: std::collections::hash_map::RandomState,
    /// An argon2id hash of a random secret nobody knows: unknown roles
    /// are checked against it, so they take as long as known ones.
    dummy_hash: String,
}

fn random_secret() -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

fn is_loopback(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

impl Debug for RoleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleSource").finish_non_exhaustive()
    }
}

impl RoleSource {
    /// A verifier no password matches, for roles that do not exist or
    /// have no SCRAM secret.
    fn mock_verifier(&self, user: &str) -> ScramSecret {
        let mut salt = Vec::with_capacity(16);
        for part in [0u8, 1] {
            let mut h = self.mock_salt_key.build_hasher();
            h.write_u8(part);
            h.write(user.as_bytes());
            salt.extend_from_slice(&h.finish().to_be_bytes());
        }
        ScramSecret::Verifier {
            salt,
            iterations: MOCK_ITERATIONS,
            stored_key: rand::random::<[u8; 32]>().to_vec(),
            server_key: rand::random::<[u8; 32]>().to_vec(),
        }
    }
}

#[async_trait]
impl AuthSource for RoleSource {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        // Only SCRAM verifiers are used; there is no password to hand out.
        Err(PgWireError::InvalidPassword(
            login.user().unwrap_or_default().to_owned(),
        ))
    }

    async fn verify_password(
        &self,
        login: &LoginInfo,
        presented_password: &[u8],
    ) -> PgWireResult<Option<()>> {
        let user = login.user().unwrap_or_default().to_owned();
        let stored = self.roles.get(&user).and_then(|role| role.password_hash);
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.clone());
        // Not UTF-8: cannot match, but costs the same as a wrong password.
        let password = String::from_utf8(presented_password.to_vec()).unwrap_or_default();
        // argon2 takes tens of milliseconds of CPU: keep it off the async
        // worker threads.
        let verified =
            tokio::task::spawn_blocking(move || joltdb_auth::verify_password(&hash, &password))
                .await
                .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
        if verified && known {
            Ok(None)
        } else {
            Err(PgWireError::InvalidPassword(user))
        }
    }

    async fn get_scram_secret(&self, login: &LoginInfo) -> PgWireResult<(ScramSecret, Option<()>)> {
        let user = login.user().unwrap_or_default();
        let secret = match self.roles.get(user).and_then(|role| role.scram) {
            Some(v) => ScramSecret::Verifier {
                salt: v.salt,
                iterations: v.iterations as usize,
                stored_key: v.stored_key,
                server_key: v.server_key,
            },
            None => self.mock_verifier(user),
        };
        Ok((secret, None))
    }
}
