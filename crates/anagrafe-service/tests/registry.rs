//! The registry service on both backends, with the fake clock (REG-2, REG-6, SEC-4): what every
//! door — the comuni's web services, the office's pages, the command line — gets when it calls
//! it.

#[macro_use]
#[path = "../../anagrafe-store/tests/common/mod.rs"]
mod common;
use common::Harness;

use anagrafe_domain::ops::Operation;
use anagrafe_domain::{Belfiore, IdGenerator, Role};
use anagrafe_service::registry::{PersonQuery, Registry};
use anagrafe_service::{ClientOpId, FakeClock, Principal, ServiceError};
use anagrafe_store::{IdIssuer, StoredAudit};
use chrono::NaiveDate;
use std::sync::Arc;

conformance!(
    a_registration_through_the_service_gets_an_id_and_reads_back_traced,
    a_write_the_register_refuses_is_traced_in_its_own_transaction_and_writes_nothing,
    the_same_operation_id_answers_the_first_result_and_another_operation_under_it_is_refused,
    the_rules_read_today_from_the_services_clock,
    a_caller_of_another_role_is_refused_and_a_comune_reads_only_with_a_role_that_keeps_the_register,
    a_register_restored_from_an_older_copy_never_issues_an_id_again,
);

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn registry(h: &Harness, today: &str) -> (Registry, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::on(d(today)));
    let issuer = IdIssuer { generator: IdGenerator::new(&[9u8; 16]), key_version: 1, high_water: None };
    (Registry::new(h.store.clone(), Some(Arc::new(issuer)), clock.clone()), clock)
}

fn comune(code: &str) -> Principal {
    Principal::comune_client(&format!("test-{}", code.to_lowercase()), Some(Belfiore::parse(code).unwrap()), format!("req-{code}"))
}

fn op_id(s: &str) -> ClientOpId {
    ClientOpId::parse(s).unwrap()
}

fn birth(n: u64, residence: &str, date: &str) -> Operation {
    Operation::Register(Box::new(anagrafe_testkit::registration(n, "H501", residence, d(date))))
}

/// IDN-2 whatever is restored (issue 18, item 0): a register issues IDs, its database is then
/// replaced by an older copy (here the oldest there is: the empty register, under the same key);
/// with the high-water mark kept beside the key, the restored register issues none of the IDs
/// issued before; without it, it issues the very same IDs to other people.
async fn a_register_restored_from_an_older_copy_never_issues_an_id_again(h: &Harness) {
    let dir = tempfile::tempdir().unwrap();
    let mark = anagrafe_store::IdHighWater::beside_key(&dir.path().join("id-anpr.key"));
    let issuer = |kept: bool| IdIssuer {
        generator: IdGenerator::new(&[9u8; 16]),
        key_version: 1,
        // Blocks of 3: five registrations raise the mark twice.
        high_water: kept.then(|| Arc::new(anagrafe_store::IdHighWater::new(&mark, 3))),
    };
    let issue = |store: Arc<dyn anagrafe_store::Store>, kept: bool, first: u64, n: u64| {
        let iss = issuer(kept);
        async move {
            if let Some(hw) = &iss.high_water {
                hw.resume(&*store).await.unwrap();
            }
            let reg = Registry::new(store, Some(Arc::new(iss)), Arc::new(FakeClock::on(d("2026-06-01"))));
            let mut ids = Vec::new();
            for k in first..first + n {
                let w = reg.apply(&comune("H501"), birth(k, "H501", "2026-05-30"), &op_id(&format!("restore-{k}"))).await.unwrap();
                ids.push(w.applied.id_anpr.unwrap());
            }
            ids
        }
    };
    let live = issue(h.store.clone(), true, 100, 5).await;
    let (next, ceiling) = h.store.id_counter().await.unwrap();
    assert_eq!(next, 5);
    assert!(ceiling.is_some_and(|c| c >= 5), "{ceiling:?}");
    let written = anagrafe_store::IdHighWater::new(&mark, 3).read().unwrap().unwrap();
    assert!(written >= next, "the mark ({written}) is never below what was issued ({next})");
    // The database may not pass its ceiling on its own: it refuses, and the service raises the
    // mark first.
    h.store.set_id_limits(next, next).await.unwrap();
    let more = issue(h.store.clone(), true, 105, 1).await;
    assert!(!live.contains(&more[0]));
    let mut issued = live.clone();
    issued.extend(more);
    // The restored copy, with the mark kept beside the key: none of those IDs again.
    let restored = match &h.raw {
        common::Raw::Sqlite(_) => Harness::sqlite().await,
        common::Raw::Pg(_) => Harness::postgres().await.unwrap(),
    };
    let again = issue(restored.store.clone(), true, 200, 6).await;
    for id in &again {
        assert!(!issued.contains(id), "{id} was issued before the restore");
    }
    // Without the mark, the same copy would give the same IDs to other people: the defect.
    let unguarded = match &h.raw {
        common::Raw::Sqlite(_) => Harness::sqlite().await,
        common::Raw::Pg(_) => Harness::postgres().await.unwrap(),
    };
    let reissued = issue(unguarded.store.clone(), false, 300, 2).await;
    assert!(reissued.iter().all(|id| issued.contains(id)), "the unguarded copy reissues {reissued:?}");
    // A register that kept a mark and finds it gone refuses to start rather than guess.
    std::fs::remove_file(&mark).unwrap();
    let e = anagrafe_store::IdHighWater::new(&mark, 3).resume(&*restored.store).await.unwrap_err();
    assert!(e.to_string().contains("high-water mark"), "{e}");
    restored.done().await;
    unguarded.done().await;
}

