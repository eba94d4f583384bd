//! Opening the register a command works on: connect, migrate, and install the register's own
//! reference data when it holds a copy.

use crate::config::{Config, redact_url, sqlite_dir};
use anagrafe_domain::RefData;
use anagrafe_store::Store;
use anyhow::Context;
use std::sync::Arc;

/// Connects to the configured register and brings its schema up to date.
pub async fn open(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(dir) = sqlite_dir(&cfg.database.url) {
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
    }
    let store = anagrafe_store::connect(&cfg.database.url)
        .await
        .with_context(|| format!("cannot open the register at {}", redact_url(&cfg.database.url)))?;
    store.migrate().await.context("cannot apply the database migrations")?;
    if let Some((comuni, stati)) = store.load_refdata().await? {
        let data = RefData::from_compact(&comuni, &stati).context("the register's reference data are unreadable")?;
        RefData::install(data);
    }
    Ok(store)
}
