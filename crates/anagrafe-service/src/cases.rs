//! Citizens' requests as cases (CIT-9), the EU citizens' validation (EU-2) and their
//! registration request (EU-4) with the comune's side (EU-5).
//!
//! The applicant fills a draft (data, documents), then submits it: the draft gets the
//! competent comune's protocol number and deadline, and the comune a notification. The comune —
//! an officer at the desk or its software through the signed web services, both calling
//! [`CaseDesk::step`] — verifies each document, sends the start-of-procedure communication,
//! then accepts, rejects or declares the request inadmissible. Accepting a registration
//! registers the members through the registry's own operation (immigration from abroad), one
//! member at a time with an operation id derived from the case, so that an acceptance cut short
//! is finished by doing it again and never registers anyone twice.

use crate::{ClientOpId, Clock, Principal, Registry, ServiceError, ServiceResult};
use anagrafe_domain::case::{self, CaseAction, CaseFacts, CaseKind, CaseState, DocumentStanding, Evidence, MemberFacts, Requirement};
use anagrafe_domain::decode::StatoCivile;
use anagrafe_domain::eu::{self, Declared, EidasId, EidasPerson, RegistrationRequest};
use anagrafe_domain::ops::{HouseholdChoice, Operation, Registration};
use anagrafe_domain::person::{HouseholdKind, ItalianAddress, Residence};
use anagrafe_domain::refdata::RefData;
use anagrafe_domain::{CodiceFiscale, FieldError, Role, Sex, Why};
use anagrafe_store::{Case, CaseFile, CaseFilter, CaseStep, EuProfile, NewCase, NewCaseDocument, NewCaseStep, Store};
use chrono::Datelike;
use sha2::{Digest, Sha256};
use std::sync::Arc;

mod letters;

use crate::report::render;

/// How long an e-mail confirmation code is good for (ms).
pub const EMAIL_CODE_TTL_MS: i64 = 15 * 60 * 1000;
/// Wrong codes allowed before a new one must be asked for.
pub const EMAIL_CODE_ATTEMPTS: i64 = 5;

/// What the Revenue Agency's codice fiscale service answers (INT-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaxAnswer {
    /// The code exists and belongs to these data.
    Valid,
    /// The Agency does not know the code.
    Unknown,
    /// The code exists and belongs to someone with other data (which parts differ).
    Mismatch(Vec<&'static str>),
}

/// The data the Agency's validation compares a codice fiscale with.
#[derive(Debug, Clone, Copy)]
pub struct TaxQuery<'a> {
    /// The code.
    pub codice_fiscale: &'a CodiceFiscale,
    /// Family name.
    pub surname: &'a str,
    /// Given name.
    pub given_name: &'a str,
    /// Sex.
    pub sex: Sex,
    /// Birth date.
    pub birth_date: chrono::NaiveDate,
}

/// The Revenue Agency's codice fiscale validation service, behind an interface (INT-3).
#[async_trait::async_trait]
pub trait TaxRegistry: Send + Sync + std::fmt::Debug {
    /// Checks a code against the person's data.
    async fn check(&self, q: TaxQuery<'_>) -> ServiceResult<TaxAnswer>;
}

/// The embedded mode's Agency: the register itself. A code the register holds belongs to that
/// record (names, sex and birth date must agree with it); a code it does not hold is taken as
/// issued when it is well formed (the local check has already compared it with the data).
#[derive(Debug)]
pub struct LocalTaxRegistry {
    store: Arc<dyn Store>,
}

impl LocalTaxRegistry {
    /// The local service over the register's `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

#[async_trait::async_trait]
impl TaxRegistry for LocalTaxRegistry {
    async fn check(&self, q: TaxQuery<'_>) -> ServiceResult<TaxAnswer> {
        let Some(&pid) = self.store.find_by_cf(q.codice_fiscale, None).await?.first() else { return Ok(TaxAnswer::Valid) };
        let g = self.store.person(pid, None).await?.record.generalita;
        let same = |a: Option<&str>, b: &str| a.is_some_and(|a| anagrafe_domain::text::fold(a) == anagrafe_domain::text::fold(b));
        let mut parts = Vec::new();
        if !same(g.name.surname(), q.surname) {
            parts.push("surname");
        }
        if !same(g.name.given(), q.given_name) {
            parts.push("name");
        }
        if g.sex != q.sex {
            parts.push("sex");
        }
        if g.birth_date.as_full() != Some(q.birth_date) {
            parts.push("birth_date");
        }
        Ok(if parts.is_empty() { TaxAnswer::Valid } else { TaxAnswer::Mismatch(parts) })
    }
}

/// Sends the e-mail confirmation code (the mail delivery behind an interface, INT-3).
#[async_trait::async_trait]
pub trait CodeMailer: Send + Sync + std::fmt::Debug {
    /// Sends `code` to `to`.
    async fn send_code(&self, to: &str, code: &str) -> ServiceResult<()>;

    /// Sends the register's letter `text` to `to`, with `pdf` (name, bytes) attached: a case's
    /// start-of-procedure communication, its outcome. A mailer that carries codes only cannot.
    async fn send_letter(&self, _to: &str, _subject: &str, _text: &str, _pdf: Option<(&str, &[u8])>) -> ServiceResult<()> {
        Err(ServiceError::Unavailable("this mailer sends confirmation codes only".into()))
    }
}

/// The confirmation code by the register's mail delivery (the certificates' outbox or SMTP
/// relay): a short plain-text message in Italian and English.
#[derive(Debug)]
pub struct MailedCodes {
    certs: Arc<crate::certificates::Certificates>,
    clock: Arc<dyn Clock>,
}

impl MailedCodes {
    /// Codes sent through `certs`' mail delivery.
    pub fn new(certs: Arc<crate::certificates::Certificates>, clock: Arc<dyn Clock>) -> Self {
        Self { certs, clock }
    }
}

#[async_trait::async_trait]
impl CodeMailer for MailedCodes {
    async fn send_code(&self, to: &str, code: &str) -> ServiceResult<()> {
        let Some(mail) = &self.certs.mail else {
            return Err(ServiceError::Unavailable("e-mail delivery is not configured on this register".into()));
        };
        let text = format!(
            "Il codice per confermare questo indirizzo presso l'Anagrafe Nazionale è {code}.\r\n\
             Vale 15 minuti. Se non ha chiesto nulla, ignori questo messaggio.\r\n\r\n\
             Your code to confirm this address with the Italian national register is {code}.\r\n\
             It is valid for 15 minutes. If you asked for nothing, ignore this message.\r\n"
        );
        let now = self.clock.now();
        let message =
            crate::certificates::mime_with_attachment(&self.certs.mail_from, to, "Codice di conferma / Confirmation code", &text, &[], now);
        let name = format!("{}-codice-ue", now.timestamp_millis());
        mail.deliver(&self.certs.mail_from, to, &message, &name).await.map(|_| ())
    }

