//! Registry extracts (*visure anagrafiche*, issue 19: VIS-1 … VIS-11) as use cases: a user of
//! an organisation asks for an extract of a subject found by a criterion; the rules of
//! [`anagrafe_domain::extract::decide`] say whether it is issued now (with the comune's next
//! protocol number), deferred to a mediator, or answered with the subject's comune only; a
//! mediator approves or rejects what waits, and silence approves it after the configured time;
//! the TOP users see the alarms (requests at night, many on one subject in a day).
//!
//! Every request and decision is one transaction with its trace entry. A public-security user's
//! request (STANDARDPS) is traced like any other, and kept out of monitoring, alarms and the
//! subject's view of who looked at their data.

mod access;
mod bulletin;
mod census;
mod files;
mod notices;
pub use access::AccessEntry;
pub use bulletin::NewBulletin;
pub use census::{CensusUser, NewUser, UserChange};
pub use files::{ExportFile, FileFormat, accounting_csv, csv_cell};
pub use notices::NoticesSent;

use crate::{Clock, Principal, ServiceError, ServiceResult};
use anagrafe_domain::decode::DecodeTable;
use anagrafe_domain::extract::{
    Approval, Criterion, DocumentSearch, ExtractType, NightWindow, OrganisationKind, Outcome, Protocol, RequestState, Standing,
    approved_by_silence, decide, too_many_on_subject,
};
use anagrafe_domain::{Belfiore, CodiceFiscale, PersonRecord, RegisterStatus, Residence, Role, Why};
use anagrafe_store::{Dated, ExtractDecision, ExtractFilter, ExtractOrg, ExtractRequest, IssuedContent, NewExtractRequest, Store};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// How the extracts service behaves (`[extracts]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractSettings {
    /// After how long a deferred request is approved by silence (ms; 0: never, by hand only).
    pub silence_after_ms: i64,
    /// The night of the night alarm.
    pub night: NightWindow,
    /// Requests on one subject in one day past which the TOP users are alarmed.
    pub daily_threshold: u64,
}

impl Default for ExtractSettings {
    /// Silence approves after two working days' worth of hours (48 h); night 22–6; five a day.
    fn default() -> Self {
        Self { silence_after_ms: 48 * 3_600_000, night: NightWindow::default(), daily_threshold: 5 }
    }
}

/// A user of an organisation as the extracts see them: the principal, the name on the
/// documents, the organisation, and the mediator function (registry officers only).
#[derive(Debug, Clone)]
pub struct Requester {
    /// Who acts.
    pub principal: Principal,
    /// The operator's username.
    pub username: String,
    /// The name on the documents and in the archive.
    pub name: String,
    /// The organisation they act for.
    pub org: ExtractOrg,
}

impl Requester {
    /// A STANDARDPS user: kept out of monitoring.
    pub fn public_security(&self) -> bool {
        self.principal.role == Role::PaStandardPs
    }
}

/// What a request got, at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The request's number.
    pub id: i64,
    /// Issued, pending or comune only.
    pub state: RequestState,
    /// The protocol, when issued.
    pub protocol: Option<Protocol>,
    /// The comune of the subject named at once, when not theirs.
    pub comune: Option<Belfiore>,
    /// Why there is no extract, when there is none.
    pub why: Option<Why>,
}

/// An alarm of the TOP users (VIS-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alarm {
    /// A request made at night.
    Night {
        /// The request.
        request: i64,
        /// Who made it.
        requester: String,
        /// When (epoch ms).
        at_ms: i64,
    },
    /// Many requests on one subject in the day.
    ManyOnSubject {
        /// The subject's codice fiscale.
        subject: String,
        /// How many requests that day.
        count: u64,
    },
}

/// The extracts' use cases.
#[derive(Debug, Clone)]
pub struct ExtractDesk {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: ExtractSettings,
    /// The document engine and the register's seal, which make the extracts' PDFs.
    documents: Option<Arc<crate::certificates::Certificates>>,
}

/// The roles that ask for extracts.
const ASKING: [Role; 5] = [Role::PaTop, Role::PaAdmin, Role::PaStandard, Role::PaStandardPs, Role::RegistryOfficer];

