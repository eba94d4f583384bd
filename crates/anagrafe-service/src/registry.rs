//! The registry's use cases (REG-2, REG-5, REG-6, IDN-6): the operations that write a record
//! and the reads of records, households, duplicate cases and feeds. The comuni's web services,
//! the registry office's pages and the command line all call these.
//!
//! Writes: the principal's role is checked first, then the operation against the rules that
//! need no record (the domain's `check` with today's date from the clock), then the store
//! applies it in one transaction with its events and trace entries. Every write carries the
//! client's operation id: the same id with the same operation answers the first result again
//! ([`Written::replayed`]); with another operation, `State` on `client_op_id`. A refusal by the
//! register's state is traced in its own transaction.
//!
//! Reads are traced like writes (SEC-4): who read whose record, as of when.

use crate::{Clock, Principal, ServiceError, ServiceResult};
pub use anagrafe_domain::IdStatus;
use anagrafe_domain::ops::Operation;
use anagrafe_domain::{Belfiore, CodiceFiscale, FieldError, HouseholdKind, IdAnpr, PersonRecord, RefData, RegisterStatus, Role, Why};
use anagrafe_store::{
    Applied, DuplicateCase, FamilyMember, FamilyView, FeedItem, GeneralitaQuery, HandledNotification, IdIssuer, Idempotency, PersonHistory,
    PersonView, Store, StoreError,
};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The roles that keep a comune's register: its software and its registry officers.
const KEEPERS: &[Role] = &[Role::Comune, Role::RegistryOfficer];

/// What a client's operation id must be, as its errors say.
pub const CLIENT_OP_ID_RULE: &str = "must be 1 to 64 characters among letters, digits, '-', '_', '.', ':'";

/// A client's operation id: what makes a write idempotent. 1 to 64 characters among letters,
/// digits, `-`, `_`, `.`, `:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientOpId(String);

impl ClientOpId {
    /// Parses an operation id; the error names the field `client_op_id`.
    pub fn parse(s: &str) -> ServiceResult<Self> {
        if !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ServiceError::malformed("client_op_id", CLIENT_OP_ID_RULE))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The register's answer.
    pub applied: Applied,
    /// The operation created something (a record, a case): the API answers 201.
    pub created: bool,
    /// The answer is the one first given to this operation id (nothing was written now).
    pub replayed: bool,
}

/// A person's record as of a date, found by ID ANPR.
#[derive(Debug, Clone)]
pub struct PersonRead {
    /// The ID asked for.
    pub id_anpr: IdAnpr,
    /// Its state.
    pub id_status: IdStatus,
    /// The record.
    pub view: PersonView,
}

/// How a search finds persons: by codice fiscale, or by personal data, never both.
#[derive(Debug, Clone)]
pub enum PersonQuery {
    /// Whoever had this codice fiscale on the date.
    CodiceFiscale(CodiceFiscale),
    /// Surname, name, sex, birth date (possibly a month or a year), birthplace optional.
    Generalita(GeneralitaQuery),
}

impl PersonQuery {
    /// A search by personal data, from the words a person typed: surname, given name, sex
    /// (`M`/`F`), birth date (`YYYY-MM-DD`, or `YYYY-MM` / `YYYY` for every birth of that month
    /// or year) and, optionally, the birthplace by name or code. Errors name the parameter as
    /// the web service does (`surname`, `given_name`, `sex`, `birth_date`, `birth_place`).
    pub fn generalita(surname: &str, given_name: &str, sex: &str, birth_date: &str, birth_place: Option<&str>) -> ServiceResult<Self> {
        let name = |v: &str, field: &str| -> ServiceResult<String> {
            let t = v.trim();
            if t.is_empty() || t.chars().count() > 100 || t.chars().any(char::is_control) {
                return Err(ServiceError::malformed(field, "is required for a search by personal data (1 to 100 characters)"));
            }
            Ok(t.to_owned())
        };
        let surname = name(surname, "surname")?;
        let given_name = name(given_name, "given_name")?;
        let sex = match sex.trim() {
            s @ ("M" | "F") => s.to_owned(),
            _ => return Err(ServiceError::malformed("sex", "is M or F")),
        };
        let date =
            anagrafe_domain::PartialDate::parse(birth_date.trim()).map_err(|e| ServiceError::malformed("birth_date", e.to_string()))?;
        let born_from = date.first_day();
        let born_to = match date.precision() {
            anagrafe_domain::DatePrecision::Day => Some(born_from),
            anagrafe_domain::DatePrecision::Month => born_from.checked_add_months(chrono::Months::new(1)).and_then(|d| d.pred_opt()),
            anagrafe_domain::DatePrecision::Year => NaiveDate::from_ymd_opt(chrono::Datelike::year(&born_from), 12, 31),
        }
        .ok_or_else(|| ServiceError::malformed("birth_date", "is out of range"))?;
        let birth_place = match birth_place.map(str::trim).filter(|p| !p.is_empty()) {
            None => None,
            Some(p) => Some(
                RefData::current()
                    .resolve(p, born_from)
                    .map_err(|e| ServiceError::malformed("birth_place", format!("is a comune or foreign state (name or code): {e}")))?
                    .code()
                    .to_string(),
            ),
        };
        Ok(Self::Generalita(GeneralitaQuery { surname: Some(surname), given_name: Some(given_name), sex, born_from, born_to, birth_place }))
    }
}

