//! The comuni's web services under `/api/v1/` (REG-2, REG-5, REG-6, IDN-6): registry
//! operations, reads as of a date, notifications, and the Revenue Agency's outbox.
//!
//! Every call is signed ([`crate::modi`]). Every write body carries a `client_op_id`: the
//! same id with the same operation returns the first answer; with another, 409. Field
//! errors are 422 (the request is well-formed JSON but the data do not hold) or 400 (the body
//! cannot be read as the operation), both naming the field.
//!
//! Each handler is a door over [`anagrafe_service::Registry`]: it reads the request into
//! domain values, calls the service with the caller's principal and writes the answer as JSON.

mod cases;

use crate::modi::Caller;
use crate::{ApiError, AppState};
use anagrafe_domain::IdAnpr;
use anagrafe_domain::documents::{DocumentEnd, DocumentEndReason, DocumentIssue};
use anagrafe_domain::ops::{
    Cancellation, CivilStatusChange, GeneralitaChange, HouseholdMove, MinorAdoption, Operation, Registration, RelationsChange,
    ResidenceChange,
};
use anagrafe_service::ClientOpId;
use anagrafe_service::registry::{PersonQuery, Written};
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;

/// Every route of this module with its methods, as `openapi.json` must describe them (a test
/// holds the two together).
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/api/v1/persons", &["post", "get"]),
    ("/api/v1/persons/{id_anpr}", &["get"]),
    ("/api/v1/persons/{id_anpr}/history", &["get"]),
    ("/api/v1/persons/{id_anpr}/residence", &["post"]),
    ("/api/v1/persons/{id_anpr}/cancellation", &["post"]),
    ("/api/v1/persons/{id_anpr}/generalita", &["post"]),
    ("/api/v1/persons/{id_anpr}/civil-status", &["post"]),
    ("/api/v1/persons/{id_anpr}/household", &["post"]),
    ("/api/v1/persons/{id_anpr}/minor-adoption", &["post"]),
    ("/api/v1/persons/{id_anpr}/documents", &["post"]),
    ("/api/v1/persons/{id_anpr}/documents/{number}/end", &["post"]),
    ("/api/v1/families/{family_id}", &["get"]),
    ("/api/v1/families/{family_id}/relations", &["post"]),
    ("/api/v1/duplicates", &["post", "get"]),
    ("/api/v1/duplicates/resolution", &["post"]),
    ("/api/v1/duplicates/dismissal", &["post"]),
    ("/api/v1/notifications", &["get"]),
    ("/api/v1/revenue-agency/outbox", &["get"]),
    ("/api/v1/cases", &["get"]),
    ("/api/v1/cases/{id}", &["get"]),
    ("/api/v1/cases/{id}/documents/{document}", &["get"]),
    ("/api/v1/cases/{id}/letters/{letter}", &["get"]),
    ("/api/v1/cases/{id}/steps", &["post"]),
    ("/api/v1/certificates", &["post", "get"]),
    ("/api/v1/certificates/preview", &["post"]),
    ("/api/v1/certificates/{id}/pdf", &["get"]),
    ("/api/v1/certificates/{id}/email", &["post"]),
    ("/api/v1/payments/stamp-duty", &["post"]),
    ("/api/openapi.json", &["get"]),
    ("/api/register-key", &["get"]),
];

/// The `/api/v1` routes (paths as in `openapi.json`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/persons", post(register).get(search))
        .route("/api/v1/persons/{id_anpr}", get(person))
        .route("/api/v1/persons/{id_anpr}/history", get(history))
        .route("/api/v1/persons/{id_anpr}/residence", post(residence))
        .route("/api/v1/persons/{id_anpr}/cancellation", post(cancel))
        .route("/api/v1/persons/{id_anpr}/generalita", post(generalita))
        .route("/api/v1/persons/{id_anpr}/civil-status", post(civil_status))
        .route("/api/v1/persons/{id_anpr}/household", post(household))
        .route("/api/v1/persons/{id_anpr}/minor-adoption", post(minor_adoption))
        .route("/api/v1/persons/{id_anpr}/documents", post(record_document))
        .route("/api/v1/persons/{id_anpr}/documents/{number}/end", post(end_document))
        .route("/api/v1/families/{family_id}", get(family))
        .route("/api/v1/families/{family_id}/relations", post(relations))
        .route("/api/v1/duplicates", post(report_duplicate).get(open_duplicates))
        .route("/api/v1/duplicates/resolution", post(resolve_duplicate))
        .route("/api/v1/duplicates/dismissal", post(dismiss_duplicate))
        .route("/api/v1/notifications", get(notifications))
        .route("/api/v1/revenue-agency/outbox", get(outbox))
        .route("/api/v1/cases", get(cases::list))
        .route("/api/v1/cases/{id}", get(cases::one))
        .route("/api/v1/cases/{id}/documents/{document}", get(cases::document))
        .route("/api/v1/cases/{id}/letters/{letter}", get(cases::letter))
        .route("/api/v1/cases/{id}/steps", post(cases::step))
        .route("/api/openapi.json", get(crate::openapi::api_document))
        .route("/api/register-key", get(register_key))
        .route("/.well-known/anagrafe/register-key.pem", get(register_key))
}