impl ExtractDesk {
    /// The desk over `store`, reading the time from `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: ExtractSettings) -> Self {
        Self { store, clock, settings, documents: None }
    }

    /// Makes the extracts' PDFs with `certs`'s engine and seal (without, [`Self::document`]
    /// answers that the documents are unavailable).
    pub fn with_documents(mut self, certs: Option<Arc<crate::certificates::Certificates>>) -> Self {
        self.documents = certs;
        self
    }

    /// The sealed PDF of issued extract `id` and its SHA-256 (VIS-10), for whoever has the
    /// request in their archive (the requester; their organisation's ADMIN and the registry's
    /// TOP users, public-security requests excepted). Made on the first download from the data
    /// kept at issue, then kept: every download gives the same bytes. Each download is traced.
    pub async fn document(&self, r: &Requester, id: i64) -> ServiceResult<(ExtractRequest, Vec<u8>, String)> {
        let scope = Self::scoped(r, ExtractFilter::default())?;
        let not_found = || ServiceError::NotFound(format!("extract request {id}"));
        let req = self.store.extract_request(id).await?.ok_or_else(not_found)?;
        let visible = scope.comune.is_none_or(|c| c == req.comune)
            && scope.org_id.is_none_or(|o| o == req.org_id)
            && scope.requester.as_ref().is_none_or(|u| *u == req.requester)
            && (scope.include_public_security || !req.public_security);
        if !visible {
            // Someone else's extract: traced, and answered as if there were none.
            let mut e = r.principal.entry("extract.download", "refused:not-yours");
            e.detail = serde_json::json!({ "request": id, "withheld_from_subject": true }).to_string();
            self.store.audit(&e).await?;
            return Err(not_found());
        }
        let (Some(protocol), Some((json, _))) = (req.protocol, req.content.as_ref()) else {
            return Err(ServiceError::State { field: "stato".into(), reason: Why::new("extract-not-issued") });
        };
        let org = self.store.extract_org_by_id(req.org_id).await?.map(|o| o.name).unwrap_or_default();
        let mut e = r.principal.entry("extract.download", "ok");
        e.subject_person = req.person_id;
        e.detail = serde_json::json!({
            "request": id, "protocol": protocol.to_string(), "organisation": org,
            "public_security": req.public_security, "withheld_from_subject": req.public_security,
        })
        .to_string();
        if let Some((pdf, sha256)) = self.store.extract_document(id).await? {
            self.store.audit(&e).await?;
            return Ok((req, pdf, sha256));
        }
        let certs = self.documents.clone().ok_or_else(|| ServiceError::Unavailable("the register has no seal to make documents".into()))?;
        let snap: ExtractSnapshot = serde_json::from_str(json)
            .map_err(|_| ServiceError::State { field: "stato".into(), reason: Why::new("extract-old-format") })?;
        let issued_at = chrono::DateTime::from_timestamp_millis(req.decided_at.unwrap_or(req.requested_at)).unwrap_or_default();
        let mediator = match req.approval {
            Some(Approval::ByMediator) => req.mediator.clone(),
            Some(Approval::BySilence) => Some("Approvata per silenzio-assenso".to_owned()),
            None => None,
        };
        let heading = crate::certificates::content::ExtractHeading {
            comune: req.comune,
            title: snap.kind.title(),
            cert_type: snap.kind.certificate_type().code(),
            protocol: protocol.to_string(),
            issued_at,
            requester: &req.requester_name,
            organisation: &org,
            mediator,
            registered: snap.registered.as_ref().map(|d| (d.date, d.reason.clone())),
            cancelled: snap.cancelled.as_ref().map(|d| (d.date, d.reason.clone())),
        };
        let facts = crate::certificates::content::Facts {
            record: &snap.record,
            cohabitation: None,
            in_household: snap.in_household,
            residences: Some(snap.residences.as_slice()),
            citizenships: Some(snap.citizenships.as_slice()),
            members: snap.members.iter().map(|m| (&m.record, m.relation)).collect(),
            as_of: snap.as_of,
        };
        let doc = crate::certificates::content::extract_document(&certs, &heading, &facts);
        let reason = format!("Visura anagrafica, protocollo {protocol}");
        let content = json.clone().into_bytes();
        let slot = certs.render_slots.clone().acquire_owned().await.map_err(|e| ServiceError::Internal(e.to_string().into()))?;
        let pdf = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, anagrafe_docs::DocError> {
            let pdf = certs.engine.render(&doc, None)?;
            certs.seal.seal(&pdf, issued_at, &reason, &[(anagrafe_docs::payload::CONTENT_ENTRY, &content)])
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string().into()))?
        .map_err(|e| ServiceError::Internal(format!("extract {id}: {e}").into()))?;
        drop(slot);
        let (pdf, sha256) = self.store.save_extract_document(id, &pdf, self.clock.now().timestamp_millis(), &e).await?;
        Ok((req, pdf, sha256))
    }

    /// The requester `who` is when acting for the organisation `org_code` (the scope of their
    /// role grant, which the door read from the session).
    pub async fn requester(&self, who: &Principal, username: &str, name: &str, org_code: &str) -> ServiceResult<Requester> {
        who.require(&ASKING, "the registry extracts")?;
        let org = self.store.extract_org(org_code).await?.ok_or_else(|| ServiceError::Forbidden(format!("no organisation {org_code}")))?;
        if who.role == Role::RegistryOfficer && (org.kind != OrganisationKind::Registry || who.comune != Some(org.comune)) {
            return Err(ServiceError::Forbidden("a registry officer acts for the registry office of their comune".into()));
        }
        // VIS-2: the TOP users are the registry office's.
        if who.role == Role::PaTop && org.kind != OrganisationKind::Registry {
            return Err(ServiceError::Forbidden("TOP users belong to the registry office".into()));
        }
        Ok(Requester { principal: who.clone(), username: username.to_owned(), name: name.to_owned(), org })
    }

    /// Saves an organisation of a comune (the system administrator, or a TOP user of that
    /// comune's registry office); its id.
    pub async fn save_org(&self, who: &Principal, top_of: Option<&Requester>, org: &ExtractOrg) -> ServiceResult<i64> {
        match top_of {
            Some(top)
                if top.principal.role == Role::PaTop && top.org.kind == OrganisationKind::Registry && top.org.comune == org.comune => {}
            Some(_) => return Err(ServiceError::Forbidden("organisations are managed by the registry office's TOP users".into())),
            None => who.require(&[Role::SystemAdmin], "the organisations of the extracts")?,
        }
        if top_of.is_some() {
            // A TOP user changes the offices and bodies of their own comune, never the registry
            // office itself (the system administrator's).
            if org.id != 0 {
                let before = self
                    .store
                    .extract_org_by_id(org.id)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("organisation {}", org.id)))?;
                if before.comune != org.comune {
                    return Err(ServiceError::NotFound(format!("organisation {}", org.id)));
                }
                if before.kind == OrganisationKind::Registry {
                    return Err(ServiceError::invalid("tipo", Why::new("org-registry")));
                }
            }
            if org.kind == OrganisationKind::Registry {
                return Err(ServiceError::invalid("tipo", Why::new("org-registry")));
            }
        }
        let mut errs = Vec::new();
        if !crate::admin::valid_username(&org.code) {
            errs.push(anagrafe_domain::FieldError::new("codice", Why::new("bad-client-id")));
        }
        if org.name.trim().is_empty() || org.name.chars().count() > 200 {
            errs.push(anagrafe_domain::FieldError::new("nome", Why::new("required")));
        }
        if org.kind == OrganisationKind::ExternalBody && (org.convention_from.is_none() || org.convention_to.is_none()) {
            errs.push(anagrafe_domain::FieldError::new("convenzione", Why::new("convention-required")));
        }
        if let (Some(a), Some(b)) = (org.convention_from, org.convention_to)
            && a > b
        {
            errs.push(anagrafe_domain::FieldError::new("convenzione", Why::new("convention-order")));
        }
        ServiceError::check(errs)?;
        match self.store.save_extract_org(org, &who.context()).await {
            Err(anagrafe_store::StoreError::Conflict { .. }) => Err(ServiceError::invalid("codice", Why::new("client-id-taken"))),
            other => Ok(other?),
        }
    }

    /// Finds the one subject `criterion` names; refused on the criterion when nobody or more
    /// than one person matches.
    async fn subject(&self, criterion: &Criterion) -> ServiceResult<i64> {
        let ids = match criterion {
            Criterion::CodiceFiscale { code } => {
                let cf = CodiceFiscale::parse(code).map_err(|_| ServiceError::invalid("codice_fiscale", Why::new("bad-cf")))?;
                self.store.find_by_cf(&cf, None).await?
            }
            Criterion::Document { kind, number } => {
                let kinds: &[&str] = match kind {
                    DocumentSearch::IdentityCard => &["cie", "carta_identita_cartacea"],
                    DocumentSearch::Passport => &["passaporto"],
                    DocumentSearch::ResidencePermit => &["permesso_soggiorno"],
                };
                self.store.find_by_document(kinds, number).await?
            }
            Criterion::Name { surname, given, born_on, born_in } => {
                self.store.find_by_name(surname, given, *born_on, born_in.as_deref(), 2).await?
            }
        };
        match ids.as_slice() {
            [one] => Ok(*one),
            [] => Err(ServiceError::invalid("criterio", Why::new("extract-no-subject"))),
            _ => Err(ServiceError::invalid("criterio", Why::new("extract-many-subjects"))),
        }
    }

    /// Asks for an extract of type `kind` of the subject `criterion` names, for `purpose`.
    pub async fn request(&self, r: &Requester, criterion: &Criterion, kind: ExtractType, purpose: &str) -> ServiceResult<Answer> {
        let purpose = self.check_request(r, kind, purpose)?;
        let person_id = self.subject(criterion).await?;
        let record = self.store.person(person_id, None).await?.record;
        self.answer(r, criterion, kind, &purpose, person_id, &record, None).await
    }

    /// Asks for extracts of one type of a list of subjects (VIS-11): each is recorded and
    /// waits for a mediator. Municipal offices and the registry only; all or none (a subject
    /// not found refuses the list, naming its line).
    pub async fn request_bulk(
        &self,
        r: &Requester,
        criteria: &[Criterion],
        kind: ExtractType,
        purpose: &str,
    ) -> ServiceResult<Vec<Answer>> {
        let purpose = self.check_request(r, kind, purpose)?;
        if r.org.kind == OrganisationKind::ExternalBody {
            return Err(ServiceError::Forbidden("bulk extracts are for the comune's offices".into()));
        }
        if criteria.is_empty() || criteria.len() > 500 {
            return Err(ServiceError::invalid("elenco", Why::new("extract-bulk-size")));
        }
        let mut found = Vec::with_capacity(criteria.len());
        for (i, c) in criteria.iter().enumerate() {
            let id =
                self.subject(c).await.map_err(|_| ServiceError::invalid("elenco", Why::new("extract-bulk-line").arg("line", i + 1)))?;
            found.push((c, id, self.store.person(id, None).await?.record));
        }
        let mut out = Vec::with_capacity(found.len());
        let mut bulk_id = None;
        for (c, id, record) in found {
            let a = self.answer(r, c, kind, &purpose, id, &record, Some(bulk_id)).await?;
            bulk_id.get_or_insert(a.id);
            out.push(a);
        }
        Ok(out)
    }

    fn check_request(&self, r: &Requester, kind: ExtractType, purpose: &str) -> ServiceResult<String> {
        let today = self.clock.today();
        if r.org.kind == OrganisationKind::ExternalBody
            && !(r.org.convention_from.is_some_and(|d| d <= today) && r.org.convention_to.is_some_and(|d| d >= today))
        {
            return Err(ServiceError::Forbidden("the organisation's convention is not in force".into()));
        }
        if !r.org.types.is_empty() && !r.org.types.contains(&kind) {
            return Err(ServiceError::invalid("tipo", Why::new("extract-type-not-allowed")));
        }
        let purpose = purpose.trim();
        if purpose.chars().count() < 3 || purpose.chars().count() > 300 {
            return Err(ServiceError::invalid("finalita", Why::new("extract-purpose")));
        }
        Ok(purpose.to_owned())
    }

    #[allow(clippy::too_many_arguments)]
    async fn answer(
        &self,
        r: &Requester,
        criterion: &Criterion,
        kind: ExtractType,
        purpose: &str,
        person_id: i64,
        record: &PersonRecord,
        bulk: Option<Option<i64>>,
    ) -> ServiceResult<Answer> {
        let standing = standing_of(record, r.org.comune);
        let outcome = decide(r.org.kind, &standing, bulk.is_some());
        let now = self.clock.now();
        let cf = record.generalita.codice_fiscale.as_ref().map(|c| c.to_string()).unwrap_or_default();
        let (state, comune, why) = match &outcome {
            Outcome::Issue => (RequestState::Issued, None, None),
            Outcome::Defer { comune } => (RequestState::Pending, *comune, None),
            Outcome::ComuneOnly { comune, why } => (RequestState::ComuneOnly, *comune, Some(why.clone())),
        };
        let req = NewExtractRequest {
            comune: r.org.comune,
            org_id: r.org.id,
            requester: r.username.clone(),
            requester_name: r.name.clone(),
            public_security: r.public_security(),
            bulk_id: bulk.flatten(),
            criterion: criterion.clone(),
            subject: Some((person_id, cf)),
            subject_aire: record.status == RegisterStatus::Aire,
            extract_type: kind,
            purpose: purpose.to_owned(),
            state,
            answer_comune: comune,
            reason: why.as_ref().map(|w| w.key().to_owned()),
            at_ms: now.timestamp_millis(),
        };
        let content = match state {
            RequestState::Issued => Some(self.snapshot(kind, person_id, record).await?.content()?),
            _ => None,
        };
        // The protocol's year is the Italian year of the very instant recorded on the request.
        let year = anagrafe_domain::ops::italian_date(now).year();
        let mut e = r.principal.entry("extract.request", if state == RequestState::ComuneOnly { "refused" } else { "ok" });
        e.subject_person = Some(person_id);
        let (id, protocol) = self.store.add_extract_request(&req, content.as_ref().map(|c| (year, c)), &e).await?;
        Ok(Answer { id, state, protocol, comune, why })
    }

    /// The organisations of a comune, by name (no personal data: what the pages name requests
    /// by).
    pub async fn organisations(&self, comune: Belfiore) -> ServiceResult<Vec<ExtractOrg>> {
        Ok(self.store.extract_orgs(comune).await?)
    }

    /// The requests waiting for a mediator of the mediator's comune, oldest first.
    pub async fn pending(&self, mediator: &Principal, mediator_fn: bool) -> ServiceResult<Vec<ExtractRequest>> {
        let comune = Self::mediator_comune(mediator, mediator_fn)?;
        let f = ExtractFilter {
            comune: Some(comune),
            state: Some(RequestState::Pending),
            include_public_security: true,
            limit: 500,
            ..ExtractFilter::default()
        };
        let mut list = self.store.extract_requests(&f).await?;
        list.reverse();
        Ok(list)
    }

    fn mediator_comune(who: &Principal, mediator_fn: bool) -> ServiceResult<Belfiore> {
        if who.role != Role::RegistryOfficer || !mediator_fn {
            return Err(ServiceError::Forbidden("deferred extracts are decided by a registry officer with the mediator function".into()));
        }
        who.acting_comune()
    }

    /// A mediator approves (`approve`) or rejects request `id` with a note (required to
    /// reject); approved, the extract is issued with the next protocol number.
    pub async fn decide(
        &self,
        mediator: &Principal,
        mediator_fn: bool,
        id: i64,
        approve: bool,
        note: &str,
    ) -> ServiceResult<ExtractRequest> {
        let comune = Self::mediator_comune(mediator, mediator_fn)?;
        let req = self
            .store
            .extract_request(id)
            .await?
            .filter(|r| r.comune == comune)
            .ok_or_else(|| ServiceError::NotFound(format!("request {id}")))?;
        let note = note.trim();
        if (!approve && note.is_empty()) || note.chars().count() > 500 {
            return Err(ServiceError::invalid("nota", Why::new("required")));
        }
        let decision = if approve {
            ExtractDecision::Approve { approval: Approval::ByMediator, content: self.issued_content(&req).await? }
        } else {
            ExtractDecision::Reject
        };
        let mut e = mediator.entry(if approve { "extract.approved" } else { "extract.rejected" }, "ok");
        e.subject_person = req.person_id;
        let username = mediator.actor.strip_prefix("operator:").unwrap_or(&mediator.actor);
        let (now, year) = issue_time(&*self.clock);
        Ok(self.store.decide_extract(id, &decision, username, note, now, year, &e).await?)
    }

    /// The data a deferred request shows once approved: its subject as of now.
    async fn issued_content(&self, req: &ExtractRequest) -> ServiceResult<IssuedContent> {
        let id = req.person_id.ok_or_else(|| ServiceError::NotFound(format!("subject of request {}", req.id)))?;
        let record = self.store.person(id, None).await?.record;
        self.snapshot(req.extract_type, id, &record).await?.content()
    }

    /// Reads what an extract of `kind` shows of the subject `person_id`, whose record is
    /// `record`: the household for the family types, the history for the residence and
    /// historical types and for a cancelled subject, the registration and cancellation.
    async fn snapshot(&self, kind: ExtractType, person_id: i64, record: &PersonRecord) -> ServiceResult<ExtractSnapshot> {
        let t = kind.certificate_type().code();
        let cancelled = matches!(record.status, RegisterStatus::Cancelled | RegisterStatus::Deceased);
        let history = if cancelled || matches!(t, 6 | 8 | 9 | 10) { Some(self.store.history(person_id).await?) } else { None };
        let mut members = Vec::new();
        let mut in_household = false;
        if matches!(t, 12 | 13 | 15 | 16)
            && let Some(anagrafe_domain::Household::Family { family_id, .. } | anagrafe_domain::Household::Cohabitation { family_id, .. }) =
                &record.household
        {
            in_household = true;
            for m in self.store.family(*family_id, None).await?.members {
                let r = if m.person_id == person_id { record.clone() } else { self.store.person(m.person_id, None).await?.record };
                members.push(SnapshotMember { record: r, relation: m.relation });
            }
        }
        let event = |kinds: &[&str]| {
            history
                .as_ref()
                .and_then(|h| h.events.iter().rev().find(|e| kinds.contains(&e.kind.as_str())))
                .map(|e| DatedReason { date: e.effective_date, reason: event_reason(e) })
        };
        let registered = event(&["iscrizione", "iscrizione_aire"]);
        let cancelled = if cancelled {
            // A record loaded in bulk has no events of its own: the death, or the end of the
            // last residence, says when.
            event(&["cancellazione", "cancellazione_aire"]).or_else(|| match (&record.death, &history) {
                (Some(d), _) => Some(DatedReason { date: d.date.first_day(), reason: "Morte accertata".into() }),
                (None, Some(h)) => {
                    h.residences.iter().filter_map(|r| r.to).max().map(|date| DatedReason { date, reason: "Cancellazione".into() })
                }
                (None, None) => None,
            })
        } else {
            None
        };
        let (residences, citizenships) = match history {
            Some(h) => (h.residences, if t == 6 { h.citizenships } else { Vec::new() }),
            None => (Vec::new(), Vec::new()),
        };
        Ok(ExtractSnapshot {
            kind,
            as_of: self.clock.today(),
            record: record.clone(),
            in_household,
            members,
            residences,
            citizenships,
            registered,
            cancelled,
        })
    }

    /// Approves by silence every request pending for longer than the configured time (the
    /// server's job); how many.
    pub async fn approve_by_silence(&self, job: &Principal) -> ServiceResult<usize> {
        job.require(&[Role::SystemAdmin], "silence-consent")?;
        let (now, year) = issue_time(&*self.clock);
        if self.settings.silence_after_ms <= 0 {
            return Ok(0);
        }
        let f = ExtractFilter {
            state: Some(RequestState::Pending),
            include_public_security: true,
            to_ms: Some(now - self.settings.silence_after_ms + 1),
            limit: 1000,
            ..ExtractFilter::default()
        };
        let mut done = 0;
        for req in self.store.extract_requests(&f).await? {
            if !approved_by_silence(req.requested_at, self.settings.silence_after_ms, now) {
                continue;
            }
            let decision = ExtractDecision::Approve { approval: Approval::BySilence, content: self.issued_content(&req).await? };
            let mut e = job.entry("extract.approved", "ok");
            e.subject_person = req.person_id;
            match self.store.decide_extract(req.id, &decision, "system:silence", "", now, year, &e).await {
                Ok(_) => done += 1,
                // A mediator decided it meanwhile.
                Err(anagrafe_store::StoreError::State { .. }) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Ok(done)
    }

    /// The alarms of the day `day` (Italian calendar) for a TOP user of the registry office:
    /// requests at night and subjects asked about more than the threshold, every organisation
    /// of the comune, public-security users' requests left out.
    pub async fn alarms(&self, top: &Requester, day: chrono::NaiveDate) -> ServiceResult<Vec<Alarm>> {
        if top.principal.role != Role::PaTop || top.org.kind != OrganisationKind::Registry {
            return Err(ServiceError::Forbidden("the alarms are for the registry office's TOP users".into()));
        }
        self.alarms_of(top.org.comune, day).await
    }

    /// The alarms of `comune` on `day`.
    async fn alarms_of(&self, comune: Belfiore, day: chrono::NaiveDate) -> ServiceResult<Vec<Alarm>> {
        let from = crate::security::italian_midnight_ms(day);
        let to = day.succ_opt().map_or(i64::MAX, crate::security::italian_midnight_ms);
        let f = ExtractFilter { comune: Some(comune), from_ms: Some(from), to_ms: Some(to), limit: 100_000, ..ExtractFilter::default() };
        let list = self.store.extract_requests(&f).await?;
        let mut out = Vec::new();
        let mut per_subject: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for r in list.iter().rev() {
            let at = chrono::DateTime::from_timestamp_millis(r.requested_at).unwrap_or_default();
            if self.settings.night.contains(anagrafe_domain::ops::italian_time(at)) {
                out.push(Alarm::Night { request: r.id, requester: r.requester.clone(), at_ms: r.requested_at });
            }
            if let Some(s) = r.subject.as_deref() {
                *per_subject.entry(s).or_default() += 1;
            }
        }
        for (subject, count) in per_subject {
            if too_many_on_subject(count, self.settings.daily_threshold) {
                out.push(Alarm::ManyOnSubject { subject: subject.to_owned(), count });
            }
        }
        Ok(out)
    }

    /// The archive as `who` may see it (VIS-6): a STANDARD or STANDARDPS user their own
    /// requests, an ADMIN their organisation's, a TOP user every organisation of the comune;
    /// public-security users' requests only in their own archive.
    pub async fn archive(&self, r: &Requester, filter: ExtractFilter) -> ServiceResult<Vec<ExtractRequest>> {
        let mut filter = Self::scoped(r, filter)?;
        if filter.limit == 0 || filter.limit > 1000 {
            filter.limit = 1000;
        }
        Ok(self.store.extract_requests(&filter).await?)
    }

    /// The statistics and accounting of the extracts issued from `from` to `to` (Italian days,
    /// both included) within what `r` may see (VIS-7): per type, per organisation, and the
    /// distinct subjects resident (APR) and in the AIRE.
    pub async fn statistics(&self, r: &Requester, from: chrono::NaiveDate, to: chrono::NaiveDate) -> ServiceResult<Statistics> {
        if from > to || (to - from).num_days() > 366 {
            return Err(ServiceError::invalid("al", Why::new("extract-period")));
        }
        let filter = ExtractFilter {
            state: Some(RequestState::Issued),
            from_ms: Some(crate::security::italian_midnight_ms(from)),
            to_ms: Some(to.succ_opt().map_or(i64::MAX, crate::security::italian_midnight_ms)),
            limit: 1_000_000,
            ..ExtractFilter::default()
        };
        let list = self.store.extract_requests(&Self::scoped(r, filter)?).await?;
        let names: std::collections::HashMap<i64, String> =
            self.store.extract_orgs(r.org.comune).await?.into_iter().map(|o| (o.id, o.name)).collect();
        let mut by_type: std::collections::BTreeMap<ExtractType, u64> = std::collections::BTreeMap::new();
        let mut by_org: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        let mut by_org_type: std::collections::BTreeMap<(String, ExtractType), u64> = std::collections::BTreeMap::new();
        let (mut apr, mut aire) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
        for q in &list {
            *by_type.entry(q.extract_type).or_default() += 1;
            let org = names.get(&q.org_id).cloned().unwrap_or_else(|| q.org_id.to_string());
            *by_org_type.entry((org.clone(), q.extract_type)).or_default() += 1;
            *by_org.entry(org).or_default() += 1;
            if let Some(p) = q.person_id {
                if q.subject_aire {
                    aire.insert(p)
                } else {
                    apr.insert(p)
                };
            }
        }
        Ok(Statistics {
            issued: list.len() as u64,
            by_type: by_type.into_iter().collect(),
            by_org: by_org.into_iter().collect(),
            by_org_type: by_org_type.into_iter().map(|((o, t), n)| (o, t, n)).collect(),
            apr_subjects: apr.len() as u64,
            aire_subjects: aire.len() as u64,
        })
    }

    /// `filter` narrowed to what `r` may see.
    fn scoped(r: &Requester, mut filter: ExtractFilter) -> ServiceResult<ExtractFilter> {
        filter.comune = Some(r.org.comune);
        match r.principal.role {
            Role::PaStandard | Role::PaStandardPs | Role::RegistryOfficer => {
                filter.requester = Some(r.username.clone());
                filter.include_public_security = true;
            }
            Role::PaAdmin => {
                filter.org_id = Some(r.org.id);
                filter.include_public_security = false;
            }
            Role::PaTop if r.org.kind == OrganisationKind::Registry => filter.include_public_security = false,
            _ => return Err(ServiceError::Forbidden("the archive of the extracts".into())),
        }
        Ok(filter)
    }
}

/// The extracts issued in a period, counted (VIS-7: statistics and accounting).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Extracts issued.
    pub issued: u64,
    /// Per type.
    pub by_type: Vec<(ExtractType, u64)>,
    /// Per organisation, by name (the accounting, *rendicontazione*).
    pub by_org: Vec<(String, u64)>,
    /// Per organisation and type.
    pub by_org_type: Vec<(String, ExtractType, u64)>,
    /// Distinct subjects resident in Italy (APR) when asked about.
    pub apr_subjects: u64,
    /// Distinct subjects in an AIRE.
    pub aire_subjects: u64,
}

