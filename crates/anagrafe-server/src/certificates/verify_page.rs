//! Public verification of a printed certificate (VER-1 … VER-4): the QR code's URL opens a page
//! that asks for a captcha; *Conferma* returns the sealed original. A photo or scan of the QR
//! code can be uploaded instead and is decoded here. Nothing about the certificate, not even
//! whether it exists, is said before the captcha is solved; the pages are rate-limited per
//! address (see `auth::limits::guard`).

use super::{service, token_hash};
use crate::AppState;
use crate::error::ApiError;
use anagrafe_docs::{captcha, qr};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

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

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    // The verification pages are written in Italian only for now: the frame follows them.
    let mut r = crate::web::framed(status, crate::web::i18n::Lang::It, "/verifica", title, body);
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn trace_entry(outcome: &str, detail: serde_json::Value) -> anagrafe_store::AuditEntry {
    crate::auth::entry("public", "none", "certificate.verify", outcome, detail)
}

async fn home() -> Response {
    page(
        StatusCode::OK,
        "Verifica di un certificato",
        "<p>Per verificare la copia stampata di un certificato, inquadra il codice QR con lo smartphone: si apre la pagina di verifica.</p>\
         <p>Dal computer, carica una foto o una scansione del codice QR (PNG o JPEG, al massimo 6 MB).</p>\
         <form method=\"post\" action=\"/verifica\" enctype=\"multipart/form-data\">\
         <div class=\"mb-3\"><label for=\"qr\" class=\"form-label\">Immagine del codice QR</label> <input id=\"qr\" name=\"qr\" type=\"file\" class=\"form-control\" accept=\"image/png,image/jpeg\" required></div> \
         <button type=\"submit\" class=\"btn btn-primary\">Leggi il codice</button></form>",
    )
}

fn bad_upload(why: &str) -> Response {
    page(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Codice non letto",
        &format!("<p role=\"alert\">{}</p><p><a href=\"/verifica\">Riprova</a></p>", esc(why)),
    )
}

async fn upload(State(state): State<AppState>, mut form: Multipart) -> Result<Response, ApiError> {
    let certs = service(&state)?;
    let mut image = None;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("qr") {
            match field.bytes().await {
                Ok(b) => image = Some(b),
                Err(_) => return Ok(bad_upload("Il file è troppo grande o il caricamento si è interrotto.")),
            }
        }
    }
    let Some(image) = image else {
        return Ok(bad_upload("Nessuna immagine ricevuta: scegli un file nel campo \"Immagine del codice QR\"."));
    };
    let decoded = tokio::task::spawn_blocking(move || qr::decode(&image)).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let text = match decoded {
        Ok(t) => t,
        Err(e) => {
            state.store.audit(&trace_entry("refused:qr", json!({ "reason": e.to_string() }))).await?;
            let why = match e {
                qr::DecodeError::NotAnImage => "Il file non è un'immagine PNG o JPEG leggibile.",
                qr::DecodeError::TooLarge => "L'immagine è troppo grande (al massimo 6 MB e 24 milioni di pixel).",
                qr::DecodeError::NoCode => "Nell'immagine non si legge alcun codice QR: prova con una foto più nitida e dritta.",
            };
            return Ok(bad_upload(why));
        }
    };
    let prefix = format!("{}/verifica/", certs.public_url);
    let token = text.strip_prefix(&prefix).map(|rest| rest.split('#').next().unwrap_or_default().to_owned());
    match token.filter(|t| valid_token(t)) {
        Some(t) => Ok(Redirect::to(&format!("/verifica/{t}")).into_response()),
        None => Ok(bad_upload("Il codice QR letto non è il contrassegno di un certificato di questa anagrafe.")),
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
async fn new_captcha(state: &AppState, accessible: bool) -> Result<(String, String), ApiError> {
    let certs = service(state)?;
    let mut id = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id);
    let (html, answer) = if accessible {
        let (q, a) = captcha::spoken_question();
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
                "<p id=\"q\">Scrivi le sei cifre che vedi nell'immagine.</p><img src=\"data:image/png;base64,{}\" alt=\"Codice di verifica: immagine con sei cifre (se non riesci a leggerla usa la domanda alternativa)\">",
                base64::engine::general_purpose::STANDARD.encode(png)
            ),
            a,
        )
    };
    let expires = anagrafe_store::now_ms() + CAPTCHA_TTL_MS;
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
    Path(token): Path<String>,
    Query(q): Query<ChallengeQuery>,
) -> Result<Response, ApiError> {
    service(&state)?;
    if !valid_token(&token) {
        return Ok(page(
            StatusCode::NOT_FOUND,
            "Indirizzo non valido",
            "<p>Questo indirizzo non è quello di un contrassegno. Inquadra di nuovo il codice QR.</p>",
        ));
    }
    challenge_page(&state, &token, q.alternativa.is_some(), None).await
}