/// The OpenAPI description of these routes.
pub const OPENAPI: &str = crate::openapi::API;

/// Query parameters, read after the signature is verified, refused as problem+json naming the
/// parameter when they do not parse.
fn query<T: serde::de::DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(uri).map(|q| q.0).map_err(|e| ApiError::field("query", e.body_text()))
}

/// The public key that verifies the register's signatures (notification pushes, the trace's
/// checkpoints), at `/api/register-key` and `/.well-known/anagrafe/register-key.pem`.
async fn register_key(State(state): State<AppState>) -> Result<Response, ApiError> {
    let signer =
        state.register_signer.as_deref().ok_or_else(|| ApiError::NotFound("this register has no signing key configured".into()))?;
    let mut r = signer.public_key_pem().to_owned().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-pem-file"));
    Ok(r)
}

fn id_param(raw: &str) -> Result<IdAnpr, ApiError> {
    IdAnpr::parse(raw).map_err(|e| ApiError::field("id_anpr", e.to_string()))
}

fn family_param(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| ApiError::field("family_id", "is a household id (a positive integer)"))
}

/// A write body: the client's operation id and the operation's own fields.
struct WriteBody {
    op_id: ClientOpId,
    rest: serde_json::Value,
}

/// The body of a comune's write; who may write is checked before the body is read (a caller
/// of another role learns nothing of the route's fields).
fn read_body(state: &AppState, c: &Caller) -> Result<WriteBody, ApiError> {
    state.registry().authorize(&c.principal)?;
    let mut v: serde_json::Value = serde_json::from_slice(&c.body).map_err(|e| ApiError::field("body", format!("is not JSON: {e}")))?;
    let obj = v.as_object_mut().ok_or_else(|| ApiError::field("body", "must be a JSON object"))?;
    let op_id = match obj.remove("client_op_id") {
        Some(serde_json::Value::String(s)) => ClientOpId::parse(&s)?,
        Some(_) => return Err(ApiError::field("client_op_id", anagrafe_service::registry::CLIENT_OP_ID_RULE)),
        None => return Err(ApiError::field("client_op_id", "is required: it makes the write idempotent")),
    };
    Ok(WriteBody { op_id, rest: v })
}

/// Reads the operation's fields into `T`, naming the field that does not fit.
fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let top = path == ".";
        let field = if top { "body".to_owned() } else { path };
        let reason = e.inner().to_string();
        // A value checked as a whole (a residence, a birthplace) names its own part first:
        // `toponym: is required` at `residence` is the field `residence.toponym`.
        match reason.split_once(": ") {
            // A body checked as a whole names its field alone (`kind`, not `body.kind`).
            Some((part, why)) if !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
                let named = if top { part.to_owned() } else { format!("{field}.{part}") };
                ApiError::field(named, why.to_owned())
            }
            _ => ApiError::field(field, reason),
        }
    })
}

/// Applies a write through the registry service and answers what it did: 201 when it created
/// something, with `Idempotent-Replay: true` when the answer is the first one given to the id.
async fn write(state: &AppState, c: &Caller, body: WriteBody, op: Operation) -> Result<Response, ApiError> {
    let Written { applied, created, replayed } = state.registry().apply(&c.principal, op, &body.op_id).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let mut r = (status, Json(applied)).into_response();
    if replayed {
        r.headers_mut().insert("idempotent-replay", HeaderValue::from_static("true"));
    }
    Ok(r)
}

pub(crate) async fn register(State(state): State<AppState>, c: Caller) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let r: Registration = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::Register(Box::new(r))).await
}

pub(crate) async fn residence(State(state): State<AppState>, Path(id): Path<String>, c: Caller) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let person = id_param(&id)?;
    let change: ResidenceChange = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::ChangeResidence { person, change }).await
}

pub(crate) async fn cancel(State(state): State<AppState>, Path(id): Path<String>, c: Caller) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let person = id_param(&id)?;
    let cancellation: Cancellation = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::Cancel { person, cancellation }).await
}

pub(crate) async fn generalita(State(state): State<AppState>, Path(id): Path<String>, c: Caller) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let person = id_param(&id)?;
    let change: GeneralitaChange = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::ChangeGeneralita { person, change }).await
}

