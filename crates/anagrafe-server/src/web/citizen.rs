//! The citizens' reserved area (CIT-2): login choice, the own record with the ID ANPR and the
//! family, certificates (type → preview → stamp duty or exemption → confirmation → download;
//! the list of the own certificates; a copy by e-mail), logout.
//!
//! Who is asking comes from the citizen session only; the certificate steps call the
//! certificate service with the citizen as principal, so "about themselves only" is enforced by
//! the same code as for the web services.

use super::{Chrome, CsrfForm, PageResult, Ui, error_page, html, see_other};
use crate::auth::{self, session_of};
use crate::{ApiError, AppState};
use anagrafe_domain::IdAnpr;
use anagrafe_domain::certificate::STAMP_DUTY_CENTS;
use anagrafe_domain::certificate::Stamp;
use anagrafe_domain::decode::{DecodeTable, EsenzioneBollo, RelazioneParentela, TipoCertificato};
use anagrafe_service::certificates::{self as certificates, CertificateRequest, MailChannel};
use anagrafe_service::{Principal, ServiceError};
use anagrafe_store::Session;
use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/accedi", get(login_choice))
        .route("/area-personale", get(record))
        .route("/area-personale/certificati", get(certificates_page).post(issue))
        .route("/area-personale/pagamento", post(pay))
        .route("/area-personale/certificati/nuovo", get(request_page))
        .route("/area-personale/certificati/anteprima", get(preview))
        .route("/area-personale/certificati/{id}/pdf", get(download))
        .route("/area-personale/certificati/{id}/email", post(email))
        .route("/area-personale/accessi", get(accesses))
        .route("/area-personale/esci", post(logout))
}

/// A citizen's session, for the pages (no session: the 401 page with the way to log in).
#[derive(Debug)]
pub struct WebCitizen {
    /// The session (subject: the codice fiscale).
    pub session: Session,
    pub(super) ui: Ui,
}

impl FromRequestParts<AppState> for WebCitizen {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ui = Ui::from_request_parts(parts, state).await.unwrap_or_else(|e| match e {});
        match session_of(parts, state, "citizen", false).await {
            Ok(session) => Ok(WebCitizen { session, ui }),
            Err(e) => Err(error_page(&ui, e)),
        }
    }
}

impl WebCitizen {
    pub(super) fn chrome(&self, title_key: &str) -> Chrome {
        // The frame names the citizen and offers the logout (the request's viewer).
        Chrome::new(&self.ui, title_key)
    }

    /// Refuses a form whose CSRF token (field `csrf`, or the `X-CSRF-Token` header) is not the
    /// session's.
    pub(super) fn check_csrf(&self, headers: &axum::http::HeaderMap, field: &str) -> Result<(), Response> {
        super::csrf_ok(headers, field, &self.session.csrf_token).map_err(|e| error_page(&self.ui, e))
    }

    /// The citizen as the services see them.
    pub(super) fn principal(&self) -> Principal {
        crate::certificates::citizen_principal(&self.session)
    }

