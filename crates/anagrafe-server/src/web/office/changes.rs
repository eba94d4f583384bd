//! The registry office's change forms (REG-5): change of address, change of personal data
//! (generalità, IDN-6 cases 1–3), change of civil status, change of household, and cancellation
//! (death, emigration abroad and the other reasons of tab. 15 / tab. 28), each on a page of its own
//! with the person's current data, every field's error beside it and a summary on top.
//!
//! A form is data ([`Field`]s) drawn by one template; each change says which fields it has,
//! how they become the web service's body, and which form field an API error names. The
//! write is the API's own handler with the officer as caller: validation, competence,
//! idempotency (the form's operation id is the `client_op_id`) and the trace are the API's.

use super::super::form::{Field, Opt};
use super::super::{Chrome, PageResult, html, json_of, see_other};
use super::{WebOfficer, comune_name, found, id_path};
use crate::{ApiError, AppState};
use anagrafe_domain::RefData;
use anagrafe_domain::decode::{DecodeTable, MotivoCancellazione, MotivoCancellazioneAire, StatoCivile};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The changes an officer makes from the person's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// Change of address (within the comune, or into it from another comune).
    Residence,
    /// Change of civil status (marriage, divorce, widowhood, civil union).
    CivilStatus,
    /// Change or correction of personal data (IDN-6 cases 1–3): the ID ANPR stays.
    Generalita,
    /// A move to another household of the comune, or out of one into a new one.
    Household,
    /// The adoption of a minor (IDN-6 case 4): a new record and ID ANPR, the old ID no longer
    /// valid.
    Adoption,
    /// Two records of one person (IDN-6 case 5): reported, then resolved (one kept, the other
    /// deleted) or dismissed.
    Duplicate,
    /// Cancellation from the register (death, and the other reasons of the tables).
    Cancellation,
}

impl Change {
    /// The change whose page has this path segment.
    pub(super) fn from_segment(segment: &str) -> Option<Self> {
        [Self::Residence, Self::CivilStatus, Self::Generalita, Self::Household, Self::Adoption, Self::Duplicate, Self::Cancellation]
            .into_iter()
            .find(|c| c.segment() == segment)
    }

    /// The page's path segment under `/ufficio/persone/{id}/`.
    pub(super) fn segment(self) -> &'static str {
        match self {
            Self::Residence => "residenza",
            Self::CivilStatus => "stato-civile",
            Self::Generalita => "generalita",
            Self::Household => "famiglia",
            Self::Adoption => "adozione",
            Self::Duplicate => "doppia-iscrizione",
            Self::Cancellation => "cancellazione",
        }
    }

    pub(super) fn title_key(self) -> &'static str {
        match self {
            Self::Residence => "change-residence-title",
            Self::CivilStatus => "change-civil-title",
            Self::Generalita => "change-generalita-title",
            Self::Household => "change-household-title",
            Self::Adoption => "change-adoption-title",
            Self::Duplicate => "change-duplicate-title",
            Self::Cancellation => "change-cancel-title",
        }
    }

    /// The web service this form calls.
    fn api_path(self, id: &str) -> String {
        let op = match self {
            Self::Residence => "residence",
            Self::CivilStatus => "civil-status",
            Self::Generalita => "generalita",
            Self::Household => "household",
            Self::Adoption => "minor-adoption",
            Self::Duplicate => return "/api/v1/duplicates".to_owned(),
            Self::Cancellation => "cancellation",
        };
        format!("/api/v1/persons/{id}/{op}")
    }
}

#[derive(Template)]
#[template(path = "office/change.html")]
struct ChangePage {
    c: Chrome,
    id_anpr: String,
    action: String,
    lead: String,
    current: Vec<(String, String)>,
    csrf: String,
    op: String,
    fields: Vec<Field>,
    /// Errors for the summary: the form field (empty when none fits) and the reason.
    errors: Vec<(String, String)>,
    submit: String,
}

impl Subject {
    /// No one yet (a registration).
    fn none() -> Self {
        Subject {
            name: String::new(),
            current: Vec::new(),
            aire: false,
            surname: String::new(),
            given: String::new(),
            id_anpr: String::new(),
        }
    }
}

/// What the form shows of the person: name and the data the change is about.
struct Subject {
    name: String,
    current: Vec<(String, String)>,
    aire: bool,
    /// The current personal data, as the generalità form starts from them.
    surname: String,
    given: String,
    /// The record's ID ANPR.
    id_anpr: String,
}

async fn subject(state: &AppState, o: &WebOfficer, id: &str, change: Change) -> Result<Subject, Response> {
    let target = format!("/api/v1/persons/{id}");
    let uri: Uri = target.parse().map_err(|_| o.fail(ApiError::NotFound("no such ID ANPR".into())))?;
    let r =
        crate::api::person(State(state.clone()), Path(id.to_owned()), uri, o.caller("GET", &target, None)?).await.map_err(|e| o.fail(e))?;
    let v = json_of(r).await.map_err(|e| o.fail(e))?;
    let f = found(&v);
    let rec = &v["record"];
    let t = |k: &str| o.ui.t(k);
    let mut current = vec![(t("f-name-full"), f.name.clone()), (t("office-register-status"), status_label(o, rec))];
    match change {
        Change::Residence => current.push((t("f-residence"), address(rec))),
        Change::CivilStatus => current.push((t("f-civil-status"), civil_status_label(rec["civil_status"].as_str()))),
        Change::Generalita => {
            let g = &rec["generalita"];
            current.push((t("f-sex"), g["sex"].as_str().unwrap_or_default().to_owned()));
            current.push((t("f-birth-date"), g["birth_date"].as_str().unwrap_or_default().to_owned()));
            current.push((t("f-cf"), g["codice_fiscale"].as_str().unwrap_or("-").to_owned()));
        }
        Change::Adoption | Change::Duplicate => {
            current.push((t("f-birth-date"), rec["generalita"]["birth_date"].as_str().unwrap_or_default().to_owned()));
            current.push((t("f-cf"), rec["generalita"]["codice_fiscale"].as_str().unwrap_or("-").to_owned()));
        }
        Change::Household => {
            let h = &rec["household"];
            let family = h["family_id"].as_i64().map(|f| f.to_string()).unwrap_or_else(|| "-".into());
            current.push((t("office-household"), family));
        }
        Change::Cancellation => current.push((t("f-residence"), address(rec))),
    }
    let g = &rec["generalita"]["name"];
    Ok(Subject {
        name: f.name,
        current,
        aire: rec["status"].as_str() == Some("aire"),
        surname: g["surname"].as_str().unwrap_or_default().to_owned(),
        given: g["given"].as_str().unwrap_or_default().to_owned(),
        id_anpr: id.to_owned(),
    })
}

