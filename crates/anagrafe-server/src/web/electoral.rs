//! Electoral data pages. The citizen consults and verifies the own electoral data and asks the
//! comune to rectify them (CIT-3). The comune's electoral officer (ELE-2) keeps them: finds an
//! elector of the comune, writes the data over the previous ones (ELE-6: the trail says an
//! update happened, not what was there), and answers the citizens' requests. Only the officer of
//! the elector's comune sees or writes them (ELE-3): the store checks it again in the write.

mod lists;

use super::citizen::WebCitizen;
use super::form::{Field, Opt};
use super::office::{WebOfficer, WebOfficerOrAny, comune_name};
use super::{Chrome, PageResult, html, see_other};
use crate::{ApiError, AppState};
use anagrafe_domain::electoral::{
    AdditionalList, Election, ElectionRight, ElectoralData, Franchise, REQUEST_TEXT, RectificationTopic, Section, TextProblem,
};
use anagrafe_domain::{IdAnpr, RefData};
use anagrafe_service::certificates::content;
use anagrafe_service::electoral::Elector;
use anagrafe_service::{Principal, ServiceError};
use anagrafe_store::{ElectoralRecord, Rectification};
use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/area-personale/dati-elettorali", get(citizen_page).post(citizen_request))
        .route("/ufficio/elettorale", get(desk))
        .route("/ufficio/elettorale/persone/{id_anpr}", get(elector_page).post(elector_save))
        .route("/ufficio/elettorale/richieste/{id}", post(answer))
        .merge(lists::routes())
}

/// The form fields of an additional list.
const LIST_FIELDS: [(AdditionalList, &str); 6] = [
    (AdditionalList::SouthTyrolRegional, "lista_south_tyrol_regional"),
    (AdditionalList::SouthTyrolMunicipal, "lista_south_tyrol_municipal"),
    (AdditionalList::TrentinoRegional, "lista_trentino_regional"),
    (AdditionalList::AostaValleyRegional, "lista_aosta_valley_regional"),
    (AdditionalList::EuMunicipal, "lista_eu_municipal"),
    (AdditionalList::EuEuropean, "lista_eu_european"),
];

/// The form fields of an election: whether the person votes, constituency, colleges.
struct ElectionFields {
    election: Election,
    votes: &'static str,
    constituency: Option<&'static str>,
    multi: Option<&'static str>,
    single: Option<&'static str>,
}

const ELECTION_FIELDS: [ElectionFields; 7] = [
    ElectionFields { election: Election::Referendum, votes: "el_referendum", constituency: None, multi: None, single: None },
    ElectionFields { election: Election::European, votes: "el_european", constituency: Some("circ_european"), multi: None, single: None },
    ElectionFields {
        election: Election::Senate,
        votes: "el_senate",
        constituency: Some("circ_senate"),
        multi: Some("pluri_senate"),
        single: Some("uni_senate"),
    },
    ElectionFields {
        election: Election::Chamber,
        votes: "el_chamber",
        constituency: Some("circ_chamber"),
        multi: Some("pluri_chamber"),
        single: Some("uni_chamber"),
    },
    ElectionFields { election: Election::Regional, votes: "el_regional", constituency: Some("circ_regional"), multi: None, single: None },
    ElectionFields { election: Election::Municipal, votes: "el_municipal", constituency: None, multi: None, single: None },
    ElectionFields { election: Election::District, votes: "el_district", constituency: Some("circ_district"), multi: None, single: None },
];

fn list_label(c: &Chrome, l: AdditionalList) -> String {
    c.t(&format!("ele-list-{}", l.code().replace('_', "-")))
}

fn election_label(c: &Chrome, e: Election) -> String {
    c.t(&format!("ele-election-{}", e.code()))
}

fn topic_label(c: &Chrome, t: RectificationTopic) -> String {
    c.t(&format!("ele-topic-{}", t.code().replace('_', "-")))
}

/// One election as the pages show it.
struct ElectionShown {
    name: String,
    constituency: String,
    multi: String,
    single: String,
}

