//! The registry office's back office (REG-5): operator login with password and second factor,
//! the desk (search by ID ANPR or codice fiscale, the person's page as of a date), the birth
//! registration form with each field's error beside it, and the notifications inbox.
//!
//! The pages call the registry service with the officer as principal (acting for the comune of
//! their registry-officer role), as the comuni's web services do: validation, competence,
//! idempotency and the trace are the service's own.

use super::{Chrome, CsrfForm, PageResult, Ui, html, see_other};
use crate::auth::{self, FirstFactor, OperatorSession, limits};
use crate::{ApiError, AppState};
use anagrafe_domain::decode::{DecodeTable, RelazioneParentela};
use anagrafe_domain::ops::{HouseholdChoice, Operation, Registration};
use anagrafe_domain::{BirthPlace, Country, HouseholdKind, IdAnpr, ItalianAddress, PartialDate, PersonName, RefData, Residence, Role, Sex};
use anagrafe_service::Principal;
use anagrafe_service::registry::PersonQuery;
use anagrafe_store::PersonView;
use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ufficio", get(desk))
        .route("/ufficio/accesso", get(login_page).post(login))
        .route("/ufficio/esci", post(logout))
        .route("/ufficio/persone", get(search))
        .route("/ufficio/persone/{id_anpr}", get(person))
        .route("/ufficio/persone/{id_anpr}/storia", get(history))
        .route("/ufficio/persone/{id_anpr}/scheda", get(print_person))
        .route("/ufficio/famiglie/{family_id}/foglio", get(print_family))
        .route("/ufficio/persone/{id_anpr}/residenza", get(changes::residence_page).post(changes::residence_submit))
        .route("/ufficio/persone/{id_anpr}/stato-civile", get(changes::civil_status_page).post(changes::civil_status_submit))
        .route("/ufficio/persone/{id_anpr}/generalita", get(changes::generalita_page).post(changes::generalita_submit))
        .route("/ufficio/persone/{id_anpr}/famiglia", get(changes::household_page).post(changes::household_submit))
        .route("/ufficio/persone/{id_anpr}/adozione", get(changes::adoption_page).post(changes::adoption_submit))
        .route("/ufficio/persone/{id_anpr}/doppia-iscrizione", get(changes::duplicate_page).post(changes::duplicate_submit))
        .route("/ufficio/persone/{id_anpr}/cancellazione", get(changes::cancellation_page).post(changes::cancellation_submit))
        .route("/ufficio/persone/{id_anpr}/documento", get(changes::document_page).post(changes::document_submit))
        .route("/ufficio/persone/{id_anpr}/cessazione-documento", get(changes::document_end_page).post(changes::document_end_submit))
        .route("/ufficio/nascita", get(birth_page).post(register_birth))
        .route("/ufficio/iscrizione", get(changes::registration_page).post(changes::registration_submit))
        .route("/ufficio/iscrizione-aire", get(changes::aire_registration_page).post(changes::aire_registration_submit))
        .route("/ufficio/famiglie/{family_id}", get(changes::family::page).post(changes::family::submit))
        .route("/ufficio/notifiche", get(inbox))
        .route("/ufficio/notifiche/{id}/gestita", post(mark_handled))
        .route("/ufficio/doppie-iscrizioni", get(duplicates))
        .route("/ufficio/pratiche", get(cases::list))
        .route("/ufficio/pratiche/{id}", get(cases::one))
        .route("/ufficio/pratiche/{id}/documenti/{doc}", get(cases::document))
        .route("/ufficio/pratiche/{id}/passi", post(cases::step))
        .route("/ufficio/pratiche/{id}/lettere/{letter}", get(cases::letter))
        .route("/ufficio/persone/{id_anpr}/certificato", get(counter_page).post(counter_issue))
        .route("/ufficio/persone/{id_anpr}/anteprima", get(counter_preview))
        .route("/ufficio/certificati/{id}/pdf", get(counter_download))
        .route("/ufficio/account", get(account))
        .route("/ufficio/account/password", post(change_password))
        .route("/ufficio/secondo-fattore", get(enrol_page).post(enrol))
        .route("/ufficio/secondo-fattore/conferma", post(confirm_enrolment))
}

mod cases;
mod changes;
use changes::Change;

/// A registry officer's session with both factors, for the pages.
#[derive(Debug)]
pub struct WebOfficer {
    pub(super) s: OperatorSession,
    pub(super) ui: Ui,
}

fn office_error(ui: &Ui, e: ApiError) -> Response {
    match e {
        // The way in for operators is their own login page.
        ApiError::Unauthorized(_) => {
            let c = Chrome::new(ui, "err-401-title");
            let text = ui.t("office-401-text");
            html(
                StatusCode::UNAUTHORIZED,
                &super::MessagePage { c, text, alert: true, next: Some((ui.t("office-login-title"), "/ufficio/accesso".into())) },
            )
        }
        other => super::error_page(ui, other),
    }
}

impl FromRequestParts<AppState> for WebOfficer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let WebOfficerOrAny(o) = WebOfficerOrAny::from_request_parts(parts, state).await?;
        if !o.s.operator().roles.iter().any(|g| g.role == Role::RegistryOfficer) {
            return Err(super::error_page(&o.ui, ApiError::Forbidden("the registry office's pages are for registry officers".into())));
        }
        Ok(o)
    }
}

impl WebOfficer {
    fn chrome(&self, title_key: &str) -> Chrome {
        // The account pages are every operator's: their breadcrumb leads to the operator's desk.
        let (desk, key) = desk_link(self.s.operator());
        self.chrome_under(title_key, key, desk)
    }

    /// A page's frame under the desk `home` (message key `home_key`), with the logout button.
    pub(super) fn chrome_under(&self, title_key: &str, home_key: &str, home: &str) -> Chrome {
        // The frame names the operator and offers the logout (the request's viewer).
        Chrome::new(&self.ui, title_key).crumb(home_key, Some(home))
    }

    pub(super) fn fail(&self, e: ApiError) -> Response {
        office_error(&self.ui, e)
    }

    pub(super) fn check_csrf(&self, headers: &HeaderMap, field: &str) -> Result<(), Response> {
        super::csrf_ok(headers, field, &self.s.0.session.csrf_token).map_err(|e| self.fail(e))
    }

    /// The officer as the services see them: acting for the comune of their registry-officer
    /// role.
    pub(super) fn principal(&self) -> Result<Principal, Response> {
        crate::modi::officer_principal(&self.s, None).map_err(|e| self.fail(e))
    }

    /// The comune the officer acts for.
    fn comune(&self) -> String {
        self.s.operator().roles.iter().find(|g| g.role == Role::RegistryOfficer).map(|g| g.scope.clone()).unwrap_or_default()
    }
}

pub(super) fn comune_name(code: &str) -> String {
    let refdata = RefData::current();
    anagrafe_domain::Belfiore::parse(code)
        .ok()
        .and_then(|b| refdata.comune_at(b, anagrafe_domain::ops::italian_today()).or_else(|| refdata.comune_history(b).last()))
        .map(|c| format!("{} ({})", c.name, c.province))
        .unwrap_or_else(|| code.to_owned())
}

/// Where an operator's work starts, by their roles: the registry office's desk, else the
/// electoral office's, else (public-body users, the security officer, the administrator, whose
/// pages are still to come) their own account, which says so: never a page they may not see.
fn desk_of(roles: impl IntoIterator<Item = Role> + Clone) -> &'static str {
    let has = |r: Role| roles.clone().into_iter().any(|g| g == r);
    if has(Role::RegistryOfficer) {
        "/ufficio"
    } else if has(Role::ElectoralOfficer) {
        ELECTORAL_DESK
    } else if has(Role::SecurityOfficer) {
        super::security::DESK
    } else if has(Role::SystemAdmin) {
        super::admin::DESK
    } else if roles.clone().into_iter().any(|r| r.is_public_body()) {
        super::extracts::DESK
    } else {
        ACCOUNT
    }
}

