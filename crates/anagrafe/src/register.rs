//! Opening the register a command works on: connect, migrate, and install the register's own
//! reference data when it holds a copy.

use crate::config::{Config, redact_url, sqlite_dir};
use anagrafe_domain::RefData;
use anagrafe_store::Store;
use anyhow::Context;
use std::sync::Arc;

/// Connects to the configured register and brings its schema up to date.
pub async fn open(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(dir) = sqlite_dir(&cfg.database.url) {
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
        // The embedded register's folder holds the database, keys and secrets: its owner only.
        owner_only(&dir, 0o700)?;
    }
    let store = anagrafe_store::connect(&cfg.database.url)
        .await
        .with_context(|| format!("cannot open the register at {}", redact_url(&cfg.database.url)))?;
    if cfg.database.migrate {
        store.migrate().await.context("cannot apply the database migrations")?;
    }
    if let Some(db) = sqlite_file(&cfg.database.url) {
        // SQLite creates its -wal and -shm files with the database file's mode.
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let path = std::path::PathBuf::from(name);
            if path.exists() {
                owner_only(&path, 0o600)?;
            }
        }
    }
    if let Some((comuni, stati)) = store.load_refdata().await? {
        let data = RefData::from_compact(&comuni, &stati).context("the register's reference data are unreadable")?;
        RefData::install(data);
    }
    Ok(store)
}

/// The ID ANPR issuer of the configured register: the key from `id_anpr.key_file`, or for an
/// embedded register `id-anpr.key` beside its database (created, readable by its owner only,
/// on first use).
/// The embedded database's file, for a `sqlite:` URL.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().filter(|p| !p.is_empty() && *p != ":memory:")?;
    Some(std::path::PathBuf::from(path))
}

