//! The databases of one data directory: `CREATE DATABASE`, `DROP
//! DATABASE`, and which engine a connection's `database` reaches.
//!
//! The default database, `joltdb`, is the data directory itself (its
//! layout is what it always was). Every other database is an engine of
//! its own in `DATA_DIR/databases/<oid>/`, with its own catalog,
//! partition logs and checkpoints, opened when a session first connects
//! to it. Roles are cluster-wide: every engine uses the default
//! database's role store. `DATA_DIR/databases.json` lists the other
//! databases. It is written before a new database's directory can exist
//! and before a dropped one's is removed, so a crash leaves at most a
//! directory no entry names, which the next start removes.
//!
//! A new data directory starts with `joltdb` and an empty `postgres`
//! (the database tools such as `psql -l`, `createdb` and test runners
//! connect to for administration).

mod statement;

pub use statement::{parse_statement, DatabaseStatement};

use crate::catalog::{read_versioned_json, write_file_atomic};
use crate::error::{Error, Result, SqlState};
use crate::session::{CancelToken, Engine, EngineConfig, Session};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The database that is the data directory itself.
pub const DEFAULT_DATABASE: &str = "joltdb";
/// Created empty with a new data directory, as `initdb` does.
pub const MAINTENANCE_DATABASE: &str = "postgres";
/// The default database's OID (PostgreSQL's `postgres` has 5).
pub const DEFAULT_DATABASE_OID: u32 = 5;
const FIRST_DATABASE_OID: u32 = 16384;
const REGISTRY_FILE: &str = "databases.json";
const DATABASES_DIR: &str = "databases";
const REGISTRY_FORMAT_VERSION: u32 = 1;
/// How long `DROP DATABASE ... WITH (FORCE)` waits for the sessions it
/// ended to go away (PostgreSQL waits 5 seconds too).
const FORCE_WAIT: Duration = Duration::from_secs(5);

/// A database as `pg_database` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    pub oid: u32,
    pub name: String,
    /// The owning role.
    pub owner: String,
}

/// `databases.json`: every database but the default one.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RegistryFile {
    format_version: u32,
    next_oid: u32,
    databases: Vec<DatabaseInfo>,
}

/// Ties an engine to its entry in the list of databases.
pub(crate) struct Membership {
    pub(crate) oid: u32,
    registry: Weak<Registry>,
}

/// The databases `pg_database` lists for a session on `engine` that
/// connected as `current`: all of them, or just that one when the engine
/// was opened on its own.
pub(crate) fn all_of(engine: &crate::engine::EngineInner, current: &str) -> Vec<DatabaseInfo> {
    match engine.database.get().and_then(|m| m.registry.upgrade()) {
        Some(registry) => registry.list(),
        None => vec![DatabaseInfo {
            oid: DEFAULT_DATABASE_OID,
            name: current.to_string(),
            owner: joltdb_auth::SUPERUSER.into(),
        }],
    }
}

/// The databases of a data directory, shared by every connection;
/// cloning is cheap.
#[derive(Clone)]
pub struct Databases {
    registry: Arc<Registry>,
}

struct Registry {
    data_dir: PathBuf,
    /// How the default database was opened; the others follow it.
    config: EngineConfig,
    default: Engine,
    query_memory_limit: AtomicUsize,
    state: Mutex<State>,
    /// Serialises opening engines, so a database is never opened twice.
    opening: Mutex<()>,
}

struct State {
    file: RegistryFile,
    /// Engines opened so far, by database OID.
    engines: HashMap<u32, Engine>,
    /// The sessions connected to each database, by OID.
    sessions: HashMap<u32, BTreeMap<u64, Arc<Attachment>>>,
    next_session: u64,
    /// Databases a DROP is waiting on; no new sessions may connect.
    dropping: Vec<u32>,
}

impl State {
    fn find(&self, name: &str) -> Option<DatabaseInfo> {
        self.file.databases.iter().find(|d| d.name == name).cloned()
    }

    fn session_count(&self, oid: u32) -> usize {
        self.sessions.get(&oid).map_or(0, BTreeMap::len)
    }
}

/// A connected session's tie to its database: DROP DATABASE ... WITH
/// (FORCE) ends the session through it.
struct Attachment {
    terminated: AtomicBool,
    notify: tokio::sync::Notify,
    cancel: Mutex<CancelToken>,
}

/// Held by the server for as long as a connection is open on a database;
/// dropping it detaches the connection.
pub struct DatabaseLease {
    registry: Arc<Registry>,
    oid: u32,
    id: u64,
    attachment: Arc<Attachment>,
}

