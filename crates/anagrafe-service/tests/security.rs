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
