//! `anagrafe`: the register's one binary. Each subcommand lives in its own module under
//! `commands/` with its options and a `run` function.

mod commands;
mod config;
mod register;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let opts = commands::Opts::parse();
    commands::run(opts)
}
