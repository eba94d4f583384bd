//! The web application (issue 7): public pages, the citizens' reserved area and the registry
//! office's back office, server-rendered with askama templates (`templates/`) on Bootstrap
//! Italia, served by the binary itself ([`assets`]), strings in Fluent files ([`i18n`]).
//!
//! Pages call the same code as the web services (the certificate and registry handlers), so a
//! rule holds in both or in neither. Forms work without JavaScript; htmx only makes some of them
//! faster. Every form that changes something carries the session's CSRF token (`csrf` field or
//! `X-CSRF-Token` header). A page a caller may not see answers 401 (with the way to log in) or
//! 403, as the API does, in HTML.

// A page's error is itself a page (an HTML response): `Result<Response, Response>` is the
// handlers' natural type, and it is returned once per request, not passed around.
#![allow(clippy::result_large_err)]

mod admin;
pub mod assets;
pub mod citizen;
mod dev_login;
pub mod electoral;
pub mod eu;
mod extracts;
mod form;
pub mod i18n;
pub mod office;
pub(crate) mod record;
mod security;
mod verify;

use crate::{ApiError, AppState};
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use i18n::Lang;
use serde::Deserialize;
use std::sync::Arc;

/// A recorded time (epoch ms) as the pages show it: Italian local time, `dd/mm/yyyy hh:mm`.
pub(crate) fn local_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| anagrafe_domain::ops::italian_time(d).format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_default()
}

/// The cookie keeping the chosen language (not personal, not secret).
pub const LANG_COOKIE: &str = "anagrafe-lang";

/// The routes of the web application.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/static/{tag}/{*name}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .route("/lingua", get(switch_language))
        .route("/accessibilita", get(accessibility))
        .route("/privacy", get(privacy))
        .route("/documentazione-api", get(api_docs))
        .route("/note-legali", get(legal))
        .merge(citizen::routes())
        .merge(eu::routes())
        .merge(office::routes())
        .merge(electoral::routes())
        .merge(security::routes())
        .merge(admin::routes())
        .merge(extracts::routes())
        .merge(verify::routes())
        .merge(dev_login::routes())
}

/// A breadcrumb: label and, but for the current page, a link.
#[derive(Debug, Clone)]
pub struct Crumb {
    /// Shown text.
    pub label: String,
    /// Link (`None`: the current page).
    pub href: Option<String>,
}

/// Where the header's logout button posts, with the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Logout {
    /// Form action.
    pub action: &'static str,
    /// CSRF token.
    pub csrf: String,
    /// Who is logged in, as the header shows it.
    pub who: String,
}

/// What every page's frame needs: language, title, breadcrumbs, the logged-in user.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Page language.
    pub lang: Lang,
    /// Page title (also the `h1`, unless the page has its own).
    pub title: String,
    /// Breadcrumbs after "Home".
    pub crumbs: Vec<Crumb>,
    /// The current path with its query (the language switch returns there).
    pub here: String,
    /// Prefix of asset URLs.
    pub assets: String,
    /// The logged-in user, if any.
    pub logout: Option<Logout>,
    /// The areas the navigation offers (by who is logged in).
    pub areas: Vec<Area>,
}

/// An area of the web application the navigation can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// The citizens' reserved area.
    Citizen,
    /// The registry office's desk (or its login, for nobody logged in).
    Registry,
    /// The electoral office's desk.
    Electoral,
    /// The security officer's desk.
    Security,
    /// The system administrator's desk.
    Admin,
    /// The registry extracts: the request page, or a mediator's queue.
    Extracts,
    /// An operator's own account.
    Account,
    /// The public verification of certificates.
    Verify,
    /// The EU citizens' area (eIDAS login).
    Eu,
}

impl Area {
    /// Where it is, and its name's message key.
    pub fn link(self) -> (&'static str, &'static str) {
        match self {
            Area::Citizen => ("/area-personale", "nav-area"),
            Area::Registry => ("/ufficio", "nav-office"),
            Area::Electoral => ("/ufficio/elettorale", "nav-electoral"),
            Area::Security => ("/ufficio/sicurezza", "nav-security"),
            Area::Admin => ("/ufficio/amministrazione", "nav-admin"),
            Area::Extracts => ("/ufficio/visure", "nav-extracts"),
            Area::Account => ("/ufficio/account", "nav-account"),
            Area::Verify => ("/verifica", "nav-verify"),
            Area::Eu => ("/ue", "nav-eu"),
        }
    }
}