/// Restricts `path` to its owner (`mode` 0700 for a folder, 0600 for a file) on Unix.
fn owner_only(path: &std::path::Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot restrict {} to its owner", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Where the ID ANPR key is, and whether it may be created there (beside an embedded database).
fn id_key_path(cfg: &Config) -> anyhow::Result<(std::path::PathBuf, bool)> {
    Ok(match (&cfg.id_anpr.key_file, sqlite_dir(&cfg.database.url)) {
        (Some(p), _) => (p.clone(), false),
        (None, Some(dir)) => (dir.join("id-anpr.key"), true),
        (None, None) => anyhow::bail!(
            "id_anpr.key_file is not set: create a key with `anagrafe id init-key --out FILE` and set ANAGRAFE_ID_ANPR__KEY_FILE"
        ),
    })
}

pub fn id_issuer(cfg: &Config) -> anyhow::Result<anagrafe_store::IdIssuer> {
    let (path, may_create) = id_key_path(cfg)?;
    if !path.exists() {
        if !may_create {
            anyhow::bail!("the ID ANPR key file {} does not exist (create it with `anagrafe id init-key --out FILE`)", path.display());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write_new_key(&path)?;
        tracing::info!(path = %path.display(), "created a new ID ANPR key for the embedded register");
    }
    let key = read_key(&path)?;
    // The generator's position is kept beside its key too, outside the database (IDN-2), and
    // signed into the trace's checkpoints, whose file outside the database is a second copy.
    let mut high_water = anagrafe_store::IdHighWater::new(anagrafe_store::IdHighWater::beside_key(&path), HIGH_WATER_BLOCK);
    if let (Some(file), Some(pem)) = (checkpoint_file(cfg), register_signing_key(cfg)?) {
        let key = anagrafe_store::CheckpointKey::from_pem(&pem).context("the register's signing key cannot check checkpoints")?;
        high_water = high_water.with_signed_copy(file, key);
    }
    Ok(anagrafe_store::IdIssuer {
        generator: anagrafe_domain::IdGenerator::new(&key),
        key_version: cfg.id_anpr.key_version,
        high_water: Some(std::sync::Arc::new(high_water)),
    })
}

/// How many counters each raise of the high-water mark reserves: one durable write of a small
/// file per this many IDs issued.
const HIGH_WATER_BLOCK: i64 = 10_000;

/// Brings the register's ID counter in line with the high-water mark beside the key before the
/// server issues any ID (a database restored from an older copy starts past every ID issued
/// since it was made).
pub async fn resume_ids(state: &anagrafe_server::AppState) -> anyhow::Result<()> {
    if let Some(hw) = state.issuer.as_ref().and_then(|i| i.high_water.as_ref()) {
        let from = hw.resume(&*state.store).await.context("cannot bring the ID counter to its high-water mark")?;
        tracing::info!(counter = from, "ID ANPR counter resumed from its high-water mark");
    }
    Ok(())
}

/// Writes a fresh random ID ANPR key, refusing to overwrite one.
pub fn write_new_key(path: &std::path::Path) -> anyhow::Result<()> {
    write_random_key(path, 16)
}

/// Writes `len` random bytes in hex to a new file readable by its owner only, refusing to
/// overwrite one: the register's symmetric keys (ID ANPR, secrets, backups).
pub fn write_random_key(path: &std::path::Path, len: usize) -> anyhow::Result<()> {
    use rand::RngCore;
    use std::io::Write;
    let mut key = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).with_context(|| format!("cannot create the key file {} (it must not exist yet)", path.display()))?;
    writeln!(f, "{}", hex::encode(&key))?;
    key.fill(0);
    Ok(())
}

fn read_key(path: &std::path::Path) -> anyhow::Result<[u8; 16]> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the ID ANPR key file {}", path.display()))?;
    let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == 16);
    let bytes = bytes.with_context(|| format!("{} must hold 32 hexadecimal characters (a 128-bit key)", path.display()))?;
    let mut key = [0u8; 16];
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// The register's signing key (PKCS#8 PEM): `server.signing_key_file`, or for an embedded
/// register `register-signing.key` beside its database (created, owner-only, on first use).
/// `None` on PostgreSQL without a configured file.
pub fn register_signing_key(cfg: &Config) -> anyhow::Result<Option<String>> {
    let path = match (&cfg.server.signing_key_file, sqlite_dir(&cfg.database.url)) {
        (Some(p), _) => p.clone(),
        (None, Some(dir)) => {
            let p = dir.join("register-signing.key");
            if !p.exists() {
                let (private, _) = anagrafe_server::modi::client::generate_key_pair();
                crate::commands::write_private_key(&p, &private)?;
                tracing::info!(path = %p.display(), "created the register's signing key");
            }
            p
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(std::fs::read_to_string(&path).with_context(|| format!("cannot read the register's signing key {}", path.display()))?))
}

/// Where the seal's key and chain are: configured, or `seal/` beside an embedded register.
pub fn seal_paths(cfg: &Config) -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    let c = &cfg.certificates;
    match (&c.seal_key_file, &c.seal_chain_file, sqlite_dir(&cfg.database.url)) {
        (Some(k), Some(ch), _) => Ok((k.clone(), ch.clone())),
        (None, None, Some(dir)) => Ok((dir.join("seal").join("seal.key"), dir.join("seal").join("seal-chain.pem"))),
        _ => anyhow::bail!(
            "set both certificates.seal_key_file and certificates.seal_chain_file (a PostgreSQL register has no data directory)"
        ),
    }
}

/// The certificate service, if the seal is configured and readable.
pub fn certificates(cfg: &Config, public_url: &str) -> anyhow::Result<anagrafe_server::certificates::Certificates> {
    let (key, chain) = seal_paths(cfg)?;
    let key_pem =
        std::fs::read_to_string(&key).with_context(|| format!("cannot read the seal key {} (run `anagrafe seal init`)", key.display()))?;
    let chain_pem = std::fs::read_to_string(&chain).with_context(|| format!("cannot read the seal chain {}", chain.display()))?;
    let seal = anagrafe_docs::SealIdentity::from_pem(&key_pem, &chain_pem)?;
    let logo = match &cfg.certificates.logo_file {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("cannot read the logo {}", p.display()))?),
        None => None,
    };
    let mut certs = anagrafe_server::certificates::Certificates::new(seal, public_url);
    certs.engine = anagrafe_docs::Engine::new(logo);
    certs.branding = anagrafe_server::certificates::Branding {
        heading: cfg.certificates.heading.clone(),
        administration: cfg.certificates.administration.clone(),
    };
    certs.validity_months = cfg.certificates.validity_months;
    certs.local_payments = cfg.certificates.local_payments;
    certs.mail = match &cfg.certificates.smtp_url {
        Some(url) => Some(
            anagrafe_server::certificates::MailDelivery::smtp(&url.0)
                .map_err(|e| anyhow::anyhow!("certificates.smtp_url ({}): {e}", redact_url(&url.0)))?,
        ),
        None => cfg
            .certificates
            .outbox_dir
            .clone()
            .or_else(|| sqlite_dir(&cfg.database.url).map(|d| d.join("outbox")))
            .map(anagrafe_server::certificates::MailDelivery::Outbox),
    };
    certs.mail_from = cfg.certificates.mail_from.clone();
    Ok(certs)
}

