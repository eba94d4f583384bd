//! `anagrafe backup` and `anagrafe restore` (SEC-3, issue 18 item 6; `docs/operations.md`).
//!
//! A backup is a folder: the database's copy encrypted under a key file (SQLite: an online
//! `VACUUM INTO` copy; PostgreSQL: `pg_dump` in directory format, each file encrypted), and
//! `manifest.json` with what the copy holds (persons, the trace's head and last checkpoint, the
//! ID counter) and each encrypted file's SHA-256, authenticated with an HMAC under the same key.
//! Keys, the ID ANPR high-water mark and the checkpoint file are not in it: they are kept apart
//! (a restored database must never bring an older mark back).
//!
//! Encryption: ChaCha20-Poly1305 (ring) over 1 MiB chunks. A file is `ANAGRAFE-BACKUP1`, a 7-byte
//! random prefix, then chunks, each a 4-byte big-endian length and the sealed chunk; a chunk's
//! nonce is the prefix, its 4-byte big-endian number and a byte that is 1 on the last chunk only,
//! and its associated data is the file's name, so chunks cannot be reordered, dropped, cut off
//! at the end or moved to another file.

use crate::config::{Config, redact_url, sqlite_dir};
use anyhow::{Context, bail, ensure};
use clap::Args;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct BackupOpts {
    /// The folder to write (created; must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The backup key (32 random bytes in hex). Embedded register: `backup.key` beside the
    /// database, created on first use; keep a copy away from the machine.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreOpts {
    /// The backup folder.
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// The backup key.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Replace an embedded register's existing database (kept aside as `anagrafe.db.before-restore-…`).
    #[arg(long)]
    force: bool,
}

const MAGIC: &[u8; 16] = b"ANAGRAFE-BACKUP1";
const CHUNK: usize = 1 << 20;

/// What a backup holds, written beside the encrypted files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// `anagrafe-backup/1`.
    pub format: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// When the backup was made (RFC 3339).
    pub made_at: String,
    /// Person records in the copy.
    pub persons: u64,
    /// The trace's head in the copy: `(seq, hash)`.
    pub trace_head: (i64, String),
    /// The last signed checkpoint in the copy: `(seq, at_ms)`.
    pub last_checkpoint: Option<(i64, i64)>,
    /// The ID generator's next counter and ceiling in the copy (the high-water mark itself is
    /// not restored: it stays beside the key).
    pub id_counter: (i64, Option<i64>),
    /// Each encrypted file (path in the folder) and its SHA-256.
    pub files: Vec<(String, String)>,
}

fn key_path(cfg: &Config, given: Option<&Path>) -> anyhow::Result<(PathBuf, bool)> {
    match (given, sqlite_dir(&cfg.database.url)) {
        (Some(p), _) => Ok((p.to_path_buf(), false)),
        (None, Some(dir)) => Ok((dir.join("backup.key"), true)),
        (None, None) => bail!("give --key-file (32 random bytes in hex; `openssl rand -hex 32 > backup.key`)"),
    }
}

fn read_backup_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the backup key {}", path.display()))?;
    let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == 32);
    let bytes = bytes.with_context(|| format!("{} must hold 64 hexadecimal characters (a 256-bit key)", path.display()))?;
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes);
    Ok(key)
}

fn backup_key(cfg: &Config, given: Option<&Path>, may_create: bool) -> anyhow::Result<[u8; 32]> {
    let (path, embedded) = key_path(cfg, given)?;
    if !path.exists() && embedded && may_create {
        crate::register::write_random_key(&path, 32)?;
        eprintln!("created the backup key {}: keep a copy away from this machine, restores need it", path.display());
    }
    read_backup_key(&path)
}

fn sealing_key(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte key"))
}

fn nonce(prefix: &[u8; 7], n: u32, last: bool) -> Nonce {
    let mut b = [0u8; 12];
    b[..7].copy_from_slice(prefix);
    b[7..11].copy_from_slice(&n.to_be_bytes());
    b[11] = u8::from(last);
    Nonce::assume_unique_for_key(b)
}

