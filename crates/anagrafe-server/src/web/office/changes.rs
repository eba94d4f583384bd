//! The registry office's change forms (REG-5): change of address, change of personal data
//! (generalità, IDN-6 cases 1–3), change of civil status, change of household, and cancellation
//! (death, emigration abroad and the other reasons of tab. 15 / tab. 28), each on a page of its own
//! with the person's current data, every field's error beside it and a summary on top.
//!
//! A form is data ([`Field`]s) drawn by one template; each change says which fields it has,
//! how they become the domain's operation (each unreadable field refused beside it), and which
//! paths of the operation each field feeds, so that the register's refusals land beside their
//! field. The write is the registry service's, with the officer as principal: validation,
//! competence, idempotency (the form's operation id is the client's operation id) and the trace
//! are the service's, as for the comuni's web services.

use super::super::form::{Field, Opt};
use super::super::{Chrome, PageResult, Ui, html, see_other};
use super::{WebOfficer, comune_name, id_path};
use crate::{ApiError, AppState};
use anagrafe_domain::decode::{DecodeTable, MotivoCancellazione, MotivoCancellazioneAire, StatoCivile, TipoSoggiorno};
use anagrafe_domain::documents::{self, DocumentEnd, DocumentEndReason, DocumentIssue, KIND_NAMES};
use anagrafe_domain::ops::{
    Cancellation, CivilStatusChange, GeneralitaCase, GeneralitaChange, HouseholdChoice, HouseholdMove, MemberRelation, MinorAdoption,
    Operation, Registration, RelationsChange, ResidenceChange,
};
use anagrafe_domain::text::{DocumentNumber, Issuer};
use anagrafe_domain::text::{ForeignLocality, Line, Species, Toponym};
use anagrafe_domain::{
    Belfiore, BirthPlace, CodiceFiscale, Country, Death, ForeignAddress, Household, HouseholdKind, IdAnpr, IdentityDocument,
    ItalianAddress, PartialDate, PersonName, PersonRecord, Place, RefData, RegisterStatus, Residence, Sex,
};
use anagrafe_service::certificates::content;
use anagrafe_service::{ClientOpId, ServiceError};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
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
    /// An identity document issued, or renewed (REG-1).
    Document,
    /// An identity document that ended before its expiry (lost, stolen, damaged, withdrawn).
    DocumentEnd,
}

impl Change {
    /// The change whose page has this path segment.
    pub(super) fn from_segment(segment: &str) -> Option<Self> {
        [
            Self::Residence,
            Self::CivilStatus,
            Self::Generalita,
            Self::Household,
            Self::Adoption,
            Self::Duplicate,
            Self::Cancellation,
            Self::Document,
            Self::DocumentEnd,
        ]
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
            Self::Document => "documento",
            Self::DocumentEnd => "cessazione-documento",
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
            Self::Document => "change-document-title",
            Self::DocumentEnd => "change-document-end-title",
        }
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
    /// The other members of the household, each a box to tick when they move too (a change of
    /// residence only).
    movers: Vec<MoverBox>,
    /// Errors for the summary: the form field (empty when none fits) and the reason.
    errors: Vec<(String, String)>,
    submit: String,
}

/// A member of the person's household on the residence form: ticked, they move too.
struct MoverBox {
    /// The box's name: `with-` and the member's ID ANPR.
    name: String,
    /// Name, relation and age.
    label: String,
    checked: bool,
}

/// What the form shows of the person: name and the data the change is about.
struct Subject {
    name: String,
    current: Vec<(String, String)>,
    aire: bool,
    /// The current personal data, as the generalità form starts from them.
    surname: String,
    given: String,
    /// The record's ID ANPR (`None`: a registration, no record yet).
    id_anpr: Option<IdAnpr>,
    /// The other members of the person's household and how each is shown (a change of
    /// residence only).
    household: Vec<(IdAnpr, String)>,
    /// The person's documents in force today: number and how each is shown.
    documents: Vec<(String, String)>,
}

async fn subject(state: &AppState, o: &WebOfficer, id: &str, change: Change) -> Result<Subject, Response> {
    let id_anpr = IdAnpr::parse(id).map_err(|_| o.fail(ApiError::NotFound("no such ID ANPR".into())))?;
    let read = state.registry().person(&o.principal()?, &id_anpr, None).await.map_err(|e| o.fail(e.into()))?;
    let rec = &read.view.record;
    let g = &rec.generalita;
    let t = |k: &str| o.ui.t(k);
    let name = full_name(rec);
    let cf = g.codice_fiscale.map(|c| c.to_string()).unwrap_or_else(|| "-".to_owned());
    let mut current = vec![(t("f-name-full"), name.clone()), (t("office-register-status"), status_label(o, rec.status))];
    match change {
        Change::Residence | Change::Cancellation => current.push((t("f-residence"), address(&rec.residence))),
        Change::CivilStatus => current.push((t("f-civil-status"), o.ui.decode(rec.civil_status))),
        Change::Generalita => {
            current.push((t("f-sex"), g.sex.as_str().to_owned()));
            current.push((t("f-birth-date"), g.birth_date.to_string()));
            current.push((t("f-cf"), cf));
        }
        Change::Adoption | Change::Duplicate => {
            current.push((t("f-birth-date"), g.birth_date.to_string()));
            current.push((t("f-cf"), cf));
        }
        Change::Household => {
            let family = rec.household.map(|h| family_of(&h).to_string()).unwrap_or_else(|| "-".into());
            current.push((t("office-household"), family));
        }
        Change::Document | Change::DocumentEnd => {
            current.push((t("f-citizenship"), content::citizenships(&RefData::current(), &rec.citizenships, state.clock.today())));
            if rec.documents.is_empty() {
                current.push((t("f-document"), t("change-document-none")));
            }
        }
    }
    let today = state.clock.today();
    let documents: Vec<(String, String)> = rec
        .documents
        .iter()
        .filter(|d| d.expires_on.is_none_or(|e| e > today))
        .map(|d| (d.number.to_string(), super::super::record::document_line(o.ui.lang, d)))
        .collect();
    if matches!(change, Change::Document | Change::DocumentEnd) {
        current.extend(documents.iter().map(|(_, line)| (t("f-document"), line.clone())));
    }
    let mut household = Vec::new();
    if let (Change::Residence, Some(h)) = (change, &rec.household) {
        let who = o.principal()?;
        let registry = state.registry();
        let family = registry.family(&who, family_of(h), None).await.map_err(|e| o.fail(e.into()))?;
        let today = state.clock.today();
        for m in &family.members {
            let Some(mid) = m.id_anpr.filter(|m| *m != id_anpr) else { continue };
            let Ok(read) = registry.person(&who, &mid, None).await else { continue };
            let r = &read.view.record;
            let age = today.years_since(r.generalita.birth_date.first_day()).unwrap_or(0).to_string();
            let relation = match r.household {
                Some(Household::Family { relation, .. }) => o.ui.decode(relation),
                Some(Household::Cohabitation { bond, .. }) => o.ui.decode(bond),
                None => String::new(),
            };
            let label =
                super::super::i18n::t_args(o.ui.lang, "change-mover", &[("name", &full_name(r)), ("relation", &relation), ("age", &age)]);
            household.push((mid, label));
        }
    }
    Ok(Subject {
        name,
        current,
        household,
        documents,
        aire: rec.status == RegisterStatus::Aire,
        surname: g.name.surname().unwrap_or_default().to_owned(),
        given: g.name.given().unwrap_or_default().to_owned(),
        id_anpr: Some(id_anpr),
    })
}

