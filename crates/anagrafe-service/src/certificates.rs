//! Certificates (CRT-1 … CRT-7): the checks, the content, the preview, the issue with its seal
//! and contrassegno, the download, the list, the stamp-duty payment of the embedded mode, the
//! e-mailed copy and the expiry — for citizens (about themselves only), registry offices (any
//! person in the register, as ANPR allows) and the register's operators at the command line.
//!
//! Every access is traced with the CRT-7 fields (codice fiscale, time to the millisecond,
//! operation, outcome, request id, authentication mode), refusals included. Dates (issue,
//! expiry, "today" for the checks) come from the service's clock.

pub mod content;
pub mod verification;

use crate::{Clock, Principal, ServiceError, ServiceResult};
use anagrafe_docs::payload::{CONTENT_ENTRY, Payload, QR_ENTRY};
use anagrafe_docs::{DocError, Engine, SealIdentity};
use anagrafe_domain::certificate::{self, Refusal, Stamp};
use anagrafe_domain::decode::DecodeTable;
use anagrafe_domain::{Belfiore, IdAnpr, Role, Why};
use anagrafe_store::{AuditEntry, NewCertificate, StampPayment, Store, StoreError, StoredCertificate};
use base64::Engine as _;
use chrono::{DateTime, Months, NaiveDate, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A certificate type of ANPR's tab. 13 (*tipo certificato*).
pub use anagrafe_domain::decode::TipoCertificato as CertificateKind;

/// The register's branding on certificates.
#[derive(Debug, Clone)]
pub struct Branding {
    /// "Anagrafe Nazionale della Popolazione Residente".
    pub heading: String,
    /// "Ministero dell'Interno".
    pub administration: String,
}

impl Default for Branding {
    fn default() -> Self {
        Self { heading: "Anagrafe Nazionale della Popolazione Residente".into(), administration: "Ministero dell'Interno".into() }
    }
}

/// Captchas issued, with their answers (test hook of the verification page).
pub type CaptchaOracle = Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// What the certificates are made with: layout engine, seal, branding and policy.
#[derive(Debug)]
pub struct Certificates {
    /// The typst engine.
    pub engine: Engine,
    /// The register's seal.
    pub seal: SealIdentity,
    /// Branding.
    pub branding: Branding,
    /// Public base URL of the verification pages (the QR code leads there).
    pub public_url: String,
    /// Whether `public_url` is only a guess from the configured listening address (no public
    /// URL configured): the server then replaces it with the address it is bound to.
    pub public_url_guessed: bool,
    /// Months a certificate stays valid and downloadable (six).
    pub validity_months: u32,
    /// Whether stamp duty may be paid through the local payment interface (embedded mode).
    pub local_payments: bool,
    /// How e-mailed certificates leave the register. `None`: no e-mail delivery.
    pub mail: Option<MailDelivery>,
    /// Sender of e-mailed certificates.
    pub mail_from: String,
    /// Renders at once: one per core. More only queue on the CPU and make every one slower,
    /// while the database also needs its share of the cores.
    pub render_slots: Arc<tokio::sync::Semaphore>,
    /// Test hook: the answers of the captchas issued, so in-process tests can solve them.
    /// Only code can set it; no configuration does.
    pub captcha_oracle: Option<CaptchaOracle>,
    /// Captchas already tried (in memory, bounded) and the refusals not yet traced: what keeps
    /// a flood of anonymous attempts from writing to the database.
    pub captcha_guard: Arc<verification::CaptchaGuard>,
}

impl Certificates {
    /// Certificates with default branding, six months of validity and local payments.
    pub fn new(seal: SealIdentity, public_url: &str) -> Self {
        Self {
            engine: Engine::default(),
            seal,
            branding: Branding::default(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            public_url_guessed: false,
            validity_months: 6,
            local_payments: true,
            mail: None,
            render_slots: Arc::new(tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from))),
            mail_from: "Anagrafe Nazionale <noreply@anagrafe.invalid>".into(),
            captcha_oracle: None,
            captcha_guard: Arc::default(),
        }
    }
}

