//! `anagrafe id check` and `anagrafe id sample`: the ID ANPR's syntax and its generator.

use anagrafe_domain::{IdAnpr, IdGenerator};
use clap::Subcommand;
use rand::RngCore;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum IdCommand {
    /// Check an ID's syntax and check character: prints `valid` (exit 0) or the reason (exit 1).
    Check {
        /// The ID.
        id: String,
    },
    /// Print IDs from the generator under a throwaway random key, one per line; stores nothing.
    Sample {
        /// How many (at most the 1,757,600,000 the format allows).
        #[arg(long, default_value_t = 10)]
        count: u64,
    },
}

pub fn run(cmd: IdCommand) -> ExitCode {
    match cmd {
        IdCommand::Check { id } => match IdAnpr::parse(&id) {
            Ok(_) => {
                println!("valid");
                ExitCode::SUCCESS
            }
            Err(e) => {
                println!("invalid: {e}");
                ExitCode::from(1)
            }
        },
        IdCommand::Sample { count } => {
            if count > IdAnpr::SPACE {
                eprintln!("--count: at most {} IDs exist", IdAnpr::SPACE);
                return ExitCode::from(2);
            }
            let mut key = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let g = IdGenerator::new(&key);
            key.fill(0);
            let stdout = std::io::stdout();
            let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
            for n in 0..count {
                let id = g.id(n).expect("counter within the space");
                if writeln!(out, "{id}").is_err() {
                    return ExitCode::SUCCESS; // reader closed the pipe (e.g. `| head`)
                }
            }
            let _ = out.flush();
            ExitCode::SUCCESS
        }
    }
}