/// Who is logged in, as every page's frame shows it: the name, the logout, the areas their
/// roles can use.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The logout button (with the person's name).
    pub logout: Logout,
    /// The areas offered, Verify last.
    pub areas: Vec<Area>,
}

/// The areas offered to nobody in particular.
const PUBLIC_AREAS: [Area; 3] = [Area::Citizen, Area::Registry, Area::Verify];

impl Chrome {
    /// A frame for `ui`'s request titled by the message `title_key`.
    pub fn new(ui: &Ui, title_key: &str) -> Self {
        Self {
            lang: ui.lang,
            title: ui.t(title_key),
            crumbs: Vec::new(),
            here: ui.here.clone(),
            assets: assets::base(),
            logout: ui.viewer.as_ref().map(|v| v.logout.clone()),
            areas: ui.viewer.as_ref().map_or_else(|| PUBLIC_AREAS.to_vec(), |v| v.areas.clone()),
        }
    }

    /// The navigation's links: label and address, home first.
    pub fn nav(&self) -> Vec<(String, &'static str, bool)> {
        let here = self.here.split('?').next().unwrap_or_default();
        std::iter::once(("/", "nav-home"))
            .chain(self.areas.iter().map(|a| a.link()))
            .map(|(href, key)| (self.t(key), href, here == href))
            .collect()
    }

    /// Adds a breadcrumb (label by message key).
    pub fn crumb(mut self, key: &str, href: Option<&str>) -> Self {
        self.crumbs.push(Crumb { label: i18n::t(self.lang, key), href: href.map(str::to_owned) });
        self
    }

    /// A message.
    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }

    /// A reason of the register's rules, in the page's language.
    pub fn why(&self, reason: &anagrafe_domain::Why) -> String {
        i18n::why(self.lang, reason)
    }

    /// A decode table's entry in the page's language ([`i18n::decode`]).
    pub fn decode<T: anagrafe_domain::decode::DecodeTable>(&self, v: T) -> String {
        i18n::decode(self.lang, v)
    }

    /// A message with one argument.
    pub fn t1(&self, key: &str, name: &str, value: &str) -> String {
        i18n::t_args(self.lang, key, &[(name, value)])
    }

    /// The language code.
    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    /// The other languages, with the link switching to each.
    pub fn switch(&self) -> Vec<(&'static str, &'static str, String)> {
        Lang::ALL
            .iter()
            .filter(|l| **l != self.lang)
            .map(|l| {
                let back: String = url::form_urlencoded::byte_serialize(self.here.as_bytes()).collect();
                (l.code(), l.own_name(), format!("/lingua?l={}&torna={back}", l.code()))
            })
            .collect()
    }
}

/// The language and the address of the page being served (every page extracts it; never fails).
#[derive(Debug, Clone)]
pub struct Ui {
    /// Chosen language: the cookie, else `Accept-Language`, else Italian.
    pub lang: Lang,
    /// Path and query.
    pub here: String,
    /// Who is logged in, if anyone.
    pub viewer: Option<Viewer>,
}

impl Ui {
    /// A message in this request's language.
    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }

    /// Why a line of free text was refused, in this request's language, saying what to do.
    pub fn text_error(&self, e: anagrafe_domain::text::TextError) -> String {
        self.why(&e.into())
    }

    /// A reason of the register's rules, in the page's language.
    pub fn why(&self, reason: &anagrafe_domain::Why) -> String {
        i18n::why(self.lang, reason)
    }

    /// A decode table's entry in this request's language ([`i18n::decode`]).
    pub fn decode<T: anagrafe_domain::decode::DecodeTable>(&self, v: T) -> String {
        i18n::decode(self.lang, v)
    }

    /// A message with one argument.
    pub fn t1(&self, key: &str, name: &str, value: &str) -> String {
        i18n::t_args(self.lang, key, &[(name, value)])
    }
}