/// The register status in words.
pub(super) fn status_label(o: &WebOfficer, rec: &Value) -> String {
    let key = format!("status-{}", rec["status"].as_str().unwrap_or("unknown"));
    if super::super::i18n::has(o.ui.lang, &key) { o.ui.t(&key) } else { rec["status"].as_str().unwrap_or_default().to_owned() }
}

fn civil_status_label(raw: Option<&str>) -> String {
    StatoCivile::ALL
        .iter()
        .find(|s| serde_json::to_value(s).ok().and_then(|v| v.as_str().map(|x| Some(x) == raw)).unwrap_or(false))
        .map(|s| s.description().to_owned())
        .unwrap_or_else(|| raw.unwrap_or("-").to_owned())
}

/// The address of a record, as one line.
pub(super) fn address(rec: &Value) -> String {
    let r = &rec["residence"];
    let part = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
    match r["kind"].as_str() {
        Some("italy") => {
            let street = [part("species"), part("toponym"), part("civic")].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>();
            let place = [part("cap"), r["comune"].as_str().map(comune_name).unwrap_or_default()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>();
            format!("{} — {}", street.join(" "), place.join(" "))
        }
        Some(_) => {
            let a = &r["address"];
            let state = a["state"].as_str().map(|code| {
                RefData::current()
                    .resolve(code, anagrafe_domain::ops::italian_today())
                    .map(|p| p.name().to_owned())
                    .unwrap_or_else(|_| code.to_owned())
            });
            [a["address"].as_str().map(str::to_owned), a["locality"].as_str().map(str::to_owned), state]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
        }
        None => "-".into(),
    }
}

fn relation_options() -> Vec<Opt> {
    super::relations().into_iter().map(|r| Opt { value: r.code.to_string(), label: r.label }).collect()
}

fn fields(o: &WebOfficer, change: Change, aire: bool) -> Vec<Field> {
    let t = |k: &str| o.ui.t(k);
    match change {
        Change::Residence => vec![
            Field::date("effective_date", t("change-effective-date")).required().help(t("change-residence-date-help")),
            Field::input("species", t("birth-species"), 20, "col-md-3"),
            Field::input("toponym", t("birth-toponym"), 150, "col-md-5").required(),
            Field::input("civic", t("birth-civic"), 10, "col-md-2"),
            Field::input("cap", t("birth-cap"), 5, "col-md-2"),
            Field::choice(
                "household",
                t("change-household"),
                vec![
                    Opt { value: "stay".into(), label: t("change-household-stay") },
                    Opt { value: "new".into(), label: t("birth-household-new") },
                    Opt { value: "join".into(), label: t("birth-household-join") },
                ],
                "col-md-6",
            )
            .help(t("change-household-help")),
            Field::input("family_id", t("birth-family-id"), 18, "col-md-3"),
            Field::choice("relation", t("f-relation"), relation_options(), "col-md-3"),
        ],
        Change::CivilStatus => vec![
            Field::date("effective_date", t("change-effective-date")).required(),
            Field::choice(
                "civil_status",
                t("f-civil-status"),
                StatoCivile::ALL
                    .iter()
                    .filter(|s| s.valid_until().is_none())
                    .filter_map(|s| {
                        let v = serde_json::to_value(s).ok()?.as_str()?.to_owned();
                        Some(Opt { value: v, label: s.description().to_owned() })
                    })
                    .collect(),
                "col-md-8",
            )
            .required(),
        ],
        Change::Generalita => {
            let cases = [
                "marriage",
                "adult_adoption",
                "sex_change",
                "on_request",
                "material_error_aligned",
                "material_error_not_aligned_agency_right",
                "material_error_not_aligned_register_right",
            ];
            let sexes = vec![
                Opt { value: String::new(), label: t("change-unchanged") },
                Opt { value: "F".into(), label: t("sex-f") },
                Opt { value: "M".into(), label: t("sex-m") },
            ];
            vec![
                Field::choice(
                    "case",
                    t("change-generalita-case"),
                    cases.iter().map(|c| Opt { value: (*c).to_owned(), label: t(&format!("gen-case-{}", c.replace('_', "-"))) }).collect(),
                    "col-md-8",
                )
                .required(),
                Field::date("effective_date", t("change-effective-date")).required().help(t("change-generalita-date-help")),
                Field::input("surname", t("f-surname"), 150, "col-md-6").help(t("change-generalita-name-help")),
                Field::input("given", t("f-name"), 150, "col-md-6"),
                Field::choice("sex", t("f-sex"), sexes, "col-md-4"),
                Field::input("birth_date", t("f-birth-date"), 10, "col-md-4").help(t("change-generalita-correction-help")),
                Field::input("birth_place", t("birth-place-label"), 80, "col-md-4").help(t("change-generalita-correction-help")),
                Field::input("codice_fiscale", t("f-cf"), 16, "col-md-6").help(t("change-generalita-cf-help")),
            ]
        }
        Change::Adoption => vec![
            Field::date("effective_date", t("change-adoption-date")).required(),
            Field::input("surname", t("f-surname"), 150, "col-md-6").required().help(t("change-adoption-name-help")),
            Field::input("given", t("f-name"), 150, "col-md-6").required(),
            Field::input("family_id", t("change-adoption-family"), 18, "col-md-4").required(),
            Field::choice("relation", t("f-relation"), relation_options(), "col-md-4"),
        ],
        Change::Duplicate => vec![
            Field::input("other", t("change-duplicate-other"), 9, "col-md-4").required().help(t("change-duplicate-other-help")),
            Field::choice(
                "action",
                t("change-duplicate-action"),
                ["report", "keep-this", "keep-other", "dismiss"]
                    .iter()
                    .map(|a| Opt { value: (*a).to_owned(), label: t(&format!("change-duplicate-{a}")) })
                    .collect(),
                "col-md-8",
            )
            .required(),
        ],
        Change::Household => vec![
            Field::date("effective_date", t("change-effective-date")).required(),
            Field::choice(
                "household",
                t("change-household-to"),
                vec![
                    Opt { value: "join".into(), label: t("birth-household-join") },
                    Opt { value: "new".into(), label: t("birth-household-new") },
                ],
                "col-md-6",
            )
            .required(),
            Field::input("family_id", t("birth-family-id"), 18, "col-md-3"),
            Field::choice("relation", t("f-relation"), relation_options(), "col-md-3"),
        ],
        Change::Cancellation => {
            let reasons: Vec<Opt> = if aire {
                MotivoCancellazioneAire::ALL
                    .iter()
                    .filter(|m| m.valid_until().is_none() && **m != MotivoCancellazioneAire::DoppiaIscrizione)
                    .map(|m| Opt { value: m.code().to_string(), label: format!("{} — {}", m.code(), m.description()) })
                    .collect()
            } else {
                // Duplicates are resolved as duplicates (IDN-6 case 5), not cancelled here.
                MotivoCancellazione::ALL
                    .iter()
                    .filter(|m| m.valid_until().is_none() && **m != MotivoCancellazione::DoppiaIscrizione)
                    .map(|m| Opt { value: m.code().to_string(), label: format!("{} — {}", m.code(), m.description()) })
                    .collect()
            };
            vec![
                Field::choice("reason", t("change-cancel-reason"), reasons, "col-md-8").required(),
                Field::date("effective_date", t("change-effective-date")).required().help(t("change-cancel-date-help")),
                Field::input("reason_description", t("change-cancel-description"), 256, "col-md-8")
                    .help(t("change-cancel-description-help")),
                Field::input("death_place", t("change-death-place"), 80, "col-md-6").help(t("change-death-place-help")),
                Field::input("abroad_state", t("change-abroad-state"), 80, "col-md-6").help(t("change-abroad-help")),
                Field::input("abroad_locality", t("change-abroad-locality"), 100, "col-md-6"),
                Field::input("abroad_address", t("change-abroad-address"), 200, "col-md-8"),
                Field::input("abroad_postcode", t("change-abroad-postcode"), 20, "col-md-4"),
            ]
        }
    }
}

/// Which form field an API field path belongs to (`""`: the summary only).
fn form_field(change: Change, api: &str) -> &'static str {
    let api = api.trim_start_matches('.');
    let names: &[&'static str] = match change {
        Change::Residence => &["effective_date", "species", "toponym", "civic", "cap", "family_id", "household"],
        Change::CivilStatus => &["effective_date", "civil_status"],
        Change::Generalita => &["effective_date", "case", "codice_fiscale", "sex", "birth_date", "birth_place"],
        Change::Household => &["effective_date", "family_id", "household"],
        Change::Adoption => &["effective_date", "family_id", "relation"],
        Change::Duplicate => &["other"],
        Change::Cancellation => &["effective_date", "reason_description", "reason"],
    };
    if matches!(change, Change::Generalita | Change::Adoption) && api.starts_with("name") {
        return if api.starts_with("name.given") { "given" } else { "surname" };
    }
    if change == Change::Duplicate && (api.starts_with("persons") || api.starts_with("keep") || api.starts_with("delete")) {
        return "other";
    }
    if change == Change::Cancellation && api.starts_with("abroad") {
        return match api {
            a if a.starts_with("abroad.locality") => "abroad_locality",
            a if a.starts_with("abroad.address") => "abroad_address",
            a if a.starts_with("abroad.postcode") => "abroad_postcode",
            _ => "abroad_state",
        };
    }
    if change == Change::Household && api.starts_with("household") {
        return "family_id";
    }
    if change == Change::Cancellation && api.starts_with("death") {
        return if api.starts_with("death.place") { "death_place" } else { "effective_date" };
    }
    let leaf = api.strip_prefix("residence.").unwrap_or(api);
    let leaf = leaf.strip_prefix("household.").map(|_| "family_id").unwrap_or(leaf);
    names.iter().copied().find(|n| leaf.starts_with(n)).unwrap_or("")
}

