//! The extracts' user census (VIS-1, VIS-2): a TOP user of the registry office lists and manages
//! the users of every organisation of the comune, an ADMIN user those of their own; each
//! creation and change asks for the acting user's password and a fresh code, as the system
//! administrator's do. A thin door over the census of
//! [`anagrafe_service::extracts::ExtractDesk`], which checks who may manage whom.

use super::super::admin::{confirm, temporary_password, without_secrets};
use super::super::form::{Field, Opt};
use super::super::{Chrome, Crumb, PageResult, html};
use super::{DESK, WebRequester};
use crate::AppState;
use anagrafe_domain::Role;
use anagrafe_service::ServiceError;
use anagrafe_service::extracts::{NewUser, UserChange};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

/// The census page.
pub(super) const USERS: &str = "/ufficio/visure/utenti";

struct UserRow {
    username: String,
    name: String,
    roles: String,
    second_factor: bool,
    suspended: bool,
    href: String,
}

#[derive(Template)]
#[template(path = "office/extracts-users.html")]
struct UsersPage {
    c: Chrome,
    csrf: String,
    rows: Vec<UserRow>,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
}

impl UsersPage {
    fn error_of(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }
}

fn chrome(w: &WebRequester, title: String) -> Chrome {
    let c = w.o.chrome_under("vis-users-title", "vis-title", DESK);
    let crumbs = if title == c.t("vis-users-title") {
        vec![Crumb { label: c.t("vis-title"), href: Some(DESK.into()) }, Crumb { label: title.clone(), href: None }]
    } else {
        vec![
            Crumb { label: c.t("vis-title"), href: Some(DESK.into()) },
            Crumb { label: c.t("vis-users-title"), href: Some(USERS.into()) },
            Crumb { label: title.clone(), href: None },
        ]
    };
    Chrome { title, crumbs, ..c }
}

fn with_values(list: Vec<Field>, typed: &HashMap<String, String>, errors: &[(String, String)]) -> Vec<Field> {
    super::super::form::filled(list, typed, errors)
}

async fn users_view(
    state: &AppState,
    w: &WebRequester,
    typed: &HashMap<String, String>,
    errors: Vec<(String, String)>,
) -> Result<UsersPage, Response> {
    let c = chrome(w, w.o.ui.t("vis-users-title"));
    let desk = state.extracts();
    let orgs = desk.managed_orgs(&w.r).await.map_err(|e| w.o.fail(e.into()))?;
    let names: HashMap<&str, &str> = orgs.iter().map(|o| (o.code.as_str(), o.name.as_str())).collect();
    let users = desk.users(&w.r).await.map_err(|e| w.o.fail(e.into()))?;
    let rows = users
        .into_iter()
        .map(|u| UserRow {
            roles: u
                .grants
                .iter()
                .map(|(role, org)| {
                    format!("{} — {}", c.t(&format!("role-{}", role.as_str())), names.get(org.as_str()).copied().unwrap_or(org))
                })
                .collect::<Vec<_>>()
                .join("; "),
            href: format!("{USERS}/{}", u.username),
            username: u.username,
            name: u.name,
            second_factor: u.second_factor,
            suspended: u.suspended,
        })
        .collect();
    let org_opts = orgs.iter().map(|o| Opt { value: o.code.clone(), label: o.name.clone() }).collect();
    let roles = if w.r.principal.role == Role::PaTop {
        &[Role::PaTop, Role::PaAdmin, Role::PaStandard, Role::PaStandardPs][..]
    } else {
        &[Role::PaAdmin, Role::PaStandard, Role::PaStandardPs][..]
    };
    let role_opts = roles.iter().map(|r| Opt { value: r.as_str().to_owned(), label: c.t(&format!("role-{}", r.as_str())) }).collect();
    let fields = with_values(
        vec![
            Field::input("username", c.t("adm-f-username"), 64, "col-md-6").required().help(c.t("adm-f-username-help")),
            Field::input("nome", c.t("adm-f-name"), 120, "col-md-6").required(),
            Field::input("codice_fiscale", c.t("adm-f-cf"), 16, "col-md-6").required(),
            Field::choice("organizzazione", c.t("vis-f-org"), org_opts, "col-md-6").required(),
            Field::choice("ruolo", c.t("adm-f-role"), role_opts, "col-md-6").required(),
            Field::input("email", c.t("vis-users-email"), 254, "col-md-6").help(c.t("vis-users-email-help")),
        ],
        typed,
        &errors,
    );
    Ok(UsersPage { csrf: w.o.s.0.session.csrf_token.clone(), rows, fields, errors, c })
}

pub(super) async fn users(State(state): State<AppState>, w: WebRequester) -> PageResult {
    let page = users_view(&state, &w, &HashMap::new(), Vec::new()).await?;
    Ok(html(StatusCode::OK, &page))
}

/// Field errors of a refused use case, in the page's words.
fn field_errors(w: &WebRequester, e: ServiceError) -> Result<Vec<(String, String)>, Response> {
    match e {
        e @ ServiceError::Invalid(_) => Ok(e.field_errors().into_iter().map(|f| (f.field.clone(), w.o.ui.why(&f.reason))).collect()),
        e => Err(w.o.fail(e.into())),
    }
}

