//! The comuni's web services under `/api/v1/` (REG-2, REG-5, REG-6, IDN-6): registry
//! operations, reads as of a date, notifications, and the Revenue Agency's outbox.
//!
//! Every call is signed ([`crate::modi`]). Every write body carries a `client_op_id`: the
//! same id with the same body returns the first answer; with another body, 409. Field
//! errors are 422 (the request is well-formed JSON but the data do not hold) or 400 (the body
//! cannot be read as the operation), both naming the field.

use crate::error::FieldProblem;
use crate::modi::Caller;
use crate::{ApiError, AppState};
use anagrafe_domain::ops::{
    Cancellation, CivilStatusChange, GeneralitaChange, HouseholdMove, MinorAdoption, Operation, Registration, RelationsChange,
    ResidenceChange,
};
use anagrafe_domain::{FieldError, IdAnpr, RefData};
use anagrafe_store::{AuditEntry, Idempotency, StoreError};
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use sha2::{Digest, Sha256};

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
    ("/api/v1/families/{family_id}", &["get"]),
    ("/api/v1/families/{family_id}/relations", &["post"]),
    ("/api/v1/duplicates", &["post", "get"]),
    ("/api/v1/duplicates/resolution", &["post"]),
    ("/api/v1/duplicates/dismissal", &["post"]),
    ("/api/v1/notifications", &["get"]),
    ("/api/v1/revenue-agency/outbox", &["get"]),
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
        .route("/api/v1/families/{family_id}", get(family))
        .route("/api/v1/families/{family_id}/relations", post(relations))
        .route("/api/v1/duplicates", post(report_duplicate).get(open_duplicates))
        .route("/api/v1/duplicates/resolution", post(resolve_duplicate))
        .route("/api/v1/duplicates/dismissal", post(dismiss_duplicate))
        .route("/api/v1/notifications", get(notifications))
        .route("/api/v1/revenue-agency/outbox", get(outbox))
        .route("/api/openapi.json", get(openapi))
        .route("/api/register-key", get(register_key))
}

/// The OpenAPI description of these routes.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    json_document(OPENAPI)
}

/// A JSON document compiled into the binary (the OpenAPI descriptions), as `application/json`.
pub(crate) fn json_document(text: &'static str) -> Response {
    let mut r = text.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Query parameters, read after the signature is verified, refused as problem+json naming the
/// parameter when they do not parse.
fn query<T: serde::de::DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(uri).map(|q| q.0).map_err(|e| ApiError::field("query", e.body_text()))
}

/// The public key that verifies the register's signatures (notification pushes).
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

fn unprocessable(errs: Vec<FieldError>) -> ApiError {
    ApiError::Unprocessable {
        detail: errs.iter().map(|e| format!("{}: {}", e.field, e.reason)).collect::<Vec<_>>().join("; "),
        errors: errs.into_iter().map(|e| FieldProblem { field: e.field, reason: e.reason }).collect(),
    }
}

fn checked(errs: Vec<FieldError>) -> Result<(), ApiError> {
    if errs.is_empty() { Ok(()) } else { Err(unprocessable(errs)) }
}

fn today() -> NaiveDate {
    anagrafe_domain::ops::italian_today()
}

/// A write body: the client's operation id and the operation's own fields.
struct WriteBody {
    client_op_id: String,
    rest: serde_json::Value,
    sha256: String,
}

