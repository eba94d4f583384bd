//! Citizens of other EU states (EU-1, EU-2, EU-4): who logged in through the eIDAS node, what
//! they declared before any service, and their registration request.
//!
//! The eIDAS node gives the minimum data set — the unique identifier, names, birth date — and
//! nothing else; the citizen then declares sex, place of birth, an e-mail address and, where
//! they have one, their codice fiscale (Reg. (EU) 2022/1463 art. 16: data a service needs
//! beyond the eIDAS set are asked, checked, and a mismatch refused with its reasons). The
//! check here is the local one: structure and check character (by [`CodiceFiscale::parse`])
//! and agreement with the eIDAS data and the declared sex and birthplace; the Revenue Agency's
//! own answer is asked by the use-case layer behind an interface.

use crate::case::Grounds;
use crate::cf::{CfInput, CodiceFiscale, Sex};
use crate::codes::Belfiore;
use crate::decode::DecodeTable;
use crate::person::{BirthPlace, FieldError, PersonName};
use crate::refdata::RefData;
use crate::text::{Civic, EmailAddress, Toponym};
use crate::why::Why;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// ISO 3166-1 alpha-3 codes of the member states of the European Union other than Italy.
pub const EU_MEMBER_STATES: [&str; 26] = [
    "AUT", "BEL", "BGR", "CYP", "CZE", "DEU", "DNK", "ESP", "EST", "FIN", "FRA", "GRC", "HRV", "HUN", "IRL", "LTU", "LUX", "LVA", "MLT",
    "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "SWE",
];

/// The state (`Z` code) is a member state of the EU other than Italy.
pub fn is_eu_state(refdata: &RefData, state: Belfiore) -> bool {
    refdata.stato(state).and_then(|s| s.iso3.as_deref()).is_some_and(|iso| EU_MEMBER_STATES.contains(&iso))
}

/// An eIDAS unique identifier: `CC/IT/identifier` (the issuing state, the receiving state,
/// then up to 256 printable characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EidasId(String);

impl EidasId {
    /// Checks the identifier's shape.
    pub fn parse(s: &str) -> Result<Self, Why> {
        let mut parts = s.splitn(3, '/');
        let (Some(from), Some(to), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Why::new("eidas-id-shape"));
        };
        let cc = |c: &str| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase());
        if !cc(from) || !cc(to) || rest.is_empty() || rest.len() > 256 || !rest.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Why::new("eidas-id-shape"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The member state that issued the identity (its two-letter code).
    pub fn issuing_state(&self) -> &str {
        &self.0[..2]
    }
}

impl std::fmt::Display for EidasId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

crate::text_conversions!(EidasId, Why);

/// What the eIDAS node says of the person (the minimum data set of a natural person).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EidasPerson {
    /// The unique identifier.
    pub id: EidasId,
    /// Current family name(s).
    pub family_name: String,
    /// Current first name(s).
    pub given_name: String,
    /// Date of birth.
    pub birth_date: NaiveDate,
}

/// What the citizen declares before any EU service (EU-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declared {
    /// Codice fiscale, when they have one (mandatory for the birth certificate).
    pub codice_fiscale: Option<CodiceFiscale>,
    /// Sex.
    pub sex: Sex,
    /// Place of birth: a comune, or the foreign state.
    pub birth_place: BirthPlace,
    /// The address the confirmation code is sent to.
    pub email: EmailAddress,
}

/// The local check of what was declared against the eIDAS data: the birthplace existed on the
/// birth date, and a given codice fiscale agrees with names, birth date, sex and birthplace
/// (each disagreeing part is its own reason, for the page to show).
pub fn check_declared(person: &EidasPerson, d: &Declared, refdata: &RefData) -> Vec<FieldError> {
    let mut out = Vec::new();
    let place = d.birth_place.code();
    match (&d.birth_place, refdata.place_at(place, person.birth_date)) {
        (_, Err(_)) => out.push(FieldError::new("birth_place", Why::new("eu-birth-place-unknown").arg("date", person.birth_date))),
        (BirthPlace::Abroad { state, .. }, Ok(_)) if !state.is_foreign_state() => {
            out.push(FieldError::new("birth_place", Why::new("eu-birth-place-unknown").arg("date", person.birth_date)))
        }
        _ => {}
    }
    if let Some(cf) = &d.codice_fiscale {
        let input = CfInput {
            surname: &person.family_name,
            name: &person.given_name,
            sex: d.sex,
            birth_date: person.birth_date,
            birth_place: place,
        };
        for part in cf.mismatches(&input) {
            out.push(FieldError::new("codice_fiscale", Why::new("eu-cf-mismatch").arg("part", part_key(part))));
        }
    }
    out
}

