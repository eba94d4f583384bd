//! `anagrafe population generate`: a deterministic synthetic population, loaded into the
//! register (one transaction, one audit entry) or written to a CSV file.

use crate::config::Config;
use anagrafe_domain::decode::DecodeTable;
use anagrafe_domain::{Country, Household, RefData, Residence};
use anagrafe_store::{BulkMessage, BulkReport, Store, WriteContext};
use anagrafe_testkit::PopulationGenerator;
use anyhow::Context;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum PopulationCommand {
    /// Generate persons; load them into the register, or write them to `--out`.
    Generate {
        /// How many persons.
        #[arg(long)]
        persons: u64,
        /// Seed: the same seed gives the same people.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write a CSV file instead of loading the register.
        #[arg(long, value_name = "FILE.csv")]
        out: Option<PathBuf>,
        /// Persons per batch (memory is bounded by two batches).
        #[arg(long, default_value_t = 20_000)]
        batch_size: usize,
    },
}

fn bar(total: u64) -> ProgressBar {
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} persons ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

pub async fn run(cmd: PopulationCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    let PopulationCommand::Generate { persons, seed, out, batch_size } = cmd;
    if persons == 0 {
        anyhow::bail!("--persons must be at least 1");
    }
    let batch_size = batch_size.clamp(100, 200_000);
    match out {
        Some(path) => {
            let started = Instant::now();
            write_csv(&path, persons, seed, batch_size)?;
            eprintln!("wrote {persons} persons to {} in {:.1}s", path.display(), started.elapsed().as_secs_f64());
        }
        None => {
            let store = crate::register::open(&cfg).await?;
            let started = Instant::now();
            let report = load(store, persons, seed, batch_size, true).await?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({
                    "persons": report.persons, "families": report.families, "seconds": (secs * 100.0).round() / 100.0,
                    "persons_per_second": (report.persons as f64 / secs).round(), "audit_seq": report.audit_seq,
                })
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Generates on a dedicated thread and loads on the runtime, two batches in flight at most.
pub async fn load(store: Arc<dyn Store>, persons: u64, seed: u64, batch_size: usize, progress: bool) -> anyhow::Result<BulkReport> {
    let (tx, rx) = tokio::sync::mpsc::channel::<BulkMessage>(2);
    let refdata = RefData::current();
    let today = chrono::Local::now().date_naive();
    let pb = if progress { bar(persons) } else { ProgressBar::hidden() };
    let pb2 = pb.clone();
    let generator = std::thread::spawn(move || {
        let mut g = PopulationGenerator::new(seed, refdata, today);
        for batch in g.batches(persons, batch_size) {
            let n = batch.persons.len() as u64;
            if tx.blocking_send(BulkMessage::Batch(batch)).is_err() {
                return; // the loader failed; its error is reported
            }
            pb2.inc(n);
        }
        // Only a complete population is committed: a panic above never gets here.
        let _ = tx.blocking_send(BulkMessage::End);
    });
    let ctx = WriteContext::cli("population-generate");
    let result = store.bulk_load(rx, &ctx).await;
    if generator.join().is_err() {
        anyhow::bail!("the population generator failed; nothing was written");
    }
    pb.finish_and_clear();
    result.context("loading the population failed; nothing was written")
}

fn write_csv(path: &PathBuf, persons: u64, seed: u64, batch_size: usize) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(
        w,
        "household,relation,surname,name,sex,birth_date,birth_place,codice_fiscale,citizenships,status,comune,address,foreign_state,foreign_locality,civil_status,email"
    )?;
    let mut g = PopulationGenerator::new(seed, RefData::current(), chrono::Local::now().date_naive());
    let pb = bar(persons);
    let mut household_base = 0i64;
    let q = |s: &str| if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() };
    for batch in g.batches(persons, batch_size) {
        for p in &batch.persons {
            let r = &p.record;
            let g = &r.generalita;
            let (hh, rel) = match r.household {
                Some(Household::Family { family_id, relation }) => (household_base + family_id + 1, relation.code()),
                Some(Household::Cohabitation { family_id, bond }) => (household_base + family_id + 1, bond.code()),
                None => (0, 0),
            };
            let (comune, address, fstate, floc) = match &r.residence {
                Residence::Italy(a) => (
                    a.comune.to_string(),
                    format!("{} {} {}", a.species, a.toponym, a.civic.as_deref().unwrap_or("")),
                    String::new(),
                    String::new(),
                ),
                Residence::Abroad { address, aire_comune } => (
                    aire_comune.to_string(),
                    address.address.as_deref().unwrap_or_default().to_owned(),
                    address.state.to_string(),
                    address.locality.to_string(),
                ),
            };
            let cits: Vec<String> = r.citizenships.iter().map(Country::storage_code).collect();
            writeln!(
                w,
                "{hh},{rel},{},{},{},{},{},{},{},{:?},{comune},{},{fstate},{},{},{}",
                q(g.name.surname().unwrap_or("")),
                q(g.name.given().unwrap_or("")),
                g.sex.as_str(),
                g.birth_date,
                g.birth_place.code(),
                g.codice_fiscale.map(|c| c.to_string()).unwrap_or_default(),
                cits.join(";"),
                r.status,
                q(address.trim()),
                q(&floc),
                r.civil_status.code(),
                r.email.as_deref().unwrap_or("")
            )?;
        }
        household_base += batch.families.len() as i64;
        pb.inc(batch.persons.len() as u64);
    }
    pb.finish_and_clear();
    w.flush()?;
    Ok(())
}
