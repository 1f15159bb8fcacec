//! Server life cycle: open the engine and the role store, accept client
//! connections (each served by its own task), and shut down cleanly on
//! Ctrl-C or SIGTERM.

use crate::auth::{AccessPolicy, Startup};
use crate::cancel::CancelRegistry;
use crate::config::ServeArgs;
use crate::conn::Connection;
use crate::encode::fatal;
use crate::error::ServerError;
use crate::handler::QueryHandler;
use crate::hba::Hba;
use crate::limit::MessageLimit;
use crate::tls::Tls;
use futures::{FutureExt, SinkExt, StreamExt};
use joltdb_auth::Bootstrap;
use joltdb_engine::{DatabaseLease, Databases, EngineConfig};
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{
    negotiate_tls, process_error, process_message, MaybeTls, PgWireMessageServerCodec,
};
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::codec::{Framed, FramedParts};
use tracing::Instrument;

/// The superuser role created with a new data directory.
pub const SUPERUSER: &str = "joltdb";

/// On shutdown, connections get this long to finish their current
/// statement before it is cancelled, and as long again before they are
/// dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

type Socket = Framed<MessageLimit<MaybeTls>, PgWireMessageServerCodec<String>>;

/// The handlers every connection shares.
struct Handlers {
    startup: Arc<Startup>,
    query: Arc<QueryHandler>,
    copy: Arc<QueryHandler>,
    cancel: Arc<CancelRegistry>,
    max_message_bytes: usize,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// One permit per connection allowed at once (`--max-connections`).
    connection_slots: Arc<Semaphore>,
    /// Time a client has to connect and authenticate.
    auth_timeout: Duration,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<(), ServerError> {
    // Configuration mistakes are reported before the (slower) database
    // start.
    let security = &args.security;
    let tls = match (&security.tls_cert, &security.tls_key) {
        (Some(cert), Some(key)) => Some(Tls::load(cert, key)?),
        _ => None,
    };
    let hba = match &security.hba {
        Some(path) => Hba::load(path, tls.is_some())?,
        None => Hba::default(),
    };
    let policy = AccessPolicy {
        hba,
        require_tls: security.require_tls,
        allow_plaintext_loopback: security.allow_plaintext_loopback,
    };

    let config = EngineConfig {
        data_dir: args.data_dir.clone(),
        partitions: args.partitions(),
        wal_segment_size: u64::from(args.wal_segment_mb) << 20,
        checkpoint: args.checkpoint_settings(),
        backup_dir: args.backup_dir.clone(),
    };
    tracing::info!(data_dir = %config.data_dir.display(), "opening database");
    let databases = tokio::task::spawn_blocking(move || Databases::open(config))
        .await
        .map_err(|e| ServerError::Engine(joltdb_engine::Error::internal(e.to_string())))??;

    databases.set_query_memory_limit((args.query_memory_mb as usize) << 20);
    let roles = Arc::new(databases.roles().clone());
    let password = std::env::var("JOLTDB_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    match roles.bootstrap_superuser(SUPERUSER, password.as_deref())? {
        Bootstrap::Existing => {}
        Bootstrap::Created {
            generated_password_file: Some(path),
        } => tracing::warn!(
            "created superuser role \"{SUPERUSER}\" with a generated password; it is in {}",
            path.display()
        ),
        Bootstrap::Created {
            generated_password_file: None,
        } => tracing::info!(
            "created superuser role \"{SUPERUSER}\" with the password from JOLTDB_PASSWORD"
        ),
    }
    drop(password);

    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: args.listen.clone(),
            source,
        })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServerError::Listen {
            addr: args.listen.clone(),
            source,
        })?;
    tracing::info!(
        tls = tls.is_some(),
        require_tls = security.require_tls,
        "listening on {local}"
    );

    let cancels = Arc::new(CancelRegistry::default());
    let handlers = Arc::new(Handlers {
        startup: Arc::new(Startup::new(
            databases.clone(),
            roles,
            cancels.clone(),
            policy,
            tls.as_ref().map(|t| t.cert_pem.as_slice()),
        )),
        query: Arc::new(QueryHandler::default()),
        copy: Arc::new(QueryHandler::default()),
        cancel: cancels.clone(),
        max_message_bytes: args.max_message_bytes as usize,
        tls: tls.map(|t| t.acceptor),
        connection_slots: Arc::new(Semaphore::new(security.max_connections as usize)),
        auth_timeout: Duration::from_secs(security.auth_timeout_secs),
    });

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let stop = shutdown_signal()?;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let span = tracing::info_span!("conn", %peer);
                    connections.spawn(
                        serve_connection(tcp, handlers.clone(), shutdown_rx.clone())
                            .instrument(span),
                    );
                }
                Err(err) => {
                    // Typically out of file descriptors: back off, keep serving.
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                log_connection_end(done);
            }
        }
    }

    drop(listener);
    tracing::info!("shutting down; closing {} connection(s)", connections.len());
    let _ = shutdown_tx.send(true);
    if !drain(&mut connections, SHUTDOWN_GRACE).await {
        cancels.cancel_all();
        if !drain(&mut connections, SHUTDOWN_GRACE).await {
            tracing::warn!(
                "dropping {} connection(s) that did not close",
                connections.len()
            );
            connections.abort_all();
            while connections.join_next().await.is_some() {}
        }
    }
    databases.shutdown().await;
    tracing::info!("shut down");
    Ok(())
}

