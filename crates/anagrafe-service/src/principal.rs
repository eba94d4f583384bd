//! Who acts: built by the door from what authenticated the request (a signed call, a session,
//! the command line), read by every service for authorisation and written on every trace
//! entry.

use crate::{ServiceError, ServiceResult};
use anagrafe_domain::{Belfiore, Role};
use anagrafe_store::{AuditEntry, WriteContext};

/// The one acting, as every service sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The actor as the trace names it: `client:ID`, `operator:USERNAME`, `citizen:CF`,
    /// `cli:USER`, `system:JOB`.
    pub actor: String,
    /// The role the actor acts in for this request.
    pub role: Role,
    /// The comune the actor acts for, when the role has one.
    pub comune: Option<Belfiore>,
    /// How the actor authenticated (`modi`, `password_totp`, `oidc:PROVIDER`, `cli`…).
    pub auth_mode: String,
    /// Level of assurance of that authentication (0–3; SPID levels).
    pub level: u8,
    /// Codice fiscale of the natural person acting, when known.
    pub codice_fiscale: Option<String>,
    /// eIDAS unique identifier, when the actor logged in through eIDAS (EU-1).
    pub eidas_id: Option<String>,
    /// The request's id, carried by every trace entry and log line of the request.
    pub request_id: String,
}

impl Principal {
    /// A comune's software, by a signed web-service call.
    pub fn comune_client(client_id: &str, comune: Option<Belfiore>, request_id: String) -> Self {
        Self {
            actor: format!("client:{client_id}"),
            role: Role::Comune,
            comune,
            auth_mode: "modi".into(),
            level: 0,
            codice_fiscale: None,
            eidas_id: None,
            request_id,
        }
    }

    /// A registry officer at the office, acting for `comune`.
    pub fn registry_officer(username: &str, comune: Belfiore, auth_mode: &str, request_id: String) -> Self {
        Self {
            actor: format!("operator:{username}"),
            role: Role::RegistryOfficer,
            comune: Some(comune),
            auth_mode: auth_mode.to_owned(),
            level: 2,
            codice_fiscale: None,
            eidas_id: None,
            request_id,
        }
    }

    /// An electoral officer of `comune`, from a session with both factors.
    pub fn electoral_officer(username: &str, comune: Belfiore, auth_mode: &str, request_id: String) -> Self {
        Self { role: Role::ElectoralOfficer, ..Self::registry_officer(username, comune, auth_mode, request_id) }
    }

    /// A citizen in the reserved area, logged in through an identity provider.
    pub fn citizen(codice_fiscale: &str, auth_mode: &str, level: u8, request_id: String) -> Self {
        Self {
            actor: format!("citizen:{codice_fiscale}"),
            role: Role::Citizen,
            comune: None,
            auth_mode: auth_mode.to_owned(),
            level,
            codice_fiscale: Some(codice_fiscale.to_owned()),
            eidas_id: None,
            request_id,
        }
    }

    /// A citizen of another EU state, logged in through the eIDAS node (EU-1): the actor is the
    /// eIDAS unique identifier, which every trace entry of theirs carries; the codice fiscale
    /// too once known.
    pub fn eu_citizen(eidas_id: &str, codice_fiscale: Option<String>, auth_mode: &str, level: u8, request_id: String) -> Self {
        Self {
            actor: format!("eidas:{eidas_id}"),
            role: Role::Citizen,
            comune: None,
            auth_mode: auth_mode.to_owned(),
            level,
            codice_fiscale,
            eidas_id: Some(eidas_id.to_owned()),
            request_id,
        }
    }

    /// The security officer (*responsabile della sicurezza*), from a session with both factors.
    pub fn security_officer(username: &str, auth_mode: &str, request_id: String) -> Self {
        Self {
            actor: format!("operator:{username}"),
            role: Role::SecurityOfficer,
            comune: None,
            auth_mode: auth_mode.to_owned(),
            level: 2,
            codice_fiscale: None,
            eidas_id: None,
            request_id,
        }
    }

    /// The system administrator (*amministratore di sistema*), from a session with both factors.
    pub fn system_admin(username: &str, auth_mode: &str, request_id: String) -> Self {
        Self { role: Role::SystemAdmin, ..Self::security_officer(username, auth_mode, request_id) }
    }

    /// A user of an organisation that asks for registry extracts (VIS-2), in one of the
    /// extracts' roles (TOP, ADMIN, STANDARD, STANDARDPS), from a session with both factors.
    pub fn extract_user(username: &str, role: Role, auth_mode: &str, request_id: String) -> Self {
        Self {
            actor: format!("operator:{username}"),
            role,
            comune: None,
            auth_mode: auth_mode.to_owned(),
            level: 2,
            codice_fiscale: None,
            eidas_id: None,
            request_id,
        }
    }

    /// An operator of the register at its command line (the system administrator of the
    /// machine), acting for `comune` when one is named.
    pub fn command_line(user: &str, comune: Option<Belfiore>, request_id: String) -> Self {
        Self {
            actor: format!("cli:{user}"),
            role: Role::SystemAdmin,
            comune,
            auth_mode: "local".into(),
            level: 0,
            codice_fiscale: None,
            eidas_id: None,
            request_id,
        }
    }

    /// One of the register's own jobs (`system:NAME`): the log analysis, the checkpoints. It
    /// acts with the administrator's role and names no person.
    pub fn job(name: &str, request_id: String) -> Self {
        Self { actor: format!("system:{name}"), auth_mode: "internal".into(), ..Self::command_line(name, None, request_id) }
    }

    /// The same principal, naming the natural person acting by codice fiscale (an operator's
    /// account that carries one): every trace entry of theirs then holds it.
    pub fn with_codice_fiscale(mut self, codice_fiscale: Option<String>) -> Self {
        if codice_fiscale.is_some() {
            self.codice_fiscale = codice_fiscale;
        }
        self
    }

    /// What the store writes on the trace entries of this principal's writes.
    pub fn context(&self) -> WriteContext {
        WriteContext {
            request_id: self.request_id.clone(),
            actor: self.actor.clone(),
            actor_cf: self.codice_fiscale.clone(),
            eidas_id: self.eidas_id.clone(),
            auth_mode: self.auth_mode.clone(),
            comune: self.comune,
            client_op_id: None,
        }
    }

    /// A trace entry of this principal for `operation` with `outcome`.
    pub fn entry(&self, operation: &str, outcome: &str) -> AuditEntry {
        AuditEntry::from_ctx(&self.context(), operation, outcome)
    }

    /// Refuses a principal whose role is not among `roles`.
    pub fn require(&self, roles: &[Role], service: &str) -> ServiceResult<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ServiceError::Forbidden(format!("{service} is for callers of role {}", names.join(" or "))))
        }
    }

    /// The comune a comune's principal acts for.
    pub fn acting_comune(&self) -> ServiceResult<Belfiore> {
        self.comune.ok_or_else(|| ServiceError::Forbidden("the caller acts for no comune".into()))
    }
}
