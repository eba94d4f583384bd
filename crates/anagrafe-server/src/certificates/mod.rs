//! Certificates (issue 5): preview, issue, download and list for citizens (about themselves
//! only) and registry offices (any person in the register, as ANPR allows); the stamp-duty
//! payment of the embedded mode; the expiry job; the public verification pages.
//!
//! Every access is traced with the CRT-7 fields (codice fiscale, time to the millisecond,
//! operation, outcome, request id, authentication mode), refusals included.

pub mod content;
pub mod verify_page;

use crate::error::ApiError;
use crate::{AppState, modi};
use anagrafe_docs::payload::{CONTENT_ENTRY, Payload, QR_ENTRY};
use anagrafe_docs::{DocError, Engine, SealIdentity};
use anagrafe_domain::certificate::{self, Refusal, Stamp};
use anagrafe_domain::{Belfiore, IdAnpr};
use anagrafe_store::{AuditEntry, NewCertificate, StampPayment, Store, StoreError, StoredCertificate};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

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

/// Captchas issued, with their answers (test hook).
pub type CaptchaOracle = Arc<std::sync::Mutex<Vec<(String, String)>>>;

pub use content::Request as CertificateRequest;

/// The certificate service: layout engine, seal, branding and policy.
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
}

impl Certificates {
    /// A service with default branding, six months of validity and local payments.
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
    /// An SMTP relay from its URL: `smtps://user:password@host:465` (TLS from the start),
    /// `smtp://host:587?tls=required` (STARTTLS), or `smtp://host:25` (plain, for a relay on the
    /// same host only).
    pub fn smtp(url: &str) -> Result<Self, String> {
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map(|b| MailDelivery::Smtp(b.timeout(Some(std::time::Duration::from_secs(20))).build()))
            .map_err(|e| format!("not an SMTP relay URL: {e}"))
    }
}

/// Why a certificate was not produced.
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

impl From<CertError> for ApiError {
    fn from(e: CertError) -> Self {
        match e {
            CertError::Refused(r) => ApiError::NotCertifiable { code: r.code, reason: r.reason },
            CertError::Field(f, reason) => ApiError::field(f, reason),
            CertError::Store(s) => s.into(),
        }
    }
}

/// Who asks for a certificate.
#[derive(Debug, Clone)]
pub(crate) enum Requester {
    /// A citizen in the reserved area (about themselves only).
    Citizen { cf: String, auth_mode: String },
    /// A registry office: an officer with a session, or the comune's software (`comune`
    /// `None`: the register's own operators at the command line).
    Office { comune: Option<Belfiore>, actor: String, auth_mode: String },
}

impl Requester {
    fn actor(&self) -> String {
        match self {
            Requester::Citizen { cf, .. } => format!("citizen:{cf}"),
            Requester::Office { actor, .. } => actor.clone(),
        }
    }

    pub(crate) fn entry(&self, operation: &str, outcome: &str, detail: serde_json::Value) -> AuditEntry {
        let (auth_mode, actor_cf) = match self {
            Requester::Citizen { cf, auth_mode } => (auth_mode.clone(), Some(cf.clone())),
            Requester::Office { auth_mode, .. } => (auth_mode.clone(), None),
        };
        let mut e = crate::auth::entry(&self.actor(), &auth_mode, operation, outcome, detail);
        e.actor_cf = actor_cf;
        e
    }
}

/// The requester and the body of a certificate request.
pub(crate) struct CertCaller {
    pub(crate) who: Requester,
    pub(crate) body: Bytes,
}

const MAX_BODY: usize = 64 * 1024;

impl FromRequest<AppState> for CertCaller {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let signed = req.headers().contains_key(modi::SIGNATURE_HEADER);
        let has_cookie = crate::auth::cookie_value(req.headers(), crate::auth::COOKIE).is_some();
        if !signed && has_cookie {
            let (parts, body) = req.into_parts();
            match crate::auth::current_session(&parts, state, "citizen").await {
                Ok(session) => {
                    let body = axum::body::to_bytes(body, MAX_BODY)
                        .await
                        .map_err(|_| ApiError::field("body", format!("is larger than {MAX_BODY} bytes or was interrupted")))?;
                    return Ok(CertCaller { who: Requester::Citizen { cf: session.subject, auth_mode: session.auth_mode }, body });
                }
                Err(ApiError::Forbidden(why)) => return Err(ApiError::Forbidden(why)),
                Err(_) => {
                    let req = Request::from_parts(parts, body);
                    return office(req, state).await;
                }
            }
        }
        office(req, state).await
    }
}

