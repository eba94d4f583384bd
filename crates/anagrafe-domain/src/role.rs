//! Who may act, as one enum (SEC-1, VIS-2): every role an operator account, a web-service
//! client or a session can hold. The register stores a role by its [`Role::as_str`] name and
//! reads it back with [`Role::parse`]; nothing else compares role names as text.
//!
//! It lives in the domain (not in the use-case layer that checks it) because the store's rows
//! carry it too: an operator's grants and a client's registration are typed when read.

use serde::{Deserialize, Serialize};

/// A role in the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Role {
    /// A comune's registry software, by signed web-service calls (REG-5).
    Comune,
    /// The Revenue Agency's gateway: reads the communications the register owes it.
    RevenueAgency,
    /// A registry officer at a comune's office (*ufficiale d'anagrafe*).
    RegistryOfficer,
    /// A comune's electoral officer (*ufficiale elettorale*, ELE-2).
    ElectoralOfficer,
    /// A public-body or municipal-office user with TOP rights over the comune's extracts (VIS-2).
    PaTop,
    /// A public-body user who manages the users of an area (VIS-2).
    PaAdmin,
    /// A public-body user who requests extracts (VIS-2).
    PaStandard,
    /// A public-security user whose requests are withheld from monitoring (VIS-2).
    PaStandardPs,
    /// The register's security officer (SEC-5).
    SecurityOfficer,
    /// The register's system administrator.
    SystemAdmin,
    /// A citizen in the reserved area (CIT-1).
    Citizen,
}

/// A name that is no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: one of {list}", list = Role::ALL.map(Role::as_str).join(", "))]
pub struct UnknownRole(pub String);

impl Role {
    /// Every role.
    pub const ALL: [Role; 11] = [
        Role::Comune,
        Role::RevenueAgency,
        Role::RegistryOfficer,
        Role::ElectoralOfficer,
        Role::PaTop,
        Role::PaAdmin,
        Role::PaStandard,
        Role::PaStandardPs,
        Role::SecurityOfficer,
        Role::SystemAdmin,
        Role::Citizen,
    ];

    /// The roles an operator account can be granted.
    pub const OPERATOR: [Role; 8] = [
        Role::RegistryOfficer,
        Role::ElectoralOfficer,
        Role::PaTop,
        Role::PaAdmin,
        Role::PaStandard,
        Role::PaStandardPs,
        Role::SecurityOfficer,
        Role::SystemAdmin,
    ];

    /// The roles of the comuni's web-service clients.
    pub const CLIENT: [Role; 2] = [Role::Comune, Role::RevenueAgency];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Comune => "comune",
            Role::RevenueAgency => "revenue_agency",
            Role::RegistryOfficer => "registry_officer",
            Role::ElectoralOfficer => "electoral_officer",
            Role::PaTop => "pa_top",
            Role::PaAdmin => "pa_admin",
            Role::PaStandard => "pa_standard",
            Role::PaStandardPs => "pa_standardps",
            Role::SecurityOfficer => "security_officer",
            Role::SystemAdmin => "system_admin",
            Role::Citizen => "citizen",
        }
    }

    /// The role of a stored name.
    pub fn parse(name: &str) -> Result<Role, UnknownRole> {
        Role::ALL.into_iter().find(|r| r.as_str() == name).ok_or_else(|| UnknownRole(name.to_owned()))
    }

    /// Whether an operator account can hold this role.
    pub fn is_operator(self) -> bool {
        Role::OPERATOR.contains(&self)
    }

    /// Whether a web-service client can be registered with this role.
    pub fn is_client(self) -> bool {
        Role::CLIENT.contains(&self)
    }

    /// A public-body (extracts) role: the users of VIS-2.
    pub fn is_public_body(self) -> bool {
        matches!(self, Role::PaTop | Role::PaAdmin | Role::PaStandard | Role::PaStandardPs)
    }

    /// Whether the role's scope is a comune (the grant's scope is a Belfiore code).
    pub fn is_comune_scoped(self) -> bool {
        matches!(self, Role::Comune | Role::RegistryOfficer | Role::ElectoralOfficer)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s)
    }
}

impl TryFrom<String> for Role {
    type Error = UnknownRole;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Role::parse(&s)
    }
}

impl From<Role> for String {
    fn from(r: Role) -> String {
        r.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_reads_back_from_its_stored_name() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("admin").is_err());
        assert!(Role::parse("Comune").is_err(), "names are exact");
    }

    #[test]
    fn operator_and_client_roles_do_not_overlap() {
        for r in Role::ALL {
            assert!(!(r.is_operator() && r.is_client()), "{r}");
        }
        assert!(Role::OPERATOR.iter().all(|r| r.is_operator() && !r.is_client()));
    }
}