/// The household's id of a person's household.
pub(super) fn family_of(h: &Household) -> i64 {
    match h {
        Household::Family { family_id, .. } | Household::Cohabitation { family_id, .. } => *family_id,
    }
}

/// Surname and name, as one line.
pub(super) fn full_name(rec: &PersonRecord) -> String {
    let n = &rec.generalita.name;
    [n.surname(), n.given()].into_iter().flatten().collect::<Vec<_>>().join(" ")
}

/// The register status in words.
pub(super) fn status_label(o: &WebOfficer, status: RegisterStatus) -> String {
    let name = match status {
        RegisterStatus::Resident => "resident",
        RegisterStatus::Aire => "aire",
        RegisterStatus::Cancelled => "cancelled",
        RegisterStatus::Deceased => "deceased",
    };
    let key = format!("status-{name}");
    if super::super::i18n::has(o.ui.lang, &key) { o.ui.t(&key) } else { name.to_owned() }
}

/// An address, as one line.
pub(super) fn address(r: &Residence) -> String {
    match r {
        Residence::Italy(a) => {
            let street = [Some(a.species.as_str()), Some(a.toponym.as_str()), a.civic.as_deref()]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>();
            let place = [a.cap.map(|c| c.to_string()).unwrap_or_default(), comune_name(a.comune.as_str())]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>();
            format!("{} — {}", street.join(" "), place.join(" "))
        }
        Residence::Abroad { address: a, .. } => {
            let state = RefData::current()
                .resolve(a.state.as_str(), anagrafe_domain::ops::italian_today())
                .map(|p| p.name().to_owned())
                .unwrap_or_else(|_| a.state.to_string());
            [a.address.as_ref().map(|l| l.to_string()), Some(a.locality.to_string()), Some(state)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}
fn relation_options(ui: &Ui) -> Vec<Opt> {
    super::relations(ui).into_iter().map(|r| Opt { value: r.code.to_string(), label: r.label }).collect()
}

/// A change's fields; `held` are the person's documents in force (number, how shown).
fn fields(o: &WebOfficer, change: Change, aire: bool, held: &[(String, String)]) -> Vec<Field> {
    let t = |k: &str| o.ui.t(k);
    let held = || held.iter().map(|(n, line)| Opt { value: n.clone(), label: line.clone() });
    match change {
        Change::Document => {
            let kinds =
                KIND_NAMES.iter().map(|k| Opt { value: (*k).to_owned(), label: t(&format!("doc-kind-{}", k.replace('_', "-"))) }).collect();
            let titles = std::iter::once(Opt { value: String::new(), label: t("change-document-permit-none") })
                .chain(
                    TipoSoggiorno::ALL
                        .iter()
                        .filter(|k| !matches!(k, TipoSoggiorno::SenzaPermesso | TipoSoggiorno::NonConosciutoNonFornito))
                        .map(|k| Opt { value: k.code().to_string(), label: o.ui.decode(*k) }),
                )
                .collect();
            let renews = std::iter::once(Opt { value: String::new(), label: t("change-document-renews-none") }).chain(held()).collect();
            vec![
                Field::choice("kind", t("change-document-kind"), kinds, "col-md-6").required(),
                Field::choice("permit_kind", t("change-document-permit"), titles, "col-md-6").help(t("change-document-permit-help")),
                Field::input("number", t("change-document-number"), DocumentNumber::MAX as u16, "col-md-4")
                    .required()
                    .help(t("change-document-number-help")),
                Field::date("issued_on", t("change-document-issued")).required(),
                Field::date("expires_on", t("change-document-expires")).help(t("change-document-expires-help")),
                Field::input("issuer", t("change-document-issuer"), Issuer::MAX as u16, "col-md-8"),
                Field::choice("renews", t("change-document-renews"), renews, "col-md-12").help(t("change-document-renews-help")),
            ]
        }
        Change::DocumentEnd => vec![
            Field::choice("number", t("change-document-which"), held().collect(), "col-md-12").required(),
            Field::date("ended_on", t("change-document-ended")).required().help(t("change-document-ended-help")),
            Field::choice(
                "reason",
                t("change-document-end-reason"),
                DocumentEndReason::ALL
                    .iter()
                    .filter(|r| **r != DocumentEndReason::Renewed)
                    .map(|r| Opt { value: r.as_str().to_owned(), label: t(&format!("doc-end-{}", r.as_str())) })
                    .collect(),
                "col-md-6",
            )
            .required(),
        ],
        Change::Residence => vec![
            Field::date("effective_date", t("change-effective-date")).required().help(t("change-residence-date-help")),
            Field::input("species", t("birth-species"), Species::MAX as u16, "col-md-3"),
            Field::input("toponym", t("birth-toponym"), Toponym::MAX as u16, "col-md-5").required(),
            Field::input("civic", t("birth-civic"), anagrafe_domain::text::Civic::MAX as u16, "col-md-2"),
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
            Field::input("family_id", t("birth-family-id"), 18, "col-md-6"),
            Field::choice("relation", t("f-relation"), relation_options(&o.ui), "col-md-3"),
        ],
        Change::CivilStatus => vec![
            Field::date("effective_date", t("change-effective-date")).required(),
            Field::choice(
                "civil_status",
                t("f-civil-status"),
                StatoCivile::ALL
                    .iter()
                    .filter(|s| s.valid_until().is_none())
                    .map(|s| Opt { value: s.code().to_string(), label: o.ui.decode(*s) })
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
            Field::input("family_id", t("change-adoption-family"), 18, "col-md-6").required(),
            Field::choice("relation", t("f-relation"), relation_options(&o.ui), "col-md-4"),
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
            Field::input("family_id", t("birth-family-id"), 18, "col-md-6"),
            Field::choice("relation", t("f-relation"), relation_options(&o.ui), "col-md-3"),
        ],
        Change::Cancellation => {
            let reasons: Vec<Opt> = if aire {
                MotivoCancellazioneAire::ALL
                    .iter()
                    .filter(|m| m.valid_until().is_none() && **m != MotivoCancellazioneAire::DoppiaIscrizione)
                    .map(|m| Opt { value: m.code().to_string(), label: format!("{} — {}", m.code(), o.ui.decode(*m)) })
                    .collect()
            } else {
                // Duplicates are resolved as duplicates (IDN-6 case 5), not cancelled here.
                MotivoCancellazione::ALL
                    .iter()
                    .filter(|m| m.valid_until().is_none() && **m != MotivoCancellazione::DoppiaIscrizione)
                    .map(|m| Opt { value: m.code().to_string(), label: format!("{} — {}", m.code(), o.ui.decode(*m)) })
                    .collect()
            };
            vec![
                Field::choice("reason", t("change-cancel-reason"), reasons, "col-md-8").required(),
                Field::date("effective_date", t("change-effective-date")).required().help(t("change-cancel-date-help")),
                Field::input(
                    "reason_description",
                    t("change-cancel-description"),
                    anagrafe_domain::text::Description::MAX as u16,
                    "col-md-8",
                )
                .help(t("change-cancel-description-help")),
                Field::input("death_place", t("change-death-place"), 80, "col-md-6").help(t("change-death-place-help")),
                Field::input("abroad_state", t("change-abroad-state"), 80, "col-md-6").help(t("change-abroad-help")),
                Field::input("abroad_locality", t("change-abroad-locality"), ForeignLocality::MAX as u16, "col-md-6"),
                Field::input("abroad_address", t("change-abroad-address"), anagrafe_domain::text::ForeignStreet::MAX as u16, "col-md-8"),
                Field::input(
                    "abroad_postcode",
                    t("change-abroad-postcode"),
                    anagrafe_domain::text::ForeignPostcode::MAX as u16,
                    "col-md-4",
                ),
            ]
        }
    }
}

/// Where the register's error about a field of the operation is shown on a form: beside the
/// form field that feeds the longest matching path of the operation (`""`: the summary only).
/// Each form declares, as data, which paths of the operation its fields feed.
pub(super) fn error_field(feeds: &[(&'static str, &'static str)], path: &str) -> &'static str {
    let path = path.trim_start_matches('.');
    feeds
        .iter()
        .filter(|(prefix, _)| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '['])))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, field)| *field)
        .unwrap_or("")
}

