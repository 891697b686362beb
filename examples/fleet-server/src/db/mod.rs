//! The database: one schema on SQLite (embedded default) and PostgreSQL, behind a small
//! synchronous connection trait that the rest of the service writes its SQL against once.
//!
//! Why synchronous: a transaction is a closure over `&mut dyn Conn`, run on a database thread.
//! That keeps every multi-statement change (apply a decision and record it, allocate a sequence
//! and store the release that uses it) one `BEGIN ... COMMIT` with no async lifetimes in the
//! way, and lets SQLite (a blocking library) and PostgreSQL (tokio-postgres, driven from the
//! database thread through the service's one tokio runtime) share the code.
//!
//! SQL is written with `$1, $2, ...` placeholders (PostgreSQL's); the SQLite connection rewrites
//! them to `?1, ?2, ...`. Column types are `BIGINT`, `TEXT` and a binary type (`BLOB` on SQLite,
//! `BYTEA` on PostgreSQL): see [`migrations`].
//!
//! Threads: one writer (every write goes through it, in order) and a few readers for the API.

pub mod migrations;
mod postgres;
mod sqlite;
mod value;

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

pub use value::{Row, Val};

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// SQLite, a file next to the service.
    Sqlite,
    /// PostgreSQL, a server.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// SQLite said no.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// A column held something else than the code expects (a schema mismatch).
    #[error("column {column} of `{sql}` is not {expected}")]
    Column {
        /// Column index.
        column: usize,
        /// Expected type.
        expected: &'static str,
        /// The statement (first 80 characters).
        sql: String,
    },
    /// The schema is newer than this build, or a migration failed.
    #[error("schema: {0}")]
    Schema(String),
    /// The database thread is gone (the service is shutting down).
    #[error("the database thread stopped")]
    Stopped,
    /// The database URL cannot be used.
    #[error("database url {url:?}: {why}")]
    Url {
        /// The URL given.
        url: String,
        /// Why it cannot be used.
        why: String,
    },
}

impl DbError {
    /// Whether the error is a unique-key violation (a row that already exists).
    #[must_use]
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            Self::Postgres(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }
}

/// A connection: statements with `$n` parameters, and transactions.
pub trait Conn: Send {
    /// Runs a statement; returns the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError>;
    /// [`Conn::execute`] with borrowed parameters (multi-row inserts: no copies of the rows).
    fn execute_refs(&mut self, sql: &str, params: &[&Val]) -> Result<u64, DbError>;
    /// Runs a query; returns every row.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError>;
    /// Runs statements without parameters (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;
    /// Starts a transaction that takes the write lock at once.
    fn begin(&mut self) -> Result<(), DbError>;
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// The first row of a query, if any.
    fn query_opt(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// Runs `f` in one transaction: committed if it returns `Ok`, rolled back otherwise.
///
/// # Errors
/// Whatever `f` returns, or the database's error for `BEGIN`/`COMMIT`.
pub fn transaction<T, E: From<DbError>>(
    conn: &mut dyn Conn,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, E>,
) -> Result<T, E> {
    conn.begin()?;
    match f(conn) {
        Ok(v) => {
            conn.batch("COMMIT")?;
            Ok(v)
        }
        Err(e) => {
            // The connection stays usable; a failed rollback leaves nothing committed.
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Inserts `rows` (each `columns.len()` values) in multi-row statements of at most 256 rows
/// (a handful of distinct statement texts, so both databases cache their plans).
///
/// `suffix` follows `VALUES (...)`, e.g. `ON CONFLICT DO NOTHING`. Returns the rows inserted.
///
/// # Errors
/// The database's.
pub fn insert_many(
    conn: &mut dyn Conn,
    table: &str,
    columns: &[&str],
    rows: &[Vec<Val>],
    suffix: &str,
) -> Result<u64, DbError> {
    let mut inserted = 0;
    let mut rest = rows;
    let mut params = Vec::new();
    while !rest.is_empty() {
        // Chunks of 256, 64, 16, 4 or 1 rows.
        let n = [256usize, 64, 16, 4, 1]
            .into_iter()
            .find(|&n| n <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        params.clear();
        params.extend(chunk.iter().flatten());
        let sql = insert_sql(table, columns, n, suffix);
        inserted += conn.execute_refs(&sql, &params)?;
    }
    Ok(inserted)
}

std::thread_local! {
    /// Statement texts of [`insert_many`] by (table, columns, rows, suffix): built once per
    /// database thread, not for every chunk.
    static INSERTS: core::cell::RefCell<std::collections::HashMap<(String, usize, String), Arc<str>>> =
        core::cell::RefCell::new(std::collections::HashMap::new());
}

/// `INSERT INTO table (columns) VALUES ($1,...),... suffix` for `n` rows.
fn insert_sql(table: &str, columns: &[&str], n: usize, suffix: &str) -> Arc<str> {
    use core::fmt::Write as _;
    let cols = columns.join(", ");
    let key = (format!("{table} ({cols})"), n, suffix.to_string());
    if let Some(sql) = INSERTS.with(|m| m.borrow().get(&key).cloned()) {
        return sql;
    }
    let mut sql = format!("INSERT INTO {} VALUES ", key.0);
    for r in 0..n {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..columns.len() {
            if c > 0 {
                sql.push(',');
            }
            let _ = write!(sql, "${}", r * columns.len() + c + 1);
        }
        sql.push(')');
    }
    sql.push(' ');
    sql.push_str(suffix);
    let sql: Arc<str> = sql.into();
    INSERTS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() > 256 {
            m.clear();
        }
        m.insert(key, sql.clone());
    });
    sql
}

type Job = Box<dyn FnOnce(&mut dyn Conn) + Send>;

/// The handle the service holds: sends closures to the database threads.
#[derive(Clone)]
pub struct Db {
    writer: mpsc::UnboundedSender<Job>,
    readers: mpsc::UnboundedSender<Job>,
    backend: Backend,
    url: Arc<str>,
}

impl core::fmt::Debug for Db {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

/// Where the database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL connection string (`postgres://user:pass@host:port/db`).
    Postgres(String),
}

impl Location {
    /// `postgres://` or `postgresql://` URLs are PostgreSQL, `sqlite://PATH` or a plain path SQLite.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Self::Postgres(text.to_string())
        } else {
            let path = text.strip_prefix("sqlite://").unwrap_or(text);
            Self::Sqlite(path.into())
        }
    }
}

fn open_conn(location: &Location) -> Result<Box<dyn Conn>, DbError> {
    match location {
        Location::Sqlite(path) => Ok(Box::new(sqlite::SqliteConn::open(path)?)),
        Location::Postgres(url) => Ok(Box::new(postgres::PgConn::connect(url)?)),
    }
}

fn spawn_worker(
    name: String,
    mut conn: Box<dyn Conn>,
    jobs: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
) -> Result<(), DbError> {
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            loop {
                let job = {
                    let Ok(mut rx) = jobs.lock() else { return };
                    rx.blocking_recv()
                };
                match job {
                    Some(job) => job(conn.as_mut()),
                    None => return,
                }
            }
        })
        .map(|_| ())
        .map_err(|e| DbError::Schema(format!("cannot start a database thread: {e}")))
}

