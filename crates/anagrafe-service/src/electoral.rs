//! The electoral use cases (ELE-1 … ELE-7, CIT-3): a citizen reads the own electoral data and
//! asks for a rectification; the electoral officer of the person's comune finds an elector,
//! reads and writes their data, and answers the requests; a comune loads the data it already
//! keeps. Every read of personal data and every write is traced; the pages, the command line and
//! (later) the web services call these functions with domain values.

use crate::{Principal, ServiceError, ServiceResult};
use anagrafe_domain::electoral::{ElectoralData, Franchise, RectificationTopic, request_text};
use anagrafe_domain::{Belfiore, CodiceFiscale, FieldError, IdAnpr, IdStatus, PersonRecord, Role, Why};
use anagrafe_store::prelude::*;
use anagrafe_store::{ElectoralRecord, NewRectification, Rectification, RectificationAnswer};
use std::sync::Arc;

/// How many rows a comune's bulk load writes per transaction.
pub const LOAD_BATCH: usize = 5_000;

/// The electoral use cases over one store.
#[derive(Debug, Clone)]
pub struct ElectoralService {
    store: Arc<dyn Store>,
}

/// An elector as the officer of their comune sees them.
#[derive(Debug, Clone)]
pub struct Elector {
    /// Internal id (never shown).
    pub person_id: i64,
    /// The ID ANPR asked for.
    pub id_anpr: IdAnpr,
    /// The record as it is now.
    pub record: PersonRecord,
}

/// A person's electoral data and rectification requests.
#[derive(Debug, Clone)]
pub struct ElectoralFile {
    /// The data, if the comune recorded any.
    pub data: Option<ElectoralRecord>,
    /// The requests, newest first (for an officer: those addressed to the officer's comune).
    pub requests: Vec<Rectification>,
}

/// One line of a comune's bulk load: who (by ID ANPR or codice fiscale) and the data.
#[derive(Debug, Clone)]
pub struct LoadLine {
    /// The person's ID ANPR, as written in the file.
    pub id_anpr: Option<String>,
    /// The person's codice fiscale, as written in the file.
    pub codice_fiscale: Option<String>,
    /// The data.
    pub data: ElectoralData,
}

