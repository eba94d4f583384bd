//! The trace's signed checkpoints (SEC-4, issue 18 item 1): making one, and verifying the trace
//! against every copy of them. The server's job, `anagrafe audit checkpoint` and `anagrafe audit
//! verify` call these; `docs/trace.md` describes the algorithm.

use crate::{Clock, ServiceError, ServiceResult};
use anagrafe_store::checkpoint::{Screened, screen};
use anagrafe_store::{ChainReport, Checkpoint, CheckpointFile, CheckpointKey, CheckpointSigner, Store};
use serde::Serialize;
use std::sync::Mutex;

/// What signs checkpoints, and the file outside the database that keeps them.
#[derive(Debug)]
pub struct Checkpointer {
    signer: CheckpointSigner,
    file: Option<CheckpointFile>,
    /// The head the last checkpoint covered (read from the database on first use).
    last: Mutex<Option<(i64, String)>>,
    /// The ID generator's high-water mark, signed into each checkpoint.
    high_water: Option<std::sync::Arc<anagrafe_store::IdHighWater>>,
}

impl Checkpointer {
    /// Signs with `signer`, appending to `file` when there is one.
    pub fn new(signer: CheckpointSigner, file: Option<CheckpointFile>) -> Self {
        Self { signer, file, last: Mutex::new(None), high_water: None }
    }

    /// Signs the ID generator's high-water mark into each checkpoint (IDN-2): a copy of it that
    /// a rewrite of the database cannot lower.
    pub fn with_high_water(mut self, mark: std::sync::Arc<anagrafe_store::IdHighWater>) -> Self {
        self.high_water = Some(mark);
        self
    }

    /// The key that verifies the checkpoints made here.
    pub fn public_key(&self) -> CheckpointKey {
        self.signer.public_key()
    }

    /// The append-only file, if any.
    pub fn file(&self) -> Option<&CheckpointFile> {
        self.file.as_ref()
    }

    /// Signs the trace's head now, unless the last checkpoint already covers it (or the trace
    /// is empty): kept in the database and appended to the file (both, or an error naming
    /// which failed). The new checkpoint, for a witness.
    pub async fn checkpoint(&self, store: &dyn Store, clock: &dyn Clock) -> ServiceResult<Option<Checkpoint>> {
        let (seq, hash) = store.audit_head().await?;
        let known = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let last = match known {
            Some(l) => Some(l),
            None => store.checkpoints().await?.into_iter().max_by_key(|c| (c.seq, c.at_ms)).map(|c| (c.seq, c.hash)),
        };
        if seq == 0 || last.as_ref().is_some_and(|(s, h)| *s == seq && *h == hash) {
            *self.last.lock().unwrap_or_else(|e| e.into_inner()) = last;
            return Ok(None);
        }
        // What the signature is about to vouch for must itself verify: the entries since the
        // last checkpoint (that one's entry included), up to the head read above. A broken
        // stretch is not signed; the failure is traced, and the security officer alerted by
        // the `chain-check` rule.
        let report = check_since(store, last.as_ref(), seq, &hash).await?;
        if let Some((bad, why)) = &report.first_bad {
            let mut e = crate::Principal::job("checkpoint", format!("checkpoint-{}", clock.now_ms())).entry("audit.chain_check", "broken");
            e.detail = serde_json::json!({ "first_bad": bad, "why": why, "head": seq }).to_string();
            store.audit(&e).await?;
            return Err(ServiceError::Unavailable(format!("the trace does not verify from entry {bad} ({why}): not signed")));
        }
        // The mark is read after the head: an ID issued by then was below a mark already written.
        let mark = match &self.high_water {
            Some(hw) => hw.read()?,
            None => None,
        };
        let c = self.signer.sign(seq, &hash, clock.now_ms(), mark);
        // The file first: should the database refuse, the outside copy still holds the head.
        if let Some(f) = &self.file {
            f.append(&c).map_err(|e| ServiceError::Unavailable(format!("cannot append to {}: {e}", f.path().display())))?;
        }
        store.save_checkpoint(&c).await?;
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((seq, hash));
        Ok(Some(c))
    }
}