/// Creates a user: a temporary password shown once, to hand to them.
pub(super) async fn create(
    State(state): State<AppState>,
    axum::Extension(addr): axum::Extension<crate::auth::limits::ClientAddr>,
    headers: HeaderMap,
    w: WebRequester,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = form.map(|f| f.0).unwrap_or_default();
    let get = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    w.o.check_csrf(&headers, get("csrf"))?;
    // Only TOP and ADMIN users manage users, before anything else is looked at.
    state.extracts().managed_orgs(&w.r).await.map_err(|e| w.o.fail(e.into()))?;
    let refuse = |errors: Vec<(String, String)>| {
        let (state, w, typed) = (&state, &w, without_secrets(&values));
        async move {
            let page = users_view(state, w, &typed, errors).await?;
            Err::<Response, Response>(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    };
    let Ok(role) = Role::parse(get("ruolo")) else {
        return refuse(vec![("ruolo".into(), w.o.ui.why(&anagrafe_domain::Why::new("census-role")))]).await;
    };
    let errors = confirm(&state, &w.o, &addr, &values).await?;
    if !errors.is_empty() {
        return refuse(errors).await;
    }
    let new = NewUser {
        username: get("username").trim().to_owned(),
        display_name: get("nome").to_owned(),
        codice_fiscale: get("codice_fiscale").to_owned(),
        role,
        org_code: get("organizzazione").to_owned(),
        email: Some(get("email").to_owned()).filter(|e| !e.trim().is_empty()),
    };
    let (temporary, hash) = temporary_password(&state, &w.o).await?;
    if let Err(e) = state.extracts().create_user(&w.r, &new, hash).await {
        return refuse(field_errors(&w, e)?).await;
    }
    let page = user_view(&state, &w, &new.username, Vec::new(), Some(w.o.ui.t("adm-created")), Some(temporary)).await?;
    Ok(html(StatusCode::CREATED, &page))
}

#[derive(Template)]
#[template(path = "office/extracts-user.html")]
struct UserPage {
    c: Chrome,
    csrf: String,
    username: String,
    facts: Vec<(String, String)>,
    suspended: bool,
    /// The address the notices reach them at (empty: none).
    email: String,
    errors: Vec<(String, String)>,
    notice: Option<String>,
    /// A temporary password just set: shown once.
    temporary: Option<String>,
}

impl UserPage {
    fn error_of(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }
}

async fn user_view(
    state: &AppState,
    w: &WebRequester,
    username: &str,
    errors: Vec<(String, String)>,
    notice: Option<String>,
    temporary: Option<String>,
) -> Result<UserPage, Response> {
    let o = state.extracts().user(&w.r, username).await.map_err(|e| w.o.fail(e.into()))?;
    let email = state.extracts().user_email(&w.r, username).await.map_err(|e| w.o.fail(e.into()))?.unwrap_or_default();
    let c = chrome(w, o.username.clone());
    let yes_no = |b: bool| c.t(if b { "adm-yes" } else { "adm-no" });
    let facts = vec![
        (c.t("adm-f-name"), o.display_name.clone()),
        (c.t("adm-f-cf"), o.codice_fiscale.clone().unwrap_or_default()),
        (
            c.t("adm-f-role"),
            o.roles.iter().map(|g| format!("{} — {}", c.t(&format!("role-{}", g.role.as_str())), g.scope)).collect::<Vec<_>>().join("; "),
        ),
        (c.t("vis-users-second-factor"), yes_no(o.totp_secret.is_some())),
        (c.t("vis-users-suspended"), yes_no(o.disabled)),
        (c.t("vis-users-email"), if email.is_empty() { c.t("vis-users-email-none") } else { email.clone() }),
    ];
    Ok(UserPage {
        csrf: w.o.s.0.session.csrf_token.clone(),
        username: o.username,
        facts,
        email,
        suspended: o.disabled,
        errors,
        notice,
        temporary,
        c,
    })
}

pub(super) async fn user(State(state): State<AppState>, Path(username): Path<String>, w: WebRequester) -> PageResult {
    let page = user_view(&state, &w, &username, Vec::new(), None, None).await?;
    Ok(html(StatusCode::OK, &page))
}

/// One change to a user (`azione`: sospendi, riattiva, reimposta), confirmed with the acting
/// user's password and code.
pub(super) async fn change(
    State(state): State<AppState>,
    axum::Extension(addr): axum::Extension<crate::auth::limits::ClientAddr>,
    Path(username): Path<String>,
    headers: HeaderMap,
    w: WebRequester,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = form.map(|f| f.0).unwrap_or_default();
    let get = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    w.o.check_csrf(&headers, get("csrf"))?;
    let refuse = |errors: Vec<(String, String)>| {
        let (state, w, username) = (&state, &w, &username);
        async move {
            let page = user_view(state, w, username, errors, None, None).await?;
            Err::<Response, Response>(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    };
    // The user must be one the caller manages before any code is spent on them.
    state.extracts().user(&w.r, &username).await.map_err(|e| w.o.fail(e.into()))?;
    let mut temporary = None;
    let change = match get("azione") {
        "sospendi" => UserChange::Suspend,
        "riattiva" => UserChange::Reactivate,
        "reimposta" => {
            let (t, hash) = temporary_password(&state, &w.o).await?;
            temporary = Some(t);
            UserChange::Reset { password_hash: hash }
        }
        "email" => UserChange::Email(Some(get("email").to_owned()).filter(|e| !e.trim().is_empty())),
        _ => return refuse(vec![("azione".into(), w.o.ui.t("adm-err-action"))]).await,
    };
    let errors = confirm(&state, &w.o, &addr, &values).await?;
    if !errors.is_empty() {
        return refuse(errors).await;
    }
    if let Err(e) = state.extracts().change_user(&w.r, &username, change).await {
        return refuse(field_errors(&w, e)?).await;
    }
    let page = user_view(&state, &w, &username, Vec::new(), Some(w.o.ui.t("adm-changed")), temporary).await?;
    Ok(html(StatusCode::OK, &page))
}
