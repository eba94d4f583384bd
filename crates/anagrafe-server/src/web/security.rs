//! The security officer's desk (SEC-5, issue 18 items 3 and 4): the trace's state at a glance,
//! the alerts the log analysis raised (each with its page: steps, state, assignee, notes), and
//! the search of the trace by actor, person, operation, outcome and period, newest first. A
//! thin door over [`anagrafe_service::security::SecurityDesk`], which checks the role and
//! traces every search and every change.

use super::office::WebOfficerOrAny;
use super::{Chrome, PageResult, html};
use crate::{ApiError, AppState};
use anagrafe_domain::Role;
use anagrafe_domain::security::AlertState;
use anagrafe_service::security::{AlertUpdate, TraceSearch, TraceState};
use anagrafe_service::{Principal, ServiceError};
use anagrafe_store::Alert;
use askama::Template;
use axum::Router;
use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use std::collections::HashMap;

/// The security officer's desk.
pub(super) const DESK: &str = "/ufficio/sicurezza";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ufficio/sicurezza", get(desk))
        .route("/ufficio/sicurezza/allarmi/{id}", get(alert_page).post(alert_update))
        .route("/ufficio/sicurezza/rapporto", get(report))
}

/// An operator with the security officer's role, from a session with both factors.
struct WebSecurity {
    o: super::office::WebOfficer,
    principal: Principal,
}

impl FromRequestParts<AppState> for WebSecurity {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let WebOfficerOrAny(o) = WebOfficerOrAny::from_request_parts(parts, state).await?;
        if !o.s.operator().roles.iter().any(|g| g.role == Role::SecurityOfficer) {
            return Err(o.fail(ApiError::Forbidden("the security pages are for the security officer".into())));
        }
        let principal = Principal::security_officer(
            &o.s.operator().username,
            &o.s.0.session.auth_mode,
            crate::middleware::current_request_id().unwrap_or_default(),
        )
        .with_codice_fiscale(o.s.operator().codice_fiscale.clone());
        Ok(WebSecurity { o, principal })
    }
}

#[derive(serde::Deserialize, Default)]
struct SearchQuery {
    #[serde(default)]
    attore: String,
    #[serde(default)]
    soggetto: String,
    #[serde(default)]
    operazione: String,
    #[serde(default)]
    esito: String,
    #[serde(default)]
    dal: String,
    #[serde(default)]
    al: String,
    #[serde(default)]
    prima: Option<i64>,
    /// The alerts shown: `aperti` (open and acknowledged, the default), `open`,
    /// `acknowledged`, `closed`, `tutti`.
    #[serde(default)]
    stato: String,
}

/// One entry as the table shows it.
struct Row {
    seq: i64,
    at: String,
    actor: String,
    operation: String,
    outcome: String,
    subject: String,
    refused: bool,
}

#[derive(Template)]
#[template(path = "office/security.html")]
struct DeskPage {
    c: Chrome,
    head: i64,
    /// The alerts shown, in words.
    alerts: Vec<AlertRow>,
    /// The alerts' filter.
    shown: String,
    checkpoint: Option<String>,
    unsigned: i64,
    q: SearchQuery,
    errors: Vec<(String, String)>,
    searched: bool,
    rows: Vec<Row>,
    older: Option<String>,
}

impl SearchQuery {
    fn any(&self) -> bool {
        [&self.attore, &self.soggetto, &self.operazione, &self.esito, &self.dal, &self.al].iter().any(|v| !v.trim().is_empty())
            || self.prima.is_some()
    }

    /// The query string of the same search (for the next page's link).
    fn link(&self, before: i64) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.trim().as_bytes()).collect::<String>();
        format!(
            "{DESK}?attore={}&soggetto={}&operazione={}&esito={}&dal={}&al={}&prima={before}",
            enc(&self.attore),
            enc(&self.soggetto),
            enc(&self.operazione),
            enc(&self.esito),
            enc(&self.dal),
            enc(&self.al)
        )
    }
}