/// A person's history, found by ID ANPR.
#[derive(Debug, Clone)]
pub struct HistoryRead {
    /// The ID asked for.
    pub id_anpr: IdAnpr,
    /// Residences, citizenships and the events that wrote the record.
    pub history: PersonHistory,
}

/// The registry's use cases.
#[derive(Debug, Clone)]
pub struct Registry {
    store: Arc<dyn Store>,
    issuer: Option<Arc<IdIssuer>>,
    clock: Arc<dyn Clock>,
}

impl Registry {
    /// The registry over `store`, issuing IDs with `issuer` (`None`: writes answer
    /// `Unavailable`, replays still answer), reading time from `clock`.
    pub fn new(store: Arc<dyn Store>, issuer: Option<Arc<IdIssuer>>, clock: Arc<dyn Clock>) -> Self {
        Self { store, issuer, clock }
    }

    /// Today in Italy, by the service's clock.
    pub fn today(&self) -> NaiveDate {
        self.clock.today()
    }

    /// Whether `who` keeps a comune's register at all (every service here asks it): a door
    /// asks before it reads a request's body or query, so that a caller of another role learns
    /// nothing of the operation's fields.
    pub fn authorize(&self, who: &Principal) -> ServiceResult<()> {
        who.require(KEEPERS, "the registry's operations")
    }

    /// Applies a registry operation for `who`, once per operation id.
    pub async fn apply(&self, who: &Principal, op: Operation, op_id: &ClientOpId) -> ServiceResult<Written> {
        self.authorize(who)?;
        self.check(&op).await?;
        let fingerprint = fingerprint(&op);
        // The adoption of a minor keeps nothing of its request (IDN-6 case 4): its answer names
        // the new record, its request the old one. An id already used is looked up first, and
        // so is any id when nothing can be written (no issuer), so that a replay still answers.
        let keep_answer = !matches!(op, Operation::AdoptMinor { .. });
        if (!keep_answer || self.issuer.is_none())
            && let Some(w) = self.replay(who, op_id, &fingerprint).await?
        {
            return Ok(w);
        }
        let issuer = self.issuer.as_deref().ok_or_else(|| ServiceError::Unavailable("no ID ANPR issuer is configured".into()))?;
        let mut ctx = who.context();
        ctx.client_op_id = keep_answer.then(|| op_id.as_str().to_owned());
        let idem = keep_answer.then(|| Idempotency { client_op_id: op_id.as_str().to_owned(), body_sha256: Some(fingerprint.clone()) });
        // IDs are issued below the generator's high-water mark only: when the reservation is used
        // up, the mark is raised (durably, outside the database) and the operation runs again.
        let mut outcome = self.store.apply(&op, &ctx, issuer, idem.as_ref()).await;
        for needed in [1, 2, 4] {
            let (Err(StoreError::IdCeiling), Some(hw)) = (&outcome, &issuer.high_water) else { break };
            hw.raise(&*self.store, needed).await?;
            outcome = self.store.apply(&op, &ctx, issuer, idem.as_ref()).await;
        }
        match outcome {
            Ok(applied) => Ok(Written { created: creates(&applied.operation), applied, replayed: false }),
            Err(e) => {
                // An operation id already used (found by the stored answer's unique key, or the
                // repeated operation failing on the state the first one left): the first
                // answer, or a conflict when the operation differs; looked up only on failure,
                // so a first attempt costs no extra read.
                if let Some(w) = self.replay(who, op_id, &fingerprint).await? {
                    return Ok(w);
                }
                let e = ServiceError::from(e);
                if matches!(&e, ServiceError::Conflict(field) if field == "client_op_id") {
                    return Err(e);
                }
                if e.is_refusal() {
                    let mut entry = who.entry(op.name(), "refused");
                    entry.detail = serde_json::json!({ "reason": e.to_string(), "client_op_id": op_id.as_str() }).to_string();
                    self.store.audit(&entry).await?;
                }
                Err(e)
            }
        }
    }

