//! Roles and password material for joltdb.
//!
//! Passwords are never stored in clear: each login role keeps a SCRAM-SHA-256
//! verifier (RFC 5802/7677, as PostgreSQL stores it) for SCRAM authentication
//! and an argon2id hash for cleartext-over-TLS authentication. Roles live in
//! `roles.json` in the data directory, rewritten atomically on every change.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use hmac::{Hmac, KeyInit, Mac};
use rand::distributions::Alphanumeric;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Name of the superuser role created on first start.
pub const SUPERUSER: &str = "joltdb";
/// File in the data directory holding the roles.
pub const ROLES_FILE: &str = "roles.json";
/// File in the data directory holding a generated superuser password.
pub const GENERATED_PASSWORD_FILE: &str = "superuser-password";
/// PBKDF2 iteration count for new SCRAM verifiers (PostgreSQL's default).
pub const SCRAM_ITERATIONS: u32 = 4096;

const FORMAT_VERSION: u32 = 1;
const SALT_LEN: usize = 16;
const GENERATED_PASSWORD_LEN: usize = 24;

/// Errors of the role store.
#[derive(thiserror::Error, Debug)]
pub enum AuthError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("roles file {path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("roles file {path} has unsupported format version {version}")]
    UnsupportedFormat { path: PathBuf, version: u32 },
    #[error("role \"{0}\" already exists")]
    RoleExists(String),
    #[error("role \"{0}\" does not exist")]
    UnknownRole(String),
    #[error("invalid role name {0:?}")]
    InvalidRoleName(String),
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
}

impl AuthError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        AuthError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A SCRAM-SHA-256 verifier: what the server needs to check a client proof
/// and sign its reply, without being able to recover the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramVerifier {
    pub iterations: u32,
    #[serde(with = "hex_bytes")]
    pub salt: Vec<u8>,
    #[serde(with = "hex_bytes")]
    pub stored_key: Vec<u8>,
    #[serde(with = "hex_bytes")]
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramVerifier")
            .field("iterations", &self.iterations)
            .field("salt", &self.salt)
            .finish_non_exhaustive()
    }
}

/// A role (user). `scram` and `password_hash` are absent for roles without
/// a password, which cannot log in with one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub superuser: bool,
    pub login: bool,
    pub scram: Option<ScramVerifier>,
    /// argon2id hash in PHC string format.
    pub password_hash: Option<String>,
    /// May create, alter and drop roles (CREATEROLE).
    #[serde(default)]
    pub createrole: bool,
    /// May create databases (CREATEDB); recorded for compatibility.
    #[serde(default)]
    pub createdb: bool,
    /// Uses the privileges of the roles it is a member of without SET ROLE.
    #[serde(default = "default_true")]
    pub inherit: bool,
    /// The password stops working after this instant (microseconds since
    /// the Unix epoch); `None` means forever.
    #[serde(default)]
    pub valid_until: Option<i64>,
    /// Roles this role is a member of (GRANT role TO this role).
    #[serde(default)]
    pub member_of: Vec<Membership>,
}

/// Membership of a role in another role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The role whose privileges the member gets.
    pub role: String,
    /// WITH ADMIN OPTION: the member may grant this role to others.
    pub admin_option: bool,
    /// Who granted the membership.
    pub grantor: String,
}

fn default_true() -> bool {
    true
}

impl Role {
    /// A role with the given password material derived from `password`.
    pub fn new(
        name: &str,
        superuser: bool,
        login: bool,
        password: Option<&str>,
    ) -> Result<Role, AuthError> {
        validate_name(name)?;
        let (scram, password_hash) = match password {
            Some(p) => (Some(scram_verifier(p)), Some(hash_password(p))),
            None => (None, None),
        };
        Ok(Role {
            name: name.to_string(),
            superuser,
            login,
            scram,
            password_hash,
            createrole: false,
            createdb: false,
            inherit: true,
            valid_until: None,
            member_of: Vec::new(),
        })
    }

