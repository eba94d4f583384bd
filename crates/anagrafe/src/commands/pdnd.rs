//! `anagrafe pdnd …`: public bodies on the e-services — registration (client, key, purposes)
//! and a client that performs the whole ModI dance for one call: tracking evidence, client
//! assertion, voucher, digest, integrity signature; then prints the answer.

use crate::config::Config;
use anagrafe_server::outbound::{CALL_TIMEOUT, Conn};
use anagrafe_server::pdnd::security::ASSERTION_TYPE;
use anagrafe_server::pdnd::security::client::BodySigner;
use anagrafe_store::{PdndClient, WriteContext};
use anyhow::Context;
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum PdndCommand {
    /// Registers a public body (or replaces its key and purposes): as on the national data
    /// platform, a client id, a key id with its public key, and a purpose per e-service.
    AddClient(AddClient),
    /// Revokes a public body: its vouchers and signatures are refused from the next call on.
    RevokeClient {
        /// Client id.
        #[arg(long)]
        id: String,
    },
    /// Calls an e-service as a public body: voucher, signature, tracking evidence, answer.
    Call(Call),
    /// Load script: C030 calls by codice fiscale, each signed and traced, for a fixed time, from
    /// concurrent connections; prints throughput and latency, and beside them the register's
    /// raw point-lookup rate (the same lookups straight on the database).
    Load(Load),
    /// Prints the headers a public body's call carries (voucher, tracking evidence and, for a
    /// body, its digest and signature) as JSON, for tools that send the request themselves.
    Headers(Headers),
}

#[derive(Debug, Args)]
pub struct Load {
    /// The public body's client file (JSON).
    #[arg(long, value_name = "CLIENT.json")]
    client: PathBuf,
    /// The register's base URL (default: the one in the client file).
    #[arg(long)]
    url: Option<String>,
    /// How long to run, seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Distinct persons to ask about, drawn over the whole register (which `--data-dir` or
    /// `--database-url` names).
    #[arg(long, default_value_t = 20_000)]
    persons: u32,
    /// Seconds of raw point lookups on the database before the run (0: none).
    #[arg(long, default_value_t = 5)]
    raw_seconds: u64,
}

#[derive(Debug, Args)]
pub struct Headers {
    /// The public body's client file (JSON).
    #[arg(long, value_name = "CLIENT.json")]
    client: PathBuf,
    /// The register's base URL (default: the one in the client file).
    #[arg(long)]
    url: Option<String>,
    /// E-service code.
    eservice: String,
    /// The exact body to sign (`-` for standard input); without it, headers for a GET.
    #[arg(long, value_name = "FILE")]
    body: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AddClient {
    /// The platform's client id.
    #[arg(long)]
    id: String,
    /// The public body's name.
    #[arg(long)]
    name: String,
    /// Key id of the body's key.
    #[arg(long)]
    kid: String,
    /// The body's public key (SPKI PEM), e.g. from `anagrafe api keygen`.
    #[arg(long, value_name = "FILE")]
    public_key: PathBuf,
    /// An authorised purpose: `ESERVICE=PURPOSE_ID[:DAILY_QUOTA[:PER_SECOND]]`, e.g.
    /// `C030=9f6c…:100000:50` (repeat for each e-service).
    #[arg(long = "purpose", value_name = "ESERVICE=ID", required = true)]
    purposes: Vec<String>,
    /// A public-security body (police forces): its calls are traced as every call, and not
    /// shown to the person on "who looked at my data".
    #[arg(long)]
    public_security: bool,
}

/// What a public body's gateway knows: written by `anagrafe demo` as `demo-public-body.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientFile {
    /// The platform's client id.
    pub client_id: String,
    /// Key id of the body's key.
    pub kid: String,
    /// The private key (PKCS#8 PEM), relative to this file.
    pub private_key_file: String,
    /// The register's base URL.
    pub url: String,
    /// Token endpoint (path on `url`, or a full URL).
    #[serde(default = "default_token_url")]
    pub token_url: String,
    /// Audience of client assertions.
    #[serde(default = "default_token_audience")]
    pub token_audience: String,
    /// An e-service's audience is this followed by `C030-servizio…/v1`.
    #[serde(default = "default_audience_prefix")]
    pub audience_prefix: String,
    /// The purpose authorised for each e-service.
    pub purposes: BTreeMap<String, String>,
    /// The body's user the calls are made for (tracking evidence).
    pub user_id: String,
    /// The workstation (tracking evidence).
    pub user_location: String,
    /// Level of assurance of the user's login (tracking evidence).
    pub loa: String,
}