/// Electoral data as the pages show them.
struct Shown {
    rows: Vec<(String, String)>,
    elections: Vec<ElectionShown>,
    updated: String,
}

fn shown(c: &Chrome, rec: &ElectoralRecord) -> Shown {
    let d = &rec.data;
    let yes_no = |b: bool| if b { c.t("ele-yes") } else { c.t("ele-no") };
    let mut rows = vec![(c.t("ele-elector"), yes_no(d.elector))];
    if d.elector {
        rows.push((c.t("ele-comune"), comune_name(&rec.comune)));
    }
    if let Some(s) = &d.section {
        rows.push((c.t("ele-section"), s.number.to_string()));
        rows.push((c.t("ele-seat"), format!("{} — {}", s.seat_name, s.seat_address)));
    }
    if d.elector {
        let lists = d.additional_lists.iter().map(|l| list_label(c, *l)).collect::<Vec<_>>();
        rows.push((c.t("ele-lists"), if lists.is_empty() { c.t("ele-none") } else { lists.join("; ") }));
    }
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let elections = d
        .elections
        .iter()
        .map(|e| ElectionShown {
            name: election_label(c, e.election),
            constituency: dash(&e.constituency),
            multi: dash(&e.multi_member_college),
            single: dash(&e.single_member_college),
        })
        .collect();
    Shown { rows, elections, updated: super::local_time(rec.updated_at) }
}

/// A rectification request as the pages list it.
struct RequestRow {
    number: i64,
    at: String,
    topics: String,
    message: String,
    status: String,
    open: bool,
    answer: String,
    answered: String,
}

fn request_row(c: &Chrome, r: &Rectification) -> RequestRow {
    RequestRow {
        number: r.id,
        at: super::local_time(r.requested_at),
        topics: r.topics.iter().map(|t| topic_label(c, *t)).collect::<Vec<_>>().join(", "),
        message: r.message.clone(),
        status: c.t(&format!("ele-status-{}", r.status)),
        open: r.status == "open",
        answer: r.answer.clone().unwrap_or_default(),
        answered: r.answered_at.map(super::local_time).unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------------------------
// The citizen's page (CIT-3).

/// A topic checkbox of the request form.
struct TopicBox {
    code: &'static str,
    label: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "citizen/electoral.html")]
struct CitizenPage {
    c: Chrome,
    csrf: String,
    data: Option<Shown>,
    requests: Vec<RequestRow>,
    /// A request waits for its answer: no new one now.
    waiting: bool,
    topics: Vec<TopicBox>,
    message: String,
    errors: Vec<(String, String)>,
    notice: Option<String>,
    min: usize,
    max: usize,
}

#[derive(serde::Deserialize, Default)]
struct SentQuery {
    #[serde(default)]
    inviata: Option<String>,
}

async fn citizen_view(
    state: &AppState,
    s: &WebCitizen,
    chosen: &[RectificationTopic],
    message: String,
    errors: Vec<(String, String)>,
    notice: Option<String>,
) -> Result<CitizenPage, Response> {
    // Reading the own electoral data is traced like the own record (by the service).
    let file = state.electoral().own_file(&s.principal()).await.map_err(|e| s.fail(e.into()))?;
    let (rec, requests) = (file.data, file.requests);
    let c = s.chrome("ele-own-title").crumb("area-title", Some("/area-personale")).crumb("ele-own-title", None);
    let topics = RectificationTopic::ALL
        .iter()
        .map(|t| TopicBox { code: t.code(), label: topic_label(&c, *t), checked: chosen.contains(t) })
        .collect();
    Ok(CitizenPage {
        csrf: s.session.csrf_token.clone(),
        data: rec.as_ref().map(|r| shown(&c, r)),
        waiting: requests.iter().any(|r| r.status == "open"),
        requests: requests.iter().map(|r| request_row(&c, r)).collect(),
        topics,
        message,
        errors,
        notice,
        min: REQUEST_TEXT.0,
        max: REQUEST_TEXT.1,
        c,
    })
}

async fn citizen_page(
    State(state): State<AppState>,
    s: WebCitizen,
    q: Result<Query<SentQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let notice = q.ok().and_then(|q| q.0.inviata).map(|_| s.ui.t("ele-request-sent"));
    let page = citizen_view(&state, &s, &[], String::new(), Vec::new(), notice).await?;
    Ok(html(StatusCode::OK, &page))
}

/// The message key of a text the domain refuses (`electoral::request_text`).
fn text_problem(p: TextProblem) -> &'static str {
    match p {
        TextProblem::TooShort => "ele-err-message-short",
        TextProblem::TooLong => "ele-err-message-long",
        TextProblem::Control => "ele-err-message-chars",
    }
}

