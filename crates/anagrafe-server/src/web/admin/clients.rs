//! The administrator's pages for the register's machine clients (issue 18, item 5): register,
//! re-key, revoke and reinstate a comune's software (`/api/v1`) and a public body of the
//! e-services (keys, purposes and their limits), and lift an address's block. Each change is
//! confirmed with the administrator's password and a fresh code, as for the accounts. A thin
//! door over [`anagrafe_service::admin::AdminDesk`].

use super::{WebAdmin, confirm, field_errors, without_secrets};
use crate::AppState;
use crate::web::form::{Field, Opt};
use crate::web::{Chrome, Crumb, PageResult, html};
use anagrafe_service::admin::{BodyChange, ClientChange, api_client_of, body_of, key_fingerprint, purpose_of};
use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use std::collections::HashMap;

const CLIENTS: &str = "/ufficio/amministrazione/client";
const BODIES: &str = "/ufficio/amministrazione/enti";
const BLOCKS: &str = "/ufficio/amministrazione/blocchi";

/// The paths are written out (not the constants above) so that the authorisation matrix's test
/// finds every route in the source.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ufficio/amministrazione/client", get(new_client_page).post(new_client))
        .route("/ufficio/amministrazione/client/{id}", get(client_page).post(client_change))
        .route("/ufficio/amministrazione/enti", get(new_body_page).post(new_body))
        .route("/ufficio/amministrazione/enti/{id}", get(body_page).post(body_change))
        .route("/ufficio/amministrazione/blocchi", get(blocks_page).post(unblock))
}

/// One page of the administration: facts, a list, and a form confirmed with password and code.
#[derive(Template)]
#[template(path = "office/admin-form.html")]
struct FormPage {
    c: Chrome,
    lead: String,
    notice: Option<String>,
    errors: Vec<(String, String)>,
    facts: Vec<(String, String)>,
    lines_title: String,
    lines: Vec<String>,
    action: String,
    legend: String,
    form_help: String,
    fields: Vec<Field>,
    submit: String,
    csrf: String,
}

impl FormPage {
    fn error_of(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }

    /// A page titled `title` under the desk, its form posting to `action`.
    fn new(a: &WebAdmin, title: String, action: String) -> Self {
        let c = a.o.chrome_under("adm-title", "adm-title", super::DESK);
        let c = Chrome {
            crumbs: vec![Crumb { label: c.t("adm-title"), href: Some(super::DESK.into()) }, Crumb { label: title.clone(), href: None }],
            title,
            ..c
        };
        FormPage {
            submit: c.t("adm-submit-change"),
            legend: c.t("adm-change"),
            c,
            lead: String::new(),
            notice: None,
            errors: Vec::new(),
            facts: Vec::new(),
            lines_title: String::new(),
            lines: Vec::new(),
            action,
            form_help: String::new(),
            fields: Vec::new(),
            csrf: a.o.s.0.session.csrf_token.clone(),
        }
    }

    /// The form's fields, each with the value typed and its own error.
    fn with_fields(mut self, fields: Vec<Field>, typed: &HashMap<String, String>, errors: Vec<(String, String)>) -> Self {
        self.fields = super::super::form::filled(fields, typed, &errors);
        self.errors = errors;
        self
    }

    fn status(&self) -> StatusCode {
        if self.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY }
    }
}

type Values = HashMap<String, String>;

/// The form's values, after the CSRF check.
fn values_of(
    a: &WebAdmin,
    headers: &HeaderMap,
    form: Result<Form<Values>, axum::extract::rejection::FormRejection>,
) -> Result<Values, Response> {
    let values = form.map(|f| f.0).unwrap_or_default();
    a.o.check_csrf(headers, values.get("csrf").map(String::as_str).unwrap_or_default())?;
    Ok(values)
}

fn value<'v>(values: &'v Values, k: &str) -> &'v str {
    values.get(k).map(String::as_str).unwrap_or_default()
}

fn opts(c: &Chrome, list: &[(&str, &str)]) -> Vec<Opt> {
    list.iter().map(|(v, k)| Opt { value: (*v).to_owned(), label: c.t(k) }).collect()
}

fn key_field(c: &Chrome) -> Field {
    Field::text_area("chiave", c.t("adm-f-key"), 4000).help(c.t("adm-f-key-help"))
}

/// A body's key may also be RSA.
fn body_key_field(c: &Chrome) -> Field {
    Field::text_area("chiave", c.t("adm-f-key"), 4000).help(c.t("adm-f-body-key-help"))
}

// ---- The comuni's software ----