fn state_lines(c: &Chrome, s: &TraceState) -> Option<String> {
    s.last_checkpoint
        .as_ref()
        .map(|cp| super::i18n::t_args(c.lang, "sec-checkpoint", &[("seq", &cp.seq.to_string()), ("at", &super::local_time(cp.at_ms))]))
}

/// The desk: the trace's state, the search form and, when asked, the entries found.
async fn desk(
    State(state): State<AppState>,
    s: WebSecurity,
    q: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let q = q.map(|q| q.0).unwrap_or_default();
    let c = s.o.chrome_under("sec-title", "sec-title", DESK);
    let c = Chrome { crumbs: vec![super::Crumb { label: c.t("sec-title"), href: None }], ..c };
    let desk = state.security();
    let st = desk.trace_state(&s.principal).await.map_err(|e| s.o.fail(e.into()))?;
    let states: Vec<Option<AlertState>> = match q.stato.as_str() {
        "tutti" => vec![None],
        other => match AlertState::parse(other) {
            Some(one) => vec![Some(one)],
            None => vec![Some(AlertState::Open), Some(AlertState::Acknowledged)],
        },
    };
    let mut alerts = Vec::new();
    for st in states {
        alerts.extend(desk.alerts(&s.principal, st, None).await.map_err(|e| s.o.fail(e.into()))?);
    }
    alerts.sort_by_key(|a| std::cmp::Reverse(a.id));
    let alerts = alerts.iter().map(|a| AlertRow::of(&c, a)).collect();
    let mut errors = Vec::new();
    let mut date = |field: &str, raw: &str| {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        let d = super::parse_date(raw);
        if d.is_none() {
            errors.push((field.to_owned(), c.t("sec-err-date")));
        }
        d
    };
    let search = TraceSearch {
        actor: Some(q.attore.clone()),
        subject: Some(q.soggetto.clone()),
        operation: Some(q.operazione.clone()),
        outcome: Some(q.esito.clone()),
        from: date("dal", &q.dal),
        to: date("al", &q.al),
    };
    let (mut rows, mut older, mut status) = (Vec::new(), None, StatusCode::OK);
    let searched = q.any();
    if searched && errors.is_empty() {
        match desk.search(&s.principal, &search, q.prima).await {
            Ok(page) => {
                rows = page
                    .entries
                    .iter()
                    .map(|e| Row {
                        seq: e.seq,
                        at: super::local_time(e.at_ms),
                        actor: e.entry.actor.clone(),
                        operation: e.entry.operation.clone(),
                        outcome: e.entry.outcome.clone(),
                        subject: e.entry.subject_cf.clone().unwrap_or_default(),
                        refused: e.entry.outcome != "ok",
                    })
                    .collect();
                older = page.older.map(|b| q.link(b));
            }
            Err(ServiceError::Malformed { field, .. }) => errors.push((field, c.t("sec-err-code"))),
            Err(e @ ServiceError::Invalid(_)) => errors.extend(e.field_errors().into_iter().map(|f| (f.field.clone(), c.why(&f.reason)))),
            Err(e) => return Err(s.o.fail(e.into())),
        }
    }
    if !errors.is_empty() {
        status = StatusCode::UNPROCESSABLE_ENTITY;
    }
    let checkpoint = state_lines(&c, &st);
    let shown = if q.stato.is_empty() { "aperti".to_owned() } else { q.stato.clone() };
    let page = DeskPage { head: st.head, alerts, shown, checkpoint, unsigned: st.unsigned(), q, errors, searched, rows, older, c };
    Ok(html(status, &page))
}

impl DeskPage {
    fn error_of(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }
}

/// An alert as the list shows it.
struct AlertRow {
    id: i64,
    what: String,
    last: String,
    state: String,
    assignee: String,
    open: bool,
}

impl AlertRow {
    fn of(c: &Chrome, a: &Alert) -> Self {
        AlertRow {
            id: a.id,
            what: describe(c, a),
            last: super::local_time(a.last_seen),
            state: c.t(&format!("sec-alert-{}", a.state)),
            assignee: a.assignee.clone().unwrap_or_default(),
            open: a.state == AlertState::Open,
        }
    }
}