/// The append-only checkpoint file: `audit.checkpoint_file`, or `trace-checkpoints.jsonl`
/// beside an embedded register's database; `None` on PostgreSQL without one.
pub fn checkpoint_file(cfg: &Config) -> Option<anagrafe_store::CheckpointFile> {
    cfg.audit
        .checkpoint_file
        .clone()
        .or_else(|| sqlite_dir(&cfg.database.url).map(|d| d.join("trace-checkpoints.jsonl")))
        .map(anagrafe_store::CheckpointFile::new)
}

/// The trace's archive folder: `audit.archive_dir`, or `trace-archive/` beside an embedded
/// register's database; `None` on PostgreSQL without one.
pub fn archive_dir(cfg: &Config) -> Option<std::path::PathBuf> {
    cfg.audit.archive_dir.clone().or_else(|| sqlite_dir(&cfg.database.url).map(|d| d.join("trace-archive")))
}

/// What signs the trace's checkpoints: the register's signing key, and the file outside the
/// database. `None` when the register has no signing key (PostgreSQL without
/// `server.signing_key_file`).
pub fn checkpointer(cfg: &Config) -> anyhow::Result<Option<anagrafe_service::trace::Checkpointer>> {
    let Some(pem) = register_signing_key(cfg)? else { return Ok(None) };
    let signer = anagrafe_store::CheckpointSigner::from_pem(&pem).context("the register's signing key cannot sign checkpoints")?;
    let mut checkpointer = anagrafe_service::trace::Checkpointer::new(signer, checkpoint_file(cfg));
    // The ID generator's high-water mark goes into each checkpoint, when the register issues
    // IDs (no mark written yet is no mark signed).
    if let Ok((key, _)) = id_key_path(cfg) {
        let mark = anagrafe_store::IdHighWater::new(anagrafe_store::IdHighWater::beside_key(&key), HIGH_WATER_BLOCK);
        checkpointer = checkpointer.with_high_water(std::sync::Arc::new(mark));
    }
    Ok(Some(checkpointer))
}

/// The box operators' second-factor secrets are sealed with: `server.secrets_key_file`, or
/// `secrets.key` beside an embedded register's database (created, owner-only, on first use);
/// `None` on PostgreSQL without one.
pub fn secret_box(cfg: &Config) -> anyhow::Result<Option<anagrafe_server::auth::secrets::SecretBox>> {
    let path = match (&cfg.server.secrets_key_file, sqlite_dir(&cfg.database.url)) {
        (Some(p), _) => p.clone(),
        (None, Some(dir)) => {
            let p = dir.join("secrets.key");
            if !p.exists() {
                write_random_key(&p, 32)?;
                tracing::info!(path = %p.display(), "created the key that seals operators' second-factor secrets");
            }
            p
        }
        (None, None) => return Ok(None),
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read the secrets key {}", path.display()))?;
    let b = anagrafe_server::auth::secrets::SecretBox::from_key_text(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Some(b))
}

/// Seals every second-factor secret still stored in clear (written by an earlier version, or by
/// a tool that had no key), each change traced. How many were sealed.
pub async fn seal_stored_secrets(state: &anagrafe_server::AppState) -> anyhow::Result<usize> {
    use anagrafe_server::auth::secrets::SecretBox;
    let Some(b) = state.secrets.as_deref() else { return Ok(0) };
    let mut sealed = 0;
    for name in state.store.operator_names().await? {
        let Some(o) = state.store.operator(&name).await? else { continue };
        let reseal = |v: &Option<String>| v.as_deref().filter(|s| SecretBox::needs_sealing(s)).map(|s| Some(b.seal(&name, s)));
        let (secret, pending) = (reseal(&o.totp_secret), reseal(&o.totp_pending));
        if secret.is_none() && pending.is_none() {
            continue;
        }
        let up = anagrafe_store::OperatorUpdate { totp_secret: secret, totp_pending: pending, ..Default::default() };
        let ctx = anagrafe_store::WriteContext::cli("seal-secrets");
        let mut e = anagrafe_store::AuditEntry::from_ctx(&ctx, "operator.totp_sealed", "ok");
        e.detail = serde_json::json!({ "username": name }).to_string();
        state.store.update_operator(&name, &up, &e).await?;
        sealed += 1;
    }
    Ok(sealed)
}
