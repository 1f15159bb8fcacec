//! Harness for end-to-end tests: builds the `joltdb` binary once per test
//! process and runs it on a free port with a temporary data directory.
//!
//! The server's stderr goes to a file in the temporary directory and is
//! printed only when the test panics, so passing tests stay quiet.

use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use tokio_postgres;

pub mod postgres;
pub mod raw;
pub mod tls;

/// Password given to the superuser on first start.
pub const PASSWORD: &str = "jolt-test-pw";
/// Name of the superuser role.
pub const USER: &str = "joltdb";

/// How long a server may take to accept connections after being spawned.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Options for [`TestServer::start`].
#[derive(Clone, Debug)]
pub struct ServerOpts {
    /// `--partitions`; `None` leaves the server's default.
    pub partitions: Option<u32>,
    /// Superuser password set through `JOLTDB_PASSWORD`.
    pub password: String,
    /// Extra command-line arguments.
    pub args: Vec<String>,
}

impl Default for ServerOpts {
    fn default() -> Self {
        ServerOpts {
            partitions: Some(2),
            password: PASSWORD.to_string(),
            args: Vec::new(),
        }
    }
}

impl ServerOpts {
    pub fn partitions(mut self, n: u32) -> Self {
        self.partitions = Some(n);
        self
    }

    /// Adds command-line arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
}

/// Path of the `joltdb` binary, built (once per process) with the same
/// profile and target directory as the running test.
pub fn server_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // The test executable lives in <target>/<profile>/deps/.
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary is in <target>/<profile>/deps")
            .to_path_buf();
        let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_string(),
            Some(other) => other.to_string(),
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root")
            .join("Cargo.toml");
        let out = Command::new(cargo)
            .args(["build", "-q", "-p", "joltdb-server", "--bin", "joltdb"])
            .arg("--profile")
            .arg(&profile)
            .arg("--manifest-path")
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", &target_dir)
            .stdin(Stdio::null())
            .output()
            .expect("running cargo build");
        assert!(
            out.status.success(),
            "building joltdb failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = profile_dir.join("joltdb");
        assert!(bin.exists(), "{} missing after build", bin.display());
        bin
    })
}

/// Path of `psql` (from PATH, else the PostgreSQL 15 install location).
pub fn psql_binary() -> PathBuf {
    let system = Path::new("/usr/lib/postgresql/15/bin/psql");
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("psql"))
            .find(|p| p.exists())
    });
    on_path.unwrap_or_else(|| system.to_path_buf())
}

/// A free TCP port on 127.0.0.1 (the listener is closed before returning).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding port 0")
        .port()
}

/// A running `joltdb` process with its own data directory.
pub struct TestServer {
    opts: ServerOpts,
    dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
    starts: u32,
}

impl TestServer {
    /// Starts a server on a fresh data directory and waits until it accepts
    /// connections.
    pub fn start(opts: ServerOpts) -> TestServer {
        let dir = tempfile::Builder::new()
            .prefix("joltdb-test-")
            .tempdir()
            .expect("creating temp dir");
        let mut server = TestServer {
            opts,
            dir,
            child: None,
            port: 0,
            starts: 0,
        };
        server.spawn_and_wait();
        server
    }