async fn citizen_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: WebCitizen,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let pairs = form.map(|f| f.0).unwrap_or_default();
    let value = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap_or_default();
    s.check_csrf(&headers, value("csrf"))?;
    let mut topics = Vec::new();
    let mut errors = Vec::new();
    for (_, v) in pairs.iter().filter(|(n, _)| n == "argomento") {
        match RectificationTopic::from_code(v) {
            Some(t) if !topics.contains(&t) => topics.push(t),
            Some(_) => {}
            None => errors.push(("argomento-elector".to_owned(), s.ui.t("ele-err-topic"))),
        }
    }
    if topics.is_empty() && errors.is_empty() {
        errors.push(("argomento-elector".to_owned(), s.ui.t("ele-err-topic")));
    }
    let raw = value("messaggio");
    let message = match anagrafe_domain::electoral::request_text(raw) {
        Ok(m) => m,
        Err(p) => {
            errors.push(("messaggio".to_owned(), s.ui.t(text_problem(p))));
            String::new()
        }
    };
    let keep: String = raw.chars().take(REQUEST_TEXT.1 + 100).collect();
    if !errors.is_empty() {
        let page = citizen_view(&state, &s, &topics, keep, errors, None).await?;
        return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    match state.electoral().request_rectification(&s.principal(), &topics, &message).await {
        Ok(_) => Ok(see_other("/area-personale/dati-elettorali?inviata=1")),
        Err(ServiceError::State { .. }) => {
            let errors = vec![(String::new(), s.ui.t("ele-err-waiting"))];
            let page = citizen_view(&state, &s, &topics, keep, errors, None).await?;
            Err(html(StatusCode::CONFLICT, &page))
        }
        Err(other) => Err(s.fail(other.into())),
    }
}

// ---------------------------------------------------------------------------------------------
// The electoral office (ELE-2, ELE-3, ELE-4, ELE-6).

/// An electoral officer's session with both factors, and the comune of the role.
#[derive(Debug)]
pub struct WebElectoral {
    o: WebOfficer,
    comune: String,
    /// The officer acting for the comune of the role.
    principal: Principal,
}

impl FromRequestParts<AppState> for WebElectoral {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let WebOfficerOrAny(o) = WebOfficerOrAny::from_request_parts(parts, state).await?;
        let comune =
            o.s.operator()
                .roles
                .iter()
                .find(|g| g.role == anagrafe_domain::Role::ElectoralOfficer && !g.scope.is_empty())
                .map(|g| g.scope.clone());
        let Some((comune, belfiore)) = comune.and_then(|c| anagrafe_domain::Belfiore::parse(&c).ok().map(|b| (c, b))) else {
            return Err(o.fail(ApiError::Forbidden("the electoral office's pages are for electoral officers".into())));
        };
        let principal = Principal::electoral_officer(
            &o.s.operator().username,
            belfiore,
            &o.s.0.session.auth_mode,
            crate::middleware::current_request_id().unwrap_or_default(),
        )
        .with_codice_fiscale(o.s.operator().codice_fiscale.clone());
        Ok(WebElectoral { o, comune, principal })
    }
}

impl WebElectoral {
    fn chrome(&self, title_key: &str) -> Chrome {
        self.o.chrome_under(title_key, "ele-office-title", "/ufficio/elettorale")
    }

    fn fail(&self, e: ApiError) -> Response {
        self.o.fail(e)
    }

