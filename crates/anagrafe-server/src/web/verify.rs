//! Public verification of a printed certificate (VER-1 … VER-4): the QR code's URL opens a page
//! that asks for a captcha; *Conferma* returns the sealed original. A photo or scan of the QR
//! code can be uploaded instead. The use case is `CertificateService`'s (`challenge`, `verify`,
//! `read_qr`, in `anagrafe-service`); this page renders its answers. Nothing about the certificate, not even
//! whether it exists, is said before the captcha is solved; the pages are rate-limited per
//! address (see `auth::limits::guard`).

use crate::AppState;
use crate::certificates::pdf_response;
use crate::error::ApiError;
use crate::web::i18n::{self, Lang};
use anagrafe_docs::{captcha, qr};
use anagrafe_service::CertificateService;
use anagrafe_service::certificates::verification::{QrProblem, Shown, Verification, valid_token};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use serde::Deserialize;

/// The certificate service, or 503 when no seal is configured.
fn service(state: &AppState) -> Result<CertificateService, ApiError> {
    Ok(state.certificate_service()?)
}

/// The request id of the page's request, for the trace.
fn request_id() -> String {
    crate::middleware::current_request_id().unwrap_or_default()
}

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
    let svc = service(&state)?;
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
    match svc.read_qr(&request_id(), image.to_vec()).await? {
        Ok(t) => Ok(Redirect::to(&format!("/verifica/{t}")).into_response()),
        Err(QrProblem::Unread(e)) => Ok(bad_upload(
            l,
            match e {
                qr::DecodeError::NotAnImage => "verify-err-not-image",
                qr::DecodeError::TooLarge => "verify-err-too-large",
                qr::DecodeError::NoCode => "verify-err-no-code",
            },
        )),
        Err(QrProblem::NotOurs) => Ok(bad_upload(l, "verify-err-not-ours")),
    }
}

#[derive(Deserialize)]
struct ChallengeQuery {
    #[serde(default)]
    alternativa: Option<String>,
}

/// A new captcha: its id and the HTML showing it.
async fn new_captcha(state: &AppState, lang: Lang, accessible: bool) -> Result<(String, String), ApiError> {
    let c = service(state)?.challenge(accessible, lang.code()).await?;
    let html = match c.shown {
        Shown::Question(q) => format!("<p id=\"q\">{}</p>", esc(&q)),
        Shown::Image(png) => format!(
            "<p id=\"q\">{}</p><img src=\"data:image/png;base64,{}\" alt=\"{}\">",
            esc(&i18n::t(lang, "verify-captcha-digits")),
            base64::engine::general_purpose::STANDARD.encode(png),
            esc(&i18n::t(lang, "verify-captcha-alt"))
        ),
    };
    Ok((c.id, html))
}

async fn challenge(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Query(q): Query<ChallengeQuery>,
) -> Result<Response, ApiError> {
    service(&state)?;
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
         <div class=\"form-group my-3\"><label for=\"answer\" class=\"active\">{}</label> <input id=\"answer\" name=\"answer\" type=\"text\" class=\"form-control\" inputmode=\"numeric\" autocomplete=\"off\" required aria-describedby=\"q\"></div> \
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
    let svc = service(&state)?;
    let l = crate::web::lang_of(&headers);
    if !valid_token(&token) {
        return Ok(notice(StatusCode::NOT_FOUND, l, "verify-bad-address-title", "verify-bad-address", false));
    }
    let Ok(axum::Form(a)) = form else {
        return challenge_page(&state, l, &token, false, Some("verify-err-answer-first")).await;
    };
    let accessible = a.answer.trim().len() < captcha::LENGTH;
    Ok(match svc.verify(&request_id(), &token, &a.captcha, &a.answer).await? {
        Verification::WrongAnswer => return challenge_page(&state, l, &token, accessible, Some("verify-err-wrong")).await,
        Verification::Unknown => notice(StatusCode::NOT_FOUND, l, "verify-unknown-title", "verify-unknown", true),
        Verification::Deleted { id, expires_on, deleted_on } => {
            let until = anagrafe_service::certificates::dmy(expires_on);
            let when = deleted_on.map(anagrafe_service::certificates::dmy).unwrap_or_default();
            let text = i18n::t_args(l, "verify-deleted", &[("id", &id), ("until", &until), ("deleted", &when)]);
            page(StatusCode::GONE, l, "verify-deleted-title", &format!("<p role=\"alert\">{}</p>", esc(&text)))
        }
        Verification::Expired { id, expires_on } => {
            let until = anagrafe_service::certificates::dmy(expires_on);
            let text = i18n::t_args(l, "verify-expired", &[("id", &id), ("until", &until)]);
            page(StatusCode::GONE, l, "verify-expired-title", &format!("<p role=\"alert\">{}</p>", esc(&text)))
        }
        Verification::Gone => notice(StatusCode::GONE, l, "verify-gone-title", "verify-gone", true),
        Verification::Original { id, pdf } => pdf_response(pdf, &format!("certificato-{id}.pdf")),
    })
}
