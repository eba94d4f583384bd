//! The system administrator's desk (issue 18, item 5, begun): the operators with their roles,
//! second factors and locks; the blocked addresses; the state of the register's keys, seal and
//! trace. Read only for now: accounts are managed with `anagrafe operator` (`docs/access.md`).
//! A thin door over [`anagrafe_service::admin::AdminDesk`].

use super::office::WebOfficerOrAny;
use super::{Chrome, PageResult, html};
use crate::{ApiError, AppState};
use anagrafe_domain::Role;
use anagrafe_service::Principal;
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::get;

/// The administrator's desk.
pub(super) const DESK: &str = "/ufficio/amministrazione";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/ufficio/amministrazione", get(desk))
}

/// An operator with the system administrator's role, from a session with both factors.
struct WebAdmin {
    o: super::office::WebOfficer,
    principal: Principal,
}

impl FromRequestParts<AppState> for WebAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let WebOfficerOrAny(o) = WebOfficerOrAny::from_request_parts(parts, state).await?;
        if !o.s.operator().roles.iter().any(|g| g.role == Role::SystemAdmin) {
            return Err(o.fail(ApiError::Forbidden("the administration's pages are for the system administrator".into())));
        }
        let principal = Principal::system_admin(
            &o.s.operator().username,
            &o.s.0.session.auth_mode,
            crate::middleware::current_request_id().unwrap_or_default(),
        )
        .with_codice_fiscale(o.s.operator().codice_fiscale.clone());
        Ok(WebAdmin { o, principal })
    }
}

/// One operator as the table shows it.
struct OperatorRow {
    username: String,
    name: String,
    roles: String,
    second_factor: bool,
    state: String,
    has_cf: bool,
}

#[derive(Template)]
#[template(path = "office/admin.html")]
struct DeskPage {
    c: Chrome,
    operators: Vec<OperatorRow>,
    blocked: Vec<String>,
    keys: Vec<(String, String)>,
}

async fn desk(State(state): State<AppState>, a: WebAdmin) -> PageResult {
    let c = a.o.chrome_under("adm-title", "adm-title", DESK);
    let c = Chrome { crumbs: vec![super::Crumb { label: c.t("adm-title"), href: None }], ..c };
    let ov = state.admin().overview(&a.principal).await.map_err(|e| a.o.fail(e.into()))?;
    let now = state.clock.now_ms();
    let operators = ov
        .operators
        .iter()
        .map(|o| OperatorRow {
            username: o.username.clone(),
            name: o.display_name.clone(),
            roles: o
                .roles
                .iter()
                .map(|g| if g.scope.is_empty() { g.role.as_str().to_owned() } else { format!("{}@{}", g.role.as_str(), g.scope) })
                .collect::<Vec<_>>()
                .join(", "),
            second_factor: o.totp_secret.is_some(),
            state: c.t(if o.disabled {
                "adm-state-disabled"
            } else if o.locked_until.is_some_and(|u| u > now) {
                "adm-state-locked"
            } else if o.must_change_password {
                "adm-state-must-change"
            } else {
                "adm-state-active"
            }),
            has_cf: o.codice_fiscale.is_some(),
        })
        .collect();
    let blocked = ov
        .blocked
        .iter()
        .map(|(addr, until)| super::i18n::t_args(c.lang, "adm-blocked-until", &[("address", addr), ("until", &super::local_time(*until))]))
        .collect();
    let yes_no = |b: bool| c.t(if b { "adm-yes" } else { "adm-no" });
    let mut keys = vec![
        (c.t("adm-key-register"), yes_no(state.register_signer.is_some())),
        (c.t("adm-key-secrets"), yes_no(state.secrets.is_some())),
        (c.t("adm-key-id"), yes_no(state.issuer.as_ref().is_some_and(|i| i.high_water.is_some()))),
        (c.t("adm-key-seal"), state.certificates.as_ref().map_or_else(|| c.t("adm-no"), |certs| certs.seal.subject())),
    ];
    keys.push((
        c.t("adm-trace"),
        match &ov.last_checkpoint {
            Some(cp) => super::i18n::t_args(
                c.lang,
                "adm-trace-signed",
                &[("head", &ov.trace_head.to_string()), ("seq", &cp.seq.to_string()), ("at", &super::local_time(cp.at_ms))],
            ),
            None => c.t1("adm-trace-unsigned", "head", &ov.trace_head.to_string()),
        },
    ));
    Ok(html(StatusCode::OK, &DeskPage { operators, blocked, keys, c }))
}
