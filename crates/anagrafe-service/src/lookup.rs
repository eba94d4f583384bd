//! Lookups for public bodies' e-services (INT-2, IDN-4): who the search criteria name on a
//! date, their record, their household's members. The e-service door (PDND) checks the call,
//! turns ANPR's request shape into a `Subject`, asks here, and answers in ANPR's shape; it traces
//! each answered call together with the answer kept for its operation id (one commit), so these
//! reads do not trace on their own.

use crate::{ServiceError, ServiceResult};
use anagrafe_domain::{CodiceFiscale, Household, IdAnpr, IdStatus};
use anagrafe_store::prelude::*;
use anagrafe_store::{FamilyMember, GeneralitaQuery, PersonView, StoreError};
use chrono::NaiveDate;
use std::sync::Arc;

/// Whom a public body's call asks about.
#[derive(Debug, Clone)]
pub enum Subject {
    /// By ID ANPR.
    Id(IdAnpr),
    /// Whoever held this codice fiscale on the date.
    Cf(CodiceFiscale),
    /// By personal data.
    Data(GeneralitaQuery),
}

/// The lookups over one store.
#[derive(Debug, Clone)]
pub struct Lookup {
    store: Arc<dyn Store>,
}

impl Lookup {
    /// The lookups over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// The record on `date`, if the person was in the register then (`None` otherwise).
    pub async fn record_on(&self, person_id: i64, date: NaiveDate) -> ServiceResult<Option<PersonView>> {
        match self.store.person(person_id, Some(date)).await {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The records (with an ID ANPR) the subject names on `date`: none, one, or several when
    /// the criteria are ambiguous. An invalidated ID names nobody.
    pub async fn persons(&self, subject: &Subject, date: NaiveDate) -> ServiceResult<Vec<PersonView>> {
        let pids = match subject {
            Subject::Id(id) => match self.store.find_by_id_anpr(id).await? {
                Some((pid, status)) if status != IdStatus::Invalid => vec![pid],
                _ => vec![],
            },
            Subject::Cf(cf) => self.store.find_by_cf(cf, Some(date)).await?,
            Subject::Data(q) => self.store.find_by_generalita(q, Some(date)).await?,
        };
        let mut views = Vec::new();
        for pid in pids {
            if let Some(v) = self.record_on(pid, date).await?.filter(|v| v.record.id_anpr.is_some()) {
                views.push(v);
            }
        }
        Ok(views)
    }

    /// The record of a valid (not suspended, not invalidated) ID ANPR on `date`.
    pub async fn valid_id(&self, id: &IdAnpr, date: NaiveDate) -> ServiceResult<Option<PersonView>> {
        match self.store.find_by_id_anpr(id).await? {
            Some((pid, IdStatus::Valid)) => self.record_on(pid, date).await,
            _ => Ok(None),
        }
    }

    /// C030's path: `(internal id, ID ANPR, codice fiscale when searched by it)` of whom the
    /// subject names on `date`, without reading the whole record. An ID ANPR is no criterion
    /// here (C030 finds it): `Malformed`.
    pub async fn ids(&self, subject: &Subject, date: NaiveDate) -> ServiceResult<Vec<(i64, String, Option<String>)>> {
        Ok(match subject {
            Subject::Cf(cf) => self.store.ids_by_cf(cf, Some(date)).await?.into_iter().map(|(p, i)| (p, i, Some(cf.to_string()))).collect(),
            Subject::Data(q) => {
                let mut out = Vec::new();
                for pid in self.store.find_by_generalita(q, Some(date)).await? {
                    if let Some((id, _)) = self.store.id_anpr_of(pid).await? {
                        out.push((pid, id, None));
                    }
                }
                out
            }
            Subject::Id(_) => {
                return Err(ServiceError::malformed("idANPR", "C030 finds the ID ANPR: search by codiceFiscale or by personal data"));
            }
        })
    }

    /// The members of a household on `date`, each with their record then (`None` for a member
    /// whose record cannot be read on that date).
    pub async fn household(&self, household: Household, date: NaiveDate) -> ServiceResult<Vec<(FamilyMember, Option<PersonView>)>> {
        let (Household::Family { family_id, .. } | Household::Cohabitation { family_id, .. }) = household;
        let mut out = Vec::new();
        for m in self.store.family(family_id, Some(date)).await?.members {
            let v = self.record_on(m.person_id, date).await?;
            out.push((m, v));
        }
        Ok(out)
    }
}