    /// The elector of an ID ANPR, if this officer keeps their electoral data: 404 for an unknown
    /// or malformed ID, 410 for one no longer valid, 403 for a person of another comune.
    async fn elector(&self, state: &AppState, id: &str) -> Result<Elector, Response> {
        let id = IdAnpr::parse(id).map_err(|_| self.fail(ApiError::NotFound("no such ID ANPR".into())))?;
        state.electoral().elector(&self.principal, &id).await.map_err(|e| self.fail(e.into()))
    }
}

struct Pending {
    number: i64,
    id_anpr: String,
    at: String,
    topics: String,
}

#[derive(Template)]
#[template(path = "office/electoral-desk.html")]
struct DeskPage {
    c: Chrome,
    comune: String,
    q: String,
    error: Option<String>,
    all: bool,
    requests: Vec<Pending>,
}

#[derive(serde::Deserialize, Default)]
struct DeskQuery {
    #[serde(default)]
    cerca: Option<String>,
    #[serde(default)]
    tutte: Option<String>,
}

/// The electoral office's desk: find an elector of the comune (ID ANPR or codice fiscale), and
/// the citizens' rectification requests addressed to the comune.
async fn desk(
    State(state): State<AppState>,
    o: WebElectoral,
    q: Result<Query<DeskQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let q = q.map(|q| q.0).unwrap_or_default();
    let all = q.tutte.is_some();
    let mut error = None;
    let wanted = q.cerca.as_deref().map(str::trim).unwrap_or_default().to_uppercase();
    let mut status = StatusCode::OK;
    if !wanted.is_empty() {
        match state.electoral().find(&o.principal, &wanted).await {
            Ok(Some(id)) => return Ok(see_other(&format!("/ufficio/elettorale/persone/{id}"))),
            Ok(None) => {
                error = Some(o.o.ui.t("ele-err-not-found"));
                status = StatusCode::NOT_FOUND;
            }
            Err(ServiceError::Malformed { .. }) => {
                error = Some(o.o.ui.t("ele-err-search"));
                status = StatusCode::BAD_REQUEST;
            }
            Err(e) => return Err(o.fail(e.into())),
        }
    }
    let rows = state.electoral().requests(&o.principal, all).await.map_err(|e| o.fail(e.into()))?;
    let c = o.chrome("ele-office-title");
    let c = Chrome { crumbs: vec![super::Crumb { label: c.t("ele-office-title"), href: None }], ..c };
    let mut requests = Vec::new();
    for r in &rows {
        let row = request_row(&c, r);
        requests.push(Pending { number: r.id, id_anpr: r.id_anpr.clone().unwrap_or_default(), at: row.at, topics: row.topics });
    }
    Ok(html(status, &DeskPage { comune: comune_name(&o.comune), q: wanted.chars().take(32).collect(), error, all, requests, c }))
}

/// One election's row of the officer's form.
struct ElectionRow {
    label: String,
    /// Whether the person votes in it, then its districts.
    fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "office/elector.html")]
struct ElectorPage {
    c: Chrome,
    id_anpr: String,
    name: String,
    person: Vec<(String, String)>,
    data: Option<Shown>,
    csrf: String,
    main: Vec<Field>,
    lists: Vec<Field>,
    elections: Vec<ElectionRow>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
    requests: Vec<RequestRow>,
    /// The request whose answer was refused, and why.
    answer_error: Option<(i64, String)>,
}

fn yes_no(c: &Chrome) -> Vec<Opt> {
    vec![Opt { value: "no".into(), label: c.t("ele-no") }, Opt { value: "si".into(), label: c.t("ele-yes") }]
}