/// How e-mailed certificates leave the register (CRT-6).
#[derive(Clone)]
pub enum MailDelivery {
    /// `.eml` files written to a directory (the embedded mode's outbox; a relay picks them up).
    Outbox(std::path::PathBuf),
    /// Sent at once to an SMTP relay (lettre over rustls).
    Smtp(lettre::AsyncSmtpTransport<lettre::Tokio1Executor>),
}

impl std::fmt::Debug for MailDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailDelivery::Outbox(dir) => f.debug_tuple("Outbox").field(dir).finish(),
            // The URL may carry the relay's password: never printed.
            MailDelivery::Smtp(_) => f.write_str("Smtp(…)"),
        }
    }
}

impl MailDelivery {
    /// Sends `message` (RFC 5322) from `from` to `to`: written to the outbox as `{name}.eml`,
    /// or handed to the relay. Which way it went (`outbox`, `smtp`); `Unavailable` when the
    /// outbox cannot be written or the relay refuses, `State` on `to` for a bad address.
    pub async fn deliver(&self, from: &str, to: &str, message: &[u8], name: &str) -> ServiceResult<&'static str> {
        match self {
            MailDelivery::Outbox(outbox) => {
                let file = outbox.join(format!("{name}.eml"));
                let message = message.to_vec();
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    std::fs::create_dir_all(file.parent().unwrap_or(std::path::Path::new(".")))?;
                    let tmp = file.with_extension("tmp");
                    std::fs::write(&tmp, message)?;
                    std::fs::rename(&tmp, &file)
                })
                .await
                .map_err(internal)?
                .map_err(|e| ServiceError::Unavailable(format!("the outbox cannot be written: {e}")))?;
                Ok("outbox")
            }
            MailDelivery::Smtp(transport) => {
                use lettre::AsyncTransport as _;
                let envelope = envelope(from, to)?;
                transport.send_raw(&envelope, message).await.map_err(|e| ServiceError::Unavailable(format!("the mail relay: {e}")))?;
                Ok("smtp")
            }
        }
    }

    /// An SMTP relay from its URL: `smtps://user:password@host:465` (TLS from the start),
    /// `smtp://host:587?tls=required` (STARTTLS), or `smtp://host:25` (plain, for a relay on the
    /// same host only).
    pub fn smtp(url: &str) -> Result<Self, lettre::transport::smtp::Error> {
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map(|b| MailDelivery::Smtp(b.timeout(Some(std::time::Duration::from_secs(20))).build()))
    }
}

/// A certificate request: whom, which types (several: a combined certificate), as of when
/// (type 20 only), in which languages (`it`: Italian only; `None`: as the comune of residence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRequest {
    /// The person certified.
    pub person: IdAnpr,
    /// The types, in the order asked.
    pub kinds: Vec<CertificateKind>,
    /// Reference date of the historical residence at a date (type 20).
    pub reference_date: Option<NaiveDate>,
    /// Second language asked for.
    pub lang: Option<String>,
}

/// Where an e-mailed copy goes: an address the register holds for the holder, never one the
/// caller types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailChannel {
    /// The record's e-mail address.
    Email,
    /// The record's digital domicile (PEC).
    DigitalDomicile,
}

impl MailChannel {
    /// `email` or `digital_domicile`, as the trace and the API name it.
    pub fn as_str(self) -> &'static str {
        match self {
            MailChannel::Email => "email",
            MailChannel::DigitalDomicile => "digital_domicile",
        }
    }
}