fn new_client_form(a: &WebAdmin, typed: &Values, errors: Vec<(String, String)>) -> FormPage {
    let mut p = FormPage::new(a, a.o.ui.t("adm-client-new"), CLIENTS.into());
    p.lead = p.c.t("adm-client-new-lead");
    p.legend = p.c.t("adm-client-new");
    p.submit = p.c.t("adm-submit-register");
    let c = &p.c;
    let fields = vec![
        Field::input("id", c.t("adm-f-client-id"), 64, "col-md-6").required().help(c.t("adm-f-client-id-help")),
        Field::choice(
            "ruolo",
            c.t("adm-col-roles"),
            opts(c, &[("comune", "role-comune"), ("revenue_agency", "role-revenue_agency")]),
            "col-md-6",
        ),
        Field::input("comune", c.t("adm-col-comune"), 4, "col-md-6").help(c.t("adm-f-comune-help")),
        key_field(c).required(),
    ];
    p.with_fields(fields, typed, errors)
}

async fn new_client_page(a: WebAdmin) -> PageResult {
    let p = new_client_form(&a, &Values::new(), Vec::new());
    Ok(html(p.status(), &p))
}

async fn new_client(
    State(state): State<AppState>,
    axum::Extension(addr): axum::Extension<crate::auth::limits::ClientAddr>,
    headers: HeaderMap,
    a: WebAdmin,
    form: Result<Form<Values>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = values_of(&a, &headers, form)?;
    let refuse = |errors| {
        let p = new_client_form(&a, &without_secrets(&values), errors);
        Err(html(p.status(), &p))
    };
    let client = match api_client_of(value(&values, "id"), value(&values, "ruolo"), value(&values, "comune"), value(&values, "chiave")) {
        Ok(c) => c,
        Err(e) => return refuse(field_errors(&a, e)?),
    };
    let errors = confirm(&state, &a.o, &addr, &values).await?;
    if !errors.is_empty() {
        return refuse(errors);
    }
    if let Err(e) = state.admin().register_api_client(&a.principal, &client).await {
        return refuse(field_errors(&a, e)?);
    }
    let p = client_view(&state, &a, &client.client_id, &Values::new(), Vec::new(), Some(a.o.ui.t("adm-registered"))).await?;
    Ok(html(StatusCode::CREATED, &p))
}

async fn client_view(
    state: &AppState,
    a: &WebAdmin,
    id: &str,
    typed: &Values,
    errors: Vec<(String, String)>,
    notice: Option<String>,
) -> Result<FormPage, Response> {
    let k = state.admin().api_client(&a.principal, id).await.map_err(|e| a.o.fail(e.into()))?;
    let mut p = FormPage::new(
        a,
        crate::web::i18n::t_args(a.o.ui.lang, "adm-client-title", &[("id", &k.client_id)]),
        format!("{CLIENTS}/{}", k.client_id),
    );
    p.notice = notice;
    let c = &p.c;
    p.facts = vec![
        (c.t("adm-f-client-id"), k.client_id.clone()),
        (c.t("adm-col-roles"), c.t(&format!("role-{}", k.role.as_str()))),
        (c.t("adm-col-comune"), k.comune.map(|b| b.to_string()).unwrap_or_else(|| "—".into())),
        (c.t("adm-f-fingerprint"), key_fingerprint(&k.public_key_pem)),
        (c.t("adm-f-push"), k.push_url.clone().unwrap_or_else(|| c.t("adm-no"))),
        (c.t("adm-col-state"), c.t(if k.revoked { "adm-state-revoked" } else { "adm-state-active" })),
    ];
    p.form_help = c.t("adm-client-change-help");
    let toggle = if k.revoked { ("riattiva", "adm-act-reinstate") } else { ("revoca", "adm-act-revoke-client") };
    let fields =
        vec![Field::choice("azione", c.t("adm-f-action"), opts(c, &[toggle, ("chiave", "adm-act-rekey")]), "col-md-6"), key_field(c)];
    Ok(p.with_fields(fields, typed, errors))
}

async fn client_page(State(state): State<AppState>, Path(id): Path<String>, a: WebAdmin) -> PageResult {
    let p = client_view(&state, &a, &id, &Values::new(), Vec::new(), None).await?;
    Ok(html(StatusCode::OK, &p))
}

