//! Owner-only files: the data dir holds the admin token, the JWT signing secret and the dev
//! key, so it is `0700` and every database file `0600`. A dir or file others could read (an
//! older registry's, or a careless `cp`) is made owner-only with a warning to rotate what it
//! held; one the registry cannot fix (another user's) stops the start.

use super::DbError;
use std::{io, path::Path};

/// The files SQLite keeps next to the database in WAL mode.
pub const DB_FILES: [&str; 3] = ["registry.db", "registry.db-wal", "registry.db-shm"];

fn err(path: &Path, source: io::Error) -> DbError {
    DbError::DataDir {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> Result<(), DbError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(path, e)),
    };
    let current = meta.permissions().mode() & 0o777;
    if current & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| err(path, e))?;
    tracing::warn!(
        path = %path.display(),
        was = format!("{current:o}"),
        now = format!("{mode:o}"),
        "was readable by other users; made owner-only. Rotate the secrets it held \
         (ADMIN_TOKEN, SIGNALING_SECRET, API keys)"
    );
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> Result<(), DbError> {
    Ok(())
}

/// Creates the data dir owner-only, or makes an existing one owner-only.
pub fn secure_data_dir(dir: &Path) -> Result<(), DbError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| err(dir, e))?;
    restrict(dir, 0o700)
}

/// Creates the database file owner-only before SQLite opens it (SQLite gives its `-wal` and
/// `-shm` files the database file's mode), and makes existing ones owner-only.
pub fn secure_db_files(dir: &Path) -> Result<(), DbError> {
    let db = dir.join(DB_FILES[0]);
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(&db).map_err(|e| err(&db, e))?;
    for name in DB_FILES {
        restrict(&dir.join(name), 0o600)?;
    }
    Ok(())
}