/// The form's values for stored data (or for nothing stored yet).
fn values_of(d: Option<&ElectoralData>) -> HashMap<String, String> {
    let mut v = HashMap::new();
    let Some(d) = d else { return v };
    let flag = |b: bool| if b { "si".to_owned() } else { "no".to_owned() };
    v.insert("elettore".into(), flag(d.elector));
    if let Some(s) = &d.section {
        v.insert("sezione".into(), s.number.to_string());
        v.insert("sede_nome".into(), s.seat_name.clone());
        v.insert("sede_indirizzo".into(), s.seat_address.clone());
    }
    for (l, name) in LIST_FIELDS {
        v.insert(name.into(), flag(d.additional_lists.contains(&l)));
    }
    for f in &ELECTION_FIELDS {
        let right = d.right(f.election);
        v.insert(f.votes.into(), flag(right.is_some()));
        for (name, value) in [
            (f.constituency, right.and_then(|r| r.constituency.clone())),
            (f.multi, right.and_then(|r| r.multi_member_college.clone())),
            (f.single, right.and_then(|r| r.single_member_college.clone())),
        ] {
            if let (Some(name), Some(value)) = (name, value) {
                v.insert(name.into(), value);
            }
        }
    }
    v
}

fn filled(mut f: Field, values: &HashMap<String, String>, errors: &[(String, String)]) -> Field {
    if let Some(v) = values.get(f.name) {
        f.value = v.clone();
    }
    f.error = errors.iter().find(|(n, _)| n == f.name).map(|(_, r)| r.clone());
    f
}

/// The form's fields, grouped as the page shows them.
fn form_fields(c: &Chrome, values: &HashMap<String, String>, errors: &[(String, String)]) -> (Vec<Field>, Vec<Field>, Vec<ElectionRow>) {
    let main = vec![
        Field::choice("elettore", c.t("ele-elector"), yes_no(c), "col-md-4").required().help(c.t("ele-elector-help")),
        Field::input("sezione", c.t("ele-section"), 4, "col-md-2"),
        Field::input("sede_nome", c.t("ele-seat-name"), 120, "col-md-6"),
        Field::input("sede_indirizzo", c.t("ele-seat-address"), 120, "col-md-12"),
    ];
    let main = main.into_iter().map(|f| filled(f, values, errors)).collect();
    let lists =
        LIST_FIELDS.iter().map(|(l, name)| filled(Field::choice(name, list_label(c, *l), yes_no(c), "col-md-6"), values, errors)).collect();
    let elections = ELECTION_FIELDS
        .iter()
        .map(|f| {
            let label = election_label(c, f.election);
            let votes = filled(Field::choice(f.votes, format!("{} — {}", label, c.t("ele-votes")), yes_no(c), "col-md-4"), values, errors);
            let mut fields = vec![votes];
            if let Some(n) = f.constituency {
                let key = if f.election == Election::District { "ele-district" } else { "ele-constituency" };
                fields.push(filled(Field::input(n, format!("{} — {}", label, c.t(key)), 120, "col-md-4"), values, errors));
            }
            if let Some(n) = f.multi {
                fields.push(filled(Field::input(n, format!("{} — {}", label, c.t("ele-multi")), 120, "col-md-4"), values, errors));
            }
            if let Some(n) = f.single {
                fields.push(filled(Field::input(n, format!("{} — {}", label, c.t("ele-single")), 120, "col-md-4"), values, errors));
            }
            ElectionRow { label, fields }
        })
        .collect();
    (main, lists, elections)
}

/// The data a form describes, or the errors of its fields (form field, message).
fn data_of(c: &Chrome, values: &HashMap<String, String>, franchise: Franchise) -> Result<ElectoralData, Vec<(String, String)>> {
    let get = |k: &str| values.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let flag = |k: &str| get(k) == "si";
    let text = |k: &str| Some(get(k)).filter(|v| !v.is_empty());
    if get("elettore") != "si" {
        // Not an elector: nothing else is kept.
        return Ok(ElectoralData::not_elector());
    }
    let mut errors = Vec::new();
    let number = match get("sezione").parse::<u16>() {
        Ok(n) => n,
        Err(_) => {
            errors.push(("sezione".to_owned(), c.t("ele-err-section")));
            0
        }
    };
    let data = ElectoralData {
        elector: true,
        section: Some(Section { number, seat_name: get("sede_nome"), seat_address: get("sede_indirizzo") }),
        additional_lists: LIST_FIELDS.iter().filter(|(_, n)| flag(n)).map(|(l, _)| *l).collect(),
        elections: ELECTION_FIELDS
            .iter()
            .filter(|f| flag(f.votes))
            .map(|f| ElectionRight {
                election: f.election,
                constituency: f.constituency.and_then(text),
                multi_member_college: f.multi.and_then(text),
                single_member_college: f.single.and_then(text),
            })
            .collect(),
    };
    for e in data.check(franchise) {
        let name = form_field(&data, &e.field);
        if name == "sezione" && errors.iter().any(|(n, _)| n == "sezione") {
            continue;
        }
        errors.push((name.to_owned(), format!("{}: {}", field_label(c, name), c.why(&e.reason))));
    }
    if errors.is_empty() { Ok(data) } else { Err(errors) }
}