/// The paths of a change's operation that each of its form fields feeds.
fn feeds(change: Change) -> &'static [(&'static str, &'static str)] {
    match change {
        Change::Residence => &[
            ("effective_date", "effective_date"),
            ("residence", "toponym"),
            ("residence.species", "species"),
            ("residence.toponym", "toponym"),
            ("residence.civic", "civic"),
            ("residence.cap", "cap"),
            ("household", "household"),
            ("household.family_id", "family_id"),
            ("household.relation", "relation"),
            ("members", "movers"),
        ],
        Change::CivilStatus => &[("effective_date", "effective_date"), ("civil_status", "civil_status")],
        Change::Generalita => &[
            ("effective_date", "effective_date"),
            ("case", "case"),
            ("name", "surname"),
            ("name.surname", "surname"),
            ("name.given", "given"),
            ("sex", "sex"),
            ("birth_date", "birth_date"),
            ("birth_place", "birth_place"),
            ("codice_fiscale", "codice_fiscale"),
        ],
        Change::Household => &[("effective_date", "effective_date"), ("household", "family_id")],
        Change::Adoption => &[
            ("effective_date", "effective_date"),
            ("name", "surname"),
            ("name.surname", "surname"),
            ("name.given", "given"),
            ("family_id", "family_id"),
            ("relation", "relation"),
        ],
        Change::Duplicate => &[("persons", "other"), ("keep", "other"), ("delete", "other")],
        Change::Document => &[
            ("kind", "kind"),
            ("permit_kind", "permit_kind"),
            ("number", "number"),
            ("issued_on", "issued_on"),
            ("expires_on", "expires_on"),
            ("issuer", "issuer"),
            ("renews", "renews"),
        ],
        Change::DocumentEnd => &[("number", "number"), ("ended_on", "ended_on"), ("reason", "reason")],
        Change::Cancellation => &[
            ("effective_date", "effective_date"),
            ("reason", "reason"),
            ("reason_description", "reason_description"),
            ("death", "effective_date"),
            ("death.place", "death_place"),
            ("abroad", "abroad_state"),
            ("abroad.state", "abroad_state"),
            ("abroad.locality", "abroad_locality"),
            ("abroad.address", "abroad_address"),
            ("abroad.postcode", "abroad_postcode"),
        ],
    }
}

/// The paths of a registration that each field of the registration forms feeds.
const REGISTRATION_FEEDS: &[(&str, &str)] = &[
    ("reason", "reason"),
    ("reason_description", "reason_description"),
    ("effective_date", "effective_date"),
    ("origin", "origin"),
    ("name", "surname"),
    ("name.surname", "surname"),
    ("name.given", "given"),
    ("sex", "sex"),
    ("birth_date", "birth_date"),
    ("birth_place", "birth_place"),
    ("birth_place.locality", "birth_locality"),
    ("codice_fiscale", "codice_fiscale"),
    ("citizenships", "citizenship"),
    ("civil_status", "civil_status"),
    ("residence", "toponym"),
    ("residence.species", "species"),
    ("residence.toponym", "toponym"),
    ("residence.civic", "civic"),
    ("residence.cap", "cap"),
    ("residence.address", "abroad_state"),
    ("residence.address.locality", "abroad_locality"),
    ("residence.address.address", "abroad_address"),
    ("residence.address.postcode", "abroad_postcode"),
    ("household", "family_id"),
];
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
    let mut fields = fields(o, change, subject.aire, &subject.documents);
    let errors = fill(&mut fields, values, errors);
    let op = form_op(values);
    let movers = subject
        .household
        .iter()
        .map(|(id, label)| {
            let name = format!("with-{id}");
            MoverBox { checked: values.get(&name).is_some_and(|v| v == "si"), name, label: label.clone() }
        })
        .collect();
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
        movers,
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
    // The whole family moves unless the officer says who stays.
    for (id, _) in &subject.household {
        values.insert(format!("with-{id}"), "si".to_owned());
    }
    values.insert("effective_date".to_owned(), state.clock.today().to_string());
    if let Some(other) = other.filter(|_| change == Change::Duplicate) {
        values.insert("other".to_owned(), other.chars().filter(char::is_ascii_alphanumeric).take(9).collect());
    }
    Ok(html(StatusCode::OK, &view(&o, &id, change, subject, &values, Vec::new())))
}

