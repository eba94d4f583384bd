//! The birth certificate of a former resident logged in through eIDAS (EU-3): whether it can be
//! issued (or ANPR's code of why not), the preview, the stamp duty or its exemption, the sealed
//! certificate, its download while valid and a courtesy copy to the address the validation
//! confirmed. The certificate service decides everything: these pages only carry the choices.

use super::super::citizen::{
    CertChoice, CertRow, IssueForm, PaymentTarget, RequestTarget, attachment, check_issue_form, exempt_stamp, issue_refusal,
    payment_page_for, request_page_for, valid_number,
};
use super::super::{Chrome, PageResult, html, see_other};
use super::WebEu;
use crate::{ApiError, AppState};
use anagrafe_domain::IdAnpr;
use anagrafe_domain::certificate::Stamp;
use anagrafe_service::ServiceError;
use anagrafe_service::certificates::{CertificateService, MailChannel, dmy};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

const HOME: &str = "/ue/certificato-nascita";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ue/certificato-nascita", get(page))
        .route("/ue/certificato-nascita/richiesta", get(request).post(issue))
        .route("/ue/certificato-nascita/anteprima", get(preview))
        .route("/ue/certificato-nascita/pagamento", post(pay))
        .route("/ue/certificati/{id}/pdf", get(download))
        .route("/ue/certificati/{id}/email", post(email))
}

#[derive(Template)]
#[template(path = "eu/birth.html")]
struct BirthPage {
    c: Chrome,
    csrf: String,
    /// Why it cannot be issued: ANPR's code and the reason; `None` when it can.
    refusal: Option<(String, String)>,
    rows: Vec<CertRow>,
    cert_base: &'static str,
    can_email: bool,
    issued: Option<String>,
    emailed: Option<String>,
}

#[derive(Deserialize, Default)]
struct Notice {
    #[serde(default)]
    rilasciato: Option<String>,
    #[serde(default)]
    inviato: Option<String>,
}

fn service(state: &AppState, s: &WebEu) -> Result<CertificateService, Response> {
    state.certificate_service().map_err(|e| s.fail(e.into()))
}

fn choice() -> CertChoice {
    CertChoice { types: vec![1], lang: None, date: None }
}

fn chrome(s: &WebEu, key: &str) -> Chrome {
    Chrome::new(&s.ui, key).crumb("eu-title", Some("/ue")).crumb("eu-birth-title", Some(HOME)).crumb(key, None)
}

/// The own record's ID ANPR and whether the certificate can be issued today: `Err` holds
/// ANPR's code and reason when it cannot.
async fn standing(certs: &CertificateService, s: &WebEu) -> Result<Result<IdAnpr, (String, String)>, Response> {
    let who = s.principal();
    let person = match certs.own_person(&who).await {
        Ok(p) => p,
        Err(ServiceError::NotCertifiable { code, reason }) => return Ok(Err((code.to_owned(), reason))),
        Err(e) => return Err(s.fail(e.into())),
    };
    match certs.check(&who, &choice().request(person)).await {
        Ok(()) => Ok(Ok(person)),
        Err(ServiceError::NotCertifiable { code, reason }) => Ok(Err((code.to_owned(), reason))),
        Err(e) => Err(s.fail(e.into())),
    }
}

async fn page(State(state): State<AppState>, s: WebEu, q: Result<Query<Notice>, axum::extract::rejection::QueryRejection>) -> PageResult {
    let q = q.map(|q| q.0).unwrap_or_default();
    let certs = service(&state, &s)?;
    let refusal = standing(&certs, &s).await?.err();
    // The certificates already issued (none when no record is found).
    let listed = match certs.list(&s.principal(), None).await {
        Ok(l) => l,
        Err(e) => return Err(s.fail(e.into())),
    };
    let today = state.clock.today();
    let c = Chrome::new(&s.ui, "eu-birth-title").crumb("eu-title", Some("/ue")).crumb("eu-birth-title", None);
    let types = c.t("eu-birth-title");
    let rows = listed
        .iter()
        .map(|x| CertRow {
            id: x.id.clone(),
            types: types.clone(),
            issued: super::super::local_time(x.issued_at),
            expires: dmy(x.expires_on),
            available: x.deleted_at.is_none() && x.expires_on >= today,
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        &BirthPage {
            c,
            csrf: s.session.csrf_token.clone(),
            refusal,
            rows,
            cert_base: "/ue/certificati",
            can_email: certs.certificates().mail.is_some(),
            issued: q.rilasciato.filter(|x| valid_number(x).is_ok()),
            emailed: q.inviato.filter(|x| valid_number(x).is_ok()),
        },
    ))
}