/// The form field a rule of [`ElectoralData::check`] names.
fn form_field(d: &ElectoralData, path: &str) -> &'static str {
    let index = |p: &str| p.split_once('[').and_then(|(_, r)| r.split_once(']')).and_then(|(i, _)| i.parse::<usize>().ok());
    match path {
        "elector" => "elettore",
        "section" | "section.number" => "sezione",
        "section.seat_name" => "sede_nome",
        "section.seat_address" => "sede_indirizzo",
        p if p.starts_with("additional_lists[") => index(p)
            .and_then(|i| d.additional_lists.get(i))
            .and_then(|l| LIST_FIELDS.iter().find(|(x, _)| x == l))
            .map(|(_, n)| *n)
            .unwrap_or("elettore"),
        p if p.starts_with("elections[") => {
            let Some(f) = index(p).and_then(|i| d.elections.get(i)).and_then(|e| ELECTION_FIELDS.iter().find(|f| f.election == e.election))
            else {
                return "elettore";
            };
            if p.ends_with(".constituency") {
                f.constituency.unwrap_or(f.votes)
            } else if p.ends_with(".multi_member_college") {
                f.multi.unwrap_or(f.votes)
            } else if p.ends_with(".single_member_college") {
                f.single.unwrap_or(f.votes)
            } else {
                f.votes
            }
        }
        _ => "elettore",
    }
}