/// Reads into `buf` until it is full or the input ends; the bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Encrypts `src` into `dst` (named `name` in the backup); the ciphertext's SHA-256.
fn encrypt_file(key: &[u8; 32], src: &Path, dst: &Path, name: &str) -> anyhow::Result<String> {
    use rand::RngCore;
    let sealer = sealing_key(key);
    let mut prefix = [0u8; 7];
    rand::rngs::OsRng.fill_bytes(&mut prefix);
    let mut input = std::io::BufReader::new(std::fs::File::open(src).with_context(|| format!("cannot read {}", src.display()))?);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dst).with_context(|| format!("cannot create {}", dst.display()))?);
    let mut digest = Sha256::new();
    let mut emit = |bytes: &[u8], out: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        digest.update(bytes);
        out.write_all(bytes)
    };
    emit(MAGIC, &mut out)?;
    emit(&prefix, &mut out)?;
    let mut cur = vec![0u8; CHUNK];
    let mut next = vec![0u8; CHUNK];
    let mut len = fill(&mut input, &mut cur)?;
    let mut n: u32 = 0;
    loop {
        let next_len = if len == CHUNK { fill(&mut input, &mut next)? } else { 0 };
        let last = next_len == 0;
        let mut sealed = cur[..len].to_vec();
        sealer
            .seal_in_place_append_tag(nonce(&prefix, n, last), Aad::from(name.as_bytes()), &mut sealed)
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        emit(&u32::try_from(sealed.len())?.to_be_bytes(), &mut out)?;
        emit(&sealed, &mut out)?;
        if last {
            break;
        }
        n = n.checked_add(1).context("file too large")?;
        std::mem::swap(&mut cur, &mut next);
        len = next_len;
    }
    out.flush()?;
    out.get_ref().sync_all()?;
    Ok(hex::encode(digest.finalize()))
}

/// Decrypts `src` (named `name` in the backup) into `dst`, refusing any change, reordering or
/// cut.
fn decrypt_file(key: &[u8; 32], src: &Path, dst: &Path, name: &str) -> anyhow::Result<()> {
    let opener = sealing_key(key);
    let mut input = std::io::BufReader::new(std::fs::File::open(src).with_context(|| format!("cannot read {}", src.display()))?);
    let mut head = [0u8; 23];
    ensure!(fill(&mut input, &mut head)? == 23 && &head[..16] == MAGIC, "{name}: not an Anagrafe backup file");
    let mut prefix = [0u8; 7];
    prefix.copy_from_slice(&head[16..]);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut out = std::io::BufWriter::new(opts.open(dst).with_context(|| format!("cannot create {}", dst.display()))?);
    // A part's length, or `None` where the file ends cleanly.
    let read_len = |input: &mut std::io::BufReader<std::fs::File>| -> anyhow::Result<Option<usize>> {
        let mut len = [0u8; 4];
        match fill(input, &mut len)? {
            0 => Ok(None),
            4 => {
                let len = u32::from_be_bytes(len) as usize;
                ensure!(len <= CHUNK + 16, "{name}: damaged (a part is larger than any the backup writes)");
                Ok(Some(len))
            }
            _ => bail!("{name}: the file is cut short"),
        }
    };
    let mut len = read_len(&mut input)?.with_context(|| format!("{name}: the file is cut short (no content)"))?;
    let mut n: u32 = 0;
    loop {
        let mut sealed = vec![0u8; len];
        ensure!(fill(&mut input, &mut sealed)? == len, "{name}: the file is cut short");
        let next = read_len(&mut input)?;
        let plain = opener
            .open_in_place(nonce(&prefix, n, next.is_none()), Aad::from(name.as_bytes()), &mut sealed)
            .map_err(|_| anyhow::anyhow!("{name}: part {n} does not decrypt (wrong key, or the file was changed or cut)"))?;
        out.write_all(plain)?;
        match next {
            None => break,
            Some(l) => {
                len = l;
                n = n.checked_add(1).context("file too large")?;
            }
        }
    }
    out.flush()?;
    out.get_ref().sync_all()?;
    Ok(())
}

fn manifest_mac(key: &[u8; 32], manifest: &[u8]) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    hex::encode(ring::hmac::sign(&k, manifest).as_ref())
}

fn sqlite_db(cfg: &Config) -> Option<PathBuf> {
    let url = &cfg.database.url;
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    Some(PathBuf::from(path.split('?').next()?))
}

