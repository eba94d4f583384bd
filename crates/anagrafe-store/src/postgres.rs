//! The national-scale backend: PostgreSQL 15+.

use crate::Result;
use crate::bulk::TableRows;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

/// The register on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    /// Trace entries appended on their own, committed in groups.
    trace: std::sync::Arc<crate::audit::TraceQueue>,
}

impl PgStore {
    /// Connects to a `postgres://` URL.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
        Ok(Self { pool, trace: Default::default() })
    }

    /// Begins a write transaction (writers queue on the audit head's row lock inside it).
    pub(crate) async fn begin_write(&self) -> Result<(Option<tokio::sync::OwnedMutexGuard<()>>, Transaction<'static, Postgres>)> {
        Ok((None, self.pool.begin().await?))
    }

    /// This process's writer turn, for a write that is a single statement (none on PostgreSQL,
    /// whose row locks queue writers).
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        None
    }

    /// Whether registrations take the audit head at their end (writers run concurrently
    /// here) rather than first.
    pub(crate) const LATE_HEAD: bool = true;
    /// Row-lock clause for rows a write reads before changing what depends on them.
    pub(crate) const FOR_UPDATE: &'static str = " FOR UPDATE";

    /// A batch as one statement: every statement but the last as a data-modifying `WITH`
    /// clause (each runs exactly once, to completion), the last as the main statement.
    pub(crate) fn join_batch(parts: &[String]) -> String {
        match parts.split_last() {
            None => String::new(),
            Some((last, [])) => last.clone(),
            Some((last, rest)) => {
                let with = rest.iter().enumerate().map(|(i, p)| format!("b{i} AS ({p})")).collect::<Vec<_>>().join(", ");
                format!("WITH {with} {last}")
            }
        }
    }

    async fn migrate_impl(&self) -> Result<()> {
        sqlx::migrate!("migrations/postgres").run(&self.pool).await?;
        Ok(())
    }

    /// Versions of the embedded migrations (a test checks both backends carry the same).
    pub fn migration_versions() -> Vec<i64> {
        sqlx::migrate!("migrations/postgres").iter().map(|m| m.version).collect()
    }

    /// Tables in the database's `public` schema (a restore goes into an empty database only).
    pub async fn table_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'").fetch_one(&self.pool).await?)
    }

    /// Runs raw SQL: for operators' maintenance and for tests that tamper on purpose.
    pub async fn exec_raw(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&self.pool).await?.rows_affected())
    }

    /// Every row of every table as text, `(table, row)`: for audits of what the register
    /// holds (e.g. that nothing links two records, IDN-6 case 4). Not for large registers.
    pub async fn dump_all_rows(&self) -> Result<Vec<(String, String)>> {
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT LIKE '_sqlx%'")
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::new();
        for t in tables {
            let rows: Vec<String> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT r::text FROM \"{t}\" r"))).fetch_all(&self.pool).await?;
            out.extend(rows.into_iter().map(|r| (t.clone(), r)));
        }
        Ok(out)
    }

    /// A read-only transaction on one snapshot (REPEATABLE READ).
    async fn snapshot(pool: &PgPool) -> Result<Transaction<'static, Postgres>> {
        let mut tx = pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
        Ok(tx)
    }

    /// Closes the pool (tests drop their database afterwards).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Drops the foreign keys and secondary indexes of `tables` (an SQL list of quoted names),
    /// and with `with_keys` their primary and unique keys too; returns the statements that
    /// rebuild them (keys, then indexes, then foreign keys, each validated in one pass).
    async fn drop_secondary(tx: &mut Transaction<'_, Postgres>, tables: &str, with_keys: bool) -> Result<Vec<String>> {
        let kinds = if with_keys { "'p', 'u', 'f'" } else { "'f'" };
        let fks = sqlx::query_as::<_, RebuildRow>(sqlx::AssertSqlSafe(format!(
            "SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) AS create_sql, \
                    format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS drop_sql \
             FROM pg_constraint WHERE contype IN ({kinds}) AND connamespace = current_schema()::regnamespace \
             AND conrelid::regclass::text IN ({tables}) ORDER BY CASE contype WHEN 'f' THEN 0 ELSE 1 END, conname"
        )))
        .fetch_all(&mut **tx)
        .await?;
        let idx = sqlx::query_as::<_, RebuildRow>(sqlx::AssertSqlSafe(format!(
            "SELECT indexdef AS create_sql, format('DROP INDEX %I', indexname) AS drop_sql FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename IN ({tables}) \
             AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u', 'x')) ORDER BY indexname"
        )))
        .fetch_all(&mut **tx)
        .await?;
        let mut rebuild = vec!["SET LOCAL maintenance_work_mem = '256MB'".to_owned()];
        for r in fks.iter().chain(idx.iter()) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(r.drop_sql.clone())).execute(&mut **tx).await?;
        }
        // Keys (listed last by the query) come back first, then indexes, then foreign keys.
        let (keys, foreign): (Vec<_>, Vec<_>) = fks.into_iter().partition(|r| !r.create_sql.contains("FOREIGN KEY"));
        for r in keys.into_iter().chain(idx).chain(foreign) {
            rebuild.push(r.create_sql);
        }
        Ok(rebuild)
    }

    /// Inserts candidate IDs into the registry; returns those accepted (not already issued).
    async fn insert_registry(
        tx: &mut Transaction<'_, Postgres>,
        candidates: &[(i64, i64, String)],
        key_version: i16,
        now: i64,
    ) -> Result<std::collections::HashSet<String>> {
        let ids: Vec<&str> = candidates.iter().map(|c| c.2.as_str()).collect();
        let pids: Vec<i64> = candidates.iter().map(|c| c.0).collect();
        let counters: Vec<i64> = candidates.iter().map(|c| c.1).collect();
        let accepted: Vec<String> = sqlx::query_scalar(
            "INSERT INTO id_anpr_registry (id_anpr, person_id, counter, key_version, status, issued_at, changed_at) \
             SELECT t.id, t.pid, t.ctr, $4, 1, $5, $5 FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t(id, pid, ctr) \
             ON CONFLICT DO NOTHING RETURNING id_anpr",
        )
        .bind(&ids)
        .bind(&pids)
        .bind(&counters)
        .bind(key_version)
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
        Ok(accepted.into_iter().collect())
    }

    /// Encodes each table in binary COPY format (runs on a blocking thread).
    fn prepare(rows: Vec<TableRows>) -> Vec<(String, &'static str, Vec<u8>)> {
        rows.iter().filter(|t| t.len() > 0).map(|t| (t.copy_binary_statement(), t.table, t.copy_binary())).collect()
    }

    async fn write_prepared(tx: &mut Transaction<'_, Postgres>, tables: Vec<(String, &'static str, Vec<u8>)>) -> Result<()> {
        for (stmt, table, data) in tables {
            let mut copy = tx.copy_in_raw(&stmt).await?;
            copy.send(data).await?;
            copy.finish().await.map_err(|e| crate::shared::conflict(e, table))?;
        }
        Ok(())
    }
}

/// A key, index or foreign key as the catalogue describes it: the statement that builds it and
/// the one that drops it.
#[derive(Debug, sqlx::FromRow)]
struct RebuildRow {
    create_sql: String,
    drop_sql: String,
}

impl crate::shared::Bulk for PgStore {
    type Prepared = Vec<(String, &'static str, Vec<u8>)>;
}

crate::shared::store_common!(PgStore, Postgres, crate::Backend::Postgres);
crate::ops::store_ops!(PgStore, Postgres);
crate::pdnd::store_pdnd!(PgStore, Postgres);
crate::electoral::store_electoral!(PgStore, Postgres);
crate::extract::store_extract!(PgStore, Postgres);
crate::case::store_case!(PgStore, Postgres);
