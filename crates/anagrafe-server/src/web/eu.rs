//! The EU citizens' area (EU-1, EU-2, EU-4): after an eIDAS login, the data the services need
//! are declared and checked (refused with every reason shown), the e-mail address confirmed by
//! a code; then the registration request is filled in, its documents attached (each judged by
//! its bytes), and submitted, and the citizen follows it. Every page calls the services with
//! the EU citizen's principal, which carries the eIDAS identifier into every trace entry.

use super::form::{Field, Opt, filled};
use super::{Chrome, PageResult, Ui, error_page, html, see_other};
use crate::auth::session_of;
use crate::{ApiError, AppState};
use anagrafe_domain::case::{CaseState, Evidence, Grounds};
use anagrafe_domain::eu::{self, Declared, Member, RegistrationRequest, SignatureWay};
use anagrafe_domain::person::BirthPlace;
use anagrafe_domain::refdata::{Place, RefData};
use anagrafe_domain::text::{EmailAddress, Line};
use anagrafe_domain::{CodiceFiscale, PersonName, Sex};
use anagrafe_service::cases::{CaseView, EuStanding, Upload};
use anagrafe_service::{Principal, ServiceError};
use anagrafe_store::Session;
use askama::Template;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::NaiveDate;
use std::collections::HashMap;

mod birth;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ue", get(home))
        .route("/ue/dati", post(declare))
        .route("/ue/codice", post(confirm))
        .route("/ue/richieste/nuova", get(new_request).post(create_request))
        .route("/ue/richieste/{id}", get(request_page))
        .route("/ue/richieste/{id}/allegati", post(attach).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)))
        .route("/ue/richieste/{id}/allegati/{doc}", get(document))
        .route("/ue/richieste/{id}/trasmetti", post(submit))
        .route("/ue/richieste/{id}/once-only", post(once_only))
        .route("/ue/richieste/{id}/lettere/{letter}", get(letter))
        .route("/ue/esci", post(logout))
        .merge(birth::routes())
}

/// The largest upload body: the largest attachment and the form's other fields.
const UPLOAD_LIMIT: usize = anagrafe_domain::case::MAX_ATTACHMENT_BYTES + 256 * 1024;

/// An EU citizen's session (kind `eu`), for the pages.
#[derive(Debug)]
pub struct WebEu {
    session: Session,
    ui: Ui,
}

impl FromRequestParts<AppState> for WebEu {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ui = Ui::from_request_parts(parts, state).await.unwrap_or_else(|e| match e {});
        match session_of(parts, state, "eu", false).await {
            Ok(session) => Ok(WebEu { session, ui }),
            Err(e) => Err(error_page(&ui, e)),
        }
    }
}

impl WebEu {
    fn principal(&self) -> Principal {
        crate::certificates::citizen_principal(&self.session)
    }

    fn chrome(&self, title_key: &str) -> Chrome {
        Chrome::new(&self.ui, title_key).crumb("eu-title", Some("/ue")).crumb(title_key, None)
    }

    fn fail(&self, e: ApiError) -> Response {
        error_page(&self.ui, e)
    }

    fn check_csrf(&self, headers: &HeaderMap, sent: &str) -> Result<(), Response> {
        super::csrf_ok(headers, sent, &self.session.csrf_token).map_err(|e| self.fail(e))
    }

    fn errors(&self, e: &ServiceError) -> Vec<(String, String)> {
        e.field_errors().into_iter().map(|f| (f.field.clone(), self.ui.why(&f.reason))).collect()
    }
}

#[derive(Template)]
#[template(path = "eu/home.html")]
struct HomePage {
    c: Chrome,
    csrf: String,
    identity: Vec<(String, String)>,
    standing: EuStanding,
    fields: Vec<Field>,
    code: Vec<Field>,
    errors: Vec<(String, String)>,
    cases: Vec<CaseRow>,
}

struct CaseRow {
    id: i64,
    kind: String,
    state: String,
    protocol: String,
    date: String,
}

fn sex_options(c: &Chrome) -> Vec<Opt> {
    let mut o = vec![Opt { value: String::new(), label: c.t("form-choose") }];
    o.extend([("F", "sex-f"), ("M", "sex-m")].map(|(v, k)| Opt { value: v.into(), label: c.t(k) }));
    o
}

