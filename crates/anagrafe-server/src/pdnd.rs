//! E-services for public bodies (INT-1, IDN-4, SEC-4, SEC-6), compatible with ANPR's published
//! contracts: each mounted at `/pdnd/{CODE-name}/v1/anpr-service-e002` (POST) with
//! `/pdnd/{CODE-name}/v1/status` (GET), speaking `RichiestaE002` → `RispostaE002OK` /
//! `RispostaKO` (`application/problem+json`), behind ModI security ([`security`]).
//!
//! A call goes through, in order: the voucher (who, for which purpose, to which e-service),
//! the body's registration and the purpose's authorisation, the call limits, the integrity
//! signature and the digest, the tracking evidence, the single-use `jti`; only then is the body
//! read. Every refusal on the way is traced alone; an answered call is traced with the body,
//! the e-service, the purpose, the `motivoRichiesta`, the tracking evidence, the subject and
//! the outcome, in the same commit that keeps the answer for its `idOperazioneClient`.

pub mod contract;
pub mod security;
mod services;

use crate::{ApiError, AppState};
use anagrafe_store::{AuditEntry, CallRecord, JtiOutcome, PdndClient, SpentJti, StoreError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use contract::ErroreAnomalia;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use anagrafe_domain::eservice::{ESERVICES, Eservice, eservice, eservice_by_code};

/// How the e-services are offered.
#[derive(Debug, Clone)]
pub struct PdndSettings {
    /// IDN-4's regime: every e-service but C030 takes the ID ANPR as its only criterion.
    pub id_only: bool,
    /// The issuer vouchers must carry.
    pub issuer: String,
    /// An e-service's audience is this prefix followed by `C030-servizio…/v1`.
    pub audience_prefix: String,
    /// The audience of client assertions at the embedded token endpoint.
    pub token_audience: String,
    /// Production: the platform's key set (`None`: vouchers are the register's own, issued at
    /// `/pdnd/token.oauth2`).
    pub jwks_url: Option<String>,
    /// Days an answer is kept for replays of its `idOperazioneClient` (it holds personal data:
    /// deleted by the hourly job after this).
    pub answer_retention_days: u32,
}

impl Default for PdndSettings {
    fn default() -> Self {
        Self {
            id_only: false,
            issuer: "anagrafe/pdnd".into(),
            audience_prefix: "anagrafe/pdnd/".into(),
            token_audience: "anagrafe/pdnd/token.oauth2".into(),
            jwks_url: None,
            answer_retention_days: 30,
        }
    }
}

/// Deletes the answers kept longer than the retention (run hourly by `anagrafe serve`): how
/// many. A replay of an older operation id is then answered anew.
pub async fn purge_answers(store: &dyn anagrafe_store::Store, settings: &PdndSettings, now_ms: i64) -> Result<u64, StoreError> {
    let before = now_ms.saturating_sub(i64::from(settings.answer_retention_days).saturating_mul(86_400_000));
    let entry = crate::auth::entry("system:retention", "system", "pdnd.answers_purged", "ok", serde_json::json!({}));
    store.purge_pdnd_answers(before, &entry).await
}

impl PdndSettings {
    /// The audience of an e-service.
    pub fn audience(&self, e: &Eservice) -> String {
        format!("{}{}/v1", self.audience_prefix, e.segment())
    }

    /// Whether the register issues vouchers itself (embedded mode).
    pub fn embedded(&self) -> bool {
        self.jwks_url.is_none()
    }
}

/// The e-services' state: settings, keys that verify vouchers, call counters.
#[derive(Default)]
pub struct Pdnd {
    /// Settings.
    pub settings: PdndSettings,
    local_key: OnceLock<Option<security::Key>>,
    remote: tokio::sync::RwLock<Option<(std::time::Instant, jsonwebtoken::jwk::JwkSet)>>,
    counters: Mutex<HashMap<String, Counter>>,
    /// Public bodies as last read, for at most [`CLIENT_TTL`].
    clients: Mutex<HashMap<String, (std::time::Instant, Arc<PdndClient>)>>,
    /// Vouchers and tracking evidences already verified, until they expire (a body reuses one
    /// voucher, and the evidence it is bound to, for many calls).
    vouchers: Mutex<HashMap<String, Arc<security::VoucherClaims>>>,
    evidences: Mutex<HashMap<String, Arc<security::TrackingClaims>>>,
}

/// How long a public body's registration is used as read: a revocation, a new key or purpose
/// takes effect within this time on every instance.
pub const CLIENT_TTL: std::time::Duration = std::time::Duration::from_secs(2);
/// Most verified tokens kept per kind (the cache is emptied when full).
const TOKEN_CACHE: usize = 20_000;

fn cached<T>(map: &Mutex<HashMap<String, Arc<T>>>, token: &str, exp: impl Fn(&T) -> i64) -> Option<Arc<T>> {
    let now = chrono::Utc::now().timestamp();
    let m = map.lock().unwrap_or_else(|e| e.into_inner());
    m.get(token).filter(|c| exp(c) >= now).cloned()
}

fn remember<T>(map: &Mutex<HashMap<String, Arc<T>>>, token: &str, claims: Arc<T>) {
    let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
    if m.len() >= TOKEN_CACHE {
        m.clear();
    }
    m.insert(token.to_owned(), claims);
}

impl std::fmt::Debug for Pdnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pdnd").field("settings", &self.settings).finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Counter {
    day: Option<chrono::NaiveDate>,
    day_count: i64,
    second: i64,
    second_count: i64,
}

