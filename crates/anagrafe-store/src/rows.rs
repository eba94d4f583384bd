//! Conversions between domain values and the flat rows both backends store, and the rows
//! themselves: one named struct per shape a query returns, read by column name
//! (`sqlx::FromRow` is generic over the row type, so one struct serves both backends).

use crate::{Result, StoreError};
use anagrafe_domain::decode::DecodeTable;
use anagrafe_domain::decode::{SpecieConvivenza, TipoSoggiorno};
use anagrafe_domain::text::Line;
use anagrafe_domain::{
    Belfiore, BirthPlace, Cap, CodiceFiscale, Country, DatePrecision, DocumentKind, ForeignAddress, HouseholdKind, ItalianAddress,
    PartialDate, Residence, Sex,
};
use chrono::NaiveDate;

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// A stored line of free text, checked again as the domain checks it.
pub(crate) fn line<const N: usize, const S: u8>(s: String) -> Result<Line<N, S>> {
    Line::new(&s).map_err(|e| corrupt(format!("stored text: {e}")))
}

pub(crate) fn opt_line<const N: usize, const S: u8>(s: Option<String>) -> Result<Option<Line<N, S>>> {
    s.map(line).transpose()
}

fn text<const N: usize, const S: u8>(l: &Option<Line<N, S>>) -> Option<String> {
    l.clone().map(String::from)
}

pub(crate) fn belfiore(s: &str) -> Result<Belfiore> {
    Belfiore::parse(s).map_err(corrupt)
}

pub(crate) fn role(s: &str) -> Result<anagrafe_domain::Role> {
    anagrafe_domain::Role::parse(s).map_err(corrupt)
}

pub(crate) fn opt_belfiore(s: Option<String>) -> Result<Option<Belfiore>> {
    s.map(|s| belfiore(&s)).transpose()
}

pub(crate) fn partial_date(first: NaiveDate, precision: &str) -> Result<PartialDate> {
    let p = DatePrecision::from_code(precision).ok_or_else(|| corrupt(format!("date precision {precision:?}")))?;
    Ok(PartialDate::from_parts(first, p))
}

pub(crate) fn sex(s: &str) -> Result<Sex> {
    Sex::parse(s).ok_or_else(|| corrupt(format!("sex {s:?}")))
}

pub(crate) fn cf(s: Option<String>) -> Result<Option<CodiceFiscale>> {
    s.map(|s| CodiceFiscale::parse(&s).map_err(corrupt)).transpose()
}

pub(crate) fn decode<T: DecodeTable<Code = u16>>(code: i16) -> Result<T> {
    u16::try_from(code).ok().and_then(T::from_code).ok_or_else(|| corrupt(format!("code {code} of table {}", T::TABLE)))
}

pub(crate) fn code_of<T: DecodeTable<Code = u16>>(v: T) -> i16 {
    v.code() as i16
}

pub(crate) fn country(s: &str) -> Result<Country> {
    Country::from_storage_code(s).ok_or_else(|| corrupt(format!("country {s:?}")))
}

/// Birthplace split into (code, locality).
pub(crate) fn birth_place_cols(p: &BirthPlace) -> (String, Option<String>) {
    match p {
        BirthPlace::Comune { code } => (code.to_string(), None),
        BirthPlace::Abroad { state, locality } => (state.to_string(), text(locality)),
    }
}

pub(crate) fn birth_place(code: &str, locality: Option<String>) -> Result<BirthPlace> {
    let code = belfiore(code)?;
    Ok(if code.is_foreign_state() {
        BirthPlace::Abroad { state: code, locality: opt_line(locality)? }
    } else {
        BirthPlace::Comune { code }
    })
}

/// Residence columns, in table order after the temporal ones ([`RES_COLS`]).
#[derive(Debug, Default, sqlx::FromRow)]
pub(crate) struct ResidenceCols {
    pub abroad: bool,
    pub comune: Option<String>,
    pub cap: Option<String>,
    pub species: Option<String>,
    pub toponym: Option<String>,
    pub civic: Option<String>,
    pub internal: Option<String>,
    pub locality: Option<String>,
    pub foreign_state: Option<String>,
    pub foreign_locality: Option<String>,
    pub foreign_address: Option<String>,
    pub foreign_postcode: Option<String>,
    pub consulate: Option<String>,
}

