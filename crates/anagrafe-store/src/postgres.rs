//! The national-scale backend: PostgreSQL 15+.

use crate::Result;
use crate::bulk::TableRows;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

/// The register on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
}

impl PgStore {
    /// Connects to a `postgres://` URL.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
        Ok(Self { pool })
    }

    async fn migrate_impl(&self) -> Result<()> {
        sqlx::migrate!("migrations/postgres").run(&self.pool).await?;
        Ok(())
    }

    /// Versions of the embedded migrations (a test checks both backends carry the same).
    pub fn migration_versions() -> Vec<i64> {
        sqlx::migrate!("migrations/postgres").iter().map(|m| m.version).collect()
    }

    /// Runs raw SQL: for operators' maintenance and for tests that tamper on purpose.
    pub async fn exec_raw(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&self.pool).await?.rows_affected())
    }

    /// Closes the pool (tests drop their database afterwards).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn write_table(tx: &mut Transaction<'_, Postgres>, t: &TableRows) -> Result<()> {
        let mut copy = (&mut **tx).copy_in_raw(&t.copy_statement()).await?;
        copy.send(t.copy_text()).await?;
        copy.finish().await.map_err(|e| crate::shared::conflict(e, t.table))?;
        Ok(())
    }
}

crate::shared::store_common!(PgStore, Postgres, crate::Backend::Postgres);