    /// The rules an operation must meet before the store is asked: its own data, checked
    /// against today's date and the reference data, and for a few operations the record's
    /// facts that decide which rule applies.
    async fn check(&self, op: &Operation) -> ServiceResult<()> {
        let today = self.today();
        let refdata = RefData::current();
        match op {
            Operation::Register(r) => ServiceError::check(r.check(&refdata, today)),
            Operation::ChangeResidence { change, .. } => ServiceError::check(change.check(&refdata, today)),
            Operation::Cancel { person, cancellation } => {
                // Which table the reason belongs to depends on the record: the domain checks
                // it against the record's position when the record is there; the store refuses
                // an unknown record on its own.
                if let Some((pid, _)) = self.store.find_by_id_anpr(person).await?
                    && let Ok(view) = self.store.person(pid, None).await
                {
                    let aire = view.record.status == RegisterStatus::Aire;
                    ServiceError::check(cancellation.check(aire, &refdata, today))?;
                }
                Ok(())
            }
            Operation::ChangeGeneralita { change, .. } => ServiceError::check(change.check(today)),
            Operation::ChangeCivilStatus { change, .. } => {
                let mut errs = Vec::new();
                anagrafe_domain::ops::check_date(&mut errs, "effective_date", change.effective_date, today);
                ServiceError::check(errs)
            }
            Operation::MoveHousehold { change, .. } => ServiceError::check(change.check(today)),
            Operation::SetRelations { family_id, change } => {
                let cohabitation = match self.store.family(*family_id, None).await {
                    Ok(f) => matches!(f.kind, HouseholdKind::Cohabitation { .. }),
                    Err(StoreError::NotFound(_)) => return Err(ServiceError::NotFound(format!("household {family_id}"))),
                    Err(e) => return Err(e.into()),
                };
                ServiceError::check(change.check(cohabitation, today))
            }
            Operation::ResolveDuplicate { keep, delete } if keep == delete => {
                Err(ServiceError::Invalid(vec![FieldError::new("delete", Why::new("delete-kept"))]))
            }
            Operation::RecordDocument { issue, .. } => ServiceError::check(issue.check(today)),
            Operation::EndDocument { end, .. } => ServiceError::check(end.check(today)),
            Operation::AdoptMinor { .. }
            | Operation::ReportDuplicate { .. }
            | Operation::DismissDuplicate { .. }
            | Operation::ResolveDuplicate { .. } => Ok(()),
        }
    }

    async fn replay(&self, who: &Principal, op_id: &ClientOpId, fingerprint: &str) -> ServiceResult<Option<Written>> {
        let Some(prev) = self.store.client_operation(&who.actor, op_id.as_str()).await? else { return Ok(None) };
        match (prev.body_sha256, prev.response) {
            (Some(h), Some(resp)) if h == fingerprint => {
                let applied: Applied = serde_json::from_str(&resp)
                    .map_err(|e| ServiceError::Internal(Box::new(StoreError::Corrupt(format!("stored answer: {e}")))))?;
                Ok(Some(Written { created: creates(&prev.operation), applied, replayed: true }))
            }
            (None, _) => Err(ServiceError::State { field: "client_op_id".into(), reason: Why::new("op-id-unanswerable") }),
            _ => Err(ServiceError::State { field: "client_op_id".into(), reason: Why::new("op-id-reused") }),
        }
    }