/// A form's values, read one field at a time; each refusal is noted beside its field with the
/// page's own words, so one submission shows every error at once.
struct FormReader<'a> {
    o: &'a WebOfficer,
    values: &'a HashMap<String, String>,
    errors: Vec<(String, String)>,
}

impl<'a> FormReader<'a> {
    fn new(o: &'a WebOfficer, values: &'a HashMap<String, String>) -> Self {
        Self { o, values, errors: Vec::new() }
    }

    /// The field's value, trimmed (empty when absent).
    fn get(&self, field: &str) -> &'a str {
        self.values.get(field).map(|s| s.trim()).unwrap_or_default()
    }

    /// The field's value, `None` when empty.
    fn optional(&self, field: &str) -> Option<String> {
        Some(self.get(field)).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    /// A line of free text of at most `N` characters: `None` when empty, and when refused (the
    /// refusal noted beside the field).
    fn line<const N: usize, const S: u8>(&mut self, field: &str) -> Option<Line<N, S>> {
        Line::<N, S>::optional(Some(self.get(field))).unwrap_or_else(|e| {
            self.errors.push((field.to_owned(), self.o.ui.text_error(e)));
            None
        })
    }

    /// Notes the error of `field` in the words of message `key`.
    fn refuse(&mut self, field: &str, key: &str) {
        self.errors.push((field.to_owned(), self.o.ui.t(key)));
    }

    /// `parsed`, or the error of `field` noted.
    fn need<T>(&mut self, field: &str, key: &str, parsed: Option<T>) -> Option<T> {
        if parsed.is_none() {
            self.refuse(field, key);
        }
        parsed
    }

    /// A date (`YYYY-MM-DD`).
    fn date(&mut self, field: &str, key: &str) -> Option<NaiveDate> {
        let d = self.get(field).parse::<NaiveDate>().ok();
        self.need(field, key, d)
    }

    /// A name from the `surname` and `given` fields (both optional when `optional`).
    fn name(&mut self, required: bool) -> Option<PersonName> {
        let (surname, given) = (self.get("surname"), self.get("given"));
        if required {
            for (field, key, v) in [("surname", "birth-err-surname", surname), ("given", "birth-err-given", given)] {
                if v.is_empty() {
                    self.refuse(field, key);
                }
            }
            if surname.is_empty() || given.is_empty() {
                return None;
            }
        }
        let part = |v: &'a str| Some(v).filter(|v| !v.is_empty());
        match PersonName::new(part(surname), part(given)) {
            Ok(n) => Some(n),
            Err(e) => {
                let field = if e.field == "name" { "given" } else { "surname" };
                self.refuse(field, "change-err-name");
                None
            }
        }
    }

    /// The household chosen: a new family, or an existing one with the relation to its head;
    /// `None` when the person stays where they are (or the choice has an error, noted).
    fn household(&mut self) -> Option<HouseholdChoice> {
        match self.get("household") {
            "new" => Some(HouseholdChoice::New { household: HouseholdKind::Family, name: None }),
            "join" => match (self.get("family_id").parse::<i64>(), self.get("relation").parse::<u16>()) {
                (Ok(family_id), Ok(relation)) if family_id > 0 => Some(HouseholdChoice::Join { family_id, relation }),
                _ => {
                    self.refuse("family_id", "birth-err-family");
                    None
                }
            },
            _ => None,
        }
    }

    /// An address in the officer's comune from the `species`, `toponym`, `civic` and `cap`
    /// fields.
    fn italian_address(&mut self, comune: Belfiore) -> Option<Residence> {
        let toponym: Option<Toponym> = self.line("toponym");
        if self.get("toponym").is_empty() {
            self.refuse("toponym", "birth-err-toponym");
        }
        let species: Option<Species> = self.line("species");
        if self.get("species").is_empty() {
            self.refuse("species", "err-species");
        }
        let civic = self.line("civic");
        let cap = match self.get("cap") {
            "" => None,
            raw => {
                let cap = raw.parse::<anagrafe_domain::Cap>().ok();
                Some(self.need("cap", "change-err-cap", cap)?)
            }
        };
        Some(Residence::Italy(ItalianAddress { comune, cap, species: species?, toponym: toponym?, civic, internal: None, locality: None }))
    }

    /// The address abroad of the `abroad_*` fields (state by name or code, locality, street
    /// address and postcode).
    fn foreign_address(&mut self, on: NaiveDate) -> Option<ForeignAddress> {
        let state = match RefData::current().resolve(self.get("abroad_state"), on) {
            Ok(Place::Stato(st)) => Some(st.code),
            _ => None,
        };
        let locality = self.line("abroad_locality");
        if self.get("abroad_locality").is_empty() {
            self.refuse("abroad_locality", "change-err-abroad-locality");
        }
        let address = self.line("abroad_address");
        let postcode = self.line("abroad_postcode");
        let state = self.need("abroad_state", "change-err-abroad-state", state)?;
        Some(ForeignAddress { state, locality: locality?, address, postcode, consulate: None })
    }

    /// What was read, or every error noted.
    fn finish<T>(self, value: Option<T>) -> Result<T, Vec<(String, String)>> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(self.errors),
        }
    }
}

/// The generalità change's cases, as the form names them.
const GENERALITA_CASES: [(&str, GeneralitaCase); 7] = [
    ("marriage", GeneralitaCase::Marriage),
    ("adult_adoption", GeneralitaCase::AdultAdoption),
    ("sex_change", GeneralitaCase::SexChange),
    ("on_request", GeneralitaCase::OnRequest),
    ("material_error_aligned", GeneralitaCase::MaterialErrorAligned),
    ("material_error_not_aligned_agency_right", GeneralitaCase::MaterialErrorNotAlignedAgencyRight),
    ("material_error_not_aligned_register_right", GeneralitaCase::MaterialErrorNotAlignedRegisterRight),
];