/// Why a certificate was not produced, inside this module.
#[derive(Debug)]
pub(crate) enum CertError {
    Refused(Refusal),
    Field(&'static str, String),
    Store(StoreError),
}

impl From<StoreError> for CertError {
    fn from(e: StoreError) -> Self {
        CertError::Store(e)
    }
}

impl From<CertError> for ServiceError {
    fn from(e: CertError) -> Self {
        match e {
            CertError::Refused(r) => ServiceError::NotCertifiable { code: r.code, reason: r.reason },
            CertError::Field(f, reason) => ServiceError::malformed(f, reason),
            CertError::Store(s) => s.into(),
        }
    }
}

/// Who asks, as the certificate rules see them.
#[derive(Debug, Clone)]
enum Requester {
    /// A citizen in the reserved area (about themselves only); `former` for a citizen of another
    /// EU state logged in through eIDAS whom the register no longer holds (EU-3: the own birth
    /// certificate only), by the codice fiscale their validation confirmed.
    Citizen { cf: String, former: bool },
    /// A registry office (an officer, or the comune's software), or with `None` the register's
    /// own operators at the command line.
    Office { comune: Option<Belfiore> },
}

/// SHA-256 (hex) of a verification token, as stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `dd/mm/yyyy`, as Italian certificates print dates.
pub fn dmy(d: NaiveDate) -> String {
    content::dmy(d)
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Internal(Box::new(e))
}

/// The certificate use cases over a store, with the register's certificates and a clock.
#[derive(Debug, Clone)]
pub struct CertificateService {
    certs: Arc<Certificates>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl CertificateService {
    /// The service over `store`, making certificates with `certs`, reading time from `clock`.
    pub fn new(certs: Arc<Certificates>, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { certs, store, clock }
    }

    /// What the certificates are made with.
    pub fn certificates(&self) -> &Arc<Certificates> {
        &self.certs
    }

    async fn requester(&self, who: &Principal) -> ServiceResult<Requester> {
        match who.role {
            Role::Citizen => match (&who.codice_fiscale, &who.eidas_id) {
                (Some(cf), _) => Ok(Requester::Citizen { cf: cf.clone(), former: false }),
                (None, Some(eidas)) => Ok(Requester::Citizen { cf: self.validated_cf(eidas).await?, former: true }),
                (None, None) => Err(ServiceError::Forbidden("a citizen's session names no codice fiscale".into())),
            },
            Role::Comune | Role::RegistryOfficer => Ok(Requester::Office { comune: Some(who.acting_comune()?) }),
            Role::SystemAdmin => Ok(Requester::Office { comune: who.comune }),
            _ => Err(ServiceError::Forbidden("certificates are for citizens and registry offices".into())),
        }
    }

    /// The codice fiscale an EU citizen's completed validation confirmed (EU-2), required by the
    /// birth certificate (EU-3).
    async fn validated_cf(&self, eidas: &str) -> ServiceResult<String> {
        let profile = self.store.eu_profile(eidas).await?;
        let declared = profile
            .filter(|p| p.validated_at.is_some())
            .and_then(|p| p.declared)
            .and_then(|d| serde_json::from_str::<anagrafe_domain::eu::Declared>(&d).ok());
        let Some(declared) = declared else {
            return Err(ServiceError::State { field: "validation".into(), reason: Why::new("eu-not-validated") });
        };
        match declared.codice_fiscale {
            Some(cf) => Ok(cf.to_string()),
            None => Err(ServiceError::State { field: "codice_fiscale".into(), reason: Why::new("eu-cf-required") }),
        }
    }

    /// The e-mail address an EU citizen's validation confirmed.
    async fn validated_email(&self, eidas: &str) -> ServiceResult<Option<String>> {
        let profile = self.store.eu_profile(eidas).await?;
        Ok(profile
            .filter(|p| p.validated_at.is_some())
            .and_then(|p| p.declared)
            .and_then(|d| serde_json::from_str::<anagrafe_domain::eu::Declared>(&d).ok())
            .map(|d| d.email.as_str().to_owned()))
    }

    fn entry(who: &Principal, operation: &str, outcome: &str, detail: serde_json::Value) -> AuditEntry {
        let mut e = who.entry(operation, outcome);
        e.detail = detail.to_string();
        e
    }

    /// The person certified, with who may ask about whom applied: citizens about themselves
    /// only (a refusal traced without naming the other person).
    async fn subject(&self, who: &Principal, rq: &Requester, person: &IdAnpr) -> ServiceResult<i64> {
        let (pid, _) =
            self.store.find_by_id_anpr(person).await?.ok_or_else(|| ServiceError::NotFound("no person with this ID ANPR".into()))?;
        if let Requester::Citizen { cf, .. } = rq {
            let view = self.store.person(pid, None).await?;
            if view.record.generalita.codice_fiscale.map(|c| c.as_str().to_owned()).as_deref() != Some(cf.as_str()) {
                self.store.audit(&Self::entry(who, "certificate.request", "refused:not-yours", json!({}))).await?;
                return Err(ServiceError::Forbidden("citizens obtain certificates about themselves only".into()));
            }
        }
        Ok(pid)
    }

    async fn resolve(&self, who: &Principal, req: &CertificateRequest) -> ServiceResult<(Requester, content::Request)> {
        if req.kinds.is_empty() {
            return Err(ServiceError::malformed("types", "name at least one certificate type (tab. 13 code or name)"));
        }
        let rq = self.requester(who).await?;
        let person_id = self.subject(who, &rq, &req.person).await?;
        let types = req.kinds.iter().map(|k| k.code()).collect();
        let former_eu = matches!(rq, Requester::Citizen { former: true, .. });
        Ok((rq, content::Request { person_id, types, reference_date: req.reference_date, lang: req.lang.clone(), former_eu }))
    }

    /// Traces a refused or failed request (CRT-7: every access, whatever its outcome).
    async fn refused(&self, who: &Principal, operation: &str, req: &content::Request, e: CertError) -> ServiceError {
        let outcome = match &e {
            CertError::Refused(r) => format!("refused:{}", r.code),
            CertError::Field(f, _) => format!("refused:{f}"),
            CertError::Store(_) => "error".to_owned(),
        };
        let mut entry = Self::entry(who, operation, &outcome, json!({ "types": req.types }));
        entry.subject_person = Some(req.person_id);
        match self.store.audit(&entry).await {
            Ok(_) => e.into(),
            Err(a) => a.into(),
        }
    }

    async fn prepare(
        &self,
        who: &Principal,
        operation: &str,
        rq: &Requester,
        req: &content::Request,
        now: DateTime<Utc>,
        stamp: Option<&Stamp>,
    ) -> ServiceResult<content::Prepared> {
        let office = match rq {
            Requester::Office { comune } => *comune,
            Requester::Citizen { .. } => None,
        };
        match content::prepare(&self.certs, &*self.store, req, now, office, stamp).await {
            Ok(p) => Ok(p),
            Err(e) => Err(self.refused(who, operation, req, e).await),
        }
    }

    /// Runs a request's checks (CRT-2) without laying anything out: the pages' step before the
    /// preview, so a refusal is said before anything is paid. Traced as `certificate.check`.
    pub async fn check(&self, who: &Principal, req: &CertificateRequest) -> ServiceResult<()> {
        let (rq, req) = self.resolve(who, req).await?;
        let prepared = self.prepare(who, "certificate.check", &rq, &req, self.clock.now(), None).await?;
        let mut entry = Self::entry(who, "certificate.check", "ok", json!({ "types": req.types }));
        entry.subject_person = Some(req.person_id);
        entry.subject_cf = prepared.subject_cf;
        self.store.audit(&entry).await?;
        Ok(())
    }

    /// The certificate types and whether the person can obtain each today (CRT-2), so a page
    /// offers only those (and can say why the others are not). The historical residence at a
    /// date (type 20) is checked on its date, when it is asked. Traced once, as
    /// `certificate.eligibility`.
    pub async fn offers(&self, who: &Principal, person: &IdAnpr) -> ServiceResult<Vec<(CertificateKind, Option<Refusal>)>> {
        let rq = self.requester(who).await?;
        let person_id = self.subject(who, &rq, person).await?;
        let today = anagrafe_domain::ops::italian_date(self.clock.now());
        let (view, _, facts) = content::subject_on(&*self.store, person_id, today).await?;
        let offers: Vec<(CertificateKind, Option<Refusal>)> = CertificateKind::ALL
            .iter()
            .map(|k| match k.code() {
                20 => (*k, None),
                code => (*k, certificate::check_subject(code, &view.record, facts.as_ref()).err()),
            })
            .collect();
        let open: Vec<u16> = offers.iter().filter(|(_, r)| r.is_none()).map(|(k, _)| k.code()).collect();
        let mut entry = Self::entry(who, "certificate.eligibility", "ok", json!({ "types": open }));
        entry.subject_person = Some(person_id);
        entry.subject_cf = view.record.generalita.codice_fiscale.map(|c| c.to_string());
        self.store.audit(&entry).await?;
        Ok(offers)
    }

    /// A preview: the same layout with the watermark and no QR code; nothing is stored, the
    /// access is traced.
    pub async fn preview(&self, who: &Principal, req: &CertificateRequest, stamp: Option<&Stamp>) -> ServiceResult<Vec<u8>> {
        let (rq, req) = self.resolve(who, req).await?;
        let prepared = self.prepare(who, "certificate.preview", &rq, &req, self.clock.now(), stamp).await?;
        let mut doc = prepared.doc;
        doc.ident = who.request_id.clone();
        let c = self.certs.clone();
        let slot = self.certs.render_slots.acquire().await.map_err(internal)?;
        let pdf = tokio::task::spawn_blocking(move || c.engine.render(&doc, None)).await.map_err(internal)?.map_err(internal)?;
        drop(slot);
        let mut entry = Self::entry(who, "certificate.preview", "ok", json!({ "types": req.types }));
        entry.subject_person = Some(req.person_id);
        entry.subject_cf = prepared.subject_cf;
        self.store.audit(&entry).await?;
        Ok(pdf)
    }

    /// Issues a certificate: checks, renders, seals with its contrassegno, stores and traces
    /// it, consuming the stamp-duty payment (the requester's own, unused) in the same
    /// transaction.
    pub async fn issue(&self, who: &Principal, req: &CertificateRequest, stamp: &Stamp) -> ServiceResult<(StoredCertificate, Vec<u8>)> {
        if let Err(e) = stamp.check() {
            return Err(ServiceError::malformed(e.field, e.reason.to_string()));
        }
        let (rq, req) = self.resolve(who, req).await?;
        let now = self.clock.now();
        let (person_id, types) = (req.person_id, req.types.as_slice());
        let prepared = self.prepare(who, "certificate.issue", &rq, &req, now, Some(stamp)).await?;
        if let Stamp::Paid { payment_id } = stamp {
            let payment = self.store.payment(payment_id).await?;
            if payment.as_ref().is_none_or(|p| p.payer != who.actor || p.certificate_id.is_some()) {
                return Err(ServiceError::State { field: "stamp.payment_id".into(), reason: Why::new("payment-unknown") });
            }
        }
        let today = anagrafe_domain::ops::italian_date(now);
        let expires_on = today
            .checked_add_months(Months::new(self.certs.validity_months))
            .and_then(|d| d.pred_opt())
            .ok_or_else(|| ServiceError::Internal("the expiry date overflows the calendar".into()))?;
        let number = new_number(now);
        let mut token_bytes = [0u8; 18];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut token_bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token_bytes);
        let mut doc = prepared.doc;
        content::finish(&self.certs, &mut doc, &number, expires_on);
        let content_json = serde_json::to_vec(&doc).map_err(internal)?;
        let payload = Payload {
            v: 1,
            id: number.clone(),
            t: types.to_vec(),
            i: today.to_string(),
            e: expires_on.to_string(),
            h: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&content_json)),
        };
        let signed = payload.sign(&self.certs.seal).map_err(internal)?;
        let qr = format!("{}/verifica/{token}#{signed}", self.certs.public_url);
        let c = self.certs.clone();
        let reason = format!("Certificato anagrafico n. {number}");
        let slot = self.certs.render_slots.acquire().await.map_err(internal)?;
        let pdf = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, DocError> {
            let pdf = c.engine.render(&doc, Some(&qr))?;
            c.seal.seal(&pdf, now, &reason, &[(QR_ENTRY, qr.as_bytes()), (CONTENT_ENTRY, &content_json)])
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        drop(slot);
        let meta = StoredCertificate {
            id: number.clone(),
            person_id,
            types: types.to_vec(),
            langs: prepared.langs,
            issued_at: now.timestamp_millis(),
            expires_on,
            requester: who.actor.clone(),
            stamp: serde_json::to_value(stamp).map_err(internal)?,
            sha256: hex::encode(Sha256::digest(&pdf)),
            size: pdf.len() as i64,
            deleted_at: None,
            delete_reason: None,
        };
        let mut entry =
            Self::entry(who, "certificate.issue", "ok", json!({ "certificate": number, "types": types, "stamp": stamp_kind(stamp) }));
        entry.subject_person = Some(person_id);
        entry.subject_cf = prepared.subject_cf;
        let payment_id = match stamp {
            Stamp::Paid { payment_id } => Some(payment_id.clone()),
            Stamp::Exempt { .. } => None,
        };
        self.store
            .save_certificate(&NewCertificate { meta: meta.clone(), token_hash: token_hash(&token), pdf: pdf.clone(), payment_id }, &entry)
            .await?;
        Ok((meta, pdf))
    }

