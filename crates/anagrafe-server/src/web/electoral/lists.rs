//! The additional electoral lists for citizens of other EU states (CIT-4): the resident citizen
//! applies from the reserved area, with the declarations the laws require; the comune's
//! electoral officer works the application on the electoral desk (start, accept once the
//! elector has a section, reject or declare inadmissible with the reasons). Both call the case
//! engine ([`anagrafe_service::cases::CaseDesk`]) with their principal.

use super::super::citizen::WebCitizen;
use super::super::{Chrome, PageResult, html, see_other};
use super::WebElectoral;
use crate::{ApiError, AppState};
use anagrafe_domain::case::{CaseAction, CaseKind, CaseState};
use anagrafe_domain::electoral::AdditionalList;
use anagrafe_domain::eu::{self, ListApplication};
use anagrafe_domain::refdata::RefData;
use anagrafe_domain::text::Line;
use anagrafe_service::ServiceError;
use anagrafe_service::cases::CaseView;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Form, Router};
use std::collections::HashMap;

const CITIZEN: &str = "/area-personale/liste-aggiunte";
const DESK: &str = "/ufficio/elettorale/pratiche";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/area-personale/liste-aggiunte", get(citizen_page).post(apply))
        .route("/ufficio/elettorale/pratiche", get(desk))
        .route("/ufficio/elettorale/pratiche/{id}", get(one))
        .route("/ufficio/elettorale/pratiche/{id}/passi", post(step))
}

/// The EU member states but Italy, by name, for the citizenship's choice.
fn eu_states() -> Vec<(String, String)> {
    let refdata = RefData::current();
    let today = anagrafe_domain::ops::italian_today();
    let mut out: Vec<(String, String)> = refdata
        .stati()
        .iter()
        .filter(|s| s.valid_on(today) && s.iso3.as_deref().is_some_and(|i| eu::EU_MEMBER_STATES.contains(&i)))
        .map(|s| (s.code.to_string(), s.name.clone()))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out.dedup();
    out
}

fn list_label(c: &Chrome, l: AdditionalList) -> String {
    c.t(&format!("lists-{}", l.code()))
}

fn state_label(c: &Chrome, s: CaseState) -> String {
    c.t(&format!("case-state-{}", s.as_str()))
}

#[derive(Template)]
#[template(path = "electoral/lists.html")]
struct CitizenPage {
    c: Chrome,
    csrf: String,
    states: Vec<(String, String)>,
    typed: HashMap<String, String>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
    rows: Vec<(String, String, String, String)>,
}

impl CitizenPage {
    fn typed(&self, k: &str) -> &str {
        self.typed.get(k).map(String::as_str).unwrap_or_default()
    }

    fn error(&self, k: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == k).map(|(_, r)| r.as_str())
    }
}

async fn citizen_view(
    state: &AppState,
    s: &WebCitizen,
    typed: HashMap<String, String>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
) -> PageResult {
    let c = s.chrome("lists-title").crumb("area-title", Some("/area-personale")).crumb("lists-title", None);
    let own = state.cases().own_cases(&s.principal()).await.map_err(|e| s.fail(e.into()))?;
    let mut rows = Vec::new();
    for k in own.iter().filter(|k| k.kind == CaseKind::EuElectoralList) {
        let v = state.cases().own(&s.principal(), k.id).await.map_err(|e| s.fail(e.into()))?;
        let lists = v.lists.as_ref().map(|a| a.lists.iter().map(|l| list_label(&c, *l)).collect::<Vec<_>>().join(", ")).unwrap_or_default();
        let date = k.submitted_at.map(super::super::local_time).unwrap_or_default();
        rows.push((k.protocol.map(|p| p.to_string()).unwrap_or_default(), lists, state_label(&c, k.state), date));
    }
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(html(status, &CitizenPage { csrf: s.session.csrf_token.clone(), states: eu_states(), typed, errors, notice, rows, c }))
}

#[derive(serde::Deserialize, Default)]
struct Sent {
    #[serde(default)]
    inviata: Option<String>,
}

async fn citizen_page(
    State(state): State<AppState>,
    s: WebCitizen,
    q: Result<Query<Sent>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let notice = q.ok().and_then(|q| q.0.inviata).filter(|p| p.len() <= 32).map(|p| s.ui.t1("lists-sent", "protocol", &p));
    citizen_view(&state, &s, HashMap::new(), Vec::new(), notice).await
}

/// The form's name of a field the service names.
fn form_field(field: &str) -> &'static str {
    match field {
        "citizenship" => "cittadinanza",
        "home_address" => "indirizzo_origine",
        "home_constituency" => "circoscrizione",
        "not_deprived" => "dich_diritti",
        "vote_only_in_italy" => "dich_voto",
        _ => "liste",
    }
}