async fn challenge_page(state: &AppState, token: &str, accessible: bool, error: Option<&str>) -> Result<Response, ApiError> {
    let (id, shown) = new_captcha(state, accessible).await?;
    let other = if accessible {
        format!("<p><a href=\"/verifica/{token}\">Usa invece l'immagine</a></p>")
    } else {
        format!("<p><a href=\"/verifica/{token}?alternativa=1\">Non riesci a leggere l'immagine? Usa una domanda alternativa</a></p>")
    };
    let error_html = error.map(|e| format!("<div role=\"alert\"><p>{}</p></div>", esc(e))).unwrap_or_default();
    let body = format!(
        "{error_html}<p>Per vedere il certificato originale, sigillato elettronicamente, rispondi alla verifica e premi <strong>Conferma</strong>.</p>\
         <form method=\"post\" action=\"/verifica/{token}\">{shown}<input type=\"hidden\" name=\"captcha\" value=\"{id}\">\
         <div class=\"form-group my-3\"><label for=\"answer\" class=\"active\">Risposta</label> <input id=\"answer\" name=\"answer\" class=\"form-control\" inputmode=\"numeric\" autocomplete=\"off\" required aria-describedby=\"q\"></div> \
         <button type=\"submit\" class=\"btn btn-primary\">Conferma</button></form>{other}"
    );
    Ok(page(if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK }, "Verifica del certificato", &body))
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
    Path(token): Path<String>,
    form: Result<axum::Form<Answer>, axum::extract::rejection::FormRejection>,
) -> Result<Response, ApiError> {
    service(&state)?;
    if !valid_token(&token) {
        return Ok(page(StatusCode::NOT_FOUND, "Indirizzo non valido", "<p>Questo indirizzo non è quello di un contrassegno.</p>"));
    }
    let Ok(axum::Form(a)) = form else {
        return challenge_page(&state, &token, false, Some("Rispondi alla verifica prima di confermare.")).await;
    };
    let accessible = a.answer.trim().len() < captcha::LENGTH;
    let expected = state.store.take_captcha(&hash(&a.captcha), anagrafe_store::now_ms()).await?;
    if expected.as_deref() != Some(hash(a.answer.trim()).as_str()) {
        state.store.audit(&trace_entry("refused:captcha", json!({}))).await?;
        return challenge_page(
            &state,
            &token,
            accessible,
            Some("La risposta non è corretta o la verifica è scaduta: riprova con un nuovo codice."),
        )
        .await;
    }
    let Some(cert) = state.store.certificate_by_token(&token_hash(&token)).await? else {
        state.store.audit(&trace_entry("unknown", json!({}))).await?;
        return Ok(page(
            StatusCode::NOT_FOUND,
            "Certificato inesistente",
            "<p role=\"alert\">Nessun certificato corrisponde a questo contrassegno. Il documento che hai in mano non è stato rilasciato da questa anagrafe, oppure il codice è stato letto male.</p>",
        ));
    };
    let today = anagrafe_domain::ops::italian_today();
    let mut entry = trace_entry("ok", json!({ "certificate": cert.id }));
    entry.subject_person = Some(cert.person_id);
    if let Some(deleted) = cert.deleted_at {
        entry.outcome = "deleted".into();
        state.store.audit(&entry).await?;
        let when = chrono::DateTime::from_timestamp_millis(deleted)
            .map(|d| super::content::dmy(anagrafe_domain::ops::italian_date(d)))
            .unwrap_or_default();
        return Ok(page(
            StatusCode::GONE,
            "Certificato scaduto e cancellato",
            &format!(
                "<p role=\"alert\">Il certificato n. {} era valido fino al {}; è scaduto ed è stato cancellato il {}. L'originale non è più disponibile.</p>",
                esc(&cert.id),
                super::content::dmy(cert.expires_on),
                esc(&when)
            ),
        ));
    }
    if cert.expires_on < today {
        entry.outcome = "expired".into();
        state.store.audit(&entry).await?;
        return Ok(page(
            StatusCode::GONE,
            "Certificato scaduto",
            &format!(
                "<p role=\"alert\">Il certificato n. {} era valido fino al {} ed è scaduto.</p>",
                esc(&cert.id),
                super::content::dmy(cert.expires_on)
            ),
        ));
    }
    let Some(pdf) = state.store.certificate_pdf(&cert.id).await? else {
        entry.outcome = "deleted".into();
        state.store.audit(&entry).await?;
        return Ok(page(
            StatusCode::GONE,
            "Certificato cancellato",
            "<p role=\"alert\">L'originale di questo certificato non è più disponibile.</p>",
        ));
    };
    state.store.audit(&entry).await?;
    Ok(super::pdf_response(pdf, &format!("certificato-{}.pdf", cert.id)))
}
