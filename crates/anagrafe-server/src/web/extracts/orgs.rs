//! The organisations of the extracts (VIS-1): a TOP user of the registry office lists the
//! comune's offices and the bodies under a convention, and adds or changes one (name, kind,
//! the convention's dates, the types of extract it may ask for). A thin door over
//! [`anagrafe_service::extracts::ExtractDesk::save_org`], which checks who may change what.

use super::super::form::{Field, Opt};
use super::super::{Chrome, PageResult, html};
use super::WebRequester;
use crate::{ApiError, AppState};
use anagrafe_domain::Role;
use anagrafe_domain::extract::{ExtractType, OrganisationKind};
use anagrafe_service::ServiceError;
use anagrafe_store::ExtractOrg;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

struct OrgRow {
    code: String,
    name: String,
    kind: String,
    convention: String,
    types: String,
    editable: bool,
}

/// One type of extract as a box to tick.
struct TypeBox {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "office/extracts-orgs.html")]
struct OrgsPage {
    c: Chrome,
    csrf: String,
    rows: Vec<OrgRow>,
    fields: Vec<Field>,
    types: Vec<TypeBox>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
}

impl OrgsPage {
    fn error_of(&self, name: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == name).map(|(_, r)| r.as_str())
    }
}

/// Only the registry office's TOP users manage the organisations.
fn top_only(w: &WebRequester) -> Result<(), Response> {
    if w.r.principal.role == Role::PaTop && w.r.org.kind == OrganisationKind::Registry {
        Ok(())
    } else {
        Err(w.o.fail(ApiError::Forbidden("the organisations are managed by the registry office's TOP users".into())))
    }
}

fn kind_label(c: &Chrome, k: OrganisationKind) -> String {
    c.t(&format!("vis-org-kind-{}", k.as_str().replace('_', "-")))
}

async fn view(
    state: &AppState,
    w: &WebRequester,
    typed: &HashMap<String, String>,
    ticked: &[String],
    errors: Vec<(String, String)>,
    notice: Option<String>,
) -> Result<OrgsPage, Response> {
    let c = super::chrome(&w.o, "vis-orgs-title");
    let orgs = state.extracts().organisations(w.r.org.comune).await.map_err(|e| w.o.fail(e.into()))?;
    let dmy = |d: Option<chrono::NaiveDate>| d.map(anagrafe_domain::date::dmy).unwrap_or_default();
    let rows = orgs
        .iter()
        .map(|o| OrgRow {
            code: o.code.clone(),
            name: o.name.clone(),
            kind: kind_label(&c, o.kind),
            convention: match (o.convention_from, o.convention_to) {
                (None, None) => String::new(),
                (a, b) => format!("{} – {}", dmy(a), dmy(b)),
            },
            types: if o.types.is_empty() {
                c.t("vis-orgs-every-type")
            } else {
                o.types.iter().map(|t| t.title()).collect::<Vec<_>>().join(", ")
            },
            editable: o.kind != OrganisationKind::Registry,
        })
        .collect();
    let kinds = [OrganisationKind::MunicipalOffice, OrganisationKind::ExternalBody]
        .into_iter()
        .map(|k| Opt { value: k.as_str().to_owned(), label: kind_label(&c, k) })
        .collect();
    let fields = super::super::form::filled(
        vec![
            Field::input("codice", c.t("vis-orgs-code"), 64, "col-md-6").required().help(c.t("vis-orgs-code-help")),
            Field::input("nome", c.t("vis-orgs-name"), 200, "col-md-6").required(),
            Field::choice("tipo", c.t("vis-orgs-kind"), kinds, "col-md-4").required(),
            Field::date("convenzione_dal", c.t("vis-orgs-from")).help(c.t("vis-orgs-convention-help")),
            Field::date("convenzione_al", c.t("vis-orgs-to")),
        ],
        typed,
        &errors,
    );
    let types = ExtractType::ALL
        .iter()
        .map(|t| TypeBox { value: t.as_str(), label: t.title(), checked: ticked.iter().any(|v| v == t.as_str()) })
        .collect();
    Ok(OrgsPage { csrf: w.o.s.0.session.csrf_token.clone(), rows, fields, types, errors, notice, c })
}

#[derive(serde::Deserialize, Default)]
pub(super) struct OrgQuery {
    /// An organisation to change: the form starts from its data.
    #[serde(default)]
    codice: String,
}