/// Walks the trace from the entry of the last checkpoint `last` (from the first entry when
/// there is none) to the head `(seq, hash)`, checking the links, the contents and that the
/// checkpoint's entry still has the signed hash.
async fn check_since(store: &dyn Store, last: Option<&(i64, String)>, head_seq: i64, head_hash: &str) -> ServiceResult<ChainReport> {
    // Entries already archived are the archive's to verify: the live trace starts after the
    // last segment, linked to its last hash.
    let archived = store.trace_archives().await?.into_iter().next_back();
    if let Some(a) = archived.filter(|a| last.is_none_or(|(s, _)| *s <= a.to_seq)) {
        let mut v = anagrafe_store::audit::ChainVerifier::starting_at(a.to_seq + 1, &a.last_hash);
        let mut after = a.to_seq;
        'live: loop {
            let page = store.audit_entries(after, 10_000).await?;
            let Some(tail) = page.last() else { break };
            after = tail.seq;
            for e in &page {
                if e.seq > head_seq {
                    break 'live;
                }
                v.push(e);
            }
        }
        return Ok(v.finish(head_seq, head_hash));
    }
    let mut after = last.map_or(0, |(s, _)| s - 1);
    let mut verifier: Option<anagrafe_store::audit::ChainVerifier> = None;
    'walk: loop {
        let page = store.audit_entries(after, 10_000).await?;
        let Some(tail) = page.last() else { break };
        after = tail.seq;
        for e in &page {
            if e.seq > head_seq {
                break 'walk;
            }
            let v = verifier.get_or_insert_with(|| match last {
                // The checkpoint's own entry is read again: its hash must still be the signed one.
                Some((s, h)) => anagrafe_store::audit::ChainVerifier::starting_at(*s, &e.prev_hash).with_checkpoints(&[Checkpoint {
                    seq: *s,
                    hash: h.clone(),
                    at_ms: 0,
                    key_id: String::new(),
                    signature: String::new(),
                    id_high_water: None,
                }]),
                None => anagrafe_store::audit::ChainVerifier::default(),
            });
            v.push(e);
        }
    }
    let v = verifier.unwrap_or_else(|| match last {
        Some((s, _)) => anagrafe_store::audit::ChainVerifier::starting_at(*s, ""),
        None => anagrafe_store::audit::ChainVerifier::default(),
    });
    Ok(v.finish(head_seq, head_hash))
}

/// Traces the outcome of a full verification (`audit.chain_check`, `ok` or `broken`), so that a
/// failing check reaches the security officer's alerts.
pub async fn record_check(store: &dyn Store, who: &crate::Principal, verdict: &TraceVerdict) -> ServiceResult<()> {
    let mut e = who.entry("audit.chain_check", if verdict.is_intact() { "ok" } else { "broken" });
    e.detail = serde_json::json!({
        "head": verdict.chain.head_seq, "entries": verdict.chain.entries, "findings": verdict.findings(),
    })
    .to_string();
    store.audit(&e).await?;
    Ok(())
}

/// What verifying the trace found.
#[derive(Debug, Clone, Serialize)]
pub struct TraceVerdict {
    /// The chain walked against the checkpoints that verified.
    pub chain: ChainReport,
    /// The key the checkpoints were checked with.
    pub key_id: String,
    /// Checkpoints in the database.
    pub in_database: u64,
    /// Checkpoints in the file outside it (`None`: no file given).
    pub in_file: Option<u64>,
    /// Checkpoints in the file that the database no longer holds.
    pub missing_from_database: u64,
    /// Checkpoints not signed by the key: `(seq, where)`.
    pub forged: Vec<(i64, String)>,
    /// The archive segments (SEC-4 retention) before the live trace.
    pub archive: ArchiveVerdict,
}

impl TraceVerdict {
    /// Whether the trace is as the register signed it, archive included.
    pub fn is_intact(&self) -> bool {
        self.chain.is_intact() && self.forged.is_empty() && self.missing_from_database == 0 && self.archive.findings.is_empty()
    }

    /// One line per finding, for an operator.
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((seq, why)) = &self.chain.first_bad {
            out.push(format!("entry {seq}: {why}"));
        }
        for (seq, place) in &self.forged {
            out.push(format!("the checkpoint at entry {seq} in the {place} is not signed by key {}", self.key_id));
        }
        if self.missing_from_database > 0 {
            out.push(format!("{} checkpoints of the file are missing from the database", self.missing_from_database));
        }
        out.extend(self.archive.findings.iter().cloned());
        out
    }
}

