//! `anagrafe migrate`: create or update the schema; `anagrafe app-role`: the restricted
//! PostgreSQL role the server runs under (SEC-4, issue 18 item 1).

use crate::config::{Config, redact_url, sqlite_dir};
use anyhow::{Context, bail};
use std::process::ExitCode;

pub async fn run(mut cfg: Config) -> anyhow::Result<ExitCode> {
    cfg.database.migrate = true;
    crate::register::open(&cfg).await?;
    println!("migrations applied to {}", redact_url(&cfg.database.url));
    Ok(ExitCode::SUCCESS)
}

/// The statements that give `role` what the register's server needs and no more: reading and
/// writing the register's tables, but never changing, deleting or truncating the trace or its
/// checkpoints, nor any DDL (only the database's owner can drop the triggers that guard the
/// trace). Idempotent: run it again after each `anagrafe migrate`.
pub fn app_role_sql(role: &str, database: &str) -> Vec<String> {
    let protected = "audit_log, audit_checkpoints, security_alert_steps";
    vec![
        format!("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} LOGIN; END IF; END $$"),
        format!("REVOKE ALL ON DATABASE \"{database}\" FROM {role}"),
        format!("GRANT CONNECT, TEMPORARY ON DATABASE \"{database}\" TO {role}"),
        format!("REVOKE ALL ON SCHEMA public FROM {role}"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("REVOKE UPDATE, DELETE, TRUNCATE ON {protected} FROM {role}"),
        format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations FROM {role}"),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"),
    ]
}

/// Whether `name` can be a role's name as given (lower-case letters, digits, `_`).
fn valid_role(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

pub async fn app_role(role: String, cfg: Config) -> anyhow::Result<ExitCode> {
    if sqlite_dir(&cfg.database.url).is_some() {
        bail!("an embedded register has no database roles: its folder and file are its owner's only");
    }
    if !valid_role(&role) {
        bail!("--role must be lower-case letters, digits and '_', starting with a letter (at most 63)");
    }
    let database = cfg.database.url.rsplit('/').next().and_then(|d| d.split('?').next()).unwrap_or_default().to_owned();
    if database.is_empty() || database.contains('"') {
        bail!("the database URL names no database");
    }
    let store = anagrafe_store::PgStore::connect(&cfg.database.url)
        .await
        .with_context(|| format!("cannot connect to {} as the database's owner", redact_url(&cfg.database.url)))?;
    for sql in app_role_sql(&role, &database) {
        store.exec_raw(&sql).await.with_context(|| format!("refused: {sql}"))?;
    }
    store.close().await;
    println!(
        "role {role} may read and write the register in {database} but never change or delete its trace; \
         serve with it and database.migrate = false (upgrades: anagrafe migrate as the owner, then app-role again)"
    );
    Ok(ExitCode::SUCCESS)
}