/// The organisations of the comune, and the form (empty, or with `?codice=` one to change).
pub(super) async fn page(State(state): State<AppState>, w: WebRequester, Query(q): Query<OrgQuery>) -> PageResult {
    top_only(&w)?;
    let mut typed = HashMap::new();
    let mut ticked = Vec::new();
    if !q.codice.is_empty() {
        let orgs = state.extracts().organisations(w.r.org.comune).await.map_err(|e| w.o.fail(e.into()))?;
        let o = orgs
            .into_iter()
            .find(|o| o.code == q.codice && o.kind != OrganisationKind::Registry)
            .ok_or_else(|| w.o.fail(ApiError::NotFound(format!("no organisation {} to change", q.codice))))?;
        typed.insert("codice".to_owned(), o.code.clone());
        typed.insert("nome".to_owned(), o.name.clone());
        typed.insert("tipo".to_owned(), o.kind.as_str().to_owned());
        typed.insert("convenzione_dal".to_owned(), o.convention_from.map(|d| d.to_string()).unwrap_or_default());
        typed.insert("convenzione_al".to_owned(), o.convention_to.map(|d| d.to_string()).unwrap_or_default());
        ticked = o.types.iter().map(|t| t.as_str().to_owned()).collect();
    }
    Ok(html(StatusCode::OK, &view(&state, &w, &typed, &ticked, Vec::new(), None).await?))
}

/// Adds an organisation, or changes the one with the code given (of this comune, not the
/// registry office).
pub(super) async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    w: WebRequester,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    top_only(&w)?;
    let pairs = form.map(|f| f.0).unwrap_or_default();
    let ticked: Vec<String> = pairs.iter().filter(|(k, _)| k == "tipi").map(|(_, v)| v.clone()).collect();
    let values: HashMap<String, String> = pairs.into_iter().filter(|(k, _)| k != "tipi").collect();
    let get = |k: &str| values.get(k).map(|v| v.trim()).unwrap_or_default();
    w.o.check_csrf(&headers, get("csrf"))?;
    let mut errors = Vec::new();
    let mut date = |field: &str| match get(field) {
        "" => None,
        raw => super::super::parse_date(raw).or_else(|| {
            errors.push((field.to_owned(), w.o.ui.why(&anagrafe_domain::Why::new("bad-date"))));
            None
        }),
    };
    let (from, to) = (date("convenzione_dal"), date("convenzione_al"));
    let kind = OrganisationKind::parse(get("tipo")).filter(|k| *k != OrganisationKind::Registry);
    if kind.is_none() {
        errors.push(("tipo".into(), w.o.ui.t("vis-orgs-err-kind")));
    }
    let mut types = Vec::new();
    for t in &ticked {
        match ExtractType::parse(t) {
            Some(t) => types.push(t),
            None => errors.push(("tipi".into(), w.o.ui.t("vis-err-type"))),
        }
    }
    let refuse = |errors: Vec<(String, String)>| {
        let (state, w, values, ticked) = (&state, &w, &values, &ticked);
        async move { Err::<Response, Response>(html(StatusCode::UNPROCESSABLE_ENTITY, &view(state, w, values, ticked, errors, None).await?)) }
    };
    let Some(kind) = kind.filter(|_| errors.is_empty()) else { return refuse(errors).await };
    let code = get("codice").to_ascii_lowercase();
    let existing =
        state.extracts().organisations(w.r.org.comune).await.map_err(|e| w.o.fail(e.into()))?.into_iter().find(|o| o.code == code);
    let org = ExtractOrg {
        id: existing.as_ref().map_or(0, |o| o.id),
        code,
        comune: w.r.org.comune,
        name: get("nome").to_owned(),
        kind,
        convention_from: from,
        convention_to: to,
        types,
    };
    match state.extracts().save_org(&w.r.principal, Some(&w.r), &org).await {
        Ok(_) => {
            let notice = super::super::i18n::t_args(w.o.ui.lang, "vis-orgs-saved", &[("name", &org.name)]);
            Ok(html(StatusCode::OK, &view(&state, &w, &HashMap::new(), &[], Vec::new(), Some(notice)).await?))
        }
        Err(e @ ServiceError::Invalid(_)) => {
            // The convention's two dates are checked together: shown beside the first.
            let errors = e
                .field_errors()
                .into_iter()
                .map(|f| (if f.field == "convenzione" { "convenzione_dal".to_owned() } else { f.field.clone() }, w.o.ui.why(&f.reason)))
                .collect();
            refuse(errors).await
        }
        Err(e) => Err(w.o.fail(e.into())),
    }
}
