//! SQLite connections (the embedded default).
//!
//! WAL journal with `synchronous = FULL`: a committed transaction survives the process being
//! killed and the machine losing power; readers never block the writer.

use core::time::Duration;
use std::path::Path;

use super::{Backend, Conn, DbError, Row, Val};

pub(super) struct SqliteConn {
    conn: rusqlite::Connection,
}

/// `$12` -> `?12`, outside string literals (the service's SQL never puts `$` in literals,
/// but a quote-aware rewrite costs nothing).
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for ch in sql.chars() {
        if ch == '\'' {
            quoted = !quoted;
        }
        out.push(if ch == '$' && !quoted { '?' } else { ch });
    }
    out
}

impl SqliteConn {
    pub(super) fn open(path: &Path) -> Result<Self, DbError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DbError::Url {
                url: path.display().to_string(),
                why: format!("cannot create its directory: {e}"),
            })?;
        }
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Statement journals (a multi-row insert's undo within its transaction) in memory,
        // not in temporary files: they never need to survive a crash.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Self { conn })
    }
}

impl Conn for SqliteConn {
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        let mut stmt = self.conn.prepare_cached(&placeholders(sql))?;
        let n = stmt.execute(rusqlite::params_from_iter(params.iter()))?;
        Ok(n as u64)
    }

    fn execute_refs(&mut self, sql: &str, params: &[&Val]) -> Result<u64, DbError> {
        let mut stmt = self.conn.prepare_cached(&placeholders(sql))?;
        let n = stmt.execute(rusqlite::params_from_iter(params.iter()))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError> {
        let mut stmt = self.conn.prepare_cached(&placeholders(sql))?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut vals = Vec::with_capacity(columns);
            for i in 0..columns {
                vals.push(Val::from_sqlite(row.get_ref(i)?));
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        Ok(self.conn.execute_batch(sql)?)
    }

    fn begin(&mut self) -> Result<(), DbError> {
        // IMMEDIATE: take the write lock now, so a transaction never fails half-way on it.
        self.batch("BEGIN IMMEDIATE")
    }

    fn backend(&self) -> Backend {
        Backend::Sqlite
    }
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn rewrites_placeholders_outside_literals() {
        assert_eq!(
            placeholders("SELECT $1, '$2' FROM t WHERE a = $12"),
            "SELECT ?1, '$2' FROM t WHERE a = ?12"
        );
    }
}