impl ResidenceCols {
    pub(crate) fn from_residence(r: &Residence) -> Self {
        match r {
            Residence::Italy(a) => Self {
                abroad: false,
                comune: Some(a.comune.to_string()),
                cap: a.cap.map(|c| c.to_string()),
                species: Some(a.species.to_string()),
                toponym: Some(a.toponym.to_string()),
                civic: text(&a.civic),
                internal: text(&a.internal),
                locality: text(&a.locality),
                ..Self::default()
            },
            Residence::Abroad { address, aire_comune } => Self {
                abroad: true,
                comune: Some(aire_comune.to_string()),
                foreign_state: Some(address.state.to_string()),
                foreign_locality: Some(address.locality.to_string()),
                foreign_address: text(&address.address),
                foreign_postcode: text(&address.postcode),
                consulate: text(&address.consulate),
                ..Self::default()
            },
        }
    }

    pub(crate) fn into_residence(self) -> Result<Residence> {
        let comune = belfiore(self.comune.as_deref().ok_or_else(|| corrupt("residence without comune"))?)?;
        if self.abroad {
            Ok(Residence::Abroad {
                aire_comune: comune,
                address: ForeignAddress {
                    state: belfiore(self.foreign_state.as_deref().ok_or_else(|| corrupt("foreign residence without state"))?)?,
                    locality: line(self.foreign_locality.ok_or_else(|| corrupt("foreign residence without locality"))?)?,
                    address: opt_line(self.foreign_address)?,
                    postcode: opt_line(self.foreign_postcode)?,
                    consulate: opt_line(self.consulate)?,
                },
            })
        } else {
            Ok(Residence::Italy(ItalianAddress {
                comune,
                cap: self.cap.map(|c| Cap::parse(&c).map_err(corrupt)).transpose()?,
                species: line(self.species.ok_or_else(|| corrupt("residence without species"))?)?,
                toponym: line(self.toponym.ok_or_else(|| corrupt("residence without toponym"))?)?,
                civic: opt_line(self.civic)?,
                internal: opt_line(self.internal)?,
                locality: opt_line(self.locality)?,
            }))
        }
    }
}

/// Household kind to (kind, specie) columns.
pub(crate) fn household_cols(k: &HouseholdKind) -> (&'static str, Option<i16>) {
    match k {
        HouseholdKind::Family => ("F", None),
        HouseholdKind::Cohabitation { specie } => ("C", Some(code_of(*specie))),
    }
}

pub(crate) fn household_kind(kind: &str, specie: Option<i16>) -> Result<HouseholdKind> {
    match kind {
        "F" => Ok(HouseholdKind::Family),
        "C" => Ok(HouseholdKind::Cohabitation { specie: decode::<SpecieConvivenza>(specie.unwrap_or(6))? }),
        other => Err(corrupt(format!("household kind {other:?}"))),
    }
}

pub(crate) fn document_kind_cols(k: &DocumentKind) -> (&'static str, Option<i16>) {
    match k {
        DocumentKind::Cie => ("cie", None),
        DocumentKind::CartaIdentitaCartacea => ("carta_identita_cartacea", None),
        DocumentKind::Passaporto => ("passaporto", None),
        DocumentKind::PermessoSoggiorno(t) => ("permesso_soggiorno", Some(code_of(*t))),
    }
}

pub(crate) fn document_kind(kind: &str, permit: Option<i16>) -> Result<DocumentKind> {
    Ok(match kind {
        "cie" => DocumentKind::Cie,
        "carta_identita_cartacea" => DocumentKind::CartaIdentitaCartacea,
        "passaporto" => DocumentKind::Passaporto,
        "permesso_soggiorno" => DocumentKind::PermessoSoggiorno(decode::<TipoSoggiorno>(permit.unwrap_or(9))?),
        other => return Err(corrupt(format!("document kind {other:?}"))),
    })
}

/// Columns of a residence row, as [`ResidenceCols`] names them.
pub(crate) const RES_COLS: &str = "abroad, comune, cap, species, toponym, civic, internal, locality, foreign_state, foreign_locality, \
     foreign_address, foreign_postcode, consulate";