async fn trace(h: &Harness) -> Vec<StoredAudit> {
    h.store.audit_entries(0, 10_000).await.unwrap()
}

async fn a_registration_through_the_service_gets_an_id_and_reads_back_traced(h: &Harness) {
    let (reg, _) = registry(h, "2026-06-01");
    let roma = comune("H501");
    let w = reg.apply(&roma, birth(1, "H501", "2026-05-30"), &op_id("birth-1")).await.unwrap();
    assert!(w.created && !w.replayed);
    let id = w.applied.id_anpr.expect("a registration gives an ID ANPR at once");

    let read = reg.person(&roma, &id, None).await.unwrap();
    assert_eq!(read.view.record.id_anpr.as_ref(), Some(&id));
    let reads: Vec<_> = trace(h).await.into_iter().filter(|e| e.entry.operation == "person.read").collect();
    assert_eq!(reads.len(), 1, "the read is traced");
    assert_eq!(reads[0].entry.actor, "client:test-h501");
    assert_eq!(reads[0].entry.subject_person, Some(read.view.id));

    let cf = read.view.record.generalita.codice_fiscale.expect("the register computes the code");
    let found = reg.search(&roma, &PersonQuery::CodiceFiscale(cf), None).await.unwrap();
    assert_eq!(found.len(), 1);
    assert!(h.store.verify_audit_chain().await.unwrap().first_bad.is_none());
}

async fn a_write_the_register_refuses_is_traced_in_its_own_transaction_and_writes_nothing(h: &Harness) {
    let (reg, _) = registry(h, "2026-06-01");
    // Milan may not register a person into Rome (REG-6 competence).
    let before = h.store.count_persons().await.unwrap();
    let e = reg.apply(&comune("F205"), birth(2, "H501", "2026-05-30"), &op_id("wrong-comune")).await.unwrap_err();
    assert!(matches!(e, ServiceError::Forbidden(_)), "{e:?}");
    assert_eq!(h.store.count_persons().await.unwrap(), before, "nothing written");
    let refused: Vec<_> = trace(h).await.into_iter().filter(|e| e.entry.outcome == "refused").collect();
    assert_eq!(refused.len(), 1, "the refusal is traced");
    assert_eq!(refused[0].entry.operation, "person.register");
    assert_eq!(refused[0].entry.actor, "client:test-f205");
    assert!(refused[0].entry.detail.contains("wrong-comune"), "{}", refused[0].entry.detail);

    // Data that do not hold are refused before the store is asked: no refusal to trace.
    let mut bad = anagrafe_testkit::registration(3, "H501", "H501", d("2026-05-30"));
    bad.citizenships.clear();
    let e = reg.apply(&comune("H501"), Operation::Register(Box::new(bad)), &op_id("no-citizenship")).await.unwrap_err();
    let ServiceError::Invalid(errs) = e else { panic!("a 422 naming the field") };
    assert!(errs.iter().any(|e| e.field.starts_with("citizenships")), "{errs:?}");
    assert_eq!(h.store.count_persons().await.unwrap(), before);
}