    /// Whether `who` may see a stored certificate: its holder, or the office that issued it.
    async fn may_see(&self, who: &Principal, rq: &Requester, cert: &StoredCertificate) -> ServiceResult<bool> {
        Ok(match rq {
            Requester::Citizen { cf, .. } => match self.store.person(cert.person_id, None).await {
                Ok(v) => v.record.generalita.codice_fiscale.is_some_and(|c| c.as_str() == cf),
                Err(StoreError::NotFound(_)) => false,
                Err(e) => return Err(e.into()),
            },
            Requester::Office { .. } => cert.requester == who.actor,
        })
    }

    /// A certificate's sealed PDF, for its holder or the office that issued it, while it is
    /// kept (`Gone` after its expiry).
    pub async fn download(&self, who: &Principal, number: &str) -> ServiceResult<(StoredCertificate, Vec<u8>)> {
        let rq = self.requester(who).await?;
        let cert = self.store.certificate(number).await?.ok_or_else(|| ServiceError::NotFound("no such certificate".into()))?;
        if !self.may_see(who, &rq, &cert).await? {
            let mut e = Self::entry(who, "certificate.download", "refused:not-yours", json!({ "certificate": number }));
            e.subject_person = Some(cert.person_id);
            self.store.audit(&e).await?;
            return Err(ServiceError::Forbidden("only the holder or the office that issued it may download a certificate".into()));
        }
        let pdf = self.store.certificate_pdf(number).await?;
        let mut e = Self::entry(who, "certificate.download", if pdf.is_some() { "ok" } else { "gone" }, json!({ "certificate": number }));
        e.subject_person = Some(cert.person_id);
        self.store.audit(&e).await?;
        match pdf {
            Some(pdf) => Ok((cert, pdf)),
            None => Err(ServiceError::Gone(format!("certificate {number} expired on {} and was deleted", cert.expires_on))),
        }
    }