    /// Sets the password material: a cleartext password gets a fresh SCRAM
    /// verifier and argon2id hash; a password given as a SCRAM-SHA-256
    /// verifier string (`SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`,
    /// as PostgreSQL prints it) is stored as is, without an argon2id hash.
    /// `None` removes the password.
    pub fn set_password(&mut self, password: Option<&str>) {
        match password {
            None => {
                self.scram = None;
                self.password_hash = None;
            }
            Some(p) => match parse_scram_verifier(p) {
                Some(v) => {
                    self.scram = Some(v);
                    self.password_hash = None;
                }
                None => {
                    self.scram = Some(scram_verifier(p));
                    self.password_hash = Some(hash_password(p));
                }
            },
        }
    }

    /// True when VALID UNTIL lies before `now_micros` (microseconds since
    /// the Unix epoch).
    pub fn password_expired(&self, now_micros: i64) -> bool {
        self.valid_until.is_some_and(|t| t < now_micros)
    }

    /// Checks a cleartext password against the stored argon2id hash.
    pub fn check_password(&self, password: &str) -> bool {
        self.password_hash
            .as_deref()
            .is_some_and(|phc| verify_password(phc, password))
    }
}

/// Outcome of [`RoleStore::bootstrap_superuser`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// The superuser already existed; nothing changed.
    Existing,
    /// The superuser was created. If no password was given, a random one was
    /// generated and written to this file (mode 0600).
    Created {
        generated_password_file: Option<PathBuf>,
    },
}

#[derive(Serialize, Deserialize)]
struct RolesFile {
    format_version: u32,
    roles: Vec<Role>,
}

struct Inner {
    dir: PathBuf,
    roles: RwLock<BTreeMap<String, Role>>,
    /// Bumped by every change, so callers can cache what they derive.
    version: AtomicU64,
    /// Serialises read-modify-write cycles so file writes happen in order.
    write: Mutex<()>,
}