/// Waits until every connection task ended or `limit` passed; true if all
/// ended.
async fn drain(connections: &mut JoinSet<io::Result<()>>, limit: Duration) -> bool {
    let all = async {
        while let Some(done) = connections.join_next().await {
            log_connection_end(done);
        }
    };
    tokio::time::timeout(limit, all).await.is_ok()
}

fn log_connection_end(done: Result<io::Result<()>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::debug!("connection ended: {err}"),
        Err(err) if err.is_panic() => tracing::error!("connection task panicked: {err}"),
        Err(_) => {}
    }
}

/// Resolves on Ctrl-C or SIGTERM.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, ServerError> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(ServerError::Signal)?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested");
    })
}

/// Serves one client from the first byte to the close.
async fn serve_connection(
    tcp: TcpStream,
    handlers: Arc<Handlers>,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    // Taken before anything else so that a flood of connections cannot
    // push out the ones already served. A connection without a slot is
    // still read up to its startup packet, so the client gets a proper
    // error (and cancel requests still work).
    let slot: Option<OwnedSemaphorePermit> =
        handlers.connection_slots.clone().try_acquire_owned().ok();
    let deadline = tokio::time::sleep(handlers.auth_timeout);
    tokio::pin!(deadline);

    // Refuse a first message whose length cannot be a startup packet
    // before waiting for the rest of it.
    let plausible = tokio::select! {
        _ = &mut deadline => false,
        ok = startup_length_plausible(&tcp, handlers.tls.is_some()) => ok?,
    };
    if !plausible {
        return Ok(());
    }
    let negotiated = tokio::select! {
        _ = &mut deadline => return Ok(()),
        socket = negotiate_tls::<String>(tcp, handlers.tls.clone()) => socket?,
    };
    // `None`: a direct TLS handshake without TLS configured.
    let Some(socket) = negotiated else {
        return Ok(());
    };
    let parts = socket.into_parts();
    let io = MessageLimit::new(parts.io, handlers.max_message_bytes, &parts.read_buf)?;
    let mut limited = FramedParts::new(io, parts.codec);
    limited.read_buf = parts.read_buf;
    limited.write_buf = parts.write_buf;
    let mut socket: Socket = Framed::from_parts(limited);
    // Looked up once, after authentication attached it to the socket.
    let mut conn: Option<Arc<Connection>> = None;
    // Set once the session is open: ends the connection when its database
    // is dropped with FORCE.
    let mut lease: Option<Arc<DatabaseLease>> = None;

    loop {
        let starting = matches!(
            socket.state(),
            PgWireConnectionState::AwaitingStartup
                | PgWireConnectionState::AuthenticationInProgress
        );
        // PostgreSQL's idle_in_transaction_session_timeout: a session that
        // sits in an open transaction block too long is ended.
        let idle_limit = if !starting && socket.transaction_status() != TransactionStatus::Idle {
            if conn.is_none() {
                conn = Connection::of(&socket).ok();
            }
            match &conn {
                Some(c) => c.lock().await.session.idle_in_transaction_timeout(),
                None => None,
            }
        } else {
            None
        };
        let idle_timeout = async {
            match idle_limit {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        if lease.is_none() && !starting {
            lease = socket.session_extensions().get::<DatabaseLease>();
        }
        let database_dropped = async {
            match &lease {
                Some(lease) => lease.terminated().await,
                None => std::future::pending().await,
            }
        };
        let message = tokio::select! {
            biased;
            _ = stop_requested(&mut shutdown) => {
                if !starting {
                    send_fatal(
                        &mut socket,
                        fatal("57P01", "terminating connection due to administrator command"),
                    )
                    .await;
                }
                break;
            }
            _ = database_dropped => {
                send_fatal(
                    &mut socket,
                    fatal("57P01", "terminating connection due to administrator command"),
                )
                .await;
                break;
            }
            _ = &mut deadline, if starting => {
                tracing::info!("closing connection: authentication not finished in time");
                break;
            }
            _ = idle_timeout => {
                send_fatal(
                    &mut socket,
                    fatal("25P03", "terminating connection due to idle-in-transaction timeout"),
                )
                .await;
                break;
            }
            // pgwire's decoders panic on some truncated message bodies
            // (a Bind whose parameter is longer than the message, ...):
            // that is a malformed message from this client, nothing more.
            message = AssertUnwindSafe(socket.next()).catch_unwind() => {
                message.unwrap_or_else(|_| Some(Err(PgWireError::IoError(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "invalid message format",
                )))))
            }
        };
        let message = match message {
            None => break,
            Some(Ok(PgWireFrontendMessage::Terminate(_))) => break,
            Some(Ok(message)) => message,
            Some(Err(err)) => {
                // Garbage or an oversized message: this connection is done.
                tracing::info!("closing connection after a protocol error: {err}");
                let (code, message) = match err {
                    PgWireError::IoError(e)
                        if e.get_ref()
                            .is_some_and(|i| i.is::<crate::limit::InvalidUtf8>()) =>
                    {
                        ("22021", e.to_string())
                    }
                    PgWireError::IoError(e) => ("08P01", e.to_string()),
                    other => ("08P01", other.to_string()),
                };
                send_fatal(&mut socket, fatal(code, message)).await;
                break;
            }
        };

        if slot.is_none() && matches!(message, PgWireFrontendMessage::Startup(_)) {
            send_fatal(
                &mut socket,
                fatal("53300", "sorry, too many clients already"),
            )
            .await;
            break;
        }

        let extended = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        let cancel_request = matches!(message, PgWireFrontendMessage::CancelRequest(_));
        let processing = process_message(
            message,
            &mut socket,
            handlers.startup.clone(),
            handlers.query.clone(),
            handlers.query.clone(),
            handlers.copy.clone(),
            handlers.cancel.clone(),
        );
        let result = if starting {
            // Password and SASL message bodies are decoded only now, by
            // pgwire, which panics on some truncated ones; before the
            // session exists there is no state a panic could leave behind.
            AssertUnwindSafe(processing)
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err(fatal("08P01", "invalid message format")))
        } else {
            processing.await
        };
        if let Err(err) = result {
            if err.is_fatal() {
                send_fatal(&mut socket, err).await;
                break;
            }
            process_error(&mut socket, err, extended).await?;
        }
        if cancel_request {
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close()).await;
    Ok(())
}

/// Peeks at the first four bytes: a startup, SSL or cancel request is at
/// least 8 and at most 10000 bytes long (PostgreSQL's limits). With TLS
/// configured, a TLS handshake record (`sslnegotiation=direct`) is let
/// through too.
async fn startup_length_plausible(tcp: &TcpStream, direct_tls: bool) -> io::Result<bool> {
    const TLS_HANDSHAKE: u8 = 0x16;
    let mut head = [0u8; 4];
    loop {
        tcp.readable().await?;
        let n = tcp.peek(&mut head).await?;
        if n == 0 {
            return Ok(false);
        }
        if direct_tls && head[0] == TLS_HANDSHAKE {
            return Ok(true);
        }
        if n == 4 {
            let len = u32::from_be_bytes(head);
            return Ok((8..=10_000).contains(&len));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Resolves once shutdown was requested (or the server is going away).
async fn stop_requested(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Sends a FATAL error before the connection is closed.
async fn send_fatal(socket: &mut Socket, err: PgWireError) {
    let info: ErrorInfo = err.into();
    let send = socket.send(PgWireBackendMessage::ErrorResponse(info.into()));
    let _ = tokio::time::timeout(Duration::from_secs(1), send).await;
}
