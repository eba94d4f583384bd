//! A citizen's own reads (CIT-1, CIT-2, SEC-5): the own record with the household, the own ID
//! ANPR, and "who looked at my data". The citizen is the one the session's codice fiscale names;
//! every read of the record or of its trace is itself traced.

use crate::{Principal, ServiceError, ServiceResult};
use anagrafe_domain::{CodiceFiscale, Household, IdAnpr, PersonRecord, Role};
use anagrafe_store::prelude::*;
use anagrafe_store::{FamilyMember, PersonView, StoredAudit};
use std::sync::Arc;

/// The citizen's own reads over one store.
#[derive(Debug, Clone)]
pub struct CitizenService {
    store: Arc<dyn Store>,
}

/// The own record as of today, with the other members of the household.
#[derive(Debug, Clone)]
pub struct OwnRecord {
    /// The record.
    pub view: PersonView,
    /// The household's members (the citizen included), each with their record.
    pub household: Vec<(FamilyMember, PersonRecord)>,
}

/// The internal id of the person a citizen is (by the codice fiscale of their login).
pub(crate) async fn own_person(store: &dyn Store, who: &Principal, what: &str) -> ServiceResult<i64> {
    who.require(&[Role::Citizen], what)?;
    let cf = who.codice_fiscale.as_deref().ok_or_else(|| ServiceError::Forbidden("the session names no codice fiscale".into()))?;
    let cf = CodiceFiscale::parse(cf).map_err(|_| ServiceError::Forbidden("the session's codice fiscale is not valid".into()))?;
    store
        .find_by_cf(&cf, None)
        .await?
        .first()
        .copied()
        .ok_or_else(|| ServiceError::NotFound("your record is no longer in the register".into()))
}

impl CitizenService {
    /// The service over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    async fn trace(&self, who: &Principal, operation: &str, pid: i64) -> ServiceResult<()> {
        let mut e = who.entry(operation, "ok");
        e.subject_person = Some(pid);
        e.subject_cf = who.codice_fiscale.clone();
        self.store.audit(&e).await?;
        Ok(())
    }

    /// The own record and household (CIT-1), traced like any access to personal data.
    pub async fn own_record(&self, who: &Principal) -> ServiceResult<OwnRecord> {
        let pid = own_person(&*self.store, who, "the own record").await?;
        let view = self.store.person(pid, None).await?;
        let mut household = Vec::new();
        if let Some(Household::Family { family_id, .. } | Household::Cohabitation { family_id, .. }) = view.record.household {
            for m in self.store.family(family_id, None).await?.members {
                let record = self.store.person(m.person_id, None).await?.record;
                household.push((m, record));
            }
        }
        self.trace(who, "citizen.record_view", pid).await?;
        Ok(OwnRecord { view, household })
    }

    /// The own ID ANPR (`NotFound` while the record has none).
    pub async fn own_id_anpr(&self, who: &Principal) -> ServiceResult<IdAnpr> {
        let pid = own_person(&*self.store, who, "the own record").await?;
        self.store.person(pid, None).await?.record.id_anpr.ok_or_else(|| ServiceError::NotFound("your record has no ID ANPR yet".into()))
    }

    /// The trace entries about the own record, newest first, below sequence number `before`
    /// (SEC-5: "who looked at my data"); the reading is traced too.
    pub async fn accesses(
        &self,
        who: &Principal,
        before: i64,
        limit: u32,
    ) -> ServiceResult<Vec<(StoredAudit, Option<anagrafe_domain::Belfiore>)>> {
        let pid = own_person(&*self.store, who, "the accesses to the own record").await?;
        let entries = self.store.audit_about(pid, before, limit).await?;
        // The comune each office or comune's software acted for, so the person reads which
        // comune looked (an operator's comune role, a client's comune), each actor read once.
        let mut comuni: std::collections::HashMap<String, Option<anagrafe_domain::Belfiore>> = std::collections::HashMap::new();
        for e in &entries {
            let actor = &e.entry.actor;
            if comuni.contains_key(actor) {
                continue;
            }
            let comune = if let Some(user) = actor.strip_prefix("operator:") {
                self.store.operator(user).await?.and_then(|o| o.roles.iter().find_map(|g| anagrafe_domain::Belfiore::parse(&g.scope).ok()))
            } else if let Some(client) = actor.strip_prefix("client:") {
                self.store.api_client(client).await?.and_then(|c| c.comune)
            } else {
                None
            };
            comuni.insert(actor.clone(), comune);
        }
        self.trace(who, "citizen.accesses_view", pid).await?;
        Ok(entries
            .into_iter()
            .map(|e| {
                let comune = comuni.get(&e.entry.actor).copied().flatten();
                (e, comune)
            })
            .collect())
    }
}
