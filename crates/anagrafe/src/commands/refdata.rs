//! `anagrafe refdata load` (into a register) and `anagrafe refdata compile` (regenerate the
//! files shipped in the source tree), both from the official ANPR formats.

use crate::config::Config;
use anagrafe_domain::RefData;
use anagrafe_domain::refdata::SOURCE_NOTE;
use anagrafe_store::WriteContext;
use anyhow::Context;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum RefdataCommand {
    /// Load comuni (and foreign states) from the official ANPR files into the register.
    Load {
        /// `ANPR_archivio_comuni.csv`.
        #[arg(long, value_name = "FILE")]
        comuni: PathBuf,
        /// `tab_stati_esteri.csv`; the register keeps its current states when absent.
        #[arg(long, value_name = "FILE")]
        stati: Option<PathBuf>,
    },
    /// Regenerate the compact files shipped with the source (crates/anagrafe-domain/data).
    Compile {
        /// `ANPR_archivio_comuni.csv`.
        #[arg(long, value_name = "FILE")]
        comuni: PathBuf,
        /// `tab_stati_esteri.csv`.
        #[arg(long, value_name = "FILE")]
        stati: PathBuf,
        /// Output directory.
        #[arg(long, value_name = "DIR", default_value = "crates/anagrafe-domain/data")]
        out: PathBuf,
    },
}

fn open(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))
}

fn compile(comuni: &Path, stati: Option<&Path>) -> anyhow::Result<RefData> {
    let stati_csv: Box<dyn std::io::Read> = match stati {
        Some(p) => Box::new(open(p)?),
        None => {
            // Keep the states in force: rebuild an ANPR-shaped table from the current data.
            let mut csv = String::from(
                "CODAT,CODISTAT,CODISO3166_1_ALPHA3,DENOMINAZIONE,DENOMINAZIONEISTAT_EN,DATAINIZIOVALIDITA,DATAFINEVALIDITA,TIPO\n",
            );
            for s in RefData::current().stati() {
                let q = |x: &str| format!("\"{}\"", x.replace('"', "\"\""));
                csv.push_str(&format!(
                    "{},{},{},{},{},{},{},{}\n",
                    s.code,
                    q(&s.istat),
                    q(s.iso3.as_deref().unwrap_or("")),
                    q(&s.name),
                    q(s.name_en.as_deref().unwrap_or("")),
                    s.valid_from,
                    s.valid_to.map(|d| d.to_string()).unwrap_or_else(|| "9999-12-31".into()),
                    if s.territory { "TERRITORIO" } else { "STATO" }
                ));
            }
            Box::new(std::io::Cursor::new(csv.into_bytes()))
        }
    };
    Ok(RefData::compile(open(comuni)?, stati_csv)?)
}

pub async fn run(cmd: RefdataCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        RefdataCommand::Load { comuni, stati } => {
            let data = compile(&comuni, stati.as_deref())?;
            let (c, s) = data.to_compact(SOURCE_NOTE);
            let store = crate::register::open(&cfg).await?;
            store.save_refdata(&c, &s, &WriteContext::cli("refdata-load")).await?;
            println!("loaded {} comuni records and {} foreign states into the register", data.comuni().len(), data.stati().len());
        }
        RefdataCommand::Compile { comuni, stati, out } => {
            let data = compile(&comuni, Some(&stati))?;
            let (c, s) = data.to_compact(SOURCE_NOTE);
            std::fs::write(out.join("comuni.tsv"), c).with_context(|| format!("cannot write into {}", out.display()))?;
            std::fs::write(out.join("stati.tsv"), s)?;
            println!("wrote {} comuni records and {} foreign states to {}", data.comuni().len(), data.stati().len(), out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