/// A date as a person types it: `gg/mm/aaaa` (with `/`, `.` or `-`, days and months of one or
/// two digits), or `aaaa-mm-gg` as date inputs send it.
pub fn parse_date(raw: &str) -> Option<chrono::NaiveDate> {
    let raw = raw.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Some(d);
    }
    let parts: Vec<&str> = raw.split(['/', '.', '-']).collect();
    let [d, m, y] = parts.as_slice() else { return None };
    if y.len() != 4 || d.is_empty() || d.len() > 2 || m.is_empty() || m.len() > 2 {
        return None;
    }
    chrono::NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// The language a request asks for.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    crate::auth::cookie_value(headers, LANG_COOKIE)
        .and_then(|v| Lang::parse(&v))
        .or_else(|| headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Lang::from_accept_language))
        .unwrap_or(Lang::It)
}

impl FromRequestParts<AppState> for Ui {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let here = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
        let viewer = match parts.extensions.get::<Option<Viewer>>() {
            Some(v) => v.clone(),
            None => {
                let v = viewer_of(parts, state).await;
                parts.extensions.insert(v.clone());
                v
            }
        };
        Ok(Ui { lang: lang_of(&parts.headers), here, viewer })
    }
}

/// Who the request's session cookie names, if its session is open: read only (no activity
/// recorded, nothing traced), for the frame. An operator who has not shown the second factor
/// sees only their account; a citizen is named by their record, never by their code.
async fn viewer_of(parts: &Parts, state: &AppState) -> Option<Viewer> {
    let token = crate::auth::cookie_value(&parts.headers, crate::auth::COOKIE)?;
    let s = state.store.session(&crate::auth::token_hash(&token)).await.ok().flatten()?;
    let now = state.clock.now_ms();
    if s.ended_at.is_some() || now >= s.expires_at || now - s.last_seen_at > state.auth.idle_timeout_s * 1000 {
        return None;
    }
    match s.kind.as_str() {
        "operator" => {
            let o = state.store.operator(&s.subject).await.ok().flatten().filter(|o| !o.disabled)?;
            let has = |r: anagrafe_domain::Role| s.second_factor && o.roles.iter().any(|g| g.role == r);
            let mut areas = Vec::new();
            if has(anagrafe_domain::Role::RegistryOfficer) {
                areas.push(Area::Registry);
            }
            if has(anagrafe_domain::Role::ElectoralOfficer) {
                areas.push(Area::Electoral);
            }
            if has(anagrafe_domain::Role::SecurityOfficer) {
                areas.push(Area::Security);
            }
            if has(anagrafe_domain::Role::SystemAdmin) {
                areas.push(Area::Admin);
            }
            if s.second_factor && o.roles.iter().any(|g| g.role.is_public_body()) {
                areas.push(Area::Extracts);
            }
            areas.extend([Area::Account, Area::Verify]);
            let logout = Logout { action: "/ufficio/esci", csrf: s.csrf_token, who: o.display_name };
            Some(Viewer { logout, areas })
        }
        "citizen" => {
            let who = citizen_name(state, &s.subject).await.unwrap_or_else(|| i18n::t(lang_of(&parts.headers), "nav-citizen"));
            let logout = Logout { action: "/area-personale/esci", csrf: s.csrf_token, who };
            Some(Viewer { logout, areas: vec![Area::Citizen, Area::Verify] })
        }
        "eu" => {
            let who = state
                .store
                .eu_profile(&s.subject)
                .await
                .ok()
                .flatten()
                .map(|p| format!("{} {}", p.given_name, p.family_name))
                .unwrap_or_else(|| i18n::t(lang_of(&parts.headers), "nav-citizen"));
            let logout = Logout { action: "/ue/esci", csrf: s.csrf_token, who };
            Some(Viewer { logout, areas: vec![Area::Eu, Area::Verify] })
        }
        _ => None,
    }
}