/// An operator's own account.
const ACCOUNT: &str = "/ufficio/account";

/// The electoral office's desk.
const ELECTORAL_DESK: &str = "/ufficio/elettorale";

/// The roles of an operator.
fn role_names(o: &anagrafe_store::Operator) -> impl Iterator<Item = Role> + Clone {
    o.roles.iter().map(|g| g.role)
}

/// The desk an operator's pages lead back to, and its name's message key.
fn desk_link(o: &anagrafe_store::Operator) -> (&'static str, &'static str) {
    match desk_of(role_names(o)) {
        ELECTORAL_DESK => (ELECTORAL_DESK, "ele-office-title"),
        super::security::DESK => (super::security::DESK, "sec-title"),
        super::admin::DESK => (super::admin::DESK, "adm-title"),
        super::extracts::DESK => (super::extracts::DESK, "vis-title"),
        ACCOUNT => (ACCOUNT, "account-title"),
        _ => ("/ufficio", "office-title"),
    }
}

#[derive(Template)]
#[template(path = "office/login.html")]
struct LoginPage {
    c: Chrome,
    error: Option<String>,
    notice: Option<String>,
    username: String,
    /// The form's anti-CSRF token (see `web::form_token`).
    csrf: String,
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    #[serde(default)]
    password: Option<String>,
}

async fn login_page(ui: Ui, headers: HeaderMap, q: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>) -> Response {
    let c = Chrome::new(&ui, "office-login-title").crumb("office-title", Some("/ufficio")).crumb("office-login-title", None);
    let notice = q.ok().and_then(|q| q.0.password).map(|_| ui.t("account-changed"));
    let (csrf, cookie) = super::form_token(&headers);
    super::with_form_cookie(html(StatusCode::OK, &LoginPage { c, error: None, notice, username: String::new(), csrf }), cookie)
}

#[derive(Deserialize, Default)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    csrf: String,
}

/// The login form posts here; the JSON login does the work (lockout, back-off, single-use
/// codes, trace), and its session cookie is passed on.
async fn login(
    State(state): State<AppState>,
    ui: Ui,
    headers: HeaderMap,
    addr: axum::Extension<limits::ClientAddr>,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let f = form.map(|f| f.0).unwrap_or_default();
    // A login posted from another site (or from a page older than its cookie) is not tried:
    // the form comes back with a new token.
    if !super::form_token_ok(&headers, &f.csrf) {
        let (csrf, cookie) = super::form_token(&headers);
        let c = Chrome::new(&ui, "office-login-title").crumb("office-title", Some("/ufficio")).crumb("office-login-title", None);
        let page = LoginPage { c, error: Some(ui.t("form-expired")), notice: None, username: f.username.chars().take(64).collect(), csrf };
        // 400: the request lacks its own field; who may log in is not in question.
        return super::with_form_cookie(html(StatusCode::BAD_REQUEST, &page), cookie);
    }
    let input = auth::LoginInput {
        username: f.username.trim().to_owned(),
        password: f.password.clone(),
        totp: Some(f.totp.trim().to_owned()).filter(|t| !t.is_empty()),
    };
    let c = || Chrome::new(&ui, "office-login-title").crumb("office-title", Some("/ufficio")).crumb("office-login-title", None);
    match auth::operator_login(&state, &addr.0, input).await {
        Ok(done) => {
            let to = if done.operator.totp_secret.is_none() { "/ufficio/secondo-fattore" } else { desk_of(role_names(&done.operator)) };
            let mut out = see_other(to);
            if let Some(cookie) = done.cookie(&state) {
                out.headers_mut().append(header::SET_COOKIE, cookie);
            }
            out
        }
        Err(e) => {
            let status = e.status();
            let error = match &e {
                ApiError::Unauthorized(_) => ui.t("office-login-wrong"),
                ApiError::TooMany { .. } => ui.t("office-login-locked"),
                ApiError::BadRequest { errors, .. } if errors.iter().any(|p| p.field == "totp") => ui.t("office-login-totp"),
                ApiError::BadRequest { .. } => ui.t("office-login-missing"),
                other => return super::error_page(&ui, ApiError::Internal(other.to_string())),
            };
            let page = LoginPage {
                c: c(),
                error: Some(error),
                notice: None,
                username: f.username.chars().take(64).collect(),
                csrf: f.csrf.clone(),
            };
            let mut r = html(status, &page);
            if let ApiError::TooMany { retry_after_s, .. } = e
                && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    o: WebOfficerOrAny,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    // Every operator logs out here, whatever their role.
    let o = o.0;
    let f = form.map(|f| f.0).unwrap_or_default();
    o.check_csrf(&headers, &f.csrf)?;
    let u = &o.s.operator().username;
    let e = auth::entry(&format!("operator:{u}"), &o.s.0.session.auth_mode, "operator.logout", "ok", json!({}));
    state.store.end_sessions("operator", u, Some(&o.s.0.session.token_hash), &e).await.map_err(|e| o.fail(e.into()))?;
    let mut r = see_other("/ufficio/accesso");
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("__Host-anagrafe-session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"),
    );
    Ok(r)
}

#[derive(Template)]
#[template(path = "office/desk.html")]
struct DeskPage {
    c: Chrome,
    name: String,
    comune: String,
    /// The officer decides the deferred registry extracts (issue 19).
    mediator: bool,
}

async fn desk(o: WebOfficer) -> Response {
    let c = o.chrome("office-title");
    let c = Chrome { crumbs: vec![super::Crumb { label: c.t("office-title"), href: None }], ..c };
    let mediator = o.s.operator().roles.iter().any(|g| g.role == Role::RegistryOfficer && g.mediator);
    html(StatusCode::OK, &DeskPage { name: o.s.operator().display_name.clone(), comune: comune_name(&o.comune()), mediator, c })
}

/// A person found, as the results list shows them.
struct Found {
    id_anpr: String,
    name: String,
    birth: String,
    comune: String,
}

#[derive(Template)]
#[template(path = "office/search.html")]
struct SearchPage {
    c: Chrome,
    q: String,
    d: SearchQuery,
    results: Vec<Found>,
    searched: bool,
    error: Option<String>,
    /// Errors of the search by personal data: form field and reason.
    errors: Vec<(String, String)>,
}

impl SearchPage {
    fn error_of(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }
}

#[derive(Deserialize, Default, Clone)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    cognome: String,
    #[serde(default)]
    nome: String,
    #[serde(default)]
    sesso: String,
    #[serde(default)]
    nascita: String,
    #[serde(default)]
    luogo: String,
}

impl SearchQuery {
    fn by_data(&self) -> bool {
        [&self.cognome, &self.nome, &self.sesso, &self.nascita, &self.luogo].iter().any(|v| !v.trim().is_empty())
    }
}

fn found(v: &PersonView) -> Found {
    let r = &v.record;
    Found {
        id_anpr: r.id_anpr.as_ref().map(ToString::to_string).unwrap_or_default(),
        name: changes::full_name(r),
        birth: r.generalita.birth_date.to_string(),
        comune: comune_name(r.residence.competent_comune().as_str()),
    }
}