pub(crate) async fn civil_status(State(state): State<AppState>, Path(id): Path<String>, c: Caller) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let person = id_param(&id)?;
    let change: CivilStatusChange = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::ChangeCivilStatus { person, change }).await
}

pub(crate) async fn household(State(state): State<AppState>, Path(id): Path<String>, c: Caller) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let person = id_param(&id)?;
    let change: HouseholdMove = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::MoveHousehold { person, change }).await
}

pub(crate) async fn minor_adoption(State(state): State<AppState>, Path(id): Path<String>, c: Caller) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let person = id_param(&id)?;
    let adoption: MinorAdoption = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::AdoptMinor { person, adoption }).await
}

pub(crate) async fn record_document(State(state): State<AppState>, Path(id): Path<String>, c: Caller) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let person = id_param(&id)?;
    let issue: DocumentIssue = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::RecordDocument { person, issue }).await
}

/// The end of a document: its number from the path, the day and the reason from the body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentEndBody {
    ended_on: NaiveDate,
    reason: DocumentEndReason,
}

pub(crate) async fn end_document(
    State(state): State<AppState>,
    Path((id, number)): Path<(String, String)>,
    c: Caller,
) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let person = id_param(&id)?;
    let number = anagrafe_domain::documents::number_of(&number).map_err(|e| ApiError::field("number", e.reason.to_string()))?;
    let b: DocumentEndBody = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::EndDocument { person, end: DocumentEnd { number, ended_on: b.ended_on, reason: b.reason } }).await
}

pub(crate) async fn relations(State(state): State<AppState>, Path(family_id): Path<String>, c: Caller) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let family_id = family_param(&family_id)?;
    let change: RelationsChange = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::SetRelations { family_id, change }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DuplicateReport {
    persons: [IdAnpr; 2],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DuplicateResolution {
    keep: IdAnpr,
    delete: IdAnpr,
}

pub(crate) async fn report_duplicate(State(state): State<AppState>, c: Caller) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let r: DuplicateReport = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::ReportDuplicate { persons: r.persons }).await
}

pub(crate) async fn dismiss_duplicate(State(state): State<AppState>, c: Caller) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let r: DuplicateReport = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::DismissDuplicate { persons: r.persons }).await
}

pub(crate) async fn resolve_duplicate(State(state): State<AppState>, c: Caller) -> Result<Response, ApiError> {
    let body = read_body(&state, &c)?;
    let r: DuplicateResolution = parse(body.rest.clone())?;
    write(&state, &c, body, Operation::ResolveDuplicate { keep: r.keep, delete: r.delete }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AsOf {
    as_of: Option<String>,
}

fn as_of(raw: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    raw.map(|s| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|d| (1000..=9999).contains(&chrono::Datelike::year(d)))
            .ok_or_else(|| ApiError::field("as_of", "is not a date (YYYY-MM-DD, years 1000 to 9999)"))
    })
    .transpose()
}

fn no_body(c: &Caller) -> Result<(), ApiError> {
    if c.body.is_empty() { Ok(()) } else { Err(ApiError::field("body", "a read takes no body")) }
}

pub(crate) async fn person(State(state): State<AppState>, Path(id): Path<String>, uri: Uri, c: Caller) -> Result<Response, ApiError> {
    state.registry().authorize(&c.principal)?;
    let q: AsOf = query(&uri)?;
    no_body(&c)?;
    let id = id_param(&id)?;
    let date = as_of(q.as_of.as_deref())?;
    let read = state.registry().person(&c.principal, &id, date).await?;
    Ok(Json(serde_json::json!({
        "id_anpr": read.id_anpr, "id_status": read.id_status.as_str(), "as_of": read.view.as_of, "record": read.view.record
    }))
    .into_response())
}

/// A search: by codice fiscale, or by personal data (surname, given name, sex and birth date,
/// the date possibly without day or month, the place optional), never both.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Search {
    codice_fiscale: Option<String>,
    surname: Option<String>,
    given_name: Option<String>,
    sex: Option<String>,
    birth_date: Option<String>,
    birth_place: Option<String>,
    as_of: Option<String>,
}