    async fn send_letter(&self, to: &str, subject: &str, text: &str, pdf: Option<(&str, &[u8])>) -> ServiceResult<()> {
        let Some(mail) = &self.certs.mail else {
            return Err(ServiceError::Unavailable("e-mail delivery is not configured on this register".into()));
        };
        let now = self.clock.now();
        let files: Vec<(&str, &str, &[u8])> = pdf.into_iter().map(|(n, b)| (n, "application/pdf", b)).collect();
        let message = crate::certificates::mime_with_attachment(&self.certs.mail_from, to, subject, text, &files, now);
        let name = format!("{}-pratica-{}", now.timestamp_millis(), uuid::Uuid::new_v4().simple());
        mail.deliver(&self.certs.mail_from, to, &message, &name).await.map(|_| ())
    }
}

/// No mail delivery configured: a code cannot be sent (503), everything else works.
#[derive(Debug)]
pub struct NoMail;

#[async_trait::async_trait]
impl CodeMailer for NoMail {
    async fn send_code(&self, _to: &str, _code: &str) -> ServiceResult<()> {
        Err(ServiceError::Unavailable("e-mail delivery is not configured on this register".into()))
    }
}

/// The EU citizens' validation (EU-2).
#[derive(Debug)]
pub struct EuDesk {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    agency: Arc<dyn TaxRegistry>,
    mailer: Arc<dyn CodeMailer>,
}

/// Where an EU citizen's validation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EuStanding {
    /// The stored profile.
    pub profile: EuProfile,
    /// What was declared, once declared.
    pub declared: Option<Declared>,
    /// A code was sent and waits to be typed.
    pub code_pending: bool,
    /// Every check passed and the e-mail is confirmed: the EU services are open.
    pub validated: bool,
}

impl EuDesk {
    /// The desk over `store`, asking `agency`, mailing codes through `mailer`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, agency: Arc<dyn TaxRegistry>, mailer: Arc<dyn CodeMailer>) -> Self {
        Self { store, clock, agency, mailer }
    }

    fn own(who: &Principal) -> ServiceResult<EidasId> {
        who.require(&[Role::Citizen], "the EU citizens' services")?;
        let id = who.eidas_id.as_deref().ok_or_else(|| ServiceError::Forbidden("the EU citizens' services need an eIDAS login".into()))?;
        EidasId::parse(id).map_err(|_| ServiceError::Forbidden("the session's eIDAS identifier is not valid".into()))
    }

    /// Records the eIDAS data of a login (EU-1); what was declared stays while the eIDAS data
    /// are the same, and is asked again when they changed.
    pub async fn logged_in(&self, person: &EidasPerson) -> ServiceResult<EuStanding> {
        let now = self.clock.now_ms();
        let mut p = self.store.eu_profile(person.id.as_str()).await?.unwrap_or(EuProfile {
            eidas_id: person.id.to_string(),
            family_name: person.family_name.clone(),
            given_name: person.given_name.clone(),
            birth_date: person.birth_date,
            declared: None,
            email_code_hash: None,
            email_code_expires_at: None,
            email_attempts: 0,
            validated_at: None,
            person_id: None,
            updated_at: now,
        });
        let changed = p.family_name != person.family_name || p.given_name != person.given_name || p.birth_date != person.birth_date;
        if changed {
            (p.family_name, p.given_name, p.birth_date) = (person.family_name.clone(), person.given_name.clone(), person.birth_date);
            (p.declared, p.email_code_hash, p.validated_at) = (None, None, None);
        }
        p.updated_at = now;
        self.store.save_eu_profile(&p, None).await?;
        Self::standing(p)
    }

    fn standing(profile: EuProfile) -> ServiceResult<EuStanding> {
        let declared = profile
            .declared
            .as_deref()
            .map(serde_json::from_str::<Declared>)
            .transpose()
            .map_err(|e| ServiceError::Internal(Box::new(anagrafe_store::StoreError::Corrupt(format!("eu profile: {e}")))))?;
        Ok(EuStanding {
            code_pending: profile.email_code_hash.is_some() && profile.validated_at.is_none(),
            validated: profile.validated_at.is_some(),
            declared,
            profile,
        })
    }

    /// The standing of `who`'s validation.
    pub async fn standing_of(&self, who: &Principal) -> ServiceResult<EuStanding> {
        let id = Self::own(who)?;
        let p = self.store.eu_profile(id.as_str()).await?.ok_or_else(|| ServiceError::NotFound("log in through eIDAS again".into()))?;
        Self::standing(p)
    }

