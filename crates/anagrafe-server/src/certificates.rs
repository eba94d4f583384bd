//! The certificate service's doors (CRT-1 … CRT-7): the web services under
//! `/api/v1/certificates` and `/api/v1/payments/stamp-duty` for citizens (about themselves
//! only) and registry offices. The public verification pages are the web application's
//! (`web::verify`).
//!
//! Each handler reads the request into a typed [`CertificateRequest`], calls the
//! [`CertificateService`] with the caller's principal, and writes the answer; the checks, the
//! content, the seal, the storage and the trace are the service's.

pub use anagrafe_service::certificates::{Branding, CaptchaOracle, Certificates, MailDelivery, token_hash};

use crate::error::ApiError;
use crate::{AppState, modi};
use anagrafe_domain::IdAnpr;
use anagrafe_domain::certificate::{self, Stamp};
use anagrafe_service::Principal;
use anagrafe_service::certificates::{CertificateKind, CertificateRequest, CertificateService, MailChannel};
use anagrafe_store::StoredCertificate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

/// Who calls a certificate service, and the body: a citizen with a session, or a registry
/// office (a signed call from its software, or an officer's session).
pub(crate) struct CertCaller {
    pub(crate) principal: Principal,
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
                    return Ok(CertCaller { principal: citizen_principal(&session), body });
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

/// A citizen's session as the services see it.
pub(crate) fn citizen_principal(session: &anagrafe_store::Session) -> Principal {
    let level = u8::try_from(session.loa).unwrap_or(0);
    let request_id = crate::middleware::current_request_id().unwrap_or_default();
    match session.eidas_id.as_deref() {
        // An EU citizen: by eIDAS identifier, with the record's codice fiscale once registered
        // (SEC-4: every entry of the session names the eIDAS identifier).
        Some(eidas) if session.kind == "eu" => Principal::eu_citizen(eidas, None, &session.auth_mode, level, request_id),
        Some(eidas) => {
            let mut p = Principal::citizen(&session.subject, &session.auth_mode, level, request_id);
            p.eidas_id = Some(eidas.to_owned());
            p
        }
        None => Principal::citizen(&session.subject, &session.auth_mode, level, request_id),
    }
}

async fn office(req: Request, state: &AppState) -> Result<CertCaller, ApiError> {
    let caller = modi::Caller::from_request(req, state).await?;
    let p = caller.principal;
    p.require(&[anagrafe_domain::Role::Comune, anagrafe_domain::Role::RegistryOfficer], "the certificate service for offices")?;
    Ok(CertCaller { principal: p, body: caller.body })
}

/// The certificate routes of the API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/certificates", post(issue).get(list))
        .route("/api/v1/certificates/preview", post(preview))
        .route("/api/v1/certificates/{id}/pdf", get(download))
        .route("/api/v1/certificates/{id}/email", post(email))
        .route("/api/v1/payments/stamp-duty", post(pay))
}

fn service(state: &AppState) -> Result<CertificateService, ApiError> {
    state.certificate_service().map_err(ApiError::from)
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

fn parse_types(raw: &[serde_json::Value]) -> Result<Vec<CertificateKind>, ApiError> {
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
                .ok_or_else(|| ApiError::field(format!("types[{i}]"), "is not a certificate type of tab. 13 (code 1-20 or its name)"))
        })
        .collect()
}

fn person_param(raw: &str) -> Result<IdAnpr, ApiError> {
    IdAnpr::parse(raw).map_err(|e| ApiError::field("person", e.to_string()))
}

/// The typed request of a body, read once.
fn request_of(body: &CertBody) -> Result<CertificateRequest, ApiError> {
    let kinds = parse_types(&body.types)?;
    let person = person_param(&body.person)?;
    Ok(CertificateRequest { person, kinds, reference_date: body.reference_date, lang: body.lang.clone() })
}

