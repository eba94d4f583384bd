//! Configuration, layered: defaults → `--config FILE` (TOML) → `ANAGRAFE_SECTION__KEY`
//! environment variables → command-line flags.

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Database.
    pub database: DatabaseConfig,
    /// HTTP server.
    pub server: ServerConfig,
    /// Operational logs.
    pub log: LogConfig,
    /// The ID ANPR generator's key.
    pub id_anpr: IdAnprConfig,
    /// Citizens' identity providers.
    #[serde(default)]
    pub oidc: OidcConfig,
    /// Rate limits, blocking, trusted proxies.
    #[serde(default)]
    pub limits: anagrafe_server::auth::limits::LimitSettings,
    /// Certificates: seal, branding, validity, payments.
    #[serde(default)]
    pub certificates: CertificatesConfig,
    /// E-services for public bodies (PDND, ModI).
    #[serde(default)]
    pub pdnd: PdndConfig,
    /// The deploying body: controller, DPO's contact, accessibility statement's facts.
    #[serde(default)]
    pub publisher: anagrafe_server::Publisher,
    /// The trace's signed checkpoints.
    #[serde(default)]
    pub audit: AuditConfig,
    /// The registry extracts (issue 19; `docs/extracts.md`).
    #[serde(default)]
    pub extracts: ExtractsConfig,
}

/// The registry extracts: silence-consent and the TOP users' alarms.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExtractsConfig {
    /// Hours after which a deferred extract nobody decided is approved by silence-consent;
    /// 0: never (a mediator decides every one).
    pub silence_after_h: u64,
    /// Seconds between runs of the silence-consent job while the server runs.
    pub silence_interval_s: u64,
    /// The night of the night alarm, Italian time (`HH:MM`): from …
    pub night_from: String,
    /// … to.
    pub night_to: String,
    /// Requests on one subject in one day past which the TOP users are alarmed.
    pub daily_threshold: u64,
    /// Seconds between runs of the notices' job (the daily e-mail of the day before, the
    /// alarms as they arise) while the server runs, through the certificates' mail delivery;
    /// 0: no notices.
    pub notices_interval_s: u64,
}

impl Default for ExtractsConfig {
    fn default() -> Self {
        Self {
            silence_after_h: 48,
            silence_interval_s: 300,
            night_from: "22:00".into(),
            night_to: "06:00".into(),
            daily_threshold: 5,
            notices_interval_s: 300,
        }
    }
}

impl ExtractsConfig {
    /// The settings the use cases read; a time that is not `HH:MM` is refused, naming the key.
    pub fn settings(&self) -> anyhow::Result<anagrafe_service::extracts::ExtractSettings> {
        let time = |key: &str, v: &str| {
            chrono::NaiveTime::parse_from_str(v.trim(), "%H:%M").map_err(|_| anyhow::anyhow!("extracts.{key}: {v:?} is not a time HH:MM"))
        };
        let hours = i64::try_from(self.silence_after_h)
            .ok()
            .filter(|h| *h <= 24 * 365)
            .ok_or_else(|| anyhow::anyhow!("extracts.silence_after_h: at most a year of hours"))?;
        Ok(anagrafe_service::extracts::ExtractSettings {
            silence_after_ms: hours * 3_600_000,
            night: anagrafe_domain::extract::NightWindow {
                from: time("night_from", &self.night_from)?,
                to: time("night_to", &self.night_to)?,
            },
            daily_threshold: self.daily_threshold,
        })
    }
}

