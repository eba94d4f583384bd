//! The system administrator's desk (issue 18, item 5): the operators with their roles, second
//! factors and locks; the blocked addresses; the state of the register's keys, seal and trace;
//! and the accounts' administration (create, suspend, reactivate, reset the second factor,
//! grant and revoke a role), each change confirmed with the administrator's password and code
//! again. A thin door over [`anagrafe_service::admin::AdminDesk`].

use super::office::WebOfficerOrAny;
use super::{Chrome, PageResult, html};
use crate::{ApiError, AppState};
use anagrafe_domain::Role;
use anagrafe_service::admin::{AccountChange, NewOperator, grant_of};
use anagrafe_service::{Principal, ServiceError};
use askama::Template;
use axum::Router;
use axum::extract::{Form, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use std::collections::HashMap;

mod clients;

/// The administrator's desk.
pub(super) const DESK: &str = "/ufficio/amministrazione";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ufficio/amministrazione", get(desk))
        .route("/ufficio/amministrazione/operatori", get(new_page).post(create))
        .route("/ufficio/amministrazione/operatori/{username}", get(account_page).post(account_change))
        .merge(clients::routes())
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

/// A public body as the table shows it.
struct BodyRow {
    name: String,
    client_id: String,
    keys: usize,
    purposes: Vec<String>,
    state: String,
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
    /// Web-service clients: id, role, comune, state.
    clients: Vec<(String, String, String, String)>,
    /// Public bodies: name, client id, keys in force, purposes (e-service, daily quota, per
    /// second), state.
    bodies: Vec<BodyRow>,
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
    let state_of = |revoked: bool| c.t(if revoked { "adm-state-revoked" } else { "adm-state-active" });
    let clients = ov
        .clients
        .iter()
        .map(|k| {
            (
                k.client_id.clone(),
                c.t(&format!("role-{}", k.role.as_str())),
                k.comune.map(|b| b.to_string()).unwrap_or_default(),
                state_of(k.revoked),
            )
        })
        .collect();
    let bodies = ov
        .bodies
        .iter()
        .map(|b| BodyRow {
            name: b.name.clone(),
            client_id: b.client_id.clone(),
            keys: b.keys.iter().filter(|k| !k.revoked).count(),
            purposes: b
                .purposes
                .iter()
                .map(|p| {
                    super::i18n::t_args(
                        c.lang,
                        if p.revoked { "adm-purpose-revoked" } else { "adm-purpose" },
                        &[("eservice", &p.eservice), ("quota", &p.daily_quota.to_string()), ("rate", &p.per_second.to_string())],
                    )
                })
                .collect(),
            state: state_of(b.revoked),
        })
        .collect();
    Ok(html(StatusCode::OK, &DeskPage { operators, clients, bodies, blocked, keys, c }))
}

/// The roles an administrator can grant, with their labels.
fn role_options(c: &Chrome) -> Vec<(String, String)> {
    Role::OPERATOR.iter().map(|r| (r.as_str().to_owned(), c.t(&format!("role-{}", r.as_str())))).collect()
}

#[derive(Template)]
#[template(path = "office/admin-new.html")]
struct NewPage {
    c: Chrome,
    csrf: String,
    role_options: Vec<(String, String)>,
    typed: HashMap<String, String>,
    errors: Vec<(String, String)>,
}

impl NewPage {
    fn error_of(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }

    fn typed(&self, name: &str) -> &str {
        self.typed.get(name).map_or("", String::as_str)
    }
}

fn new_view(a: &WebAdmin, typed: HashMap<String, String>, errors: Vec<(String, String)>) -> NewPage {
    let c = a.o.chrome_under("adm-new-title", "adm-title", DESK);
    let title = c.t("adm-new-title");
    let c = Chrome {
        crumbs: vec![super::Crumb { label: c.t("adm-title"), href: Some(DESK.into()) }, super::Crumb { label: title, href: None }],
        ..c
    };
    NewPage { role_options: role_options(&c), csrf: a.o.s.0.session.csrf_token.clone(), typed, errors, c }
}

async fn new_page(a: WebAdmin) -> PageResult {
    Ok(html(StatusCode::OK, &new_view(&a, HashMap::new(), Vec::new())))
}

/// The form as typed, for the page shown again after a refusal: never the password or code.
pub(super) fn without_secrets(values: &HashMap<String, String>) -> HashMap<String, String> {
    values.iter().filter(|(k, _)| !matches!(k.as_str(), "password" | "codice")).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A new temporary password and its hash (a new account, a reset).
pub(super) async fn temporary_password(state: &AppState, o: &super::office::WebOfficer) -> Result<(String, String), Response> {
    let t = crate::auth::password::temporary();
    let hash = crate::auth::password::hash(t.clone(), state.auth.password_cost).await.map_err(|e| o.fail(ApiError::Internal(e)))?;
    Ok((t, hash))
}

/// Field errors of a refused use case, in the page's words.
fn field_errors(a: &WebAdmin, e: ServiceError) -> Result<Vec<(String, String)>, Response> {
    match e {
        e @ ServiceError::Invalid(_) => Ok(e.field_errors().into_iter().map(|f| (f.field.clone(), a.o.ui.why(&f.reason))).collect()),
        e => Err(a.o.fail(e.into())),
    }
}

/// Checks the administrator's password and code again (`password`, `codice`): the fields'
/// errors, or nothing. Wrong answers count as failed logins.
pub(super) async fn confirm(
    state: &AppState,
    o: &super::office::WebOfficer,
    addr: &crate::auth::limits::ClientAddr,
    values: &HashMap<String, String>,
) -> Result<Vec<(String, String)>, Response> {
    let get = |k: &str| values.get(k).cloned().unwrap_or_default();
    if get("password").is_empty() || get("codice").trim().is_empty() {
        return Ok(vec![("password".into(), o.ui.t("adm-confirm-missing"))]);
    }
    match crate::auth::confirm_identity(state, addr, &o.s, get("password"), get("codice").trim()).await {
        Ok(()) => Ok(Vec::new()),
        Err(ApiError::Unauthorized(_) | ApiError::BadRequest { .. }) => Ok(vec![("password".into(), o.ui.t("adm-confirm-wrong"))]),
        Err(e) => Err(o.fail(e)),
    }
}

/// Creates an account: a temporary password shown once, to hand to the operator.
async fn create(
    State(state): State<AppState>,
    axum::Extension(addr): axum::Extension<crate::auth::limits::ClientAddr>,
    headers: HeaderMap,
    a: WebAdmin,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = form.map(|f| f.0).unwrap_or_default();
    let get = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    a.o.check_csrf(&headers, get("csrf"))?;
    let refuse = |errors| {
        let typed = without_secrets(&values);
        Err(html(StatusCode::UNPROCESSABLE_ENTITY, &new_view(&a, typed, errors)))
    };
    let grant = match grant_of(get("ruolo"), get("ambito"), get("mediatore") == "1") {
        Ok(g) => g,
        Err(e) => return refuse(field_errors(&a, e)?),
    };
    let errors = confirm(&state, &a.o, &addr, &values).await?;
    if !errors.is_empty() {
        return refuse(errors);
    }
    let new = NewOperator {
        username: get("username").to_owned(),
        display_name: get("nome").to_owned(),
        codice_fiscale: Some(get("codice_fiscale").to_owned()),
        roles: vec![grant],
    };
    let (temporary, hash) = temporary_password(&state, &a.o).await?;
    if let Err(e) = state.admin().create_operator(&a.principal, &new, hash).await {
        return refuse(field_errors(&a, e)?);
    }
    let page =
        account_view(&state, &a, new.username.trim(), HashMap::new(), Vec::new(), Some(a.o.ui.t("adm-created")), Some(temporary)).await?;
    Ok(html(StatusCode::CREATED, &page))
}

#[derive(Template)]
#[template(path = "office/admin-operator.html")]
struct AccountPage {
    c: Chrome,
    username: String,
    name: String,
    cf: String,
    roles: Vec<(String, String, String, bool)>,
    second_factor: bool,
    disabled: bool,
    role_options: Vec<(String, String)>,
    csrf: String,
    typed: HashMap<String, String>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
    /// A temporary password just set: shown once.
    temporary: Option<String>,
}

impl AccountPage {
    fn error_of(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }

    fn typed(&self, name: &str) -> &str {
        self.typed.get(name).map_or("", String::as_str)
    }
}

async fn account_view(
    state: &AppState,
    a: &WebAdmin,
    username: &str,
    typed: HashMap<String, String>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
    temporary: Option<String>,
) -> Result<AccountPage, Response> {
    let o = state.admin().operator(&a.principal, username).await.map_err(|e| a.o.fail(e.into()))?;
    let c = a.o.chrome_under("adm-title", "adm-title", DESK);
    let c = Chrome {
        title: c.t1("adm-account-title", "username", &o.username),
        crumbs: vec![
            super::Crumb { label: c.t("adm-title"), href: Some(DESK.into()) },
            super::Crumb { label: o.username.clone(), href: None },
        ],
        ..c
    };
    let roles = o
        .roles
        .iter()
        .map(|g| (g.role.as_str().to_owned(), c.t(&format!("role-{}", g.role.as_str())), g.scope.clone(), g.mediator))
        .collect();
    Ok(AccountPage {
        username: o.username.clone(),
        name: o.display_name.clone(),
        cf: o.codice_fiscale.clone().unwrap_or_default(),
        roles,
        second_factor: o.totp_secret.is_some(),
        disabled: o.disabled,
        role_options: role_options(&c),
        csrf: a.o.s.0.session.csrf_token.clone(),
        typed,
        errors,
        notice,
        temporary,
        c,
    })
}

async fn account_page(State(state): State<AppState>, Path(username): Path<String>, a: WebAdmin) -> PageResult {
    let page = account_view(&state, &a, &username, HashMap::new(), Vec::new(), None, None).await?;
    Ok(html(StatusCode::OK, &page))
}

/// One change to an account (`azione`: sospendi, riattiva, reimposta, concedi, revoca),
/// confirmed with the administrator's password and code.
async fn account_change(
    State(state): State<AppState>,
    axum::Extension(addr): axum::Extension<crate::auth::limits::ClientAddr>,
    Path(username): Path<String>,
    headers: HeaderMap,
    a: WebAdmin,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = form.map(|f| f.0).unwrap_or_default();
    let get = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    a.o.check_csrf(&headers, get("csrf"))?;
    let refuse = |errors: Vec<(String, String)>| {
        let (state, a, username) = (&state, &a, &username);
        let typed = without_secrets(&values);
        async move {
            let page = account_view(state, a, username, typed, errors, None, None).await?;
            Err::<Response, Response>(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    };
    let mut temporary = None;
    let change = match get("azione") {
        "sospendi" => AccountChange::Suspend,
        "riattiva" => AccountChange::Reactivate,
        "reimposta" => {
            let (t, hash) = temporary_password(&state, &a.o).await?;
            temporary = Some(t);
            AccountChange::Reset { password_hash: hash }
        }
        kind @ ("concedi" | "revoca") => match grant_of(get("ruolo"), get("ambito"), get("mediatore") == "1") {
            Ok(g) if kind == "concedi" => AccountChange::Grant(g),
            Ok(g) => AccountChange::Revoke(g),
            Err(e) => return refuse(field_errors(&a, e)?).await,
        },
        _ => return refuse(vec![("azione".into(), a.o.ui.t("adm-err-action"))]).await,
    };
    let errors = confirm(&state, &a.o, &addr, &values).await?;
    if !errors.is_empty() {
        return refuse(errors).await;
    }
    if let Err(e) = state.admin().change_operator(&a.principal, &username, &change).await {
        return refuse(field_errors(&a, e)?).await;
    }
    let page = account_view(&state, &a, &username, HashMap::new(), Vec::new(), Some(a.o.ui.t("adm-changed")), temporary).await?;
    Ok(html(StatusCode::OK, &page))
}