impl Pdnd {
    /// The e-services with these settings.
    pub fn new(settings: PdndSettings) -> Self {
        Self { settings, ..Default::default() }
    }

    /// The key that verifies a voucher with this `kid`.
    async fn voucher_key(&self, state: &AppState, kid: &str) -> Result<security::Key, String> {
        let Some(url) = &self.settings.jwks_url else {
            let key = self
                .local_key
                .get_or_init(|| state.register_signer.as_ref().and_then(|s| security::Key::from_pem(s.public_key_pem()).ok()));
            return match key {
                Some(k) if kid == crate::REGISTER_KID => Ok(k.clone()),
                Some(_) => Err("the voucher's kid is not the register's".into()),
                None => Err("this register has no key to issue vouchers with".into()),
            };
        };
        // The platform's keys, read again on an unknown kid (at most once a minute).
        for attempt in 0..2 {
            if let Some((_, set)) = &*self.remote.read().await
                && let Some(jwk) = set.find(kid)
            {
                return security::Key::from_jwk(jwk).map_err(|e| format!("the platform's key is {e}"));
            }
            let stale = self.remote.read().await.as_ref().is_none_or(|(at, _)| at.elapsed() > std::time::Duration::from_secs(60));
            if attempt == 1 || !stale {
                break;
            }
            let fresh = crate::auth::oidc::get_json(url).await.and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string()));
            match fresh {
                Ok(set) => *self.remote.write().await = Some((std::time::Instant::now(), set)),
                Err(_) => return Err("the platform's key set cannot be read".into()),
            }
        }
        Err("the voucher's kid is not among the platform's keys".into())
    }

    /// A public body's registration, as read at most [`CLIENT_TTL`] ago.
    async fn client(&self, state: &AppState, id: &str) -> Result<Option<Arc<PdndClient>>, StoreError> {
        if let Some((at, c)) = self.clients.lock().unwrap_or_else(|e| e.into_inner()).get(id)
            && at.elapsed() < CLIENT_TTL
        {
            return Ok(Some(c.clone()));
        }
        let fresh = state.store.pdnd_client(id).await?.map(Arc::new);
        let mut all = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        match &fresh {
            Some(c) => {
                if all.len() >= TOKEN_CACHE {
                    all.clear();
                }
                all.insert(id.to_owned(), (std::time::Instant::now(), c.clone()));
            }
            None => {
                all.remove(id);
            }
        }
        Ok(fresh)
    }

    /// Counts a call for a purpose: `Err(seconds to wait)` past the per-second rate or the
    /// daily quota.
    fn count(&self, purpose: &anagrafe_store::PdndPurpose) -> Result<(), (u64, &'static str)> {
        let now = chrono::Utc::now();
        let today = anagrafe_domain::ops::italian_date(now);
        let second = now.timestamp();
        let mut all = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        if !all.contains_key(&purpose.purpose_id) {
            all.insert(purpose.purpose_id.clone(), Counter::default());
        }
        let Some(c) = all.get_mut(&purpose.purpose_id) else { return Ok(()) };
        if c.day != Some(today) {
            *c = Counter { day: Some(today), ..Default::default() };
        }
        if c.second != second {
            c.second = second;
            c.second_count = 0;
        }
        if c.day_count >= purpose.daily_quota {
            let midnight = today.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|m| m.and_utc().timestamp()).unwrap_or(second + 3600);
            // Italian midnight is one or two hours before UTC midnight; a client that waits
            // until UTC midnight minus one hour is never early.
            return Err(((midnight - 3600 - second).max(1) as u64, "the purpose's daily quota is used up"));
        }
        if c.second_count >= purpose.per_second {
            return Err((1, "the purpose's per-second rate is exceeded"));
        }
        c.day_count += 1;
        c.second_count += 1;
        Ok(())
    }
}