    pub(super) fn fail(&self, e: ApiError) -> Response {
        error_page(&self.ui, e)
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    providers: Vec<(String, String)>,
}

async fn login_choice(State(state): State<AppState>, ui: Ui) -> Response {
    let providers = state
        .oidc
        .providers
        .iter()
        .map(|p| {
            let label = match p.name.as_str() {
                "spid" => ui.t("login-spid"),
                "cie" => ui.t("login-cie"),
                "eidas" => ui.t("login-eidas"),
                "dev" => ui.t("login-dev"),
                other => other.to_owned(),
            };
            (format!("/auth/citizen/login?provider={}", url::form_urlencoded::byte_serialize(p.name.as_bytes()).collect::<String>()), label)
        })
        .collect();
    html(StatusCode::OK, &LoginPage { c: Chrome::new(&ui, "login-title").crumb("login-title", None), providers })
}

/// A labelled value of the record page.
struct Member {
    name: String,
    relation: String,
    id_anpr: String,
    me: bool,
}

#[derive(Template)]
#[template(path = "citizen/record.html")]
struct RecordPage {
    c: Chrome,
    id_anpr: String,
    fields: Vec<super::record::RecordField>,
    family: Vec<Member>,
    as_of: String,
}

/// The internal id of the session's person.
fn display_name(r: &anagrafe_domain::PersonRecord) -> String {
    let n = &r.generalita.name;
    [n.given(), n.surname()].into_iter().flatten().collect::<Vec<_>>().join(" ")
}

async fn record(State(state): State<AppState>, s: WebCitizen) -> PageResult {
    // Reading the own record is an access to personal data like any other: traced (by the
    // service).
    let own = state.citizen().own_record(&s.principal()).await.map_err(|e| s.fail(e.into()))?;
    let (view, pid) = (&own.view, own.view.id);
    let r = &view.record;
    let on = view.as_of;
    let c = s.chrome("record-title").crumb("area-title", Some("/area-personale")).crumb("record-title", None);
    let fields = super::record::fields(&c, r, on);
    let family = own
        .household
        .iter()
        .map(|(m, record)| Member {
            name: display_name(record),
            relation: RelazioneParentela::from_code(m.relation).map(|x| c.decode(x)).unwrap_or_else(|| m.relation.to_string()),
            id_anpr: m.id_anpr.map(|i| i.to_string()).unwrap_or_default(),
            me: m.person_id == pid,
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        &RecordPage {
            id_anpr: r.id_anpr.map(|i| i.to_string()).unwrap_or_else(|| c.t("record-no-id")),
            fields,
            family,
            as_of: certificates::dmy(on),
            c,
        },
    ))
}

/// A certificate type as the pages offer it.
pub(super) struct TypeOption {
    pub(super) code: u16,
    pub(super) label: String,
    pub(super) selected: bool,
    /// What it certifies, in one line (empty where the page does not say it).
    pub(super) what: String,
}

pub(super) fn type_options(c: &Chrome, selected: Option<u16>) -> Vec<TypeOption> {
    TipoCertificato::ALL
        .iter()
        .map(|t| TypeOption { code: t.code(), label: type_label(c, t.code()), selected: Some(t.code()) == selected, what: String::new() })
        .collect()
}

/// The language choices of a certificate, as the first step offers them.
pub(super) fn lang_options(c: &Chrome) -> Vec<(String, String)> {
    LANG_CHOICES.iter().map(|l| ((*l).to_owned(), c.t(&format!("cert-lang-{}", if l.is_empty() { "auto" } else { l })))).collect()
}

pub(super) fn type_label(c: &Chrome, code: u16) -> String {
    c.t(&format!("cert-type-{code}"))
}

pub(super) struct CertRow {
    pub(super) id: String,
    pub(super) types: String,
    pub(super) issued: String,
    pub(super) expires: String,
    pub(super) available: bool,
}

#[derive(Template)]
#[template(path = "citizen/certificates.html")]
struct CertificatesPage {
    c: Chrome,
    types: Vec<TypeOption>,
    /// The types the person cannot obtain now, with the reason.
    unavailable: Vec<(String, String)>,
    /// What a certificate costs.
    cost: String,
    langs: Vec<(String, String)>,
    rows: Vec<CertRow>,
    /// Where the rows' downloads and e-mails go.
    cert_base: &'static str,
    issued: Option<String>,
    emailed: Option<String>,
    csrf: String,
    can_email: bool,
}

#[derive(Deserialize, Default)]
struct CertListQuery {
    #[serde(default)]
    rilasciato: Option<String>,
    #[serde(default)]
    inviato: Option<String>,
}

fn ms_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|d| certificates::dmy(anagrafe_domain::ops::italian_date(d))).unwrap_or_default()
}

async fn certificates_page(
    State(state): State<AppState>,
    s: WebCitizen,
    q: Result<Query<CertListQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let q = q.map(|q| q.0).unwrap_or_default();
    let c = s.chrome("certs-title").crumb("area-title", Some("/area-personale")).crumb("certs-title", None);
    let certs = service(&state, &s)?;
    let listed = certs.list(&s.principal(), None).await.map_err(|e| s.fail(e.into()))?;
    // Only the types the person can obtain today are offered; the others are named with why.
    let person = own_id_anpr(&state, &s).await.map_err(|e| s.fail(e))?;
    let offers = certs.offers(&s.principal(), &person).await.map_err(|e| s.fail(e.into()))?;
    let first = offers
        .iter()
        .find(|(k, r)| r.is_none() && k.code() == 8)
        .or_else(|| offers.iter().find(|(_, r)| r.is_none()))
        .map(|(k, _)| k.code());
    let types: Vec<TypeOption> = offers
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(k, _)| TypeOption {
            code: k.code(),
            label: type_label(&c, k.code()),
            selected: Some(k.code()) == first,
            what: c.t(&format!("cert-what-{}", k.code())),
        })
        .collect();
    let unavailable: Vec<(String, String)> =
        offers.iter().filter_map(|(k, r)| r.as_ref().map(|r| (type_label(&c, k.code()), r.reason.clone()))).collect();
    let today = state.clock.today();
    let rows = listed
        .iter()
        .map(|x| CertRow {
            id: x.id.clone(),
            types: x.types.iter().map(|t| type_label(&c, *t)).collect::<Vec<_>>().join(" + "),
            issued: ms_date(x.issued_at),
            expires: certificates::dmy(x.expires_on),
            available: x.deleted_at.is_none() && x.expires_on >= today,
        })
        .collect();
    let can_email = state.certificates.as_ref().is_some_and(|c| c.mail.is_some());
    Ok(html(
        StatusCode::OK,
        &CertificatesPage {
            types,
            unavailable,
            cost: c.t1("cert-cost", "amount", &format!("{},{:02} €", STAMP_DUTY_CENTS / 100, STAMP_DUTY_CENTS % 100)),
            langs: lang_options(&c),
            rows,
            cert_base: "/area-personale/certificati",
            issued: q.rilasciato.filter(|x| x.len() <= 32),
            emailed: q.inviato.filter(|x| x.len() <= 32),
            csrf: s.session.csrf_token.clone(),
            can_email,
            c,
        },
    ))
}