    /// `who` declares codice fiscale, sex, birthplace and e-mail (EU-2): checked locally and by
    /// the Agency; on any disagreement the declaration is refused with every reason (and the
    /// refusal traced); otherwise a confirmation code goes to the address.
    pub async fn declare(&self, who: &Principal, d: Declared) -> ServiceResult<EuStanding> {
        let id = Self::own(who)?;
        let mut p = self.store.eu_profile(id.as_str()).await?.ok_or_else(|| ServiceError::NotFound("log in through eIDAS again".into()))?;
        let person =
            EidasPerson { id: id.clone(), family_name: p.family_name.clone(), given_name: p.given_name.clone(), birth_date: p.birth_date };
        let mut errs = eu::check_declared(&person, &d, &RefData::current());
        if errs.is_empty()
            && let Some(cf) = &d.codice_fiscale
        {
            let q =
                TaxQuery { codice_fiscale: cf, surname: &p.family_name, given_name: &p.given_name, sex: d.sex, birth_date: p.birth_date };
            match self.agency.check(q).await? {
                TaxAnswer::Valid => {}
                TaxAnswer::Unknown => errs.push(FieldError::new("codice_fiscale", Why::new("eu-cf-unknown"))),
                TaxAnswer::Mismatch(parts) => {
                    for part in parts {
                        errs.push(FieldError::new("codice_fiscale", Why::new("eu-cf-agency-mismatch").arg("part", part)));
                    }
                }
            }
        }
        if !errs.is_empty() {
            let mut e = who.entry("eu.validation", "refused");
            let reasons: Vec<String> = errs.iter().map(|e| format!("{}: {}", e.field, e.reason.key())).collect();
            e.detail = serde_json::json!({ "reasons": reasons, "codice_fiscale_given": d.codice_fiscale.is_some() }).to_string();
            self.store.audit(&e).await?;
            return Err(ServiceError::Invalid(errs));
        }
        let code = format!("{:06}", rand::Rng::gen_range(&mut rand::thread_rng(), 0..1_000_000u32));
        let now = self.clock.now_ms();
        p.declared = Some(serde_json::to_string(&d).map_err(|e| ServiceError::Internal(Box::new(e)))?);
        p.email_code_hash = Some(hex::encode(Sha256::digest(format!("{}:{code}", p.eidas_id))));
        p.email_code_expires_at = Some(now + EMAIL_CODE_TTL_MS);
        p.email_attempts = 0;
        p.validated_at = None;
        p.updated_at = now;
        self.mailer.send_code(d.email.as_str(), &code).await?;
        let mut e = who.entry("eu.validation", "code_sent");
        e.actor_cf = d.codice_fiscale.map(|c| c.to_string()).or(e.actor_cf);
        e.detail = serde_json::json!({ "codice_fiscale_given": d.codice_fiscale.is_some() }).to_string();
        self.store.save_eu_profile(&p, Some(&e)).await?;
        Self::standing(p)
    }

    /// `who` types the code received: right, in time and within the attempts, the validation is
    /// complete.
    pub async fn confirm(&self, who: &Principal, code: &str) -> ServiceResult<EuStanding> {
        let id = Self::own(who)?;
        let mut p = self.store.eu_profile(id.as_str()).await?.ok_or_else(|| ServiceError::NotFound("log in through eIDAS again".into()))?;
        let now = self.clock.now_ms();
        let (Some(hash), Some(expires)) = (p.email_code_hash.clone(), p.email_code_expires_at) else {
            return Err(ServiceError::State { field: "code".into(), reason: Why::new("eu-code-none") });
        };
        if now > expires || p.email_attempts >= EMAIL_CODE_ATTEMPTS {
            return Err(ServiceError::State { field: "code".into(), reason: Why::new("eu-code-expired") });
        }
        let typed = hex::encode(Sha256::digest(format!("{}:{}", p.eidas_id, code.trim())));
        p.updated_at = now;
        if typed != hash {
            p.email_attempts += 1;
            let mut e = who.entry("eu.email_confirmation", "refused");
            e.detail = serde_json::json!({ "attempts": p.email_attempts }).to_string();
            self.store.save_eu_profile(&p, Some(&e)).await?;
            return Err(ServiceError::Refused {
                field: "code".into(),
                reason: Why::new("eu-code-wrong").arg("left", EMAIL_CODE_ATTEMPTS - p.email_attempts),
            });
        }
        p.email_code_hash = None;
        p.email_code_expires_at = None;
        p.validated_at = Some(now);
        let e = who.entry("eu.email_confirmation", "ok");
        self.store.save_eu_profile(&p, Some(&e)).await?;
        Self::standing(p)
    }
}

/// A piece of evidence an authority of another member state issued, as the EU once-only
/// technical system delivers it (Reg. (EU) 2018/1724 art. 14, Reg. (EU) 2022/1463).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnceOnlyEvidence {
    /// The file's name.
    pub filename: String,
    /// The document (a PDF).
    pub bytes: Vec<u8>,
}

/// The EU once-only technical system, behind an interface (INT-3): asked for a kind of
/// evidence about a person identified by the eIDAS identifier, with the citizen's request.
#[async_trait::async_trait]
pub trait OnceOnly: Send + Sync + std::fmt::Debug {
    /// The evidence, or `None` when the member state's authority has none to give.
    async fn fetch(&self, eidas_id: &EidasId, evidence: Evidence, name: &str) -> ServiceResult<Option<OnceOnlyEvidence>>;
}

/// The embedded mode's once-only system: the identities it `knows` (the demo's, from the
/// development provider) get a plain evidence document naming them; anyone else gets none.
#[derive(Debug, Default)]
pub struct LocalOnceOnly {
    known: Vec<String>,
}

impl LocalOnceOnly {
    /// A system holding evidence about these eIDAS identifiers.
    pub fn new(known: Vec<String>) -> Self {
        Self { known }
    }
}

#[async_trait::async_trait]
impl OnceOnly for LocalOnceOnly {
    async fn fetch(&self, eidas_id: &EidasId, evidence: Evidence, name: &str) -> ServiceResult<Option<OnceOnlyEvidence>> {
        let id = eidas_id.as_str();
        let demo = self.known.iter().any(|k| k == id);
        if !demo || !evidence.once_only() {
            return Ok(None);
        }
        let what = match evidence {
            Evidence::Employment => "Certificate of employment",
            Evidence::Resources => "Statement of sufficient resources",
            Evidence::HealthInsurance => "Certificate of health insurance entitlement (S1)",
            Evidence::Enrolment => "Certificate of enrolment",
            Evidence::FamilyRelationship => "Extract of the civil-status register (family relationship)",
            Evidence::IdentityDocument | Evidence::SignedDeclaration => return Ok(None),
        };
        let lines = [
            "EU once-only technical system - evidence (demonstration)",
            what,
            &format!("Person: {name}"),
            &format!("eIDAS identifier: {id}"),
            &format!("Issuing member state: {}", eidas_id.issuing_state()),
        ];
        Ok(Some(OnceOnlyEvidence {
            filename: format!("once-only-{}.pdf", evidence.as_str()),
            bytes: anagrafe_docs::form::text_pdf(&lines, None),
        }))
    }
}

