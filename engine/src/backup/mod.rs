//! Backup and restore: `BACKUP`, `RESTORE`, `SHOW BACKUP` and
//! `VERIFY BACKUP`, and the same operations on a stopped data directory.
//!
//! A backup is read from one MVCC snapshot, so it is consistent across all
//! partitions while writers carry on. A restore builds its tables outside
//! the catalog, logs every row to the partition logs, waits until they are
//! durable and only then publishes the tables in one catalog change: a
//! restore that fails or is killed leaves nothing behind (its log records
//! belong to table ids that never reach the catalog and are skipped on
//! recovery). See [`format`] for the file layout.

pub mod crypto;
pub mod format;
mod load;
mod restore;
pub(crate) use restore::LogBatcher;
mod statement;
mod take;

pub use restore::{read_manifest, restore_backup, verify_backup, RestoreRequest, RestoreSummary};
pub use statement::{parse_as_of, parse_statement, BackupStatement, BackupTarget};
pub use take::{take_backup, BackupOptions, BackupSummary};

use crate::engine::EngineInner;
use crate::error::{Error, Result, SqlState};
use crate::session::Column;
use crate::types::{DataType, Row, Value};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// What a backup statement returns to the session.
pub struct BackupOutput {
    pub tag: String,
    /// Result rows for `SHOW BACKUP` / `VERIFY BACKUP`.
    pub rows: Option<Vec<Row>>,
}

fn column(name: &str, data_type: DataType) -> Column {
    Column {
        name: name.into(),
        data_type,
        table_oid: 0,
        column_id: 0,
    }
}

/// Result columns of a statement (for RowDescription).
pub fn result_columns(stmt: &BackupStatement) -> Vec<Column> {
    match stmt {
        BackupStatement::Show { .. } => vec![
            column("table_name", DataType::Text),
            column("row_count", DataType::Int8),
            column("snapshot_time", DataType::TimestampTz),
            column("size_bytes", DataType::Int8),
            column("compressed", DataType::Bool),
            column("encrypted", DataType::Bool),
        ],
        BackupStatement::Verify { .. } => vec![
            column("table_name", DataType::Text),
            column("row_count", DataType::Int8),
        ],
        _ => vec![],
    }
}

/// Resolves a backup name inside `backup_dir`. Absolute paths, `..` and
/// symbolic links leading out of the directory are refused (42501).
pub fn resolve_backup_path(backup_dir: &Path, name: &str) -> Result<PathBuf> {
    let refuse = |why: &str| {
        Error::new(
            SqlState::INSUFFICIENT_PRIVILEGE,
            format!("backup name \"{name}\" is not allowed: {why}"),
        )
        .with_hint("Backup names are relative to the server's backup directory (--backup-dir).")
    };
    if name.is_empty() || name.contains('\0') {
        return Err(refuse("it is empty or contains NUL"));
    }
    let rel = Path::new(name);
    for c in rel.components() {
        match c {
            Component::Normal(_) => {}
            Component::ParentDir => return Err(refuse("it contains \"..\"")),
            _ => return Err(refuse("it must be a relative path")),
        }
    }
    std::fs::create_dir_all(backup_dir).map_err(|e| {
        Error::io(
            format!("creating backup directory {}", backup_dir.display()),
            e,
        )
    })?;
    let root = backup_dir.canonicalize().map_err(|e| {
        Error::io(
            format!("resolving backup directory {}", backup_dir.display()),
            e,
        )
    })?;
    let path = root.join(rel);
    // Every existing ancestor (and the file itself, if there) must stay
    // inside the backup directory once links are followed.
    let mut probe = path.clone();
    loop {
        if probe.symlink_metadata().is_ok() {
            let real = probe
                .canonicalize()
                .map_err(|e| Error::io(format!("resolving {}", probe.display()), e))?;
            if !real.starts_with(&root) {
                return Err(refuse("it leads outside the backup directory"));
            }
        }
        if probe == root || !probe.pop() {
            break;
        }
    }
    Ok(path)
}

