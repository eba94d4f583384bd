//! Registry extracts (*visure anagrafiche*, issue 19): the request page of the users of the
//! comune's offices and of the bodies under a convention (VIS-3, VIS-5), with their own archive
//! (VIS-6), and the mediators' queue of deferred requests. A thin door over
//! [`anagrafe_service::extracts::ExtractDesk`], which applies the rules, numbers the extracts and
//! traces every request and decision.

use super::form::{Field, Opt};
use super::office::WebOfficerOrAny;
use super::{Chrome, Crumb, PageResult, html};
use crate::{ApiError, AppState};
use anagrafe_domain::Role;
use anagrafe_domain::extract::{Criterion, DocumentSearch, ExtractType, RequestState};
use anagrafe_service::extracts::{Answer, ExportFile, FileFormat, Requester};
use anagrafe_service::{Principal, ServiceError};
use anagrafe_store::ExtractRequest;
use askama::Template;
use axum::Router;
use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Datelike;
use std::collections::HashMap;

mod bulletin;
mod orgs;
mod users;

/// The extracts' desk.
pub(super) const DESK: &str = "/ufficio/visure";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ufficio/visure", get(desk).post(request))
        .route("/ufficio/visure/monitoraggio", get(monitoring))
        .route("/ufficio/visure/statistiche", get(statistics))
        .route("/ufficio/visure/archivio", get(archive))
        .route("/ufficio/visure/accessi", get(access))
        .route("/ufficio/visure/elenco", get(bulk_page).post(bulk))
        .route("/ufficio/visure/organizzazioni", get(orgs::page).post(orgs::save))
        .route("/ufficio/visure/mediazione", get(queue))
        .route("/ufficio/visure/mediazione/{id}", post(decide))
        .route("/ufficio/visure/{id}/pdf", get(download))
        .route("/ufficio/visure/bacheca", get(bulletin::board).post(bulletin::post))
        .route("/ufficio/visure/bacheca/{id}", post(bulletin::withdraw))
        .route("/ufficio/visure/utenti", get(users::users).post(users::create))
        .route("/ufficio/visure/utenti/{username}", get(users::user).post(users::change))
}

/// The sealed PDF of an issued extract (VIS-10), for whoever has it in their archive.
async fn download(State(state): State<AppState>, w: WebRequester, Path(id): Path<i64>) -> Result<Response, Response> {
    let (req, pdf, _) = state.extracts().document(&w.r, id).await.map_err(|e| w.o.fail(e.into()))?;
    let name = req.protocol.map(|p| p.to_string().replace('/', "-")).unwrap_or_else(|| id.to_string());
    Ok(super::citizen::pdf_to_save(pdf, &format!("visura-{name}.pdf")))
}

/// A user of an organisation that asks for extracts, from a session with both factors.
struct WebRequester {
    o: super::office::WebOfficer,
    r: Requester,
}

impl FromRequestParts<AppState> for WebRequester {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let WebOfficerOrAny(o) = WebOfficerOrAny::from_request_parts(parts, state).await?;
        let op = o.s.operator();
        let Some(grant) = op.roles.iter().find(|g| g.role.is_public_body()) else {
            return Err(o.fail(ApiError::Forbidden("the extracts' pages are for the users of the offices and bodies".into())));
        };
        let principal = Principal::extract_user(
            &op.username,
            grant.role,
            &o.s.0.session.auth_mode,
            crate::middleware::current_request_id().unwrap_or_default(),
        )
        .with_codice_fiscale(op.codice_fiscale.clone());
        let r = state.extracts().requester(&principal, &op.username, &op.display_name, &grant.scope).await.map_err(|e| o.fail(e.into()))?;
        Ok(WebRequester { o, r })
    }
}

/// A registry officer with the mediator function.
struct WebMediator {
    o: super::office::WebOfficer,
    principal: Principal,
}

impl FromRequestParts<AppState> for WebMediator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let WebOfficerOrAny(o) = WebOfficerOrAny::from_request_parts(parts, state).await?;
        if !o.s.operator().roles.iter().any(|g| g.role == Role::RegistryOfficer && g.mediator) {
            return Err(o.fail(ApiError::Forbidden("the deferred extracts are decided by the registry office's mediators".into())));
        }
        let principal = o.principal()?;
        Ok(WebMediator { o, principal })
    }
}

/// One request as the tables show it.
struct Row {
    id: i64,
    at: String,
    kind: String,
    criterion: String,
    subject: String,
    requester: String,
    org: String,
    purpose: String,
    state: String,
    protocol: String,
    comune: String,
    /// The sealed PDF, once issued.
    pdf: Option<String>,
}