/// What is asked of a certificate: its types (more than one make a combined, *contestuale*,
/// certificate) and its languages (`None`: Italian and the second official language of the
/// comune of residence, where it has one; `it`: Italian only; `de`, `fr`, `sl`: Italian and
/// that language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CertChoice {
    pub(super) types: Vec<u16>,
    pub(super) lang: Option<String>,
    /// The date of a historical residence at a date (type 20), as typed (`gg/mm/aaaa`).
    pub(super) date: Option<NaiveDate>,
}

/// The most types one combined certificate holds.
const MAX_COMBINED: usize = 6;

/// The certificate languages the pages offer, by their value.
pub(super) const LANG_CHOICES: &[&str] = &["", "it", "de", "fr", "sl"];

impl CertChoice {
    /// From the form's `tipo` (a type, or a comma-separated list as the later steps carry it)
    /// and `lingua` values, and the `con` boxes of types to combine with it.
    pub(super) fn parse<'a>(tipo: impl IntoIterator<Item = &'a str>, lingua: &str, data: &str) -> Result<Self, ApiError> {
        let mut types = Vec::new();
        for raw in tipo.into_iter().flat_map(|t| t.split(',')).map(str::trim).filter(|t| !t.is_empty()) {
            let t = anagrafe_domain::certificate::parse_type(raw)
                .map(DecodeTable::code)
                .ok_or_else(|| ApiError::field("tipo", "choose a certificate type of the list"))?;
            if !types.contains(&t) {
                types.push(t);
            }
        }
        if types.is_empty() {
            return Err(ApiError::field("tipo", "choose a certificate type of the list"));
        }
        if types.len() > MAX_COMBINED {
            return Err(ApiError::field("tipo", format!("a combined certificate holds at most {MAX_COMBINED} types")));
        }
        let lang = match lingua.trim() {
            "" => None,
            l if LANG_CHOICES.contains(&l) => Some(l.to_owned()),
            _ => return Err(ApiError::field("lingua", "is it, de, fr or sl (or empty: as the comune of residence)")),
        };
        // The historical residence at a date asks for its date, and only it takes one.
        let date = match (types.contains(&20), data.trim()) {
            (true, "") => return Err(ApiError::field("data", "the historical residence at a date needs the date (gg/mm/aaaa)")),
            (true, raw) => Some(
                super::parse_date(raw)
                    .ok_or_else(|| ApiError::field("data", "is not a date: write it as gg/mm/aaaa (for example 01/06/2015)"))?,
            ),
            (false, _) => None,
        };
        Ok(CertChoice { types, lang, date })
    }

    /// From a step's query: `tipo` and `con` values, `lingua`.
    pub(super) fn from_query(q: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>) -> Result<Self, ApiError> {
        let pairs = q.map(|q| q.0).map_err(|_| ApiError::field("tipo", "choose a certificate type of the list"))?;
        let tipo = pairs.iter().filter(|(k, _)| k == "tipo" || k == "con").map(|(_, v)| v.as_str());
        let lingua = pairs.iter().find(|(k, _)| k == "lingua").map(|(_, v)| v.as_str()).unwrap_or_default();
        let data = pairs.iter().find(|(k, _)| k == "data").map(|(_, v)| v.as_str()).unwrap_or_default();
        Self::parse(tipo, lingua, data)
    }

    /// The types as the later steps carry them (`8,4`).
    pub(super) fn tipo(&self) -> String {
        self.types.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
    }

    /// The query string of the later steps.
    pub(super) fn query(&self) -> String {
        let date = self.date.map(|d| format!("&data={d}")).unwrap_or_default();
        format!("tipo={}&lingua={}{date}", self.tipo(), self.lang.as_deref().unwrap_or_default())
    }

    /// The certificate service's request about `person`.
    pub(super) fn request(&self, person: IdAnpr) -> CertificateRequest {
        CertificateRequest {
            person,
            kinds: self.types.iter().filter_map(|t| TipoCertificato::from_code(*t)).collect(),
            reference_date: self.date,
            lang: self.lang.clone(),
        }
    }

    /// The types in words.
    pub(super) fn label(&self, c: &Chrome) -> String {
        let mut types = self.types.iter().map(|t| type_label(c, *t)).collect::<Vec<_>>().join(" + ");
        if let Some(d) = self.date {
            types = format!("{types}, {}", certificates::dmy(d));
        }
        match &self.lang {
            None => types,
            Some(l) => format!("{types} ({})", c.t(&format!("cert-lang-{l}"))),
        }
    }
}

