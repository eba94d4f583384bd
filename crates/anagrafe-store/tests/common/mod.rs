//! The harness both store suites share: a fresh register per test on each backend.
#![allow(dead_code)]

use anagrafe_store::{PgStore, SqliteStore, Store};
use std::sync::Arc;

pub enum Raw {
    Sqlite(SqliteStore),
    Pg(PgStore),
}

pub struct Harness {
    pub store: Arc<dyn Store>,
    pub raw: Raw,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl Harness {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let s = SqliteStore::connect(&url).await.unwrap();
        s.migrate_for_tests().await;
        Self { store: Arc::new(s.clone()), raw: Raw::Sqlite(s), _dir: Some(dir), pg: None }
    }

    pub async fn postgres() -> Option<Self> {
        let Ok(base) = std::env::var("ANAGRAFE_TEST_DATABASE_URL") else {
            eprintln!("SKIPPED: PostgreSQL half of the conformance suite (set ANAGRAFE_TEST_DATABASE_URL)");
            return None;
        };
        let name = format!("anagrafe_t_{:016x}", rand::random::<u64>());
        let admin = PgStore::connect(&base).await.expect("ANAGRAFE_TEST_DATABASE_URL must reach PostgreSQL");
        admin.exec_raw(&format!("CREATE DATABASE {name}")).await.unwrap();
        let (prefix, _) = base.rsplit_once('/').expect("URL with a database name");
        let url = format!("{prefix}/{name}");
        let s = PgStore::connect(&url).await.unwrap();
        s.migrate_for_tests().await;
        Some(Self { store: Arc::new(s.clone()), raw: Raw::Pg(s), _dir: None, pg: Some((base, name)) })
    }

    pub async fn raw(&self, sql: &str) -> u64 {
        match &self.raw {
            Raw::Sqlite(s) => s.exec_raw(sql).await.unwrap(),
            Raw::Pg(s) => s.exec_raw(sql).await.unwrap(),
        }
    }

    /// A raw statement that may fail (the database refusing it), with whether it ran.
    pub async fn try_raw(&self, sql: &str) -> bool {
        match &self.raw {
            Raw::Sqlite(s) => s.exec_raw(sql).await.is_ok(),
            Raw::Pg(s) => s.exec_raw(sql).await.is_ok(),
        }
    }

    /// What an attacker who owns the database does first: drops the triggers that keep the
    /// trace append-only, so the tests can show that the chain still catches the rewrite.
    pub async fn drop_trace_guards(&self) {
        let sql: &[&str] = match &self.raw {
            Raw::Sqlite(_) => {
                &["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete", "DROP TRIGGER audit_head_forward_only"]
            }
            Raw::Pg(_) => &[
                "DROP TRIGGER audit_log_no_change ON audit_log",
                "DROP TRIGGER audit_log_no_truncate ON audit_log",
                "DROP TRIGGER audit_head_forward_only ON audit_head",
            ],
        };
        for s in sql {
            self.raw(s).await;
        }
    }

    pub async fn done(self) {
        if let Some((base, name)) = self.pg {
            drop(self.store);
            if let Raw::Pg(s) = self.raw {
                s.close().await;
            }
            let admin = PgStore::connect(&base).await.unwrap();
            admin.exec_raw(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
        }
    }
}

trait MigrateForTests {
    async fn migrate_for_tests(&self);
}
impl<T: Store> MigrateForTests for T {
    async fn migrate_for_tests(&self) {
        self.migrate().await.unwrap();
    }
}

#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let h = super::Harness::sqlite().await;
                super::$name(&h).await;
                h.done().await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(h) = super::Harness::postgres().await else { return };
                super::$name(&h).await;
                h.done().await;
            })*
        }
    };
}

impl Harness {
    /// Every row of every table, as text (one string per row), for tests that must prove
    /// something is absent from the whole register.
    pub async fn dump(&self) -> Vec<(String, String)> {
        match &self.raw {
            Raw::Sqlite(s) => s.dump_all_rows().await.unwrap(),
            Raw::Pg(s) => s.dump_all_rows().await.unwrap(),
        }
    }
}