fn default_token_url() -> String {
    "/pdnd/token.oauth2".into()
}
fn default_token_audience() -> String {
    anagrafe_server::pdnd::PdndSettings::default().token_audience
}
fn default_audience_prefix() -> String {
    anagrafe_server::pdnd::PdndSettings::default().audience_prefix
}

#[derive(Debug, Args)]
pub struct Call {
    /// The public body's client file (JSON; `anagrafe demo` writes one).
    #[arg(long, value_name = "CLIENT.json")]
    client: PathBuf,
    /// The register's base URL (default: the one in the client file).
    #[arg(long)]
    url: Option<String>,
    /// E-service code: C001, C004, C021, C030, C031.
    eservice: String,
    /// Search by codice fiscale.
    #[arg(long)]
    cf: Option<String>,
    /// Search by ID ANPR.
    #[arg(long)]
    id_anpr: Option<String>,
    /// Search by personal data: surname.
    #[arg(long)]
    surname: Option<String>,
    /// Search by personal data: name.
    #[arg(long)]
    name: Option<String>,
    /// Search by personal data: sex (M or F).
    #[arg(long)]
    sex: Option<String>,
    /// Search by personal data: birth date (YYYY-MM-DD).
    #[arg(long)]
    birth_date: Option<String>,
    /// Reference date (default: today).
    #[arg(long)]
    date: Option<String>,
    /// The file or protocol number the request is made for (motivoRichiesta).
    #[arg(long, default_value = "demo-pratica-1")]
    motivo: String,
    /// idOperazioneClient (default: a new one).
    #[arg(long)]
    op_id: Option<String>,
    /// JSON of the `verifica` part (C004, C031), e.g. '{"generalita":{"cognome":"Rossi"}}'.
    #[arg(long)]
    verifica: Option<String>,
}

pub async fn run(cmd: PdndCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        PdndCommand::Load(l) => load(l, cfg).await,
        PdndCommand::AddClient(a) => {
            let store = crate::register::open(&cfg).await?;
            let pem = std::fs::read_to_string(&a.public_key).with_context(|| format!("cannot read {}", a.public_key.display()))?;
            let mut client = client_record(&a.id, &a.name, &a.kid, &pem, &a.purposes)?;
            client.public_security = a.public_security;
            store.save_pdnd_client(&client, &WriteContext::cli("pdnd-add-client")).await?;
            let kind = if client.public_security { " as a public-security body (its calls withheld from the person's view)" } else { "" };
            println!("public body {} ({}) registered{kind} with {} purpose(s)", a.id, a.name, client.purposes.len());
            Ok(ExitCode::SUCCESS)
        }
        PdndCommand::RevokeClient { id } => {
            let store = crate::register::open(&cfg).await?;
            let mut client = store.pdnd_client(&id).await?.with_context(|| format!("no public body {id}"))?;
            client.revoked = true;
            store.save_pdnd_client(&client, &WriteContext::cli("pdnd-revoke-client")).await?;
            println!("public body {id} revoked");
            Ok(ExitCode::SUCCESS)
        }
        PdndCommand::Call(c) => call(c).await,
        PdndCommand::Headers(h) => headers(h).await,
    }
}

/// A public body's record, checked by the administrator's rules (the administration's pages
/// use the same); each purpose is `ESERVICE=PURPOSE_ID[:DAILY_QUOTA[:PER_SECOND]]`.
pub fn client_record(id: &str, name: &str, kid: &str, public_pem: &str, purposes: &[String]) -> anyhow::Result<PdndClient> {
    let mut list = Vec::new();
    for p in purposes {
        let (es, rest) = p.split_once('=').with_context(|| format!("--purpose {p}: ESERVICE=PURPOSE_ID[:DAILY[:PER_SECOND]]"))?;
        let mut parts = rest.split(':');
        let purpose_id = parts.next().unwrap_or_default();
        let daily = parts.next().unwrap_or("1000000");
        let per_second = parts.next().unwrap_or("1000");
        let purpose = anagrafe_service::admin::purpose_of(es, purpose_id, daily, per_second, name)
            .map_err(|e| super::api::refused(e).context(format!("--purpose {p}")))?;
        list.push(purpose);
    }
    anagrafe_service::admin::body_of(id, name, kid, public_pem, list, false).map_err(super::api::refused)
}

