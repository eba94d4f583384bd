//! The security officer's desk on both backends (SEC-5, issue 18 item 4): the trace's state and
//! its search by actor, person, operation, outcome and period; only the security officer may
//! search, and every search is itself traced.

#[macro_use]
#[path = "../../anagrafe-store/tests/common/mod.rs"]
mod common;
use common::Harness;

use anagrafe_domain::ops::Operation;
use anagrafe_domain::{Belfiore, IdGenerator};
use anagrafe_service::security::{SecurityDesk, TraceSearch, italian_midnight_ms};
use anagrafe_service::{ClientOpId, FakeClock, Principal, Registry, ServiceError};
use anagrafe_store::IdIssuer;
use chrono::NaiveDate;
use std::sync::Arc;

conformance!(
    the_security_officer_finds_who_did_what_to_whom_and_when,
    only_the_security_officer_searches_the_trace,
    each_analysis_rule_triggers_above_its_threshold_and_not_below,
    the_rules_about_hours_competence_places_quotas_and_the_chain_trigger_and_do_not,
    alerts_are_raised_once_followed_and_closed_with_notes,
    the_reports_count_the_period_render_as_pdf_and_json_and_are_mailed_once,
);

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn officer() -> Principal {
    Principal::security_officer("sicurezza", "password_totp", "req-sec".into())
}

async fn register(h: &Harness, n: u64, client: &str) -> String {
    let clock = Arc::new(FakeClock::on(d("2026-06-01")));
    let issuer = IdIssuer { generator: IdGenerator::new(&[9u8; 16]), key_version: 1, high_water: None };
    let reg = Registry::new(h.store.clone(), Some(Arc::new(issuer)), clock);
    let who = Principal::comune_client(client, Some(Belfiore::parse("H501").unwrap()), format!("req-{n}"));
    let op = Operation::Register(Box::new(anagrafe_testkit::registration(n, "H501", "H501", d("2026-05-30"))));
    let w = reg.apply(&who, op, &ClientOpId::parse(&format!("birth-{n}")).unwrap()).await.unwrap();
    w.applied.codice_fiscale.unwrap()
}

async fn the_security_officer_finds_who_did_what_to_whom_and_when(h: &Harness) {
    let first = register(h, 1, "roma").await;
    let second = register(h, 2, "roma").await;
    register(h, 3, "altro").await;
    let desk = SecurityDesk::new(h.store.clone());
    let sec = officer();
    let st = desk.trace_state(&sec).await.unwrap();
    assert_eq!((st.head, st.last_checkpoint.is_none(), st.unsigned()), (3, true, 3));

    let find = |q: TraceSearch| {
        let desk = desk.clone();
        let sec = sec.clone();
        async move { desk.search(&sec, &q, None).await.unwrap().entries }
    };
    let by_actor = find(TraceSearch { actor: Some("client:roma".into()), ..Default::default() }).await;
    assert_eq!(by_actor.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 1], "newest first");
    let about = find(TraceSearch { subject: Some(second.to_lowercase()), ..Default::default() }).await;
    assert_eq!(about.len(), 1);
    assert_eq!(about[0].entry.subject_cf.as_deref(), Some(second.as_str()));
    let ops = find(TraceSearch { operation: Some("person.".into()), outcome: Some("ok".into()), ..Default::default() }).await;
    assert_eq!(ops.len(), 3);
    // A pattern's wildcards are taken literally.
    assert!(find(TraceSearch { operation: Some("%".into()), ..Default::default() }).await.is_empty());
    // Searches are traced: the trace now holds them too, by the officer, about the person searched.
    let searches =
        find(TraceSearch { actor: Some("operator:sicurezza".into()), operation: Some("audit.search".into()), ..Default::default() }).await;
    assert_eq!(searches.len(), 4, "the earlier searches (a search does not find itself)");
    assert!(searches.iter().any(|e| e.entry.subject_cf.is_none() && e.entry.subject_person.is_some()));
    // The period: everything today, nothing tomorrow (Italian days).
    let today = anagrafe_domain::ops::italian_date(chrono::Utc::now());
    let tomorrow = today.succ_opt().unwrap();
    assert_eq!(
        find(TraceSearch { operation: Some("person.".into()), from: Some(today), to: Some(today), ..Default::default() }).await.len(),
        3
    );
    assert!(find(TraceSearch { operation: Some("person.".into()), from: Some(tomorrow), ..Default::default() }).await.is_empty());
    assert_eq!(
        italian_midnight_ms(d("2026-01-15")),
        chrono::DateTime::parse_from_rfc3339("2026-01-14T23:00:00Z").unwrap().timestamp_millis()
    );
    assert_eq!(
        italian_midnight_ms(d("2026-07-15")),
        chrono::DateTime::parse_from_rfc3339("2026-07-14T22:00:00Z").unwrap().timestamp_millis()
    );
    // Bad conditions name their field.
    let e = desk.search(&sec, &TraceSearch { subject: Some("nonsense".into()), ..Default::default() }, None).await.unwrap_err();
    assert!(matches!(&e, ServiceError::Malformed { field, .. } if field == "soggetto"), "{e:?}");
    let e = desk.search(&sec, &TraceSearch { subject: Some("RSSMRA80A01H501U".into()), ..Default::default() }, None).await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "soggetto");
    let e = desk.search(&sec, &TraceSearch { from: Some(tomorrow), to: Some(today), ..Default::default() }, None).await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "al");
    // Pages: older entries from where the last page ended.
    let all = desk.search(&sec, &TraceSearch::default(), None).await.unwrap();
    assert!(all.older.is_none());
    let older = desk.search(&sec, &TraceSearch::default(), Some(3)).await.unwrap().entries;
    assert_eq!(older.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 1]);
    let _ = first;
}

