//! The security officer's use cases (SEC-5, issue 18 item 4): the state of the trace and its
//! search. Reading the trace is itself an access to personal data (its entries name persons),
//! so every search is traced, with its conditions.

use crate::{Clock, Principal, ServiceError, ServiceResult};
use anagrafe_domain::{CodiceFiscale, IdAnpr, Role, Why};
use anagrafe_store::audit::TraceCount;
use anagrafe_store::{Checkpoint, Store, StoredAudit, TraceQuery};
use chrono::NaiveDate;
use std::sync::Arc;

/// A log analysis rule (SEC-5), as data: what it counts, over which window, above which
/// threshold. Its description is the message `sec-rule-{id}` of the pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its identifier (`many-persons`…).
    pub id: &'static str,
    /// What it counts.
    pub counts: TraceCount,
    /// The window, seconds back from now.
    pub window_s: i64,
    /// Found when a count is above this.
    pub threshold: i64,
}

/// The register's rules (issue 18, item 3: the first of SEC-5's list).
pub fn rules() -> Vec<Rule> {
    vec![
        // One actor reading many distinct persons in an hour.
        Rule { id: "many-persons", counts: TraceCount::SubjectsByActor, window_s: 3600, threshold: 200 },
        // A burst of refusals of one actor in ten minutes.
        Rule { id: "refusal-burst", counts: TraceCount::RefusalsByActor, window_s: 600, threshold: 20 },
        // One person consulted by many actors in a day.
        Rule { id: "subject-many-actors", counts: TraceCount::ActorsBySubject, window_s: 86_400, threshold: 5 },
        // A burst of public verifications of certificates in ten minutes.
        Rule { id: "verification-burst", counts: TraceCount::ByOperation("certificate.verify".into()), window_s: 600, threshold: 100 },
        // Accounts created or given other roles, web-service keys and public bodies registered,
        // addresses blocked: each one in the last day is worth the officer's look.
        Rule { id: "role-grants", counts: TraceCount::ByOperation("operator.save".into()), window_s: 86_400, threshold: 0 },
        Rule { id: "client-keys", counts: TraceCount::ByOperation("api_client.save".into()), window_s: 86_400, threshold: 0 },
        Rule { id: "body-keys", counts: TraceCount::ByOperation("pdnd_client.save".into()), window_s: 86_400, threshold: 0 },
        Rule { id: "address-blocks", counts: TraceCount::ByOperation("security.address_blocked".into()), window_s: 86_400, threshold: 0 },
    ]
}

/// What a rule found: the key (actor, person or operation) and its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule.
    pub rule: Rule,
    /// Who or what (an actor, a person's code, an operation).
    pub key: String,
    /// Its count in the window.
    pub count: i64,
}

/// Entries a search page shows.
pub const PAGE: u32 = 50;

/// The security officer's desk.
#[derive(Debug, Clone)]
pub struct SecurityDesk {
    store: Arc<dyn Store>,
}

/// The trace at a glance: how far it goes and how far it is signed.
#[derive(Debug, Clone)]
pub struct TraceState {
    /// The last entry's sequence number.
    pub head: i64,
    /// The latest signed checkpoint, if any.
    pub last_checkpoint: Option<Checkpoint>,
}

impl TraceState {
    /// Entries written after the latest checkpoint (signed at the next one).
    pub fn unsigned(&self) -> i64 {
        self.head - self.last_checkpoint.as_ref().map_or(0, |c| c.seq)
    }
}

/// A search as the officer asks it: each given condition must hold.
#[derive(Debug, Clone, Default)]
pub struct TraceSearch {
    /// The actor, exactly (`operator:mrossi`).
    pub actor: Option<String>,
    /// The person concerned, by codice fiscale or ID ANPR.
    pub subject: Option<String>,
    /// The operation's beginning (`person.`).
    pub operation: Option<String>,
    /// The outcome's beginning (`refused`).
    pub outcome: Option<String>,
    /// From this day (Italian time).
    pub from: Option<NaiveDate>,
    /// To this day, included.
    pub to: Option<NaiveDate>,
}

/// A page of results, newest first.
#[derive(Debug, Clone)]
pub struct TracePage {
    /// The entries.
    pub entries: Vec<StoredAudit>,
    /// Where the next (older) page starts, when there may be one.
    pub older: Option<i64>,
}