    /// The ID ANPR of the person a citizen's certificates are about: the record with the
    /// session's codice fiscale (for an EU citizen, the one the validation confirmed), even a
    /// record no longer in the register. None: refused with ANPR's code, traced.
    pub async fn own_person(&self, who: &Principal) -> ServiceResult<IdAnpr> {
        let Requester::Citizen { cf, .. } = self.requester(who).await? else {
            return Err(ServiceError::Forbidden("a citizen's own certificates".into()));
        };
        let cf = anagrafe_domain::CodiceFiscale::parse(&cf).map_err(internal)?;
        let found = match self.store.find_by_cf(&cf, None).await?.first() {
            Some(pid) => Some(self.store.person(*pid, None).await?.record.id_anpr),
            None => None,
        };
        match found.flatten() {
            Some(id) => Ok(id),
            None => {
                self.store.audit(&Self::entry(who, "certificate.request", "refused:ENT04", json!({}))).await?;
                Err(ServiceError::NotCertifiable { code: "ENT04", reason: "Soggetto non presente in ANPR".into() })
            }
        }
    }

    /// The certificates of a person that `who` may see, newest first: a citizen's own (no
    /// person named), or those an office issued about the person named.
    pub async fn list(&self, who: &Principal, person: Option<&IdAnpr>) -> ServiceResult<Vec<StoredCertificate>> {
        let rq = self.requester(who).await?;
        let pid = match (&rq, person) {
            (Requester::Citizen { cf, .. }, None) => {
                let cf = anagrafe_domain::CodiceFiscale::parse(cf).map_err(internal)?;
                match self.store.find_by_cf(&cf, None).await?.first() {
                    Some(p) => *p,
                    None => return Ok(Vec::new()),
                }
            }
            (rq, Some(p)) => self.subject(who, rq, p).await?,
            (Requester::Office { .. }, None) => {
                return Err(ServiceError::malformed("person", "name the person (ID ANPR) whose certificates to list"));
            }
        };
        let mut out = Vec::new();
        for cert in self.store.certificates_of(pid).await? {
            if self.may_see(who, &rq, &cert).await? {
                out.push(cert);
            }
        }
        let mut e = Self::entry(who, "certificate.list", "ok", json!({ "count": out.len() }));
        e.subject_person = Some(pid);
        self.store.audit(&e).await?;
        Ok(out)
    }