async fn client_change(
    State(state): State<AppState>,
    axum::Extension(addr): axum::Extension<crate::auth::limits::ClientAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    a: WebAdmin,
    form: Result<Form<Values>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = values_of(&a, &headers, form)?;
    let refuse = |errors: Vec<(String, String)>| {
        let (state, a, id, typed) = (&state, &a, &id, without_secrets(&values));
        async move {
            let p = client_view(state, a, id, &typed, errors, None).await?;
            Err::<Response, Response>(html(StatusCode::UNPROCESSABLE_ENTITY, &p))
        }
    };
    let change = match value(&values, "azione") {
        "revoca" => ClientChange::Revoke,
        "riattiva" => ClientChange::Reinstate,
        "chiave" => ClientChange::Rekey(value(&values, "chiave").to_owned()),
        _ => return refuse(vec![("azione".into(), a.o.ui.t("adm-err-action"))]).await,
    };
    if let ClientChange::Rekey(pem) = &change
        && let Err(e) = anagrafe_service::admin::public_key_of("chiave", pem)
    {
        return refuse(field_errors(&a, e)?).await;
    }
    let errors = confirm(&state, &a.o, &addr, &values).await?;
    if !errors.is_empty() {
        return refuse(errors).await;
    }
    if let Err(e) = state.admin().change_api_client(&a.principal, &id, &change).await {
        return refuse(field_errors(&a, e)?).await;
    }
    let p = client_view(&state, &a, &id, &Values::new(), Vec::new(), Some(a.o.ui.t("adm-changed"))).await?;
    Ok(html(StatusCode::OK, &p))
}

// ---- The public bodies of the e-services ----

fn eservice_options() -> Vec<Opt> {
    anagrafe_domain::eservice::ESERVICES.iter().map(|e| Opt { value: e.code.to_owned(), label: format!("{} {}", e.code, e.name) }).collect()
}

/// The fields of a purpose: e-service, purpose id, daily quota, calls per second.
fn purpose_fields(c: &Chrome) -> Vec<Field> {
    vec![
        Field::choice("eservice", c.t("adm-f-eservice"), eservice_options(), "col-md-6"),
        Field::input("finalita", c.t("adm-f-purpose"), 128, "col-md-6").help(c.t("adm-f-purpose-help")),
        Field::input("quota", c.t("adm-f-quota"), 10, "col-md-6"),
        Field::input("al_secondo", c.t("adm-f-rate"), 7, "col-md-6"),
    ]
}

fn new_body_form(a: &WebAdmin, typed: &Values, errors: Vec<(String, String)>) -> FormPage {
    let mut p = FormPage::new(a, a.o.ui.t("adm-body-new"), BODIES.into());
    p.lead = p.c.t("adm-body-new-lead");
    p.legend = p.c.t("adm-body-new");
    p.submit = p.c.t("adm-submit-register");
    let c = &p.c;
    let mut fields = vec![
        Field::input("id", c.t("adm-f-body-id"), 128, "col-md-6").required().help(c.t("adm-f-body-id-help")),
        Field::input("nome", c.t("adm-col-body"), 200, "col-md-6").required(),
        Field::input("kid", c.t("adm-f-kid"), 128, "col-md-6").required(),
        Field::choice("sicurezza", c.t("adm-f-public-security"), opts(c, &[("no", "adm-no"), ("si", "adm-yes")]), "col-md-6")
            .help(c.t("adm-f-public-security-help")),
        body_key_field(c).required(),
    ];
    fields.extend(purpose_fields(c).into_iter().map(Field::required));
    let mut typed = typed.clone();
    typed.entry("quota".into()).or_insert_with(|| "100000".into());
    typed.entry("al_secondo".into()).or_insert_with(|| "50".into());
    p.with_fields(fields, &typed, errors)
}

async fn new_body_page(a: WebAdmin) -> PageResult {
    let p = new_body_form(&a, &Values::new(), Vec::new());
    Ok(html(p.status(), &p))
}