/// The trace's signed checkpoints (issue 18, item 1; `docs/trace.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Seconds between checkpoints while the server runs (one more is made at shutdown); 0
    /// turns the periodic job off.
    pub checkpoint_interval_s: u64,
    /// Seconds between runs of the log analysis that raises the security officer's alerts
    /// (SEC-5); 0 turns it off.
    pub analysis_interval_s: u64,
    /// Where the security reports of the day, week and month just ended are e-mailed each
    /// morning (through `certificates.smtp_url`, or the embedded outbox); empty: not sent.
    pub report_to: Vec<String>,
    /// The append-only file of checkpoints, outside the database. Unset for an embedded
    /// register: `trace-checkpoints.jsonl` beside its database; unset on PostgreSQL: none
    /// (the server warns), set it to a disk other than the database's.
    pub checkpoint_file: Option<PathBuf>,
    /// Where `anagrafe audit archive` writes the trace's archive segments (entries older than
    /// a year, kept ten years). Unset: `trace-archive/` beside an embedded register's
    /// database; on PostgreSQL it must be set (a disk the database's administrators do not
    /// manage, backed up with the register).
    pub archive_dir: Option<PathBuf>,
    /// An external witness: each new checkpoint is POSTed there as JSON (`http://` only,
    /// e.g. a collector the security officer runs). Failures are logged and retried with the
    /// next checkpoint.
    pub witness_url: Option<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_interval_s: 300,
            analysis_interval_s: 60,
            report_to: Vec::new(),
            checkpoint_file: None,
            archive_dir: None,
            witness_url: None,
        }
    }
}

/// E-services for public bodies (issue 4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PdndConfig {
    /// IDN-4's regime: every e-service but C030 accepts the ID ANPR as its only criterion.
    pub id_only: bool,
    /// The `iss` of vouchers (production: the national data platform's, e.g.
    /// `interop.pagopa.it`).
    pub issuer: String,
    /// An e-service's audience: this prefix followed by `C030-servizio…/v1`.
    pub audience_prefix: String,
    /// Audience of client assertions at the embedded token endpoint.
    pub token_audience: String,
    /// Production: the platform's JWKS URL. Unset: the register issues vouchers itself at
    /// `POST /pdnd/token.oauth2`, signed with its signing key (embedded mode).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Days an answer is kept for replays of its `idOperazioneClient` (it holds personal data).
    pub answer_retention_days: u32,
}

impl Default for PdndConfig {
    fn default() -> Self {
        let d = anagrafe_server::pdnd::PdndSettings::default();
        Self {
            id_only: d.id_only,
            issuer: d.issuer,
            audience_prefix: d.audience_prefix,
            token_audience: d.token_audience,
            jwks_url: d.jwks_url,
            answer_retention_days: d.answer_retention_days,
        }
    }
}

/// Certificates (issue 5).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificatesConfig {
    /// The seal's private key (PKCS#8 PEM, ECDSA P-256). Unset for an embedded register:
    /// `seal/seal.key` beside its database, created by `anagrafe seal init`.
    #[serde(default)]
    pub seal_key_file: Option<PathBuf>,
    /// The seal certificate followed by its issuers (PEM). Unset: `seal/seal-chain.pem`.
    #[serde(default)]
    pub seal_chain_file: Option<PathBuf>,
    /// Public base URL of the verification pages, printed in the QR code. Unset:
    /// `oidc.public_url`, else `http://` + the listening address.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Heading printed on every certificate.
    pub heading: String,
    /// Administration line above the heading.
    pub administration: String,
    /// The issuer's logo (SVG); unset: the built-in one.
    #[serde(default)]
    pub logo_file: Option<PathBuf>,
    /// Months a certificate stays valid and downloadable.
    pub validity_months: u32,
    /// Accept stamp-duty payments through the local payment interface (embedded mode only;
    /// production uses the national payment platform).
    pub local_payments: bool,
    /// Directory where e-mailed certificates are written as `.eml` files for the mail relay.
    /// Unset for an embedded register: `outbox/` beside its database; unset on PostgreSQL: no
    /// e-mail delivery (unless `smtp_url` is set).
    #[serde(default)]
    pub outbox_dir: Option<PathBuf>,
    /// The SMTP relay e-mailed certificates are sent to at once, instead of the outbox:
    /// `smtps://user:password@host:465`, `smtp://user:password@host:587?tls=required`, or
    /// `smtp://localhost:25`. It holds a password: give it as `ANAGRAFE_CERTIFICATES__SMTP_URL`
    /// from the deployment's secrets, not in a file kept with the code.
    #[serde(default)]
    pub smtp_url: Option<SecretUrl>,
    /// Sender of e-mailed certificates.
    pub mail_from: String,
}

