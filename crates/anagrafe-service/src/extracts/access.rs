//! Access monitoring of the extracts' users (VIS-7): a TOP user of the registry office sees, for
//! a day, the logins and the functions used by every user of the comune's organisations, an
//! ADMIN user those of their own organisation's users. Read from the trace; public-security
//! users (STANDARDPS) are left out, as from every other monitoring. The read is traced.

use super::{ExtractDesk, Requester};
use crate::ServiceResult;
use anagrafe_domain::Role;
use anagrafe_store::TraceQuery;

/// One action of a user, as the access monitoring lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    /// When (epoch ms).
    pub at_ms: i64,
    /// The user's login name.
    pub username: String,
    /// Their name.
    pub name: String,
    /// The operation traced (`operator.login`, `extract.request`, …).
    pub operation: String,
    /// Its outcome (`ok`, `refused…`).
    pub outcome: String,
}

impl ExtractDesk {
    /// The logins and functions used on `day` (Italian calendar) by the users `r` monitors,
    /// oldest first (at most 500 entries a user).
    pub async fn access_log(&self, r: &Requester, day: chrono::NaiveDate) -> ServiceResult<Vec<AccessEntry>> {
        let orgs = self.managed_orgs(r).await?;
        let from = crate::security::italian_midnight_ms(day);
        let to = day.succ_opt().map_or(i64::MAX, crate::security::italian_midnight_ms);
        let mut names = std::collections::BTreeSet::new();
        for org in &orgs {
            names.extend(self.store.operator_names_in_scope(&org.code).await?);
        }
        let mut out = Vec::new();
        let mut users = 0;
        for username in names {
            let Some(o) = self.store.operator(&username).await? else { continue };
            if o.roles.iter().any(|g| g.role == Role::PaStandardPs) {
                continue;
            }
            users += 1;
            let q =
                TraceQuery { actor: Some(format!("operator:{username}")), from_ms: Some(from), to_ms: Some(to), ..TraceQuery::default() };
            for e in self.store.audit_search(&q, i64::MAX, 500).await? {
                out.push(AccessEntry {
                    at_ms: e.at_ms,
                    username: username.clone(),
                    name: o.display_name.clone(),
                    operation: e.entry.operation,
                    outcome: e.entry.outcome,
                });
            }
        }
        out.sort_by_key(|e| e.at_ms);
        let mut e = r.principal.entry("extract.access_log_read", "ok");
        e.detail = serde_json::json!({ "day": day, "users": users, "entries": out.len() }).to_string();
        self.store.audit(&e).await?;
        Ok(out)
    }
}