/// A part of the codice fiscale as the messages name it (`surname`, `name`, `birth_date`,
/// `sex`, `birthplace`).
pub fn part_key(part: &str) -> &'static str {
    match part {
        "surname" => "surname",
        "name" => "name",
        "birth date" => "birth_date",
        "sex or birth day" => "sex",
        "birthplace" => "birthplace",
        _ => "check",
    }
}

/// How an adult member signs the registration declaration (EU-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureWay {
    /// A qualified or advanced electronic signature (PAdES in the declaration's PDF).
    Digital,
    /// By hand, with a scan of the signer's identity document attached.
    Handwritten,
}

/// One member of the family being formed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Surname and name.
    pub name: PersonName,
    /// Sex.
    pub sex: Sex,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Birthplace.
    pub birth_place: BirthPlace,
    /// Citizenship (`Z` code of an EU state, or of a third state for a family member).
    pub citizenship: Belfiore,
    /// Codice fiscale, when the member has one.
    #[serde(default)]
    pub codice_fiscale: Option<CodiceFiscale>,
    /// Relation to the applicant, who heads the family (tab. 05: 1 the head himself, 2 spouse,
    /// 3 child…).
    pub relation: u16,
    /// How the member signs, when adult.
    #[serde(default)]
    pub signature: Option<SignatureWay>,
}

/// The registration request (EU-4): the family being formed, where it lives, since when, from
/// where, and why it may reside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// The members; the first is the applicant, who heads the family.
    pub members: Vec<Member>,
    /// The comune the family lives in (competent for the case).
    pub comune: Belfiore,
    /// Toponym species (`VIA`, `PIAZZA`…).
    pub species: crate::text::Species,
    /// Street.
    pub street: Toponym,
    /// Civic number.
    pub civic: Option<Civic>,
    /// Day of arrival at the address.
    pub arrival_date: NaiveDate,
    /// The state the family comes from (`Z` code).
    pub provenance: Belfiore,
    /// The applicant's grounds of residence.
    pub grounds: Grounds,
}

/// The most members one request may name.
pub const MAX_MEMBERS: usize = 12;

/// Of age (18) on `on`.
pub fn adult(birth_date: NaiveDate, on: NaiveDate) -> bool {
    birth_date.checked_add_months(chrono::Months::new(18 * 12)).is_some_and(|d| d <= on)
}

