//! Passphrase-based authenticated encryption of backup frames.
//!
//! A 256-bit key is derived from the passphrase and a random per-file salt
//! with argon2id; every frame is sealed with ChaCha20-Poly1305. The nonce is
//! the frame's position in the file (the key is unique per file, so a nonce
//! is never reused), and the associated data binds each frame to the file
//! header, its kind and its position, so frames cannot be swapped, dropped
//! or moved between files without the open failing.

use crate::error::{Error, Result, SqlState};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

pub const SALT_LEN: usize = 16;

/// argon2id cost parameters, stored in the backup header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// The argon2 crate's recommended defaults (19 MiB, 2 passes, 1 lane).
    fn default() -> Self {
        KdfParams {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

pub fn random_salt() -> [u8; SALT_LEN] {
    let mut salt = [0u8; SALT_LEN];
    rand::thread_rng().fill_bytes(&mut salt);
    salt
}

/// The frame cipher of one backup file.
pub struct FrameCipher {
    aead: ChaCha20Poly1305,
}

impl FrameCipher {
    /// Derives the key from `passphrase`. The passphrase itself is not kept.
    pub fn derive(passphrase: &str, salt: &[u8], kdf: KdfParams) -> Result<FrameCipher> {
        let bad_params = |e: argon2::Error| {
            Error::new(
                SqlState::DATA_CORRUPTED,
                format!("backup header has invalid key derivation parameters: {e}"),
            )
        };
        // Refuse absurd costs from a damaged or hostile header.
        if kdf.memory_kib > 4 * 1024 * 1024 || kdf.iterations > 64 || kdf.parallelism > 64 {
            return Err(Error::new(
                SqlState::DATA_CORRUPTED,
                "backup header has out-of-range key derivation parameters",
            ));
        }
        let params = Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32))
            .map_err(bad_params)?;
        let mut key = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase.as_bytes(), salt, &mut key)
            .map_err(bad_params)?;
        let aead = ChaCha20Poly1305::new(Key::from_slice(&key));
        key.fill(0);
        Ok(FrameCipher { aead })
    }

    fn nonce(index: u64) -> Nonce {
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&index.to_le_bytes());
        Nonce::clone_from_slice(&n)
    }

    pub fn seal(&self, index: u64, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        self.aead
            .encrypt(&Self::nonce(index), Payload { msg: plain, aad })
            .map_err(|_| Error::internal("backup frame encryption failed"))
    }

    /// `None` when the frame does not authenticate (wrong key or altered
    /// bytes).
    pub fn open(&self, index: u64, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        self.aead
            .decrypt(&Self::nonce(index), Payload { msg: sealed, aad })
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> KdfParams {
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn seal_open_round_trip_and_binding() {
        let salt = random_salt();
        let c = FrameCipher::derive("pass phrase", &salt, cheap()).unwrap();
        let sealed = c.seal(3, b"hdr", b"rows").unwrap();
        assert_eq!(c.open(3, b"hdr", &sealed).unwrap(), b"rows");
        assert!(c.open(4, b"hdr", &sealed).is_none(), "position is bound");
        assert!(c.open(3, b"other", &sealed).is_none(), "header is bound");
        let wrong = FrameCipher::derive("other", &salt, cheap()).unwrap();
        assert!(wrong.open(3, b"hdr", &sealed).is_none());
    }
}