/// The instant a day starts in Italy, in epoch ms.
pub fn italian_midnight_ms(day: NaiveDate) -> i64 {
    let utc = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    // Italy is one hour ahead of UTC, two in summer time.
    [1, 2]
        .into_iter()
        .map(|h| utc - chrono::Duration::hours(h))
        .find(|t| anagrafe_domain::ops::italian_time(*t) == day.and_hms_opt(0, 0, 0).unwrap_or_default())
        .unwrap_or(utc - chrono::Duration::hours(1))
        .timestamp_millis()
}

impl SecurityDesk {
    /// The desk over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    fn officer(who: &Principal) -> ServiceResult<()> {
        who.require(&[Role::SecurityOfficer], "the trace's search")
    }

    /// The trace's head and its latest checkpoint (the full verification is
    /// `anagrafe audit verify`, which walks every entry).
    pub async fn trace_state(&self, who: &Principal) -> ServiceResult<TraceState> {
        Self::officer(who)?;
        let (head, _) = self.store.audit_head().await?;
        let last_checkpoint = self.store.checkpoints().await?.into_iter().max_by_key(|c| (c.seq, c.at_ms));
        Ok(TraceState { head, last_checkpoint })
    }

    /// What `rules` find in the trace now (by `clock`), highest counts first; the analysis is
    /// traced as `audit.analysis` with how many findings.
    pub async fn findings(&self, who: &Principal, rules: &[Rule], clock: &dyn Clock) -> ServiceResult<Vec<Finding>> {
        Self::officer(who)?;
        let now = clock.now_ms();
        let mut out = Vec::new();
        for r in rules {
            for (key, count) in self.store.trace_counts(&r.counts, now - r.window_s * 1000, r.threshold).await? {
                out.push(Finding { rule: r.clone(), key, count });
            }
        }
        let mut e = who.entry("audit.analysis", "ok");
        e.detail = serde_json::json!({ "rules": rules.len(), "findings": out.len() }).to_string();
        self.store.audit(&e).await?;
        Ok(out)
    }

    /// The entries matching `q`, newest first, older than `before`; the search is traced.
    pub async fn search(&self, who: &Principal, q: &TraceSearch, before: Option<i64>) -> ServiceResult<TracePage> {
        Self::officer(who)?;
        let subject_person = match q.subject.as_deref().map(|s| s.trim().to_uppercase()).filter(|s| !s.is_empty()) {
            None => None,
            Some(code) => {
                let found = if let Ok(id) = IdAnpr::parse(&code) {
                    self.store.find_by_id_anpr(&id).await?.map(|(pid, _)| pid)
                } else if let Ok(cf) = CodiceFiscale::parse(&code) {
                    self.store.find_by_cf(&cf, None).await?.first().copied()
                } else {
                    return Err(ServiceError::malformed("soggetto", "is neither a codice fiscale nor an ID ANPR"));
                };
                Some(found.ok_or_else(|| ServiceError::invalid("soggetto", Why::new("no-such-person")))?)
            }
        };
        if let (Some(from), Some(to)) = (q.from, q.to)
            && to < from
        {
            return Err(ServiceError::invalid("al", Why::new("before-start").arg("date", anagrafe_domain::date::dmy(from))));
        }
        let clean = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let query = TraceQuery {
            actor: clean(&q.actor),
            subject_person,
            operation: clean(&q.operation),
            outcome: clean(&q.outcome),
            from_ms: q.from.map(italian_midnight_ms),
            to_ms: q.to.and_then(|d| d.succ_opt()).map(italian_midnight_ms),
        };
        let mut e = who.entry("audit.search", "ok");
        e.subject_person = subject_person;
        e.detail = serde_json::json!({
            "actor": query.actor, "operation": query.operation, "outcome": query.outcome,
            "from_ms": query.from_ms, "to_ms": query.to_ms, "before": before,
        })
        .to_string();
        // Read first, so that a search does not find itself; then traced (before anything is shown).
        let entries = self.store.audit_search(&query, before.unwrap_or(i64::MAX), PAGE).await?;
        self.store.audit(&e).await?;
        let older = (entries.len() == PAGE as usize).then(|| entries.last().map(|e| e.seq)).flatten();
        Ok(TracePage { entries, older })
    }
}