    /// Starts a server with default options.
    pub fn start_default() -> TestServer {
        Self::start(ServerOpts::default())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn password(&self) -> &str {
        &self.opts.password
    }

    /// Path of the file receiving the server's stderr.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A command that runs `joltdb` on this server's data directory,
    /// listening on `port`, without starting it.
    pub fn command(&self, port: u16) -> Command {
        let mut cmd = Command::new(server_binary());
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(&self.opts.args)
            .stdin(Stdio::null());
        // Settings from the developer's environment must not leak in; the
        // log level may, to debug a failing test.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("JOLTDB_") && key != "JOLTDB_LOG_LEVEL" {
                cmd.env_remove(key.as_ref());
            }
        }
        cmd.env("JOLTDB_PASSWORD", &self.opts.password);
        // Small log segments keep start-up (which preallocates them) fast.
        cmd.arg("--wal-segment-mb").arg("1");
        if let Some(n) = self.opts.partitions {
            cmd.arg("--partitions").arg(n.to_string());
        }
        cmd
    }

    fn spawn_and_wait(&mut self) {
        assert!(self.child.is_none(), "server already running");
        self.port = free_port();
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("opening server log");
        use std::io::Write;
        let _ = writeln!(
            &log,
            "---- start #{} on port {} ----",
            self.starts, self.port
        );
        let child = self
            .command(self.port)
            .stdout(log.try_clone().expect("dup log fd"))
            .stderr(log)
            .spawn()
            .expect("spawning joltdb");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
                return;
            }
            let child = self.child.as_mut().expect("child");
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                panic!("joltdb exited during start-up with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "joltdb did not accept connections within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A tokio-postgres configuration for this server as the superuser.
    pub fn config(&self) -> tokio_postgres::Config {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host("127.0.0.1")
            .port(self.port)
            .user(USER)
            .password(self.opts.password.as_str())
            .dbname("joltdb")
            .connect_timeout(Duration::from_secs(10));
        cfg
    }

    /// Connects as the superuser; panics if that fails.
    pub async fn connect(&self) -> tokio_postgres::Client {
        self.try_connect()
            .await
            .unwrap_or_else(|e| panic!("connecting to joltdb: {e}"))
    }

    /// Connects as the superuser.
    pub async fn try_connect(&self) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        connect_with(self.config()).await
    }

    /// Runs psql against the server with the given extra arguments.
    pub fn psql(&self, args: &[&str]) -> Output {
        self.psql_command(args).output().expect("running psql")
    }

    /// The psql command [`TestServer::psql`] runs.
    pub fn psql_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(psql_binary());
        cmd.args(["-X", "-h", "127.0.0.1", "-U", USER, "-d", "joltdb"])
            .arg("-p")
            .arg(self.port.to_string())
            .args(args)
            .env("PGPASSWORD", &self.opts.password)
            .env("PGCONNECT_TIMEOUT", "10")
            .env("PGSSLMODE", "disable")
            .env("PGTZ", "UTC")
            .env_remove("PGSERVICE")
            .env_remove("PGOPTIONS")
            .stdin(Stdio::null());
        cmd
    }

    /// psql with a whole connection string (`sslmode=...` and all) for
    /// this server as the superuser; `extra` is appended to it.
    pub fn psql_conninfo(&self, extra: &str, password: &str, sql: &str) -> Output {
        Command::new(psql_binary())
            .arg(format!(
                "host=127.0.0.1 port={} user={USER} dbname=joltdb connect_timeout=10 {extra}",
                self.port
            ))
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGPASSWORD", password)
            .env("PGTZ", "UTC")
            .env_remove("PGSSLMODE")
            .env_remove("PGSERVICE")
            .env_remove("PGOPTIONS")
            .stdin(Stdio::null())
            .output()
            .expect("running psql")
    }

    /// Kills the server with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, libc::SIGKILL);
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGTERM and returns its exit status; panics if
    /// it does not exit in time.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is not running");
        signal(&child, libc::SIGTERM);
        match wait_timeout(&mut child, STOP_TIMEOUT) {
            Some(status) => status,
            None => {
                signal(&child, libc::SIGKILL);
                let _ = child.wait();
                panic!("joltdb did not exit within {STOP_TIMEOUT:?} of SIGTERM");
            }
        }
    }

    /// Starts the server again on the same data directory (after
    /// [`TestServer::kill9`] or [`TestServer::stop`]; kills it first if it is
    /// still running).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn_and_wait();
    }

    /// Process id of the running server, if it is running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().map(|s| s.is_none()).unwrap_or(false),
            None => false,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            let mut log = String::new();
            if let Ok(mut f) = File::open(self.log_path()) {
                let _ = f.read_to_string(&mut log);
            }
            eprintln!(
                "==== joltdb log ({}) ====\n{log}==== end of joltdb log ====",
                self.log_path().display()
            );
        }
    }
}

/// Connects with `cfg` and drives the connection on a background task.
pub async fn connect_with(
    cfg: tokio_postgres::Config,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Waits for `child` up to `timeout`; `None` if it is still running.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    // SAFETY: plain kill(2) on a child we spawned and have not reaped yet.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// The SQLSTATE of a database error, if `err` is one.
pub fn sqlstate(err: &tokio_postgres::Error) -> Option<&tokio_postgres::error::SqlState> {
    err.code()
}

/// Asserts that `result` failed with `expected`, with a readable message.
#[track_caller]
pub fn assert_sqlstate<T: std::fmt::Debug>(
    result: Result<T, tokio_postgres::Error>,
    expected: &tokio_postgres::error::SqlState,
) {
    match result {
        Ok(v) => panic!("expected SQLSTATE {}, got success: {v:?}", expected.code()),
        Err(e) => assert_eq!(
            e.code().map(|c| c.code()),
            Some(expected.code()),
            "expected SQLSTATE {}, got error: {e:?}",
            expected.code()
        ),
    }
}

/// The rows a simple-protocol query returns, as text (`None` for NULL);
/// panics naming the statement when it fails.
pub async fn simple_rows(c: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

/// An expected row of [`simple_rows`], from string literals.
pub fn text_row(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_string)).collect()
}