impl DatabaseLease {
    /// Resolves once the connection must end because its database is
    /// being dropped (`DROP DATABASE ... WITH (FORCE)`).
    pub async fn terminated(&self) {
        loop {
            let notified = self.attachment.notify.notified();
            if self.attachment.terminated.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for DatabaseLease {
    fn drop(&mut self) {
        let mut state = self.registry.state.lock();
        if let Some(sessions) = state.sessions.get_mut(&self.oid) {
            sessions.remove(&self.id);
            if sessions.is_empty() {
                state.sessions.remove(&self.oid);
            }
        }
    }
}

fn no_such_database(name: &str) -> Error {
    Error::new(
        SqlState("3D000"),
        format!("database \"{name}\" does not exist"),
    )
}

impl Databases {
    /// Opens the default database (the data directory, see
    /// [`Engine::open`]) and reads the list of the others, removing the
    /// directories of databases whose CREATE or DROP a crash interrupted.
    pub fn open(config: EngineConfig) -> Result<Databases> {
        let data_dir = config.data_dir.clone();
        let new_data_dir = !crate::catalog::catalog_path(&data_dir).exists();
        let default = Engine::open(config.clone())?;
        let file = match load_registry(&data_dir)? {
            Some(file) => file,
            None => {
                let mut file = RegistryFile {
                    format_version: REGISTRY_FORMAT_VERSION,
                    next_oid: FIRST_DATABASE_OID,
                    databases: Vec::new(),
                };
                // A data directory made by an earlier joltdb answered to
                // any database name; there, `postgres` is not created,
                // so that a client still using that name gets an error
                // rather than an empty database.
                if new_data_dir {
                    file.databases.push(DatabaseInfo {
                        oid: file.next_oid,
                        name: MAINTENANCE_DATABASE.into(),
                        owner: joltdb_auth::SUPERUSER.into(),
                    });
                    file.next_oid += 1;
                }
                save_registry(&data_dir, &file)?;
                file
            }
        };
        remove_orphans(&data_dir, &file);
        let registry = Arc::new(Registry {
            data_dir,
            config,
            default: default.clone(),
            query_memory_limit: AtomicUsize::new(crate::sql::memory::DEFAULT_QUERY_MEMORY),
            state: Mutex::new(State {
                file,
                engines: HashMap::new(),
                sessions: HashMap::new(),
                next_session: 0,
                dropping: Vec::new(),
            }),
            opening: Mutex::new(()),
        });
        let _ = default.inner().database.set(Membership {
            oid: DEFAULT_DATABASE_OID,
            registry: Arc::downgrade(&registry),
        });
        Ok(Databases { registry })
    }

    /// The default database.
    pub fn default_engine(&self) -> &Engine {
        &self.registry.default
    }

    /// The roles, shared by every database.
    pub fn roles(&self) -> &joltdb_auth::RoleStore {
        self.registry.default.roles()
    }

    /// Every database, the default one first.
    pub fn list(&self) -> Vec<DatabaseInfo> {
        self.registry.list()
    }

    /// See [`Engine::set_query_memory_limit`]; applies to every database.
    pub fn set_query_memory_limit(&self, bytes: usize) {
        self.registry
            .query_memory_limit
            .store(bytes, Ordering::Relaxed);
        self.registry.default.set_query_memory_limit(bytes);
        for engine in self.registry.state.lock().engines.values() {
            engine.set_query_memory_limit(bytes);
        }
    }

    /// A session on `database` for an authenticated role, opening the
    /// database's engine if this is its first session. Fails with 3D000
    /// if there is no such database.
    pub async fn connect(
        &self,
        user: &str,
        database: &str,
        params: &[(String, String)],
    ) -> Result<(Session, DatabaseLease)> {
        let lease = self.attach(database)?;
        let open = self.registry.state.lock().engines.get(&lease.oid).cloned();
        let engine = if lease.oid == DEFAULT_DATABASE_OID {
            self.registry.default.clone()
        } else if let Some(engine) = open {
            engine
        } else {
            let registry = self.registry.clone();
            let oid = lease.oid;
            tokio::task::spawn_blocking(move || registry.engine(oid))
                .await
                .map_err(|e| Error::internal(format!("opening the database failed: {e}")))??
        };
        let session = engine.new_session(user, database, params)?;
        // A DROP ... WITH (FORCE) cancels the session's running statement.
        *lease.attachment.cancel.lock() = session.cancel_token();
        Ok((session, lease))
    }

    /// Counts a new session on `database` (so a DROP sees it from now on).
    fn attach(&self, database: &str) -> Result<DatabaseLease> {
        let mut state = self.registry.state.lock();
        let oid = if database == DEFAULT_DATABASE {
            DEFAULT_DATABASE_OID
        } else {
            let info = state
                .find(database)
                .ok_or_else(|| no_such_database(database))?;
            if state.dropping.contains(&info.oid) {
                return Err(Error::new(
                    SqlState::OBJECT_IN_USE,
                    format!("database \"{database}\" is being dropped"),
                ));
            }
            info.oid
        };
        state.next_session += 1;
        let id = state.next_session;
        let attachment = Arc::new(Attachment {
            terminated: AtomicBool::new(false),
            notify: tokio::sync::Notify::new(),
            cancel: Mutex::new(CancelToken::default()),
        });
        state
            .sessions
            .entry(oid)
            .or_default()
            .insert(id, attachment.clone());
        Ok(DatabaseLease {
            registry: self.registry.clone(),
            oid,
            id,
            attachment,
        })
    }

    /// Takes a final checkpoint of every open database and closes them
    /// (see [`Engine::shutdown`]).
    pub async fn shutdown(&self) {
        let engines: Vec<Engine> = self
            .registry
            .state
            .lock()
            .engines
            .drain()
            .map(|(_, e)| e)
            .collect();
        for engine in engines {
            engine.shutdown().await;
        }
        self.registry.default.shutdown().await;
    }
}

impl Registry {
    fn list(&self) -> Vec<DatabaseInfo> {
        let mut all = vec![DatabaseInfo {
            oid: DEFAULT_DATABASE_OID,
            name: DEFAULT_DATABASE.into(),
            owner: joltdb_auth::SUPERUSER.into(),
        }];
        all.extend(self.state.lock().file.databases.iter().cloned());
        all
    }

    fn database_dir(&self, oid: u32) -> PathBuf {
        databases_dir(&self.data_dir).join(oid.to_string())
    }

    /// The engine of database `oid` (not the default), opened now if
    /// need be.
    fn engine(self: &Arc<Self>, oid: u32) -> Result<Engine> {
        let _opening = self.opening.lock();
        if let Some(e) = self.state.lock().engines.get(&oid) {
            return Ok(e.clone());
        }
        let mut config = self.config.clone();
        config.data_dir = self.database_dir(oid);
        config.partitions = self.default.partitions();
        config.backup_dir = Some(self.default.inner().backup_dir.clone());
        config.checkpoint.archive_dir = config
            .checkpoint
            .archive_dir
            .map(|d| d.join(DATABASES_DIR).join(oid.to_string()));
        let engine = Engine::open_with_roles(config, Some(self.default.roles().clone()))?;
        engine.set_query_memory_limit(self.query_memory_limit.load(Ordering::Relaxed));
        let _ = engine.inner().database.set(Membership {
            oid,
            registry: Arc::downgrade(self),
        });
        self.state.lock().engines.insert(oid, engine.clone());
        Ok(engine)
    }

    /// CREATE DATABASE: adds `name`, owned by `owner`, to the list. Its
    /// files are made when it is first connected to.
    fn create(&self, name: &str, owner: &str) -> Result<()> {
        let mut state = self.state.lock();
        if name == DEFAULT_DATABASE || state.find(name).is_some() {
            return Err(Error::new(
                SqlState("42P04"),
                format!("database \"{name}\" already exists"),
            ));
        }
        let mut file = state.file.clone();
        file.databases.push(DatabaseInfo {
            oid: file.next_oid,
            name: name.into(),
            owner: owner.into(),
        });
        file.next_oid += 1;
        save_registry(&self.data_dir, &file)?;
        state.file = file;
        Ok(())
    }

    /// DROP DATABASE of `info` (not the default database). Without
    /// `force`, fails with 55006 while sessions are connected to it; with
    /// it, ends them first.
    async fn drop_database(&self, info: &DatabaseInfo, force: bool) -> Result<()> {
        let in_use = |n: usize| {
            Error::new(
                SqlState::OBJECT_IN_USE,
                format!(
                    "database \"{}\" is being accessed by other users",
                    info.name
                ),
            )
            .with_detail(if n == 1 {
                "There is 1 other session using the database.".to_string()
            } else {
                format!("There are {n} other sessions using the database.")
            })
        };
        {
            let mut state = self.state.lock();
            if state.dropping.contains(&info.oid) {
                return Err(Error::new(
                    SqlState::OBJECT_IN_USE,
                    format!("database \"{}\" is being dropped", info.name),
                ));
            }
            let n = state.session_count(info.oid);
            if n > 0 && !force {
                return Err(in_use(n));
            }
            state.dropping.push(info.oid);
            for attachment in state
                .sessions
                .get(&info.oid)
                .into_iter()
                .flat_map(|s| s.values())
            {
                attachment.terminated.store(true, Ordering::Release);
                attachment.cancel.lock().cancel();
                attachment.notify.notify_waiters();
            }
        }
        let deadline = Instant::now() + FORCE_WAIT;
        loop {
            let n = self.state.lock().session_count(info.oid);
            if n == 0 {
                break;
            }
            if Instant::now() >= deadline {
                self.state.lock().dropping.retain(|o| *o != info.oid);
                return Err(in_use(n));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let engine = {
            let _opening = self.opening.lock();
            let mut state = self.state.lock();
            state.dropping.retain(|o| *o != info.oid);
            let mut file = state.file.clone();
            file.databases.retain(|d| d.oid != info.oid);
            save_registry(&self.data_dir, &file)?;
            state.file = file;
            state.engines.remove(&info.oid)
        };
        if let Some(engine) = engine {
            engine.close_without_checkpoint().await;
        }
        let dir = self.database_dir(info.oid);
        tokio::task::spawn_blocking(move || remove_database_dir(&dir))
            .await
            .map_err(|e| Error::internal(format!("removing the database's files failed: {e}")))?;
        Ok(())
    }
}

/// What a session needs to run CREATE and DROP DATABASE.
pub(crate) struct DatabaseCommands {
    registry: Arc<Registry>,
    /// The database the session is connected to.
    current: u32,
}

impl DatabaseCommands {
    /// For a session on `engine`; `None` when the engine was opened on its
    /// own rather than as one of a server's databases.
    pub(crate) fn of(engine: &crate::engine::EngineInner) -> Option<DatabaseCommands> {
        let m = engine.database.get()?;
        Some(DatabaseCommands {
            registry: m.registry.upgrade()?,
            current: m.oid,
        })
    }

    pub(crate) fn find(&self, name: &str) -> Option<DatabaseInfo> {
        self.registry.list().into_iter().find(|d| d.name == name)
    }

    pub(crate) fn create(&self, name: &str, owner: &str) -> Result<()> {
        self.registry.create(name, owner)
    }

    /// Drops `info`: 55006 if it is the session's own database; the
    /// default database cannot be dropped (it holds the roles and this
    /// list).
    pub(crate) async fn drop_database(&self, info: &DatabaseInfo, force: bool) -> Result<()> {
        if info.oid == self.current {
            return Err(Error::new(
                SqlState::OBJECT_IN_USE,
                "cannot drop the currently open database",
            ));
        }
        if info.oid == DEFAULT_DATABASE_OID {
            return Err(Error::unsupported(format!(
                "cannot drop the default database \"{DEFAULT_DATABASE}\""
            ))
            .with_detail("It holds the roles and the list of databases."));
        }
        self.registry.drop_database(info, force).await
    }
}

fn databases_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(DATABASES_DIR)
}

fn load_registry(data_dir: &Path) -> Result<Option<RegistryFile>> {
    read_versioned_json(
        &data_dir.join(REGISTRY_FILE),
        "list of databases",
        |file: &RegistryFile| file.format_version,
        REGISTRY_FORMAT_VERSION,
    )
}

fn save_registry(data_dir: &Path, file: &RegistryFile) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(file)
        .map_err(|e| Error::internal(format!("serializing the list of databases: {e}")))?;
    write_file_atomic(&data_dir.join(REGISTRY_FILE), &bytes)
}

/// Removes the directories under `DATA_DIR/databases` that no database
/// names (left by a crash during CREATE or DROP DATABASE).
fn remove_orphans(data_dir: &Path, file: &RegistryFile) {
    let Ok(entries) = std::fs::read_dir(databases_dir(data_dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let known = name
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|oid| file.databases.iter().any(|d| d.oid == oid));
        if !known {
            tracing::info!(
                "removing {}: it belongs to no database",
                entry.path().display()
            );
            remove_database_dir(&entry.path());
        }
    }
}

fn remove_database_dir(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("could not remove {}: {e}", dir.display()),
    }
}