/// What a case holds, decoded for the doors.
#[derive(Debug, Clone)]
pub struct CaseView {
    /// The stored case, its documents and steps.
    pub file: CaseFile,
    /// The registration request, for that kind.
    pub registration: Option<RegistrationRequest>,
    /// The application for the additional electoral lists, for that kind.
    pub lists: Option<eu::ListApplication>,
    /// The checklist, each line with the documents meeting it.
    pub checklist: Vec<(Requirement, Vec<i64>)>,
}

impl CaseView {
    /// Lines of the checklist no document meets.
    pub fn missing(&self) -> usize {
        self.checklist.iter().filter(|(_, d)| d.is_empty()).count()
    }
}

/// A file attached by the applicant.
#[derive(Debug, Clone)]
pub struct Upload {
    /// What it proves.
    pub evidence: Evidence,
    /// Whose.
    pub member: Option<u16>,
    /// Its name as sent.
    pub filename: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// The cases: the applicant's side and the comune's desk (CIT-9, EU-4, EU-5).
#[derive(Debug)]
pub struct CaseDesk {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    registry: Registry,
    /// The CA certificates (PEM) whose signers' digital signatures count (the trust list).
    trust: Vec<String>,
    /// The EU once-only technical system.
    once_only: Arc<dyn OnceOnly>,
    /// How the case's letters reach the applicant (none: they are only on the pages).
    mailer: Option<Arc<dyn CodeMailer>>,
}

/// The roles that work cases for a comune.
const DESK: [Role; 3] = [Role::RegistryOfficer, Role::Comune, Role::ElectoralOfficer];

impl CaseDesk {
    /// The desk over `store`; accepted registrations are written through `registry`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, registry: Registry) -> Self {
        Self { store, clock, registry, trust: Vec::new(), once_only: Arc::new(LocalOnceOnly::default()), mailer: None }
    }

    /// Asks `once_only` for missing evidence (the default knows nobody).
    pub fn with_once_only(mut self, once_only: Arc<dyn OnceOnly>) -> Self {
        self.once_only = once_only;
        self
    }

    /// Digital signatures on attached PDFs count when a CA of `trust` (PEM certificates)
    /// issued the signer's certificate (the embedded mode trusts its own demo CA).
    pub fn with_trust(mut self, trust: Vec<String>) -> Self {
        self.trust = trust;
        self
    }