/// Search by ID ANPR (9 characters) or codice fiscale (16), or by surname, name, sex and birth
/// date (the place optional): the API's person read and search, traced as they are.
async fn search(
    State(state): State<AppState>,
    o: WebOfficer,
    q: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let q = q.map(|q| q.0).unwrap_or_default();
    let term = q.q.trim().to_ascii_uppercase();
    let c = o.chrome("office-search-title").crumb("office-search-title", None);
    let by_data = q.by_data();
    let mut page = SearchPage {
        c,
        q: term.clone(),
        d: q.clone(),
        results: Vec::new(),
        searched: !term.is_empty() || by_data,
        error: None,
        errors: Vec::new(),
    };
    let registry = state.registry();
    let who = o.principal()?;
    let result = if by_data {
        // Dates as people type them: gg/mm/aaaa, mm/aaaa, or the year.
        let nascita = match super::parse_date(&q.nascita) {
            Some(d) => d.to_string(),
            None => match q.nascita.trim().split_once('/') {
                Some((m, y)) if y.len() == 4 && (1..=2).contains(&m.len()) => format!("{y}-{m:0>2}"),
                _ => q.nascita.clone(),
            },
        };
        let query = PersonQuery::generalita(&q.cognome, &q.nome, &q.sesso, &nascita, Some(q.luogo.as_str()));
        match query {
            Ok(query) => registry.search(&who, &query, None).await,
            Err(e) => Err(e),
        }
    } else if term.is_empty() {
        return Ok(html(StatusCode::OK, &page));
    } else if term.len() == 16 {
        match anagrafe_domain::CodiceFiscale::parse(&term) {
            Ok(cf) => registry.search(&who, &PersonQuery::CodiceFiscale(cf), None).await,
            Err(_) => {
                page.error = Some(page.c.t("office-search-bad"));
                return Err(html(StatusCode::BAD_REQUEST, &page));
            }
        }
    } else if let Ok(id) = IdAnpr::parse(&term) {
        match registry.person(&who, &id, None).await {
            Err(anagrafe_service::ServiceError::NotFound(_)) => Ok(Vec::new()),
            other => other.map(|read| vec![read.view]),
        }
    } else {
        page.error = Some(page.c.t("office-search-bad"));
        return Err(html(StatusCode::BAD_REQUEST, &page));
    };
    match result {
        Ok(views) => page.results = views.iter().map(found).collect(),
        Err(e) if by_data && !e.field_errors().is_empty() => {
            // The service names the web service's parameters; the form has its own names.
            const FEEDS: &[(&str, &str)] =
                &[("surname", "cognome"), ("given_name", "nome"), ("sex", "sesso"), ("birth_date", "nascita"), ("birth_place", "luogo")];
            // Each field's own words, in the page's language, saying what to write.
            page.errors = e
                .field_errors()
                .into_iter()
                .map(|p| {
                    let field = changes::error_field(FEEDS, &p.field);
                    let text = if field.is_empty() { page.c.why(&p.reason) } else { page.c.t(&format!("search-err-{field}")) };
                    (field.to_owned(), text)
                })
                .collect();
            return Err(html(StatusCode::BAD_REQUEST, &page));
        }
        Err(e) => return Err(o.fail(e.into())),
    }
    Ok(html(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "office/person.html")]
struct PersonPage {
    c: Chrome,
    id_anpr: String,
    /// Surname and name.
    name: String,
    status: String,
    as_of: String,
    /// The date as people read it (gg/mm/aaaa).
    as_of_shown: String,
    fields: Vec<super::record::RecordField>,
    members: Vec<super::record::MemberRow>,
    types: Vec<super::citizen::TypeOption>,
    langs: Vec<(String, String)>,
    issued: Option<String>,
    /// The title of the change just recorded, if any.
    changed: Option<String>,
    /// Whether the record is still open to changes (resident or AIRE).
    open: bool,
    /// The household, for its page.
    family_id: Option<i64>,
}

#[derive(Deserialize, Default)]
struct AsOfQuery {
    #[serde(default)]
    al: String,
    #[serde(default)]
    rilasciato: Option<String>,
    #[serde(default)]
    modificato: Option<String>,
}

/// The person's page as of a date (`?al=YYYY-MM-DD`; today without), through the API's read.
async fn person(
    State(state): State<AppState>,
    Path(id): Path<String>,
    o: WebOfficer,
    q: Result<Query<AsOfQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let q = q.map(|q| q.0).unwrap_or_default();
    let id = id.to_ascii_uppercase();
    if anagrafe_domain::IdAnpr::parse(&id).is_err() {
        return Err(o.fail(ApiError::NotFound("no such ID ANPR".into())));
    }
    let Ok(id_anpr) = IdAnpr::parse(&id) else {
        return Err(o.fail(ApiError::NotFound("no such ID ANPR".into())));
    };
    let as_of = match q.al.as_str() {
        "" => None,
        raw => Some(raw.parse::<chrono::NaiveDate>().map_err(|_| o.fail(ApiError::field("al", "is a date (YYYY-MM-DD)")))?),
    };
    let read = match state.registry().person(&o.principal()?, &id_anpr, as_of).await {
        Ok(read) => read,
        // A date before the register knew the record: say from when, and offer that day.
        Err(anagrafe_service::ServiceError::NotYet { since }) => {
            let c =
                o.chrome("office-not-yet-title").crumb("office-search-title", Some("/ufficio/persone")).crumb("office-not-yet-title", None);
            let day = anagrafe_service::certificates::dmy(since);
            let text = c.t1("office-not-yet", "since", &day);
            let next = Some((c.t1("office-not-yet-open", "since", &day), format!("/ufficio/persone/{id}?al={since}")));
            return Err(html(StatusCode::NOT_FOUND, &super::MessagePage { c, text, alert: false, next }));
        }
        Err(e) => return Err(o.fail(e.into())),
    };
    let rec = &read.view.record;
    let c = o.chrome("office-person-title").crumb("office-search-title", Some("/ufficio/persone")).crumb("office-person-title", None);
    let WholeRecord { mut fields, members, household } = o.whole_record(&state, &c, &read.view).await?;
    let family_id = household.map(|(family, kind)| {
        fields.push(super::record::RecordField {
            label: c.t("office-household"),
            value: c.t1(
                if matches!(kind, HouseholdKind::Cohabitation { .. }) { "record-cohabitation-n" } else { "record-family-n" },
                "n",
                &family.to_string(),
            ),
            code: false,
        });
        family
    });
    // The certificates this person can obtain today (the office's form has no date field, so
    // the historical residence at a date is asked through the API).
    let mut types = super::citizen::type_options(&c, Some(8));
    if let (Ok(certs), Some(person)) = (state.certificate_service(), rec.id_anpr) {
        let offers = certs.offers(&o.principal()?, &person).await.map_err(|e| o.fail(e.into()))?;
        types.retain(|t| t.code != 20 && offers.iter().any(|(k, r)| k.code() == t.code && r.is_none()));
        let first = types.iter().find(|t| t.code == 8).or(types.first()).map(|t| t.code);
        types.iter_mut().for_each(|t| t.selected = Some(t.code) == first);
    }
    Ok(html(
        StatusCode::OK,
        &PersonPage {
            types,
            langs: super::citizen::lang_options(&c),
            issued: q.rilasciato.filter(|n| super::citizen::valid_number(n).is_ok()),
            changed: match q.modificato.as_deref() {
                Some("iscrizione") => Some(c.t("reg-title")),
                other => other.and_then(Change::from_segment).map(|k| c.t(k.title_key())),
            },
            open: matches!(rec.status, anagrafe_domain::RegisterStatus::Resident | anagrafe_domain::RegisterStatus::Aire),
            family_id,
            id_anpr: id,
            name: changes::full_name(rec),
            status: c.t(match read.id_status {
                anagrafe_domain::IdStatus::Valid => "id-status-valid",
                anagrafe_domain::IdStatus::Suspended => "id-status-suspended",
                anagrafe_domain::IdStatus::Invalid => "id-status-invalid",
            }),
            as_of: read.view.as_of.to_string(),
            as_of_shown: anagrafe_domain::date::dmy(read.view.as_of),
            fields,
            members,
            c,
        },
    ))
}

#[derive(Template)]
#[template(path = "office/print.html")]
struct PrintPage {
    c: Chrome,
    /// The registry office that prints, by its comune.
    comune: String,
    /// The record's ID ANPR or the household's number.
    number: String,
    as_of: String,
    fields: Vec<super::record::RecordField>,
    members: Vec<super::record::MemberRow>,
    /// Who printed it, and when.
    printed: String,
    back: String,
}

/// A person's whole record as of a date, as the record page and the printed *scheda* show it.
struct WholeRecord {
    /// The record's fields, the register status first.
    fields: Vec<super::record::RecordField>,
    /// The household's members with their relations, as of the same date.
    members: Vec<super::record::MemberRow>,
    /// The household's number and kind.
    household: Option<(i64, HouseholdKind)>,
}

impl WebOfficer {
    /// The fields and household of `view` (a record read as of its date), in the page's words.
    async fn whole_record(&self, state: &AppState, c: &Chrome, view: &PersonView) -> Result<WholeRecord, Response> {
        let rec = &view.record;
        let mut fields = super::record::fields(c, rec, view.as_of);
        fields.insert(
            0,
            super::record::RecordField {
                label: c.t("office-register-status"),
                value: changes::status_label(self, rec.status),
                code: false,
            },
        );
        let (members, household) = match rec.household.as_ref().map(changes::family_of) {
            Some(family) => {
                let (h, members) =
                    state.registry().family_sheet(&self.principal()?, family, Some(view.as_of)).await.map_err(|e| self.fail(e.into()))?;
                (super::record::members(c, h.kind, &members, view.as_of), Some((family, h.kind)))
            }
            None => (Vec::new(), None),
        };
        Ok(WholeRecord { fields, members, household })
    }

    /// The date a printed sheet is as of: `?al=` (a date input's `aaaa-mm-gg` or `gg/mm/aaaa`),
    /// today without.
    fn as_of(&self, raw: &str) -> Result<Option<chrono::NaiveDate>, Response> {
        match raw.trim() {
            "" => Ok(None),
            raw => super::parse_date(raw).map(Some).ok_or_else(|| self.fail(ApiError::field("al", "is a date (gg/mm/aaaa)"))),
        }
    }

    /// The line under a printed sheet: the operator who printed it, and the time.
    fn printed_line(&self, state: &AppState) -> String {
        let at = super::local_time(state.clock.now_ms());
        super::i18n::t_args(self.ui.lang, "print-printed", &[("who", &self.s.operator().display_name), ("at", &at)])
    }
}

/// The *scheda individuale* (DPR 223/1989, art. 21) as of a date, ready to print: the whole
/// record and the household's members. A read like the record page, traced as such.
async fn print_person(
    State(state): State<AppState>,
    Path(id): Path<String>,
    o: WebOfficer,
    q: Result<Query<AsOfQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let q = q.map(|q| q.0).unwrap_or_default();
    let id = id_path(&o, &id)?;
    let id_anpr = IdAnpr::parse(&id).map_err(|_| o.fail(ApiError::NotFound("no such ID ANPR".into())))?;
    let as_of = o.as_of(&q.al)?;
    let read = state.registry().person(&o.principal()?, &id_anpr, as_of).await.map_err(|e| o.fail(e.into()))?;
    let c = o
        .chrome("print-person-title")
        .crumb("office-search-title", Some("/ufficio/persone"))
        .crumb("office-person-title", Some(&format!("/ufficio/persone/{id}")))
        .crumb("print-person-title", None);
    let WholeRecord { fields, members, .. } = o.whole_record(&state, &c, &read.view).await?;
    let page = PrintPage {
        comune: comune_name(&o.comune()),
        number: id.clone(),
        as_of: anagrafe_domain::date::dmy(read.view.as_of),
        fields,
        members,
        printed: o.printed_line(&state),
        back: format!("/ufficio/persone/{id}"),
        c,
    };
    Ok(html(StatusCode::OK, &page))
}

/// The *foglio di famiglia* (the family's sheet, DPR 223/1989, art. 21) as of a date, ready to
/// print: the household's kind and address, and every member with relation and personal data.
async fn print_family(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    o: WebOfficer,
    q: Result<Query<AsOfQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let q = q.map(|q| q.0).unwrap_or_default();
    let family: i64 = raw.parse().ok().filter(|n| *n > 0).ok_or_else(|| o.fail(ApiError::NotFound("no such household".into())))?;
    let as_of = o.as_of(&q.al)?;
    let (view, members) = state.registry().family_sheet(&o.principal()?, family, as_of).await.map_err(|e| o.fail(e.into()))?;
    let on = as_of.unwrap_or_else(|| state.clock.today());
    let c = o.chrome("print-family-title").crumb("office-search-title", Some("/ufficio/persone")).crumb("print-family-title", None);
    let mut fields = vec![super::record::RecordField {
        label: c.t("print-family-kind"),
        value: match view.kind {
            HouseholdKind::Family => c.t("family-kind-family"),
            HouseholdKind::Cohabitation { specie } => format!("{} — {}", c.t("family-kind-cohabitation"), c.decode(specie)),
        },
        code: false,
    }];
    fields.push(super::record::RecordField {
        label: c.t("print-family-since"),
        value: anagrafe_domain::date::dmy(view.formed_on),
        code: false,
    });
    // The household's address is its head's (or first member's) residence.
    if let Some((_, head)) = members.iter().find(|(m, _)| m.relation == 1).or(members.first()) {
        let address = anagrafe_service::certificates::content::residence_line(&RefData::current(), &head.residence, on);
        fields.push(super::record::RecordField { label: c.t("f-residence"), value: address, code: false });
    }
    let back =
        members.first().and_then(|(m, _)| m.id_anpr).map(|i| format!("/ufficio/persone/{i}")).unwrap_or_else(|| "/ufficio/persone".into());
    let page = PrintPage {
        comune: comune_name(view.comune.as_str()),
        number: family.to_string(),
        as_of: anagrafe_domain::date::dmy(on),
        members: super::record::members(&c, view.kind, &members, on),
        fields,
        printed: o.printed_line(&state),
        back,
        c,
    };
    Ok(html(StatusCode::OK, &page))
}

struct Period {
    from: String,
    to: String,
    value: String,
}

struct EventRow {
    date: String,
    recorded: String,
    what: String,
    comune: String,
}

#[derive(Template)]
#[template(path = "office/history.html")]
struct HistoryPage {
    c: Chrome,
    id_anpr: String,
    residences: Vec<Period>,
    citizenships: Vec<Period>,
    /// Identity documents, each in one line with its state today.
    documents: Vec<(String, String)>,
    events: Vec<EventRow>,
}

/// An event in words: its kind, and the reason's description in the table of that kind.
fn event_label(ui: &Ui, kind: &str, code: Option<&str>) -> String {
    use anagrafe_domain::decode::{
        MotivoCancellazione, MotivoCancellazioneAire, MotivoIscrizione, MotivoIscrizioneAire, TipoMutazione, TipoMutazioneFamiglia,
    };
    let key = format!("event-{}", kind.replace('_', "-"));
    let what = if super::i18n::has(ui.lang, &key) { ui.t(&key) } else { kind.to_owned() };
    let n = code.and_then(|c| c.parse::<u16>().ok());
    let reason = match kind {
        "iscrizione" => n.and_then(MotivoIscrizione::from_code).map(|m| ui.decode(m)),
        "iscrizione_aire" => MotivoIscrizioneAire::ALL.iter().find(|m| Some(m.code()) == code).map(|m| ui.decode(*m)),
        "cancellazione" => n.and_then(MotivoCancellazione::from_code).map(|m| ui.decode(m)),
        "cancellazione_aire" => n.and_then(MotivoCancellazioneAire::from_code).map(|m| ui.decode(m)),
        "mutazione" => n.and_then(TipoMutazione::from_code).map(|m| ui.decode(m)),
        "famiglia" => n.and_then(TipoMutazioneFamiglia::from_code).map(|m| ui.decode(m)),
        _ => None,
    };
    match reason {
        Some(r) => format!("{what}: {r}"),
        None => what,
    }
}

fn day(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| d.format("%d/%m/%Y").to_string()).unwrap_or_default()
}

