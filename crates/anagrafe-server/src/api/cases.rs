//! The comune's case desk as signed web services (CIT-9, EU-5; as ANPR's P000 family: list,
//! detail, update): `GET /api/v1/cases`, `GET /api/v1/cases/{id}` with the data, checklist,
//! documents and steps, `GET /api/v1/cases/{id}/documents/{document}` for a document's bytes,
//! `POST /api/v1/cases/{id}/steps` for a step, idempotent by `client_op_id`. Each is a door over
//! [`anagrafe_service::cases::CaseDesk`], the same service the office's pages call.

use super::{no_body, query};
use crate::modi::Caller;
use crate::{ApiError, AppState};
use anagrafe_domain::case::{CaseAction, CaseState};
use anagrafe_service::ClientOpId;
use anagrafe_service::cases::CaseView;
use anagrafe_store::Case;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

fn case_param(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| ApiError::field("id", "is a case id (a positive integer)"))
}

/// A case as the list shows it.
pub(crate) fn summary(c: &Case) -> Value {
    json!({
        "id": c.id,
        "kind": c.kind,
        "state": c.state,
        "comune": c.comune,
        "protocol": c.protocol.map(|p| p.to_string()),
        "applicant_name": c.applicant_name,
        "submitted_at": c.submitted_at,
        "due_on": c.due_on,
        "decided_at": c.decided_at,
    })
}

/// A case whole: the request's data, the checklist, the documents (with where to fetch each)
/// and the steps.
pub(crate) fn detail(v: &CaseView) -> Value {
    let c = &v.file.case;
    let mut out = summary(c);
    out["data"] = serde_json::from_str(&c.data).unwrap_or(Value::Null);
    out["checklist"] = v
        .checklist
        .iter()
        .map(|(q, docs)| json!({ "evidence": q.evidence, "member": q.member, "documents": docs }))
        .collect::<Vec<_>>()
        .into();
    out["documents"] = v
        .file
        .documents
        .iter()
        .map(|d| {
            json!({
                "id": d.id, "evidence": d.evidence, "member": d.member, "filename": d.filename, "media_type": d.media_type,
                "size": d.size, "sha256": d.sha256, "source": d.source, "verified": d.verified, "verified_note": d.verified_note,
                "signatures": d.signatures.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
                "href": format!("/api/v1/cases/{}/documents/{}", c.id, d.id),
            })
        })
        .collect::<Vec<_>>()
        .into();
    out["steps"] = v
        .file
        .steps
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "at": s.at, "actor": s.actor, "action": s.action, "note": s.note, "from": s.from_state, "to": s.to_state,
                "detail": serde_json::from_str::<Value>(&s.detail).unwrap_or(Value::Null),
            })
        })
        .collect::<Vec<_>>()
        .into();
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Comma-separated states (`submitted,in_progress` when absent).
    state: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/cases`: the calling comune's cases, newest first.
pub(crate) async fn list(State(state): State<AppState>, uri: Uri, c: Caller) -> Result<Response, ApiError> {
    let desk = state.cases();
    desk.authorize(&c.principal)?;
    let q: ListQuery = query(&uri)?;
    no_body(&c)?;
    let states = q
        .state
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            CaseState::parse(s)
                .ok_or_else(|| ApiError::field("state", "one or more of submitted, in_progress, accepted, rejected, inadmissible"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 500 {
        return Err(ApiError::field("limit", "is between 1 and 500"));
    }
    let cases = desk.list(&c.principal, states, limit).await?;
    let comune = c.principal.comune;
    Ok(Json(json!({ "comune": comune, "items": cases.iter().map(summary).collect::<Vec<_>>() })).into_response())
}

/// `GET /api/v1/cases/{id}`: one case of the calling comune, whole.
pub(crate) async fn one(State(state): State<AppState>, Path(id): Path<String>, uri: Uri, c: Caller) -> Result<Response, ApiError> {
    let desk = state.cases();
    desk.authorize(&c.principal)?;
    let _: super::NoParams = query(&uri)?;
    no_body(&c)?;
    let v = desk.file(&c.principal, case_param(&id)?).await?;
    Ok(Json(detail(&v)).into_response())
}

/// `GET /api/v1/cases/{id}/documents/{document}`: a document's bytes, as attached.
pub(crate) async fn document(
    State(state): State<AppState>,
    Path((id, document)): Path<(String, String)>,
    uri: Uri,
    c: Caller,
) -> Result<Response, ApiError> {
    let desk = state.cases();
    desk.authorize(&c.principal)?;
    let _: super::NoParams = query(&uri)?;
    no_body(&c)?;
    let doc = document.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| ApiError::field("document", "is a document id"))?;
    let (meta, bytes) = desk.document(&c.principal, case_param(&id)?, doc).await?;
    Ok(crate::downloads::case_document(&meta, bytes))
}

/// `POST /api/v1/cases/{id}/steps`: a step of the comune; 201 with the step, or 200 with the
/// first answer when the operation id was used already for the same step.
pub(crate) async fn step(State(state): State<AppState>, Path(id): Path<String>, c: Caller) -> Result<Response, ApiError> {
    let desk = state.cases();
    desk.authorize(&c.principal)?;
    let id = case_param(&id)?;
    let mut v: Value = serde_json::from_slice(&c.body).map_err(|e| ApiError::field("body", format!("is not JSON: {e}")))?;
    let obj = v.as_object_mut().ok_or_else(|| ApiError::field("body", "must be a JSON object"))?;
    let op = match obj.remove("client_op_id") {
        Some(Value::String(s)) => ClientOpId::parse(&s)?,
        Some(_) => return Err(ApiError::field("client_op_id", anagrafe_service::registry::CLIENT_OP_ID_RULE)),
        None => return Err(ApiError::field("client_op_id", "is required: it makes the step idempotent")),
    };
    let note = match obj.remove("note") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => return Err(ApiError::field("note", "is text")),
    };
    let action: CaseAction = super::parse(v)?;
    let (step, replayed) = desk.step(&c.principal, id, action, &note, Some(&op)).await?;
    let out = json!({
        "id": step.id, "case": id, "at": step.at, "action": step.action, "note": step.note, "from": step.from_state, "to": step.to_state,
    });
    let mut r = (if replayed { StatusCode::OK } else { StatusCode::CREATED }, Json(out)).into_response();
    if replayed {
        r.headers_mut().insert("idempotent-replay", HeaderValue::from_static("true"));
    }
    Ok(r)
}

/// `GET /api/v1/cases/{id}/letters/{receipt|start}`: the request's receipt, or the
/// start-of-procedure communication, as the citizen received them.
pub(crate) async fn letter(
    State(state): State<AppState>,
    Path((id, letter)): Path<(String, String)>,
    uri: Uri,
    c: Caller,
) -> Result<Response, ApiError> {
    let desk = state.cases();
    desk.authorize(&c.principal)?;
    let _: super::NoParams = query(&uri)?;
    no_body(&c)?;
    let letter = crate::downloads::CaseLetter::parse(&letter).ok_or_else(|| ApiError::field("letter", "is receipt or start"))?;
    Ok(letter.fetch(&desk, &c.principal, case_param(&id)?).await?)
}
