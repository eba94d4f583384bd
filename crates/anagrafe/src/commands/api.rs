//! `anagrafe api …`: the comuni's web services from the command line — client keys and
//! registration, a signed call, and the load script behind the write-throughput figure.

use crate::config::Config;
use anagrafe_server::modi::client::{Signer, generate_key_pair};
use anagrafe_server::outbound::{CALL_TIMEOUT, Conn};
use anagrafe_store::{ApiClient, WriteContext};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Creates a P-256 key pair for a client: PREFIX.key (private, PKCS#8, mode 0600) and
    /// PREFIX.pub (public, to register).
    Keygen {
        /// Path prefix of the two files.
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
    },
    /// Registers a client (or replaces its key) in the register.
    AddClient(AddClient),
    /// Sets where a comune client's notifications are pushed (`--url http://…`), or stops
    /// pushing (`--none`).
    SetPush {
        /// Client id.
        #[arg(long)]
        id: String,
        /// The URL to POST notifications to.
        #[arg(long, conflicts_with = "none", required_unless_present = "none")]
        url: Option<String>,
        /// Stop pushing.
        #[arg(long)]
        none: bool,
    },
    /// Revokes a client: its signatures are refused from the next request on.
    RevokeClient {
        /// Client id.
        #[arg(long)]
        id: String,
    },
    /// Sends one signed request and prints the answer.
    Call(Call),
    /// Load script: signed registrations through the API for a fixed time; prints throughput
    /// and latency.
    Load(Load),
}

#[derive(Debug, Args)]
pub struct AddClient {
    /// Client id (the `kid` of its signatures).
    #[arg(long)]
    id: String,
    /// `comune` (a comune's software) or `revenue_agency` (the Agency's gateway).
    #[arg(long, default_value = "comune")]
    role: String,
    /// Belfiore code of the comune the client acts for (role `comune`).
    #[arg(long)]
    comune: Option<String>,
    /// The client's public key (SPKI PEM).
    #[arg(long, value_name = "FILE")]
    public_key: PathBuf,
}

/// How to reach and sign for the register.
#[derive(Debug, Args)]
pub struct Target {
    /// The register's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// Client id.
    #[arg(long)]
    client_id: String,
    /// The client's private key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The audience the register expects.
    #[arg(long, default_value = anagrafe_server::DEFAULT_AUDIENCE)]
    audience: String,
}

#[derive(Debug, Args)]
pub struct Call {
    #[command(flatten)]
    target: Target,
    /// HTTP method.
    method: String,
    /// Path, e.g. `/api/v1/persons/AB12345CD`.
    path: String,
    /// JSON body file (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    body: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct Load {
    #[command(flatten)]
    target: Target,
    /// Belfiore code of the client's comune (where the synthetic births are registered).
    #[arg(long)]
    comune: String,
    /// How long to run, seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Sign this many requests before the clock starts, so that the client's own signing
    /// (done on the comune's machine in reality) does not compete with the server for the
    /// cores; the run ends early if they run out. 0: sign each request as it is sent.
    #[arg(long, default_value_t = 0)]
    presign: u64,
    /// Write the ID ANPR of every registration the server acknowledged (201) to this file, one
    /// per line, and end a connection's run quietly when the server goes away: what the crash
    /// test (`scripts/crash-test`) checks against the register after a restart.
    #[arg(long, value_name = "FILE")]
    acknowledged: Option<PathBuf>,
}

