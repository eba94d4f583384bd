//! Operators, roles and sessions (issue 6) on both backends: accounts round-trip with their
//! roles, a TOTP step is accepted once, sessions open, expire by logout, one or all at once,
//! and every change leaves its audit entry.

#[macro_use]
mod common;
use common::Harness;

use anagrafe_store::{AuditEntry, OidcFlow, Operator, OperatorUpdate, RoleGrant, Session, StoreError, WriteContext};

conformance!(
    an_operator_reads_back_with_roles_and_role_changes_are_traced,
    a_totp_step_opens_one_session_only,
    failures_lock_and_a_login_clears_them,
    sessions_end_one_at_a_time_or_everywhere,
    a_login_in_progress_is_taken_once_and_only_while_fresh,
    counters_count_per_window_and_blocks_expire,
);

fn officer(username: &str) -> Operator {
    Operator {
        codice_fiscale: Some("RSSMRA80A01H501U".into()),
        username: username.into(),
        display_name: "Anna Rossi".into(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        must_change_password: true,
        totp_secret: None,
        totp_pending: None,
        totp_last_step: None,
        failed_logins: 0,
        locked_until: None,
        disabled: false,
        roles: vec![RoleGrant { role: anagrafe_domain::Role::RegistryOfficer, scope: "H501".into(), mediator: false }],
    }
}

fn entry(op: &str, subject: &str) -> AuditEntry {
    AuditEntry {
        request_id: format!("test-{op}"),
        actor: format!("operator:{subject}"),
        actor_cf: None,
        eidas_id: None,
        auth_mode: "password+totp".into(),
        operation: op.into(),
        outcome: "ok".into(),
        subject_person: None,
        subject_cf: None,
        detail: String::new(),
    }
}

fn session(token: &str, subject: &str, now: i64) -> Session {
    Session {
        token_hash: token.into(),
        kind: "operator".into(),
        subject: subject.into(),
        auth_mode: "password+totp".into(),
        loa: 0,
        second_factor: true,
        csrf_token: format!("csrf-{token}"),
        created_at: now,
        last_seen_at: now,
        authenticated_at: now,
        expires_at: now + 3_600_000,
        ended_at: None,
        eidas_id: None,
    }
}

async fn audit_len(h: &Harness) -> usize {
    h.store.audit_entries(0, 10_000).await.unwrap().len()
}

async fn an_operator_reads_back_with_roles_and_role_changes_are_traced(h: &Harness) {
    assert!(h.store.operator("anna").await.unwrap().is_none());
    let mut o = officer("anna");
    h.store.save_operator(&o, &WriteContext::cli("test")).await.unwrap();
    assert_eq!(h.store.operator("anna").await.unwrap().unwrap(), o);
    o.roles.push(RoleGrant { role: anagrafe_domain::Role::ElectoralOfficer, scope: "H501".into(), mediator: false });
    o.roles[0].mediator = true;
    let before = audit_len(h).await;
    h.store.save_operator(&o, &WriteContext::cli("test")).await.unwrap();
    let back = h.store.operator("anna").await.unwrap().unwrap();
    assert_eq!(back.roles.len(), 2);
    assert!(back.roles.iter().any(|g| g.role == anagrafe_domain::Role::RegistryOfficer && g.mediator));
    let last = h.store.audit_entries(before as i64, 10).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].entry.operation, "operator.save");
    assert!(last[0].entry.detail.contains("electoral_officer"), "{}", last[0].entry.detail);
    assert!(!last[0].entry.detail.contains("argon2"), "no password hash in the trace");
    // The same role twice at one place is refused, naming the field, and nothing changes.
    o.roles.push(o.roles[1].clone());
    let e = h.store.save_operator(&o, &WriteContext::cli("test")).await.unwrap_err();
    assert!(matches!(&e, StoreError::Conflict { field } if field == "roles"), "{e:?}");
    assert_eq!(h.store.operator("anna").await.unwrap().unwrap().roles.len(), 2);
}

async fn a_totp_step_opens_one_session_only(h: &Harness) {
    h.store.save_operator(&officer("bruno"), &WriteContext::cli("test")).await.unwrap();
    let now = anagrafe_store::now_ms();
    assert!(h.store.open_session(&session("t1", "bruno", now), Some(100), &entry("operator.login", "bruno")).await.unwrap());
    let before = audit_len(h).await;
    // The same code again, or an older one: refused, nothing written.
    assert!(!h.store.open_session(&session("t2", "bruno", now), Some(100), &entry("operator.login", "bruno")).await.unwrap());
    assert!(!h.store.open_session(&session("t3", "bruno", now), Some(99), &entry("operator.login", "bruno")).await.unwrap());
    assert_eq!(audit_len(h).await, before);
    assert!(h.store.session("t2").await.unwrap().is_none());
    assert!(h.store.open_session(&session("t4", "bruno", now), Some(101), &entry("operator.login", "bruno")).await.unwrap());
    assert_eq!(h.store.operator("bruno").await.unwrap().unwrap().totp_last_step, Some(101));
    let s = h.store.session("t4").await.unwrap().unwrap();
    assert_eq!((s.subject.as_str(), s.second_factor, s.csrf_token.as_str()), ("bruno", true, "csrf-t4"));
}