impl Default for CertificatesConfig {
    fn default() -> Self {
        Self {
            seal_key_file: None,
            seal_chain_file: None,
            public_url: None,
            heading: "Anagrafe Nazionale della Popolazione Residente".into(),
            administration: "Ministero dell'Interno".into(),
            logo_file: None,
            validity_months: 6,
            local_payments: true,
            outbox_dir: None,
            smtp_url: None,
            mail_from: "Anagrafe Nazionale <noreply@anagrafe.invalid>".into(),
        }
    }
}

/// Citizens' login by OpenID Connect.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The register's public base URL (`https://anagrafe.example.it`): redirect URIs hang from
    /// it. Unset: `http://` + the address the server listens on (development only).
    #[serde(default)]
    pub public_url: Option<String>,
    /// Serve the development identity provider (demo identities, no real authentication).
    /// Never in production.
    #[serde(default)]
    pub dev_idp: bool,
    /// The providers (SPID, CIE, eIDAS node…): `[[oidc.providers]]` with `name`, `issuer`,
    /// `client_id`, optional `client_secret`, `scopes`, `min_loa`.
    #[serde(default)]
    pub providers: Vec<anagrafe_server::auth::oidc::Provider>,
}

/// Where the ID ANPR generator's secret key is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdAnprConfig {
    /// File holding the 128-bit key in hex (readable by the service only). Unset for an
    /// embedded register: `id-anpr.key` beside its database, created on first use.
    pub key_file: Option<PathBuf>,
    /// Version of that key, recorded with each ID (raise it when rotating the key).
    pub key_version: i16,
}

/// A URL that may hold a password (the SMTP relay's): printed with the password masked.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(pub String);

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

/// Where the register lives.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://…`. May hold a password: never printed whole.
    pub url: String,
    /// Whether commands bring the schema up to date when they open the register. A PostgreSQL
    /// register served under the restricted role of `anagrafe app-role` sets it to `false` and
    /// runs `anagrafe migrate` as the database's owner on upgrades.
    #[serde(default = "yes")]
    pub migrate: bool,
}

fn yes() -> bool {
    true
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig").field("url", &redact_url(&self.url)).finish()
    }
}

/// HTTP server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The `aud` every signed web-service request must carry (ModI `Agid-JWT-Signature`).
    pub api_audience: String,
    /// Whether the register is reached over TLS (directly or behind a proxy): responses then
    /// carry `Strict-Transport-Security`.
    #[serde(default)]
    pub tls: bool,
    /// The register's own ES256 signing key (PKCS#8 PEM), for notification pushes. Unset for an
    /// embedded register: `register-signing.key` beside its database, created on first use;
    /// unset on PostgreSQL: no pushes.
    pub signing_key_file: Option<PathBuf>,
    /// The key operators' second-factor secrets are sealed with (64 hex digits). Unset for an
    /// embedded register: `secrets.key` beside its database, created on first use; unset on
    /// PostgreSQL: the secrets stay in clear and the server warns.
    #[serde(default)]
    pub secrets_key_file: Option<PathBuf>,
}

/// Operational logs (never personal data: see docs/logging.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A `tracing` filter, e.g. `info` or `anagrafe=debug,info`.
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database: DatabaseConfig { url: sqlite_url(Path::new("anagrafe-data")), migrate: true },
            server: ServerConfig {
                listen: "127.0.0.1:8080".parse().expect("static address"),
                api_audience: anagrafe_server::DEFAULT_AUDIENCE.to_owned(),
                tls: false,
                signing_key_file: None,
                secrets_key_file: None,
            },
            log: LogConfig { format: "text".into(), level: "info".into() },
            id_anpr: IdAnprConfig { key_file: None, key_version: 1 },
            oidc: OidcConfig::default(),
            limits: Default::default(),
            certificates: CertificatesConfig::default(),
            pdnd: PdndConfig::default(),
            publisher: anagrafe_server::Publisher::default(),
            audit: AuditConfig::default(),
            extracts: ExtractsConfig::default(),
        }
    }
}