fn view(
    o: &WebOfficer,
    id: &str,
    change: Change,
    subject: Subject,
    values: &HashMap<String, String>,
    errors: Vec<(String, String)>,
) -> ChangePage {
    let c = o
        .chrome(change.title_key())
        .crumb("office-search-title", Some("/ufficio/persone"))
        .crumb("office-person-title", Some(&format!("/ufficio/persone/{id}")))
        .crumb(change.title_key(), None);
    let mut fields = fields(o, change, subject.aire);
    fill(&mut fields, values, &errors);
    let op = form_op(values);
    ChangePage {
        lead: c.t1("change-lead", "name", &subject.name),
        submit: c.t(match change {
            Change::Cancellation => "change-cancel-submit",
            _ => "change-submit",
        }),
        c,
        id_anpr: id.to_owned(),
        action: format!("/ufficio/persone/{id}/{}", change.segment()),
        current: subject.current,
        csrf: o.s.0.session.csrf_token.clone(),
        op,
        fields,
        errors,
    }
}

/// The form of a change, with the person's current data.
/// A change's page; `other` prefills the other record of a duplicate (from the list of open
/// cases).
async fn page(State(state): State<AppState>, Path(id): Path<String>, o: WebOfficer, change: Change, other: Option<String>) -> PageResult {
    let id = id_path(&o, &id)?;
    let subject = subject(&state, &o, &id, change).await?;
    let mut values = HashMap::new();
    values.insert("surname".to_owned(), subject.surname.clone());
    values.insert("given".to_owned(), subject.given.clone());
    values.insert("household".to_owned(), "stay".to_owned());
    values.insert("relation".to_owned(), "3".to_owned());
    values.insert("species".to_owned(), "VIA".to_owned());
    values.insert("effective_date".to_owned(), anagrafe_domain::ops::italian_today().to_string());
    if let Some(other) = other.filter(|_| change == Change::Duplicate) {
        values.insert("other".to_owned(), other.chars().filter(char::is_ascii_alphanumeric).take(9).collect());
    }
    Ok(html(StatusCode::OK, &view(&o, &id, change, subject, &values, Vec::new())))
}

