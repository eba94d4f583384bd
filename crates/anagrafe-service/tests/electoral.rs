//! The electoral and citizen services on both backends (ELE-3, ELE-6, ELE-7, CIT-1, CIT-3):
//! what the citizen's pages, the electoral office's pages and `anagrafe electoral load` get.

#[macro_use]
#[path = "../../anagrafe-store/tests/common/mod.rs"]
mod common;
use common::Harness;

use anagrafe_domain::electoral::{Election, ElectionRight, ElectoralData, RectificationTopic, Section};
use anagrafe_domain::ops::Operation;
use anagrafe_domain::{Belfiore, IdAnpr, IdGenerator};
use anagrafe_service::electoral::LoadLine;
use anagrafe_service::{CitizenService, ClientOpId, ElectoralService, FakeClock, Principal, Registry, ServiceError};
use anagrafe_store::IdIssuer;
use chrono::NaiveDate;
use std::sync::Arc;

conformance!(
    an_officer_keeps_the_data_of_the_comunes_electors_only_and_every_read_is_traced,
    a_citizen_asks_once_and_the_officer_of_the_comune_answers,
    a_load_with_one_bad_line_writes_nothing_and_names_the_line,
    a_citizen_reads_the_own_record_with_the_household_traced,
);

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A person born in Rome and resident in `residence`: their ID ANPR and codice fiscale.
async fn person(h: &Harness, n: u64, residence: &str) -> (IdAnpr, String) {
    let clock = Arc::new(FakeClock::on(d("2026-06-01")));
    let issuer = IdIssuer { generator: IdGenerator::new(&[9u8; 16]), key_version: 1, high_water: None };
    let reg = Registry::new(h.store.clone(), Some(Arc::new(issuer)), clock);
    let who = Principal::comune_client("test", Some(Belfiore::parse(residence).unwrap()), format!("req-{n}"));
    let op = Operation::Register(Box::new(anagrafe_testkit::registration(n, "H501", residence, d("2026-05-30"))));
    let w = reg.apply(&who, op, &ClientOpId::parse(&format!("birth-{n}")).unwrap()).await.unwrap();
    let id = w.applied.id_anpr.unwrap();
    (id, w.applied.codice_fiscale.unwrap())
}

fn officer(comune: &str) -> Principal {
    Principal::electoral_officer("elettorale", Belfiore::parse(comune).unwrap(), "password_totp", "req-ele".into())
}

fn citizen(cf: &str) -> Principal {
    Principal::citizen(cf, "spid", 2, "req-cit".into())
}

fn data(section: u16) -> ElectoralData {
    ElectoralData {
        elector: true,
        section: Some(Section { number: section, seat_name: "Scuola Mazzini".into(), seat_address: "Via Roma 1".into() }),
        additional_lists: vec![],
        elections: vec![ElectionRight {
            election: Election::Referendum,
            constituency: None,
            multi_member_college: None,
            single_member_college: None,
        }],
    }
}

async fn count(h: &Harness, operation: &str) -> usize {
    h.store.audit_entries(0, 10_000).await.unwrap().iter().filter(|e| e.entry.operation == operation).count()
}

async fn an_officer_keeps_the_data_of_the_comunes_electors_only_and_every_read_is_traced(h: &Harness) {
    let (id, _) = person(h, 1, "H501").await;
    let ele = ElectoralService::new(h.store.clone());
    let roma = officer("H501");

    let elector = ele.elector(&roma, &id).await.unwrap();
    ele.save(&roma, &elector, &data(12)).await.unwrap();
    let file = ele.file(&roma, &elector).await.unwrap();
    assert_eq!(file.data.unwrap().data.section.unwrap().number, 12);
    assert_eq!(count(h, "electoral.update").await, 1);
    assert_eq!(count(h, "electoral.read").await, 1, "opening an elector's data is traced");

    // Data that do not hold are refused with the data's field, and nothing is written.
    let mut bad = data(13);
    bad.section = None;
    let e = ele.save(&roma, &elector, &bad).await.unwrap_err();
    assert!(e.field_errors().iter().any(|f| f.field.starts_with("section")), "{e:?}");
    assert_eq!(ele.file(&roma, &elector).await.unwrap().data.unwrap().data.section.unwrap().number, 12);

    // Milan's officer does not see a Roman elector; a registry officer is no electoral officer.
    assert!(matches!(ele.elector(&officer("F205"), &id).await, Err(ServiceError::Forbidden(_))));
    let registry = Principal::registry_officer("anagrafe", Belfiore::parse("H501").unwrap(), "password_totp", "r".into());
    assert!(matches!(ele.elector(&registry, &id).await, Err(ServiceError::Forbidden(_))));
    // Found by codice fiscale or ID; anything else is malformed.
    let cf = elector.record.generalita.codice_fiscale.unwrap().to_string();
    assert_eq!(ele.find(&roma, &cf.to_lowercase()).await.unwrap(), Some(id));
    assert!(matches!(ele.find(&roma, "nessuno").await, Err(ServiceError::Malformed { .. })));
}

