//! `anagrafe audit`: the trace's verification, checkpoints and exports (`docs/trace.md`).

use crate::config::Config;
use anagrafe_service::trace;
use anagrafe_store::CheckpointKey;
use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the whole chain against every signed checkpoint (database and file); exit 1 and
    /// name the first bad entry when something was rewritten, deleted or forged.
    Verify {
        /// The register's public key (PEM) to check the checkpoints with; by default the
        /// register's own signing key.
        #[arg(long, value_name = "PUB")]
        key: Option<PathBuf>,
    },
    /// Sign the trace's head now (kept in the database and appended to the checkpoint file).
    Checkpoint,
    /// Write a segment of the trace with the checkpoints that vouch for it, as JSON lines
    /// (a checkpoint of the head is made first).
    Export {
        /// Where to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// First entry (default 1).
        #[arg(long, default_value_t = 1)]
        from: i64,
        /// Last entry (default: the head); stretched to the next checkpoint.
        #[arg(long)]
        to: Option<i64>,
    },
    /// Move the entries older than a year (or than --before) to a compressed, signed archive
    /// segment in audit.archive_dir, and delete the segments past their ten years (SEC-4).
    /// Run daily; on PostgreSQL as the database's owner (the server's role cannot delete).
    Archive {
        /// Archive the entries written before this day (YYYY-MM-DD; default: a year ago).
        #[arg(long)]
        before: Option<chrono::NaiveDate>,
    },
    /// Write the security report of the day, week or month holding a date, as JSON or PDF
    /// (what the server e-mails each morning to `audit.report_to`).
    Report {
        /// day, week or month.
        #[arg(long, default_value = "day")]
        period: String,
        /// A day of the period (YYYY-MM-DD; default today, Italian time).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// json or pdf.
        #[arg(long, default_value = "json")]
        format: String,
        /// Where to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Verify an exported segment with the register's public key alone (no register needed).
    VerifyExport {
        /// The export.
        file: PathBuf,
        /// The register's public key (PEM), as `/.well-known/anagrafe/register-key.pem` serves it.
        #[arg(long, value_name = "PUB")]
        key: PathBuf,
    },
}

fn read_key(path: &std::path::Path) -> anyhow::Result<CheckpointKey> {
    let pem = std::fs::read_to_string(path).with_context(|| format!("cannot read the key {}", path.display()))?;
    CheckpointKey::from_pem(&pem).with_context(|| format!("{}", path.display()))
}

fn print_findings(findings: &[String]) {
    for f in findings {
        eprintln!("FOUND: {f}");
    }
}