/// The web service's body from the form, or the form's own errors (missing or unreadable
/// fields); what the register decides is left to the API.
fn body(o: &WebOfficer, change: Change, v: &HashMap<String, String>, subject: &Subject) -> Result<Value, Vec<(String, String)>> {
    let aire = subject.aire;
    let t = |k: &str| o.ui.t(k);
    let value_of = |k: &str| v.get(k).map(|s| s.trim()).unwrap_or_default();
    let mut errors = Vec::new();
    if change == Change::Duplicate {
        return duplicate_body(o, v, subject);
    }
    let date = value_of("effective_date").parse::<chrono::NaiveDate>().ok();
    if date.is_none() {
        errors.push(("effective_date".to_owned(), t("change-err-date")));
    }
    let date = date.map(|d| d.to_string()).unwrap_or_default();
    // The household chosen: a new family, or an existing one with the relation to its head;
    // `Null` when the person stays where they are.
    let household_of = |errors: &mut Vec<(String, String)>| match value_of("household") {
        "new" => json!({ "kind": "new", "household": { "kind": "family" } }),
        "join" => match (value_of("family_id").parse::<i64>(), value_of("relation").parse::<u16>()) {
            (Ok(id), Ok(rel)) if id > 0 => json!({ "kind": "join", "family_id": id, "relation": rel }),
            _ => {
                errors.push(("family_id".to_owned(), t("birth-err-family")));
                Value::Null
            }
        },
        _ => Value::Null,
    };
    let body = match change {
        Change::Residence => {
            if value_of("toponym").is_empty() {
                errors.push(("toponym".to_owned(), t("birth-err-toponym")));
            }
            // Checked here too: inside the tagged residence the API can only name `residence`.
            if !value_of("cap").is_empty() && value_of("cap").parse::<anagrafe_domain::Cap>().is_err() {
                errors.push(("cap".to_owned(), t("change-err-cap")));
            }
            let mut residence =
                json!({ "kind": "italy", "comune": o.comune(), "species": value_of("species"), "toponym": value_of("toponym") });
            for k in ["civic", "cap"] {
                if !value_of(k).is_empty() {
                    residence[k] = json!(value_of(k));
                }
            }
            let household = household_of(&mut errors);
            let mut b = json!({ "effective_date": date, "residence": residence });
            if !household.is_null() {
                b["household"] = household;
            }
            b
        }
        Change::CivilStatus => {
            if value_of("civil_status").is_empty() {
                errors.push(("civil_status".to_owned(), t("change-err-civil-status")));
            }
            json!({ "effective_date": date, "civil_status": value_of("civil_status") })
        }
        Change::Generalita => {
            let mut b = json!({ "case": value_of("case"), "effective_date": date });
            // The name is sent when it differs from the record's (both parts: the register
            // checks them together).
            if value_of("surname") != subject.surname || value_of("given") != subject.given {
                let part = |k: &str| if value_of(k).is_empty() { Value::Null } else { json!(value_of(k)) };
                b["name"] = json!({ "surname": part("surname"), "given": part("given") });
            }
            if !value_of("sex").is_empty() {
                b["sex"] = json!(value_of("sex"));
            }
            if !value_of("birth_date").is_empty() {
                b["birth_date"] = json!(value_of("birth_date"));
            }
            if !value_of("birth_place").is_empty() {
                let on = anagrafe_domain::PartialDate::parse(value_of("birth_date"))
                    .map(|d| d.first_day())
                    .unwrap_or_else(|_| anagrafe_domain::ops::italian_today());
                match RefData::current().resolve(value_of("birth_place"), on) {
                    Ok(anagrafe_domain::Place::Comune(c)) => b["birth_place"] = json!({ "kind": "comune", "code": c.belfiore.to_string() }),
                    Ok(anagrafe_domain::Place::Stato(st)) => b["birth_place"] = json!({ "kind": "abroad", "state": st.code.to_string() }),
                    Err(_) => errors.push(("birth_place".to_owned(), t("birth-err-place"))),
                }
            }
            if !value_of("codice_fiscale").is_empty() {
                b["codice_fiscale"] = json!(value_of("codice_fiscale").to_ascii_uppercase());
            }
            b
        }
        Change::Duplicate => unreachable!("read by duplicate_body"),
        Change::Adoption => {
            for (field, key) in [("surname", "birth-err-surname"), ("given", "birth-err-given")] {
                if value_of(field).is_empty() {
                    errors.push((field.to_owned(), t(key)));
                }
            }
            let family = value_of("family_id").parse::<i64>().ok().filter(|f| *f > 0);
            if family.is_none() {
                errors.push(("family_id".to_owned(), t("birth-err-family")));
            }
            json!({
                "effective_date": date,
                "name": { "surname": value_of("surname"), "given": value_of("given") },
                "family_id": family,
                "relation": value_of("relation").parse::<u16>().unwrap_or(3),
            })
        }
        Change::Household => {
            let household = household_of(&mut errors);
            if household.is_null() && !errors.iter().any(|(f, _)| f == "family_id") {
                errors.push(("household".to_owned(), t("change-err-household")));
            }
            json!({ "effective_date": date, "household": household })
        }
        Change::Cancellation => {
            let reason = value_of("reason").parse::<u16>().ok();
            let Some(reason) = reason else {
                errors.push(("reason".to_owned(), t("change-err-reason")));
                return Err(errors);
            };
            let death = if aire {
                matches!(
                    MotivoCancellazioneAire::from_code(reason),
                    Some(MotivoCancellazioneAire::MorteAccertata | MotivoCancellazioneAire::MortePresuntaGiudizialmenteDichiarata)
                )
            } else {
                matches!(
                    MotivoCancellazione::from_code(reason),
                    Some(MotivoCancellazione::MorteAccertata | MotivoCancellazione::MortePresuntaGiudizialmenteDichiarata)
                )
            };
            let mut b = json!({ "reason": reason, "effective_date": date });
            if !value_of("reason_description").is_empty() {
                b["reason_description"] = json!(value_of("reason_description"));
            }
            if death {
                let mut d = json!({ "date": date });
                if !value_of("death_place").is_empty() {
                    let on = date.parse().unwrap_or_else(|_| anagrafe_domain::ops::italian_today());
                    match RefData::current().resolve(value_of("death_place"), on) {
                        Ok(p) => d["place"] = json!(p.code().to_string()),
                        Err(_) => errors.push(("death_place".to_owned(), t("change-err-death-place"))),
                    }
                }
                b["death"] = d;
            } else if !value_of("death_place").is_empty() {
                errors.push(("death_place".to_owned(), t("change-err-death-place-only")));
            }
            let abroad_fields = ["abroad_state", "abroad_locality", "abroad_address", "abroad_postcode"];
            if !aire && MotivoCancellazione::from_code(reason) == Some(MotivoCancellazione::TrasferimentoResidenza) {
                // Emigration abroad: the record moves to the AIRE of the comune, at this address.
                let on = date.parse().unwrap_or_else(|_| anagrafe_domain::ops::italian_today());
                b["abroad"] = abroad_address(o, v, on, &mut errors);
            } else if let Some(f) = abroad_fields.iter().find(|f| !value_of(f).is_empty()) {
                errors.push(((*f).to_owned(), t("change-err-abroad-only")));
            }
            b
        }
    };
    if errors.is_empty() { Ok(body) } else { Err(errors) }
}

/// A duplicate case's body: the other record's ID, and what to do (`action` is kept in the
/// body under `_action` and taken out before the call).
fn duplicate_body(o: &WebOfficer, v: &HashMap<String, String>, subject: &Subject) -> Result<Value, Vec<(String, String)>> {
    let other = v.get("other").map(|s| s.trim().to_ascii_uppercase()).unwrap_or_default();
    if anagrafe_domain::IdAnpr::parse(&other).is_err() || other == subject.id_anpr {
        return Err(vec![("other".to_owned(), o.ui.t("change-err-duplicate-other"))]);
    }
    let this = subject.id_anpr.clone();
    let (action, body) = match v.get("action").map(String::as_str).unwrap_or_default() {
        "report" => ("report", json!({ "persons": [this, other] })),
        "dismiss" => ("dismiss", json!({ "persons": [this, other] })),
        "keep-this" => ("resolve", json!({ "keep": this, "delete": other })),
        "keep-other" => ("resolve", json!({ "keep": other, "delete": this })),
        _ => return Err(vec![("action".to_owned(), o.ui.t("change-err-duplicate-action"))]),
    };
    let mut body = body;
    body["_action"] = json!(action);
    Ok(body)
}