/// Now (epoch ms) and its Italian year, from one reading of the clock: a decision recorded at
/// 23:59:59.999 on 31 December takes a number of that year, never of the next.
fn issue_time(clock: &dyn Clock) -> (i64, i32) {
    let now = clock.now();
    (now.timestamp_millis(), anagrafe_domain::ops::italian_date(now).year())
}

/// Where `record` stands for the comune `ours`.
pub fn standing_of(record: &PersonRecord, ours: Belfiore) -> Standing {
    let comune = match &record.residence {
        Residence::Italy(a) => a.comune,
        Residence::Abroad { aire_comune, .. } => *aire_comune,
    };
    match record.status {
        RegisterStatus::Resident if comune == ours => Standing::Resident,
        RegisterStatus::Aire if comune == ours => Standing::Aire,
        RegisterStatus::Resident | RegisterStatus::Aire => Standing::Elsewhere { comune },
        RegisterStatus::Cancelled | RegisterStatus::Deceased => Standing::Former { last_comune: Some(comune) },
    }
}

/// What an extract shows, kept with the request when it is issued (VIS-6, VIS-10): the sealed
/// PDF is laid out from it on the first download, so the document says what the register said
/// at the moment of issue, whatever changed since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractSnapshot {
    /// The extract's type.
    #[serde(rename = "type")]
    pub kind: ExtractType,
    /// The day of issue (Italian calendar): the date the record was read as of.
    pub as_of: NaiveDate,
    /// The subject's record.
    pub record: PersonRecord,
    /// The subject belongs to a family or cohabitation (the family types only).
    #[serde(default)]
    pub in_household: bool,
    /// The household's members with their relation to its head (the family types only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<SnapshotMember>,
    /// Residences, oldest first (the residence and historical types, and the cancelled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub residences: Vec<Dated<Residence>>,
    /// Citizenships, oldest first (the historical citizenship).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citizenships: Vec<Dated<anagrafe_domain::Country>>,
    /// The subject's last registration: date and reason.
    pub registered: Option<DatedReason>,
    /// The subject's cancellation, when cancelled or deceased: date and reason.
    pub cancelled: Option<DatedReason>,
}