/// The search asked; field errors name the parameter.
fn person_query(q: &Search) -> Result<PersonQuery, ApiError> {
    let by_data = [&q.surname, &q.given_name, &q.sex, &q.birth_date, &q.birth_place].iter().any(|v| v.is_some());
    if let Some(raw) = q.codice_fiscale.as_deref() {
        if by_data {
            return Err(ApiError::field("codice_fiscale", "search by codice fiscale or by personal data, not both"));
        }
        let cf = anagrafe_domain::CodiceFiscale::parse(raw).map_err(|e| ApiError::field("codice_fiscale", e.to_string()))?;
        return Ok(PersonQuery::CodiceFiscale(cf));
    }
    if !by_data {
        return Err(ApiError::field("codice_fiscale", "is required, or surname, given_name, sex and birth_date"));
    }
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    if q.birth_date.is_none() && q.surname.is_some() && q.given_name.is_some() && q.sex.is_some() {
        return Err(ApiError::field("birth_date", "is required for a search by personal data"));
    }
    Ok(PersonQuery::generalita(&text(&q.surname), &text(&q.given_name), &text(&q.sex), &text(&q.birth_date), q.birth_place.as_deref())?)
}

pub(crate) async fn search(State(state): State<AppState>, uri: Uri, c: Caller) -> Result<Response, ApiError> {
    state.registry().authorize(&c.principal)?;
    let q: Search = query(&uri)?;
    no_body(&c)?;
    let date = as_of(q.as_of.as_deref())?;
    let found = state.registry().search(&c.principal, &person_query(&q)?, date).await?;
    let found: Vec<serde_json::Value> =
        found.into_iter().map(|v| serde_json::json!({ "id_anpr": v.record.id_anpr, "as_of": v.as_of, "record": v.record })).collect();
    Ok(Json(serde_json::json!({ "persons": found })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoQuery {}

/// A person's history: the residences and citizenships with their periods, and the events
/// that wrote the record, oldest first; traced as a read.
pub(crate) async fn history(State(state): State<AppState>, Path(id): Path<String>, uri: Uri, c: Caller) -> Result<Response, ApiError> {
    state.registry().authorize(&c.principal)?;
    let _: NoQuery = query(&uri)?;
    no_body(&c)?;
    let id = id_param(&id)?;
    let read = state.registry().history(&c.principal, &id).await?;
    let h = read.history;
    Ok(Json(serde_json::json!({
        "id_anpr": read.id_anpr, "residences": h.residences, "citizenships": h.citizenships, "documents": h.documents, "events": h.events,
    }))
    .into_response())
}

pub(crate) async fn family(
    State(state): State<AppState>,
    Path(family_id): Path<String>,
    uri: Uri,
    c: Caller,
) -> Result<Response, ApiError> {
    state.registry().authorize(&c.principal)?;
    let q: AsOf = query(&uri)?;
    let family_id = family_param(&family_id)?;
    no_body(&c)?;
    let date = as_of(q.as_of.as_deref())?;
    Ok(Json(state.registry().family(&c.principal, family_id, date).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Feed {
    after: Option<i64>,
    limit: Option<u32>,
}

fn page(q: &Feed) -> Result<(i64, u32), ApiError> {
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::field("after", "is a cursor: 0 or a previous item's id"));
    }
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::field("limit", "is between 1 and 1000"));
    }
    Ok((after, limit))
}

/// No query parameter at all.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

/// The open duplicate cases (IDN-6 case 5) in which a record of the calling comune is
/// involved, oldest first: what the registry office still has to resolve or dismiss.
pub(crate) async fn open_duplicates(State(state): State<AppState>, uri: Uri, c: Caller) -> Result<Response, ApiError> {
    state.registry().authorize(&c.principal)?;
    let _: NoParams = query(&uri)?;
    no_body(&c)?;
    let (comune, cases) = state.registry().open_duplicates(&c.principal).await?;
    let items: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| serde_json::json!({ "case": c.id, "id_anpr": [c.id_anpr_a, c.id_anpr_b], "reported_at": c.reported_at }))
        .collect();
    Ok(Json(serde_json::json!({ "comune": comune, "items": items })).into_response())
}

pub(crate) async fn notifications(State(state): State<AppState>, uri: Uri, c: Caller) -> Result<Response, ApiError> {
    state.registry().authorize(&c.principal)?;
    let q: Feed = query(&uri)?;
    no_body(&c)?;
    let (after, limit) = page(&q)?;
    let (comune, items) = state.registry().notifications(&c.principal, after, limit).await?;
    let next = items.last().map(|n| n.id).unwrap_or(after);
    Ok(Json(serde_json::json!({ "comune": comune, "items": items, "next": next })).into_response())
}

async fn outbox(State(state): State<AppState>, uri: Uri, c: Caller) -> Result<Response, ApiError> {
    c.principal.require(&[anagrafe_domain::Role::RevenueAgency], "the Revenue Agency's outbox")?;
    let q: Feed = query(&uri)?;
    no_body(&c)?;
    let (after, limit) = page(&q)?;
    let items = state.registry().revenue_outbox(&c.principal, after, limit).await?;
    let next = items.last().map(|n| n.id).unwrap_or(after);
    Ok(Json(serde_json::json!({ "items": items, "next": next })).into_response())
}
