//! Conversions between domain values and the flat rows both backends store.

use crate::{Result, StoreError};
use anagrafe_domain::decode::DecodeTable;
use anagrafe_domain::decode::{SpecieConvivenza, TipoSoggiorno};
use anagrafe_domain::{
    Belfiore, BirthPlace, Cap, CodiceFiscale, Country, DatePrecision, DocumentKind, ForeignAddress, HouseholdKind, ItalianAddress,
    PartialDate, Residence, Sex,
};
use chrono::NaiveDate;

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
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
        BirthPlace::Abroad { state, locality } => (state.to_string(), locality.clone()),
    }
}

pub(crate) fn birth_place(code: &str, locality: Option<String>) -> Result<BirthPlace> {
    let code = belfiore(code)?;
    Ok(if code.is_foreign_state() { BirthPlace::Abroad { state: code, locality } } else { BirthPlace::Comune { code } })
}

/// Residence columns, in table order after the temporal ones.
#[derive(Debug, Default)]
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
                species: Some(a.species.clone()),
                toponym: Some(a.toponym.clone()),
                civic: a.civic.clone(),
                internal: a.internal.clone(),
                locality: a.locality.clone(),
                ..Self::default()
            },
            Residence::Abroad { address, aire_comune } => Self {
                abroad: true,
                comune: Some(aire_comune.to_string()),
                foreign_state: Some(address.state.to_string()),
                foreign_locality: Some(address.locality.clone()),
                foreign_address: address.address.clone(),
                foreign_postcode: address.postcode.clone(),
                consulate: address.consulate.clone(),
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
                    locality: self.foreign_locality.unwrap_or_default(),
                    address: self.foreign_address,
                    postcode: self.foreign_postcode,
                    consulate: self.consulate,
                },
            })
        } else {
            Ok(Residence::Italy(ItalianAddress {
                comune,
                cap: self.cap.map(|c| Cap::parse(&c).map_err(corrupt)).transpose()?,
                species: self.species.unwrap_or_default(),
                toponym: self.toponym.unwrap_or_default(),
                civic: self.civic,
                internal: self.internal,
                locality: self.locality,
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

/// Columns of a residence row, in the order [`ResidenceCols::read`] expects.
pub(crate) const RES_COLS: &str = "abroad, comune, cap, species, toponym, civic, internal, locality, foreign_state, foreign_locality, \
     foreign_address, foreign_postcode, consulate";

impl ResidenceCols {
    /// Reads the [`RES_COLS`] columns starting at column `at`.
    pub(crate) fn read<R: sqlx::Row>(r: &R, at: usize) -> crate::Result<Self>
    where
        usize: sqlx::ColumnIndex<R>,
        for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
        for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(Self {
            abroad: r.try_get(at)?,
            comune: r.try_get(at + 1)?,
            cap: r.try_get(at + 2)?,
            species: r.try_get(at + 3)?,
            toponym: r.try_get(at + 4)?,
            civic: r.try_get(at + 5)?,
            internal: r.try_get(at + 6)?,
            locality: r.try_get(at + 7)?,
            foreign_state: r.try_get(at + 8)?,
            foreign_locality: r.try_get(at + 9)?,
            foreign_address: r.try_get(at + 10)?,
            foreign_postcode: r.try_get(at + 11)?,
            consulate: r.try_get(at + 12)?,
        })
    }
}

/// Columns of a certificate record, in the order [`certificate`] expects.
pub(crate) const CERT_COLS: &str =
    "id, person_id, types, langs, issued_at, expires_on, requester, stamp, sha256, size, deleted_at, delete_reason";

/// A certificate record from the [`CERT_COLS`] columns.
pub(crate) fn certificate<R: sqlx::Row>(r: &R) -> crate::Result<crate::StoredCertificate>
where
    usize: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> chrono::NaiveDate: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let types: String = r.try_get(2)?;
    let langs: String = r.try_get(3)?;
    let stamp: String = r.try_get(7)?;
    Ok(crate::StoredCertificate {
        id: r.try_get(0)?,
        person_id: r.try_get(1)?,
        types: types.split(',').map(|t| t.parse().map_err(|_| corrupt("certificate types"))).collect::<crate::Result<_>>()?,
        langs: langs.split(',').map(str::to_owned).collect(),
        issued_at: r.try_get(4)?,
        expires_on: r.try_get(5)?,
        requester: r.try_get(6)?,
        stamp: serde_json::from_str(&stamp).map_err(|_| corrupt("certificate stamp"))?,
        sha256: r.try_get(8)?,
        size: r.try_get(9)?,
        deleted_at: r.try_get(10)?,
        delete_reason: r.try_get(11)?,
    })
}