pub async fn run(cmd: ApiCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        ApiCommand::Keygen { out } => {
            let (private, public) = generate_key_pair();
            let (kf, pf) = key_paths(&out);
            write_private(&kf, &private)?;
            std::fs::write(&pf, public).with_context(|| format!("cannot write {}", pf.display()))?;
            println!("{}\n{}", kf.display(), pf.display());
            Ok(ExitCode::SUCCESS)
        }
        ApiCommand::AddClient(a) => {
            let store = crate::register::open(&cfg).await?;
            let pem = std::fs::read_to_string(&a.public_key).with_context(|| format!("cannot read {}", a.public_key.display()))?;
            let client = client_record(&a.id, &a.role, a.comune.as_deref(), &pem)?;
            store.save_api_client(&client, &WriteContext::cli("api-add-client")).await?;
            println!("client {} registered (role {})", a.id, a.role);
            Ok(ExitCode::SUCCESS)
        }
        ApiCommand::RevokeClient { id } => {
            let store = crate::register::open(&cfg).await?;
            let mut client = store.api_client(&id).await?.with_context(|| format!("no client {id}"))?;
            client.revoked = true;
            store.save_api_client(&client, &WriteContext::cli("api-revoke-client")).await?;
            println!("client {id} revoked");
            Ok(ExitCode::SUCCESS)
        }
        ApiCommand::SetPush { id, url, none: _ } => {
            if let Some(u) = &url {
                anagrafe_server::outbound::authority(u)?;
            }
            let store = crate::register::open(&cfg).await?;
            store.set_push_url(&id, url.as_deref(), &WriteContext::cli("api-set-push")).await?;
            println!("client {id}: {}", url.as_deref().map(|u| format!("notifications pushed to {u}")).unwrap_or_else(|| "no push".into()));
            Ok(ExitCode::SUCCESS)
        }
        ApiCommand::Call(c) => {
            let signer = signer(&c.target)?;
            let body = match &c.body {
                None => Vec::new(),
                Some(p) if p.as_os_str() == "-" => {
                    let mut b = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)?;
                    b
                }
                Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
            };
            let conn = Conn::new(&c.target.base, CALL_TIMEOUT)?;
            let reply = signed_send(&conn, &signer, &c.method.to_ascii_uppercase(), &c.path, &body).await?;
            let rid = reply.headers.iter().find(|(k, _)| k == "x-request-id").map(|(_, v)| v.as_str()).unwrap_or("-");
            eprintln!("HTTP {} (request id {rid})", reply.status);
            println!("{}", String::from_utf8_lossy(&reply.body));
            Ok(if reply.status < 400 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        ApiCommand::Load(l) => load(l).await,
    }
}

/// `PREFIX.key`, `PREFIX.pub`.
pub fn key_paths(prefix: &Path) -> (PathBuf, PathBuf) {
    (prefix.with_extension("key"), prefix.with_extension("pub"))
}

/// Writes a private key readable by its owner only.
pub fn write_private(path: &Path, pem: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(pem.as_bytes())?;
    Ok(())
}

/// A client record, checked by the administrator's rules (the administration's pages use the
/// same).
pub fn client_record(id: &str, role: &str, comune: Option<&str>, public_pem: &str) -> anyhow::Result<ApiClient> {
    anagrafe_service::admin::api_client_of(id, role, comune.unwrap_or_default(), public_pem).map_err(refused)
}

/// A refusal of the administrator's rules, naming the fields at fault.
pub fn refused(e: anagrafe_service::ServiceError) -> anyhow::Error {
    let fields: Vec<String> = e.field_errors().iter().map(|f| format!("{}: {}", f.field, f.reason)).collect();
    if fields.is_empty() { anyhow::anyhow!("{e}") } else { anyhow::anyhow!("refused: {}", fields.join("; ")) }
}

fn signer(t: &Target) -> anyhow::Result<Signer> {
    let pem = std::fs::read_to_string(&t.key).with_context(|| format!("cannot read {}", t.key.display()))?;
    Signer::new(&t.client_id, &t.audience, &pem).map_err(|e| anyhow::anyhow!(e))
}

async fn signed_send(
    conn: &Conn,
    signer: &Signer,
    method: &str,
    path: &str,
    body: &[u8],
) -> anyhow::Result<anagrafe_server::outbound::Reply> {
    let ct = (!body.is_empty()).then_some("application/json");
    let (digest, jws) = signer.sign(method, path, body, ct).map_err(|e| anyhow::anyhow!(e))?;
    let mut headers = vec![("digest", digest), ("agid-jwt-signature", jws)];
    if let Some(ct) = ct {
        headers.push(("content-type", ct.to_owned()));
    }
    Ok(conn.send(method, path, &headers, body).await?)
}

