//! The security officer's desk (SEC-5, issue 18 item 4): the trace's state at a glance and the
//! search of the trace by actor, person, operation, outcome and period, newest first. A thin
//! door over [`anagrafe_service::security::SecurityDesk`], which checks the role and traces
//! every search.

use super::office::WebOfficerOrAny;
use super::{Chrome, PageResult, html};
use crate::{ApiError, AppState};
use anagrafe_domain::Role;
use anagrafe_service::security::{TraceSearch, TraceState};
use anagrafe_service::{Principal, ServiceError};
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::get;

/// The security officer's desk.
pub(super) const DESK: &str = "/ufficio/sicurezza";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/ufficio/sicurezza", get(desk))
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
    /// What the analysis rules find now, in words.
    findings: Vec<String>,
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
    let findings = desk
        .findings(&s.principal, &anagrafe_service::security::rules(), &*state.clock)
        .await
        .map_err(|e| s.o.fail(e.into()))?
        .into_iter()
        .map(|f| {
            super::i18n::t_args(
                c.lang,
                &format!("sec-rule-{}", f.rule.id),
                &[
                    ("key", &f.key),
                    ("count", &f.count.to_string()),
                    ("threshold", &f.rule.threshold.to_string()),
                    ("minutes", &(f.rule.window_s / 60).to_string()),
                ],
            )
        })
        .collect();
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
    let page = DeskPage { head: st.head, findings, checkpoint, unsigned: st.unsigned(), q, errors, searched, rows, older, c };
    Ok(html(status, &page))
}

impl DeskPage {
    fn error_of(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }
}
