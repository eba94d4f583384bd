//! The trace (SEC-4) and its hash chain.
//!
//! Entry `n` stores `hash_n = SHA-256(hash_{n-1} ‖ 0x0A ‖ canonical(entry_n))`, where
//! `canonical` is the JSON serialisation of the entry's fields in a fixed order (sequence
//! number included, hashes excluded) and `hash_0` is 64 zeros. Changing, inserting or deleting
//! any entry breaks every later link, and `audit_head` pins the last one, so deleting the tail
//! is caught too. (Signed checkpoints over the head, so that a party outside the database can
//! verify, come with the security issue.)

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The hash that precedes the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An audit entry to append: the SEC-4 fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Request id.
    pub request_id: String,
    /// Who acted.
    pub actor: String,
    /// Codice fiscale of the natural person acting.
    pub actor_cf: Option<String>,
    /// eIDAS unique identifier.
    pub eidas_id: Option<String>,
    /// Authentication mode.
    pub auth_mode: String,
    /// Operation (`person.register`, `population.load`, `pdnd.C030`…).
    pub operation: String,
    /// Outcome (`ok`, `refused:<code>`, `error`).
    pub outcome: String,
    /// Internal id of the person concerned.
    pub subject_person: Option<i64>,
    /// Codice fiscale of the person concerned.
    pub subject_cf: Option<String>,
    /// Further details, as a JSON text.
    pub detail: String,
}

impl AuditEntry {
    /// An entry for `operation` by the actor of `ctx`.
    pub fn from_ctx(ctx: &crate::WriteContext, operation: &str, outcome: &str) -> Self {
        Self {
            request_id: ctx.request_id.clone(),
            actor: ctx.actor.clone(),
            actor_cf: ctx.actor_cf.clone(),
            eidas_id: ctx.eidas_id.clone(),
            auth_mode: ctx.auth_mode.clone(),
            operation: operation.to_owned(),
            outcome: outcome.to_owned(),
            subject_person: None,
            subject_cf: None,
            detail: "{}".to_owned(),
        }
    }
}

/// An entry as stored, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredAudit {
    /// Sequence number, from 1, without gaps.
    pub seq: i64,
    /// Time to the millisecond (epoch ms).
    pub at_ms: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// Hash of the previous entry.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    at_ms: i64,
    #[serde(flatten)]
    entry: &'a AuditEntry,
}

/// Computes an entry's hash from the previous one.
pub fn chain_hash(prev_hash: &str, seq: i64, at_ms: i64, entry: &AuditEntry) -> String {
    let body = serde_json::to_vec(&Canonical { seq, at_ms, entry }).expect("plain struct serialises");
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(&body);
    hex::encode(h.finalize())
}

/// Result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Entries checked.
    pub entries: u64,
    /// The head's sequence number.
    pub head_seq: i64,
    /// `None` when the whole chain verifies; otherwise the first sequence number that does not,
    /// and why.
    pub first_bad: Option<(i64, String)>,
}

impl ChainReport {
    /// Whether the chain is intact.
    pub fn is_intact(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Incremental verifier: feed entries in sequence order, then the head.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    entries: u64,
    first_bad: Option<(i64, String)>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self { expected_seq: 1, prev_hash: GENESIS.to_owned(), entries: 0, first_bad: None }
    }
}

impl ChainVerifier {
    /// Checks the next entry.
    pub fn push(&mut self, e: &StoredAudit) {
        self.entries += 1;
        if self.first_bad.is_some() {
            return;
        }
        if e.seq != self.expected_seq {
            self.first_bad = Some((self.expected_seq, format!("entry {} is missing (found {} next)", self.expected_seq, e.seq)));
        } else if e.prev_hash != self.prev_hash {
            self.first_bad = Some((e.seq, "link to the previous entry is broken".to_owned()));
        } else if chain_hash(&e.prev_hash, e.seq, e.at_ms, &e.entry) != e.hash {
            self.first_bad = Some((e.seq, "content does not match its hash (altered)".to_owned()));
        }
        self.expected_seq = e.seq + 1;
        self.prev_hash = e.hash.clone();
    }

    /// Checks the head against the last entry and reports.
    pub fn finish(mut self, head_seq: i64, head_hash: &str) -> ChainReport {
        if self.first_bad.is_none() {
            let last = self.expected_seq - 1;
            if last > head_seq {
                self.first_bad = Some((head_seq + 1, format!("entries after the head ({head_seq}): the head was reset")));
            } else if head_seq != last {
                self.first_bad = Some((last + 1, format!("head says {head_seq} entries, {last} found (entries deleted)")));
            } else if head_hash != self.prev_hash {
                self.first_bad = Some((last, "head hash does not match the last entry".to_owned()));
            }
        }
        ChainReport { entries: self.entries, head_seq, first_bad: self.first_bad }
    }
}