/// A member of the subject's household in an extract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMember {
    /// The member's record.
    pub record: PersonRecord,
    /// Relation to the head (tab. 05).
    pub relation: u16,
}

/// An event of the record as an extract prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatedReason {
    /// When it took effect.
    pub date: NaiveDate,
    /// Why, in words (the official table's description).
    pub reason: String,
}

impl ExtractSnapshot {
    /// The data as kept with the request: canonical JSON and its SHA-256.
    pub fn content(&self) -> ServiceResult<IssuedContent> {
        let json = serde_json::to_string(self).map_err(|e| ServiceError::Internal(format!("extract data: {e}").into()))?;
        let sha256 = hex::encode(Sha256::digest(json.as_bytes()));
        Ok(IssuedContent { json, sha256 })
    }
}

/// The reason of a registration or cancellation event, from the ANPR table of its kind.
fn event_reason(e: &anagrafe_store::RecordEvent) -> String {
    use anagrafe_domain::decode::{MotivoCancellazione, MotivoCancellazioneAire, MotivoIscrizione, MotivoIscrizioneAire};
    let code = e.code.as_deref().unwrap_or_default();
    let number = code.parse::<u16>().ok();
    let found = match e.kind.as_str() {
        "iscrizione" => number.and_then(MotivoIscrizione::from_code).map(|m| m.description()),
        "iscrizione_aire" => MotivoIscrizioneAire::ALL.iter().find(|m| m.code() == code).map(|m| m.description()),
        "cancellazione" => number.and_then(MotivoCancellazione::from_code).map(|m| m.description()),
        "cancellazione_aire" => number.and_then(MotivoCancellazioneAire::from_code).map(|m| m.description()),
        _ => None,
    };
    found
        .map(str::to_owned)
        .unwrap_or_else(|| if code.is_empty() { e.kind.replace('_', " ") } else { format!("{} ({code})", e.kind.replace('_', " ")) })
}