/// The set of roles, shared between threads; cloning is cheap.
#[derive(Clone)]
pub struct RoleStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RoleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleStore")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl RoleStore {
    /// Loads the roles file in `data_dir`, or starts empty if there is none
    /// (the file is created by the first change).
    pub fn open(data_dir: &Path) -> Result<RoleStore, AuthError> {
        fs::create_dir_all(data_dir).map_err(|e| AuthError::io(data_dir, e))?;
        let path = data_dir.join(ROLES_FILE);
        let roles = match fs::read(&path) {
            Ok(bytes) => {
                let file: RolesFile =
                    serde_json::from_slice(&bytes).map_err(|source| AuthError::Corrupt {
                        path: path.clone(),
                        source,
                    })?;
                if file.format_version != FORMAT_VERSION {
                    return Err(AuthError::UnsupportedFormat {
                        path,
                        version: file.format_version,
                    });
                }
                file.roles
                    .into_iter()
                    .map(|r| (r.name.clone(), r))
                    .collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(AuthError::io(&path, e)),
        };
        Ok(RoleStore {
            inner: Arc::new(Inner {
                dir: data_dir.to_path_buf(),
                roles: RwLock::new(roles),
                version: AtomicU64::new(1),
                write: Mutex::new(()),
            }),
        })
    }

    /// Ensures the superuser `name` exists. If it does not, it is created with
    /// `password`, or with a random password written to a 0600 file in the
    /// data directory when `password` is `None`.
    pub fn bootstrap_superuser(
        &self,
        name: &str,
        password: Option<&str>,
    ) -> Result<Bootstrap, AuthError> {
        validate_name(name)?;
        let _w = self.lock_write();
        if self.get(name).is_some() {
            return Ok(Bootstrap::Existing);
        }
        let (password, file) = match password {
            Some(p) => (p.to_string(), None),
            None => {
                let p = generate_password();
                let path = self.inner.dir.join(GENERATED_PASSWORD_FILE);
                write_file_durably(&path, format!("{p}\n").as_bytes())?;
                (p, Some(path))
            }
        };
        let role = Role::new(name, true, true, Some(&password))?;
        self.commit(|roles| {
            roles.insert(name.to_string(), role);
            Ok(())
        })?;
        Ok(Bootstrap::Created {
            generated_password_file: file,
        })
    }

    /// The role called `name`, if any.
    pub fn get(&self, name: &str) -> Option<Role> {
        self.read().get(name).cloned()
    }

    /// All roles, ordered by name.
    pub fn roles(&self) -> Vec<Role> {
        self.read().values().cloned().collect()
    }

    /// Adds a new role.
    pub fn create_role(&self, role: Role) -> Result<(), AuthError> {
        validate_name(&role.name)?;
        let _w = self.lock_write();
        self.commit(|roles| {
            if roles.contains_key(&role.name) {
                return Err(AuthError::RoleExists(role.name.clone()));
            }
            roles.insert(role.name.clone(), role);
            Ok(())
        })
    }

    /// Replaces an existing role (same name).
    pub fn update_role(&self, role: Role) -> Result<(), AuthError> {
        let _w = self.lock_write();
        self.commit(|roles| match roles.get_mut(&role.name) {
            Some(r) => {
                *r = role;
                Ok(())
            }
            None => Err(AuthError::UnknownRole(role.name.clone())),
        })
    }

    /// Sets (or with `None` removes) the password of an existing role.
    pub fn set_password(&self, name: &str, password: Option<&str>) -> Result<(), AuthError> {
        let _w = self.lock_write();
        let (scram, hash) = match password {
            Some(p) => (Some(scram_verifier(p)), Some(hash_password(p))),
            None => (None, None),
        };
        self.commit(|roles| match roles.get_mut(name) {
            Some(r) => {
                r.scram = scram;
                r.password_hash = hash;
                Ok(())
            }
            None => Err(AuthError::UnknownRole(name.to_string())),
        })
    }

    /// Removes a role and every membership in it.
    pub fn drop_role(&self, name: &str) -> Result<(), AuthError> {
        let _w = self.lock_write();
        self.commit(|roles| match roles.remove(name) {
            Some(_) => {
                for r in roles.values_mut() {
                    r.member_of.retain(|m| m.role != name);
                }
                Ok(())
            }
            None => Err(AuthError::UnknownRole(name.to_string())),
        })
    }

    /// Renames a role; memberships follow it.
    pub fn rename_role(&self, old: &str, new: &str) -> Result<(), AuthError> {
        validate_name(new)?;
        let _w = self.lock_write();
        self.commit(|roles| {
            if roles.contains_key(new) {
                return Err(AuthError::RoleExists(new.to_string()));
            }
            let mut role = roles
                .remove(old)
                .ok_or_else(|| AuthError::UnknownRole(old.to_string()))?;
            role.name = new.to_string();
            roles.insert(new.to_string(), role);
            for r in roles.values_mut() {
                for m in &mut r.member_of {
                    if m.role == old {
                        m.role = new.to_string();
                    }
                    if m.grantor == old {
                        m.grantor = new.to_string();
                    }
                }
            }
            Ok(())
        })
    }

    /// Applies several changes at once, atomically and durably: `change`
    /// edits a copy of all roles; nothing is kept if it fails.
    pub fn modify(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, Role>) -> Result<(), AuthError>,
    ) -> Result<(), AuthError> {
        let _w = self.lock_write();
        self.commit(change)
    }

    /// Creates `name` as a NOLOGIN role without a password unless it exists
    /// (built-in roles such as `joltdb_backup`).
    pub fn ensure_role(&self, name: &str) -> Result<(), AuthError> {
        validate_name(name)?;
        let _w = self.lock_write();
        if self.get(name).is_some() {
            return Ok(());
        }
        let role = Role::new(name, false, false, None)?;
        self.commit(|roles| {
            roles.insert(name.to_string(), role);
            Ok(())
        })
    }

    /// A number that changes whenever any role changes.
    pub fn version(&self) -> u64 {
        self.inner.version.load(Ordering::Acquire)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Role>> {
        // A panic while holding the lock cannot leave the map half-updated:
        // changes are applied to a copy and swapped in.
        self.inner.roles.read().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_write(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner.write.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `change` to a copy of the roles, writes the copy to disk and
    /// only then makes it visible. Callers hold the write mutex.
    fn commit(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, Role>) -> Result<(), AuthError>,
    ) -> Result<(), AuthError> {
        let mut next = self.read().clone();
        change(&mut next)?;
        let file = RolesFile {
            format_version: FORMAT_VERSION,
            roles: next.values().cloned().collect(),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|source| AuthError::Corrupt {
            path: self.inner.dir.join(ROLES_FILE),
            source,
        })?;
        write_file_durably(&self.inner.dir.join(ROLES_FILE), &bytes)?;
        *self.inner.roles.write().unwrap_or_else(|e| e.into_inner()) = next;
        self.inner.version.fetch_add(1, Ordering::Release);
        Ok(())
    }
}

fn validate_name(name: &str) -> Result<(), AuthError> {
    if name.is_empty() || name.len() > 63 || name.contains('\0') {
        return Err(AuthError::InvalidRoleName(name.to_string()));
    }
    Ok(())
}

fn generate_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(GENERATED_PASSWORD_LEN)
        .map(char::from)
        .collect()
}