/// The body of a comune's write; who may write is checked before the body is read (a caller
/// of another role learns nothing of the route's fields).
fn read_body(signed: &Caller) -> Result<WriteBody, ApiError> {
    signed.require_role("comune")?;
    let mut v: serde_json::Value =
        serde_json::from_slice(&signed.body).map_err(|e| ApiError::field("body", format!("is not JSON: {e}")))?;
    let obj = v.as_object_mut().ok_or_else(|| ApiError::field("body", "must be a JSON object"))?;
    let op_id = match obj.remove("client_op_id") {
        Some(serde_json::Value::String(s))
            if !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')) =>
        {
            s
        }
        Some(_) => return Err(ApiError::field("client_op_id", "must be 1 to 64 characters among letters, digits, '-', '_', '.', ':'")),
        None => return Err(ApiError::field("client_op_id", "is required: it makes the write idempotent")),
    };
    // The operation id names one request: the same body sent to another record is another
    // request, so the route is part of what a replay must match.
    let mut h = Sha256::new();
    h.update(signed.method.as_bytes());
    h.update(b" ");
    h.update(signed.target.as_bytes());
    h.update(b"\n");
    h.update(&signed.body);
    Ok(WriteBody { client_op_id: op_id, rest: v, sha256: hex::encode(h.finalize()) })
}

/// Reads the operation's fields into `T`, naming the field that does not fit.
fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::field(field, e.inner().to_string())
    })
}

/// Applies a write; a client operation id seen before gets its first answer; refusals are
/// traced.
async fn write(
    state: &AppState,
    signed: &Caller,
    body: WriteBody,
    op: Operation,
    created: bool,
    keep_answer: bool,
) -> Result<Response, ApiError> {
    signed.require_role("comune")?;
    // An operation whose id the register does not keep (adoption) cannot be caught by the
    // stored answer's key: an id already used is looked up first. So is any id when nothing
    // can be written (no issuer), so that a replay still gets its first answer.
    if (!keep_answer || state.issuer.is_none())
        && let Some(r) = replay(state, signed, &body).await?
    {
        return Ok(r);
    }
    let issuer = state.issuer.as_deref().ok_or_else(|| ApiError::Unavailable("no ID ANPR issuer is configured".into()))?;
    let mut ctx = signed.ctx.clone();
    ctx.client_op_id = keep_answer.then(|| body.client_op_id.clone());
    // The adoption of a minor keeps nothing of its request (IDN-6 case 4): a replay finds the
    // old ID already invalid and is refused by the register's state.
    let idem = keep_answer.then(|| Idempotency { client_op_id: body.client_op_id.clone(), body_sha256: Some(body.sha256.clone()) });
    match state.store.apply(&op, &ctx, issuer, idem.as_ref()).await {
        Ok(applied) => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(applied)).into_response())
        }
        Err(e) => {
            // An operation id already used (found by the stored answer's unique key, or the
            // repeated operation failing on the state the first one left): the first answer,
            // or 409 when the body differs; looked up only on failure, so a first attempt
            // costs no extra read.
            if let Some(r) = replay(state, signed, &body).await? {
                return Ok(r);
            }
            if matches!(&e, StoreError::Conflict { field } if field == "client_op_id") {
                return Err(ApiError::Conflict("client_op_id".into()));
            }
            if matches!(e, StoreError::State { .. } | StoreError::Refused { .. } | StoreError::Forbidden(_) | StoreError::NotFound(_)) {
                let mut entry = AuditEntry::from_ctx(&signed.ctx, op.name(), "refused");
                entry.detail = serde_json::json!({ "reason": e.to_string(), "client_op_id": body.client_op_id }).to_string();
                state.store.audit(&entry).await?;
            }
            Err(e.into())
        }
    }
}

/// Operations answered with 201 (they create a record or a case), for replays.
const CREATES: &[&str] = &["person.register", "duplicate.report"];

async fn replay(state: &AppState, signed: &Caller, body: &WriteBody) -> Result<Option<Response>, ApiError> {
    let Some(prev) = state.store.client_operation(&signed.ctx.actor, &body.client_op_id).await? else { return Ok(None) };
    match (prev.body_sha256, prev.response) {
        (Some(h), Some(resp)) if h == body.sha256 => {
            let status = if CREATES.contains(&prev.operation.as_str()) { StatusCode::CREATED } else { StatusCode::OK };
            let mut r = (status, resp).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r.headers_mut().insert("idempotent-replay", HeaderValue::from_static("true"));
            Ok(Some(r))
        }
        (None, _) => Err(ApiError::ConflictField {
            field: "client_op_id".into(),
            reason: "was used for an operation whose answer the register does not keep (adoption of a minor); look the result up".into(),
        }),
        _ => Err(ApiError::ConflictField { field: "client_op_id".into(), reason: "was already used for a different request".into() }),
    }
}

