//! Command-line interface and server configuration (flags, `JOLTDB_*`
//! environment variables).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// joltdb: a PostgreSQL-compatible SQL database server.
///
/// With no subcommand, `joltdb` runs the server (`joltdb serve`).
/// The superuser role is `joltdb`. On the first start its password is taken
/// from the JOLTDB_PASSWORD environment variable; without it a random
/// password is generated and written to a file in the data directory.
#[derive(Debug, Parser)]
#[command(name = "joltdb", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: ServeArgs,

    /// Log filter, e.g. `info` or `joltdb=debug,info`
    /// (overrides RUST_LOG).
    #[arg(long, env = "JOLTDB_LOG_LEVEL", global = true)]
    pub log_level: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve,
    /// Back up a stopped data directory (all tables, sequences and roles)
    /// to a file in the same format as `BACKUP DATABASE`.
    Backup(ColdBackupArgs),
    /// Restore a backup file (from `BACKUP ...` or `joltdb backup`) into a
    /// stopped data directory, which is created if missing.
    Restore(ColdRestoreArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ColdBackupArgs {
    /// The backup file to write (must not exist).
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    /// `zstd` or `none`.
    #[arg(long, default_value = "zstd", value_parser = ["zstd", "none"])]
    pub compression: String,
    /// Encrypt the backup with the passphrase in this file (its first line).
    #[arg(long, value_name = "FILE")]
    pub encryption_passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ColdRestoreArgs {
    /// The backup file to read.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// The passphrase of an encrypted backup, in this file (its first line).
    #[arg(long, value_name = "FILE")]
    pub encryption_passphrase_file: Option<PathBuf>,
    /// Replace tables that already exist in the data directory.
    #[arg(long)]
    pub replace: bool,
    /// Bring the backup forward to this time (a timestamptz, UTC unless it
    /// carries an offset) with the log archive given by --archive-dir.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
}

/// Settings of the running server.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to accept client connections on.
    #[arg(
        long,
        env = "JOLTDB_LISTEN",
        default_value = "127.0.0.1:5432",
        value_name = "HOST:PORT",
        global = true
    )]
    pub listen: String,

    /// Data directory (created if missing).
    #[arg(
        long,
        env = "JOLTDB_DATA_DIR",
        default_value = "./joltdb-data",
        value_name = "DIR",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Number of partitions for a new data directory [default: number of
    /// CPUs]. Fixed when the data directory is created; ignored afterwards.
    #[arg(long, env = "JOLTDB_PARTITIONS", value_name = "N", global = true,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub partitions: Option<u32>,

    /// Largest protocol message a client may send, in bytes; a longer one
    /// closes that client's connection.
    #[arg(
        long,
        env = "JOLTDB_MAX_MESSAGE_BYTES",
        default_value_t = 256 * 1024 * 1024,
        value_name = "BYTES",
        global = true,
        value_parser = clap::value_parser!(u32).range(1024..=0x3fff_ffff)
    )]
    pub max_message_bytes: u32,

    /// Size of each partition log segment file, in MiB. Segments are
    /// preallocated; smaller ones start faster, larger ones roll over less.
    #[arg(
        long,
        env = "JOLTDB_WAL_SEGMENT_MB",
        default_value_t = 16,
        value_name = "MIB",
        global = true,
        value_parser = clap::value_parser!(u32).range(1..=1024)
    )]
    pub wal_segment_mb: u32,

    /// Take a checkpoint at least this often while there are writes, in
    /// seconds (0 disables the timer). Restart replays only the log written
    /// since the last checkpoint.
    #[arg(
        long,
        env = "JOLTDB_CHECKPOINT_INTERVAL_SECS",
        default_value_t = 300,
        value_name = "SECS",
        global = true
    )]
    pub checkpoint_interval_secs: u64,

    /// Take a checkpoint once this much log was written since the last one,
    /// in MiB (0 disables this trigger).
    #[arg(
        long,
        env = "JOLTDB_CHECKPOINT_LOG_MB",
        default_value_t = 256,
        value_name = "MIB",
        global = true
    )]
    pub checkpoint_log_mb: u64,

    /// Archive every partition log record here (synced) before the data
    /// directory's log is truncated, for point-in-time restore.
    #[arg(long, env = "JOLTDB_ARCHIVE_DIR", value_name = "DIR", global = true)]
    pub archive_dir: Option<PathBuf>,
    /// Remove archived log older than this many hours after each
    /// checkpoint (fractions allowed; 0 keeps everything).
    #[arg(
        long,
        env = "JOLTDB_ARCHIVE_RETENTION_HOURS",
        default_value_t = 0.0,
        value_name = "HOURS",
        global = true,
        value_parser = parse_retention_hours
    )]
    pub archive_retention_hours: f64,
    /// Directory that backup names in `BACKUP ... TO 'name'` and
    /// `RESTORE ... FROM 'name'` resolve in [default: DATA_DIR/backups].
    #[arg(long, env = "JOLTDB_BACKUP_DIR", value_name = "DIR", global = true)]
    pub backup_dir: Option<PathBuf>,
    /// Memory one query's sorts, hash joins, aggregates and materialised
    /// results may hold, in MiB (0 = unlimited). A query that needs more
    /// fails with SQLSTATE 53200; the server and other sessions go on.
    #[arg(
        long,
        env = "JOLTDB_QUERY_MEMORY_MB",
        default_value_t = 1024,
        value_name = "MIB",
        global = true
    )]
    pub query_memory_mb: u32,
    #[command(flatten)]
    pub security: SecurityArgs,
}