    async fn record_payment(&self, who: &Principal, provider: &str) -> ServiceResult<StampPayment> {
        let payment = StampPayment {
            id: format!("PAY-{}", uuid::Uuid::new_v4().simple()),
            payer: who.actor.clone(),
            amount_cents: certificate::STAMP_DUTY_CENTS,
            provider: provider.into(),
            paid_at: self.clock.now_ms(),
            certificate_id: None,
        };
        let e = Self::entry(who, "payment.stamp_duty", "ok", json!({ "payment": payment.id, "amount_cents": payment.amount_cents }));
        self.store.save_payment(&payment, &e).await?;
        Ok(payment)
    }

    /// Records a stamp-duty payment through the local payment interface (embedded mode): a
    /// real deployment plugs in the national payment platform here and confirms its receipt.
    pub async fn pay_locally(&self, who: &Principal) -> ServiceResult<StampPayment> {
        self.requester(who).await?;
        if !self.certs.local_payments {
            return Err(ServiceError::NotFound("stamp duty is paid through the payment platform, not here".into()));
        }
        self.record_payment(who, "local").await
    }

    /// Records a stamp-duty payment collected outside the payment interface (at the counter,
    /// at the command line) for `who`; returns its id.
    pub async fn record_counter_payment(&self, who: &Principal) -> ServiceResult<String> {
        match self.requester(who).await? {
            Requester::Office { .. } => Ok(self.record_payment(who, "counter").await?.id),
            Requester::Citizen { .. } => Err(ServiceError::Forbidden("stamp duty is collected at the counter by an office".into())),
        }
    }