/// Verifies the trace: the chain, against every checkpoint of the database and of `file`
/// that `key` signed; a checkpoint signed by another key is a finding, not evidence.
pub async fn verify(
    store: &dyn Store,
    key: &CheckpointKey,
    file: Option<&CheckpointFile>,
    archive_dir: Option<&std::path::Path>,
) -> ServiceResult<TraceVerdict> {
    let in_db = store.checkpoints().await?;
    let in_file = match file {
        Some(f) => Some(f.read_all().map_err(|e| ServiceError::Unavailable(format!("the checkpoint file: {e}")))?),
        None => None,
    };
    let Screened { good, forged } = screen(key, &[("database", &in_db), ("file", in_file.as_deref().unwrap_or_default())]);
    let missing_from_database = in_file.as_ref().map_or(0, |f| f.iter().filter(|c| key.verifies(c) && !in_db.contains(c)).count() as u64);
    let chain = store.verify_audit_chain_with(&good).await?;
    let archives = store.trace_archives().await?;
    let archive = match archive_dir {
        Some(dir) => verify_archives(&archives, dir, key),
        None if archives.is_empty() => ArchiveVerdict::default(),
        None => ArchiveVerdict {
            segments: archives.len() as u64,
            findings: vec!["the trace has archive segments but no archive folder was given (audit.archive_dir)".into()],
            ..Default::default()
        },
    };
    Ok(TraceVerdict {
        archive,
        chain,
        key_id: key.key_id().to_owned(),
        in_database: in_db.len() as u64,
        in_file: in_file.map(|f| f.len() as u64),
        missing_from_database,
        forged,
    })
}

/// The first line of an exported segment.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ExportHeader {
    /// `anagrafe-trace-export/1`.
    pub format: String,
    /// The first entry's sequence number.
    pub from: i64,
    /// The last entry's sequence number.
    pub to: i64,
}

/// The format name an export's header carries.
pub const EXPORT_FORMAT: &str = "anagrafe-trace-export/1";

/// One line of an export after the header.
#[derive(Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum ExportLine {
    Entry(Box<anagrafe_store::StoredAudit>),
    Checkpoint(Checkpoint),
}

/// Writes entries `from..=to` of the trace (streamed, 10,000 at a time) with the checkpoints
/// that vouch for them, as JSON lines. The segment is stretched to the first checkpoint at or
/// after `to`, so that every entry in it is covered by a signature; make a checkpoint first
/// ([`Checkpointer::checkpoint`]) to export up to the head. The header, for a summary.
pub async fn export(store: &dyn Store, from: i64, to: Option<i64>, out: &mut dyn std::io::Write) -> ServiceResult<ExportHeader> {
    let from = from.max(1);
    let mut checkpoints = store.checkpoints().await?;
    checkpoints.sort_by_key(|c| (c.seq, c.at_ms));
    let (head, _) = store.audit_head().await?;
    let wanted = to.unwrap_or(head).min(head);
    let to = checkpoints.iter().map(|c| c.seq).find(|s| *s >= wanted).unwrap_or(wanted);
    if from > to {
        return Err(ServiceError::malformed("from", format!("the trace has entries 1…{head}: nothing to export from {from}")));
    }
    let io = |e: std::io::Error| ServiceError::Unavailable(format!("cannot write the export: {e}"));
    let header = ExportHeader { format: EXPORT_FORMAT.to_owned(), from, to };
    out.write_all(&line(&header)).map_err(io)?;
    let mut after = from - 1;
    while after < to {
        let page = store.audit_entries(after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in page.into_iter().filter(|e| e.seq <= to) {
            out.write_all(&line(&ExportLine::Entry(Box::new(e)))).map_err(io)?;
        }
    }
    for c in checkpoints.into_iter().filter(|c| c.seq >= from && c.seq <= to) {
        out.write_all(&line(&ExportLine::Checkpoint(c))).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(header)
}

/// A value as one JSON line.
fn line<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec(v).expect("plain values serialise");
    out.push(b'\n');
    out
}

/// What verifying an exported segment found.
#[derive(Debug, Clone, Serialize)]
pub struct ExportVerdict {
    /// The segment's header.
    pub header: ExportHeader,
    /// The chain of the segment, against the checkpoints that verified.
    pub chain: ChainReport,
    /// Checkpoints not signed by the key: `(seq, "export")`.
    pub forged: Vec<(i64, String)>,
}

impl ExportVerdict {
    /// Whether every entry of the segment is linked and vouched for by a checkpoint the key
    /// signed.
    pub fn is_intact(&self) -> bool {
        self.chain.is_intact() && self.forged.is_empty() && self.chain.unsigned_entries == 0
    }

    /// One line per finding.
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((seq, why)) = &self.chain.first_bad {
            out.push(format!("entry {seq}: {why}"));
        }
        for (seq, _) in &self.forged {
            out.push(format!("the checkpoint at entry {seq} is not signed by the key given"));
        }
        if self.chain.unsigned_entries > 0 {
            out.push(format!(
                "the last {} entries of the segment are not covered by any checkpoint the key signed",
                self.chain.unsigned_entries
            ));
        }
        out
    }
}

/// Why an export could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct ExportError {
    /// The line (from 1).
    pub line: usize,
    /// What is wrong.
    pub why: String,
}

