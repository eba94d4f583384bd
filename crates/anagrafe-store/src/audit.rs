//! The trace (SEC-4) and its hash chain.
//!
//! Entry `n` stores `hash_n = SHA-256(hash_{n-1} ‖ 0x0A ‖ canonical(entry_n))`, where
//! `canonical` is the JSON serialisation of the entry's fields in a fixed order (sequence
//! number included, hashes excluded) and `hash_0` is 64 zeros. Changing, inserting or deleting
//! any entry breaks every later link, and `audit_head` pins the last one, so deleting the tail
//! is caught too. Signed checkpoints over the head ([`crate::checkpoint`]) catch what the chain
//! alone cannot: a chain recomputed after a change, or a tail deleted with the head wound back.

use crate::checkpoint::Checkpoint;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash that precedes the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An audit entry to append: the SEC-4 fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// What the security officer looks for in the trace: each condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TraceQuery {
    /// Exactly this actor (`operator:mrossi`, `client:comune-h501`, `citizen:…`, `public`).
    pub actor: Option<String>,
    /// About this person (internal id).
    pub subject_person: Option<i64>,
    /// Operations starting with this (`person.`, `certificate.verify`).
    pub operation: Option<String>,
    /// Outcomes starting with this (`ok`, `refused`).
    pub outcome: Option<String>,
    /// At or after this time (epoch ms).
    pub from_ms: Option<i64>,
    /// Before this time (epoch ms).
    pub to_ms: Option<i64>,
}

/// What a log analysis rule counts over the entries of a window (SEC-5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceCount {
    /// Distinct persons each actor's entries are about (the public's verifications excluded).
    SubjectsByActor,
    /// Refused entries of each actor.
    RefusalsByActor,
    /// Distinct actors whose entries are about each person (keyed by the person's code).
    ActorsBySubject,
    /// Entries of each operation starting with this.
    ByOperation(String),
    /// Entries of each operation starting with the first text whose outcome starts with the
    /// second (`audit.chain_check`, `broken`).
    ByOutcome(String, String),
    /// Distinct persons each operator read (`person.read`, `person.history`, `person.search`
    /// with a result) whose comune is none of the operator's grants, and on whom the operator
    /// did nothing else in the thirty days before: reads outside one's competence.
    ReadsOutsideCompetence,
    /// Successful logins of each operator from an address not used in the last 90 days (the
    /// login entry's detail says `"new_place":true`).
    LoginsFromNewPlaces,
    /// Calls of each public body's purpose (keyed by purposeId), counted above `threshold`
    /// per cent of the purpose's daily quota.
    PurposeQuotaPercent,
}

/// An entry as stored, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Signed checkpoints the entries were checked against (those the caller gave).
    pub checkpoints: u64,
    /// The latest checkpoint that matched: every entry up to it is as the register signed it.
    pub last_checkpoint: Option<CheckpointSeen>,
    /// Entries after the latest matching checkpoint (intact as a chain, not yet signed).
    pub unsigned_entries: u64,
}

/// A checkpoint the entries matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointSeen {
    /// The last entry it covers.
    pub seq: i64,
    /// When it was signed (epoch ms).
    pub at_ms: i64,
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
    /// Signed checkpoints still ahead, latest last (popped from the front as entries pass).
    ahead: std::collections::VecDeque<Checkpoint>,
    given: u64,
    last_matched: Option<CheckpointSeen>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::starting_at(1, GENESIS)
    }
}

impl ChainVerifier {
    /// A verifier for a segment whose first entry is `seq`, linked to `prev_hash` (an exported
    /// segment: the entries before it are not at hand, so only checkpoints vouch for it).
    pub fn starting_at(seq: i64, prev_hash: &str) -> Self {
        Self {
            expected_seq: seq,
            prev_hash: prev_hash.to_owned(),
            entries: 0,
            first_bad: None,
            ahead: Default::default(),
            given: 0,
            last_matched: None,
        }
    }

    /// Checks the entries against these checkpoints too. Give only checkpoints whose
    /// signature verified ([`crate::checkpoint::screen`]): an entry whose hash differs from a
    /// checkpoint at its sequence number was rewritten (with the chain recomputed) somewhere
    /// after the previous checkpoint, and a checkpoint past the last entry means the tail was
    /// deleted.
    pub fn with_checkpoints(mut self, checkpoints: &[Checkpoint]) -> Self {
        let mut list: Vec<Checkpoint> = checkpoints.iter().filter(|c| c.seq >= self.expected_seq).cloned().collect();
        list.sort_by_key(|c| (c.seq, c.at_ms));
        self.given = list.len() as u64;
        self.ahead = list.into();
        self
    }

    fn rewritten_since(&self) -> i64 {
        self.last_matched.as_ref().map_or(1, |c| c.seq + 1)
    }

