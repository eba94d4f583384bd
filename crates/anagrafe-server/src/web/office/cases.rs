//! The comune's case desk in the web application (CIT-9, EU-5): the list of the citizens'
//! requests, one request with its data, documents and steps, and the officer's steps — verify
//! each document, send the start-of-procedure communication, accept, reject or declare
//! inadmissible with reasons. The same service as the web services (`/api/v1/cases`).

use super::WebOfficer;
use crate::web::eu::{address_of, check_lines, member_rows};
use crate::web::{Chrome, PageResult, html, see_other};
use crate::{ApiError, AppState};
use anagrafe_domain::case::{CaseAction, CaseState};
use anagrafe_service::ServiceError;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use std::collections::HashMap;

/// Where the desk is.
pub(super) const DESK: &str = "/ufficio/pratiche";

struct Row {
    id: i64,
    protocol: String,
    kind: String,
    applicant: String,
    state: String,
    submitted: String,
    due: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "office/cases.html")]
struct ListPage {
    c: Chrome,
    rows: Vec<Row>,
    closed: bool,
}

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    #[serde(default)]
    chiuse: Option<String>,
}

fn chrome(o: &WebOfficer, key: &str) -> Chrome {
    o.chrome_under(key, "nav-office", "/ufficio")
}

pub(super) async fn list(State(state): State<AppState>, o: WebOfficer, Query(q): Query<ListQuery>) -> PageResult {
    let who = o.principal()?;
    let closed = q.chiuse.is_some();
    let states = if closed { vec![CaseState::Accepted, CaseState::Rejected, CaseState::Inadmissible] } else { Vec::new() };
    let cases = state.cases().list(&who, states, 200).await.map_err(|e| o.fail(e.into()))?;
    let c = chrome(&o, "cases-title").crumb("cases-title", None);
    let today = anagrafe_domain::ops::italian_today();
    let rows = cases
        .into_iter()
        .map(|k| Row {
            id: k.id,
            protocol: k.protocol.map(|p| p.to_string()).unwrap_or_default(),
            kind: c.t(&format!("case-kind-{}", k.kind.as_str())),
            applicant: k.applicant_name.clone(),
            state: c.t(&format!("case-state-{}", k.state.as_str())),
            submitted: k.submitted_at.map(crate::web::local_time).unwrap_or_default(),
            due: k.due_on.map(anagrafe_domain::date::dmy).unwrap_or_default(),
            overdue: !k.state.closed() && k.due_on.is_some_and(|d| d < today),
        })
        .collect();
    Ok(html(StatusCode::OK, &ListPage { c, rows, closed }))
}

struct DocRow {
    id: i64,
    label: String,
    whose: String,
    filename: String,
    sha256: String,
    size: String,
    source: String,
    verified: String,
    open: bool,
    signatures: Vec<String>,
}

#[derive(Template)]
#[template(path = "office/case.html")]
struct CasePage {
    c: Chrome,
    csrf: String,
    id: i64,
    protocol: String,
    kind: String,
    state: String,
    applicant: String,
    email: String,
    due: String,
    members: Vec<Vec<String>>,
    address: String,
    facts: Vec<(String, String)>,
    docs: Vec<DocRow>,
    steps: Vec<(String, String, String, String)>,
    actions: Vec<(&'static str, String, bool)>,
    any_action: bool,
    errors: Vec<(String, String)>,
    /// The start-of-procedure communication was sent.
    started: bool,
    /// Where the step form posts.
    step_to: String,
}

async fn case_view(state: &AppState, o: &WebOfficer, id: i64, errors: Vec<(String, String)>) -> PageResult {
    let who = o.principal()?;
    let v = state.cases().file(&who, id).await.map_err(|e| o.fail(e.into()))?;
    let c = chrome(o, "case-title").crumb("cases-title", Some(DESK)).crumb("case-title", None);
    let k = &v.file.case;
    let lines = check_lines(&c, &v);
    let whose_of = |d: &anagrafe_store::CaseDocument| {
        lines
            .iter()
            .find(|l| l.docs.iter().any(|(i, _, _)| *i == d.id))
            .map(|l| (l.label.clone(), l.whose.clone()))
            .unwrap_or_else(|| (c.t(&format!("evidence-{}", d.evidence.as_str())), String::new()))
    };
    let open = !k.state.closed();
    let docs = v
        .file
        .documents
        .iter()
        .map(|d| {
            let (label, whose) = whose_of(d);
            DocRow {
                id: d.id,
                label,
                whose,
                filename: d.filename.clone(),
                sha256: d.sha256.clone(),
                size: format!("{} kB", (d.size + 1023) / 1024),
                source: c.t(&format!("case-source-{}", d.source)),
                verified: match d.verified {
                    None => c.t("case-doc-unverified"),
                    Some(true) => c.t("case-doc-valid"),
                    Some(false) => c.t("case-doc-invalid"),
                },
                open: open && k.state == CaseState::Submitted,
                signatures: crate::web::eu::signature_lines(&c, d),
            }
        })
        .collect();
    let facts = v
        .registration
        .as_ref()
        .map(|r| {
            vec![
                (c.t("eu-arrival"), anagrafe_domain::date::dmy(r.arrival_date)),
                (
                    c.t("eu-provenance"),
                    anagrafe_domain::refdata::RefData::current().stato(r.provenance).map(|s| s.name.clone()).unwrap_or_default(),
                ),
                (c.t("eu-grounds"), c.t(&format!("eu-grounds-{}", r.grounds.as_str()))),
            ]
        })
        .unwrap_or_default();
    let s = k.state;
    let actions = vec![
        ("start_procedure", c.t("case-do-start"), s == CaseState::Submitted),
        ("accept", c.t("case-do-accept"), s == CaseState::InProgress),
        ("reject", c.t("case-do-reject"), s == CaseState::InProgress),
        ("declare_inadmissible", c.t("case-do-inadmissible"), open),
        ("note", c.t("case-do-note"), open),
    ];
    let any_action = actions.iter().any(|a| a.2);
    let page = CasePage {
        started: v.file.steps.iter().any(|st| st.action == CaseAction::StartProcedure.name()),
        step_to: format!("{DESK}/{id}/passi"),
        any_action,
        csrf: o.s.0.session.csrf_token.clone(),
        id,
        protocol: k.protocol.map(|p| p.to_string()).unwrap_or_default(),
        kind: c.t(&format!("case-kind-{}", k.kind.as_str())),
        state: c.t(&format!("case-state-{}", k.state.as_str())),
        applicant: k.applicant_name.clone(),
        email: k.applicant_email.clone().unwrap_or_default(),
        due: k.due_on.map(anagrafe_domain::date::dmy).unwrap_or_default(),
        members: member_rows(&c, &v),
        address: address_of(&v),
        facts,
        docs,
        steps: v
            .file
            .steps
            .iter()
            .map(|st| (crate::web::local_time(st.at), st.actor.clone(), c.t(&format!("case-step-{}", st.action)), st.note.clone()))
            .collect(),
        actions,
        errors,
        c,
    };
    let status = if page.errors.is_empty() { StatusCode::OK } else { StatusCode::CONFLICT };
    Ok(html(status, &page))
}

fn number(o: &WebOfficer, raw: &str) -> Result<i64, axum::response::Response> {
    raw.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| o.fail(crate::ApiError::field("id", "is a number")))
}