pub(crate) async fn register(State(state): State<AppState>, signed: Caller) -> Result<Response, ApiError> {
    let body = read_body(&signed)?;
    let r: Registration = parse(body.rest.clone())?;
    checked(r.check(&RefData::current(), today()))?;
    write(&state, &signed, body, Operation::Register(Box::new(r)), true, true).await
}

pub(crate) async fn residence(State(state): State<AppState>, Path(id): Path<String>, signed: Caller) -> Result<Response, ApiError> {
    let body = read_body(&signed)?;
    let person = id_param(&id)?;
    let change: ResidenceChange = parse(body.rest.clone())?;
    checked(change.check(&RefData::current(), today()))?;
    write(&state, &signed, body, Operation::ChangeResidence { person, change }, false, true).await
}

pub(crate) async fn cancel(State(state): State<AppState>, Path(id): Path<String>, signed: Caller) -> Result<Response, ApiError> {
    let body = read_body(&signed)?;
    let person = id_param(&id)?;
    let cancellation: Cancellation = parse(body.rest.clone())?;
    // Which table the reason belongs to depends on the record: the domain checks both ways
    // that can be told without it, the store reads the reason against the record.
    if let Some((pid, _)) = state.store.find_by_id_anpr(&person).await?
        && let Ok(view) = state.store.person(pid, None).await
    {
        let aire = view.record.status == anagrafe_domain::RegisterStatus::Aire;
        checked(cancellation.check(aire, &RefData::current(), today()))?;
    }
    write(&state, &signed, body, Operation::Cancel { person, cancellation }, false, true).await
}

pub(crate) async fn generalita(State(state): State<AppState>, Path(id): Path<String>, signed: Caller) -> Result<Response, ApiError> {
    let body = read_body(&signed)?;
    let person = id_param(&id)?;
    let change: GeneralitaChange = parse(body.rest.clone())?;
    checked(change.check(today()))?;
    write(&state, &signed, body, Operation::ChangeGeneralita { person, change }, false, true).await
}

pub(crate) async fn civil_status(State(state): State<AppState>, Path(id): Path<String>, signed: Caller) -> Result<Response, ApiError> {
    let body = read_body(&signed)?;
    let person = id_param(&id)?;
    let change: CivilStatusChange = parse(body.rest.clone())?;
    let mut errs = Vec::new();
    anagrafe_domain::ops::check_date(&mut errs, "effective_date", change.effective_date, today());
    checked(errs)?;
    write(&state, &signed, body, Operation::ChangeCivilStatus { person, change }, false, true).await
}

pub(crate) async fn household(State(state): State<AppState>, Path(id): Path<String>, signed: Caller) -> Result<Response, ApiError> {
    let body = read_body(&signed)?;
    let person = id_param(&id)?;
    let change: HouseholdMove = parse(body.rest.clone())?;
    checked(change.check(today()))?;
    write(&state, &signed, body, Operation::MoveHousehold { person, change }, false, true).await
}

pub(crate) async fn minor_adoption(State(state): State<AppState>, Path(id): Path<String>, signed: Caller) -> Result<Response, ApiError> {
    let body = read_body(&signed)?;
    let person = id_param(&id)?;
    let adoption: MinorAdoption = parse(body.rest.clone())?;
    // IDN-6 case 4: the answer (the new ID) is not kept against a request naming the old one.
    write(&state, &signed, body, Operation::AdoptMinor { person, adoption }, true, false).await
}

