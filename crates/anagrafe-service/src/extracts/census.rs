//! The extracts' user census (VIS-1, VIS-2): a TOP user of the registry office manages every
//! user of every organisation of the comune; an ADMIN user the users of their own organisation
//! (never a TOP user). Managing is creating an account with one role in a managed organisation,
//! suspending and reactivating it, and resetting its password and second factor. The accounts
//! are the register's operator accounts ([`crate::admin::AdminDesk`] writes them, traced as the
//! system administrator's changes are); what is checked here is the caller's authority.

use super::{ExtractDesk, Requester};
use crate::admin::{AccountChange, AdminDesk, NewOperator};
use crate::{ServiceError, ServiceResult};
use anagrafe_domain::extract::OrganisationKind;
use anagrafe_domain::{Role, Why};
use anagrafe_store::{ExtractOrg, Operator, RoleGrant};

/// A user as the census lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CensusUser {
    /// Login name.
    pub username: String,
    /// Name.
    pub name: String,
    /// Their roles in the managed organisations: role and organisation code.
    pub grants: Vec<(Role, String)>,
    /// Second factor enrolled.
    pub second_factor: bool,
    /// Suspended.
    pub suspended: bool,
}

/// A new user of an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Name shown in pages, traces and the extracts.
    pub display_name: String,
    /// The person's codice fiscale (SEC-4: written on every entry of their actions).
    pub codice_fiscale: String,
    /// One of the extracts' roles.
    pub role: Role,
    /// The organisation's code.
    pub org_code: String,
    /// Where the office's notices reach them (the daily e-mail, the alarms), if anywhere.
    pub email: Option<String>,
}

/// What a TOP or ADMIN user may change on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    /// No login, every session ended.
    Suspend,
    /// Active again.
    Reactivate,
    /// A new temporary password (its hash), the second factor to enrol again, the lock lifted.
    Reset {
        /// The argon2id hash of the temporary password the door generated.
        password_hash: String,
    },
    /// The address the office's notices reach them at (`None`: none).
    Email(Option<String>),
}

/// An e-mail address as the census keeps it, or the field's refusal.
fn email_of(raw: Option<&str>) -> ServiceResult<Option<String>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            anagrafe_domain::text::EmailAddress::new(s).map(|e| Some(e.to_string())).map_err(|e| ServiceError::invalid("email", e.into()))
        }
    }
}

impl ExtractDesk {
    /// The organisations whose users `r` manages: every one of the comune for a TOP user of the
    /// registry office, their own for an ADMIN user; `Forbidden` for anyone else.
    pub async fn managed_orgs(&self, r: &Requester) -> ServiceResult<Vec<ExtractOrg>> {
        match r.principal.role {
            Role::PaTop if r.org.kind == OrganisationKind::Registry => Ok(self.store.extract_orgs(r.org.comune).await?),
            Role::PaAdmin => Ok(vec![r.org.clone()]),
            _ => Err(ServiceError::Forbidden("the users' census is for TOP and ADMIN users".into())),
        }
    }