async fn office(req: Request, state: &AppState) -> Result<CertCaller, ApiError> {
    let caller = modi::Caller::from_request(req, state).await?;
    let p = caller.principal;
    p.require(&[anagrafe_domain::Role::Comune, anagrafe_domain::Role::RegistryOfficer], "the certificate service for offices")?;
    let comune = p.comune.ok_or_else(|| ApiError::Forbidden("this service is for registry offices".into()))?;
    Ok(CertCaller { who: Requester::Office { comune: Some(comune), actor: p.actor, auth_mode: p.auth_mode }, body: caller.body })
}

/// The certificate routes of the API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/certificates", post(issue).get(list))
        .route("/api/v1/certificates/preview", post(preview))
        .route("/api/v1/certificates/{id}/pdf", get(download))
        .route("/api/v1/certificates/{id}/email", post(email))
        .route("/api/v1/payments/stamp-duty", post(pay))
        .merge(verify_page::routes())
}

fn service(state: &AppState) -> Result<Arc<Certificates>, ApiError> {
    state.certificates.clone().ok_or_else(|| ApiError::Unavailable("certificates are not configured (no seal)".into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertBody {
    person: String,
    types: Vec<serde_json::Value>,
    #[serde(default)]
    reference_date: Option<NaiveDate>,
    #[serde(default)]
    stamp: Option<Stamp>,
    #[serde(default)]
    confirm: bool,
    #[serde(default)]
    lang: Option<String>,
}

fn parse_body(body: &[u8]) -> Result<CertBody, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::field(if path == "." { "body".to_owned() } else { path }, e.inner().to_string())
    })
}

fn parse_types(raw: &[serde_json::Value]) -> Result<Vec<u16>, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::field("types", "name at least one certificate type (tab. 13 code or name)"));
    }
    raw.iter()
        .enumerate()
        .map(|(i, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            certificate::parse_type(&text)
                .map(anagrafe_domain::decode::DecodeTable::code)
                .ok_or_else(|| ApiError::field(format!("types[{i}]"), "is not a certificate type of tab. 13 (code 1-20 or its name)"))
        })
        .collect()
}

/// Resolves the person and applies who may ask: citizens about themselves only.
async fn subject(state: &AppState, who: &Requester, person: &str) -> Result<i64, ApiError> {
    let id = IdAnpr::parse(person).map_err(|e| ApiError::field("person", e.to_string()))?;
    let (pid, _) = state.store.find_by_id_anpr(&id).await?.ok_or_else(|| ApiError::NotFound("no person with this ID ANPR".into()))?;
    if let Requester::Citizen { cf, .. } = who {
        let view = state.store.person(pid, None).await?;
        if view.record.generalita.codice_fiscale.map(|c| c.as_str().to_owned()).as_deref() != Some(cf.as_str()) {
            // Traced without naming the other person: the attempt is the citizen's.
            state.store.audit(&who.entry("certificate.request", "refused:not-yours", json!({}))).await?;
            return Err(ApiError::Forbidden("citizens obtain certificates about themselves only".into()));
        }
    }
    Ok(pid)
}

fn office_of(who: &Requester) -> Option<Belfiore> {
    match who {
        Requester::Office { comune, .. } => *comune,
        Requester::Citizen { .. } => None,
    }
}

/// Traces a refused or failed certificate request (CRT-7: every access, whatever its outcome)
/// and turns it into the HTTP error.
async fn refused(store: &dyn Store, who: &Requester, operation: &str, req: &content::Request, e: CertError) -> ApiError {
    let outcome = match &e {
        CertError::Refused(r) => format!("refused:{}", r.code),
        CertError::Field(f, _) => format!("refused:{f}"),
        CertError::Store(_) => "error".to_owned(),
    };
    let mut entry = who.entry(operation, &outcome, json!({ "types": req.types }));
    entry.subject_person = Some(req.person_id);
    match store.audit(&entry).await {
        Ok(_) => e.into(),
        Err(a) => a.into(),
    }
}

