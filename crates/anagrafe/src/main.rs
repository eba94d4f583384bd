//! `anagrafe`: the register's one binary. Each subcommand lives in its own module under
//! `commands/` with its options and a `run` function.

mod commands;
mod config;
mod register;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let opts = commands::Opts::parse();
    // The register's reasons (a refused import line, a command's error) in English words.
    anagrafe_domain::why::set_default_words(anagrafe_server::web::i18n::english);
    commands::run(opts)
}