/// `(authority base, path)` of a URL that may be a path on `base`.
fn split_url(base: &str, url: &str) -> (String, String) {
    if url.starts_with('/') {
        return (base.to_owned(), url.to_owned());
    }
    let after = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after..].find('/') {
        Some(i) => (url[..after + i].to_owned(), url[after + i..].to_owned()),
        None => (url.to_owned(), "/".into()),
    }
}

/// A public body's gateway, ready to sign for one e-service.
struct Gateway {
    file: ClientFile,
    base: String,
    es: anagrafe_server::pdnd::Eservice,
    signer: BodySigner,
    audience: String,
}

impl Gateway {
    fn open(client: &Path, url: Option<&str>, eservice: &str) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(client).with_context(|| format!("cannot read {}", client.display()))?;
        let file: ClientFile = serde_json::from_str(&text).with_context(|| format!("{} is not a client file", client.display()))?;
        let base = url.unwrap_or(&file.url).trim_end_matches('/').to_owned();
        let es = anagrafe_server::pdnd::eservice_by_code(eservice).with_context(|| format!("no e-service {eservice}"))?;
        let key_path = resolve(client, &file.private_key_file);
        let pem = std::fs::read_to_string(&key_path).with_context(|| format!("cannot read {}", key_path.display()))?;
        let signer = BodySigner::new(&file.client_id, &file.kid, &pem).map_err(|e| anyhow::anyhow!(e))?;
        let audience = format!("{}{}/v1", file.audience_prefix, es.segment());
        Ok(Self { file, base, es, signer, audience })
    }

    /// The headers of a call carrying `body` (none for a GET): a tracking evidence, a voucher
    /// bound to it from the token endpoint, and for a body its digest and signature.
    /// `Err` carries the token endpoint's refusal.
    async fn headers(&self, body: Option<&[u8]>) -> anyhow::Result<Result<Vec<(&'static str, String)>, String>> {
        let f = &self.file;
        let purpose = f.purposes.get(self.es.code).with_context(|| format!("the client file has no purpose for {}", self.es.code))?;
        let evidence =
            self.signer.tracking_evidence(&self.audience, purpose, &f.user_id, &f.user_location, &f.loa).map_err(|e| anyhow::anyhow!(e))?;
        let assertion = self.signer.client_assertion(&f.token_audience, purpose, Some(&evidence)).map_err(|e| anyhow::anyhow!(e))?;
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", &f.client_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        let (token_base, token_path) = split_url(&self.base, &f.token_url);
        let conn = Conn::new(&token_base, CALL_TIMEOUT)?;
        let reply =
            conn.send("POST", &token_path, &[("content-type", "application/x-www-form-urlencoded".to_owned())], form.as_bytes()).await?;
        if reply.status != 200 {
            return Ok(Err(format!("voucher refused: HTTP {}: {}", reply.status, String::from_utf8_lossy(&reply.body))));
        }
        let token: serde_json::Value = serde_json::from_slice(&reply.body).context("the token endpoint's answer is not JSON")?;
        let voucher = token["access_token"].as_str().context("the token endpoint gave no access_token")?.to_owned();
        let mut headers = vec![("authorization", format!("Bearer {voucher}")), ("agid-jwt-trackingevidence", evidence)];
        if let Some(body) = body {
            let (digest, signature) = self.signer.integrity(&self.audience, body, "application/json").map_err(|e| anyhow::anyhow!(e))?;
            headers.extend([("agid-jwt-signature", signature), ("digest", digest), ("content-type", "application/json".to_owned())]);
        }
        Ok(Ok(headers))
    }
}