async fn new_body(
    State(state): State<AppState>,
    axum::Extension(addr): axum::Extension<crate::auth::limits::ClientAddr>,
    headers: HeaderMap,
    a: WebAdmin,
    form: Result<Form<Values>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = values_of(&a, &headers, form)?;
    let refuse = |errors| {
        let p = new_body_form(&a, &without_secrets(&values), errors);
        Err(html(p.status(), &p))
    };
    let v = |k| value(&values, k);
    // Both the purpose's and the body's fields are checked, so every error shows at once.
    let purpose = purpose_of(v("eservice"), v("finalita"), v("quota"), v("al_secondo"), v("nome"));
    let (purposes, mut errors) = match purpose {
        Ok(p) => (vec![p], Vec::new()),
        Err(e) => (Vec::new(), field_errors(&a, e)?),
    };
    let body = body_of(v("id"), v("nome"), v("kid"), v("chiave"), purposes, v("sicurezza") == "si");
    let body = match body {
        Ok(b) if errors.is_empty() => b,
        Ok(_) => return refuse(errors),
        Err(e) => {
            // A purpose refused above is named once, on its own fields.
            let purpose_refused = !errors.is_empty();
            errors.extend(field_errors(&a, e)?.into_iter().filter(|(f, _)| f != "finalita" || !purpose_refused));
            return refuse(errors);
        }
    };
    let errors = confirm(&state, &a.o, &addr, &values).await?;
    if !errors.is_empty() {
        return refuse(errors);
    }
    if let Err(e) = state.admin().register_body(&a.principal, &body).await {
        return refuse(field_errors(&a, e)?);
    }
    let p = body_view(&state, &a, &body.client_id, &Values::new(), Vec::new(), Some(a.o.ui.t("adm-registered"))).await?;
    Ok(html(StatusCode::CREATED, &p))
}

async fn body_view(
    state: &AppState,
    a: &WebAdmin,
    id: &str,
    typed: &Values,
    errors: Vec<(String, String)>,
    notice: Option<String>,
) -> Result<FormPage, Response> {
    let b = state.admin().body(&a.principal, id).await.map_err(|e| a.o.fail(e.into()))?;
    let mut p = FormPage::new(a, b.name.clone(), format!("{BODIES}/{}", b.client_id));
    p.notice = notice;
    let c = &p.c;
    let keys: Vec<String> = b
        .keys
        .iter()
        .filter(|k| !k.revoked)
        .map(|k| format!("{} ({} {})", k.kid, c.t("adm-f-fingerprint"), key_fingerprint(&k.public_key_pem)))
        .collect();
    p.facts = vec![
        (c.t("adm-f-body-id"), b.client_id.clone()),
        (c.t("adm-f-keys-in-force"), if keys.is_empty() { c.t("adm-no") } else { keys.join("; ") }),
        (c.t("adm-f-public-security"), c.t(if b.public_security { "adm-yes" } else { "adm-no" })),
        (c.t("adm-col-state"), c.t(if b.revoked { "adm-state-revoked" } else { "adm-state-active" })),
    ];
    p.lines_title = c.t("adm-col-purposes");
    p.lines = b
        .purposes
        .iter()
        .map(|q| {
            let line = crate::web::i18n::t_args(
                c.lang,
                if q.revoked { "adm-purpose-revoked" } else { "adm-purpose" },
                &[("eservice", &q.eservice), ("quota", &q.daily_quota.to_string()), ("rate", &q.per_second.to_string())],
            );
            format!("{line} — {}", q.purpose_id)
        })
        .collect();
    p.form_help = c.t("adm-body-change-help");
    let toggle = if b.revoked { ("riattiva", "adm-act-reinstate") } else { ("revoca", "adm-act-revoke-client") };
    let actions = opts(
        c,
        &[
            toggle,
            ("limiti", "adm-act-limits"),
            ("aggiungi", "adm-act-add-purpose"),
            ("revoca-finalita", "adm-act-revoke-purpose"),
            ("chiave", "adm-act-rekey"),
        ],
    );
    let mut fields = vec![Field::choice("azione", c.t("adm-f-action"), actions, "col-md-6")];
    fields.extend(purpose_fields(c));
    fields.push(Field::input("kid", c.t("adm-f-kid"), 128, "col-md-6"));
    fields.push(body_key_field(c));
    Ok(p.with_fields(fields, typed, errors))
}

async fn body_page(State(state): State<AppState>, Path(id): Path<String>, a: WebAdmin) -> PageResult {
    let p = body_view(&state, &a, &id, &Values::new(), Vec::new(), None).await?;
    Ok(html(StatusCode::OK, &p))
}

/// The change a body's form asks for, checked; the fields' errors otherwise.
fn body_change_of(values: &Values, name: &str) -> Result<BodyChange, anagrafe_service::ServiceError> {
    let v = |k: &'static str| value(values, k);
    let limit = |field: &'static str, max: i64| {
        v(field)
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| anagrafe_service::ServiceError::invalid(field, anagrafe_domain::Why::new("bad-limit")))
    };
    Ok(match v("azione") {
        "revoca" => BodyChange::Revoke,
        "riattiva" => BodyChange::Reinstate,
        "limiti" => BodyChange::Limits {
            purpose_id: v("finalita").trim().to_owned(),
            daily_quota: limit("quota", 1_000_000_000)?,
            per_second: limit("al_secondo", 1_000_000)?,
        },
        "aggiungi" => BodyChange::AddPurpose(purpose_of(v("eservice"), v("finalita"), v("quota"), v("al_secondo"), name)?),
        "revoca-finalita" => BodyChange::RevokePurpose(v("finalita").trim().to_owned()),
        "chiave" => {
            let pem = anagrafe_service::admin::body_key_of("chiave", v("chiave"))?;
            BodyChange::Rekey { kid: v("kid").trim().to_owned(), public_key_pem: pem }
        }
        _ => return Err(anagrafe_service::ServiceError::invalid("azione", anagrafe_domain::Why::new("unknown-action"))),
    })
}

