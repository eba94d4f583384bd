//! `anagrafe electoral load`: a comune loads the electoral data it already keeps (ELE-7).
//!
//! The file is JSON Lines, one elector per line: `{"id_anpr": "…", "data": {…}}` or
//! `{"codice_fiscale": "…", "data": {…}}`, `data` being annex 1's fields as the register keeps
//! them (`docs/electoral.md`). Every line is checked before anything is written: the person
//! must be in the register and kept by the comune, the data must hold for the person's
//! citizenships. One bad line and nothing is written; every error is printed with its line.
//! The lines are then written in batches, each one transaction with its trace entry.

use crate::config::Config;
use anagrafe_domain::electoral::{ElectoralData, Franchise};
use anagrafe_domain::{Belfiore, CodiceFiscale, IdAnpr, IdStatus, RegisterStatus};
use anagrafe_store::{AuditEntry, Store, WriteContext};
use clap::Subcommand;
use serde::Deserialize;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

/// Lines written per transaction.
const BATCH: usize = 5_000;
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
            let store = crate::register::open(&cfg).await?;
            let (rows, errors) = check(&*store, comune, reader).await?;
            if !errors.is_empty() {
                for e in errors.iter().take(SHOWN_ERRORS) {
                    eprintln!("{e}");
                }
                if errors.len() > SHOWN_ERRORS {
                    eprintln!("… and {} more", errors.len() - SHOWN_ERRORS);
                }
                eprintln!("anagrafe: {} line(s) refused: nothing was written", errors.len());
                return Ok(ExitCode::from(2));
            }
            let ctx = WriteContext::cli("electoral-load");
            let mut written = 0;
            for chunk in rows.chunks(BATCH) {
                let entry = AuditEntry::from_ctx(&ctx, "electoral.load", "ok");
                written += store.load_electoral_data(comune.as_str(), chunk, &entry).await?;
            }
            println!("{}", serde_json::json!({ "comune": comune.as_str(), "loaded": written }));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Every line's person and data, or every line's error.
async fn check(store: &dyn Store, comune: Belfiore, reader: Box<dyn BufRead>) -> anyhow::Result<(Vec<(i64, ElectoralData)>, Vec<String>)> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (n, line) in reader.lines().enumerate() {
        let n = n + 1;
        let line = line.map_err(|e| anyhow::anyhow!("line {n}: cannot be read: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        match row(store, comune, &line).await? {
            Ok((pid, data)) if seen.insert(pid) => rows.push((pid, data)),
            Ok(_) => errors.push(format!("line {n}: this person is on an earlier line too")),
            Err(e) => errors.push(format!("line {n}: {e}")),
        }
    }
    Ok((rows, errors))
}

/// One line: the person's internal id and the data, or why the line is refused.
async fn row(store: &dyn Store, comune: Belfiore, line: &str) -> anyhow::Result<Result<(i64, ElectoralData), String>> {
    let l: Line = match serde_json::from_str(line) {
        Ok(l) => l,
        Err(e) => return Ok(Err(format!("not an electoral line: {e}"))),
    };
    let pid = match (&l.id_anpr, &l.codice_fiscale) {
        (Some(id), None) => {
            let Ok(id) = IdAnpr::parse(id.trim()) else { return Ok(Err(format!("id_anpr: {id} is not an ID ANPR"))) };
            match store.find_by_id_anpr(&id).await? {
                Some((pid, IdStatus::Valid | IdStatus::Suspended)) => pid,
                Some(_) => return Ok(Err(format!("id_anpr: {id} is no longer valid"))),
                None => return Ok(Err(format!("id_anpr: no person has {id}"))),
            }
        }
        (None, Some(cf)) => {
            let Ok(cf) = CodiceFiscale::parse(cf.trim()) else { return Ok(Err(format!("codice_fiscale: {cf} is not a codice fiscale"))) };
            match store.find_by_cf(&cf, None).await?.as_slice() {
                [pid] => *pid,
                [] => return Ok(Err(format!("codice_fiscale: no person has {cf}"))),
                _ => return Ok(Err(format!("codice_fiscale: {cf} names more than one record: use the id_anpr"))),
            }
        }
        _ => return Ok(Err("give the person's id_anpr or codice_fiscale (one of them)".into())),
    };
    let record = store.person(pid, None).await?.record;
    if !matches!(record.status, RegisterStatus::Resident | RegisterStatus::Aire) {
        return Ok(Err("the person is no longer in the register (cancelled or deceased)".into()));
    }
    if record.residence.competent_comune() != comune {
        return Ok(Err(format!("the person is kept by comune {}, not {comune}", record.residence.competent_comune())));
    }
    let problems = l.data.check(Franchise::of(&record.citizenships));
    if !problems.is_empty() {
        let text = problems.iter().map(|p| format!("data.{}: {}", p.field, p.reason)).collect::<Vec<_>>().join("; ");
        return Ok(Err(text));
    }
    Ok(Ok((pid, l.data)))
}
