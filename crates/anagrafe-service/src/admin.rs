//! The system administrator's use cases (issue 18, item 5): the overview of who may act
//! (operators and their roles, second factors, locks) and of what protects the register
//! (blocked addresses, the trace's last checkpoint), and the accounts' administration: create,
//! suspend and reactivate, reset the second factor, grant and revoke a role. Reading is traced
//! (the operators' names and codes are personal data); every change is traced with the account
//! it changed, in the same transaction. The door re-authenticates the administrator before
//! each change; `anagrafe operator` calls the same use cases from the command line.

use crate::{Clock, Principal, ServiceError, ServiceResult};
use anagrafe_domain::{Belfiore, CodiceFiscale, Role, Why};
use anagrafe_store::{AuditEntry, Checkpoint, Operator, OperatorUpdate, RoleGrant, Store};
use std::sync::Arc;

mod clients;
pub use clients::{BodyChange, ClientChange, api_client_of, body_key_of, body_of, key_fingerprint, public_key_of, purpose_of};

/// The administrator's desk.
#[derive(Debug, Clone)]
pub struct AdminDesk {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

/// What the administrator sees at a glance.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Every operator account, by name.
    pub operators: Vec<Operator>,
    /// Addresses blocked now, with the end of each block (epoch ms).
    pub blocked: Vec<(String, i64)>,
    /// The trace's head.
    pub trace_head: i64,
    /// The latest signed checkpoint.
    pub last_checkpoint: Option<Checkpoint>,
    /// The comuni's (and the Revenue Agency's) web-service clients.
    pub clients: Vec<anagrafe_store::ApiClient>,
    /// The public bodies of the e-services, with their keys and purposes (quotas).
    pub bodies: Vec<anagrafe_store::PdndClient>,
}

impl AdminDesk {
    /// The desk over `store`, reading the time from `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The overview; the read is traced as `admin.overview`.
    pub async fn overview(&self, who: &Principal) -> ServiceResult<Overview> {
        who.require(&[Role::SystemAdmin], "the administration's overview")?;
        let mut operators = Vec::new();
        for name in self.store.operator_names().await? {
            if let Some(o) = self.store.operator(&name).await? {
                operators.push(o);
            }
        }
        let blocked = self.store.blocked_addresses(self.clock.now_ms()).await?;
        let (trace_head, _) = self.store.audit_head().await?;
        let last_checkpoint = self.store.checkpoints().await?.into_iter().max_by_key(|c| (c.seq, c.at_ms));
        let mut clients = Vec::new();
        for id in self.store.api_client_ids().await? {
            clients.extend(self.store.api_client(&id).await?);
        }
        let mut bodies = Vec::new();
        for id in self.store.pdnd_client_ids().await? {
            bodies.extend(self.store.pdnd_client(&id).await?);
        }
        let mut e = who.entry("admin.overview", "ok");
        e.detail =
            serde_json::json!({ "operators": operators.len(), "blocked": blocked.len(), "clients": clients.len(), "bodies": bodies.len() })
                .to_string();
        self.store.audit(&e).await?;
        Ok(Overview { operators, blocked, trace_head, last_checkpoint, clients, bodies })
    }
}

/// A role to grant, as typed: `role`, its scope (a comune's Belfiore code for comune roles, a
/// public body's code for the extracts' roles, empty for national roles), the mediator function.
pub fn grant_of(role: &str, scope: &str, mediator: bool) -> ServiceResult<RoleGrant> {
    let role = Role::parse(role.trim())
        .ok()
        .filter(|r| r.is_operator())
        .ok_or_else(|| ServiceError::invalid("ruolo", Why::new("unknown-role")))?;
    let scope = scope.trim();
    let scope = if role.is_comune_scoped() {
        Belfiore::parse(&scope.to_ascii_uppercase())
            .map_err(|_| ServiceError::invalid("ambito", Why::new("role-needs-comune")))?
            .to_string()
    } else if role.is_public_body() {
        if scope.is_empty() || scope.len() > 64 || !scope.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            return Err(ServiceError::invalid("ambito", Why::new("role-needs-body")));
        }
        scope.to_owned()
    } else {
        if !scope.is_empty() {
            return Err(ServiceError::invalid("ambito", Why::new("role-is-national")));
        }
        String::new()
    };
    if mediator && role != Role::RegistryOfficer {
        return Err(ServiceError::invalid("mediatore", Why::new("mediator-registry-only")));
    }
    Ok(RoleGrant { role, scope, mediator })
}

/// Whether `u` can be a username: 1 to 64 letters, digits, `.`, `-`, `_`.
pub fn valid_username(u: &str) -> bool {
    !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A new operator account as the administrator fills it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOperator {
    /// Login name.
    pub username: String,
    /// Name shown in pages and traces.
    pub display_name: String,
    /// The person's codice fiscale (required from the pages; SEC-4).
    pub codice_fiscale: Option<String>,
    /// The roles.
    pub roles: Vec<RoleGrant>,
}

/// What the administrator may change on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    /// Suspended: no login, every session ended.
    Suspend,
    /// Active again.
    Reactivate,
    /// The second factor cleared (to enrol again at the next login), the lock lifted and every
    /// session ended; a new temporary password (its hash) to change at the next login.
    Reset {
        /// The argon2id hash of the temporary password the door generated.
        password_hash: String,
    },
    /// One more role.
    Grant(RoleGrant),
    /// A role taken away.
    Revoke(RoleGrant),
}