/// TLS, client authentication and connection limits.
#[derive(Debug, Clone, Args)]
pub struct SecurityArgs {
    /// Server certificate chain (PEM) for TLS; with --tls-key, clients may
    /// connect with TLS (`sslmode=require` or stricter).
    #[arg(
        long,
        env = "JOLTDB_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key",
        global = true
    )]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) of the TLS certificate.
    #[arg(
        long,
        env = "JOLTDB_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert",
        global = true
    )]
    pub tls_key: Option<PathBuf>,

    /// Refuse clients that do not use TLS (needs --tls-cert and --tls-key).
    #[arg(long, env = "JOLTDB_REQUIRE_TLS", requires = "tls_cert", global = true)]
    pub require_tls: bool,

    /// With --require-tls, still accept plaintext connections from the
    /// loopback interface (127.0.0.0/8, ::1).
    #[arg(
        long,
        env = "JOLTDB_ALLOW_PLAINTEXT_LOOPBACK",
        requires = "require_tls",
        global = true
    )]
    pub allow_plaintext_loopback: bool,

    /// Host-based authentication rules (see README, "Security"). Without
    /// it every client authenticates with SCRAM-SHA-256.
    #[arg(long, env = "JOLTDB_HBA_FILE", value_name = "FILE", global = true)]
    pub hba: Option<PathBuf>,

    /// Most client connections served at once; one more is refused with
    /// SQLSTATE 53300.
    #[arg(
        long,
        env = "JOLTDB_MAX_CONNECTIONS",
        default_value_t = 100,
        value_name = "N",
        global = true,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub max_connections: u32,

    /// A client must finish connecting and authenticating within this many
    /// seconds, or it is disconnected.
    #[arg(
        long,
        env = "JOLTDB_AUTH_TIMEOUT_SECS",
        default_value_t = 60,
        value_name = "SECS",
        global = true,
        value_parser = clap::value_parser!(u64).range(1..=600)
    )]
    pub auth_timeout_secs: u64,
}

fn parse_retention_hours(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(h) if h.is_finite() && (0.0..=1e6).contains(&h) => Ok(h),
        _ => Err("expected a number of hours from 0 to 1000000".into()),
    }
}

impl ServeArgs {
    /// When to checkpoint and where to archive the log.
    pub fn checkpoint_settings(&self) -> joltdb_engine::CheckpointSettings {
        joltdb_engine::CheckpointSettings {
            interval: (self.checkpoint_interval_secs > 0)
                .then(|| std::time::Duration::from_secs(self.checkpoint_interval_secs)),
            log_bytes: self.checkpoint_log_mb.saturating_mul(1 << 20),
            archive_dir: self.archive_dir.clone(),
            archive_retention: (self.archive_retention_hours > 0.0)
                .then(|| std::time::Duration::from_secs_f64(self.archive_retention_hours * 3600.0)),
        }
    }

    /// The partition count to create a new data directory with.
    pub fn partitions(&self) -> usize {
        match self.partitions {
            Some(n) => n as usize,
            None => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default() {
        let cli = Cli::try_parse_from(["joltdb", "--listen", "0.0.0.0:6000"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.listen, "0.0.0.0:6000");
        let cli = Cli::try_parse_from(["joltdb", "serve", "--partitions", "3"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve)));
        assert_eq!(cli.serve.partitions(), 3);
    }

    #[test]
    fn checkpoint_flags() {
        let cli = Cli::try_parse_from(["joltdb"]).unwrap();
        let s = cli.serve.checkpoint_settings();
        assert_eq!(s.interval, Some(std::time::Duration::from_secs(300)));
        assert_eq!(s.log_bytes, 256 << 20);
        assert_eq!(s.archive_dir, None);
        assert_eq!(s.archive_retention, None);
        let cli = Cli::try_parse_from([
            "joltdb",
            "--checkpoint-interval-secs",
            "0",
            "--checkpoint-log-mb",
            "8",
            "--archive-dir",
            "/tmp/a",
            "--archive-retention-hours",
            "1.5",
        ])
        .unwrap();
        let s = cli.serve.checkpoint_settings();
        assert_eq!(
            s.archive_retention,
            Some(std::time::Duration::from_secs(5400))
        );
        assert!(Cli::try_parse_from(["joltdb", "--archive-retention-hours", "-1"]).is_err());
        assert_eq!(s.interval, None);
        assert_eq!(s.log_bytes, 8 << 20);
        assert_eq!(
            s.archive_dir.as_deref(),
            Some(std::path::Path::new("/tmp/a"))
        );
    }

    #[test]
    fn tls_flags_come_in_pairs() {
        assert!(Cli::try_parse_from(["joltdb", "--tls-cert", "c.pem"]).is_err());
        assert!(Cli::try_parse_from(["joltdb", "--require-tls"]).is_err());
        let cli = Cli::try_parse_from([
            "joltdb",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--require-tls",
            "--allow-plaintext-loopback",
        ])
        .unwrap();
        assert!(cli.serve.security.require_tls && cli.serve.security.allow_plaintext_loopback);
        assert_eq!(cli.serve.security.max_connections, 100);
    }
}