/// The person's history through the registry service: residences and citizenships with their
/// periods, and the events that wrote the record.
async fn history(State(state): State<AppState>, Path(id): Path<String>, o: WebOfficer) -> PageResult {
    let id = id_path(&o, &id)?;
    let id_anpr = IdAnpr::parse(&id).map_err(|_| o.fail(ApiError::NotFound("no such ID ANPR".into())))?;
    let h = state.registry().history(&o.principal()?, &id_anpr).await.map_err(|e| o.fail(e.into()))?.history;
    let c = o
        .chrome("history-title")
        .crumb("office-search-title", Some("/ufficio/persone"))
        .crumb("office-person-title", Some(&format!("/ufficio/persone/{id}")))
        .crumb("history-title", None);
    let refdata = RefData::current();
    let today = state.clock.today();
    let residences =
        h.residences.iter().map(|p| Period { from: day(Some(p.from)), to: day(p.to), value: changes::address(&p.value) }).collect();
    let citizenships = h
        .citizenships
        .iter()
        .map(|p| {
            let value = match p.value {
                Country::Italia => c.t("citizenship-italian"),
                Country::Foreign(code) => {
                    refdata.resolve(code.as_str(), today).map(|s| s.name().to_owned()).unwrap_or_else(|_| code.to_string())
                }
            };
            Period { from: day(Some(p.from)), to: day(p.to), value }
        })
        .collect();
    let events = h
        .events
        .iter()
        .map(|e| EventRow {
            date: day(Some(e.effective_date)),
            recorded: super::local_time(e.recorded_at),
            what: {
                let mut what = event_label(&o.ui, &e.kind, e.code.as_deref());
                if let Some(act) = &e.birth_act {
                    what += &format!(" — {}", c.t1("history-birth-act", "act", &act.words()));
                }
                if !e.parents.is_empty() {
                    let ids = e.parents.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                    what += &format!(" — {}", c.t1("history-parents", "ids", &ids));
                }
                what
            },
            comune: e.comune.as_deref().map(comune_name).unwrap_or_default(),
        })
        .collect();
    let documents = h
        .documents
        .iter()
        .map(|d| {
            let state = match d.ended {
                Some(e) => format!("{} {}", c.t(&format!("doc-end-{}", e.reason.as_str())), day(Some(e.on))),
                None if d.valid_on(today) => c.t("history-current"),
                None if d.document.issued_on > today => c.t("history-document-future"),
                None => c.t("history-document-expired"),
            };
            (super::record::document_line(c.lang, &d.document), state)
        })
        .collect();
    Ok(html(StatusCode::OK, &HistoryPage { c, id_anpr: id, residences, citizenships, documents, events }))
}