    /// The roles `r` may give in `org`.
    fn grantable(r: &Requester, org: &ExtractOrg) -> &'static [Role] {
        match (r.principal.role, org.kind) {
            (Role::PaTop, OrganisationKind::Registry) => &[Role::PaTop, Role::PaAdmin, Role::PaStandard, Role::PaStandardPs],
            (Role::PaTop, _) => &[Role::PaAdmin, Role::PaStandard, Role::PaStandardPs],
            (Role::PaAdmin, _) => &[Role::PaAdmin, Role::PaStandard, Role::PaStandardPs],
            _ => &[],
        }
    }

    /// Whether `r` may manage the account `o`: every role it holds is an extracts' role in an
    /// organisation `r` manages, and an ADMIN user never manages a TOP user.
    fn manages(r: &Requester, orgs: &[ExtractOrg], o: &Operator) -> bool {
        !o.roles.is_empty()
            && o.roles.iter().all(|g| {
                g.role.is_public_body()
                    && orgs.iter().any(|org| org.code == g.scope)
                    && !(r.principal.role == Role::PaAdmin && g.role == Role::PaTop)
            })
    }

    /// The users of the organisations `r` manages, by username (the read is traced).
    pub async fn users(&self, r: &Requester) -> ServiceResult<Vec<CensusUser>> {
        let orgs = self.managed_orgs(r).await?;
        let mut names = std::collections::BTreeSet::new();
        for org in &orgs {
            names.extend(self.store.operator_names_in_scope(&org.code).await?);
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let Some(o) = self.store.operator(&name).await? else { continue };
            out.push(CensusUser {
                grants: o.roles.iter().filter(|g| orgs.iter().any(|org| org.code == g.scope)).map(|g| (g.role, g.scope.clone())).collect(),
                username: o.username,
                name: o.display_name,
                second_factor: o.totp_secret.is_some(),
                suspended: o.disabled,
            });
        }
        let mut e = r.principal.entry("extract.census_read", "ok");
        e.detail = serde_json::json!({ "organisations": orgs.iter().map(|o| &o.code).collect::<Vec<_>>(), "users": out.len() }).to_string();
        self.store.audit(&e).await?;
        Ok(out)
    }

    /// One user `r` manages (`NotFound` for any other: an ADMIN learns nothing of other areas).
    pub async fn user(&self, r: &Requester, username: &str) -> ServiceResult<Operator> {
        let orgs = self.managed_orgs(r).await?;
        self.store
            .operator(username)
            .await?
            .filter(|o| Self::manages(r, &orgs, o))
            .ok_or_else(|| ServiceError::NotFound(format!("no user {username} in your organisations")))
    }

    /// Creates a user with one role in an organisation `r` manages, with a temporary password
    /// (its hash) to change at the first login.
    pub async fn create_user(&self, r: &Requester, new: &NewUser, password_hash: String) -> ServiceResult<()> {
        let orgs = self.managed_orgs(r).await?;
        let org =
            orgs.iter().find(|o| o.code == new.org_code).ok_or_else(|| ServiceError::invalid("organizzazione", Why::new("census-org")))?;
        if !Self::grantable(r, org).contains(&new.role) {
            return Err(ServiceError::invalid("ruolo", Why::new("census-role")));
        }
        if new.codice_fiscale.trim().is_empty() {
            return Err(ServiceError::invalid("codice_fiscale", Why::new("required")));
        }
        let email = email_of(new.email.as_deref())?;
        let account = NewOperator {
            username: new.username.clone(),
            display_name: new.display_name.clone(),
            codice_fiscale: Some(new.codice_fiscale.clone()),
            roles: vec![RoleGrant { role: new.role, scope: org.code.clone(), mediator: false }],
        };
        AdminDesk::new(self.store.clone(), self.clock.clone()).create_account(&r.principal, &account, password_hash).await?;
        if let Some(email) = email {
            self.set_email(r, &new.username, Some(&email)).await?;
        }
        Ok(())
    }

    /// Sets the address of a user `r` manages, traced (the address itself is not in the trace).
    async fn set_email(&self, r: &Requester, username: &str, email: Option<&str>) -> ServiceResult<()> {
        let mut e = r.principal.entry("extract.user_email", "ok");
        e.detail = serde_json::json!({ "user": username, "set": email.is_some() }).to_string();
        self.store.set_operator_email(username, email, self.clock.now().timestamp_millis(), &e).await?;
        Ok(())
    }

    /// The address a user `r` manages receives the notices at.
    pub async fn user_email(&self, r: &Requester, username: &str) -> ServiceResult<Option<String>> {
        let o = self.user(r, username).await?;
        Ok(self.store.operator_emails(&[o.username]).await?.pop().map(|(_, e)| e))
    }

    /// Suspends, reactivates or resets a user `r` manages.
    pub async fn change_user(&self, r: &Requester, username: &str, change: UserChange) -> ServiceResult<Operator> {
        let o = self.user(r, username).await?;
        let change = match change {
            UserChange::Email(raw) => {
                let email = email_of(raw.as_deref())?;
                self.set_email(r, &o.username, email.as_deref()).await?;
                return Ok(o);
            }
            UserChange::Suspend => AccountChange::Suspend,
            UserChange::Reactivate => AccountChange::Reactivate,
            UserChange::Reset { password_hash } => AccountChange::Reset { password_hash },
        };
        AdminDesk::new(self.store.clone(), self.clock.clone()).change_account(&r.principal, o, &change).await
    }
}