impl Db {
    /// Opens the database, applies pending migrations and starts its threads (PostgreSQL
    /// connections run on the current tokio runtime).
    ///
    /// # Errors
    /// The database cannot be opened or migrated.
    pub async fn open(location: &Location, readers: usize) -> Result<Self, DbError> {
        let location = location.clone();
        tokio::task::spawn_blocking(move || Self::open_blocking(&location, readers))
            .await
            .map_err(|_| DbError::Stopped)?
    }

    fn open_blocking(location: &Location, readers: usize) -> Result<Self, DbError> {
        let mut writer = open_conn(location)?;
        migrations::migrate(writer.as_mut())?;
        let backend = writer.backend();
        let (wtx, wrx) = mpsc::unbounded_channel();
        spawn_worker("db-writer".into(), writer, Arc::new(Mutex::new(wrx)))?;
        let (rtx, rrx) = mpsc::unbounded_channel();
        let rrx = Arc::new(Mutex::new(rrx));
        for i in 0..readers.max(1) {
            spawn_worker(format!("db-reader-{i}"), open_conn(location)?, rrx.clone())?;
        }
        let url = match location {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(u) => redact(u),
        };
        Ok(Self {
            writer: wtx,
            readers: rtx,
            backend,
            url: url.into(),
        })
    }

    /// Which database this is.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's location, with any password removed.
    #[must_use]
    pub fn display_url(&self) -> &str {
        &self.url
    }

    async fn run<T: Send + 'static>(
        queue: &mpsc::UnboundedSender<Job>,
        f: impl FnOnce(&mut dyn Conn) -> T + Send + 'static,
    ) -> Result<T, DbError> {
        let (tx, rx) = oneshot::channel();
        queue
            .send(Box::new(move |c: &mut dyn Conn| {
                let _ = tx.send(f(c));
            }))
            .map_err(|_| DbError::Stopped)?;
        rx.await.map_err(|_| DbError::Stopped)
    }

    /// Runs `f` in one write transaction on the writer thread.
    ///
    /// # Errors
    /// `f`'s error, or [`DbError::Stopped`].
    pub async fn write<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        Self::run(&self.writer, move |c| transaction(c, f)).await?
    }

    /// Runs `f` (reads only) on a reader thread.
    ///
    /// # Errors
    /// `f`'s error, or [`DbError::Stopped`].
    pub async fn read<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        Self::run(&self.readers, f).await?
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user@host/db`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact("postgres://fleet:s3cret@127.0.0.1:5432/fleet"),
            "postgres://fleet@127.0.0.1:5432/fleet"
        );
        assert_eq!(
            redact("postgres://127.0.0.1/fleet"),
            "postgres://127.0.0.1/fleet"
        );
    }

    #[test]
    fn parses_locations() {
        assert_eq!(
            Location::parse("postgresql://h/db"),
            Location::Postgres("postgresql://h/db".into())
        );
        assert_eq!(
            Location::parse("sqlite://a.db"),
            Location::Sqlite("a.db".into())
        );
        assert_eq!(Location::parse("b.db"), Location::Sqlite("b.db".into()));
    }
}
