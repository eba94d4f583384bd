//! `anagrafe migrate`: create or update the schema.

use crate::config::{Config, redact_url};
use std::process::ExitCode;

pub async fn run(cfg: Config) -> anyhow::Result<ExitCode> {
    crate::register::open(&cfg).await?;
    println!("migrations applied to {}", redact_url(&cfg.database.url));
    Ok(ExitCode::SUCCESS)
}