    /// Letters (the start communication, the outcome) are e-mailed through `mailer`.
    pub fn with_mailer(mut self, mailer: Arc<dyn CodeMailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// A case `who` may read: the applicant's own, or one of the comune `who` works for.
    async fn readable(&self, who: &Principal, id: i64) -> ServiceResult<CaseView> {
        if who.role == Role::Citizen {
            return self.own_case(who, id).await;
        }
        who.require(&DESK, "the comune's case desk")?;
        self.competent(who, id).await
    }

    /// The receipt of a submitted request, with its protocol number (EU-4), for the applicant
    /// or the competent comune: rebuilt from the case as submitted, so every copy is the same.
    pub async fn receipt(&self, who: &Principal, id: i64) -> ServiceResult<Vec<u8>> {
        let v = self.readable(who, id).await?;
        if v.file.case.protocol.is_none() {
            return Err(ServiceError::State { field: "state".into(), reason: Why::new("case-not-submitted") });
        }
        let doc = letters::receipt(&v, v.file.case.submitted_at.unwrap_or_default());
        render(doc).await
    }

    /// The start-of-procedure communication of a case the comune has taken up (EU-5).
    pub async fn communication(&self, who: &Principal, id: i64) -> ServiceResult<Vec<u8>> {
        let v = self.readable(who, id).await?;
        let Some(start) = v.file.steps.iter().find(|s| s.action == CaseAction::StartProcedure.name()) else {
            return Err(ServiceError::NotFound(format!("the start of case {id}'s procedure")));
        };
        render(letters::communication(&v, start)).await
    }

    /// E-mails a letter of case `v` to its applicant's address, traced (`case.letter`, sent,
    /// failed or no_address): a letter that cannot leave never undoes the step, and stays on
    /// the pages.
    async fn mail_letter(
        &self,
        who: &Principal,
        v: &CaseView,
        what: &str,
        subject: &str,
        text: &str,
        pdf: Option<(&str, &[u8])>,
    ) -> ServiceResult<()> {
        let outcome = match (&self.mailer, v.file.case.applicant_email.as_deref()) {
            (_, None) => "no_address",
            (None, _) => "no_mailer",
            (Some(m), Some(to)) => match m.send_letter(to, subject, text, pdf).await {
                Ok(()) => "sent",
                Err(e) => {
                    tracing::warn!(case = v.file.case.id, letter = what, error = %e, "a case's letter did not leave");
                    "failed"
                }
            },
        };
        let mut e = who.entry("case.letter", outcome);
        e.detail = serde_json::json!({ "case": v.file.case.id, "letter": what }).to_string();
        self.store.audit(&e).await?;
        Ok(())
    }

    /// Whether `who` works cases for a comune at all: a door asks before it reads a request's
    /// body or query.
    pub fn authorize(&self, who: &Principal) -> ServiceResult<()> {
        who.require(&DESK, "the comune's case desk")
    }

    /// The applicant `who` is: a validated EU citizen (their profile) for the EU kinds.
    async fn applicant(&self, who: &Principal) -> ServiceResult<EuProfile> {
        who.require(&[Role::Citizen], "a citizen's requests")?;
        let id = who.eidas_id.as_deref().ok_or_else(|| ServiceError::Forbidden("the EU citizens' requests need an eIDAS login".into()))?;
        let p = self.store.eu_profile(id).await?.ok_or_else(|| ServiceError::Forbidden("log in through eIDAS again".into()))?;
        if p.validated_at.is_none() {
            return Err(ServiceError::Forbidden("validate your data first (codice fiscale, birthplace, e-mail)".into()));
        }
        Ok(p)
    }

    fn decode(file: CaseFile) -> ServiceResult<CaseView> {
        let corrupt =
            |e: serde_json::Error| ServiceError::Internal(Box::new(anagrafe_store::StoreError::Corrupt(format!("case data: {e}"))));
        let (registration, lists) = match file.case.kind {
            CaseKind::EuRegistration => (Some(serde_json::from_str::<RegistrationRequest>(&file.case.data).map_err(corrupt)?), None),
            CaseKind::EuElectoralList => (None, Some(serde_json::from_str::<eu::ListApplication>(&file.case.data).map_err(corrupt)?)),
        };
        let today = chrono::DateTime::from_timestamp_millis(file.case.created_at).map(|d| d.date_naive()).unwrap_or_default();
        let reqs = match &registration {
            Some(r) => {
                let facts: Vec<MemberFacts> = r.members.iter().map(|m| MemberFacts { adult: eu::adult(m.birth_date, today) }).collect();
                case::requirements(r.grounds, &facts)
            }
            None => Vec::new(),
        };
        let checklist = reqs
            .into_iter()
            .map(|q| {
                let docs = file.documents.iter().filter(|d| d.evidence == q.evidence && d.member == q.member).map(|d| d.id).collect();
                (q, docs)
            })
            .collect();
        Ok(CaseView { file, registration, lists, checklist })
    }

    async fn load(&self, id: i64) -> ServiceResult<CaseView> {
        let file = self.store.case_file(id).await?.ok_or_else(|| ServiceError::NotFound(format!("case {id}")))?;
        Self::decode(file)
    }

    async fn own_case(&self, who: &Principal, id: i64) -> ServiceResult<CaseView> {
        let v = self.load(id).await?;
        if v.file.case.applicant != who.actor {
            // Someone else's case is not there, as far as this applicant knows.
            return Err(ServiceError::NotFound(format!("case {id}")));
        }
        Ok(v)
    }

    /// Starts `who`'s registration request as a draft (EU-4); its id.
    pub async fn start_registration(&self, who: &Principal, r: RegistrationRequest) -> ServiceResult<i64> {
        let p = self.applicant(who).await?;
        let person = EidasPerson {
            id: EidasId::parse(&p.eidas_id).map_err(|_| ServiceError::Forbidden("bad eIDAS identifier".into()))?,
            family_name: p.family_name.clone(),
            given_name: p.given_name.clone(),
            birth_date: p.birth_date,
        };
        ServiceError::check(eu::check_request(&r, &person, &RefData::current(), self.clock.today()))?;
        let declared: Option<Declared> = p.declared.as_deref().and_then(|d| serde_json::from_str(d).ok());
        let new = NewCase {
            kind: CaseKind::EuRegistration,
            comune: r.comune,
            applicant: who.actor.clone(),
            applicant_name: format!("{} {}", p.given_name, p.family_name),
            applicant_email: declared.map(|d| d.email.to_string()),
            data: serde_json::to_string(&r).map_err(|e| ServiceError::Internal(Box::new(e)))?,
        };
        Ok(self.store.create_case(&new, self.clock.now_ms(), &who.entry("case.create", "ok")).await?)
    }

    /// A resident citizen of another EU state applies for the additional electoral lists
    /// (CIT-4): checked against the own record (resident, holding that EU citizenship), one
    /// pending application at a time, submitted at once to the comune of residence's electoral
    /// office (the login at level 2 or higher identifies the applicant: no file is needed).
    pub async fn apply_for_lists(
        &self,
        who: &Principal,
        a: eu::ListApplication,
    ) -> ServiceResult<(i64, anagrafe_domain::extract::Protocol)> {
        who.require(&[Role::Citizen], "a citizen's requests")?;
        let Some(cf) = who.codice_fiscale.as_deref().and_then(|c| CodiceFiscale::parse(c).ok()) else {
            return Err(ServiceError::Forbidden("the additional lists are for residents: log in to the reserved area".into()));
        };
        let pid = *self
            .store
            .find_by_cf(&cf, None)
            .await?
            .first()
            .ok_or_else(|| ServiceError::NotFound("no record with this codice fiscale".into()))?;
        let record = self.store.person(pid, None).await?.record;
        if record.status != anagrafe_domain::RegisterStatus::Resident {
            return Err(ServiceError::State { field: "residence".into(), reason: Why::new("eu-lists-resident") });
        }
        ServiceError::check(eu::check_application(&a, &record.citizenships, &RefData::current()))?;
        let open = CaseFilter {
            applicant: Some(who.actor.clone()),
            kinds: vec![CaseKind::EuElectoralList],
            states: vec![CaseState::Draft, CaseState::Submitted, CaseState::InProgress],
            limit: 1,
            ..CaseFilter::default()
        };
        if !self.store.cases(&open).await?.is_empty() {
            return Err(ServiceError::State { field: "lists".into(), reason: Why::new("eu-lists-pending") });
        }
        let g = &record.generalita.name;
        let new = NewCase {
            kind: CaseKind::EuElectoralList,
            comune: record.residence.competent_comune(),
            applicant: who.actor.clone(),
            applicant_name: [g.given(), g.surname()].into_iter().flatten().collect::<Vec<_>>().join(" "),
            applicant_email: record.email.as_ref().map(|e| e.as_str().to_owned()),
            data: serde_json::to_string(&a).map_err(|e| ServiceError::Internal(Box::new(e)))?,
        };
        let id = self.store.create_case(&new, self.clock.now_ms(), &who.entry("case.create", "ok")).await?;
        let protocol = self.submit(who, id).await?;
        Ok((id, protocol))
    }

    /// Adds the lists of an accepted application to the applicant's electoral data: the
    /// electoral office has given them a section (an elector), or the acceptance waits for it.
    async fn enrol_in_lists(&self, who: &Principal, c: &Case, a: &eu::ListApplication) -> ServiceResult<()> {
        let cf = c.applicant.strip_prefix("citizen:").and_then(|x| CodiceFiscale::parse(x).ok());
        let pid = match cf {
            Some(cf) => self.store.find_by_cf(&cf, None).await?.first().copied(),
            None => None,
        };
        let Some(pid) = pid else {
            return Err(ServiceError::State { field: "action".into(), reason: Why::new("eu-lists-no-record") });
        };
        let mut data =
            self.store.electoral_data(pid).await?.map(|r| r.data).unwrap_or_else(anagrafe_domain::electoral::ElectoralData::not_elector);
        if !data.elector || data.section.is_none() {
            return Err(ServiceError::State { field: "action".into(), reason: Why::new("eu-lists-section") });
        }
        for l in &a.lists {
            if !data.additional_lists.contains(l) {
                data.additional_lists.push(*l);
            }
        }
        let record = self.store.person(pid, None).await?.record;
        ServiceError::check(data.check(anagrafe_domain::electoral::Franchise::of(&record.citizenships)))?;
        let mut e = who.entry("electoral.save", "ok");
        e.subject_person = Some(pid);
        e.detail = serde_json::json!({ "case": c.id, "additional_lists": a.lists }).to_string();
        self.store.save_electoral_data(pid, &c.comune.to_string(), &data, &e).await?;
        Ok(())
    }

    /// Attaches a file to `who`'s draft: its type read from its bytes, size and count limited,
    /// stored with its SHA-256; a refused file names the field `file`.
    pub async fn attach(&self, who: &Principal, id: i64, u: Upload) -> ServiceResult<i64> {
        let v = self.own_case(who, id).await?;
        let media = case::sniff(&u.bytes).map_err(|reason| ServiceError::Refused { field: "file".into(), reason })?;
        let in_list = v.checklist.iter().any(|(q, _)| q.evidence == u.evidence && q.member == u.member);
        if !in_list {
            return Err(ServiceError::Refused { field: "evidence".into(), reason: Why::new("case-evidence-not-needed") });
        }
        // Digital signatures (EU-4): a signed file whose signed bytes changed is refused; the
        // others are kept with what was found (a signature followed by a handwritten one, or by
        // a signer no trusted CA issued, counts as not applied).
        let signatures = if media == case::MediaType::Pdf {
            let cas: Vec<&str> = self.trust.iter().map(String::as_str).collect();
            let found = anagrafe_docs::verify::signatures(&u.bytes, &cas);
            if found.iter().any(|s| !s.intact) {
                return Err(ServiceError::Refused { field: "file".into(), reason: Why::new("file-signature-broken") });
            }
            (!found.is_empty()).then(|| serde_json::to_string(&found)).transpose().map_err(|e| ServiceError::Internal(Box::new(e)))?
        } else {
            None
        };
        let filename: String = u.filename.chars().filter(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ')).take(120).collect();
        let filename = if filename.trim().is_empty() { format!("documento.{}", media.extension()) } else { filename };
        let doc = NewCaseDocument {
            evidence: u.evidence,
            member: u.member,
            filename,
            media_type: media,
            sha256: hex::encode(Sha256::digest(&u.bytes)),
            content: u.bytes,
            source: "upload".into(),
            signatures,
        };
        Ok(self.store.add_case_document(id, &doc, self.clock.now_ms(), case::MAX_ATTACHMENTS, &who.entry("case.attach", "ok")).await?)
    }

    /// Asks the EU once-only technical system for a missing document of `who`'s draft (EU-4):
    /// evidence issued by the authorities of the member state of `who`'s eIDAS identity, about
    /// `member` (the applicant when `None`), attached with source `once_only`; `State` on
    /// `evidence` when the system has none (attach the document instead).
    pub async fn fetch_once_only(&self, who: &Principal, id: i64, evidence: Evidence, member: Option<u16>) -> ServiceResult<i64> {
        let v = self.own_case(who, id).await?;
        if !v.checklist.iter().any(|(q, _)| q.evidence == evidence && q.member == member) {
            return Err(ServiceError::Refused { field: "evidence".into(), reason: Why::new("case-evidence-not-needed") });
        }
        let eidas = who
            .eidas_id
            .as_deref()
            .and_then(|e| EidasId::parse(e).ok())
            .ok_or_else(|| ServiceError::Forbidden("the once-only system answers requests of people logged in through eIDAS".into()))?;
        let name = v
            .registration
            .as_ref()
            .and_then(|r| r.members.get(usize::from(member.unwrap_or(0))))
            .map(|m| [m.name.given(), m.name.surname()].into_iter().flatten().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let Some(found) = self.once_only.fetch(&eidas, evidence, &name).await? else {
            let mut e = who.entry("case.once_only", "none");
            e.detail = serde_json::json!({ "case": id, "evidence": evidence }).to_string();
            self.store.audit(&e).await?;
            return Err(ServiceError::State { field: "evidence".into(), reason: Why::new("case-once-only-none") });
        };
        let media = case::sniff(&found.bytes).map_err(|reason| ServiceError::Refused { field: "evidence".into(), reason })?;
        let doc = NewCaseDocument {
            evidence,
            member,
            filename: found.filename,
            media_type: media,
            sha256: hex::encode(Sha256::digest(&found.bytes)),
            content: found.bytes,
            source: "once_only".into(),
            signatures: None,
        };
        Ok(self.store.add_case_document(id, &doc, self.clock.now_ms(), case::MAX_ATTACHMENTS, &who.entry("case.once_only", "ok")).await?)
    }

    /// Submits `who`'s draft once its checklist is complete: protocol number, deadline, the
    /// comune notified.
    pub async fn submit(&self, who: &Principal, id: i64) -> ServiceResult<anagrafe_domain::extract::Protocol> {
        let v = self.own_case(who, id).await?;
        if v.missing() > 0 {
            return Err(ServiceError::State {
                field: "documents".into(),
                reason: Why::new("case-documents-missing").arg("count", v.missing()),
            });
        }
        // Every adult who chose to sign digitally has a signature that counts, in their name.
        if let Some(r) = &v.registration
            && v.checklist.iter().any(|(q, _)| q.evidence == Evidence::SignedDeclaration)
        {
            let signers: Vec<String> = v
                .file
                .documents
                .iter()
                .filter(|d| d.evidence == Evidence::SignedDeclaration)
                .filter_map(|d| d.signatures.as_deref())
                .flat_map(|s| serde_json::from_str::<Vec<anagrafe_docs::verify::SignatureCheck>>(s).unwrap_or_default())
                .filter(|c| c.applied)
                .map(|c| c.signer)
                .collect();
            if let Some(i) = eu::unsigned_members(&r.members, &signers, self.clock.today()).first() {
                let m = &r.members[*i];
                let name = [m.name.given(), m.name.surname()].into_iter().flatten().collect::<Vec<_>>().join(" ");
                return Err(ServiceError::State {
                    field: "documents".into(),
                    reason: Why::new("case-signature-missing").arg("name", name),
                });
            }
        }
        let today = self.clock.today();
        let step = NewCaseStep {
            actor: who.actor.clone(),
            action: "submit".into(),
            detail: "{}".into(),
            note: String::new(),
            from: CaseState::Draft,
            to: CaseState::Submitted,
            client_op_id: None,
            verify: None,
            at: self.clock.now_ms(),
        };
        let due = case::due_date(v.file.case.kind, today);
        Ok(self.store.submit_case(id, due, today.year(), &step, &who.entry("case.submit", "ok")).await?)
    }

    /// `who`'s own cases, newest first.
    pub async fn own_cases(&self, who: &Principal) -> ServiceResult<Vec<Case>> {
        who.require(&[Role::Citizen], "a citizen's requests")?;
        let f = CaseFilter { applicant: Some(who.actor.clone()), states: CaseState::ALL.to_vec(), limit: 100, ..CaseFilter::default() };
        Ok(self.store.cases(&f).await?)
    }

    /// One of `who`'s own cases.
    pub async fn own(&self, who: &Principal, id: i64) -> ServiceResult<CaseView> {
        who.require(&[Role::Citizen], "a citizen's requests")?;
        self.own_case(who, id).await
    }

    /// Whether `who` works cases of `kind` for a comune: the electoral officer the electoral
    /// lists, the registry officer the rest, the comune's software both.
    fn may_work(who: &Principal, kind: CaseKind) -> bool {
        match who.role {
            Role::Comune => true,
            Role::ElectoralOfficer => kind.electoral(),
            Role::RegistryOfficer => !kind.electoral(),
            _ => false,
        }
    }

    /// The comune's list of cases (never drafts), by `filter` within its own comune.
    pub async fn list(&self, who: &Principal, states: Vec<CaseState>, limit: u32) -> ServiceResult<Vec<Case>> {
        who.require(&DESK, "the comune's case desk")?;
        let comune = who.acting_comune()?;
        let states = if states.is_empty() { vec![CaseState::Submitted, CaseState::InProgress] } else { states };
        if states.contains(&CaseState::Draft) {
            return Err(ServiceError::malformed("state", "drafts are the citizen's until submitted"));
        }
        let kinds = CaseKind::ALL.into_iter().filter(|k| Self::may_work(who, *k)).collect();
        let f = CaseFilter { comune: Some(comune), states, kinds, limit, ..CaseFilter::default() };
        let out = self.store.cases(&f).await?;
        let mut e = who.entry("case.list", "ok");
        e.detail = serde_json::json!({ "count": out.len() }).to_string();
        self.store.audit(&e).await?;
        Ok(out)
    }

    /// A case of `who`'s comune, with its data, documents and steps (traced: it names people).
    pub async fn file(&self, who: &Principal, id: i64) -> ServiceResult<CaseView> {
        who.require(&DESK, "the comune's case desk")?;
        let v = self.competent(who, id).await?;
        let mut e = who.entry("case.read", "ok");
        e.detail = serde_json::json!({ "case": id }).to_string();
        self.store.audit(&e).await?;
        Ok(v)
    }

    async fn competent(&self, who: &Principal, id: i64) -> ServiceResult<CaseView> {
        let comune = who.acting_comune()?;
        let v = self.load(id).await?;
        let c = &v.file.case;
        if c.state == CaseState::Draft || c.comune != comune || !Self::may_work(who, c.kind) {
            return Err(ServiceError::NotFound(format!("case {id}")));
        }
        Ok(v)
    }

    /// A document's bytes, for the comune that works the case or for its applicant.
    pub async fn document(&self, who: &Principal, id: i64, document: i64) -> ServiceResult<(anagrafe_store::CaseDocument, Vec<u8>)> {
        if who.role == Role::Citizen {
            self.own_case(who, id).await?;
        } else {
            who.require(&DESK, "the comune's case desk")?;
            self.competent(who, id).await?;
            let mut e = who.entry("case.document_read", "ok");
            e.detail = serde_json::json!({ "case": id, "document": document }).to_string();
            self.store.audit(&e).await?;
        }
        self.store.case_document_content(id, document).await?.ok_or_else(|| ServiceError::NotFound(format!("document {document}")))
    }

    /// A step of the comune on case `id` (EU-5), idempotent by `op_id`: the step, and whether it
    /// is the answer first given to that id. Accepting a
    /// registration registers its members first (see the module's note).
    pub async fn step(
        &self,
        who: &Principal,
        id: i64,
        action: CaseAction,
        note: &str,
        op_id: Option<&ClientOpId>,
    ) -> ServiceResult<(CaseStep, bool)> {
        who.require(&DESK, "the comune's case desk")?;
        let note = anagrafe_domain::text::Line::<1000>::optional(Some(note))
            .map_err(|e| ServiceError::Invalid(vec![FieldError::new("note", e.into())]))?
            .map(|l| l.to_string())
            .unwrap_or_default();
        let v = self.competent(who, id).await?;
        let c = &v.file.case;
        let detail = serde_json::to_string(&action).map_err(|e| ServiceError::Internal(Box::new(e)))?;
        // A retry of a step already recorded answers as the first time, whatever the state now.
        if let Some(op) = op_id
            && let Some(s) = v.file.steps.iter().find(|s| s.actor == who.actor && s.client_op_id.as_deref() == Some(op.as_str()))
        {
            if s.detail != detail || s.note != note {
                return Err(ServiceError::Conflict("client_op_id".into()));
            }
            return Ok((s.clone(), true));
        }
        let docs: Vec<DocumentStanding> = v.file.documents.iter().map(|d| DocumentStanding { id: d.id, verified: d.verified }).collect();
        let facts = CaseFacts { state: c.state, documents: &docs, missing: v.missing() };
        let to = case::next_state(&facts, &action, &note).map_err(|reason| ServiceError::State { field: "action".into(), reason })?;
        if action == CaseAction::Accept
            && let Some(r) = &v.registration
        {
            self.register_members(who, c, r).await?;
        }
        if action == CaseAction::Accept
            && let Some(a) = &v.lists
        {
            self.enrol_in_lists(who, c, a).await?;
        }
        let step = NewCaseStep {
            actor: who.actor.clone(),
            action: action.name().into(),
            detail,
            note,
            from: c.state,
            to,
            client_op_id: op_id.map(|o| o.as_str().to_owned()),
            verify: match action {
                CaseAction::VerifyDocument { document, valid } => Some((document, valid)),
                _ => None,
            },
            at: self.clock.now_ms(),
        };
        let recorded = self.store.add_case_step(id, &step, &who.entry(&format!("case.{}", action.name()), "ok")).await?;
        // The store answers a concurrent retry with the first step too.
        let replayed = recorded.at != step.at || recorded.action != step.action;
        // The step stands whatever happens to its letter (which stays on the pages).
        if !replayed && let Err(e) = self.send_step_letter(who, id, &action, &recorded).await {
            tracing::warn!(case = id, error = %e, "a case's letter was not written");
        }
        Ok((recorded, replayed))
    }

    /// The letter a step sends: the start communication as PDF, or the outcome.
    async fn send_step_letter(&self, who: &Principal, id: i64, action: &CaseAction, step: &CaseStep) -> ServiceResult<()> {
        let to = match action {
            CaseAction::StartProcedure => None,
            CaseAction::Accept => Some(CaseState::Accepted),
            CaseAction::Reject => Some(CaseState::Rejected),
            CaseAction::DeclareInadmissible => Some(CaseState::Inadmissible),
            CaseAction::VerifyDocument { .. } | CaseAction::Note => return Ok(()),
        };
        let v = self.load(id).await?;
        let p = v.file.case.protocol.map(|p| p.to_string()).unwrap_or_default();
        match to {
            None => {
                let pdf = render(letters::communication(&v, step)).await?;
                let text = format!(
                    "In allegato la comunicazione di avvio del procedimento relativo alla richiesta n. {p} presso il {}.\r\n\r\n\
                     Attached: the communication that the procedure on your request no. {p} has started.\r\n",
                    letters::comune_name(&v)
                );
                let name = format!("avvio-procedimento-{}.pdf", v.file.case.id);
                self.mail_letter(who, &v, "start", &format!("Avvio del procedimento - richiesta {p}"), &text, Some((&name, &pdf))).await
            }
            Some(to) => {
                let (subject, text) = letters::outcome_mail(&v, to, &step.note);
                self.mail_letter(who, &v, "outcome", &subject, &text, None).await
            }
        }
    }

    /// Registers the members of an accepted registration (immigration from abroad, tab. 07
    /// code 4) in a new family headed by the applicant; the codice fiscale is computed and sent
    /// to the Agency for confirmation where missing. Each member's operation id is the case's,
    /// so doing it again after a failure registers no one twice.
    async fn register_members(&self, who: &Principal, c: &Case, r: &RegistrationRequest) -> ServiceResult<()> {
        let address = ItalianAddress {
            comune: r.comune,
            cap: None,
            species: r.species.clone(),
            toponym: r.street.clone(),
            civic: r.civic.clone(),
            internal: None,
            locality: None,
        };
        let mut family: Option<i64> = None;
        let mut applicant_pid = None;
        for (i, m) in r.members.iter().enumerate() {
            let household = match family {
                None => HouseholdChoice::New { household: HouseholdKind::Family, name: None },
                Some(family_id) => HouseholdChoice::Join { family_id, relation: m.relation },
            };
            let reg = Registration {
                reason: "4".into(),
                reason_description: None,
                effective_date: r.arrival_date,
                name: m.name.clone(),
                sex: m.sex,
                birth_date: anagrafe_domain::PartialDate::full(m.birth_date),
                birth_place: m.birth_place.clone(),
                codice_fiscale: m.codice_fiscale,
                citizenships: vec![anagrafe_domain::person::Country::Foreign(m.citizenship)],
                civil_status: civil_status(r, i, self.clock.today()),
                residence: Residence::Italy(address.clone()),
                household,
                email: None,
                digital_domicile: None,
                origin: Some(r.provenance),
                birth_act: None,
                parents: Vec::new(),
            };
            let op_id = ClientOpId::parse(&format!("case-{}-member-{i}", c.id))?;
            let written = self.registry.apply(who, Operation::Register(Box::new(reg)), &op_id).await?;
            if family.is_none() {
                family = written.applied.family_id;
            }
            if i == 0 {
                applicant_pid = written.applied.id_anpr;
            }
        }
        // The applicant's next login finds the record.
        if let (Some(id_anpr), Some(eidas)) = (applicant_pid, c.applicant.strip_prefix("eidas:"))
            && let Some(mut p) = self.store.eu_profile(eidas).await?
            && let Some((pid, _)) = self.store.find_by_id_anpr(&id_anpr).await?
        {
            p.person_id = Some(pid);
            p.updated_at = self.clock.now_ms();
            self.store.save_eu_profile(&p, None).await?;
        }
        Ok(())
    }
}

/// What the request tells of a member's civil status: the spouses married, a minor unmarried;
/// otherwise unknown to the register (tab. 01 code 9) until the comune completes it.
fn civil_status(r: &RegistrationRequest, i: usize, today: chrono::NaiveDate) -> StatoCivile {
    let spouse = |m: &eu::Member| m.relation == 2;
    let m = &r.members[i];
    if spouse(m) || (i == 0 && r.members.iter().any(spouse)) {
        StatoCivile::Coniugato
    } else if !eu::adult(m.birth_date, today) {
        StatoCivile::CelibeNubile
    } else {
        StatoCivile::NonClassificabileIgnotoC
    }
}