pub(super) async fn one(State(state): State<AppState>, o: WebOfficer, Path(id): Path<String>) -> PageResult {
    let id = number(&o, &id)?;
    case_view(&state, &o, id, Vec::new()).await
}

pub(super) async fn document(State(state): State<AppState>, o: WebOfficer, Path((id, doc)): Path<(String, String)>) -> PageResult {
    let (id, doc) = (number(&o, &id)?, number(&o, &doc)?);
    let who = o.principal()?;
    let (meta, bytes) = state.cases().document(&who, id, doc).await.map_err(|e| o.fail(e.into()))?;
    Ok(crate::downloads::case_document(&meta, bytes))
}

/// `GET /ufficio/pratiche/{id}/lettere/{ricevuta|avvio}`: the receipt, the start communication.
pub(super) async fn letter(State(state): State<AppState>, o: WebOfficer, Path((id, letter)): Path<(String, String)>) -> PageResult {
    let id = number(&o, &id)?;
    let who = o.principal()?;
    let Some(letter) = crate::downloads::CaseLetter::parse(&letter) else {
        return Err(o.fail(ApiError::NotFound("no such letter".into())));
    };
    letter.fetch(&state.cases(), &who, id).await.map_err(|e| o.fail(e.into()))
}

/// A step from the page: the action, the document for a verification, the note.
pub(super) async fn step(
    State(state): State<AppState>,
    o: WebOfficer,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let id = number(&o, &id)?;
    o.check_csrf(&headers, f.get("csrf").map(String::as_str).unwrap_or_default())?;
    let who = o.principal()?;
    let note = f.get("nota").cloned().unwrap_or_default();
    let action = match f.get("azione").map(String::as_str).unwrap_or_default() {
        "valido" | "non_valido" => {
            let document = f.get("documento").and_then(|d| d.parse::<i64>().ok()).unwrap_or(0);
            CaseAction::VerifyDocument { document, valid: f.get("azione").is_some_and(|a| a == "valido") }
        }
        "start_procedure" => CaseAction::StartProcedure,
        "accept" => CaseAction::Accept,
        "reject" => CaseAction::Reject,
        "declare_inadmissible" => CaseAction::DeclareInadmissible,
        "note" => CaseAction::Note,
        _ => return case_view(&state, &o, id, vec![("azione".into(), o.ui.t("form-required"))]).await,
    };
    match state.cases().step(&who, id, action, &note, None).await {
        Ok(_) => Ok(see_other(&format!("{DESK}/{id}"))),
        Err(e @ (ServiceError::State { .. } | ServiceError::Invalid(_) | ServiceError::Refused { .. })) => {
            let errors = e.field_errors().into_iter().map(|x| ("nota".to_owned(), o.ui.why(&x.reason))).collect();
            case_view(&state, &o, id, errors).await
        }
        Err(e) => Err(o.fail(e.into())),
    }
}
