//! Query cancellation: maps each connection's (pid, secret key) from
//! BackendKeyData to its session's [`CancelToken`], and serves
//! CancelRequest messages from that map.

use async_trait::async_trait;
use bytes::Bytes;
use joltdb_engine::CancelToken;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Key = (i32, Bytes);

/// The cancel tokens of all authenticated connections.
#[derive(Debug, Default)]
pub struct CancelRegistry {
    tokens: Mutex<HashMap<Key, CancelToken>>,
}

impl CancelRegistry {
    /// Registers a connection; it stays registered until the guard drops.
    pub fn register(
        self: &Arc<Self>,
        pid: i32,
        secret: &SecretKey,
        token: CancelToken,
    ) -> CancelGuard {
        let key = (pid, secret.to_bytes());
        self.lock().insert(key.clone(), token);
        CancelGuard {
            registry: self.clone(),
            key,
        }
    }

    /// Cancels every running statement (used when shutting down).
    pub fn cancel_all(&self) {
        for token in self.lock().values() {
            token.cancel();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, CancelToken>> {
        // The map stays consistent even if a holder panicked.
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl CancelHandler for CancelRegistry {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let key = (request.pid, request.secret_key.to_bytes());
        match self.lock().get(&key) {
            Some(token) => {
                tracing::debug!(pid = request.pid, "cancel request");
                token.cancel();
            }
            None => tracing::debug!(pid = request.pid, "cancel request for no known session"),
        }
    }
}

/// Unregisters a connection from the [`CancelRegistry`] when dropped.
#[derive(Debug)]
pub struct CancelGuard {
    registry: Arc<CancelRegistry>,
    key: Key,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_reaches_registered_token_only() {
        let registry = Arc::new(CancelRegistry::default());
        let token = CancelToken::default();
        let guard = registry.register(7, &SecretKey::I32(42), token.clone());

        registry
            .on_cancel_request(CancelRequest::new(7, SecretKey::I32(41)))
            .await;
        assert!(!token.take());
        // A 4-byte key sent as bytes (protocol 3.2 decoding) matches too.
        registry
            .on_cancel_request(CancelRequest::new(
                7,
                SecretKey::Bytes(Bytes::copy_from_slice(&42i32.to_be_bytes())),
            ))
            .await;
        assert!(token.take());

        drop(guard);
        registry
            .on_cancel_request(CancelRequest::new(7, SecretKey::I32(42)))
            .await;
        assert!(!token.take());
    }
}