/// Checks, lays out and traces a preview; nothing else is stored.
async fn preview_impl(
    certs: &Arc<Certificates>,
    store: &dyn Store,
    req: &content::Request,
    stamp: Option<&Stamp>,
    who: &Requester,
    ident: String,
) -> Result<Vec<u8>, ApiError> {
    let prepared = match content::prepare(certs, store, req, Utc::now(), office_of(who), stamp).await {
        Ok(p) => p,
        Err(e) => return Err(refused(store, who, "certificate.preview", req, e).await),
    };
    let mut doc = prepared.doc;
    doc.ident = ident;
    let c = certs.clone();
    let slot = certs.render_slots.acquire().await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let pdf = tokio::task::spawn_blocking(move || c.engine.render(&doc, None))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    drop(slot);
    let mut entry = who.entry("certificate.preview", "ok", json!({ "types": req.types }));
    entry.subject_person = Some(req.person_id);
    entry.subject_cf = prepared.subject_cf;
    store.audit(&entry).await?;
    Ok(pdf)
}

fn pdf_response(pdf: Vec<u8>, filename: &str) -> Response {
    let mut r = pdf.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// A request's body read and its subject resolved (who may ask about whom applied).
async fn request_of(state: &AppState, c: &CertCaller) -> Result<(CertBody, content::Request), ApiError> {
    let body = parse_body(&c.body)?;
    let types = parse_types(&body.types)?;
    let pid = subject(state, &c.who, &body.person).await?;
    let req = content::Request { person_id: pid, types, reference_date: body.reference_date, lang: body.lang.clone() };
    Ok((body, req))
}

/// Runs a request's checks (CRT-2) without laying anything out: the pages' step before the
/// preview, so a refusal is said before anything is paid. Traced as `certificate.check`.
pub(crate) async fn check(State(state): State<AppState>, c: CertCaller) -> Result<(), ApiError> {
    let certs = service(&state)?;
    let (_, req) = request_of(&state, &c).await?;
    match content::prepare(&certs, &*state.store, &req, Utc::now(), office_of(&c.who), None).await {
        Ok(prepared) => {
            let mut entry = c.who.entry("certificate.check", "ok", json!({ "types": req.types }));
            entry.subject_person = Some(req.person_id);
            entry.subject_cf = prepared.subject_cf;
            state.store.audit(&entry).await?;
            Ok(())
        }
        Err(e) => Err(refused(&*state.store, &c.who, "certificate.check", &req, e).await),
    }
}

pub(crate) async fn preview(State(state): State<AppState>, c: CertCaller) -> Result<Response, ApiError> {
    let certs = service(&state)?;
    let (body, req) = request_of(&state, &c).await?;
    let ident = crate::middleware::current_request_id().unwrap_or_default();
    let pdf = preview_impl(&certs, &*state.store, &req, body.stamp.as_ref(), &c.who, ident).await?;
    Ok(pdf_response(pdf, "anteprima.pdf"))
}

/// A certificate number: year and ten characters of an unambiguous alphabet.
fn new_number(now: DateTime<Utc>) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..10).map(|_| ALPHABET[rand::Rng::gen_range(&mut rng, 0..ALPHABET.len())] as char).collect();
    format!("{}-{tail}", chrono::Datelike::year(&now))
}

/// SHA-256 (hex) of a verification token, as stored.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Issues a certificate: checks, renders, seals, stores and traces it. Shared by the API and
/// the `anagrafe certificate issue` command.
pub async fn issue_certificate(
    certs: &Arc<Certificates>,
    store: &dyn Store,
    req: &CertificateRequest,
    stamp: &Stamp,
    who: &RequesterInfo,
) -> Result<(StoredCertificate, Vec<u8>), ApiError> {
    issue_impl(certs, store, req, stamp, &who.as_requester()).await
}

/// The requester as the command line names it.
#[derive(Debug, Clone)]
pub struct RequesterInfo {
    /// Actor (`operator:name`).
    pub actor: String,
    /// Comune of the office (`None`: the register itself).
    pub comune: Option<Belfiore>,
    /// Authentication mode.
    pub auth_mode: String,
}

impl RequesterInfo {
    fn as_requester(&self) -> Requester {
        Requester::Office { comune: self.comune, actor: self.actor.clone(), auth_mode: self.auth_mode.clone() }
    }
}

