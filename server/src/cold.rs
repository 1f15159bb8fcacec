//! `joltdb backup` and `joltdb restore`: backups of a stopped data
//! directory, in the same file format as the SQL `BACKUP`/`RESTORE`
//! statements. Opening the data directory takes its lock, so a directory a
//! running server holds is refused.

use crate::config::{ColdBackupArgs, ColdRestoreArgs, ServeArgs};
use crate::error::ServerError;
use joltdb_engine::backup::{parse_as_of, read_manifest, BackupOptions, RestoreRequest};
use joltdb_engine::{Engine, EngineConfig, Error, SqlState};
use std::path::Path;

fn read_passphrase(file: Option<&Path>) -> Result<Option<String>, ServerError> {
    let Some(file) = file else { return Ok(None) };
    let text = std::fs::read_to_string(file).map_err(|e| {
        ServerError::Backup(Error::io(
            format!("reading passphrase file {}", file.display()),
            e,
        ))
    })?;
    let line = text.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        return Err(ServerError::Backup(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("passphrase file {} is empty", file.display()),
        )));
    }
    Ok(Some(line))
}

fn open(args: &ServeArgs, partitions: usize) -> Result<Engine, ServerError> {
    let engine = Engine::open(EngineConfig {
        data_dir: args.data_dir.clone(),
        partitions,
        wal_segment_size: u64::from(args.wal_segment_mb) << 20,
        checkpoint: args.checkpoint_settings(),
        backup_dir: args.backup_dir.clone(),
    })?;
    Ok(engine)
}

pub async fn backup(args: &ServeArgs, cmd: &ColdBackupArgs) -> Result<(), ServerError> {
    if !args.data_dir.join("catalog.json").is_file() {
        return Err(ServerError::Backup(Error::new(
            SqlState::UNDEFINED_OBJECT,
            format!("{} is not a joltdb data directory", args.data_dir.display()),
        )));
    }
    if cmd.to.exists() {
        return Err(ServerError::Backup(Error::new(
            SqlState::DUPLICATE_OBJECT,
            format!("backup file {} already exists", cmd.to.display()),
        )));
    }
    let options = BackupOptions {
        compressed: cmd.compression == "zstd",
        passphrase: read_passphrase(cmd.encryption_passphrase_file.as_deref())?,
    };
    let engine = open(args, args.partitions())?;
    let to = cmd.to.clone();
    let e2 = engine.clone();
    let summary = tokio::task::spawn_blocking(move || e2.backup_database_to(&to, &options))
        .await
        .map_err(|e| Error::internal(e.to_string()))?;
    engine.shutdown().await;
    let summary = summary.map_err(ServerError::Backup)?;
    println!(
        "backed up {} tables, {} rows, {} bytes to {}",
        summary.tables,
        summary.rows,
        summary.bytes,
        cmd.to.display()
    );
    Ok(())
}

pub async fn restore(args: &ServeArgs, cmd: &ColdRestoreArgs) -> Result<(), ServerError> {
    let passphrase = read_passphrase(cmd.encryption_passphrase_file.as_deref())?;
    // A new data directory gets the partition count of the backed-up one
    // unless --partitions says otherwise.
    let (_, manifest) =
        read_manifest(&cmd.from, passphrase.as_deref()).map_err(ServerError::Backup)?;
    let partitions = match args.partitions {
        Some(n) => n as usize,
        None => manifest.partitions,
    };
    let as_of_micros = match &cmd.as_of {
        Some(text) => Some(parse_as_of(text).map_err(ServerError::Backup)?),
        None => None,
    };
    let archive_dir = as_of_micros.and(args.archive_dir.clone());
    if as_of_micros.is_some() && archive_dir.is_none() {
        return Err(ServerError::Backup(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "--as-of needs --archive-dir, the log archive of the backed-up database",
        )));
    }
    // The archive given is read, never written: it may belong to another
    // database. So this run takes no checkpoint and truncates no log; the
    // data directory's next start recovers the restore from its log (and
    // archives it, if that server archives).
    let mut args = args.clone();
    if as_of_micros.is_some() {
        args.archive_dir = None;
        args.checkpoint_interval_secs = 0;
        args.checkpoint_log_mb = 0;
    }
    let engine = open(&args, partitions)?;
    let request = RestoreRequest {
        table: None,
        rename: None,
        replace: cmd.replace,
        passphrase,
        as_of_micros,
        archive_dir,
    };
    let from = cmd.from.clone();
    let e2 = engine.clone();
    let summary = tokio::task::spawn_blocking(move || e2.restore_from(&from, &request))
        .await
        .map_err(|e| Error::internal(e.to_string()))?;
    if as_of_micros.is_some() {
        engine.close_without_checkpoint().await;
    } else {
        engine.shutdown().await;
    }
    let summary = summary.map_err(ServerError::Backup)?;
    println!(
        "restored {} tables, {} rows from {}",
        summary.tables.len(),
        summary.rows,
        cmd.from.display()
    );
    Ok(())
}