/// A folder only its owner can enter.
fn private_dir(path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// What a copy of the register holds, read from the copy itself.
async fn facts(store: &dyn anagrafe_store::Store) -> anyhow::Result<(u64, (i64, String), Option<(i64, i64)>, (i64, Option<i64>))> {
    let persons = store.count_persons().await?;
    let head = store.audit_head().await?;
    let last = store.checkpoints().await?.into_iter().max_by_key(|c| (c.seq, c.at_ms)).map(|c| (c.seq, c.at_ms));
    let counter = store.id_counter().await?;
    Ok((persons, head, last, counter))
}

pub async fn run_backup(opts: BackupOpts, cfg: Config) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let store = crate::register::open(&cfg).await?;
    let key = backup_key(&cfg, opts.key_file.as_deref(), true)?;
    if opts.out.exists() && std::fs::read_dir(&opts.out)?.next().is_some() {
        bail!("{} is not empty: a backup goes to a new folder", opts.out.display());
    }
    private_dir(&opts.out)?;
    let work = opts.out.join(".work");
    private_dir(&work)?;
    // The head is signed first, so the copy carries a checkpoint of its own last entry.
    if let Some(cp) = crate::register::checkpointer(&cfg)? {
        cp.checkpoint(&*store, &anagrafe_service::SystemClock).await?;
    }
    let mut files = Vec::new();
    let (backend, facts) = if let Some(db) = sqlite_db(&cfg) {
        let copy = work.join("anagrafe.db");
        let target = copy.to_str().context("the backup folder's path is not UTF-8")?.replace('\'', "''");
        // An online, consistent copy: SQLite writes the snapshot it reads into a new file.
        let live = anagrafe_store::SqliteStore::connect(&cfg.database.url).await?;
        live.exec_raw(&format!("VACUUM INTO '{target}'")).await.with_context(|| format!("cannot copy {}", db.display()))?;
        live.close().await;
        let copied = anagrafe_store::SqliteStore::connect(&format!("sqlite://{}", copy.display())).await?;
        let f = facts(&copied).await?;
        copied.close().await;
        files.push(("anagrafe.db.enc".to_owned(), encrypt_file(&key, &copy, &opts.out.join("anagrafe.db.enc"), "anagrafe.db.enc")?));
        ("sqlite", f)
    } else {
        // Facts first, then the dump: on a live register the dump holds at least these.
        let f = facts(&*store).await?;
        let dump = work.join("pg");
        let status = std::process::Command::new("pg_dump")
            .args(["--format=directory", "--no-owner", "--no-privileges", "--file"])
            .arg(&dump)
            .arg(&cfg.database.url)
            .status()
            .context("cannot run pg_dump (install postgresql-client of the server's major version)")?;
        ensure!(status.success(), "pg_dump of {} failed ({status})", redact_url(&cfg.database.url));
        let enc = opts.out.join("pg");
        private_dir(&enc)?;
        let mut names: Vec<_> = std::fs::read_dir(&dump)?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
        names.sort();
        for n in names {
            let n = n.to_str().context("pg_dump wrote a file name that is not UTF-8")?.to_owned();
            let name = format!("pg/{n}.enc");
            files.push((name.clone(), encrypt_file(&key, &dump.join(&n), &opts.out.join(&name), &name)?));
        }
        ("postgres", f)
    };
    std::fs::remove_dir_all(&work)?;
    let (persons, trace_head, last_checkpoint, id_counter) = facts;
    let manifest = Manifest {
        format: "anagrafe-backup/1".into(),
        backend: backend.into(),
        made_at: chrono::Utc::now().to_rfc3339(),
        persons,
        trace_head,
        last_checkpoint,
        id_counter,
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest)?;
    std::fs::write(opts.out.join("manifest.json"), &text)?;
    std::fs::write(opts.out.join("manifest.mac"), format!("{}\n", manifest_mac(&key, &text)))?;
    println!("{}", serde_json::json!({ "backup": opts.out, "manifest": manifest, "seconds": started.elapsed().as_secs_f64() }));
    Ok(ExitCode::SUCCESS)
}