/// Writes `bytes` to `path` with mode 0600: temp file, fsync, rename, fsync
/// of the directory, so a crash leaves either the old or the new content.
fn write_file_durably(path: &Path, bytes: &[u8]) -> Result<(), AuthError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| AuthError::io(&tmp, e))?;
    // `mode` only applies on creation; a leftover temp file may be wider.
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| AuthError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| AuthError::io(&tmp, e))?;
    f.sync_all().map_err(|e| AuthError::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| AuthError::io(path, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AuthError::io(dir, e))?;
    Ok(())
}

/// Derives a SCRAM-SHA-256 verifier for `password` with a fresh random salt
/// and [`SCRAM_ITERATIONS`] iterations.
pub fn scram_verifier(password: &str) -> ScramVerifier {
    let mut salt = vec![0u8; SALT_LEN];
    rand::thread_rng().fill_bytes(&mut salt);
    scram_verifier_with(password, salt, SCRAM_ITERATIONS)
}

/// Derives a SCRAM-SHA-256 verifier with an explicit salt and iteration
/// count. The password is normalised with SASLprep; a password SASLprep
/// rejects is used as is, as PostgreSQL does.
pub fn scram_verifier_with(password: &str, salt: Vec<u8>, iterations: u32) -> ScramVerifier {
    let salted = salted_password(password, &salt, iterations);
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key).to_vec();
    let server_key = hmac_sha256(&salted, b"Server Key");
    ScramVerifier {
        iterations,
        salt,
        stored_key,
        server_key,
    }
}

/// `Hi(Normalize(password), salt, iterations)` of RFC 5802.
pub fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let normalized = stringprep::saslprep(password).unwrap_or(std::borrow::Cow::Borrowed(password));
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(normalized.as_bytes(), salt, iterations.max(1), &mut out);
    out
}

/// HMAC-SHA-256 of `msg` under `key`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// Parses a SCRAM-SHA-256 verifier in PostgreSQL's text form
/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64).
pub fn parse_scram_verifier(text: &str) -> Option<ScramVerifier> {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine;
    let rest = text.strip_prefix("SCRAM-SHA-256$")?;
    let (params, keys) = rest.split_once('$')?;
    let (iterations, salt) = params.split_once(':')?;
    let (stored_key, server_key) = keys.split_once(':')?;
    let iterations: u32 = iterations.parse().ok().filter(|i| *i > 0)?;
    let salt = B64.decode(salt).ok().filter(|s| !s.is_empty())?;
    let stored_key = B64.decode(stored_key).ok().filter(|k| k.len() == 32)?;
    let server_key = B64.decode(server_key).ok().filter(|k| k.len() == 32)?;
    Some(ScramVerifier {
        iterations,
        salt,
        stored_key,
        server_key,
    })
}

/// Hashes `password` with argon2id (default parameters, random salt) and
/// returns the PHC string.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; SALT_LEN];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16-byte salt is within PHC limits");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id with default parameters accepts any password")
        .to_string()
}