    /// The internal id and state of an ID ANPR that is still in use (`Gone` when it was
    /// invalidated, `NotFound` when never issued).
    async fn resolve(&self, id: &IdAnpr) -> ServiceResult<(i64, IdStatus)> {
        let (pid, status) = self.store.find_by_id_anpr(id).await?.ok_or_else(|| ServiceError::NotFound(format!("ID ANPR {id}")))?;
        match status {
            IdStatus::Invalid => Err(ServiceError::Gone(format!("ID ANPR {id} is no longer valid"))),
            status => Ok((pid, status)),
        }
    }

    async fn trace_read(&self, who: &Principal, operation: &str, subject: Option<i64>, detail: serde_json::Value) -> ServiceResult<()> {
        let mut e = who.entry(operation, "ok");
        e.subject_person = subject;
        e.detail = detail.to_string();
        self.store.audit(&e).await?;
        Ok(())
    }

    /// A person's record as it was on `as_of` (today when `None`), traced as `person.read`.
    pub async fn person(&self, who: &Principal, id: &IdAnpr, as_of: Option<NaiveDate>) -> ServiceResult<PersonRead> {
        who.require(KEEPERS, "reading a record")?;
        let (pid, id_status) = self.resolve(id).await?;
        let view = match self.store.person(pid, as_of).await {
            Err(StoreError::NotFound(_)) => {
                // Asked for a day before the record began: say from when it is known.
                let first = self.store.history(pid).await?.residences.first().map(|r| r.from);
                return Err(match first {
                    Some(since) if as_of.is_some_and(|d| d < since) => ServiceError::NotYet { since },
                    _ => ServiceError::NotFound(format!("ID ANPR {id} had no record on that date")),
                });
            }
            other => other?,
        };
        self.trace_read(who, "person.read", Some(pid), serde_json::json!({ "as_of": view.as_of })).await?;
        Ok(PersonRead { id_anpr: *id, id_status, view })
    }

    /// The persons a search finds on `as_of`, each traced as `person.search`. Records without a
    /// valid ID (deleted duplicates, a minor's record before adoption) are not found.
    pub async fn search(&self, who: &Principal, query: &PersonQuery, as_of: Option<NaiveDate>) -> ServiceResult<Vec<PersonView>> {
        who.require(KEEPERS, "searching the register")?;
        let pids = match query {
            PersonQuery::Generalita(q) => self.store.find_by_generalita(q, as_of).await?,
            PersonQuery::CodiceFiscale(cf) => self.store.find_by_cf(cf, as_of).await?,
        };
        let mut found = Vec::new();
        for pid in pids {
            let view = match self.store.person(pid, as_of).await {
                // Found by data valid on the date, but the record itself began later.
                Err(StoreError::NotFound(_)) => continue,
                other => other?,
            };
            if view.record.id_anpr.is_none() {
                continue;
            }
            self.trace_read(who, "person.search", Some(pid), serde_json::json!({ "as_of": view.as_of })).await?;
            found.push(view);
        }
        Ok(found)
    }

    /// A person's history (residences and citizenships with their periods, the events that
    /// wrote the record, oldest first), traced as `person.history`.
    pub async fn history(&self, who: &Principal, id: &IdAnpr) -> ServiceResult<HistoryRead> {
        who.require(KEEPERS, "reading a record's history")?;
        let (pid, _) = self.resolve(id).await?;
        let history = self.store.history(pid).await?;
        self.trace_read(who, "person.history", Some(pid), serde_json::json!({ "events": history.events.len() })).await?;
        Ok(HistoryRead { id_anpr: *id, history })
    }

    /// A household and its members as they were on `as_of`, traced as `family.read`.
    pub async fn family(&self, who: &Principal, family_id: i64, as_of: Option<NaiveDate>) -> ServiceResult<FamilyView> {
        who.require(KEEPERS, "reading a household")?;
        let view = self.store.family(family_id, as_of).await?;
        self.trace_read(who, "family.read", None, serde_json::json!({ "family_id": family_id })).await?;
        Ok(view)
    }

    /// A household as of `as_of` with each member's record (the *foglio di famiglia*), traced as
    /// one read of the household (`family.read`, with the number of members shown).
    pub async fn family_sheet(
        &self,
        who: &Principal,
        family_id: i64,
        as_of: Option<NaiveDate>,
    ) -> ServiceResult<(FamilyView, Vec<(FamilyMember, PersonRecord)>)> {
        who.require(KEEPERS, "reading a household")?;
        let view = self.store.family(family_id, as_of).await?;
        let mut members = Vec::with_capacity(view.members.len());
        for m in &view.members {
            let record = self.store.person(m.person_id, as_of).await?.record;
            members.push((m.clone(), record));
        }
        let detail = serde_json::json!({ "family_id": family_id, "members": members.len() });
        self.trace_read(who, "family.read", None, detail).await?;
        Ok((view, members))
    }