/// The birth form's fields.
#[derive(Deserialize, Default, Clone)]
struct BirthForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    op: String,
    #[serde(default)]
    surname: String,
    #[serde(default)]
    given: String,
    #[serde(default)]
    sex: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    birth_place: String,
    #[serde(default)]
    species: String,
    #[serde(default)]
    toponym: String,
    #[serde(default)]
    civic: String,
    #[serde(default)]
    cap: String,
    #[serde(default)]
    household: String,
    #[serde(default)]
    relation: String,
    /// The parents, each by codice fiscale or ID ANPR.
    #[serde(default)]
    parent1: String,
    #[serde(default)]
    parent2: String,
    /// The birth act's references.
    #[serde(default)]
    act_year: String,
    #[serde(default)]
    act_number: String,
    #[serde(default)]
    act_part: String,
    #[serde(default)]
    act_series: String,
}

/// The household a form names in its `family_id` field: the household's number as typed, or the
/// household of the member whose codice fiscale or ID ANPR is typed there (a traced read), so an
/// officer need not know the register's internal numbers. `Err`: the message key of the field's
/// error.
pub(super) async fn household_by_member(state: &AppState, who: &Principal, raw: &str) -> Result<Option<i64>, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() || raw.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match person_by_code(state, who, raw).await {
        Ok(Some(v)) => v.record.household.as_ref().map(changes::family_of).map(Some).ok_or("change-err-family-member"),
        Ok(None) => Ok(None),
        Err(CodeLookup::NoOne) => Err("change-err-family-member"),
        Err(CodeLookup::Malformed) => Err("birth-err-parent-code"),
    }
}

/// A parent named on the birth form, by ID ANPR or codice fiscale: the parent's record as of
/// today (a read, traced as such), or the message key of the field's error.
async fn birth_parent(state: &AppState, who: &Principal, raw: &str) -> Result<Option<PersonView>, &'static str> {
    person_by_code(state, who, raw).await.map_err(|e| match e {
        CodeLookup::Malformed => "birth-err-parent-code",
        CodeLookup::NoOne => "birth-err-parent",
    })
}

/// Why a code typed for a person found no record.
enum CodeLookup {
    /// Neither an ID ANPR nor a codice fiscale.
    Malformed,
    /// No record the officer may read has it.
    NoOne,
}

/// The record of the person whose ID ANPR or codice fiscale is typed (a read, traced as such),
/// as of today; `None` for an empty field.
async fn person_by_code(state: &AppState, who: &Principal, raw: &str) -> Result<Option<PersonView>, CodeLookup> {
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Ok(None);
    }
    let registry = state.registry();
    let found = if let Ok(id) = IdAnpr::parse(&code) {
        registry.person(who, &id, None).await.map(|r| Some(r.view))
    } else if let Ok(cf) = anagrafe_domain::CodiceFiscale::parse(&code) {
        registry.search(who, &PersonQuery::CodiceFiscale(cf), None).await.map(|v| v.into_iter().next())
    } else {
        return Err(CodeLookup::Malformed);
    };
    match found {
        Ok(Some(v)) => Ok(Some(v)),
        _ => Err(CodeLookup::NoOne),
    }
}

struct Choice {
    code: u16,
    label: String,
}

#[derive(Template)]
#[template(path = "office/birth.html")]
struct BirthPage {
    c: Chrome,
    f: BirthForm,
    csrf: String,
    errors: Vec<(String, String)>,
    relations: Vec<Choice>,
    comune: String,
    registered: Option<String>,
}

impl BirthPage {
    /// The error of form field `name`, if any.
    fn error(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }
}

fn relations(ui: &Ui) -> Vec<Choice> {
    RelazioneParentela::ALL
        .iter()
        .filter(|r| r.valid_until().is_none() && r.code() != 1)
        .map(|r| Choice { code: r.code(), label: ui.decode(*r) })
        .collect()
}

fn birth_view(o: &WebOfficer, f: BirthForm, errors: Vec<(String, String)>, registered: Option<String>) -> BirthPage {
    let c = o.chrome("office-birth-title").crumb("office-birth-title", None);
    let f = BirthForm { op: if f.op.is_empty() || registered.is_some() { crate::auth::random_token() } else { f.op }, ..f };
    BirthPage {
        c,
        f,
        csrf: o.s.0.session.csrf_token.clone(),
        errors,
        relations: relations(&o.ui),
        comune: comune_name(&o.comune()),
        registered,
    }
}

#[derive(Deserialize, Default)]
struct RegisteredQuery {
    #[serde(default)]
    iscritto: Option<String>,
}

async fn birth_page(o: WebOfficer, q: Result<Query<RegisteredQuery>, axum::extract::rejection::QueryRejection>) -> Response {
    let q = q.map(|q| q.0).unwrap_or_default();
    let registered = q.iscritto.filter(|id| anagrafe_domain::IdAnpr::parse(id).is_ok());
    let f = BirthForm { sex: String::new(), species: "VIA".into(), household: "new".into(), relation: "3".into(), ..Default::default() };
    html(StatusCode::OK, &birth_view(&o, f, Vec::new(), registered))
}