/// Routes of the e-services and of the embedded token endpoint.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pdnd/openapi.json", get(crate::openapi::pdnd_document))
        .route("/pdnd/token.oauth2", post(token))
        .route("/pdnd/{service}/v1/anpr-service-e002", post(e002))
        .route("/pdnd/{service}/v1/status", get(status))
}

/// The OpenAPI description of the e-services (generated by `tools/gen-pdnd-openapi.py` from
/// ANPR's published contracts).
pub const OPENAPI: &str = crate::openapi::PDND;

/// A `RispostaKO` as `application/problem+json`.
pub(crate) fn ko(status: StatusCode, errors: Vec<ErroreAnomalia>) -> (StatusCode, String) {
    let request_id = crate::middleware::current_request_id().unwrap_or_default();
    let detail = errors.iter().map(|e| format!("{}: {}", e.codice_errore_anomalia, e.testo_errore_anomalia)).collect::<Vec<_>>().join("; ");
    let body = serde_json::json!({
        "type": "https://anagrafe.example/problems/pdnd",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "request_id": request_id,
        "idOperazioneANPR": request_id,
        "listaErrori": errors,
    });
    (status, body.to_string())
}

fn respond(status: StatusCode, body: String) -> Response {
    let ct = if status.is_success() { "application/json" } else { "application/problem+json" };
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r
}

/// An error of ANPR's table (or, where none fits, of the register's own `AG` series, listed in
/// `docs/pdnd.md`), naming the field.
pub(crate) fn err(code: &str, text: impl Into<String>, field: Option<&str>) -> ErroreAnomalia {
    ErroreAnomalia {
        codice_errore_anomalia: code.to_owned(),
        tipo_errore_anomalia: "E".into(),
        testo_errore_anomalia: text.into(),
        campo_errore_anomalia: field.map(str::to_owned),
        valore_errore_anomalia: None,
    }
}

