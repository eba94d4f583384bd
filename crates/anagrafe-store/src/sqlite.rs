//! The embedded backend: one SQLite file in WAL mode.

use crate::Result;
use crate::bulk::{TableRows, Val};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// SQLite's limit on bound parameters per statement (since 3.32).
const MAX_PARAMS: usize = 32_766;
/// Rows per multi-row INSERT: enough to amortise the statement, small enough to stay in cache.
const MAX_ROWS: usize = 400;

/// The embedded register.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// SQLite has one writer at a time; writers of this process queue here instead of
    /// spinning in SQLite's busy handler (which sleeps in steps of milliseconds). Other
    /// processes (a command run beside the server) still meet the busy timeout.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Trace entries appended on their own, committed in groups.
    trace: std::sync::Arc<crate::audit::TraceQueue>,
}

impl SqliteStore {
    /// Opens (creating if absent) the database at a `sqlite://PATH` URL.
    pub async fn connect(url: &str) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        Ok(Self { pool, writer: Default::default(), trace: Default::default() })
    }

    /// Begins a write transaction, first taking this process's writer turn.
    pub(crate) async fn begin_write(&self) -> Result<(Option<tokio::sync::OwnedMutexGuard<()>>, Transaction<'static, Sqlite>)> {
        let turn = self.writer.clone().lock_owned().await;
        Ok((Some(turn), self.pool.begin().await?))
    }

    /// This process's writer turn, for a write that is a single statement (none on PostgreSQL,
    /// whose row locks queue writers).
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        self.writer.clone().lock_owned().await.into()
    }

    /// Whether registrations take the audit head at their end (writers run concurrently
    /// here) rather than first.
    pub(crate) const LATE_HEAD: bool = false;
    /// Row-lock clause for rows a write reads before changing what depends on them.
    pub(crate) const FOR_UPDATE: &'static str = "";

    /// A batch as one multi-statement string (placeholders are numbered across it).
    pub(crate) fn join_batch(parts: &[String]) -> String {
        parts.join(";\n")
    }

    async fn migrate_impl(&self) -> Result<()> {
        sqlx::migrate!("migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    /// Versions of the embedded migrations (a test checks both backends carry the same).
    pub fn migration_versions() -> Vec<i64> {
        sqlx::migrate!("migrations/sqlite").iter().map(|m| m.version).collect()
    }

    /// Runs raw SQL: for operators' maintenance and for tests that tamper on purpose.
    pub async fn exec_raw(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&self.pool).await?.rows_affected())
    }

    /// Every row of every table as text, `(table, row)`: for audits of what the register
    /// holds (e.g. that nothing links two records, IDN-6 case 4). Not for large registers.
    pub async fn dump_all_rows(&self) -> Result<Vec<(String, String)>> {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for t in tables {
            let cols: Vec<String> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT name FROM pragma_table_info('{t}')"))).fetch_all(&self.pool).await?;
            let expr = cols.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || '|' || ");
            let rows: Vec<String> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {expr} FROM \"{t}\""))).fetch_all(&self.pool).await?;
            out.extend(rows.into_iter().map(|r| (t.clone(), r)));
        }
        Ok(out)
    }

    /// A read transaction: in WAL mode it sees one snapshot from its first read.
    async fn snapshot(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>> {
        Ok(pool.begin().await?)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Drops the secondary indexes of `tables` (an SQL list of quoted names); returns the
    /// statements that rebuild them. SQLite cannot drop a table's keys: `with_keys` is ignored.
    async fn drop_secondary(tx: &mut Transaction<'_, Sqlite>, tables: &str, _with_keys: bool) -> Result<Vec<String>> {
        let sql = format!("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({tables})");
        let rows = sqlx::query_as::<_, IndexRow>(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **tx).await?;
        let mut rebuild = Vec::new();
        for r in rows {
            rebuild.push(r.sql);
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP INDEX \"{}\"", r.name.replace('"', "\"\"")))).execute(&mut **tx).await?;
        }
        Ok(rebuild)
    }

    /// Inserts candidate IDs into the registry; returns those accepted (not already issued).
    async fn insert_registry(
        tx: &mut Transaction<'_, Sqlite>,
        candidates: &[(i64, i64, String)],
        key_version: i16,
        now: i64,
    ) -> Result<std::collections::HashSet<String>> {
        let mut accepted = std::collections::HashSet::with_capacity(candidates.len());
        for chunk in candidates.chunks(MAX_ROWS) {
            let sql = format!(
                "INSERT INTO id_anpr_registry (id_anpr, person_id, counter, key_version, status, issued_at, changed_at) VALUES {} \
                 ON CONFLICT DO NOTHING RETURNING id_anpr",
                vec!["(?, ?, ?, ?, 1, ?, ?)"; chunk.len()].join(",")
            );
            let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for (pid, counter, id) in chunk {
                q = q.bind(id.as_str()).bind(*pid).bind(*counter).bind(key_version).bind(now).bind(now);
            }
            accepted.extend(q.fetch_all(&mut **tx).await?);
        }
        Ok(accepted)
    }

    /// SQLite binds values directly: nothing to prepare off the runtime.
    fn prepare(rows: Vec<TableRows>) -> Vec<TableRows> {
        rows
    }

    async fn write_prepared(tx: &mut Transaction<'_, Sqlite>, tables: Vec<TableRows>) -> Result<()> {
        for t in tables.iter().filter(|t| t.len() > 0) {
            Self::write_table(tx, t).await?;
        }
        Ok(())
    }

    async fn write_table(tx: &mut Transaction<'_, Sqlite>, t: &TableRows) -> Result<()> {
        let ncols = t.cols.len();
        let per_stmt = (MAX_PARAMS / ncols).min(MAX_ROWS);
        let one_row = format!("({})", vec!["?"; ncols].join(","));
        for chunk in t.vals.chunks(per_stmt * ncols) {
            let rows = chunk.len() / ncols;
            let sql = format!("INSERT INTO {} ({}) VALUES {}", t.table, t.cols.join(","), vec![one_row.as_str(); rows].join(","));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for v in chunk {
                q = match v {
                    Val::Null => q.bind(None::<i64>),
                    Val::Int(n) => q.bind(*n),
                    Val::Small(n) => q.bind(*n),
                    Val::Bool(b) => q.bind(*b),
                    Val::Text(s) => q.bind(s.as_str()),
                    Val::Date(d) => q.bind(*d),
                };
            }
            q.execute(&mut **tx).await.map_err(|e| crate::shared::conflict(e, t.table))?;
        }
        Ok(())
    }
}

/// A secondary index as `sqlite_master` lists it: its name and the statement that builds it.
#[derive(Debug, sqlx::FromRow)]
struct IndexRow {
    name: String,
    sql: String,
}

impl crate::shared::Bulk for SqliteStore {
    type Prepared = Vec<TableRows>;
}

crate::shared::store_common!(SqliteStore, Sqlite, crate::Backend::Sqlite);
crate::ops::store_ops!(SqliteStore, Sqlite);
crate::pdnd::store_pdnd!(SqliteStore, Sqlite);
crate::electoral::store_electoral!(SqliteStore, Sqlite);
crate::extract::store_extract!(SqliteStore, Sqlite);
crate::case::store_case!(SqliteStore, Sqlite);
