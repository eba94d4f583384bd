//! `anagrafe electoral load`: a comune loads the electoral data it already keeps (ELE-7).
//!
//! The file is JSON Lines, one elector per line: `{"id_anpr": "…", "data": {…}}` or
//! `{"codice_fiscale": "…", "data": {…}}`, `data` being annex 1's fields as the register keeps
//! them (`docs/electoral.md`). Every line is checked before anything is written: the person
//! must be in the register and kept by the comune, the data must hold for the person's
//! citizenships. One bad line and nothing is written; every error is printed with its line.
//! The lines are then written in batches, each one transaction with its trace entry.

use crate::config::Config;
use anagrafe_domain::Belfiore;
use anagrafe_domain::electoral::ElectoralData;
use anagrafe_service::electoral::{LineError, LoadLine};
use anagrafe_service::{ElectoralService, Principal};
use clap::Subcommand;
use serde::Deserialize;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

/// Lines written per transaction.
/// Errors printed before the rest are only counted.
const SHOWN_ERRORS: usize = 50;

#[derive(Debug, Subcommand)]
pub enum ElectoralCommand {
    /// Load a comune's existing electoral data from a JSON Lines file (ELE-7): every line is
    /// checked first; one bad line and nothing is written.
    Load {
        /// The comune loading (Belfiore code): only its residents and AIRE are accepted.
        #[arg(long)]
        comune: String,
        /// The file (`-` for standard input).
        file: PathBuf,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id_anpr: Option<String>,
    codice_fiscale: Option<String>,
    data: ElectoralData,
}

pub async fn run(cmd: ElectoralCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        ElectoralCommand::Load { comune, file } => {
            let comune = Belfiore::parse(&comune.to_ascii_uppercase()).map_err(|e| anyhow::anyhow!("--comune: {e}"))?;
            let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(&file).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", file.display()))?,
                ))
            };
            // Each line read and parsed here; who it names and whether the data hold is the
            // service's (every line checked before anything is written).
            let mut lines = Vec::new();
            let mut errors: Vec<LineError> = Vec::new();
            for (n, line) in reader.lines().enumerate() {
                let n = n + 1;
                let line = line.map_err(|e| anyhow::anyhow!("line {n}: cannot be read: {e}"))?;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Line>(&line) {
                    Ok(l) => lines.push((n, LoadLine { id_anpr: l.id_anpr, codice_fiscale: l.codice_fiscale, data: l.data })),
                    Err(e) => errors.push(LineError { line: n, reason: format!("not an electoral line: {e}") }),
                }
            }
            let store = crate::register::open(&cfg).await?;
            let service = ElectoralService::new(store);
            let who = Principal::command_line(&whoami(), Some(comune), format!("cli-electoral-load-{}", anagrafe_store::now_ms()));
            if !errors.is_empty() {
                // Lines that are not electoral lines at all: the others are only checked, so
                // that every refused line is printed at once, and nothing is written.
                if let Err(more) = service.check_load(&who, comune, lines).await? {
                    errors.extend(more);
                    errors.sort_by_key(|e| e.line);
                }
                return Ok(refused(&errors));
            }
            let written = match service.load(&who, comune, lines).await? {
                Ok(written) => written,
                Err(refused_lines) => return Ok(refused(&refused_lines)),
            };
            println!("{}", serde_json::json!({ "comune": comune.as_str(), "loaded": written }));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints the refused lines (at most `SHOWN_ERRORS`): nothing was written.
fn refused(errors: &[LineError]) -> ExitCode {
    for e in errors.iter().take(SHOWN_ERRORS) {
        eprintln!("{e}");
    }
    if errors.len() > SHOWN_ERRORS {
        eprintln!("… and {} more", errors.len() - SHOWN_ERRORS);
    }
    eprintln!("anagrafe: {} line(s) refused: nothing was written", errors.len());
    ExitCode::from(2)
}

/// The operating-system user running the command, for the trace.
pub(crate) fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "cli".to_owned())
}