/// Renders a preview for the command line (nothing stored; the access is traced).
pub async fn preview_certificate(
    certs: &Arc<Certificates>,
    store: &dyn Store,
    req: &CertificateRequest,
    who: &RequesterInfo,
) -> Result<Vec<u8>, ApiError> {
    preview_impl(certs, store, req, None, &who.as_requester(), uuid::Uuid::new_v4().to_string()).await
}

async fn issue_impl(
    certs: &Arc<Certificates>,
    store: &dyn Store,
    req: &content::Request,
    stamp: &Stamp,
    who: &Requester,
) -> Result<(StoredCertificate, Vec<u8>), ApiError> {
    let now = Utc::now();
    let (person_id, types) = (req.person_id, req.types.as_slice());
    let prepared = match content::prepare(certs, store, req, now, office_of(who), Some(stamp)).await {
        Ok(p) => p,
        Err(e) => return Err(refused(store, who, "certificate.issue", req, e).await),
    };
    if let Stamp::Paid { payment_id } = stamp {
        let payment = store.payment(payment_id).await?;
        if payment.as_ref().is_none_or(|p| p.payer != who.actor() || p.certificate_id.is_some()) {
            return Err(ApiError::ConflictField {
                field: "stamp.payment_id".into(),
                reason: "no unused stamp-duty payment with this id was made by you".into(),
            });
        }
    }
    let today = anagrafe_domain::ops::italian_date(now);
    let expires_on = today
        .checked_add_months(Months::new(certs.validity_months))
        .and_then(|d| d.pred_opt())
        .ok_or_else(|| ApiError::Internal("date overflow".into()))?;
    let number = new_number(now);
    let mut token_bytes = [0u8; 18];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut token_bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token_bytes);
    let mut doc = prepared.doc;
    content::finish(certs, &mut doc, &number, expires_on);
    let content_json = serde_json::to_vec(&doc).map_err(|e| ApiError::Internal(e.to_string()))?;
    let payload = Payload {
        v: 1,
        id: number.clone(),
        t: types.to_vec(),
        i: today.to_string(),
        e: expires_on.to_string(),
        h: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&content_json)),
    };
    let signed = payload.sign(&certs.seal).map_err(|e| ApiError::Internal(e.to_string()))?;
    let qr = format!("{}/verifica/{token}#{signed}", certs.public_url);
    let c = certs.clone();
    let reason = format!("Certificato anagrafico n. {number}");
    let slot = certs.render_slots.acquire().await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let pdf = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, DocError> {
        let pdf = c.engine.render(&doc, Some(&qr))?;
        c.seal.seal(&pdf, now, &reason, &[(QR_ENTRY, qr.as_bytes()), (CONTENT_ENTRY, &content_json)])
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    drop(slot);
    let meta = StoredCertificate {
        id: number.clone(),
        person_id,
        types: types.to_vec(),
        langs: prepared.langs,
        issued_at: now.timestamp_millis(),
        expires_on,
        requester: who.actor(),
        stamp: serde_json::to_value(stamp).map_err(|e| ApiError::Internal(e.to_string()))?,
        sha256: hex::encode(Sha256::digest(&pdf)),
        size: pdf.len() as i64,
        deleted_at: None,
        delete_reason: None,
    };
    let mut entry = who.entry("certificate.issue", "ok", json!({ "certificate": number, "types": types, "stamp": stamp_kind(stamp) }));
    entry.subject_person = Some(person_id);
    entry.subject_cf = prepared.subject_cf;
    let payment_id = match stamp {
        Stamp::Paid { payment_id } => Some(payment_id.clone()),
        Stamp::Exempt { .. } => None,
    };
    store
        .save_certificate(&NewCertificate { meta: meta.clone(), token_hash: token_hash(&token), pdf: pdf.clone(), payment_id }, &entry)
        .await?;
    Ok((meta, pdf))
}

fn stamp_kind(s: &Stamp) -> serde_json::Value {
    match s {
        Stamp::Paid { .. } => json!("paid"),
        Stamp::Exempt { code, .. } => json!({ "exempt": code }),
    }
}

