//! The person record (*scheda anagrafica*, REG-1) and its parts.
//!
//! These types describe a person as the register knows them at one moment; the store keeps
//! each part's history with effective and recorded times (see `docs/data-model.md`).

use crate::cf::{CfInput, CodiceFiscale, Sex};
use crate::codes::{Belfiore, Cap};
use crate::date::PartialDate;
use crate::decode::{LegameConvivenza, RelazioneParentela, SpecieConvivenza, StatoCivile, StatoValidazioneCf, TipoSoggiorno};
use crate::id_anpr::IdAnpr;
use crate::refdata::RefData;
use crate::text::{
    Civic, ConsulateCode, DocumentNumber, EmailAddress, ForeignLocality, ForeignPostcode, ForeignStreet, Internal, Issuer, Locality,
    Species, Toponym,
};
use crate::why::Why;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A field that failed validation, named as in the API (`generalita.birth_place`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// Dotted path of the field.
    pub field: String,
    /// Why it was refused.
    pub reason: Why,
}

impl FieldError {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, reason: Why) -> Self {
        Self { field: field.into(), reason }
    }
}

/// Surname and given names. Either may be absent: the register records people with no surname
/// or no name (*senza cognome*, *senza nome*), e.g. foundlings or people from countries whose
/// naming has no surname.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawName")]
pub struct PersonName {
    surname: Option<String>,
    given: Option<String>,
}

/// A name as received, checked by [`PersonName::new`] before it becomes one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawName {
    #[serde(default)]
    surname: Option<String>,
    #[serde(default)]
    given: Option<String>,
}

impl TryFrom<RawName> for PersonName {
    type Error = FieldError;
    fn try_from(r: RawName) -> Result<Self, FieldError> {
        PersonName::new(r.surname.as_deref(), r.given.as_deref())
    }
}

/// ANPR's `alfabeticoNomiCognomi`: 80 characters.
const NAME_MAX: usize = 80;

fn clean_name(field: &str, value: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(v) = value else { return Ok(None) };
    let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
    if v.is_empty() {
        return Err(FieldError::new(field, Why::new("name-empty")));
    }
    if v.chars().count() > NAME_MAX {
        return Err(FieldError::new(field, Why::new("too-long").arg("max", NAME_MAX)));
    }
    if let Some(c) = v.chars().find(|c| !(c.is_alphabetic() || matches!(c, ' ' | '\'' | '’' | '-' | '.'))) {
        return Err(FieldError::new(field, Why::new("name-char").arg("char", crate::text::shown(c))));
    }
    Ok(Some(v))
}

impl PersonName {
    /// Builds a name; `None` records "no surname" / "no name". At least one must be present.
    pub fn new(surname: Option<&str>, given: Option<&str>) -> Result<Self, FieldError> {
        let surname = clean_name("surname", surname)?;
        let given = clean_name("name", given)?;
        if surname.is_none() && given.is_none() {
            return Err(FieldError::new("surname", Why::new("name-none")));
        }
        Ok(Self { surname, given })
    }

    /// Surname, or `None` for a person without one.
    pub fn surname(&self) -> Option<&str> {
        self.surname.as_deref()
    }

    /// Given name(s), or `None` for a person without one.
    pub fn given(&self) -> Option<&str> {
        self.given.as_deref()
    }
}

/// Where a person was born.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "RawBirthPlace")]
pub enum BirthPlace {
    /// An Italian comune, by the code it had on the birth date.
    Comune {
        /// Belfiore code valid on the birth date.
        code: Belfiore,
    },
    /// Abroad: the state (by its `Z` code, valid on the birth date) and the locality.
    Abroad {
        /// `Z` code of the state.
        state: Belfiore,
        /// Locality as written on the birth record.
        locality: Option<ForeignLocality>,
    },
}

impl BirthPlace {
    /// The code that goes into the codice fiscale.
    pub fn code(&self) -> Belfiore {
        match self {
            BirthPlace::Comune { code } => *code,
            BirthPlace::Abroad { state, .. } => *state,
        }
    }
}

/// Personal data proper (*generalità*): what identifies a person and changes rarely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generalita {
    /// Surname and name.
    pub name: PersonName,
    /// Sex.
    pub sex: Sex,
    /// Birth date, possibly partial.
    pub birth_date: PartialDate,
    /// Birthplace.
    pub birth_place: BirthPlace,
    /// Codice fiscale, when assigned.
    pub codice_fiscale: Option<CodiceFiscale>,
    /// Whether the Revenue Agency has validated the code against these data (tab. 22).
    pub cf_validation: StatoValidazioneCf,
}

