//! Public verification of a printed certificate (VER-1 … VER-4): the QR code's URL opens a page
//! that asks for a captcha; *Conferma* returns the sealed original. A photo or scan of the QR
//! code can be uploaded instead and is decoded here. Nothing about the certificate, not even
//! whether it exists, is said before the captcha is solved; the pages are rate-limited per
//! address (see `auth::limits::guard`).

use crate::AppState;
use crate::certificates::{Certificates, pdf_response, token_hash};
use crate::error::ApiError;
use crate::web::i18n::{self, Lang};
use anagrafe_docs::{captcha, qr};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The register's certificates, or 503 when no seal is configured.
fn certs_of(state: &AppState) -> Result<std::sync::Arc<Certificates>, ApiError> {
    state.certificates.clone().ok_or_else(|| ApiError::Unavailable("certificates are not configured (no seal)".into()))
}

/// How long a captcha stays valid.
const CAPTCHA_TTL_MS: i64 = 10 * 60 * 1000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/verifica", get(home).post(upload).layer(DefaultBodyLimit::max(qr::MAX_UPLOAD_BYTES + 64 * 1024)))
        .route("/verifica/{token}", get(challenge).post(confirm))
        .route("/test-only/captcha/{id}", get(oracle_answer))
}

/// The answer of captcha `id`, for browser tests only: 404 unless the service was built with
/// the oracle, which no configuration sets (only `anagrafe demo --expose-captcha-answers`, a
/// flag of the demo command, which never runs a production register).
async fn oracle_answer(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let answer = state.certificates.as_ref().and_then(|c| c.captcha_oracle.as_ref()).and_then(|o| {
        let o = o.lock().unwrap_or_else(|e| e.into_inner());
        o.iter().rev().find(|(i, _)| *i == id).map(|(_, a)| a.clone())
    });
    match answer {
        Some(a) => a.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn page(status: StatusCode, lang: Lang, title_key: &str, body: &str) -> Response {
    let mut r = crate::web::framed(status, lang, "/verifica", &i18n::t(lang, title_key), body);
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn trace_entry(outcome: &str, detail: serde_json::Value) -> anagrafe_store::AuditEntry {
    crate::auth::entry("public", "none", "certificate.verify", outcome, detail)
}

async fn home(headers: HeaderMap) -> Response {
    let l = crate::web::lang_of(&headers);
    let t = |k: &str| esc(&i18n::t(l, k));
    page(
        StatusCode::OK,
        l,
        "verify-title",
        &format!(
            "<p>{}</p><p>{}</p>\
             <form method=\"post\" action=\"/verifica\" enctype=\"multipart/form-data\">\
             <div class=\"mb-3\"><label for=\"qr\" class=\"form-label\">{}</label> <input id=\"qr\" name=\"qr\" type=\"file\" class=\"form-control\" accept=\"image/png,image/jpeg\" required></div> \
             <button type=\"submit\" class=\"btn btn-primary\">{}</button></form>",
            t("verify-scan"),
            t("verify-upload"),
            t("verify-upload-label"),
            t("verify-upload-submit")
        ),
    )
}

fn bad_upload(lang: Lang, why_key: &str) -> Response {
    page(
        StatusCode::UNPROCESSABLE_ENTITY,
        lang,
        "verify-unread-title",
        &format!(
            "<p role=\"alert\">{}</p><p><a href=\"/verifica\">{}</a></p>",
            esc(&i18n::t(lang, why_key)),
            esc(&i18n::t(lang, "verify-retry"))
        ),
    )
}

async fn upload(State(state): State<AppState>, headers: HeaderMap, mut form: Multipart) -> Result<Response, ApiError> {
    let certs = certs_of(&state)?;
    let l = crate::web::lang_of(&headers);
    let mut image = None;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("qr") {
            match field.bytes().await {
                Ok(b) => image = Some(b),
                Err(_) => return Ok(bad_upload(l, "verify-err-too-big-or-cut")),
            }
        }
    }
    let Some(image) = image else {
        return Ok(bad_upload(l, "verify-err-no-image"));
    };
    let decoded = tokio::task::spawn_blocking(move || qr::decode(&image)).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let text = match decoded {
        Ok(t) => t,
        Err(e) => {
            state.store.audit(&trace_entry("refused:qr", json!({ "reason": e.to_string() }))).await?;
            let why = match e {
                qr::DecodeError::NotAnImage => "verify-err-not-image",
                qr::DecodeError::TooLarge => "verify-err-too-large",
                qr::DecodeError::NoCode => "verify-err-no-code",
            };
            return Ok(bad_upload(l, why));
        }
    };
    let prefix = format!("{}/verifica/", certs.public_url);
    let token = text.strip_prefix(&prefix).map(|rest| rest.split('#').next().unwrap_or_default().to_owned());
    match token.filter(|t| valid_token(t)) {
        Some(t) => Ok(Redirect::to(&format!("/verifica/{t}")).into_response()),
        None => Ok(bad_upload(l, "verify-err-not-ours")),
    }
}

fn valid_token(t: &str) -> bool {
    (16..=64).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Deserialize)]
struct ChallengeQuery {
    #[serde(default)]
    alternativa: Option<String>,
}

/// A new captcha: its id and the HTML showing it.
async fn new_captcha(state: &AppState, lang: Lang, accessible: bool) -> Result<(String, String), ApiError> {
    let certs = certs_of(state)?;
    let mut id = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id);
    let (html, answer) = if accessible {
        let (q, a) = captcha::spoken_question(lang.code());
        (format!("<p id=\"q\">{}</p>", esc(&q)), a)
    } else {
        let a = captcha::answer();
        let png = tokio::task::spawn_blocking({
            let a = a.clone();
            move || captcha::image_png(&a)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        (
            format!(
                "<p id=\"q\">{}</p><img src=\"data:image/png;base64,{}\" alt=\"{}\">",
                esc(&i18n::t(lang, "verify-captcha-digits")),
                base64::engine::general_purpose::STANDARD.encode(png),
                esc(&i18n::t(lang, "verify-captcha-alt"))
            ),
            a,
        )
    };
    let expires = state.clock.now_ms() + CAPTCHA_TTL_MS;
    state.store.save_captcha(&hash(&id), &hash(&answer), expires).await?;
    if let Some(oracle) = &certs.captcha_oracle
        && let Ok(mut o) = oracle.lock()
    {
        o.push((id.clone(), answer));
        if o.len() > 256 {
            o.remove(0);
        }
    }
    Ok((id, html))
}

fn hash(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

async fn challenge(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(q): Query<ChallengeQuery>,
) -> Result<Response, ApiError> {
    certs_of(&state)?;
    let l = crate::web::lang_of(&headers);
    if !valid_token(&token) {
        return Ok(notice(StatusCode::NOT_FOUND, l, "verify-bad-address-title", "verify-bad-address", false));
    }
    challenge_page(&state, l, &token, q.alternativa.is_some(), None).await
}

/// A page with one paragraph (`alert`: said to assistive technology at once).
fn notice(status: StatusCode, l: Lang, title_key: &str, text_key: &str, alert: bool) -> Response {
    let role = if alert { " role=\"alert\"" } else { "" };
    page(status, l, title_key, &format!("<p{role}>{}</p>", esc(&i18n::t(l, text_key))))
}

async fn challenge_page(state: &AppState, l: Lang, token: &str, accessible: bool, error_key: Option<&str>) -> Result<Response, ApiError> {
    let (id, shown) = new_captcha(state, l, accessible).await?;
    let t = |k: &str| esc(&i18n::t(l, k));
    let other = if accessible {
        format!("<p><a href=\"/verifica/{token}\">{}</a></p>", t("verify-use-image"))
    } else {
        format!("<p><a href=\"/verifica/{token}?alternativa=1\">{}</a></p>", t("verify-use-question"))
    };
    let error_html = error_key
        .map(|k| format!("<div class=\"alert alert-danger\" role=\"alert\"><p class=\"mb-0\">{}</p></div>", t(k)))
        .unwrap_or_default();
    let body = format!(
        "{error_html}<p>{}</p>\
         <form method=\"post\" action=\"/verifica/{token}\">{shown}<input type=\"hidden\" name=\"captcha\" value=\"{id}\">\
         <div class=\"form-group my-3\"><label for=\"answer\" class=\"active\">{}</label> <input id=\"answer\" name=\"answer\" class=\"form-control\" inputmode=\"numeric\" autocomplete=\"off\" required aria-describedby=\"q\"></div> \
         <button type=\"submit\" class=\"btn btn-primary\">{}</button></form>{other}",
        t("verify-captcha-lead"),
        t("verify-answer"),
        t("verify-confirm"),
    );
    Ok(page(if error_key.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }, l, "verify-cert-title", &body))
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    captcha: String,
    #[serde(default)]
    answer: String,
}

async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    form: Result<axum::Form<Answer>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    certs_of(&state)?;
    let l = crate::web::lang_of(&headers);
    if !valid_token(&token) {
        return Ok(notice(StatusCode::NOT_FOUND, l, "verify-bad-address-title", "verify-bad-address", false));
    }
    let Ok(axum::Form(a)) = form else {
        return challenge_page(&state, l, &token, false, Some("verify-err-answer-first")).await;
    };
    let accessible = a.answer.trim().len() < captcha::LENGTH;
    let expected = state.store.take_captcha(&hash(&a.captcha), state.clock.now_ms()).await?;
    if expected.as_deref() != Some(hash(a.answer.trim()).as_str()) {
        state.store.audit(&trace_entry("refused:captcha", json!({}))).await?;
        return challenge_page(&state, l, &token, accessible, Some("verify-err-wrong")).await;
    }
    let Some(cert) = state.store.certificate_by_token(&token_hash(&token)).await? else {
        state.store.audit(&trace_entry("unknown", json!({}))).await?;
        return Ok(notice(StatusCode::NOT_FOUND, l, "verify-unknown-title", "verify-unknown", true));
    };
    let today = state.clock.today();
    let mut entry = trace_entry("ok", json!({ "certificate": cert.id }));
    entry.subject_person = Some(cert.person_id);
    let until = anagrafe_service::certificates::dmy(cert.expires_on);
    if let Some(deleted) = cert.deleted_at {
        entry.outcome = "deleted".into();
        state.store.audit(&entry).await?;
        let when = chrono::DateTime::from_timestamp_millis(deleted)
            .map(|d| anagrafe_service::certificates::dmy(anagrafe_domain::ops::italian_date(d)))
            .unwrap_or_default();
        let text = i18n::t_args(l, "verify-deleted", &[("id", &cert.id), ("until", &until), ("deleted", &when)]);
        return Ok(page(StatusCode::GONE, l, "verify-deleted-title", &format!("<p role=\"alert\">{}</p>", esc(&text))));
    }
    if cert.expires_on < today {
        entry.outcome = "expired".into();
        state.store.audit(&entry).await?;
        let text = i18n::t_args(l, "verify-expired", &[("id", &cert.id), ("until", &until)]);
        return Ok(page(StatusCode::GONE, l, "verify-expired-title", &format!("<p role=\"alert\">{}</p>", esc(&text))));
    }
    let Some(pdf) = state.store.certificate_pdf(&cert.id).await? else {
        entry.outcome = "deleted".into();
        state.store.audit(&entry).await?;
        return Ok(notice(StatusCode::GONE, l, "verify-gone-title", "verify-gone", true));
    };
    state.store.audit(&entry).await?;
    Ok(pdf_response(pdf, &format!("certificato-{}.pdf", cert.id)))
}