/// A synthetic birth in `comune`, unique by `n`.
fn birth_body(comune: &str, run: &str, n: u64) -> Vec<u8> {
    let today = chrono::Utc::now().date_naive();
    let (surname, given) = anagrafe_testkit::distinct_name(n);
    serde_json::json!({
        "client_op_id": format!("load-{run}-{n}"),
        "reason": "1",
        "effective_date": today,
        "name": { "surname": surname, "given": given },
        "sex": if n.is_multiple_of(2) { "F" } else { "M" },
        "birth_date": today.to_string(),
        "birth_place": { "kind": "comune", "code": comune },
        "citizenships": [{ "kind": "italia" }],
        "civil_status": "CelibeNubile",
        "residence": { "kind": "italy", "comune": comune, "species": "VIA", "toponym": "del Carico", "civic": (n % 200 + 1).to_string() },
        "household": { "kind": "new", "household": { "kind": "family" } },
    })
    .to_string()
    .into_bytes()
}

async fn load(l: Load) -> anyhow::Result<ExitCode> {
    let signer = signer(&l.target)?;
    let run = format!("{:x}", anagrafe_store::now_ms());
    let workers = l.concurrency.max(1);
    // Pre-signed requests, dealt round-robin to the workers.
    let mut ready: Vec<Vec<(Vec<u8>, String, String)>> = vec![Vec::new(); workers];
    for n in 0..l.presign {
        let body = birth_body(&l.comune, &run, n);
        let (digest, jws) = signer.sign("POST", "/api/v1/persons", &body, Some("application/json")).map_err(|e| anyhow::anyhow!(e))?;
        ready[(n % workers as u64) as usize].push((body, digest, jws));
    }
    if l.presign > 0 {
        eprintln!("{} requests signed in advance", l.presign);
    }
    let deadline = Instant::now() + Duration::from_secs(l.seconds);
    let started = Instant::now();
    let acked = match &l.acknowledged {
        Some(p) => Some(std::sync::Arc::new(std::sync::Mutex::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ))),
        None => None,
    };
    let mut tasks = Vec::new();
    for (w, mut presigned) in ready.into_iter().enumerate() {
        let (signer, base, comune, run) = (signer.clone(), l.target.base.clone(), l.comune.clone(), run.clone());
        let stride = workers as u64;
        let use_presigned = l.presign > 0;
        let acked = acked.clone();
        presigned.reverse();
        tasks.push(tokio::spawn(async move {
            let conn = Conn::new(&base, CALL_TIMEOUT)?;
            let (mut lat, mut errors, mut n) = (Vec::new(), 0u64, w as u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                let sent = if use_presigned {
                    let Some((body, digest, jws)) = presigned.pop() else { break };
                    let headers = [("digest", digest), ("agid-jwt-signature", jws), ("content-type", "application/json".to_owned())];
                    conn.send("POST", "/api/v1/persons", &headers, &body).await.map_err(anyhow::Error::from)
                } else {
                    let body = birth_body(&comune, &run, n);
                    n += stride;
                    signed_send(&conn, &signer, "POST", "/api/v1/persons", &body).await
                };
                let reply = match sent {
                    Ok(r) => r,
                    // The crash test: the server was killed; what it acknowledged is on file.
                    Err(_) if acked.is_some() => break,
                    Err(e) => return Err(e),
                };
                lat.push(t.elapsed());
                if reply.status == 201
                    && let Some(file) = &acked
                {
                    let id = serde_json::from_slice::<serde_json::Value>(&reply.body)
                        .ok()
                        .and_then(|v| v["id_anpr"].as_str().map(str::to_owned))
                        .unwrap_or_default();
                    let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
                    use std::io::Write;
                    writeln!(f, "{id}")?;
                }
                if reply.status != 201 {
                    errors += 1;
                    if errors == 1 {
                        eprintln!("first error: HTTP {} {}", reply.status, String::from_utf8_lossy(&reply.body));
                    }
                }
            }
            anyhow::Ok((lat, errors))
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await??;
        lat.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
    };
    println!(
        "{} signed registrations in {secs:.1} s with {} connections: {:.0}/s, errors {errors}, latency ms p50 {:.1} p95 {:.1} p99 {:.1}",
        lat.len(),
        l.concurrency,
        lat.len() as f64 / secs,
        pct(0.5),
        pct(0.95),
        pct(0.99)
    );
    Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