pub(super) struct Exemption {
    code: u16,
    label: String,
}

#[derive(Template)]
#[template(path = "citizen/request.html")]
pub(super) struct RequestPage {
    c: Chrome,
    /// The types as the form carries them (`8,4`), and the languages.
    tipo: String,
    lingua: String,
    data: String,
    type_label: String,
    exemptions: Vec<Exemption>,
    csrf: String,
    stamp_paid: String,
    errors: Vec<(String, String)>,
    form: IssueForm,
    /// Where the form posts, the preview's link, the way back.
    action: String,
    preview: String,
    cancel: String,
}

/// The certificate request's second step, for a citizen or at the counter.
pub(super) struct RequestTarget<'a> {
    pub(super) action: String,
    pub(super) preview: String,
    pub(super) cancel: String,
    /// Message key of the "stamp duty paid" choice (online payment, or collected at the counter).
    pub(super) paid_key: &'a str,
}

pub(super) fn request_page_for(
    c: Chrome,
    choice: &CertChoice,
    csrf: String,
    errors: Vec<(String, String)>,
    form: IssueForm,
    to: RequestTarget<'_>,
) -> RequestPage {
    let euro = format!("{},{:02}", STAMP_DUTY_CENTS / 100, STAMP_DUTY_CENTS % 100);
    RequestPage {
        type_label: choice.label(&c),
        tipo: choice.tipo(),
        lingua: choice.lang.clone().unwrap_or_default(),
        data: choice.date.map(|d| d.to_string()).unwrap_or_default(),
        exemptions: exemptions(),
        csrf,
        stamp_paid: c.t1(to.paid_key, "amount", &euro),
        errors,
        form,
        action: to.action,
        preview: to.preview,
        cancel: to.cancel,
        c,
    }
}

/// Checks the stamp and confirmation fields: the errors by field, and the exemption code when
/// one was chosen.
pub(super) fn check_issue_form(ui: &Ui, f: &IssueForm) -> (Vec<(String, String)>, Option<u16>) {
    let mut errors = Vec::new();
    if f.confirm.is_none() {
        errors.push(("confirm".to_owned(), ui.t("issue-err-confirm")));
    }
    let exemption = match f.stamp.as_str() {
        "paid" => None,
        "exempt" => match f.exemption.trim().parse::<u16>().ok().and_then(EsenzioneBollo::from_code) {
            Some(e) => Some(e.code()),
            None => {
                errors.push(("exemption".to_owned(), ui.t("issue-err-exemption")));
                None
            }
        },
        _ => {
            errors.push(("stamp".to_owned(), ui.t("issue-err-stamp")));
            None
        }
    };
    if exemption == Some(99) && (f.description.trim().is_empty() || f.description.chars().count() > 256) {
        errors.push(("description".to_owned(), ui.t("issue-err-description")));
    }
    (errors, exemption)
}

/// The `stamp` of an exempt certificate request.
pub(super) fn exempt_stamp(code: u16, description: &str) -> Stamp {
    let description = description.trim();
    Stamp::Exempt { code, description: (!description.is_empty()).then(|| description.to_owned()) }
}

fn exemptions() -> Vec<Exemption> {
    EsenzioneBollo::ALL
        .iter()
        .filter(|e| e.valid_until().is_none())
        .map(|e| Exemption { code: e.code(), label: format!("{} - {}", e.code(), e.description()) })
        .collect()
}

fn request_view(s: &WebCitizen, choice: &CertChoice, errors: Vec<(String, String)>, form: IssueForm) -> RequestPage {
    let c = s
        .chrome("request-title")
        .crumb("area-title", Some("/area-personale"))
        .crumb("certs-title", Some("/area-personale/certificati"))
        .crumb("request-title", None);
    let to = RequestTarget {
        action: "/area-personale/certificati".into(),
        preview: format!("/area-personale/certificati/anteprima?{}", choice.query()),
        cancel: "/area-personale/certificati".into(),
        paid_key: "request-stamp-paid",
    };
    request_page_for(c, choice, s.session.csrf_token.clone(), errors, form, to)
}