pub(crate) async fn relations(State(state): State<AppState>, Path(family_id): Path<String>, signed: Caller) -> Result<Response, ApiError> {
    let body = read_body(&signed)?;
    let family_id = family_param(&family_id)?;
    let change: RelationsChange = parse(body.rest.clone())?;
    let cohabitation = match state.store.family(family_id, None).await {
        Ok(f) => matches!(f.kind, anagrafe_domain::HouseholdKind::Cohabitation { .. }),
        Err(StoreError::NotFound(_)) => return Err(ApiError::NotFound(format!("household {family_id}"))),
        Err(e) => return Err(e.into()),
    };
    checked(change.check(cohabitation, today()))?;
    write(&state, &signed, body, Operation::SetRelations { family_id, change }, false, true).await
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

pub(crate) async fn report_duplicate(State(state): State<AppState>, signed: Caller) -> Result<Response, ApiError> {
    let body = read_body(&signed)?;
    let r: DuplicateReport = parse(body.rest.clone())?;
    write(&state, &signed, body, Operation::ReportDuplicate { persons: r.persons }, true, true).await
}

pub(crate) async fn dismiss_duplicate(State(state): State<AppState>, signed: Caller) -> Result<Response, ApiError> {
    let body = read_body(&signed)?;
    let r: DuplicateReport = parse(body.rest.clone())?;
    write(&state, &signed, body, Operation::DismissDuplicate { persons: r.persons }, false, true).await
}

pub(crate) async fn resolve_duplicate(State(state): State<AppState>, signed: Caller) -> Result<Response, ApiError> {
    let body = read_body(&signed)?;
    let r: DuplicateResolution = parse(body.rest.clone())?;
    if r.keep == r.delete {
        return Err(unprocessable(vec![FieldError::new("delete", "is the record kept")]));
    }
    write(&state, &signed, body, Operation::ResolveDuplicate { keep: r.keep, delete: r.delete }, false, true).await
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

fn no_body(signed: &Caller) -> Result<(), ApiError> {
    if signed.body.is_empty() { Ok(()) } else { Err(ApiError::field("body", "a read takes no body")) }
}

/// Reads are traced like writes (SEC-4): who read whose record, as of when.
async fn trace_read(state: &AppState, signed: &Caller, op: &str, pid: Option<i64>, detail: serde_json::Value) -> Result<(), ApiError> {
    let mut e = AuditEntry::from_ctx(&signed.ctx, op, "ok");
    e.subject_person = pid;
    e.detail = detail.to_string();
    state.store.audit(&e).await?;
    Ok(())
}

pub(crate) async fn person(State(state): State<AppState>, Path(id): Path<String>, uri: Uri, signed: Caller) -> Result<Response, ApiError> {
    signed.require_role("comune")?;
    let q: AsOf = query(&uri)?;
    no_body(&signed)?;
    let id = id_param(&id)?;
    let date = as_of(q.as_of.as_deref())?;
    let (pid, status) = state.store.find_by_id_anpr(&id).await?.ok_or_else(|| ApiError::NotFound(format!("ID ANPR {id}")))?;
    if status == 3 {
        return Err(ApiError::Gone(format!("ID ANPR {id} is no longer valid")));
    }
    let view = match state.store.person(pid, date).await {
        Err(StoreError::NotFound(_)) => return Err(ApiError::NotFound(format!("ID ANPR {id} had no record on that date"))),
        other => other?,
    };
    trace_read(&state, &signed, "person.read", Some(pid), serde_json::json!({ "as_of": view.as_of })).await?;
    let id_status = if status == 2 { "suspended" } else { "valid" };
    Ok(Json(serde_json::json!({ "id_anpr": id, "id_status": id_status, "as_of": view.as_of, "record": view.record })).into_response())
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

/// The personal-data search asked, or `None` when the search is by code; field errors name
/// the parameter.
fn generalita_query(q: &Search) -> Result<Option<anagrafe_store::GeneralitaQuery>, ApiError> {
    let by_data = [&q.surname, &q.given_name, &q.sex, &q.birth_date, &q.birth_place].iter().any(|v| v.is_some());
    if q.codice_fiscale.is_some() {
        return if by_data {
            Err(ApiError::field("codice_fiscale", "search by codice fiscale or by personal data, not both"))
        } else {
            Ok(None)
        };
    }
    if !by_data {
        return Err(ApiError::field("codice_fiscale", "is required, or surname, given_name, sex and birth_date"));
    }
    let name = |v: &Option<String>, field: &str| -> Result<String, ApiError> {
        let t = v.as_deref().map(str::trim).unwrap_or_default();
        if t.is_empty() || t.chars().count() > 100 || t.chars().any(char::is_control) {
            return Err(ApiError::field(field, "is required for a search by personal data (1 to 100 characters)"));
        }
        Ok(t.to_owned())
    };
    let surname = name(&q.surname, "surname")?;
    let given_name = name(&q.given_name, "given_name")?;
    let sex = match q.sex.as_deref().map(str::trim) {
        Some(s @ ("M" | "F")) => s.to_owned(),
        _ => return Err(ApiError::field("sex", "is M or F")),
    };
    let raw = q.birth_date.as_deref().ok_or_else(|| ApiError::field("birth_date", "is required for a search by personal data"))?;
    let date = anagrafe_domain::PartialDate::parse(raw).map_err(|e| ApiError::field("birth_date", e.to_string()))?;
    let born_from = date.first_day();
    let born_to = match date.precision() {
        anagrafe_domain::DatePrecision::Day => Some(born_from),
        anagrafe_domain::DatePrecision::Month => born_from.checked_add_months(chrono::Months::new(1)).and_then(|d| d.pred_opt()),
        anagrafe_domain::DatePrecision::Year => NaiveDate::from_ymd_opt(chrono::Datelike::year(&born_from), 12, 31),
    }
    .ok_or_else(|| ApiError::field("birth_date", "is out of range"))?;
    let birth_place = match q.birth_place.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => Some(
            RefData::current()
                .resolve(p, born_from)
                .map_err(|e| ApiError::field("birth_place", format!("is a comune or foreign state (name or code): {e}")))?
                .code()
                .to_string(),
        ),
    };
    Ok(Some(anagrafe_store::GeneralitaQuery { surname: Some(surname), given_name: Some(given_name), sex, born_from, born_to, birth_place }))
}

pub(crate) async fn search(State(state): State<AppState>, uri: Uri, signed: Caller) -> Result<Response, ApiError> {
    signed.require_role("comune")?;
    let q: Search = query(&uri)?;
    no_body(&signed)?;
    let date = as_of(q.as_of.as_deref())?;
    let pids = match generalita_query(&q)? {
        Some(data) => state.store.find_by_generalita(&data, date).await?,
        None => {
            let raw = q.codice_fiscale.as_deref().unwrap_or_default();
            let cf = anagrafe_domain::CodiceFiscale::parse(raw).map_err(|e| ApiError::field("codice_fiscale", e.to_string()))?;
            state.store.find_by_cf(&cf, date).await?
        }
    };
    let mut found = Vec::new();
    for pid in pids {
        let view = match state.store.person(pid, date).await {
            // Found by data valid on the date, but the record itself began later.
            Err(StoreError::NotFound(_)) => continue,
            other => other?,
        };
        // Records without a valid ID (deleted duplicates, a minor's record before adoption)
        // are not found by code.
        if view.record.id_anpr.is_none() {
            continue;
        }
        trace_read(&state, &signed, "person.search", Some(pid), serde_json::json!({ "as_of": view.as_of })).await?;
        found.push(serde_json::json!({ "id_anpr": view.record.id_anpr, "as_of": view.as_of, "record": view.record }));
    }
    Ok(Json(serde_json::json!({ "persons": found })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoQuery {}

/// A person's history: the residences and citizenships with their periods, and the events
/// that wrote the record, oldest first; traced as a read.
pub(crate) async fn history(State(state): State<AppState>, Path(id): Path<String>, uri: Uri, signed: Caller) -> Result<Response, ApiError> {
    signed.require_role("comune")?;
    let _: NoQuery = query(&uri)?;
    no_body(&signed)?;
    let id = id_param(&id)?;
    let (pid, status) = state.store.find_by_id_anpr(&id).await?.ok_or_else(|| ApiError::NotFound(format!("ID ANPR {id}")))?;
    if status == 3 {
        return Err(ApiError::Gone(format!("ID ANPR {id} is no longer valid")));
    }
    let h = state.store.history(pid).await?;
    trace_read(&state, &signed, "person.history", Some(pid), serde_json::json!({ "events": h.events.len() })).await?;
    Ok(Json(serde_json::json!({ "id_anpr": id, "residences": h.residences, "citizenships": h.citizenships, "events": h.events }))
        .into_response())
}

pub(crate) async fn family(
    State(state): State<AppState>,
    Path(family_id): Path<String>,
    uri: Uri,
    signed: Caller,
) -> Result<Response, ApiError> {
    signed.require_role("comune")?;
    let q: AsOf = query(&uri)?;
    let family_id = family_param(&family_id)?;
    no_body(&signed)?;
    let date = as_of(q.as_of.as_deref())?;
    let view = state.store.family(family_id, date).await?;
    trace_read(&state, &signed, "family.read", None, serde_json::json!({ "family_id": family_id })).await?;
    Ok(Json(view).into_response())
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
pub(crate) async fn open_duplicates(State(state): State<AppState>, uri: Uri, signed: Caller) -> Result<Response, ApiError> {
    signed.require_role("comune")?;
    let _: NoParams = query(&uri)?;
    no_body(&signed)?;
    let comune = signed.ctx.comune.ok_or_else(|| ApiError::Forbidden("the caller acts for no comune".into()))?;
    let cases = state.store.open_duplicates(comune).await?;
    trace_read(&state, &signed, "duplicates.read", None, serde_json::json!({ "count": cases.len() })).await?;
    let items: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| serde_json::json!({ "case": c.id, "id_anpr": [c.id_anpr_a, c.id_anpr_b], "reported_at": c.reported_at }))
        .collect();
    Ok(Json(serde_json::json!({ "comune": comune, "items": items })).into_response())
}

pub(crate) async fn notifications(State(state): State<AppState>, uri: Uri, signed: Caller) -> Result<Response, ApiError> {
    signed.require_role("comune")?;
    let q: Feed = query(&uri)?;
    no_body(&signed)?;
    let (after, limit) = page(&q)?;
    let comune = signed.ctx.comune.ok_or_else(|| ApiError::Forbidden("the caller acts for no comune".into()))?;
    let items = state.store.notifications(comune, after, limit).await?;
    let next = items.last().map(|n| n.id).unwrap_or(after);
    Ok(Json(serde_json::json!({ "comune": comune, "items": items, "next": next })).into_response())
}

async fn outbox(State(state): State<AppState>, uri: Uri, signed: Caller) -> Result<Response, ApiError> {
    signed.require_role("revenue_agency")?;
    let q: Feed = query(&uri)?;
    no_body(&signed)?;
    let (after, limit) = page(&q)?;
    let items = state.store.revenue_outbox(after, limit).await?;
    trace_read(&state, &signed, "revenue_outbox.read", None, serde_json::json!({ "after": after, "count": items.len() })).await?;
    let next = items.last().map(|n| n.id).unwrap_or(after);
    Ok(Json(serde_json::json!({ "items": items, "next": next })).into_response())
}
