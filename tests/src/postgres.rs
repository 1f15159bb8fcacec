//! A throw-away PostgreSQL 15 cluster (initdb in a temporary directory, a
//! free port, run as the `postgres` OS user when the tests run as root):
//! the reference that joltdb's behaviour is checked against.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{connect_with, free_port, wait_timeout};

/// Where Debian installs the PostgreSQL 15 server binaries.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running PostgreSQL 15 cluster, stopped and deleted on drop. Its
/// superuser is `joltdb` (trust authentication on 127.0.0.1); the session
/// defaults match joltdb's (UTC, ISO dates, UTF8, C locale).
pub struct Postgres {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Postgres {
    /// True when the PostgreSQL 15 server binaries are installed.
    pub fn available() -> bool {
        let bin = Path::new(PG_BIN);
        bin.join("initdb").exists() && bin.join("postgres").exists()
    }

    /// Creates and starts a cluster; panics when PostgreSQL 15 is missing.
    pub fn start() -> Postgres {
        assert!(
            Self::available(),
            "PostgreSQL 15 is not installed in {PG_BIN} (apt-get install postgresql-15)"
        );
        let bin = Path::new(PG_BIN);
        let dir = tempfile::Builder::new()
            .prefix("joltdb-pg-")
            .tempdir()
            .expect("creating temp dir");
        // PostgreSQL refuses to run as root.
        let uid = run_as_uid();
        if let Some(uid) = uid {
            chown(dir.path(), uid);
        }
        let data = dir.path().join("data");
        let out = pg_command(&bin.join("initdb"), uid)
            .arg("-D")
            .arg(&data)
            .args(["-U", "joltdb", "--auth=trust", "-E", "UTF8", "--locale=C"])
            .arg("--no-sync")
            .output()
            .expect("running initdb");
        assert!(
            out.status.success(),
            "initdb failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let log_path = dir.path().join("postgres.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        if let Some(uid) = uid {
            chown(&log_path, uid);
        }
        let child = pg_command(&bin.join("postgres"), uid)
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "TimeZone=UTC", "-c", "DateStyle=ISO, MDY"])
            .stdout(log.try_clone().expect("dup log fd"))
            .stderr(log)
            .spawn()
            .expect("spawning postgres");
        Postgres { dir, child, port }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// Runs psql against this cluster (as the `joltdb` role, database
    /// `postgres`) with the given extra arguments.
    pub fn psql(&self, args: &[&str]) -> std::process::Output {
        Command::new(crate::psql_binary())
            .args(["-X", "-h", "127.0.0.1", "-U", "joltdb", "-d", "postgres"])
            .arg("-p")
            .arg(self.port.to_string())
            .args(args)
            .env("PGCONNECT_TIMEOUT", "10")
            .env("PGTZ", "UTC")
            .env("HOME", self.dir.path())
            .env_remove("PGSERVICE")
            .env_remove("PGOPTIONS")
            .stdin(Stdio::null())
            .output()
            .expect("running psql")
    }

    /// A configuration for the `postgres` database as `joltdb`.
    pub fn config(&self) -> tokio_postgres::Config {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host("127.0.0.1")
            .port(self.port)
            .user("joltdb")
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(5));
        cfg
    }

    /// Connects, waiting up to a minute for the server to come up.
    pub async fn connect(&mut self) -> tokio_postgres::Client {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match connect_with(self.config()).await {
                Ok(c) => return c,
                Err(e) => {
                    if let Some(status) = self.child.try_wait().expect("try_wait") {
                        panic!("postgres exited with {status}:\n{}", self.log());
                    }
                    assert!(Instant::now() < deadline, "postgres did not start: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) on our own, not yet reaped child. SIGINT is
        // PostgreSQL's fast shutdown.
        unsafe { libc::kill(pid, libc::SIGINT) };
        if wait_timeout(&mut self.child, Duration::from_secs(20)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The uid to run PostgreSQL as when this process is root.
fn run_as_uid() -> Option<u32> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    for name in ["postgres", "nobody"] {
        let c = CString::new(name).expect("no NUL");
        // SAFETY: getpwnam reads a NUL-terminated name; the result is only
        // read before any other getpw* call.
        let pw = unsafe { libc::getpwnam(c.as_ptr()) };
        if !pw.is_null() {
            // SAFETY: non-null pointer returned by getpwnam.
            return Some(unsafe { (*pw).pw_uid });
        }
    }
    panic!("running as root and neither `postgres` nor `nobody` exists");
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), None).expect("chown");
}

fn pg_command(program: &PathBuf, uid: Option<u32>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    cmd.stdin(Stdio::null()).env("LC_ALL", "C").env("TZ", "UTC");
    if let Some(uid) = uid {
        cmd.uid(uid);
        // SAFETY: getpwuid on a uid found above.
        let pw = unsafe { libc::getpwuid(uid) };
        if !pw.is_null() {
            // SAFETY: non-null pointer returned by getpwuid.
            cmd.gid(unsafe { (*pw).pw_gid });
        }
    }
    cmd
}