/// The SQLite URL of the embedded register in `dir`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("anagrafe.db").display())
}

/// Hides the password of a URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Loads the configuration and applies the command-line overrides.
pub fn load(file: Option<&Path>, data_dir: Option<&Path>, database_url: Option<&str>) -> anyhow::Result<Config> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if let Some(f) = file {
        if !f.exists() {
            bail!("configuration file {} does not exist", f.display());
        }
        fig = fig.merge(Toml::file(f));
    }
    // `ANAGRAFE_TEST_*` variables configure the test suite, not the register.
    fig = fig.merge(Env::prefixed("ANAGRAFE_").split("__").filter(|k| !k.as_str().to_ascii_lowercase().starts_with("test_")));
    let mut cfg: Config = fig.extract().context("invalid configuration")?;
    if let Some(dir) = data_dir {
        cfg.database.url = sqlite_url(dir);
    }
    if let Some(url) = database_url {
        cfg.database.url = url.to_owned();
    }
    if !(cfg.database.url.starts_with("sqlite:")
        || cfg.database.url.starts_with("postgres:")
        || cfg.database.url.starts_with("postgresql:"))
    {
        bail!("database.url must start with sqlite:// or postgres://");
    }
    if !matches!(cfg.log.format.as_str(), "text" | "json") {
        bail!("log.format must be \"text\" or \"json\"");
    }
    Ok(cfg)
}

/// The data directory of a SQLite URL (to create it before opening).
pub fn sqlite_dir(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    Path::new(path).parent().map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
        assert!(!format!("{:?}", DatabaseConfig { url: "postgres://u:pw@h/d".into(), migrate: true }).contains("pw"));
        assert!(!format!("{:?}", SecretUrl("smtps://u:pw@relay:465".into())).contains("pw"));
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[server]\nlisten = \"127.0.0.1:9999\"\n[log]\nlevel = \"debug\"\n").unwrap();
        let cfg = load(Some(&f), Some(Path::new("/tmp/x")), None).unwrap();
        assert_eq!(cfg.server.listen.port(), 9999);
        assert_eq!(cfg.log.level, "debug");
        assert_eq!(cfg.database.url, "sqlite:///tmp/x/anagrafe.db");
        let cfg = load(None, Some(Path::new("/tmp/x")), Some("postgres://h/db")).unwrap();
        assert_eq!(cfg.database.url, "postgres://h/db");
    }

    #[test]
    fn wrong_configurations_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[server]\nlisten = \"nowhere\"\n").unwrap();
        assert!(load(Some(&f), None, None).is_err());
        std::fs::write(&f, "[databse]\nurl = \"x\"\n").unwrap();
        assert!(load(Some(&f), None, None).is_err(), "unknown sections are refused");
        assert!(load(None, None, Some("mysql://x")).is_err());
        assert!(load(Some(Path::new("/nonexistent.toml")), None, None).is_err());
    }

    #[test]
    fn the_extracts_section_reads_times_and_refuses_bad_ones_by_key() {
        let s = ExtractsConfig::default().settings().unwrap();
        assert_eq!((s.silence_after_ms, s.daily_threshold), (48 * 3_600_000, 5));
        let night = ExtractsConfig { night_from: "23:30".into(), night_to: "05:00".into(), ..Default::default() }.settings().unwrap().night;
        assert_eq!(night.from, chrono::NaiveTime::from_hms_opt(23, 30, 0).unwrap());
        let bad = ExtractsConfig { night_from: "25:00".into(), ..Default::default() }.settings().unwrap_err();
        assert!(bad.to_string().contains("extracts.night_from"), "{bad}");
        let off = ExtractsConfig { silence_after_h: 0, ..Default::default() }.settings().unwrap();
        assert_eq!(off.silence_after_ms, 0, "by hand only");
    }
}