async fn a_citizen_asks_once_and_the_officer_of_the_comune_answers(h: &Harness) {
    let (id, cf) = person(h, 2, "H501").await;
    let ele = ElectoralService::new(h.store.clone());
    let me = citizen(&cf);

    let e = ele.request_rectification(&me, &[], "corto").await.unwrap_err();
    let fields: Vec<_> = e.field_errors().into_iter().map(|f| f.field).collect();
    assert_eq!(fields, ["topics", "message"], "both fields at fault at once");

    let n = ele.request_rectification(&me, &[RectificationTopic::Section], "La sezione indicata non è la mia.").await.unwrap();
    let again = ele.request_rectification(&me, &[RectificationTopic::Section], "Ancora: la sezione non è la mia.").await;
    assert!(matches!(again, Err(ServiceError::State { .. })), "one request waits at a time: {again:?}");

    // Another comune cannot answer it; Rome's officer does, and the request is closed.
    assert!(ele.answer(&officer("F205"), n, true, "Sezione corretta, grazie.").await.is_err());
    assert_eq!(ele.requests(&officer("H501"), false).await.unwrap().len(), 1);
    let who = ele.answer(&officer("H501"), n, true, "Sezione corretta, grazie.").await.unwrap();
    assert_eq!(who, Some(id));
    assert!(ele.requests(&officer("H501"), false).await.unwrap().is_empty());
    let own = ele.own_file(&me).await.unwrap();
    assert_eq!(own.requests[0].status, "accepted");
    assert_eq!(count(h, "citizen.electoral_view").await, 1);
    // An officer is not a citizen.
    assert!(matches!(ele.own_file(&officer("H501")).await, Err(ServiceError::Forbidden(_))));
}

async fn a_load_with_one_bad_line_writes_nothing_and_names_the_line(h: &Harness) {
    let (a, _) = person(h, 3, "H501").await;
    let (b, cf_b) = person(h, 4, "H501").await;
    let (milan, _) = person(h, 5, "F205").await;
    let ele = ElectoralService::new(h.store.clone());
    let cli = Principal::command_line("ops", None, "req-load".into());
    let line = |id: Option<String>, cf: Option<String>| LoadLine { id_anpr: id, codice_fiscale: cf, data: data(7) };
    let roma = Belfiore::parse("H501").unwrap();

    let refused = ele
        .load(
            &cli,
            roma,
            vec![(1, line(Some(a.to_string()), None)), (2, line(Some(milan.to_string()), None)), (3, line(None, Some(cf_b.clone())))],
        )
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].line, 2, "{}", refused[0]);
    assert!(h.store.electoral_data(ele.elector(&officer("H501"), &a).await.unwrap().person_id).await.unwrap().is_none(), "nothing written");

    let written = ele.load(&cli, roma, vec![(1, line(Some(a.to_string()), None)), (2, line(None, Some(cf_b)))]).await.unwrap().unwrap();
    assert_eq!(written, 2);
    let eb = ele.elector(&officer("H501"), &b).await.unwrap();
    assert_eq!(h.store.electoral_data(eb.person_id).await.unwrap().unwrap().data.section.unwrap().number, 7);
    // A citizen does not load.
    assert!(ele.load(&citizen("RSSMRA80A01H501U"), roma, vec![]).await.is_err());
}

async fn a_citizen_reads_the_own_record_with_the_household_traced(h: &Harness) {
    let (id, cf) = person(h, 6, "H501").await;
    let svc = CitizenService::new(h.store.clone());
    let me = citizen(&cf);
    let own = svc.own_record(&me).await.unwrap();
    assert_eq!(own.view.record.id_anpr, Some(id));
    assert_eq!(own.household.len(), 1, "a new household of one");
    assert_eq!(svc.own_id_anpr(&me).await.unwrap(), id);
    assert_eq!(count(h, "citizen.record_view").await, 1);
    let accesses = svc.accesses(&me, i64::MAX, 50).await.unwrap();
    assert!(accesses.iter().any(|(e, _)| e.entry.operation == "citizen.record_view"));
    assert_eq!(count(h, "citizen.accesses_view").await, 1);
    // Somebody whose code names nobody gets 404, not someone else's record.
    assert!(matches!(svc.own_record(&citizen("RSSMRA80A01H501U")).await, Err(ServiceError::NotFound(_))));
}