/// An alert in words: its rule's message with the key, the count, the threshold and window.
fn describe(c: &Chrome, a: &Alert) -> String {
    let rule = anagrafe_service::security::rules().into_iter().find(|r| r.id == a.rule);
    let (threshold, minutes) = rule.map_or((0, 0), |r| (r.threshold, r.window.quiet_ms() / 60_000));
    super::i18n::t_args(
        c.lang,
        &format!("sec-rule-{}", a.rule),
        &[("key", &a.key), ("count", &a.count.to_string()), ("threshold", &threshold.to_string()), ("minutes", &minutes.to_string())],
    )
}

#[derive(Template)]
#[template(path = "office/alert.html")]
struct AlertPage {
    c: Chrome,
    id: i64,
    what: String,
    rule: String,
    key: String,
    count: i64,
    first: String,
    last: String,
    state: AlertState,
    state_label: String,
    assignee: String,
    steps: Vec<StepRow>,
    /// A link searching the trace for the alert's key, when it is an actor.
    search: Option<String>,
    csrf: String,
    /// The form as typed, after a refusal.
    typed: HashMap<String, String>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
}

struct StepRow {
    at: String,
    who: String,
    state: String,
    assignee: String,
    note: String,
}

impl AlertPage {
    fn error_of(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }

    fn typed(&self, name: &str, default: &str) -> String {
        self.typed.get(name).cloned().unwrap_or_else(|| default.to_owned())
    }

    /// Whether `state` is the one the form proposes: the typed one, else the next usual step.
    fn proposes(&self, state: AlertState) -> bool {
        let next = match self.state {
            AlertState::Open => AlertState::Acknowledged,
            AlertState::Acknowledged => AlertState::Closed,
            AlertState::Closed => AlertState::Open,
        };
        self.typed.get("stato").map_or(state == next, |t| t == state.as_str())
    }
}

#[derive(serde::Deserialize, Default)]
struct AlertQuery {
    #[serde(default)]
    salvato: Option<String>,
}

async fn alert_view(
    state: &AppState,
    s: &WebSecurity,
    id: &str,
    typed: HashMap<String, String>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
) -> Result<AlertPage, Response> {
    let id: i64 = id.parse().map_err(|_| s.o.fail(ApiError::NotFound("no such alert".into())))?;
    let (a, steps) = state.security().alert(&s.principal, id).await.map_err(|e| s.o.fail(e.into()))?;
    let c = s.o.chrome_under("sec-title", "sec-title", DESK);
    let title = c.t1("sec-alert-title", "id", &id.to_string());
    let c = Chrome {
        title: title.clone(),
        crumbs: vec![super::Crumb { label: c.t("sec-title"), href: Some(DESK.into()) }, super::Crumb { label: title, href: None }],
        ..c
    };
    let steps = steps
        .iter()
        .map(|st| StepRow {
            at: super::local_time(st.at_ms),
            who: st.actor.clone(),
            state: c.t(&format!("sec-alert-{}", st.state)),
            assignee: st.assignee.clone().unwrap_or_default(),
            note: st.note.clone(),
        })
        .collect();
    let search = (a.key.contains(':') || a.key.len() == 16).then(|| {
        let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        if a.key.contains(':') { format!("{DESK}?attore={}", enc(&a.key)) } else { format!("{DESK}?soggetto={}", enc(&a.key)) }
    });
    Ok(AlertPage {
        id,
        what: describe(&c, &a),
        rule: a.rule.clone(),
        key: a.key.clone(),
        count: a.count,
        first: super::local_time(a.first_seen),
        last: super::local_time(a.last_seen),
        state: a.state,
        state_label: c.t(&format!("sec-alert-{}", a.state)),
        assignee: a.assignee.clone().unwrap_or_else(|| s.o.s.operator().username.clone()),
        steps,
        search,
        csrf: s.o.s.0.session.csrf_token.clone(),
        typed,
        errors,
        notice,
        c,
    })
}