/// Verifies an exported segment with the register's public key alone: the header, each
/// entry's hash and link, and the checkpoints the key signed (`docs/trace.md`).
pub fn verify_export(input: impl std::io::BufRead, key: &CheckpointKey) -> Result<ExportVerdict, ExportError> {
    let mut lines = input.lines().enumerate().filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()));
    let bad = |line: usize, why: String| ExportError { line: line + 1, why };
    let (n, first) = lines.next().ok_or_else(|| bad(0, "the file is empty".into()))?;
    let first = first.map_err(|e| bad(n, e.to_string()))?;
    let header: ExportHeader = serde_json::from_str(&first).map_err(|e| bad(n, format!("not an export header ({e})")))?;
    if header.format != EXPORT_FORMAT {
        return Err(bad(n, format!("format {} is not {EXPORT_FORMAT}", header.format)));
    }
    let mut entries = Vec::new();
    let mut checkpoints = Vec::new();
    for (n, line) in lines {
        let line = line.map_err(|e| bad(n, e.to_string()))?;
        match serde_json::from_str::<ExportLine>(&line).map_err(|e| bad(n, format!("neither an entry nor a checkpoint ({e})")))? {
            ExportLine::Entry(e) => entries.push(*e),
            ExportLine::Checkpoint(c) => checkpoints.push(c),
        }
    }
    let Screened { good, forged } = screen(key, &[("export", &checkpoints)]);
    let start = entries.first().map_or((header.from, anagrafe_store::audit::GENESIS.to_owned()), |e| (e.seq, e.prev_hash.clone()));
    // The first entry of the whole trace links to the genesis hash, whatever the file says.
    let prev = if header.from == 1 { anagrafe_store::audit::GENESIS.to_owned() } else { start.1 };
    let mut v = anagrafe_store::audit::ChainVerifier::starting_at(header.from, &prev).with_checkpoints(&good);
    entries.iter().for_each(|e| v.push(e));
    let (last_seq, last_hash) = entries.last().map_or((header.from - 1, prev.clone()), |e| (e.seq, e.hash.clone()));
    let mut chain = v.finish(header.to, if last_seq == header.to { &last_hash } else { "" });
    if chain.first_bad.is_none() && last_seq != header.to {
        chain.first_bad =
            Some((last_seq + 1, format!("the header says the segment ends at {} but its entries end at {last_seq}", header.to)));
    }
    Ok(ExportVerdict { header, chain, forged })
}

/// How long the trace stays online (SEC-4): a year.
pub const ONLINE_DAYS: i64 = 365;

/// How long archive segments are kept (SEC-4): ten years after their last entry.
pub const ARCHIVE_YEARS: i64 = 10;

/// Moves the oldest entries written before `before_ms` to a compressed archive segment in
/// `dir` (the export format, gzip): from the first live entry to the last checkpoint at or
/// before them, so that the segment is signed within itself. The file is written and synced
/// first; then, in one transaction, the segment is recorded, its entries deleted from the live
/// trace and the move traced (`audit.archived`). `None` when nothing is old enough or no
/// checkpoint covers it yet.
pub async fn archive(
    store: &dyn Store,
    dir: &std::path::Path,
    before_ms: i64,
    who: &crate::Principal,
    clock: &dyn Clock,
) -> ServiceResult<Option<anagrafe_store::TraceArchive>> {
    let io = |e: std::io::Error| ServiceError::Unavailable(format!("the archive folder {}: {e}", dir.display()));
    let Some(first) = store.audit_entries(0, 1).await?.into_iter().next() else { return Ok(None) };
    // The last entry before the cutoff, then the last checkpoint at or before it.
    let old = store
        .audit_search(&anagrafe_store::TraceQuery { to_ms: Some(before_ms), ..Default::default() }, i64::MAX, 1)
        .await?
        .into_iter()
        .next();
    let Some(old) = old else { return Ok(None) };
    let Some(to) = store.checkpoints().await?.into_iter().map(|c| c.seq).filter(|s| *s <= old.seq && *s >= first.seq).max() else {
        return Ok(None);
    };
    let Some(last) = store.audit_entries(to - 1, 1).await?.into_iter().next().filter(|e| e.seq == to) else {
        return Ok(None);
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let file = format!("trace-{:012}-{:012}.jsonl.gz", first.seq, to);
    let path = dir.join(&file);
    let tmp = dir.join(format!("{file}.tmp"));
    let mut gz =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?), flate2::Compression::default());
    export(store, first.seq, Some(to), &mut gz).await?;
    let f = gz.finish().map_err(io)?.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(io)?;
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(std::fs::read(&path).map_err(io)?));
    let a = anagrafe_store::TraceArchive {
        id: 0,
        from_seq: first.seq,
        to_seq: to,
        prev_hash: first.prev_hash.clone(),
        last_hash: last.hash.clone(),
        from_ms: first.at_ms,
        to_ms: last.at_ms,
        file,
        sha256,
        entries: to - first.seq + 1,
        created_at: clock.now_ms(),
        purged_at: None,
    };
    let mut e = who.entry("audit.archived", "ok");
    e.detail = serde_json::json!({ "from": a.from_seq, "to": a.to_seq, "file": a.file, "sha256": a.sha256 }).to_string();
    store.archive_trace(&a, &e).await?;
    Ok(store.trace_archives().await?.into_iter().find(|x| x.to_seq == to))
}