/// The operation the form asks for, or the form's own errors (missing or unreadable fields);
/// what the register decides is left to the registry service.
fn operation(
    o: &WebOfficer,
    comune: Belfiore,
    change: Change,
    v: &HashMap<String, String>,
    subject: &Subject,
) -> Result<Operation, Vec<(String, String)>> {
    let Some(person) = subject.id_anpr else {
        return Err(vec![(String::new(), o.ui.t("err-404-title"))]);
    };
    if change == Change::Duplicate {
        return duplicate_operation(o, v, person);
    }
    let mut f = FormReader::new(o, v);
    if let Some(op) = document_operation(&mut f, change, person) {
        return f.finish(op);
    }
    let date = f.date("effective_date", "change-err-date");
    let op = match change {
        Change::Residence => {
            let residence = f.italian_address(comune);
            let household = f.household();
            let members = subject.household.iter().filter(|(id, _)| f.get(&format!("with-{id}")) == "si").map(|(id, _)| *id).collect();
            date.zip(residence).map(|(effective_date, residence)| Operation::ChangeResidence {
                person,
                change: ResidenceChange { effective_date, residence, household, members },
            })
        }
        Change::CivilStatus => {
            let status = f.get("civil_status").parse::<u16>().ok().and_then(StatoCivile::from_code);
            let status = f.need("civil_status", "change-err-civil-status", status);
            date.zip(status).map(|(effective_date, civil_status)| Operation::ChangeCivilStatus {
                person,
                change: CivilStatusChange { effective_date, civil_status },
            })
        }
        Change::Generalita => {
            let case = GENERALITA_CASES.iter().find(|(name, _)| *name == f.get("case")).map(|(_, c)| *c);
            let case = f.need("case", "change-err-case", case);
            // The name is sent when it differs from the record's (both parts: the register
            // checks them together).
            let name = if f.get("surname") != subject.surname || f.get("given") != subject.given { f.name(false) } else { None };
            let sex = match f.get("sex") {
                "" => None,
                raw => f.need("sex", "birth-err-sex", Sex::parse(raw)),
            };
            let birth_date = match f.get("birth_date") {
                "" => None,
                raw => f.need("birth_date", "reg-err-birth-date", PartialDate::parse(raw).ok()),
            };
            let birth_place = match f.get("birth_place") {
                "" => None,
                raw => {
                    let on = birth_date.map(|d| d.first_day()).unwrap_or_else(anagrafe_domain::ops::italian_today);
                    let place = match RefData::current().resolve(raw, on) {
                        Ok(Place::Comune(c)) => Some(BirthPlace::Comune { code: c.belfiore }),
                        Ok(Place::Stato(st)) => Some(BirthPlace::Abroad { state: st.code, locality: None }),
                        Err(_) => None,
                    };
                    f.need("birth_place", "birth-err-place", place)
                }
            };
            let codice_fiscale = match f.get("codice_fiscale") {
                "" => None,
                raw => f.need("codice_fiscale", "change-err-cf", CodiceFiscale::parse(&raw.to_ascii_uppercase()).ok()),
            };
            date.zip(case).map(|(effective_date, case)| Operation::ChangeGeneralita {
                person,
                change: GeneralitaChange { case, effective_date, name, sex, birth_date, birth_place, codice_fiscale },
            })
        }
        Change::Duplicate => None,
        Change::Adoption => {
            let name = f.name(true);
            let family = f.get("family_id").parse::<i64>().ok().filter(|id| *id > 0);
            let family = f.need("family_id", "birth-err-family", family);
            let relation = f.get("relation").parse::<u16>().unwrap_or(3);
            match (date, name, family) {
                (Some(effective_date), Some(name), Some(family_id)) => {
                    Some(Operation::AdoptMinor { person, adoption: MinorAdoption { effective_date, name, family_id, relation } })
                }
                _ => None,
            }
        }
        Change::Household => {
            let household = f.household();
            if household.is_none() && !f.errors.iter().any(|(field, _)| field == "family_id") {
                f.refuse("household", "change-err-household");
            }
            date.zip(household)
                .map(|(effective_date, household)| Operation::MoveHousehold { person, change: HouseholdMove { effective_date, household } })
        }
        Change::Document | Change::DocumentEnd => None,
        Change::Cancellation => {
            let reason = f.get("reason").parse::<u16>().ok();
            let Some(reason) = f.need("reason", "change-err-reason", reason) else { return Err(f.errors) };
            let cancellation = cancellation(&mut f, subject.aire, reason, date);
            date.and(cancellation).map(|cancellation| Operation::Cancel { person, cancellation })
        }
    };
    f.finish(op)
}

/// The operation of a document's form (`None`: the change is not about documents), each
/// unreadable field refused beside it.
fn document_operation(f: &mut FormReader<'_>, change: Change, person: IdAnpr) -> Option<Option<Operation>> {
    if !matches!(change, Change::Document | Change::DocumentEnd) {
        return None;
    }
    let number = match f.get("number") {
        "" => {
            f.refuse("number", "change-err-document-number");
            None
        }
        raw => f.need("number", "change-err-document-number", documents::number_of(raw).ok()),
    };
    match change {
        Change::Document => {
            let permit = match f.get("permit_kind") {
                "" => None,
                raw => raw.parse::<u16>().ok().or(Some(0)),
            };
            let kind = match documents::kind_of(f.get("kind"), permit) {
                Ok(k) => Some(k),
                Err(e) if e.field == "permit_kind" => {
                    f.refuse("permit_kind", "change-err-document-permit");
                    None
                }
                Err(_) => {
                    f.refuse("kind", "change-err-document-kind");
                    None
                }
            };
            let issued_on = f.date("issued_on", "change-err-date");
            let expires_on = match f.get("expires_on") {
                "" => None,
                _ => f.date("expires_on", "change-err-date"),
            };
            let issuer = f.line("issuer");
            let renews = match f.get("renews") {
                "" => None,
                raw => f.need("renews", "change-err-document-number", documents::number_of(raw).ok()),
            };
            let op = match (kind, number, issued_on) {
                (Some(kind), Some(number), Some(issued_on)) => Some(Operation::RecordDocument {
                    person,
                    issue: DocumentIssue { document: IdentityDocument { kind, number, issued_on, expires_on, issuer }, renews },
                }),
                _ => None,
            };
            Some(op)
        }
        Change::DocumentEnd => {
            let ended_on = f.date("ended_on", "change-err-date");
            let reason = DocumentEndReason::parse(f.get("reason")).filter(|r| *r != DocumentEndReason::Renewed);
            let reason = f.need("reason", "change-err-document-end-reason", reason);
            Some(match (number, ended_on, reason) {
                (Some(number), Some(ended_on), Some(reason)) => {
                    Some(Operation::EndDocument { person, end: DocumentEnd { number, ended_on, reason } })
                }
                _ => None,
            })
        }
        _ => None,
    }
}

/// A cancellation for `reason`: the death's data for a death, the address abroad for an
/// emigration abroad (the record moves to the comune's AIRE), and neither otherwise.
fn cancellation(f: &mut FormReader<'_>, aire: bool, reason: u16, date: Option<NaiveDate>) -> Option<Cancellation> {
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
    let on = date.unwrap_or_else(anagrafe_domain::ops::italian_today);
    let death = if death {
        let place = match f.get("death_place") {
            "" => None,
            raw => {
                let place = RefData::current().resolve(raw, on).ok().map(|p| p.code());
                Some(f.need("death_place", "change-err-death-place", place)?)
            }
        };
        Some(Death { date: PartialDate::full(on), place, locality: None })
    } else {
        if !f.get("death_place").is_empty() {
            f.refuse("death_place", "change-err-death-place-only");
        }
        None
    };
    let abroad_fields = ["abroad_state", "abroad_locality", "abroad_address", "abroad_postcode"];
    let abroad = if !aire && MotivoCancellazione::from_code(reason) == Some(MotivoCancellazione::TrasferimentoResidenza) {
        Some(f.foreign_address(on)?)
    } else {
        if let Some(field) = abroad_fields.iter().find(|field| !f.get(field).is_empty()) {
            f.refuse(field, "change-err-abroad-only");
        }
        None
    };
    Some(Cancellation { reason, reason_description: f.line("reason_description"), effective_date: on, death, abroad })
}