async fn call(c: Call) -> anyhow::Result<ExitCode> {
    let gw = Gateway::open(&c.client, c.url.as_deref(), &c.eservice)?;
    let es = gw.es;
    let mut criteri = serde_json::Map::new();
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            criteri.insert(k.to_owned(), serde_json::Value::from(v.clone()));
        }
    };
    put("codiceFiscale", &c.cf);
    put("idANPR", &c.id_anpr);
    put("cognome", &c.surname);
    put("nome", &c.name);
    put("sesso", &c.sex);
    if let Some(d) = &c.birth_date {
        criteri.insert("datiNascita".into(), serde_json::json!({ "dataEvento": d }));
    }
    let date = c.date.clone().unwrap_or_else(|| anagrafe_domain::ops::italian_today().to_string());
    let op_id = c.op_id.clone().unwrap_or_else(|| format!("{}", anagrafe_store::now_ms()));
    let mut request = serde_json::json!({
        "idOperazioneClient": op_id,
        "criteriRicerca": criteri,
        "datiRichiesta": { "dataRiferimentoRichiesta": date, "motivoRichiesta": c.motivo, "casoUso": es.code },
    });
    if let Some(v) = &c.verifica {
        request["verifica"] = serde_json::from_str(v).context("--verifica is not JSON")?;
    }
    let body = serde_json::to_vec(&request)?;
    let headers = match gw.headers(Some(&body)).await? {
        Ok(h) => h,
        Err(refusal) => {
            eprintln!("{refusal}");
            return Ok(ExitCode::from(1));
        }
    };
    let path = format!("/pdnd/{}/v1/anpr-service-e002", es.segment());
    let conn = Conn::new(&gw.base, CALL_TIMEOUT)?;
    let reply = conn.send("POST", &path, &headers, &body).await?;
    let rid = reply.headers.iter().find(|(k, _)| k == "x-request-id").map(|(_, v)| v.as_str()).unwrap_or("-");
    eprintln!("{} HTTP {} (idOperazioneClient {op_id}, request id {rid})", es.code, reply.status);
    println!("{}", String::from_utf8_lossy(&reply.body));
    Ok(if reply.status < 400 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `anagrafe pdnd headers`: the headers a gateway sends, as a JSON object (for test tools that
/// send the request themselves, such as the schemathesis hook in CI).
async fn headers(h: Headers) -> anyhow::Result<ExitCode> {
    let gw = Gateway::open(&h.client, h.url.as_deref(), &h.eservice)?;
    let body = match &h.body {
        None => None,
        Some(p) if p.as_os_str() == "-" => {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)?;
            Some(b)
        }
        Some(p) => Some(std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?),
    };
    match gw.headers(body.as_deref()).await? {
        Ok(list) => {
            let map: serde_json::Map<String, serde_json::Value> = list.into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
            println!("{}", serde_json::Value::Object(map));
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => {
            eprintln!("{refusal}");
            Ok(ExitCode::from(1))
        }
    }
}

fn resolve(client_file: &Path, rel: &str) -> PathBuf {
    let p = Path::new(rel);
    if p.is_absolute() { p.to_owned() } else { client_file.parent().unwrap_or(Path::new(".")).join(p) }
}

/// `application/x-www-form-urlencoded` encoding of a value.
fn form_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percentile(sorted: &[std::time::Duration], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

/// Resident memory of a process, MB (Linux), if it can be read.
fn rss_mb(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU time (user and system) of a process in seconds, from `/proc/PID/stat` (Linux; the
/// kernel's clock ticks, 100 a second on the usual builds).
fn cpu_s(pid: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = s.get(s.rfind(')')? + 2..)?;
    let f: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are the 14th and 15th fields; the state is the 3rd.
    Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
}

/// CPU seconds of every process named `postgres` (the server and its backends), if any.
fn postgres_cpu_s() -> f64 {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|c| c.trim() == "postgres").unwrap_or(false))
        .filter_map(|pid| cpu_s(&pid))
        .sum()
}

/// Idle (and I/O wait) seconds of all the machine's cores, from `/proc/stat`.
fn idle_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<f64> = s.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    Some((f.get(3)? + f.get(4)?) / 100.0)
}

/// Where the CPU goes during a run: server, PostgreSQL, this process, idle.
struct CpuSnapshot {
    server: Option<f64>,
    postgres: f64,
    load: Option<f64>,
    idle: Option<f64>,
}

impl CpuSnapshot {
    fn now(server: Option<u32>) -> Self {
        Self { server: server.and_then(|p| cpu_s(&p.to_string())), postgres: postgres_cpu_s(), load: cpu_s("self"), idle: idle_s() }
    }

    /// The CPU per call (µs) of each, and the idle share of the cores, since `before`.
    fn per_call(&self, before: &Self, calls: usize, secs: f64) -> String {
        let us = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if calls > 0 => format!("{:.0} µs", (a - b) * 1e6 / calls as f64),
            _ => "-".to_owned(),
        };
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
        let idle = match (self.idle, before.idle) {
            (Some(a), Some(b)) if secs > 0.0 => format!("{:.0}%", 100.0 * (a - b) / (secs * cores)),
            _ => "-".to_owned(),
        };
        format!(
            "CPU per call: server {}, PostgreSQL {}, load script {}; idle {idle} of {cores:.0} cores",
            us(self.server, before.server),
            us(Some(self.postgres), Some(before.postgres)),
            us(self.load, before.load),
        )
    }
}

async fn load(l: Load, cfg: Config) -> anyhow::Result<ExitCode> {
    use std::time::{Duration, Instant};
    let gw = std::sync::Arc::new(Gateway::open(&l.client, l.url.as_deref(), "C030")?);
    let store = crate::register::open(&cfg).await?;
    let cfs = std::sync::Arc::new(store.spread_codici_fiscali(l.persons, 20261201).await?);
    if cfs.is_empty() {
        anyhow::bail!("the register holds no codice fiscale to ask about");
    }
    eprintln!("{} persons to ask about, spread over the register", cfs.len());
    let workers = l.concurrency.max(1);
    let today = anagrafe_domain::ops::italian_today();
    // The raw lookup rate: the same query the e-service makes, straight on the database.
    if l.raw_seconds > 0 {
        let deadline = Instant::now() + Duration::from_secs(l.raw_seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..workers {
            let (store, cfs) = (store.clone(), cfs.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                let mut i = w;
                while Instant::now() < deadline {
                    let cf = anagrafe_domain::CodiceFiscale::parse(&cfs[i % cfs.len()])?;
                    store.ids_by_cf(&cf, Some(today)).await?;
                    n += 1;
                    i += workers;
                }
                anyhow::Ok(n)
            }));
        }
        let mut n = 0;
        for t in tasks {
            n += t.await??;
        }
        println!(
            "raw point lookups (codice fiscale -> ID ANPR) on the database: {:.0}/s with {workers} connections",
            n as f64 / started.elapsed().as_secs_f64()
        );
    }
    let server_pid = std::env::var("PDND_LOAD_SERVER_PID").ok().and_then(|p| p.parse::<u32>().ok());
    let deadline = Instant::now() + Duration::from_secs(l.seconds);
    let started = Instant::now();
    let cpu_before = CpuSnapshot::now(server_pid);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (gw, cfs) = (gw.clone(), cfs.clone());
        let run = format!("{:x}", anagrafe_store::now_ms());
        tasks.push(tokio::spawn(async move {
            // A voucher and its tracking evidence serve many calls; each call is signed anew.
            let base = match gw.headers(None).await? {
                Ok(h) => h,
                Err(refusal) => anyhow::bail!(refusal),
            };
            let conn = Conn::new(&gw.base, CALL_TIMEOUT)?;
            let path = format!("/pdnd/{}/v1/anpr-service-e002", gw.es.segment());
            let (mut lat, mut errors, mut i) = (Vec::new(), 0u64, w);
            while Instant::now() < deadline {
                let body = serde_json::to_vec(&serde_json::json!({
                    "idOperazioneClient": format!("load-{run}-{w}-{i}"),
                    "criteriRicerca": { "codiceFiscale": cfs[i % cfs.len()] },
                    "datiRichiesta": { "dataRiferimentoRichiesta": today.to_string(), "motivoRichiesta": "carico di prova", "casoUso": "C030" },
                }))?;
                i += workers;
                let t = Instant::now();
                let (digest, signature) = gw.signer.integrity(&gw.audience, &body, "application/json").map_err(|e| anyhow::anyhow!(e))?;
                let mut headers = base.clone();
                headers.extend([("agid-jwt-signature", signature), ("digest", digest), ("content-type", "application/json".to_owned())]);
                let reply = conn.send("POST", &path, &headers, &body).await?;
                lat.push(t.elapsed());
                if reply.status != 200 {
                    errors += 1;
                    if errors == 1 {
                        eprintln!("first error: HTTP {} {}", reply.status, String::from_utf8_lossy(&reply.body));
                    }
                }
            }
            anyhow::Ok((lat, errors))
        }));
    }
    let mut peak = 0.0f64;
    if let Some(pid) = server_pid {
        while Instant::now() < deadline {
            peak = peak.max(rss_mb(pid).unwrap_or(0.0));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await??;
        lat.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = CpuSnapshot::now(server_pid).per_call(&cpu_before, lat.len(), secs);
    lat.sort();
    println!(
        "{} C030 calls (signed, traced) in {secs:.1} s with {workers} connections: {:.0}/s, errors {errors}, latency ms p50 {:.1} p95 {:.1} p99 {:.1}{}",
        lat.len(),
        lat.len() as f64 / secs,
        percentile(&lat, 0.5),
        percentile(&lat, 0.95),
        percentile(&lat, 0.99),
        server_pid.map(|_| format!(", server RSS peak {peak:.0} MB")).unwrap_or_default()
    );
    println!("{cpu}");
    Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