/// Checks a registration request on `today` against the reference data and the applicant's
/// eIDAS data: at least one member and at most [`MAX_MEMBERS`]; the applicant is the person who
/// logged in (same names and birth date) and an EU citizen; the first member heads the family
/// (relation 1), no other does; relations are of tab. 05; birth dates in the past; birthplaces
/// valid on the birth date; citizenships are states; the arrival neither in the future nor
/// before the youngest member's birth… and the comune exists today, the provenance is a foreign
/// state. Every problem is a [`FieldError`] naming the field (`members[1].birth_date`).
pub fn check_request(r: &RegistrationRequest, applicant: &EidasPerson, refdata: &RefData, today: NaiveDate) -> Vec<FieldError> {
    let mut out = Vec::new();
    if r.members.is_empty() {
        out.push(FieldError::new("members", Why::new("eu-no-members")));
    }
    if r.members.len() > MAX_MEMBERS {
        out.push(FieldError::new("members", Why::new("eu-too-many-members").arg("max", MAX_MEMBERS)));
    }
    for (i, m) in r.members.iter().enumerate() {
        let f = |name: &str| format!("members[{i}].{name}");
        if m.birth_date > today {
            out.push(FieldError::new(f("birth_date"), Why::new("future")));
        }
        if refdata.place_at(m.birth_place.code(), m.birth_date).is_err() {
            out.push(FieldError::new(f("birth_place"), Why::new("eu-birth-place-unknown").arg("date", m.birth_date)));
        }
        if !m.citizenship.is_foreign_state() || refdata.stato(m.citizenship).is_none() {
            out.push(FieldError::new(f("citizenship"), Why::new("eu-citizenship-state")));
        }
        let head = m.relation == 1;
        if (i == 0) != head {
            out.push(FieldError::new(f("relation"), Why::new("eu-head-first")));
        } else if crate::decode::RelazioneParentela::from_code(m.relation).is_none() {
            out.push(FieldError::new(f("relation"), Why::new("not-in-table").arg("table", "05")));
        }
        if adult(m.birth_date, today) && m.signature.is_none() && i > 0 {
            out.push(FieldError::new(f("signature"), Why::new("eu-signature-way")));
        }
        if r.arrival_date < m.birth_date && i > 0 {
            // A child born here after the arrival is still a member; the arrival is the family's.
        }
    }
    if let Some(a) = r.members.first() {
        let same = |x: Option<&str>, y: &str| x.is_some_and(|x| crate::text::fold(x) == crate::text::fold(y));
        if !same(a.name.surname(), &applicant.family_name)
            || !same(a.name.given(), &applicant.given_name)
            || a.birth_date != applicant.birth_date
        {
            out.push(FieldError::new("members[0]", Why::new("eu-applicant-not-logged-in")));
        }
        if !is_eu_state(refdata, a.citizenship) {
            out.push(FieldError::new("members[0].citizenship", Why::new("eu-applicant-not-eu")));
        }
    }
    if r.arrival_date > today {
        out.push(FieldError::new("arrival_date", Why::new("future")));
    }
    if refdata.comune_at(r.comune, today).is_none() {
        out.push(FieldError::new("comune", Why::new("eu-comune-unknown")));
    }
    if !r.provenance.is_foreign_state() || refdata.stato(r.provenance).is_none() {
        out.push(FieldError::new("provenance", Why::new("eu-citizenship-state")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn an_eidas_identifier_has_two_states_and_an_identifier() {
        assert_eq!(EidasId::parse("DE/IT/0123456789").unwrap().issuing_state(), "DE");
        for bad in ["DE/IT/", "de/IT/1", "DEU/IT/1", "DE-IT-1", "DE/IT/a b"] {
            assert!(EidasId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_codice_fiscale_that_disagrees_with_the_eidas_data_is_refused_part_by_part() {
        let refdata = RefData::current();
        let person = EidasPerson {
            id: EidasId::parse("FR/IT/12345").unwrap(),
            family_name: "Dupont".into(),
            given_name: "Marie".into(),
            birth_date: d("1985-03-12"),
        };
        let roma = Belfiore::parse("H501").unwrap();
        let cf = CodiceFiscale::compute(&CfInput {
            surname: "Dupont",
            name: "Marie",
            sex: Sex::F,
            birth_date: d("1985-03-12"),
            birth_place: roma,
        });
        let email = EmailAddress::new("marie@example.eu").unwrap();
        let ok = Declared { codice_fiscale: Some(cf), sex: Sex::F, birth_place: BirthPlace::Comune { code: roma }, email };
        assert!(check_declared(&person, &ok, &refdata).is_empty());
        let wrong_sex = Declared { sex: Sex::M, ..ok.clone() };
        let e = check_declared(&person, &wrong_sex, &refdata);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].field.as_str(), e[0].reason.get("part")), ("codice_fiscale", Some("sex")));
        let older = EidasPerson { birth_date: d("1984-03-12"), ..person.clone() };
        assert!(!check_declared(&older, &ok, &refdata).is_empty());
        let nowhere = Declared { birth_place: BirthPlace::Comune { code: Belfiore::parse("Z999").unwrap() }, ..ok };
        assert!(check_declared(&person, &nowhere, &refdata).iter().any(|e| e.field == "birth_place"));
    }

    #[test]
    fn eu_states_are_found_by_their_iso_code() {
        let refdata = RefData::current();
        let by_iso = |iso: &str| refdata.stati().iter().find(|s| s.iso3.as_deref() == Some(iso)).unwrap().code;
        assert!(is_eu_state(&refdata, by_iso("FRA")));
        assert!(is_eu_state(&refdata, by_iso("DEU")));
        assert!(!is_eu_state(&refdata, by_iso("CHE")));
        assert!(adult(d("2008-12-07"), d("2026-12-07")) && !adult(d("2008-12-08"), d("2026-12-07")));
    }
}

/// An application of a citizen of another EU state resident in Italy for the additional
/// electoral lists (CIT-4): the municipal list (d.lgs. 197/1996 art. 3) and the European
/// Parliament's (DL 408/1994 art. 2), with the declarations those laws require.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListApplication {
    /// The lists asked for: [`AdditionalList::EuMunicipal`], [`AdditionalList::EuEuropean`] or both.
    pub lists: Vec<crate::electoral::AdditionalList>,
    /// The EU citizenship held (`Z` code), one of the record's.
    pub citizenship: Belfiore,
    /// The address in the state of origin.
    pub home_address: crate::text::Line<200>,
    /// For the European Parliament: the locality or constituency of the state of origin whose
    /// lists last held the applicant, if any.
    #[serde(default)]
    pub home_constituency: Option<crate::text::Line<100>>,
    /// Declared: not deprived of the right to vote in the state of origin.
    pub not_deprived: bool,
    /// For the European Parliament: declared to vote only in Italy.
    #[serde(default)]
    pub vote_only_in_italy: bool,
}

/// Checks an application against the record's citizenships: at least one list, only the EU
/// citizens' lists, each once; an EU citizenship the record holds, not the Italian one; the
/// declarations the lists need made. Every problem names its field.
pub fn check_application(a: &ListApplication, citizenships: &[crate::person::Country], refdata: &RefData) -> Vec<FieldError> {
    use crate::electoral::AdditionalList;
    let mut out = Vec::new();
    if a.lists.is_empty() {
        out.push(FieldError::new("lists", Why::new("eu-lists-none")));
    }
    let mut seen = Vec::new();
    for l in &a.lists {
        if !l.for_eu_citizens() || seen.contains(l) {
            out.push(FieldError::new("lists", Why::new("eu-lists-none")));
        }
        seen.push(*l);
    }
    let held = citizenships.contains(&crate::person::Country::Foreign(a.citizenship));
    if !held || !is_eu_state(refdata, a.citizenship) {
        out.push(FieldError::new("citizenship", Why::new("eu-lists-citizenship")));
    }
    if !a.not_deprived {
        out.push(FieldError::new("not_deprived", Why::new("eu-lists-declaration")));
    }
    if a.lists.contains(&AdditionalList::EuEuropean) && !a.vote_only_in_italy {
        out.push(FieldError::new("vote_only_in_italy", Why::new("eu-lists-declaration")));
    }
    out
}

#[cfg(test)]
mod list_tests {
    use super::*;
    use crate::electoral::AdditionalList;
    use crate::person::Country;

    fn state(iso: &str) -> Belfiore {
        RefData::current().stati().iter().find(|s| s.iso3.as_deref() == Some(iso)).unwrap().code
    }

    fn app(lists: Vec<AdditionalList>) -> ListApplication {
        ListApplication {
            lists,
            citizenship: state("FRA"),
            home_address: crate::text::Line::new("1 rue X, Lyon").unwrap(),
            home_constituency: None,
            not_deprived: true,
            vote_only_in_italy: false,
        }
    }

    fn fields(errs: Vec<FieldError>) -> Vec<String> {
        errs.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn an_application_names_what_the_laws_want_missing() {
        let refdata = RefData::current();
        let french = [Country::Foreign(state("FRA"))];
        assert!(check_application(&app(vec![AdditionalList::EuMunicipal]), &french, &refdata).is_empty());
        assert_eq!(fields(check_application(&app(vec![]), &french, &refdata)), vec!["lists"]);
        // The European list needs the declaration to vote in Italy only.
        assert_eq!(fields(check_application(&app(vec![AdditionalList::EuEuropean]), &french, &refdata)), vec!["vote_only_in_italy"]);
        // Only the EU citizens' lists, each once.
        let twice = app(vec![AdditionalList::EuMunicipal, AdditionalList::EuMunicipal]);
        assert_eq!(fields(check_application(&twice, &french, &refdata)), vec!["lists"]);
        assert_eq!(fields(check_application(&app(vec![AdditionalList::TrentinoRegional]), &french, &refdata)), vec!["lists"]);
        // A citizenship the record does not hold, or a state outside the Union.
        assert_eq!(fields(check_application(&app(vec![AdditionalList::EuMunicipal]), &[Country::Italia], &refdata)), vec!["citizenship"]);
        let swiss = ListApplication { citizenship: state("CHE"), ..app(vec![AdditionalList::EuMunicipal]) };
        assert_eq!(fields(check_application(&swiss, &[Country::Foreign(state("CHE"))], &refdata)), vec!["citizenship"]);
        let undeclared = ListApplication { not_deprived: false, ..app(vec![AdditionalList::EuMunicipal]) };
        assert_eq!(fields(check_application(&undeclared, &french, &refdata)), vec!["not_deprived"]);
    }
}

/// The adult members who chose to sign the declaration digitally and whose name no applied
/// signature bears (EU-4): `signers` are the subjects (`CN=…`) of the signatures that count on
/// the signed declaration. A signer matches a member when the subject holds both the member's
/// surname and given name, compared folded (case, accents and spacing aside). The indexes of
/// the members left unsigned, in order.
pub fn unsigned_members(members: &[Member], signers: &[String], today: NaiveDate) -> Vec<usize> {
    let folded: Vec<String> = signers.iter().map(|s| crate::text::fold(s)).collect();
    members
        .iter()
        .enumerate()
        .filter(|(_, m)| m.signature == Some(SignatureWay::Digital) && adult(m.birth_date, today))
        .filter(|(_, m)| {
            let parts: Vec<String> = [m.name.surname(), m.name.given()].into_iter().flatten().map(crate::text::fold).collect();
            !folded.iter().any(|s| parts.iter().all(|p| s.contains(p.as_str())))
        })
        .map(|(i, _)| i)
        .collect()
}