/// A duplicate case's operation: the other record's ID, and what to do.
fn duplicate_operation(o: &WebOfficer, v: &HashMap<String, String>, this: IdAnpr) -> Result<Operation, Vec<(String, String)>> {
    let other = v.get("other").map(|s| s.trim().to_ascii_uppercase()).unwrap_or_default();
    let Some(other) = IdAnpr::parse(&other).ok().filter(|other| *other != this) else {
        return Err(vec![("other".to_owned(), o.ui.t("change-err-duplicate-other"))]);
    };
    Ok(match v.get("action").map(String::as_str).unwrap_or_default() {
        "report" => Operation::ReportDuplicate { persons: [this, other] },
        "dismiss" => Operation::DismissDuplicate { persons: [this, other] },
        "keep-this" => Operation::ResolveDuplicate { keep: this, delete: other },
        "keep-other" => Operation::ResolveDuplicate { keep: other, delete: this },
        _ => return Err(vec![("action".to_owned(), o.ui.t("change-err-duplicate-action"))]),
    })
}

/// Applies a change through the registry service; the person's page then says it is recorded.
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
    let who = o.principal()?;
    let comune = who.acting_comune().map_err(|e| o.fail(e.into()))?;
    // A household named by a member's code is read as that member's household.
    let read = match household_of_form(&state, &o, &values).await {
        Ok(read) => read,
        Err(errors) => return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &view(&o, &id, change, subject, &values, errors))),
    };
    let op = match operation(&o, comune, change, &read, &subject) {
        Ok(op) => op,
        Err(errors) => return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &view(&o, &id, change, subject, &values, errors))),
    };
    // A resolved duplicate leads to the record kept.
    let kept = match &op {
        Operation::ResolveDuplicate { keep, .. } => keep.to_string(),
        _ => id.clone(),
    };
    let op_id = client_op_id(&values).map_err(|e| o.fail(e.into()))?;
    match state.registry().apply(&who, op, &op_id).await {
        // The adopted child's record has a new ID ANPR; the old one is no longer valid.
        Ok(w) if change == Change::Adoption => {
            let new_id = w.applied.id_anpr.map(|i| i.to_string()).unwrap_or(id);
            Ok(see_other(&format!("/ufficio/persone/{new_id}?modificato={}", change.segment())))
        }
        Ok(_) => Ok(see_other(&format!("/ufficio/persone/{kept}?modificato={}", change.segment()))),
        Err(e) => match refused_fields(&o.ui, e, feeds(change)) {
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
            .map(|m| Opt { value: m.code().to_owned(), label: format!("{} — {}", m.code(), o.ui.decode(*m)) })
            .collect()
    } else {
        [MotivoIscrizione::ImmigrazioneDallEstero, MotivoIscrizione::Immigrazione, MotivoIscrizione::AltriMotivi]
            .iter()
            .map(|m| Opt { value: m.code().to_string(), label: format!("{} — {}", m.code(), o.ui.decode(*m)) })
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
        Field::input("reason_description", t("change-cancel-description"), anagrafe_domain::text::Description::MAX as u16, "col-md-8")
            .help(t("reg-description-help")),
        Field::input("origin", t("reg-origin"), 80, "col-md-6").help(t("reg-origin-help")),
        Field::input("surname", t("f-surname"), 150, "col-md-6").required(),
        Field::input("given", t("f-name"), 150, "col-md-6").required(),
        Field::choice("sex", t("f-sex"), sexes, "col-md-2").required(),
        Field::input("birth_date", t("f-birth-date"), 10, "col-md-4").required().help(t("office-search-date-help")),
        Field::input("birth_place", t("reg-birth-place"), 80, "col-md-6").required().help(t("reg-birth-place-help")),
        Field::input("birth_locality", t("reg-birth-locality"), ForeignLocality::MAX as u16, "col-md-6"),
        Field::input("citizenship", t("history-citizenship"), 80, "col-md-6").required().help(t("reg-citizenship-help")),
        Field::input("codice_fiscale", t("f-cf"), 16, "col-md-6").help(t("reg-cf-help")),
    ];
    // The civil status, the address (in Italy, or abroad for the AIRE) and the household as the
    // change forms ask them.
    out.extend(fields(o, Change::CivilStatus, false, &[]).into_iter().skip(1));
    if aire {
        let cancellation = fields(o, Change::Cancellation, false, &[]);
        let skip = cancellation.len() - 4;
        out.extend(cancellation.into_iter().skip(skip).map(|f| Field {
            required: f.name == "abroad_state" || f.name == "abroad_locality",
            help: None,
            label: if f.name == "abroad_state" { t("reg-abroad-state") } else { f.label.clone() },
            ..f
        }));
    } else {
        out.extend(fields(o, Change::Residence, false, &[]).into_iter().skip(1).take(4));
    }
    out.extend(fields(o, Change::Household, false, &[]).into_iter().skip(1));
    out
}

fn registration_view(o: &WebOfficer, aire: bool, values: &HashMap<String, String>, errors: Vec<(String, String)>) -> ChangePage {
    let title = if aire { "reg-aire-title" } else { "reg-title" };
    let c = o.chrome(title).crumb(title, None);
    let mut fields = registration_fields(o, aire);
    let errors = fill(&mut fields, values, errors);
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
        movers: Vec::new(),
        errors,
    }
}