fn row(c: &Chrome, r: &ExtractRequest, orgs: &HashMap<i64, String>) -> Row {
    Row {
        id: r.id,
        at: super::local_time(r.requested_at),
        kind: r.extract_type.title().to_owned(),
        criterion: r.criterion.clone(),
        subject: r.subject.clone().unwrap_or_default(),
        requester: r.requester_name.clone(),
        org: orgs.get(&r.org_id).cloned().unwrap_or_default(),
        purpose: r.purpose.clone(),
        state: c.t(&format!("vis-state-{}", r.state.as_str())),
        protocol: r.protocol.map(|p| p.to_string()).unwrap_or_default(),
        comune: r.answer_comune.as_deref().map(super::office::comune_name).unwrap_or_default(),
        pdf: r.protocol.map(|_| format!("{DESK}/{}/pdf", r.id)),
    }
}

/// What a request got, as the page says it.
struct Outcome {
    ok: bool,
    text: String,
    /// The extract's PDF, when issued at once.
    pdf: Option<String>,
}

#[derive(Template)]
#[template(path = "office/extracts.html")]
struct DeskPage {
    c: Chrome,
    org: String,
    csrf: String,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
    outcome: Option<Outcome>,
    rows: Vec<Row>,
    /// TOP and ADMIN users reach the monitoring.
    monitor: bool,
    /// The bulletin board's messages for this user.
    board: Vec<bulletin::BulletinRow>,
    /// A TOP user of the registry office writes the board.
    board_author: bool,
    /// The comune's offices submit lists of subjects.
    bulk: bool,
}

pub(super) fn chrome(o: &super::office::WebOfficer, title_key: &str) -> Chrome {
    let c = o.chrome_under(title_key, "vis-title", DESK);
    let title = c.t(title_key);
    // Every page of the extracts leads back to their desk (the desk itself: its title only).
    let crumbs = if title_key == "vis-title" {
        vec![Crumb { label: title, href: None }]
    } else {
        vec![Crumb { label: c.t("vis-title"), href: Some(DESK.into()) }, Crumb { label: title, href: None }]
    };
    Chrome { crumbs, ..c }
}

fn fields(c: &Chrome, typed: &HashMap<String, String>, errors: &[(String, String)]) -> Vec<Field> {
    let opt = |v: &str, k: &str| Opt { value: v.to_owned(), label: c.t(k) };
    let criteria = vec![
        opt("cf", "vis-by-cf"),
        opt("carta_identita", "vis-by-identity-card"),
        opt("passaporto", "vis-by-passport"),
        opt("permesso_soggiorno", "vis-by-permit"),
        opt("nome", "vis-by-name"),
    ];
    let types = ExtractType::ALL.iter().map(|t| Opt { value: t.as_str().to_owned(), label: t.title().to_owned() }).collect();
    let list = vec![
        Field::choice("criterio", c.t("vis-f-criterion"), criteria, "col-md-6"),
        Field::input("valore", c.t("vis-f-value"), 20, "col-md-6").help(c.t("vis-f-value-help")),
        Field::input("cognome", c.t("vis-f-surname"), 80, "col-md-6"),
        Field::input("nome", c.t("vis-f-given"), 80, "col-md-6"),
        Field::date("data_nascita", c.t("vis-f-born-on")),
        Field::input("luogo_nascita", c.t("vis-f-born-in"), 4, "col-md-4").help(c.t("vis-f-born-in-help")),
        Field::choice("tipo", c.t("vis-f-type"), types, "col-md-6").required(),
        Field::input("finalita", c.t("vis-f-purpose"), 300, "col-md-6").required().help(c.t("vis-f-purpose-help")),
    ];
    super::form::filled(list, typed, errors)
}

