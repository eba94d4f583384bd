//! Public verification of a printed certificate (VER-1 … VER-4): the QR code's URL opens a page
//! that asks for a captcha; *Conferma* returns the sealed original. A photo or scan of the QR
//! code can be uploaded instead. The use case is `CertificateService`'s (`challenge`, `verify`,
//! `read_qr`, in `anagrafe-service`); this page renders its answers. Nothing about the certificate, not even
//! whether it exists, is said before the captcha is solved; the pages are rate-limited per
//! address (see `auth::limits::guard`).

use crate::AppState;
use crate::certificates::pdf_response;
use crate::error::ApiError;
use crate::web::Ui;
use crate::web::i18n;
use anagrafe_docs::{captcha, qr};
use anagrafe_domain::decode::{DecodeTable, TipoCertificato};
use anagrafe_service::CertificateService;
use anagrafe_service::certificates::dmy;
use anagrafe_service::certificates::verification::{QrProblem, Shown, Summary, Verification, typed_number, valid_token};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
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
        .route("/verifica/numero", get(number_challenge).post(number_confirm))
        .route("/verifica/originale/{number}", get(original))
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

fn page(status: StatusCode, ui: &Ui, title_key: &str, body: &str) -> Response {
    let mut r = crate::web::framed(status, ui, &i18n::t(ui.lang, title_key), body);
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn home(ui: Ui, headers: axum::http::HeaderMap) -> Response {
    let l = &ui;
    let t = |k: &str| esc(&i18n::t(l.lang, k));
    let (csrf, cookie) = crate::web::form_token(&headers);
    let r = page(
        StatusCode::OK,
        l,
        "verify-title",
        &format!(
            "<p>{}</p><p>{}</p>\
             <form method=\"post\" action=\"/verifica\" enctype=\"multipart/form-data\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <div class=\"mb-3\"><label for=\"qr\" class=\"form-label\">{}</label> <input id=\"qr\" name=\"qr\" type=\"file\" class=\"form-control\" accept=\"image/png,image/jpeg\" required></div> \
             <button type=\"submit\" class=\"btn btn-primary\">{}</button></form>\
             <h2 class=\"h4 mt-5\">{}</h2><p>{}</p>\
             <form method=\"get\" action=\"/verifica/numero\">\
             <div class=\"form-group my-3\"><label for=\"n\" class=\"active\">{}</label> <input id=\"n\" name=\"n\" type=\"text\" class=\"form-control\" maxlength=\"20\" autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" required aria-describedby=\"n-hint\"><small id=\"n-hint\" class=\"form-text\">{}</small></div> \
             <button type=\"submit\" class=\"btn btn-outline-primary\">{}</button></form>",
            t("verify-scan"),
            t("verify-upload"),
            t("verify-upload-label"),
            t("verify-upload-submit"),
            t("verify-number-label"),
            t("verify-number-lead"),
            t("verify-number-label"),
            t("verify-number-hint"),
            t("verify-number-submit"),
        ),
    );
    crate::web::with_form_cookie(r, cookie)
}

fn bad_upload(lang: &Ui, why_key: &str) -> Response {
    refusal(StatusCode::UNPROCESSABLE_ENTITY, lang, "verify-unread-title", why_key, "verify-retry")
}

/// A page saying why nothing could be verified (said at once to assistive technology), with
/// the way back to the verification page.
fn refusal(status: StatusCode, l: &Ui, title_key: &str, text_key: &str, back_key: &str) -> Response {
    page(
        status,
        l,
        title_key,
        &format!(
            "<div class=\"alert alert-danger\" role=\"alert\"><p class=\"mb-0\">{}</p></div><p><a href=\"/verifica\">{}</a></p>",
            esc(&i18n::t(l.lang, text_key)),
            esc(&i18n::t(l.lang, back_key))
        ),
    )
}

async fn upload(State(state): State<AppState>, ui: Ui, headers: axum::http::HeaderMap, mut form: Multipart) -> Result<Response, ApiError> {
    let svc = service(&state)?;
    let l = &ui;
    let (mut image, mut csrf) = (None, String::new());
    while let Ok(Some(field)) = form.next_field().await {
        match field.name() {
            Some("qr") => match field.bytes().await {
                Ok(b) => image = Some(b),
                Err(_) => return Ok(bad_upload(l, "verify-err-too-big-or-cut")),
            },
            Some("csrf") => csrf = field.text().await.unwrap_or_default().chars().take(64).collect(),
            _ => {}
        }
    }
    // Posted from another site, or from a page older than its cookie: nothing is read.
    if !crate::web::form_token_ok(&headers, &csrf) {
        let mut r = bad_upload(l, "form-expired");
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(r);
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
async fn new_captcha(state: &AppState, lang: &Ui, accessible: bool) -> Result<(String, String), ApiError> {
    let c = service(state)?.challenge(accessible, lang.lang.code()).await?;
    let html = match c.shown {
        Shown::Question(q) => format!("<p id=\"q\">{}</p>", esc(&q)),
        Shown::Image(png) => format!(
            "<p id=\"q\">{}</p><img class=\"anagrafe-captcha\" src=\"data:image/png;base64,{}\" alt=\"{}\">",
            esc(&i18n::t(lang.lang, "verify-captcha-digits")),
            base64::engine::general_purpose::STANDARD.encode(png),
            esc(&i18n::t(lang.lang, "verify-captcha-alt"))
        ),
    };
    Ok((c.id, html))
}

async fn challenge(
    State(state): State<AppState>,
    ui: Ui,
    Path(token): Path<String>,
    Query(q): Query<ChallengeQuery>,
) -> Result<Response, ApiError> {
    service(&state)?;
    let l = &ui;
    if !valid_token(&token) {
        return Ok(notice(StatusCode::NOT_FOUND, l, "verify-bad-address-title", "verify-bad-address"));
    }
    challenge_page(&state, l, &Target::Token(token), q.alternativa.is_some(), None).await
}

/// What a captcha page verifies: the token of a QR code's address, or a typed number.
enum Target {
    Token(String),
    Number(String),
}

impl Target {
    /// Where the answer is posted, and the field carrying a typed number.
    fn action(&self) -> (String, String) {
        match self {
            Target::Token(t) => (format!("/verifica/{t}"), String::new()),
            Target::Number(n) => ("/verifica/numero".into(), format!("<input type=\"hidden\" name=\"n\" value=\"{}\">", esc(n))),
        }
    }

    /// The same page with the other kind of captcha.
    fn other(&self, accessible: bool) -> String {
        let (base, sep) = match self {
            Target::Token(t) => (format!("/verifica/{t}"), '?'),
            Target::Number(n) => {
                (format!("/verifica/numero?n={}", url::form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>()), '&')
            }
        };
        if accessible { base } else { format!("{base}{sep}alternativa=1") }
    }
}

#[derive(Deserialize)]
struct NumberQuery {
    #[serde(default)]
    n: String,
    #[serde(default)]
    alternativa: Option<String>,
}

/// `GET /verifica/numero?n=…`: the captcha before a typed number is checked (nothing is looked
/// up yet); a number of the wrong form is sent back to the form with the reason.
async fn number_challenge(
    State(state): State<AppState>,
    ui: Ui,
    q: Result<Query<NumberQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    service(&state)?;
    let l = &ui;
    let Ok(Query(q)) = q else {
        return Ok(bad_number(l));
    };
    let Some(number) = typed_number(&q.n) else {
        return Ok(bad_number(l));
    };
    challenge_page(&state, l, &Target::Number(number), q.alternativa.is_some(), None).await
}

fn bad_number(l: &Ui) -> Response {
    refusal(StatusCode::UNPROCESSABLE_ENTITY, l, "verify-title", "verify-err-number", "verify-retry")
}

#[derive(Deserialize)]
struct NumberAnswer {
    #[serde(default)]
    n: String,
    #[serde(default)]
    captcha: String,
    #[serde(default)]
    answer: String,
}

/// `POST /verifica/numero`: the typed number's result, once the captcha is solved.
async fn number_confirm(
    State(state): State<AppState>,
    ui: Ui,
    form: Result<axum::Form<NumberAnswer>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let svc = service(&state)?;
    let l = &ui;
    let Ok(axum::Form(a)) = form else {
        return Ok(bad_number(l));
    };
    let Some(number) = typed_number(&a.n) else {
        return Ok(bad_number(l));
    };
    let accessible = a.answer.trim().len() < captcha::LENGTH;
    match svc.verify_number(&request_id(), &number, &a.captcha, &a.answer).await? {
        Verification::WrongAnswer => challenge_page(&state, l, &Target::Number(number), accessible, Some("verify-err-wrong")).await,
        v => Ok(result_page(l, v)),
    }
}

/// A page with one paragraph (`alert`: said to assistive technology at once).
fn notice(status: StatusCode, l: &Ui, title_key: &str, text_key: &str) -> Response {
    page(status, l, title_key, &format!("<p>{}</p>", esc(&i18n::t(l.lang, text_key))))
}

async fn challenge_page(
    state: &AppState,
    l: &Ui,
    target: &Target,
    accessible: bool,
    error_key: Option<&str>,
) -> Result<Response, ApiError> {
    let (id, shown) = new_captcha(state, l, accessible).await?;
    let t = |k: &str| esc(&i18n::t(l.lang, k));
    let other = format!(
        "<p><a href=\"{}\">{}</a></p>",
        esc(&target.other(accessible)),
        if accessible { t("verify-use-image") } else { t("verify-use-question") }
    );
    let (action, number_field) = target.action();
    let error_html = error_key
        .map(|k| format!("<div class=\"alert alert-danger\" role=\"alert\"><p class=\"mb-0\">{}</p></div>", t(k)))
        .unwrap_or_default();
    let body = format!(
        "{error_html}<p>{}</p>\
         <form method=\"post\" action=\"{action}\">{shown}{number_field}<input type=\"hidden\" name=\"captcha\" value=\"{id}\">\
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
    ui: Ui,
    Path(token): Path<String>,
    form: Result<axum::Form<Answer>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    let svc = service(&state)?;
    let l = &ui;
    if !valid_token(&token) {
        return Ok(notice(StatusCode::NOT_FOUND, l, "verify-bad-address-title", "verify-bad-address"));
    }
    let Ok(axum::Form(a)) = form else {
        return challenge_page(&state, l, &Target::Token(token), false, Some("verify-err-answer-first")).await;
    };
    let accessible = a.answer.trim().len() < captcha::LENGTH;
    Ok(match svc.verify(&request_id(), &token, &a.captcha, &a.answer).await? {
        Verification::WrongAnswer => return challenge_page(&state, l, &Target::Token(token), accessible, Some("verify-err-wrong")).await,
        v => result_page(l, v),
    })
}

/// The result of a verification as a page: the status in words (*valido*, *scaduto*,
/// *annullato*, *sconosciuto*), what the certificate certifies and its dates, and, while it is
/// valid, the link to the sealed original.
fn result_page(l: &Ui, v: Verification) -> Response {
    let t = |k: &str| esc(&i18n::t(l.lang, k));
    let again = format!("<p class=\"mt-4\"><a href=\"/verifica\">{}</a></p>", t("verify-again"));
    let details = |s: &Summary, status_key: &str| {
        let types: Vec<String> = s
            .types
            .iter()
            .map(|c| match TipoCertificato::from_code(*c) {
                // The type in the page's language ("Certificato di residenza", "Residence certificate").
                Some(_) => {
                    let label = i18n::t(l.lang, &format!("cert-type-{c}"));
                    let label = match l.lang {
                        i18n::Lang::It => {
                            label.chars().next().map(|f| f.to_lowercase().chain(label.chars().skip(1)).collect()).unwrap_or(label)
                        }
                        _ => label,
                    };
                    i18n::t_args(l.lang, "verify-cert-of", &[("type", &label)])
                }
                None => c.to_string(),
            })
            .collect();
        format!(
            "<dl class=\"anagrafe-summary\"><dt>{}</dt><dd><strong id=\"result-status\">{}</strong></dd><dt>{}</dt><dd>{}</dd>\
             <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
            t("verify-status"),
            t(status_key),
            t("verify-number"),
            esc(&s.id),
            t("verify-type"),
            esc(&types.join(" + ")),
            t("verify-issued"),
            dmy(s.issued_on),
            t("verify-until"),
            dmy(s.expires_on),
        )
    };
    match v {
        Verification::WrongAnswer | Verification::Unknown => page(
            StatusCode::NOT_FOUND,
            l,
            "verify-unknown-title",
            &format!(
                "<div class=\"alert alert-warning\" role=\"alert\"><p class=\"mb-0\"><strong>{}: {}</strong>. {}</p></div>{again}",
                t("verify-status"),
                t("verify-status-unknown"),
                t("verify-unknown")
            ),
        ),
        Verification::Valid { summary, grant } => {
            let text = i18n::t_args(l.lang, "verify-valid", &[("id", &summary.id)]);
            let href = format!(
                "/verifica/originale/{}?g={}",
                summary.id,
                url::form_urlencoded::byte_serialize(grant.as_bytes()).collect::<String>()
            );
            page(
                StatusCode::OK,
                l,
                "verify-valid-title",
                &format!(
                    "<div class=\"alert alert-success\" role=\"status\"><p class=\"mb-0\">{}</p></div>{}<p>{}</p>\
                     <p><a class=\"btn btn-primary\" href=\"{}\">{}</a></p><p class=\"small\">{}</p>{again}",
                    esc(&text),
                    details(&summary, "verify-status-valid"),
                    t("verify-compare"),
                    esc(&href),
                    t("verify-download"),
                    t("verify-download-note"),
                ),
            )
        }
        Verification::Expired { summary } => {
            let text = i18n::t_args(l.lang, "verify-expired", &[("id", &summary.id), ("until", &dmy(summary.expires_on))]);
            gone_page(l, "verify-expired-title", &text, &details(&summary, "verify-status-expired"), &again)
        }
        Verification::Deleted { summary, deleted_on, expired } => {
            let deleted = deleted_on.map(dmy).unwrap_or_default();
            // Deleted by the expiry job: it expired (the original is not kept past it); else it
            // was cancelled.
            if expired {
                let text = i18n::t_args(
                    l.lang,
                    "verify-deleted",
                    &[("id", &summary.id), ("until", &dmy(summary.expires_on)), ("deleted", &deleted)],
                );
                gone_page(l, "verify-deleted-title", &text, &details(&summary, "verify-status-expired"), &again)
            } else {
                let text = i18n::t_args(l.lang, "verify-cancelled", &[("id", &summary.id), ("deleted", &deleted)]);
                gone_page(l, "verify-cancelled-title", &text, &details(&summary, "verify-status-cancelled"), &again)
            }
        }
        Verification::Gone { summary } => {
            gone_page(l, "verify-gone-title", &i18n::t(l.lang, "verify-gone"), &details(&summary, "verify-status-cancelled"), &again)
        }
    }
}

/// A certificate that no longer counts: said at once to assistive technology, with its details.
fn gone_page(l: &Ui, title_key: &str, text: &str, details: &str, again: &str) -> Response {
    page(
        StatusCode::GONE,
        l,
        title_key,
        &format!("<div class=\"alert alert-danger\" role=\"alert\"><p class=\"mb-0\">{}</p></div>{details}{again}", esc(text)),
    )
}

#[derive(Deserialize)]
struct OriginalQuery {
    #[serde(default)]
    g: String,
}

/// `GET /verifica/originale/{number}?g=…`: the sealed original, with the key a verification
/// gave (see `CertificateService::original`).
async fn original(
    State(state): State<AppState>,
    ui: Ui,
    Path(number): Path<String>,
    q: Result<Query<OriginalQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let svc = service(&state)?;
    let l = &ui;
    let grant = q.map(|Query(q)| q.g).unwrap_or_default();
    let pdf = match typed_number(&number) {
        Some(n) if grant.len() <= 64 => svc.original(&request_id(), &n, &grant).await?.map(|p| (n, p)),
        _ => None,
    };
    Ok(match pdf {
        Some((n, pdf)) => pdf_response(pdf, &format!("certificato-{n}.pdf")),
        None => refusal(StatusCode::GONE, l, "verify-link-expired-title", "verify-link-expired", "verify-again"),
    })
}
