//! The administrator's use cases on both backends (issue 18, item 5): accounts created,
//! suspended, reset and given or refused roles, each traced; what an administrator may not do
//! to their own account; nobody else may do any of it.

#[macro_use]
#[path = "../../anagrafe-store/tests/common/mod.rs"]
mod common;
use common::Harness;

use anagrafe_domain::Role;
use anagrafe_service::admin::{
    AccountChange, AdminDesk, BodyChange, ClientChange, NewOperator, api_client_of, body_of, grant_of, key_fingerprint, purpose_of,
};
use anagrafe_service::{FakeClock, Principal, ServiceError};
use std::sync::Arc;

conformance!(
    the_administrator_creates_suspends_resets_and_grants_and_each_change_is_traced,
    the_administrator_registers_rekeys_and_revokes_programs_and_bodies_and_lifts_blocks,
);

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

/// Public keys made with `openssl genrsa 2048 | openssl rsa -pubout` (and 1024).
const RSA_2048: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA08adQUTjsrJSQtuaPZkW\nylT/vcICTwHTYBCHcYroDx9zK4HBYyro8VwbiaESM8dqclg7Jj46zzHE1QKl3ibe\n0LE54DpMjtKIAm0LXlIvJiWLEEbe4RXc8uW92DEscH/GYwyhdgPDlOAR/Y8YcBE4\nB+jl8/quTTWuBqPYIZq0ve3XwV2Lv63gPYrh73G7DG6BwGmUyvDkVOgxgjEDJgja\nVijODX4BuIS9mbLM7eI98u0dMZiHdCWcExzALqfReuOZERmztcgqMvm7LvHdn5aa\nFkNnHwq1UtH58ttWMojCiJp6gXet0wsfy1F/fCdmy2oLVPhWmIToTkKb64Ln2adp\nMwIDAQAB\n-----END PUBLIC KEY-----\n";
const RSA_1024: &str = "-----BEGIN PUBLIC KEY-----\nMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC6bWustV+qMZBUQ/7PE/d3XRVa\nJkYz7N+Apna4qXdNGCRHkEMkTEDDJQNRm8iVteOOW+6Zp5TxLCfLSGqVXmCDZ1dm\n11QWc2ucKCbBQIAxV+9oRUkO4u90A3gZI9GPHjYNNkHlgMkX+mP6UEmXX3xHeAEQ\nz9yOzw5i6qOW2m/MMQIDAQAB\n-----END PUBLIC KEY-----\n";

/// A fresh P-256 public key in SPKI PEM, as `anagrafe api keygen` writes it.
fn public_key() -> String {
    use p256::pkcs8::{EncodePublicKey, LineEnding};
    let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    secret.public_key().to_public_key_pem(LineEnding::LF).unwrap()
}

#[test]
fn programs_bodies_and_purposes_are_checked_field_by_field() {
    let pem = public_key();
    let c = api_client_of(" comune-h501 ", "comune", "h501", &pem).unwrap();
    assert_eq!((c.client_id.as_str(), c.comune.map(|b| b.to_string())), ("comune-h501", Some("H501".into())));
    let fields = |e: ServiceError| e.field_errors().into_iter().map(|f| f.field).collect::<Vec<_>>();
    assert_eq!(
        fields(api_client_of("con spazio", "registry_officer", "", "ciao").unwrap_err()),
        ["id", "ruolo", "chiave"],
        "every field at fault at once"
    );
    assert_eq!(fields(api_client_of("c", "comune", "", &pem).unwrap_err()), ["comune"]);
    assert_eq!(fields(api_client_of("c", "revenue_agency", "H501", &pem).unwrap_err()), ["comune"], "the Agency acts for no comune");
    // A PEM of the right label but not a P-256 key (an RSA-like blob) is refused too.
    let fake = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
    assert_eq!(fields(api_client_of("c", "revenue_agency", "", fake).unwrap_err()), ["chiave"], "an Ed25519 key is not ES256's");
    let p = purpose_of("c030", "p-1", "1000", "5", "INPS").unwrap();
    assert_eq!((p.eservice.as_str(), p.daily_quota, p.per_second), ("C030", 1000, 5));
    assert_eq!(fields(purpose_of("C999", "p 1", "0", "x", "INPS").unwrap_err()), ["eservice", "finalita", "quota", "al_secondo"]);
    assert_eq!(fields(body_of("b", " ", "k", &pem, vec![], false).unwrap_err()), ["nome", "finalita"]);
    // A body's key may be RSA (the platform's clients often are), of 2048 bits at least; a
    // comune's program signs with P-256 only.
    let p = || vec![purpose_of("C030", "p-1", "1000", "5", "INPS").unwrap()];
    assert!(body_of("b", "INPS", "k", RSA_2048, p(), false).is_ok());
    assert_eq!(fields(body_of("b", "INPS", "k", RSA_1024, p(), false).unwrap_err()), ["chiave"]);
    assert_eq!(fields(api_client_of("c", "revenue_agency", "", RSA_2048).unwrap_err()), ["chiave"]);
    // The fingerprint is of the DER key, as `openssl pkey -pubin -outform DER | sha256sum` gives.
    let f = key_fingerprint(&pem);
    assert_eq!(f.len(), 64 + 15, "{f}");
    assert_ne!(f, key_fingerprint(&public_key()));
}