    /// Sends a copy of a valid certificate to an address the register holds for its holder
    /// (CRT-6); returns how it left (`outbox` or `smtp`).
    pub async fn email(&self, who: &Principal, number: &str, channel: MailChannel) -> ServiceResult<&'static str> {
        let rq = self.requester(who).await?;
        let Some(mail) = self.certs.mail.clone() else {
            return Err(ServiceError::NotFound("e-mail delivery is not configured on this register".into()));
        };
        let cert = self.store.certificate(number).await?.ok_or_else(|| ServiceError::NotFound("no such certificate".into()))?;
        if !self.may_see(who, &rq, &cert).await? {
            return Err(ServiceError::Forbidden("only the holder or the office that issued it may send a certificate".into()));
        }
        let record = self.store.person(cert.person_id, None).await?.record;
        let address = match (&rq, channel, who.eidas_id.as_deref()) {
            // A former resident's courtesy copy goes to the address the validation confirmed.
            (Requester::Citizen { former: true, .. }, _, Some(eidas)) => self.validated_email(eidas).await?,
            (_, MailChannel::Email, _) => record.email.as_ref().map(|a| a.as_str().to_owned()),
            (_, MailChannel::DigitalDomicile, _) => record.digital_domicile.as_ref().map(|a| a.as_str().to_owned()),
        };
        let Some(address) = address.filter(|a| !a.chars().any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>')) else {
            return Err(ServiceError::State { field: "to".into(), reason: Why::new("no-address").arg("channel", channel.as_str()) });
        };
        let Some(pdf) = self.store.certificate_pdf(number).await? else {
            return Err(ServiceError::Gone(format!("certificate {number} expired on {} and was deleted", cert.expires_on)));
        };
        let message = mime_message(&self.certs.mail_from, &address, &cert, &pdf, self.clock.now());
        let via = match mail.deliver(&self.certs.mail_from, &address, &message, &format!("{}-{}", self.clock.now_ms(), cert.id)).await {
            Ok(via) => via,
            Err(e @ ServiceError::State { .. }) => return Err(e),
            Err(e) => {
                // The relay's answer names no one; the address stays out of the log.
                tracing::warn!(certificate = %cert.id, error = %e, "the mail relay did not take a certificate");
                let mut entry = Self::entry(who, "certificate.email", "failed", json!({ "certificate": number, "to": channel.as_str() }));
                entry.subject_person = Some(cert.person_id);
                self.store.audit(&entry).await?;
                return Err(ServiceError::Unavailable("the mail relay did not accept the message; try again later".into()));
            }
        };
        let mut e = Self::entry(who, "certificate.email", "ok", json!({ "certificate": number, "to": channel.as_str(), "via": via }));
        e.subject_person = Some(cert.person_id);
        self.store.audit(&e).await?;
        Ok(via)
    }
}