/// An alert with its steps and the form that moves it.
async fn alert_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    s: WebSecurity,
    q: Result<Query<AlertQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let saved = q.ok().and_then(|q| q.0.salvato).is_some();
    let notice = saved.then(|| s.o.ui.t("sec-alert-saved"));
    let page = alert_view(&state, &s, &id, HashMap::new(), Vec::new(), notice).await?;
    Ok(html(StatusCode::OK, &page))
}

/// Moves an alert: acknowledge, close, reopen, assign, always with a note.
async fn alert_update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    s: WebSecurity,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = form.map(|f| f.0).unwrap_or_default();
    let get = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    s.o.check_csrf(&headers, get("csrf"))?;
    let number: i64 = id.parse().map_err(|_| s.o.fail(ApiError::NotFound("no such alert".into())))?;
    let refuse = |errors: Vec<(String, String)>, status: StatusCode| {
        let (state, s, id, values) = (&state, &s, &id, values.clone());
        async move {
            let page = alert_view(state, s, id, values, errors, None).await?;
            Err::<Response, Response>(html(status, &page))
        }
    };
    let (Some(from), Some(to)) = (AlertState::parse(get("da")), AlertState::parse(get("stato"))) else {
        return refuse(vec![("stato".into(), s.o.ui.why(&anagrafe_domain::Why::new("required")))], StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let update = AlertUpdate { from, to, assignee: Some(get("assegnatario").to_owned()), note: get("nota").to_owned() };
    match state.security().update_alert(&s.principal, number, &update, &*state.clock).await {
        Ok(_) => Ok(super::see_other(&format!("{DESK}/allarmi/{number}?salvato=1"))),
        Err(e @ ServiceError::Invalid(_)) => {
            let errors = e.field_errors().into_iter().map(|f| (f.field.clone(), s.o.ui.why(&f.reason))).collect();
            refuse(errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ServiceError::Malformed { field, .. }) => {
            refuse(vec![(field, s.o.ui.t("sec-alert-note-help"))], StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ServiceError::Conflict(_)) => refuse(vec![(String::new(), s.o.ui.t("sec-alert-conflict"))], StatusCode::CONFLICT).await,
        Err(e) => Err(s.o.fail(e.into())),
    }
}

#[derive(serde::Deserialize, Default)]
struct ReportQuery {
    #[serde(default)]
    periodo: String,
    #[serde(default)]
    data: String,
    #[serde(default)]
    formato: String,
}

/// A report of a day, week or month holding the date asked (today when none), as PDF or JSON:
/// downloaded, never cached.
async fn report(
    State(state): State<AppState>,
    s: WebSecurity,
    q: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    use anagrafe_service::report::{self, Period};
    let q = q.map(|q| q.0).unwrap_or_default();
    let bad = |field: &str, key: &str| s.o.fail(ApiError::field(field, s.o.ui.t(key)));
    let period = Period::parse(&q.periodo).ok_or_else(|| bad("periodo", "sec-report-err-period"))?;
    let day = if q.data.trim().is_empty() {
        anagrafe_domain::ops::italian_date(state.clock.now())
    } else {
        super::parse_date(q.data.trim()).ok_or_else(|| bad("data", "sec-err-date"))?
    };
    let r = report::for_officer(&*state.store, &s.principal, period, day, &*state.clock).await.map_err(|e| s.o.fail(e.into()))?;
    let (body, kind, ext) = match q.formato.as_str() {
        "json" => (report::json(&r), "application/json", "json"),
        _ => (report::pdf(&r).await.map_err(|e| s.o.fail(e.into()))?, "application/pdf", "pdf"),
    };
    let mut resp = axum::response::IntoResponse::into_response(body);
    let h = resp.headers_mut();
    h.insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static(kind));
    h.insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("attachment; filename=\"{}.{ext}\"", report::file_stem(&r))) {
        h.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