pub async fn run_restore(opts: RestoreOpts, cfg: Config) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let key = backup_key(&cfg, opts.key_file.as_deref(), false)?;
    let text = std::fs::read(opts.from.join("manifest.json")).with_context(|| format!("{} has no manifest.json", opts.from.display()))?;
    let mac = std::fs::read_to_string(opts.from.join("manifest.mac")).unwrap_or_default();
    ensure!(mac.trim() == manifest_mac(&key, &text), "the manifest does not match the key (wrong key, or the manifest was changed)");
    let manifest: Manifest = serde_json::from_slice(&text).context("manifest.json")?;
    ensure!(manifest.format == "anagrafe-backup/1", "unknown backup format {}", manifest.format);
    for (name, sum) in &manifest.files {
        ensure!(!name.contains("..") && !name.starts_with('/'), "the manifest names a file outside the backup: {name}");
        let mut h = Sha256::new();
        std::io::copy(&mut std::fs::File::open(opts.from.join(name)).with_context(|| format!("{name} is missing"))?, &mut h)?;
        ensure!(hex::encode(h.finalize()) == *sum, "{name} is not the file the backup wrote");
    }
    match (manifest.backend.as_str(), sqlite_db(&cfg)) {
        ("sqlite", Some(db)) => {
            if let Some(dir) = db.parent() {
                private_dir(dir)?;
            }
            let incoming = db.with_extension("db.restoring");
            decrypt_file(&key, &opts.from.join("anagrafe.db.enc"), &incoming, "anagrafe.db.enc")?;
            if db.exists() {
                if !opts.force {
                    std::fs::remove_file(&incoming)?;
                    bail!("{} exists: restore into an empty data directory, or give --force to set it aside", db.display());
                }
                let aside = db.with_extension(format!("db.before-restore-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S")));
                std::fs::rename(&db, &aside)?;
                for suffix in ["-wal", "-shm"] {
                    let mut p = db.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(p));
                }
                eprintln!("the database that was there is kept as {}", aside.display());
            }
            std::fs::rename(&incoming, &db)?;
        }
        ("postgres", None) => {
            let probe = anagrafe_store::PgStore::connect(&cfg.database.url).await.context("cannot reach the database to restore into")?;
            let tables = probe.table_count().await?;
            probe.close().await;
            ensure!(tables == 0, "the database {} is not empty ({tables} tables): restore into a new one", redact_url(&cfg.database.url));
            let work = tempfile_dir(&opts.from)?;
            for (name, _) in &manifest.files {
                let plain =
                    name.strip_prefix("pg/").and_then(|n| n.strip_suffix(".enc")).context("unexpected file in a PostgreSQL backup")?;
                decrypt_file(&key, &opts.from.join(name), &work.join(plain), name)?;
            }
            let status = std::process::Command::new("pg_restore")
                .args(["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--dbname"])
                .arg(&cfg.database.url)
                .arg(&work)
                .status()
                .context("cannot run pg_restore")?;
            std::fs::remove_dir_all(&work)?;
            ensure!(
                status.success(),
                "pg_restore failed ({status}); the target database may hold nothing or part: drop and create it again"
            );
        }
        (b, _) => bail!("this backup is of a {b} register and the target is not"),
    }
    let store = crate::register::open(&cfg).await?;
    let (persons, head, last, _) = facts(&*store).await?;
    let mut problems = Vec::new();
    if persons < manifest.persons || (manifest.backend == "sqlite" && persons != manifest.persons) {
        problems.push(format!("{persons} persons restored, the manifest says {}", manifest.persons));
    }
    let at = store.audit_entries(manifest.trace_head.0 - 1, 1).await?;
    if manifest.trace_head.0 > 0 && at.first().is_none_or(|e| e.seq != manifest.trace_head.0 || e.hash != manifest.trace_head.1) {
        problems.push(format!("the trace's entry {} is not the one the manifest names", manifest.trace_head.0));
    }
    let chain = store.verify_audit_chain_with(&[]).await?;
    if let Some((seq, why)) = &chain.first_bad {
        problems.push(format!("trace entry {seq}: {why}"));
    }
    // Checkpoints kept outside the database that the restored trace does not reach: the
    // entries written after the backup are lost, and the file says how many. It is kept aside
    // (evidence), and a new file starts from the restored head.
    let mut lost = None;
    if let Some(file) = crate::register::checkpoint_file(&cfg) {
        let beyond = file.read_all()?.into_iter().filter(|c| c.seq > head.0).map(|c| c.seq).max();
        if let Some(max) = beyond {
            // The IDs issued after the backup: the highest mark those checkpoints signed stays
            // beside the key, whatever became of the mark file (IDN-2).
            if let Ok(issuer) = crate::register::id_issuer(&cfg)
                && let Some(hw) = &issuer.high_water
                && let Some(signed) = hw.signed_mark()?
            {
                let mark = hw.ensure_at_least(signed)?;
                eprintln!("the ID ANPR high-water mark stays at {mark} or above (signed in the checkpoints set aside)");
            }
            let aside = file.path().with_extension(format!("before-restore-{}.jsonl", chrono::Utc::now().format("%Y%m%dT%H%M%S")));
            std::fs::rename(file.path(), &aside)?;
            eprintln!(
                "the trace had reached entry {max} before this restore; the restored one ends at {}: {} entries written after the backup are lost. The old checkpoint file is kept as {}",
                head.0,
                max - head.0,
                aside.display()
            );
            lost = Some(max - head.0);
        }
    }
    let report = serde_json::json!({
        "restored": opts.from,
        "persons": persons,
        "trace_head": head.0,
        "last_checkpoint": last.map(|c| c.0),
        "chain_intact": chain.is_intact(),
        "entries_lost_since_backup": lost,
        "problems": problems,
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("{report}");
    for p in &problems {
        eprintln!("FOUND: {p}");
    }
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A private working folder beside the backup.
fn tempfile_dir(near: &Path) -> anyhow::Result<PathBuf> {
    let dir = near.join(format!(".restore-{}", std::process::id()));
    private_dir(&dir)?;
    Ok(dir)
}