/// Step 2: the chosen type, the link to its preview, the stamp duty and the confirmation. The
/// eligibility checks run here already (nothing is laid out), so a refusal is
/// said before anything is paid.
async fn request_page(
    State(state): State<AppState>,
    s: WebCitizen,
    q: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let choice = CertChoice::from_query(q).map_err(|e| s.fail(e))?;
    let person = own_id_anpr(&state, &s).await.map_err(|e| s.fail(e))?;
    if let Err(e) = service(&state, &s)?.check(&s.principal(), &choice.request(person)).await {
        return Err(refusal_page(&s, &choice, e.into()));
    }
    Ok(html(StatusCode::OK, &request_view(&s, &choice, Vec::new(), IssueForm::default())))
}

#[derive(Template)]
#[template(path = "message.html")]
struct RefusalPage {
    c: Chrome,
    text: String,
    alert: bool,
    next: Option<(String, String)>,
}

fn refusal_page(s: &WebCitizen, choice: &CertChoice, e: ApiError) -> Response {
    match e {
        ApiError::NotCertifiable { code: why, reason } => {
            let c = s
                .chrome("refused-title")
                .crumb("area-title", Some("/area-personale"))
                .crumb("certs-title", Some("/area-personale/certificati"));
            let text = c.t1("refused-text", "type", &choice.label(&c)) + &format!(" ({why}: {reason})");
            let next = Some((c.t("refused-back"), "/area-personale/certificati".to_owned()));
            html(StatusCode::UNPROCESSABLE_ENTITY, &RefusalPage { c, text, alert: true, next })
        }
        other => s.fail(other),
    }
}

async fn own_id_anpr(state: &AppState, s: &WebCitizen) -> Result<IdAnpr, ApiError> {
    Ok(state.citizen().own_id_anpr(&s.principal()).await?)
}

/// The certificate service, or the page saying certificates are not available here.
fn service(state: &AppState, s: &WebCitizen) -> Result<anagrafe_service::CertificateService, Response> {
    state.certificate_service().map_err(|e| s.fail(e.into()))
}

async fn preview(
    State(state): State<AppState>,
    s: WebCitizen,
    q: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let choice = CertChoice::from_query(q).map_err(|e| s.fail(e))?;
    let person = own_id_anpr(&state, &s).await.map_err(|e| s.fail(e))?;
    let pdf = service(&state, &s)?.preview(&s.principal(), &choice.request(person), None).await;
    pdf.map(|pdf| crate::certificates::pdf_response(pdf, "anteprima.pdf")).map_err(|e| refusal_page(&s, &choice, e.into()))
}

/// The issue form's fields (kept to show them again with the errors).
#[derive(Deserialize, Default, Clone)]
pub(super) struct IssueForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) tipo: String,
    #[serde(default)]
    pub(super) lingua: String,
    #[serde(default)]
    pub(super) data: String,
    #[serde(default)]
    pub(super) stamp: String,
    #[serde(default)]
    pub(super) exemption: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) confirm: Option<String>,
    /// The stamp-duty payment made at the payment step, carried to the issue.
    #[serde(default)]
    pub(super) payment: String,
}

/// The certificate form as sent (the issue and the payment step post the same fields), its
/// anti-CSRF token checked, and the certificate it asks for.
fn read_issue_form(
    s: &WebCitizen,
    headers: &axum::http::HeaderMap,
    form: Result<Form<IssueForm>, axum::extract::rejection::FormRejection>,
) -> Result<(IssueForm, CertChoice), Response> {
    let Ok(Form(f)) = form else {
        return Err(s.fail(ApiError::field("body", "is not the certificate form")));
    };
    s.check_csrf(headers, &f.csrf)?;
    let choice = CertChoice::parse([f.tipo.as_str()], &f.lingua, &f.data).map_err(|e| s.fail(e))?;
    Ok((f, choice))
}