/// The address abroad of the form's `abroad_*` fields (state by name or code, locality, street
/// address and postcode), the state's error noted.
fn abroad_address(o: &WebOfficer, v: &HashMap<String, String>, on: chrono::NaiveDate, errors: &mut Vec<(String, String)>) -> Value {
    let value_of = |k: &str| v.get(k).map(|s| s.trim()).unwrap_or_default();
    let state = match RefData::current().resolve(value_of("abroad_state"), on) {
        Ok(anagrafe_domain::Place::Stato(st)) => st.code.to_string(),
        _ => {
            errors.push(("abroad_state".to_owned(), o.ui.t("change-err-abroad-state")));
            String::new()
        }
    };
    let mut a = json!({ "state": state, "locality": value_of("abroad_locality") });
    for (field, key) in [("abroad_address", "address"), ("abroad_postcode", "postcode")] {
        if !value_of(field).is_empty() {
            a[key] = json!(value_of(field));
        }
    }
    a
}

/// Applies a change through the API's handler; the person's page then says it is recorded.
async fn submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    o: WebOfficer,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
    change: Change,
) -> PageResult {
    let id = id_path(&o, &id)?;
    let Ok(Form(pairs)) = form else {
        return Err(o.fail(ApiError::field("body", "is not the change form")));
    };
    let values: HashMap<String, String> = pairs.into_iter().collect();
    o.check_csrf(&headers, values.get("csrf").map(String::as_str).unwrap_or_default())?;
    let subject = subject(&state, &o, &id, change).await?;
    let mut body = match body(&o, change, &values, &subject) {
        Ok(b) => b,
        Err(errors) => return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &view(&o, &id, change, subject, &values, errors))),
    };
    body["client_op_id"] = json!(client_op_id(&values));
    // A duplicate case goes to one of three services; the record kept is where the page leads.
    let action = body.as_object_mut().and_then(|b| b.remove("_action")).and_then(|a| a.as_str().map(str::to_owned));
    let kept = body["keep"].as_str().map(str::to_owned).unwrap_or_else(|| id.clone());
    let target = match action.as_deref() {
        Some("resolve") => "/api/v1/duplicates/resolution".to_owned(),
        Some("dismiss") => "/api/v1/duplicates/dismissal".to_owned(),
        _ => change.api_path(&id),
    };
    let caller = o.caller("POST", &target, Some(&body))?;
    let path = Path(id.clone());
    let result = match change {
        Change::Duplicate => match action.as_deref() {
            Some("resolve") => crate::api::resolve_duplicate(State(state), caller).await,
            Some("dismiss") => crate::api::dismiss_duplicate(State(state), caller).await,
            _ => crate::api::report_duplicate(State(state), caller).await,
        },
        Change::Residence => crate::api::residence(State(state), path, caller).await,
        Change::CivilStatus => crate::api::civil_status(State(state), path, caller).await,
        Change::Generalita => crate::api::generalita(State(state), path, caller).await,
        Change::Household => crate::api::household(State(state), path, caller).await,
        Change::Adoption => crate::api::minor_adoption(State(state), path, caller).await,
        Change::Cancellation => crate::api::cancel(State(state), path, caller).await,
    };
    match result {
        // The adopted child's record has a new ID ANPR; the old one is no longer valid.
        Ok(r) if change == Change::Adoption => {
            let v = json_of(r).await.map_err(|e| o.fail(e))?;
            Ok(see_other(&format!("/ufficio/persone/{}?modificato={}", v["id_anpr"].as_str().unwrap_or(&id), change.segment())))
        }
        Ok(_) => Ok(see_other(&format!("/ufficio/persone/{kept}?modificato={}", change.segment()))),
        Err(e) => match refused_fields(e, |api| form_field(change, api)) {
            Ok((status, errors)) => Err(html(status, &view(&o, &id, change, subject, &values, errors))),
            Err(e) => Err(o.fail(e)),
        },
    }
}

/// The registration of a person who comes to live in the comune (REG-5, tab. 07): from abroad
/// (code 4), from a comune not yet served by the register (code 3), or for another reason
/// (code 9, described). A birth has its own form; a move from a comune already in the register
/// is a change of residence of the existing record.
fn registration_fields(o: &WebOfficer, aire: bool) -> Vec<Field> {
    use anagrafe_domain::decode::{MotivoIscrizione, MotivoIscrizioneAire};
    let t = |k: &str| o.ui.t(k);
    let reasons = if aire {
        MotivoIscrizioneAire::ALL
            .iter()
            .filter(|m| m.valid_until().is_none())
            .map(|m| Opt { value: m.code().to_owned(), label: format!("{} — {}", m.code(), m.description()) })
            .collect()
    } else {
        [MotivoIscrizione::ImmigrazioneDallEstero, MotivoIscrizione::Immigrazione, MotivoIscrizione::AltriMotivi]
            .iter()
            .map(|m| Opt { value: m.code().to_string(), label: format!("{} — {}", m.code(), m.description()) })
            .collect()
    };
    let sexes = vec![
        Opt { value: String::new(), label: "-".into() },
        Opt { value: "F".into(), label: t("sex-f") },
        Opt { value: "M".into(), label: t("sex-m") },
    ];
    let mut out = vec![
        Field::choice("reason", t("reg-reason"), reasons, "col-md-8").required(),
        Field::date("effective_date", t("change-effective-date")).required().help(t("reg-date-help")),
        Field::input("reason_description", t("change-cancel-description"), 256, "col-md-8").help(t("reg-description-help")),
        Field::input("origin", t("reg-origin"), 80, "col-md-6").help(t("reg-origin-help")),
        Field::input("surname", t("f-surname"), 150, "col-md-6").required(),
        Field::input("given", t("f-name"), 150, "col-md-6").required(),
        Field::choice("sex", t("f-sex"), sexes, "col-md-2").required(),
        Field::input("birth_date", t("f-birth-date"), 10, "col-md-4").required().help(t("office-search-date-help")),
        Field::input("birth_place", t("reg-birth-place"), 80, "col-md-6").required().help(t("reg-birth-place-help")),
        Field::input("birth_locality", t("reg-birth-locality"), 100, "col-md-6"),
        Field::input("citizenship", t("history-citizenship"), 80, "col-md-6").required().help(t("reg-citizenship-help")),
        Field::input("codice_fiscale", t("f-cf"), 16, "col-md-6").help(t("reg-cf-help")),
    ];
    // The civil status, the address (in Italy, or abroad for the AIRE) and the household as the
    // change forms ask them.
    out.extend(fields(o, Change::CivilStatus, false).into_iter().skip(1));
    if aire {
        let cancellation = fields(o, Change::Cancellation, false);
        let skip = cancellation.len() - 4;
        out.extend(cancellation.into_iter().skip(skip).map(|f| Field {
            required: f.name == "abroad_state" || f.name == "abroad_locality",
            help: None,
            label: if f.name == "abroad_state" { t("reg-abroad-state") } else { f.label.clone() },
            ..f
        }));
    } else {
        out.extend(fields(o, Change::Residence, false).into_iter().skip(1).take(4));
    }
    out.extend(fields(o, Change::Household, false).into_iter().skip(1));
    out
}

