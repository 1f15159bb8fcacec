//! Parses and binds arbitrary SQL text against a small schema, never
//! executing it. Shared by the `sql_parse_bind` fuzz target (fuzz/) and the
//! stable random-input test (engine/tests/parse_bind_random.rs): whatever
//! the input, the engine must answer with a result or an error, never a
//! panic.

use joltdb_engine::{DataType, Engine, EngineConfig, Session};

/// Tables the inputs can refer to, covering the column types.
const SCHEMA: &[&str] = &[
    "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, score numeric(10,2), \
     flag boolean, created timestamptz DEFAULT now())",
    "CREATE TABLE u (id bigserial PRIMARY KEY, t_id int, tag varchar(20) UNIQUE, \
     amount double precision CHECK (amount >= 0), day date, blob bytea, uid uuid)",
    "CREATE INDEX u_t_id ON u (t_id)",
];

/// A session on a throwaway database with [`SCHEMA`] in it.
pub struct ParseBind {
    session: Session,
    _engine: Engine,
    _dir: tempfile::TempDir,
}

impl ParseBind {
    pub fn new() -> ParseBind {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::open(EngineConfig {
            data_dir: dir.path().to_path_buf(),
            partitions: 2,
            wal_segment_size: 1 << 20,
            checkpoint: joltdb_engine::CheckpointSettings {
                interval: None,
                log_bytes: 0,
                archive_dir: None,
                archive_retention: None,
            },
            backup_dir: None,
        })
        .expect("opening the engine");
        let mut session = engine
            .new_session("joltdb", "joltdb", &[])
            .expect("session");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        for sql in SCHEMA {
            let stmt = session.parse(sql).expect("schema parses").remove(0);
            let prepared = session.prepare(&stmt, &[]).expect("schema binds");
            runtime
                .block_on(session.execute(&prepared, Vec::new()))
                .expect("schema statement runs");
        }
        ParseBind {
            session,
            _engine: engine,
            _dir: dir,
        }
    }

    /// Parses `data` (when it is UTF-8) and binds every statement, with no
    /// parameter types and with a few given ones.
    pub fn run(&mut self, data: &[u8]) {
        let Ok(sql) = std::str::from_utf8(data) else {
            return;
        };
        let Ok(statements) = self.session.parse(sql) else {
            return;
        };
        for stmt in &statements {
            let _ = self.session.prepare(stmt, &[]);
            let _ = self
                .session
                .prepare(stmt, &[DataType::Int4, DataType::Text, DataType::Unknown]);
        }
    }
}

impl Default for ParseBind {
    fn default() -> Self {
        ParseBind::new()
    }
}