/// Deletes the files of archive segments whose last entry is more than `ARCHIVE_YEARS` old by
/// `clock`, each purge recorded and traced (`audit.archive_purged`); how many.
pub async fn purge_archives(store: &dyn Store, dir: &std::path::Path, who: &crate::Principal, clock: &dyn Clock) -> ServiceResult<usize> {
    let limit = (clock.now() - chrono::Duration::days(ARCHIVE_YEARS * 365 + ARCHIVE_YEARS / 4)).timestamp_millis();
    let mut n = 0;
    for a in store.trace_archives().await?.into_iter().filter(|a| a.purged_at.is_none() && a.to_ms < limit) {
        match std::fs::remove_file(dir.join(&a.file)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ServiceError::Unavailable(format!("cannot delete {}: {e}", a.file))),
        }
        let mut e = who.entry("audit.archive_purged", "ok");
        e.detail = serde_json::json!({ "from": a.from_seq, "to": a.to_seq, "file": a.file }).to_string();
        store.purge_trace_archive(a.id, clock.now_ms(), &e).await?;
        n += 1;
    }
    Ok(n)
}

/// What checking the archive found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ArchiveVerdict {
    /// Segments recorded.
    pub segments: u64,
    /// Segments whose file was purged at the end of retention.
    pub purged: u64,
    /// Entries in the segments checked.
    pub entries: u64,
    /// What is wrong, one line each.
    pub findings: Vec<String>,
}

/// Checks every archive segment recorded: its file present (unless purged), unchanged (its
/// SHA-256), a valid export signed by `key` covering exactly the recorded entries, and linked
/// to the segment before it (the first to the genesis hash, unless purged before it).
pub fn verify_archives(archives: &[anagrafe_store::TraceArchive], dir: &std::path::Path, key: &CheckpointKey) -> ArchiveVerdict {
    let mut v = ArchiveVerdict { segments: archives.len() as u64, ..Default::default() };
    let mut prev: Option<&anagrafe_store::TraceArchive> = None;
    for a in archives {
        match prev {
            Some(p) if p.to_seq + 1 != a.from_seq || p.last_hash != a.prev_hash => {
                v.findings.push(format!("archive {}: does not follow the segment before it (entries {}…{})", a.file, p.from_seq, p.to_seq));
            }
            None if a.from_seq == 1 && a.prev_hash != anagrafe_store::audit::GENESIS => {
                v.findings.push(format!("archive {}: the first entry does not link to the genesis hash", a.file));
            }
            _ => {}
        }
        prev = Some(a);
        if a.purged_at.is_some() {
            v.purged += 1;
            continue;
        }
        let bytes = match std::fs::read(dir.join(&a.file)) {
            Ok(b) => b,
            Err(e) => {
                v.findings
                    .push(format!("archive {}: cannot be read ({e}): entries {}…{} are not verifiable", a.file, a.from_seq, a.to_seq));
                continue;
            }
        };
        if hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)) != a.sha256 {
            v.findings.push(format!("archive {}: the file is not the one written (SHA-256 differs)", a.file));
            continue;
        }
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(&bytes[..]));
        match verify_export(reader, key) {
            Ok(x) if x.is_intact() && x.header.from == a.from_seq && x.header.to == a.to_seq => v.entries += x.chain.entries,
            Ok(x) => v.findings.extend(x.findings().into_iter().map(|f| format!("archive {}: {f}", a.file)).chain(
                (x.header.from != a.from_seq || x.header.to != a.to_seq).then(|| {
                    format!("archive {}: holds entries {}…{}, recorded {}…{}", a.file, x.header.from, x.header.to, a.from_seq, a.to_seq)
                }),
            )),
            Err(e) => v.findings.push(format!("archive {}: line {}: {}", a.file, e.line, e.why)),
        }
    }
    v
}