fn registration_form(o: &WebOfficer, aire: bool) -> Response {
    let mut values = HashMap::new();
    let reason = if aire { "C01" } else { "4" };
    for (k, v) in [("reason", reason), ("household", "new"), ("relation", "3"), ("species", "VIA"), ("civil_status", "1")] {
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
fn birth_place(raw: &str, locality: Option<ForeignLocality>, on: NaiveDate) -> Option<BirthPlace> {
    match RefData::current().resolve(raw, on).ok()? {
        Place::Comune(c) => Some(BirthPlace::Comune { code: c.belfiore }),
        Place::Stato(st) => Some(BirthPlace::Abroad { state: st.code, locality }),
    }
}

/// The registration the form asks for, or the form's own errors.
fn registration(o: &WebOfficer, comune: Belfiore, aire: bool, v: &HashMap<String, String>) -> Result<Registration, Vec<(String, String)>> {
    let mut f = FormReader::new(o, v);
    let date = f.date("effective_date", "change-err-date");
    let on = date.unwrap_or_else(anagrafe_domain::ops::italian_today);
    let reason = f.optional("reason");
    let reason = f.need("reason", "reg-err-reason", reason);
    let name = f.name(true);
    let sex = Sex::parse(f.get("sex")).filter(|_| !f.get("sex").is_empty());
    let sex = f.need("sex", "birth-err-sex", sex);
    let born = PartialDate::parse(f.get("birth_date")).ok();
    let born = f.need("birth_date", "reg-err-birth-date", born);
    let locality = f.line("birth_locality");
    let place = birth_place(f.get("birth_place"), locality, born.map(|b| b.first_day()).unwrap_or(on));
    let place = f.need("birth_place", "reg-err-birth-place", place);
    let citizenship = match f.get("citizenship").to_lowercase().as_str() {
        "it" | "ita" | "italia" | "italiana" | "italian" | "italy" => Some(Country::Italia),
        other => match RefData::current().resolve(other, on) {
            Ok(Place::Stato(st)) => Some(Country::Foreign(st.code)),
            _ => None,
        },
    };
    let citizenship = f.need("citizenship", "reg-err-citizenship", citizenship);
    let origin = match f.get("origin") {
        "" => None,
        raw => {
            let origin = RefData::current().resolve(raw, on).ok().map(|p| p.code());
            f.need("origin", "reg-err-origin", origin)
        }
    };
    let codice_fiscale = match f.get("codice_fiscale") {
        "" => None,
        raw => f.need("codice_fiscale", "change-err-cf", CodiceFiscale::parse(&raw.to_ascii_uppercase()).ok()),
    };
    let status = f.get("civil_status").parse::<u16>().ok().and_then(StatoCivile::from_code);
    let status = f.need("civil_status", "change-err-civil-status", status);
    // The AIRE's record lives abroad, in the comune's AIRE; the others at an address of the
    // comune. A new family unless the form names one to join.
    let residence = if aire {
        f.foreign_address(on).map(|address| Residence::Abroad { address, aire_comune: comune })
    } else {
        f.italian_address(comune)
    };
    let household = f.household().unwrap_or(HouseholdChoice::New { household: HouseholdKind::Family, name: None });
    let description = f.line("reason_description");
    let r = match (date, reason, name, sex, born, place, citizenship, status, residence) {
        (Some(date), Some(reason), Some(name), Some(sex), Some(born), Some(place), Some(citizenship), Some(status), Some(residence)) => {
            Some(Registration {
                reason,
                reason_description: description,
                effective_date: date,
                name,
                sex,
                birth_date: born,
                birth_place: place,
                codice_fiscale,
                citizenships: vec![citizenship],
                civil_status: status,
                residence,
                household,
                email: None,
                digital_domicile: None,
                origin,
                birth_act: None,
                parents: Vec::new(),
            })
        }
        _ => None,
    };
    f.finish(r)
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
    let who = o.principal()?;
    let comune = who.acting_comune().map_err(|e| o.fail(e.into()))?;
    let read = match household_of_form(&state, &o, &values).await {
        Ok(read) => read,
        Err(errors) => return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &registration_view(&o, aire, &values, errors))),
    };
    let r = match registration(&o, comune, aire, &read) {
        Ok(r) => r,
        Err(errors) => return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &registration_view(&o, aire, &values, errors))),
    };
    let op_id = client_op_id(&values).map_err(|e| o.fail(e.into()))?;
    match state.registry().apply(&who, Operation::Register(Box::new(r)), &op_id).await {
        Ok(w) => {
            let id = w.applied.id_anpr.map(|i| i.to_string()).unwrap_or_default();
            Ok(see_other(&format!("/ufficio/persone/{id}?modificato=iscrizione")))
        }
        Err(e) => match refused_fields(&o.ui, e, REGISTRATION_FEEDS) {
            Ok((status, errors)) => Err(html(status, &registration_view(&o, aire, &values, errors))),
            Err(e) => Err(o.fail(e)),
        },
    }
}

/// The form's values with `family_id` as the household's number: when the officer typed a
/// member's codice fiscale or ID ANPR there, that member's household (the values sent back to the
/// page keep what was typed).
async fn household_of_form(
    state: &AppState,
    o: &WebOfficer,
    values: &HashMap<String, String>,
) -> Result<HashMap<String, String>, Vec<(String, String)>> {
    let mut read = values.clone();
    let Some(raw) = values.get("family_id") else { return Ok(read) };
    let who = o.principal().map_err(|_| vec![(String::new(), o.ui.t("err-403-title"))])?;
    match super::household_by_member(state, &who, raw).await {
        Ok(Some(family)) => {
            read.insert("family_id".into(), family.to_string());
            Ok(read)
        }
        Ok(None) => Ok(read),
        Err(key) => Err(vec![("family_id".into(), o.ui.t(key))]),
    }
}

/// The register's refusal as the form's errors (field, reason), with its status; an error that
/// names no field and is no conflict is not the form's to show.
pub(super) fn refused_fields(
    ui: &Ui,
    e: ServiceError,
    feeds: &[(&'static str, &'static str)],
) -> Result<(StatusCode, Vec<(String, String)>), ApiError> {
    let problems = e.field_errors();
    let conflict = matches!(e, ServiceError::Conflict(_) | ServiceError::State { .. });
    let e = ApiError::from(e);
    if problems.is_empty() && !conflict {
        return Err(e);
    }
    let errors = if problems.is_empty() {
        vec![(String::new(), ui.t("form-conflict"))]
    } else {
        problems.into_iter().map(|p| (error_field(feeds, &p.field).to_owned(), ui.why(&p.reason))).collect()
    };
    Ok((e.status(), errors))
}

/// The form's operation id as the client's operation id (a new one when the form has none).
pub(super) fn client_op_id(values: &HashMap<String, String>) -> Result<ClientOpId, ServiceError> {
    let op: String = values
        .get("op")
        .map(String::as_str)
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    if op.is_empty() { ClientOpId::parse(&crate::auth::random_token()) } else { ClientOpId::parse(&op) }
}
/// The operation id the page carries: the one sent back, or a new one.
fn form_op(values: &HashMap<String, String>) -> String {
    values.get("op").filter(|v| !v.is_empty() && v.len() <= 64).cloned().unwrap_or_else(crate::auth::random_token)
}