async fn apply(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: WebCitizen,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let pairs = form.map(|f| f.0).unwrap_or_default();
    let value = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    s.check_csrf(&headers, &value("csrf"))?;
    let mut typed: HashMap<String, String> = ["cittadinanza", "indirizzo_origine", "circoscrizione"]
        .iter()
        .map(|k| (k.to_string(), value(k).chars().take(200).collect()))
        .collect();
    let lists: Vec<AdditionalList> = pairs
        .iter()
        .filter(|(n, _)| n == "liste")
        .filter_map(|(_, v)| AdditionalList::ALL.into_iter().find(|l| l.code() == v && l.for_eu_citizens()))
        .collect();
    for l in &lists {
        typed.insert(format!("liste-{}", l.code()), "1".into());
    }
    for k in ["dich_diritti", "dich_voto"] {
        if !value(k).is_empty() {
            typed.insert(k.into(), "1".into());
        }
    }
    let mut errors = Vec::new();
    // Said with the other fields' errors at once (the service says it too).
    if lists.is_empty() {
        errors.push(("liste".to_owned(), s.ui.why(&anagrafe_domain::Why::new("eu-lists-none"))));
    }
    let citizenship = anagrafe_domain::Belfiore::parse(&value("cittadinanza")).ok();
    if citizenship.is_none() {
        errors.push(("cittadinanza".to_owned(), s.ui.t("form-required")));
    }
    let home_address = match Line::<200>::new(&value("indirizzo_origine")) {
        Ok(l) => Some(l),
        Err(_) if value("indirizzo_origine").is_empty() => {
            errors.push(("indirizzo_origine".to_owned(), s.ui.t("form-required")));
            None
        }
        Err(e) => {
            errors.push(("indirizzo_origine".to_owned(), s.ui.why(&e.into())));
            None
        }
    };
    let home_constituency = match Line::<100>::optional(Some(value("circoscrizione").as_str())) {
        Ok(l) => l,
        Err(e) => {
            errors.push(("circoscrizione".to_owned(), s.ui.why(&e.into())));
            None
        }
    };
    let (Some(citizenship), Some(home_address)) = (citizenship, home_address) else {
        return citizen_view(&state, &s, typed, errors, None).await;
    };
    if !errors.is_empty() {
        return citizen_view(&state, &s, typed, errors, None).await;
    }
    let a = ListApplication {
        lists,
        citizenship,
        home_address,
        home_constituency,
        not_deprived: !value("dich_diritti").is_empty(),
        vote_only_in_italy: !value("dich_voto").is_empty(),
    };
    match state.cases().apply_for_lists(&s.principal(), a).await {
        Ok((_, protocol)) => Ok(see_other(&format!("{CITIZEN}?inviata={protocol}"))),
        Err(e @ (ServiceError::Invalid(_) | ServiceError::State { .. })) => {
            let errors = e.field_errors().into_iter().map(|f| (form_field(&f.field).to_owned(), s.ui.why(&f.reason))).collect();
            citizen_view(&state, &s, typed, errors, None).await
        }
        Err(e) => Err(s.fail(e.into())),
    }
}

#[derive(Template)]
#[template(path = "electoral/cases.html")]
struct DeskPage {
    c: Chrome,
    rows: Vec<(i64, String, String, String, String)>,
}

async fn desk(State(state): State<AppState>, e: WebElectoral) -> PageResult {
    let c = e.chrome("lists-desk-title");
    let all = state.cases().list(&e.principal, Vec::new(), 200).await.map_err(|x| e.fail(x.into()))?;
    let rows = all
        .iter()
        .filter(|k| k.kind == CaseKind::EuElectoralList)
        .map(|k| {
            (
                k.id,
                k.protocol.map(|p| p.to_string()).unwrap_or_default(),
                k.applicant_name.clone(),
                state_label(&c, k.state),
                k.due_on.map(anagrafe_domain::date::dmy).unwrap_or_default(),
            )
        })
        .collect();
    Ok(html(StatusCode::OK, &DeskPage { rows, c }))
}

#[derive(Template)]
#[template(path = "electoral/case.html")]
struct CasePage {
    c: Chrome,
    csrf: String,
    protocol: String,
    state: String,
    facts: Vec<(String, String)>,
    elector: Option<String>,
    steps: Vec<(String, String, String)>,
    actions: Vec<(&'static str, String, bool)>,
    errors: Vec<(String, String)>,
    /// Where the step form posts.
    step_to: String,
    any_action: bool,
}

fn number(e: &WebElectoral, raw: &str) -> Result<i64, axum::response::Response> {
    raw.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| e.fail(ApiError::NotFound("no such application".into())))
}