fn declare_fields(c: &Chrome) -> Vec<Field> {
    vec![
        Field::input("codice_fiscale", c.t("eu-cf"), 16, "col-md-6").help(c.t("eu-cf-help")),
        Field::choice("sesso", c.t("eu-sex"), sex_options(c), "col-md-6").required(),
        Field::input("luogo_nascita", c.t("eu-birth-place"), 80, "col-md-6").required().help(c.t("eu-birth-place-help")),
        Field::input("email", c.t("eu-email"), 254, "col-md-6").required().help(c.t("eu-email-help")),
    ]
}

fn state_label(c: &Chrome, s: CaseState) -> String {
    c.t(&format!("case-state-{}", s.as_str()))
}

async fn home_view(state: &AppState, s: &WebEu, typed: HashMap<String, String>, errors: Vec<(String, String)>) -> PageResult {
    let who = s.principal();
    let standing = state.eu().standing_of(&who).await.map_err(|e| s.fail(e.into()))?;
    let c = Chrome::new(&s.ui, "eu-title").crumb("eu-title", None);
    let p = &standing.profile;
    let identity = vec![
        (c.t("eu-id"), p.eidas_id.clone()),
        (c.t("eu-name"), format!("{} {}", p.given_name, p.family_name)),
        (c.t("eu-birth-date"), anagrafe_domain::date::dmy(p.birth_date)),
    ];
    let cases = if standing.validated {
        state
            .cases()
            .own_cases(&who)
            .await
            .map_err(|e| s.fail(e.into()))?
            .into_iter()
            .map(|k| CaseRow {
                id: k.id,
                kind: c.t(&format!("case-kind-{}", k.kind.as_str())),
                state: state_label(&c, k.state),
                protocol: k.protocol.map(|p| p.to_string()).unwrap_or_else(|| c.t("case-no-protocol")),
                date: super::local_time(k.submitted_at.unwrap_or(k.created_at)),
            })
            .collect()
    } else {
        Vec::new()
    };
    let fields = filled(declare_fields(&c), &typed, &errors);
    let code = filled(vec![Field::input("codice", c.t("eu-code"), 6, "col-md-4").required()], &typed, &errors);
    let page = HomePage { csrf: s.session.csrf_token.clone(), c, identity, standing, fields, code, errors, cases };
    let status = if page.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(html(status, &page))
}

/// A number in the path (a case, a document): anything else is a 400 page naming it.
fn case_id(s: &WebEu, raw: &str) -> Result<i64, Response> {
    raw.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| s.fail(ApiError::field("id", "is a number")))
}

async fn home(State(state): State<AppState>, s: WebEu) -> PageResult {
    home_view(&state, &s, HashMap::new(), Vec::new()).await
}

/// The birthplace typed: a comune or a state, by name or code, as it was on the birth date.
fn place(raw: &str, on: NaiveDate) -> Option<BirthPlace> {
    let refdata = RefData::current();
    match refdata.resolve(raw.trim(), on).ok()? {
        Place::Comune(c) => Some(BirthPlace::Comune { code: c.belfiore }),
        Place::Stato(s) => Some(BirthPlace::Abroad { state: s.code, locality: None }),
    }
}