impl AdminDesk {
    fn admin(who: &Principal) -> ServiceResult<()> {
        who.require(&[Role::SystemAdmin], "the accounts' administration")
    }

    /// One account, for its page; the read is traced.
    pub async fn operator(&self, who: &Principal, username: &str) -> ServiceResult<Operator> {
        Self::admin(who)?;
        let o = self.store.operator(username).await?.ok_or_else(|| ServiceError::NotFound(format!("no operator {username}")))?;
        let mut e = who.entry("admin.operator_read", "ok");
        e.detail = serde_json::json!({ "username": o.username }).to_string();
        self.store.audit(&e).await?;
        Ok(o)
    }

    /// Creates an account with a temporary password (its hash) to change at the first login;
    /// `Conflict` when the username is taken.
    pub async fn create_operator(&self, who: &Principal, new: &NewOperator, password_hash: String) -> ServiceResult<()> {
        Self::admin(who)?;
        self.create_account(who, new, password_hash).await
    }

    /// Creates the account, once the caller's authority over it was checked (the system
    /// administrator's, or the extracts' TOP and ADMIN users' over their organisations).
    pub(crate) async fn create_account(&self, who: &Principal, new: &NewOperator, password_hash: String) -> ServiceResult<()> {
        let username = new.username.trim();
        if !valid_username(username) {
            return Err(ServiceError::invalid("username", Why::new("bad-username")));
        }
        let name = new.display_name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(ServiceError::invalid("nome", Why::new("required")));
        }
        let codice_fiscale = match new.codice_fiscale.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(raw) => Some(
                CodiceFiscale::parse(&raw.to_ascii_uppercase())
                    .map_err(|_| ServiceError::invalid("codice_fiscale", Why::new("bad-cf")))?
                    .to_string(),
            ),
            None => None,
        };
        if new.roles.is_empty() {
            return Err(ServiceError::invalid("ruolo", Why::new("required")));
        }
        if self.store.operator(username).await?.is_some() {
            return Err(ServiceError::invalid("username", Why::new("username-taken")));
        }
        let o = Operator {
            username: username.to_owned(),
            display_name: name.to_owned(),
            codice_fiscale,
            password_hash,
            must_change_password: true,
            totp_secret: None,
            totp_pending: None,
            totp_last_step: None,
            failed_logins: 0,
            locked_until: None,
            disabled: false,
            roles: new.roles.clone(),
        };
        self.store.save_operator(&o, &who.context()).await?;
        Ok(())
    }

    /// Changes an account as `change` says; traced with the account changed. An administrator
    /// cannot suspend their own account nor take their own administrator's role (someone
    /// must be left to administer).
    pub async fn change_operator(&self, who: &Principal, username: &str, change: &AccountChange) -> ServiceResult<Operator> {
        Self::admin(who)?;
        let o = self.store.operator(username).await?.ok_or_else(|| ServiceError::NotFound(format!("no operator {username}")))?;
        self.change_account(who, o, change).await
    }

    /// Changes the account `o`, once the caller's authority over it was checked.
    pub(crate) async fn change_account(&self, who: &Principal, mut o: Operator, change: &AccountChange) -> ServiceResult<Operator> {
        let username = o.username.clone();
        let username = username.as_str();
        let own = who.actor == format!("operator:{}", o.username);
        let entry = |op: &str| -> AuditEntry {
            let mut e = who.entry(op, "ok");
            e.detail = serde_json::json!({ "username": username }).to_string();
            e
        };
        match change {
            AccountChange::Suspend | AccountChange::Reactivate => {
                let disable = *change == AccountChange::Suspend;
                if disable && own {
                    return Err(ServiceError::invalid("username", Why::new("not-on-yourself")));
                }
                o.disabled = disable;
                self.store.save_operator(&o, &who.context()).await?;
                if disable {
                    self.store.end_sessions("operator", &o.username, None, &entry("operator.logout_everywhere")).await?;
                }
            }
            AccountChange::Reset { password_hash } => {
                let up = OperatorUpdate {
                    failed_logins: Some(0),
                    locked_until: Some(None),
                    password_hash: Some(password_hash.clone()),
                    must_change_password: Some(true),
                    totp_secret: Some(None),
                    totp_pending: Some(None),
                    totp_last_step: Some(None),
                };
                self.store.update_operator(&o.username, &up, &entry("operator.reset")).await?;
                self.store.end_sessions("operator", &o.username, None, &entry("operator.logout_everywhere")).await?;
            }
            AccountChange::Grant(g) => {
                if o.roles.iter().any(|r| r.role == g.role && r.scope == g.scope) {
                    return Err(ServiceError::invalid("ruolo", Why::new("role-held")));
                }
                o.roles.push(g.clone());
                self.store.save_operator(&o, &who.context()).await?;
            }
            AccountChange::Revoke(g) => {
                let before = o.roles.len();
                o.roles.retain(|r| !(r.role == g.role && r.scope == g.scope));
                if o.roles.len() == before {
                    return Err(ServiceError::invalid("ruolo", Why::new("role-not-held")));
                }
                if own && g.role == Role::SystemAdmin {
                    return Err(ServiceError::invalid("ruolo", Why::new("not-on-yourself")));
                }
                self.store.save_operator(&o, &who.context()).await?;
            }
        }
        Ok(self.store.operator(username).await?.unwrap_or(o))
    }
}