/// Deletes the PDFs of certificates whose validity ended before today by `clock` (CRT-6); run
/// daily by the server and by `anagrafe certificate expire`.
pub async fn expire(store: &dyn Store, clock: &dyn Clock) -> ServiceResult<u64> {
    let mut entry = AuditEntry::from_ctx(
        &anagrafe_store::WriteContext {
            request_id: format!("expiry-{}", clock.now_ms()),
            actor: "system:expiry".into(),
            actor_cf: None,
            eidas_id: None,
            auth_mode: "system".into(),
            comune: None,
            client_op_id: None,
        },
        "certificate.expire",
        "ok",
    );
    entry.detail = "{}".into();
    Ok(store.delete_expired_certificates(clock.today(), &entry).await?)
}

/// A certificate number: year and ten characters of an unambiguous alphabet.
fn new_number(now: DateTime<Utc>) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..10).map(|_| ALPHABET[rand::Rng::gen_range(&mut rng, 0..ALPHABET.len())] as char).collect();
    format!("{}-{tail}", chrono::Datelike::year(&now))
}

fn stamp_kind(s: &Stamp) -> serde_json::Value {
    match s {
        Stamp::Paid { .. } => json!("paid"),
        Stamp::Exempt { code, .. } => json!({ "exempt": code }),
    }
}

/// The SMTP envelope: the sender's address (from `Name <address>` or a bare address) and the
/// recipient's.
fn envelope(from: &str, to: &str) -> ServiceResult<lettre::address::Envelope> {
    let bare = from.rsplit_once('<').map(|(_, a)| a.trim_end_matches('>')).unwrap_or(from).trim();
    let sender = bare.parse::<lettre::Address>().map_err(internal)?;
    let recipient =
        to.parse::<lettre::Address>().map_err(|_| ServiceError::State { field: "to".into(), reason: Why::new("bad-address") })?;
    lettre::address::Envelope::new(Some(sender), vec![recipient]).map_err(internal)
}

/// An RFC 5322 message with the certificate attached (MIME, base64).
fn mime_message(from: &str, to: &str, cert: &StoredCertificate, pdf: &[u8], now: DateTime<Utc>) -> Vec<u8> {
    let text = format!(
        "In allegato il certificato anagrafico n. {id}, sigillato elettronicamente, valido fino al {until}.\r\n\
         La copia stampata si verifica con il contrassegno (codice QR) che vi è riportato.\r\n",
        id = cert.id,
        until = content::dmy(cert.expires_on),
    );
    let subject = format!("Certificato anagrafico n. {}", cert.id);
    mime_with_attachment(from, to, &subject, &text, &[(&format!("certificato-{}.pdf", cert.id), "application/pdf", pdf)], now)
}

/// An RFC 5322 message with a plain-text body and attachments (`name`, content type, bytes;
/// MIME, base64). The subject is ASCII or encoded as RFC 2047.
pub fn mime_with_attachment(from: &str, to: &str, subject: &str, text: &str, files: &[(&str, &str, &[u8])], now: DateTime<Utc>) -> Vec<u8> {
    let boundary = format!("anagrafe-{}", uuid::Uuid::new_v4().simple());
    let date = now.format("%a, %d %b %Y %H:%M:%S +0000");
    let subject = if subject.is_ascii() {
        subject.to_owned()
    } else {
        format!("=?utf-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(subject))
    };
    let mut out = format!(
        "From: {from}\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{mid}@anagrafe>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n",
        mid = uuid::Uuid::new_v4().simple(),
    );
    for (name, kind, bytes) in files {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        out.push_str(&format!(
            "--{boundary}\r\nContent-Type: {kind}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        ));
        for chunk in b64.as_bytes().chunks(76) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out.into_bytes()
}
