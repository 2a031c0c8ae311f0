//! The embedded SQLite database: what must survive a restart (identities, token revocations, the
//! service's keys). Call state lives in memory, not here.
//!
//! The file is `<data dir>/rtcall.db`, readable by the owner only, since it holds the signing key
//! and the access key. Calls are short and rare (identity management, not media), so one
//! connection behind a mutex serves them; hot paths read the in-memory copies kept by their owners.

use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE settings (name TEXT PRIMARY KEY, value BLOB NOT NULL);
     CREATE TABLE identities (
         id TEXT PRIMARY KEY,
         created_at INTEGER NOT NULL,
         revocation_epoch INTEGER NOT NULL DEFAULT 0
     );",
];

/// A storage failure. The message names the operation, never stored values.
#[derive(Debug, thiserror::Error)]
#[error("storage failed ({operation}): {source}")]
pub struct StoreError {
    operation: &'static str,
    source: rusqlite::Error,
}

trait Context<T> {
    fn context(self, operation: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, operation: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError { operation, source })
    }
}

/// The database.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Self, std::io::Error> {
        create_private_dir(data_dir)?;
        let path = data_dir.join("rtcall.db");
        let conn = Connection::open(&path).map_err(std::io::Error::other)?;
        restrict_to_owner(&path)?;
        let store = Store {
            conn: Mutex::new(conn),
        };
        store.migrate().map_err(std::io::Error::other)?;
        Ok(store)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (each statement is
        // atomic), so a poisoned lock is still safe to use.
        self.conn
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.pragma_update(None, "journal_mode", "WAL")
            .context("set WAL mode")?;
        let applied: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .context("read schema version")?;
        for (version, sql) in (0_i64..).zip(MIGRATIONS).skip(applied.max(0) as usize) {
            conn.execute_batch(sql).context("migrate schema")?;
            conn.pragma_update(None, "user_version", version + 1)
                .context("record schema version")?;
        }
        Ok(())
    }

    /// Returns the setting `name`, storing `init()` first if it has none.
    pub fn setting_or_init(
        &self,
        name: &str,
        init: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        let conn = self.conn();
        let existing: Option<Vec<u8>> = conn
            .query_row(
                "SELECT value FROM settings WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .context("read setting")?;
        if let Some(value) = existing {
            return Ok(value);
        }
        let value = init();
        conn.execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)",
            params![name, value],
        )
        .context("write setting")?;
        Ok(value)
    }

    /// Records a new identity.
    pub fn insert_identity(&self, id: &str, created_at: u64) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO identities (id, created_at) VALUES (?1, ?2)",
                params![id, created_at as i64],
            )
            .context("insert identity")?;
        Ok(())
    }

    /// Deletes an identity; `false` if there was none.
    pub fn delete_identity(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = self
            .conn()
            .execute("DELETE FROM identities WHERE id = ?1", [id])
            .context("delete identity")?;
        Ok(deleted > 0)
    }

    /// Sets an identity's revocation epoch.
    pub fn set_revocation_epoch(&self, id: &str, epoch: u32) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE identities SET revocation_epoch = ?2 WHERE id = ?1",
                params![id, epoch],
            )
            .context("revoke tokens")?;
        Ok(())
    }

    /// Every identity with its revocation epoch.
    pub fn identities(&self) -> Result<Vec<(String, u32)>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare("SELECT id, revocation_epoch FROM identities")
            .context("list identities")?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .context("list identities")?;
        rows.collect::<Result<_, _>>().context("list identities")
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    restrict_to_owner(dir)
}

#[cfg(unix)]
fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o700 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_and_settings_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.insert_identity("8:acs:r_a", 1).unwrap();
            store.insert_identity("8:acs:r_b", 2).unwrap();
            store.set_revocation_epoch("8:acs:r_b", 3).unwrap();
            assert_eq!(store.setting_or_init("key", || vec![1, 2]).unwrap(), [1, 2]);
            assert!(store.delete_identity("8:acs:r_a").unwrap());
            assert!(!store.delete_identity("8:acs:r_a").unwrap());
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.identities().unwrap(), vec![("8:acs:r_b".into(), 3)]);
        assert_eq!(
            store.setting_or_init("key", || unreachable!()).unwrap(),
            [1, 2]
        );
    }

    #[cfg(unix)]
    #[test]
    fn database_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Store::open(&data).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("rtcall.db")), 0o600);
    }
}