/// A citizen's name as their record has it ("Anna Maria Bianchi").
async fn citizen_name(state: &AppState, subject: &str) -> Option<String> {
    let cf = anagrafe_domain::CodiceFiscale::parse(subject).ok()?;
    let id = *state.store.find_by_cf(&cf, None).await.ok()?.first()?;
    let record = state.store.person(id, None).await.ok()?.record;
    let name = &record.generalita.name;
    let words: Vec<String> = [name.given(), name.surname()]
        .into_iter()
        .flatten()
        .flat_map(str::split_whitespace)
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c.flat_map(char::to_lowercase)).collect()).unwrap_or_default()
        })
        .collect();
    Some(words.join(" ")).filter(|n| !n.is_empty())
}

/// Renders a template as an HTML response with `status`.
pub fn html<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => {
            let mut r = (status, body).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            r
        }
        Err(e) => ApiError::Internal(format!("template: {e}")).into_response(),
    }
}

/// A page saying why something could not be shown or done.
#[derive(Debug, Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    /// Frame.
    pub c: Chrome,
    /// Text.
    pub text: String,
    /// Whether it is an error (an alert) or a notice.
    pub alert: bool,
    /// A way on: label and link.
    pub next: Option<(String, String)>,
}

/// Paths of machine clients (the JSON API, the e-services, sign-in endpoints, health,
/// assets): an unknown path there answers problem+json, as their clients expect.
const MACHINE_PREFIXES: [&str; 9] = ["/api", "/pdnd", "/auth", "/dev-idp", "/health", "/metrics", "/static", "/test-only", "/.well-known"];

/// The application's fallback: an unknown path of the web application is the "page not found"
/// page, with the header and a way back; under a machine prefix it is problem+json.
pub async fn not_found(ui: Ui, uri: axum::http::Uri) -> Response {
    let path = uri.path();
    let machine = MACHINE_PREFIXES.iter().any(|p| path == *p || path.starts_with(&format!("{p}/")));
    let e = ApiError::NotFound(format!("no route {path}"));
    if machine { e.into_response() } else { error_page(&ui, e) }
}