fn field_label(c: &Chrome, name: &str) -> String {
    let (main, lists, elections) = form_fields(c, &HashMap::new(), &[]);
    main.into_iter()
        .chain(lists)
        .chain(elections.into_iter().flat_map(|r| r.fields))
        .find(|f| f.name == name)
        .map(|f| f.label)
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
async fn elector_view(
    state: &AppState,
    o: &WebElectoral,
    elector: &Elector,
    values: Option<HashMap<String, String>>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
    answer_error: Option<(i64, String)>,
) -> Result<ElectorPage, Response> {
    // Opening an elector's page is a read of personal data: traced (by the service).
    let file = state.electoral().file(&o.principal, elector).await.map_err(|e| o.fail(e.into()))?;
    let (rec, requests) = (file.data, file.requests);
    let record = &elector.record;
    let id_anpr = elector.id_anpr.to_string();
    let c = o.chrome("ele-elector-title").crumb("ele-elector-title", None);
    let g = &record.generalita;
    let name = [g.name.given(), g.name.surname()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let refdata = &*RefData::current();
    let today = state.clock.today();
    let person = vec![
        (c.t("f-birth-date"), content::partial(&g.birth_date)),
        (c.t("f-cf"), g.codice_fiscale.as_ref().map(|c| c.as_str().to_owned()).unwrap_or_else(|| "-".into())),
        (c.t("f-citizenship"), content::citizenships(refdata, &record.citizenships, today)),
        (c.t("f-residence"), content::residence_line(refdata, &record.residence, today)),
    ];
    let values = values.unwrap_or_else(|| values_of(rec.as_ref().map(|r| &r.data)));
    let (main, lists, elections) = form_fields(&c, &values, &errors);
    Ok(ElectorPage {
        id_anpr,
        name,
        person,
        data: rec.as_ref().map(|r| shown(&c, r)),
        csrf: o.o.s.0.session.csrf_token.clone(),
        main,
        lists,
        elections,
        errors,
        notice,
        requests: requests.iter().map(|r| request_row(&c, r)).collect(),
        answer_error,
        c,
    })
}

#[derive(serde::Deserialize, Default)]
struct SavedQuery {
    #[serde(default)]
    salvato: Option<String>,
    #[serde(default)]
    risposta: Option<String>,
}

async fn elector_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    o: WebElectoral,
    q: Result<Query<SavedQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let q = q.map(|q| q.0).unwrap_or_default();
    let elector = o.elector(&state, &id).await?;
    let notice = if q.salvato.is_some() {
        Some(o.o.ui.t("ele-saved"))
    } else if q.risposta.is_some() {
        Some(o.o.ui.t("ele-answered"))
    } else {
        None
    };
    let page = elector_view(&state, &o, &elector, None, Vec::new(), notice, None).await?;
    Ok(html(StatusCode::OK, &page))
}

async fn elector_save(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    o: WebElectoral,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = form.map(|f| f.0).unwrap_or_default();
    o.o.check_csrf(&headers, values.get("csrf").map(String::as_str).unwrap_or_default())?;
    let elector = o.elector(&state, &id).await?;
    let c = o.chrome("ele-elector-title");
    let data = match data_of(&c, &values, Franchise::of(&elector.record.citizenships)) {
        Ok(d) => d,
        Err(errors) => {
            let page = elector_view(&state, &o, &elector, Some(values), errors, None, None).await?;
            return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    match state.electoral().save(&o.principal, &elector, &data).await {
        Ok(()) => Ok(see_other(&format!("/ufficio/elettorale/persone/{id}?salvato=1"))),
        Err(ServiceError::State { reason, .. }) => {
            let page = elector_view(&state, &o, &elector, Some(values), vec![(String::new(), o.o.ui.why(&reason))], None, None).await?;
            Err(html(StatusCode::CONFLICT, &page))
        }
        Err(e) => Err(o.fail(e.into())),
    }
}

/// The answer to a request: accepted or rejected, with the words the citizen reads.
async fn answer(
    State(state): State<AppState>,
    Path(number): Path<String>,
    headers: HeaderMap,
    o: WebElectoral,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = form.map(|f| f.0).unwrap_or_default();
    let get = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    o.o.check_csrf(&headers, get("csrf"))?;
    let number: i64 = number.parse().map_err(|_| o.fail(ApiError::NotFound("no such request".into())))?;
    let accepted = match get("esito") {
        "accolta" => Some(true),
        "respinta" => Some(false),
        _ => None,
    };
    let text = anagrafe_domain::electoral::request_text(get("risposta")).ok();
    let (Some(accepted), Some(text)) = (accepted, text) else {
        // Back to the elector's page, the error beside the answer.
        let elector = o.elector(&state, get("persona")).await?;
        let key = if accepted.is_none() { "ele-err-outcome" } else { "ele-err-answer" };
        // The page reads (and traces) the elector's file once; the request must be one of its.
        let page = elector_view(&state, &o, &elector, None, Vec::new(), None, Some((number, o.o.ui.t(key)))).await?;
        if !page.requests.iter().any(|r| r.number == number) {
            return Err(o.fail(ApiError::NotFound("no such request".into())));
        }
        return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    };
    // The store names the person, from the request, in the same transaction.
    let id = state.electoral().answer(&o.principal, number, accepted, &text).await.map_err(|e| o.fail(e.into()))?;
    let id = id.map(|i| i.to_string()).unwrap_or_default();
    Ok(see_other(&format!("/ufficio/elettorale/persone/{id}?risposta=1")))
}

impl ElectorPage {
    /// The refusal of this request's answer, if the last one was refused.
    fn answer_error_for(&self, number: &i64) -> Option<String> {
        self.answer_error.as_ref().filter(|(n, _)| n == number).map(|(_, e)| e.clone())
    }
}

impl CitizenPage {
    /// The error of a form field, if it has one.
    fn error_of(&self, field: &str) -> Option<String> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, e)| e.clone())
    }
}
