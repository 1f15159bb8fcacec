//! Connection start-up: SCRAM-SHA-256 authentication against the role
//! store (stored verifiers only, never password material), then the engine
//! session, ParameterStatus and BackendKeyData.

use crate::cancel::CancelRegistry;
use crate::conn::Connection;
use crate::encode::{error_info, fatal};
use async_trait::async_trait;
use futures::Sink;
use joltdb_auth::RoleStore;
use joltdb_engine::Engine;
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
use std::sync::Arc;

/// Iteration count announced for roles that do not exist (matches the
/// usual verifier strength so the exchange looks the same).
const MOCK_ITERATIONS: usize = 4096;

/// Handles StartupMessage and the SASL exchange for every connection.
pub struct Startup {
    driver: AuthDriver<SessionParameters>,
    scram: ScramAuth,
    engine: Engine,
    roles: Arc<RoleStore>,
    cancels: Arc<CancelRegistry>,
}

impl Startup {
    pub fn new(engine: Engine, roles: Arc<RoleStore>, cancels: Arc<CancelRegistry>) -> Startup {
        let source = RoleSource {
            roles: roles.clone(),
            mock_salt_key: std::collections::hash_map::RandomState::new(),
        };
        // No certificate is configured, so SCRAM-SHA-256-PLUS is not offered
        // (libpq refuses a plaintext server that offers channel binding).
        let scram = ScramAuth::new(Arc::new(source));
        Startup {
            driver: AuthDriver::new(SessionParameters),
            scram,
            engine,
            roles,
            cancels,
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
        let role = self.roles.get(&user);
        if !role.as_ref().is_some_and(|r| r.login) {
            return Err(fatal(
                "28000",
                format!("role \"{user}\" is not permitted to log in"),
            ));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(i64::MAX);
        if role.as_ref().is_some_and(|r| r.password_expired(now)) {
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

        let session = self
            .engine
            .new_session(&user, &database, &params)
            .map_err(|e| PgWireError::UserError(Box::new(error_info(&e, "FATAL"))))?;
        let token = session.cancel_token();
        let mut reported = session.startup_parameters();
        add_default_parameters(&mut reported, &user, role.is_some_and(|r| r.superuser));
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
                if client
                    .metadata()
                    .get(METADATA_USER)
                    .is_none_or(|u| u.is_empty())
                {
                    return Err(fatal(
                        "28000",
                        "no PostgreSQL user name specified in startup packet",
                    ));
                }
                match self
                    .driver
                    .begin_authentication(client, self.scram.create())
                    .await
                {
                    Ok(AuthOutcome::InProgress) => Ok(()),
                    Ok(AuthOutcome::Authenticated { final_message, .. }) => {
                        self.open_session(client, final_message).await
                    }
                    Err(e) => Err(auth_failure(e, &startup_user(client))),
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                match self.driver.advance_authentication(client, message).await {
                    Ok(AuthOutcome::InProgress) => Ok(()),
                    Ok(AuthOutcome::Authenticated { final_message, .. }) => {
                        self.open_session(client, final_message).await
                    }
                    Err(e) => Err(auth_failure(e, &startup_user(client))),
                }
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
        PgWireError::InvalidScramMessage(msg) => {
            tracing::info!(user, "malformed SCRAM message: {msg}");
            fatal("08P01", format!("malformed SCRAM message: {msg}"))
        }
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

/// Looks up SCRAM verifiers in the role store.
struct RoleSource {
    roles: Arc<RoleStore>,
    /// Keys the salt made up for unknown roles, so it is stable per name
    /// (as a real one would be) but not predictable.
    mock_salt_key: std::collections::hash_map::RandomState,
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