async fn issue(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    s: WebCitizen,
    form: Result<Form<IssueForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let (f, choice) = read_issue_form(&s, &headers, form)?;
    let (errors, exemption) = check_issue_form(&s.ui, &f);
    if !errors.is_empty() {
        return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &request_view(&s, &choice, errors, f)));
    }
    let person = own_id_anpr(&state, &s).await.map_err(|e| s.fail(e))?;
    let certs = service(&state, &s)?;
    let who = s.principal();
    let stamp = match exemption {
        Some(code) => exempt_stamp(code, &f.description),
        // Not paid yet: the payment step first (nothing is charged until the citizen pays there).
        None if f.payment.trim().is_empty() => {
            certs.check(&who, &choice.request(person)).await.map_err(|e| refusal_page(&s, &choice, e.into()))?;
            return Ok(html(StatusCode::OK, &payment_view(&s, &choice, None)));
        }
        None => Stamp::Paid { payment_id: f.payment.trim().chars().take(64).collect() },
    };
    match certs.issue(&who, &choice.request(person), &stamp).await {
        Ok((meta, _)) => Ok(see_other(&format!("/area-personale/certificati?rilasciato={}", meta.id))),
        Err(e) => Err(issue_refusal(
            &s.ui,
            e,
            |e| refusal_page(&s, &choice, e),
            |errors| html(StatusCode::UNPROCESSABLE_ENTITY, &request_view(&s, &choice, errors, f.clone())),
            |e| s.fail(e),
        )),
    }
}

/// The payment step: the embedded mode's own payment interface (a deployment on the national
/// platform sends the citizen there and back with the receipt). Before paying it says what and
/// how much, with Paga and Annulla; after, the receipt and the button that issues the
/// certificate with that payment.
#[derive(Template)]
#[template(path = "citizen/payment.html")]
pub(super) struct PaymentPage {
    c: Chrome,
    type_label: String,
    amount: String,
    csrf: String,
    tipo: String,
    lingua: String,
    data: String,
    cancel: String,
    /// Where the payment and, once paid, the issue post.
    pay_to: String,
    issue_to: String,
    /// The receipt, once paid: its number and time.
    receipt: Option<(String, String)>,
}

/// Where a payment page leads: the payment's and the issue's form actions, the way back.
pub(super) struct PaymentTarget {
    pub(super) pay_to: String,
    pub(super) issue_to: String,
    pub(super) cancel: String,
}

pub(super) fn payment_page_for(
    c: Chrome,
    csrf: String,
    choice: &CertChoice,
    receipt: Option<(String, String)>,
    to: PaymentTarget,
) -> PaymentPage {
    PaymentPage {
        type_label: choice.label(&c),
        amount: format!("{},{:02} €", STAMP_DUTY_CENTS / 100, STAMP_DUTY_CENTS % 100),
        csrf,
        tipo: choice.tipo(),
        lingua: choice.lang.clone().unwrap_or_default(),
        data: choice.date.map(|d| d.to_string()).unwrap_or_default(),
        cancel: to.cancel,
        pay_to: to.pay_to,
        issue_to: to.issue_to,
        receipt,
        c,
    }
}

fn payment_view(s: &WebCitizen, choice: &CertChoice, receipt: Option<(String, String)>) -> PaymentPage {
    let c = s
        .chrome(if receipt.is_some() { "pay-receipt-title" } else { "pay-title" })
        .crumb("area-title", Some("/area-personale"))
        .crumb("certs-title", Some("/area-personale/certificati"))
        .crumb(if receipt.is_some() { "pay-receipt-title" } else { "pay-title" }, None);
    let to = PaymentTarget {
        pay_to: "/area-personale/pagamento".into(),
        issue_to: "/area-personale/certificati".into(),
        cancel: format!("/area-personale/certificati/nuovo?{}", choice.query()),
    };
    payment_page_for(c, s.session.csrf_token.clone(), choice, receipt, to)
}

/// `POST /area-personale/pagamento`: the citizen pays the stamp duty; the receipt follows.
async fn pay(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    s: WebCitizen,
    form: Result<Form<IssueForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let (_, choice) = read_issue_form(&s, &headers, form)?;
    let paid = service(&state, &s)?.pay_locally(&s.principal()).await.map_err(|e| s.fail(e.into()))?;
    let at = super::local_time(paid.paid_at);
    Ok(html(StatusCode::OK, &payment_view(&s, &choice, Some((paid.id, at)))))
}

/// A certificate's PDF to save, named after its number.
pub(super) fn attachment(pdf: Vec<u8>, number: &str) -> Response {
    pdf_to_save(pdf, &format!("certificato-{number}.pdf"))
}