fn request_view(s: &WebEu, errors: Vec<(String, String)>, form: IssueForm) -> Response {
    let to = RequestTarget {
        action: format!("{HOME}/richiesta"),
        preview: format!("{HOME}/anteprima"),
        cancel: HOME.into(),
        paid_key: "request-stamp-paid",
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    html(status, &request_page_for(chrome(s, "request-title"), &choice(), s.session.csrf_token.clone(), errors, form, to))
}

/// The person, or the page back to the certificate's home when it cannot be issued.
async fn eligible(certs: &CertificateService, s: &WebEu) -> Result<IdAnpr, Response> {
    match standing(certs, s).await? {
        Ok(p) => Ok(p),
        Err(_) => Err(see_other(HOME)),
    }
}

async fn request(State(state): State<AppState>, s: WebEu) -> PageResult {
    let certs = service(&state, &s)?;
    eligible(&certs, &s).await?;
    Ok(request_view(&s, Vec::new(), IssueForm::default()))
}

async fn preview(State(state): State<AppState>, s: WebEu) -> PageResult {
    let certs = service(&state, &s)?;
    let person = eligible(&certs, &s).await?;
    let pdf = certs.preview(&s.principal(), &choice().request(person), None).await.map_err(|e| s.fail(e.into()))?;
    Ok(crate::certificates::pdf_response(pdf, "anteprima.pdf"))
}

fn read_form(
    s: &WebEu,
    headers: &HeaderMap,
    form: Result<Form<IssueForm>, axum::extract::rejection::FormRejection>,
) -> Result<IssueForm, Response> {
    let Ok(Form(f)) = form else {
        return Err(s.fail(ApiError::field("body", "is not the certificate form")));
    };
    s.check_csrf(headers, &f.csrf)?;
    Ok(f)
}

fn payment_view(s: &WebEu, receipt: Option<(String, String)>) -> Response {
    let key = if receipt.is_some() { "pay-receipt-title" } else { "pay-title" };
    let to =
        PaymentTarget { pay_to: format!("{HOME}/pagamento"), issue_to: format!("{HOME}/richiesta"), cancel: format!("{HOME}/richiesta") };
    html(StatusCode::OK, &payment_page_for(chrome(s, key), s.session.csrf_token.clone(), &choice(), receipt, to))
}

async fn issue(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: WebEu,
    form: Result<Form<IssueForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let f = read_form(&s, &headers, form)?;
    let (errors, exemption) = check_issue_form(&s.ui, &f);
    if !errors.is_empty() {
        return Err(request_view(&s, errors, f));
    }
    let certs = service(&state, &s)?;
    let person = eligible(&certs, &s).await?;
    let stamp = match exemption {
        Some(code) => exempt_stamp(code, &f.description),
        // Not paid yet: the payment step first.
        None if f.payment.trim().is_empty() => return Ok(payment_view(&s, None)),
        None => Stamp::Paid { payment_id: f.payment.trim().chars().take(64).collect() },
    };
    let who = s.principal();
    match certs.issue(&who, &choice().request(person), &stamp).await {
        Ok((meta, _)) => {
            // The courtesy copy to the confirmed address; the certificate stays downloadable
            // whatever the relay answers (its failure is traced by the service).
            if certs.certificates().mail.is_some() {
                let _ = certs.email(&who, &meta.id, MailChannel::Email).await;
            }
            Ok(see_other(&format!("{HOME}?rilasciato={}", meta.id)))
        }
        Err(e) => Err(issue_refusal(&s.ui, e, |_| see_other(HOME), |errors| request_view(&s, errors, f.clone()), |e| s.fail(e))),
    }
}

async fn pay(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: WebEu,
    form: Result<Form<IssueForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    read_form(&s, &headers, form)?;
    let certs = service(&state, &s)?;
    eligible(&certs, &s).await?;
    let paid = certs.pay_locally(&s.principal()).await.map_err(|e| s.fail(e.into()))?;
    Ok(payment_view(&s, Some((paid.id, super::super::local_time(paid.paid_at)))))
}

async fn download(State(state): State<AppState>, s: WebEu, Path(id): Path<String>) -> PageResult {
    valid_number(&id).map_err(|e| s.fail(e))?;
    let (_, pdf) = service(&state, &s)?.download(&s.principal(), &id).await.map_err(|e| s.fail(e.into()))?;
    Ok(attachment(pdf, &id))
}

async fn email(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: WebEu,
    Path(id): Path<String>,
    form: Result<Form<super::super::CsrfForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let f = form.map(|f| f.0).unwrap_or_default();
    s.check_csrf(&headers, &f.csrf)?;
    valid_number(&id).map_err(|e| s.fail(e))?;
    service(&state, &s)?.email(&s.principal(), &id, MailChannel::Email).await.map_err(|e| s.fail(e.into()))?;
    Ok(see_other(&format!("{HOME}?inviato={id}")))
}