/// Removes the hidden `.<name>.partial` files that backups killed midway
/// left in `backup_dir` (and its subdirectories). A file a running BACKUP
/// holds (it keeps it locked) is left alone. Returns how many were removed.
pub fn remove_stale_partials(backup_dir: &Path) -> usize {
    let mut removed = 0;
    let mut dirs = vec![backup_dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = entry.file_name();
            let stale = kind.is_file()
                && name
                    .to_str()
                    .is_some_and(|n| n.starts_with('.') && n.ends_with(".partial"));
            if !stale {
                continue;
            }
            let Ok(file) = std::fs::File::options().write(true).open(&path) else {
                continue;
            };
            if file.try_lock().is_err() {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    tracing::info!("removed {} left by an interrupted BACKUP", path.display());
                    removed += 1;
                }
                Err(e) => tracing::warn!("could not remove {}: {e}", path.display()),
            }
        }
    }
    removed
}

fn not_found(name: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_OBJECT,
        format!("backup \"{name}\" does not exist"),
    )
}

/// Runs a backup statement for a session (which has checked the caller may
/// run it). Blocking file work runs off the async worker threads.
pub async fn execute(engine: &Arc<EngineInner>, stmt: BackupStatement) -> Result<BackupOutput> {
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || execute_blocking(&engine, stmt))
        .await
        .map_err(|e| Error::internal(format!("backup task failed: {e}")))?
}

fn execute_blocking(engine: &EngineInner, stmt: BackupStatement) -> Result<BackupOutput> {
    let dir = engine.backup_dir.clone();
    match stmt {
        BackupStatement::Backup {
            target,
            name,
            options,
        } => {
            let path = resolve_backup_path(&dir, &name)?;
            if path.exists() {
                return Err(Error::new(
                    SqlState::DUPLICATE_OBJECT,
                    format!("backup \"{name}\" already exists"),
                ));
            }
            let tables = match target {
                BackupTarget::Tables(t) => Some(t),
                BackupTarget::Database => None,
            };
            take_backup(engine, tables.as_deref(), &path, &options)?;
            Ok(BackupOutput {
                tag: "BACKUP".into(),
                rows: None,
            })
        }
        BackupStatement::Restore { name, request } => {
            let path = resolve_backup_path(&dir, &name)?;
            if !path.is_file() {
                return Err(not_found(&name));
            }
            restore_backup(engine, &path, &request)?;
            Ok(BackupOutput {
                tag: "RESTORE".into(),
                rows: None,
            })
        }
        BackupStatement::Show { name, passphrase } => {
            let path = resolve_backup_path(&dir, &name)?;
            if !path.is_file() {
                return Err(not_found(&name));
            }
            let (header, manifest) = read_manifest(&path, passphrase.as_deref())?;
            let size = std::fs::metadata(&path)
                .map_err(|e| Error::io("reading backup file size", e))?
                .len();
            let time = chrono::DateTime::from_timestamp_micros(manifest.snapshot_time_micros)
                .map(Value::TimestampTz)
                .unwrap_or(Value::Null);
            let rows = manifest
                .tables
                .iter()
                .map(|t| {
                    vec![
                        Value::Text(t.def.name.clone()),
                        Value::Int8(t.rows as i64),
                        time.clone(),
                        Value::Int8(size as i64),
                        Value::Bool(header.compressed),
                        Value::Bool(header.encrypted),
                    ]
                })
                .collect();
            Ok(BackupOutput {
                tag: "SHOW".into(),
                rows: Some(rows),
            })
        }
        BackupStatement::Verify { name, passphrase } => {
            let path = resolve_backup_path(&dir, &name)?;
            if !path.is_file() {
                return Err(not_found(&name));
            }
            let counts = verify_backup(&path, passphrase.as_deref())?;
            let rows = counts
                .into_iter()
                .map(|(t, n)| vec![Value::Text(t), Value::Int8(n as i64)])
                .collect();
            Ok(BackupOutput {
                tag: "VERIFY".into(),
                rows: Some(rows),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_stay_inside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("backups");
        assert!(resolve_backup_path(&root, "a.backup").is_ok());
        std::fs::create_dir_all(root.join("sub")).unwrap();
        assert!(resolve_backup_path(&root, "sub/b").is_ok());
        for bad in ["/etc/passwd", "../x", "sub/../../x", ""] {
            let e = resolve_backup_path(&root, bad).unwrap_err();
            assert_eq!(e.state, SqlState::INSUFFICIENT_PRIVILEGE, "{bad}");
        }
        std::os::unix::fs::symlink(dir.path(), root.join("out")).unwrap();
        let e = resolve_backup_path(&root, "out/x").unwrap_err();
        assert_eq!(e.state, SqlState::INSUFFICIENT_PRIVILEGE);
    }
}
