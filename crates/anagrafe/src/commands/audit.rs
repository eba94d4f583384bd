//! `anagrafe audit verify`: walk the trace's hash chain.

use crate::config::Config;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the whole chain; exit 1 and name the first bad entry when it is broken.
    Verify,
}

pub async fn run(cmd: AuditCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify => {
            let store = crate::register::open(&cfg).await?;
            let report = store.verify_audit_chain().await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(if report.is_intact() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}