impl Generalita {
    /// Checks the data against the reference data and the codice fiscale against the data.
    pub fn check(&self, refdata: &RefData) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let on = self.birth_date.first_day();
        match &self.birth_place {
            BirthPlace::Comune { code } if code.is_foreign_state() => {
                errs.push(FieldError::new("birth_place.code", Why::new("place-is-state")))
            }
            BirthPlace::Abroad { state, .. } if !state.is_foreign_state() => {
                errs.push(FieldError::new("birth_place.state", Why::new("not-state")))
            }
            p => {
                if let Err(e) = refdata.place_at(p.code(), on) {
                    errs.push(FieldError::new("birth_place", Why::from(e)));
                }
            }
        }
        if let (Some(cf), Some(date)) = (self.codice_fiscale, self.birth_date.as_full()) {
            let input = CfInput {
                surname: self.name.surname().unwrap_or(""),
                name: self.name.given().unwrap_or(""),
                sex: self.sex,
                birth_date: date,
                birth_place: self.birth_place.code(),
            };
            let parts = cf.mismatches(&input);
            if !parts.is_empty() {
                errs.push(FieldError::new("codice_fiscale", Why::new("cf-mismatch").arg("parts", parts.join(", "))));
            }
        }
        errs
    }
}

/// A country of citizenship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "state", rename_all = "snake_case")]
pub enum Country {
    /// Italy.
    Italia,
    /// Another state, by its `Z` code.
    Foreign(Belfiore),
}

impl Country {
    /// `"ITA"` for Italy, the `Z` code otherwise: the form kept in storage.
    pub fn storage_code(&self) -> String {
        match self {
            Country::Italia => "ITA".to_owned(),
            Country::Foreign(z) => z.to_string(),
        }
    }

    /// Inverse of [`Country::storage_code`].
    pub fn from_storage_code(s: &str) -> Option<Self> {
        if s == "ITA" { Some(Country::Italia) } else { Belfiore::parse(s).ok().filter(Belfiore::is_foreign_state).map(Country::Foreign) }
    }
}

/// An address in Italy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItalianAddress {
    /// Comune (Belfiore code).
    pub comune: Belfiore,
    /// Postcode.
    pub cap: Option<Cap>,
    /// Toponym species (`VIA`, `PIAZZA`, … as in ANPR's *specie toponimo* table).
    pub species: Species,
    /// Toponym (street name).
    pub toponym: Toponym,
    /// Civic number with its suffix (`12/B`).
    pub civic: Option<Civic>,
    /// Staircase, floor, internal number.
    pub internal: Option<Internal>,
    /// Locality or hamlet (*frazione*).
    pub locality: Option<Locality>,
}

/// An address abroad (AIRE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignAddress {
    /// State (`Z` code).
    pub state: Belfiore,
    /// City or locality.
    pub locality: ForeignLocality,
    /// Street address, as written locally.
    pub address: Option<ForeignStreet>,
    /// Local postcode.
    pub postcode: Option<ForeignPostcode>,
    /// Consulate of competence (code of ANPR's consulates table).
    pub consulate: Option<ConsulateCode>,
}

/// Where a person lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "RawResidence")]
pub enum Residence {
    /// Resident in Italy (APR of that comune).
    Italy(ItalianAddress),
    /// Italian citizen resident abroad, registered in the AIRE of `aire_comune`.
    Abroad {
        /// Address abroad.
        address: ForeignAddress,
        /// Comune whose AIRE holds the record.
        aire_comune: Belfiore,
    },
}

/// The two kinds of [`Residence`] and of [`BirthPlace`], as the `kind` field names them.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PlaceKind {
    Italy,
    Abroad,
    Comune,
}

/// A residence as received: one flat object, so that a refused field is named by its path
/// (`residence.toponym`). Serde reads an internally tagged enum through a buffer that loses the
/// path below the enum; this shape keeps it. The same JSON as [`Residence`]'s.
#[derive(Deserialize)]
struct RawResidence {
    kind: PlaceKind,
    #[serde(default)]
    comune: Option<Belfiore>,
    #[serde(default)]
    cap: Option<Cap>,
    #[serde(default)]
    species: Option<Species>,
    #[serde(default)]
    toponym: Option<Toponym>,
    #[serde(default)]
    civic: Option<Civic>,
    #[serde(default)]
    internal: Option<Internal>,
    #[serde(default)]
    locality: Option<Locality>,
    #[serde(default)]
    address: Option<ForeignAddress>,
    #[serde(default)]
    aire_comune: Option<Belfiore>,
}

fn required<T>(v: Option<T>, field: &str) -> Result<T, FieldError> {
    v.ok_or_else(|| FieldError::new(field, Why::new("required")))
}