/// The HTML answer for an error of the code the pages call (the API's own errors, in words).
pub fn error_page(ui: &Ui, e: ApiError) -> Response {
    let status = e.status();
    let (title, text, next) = match &e {
        ApiError::Unauthorized(_) => ("err-401-title", ui.t("err-401-text"), Some((ui.t("nav-login"), "/accedi".to_owned()))),
        ApiError::Forbidden(_) => ("err-403-title", ui.t("err-403-text"), Some((ui.t("nav-home"), "/".to_owned()))),
        ApiError::NotFound(_) => ("err-404-title", ui.t("err-404-text"), Some((ui.t("nav-home"), "/".to_owned()))),
        ApiError::TooMany { .. } => ("err-429-title", ui.t("err-429-text"), None),
        ApiError::Internal(_) | ApiError::Unavailable(_) => ("err-500-title", ui.t("err-500-text"), None),
        other => ("err-400-title", other.detail(), None),
    };
    if status.is_server_error() {
        tracing::error!(error = %e, "page failed");
    }
    let mut r = html(status, &MessagePage { c: Chrome::new(ui, title), text, alert: true, next });
    if let ApiError::TooMany { retry_after_s, .. } = e
        && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The pages' result: a page, or an error shown as a page.
pub type PageResult = Result<Response, Response>;

/// A 303 to a local path.
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Whether `to` is a path of this site (no scheme, no host, no `//`): the only places the
/// language switch and the login return to.
pub fn local_path(to: &str) -> bool {
    to.starts_with('/') && !to.starts_with("//") && !to.contains('\\') && !to.chars().any(char::is_control)
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    c: Chrome,
}

async fn home(ui: Ui) -> Response {
    html(StatusCode::OK, &HomePage { c: Chrome::new(&ui, "home-title") })
}

/// The accessibility statement, after AgID's model: conformity status (with what is not yet
/// accessible), when and how it was drawn up, the feedback channel, and the enforcement
/// procedure (AgID's form).
#[derive(Template)]
#[template(path = "accessibility.html")]
struct AccessibilityPage {
    c: Chrome,
    publisher: Arc<crate::Publisher>,
    /// `a11y-conformity-…` message key of the declared state.
    conformity: &'static str,
    assessed_on: Option<String>,
}

async fn accessibility(axum::extract::State(state): axum::extract::State<AppState>, ui: Ui) -> Response {
    let conformity = match state.publisher.accessibility_conformity.as_str() {
        "compliant" => "a11y-conformity-full",
        "not_compliant" => "a11y-conformity-none",
        _ => "a11y-conformity-partial",
    };
    let assessed_on = state.publisher.accessibility_assessed_on.map(|d| d.format("%d/%m/%Y").to_string());
    html(
        StatusCode::OK,
        &AccessibilityPage {
            c: Chrome::new(&ui, "a11y-title").crumb("a11y-title", None),
            publisher: state.publisher.clone(),
            conformity,
            assessed_on,
        },
    )
}

/// One operation of an API, as the documentation page lists it.
struct ApiOperation {
    method: String,
    path: String,
    summary: String,
    /// The request body's schema, when it has one.
    body: String,
    /// The answers' status codes.
    answers: String,
}

/// One API: its title, version, description, where its contract is, and its operations.
struct ApiSection {
    id: &'static str,
    title: String,
    version: String,
    description: String,
    contract: &'static str,
    operations: Vec<ApiOperation>,
}

/// The readable form of an OpenAPI document (paths, methods, summaries, bodies, answers),
/// from the same document the server serves: the page cannot drift from the contract.
fn api_section(id: &'static str, doc: &str, contract: &'static str) -> ApiSection {
    let v: serde_json::Value = serde_json::from_str(doc).unwrap_or_default();
    let text = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_owned();
    let mut operations = Vec::new();
    if let Some(paths) = v["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                let op = &item[method];
                if op.is_null() {
                    continue;
                }
                let body = op["requestBody"]["content"]
                    .as_object()
                    .and_then(|c| c.values().next())
                    .map(|m| text(&m["schema"]["$ref"]).rsplit('/').next().unwrap_or_default().to_owned())
                    .unwrap_or_default();
                let answers = op["responses"].as_object().map(|r| r.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default();
                operations.push(ApiOperation {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: text(&op["summary"]),
                    body,
                    answers,
                });
            }
        }
    }
    ApiSection {
        id,
        title: text(&v["info"]["title"]),
        version: text(&v["info"]["version"]),
        description: text(&v["info"]["description"]),
        contract,
        operations,
    }
}

#[derive(Template)]
#[template(path = "api-docs.html")]
struct ApiDocsPage {
    c: Chrome,
    sections: Vec<ApiSection>,
}

/// `GET /documentazione-api`: the web services' and the e-services' contracts, readable, served
/// by the register itself (nothing fetched from elsewhere).
async fn api_docs(ui: Ui) -> Response {
    let sections = vec![
        api_section("servizi-comuni", crate::openapi::API, "/api/openapi.json"),
        api_section("e-service", crate::openapi::PDND, "/pdnd/openapi.json"),
    ];
    html(StatusCode::OK, &ApiDocsPage { c: Chrome::new(&ui, "apidocs-title").crumb("apidocs-title", None), sections })
}

#[derive(Template)]
#[template(path = "privacy.html")]
struct PrivacyPage {
    c: Chrome,
    publisher: Arc<crate::Publisher>,
}

async fn privacy(axum::extract::State(state): axum::extract::State<AppState>, ui: Ui) -> Response {
    html(
        StatusCode::OK,
        &PrivacyPage { c: Chrome::new(&ui, "privacy-title").crumb("privacy-title", None), publisher: state.publisher.clone() },
    )
}

#[derive(Template)]
#[template(path = "legal.html")]
struct LegalPage {
    c: Chrome,
}

async fn legal(ui: Ui) -> Response {
    html(StatusCode::OK, &LegalPage { c: Chrome::new(&ui, "legal-title").crumb("legal-title", None) })
}

#[derive(Deserialize)]
struct SwitchQuery {
    #[serde(default)]
    l: String,
    #[serde(default)]
    torna: Option<String>,
}