async fn the_same_operation_id_answers_the_first_result_and_another_operation_under_it_is_refused(h: &Harness) {
    let (reg, _) = registry(h, "2026-06-01");
    let roma = comune("H501");
    let first = reg.apply(&roma, birth(4, "H501", "2026-05-30"), &op_id("same-id")).await.unwrap();
    let again = reg.apply(&roma, birth(4, "H501", "2026-05-30"), &op_id("same-id")).await.unwrap();
    assert!(again.replayed && again.created);
    assert_eq!(again.applied, first.applied, "the first answer, to the letter");
    assert_eq!(h.store.count_persons().await.unwrap(), 1, "written once");

    let e = reg.apply(&roma, birth(5, "H501", "2026-05-30"), &op_id("same-id")).await.unwrap_err();
    assert!(matches!(&e, ServiceError::State { field, .. } if field == "client_op_id"), "{e:?}");
    // Another comune's software has its own operation ids.
    let milano = reg.apply(&comune("F205"), birth(6, "F205", "2026-05-30"), &op_id("same-id")).await.unwrap();
    assert!(!milano.replayed);
}

async fn the_rules_read_today_from_the_services_clock(h: &Harness) {
    let (reg, clock) = registry(h, "2026-01-10");
    let roma = comune("H501");
    // A birth dated after today (by the clock) is refused, naming the date …
    let e = reg.apply(&roma, birth(7, "H501", "2026-02-01"), &op_id("early")).await.unwrap_err();
    let ServiceError::Invalid(errs) = e else { panic!("a 422") };
    assert!(errs.iter().any(|e| e.field == "effective_date" || e.field == "birth_date"), "{errs:?}");
    assert_eq!(reg.today(), d("2026-01-10"));
    // … and accepted once the clock has moved past it, with no waiting.
    clock.advance(chrono::Duration::days(30));
    assert_eq!(reg.today(), d("2026-02-09"));
    reg.apply(&roma, birth(7, "H501", "2026-02-01"), &op_id("early")).await.unwrap();
}

async fn a_caller_of_another_role_is_refused_and_a_comune_reads_only_with_a_role_that_keeps_the_register(h: &Harness) {
    let (reg, _) = registry(h, "2026-06-01");
    let roma = comune("H501");
    let id = reg.apply(&roma, birth(8, "H501", "2026-05-30"), &op_id("b8")).await.unwrap().applied.id_anpr.unwrap();
    let agency = Principal { role: Role::RevenueAgency, comune: None, ..Principal::comune_client("agency", None, "r".into()) };
    assert!(matches!(reg.person(&agency, &id, None).await, Err(ServiceError::Forbidden(_))));
    assert!(matches!(reg.apply(&agency, birth(9, "H501", "2026-05-30"), &op_id("b9")).await, Err(ServiceError::Forbidden(_))));
    assert!(reg.revenue_outbox(&agency, 0, 10).await.is_ok());
    assert!(matches!(reg.revenue_outbox(&roma, 0, 10).await, Err(ServiceError::Forbidden(_))));
    // A registry officer of the comune reads as its software does.
    let officer = Principal::registry_officer("mario.rossi", Belfiore::parse("H501").unwrap(), "password_totp", "r2".into());
    assert!(reg.person(&officer, &id, None).await.is_ok());
    let reads = trace(h).await.into_iter().filter(|e| e.entry.operation == "person.read").count();
    assert_eq!(reads, 1, "only the read that was allowed is traced");
}
