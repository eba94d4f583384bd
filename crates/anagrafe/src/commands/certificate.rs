//! `anagrafe seal …`, `anagrafe certificate …` and `anagrafe verify`: the register's seal, the
//! certificates issued at the command line, and the offline check of a sealed PDF.

use crate::config::Config;
use anagrafe_domain::certificate::Stamp;
use anagrafe_service::certificates::{CertificateRequest, CertificateService};
use anagrafe_service::{Principal, SystemClock};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum SealCommand {
    /// Create a local CA and a seal certificate for the embedded mode (in `seal/` beside the
    /// register, or the configured files).
    Init {
        /// Organisation named in the certificates.
        #[arg(long, default_value = "Anagrafe Nazionale della Popolazione Residente")]
        organisation: String,
        /// Replace an existing seal (certificates already issued stay valid under the old CA).
        #[arg(long)]
        force: bool,
    },
    /// Print the CA certificate (PEM) that validates the register's seal.
    ExportCa {
        /// Print the whole chain (seal certificate first) instead.
        #[arg(long)]
        chain: bool,
    },
    /// Demo and tests: write a declaration PDF signed digitally by a person, with a certificate
    /// this register's local CA issues for the occasion (what a citizen's qualified signature
    /// device does). With `--handwritten-first` the file first gets a scan of a handwritten
    /// signature, as the decree wants it: before the digital ones.
    SignDeclaration {
        /// The signer's name, as the certificate states it ("Paul Schmidt").
        #[arg(long)]
        name: String,
        /// A line of the declaration's text (repeat for more).
        #[arg(long = "line", value_name = "TEXT")]
        lines: Vec<String>,
        /// Put a scanned handwritten signature in the file before signing it.
        #[arg(long)]
        handwritten_first: bool,
        /// Where to write the signed PDF.
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertificateCommand {
    /// Issue a sealed certificate and write the PDF.
    Issue {
        #[command(flatten)]
        what: What,
        /// Exemption from stamp duty (tab. 39 code); without it the stamp duty is recorded as
        /// paid at the counter.
        #[arg(long, value_name = "CODE")]
        exempt: Option<u16>,
        /// Description of exemption 99 (at most 256 characters).
        #[arg(long, value_name = "TEXT")]
        exempt_description: Option<String>,
        /// Where to write the PDF.
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
    /// Write a preview (ANTEPRIMA, no QR code, nothing stored).
    Preview {
        #[command(flatten)]
        what: What,
        /// Where to write the PDF.
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
    /// Delete the PDFs of certificates whose validity has ended (the server does it daily).
    Expire,
}

#[derive(Debug, Args)]
pub struct What {
    /// The person's ID ANPR.
    #[arg(long, value_name = "ID_ANPR")]
    person: String,
    /// Certificate type: tab. 13 code (8) or name (residenza); repeat for a combined certificate.
    #[arg(long = "type", value_name = "TYPE", required = true)]
    types: Vec<String>,
    /// Second language: it (Italian only), de, fr or sl; default: the comune's own.
    #[arg(long, value_name = "LANG")]
    lang: Option<String>,
    /// Reference date of type 20 (historical residence at a date).
    #[arg(long, value_name = "YYYY-MM-DD")]
    reference_date: Option<chrono::NaiveDate>,
    /// Comune of the issuing office (Belfiore code); default: the register's online service.
    #[arg(long, value_name = "CODE")]
    comune: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyOpts {
    /// The sealed PDF.
    file: PathBuf,
    /// CA certificate to trust (PEM, as printed by `anagrafe seal export-ca`); default: the
    /// CA of this register's seal, when there is one.
    #[arg(long, value_name = "CA.pem")]
    ca: Option<PathBuf>,
}

pub async fn run_seal(c: SealCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    let (key, chain) = crate::register::seal_paths(&cfg)?;
    match c {
        SealCommand::Init { organisation, force } => {
            init(&key, &chain, &organisation, force)?;
            println!("seal key: {}\nseal chain: {}\nCA: {}", key.display(), chain.display(), chain.with_file_name("ca.pem").display());
            Ok(ExitCode::SUCCESS)
        }
        SealCommand::SignDeclaration { name, lines, handwritten_first, out } => {
            let ca_key = chain.with_file_name("ca.key");
            let read = |p: &std::path::Path| {
                std::fs::read_to_string(p).with_context(|| format!("cannot read {} (run `anagrafe seal init`)", p.display()))
            };
            let signer = anagrafe_docs::SealIdentity::issue_signer(
                &read(&ca_key)?,
                &read(&chain.with_file_name("ca.pem"))?,
                &name,
                chrono::Utc::now(),
            )?;
            let text: Vec<&str> =
                if lines.is_empty() { vec!["Dichiarazione anagrafica"] } else { lines.iter().map(String::as_str).collect() };
            // A 64×16 grey stroke: the scan of a handwritten signature.
            let scan: Vec<u8> = (0..64 * 16).map(|i| if (i / 64 + i % 64 / 8) % 5 == 0 { 20 } else { 235 }).collect();
            let pdf = anagrafe_docs::form::text_pdf(&text, handwritten_first.then_some((64, 16, scan.as_slice())));
            let signed = signer.seal(&pdf, chrono::Utc::now(), "Dichiarazione anagrafica", &[])?;
            std::fs::write(&out, signed).with_context(|| format!("cannot write {}", out.display()))?;
            println!("{}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        SealCommand::ExportCa { chain: whole } => {
            let pem =
                std::fs::read_to_string(&chain).with_context(|| format!("cannot read {} (run `anagrafe seal init`)", chain.display()))?;
            if whole {
                print!("{pem}");
            } else {
                let key_pem = std::fs::read_to_string(&key).with_context(|| format!("cannot read {}", key.display()))?;
                print!("{}", anagrafe_docs::SealIdentity::from_pem(&key_pem, &pem)?.root_pem()?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Creates the embedded-mode PKI unless a seal exists (or `force`).
pub fn init(key: &std::path::Path, chain: &std::path::Path, organisation: &str, force: bool) -> anyhow::Result<bool> {
    if key.exists() && !force {
        bail!("a seal already exists at {} (use --force to replace it)", key.display());
    }
    let dir = key.parent().context("seal key path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let pki = anagrafe_docs::SealIdentity::generate(organisation, chrono::Utc::now())?;
    crate::commands::write_private_key(&dir.join("ca.key"), &pki.ca_key_pem)?;
    std::fs::write(chain.with_file_name("ca.pem"), &pki.ca_cert_pem)?;
    crate::commands::write_private_key(key, &pki.seal_key_pem)?;
    std::fs::write(chain, &pki.chain_pem)?;
    Ok(true)
}

/// The operator at the command line, acting for `comune` when one is named.
fn principal(comune: Option<&str>) -> anyhow::Result<Principal> {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let comune = comune.map(anagrafe_domain::Belfiore::parse).transpose().map_err(|e| anyhow::anyhow!("--comune: {e}"))?;
    Ok(Principal::command_line(&user, comune, format!("cli-certificate-{}", chrono::Utc::now().timestamp_millis())))
}

pub async fn run_certificate(c: CertificateCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    let store = crate::register::open(&cfg).await?;
    if let CertificateCommand::Expire = c {
        let n = anagrafe_service::certificates::expire(&*store, &SystemClock).await?;
        println!("deleted {n} expired certificate(s)");
        return Ok(ExitCode::SUCCESS);
    }
    let public_url =
        cfg.certificates.public_url.clone().or(cfg.oidc.public_url.clone()).unwrap_or_else(|| format!("http://{}", cfg.server.listen));
    let certs = Arc::new(crate::register::certificates(&cfg, &public_url)?);
    let service = CertificateService::new(certs, store, Arc::new(SystemClock));
    let (what, out) = match &c {
        CertificateCommand::Issue { what, out, .. } | CertificateCommand::Preview { what, out } => (what, out.clone()),
        CertificateCommand::Expire => unreachable!(),
    };
    let person = anagrafe_domain::IdAnpr::parse(&what.person).map_err(|e| anyhow::anyhow!("--person: {e}"))?;
    let kinds = what
        .types
        .iter()
        .map(|t| {
            anagrafe_domain::certificate::parse_type(t)
                .with_context(|| format!("--type {t}: not a certificate type (tab. 13 code 1-20 or its name)"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let who = principal(what.comune.as_deref())?;
    let req = CertificateRequest { person, kinds, reference_date: what.reference_date, lang: what.lang.clone() };
    let pdf = match &c {
        CertificateCommand::Preview { .. } => service.preview(&who, &req, None).await?,
        CertificateCommand::Issue { exempt, exempt_description, .. } => {
            let stamp = match exempt {
                Some(code) => Stamp::Exempt { code: *code, description: exempt_description.clone() },
                None => Stamp::Paid { payment_id: service.record_counter_payment(&who).await? },
            };
            stamp.check().map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.reason))?;
            let (meta, pdf) = service.issue(&who, &req, &stamp).await?;
            eprintln!("certificate {} issued, valid until {}", meta.id, meta.expires_on);
            pdf
        }
        CertificateCommand::Expire => unreachable!(),
    };
    std::fs::write(&out, pdf).with_context(|| format!("cannot write {}", out.display()))?;
    println!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}

pub async fn run_verify(o: VerifyOpts, cfg: Config) -> anyhow::Result<ExitCode> {
    let pdf = std::fs::read(&o.file).with_context(|| format!("cannot read {}", o.file.display()))?;
    let ca = match &o.ca {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?),
        None => crate::register::seal_paths(&cfg).ok().and_then(|(_, chain)| std::fs::read_to_string(chain.with_file_name("ca.pem")).ok()),
    };
    let report = anagrafe_docs::verify::verify_pdf(&pdf, ca.as_deref())?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(if report.ok() && report.trusted == Some(true) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
