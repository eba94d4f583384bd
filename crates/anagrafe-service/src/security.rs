//! The security officer's use cases (SEC-5, issue 18 item 4): the state of the trace and its
//! search. Reading the trace is itself an access to personal data (its entries name persons),
//! so every search is traced, with its conditions.

use crate::{Clock, Principal, ServiceError, ServiceResult};
use anagrafe_domain::security::{AlertState, OfficeHours};
use anagrafe_domain::{CodiceFiscale, IdAnpr, Role, Why};
use anagrafe_store::audit::TraceCount;
use anagrafe_store::{Alert, AlertChange, AlertFinding, AlertRaise, AlertStep, Checkpoint, Store, StoredAudit, TraceQuery};
use chrono::NaiveDate;
use std::sync::Arc;

/// The stretch of time a rule counts over, back from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last so many seconds.
    Last(i64),
    /// Since midnight, Italian time (the daily quotas' day).
    Today,
    /// The hours of the last so many seconds when the offices are closed.
    OffHours(i64, OfficeHours),
}

impl Window {
    /// The spans `[from, to)` in epoch ms this window covers at `now`. A span that reaches the
    /// present is left open at its end: the trace's times run a little ahead of the clock under
    /// load (each entry is at least a millisecond after the previous one).
    pub fn spans(&self, now: chrono::DateTime<chrono::Utc>) -> Vec<(i64, i64)> {
        let end = now.timestamp_millis() + 1;
        let mut spans = match *self {
            Window::Last(s) => vec![(end - 1 - s * 1000, end)],
            Window::Today => vec![(italian_midnight_ms(anagrafe_domain::ops::italian_date(now)), end)],
            Window::OffHours(s, hours) => hours.closed_spans(now - chrono::Duration::seconds(s), now + chrono::Duration::milliseconds(1)),
        };
        if let Some(last) = spans.last_mut().filter(|l| l.1 == end) {
            last.1 = i64::MAX;
        }
        spans
    }

    /// How long a closed alert of a rule with this window stays quiet (ms): one window.
    pub fn quiet_ms(&self) -> i64 {
        match *self {
            Window::Last(s) | Window::OffHours(s, _) => s * 1000,
            Window::Today => 86_400_000,
        }
    }
}

/// A log analysis rule (SEC-5), as data: what it counts, over which window, above which
/// threshold. Its description is the message `sec-rule-{id}` of the pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its identifier (`many-persons`…).
    pub id: &'static str,
    /// What it counts.
    pub counts: TraceCount,
    /// Over which stretch of time.
    pub window: Window,
    /// Found when a count is above this (for `quota-near`, a percentage of the daily quota).
    pub threshold: i64,
}

/// The register's rules: SEC-5's list.
pub fn rules() -> Vec<Rule> {
    const DAY: i64 = 86_400;
    vec![
        // One actor reading many distinct persons in an hour.
        Rule { id: "many-persons", counts: TraceCount::SubjectsByActor, window: Window::Last(3600), threshold: 200 },
        // An operator reading persons while the offices are closed (the last day).
        Rule { id: "off-hours", counts: TraceCount::SubjectsByActor, window: Window::OffHours(DAY, OfficeHours::default()), threshold: 0 },
        // An operator reading persons of other comuni with nothing else to do with them.
        Rule { id: "outside-competence", counts: TraceCount::ReadsOutsideCompetence, window: Window::Last(DAY), threshold: 0 },
        // A burst of refusals of one actor in ten minutes.
        Rule { id: "refusal-burst", counts: TraceCount::RefusalsByActor, window: Window::Last(600), threshold: 20 },
        // One person consulted by many actors in a day.
        Rule { id: "subject-many-actors", counts: TraceCount::ActorsBySubject, window: Window::Last(DAY), threshold: 5 },
        // Bursts of certificates issued and of public verifications, in ten minutes.
        Rule {
            id: "certificate-burst",
            counts: TraceCount::ByOperation("certificate.issue".into()),
            window: Window::Last(600),
            threshold: 500,
        },
        Rule {
            id: "verification-burst",
            counts: TraceCount::ByOperation("certificate.verify".into()),
            window: Window::Last(600),
            threshold: 100,
        },
        // An operator logging in from an address not used in the last 90 days.
        Rule { id: "new-place", counts: TraceCount::LoginsFromNewPlaces, window: Window::Last(DAY), threshold: 0 },
        // A public body's purpose past 80% of its daily quota.
        Rule { id: "quota-near", counts: TraceCount::PurposeQuotaPercent, window: Window::Today, threshold: 80 },
        // Accounts created or given other roles, web-service keys and public bodies registered,
        // addresses blocked: each one in the last day is worth the officer's look.
        Rule { id: "role-grants", counts: TraceCount::ByOperation("operator.save".into()), window: Window::Last(DAY), threshold: 0 },
        Rule { id: "client-keys", counts: TraceCount::ByOperation("api_client.save".into()), window: Window::Last(DAY), threshold: 0 },
        Rule { id: "body-keys", counts: TraceCount::ByOperation("pdnd_client.save".into()), window: Window::Last(DAY), threshold: 0 },
        Rule {
            id: "address-blocks",
            counts: TraceCount::ByOperation("security.address_blocked".into()),
            window: Window::Last(DAY),
            threshold: 0,
        },
        // A check of the chain that failed (the checkpoint job's or `anagrafe audit verify`).
        Rule {
            id: "chain-check",
            counts: TraceCount::ByOutcome("audit.chain_check".into(), "broken".into()),
            window: Window::Last(DAY),
            threshold: 0,
        },
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

/// What `rules` find in the trace at `now`, highest counts first within each rule.
pub async fn analyse(store: &dyn Store, rules: &[Rule], now: chrono::DateTime<chrono::Utc>) -> ServiceResult<Vec<Finding>> {
    let mut out = Vec::new();
    for r in rules {
        let spans = r.window.spans(now);
        // One span: the store applies the threshold. Several (off-hours): summed here.
        let inner = if spans.len() == 1 { r.threshold } else { 0 };
        let mut sums: Vec<(String, i64)> = Vec::new();
        for (from, to) in spans {
            for (key, n) in store.trace_counts(&r.counts, from, to, inner).await? {
                match sums.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, total)) => *total += n,
                    None => sums.push((key, n)),
                }
            }
        }
        sums.retain(|(_, n)| *n > r.threshold || inner == r.threshold);
        sums.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.extend(sums.into_iter().map(|(key, count)| Finding { rule: r.clone(), key, count }));
    }
    Ok(out)
}