/// A PDF to save (not shown in the browser) under `filename`.
pub(super) fn pdf_to_save(pdf: Vec<u8>, filename: &str) -> Response {
    let mut r = crate::certificates::pdf_response(pdf, filename);
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// What a certificate form shows when the issue is refused: the refusal's page for a
/// certificate the person cannot obtain, the form again with the errors of its fields, or the
/// error page.
pub(super) fn issue_refusal(
    ui: &Ui,
    e: ServiceError,
    refused: impl FnOnce(ApiError) -> Response,
    form: impl FnOnce(Vec<(String, String)>) -> Response,
    fail: impl FnOnce(ApiError) -> Response,
) -> Response {
    match e {
        e @ ServiceError::NotCertifiable { .. } => refused(e.into()),
        e => {
            let problems = e.field_errors();
            if problems.is_empty() {
                return fail(e.into());
            }
            form(problems.into_iter().map(|p| (p.field, ui.why(&p.reason))).collect())
        }
    }
}

pub(super) fn valid_number(id: &str) -> Result<(), ApiError> {
    if id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(())
    } else {
        Err(ApiError::NotFound("no such certificate".into()))
    }
}

async fn download(State(state): State<AppState>, Path(id): Path<String>, s: WebCitizen) -> PageResult {
    valid_number(&id).map_err(|e| s.fail(e))?;
    let (_, pdf) = service(&state, &s)?.download(&s.principal(), &id).await.map_err(|e| s.fail(e.into()))?;
    Ok(attachment(pdf, &id))
}

async fn email(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    s: WebCitizen,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let f = form.map(|f| f.0).unwrap_or_default();
    s.check_csrf(&headers, &f.csrf)?;
    valid_number(&id).map_err(|e| s.fail(e))?;
    service(&state, &s)?.email(&s.principal(), &id, MailChannel::Email).await.map_err(|e| s.fail(e.into()))?;
    Ok(see_other(&format!("/area-personale/certificati?inviato={id}")))
}

async fn logout(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    s: WebCitizen,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let f = form.map(|f| f.0).unwrap_or_default();
    s.check_csrf(&headers, &f.csrf)?;
    let mut e = auth::entry(&format!("citizen:{}", s.session.subject), &s.session.auth_mode, "citizen.logout", "ok", json!({}));
    e.actor_cf = Some(s.session.subject.clone());
    e.eidas_id = s.session.eidas_id.clone();
    state.store.end_sessions("citizen", &s.session.subject, Some(&s.session.token_hash), &e).await.map_err(|e| s.fail(e.into()))?;
    let mut r = see_other("/");
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("__Host-anagrafe-session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0"),
    );
    Ok(r.into_response())
}

/// An access to the citizen's data, as the page lists it: repeated reads of one office in one
/// sitting are one row, with how many and from when to when.
#[derive(PartialEq)]
struct Access {
    at: String,
    who: String,
    what: String,
    reason: String,
    outcome: String,
    /// How many entries the row stands for, and the newest entry's time when more than one.
    times: u32,
    until: String,
}

/// Entries of one row at most this far apart (a sitting at the counter, a session).
const SITTING_MS: i64 = 30 * 60 * 1000;

#[derive(Template)]
#[template(path = "citizen/accesses.html")]
struct AccessesPage {
    c: Chrome,
    rows: Vec<Access>,
    more: Option<i64>,
}

#[derive(Deserialize, Default)]
struct AccessesQuery {
    #[serde(default)]
    prima: Option<i64>,
}

/// How many trace entries one page reads.
const ACCESS_PAGE: u32 = 50;

/// Whether an operation on the citizen's data is one the page shows: reads by comuni and
/// offices, public bodies' e-service calls, certificates about the person made or checked by
/// others; not the calls of public-security bodies (police forces), which the law lets the
/// register withhold from the person (their trace entries say so when written).
fn shown_operation(entry: &anagrafe_store::AuditEntry) -> bool {
    let op = entry.operation.as_str();
    let detail = || serde_json::from_str::<Value>(&entry.detail).unwrap_or(Value::Null);
    if (op.starts_with("pdnd.") || op.starts_with("extract.")) && detail()["withheld_from_subject"].as_bool() == Some(true) {
        return false;
    }
    // A registry extract, when issued: at once, or once a mediator (or silence) approved it.
    if op == "extract.request" {
        return detail()["state"].as_str() == Some("issued");
    }
    op.starts_with("pdnd.C")
        || op == "extract.approved"
        || matches!(
            op,
            "person.read"
                | "person.search"
                | "family.read"
                | "certificate.issue"
                | "certificate.check"
                | "certificate.preview"
                | "certificate.download"
                | "certificate.verify"
        )
}