    fn check_checkpoints(&mut self, e: &StoredAudit) {
        while self.ahead.front().is_some_and(|c| c.seq <= e.seq) {
            let Some(c) = self.ahead.pop_front() else { break };
            if c.seq < e.seq || self.first_bad.is_some() {
                continue;
            }
            if c.hash == e.hash {
                self.last_matched = Some(CheckpointSeen { seq: c.seq, at_ms: c.at_ms });
            } else {
                let from = self.rewritten_since();
                self.first_bad = Some((
                    from,
                    format!(
                        "entries {from}…{} were rewritten: entry {}'s hash differs from the checkpoint signed at {} ms",
                        c.seq, c.seq, c.at_ms
                    ),
                ));
            }
        }
    }

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
        self.check_checkpoints(e);
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
            } else if let Some(c) = self.ahead.back() {
                self.first_bad = Some((
                    last + 1,
                    format!(
                        "the trace ends at entry {last} but a checkpoint signed at {} ms covers entries up to {}: the tail was deleted",
                        c.at_ms, c.seq
                    ),
                ));
            }
        }
        let signed_to = self.last_matched.as_ref().map_or(self.expected_seq - 1 - self.entries as i64, |c| c.seq);
        let unsigned_entries = (self.expected_seq - 1 - signed_to).max(0) as u64;
        ChainReport {
            entries: self.entries,
            head_seq,
            first_bad: self.first_bad,
            checkpoints: self.given,
            last_checkpoint: self.last_matched,
            unsigned_entries,
        }
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

    fn signer() -> crate::checkpoint::CheckpointSigner {
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        let pem = p256::SecretKey::random(&mut rand::rngs::OsRng).to_pkcs8_pem(LineEnding::LF).unwrap();
        crate::checkpoint::CheckpointSigner::from_pem(&pem).unwrap()
    }

    fn verify_against(entries: &[StoredAudit], head: (i64, &str), cps: &[Checkpoint]) -> ChainReport {
        let mut v = ChainVerifier::default().with_checkpoints(cps);
        entries.iter().for_each(|e| v.push(e));
        v.finish(head.0, head.1)
    }

    /// Rebuilds a chain from its entries, as someone with write access to the database could.
    fn recompute(mut entries: Vec<StoredAudit>) -> Vec<StoredAudit> {
        let mut prev = GENESIS.to_owned();
        for e in &mut entries {
            e.prev_hash = prev.clone();
            e.hash = chain_hash(&prev, e.seq, e.at_ms, &e.entry);
            prev = e.hash.clone();
        }
        entries
    }

    #[test]
    fn checkpoints_catch_a_recomputed_chain_and_a_deleted_tail() {
        let s = signer();
        let c = chain(10);
        let cps = [s.sign(4, &c[3].hash, 50, None), s.sign(8, &c[7].hash, 90, Some(10_000))];
        let r = verify_against(&c, (10, &c[9].hash), &cps);
        assert!(r.is_intact(), "{r:?}");
        assert_eq!((r.checkpoints, r.last_checkpoint.as_ref().map(|c| c.seq), r.unsigned_entries), (2, Some(8), 2));

        // Entry 6 changed and every hash recomputed: the chain holds, the checkpoint at 8 does not.
        let mut altered = c.clone();
        altered[5].entry.actor = "someone else".into();
        let altered = recompute(altered);
        let plain = verify(&altered, 10, &altered[9].hash);
        assert!(plain.is_intact(), "without checkpoints the rewrite is invisible");
        let r = verify_against(&altered, (10, &altered[9].hash), &cps);
        let (at, why) = r.first_bad.unwrap();
        assert_eq!(at, 5, "{why}");
        assert!(why.contains("5…8"), "{why}");

        // The last three entries deleted and the head wound back to entry 7.
        let r = verify_against(&c[..7], (7, &c[6].hash), &cps);
        let (at, why) = r.first_bad.unwrap();
        assert_eq!(at, 8);
        assert!(why.contains("tail was deleted"), "{why}");

        // Deleted and replaced by as many new entries: the hash at 8 differs.
        let mut replaced = c[..6].to_vec();
        replaced.extend(chain(10)[6..].iter().cloned().map(|mut e| {
            e.entry.operation = "forged".into();
            e
        }));
        let replaced = recompute(replaced);
        assert_eq!(verify_against(&replaced, (10, &replaced[9].hash), &cps).first_bad.unwrap().0, 5);
    }

    #[test]
    fn a_segment_is_vouched_for_by_the_checkpoints_inside_it() {
        let s = signer();
        let c = chain(10);
        let cps = [s.sign(2, &c[1].hash, 10, None), s.sign(7, &c[6].hash, 70, None)];
        let mut v = ChainVerifier::starting_at(4, &c[2].hash).with_checkpoints(&cps);
        c[3..9].iter().for_each(|e| v.push(e));
        let r = v.finish(9, &c[8].hash);
        assert!(r.is_intact(), "{r:?}");
        assert_eq!((r.entries, r.checkpoints, r.unsigned_entries), (6, 1, 2));
        let mut v = ChainVerifier::starting_at(4, &c[2].hash);
        c[3..9].iter().for_each(|e| v.push(e));
        assert_eq!(v.finish(9, &c[8].hash).unsigned_entries, 6);
    }
}