async fn only_the_security_officer_searches_the_trace(h: &Harness) {
    let desk = SecurityDesk::new(h.store.clone());
    for who in [
        Principal::registry_officer("anagrafe", Belfiore::parse("H501").unwrap(), "password_totp", "r".into()),
        Principal::comune_client("roma", Some(Belfiore::parse("H501").unwrap()), "r".into()),
        Principal::citizen("RSSMRA80A01H501U", "spid", 2, "r".into()),
    ] {
        assert!(matches!(desk.search(&who, &TraceSearch::default(), None).await, Err(ServiceError::Forbidden(_))));
        assert!(matches!(desk.trace_state(&who).await, Err(ServiceError::Forbidden(_))));
    }
    assert_eq!(h.store.audit_head().await.unwrap().0, 0, "a refused search reads and writes nothing");
}

/// Each rule has a case that triggers it and one that does not (issue 18, acceptance): small
/// thresholds, entries written now, and the clock moved past the window.
async fn each_analysis_rule_triggers_above_its_threshold_and_not_below(h: &Harness) {
    use anagrafe_service::security::{Rule, rules};
    use anagrafe_store::AuditEntry;
    let desk = SecurityDesk::new(h.store.clone());
    let sec = officer();
    let entry = |actor: &str, op: &str, outcome: &str, subject: Option<i64>, cf: Option<&str>| {
        let mut e = AuditEntry::from_ctx(&anagrafe_store::WriteContext::cli("t"), op, outcome);
        e.actor = actor.into();
        e.subject_person = subject;
        e.subject_cf = cf.map(str::to_owned);
        e
    };
    for p in 1..=4 {
        h.store.audit(&entry("operator:curioso", "person.read", "ok", Some(p), None)).await.unwrap();
    }
    h.store.audit(&entry("operator:normale", "person.read", "ok", Some(1), None)).await.unwrap();
    for _ in 0..3 {
        h.store.audit(&entry("client:insistente", "api.request", "refused", None, None)).await.unwrap();
    }
    for a in ["operator:a", "operator:b", "operator:c"] {
        h.store.audit(&entry(a, "person.read", "ok", Some(9), Some("RSSMRA80A01H501U"))).await.unwrap();
    }
    for _ in 0..3 {
        h.store.audit(&entry("public", "certificate.verify", "unknown", None, None)).await.unwrap();
    }
    for op in ["operator.save", "api_client.save", "pdnd_client.save", "security.address_blocked"] {
        h.store.audit(&entry("cli:root", op, "ok", None, None)).await.unwrap();
    }
    let small = |id: &str, threshold: i64| {
        let mut r: Rule = rules().into_iter().find(|r| r.id == id).unwrap();
        r.threshold = threshold;
        r
    };
    let now = FakeClock::at(chrono::Utc::now());
    let found = |rule: Rule| {
        let desk = desk.clone();
        let sec = sec.clone();
        let clock = &now;
        async move { desk.findings(&sec, &[rule], clock).await.unwrap().into_iter().map(|f| (f.key, f.count)).collect::<Vec<_>>() }
    };
    assert_eq!(found(small("many-persons", 3)).await, [("operator:curioso".to_owned(), 4)]);
    assert!(found(small("many-persons", 4)).await.is_empty(), "four persons is not more than four");
    assert_eq!(found(small("refusal-burst", 2)).await, [("client:insistente".to_owned(), 3)]);
    assert!(found(small("refusal-burst", 3)).await.is_empty());
    assert_eq!(found(small("subject-many-actors", 2)).await, [("RSSMRA80A01H501U".to_owned(), 3)]);
    assert!(found(small("subject-many-actors", 3)).await.is_empty());
    assert_eq!(found(small("verification-burst", 2)).await, [("certificate.verify".to_owned(), 3)]);
    assert!(found(small("verification-burst", 3)).await.is_empty());
    for (id, op) in [
        ("role-grants", "operator.save"),
        ("client-keys", "api_client.save"),
        ("body-keys", "pdnd_client.save"),
        ("address-blocks", "security.address_blocked"),
    ] {
        assert_eq!(found(small(id, 0)).await, [(op.to_owned(), 1)], "{id}");
        assert!(found(small(id, 1)).await.is_empty(), "{id}");
    }
    // Past their windows the same entries find nothing.
    now.advance(chrono::Duration::days(2));
    for r in rules() {
        let mut r = r;
        r.threshold = 0;
        assert!(found(r.clone()).await.is_empty(), "{} past its window", r.id);
    }
    let e = desk.findings(&Principal::citizen("RSSMRA80A01H501U", "spid", 2, "r".into()), &rules(), &now).await.unwrap_err();
    assert!(matches!(e, ServiceError::Forbidden(_)));
}