async fn failures_lock_and_a_login_clears_them(h: &Harness) {
    h.store.save_operator(&officer("carla"), &WriteContext::cli("test")).await.unwrap();
    let until = anagrafe_store::now_ms() + 60_000;
    let up = OperatorUpdate { failed_logins: Some(5), locked_until: Some(Some(until)), ..Default::default() };
    let mut failed = entry("operator.login", "carla");
    failed.outcome = "refused".into();
    h.store.update_operator("carla", &up, &failed).await.unwrap();
    let o = h.store.operator("carla").await.unwrap().unwrap();
    assert_eq!((o.failed_logins, o.locked_until), (5, Some(until)));
    assert_eq!(o.password_hash, officer("carla").password_hash, "fields not named are kept");
    assert_eq!(h.store.count_login_failure("carla", &failed).await.unwrap(), 6, "counted on the stored value");
    assert!(matches!(h.store.count_login_failure("nobody", &failed).await, Err(StoreError::NotFound(_))));
    let e = h.store.update_operator("nobody", &up, &failed).await.unwrap_err();
    assert!(matches!(e, StoreError::NotFound(_)), "{e:?}");
    // Enrolment, then a login without a code (first factor only) clears the failures.
    let enrol = OperatorUpdate { totp_secret: Some(Some("JBSWY3DPEHPK3PXP".into())), totp_pending: Some(None), ..Default::default() };
    h.store.update_operator("carla", &enrol, &entry("operator.totp_enrolled", "carla")).await.unwrap();
    let mut s = session("c1", "carla", anagrafe_store::now_ms());
    s.second_factor = false;
    assert!(h.store.open_session(&s, None, &entry("operator.login", "carla")).await.unwrap());
    let o = h.store.operator("carla").await.unwrap().unwrap();
    assert_eq!((o.failed_logins, o.locked_until, o.totp_secret.as_deref()), (0, None, Some("JBSWY3DPEHPK3PXP")));
}

async fn sessions_end_one_at_a_time_or_everywhere(h: &Harness) {
    h.store.save_operator(&officer("dario"), &WriteContext::cli("test")).await.unwrap();
    let now = anagrafe_store::now_ms();
    for (i, t) in ["d1", "d2", "d3"].iter().enumerate() {
        assert!(h.store.open_session(&session(t, "dario", now), Some(i as i64 + 1), &entry("operator.login", "dario")).await.unwrap());
    }
    h.store.touch_session("d1", now + 5, true, false).await.unwrap();
    let s = h.store.session("d1").await.unwrap().unwrap();
    assert_eq!((s.last_seen_at, s.authenticated_at), (now + 5, now + 5));
    assert_eq!(h.store.end_sessions("operator", "dario", Some("d1"), &entry("operator.logout", "dario")).await.unwrap(), 1);
    assert!(h.store.session("d1").await.unwrap().unwrap().ended_at.is_some());
    assert!(h.store.session("d2").await.unwrap().unwrap().ended_at.is_none());
    let before = audit_len(h).await;
    assert_eq!(h.store.end_sessions("operator", "dario", None, &entry("operator.logout_everywhere", "dario")).await.unwrap(), 2);
    assert_eq!(audit_len(h).await, before + 1);
    assert!(h.store.session("d3").await.unwrap().unwrap().ended_at.is_some());
    // An ended session is not revived by activity.
    h.store.touch_session("d3", now + 10, false, false).await.unwrap();
    assert!(h.store.session("d3").await.unwrap().unwrap().last_seen_at < now + 10);
    assert!(h.store.verify_audit_chain().await.unwrap().first_bad.is_none());
}

async fn a_login_in_progress_is_taken_once_and_only_while_fresh(h: &Harness) {
    let now = anagrafe_store::now_ms();
    let flow = |state: &str, at: i64| OidcFlow {
        state_hash: state.into(),
        provider: "dev".into(),
        nonce: format!("nonce-{state}"),
        pkce_verifier: format!("verifier-{state}"),
        created_at: at,
    };
    h.store.save_oidc_flow(&flow("s1", now)).await.unwrap();
    h.store.save_oidc_flow(&flow("old", now - 3_600_000)).await.unwrap();
    assert!(matches!(h.store.save_oidc_flow(&flow("s1", now)).await, Err(StoreError::Conflict { .. })));
    assert_eq!(h.store.take_oidc_flow("s1", now - 600_000).await.unwrap(), Some(flow("s1", now)));
    assert_eq!(h.store.take_oidc_flow("s1", now - 600_000).await.unwrap(), None, "single use");
    assert_eq!(h.store.take_oidc_flow("old", now - 600_000).await.unwrap(), None, "too old");
    assert_eq!(h.store.take_oidc_flow("nothing", 0).await.unwrap(), None);
}

async fn counters_count_per_window_and_blocks_expire(h: &Harness) {
    let t = 1_800_000_000_000i64;
    assert_eq!(h.store.hit("auth:addr:192.0.2.7", 60_000, t).await.unwrap(), 1);
    assert_eq!(h.store.hit("auth:addr:192.0.2.7", 60_000, t + 10).await.unwrap(), 2);
    assert_eq!(h.store.hit("auth:addr:192.0.2.8", 60_000, t + 20).await.unwrap(), 1, "per key");
    assert_eq!(h.store.hit("auth:addr:192.0.2.7", 60_000, t + 60_000).await.unwrap(), 1, "a new window starts again");
    let now = anagrafe_store::now_ms();
    let before = audit_len(h).await;
    h.store.block_address("192.0.2.7", now + 1000, "too many failed logins", &entry("security.address_blocked", "system")).await.unwrap();
    assert_eq!(audit_len(h).await, before + 1, "a security event");
    assert_eq!(h.store.blocked_addresses(now).await.unwrap(), vec![("192.0.2.7".to_owned(), now + 1000)]);
    assert!(h.store.blocked_addresses(now + 1000).await.unwrap().is_empty(), "the block ends");
}