async fn desk_view(
    state: &AppState,
    w: &WebRequester,
    typed: &HashMap<String, String>,
    errors: Vec<(String, String)>,
    outcome: Option<Outcome>,
) -> Result<DeskPage, Response> {
    let c = chrome(&w.o, "vis-title");
    let filter = anagrafe_store::ExtractFilter { limit: 20, ..Default::default() };
    let list = state.extracts().archive(&w.r, filter).await.map_err(|e| w.o.fail(e.into()))?;
    let orgs: HashMap<i64, String> =
        state.extracts().organisations(w.r.org.comune).await.map_err(|e| w.o.fail(e.into()))?.into_iter().map(|o| (o.id, o.name)).collect();
    let rows = list.iter().map(|r| row(&c, r, &orgs)).collect();
    let board = state.extracts().bulletins(&w.r).await.map_err(|e| w.o.fail(e.into()))?;
    let board = bulletin::rows(&c, &board, state.clock.now().timestamp_millis());
    Ok(DeskPage {
        board,
        board_author: w.r.principal.role == Role::PaTop && w.r.org.kind == anagrafe_domain::extract::OrganisationKind::Registry,
        bulk: w.r.org.kind != anagrafe_domain::extract::OrganisationKind::ExternalBody,
        org: w.r.org.name.clone(),
        csrf: w.o.s.0.session.csrf_token.clone(),
        fields: fields(&c, typed, &errors),
        errors,
        outcome,
        rows,
        monitor: matches!(w.r.principal.role, Role::PaTop | Role::PaAdmin),
        c,
    })
}

async fn desk(State(state): State<AppState>, w: WebRequester) -> PageResult {
    let page = desk_view(&state, &w, &HashMap::new(), Vec::new(), None).await?;
    Ok(html(StatusCode::OK, &page))
}

/// The criterion as typed, or the fields' errors.
fn criterion_of(w: &WebRequester, v: &HashMap<String, String>) -> Result<Criterion, Vec<(String, String)>> {
    let get = |k: &str| v.get(k).map(|s| s.trim()).unwrap_or_default();
    let err = |field: &str, key: &'static str| vec![(field.to_owned(), w.o.ui.why(&anagrafe_domain::Why::new(key)))];
    match get("criterio") {
        "cf" => {
            let code = get("valore").to_ascii_uppercase();
            anagrafe_domain::CodiceFiscale::parse(&code).map_err(|_| err("valore", "bad-cf"))?;
            Ok(Criterion::CodiceFiscale { code })
        }
        kind @ ("carta_identita" | "passaporto" | "permesso_soggiorno") => {
            let kind = DocumentSearch::parse(kind).ok_or_else(|| err("criterio", "unknown-action"))?;
            let number = DocumentSearch::normalise(get("valore")).ok_or_else(|| err("valore", "bad-document-number"))?;
            Ok(Criterion::Document { kind, number })
        }
        "nome" => {
            let mut errors = Vec::new();
            if get("cognome").is_empty() {
                errors.extend(err("cognome", "required"));
            }
            if get("nome").is_empty() {
                errors.extend(err("nome", "required"));
            }
            let born_on = match get("data_nascita") {
                "" => None,
                raw => {
                    let d = super::parse_date(raw);
                    if d.is_none() {
                        errors.extend(err("data_nascita", "bad-date"));
                    }
                    d
                }
            };
            let born_in = match get("luogo_nascita").to_ascii_uppercase() {
                s if s.is_empty() => None,
                s if born_on.is_none() => {
                    errors.extend(err("luogo_nascita", "born-in-needs-date"));
                    Some(s)
                }
                s => match anagrafe_domain::Belfiore::parse(&s) {
                    Ok(_) => Some(s),
                    Err(_) => {
                        errors.extend(err("luogo_nascita", "role-needs-comune"));
                        None
                    }
                },
            };
            if !errors.is_empty() {
                return Err(errors);
            }
            Ok(Criterion::Name { surname: get("cognome").to_uppercase(), given: get("nome").to_uppercase(), born_on, born_in })
        }
        _ => Err(err("criterio", "unknown-action")),
    }
}

/// A comune as people read it: `NAPOLI (NA)`.
fn named(comune: Option<anagrafe_domain::Belfiore>) -> String {
    comune.map(|b| super::office::comune_name(&b.to_string())).unwrap_or_else(|| "—".into())
}

fn outcome_of(w: &WebRequester, a: &Answer) -> Outcome {
    let ui = &w.o.ui;
    match a.state {
        RequestState::Issued => Outcome {
            ok: true,
            text: super::i18n::t_args(ui.lang, "vis-issued", &[("protocol", &a.protocol.map(|p| p.to_string()).unwrap_or_default())]),
            pdf: Some(format!("{DESK}/{}/pdf", a.id)),
        },
        RequestState::Pending => Outcome {
            ok: true,
            text: super::i18n::t_args(ui.lang, "vis-deferred", &[("id", &a.id.to_string()), ("comune", &named(a.comune))]),
            pdf: None,
        },
        RequestState::ComuneOnly | RequestState::Rejected => Outcome {
            ok: false,
            pdf: None,
            text: format!(
                "{} {}",
                super::i18n::t_args(ui.lang, "vis-comune-only", &[("comune", &named(a.comune))]),
                a.why.as_ref().map(|w| ui.why(w)).unwrap_or_default()
            ),
        },
    }
}