pub async fn run(cmd: AuditCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { key } => {
            // The register first: an embedded one's folder is created with its owner-only mode.
            let store = crate::register::open(&cfg).await?;
            let key = match key {
                Some(p) => Some(read_key(&p)?),
                None => crate::register::checkpointer(&cfg)?.map(|c| c.public_key()),
            };
            let Some(key) = key else {
                eprintln!("no register signing key: the chain is checked without its checkpoints (set server.signing_key_file)");
                let report = store.verify_audit_chain().await?;
                println!("{}", serde_json::to_string(&report)?);
                return Ok(if report.is_intact() { ExitCode::SUCCESS } else { ExitCode::from(1) });
            };
            let file = crate::register::checkpoint_file(&cfg);
            let archive = crate::register::archive_dir(&cfg);
            let verdict = trace::verify(&*store, &key, file.as_ref(), archive.as_deref()).await?;
            // Traced, so that a failing check reaches the security officer's alerts.
            let who = anagrafe_service::Principal::command_line(
                &crate::commands::electoral::whoami(),
                None,
                format!("audit-verify-{}", anagrafe_store::now_ms()),
            );
            trace::record_check(&*store, &who, &verdict).await?;
            println!("{}", serde_json::to_string(&verdict)?);
            print_findings(&verdict.findings());
            Ok(if verdict.is_intact() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        AuditCommand::Archive { before } => {
            let store = crate::register::open(&cfg).await?;
            let dir = crate::register::archive_dir(&cfg).context("set audit.archive_dir: where the trace's archive segments are kept")?;
            // The segment must end at a signed checkpoint: sign the head first when the register can.
            if let Some(cp) = crate::register::checkpointer(&cfg)? {
                cp.checkpoint(&*store, &anagrafe_service::SystemClock).await?;
            }
            let clock = anagrafe_service::SystemClock;
            let before_ms = match before {
                Some(d) => anagrafe_service::security::italian_midnight_ms(d),
                None => (chrono::Utc::now() - chrono::Duration::days(trace::ONLINE_DAYS)).timestamp_millis(),
            };
            let who = anagrafe_service::Principal::command_line(
                &super::electoral::whoami(),
                None,
                format!("audit-archive-{}", anagrafe_store::now_ms()),
            );
            match trace::archive(&*store, &dir, before_ms, &who, &clock).await? {
                Some(a) => println!("{}", serde_json::to_string(&a)?),
                None => eprintln!("nothing to archive: no entry before the cutoff is covered by a signed checkpoint"),
            }
            let purged = trace::purge_archives(&*store, &dir, &who, &clock).await?;
            if purged > 0 {
                eprintln!("{purged} archive segment(s) past their ten years deleted");
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Report { period, date, format, out } => {
            use anagrafe_service::report::{self, Period};
            let period = Period::parse(&period).with_context(|| format!("--period {period}: one of day, week, month"))?;
            anyhow::ensure!(matches!(format.as_str(), "json" | "pdf"), "--format {format}: json or pdf");
            let store = crate::register::open(&cfg).await?;
            let clock = anagrafe_service::SystemClock;
            let day = date.unwrap_or_else(|| anagrafe_domain::ops::italian_date(chrono::Utc::now()));
            let r = report::build(&*store, period, day, &clock).await?;
            let who = anagrafe_service::Principal::command_line(
                &super::electoral::whoami(),
                None,
                format!("audit-report-{}", anagrafe_store::now_ms()),
            );
            let mut e = who.entry("audit.report", "ok");
            e.detail = serde_json::json!({ "period": period, "from": r.from, "to": r.to }).to_string();
            store.audit(&e).await?;
            let bytes = if format == "pdf" { report::pdf(&r).await? } else { report::json(&r) };
            std::fs::write(&out, bytes).with_context(|| format!("cannot write {}", out.display()))?;
            println!("{} report {} … {} written to {}", period.as_str(), r.from, r.to, out.display());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Checkpoint => {
            let store = crate::register::open(&cfg).await?;
            let cp = crate::register::checkpointer(&cfg)?.context("the register has no signing key (set server.signing_key_file)")?;
            match cp.checkpoint(&*store, &anagrafe_service::SystemClock).await? {
                Some(c) => println!("{}", serde_json::to_string(&c)?),
                None => eprintln!("the last checkpoint already covers the head (or the trace is empty)"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export { out, from, to } => {
            let store = crate::register::open(&cfg).await?;
            let cp = crate::register::checkpointer(&cfg)?;
            match &cp {
                Some(cp) => {
                    cp.checkpoint(&*store, &anagrafe_service::SystemClock).await?;
                }
                None => eprintln!("no register signing key: the export's last entries are not vouched for by a checkpoint"),
            }
            let f = std::fs::File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let mut w = std::io::BufWriter::new(f);
            let header = trace::export(&*store, from, to, &mut w).await?;
            eprintln!("entries {}…{} written to {}", header.from, header.to, out.display());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::VerifyExport { file, key } => {
            let key = read_key(&key)?;
            let f = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let verdict = match trace::verify_export(std::io::BufReader::new(f), &key) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    return Ok(ExitCode::from(2));
                }
            };
            println!("{}", serde_json::to_string(&verdict)?);
            print_findings(&verdict.findings());
            Ok(if verdict.is_intact() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}