/// Puts the values sent back, and each field's error, into the fields; answers the summary's
/// lines, each naming its field's label (`Via/piazza: è troppo lungo…`).
fn fill(fields: &mut Vec<Field>, values: &HashMap<String, String>, errors: Vec<(String, String)>) -> Vec<(String, String)> {
    *fields = super::super::form::filled(std::mem::take(fields), values, &errors);
    labelled(errors, |name| fields.iter().find(|f| f.name == name).map(|f| f.label.clone()))
}

/// The summary's lines of a form's errors: each reason after its field's label, when the field
/// has one on the page.
pub(super) fn labelled(errors: Vec<(String, String)>, label: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    errors
        .into_iter()
        .map(|(name, reason)| match label(&name) {
            Some(l) if !name.is_empty() => {
                let text = format!("{}: {reason}", l.trim_end_matches(['*', ' ']));
                (name, text)
            }
            _ => (name, reason),
        })
        .collect()
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
handlers!(document_page, document_submit, Change::Document);
handlers!(document_end_page, document_end_submit, Change::DocumentEnd);

/// A household's members, with the relation of each to the head (tab. 05, or tab. 06 for a
/// cohabitation), and the form that changes them (a new head, relations corrected): REG-5.
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

    /// What the form's errors of a relations change name: the date; the members' errors name
    /// their place in the list, and the summary says which.
    const FEEDS: &[(&str, &str)] = &[("effective_date", "effective_date")];

    async fn view(
        state: &AppState,
        o: &WebOfficer,
        family_id: i64,
        values: &HashMap<String, String>,
        errors: Vec<(String, String)>,
    ) -> Result<FamilyPage, Response> {
        let who = o.principal()?;
        let registry = state.registry();
        let family = registry.family(&who, family_id, None).await.map_err(|e| o.fail(e.into()))?;
        let cohabitation = matches!(family.kind, HouseholdKind::Cohabitation { .. });
        let options: Vec<Opt> = if cohabitation {
            anagrafe_domain::decode::LegameConvivenza::ALL
                .iter()
                .filter(|l| l.valid_until().is_none())
                .map(|l| Opt { value: l.code().to_string(), label: o.ui.decode(*l) })
                .collect()
        } else {
            anagrafe_domain::decode::RelazioneParentela::ALL
                .iter()
                .filter(|r| r.valid_until().is_none())
                .map(|r| Opt { value: r.code().to_string(), label: o.ui.decode(*r) })
                .collect()
        };
        let mut members = Vec::new();
        for m in &family.members {
            let Some(id) = &m.id_anpr else { continue };
            let name = match registry.person(&who, id, None).await {
                Ok(read) => full_name(&read.view.record),
                Err(_) => "-".to_owned(),
            };
            let relation = values.get(&format!("rel-{id}")).cloned().unwrap_or_else(|| m.relation.to_string());
            members.push(Member { id_anpr: id.to_string(), name, relation, options: options.clone() });
        }
        let c = o.chrome("family-title").crumb("office-search-title", Some("/ufficio/persone")).crumb("family-title", None);
        Ok(FamilyPage {
            kind: c.t(if cohabitation { "family-kind-cohabitation" } else { "family-kind-family" }),
            comune: comune_name(family.comune.as_str()),
            c,
            family_id,
            members,
            csrf: o.s.0.session.csrf_token.clone(),
            op: form_op(values),
            date: values.get("effective_date").cloned().unwrap_or_else(|| state.clock.today().to_string()),
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
                match (IdAnpr::parse(id), v.trim().parse::<u16>()) {
                    (Ok(id_anpr), Ok(relation)) => members.push(MemberRelation { id_anpr, relation }),
                    _ => errors.push((k.clone(), o.ui.t("family-err-relation"))),
                }
            }
        }
        let Ok(date) = values.get("effective_date").map(|d| d.trim()).unwrap_or_default().parse::<NaiveDate>() else {
            errors.push(("effective_date".to_owned(), o.ui.t("change-err-date")));
            let page = view(&state, &o, family_id, &values, errors).await?;
            return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        };
        if !errors.is_empty() {
            let page = view(&state, &o, family_id, &values, errors).await?;
            return Err(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
        members.sort_by(|a, b| a.id_anpr.as_str().cmp(b.id_anpr.as_str()));
        let op = Operation::SetRelations { family_id, change: RelationsChange { effective_date: date, members } };
        let op_id = client_op_id(&values).map_err(|e| o.fail(e.into()))?;
        match state.registry().apply(&o.principal()?, op, &op_id).await {
            Ok(_) => Ok(see_other(&format!("/ufficio/famiglie/{family_id}?modificato=1"))),
            Err(e) => match refused_fields(&o.ui, e, FEEDS) {
                Ok((status, errors)) => {
                    let page = view(&state, &o, family_id, &values, errors).await?;
                    Err(html(status, &page))
                }
                Err(e) => Err(o.fail(e)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registers_errors_land_beside_the_form_field_that_feeds_them() {
        let at = |change, path| error_field(feeds(change), path);
        assert_eq!(at(Change::Residence, "residence.toponym"), "toponym");
        assert_eq!(at(Change::Residence, ".residence.cap"), "cap");
        assert_eq!(at(Change::Residence, "household"), "household");
        assert_eq!(at(Change::Residence, "household.family_id"), "family_id");
        assert_eq!(at(Change::Cancellation, "death.place"), "death_place");
        assert_eq!(at(Change::Cancellation, "death"), "effective_date");
        assert_eq!(at(Change::Cancellation, "reason_description"), "reason_description");
        assert_eq!(at(Change::CivilStatus, "civil_status"), "civil_status");
        assert_eq!(at(Change::CivilStatus, "person"), "");
        assert_eq!(at(Change::Generalita, "name.given"), "given");
        assert_eq!(at(Change::Generalita, "name"), "surname");
        assert_eq!(at(Change::Generalita, "birth_place.code"), "birth_place");
        assert_eq!(at(Change::Generalita, "case"), "case");
        assert_eq!(at(Change::Cancellation, "abroad.locality"), "abroad_locality");
        assert_eq!(at(Change::Cancellation, "abroad.state"), "abroad_state");
        assert_eq!(at(Change::Household, "household.family_id"), "family_id");
        assert_eq!(error_field(REGISTRATION_FEEDS, "residence.address.locality"), "abroad_locality");
        assert_eq!(error_field(REGISTRATION_FEEDS, "citizenships[0]"), "citizenship");
        assert_eq!(error_field(REGISTRATION_FEEDS, "reason_descriptions"), "");
        assert_eq!(error_field(REGISTRATION_FEEDS, "citizenships"), "citizenship");
    }

    #[test]
    fn every_civil_status_the_form_offers_reads_back_from_its_code() {
        for s in StatoCivile::ALL {
            assert_eq!(StatoCivile::from_code(s.code()), Some(*s));
        }
    }
}