async fn request(
    State(state): State<AppState>,
    headers: HeaderMap,
    w: WebRequester,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = form.map(|f| f.0).unwrap_or_default();
    w.o.check_csrf(&headers, values.get("csrf").map(String::as_str).unwrap_or_default())?;
    let refuse = |errors: Vec<(String, String)>| {
        let (state, w, values) = (&state, &w, &values);
        async move {
            let page = desk_view(state, w, values, errors, None).await?;
            Err::<Response, Response>(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    };
    let criterion = match criterion_of(&w, &values) {
        Ok(c) => c,
        Err(errors) => return refuse(errors).await,
    };
    let Some(kind) = values.get("tipo").and_then(|t| ExtractType::parse(t)) else {
        return refuse(vec![("tipo".into(), w.o.ui.t("vis-err-type"))]).await;
    };
    let purpose = values.get("finalita").map(String::as_str).unwrap_or_default();
    match state.extracts().request(&w.r, &criterion, kind, purpose).await {
        Ok(a) => {
            let page = desk_view(&state, &w, &HashMap::new(), Vec::new(), Some(outcome_of(&w, &a))).await?;
            Ok(html(if a.state == RequestState::ComuneOnly { StatusCode::OK } else { StatusCode::CREATED }, &page))
        }
        Err(e @ ServiceError::Invalid(_)) => {
            let errors = e.field_errors().into_iter().map(|f| (f.field.clone(), w.o.ui.why(&f.reason))).collect::<Vec<_>>();
            // The criterion's errors are shown beside the value typed.
            let errors = errors.into_iter().map(|(f, r)| (if f == "criterio" { "valore".into() } else { f }, r)).collect();
            refuse(errors).await
        }
        Err(e) => Err(w.o.fail(e.into())),
    }
}

#[derive(Template)]
#[template(path = "office/extracts-mediation.html")]
struct QueuePage {
    c: Chrome,
    csrf: String,
    rows: Vec<Row>,
    notice: Option<String>,
    error: Option<String>,
}

async fn queue_view(state: &AppState, m: &WebMediator, notice: Option<String>, error: Option<String>) -> Result<QueuePage, Response> {
    let c = chrome(&m.o, "vis-mediation-title");
    let list = state.extracts().pending(&m.principal, true).await.map_err(|e| m.o.fail(e.into()))?;
    let comune = m.principal.comune.ok_or_else(|| m.o.fail(ApiError::Forbidden("the officer acts for no comune".into())))?;
    let orgs: HashMap<i64, String> =
        state.extracts().organisations(comune).await.map_err(|e| m.o.fail(e.into()))?.into_iter().map(|o| (o.id, o.name)).collect();
    let rows = list.iter().map(|r| row(&c, r, &orgs)).collect();
    Ok(QueuePage { csrf: m.o.s.0.session.csrf_token.clone(), rows, notice, error, c })
}

async fn queue(State(state): State<AppState>, m: WebMediator) -> PageResult {
    let page = queue_view(&state, &m, None, None).await?;
    Ok(html(StatusCode::OK, &page))
}

/// The mediator is checked before the request's number is read: whoever is refused learns
/// nothing from how the path reads.
async fn decide(
    State(state): State<AppState>,
    m: WebMediator,
    Path(id): Path<i64>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = form.map(|f| f.0).unwrap_or_default();
    m.o.check_csrf(&headers, values.get("csrf").map(String::as_str).unwrap_or_default())?;
    let approve = match values.get("esito").map(String::as_str) {
        Some("approva") => true,
        Some("respingi") => false,
        _ => {
            let page = queue_view(&state, &m, None, Some(m.o.ui.t("adm-err-action"))).await?;
            return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    let note = values.get("nota").map(String::as_str).unwrap_or_default();
    match state.extracts().decide(&m.principal, true, id, approve, note).await {
        Ok(r) => {
            let notice = match r.protocol {
                Some(p) => super::i18n::t_args(m.o.ui.lang, "vis-approved", &[("id", &id.to_string()), ("protocol", &p.to_string())]),
                None => super::i18n::t_args(m.o.ui.lang, "vis-rejected", &[("id", &id.to_string())]),
            };
            let page = queue_view(&state, &m, Some(notice), None).await?;
            Ok(html(StatusCode::OK, &page))
        }
        Err(e @ (ServiceError::Invalid(_) | ServiceError::State { .. })) => {
            let text = e.field_errors().first().map(|f| m.o.ui.why(&f.reason)).unwrap_or_default();
            let page = queue_view(&state, &m, None, Some(text)).await?;
            Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Err(m.o.fail(e.into())),
    }
}

#[derive(serde::Deserialize, Default)]
struct MonitorQuery {
    /// The day watched (`gg/mm/aaaa` or `aaaa-mm-gg`); today when absent.
    #[serde(default)]
    giorno: String,
}

impl MonitorQuery {
    /// The day asked for, or `today` with the field's error when it is not a date.
    fn day(&self, w: &WebRequester, today: chrono::NaiveDate) -> (chrono::NaiveDate, Option<String>) {
        match self.giorno.trim() {
            "" => (today, None),
            raw => match super::parse_date(raw) {
                Some(d) => (d, None),
                None => (today, Some(w.o.ui.why(&anagrafe_domain::Why::new("bad-date")))),
            },
        }
    }
}

/// An alarm as the page shows it.
struct AlarmRow {
    text: String,
}

#[derive(Template)]
#[template(path = "office/extracts-monitoring.html")]
struct MonitorPage {
    c: Chrome,
    day: String,
    day_value: String,
    error: Option<String>,
    top: bool,
    alarms: Vec<AlarmRow>,
    rows: Vec<Row>,
}

/// The monitoring of the extracts (VIS-7, VIS-8): a TOP user of the registry office sees every
/// organisation's requests of a day with the alarms, an ADMIN user their organisation's;
/// public-security users' requests are never among them.
async fn monitoring(State(state): State<AppState>, w: WebRequester, Query(q): Query<MonitorQuery>) -> PageResult {
    let top = w.r.principal.role == Role::PaTop;
    if !top && w.r.principal.role != Role::PaAdmin {
        return Err(w.o.fail(ApiError::Forbidden("the monitoring of the extracts is for TOP and ADMIN users".into())));
    }
    let c = chrome(&w.o, "vis-monitoring-title");
    let today = state.clock.today();
    let (day, error) = q.day(&w, today);
    let from = anagrafe_service::security::italian_midnight_ms(day);
    let to = day.succ_opt().map_or(i64::MAX, anagrafe_service::security::italian_midnight_ms);
    let filter = anagrafe_store::ExtractFilter { from_ms: Some(from), to_ms: Some(to), limit: 1000, ..Default::default() };
    let list = state.extracts().archive(&w.r, filter).await.map_err(|e| w.o.fail(e.into()))?;
    let orgs: HashMap<i64, String> =
        state.extracts().organisations(w.r.org.comune).await.map_err(|e| w.o.fail(e.into()))?.into_iter().map(|o| (o.id, o.name)).collect();
    let alarms = if top {
        state
            .extracts()
            .alarms(&w.r, day)
            .await
            .map_err(|e| w.o.fail(e.into()))?
            .into_iter()
            .map(|a| match a {
                anagrafe_service::extracts::Alarm::Night { request, requester, at_ms } => AlarmRow {
                    text: super::i18n::t_args(
                        c.lang,
                        "vis-alarm-night",
                        &[("id", &request.to_string()), ("requester", &requester), ("at", &super::local_time(at_ms))],
                    ),
                },
                anagrafe_service::extracts::Alarm::ManyOnSubject { subject, count } => AlarmRow {
                    text: super::i18n::t_args(c.lang, "vis-alarm-many", &[("subject", &subject), ("count", &count.to_string())]),
                },
            })
            .collect()
    } else {
        Vec::new()
    };
    let rows = list.iter().map(|r| row(&c, r, &orgs)).collect();
    let page =
        MonitorPage { day: day.format("%d/%m/%Y").to_string(), day_value: day.format("%Y-%m-%d").to_string(), error, top, alarms, rows, c };
    Ok(html(StatusCode::OK, &page))
}

#[derive(serde::Deserialize, Default)]
struct StatsQuery {
    #[serde(default)]
    dal: String,
    #[serde(default)]
    al: String,
    /// `csv` for the accounting as a file.
    #[serde(default)]
    formato: String,
}

#[derive(Template)]
#[template(path = "office/extracts-statistics.html")]
struct StatsPage {
    c: Chrome,
    from_value: String,
    to_value: String,
    errors: Vec<(String, String)>,
    issued: u64,
    apr: u64,
    aire: u64,
    by_type: Vec<(String, u64)>,
    by_org: Vec<(String, u64)>,
}

/// Statistics and accounting of the extracts issued in a period (VIS-7), each user within what
/// they may see; `formato=csv` gives the accounting (per organisation and per type) as a file.
async fn statistics(State(state): State<AppState>, w: WebRequester, Query(q): Query<StatsQuery>) -> PageResult {
    let c = chrome(&w.o, "vis-stats-title");
    let today = state.clock.today();
    let first = today.with_day0(0).unwrap_or(today);
    let mut errors = Vec::new();
    let mut day = |field: &str, raw: &str, default| match raw.trim() {
        "" => default,
        raw => super::parse_date(raw).unwrap_or_else(|| {
            errors.push((field.to_owned(), w.o.ui.why(&anagrafe_domain::Why::new("bad-date"))));
            default
        }),
    };
    let (from, to) = (day("dal", &q.dal, first), day("al", &q.al, today));
    if let (Some(format), true) = (FileFormat::parse(&q.formato), errors.is_empty()) {
        match state.extracts().accounting_file(&w.r, from, to, format).await {
            Ok(file) => return Ok(file_response(file)),
            Err(e @ ServiceError::Invalid(_)) => {
                errors.extend(e.field_errors().into_iter().map(|f| (f.field.clone(), w.o.ui.why(&f.reason))))
            }
            Err(e) => return Err(w.o.fail(e.into())),
        }
    }
    let st = match state.extracts().statistics(&w.r, from, to).await {
        Ok(st) => st,
        Err(e @ ServiceError::Invalid(_)) => {
            if errors.is_empty() {
                errors.extend(e.field_errors().into_iter().map(|f| (f.field.clone(), w.o.ui.why(&f.reason))));
            }
            anagrafe_service::extracts::Statistics::default()
        }
        Err(e) => return Err(w.o.fail(e.into())),
    };
    let page = StatsPage {
        from_value: from.format("%Y-%m-%d").to_string(),
        to_value: to.format("%Y-%m-%d").to_string(),
        issued: st.issued,
        apr: st.apr_subjects,
        aire: st.aire_subjects,
        by_type: st.by_type.iter().map(|(t, n)| (t.title().to_owned(), *n)).collect(),
        by_org: st.by_org.clone(),
        errors,
        c,
    };
    Ok(html(if page.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY }, &page))
}

/// A file made by the extracts' desk, to save (never shown inline).
fn file_response(file: ExportFile) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", file.name);
    axum::response::IntoResponse::into_response((
        [
            (axum::http::header::CONTENT_TYPE, file.format.content_type().to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        file.bytes,
    ))
}

#[derive(Template)]
#[template(path = "office/extracts-archive.html")]
struct ArchivePage {
    c: Chrome,
    lead: String,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
    rows: Vec<Row>,
}

/// The archive of the extracts (VIS-6), searched by period, subject, requester, type and state
/// within what the user may see (a STANDARD user their own requests, an ADMIN their
/// organisation's, a TOP user the comune's), and exported as CSV or PDF (`formato`).
async fn archive(State(state): State<AppState>, w: WebRequester, Query(q): Query<HashMap<String, String>>) -> PageResult {
    let c = chrome(&w.o, "vis-archive-title");
    let get = |k: &str| q.get(k).map(|v| v.trim()).unwrap_or_default();
    let mut errors: Vec<(String, String)> = Vec::new();
    let why = |k: &'static str| w.o.ui.why(&anagrafe_domain::Why::new(k));
    let mut day = |field: &str| match get(field) {
        "" => None,
        raw => super::parse_date(raw).or_else(|| {
            errors.push((field.to_owned(), why("bad-date")));
            None
        }),
    };
    let (from, to) = (day("dal"), day("al"));
    let subject = match get("soggetto").to_ascii_uppercase() {
        s if s.is_empty() => None,
        s if anagrafe_domain::CodiceFiscale::parse(&s).is_ok() => Some(s),
        _ => {
            errors.push(("soggetto".into(), w.o.ui.t("vis-err-cf")));
            None
        }
    };
    let extract_type = match get("tipo") {
        "" => None,
        raw => ExtractType::parse(raw).or_else(|| {
            errors.push(("tipo".into(), w.o.ui.t("vis-err-type")));
            None
        }),
    };
    let state_filter = match get("stato") {
        "" => None,
        raw => RequestState::parse(raw).or_else(|| {
            errors.push(("stato".into(), w.o.ui.t("vis-err-state")));
            None
        }),
    };
    let requester = Some(get("richiedente").to_owned()).filter(|r| !r.is_empty());
    let filter = anagrafe_store::ExtractFilter {
        from_ms: from.map(anagrafe_service::security::italian_midnight_ms),
        to_ms: to.and_then(|d| d.succ_opt()).map(anagrafe_service::security::italian_midnight_ms),
        subject,
        extract_type,
        state: state_filter,
        requester,
        limit: 1000,
        ..Default::default()
    };
    let format = match get("formato") {
        "" => None,
        raw => FileFormat::parse(raw).or_else(|| {
            errors.push(("formato".into(), w.o.ui.t("vis-err-format")));
            None
        }),
    };
    let rows = if errors.is_empty() {
        if let Some(format) = format {
            let file = state.extracts().archive_file(&w.r, filter, format).await.map_err(|e| w.o.fail(e.into()))?;
            return Ok(file_response(file));
        }
        let list = state.extracts().archive(&w.r, filter).await.map_err(|e| w.o.fail(e.into()))?;
        let orgs: HashMap<i64, String> = state
            .extracts()
            .organisations(w.r.org.comune)
            .await
            .map_err(|e| w.o.fail(e.into()))?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        list.iter().map(|r| row(&c, r, &orgs)).collect()
    } else {
        Vec::new()
    };
    let t = |k: &str| c.t(k);
    let any = || Opt { value: String::new(), label: t("vis-archive-any") };
    let fields = vec![
        Field::date("dal", t("vis-f-from")),
        Field::date("al", t("vis-f-to")),
        Field::input("soggetto", t("vis-col-subject"), 16, "col-md-4").help(t("vis-archive-subject-help")),
        Field::input("richiedente", t("vis-archive-requester"), 64, "col-md-4").help(t("vis-archive-requester-help")),
        Field::choice(
            "tipo",
            t("vis-col-type"),
            std::iter::once(any())
                .chain(ExtractType::ALL.iter().map(|k| Opt { value: k.as_str().to_owned(), label: k.title().to_owned() }))
                .collect(),
            "col-md-4",
        ),
        Field::choice(
            "stato",
            t("vis-col-state"),
            std::iter::once(any())
                .chain(
                    RequestState::ALL.iter().map(|s| Opt { value: s.as_str().to_owned(), label: t(&format!("vis-state-{}", s.as_str())) }),
                )
                .collect(),
            "col-md-4",
        ),
    ];
    let fields = super::form::filled(fields, &q, &errors);
    let lead = c.t(match w.r.principal.role {
        Role::PaTop => "vis-archive-lead-top",
        Role::PaAdmin => "vis-archive-lead-admin",
        _ => "vis-archive-lead-own",
    });
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(html(status, &ArchivePage { c, lead, fields, errors, rows }))
}

#[derive(Template)]
#[template(path = "office/extracts-access.html")]
struct AccessPage {
    c: Chrome,
    lead: String,
    day: String,
    day_value: String,
    error: Option<String>,
    /// Time, user, function, outcome.
    rows: Vec<(String, String, String, String)>,
    /// Per user: name, logins, functions used.
    users: Vec<(String, usize, usize)>,
}

/// A traced operation in the page's words (the operation's own name when it has none).
fn operation_label(c: &Chrome, operation: &str) -> String {
    let key = format!("vis-op-{}", operation.replace(['.', '_'], "-"));
    let label = c.t(&key);
    if label == key { operation.to_owned() } else { label }
}

/// Access monitoring (VIS-7): the logins and the functions used in a day by the users a TOP
/// user (every organisation of the comune) or an ADMIN user (their own) monitors.
async fn access(State(state): State<AppState>, w: WebRequester, Query(q): Query<MonitorQuery>) -> PageResult {
    let c = chrome(&w.o, "vis-access-title");
    let today = state.clock.today();
    let (day, error) = q.day(&w, today);
    let list = state.extracts().access_log(&w.r, day).await.map_err(|e| w.o.fail(e.into()))?;
    let mut users: std::collections::BTreeMap<String, (usize, usize)> = std::collections::BTreeMap::new();
    for e in &list {
        let u = users.entry(format!("{} ({})", e.name, e.username)).or_default();
        if e.operation == "operator.login" && e.outcome == "ok" {
            u.0 += 1;
        } else if e.operation != "operator.login" {
            u.1 += 1;
        }
    }
    let rows = list
        .iter()
        .map(|e| {
            let outcome = if e.outcome == "ok" { c.t("vis-access-ok") } else { c.t("vis-access-refused") };
            (super::local_time(e.at_ms), format!("{} ({})", e.name, e.username), operation_label(&c, &e.operation), outcome)
        })
        .collect();
    let lead = c.t(if w.r.principal.role == Role::PaTop { "vis-access-lead-top" } else { "vis-access-lead-admin" });
    let page = AccessPage {
        lead,
        day: day.format("%d/%m/%Y").to_string(),
        day_value: day.format("%Y-%m-%d").to_string(),
        error,
        rows,
        users: users.into_iter().map(|(k, (l, f))| (k, l, f)).collect(),
        c,
    };
    Ok(html(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "office/extracts-bulk.html")]
struct BulkPage {
    c: Chrome,
    csrf: String,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
}

fn bulk_view(w: &WebRequester, typed: &HashMap<String, String>, errors: Vec<(String, String)>, notice: Option<String>) -> BulkPage {
    let c = chrome(&w.o, "vis-bulk-title");
    let types = ExtractType::ALL.iter().map(|t| Opt { value: t.as_str().to_owned(), label: t.title().to_owned() }).collect();
    let fields = super::form::filled(
        vec![
            Field::text_area("elenco", c.t("vis-bulk-list"), 20_000).required().help(c.t("vis-bulk-list-help")),
            Field::choice("tipo", c.t("vis-f-type"), types, "col-md-6").required(),
            Field::input("finalita", c.t("vis-f-purpose"), 300, "col-md-6").required().help(c.t("vis-f-purpose-help")),
        ],
        typed,
        &errors,
    );
    BulkPage { csrf: w.o.s.0.session.csrf_token.clone(), fields, errors, notice, c }
}

/// A bulk request's page (VIS-11): the comune's offices only.
async fn bulk_page(w: WebRequester) -> PageResult {
    if w.r.org.kind == anagrafe_domain::extract::OrganisationKind::ExternalBody {
        return Err(w.o.fail(ApiError::Forbidden("bulk extracts are for the comune's offices".into())));
    }
    Ok(html(StatusCode::OK, &bulk_view(&w, &HashMap::new(), Vec::new(), None)))
}

/// A list of subjects, one codice fiscale a line (VIS-11): every extract waits for a mediator;
/// the whole list or nothing (a line that names nobody refuses it, with its number).
async fn bulk(
    State(state): State<AppState>,
    headers: HeaderMap,
    w: WebRequester,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    if w.r.org.kind == anagrafe_domain::extract::OrganisationKind::ExternalBody {
        return Err(w.o.fail(ApiError::Forbidden("bulk extracts are for the comune's offices".into())));
    }
    let values = form.map(|f| f.0).unwrap_or_default();
    w.o.check_csrf(&headers, values.get("csrf").map(String::as_str).unwrap_or_default())?;
    let refuse = |errors: Vec<(String, String)>| html(StatusCode::UNPROCESSABLE_ENTITY, &bulk_view(&w, &values, errors, None));
    let mut criteria = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in values.get("elenco").map(String::as_str).unwrap_or_default().lines().enumerate() {
        let code = line.trim().to_ascii_uppercase();
        if code.is_empty() {
            continue;
        }
        if anagrafe_domain::CodiceFiscale::parse(&code).is_err() {
            errors.push(("elenco".to_owned(), super::i18n::t_args(w.o.ui.lang, "vis-err-bulk-cf", &[("line", &(i + 1).to_string())])));
            break;
        }
        criteria.push(Criterion::CodiceFiscale { code });
    }
    let kind = values.get("tipo").and_then(|t| ExtractType::parse(t));
    if kind.is_none() {
        errors.push(("tipo".into(), w.o.ui.t("vis-err-type")));
    }
    let Some(kind) = kind.filter(|_| errors.is_empty()) else { return Err(refuse(errors)) };
    let purpose = values.get("finalita").map(String::as_str).unwrap_or_default();
    match state.extracts().request_bulk(&w.r, &criteria, kind, purpose).await {
        Ok(answers) => {
            let first = answers.first().map(|a| a.id.to_string()).unwrap_or_default();
            let notice = super::i18n::t_args(w.o.ui.lang, "vis-bulk-done", &[("count", &answers.len().to_string()), ("id", &first)]);
            Ok(html(StatusCode::CREATED, &bulk_view(&w, &HashMap::new(), Vec::new(), Some(notice))))
        }
        Err(e @ ServiceError::Invalid(_)) => {
            Err(refuse(e.field_errors().into_iter().map(|f| (f.field.clone(), w.o.ui.why(&f.reason))).collect()))
        }
        Err(e) => Err(w.o.fail(e.into())),
    }
}