    /// The open duplicate cases (IDN-6 case 5) in which a record of the principal's comune is
    /// involved, oldest first, traced as `duplicates.read`.
    pub async fn open_duplicates(&self, who: &Principal) -> ServiceResult<(Belfiore, Vec<DuplicateCase>)> {
        who.require(KEEPERS, "the open duplicate cases")?;
        let comune = who.acting_comune()?;
        let cases = self.store.open_duplicates(comune).await?;
        self.trace_read(who, "duplicates.read", None, serde_json::json!({ "count": cases.len() })).await?;
        Ok((comune, cases))
    }

    /// The principal's comune's notifications after the cursor `after`, oldest first.
    pub async fn notifications(&self, who: &Principal, after: i64, limit: u32) -> ServiceResult<(Belfiore, Vec<FeedItem>)> {
        who.require(KEEPERS, "the notifications")?;
        let comune = who.acting_comune()?;
        Ok((comune, self.store.notifications(comune, after, limit).await?))
    }

    /// The comune's notifications below the cursor `before`, newest first: the office's inbox.
    pub async fn latest_notifications(&self, who: &Principal, before: i64, limit: u32) -> ServiceResult<(Belfiore, Vec<FeedItem>)> {
        who.require(KEEPERS, "the notifications")?;
        let comune = who.acting_comune()?;
        Ok((comune, self.store.latest_notifications(comune, before, limit).await?))
    }

    /// The comune's notifications below the cursor `before`, newest first, each with its
    /// handling when the office has marked it handled.
    pub async fn inbox(
        &self,
        who: &Principal,
        before: i64,
        limit: u32,
    ) -> ServiceResult<(Belfiore, Vec<(FeedItem, Option<HandledNotification>)>)> {
        let (comune, items) = self.latest_notifications(who, before, limit).await?;
        let (Some(last), Some(first)) = (items.first(), items.last()) else { return Ok((comune, Vec::new())) };
        let handled = self.store.notifications_handled(comune, first.id, last.id).await?;
        let items = items
            .into_iter()
            .map(|n| {
                let h = handled.iter().find(|h| h.id == n.id).cloned();
                (n, h)
            })
            .collect();
        Ok((comune, items))
    }

    /// Marks a notification of the principal's comune handled by the principal (`by`: the name
    /// the pages show), traced as `notification.handled`; marking it again changes nothing.
    pub async fn mark_handled(&self, who: &Principal, id: i64, by: &str) -> ServiceResult<HandledNotification> {
        who.require(KEEPERS, "handling the notifications")?;
        let comune = who.acting_comune()?;
        let entry = who.entry("notification.handled", "ok");
        Ok(self.store.mark_notification_handled(comune, id, by, &entry).await?)
    }

    /// The communications owed to the Revenue Agency after the cursor `after`, oldest first,
    /// traced as `revenue_outbox.read`.
    pub async fn revenue_outbox(&self, who: &Principal, after: i64, limit: u32) -> ServiceResult<Vec<FeedItem>> {
        who.require(&[Role::RevenueAgency], "the Revenue Agency's outbox")?;
        let items = self.store.revenue_outbox(after, limit).await?;
        self.trace_read(who, "revenue_outbox.read", None, serde_json::json!({ "after": after, "count": items.len() })).await?;
        Ok(items)
    }
}

/// Operations whose success creates something (a record, a case; the adoption's new record).
fn creates(operation: &str) -> bool {
    matches!(operation, "person.register" | "duplicate.report" | "person.minor_adoption" | "person.document")
}

/// What a replay must match: the operation itself, subject included (the same data sent about
/// another record is another request).
fn fingerprint(op: &Operation) -> String {
    let mut h = Sha256::new();
    // Serialising a domain value of plain fields cannot fail; were it to, every request would
    // get the same (empty) fingerprint only together with a distinct operation name.
    h.update(op.name().as_bytes());
    h.update(b"\n");
    h.update(serde_json::to_vec(op).unwrap_or_default());
    hex::encode(h.finalize())
}