/// A refusal before the body is read: traced alone, answered as `RispostaKO`.
async fn refuse(state: &AppState, es: Option<&Eservice>, client: Option<&str>, status: StatusCode, code: &str, reason: &str) -> Response {
    let mut entry = AuditEntry {
        request_id: crate::middleware::current_request_id().unwrap_or_default(),
        actor: client.map(|c| format!("pdnd:{c}")).unwrap_or_else(|| "unauthenticated".into()),
        actor_cf: None,
        eidas_id: None,
        auth_mode: "pdnd_modi".into(),
        operation: es.map(|e| format!("pdnd.{}", e.code)).unwrap_or_else(|| "pdnd.request".into()),
        outcome: format!("refused:{}", status.as_u16()),
        subject_person: None,
        subject_cf: None,
        detail: String::new(),
    };
    entry.detail = serde_json::json!({ "reason": reason, "code": code }).to_string();
    if let Err(e) = state.store.audit(&entry).await {
        return ApiError::from(e).into_response();
    }
    let (status, body) = ko(status, vec![err(code, reason, None)]);
    let mut r = respond(status, body);
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// A voucher checked against its e-service, with the body and purpose it names.
struct Authorised {
    voucher: Arc<security::VoucherClaims>,
    client: Arc<PdndClient>,
}

/// The voucher, the body's registration and the purpose's authorisation for `es`.
async fn authorise(state: &AppState, pdnd: &Pdnd, es: &Eservice, headers: &HeaderMap) -> Result<Authorised, Response> {
    let bearer = header_str(headers, "authorization").and_then(|a| a.strip_prefix("Bearer ").or_else(|| a.strip_prefix("bearer ")));
    let Some(token) = bearer else {
        return Err(refuse(state, Some(es), None, StatusCode::UNAUTHORIZED, "AG401", "no voucher: Authorization: Bearer is missing").await);
    };
    let audience = pdnd.settings.audience(es);
    let known = cached(&pdnd.vouchers, token, |v| v.exp + security::LEEWAY_S).filter(|v| v.aud == audience);
    let voucher = match known {
        Some(v) => v,
        None => {
            let checked = match security::kid_of(token) {
                Ok(kid) => match pdnd.voucher_key(state, &kid).await {
                    Ok(key) => security::verify_voucher(token, &key, &pdnd.settings.issuer, &audience),
                    Err(e) => Err(e),
                },
                Err(e) => Err(format!("the voucher {e}")),
            };
            match checked {
                Ok(v) => {
                    let v = Arc::new(v);
                    remember(&pdnd.vouchers, token, v.clone());
                    v
                }
                Err(e) => {
                    let why = format!("the voucher is not valid: {e}");
                    return Err(refuse(state, Some(es), None, StatusCode::UNAUTHORIZED, "AG401", &why).await);
                }
            }
        }
    };
    let client = match pdnd.client(state, &voucher.client_id).await {
        Ok(Some(c)) if !c.revoked => c,
        Ok(_) => {
            return Err(
                refuse(state, Some(es), None, StatusCode::UNAUTHORIZED, "AG401", "the voucher's client is unknown or revoked").await
            );
        }
        Err(e) => return Err(ApiError::from(e).into_response()),
    };
    let Some(purpose) = client.purpose(&voucher.purpose_id) else {
        let why = "the voucher's purpose is unknown or revoked for this client";
        return Err(refuse(state, Some(es), Some(&client.client_id), StatusCode::FORBIDDEN, "AG403", why).await);
    };
    if purpose.eservice != es.code {
        let why = format!("purpose {} is authorised for {}, not {}", purpose.purpose_id, purpose.eservice, es.code);
        return Err(refuse(state, Some(es), Some(&client.client_id), StatusCode::FORBIDDEN, "AG403", &why).await);
    }
    Ok(Authorised { voucher, client })
}

/// `GET …/status`: the e-service answers (with a valid voucher for it).
async fn status(State(state): State<AppState>, Path(segment): Path<String>, headers: HeaderMap) -> Response {
    let Some(es) = eservice(&segment) else {
        let (s, b) = ko(StatusCode::NOT_FOUND, vec![err("AG404", format!("no e-service {segment}"), None)]);
        return respond(s, b);
    };
    if let Err(r) = authorise(&state, &state.pdnd, &es, &headers).await {
        return r;
    }
    // The contract's status answer is a RispostaKO-shaped object whatever the outcome.
    let request_id = crate::middleware::current_request_id().unwrap_or_default();
    let body = serde_json::json!({ "type": "about:blank", "title": "OK", "status": 200, "detail": format!("{} is available", es.code),
        "idOperazioneANPR": request_id, "listaErrori": [] });
    let mut r = (StatusCode::OK, body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    r
}

/// `POST …/anpr-service-e002`.
async fn e002(State(state): State<AppState>, Path(segment): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(es) = eservice(&segment) else {
        let (s, b) = ko(StatusCode::NOT_FOUND, vec![err("AG404", format!("no e-service {segment}"), None)]);
        return respond(s, b);
    };
    let pdnd = state.pdnd.clone();
    let Authorised { voucher, client } = match authorise(&state, &pdnd, &es, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let id = client.client_id.clone();
    let purpose = client.purpose(&voucher.purpose_id).cloned().expect("authorise checked the purpose");
    if let Err((wait, why)) = pdnd.count(&purpose) {
        let mut r = refuse(&state, Some(&es), Some(&id), StatusCode::TOO_MANY_REQUESTS, "AG429", why).await;
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return r;
    }
    let audience = pdnd.settings.audience(&es);
    // The integrity signature, by one of the body's keys.
    let Some(sig) = header_str(&headers, "agid-jwt-signature") else {
        return refuse(
            &state,
            Some(&es),
            Some(&id),
            StatusCode::UNAUTHORIZED,
            "AG401",
            "the request is not signed: Agid-JWT-Signature is missing",
        )
        .await;
    };
    let key_of = |token: &str, what: &str| -> Result<(String, security::Key), String> {
        let kid = security::kid_of(token).map_err(|e| format!("{what} {e}"))?;
        let key = client.key(&kid).ok_or_else(|| format!("{what}: kid {kid} is not a key of this client"))?;
        let dk = security::Key::from_pem(&key.public_key_pem).map_err(|_| format!("{what}: the registered key is unusable"))?;
        Ok((kid, dk))
    };
    let (sig_kid, sig_key) = match key_of(sig, "Agid-JWT-Signature") {
        Ok(k) => k,
        Err(e) => return refuse(&state, Some(&es), Some(&id), StatusCode::UNAUTHORIZED, "AG401", &e).await,
    };
    let integrity = match security::verify_integrity(
        sig,
        &sig_key,
        &audience,
        header_str(&headers, "digest"),
        header_str(&headers, "content-type"),
        &body,
    ) {
        Ok(c) => c,
        Err(security::IntegrityError::Digest) => {
            let why = "Digest does not match the body: the body was altered";
            return refuse(&state, Some(&es), Some(&id), StatusCode::BAD_REQUEST, "AG400", why).await;
        }
        Err(security::IntegrityError::Signature(e)) => {
            return refuse(&state, Some(&es), Some(&id), StatusCode::UNAUTHORIZED, "AG401", &e).await;
        }
    };
    // The tracking evidence the voucher was issued for.
    let Some(te) = header_str(&headers, "agid-jwt-trackingevidence") else {
        let why = "Agid-JWT-TrackingEvidence is missing (AUDIT_REST_02)";
        return refuse(&state, Some(&es), Some(&id), StatusCode::UNAUTHORIZED, "AG401", why).await;
    };
    // A verified evidence is only ever accepted with the voucher bound to it (its digest).
    let known = cached(&pdnd.evidences, te, |t| t.exp + security::LEEWAY_S)
        .filter(|t| t.aud == audience && t.purpose_id == voucher.purpose_id && security::bound(te, &voucher));
    let tracking = match known {
        Some(t) => t,
        None => match key_of(te, "Agid-JWT-TrackingEvidence")
            .and_then(|(_, k)| security::verify_tracking(te, &k, &audience, &voucher).map_err(|e| format!("Agid-JWT-TrackingEvidence {e}")))
        {
            Ok(t) => {
                let t = Arc::new(t);
                remember(&pdnd.evidences, te, t.clone());
                t
            }
            Err(e) => return refuse(&state, Some(&es), Some(&id), StatusCode::UNAUTHORIZED, "AG401", &e).await,
        },
    };
    // The signature is spent in the commit that answers the call (a second use fails it).
    let jti = SpentJti {
        owner: format!("pdnd:{id}"),
        jti: format!("{sig_kid}:{}", integrity.jti),
        expires_at_ms: integrity.exp.saturating_add(security::LEEWAY_S + 1).saturating_mul(1000),
    };
    let call =
        services::Call { state: &state, es, client: &client, purpose: &purpose, voucher: &voucher, tracking: &tracking, body: &body, jti };
    services::answer(call).await
}

/// The refusal of a signature used before.
pub(crate) async fn replayed_jti(state: &AppState, es: &Eservice, client: &str) -> Response {
    refuse(state, Some(es), Some(client), StatusCode::UNAUTHORIZED, "AG401", "this signature was already used (jti replayed)").await
}

/// SHA-256 (hex) of a request body.
pub(crate) fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Traces an answered call with what it writes (the answer kept for its operation id, the
/// signature id it spent), in one commit, and answers it.
pub(crate) async fn record(
    state: &AppState,
    es: &Eservice,
    entry: &AuditEntry,
    record: CallRecord,
    status: StatusCode,
    body: String,
) -> Response {
    let client = entry.actor.trim_start_matches("pdnd:").to_owned();
    match state.store.audit_call(entry, &record).await {
        Ok(_) => respond(status, body),
        Err(StoreError::Conflict { field }) if field == "jti" => replayed_jti(state, es, &client).await,
        Err(StoreError::Conflict { field }) if field == "idOperazioneClient" => {
            let Some(answer) = record.answer else {
                return ApiError::Internal("an operation id conflict without an answer".into()).into_response();
            };
            let first = match state.store.pdnd_answer(&answer.client_id, &answer.id_operazione_client).await {
                Ok(Some(first)) => first,
                Ok(None) => return ApiError::Internal("an operation id conflict without a first answer".into()).into_response(),
                Err(e) => return ApiError::from(e).into_response(),
            };
            // The replay, or the refusal, is traced too, and spends the signature.
            let (status, body, outcome) = if first.eservice != answer.eservice {
                let (s, b) = ko(
                    StatusCode::CONFLICT,
                    vec![err("EN079", "id operazione gia' presente per un servizio diverso", Some("idOperazioneClient"))],
                );
                (s, b, "ko:EN079")
            } else if first.request_sha256 != answer.request_sha256 {
                let (s, b) = ko(
                    StatusCode::CONFLICT,
                    vec![err("AG409", "idOperazioneClient was used for another request", Some("idOperazioneClient"))],
                );
                (s, b, "ko:AG409")
            } else {
                (StatusCode::from_u16(first.status as u16).unwrap_or(StatusCode::OK), first.body, "replayed")
            };
            let mut again = entry.clone();
            again.outcome = outcome.into();
            if outcome != "replayed" {
                again.subject_person = None;
                again.subject_cf = None;
            }
            match state.store.audit_call(&again, &CallRecord { answer: None, jti: record.jti }).await {
                Ok(_) => {
                    let mut r = respond(status, body);
                    if outcome == "replayed" {
                        r.headers_mut().insert("idempotent-replay", HeaderValue::from_static("true"));
                    }
                    r
                }
                Err(StoreError::Conflict { field }) if field == "jti" => replayed_jti(state, es, &client).await,
                Err(e) => ApiError::from(e).into_response(),
            }
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The form of a token request.
#[derive(Debug, serde::Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// `POST /pdnd/token.oauth2` (embedded mode): a voucher for a registered body and purpose.
async fn token(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let pdnd = state.pdnd.clone();
    if !pdnd.settings.embedded() {
        return Err(ApiError::NotFound("vouchers are issued by the national data platform (pdnd.jwks_url is set)".into()));
    }
    let signer = state.register_signer.clone().ok_or_else(|| ApiError::Unavailable("the register has no signing key".into()))?;
    let form: TokenForm = serde_urlencoded_from(&body)?;
    let field = |name: &str, v: &Option<String>| v.clone().filter(|s| !s.is_empty()).ok_or_else(|| ApiError::field(name, "is required"));
    if field("grant_type", &form.grant_type)? != "client_credentials" {
        return Err(ApiError::field("grant_type", "must be client_credentials"));
    }
    if field("client_assertion_type", &form.client_assertion_type)? != security::ASSERTION_TYPE {
        return Err(ApiError::field("client_assertion_type", format!("must be {}", security::ASSERTION_TYPE)));
    }
    let assertion = field("client_assertion", &form.client_assertion)?;
    let client_id = field("client_id", &form.client_id)?;
    let refused = |why: String| {
        let state = state.clone();
        let client_id = client_id.clone();
        async move {
            let mut entry = AuditEntry {
                request_id: crate::middleware::current_request_id().unwrap_or_default(),
                actor: format!("claimed:pdnd:{client_id}"),
                actor_cf: None,
                eidas_id: None,
                auth_mode: "pdnd_client_assertion".into(),
                operation: "pdnd.voucher".into(),
                outcome: "refused".into(),
                subject_person: None,
                subject_cf: None,
                detail: String::new(),
            };
            entry.detail = serde_json::json!({ "reason": why }).to_string();
            state.store.audit(&entry).await.map_err(ApiError::from)?;
            Err::<Response, ApiError>(ApiError::Unauthorized(why))
        }
    };
    let client = match state.store.pdnd_client(&client_id).await? {
        Some(c) if !c.revoked => c,
        _ => return refused("unknown or revoked client".into()).await,
    };
    let kid = match security::kid_of(&assertion) {
        Ok(k) => k,
        Err(e) => return refused(format!("the client assertion {e}")).await,
    };
    let Some(key) = client.key(&kid) else { return refused(format!("kid {kid} is not a key of this client")).await };
    let Ok(dk) = security::Key::from_pem(&key.public_key_pem) else {
        return refused("the registered key is unusable".into()).await;
    };
    let claims = match security::verify_assertion(&assertion, &dk, &client_id, &pdnd.settings.token_audience) {
        Ok(c) => c,
        Err(e) => return refused(format!("the client assertion does not verify: {e}")).await,
    };
    let Some(purpose_id) = claims.purpose_id.clone() else { return refused("the client assertion has no purposeId".into()).await };
    let Some(purpose) = client.purpose(&purpose_id) else {
        return refused(format!("purpose {purpose_id} is unknown or revoked for this client")).await;
    };
    let Some(es) = eservice_by_code(&purpose.eservice) else { return refused("the purpose's e-service is not offered here".into()).await };
    let expires = claims.exp.saturating_add(security::LEEWAY_S + 1).saturating_mul(1000);
    match state.store.accept_pdnd_jti(&client_id, &kid, &format!("assertion:{}", claims.jti), expires).await? {
        JtiOutcome::Fresh => {}
        JtiOutcome::Replayed => return refused("this client assertion was already used (jti replayed)".into()).await,
        JtiOutcome::ClientChanged => return refused("the client or its key was revoked".into()).await,
    }
    let now = state.clock.now().timestamp();
    let voucher = security::VoucherClaims {
        iss: pdnd.settings.issuer.clone(),
        aud: pdnd.settings.audience(&es),
        sub: client_id.clone(),
        client_id: client_id.clone(),
        purpose_id: purpose_id.clone(),
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now,
        nbf: Some(now),
        exp: now + security::VOUCHER_LIFE_S,
        digest: claims.digest.clone(),
    };
    let access_token = signer.sign_claims(Some("at+jwt"), &voucher).map_err(ApiError::Internal)?;
    let mut entry = AuditEntry {
        request_id: crate::middleware::current_request_id().unwrap_or_default(),
        actor: format!("pdnd:{client_id}"),
        actor_cf: None,
        eidas_id: None,
        auth_mode: "pdnd_client_assertion".into(),
        operation: "pdnd.voucher".into(),
        outcome: "ok".into(),
        subject_person: None,
        subject_cf: None,
        detail: String::new(),
    };
    entry.detail =
        serde_json::json!({ "purposeId": purpose_id, "eservice": es.code, "voucher_jti": voucher.jti, "digest": voucher.digest.is_some() })
            .to_string();
    state.store.audit(&entry).await?;
    let mut r =
        axum::Json(serde_json::json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": security::VOUCHER_LIFE_S }))
            .into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// Reads an `application/x-www-form-urlencoded` body, naming the problem.
fn serde_urlencoded_from(body: &[u8]) -> Result<TokenForm, ApiError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if pairs.len() > 16 {
        return Err(ApiError::field("body", "too many form fields"));
    }
    Ok(TokenForm {
        grant_type: get("grant_type"),
        client_id: get("client_id"),
        client_assertion_type: get("client_assertion_type"),
        client_assertion: get("client_assertion"),
    })
}