/// `GET /lingua?l=en&torna=/path`: keeps the language in a cookie and goes back.
async fn switch_language(ui: Ui, q: Result<Query<SwitchQuery>, axum::extract::rejection::QueryRejection>) -> Response {
    let Ok(Query(q)) = q else {
        return error_page(&ui, ApiError::field("l", "must be it or en"));
    };
    let Some(lang) = Lang::parse(&q.l) else {
        return error_page(&ui, ApiError::field("l", "must be it or en"));
    };
    let back = q.torna.filter(|t| local_path(t) && t.len() <= 2048).unwrap_or_else(|| "/".into());
    let mut r = see_other(&back);
    // No script reads it (HttpOnly); sent over HTTPS only, as the session cookies (browsers
    // treat localhost as secure, so the demo keeps it); Lax so that a link from elsewhere opens
    // the page in the chosen language.
    let cookie = format!("{LANG_COOKIE}={}; Path=/; Max-Age=31536000; HttpOnly; Secure; SameSite=Lax", lang.code());
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// A page whose body older code builds itself (escaped there), in the common frame.
#[derive(Template)]
#[template(path = "framed.html")]
struct Framed<'a> {
    c: Chrome,
    body: &'a str,
}

/// `body` (HTML the caller escaped) framed like every page (with the request's viewer), titled
/// `title`.
pub fn framed(status: StatusCode, ui: &Ui, title: &str, body: &str) -> Response {
    let mut c = Chrome::new(ui, "home-title");
    c.title = title.to_owned();
    c.crumbs.push(Crumb { label: title.to_owned(), href: None });
    html(status, &Framed { c, body })
}

/// A form whose only field is the CSRF token (logout, e-mail a copy, start an enrolment).
#[derive(Deserialize, Default)]
pub(crate) struct CsrfForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub(crate) csrf: String,
}

/// Whether a form carries the session's CSRF token: its `csrf` field, else the `X-CSRF-Token`
/// header (htmx sends the header). Refused: 403.
pub(crate) fn csrf_ok(headers: &HeaderMap, field: &str, session_token: &str) -> Result<(), ApiError> {
    let sent =
        if field.is_empty() { headers.get(crate::auth::CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default() } else { field };
    if crate::auth::same(sent, session_token) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("the form's CSRF token is missing or wrong".into()))
    }
}

/// The cookie of the forms sent before any session exists (the operators' login, the
/// verification upload): its value is repeated in the form's `csrf` field (double submit), and
/// being `SameSite=Strict` it never comes with a post from another site.
pub const FORM_COOKIE: &str = "__Host-anagrafe-form";

/// The anti-CSRF token of a session-less form: the browser's, else a new one with the cookie to
/// set.
pub(crate) fn form_token(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match crate::auth::cookie_value(headers, FORM_COOKIE).filter(|t| t.len() == 43) {
        Some(t) => (t, None),
        None => {
            let t = crate::auth::random_token();
            let cookie =
                HeaderValue::from_str(&format!("{FORM_COOKIE}={t}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=86400")).ok();
            (t, cookie)
        }
    }
}

/// Whether a session-less form's `csrf` field repeats its cookie.
pub(crate) fn form_token_ok(headers: &HeaderMap, sent: &str) -> bool {
    crate::auth::cookie_value(headers, FORM_COOKIE).is_some_and(|c| crate::auth::same(&c, sent))
}

/// Adds the form cookie to a response, when a new one was made.
pub(crate) fn with_form_cookie(mut r: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

#[cfg(test)]
mod date_tests {
    #[test]
    fn dates_are_read_as_people_type_them() {
        let d = chrono::NaiveDate::from_ymd_opt(2015, 6, 1).unwrap();
        for raw in ["01/06/2015", "1/6/2015", "01.06.2015", "01-06-2015", "2015-06-01", " 01/06/2015 "] {
            assert_eq!(super::parse_date(raw), Some(d), "{raw}");
        }
        for raw in ["", "06/2015", "32/01/2015", "01/13/2015", "01/06/15", "2015/06/01x", "a/b/cccc"] {
            assert_eq!(super::parse_date(raw), None, "{raw}");
        }
    }
}