fn registration_view(o: &WebOfficer, aire: bool, values: &HashMap<String, String>, errors: Vec<(String, String)>) -> ChangePage {
    let title = if aire { "reg-aire-title" } else { "reg-title" };
    let c = o.chrome(title).crumb(title, None);
    let mut fields = registration_fields(o, aire);
    fill(&mut fields, values, &errors);
    ChangePage {
        lead: c.t1(if aire { "reg-aire-lead" } else { "reg-lead" }, "comune", &comune_name(&o.comune())),
        submit: c.t("reg-submit"),
        c,
        id_anpr: String::new(),
        action: if aire { "/ufficio/iscrizione-aire" } else { "/ufficio/iscrizione" }.into(),
        current: Vec::new(),
        csrf: o.s.0.session.csrf_token.clone(),
        op: form_op(values),
        fields,
        errors,
    }
}

fn registration_form(o: &WebOfficer, aire: bool) -> Response {
    let mut values = HashMap::new();
    let reason = if aire { "C01" } else { "4" };
    for (k, v) in [("reason", reason), ("household", "new"), ("relation", "3"), ("species", "VIA"), ("civil_status", "CelibeNubile")] {
        values.insert(k.to_owned(), v.to_owned());
    }
    if aire {
        values.insert("citizenship".to_owned(), o.ui.t("citizenship-italian"));
    }
    values.insert("effective_date".to_owned(), anagrafe_domain::ops::italian_today().to_string());
    html(StatusCode::OK, &registration_view(o, aire, &values, Vec::new()))
}

pub(in crate::web) async fn registration_page(o: WebOfficer) -> Response {
    registration_form(&o, false)
}

pub(in crate::web) async fn aire_registration_page(o: WebOfficer) -> Response {
    registration_form(&o, true)
}

/// A place by name or code as a birthplace: a comune, or a state with the locality abroad.
fn birth_place(raw: &str, locality: &str, on: chrono::NaiveDate) -> Option<Value> {
    match RefData::current().resolve(raw, on).ok()? {
        anagrafe_domain::Place::Comune(c) => Some(json!({ "kind": "comune", "code": c.belfiore.to_string() })),
        anagrafe_domain::Place::Stato(st) => {
            Some(json!({ "kind": "abroad", "state": st.code.to_string(), "locality": (!locality.is_empty()).then_some(locality) }))
        }
    }
}

/// The registration's body for the web service, or the form's own errors.
fn registration_body(o: &WebOfficer, aire: bool, v: &HashMap<String, String>) -> Result<Value, Vec<(String, String)>> {
    let t = |k: &str| o.ui.t(k);
    let value_of = |k: &str| v.get(k).map(|s| s.trim()).unwrap_or_default();
    let mut errors = Vec::new();
    // The date, the address and the household are read as the change of residence reads them
    // (below), which reports their errors.
    let on = value_of("effective_date").parse::<chrono::NaiveDate>().unwrap_or_else(|_| anagrafe_domain::ops::italian_today());
    for (field, key) in [("surname", "birth-err-surname"), ("given", "birth-err-given")] {
        if value_of(field).is_empty() {
            errors.push((field.to_owned(), t(key)));
        }
    }
    if !matches!(value_of("sex"), "M" | "F") {
        errors.push(("sex".to_owned(), t("birth-err-sex")));
    }
    let born = anagrafe_domain::PartialDate::parse(value_of("birth_date")).ok();
    if born.is_none() {
        errors.push(("birth_date".to_owned(), t("reg-err-birth-date")));
    }
    let place = birth_place(value_of("birth_place"), value_of("birth_locality"), born.map(|b| b.first_day()).unwrap_or(on));
    if place.is_none() {
        errors.push(("birth_place".to_owned(), t("reg-err-birth-place")));
    }
    let citizenship = match value_of("citizenship").to_lowercase().as_str() {
        "it" | "ita" | "italia" | "italiana" | "italian" | "italy" => Some(json!({ "kind": "italia" })),
        other => match RefData::current().resolve(other, on) {
            Ok(anagrafe_domain::Place::Stato(st)) => Some(json!({ "kind": "foreign", "state": st.code.to_string() })),
            _ => None,
        },
    };
    if citizenship.is_none() {
        errors.push(("citizenship".to_owned(), t("reg-err-citizenship")));
    }
    let origin = match value_of("origin") {
        "" => None,
        raw => match RefData::current().resolve(raw, on) {
            Ok(p) => Some(p.code().to_string()),
            Err(_) => {
                errors.push(("origin".to_owned(), t("reg-err-origin")));
                None
            }
        },
    };
    // The AIRE's record lives abroad: the date and household as a change of family reads them,
    // the address from the `abroad_*` fields, the comune's AIRE as the competent one.
    let mut b = match body(o, if aire { Change::Household } else { Change::Residence }, v, &Subject::none()) {
        Ok(b) => b,
        Err(mut e) => {
            errors.append(&mut e);
            Value::Null
        }
    };
    if aire {
        b["residence"] = json!({ "kind": "abroad", "address": abroad_address(o, v, on, &mut errors), "aire_comune": o.comune() });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let household = b["household"].take();
    let household = if household.is_null() { json!({ "kind": "new", "household": { "kind": "family" } }) } else { household };
    let mut r = json!({
        "reason": value_of("reason"),
        "effective_date": on.to_string(),
        "name": { "surname": value_of("surname"), "given": value_of("given") },
        "sex": value_of("sex"),
        "birth_date": value_of("birth_date"),
        "birth_place": place,
        "citizenships": [citizenship],
        "civil_status": value_of("civil_status"),
        "residence": b["residence"].take(),
        "household": household,
    });
    for key in ["reason_description", "codice_fiscale"] {
        if !value_of(key).is_empty() {
            r[key] = json!(value_of(key));
        }
    }
    if let Some(o) = origin {
        r["origin"] = json!(o);
    }
    Ok(r)
}

/// Which registration form field an API field path names.
fn registration_field(api: &str) -> &'static str {
    let api = api.trim_start_matches('.');
    match api {
        a if a.starts_with("name.given") => "given",
        a if a.starts_with("name") => "surname",
        a if a.starts_with("birth_place.locality") => "birth_locality",
        a if a.starts_with("residence.address.locality") => "abroad_locality",
        a if a.starts_with("residence.address") => "abroad_state",
        a if a.starts_with("citizenships") => "citizenship",
        a if a.starts_with("residence") || a.starts_with("household") => form_field(Change::Residence, a),
        a => [
            "reason_description",
            "reason",
            "effective_date",
            "origin",
            "sex",
            "birth_date",
            "birth_place",
            "codice_fiscale",
            "civil_status",
        ]
        .into_iter()
        .find(|n| a.starts_with(n))
        .unwrap_or(""),
    }
}