/// Columns of a certificate record, as [`CertificateRow`] names them.
pub(crate) const CERT_COLS: &str =
    "id, person_id, types, langs, issued_at, expires_on, requester, stamp, sha256, size, deleted_at, delete_reason";

/// A row of `certificates` ([`CERT_COLS`]).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CertificateRow {
    pub id: String,
    pub person_id: i64,
    pub types: String,
    pub langs: String,
    pub issued_at: i64,
    pub expires_on: NaiveDate,
    pub requester: String,
    pub stamp: String,
    pub sha256: String,
    pub size: i64,
    pub deleted_at: Option<i64>,
    pub delete_reason: Option<String>,
}

impl CertificateRow {
    /// The certificate's record.
    pub(crate) fn into_certificate(self) -> Result<crate::StoredCertificate> {
        Ok(crate::StoredCertificate {
            id: self.id,
            person_id: self.person_id,
            types: self.types.split(',').map(|t| t.parse().map_err(|_| corrupt("certificate types"))).collect::<Result<_>>()?,
            langs: self.langs.split(',').map(str::to_owned).collect(),
            issued_at: self.issued_at,
            expires_on: self.expires_on,
            requester: self.requester,
            stamp: serde_json::from_str(&self.stamp).map_err(|_| corrupt("certificate stamp"))?,
            sha256: self.sha256,
            size: self.size,
            deleted_at: self.deleted_at,
            delete_reason: self.delete_reason,
        })
    }
}

/// A residence with the period it held (`valid_from, valid_to,` then [`RES_COLS`]).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DatedResidenceRow {
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    #[sqlx(flatten)]
    pub residence: ResidenceCols,
}

/// A citizenship with the period it held.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CitizenshipRow {
    pub country: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

/// A counter taken by `counters_sql`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CounterRow {
    pub name: String,
    pub next: i64,
}

/// The audit chain's head as a write locks it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct LockedHeadRow {
    pub seq: i64,
    pub hash: String,
    pub last_at_ms: i64,
}

/// The audit chain's head as the verification reads it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ChainHeadRow {
    pub seq: i64,
    pub hash: String,
}

/// A signed checkpoint as kept (`audit_checkpoints`).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CheckpointRow {
    pub seq: i64,
    pub hash: String,
    pub at_ms: i64,
    pub key_id: String,
    pub signature: String,
    pub id_high_water: Option<i64>,
}

/// A version of a person's personal data (`person_generalita`), with its period.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct GeneralitaRow {
    pub surname: Option<String>,
    pub given_name: Option<String>,
    pub sex: String,
    pub birth_date: NaiveDate,
    pub birth_date_precision: String,
    pub birth_place: String,
    pub birth_locality: Option<String>,
    pub codice_fiscale: Option<String>,
    pub cf_validation: i16,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

impl GeneralitaRow {
    /// `(valid_from, valid_to, data)`.
    pub(crate) fn into_version(self) -> Result<(NaiveDate, Option<NaiveDate>, anagrafe_domain::Generalita)> {
        let data = anagrafe_domain::Generalita {
            name: anagrafe_domain::PersonName::new(self.surname.as_deref(), self.given_name.as_deref()).map_err(corrupt)?,
            sex: sex(&self.sex)?,
            birth_date: partial_date(self.birth_date, &self.birth_date_precision)?,
            birth_place: birth_place(&self.birth_place, self.birth_locality)?,
            codice_fiscale: cf(self.codice_fiscale)?,
            cf_validation: decode(self.cf_validation)?,
        };
        Ok((self.valid_from, self.valid_to, data))
    }
}

/// A person's own row, with the ID ANPR in use.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PersonRow {
    pub id_anpr: Option<String>,
    pub status: i16,
    pub email: Option<String>,
    pub digital_domicile: Option<String>,
}

/// A person's death (`person_deaths`).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DeathRow {
    pub death_date: NaiveDate,
    pub death_date_precision: String,
    pub place: Option<String>,
    pub locality: Option<String>,
}

impl DeathRow {
    /// The death as the record shows it.
    pub(crate) fn into_death(self) -> Result<anagrafe_domain::Death> {
        Ok(anagrafe_domain::Death {
            date: partial_date(self.death_date, &self.death_date_precision)?,
            place: opt_belfiore(self.place)?,
            locality: opt_line(self.locality)?,
        })
    }
}