async fn the_administrator_registers_rekeys_and_revokes_programs_and_bodies_and_lifts_blocks(h: &Harness) {
    let clock = Arc::new(FakeClock::at(chrono::Utc::now()));
    let desk = AdminDesk::new(h.store.clone(), clock.clone());
    let adm = admin();
    // A comune's program: registered once, its id then taken.
    let client = api_client_of("comune-h501", "comune", "H501", &public_key()).unwrap();
    desk.register_api_client(&adm, &client).await.unwrap();
    assert_eq!(field(desk.register_api_client(&adm, &client).await.unwrap_err()), "id", "taken");
    let k = desk.change_api_client(&adm, "comune-h501", &ClientChange::Revoke).await.unwrap();
    assert!(k.revoked && h.store.api_client("comune-h501").await.unwrap().unwrap().revoked);
    assert_eq!(field(desk.change_api_client(&adm, "comune-h501", &ClientChange::Revoke).await.unwrap_err()), "azione", "revoked already");
    desk.change_api_client(&adm, "comune-h501", &ClientChange::Reinstate).await.unwrap();
    let new_key = public_key();
    let k = desk.change_api_client(&adm, "comune-h501", &ClientChange::Rekey(new_key.clone())).await.unwrap();
    assert_eq!(k.public_key_pem.trim(), new_key.trim());
    assert_eq!(
        field(desk.change_api_client(&adm, "comune-h501", &ClientChange::Rekey(new_key)).await.unwrap_err()),
        "chiave",
        "the same key"
    );
    assert!(matches!(desk.change_api_client(&adm, "nessuno", &ClientChange::Revoke).await, Err(ServiceError::NotFound(_))));

    // A public body: a purpose's limits changed, one added, one revoked, a new key.
    let body =
        body_of("ente-1", "Ente di prova", "k1", &public_key(), vec![purpose_of("C030", "p-c030", "1000", "10", "Ente").unwrap()], false)
            .unwrap();
    desk.register_body(&adm, &body).await.unwrap();
    assert_eq!(field(desk.register_body(&adm, &body).await.unwrap_err()), "id");
    let limits = BodyChange::Limits { purpose_id: "p-c030".into(), daily_quota: 50, per_second: 2 };
    let b = desk.change_body(&adm, "ente-1", &limits).await.unwrap();
    assert_eq!((b.purposes[0].daily_quota, b.purposes[0].per_second), (50, 2));
    let stored = h.store.pdnd_client("ente-1").await.unwrap().unwrap();
    assert_eq!(stored.purposes.iter().find(|p| p.purpose_id == "p-c030").map(|p| p.daily_quota), Some(50), "kept");
    let add = BodyChange::AddPurpose(purpose_of("C020", "p-c020", "10", "1", "Ente").unwrap());
    desk.change_body(&adm, "ente-1", &add).await.unwrap();
    assert_eq!(field(desk.change_body(&adm, "ente-1", &add).await.unwrap_err()), "finalita", "in force already");
    desk.change_body(&adm, "ente-1", &BodyChange::RevokePurpose("p-c020".into())).await.unwrap();
    let unknown = BodyChange::Limits { purpose_id: "p-c020".into(), daily_quota: 5, per_second: 1 };
    assert_eq!(field(desk.change_body(&adm, "ente-1", &unknown).await.unwrap_err()), "finalita", "revoked");
    let rekey = BodyChange::Rekey { kid: "k1".into(), public_key_pem: public_key() };
    assert_eq!(field(desk.change_body(&adm, "ente-1", &rekey).await.unwrap_err()), "kid", "a key id is never reused");
    desk.change_body(&adm, "ente-1", &BodyChange::Rekey { kid: "k2".into(), public_key_pem: public_key() }).await.unwrap();
    let stored = h.store.pdnd_client("ente-1").await.unwrap().unwrap();
    let in_force: Vec<&str> = stored.keys.iter().filter(|k| !k.revoked).map(|k| k.kid.as_str()).collect();
    assert_eq!(in_force, ["k2"]);
    assert!(stored.purposes.iter().any(|p| p.purpose_id == "p-c020" && p.revoked));
    desk.change_body(&adm, "ente-1", &BodyChange::Revoke).await.unwrap();
    assert!(h.store.pdnd_client("ente-1").await.unwrap().unwrap().revoked);

    // A blocked address lifted; one not blocked is refused on its field.
    let now = anagrafe_service::Clock::now_ms(&*clock);
    let entry = Principal::job("limits", "req-block".into()).entry("security.address_blocked", "ok");
    h.store.block_address("203.0.113.9", now + 900_000, "test", &entry).await.unwrap();
    assert_eq!(h.store.blocked_addresses(now).await.unwrap().len(), 1);
    desk.unblock(&adm, "203.0.113.9").await.unwrap();
    assert!(h.store.blocked_addresses(now).await.unwrap().is_empty());
    assert_eq!(field(desk.unblock(&adm, "203.0.113.9").await.unwrap_err()), "indirizzo");

    // Each change traced by the administrator; nobody else may make any.
    let trace = h.store.audit_entries(0, 10_000).await.unwrap();
    let by_admin = |op: &str| trace.iter().filter(|e| e.entry.operation == op && e.entry.actor == "operator:admin").count();
    assert_eq!(by_admin("api_client.save"), 4, "registered, revoked, reinstated, re-keyed");
    assert_eq!(by_admin("pdnd_client.save"), 6, "registered, limits, added, purpose revoked, re-keyed, revoked");
    assert_eq!(by_admin("security.address_unblocked"), 1);
    let officer = Principal::security_officer("sicurezza", "password_totp", "req-sec".into());
    assert!(matches!(desk.change_api_client(&officer, "comune-h501", &ClientChange::Revoke).await, Err(ServiceError::Forbidden(_))));
    assert!(matches!(desk.unblock(&officer, "203.0.113.9").await, Err(ServiceError::Forbidden(_))));
}