pub(in crate::web) async fn registration_submit(
    state: State<AppState>,
    headers: HeaderMap,
    o: WebOfficer,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    register(state, headers, o, form, false).await
}

pub(in crate::web) async fn aire_registration_submit(
    state: State<AppState>,
    headers: HeaderMap,
    o: WebOfficer,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    register(state, headers, o, form, true).await
}

async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    o: WebOfficer,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
    aire: bool,
) -> PageResult {
    let Ok(Form(pairs)) = form else {
        return Err(o.fail(ApiError::field("body", "is not the registration form")));
    };
    let values: HashMap<String, String> = pairs.into_iter().collect();
    o.check_csrf(&headers, values.get("csrf").map(String::as_str).unwrap_or_default())?;
    let mut body = match registration_body(&o, aire, &values) {
        Ok(b) => b,
        Err(errors) => return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &registration_view(&o, aire, &values, errors))),
    };
    body["client_op_id"] = json!(client_op_id(&values));
    let caller = o.caller("POST", "/api/v1/persons", Some(&body))?;
    match crate::api::register(State(state), caller).await {
        Ok(r) => {
            let v = json_of(r).await.map_err(|e| o.fail(e))?;
            Ok(see_other(&format!("/ufficio/persone/{}?modificato=iscrizione", v["id_anpr"].as_str().unwrap_or_default())))
        }
        Err(e) => match refused_fields(e, registration_field) {
            Ok((status, errors)) => Err(html(status, &registration_view(&o, aire, &values, errors))),
            Err(e) => Err(o.fail(e)),
        },
    }
}

/// An API refusal as the form's errors (field, reason), with its status; an error that names
/// no field and is no conflict is not the form's to show.
fn refused_fields(e: ApiError, field_of: impl Fn(&str) -> &'static str) -> Result<(StatusCode, Vec<(String, String)>), ApiError> {
    let problems = e.field_problems();
    if problems.is_empty() && !matches!(e, ApiError::Conflict(_) | ApiError::ConflictField { .. }) {
        return Err(e);
    }
    let errors = if problems.is_empty() {
        vec![(String::new(), e.detail())]
    } else {
        problems.into_iter().map(|p| (field_of(&p.field).to_owned(), format!("{}: {}", p.field, p.reason))).collect()
    };
    Ok((e.status(), errors))
}

/// The form's operation id as the API's `client_op_id` (a new one when the form has none).
fn client_op_id(values: &HashMap<String, String>) -> String {
    let op: String = values
        .get("op")
        .map(String::as_str)
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    if op.is_empty() { crate::auth::random_token() } else { op }
}

/// The operation id the page carries: the one sent back, or a new one.
fn form_op(values: &HashMap<String, String>) -> String {
    values.get("op").filter(|v| !v.is_empty() && v.len() <= 64).cloned().unwrap_or_else(crate::auth::random_token)
}

/// Puts the values sent back, and each field's error, into the fields.
fn fill(fields: &mut [Field], values: &HashMap<String, String>, errors: &[(String, String)]) {
    for f in fields {
        if let Some(v) = values.get(f.name) {
            f.value = v.chars().take(300).collect();
        }
        f.error = errors.iter().find(|(name, _)| name == f.name).map(|(_, r)| r.clone());
    }
}

/// The page and submission handlers of one change (the router names each route's handlers,
/// so that the authorisation matrix test can read them from the source).
macro_rules! handlers {
    ($page:ident, $submit:ident, $change:expr) => {
        pub(in crate::web) async fn $page(
            state: State<AppState>,
            id: Path<String>,
            o: WebOfficer,
            q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
        ) -> PageResult {
            page(state, id, o, $change, q.ok().and_then(|q| q.0.get("altro").cloned())).await
        }

        pub(in crate::web) async fn $submit(
            state: State<AppState>,
            id: Path<String>,
            headers: HeaderMap,
            o: WebOfficer,
            form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
        ) -> PageResult {
            submit(state, id, headers, o, form, $change).await
        }
    };
}

handlers!(residence_page, residence_submit, Change::Residence);
handlers!(civil_status_page, civil_status_submit, Change::CivilStatus);
handlers!(generalita_page, generalita_submit, Change::Generalita);
handlers!(household_page, household_submit, Change::Household);
handlers!(adoption_page, adoption_submit, Change::Adoption);
handlers!(duplicate_page, duplicate_submit, Change::Duplicate);
handlers!(cancellation_page, cancellation_submit, Change::Cancellation);

/// A household's members, with the relation of each to the head (tab. 05, or tab. 06 for a
/// cohabitation), and the form that changes them (a new head, relations corrected): REG-5.
pub(in crate::web) mod family {
    use super::*;

    struct Member {
        id_anpr: String,
        name: String,
        relation: String,
        options: Vec<Opt>,
    }

    #[derive(Template)]
    #[template(path = "office/family.html")]
    struct FamilyPage {
        c: Chrome,
        family_id: i64,
        kind: String,
        comune: String,
        members: Vec<Member>,
        csrf: String,
        op: String,
        date: String,
        errors: Vec<(String, String)>,
        done: bool,
    }