/// Most entries one trace statement carries (14 values each: within both backends' limits on
/// bound parameters).
pub(crate) const ROWS_PER_STATEMENT: usize = 200;

/// Most entries one group commit carries; more wait for the next.
pub(crate) const MAX_GROUP: usize = 2_000;

/// Group commit for entries appended on their own ([`crate::AuditStore::audit`]: reads, refusals,
/// logins, e-service calls). Each caller queues its entry and waits for its outcome. One writer
/// at a time (a task of its own, started by the caller that finds none running) takes
/// everything queued, writes it in one transaction under one lock of the chain head, answers
/// each caller with its own sequence number once that transaction has committed, and goes on
/// while entries keep arriving. Under load one commit (one fsync on PostgreSQL) carries every
/// entry that arrived during the previous one; alone, an entry is written at once. Because the
/// writer is its own task, a caller that goes away (a client hanging up) cannot leave the
/// others' entries unwritten.
#[derive(Default)]
pub(crate) struct TraceQueue {
    state: std::sync::Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    pending: Vec<Queued>,
    writing: bool,
}

/// An entry waiting to be written, what a public body's call writes with it, and where its
/// outcome goes.
pub(crate) type Queued = (AuditEntry, Option<crate::CallRecord>, tokio::sync::oneshot::Sender<crate::Result<i64>>);

impl std::fmt::Debug for TraceQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceQueue").finish_non_exhaustive()
    }
}

impl TraceQueue {
    /// Queues `entry`: the receiver of its outcome, and whether the caller must start the
    /// writer (none is running).
    pub(crate) fn push(
        &self,
        entry: AuditEntry,
        record: Option<crate::CallRecord>,
    ) -> (tokio::sync::oneshot::Receiver<crate::Result<i64>>, bool) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.pending.push((entry, record, tx));
        let start = !s.writing;
        s.writing = true;
        (rx, start)
    }

    /// The writer's next group; `None` (and the writer stops) when nothing is queued.
    pub(crate) fn next_group(&self) -> Option<Vec<Queued>> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.pending.is_empty() {
            s.writing = false;
            return None;
        }
        let rest = if s.pending.len() > MAX_GROUP { s.pending.split_off(MAX_GROUP) } else { Vec::new() };
        Some(std::mem::replace(&mut s.pending, rest))
    }

    /// After a writer panicked: no writer runs any more, and whoever waits is told so (their
    /// senders drop) instead of waiting for ever.
    pub(crate) fn abandon(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.writing = false;
        s.pending.clear();
    }
}

/// Held by the writer task: should the task unwind, the queue is abandoned rather than left
/// believing a writer runs.
pub(crate) struct WriterGuard<'a>(pub(crate) &'a TraceQueue);

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abandon();
        }
    }
}

/// Waits for a queued entry's outcome.
pub(crate) async fn outcome(rx: tokio::sync::oneshot::Receiver<crate::Result<i64>>) -> crate::Result<i64> {
    rx.await.unwrap_or_else(|_| Err(crate::StoreError::Invalid("internal: the trace writer stopped before writing the entry".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(op: &str) -> AuditEntry {
        AuditEntry {
            request_id: "r".into(),
            actor: "a".into(),
            actor_cf: None,
            eidas_id: None,
            auth_mode: "cli".into(),
            operation: op.into(),
            outcome: "ok".into(),
            subject_person: Some(7),
            subject_cf: None,
            detail: "{}".into(),
        }
    }

    fn chain(n: i64) -> Vec<StoredAudit> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let e = entry(&format!("op{seq}"));
                let hash = chain_hash(&prev, seq, 1000 + seq, &e);
                let s = StoredAudit { seq, at_ms: 1000 + seq, entry: e, prev_hash: prev.clone(), hash: hash.clone() };
                prev = hash;
                s
            })
            .collect()
    }

    fn verify(entries: &[StoredAudit], head_seq: i64, head_hash: &str) -> ChainReport {
        let mut v = ChainVerifier::default();
        entries.iter().for_each(|e| v.push(e));
        v.finish(head_seq, head_hash)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        assert!(verify(&c, 5, &c[4].hash).is_intact());
        assert!(verify(&[], 0, GENESIS).is_intact());
    }

    #[test]
    fn tampering_is_found_at_the_entry() {
        let c = chain(5);
        let mut altered = c.clone();
        altered[2].entry.outcome = "refused".into();
        assert_eq!(verify(&altered, 5, &c[4].hash).first_bad.unwrap().0, 3);
        let mut deleted = c.clone();
        deleted.remove(1);
        assert_eq!(verify(&deleted, 5, &c[4].hash).first_bad.unwrap().0, 2);
        let tail = &c[..4];
        assert_eq!(verify(tail, 5, &c[4].hash).first_bad.unwrap().0, 5);
        // A head wound back to an earlier entry leaves entries after it.
        assert_eq!(verify(&c, 3, &c[2].hash).first_bad.unwrap().0, 4);
    }
}