fn operator(username: &str, role: anagrafe_domain::Role, scope: &str) -> anagrafe_store::Operator {
    anagrafe_store::Operator {
        codice_fiscale: None,
        username: username.into(),
        display_name: username.into(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        must_change_password: false,
        totp_secret: None,
        totp_pending: None,
        totp_last_step: None,
        failed_logins: 0,
        locked_until: None,
        disabled: false,
        roles: vec![anagrafe_store::RoleGrant { role, scope: scope.into(), mediator: false }],
    }
}

fn entry(actor: &str, op: &str, outcome: &str, subject: Option<i64>, detail: &str) -> anagrafe_store::AuditEntry {
    let mut e = anagrafe_store::AuditEntry::from_ctx(&anagrafe_store::WriteContext::cli("t"), op, outcome);
    e.actor = actor.into();
    e.subject_person = subject;
    e.detail = detail.into();
    e
}

fn rule(id: &str) -> anagrafe_service::security::Rule {
    anagrafe_service::security::rules().into_iter().find(|r| r.id == id).unwrap()
}

/// SEC-5's other rules: reads while the offices are closed, reads outside the operator's
/// competence, logins from new places, purposes near their quota, a failed chain check, bursts
/// of certificates. Each found above its threshold, not at it, and not past its window.
async fn the_rules_about_hours_competence_places_quotas_and_the_chain_trigger_and_do_not(h: &Harness) {
    use anagrafe_domain::Role;
    use anagrafe_domain::security::OfficeHours;
    use anagrafe_service::security::{Window, analyse};
    use chrono::Timelike;
    let now = chrono::Utc::now();
    let found = |rule: anagrafe_service::security::Rule, at: chrono::DateTime<chrono::Utc>| {
        let store = h.store.clone();
        async move { analyse(&*store, &[rule], at).await.unwrap().into_iter().map(|f| (f.key, f.count)).collect::<Vec<_>>() }
    };
    // Two persons of Rome.
    register(h, 1, "roma").await;
    register(h, 2, "roma").await;
    let (p1, p2) = (1_i64, 2_i64);
    let ctx = anagrafe_store::WriteContext::cli("t");
    h.store.save_operator(&operator("romano", Role::RegistryOfficer, "H501"), &ctx).await.unwrap();
    h.store.save_operator(&operator("milanese", Role::RegistryOfficer, "F205"), &ctx).await.unwrap();
    h.store.save_operator(&operator("trasferito", Role::RegistryOfficer, "F205"), &ctx).await.unwrap();

    // Outside competence: Milan's officer reads both; Rome's officer reads one; another Milan
    // officer reads one after registering a change on it (a related operation).
    for p in [p1, p2] {
        h.store.audit(&entry("operator:milanese", "person.read", "ok", Some(p), "{}")).await.unwrap();
    }
    h.store.audit(&entry("operator:romano", "person.read", "ok", Some(p1), "{}")).await.unwrap();
    h.store.audit(&entry("operator:trasferito", "person.transfer", "ok", Some(p2), "{}")).await.unwrap();
    h.store.audit(&entry("operator:trasferito", "person.read", "ok", Some(p2), "{}")).await.unwrap();
    let mut r = rule("outside-competence");
    assert_eq!(found(r.clone(), now).await, [("operator:milanese".to_owned(), 2)]);
    r.threshold = 2;
    assert!(found(r.clone(), now).await.is_empty(), "two is not more than two");
    r.threshold = 0;
    assert!(found(r, now + chrono::Duration::days(2)).await.is_empty(), "past the window");

    // Off hours: office hours made to exclude (or include) the present Italian hour, so the
    // test holds whenever it runs. The reads above are by operators, at this hour.
    let hour = anagrafe_domain::ops::italian_time(now).hour();
    let closed_now = OfficeHours { opens: (hour + 2) % 24, closes: (hour + 3) % 24, days: [true; 7] };
    let open_now = OfficeHours { opens: (hour + 23) % 24, closes: (hour + 2) % 24, days: [true; 7] };
    let mut off = rule("off-hours");
    off.window = Window::OffHours(3600, closed_now);
    let at_night = found(off.clone(), now).await;
    assert!(at_night.contains(&("operator:milanese".to_owned(), 2)), "{at_night:?}");
    off.threshold = 2;
    assert!(!found(off.clone(), now).await.iter().any(|(k, _)| k == "operator:milanese"), "two is not more than two");
    off.threshold = 0;
    off.window = Window::OffHours(3600, open_now);
    assert!(found(off, now).await.is_empty(), "read while the offices are open");

    // Logins from a new place.
    h.store
        .audit(&entry("operator:romano", "operator.login", "ok", None, r#"{"loa":2,"new_place":true,"second_factor":true}"#))
        .await
        .unwrap();
    h.store
        .audit(&entry("operator:milanese", "operator.login", "ok", None, r#"{"loa":2,"new_place":false,"second_factor":true}"#))
        .await
        .unwrap();
    h.store.audit(&entry("operator:milanese", "operator.login", "refused", None, r#"{"new_place":true}"#)).await.unwrap();
    assert_eq!(found(rule("new-place"), now).await, [("operator:romano".to_owned(), 1)]);
    let mut r = rule("new-place");
    r.threshold = 1;
    assert!(found(r, now).await.is_empty());

    // A purpose near its daily quota: 9 calls of 10 is past 80%; 8 is not.
    let body = anagrafe_store::PdndClient {
        client_id: "ente-1".into(),
        name: "Ente".into(),
        keys: vec![],
        purposes: vec![anagrafe_store::PdndPurpose {
            purpose_id: "finalita-1".into(),
            eservice: "C030".into(),
            description: "verifica".into(),
            daily_quota: 10,
            per_second: 5,
            revoked: false,
        }],
        revoked: false,
        public_security: false,
    };
    h.store.save_pdnd_client(&body, &ctx).await.unwrap();
    for _ in 0..8 {
        h.store.audit(&entry("pdnd:ente-1", "pdnd.C030", "ok", None, r#"{"eservice":"C030","purposeId":"finalita-1"}"#)).await.unwrap();
    }
    // A voucher and a call of another purpose do not count.
    h.store.audit(&entry("pdnd:ente-1", "pdnd.voucher", "ok", None, r#"{"purposeId":"finalita-1"}"#)).await.unwrap();
    h.store.audit(&entry("pdnd:ente-1", "pdnd.C030", "ok", None, r#"{"purposeId":"finalita-2"}"#)).await.unwrap();
    assert!(found(rule("quota-near"), now).await.is_empty(), "8 of 10 is 80%, not past it");
    h.store.audit(&entry("pdnd:ente-1", "pdnd.C030", "ok", None, r#"{"eservice":"C030","purposeId":"finalita-1"}"#)).await.unwrap();
    assert_eq!(found(rule("quota-near"), chrono::Utc::now()).await, [("finalita-1".to_owned(), 9)]);
    assert!(found(rule("quota-near"), now + chrono::Duration::days(1)).await.is_empty(), "a new day");

    // A failed check of the chain; a sound one is no finding.
    h.store.audit(&entry("cli:root", "audit.chain_check", "ok", None, "{}")).await.unwrap();
    let t = chrono::Utc::now();
    assert!(found(rule("chain-check"), t).await.is_empty());
    h.store.audit(&entry("system:checkpoint", "audit.chain_check", "broken", None, "{}")).await.unwrap();
    assert_eq!(found(rule("chain-check"), chrono::Utc::now()).await, [("audit.chain_check".to_owned(), 1)]);

    // A burst of certificates.
    let mut burst = rule("certificate-burst");
    burst.threshold = 2;
    for _ in 0..2 {
        h.store.audit(&entry("operator:romano", "certificate.issue", "ok", None, "{}")).await.unwrap();
    }
    assert!(found(burst.clone(), chrono::Utc::now()).await.is_empty());
    h.store.audit(&entry("operator:romano", "certificate.issue", "ok", None, "{}")).await.unwrap();
    assert_eq!(found(burst, chrono::Utc::now()).await, [("certificate.issue".to_owned(), 3)]);
}

/// The analysis job keeps each finding as one alert while it lasts; the security officer
/// acknowledges, assigns, closes it with notes (each step traced); a closed alert stays quiet
/// for a window, then the same finding raises a new one.
async fn alerts_are_raised_once_followed_and_closed_with_notes(h: &Harness) {
    use anagrafe_domain::Role;
    use anagrafe_domain::security::AlertState;
    use anagrafe_service::security::{AlertUpdate, evaluate};
    let ctx = anagrafe_store::WriteContext::cli("t");
    h.store.save_operator(&operator("sicurezza", Role::SecurityOfficer, ""), &ctx).await.unwrap();
    h.store.save_operator(&operator("anagrafe", Role::RegistryOfficer, "H501"), &ctx).await.unwrap();
    let mut r = rule("refusal-burst");
    r.threshold = 1;
    let rules = [r];
    let clock = FakeClock::at(chrono::Utc::now());
    assert_eq!(evaluate(&*h.store, &rules, &clock).await.unwrap().raised.len(), 0, "nothing found, nothing raised");
    for _ in 0..2 {
        h.store.audit(&entry("client:insistente", "api.request", "refused", None, "{}")).await.unwrap();
    }
    clock.set(chrono::Utc::now());
    let first = evaluate(&*h.store, &rules, &clock).await.unwrap();
    assert_eq!(first.raised.len(), 1);
    let id = first.raised[0];
    h.store.audit(&entry("client:insistente", "api.request", "refused", None, "{}")).await.unwrap();
    clock.set(chrono::Utc::now());
    let again = evaluate(&*h.store, &rules, &clock).await.unwrap();
    assert_eq!((again.raised.len(), again.ongoing), (0, 1), "the same finding: the same alert, its count updated");

    let desk = SecurityDesk::new(h.store.clone());
    let sec = officer();
    let listed = desk.alerts(&sec, Some(AlertState::Open), None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].key.as_str(), listed[0].count), ("client:insistente", 3));
    // The raising is traced by the job.
    let raised = h
        .store
        .audit_search(&anagrafe_store::TraceQuery { operation: Some("security.alert_raised".into()), ..Default::default() }, i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!((raised.len(), raised[0].entry.actor.as_str()), (1, "system:analysis"));

    let update =
        |from, to, assignee: Option<&str>, note: &str| AlertUpdate { from, to, assignee: assignee.map(str::to_owned), note: note.into() };
    // Refused: no note, an assignee who is not a security officer, a closed alert acknowledged.
    let e = desk.update_alert(&sec, id, &update(AlertState::Open, AlertState::Acknowledged, None, " "), &clock).await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "nota");
    let e =
        desk.update_alert(&sec, id, &update(AlertState::Open, AlertState::Acknowledged, Some("anagrafe"), "io"), &clock).await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "assegnatario");
    let ok = desk
        .update_alert(&sec, id, &update(AlertState::Open, AlertState::Acknowledged, Some("sicurezza"), "Verifico con il comune."), &clock)
        .await
        .unwrap();
    assert_eq!((ok.state, ok.assignee.as_deref()), (AlertState::Acknowledged, Some("sicurezza")));
    // Someone working from a stale page: refused, nothing written.
    let stale = desk.update_alert(&sec, id, &update(AlertState::Open, AlertState::Closed, None, "Chiudo."), &clock).await.unwrap_err();
    assert!(matches!(stale, ServiceError::Conflict(_)), "{stale:?}");
    let closed = desk
        .update_alert(
            &sec,
            id,
            &update(AlertState::Acknowledged, AlertState::Closed, None, "Programma del comune difettoso, corretto."),
            &clock,
        )
        .await
        .unwrap();
    assert_eq!(closed.state, AlertState::Closed);
    let e = desk.update_alert(&sec, id, &update(AlertState::Closed, AlertState::Acknowledged, None, "x"), &clock).await.unwrap_err();
    assert_eq!(e.field_errors()[0].field, "stato");
    let (_, steps) = desk.alert(&sec, id).await.unwrap();
    assert_eq!(steps.iter().map(|s| s.state).collect::<Vec<_>>(), [AlertState::Open, AlertState::Acknowledged, AlertState::Closed]);
    assert_eq!(steps[2].note, "Programma del comune difettoso, corretto.");
    let changes = h
        .store
        .audit_search(&anagrafe_store::TraceQuery { operation: Some("security.alert_changed".into()), ..Default::default() }, i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(changes.len(), 2, "two changes made, the refused ones traced nothing");

    // Closed: the same finding within the window stays quiet; after it, a new alert.
    let quiet = evaluate(&*h.store, &rules, &clock).await.unwrap();
    assert_eq!((quiet.raised.len(), quiet.quiet), (0, 1));
    // Past the quiet period (one window from the closing) the same finding is a new alert.
    let f = anagrafe_store::AlertFinding { rule: "refusal-burst".into(), key: "client:insistente".into(), count: 3 };
    let closing = closed.closed_at.unwrap();
    let job = Principal::job("analysis", "r".into()).entry("security.alert_raised", "ok");
    assert_eq!(h.store.raise_alert(&f, closing + 599_999, 600_000, &job).await.unwrap(), anagrafe_store::AlertRaise::Quiet(id));
    let anagrafe_store::AlertRaise::Raised(new) = h.store.raise_alert(&f, closing + 600_000, 600_000, &job).await.unwrap() else {
        panic!("a new alert after the quiet period")
    };
    assert!(new > id);

    // Only the security officer.
    for who in [
        Principal::registry_officer("anagrafe", Belfiore::parse("H501").unwrap(), "password_totp", "r".into()),
        Principal::system_admin("admin", "password_totp", "r".into()),
    ] {
        assert!(matches!(desk.alerts(&who, None, None).await, Err(ServiceError::Forbidden(_))));
        assert!(matches!(desk.alert(&who, id).await, Err(ServiceError::Forbidden(_))));
        let e = desk.update_alert(&who, id, &update(AlertState::Closed, AlertState::Open, None, "x"), &clock).await.unwrap_err();
        assert!(matches!(e, ServiceError::Forbidden(_)));
    }
}

/// The periodic reports (issue 18, item 4): a day's accesses by operation and actor, refusals,
/// alerts and the chain; as JSON and PDF; the job mails the periods just ended once each, and
/// only the security officer asks for one at the desk.
async fn the_reports_count_the_period_render_as_pdf_and_json_and_are_mailed_once(h: &Harness) {
    use anagrafe_service::report::{self, Period};
    let today = anagrafe_domain::ops::italian_date(chrono::Utc::now());
    for p in 1..=3 {
        h.store.audit(&entry("operator:curioso", "person.read", "ok", Some(p), "{}")).await.unwrap();
    }
    h.store.audit(&entry("client:insistente", "api.request", "refused", None, "{}")).await.unwrap();
    h.store.audit(&entry("system:checkpoint", "audit.chain_check", "broken", None, "{}")).await.unwrap();
    let clock = FakeClock::at(chrono::Utc::now());
    anagrafe_service::security::evaluate(&*h.store, &anagrafe_service::security::rules(), &clock).await.unwrap();
    let r = report::for_officer(&*h.store, &officer(), Period::Day, today, &clock).await.unwrap();
    assert_eq!((r.from, r.to), (today, today));
    assert!(r.by_operation.contains(&("person.read".to_owned(), 3)), "{:?}", r.by_operation);
    assert_eq!(r.persons_by_actor, [("operator:curioso".to_owned(), 3)]);
    assert_eq!(r.refusals_by_actor, [("client:insistente".to_owned(), 1)]);
    assert_eq!(r.chain.checks_broken, 1);
    assert!(r.alerts.iter().any(|a| a.rule == "chain-check"), "{:?}", r.alerts);
    // Yesterday's report holds none of today's entries.
    let y = report::build(&*h.store, Period::Day, today.pred_opt().unwrap(), &clock).await.unwrap();
    assert!(y.by_operation.is_empty() && y.alerts.is_empty(), "{y:?}");
    let json: serde_json::Value = serde_json::from_slice(&report::json(&r)).unwrap();
    assert_eq!(json["format"], "anagrafe-security-report/1");
    let pdf = report::pdf(&r).await.unwrap();
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    // Asked at the desk: traced; refused to anyone else.
    let asked = h
        .store
        .audit_search(&anagrafe_store::TraceQuery { operation: Some("audit.report".into()), ..Default::default() }, i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(asked.len(), 1);
    let e = report::for_officer(&*h.store, &Principal::system_admin("admin", "password_totp", "r".into()), Period::Day, today, &clock)
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Forbidden(_)));
    // The job: on a Monday the 1st, yesterday's day, last week and last month are due.
    let outbox = tempfile::tempdir().unwrap();
    let mail = anagrafe_service::certificates::MailDelivery::Outbox(outbox.path().to_owned());
    let monday_first = chrono::NaiveDate::from_ymd_opt(2029, 1, 1).unwrap().and_hms_opt(7, 0, 0).unwrap().and_utc();
    let job_clock = FakeClock::at(monday_first);
    let to = vec!["sicurezza@example.org".to_owned()];
    assert_eq!(report::send_due(&*h.store, &mail, "Anagrafe <noreply@example.org>", &to, &job_clock).await.unwrap(), 3);
    let files: Vec<_> = std::fs::read_dir(outbox.path()).unwrap().map(|f| f.unwrap().path()).collect();
    assert_eq!(files.len(), 3);
    let eml = std::fs::read_to_string(files.iter().find(|f| f.to_string_lossy().contains("week")).unwrap()).unwrap();
    assert!(
        eml.contains("To: <sicurezza@example.org>")
            && eml.contains("application/pdf")
            && eml.contains("rapporto-sicurezza-week-2028-12-25.json"),
        "{eml}"
    );
    assert_eq!(report::send_due(&*h.store, &mail, "Anagrafe <noreply@example.org>", &to, &job_clock).await.unwrap(), 0, "sent once");
    assert_eq!(report::send_due(&*h.store, &mail, "Anagrafe <noreply@example.org>", &[], &job_clock).await.unwrap(), 0);
}