/// The paths of a registration that each field of the birth form feeds.
const BIRTH_FEEDS: &[(&str, &str)] = &[
    ("name", "surname"),
    ("name.surname", "surname"),
    ("name.given", "given"),
    ("sex", "sex"),
    ("birth_date", "birth_date"),
    ("effective_date", "birth_date"),
    ("birth_place", "birth_place"),
    ("residence", "toponym"),
    ("residence.toponym", "toponym"),
    ("residence.civic", "civic"),
    ("residence.cap", "cap"),
    ("residence.species", "species"),
    ("household", "parent1"),
    ("parents", "parent1"),
    ("parents[0]", "parent1"),
    ("parents[1]", "parent2"),
    ("birth_act", "act_number"),
    ("birth_act.year", "act_year"),
    ("birth_act.number", "act_number"),
    ("birth_act.part", "act_part"),
    ("birth_act.series", "act_series"),
];

async fn register_birth(
    State(state): State<AppState>,
    headers: HeaderMap,
    o: WebOfficer,
    form: Result<Form<BirthForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let Ok(Form(f)) = form else {
        return Err(o.fail(ApiError::field("body", "is not the birth form")));
    };
    o.check_csrf(&headers, &f.csrf)?;
    let who = o.principal()?;
    let comune = who.acting_comune().map_err(|e| o.fail(e.into()))?;
    let t = |k: &str| o.ui.t(k);
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut need = |ok: bool, field: &str, key: &str| {
        if !ok {
            errors.push((field.to_owned(), t(key)));
        }
    };
    let (surname, given) = (f.surname.trim(), f.given.trim());
    need(!surname.is_empty(), "surname", "birth-err-surname");
    need(!given.is_empty(), "given", "birth-err-given");
    let name = PersonName::new(Some(surname), Some(given));
    need(name.is_ok() || surname.is_empty() || given.is_empty(), "surname", "change-err-name");
    let sex = Sex::parse(&f.sex).filter(|_| !f.sex.trim().is_empty());
    need(sex.is_some(), "sex", "birth-err-sex");
    let birth_date = f.birth_date.trim().parse::<chrono::NaiveDate>().ok();
    need(birth_date.is_some(), "birth_date", "birth-err-date");
    let on = birth_date.unwrap_or_else(anagrafe_domain::ops::italian_today);
    let place = match RefData::current().resolve(f.birth_place.trim(), on) {
        Ok(anagrafe_domain::Place::Comune(c)) => Some(c.belfiore),
        _ => None,
    };
    need(place.is_some(), "birth_place", "birth-err-place");
    need(!f.toponym.trim().is_empty(), "toponym", "birth-err-toponym");
    need(!f.species.trim().is_empty(), "species", "err-species");
    let toponym = anagrafe_domain::text::Toponym::optional(Some(&f.toponym));
    let species = anagrafe_domain::text::Species::optional(Some(&f.species));
    let civic = anagrafe_domain::text::Civic::optional(Some(&f.civic));
    let text_errors: Vec<(String, String)> =
        [("toponym", toponym.as_ref().err()), ("species", species.as_ref().err()), ("civic", civic.as_ref().err())]
            .into_iter()
            .filter_map(|(field, e)| e.map(|e| (field.to_owned(), o.ui.text_error(*e))))
            .collect();
    let cap = match f.cap.trim() {
        "" => Some(None),
        raw => raw.parse::<anagrafe_domain::Cap>().ok().map(Some),
    };
    need(cap.is_some(), "cap", "change-err-cap");
    // The parents, by their codes; the family to join is the first parent's.
    let mut extra: Vec<(String, String)> = Vec::new();
    let mut parents = Vec::new();
    let mut first_family = None;
    for (field, raw) in [("parent1", &f.parent1), ("parent2", &f.parent2)] {
        match birth_parent(&state, &who, raw).await {
            Ok(Some(v)) => {
                if first_family.is_none() {
                    first_family = v.record.household.as_ref().map(changes::family_of);
                }
                parents.extend(v.record.id_anpr);
            }
            Ok(None) => {}
            Err(key) => extra.push((field.to_owned(), o.ui.t(key))),
        }
    }
    let household = match f.household.as_str() {
        "join" => match (first_family, f.relation.trim().parse::<u16>()) {
            (Some(family_id), Ok(relation)) => Some(HouseholdChoice::Join { family_id, relation }),
            _ => None,
        },
        _ => Some(HouseholdChoice::New { household: HouseholdKind::Family, name: None }),
    };
    if household.is_none() && !extra.iter().any(|(n, _)| n == "parent1" || n == "parent2") {
        extra.push(("parent1".to_owned(), o.ui.t("birth-err-family")));
    }
    // The birth act: its year and number together, part and series when the register has them.
    let act_text = |raw: &str| anagrafe_domain::text::Line::<4>::optional(Some(raw));
    let birth_act = match (f.act_year.trim(), f.act_number.trim()) {
        ("", "") if f.act_part.trim().is_empty() && f.act_series.trim().is_empty() => None,
        (year, number) => {
            let year = year.parse::<u16>().ok();
            let number = number.parse::<u32>().ok();
            need(year.is_some(), "act_year", "birth-err-act-year");
            need(number.is_some(), "act_number", "birth-err-act-number");
            let (part, series) = (act_text(&f.act_part), act_text(&f.act_series));
            for (field, e) in [("act_part", part.as_ref().err()), ("act_series", series.as_ref().err())] {
                if let Some(e) = e {
                    extra.push((field.to_owned(), o.ui.text_error(*e)));
                }
            }
            match (year, number, part, series) {
                (Some(year), Some(number), Ok(part), Ok(series)) => Some(anagrafe_domain::ops::ActReference { year, number, part, series }),
                _ => None,
            }
        }
    };
    errors.extend(text_errors);
    errors.extend(extra);
    let registration = match (name, sex, birth_date, place, cap, household, toponym, species, civic) {
        (Ok(name), Some(sex), Some(date), Some(place), Some(cap), Some(household), Ok(Some(toponym)), Ok(Some(species)), Ok(civic))
            if errors.is_empty() =>
        {
            Registration {
                reason: "1".into(),
                reason_description: None,
                effective_date: date,
                name,
                sex,
                birth_date: PartialDate::full(date),
                birth_place: BirthPlace::Comune { code: place },
                codice_fiscale: None,
                citizenships: vec![Country::Italia],
                civil_status: anagrafe_domain::decode::StatoCivile::CelibeNubile,
                residence: Residence::Italy(ItalianAddress { comune, cap, species, toponym, civic, internal: None, locality: None }),
                household,
                email: None,
                digital_domicile: None,
                origin: None,
                birth_act,
                parents,
            }
        }
        _ => return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &birth_view(&o, f, errors, None))),
    };
    let op_id = changes::client_op_id(&[("op".to_owned(), f.op.clone())].into_iter().collect()).map_err(|e| o.fail(e.into()))?;
    match state.registry().apply(&who, Operation::Register(Box::new(registration)), &op_id).await {
        Ok(w) => {
            let id = w.applied.id_anpr.map(|i| i.to_string()).unwrap_or_default();
            Ok(see_other(&format!("/ufficio/nascita?iscritto={id}")))
        }
        Err(e) => match changes::refused_fields(&o.ui, e, BIRTH_FEEDS) {
            Ok((status, errors)) => Err(html(status, &birth_view(&o, f, errors, None))),
            Err(e) => Err(o.fail(e)),
        },
    }
}

struct Item {
    id: i64,
    kind: String,
    id_anpr: String,
    detail: String,
    at: String,
    /// Who marked it handled, and when; `None` while it waits.
    handled: Option<String>,
}

#[derive(Template)]
#[template(path = "office/inbox.html")]
struct InboxPage {
    c: Chrome,
    comune: String,
    csrf: String,
    /// The cursor of the page shown (`prima`), for the way back after marking one handled.
    before: Option<i64>,
    items: Vec<Item>,
    /// The cursor of the older page, when there is one.
    older: Option<i64>,
}

/// How many notifications one page of the inbox shows.
const INBOX_PAGE: u32 = 50;

#[derive(Deserialize, Default)]
struct InboxQuery {
    #[serde(default)]
    prima: Option<i64>,
}