async fn declare(State(state): State<AppState>, headers: HeaderMap, s: WebEu, Form(f): Form<HashMap<String, String>>) -> PageResult {
    s.check_csrf(&headers, f.get("csrf").map(String::as_str).unwrap_or_default())?;
    let who = s.principal();
    let standing = state.eu().standing_of(&who).await.map_err(|e| s.fail(e.into()))?;
    let get = |k: &str| f.get(k).map(|v| v.trim()).unwrap_or_default();
    let mut errors = Vec::new();
    let cf = match get("codice_fiscale") {
        "" => None,
        v => match CodiceFiscale::parse(v) {
            Ok(cf) => Some(cf),
            Err(e) => {
                errors.push(("codice_fiscale".to_owned(), s.ui.t1("eu-cf-invalid", "reason", &e.to_string())));
                None
            }
        },
    };
    let sex = Sex::parse(get("sesso"));
    if sex.is_none() {
        errors.push(("sesso".into(), s.ui.t("form-required")));
    }
    let birth = place(get("luogo_nascita"), standing.profile.birth_date);
    if birth.is_none() {
        errors.push(("luogo_nascita".into(), s.ui.t("eu-birth-place-not-found")));
    }
    let email = EmailAddress::new(get("email")).map_err(|e| errors.push(("email".into(), s.ui.text_error(e)))).ok();
    let (Some(sex), Some(birth_place), Some(email), true) = (sex, birth, email, errors.is_empty()) else {
        return home_view(&state, &s, f, errors).await;
    };
    match state.eu().declare(&who, Declared { codice_fiscale: cf, sex, birth_place, email }).await {
        Ok(_) => Ok(see_other("/ue")),
        Err(e @ ServiceError::Invalid(_)) => {
            let errors = s.errors(&e);
            home_view(&state, &s, f, errors).await
        }
        Err(e) => Err(s.fail(e.into())),
    }
}

async fn confirm(State(state): State<AppState>, headers: HeaderMap, s: WebEu, Form(f): Form<HashMap<String, String>>) -> PageResult {
    s.check_csrf(&headers, f.get("csrf").map(String::as_str).unwrap_or_default())?;
    let code = f.get("codice").cloned().unwrap_or_default();
    match state.eu().confirm(&s.principal(), &code).await {
        Ok(_) => Ok(see_other("/ue")),
        Err(e @ (ServiceError::Refused { .. } | ServiceError::State { .. })) => {
            let errors = s.errors(&e).into_iter().map(|(_, m)| ("codice".to_owned(), m)).collect();
            home_view(&state, &s, HashMap::new(), errors).await
        }
        Err(e) => Err(s.fail(e.into())),
    }
}

/// How many members besides the applicant the form offers.
const OTHER_MEMBERS: usize = 3;

#[derive(Template)]
#[template(path = "eu/request-new.html")]
struct NewRequestPage {
    c: Chrome,
    csrf: String,
    applicant: Vec<(String, String)>,
    fields: Vec<Field>,
    members: Vec<MemberSlot>,
    errors: Vec<(String, String)>,
}

/// One optional member of the form, with what was typed and its errors.
struct MemberSlot {
    n: usize,
    texts: Vec<(&'static str, String, &'static str)>,
    selects: Vec<(&'static str, String, Vec<Opt>)>,
    values: HashMap<&'static str, String>,
    errors: HashMap<&'static str, String>,
}

impl MemberSlot {
    fn v(&self, k: &str) -> &str {
        self.values.get(k).map(String::as_str).unwrap_or_default()
    }

