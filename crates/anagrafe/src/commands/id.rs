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
    /// Give an ID ANPR to every person without one (resumable, idempotent).
    Assign {
        /// Persons per transaction.
        #[arg(long, default_value_t = 50_000)]
        batch: u32,
    },
    /// Create a new random generator key file (readable by its owner only).
    InitKey {
        /// Where to write it; an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Print IDs from the generator under a throwaway random key, one per line; stores nothing.
    Sample {
        /// How many (at most the 1,757,600,000 the format allows).
        #[arg(long, default_value_t = 10)]
        count: u64,
    },
}

/// `id assign`: batches until no person is left without an ID.
async fn assign(batch: u32, cfg: crate::config::Config) -> anyhow::Result<ExitCode> {
    // The key first: a missing key must not leave a half-prepared register behind.
    let issuer = crate::register::id_issuer(&cfg)?;
    let store = crate::register::open(&cfg).await?;
    let report = assign_all(&*store, &issuer, batch.clamp(1, 1_000_000), true).await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// What `id assign` did.
#[derive(Debug, serde::Serialize)]
pub struct AssignReport {
    assigned: u64,
    seconds: f64,
    ids_per_second: f64,
}

/// Assigns IDs to everyone without one, a transaction per batch, with a progress bar.
pub async fn assign_all(
    store: &dyn anagrafe_store::Store,
    issuer: &anagrafe_store::IdIssuer,
    batch: u32,
    progress: bool,
) -> anyhow::Result<AssignReport> {
    let total = store.count_without_id().await?;
    let pb = if progress { indicatif::ProgressBar::new(total) } else { indicatif::ProgressBar::hidden() };
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} IDs ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let ctx = anagrafe_store::WriteContext::cli("id-assign");
    let started = std::time::Instant::now();
    if let Some(hw) = &issuer.high_water {
        hw.resume(store).await?;
    }
    // Counters are issued below the high-water mark only: when the reservation is used up, the
    // mark is raised (file first) by at least what the step needs, and the step runs again.
    let raise = |needed: i64| async move {
        match &issuer.high_water {
            Some(hw) => hw.raise(store, needed).await.map_err(anyhow::Error::from),
            None => Err(anyhow::anyhow!("the ID ANPR reservation is used up and no high-water mark is kept")),
        }
    };
    // The first assignment to a whole register is one bulk transaction; later ones go by batch.
    let initial = match store.assign_ids_initial(issuer, &ctx).await {
        Err(anagrafe_store::StoreError::IdCeiling) => {
            raise(i64::try_from(total).unwrap_or(i64::MAX / 4).saturating_mul(2)).await?;
            store.assign_ids_initial(issuer, &ctx).await?
        }
        other => other?,
    };
    if let Some(n) = initial {
        pb.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        return Ok(AssignReport {
            assigned: n,
            seconds: (seconds * 100.0).round() / 100.0,
            ids_per_second: (n as f64 / seconds.max(1e-9)).round(),
        });
    }
    let (mut assigned, mut after) = (0, 0);
    // Keyset pagination: each batch starts after the last person the previous one looked at.
    // A batch may use more counters than it has persons (a counter whose ID is taken is
    // skipped), so each refusal in a row asks for twice as many.
    let mut needed = i64::from(batch);
    loop {
        let step = match store.assign_ids(issuer, after, batch, &ctx).await {
            Err(anagrafe_store::StoreError::IdCeiling) => {
                raise(needed).await?;
                needed = needed.saturating_mul(2);
                continue;
            }
            other => other?,
        };
        needed = i64::from(batch);
        let (n, Some(last)) = step else { break };
        assigned += n;
        after = last;
        pb.inc(n);
    }
    pb.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    Ok(AssignReport { assigned, seconds: (seconds * 100.0).round() / 100.0, ids_per_second: (assigned as f64 / seconds.max(1e-9)).round() })
}

pub fn run(cmd: IdCommand, global: &super::Global) -> ExitCode {
    match cmd {
        IdCommand::Assign { batch } => super::with_runtime(global, |cfg| assign(batch, cfg)),
        IdCommand::InitKey { out } => match crate::register::write_new_key(&out) {
            Ok(()) => {
                println!("wrote a new ID ANPR key to {}", out.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("anagrafe: {e:#}");
                ExitCode::from(2)
            }
        },
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
