//! PostgreSQL connections, driven from a database thread through the service's tokio runtime.

use std::collections::HashMap;

use tokio::runtime::Handle;
use tokio_postgres::{NoTls, Statement};

use super::{Backend, Conn, DbError, Row, Val};

pub(super) struct PgConn {
    client: tokio_postgres::Client,
    handle: Handle,
    statements: HashMap<String, Statement>,
}

impl PgConn {
    /// Connects; called from a blocking context with the runtime's handle current.
    pub(super) fn connect(url: &str) -> Result<Self, DbError> {
        let handle = Handle::try_current().map_err(|_| DbError::Url {
            url: super::redact(url),
            why: "PostgreSQL needs the tokio runtime".into(),
        })?;
        // Called on a database thread (or in `spawn_blocking`), never on a runtime worker.
        let (client, connection) = handle.block_on(tokio_postgres::connect(url, NoTls))?;
        handle.spawn(async move {
            // Ends when the client is dropped or the server goes away; statements then fail.
            let _ = connection.await;
        });
        Ok(Self {
            client,
            handle,
            statements: HashMap::new(),
        })
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.handle.block_on(self.client.prepare(sql))?;
        if self.statements.len() > 256 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

fn refs(params: &[Val]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

impl Conn for PgConn {
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        let stmt = self.statement(sql)?;
        let p = refs(params);
        Ok(self.handle.block_on(self.client.execute(&stmt, &p))?)
    }

    fn execute_refs(&mut self, sql: &str, params: &[&Val]) -> Result<u64, DbError> {
        let stmt = self.statement(sql)?;
        let p: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| *p as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        Ok(self.handle.block_on(self.client.execute(&stmt, &p))?)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError> {
        let stmt = self.statement(sql)?;
        let p = refs(params);
        let rows = self.handle.block_on(self.client.query(&stmt, &p))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut vals = Vec::with_capacity(row.len());
            for i in 0..row.len() {
                vals.push(row.try_get::<_, Val>(i)?);
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        Ok(self.handle.block_on(self.client.batch_execute(sql))?)
    }

    fn begin(&mut self) -> Result<(), DbError> {
        self.batch("BEGIN")
    }

    fn backend(&self) -> Backend {
        Backend::Postgres
    }
}