pub(crate) async fn issue(State(state): State<AppState>, c: CertCaller) -> Result<Response, ApiError> {
    let certs = service(&state)?;
    let body = parse_body(&c.body)?;
    let types = parse_types(&body.types)?;
    if !body.confirm {
        return Err(ApiError::field("confirm", "must be true: a certificate is issued only after the requester confirms the preview"));
    }
    let stamp = body.stamp.ok_or_else(|| ApiError::field("stamp", "pay the stamp duty or state an exemption (tab. 39)"))?;
    if let Err(e) = stamp.check() {
        return Err(ApiError::field(e.field, e.reason));
    }
    let pid = subject(&state, &c.who, &body.person).await?;
    let req = content::Request { person_id: pid, types: types.clone(), reference_date: body.reference_date, lang: body.lang };
    let (meta, _) = issue_impl(&certs, &*state.store, &req, &stamp, &c.who).await?;
    let mut r = (
        StatusCode::CREATED,
        axum::Json(json!({
            "id": meta.id,
            "types": meta.types,
            "langs": meta.langs,
            "issued_at": meta.issued_at,
            "expires_on": meta.expires_on,
            "sha256": meta.sha256,
            "pdf": format!("/api/v1/certificates/{}/pdf", meta.id),
        })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/certificates/{}/pdf", meta.id)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// Whether `who` may see a stored certificate: its holder, or the office that issued it.
async fn may_see(state: &AppState, who: &Requester, cert: &StoredCertificate) -> Result<bool, ApiError> {
    Ok(match who {
        Requester::Citizen { cf, .. } => {
            let view = state.store.person(cert.person_id, None).await;
            match view {
                Ok(v) => v.record.generalita.codice_fiscale.is_some_and(|c| c.as_str() == cf),
                Err(StoreError::NotFound(_)) => false,
                Err(e) => return Err(e.into()),
            }
        }
        Requester::Office { actor, .. } => cert.requester == *actor,
    })
}

pub(crate) async fn download(State(state): State<AppState>, Path(id): Path<String>, c: CertCaller) -> Result<Response, ApiError> {
    let cert = state.store.certificate(&id).await?.ok_or_else(|| ApiError::NotFound("no such certificate".into()))?;
    if !may_see(&state, &c.who, &cert).await? {
        let mut e = c.who.entry("certificate.download", "refused:not-yours", json!({ "certificate": id }));
        e.subject_person = Some(cert.person_id);
        state.store.audit(&e).await?;
        return Err(ApiError::Forbidden("only the holder or the office that issued it may download a certificate".into()));
    }
    let pdf = state.store.certificate_pdf(&id).await?;
    let outcome = if pdf.is_some() { "ok" } else { "gone" };
    let mut e = c.who.entry("certificate.download", outcome, json!({ "certificate": id }));
    e.subject_person = Some(cert.person_id);
    state.store.audit(&e).await?;
    match pdf {
        Some(pdf) => Ok(pdf_response(pdf, &format!("certificato-{id}.pdf"))),
        None => Err(ApiError::Gone(format!("certificate {id} expired on {} and was deleted", cert.expires_on))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    person: Option<String>,
}

pub(crate) async fn list(State(state): State<AppState>, uri: axum::http::Uri, c: CertCaller) -> Result<Response, ApiError> {
    let q: ListQuery = axum::extract::Query::try_from_uri(&uri).map(|q| q.0).map_err(|e| ApiError::field("query", e.body_text()))?;
    let pid = match (&c.who, q.person) {
        (Requester::Citizen { cf, .. }, None) => {
            let cf = anagrafe_domain::CodiceFiscale::parse(cf).map_err(|_| ApiError::Internal("stored code".into()))?;
            match state.store.find_by_cf(&cf, None).await?.first() {
                Some(p) => *p,
                None => return Ok(axum::Json(json!({ "certificates": [] })).into_response()),
            }
        }
        (who, Some(p)) => subject(&state, who, &p).await?,
        (Requester::Office { .. }, None) => return Err(ApiError::field("person", "name the person (ID ANPR) whose certificates to list")),
    };
    let mut out = Vec::new();
    for cert in state.store.certificates_of(pid).await? {
        if may_see(&state, &c.who, &cert).await? {
            out.push(json!({
                "id": cert.id,
                "types": cert.types,
                "issued_at": cert.issued_at,
                "expires_on": cert.expires_on,
                "available": cert.deleted_at.is_none(),
                "pdf": format!("/api/v1/certificates/{}/pdf", cert.id),
            }));
        }
    }
    let mut e = c.who.entry("certificate.list", "ok", json!({ "count": out.len() }));
    e.subject_person = Some(pid);
    state.store.audit(&e).await?;
    Ok(axum::Json(json!({ "certificates": out })).into_response())
}

/// Records a stamp-duty payment through the local payment interface (embedded mode): a real
/// deployment plugs in the national payment platform here and confirms its receipt.
pub(crate) async fn pay(State(state): State<AppState>, c: CertCaller) -> Result<Response, ApiError> {
    let certs = service(&state)?;
    if !certs.local_payments {
        return Err(ApiError::NotFound("stamp duty is paid through the payment platform, not here".into()));
    }
    if !c.body.is_empty() && c.body.as_ref() != b"{}" {
        return Err(ApiError::field("body", "must be empty or {}: the amount is fixed (€ 16.00)"));
    }
    let payment = StampPayment {
        id: format!("PAY-{}", uuid::Uuid::new_v4().simple()),
        payer: c.who.actor(),
        amount_cents: certificate::STAMP_DUTY_CENTS,
        provider: "local".into(),
        paid_at: anagrafe_store::now_ms(),
        certificate_id: None,
    };
    let e = c.who.entry("payment.stamp_duty", "ok", json!({ "payment": payment.id, "amount_cents": payment.amount_cents }));
    state.store.save_payment(&payment, &e).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "payment_id": payment.id, "amount_cents": payment.amount_cents, "provider": "local" })))
        .into_response())
}