/// A refused line of a bulk load: its number and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// Line number (from 1).
    pub line: usize,
    /// Why it was refused.
    pub reason: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl ElectoralService {
    /// The service over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    async fn own_person(&self, who: &Principal) -> ServiceResult<i64> {
        crate::citizen::own_person(&*self.store, who, "the own electoral data").await
    }

    /// The citizen's own electoral data and requests (CIT-3), traced like the own record.
    pub async fn own_file(&self, who: &Principal) -> ServiceResult<ElectoralFile> {
        let pid = self.own_person(who).await?;
        let data = self.store.electoral_data(pid).await?;
        let requests = self.store.rectifications_of(pid).await?;
        let mut e = who.entry("citizen.electoral_view", "ok");
        e.subject_person = Some(pid);
        e.subject_cf = who.codice_fiscale.clone();
        self.store.audit(&e).await?;
        Ok(ElectoralFile { data, requests })
    }

    /// A citizen asks the comune to rectify the own electoral data (CIT-3): at least one topic,
    /// and words of `REQUEST_TEXT` length. `State` while an earlier request waits.
    pub async fn request_rectification(&self, who: &Principal, topics: &[RectificationTopic], message: &str) -> ServiceResult<i64> {
        let mut errors = Vec::new();
        if topics.is_empty() {
            errors.push(FieldError::new("topics", Why::new("topics-none")));
        }
        let message = request_text(message).map_err(|p| errors.push(FieldError::new("message", p.why()))).ok();
        let Some(message) = message.filter(|_| errors.is_empty()) else { return Err(ServiceError::Invalid(errors)) };
        let mut topics = topics.to_vec();
        topics.dedup();
        let pid = self.own_person(who).await?;
        let mut e = who.entry("electoral.rectification_request", "ok");
        e.subject_person = Some(pid);
        e.subject_cf = who.codice_fiscale.clone();
        Ok(self.store.request_rectification(&NewRectification { person_id: pid, topics, message }, &e).await?)
    }

    /// The comune an electoral officer acts for.
    fn officer_comune(who: &Principal) -> ServiceResult<Belfiore> {
        who.require(&[Role::ElectoralOfficer], "the electoral office")?;
        who.acting_comune()
    }

    /// The elector an ID ANPR names, if this officer's comune keeps them (ELE-3): `NotFound`
    /// for an ID never issued, `Gone` for one no longer valid, `Forbidden` for a person of
    /// another comune.
    pub async fn elector(&self, who: &Principal, id: &IdAnpr) -> ServiceResult<Elector> {
        let comune = Self::officer_comune(who)?;
        let (pid, status) = self.store.find_by_id_anpr(id).await?.ok_or_else(|| ServiceError::NotFound("no such ID ANPR".into()))?;
        if status == IdStatus::Invalid {
            return Err(ServiceError::Gone("this ID ANPR is no longer valid".into()));
        }
        let record = self.store.person(pid, None).await?.record;
        if record.residence.competent_comune() != comune {
            return Err(ServiceError::Forbidden(
                "only the electoral officer of the person's comune sees the person's electoral data".into(),
            ));
        }
        Ok(Elector { person_id: pid, id_anpr: *id, record })
    }

    /// The ID ANPR of whom `query` names: an ID ANPR as it is, or the holder of a codice
    /// fiscale. `Malformed` when it is neither; `None` when nobody holds it.
    pub async fn find(&self, who: &Principal, query: &str) -> ServiceResult<Option<IdAnpr>> {
        Self::officer_comune(who)?;
        let wanted = query.trim().to_uppercase();
        if let Ok(id) = IdAnpr::parse(&wanted) {
            return Ok(Some(id));
        }
        let cf =
            CodiceFiscale::parse(&wanted).map_err(|_| ServiceError::malformed("query", "is neither an ID ANPR nor a codice fiscale"))?;
        let Some(pid) = self.store.find_by_cf(&cf, None).await?.first().copied() else { return Ok(None) };
        Ok(self.store.id_anpr_of(pid).await?.and_then(|(id, _)| IdAnpr::parse(&id).ok()))
    }

    /// An elector's data and the requests addressed to the officer's comune; the read is
    /// traced (a read of personal data).
    pub async fn file(&self, who: &Principal, elector: &Elector) -> ServiceResult<ElectoralFile> {
        let comune = Self::officer_comune(who)?;
        let data = self.store.electoral_data(elector.person_id).await?;
        let requests = self.store.rectifications_of(elector.person_id).await?.into_iter().filter(|r| r.comune == comune.as_str()).collect();
        let mut e = who.entry("electoral.read", "ok");
        e.subject_person = Some(elector.person_id);
        self.store.audit(&e).await?;
        Ok(ElectoralFile { data, requests })
    }

    /// Writes an elector's data (ELE-6: over the previous ones), checked for the person's
    /// citizenships first (`Invalid` with the data's field paths).
    pub async fn save(&self, who: &Principal, elector: &Elector, data: &ElectoralData) -> ServiceResult<()> {
        let comune = Self::officer_comune(who)?;
        ServiceError::check(data.check(Franchise::of(&elector.record.citizenships)))?;
        let mut e = who.entry("electoral.update", "ok");
        e.subject_person = Some(elector.person_id);
        Ok(self.store.save_electoral_data(elector.person_id, comune.as_str(), data, &e).await?)
    }

    /// The requests addressed to the officer's comune, newest first (only the open ones unless
    /// `all`).
    pub async fn requests(&self, who: &Principal, all: bool) -> ServiceResult<Vec<Rectification>> {
        let comune = Self::officer_comune(who)?;
        Ok(self.store.rectifications(comune.as_str(), !all, 100).await?)
    }

    /// Answers a request addressed to the officer's comune: accepted or not, with the words
    /// the citizen reads. Returns the ID ANPR of the person who asked.
    pub async fn answer(&self, who: &Principal, number: i64, accepted: bool, text: &str) -> ServiceResult<Option<IdAnpr>> {
        let comune = Self::officer_comune(who)?;
        let answer = request_text(text).map_err(|p| ServiceError::invalid("answer", p.why()))?;
        let answered_by = who.actor.strip_prefix("operator:").unwrap_or(&who.actor).to_owned();
        let e = who.entry("electoral.rectification_answer", "ok");
        let pid =
            self.store.answer_rectification(number, comune.as_str(), &RectificationAnswer { accepted, answer, answered_by }, &e).await?;
        Ok(self.store.id_anpr_of(pid).await?.and_then(|(id, _)| IdAnpr::parse(&id).ok()))
    }

    /// A comune's bulk load of the electoral data it already keeps (ELE-7). Every line is
    /// checked first (person in the register and kept by the comune, data valid for the
    /// person's citizenships, no person twice): one bad line and nothing is written, every
    /// refused line is returned. Then batches of `LOAD_BATCH`, each one transaction with its
    /// trace entry. Returns how many persons' data were written.
    pub async fn load(
        &self,
        who: &Principal,
        comune: Belfiore,
        lines: Vec<(usize, LoadLine)>,
    ) -> ServiceResult<Result<u64, Vec<LineError>>> {
        let rows = match self.check_load(who, comune, lines).await? {
            Ok(rows) => rows,
            Err(errors) => return Ok(Err(errors)),
        };
        let mut written = 0;
        for chunk in rows.chunks(LOAD_BATCH) {
            written += self.store.load_electoral_data(comune.as_str(), chunk, &who.entry("electoral.load", "ok")).await?;
        }
        Ok(Ok(written))
    }

    /// The checks of [`ElectoralService::load`] alone, writing nothing: each line's person and
    /// data, or every refused line.
    pub async fn check_load(
        &self,
        who: &Principal,
        comune: Belfiore,
        lines: Vec<(usize, LoadLine)>,
    ) -> ServiceResult<Result<Vec<(i64, ElectoralData)>, Vec<LineError>>> {
        who.require(&[Role::SystemAdmin, Role::ElectoralOfficer], "the electoral load")?;
        if who.comune.is_some_and(|c| c != comune) {
            return Err(ServiceError::Forbidden(format!("the caller acts for another comune than {comune}")));
        }
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (line, l) in lines {
            match self.load_row(comune, l).await? {
                Ok((pid, data)) if seen.insert(pid) => rows.push((pid, data)),
                Ok(_) => errors.push(LineError { line, reason: "this person is on an earlier line too".into() }),
                Err(reason) => errors.push(LineError { line, reason }),
            }
        }
        Ok(if errors.is_empty() { Ok(rows) } else { Err(errors) })
    }

    /// One line's person and data, or why the line is refused.
    async fn load_row(&self, comune: Belfiore, l: LoadLine) -> ServiceResult<Result<(i64, ElectoralData), String>> {
        let pid = match (&l.id_anpr, &l.codice_fiscale) {
            (Some(id), None) => {
                let Ok(id) = IdAnpr::parse(id.trim()) else { return Ok(Err(format!("id_anpr: {id} is not an ID ANPR"))) };
                match self.store.find_by_id_anpr(&id).await? {
                    Some((pid, IdStatus::Valid | IdStatus::Suspended)) => pid,
                    Some(_) => return Ok(Err(format!("id_anpr: {id} is no longer valid"))),
                    None => return Ok(Err(format!("id_anpr: no person has {id}"))),
                }
            }
            (None, Some(cf)) => {
                let Ok(cf) = CodiceFiscale::parse(cf.trim()) else {
                    return Ok(Err(format!("codice_fiscale: {cf} is not a codice fiscale")));
                };
                match self.store.find_by_cf(&cf, None).await?.as_slice() {
                    [pid] => *pid,
                    [] => return Ok(Err(format!("codice_fiscale: no person has {cf}"))),
                    _ => return Ok(Err(format!("codice_fiscale: {cf} names more than one record: use the id_anpr"))),
                }
            }
            _ => return Ok(Err("give the person's id_anpr or codice_fiscale (one of them)".into())),
        };
        let record = self.store.person(pid, None).await?.record;
        if anagrafe_domain::rules::living(record.status, "person").is_err() {
            return Ok(Err("the person is no longer in the register (cancelled or deceased)".into()));
        }
        if record.residence.competent_comune() != comune {
            return Ok(Err(format!("the person is kept by comune {}, not {comune}", record.residence.competent_comune())));
        }
        let problems = l.data.check(Franchise::of(&record.citizenships));
        if !problems.is_empty() {
            return Ok(Err(problems.iter().map(|p| format!("data.{}: {}", p.field, p.reason)).collect::<Vec<_>>().join("; ")));
        }
        Ok(Ok((pid, l.data)))
    }
}