/// The comune's notifications (the web services' feed), newest first, each leading to the
/// record it is about.
async fn inbox(
    State(state): State<AppState>,
    o: WebOfficer,
    q: Result<Query<InboxQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    // Newest first; `prima` pages back to older ones.
    let asked = q.ok().and_then(|q| q.0.prima).filter(|p| *p > 0);
    let before = asked.unwrap_or(i64::MAX);
    let (_, feed) = state.registry().inbox(&o.principal()?, before, INBOX_PAGE).await.map_err(|e| o.fail(e.into()))?;
    let c = o.chrome("office-inbox-title").crumb("office-inbox-title", None);
    let older = (feed.len() == INBOX_PAGE as usize).then(|| feed.last().map(|(n, _)| n.id)).flatten();
    let items = feed
        .iter()
        .map(|(n, handled)| {
            // The payload is the notification as pushed to the comuni's software (a JSON
            // document by contract): the page shows its comune and ID.
            let p = &n.payload;
            let from = p["comune"].as_str().or(p["to"].as_str()).map(comune_name).unwrap_or_default();
            Item {
                id: n.id,
                kind: c.t(&format!("notif-{}", n.kind.replace('_', "-"))),
                id_anpr: p["id_anpr"].as_str().unwrap_or_default().to_owned(),
                detail: from,
                at: super::local_time(n.created_at),
                handled: handled.as_ref().map(|h| {
                    super::i18n::t_args(c.lang, "office-notif-handled-by", &[("who", &h.by), ("at", &super::local_time(h.at_ms))])
                }),
            }
        })
        .collect();
    let csrf = o.s.0.session.csrf_token.clone();
    Ok(html(StatusCode::OK, &InboxPage { comune: comune_name(&o.comune()), csrf, before: asked, items, older, c }))
}

#[derive(Deserialize, Default)]
struct HandledForm {
    #[serde(default)]
    csrf: String,
    /// The inbox page to return to.
    #[serde(default)]
    prima: Option<i64>,
}

/// Marks a notification handled by the officer, then shows the inbox page it was on.
async fn mark_handled(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    o: WebOfficer,
    form: Result<Form<HandledForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let f = form.map(|f| f.0).unwrap_or_default();
    o.check_csrf(&headers, &f.csrf)?;
    let id: i64 = raw.parse().ok().filter(|n| *n > 0).ok_or_else(|| o.fail(ApiError::NotFound("no such notification".into())))?;
    let who = o.principal()?;
    state.registry().mark_handled(&who, id, &o.s.operator().display_name).await.map_err(|e| o.fail(e.into()))?;
    let back = match f.prima.filter(|p| *p > 0) {
        Some(p) => format!("/ufficio/notifiche?prima={p}#n-{id}"),
        None => format!("/ufficio/notifiche#n-{id}"),
    };
    Ok(see_other(&back))
}

struct Case {
    number: i64,
    reported: String,
    reported_at: String,
    other: String,
}

#[derive(Template)]
#[template(path = "office/duplicates.html")]
struct DuplicatesPage {
    c: Chrome,
    comune: String,
    cases: Vec<Case>,
}

/// The open duplicate cases (IDN-6 case 5) of the comune, each leading to the form that
/// resolves or dismisses it.
async fn duplicates(State(state): State<AppState>, o: WebOfficer) -> PageResult {
    let (_, open) = state.registry().open_duplicates(&o.principal()?).await.map_err(|e| o.fail(e.into()))?;
    let c = o.chrome("office-dup-title").crumb("office-dup-title", None);
    let cases = open
        .iter()
        .map(|x| Case {
            number: x.id,
            reported: x.id_anpr_a.clone().unwrap_or_default(),
            other: x.id_anpr_b.clone().unwrap_or_default(),
            reported_at: super::local_time(x.reported_at),
        })
        .collect();
    Ok(html(StatusCode::OK, &DuplicatesPage { comune: comune_name(&o.comune()), cases, c }))
}

#[derive(Template)]
#[template(path = "office/account.html")]
struct AccountPage {
    c: Chrome,
    username: String,
    name: String,
    roles: Vec<String>,
    /// The operator has no desk yet: the account page says what they can do.
    no_desk: bool,
    csrf: String,
    errors: Vec<(String, String)>,
}

fn account_view(o: &WebOfficer, errors: Vec<(String, String)>) -> AccountPage {
    let op = o.s.operator();
    AccountPage {
        c: o.chrome("account-title").crumb("account-title", None),
        username: op.username.clone(),
        name: op.display_name.clone(),
        roles: op
            .roles
            .iter()
            .map(|g| {
                let role = o.ui.t(&format!("role-{}", g.role.as_str()));
                if g.scope.is_empty() { role } else { format!("{role}, {}", comune_name(&g.scope)) }
            })
            .collect(),
        no_desk: desk_of(role_names(op)) == ACCOUNT,
        csrf: o.s.0.session.csrf_token.clone(),
        errors,
    }
}

/// The operator's own account: who they are, their roles, the password change.
async fn account(o: WebOfficerOrAny) -> Response {
    html(StatusCode::OK, &account_view(&o.0, Vec::new()))
}

#[derive(Deserialize, Default)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

/// Changes the password through the login module (checks the current one, refuses weak ones,
/// ends every session of the account): the operator logs in again.
async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    o: WebOfficerOrAny,
    form: Result<Form<PasswordForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let o = o.0;
    let f = form.map(|f| f.0).unwrap_or_default();
    o.check_csrf(&headers, &f.csrf)?;
    if f.new != f.repeat {
        return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &account_view(&o, vec![("repeat".into(), o.ui.t("account-err-repeat"))])));
    }
    match auth::new_password(&state, &o.s, f.current.clone(), f.new.clone()).await {
        Ok(()) => {
            let mut out = see_other("/ufficio/accesso?password=1");
            if let Some(cookie) = auth::session_cookie("", 0) {
                out.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Ok(out)
        }
        Err(e) => {
            let problems = e.field_problems();
            if problems.is_empty() {
                return Err(o.fail(e));
            }
            let errors = problems.into_iter().map(|p| (p.field, p.reason)).collect();
            Err(html(StatusCode::UNPROCESSABLE_ENTITY, &account_view(&o, errors)))
        }
    }
}

/// Any registry office operator with both factors (the account page is every operator's, not
/// only registry officers').
#[derive(Debug)]
pub struct WebOfficerOrAny(pub(super) WebOfficer);

impl FromRequestParts<AppState> for WebOfficerOrAny {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ui = Ui::from_request_parts(parts, state).await.unwrap_or_else(|e| match e {});
        let s = FirstFactor::of(parts, state, false).await.and_then(OperatorSession::both_factors).map_err(|e| office_error(&ui, e))?;
        Ok(WebOfficerOrAny(WebOfficer { s, ui }))
    }
}

/// An operator who has passed the password but has no second factor yet: may only enrol one.
#[derive(Debug)]
pub struct WebFirstFactor {
    s: FirstFactor,
    ui: Ui,
}

impl FromRequestParts<AppState> for WebFirstFactor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ui = Ui::from_request_parts(parts, state).await.unwrap_or_else(|e| match e {});
        let s = FirstFactor::of(parts, state, false).await.map_err(|e| office_error(&ui, e))?;
        Ok(WebFirstFactor { s, ui })
    }
}

impl WebFirstFactor {
    fn check_csrf(&self, headers: &HeaderMap, field: &str) -> Result<(), Response> {
        super::csrf_ok(headers, field, &self.s.session.csrf_token).map_err(|e| office_error(&self.ui, e))
    }
}

#[derive(Template)]
#[template(path = "office/enrol.html")]
struct EnrolPage {
    c: Chrome,
    csrf: String,
    secret: Option<String>,
    uri: Option<String>,
    qr: Option<String>,
    error: Option<String>,
    enrolled: bool,
    /// The operator's desk, and its name's message key.
    desk: (&'static str, &'static str),
}