impl TryFrom<RawResidence> for Residence {
    type Error = FieldError;
    fn try_from(r: RawResidence) -> Result<Self, FieldError> {
        match r.kind {
            PlaceKind::Italy => {
                if r.address.is_some() || r.aire_comune.is_some() {
                    let field = if r.address.is_some() { "address" } else { "aire_comune" };
                    return Err(FieldError::new(field, Why::new("only-abroad")));
                }
                Ok(Residence::Italy(ItalianAddress {
                    comune: required(r.comune, "comune")?,
                    cap: r.cap,
                    species: required(r.species, "species")?,
                    toponym: required(r.toponym, "toponym")?,
                    civic: r.civic,
                    internal: r.internal,
                    locality: r.locality,
                }))
            }
            PlaceKind::Abroad => {
                let italian = [
                    (r.comune.is_some(), "comune"),
                    (r.cap.is_some(), "cap"),
                    (r.species.is_some(), "species"),
                    (r.toponym.is_some(), "toponym"),
                    (r.civic.is_some(), "civic"),
                    (r.internal.is_some(), "internal"),
                    (r.locality.is_some(), "locality"),
                ];
                if let Some((_, field)) = italian.iter().find(|(present, _)| *present) {
                    return Err(FieldError::new(*field, Why::new("only-italy")));
                }
                Ok(Residence::Abroad { address: required(r.address, "address")?, aire_comune: required(r.aire_comune, "aire_comune")? })
            }
            PlaceKind::Comune => Err(FieldError::new("kind", Why::new("one-of").arg("values", "italy, abroad"))),
        }
    }
}

/// A birthplace as received, flat for the same reason as [`RawResidence`].
#[derive(Deserialize)]
struct RawBirthPlace {
    kind: PlaceKind,
    #[serde(default)]
    code: Option<Belfiore>,
    #[serde(default)]
    state: Option<Belfiore>,
    #[serde(default)]
    locality: Option<ForeignLocality>,
}

impl TryFrom<RawBirthPlace> for BirthPlace {
    type Error = FieldError;
    fn try_from(r: RawBirthPlace) -> Result<Self, FieldError> {
        match r.kind {
            PlaceKind::Comune if r.state.is_none() && r.locality.is_none() => Ok(BirthPlace::Comune { code: required(r.code, "code")? }),
            PlaceKind::Comune => Err(FieldError::new(if r.state.is_some() { "state" } else { "locality" }, Why::new("only-born-abroad"))),
            PlaceKind::Abroad if r.code.is_none() => Ok(BirthPlace::Abroad { state: required(r.state, "state")?, locality: r.locality }),
            PlaceKind::Abroad => Err(FieldError::new("code", Why::new("only-born-comune"))),
            PlaceKind::Italy => Err(FieldError::new("kind", Why::new("one-of").arg("values", "comune, abroad"))),
        }
    }
}

impl Residence {
    /// The comune competent for the record: of residence, or of AIRE registration.
    pub fn competent_comune(&self) -> Belfiore {
        match self {
            Residence::Italy(a) => a.comune,
            Residence::Abroad { aire_comune, .. } => *aire_comune,
        }
    }
}

/// The household a person belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Household {
    /// A family (*famiglia anagrafica*), with the relation to its head (tab. 05).
    Family {
        /// Internal family id.
        family_id: i64,
        /// Relation to the head.
        relation: RelazioneParentela,
    },
    /// A cohabitation (*convivenza*: convent, barracks, care home…), with the bond (tab. 06).
    Cohabitation {
        /// Internal cohabitation id.
        family_id: i64,
        /// Bond within the cohabitation.
        bond: LegameConvivenza,
    },
}

/// Whether a household is a family or a cohabitation, and of which kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HouseholdKind {
    /// A family.
    Family,
    /// A cohabitation of the given kind (tab. 27).
    Cohabitation {
        /// Kind of cohabitation.
        specie: SpecieConvivenza,
    },
}

/// Kinds of identity document the register records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Electronic identity card.
    Cie,
    /// Paper identity card.
    CartaIdentitaCartacea,
    /// Passport.
    Passaporto,
    /// Residence permit, with its kind (tab. 08).
    PermessoSoggiorno(TipoSoggiorno),
}

/// An identity document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityDocument {
    /// Kind.
    pub kind: DocumentKind,
    /// Number as printed.
    pub number: DocumentNumber,
    /// Date of issue.
    pub issued_on: NaiveDate,
    /// Expiry date.
    pub expires_on: Option<NaiveDate>,
    /// Issuing authority.
    pub issuer: Option<Issuer>,
}

/// Death data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Death {
    /// Date of death (possibly partial for presumed death).
    pub date: PartialDate,
    /// Place of death: comune or state code.
    pub place: Option<Belfiore>,
    /// Locality abroad.
    pub locality: Option<ForeignLocality>,
}

