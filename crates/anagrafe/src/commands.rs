//! The subcommands. Exit codes: 0 success, 1 a negative answer (`cf check` of an invalid code,
//! `audit verify` of a broken chain), 2 bad input or failure.

mod api;
pub use api::write_private as write_private_key;
mod audit;
mod backup;
mod certificate;
mod cf;
mod demo;
mod electoral;
mod id;
mod migrate;
mod operator;
pub mod pdnd;
mod population;
mod refdata;
mod serve;

use crate::config::{self, Config};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Anagrafe — national population register.
#[derive(Debug, Parser)]
#[command(name = "anagrafe", version, about)]
pub struct Opts {
    /// Configuration file (TOML).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Work on the embedded register in this directory (as created by `anagrafe demo`).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Work on the register at this URL (`sqlite://PATH` or `postgres://…`).
    #[arg(long, global = true, value_name = "URL", conflicts_with = "data_dir")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Codice fiscale: compute and check.
    #[command(subcommand)]
    Cf(cf::CfCommand),
    /// ID ANPR: check and sample.
    #[command(subcommand)]
    Id(id::IdCommand),
    /// Reference data: reload from the official ANPR files.
    #[command(subcommand)]
    Refdata(refdata::RefdataCommand),
    /// Synthetic population.
    #[command(subcommand)]
    Population(population::PopulationCommand),
    /// The trace: verify it against its signed checkpoints, checkpoint, export a segment.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Back the register's database up, encrypted, with a manifest (SEC-3).
    Backup(backup::BackupOpts),
    /// Restore a backup into the register chosen by --data-dir / --database-url, then verify it.
    Restore(backup::RestoreOpts),
    /// The comuni's web services: client keys and registration, signed calls, load script.
    #[command(subcommand)]
    Api(api::ApiCommand),
    /// E-services for public bodies: register a body and its purposes; call an e-service.
    #[command(subcommand)]
    Pdnd(pdnd::PdndCommand),
    /// Operator accounts: create with roles, reset, show; TOTP codes.
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Electoral data: a comune's bulk load of the data it already keeps (ELE-7).
    #[command(subcommand)]
    Electoral(electoral::ElectoralCommand),
    /// The register's electronic seal: create (embedded mode), export the CA.
    #[command(subcommand)]
    Seal(certificate::SealCommand),
    /// Certificates: issue, preview, delete expired ones.
    #[command(subcommand)]
    Certificate(certificate::CertificateCommand),
    /// Check a sealed certificate offline: seal, CA, contrassegno payload.
    Verify(certificate::VerifyOpts),
    /// Create or update the database schema.
    Migrate,
    /// PostgreSQL: create or update the restricted role the server runs under (no UPDATE,
    /// DELETE or TRUNCATE on the trace, no DDL).
    AppRole {
        /// The role's name.
        #[arg(long)]
        role: String,
    },
    /// Serve the register over HTTP.
    Serve(serve::ServeOpts),
    /// Run a self-contained demo: embedded register, synthetic population, server.
    Demo(demo::DemoOpts),
}

/// What every command may need besides its own options.
#[derive(Debug)]
pub struct Global {
    config_file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
}

impl Global {
    /// The configuration, with `--data-dir`/`--database-url` applied.
    pub fn config(&self) -> anyhow::Result<Config> {
        config::load(self.config_file.as_deref(), self.data_dir.as_deref(), self.database_url.as_deref())
    }

    /// Whether the user named a register explicitly.
    pub fn register_given(&self) -> bool {
        self.data_dir.is_some() || self.database_url.is_some() || std::env::var_os("ANAGRAFE_DATABASE__URL").is_some()
    }
}

fn init_logs(cfg: &Config) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log.level));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
    let _ = if cfg.log.format == "json" { builder.json().try_init() } else { builder.try_init() };
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

/// Runs the chosen command.
pub fn run(opts: Opts) -> ExitCode {
    let global = Global { config_file: opts.config, data_dir: opts.data_dir, database_url: opts.database_url };
    match opts.command {
        Command::Cf(c) => cf::run(c, &global),
        Command::Id(c) => id::run(c, &global),
        Command::Audit(c) => with_runtime(&global, |cfg| audit::run(c, cfg)),
        Command::Backup(o) => with_runtime(&global, |cfg| backup::run_backup(o, cfg)),
        Command::Restore(o) => with_runtime(&global, |cfg| backup::run_restore(o, cfg)),
        Command::Refdata(c) => with_runtime(&global, |cfg| refdata::run(c, cfg)),
        Command::Population(c) => with_runtime(&global, |cfg| population::run(c, cfg)),
        Command::Api(c) => with_runtime(&global, |cfg| api::run(c, cfg)),
        Command::Operator(c) => with_runtime(&global, |cfg| operator::run(c, cfg)),
        Command::Electoral(c) => with_runtime(&global, |cfg| electoral::run(c, cfg)),
        Command::Pdnd(c) => with_runtime(&global, |cfg| pdnd::run(c, cfg)),
        Command::Seal(c) => with_runtime(&global, |cfg| certificate::run_seal(c, cfg)),
        Command::Certificate(c) => with_runtime(&global, |cfg| certificate::run_certificate(c, cfg)),
        Command::Verify(o) => with_runtime(&global, |cfg| certificate::run_verify(o, cfg)),
        Command::Migrate => with_runtime(&global, migrate::run),
        Command::AppRole { role } => with_runtime(&global, |cfg| migrate::app_role(role, cfg)),
        Command::Serve(o) => with_runtime(&global, |cfg| serve::run(o, cfg)),
        Command::Demo(o) => with_runtime(&global, |cfg| demo::run(o, cfg, global.data_dir.clone())),
    }
}

/// Loads the configuration, starts logging and runs `f` on a multi-threaded runtime.
pub(crate) fn with_runtime<F, Fut>(global: &Global, f: F) -> ExitCode
where
    F: FnOnce(Config) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let cfg = match global.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("anagrafe: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_logs(&cfg);
    match runtime().block_on(f(cfg)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("anagrafe: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Opts::command().debug_assert();
    }
}