/// A person's membership of a household, with the household's kind.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MembershipRow {
    pub family_id: i64,
    pub relation: i16,
    pub kind: String,
}

impl MembershipRow {
    /// The household as the record shows it (relation of tab. 05, or bond of tab. 06).
    pub(crate) fn into_household(self) -> Result<anagrafe_domain::Household> {
        use anagrafe_domain::Household;
        let family_id = self.family_id;
        Ok(match self.kind.as_str() {
            "C" => Household::Cohabitation { family_id, bond: decode(self.relation)? },
            _ => Household::Family { family_id, relation: decode(self.relation)? },
        })
    }
}

/// An identity document (`person_documents`).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DocumentRow {
    pub kind: String,
    pub permit_kind: Option<i16>,
    pub number: String,
    pub issued_on: NaiveDate,
    pub expires_on: Option<NaiveDate>,
    pub issuer: Option<String>,
}

impl DocumentRow {
    /// The document as the record shows it.
    pub(crate) fn into_document(self) -> Result<anagrafe_domain::IdentityDocument> {
        Ok(anagrafe_domain::IdentityDocument {
            kind: document_kind(&self.kind, self.permit_kind)?,
            number: line(self.number)?,
            issued_on: self.issued_on,
            expires_on: self.expires_on,
            issuer: opt_line(self.issuer)?,
        })
    }
}

/// A household's own row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FamilyRow {
    pub kind: String,
    pub specie: Option<i16>,
    pub comune: String,
    pub formed_on: NaiveDate,
}

/// A member of a household, with the member's ID ANPR in use.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MemberRow {
    pub person_id: i64,
    pub relation: i16,
    pub id_anpr: Option<String>,
}

impl MemberRow {
    /// The member as the household view lists it.
    pub(crate) fn into_member(self) -> Result<crate::FamilyMember> {
        Ok(crate::FamilyMember {
            person_id: self.person_id,
            relation: self.relation as u16,
            id_anpr: self.id_anpr.map(|s| anagrafe_domain::IdAnpr::parse(&s).map_err(corrupt)).transpose()?,
        })
    }
}

/// A row of `notifications` or `revenue_outbox`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FeedItemRow {
    pub id: i64,
    pub kind: String,
    pub event_id: i64,
    pub payload: String,
    pub created_at: i64,
}

impl FeedItemRow {
    /// The item, its payload parsed.
    pub(crate) fn into_item(self) -> Result<crate::FeedItem> {
        Ok(crate::FeedItem {
            id: self.id,
            kind: self.kind,
            event_id: self.event_id,
            payload: serde_json::from_str(&self.payload).map_err(corrupt)?,
            created_at: self.created_at,
        })
    }
}

/// The person an ID ANPR was issued to, and the ID's state code.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct IdHolderRow {
    pub person_id: i64,
    pub status: i16,
}

/// A person's ID ANPR and its state code.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct IdAnprRow {
    pub id_anpr: String,
    pub status: i16,
}

/// A person's internal id and ID ANPR.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct PersonIdAnprRow {
    pub person_id: i64,
    pub id_anpr: String,
}

/// A resident's internal id and codice fiscale.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ResidentCfRow {
    pub id: i64,
    pub codice_fiscale: String,
}

/// The state of an ID ANPR from its stored code.
pub(crate) fn id_status(code: i16) -> Result<anagrafe_domain::IdStatus> {
    anagrafe_domain::IdStatus::from_code(code).ok_or_else(|| corrupt(format!("ID ANPR status {code}")))
}

/// Where a person stands in the register, from its stored code.
pub(crate) fn register_status(code: i16) -> Result<anagrafe_domain::RegisterStatus> {
    anagrafe_domain::RegisterStatus::from_code(code).ok_or_else(|| corrupt(format!("register status {code}")))
}

/// A blocked address and the end of its block.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct BlockedRow {
    pub address: String,
    pub until: i64,
}

/// A captcha challenge taken.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CaptchaRow {
    pub answer_hash: String,
    pub expires_at: i64,
}

/// A reference-data file (`refdata`).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RefdataRow {
    pub name: String,
    pub content: String,
}

/// A person's competent comune and register status code (electoral segregation).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CompetenceRow {
    pub comune: String,
    pub status: i16,
}
