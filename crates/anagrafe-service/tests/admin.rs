//! The administrator's use cases on both backends (issue 18, item 5): accounts created,
//! suspended, reset and given or refused roles, each traced; what an administrator may not do
//! to their own account; nobody else may do any of it.

#[macro_use]
#[path = "../../anagrafe-store/tests/common/mod.rs"]
mod common;
use common::Harness;

use anagrafe_domain::Role;
use anagrafe_service::admin::{AccountChange, AdminDesk, NewOperator, grant_of};
use anagrafe_service::{FakeClock, Principal, ServiceError};
use std::sync::Arc;

conformance!(the_administrator_creates_suspends_resets_and_grants_and_each_change_is_traced,);

const HASH: &str = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

fn admin() -> Principal {
    Principal::system_admin("admin", "password_totp", "req-adm".into())
}

fn field(e: ServiceError) -> String {
    e.field_errors().first().map(|f| f.field.clone()).unwrap_or_else(|| format!("{e:?}"))
}

#[test]
fn a_role_is_granted_with_the_scope_it_needs() {
    assert_eq!(grant_of("registry_officer", " h501 ", true).unwrap().scope, "H501");
    assert_eq!(field(grant_of("registry_officer", "", false).unwrap_err()), "ambito");
    assert_eq!(field(grant_of("registry_officer", "ROMA", false).unwrap_err()), "ambito");
    assert_eq!(grant_of("pa_standard", "inps", false).unwrap().scope, "inps");
    assert_eq!(field(grant_of("pa_standard", "", false).unwrap_err()), "ambito");
    assert_eq!(field(grant_of("security_officer", "H501", false).unwrap_err()), "ambito", "a national role has no scope");
    assert_eq!(field(grant_of("electoral_officer", "H501", true).unwrap_err()), "mediatore");
    assert_eq!(field(grant_of("citizen", "", false).unwrap_err()), "ruolo", "not an operator's role");
    assert_eq!(field(grant_of("root", "", false).unwrap_err()), "ruolo");
}

async fn the_administrator_creates_suspends_resets_and_grants_and_each_change_is_traced(h: &Harness) {
    let desk = AdminDesk::new(h.store.clone(), Arc::new(FakeClock::at(chrono::Utc::now())));
    let adm = admin();
    let new = |username: &str, cf: Option<&str>| NewOperator {
        username: username.into(),
        display_name: "Nuova Ufficiale".into(),
        codice_fiscale: cf.map(str::to_owned),
        roles: vec![grant_of("registry_officer", "H501", false).unwrap()],
    };
    // The administrator's own account, then a new officer.
    let mut own = new("admin", None);
    own.roles = vec![grant_of("system_admin", "", false).unwrap()];
    desk.create_operator(&adm, &own, HASH.into()).await.unwrap();
    assert_eq!(field(desk.create_operator(&adm, &new("admin", None), HASH.into()).await.unwrap_err()), "username", "taken");
    assert_eq!(field(desk.create_operator(&adm, &new("con spazio", None), HASH.into()).await.unwrap_err()), "username");
    assert_eq!(field(desk.create_operator(&adm, &new("anna", Some("RSSMRA80A01H501X")), HASH.into()).await.unwrap_err()), "codice_fiscale");
    desk.create_operator(&adm, &new("anna", Some("rssmra80a01h501u")), HASH.into()).await.unwrap();
    let anna = h.store.operator("anna").await.unwrap().unwrap();
    assert!(anna.must_change_password && anna.codice_fiscale.as_deref() == Some("RSSMRA80A01H501U"));

    let o = desk.change_operator(&adm, "anna", &AccountChange::Suspend).await.unwrap();
    assert!(o.disabled);
    let o = desk.change_operator(&adm, "anna", &AccountChange::Reactivate).await.unwrap();
    assert!(!o.disabled);
    let o = desk.change_operator(&adm, "anna", &AccountChange::Grant(grant_of("electoral_officer", "H501", false).unwrap())).await.unwrap();
    let mut roles = o.roles.iter().map(|g| g.role).collect::<Vec<_>>();
    roles.sort();
    assert_eq!(roles, [Role::RegistryOfficer, Role::ElectoralOfficer]);
    let again = desk.change_operator(&adm, "anna", &AccountChange::Grant(grant_of("electoral_officer", "H501", false).unwrap())).await;
    assert_eq!(field(again.unwrap_err()), "ruolo", "held already");
    let o = desk.change_operator(&adm, "anna", &AccountChange::Revoke(grant_of("registry_officer", "H501", false).unwrap())).await.unwrap();
    assert_eq!(o.roles.len(), 1);
    let o = desk.change_operator(&adm, "anna", &AccountChange::Reset { password_hash: HASH.into() }).await.unwrap();
    assert!(o.totp_secret.is_none() && o.must_change_password && o.locked_until.is_none());
    // Not on oneself: no suspension, no giving up the administrator's role.
    assert_eq!(field(desk.change_operator(&adm, "admin", &AccountChange::Suspend).await.unwrap_err()), "username");
    let revoke_own = AccountChange::Revoke(grant_of("system_admin", "", false).unwrap());
    assert_eq!(field(desk.change_operator(&adm, "admin", &revoke_own).await.unwrap_err()), "ruolo");
    assert!(matches!(desk.change_operator(&adm, "nessuno", &AccountChange::Suspend).await, Err(ServiceError::NotFound(_))));

    let trace = h.store.audit_entries(0, 1000).await.unwrap();
    let by_admin: Vec<&str> = trace.iter().filter(|e| e.entry.actor == "operator:admin").map(|e| e.entry.operation.as_str()).collect();
    assert_eq!(
        by_admin,
        [
            "operator.save",
            "operator.save",
            "operator.save",
            "operator.logout_everywhere",
            "operator.save",
            "operator.save",
            "operator.save",
            "operator.reset",
            "operator.logout_everywhere"
        ],
        "every change traced by the administrator, refusals write nothing"
    );

    // Nobody else administers.
    let before = h.store.audit_head().await.unwrap().0;
    for who in [
        Principal::security_officer("sicurezza", "password_totp", "r".into()),
        Principal::registry_officer("anna", anagrafe_domain::Belfiore::parse("H501").unwrap(), "password_totp", "r".into()),
    ] {
        assert!(matches!(desk.change_operator(&who, "anna", &AccountChange::Suspend).await, Err(ServiceError::Forbidden(_))));
        assert!(matches!(desk.create_operator(&who, &new("altra", None), HASH.into()).await, Err(ServiceError::Forbidden(_))));
        assert!(matches!(desk.operator(&who, "anna").await, Err(ServiceError::Forbidden(_))));
    }
    assert_eq!(h.store.audit_head().await.unwrap().0, before, "a refused principal writes nothing");
}