async fn case_view(state: &AppState, e: &WebElectoral, id: i64, errors: Vec<(String, String)>) -> PageResult {
    let v: CaseView = state.cases().file(&e.principal, id).await.map_err(|x| e.fail(x.into()))?;
    let k = &v.file.case;
    if k.kind != CaseKind::EuElectoralList {
        return Err(e.fail(ApiError::NotFound("no such application".into())));
    }
    let c = e.chrome("lists-case-title").crumb("lists-desk-title", Some(DESK)).crumb("lists-case-title", None);
    let refdata = RefData::current();
    let mut facts = vec![(c.t("case-col-applicant"), k.applicant_name.clone())];
    if let Some(a) = &v.lists {
        let yes = |b: bool| c.t(if b { "lists-declared" } else { "lists-not-declared" });
        facts.extend([
            (c.t("lists-which"), a.lists.iter().map(|l| list_label(&c, *l)).collect::<Vec<_>>().join(", ")),
            (c.t("lists-citizenship"), refdata.stato(a.citizenship).map(|s| s.name.clone()).unwrap_or_default()),
            (c.t("lists-home-address"), a.home_address.to_string()),
            (c.t("lists-home-constituency"), a.home_constituency.as_ref().map(|l| l.to_string()).unwrap_or_default()),
            (c.t("lists-not-deprived"), yes(a.not_deprived)),
            (c.t("lists-vote-here"), yes(a.vote_only_in_italy)),
        ]);
    }
    if let Some(due) = k.due_on {
        facts.push((c.t("case-due"), anagrafe_domain::date::dmy(due)));
    }
    // The elector's record, where the section is given.
    let cf = k.applicant.strip_prefix("citizen:").unwrap_or_default();
    let elector = match state.electoral().find(&e.principal, cf).await {
        Ok(Some(id)) => Some(format!("/ufficio/elettorale/persone/{id}")),
        _ => None,
    };
    let s = k.state;
    let open = matches!(s, CaseState::Submitted | CaseState::InProgress);
    let actions: Vec<(&'static str, String, bool)> = [
        ("start_procedure", "case-do-start", s == CaseState::Submitted),
        ("accept", "lists-do-accept", s == CaseState::InProgress),
        ("reject", "case-do-reject", s == CaseState::InProgress),
        ("declare_inadmissible", "case-do-inadmissible", open),
    ]
    .into_iter()
    .map(|(v, key, on)| (v, c.t(key), on))
    .collect();
    let steps = v
        .file
        .steps
        .iter()
        .map(|st| (super::super::local_time(st.at), c.t(&format!("case-step-{}", st.action)), st.note.clone()))
        .collect();
    let page = CasePage {
        csrf: e.o.s.0.session.csrf_token.clone(),
        protocol: k.protocol.map(|p| p.to_string()).unwrap_or_default(),
        state: state_label(&c, s),
        facts,
        elector,
        steps,
        errors,
        step_to: format!("{DESK}/{id}/passi"),
        any_action: actions.iter().any(|a| a.2),
        actions,
        c,
    };
    let status = if page.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(html(status, &page))
}

async fn one(State(state): State<AppState>, e: WebElectoral, Path(id): Path<String>) -> PageResult {
    let id = number(&e, &id)?;
    case_view(&state, &e, id, Vec::new()).await
}

async fn step(
    State(state): State<AppState>,
    e: WebElectoral,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let id = number(&e, &id)?;
    super::super::csrf_ok(&headers, f.get("csrf").map(String::as_str).unwrap_or_default(), &e.o.s.0.session.csrf_token)
        .map_err(|x| e.fail(x))?;
    let note = f.get("nota").cloned().unwrap_or_default();
    let action = match f.get("azione").map(String::as_str).unwrap_or_default() {
        "start_procedure" => CaseAction::StartProcedure,
        "accept" => CaseAction::Accept,
        "reject" => CaseAction::Reject,
        "declare_inadmissible" => CaseAction::DeclareInadmissible,
        _ => return case_view(&state, &e, id, vec![("azione".into(), e.o.ui.t("form-required"))]).await,
    };
    match state.cases().step(&e.principal, id, action, &note, None).await {
        Ok(_) => Ok(see_other(&format!("{DESK}/{id}"))),
        Err(x @ (ServiceError::State { .. } | ServiceError::Invalid(_) | ServiceError::Refused { .. })) => {
            let errors = x.field_errors().into_iter().map(|f| ("nota".to_owned(), e.o.ui.why(&f.reason))).collect();
            case_view(&state, &e, id, errors).await
        }
        Err(x) => Err(e.fail(x.into())),
    }
}