fn describe(c: &Chrome, e: &anagrafe_store::StoredAudit, comune: Option<anagrafe_domain::Belfiore>) -> Access {
    let entry = &e.entry;
    let detail: Value = serde_json::from_str(&entry.detail).unwrap_or(Value::Null);
    let comune_name = comune.map(|b| super::office::comune_name(b.as_str()));
    let who = if entry.operation.starts_with("extract.") {
        detail["organisation"].as_str().map(|o| c.t1("acc-extract-org", "name", o)).unwrap_or_else(|| c.t("acc-office"))
    } else if entry.actor.starts_with("pdnd:") {
        detail["public_body"].as_str().map(|b| c.t1("acc-body", "name", b)).unwrap_or_else(|| c.t("acc-body-unknown"))
    } else if entry.actor.starts_with("operator:") {
        comune_name.map(|n| c.t1("acc-office-of", "comune", &n)).unwrap_or_else(|| c.t("acc-office"))
    } else if entry.actor.starts_with("client:") {
        comune_name.map(|n| c.t1("acc-comune-software-of", "comune", &n)).unwrap_or_else(|| c.t("acc-comune-software"))
    } else if entry.actor == "public" {
        c.t("acc-public")
    } else {
        c.t("acc-other")
    };
    let what = match entry.operation.as_str() {
        op if op.starts_with("pdnd.") => {
            let code = &op[5..];
            let key = format!("eservice-{code}");
            if super::i18n::has(c.lang, &key) { c.t1("acc-op-eservice", "name", &c.t(&key)) } else { c.t1("acc-op-eservice", "name", code) }
        }
        "person.read" | "family.read" => c.t("acc-op-read"),
        "person.search" => c.t("acc-op-search"),
        "certificate.issue" => c.t("acc-op-cert-issue"),
        "certificate.check" | "certificate.preview" => c.t("acc-op-cert-preview"),
        "certificate.download" => c.t("acc-op-cert-download"),
        "certificate.verify" => c.t("acc-op-cert-verify"),
        "extract.request" | "extract.approved" => {
            let title = detail["type"].as_str().and_then(anagrafe_domain::extract::ExtractType::parse).map(|t| t.title()).unwrap_or("");
            c.t1("acc-op-extract", "title", title)
        }
        other => other.to_owned(),
    };
    // The purpose: the one a public body declared; an office or a comune acts for the register.
    let reason = match detail["motivoRichiesta"].as_str().or(detail["purpose"].as_str()) {
        Some(r) if !r.trim().is_empty() => r.to_owned(),
        _ if entry.actor.starts_with("operator:") || entry.actor.starts_with("client:") => c.t("acc-purpose-register"),
        _ if entry.actor == "public" => c.t("acc-purpose-verify"),
        _ => String::new(),
    };
    let outcome = if entry.outcome == "ok" { c.t("acc-ok") } else { c.t("acc-refused") };
    Access { at: super::local_time(e.at_ms), who, what, reason, outcome, times: 1, until: String::new() }
}

/// The rows, newest first, with repeated reads of one sitting folded into one.
fn fold_sittings(c: &Chrome, entries: &[(&anagrafe_store::StoredAudit, Option<anagrafe_domain::Belfiore>)]) -> Vec<Access> {
    let mut rows: Vec<(Access, i64)> = Vec::new();
    for (e, comune) in entries {
        let row = describe(c, e, *comune);
        match rows.last_mut() {
            Some((last, oldest))
                if last.who == row.who
                    && last.what == row.what
                    && last.reason == row.reason
                    && last.outcome == row.outcome
                    && *oldest - e.at_ms <= SITTING_MS =>
            {
                if last.times == 1 {
                    last.until = last.at.clone();
                }
                last.times += 1;
                last.at = row.at;
                *oldest = e.at_ms;
            }
            _ => rows.push((row, e.at_ms)),
        }
    }
    rows.into_iter().map(|(r, _)| r).collect()
}

/// "Who looked at my data": the accesses to the own record by others, newest first.
async fn accesses(
    State(state): State<AppState>,
    s: WebCitizen,
    q: Result<Query<AccessesQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let before = q.ok().and_then(|q| q.0.prima).filter(|p| *p > 0).unwrap_or(i64::MAX);
    // Reading the own trace is traced too (by the service).
    let entries = state.citizen().accesses(&s.principal(), before, ACCESS_PAGE).await.map_err(|e| s.fail(e.into()))?;
    let c = s.chrome("acc-title").crumb("area-title", Some("/area-personale")).crumb("acc-title", None);
    let own = format!("citizen:{}", s.session.subject);
    let shown: Vec<_> = entries.iter().filter(|(e, _)| e.entry.actor != own && shown_operation(&e.entry)).map(|(e, b)| (e, *b)).collect();
    let rows = fold_sittings(&c, &shown);
    let more = (entries.len() == ACCESS_PAGE as usize).then(|| entries.last().map(|(e, _)| e.seq)).flatten();
    Ok(html(StatusCode::OK, &AccessesPage { c, rows, more }))
}