/// Deletes the PDFs of expired certificates (CRT-6); run daily by the server and by
/// `anagrafe certificate expire`.
pub async fn expire(store: &dyn Store, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let today = anagrafe_domain::ops::italian_date(now);
    let entry = crate::auth::entry("system:expiry", "system", "certificate.expire", "ok", json!({}));
    store.delete_expired_certificates(today, &entry).await
}

/// Records a stamp-duty payment collected outside the API (at the counter, by the command
/// line) for `who`; returns its id.
pub async fn record_counter_payment(store: &dyn Store, who: &RequesterInfo) -> Result<String, ApiError> {
    let payment = StampPayment {
        id: format!("PAY-{}", uuid::Uuid::new_v4().simple()),
        payer: who.actor.clone(),
        amount_cents: certificate::STAMP_DUTY_CENTS,
        provider: "counter".into(),
        paid_at: anagrafe_store::now_ms(),
        certificate_id: None,
    };
    let e = who.as_requester().entry("payment.stamp_duty", "ok", json!({ "payment": payment.id, "amount_cents": payment.amount_cents }));
    store.save_payment(&payment, &e).await?;
    Ok(payment.id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailBody {
    /// `email` (the address on the record) or `digital_domicile` (the PEC address).
    #[serde(default)]
    to: Option<String>,
}

/// Sends a copy of a valid certificate to an address the register holds for its holder (CRT-6):
/// the e-mail address of the record or the digital domicile. Never to an address the caller
/// types: the register only writes to addresses it has on file.
pub(crate) async fn email(State(state): State<AppState>, Path(id): Path<String>, c: CertCaller) -> Result<Response, ApiError> {
    let certs = service(&state)?;
    let body: EmailBody = if c.body.is_empty() {
        EmailBody { to: None }
    } else {
        let de = &mut serde_json::Deserializer::from_slice(&c.body);
        serde_path_to_error::deserialize(de).map_err(|e| ApiError::field(e.path().to_string(), e.inner().to_string()))?
    };
    let Some(mail) = certs.mail.clone() else {
        return Err(ApiError::NotFound("e-mail delivery is not configured on this register".into()));
    };
    let cert = state.store.certificate(&id).await?.ok_or_else(|| ApiError::NotFound("no such certificate".into()))?;
    if !may_see(&state, &c.who, &cert).await? {
        return Err(ApiError::Forbidden("only the holder or the office that issued it may send a certificate".into()));
    }
    let record = state.store.person(cert.person_id, None).await?.record;
    let channel = body.to.as_deref().unwrap_or("email");
    let address = match channel {
        "email" => record.email.clone(),
        "digital_domicile" => record.digital_domicile.clone(),
        _ => return Err(ApiError::field("to", "must be email or digital_domicile")),
    };
    let Some(address) = address.filter(|a| !a.chars().any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>')) else {
        return Err(ApiError::ConflictField {
            field: "to".into(),
            reason: format!("the register holds no {channel} address for this person"),
        });
    };
    let Some(pdf) = state.store.certificate_pdf(&id).await? else {
        return Err(ApiError::Gone(format!("certificate {id} expired on {} and was deleted", cert.expires_on)));
    };
    let message = mime_message(&certs.mail_from, &address, &cert, &pdf);
    let via = match mail {
        MailDelivery::Outbox(outbox) => {
            let file = outbox.join(format!("{}-{}.eml", anagrafe_store::now_ms(), cert.id));
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::create_dir_all(file.parent().unwrap_or(std::path::Path::new(".")))?;
                let tmp = file.with_extension("tmp");
                std::fs::write(&tmp, message)?;
                std::fs::rename(&tmp, &file)
            })
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Unavailable(format!("the outbox cannot be written: {e}")))?;
            "outbox"
        }
        MailDelivery::Smtp(transport) => {
            use lettre::AsyncTransport as _;
            let envelope = envelope(&certs.mail_from, &address)?;
            if let Err(e) = transport.send_raw(&envelope, &message).await {
                // The relay's answer names no one; the address stays out of the log.
                tracing::warn!(certificate = %cert.id, error = %e, "the mail relay did not take a certificate");
                let mut entry = c.who.entry("certificate.email", "failed", json!({ "certificate": id, "to": channel }));
                entry.subject_person = Some(cert.person_id);
                state.store.audit(&entry).await?;
                return Err(ApiError::Unavailable("the mail relay did not accept the message; try again later".into()));
            }
            "smtp"
        }
    };
    let mut e = c.who.entry("certificate.email", "ok", json!({ "certificate": id, "to": channel, "via": via }));
    e.subject_person = Some(cert.person_id);
    state.store.audit(&e).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "certificate": id, "to": channel, "queued": true }))).into_response())
}