/// What a run of the analysis did to the alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Alerts raised now, by id.
    pub raised: Vec<i64>,
    /// Alerts already open that were found again.
    pub ongoing: usize,
    /// Findings of alerts closed within their quiet period.
    pub quiet: usize,
}

/// The analysis job (the server runs it every `audit.analysis_interval_s`): the rules over the
/// trace, each finding kept as an alert (a new one raised and traced, an open one updated).
pub async fn evaluate(store: &dyn Store, rules: &[Rule], clock: &dyn Clock) -> ServiceResult<Evaluation> {
    let now = clock.now();
    let job = Principal::job("analysis", format!("analysis-{}", now.timestamp_millis()));
    let mut done = Evaluation::default();
    for f in analyse(store, rules, now).await? {
        let finding = AlertFinding { rule: f.rule.id.to_owned(), key: f.key.clone(), count: f.count };
        match store
            .raise_alert(&finding, now.timestamp_millis(), f.rule.window.quiet_ms(), &job.entry("security.alert_raised", "ok"))
            .await?
        {
            AlertRaise::Raised(id) => done.raised.push(id),
            AlertRaise::Ongoing(_) => done.ongoing += 1,
            AlertRaise::Quiet(_) => done.quiet += 1,
        }
    }
    Ok(done)
}

/// A change the security officer asks for on an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertUpdate {
    /// The state the officer saw it in.
    pub from: AlertState,
    /// The state wanted.
    pub to: AlertState,
    /// The security officer who takes it in hand (`None`: nobody).
    pub assignee: Option<String>,
    /// What was looked at or done (required).
    pub note: String,
}

/// Alerts a page shows.
pub const ALERTS_PAGE: u32 = 50;

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
        let out = analyse(&*self.store, rules, clock.now()).await?;
        let mut e = who.entry("audit.analysis", "ok");
        e.detail = serde_json::json!({ "rules": rules.len(), "findings": out.len() }).to_string();
        self.store.audit(&e).await?;
        Ok(out)
    }

    /// The alerts in `state` (all when `None`), newest first, with an id below `before`.
    pub async fn alerts(&self, who: &Principal, state: Option<AlertState>, before: Option<i64>) -> ServiceResult<Vec<Alert>> {
        Self::officer(who)?;
        Ok(self.store.alerts(state, before.unwrap_or(i64::MAX), ALERTS_PAGE).await?)
    }

    /// One alert with its steps; reading it is traced (its key may name a person).
    pub async fn alert(&self, who: &Principal, id: i64) -> ServiceResult<(Alert, Vec<AlertStep>)> {
        Self::officer(who)?;
        let found = self.store.alert(id).await?.ok_or_else(|| ServiceError::NotFound(format!("no alert {id}")))?;
        let mut e = who.entry("security.alert_read", "ok");
        e.detail = serde_json::json!({ "alert": id, "rule": found.0.rule }).to_string();
        self.store.audit(&e).await?;
        Ok(found)
    }

    /// Moves an alert (acknowledge, close, reopen, assign) with a note; the step and its trace
    /// entry are written together. The assignee must be a security officer's account.
    pub async fn update_alert(&self, who: &Principal, id: i64, u: &AlertUpdate, clock: &dyn Clock) -> ServiceResult<Alert> {
        Self::officer(who)?;
        let note = u.note.trim();
        if note.is_empty() {
            return Err(ServiceError::invalid("nota", Why::new("required")));
        }
        if note.chars().count() > 2000 {
            return Err(ServiceError::malformed("nota", "is longer than 2000 characters"));
        }
        if !u.from.may_become(u.to) {
            return Err(ServiceError::invalid("stato", Why::new("alert-move")));
        }
        let assignee = u.assignee.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned);
        if let Some(name) = &assignee {
            let officer =
                self.store.operator(name).await?.filter(|o| !o.disabled && o.roles.iter().any(|g| g.role == Role::SecurityOfficer));
            if officer.is_none() {
                return Err(ServiceError::invalid("assegnatario", Why::new("not-security-officer").arg("name", name)));
            }
        }
        let change = AlertChange {
            from: u.from,
            to: u.to,
            assignee: assignee.clone(),
            note: note.to_owned(),
            actor: who.actor.clone(),
            at_ms: clock.now_ms(),
        };
        let mut e = who.entry("security.alert_changed", "ok");
        e.detail = serde_json::json!({ "alert": id, "from": u.from, "to": u.to, "assignee": assignee }).to_string();
        Ok(self.store.change_alert(id, &change, &e).await?)
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