/// Checks `password` against an argon2 PHC string. A malformed hash never
/// verifies.
pub fn verify_password(phc: &str, password: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() % 2 != 0 {
            return Err(serde::de::Error::custom("odd-length hex string"));
        }
        (0..s.len())
            .step_by(2)
            .map(|i| {
                s.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| serde::de::Error::custom("invalid hex string"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine;
    use std::os::unix::fs::PermissionsExt;

    fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
        a.iter().zip(b).map(|(x, y)| x ^ y).collect()
    }

    /// The SCRAM-SHA-256 exchange of RFC 7677 section 3: the verifier derived
    /// from "pencil" must accept the client proof and produce the server
    /// signature given there.
    #[test]
    fn scram_verifier_matches_rfc7677() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let v = scram_verifier_with("pencil", salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
            r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
            c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let proof = B64
            .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        let client_signature = hmac_sha256(&v.stored_key, auth_message.as_bytes());
        let client_key = xor(&proof, &client_signature);
        assert_eq!(Sha256::digest(&client_key).to_vec(), v.stored_key);
        let server_signature = hmac_sha256(&v.server_key, auth_message.as_bytes());
        assert_eq!(
            B64.encode(server_signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn scram_verifier_uses_random_salt() {
        let a = scram_verifier("secret");
        let b = scram_verifier("secret");
        assert_eq!(a.iterations, 4096);
        assert_eq!(a.salt.len(), 16);
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.stored_key, b.stored_key);
    }

    #[test]
    fn saslprep_normalizes_password() {
        // U+00AD SOFT HYPHEN is mapped to nothing by SASLprep.
        let salt = vec![7u8; 16];
        assert_eq!(
            scram_verifier_with("pen\u{ad}cil", salt.clone(), 4096),
            scram_verifier_with("pencil", salt, 4096)
        );
    }

    #[test]
    fn argon2id_hash_verifies() {
        let phc = hash_password("hunter2");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password(&phc, "hunter2"));
        assert!(!verify_password(&phc, "hunter3"));
        assert!(!verify_password("not a hash", "hunter2"));
    }

    #[test]
    fn bootstrap_with_given_password() {
        let dir = tempfile::tempdir().unwrap();
        let store = RoleStore::open(dir.path()).unwrap();
        assert!(store.get(SUPERUSER).is_none());
        let b = store
            .bootstrap_superuser(SUPERUSER, Some("s3cret"))
            .unwrap();
        assert_eq!(
            b,
            Bootstrap::Created {
                generated_password_file: None
            }
        );
        let role = store.get(SUPERUSER).unwrap();
        assert!(role.superuser && role.login);
        assert!(role.check_password("s3cret"));
        assert!(!dir.path().join(GENERATED_PASSWORD_FILE).exists());

        let text = fs::read_to_string(dir.path().join(ROLES_FILE)).unwrap();
        assert!(!text.contains("s3cret"));
        let mode = fs::metadata(dir.path().join(ROLES_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        assert_eq!(
            store.bootstrap_superuser(SUPERUSER, Some("other")).unwrap(),
            Bootstrap::Existing
        );
        assert!(store.get(SUPERUSER).unwrap().check_password("s3cret"));
    }

    #[test]
    fn bootstrap_generates_password_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = RoleStore::open(dir.path()).unwrap();
        let Bootstrap::Created {
            generated_password_file: Some(path),
        } = store.bootstrap_superuser(SUPERUSER, None).unwrap()
        else {
            panic!("expected a generated password file");
        };
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let password = fs::read_to_string(&path).unwrap();
        let password = password.trim_end();
        assert_eq!(password.len(), GENERATED_PASSWORD_LEN);

        let role = store.get(SUPERUSER).unwrap();
        assert!(role.check_password(password));
        let scram = role.scram.unwrap();
        let expected = scram_verifier_with(password, scram.salt.clone(), scram.iterations);
        assert_eq!(scram, expected);
    }

    #[test]
    fn reopen_keeps_roles() {
        let dir = tempfile::tempdir().unwrap();
        let store = RoleStore::open(dir.path()).unwrap();
        store.bootstrap_superuser(SUPERUSER, Some("pw")).unwrap();
        store
            .create_role(Role::new("alice", false, true, Some("a")).unwrap())
            .unwrap();
        assert!(matches!(
            store.create_role(Role::new("alice", false, true, None).unwrap()),
            Err(AuthError::RoleExists(_))
        ));
        let before = store.roles();
        drop(store);

        let store = RoleStore::open(dir.path()).unwrap();
        assert_eq!(store.roles(), before);
        assert_eq!(
            store.bootstrap_superuser(SUPERUSER, None).unwrap(),
            Bootstrap::Existing
        );
        assert!(!dir.path().join(GENERATED_PASSWORD_FILE).exists());
        store.set_password("alice", Some("b")).unwrap();
        store.drop_role(SUPERUSER).unwrap();
        let store = RoleStore::open(dir.path()).unwrap();
        assert!(store.get("alice").unwrap().check_password("b"));
        assert!(store.get(SUPERUSER).is_none());
    }

    #[test]
    fn corrupt_roles_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(ROLES_FILE), b"{not json").unwrap();
        assert!(matches!(
            RoleStore::open(dir.path()),
            Err(AuthError::Corrupt { .. })
        ));
    }
}