/// The SMTP envelope: the sender's address (from `Name <address>` or a bare address) and the
/// recipient's.
fn envelope(from: &str, to: &str) -> Result<lettre::address::Envelope, ApiError> {
    let bare = from.rsplit_once('<').map(|(_, a)| a.trim_end_matches('>')).unwrap_or(from).trim();
    let sender =
        bare.parse::<lettre::Address>().map_err(|e| ApiError::Internal(format!("certificates.mail_from is not an address: {e}")))?;
    let recipient = to.parse::<lettre::Address>().map_err(|_| ApiError::ConflictField {
        field: "to".into(),
        reason: "the address the register holds for this person is not a valid e-mail address".into(),
    })?;
    lettre::address::Envelope::new(Some(sender), vec![recipient]).map_err(|e| ApiError::Internal(e.to_string()))
}

/// An RFC 5322 message with the certificate attached (MIME, base64).
fn mime_message(from: &str, to: &str, cert: &StoredCertificate, pdf: &[u8]) -> Vec<u8> {
    let boundary = format!("anagrafe-{}", uuid::Uuid::new_v4().simple());
    let date = Utc::now().format("%a, %d %b %Y %H:%M:%S +0000");
    let b64 = base64::engine::general_purpose::STANDARD.encode(pdf);
    let mut body = String::new();
    for chunk in b64.as_bytes().chunks(76) {
        body.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        body.push_str("\r\n");
    }
    format!(
        "From: {from}\r\nTo: <{to}>\r\nSubject: Certificato anagrafico n. {id}\r\nDate: {date}\r\nMessage-ID: <{mid}@anagrafe>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         In allegato il certificato anagrafico n. {id}, sigillato elettronicamente, valido fino al {until}.\r\n\
         La copia stampata si verifica con il contrassegno (codice QR) che vi è riportato.\r\n\r\n--{boundary}\r\n\
         Content-Type: application/pdf; name=\"certificato-{id}.pdf\"\r\nContent-Disposition: attachment; filename=\"certificato-{id}.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{body}--{boundary}--\r\n",
        id = cert.id,
        mid = uuid::Uuid::new_v4().simple(),
        until = content::dmy(cert.expires_on),
    )
    .into_bytes()
}