/// A PDF answer, shown in the browser.
pub(crate) fn pdf_response(pdf: Vec<u8>, filename: &str) -> Response {
    let mut r = pdf.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

pub(crate) async fn preview(State(state): State<AppState>, c: CertCaller) -> Result<Response, ApiError> {
    let certs = service(&state)?;
    let body = parse_body(&c.body)?;
    let req = request_of(&body)?;
    let pdf = certs.preview(&c.principal, &req, body.stamp.as_ref()).await?;
    Ok(pdf_response(pdf, "anteprima.pdf"))
}

/// The JSON of an issued certificate.
fn issued_json(meta: &StoredCertificate) -> serde_json::Value {
    json!({
        "id": meta.id,
        "types": meta.types,
        "langs": meta.langs,
        "issued_at": meta.issued_at,
        "expires_on": meta.expires_on,
        "sha256": meta.sha256,
        "pdf": format!("/api/v1/certificates/{}/pdf", meta.id),
    })
}

pub(crate) async fn issue(State(state): State<AppState>, c: CertCaller) -> Result<Response, ApiError> {
    let certs = service(&state)?;
    let body = parse_body(&c.body)?;
    // The types are named before the confirmation and the stamp, as the request reads.
    let req = request_of(&body)?;
    if !body.confirm {
        return Err(ApiError::field("confirm", "must be true: a certificate is issued only after the requester confirms the preview"));
    }
    let Some(stamp) = body.stamp.clone() else {
        return Err(ApiError::field("stamp", "pay the stamp duty or state an exemption (tab. 39)"));
    };
    let (meta, _) = certs.issue(&c.principal, &req, &stamp).await?;
    let mut r = (StatusCode::CREATED, axum::Json(issued_json(&meta))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/certificates/{}/pdf", meta.id)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

pub(crate) async fn download(State(state): State<AppState>, Path(id): Path<String>, c: CertCaller) -> Result<Response, ApiError> {
    let (_, pdf) = service(&state)?.download(&c.principal, &id).await?;
    Ok(pdf_response(pdf, &format!("certificato-{id}.pdf")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    person: Option<String>,
}

pub(crate) async fn list(State(state): State<AppState>, uri: axum::http::Uri, c: CertCaller) -> Result<Response, ApiError> {
    let q: ListQuery = axum::extract::Query::try_from_uri(&uri).map(|q| q.0).map_err(|e| ApiError::field("query", e.body_text()))?;
    let person = q.person.as_deref().map(person_param).transpose()?;
    let listed = service(&state)?.list(&c.principal, person.as_ref()).await?;
    let out: Vec<serde_json::Value> = listed
        .iter()
        .map(|cert| {
            json!({
                "id": cert.id,
                "types": cert.types,
                "issued_at": cert.issued_at,
                "expires_on": cert.expires_on,
                "available": cert.deleted_at.is_none(),
                "pdf": format!("/api/v1/certificates/{}/pdf", cert.id),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "certificates": out })).into_response())
}

/// Records a stamp-duty payment through the local payment interface (embedded mode).
pub(crate) async fn pay(State(state): State<AppState>, c: CertCaller) -> Result<Response, ApiError> {
    let certs = service(&state)?;
    if !c.body.is_empty() && c.body.as_ref() != b"{}" {
        return Err(ApiError::field("body", "must be empty or {}: the amount is fixed (€ 16.00)"));
    }
    let payment = certs.pay_locally(&c.principal).await?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "payment_id": payment.id, "amount_cents": payment.amount_cents, "provider": "local" })))
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailBody {
    /// `email` (the address on the record) or `digital_domicile` (the PEC address).
    #[serde(default)]
    to: Option<String>,
}

/// Sends a copy of a valid certificate to an address the register holds for its holder (CRT-6).
pub(crate) async fn email(State(state): State<AppState>, Path(id): Path<String>, c: CertCaller) -> Result<Response, ApiError> {
    let certs = service(&state)?;
    let body: EmailBody = if c.body.is_empty() {
        EmailBody { to: None }
    } else {
        let de = &mut serde_json::Deserializer::from_slice(&c.body);
        serde_path_to_error::deserialize(de).map_err(|e| ApiError::field(e.path().to_string(), e.inner().to_string()))?
    };
    let channel = match body.to.as_deref() {
        None | Some("email") => MailChannel::Email,
        Some("digital_domicile") => MailChannel::DigitalDomicile,
        Some(_) => return Err(ApiError::field("to", "must be email or digital_domicile")),
    };
    certs.email(&c.principal, &id, channel).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "certificate": id, "to": channel.as_str(), "queued": true }))).into_response())
}