fn enrol_view(s: &WebFirstFactor, secret: Option<String>, uri: Option<String>, error: Option<String>) -> EnrolPage {
    let desk = desk_link(&s.s.operator);
    let c = Chrome::new(&s.ui, "enrol-title").crumb(desk.1, Some(desk.0)).crumb("enrol-title", None);
    let qr = uri.as_deref().and_then(|u| anagrafe_docs::qr::png(u).ok()).map(|q| q.png).map(|png| {
        use base64::Engine as _;
        format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png))
    });
    EnrolPage { c, csrf: s.s.session.csrf_token.clone(), secret, uri, qr, error, enrolled: s.s.operator.totp_secret.is_some(), desk }
}

async fn enrol_page(s: WebFirstFactor) -> Response {
    html(StatusCode::OK, &enrol_view(&s, None, None, None))
}

/// Starts the enrolment: a new secret, shown once with its QR code for the authenticator app.
async fn enrol(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: WebFirstFactor,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let f = form.map(|f| f.0).unwrap_or_default();
    s.check_csrf(&headers, &f.csrf)?;
    let e = auth::start_enrolment(&state, &s.s).await.map_err(|e| office_error(&s.ui, e))?;
    Ok(html(StatusCode::OK, &enrol_view(&s, Some(e.secret), Some(e.otpauth_uri), None)))
}

#[derive(Deserialize, Default)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// Confirms the enrolment with a code from the app: the session then has both factors.
async fn confirm_enrolment(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: WebFirstFactor,
    form: Result<Form<CodeForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let f = form.map(|f| f.0).unwrap_or_default();
    s.check_csrf(&headers, &f.csrf)?;
    match auth::confirm_enrolment(&state, &s.s, f.code.trim()).await {
        Ok(()) => Ok(see_other(desk_link(&s.s.operator).0)),
        Err(e) if !e.field_problems().is_empty() => {
            let error = e.field_problems().into_iter().map(|p| p.reason).collect::<Vec<_>>().join("; ");
            Err(html(StatusCode::UNPROCESSABLE_ENTITY, &enrol_view(&s, None, None, Some(error))))
        }
        Err(e) => Err(office_error(&s.ui, e)),
    }
}

impl WebOfficer {
    fn counter_view(
        &self,
        id: &str,
        choice: &super::citizen::CertChoice,
        errors: Vec<(String, String)>,
        form: super::citizen::IssueForm,
    ) -> super::citizen::RequestPage {
        let c = self
            .chrome("counter-title")
            .crumb("office-search-title", Some("/ufficio/persone"))
            .crumb("office-person-title", Some(&format!("/ufficio/persone/{id}")))
            .crumb("counter-title", None);
        let to = super::citizen::RequestTarget {
            action: format!("/ufficio/persone/{id}/certificato"),
            preview: format!("/ufficio/persone/{id}/anteprima?{}", choice.query()),
            cancel: format!("/ufficio/persone/{id}"),
            paid_key: "counter-stamp-paid",
        };
        super::citizen::request_page_for(c, choice, self.s.0.session.csrf_token.clone(), errors, form, to)
    }
}

fn id_path(o: &WebOfficer, id: &str) -> Result<String, Response> {
    let id = id.to_ascii_uppercase();
    anagrafe_domain::IdAnpr::parse(&id).map(|_| id).map_err(|_| o.fail(ApiError::NotFound("no such ID ANPR".into())))
}

/// A refusal of the certificate's checks, in words, with the way back to the person.
fn counter_refusal(o: &WebOfficer, id: &str, e: ApiError) -> Response {
    match e {
        ApiError::NotCertifiable { code, reason } => {
            let c = o.chrome("refused-title");
            let text = format!("{code}: {reason}");
            html(
                StatusCode::UNPROCESSABLE_ENTITY,
                &super::MessagePage { c, text, alert: true, next: Some((o.ui.t("office-person-title"), format!("/ufficio/persone/{id}"))) },
            )
        }
        other => o.fail(other),
    }
}

/// The certificate service, or the page saying certificates are not available here.
fn certificate_service(state: &AppState, o: &WebOfficer) -> Result<anagrafe_service::CertificateService, Response> {
    state.certificate_service().map_err(|e| o.fail(e.into()))
}

/// The person of a counter page, by the ID ANPR in its path.
fn counter_person(o: &WebOfficer, id: &str) -> Result<(String, IdAnpr), Response> {
    let id = id_path(o, id)?;
    let person = IdAnpr::parse(&id).map_err(|_| o.fail(ApiError::NotFound("no such ID ANPR".into())))?;
    Ok((id, person))
}

/// Certificate at the counter, step 2: the checks run first (nothing laid out), then the
/// stamp duty (collected at the counter, or an exemption) and the confirmation.
async fn counter_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    o: WebOfficer,
    q: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let (id, person) = counter_person(&o, &id)?;
    let choice = super::citizen::CertChoice::from_query(q).map_err(|e| o.fail(e))?;
    let check = certificate_service(&state, &o)?.check(&o.principal()?, &choice.request(person)).await;
    if let Err(e) = check {
        return Err(counter_refusal(&o, &id, e.into()));
    }
    Ok(html(StatusCode::OK, &o.counter_view(&id, &choice, Vec::new(), super::citizen::IssueForm::default())))
}

async fn counter_preview(
    State(state): State<AppState>,
    Path(id): Path<String>,
    o: WebOfficer,
    q: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let (id, person) = counter_person(&o, &id)?;
    let choice = super::citizen::CertChoice::from_query(q).map_err(|e| o.fail(e))?;
    let pdf = certificate_service(&state, &o)?.preview(&o.principal()?, &choice.request(person), None).await;
    pdf.map(|pdf| crate::certificates::pdf_response(pdf, "anteprima.pdf")).map_err(|e| counter_refusal(&o, &id, e.into()))
}

/// Issues the certificate at the counter: the stamp duty collected there is recorded as the
/// office's payment, then the certificate service issues it.
async fn counter_issue(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    o: WebOfficer,
    form: Result<Form<super::citizen::IssueForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let (id, person) = counter_person(&o, &id)?;
    let Ok(Form(f)) = form else {
        return Err(o.fail(ApiError::field("body", "is not the certificate form")));
    };
    o.check_csrf(&headers, &f.csrf)?;
    let choice = super::citizen::CertChoice::parse([f.tipo.as_str()], &f.lingua, &f.data).map_err(|e| o.fail(e))?;
    let (errors, exemption) = super::citizen::check_issue_form(&o.ui, &f);
    if !errors.is_empty() {
        return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &o.counter_view(&id, &choice, errors, f)));
    }
    let certs = certificate_service(&state, &o)?;
    let who = o.principal()?;
    let stamp = match exemption {
        Some(code) => super::citizen::exempt_stamp(code, &f.description),
        None => {
            let payment = certs.record_counter_payment(&who).await.map_err(|e| o.fail(e.into()))?;
            anagrafe_domain::certificate::Stamp::Paid { payment_id: payment }
        }
    };
    match certs.issue(&who, &choice.request(person), &stamp).await {
        Ok((meta, _)) => Ok(see_other(&format!("/ufficio/persone/{id}?rilasciato={}", meta.id))),
        Err(e) => Err(super::citizen::issue_refusal(
            &o.ui,
            e,
            |e| counter_refusal(&o, &id, e),
            |errors| html(StatusCode::UNPROCESSABLE_ENTITY, &o.counter_view(&id, &choice, errors, f.clone())),
            |e| o.fail(e),
        )),
    }
}

/// A certificate this office issued (the certificate service lets only the issuing office, or
/// the holder, download it).
async fn counter_download(State(state): State<AppState>, Path(number): Path<String>, o: WebOfficer) -> PageResult {
    super::citizen::valid_number(&number).map_err(|e| o.fail(e))?;
    let (_, pdf) = certificate_service(&state, &o)?.download(&o.principal()?, &number).await.map_err(|e| o.fail(e.into()))?;
    Ok(super::citizen::attachment(pdf, &number))
}