async fn body_change(
    State(state): State<AppState>,
    axum::Extension(addr): axum::Extension<crate::auth::limits::ClientAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    a: WebAdmin,
    form: Result<Form<Values>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = values_of(&a, &headers, form)?;
    let refuse = |errors: Vec<(String, String)>| {
        let (state, a, id, typed) = (&state, &a, &id, without_secrets(&values));
        async move {
            let p = body_view(state, a, id, &typed, errors, None).await?;
            Err::<Response, Response>(html(StatusCode::UNPROCESSABLE_ENTITY, &p))
        }
    };
    // The body's name goes into a new purpose's description: read it as the page did.
    let name = state.admin().body(&a.principal, &id).await.map_err(|e| a.o.fail(e.into()))?.name;
    let change = match body_change_of(&values, &name) {
        Ok(c) => c,
        Err(e) => return refuse(field_errors(&a, e)?).await,
    };
    let errors = confirm(&state, &a.o, &addr, &values).await?;
    if !errors.is_empty() {
        return refuse(errors).await;
    }
    if let Err(e) = state.admin().change_body(&a.principal, &id, &change).await {
        return refuse(field_errors(&a, e)?).await;
    }
    let p = body_view(&state, &a, &id, &Values::new(), Vec::new(), Some(a.o.ui.t("adm-changed"))).await?;
    Ok(html(StatusCode::OK, &p))
}

// ---- Blocked addresses ----

async fn blocks_view(
    state: &AppState,
    a: &WebAdmin,
    typed: &Values,
    errors: Vec<(String, String)>,
    notice: Option<String>,
) -> Result<FormPage, Response> {
    let ov = state.admin().overview(&a.principal).await.map_err(|e| a.o.fail(e.into()))?;
    let mut p = FormPage::new(a, a.o.ui.t("adm-blocked"), BLOCKS.into());
    p.notice = notice;
    p.lead = p.c.t(if ov.blocked.is_empty() { "adm-blocked-none" } else { "adm-blocked-lead" });
    p.legend = p.c.t("adm-act-unblock");
    p.submit = p.c.t("adm-act-unblock");
    let c = &p.c;
    p.lines_title = c.t("adm-blocked");
    p.lines = ov
        .blocked
        .iter()
        .map(|(addr, until)| {
            crate::web::i18n::t_args(c.lang, "adm-blocked-until", &[("address", addr), ("until", &crate::web::local_time(*until))])
        })
        .collect();
    let fields = if ov.blocked.is_empty() {
        Vec::new()
    } else {
        let options = ov.blocked.iter().map(|(addr, _)| Opt { value: addr.clone(), label: addr.clone() }).collect();
        vec![Field::choice("indirizzo", c.t("adm-f-address"), options, "col-md-6")]
    };
    Ok(p.with_fields(fields, typed, errors))
}

async fn blocks_page(State(state): State<AppState>, a: WebAdmin) -> PageResult {
    let p = blocks_view(&state, &a, &Values::new(), Vec::new(), None).await?;
    Ok(html(StatusCode::OK, &p))
}

async fn unblock(
    State(state): State<AppState>,
    axum::Extension(addr): axum::Extension<crate::auth::limits::ClientAddr>,
    headers: HeaderMap,
    a: WebAdmin,
    form: Result<Form<Values>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = values_of(&a, &headers, form)?;
    let mut errors = confirm(&state, &a.o, &addr, &values).await?;
    if errors.is_empty()
        && let Err(e) = state.admin().unblock(&a.principal, value(&values, "indirizzo")).await
    {
        errors = field_errors(&a, e)?;
    }
    if !errors.is_empty() {
        let p = blocks_view(&state, &a, &without_secrets(&values), errors, None).await?;
        return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &p));
    }
    let p = blocks_view(&state, &a, &Values::new(), Vec::new(), Some(a.o.ui.t("adm-unblocked"))).await?;
    Ok(html(StatusCode::OK, &p))
}