    fn e(&self, k: &str) -> Option<&str> {
        self.errors.get(k).map(String::as_str)
    }
}

const MEMBER_KEYS: [&str; 8] = ["cognome", "nome", "sesso", "nascita", "luogo", "cittadinanza", "relazione", "firma"];

fn state_options(c: &Chrome, eu_only: bool) -> Vec<Opt> {
    let refdata = RefData::current();
    let today = anagrafe_domain::ops::italian_today();
    let mut states: Vec<Opt> = refdata
        .stati()
        .iter()
        .filter(|s| !s.territory && s.valid_on(today) && (!eu_only || eu::is_eu_state(&refdata, s.code)))
        .map(|s| Opt { value: s.code.to_string(), label: s.name.clone() })
        .collect();
    states.sort_by(|a, b| a.label.cmp(&b.label));
    states.insert(0, Opt { value: String::new(), label: c.t("form-choose") });
    states
}

fn request_fields(c: &Chrome) -> Vec<Field> {
    let grounds = std::iter::once(Opt { value: String::new(), label: c.t("form-choose") })
        .chain(Grounds::ALL.map(|g| Opt { value: g.as_str().into(), label: c.t(&format!("eu-grounds-{}", g.as_str())) }))
        .collect();
    vec![
        Field::choice("sesso", c.t("eu-sex"), sex_options(c), "col-md-4").required(),
        Field::choice("cittadinanza", c.t("eu-citizenship"), state_options(c, true), "col-md-4").required(),
        Field::choice("motivo", c.t("eu-grounds"), grounds, "col-md-4").required().help(c.t("eu-grounds-help")),
        Field::input("comune", c.t("eu-comune"), 80, "col-md-4").required().help(c.t("eu-comune-help")),
        Field::input("specie", c.t("eu-species"), 30, "col-md-2").required(),
        Field::input("via", c.t("eu-street"), 100, "col-md-4").required(),
        Field::input("civico", c.t("eu-civic"), 20, "col-md-2"),
        Field::date("arrivo", c.t("eu-arrival")).required(),
        Field::choice("provenienza", c.t("eu-provenance"), state_options(c, false), "col-md-4").required(),
    ]
}

async fn new_request_view(state: &AppState, s: &WebEu, typed: HashMap<String, String>, errors: Vec<(String, String)>) -> PageResult {
    let standing = state.eu().standing_of(&s.principal()).await.map_err(|e| s.fail(e.into()))?;
    if !standing.validated {
        return Ok(see_other("/ue"));
    }
    let c = s.chrome("eu-request-title");
    let p = &standing.profile;
    let applicant = vec![
        (c.t("eu-name"), format!("{} {}", p.given_name, p.family_name)),
        (c.t("eu-birth-date"), anagrafe_domain::date::dmy(p.birth_date)),
    ];
    let mut typed = typed;
    if let Some(d) = &standing.declared {
        typed.entry("sesso".into()).or_insert_with(|| d.sex.as_str().to_owned());
    }
    let relations: Vec<Opt> = std::iter::once(Opt { value: String::new(), label: c.t("form-choose") })
        .chain([2u16, 3, 4, 5, 6, 7, 8, 9].into_iter().filter_map(|code| {
            use anagrafe_domain::decode::{DecodeTable, RelazioneParentela};
            RelazioneParentela::from_code(code).map(|r| Opt { value: code.to_string(), label: c.decode(r) })
        }))
        .collect();
    let (states, sexes) = (state_options(&c, false), sex_options(&c));
    let members = (1..=OTHER_MEMBERS)
        .map(|n| MemberSlot {
            n,
            texts: vec![
                ("cognome", c.t("eu-surname"), "text"),
                ("nome", c.t("eu-given"), "text"),
                ("nascita", c.t("eu-birth-date"), "date"),
                ("luogo", c.t("eu-birth-place"), "text"),
            ],
            selects: vec![
                ("sesso", c.t("eu-sex"), sexes.clone()),
                ("cittadinanza", c.t("eu-citizenship"), states.clone()),
                ("relazione", c.t("eu-relation"), relations.clone()),
            ],
            values: MEMBER_KEYS.iter().map(|k| (*k, typed.get(&format!("m{n}_{k}")).cloned().unwrap_or_default())).collect(),
            errors: MEMBER_KEYS
                .iter()
                .filter_map(|k| errors.iter().find(|(f, _)| *f == format!("m{n}_{k}")).map(|(_, m)| (*k, m.clone())))
                .collect(),
        })
        .collect();
    let fields = filled(request_fields(&c), &typed, &errors);
    let page = NewRequestPage { csrf: s.session.csrf_token.clone(), c, applicant, fields, members, errors };
    let status = if page.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(html(status, &page))
}

async fn new_request(State(state): State<AppState>, s: WebEu) -> PageResult {
    new_request_view(&state, &s, HashMap::new(), Vec::new()).await
}

/// Reads the form into a request, or the fields at fault with their messages.
fn read_request(ui: &Ui, f: &HashMap<String, String>, standing: &EuStanding) -> Result<RegistrationRequest, Vec<(String, String)>> {
    let get = |k: &str| f.get(k).map(|v| v.trim()).unwrap_or_default();
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut need = |k: &str, v: Option<()>| {
        if v.is_none() {
            errors.push((k.to_owned(), ui.t("form-required")));
        }
    };
    let belfiore = |v: &str| anagrafe_domain::Belfiore::parse(v).ok();
    let date = |v: &str| super::parse_date(v);
    let p = &standing.profile;
    let sex = Sex::parse(get("sesso"));
    need("sesso", sex.map(|_| ()));
    let citizenship = belfiore(get("cittadinanza"));
    need("cittadinanza", citizenship.map(|_| ()));
    let grounds = Grounds::parse(get("motivo"));
    need("motivo", grounds.map(|_| ()));
    let today = anagrafe_domain::ops::italian_today();
    let comune = RefData::current().resolve(get("comune"), today).ok().and_then(|pl| match pl {
        Place::Comune(c) => Some(c.belfiore),
        Place::Stato(_) => None,
    });
    need("comune", comune.map(|_| ()));
    let species = Line::new(get("specie")).map_err(|e| errors.push(("specie".into(), ui.text_error(e)))).ok();
    let street = Line::new(get("via")).map_err(|e| errors.push(("via".into(), ui.text_error(e)))).ok();
    let civic = Line::optional(Some(get("civico"))).map_err(|e| errors.push(("civico".into(), ui.text_error(e)))).ok().flatten();
    let arrival = date(get("arrivo"));
    if arrival.is_none() {
        errors.push(("arrivo".into(), ui.t("form-date")));
    }
    let provenance = belfiore(get("provenienza"));
    if provenance.is_none() {
        errors.push(("provenienza".into(), ui.t("form-required")));
    }
    let birth_place = standing.declared.as_ref().map(|d| d.birth_place.clone());
    let mut members = Vec::new();
    if let (Some(sex), Some(citizenship), Some(birth_place)) = (sex, citizenship, birth_place) {
        members.push(Member {
            name: PersonName::new(Some(&p.family_name), Some(&p.given_name))
                .map_err(|_| vec![("".to_owned(), ui.t("eu-name-unusable"))])?,
            sex,
            birth_date: p.birth_date,
            birth_place,
            citizenship,
            codice_fiscale: standing.declared.as_ref().and_then(|d| d.codice_fiscale),
            relation: 1,
            signature: None,
        });
    }
    for n in 1..=OTHER_MEMBERS {
        let k = |name: &str| format!("m{n}_{name}");
        let v = |name: &str| f.get(&k(name)).map(|v| v.trim()).unwrap_or_default();
        if MEMBER_KEYS.iter().all(|name| v(name).is_empty()) {
            continue;
        }
        let name = PersonName::new(Some(v("cognome")), Some(v("nome")));
        if let Err(e) = &name {
            errors.push((k("cognome"), ui.why(&e.reason)));
        }
        let sex = Sex::parse(v("sesso"));
        if sex.is_none() {
            errors.push((k("sesso"), ui.t("form-required")));
        }
        let born = date(v("nascita"));
        if born.is_none() {
            errors.push((k("nascita"), ui.t("form-date")));
        }
        let birth_place = born.and_then(|d| place(v("luogo"), d));
        if birth_place.is_none() {
            errors.push((k("luogo"), ui.t("eu-birth-place-not-found")));
        }
        let citizenship = belfiore(v("cittadinanza"));
        if citizenship.is_none() {
            errors.push((k("cittadinanza"), ui.t("form-required")));
        }
        let relation = v("relazione").parse::<u16>().ok();
        if relation.is_none() {
            errors.push((k("relazione"), ui.t("form-required")));
        }
        let signature = match v("firma") {
            "digitale" => Some(SignatureWay::Digital),
            "autografa" => Some(SignatureWay::Handwritten),
            _ => None,
        };
        if let (Ok(name), Some(sex), Some(birth_date), Some(birth_place), Some(citizenship), Some(relation)) =
            (name, sex, born, birth_place, citizenship, relation)
        {
            members.push(Member { name, sex, birth_date, birth_place, citizenship, codice_fiscale: None, relation, signature });
        }
    }
    match (errors.is_empty(), comune, species, street, arrival, provenance, grounds) {
        (true, Some(comune), Some(species), Some(street), Some(arrival_date), Some(provenance), Some(grounds)) => {
            Ok(RegistrationRequest { members, comune, species, street, civic, arrival_date, provenance, grounds })
        }
        _ => Err(errors),
    }
}

/// A field error of the request as the form names it: `members[2].birth_date` is `m2_nascita`.
fn form_field(field: &str) -> String {
    let Some(rest) = field.strip_prefix("members[") else {
        return match field {
            "comune" => "comune",
            "arrival_date" => "arrivo",
            "provenance" => "provenienza",
            other => other,
        }
        .to_owned();
    };
    let (n, part) = rest.split_once(']').unwrap_or((rest, ""));
    let part = match part.trim_start_matches('.') {
        "birth_date" => "nascita",
        "birth_place" => "luogo",
        "citizenship" => "cittadinanza",
        "relation" => "relazione",
        "signature" => "firma",
        _ => "cognome",
    };
    match n.parse::<usize>() {
        Ok(0) => {
            if part == "cittadinanza" {
                "cittadinanza".into()
            } else {
                String::new()
            }
        }
        Ok(n) => format!("m{n}_{part}"),
        Err(_) => String::new(),
    }
}

async fn create_request(State(state): State<AppState>, headers: HeaderMap, s: WebEu, Form(f): Form<HashMap<String, String>>) -> PageResult {
    s.check_csrf(&headers, f.get("csrf").map(String::as_str).unwrap_or_default())?;
    let who = s.principal();
    let standing = state.eu().standing_of(&who).await.map_err(|e| s.fail(e.into()))?;
    let request = match read_request(&s.ui, &f, &standing) {
        Ok(r) => r,
        Err(errors) => return new_request_view(&state, &s, f, errors).await,
    };
    match state.cases().start_registration(&who, request).await {
        Ok(id) => Ok(see_other(&format!("/ue/richieste/{id}"))),
        Err(e @ ServiceError::Invalid(_)) => {
            let errors = e.field_errors().into_iter().map(|x| (form_field(&x.field), s.ui.why(&x.reason))).collect();
            new_request_view(&state, &s, f, errors).await
        }
        Err(e) => Err(s.fail(e.into())),
    }
}

#[derive(Template)]
#[template(path = "eu/request.html")]
struct RequestPage {
    c: Chrome,
    csrf: String,
    id: i64,
    draft: bool,
    state: String,
    protocol: String,
    due: String,
    members: Vec<Vec<String>>,
    address: String,
    lines: Vec<CheckLine>,
    complete: bool,
    steps: Vec<(String, String, String)>,
    errors: Vec<(String, String)>,
    notice: String,
    signatures: Vec<String>,
    /// The comune has sent the start-of-procedure communication.
    started: bool,
}

/// One line of the checklist as the page shows it.
pub(super) struct CheckLine {
    pub(super) key: String,
    /// The EU once-only technical system can supply it.
    pub(super) once_only: bool,
    pub(super) label: String,
    pub(super) whose: String,
    pub(super) docs: Vec<(i64, String, String)>,
}

/// The checklist of a case, with the documents meeting each line (id, name, start of SHA-256).
pub(super) fn check_lines(c: &Chrome, v: &CaseView) -> Vec<CheckLine> {
    let names: Vec<String> = v
        .registration
        .as_ref()
        .map(|r| r.members.iter().map(|m| [m.name.given(), m.name.surname()].into_iter().flatten().collect::<Vec<_>>().join(" ")).collect())
        .unwrap_or_default();
    v.checklist
        .iter()
        .map(|(q, ids)| CheckLine {
            key: format!("{}-{}", q.evidence.as_str(), q.member.map(|m| m.to_string()).unwrap_or_else(|| "all".into())),
            once_only: q.evidence.once_only(),
            label: c.t(&format!("evidence-{}", q.evidence.as_str())),
            whose: q.member.and_then(|m| names.get(m as usize).cloned()).unwrap_or_else(|| c.t("evidence-whole")),
            docs: v
                .file
                .documents
                .iter()
                .filter(|d| ids.contains(&d.id))
                .map(|d| (d.id, d.filename.clone(), d.sha256.chars().take(12).collect()))
                .collect(),
        })
        .collect()
}

/// What the register found of a document's digital signatures, one line each: who signed and
/// whether the signature counts (and why not).
pub(crate) fn signature_lines(c: &Chrome, d: &anagrafe_store::CaseDocument) -> Vec<String> {
    let found: Vec<anagrafe_docs::verify::SignatureCheck> =
        d.signatures.as_deref().and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
    found
        .iter()
        .map(|s| {
            let who = s.signer.split(',').find_map(|p| p.trim().strip_prefix("CN=")).unwrap_or(&s.signer).to_owned();
            let key = if s.applied {
                "signature-applied"
            } else if s.content_added_after {
                "signature-after-handwritten"
            } else {
                "signature-untrusted"
            };
            c.t1(key, "who", &who)
        })
        .collect()
}

/// The members as rows: name, birth date, relation.
pub(super) fn member_rows(c: &Chrome, v: &CaseView) -> Vec<Vec<String>> {
    use anagrafe_domain::decode::{DecodeTable, RelazioneParentela};
    v.registration
        .as_ref()
        .map(|r| {
            r.members
                .iter()
                .map(|m| {
                    vec![
                        [m.name.given(), m.name.surname()].into_iter().flatten().collect::<Vec<_>>().join(" "),
                        anagrafe_domain::date::dmy(m.birth_date),
                        RelazioneParentela::from_code(m.relation).map(|r| c.decode(r)).unwrap_or_default(),
                    ]
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The address of a registration request in words.
pub(super) fn address_of(v: &CaseView) -> String {
    v.registration
        .as_ref()
        .map(|r| {
            format!(
                "{} {}{}, {}",
                r.species.as_str(),
                r.street.as_str(),
                r.civic.as_ref().map(|c| format!(" {}", c.as_str())).unwrap_or_default(),
                super::office::comune_name(&r.comune.to_string())
            )
        })
        .unwrap_or_default()
}

async fn request_view(state: &AppState, s: &WebEu, id: i64, errors: Vec<(String, String)>, notice: String) -> PageResult {
    let v = state.cases().own(&s.principal(), id).await.map_err(|e| s.fail(e.into()))?;
    let c = s.chrome("eu-request-file-title");
    let k = &v.file.case;
    let lines = check_lines(&c, &v);
    let page = RequestPage {
        csrf: s.session.csrf_token.clone(),
        id,
        draft: k.state == CaseState::Draft,
        state: state_label(&c, k.state),
        protocol: k.protocol.map(|p| p.to_string()).unwrap_or_default(),
        due: k.due_on.map(anagrafe_domain::date::dmy).unwrap_or_default(),
        members: member_rows(&c, &v),
        address: address_of(&v),
        complete: v.missing() == 0,
        steps: v
            .file
            .steps
            .iter()
            .map(|st| (super::local_time(st.at), c.t(&format!("case-step-{}", st.action)), st.note.clone()))
            .collect(),
        signatures: v.file.documents.iter().flat_map(|d| signature_lines(&c, d)).collect(),
        started: v.file.steps.iter().any(|st| st.action == anagrafe_domain::case::CaseAction::StartProcedure.name()),
        lines,
        errors,
        notice,
        c,
    };
    let status = if page.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(html(status, &page))
}

async fn request_page(State(state): State<AppState>, s: WebEu, Path(id): Path<String>) -> PageResult {
    let id = case_id(&s, &id)?;
    request_view(&state, &s, id, Vec::new(), String::new()).await
}

async fn attach(State(state): State<AppState>, s: WebEu, Path(id): Path<String>, headers: HeaderMap, mut form: Multipart) -> PageResult {
    let id = case_id(&s, &id)?;
    let (mut csrf, mut line, mut file, mut name) = (String::new(), String::new(), None, String::new());
    loop {
        match form.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => csrf = field.text().await.unwrap_or_default().chars().take(64).collect(),
                Some("documento") => line = field.text().await.unwrap_or_default().chars().take(64).collect(),
                Some("file") => {
                    name = field.file_name().unwrap_or_default().chars().take(200).collect();
                    match field.bytes().await {
                        Ok(b) => file = Some(b),
                        Err(_) => {
                            let e = vec![("file".into(), s.ui.why(&anagrafe_domain::Why::new("file-too-large").arg("max", 5)))];
                            return request_view(&state, &s, id, e, String::new()).await;
                        }
                    }
                }
                _ => {}
            },
            Ok(None) => break,
            Err(_) => {
                let e = vec![("file".into(), s.ui.why(&anagrafe_domain::Why::new("file-too-large").arg("max", 5)))];
                return request_view(&state, &s, id, e, String::new()).await;
            }
        }
    }
    s.check_csrf(&headers, &csrf)?;
    let (evidence, member) = line.rsplit_once('-').unwrap_or((&line, ""));
    let Some(evidence) = Evidence::parse(evidence) else {
        return request_view(&state, &s, id, vec![("documento".into(), s.ui.t("form-required"))], String::new()).await;
    };
    let member = member.parse::<u16>().ok();
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return request_view(&state, &s, id, vec![("file".into(), s.ui.why(&anagrafe_domain::Why::new("file-empty")))], String::new())
            .await;
    };
    let up = Upload { evidence, member, filename: name, bytes: bytes.to_vec() };
    match state.cases().attach(&s.principal(), id, up).await {
        Ok(_) => Ok(see_other(&format!("/ue/richieste/{id}"))),
        Err(e @ (ServiceError::Refused { .. } | ServiceError::State { .. })) => {
            let errors = s.errors(&e);
            request_view(&state, &s, id, errors, String::new()).await
        }
        Err(e) => Err(s.fail(e.into())),
    }
}

/// `GET /ue/richieste/{id}/lettere/{ricevuta|avvio}`: the request's receipt, or the
/// start-of-procedure communication.
async fn letter(State(state): State<AppState>, s: WebEu, Path((id, letter)): Path<(String, String)>) -> PageResult {
    let id = case_id(&s, &id)?;
    let Some(letter) = crate::downloads::CaseLetter::parse(&letter) else {
        return Err(s.fail(ApiError::NotFound("no such letter".into())));
    };
    letter.fetch(&state.cases(), &s.principal(), id).await.map_err(|e| s.fail(e.into()))
}

async fn document(State(state): State<AppState>, s: WebEu, Path((id, doc)): Path<(String, String)>) -> PageResult {
    let (id, doc) = (case_id(&s, &id)?, case_id(&s, &doc)?);
    let (meta, bytes) = state.cases().document(&s.principal(), id, doc).await.map_err(|e| s.fail(e.into()))?;
    Ok(crate::downloads::case_document(&meta, bytes))
}

async fn submit(
    State(state): State<AppState>,
    s: WebEu,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<super::CsrfForm>,
) -> PageResult {
    let id = case_id(&s, &id)?;
    s.check_csrf(&headers, &f.csrf)?;
    match state.cases().submit(&s.principal(), id).await {
        Ok(p) => {
            let notice = s.ui.t1("eu-submitted", "protocol", &p.to_string());
            request_view(&state, &s, id, Vec::new(), notice).await
        }
        Err(e @ ServiceError::State { .. }) => {
            let errors = s.errors(&e);
            request_view(&state, &s, id, errors, String::new()).await
        }
        Err(e) => Err(s.fail(e.into())),
    }
}

/// A missing document asked of the EU once-only technical system (EU-4).
async fn once_only(
    State(state): State<AppState>,
    s: WebEu,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let id = case_id(&s, &id)?;
    s.check_csrf(&headers, f.get("csrf").map(String::as_str).unwrap_or_default())?;
    let line = f.get("documento").cloned().unwrap_or_default();
    let (evidence, member) = line.rsplit_once('-').unwrap_or((&line, ""));
    let Some(evidence) = Evidence::parse(evidence) else {
        return request_view(&state, &s, id, vec![("documento".into(), s.ui.t("form-required"))], String::new()).await;
    };
    match state.cases().fetch_once_only(&s.principal(), id, evidence, member.parse::<u16>().ok()).await {
        Ok(_) => Ok(see_other(&format!("/ue/richieste/{id}"))),
        Err(e @ (ServiceError::Refused { .. } | ServiceError::State { .. })) => {
            let errors = s.errors(&e);
            request_view(&state, &s, id, errors, String::new()).await
        }
        Err(e) => Err(s.fail(e.into())),
    }
}

async fn logout(State(state): State<AppState>, headers: HeaderMap, s: WebEu, Form(f): Form<super::CsrfForm>) -> PageResult {
    s.check_csrf(&headers, &f.csrf)?;
    let p = s.principal();
    let e = p.entry("citizen.logout", "ok");
    state.store.end_sessions("eu", &s.session.subject, Some(&s.session.token_hash), &e).await.map_err(|e| s.fail(e.into()))?;
    let mut r = see_other("/");
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("__Host-anagrafe-session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0"),
    );
    Ok(r.into_response())
}