    fn family_param(o: &WebOfficer, raw: &str) -> Result<i64, Response> {
        raw.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| o.fail(ApiError::NotFound("no such household".into())))
    }

    async fn view(
        state: &AppState,
        o: &WebOfficer,
        family_id: i64,
        values: &HashMap<String, String>,
        errors: Vec<(String, String)>,
    ) -> Result<FamilyPage, Response> {
        let target = format!("/api/v1/families/{family_id}");
        let uri: Uri = target.parse().map_err(|_| o.fail(ApiError::NotFound("no such household".into())))?;
        let r = crate::api::family(State(state.clone()), Path(family_id.to_string()), uri, o.caller("GET", &target, None)?)
            .await
            .map_err(|e| o.fail(e))?;
        let v = json_of(r).await.map_err(|e| o.fail(e))?;
        let cohabitation = v["kind"]["kind"].as_str() == Some("cohabitation");
        let options: Vec<Opt> = if cohabitation {
            anagrafe_domain::decode::LegameConvivenza::ALL
                .iter()
                .filter(|l| l.valid_until().is_none())
                .map(|l| Opt { value: l.code().to_string(), label: l.description().to_owned() })
                .collect()
        } else {
            anagrafe_domain::decode::RelazioneParentela::ALL
                .iter()
                .filter(|r| r.valid_until().is_none())
                .map(|r| Opt { value: r.code().to_string(), label: r.description().to_owned() })
                .collect()
        };
        let mut members = Vec::new();
        for m in v["members"].as_array().into_iter().flatten() {
            let Some(id) = m["id_anpr"].as_str() else { continue };
            let target = format!("/api/v1/persons/{id}");
            let uri: Uri = target.parse().map_err(|_| o.fail(ApiError::NotFound("no such ID ANPR".into())))?;
            let name = match crate::api::person(State(state.clone()), Path(id.to_owned()), uri, o.caller("GET", &target, None)?).await {
                Ok(r) => found(&json_of(r).await.map_err(|e| o.fail(e))?).name,
                Err(_) => "-".to_owned(),
            };
            let relation = values.get(&format!("rel-{id}")).cloned().unwrap_or_else(|| m["relation"].to_string());
            members.push(Member { id_anpr: id.to_owned(), name, relation, options: options.clone() });
        }
        let c = o.chrome("family-title").crumb("office-search-title", Some("/ufficio/persone")).crumb("family-title", None);
        Ok(FamilyPage {
            kind: c.t(if cohabitation { "family-kind-cohabitation" } else { "family-kind-family" }),
            comune: v["comune"].as_str().map(comune_name).unwrap_or_default(),
            c,
            family_id,
            members,
            csrf: o.s.0.session.csrf_token.clone(),
            op: form_op(values),
            date: values.get("effective_date").cloned().unwrap_or_else(|| anagrafe_domain::ops::italian_today().to_string()),
            errors,
            done: false,
        })
    }

    pub(in crate::web) async fn page(
        State(state): State<AppState>,
        Path(raw): Path<String>,
        o: WebOfficer,
        q: Result<axum::extract::Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
    ) -> PageResult {
        let family_id = family_param(&o, &raw)?;
        let mut page = view(&state, &o, family_id, &HashMap::new(), Vec::new()).await?;
        page.done = q.map(|q| q.0.iter().any(|(k, _)| k == "modificato")).unwrap_or(false);
        Ok(html(StatusCode::OK, &page))
    }

    pub(in crate::web) async fn submit(
        State(state): State<AppState>,
        Path(raw): Path<String>,
        headers: HeaderMap,
        o: WebOfficer,
        form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
    ) -> PageResult {
        let family_id = family_param(&o, &raw)?;
        let Ok(Form(pairs)) = form else {
            return Err(o.fail(ApiError::field("body", "is not the family form")));
        };
        let values: HashMap<String, String> = pairs.into_iter().collect();
        o.check_csrf(&headers, values.get("csrf").map(String::as_str).unwrap_or_default())?;
        let mut members = Vec::new();
        let mut errors = Vec::new();
        for (k, v) in &values {
            if let Some(id) = k.strip_prefix("rel-") {
                match v.trim().parse::<u16>() {
                    Ok(rel) => members.push((id.to_owned(), rel)),
                    Err(_) => errors.push((k.clone(), o.ui.t("family-err-relation"))),
                }
            }
        }
        let Ok(date) = values.get("effective_date").map(|d| d.trim()).unwrap_or_default().parse::<chrono::NaiveDate>() else {
            errors.push(("effective_date".to_owned(), o.ui.t("change-err-date")));
            let page = view(&state, &o, family_id, &values, errors).await?;
            return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        };
        if !errors.is_empty() {
            let page = view(&state, &o, family_id, &values, errors).await?;
            return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
        members.sort();
        let body = json!({
            "client_op_id": client_op_id(&values),
            "effective_date": date.to_string(),
            "members": members.iter().map(|(id, rel)| json!({ "id_anpr": id, "relation": rel })).collect::<Vec<_>>(),
        });
        let target = format!("/api/v1/families/{family_id}/relations");
        let caller = o.caller("POST", &target, Some(&body))?;
        match crate::api::relations(State(state.clone()), Path(family_id.to_string()), caller).await {
            Ok(_) => Ok(see_other(&format!("/ufficio/famiglie/{family_id}?modificato=1"))),
            Err(e) => {
                // The members' errors name their place in the list: the summary says which.
                let field_of = |api: &str| if api.starts_with("effective_date") { "effective_date" } else { "" };
                match refused_fields(e, field_of) {
                    Ok((status, errors)) => {
                        let page = view(&state, &o, family_id, &values, errors).await?;
                        Err(html(status, &page))
                    }
                    Err(e) => Err(o.fail(e)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_fields_land_beside_their_form_field() {
        assert_eq!(form_field(Change::Residence, "residence.toponym"), "toponym");
        assert_eq!(form_field(Change::Residence, ".residence.cap"), "cap");
        assert_eq!(form_field(Change::Residence, "household"), "household");
        assert_eq!(form_field(Change::Residence, "household.family_id"), "family_id");
        assert_eq!(form_field(Change::Cancellation, "death.place"), "death_place");
        assert_eq!(form_field(Change::Cancellation, "death"), "effective_date");
        assert_eq!(form_field(Change::Cancellation, "reason_description"), "reason_description");
        assert_eq!(form_field(Change::CivilStatus, "civil_status"), "civil_status");
        assert_eq!(form_field(Change::CivilStatus, "person"), "");
        assert_eq!(form_field(Change::Generalita, "name.given"), "given");
        assert_eq!(form_field(Change::Generalita, "name"), "surname");
        assert_eq!(form_field(Change::Generalita, "birth_place.code"), "birth_place");
        assert_eq!(form_field(Change::Generalita, "case"), "case");
        assert_eq!(form_field(Change::Cancellation, "abroad.locality"), "abroad_locality");
        assert_eq!(form_field(Change::Cancellation, "abroad.state"), "abroad_state");
        assert_eq!(form_field(Change::Household, "household.family_id"), "family_id");
    }

    #[test]
    fn every_civil_status_has_a_wire_name() {
        for s in StatoCivile::ALL {
            assert!(serde_json::to_value(s).unwrap().is_string(), "{s:?}");
        }
    }
}