/// Where a person stands in the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterStatus {
    /// Resident in Italy (APR).
    Resident,
    /// Registered in AIRE (resident abroad).
    Aire,
    /// Cancelled for a reason other than death.
    Cancelled,
    /// Dead.
    Deceased,
}

impl RegisterStatus {
    /// Storage code.
    pub fn code(self) -> i16 {
        match self {
            Self::Resident => 1,
            Self::Aire => 2,
            Self::Cancelled => 3,
            Self::Deceased => 4,
        }
    }

    /// Inverse of [`RegisterStatus::code`].
    pub fn from_code(c: i16) -> Option<Self> {
        match c {
            1 => Some(Self::Resident),
            2 => Some(Self::Aire),
            3 => Some(Self::Cancelled),
            4 => Some(Self::Deceased),
            _ => None,
        }
    }
}

/// A person's record as of one date (*scheda anagrafica*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    /// The ID ANPR, once assigned.
    pub id_anpr: Option<IdAnpr>,
    /// Position in the register.
    pub status: RegisterStatus,
    /// Personal data.
    pub generalita: Generalita,
    /// Citizenships (several possible).
    pub citizenships: Vec<Country>,
    /// Civil status (tab. 01).
    pub civil_status: StatoCivile,
    /// Residence in Italy or abroad.
    pub residence: Residence,
    /// Family or cohabitation.
    pub household: Option<Household>,
    /// Identity documents.
    pub documents: Vec<IdentityDocument>,
    /// E-mail address.
    pub email: Option<EmailAddress>,
    /// Digital domicile (PEC address).
    pub digital_domicile: Option<EmailAddress>,
    /// Death data, for deceased persons.
    pub death: Option<Death>,
}

impl PersonRecord {
    /// Checks the whole record; every problem is reported with its field.
    pub fn check(&self, refdata: &RefData, today: NaiveDate) -> Vec<FieldError> {
        let mut errs: Vec<FieldError> =
            self.generalita.check(refdata).into_iter().map(|e| FieldError::new(format!("generalita.{}", e.field), e.reason)).collect();
        if self.generalita.birth_date.first_day() > today {
            errs.push(FieldError::new("generalita.birth_date", Why::new("future")));
        }
        if self.citizenships.is_empty() {
            errs.push(FieldError::new("citizenships", Why::new("citizenship-none")));
        }
        for (i, c) in self.citizenships.iter().enumerate() {
            if self.citizenships[..i].contains(c) {
                errs.push(FieldError::new(format!("citizenships[{i}]"), Why::new("twice")));
            }
        }
        crate::ops::check_residence(&mut errs, &self.residence, refdata, today);
        if matches!(self.residence, Residence::Abroad { .. }) && !self.citizenships.contains(&Country::Italia) {
            errs.push(FieldError::new("citizenships", Why::new("aire-italians")));
        }
        if let Some(d) = &self.death
            && d.date.first_day() < self.generalita.birth_date.first_day()
        {
            errs.push(FieldError::new("death.date", Why::new("before-birth")));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_allow_missing_parts_but_not_both() {
        assert!(PersonName::new(None, Some("Ahmed")).is_ok());
        assert!(PersonName::new(Some("D'Angelo-Rossi"), None).is_ok());
        assert_eq!(PersonName::new(None, None).unwrap_err().field, "surname");
        assert_eq!(PersonName::new(Some("  "), Some("X")).unwrap_err().field, "surname");
        assert_eq!(PersonName::new(Some("Rossi"), Some("M4rio")).unwrap_err().field, "name");
        assert_eq!(PersonName::new(Some("  de   Luca "), Some("Anna")).unwrap().surname(), Some("de Luca"));
    }

    #[test]
    fn generalita_check_catches_an_inconsistent_codice_fiscale() {
        let g = Generalita {
            name: PersonName::new(Some("Rossi"), Some("Mario")).unwrap(),
            sex: Sex::M,
            birth_date: PartialDate::parse("1980-01-01").unwrap(),
            birth_place: BirthPlace::Comune { code: Belfiore::parse("H501").unwrap() },
            codice_fiscale: Some(CodiceFiscale::parse("RSSMRA80A01H501U").unwrap()),
            cf_validation: StatoValidazioneCf::DatiAnagraficiValidati,
        };
        assert!(g.check(&RefData::current()).is_empty());
        let mut wrong = g.clone();
        wrong.sex = Sex::F;
        let errs = wrong.check(&RefData::current());
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "codice_fiscale");
        let mut nowhere = g;
        nowhere.birth_place = BirthPlace::Comune { code: Belfiore::parse("M403").unwrap() };
        nowhere.codice_fiscale = None;
        assert_eq!(nowhere.check(&RefData::current())[0].field, "birth_place");
    }
}
